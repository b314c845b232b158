/*
 * This file implements what the viewer needs besides tiles, per principal:
 * the visible layers of a map with titles, last-update times and legends
 * (/maps/{map}/layers.json), the highest classification of what is on
 * screen (/maps/{map}/classification?bbox=lon,lat,lon,lat), the viewer page
 * (/view/{map}) and its static files (/web/{file}, a fixed folder, names
 * restricted to [A-Za-z0-9._-], no traversal possible).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server_int.h"

static void rgba_css(lb_buf *b, lb_rgba c)
{
    if (c.a == 0) {
        lb_buf_puts(b, "\"transparent\"");
        return;
    }
    /* un-premultiply */
    lb_buf_printf(b, "\"rgba(%d,%d,%d,%.3f)\"", c.r * 255 / c.a, c.g * 255 / c.a,
                  c.b * 255 / c.a, c.a / 255.0);
}

/* The layers of map (NULL: none) that r's principal sees, with their grants
 * (lb_maps_visible; free both); 0 once it has answered 404 (no such map,
 * nothing visible: the same answer) or 503 (out of memory). */
static int visible_or_answer(lb_req *r, const lb_map_cfg *map, const lb_srv_layer ***layers,
                             lb_grant **grants)
{
    *layers = NULL;
    *grants = NULL;
    int n = map ? lb_maps_visible(r, map, layers, grants) : 0;
    if (n > 0)
        return n;
    free(*grants);
    free(*layers);
    *grants = NULL;
    *layers = NULL;
    if (n < 0)
        lb_http_error(r, 503, "out of memory");
    else
        lb_http_not_found(r);
    return 0;
}

void lb_viewer_layers(lb_req *r)
{
    const lb_map_cfg *map = lb_config_map(r->st->cfg, r->segs[1]);
    lb_grant *grants;
    const lb_srv_layer **layers;
    int n = visible_or_answer(r, map, &layers, &grants);
    if (!n)
        return;
    lb_buf b = {0};
    lb_buf_puts(&b, "{\"map\":");
    lb_buf_json_str(&b, map->id);
    lb_buf_puts(&b, ",\"title\":");
    lb_buf_json_str(&b, map->title ? map->title : map->id);
    lb_buf_puts(&b, ",\"layers\":[");
    for (int i = 0; i < n; i++) {
        const lb_srv_layer *L = layers[i];
        lb_buf_puts(&b, i ? ",{\"id\":" : "{\"id\":");
        lb_buf_json_str(&b, L->cfg->id);
        lb_buf_puts(&b, ",\"title\":");
        lb_buf_json_str(&b, L->cfg->title ? L->cfg->title : L->cfg->id);
        lb_buf_puts(&b, ",\"updated_at\":");
        lb_buf_json_str(&b, L->updated_at);
        lb_buf_puts(&b, ",\"legend\":[");
        size_t ns = L->style ? lb_style_layer_count(L->style) : 0;
        for (size_t k = 0; k < ns; k++) {
            lb_paint p;
            if (!lb_style_legend(L->style, k, 14, &p))
                continue;
            lb_buf_puts(&b, b.data[b.len - 1] == '[' ? "{\"title\":" : ",{\"title\":");
            lb_buf_json_str(&b, lb_style_layer_title(L->style, k));
            switch (p.type) {
            case LB_STYLE_FILL:
                lb_buf_puts(&b, ",\"type\":\"fill\",\"color\":");
                rgba_css(&b, p.fill);
                lb_buf_puts(&b, ",\"outline\":");
                rgba_css(&b, p.has_outline ? p.outline : p.fill);
                break;
            case LB_STYLE_LINE:
                lb_buf_puts(&b, ",\"type\":\"line\",\"color\":");
                rgba_css(&b, p.line);
                lb_buf_printf(&b, ",\"width\":%.1f,\"dashed\":%s", p.line_width,
                              p.ndash ? "true" : "false");
                break;
            case LB_STYLE_CIRCLE: {
                static const char *const shapes[] = {"circle", "square", "triangle", "cross"};
                lb_buf_puts(&b, ",\"type\":\"circle\",\"color\":");
                rgba_css(&b, p.circle);
                lb_buf_puts(&b, ",\"outline\":");
                rgba_css(&b, p.stroke);
                lb_buf_printf(&b, ",\"radius\":%.1f,\"shape\":\"%s\"", p.radius,
                              shapes[p.marker <= LB_MARKER_CROSS ? p.marker : 0]);
                break;
            }
            }
            lb_buf_putc(&b, '}');
        }
        lb_buf_puts(&b, "]}");
    }
    lb_buf_puts(&b, "]}\n");
    lb_audit_request(r, "layers", "released");
    lb_http_send_text(r, 200, "application/json", b.data, b.len, "Cache-Control: private, no-cache\r\n");
    lb_buf_free(&b);
    free(grants);
    free(layers);
}

typedef struct cls_pred {
    lb_grant one;            /* a grant of exactly one clearance */
    const lb_srv_area *area; /* its area (grid 0), NULL: unlimited */
} cls_pred;

/* Point in polygon: the winding number over all rings is not zero, the
 * non-zero rule of the area's mask (server/maps.c), so a hole (oriented
 * against its exterior when loaded) is outside here too. */
static bool pip(const lb_srv_area *a, double x, double y)
{
    int wn = 0;
    for (size_t r = 0; r < a->nrings; r++) {
        const double *p = a->rings[r].xy;
        size_t n = a->rings[r].n;
        for (size_t i = 0, j = n - 1; i < n; j = i++) {
            double xj = p[2 * j], yj = p[2 * j + 1], xi = p[2 * i], yi = p[2 * i + 1];
            double side = (xi - xj) * (y - yj) - (x - xj) * (yi - yj);
            if (yj <= y && yi > y && side > 0)
                wn++;
            else if (yj > y && yi <= y && side < 0)
                wn--;
        }
    }
    return wn != 0;
}

