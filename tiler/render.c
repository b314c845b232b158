/*
 * This file implements rendering: for each layer (bottom first) query its
 * snapshot at the level of detail for the zoom, then draw style layer after
 * style layer (MapLibre order) every visible feature the style applies to:
 * fill -> polygons, line -> lines and polygon rings, circle -> points.
 *
 * The query box is the area widened by LB_RENDER_MARGIN_PX so that markers
 * and wide lines of features just outside still reach into the area: tiles
 * rendered independently meet seamlessly.
 */
#include <assert.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "raster_int.h" /* dirty rows, scratch sharing */
#include "tiler_int.h"
#include "lagebild/util.h"


/* A feature's geometry for predicates (tiler.h): the level it is read at. */
struct lb_feature_geom {
    const lb_snap_level *lv;
    const lb_snap_feat *f;
};

typedef struct prop_ctx {
    const lb_snapshot *s;
    uint32_t info;
} prop_ctx;

static lb_value get_prop(void *ud, const char *name)
{
    const prop_ctx *c = ud;
    const lb_snapshot *s = c->s;
    for (size_t k = 0; k < s->nprops; k++)
        if (strcmp(s->prop_names[k], name) == 0)
            return s->values[(size_t)c->info * s->nprops + k];
    return (lb_value){.type = LB_VAL_NULL};
}

/* The paint used for layers without a style file: neutral grey. */
static bool default_paint(lb_style_type type, lb_paint *p)
{
    memset(p, 0, sizeof *p);
    p->type = type;
    p->join = LB_JOIN_ROUND;
    p->cap = LB_CAP_ROUND;
    p->miter_limit = 2;
    switch (type) {
    case LB_STYLE_FILL:
        p->fill = lb_rgba_from(0.5, 0.5, 0.5, 0.4);
        p->has_outline = true;
        p->outline = lb_rgba_from(0.3, 0.3, 0.3, 1);
        return true;
    case LB_STYLE_LINE:
        p->line = lb_rgba_from(0.3, 0.3, 0.3, 1);
        p->line_width = 2;
        return true;
    case LB_STYLE_CIRCLE:
        p->marker = LB_MARKER_CIRCLE;
        p->radius = 4;
        p->circle = lb_rgba_from(0.4, 0.4, 0.4, 1);
        p->stroke_width = 1;
        p->stroke = lb_rgba_from(1, 1, 1, 1);
        return true;
    }
    return false;
}

typedef struct scratch {
    double *xy;
    size_t cap; /* doubles */
    lb_ring *rings;
    size_t rcap;
    lb_idx_vec idx;
    /* class-major drawing (draw_ranked, draw_by_class) */
    const lb_feature_info **inf; /* per entry */
    uint32_t *ent, *ord;         /* entry -> feature (or hit); entries grouped by class */
    uint32_t *list;              /* features (or hits) in drawing order */
    uint16_t *cls;               /* entry -> class */
    size_t ecap;
    /* occlusion (mark_hidden) */
    uint8_t *skip; /* per drawing step (style layer si, list position j): skip[si * n + j] */
    size_t skip_cap;
    lb_blocks above; /* blocks that the layers above cover opaquely */
    struct occ_cp *cp; /* where the blocks covered by later steps grow (newest first) */
    size_t ncp, cp_cap;
} scratch;

/* A drawing step (class c, style layer si, list position j) as a number
 * that grows along draw_entries' order. */
static inline uint64_t step_pos(uint32_t c, size_t si, size_t j)
{
    return (uint64_t)c << 44 | (uint64_t)si << 32 | (uint64_t)j;
}

/* mark_hidden's record: the steps before pos see the blocks m covered. */
typedef struct occ_cp {
    uint64_t pos;
    lb_blocks m;
} occ_cp;

/* Walking forward through the steps: the checkpoints not yet passed are
 * sc->cp[0..idx]; base: the blocks covered by the layers above. */
typedef struct occ_walk {
    ptrdiff_t idx;
    const lb_blocks *base;
    bool base_any;
} occ_walk;

static bool ensure(scratch *sc, size_t doubles, size_t rings)
{
    if (doubles > sc->cap) {
        size_t nc = sc->cap ? sc->cap : 1024;
        while (nc < doubles)
            nc *= 2;
        double *p = realloc(sc->xy, nc * sizeof *p);
        if (!p)
            return false;
        sc->xy = p;
        sc->cap = nc;
    }
    if (rings > sc->rcap) {
        size_t nc = sc->rcap ? sc->rcap : 64;
        while (nc < rings)
            nc *= 2;
        lb_ring *p = realloc(sc->rings, nc * sizeof *p);
        if (!p)
            return false;
        sc->rings = p;
        sc->rcap = nc;
    }
    return true;
}

typedef struct view {
    double minx, maxy, sx, sy; /* pixel = ((x-minx)*sx, (maxy-y)*sy) */
} view;

/* The pixel grid of out over [minx,maxx] x [miny,maxy]. */
static inline view view_of(const lb_canvas *out, double minx, double miny, double maxx,
                           double maxy)
{
    return (view){.minx = minx,
                  .maxy = maxy,
                  .sx = out->width / (maxx - minx),
                  .sy = out->height / (maxy - miny)};
}

/* Project the parts of f into pixel rings in sc (one ring per part). */
static bool to_pixels(const lb_snap_level *lv, const lb_snap_feat *f, const view *v, scratch *sc)
{
    size_t total = 0;
    for (uint32_t p = 0; p < f->nparts; p++)
        total += lv->parts[f->first_part + p].n;
    if (!ensure(sc, total * 2, f->nparts))
        return false;
    double *o = sc->xy;
    for (uint32_t p = 0; p < f->nparts; p++) {
        const lb_snap_part *pt = &lv->parts[f->first_part + p];
        const double *in = lv->xy + 2 * pt->first;
        sc->rings[p].xy = o;
        sc->rings[p].n = pt->n;
        for (uint32_t i = 0; i < pt->n; i++) {
            o[2 * i] = (in[2 * i] - v->minx) * v->sx;
            o[2 * i + 1] = (v->maxy - in[2 * i + 1]) * v->sy;
        }
        o += 2 * pt->n;
    }
    return true;
}

static void stroke_of(const lb_paint *p, double scale, lb_stroke *st)
{
    memset(st, 0, sizeof *st);
    st->width = p->line_width * scale;
    st->join = p->join;
    st->cap = p->cap;
    st->miter_limit = p->miter_limit > 0 ? p->miter_limit : 2;
    st->ndash = p->ndash;
    for (size_t i = 0; i < p->ndash && i < LB_MAX_DASH; i++)
        st->dash[i] = p->dash[i] * st->width;
}

