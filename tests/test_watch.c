/*
 * Sources that change (fusion/watch.c): a drop folder per source (watch:)
 * and sources re-read at an interval (refresh:), re-ingested only when their
 * content hash changed.
 *   - a file dropped (renamed in) is ingested once; polling again, or the
 *     same bytes dropped under another name, leave the revision unchanged;
 *     new content makes a new revision;
 *   - a file still being written (modified within settle:) or named like a
 *     temporary file is not taken;
 *   - a broken file: a clear error naming it, the store unchanged, and it is
 *     not retried until the folder holds new content;
 *   - a URL served by a small HTTP server on 127.0.0.1: re-read, changed
 *     content re-ingested, unchanged not; an unreachable URL fails cleanly;
 *   - `lagebild serve` picks up a dropped file by itself (new tiles);
 *   - `lagebild ingest --watch` ingests a dropped file and stops on SIGTERM;
 *   - config errors of the new keys.
 */
#include <math.h>
#include <png.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "lagebild/fusion.h"
#include "lagebild/util.h"
#include "lbtest.h"
#include "thttp.h"
#include "tutil.h"

static char *dir, *cfg_path, *store_path, *drop;
static lb_config *cfg;
static lb_store *st;

static const char *const config_fmt =
    "store: {path: store.sqlite}\n"
    "groups: [fire]\n"
    "layers:\n"
    "  points: {title: Punkte, style: common}\n"
    "sources:\n"
    "  src:\n"
    "%s"
    "    layer: points\n"
    "    agency: fire\n"
    "    fid: id\n"
    "    label: {level: OFFEN}\n"
    "maps:\n"
    "  m: {title: M, layers: [points]}\n"
    "roles:\n"
    "  fire: {title: F, clearance: {level: VS-NfD, groups: [fire]}, layers: [\"*\"]}\n"
    "tokens:\n"
    "  demo-fire: {hash: \"sha256:28e4c77f9a8c51e25c894cf6cd5846a83a9ac3edcf1fa39684a4e43c478e06aa\", roles: [fire]}\n";

static void load(const char *source_keys)
{
    static bool init;
    if (!init)
        lb_fusion_init();
    init = true;
    char text[4096];
    snprintf(text, sizeof text, config_fmt, source_keys);
    t_write(dir, "lagebild.yaml", text);
    char *diag = NULL;
    lb_status rc = lb_config_load(cfg_path, &cfg, &diag);
    if (rc != LB_OK)
        fprintf(stderr, "%s\n", diag ? diag : "?");
    free(diag);
    ASSERT_EQ(rc, LB_OK);
    lb_error err;
    ASSERT_EQ(lb_store_open(store_path, &st, &err), LB_OK);
}

static void setup(const char *source_keys)
{
    dir = t_tmpdir();
    cfg_path = t_path(dir, "lagebild.yaml");
    store_path = t_path(dir, "store.sqlite");
    drop = t_path(dir, "drop");
    ASSERT_EQ(mkdir(drop, 0755), 0);
    load(source_keys);
}

static void teardown(void)
{
    lb_store_close(st);
    lb_config_free(cfg);
    st = NULL;
    cfg = NULL;
    t_rmrf(dir);
    free(dir);
    free(cfg_path);
    free(store_path);
    free(drop);
}

/* GeoJSON with n points; `salt` changes the coordinates (the content). */
static char *points_json(int n, int salt)
{
    lb_buf b = {0};
    lb_buf_puts(&b, "{\"type\":\"FeatureCollection\",\"features\":[");
    for (int i = 0; i < n; i++)
        lb_buf_printf(&b,
                      "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"P%d\"},\"geometry\":"
                      "{\"type\":\"Point\",\"coordinates\":[%.6f,52.1]}}",
                      i ? "," : "", i, 9.36 + 0.001 * i + 0.0001 * salt);
    lb_buf_puts(&b, "]}");
    return lb_buf_take(&b);
}

/* Write into the drop folder the way a careful sender does: a temporary
 * name, then rename. */
static void drop_file(const char *name, const char *text)
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, ".%s.part", name);
    t_write(drop, tmp, text);
    char *a = t_path(drop, tmp), *b = t_path(drop, name);
    ASSERT_EQ(rename(a, b), 0);
    free(a);
    free(b);
}

