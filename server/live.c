/*
 * This file implements the live picture: push ingest over HTTP
 * (POST /sources/{source}/features, DELETE /sources/{source}/features/{id}),
 * the publisher that turns committed revisions into new layer snapshots,
 * and Server-Sent Events (GET /events) to every connected principal that may
 * see a change.
 *
 * Flow of one push:
 *   handler --lb_ingest_push (one durable transaction)--> committed revision
 *           --enqueue (layer, changes) under write_mu, in commit order--> 2xx
 *   publisher thread: takes every pending change, per layer builds the new
 *           snapshots beside the old ones (lb_state_build_layer), swaps in a
 *           derived state (lb_state_derive) under srv->state_lock, then sends
 *           each subscriber the event of the changes it may see.
 *
 * Invariants:
 *   1. A state's snapshots of one layer are all of one revision (every grid,
 *      exact and generalised), so a tile never mixes two revisions.
 *   2. Nothing is acknowledged before it is committed (synchronous=FULL);
 *      the store is the truth, snapshots are rebuilt from it, so a restart
 *      serves exactly what was committed.
 *   3. An event reaches a principal only when at least one version (old or
 *      new) of a changed feature is visible to it under its current grant
 *      for that layer, and tells no more than its tiles show: its box
 *      covers only such versions, each as drawn for it (exactly, or only by
 *      the cells of its generalised form) and only where it meets the area
 *      polygon of the clearances that see it; a change whose generalised
 *      form stays the same cells is no event.  The revision it names is an
 *      opaque tag (keyed hash of layer and revision), never the number:
 *      gaps in numbers would count the changes it cannot see.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cpl_error.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <openssl/rand.h>

#include "lagebild/generalise.h"
#include "server_int.h"

/* A committed change waiting for the publisher. */
typedef struct pending {
    struct pending *next;
    char *layer, *source;
    int64_t revision;
    lb_change *changes;
    size_t nchanges;
} pending;

/* One /events connection. */
typedef struct sub {
    struct sub *next;
    char principal[136];
    /* a JWT's principal has no entry in the config: its role ids and
     * expiry are kept (nroles 0: a configured principal, found by name) */
    char **roles;
    size_t nroles;
    time_t expires;
    lb_buf queue; /* event text not yet written */
    bool gone;
} sub;

static void sub_free(sub *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nroles; i++)
        free(s->roles[i]);
    free(s->roles);
    lb_buf_free(&s->queue);
    free(s);
}

typedef struct live_layer live_layer;

struct lb_live {
    lb_server *srv;
    pthread_t thread, compactor;
    bool started;
    pthread_cond_t ccv; /* wakes the compactor (with mu) */
    live_layer *layers; /* incremental layers (under mu) */
    double compact_age;  /* COMPACT_AGE_S, or LAGEBILD_COMPACT_AGE_S (tests) */
    /* pending changes and the publisher's wake-up */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pending *head, *tail;
    bool stop;
    /* writers: one connection, one push at a time (SQLite has one writer) */
    pthread_mutex_t write_mu;
    lb_store *wstore;
    char *wpath;
    /* subscribers */
    pthread_mutex_t sub_mu;
    pthread_cond_t sub_cv;
    sub *subs;
    int nsubs, max_subs; /* each stream holds a worker thread */
    unsigned char secret[32];
    /* metrics */
    atomic_ullong pushes, push_features, events, publishes;
    /* lon/lat -> each grid's CRS, for change logs (publisher thread only) */
    OGRCoordinateTransformationH grid_ct[LB_NGRIDS];
    bool grid_ct_tried;
};

/* ---- helpers ------------------------------------------------------------ */

static void pending_free(pending *p)
{
    if (!p)
        return;
    free(p->layer);
    free(p->source);
    lb_changes_free(p->changes, p->nchanges);
    free(p);
}

static const lb_token_cfg *principal_by_name(const lb_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ntokens; i++)
        if (strcmp(cfg->tokens[i].principal, name) == 0)
            return cfg->tokens[i].revoked ? NULL : &cfg->tokens[i];
    return NULL;
}

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
} ev_ctx;

static void ev_free(ev_ctx *c)
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
        ev_free(c);
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

/*
 * The box of the changes visible under grant g; false when none is.  As
 * the tiles draw (server/maps.c): one pass per area of its clearances (and
 * one unlimited), each drawing a version exactly, generalised or not at all
 * as lb_grant_draws says for that pass.  A version counts by its exact
 * geometry or by its cells, within the pass's area; a change whose two
 * versions a pass draws as the same cells counts for nothing there (a unit
 * moving inside its cell: the tiles do not change, so no event may tell).
 */
static bool visible_box(ev_ctx *c, const lb_grant *g, double out[4])
{
    int passes[LB_GRANT_MAX + 1], np = 0;
    for (int k = 0; k < g->n; k++) {
        bool seen = false;
        for (int i = 0; i < np; i++)
            seen |= passes[i] == g->c[k].area;
        if (!seen)
            passes[np++] = g->c[k].area;
    }
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
                }
                if (how[0] == LB_DRAW_GEN && how[1] == LB_DRAW_GEN && same_cells(&v[0], &v[1]))
                    continue; /* the same cells before and after */
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
    return have;
}

/* Opaque, unlinkable tag of (layer, revision) for events. */
static void revision_tag(const lb_live *lv, const char *layer, int64_t rev, char out[17])
{
    lb_buf b = {0};
    lb_buf_printf(&b, "%s|%lld|", layer, (long long)rev);
    for (size_t i = 0; i < sizeof lv->secret; i++)
        lb_buf_printf(&b, "%02x", lv->secret[i]);
    char hex[65];
    lb_sha256_hex(b.data ? b.data : "", b.len, hex);
    lb_buf_free(&b);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

/* ---- publisher ------------------------------------------------------------ */

static size_t layer_index(const lb_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->nlayers; i++)
        if (strcmp(cfg->layers[i].id, id) == 0)
            return i;
    return SIZE_MAX;
}

/* The grant of subscriber s on layer (under sub_mu); false: it sees nothing of it. */
static bool sub_grant(const lb_state *st, sub *s, const char *layer, time_t now,
                      lb_grant *g)
{
    /* a JWT principal: its roles as the current config defines them, until
     * its token expires (unknown role ids grant nothing) */
    lb_token_cfg jp = {.principal = s->principal, .roles = s->roles, .nroles = s->nroles};
    const lb_token_cfg *p = s->nroles ? (now < s->expires ? &jp : NULL)
                                      : principal_by_name(st->cfg, s->principal);
    return p && lb_access_layer(st->access, p, layer, now, g);
}

