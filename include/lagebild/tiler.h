/*
 * lagebild — tiles: tile matrix sets, layer snapshots, rendering, PNG.
 *
 * A snapshot is an immutable, reference-counted, in-memory copy of one layer
 * revision with geometries already projected to one tile matrix set's CRS,
 * a packed Hilbert R-tree, and simplified copies for low zooms.  Renders
 * never touch SQL: they query snapshots.  A new revision is built beside the
 * old snapshot and swapped in by whoever holds it; renders in flight keep
 * their reference to the old one.
 */
#ifndef LAGEBILD_TILER_H
#define LAGEBILD_TILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lagebild/config.h"
#include "lagebild/fusion.h"
#include "lagebild/raster.h"
#include "lagebild/status.h"
#include "lagebild/style.h"

/* ---- tile matrix sets ------------------------------------------------- */

/*
 * A quad-tree tile matrix set: level z has matrix (w0 << z) x (h0 << z)
 * tiles of tile_size pixels and scale denominator scale0 / 2^z
 * (OGC: resolution = scale denominator * 0.28 mm / metres per unit).
 */
typedef struct lb_tms {
    const char *id;       /* "WebMercatorQuad", "DE_EPSG_25832_ADV" */
    const char *crs;      /* "EPSG:3857" */
    const char *crs_urn;  /* "urn:ogc:def:crs:EPSG::3857" */
    double origin_x;      /* top-left corner, easting */
    double origin_y;      /* top-left corner, northing */
    int tile_size;        /* pixels */
    double scale0;        /* scale denominator of level 0 */
    int w0, h0;           /* matrix size of level 0 */
    int min_zoom, max_zoom;
} lb_tms;

/* The built-in sets (docs/tiles.md); n receives the count. */
const lb_tms *lb_tms_all(size_t *n);
/* A set by id (case-insensitive; "3857", "webmercator", "25832" accepted too), NULL if unknown. */
const lb_tms *lb_tms_find(const char *id);
/* Metres (CRS units) per pixel at level z. */
double lb_tms_resolution(const lb_tms *t, int z);
/* Matrix width/height at z. */
long lb_tms_matrix_width(const lb_tms *t, int z);
long lb_tms_matrix_height(const lb_tms *t, int z);
/* Bounds of tile (z,x,y) in CRS units; false when it does not exist. */
bool lb_tms_tile_bounds(const lb_tms *t, int z, long x, long y, double *minx, double *miny,
                        double *maxx, double *maxy);

/* ---- snapshots -------------------------------------------------------- */

typedef struct lb_snapshot lb_snapshot;

/* What a renderer's feature predicate sees of a feature. */
typedef struct lb_feature_info {
    int64_t fid;
    lb_label label;
    const char *source;
    /* a report merged into a fused feature (conflation): drawn only for a
     * principal whose grant does not allow the fused label (server_int.h) */
    bool member;
    lb_label fused;
} lb_feature_info;


/*
 * Build the snapshot of layer (as currently committed in st) in grid's CRS,
 * keeping the feature properties named in props (plus kind, name, status,
 * classification, which are always kept).  Labels are decoded against cfg's
 * groups and caveats.  *out holds one reference.
 */
lb_status lb_snapshot_build(lb_store *st, const lb_config *cfg, const char *layer,
                            const lb_tms *grid, const char *const *props, size_t nprops,
                            lb_snapshot **out, lb_error *err);
/*
 * Owner-set release rules: a snapshot holding only the features of sources
 * with a generalisation rule, each generalised to cells of gen_cell(source)
 * metres on the canonical grid of generalise.h (points snapped to the cell
 * centre, lines and polygons replaced by the cells their extent touches),
 * the same cells whatever grid's CRS the snapshot is in.  gen_cell returns
 * <= 0 for sources without a rule: their features are left out.  The exact
 * geometry never enters this snapshot.
 */
typedef double (*lb_gen_cell_fn)(void *ud, const char *source);
lb_status lb_snapshot_build_generalised(lb_store *st, const lb_config *cfg, const char *layer,
                                        const lb_tms *grid, const char *const *props,
                                        size_t nprops, lb_gen_cell_fn gen_cell, void *ud,
                                        lb_snapshot **out, lb_error *err);
/*
 * The snapshot of only the features with the given fids (sorted ascending),
 * as committed now; its revision is the layer's current one.  The delta of
 * an overlay.
 */
lb_status lb_snapshot_build_fids(lb_store *st, const lb_config *cfg, const char *layer,
                                 const lb_tms *grid, const char *const *props, size_t nprops,
                                 const int64_t *fids, size_t nfids, lb_snapshot **out,
                                 lb_error *err);
