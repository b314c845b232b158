/*
 * Helpers of the live-picture tests (push ingest, events): a small config
 * with two writing agencies on one layer, starting a server with threads
 * for event streams, posting GeoJSON, and a minimal Server-Sent Events
 * client over a plain socket.
 */
#ifndef LB_TLIVE_H
#define LB_TLIVE_H

#include "thttp.h"
#include "tutil.h"

/*
 * Tokens are their principal's name.  police and fire write their own
 * source (same layer "incidents"); reader sees every layer but writes
 * nothing; east sees only the area east of 10°E.
 */
static inline char *tl_config(const char *dir, const char *extra)
{
    static const t_token tokens[] = {
        {.token = "t-police", .roles = "police"},
        {.token = "t-fire", .roles = "fire"},
        {.token = "t-reader", .roles = "reader"},
        {.token = "t-east", .roles = "east"},
        {.token = "t-admin", .roles = "reader", .admin = true},
        {.token = "t-both", .roles = "police, fire"},
    };
    t_write(dir, "empty.geojson", "{\"type\":\"FeatureCollection\",\"features\":[]}\n");
    t_write(dir, "east.geojson",
            "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{},"
            "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[10,47],[15,47],[15,55],[10,55],"
            "[10,47]]]}}]}\n");
    static const char head[] =
        "store: {path: store.sqlite}\n"
        "groups: [police, fire]\n"
        "layers:\n"
        "  incidents: {title: Einsaetze, style: police}\n"
        "  other: {title: Anderes, style: fire}\n"
        "sources:\n"
        "  police_live:\n"
        "    path: empty.geojson\n"
        "    crs: EPSG:4326\n"
        "    layer: incidents\n"
        "    agency: police\n"
        "    fid: id\n"
        "    mapping: {kind: typ, name: name, status: status}\n"
        "    label: {level: VS-NfD, releasable_to: [police], level_from: level,"
        " releasable_to_from: groups}\n"
        "  fire_live:\n"
        "    path: empty.geojson\n"
        "    crs: EPSG:25832\n"
        "    layer: incidents\n"
        "    agency: fire\n"
        "    fid: id\n"
        "    mapping: {kind: typ, name: name}\n"
        "    label: {level: VS-NfD, releasable_to: [fire]}\n"
        "  nofid_live:\n"
        "    path: empty.geojson\n"
        "    layer: other\n    agency: police\n"
        "    label: {level: OFFEN}\n"
        "maps:\n"
        "  lage: {title: Lage, layers: [incidents]}\n"
        "roles:\n"
        "  police: {title: P, clearance: {level: VS-NfD, groups: [police]}, layers: [\"*\"],"
        " write: [police_live, nofid_live]}\n"
        "  fire: {title: F, clearance: {level: VS-NfD, groups: [fire]}, layers: [\"*\"],"
        " write: [fire_live]}\n"
        "  reader: {title: R, clearance: {level: VS-NfD, groups: [police, fire]},"
        " layers: [\"*\"]}\n"
        "  east: {title: E, clearance: {level: VS-NfD, groups: [police]}, layers: [\"*\"],"
        " area: {path: east.geojson}}\n";
    return t_config_write(dir, "lagebild.yaml", head, tokens, sizeof tokens / sizeof tokens[0],
                          extra);
}

/*
 * Start a live test's server on cfg, its stderr in DIR/errname, with 16
 * threads: every open event stream holds one.
 */
static inline bool tl_serve(t_server *s, const char *cfg, const char *dir, const char *errname)
{
    t_server_threads = "16";
    return t_server_start_in(s, cfg, dir, errname);
}

/* A method with a JSON body and a bearer token (NULL: none). */
static inline int tl_send(int port, const char *method, const char *target, const char *token,
                          const char *json, t_resp *out)
{
    size_t blen = json ? strlen(json) : 0;
    /* a JWT as token is several hundred characters */
    size_t cap = blen + strlen(target) + (token ? strlen(token) : 0) + 512;
    char *req = malloc(cap);
    if (!req)
        return -1;
    int k = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n",
                     method, target, port);
    if (token)
        k += snprintf(req + k, cap - (size_t)k, "Authorization: Bearer %s\r\n", token);
    if (json)
        k += snprintf(req + k, cap - (size_t)k,
                      "Content-Type: application/geo+json\r\nContent-Length: %zu\r\n", blen);
    k += snprintf(req + k, cap - (size_t)k, "\r\n");
    if (json) {
        memcpy(req + k, json, blen);
        k += (int)blen;
    }
    memset(out, 0, sizeof *out);
    int rc = t_http_raw(port, req, (size_t)k, out);
    free(req);
    return rc;
}

static inline int tl_post(int port, const char *source, const char *token, const char *json,
                          t_resp *out)
{
    char target[256];
    snprintf(target, sizeof target, "/sources/%s/features", source);
    return tl_send(port, "POST", target, token, json, out);
}

/* Whether request `what` (rc from tl_send or tl_post, answer r) was
 * answered 200; else what it answered goes to stderr, and the server's own
 * stderr when it did not answer.  Frees r. */
static inline bool tl__answered_ok(t_server *srv, int rc, t_resp *r, const char *what)
{
    if (rc != 0) {
        t_server_dump_stderr(srv);
        return false;
    }
    bool ok = r->status == 200;
    if (!ok)
        fprintf(stderr, "  %s: %d %s\n", what, r->status, r->body ? r->body : "");
    t_resp_free(r);
    return ok;
}

