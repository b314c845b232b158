/*
 * This file implements the public rasterizer API of lagebild/raster.h on top
 * of the scan converter (raster_scan.c) and the stroker (raster_stroke.c):
 * colours, canvases, canvas compositing and masking, polygon fill, and point
 * markers.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "raster_int.h"

/* ------------------------------------------------------------------------ */
/* Colours                                                                  */
/* ------------------------------------------------------------------------ */

static double clamp01(double v)
{
    return v > 0 ? (v < 1 ? v : 1) : 0; /* NaN -> 0 */
}

lb_rgba lb_rgba_from(double r, double g, double b, double a)
{
    a = clamp01(a);
    double a255 = a * 255.0;
    /* c * a * 255 <= a * 255, and rounding is monotonic: channels <= alpha */
    return (lb_rgba){(uint8_t)(clamp01(r) * a255 + 0.5), (uint8_t)(clamp01(g) * a255 + 0.5),
                     (uint8_t)(clamp01(b) * a255 + 0.5), (uint8_t)(a255 + 0.5)};
}

lb_rgba lb_rgba_scale(lb_rgba c, double f)
{
    if (!(f > 0))
        return (lb_rgba){0, 0, 0, 0};
    unsigned m = c.a;
    if (c.r > m)
        m = c.r;
    if (c.g > m)
        m = c.g;
    if (c.b > m)
        m = c.b;
    if (m == 0)
        return c;
    if (f * m > 255.0)
        f = 255.0 / m;
    return (lb_rgba){(uint8_t)(c.r * f + 0.5), (uint8_t)(c.g * f + 0.5), (uint8_t)(c.b * f + 0.5),
                     (uint8_t)(c.a * f + 0.5)};
}

/* ------------------------------------------------------------------------ */
/* Canvases                                                                 */
/* ------------------------------------------------------------------------ */

lb_status lb_canvas_init(lb_canvas *c, int width, int height)
{
    if (!c)
        return LB_EINVAL;
    *c = (lb_canvas){0};
    if (width < 1 || height < 1 || width > 16384 || height > 16384)
        return LB_EINVAL;
    c->px = calloc((size_t)width * (size_t)height, 4);
    if (!c->px)
        return LB_ENOMEM;
    c->width = width;
    c->height = height;
    c->zeroed = true;
    return LB_OK;
}

lb_status lb_canvas_init_view(lb_canvas *c, int width, int height, uint8_t *px)
{
    if (!c)
        return LB_EINVAL;
    *c = (lb_canvas){0};
    if (!px || width < 1 || height < 1 || width > 16384 || height > 16384)
        return LB_EINVAL;
    c->px = px;
    c->width = width;
    c->height = height;
    c->borrowed = true;
    return LB_OK;
}

void lb_canvas_free(lb_canvas *c)
{
    if (!c)
        return;
    if (!c->borrowed)
        free(c->px);
    lb__work_release(c->work);
    *c = (lb_canvas){0};
}

void lb_canvas_clear(lb_canvas *c)
{
    if (c && c->px) {
        memset(c->px, 0, (size_t)c->width * (size_t)c->height * 4);
        c->zeroed = true;
    }
}

bool lb_canvas_is_empty(const lb_canvas *c)
{
    if (!c || !c->px)
        return true;
    /* the alpha bytes of two pixels, in memory order */
    static const uint8_t mb[8] = {0, 0, 0, 0xff, 0, 0, 0, 0xff};
    uint64_t mask;
    memcpy(&mask, mb, 8);
    size_t n = (size_t)c->width * (size_t)c->height * 4, i = 0;
    const uint8_t *p = c->px;
    /* 4 words per step, one test per step */
    for (; i + 32 <= n; i += 32) {
        uint64_t a, b, d, e;
        memcpy(&a, p + i, 8);
        memcpy(&b, p + i + 8, 8);
        memcpy(&d, p + i + 16, 8);
        memcpy(&e, p + i + 24, 8);
        if ((a | b | d | e) & mask)
            return false;
    }
    for (; i < n; i += 4)
        if (p[i + 3])
            return false;
    return true;
}

/* Four pixels at once: d = s + d * (255 - alpha(s)) / 255 per channel,
 * bit-identical to lb__over_inv. */