static void draw(lb_canvas *out, const lb_snap_level *lv, const lb_snap_feat *f,
                 const lb_paint *p, double scale, const view *v, scratch *sc)
{
    if (!to_pixels(lv, f, v, sc))
        return;
    switch (p->type) {
    case LB_STYLE_FILL:
        lb_raster_fill(out, sc->rings, f->nparts, p->fill);
        if (p->has_outline) {
            lb_stroke st = {.width = 1.0 * scale, .join = LB_JOIN_MITER, .miter_limit = 2};
            for (uint32_t i = 0; i < f->nparts; i++)
                lb_raster_stroke(out, &sc->rings[i], true, &st, p->outline);
        }
        break;
    case LB_STYLE_LINE: {
        lb_stroke st;
        stroke_of(p, scale, &st);
        if (st.width <= 0)
            break;
        for (uint32_t i = 0; i < f->nparts; i++)
            lb_raster_stroke(out, &sc->rings[i], f->type == LB_GEOM_POLYGON, &st, p->line);
        break;
    }
    case LB_STYLE_CIRCLE:
        for (uint32_t i = 0; i < f->nparts; i++)
            for (size_t k = 0; k < sc->rings[i].n; k++)
                lb_raster_marker(out, p->marker, sc->rings[i].xy[2 * k],
                                 sc->rings[i].xy[2 * k + 1], p->radius * scale, p->circle,
                                 p->stroke_width * scale, p->stroke);
        break;
    }
}

static bool applies(lb_style_type t, uint8_t geom)
{
    switch (t) {
    case LB_STYLE_FILL: return geom == LB_GEOM_POLYGON;
    case LB_STYLE_LINE: return geom == LB_GEOM_LINE || geom == LB_GEOM_POLYGON;
    case LB_STYLE_CIRCLE: return geom == LB_GEOM_POINT;
    }
    return false;
}

/* One feature hit of an overlay render: which snapshot, level and feature. */
typedef struct hit {
    uint64_t key;
    int64_t fid;
    const lb_snapshot *s;
    const lb_snap_level *lv;
    uint32_t idx;
} hit;

static int cmp_hit(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->fid > y->fid) - (x->fid < y->fid);
}

/* ---- class-major drawing --------------------------------------------------

A layer's visible features are drawn group by group, groups in the order of
lb_feature_group_cmp (label, and source where the render tells sources
apart), and within a group style layer after style layer, each in the
snapshot's drawing order.  A group is made of classes (lb_feature_class_cmp:
the reports merged into a fused feature, by fused label, are classes of
their own), which a predicate tells apart, but they are drawn together, in
drawing order: whether a report is a member changes where it is drawn for
nobody who draws it.  Drawing one group after another onto the same canvas
is therefore exactly drawing them all at once: a canvas holding the first k
groups of a set can be continued with the rest (the server shares such
prefixes between principals who see different sets of classes,
server/maps.c), and a render of a store holding only some classes gives the
same pixels as the server's render of those classes from the full store. */

int lb_feature_group_cmp(const lb_feature_info *a, const lb_feature_info *b, bool by_source)
{
    int c = lb_label_cmp(&a->label, &b->label);
    if (c)
        return c;
    if (by_source && a->source != b->source) {
        int c = strcmp(a->source ? a->source : "", b->source ? b->source : "");
        if (c)
            return c < 0 ? -1 : 1;
    }
    return 0;
}

int lb_feature_class_cmp(const lb_feature_info *a, const lb_feature_info *b, bool by_source)
{
    int c = lb_feature_group_cmp(a, b, by_source);
    if (c)
        return c;
    if (a->member != b->member)
        return a->member ? 1 : -1;
    return a->member ? lb_label_cmp(&a->fused, &b->fused) : 0;
}

/* Reallocate *p to bytes; false (and *p as it was) when out of memory. */
static bool grow(void **p, size_t bytes)
{
    void *q = realloc(*p, bytes);
    if (!q)
        return false;
    *p = q;
    return true;
}

static bool ensure_entries(scratch *sc, size_t n)
{
    if (n <= sc->ecap)
        return true;
    size_t nc = sc->ecap ? sc->ecap : 1024;
    while (nc < n)
        nc *= 2;
    bool ok = grow((void **)&sc->inf, nc * sizeof *sc->inf) &&
              grow((void **)&sc->ent, nc * sizeof *sc->ent) &&
              grow((void **)&sc->ord, nc * sizeof *sc->ord) &&
              grow((void **)&sc->cls, nc * sizeof *sc->cls) &&
              grow((void **)&sc->list, nc * sizeof *sc->list);
    if (!ok)
        return false; /* the arrays that grew keep their room; ecap stays */
    sc->ecap = nc;
    return true;
}

bool lb_tiler__rank_classes(const lb_feature_info *const *inf, size_t n, bool by_source,
                            uint32_t max, uint16_t *cls, uint32_t *nclasses)
{
    uint32_t rep[LB_SNAP_CLASSES]; /* an entry of each class, in order of appearance */
    uint16_t order[LB_SNAP_CLASSES], rank[LB_SNAP_CLASSES];
    uint32_t k = 0, last = 0;
    if (max > LB_SNAP_CLASSES)
        max = LB_SNAP_CLASSES;
    for (size_t e = 0; e < n; e++) {
        const lb_feature_info *fi = inf[e];
        uint32_t c = last;
        if (!k || (inf[rep[c]] != fi && lb_feature_class_cmp(inf[rep[c]], fi, by_source) != 0)) {
            c = 0;
            while (c < k && lb_feature_class_cmp(inf[rep[c]], fi, by_source) != 0)
                c++;
            if (c == k) {
                if (k == max)
                    return false;
                rep[k++] = (uint32_t)e;
            }
        }
        cls[e] = (uint16_t)c;
        last = c;
    }
    /* the classes in class order (few: insertion sort), then ids to ranks */
    for (uint32_t c = 0; c < k; c++)
        order[c] = (uint16_t)c;
    for (uint32_t i = 1; i < k; i++) {
        uint16_t x = order[i];
        uint32_t j = i;
        while (j > 0 && lb_feature_class_cmp(inf[rep[order[j - 1]]], inf[rep[x]], by_source) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = x;
    }
    for (uint32_t c = 0; c < k; c++)
        rank[order[c]] = (uint16_t)c;
    for (size_t e = 0; e < n; e++)
        cls[e] = rank[cls[e]];
    *nclasses = k;
    return true;
}

/* Classes ranked per render (overlays, unranked snapshots); more than this
 * and the entries are sorted instead. */
#define LB_RENDER_CLASSES 64

/* Sort ord[0..n) stably by the group of sc->inf[ord[i]] (bottom-up merge
 * sort through tmp, n entries): the entries of a group stay in the order
 * they came in, which is the drawing order. */
static void sort_by_class(const lb_feature_info *const *inf, uint32_t *ord, uint32_t *tmp,
                          size_t n, bool by_source)
{
    uint32_t *a = ord, *b = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                b[k++] = lb_feature_group_cmp(inf[a[j]], inf[a[i]], by_source) < 0 ? a[j++] : a[i++];
            while (i < mid)
                b[k++] = a[i++];
            while (j < hi)
                b[k++] = a[j++];
        }
        uint32_t *t = a;
        a = b;
        b = t;
    }
    if (a != ord)
        memcpy(ord, a, n * sizeof *ord);
}

/* Where the entries' features are: one level of one snapshot (ent = feature
 * index), or an overlay's hits (ent = hit index). */
