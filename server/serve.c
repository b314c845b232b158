/*
 * This file implements `lagebild serve`: it builds the serving state, starts
 * civetweb on the given address, routes every request through
 * lb_routes_dispatch, reloads the config on SIGHUP (a bad config keeps the
 * old state and logs why) and drains in-flight requests on SIGTERM/SIGINT.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_int.h"

int lb_cmd_serve(int argc, char **argv);

static volatile sig_atomic_t got_hup, got_term;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        got_hup = 1;
    else
        got_term = 1;
}

/*
 * Changing sources (watch:, refresh:): a background thread with its own
 * config and store connection polls them (lb_watch_poll) and, when one was
 * re-ingested, asks the main loop for the same rebuild-and-swap a SIGHUP
 * does.  Changes to watch:/refresh: themselves take effect on restart.
 */
typedef struct watcher {
    const char *config;
    pthread_t thread;
    bool running;
    atomic_int stop, changed;
} watcher;

static void watcher_log(void *ud, const lb_source_cfg *src, const lb_refresh *r, lb_status rc,
                        const lb_error *err)
{
    (void)ud;
    if (rc != LB_OK)
        fprintf(stderr, "lagebild serve: source '%s': %s\n", src->id, err->msg);
    else if (r->outcome == LB_REFRESH_INGESTED)
        fprintf(stderr, "lagebild serve: source '%s' changed (%s): %llu features, revision %lld\n",
                src->id, r->content, (unsigned long long)r->stats.stored,
                (long long)r->stats.revision);
}

static void *watcher_main(void *arg)
{
    watcher *w = arg;
    lb_config *cfg = NULL;
    lb_watch *lw = NULL;
    lb_store *st = NULL;
    lb_error err;
    if (lb_config_load(w->config, &cfg, NULL) != LB_OK || lb_watch_new(cfg, &lw, &err) != LB_OK ||
        lb_store_open(cfg->store_path, &st, &err) != LB_OK) {
        fprintf(stderr, "lagebild serve: cannot watch the sources of %s\n", w->config);
        goto out;
    }
    while (!atomic_load(&w->stop)) {
        if (lb_watch_poll(lw, st, lb_now(), NULL, watcher_log, NULL) > 0)
            atomic_store(&w->changed, 1);
        double wait = lb_watch_next(lw, lb_now());
        for (double t = 0; t < wait && !atomic_load(&w->stop); t += 0.05)
            usleep(50 * 1000);
    }
out:
    lb_store_close(st);
    lb_watch_free(lw);
    lb_config_free(cfg);
    return NULL;
}

static void watcher_start(watcher *w, const lb_config *cfg)
{
    bool any = false;
    for (size_t i = 0; i < cfg->nsources; i++)
        any |= cfg->sources[i].watch != NULL || cfg->sources[i].refresh_s > 0;
    if (any)
        w->running = pthread_create(&w->thread, NULL, watcher_main, w) == 0;
}

static void watcher_stop(watcher *w)
{
    atomic_store(&w->stop, 1);
    if (w->running)
        pthread_join(w->thread, NULL);
    w->running = false;
}

#define LB_MAX_SEGS 12

static int handle(struct mg_connection *conn, void *cbdata)
{
    lb_server *srv = cbdata;
    lb_req r = {.conn = conn, .ri = mg_get_request_info(conn), .srv = srv};
    atomic_fetch_add(&srv->requests, 1);
    r.st = lb_server_state(srv);
    /* civetweb runs with decode_url=no: lb_http_split_path splits the raw
     * path, then decodes each segment (see http.c) */
    const char *uri = r.ri->local_uri ? r.ri->local_uri : "/";
    r.nseg = lb_http_split_path(uri, r.segs, LB_MAX_SEGS);
    bool ok = r.nseg >= 0;
    if (!ok)
        r.nseg = 0;
    double t0 = lb_now();
    if (!ok)
        lb_http_not_found(&r);
    else
        lb_routes_dispatch(&r);
    if (srv->log_requests) {
        /* the path only: a token may travel in the query string and never
         * reaches a log; the principal is named instead */
        char path[160];
        snprintf(path, sizeof path, "%s", r.ri->local_uri ? r.ri->local_uri : "/");
        for (char *c = path; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == '"')
                *c = '_';
        fprintf(stderr, "lagebild: %s %s \"%s\" %d %zu %.1fms\n",
                r.principal ? r.principal->principal : r.logged[0] ? r.logged : "-",
                r.ri->request_method, path,
                r.status, r.bytes, (lb_now() - t0) * 1e3);
    }
    for (int i = 0; i < r.nseg; i++)
        free(r.segs[i]);
    lb_jwt_principal_free(r.jwt_principal);
    lb_state_release(r.st);
    return 1; /* handled: civetweb sends nothing more */
}