static inline void over4(uint8_t *dp, lb__v16u8 s)
{
    lb__v16u8 d, a = __builtin_shufflevector(s, s, 3, 3, 3, 3, 7, 7, 7, 7, 11, 11, 11, 11, 15,
                                              15, 15, 15);
    memcpy(&d, dp, 16);
    lb__v16u8 r = lb__over16(d, 255 - a, s);
    memcpy(dp, &r, 16);
}

/* src over dst for pixels [i, n); with clear, src's pixels become zero. */
static void over_span(uint8_t *d, uint8_t *s, size_t i, size_t n, bool clear)
{
    /* the alpha bytes of two pixels, in memory order */
    static const uint8_t mb[8] = {0, 0, 0, 0xff, 0, 0, 0, 0xff};
    uint64_t amask;
    memcpy(&amask, mb, 8);
    for (; i + 4 <= n; i += 4) {
        uint64_t a, b;
        memcpy(&a, s + 4 * i, 8);
        memcpy(&b, s + 4 * i + 8, 8);
        if ((a | b) == 0)
            continue; /* four transparent pixels */
        if ((a & b & amask) == amask) {
            memcpy(d + 4 * i, s + 4 * i, 16); /* four opaque pixels replace */
            if (clear)
                memset(s + 4 * i, 0, 16);
            continue;
        }
        lb__v16u8 v;
        memcpy(&v, s + 4 * i, 16);
        over4(d + 4 * i, v);
        if (clear)
            memset(s + 4 * i, 0, 16);
    }
    for (; i < n; i++) {
        uint32_t sp;
        memcpy(&sp, s + 4 * i, 4);
        if (sp == 0)
            continue;
        unsigned sa = s[4 * i + 3];
        if (sa == 255)
            memcpy(d + 4 * i, &sp, 4);
        else
            lb__over_inv(d + 4 * i, sp & 0x00ff00ffu, (sp >> 8) & 0x00ff00ffu, 255u - sa);
        if (clear)
            memset(s + 4 * i, 0, 4);
    }
}

void lb__canvas_over_rows(lb_canvas *dst, lb_canvas *src, int y0, int y1, bool clear)
{
    if (!dst || !src || !dst->px || !src->px || dst->width != src->width ||
        dst->height != src->height)
        return;
    dst->zeroed = false;
    if (y0 < 0)
        y0 = 0;
    if (y1 > dst->height)
        y1 = dst->height;
    if (y0 >= y1)
        return;
    over_span(dst->px, src->px, (size_t)y0 * (size_t)dst->width,
              (size_t)y1 * (size_t)dst->width, clear);
}

void lb__canvas_over_painted(lb_canvas *dst, lb_canvas *src, uint64_t *occ)
{
    lb__rwork *w = src ? src->work : NULL;
    if (!w || !dst || !dst->px || !src->px || dst->width != src->width ||
        dst->height != src->height)
        return;
    dst->zeroed = false;
    const size_t W = (size_t)src->width;
    const int bs = w->bshift;
    for (int j = w->dirty0; j < w->dirty1 && j < src->height; j++) {
        uint64_t m = w->rowmask[j];
        w->rowmask[j] = 0;
        if (occ) {
            uint64_t painted = m;
            m &= occ[j];
            occ[j] |= painted;
        }
        while (m) {
            /* a run of painted blocks [b, b + len) */
            int len, b = lb__next_run(&m, &len);
            size_t x0 = (size_t)b << bs, x1 = (size_t)(b + len) << bs;
            if (x1 > W)
                x1 = W;
            over_span(dst->px, src->px, (size_t)j * W + x0, (size_t)j * W + x1, true);
        }
    }
    w->dirty0 = w->h;
    w->dirty1 = 0;
}

void lb_canvas_over(lb_canvas *dst, const lb_canvas *src)
{
    /* src is only written with clear */
    if (dst)
        lb__canvas_over_rows(dst, (lb_canvas *)src, 0, dst->height, false);
}

void lb_canvas_mask(lb_canvas *c, const uint8_t *mask)
{
    if (!c || !c->px || !mask)
        return;
    size_t n = (size_t)c->width * (size_t)c->height;
    uint8_t *p = c->px;
    for (size_t i = 0; i < n; i++) {
        unsigned m = mask[i];
        if (m == 255)
            continue;
        uint32_t v;
        memcpy(&v, p + 4 * i, 4);
        v = m ? lb__scale_px(v, m) : 0;
        memcpy(p + 4 * i, &v, 4);
    }
}

