/*
 * Helpers for tests that talk to `lagebild serve` over raw HTTP/1.1:
 * starting and stopping a server process on an ephemeral 127.0.0.1 port, and
 * one request per connection (always "Connection: close"), read whole, then
 * split into status, headers and body.  Header-only; include after lbtest.h.
 *
 * Every server started here is killed (SIGKILL) by an atexit handler if a
 * test did not stop it, by a SIGINT/SIGTERM/SIGHUP handler, and by the
 * kernel (PR_SET_PDEATHSIG) if the test process dies otherwise, so no server
 * outlives its test.
 */
#ifndef LB_THTTP_H
#define LB_THTTP_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- responses */

typedef struct t_resp {
    int status;        /* from the status line; -1 when there was none */
    char *raw;         /* every byte received (NUL-terminated beyond rawlen) */
    size_t rawlen;
    size_t headlen;    /* bytes up to and including the blank line; 0: none */
    const char *body;  /* raw + headlen */
    size_t bodylen;
} t_resp;

static inline void t_resp_free(t_resp *r)
{
    free(r->raw);
    memset(r, 0, sizeof *r);
}

/* The value of counter NAME in a /metrics response body; -1 when it has none
 * (every lagebild counter is >= 0). */
static inline double t_resp_metric(const t_resp *m, const char *name)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\n%s ", name);
    const char *p = m->body ? strstr(m->body, pat) : NULL;
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

static inline double t_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Parse status line and find the end of the header block. */
static inline void t_resp_parse(t_resp *r)
{
    r->status = -1;
    r->headlen = 0;
    r->body = r->raw;
    r->bodylen = 0;
    int st;
    if (r->rawlen >= 12 && strncmp(r->raw, "HTTP/1.", 7) == 0 &&
        sscanf(r->raw + 9, "%3d", &st) == 1)
        r->status = st;
    const char *e = r->rawlen ? strstr(r->raw, "\r\n\r\n") : NULL;
    if (e) {
        r->headlen = (size_t)(e - r->raw) + 4;
        r->body = r->raw + r->headlen;
        r->bodylen = r->rawlen - r->headlen;
    }
}

/*
 * Value of header name (case-insensitive) into buf, without surrounding
 * blanks; false when absent.
 */
static inline bool t_resp_header(const t_resp *r, const char *name, char *buf, size_t n)
{
    if (!r->headlen)
        return false;
    size_t nl = strlen(name);
    const char *p = strstr(r->raw, "\r\n");
    const char *end = r->raw + r->headlen;
    while (p && p + 2 < end) {
        p += 2;
        const char *eol = strstr(p, "\r\n");
        if (!eol || eol > end)
            break;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            size_t len = (size_t)(eol - v);
            while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
                len--;
            if (n) {
                size_t k = len < n - 1 ? len : n - 1;
                memcpy(buf, v, k);
                buf[k] = '\0';
            }
            return true;
        }
        p = eol;
    }
    return false;
}

/* Whether the body length agrees with Content-Length (when given). */
static inline bool t_resp_length_ok(const t_resp *r)
{
    char cl[32];
    if (!t_resp_header(r, "Content-Length", cl, sizeof cl))
        return true;
    return strtoull(cl, NULL, 10) == r->bodylen;
}

/* ------------------------------------------------------------- requests */

/*
 * Send len raw bytes to 127.0.0.1:port and read the whole answer until the
 * server closes the connection (or timeout_s passes).  Returns 0 when
 * anything was received, -1 otherwise.  The server may close early (e.g. on
 * an oversized request): sending then stops and whatever arrived is kept.
 */
static inline int t_http_raw_t(int port, const void *req, size_t len, t_resp *out,
                               double timeout_s)
{
    memset(out, 0, sizeof *out);
    out->status = -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = (time_t)timeout_s, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return -1;
    }
    double deadline = t_mono() + timeout_s;
    const char *p = req;
    size_t left = len;
    bool peer_closed = false;
    /* interleave sending and reading so a server answering early is heard */
    while (!peer_closed && t_mono() < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN | (left ? POLLOUT : 0)};
        int pr = poll(&pfd, 1, 100);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0)
            continue;
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            if (n == cap) {
                char *nb = realloc(buf, cap * 2 + 1);
                if (!nb)
                    break;
                buf = nb;
                cap *= 2;
            }
            ssize_t got = recv(fd, buf + n, cap - n, 0);
            if (got > 0) {
                n += (size_t)got;
                continue;
            }
            if (got == 0 || (errno != EINTR && errno != EAGAIN))
                peer_closed = true;
            continue;
        }
        if (left && (pfd.revents & POLLOUT)) {
            ssize_t w = send(fd, p, left, MSG_NOSIGNAL);
            if (w > 0) {
                p += w;
                left -= (size_t)w;
            } else if (errno != EINTR && errno != EAGAIN) {
                left = 0; /* the server stopped reading: keep reading its answer */
                shutdown(fd, SHUT_WR);
            }
        }
    }
    close(fd);
    buf[n] = '\0';
    out->raw = buf;
    out->rawlen = n;
    t_resp_parse(out);
    return n ? 0 : -1;
}

