/*
 * This file implements the HTTP routes as one table {method, pattern,
 * handler} and the handlers, which only translate HTTP to module calls.
 *
 * Patterns are '/'-separated; "{}" matches one segment.  Every handler that
 * serves map data authenticates first; a map, layer or tile the principal
 * may not see answers exactly like one that does not exist.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server_int.h"

typedef void (*handler_fn)(lb_req *r);

typedef struct route {
    const char *method;
    const char *pattern;
    handler_fn fn;
    bool auth; /* requires a valid token */
} route;

static void h_health(lb_req *r);
static void h_tile(lb_req *r);
static void h_tile_grid(lb_req *r);
static void h_tilejson(lb_req *r);
static void h_metrics(lb_req *r);
static void h_phase(lb_req *r);
static void h_breakglass(lb_req *r);
static void h_static(lb_req *r);

static const route routes[] = {
    {"GET", "/health", h_health, false},
    {"GET", "/maps/{}/static.png", h_static, true},
    {"GET", "/maps/{}/layers.json", lb_viewer_layers, true},
    {"GET", "/maps/{}/classification", lb_viewer_classification, true},
    {"GET", "/view/{}", lb_viewer_page, false},
    {"GET", "/web/{}", lb_viewer_file, false},
    {"GET", "/maps/{}/{}/{}/{}", h_tile, true},           /* /maps/m/z/x/y.png, y@2x.png */
    {"GET", "/maps/{}/{}/{}/{}/{}", h_tile_grid, true},   /* /maps/m/grid/z/x/y.png */
    {"GET", "/maps/{}", h_tilejson, true},                /* /maps/m.json */
    {"GET", "/metrics", h_metrics, true},
    {"GET", "/wmts", lb_wmts_kvp, true},
    {"GET", "/wmts/1.0.0/WMTSCapabilities.xml", lb_wmts_capabilities, true},
    {"GET", "/wmts/{}/{}/{}/{}/{}", lb_wmts_rest, true}, /* /wmts/map/tms/z/row/col.png */
    {"POST", "/admin/phase", h_phase, true},
    {"POST", "/admin/breakglass", h_breakglass, true},
    {"POST", "/sources/{}/features", lb_live_push, true},
    {"DELETE", "/sources/{}/features/{}", lb_live_delete, true},
    {"GET", "/events", lb_live_events, true},
};

/* ---- helpers ------------------------------------------------------------ */

static bool parse_long_str(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s || strlen(s) > 12)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static const lb_map_cfg *visible_map(lb_req *r, const char *id)
{
    /* the work of a tile's visibility, for a missing map as for a hidden
     * one (lb_maps_visible), so neither is refused sooner */
    const lb_map_cfg *m = lb_config_map(r->st->cfg, id);
    const lb_srv_layer **layers;
    lb_grant *grants;
    int n = lb_maps_visible(r, m, &layers, &grants);
    free(layers);
    free(grants);
    return n > 0 ? m : NULL;
}

void lb_audit_request(lb_req *r, const char *resource, const char *outcome)
{
    if (!r->srv->audit || !r->principal)
        return;
    lb_buf roles = {0};
    for (size_t i = 0; i < r->principal->nroles; i++) {
        lb_buf_puts(&roles, i ? "," : "");
        lb_buf_puts(&roles, r->principal->roles[i]);
    }
    lb_audit_append(r->srv->audit, r->principal->principal, roles.data ? roles.data : "",
                    resource, "", outcome, NULL);
    lb_buf_free(&roles);
}

/* Split "Y.png" / "Y@2x.png" into the number text and the scale; false otherwise. */
static bool tile_file(const char *yfile, char *ybuf, size_t n, int *scale)
{
    size_t len = strlen(yfile);
    *scale = 1;
    if (len > 7 && len - 7 < n && strcmp(yfile + len - 7, "@2x.png") == 0) {
        *scale = 2;
        memcpy(ybuf, yfile, len - 7);
        ybuf[len - 7] = '\0';
        return true;
    }
    if (len > 4 && len - 4 < n && strcmp(yfile + len - 4, ".png") == 0) {
        memcpy(ybuf, yfile, len - 4);
        ybuf[len - 4] = '\0';
        return true;
    }
    return false;
}

/* The headers a tile answer adds to lb_http_send's: its ETag and caching. */
static void tile_extra(const char *etag, char *buf, size_t cap)
{
    snprintf(buf, cap, "ETag: %s\r\nCache-Control: private, max-age=60\r\n", etag);
}

