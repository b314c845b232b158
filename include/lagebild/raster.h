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
 */
#ifndef LAGEBILD_RASTER_H
#define LAGEBILD_RASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lagebild/status.h"

/* A premultiplied 8-bit colour. */
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
    void *work;    /* private scratch (coverage accumulation), owned by the canvas */
} lb_canvas;

/* Allocate a transparent canvas (1 <= w,h <= 16384). */
lb_status lb_canvas_init(lb_canvas *c, int width, int height);
void lb_canvas_free(lb_canvas *c);
void lb_canvas_clear(lb_canvas *c);
/* true when every pixel is fully transparent */
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
 * need not be closed explicitly.
 */
void lb_raster_fill(lb_canvas *c, const lb_ring *rings, size_t nrings, lb_rgba color);

typedef enum lb_join { LB_JOIN_MITER, LB_JOIN_ROUND, LB_JOIN_BEVEL } lb_join;
typedef enum lb_cap { LB_CAP_BUTT, LB_CAP_ROUND, LB_CAP_SQUARE } lb_cap;

#define LB_MAX_DASH 16

typedef struct lb_stroke {
    double width;       /* pixels */
    lb_join join;
    lb_cap cap;
    double miter_limit; /* as a multiple of width/2, e.g. 2 (MapLibre's default) */
    double dash[LB_MAX_DASH]; /* on/off lengths in pixels; ndash == 0: solid */
    size_t ndash;
    double dash_offset;
} lb_stroke;

/*
 * Stroke a path (closed: the last point joins the first) with the given
 * style, anti-aliased, composited "over" as ONE shape (overlapping parts of
 * a translucent line do not darken).
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
 */
void lb_raster_marker(lb_canvas *c, lb_marker shape, double x, double y, double radius,
                      lb_rgba fill, double stroke_width, lb_rgba stroke);

#endif
