/*
 * This file implements the geometry of live events (live_int.h): what an
 * event may say of a change under one grant, as the principal's tiles show
 * it -- the exact geometry where it is drawn exactly, only the cells where
 * it is drawn generalised, and within an area limit only where it meets the
 * area's polygon.  server/live.c decides who gets an event and sends it.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <ogr_api.h>

#include "lagebild/generalise.h"
#include "live_int.h"

static void box_union(double *acc, bool *have, const double *b)
{
    if (!*have) {
        memcpy(acc, b, 4 * sizeof *acc);
        *have = true;
        return;
    }
    acc[0] = fmin(acc[0], b[0]);
    acc[1] = fmin(acc[1], b[1]);
    acc[2] = fmax(acc[2], b[2]);
    acc[3] = fmax(acc[3], b[3]);
}

/*
 * What an event may say about a change is what the principal's tiles show
 * of it, nothing finer: a version drawn generalised counts only by its
 * cells (the ones the tiles draw: tiler/snapshot.c generalise()), and one
 * seen under an area limit only where it meets the area polygon (holes are
 * holes).  So the geometry of each version is needed, not just its box.
 * notify() works it out once per call, for every grant that asks: ev_ctx
 * holds the versions of the changes of the layer, each read and
 * generalised when first needed, and the area polygons, each built when
 * first needed.  One publisher thread: the lb_gen is the call's own.
 */

/* A cell of a generalised point. */
typedef struct ev_cell {
    double i, j; /* column and row of a cell of LB_GEN_CRS */
    double x, y; /* its centre, lon/lat */
} ev_cell;

/* One version (old or new) of a changed feature, as far as worked out. */
typedef struct ev_ver {
    const unsigned char *wkb;
    size_t wkb_len;
    const double *box; /* of the exact geometry, lon/lat */
    bool read, readable;
    OGRGeometryH geom; /* the exact geometry */
    double *xy;        /* its vertices, lon/lat pairs */
    size_t nv;
    bool point; /* drawn as points: the first part is a point (as the tiler decides) */
    int gen;    /* generalised form: 0 not made yet, 1 made, -1 none (the tiles omit it) */
    double gbox[4]; /* lon/lat box of its cells (lb_gen_box) */
    ev_cell *cells; /* points: the distinct cells of the vertices, sorted */
    size_t ncells;
    double blk[4]; /* lines, polygons: the block of cells */
} ev_ver;

/* The changes of one pending commit of the layer. */
typedef struct ev_batch {
    const pending *q;
    const lb_source_cfg *src;
    double cell; /* its source's generalised cell size, 0: no release rule */
    ev_ver *v;   /* 2 per change: old, new */
} ev_batch;

/* The lon/lat box of a cell (lb_gen_box): 64 points to project, so each
 * cell's once per call (a large push has many points per cell). */
typedef struct ev_cellbox {
    double cell, i, j, box[4];
    bool used;
} ev_cellbox;

typedef struct ev_ctx {
    const lb_state *st;
    ev_batch *b;
    size_t nb;
    ev_ver *vers;
    lb_gen *gen; /* made when first needed */
    bool gen_failed;
    ev_cellbox *cb; /* open addressing, at most half full */
    size_t cb_n, cb_cap;
    size_t nareas;
    OGRGeometryH *area; /* per access area, built when first needed */
    int8_t *area_state; /* 0 not built, 1 built, -1 unusable: nothing counts as inside */
    double (*abox)[4];
    /* what the generalised snapshots draw differently (lb_ev_gen_changes),
     * or none known (gchanges NULL) */
    lb_ev_gen_change *gchanges;
    size_t ngchanges;
    /* conflated layers: every version drawn differently (lb_ev_snap_changes) */
    lb_ev_snap_change *schanges;
    size_t nschanges;
} ev_ctx;