size_t lb_tile_head(const lb_req *r, const char *etag, size_t png_len, char *buf, size_t cap)
{
    char extra[256];
    tile_extra(etag, extra, sizeof extra);
    return lb_http_head(r, 200, "image/png", png_len, extra, buf, cap);
}

void lb_serve_tile(lb_req *r, const char *map_id, int grid, long z, long x, long y, int scale)
{
    size_t ngrids;
    const lb_tms *grids = lb_tms_all(&ngrids);
    const lb_map_cfg *map = lb_config_map(r->st->cfg, map_id);
    if (z < grids[grid].min_zoom || z > grids[grid].max_zoom || x < 0 || y < 0 ||
        x >= lb_tms_matrix_width(&grids[grid], (int)z) ||
        y >= lb_tms_matrix_height(&grids[grid], (int)z)) {
        lb_http_not_found(r);
        return;
    }
    /* a missing map goes the way of a hidden one (lb_maps_render_tile
     * answers 404 for it after the same work) */
    lb_blob *png = NULL;
    char etag[40] = "";
    int status = lb_maps_render_tile(r, map, grid, (int)z, x, y, scale, &png, etag);
    if (status == 404) {
        lb_http_not_found(r);
        return;
    }
    if (status != 0) {
        lb_blob_unref(png);
        lb_http_error(r, 500, "rendering failed");
        return;
    }
    char resource[160];
    snprintf(resource, sizeof resource, "tile %s/%s/%ld/%ld/%ld%s", map_id, grids[grid].id, z,
             x, y, scale == 2 ? "@2x" : "");
    const char *inm = mg_get_header(r->conn, "If-None-Match");
    char hdr[256];
    tile_extra(etag, hdr, sizeof hdr);
    if (inm && strcmp(inm, etag) == 0) {
        lb_audit_request(r, resource, "not-modified");
        lb_http_send(r, 304, "image/png", NULL, 0, hdr);
    } else {
        lb_audit_request(r, resource, "released");
        /* the blob holds the head of this answer right before the PNG */
        uint16_t hl;
        memcpy(&hl, png->data + LB_TILE_HEAD_AT, sizeof hl);
        size_t plen = png->len - LB_TILE_PNG_AT;
        if (!lb_http_send_whole(r, 200, png->data + LB_TILE_PNG_AT - hl, hl, plen))
            lb_http_send(r, 200, "image/png", png->data + LB_TILE_PNG_AT, plen, hdr);
    }
    lb_blob_unref(png);
}

static void serve_tile(lb_req *r, const char *map_id, int grid, const char *zs, const char *xs,
                       const char *yfile)
{
    char ybuf[32];
    int scale;
    long z, x, y;
    if (!tile_file(yfile, ybuf, sizeof ybuf, &scale) || !parse_long_str(zs, 0, 30, &z) ||
        !parse_long_str(xs, 0, 1L << 30, &x) || !parse_long_str(ybuf, 0, 1L << 30, &y)) {
        lb_http_not_found(r);
        return;
    }
    lb_serve_tile(r, map_id, grid, z, x, y, scale);
}

/* ---- handlers ----------------------------------------------------------- */

static void h_health(lb_req *r)
{
    static const char body[] = "{\"status\":\"ok\"}\n";
    lb_http_send(r, 200, "application/json", body, sizeof body - 1, "Cache-Control: no-store\r\n");
}

static void h_tile(lb_req *r) { serve_tile(r, r->segs[1], 0, r->segs[2], r->segs[3], r->segs[4]); }

static void h_tile_grid(lb_req *r)
{
    size_t ngrids;
    const lb_tms *grids = lb_tms_all(&ngrids);
    for (size_t g = 0; g < ngrids && g < LB_NGRIDS; g++)
        if (strcmp(r->segs[2], grids[g].id) == 0) {
            serve_tile(r, r->segs[1], (int)g, r->segs[3], r->segs[4], r->segs[5]);
            return;
        }
    lb_http_not_found(r);
}

