/*
 * This file implements the tests of geometry against an access area in a
 * grid's CRS (server_int.h, "Areas"): an area's edges indexed by horizontal
 * bands, winding numbers (non-zero rule, as the tile mask fills it), and
 * whether a feature's geometry meets a region (a box, within an area).  The
 * classification banner counts and the area passes of tiles draw only
 * features whose geometry meets their region.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

void lb_area_edges_free(lb_area_edges *ae)
{
    free(ae->e);
    free(ae->start);
    free(ae->idx);
}

static int band_of(const lb_area_edges *ae, double y)
{
    double b = (y - ae->y0) * ae->inv_h;
    return !(b > 0) ? 0 : b >= ae->nb ? ae->nb - 1 : (int)b;
}

/* The edges of a's rings as its mask draws them (points with a non-finite
 * coordinate skipped, every ring closed); false when out of memory. */
bool lb_area_edges_build(lb_area_edges *ae, const lb_srv_area *a)
{
    *ae = (lb_area_edges){0};
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
int lb_area_winding(const lb_area_edges *ae, double x, double y)
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
static bool seg_meets_edges(const lb_area_edges *ae, const double *a, const double *b)
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
bool lb_area_clip_seg(const double q[4], const double *a, const double *b, double *ca, double *cb)
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

static bool in_box(const double q[4], const double *p)
{
    return p[0] >= q[0] && p[0] <= q[2] && p[1] >= q[1] && p[1] <= q[3];
}

static bool point_in_region(const lb_area_region *cp, const double *p)
{
    return in_box(cp->q, p) && (!cp->area || lb_area_winding(cp->area, p[0], p[1]) != 0 ||
                                seg_meets_edges(cp->area, p, p));
}

/* Whether the closed segment a-b meets the region: its piece in the box has
 * an end inside the area or meets the area's boundary. */
static bool seg_in_region(const lb_area_region *cp, const double *a, const double *b)
{
    double ca[2], cb[2];
    if (!isfinite(a[0] + a[1] + b[0] + b[1]) || !lb_area_clip_seg(cp->q, a, b, ca, cb))
        return false;
    return !cp->area || lb_area_winding(cp->area, ca[0], ca[1]) != 0 ||
           lb_area_winding(cp->area, cb[0], cb[1]) != 0 || seg_meets_edges(cp->area, ca, cb);
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
bool lb_area_region_meets(const lb_area_region *cp, const lb_feature_geom *g, const double box[4])
{
    if (box[0] > cp->q[2] || box[2] < cp->q[0] || box[1] > cp->q[3] || box[3] < cp->q[1])
        return false; /* the region lies in its box */
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

/* Whether an edge of the area runs through the closed box b. */
static bool edges_cross_box(const lb_area_edges *ae, const double b[4])
{
    double y0 = fmax(b[1], ae->y0), y1 = fmin(b[3], ae->y1);
    for (int band = band_of(ae, y0), last = band_of(ae, y1); y0 <= y1 && band <= last; band++)
        for (uint32_t k = ae->start[band]; k < ae->start[band + 1]; k++) {
            const double *e = ae->e + 4 * (size_t)ae->idx[k];
            double ca[2], cb[2];
            if (lb_area_clip_seg(b, e, e + 2, ca, cb))
                return true;
        }
    return false;
}

/* Whether the closed box b lies wholly inside the area: no edge of it runs
 * through the box, and the box's centre is inside. */
bool lb_area_covers_box(const lb_area_edges *ae, const double b[4])
{
    if (ae->n == 0 || b[1] < ae->y0 || b[3] > ae->y1 || edges_cross_box(ae, b))
        return false;
    return lb_area_winding(ae, 0.5 * (b[0] + b[2]), 0.5 * (b[1] + b[3])) != 0;
}

bool lb_area_meets_box(const lb_srv_area *a, const double b[4])
{
    const lb_area_edges *ae = &a->edges;
    if (ae->n == 0 || b[0] > a->box[2] || b[2] < a->box[0] || b[1] > a->box[3] ||
        b[3] < a->box[1])
        return false;
    if (edges_cross_box(ae, b))
        return true; /* the boundary runs through the box */
    if (lb_area_winding(ae, 0.5 * (b[0] + b[2]), 0.5 * (b[1] + b[3])) != 0)
        return true; /* the box lies inside the area */
    for (size_t i = 0; i < a->nfirsts; i++)
        if (in_box(b, a->firsts + 2 * i))
            return true; /* a part of the area lies inside the box */
    return false;
}