static int log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    fprintf(stderr, "lagebild: http: %s\n", message);
    return 1;
}

static const char usage[] =
    "usage: lagebild serve --config FILE [--listen HOST:PORT] [--threads N]\n"
    "                      [--audit FILE] [--cache-mb N] [--request-timeout-ms N]\n"
    "                      [--keep-alive-ms N]\n"
    "\n"
    "Serves XYZ tiles, TileJSON and the operator API per principal.\n"
    "\n"
    "  -c, --config FILE    the YAML config\n"
    "  -l, --listen ADDR    address to bind (default 127.0.0.1:8080; port 0 picks a free one)\n"
    "  -t, --threads N      worker threads = concurrent connections (default 64)\n"
    "  -a, --audit FILE     append-only audit log (default: the store path + .audit.jsonl)\n"
    "      --cache-mb N     tile cache budget in MiB (default 256)\n"
    "      --request-timeout-ms N\n"
    "                       a connection must deliver a whole request (headers\n"
    "                       and body) within N ms of its first byte or of being\n"
    "                       accepted, else it is closed (default 10000, 100..600000)\n"
    "      --keep-alive-ms N\n"
    "                       an idle kept-alive connection is closed after N ms\n"
    "                       (default 5000, 100..600000)\n"
    "  -q, --quiet          no request log (one line per request on stderr)\n"
    "\n"
    "Prints 'listening on http://HOST:PORT' once ready.  SIGHUP reloads the config\n"
    "(a bad config keeps the running one); SIGTERM drains in-flight requests.\n";