/* Whether two grants have the same clearances (all visible_box looks at). */
static bool same_rights(const lb_grant *a, const lb_grant *b)
{
    if (a->n != b->n)
        return false;
    for (int k = 0; k < a->n; k++)
        if (a->c[k].area != b->c[k].area || a->c[k].label.level != b->c[k].label.level ||
            a->c[k].label.groups != b->c[k].label.groups ||
            a->c[k].label.caveats != b->c[k].label.caveats)
            return false;
    return true;
}

typedef struct ev_grant {
    lb_grant g;
    bool have;
    double box[4];
} ev_grant;

/*
 * Send the event of these changes to every subscriber that may see them.
 * The boxes are worked out once per distinct grant, outside sub_mu (stream
 * threads take it for every write); a subscriber whose grant was not among
 * them (it connected meanwhile) gets its own under the lock.
 */
static void notify(lb_live *lv, lb_state *st, const char *layer, int64_t rev, const pending *ps)
{
    char tag[17];
    revision_tag(lv, layer, rev, tag);
    time_t now = time(NULL);
    ev_ctx c;
    if (!ev_init(&c, st, layer, ps)) {
        fprintf(stderr, "lagebild serve: events for %s: out of memory\n", layer);
        return;
    }
    CPLPushErrorHandler(CPLQuietErrorHandler); /* GEOS on odd geometries: fail closed, quietly */
    ev_grant *gs = NULL;
    size_t ng = 0, cap = 0;
    pthread_mutex_lock(&lv->sub_mu);
    for (sub *s = lv->subs; s; s = s->next) {
        lb_grant g;
        if (s->gone || !sub_grant(st, s, layer, now, &g))
            continue;
        bool known = false;
        for (size_t i = 0; i < ng && !known; i++)
            known = same_rights(&gs[i].g, &g);
        if (known)
            continue;
        if (ng == cap) {
            size_t nc = cap ? 2 * cap : 8;
            ev_grant *p = realloc(gs, nc * sizeof *p);
            if (!p)
                continue; /* worked out under the lock below */
            gs = p;
            cap = nc;
        }
        gs[ng++].g = g;
    }
    pthread_mutex_unlock(&lv->sub_mu);
    for (size_t i = 0; i < ng; i++)
        gs[i].have = visible_box(&c, &gs[i].g, gs[i].box);
    pthread_mutex_lock(&lv->sub_mu);
    for (sub *s = lv->subs; s; s = s->next) {
        lb_grant g;
        if (s->gone || !sub_grant(st, s, layer, now, &g))
            continue;
        const ev_grant *e = NULL;
        for (size_t i = 0; i < ng && !e; i++)
            if (same_rights(&gs[i].g, &g))
                e = &gs[i];
        bool have;
        double box[4] = {0, 0, 0, 0};
        if (e) {
            have = e->have;
            memcpy(box, e->box, sizeof box);
        } else {
            have = visible_box(&c, &g, box);
        }
        if (!have)
            continue;
        lb_buf_printf(&s->queue,
                      "data: {\"layer\":\"%s\",\"revision\":\"%s\","
                      "\"bbox\":[%.7f,%.7f,%.7f,%.7f]}\n\n",
                      layer, tag, box[0], box[1], box[2], box[3]);
        atomic_fetch_add(&lv->events, 1);
    }
    pthread_cond_broadcast(&lv->sub_cv);
    pthread_mutex_unlock(&lv->sub_mu);
    CPLPopErrorHandler();
    free(gs);
    ev_free(&c);
}

/*
 * Publish one layer: build its snapshots from the store (the newest
 * committed revision), swap them in, notify.  false: retry later (a reload
 * changed the config meanwhile, or a commit fell between two grids' reads).
 */
static bool publish_layer(lb_live *lv, lb_store **store, char **store_path, const char *layer,
                          const pending *ps)
{
    lb_server *srv = lv->srv;
    lb_state *st = lb_server_state(srv);
    size_t li = layer_index(st->cfg, layer);
    bool done = true;
    lb_error err = {0};
    if (li == SIZE_MAX) {
        lb_state_release(st); /* the layer is gone from the config */
        return true;
    }
    if (!*store || strcmp(*store_path, st->cfg->store_path) != 0) {
        lb_store_close(*store);
        *store = NULL;
        free(*store_path);
        *store_path = lb_strdup(st->cfg->store_path);
        if (!*store_path || lb_store_open(st->cfg->store_path, store, &err) != LB_OK) {
            fprintf(stderr, "lagebild serve: publish %s: %s\n", layer, err.msg);
            lb_state_release(st);
            return false;
        }
    }
    lb_snapshot *snap[LB_NGRIDS], *gen[LB_NGRIDS];
    lb_status rc = lb_state_build_layer(st, *store, li, snap, gen, &err);
    if (rc != LB_OK) {
        if (rc != LB_EINTERNAL)
            fprintf(stderr, "lagebild serve: publish %s: %s\n", layer, err.msg);
        lb_state_release(st);
        return false;
    }
    int64_t rev = lb_snapshot_revision(snap[0]);
    pthread_mutex_lock(&srv->state_lock);
    lb_state *cur = srv->state, *old = NULL, *ns = NULL;
    if (cur->generation != st->generation) {
        done = false; /* reloaded meanwhile: build again against the new config */
    } else if (lb_snapshot_revision(cur->layers[li].snap[0]) < rev) {
        ns = lb_state_derive(cur, li, snap, gen, NULL); /* rebuilt whole: keys by revision */
        if (ns) {
            old = cur;
            srv->state = ns;
        } else {
            done = false;
        }
    }
    if (ns)
        atomic_fetch_add(&ns->refs, 1); /* for notify below */
    pthread_mutex_unlock(&srv->state_lock);
    lb_state_release(old);
    for (int g = 0; g < LB_NGRIDS; g++) {
        if (snap[g])
            lb_snapshot_unref(snap[g]);
        if (gen[g])
            lb_snapshot_unref(gen[g]);
    }
    if (done) {
        atomic_fetch_add(&lv->publishes, 1);
        notify(lv, ns ? ns : st, layer, rev, ps);
    }
    lb_state_release(ns);
    lb_state_release(st);
    return done;
}

/* ---- incremental publishing --------------------------------------------- */

/* Compact (rebuild the base) when the changes since it pass this many
 * features or the base is this old. */
#define COMPACT_MIN_CHANGES 256
#define COMPACT_FRACTION 256
#define COMPACT_AGE_S 10.0

/*
 * A layer published incrementally: its full snapshots (base, per grid) and
 * every feature changed since, with the revision of its latest change.  The
 * state serves overlay(base, delta of those features, removed = them).
 */