typedef struct entry_src {
    const lb_snapshot *s;
    const lb_snap_level *lv;
    const hit *hits;
} entry_src;

/* The paint of style layer si (of type t) for entry e; false: not drawn. */
static bool entry_paint(const lb_render_layer *L, const entry_src *es, uint32_t e, size_t si,
                        lb_style_type t, double zoom, const lb_snap_level **lv_out,
                        const lb_snap_feat **f_out, lb_paint *p)
{
    const lb_snapshot *s = es->hits ? es->hits[e].s : es->s;
    const lb_snap_level *lv = es->hits ? es->hits[e].lv : es->lv;
    const lb_snap_feat *f = &lv->feats[es->hits ? es->hits[e].idx : e];
    *lv_out = lv;
    *f_out = f;
    if (!applies(t, f->type))
        return false;
    prop_ctx pc = {.s = s, .info = f->info};
    return L->style ? lb_style_eval(L->style, si, zoom, get_prop, &pc, p) : default_paint(t, p);
}

static inline lb_style_type style_type(const lb_render_layer *L, size_t si)
{
    return L->style ? lb_style_layer_type(L->style, si) : (lb_style_type)si;
}

/* Draw the features (or hits) list[a..b) (one class, or a run of them)
 * style layer after style layer, but the steps skip marks (mark_hidden;
 * skip[si * n + j], NULL: none). */
static void draw_entries(const lb_render_layer *L, const entry_src *es, const uint32_t *list,
                         size_t a, size_t b, const uint8_t *skip, size_t n, uint32_t c,
                         occ_walk *ow, double zoom, double scale, const view *v, lb_canvas *out,
                         scratch *sc)
{
    size_t nstyle = L->style ? lb_style_layer_count(L->style) : 3;
    const lb_blocks *clip = NULL;
    for (size_t si = 0; si < nstyle; si++) {
        lb_style_type t = style_type(L, si);
        for (size_t j = a; j < b; j++) {
            if (skip && skip[si * n + j])
                continue;
            const lb_snap_level *lv;
            const lb_snap_feat *f;
            lb_paint p;
            if (!entry_paint(L, es, list[j], si, t, zoom, &lv, &f, &p))
                continue;
            /* the blocks later steps cover: this step leaves them alone */
            const lb_blocks *m = ow->base_any ? ow->base : NULL;
            if (ow->idx >= 0) {
                uint64_t pos = step_pos(c, si, j);
                while (ow->idx >= 0 && sc->cp[ow->idx].pos <= pos)
                    ow->idx--;
                if (ow->idx >= 0)
                    m = &sc->cp[ow->idx].m;
            }
            if (m != clip) {
                lb_canvas_set_clip(out, m);
                clip = m;
            }
            draw(out, lv, f, &p, scale, v, sc);
        }
    }
    if (clip)
        lb_canvas_set_clip(out, NULL);
}

/* ---- occlusion ------------------------------------------------------------

A fill in an opaque colour leaves every pixel it covers completely at exactly
its colour, whatever was there: what was drawn before it there cannot show.
The canvas is divided into blocks (lb_blocks); going backwards through the
drawing steps, each opaque fill adds the blocks it covers completely
(lb_raster_fill_blocks), and a step whose pixels all lie in blocks covered
by later steps is not drawn.  The canvas comes out bit for bit the same
(tests/test_occlusion.c).  Large areas seen from close up (a tile inside a
district, a forest, a lake) are such fills when their style is opaque.  Only
fills at least a quarter of the canvas across are looked at as covers: the
blocks of a small one rarely hide anything. */

static bool grow_cp(scratch *sc)
{
    size_t nc = sc->cp_cap ? 2 * sc->cp_cap : 64;
    if (!grow((void **)&sc->cp, nc * sizeof *sc->cp))
        return false;
    sc->cp_cap = nc;
    return true;
}

static atomic_bool occlusion_off;

void lb_render_set_occlusion(bool on) { atomic_store(&occlusion_off, !on); }

static atomic_bool routing_off;

void lb_render_set_routing(bool on) { atomic_store(&routing_off, !on); }

static inline bool occlusion(void) { return !atomic_load_explicit(&occlusion_off, memory_order_relaxed); }

/* How far a step's pixels reach beyond its feature's box (pixels). */
static double paint_reach(const lb_paint *p, double scale)
{
    switch (p->type) {
    case LB_STYLE_FILL: /* the outline: width 1, miter joins up to 2 half-widths */
        return (p->has_outline ? 1.0 * scale : 0) + 2;
    case LB_STYLE_LINE: {
        double ml = p->miter_limit > 0 ? p->miter_limit : 2;
        return p->line_width * scale * 0.5 * fmax(ml, 1.5) + 2;
    }
    case LB_STYLE_CIRCLE:
        return (p->radius + p->stroke_width) * scale * 1.5 + 2;
    }
    return NAN;
}

/* Which style layers may cover (an opaque fill at this zoom, for some
 * feature): bit si of the result; style layers past 63 count as maybe. */
static uint64_t cover_layers(const lb_render_layer *L, double zoom)
{
    if (!L->style)
        return 0; /* the default fill is translucent */
    uint64_t m = 0;
    size_t nstyle = lb_style_layer_count(L->style);
    for (size_t si = 0; si < nstyle; si++)
        if (si >= 63 || lb_style_fill_may_be_opaque(L->style, si, zoom))
            m |= (uint64_t)1 << (si < 63 ? si : 63);
    return m;
}

static inline bool may_cover(uint64_t m, size_t si) { return m >> (si < 63 ? si : 63) & 1u; }

/* Add to o the blocks that feature f, filled with paint p, covers
 * completely when p's fill is opaque; whether o grew. */
static bool add_cover(const lb_snap_level *lv, const lb_snap_feat *f, const lb_paint *p,
                      const view *v, const lb_canvas *out, scratch *sc, lb_blocks *o)
{
    lb_blocks full;
    if (p->fill.a != 255 || !to_pixels(lv, f, v, sc) ||
        !lb_raster_fill_blocks(out, sc->rings, f->nparts, &full))
        return false;
    bool grew = false;
    for (int k = 0; k < LB_BLOCKS; k++) {
        grew |= (full.row[k] & ~o->row[k]) != 0;
        o->row[k] |= full.row[k];
    }
    return grew;
}

/* Mark the steps of list[a..b) (draw_entries' order) that o's blocks, or
 * later steps among them, hide; o gains the blocks their opaque fills
 * cover.  skip (n entries per style layer) is made and zeroed on the
 * first mark. */
