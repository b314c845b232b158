/*
 * This file implements the rasterizer's scan converter: the per-canvas
 * scratch, exact clipping of edges to the canvas, exact-area coverage
 * accumulation (signed area per cell plus the cover carried to the right, as
 * font rasterizers do), and the sweep that turns |accumulated winding|
 * clamped to 1 into coverage and composites it "over" the canvas once per
 * shape.  See raster_int.h for the overall scheme.
 *
 * The maths: with w(x, y) the winding number (+dir for every edge crossing
 * the horizontal through y to the left of x), a pixel's coverage is the
 * integral of w over the pixel.  An edge piece inside one row with height dh
 * (signed) and x-mid m inside cell c adds dh * (c + 1 - m) to cell c and dh to
 * every cell right of it; storing the second part as a delta in cell c + 1
 * makes a running sum along the row yield the integral.  Everything is done
 * in double precision, so a shape rendered into two neighbouring canvases
 * with an integer pixel offset gives the same bytes on both sides.
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "raster_int.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ------------------------------------------------------------------------ */
/* Scratch                                                                  */
/* ------------------------------------------------------------------------ */

void lb__work_free(lb__rwork *w)
{
    if (!w)
        return;
    free(w->seg);
    free(w->lpart);
    free(w->lfull);
    free(w->rowmask);
    free(w->acc);
    free(w->bits);
    free(w->pts);
    free(w->sub);
    free(w->first);
    free(w);
}

/* Scratch of freed canvases, kept for the next canvas of the same size: its
 * accumulation cells (a 512 px tile: 2 MiB of doubles) are all zero between
 * shapes, so a new canvas takes it as it is instead of allocating and
 * clearing (or faulting in) that much memory per tile.  At most WORK_POOL
 * entries and WORK_POOL_BYTES bytes of cells; never emptied (reachable). */
#define WORK_POOL 8
#define WORK_POOL_BYTES ((size_t)32 << 20)
static pthread_mutex_t work_lock = PTHREAD_MUTEX_INITIALIZER;
static lb__rwork *work_pool[WORK_POOL];
static int work_n;
static size_t work_bytes;

static size_t work_cells_bytes(const lb__rwork *w)
{
    return w->acc_rows * ((size_t)w->w + 2) * sizeof(double) + w->acc_rows * w->words * 8;
}

void lb__work_release(lb__rwork *w)
{
    if (!w)
        return;
    if (w->acc && !w->oom && w->nseg == 0) {
        size_t b = work_cells_bytes(w);
        pthread_mutex_lock(&work_lock);
        if (work_n < WORK_POOL && work_bytes + b <= WORK_POOL_BYTES) {
            work_pool[work_n++] = w;
            work_bytes += b;
            w = NULL;
        }
        pthread_mutex_unlock(&work_lock);
    }
    lb__work_free(w);
}

lb__rwork *lb__work_get(int width, int height)
{
    if (width < 1 || height < 1)
        return NULL;
    lb__rwork *w = NULL;
    pthread_mutex_lock(&work_lock);
    for (int i = work_n; i-- > 0;) {
        if (work_pool[i]->w == width && work_pool[i]->h == height) {
            w = work_pool[i];
            work_pool[i] = work_pool[--work_n];
            work_bytes -= work_cells_bytes(w);
            break;
        }
    }
    pthread_mutex_unlock(&work_lock);
    if (w) {
        /* painting since its last reset may have left bits (a canvas drawn
         * directly is never composited) */
        memset(w->rowmask, 0, (size_t)w->h * sizeof *w->rowmask);
        w->dirty0 = w->h;
        w->dirty1 = 0;
        return w;
    }
    w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->w = width;
    w->h = height;
    w->fw = width;
    w->fh = height;
    w->words = ((size_t)width + 2 + 63) / 64;
    w->band_rows = LB__BAND_CELLS / ((size_t)width + 2);
    if (w->band_rows < 1)
        w->band_rows = 1;
    if (w->band_rows > (size_t)height)
        w->band_rows = (size_t)height;
    w->lpart = calloc((size_t)height + 2, sizeof *w->lpart);
    w->lfull = calloc((size_t)height + 2, sizeof *w->lfull);
    w->rowmask = calloc((size_t)height, sizeof *w->rowmask);
    w->bshift = 0;
    while ((64 << w->bshift) < width)
        w->bshift++;
    if (!w->lpart || !w->lfull || !w->rowmask) {
        lb__work_free(w);
        return NULL;
    }
    w->dirty0 = w->h;
    w->dirty1 = 0;
    lb__shape_begin(w);
    return w;
}

