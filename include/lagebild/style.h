/*
 * lagebild — styles: a documented subset of the MapLibre style
 * specification (docs/styles.md), one style file per lagebild layer.
 *
 * A style file is a JSON object {"version": 8, "layers": [...]} whose style
 * layers have type fill, line or circle, optional minzoom/maxzoom, an
 * optional filter and paint properties whose values may be constants or
 * expressions (get, match, case, interpolate, step, zoom, comparisons...).
 * fill applies to polygons, line to lines and polygon outlines, circle to
 * points.  lb_style_eval resolves a style layer for one feature at one zoom.
 */
#ifndef LAGEBILD_STYLE_H
#define LAGEBILD_STYLE_H

#include <stdbool.h>
#include <stddef.h>

#include "lagebild/raster.h"
#include "lagebild/status.h"

typedef enum lb_style_type { LB_STYLE_FILL, LB_STYLE_LINE, LB_STYLE_CIRCLE } lb_style_type;

typedef struct lb_style lb_style;

/* A feature property value as seen by expressions. */
typedef enum lb_value_type { LB_VAL_NULL, LB_VAL_NUM, LB_VAL_STR, LB_VAL_BOOL } lb_value_type;
typedef struct lb_value {
    lb_value_type type;
    double num;      /* LB_VAL_NUM, LB_VAL_BOOL (0/1) */
    const char *str; /* LB_VAL_STR; borrowed */
} lb_value;

/* Property accessor: the value of feature property name (LB_VAL_NULL if absent). */
typedef lb_value (*lb_prop_fn)(void *ud, const char *name);

/* Resolved paint of one style layer for one feature at one zoom, in CSS pixels. */
typedef struct lb_paint {
    lb_style_type type;
    /* fill */
    lb_rgba fill;          /* fill-color x fill-opacity */
    bool has_outline;
    lb_rgba outline;       /* fill-outline-color x fill-opacity, drawn 1 px wide */
    /* line */
    lb_rgba line;          /* line-color x line-opacity */
    double line_width;     /* line-width */
    lb_join join;          /* layout line-join */
    lb_cap cap;            /* layout line-cap */
    double miter_limit;    /* layout line-miter-limit (default 2) */
    double dash[LB_MAX_DASH]; /* line-dasharray, in multiples of line_width */
    size_t ndash;
    /* circle */
    lb_marker marker;      /* circle-shape extension ("circle", "square", "triangle", "cross") */
    double radius;         /* circle-radius */
    lb_rgba circle;        /* circle-color x circle-opacity */
    double stroke_width;   /* circle-stroke-width */
    lb_rgba stroke;        /* circle-stroke-color x circle-stroke-opacity */
} lb_paint;

/*
 * Load and validate a style file.  On failure *out is NULL and *diag (if not
 * NULL) receives malloc'ed "file:line: message" lines naming the key at fault
 * (caller frees); returns LB_ECONFIG, LB_ENOENT or LB_ENOMEM.
 */
lb_status lb_style_load(const char *path, lb_style **out, char **diag);
void lb_style_free(lb_style *s);

size_t lb_style_layer_count(const lb_style *s);
lb_style_type lb_style_layer_type(const lb_style *s, size_t i);
const char *lb_style_layer_id(const lb_style *s, size_t i);

/*
 * Evaluate style layer i for a feature at zoom (fractional allowed).
 * Returns false when the layer does not apply: zoom outside
 * [minzoom, maxzoom), filter false, layout visibility none, or fully
 * transparent result.  get may be NULL (a feature without properties).
 * Nothing is allocated; a style may be evaluated from several threads at
 * once.  A property whose expression fails for this feature (a value of the
 * wrong type, a failed conversion) takes its default; a failing filter is
 * false (as in MapLibre).
 */
bool lb_style_eval(const lb_style *s, size_t i, double zoom, lb_prop_fn get, void *ud,
                   lb_paint *out);

/*
 * Names of all feature properties that any filter or expression of the style
 * reads (so snapshots keep only those).  The array and strings are owned by
 * the style.
 */
const char *const *lb_style_properties(const lb_style *s, size_t *n);

/*
 * The legend: for each style layer, a representative paint at zoom (features
 * with no properties) and a title (metadata "lagebild:legend" or the id).
 */
const char *lb_style_layer_title(const lb_style *s, size_t i);
/*
 * The legend paint of style layer i: evaluated at zoom for a feature without
 * properties, ignoring the filter and the layer's zoom range.  false when
 * the layer is hidden (visibility none) or the result is fully transparent.
 */
bool lb_style_legend(const lb_style *s, size_t i, double zoom, lb_paint *out);

/*
 * Whether style layer i may fill some feature at zoom with an opaque colour
 * (alpha 255): false for other types and for fills whose colour and opacity
 * do not depend on the feature and are translucent at zoom; true when they
 * depend on it (conservative).  For occlusion (tiler/render.c).
 */
bool lb_style_fill_may_be_opaque(const lb_style *s, size_t i, double zoom);

/* The style's optional "name", or NULL. */
const char *lb_style_name(const lb_style *s);

#endif
