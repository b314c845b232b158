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

/* An area's edges, indexed by horizontal bands: the edges whose y extent
 * meets band b are idx[start[b]] .. idx[start[b + 1] - 1]. */
typedef struct area_edges {
    double *e; /* x0, y0, x1, y1 per edge */
    size_t n;
    uint32_t *start, *idx;
    int nb;
    double y0, y1, inv_h; /* the bands cover [y0, y1]; 1 / band height */
} area_edges;

static void area_edges_free(area_edges *ae)
{
    free(ae->e);
    free(ae->start);
    free(ae->idx);
}

static int band_of(const area_edges *ae, double y)
{
    double b = (y - ae->y0) * ae->inv_h;
    return !(b > 0) ? 0 : b >= ae->nb ? ae->nb - 1 : (int)b;
}

/* The edges of a's rings as its mask draws them (points with a non-finite
 * coordinate skipped, every ring closed); false when out of memory. */
static bool area_edges_build(area_edges *ae, const lb_srv_area *a)
{
    *ae = (area_edges){0};
    size_t total = 0;
    for (size_t r = 0; r < a->nrings; r++)
        total += a->rings[r].n;
    ae->e = malloc((total ? total : 1) * 4 * sizeof *ae->e);
    if (!ae->e)
        return false;
    for (size_t r = 0; r < a->nrings; r++) {
        const double *p = a->rings[r].xy;
        double fx = 0, fy = 0, px = 0, py = 0;
        bool have = false;
        for (size_t i = 0; i <= a->rings[r].n; i++) {
            bool closing = i == a->rings[r].n;
            double x = closing ? fx : p[2 * i], y = closing ? fy : p[2 * i + 1];
            if (closing ? !have : !(isfinite(x) && isfinite(y)))
                continue;
            if (have && (x != px || y != py)) {
                double *e = ae->e + 4 * ae->n++;
                e[0] = px, e[1] = py, e[2] = x, e[3] = y;
            } else if (!have) {
                fx = x, fy = y;
                have = true;
            }
            px = x, py = y;
        }
    }
    ae->y0 = a->box[1];
    ae->y1 = a->box[3];
    ae->nb = ae->n / 4 < 1 ? 1 : ae->n / 4 > 4096 ? 4096 : (int)(ae->n / 4);
    ae->inv_h = ae->y1 > ae->y0 ? ae->nb / (ae->y1 - ae->y0) : 0;
    ae->start = calloc((size_t)ae->nb + 1, sizeof *ae->start);
    if (!ae->start)
        return false;
    size_t nidx = 0;
    for (size_t k = 0; k < ae->n; k++) {
        const double *e = ae->e + 4 * k;
        int b0 = band_of(ae, fmin(e[1], e[3])), b1 = band_of(ae, fmax(e[1], e[3]));
        for (int b = b0; b <= b1; b++)
            ae->start[b + 1]++;
        nidx += (size_t)(b1 - b0 + 1);
    }
    if (nidx > UINT32_MAX || ae->n > UINT32_MAX)
        return false;
    for (int b = 0; b < ae->nb; b++)
        ae->start[b + 1] += ae->start[b];
    ae->idx = malloc((nidx ? nidx : 1) * sizeof *ae->idx);
    uint32_t *fill = malloc((size_t)ae->nb * sizeof *fill);
    if (!ae->idx || !fill) {
        free(fill);
        return false;
    }
    memcpy(fill, ae->start, (size_t)ae->nb * sizeof *fill);
    for (size_t k = 0; k < ae->n; k++) {
        const double *e = ae->e + 4 * k;
        int b0 = band_of(ae, fmin(e[1], e[3])), b1 = band_of(ae, fmax(e[1], e[3]));
        for (int b = b0; b <= b1; b++)
            ae->idx[fill[b]++] = (uint32_t)k;
    }
    free(fill);
    return true;
}

/* What edge e (x0, y0, x1, y1) adds to the winding number around (x, y):
 * +1 crossing the ray to the right of it upwards, -1 downwards. */
static int edge_winding(const double *e, double x, double y)
{
    double side = (e[2] - e[0]) * (y - e[1]) - (x - e[0]) * (e[3] - e[1]);
    if (e[1] <= y)
        return e[3] > y && side > 0 ? 1 : 0;
    return e[3] <= y && side < 0 ? -1 : 0;
}

/* The winding number of the area around (x, y): not zero inside it, the
 * non-zero rule of its mask (server/maps.c), so a hole is outside. */