static void ev_release(ev_ctx *c)
{
    for (size_t i = 0; c->vers && i < c->nb; i++)
        for (size_t k = 0; k < 2 * c->b[i].q->nchanges; k++) {
            ev_ver *v = &c->b[i].v[k];
            if (v->geom)
                OGR_G_DestroyGeometry(v->geom);
            free(v->xy);
            free(v->cells);
        }
    for (size_t a = 0; c->area && a < c->nareas; a++)
        if (c->area[a])
            OGR_G_DestroyGeometry(c->area[a]);
    free(c->area);
    free(c->area_state);
    free(c->abox);
    free(c->vers);
    free(c->b);
    free(c->cb);
    free(c->gchanges);
    free(c->schanges);
    lb_gen_free(c->gen);
}

/* The versions of every change of layer in ps; false when out of memory. */
static bool ev_init(ev_ctx *c, const lb_state *st, const char *layer, const pending *ps)
{
    memset(c, 0, sizeof *c);
    c->st = st;
    size_t nb = 0, nv = 0;
    for (const pending *q = ps; q; q = q->next)
        if (strcmp(q->layer, layer) == 0 && q->nchanges) {
            nb++;
            nv += 2 * q->nchanges;
        }
    c->nareas = lb_access_area_count(st->access);
    c->b = calloc(nb ? nb : 1, sizeof *c->b);
    c->vers = calloc(nv ? nv : 1, sizeof *c->vers);
    c->area = calloc(c->nareas ? c->nareas : 1, sizeof *c->area);
    c->area_state = calloc(c->nareas ? c->nareas : 1, sizeof *c->area_state);
    c->abox = calloc(c->nareas ? c->nareas : 1, sizeof *c->abox);
    if (!c->b || !c->vers || !c->area || !c->area_state || !c->abox) {
        ev_release(c);
        return false;
    }
    ev_ver *v = c->vers;
    for (const pending *q = ps; q; q = q->next) {
        if (strcmp(q->layer, layer) != 0 || !q->nchanges)
            continue;
        ev_batch *b = &c->b[c->nb++];
        b->q = q;
        b->src = lb_config_source(st->cfg, q->source);
        b->cell = b->src && b->src->generalised_groups ? b->src->generalised_cell_m : 0;
        b->v = v;
        for (size_t i = 0; i < q->nchanges; i++, v += 2) {
            const lb_change *ch = &q->changes[i];
            v[0] = (ev_ver){.wkb = ch->old_wkb, .wkb_len = ch->old_wkb_len, .box = ch->old_box};
            v[1] = (ev_ver){.wkb = ch->new_wkb, .wkb_len = ch->new_wkb_len, .box = ch->new_box};
        }
    }
    return true;
}

/* Append the vertices of g to v (kind from the first part, as the tiler's). */
static bool collect_vertices(ev_ver *v, OGRGeometryH g, size_t *cap, bool *first, int depth)
{
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (t == wkbPoint || t == wkbLineString || t == wkbLinearRing) {
        if (*first) {
            v->point = t == wkbPoint;
            *first = false;
        }
        if (OGR_G_IsEmpty(g))
            return true;
        size_t n = (size_t)OGR_G_GetPointCount(g);
        if (v->nv + n > *cap) {
            size_t nc = (v->nv + n) * 2;
            double *p = realloc(v->xy, nc * 2 * sizeof *p);
            if (!p)
                return false;
            v->xy = p;
            *cap = nc;
        }
        double *xy = v->xy + 2 * v->nv;
        OGR_G_GetPoints(g, xy, 2 * sizeof *xy, xy + 1, 2 * sizeof *xy, NULL, 0);
        v->nv += n;
        return true;
    }
    if (t == wkbPolygon && *first) {
        v->point = false;
        *first = false;
    }
    if (depth > 8)
        return false;
    for (int i = 0; i < OGR_G_GetGeometryCount(g); i++)
        if (!collect_vertices(v, OGR_G_GetGeometryRef(g, i), cap, first, depth + 1))
            return false;
    return true;
}