/*
 * An incremental snapshot: base without the features whose fids are listed
 * in removed, plus every feature of delta (built with lb_snapshot_build_fids
 * over at least those fids); its revision is delta's.  Both are referenced,
 * not copied: building it costs the delta only.  Drawing order is the same
 * key (Hilbert index of the box centre, then fid) as a full snapshot's.
 * base must not be an overlay itself.
 */
lb_status lb_snapshot_overlay(lb_snapshot *base, lb_snapshot *delta, const int64_t *removed,
                              size_t n, lb_snapshot **out, lb_error *err);
/* An overlay's base, or NULL for a full snapshot. */
lb_snapshot *lb_snapshot_base(const lb_snapshot *s);
lb_snapshot *lb_snapshot_ref(lb_snapshot *s);
void lb_snapshot_unref(lb_snapshot *s);
int64_t lb_snapshot_revision(const lb_snapshot *s);
size_t lb_snapshot_feature_count(const lb_snapshot *s);
size_t lb_snapshot_vertex_count(const lb_snapshot *s); /* all levels of detail */
size_t lb_snapshot_memory(const lb_snapshot *s);       /* bytes */
/* Bounding box of all features in the grid's CRS; false when empty. */
bool lb_snapshot_bounds(const lb_snapshot *s, double *minx, double *miny, double *maxx,
                        double *maxy);

/*
 * What changed between two full snapshots (not overlays) of one layer in one
 * grid with the same properties kept: fn is told of every feature version
 * (a feature of the full-detail level: fid, label, member flag and fused
 * label, source, geometry, kept properties) that old has and cur has not
 * (side 0) and that cur has and old has not (side 1), with its box in the
 * grid's CRS, and its look: a keyed hash of the version without its member
 * flag and fused label (two versions of one fid with equal looks differ
 * only in those).  Versions are compared by a keyed hash (SipHash-2-4 under key,
 * which should be secret: whoever can guess it could craft a change that
 * compares equal); each snapshot keeps its hashes under one key, so that
 * comparing it again (as the older side) costs the other side only.
 * LB_EINVAL for overlays or snapshots that differ in grid or properties,
 * LB_ENOMEM.
 */
typedef void (*lb_snapshot_change_fn)(void *ud, int side, const lb_feature_info *f,
                                      const double box[4], uint64_t look);
lb_status lb_snapshot_diff(lb_snapshot *old, lb_snapshot *cur, const uint8_t key[16],
                           lb_snapshot_change_fn fn, void *ud, lb_error *err);

/* ---- rendering -------------------------------------------------------- */

/*
 * Decides per feature whether the requesting principal may see it.  It must
 * look only at what makes the feature's class (lb_feature_class_cmp with the
 * render's by_source: label, member and fused label, source), not at the
 * fid: renders ask it once per class and do not walk the classes it
 * rejects, so that their time does not depend on features the principal
 * may not see.
 */
typedef bool (*lb_feature_pred)(void *ud, const lb_feature_info *f);

/* Told of one feature of a class (lb_snapshot_classes). */
typedef void (*lb_feature_fn)(void *ud, const lb_feature_info *f);

/*
 * Call fn with one feature of each class (lb_feature_class_cmp, by source
 * too for a generalised snapshot) that has a feature whose box meets the
 * given box at full detail, not counting an overlay's removed features; in
 * no particular order.  Each class is a walk of its own that ends at its
 * first such feature, so the cost grows with the classes, not with their
 * features.  A snapshot with more than 1,024 classes is walked whole and fn
 * told of every feature in the box: callers keep a set.
 */
void lb_snapshot_classes(const lb_snapshot *s, double minx, double miny, double maxx,
                         double maxy, lb_feature_fn fn, void *ud);

/*
 * A feature's geometry as a predicate sees it, in the snapshot's CRS, at the
 * detail it is read at (full detail for lb_snapshot_max_level, the level of
 * detail drawn for lb_render_layer.geom): its parts are points (every vertex one),
 * lines, or polygon rings (not closed explicitly; exteriors of positive and
 * holes of negative signed area, for the non-zero rule).  Valid only during
 * the call.
 */
typedef struct lb_feature_geom lb_feature_geom;
enum { LB_FEATURE_POINTS = 1, LB_FEATURE_LINES = 2, LB_FEATURE_POLYGONS = 3 };
int lb_feature_geom_type(const lb_feature_geom *g);
size_t lb_feature_geom_parts(const lb_feature_geom *g);
/* Part i: n points, xy pairs. */
const double *lb_feature_geom_part(const lb_feature_geom *g, size_t i, size_t *n);

/* A predicate that sees the feature's box (minx, miny, maxx, maxy) and
 * geometry in the grid CRS. */
typedef bool (*lb_feature_geom_pred)(void *ud, const lb_feature_info *f, const double box[4],
                                     const lb_feature_geom *g);

