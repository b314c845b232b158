/*
 * This file declares the rasterizer's private pieces shared by tiler/raster*.c:
 * the per-canvas scratch (lb__rwork), the shape builder that clips edges and
 * collects them (raster_scan.c), and the stroker entry point
 * (raster_stroke.c).  Not part of the public API.
 *
 * How a shape is drawn:
 *   lb__shape_begin(w);
 *   lb__edge(w, x0, y0, x1, y1);   ... once per directed polygon edge
 *   lb__shape_end(c, w, color);    -> accumulate, sweep, composite once
 *
 * lb__edge clips each edge to the canvas at once: parts above, below or to the
 * right of the canvas are dropped (they cannot change any pixel), parts to the
 * left are reduced to their vertical extent (a "left cover" per row, added in
 * O(1) via a difference array), and the rest is a cell segment with
 * 0 <= x <= width, 0 <= y <= height.  A cell segment is converted row by row
 * into exact signed areas per cell (plus the cover carried to the cells on
 * its right), and the touched cells are marked in a bitmap.  When the whole
 * canvas fits in one band of at most LB__BAND_CELLS cells (every canvas up to
 * 2048 x 2048) this happens at once; larger canvases store the segments and
 * lb__shape_end converts them band by band.  The sweep visits only the
 * touched cells of each row (the coverage between them is constant and is
 * composited as a run) and composites |winding integral| clamped to 1.
 */
#ifndef LB_RASTER_INT_H
#define LB_RASTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lagebild/raster.h"

/* Coordinates are clamped to +-LB__COORD_MAX before any arithmetic so that
 * differences and products cannot overflow (1e15 px is far beyond any map). */
#define LB__COORD_MAX 1e15

/* Accumulation cells per band (doubles): 32 MiB, so that every canvas up to
 * 2048 x 2048 (a metatile of 8 x 8 tiles) is one band. */
#define LB__BAND_CELLS ((size_t)(2048 + 2) * 2048)

/* A clipped edge: ya < yb, 0 <= x <= width, 0 <= y <= height; dir is +1 for
 * an edge that ran downwards (increasing y), -1 for one that ran upwards. */
typedef struct lb__seg {
    double xa, ya, xb, yb, dir;
} lb__seg;

/* A colour at every coverage 0..255, as lanes and alpha complement: the
 * scan converter keeps a few of these so that compositing a pixel is one
 * table look-up and one multiply per lane pair. */
#define LB__NPAL 4
typedef struct lb__pal {
    uint32_t key; /* the colour, memory byte order */
    bool used;
    uint32_t lo[256], hi[256], inv[256];
} lb__pal;

typedef struct lb__rwork {
    int w, h;
    double fw, fh;

    /* the shape being built */
    bool direct;           /* one band covers the canvas: accumulate at once */
    lb__seg *seg;          /* otherwise the clipped segments, per band later */
    size_t nseg, capseg;
    double ymin, ymax;     /* y range of the cell segments */
    int cx0, cx1;          /* range of touched cells (all rows) */
    double *lpart, *lfull; /* left cover: partial rows, difference array (h + 2 each) */
    int lrow0, lrow1;      /* rows with left-cover entries (lrow1 may be h) */
    bool oom;              /* an allocation failed: the shape is dropped */
    int dirty0, dirty1;    /* rows [dirty0, dirty1) composited into since lb__dirty_reset */
    /* per row, the blocks of 2^bshift pixels painted into since
     * lb__dirty_reset (bit k: pixels [k << bshift, (k + 1) << bshift)); at
     * most 64 blocks span the width */
    uint64_t *rowmask;
    int bshift;
    bool inside;           /* the caller vouched: all edges lie in the canvas */
    /* routing (lb_render_area): the pixels of a row's painted-block grid
     * (bshift) whose bit in route_occ[row] is clear go to route_px (a canvas
     * of the same size that is transparent there) instead of this one;
     * route_px NULL: all to this canvas */
    uint8_t *route_px;
    const uint64_t *route_occ;
    /* blocks the sweep leaves alone (lb_canvas_set_clip; NULL: none) */
    const lb_blocks *clip;
    int clip_bw, clip_bh, clip_all; /* block size; clip_all: the row mask of all blocks */
    int clip_xs, clip_ys; /* log2 of clip_bw, clip_bh when a power of two, else -1 */

    /* the accumulation band: rows x (w + 2) cells, all zero between shapes */
    double *acc;
    size_t acc_rows, band_rows;
    uint64_t *bits; /* touched cells, one bit each, words per row */
    size_t words;   /* (w + 2 + 63) / 64 */

    lb__pal pal[LB__NPAL];
    int pal_next;

    /* circle polygons of recently used radii (markers repeat them) */
    struct lb__circ {
        double r, R, cs, sn; /* radius, vertex radius, cos/sin of the step */
        int n;
    } circ[4];
    int circ_next;

    /* stroker scratch: cleaned path, current dash, first dash of a closed path */
    double *pts, *sub, *first;
    size_t cap_pts, cap_sub, cap_first;
} lb__rwork;

