/*
 * This file implements generalised release on one canonical grid
 * (generalise.h; docs/decisions.md, "Generalised release on one grid of true
 * metres").
 *
 * An owner may release a source to some groups only generalised: points go
 * to the centre of their cell, lines and polygons become the cells their
 * extent touches.  The cells are squares of cell_m metres in ETRS89-LAEA
 * Europe (EPSG:3035, the equal-area grid of European statistics), counted
 * from that CRS's origin.  Every tile grid draws these same cells, projected,
 * so the tiles of two grids cannot be intersected into a finer cell, and a
 * cell is cell_m metres on the ground (LAEA's scale error stays below 0.1 %
 * within 500 km of its centre at 52 N 10 E, which covers Germany).
 *
 * Everything here goes lon/lat -> EPSG:3035 -> cell -> lon/lat; the callers
 * then project the lon/lat result into their tile grid like any geometry.
 */
#include "lagebild/generalise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lb_gen {
    lb_transform *fwd; /* EPSG:4326 -> EPSG:3035 */
    lb_transform *inv; /* EPSG:3035 -> EPSG:4326 */
    double *x, *y;     /* scratch for n points */
    size_t cap;
};

lb_status lb_gen_new(lb_gen **out, lb_error *err)
{
    *out = NULL;
    lb_gen *g = calloc(1, sizeof *g);
    if (!g)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    lb_status rc = lb_transform_new("EPSG:4326", LB_GEN_CRS, &g->fwd, err);
    if (rc == LB_OK)
        rc = lb_transform_new(LB_GEN_CRS, "EPSG:4326", &g->inv, err);
    if (rc != LB_OK) {
        lb_gen_free(g);
        return rc;
    }
    *out = g;
    return LB_OK;
}

void lb_gen_free(lb_gen *g)
{
    if (!g)
        return;
    lb_transform_free(g->fwd);
    lb_transform_free(g->inv);
    free(g->x);
    free(g->y);
    free(g);
}

static bool room(lb_gen *g, size_t n)
{
    if (n <= g->cap)
        return true;
    size_t nc = n < 64 ? 64 : n;
    double *x = realloc(g->x, nc * sizeof *x);
    if (x)
        g->x = x;
    double *y = realloc(g->y, nc * sizeof *y);
    if (y)
        g->y = y;
    if (!x || !y)
        return false;
    g->cap = nc;
    return true;
}

/* The n interleaved points xy through t into g->x, g->y. */
static lb_status project(lb_gen *g, lb_transform *t, const double *xy, size_t n, lb_error *err)
{
    if (!room(g, n))
        return lb_fail(err, LB_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        g->x[i] = xy[2 * i];
        g->y[i] = xy[2 * i + 1];
    }
    return lb_transform_points(t, n, g->x, g->y, err);
}

static bool cell_ok(double cell_m) { return cell_m > 0 && isfinite(cell_m); }

lb_status lb_gen_cells(lb_gen *g, const double *xy, size_t n, double cell_m, double *ij,
                       double *centre, lb_error *err)
{
    if (!cell_ok(cell_m))
        return lb_fail(err, LB_EINVAL, "cell size must be greater than 0");
    lb_status rc = project(g, g->fwd, xy, n, err);
    if (rc != LB_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        double ci = floor(g->x[i] / cell_m), cj = floor(g->y[i] / cell_m);
        if (ij) {
            ij[2 * i] = ci;
            ij[2 * i + 1] = cj;
        }
        g->x[i] = (ci + 0.5) * cell_m;
        g->y[i] = (cj + 0.5) * cell_m;
    }
    if (!centre)
        return LB_OK;
    rc = lb_transform_points(g->inv, n, g->x, g->y, err);
    if (rc != LB_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        centre[2 * i] = g->x[i];
        centre[2 * i + 1] = g->y[i];
    }
    return LB_OK;
}

lb_status lb_gen_points(lb_gen *g, double *xy, size_t n, double cell_m, lb_error *err)
{
    return lb_gen_cells(g, xy, n, cell_m, NULL, xy, err);
}

lb_status lb_gen_block(lb_gen *g, const double *xy, size_t n, double cell_m, double blk[4],
                       lb_error *err)
{
    if (!cell_ok(cell_m))
        return lb_fail(err, LB_EINVAL, "cell size must be greater than 0");
    if (n == 0)
        return lb_fail(err, LB_EINVAL, "no vertices");
    lb_status rc = project(g, g->fwd, xy, n, err);
    if (rc != LB_OK)
        return rc;
    double mnx = INFINITY, mny = INFINITY, mxx = -INFINITY, mxy = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        mnx = fmin(mnx, g->x[i]);
        mxx = fmax(mxx, g->x[i]);
        mny = fmin(mny, g->y[i]);
        mxy = fmax(mxy, g->y[i]);
    }
    blk[0] = floor(mnx / cell_m);
    blk[1] = floor(mny / cell_m);
    blk[2] = floor(mxx / cell_m);
    blk[3] = floor(mxy / cell_m);
    return LB_OK;
}