static void h_tilejson(lb_req *r)
{
    const char *seg = r->segs[1];
    size_t n = strlen(seg);
    if (n < 6 || strcmp(seg + n - 5, ".json") != 0) {
        lb_http_not_found(r);
        return;
    }
    char id[128];
    if (n - 5 >= sizeof id) {
        lb_http_not_found(r);
        return;
    }
    memcpy(id, seg, n - 5);
    id[n - 5] = '\0';
    const lb_map_cfg *map = visible_map(r, id);
    if (!map) {
        lb_http_not_found(r);
        return;
    }
    const char *host = mg_get_header(r->conn, "Host");
    char hostbuf[256];
    snprintf(hostbuf, sizeof hostbuf, "%s", host && strlen(host) < 200 ? host : "127.0.0.1");
    for (char *p = hostbuf; *p; p++)
        if (*p == '"' || *p == '\\' || *p == '<' || *p == '>' || (unsigned char)*p < 0x20)
            *p = '_';
    lb_buf b = {0};
    lb_buf_puts(&b, "{\"tilejson\":\"3.0.0\",\"name\":");
    lb_buf_json_str(&b, map->title ? map->title : map->id);
    lb_buf_puts(&b, ",\"scheme\":\"xyz\",\"tiles\":[");
    lb_buf tile = {0};
    lb_buf_printf(&tile, "http://%s/maps/%s/{z}/{x}/{y}.png", hostbuf, map->id);
    if (r->token_in_query && r->token) {
        lb_buf_puts(&tile, "?token=");
        for (const char *p = r->token; *p; p++) {
            unsigned char c = (unsigned char)*p;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.' || c == '~')
                lb_buf_putc(&tile, (char)c);
            else
                lb_buf_printf(&tile, "%%%02X", c);
        }
    }
    lb_buf_json_str(&b, tile.data);
    lb_buf_free(&tile);
    /* bounds: the configured service area (Germany), never derived from data */
    lb_buf_puts(&b, "],\"minzoom\":0,\"maxzoom\":22,"
                    "\"bounds\":[5.8,47.2,15.1,55.1],\"center\":[10.45,51.15,6],"
                    "\"attribution\":");
    lb_buf attr = {0};
    time_t now = time(NULL);
    for (size_t i = 0; i < map->nlayers; i++) {
        lb_grant g;
        const lb_layer_cfg *lc = lb_config_layer(r->st->cfg, map->layers[i]);
        if (!lc || !lc->attribution || !lb_access_layer(r->st->access, r->principal, lc->id, now, &g))
            continue;
        if (attr.len && strstr(attr.data, lc->attribution))
            continue;
        lb_buf_puts(&attr, attr.len ? "; " : "");
        lb_buf_puts(&attr, lc->attribution);
    }
    lb_buf_json_str(&b, attr.data ? attr.data : "");
    lb_buf_free(&attr);
    lb_buf_puts(&b, "}\n");
    lb_audit_request(r, "tilejson", "released");
    lb_http_send_text(r, 200, "application/json", b.data, b.len, "Cache-Control: private, no-cache\r\n");
    lb_buf_free(&b);
}