/* Read v's geometry (once); false when it has none that can be read. */
static bool ver_read(ev_ver *v)
{
    if (v->read)
        return v->readable;
    v->read = true;
    if (!v->wkb || v->wkb_len > INT_MAX)
        return false; /* not kept (LB_CHANGE_WKB_BUDGET): fail closed */
    OGRGeometryH g = NULL;
    if (OGR_G_CreateFromWkb(v->wkb, NULL, &g, (int)v->wkb_len) != OGRERR_NONE || !g)
        return false;
    v->geom = g;
    size_t cap = 0;
    bool first = true;
    v->readable = collect_vertices(v, g, &cap, &first, 0) && v->nv > 0;
    return v->readable;
}

static int cmp_cell(const void *a, const void *b)
{
    const ev_cell *x = a, *y = b;
    if (x->i != y->i)
        return x->i < y->i ? -1 : 1;
    return (x->j > y->j) - (x->j < y->j);
}

static size_t cellbox_slot(const ev_cellbox *t, size_t cap, double cell, double i, double j)
{
    uint64_t h = (uint64_t)(int64_t)i * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(int64_t)j ^
                 (uint64_t)(int64_t)cell << 20;
    h ^= h >> 31;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    size_t k = (size_t)h & (cap - 1);
    while (t[k].used && !(t[k].i == i && t[k].j == j && t[k].cell == cell))
        k = (k + 1) & (cap - 1);
    return k;
}

/* The box of cell e of cell metres. */
static bool cell_box(ev_ctx *c, const ev_cell *e, double cell, double out[4])
{
    if (2 * (c->cb_n + 1) > c->cb_cap) {
        size_t nc = c->cb_cap ? 2 * c->cb_cap : 256;
        ev_cellbox *t = calloc(nc, sizeof *t);
        if (!t)
            return false;
        for (size_t k = 0; k < c->cb_cap; k++)
            if (c->cb[k].used)
                t[cellbox_slot(t, nc, c->cb[k].cell, c->cb[k].i, c->cb[k].j)] = c->cb[k];
        free(c->cb);
        c->cb = t;
        c->cb_cap = nc;
    }
    ev_cellbox *b = &c->cb[cellbox_slot(c->cb, c->cb_cap, cell, e->i, e->j)];
    if (!b->used) {
        const double xy[2] = {e->x, e->y};
        if (lb_gen_box(c->gen, xy, 1, true, cell, b->box, NULL) != LB_OK)
            return false;
        b->cell = cell;
        b->i = e->i;
        b->j = e->j;
        b->used = true;
        c->cb_n++;
    }
    memcpy(out, b->box, sizeof b->box);
    return true;
}

/*
 * The generalised form of v on cells of cell metres (once): points, their
 * distinct cells and centres; lines and polygons, their block of cells; and
 * the box lb_gen_box gives.  false when the tiles leave it out (no vertex
 * read, one outside LB_GEN_CRS) or it cannot be made.
 */
static bool ver_gen(ev_ctx *c, ev_ver *v, double cell)
{
    if (v->gen)
        return v->gen > 0;
    v->gen = -1;
    if (!(cell > 0) || !ver_read(v))
        return false;
    if (!c->gen && !c->gen_failed && lb_gen_new(&c->gen, NULL) != LB_OK)
        c->gen_failed = true;
    if (!c->gen)
        return false;
    if (!v->point) {
        if (lb_gen_block(c->gen, v->xy, v->nv, cell, v->blk, NULL) != LB_OK ||
            lb_gen_box(c->gen, v->xy, v->nv, false, cell, v->gbox, NULL) != LB_OK)
            return false;
        v->gen = 1;
        return true;
    }
    v->cells = malloc(v->nv * sizeof *v->cells);
    if (!v->cells)
        return false;
    /* the cells and their centres of all vertices, one projection each way */
    double *ij = malloc(v->nv * 4 * sizeof *ij), *centre = ij ? ij + 2 * v->nv : NULL;
    if (!ij || lb_gen_cells(c->gen, v->xy, v->nv, cell, ij, centre, NULL) != LB_OK) {
        free(ij);
        return false;
    }
    for (size_t k = 0; k < v->nv; k++)
        v->cells[k] = (ev_cell){ij[2 * k], ij[2 * k + 1], centre[2 * k], centre[2 * k + 1]};
    free(ij);
    qsort(v->cells, v->nv, sizeof *v->cells, cmp_cell);
    size_t n = 0;
    for (size_t k = 0; k < v->nv; k++)
        if (n == 0 || cmp_cell(&v->cells[n - 1], &v->cells[k]) != 0)
            v->cells[n++] = v->cells[k];
    v->ncells = n;
    bool have = false;
    for (size_t k = 0; k < n; k++) {
        double b[4];
        if (!cell_box(c, &v->cells[k], cell, b))
            return false;
        box_union(v->gbox, &have, b);
    }
    v->gen = 1;
    return true;
}