lb_status lb_gen_corners(lb_gen *g, const double blk[4], double cell_m, double *out,
                         lb_error *err)
{
    double nx = blk[2] - blk[0] + 2, ny = blk[3] - blk[1] + 2;
    if (!(nx >= 2 && ny >= 2) || (nx - 1) * (ny - 1) > LB_GEN_MAX_CELLS)
        return lb_fail(err, LB_EINVAL, "cell block too large");
    size_t w = (size_t)nx, h = (size_t)ny, n = w * h;
    if (!room(g, n))
        return lb_fail(err, LB_ENOMEM, "out of memory");
    for (size_t j = 0; j < h; j++)
        for (size_t i = 0; i < w; i++) {
            g->x[j * w + i] = (blk[0] + (double)i) * cell_m;
            g->y[j * w + i] = (blk[1] + (double)j) * cell_m;
        }
    lb_status rc = lb_transform_points(g->inv, n, g->x, g->y, err);
    if (rc != LB_OK)
        return rc;
    for (size_t k = 0; k < n; k++) {
        out[2 * k] = g->x[k];
        out[2 * k + 1] = g->y[k];
    }
    return LB_OK;
}

lb_status lb_gen_rect(lb_gen *g, const double m[4], double ring[8], lb_error *err)
{
    if (!room(g, 4))
        return lb_fail(err, LB_ENOMEM, "out of memory");
    const double cx[4] = {m[0], m[2], m[2], m[0]}, cy[4] = {m[1], m[1], m[3], m[3]};
    memcpy(g->x, cx, sizeof cx);
    memcpy(g->y, cy, sizeof cy);
    lb_status rc = lb_transform_points(g->inv, 4, g->x, g->y, err);
    for (int k = 0; rc == LB_OK && k < 4; k++) {
        ring[2 * k] = g->x[k];
        ring[2 * k + 1] = g->y[k];
    }
    return rc;
}

/* Grow box by the lon/lat outline of EPSG:3035 rectangle [x0,x1] x [y0,y1]
 * (metres), each side in 16 steps: its sides are curves in lon/lat, and the
 * extreme latitude of one can lie between its corners. */
static lb_status outline_box(lb_gen *g, double x0, double y0, double x1, double y1, double box[4],
                             lb_error *err)
{
    enum { STEPS = 16, N = 4 * STEPS };
    if (!room(g, N))
        return lb_fail(err, LB_ENOMEM, "out of memory");
    for (int i = 0; i < STEPS; i++) {
        double f = (double)i / STEPS;
        g->x[i] = x0 + f * (x1 - x0), g->y[i] = y0;
        g->x[STEPS + i] = x1, g->y[STEPS + i] = y0 + f * (y1 - y0);
        g->x[2 * STEPS + i] = x1 - f * (x1 - x0), g->y[2 * STEPS + i] = y1;
        g->x[3 * STEPS + i] = x0, g->y[3 * STEPS + i] = y1 - f * (y1 - y0);
    }
    lb_status rc = lb_transform_points(g->inv, N, g->x, g->y, err);
    if (rc != LB_OK)
        return rc;
    for (int i = 0; i < N; i++) {
        box[0] = fmin(box[0], g->x[i]);
        box[1] = fmin(box[1], g->y[i]);
        box[2] = fmax(box[2], g->x[i]);
        box[3] = fmax(box[3], g->y[i]);
    }
    return LB_OK;
}

lb_status lb_gen_box(lb_gen *g, const double *xy, size_t n, bool points, double cell_m,
                     double out[4], lb_error *err)
{
    double box[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
    if (!points) {
        double blk[4];
        lb_status rc = lb_gen_block(g, xy, n, cell_m, blk, err);
        if (rc == LB_OK)
            rc = outline_box(g, blk[0] * cell_m, blk[1] * cell_m, (blk[2] + 1) * cell_m,
                             (blk[3] + 1) * cell_m, box, err);
        if (rc != LB_OK)
            return rc;
    } else {
        double *ij = malloc((n ? n : 1) * 2 * sizeof *ij);
        if (!ij)
            return lb_fail(err, LB_ENOMEM, "out of memory");
        lb_status rc = lb_gen_cells(g, xy, n, cell_m, ij, NULL, err);
        for (size_t i = 0; rc == LB_OK && i < n; i++) {
            double cx = ij[2 * i], cy = ij[2 * i + 1];
            rc = outline_box(g, cx * cell_m, cy * cell_m, (cx + 1) * cell_m, (cy + 1) * cell_m,
                             box, err);
        }
        free(ij);
        if (rc != LB_OK)
            return rc;
    }
    if (!(box[0] <= box[2] && box[1] <= box[3]))
        return lb_fail(err, LB_EINVAL, "no vertices");
    memcpy(out, box, sizeof box);
    return LB_OK;
}