/* Set a file's mtime to `ago` seconds in the past (newer drops get smaller ago). */
static void age(const char *name, double ago)
{
    char *p = t_path(drop, name);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct timespec ts[2];
    ts[0] = ts[1] = now;
    ts[1].tv_sec -= (time_t)ago;
    ASSERT_EQ(utimensat(AT_FDCWD, p, ts, 0), 0);
    free(p);
}

static long long revision(void)
{
    return t_sql_int(store_path, "SELECT revision FROM lb_layers WHERE layer='points'");
}

static long long ingests(void)
{
    return t_sql_int(store_path, "SELECT count(*) FROM lb_ingests WHERE source='src'");
}

typedef struct heard {
    int calls;
    lb_refresh last;
    lb_status rc;
    char msg[1024];
} heard;

static void hear(void *ud, const lb_source_cfg *src, const lb_refresh *r, lb_status rc,
                 const lb_error *err)
{
    (void)src;
    heard *h = ud;
    h->calls++;
    h->last = *r;
    h->rc = rc;
    snprintf(h->msg, sizeof h->msg, "%s", rc == LB_OK ? "" : err->msg);
}

/* One poll with every source due (time moves on by a minute per call). */
static size_t poll_once(lb_watch *w, heard *h)
{
    static double now = 1e9;
    now += 60;
    memset(h, 0, sizeof *h);
    return lb_watch_poll(w, st, now, NULL, hear, h);
}

LB_TEST(test_dropped_file_is_ingested_once)
{
    setup("    watch: drop\n    settle: 0s\n");
    lb_watch *w = NULL;
    ASSERT_EQ(lb_watch_new(cfg, &w, NULL), LB_OK);
    ASSERT_EQ(lb_watch_count(w), 1);
    heard h;
    /* an empty folder: nothing to do */
    ASSERT_EQ(poll_once(w, &h), 0);
    ASSERT_EQ(h.last.outcome, LB_REFRESH_NO_CONTENT);
    ASSERT_EQ(h.rc, LB_OK);
    char *a = points_json(3, 0);
    drop_file("a.geojson", a);
    age("a.geojson", 30);
    ASSERT_EQ(poll_once(w, &h), 1);
    ASSERT_EQ(h.last.outcome, LB_REFRESH_INGESTED);
    ASSERT_CONTAINS(h.last.content, "/drop/a.geojson");
    ASSERT_EQ(revision(), 1);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM points"), 3);
    char *hash = t_sql(store_path, "SELECT content_hash FROM lb_sources WHERE source='src'");
    ASSERT(hash && strncmp(hash, "sha256:", 7) == 0 && strlen(hash) == 71);
    ASSERT_STREQ(hash, h.last.hash);
    char *path = t_sql(store_path, "SELECT path FROM lb_sources");
    ASSERT_CONTAINS(path, "/drop/a.geojson");
    free(path);
    long long n_ingests = ingests();
    /* polled again: unchanged, no new revision, no ingest at all */
    ASSERT_EQ(poll_once(w, &h), 0);
    ASSERT_EQ(h.last.outcome, LB_REFRESH_UNCHANGED);
    ASSERT_EQ(revision(), 1);
    ASSERT_EQ(ingests(), n_ingests);
    /* the same bytes dropped again under a new name: still unchanged */
    drop_file("b.geojson", a);
    age("b.geojson", 20);
    ASSERT_EQ(poll_once(w, &h), 0);
    ASSERT_EQ(h.last.outcome, LB_REFRESH_UNCHANGED);
    ASSERT_CONTAINS(h.last.content, "/drop/b.geojson");
    ASSERT_EQ(revision(), 1);
    ASSERT_EQ(ingests(), n_ingests);
    /* new content replaces the source */
    char *c = points_json(5, 1);
    drop_file("c.geojson", c);
    age("c.geojson", 10);
    ASSERT_EQ(poll_once(w, &h), 1);
    ASSERT_EQ(revision(), 2);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM points"), 5);
    /* an older file does not win over the newest */
    ASSERT_EQ(poll_once(w, &h), 0);
    ASSERT_CONTAINS(h.last.content, "/drop/c.geojson");
    free(a);
    free(c);
    free(hash);
    lb_watch_free(w);
    teardown();
}