/* Whether two generalised forms draw the same (both made). */
static bool same_cells(const ev_ver *a, const ev_ver *b)
{
    if (a->point != b->point)
        return false;
    if (!a->point)
        return memcmp(a->blk, b->blk, sizeof a->blk) == 0;
    if (a->ncells != b->ncells)
        return false;
    for (size_t k = 0; k < a->ncells; k++)
        if (cmp_cell(&a->cells[k], &b->cells[k]) != 0)
            return false;
    return true;
}

/* A polygon of one closed ring through n lon/lat points. */
static OGRGeometryH ring_polygon(const double *xy, size_t n)
{
    OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing);
    for (size_t k = 0; k < n; k++)
        OGR_G_AddPoint_2D(ring, xy[2 * k], xy[2 * k + 1]);
    OGR_G_AddPoint_2D(ring, xy[0], xy[1]);
    OGRGeometryH poly = OGR_G_CreateGeometry(wkbPolygon);
    OGR_G_AddGeometryDirectly(poly, ring);
    return poly;
}

/*
 * Access area a as one geometry (once, from the valid multipolygon the
 * access module made of it at load), with its box.  NULL when it cannot be
 * read: then nothing counts as inside it.
 */
static OGRGeometryH area_geom(ev_ctx *c, int a, const double **box)
{
    if (a < 0 || (size_t)a >= c->nareas)
        return NULL;
    *box = c->abox[a];
    if (c->area_state[a])
        return c->area[a];
    c->area_state[a] = -1;
    size_t len;
    const unsigned char *wkb = lb_access_area_wkb(c->st->access, (size_t)a, &len, c->abox[a]);
    OGRGeometryH g = NULL;
    if (!wkb || len > INT_MAX ||
        OGR_G_CreateFromWkb(wkb, NULL, &g, (int)len) != OGRERR_NONE || !g)
        return NULL;
    if (OGR_G_IsEmpty(g)) {
        OGR_G_DestroyGeometry(g);
        return NULL;
    }
    c->area[a] = g;
    c->area_state[a] = 1;
    return g;
}

static bool boxes_meet(const double *a, const double *b)
{
    return a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
}

/* The box of g (with box gbox) within area a; false when they do not meet. */
static bool clip_to_area(ev_ctx *c, OGRGeometryH g, const double gbox[4], int a, double out[4])
{
    const double *abox;
    OGRGeometryH area = area_geom(c, a, &abox);
    if (!area || !boxes_meet(gbox, abox))
        return false; /* most changes of a large push: no geometry work */
    if (wkbFlatten(OGR_G_GetGeometryType(g)) == wkbPoint) {
        if (!OGR_G_Intersects(area, g))
            return false;
        memcpy(out, gbox, 4 * sizeof *out);
        return true;
    }
    OGRGeometryH x = OGR_G_Intersection(g, area);
    bool meet = x && !OGR_G_IsEmpty(x);
    if (meet) {
        OGREnvelope e;
        OGR_G_GetEnvelope(x, &e);
        out[0] = e.MinX, out[1] = e.MinY, out[2] = e.MaxX, out[3] = e.MaxY;
    }
    if (x)
        OGR_G_DestroyGeometry(x);
    return meet;
}