/* Static map for wall displays: bbox, crs, width, height (<= 7680 x 4320). */
static void h_static(lb_req *r)
{
    char bbox[256], crs[64] = "EPSG:3857", ws[16], hs[16];
    long w, h;
    double b[4];
    if (!lb_http_query(r, "bbox", bbox, sizeof bbox) || !lb_http_query(r, "width", ws, sizeof ws) ||
        !lb_http_query(r, "height", hs, sizeof hs) || !parse_long_str(ws, 1, 7680, &w) ||
        !parse_long_str(hs, 1, 4320, &h) ||
        sscanf(bbox, "%lf,%lf,%lf,%lf", &b[0], &b[1], &b[2], &b[3]) != 4 ||
        !isfinite(b[0]) || !isfinite(b[1]) || !isfinite(b[2]) || !isfinite(b[3]) ||
        !(b[2] > b[0]) || !(b[3] > b[1])) {
        lb_http_error(r, 400, "bbox=minx,miny,maxx,maxy, width=1..7680 and height=1..4320 "
                              "expected (optional crs=EPSG:3857|EPSG:25832|EPSG:4326)");
        return;
    }
    lb_http_query(r, "crs", crs, sizeof crs);
    int grid;
    if (lb_strcasecmp(crs, "EPSG:3857") == 0 || lb_strcasecmp(crs, "EPSG:900913") == 0) {
        grid = 0;
    } else if (lb_strcasecmp(crs, "EPSG:25832") == 0) {
        grid = 1;
    } else if (lb_strcasecmp(crs, "EPSG:4326") == 0 || lb_strcasecmp(crs, "CRS:84") == 0) {
        /* lon/lat bbox: render in Web Mercator */
        lb_transform *t = NULL;
        double xs[2] = {b[0], b[2]}, ys[2] = {fmax(b[1], -85), fmin(b[3], 85)};
        if (lb_transform_new("EPSG:4326", "EPSG:3857", &t, NULL) != LB_OK ||
            lb_transform_points(t, 2, xs, ys, NULL) != LB_OK) {
            lb_transform_free(t);
            lb_http_error(r, 400, "bbox cannot be transformed");
            return;
        }
        lb_transform_free(t);
        b[0] = xs[0], b[1] = ys[0], b[2] = xs[1], b[3] = ys[1];
        grid = 0;
    } else {
        lb_http_error(r, 400, "crs must be EPSG:3857, EPSG:25832 or EPSG:4326");
        return;
    }
    /* visibility before the canvas: a map it may not see must be refused
     * as fast as one that does not exist */
    const lb_map_cfg *map = visible_map(r, r->segs[1]);
    if (!map) {
        lb_http_not_found(r);
        return;
    }
    lb_canvas c = {0};
    if (lb_canvas_init(&c, (int)w, (int)h) != LB_OK) {
        lb_http_error(r, 503, "out of memory");
        return;
    }
    int status = lb_maps_render_static(r, map, grid, b[0], b[1], b[2], b[3], &c);
    if (status == 404) {
        lb_canvas_free(&c);
        lb_http_not_found(r);
        return;
    }
    uint8_t *png = NULL;
    size_t len = 0;
    lb_png_opts po = {.level = 1, .straight = true}; /* bands were unpremultiplied */
    if (status != 0 || lb_png_encode(&c, &po, &png, &len, NULL) != LB_OK) {
        lb_canvas_free(&c);
        free(png);
        lb_http_error(r, 500, "rendering failed");
        return;
    }
    lb_canvas_free(&c);
    char res[400];
    snprintf(res, sizeof res, "static %s bbox=%s crs=%s %ldx%ld", map->id, bbox, crs, w, h);
    lb_audit_request(r, res, "released");
    lb_http_send(r, 200, "image/png", png, len, "Cache-Control: private, no-cache\r\n");
    free(png);
}

static void h_metrics(lb_req *r)
{
    if (!r->principal->admin) {
        lb_http_not_found(r);
        return;
    }
    lb_server *s = r->srv;
    lb_buf b = {0};
    lb_buf_printf(&b,
                  "# TYPE lagebild_requests_total counter\nlagebild_requests_total %llu\n"
                  "# TYPE lagebild_tiles_rendered_total counter\nlagebild_tiles_rendered_total %llu\n"
                  "# TYPE lagebild_tiles_encoded_total counter\nlagebild_tiles_encoded_total %llu\n"
                  "# TYPE lagebild_class_lists_total counter\nlagebild_class_lists_total %llu\n"
                  "# TYPE lagebild_layer_cpu_seconds_total counter\nlagebild_layer_cpu_seconds_total %.6f\n"
                  "# TYPE lagebild_encode_cpu_seconds_total counter\nlagebild_encode_cpu_seconds_total %.6f\n"
                  "# TYPE lagebild_cache_hits_total counter\nlagebild_cache_hits_total %llu\n"
                  "# TYPE lagebild_layer_cache_hits_total counter\nlagebild_layer_cache_hits_total %llu\n"
                  "# TYPE lagebild_shared_hits_total counter\nlagebild_shared_hits_total %llu\n"
                  "# TYPE lagebild_shared_wait_seconds_total counter\nlagebild_shared_wait_seconds_total %.3f\n"
                  "# TYPE lagebild_not_found_total counter\nlagebild_not_found_total %llu\n"
                  "# TYPE lagebild_unauthorized_total counter\nlagebild_unauthorized_total %llu\n"
                  "# TYPE lagebild_errors_total counter\nlagebild_errors_total %llu\n"
                  "# TYPE lagebild_reloads_total counter\nlagebild_reloads_total %llu\n"
                  "# TYPE lagebild_reload_failures_total counter\nlagebild_reload_failures_total %llu\n"
                  "# TYPE lagebild_cache_bytes gauge\nlagebild_cache_bytes %zu\n"
                  "# TYPE lagebild_uptime_seconds gauge\nlagebild_uptime_seconds %.0f\n",
                  (unsigned long long)s->requests, (unsigned long long)s->tiles_rendered,
                  (unsigned long long)s->tiles_encoded, (unsigned long long)s->class_lists,
                  (double)s->layer_cpu_ns / 1e9,
                  (double)s->encode_cpu_ns / 1e9, (unsigned long long)s->cache_hits,
                  (unsigned long long)s->layer_hits,
                  (unsigned long long)s->shared_hits, (double)s->shared_wait_ns / 1e9,
                  (unsigned long long)s->not_found,
                  (unsigned long long)s->unauthorized, (unsigned long long)s->errors,
                  (unsigned long long)s->reloads, (unsigned long long)s->reload_failures,
                  lb_cache_bytes(s->cache), lb_now() - s->started);
    lb_live_metrics(s->live, &b);
    lb_http_send(r, 200, "text/plain; version=0.0.4", b.data, b.len, "Cache-Control: no-store\r\n");
    lb_buf_free(&b);
}