LB_TEST(test_file_still_being_written_is_not_taken)
{
    setup("    watch: drop\n    settle: 3s\n");
    lb_watch *w = NULL;
    ASSERT_EQ(lb_watch_new(cfg, &w, NULL), LB_OK);
    heard h;
    char *a = points_json(2, 0);
    /* written in place, just now: may still grow */
    t_write(drop, "a.geojson", a);
    ASSERT_EQ(poll_once(w, &h), 0);
    ASSERT_EQ(h.last.outcome, LB_REFRESH_NO_CONTENT);
    ASSERT_EQ(revision(), -1);
    /* temporary names are never taken, however old */
    t_write(drop, "x.geojson.part", a);
    age("x.geojson.part", 60);
    t_write(drop, ".hidden.geojson", a);
    age(".hidden.geojson", 60);
    ASSERT_EQ(poll_once(w, &h), 0);
    ASSERT_EQ(h.last.outcome, LB_REFRESH_NO_CONTENT);
    /* unmodified for longer than settle: complete */
    age("a.geojson", 5);
    ASSERT_EQ(poll_once(w, &h), 1);
    ASSERT_EQ(revision(), 1);
    free(a);
    lb_watch_free(w);
    teardown();
}

LB_TEST(test_broken_file_leaves_the_store_unchanged)
{
    setup("    watch: drop\n    settle: 0s\n");
    lb_watch *w = NULL;
    ASSERT_EQ(lb_watch_new(cfg, &w, NULL), LB_OK);
    heard h;
    char *a = points_json(4, 0);
    drop_file("a.geojson", a);
    age("a.geojson", 30);
    ASSERT_EQ(poll_once(w, &h), 1);
    ASSERT_EQ(revision(), 1);
    char *before = t_sql(store_path, "SELECT group_concat(fid || AsText(geom)) FROM points");
    /* a truncated file arrives */
    a[strlen(a) / 2] = '\0';
    drop_file("b.geojson", a);
    age("b.geojson", 20);
    ASSERT_EQ(poll_once(w, &h), 0);
    ASSERT_EQ(h.last.outcome, LB_REFRESH_FAILED);
    ASSERT(h.rc != LB_OK);
    ASSERT_CONTAINS(h.msg, "source 'src'");
    ASSERT_CONTAINS(h.msg, "/drop/b.geojson");
    ASSERT_EQ(revision(), 1);
    char *after = t_sql(store_path, "SELECT group_concat(fid || AsText(geom)) FROM points");
    ASSERT_STREQ(before, after);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM lb_ingests WHERE status != 'ok'"), 1);
    /* not retried while it is the newest content */
    ASSERT_EQ(poll_once(w, &h), 0);
    ASSERT_EQ(h.last.outcome, LB_REFRESH_UNCHANGED);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM lb_ingests WHERE status != 'ok'"), 1);
    /* a good file after it is taken */
    char *c = points_json(2, 3);
    drop_file("c.geojson", c);
    age("c.geojson", 10);
    ASSERT_EQ(poll_once(w, &h), 1);
    ASSERT_EQ(revision(), 2);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM points"), 2);
    free(a);
    free(c);
    free(before);
    free(after);
    lb_watch_free(w);
    teardown();
}

/* ---- a URL source ------------------------------------------------------ */

static pid_t g_http; /* stopped at exit too, when a test fails half-way */

static void stop_http(void)
{
    if (g_http > 0) {
        kill(g_http, SIGTERM);
        waitpid(g_http, NULL, 0);
    }
    g_http = 0;
}

/* python3's http.server on 127.0.0.1, an ephemeral port, serving folder. */
static pid_t start_http(const char *folder, int *port)
{
    static bool registered;
    if (!registered)
        atexit(stop_http);
    registered = true;
    char *portfile = t_path(dir, "port");
    pid_t pid = fork();
    if (pid == 0) {
        execl("/usr/bin/python3", "python3", "-c",
              "import functools, http.server, sys\n"
              "class Quiet(http.server.SimpleHTTPRequestHandler):\n"
              "    def log_message(self, *a): pass\n"
              "h = functools.partial(Quiet, directory=sys.argv[1])\n"
              "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), h)\n"
              "open(sys.argv[2] + '.tmp', 'w').write(str(s.server_port))\n"
              "import os; os.rename(sys.argv[2] + '.tmp', sys.argv[2])\n"
              "s.serve_forever()\n",
              folder, portfile, (char *)NULL);
        _exit(127);
    }
    g_http = pid;
    *port = 0;
    for (int i = 0; i < 200 && !*port; i++) {
        char *t = t_read_file(portfile);
        *port = atoi(t);
        free(t);
        if (!*port)
            usleep(50 * 1000);
    }
    free(portfile);
    return pid;
}