lb__rwork *lb__work(lb_canvas *c)
{
    lb__rwork *w = c->work;
    if (w && w->w == c->width && w->h == c->height)
        return w;
    lb__work_release(w);
    c->work = NULL;
    if (!c->px)
        return NULL;
    c->work = lb__work_get(c->width, c->height);
    return c->work;
}

bool lb__grow(double **p, size_t *cap, size_t n)
{
    if (n <= *cap)
        return true;
    size_t nc = *cap ? *cap : 64;
    while (nc < n)
        nc *= 2;
    double *q = realloc(*p, nc * sizeof *q);
    if (!q)
        return false;
    *p = q;
    *cap = nc;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Building a shape: clipping                                               */
/* ------------------------------------------------------------------------ */

/* Make room for rows of accumulation cells (all zero). */
static bool ensure_acc(lb__rwork *w, size_t rows)
{
    if (w->acc_rows >= rows)
        return true;
    /* the old cells are all zero: nothing to keep */
    free(w->acc);
    free(w->bits);
    w->acc = calloc(rows * ((size_t)w->w + 2), sizeof *w->acc);
    w->bits = calloc(rows * w->words, sizeof *w->bits);
    if (!w->acc || !w->bits) {
        free(w->acc);
        free(w->bits);
        w->acc = NULL;
        w->bits = NULL;
        w->acc_rows = 0;
        return false;
    }
    w->acc_rows = rows;
    return true;
}

void lb__shape_begin(lb__rwork *w)
{
    w->nseg = 0;
    w->ymin = INFINITY;
    w->ymax = -INFINITY;
    w->cx0 = INT_MAX;
    w->cx1 = -1;
    w->lrow0 = INT_MAX;
    w->lrow1 = -1;
    w->oom = false;
    w->inside = false;
    w->direct = w->band_rows == (size_t)w->h && ensure_acc(w, (size_t)w->h);
}

/* mark cells c and c + 1 of a row as touched */
static inline void mark2(uint64_t *bits, int c)
{
    int k = c >> 6, o = c & 63;
    bits[k] |= (uint64_t)3 << o;
    if (o == 63)
        bits[k + 1] |= 1;
}

/* mark cells c0..c1 (inclusive) of a row as touched */
static inline void mark(uint64_t *bits, int c0, int c1)
{
    int w0 = c0 >> 6, w1 = c1 >> 6;
    uint64_t m0 = ~(uint64_t)0 << (c0 & 63), m1 = ~(uint64_t)0 >> (63 - (c1 & 63));
    if (w0 == w1) {
        bits[w0] |= m0 & m1;
    } else {
        bits[w0] |= m0;
        for (int k = w0 + 1; k < w1; k++)
            bits[k] = ~(uint64_t)0;
        bits[w1] |= m1;
    }
}

/* The part of span() for a piece over several cells c0 < c1 of a row:
 * x0 < x1, sd = dh / (x1 - x0).  The covers of consecutive cells are stored
 * as deltas so that the running sum restores them; the last cell takes the
 * remainder, so the piece adds exactly dh to the cells right of it. */
static void span_multi(double *a, uint64_t *bits, double x0, double x1, int c0, int c1, double dh,
                       double sd)
{
    mark(bits, c0, c1 + 1);
    double f0 = (c0 + 1) - x0;
    double prev = 0.5 * sd * f0 * f0;
    a[c0] += prev;
    double cum = sd * f0;
    for (int c = c0 + 1; c < c1; c++) {
        double cov = cum + 0.5 * sd;
        a[c] += cov - prev;
        prev = cov;
        cum += sd;
    }
    double f1 = x1 - c1;
    double cov = cum + sd * f1 * (1.0 - 0.5 * f1);
    a[c1] += cov - prev;
    a[c1 + 1] += dh - cov;
}

/* One edge piece inside a row: from xa to xb (any order), signed height dh
 * (a piece within one cell adds dh * (1 - m) there and dh * m to the next,
 * m = its mid x within the cell).  sd = dh / |xb - xa| when the caller knows
 * it (the same for every full row of a segment), else 0. */
static inline __attribute__((always_inline)) void span(double *a, uint64_t *bits, double xa,
                                                       double xb, double dh, double sd)
{
    double x0 = xa < xb ? xa : xb, x1 = xa < xb ? xb : xa;
    int c0 = (int)x0, c1 = (int)x1; /* x >= 0: truncation is floor */
    if (c0 == c1) {
        mark2(bits, c0);
        double m = (x0 + x1) * 0.5 - c0;
        a[c0] += dh * (1.0 - m);
        a[c0 + 1] += dh * m;
        return;
    }
    /* crossing a cell border: x1 - x0 > 0 is at least an ulp of 1, so the
     * quotient is finite */
    if (sd == 0)
        sd = dh / (x1 - x0);
    if (c1 == c0 + 1) { /* two cells: the common case, inline */
        int k = c0 >> 6, o = c0 & 63;
        bits[k] |= (uint64_t)7 << o;
        if (o > 61)
            bits[k + 1] |= (uint64_t)7 >> (64 - o);
        double f0 = c1 - x0, f1 = x1 - c1;
        double a0 = 0.5 * sd * f0 * f0;
        double cov = sd * f0 + sd * f1 * (1.0 - 0.5 * f1);
        a[c0] += a0;
        a[c1] += cov - a0;
        a[c1 + 1] += dh - cov;
        return;
    }
    span_multi(a, bits, x0, x1, c0, c1, dh, sd);
}

/* An edge piece inside a row that spans at most two cells (steep edges):
 * from xa to xb (any order), signed height dh, sd = dh / |xb - xa|. */
static inline __attribute__((always_inline)) void span2(double *a, uint64_t *bits, double xa,
                                                        double xb, double dh, double sd)
{
    double x0 = xa < xb ? xa : xb, x1 = xa < xb ? xb : xa;
    int c0 = (int)x0, c1 = (int)x1;
    if (c0 == c1) {
        mark2(bits, c0);
        double m = (x0 + x1) * 0.5 - c0;
        a[c0] += dh * (1.0 - m);
        a[c0 + 1] += dh * m;
        return;
    }
    if (c1 != c0 + 1) { /* rounding made a full step a hair longer than 1 */
        span_multi(a, bits, x0, x1, c0, c1, dh, sd);
        return;
    }
    /* the piece crosses x = c1 */
    int k = c0 >> 6, o = c0 & 63;
    bits[k] |= (uint64_t)7 << o;
    if (o > 61)
        bits[k + 1] |= (uint64_t)7 >> (64 - o);
    double f0 = c1 - x0, f1 = x1 - c1;
    double a0 = 0.5 * sd * f0 * f0;
    double cov = sd * f0 + sd * f1 * (1.0 - 0.5 * f1);
    a[c0] += a0;
    a[c1] += cov - a0;
    a[c1 + 1] += dh - cov;
}

/* Add an edge piece from (xa, ya) to (xb, yb), ya < yb, 0 <= x <= w, with
 * all its rows in the band whose first row is base; d is its direction. */
static void raster_core(const lb__rwork *w, int base, double xa, double ya, double xb, double yb,
                        double d)
{
    const size_t stride = (size_t)w->w + 2, words = w->words;
    const int j0 = (int)ya;
    double fj = (double)j0 + 1.0; /* the next row boundary, as a double */
    double *a = w->acc + (size_t)(j0 - base) * stride;
    uint64_t *bits = w->bits + (size_t)(j0 - base) * words;
    if (yb <= fj) { /* within one row */
        span(a, bits, xa, xb, d * (yb - ya), 0);
        return;
    }
    const double dxdy = (xb - xa) / (yb - ya);
    if (fabs(dxdy) < 1e-12) {
        /* vertical (or within 2e-8 px of it over the tallest canvas) */
        const double x = 0.5 * (xa + xb);
        const int c = (int)x;
        const double fr = x - c, dr = d * (1.0 - fr), df = d * fr;
        for (double yt = ya;; a += stride, bits += words) {
            double yn = fj < yb ? fj : yb, h = yn - yt;
            a[c] += h * dr;
            a[c + 1] += h * df;
            mark2(bits, c);
            if (yn >= yb)
                return;
            yt = yn;
            fj += 1.0;
        }
    }
    /* the first row; then x steps by dxdy per full row (rounding may put x a
     * hair outside [0, w], which truncation to cells tolerates: -1e-13 goes
     * to cell 0, and cells w and w + 1 exist); then the last row */
    double x = xa + (fj - ya) * dxdy;
    span(a, bits, xa, x, d * (fj - ya), 0);
    a += stride;
    bits += words;
    const double sd = d / fabs(dxdy);
    if (fabs(dxdy) <= 1.0) { /* steep: a full row spans at most two cells */
        for (; fj + 1.0 < yb; fj += 1.0, a += stride, bits += words) {
            double xn = x + dxdy;
            span2(a, bits, x, xn, d, sd);
            x = xn;
        }
    } else {
        for (; fj + 1.0 < yb; fj += 1.0, a += stride, bits += words) {
            double xn = x + dxdy;
            span(a, bits, x, xn, d, sd);
            x = xn;
        }
    }
    span(a, bits, x, xb, d * (yb - fj), 0);
}

/* Add a stored segment's rows within [by0, by1) to the band starting at by0. */
static void raster_seg(const lb__rwork *w, int by0, int by1, const lb__seg *g)
{
    if (g->yb <= by0 || g->ya >= by1)
        return;
    double xa = g->xa, ya = g->ya, xb = g->xb, yb = g->yb;
    if (ya < by0 || yb > by1) {
        /* interpolate from the segment's end points */
        const double dxdy = (g->xb - g->xa) / (g->yb - g->ya), fw = w->fw;
        if (ya < by0) {
            xa = g->xa + (by0 - g->ya) * dxdy;
            xa = xa < 0 ? 0 : xa > fw ? fw : xa;
            ya = by0;
        }
        if (yb > by1) {
            xb = g->xa + (by1 - g->ya) * dxdy;
            xb = xb < 0 ? 0 : xb > fw ? fw : xb;
            yb = by1;
        }
    }
    raster_core(w, by0, xa, ya, xb, yb, g->dir);
}

/* A vertical edge on (or left of) x = 0 from ya to yb: it adds dir * height
 * to every cell of the rows it spans, i.e. to the row's starting cover. */
static void left_add(lb__rwork *w, double ya, double yb, double dir)
{
    if (!(ya < yb))
        return;
    int ja = (int)ya, jb = (int)yb; /* 0 <= ya < yb <= h */
    if (ja == jb) {
        w->lpart[ja] += dir * (yb - ya);
    } else {
        w->lpart[ja] += dir * ((ja + 1) - ya);
        w->lfull[ja + 1] += dir;
        w->lfull[jb] -= dir;
        w->lpart[jb] += dir * (yb - jb); /* jb == h: harmless slot h */
    }
    if (ja < w->lrow0)
        w->lrow0 = ja;
    if (jb > w->lrow1)
        w->lrow1 = jb;
}

/* Extend the range of cells the sweep visits to edges with x in [x0, x1]:
 * their cells, the next one (the carried cover), and one more on each side
 * for x stepping a hair past its end points by rounding. */
static void widen_cells(lb__rwork *w, double x0, double x1)
{
    int c0 = (int)x0 - 1, c1 = (int)x1 + 2;
    if (c0 < w->cx0)
        w->cx0 = c0 < 0 ? 0 : c0;
    if (c1 > w->cx1)
        w->cx1 = c1 > w->w + 1 ? w->w + 1 : c1;
}

static bool grow_seg(lb__rwork *w)
{
    size_t nc = w->capseg ? 2 * w->capseg : 256;
    lb__seg *s = realloc(w->seg, nc * sizeof *s);
    if (!s) {
        w->oom = true;
        return false;
    }
    w->seg = s;
    w->capseg = nc;
    return true;
}

static void push_seg(lb__rwork *w, double xa, double ya, double xb, double yb, double dir)
{
    if (!(ya < yb))
        return;
    /* guard against rounding just outside the canvas */
    xa = xa < 0 ? 0 : xa > w->fw ? w->fw : xa;
    xb = xb < 0 ? 0 : xb > w->fw ? w->fw : xb;
    lb__seg g = {xa, ya, xb, yb, dir};
    if (ya < w->ymin)
        w->ymin = ya;
    if (yb > w->ymax)
        w->ymax = yb;
    widen_cells(w, xa < xb ? xa : xb, xa < xb ? xb : xa);
    if (w->direct) {
        raster_core(w, 0, xa, ya, xb, yb, dir);
        return;
    }
    if (w->nseg == w->capseg && !grow_seg(w))
        return;
    w->seg[w->nseg++] = g;
}

bool lb__shape_inside(lb__rwork *w, double x0, double y0, double x1, double y1)
{
    if (!(x0 >= 0 && y0 >= 0 && x1 <= w->fw && y1 <= w->fh))
        return false;
    w->inside = true;
    if (y0 < w->ymin)
        w->ymin = y0;
    if (y1 > w->ymax)
        w->ymax = y1;
    widen_cells(w, x0, x1);
    return true;
}

void lb__edge(lb__rwork *w, double x0, double y0, double x1, double y1)
{
    if (w->inside) {
        /* no clipping; the bounds are set */
        lb__seg g;
        if (y0 < y1)
            g = (lb__seg){x0, y0, x1, y1, 1};
        else if (y0 > y1)
            g = (lb__seg){x1, y1, x0, y0, -1};
        else
            return;
        if (w->direct) {
            raster_core(w, 0, g.xa, g.ya, g.xb, g.yb, g.dir);
            return;
        }
        if (w->nseg == w->capseg && !grow_seg(w))
            return;
        w->seg[w->nseg++] = g;
        return;
    }
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
        return; /* callers pass finite values; never let one through */
    double dir;
    if (y0 < y1) {
        dir = 1;
    } else if (y0 > y1) {
        double t = x0;
        x0 = x1;
        x1 = t;
        t = y0;
        y0 = y1;
        y1 = t;
        dir = -1;
    } else {
        return; /* horizontal (or NaN): no contribution */
    }
    const double fw = w->fw, fh = w->fh;
    if (y1 <= 0 || y0 >= fh)
        return;
    if (y0 < 0 || y1 > fh) {
        /* interpolate from the original end points; t in [0, 1] keeps the
         * products bounded for any finite input */
        double dx = x1 - x0, dy = y1 - y0, nx0 = x0, nx1 = x1;
        if (y0 < 0)
            nx0 = x0 + dx * ((0 - y0) / dy);
        if (y1 > fh)
            nx1 = x0 + dx * ((fh - y0) / dy);
        x0 = nx0;
        x1 = nx1;
        if (y0 < 0)
            y0 = 0;
        if (y1 > fh)
            y1 = fh;
    }
    double lo = x0 < x1 ? x0 : x1, hi = x0 < x1 ? x1 : x0;
    if (lo >= fw)
        return; /* right of the canvas: changes no pixel */
    if (hi <= 0) {
        left_add(w, y0, y1, dir);
        return;
    }
    if (lo >= 0 && hi <= fw) {
        push_seg(w, x0, y0, x1, y1, dir);
        return;
    }
    /* crosses x = 0 and/or x = w (so x0 != x1) */
    double dx = x1 - x0, dy = y1 - y0;
    double yz = 0, yw = 0;
    if ((x0 < 0) != (x1 < 0)) {
        yz = y0 + dy * ((0 - x0) / dx);
        yz = yz < y0 ? y0 : yz > y1 ? y1 : yz;
    }
    if ((x0 > fw) != (x1 > fw)) {
        yw = y0 + dy * ((fw - x0) / dx);
        yw = yw < y0 ? y0 : yw > y1 ? y1 : yw;
    }
    if (x0 < x1) { /* left part, middle, right part */
        double xs = x0, ys = y0;
        if (x0 < 0) {
            left_add(w, y0, yz, dir);
            xs = 0;
            ys = yz;
        }
        if (x1 > fw)
            push_seg(w, xs, ys, fw, yw, dir);
        else
            push_seg(w, xs, ys, x1, y1, dir);
    } else { /* right part, middle, left part */
        double xs = x0, ys = y0;
        if (x0 > fw) {
            xs = fw;
            ys = yw;
        }
        if (x1 < 0) {
            push_seg(w, xs, ys, 0, yz, dir);
            left_add(w, yz, y1, dir);
        } else {
            push_seg(w, xs, ys, x1, y1, dir);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Sweep and composite                                                      */
/* ------------------------------------------------------------------------ */

/* |s| clamped to 1, as 0..255.  Without branches: the per-cell loop of the
 * sweep takes this for every touched cell, and edge coverage is too
 * irregular for the branch predictor (minsd is exactly v < 1 ? v : 1). */
static inline unsigned cov_alpha(double s)
{
    double v = fabs(s);
#if defined(__SSE2__)
    v = _mm_cvtsd_f64(_mm_min_sd(_mm_set_sd(v), _mm_set_sd(1.0)));
#else
    v = v < 1.0 ? v : 1.0;
#endif
    return (unsigned)(int)(v * 255.0 + 0.5);
}

typedef struct paint {
    uint32_t col; /* premultiplied colour, memory byte order */
    bool opaque;
    const lb__pal *pal;
} paint;

static const lb__pal *palette(lb__rwork *w, uint32_t col, unsigned ca)
{
    for (int i = 0; i < LB__NPAL; i++)
        if (w->pal[i].used && w->pal[i].key == col)
            return &w->pal[i];
    lb__pal *p = &w->pal[w->pal_next];
    w->pal_next = (w->pal_next + 1) % LB__NPAL;
    p->key = col;
    p->used = true;
    uint32_t lo = col & 0x00ff00ffu, hi = (col >> 8) & 0x00ff00ffu;
    for (unsigned al = 0; al < 256; al++) {
        p->lo[al] = lb__mul2(lo, al);
        p->hi[al] = lb__mul2(hi, al);
        p->inv[al] = 255u - lb__div255(ca * al);
    }
    return p;
}

/* one pixel at coverage al (1..255; an opaque colour at 255 has inv 0) */
static inline void blend(uint8_t *p, const paint *pt, unsigned al)
{
    lb__over_inv(p, pt->pal->lo[al], pt->pal->hi[al], pt->pal->inv[al]);
}

/* pixels [x0, x1) of a row at coverage al (1..255) */
static void cover_run(uint8_t *row, int x0, int x1, unsigned al, const paint *pt)
{
    uint8_t *p = row + 4 * (size_t)x0, *e = row + 4 * (size_t)x1;
    if (al == 255 && pt->opaque) {
        uint64_t two = (uint64_t)pt->col * 0x0000000100000001ull;
        for (; e - p >= 16; p += 16) {
            memcpy(p, &two, 8);
            memcpy(p + 8, &two, 8);
        }
        for (; p < e; p += 4)
            memcpy(p, &pt->col, 4);
        return;
    }
    uint32_t lo = pt->pal->lo[al], hi = pt->pal->hi[al], inv = pt->pal->inv[al];
    if (e - p >= 16) {
        /* four pixels at a time: d * inv / 255 + src */
        uint32_t src = lo | (hi << 8);
        lb__v16u8 s16, vi;
        for (int i = 0; i < 4; i++)
            memcpy((uint8_t *)&s16 + 4 * i, &src, 4);
        for (int i = 0; i < 16; i++)
            vi[i] = (uint8_t)inv;
        for (; e - p >= 16; p += 16) {
            lb__v16u8 d;
            memcpy(&d, p, 16);
            lb__v16u8 r = lb__over16(d, vi, s16);
            memcpy(p, &r, 16);
        }
    }
    for (; p < e; p += 4)
        lb__over_inv(p, lo, hi, inv);
}

/* Where a row's pixels go: all to prow, or (mixed) those of the blocks of
 * 2^bs pixels in om to l and the others to d (w->route_px). */
typedef struct row_target {
    uint8_t *prow, *l, *d;
    uint64_t om;
    int bs;
    bool mixed;
} row_target;

static inline uint8_t *target_px(const row_target *t, int x)
{
    if (!t->mixed)
        return t->prow + 4 * (size_t)x;
    return ((t->om >> (x >> t->bs)) & 1u ? t->l : t->d) + 4 * (size_t)x;
}

/* cover_run for pixels [x0, x1) of a row, to their targets */
static void route_run(const row_target *t, int x0, int x1, unsigned al, const paint *pt)
{
    if (!t->mixed) {
        cover_run(t->prow, x0, x1, al, pt);
        return;
    }
    while (x0 < x1) {
        int b = x0 >> t->bs;
        uint64_t in = t->om >> b & 1u;
        int e = (b + 1) << t->bs;
        while (e < x1 && (t->om >> (e >> t->bs) & 1u) == in)
            e += 1 << t->bs;
        if (e > x1)
            e = x1;
        cover_run(in ? t->l : t->d, x0, e, al, pt);
        x0 = e;
    }
}

/* route_run for the pixels of [x0, x1) outside the blocks of cm (a row of
 * w->clip: block k is [k * bw, (k + 1) * bw); xs = log2(bw) or -1, as for
 * lb__block_of: the division was 2 % of the 1M list's sweep) */
static void clip_run(const row_target *t, int x0, int x1, unsigned al, const paint *pt,
                     uint32_t cm, int bw, int xs)
{
    if (!cm) {
        route_run(t, x0, x1, al, pt);
        return;
    }
    while (x0 < x1) {
        int k = lb__block_of(x0, bw, xs), end = (k + 1) * bw < x1 ? (k + 1) * bw : x1;
        if (!(cm >> k & 1u))
            route_run(t, x0, end, al, pt);
        x0 = end;
    }
}

/* the blocks of 2^bs pixels that pixels [x0, x1) touch (x0 < x1 <= 64 << bs) */
static inline uint64_t block_mask(int bs, int x0, int x1)
{
    int k0 = x0 >> bs, k1 = (x1 - 1) >> bs;
    uint64_t hi = k1 >= 63 ? ~(uint64_t)0 : (((uint64_t)1 << (k1 + 1)) - 1);
    return hi & (~(uint64_t)0 << k0);
}

/* Composite rows [by0, by1) of the band whose first row is base (pt NULL:
 * only clear the cells) and leave its cells and bits zero. */
static void sweep(lb_canvas *c, lb__rwork *w, int base, int by0, int by1, double *run,
                  const paint *pt)
{
    const int W = w->w, bs = w->bshift;
    const size_t stride = (size_t)W + 2, words = w->words;
    const int k0 = w->cx0 >> 6, k1 = w->cx1 >> 6;
    const paint *all_pt = pt;
    const int nblocks = (W + (1 << bs) - 1) >> bs;
    const uint64_t allblocks = nblocks >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << nblocks) - 1);
    for (int j = by0; j < by1; j++) {
        *run += w->lfull[j];
        w->lfull[j] = 0;
        double s = *run + w->lpart[j];
        w->lpart[j] = 0;
        /* the blocks of this row to leave alone: all of them, some, none */
        uint32_t cm = w->clip && all_pt ? w->clip->row[lb__block_of(j, w->clip_bh, w->clip_ys)] : 0;
        pt = cm == (uint32_t)w->clip_all && cm ? NULL : all_pt;
        row_target tg = {.prow = c->px + (size_t)j * (size_t)W * 4, .bs = bs};
        if (w->route_px) {
            uint64_t om = w->route_occ[j] & allblocks;
            if (om == 0) {
                tg.prow = w->route_px + (size_t)j * (size_t)W * 4;
            } else if (om != allblocks) {
                tg.mixed = true;
                tg.l = tg.prow;
                tg.d = w->route_px + (size_t)j * (size_t)W * 4;
                tg.om = om;
            }
        }
        double *a = w->acc + (size_t)(j - base) * stride;
        uint64_t *bits = w->bits + (size_t)(j - base) * words;
        int x = 0; /* pixels before x are done */
        uint64_t painted = 0; /* blocks of this row painted into */
        for (int k = k0; k <= k1; k++) {
            uint64_t m = bits[k];
            if (!m)
                continue;
            bits[k] = 0;
            if (!pt) {
                for (; m; m &= m - 1)
                    a[(k << 6) + __builtin_ctzll(m)] = 0;
                continue;
            }
            while (m) {
                /* a run of touched cells [cx, ce) */
                int len, b = lb__next_run(&m, &len);
                int cx = (k << 6) + b, ce = cx + len;
                if (cx >= W) { /* the columns past the right border */
                    for (; cx < ce; cx++)
                        a[cx] = 0;
                    continue;
                }
                if (cx > x) {
                    unsigned al = cov_alpha(s);
                    if (al) {
                        clip_run(&tg, x, cx, al, pt, cm, w->clip_bw, w->clip_xs);
                        painted |= block_mask(bs, x, cx);
                    }
                }
                int cv = ce < W ? ce : W;
                painted |= block_mask(bs, cx, cv);
                for (; cx < cv; cx++) {
                    s += a[cx];
                    a[cx] = 0;
                    if (cm && (cm >> lb__block_of(cx, w->clip_bw, w->clip_xs) & 1u))
                        continue;
                    /* no test for al == 0 or 255: the palette makes 0 a
                     * no-op and 255 of an opaque colour a plain store, and a
                     * branch here is mispredicted at every edge */
                    blend(target_px(&tg, cx), pt, cov_alpha(s));
                }
                for (; cx < ce; cx++)
                    a[cx] = 0;
                x = cv;
            }
        }
        if (pt && x < W) {
            unsigned al = cov_alpha(s);
            if (al) {
                clip_run(&tg, x, W, al, pt, cm, w->clip_bw, w->clip_xs);
                painted |= block_mask(bs, x, W);
            }
        }
        w->rowmask[j] |= painted;
    }
}

static void clear_left(lb__rwork *w)
{
    if (w->lrow0 <= w->lrow1) {
        int hi = w->lrow1 + 1 <= w->h + 1 ? w->lrow1 + 1 : w->h + 1;
        for (int j = w->lrow0; j <= hi; j++) {
            w->lpart[j] = 0;
            w->lfull[j] = 0;
        }
    }
}

/* The rows [*r0, *r1] the collected shape covers (none: *r0 > *r1). */
static void shape_rows(const lb__rwork *w, int *r0, int *r1)
{
    *r0 = INT_MAX;
    *r1 = -1;
    if (w->cx1 >= 0) {
        *r0 = (int)w->ymin;
        *r1 = (int)ceil(w->ymax) - 1;
    }
    if (w->lrow0 <= w->lrow1) {
        if (w->lrow0 < *r0)
            *r0 = w->lrow0;
        int l1 = w->lrow1 < w->h - 1 ? w->lrow1 : w->h - 1;
        if (l1 > *r1)
            *r1 = l1;
    }
}

void lb__shape_end(lb_canvas *c, lb__rwork *w, lb_rgba color)
{
    c->zeroed = false;
    int r0, r1;
    shape_rows(w, &r0, &r1);
    /* sanitize: premultiplied channels cannot exceed alpha */
    if (color.r > color.a)
        color.r = color.a;
    if (color.g > color.a)
        color.g = color.a;
    if (color.b > color.a)
        color.b = color.a;
    bool draw = !w->oom && color.a > 0;
    paint pt;
    if (draw) {
        memcpy(&pt.col, &color, 4);
        pt.opaque = color.a == 255;
        pt.pal = palette(w, pt.col, color.a);
    }
    if (draw && r0 <= r1) {
        if (r0 < w->dirty0)
            w->dirty0 = r0;
        if (r1 + 1 > w->dirty1)
            w->dirty1 = r1 + 1;
    }
    double run = 0;
    if (w->direct) {
        /* already accumulated: sweep (or just clear) the rows */
        if (r0 <= r1)
            sweep(c, w, 0, r0, r1 + 1, &run, draw ? &pt : NULL);
        goto done;
    }
    if (!draw || r0 > r1)
        goto done;
    const int band = (int)w->band_rows;
    size_t need = (size_t)(r1 - r0 + 1) < w->band_rows ? (size_t)(r1 - r0 + 1) : w->band_rows;
    if (!ensure_acc(w, need))
        goto done;
    for (int by0 = r0; by0 <= r1; by0 += band) {
        int by1 = by0 + band < r1 + 1 ? by0 + band : r1 + 1;
        for (size_t i = 0; i < w->nseg; i++)
            raster_seg(w, by0, by1, &w->seg[i]);
        sweep(c, w, by0, by0, by1, &run, &pt);
    }
done:
    clear_left(w);
    lb__shape_begin(w);
}

/* Rows [by0, by1) of the band whose first row is base into the mask: the
 * exact coverage of every pixel (the running sum the sweep composites),
 * compared with full instead of rounded to 8 bits; leaves the cells and
 * bits zero. */
static void sweep_mask(lb__rwork *w, int base, int by0, int by1, double *run, uint8_t *mask,
                       double full)
{
    const int W = w->w;
    const size_t stride = (size_t)W + 2, words = w->words;
    for (int j = by0; j < by1; j++) {
        *run += w->lfull[j];
        w->lfull[j] = 0;
        double s = *run + w->lpart[j];
        w->lpart[j] = 0;
        double *a = w->acc + (size_t)(j - base) * stride;
        uint8_t *m = mask + (size_t)j * (size_t)W;
        for (int x = 0; x < W; x++) {
            s += a[x];
            a[x] = 0;
            m[x] = fabs(s) >= full ? 255 : 0;
        }
        a[W] = a[W + 1] = 0;
        memset(w->bits + (size_t)(j - base) * words, 0, words * sizeof *w->bits);
    }
}

bool lb__shape_end_mask(lb__rwork *w, uint8_t *mask, double full)
{
    int r0, r1;
    shape_rows(w, &r0, &r1);
    bool ok = !w->oom;
    double run = 0;
    if (w->direct) {
        /* already accumulated (nothing was stored, so nothing was lost) */
        if (r0 <= r1)
            sweep_mask(w, 0, r0, r1 + 1, &run, mask, full);
        goto done;
    }
    if (!ok || r0 > r1)
        goto done;
    const int band = (int)w->band_rows;
    size_t need = (size_t)(r1 - r0 + 1) < w->band_rows ? (size_t)(r1 - r0 + 1) : w->band_rows;
    if (!ensure_acc(w, need)) {
        ok = false;
        goto done;
    }
    for (int by0 = r0; by0 <= r1; by0 += band) {
        int by1 = by0 + band < r1 + 1 ? by0 + band : r1 + 1;
        for (size_t i = 0; i < w->nseg; i++)
            raster_seg(w, by0, by1, &w->seg[i]);
        sweep_mask(w, by0, by0, by1, &run, mask, full);
    }
done:
    clear_left(w);
    lb__shape_begin(w);
    return ok;
}
