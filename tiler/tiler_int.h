/*
 * Private structures of the tiler module: the snapshot layout shared by
 * snapshot.c (builder) and render.c (reader).  Nothing outside tiler/
 * includes this header.
 *
 * Invariants of a built snapshot (never modified afterwards):
 *   1. the drawing order of each level's features is the Hilbert order of
 *      their bbox centre (lb_snap_feat.seq), so every tile draws overlapping
 *      features in the same order (seamless borders); they are stored class
 *      by class (lb_snap_feat.cls) when the snapshot is ranked, each class in
 *      drawing order, else in drawing order;
 *   2. polygon rings are oriented: exteriors positive, holes negative signed
 *      area (in CRS coordinates), so a multipolygon fills correctly with the
 *      non-zero rule in one call;
 *   3. the packed R-tree of a level indexes exactly its features.
 */
#ifndef LB_TILER_INT_H
#define LB_TILER_INT_H

#include <stdatomic.h>

#include "lagebild/tiler.h"

enum { LB_GEOM_POINT = 1, LB_GEOM_LINE = 2, LB_GEOM_POLYGON = 3 };

typedef struct lb_snap_part {
    uint32_t first; /* first vertex (index into xy pairs) */
    uint32_t n;     /* vertices */
    uint32_t poly;  /* polygons: index of the polygon this ring belongs to within the feature */
} lb_snap_part;

typedef struct lb_snap_feat {
    double minx, miny, maxx, maxy;
    uint32_t first_part, nparts;
    uint32_t props; /* index of the first of nprops values */
    uint32_t info;  /* index into the level-independent info array */
    uint8_t type;   /* LB_GEOM_* */
    uint8_t member; /* infos[info].member, here too: full-rights renders skip
                     * merged reports without touching the (cold) info */
    uint16_t cls;   /* rank of infos[info]'s class (lb_snapshot.ranked) */
    uint32_t seq;   /* position in the full level's drawing order (Hilbert
                     * key, then store order): stored class by class, a
                     * level is sorted by this where classes are not drawn
                     * by rank */
} lb_snap_feat;

/* More feature classes than this in one snapshot: not ranked (renders
 * compare labels instead). */
#define LB_SNAP_CLASSES 1024

typedef struct lb_rtree {
    /* node boxes, level by level from the leaves up; leaves are features */
    double *box; /* 4 doubles per node */
    uint32_t *child; /* first child index of each internal node */
    uint32_t nleaf;
    uint32_t nnodes; /* internal nodes */
    uint32_t *level_start; /* index (in box) of each level's first node */
    uint32_t nlevels;
    /* ranked snapshots: the first and the last class of each internal node's
     * leaves (crange[node - nleaf]); the leaves are sorted by class, so the
     * node holds exactly the classes in between */
    uint16_t (*crange)[2];
} lb_rtree;

typedef struct lb_snap_level {
    int max_zoom; /* built for this zoom of the grid (INT_MAX: full detail) */
    double res;   /* CRS units per pixel at max_zoom (0: full detail) */
    lb_snap_feat *feats;
    uint32_t nfeats;
    lb_snap_part *parts;
    uint32_t nparts;
    double *xy;
    uint32_t nxy; /* vertices */
    lb_rtree tree; /* leaves: feats in order */
    /* levels of detail: points merged into another one (same cell and
     * appearance), as (representative's fid, merged point's fid), sorted; an
     * overlay that hides a representative keeps drawing it while one of its
     * twins is not hidden too */
    int64_t (*twins)[2];
    uint32_t ntwins;
} lb_snap_level;

/* Whether the representative with this fid stands for a point that overlay s
 * does not hide (then it is still drawn although its own fid is hidden). */
bool lb_tiler__twin_visible(const lb_snapshot *s, const lb_snap_level *lv, int64_t fid);

#define LB_SNAP_MAX_LEVELS 8