LB_TEST(test_url_source_is_reread_and_only_changes_ingested)
{
    dir = t_tmpdir();
    cfg_path = t_path(dir, "lagebild.yaml");
    store_path = t_path(dir, "store.sqlite");
    drop = t_path(dir, "www");
    ASSERT_EQ(mkdir(drop, 0755), 0);
    setenv("NO_PROXY", "127.0.0.1", 1);
    setenv("no_proxy", "127.0.0.1", 1);
    char *a = points_json(3, 0);
    t_write(drop, "feed.geojson", a);
    int port;
    pid_t pid = start_http(drop, &port);
    ASSERT(port > 0);
    char keys[256];
    snprintf(keys, sizeof keys, "    path: http://127.0.0.1:%d/feed.geojson\n    refresh: 1s\n", port);
    load(keys);
    const lb_source_cfg *src = lb_config_source(cfg, "src");
    ASSERT_NEAR(src->refresh_s, 1.0, 0);
    lb_refresh r;
    lb_error err;
    lb_status rc = lb_source_refresh(st, cfg, src, false, NULL, &r, &err);
    if (rc != LB_OK)
        fprintf(stderr, "  %s\n", err.msg);
    ASSERT_EQ(rc, LB_OK);
    ASSERT_EQ(r.outcome, LB_REFRESH_INGESTED);
    ASSERT_EQ(revision(), 1);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM points"), 3);
    char *path = t_sql(store_path, "SELECT path FROM lb_sources WHERE source='src'");
    ASSERT_STREQ(path, src->path); /* the URL, not the in-memory copy */
    free(path);
    /* read again, same bytes: nothing ingested */
    long long n = ingests();
    ASSERT_EQ(lb_source_refresh(st, cfg, src, false, NULL, &r, &err), LB_OK);
    ASSERT_EQ(r.outcome, LB_REFRESH_UNCHANGED);
    ASSERT_EQ(revision(), 1);
    ASSERT_EQ(ingests(), n);
    /* the service publishes new content */
    char *b = points_json(6, 2);
    t_write(drop, "feed.geojson", b);
    ASSERT_EQ(lb_source_refresh(st, cfg, src, false, NULL, &r, &err), LB_OK);
    ASSERT_EQ(r.outcome, LB_REFRESH_INGESTED);
    ASSERT_EQ(revision(), 2);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM points"), 6);
    /* a GDAL connection string (/vsicurl/): the features are hashed */
    {
        lb_source_cfg vsi = *src;
        char vpath[256];
        snprintf(vpath, sizeof vpath, "/vsicurl/%s", src->path);
        vsi.path = vpath;
        ASSERT_EQ(lb_source_refresh(st, cfg, &vsi, false, NULL, &r, &err), LB_OK);
        ASSERT_EQ(r.outcome, LB_REFRESH_INGESTED); /* another kind of hash than the bytes' */
        ASSERT_EQ(revision(), 3);
        ASSERT_EQ(lb_source_refresh(st, cfg, &vsi, false, NULL, &r, &err), LB_OK);
        ASSERT_EQ(r.outcome, LB_REFRESH_UNCHANGED);
        char *c = points_json(4, 5);
        t_write(drop, "feed.geojson", c);
        free(c);
        ASSERT_EQ(lb_source_refresh(st, cfg, &vsi, false, NULL, &r, &err), LB_OK);
        ASSERT_EQ(r.outcome, LB_REFRESH_INGESTED);
        ASSERT_EQ(revision(), 4);
        ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM points"), 4);
        t_write(drop, "feed.geojson", b); /* back to the bytes the URL source last saw */
    }
    /* through the poller: the URL's bytes again (the /vsicurl/ variant of
     * the same source id recorded a feature hash): one ingest, then unchanged */
    lb_watch *w = NULL;
    ASSERT_EQ(lb_watch_new(cfg, &w, NULL), LB_OK);
    heard h;
    ASSERT_EQ(poll_once(w, &h), 1);
    ASSERT_EQ(revision(), 5);
    ASSERT_EQ(poll_once(w, &h), 0);
    ASSERT_EQ(h.last.outcome, LB_REFRESH_UNCHANGED);
    ASSERT_EQ(revision(), 5);
    /* the service is gone: a clear error, the store as it was */
    ASSERT_EQ(pid, g_http);
    stop_http();
    ASSERT_EQ(poll_once(w, &h), 0);
    ASSERT_EQ(h.last.outcome, LB_REFRESH_FAILED);
    ASSERT_CONTAINS(h.msg, "cannot fetch http://127.0.0.1:");
    ASSERT_EQ(revision(), 5);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM points"), 6);
    lb_watch_free(w);
    free(a);
    free(b);
    teardown();
}