/* Whether lon/lat box b lies wholly inside area a. */
static bool box_in_area(ev_ctx *c, const double b[4], int a)
{
    const double *abox;
    OGRGeometryH area = area_geom(c, a, &abox);
    if (!area || b[0] < abox[0] || b[2] > abox[2] || b[1] < abox[1] || b[3] > abox[3])
        return false;
    OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing);
    OGRGeometryH poly = OGR_G_CreateGeometry(wkbPolygon);
    if (!ring || !poly) {
        OGR_G_DestroyGeometry(ring);
        OGR_G_DestroyGeometry(poly);
        return false;
    }
    const double xy[5][2] = {{b[0], b[1]}, {b[2], b[1]}, {b[2], b[3]}, {b[0], b[3]}, {b[0], b[1]}};
    for (int k = 0; k < 5; k++)
        OGR_G_AddPoint_2D(ring, xy[k][0], xy[k][1]);
    OGR_G_AddGeometryDirectly(poly, ring);
    bool in;
    if (b[0] == b[2] && b[1] == b[3]) {
        OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
        OGR_G_AddPoint_2D(pt, b[0], b[1]);
        in = pt && OGR_G_Intersects(area, pt);
        OGR_G_DestroyGeometry(pt);
    } else {
        in = OGR_G_Contains(area, poly);
    }
    OGR_G_DestroyGeometry(poly);
    return in;
}

/* The box of v's exact geometry within area a; false when they do not meet. */
static bool exact_in_area(ev_ctx *c, ev_ver *v, int a, double out[4])
{
    const double *abox;
    OGRGeometryH area = area_geom(c, a, &abox);
    if (!area || !boxes_meet(v->box, abox))
        return false; /* far from the area: not even read */
    return ver_read(v) && clip_to_area(c, v->geom, v->box, a, out);
}

/* LB_GEN_CRS rectangle m (metres) as a lon/lat polygon through its corners; NULL on failure. */
static OGRGeometryH cell_rect(ev_ctx *c, const double m[4])
{
    double ring[8];
    if (lb_gen_rect(c->gen, m, ring, NULL) != LB_OK)
        return NULL;
    return ring_polygon(ring, 4);
}

/*
 * The outline of a block of cells as the tiles draw it: through every cell
 * corner on its border (each cell's sides are straight between its corners
 * in lon/lat), or the four corners of the block when it has too many cells.
 */
static OGRGeometryH block_outline(ev_ctx *c, const double blk[4], double cell)
{
    if ((blk[2] - blk[0] + 1) * (blk[3] - blk[1] + 1) > LB_GEN_MAX_CELLS) {
        const double m[4] = {blk[0] * cell, blk[1] * cell, (blk[2] + 1) * cell,
                             (blk[3] + 1) * cell};
        return cell_rect(c, m);
    }
    size_t w = (size_t)(blk[2] - blk[0]) + 2, h = (size_t)(blk[3] - blk[1]) + 2;
    double *cn = malloc(w * h * 2 * sizeof *cn);
    double *ring = malloc(2 * (w + h) * 2 * sizeof *ring);
    OGRGeometryH poly = NULL;
    if (cn && ring && lb_gen_corners(c->gen, blk, cell, cn, NULL) == LB_OK) {
        size_t n = 0;
#define CORNER(i, j)                                                                               \
    do {                                                                                           \
        ring[2 * n] = cn[2 * ((j) * w + (i))];                                                     \
        ring[2 * n + 1] = cn[2 * ((j) * w + (i)) + 1];                                             \
        n++;                                                                                       \
    } while (0)
        for (size_t i = 0; i + 1 < w; i++)
            CORNER(i, (size_t)0); /* south, west to east */
        for (size_t j = 0; j + 1 < h; j++)
            CORNER(w - 1, j); /* east, south to north */
        for (size_t i = w - 1; i > 0; i--)
            CORNER(i, h - 1); /* north, east to west */
        for (size_t j = h - 1; j > 0; j--)
            CORNER((size_t)0, j); /* west, north to south */
#undef CORNER
        poly = ring_polygon(ring, n);
    }
    free(cn);
    free(ring);
    return poly;
}