typedef struct live_layer {
    struct live_layer *next;
    char *layer;
    uint64_t generation;
    lb_snapshot *base[LB_NGRIDS];
    int64_t base_rev;
    double base_time;
    int64_t *fid, *rev;
    size_t n, cap;
    bool dirty;
    /* compaction (compactor thread; next_* under lv->mu) */
    bool want_compact, compacting, next_ready;
    lb_snapshot *next_base[LB_NGRIDS];
    int64_t next_rev;
} live_layer;

static void ll_free(live_layer *ll)
{
    for (int g = 0; g < LB_NGRIDS; g++) {
        if (ll->base[g])
            lb_snapshot_unref(ll->base[g]);
        if (ll->next_base[g])
            lb_snapshot_unref(ll->next_base[g]);
    }
    free(ll->layer);
    free(ll->fid);
    free(ll->rev);
    free(ll);
}

static bool ll_add(live_layer *ll, int64_t fid, int64_t rev)
{
    if (ll->n == ll->cap) {
        size_t nc = ll->cap ? ll->cap * 2 : 64;
        int64_t *f = realloc(ll->fid, nc * sizeof *f);
        if (!f)
            return false;
        ll->fid = f;
        int64_t *r = realloc(ll->rev, nc * sizeof *r);
        if (!r)
            return false;
        ll->rev = r;
        ll->cap = nc;
    }
    ll->fid[ll->n] = fid;
    ll->rev[ll->n++] = rev;
    ll->dirty = true;
    return true;
}