/* ------------------------------------------------------------------------ */
/* Fill                                                                     */
/* ------------------------------------------------------------------------ */

/* The edges of a closed ring as a fill draws them: points with a NaN or
 * infinite coordinate are skipped (the ring goes on to the next usable
 * point), coordinates clamped; edge(ud, x0, y0, x1, y1) for each. */
static inline __attribute__((always_inline)) void
ring_edges(const double *xy, size_t n, void (*edge)(void *, double, double, double, double),
           void *ud)
{
    double fx = 0, fy = 0, px = 0, py = 0;
    bool have = false;
    for (size_t i = 0; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        if (!isfinite(x) || !isfinite(y))
            continue;
        x = lb__clampc(x);
        y = lb__clampc(y);
        if (have) {
            edge(ud, px, py, x, y);
        } else {
            fx = x;
            fy = y;
            have = true;
        }
        px = x;
        py = y;
    }
    if (have)
        edge(ud, px, py, fx, fy);
}

static void work_edge(void *w, double x0, double y0, double x1, double y1)
{
    lb__edge(w, x0, y0, x1, y1);
}

static void add_ring(lb__rwork *w, const double *xy, size_t n)
{
    ring_edges(xy, n, work_edge, w);
}

/* Begin a shape of the rings on c's scratch w and add their edges; false
 * when they cannot change any pixel (nothing added). */
static bool fill_shape(const lb_canvas *c, lb__rwork *w, const lb_ring *rings, size_t nrings)
{
    lb__shape_begin(w);
    /* the bounding box first: a shape inside the canvas needs no clipping,
     * one outside it needs nothing at all */
    double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    for (size_t r = 0; r < nrings; r++) {
        if (!rings[r].xy || rings[r].n < 2)
            continue;
        const double *p = rings[r].xy;
        for (size_t i = 0; i < rings[r].n; i++) {
            double x = p[2 * i], y = p[2 * i + 1];
            if (!isfinite(x) || !isfinite(y))
                continue;
            x0 = x < x0 ? x : x0;
            x1 = x > x1 ? x : x1;
            y0 = y < y0 ? y : y0;
            y1 = y > y1 ? y : y1;
        }
    }
    if (!(x0 <= x1) || y1 <= 0 || y0 >= c->height || x0 >= c->width)
        return false; /* empty, or above, below or right of the canvas */
    if (x1 <= 0)
        return false; /* left of it: the rings' covers cancel in every row */
    lb__shape_inside(w, x0, y0, x1, y1);
    for (size_t r = 0; r < nrings; r++)
        if (rings[r].xy && rings[r].n >= 2)
            add_ring(w, rings[r].xy, rings[r].n);
    return true;
}

void lb_raster_fill(lb_canvas *c, const lb_ring *rings, size_t nrings, lb_rgba color)
{
    if (!c || !c->px || !rings || nrings == 0 || color.a == 0)
        return;
    lb__rwork *w = lb__work(c);
    if (w && fill_shape(c, w, rings, nrings))
        lb__shape_end(c, w, color);
}

/* A pixel whose exact coverage is at least this lies entirely inside: 1 up
 * to the rounding of the accumulated areas (about 1e-13 of a pixel), far
 * below any part of a pixel that could show anything. */
#define MASK_FULL (1.0 - 1e-9)

bool lb_raster_fill_mask(int width, int height, const lb_ring *rings, size_t nrings,
                         uint8_t *mask)
{
    if (!mask || width < 1 || height < 1)
        return false;
    memset(mask, 0, (size_t)width * (size_t)height);
    lb__rwork *w = lb__work_get(width, height);
    if (!w)
        return false;
    /* fill_shape reads only the grid's size */
    const lb_canvas grid = {.width = width, .height = height};
    bool ok = !rings || nrings == 0 || !fill_shape(&grid, w, rings, nrings) ||
              lb__shape_end_mask(w, mask, MASK_FULL);
    lb__work_release(w);
    return ok;
}