struct lb_snapshot {
    atomic_int refs;
    int64_t revision;
    char *layer;
    const lb_tms *grid;
    /* per original feature: what predicates see */
    lb_feature_info *infos;
    uint32_t ninfos;
    /* property names (index = position in every feature's value run) */
    char **prop_names;
    size_t nprops;
    lb_value *values; /* ninfos * nprops */
    char *strings;    /* pool for string values */
    size_t strings_len;
    lb_snap_level levels[LB_SNAP_MAX_LEVELS]; /* ascending max_zoom, last is full detail */
    int nlevels;
    double minx, miny, maxx, maxy;
    bool empty;
    /* feature classes ranked in lb_feature_class_cmp order (by source too
     * when by_source): lb_snap_feat.cls; false when there are too many */
    bool ranked, by_source;
    uint32_t nclasses;
    uint32_t *class_rep; /* ranked: per class, the info of one of its features */
    /* an overlay (lb_snapshot_overlay) has no levels of its own: it is base
     * without the features whose fids are in removed (sorted), plus delta */
    lb_snapshot *base, *delta;
    int64_t *removed;
    size_t nremoved;
    /* lb_snapshot_diff's hashes of this snapshot's versions, made on first
     * use (tiler/snapdiff.c), or NULL */
    _Atomic(struct lb_snap_digest *) digest;
};

/* Free a snapshot's digest (snapdiff.c). */
void lb_tiler__digest_free(struct lb_snap_digest *d);

/* What the walks of a level's R-tree read, summed per thread (a test hook:
 * tests/test_walk_hidden.c checks that what a walk reads does not grow with
 * the features a principal may not see).  nodes: internal nodes looked at
 * (class range or box), leaves: features looked at. */
typedef struct lb_walk_stats {
    uint64_t walks, nodes, leaves;
} lb_walk_stats;
extern _Thread_local lb_walk_stats lb_tiler__walk_stats;

/*
 * The classes of a ranked snapshot a walk looks at: with pre, class c when
 * pre[c + 1] > pre[c] (prefix counts of the classes wanted, nclasses + 1
 * entries), else the classes lo..hi.  A walk never enters a subtree that
 * holds none of them (lb_rtree.crange), so what it reads grows with the
 * features of these classes, not with the others.  NULL: every class (the
 * only choice for an unranked snapshot, whose tree has no class ranges).
 */
typedef struct lb_class_set {
    const uint16_t *pre;
    uint32_t lo, hi;
} lb_class_set;

/* Indices of features of level lv of the classes cs whose box intersects
 * the query box, ascending. */
typedef struct lb_idx_vec {
    uint32_t *v;
    size_t n, cap;
} lb_idx_vec;
void lb_tiler__query(const lb_snap_level *lv, double minx, double miny, double maxx, double maxy,
                     const lb_class_set *cs, lb_idx_vec *out);
/* The features of lv of the classes cs whose boxes meet the box and are at
 * least minw wide and minh high (a query for occluders), ascending. */
void lb_tiler__query_big(const lb_snap_level *lv, double minx, double miny, double maxx,
                         double maxy, double minw, double minh, const lb_class_set *cs,
                         lb_idx_vec *out);
/* The same walk as lb_tiler__query, handing each feature found to fn
 * instead (ascending); fn returning false ends the walk. */
typedef bool (*lb_leaf_fn)(void *ud, uint32_t feat);
void lb_tiler__visit(const lb_snap_level *lv, double minx, double miny, double maxx, double maxy,
                     const lb_class_set *cs, lb_leaf_fn fn, void *ud);
/* Test hook: with class walks off (on by default), every walk looks at
 * every class and filters afterwards, as before class walks existed. */
void lb_tiler__set_class_walks(bool on);
bool lb_tiler__class_walks(void);
/* Drawing-order key of a feature of a snapshot in grid t (Hilbert index of
 * its box centre over the grid's whole extent); ties go by fid. */
uint64_t lb_tiler__order_key(const lb_tms *t, const lb_snap_feat *f);
/* Whether feature infos a of sa and b of sb have the same property values
 * (snapshots of one layer with the same properties kept). */
bool lb_tiler__values_eq(const lb_snapshot *sa, uint32_t a, const lb_snapshot *sb, uint32_t b);
/*
 * Rank the classes of n features (lb_feature_class_cmp order, by source too
 * when by_source): cls[i] = the rank of inf[i]'s class, *nclasses = how many
 * classes.  false when there are more than max (<= LB_SNAP_CLASSES); cls
 * is then undefined.
 */
bool lb_tiler__rank_classes(const lb_feature_info *const *inf, size_t n, bool by_source,
                            uint32_t max, uint16_t *cls, uint32_t *nclasses);
/* Whether fid is hidden by overlay s (binary search in s->removed). */
bool lb_tiler__removed(const lb_snapshot *s, int64_t fid);
/* The coarsest level precise enough for res CRS units per pixel. */
const lb_snap_level *lb_tiler__level_for(const lb_snapshot *s, double res);

#endif