/*
 * Highest classification level (lb_level) among features whose box meets
 * the given box, whose class cls accepts (NULL: every class; cls is asked
 * once per class, and the features of classes it rejects are not looked
 * at) and that pred accepts (NULL: every feature but the reports merged into
 * a fused feature); -1 when there is none.
 */
int lb_snapshot_max_level(const lb_snapshot *s, double minx, double miny, double maxx,
                          double maxy, lb_feature_pred cls, lb_feature_geom_pred pred, void *ud);

/*
 * Drawing order of a layer: its visible features group by group, groups in
 * the order of lb_feature_group_cmp (label: level, groups, caveats; then,
 * when by_source, source id), within a group style layer after style layer,
 * each in the snapshot's order.  So drawing some groups and then the rest
 * onto the same canvas gives exactly the pixels of drawing all of them at
 * once.  A group holds one or more classes (lb_feature_class_cmp: group,
 * then the reports merged into a fused feature after the others, by fused
 * label), which predicates tell apart but which are drawn together: a
 * report becoming a member moves nowhere for whoever still draws it.
 */
int lb_feature_group_cmp(const lb_feature_info *a, const lb_feature_info *b, bool by_source);
int lb_feature_class_cmp(const lb_feature_info *a, const lb_feature_info *b, bool by_source);

/* Largest symbol half-size (marker radius + outline, half line width) in CSS
 * px: a render reads the features within this of its area. */
#define LB_RENDER_MARGIN_PX 64.0

typedef struct lb_render_layer {
    lb_snapshot *snap;
    const lb_style *style;
    lb_feature_pred pred; /* NULL: every feature (full rights: not the reports merged
                           * into a fused feature, see lb_feature_info.member) */
    void *pred_ud;
    /* optional: asked per feature after pred, with its geometry as drawn;
     * a feature it rejects is not drawn (e.g. outside an area limit) */
    lb_feature_geom_pred geom;
    void *geom_ud;
    bool by_source; /* classes also differ by source (lb_feature_class_cmp) */
    /* optional: called after each class is drawn (rep: one feature of it),
     * with the canvas as it is then */
    void (*class_done)(void *ud, const lb_feature_info *rep, lb_canvas *out);
    void *class_ud;
} lb_render_layer;

/*
 * Render the layers (bottom first) into out over the area [minx,maxx] x
 * [miny,maxy] of the snapshots' CRS; out's size gives the pixel grid.  zoom is
 * the (fractional) zoom used for style evaluation and level of detail; scale
 * multiplies every style size (2 for @2x tiles).
 */
lb_status lb_render_area(const lb_render_layer *layers, size_t n, double minx, double miny,
                         double maxx, double maxy, double zoom, double scale, lb_canvas *out,
                         lb_error *err);

/* Occlusion (on by default): drawing that opaque fills drawn later cover is
 * left out, with the same pixels (tiler/render.c).  Off: everything is
 * drawn, for tests and benchmarks that compare.  Process-wide. */
void lb_render_set_occlusion(bool on);

/* Routing (on by default): where the tile is still transparent, layers are
 * drawn straight onto it instead of through a layer canvas, with the same
 * pixels (tiler/render.c).  Off: every layer after the first goes through
 * its canvas, for tests and benchmarks that compare.  Process-wide. */
void lb_render_set_routing(bool on);

/* Render tile (z,x,y) of grid at scale (1 or 2: 256 or 512 px for a 256 grid). */
lb_status lb_render_tile(const lb_render_layer *layers, size_t n, const lb_tms *grid, int z,
                         long x, long y, int scale, lb_canvas *out, lb_error *err);

/* ---- PNG -------------------------------------------------------------- */

typedef struct lb_png_opts {
    int level;     /* zlib level 0..9 (default 2: tuned for on-request rendering) */
    bool palette;  /* 8-bit palette output when the tile has <= 256 colours */
    bool straight; /* the canvas already holds straight alpha (lb_png_unpremultiply) */
    size_t headroom; /* bytes *out keeps free before the PNG for the caller's use */
} lb_png_opts;

/*
 * Convert rows [y0, y1) of a canvas from premultiplied to straight alpha in
 * place (lets callers do it in parallel before encoding with .straight).
 */
void lb_png_unpremultiply(lb_canvas *c, int y0, int y1);

/* Encode a canvas as PNG; *out is malloc'ed (caller frees): opts->headroom
 * bytes of undefined content, then the PNG of *len bytes. */
lb_status lb_png_encode(const lb_canvas *c, const lb_png_opts *opts, uint8_t **out,
                        size_t *len, lb_error *err);
/* A canonical fully transparent PNG of w x h (cached; do not free). */
const uint8_t *lb_png_empty(int w, int h, size_t *len);

#endif