static inline int t_http_raw(int port, const void *req, size_t len, t_resp *out)
{
    return t_http_raw_t(port, req, len, out, 60.0);
}

/*
 * One request: method target with Host and "Connection: close", then headers
 * (each ending "\r\n", may be NULL), then body (form data, may be NULL).
 */
static inline int t_http(int port, const char *method, const char *target, const char *headers,
                         const char *body, t_resp *out)
{
    memset(out, 0, sizeof *out);
    out->status = -1;
    size_t blen = body ? strlen(body) : 0;
    size_t cap = strlen(method) + strlen(target) + (headers ? strlen(headers) : 0) + blen + 256;
    char *req = malloc(cap);
    if (!req)
        return -1;
    int k = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s",
                     method, target, port, headers ? headers : "");
    if (body)
        k += snprintf(req + k, cap - (size_t)k,
                      "Content-Type: application/x-www-form-urlencoded\r\n"
                      "Content-Length: %zu\r\n",
                      blen);
    k += snprintf(req + k, cap - (size_t)k, "\r\n");
    if (body) {
        memcpy(req + k, body, blen);
        k += (int)blen;
    }
    int rc = t_http_raw(port, req, (size_t)k, out);
    free(req);
    return rc;
}

/* GET with an optional bearer token (NULL: no Authorization header). */
static inline int t_get(int port, const char *target, const char *token, t_resp *out)
{
    char h[512] = "";
    if (token)
        snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", token);
    return t_http(port, "GET", target, h, NULL, out);
}

/* ------------------------------------------------------------- servers */

typedef struct t_server {
    pid_t pid;      /* 0: not running */
    int port;
    char *errpath;  /* the server's stderr */
    double started_s; /* how long it took to print its address */
} t_server;

#define T_MAX_SERVERS 16
/* --threads of the servers started (event streams hold one each) */
static const char *t_server_threads = "4";
static pid_t t__server_pids[T_MAX_SERVERS];
static bool t__atexit_set;

static inline void t__kill_servers(void)
{
    for (int i = 0; i < T_MAX_SERVERS; i++)
        if (t__server_pids[i] > 0) {
            kill(t__server_pids[i], SIGKILL);
            waitpid(t__server_pids[i], NULL, 0);
            t__server_pids[i] = 0;
        }
}

/*
 * SIGINT / SIGTERM / SIGHUP to the test (Ctrl-C, a harness stopping it):
 * kill the servers right away, then exit so the atexit handlers remove the
 * temporary folders.
 */
static inline void t__on_signal(int sig)
{
    for (int i = 0; i < T_MAX_SERVERS; i++)
        if (t__server_pids[i] > 0)
            kill(t__server_pids[i], SIGKILL);
    signal(sig, SIG_DFL);
    exit(128 + sig);
}

static inline void t__track(pid_t pid, bool add)
{
    for (int i = 0; i < T_MAX_SERVERS; i++) {
        if (add && t__server_pids[i] == 0) {
            t__server_pids[i] = pid;
            return;
        }
        if (!add && t__server_pids[i] == pid) {
            t__server_pids[i] = 0;
            return;
        }
    }
}

/* Print the server's stderr (for failure messages). */
static inline void t_server_dump_stderr(const t_server *s)
{
    if (!s->errpath)
        return;
    FILE *f = fopen(s->errpath, "rb");
    if (!f)
        return;
    fprintf(stderr, "  ---- server stderr (%s) ----\n", s->errpath);
    char line[4096];
    while (fgets(line, sizeof line, f))
        fprintf(stderr, "  | %s", line);
    fprintf(stderr, "  ---- end of server stderr ----\n");
    fclose(f);
}

/*
 * Start `lagebild serve --config cfg --listen 127.0.0.1:0 [--audit audit]`
 * with stderr to errpath; wait (up to 120 s) for "listening on
 * http://127.0.0.1:PORT".  Returns true when it is serving.
 */
static inline bool t_server_start_ex(t_server *s, const char *cfg, const char *audit,
                                     const char *errpath, const char *const *extra);

static inline bool t_server_start(t_server *s, const char *cfg, const char *audit,
                                  const char *errpath)
{
    return t_server_start_ex(s, cfg, audit, errpath, NULL);
}