/* ---- the server and the CLI -------------------------------------------- */

static int max_alpha(const t_resp *resp)
{
    png_image img = {.version = PNG_IMAGE_VERSION};
    if (!png_image_begin_read_from_memory(&img, resp->body, resp->bodylen))
        return -1;
    img.format = PNG_FORMAT_RGBA;
    uint8_t *buf = malloc(PNG_IMAGE_SIZE(img));
    int best = -1;
    if (buf && png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        best = 0;
        for (size_t i = 0; i < (size_t)img.width * img.height; i++)
            if (buf[i * 4 + 3] > best)
                best = buf[i * 4 + 3];
    }
    free(buf);
    png_image_free(&img);
    return best;
}

LB_TEST(test_serve_picks_up_a_dropped_file)
{
    setup("    watch: drop\n    refresh: 200ms\n    settle: 0s\n");
    lb_store_close(st); /* created the store; the server has its own connections */
    st = NULL;
    char errpath[1024];
    snprintf(errpath, sizeof errpath, "%s/server.err", dir);
    char *audit = t_path(dir, "audit.jsonl");
    t_server srv;
    ASSERT(t_server_start(&srv, cfg_path, audit, errpath));
    free(audit);
    /* zoom 12 tile holding 9.36..9.37 E, 52.1 N */
    const char *tile = "/maps/m/12/2154/1351.png";
    t_resp r;
    ASSERT_EQ(t_get(srv.port, tile, "demo-fire", &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(max_alpha(&r), 0);
    t_resp_free(&r);
    char *a = points_json(3, 0);
    drop_file("a.geojson", a);
    free(a);
    int alpha = 0;
    for (int i = 0; i < 200 && alpha == 0; i++) {
        usleep(100 * 1000);
        ASSERT_EQ(t_get(srv.port, tile, "demo-fire", &r), 0);
        ASSERT_EQ(r.status, 200);
        alpha = max_alpha(&r);
        t_resp_free(&r);
    }
    if (alpha <= 0)
        t_server_dump_stderr(&srv);
    ASSERT(alpha > 200);
    ASSERT_EQ(revision(), 1);
    ASSERT_EQ(t_server_stop(&srv, 30), 0);
    t_server_free(&srv);
    ASSERT_EQ(lb_store_open(store_path, &st, NULL), LB_OK);
    teardown();
}

LB_TEST(test_ingest_watch_cli)
{
    setup("    watch: drop\n    refresh: 200ms\n    settle: 0s\n");
    char *out = t_path(dir, "out.txt");
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(LB_BINARY, LB_BINARY, "ingest", "--config", cfg_path, "--watch", (char *)NULL);
        _exit(127);
    }
    /* the first pass ingests what is there (nothing); then it watches */
    char *text = NULL;
    for (int i = 0; i < 200; i++) {
        usleep(100 * 1000);
        free(text);
        text = t_read_file(out);
        if (strstr(text, "watching"))
            break;
    }
    ASSERT_CONTAINS(text, "holds no complete file yet");
    char *a = points_json(2, 0);
    drop_file("a.geojson", a);
    free(a);
    for (int i = 0; i < 200; i++) {
        usleep(100 * 1000);
        free(text);
        text = t_read_file(out);
        if (strstr(text, "changed"))
            break;
    }
    kill(pid, SIGTERM);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    free(text);
    text = t_read_file(out);
    ASSERT_CONTAINS(text, "watching 1 source");
    ASSERT_CONTAINS(text, "/drop/a.geojson changed");
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_EQ(revision(), 1);
    free(text);
    free(out);
    teardown();
}

LB_TEST(test_config_errors_of_watch_and_conflate)
{
    dir = t_tmpdir();
    cfg_path = t_path(dir, "lagebild.yaml");
    const char *cases[][2] = {
        {"    path: a.geojson\n    watch: drop\n", "both path and watch in source 'src'"},
        {"    path: a.geojson\n    settle: 1s\n",
         "settle in source 'src' only applies to a drop folder (watch:)"},
        {"    watch: drop\n    refresh: soon\n",
         "key 'refresh' must be a duration such as 500ms, 30s, 5m, 2h or 1d, got 'soon'"},
        {"    watch: drop\n    refresh: 0s\n", "key 'refresh' must be greater than 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[4096];
        snprintf(text, sizeof text, config_fmt, cases[i][0]);
        t_write(dir, "lagebild.yaml", text);
        lb_config *c = NULL;
        char *diag = NULL;
        ASSERT_EQ(lb_config_load(cfg_path, &c, &diag), LB_ECONFIG);
        ASSERT_CONTAINS(diag, cases[i][1]);
        free(diag);
    }
    /* conflate: needs distance_m; time_window is a duration */
    const char *layer_cases[][2] = {
        {"conflate: {time_window: 30m}", "missing required key 'distance_m' in conflate of layer 'points'"},
        {"conflate: {distance_m: 50, time_window: 30x}", "key 'time_window' must be a duration"},
        {"conflate: {distance_m: -5}", "key 'distance_m' must be greater than 0"},
    };
    for (size_t i = 0; i < sizeof layer_cases / sizeof layer_cases[0]; i++) {
        char text[4096], layer[256];
        snprintf(layer, sizeof layer, "{title: Punkte, %s}", layer_cases[i][0]);
        snprintf(text, sizeof text, config_fmt, "    watch: drop\n");
        char *p = strstr(text, "{title: Punkte, style: common}");
        ASSERT(p);
        char out[4096];
        snprintf(out, sizeof out, "%.*s%s%s", (int)(p - text), text, layer,
                 p + strlen("{title: Punkte, style: common}"));
        t_write(dir, "lagebild.yaml", out);
        lb_config *c = NULL;
        char *diag = NULL;
        ASSERT_EQ(lb_config_load(cfg_path, &c, &diag), LB_ECONFIG);
        ASSERT_CONTAINS(diag, layer_cases[i][1]);
        free(diag);
    }
    /* and a good one decodes to numbers */
    char text[4096];
    snprintf(text, sizeof text, config_fmt, "    watch: drop\n    refresh: 1.5m\n");
    char *p = strstr(text, "style: common}");
    char out[4096];
    snprintf(out, sizeof out, "%.*sstyle: common, conflate: {distance_m: 50, time_window: 2h}}%s",
             (int)(p - text), text, p + strlen("style: common}"));
    t_write(dir, "lagebild.yaml", out);
    lb_config *c = NULL;
    ASSERT_EQ(lb_config_load(cfg_path, &c, NULL), LB_OK);
    ASSERT_NEAR(c->sources[0].refresh_s, 90, 0);
    ASSERT_NEAR(c->sources[0].settle_s, 2, 0); /* the default */
    ASSERT_NEAR(c->layers[0].conflate_distance_m, 50, 0);
    ASSERT_NEAR(c->layers[0].conflate_window_s, 7200, 0);
    lb_config_free(c);
    t_rmrf(dir);
    free(dir);
    free(cfg_path);
}

LB_TESTS(test_dropped_file_is_ingested_once, test_file_still_being_written_is_not_taken,
         test_broken_file_leaves_the_store_unchanged,
         test_url_source_is_reread_and_only_changes_ingested, test_serve_picks_up_a_dropped_file,
         test_ingest_watch_cli, test_config_errors_of_watch_and_conflate)
