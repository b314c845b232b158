/*
 * lagebild — the rasterizer: anti-aliased polygons, stroked lines and point
 * markers onto a premultiplied RGBA canvas.
 *
 * Coordinates are in pixels, x to the right, y down, (0,0) the top-left
 * corner of the top-left pixel; pixel (i,j) covers [i,i+1) x [j,j+1).
 * Geometry may extend far outside the canvas: everything is clipped exactly,
 * so a shape crossing a tile border continues seamlessly in the neighbour
 * tile when both are rendered with the same pixel offset.  Coverage is
 * computed exactly per pixel (signed-area accumulation), fill rule non-zero.
 *
 * Input hygiene: points with a NaN or infinite coordinate are skipped;
 * coordinates are clamped to +-1e15 before any arithmetic.  No function
 * fails: out of memory for scratch space, a shape is silently not drawn.
 * Nothing allocates per call once a canvas's scratch has grown to its needs.
 * A canvas (with its scratch) may be used by one thread at a time; distinct
 * canvases are independent.
 */
#ifndef LAGEBILD_RASTER_H
#define LAGEBILD_RASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lagebild/status.h"

/* A premultiplied 8-bit colour (r, g, b <= a; larger channels are clamped
 * to a when drawing). */
typedef struct lb_rgba {
    uint8_t r, g, b, a;
} lb_rgba;

/* Premultiply a straight-alpha colour given as 0..1 components (clamped). */
lb_rgba lb_rgba_from(double r, double g, double b, double a);
/* The same colour with its alpha (and premultiplied channels) scaled by f. */
lb_rgba lb_rgba_scale(lb_rgba c, double f);

typedef struct lb_canvas {
    int width, height;
    uint8_t *px;   /* width*height*4 bytes, RGBA premultiplied, rows top to bottom */
    void *work;    /* private scratch (coverage accumulation), owned by the canvas:
                      NULL or made by the rasterizer; never copy an lb_canvas */
    bool borrowed; /* px belongs to the caller (lb_canvas_init_view) */
    /* every pixel is known to be transparent: set by lb_canvas_init and
     * lb_canvas_clear, dropped by every call that draws into the canvas (so
     * the renderer need not scan a fresh canvas to find it empty); code that
     * writes px itself must set it to false */
    bool zeroed;
} lb_canvas;

/* Allocate a transparent canvas (1 <= w,h <= 16384): LB_OK, LB_EINVAL for a
 * bad size, LB_ENOMEM.  On failure *c is zeroed (lb_canvas_free is harmless). */
lb_status lb_canvas_init(lb_canvas *c, int width, int height);
/*
 * A canvas that draws into caller-owned pixels (width*height*4 bytes, e.g. a
 * band of rows of a larger image); lb_canvas_free then frees only the
 * canvas's scratch, never px.
 */
lb_status lb_canvas_init_view(lb_canvas *c, int width, int height, uint8_t *px);
void lb_canvas_free(lb_canvas *c);
void lb_canvas_clear(lb_canvas *c);
/* true when every pixel is fully transparent (alpha 0) */
bool lb_canvas_is_empty(const lb_canvas *c);
/* dst = src over dst (both premultiplied, same size) */
void lb_canvas_over(lb_canvas *dst, const lb_canvas *src);
/* Multiply every pixel by mask[i]/255 (mask has width*height bytes). */
void lb_canvas_mask(lb_canvas *c, const uint8_t *mask);

/* A closed ring or an open path: n points as interleaved x,y pixel coordinates. */
typedef struct lb_ring {
    const double *xy;
    size_t n;
} lb_ring;

/*
 * Fill the union of rings (a polygon with holes, or several polygons) with
 * colour using the non-zero rule, anti-aliased, composited "over".  Rings
 * need not be closed explicitly; rings with fewer than 2 points are ignored.
 * Holes need the opposite orientation of their outer ring; rings of the same
 * orientation that overlap are simply filled (and not darker).
 */
void lb_raster_fill(lb_canvas *c, const lb_ring *rings, size_t nrings, lb_rgba color);

/*
 * The hard mask of the rings as lb_raster_fill would fill them (non-zero
 * rule) on a canvas of width x height pixels: mask[y * width + x] = 255
 * where the pixel lies entirely inside, that is where its exact coverage is
 * 1 up to rounding (at least 1 - 1e-9), else 0.  Not the filled alpha
 * rounded to 8 bits: a pixel 99.9 % inside would round to 255.  False (and
 * mask all 0) for a bad size or when out of memory.
 */
bool lb_raster_fill_mask(int width, int height, const lb_ring *rings, size_t nrings,
                         uint8_t *mask);

/*
 * Occlusion blocks: a canvas is divided into LB_BLOCKS x LB_BLOCKS blocks of
 * lb_block_size(width) x lb_block_size(height) pixels (the last ones may be
 * cut off by the canvas's edge).  A block where lb_raster_fill of some rings
 * gives every pixel coverage 255 is "full": an opaque fill hides, bit for
 * bit, whatever was drawn before it there, so a renderer may skip that
 * (tiler/render.c).
 */
#define LB_BLOCKS 16
typedef struct lb_blocks {
    uint16_t row[LB_BLOCKS]; /* bit bx of row[by]: block (bx, by) */
} lb_blocks;