static int area_winding(const area_edges *ae, double x, double y)
{
    if (!(y >= ae->y0 && y <= ae->y1))
        return 0;
    int b = band_of(ae, y), wn = 0;
    for (uint32_t k = ae->start[b]; k < ae->start[b + 1]; k++)
        wn += edge_winding(ae->e + 4 * (size_t)ae->idx[k], x, y);
    return wn;
}

static double orient(const double *a, const double *b, const double *c)
{
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
}

/* c, on the line through a and b, lies between them */
static bool between(const double *a, const double *b, const double *c)
{
    return fmin(a[0], b[0]) <= c[0] && c[0] <= fmax(a[0], b[0]) && fmin(a[1], b[1]) <= c[1] &&
           c[1] <= fmax(a[1], b[1]);
}

/* Whether the closed segments p-q and r-s meet (touching counts). */
static bool segs_meet(const double *p, const double *q, const double *r, const double *s)
{
    double d1 = orient(r, s, p), d2 = orient(r, s, q), d3 = orient(p, q, r), d4 = orient(p, q, s);
    if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)))
        return true;
    return (d1 == 0 && between(r, s, p)) || (d2 == 0 && between(r, s, q)) ||
           (d3 == 0 && between(p, q, r)) || (d4 == 0 && between(p, q, s));
}

/* Whether the closed segment a-b (a point when a = b) meets an area edge. */
static bool seg_meets_edges(const area_edges *ae, const double *a, const double *b)
{
    double x0 = fmin(a[0], b[0]), x1 = fmax(a[0], b[0]);
    double y0 = fmin(a[1], b[1]), y1 = fmax(a[1], b[1]);
    if (ae->n == 0 || y1 < ae->y0 || y0 > ae->y1)
        return false;
    for (int band = band_of(ae, y0), last = band_of(ae, y1); band <= last; band++)
        for (uint32_t k = ae->start[band]; k < ae->start[band + 1]; k++) {
            const double *e = ae->e + 4 * (size_t)ae->idx[k];
            if (fmax(e[0], e[2]) < x0 || fmin(e[0], e[2]) > x1 || fmax(e[1], e[3]) < y0 ||
                fmin(e[1], e[3]) > y1)
                continue;
            if (segs_meet(a, b, e, e + 2))
                return true;
        }
    return false;
}

/* The part of segment a-b inside the closed box q into ca, cb; false when
 * there is none (Liang-Barsky). */
static bool clip_seg(const double q[4], const double *a, const double *b, double *ca, double *cb)
{
    double dx = b[0] - a[0], dy = b[1] - a[1], t0 = 0, t1 = 1;
    const double p[4] = {-dx, dx, -dy, dy};
    const double r[4] = {a[0] - q[0], q[2] - a[0], a[1] - q[1], q[3] - a[1]};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (r[i] < 0)
                return false;
            continue;
        }
        double t = r[i] / p[i];
        if (p[i] < 0) {
            if (t > t1)
                return false;
            t0 = t > t0 ? t : t0;
        } else {
            if (t < t0)
                return false;
            t1 = t < t1 ? t : t1;
        }
    }
    ca[0] = t0 > 0 ? a[0] + t0 * dx : a[0];
    ca[1] = t0 > 0 ? a[1] + t0 * dy : a[1];
    cb[0] = t1 < 1 ? a[0] + t1 * dx : b[0];
    cb[1] = t1 < 1 ? a[1] + t1 * dy : b[1];
    return true;
}

/* A clearance's region for the banner. */
typedef struct cls_pred {
    lb_grant one;            /* a grant of exactly one clearance */
    double q[4];             /* the query box (grid 0) */
    const area_edges *area;  /* its area's edges (grid 0), NULL: unlimited */
    /* points of the region's boundary, at least one in each of its parts:
     * the ends of the area edges' pieces in the box and the box's corners
     * inside the area (just a corner of the box when unlimited) */
    const double *cand;
    size_t ncand;
} cls_pred;

static bool in_box(const double q[4], const double *p)
{
    return p[0] >= q[0] && p[0] <= q[2] && p[1] >= q[1] && p[1] <= q[3];
}

static bool point_in_region(const cls_pred *cp, const double *p)
{
    return in_box(cp->q, p) && (!cp->area || area_winding(cp->area, p[0], p[1]) != 0 ||
                                seg_meets_edges(cp->area, p, p));
}