/* Whether the segment (x0,y0)-(x1,y1) meets the box [bx0,bx1] x [by0,by1]:
 * the box's and the segment's extents overlap and the box's corners are not
 * all strictly on one side of the segment's line. */
static bool seg_meets_box(double x0, double y0, double x1, double y1, double bx0, double by0,
                          double bx1, double by1)
{
    if ((x0 < bx0 && x1 < bx0) || (x0 > bx1 && x1 > bx1) || (y0 < by0 && y1 < by0) ||
        (y0 > by1 && y1 > by1))
        return false;
    double dx = x1 - x0, dy = y1 - y0;
    double c[4] = {dx * (by0 - y0) - dy * (bx0 - x0), dx * (by0 - y0) - dy * (bx1 - x0),
                   dx * (by1 - y0) - dy * (bx0 - x0), dx * (by1 - y0) - dy * (bx1 - x0)};
    bool pos = false, neg = false;
    for (int i = 0; i < 4; i++) {
        pos |= !(c[i] < 0);
        neg |= !(c[i] > 0);
    }
    return pos && neg;
}

/* Block rows' crossings (lb_raster_fill_blocks): more than this many edges
 * crossing one block row's centre line and that row is left out. */
#define LB_BLOCK_XMAX 64

typedef struct block_scan {
    double bw, bh, W, H;
    int nbx, nby; /* blocks that lie on the canvas */
    uint16_t touched[LB_BLOCKS];
    int nx[LB_BLOCKS];
    double x[LB_BLOCKS][LB_BLOCK_XMAX];
    signed char dir[LB_BLOCKS][LB_BLOCK_XMAX];
} block_scan;

static inline double block_x0(const block_scan *b, int bx) { return bx * b->bw; }
static inline double block_x1(const block_scan *b, int bx) { return fmin(b->W, (bx + 1) * b->bw); }
static inline double block_y0(const block_scan *b, int by) { return by * b->bh; }
static inline double block_y1(const block_scan *b, int by) { return fmin(b->H, (by + 1) * b->bh); }

/* one edge of a ring, as add_ring draws it: the blocks it comes within a
 * pixel of, and its crossings of the blocks' centre lines */
static void block_edge(void *ud, double x0, double y0, double x1, double y1)
{
    block_scan *b = ud;
    /* the edge's box 2 px wider: it meets every block whose box (a pixel
     * wider) the edge meets */
    double ex0 = fmin(x0, x1) - 2, ex1 = fmax(x0, x1) + 2;
    double ey0 = fmin(y0, y1) - 2, ey1 = fmax(y0, y1) + 2;
    if (ex1 >= 0 && ey1 >= 0 && ex0 <= b->W && ey0 <= b->H) {
        int bx0 = (int)fmax(0.0, floor(ex0 / b->bw)), bx1 = (int)fmin(b->nbx - 1.0, floor(ex1 / b->bw));
        int by0 = (int)fmax(0.0, floor(ey0 / b->bh)), by1 = (int)fmin(b->nby - 1.0, floor(ey1 / b->bh));
        for (int by = by0; by <= by1; by++)
            for (int bx = bx0; bx <= bx1; bx++)
                if (!(b->touched[by] >> bx & 1u) &&
                    seg_meets_box(x0, y0, x1, y1, block_x0(b, bx) - 1, block_y0(b, by) - 1,
                                  block_x1(b, bx) + 1, block_y1(b, by) + 1))
                    b->touched[by] |= (uint16_t)(1u << bx);
    }
    if (y0 == y1)
        return;
    /* the centre lines it crosses (half-open, as for a winding number) */
    double lo = fmin(y0, y1), hi = fmax(y0, y1);
    int r0 = (int)fmax(0.0, floor(lo / b->bh) - 1), r1 = (int)fmin(b->nby - 1.0, floor(hi / b->bh) + 1);
    for (int by = r0; by <= r1; by++) {
        double yc = 0.5 * (block_y0(b, by) + block_y1(b, by));
        if ((y0 <= yc) == (y1 <= yc))
            continue;
        if (b->nx[by] == LB_BLOCK_XMAX) {
            b->touched[by] = 0xffffu; /* too many: none of this row */
            continue;
        }
        double t = (yc - y0) / (y1 - y0);
        b->x[by][b->nx[by]] = x0 + t * (x1 - x0);
        b->dir[by][b->nx[by]++] = (signed char)(y1 > y0 ? 1 : -1);
    }
}