/*
 * A feature counts when its clearance allows it and, for an area-limited
 * clearance, its box demonstrably meets the area (a box corner or centre
 * inside it, or an area vertex inside the box).  Features only near the
 * area never count: the banner must not reveal what lies outside.
 */
static bool cls_allows(void *ud, const lb_feature_info *f, const double box[4])
{
    const cls_pred *cp = ud;
    if (!lb_grant_allows(&cp->one, &f->label) || lb_feature_superseded(f, &cp->one))
        return false;
    if (!cp->area)
        return true;
    const double pts[5][2] = {{box[0], box[1]}, {box[2], box[1]}, {box[0], box[3]},
                              {box[2], box[3]}, {(box[0] + box[2]) / 2, (box[1] + box[3]) / 2}};
    for (int i = 0; i < 5; i++)
        if (pip(cp->area, pts[i][0], pts[i][1]))
            return true;
    for (size_t r = 0; r < cp->area->nrings; r++)
        for (size_t v = 0; v < cp->area->rings[r].n; v++) {
            double x = cp->area->rings[r].xy[2 * v], y = cp->area->rings[r].xy[2 * v + 1];
            if (x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3])
                return true;
        }
    return false;
}

void lb_viewer_classification(lb_req *r)
{
    char bbox[200];
    double b[4];
    if (!lb_http_query(r, "bbox", bbox, sizeof bbox) ||
        sscanf(bbox, "%lf,%lf,%lf,%lf", &b[0], &b[1], &b[2], &b[3]) != 4 || !(b[2] > b[0]) ||
        !(b[3] > b[1]) || !isfinite(b[0] + b[1] + b[2] + b[3])) {
        lb_http_error(r, 400, "bbox=minlon,minlat,maxlon,maxlat expected");
        return;
    }
    const lb_map_cfg *map = lb_config_map(r->st->cfg, r->segs[1]);
    lb_grant *grants;
    const lb_srv_layer **layers;
    int n = visible_or_answer(r, map, &layers, &grants);
    if (!n)
        return;
    double xs[2] = {b[0], b[2]}, ys[2] = {fmax(b[1], -85), fmin(b[3], 85)};
    lb_transform *t = NULL;
    if (lb_transform_new("EPSG:4326", "EPSG:3857", &t, NULL) != LB_OK ||
        lb_transform_points(t, 2, xs, ys, NULL) != LB_OK) {
        lb_transform_free(t);
        free(grants);
        free(layers);
        lb_http_error(r, 400, "bbox cannot be transformed");
        return;
    }
    lb_transform_free(t);
    int best = -1;
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < grants[i].n; c++) {
            cls_pred cp = {.one = grants[i]};
            cp.one.c[0] = grants[i].c[c];
            cp.one.n = 1;
            cp.area = grants[i].c[c].area >= 0 ? &r->st->areas[0][grants[i].c[c].area] : NULL;
            int lv = lb_snapshot_max_level(layers[i]->snap[0], xs[0], ys[0], xs[1], ys[1],
                                           cls_allows, &cp);
            if (lv > best)
                best = lv;
        }
    }
    lb_buf out = {0};
    lb_buf_puts(&out, "{\"level\":");
    if (best >= 0)
        lb_buf_json_str(&out, lb_level_name((lb_level)best));
    else
        lb_buf_puts(&out, "null");
    lb_buf_puts(&out, "}\n");
    lb_http_send(r, 200, "application/json", out.data, out.len, "Cache-Control: private, no-cache\r\n");
    lb_buf_free(&out);
    free(grants);
    free(layers);
}

/* Files of the viewer: web/NAME, NAME restricted so no path can escape. */
static const char *mime_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return "application/octet-stream";
    if (!strcmp(dot, ".html")) return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js")) return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".css")) return "text/css; charset=utf-8";
    if (!strcmp(dot, ".png")) return "image/png";
    if (!strcmp(dot, ".svg")) return "image/svg+xml";
    if (!strcmp(dot, ".json")) return "application/json";
    return "application/octet-stream";
}

static void send_web_file(lb_req *r, const char *name)
{
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            name = NULL;
    if (!name || name[0] == '.' || strlen(name) > 100) {
        lb_http_not_found(r);
        return;
    }
    const char *dir = getenv("LAGEBILD_WEB_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : LB_WEB_DIR, name);
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > (16 << 20)) {
        if (f)
            fclose(f);
        lb_http_not_found(r);
        return;
    }
    size_t n = (size_t)sb.st_size;
    char *data = malloc(n ? n : 1);
    if (!data || fread(data, 1, n, f) != n) {
        free(data);
        fclose(f);
        lb_http_error(r, 500, "cannot read file");
        return;
    }
    fclose(f);
    const char *ct = mime_of(name);
    if (!strncmp(ct, "text/", 5) || !strcmp(ct, "application/json") || !strcmp(ct, "image/svg+xml"))
        lb_http_send_text(r, 200, ct, data, n, "Cache-Control: public, max-age=300\r\n");
    else
        lb_http_send(r, 200, ct, data, n, "Cache-Control: public, max-age=300\r\n");
    free(data);
}

void lb_viewer_file(lb_req *r) { send_web_file(r, r->segs[1]); }

/* The page itself carries no data: it is the same for everyone (the map id
 * is read from the URL by the script), so it needs no token. */
void lb_viewer_page(lb_req *r) { send_web_file(r, "index.html"); }