/* Read a small request body (form or query style key=value&...). */
static char *read_body(lb_req *r, size_t max)
{
    long long cl = r->ri->content_length;
    if (cl < 0 || (size_t)cl > max)
        return NULL;
    char *b = malloc((size_t)cl + 1);
    if (!b)
        return NULL;
    size_t got = 0;
    while (got < (size_t)cl) {
        int n = mg_read(r->conn, b + got, (size_t)cl - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    b[got] = '\0';
    return b;
}

static bool form_value(const char *body, const char *key, char *out, size_t n)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s=", key);
    const char *p = body;
    while (p && *p) {
        if (strncmp(p, tmp, strlen(tmp)) == 0) {
            p += strlen(tmp);
            size_t k = 0;
            while (*p && *p != '&' && k + 1 < n) {
                char c = *p++;
                if (c == '+')
                    c = ' ';
                else if (c == '%' && p[0] && p[1]) {
                    char hx[3] = {p[0], p[1], 0};
                    c = (char)strtol(hx, NULL, 16);
                    p += 2;
                }
                out[k++] = c;
            }
            out[k] = '\0';
            return true;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return false;
}

static void h_phase(lb_req *r)
{
    if (!r->principal->admin) {
        lb_http_not_found(r);
        return;
    }
    char *body = read_body(r, 4096);
    char v[64];
    lb_phase p;
    if (!body || !form_value(body, "phase", v, sizeof v) || lb_phase_parse(v, &p) != LB_OK) {
        free(body);
        lb_http_error(r, 400, "phase=Vorbereitung|Vorsorge|Schutz|Reaktion|Regeneration expected");
        return;
    }
    free(body);
    /* on the current state, under its lock: a reload carries it over */
    pthread_mutex_lock(&r->srv->state_lock);
    lb_access_set_phase(r->srv->state->access, (int)p);
    pthread_mutex_unlock(&r->srv->state_lock);
    lb_cache_clear(r->srv->cache);
    char res[96];
    snprintf(res, sizeof res, "phase %s", lb_phase_name(p));
    lb_audit_request(r, res, "set");
    fprintf(stderr, "lagebild: crisis phase set to %s by %s\n", lb_phase_name(p),
            r->principal->principal);
    lb_http_send(r, 200, "application/json", "{\"ok\":true}\n", 12, "Cache-Control: no-store\r\n");
}

static void h_breakglass(lb_req *r)
{
    if (!r->principal->admin) {
        lb_http_not_found(r);
        return;
    }
    char *body = read_body(r, 8192);
    char role[128], layer[128], minutes[32], seconds[32], reason[512];
    long mins = 0, secs = 0;
    bool have_min = body && form_value(body, "minutes", minutes, sizeof minutes);
    bool have_sec = body && form_value(body, "seconds", seconds, sizeof seconds);
    if (!body || !form_value(body, "role", role, sizeof role) ||
        !form_value(body, "layer", layer, sizeof layer) ||
        !form_value(body, "reason", reason, sizeof reason) || !reason[0] ||
        have_min == have_sec ||
        (have_min && !parse_long_str(minutes, 1, 7 * 24 * 60, &mins)) ||
        (have_sec && !parse_long_str(seconds, 1, 7 * 24 * 3600, &secs))) {
        free(body);
        lb_http_error(r, 400, "role=, layer=, a non-empty reason= and either minutes=1..10080 "
                              "or seconds=1..604800 expected");
        return;
    }
    if (have_min)
        secs = mins * 60;
    free(body);
    lb_error err;
    pthread_mutex_lock(&r->srv->state_lock); /* the current state: a reload carries it over */
    lb_status bgrc =
        lb_access_break_glass(r->srv->state->access, role, layer, time(NULL) + secs, reason, &err);
    pthread_mutex_unlock(&r->srv->state_lock);
    if (bgrc != LB_OK) {
        lb_http_error(r, 400, err.msg);
        return;
    }
    char res[1024];
    snprintf(res, sizeof res, "break-glass %s:%s %ld s: %s", role, layer, secs, reason);
    lb_audit_request(r, res, "granted");
    fprintf(stderr, "lagebild: break-glass %s\n", res);
    lb_http_send(r, 200, "application/json", "{\"ok\":true}\n", 12, "Cache-Control: no-store\r\n");
}

/* ---- dispatch ----------------------------------------------------------- */

static bool match(const char *pattern, lb_req *r)
{
    int i = 0;
    const char *p = pattern;
    while (*p == '/') {
        p++;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (i >= r->nseg)
            return false;
        if (!(n == 2 && p[0] == '{' && p[1] == '}') &&
            (strlen(r->segs[i]) != n || strncmp(r->segs[i], p, n) != 0))
            return false;
        i++;
        p += n;
    }
    return i == r->nseg;
}

static const char *bearer_token(lb_req *r, char *buf, size_t n)
{
    const char *h = mg_get_header(r->conn, "Authorization");
    if (h) {
        /* the scheme is case-insensitive (RFC 9110 11.1), then 1+ spaces */
        if (strncasecmp(h, "Bearer", 6) != 0 || h[6] != ' ')
            return NULL;
        h += 6;
        while (*h == ' ')
            h++;
        if (strlen(h) >= n)
            return NULL;
        snprintf(buf, n, "%s", h);
        return buf;
    }
    if (lb_http_query(r, "token", buf, n)) {
        r->token_in_query = true;
        return buf;
    }
    return NULL;
}

/* Two dots, as a JWT's three parts (configured tokens have none). */
static bool jwt_shaped(const char *t)
{
    const char *a = strchr(t, '.');
    return a && strchr(a + 1, '.');
}

/* The principal of token t: a JWT (jwt: configured) or a configured token.
 * Not inlined: its error text (1 kB) stays off the handlers' stack. */
static __attribute__((noinline)) const lb_token_cfg *authenticate(lb_req *r, const char *t)
{
    if (!jwt_shaped(t) || !lb_access_has_jwt(r->st->access))
        return lb_access_authenticate(r->st->access, t);
    lb_error e;
    if (lb_access_authenticate_jwt(r->st->access, t, time(NULL), &r->jwt_principal, &e) == LB_OK)
        return r->jwt_principal;
    if (r->srv->log_requests)
        fprintf(stderr, "lagebild: token refused: %s\n", e.msg);
    return NULL;
}

void lb_routes_dispatch(lb_req *r)
{
    const char *method = r->ri->request_method;
    bool head = strcmp(method, "HEAD") == 0;
    if (strcmp(method, "OPTIONS") == 0) {
        lb_http_send(r, 204, "text/plain", NULL, 0,
                     "Access-Control-Allow-Methods: GET, HEAD, POST, DELETE, OPTIONS\r\n"
                     "Access-Control-Allow-Headers: Authorization, Content-Type, If-None-Match\r\n"
                     "Access-Control-Max-Age: 600\r\n");
        return;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const route *rt = &routes[i];
        if (!match(rt->pattern, r))
            continue;
        if (strcmp(rt->method, method) != 0 && !(head && strcmp(rt->method, "GET") == 0))
            continue;
        if (rt->auth) {
            /* not on the stack: civetweb's worker threads have ~100 kB */
            char *tok = malloc(LB_JWT_MAX + 1);
            if (!tok) {
                lb_http_error(r, 503, "out of memory");
                return;
            }
            const char *t = bearer_token(r, tok, LB_JWT_MAX + 1);
            r->principal = t ? authenticate(r, t) : NULL;
            if (!r->principal) {
                free(tok);
                lb_http_unauthorized(r);
                return;
            }
            r->token = r->token_in_query ? t : NULL;
            rt->fn(r);
            r->token = NULL;
            free(tok);
            return;
        }
        rt->fn(r);
        return;
    }
    lb_http_not_found(r);
}