/* The box of generalised form v (made) within area a; false when they do not meet. */
static bool gen_in_area(ev_ctx *c, const ev_ver *v, double cell, int a, double out[4])
{
    const double *abox;
    OGRGeometryH area = area_geom(c, a, &abox);
    if (!area || !boxes_meet(v->gbox, abox))
        return false;
    if (!v->point) {
        OGRGeometryH g = block_outline(c, v->blk, cell);
        bool meet = g && clip_to_area(c, g, v->gbox, a, out);
        if (g)
            OGR_G_DestroyGeometry(g);
        return meet;
    }
    /* a point is drawn at its cell's centre: the cells whose centre is in
     * the area, each as far as it lies there */
    bool have = false;
    for (size_t k = 0; k < v->ncells; k++) {
        const ev_cell *e = &v->cells[k];
        OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
        OGR_G_SetPoint_2D(pt, 0, e->x, e->y);
        bool in = OGR_G_Intersects(area, pt);
        OGR_G_DestroyGeometry(pt);
        if (!in)
            continue;
        const double m[4] = {e->i * cell, e->j * cell, (e->i + 1) * cell, (e->j + 1) * cell};
        OGRGeometryH r = cell_rect(c, m);
        double b[4];
        if (r) {
            OGREnvelope env;
            OGR_G_GetEnvelope(r, &env);
            const double rbox[4] = {env.MinX, env.MinY, env.MaxX, env.MaxY};
            if (clip_to_area(c, r, rbox, a, b))
                box_union(out, &have, b);
            OGR_G_DestroyGeometry(r);
        }
    }
    return have;
}

void lb_ev_gen_changes(ev_ctx *c, lb_ev_gen_change *v, size_t n)
{
    free(c->gchanges);
    c->gchanges = v;
    c->ngchanges = n;
}

/* Whether box a (a changed generalised feature: a cell centre, or a block
 * of cells) meets the inside of cells box b, shrunk by a hundredth of its
 * extent: cells next to each other share an edge, which is no meeting. */
static bool overlap(const double a[4], const double b[4])
{
    double ex = 0.01 * (b[2] - b[0]), ey = 0.01 * (b[3] - b[1]);
    return a[0] <= b[2] - ex && a[2] >= b[0] + ex && a[1] <= b[3] - ey && a[3] >= b[1] + ey;
}

/* Whether the generalised snapshots draw something of this label and
 * source differently where version v's cells are (true when not known). */
static bool gen_changed_at(const ev_ctx *c, const ev_ver *v, const lb_label *lab,
                           const lb_source_cfg *src)
{
    if (!c->gchanges)
        return true;
    int32_t si = src ? (int32_t)(src - c->st->cfg->sources) : -1;
    for (size_t i = 0; i < c->ngchanges; i++) {
        const lb_ev_gen_change *x = &c->gchanges[i];
        if ((x->source < 0 || si < 0 || x->source == si) && lb_label_eq(&x->label, lab) &&
            overlap(x->box, v->gbox))
            return true;
    }
    return false;
}

/* Whether pass `a` of grant g draws version x of a conflated layer: its
 * label exactly or generalised, and not hidden behind a fused feature that
 * pass shows. */
static bool snap_drawn(const ev_ctx *c, const lb_grant *g, int a, const lb_ev_snap_change *x)
{
    bool drawn = x->gen ? lb_grant_draws_gen_from(g, a, &x->label, c->st->cfg, x->source)
                        : lb_grant_draws(g, a, &x->label, NULL) == LB_DRAW_EXACT;
    lb_feature_info fi = {.label = x->label, .member = x->member, .fused = x->fused};
    return drawn && !lb_feature_superseded(&fi, g, a);
}

/*
 * The box of the changes visible under grant g; false when none is.  As
 * the tiles draw (server/maps.c): one pass per area of its clearances (and
 * one unlimited), each drawing a version exactly, generalised or not at all
 * as lb_grant_draws says for that pass.  A version counts by its exact
 * geometry or by its cells, within the pass's area; a change whose two
 * versions a pass draws as the same cells counts for nothing there (a unit
 * moving inside its cell: the tiles do not change, so no event may tell).
 */
