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
    int n = lb_maps_visible(r, map, layers, grants); /* NULL: as a hidden map */
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
        /* the newest change among what this principal may see of the layer:
         * a re-ingest or push of features it may not see moves nothing here */
        const char *at = NULL;
        for (size_t k = 0; L->times && k < L->times->n; k++) {
            const lb_label_time *e = &L->times->v[k];
            const lb_source_cfg *src = e->source >= 0 ? &r->st->cfg->sources[e->source] : NULL;
            if ((lb_grant_allows(&grants[i], &e->label) ||
                 (src && lb_grant_allows_generalised(&grants[i], &e->label, src))) &&
                (!at || strcmp(e->at, at) > 0))
                at = e->at;
        }
        lb_buf_puts(&b, ",\"updated_at\":");
        if (at)
            lb_buf_json_str(&b, at);
        else
            lb_buf_puts(&b, "null");
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

/*
 * The classification banner counts a feature only where this principal would
 * see it drawn: where its geometry meets the query box and, for an
 * area-limited clearance, the area within it (the region R = box ∩ area,
 * both closed).  Everything is tested in grid 0's CRS, where the tiles draw
 * the features and mask the area with straight edges between its vertices.
 * A feature's box meeting the area is not enough: a diagonal line can pass
 * beside the area while its box covers it, and a feature may meet the area
 * only outside the box.
 */

/* A clearance's region for the banner. */
typedef struct cls_pred {
    lb_grant one; /* a grant of exactly one clearance */
    const lb_config *cfg; /* the sources' release rules, for generalised features */
    /* the query box (grid 0) within its area (NULL: unlimited); cand: the
     * ends of the area edges' pieces in the box and the box's corners inside
     * the area (just a corner of the box when unlimited) */
    lb_area_region reg;
} cls_pred;

/* The part of cls_allows that looks at the class alone (it must accept
 * every feature cls_allows accepts): lb_snapshot_max_level asks it once
 * per class and does not look at the features of classes it rejects. */
static bool cls_class_allows(void *ud, const lb_feature_info *f)
{
    const cls_pred *cp = ud;
    return lb_grant_allows(&cp->one, &f->label) &&
           !lb_feature_superseded(f, &cp->one, cp->one.c[0].area);
}

/* A feature counts when its clearance allows it and it is drawn in the
 * region; features only near it never count: the banner must not reveal
 * what lies outside. */
static bool cls_allows(void *ud, const lb_feature_info *f, const double box[4],
                       const lb_feature_geom *g)
{
    const cls_pred *cp = ud;
    return cls_class_allows(ud, f) && lb_area_region_meets(&cp->reg, g, box);
}

/* The same for the generalised forms (the layer's generalised snapshot):
 * a feature counts where this clearance sees it only generalised, by the
 * cells the tiles draw. */
static bool cls_class_allows_gen(void *ud, const lb_feature_info *f)
{
    const cls_pred *cp = ud;
    return lb_grant_allows_generalised(&cp->one, &f->label, lb_config_source(cp->cfg, f->source)) &&
           !lb_feature_superseded(f, &cp->one, cp->one.c[0].area);
}

static bool cls_allows_gen(void *ud, const lb_feature_info *f, const double box[4],
                           const lb_feature_geom *g)
{
    const cls_pred *cp = ud;
    return cls_class_allows_gen(ud, f) && lb_area_region_meets(&cp->reg, g, box);
}

/* An area's region boundary points for one query box, made on first use. */
typedef struct cls_area {
    bool built, ok;
    double *cand;
    size_t ncand;
} cls_area;

static bool cls_area_build(cls_area *ca, const lb_srv_area *a, const double q[4])
{
    ca->built = true;
    const lb_area_edges *e = &a->edges;
    ca->cand = malloc((2 * e->n + 4) * 2 * sizeof *ca->cand);
    if (!ca->cand)
        return false;
    for (size_t k = 0; k < e->n; k++) {
        double *c = ca->cand + 2 * ca->ncand;
        if (lb_area_clip_seg(q, e->e + 4 * k, e->e + 4 * k + 2, c, c + 2))
            ca->ncand += 2;
    }
    const double corners[4][2] = {{q[0], q[1]}, {q[2], q[1]}, {q[0], q[3]}, {q[2], q[3]}};
    for (int i = 0; i < 4; i++)
        if (lb_area_winding(e, corners[i][0], corners[i][1]) != 0) {
            memcpy(ca->cand + 2 * ca->ncand, corners[i], sizeof corners[i]);
            ca->ncand++;
        }
    ca->ok = true;
    return true;
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
    const double q[4] = {xs[0], ys[0], xs[1], ys[1]};
    size_t nareas = lb_access_area_count(r->st->access);
    cls_area *areas = calloc(nareas ? nareas : 1, sizeof *areas);
    bool oom = !areas;
    int best = -1;
    for (int i = 0; !oom && i < n; i++) {
        for (int c = 0; !oom && c < grants[i].n; c++) {
            cls_pred cp = {.one = grants[i], .cfg = r->st->cfg, .reg = {.cand = q, .ncand = 1}};
            cp.one.c[0] = grants[i].c[c];
            cp.one.n = 1;
            memcpy(cp.reg.q, q, sizeof q);
            double w[4] = {q[0], q[1], q[2], q[3]}; /* the walk's box: the region's */
            int ai = grants[i].c[c].area;
            if (ai >= 0) {
                const lb_srv_area *sa = &r->st->areas[0][ai];
                w[0] = fmax(w[0], sa->box[0]);
                w[1] = fmax(w[1], sa->box[1]);
                w[2] = fmin(w[2], sa->box[2]);
                w[3] = fmin(w[3], sa->box[3]);
                if (!(w[0] <= w[2] && w[1] <= w[3]))
                    continue; /* the area lies outside the box */
                cls_area *ca = &areas[ai];
                if (!ca->built && !cls_area_build(ca, sa, q))
                    oom = true;
                if (!ca->ok)
                    break;
                cp.reg.area = &sa->edges;
                cp.reg.cand = ca->cand;
                cp.reg.ncand = ca->ncand;
            }
            int lv = lb_snapshot_max_level(layers[i]->snap[0], w[0], w[1], w[2], w[3],
                                                cls_class_allows, cls_allows, &cp);
            if (lv > best)
                best = lv;
            /* what it sees generalised is shown too, and marked */
            if (layers[i]->gen[0]) {
                lv = lb_snapshot_max_level(layers[i]->gen[0], w[0], w[1], w[2], w[3],
                                           cls_class_allows_gen, cls_allows_gen, &cp);
                if (lv > best)
                    best = lv;
            }
        }
    }
    for (size_t a = 0; areas && a < nareas; a++)
        free(areas[a].cand);
    free(areas);
    if (oom) {
        free(grants);
        free(layers);
        lb_http_error(r, 503, "out of memory");
        return;
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