/* The canvas's scratch, created or resized on demand; NULL when out of memory. */
lb__rwork *lb__work(lb_canvas *c);
/* Scratch for a width x height pixel grid, from the pool or new; NULL when
 * out of memory.  Give it back with lb__work_release. */
lb__rwork *lb__work_get(int width, int height);
void lb__work_free(lb__rwork *w);
/* Give a canvas's scratch back: kept for reuse (all zero between shapes) or freed. */
void lb__work_release(lb__rwork *w);

/* The rows any shape was composited into since the scratch was made or
 * lb__dirty_reset was called ([*y0, *y1), empty when *y0 >= *y1); every
 * pixel outside them is as it was.  A canvas without scratch: no rows. */
static inline void lb__dirty_rows(const lb_canvas *c, int *y0, int *y1)
{
    const lb__rwork *w = c->work;
    *y0 = w ? w->dirty0 : 0;
    *y1 = w ? w->dirty1 : 0;
}
static inline void lb__dirty_reset(lb_canvas *c)
{
    lb__rwork *w = c->work;
    if (w) {
        if (w->dirty0 < w->dirty1)
            memset(w->rowmask + w->dirty0, 0, (size_t)(w->dirty1 - w->dirty0) * sizeof *w->rowmask);
        w->dirty0 = w->h;
        w->dirty1 = 0;
    }
}

/* dst = src over dst for the pixels the rasterizer painted into src since
 * lb__dirty_reset (its dirty rows and their painted blocks), which are left
 * transparent again.  Only for a canvas that nothing but the rasterizer has
 * written to since then.  occ (NULL: all blocks): per row of dst, its blocks
 * that may hold anything; only those are composited (src was routed to dst
 * elsewhere: route_px), and every block painted joins them. */
void lb__canvas_over_painted(lb_canvas *dst, lb_canvas *src, uint64_t *occ);

/* dst = src over dst in rows [y0, y1) only (lb_canvas_over for a part);
 * with clear, those rows of src are left transparent. */
void lb__canvas_over_rows(lb_canvas *dst, lb_canvas *src, int y0, int y1, bool clear);

/* Grow a double array to hold at least n values (keeps contents). */
bool lb__grow(double **p, size_t *cap, size_t n);

void lb__shape_begin(lb__rwork *w);
/* Add a directed edge (any finite coordinates, already clamped). */
void lb__edge(lb__rwork *w, double x0, double y0, double x1, double y1);
/* Declare that every edge until lb__shape_end lies within the box, and test
 * whether the box lies within the canvas (then clipping is skipped). */
bool lb__shape_inside(lb__rwork *w, double x0, double y0, double x1, double y1);
/* Rasterize the collected edges, composite with color (premultiplied) and reset. */
void lb__shape_end(lb_canvas *c, lb__rwork *w, lb_rgba color);
/* Rasterize the collected edges into mask instead (w x h bytes, all 0 on
 * entry): 255 where |winding integral| >= full, then reset; false when out
 * of memory (mask then still all 0). */
bool lb__shape_end_mask(lb__rwork *w, uint8_t *mask, double full);

/* ---- premultiplied 8-bit arithmetic on packed pixels --------------------
 * A pixel is loaded into a uint32_t with memcpy, so the byte order in memory
 * (R, G, B, A) is kept whatever the host's endianness; the helpers work on
 * the two 16-bit lanes (bytes 0 and 2, bytes 1 and 3) independently and never
 * need to know which lane holds alpha. */

/* round(x / 255) for 0 <= x <= 255 * 255 */
static inline unsigned lb__div255(unsigned x)
{
    x += 128;
    return (x + (x >> 8)) >> 8;
}

/* lanes 0x00aa00bb times m (0..255), each divided by 255 with rounding */
static inline uint32_t lb__mul2(uint32_t v, uint32_t m)
{
    uint32_t t = v * m + 0x00800080u;
    return ((t + ((t >> 8) & 0x00ff00ffu)) >> 8) & 0x00ff00ffu;
}