bool lb_ev_visible_box(ev_ctx *c, const lb_grant *g, double out[4])
{
    int passes[LB_GRANT_MAX];
    int np = lb_grant_passes(g, passes);
    bool have = false;
    for (size_t bi = 0; bi < c->nb; bi++) {
        const ev_batch *b = &c->b[bi];
        for (size_t i = 0; i < b->q->nchanges; i++) {
            const lb_change *ch = &b->q->changes[i];
            ev_ver *v = &b->v[2 * i];
            for (int p = 0; p < np; p++) {
                int a = passes[p];
                lb_draw how[2];
                for (int s = 0; s < 2; s++) {
                    const lb_label *lab = s ? &ch->new_label : &ch->old_label;
                    how[s] = !(s ? ch->has_new : ch->has_old)
                                 ? LB_DRAW_NONE
                                 : lb_grant_draws(g, a, lab, b->src);
                    if (how[s] == LB_DRAW_GEN && !ver_gen(c, &v[s], b->cell))
                        how[s] = LB_DRAW_NONE; /* no cells: fails closed */
                    /* a unit whose cells are drawn as they were (another
                     * unit drawn the same way is there, or stays) changes
                     * nothing such a principal sees */
                    if (how[s] == LB_DRAW_GEN && !gen_changed_at(c, &v[s], lab, b->src))
                        how[s] = LB_DRAW_NONE;
                }
                /* the same cells before and after: nothing changed for
                 * this pass, unless the generalised snapshots say they
                 * are drawn differently (another symbol) */
                if (!c->gchanges && how[0] == LB_DRAW_GEN && how[1] == LB_DRAW_GEN &&
                    same_cells(&v[0], &v[1]))
                    continue;
                for (int s = 0; s < 2; s++) {
                    if (how[s] == LB_DRAW_NONE)
                        continue;
                    double bx[4];
                    bool seen;
                    if (how[s] == LB_DRAW_GEN) {
                        seen = a < 0 ? (memcpy(bx, v[s].gbox, sizeof bx), true)
                                     : gen_in_area(c, &v[s], b->cell, a, bx);
                    } else if (a < 0) {
                        memcpy(bx, v[s].box, sizeof bx);
                        seen = true;
                    } else {
                        seen = exact_in_area(c, &v[s], a, bx);
                    }
                    if (seen)
                        box_union(out, &have, bx);
                }
            }
        }
    }
    /* a conflated layer: also what the changes re-clustered, each version
     * as a pass of the grant draws it (its own label, not hidden behind a
     * fused feature that pass shows); under an area limit only a version
     * that lies wholly inside the area (its geometry is not at hand to
     * clip: one crossing the edge is left out rather than told of) */
    for (size_t i = 0; i < c->nschanges; i++) {
        const lb_ev_snap_change *x = &c->schanges[i];
        if (x->pair >= 0 && (size_t)x->pair < i)
            continue; /* told with its partner */
        const lb_ev_snap_change *y = x->pair >= 0 ? &c->schanges[x->pair] : NULL;
        for (int p = 0; p < np; p++) {
            int a = passes[p];
            bool dx = snap_drawn(c, g, a, x), dy = y && snap_drawn(c, g, a, y);
            if (dx && dy)
                continue; /* drawn alike before and after */
            if (dx && (a < 0 || box_in_area(c, x->box, a)))
                box_union(out, &have, x->box);
            if (dy && (a < 0 || box_in_area(c, y->box, a)))
                box_union(out, &have, y->box);
        }
    }
    return have;
}

void lb_ev_snap_changes(ev_ctx *c, lb_ev_snap_change *v, size_t n)
{
    free(c->schanges);
    c->schanges = v;
    c->nschanges = n;
}

ev_ctx *lb_ev_new(const lb_state *st, const char *layer, const pending *ps)
{
    ev_ctx *c = malloc(sizeof *c);
    if (c && !ev_init(c, st, layer, ps)) {
        free(c); /* ev_init released what it had made */
        return NULL;
    }
    return c;
}

void lb_ev_free(ev_ctx *c)
{
    if (!c)
        return;
    ev_release(c);
    free(c);
}