bool lb_raster_fill_blocks(const lb_canvas *c, const lb_ring *rings, size_t nrings,
                           lb_blocks *full)
{
    memset(full, 0, sizeof *full);
    if (!c || c->width <= 0 || c->height <= 0 || !rings)
        return false;
    block_scan *b = malloc(sizeof *b);
    if (!b)
        return false;
    b->bw = lb_block_size(c->width);
    b->bh = lb_block_size(c->height);
    b->W = c->width;
    b->H = c->height;
    b->nbx = lb_block_count(c->width);
    b->nby = lb_block_count(c->height);
    memset(b->touched, 0, sizeof b->touched);
    memset(b->nx, 0, sizeof b->nx);
    for (size_t r = 0; r < nrings; r++)
        if (rings[r].xy && rings[r].n >= 2)
            ring_edges(rings[r].xy, rings[r].n, block_edge, b);
    /* a block no edge comes near has one winding number all over (so every
     * pixel of it full coverage, when that is not zero): at its centre */
    bool any = false;
    for (int by = 0; by < b->nby; by++) {
        if (b->touched[by] == 0xffffu)
            continue;
        for (int bx = 0; bx < b->nbx; bx++) {
            if (b->touched[by] >> bx & 1u)
                continue;
            double xc = 0.5 * (block_x0(b, bx) + block_x1(b, bx));
            int wind = 0;
            for (int k = 0; k < b->nx[by]; k++)
                if (b->x[by][k] < xc)
                    wind += b->dir[by][k];
            if (wind != 0) {
                full->row[by] |= (uint16_t)(1u << bx);
                any = true;
            }
        }
    }
    free(b);
    return any;
}

void lb_canvas_set_clip(lb_canvas *c, const lb_blocks *keep_out)
{
    lb__rwork *w = keep_out ? lb__work(c) : c->work;
    if (!w)
        return;
    w->clip = keep_out;
    if (keep_out) {
        w->clip_bw = (int)lb_block_size(c->width);
        w->clip_bh = (int)lb_block_size(c->height);
        w->clip_all = (int)((1u << lb_block_count(c->width)) - 1);
        /* the sweep finds a pixel's block for every cell it blends: a shift,
         * not a division, for the power-of-two blocks of 256 and 512 px tiles */
        w->clip_xs = lb__log2_exact(w->clip_bw);
        w->clip_ys = lb__log2_exact(w->clip_bh);
    }
}

/* ------------------------------------------------------------------------ */
/* Circles                                                                  */
/* ------------------------------------------------------------------------ */

int lb__circle_steps(double r)
{
    /* sagitta r (1 - cos(d / 2)) <= tol; with the area-preserving radius
     * (lb__circle_rfac) the vertices lie 2/3 tol outside the circle and the
     * edges' midpoints 1/3 tol inside: the edge is within 0.047 px */
    const double tol = 0.07;
    if (!(r > tol))
        return 8;
    /* acos(1 - e) >= sqrt(2 e): a step of 2 sqrt(2 tol / r) is never too long */
    double n = ceil(M_PI / sqrt(2.0 * tol / r));
    if (n < 8)
        n = 8;
    if (n > 4096)
        n = 4096;
    return (int)n;
}

double lb__circle_rfac(int n)
{
    double d = 2.0 * M_PI / n;
    return sqrt(d / sin(d));
}

/* A full circle as a closed chain of edges; ccw > 0 / < 0 picks the orientation. */
static void circle_edges(lb__rwork *w, double cx, double cy, double r, int ccw)
{
    struct lb__circ *cc = NULL;
    for (int i = 0; i < 4; i++)
        if (w->circ[i].n && w->circ[i].r == r)
            cc = &w->circ[i];
    if (!cc) {
        cc = &w->circ[w->circ_next];
        w->circ_next = (w->circ_next + 1) & 3;
        cc->r = r;
        cc->n = lb__circle_steps(r);
        cc->R = r * lb__circle_rfac(cc->n);
        cc->cs = cos(2.0 * M_PI / cc->n);
        cc->sn = sin(2.0 * M_PI / cc->n);
    }
    int n = cc->n;
    double R = cc->R, cs = cc->cs, sn = ccw > 0 ? cc->sn : -cc->sn;
    double vx = R, vy = 0;
    double px = cx + vx, py = cy;
    double fx = px, fy = py;
    for (int i = 1; i < n; i++) {
        double nx = vx * cs - vy * sn, ny = vx * sn + vy * cs;
        vx = nx;
        vy = ny;
        double qx = cx + vx, qy = cy + vy;
        lb__edge(w, px, py, qx, qy);
        px = qx;
        py = qy;
    }
    lb__edge(w, px, py, fx, fy);
}