int lb_cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'}, {"audit", required_argument, NULL, 'a'},
        {"cache-mb", required_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'},
        {"quiet", no_argument, NULL, 'q'},
        {"request-timeout-ms", required_argument, NULL, 'T'},
        {"keep-alive-ms", required_argument, NULL, 'K'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *listen = "127.0.0.1:8080", *audit_path = NULL;
    /* civetweb serves one connection per thread: with keep-alive clients
     * (browsers, wrk) fewer threads than connections starves the rest */
    long threads = 64, cache_mb = 256;
    /* a thread serves one connection at a time: a client that opens a
     * connection and sends its request slowly (or not at all) holds a
     * thread until this timeout, so it is short (see docs/http.md) */
    long request_timeout_ms = 10000, keep_alive_ms = 5000;
    optind = 1;
    opterr = 0;
    int c;
    bool quiet = false;
    while ((c = getopt_long(argc, argv, ":c:l:t:a:hq", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c': config = optarg; break;
        case 'l': listen = optarg; break;
        case 'a': audit_path = optarg; break;
        case 't':
            threads = strtol(optarg, &end, 10);
            if (*end || threads < 1 || threads > 256) {
                fprintf(stderr, "lagebild serve: --threads needs 1..256\n");
                return 2;
            }
            break;
        case 'm':
            cache_mb = strtol(optarg, &end, 10);
            if (*end || cache_mb < 1 || cache_mb > 65536) {
                fprintf(stderr, "lagebild serve: --cache-mb needs 1..65536\n");
                return 2;
            }
            break;
        case 'T':
        case 'K': {
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 100 || v > 600000) {
                fprintf(stderr, "lagebild serve: --%s needs 100..600000 (milliseconds)\n",
                        c == 'T' ? "request-timeout-ms" : "keep-alive-ms");
                return 2;
            }
            if (c == 'T')
                request_timeout_ms = v;
            else
                keep_alive_ms = v;
            break;
        }
        case 'h': fputs(usage, stdout); return 0;
        case 'q': quiet = true; break;
        default:
            fprintf(stderr, "lagebild serve: bad option %s\n%s", argv[optind - 1], usage);
            return 2;
        }
    }
    if (!config || optind < argc) {
        fprintf(stderr, "lagebild serve: --config FILE is required\n%s", usage);
        return 2;
    }

    lb_fusion_init();
    lb_server srv = {.config_path = config, .listen = listen, .threads = (int)threads,
                     .log_requests = !quiet};
    srv.started = lb_now();
    pthread_mutex_init(&srv.state_lock, NULL);
    char *diag = NULL;
    int rc = 1;
    if (lb_state_build(config, &srv.state, &diag) != LB_OK) {
        fputs(diag ? diag : "lagebild serve: cannot load the config\n", stderr);
        free(diag);
        goto out;
    }
    free(diag);
    srv.cache = lb_cache_new((size_t)cache_mb << 20);
    srv.live = lb_live_start(&srv);
    if (!srv.live) {
        fprintf(stderr, "lagebild serve: cannot start the publisher\n");
        goto out;
    }
    lb_buf ap = {0};
    if (!audit_path) {
        lb_buf_printf(&ap, "%s.audit.jsonl", srv.state->cfg->store_path);
        audit_path = ap.data;
    }
    lb_error err;
    if (lb_audit_open(audit_path, &srv.audit, &err) != LB_OK) {
        fprintf(stderr, "lagebild serve: %s\n", err.msg);
        lb_buf_free(&ap);
        goto out;
    }
    lb_buf_free(&ap);

    char nthreads[16], req_to[24], ka_to[24];
    snprintf(nthreads, sizeof nthreads, "%ld", threads);
    snprintf(req_to, sizeof req_to, "%ld", request_timeout_ms);
    snprintf(ka_to, sizeof ka_to, "%ld", keep_alive_ms);
    const char *options[] = {
        "listening_ports", listen,
        "num_threads", nthreads,
        "request_timeout_ms", req_to,
        "max_request_size", "16384",
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", ka_to,
        "decode_url", "no",
        /* a body over 1 MB, and event-stream chunks, go out in writes of
         * their own: without TCP_NODELAY such a write on a kept-alive
         * connection waits ~40 ms for the client's delayed ACK */
        "tcp_nodelay", "1",
        NULL,
    };
    /* before the server answers anything: a client that has been answered
     * (or has read "listening on") may stop it at once, and SIGTERM must
     * then drain, not kill (it did kill when it came before these lines,
     * which showed as rare failed exits of tests on loaded machines) */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct mg_callbacks cb = {.log_message = log_message};
    mg_init_library(0);
    srv.ctx = mg_start(&cb, &srv, options);
    if (!srv.ctx) {
        fprintf(stderr, "lagebild serve: cannot listen on %s\n", listen);
        goto out;
    }
    mg_set_request_handler(srv.ctx, "/", handle, &srv);
    struct mg_server_port ports[4];
    int np = mg_get_server_ports(srv.ctx, 4, ports);
    srv.port = np > 0 ? ports[0].port : 0;
    char host[128];
    snprintf(host, sizeof host, "%s", listen);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    printf("listening on http://%s:%d\n", host, srv.port);
    fflush(stdout);

    watcher wt = {.config = config};
    watcher_start(&wt, srv.state->cfg);
    while (!got_term) {
        usleep(100 * 1000);
        bool changed = atomic_exchange(&wt.changed, 0) != 0;
        if (got_hup || changed) {
            got_hup = 0;
            lb_state *ns = NULL;
            char *d = NULL;
            if (lb_state_build(config, &ns, &d) == LB_OK) {
                pthread_mutex_lock(&srv.state_lock);
                lb_state *old = srv.state;
                /* the operator's phase and break-glass grants outlive the
                 * state (the admin API sets them under this lock) */
                if (lb_access_carry(ns->access, old->access, time(NULL)) != LB_OK)
                    fprintf(stderr, "lagebild serve: reload: out of memory carrying "
                                    "break-glass grants over\n");
                srv.state = ns;
                pthread_mutex_unlock(&srv.state_lock);
                lb_state_release(old);
                atomic_fetch_add(&srv.reloads, 1);
                lb_live_reloaded(srv.live);
                fprintf(stderr, "lagebild serve: reloaded %s\n", config);
            } else {
                atomic_fetch_add(&srv.reload_failures, 1);
                fprintf(stderr, "lagebild serve: reload of %s failed, keeping the running config:\n%s",
                        config, d ? d : "");
            }
            free(d);
        }
    }
    watcher_stop(&wt);
    fprintf(stderr, "lagebild serve: stopping (draining requests)\n");
    lb_live_wake_subscribers(srv.live);
    mg_stop(srv.ctx);
    rc = 0;
out:
    lb_live_stop(srv.live);
    lb_audit_close(srv.audit);
    lb_cache_free(srv.cache);
    lb_maps_scratch_free();
    lb_state_release(srv.state);
    pthread_mutex_destroy(&srv.state_lock);
    lb_fusion_cleanup();
    return rc;
}