/* Sort by fid, keep each fid once (its latest revision), drop those the base holds. */
static int cmp_fidrev(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    if (x[0] != y[0])
        return (x[0] > y[0]) - (x[0] < y[0]);
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static void ll_normalise(live_layer *ll)
{
    int64_t *pairs = malloc((ll->n ? ll->n : 1) * 2 * sizeof *pairs);
    if (!pairs)
        return;
    for (size_t i = 0; i < ll->n; i++) {
        pairs[2 * i] = ll->fid[i];
        pairs[2 * i + 1] = ll->rev[i];
    }
    qsort(pairs, ll->n, 2 * sizeof *pairs, cmp_fidrev);
    size_t k = 0;
    for (size_t i = 0; i < ll->n; i++) {
        if (i + 1 < ll->n && pairs[2 * (i + 1)] == pairs[2 * i])
            continue; /* a later change of the same feature follows */
        if (pairs[2 * i + 1] <= ll->base_rev)
            continue; /* the base already has it */
        ll->fid[k] = pairs[2 * i];
        ll->rev[k++] = pairs[2 * i + 1];
    }
    ll->n = k;
    free(pairs);
}

static void *compactor_main(void *arg);

/* The live layer of (layer, generation of st), made from st's snapshots. */
static live_layer *ll_get(lb_live *lv, lb_state *st, size_t li)
{
    const char *layer = st->cfg->layers[li].id;
    live_layer *old = NULL;
    for (live_layer *ll = lv->layers; ll; ll = ll->next)
        if (strcmp(ll->layer, layer) == 0) {
            if (ll->generation == st->generation)
                return ll;
            old = ll;
        }
    live_layer *ll = calloc(1, sizeof *ll);
    if (!ll || !(ll->layer = lb_strdup(layer))) {
        free(ll);
        return NULL;
    }
    ll->generation = st->generation;
    for (int g = 0; g < LB_NGRIDS; g++) {
        lb_snapshot *sn = st->layers[li].snap[g];
        if (sn && lb_snapshot_base(sn))
            sn = lb_snapshot_base(sn);
        ll->base[g] = sn ? lb_snapshot_ref(sn) : NULL;
    }
    ll->base_rev = ll->base[0] ? lb_snapshot_revision(ll->base[0]) : 0;
    ll->base_time = lb_now();
    if (old) {
        /* a reload replaced the config: carry the changes over (those the
         * new base does not hold yet); a base older than the previous one
         * misses changes that were folded into it: compact at once */
        for (size_t i = 0; i < old->n; i++)
            ll_add(ll, old->fid[i], old->rev[i]);
        if (old->base_rev > ll->base_rev)
            ll->want_compact = true;
        /* unlink and free the old one (the compactor skips old generations) */
        for (live_layer **pp = &lv->layers; *pp; pp = &(*pp)->next)
            if (*pp == old) {
                if (old->compacting) {
                    old->generation = 0; /* orphaned: the compactor frees it */
                } else {
                    *pp = old->next;
                    ll_free(old);
                }
                break;
            }
    }
    ll->next = lv->layers;
    lv->layers = ll;
    return ll;
}

/* The box of a lon/lat box in grid g's CRS (corners and edge midpoints,
 * widened by a thousandth); false when it cannot be transformed. */
static bool grid_box(lb_live *lv, int g, const double ll[4], double out[4])
{
    if (!lv->grid_ct_tried) {
        lv->grid_ct_tried = true;
        size_t ngrids = 0;
        const lb_tms *grids = lb_tms_all(&ngrids);
        OGRSpatialReferenceH src = OSRNewSpatialReference(NULL);
        OSRSetFromUserInput(src, "EPSG:4326");
        OSRSetAxisMappingStrategy(src, OAMS_TRADITIONAL_GIS_ORDER);
        for (size_t i = 0; i < ngrids && i < LB_NGRIDS; i++) {
            OGRSpatialReferenceH dst = OSRNewSpatialReference(NULL);
            if (OSRSetFromUserInput(dst, grids[i].crs) == OGRERR_NONE) {
                OSRSetAxisMappingStrategy(dst, OAMS_TRADITIONAL_GIS_ORDER);
                lv->grid_ct[i] = OCTNewCoordinateTransformation(src, dst);
            }
            OSRDestroySpatialReference(dst);
        }
        OSRDestroySpatialReference(src);
    }
    if (!lv->grid_ct[g])
        return false;
    double x[8], y[8];
    double mx = (ll[0] + ll[2]) / 2, my = (ll[1] + ll[3]) / 2;
    const double px[8] = {ll[0], ll[2], ll[2], ll[0], mx, mx, ll[0], ll[2]};
    const double py[8] = {ll[1], ll[1], ll[3], ll[3], ll[1], ll[3], my, my};
    memcpy(x, px, sizeof x);
    memcpy(y, py, sizeof y);
    int ok[8] = {0};
    if (!OCTTransformEx(lv->grid_ct[g], 8, x, y, NULL, ok))
        return false;
    out[0] = out[1] = INFINITY;
    out[2] = out[3] = -INFINITY;
    for (int i = 0; i < 8; i++) {
        if (!ok[i] || !isfinite(x[i]) || !isfinite(y[i]))
            return false;
        out[0] = fmin(out[0], x[i]);
        out[1] = fmin(out[1], y[i]);
        out[2] = fmax(out[2], x[i]);
        out[3] = fmax(out[3], y[i]);
    }
    double w = fmax(out[2] - out[0], out[3] - out[1]) * 1e-3 + 1e-6;
    out[0] -= w;
    out[1] -= w;
    out[2] += w;
    out[3] += w;
    return true;
}

/*
 * The change log of layer li once the snapshot of revision rev replaces
 * cur's: cur's log (or an empty one starting at cur's revision) plus the
 * changes of batch for revisions (last, rev].  NULL -- keys fall back to the
 * revision -- when the batch does not account for every revision in
 * between, or a box cannot be placed on a grid.
 */
static lb_chlog *log_extend(lb_live *lv, const lb_state *cur, size_t li, int64_t rev,
                            const pending *batch)
{
    const char *layer = cur->cfg->layers[li].id;
    lb_chlog *old = cur->layers[li].log;
    int64_t cur_rev = lb_snapshot_revision(cur->layers[li].snap[0]);
    if (rev == cur_rev)
        return lb_chlog_ref(old); /* the same revision (a compaction) */
    int64_t floor = old ? old->floor : cur_rev, last = old ? old->last : cur_rev;
    if (old && old->last != cur_rev)
        return NULL;
    size_t add = 0;
    int64_t revs = 0;
    for (const pending *p = batch; p; p = p->next)
        if (strcmp(p->layer, layer) == 0) {
            if (p->revision > rev)
                return NULL; /* a change the snapshot does not hold yet */
            if (p->revision > last) {
                revs++;
                add += 2 * p->nchanges;
            }
        }
    if (revs != rev - last)
        return NULL; /* revisions this batch does not explain */
    size_t keep = old ? old->n : 0;
    if (keep + add > LB_CHLOG_MAX)
        keep = add >= LB_CHLOG_MAX ? 0 : LB_CHLOG_MAX - add;
    size_t cap = keep + add;
    lb_chlog *log = malloc(sizeof *log + (cap ? cap : 1) * sizeof log->v[0]);
    if (!log)
        return NULL;
    atomic_init(&log->refs, 1);
    log->floor = floor;
    log->last = rev;
    log->n = 0;
    if (old) {
        size_t drop = old->n - keep;
        for (size_t i = 0; i < drop; i++)
            if (old->v[i].rev > log->floor)
                log->floor = old->v[i].rev;
        memcpy(log->v, old->v + drop, keep * sizeof log->v[0]);
        log->n = keep;
    }
    if (add > LB_CHLOG_MAX) {
        /* more than the log holds: everything up to rev counts as changed */
        log->floor = rev;
        log->n = 0;
        return log;
    }
    for (const pending *p = batch; p; p = p->next) {
        if (strcmp(p->layer, layer) != 0 || p->revision <= last)
            continue;
        for (size_t k = 0; k < p->nchanges; k++) {
            const lb_change *c = &p->changes[k];
            for (int side = 0; side < 2; side++) {
                bool has = side ? c->has_new : c->has_old;
                if (!has)
                    continue;
                lb_chlog_entry *e = &log->v[log->n];
                memset(e, 0, sizeof *e);
                e->rev = p->revision;
                e->label[0] = side ? c->new_label : c->old_label;
                e->nlabels = 1;
                const double *bb = side ? c->new_box : c->old_box;
                for (int g = 0; g < LB_NGRIDS; g++)
                    if (!grid_box(lv, g, bb, e->box[g])) {
                        lb_chlog_unref(log);
                        return NULL;
                    }
                log->n++;
            }
        }
    }
    return log;
}

/* Swap snaps in for layer li if st is still current; the new state (referenced) or NULL. */
static lb_state *swap_layer(lb_live *lv, const lb_state *st, size_t li,
                            lb_snapshot *const snap[LB_NGRIDS], lb_snapshot *const gen[LB_NGRIDS],
                            const pending *batch, bool *stale)
{
    lb_server *srv = lv->srv;
    int64_t rev = lb_snapshot_revision(snap[0]);
    pthread_mutex_lock(&srv->state_lock);
    lb_state *cur = srv->state, *old = NULL, *ns = NULL;
    *stale = cur->generation != st->generation;
    if (!*stale && lb_snapshot_revision(cur->layers[li].snap[0]) <= rev) {
        lb_chlog *log = log_extend(lv, cur, li, rev, batch);
        ns = lb_state_derive(cur, li, snap, gen, log);
        lb_chlog_unref(log);
        if (ns) {
            old = cur;
            srv->state = ns;
            atomic_fetch_add(&ns->refs, 1);
        }
    }
    pthread_mutex_unlock(&srv->state_lock);
    lb_state_release(old);
    return ns;
}

/* Open (or reopen) the publisher's read connection to st's store. */
static lb_store *pub_store(lb_store **store, char **path, const lb_state *st, lb_error *err)
{
    if (*store && strcmp(*path, st->cfg->store_path) == 0)
        return *store;
    lb_store_close(*store);
    *store = NULL;
    free(*path);
    *path = lb_strdup(st->cfg->store_path);
    if (!*path || lb_store_open(st->cfg->store_path, store, err) != LB_OK)
        return NULL;
    return *store;
}

/*
 * Layers whose snapshots are rebuilt whole on a change: those with generalised
 * snapshots (owner-set release), and conflated ones (a change may re-cluster
 * fused features that are not among the changed rows).
 */
static bool rebuilt_whole(const lb_state *st, lb_store *rs, size_t li)
{
    return lb_state_layer_generalised(st, li) || st->cfg->layers[li].conflate_distance_m > 0 ||
           (rs && lb_store_layer_conflated(rs, st->cfg->layers[li].id));
}

/*
 * One round: every pending change (and any compaction finished) becomes
 * new layer snapshots.  Incremental layers get overlay(base, delta); the
 * deltas are read under write_mu, when every committed change is already
 * queued, so an overlay is exactly one committed revision.
 */
static void publish_round(lb_live *lv, lb_store **store, char **store_path)
{
    lb_server *srv = lv->srv;
    lb_state *st = lb_server_state(srv);
    lb_error err = {0};
    pthread_mutex_lock(&lv->write_mu);
    pthread_mutex_lock(&lv->mu);
    pending *batch = lv->head;
    lv->head = lv->tail = NULL;
    /* finished compactions: the new base, minus what it holds */
    for (live_layer *ll = lv->layers; ll; ll = ll->next) {
        if (!ll->next_ready)
            continue;
        ll->next_ready = false;
        for (int g = 0; g < LB_NGRIDS; g++) {
            if (ll->base[g])
                lb_snapshot_unref(ll->base[g]);
            ll->base[g] = ll->next_base[g];
            ll->next_base[g] = NULL;
        }
        ll->base_rev = ll->next_rev;
        ll->base_time = lb_now();
        ll->dirty = true;
    }
    pthread_mutex_unlock(&lv->mu);
    lb_store *rs = pub_store(store, store_path, st, &err);
    /* the full path: layers with generalised snapshots */
    pending *full = NULL;
    for (pending *p = batch; p; p = p->next) {
        size_t li = layer_index(st->cfg, p->layer);
        if (li == SIZE_MAX)
            continue;
        if (rebuilt_whole(st, rs, li)) {
            full = batch;
            continue;
        }
        pthread_mutex_lock(&lv->mu);
        live_layer *ll = ll_get(lv, st, li);
        for (size_t i = 0; ll && i < p->nchanges; i++)
            ll_add(ll, p->changes[i].fid, p->revision);
        if (ll)
            ll->dirty = true; /* also a reload's kick (no changes) */
        pthread_mutex_unlock(&lv->mu);
    }
    /* deltas, read while no commit can happen */
    typedef struct built {
        size_t li;
        live_layer *ll;
        lb_snapshot *snap[LB_NGRIDS];
    } built;
    built *done = calloc(st->cfg->nlayers ? st->cfg->nlayers : 1, sizeof *done);
    size_t ndone = 0;
    /* every committed change is known now: fix the snapshot the deltas are
     * read from, then let writers go on while they are built */
    bool reading = rs && lb_store_read_begin(rs, &err) == LB_OK;
    pthread_mutex_unlock(&lv->write_mu);
    /* the dirty layers of this generation (only this thread changes their
     * changes and base; the compactor frees only orphaned ones) */
    size_t nwork = 0;
    live_layer **work = calloc(st->cfg->nlayers ? st->cfg->nlayers : 1, sizeof *work);
    bool *wants = calloc(st->cfg->nlayers ? st->cfg->nlayers : 1, sizeof *wants);
    pthread_mutex_lock(&lv->mu);
    for (live_layer *ll = lv->layers; work && wants && reading && ll; ll = ll->next)
        if (ll->dirty && ll->generation == st->generation && nwork < st->cfg->nlayers) {
            ll->dirty = false;
            work[nwork++] = ll;
        }
    pthread_mutex_unlock(&lv->mu);
    for (size_t w = 0; done && w < nwork; w++) {
        live_layer *ll = work[w];
        size_t li = layer_index(st->cfg, ll->layer);
        if (li == SIZE_MAX)
            continue;
        ll_normalise(ll);
        built *b = &done[ndone];
        b->li = li;
        b->ll = ll;
        lb_snapshot *delta[LB_NGRIDS];
        if (ll->n == 0) {
            /* nothing beyond the base: the base itself */
            for (int g = 0; g < LB_NGRIDS; g++)
                b->snap[g] = ll->base[g] ? lb_snapshot_ref(ll->base[g]) : NULL;
            ndone++;
            continue;
        }
        if (lb_state_build_delta(st, rs, li, ll->fid, ll->n, delta, &err) != LB_OK) {
            fprintf(stderr, "lagebild serve: publish %s: %s\n", ll->layer, err.msg);
            wants[w] = true;
            continue;
        }
        bool ok = true;
        for (int g = 0; g < LB_NGRIDS; g++) {
            b->snap[g] = NULL;
            if (ok && delta[g] && ll->base[g])
                ok = lb_snapshot_overlay(ll->base[g], delta[g], ll->fid, ll->n, &b->snap[g],
                                         &err) == LB_OK;
            if (delta[g])
                lb_snapshot_unref(delta[g]);
        }
        if (!ok) {
            for (int g = 0; g < LB_NGRIDS; g++)
                if (b->snap[g])
                    lb_snapshot_unref(b->snap[g]);
            continue;
        }
        size_t base_n = ll->base[0] ? lb_snapshot_feature_count(ll->base[0]) : 0;
        if (ll->n >= COMPACT_MIN_CHANGES + base_n / COMPACT_FRACTION ||
            lb_now() - ll->base_time > lv->compact_age)
            wants[w] = true;
        ndone++;
    }
    if (reading)
        lb_store_read_end(rs);
    pthread_mutex_lock(&lv->mu);
    for (size_t w = 0; w < nwork; w++)
        if (wants[w])
            work[w]->want_compact = true;
    free(work);
    free(wants);
    bool compact = false;
    for (live_layer *ll = lv->layers; ll; ll = ll->next)
        compact |= ll->want_compact && !ll->compacting;
    if (compact)
        pthread_cond_broadcast(&lv->ccv);
    pthread_mutex_unlock(&lv->mu);

    /* swap in and tell the subscribers */
    for (size_t i = 0; i < ndone; i++) {
        built *b = &done[i];
        lb_snapshot *nogen[LB_NGRIDS] = {NULL};
        bool stale = false;
        lb_state *ns =
            b->snap[0] ? swap_layer(lv, st, b->li, b->snap, nogen, batch, &stale) : NULL;
        if (ns) {
            atomic_fetch_add(&lv->publishes, 1);
            notify(lv, ns, st->cfg->layers[b->li].id, lb_snapshot_revision(b->snap[0]), batch);
        }
        lb_state_release(ns);
        for (int g = 0; g < LB_NGRIDS; g++)
            if (b->snap[g])
                lb_snapshot_unref(b->snap[g]);
    }
    free(done);
    /* layers with owner-set release rules: rebuilt whole */
    for (pending *p = full; p; p = p->next) {
        bool first = true;
        for (pending *q = full; q != p && first; q = q->next)
            first = strcmp(q->layer, p->layer) != 0;
        size_t li = layer_index(st->cfg, p->layer);
        if (first && li != SIZE_MAX && rebuilt_whole(st, rs, li)) {
            for (int tries = 0; tries < 5; tries++)
                if (publish_layer(lv, store, store_path, p->layer, full))
                    break;
        }
    }
    lb_state_release(st);
    while (batch) {
        pending *n = batch->next;
        pending_free(batch);
        batch = n;
    }
}

static void *publisher_main(void *arg)
{
    lb_live *lv = arg;
    lb_store *store = NULL;
    char *store_path = NULL;
    pthread_mutex_lock(&lv->mu);
    while (!lv->stop) {
        bool work = lv->head != NULL;
        for (live_layer *ll = lv->layers; ll && !work; ll = ll->next)
            work = ll->next_ready;
        if (!work) {
            pthread_cond_wait(&lv->cv, &lv->mu);
            continue;
        }
        pthread_mutex_unlock(&lv->mu);
        publish_round(lv, &store, &store_path);
        pthread_mutex_lock(&lv->mu);
    }
    pthread_mutex_unlock(&lv->mu);
    lb_store_close(store);
    free(store_path);
    return NULL;
}

/* Rebuilds the base of layers that asked for it, one at a time, beside the
 * publisher; the publisher takes the result in its next round. */
static void *compactor_main(void *arg)
{
    lb_live *lv = arg;
    lb_store *store = NULL;
    char *store_path = NULL;
    pthread_mutex_lock(&lv->mu);
    while (!lv->stop) {
        live_layer *ll = lv->layers;
        while (ll && !(ll->want_compact && !ll->compacting && ll->generation))
            ll = ll->next;
        if (!ll) {
            pthread_cond_wait(&lv->ccv, &lv->mu);
            continue;
        }
        ll->want_compact = false;
        ll->compacting = true;
        char *layer = lb_strdup(ll->layer);
        uint64_t generation = ll->generation;
        pthread_mutex_unlock(&lv->mu);
        lb_state *st = lb_server_state(lv->srv);
        size_t li = layer ? layer_index(st->cfg, layer) : SIZE_MAX;
        lb_snapshot *snap[LB_NGRIDS] = {NULL}, *gen[LB_NGRIDS] = {NULL};
        lb_error err = {0};
        lb_status rc = LB_EINVAL;
        if (li != SIZE_MAX && st->generation == generation &&
            pub_store(&store, &store_path, st, &err)) {
            int tries = 0;
            do
                rc = lb_state_build_layer(st, store, li, snap, gen, &err);
            while (rc == LB_EINTERNAL && ++tries < 5);
        }
        if (rc != LB_OK && rc != LB_EINVAL)
            fprintf(stderr, "lagebild serve: compacting %s: %s\n", layer ? layer : "?", err.msg);
        lb_state_release(st);
        free(layer);
        pthread_mutex_lock(&lv->mu);
        ll->compacting = false;
        if (ll->generation == 0) {
            /* orphaned by a reload meanwhile */
            for (live_layer **pp = &lv->layers; *pp; pp = &(*pp)->next)
                if (*pp == ll) {
                    *pp = ll->next;
                    break;
                }
            ll_free(ll);
            rc = LB_EINVAL;
        }
        if (rc == LB_OK) {
            for (int g = 0; g < LB_NGRIDS; g++) {
                if (ll->next_base[g])
                    lb_snapshot_unref(ll->next_base[g]);
                ll->next_base[g] = snap[g];
                snap[g] = NULL;
            }
            ll->next_rev = lb_snapshot_revision(ll->next_base[0]);
            ll->next_ready = true;
            pthread_cond_signal(&lv->cv);
        }
        for (int g = 0; g < LB_NGRIDS; g++) {
            if (snap[g])
                lb_snapshot_unref(snap[g]);
            if (gen[g])
                lb_snapshot_unref(gen[g]);
        }
    }
    pthread_mutex_unlock(&lv->mu);
    lb_store_close(store);
    free(store_path);
    return NULL;
}

lb_live *lb_live_start(lb_server *srv)
{
    lb_live *lv = calloc(1, sizeof *lv);
    if (!lv)
        return NULL;
    lv->srv = srv;
    /* a quarter of the workers stay for tiles */
    lv->max_subs = srv->threads - (srv->threads + 3) / 4;
    const char *age = getenv("LAGEBILD_COMPACT_AGE_S");
    lv->compact_age = age && atof(age) > 0 ? atof(age) : COMPACT_AGE_S;
    pthread_mutex_init(&lv->mu, NULL);
    pthread_cond_init(&lv->cv, NULL);
    pthread_cond_init(&lv->ccv, NULL);
    pthread_mutex_init(&lv->write_mu, NULL);
    pthread_mutex_init(&lv->sub_mu, NULL);
    pthread_cond_init(&lv->sub_cv, NULL);
    if (RAND_bytes(lv->secret, sizeof lv->secret) != 1 ||
        pthread_create(&lv->thread, NULL, publisher_main, lv) != 0) {
        lb_live_stop(lv);
        return NULL;
    }
    if (pthread_create(&lv->compactor, NULL, compactor_main, lv) != 0) {
        pthread_mutex_lock(&lv->mu);
        lv->stop = true;
        pthread_cond_broadcast(&lv->cv);
        pthread_mutex_unlock(&lv->mu);
        pthread_join(lv->thread, NULL);
        lb_live_stop(lv);
        return NULL;
    }
    lv->started = true;
    return lv;
}

void lb_live_wake_subscribers(lb_live *lv)
{
    if (!lv)
        return;
    pthread_mutex_lock(&lv->mu);
    lv->stop = true;
    pthread_cond_broadcast(&lv->cv);
    pthread_cond_broadcast(&lv->ccv);
    pthread_mutex_unlock(&lv->mu);
    pthread_mutex_lock(&lv->sub_mu);
    pthread_cond_broadcast(&lv->sub_cv);
    pthread_mutex_unlock(&lv->sub_mu);
}

void lb_live_stop(lb_live *lv)
{
    if (!lv)
        return;
    lb_live_wake_subscribers(lv);
    if (lv->started) {
        pthread_join(lv->thread, NULL);
        pthread_join(lv->compactor, NULL);
    }
    while (lv->layers) {
        live_layer *n = lv->layers->next;
        ll_free(lv->layers);
        lv->layers = n;
    }
    while (lv->head) {
        pending *n = lv->head->next;
        pending_free(lv->head);
        lv->head = n;
    }
    lb_store_close(lv->wstore);
    free(lv->wpath);
    pthread_mutex_destroy(&lv->mu);
    pthread_cond_destroy(&lv->cv);
    pthread_cond_destroy(&lv->ccv);
    pthread_mutex_destroy(&lv->write_mu);
    pthread_mutex_destroy(&lv->sub_mu);
    pthread_cond_destroy(&lv->sub_cv);
    for (int g = 0; g < LB_NGRIDS; g++)
        if (lv->grid_ct[g])
            OCTDestroyCoordinateTransformation(lv->grid_ct[g]);
    free(lv);
}

void lb_live_reloaded(lb_live *lv)
{
    if (!lv)
        return;
    /* the reload read the store at some revision: republish every live
     * layer on the new state with the changes it may not hold yet */
    pthread_mutex_lock(&lv->mu);
    for (live_layer *ll = lv->layers; ll; ll = ll->next) {
        pending *p = calloc(1, sizeof *p);
        if (!p)
            break;
        p->layer = lb_strdup(ll->layer);
        p->source = lb_strdup("");
        if (!p->layer || !p->source) {
            pending_free(p);
            break;
        }
        if (lv->tail)
            lv->tail->next = p;
        else
            lv->head = p;
        lv->tail = p;
    }
    pthread_cond_signal(&lv->cv);
    pthread_mutex_unlock(&lv->mu);
}

void lb_live_metrics(lb_live *lv, lb_buf *b)
{
    if (!lv)
        return;
    lb_buf_printf(b, "lagebild_pushes_total %llu\n", (unsigned long long)lv->pushes);
    lb_buf_printf(b, "lagebild_push_features_total %llu\n",
                  (unsigned long long)lv->push_features);
    lb_buf_printf(b, "lagebild_publishes_total %llu\n", (unsigned long long)lv->publishes);
    lb_buf_printf(b, "lagebild_events_total %llu\n", (unsigned long long)lv->events);
}

/* ---- push handlers -------------------------------------------------------- */

/* Hand a committed change to the publisher (called under write_mu: commit order). */
static void enqueue(lb_live *lv, const lb_source_cfg *src, lb_push_result *res)
{
    pending *p = calloc(1, sizeof *p);
    if (p) {
        p->layer = lb_strdup(src->layer);
        p->source = lb_strdup(src->id);
        p->revision = res->revision;
        p->changes = res->changes;
        p->nchanges = res->nchanges;
        res->changes = NULL;
        res->nchanges = 0;
    }
    pthread_mutex_lock(&lv->mu);
    if (p && p->layer && p->source) {
        if (lv->tail)
            lv->tail->next = p;
        else
            lv->head = p;
        lv->tail = p;
    } else {
        pending_free(p); /* out of memory: the next publish of the layer catches up */
    }
    pthread_cond_signal(&lv->cv);
    pthread_mutex_unlock(&lv->mu);
}

/* The writer connection for the state's store (under write_mu). */
static lb_store *writer(lb_live *lv, const lb_state *st, lb_error *err)
{
    if (lv->wstore && strcmp(lv->wpath, st->cfg->store_path) == 0)
        return lv->wstore;
    lb_store_close(lv->wstore);
    lv->wstore = NULL;
    free(lv->wpath);
    lv->wpath = lb_strdup(st->cfg->store_path);
    if (!lv->wpath || lb_store_open(st->cfg->store_path, &lv->wstore, err) != LB_OK)
        return NULL;
    return lv->wstore;
}

/* The source named in the path if the principal may write it, else NULL. */
static const lb_source_cfg *writable_source(lb_req *r, const char *id)
{
    const lb_source_cfg *src = lb_config_source(r->st->cfg, id);
    if (!src || !lb_access_may_write(r->st->access, r->principal, id, time(NULL)))
        return NULL;
    return src;
}

static void send_result(lb_req *r, lb_status rc, const lb_error *err, const lb_push_result *res,
                        const lb_source_cfg *src)
{
    if (rc == LB_OK) {
        char body[512];
        int n = snprintf(body, sizeof body,
                         "{\"source\":\"%s\",\"stored\":%zu,\"replaced\":%zu,\"deleted\":%zu}\n",
                         src->id, res->stored, res->stored ? res->deleted : 0,
                         res->stored ? 0 : res->deleted);
        lb_http_send(r, 200, "application/json", body, (size_t)n, "Cache-Control: no-store\r\n");
        return;
    }
    int status = rc == LB_EFORMAT                                            ? 400
                 : rc == LB_EGEOM || rc == LB_EMAPPING || rc == LB_ECRS ||
                           rc == LB_EINVAL || rc == LB_EMGRS                  ? 422
                 : rc == LB_ESTORE                                             ? 503
                                                                               : 500;
    if (status == 422 && res->nrejects) {
        lb_buf b = {0};
        lb_buf_puts(&b, "{\"error\":");
        lb_buf_json_str(&b, err->msg);
        lb_buf_puts(&b, ",\"rejected\":[");
        for (size_t i = 0; i < res->nrejects; i++) {
            lb_buf_printf(&b, "%s{\"index\":%zu,\"id\":", i ? "," : "", res->rejects[i].index);
            if (res->rejects[i].source_fid)
                lb_buf_json_str(&b, res->rejects[i].source_fid);
            else
                lb_buf_puts(&b, "null");
            lb_buf_puts(&b, ",\"reason\":");
            lb_buf_json_str(&b, res->rejects[i].reason ? res->rejects[i].reason : "");
            lb_buf_puts(&b, "}");
        }
        lb_buf_puts(&b, "]}\n");
        lb_http_send(r, 422, "application/json", b.data ? b.data : "", b.len,
                     "Cache-Control: no-store\r\n");
        lb_buf_free(&b);
        return;
    }
    lb_http_error(r, status, err->msg);
}

void lb_live_push(lb_req *r)
{
    lb_live *lv = r->srv->live;
    const lb_source_cfg *src = writable_source(r, r->segs[1]);
    if (!src || !lv) {
        lb_http_not_found(r);
        return;
    }
    double maxd = r->st->cfg->push_max_body > 0 ? r->st->cfg->push_max_body
                                                 : LB_PUSH_MAX_BODY_DEFAULT;
    size_t max = (size_t)maxd;
    long long cl = r->ri->content_length;
    if (cl >= 0 && (unsigned long long)cl > max) {
        char msg[128];
        snprintf(msg, sizeof msg, "body of %lld bytes is larger than push.max_body_bytes (%zu)",
                 cl, max);
        /* the body is not read: the connection cannot be reused */
        lb_buf b = {0};
        lb_buf_puts(&b, "{\"error\":");
        lb_buf_json_str(&b, msg);
        lb_buf_puts(&b, "}\n");
        lb_http_send(r, 413, "application/json", b.data, b.len,
                     "Cache-Control: no-store\r\nConnection: close\r\n");
        lb_buf_free(&b);
        return;
    }
    size_t cap = cl >= 0 ? (size_t)cl : 65536, len = 0;
    char *body = malloc(cap + 1);
    bool too_big = false;
    while (body) {
        if (cl >= 0 && len == (size_t)cl)
            break;
        if (len == cap) {
            if (cap >= max + 1) {
                too_big = true;
                break;
            }
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = realloc(body, cap + 1);
            if (!nb) {
                free(body);
                body = NULL;
                break;
            }
            body = nb;
        }
        int n = mg_read(r->conn, body + len, cap - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (!body) {
        lb_http_error(r, 500, "out of memory");
        return;
    }
    if (too_big || len > max) {
        free(body);
        lb_http_send(r, 413, "application/json",
                     "{\"error\":\"body larger than push.max_body_bytes\"}\n", 49,
                     "Cache-Control: no-store\r\nConnection: close\r\n");
        return;
    }
    if (cl >= 0 && len != (size_t)cl) {
        free(body);
        lb_http_error(r, 400, "the body ended before Content-Length bytes");
        return;
    }
    body[len] = '\0';
    char crs[256];
    bool have_crs = lb_http_query(r, "crs", crs, sizeof crs);
    if (have_crs && !crs[0]) {
        free(body);
        lb_http_error(r, 400, "crs= is empty");
        return;
    }
    lb_push_result res = {0};
    lb_error err = {0};
    pthread_mutex_lock(&lv->write_mu);
    lb_store *store = writer(lv, r->st, &err);
    /* the principal's own features only (configured or JWT: its name) */
    lb_status rc = store ? lb_ingest_push(store, r->st->cfg, src, r->principal->principal, body,
                                          len, have_crs ? crs : NULL, &res, &err)
                         : LB_ESTORE;
    if (rc == LB_OK)
        enqueue(lv, src, &res);
    pthread_mutex_unlock(&lv->write_mu);
    free(body);
    if (rc == LB_OK) {
        atomic_fetch_add(&lv->pushes, 1);
        atomic_fetch_add(&lv->push_features, res.stored);
        char what[320];
        snprintf(what, sizeof what, "push %s %zu features", src->id, res.stored);
        lb_audit_request(r, what, "applied");
    }
    send_result(r, rc, &err, &res, src);
    lb_push_result_free(&res);
}

void lb_live_delete(lb_req *r)
{
    lb_live *lv = r->srv->live;
    const lb_source_cfg *src = writable_source(r, r->segs[1]);
    if (!src || !lv) {
        lb_http_not_found(r);
        return;
    }
    lb_push_result res = {0};
    lb_error err = {0};
    pthread_mutex_lock(&lv->write_mu);
    lb_store *store = writer(lv, r->st, &err);
    /* only a feature this principal pushed: any other of that id answers
     * the same 404 as none */
    lb_status rc = store ? lb_ingest_delete(store, r->st->cfg, src, r->principal->principal,
                                            r->segs[3], &res, &err)
                         : LB_ESTORE;
    if (rc == LB_OK)
        enqueue(lv, src, &res);
    pthread_mutex_unlock(&lv->write_mu);
    if (rc == LB_ENOENT) {
        lb_http_not_found(r);
    } else {
        if (rc == LB_OK) {
            atomic_fetch_add(&lv->pushes, 1);
            char what[320];
            snprintf(what, sizeof what, "delete %s/%s", src->id, r->segs[3]);
            lb_audit_request(r, what, "applied");
        }
        send_result(r, rc, &err, &res, src);
    }
    lb_push_result_free(&res);
}

/* ---- events --------------------------------------------------------------- */

#define KEEPALIVE_S 15

void lb_live_events(lb_req *r)
{
    lb_live *lv = r->srv->live;
    sub *s = calloc(1, sizeof *s);
    if (!lv || !s) {
        free(s);
        lb_http_error(r, 503, "events unavailable");
        return;
    }
    snprintf(s->principal, sizeof s->principal, "%s", r->principal->principal);
    if (r->jwt_principal) {
        /* the stream ends when the token expires (the loop below) */
        const lb_token_cfg *jp = r->jwt_principal;
        s->expires = jp->expires;
        s->roles = calloc(jp->nroles ? jp->nroles : 1, sizeof *s->roles);
        for (size_t i = 0; s->roles && i < jp->nroles; i++)
            if ((s->roles[s->nroles] = strdup(jp->roles[i])) != NULL)
                s->nroles++;
        if (s->nroles != jp->nroles || jp->nroles == 0) {
            sub_free(s);
            lb_http_error(r, 503, "out of memory");
            return;
        }
    }
    char head[512], cors[LB_HTTP_CORS_MAX];
    lb_http_cors(r, cors);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n"
                     "X-Content-Type-Options: nosniff\r\n%s\r\n"
                     "retry: 2000\n: connected\n\n",
                     cors);
    pthread_mutex_lock(&lv->sub_mu);
    bool full = lv->nsubs >= lv->max_subs;
    if (!full) {
        s->next = lv->subs;
        lv->subs = s;
        lv->nsubs++;
    }
    pthread_mutex_unlock(&lv->sub_mu);
    if (full) {
        sub_free(s);
        lb_http_error(r, 503, "too many event streams (each holds one of serve --threads)");
        return;
    }
    r->status = 200;
    /* registered before the first byte: a client that saw ": connected"
     * receives every change published afterwards */
    bool ok = mg_write(r->conn, head, (size_t)n) > 0;
    /* the request's state is not needed any more: an open stream must not
     * keep old snapshots alive (the principal belongs to it too) */
    lb_state_release(r->st);
    r->st = NULL;
    r->principal = NULL;
    pthread_mutex_lock(&lv->sub_mu);
    while (ok) {
        bool stopping;
        pthread_mutex_lock(&lv->mu);
        stopping = lv->stop;
        pthread_mutex_unlock(&lv->mu);
        if (stopping || (s->expires && time(NULL) >= s->expires))
            break; /* stopping, or the stream's JWT has expired */
        if (s->queue.len == 0) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += KEEPALIVE_S;
            if (s->expires && s->expires < until.tv_sec)
                until.tv_sec = s->expires; /* wake to end the stream */
            if (pthread_cond_timedwait(&lv->sub_cv, &lv->sub_mu, &until) != 0 &&
                s->queue.len == 0) {
                pthread_mutex_unlock(&lv->sub_mu);
                ok = mg_write(r->conn, ": keepalive\n\n", 13) > 0;
                pthread_mutex_lock(&lv->sub_mu);
            }
            continue;
        }
        char *text = lb_buf_take(&s->queue);
        size_t len = text ? strlen(text) : 0;
        pthread_mutex_unlock(&lv->sub_mu);
        ok = !text || mg_write(r->conn, text, len) > 0;
        r->bytes += len;
        free(text);
        pthread_mutex_lock(&lv->sub_mu);
    }
    s->gone = true;
    for (sub **pp = &lv->subs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            lv->nsubs--;
            break;
        }
    pthread_mutex_unlock(&lv->sub_mu);
    sub_free(s);
}