/* ------------------------------------------------------------------------ */
/* Markers                                                                  */
/* ------------------------------------------------------------------------ */

/* The closed outline of a non-circle marker (unit radius), n points. */
static size_t marker_shape(lb_marker shape, double r, double *xy)
{
    switch (shape) {
    case LB_MARKER_SQUARE: {
        const double p[] = {-r, -r, r, -r, r, r, -r, r};
        memcpy(xy, p, sizeof p);
        return 4;
    }
    case LB_MARKER_TRIANGLE: {
        /* equilateral, inscribed in the circle of radius r, apex up */
        double hx = r * 0.86602540378443864676, hy = 0.5 * r;
        const double p[] = {0, -r, hx, hy, -hx, hy};
        memcpy(xy, p, sizeof p);
        return 3;
    }
    case LB_MARKER_CROSS: {
        double a = r / 5.0; /* bar thickness 2a = r / 2.5 */
        const double p[] = {a,  -r, a,  -a, r,  -a, r,  a,  a,  a,  a,  r,
                            -a, r,  -a, a,  -r, a,  -r, -a, -a, -a, -a, -r};
        memcpy(xy, p, sizeof p);
        return 12;
    }
    case LB_MARKER_CIRCLE:
        break;
    }
    return 0;
}

void lb_raster_marker(lb_canvas *c, lb_marker shape, double x, double y, double radius,
                      lb_rgba fill, double stroke_width, lb_rgba stroke)
{
    if (!c || !c->px || !isfinite(x) || !isfinite(y) || !(radius > 0) || !isfinite(radius))
        return;
    if (!(stroke_width > 0) || !isfinite(stroke_width))
        stroke_width = 0;
    double hw = 0.5 * stroke_width;
    /* everything lies within radius + hw (miters of the triangle: 2 hw;
     * circle polygons: up to 5 % beyond the radius) */
    double ext = 1.05 * (radius + 2.0 * hw) + 1.0;
    if (x + ext <= 0 || y + ext <= 0 || x - ext >= c->width || y - ext >= c->height)
        return;
    lb__rwork *w = lb__work(c);
    if (!w)
        return;
    bool do_fill = fill.a > 0, do_stroke = stroke_width > 0 && stroke.a > 0;
    if (shape == LB_MARKER_CIRCLE) {
        if (do_fill) {
            lb__shape_begin(w);
            lb__shape_inside(w, x - ext, y - ext, x + ext, y + ext);
            circle_edges(w, x, y, radius, 1);
            lb__shape_end(c, w, fill);
        }
        if (do_stroke) {
            lb__shape_begin(w);
            lb__shape_inside(w, x - ext, y - ext, x + ext, y + ext);
            circle_edges(w, x, y, radius + hw, 1);
            if (radius > hw)
                circle_edges(w, x, y, radius - hw, -1);
            lb__shape_end(c, w, stroke);
        }
        return;
    }
    double xy[24];
    size_t n = marker_shape(shape, radius, xy);
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        xy[2 * i] += x;
        xy[2 * i + 1] += y;
    }
    if (do_fill) {
        lb__shape_begin(w);
        lb__shape_inside(w, x - ext, y - ext, x + ext, y + ext);
        add_ring(w, xy, n);
        lb__shape_end(c, w, fill);
    }
    if (do_stroke) {
        lb_stroke st = {.width = stroke_width, .join = LB_JOIN_MITER, .cap = LB_CAP_BUTT,
                        .miter_limit = 4};
        lb__shape_begin(w); /* lb__stroke_emit checks the box itself */
        lb__stroke_emit(w, xy, n, true, &st);
        lb__shape_end(c, w, stroke);
    }
}