static void mark_hidden(const lb_render_layer *L, const entry_src *es, const uint32_t *list,
                        size_t a, size_t b, size_t n, uint32_t c, double zoom, double scale,
                        const view *v, const lb_canvas *out, scratch *sc, lb_blocks *o,
                        bool *any, uint8_t **skip)
{
    size_t nstyle = L->style ? lb_style_layer_count(L->style) : 3;
    const double big = fmin(out->width, out->height) / 4.0;
    uint64_t covers = cover_layers(L, zoom);
    if (!covers && !*any)
        return; /* nothing here covers, nothing above does */
    for (size_t si = nstyle; si-- > 0;) {
        lb_style_type t = style_type(L, si);
        bool may = may_cover(covers, si);
        if (!may && !*any)
            continue;
        for (size_t j = b; j-- > a;) {
            uint32_t e = list[j];
            const lb_snap_level *lv = es->hits ? es->hits[e].lv : es->lv;
            const lb_snap_feat *f = &lv->feats[es->hits ? es->hits[e].idx : e];
            if (!applies(t, f->type))
                continue;
            double x0 = (f->minx - v->minx) * v->sx, x1 = (f->maxx - v->minx) * v->sx;
            double y0 = (v->maxy - f->maxy) * v->sy, y1 = (v->maxy - f->miny) * v->sy;
            bool cand = may && x1 - x0 >= big && y1 - y0 >= big;
            bool hid = *any && lb_blocks_cover(o, out, x0, y0, x1 + 1, y1 + 1);
            if (!cand && !hid)
                continue;
            lb_paint p;
            if (!entry_paint(L, es, e, si, t, zoom, &lv, &f, &p))
                continue; /* not drawn anyway */
            double r = paint_reach(&p, scale);
            if (hid && lb_blocks_cover(o, out, x0 - r, y0 - r, x1 + r, y1 + r)) {
                if (!*skip) {
                    if (sc->skip_cap < nstyle * n) {
                        if (!grow((void **)&sc->skip, nstyle * n))
                            return;
                        sc->skip_cap = nstyle * n;
                    }
                    memset(sc->skip, 0, nstyle * n);
                    *skip = sc->skip;
                }
                (*skip)[si * n + j] = 1;
                continue;
            }
            /* a checkpoint where o grows: the steps before this one leave o alone */
            if (cand && add_cover(lv, f, &p, v, out, sc, o)) {
                *any = true;
                if (sc->ncp < sc->cp_cap || grow_cp(sc))
                    sc->cp[sc->ncp++] = (occ_cp){.pos = step_pos(c, si, j), .m = *o};
            }
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Where entry list[k] comes in drawing order: an overlay's hits are in
 * drawing order, a snapshot's features have their position (seq). */
static inline uint32_t entry_pos(const entry_src *es, uint32_t ent)
{
    return es->hits ? ent : es->lv->feats[ent].seq;
}

/* Put list[a..b) (and ord alongside) into drawing order: the entries of a
 * group whose classes came one after the other. */
static void order_group(const entry_src *es, uint32_t *list, uint32_t *ord, size_t a, size_t b)
{
    size_t n = b - a;
    uint64_t *k = malloc(n * sizeof *k);
    uint32_t *o = malloc(n * sizeof *o);
    if (k && o) {
        for (size_t i = 0; i < n; i++)
            k[i] = (uint64_t)entry_pos(es, list[a + i]) << 32 | i;
        qsort(k, n, sizeof *k, cmp_u64);
        for (size_t i = 0; i < n; i++)
            o[i] = ord[a + (uint32_t)k[i]];
        for (size_t i = 0; i < n; i++) {
            ord[a + i] = o[i];
            o[i] = list[a + (uint32_t)k[i]];
        }
        memcpy(list + a, o, n * sizeof *o);
    }
    free(k);
    free(o);
}

/* Draw the n entries of sc (sc->inf, sc->ent filled) group by group, their
 * class ranks (below nclasses) in sc->cls: a counting sort puts them in
 * group order, and a group of several classes is put back into drawing
 * order. */
static void draw_ranked(const lb_render_layer *L, const entry_src *es, size_t n,
                        uint32_t nclasses, double zoom, double scale, const view *v,
                        lb_canvas *out, scratch *sc)
{
    if (n == 0)
        return;
    /* the group of each class present: classes of one group are next to
     * each other in rank order */
    uint32_t rep[LB_SNAP_CLASSES], grp[LB_SNAP_CLASSES];
    for (uint32_t c = 0; c < nclasses; c++)
        rep[c] = UINT32_MAX;
    for (size_t e = 0; e < n; e++)
        if (rep[sc->cls[e]] == UINT32_MAX)
            rep[sc->cls[e]] = (uint32_t)e;
    uint32_t ngroups = 0, prev = UINT32_MAX;
    bool multi = false; /* a group of several classes present */
    for (uint32_t c = 0; c < nclasses; c++) {
        if (rep[c] == UINT32_MAX)
            continue;
        bool same = prev != UINT32_MAX &&
                    lb_feature_group_cmp(sc->inf[rep[prev]], sc->inf[rep[c]], L->by_source) == 0;
        multi |= same;
        ngroups += !same;
        grp[c] = ngroups - 1;
        prev = c;
    }
    uint32_t at[LB_SNAP_CLASSES + 1];
    memset(at, 0, (ngroups + 1) * sizeof *at);
    for (size_t e = 0; e < n; e++)
        at[grp[sc->cls[e]] + 1]++;
    for (uint32_t c = 0; c < ngroups; c++)
        at[c + 1] += at[c];
    uint32_t fill[LB_SNAP_CLASSES];
    memcpy(fill, at, ngroups * sizeof *fill);
    for (size_t e = 0; e < n; e++) {
        uint32_t k = fill[grp[sc->cls[e]]]++;
        sc->ord[k] = (uint32_t)e;
        sc->list[k] = sc->ent[e];
    }
    if (multi)
        for (uint32_t c = 0; c < ngroups; c++)
            if (at[c + 1] - at[c] > 1)
                order_group(es, sc->list, sc->ord, at[c], at[c + 1]);
    nclasses = ngroups;
    /* Occlusion: without a callback per class, the later classes (and the
     * layers above: sc->above) hide steps of the earlier ones; with one,
     * each class's canvas is handed out, so only a class's own steps count. */
    uint8_t *skip = NULL;
    static const lb_blocks none;
    occ_walk ow = {.idx = -1, .base = &none};
    sc->ncp = 0;
    if (!L->class_done && occlusion()) {
        lb_blocks o = sc->above;
        bool any = false;
        for (int k = 0; k < LB_BLOCKS; k++)
            any |= o.row[k] != 0;
        ow = (occ_walk){.base = &sc->above, .base_any = any};
        for (uint32_t c = nclasses; c-- > 0;)
            mark_hidden(L, es, sc->list, at[c], at[c + 1], n, c, zoom, scale, v, out, sc, &o,
                        &any, &skip);
        ow.idx = (ptrdiff_t)sc->ncp - 1;
    }
    for (uint32_t c = 0; c < nclasses; c++) {
        if (at[c] == at[c + 1])
            continue;
        if (L->class_done && occlusion()) {
            lb_blocks o = {0};
            bool any = false;
            sc->ncp = 0;
            mark_hidden(L, es, sc->list, at[c], at[c + 1], n, c, zoom, scale, v, out, sc, &o,
                        &any, &skip);
            ow.idx = (ptrdiff_t)sc->ncp - 1;
        }
        draw_entries(L, es, sc->list, at[c], at[c + 1], skip, n, c, &ow, zoom, scale, v, out,
                     sc);
        if (L->class_done)
            L->class_done(L->class_ud, sc->inf[sc->ord[at[c]]], out);
    }
}

/* Draw the n entries of sc (sc->inf, sc->ent filled) class by class, their
 * classes found by comparing labels. */
static void draw_by_class(const lb_render_layer *L, const entry_src *es, size_t n, double zoom,
                          double scale, const view *v, lb_canvas *out, scratch *sc)
{
    uint32_t nk = 0;
    if (lb_tiler__rank_classes(sc->inf, n, L->by_source, LB_RENDER_CLASSES, sc->cls, &nk)) {
        draw_ranked(L, es, n, nk, zoom, scale, v, out, sc);
        return;
    }
    /* many classes: sort the entries instead, and walk the runs of a class */
    uint32_t *tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return;
    for (size_t e = 0; e < n; e++)
        sc->ord[e] = (uint32_t)e;
    sort_by_class(sc->inf, sc->ord, tmp, n, L->by_source);
    free(tmp);
    for (size_t j = 0; j < n; j++)
        sc->list[j] = sc->ent[sc->ord[j]];
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n &&
               lb_feature_group_cmp(sc->inf[sc->ord[a]], sc->inf[sc->ord[b]], L->by_source) == 0)
            b++;
        /* occlusion within the group only (many classes: rare) */
        static const lb_blocks none;
        lb_blocks o = {0};
        bool any = false;
        uint8_t *skip = NULL;
        sc->ncp = 0;
        if (occlusion())
            mark_hidden(L, es, sc->list, a, b, n, 0, zoom, scale, v, out, sc, &o, &any, &skip);
        occ_walk ow = {.idx = (ptrdiff_t)sc->ncp - 1, .base = &none};
        draw_entries(L, es, sc->list, a, b, skip, n, 0, &ow, zoom, scale, v, out, sc);
        if (L->class_done)
            L->class_done(L->class_ud, sc->inf[sc->ord[a]], out);
        a = b;
    }
}

/* Whether a render draws feature f (info fi): the predicate, or without one
 * (full rights) every feature but the reports merged into a fused feature,
 * told by f->member without touching the (cold) info. */
static inline bool visible(const lb_render_layer *L, const lb_snap_feat *f,
                           const lb_feature_info *fi)
{
    return L->pred ? L->pred(L->pred_ud, fi) : !f->member;
}

/* visible, and the layer's geometry predicate (if any) accepts f as drawn
 * from level lv. */
static inline bool drawn(const lb_render_layer *L, const lb_snap_level *lv,
                         const lb_snap_feat *f, const lb_feature_info *fi)
{
    if (!visible(L, f, fi))
        return false;
    if (!L->geom)
        return true;
    const double box[4] = {f->minx, f->miny, f->maxx, f->maxy};
    const lb_feature_geom g = {lv, f};
    return L->geom(L->geom_ud, fi, box, &g);
}

/*
 * The classes of snapshot s that a render of L draws, as a class set over
 * pre (room for LB_SNAP_CLASSES + 1), for walks that do not look at the
 * others: what the render reads then grows with the features the principal
 * may see, not with those it may not (its timing tells nothing about them).
 * The predicate is asked once per class, about one feature of it; that is
 * exact because a predicate looks only at what makes a feature's class
 * (lb_feature_pred).  Every feature found is still asked (visible), so a
 * predicate that broke that rule could only lose features, never show one it
 * rejects.  NULL (walk every class, as before): s is not ranked, or L tells
 * classes apart by source and s does not (its predicate may then treat the
 * features of one class of s differently), or class walks are off.
 */
static const lb_class_set *drawn_classes(const lb_render_layer *L, const lb_snapshot *s,
                                         uint16_t *pre, lb_class_set *cs)
{
    if (!s->ranked || (L->by_source && !s->by_source) || !lb_tiler__class_walks())
        return NULL;
    pre[0] = 0;
    for (uint32_t c = 0; c < s->nclasses; c++) {
        const lb_feature_info *fi = &s->infos[s->class_rep[c]];
        pre[c + 1] = (uint16_t)(pre[c] + (L->pred ? L->pred(L->pred_ud, fi) : !fi->member));
    }
    *cs = (lb_class_set){.pre = pre};
    return cs;
}

/* Whether hits a and b (points of a level of detail) are drawn alike, as
 * build_lod's same_appearance asks within one snapshot (an overlay holds no
 * reports merged into a fused feature: those layers are rebuilt whole). */
static bool hits_alike(const hit *a, const hit *b)
{
    uint32_t ia = a->lv->feats[a->idx].info, ib = b->lv->feats[b->idx].info;
    const lb_feature_info *x = &a->s->infos[ia], *y = &b->s->infos[ib];
    return lb_label_eq(&x->label, &y->label) && strcmp(x->source, y->source) == 0 &&
           x->member == y->member && (!x->member || lb_label_eq(&x->fused, &y->fused)) &&
           lb_tiler__values_eq(a->s, ia, b->s, ib);
}

/* The one vertex of a level-of-detail point (its cell's centre), or false. */
static bool lod_point(const hit *h, double xy[2])
{
    const lb_snap_feat *f = &h->lv->feats[h->idx];
    if (h->lv->max_zoom == INT_MAX || f->type != LB_GEOM_POINT || f->nparts != 1)
        return false;
    const lb_snap_part *p = &h->lv->parts[f->first_part];
    if (p->n != 1)
        return false;
    memcpy(xy, h->lv->xy + 2 * (size_t)p->first, 2 * sizeof(double));
    return true;
}

/*
 * Points of an overlay's base and delta that a level of detail draws as one
 * in a full snapshot (build_lod: the same cell, drawn alike) but that each
 * side kept for itself: only the first in drawing order stays, as in the
 * full snapshot, where two alike points at one place would otherwise be
 * drawn twice (a darker overdraw).  hits are in drawing order; the new
 * count.
 */
static size_t merge_overlay_twins(hit *hits, size_t nh)
{
    size_t cap = 16;
    while (cap < 2 * nh)
        cap <<= 1;
    uint32_t *tab = malloc(cap * sizeof *tab); /* hit index + 1, 0: empty */
    if (!tab)
        return nh;
    memset(tab, 0, cap * sizeof *tab);
    size_t n = 0;
    for (size_t i = 0; i < nh; i++) {
        double xy[2];
        bool keep = true;
        if (lod_point(&hits[i], xy)) {
            uint64_t bx, by;
            memcpy(&bx, &xy[0], sizeof bx);
            memcpy(&by, &xy[1], sizeof by);
            size_t slot = (size_t)((bx * 0x9E3779B97F4A7C15ULL) ^ (by * 0xC2B2AE3D27D4EB4FULL)) >> 7;
            for (slot &= cap - 1; tab[slot]; slot = (slot + 1) & (cap - 1)) {
                const hit *k = &hits[tab[slot] - 1];
                double kxy[2];
                if (k->s != hits[i].s && lod_point(k, kxy) && kxy[0] == xy[0] &&
                    kxy[1] == xy[1] && hits_alike(k, &hits[i])) {
                    keep = false;
                    break;
                }
            }
            if (keep) {
                hits[n] = hits[i];
                tab[slot] = (uint32_t)n + 1;
                n++;
            }
            continue;
        }
        hits[n++] = hits[i];
    }
    free(tab);
    return n;
}

/*
 * An overlay: the hits of base (less its removed fids) and of delta, merged
 * in drawing order (order key, then fid), then drawn as render_layer does.
 */
static void render_overlay(const lb_render_layer *L, double minx, double miny, double maxx,
                           double maxy, double zoom, double scale, lb_canvas *out, scratch *sc)
{
    const lb_snapshot *o = L->snap;
    view v = view_of(out, minx, miny, maxx, maxy);
    double mx = LB_RENDER_MARGIN_PX * scale / v.sx, my = LB_RENDER_MARGIN_PX * scale / v.sy;
    hit *hits = NULL;
    size_t nh = 0, cap = 0;
    for (int part = 0; part < 2; part++) {
        const lb_snapshot *s = part ? o->delta : o->base;
        if (s->nlevels == 0)
            continue;
        const lb_snap_level *lv = lb_tiler__level_for(s, 1.0 / fmax(v.sx, v.sy));
        uint16_t pre[LB_SNAP_CLASSES + 1];
        lb_class_set cset;
        lb_tiler__query(lv, minx - mx, miny - my, maxx + mx, maxy + my,
                        drawn_classes(L, s, pre, &cset), &sc->idx);
        for (size_t k = 0; k < sc->idx.n; k++) {
            const lb_snap_feat *f = &lv->feats[sc->idx.v[k]];
            int64_t fid = s->infos[f->info].fid;
            if (!part && lb_tiler__removed(o, fid) && !lb_tiler__twin_visible(o, lv, fid))
                continue;
            if (!drawn(L, lv, f, &s->infos[f->info]))
                continue;
            if (nh == cap) {
                size_t nc = cap ? cap * 2 : 256;
                hit *p = realloc(hits, nc * sizeof *p);
                if (!p) {
                    free(hits);
                    return;
                }
                hits = p;
                cap = nc;
            }
            hits[nh++] = (hit){.key = lb_tiler__order_key(s->grid, f), .fid = fid, .s = s,
                               .lv = lv, .idx = sc->idx.v[k]};
        }
    }
    if (nh > 1) { /* hits is NULL when nothing was found */
        qsort(hits, nh, sizeof *hits, cmp_hit);
        nh = merge_overlay_twins(hits, nh);
    }
    if (ensure_entries(sc, nh)) {
        for (size_t k = 0; k < nh; k++) {
            sc->inf[k] = &hits[k].s->infos[hits[k].lv->feats[hits[k].idx].info];
            sc->ent[k] = (uint32_t)k;
        }
        entry_src es = {.hits = hits};
        draw_by_class(L, &es, nh, zoom, scale, &v, out, sc);
    }
    free(hits);
}


/* Sort feature indices of lv into drawing order (lb_snap_feat.seq); false
 * when out of memory. */
static bool sort_by_seq(const lb_snap_level *lv, uint32_t *v, size_t n)
{
    uint64_t *k = malloc((n ? n : 1) * sizeof *k);
    if (!k)
        return false;
    for (size_t i = 0; i < n; i++)
        k[i] = (uint64_t)lv->feats[v[i]].seq << 32 | v[i];
    qsort(k, n, sizeof *k, cmp_u64);
    for (size_t i = 0; i < n; i++)
        v[i] = (uint32_t)k[i];
    free(k);
    return true;
}

static void render_layer(const lb_render_layer *L, double minx, double miny, double maxx,
                         double maxy, double zoom, double scale, lb_canvas *out, scratch *sc)
{
    const lb_snapshot *s = L->snap;
    if (s->base) {
        render_overlay(L, minx, miny, maxx, maxy, zoom, scale, out, sc);
        return;
    }
    view v = view_of(out, minx, miny, maxx, maxy);
    const lb_snap_level *lv = lb_tiler__level_for(s, 1.0 / fmax(v.sx, v.sy));
    double mx = LB_RENDER_MARGIN_PX * scale / v.sx, my = LB_RENDER_MARGIN_PX * scale / v.sy;
    uint16_t pre[LB_SNAP_CLASSES + 1];
    lb_class_set cset;
    lb_tiler__query(lv, minx - mx, miny - my, maxx + mx, maxy + my,
                    drawn_classes(L, s, pre, &cset), &sc->idx);
    if (sc->idx.n == 0 || !ensure_entries(sc, sc->idx.n))
        return;
    size_t n = 0;
    bool ranked = s->ranked && s->by_source == L->by_source;
    /* grouped by other classes than the snapshot's: from the drawing order
     * (the walk gives them class by class) */
    if (s->ranked && !ranked && !sort_by_seq(lv, sc->idx.v, sc->idx.n))
        return;
    for (size_t k = 0; k < sc->idx.n; k++) {
        const lb_snap_feat *f = &lv->feats[sc->idx.v[k]];
        const lb_feature_info *fi = &s->infos[f->info];
        if (!drawn(L, lv, f, fi))
            continue;
        sc->inf[n] = fi;
        sc->cls[n] = f->cls;
        sc->ent[n++] = sc->idx.v[k];
    }
    entry_src es = {.s = s, .lv = lv};
    if (ranked)
        draw_ranked(L, &es, n, s->nclasses, zoom, scale, &v, out, sc);
    else
        draw_by_class(L, &es, n, zoom, scale, &v, out, sc);
}

/* Add to o the blocks that layer L's opaque fills cover (mark_hidden): they
 * are opaque on its canvas, so the layers below cannot show there.  Plain
 * snapshots only (overlays add nothing: not worth their merge). */
static void layer_blocks(const lb_render_layer *L, double minx, double miny, double maxx,
                         double maxy, double zoom, const lb_canvas *out, scratch *sc,
                         lb_blocks *o)
{
    const lb_snapshot *s = L->snap;
    uint64_t covers = cover_layers(L, zoom);
    if (!s || s->base || s->nlevels == 0 || !covers)
        return;
    view v = view_of(out, minx, miny, maxx, maxy);
    const lb_snap_level *lv = lb_tiler__level_for(s, 1.0 / fmax(v.sx, v.sy));
    const double big = fmin(out->width, out->height) / 4.0;
    uint16_t pre[LB_SNAP_CLASSES + 1];
    lb_class_set cset;
    lb_tiler__query_big(lv, minx, miny, maxx, maxy, big / v.sx, big / v.sy,
                        drawn_classes(L, s, pre, &cset), &sc->idx);
    entry_src es = {.s = s, .lv = lv};
    size_t nstyle = L->style ? lb_style_layer_count(L->style) : 3;
    for (size_t k = 0; k < sc->idx.n; k++) {
        const lb_snap_feat *f = &lv->feats[sc->idx.v[k]];
        if (f->type != LB_GEOM_POLYGON || (f->maxx - f->minx) * v.sx < big ||
            (f->maxy - f->miny) * v.sy < big || !drawn(L, lv, f, &s->infos[f->info]))
            continue;
        for (size_t si = 0; si < nstyle; si++) {
            lb_style_type t = style_type(L, si);
            const lb_snap_level *flv;
            const lb_snap_feat *ff;
            lb_paint p;
            if (may_cover(covers, si) &&
                entry_paint(L, &es, sc->idx.v[k], si, t, zoom, &flv, &ff, &p) &&
                add_cover(lv, f, &p, &v, out, sc, o))
                break;
        }
    }
}

/* Transparent pixel buffers for layer canvases, kept between renders: a
 * layer canvas is all zero again when lb_render_area is done with it (every
 * row drawn into is cleared as it is composited), so the next render of the
 * same size takes it without allocating and clearing it.  At most 8
 * buffers and 32 MB; never emptied (reachable). */
static lb_pool zpool = LB_POOL_INIT(8, (size_t)32 << 20);

static uint8_t *zero_px_get(size_t bytes)
{
    uint8_t *px = lb_pool_take(&zpool, bytes);
    return px ? px : calloc(bytes, 1);
}

/* px must be all zero */
static void zero_px_put(uint8_t *px, size_t bytes) { lb_pool_give(&zpool, px, bytes); }

lb_status lb_render_area(const lb_render_layer *layers, size_t n, double minx, double miny,
                         double maxx, double maxy, double zoom, double scale, lb_canvas *out,
                         lb_error *err)
{
    if (!(maxx > minx) || !(maxy > miny) || !isfinite(minx) || !isfinite(maxy))
        return lb_fail(err, LB_EINVAL, "empty or invalid render area");
    scratch sc = {0};
    lb_status rc = LB_OK;
    /* known transparent (lb_canvas_clear), or found to be by a scan below */
    bool zeroed = out->zeroed;
    out->zeroed = false;
    if (n == 1) {
        if (layers[0].snap)
            render_layer(&layers[0], minx, miny, maxx, maxy, zoom, scale, out, &sc);
    } else {
        /* Each layer on a canvas of its own, then composited "over" in
         * order: exactly what the server does with its per-layer tile cache,
         * so both give the same pixels.  Only the rows a layer drew into are
         * composited and cleared again, and the layer canvas borrows out's
         * rasterizer scratch (it is all zero between shapes) instead of
         * making its own. */
        lb_canvas lc = {0};
        size_t bytes = (size_t)out->width * (size_t)out->height * 4;
        uint8_t *lpx = zero_px_get(bytes);
        rc = lpx ? lb_canvas_init_view(&lc, out->width, out->height, lpx) : LB_ENOMEM;
        /* The first layer drawn onto a transparent tile needs no canvas of
         * its own: src over transparent is src, bit for bit. */
        bool direct = zeroed || lb_canvas_is_empty(out);
        /* Occlusion: the blocks each layer's opaque fills cover hide the
         * layers below there (and out's pixels) bit for bit; a layer (or
         * out) hidden everywhere is not drawn, and each layer skips its
         * steps hidden by those above (mark_hidden).  Not with class
         * callbacks, which expect every step. */
        bool callbacks = false;
        for (size_t i = 0; i < n; i++)
            callbacks |= layers[i].class_done != NULL;
        lb_blocks *above = callbacks || !occlusion() ? NULL : calloc(n, sizeof *above);
        size_t first = 0;
        if (above) {
            for (size_t i = n; i-- > 1;) {
                above[i - 1] = above[i];
                if (layers[i].snap)
                    layer_blocks(&layers[i], minx, miny, maxx, maxy, zoom, out, &sc,
                                 &above[i - 1]);
                if (lb_blocks_cover(&above[i - 1], out, 0, 0, out->width, out->height)) {
                    first = i;
                    break;
                }
            }
        }
        /* Routing: where out is still transparent, a layer drawn onto lc and
         * composited over out gives exactly what drawing it onto out gives
         * (src over transparent is src).  occ holds, per row, the painted
         * blocks (raster_int.h) of out that may hold anything; a layer's
         * pixels elsewhere go straight to out (route_px), only those in occ
         * go through lc.  NULL when out did not start transparent. */
        uint64_t *occ = direct && !atomic_load_explicit(&routing_off, memory_order_relaxed)
                            ? calloc((size_t)out->height, sizeof *occ)
                            : NULL;
        if (direct && out->work)
            lb__dirty_reset(out);
        for (size_t i = first; rc == LB_OK && i < n; i++) {
            if (!layers[i].snap)
                continue;
            sc.above = above ? above[i] : (lb_blocks){0};
            if (direct) {
                render_layer(&layers[i], minx, miny, maxx, maxy, zoom, scale, out, &sc);
                direct = false;
                /* what the first layer painted (since the reset above) */
                const lb__rwork *ow = out->work;
                if (occ && ow)
                    for (int j = ow->dirty0; j < ow->dirty1; j++)
                        occ[j] = ow->rowmask[j];
                continue;
            }
            if (!lc.work && out->work) {
                lc.work = out->work;
                out->work = NULL;
            }
            lb__dirty_reset(&lc);
            lb__rwork *lw = occ ? lb__work(&lc) : NULL;
            if (lw) {
                lw->route_px = out->px;
                lw->route_occ = occ;
            }
            render_layer(&layers[i], minx, miny, maxx, maxy, zoom, scale, &lc, &sc);
            if (lw)
                lw->route_px = NULL;
            /* only the painted blocks of the painted rows (of those, the ones
             * in occ); lc is transparent again afterwards */
            lb__canvas_over_painted(out, &lc, lw ? occ : NULL);
        }
        free(occ);
        if (rc == LB_OK) {
            if (!out->work) {
                out->work = lc.work;
                lc.work = NULL;
            }
            assert(lb_canvas_is_empty(&lc));
            lb_canvas_free(&lc); /* borrowed: frees only a scratch it still has */
            zero_px_put(lpx, bytes);
        } else {
            free(lpx);
            rc = lb_fail(err, LB_ENOMEM, "out of memory");
        }
        free(above);
    }
    free(sc.xy);
    free(sc.rings);
    free(sc.idx.v);
    free(sc.inf);
    free(sc.ent);
    free(sc.ord);
    free(sc.cls);
    free(sc.list);
    free(sc.skip);
    free(sc.cp);
    return rc;
}

lb_status lb_render_tile(const lb_render_layer *layers, size_t n, const lb_tms *grid, int z,
                         long x, long y, int scale, lb_canvas *out, lb_error *err)
{
    double minx, miny, maxx, maxy;
    if (!lb_tms_tile_bounds(grid, z, x, y, &minx, &miny, &maxx, &maxy))
        return lb_fail(err, LB_ERANGE, "tile %d/%ld/%ld does not exist in %s", z, x, y, grid->id);
    if (out->width != grid->tile_size * scale || out->height != grid->tile_size * scale)
        return lb_fail(err, LB_EINVAL, "canvas is %dx%d, tile needs %d px", out->width,
                       out->height, grid->tile_size * scale);
    /* style zoom: WebMercator zoom of the same resolution, so styles written
     * for XYZ maps look the same on every grid */
    double res = lb_tms_resolution(grid, z);
    double zoom = log2(156543.03392804097 / res);
    return lb_render_area(layers, n, minx, miny, maxx, maxy, zoom, scale, out, err);
}

/* ---- questions about the classes in a box ----------------------------------

lb_snapshot_max_level and lb_snapshot_classes answer for the full-detail
level of a snapshot.  On a ranked snapshot each class is a walk of its own
(lb_class_set of that class) that ends at its first feature that counts, and
a class whose class test fails is not walked: what they read grows with the
classes and the tree's height, and with the features of the classes asked
about, not with the others.  Unranked snapshots are walked whole, as
before. */

_Static_assert((int)LB_FEATURE_POINTS == (int)LB_GEOM_POINT &&
                   (int)LB_FEATURE_LINES == (int)LB_GEOM_LINE &&
                   (int)LB_FEATURE_POLYGONS == (int)LB_GEOM_POLYGON,
               "lb_feature_geom_type returns the snapshot's geometry types");

int lb_feature_geom_type(const lb_feature_geom *g) { return g->f->type; }

size_t lb_feature_geom_parts(const lb_feature_geom *g) { return g->f->nparts; }

const double *lb_feature_geom_part(const lb_feature_geom *g, size_t i, size_t *n)
{
    const lb_snap_part *pt = &g->lv->parts[g->f->first_part + i];
    *n = pt->n;
    return g->lv->xy + 2 * (size_t)pt->first;
}

/* A walk for the first feature of a class that counts. */
typedef struct class_probe {
    const lb_snapshot *s;    /* the plain snapshot walked */
    const lb_snapshot *over; /* its overlay, whose removed features do not count; or NULL */
    const lb_snap_level *lv;
    lb_feature_geom_pred pred; /* NULL: every feature counts */
    lb_feature_pred cls;      /* unranked walks: the class test per feature */
    void *ud;
    lb_feature_fn fn; /* unranked walks for lb_snapshot_classes: told of every feature */
    int best;         /* unranked walks for lb_snapshot_max_level */
    uint32_t found;   /* the feature that counted, or UINT32_MAX */
} class_probe;

static bool counts(const class_probe *p, const lb_snap_feat *f, const lb_feature_info *fi)
{
    if (p->over && lb_tiler__removed(p->over, fi->fid))
        return false;
    if (!p->pred)
        return true;
    double box[4] = {f->minx, f->miny, f->maxx, f->maxy};
    lb_feature_geom g = {p->lv, f};
    return p->pred(p->ud, fi, box, &g);
}

static bool probe_leaf(void *ud, uint32_t leaf)
{
    class_probe *p = ud;
    const lb_snap_feat *f = &p->lv->feats[leaf];
    if (!counts(p, f, &p->s->infos[f->info]))
        return true;
    p->found = leaf;
    return false;
}

/* Unranked: every feature in the box. */
static bool level_leaf(void *ud, uint32_t leaf)
{
    class_probe *p = ud;
    const lb_snap_feat *f = &p->lv->feats[leaf];
    const lb_feature_info *fi = &p->s->infos[f->info];
    if ((int)fi->label.level > p->best && (p->pred || !fi->member) &&
        (!p->cls || p->cls(p->ud, fi)) && counts(p, f, fi))
        p->best = (int)fi->label.level;
    return true;
}

static bool class_leaf(void *ud, uint32_t leaf)
{
    class_probe *p = ud;
    const lb_snap_feat *f = &p->lv->feats[leaf];
    const lb_feature_info *fi = &p->s->infos[f->info];
    if (counts(p, f, fi))
        p->fn(p->ud, fi);
    return true;
}

/* lb_snapshot_max_level over plain snapshot s (over: its overlay), counting
 * only levels above best. */
static int max_level_in(const lb_snapshot *s, const lb_snapshot *over, double minx, double miny,
                        double maxx, double maxy, lb_feature_pred cls, lb_feature_geom_pred pred,
                        void *ud, int best)
{
    if (s->nlevels == 0)
        return best;
    const lb_snap_level *lv = &s->levels[s->nlevels - 1];
    class_probe p = {.s = s, .over = over, .lv = lv, .pred = pred, .cls = cls, .ud = ud,
                     .best = best};
    if (!s->ranked || !lb_tiler__class_walks()) {
        lb_tiler__visit(lv, minx, miny, maxx, maxy, NULL, level_leaf, &p);
        return p.best;
    }
    /* Classes rank by level first: from the highest down, and done at the
     * first class not above the best level found. */
    for (uint32_t c = s->nclasses; c-- > 0;) {
        const lb_feature_info *rep = &s->infos[s->class_rep[c]];
        if ((int)rep->label.level <= best)
            break;
        if ((!pred && rep->member) || (cls && !cls(ud, rep)))
            continue;
        lb_class_set one = {.lo = c, .hi = c};
        p.found = UINT32_MAX;
        lb_tiler__visit(lv, minx, miny, maxx, maxy, &one, probe_leaf, &p);
        if (p.found != UINT32_MAX)
            best = (int)rep->label.level;
    }
    return best;
}

int lb_snapshot_max_level(const lb_snapshot *s, double minx, double miny, double maxx,
                          double maxy, lb_feature_pred cls, lb_feature_geom_pred pred, void *ud)
{
    if (s->base) {
        /* the base's removed features must not count: filter them */
        int best = max_level_in(s->delta, NULL, minx, miny, maxx, maxy, cls, pred, ud, -1);
        return max_level_in(s->base, s, minx, miny, maxx, maxy, cls, pred, ud, best);
    }
    return max_level_in(s, NULL, minx, miny, maxx, maxy, cls, pred, ud, -1);
}

/* lb_snapshot_classes over plain snapshot s (over: its overlay). */
static void classes_in(const lb_snapshot *s, const lb_snapshot *over, double minx, double miny,
                       double maxx, double maxy, lb_feature_fn fn, void *ud)
{
    if (s->nlevels == 0)
        return;
    const lb_snap_level *lv = &s->levels[s->nlevels - 1];
    class_probe p = {.s = s, .over = over, .lv = lv, .fn = fn, .ud = ud};
    if (!s->ranked || !lb_tiler__class_walks()) {
        lb_tiler__visit(lv, minx, miny, maxx, maxy, NULL, class_leaf, &p);
        return;
    }
    for (uint32_t c = 0; c < s->nclasses; c++) {
        lb_class_set one = {.lo = c, .hi = c};
        p.found = UINT32_MAX;
        lb_tiler__visit(lv, minx, miny, maxx, maxy, &one, probe_leaf, &p);
        if (p.found != UINT32_MAX)
            fn(ud, &s->infos[lv->feats[p.found].info]);
    }
}

void lb_snapshot_classes(const lb_snapshot *s, double minx, double miny, double maxx,
                         double maxy, lb_feature_fn fn, void *ud)
{
    if (s->base) {
        classes_in(s->delta, NULL, minx, miny, maxx, maxy, fn, ud);
        classes_in(s->base, s, minx, miny, maxx, maxy, fn, ud);
        return;
    }
    classes_in(s, NULL, minx, miny, maxx, maxy, fn, ud);
}