/* Whether the closed segment a-b meets the region: its piece in the box has
 * an end inside the area or meets the area's boundary. */
static bool seg_in_region(const cls_pred *cp, const double *a, const double *b)
{
    double ca[2], cb[2];
    if (!isfinite(a[0] + a[1] + b[0] + b[1]) || !clip_seg(cp->q, a, b, ca, cb))
        return false;
    return !cp->area || area_winding(cp->area, ca[0], ca[1]) != 0 ||
           area_winding(cp->area, cb[0], cb[1]) != 0 || seg_meets_edges(cp->area, ca, cb);
}

/* The winding number of a polygon feature around p (its rings are
 * oriented for the non-zero rule). */
static int geom_winding(const lb_feature_geom *g, const double *p)
{
    int wn = 0;
    for (size_t i = 0; i < lb_feature_geom_parts(g); i++) {
        size_t n;
        const double *xy = lb_feature_geom_part(g, i, &n);
        for (size_t k = 0; k < n; k++) {
            const double *a = xy + 2 * k, *b = xy + 2 * ((k + 1) % n);
            const double e[4] = {a[0], a[1], b[0], b[1]};
            wn += edge_winding(e, p[0], p[1]);
        }
    }
    return wn;
}

/*
 * Whether the feature's geometry meets the region: a point of it in the
 * region, a line or ring edge meeting it; or else, for a polygon whose
 * boundary does not meet the region, the region's parts lie wholly inside or
 * wholly outside it, and a boundary point of each part (cand) decides.
 */
static bool geom_meets_region(const cls_pred *cp, const lb_feature_geom *g, const double box[4])
{
    int type = lb_feature_geom_type(g);
    for (size_t i = 0; i < lb_feature_geom_parts(g); i++) {
        size_t n;
        const double *xy = lb_feature_geom_part(g, i, &n);
        if (type == LB_FEATURE_POINTS || n == 1) {
            for (size_t k = 0; k < n; k++)
                if (point_in_region(cp, xy + 2 * k))
                    return true;
            continue;
        }
        size_t nseg = type == LB_FEATURE_POLYGONS ? n : n - 1;
        for (size_t k = 0; k < nseg; k++)
            if (seg_in_region(cp, xy + 2 * k, xy + 2 * ((k + 1) % n)))
                return true;
    }
    if (type != LB_FEATURE_POLYGONS)
        return false;
    for (size_t c = 0; c < cp->ncand; c++)
        if (in_box(box, cp->cand + 2 * c) && geom_winding(g, cp->cand + 2 * c) != 0)
            return true;
    return false;
}

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
    return cls_class_allows(ud, f) && geom_meets_region(ud, g, box);
}

/* An area's edges and region boundary points for one query box, made on
 * first use. */
typedef struct cls_area {
    bool built, ok;
    area_edges e;
    double *cand;
    size_t ncand;
} cls_area;

static bool cls_area_build(cls_area *ca, const lb_srv_area *a, const double q[4])
{
    ca->built = true;
    if (!area_edges_build(&ca->e, a))
        return false;
    ca->cand = malloc((2 * ca->e.n + 4) * 2 * sizeof *ca->cand);
    if (!ca->cand)
        return false;
    for (size_t k = 0; k < ca->e.n; k++) {
        double *c = ca->cand + 2 * ca->ncand;
        if (clip_seg(q, ca->e.e + 4 * k, ca->e.e + 4 * k + 2, c, c + 2))
            ca->ncand += 2;
    }
    const double corners[4][2] = {{q[0], q[1]}, {q[2], q[1]}, {q[0], q[3]}, {q[2], q[3]}};
    for (int i = 0; i < 4; i++)
        if (area_winding(&ca->e, corners[i][0], corners[i][1]) != 0) {
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
            cls_pred cp = {.one = grants[i], .cand = q, .ncand = 1};
            cp.one.c[0] = grants[i].c[c];
            cp.one.n = 1;
            memcpy(cp.q, q, sizeof q);
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
                cp.area = &ca->e;
                cp.cand = ca->cand;
                cp.ncand = ca->ncand;
            }
            int lv = lb_snapshot_max_level(layers[i]->snap[0], w[0], w[1], w[2], w[3],
                                                cls_class_allows, cls_allows, &cp);
            if (lv > best)
                best = lv;
        }
    }
    for (size_t a = 0; areas && a < nareas; a++) {
        area_edges_free(&areas[a].e);
        free(areas[a].cand);
    }
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