static inline double lb_block_size(int canvas_px)
{
    return (double)((canvas_px + LB_BLOCKS - 1) / LB_BLOCKS);
}

/* How many blocks of lb_block_size lie on a canvas side of canvas_px (at
 * most LB_BLOCKS; fewer when rounding the size up leaves the last ones off). */
static inline int lb_block_count(int canvas_px)
{
    int bw = (canvas_px + LB_BLOCKS - 1) / LB_BLOCKS;
    return (canvas_px + bw - 1) / bw;
}

/* Whether every block meeting the pixel box [x0,x1) x [y0,y1), clipped to
 * the canvas, is in b; false for a box off the canvas or not finite. */
static inline bool lb_blocks_cover(const lb_blocks *b, const lb_canvas *c, double x0, double y0,
                                   double x1, double y1)
{
    x0 = x0 > 0 ? x0 : 0;
    y0 = y0 > 0 ? y0 : 0;
    x1 = x1 < c->width ? x1 : c->width;
    y1 = y1 < c->height ? y1 : c->height;
    if (!(x1 > x0 && y1 > y0)) /* also NaN */
        return false;
    double bw = lb_block_size(c->width), bh = lb_block_size(c->height);
    int bx0 = (int)(x0 / bw), bx1 = (int)((x1 - 1e-9) / bw);
    int by0 = (int)(y0 / bh), by1 = (int)((y1 - 1e-9) / bh);
    bx1 = bx1 < bx0 ? bx0 : bx1;
    by1 = by1 < by0 ? by0 : by1;
    if (bx1 >= LB_BLOCKS || by1 >= LB_BLOCKS)
        return false;
    uint32_t m = ((2u << bx1) - 1) & ~((1u << bx0) - 1);
    for (int by = by0; by <= by1; by++)
        if ((b->row[by] & m) != m)
            return false;
    return true;
}

/* The full blocks of lb_raster_fill of these rings on c: those no edge comes
 * within a pixel of, with a winding number other than zero.  Conservative
 * (a block it is unsure of is not full); true when any block is full. */
bool lb_raster_fill_blocks(const lb_canvas *c, const lb_ring *rings, size_t nrings,
                           lb_blocks *full);

/* Leave the blocks of keep_out (NULL: none) as they are in the drawing that
 * follows, until the next call: for occlusion, only blocks that drawing
 * after it covers opaquely (the pixels there are left as they were).  The
 * pointer is kept: keep_out must live until it is reset. */
void lb_canvas_set_clip(lb_canvas *c, const lb_blocks *keep_out);

typedef enum lb_join { LB_JOIN_MITER, LB_JOIN_ROUND, LB_JOIN_BEVEL } lb_join;
typedef enum lb_cap { LB_CAP_BUTT, LB_CAP_ROUND, LB_CAP_SQUARE } lb_cap;

#define LB_MAX_DASH 16

typedef struct lb_stroke {
    double width;       /* pixels; <= 0 or NaN: nothing is drawn */
    lb_join join;
    lb_cap cap;
    double miter_limit; /* as a multiple of width/2, e.g. 2 (MapLibre's default):
                           a miter longer than that becomes a bevel;
                           <= 0 or NaN means 2 */
    double dash[LB_MAX_DASH]; /* on/off lengths in pixels; ndash == 0: solid.
                                 An odd list repeats (SVG); a negative or NaN
                                 entry, or an all-zero list: solid.  Zero-length
                                 dashes are dots with round or square caps. */
    size_t ndash;
    double dash_offset; /* distance into the pattern at the path's start */
} lb_stroke;

/*
 * Stroke a path (closed: the last point joins the first) with the given
 * style, anti-aliased, composited "over" as ONE shape (overlapping parts of
 * a translucent line do not darken).  Dashes run on across vertices (and are
 * joined there); on a closed path a dash running through the start point is
 * joined there too.  A dash pattern with a period under half a pixel is
 * drawn solid with its average coverage.  A path whose points all coincide
 * is a dot for round and square caps; fewer than 2 points: nothing.
 */
void lb_raster_stroke(lb_canvas *c, const lb_ring *path, bool closed, const lb_stroke *st,
                      lb_rgba color);

typedef enum lb_marker {
    LB_MARKER_CIRCLE,
    LB_MARKER_SQUARE,
    LB_MARKER_TRIANGLE,
    LB_MARKER_CROSS
} lb_marker;

/*
 * A point marker centred at (x,y): radius is half the marker's size in
 * pixels; the fill and an outline of stroke_width (0: none) are drawn.
 *   circle:   radius r (a polygon within 0.05 px of the circle);
 *   square:   side 2 r, axis-aligned;
 *   triangle: equilateral, inscribed in the circle of radius r, apex up;
 *   cross:    a plus of two bars from -r to r, each r / 2.5 thick.
 * The outline is centred on the shape's edge (mitred corners) and drawn over
 * the fill; a fill or stroke colour with alpha 0 is skipped.
 */
void lb_raster_marker(lb_canvas *c, lb_marker shape, double x, double y, double radius,
                      lb_rgba fill, double stroke_width, lb_rgba stroke);

#endif