/* The same with extra serve options (NULL-terminated, at most 8; may be NULL). */
static inline bool t_server_start_ex(t_server *s, const char *cfg, const char *audit,
                                     const char *errpath, const char *const *extra)
{
    memset(s, 0, sizeof *s);
    s->errpath = strdup(errpath);
    if (!t__atexit_set) {
        atexit(t__kill_servers);
        struct sigaction sa = {.sa_handler = t__on_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        t__atexit_set = true;
    }
    int pfd[2];
    if (pipe(pfd) != 0)
        return false;
    double t0 = t_mono();
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return false;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        int fe = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(pfd[1], 1);
        if (fe >= 0)
            dup2(fe, 2);
        close(pfd[0]);
        const char *argv[20] = {LB_BINARY, "serve", "--config", cfg, "--listen", "127.0.0.1:0",
                                "--threads", t_server_threads};
        int ac = 8;
        for (int i = 0; extra && extra[i] && i < 8; i++)
            argv[ac++] = extra[i];
        if (audit) {
            argv[ac++] = "--audit";
            argv[ac++] = audit;
        }
        argv[ac] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    t__track(pid, true);
    s->pid = pid;
    char line[256];
    size_t n = 0;
    bool ok = false;
    while (t_mono() - t0 < 120.0) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        int pr = poll(&p, 1, 200);
        if (pr > 0) {
            ssize_t got = read(pfd[0], line + n, sizeof line - 1 - n);
            if (got <= 0)
                break; /* closed: the server exited */
            n += (size_t)got;
            line[n] = '\0';
            char *nl = strchr(line, '\n');
            if (nl) {
                *nl = '\0';
                const char *pre = "listening on http://127.0.0.1:";
                if (strncmp(line, pre, strlen(pre)) == 0) {
                    s->port = atoi(line + strlen(pre));
                    ok = s->port > 0;
                }
                break;
            }
            if (n == sizeof line - 1)
                break;
        } else if (waitpid(pid, NULL, WNOHANG) == pid) {
            t__track(pid, false);
            s->pid = 0;
            break;
        }
    }
    close(pfd[0]); /* the server never writes to stdout again */
    s->started_s = t_mono() - t0;
    if (!ok) {
        fprintf(stderr, "  server did not start (config %s)\n", cfg);
        t_server_dump_stderr(s);
        if (s->pid > 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            t__track(s->pid, false);
            s->pid = 0;
        }
    }
    return ok;
}

/* t_server_start without an audit log, the server's stderr in DIR/errname,
 * among the test's other files (removed with them). */
static inline bool t_server_start_in(t_server *s, const char *cfg, const char *dir,
                                     const char *errname)
{
    char errpath[1024];
    snprintf(errpath, sizeof errpath, "%s/%s", dir, errname);
    return t_server_start(s, cfg, NULL, errpath);
}

/*
 * SIGTERM, wait up to timeout_s for the drain, return the wait status
 * (-1 when it had to be killed).  The server is gone afterwards either way.
 */
static inline int t_server_stop(t_server *s, double timeout_s)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    double t0 = t_mono();
    int ws = 0;
    int result = -1;
    while (t_mono() - t0 < timeout_s) {
        pid_t w = waitpid(s->pid, &ws, WNOHANG);
        if (w == s->pid) {
            result = ws;
            break;
        }
        usleep(20 * 1000);
    }
    if (result == -1) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    t__track(s->pid, false);
    s->pid = 0;
    return result;
}

/* Kill without waiting for a drain (cleanup after a failed test). */
static inline void t_server_kill(t_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        t__track(s->pid, false);
        s->pid = 0;
    }
}

static inline void t_server_free(t_server *s)
{
    t_server_kill(s);
    free(s->errpath);
    s->errpath = NULL;
}

/* t_server_stop and t_server_free in one: 0 when the server drained and exited 0. */
/*
 * SIGHUP s and wait (up to timeout_s) until its /metrics, read with the
 * admin token, counts one reload more than before: whether it did.
 */
static inline bool t_server_reload(t_server *s, const char *admin_token, double timeout_s)
{
    t_resp m;
    if (t_get(s->port, "/metrics", admin_token, &m) != 0)
        return false;
    double before = t_resp_metric(&m, "lagebild_reloads_total");
    t_resp_free(&m);
    if (kill(s->pid, SIGHUP) != 0)
        return false;
    for (double until = t_mono() + timeout_s; t_mono() < until;) {
        usleep(100 * 1000);
        if (t_get(s->port, "/metrics", admin_token, &m) != 0)
            return false;
        bool done = t_resp_metric(&m, "lagebild_reloads_total") > before;
        t_resp_free(&m);
        if (done)
            return true;
    }
    return false;
}

static inline int t_server_end(t_server *s, double timeout_s)
{
    int ws = t_server_stop(s, timeout_s);
    t_server_free(s);
    return ws;
}

#endif