/* POST json to source as token: whether the server answered 200. */
static inline bool tl_post_ok(t_server *srv, const char *source, const char *token,
                              const char *json)
{
    t_resp r;
    char what[160];
    snprintf(what, sizeof what, "POST to %s", source);
    return tl__answered_ok(srv, tl_post(srv->port, source, token, json, &r), &r, what);
}

/* A FeatureCollection of one point feature. */
static inline char *tl_point(const char *id, double lon, double lat, const char *props)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    fprintf(f,
            "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
            "\"properties\":{\"id\":\"%s\"%s%s},\"geometry\":{\"type\":\"Point\","
            "\"coordinates\":[%.7f,%.7f]}}]}",
            id, props && *props ? "," : "", props ? props : "", lon, lat);
    fclose(f);
    return s;
}

/* A FeatureCollection of one square polygon of half-size d around (lon, lat). */
static inline char *tl_square(const char *id, double lon, double lat, double d,
                              const char *props)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    fprintf(f,
            "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
            "\"properties\":{\"id\":\"%s\"%s%s},\"geometry\":{\"type\":\"Polygon\","
            "\"coordinates\":[[[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f]]]}}]}",
            id, props && *props ? "," : "", props ? props : "", lon - d, lat - d, lon + d,
            lat - d, lon + d, lat + d, lon - d, lat + d, lon - d, lat - d);
    fclose(f);
    return s;
}

/* DELETE feature id that token pushed to source: whether the server
 * answered 200. */
static inline bool tl_delete_ok(t_server *srv, const char *source, const char *token,
                                const char *id)
{
    char path[256], what[270];
    snprintf(path, sizeof path, "/sources/%s/features/%s", source, id);
    snprintf(what, sizeof what, "DELETE %s", path);
    t_resp r;
    return tl__answered_ok(srv, tl_send(srv->port, "DELETE", path, token, NULL, &r), &r, what);
}

/* ---- SSE client ---------------------------------------------------------- */

typedef struct tl_sse {
    int fd;
    char buf[65536];
    size_t len;
} tl_sse;

/* Connect to /events as token; true once the stream said ": connected". */
static inline bool tl_sse_open(tl_sse *s, int port, const char *token)
{
    memset(s, 0, sizeof *s);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s->fd, (struct sockaddr *)&a, sizeof a) != 0)
        return false;
    size_t cap = strlen(token) + 128; /* a JWT is several hundred characters */
    char *req = malloc(cap);
    if (!req)
        return false;
    int n = snprintf(req, cap,
                     "GET /events?token=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Accept: text/event-stream\r\n\r\n",
                     token);
    bool sent = write(s->fd, req, (size_t)n) == n;
    free(req);
    if (!sent)
        return false;
    double end = t_mono() + 10;
    while (t_mono() < end) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t k = read(s->fd, s->buf + s->len, sizeof s->buf - 1 - s->len);
        if (k <= 0)
            return false;
        s->len += (size_t)k;
        s->buf[s->len] = '\0';
        char *e = strstr(s->buf, ": connected\n\n");
        if (e) {
            /* the test configs keep the default CORS origin, "*" */
            if (strncmp(s->buf, "HTTP/1.1 200", 12) != 0 ||
                !strstr(s->buf, "Content-Type: text/event-stream") ||
                !strstr(s->buf, "\r\nAccess-Control-Allow-Origin: *\r\n"))
                return false;
            e += strlen(": connected\n\n");
            memmove(s->buf, e, s->len - (size_t)(e - s->buf) + 1);
            s->len -= (size_t)(e - s->buf);
            return true;
        }
    }
    return false;
}

/*
 * The data of the next message (comments skipped) into out; false when
 * none arrives within timeout_s.
 */
static inline bool tl_sse_next(tl_sse *s, char *out, size_t n, double timeout_s)
{
    double end = t_mono() + timeout_s;
    for (;;) {
        char *e;
        while ((e = strstr(s->buf, "\n\n")) != NULL) {
            *e = '\0';
            char *data = strstr(s->buf, "data: ");
            bool got = data != NULL;
            if (got)
                snprintf(out, n, "%s", data + 6);
            e += 2;
            size_t rest = s->len - (size_t)(e - s->buf);
            memmove(s->buf, e, rest + 1);
            s->len = rest;
            if (got)
                return true;
        }
        double left = end - t_mono();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            continue;
        if (s->len >= sizeof s->buf - 1)
            return false;
        ssize_t k = read(s->fd, s->buf + s->len, sizeof s->buf - 1 - s->len);
        if (k <= 0)
            return false;
        s->len += (size_t)k;
        s->buf[s->len] = '\0';
    }
}

static inline void tl_sse_close(tl_sse *s)
{
    if (s->fd > 0)
        close(s->fd);
    s->fd = -1;
}

/* Fetch target as token; the body (malloc'ed) and its length, status returned. */
static inline int tl_fetch(int port, const char *target, const char *token, char **body,
                           size_t *len)
{
    t_resp r;
    if (t_get(port, target, token, &r) != 0)
        return -1;
    int st = r.status;
    *body = malloc(r.bodylen + 1);
    memcpy(*body, r.body ? r.body : "", r.bodylen);
    (*body)[r.bodylen] = '\0';
    *len = r.bodylen;
    t_resp_free(&r);
    return st;
}

#endif