/* every channel of p times m / 255 */
static inline uint32_t lb__scale_px(uint32_t p, uint32_t m)
{
    return lb__mul2(p & 0x00ff00ffu, m) | (lb__mul2((p >> 8) & 0x00ff00ffu, m) << 8);
}

/* The pixel at p becomes src over it, src given as its two lanes (lo: bytes
 * 0 and 2, hi: bytes 1 and 3) and inv = 255 - its alpha.  With premultiplied
 * data no lane exceeds 255; invalid data (a channel above alpha) wraps within
 * its channel instead of spilling into the next. */
static inline void lb__over_inv(uint8_t *p, uint32_t slo, uint32_t shi, unsigned inv)
{
    uint32_t d;
    memcpy(&d, p, 4);
    uint32_t lo = slo + lb__mul2(d & 0x00ff00ffu, inv);
    uint32_t hi = shi + lb__mul2((d >> 8) & 0x00ff00ffu, inv);
    d = (lo & 0x00ff00ffu) | ((hi & 0x00ff00ffu) << 8);
    memcpy(p, &d, 4);
}

typedef uint8_t lb__v16u8 __attribute__((vector_size(16)));
typedef uint16_t lb__v8u16 __attribute__((vector_size(16)));

/* Sixteen byte lanes at once: d * inv / 255 + s per lane, with
 * lb__over_inv's rounding (and its wrap within a lane for invalid data), so
 * four pixels come out bit-identical to the one-pixel code. */
static inline lb__v16u8 lb__over16(lb__v16u8 d, lb__v16u8 inv, lb__v16u8 s)
{
    lb__v8u16 dl = __builtin_convertvector(__builtin_shufflevector(d, d, 0, 1, 2, 3, 4, 5, 6, 7),
                                           lb__v8u16);
    lb__v8u16 dh = __builtin_convertvector(
        __builtin_shufflevector(d, d, 8, 9, 10, 11, 12, 13, 14, 15), lb__v8u16);
    lb__v8u16 il = __builtin_convertvector(
        __builtin_shufflevector(inv, inv, 0, 1, 2, 3, 4, 5, 6, 7), lb__v8u16);
    lb__v8u16 ih = __builtin_convertvector(
        __builtin_shufflevector(inv, inv, 8, 9, 10, 11, 12, 13, 14, 15), lb__v8u16);
    dl = dl * il + 128;
    dh = dh * ih + 128;
    dl = (dl + (dl >> 8)) >> 8;
    dh = (dh + (dh >> 8)) >> 8;
    lb__v16u8 r = __builtin_convertvector(
        __builtin_shufflevector(dl, dh, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        lb__v16u8);
    return r + s;
}

/* log2(v) when v (> 0) is a power of two, else -1. */
static inline int lb__log2_exact(int v)
{
    return v > 0 && (v & (v - 1)) == 0 ? __builtin_ctz((unsigned)v) : -1;
}

/* The block of pixel coordinate p for blocks of size bs (shift: log2 of it,
 * or -1). */
static inline int lb__block_of(int p, int bs, int shift)
{
    return shift >= 0 ? p >> shift : p / bs;
}

/* The lowest run of set bits of *m (nonzero): returns its first bit and
 * sets *len to its length; the run is cleared from *m. */
static inline int lb__next_run(uint64_t *m, int *len)
{
    int b = __builtin_ctzll(*m);
    uint64_t rest = ~(*m >> b);
    int n = rest ? __builtin_ctzll(rest) : 64 - b;
    *m = b + n >= 64 ? 0 : *m & (~(uint64_t)0 << (b + n));
    *len = n;
    return b;
}

/* Clamp a coordinate to +-LB__COORD_MAX (callers have rejected NaN). */
static inline double lb__clampc(double v)
{
    return v < -LB__COORD_MAX ? -LB__COORD_MAX : v > LB__COORD_MAX ? LB__COORD_MAX : v;
}

/* Number of segments for a full circle of radius r so that the polygon
 * (see lb__circle_rfac) deviates from the circle by less than 0.05 px. */
int lb__circle_steps(double r);
/* Radius factor for the interior vertices of an n-gon approximating a circle
 * so that the polygon has the circle's area: sqrt(d / sin d), d = 2 pi / n. */
double lb__circle_rfac(int n);

/* Emit the outline of a stroked path into the current shape (all pieces with
 * the same orientation; fill with the non-zero rule).  Returns the factor for
 * the colour's alpha: 1, or less for a dash pattern finer than half a pixel,
 * which is drawn solid with its average coverage. */
double lb__stroke_emit(lb__rwork *w, const double *xy, size_t n, bool closed, const lb_stroke *st);

#endif
