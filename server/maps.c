/*
 * This file implements tiles for a principal.  For each layer of the map the
 * access module yields the principal's grant (or "not visible": the layer is
 * skipped as if it did not exist).  Each visible layer is rendered on its
 * own canvas, only with the features the grant allows, then masked by the
 * grant's area limit, and composited in map order.  Layer canvases are
 * cached under what is visible in the tile (see "content-keyed tiles"
 * below), so principals whose rights differ but who see the same features
 * there share the work; the final PNG is cached under the concatenation of
 * its layers' keys.  Static maps are rendered per request, uncached.
 *
 * Area limits use a hard mask: a pixel keeps its colour only when it lies
 * entirely inside the area, so nothing of what lies outside reaches the
 * principal, not even an anti-aliased edge.  Several clearances with
 * different areas are rendered as separate passes, each masked by its own
 * area, so a feature visible only under an area-limited role never shows
 * outside that role's area.
 */
#include <errno.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server_int.h"

/* ---- scratch buffers ------------------------------------------------------
A tile request needs canvases of the tile's size and room to pack them for
the cache: megabytes that, freshly allocated each time, cost page faults
and clearing on every request.  Buffers are kept here between requests by
size (uninitialised: every user writes what it reads), at most 24 of them
and 48 MB in all; lb_maps_scratch_free empties the pool. */
static lb_pool scratch = LB_POOL_INIT(24, (size_t)48 << 20);

static void *scratch_take(size_t bytes)
{
    void *p = lb_pool_take(&scratch, bytes);
    return p ? p : malloc(bytes ? bytes : 1);
}

static void scratch_give(void *p, size_t bytes) { lb_pool_give(&scratch, p, bytes); }

void lb_maps_scratch_free(void) { lb_pool_drain(&scratch); }

/* A canvas of w x h over a scratch buffer (contents undefined); free with
 * canvas_give.  false when out of memory. */
static bool canvas_take(lb_canvas *c, int w, int h)
{
    size_t bytes = (size_t)w * (size_t)h * 4;
    uint8_t *px = scratch_take(bytes);
    if (!px || lb_canvas_init_view(c, w, h, px) != LB_OK) {
        free(px);
        *c = (lb_canvas){0};
        return false;
    }
    return true;
}

static void canvas_give(lb_canvas *c)
{
    if (c->px)
        scratch_give(c->px, (size_t)c->width * (size_t)c->height * 4);
    lb_canvas_free(c); /* borrowed pixels: only the rasterizer's scratch */
}

typedef struct pass_pred {
    const lb_grant *g;
    int area;        /* the pass of clearances with this area index (-1: unlimited) */
    const lb_config *cfg; /* for generalised passes: the sources' release rules */
    /* continuing a canvas that holds the pass's groups up to this one's
     * (lb_feature_group_cmp order): only later groups are drawn */
    const lb_feature_info *after;
    /* an area pass: only features whose drawn geometry meets the area (NULL:
     * every feature; where the tile lies wholly inside the area) */
    const lb_area_region *region;
    /* and only the classes its plan names (NULL: every class it allows), so
     * what it draws is what its key says */
    bool (*in_plan)(const void *plan, const lb_feature_info *fi, bool gen);
    const void *plan;
} pass_pred;

/* Geometry test of an area pass: the feature meets the pass's area. */
static bool pass_meets_area(void *ud, const lb_feature_info *fi, const double box[4],
                            const lb_feature_geom *g)
{
    (void)fi;
    const pass_pred *p = ud;
    return lb_area_region_meets(p->region, g, box);
}

/* The region of area a of grid's areas: the area itself. */
static lb_area_region area_region(const lb_srv_area *a)
{
    lb_area_region r = {.area = &a->edges, .cand = a->firsts, .ncand = a->nfirsts};
    memcpy(r.q, a->box, sizeof r.q);
    return r;
}

/* Exact pass: what lb_grant_draws draws exactly in this pass. */
static bool pass_allows(void *ud, const lb_feature_info *fi)
{
    const pass_pred *p = ud;
    if (p->after && lb_feature_group_cmp(fi, p->after, false) <= 0)
        return false;
    if (lb_feature_superseded(fi, p->g, p->area))
        return false; /* the fused feature is drawn instead */
    if (p->in_plan && !p->in_plan(p->plan, fi, false))
        return false;
    return lb_grant_draws(p->g, p->area, &fi->label, NULL) == LB_DRAW_EXACT;
}

/*
 * Generalised pass: a feature this pass draws generalised (its exact form
 * is allowed by no clearance of this pass, but its source's release rule
 * names a group of one whose level and caveats suffice).
 */
static bool pass_allows_generalised(void *ud, const lb_feature_info *fi)
{
    const pass_pred *p = ud;
    if (p->after && lb_feature_group_cmp(fi, p->after, true) <= 0)
        return false;
    if (lb_feature_superseded(fi, p->g, p->area))
        return false; /* the fused feature is drawn instead */
    if (p->in_plan && !p->in_plan(p->plan, fi, true))
        return false;
    const lb_source_cfg *src = lb_config_source(p->cfg, fi->source);
    if (!src || !src->generalised_groups)
        return false;
    return lb_grant_draws(p->g, p->area, &fi->label, src) == LB_DRAW_GEN;
}

typedef void (*class_done_fn)(void *ud, const lb_feature_info *rep, lb_canvas *out);

/*
 * Draw one pass: the exact features, then the generalised ones, each class
 * by class (a generalised class: label and source).  after_gen: pp->after
 * is a generalised class (the exact features are all on c already).  done,
 * when set, is told about every class drawn.
 */
static lb_status draw_pass_classes(const lb_srv_layer *L, int grid, pass_pred *pp,
                                   bool after_gen, double minx, double miny, double maxx,
                                   double maxy, double zoom, double scale, lb_canvas *c,
                                   class_done_fn done, void *done_ud)
{
    lb_status rc = LB_OK;
    const lb_feature_info *after = pp->after;
    if (!after_gen) {
        lb_render_layer rl = {.snap = L->snap[grid], .style = L->style, .pred = pass_allows,
                              .pred_ud = pp, .geom = pp->region ? pass_meets_area : NULL,
                              .geom_ud = pp, .class_done = done, .class_ud = done_ud};
        rc = lb_render_area(&rl, 1, minx, miny, maxx, maxy, zoom, scale, c, NULL);
        pp->after = NULL; /* every generalised class comes after the exact ones */
    }
    if (rc == LB_OK && L->gen[grid]) {
        lb_render_layer gl = {.snap = L->gen[grid], .style = L->style,
                              .pred = pass_allows_generalised, .pred_ud = pp,
                              .geom = pp->region ? pass_meets_area : NULL, .geom_ud = pp,
                              .by_source = true, .class_done = done, .class_ud = done_ud};
        rc = lb_render_area(&gl, 1, minx, miny, maxx, maxy, zoom, scale, c, NULL);
    }
    pp->after = after;
    return rc;
}

static lb_status draw_pass(const lb_srv_layer *L, int grid, pass_pred *pp, double minx,
                           double miny, double maxx, double maxy, double zoom, double scale,
                           lb_canvas *c)
{
    return draw_pass_classes(L, grid, pp, false, minx, miny, maxx, maxy, zoom, scale, c, NULL,
                             NULL);
}

/* The hard mask of an area over a w x h pixel grid (255: the pixel lies
 * entirely inside, else 0); NULL when out of memory.  From the exact
 * coverage (lb_raster_fill_mask), not the filled alpha: a pixel 99.9 %
 * inside rounds to alpha 255 but shows what lies outside. */
static uint8_t *area_mask(const lb_srv_area *a, int w, int h, double minx, double maxy,
                          double sx, double sy)
{
    size_t npx = (size_t)w * (size_t)h;
    uint8_t *mask = NULL;
    size_t total = 0;
    for (size_t r = 0; r < a->nrings; r++)
        total += a->rings[r].n;
    double *xy = malloc((total ? total : 1) * 2 * sizeof *xy);
    lb_ring *rings = malloc((a->nrings ? a->nrings : 1) * sizeof *rings);
    if (xy && rings && (mask = malloc(npx)) != NULL) {
        size_t k = 0;
        for (size_t r = 0; r < a->nrings; r++) {
            rings[r].xy = xy + 2 * k;
            rings[r].n = a->rings[r].n;
            for (size_t i = 0; i < a->rings[r].n; i++, k++) {
                xy[2 * k] = (a->rings[r].xy[2 * i] - minx) * sx;
                xy[2 * k + 1] = (maxy - a->rings[r].xy[2 * i + 1]) * sy;
            }
        }
        if (!lb_raster_fill_mask(w, h, rings, a->nrings, mask)) {
            free(mask);
            mask = NULL;
        }
    }
    free(xy);
    free(rings);
    return mask;
}

/* Hard mask of an area over the pixel grid of canvas c covering the bbox. */
static void apply_area_mask(lb_canvas *c, const lb_srv_area *a, double minx, double maxy,
                            double sx, double sy)
{
    uint8_t *mask = area_mask(a, c->width, c->height, minx, maxy, sx, sy);
    if (mask)
        lb_canvas_mask(c, mask);
    else
        lb_canvas_clear(c); /* fail closed */
    free(mask);
}

/*
 * Render one layer for a grant over what c already holds (callers clear it
 * for a layer of its own) over an area of grid's CRS; zoom drives styles,
 * scale multiplies symbol sizes.
 */
lb_status lb_maps_render_layer_area(lb_state *st, const lb_srv_layer *L, const lb_grant *g,
                                    int grid, double minx, double miny, double maxx,
                                    double maxy, double zoom, double scale, lb_canvas *c)
{
    /* one pass per area of the clearances, the unlimited one first */
    int passes[LB_GRANT_MAX];
    int np = lb_grant_passes(g, passes);
    lb_canvas pass = {0};
    lb_status rc = LB_OK;
    double sx = c->width / (maxx - minx), sy = c->height / (maxy - miny);
    for (int k = 0; rc == LB_OK && k < np; k++) {
        if (passes[k] < 0) {
            pass_pred pp = {.g = g, .area = -1, .cfg = st->cfg};
            rc = draw_pass(L, grid, &pp, minx, miny, maxx, maxy, zoom, scale, c);
            continue;
        }
        if (!pass.px)
            rc = lb_canvas_init(&pass, c->width, c->height);
        else
            lb_canvas_clear(&pass);
        if (rc != LB_OK)
            break;
        const lb_srv_area *a = &st->areas[grid][passes[k]];
        lb_area_region reg = area_region(a);
        pass_pred pp = {.g = g, .area = passes[k], .cfg = st->cfg, .region = &reg};
        rc = draw_pass(L, grid, &pp, minx, miny, maxx, maxy, zoom, scale, &pass);
        if (rc == LB_OK && !lb_canvas_is_empty(&pass)) {
            apply_area_mask(&pass, a, minx, maxy, sx, sy);
            lb_canvas_over(c, &pass);
        }
    }
    lb_canvas_free(&pass);
    return rc;
}

/* The map of cfg with the most layers (NULL: none). */
static const lb_map_cfg *largest_map(const lb_config *cfg)
{
    const lb_map_cfg *big = NULL;
    for (size_t i = 0; i < cfg->nmaps; i++)
        if (!big || cfg->maps[i].nlayers > big->nlayers)
            big = &cfg->maps[i];
    return big;
}

/* The most layers a map of cfg has (at least 1). */
static size_t max_map_layers(const lb_config *cfg)
{
    const lb_map_cfg *big = largest_map(cfg);
    return big && big->nlayers > 1 ? big->nlayers : 1;
}

/* The served layer of this id (NULL: none); every layer compared, so the
 * lookup costs the same wherever it is found. */
static const lb_srv_layer *find_layer(const lb_state *st, const char *id)
{
    const lb_srv_layer *L = NULL;
    for (size_t k = 0; k < st->cfg->nlayers; k++)
        if (strcmp(st->cfg->layers[k].id, id) == 0)
            L = &st->layers[k];
    return L;
}

/*
 * As much of deciding a map's visibility as the map with the most layers
 * costs, from its layer `from` on: run for a missing map (from 0) and for
 * a hidden one (from its layer count), so that neither answers sooner than
 * the other, nor tells how many layers a hidden map has (review finding A3).
 */
static void pad_visibility(lb_req *r, size_t from)
{
    const lb_map_cfg *big = largest_map(r->st->cfg);
    time_t now = time(NULL);
    for (size_t i = from; big && i < big->nlayers; i++) {
        /* as lb_maps_visible does for a layer: find it, ask for its grant */
        const lb_srv_layer *L = find_layer(r->st, big->layers[i]);
        lb_grant g;
        (void)lb_access_layer(r->st->access, r->principal, L ? L->cfg->id : big->layers[i], now,
                              &g);
    }
}

int lb_maps_visible(lb_req *r, const lb_map_cfg *map, const lb_srv_layer ***layers_out,
                    lb_grant **grants_out)
{
    /* arrays as large as the largest map needs, whichever map is asked
     * about (the cost of zeroing them must not tell a hidden map's size) */
    size_t cap = max_map_layers(r->st->cfg);
    lb_grant *grants = *grants_out = calloc(cap, sizeof *grants);
    const lb_srv_layer **layers = *layers_out = calloc(cap, sizeof *layers);
    if (!grants || !layers)
        return -1;
    lb_state *st = r->st;
    time_t now = time(NULL);
    int nvis = 0;
    for (size_t i = 0; map && i < map->nlayers; i++) {
        const lb_srv_layer *L = find_layer(st, map->layers[i]);
        if (!L || !lb_access_layer(st->access, r->principal, L->cfg->id, now, &grants[nvis]))
            continue;
        layers[nvis++] = L;
    }
    if (nvis == 0)
        pad_visibility(r, map ? map->nlayers : 0);
    return nvis;
}

typedef struct band_job {
    lb_req *r;
    const lb_srv_layer **layers;
    const lb_grant *grants;
    int nvis, grid;
    double minx, maxx, miny, maxy, zoom;
    lb_canvas *out;
    int y0, y1; /* rows of out */
    int status;
} band_job;

static void *render_band(void *arg)
{
    band_job *j = arg;
    int w = j->out->width, h = j->y1 - j->y0;
    double res_y = (j->maxy - j->miny) / j->out->height;
    double bmaxy = j->maxy - j->y0 * res_y, bminy = j->maxy - j->y1 * res_y;
    /* the band draws straight into its rows of the output image */
    lb_canvas band = {0};
    if (lb_canvas_init_view(&band, w, h, j->out->px + (size_t)j->y0 * (size_t)w * 4) != LB_OK) {
        j->status = 500;
        return NULL;
    }
    /* every layer draws straight onto the band, in map order */
    for (int i = 0; i < j->nvis; i++) {
        if (lb_maps_render_layer_area(j->r->st, j->layers[i], &j->grants[i], j->grid, j->minx,
                                      bminy, j->maxx, bmaxy, j->zoom, 1.0, &band) != LB_OK) {
            j->status = 500;
            break;
        }
    }
    lb_canvas_free(&band);
    /* convert to straight alpha here, in parallel, so encoding only compresses */
    if (!j->status)
        lb_png_unpremultiply(j->out, j->y0, j->y1);
    return NULL;
}

int lb_maps_render_static(lb_req *r, const lb_map_cfg *map, int grid, double minx, double miny,
                          double maxx, double maxy, lb_canvas *out)
{
    lb_grant *grants;
    const lb_srv_layer **layers;
    int nvis = lb_maps_visible(r, map, &layers, &grants);
    int status = nvis < 0 ? 500 : nvis ? 0 : 404;
    if (status == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        int nb = ncpu > 1 ? (int)(ncpu > 16 ? 16 : ncpu) : 1;
        /* more bands than cores balances uneven content */
        nb = nb * 4 < out->height ? nb * 4 : 1;
        double res = fmax((maxx - minx) / out->width, (maxy - miny) / out->height);
        double zoom = log2(156543.03392804097 / res);
        band_job jobs[64];
        pthread_t th[64];
        int per = (out->height + nb - 1) / nb;
        int nj = 0;
        for (int b = 0; b < nb && nj < 64; b++) {
            int y0 = b * per, y1 = y0 + per < out->height ? y0 + per : out->height;
            if (y0 >= y1)
                break;
            jobs[nj] = (band_job){.r = r, .layers = layers, .grants = grants, .nvis = nvis,
                                  .grid = grid, .minx = minx, .maxx = maxx, .miny = miny,
                                  .maxy = maxy, .zoom = zoom, .out = out, .y0 = y0, .y1 = y1};
            nj++;
        }
        /* run at most ncpu bands at a time */
        int running = nb / 4 > 0 ? nb / 4 : 1;
        for (int start = 0; start < nj; start += running) {
            int end = start + running < nj ? start + running : nj;
            for (int k = start; k < end; k++)
                if (pthread_create(&th[k], NULL, render_band, &jobs[k]) != 0) {
                    render_band(&jobs[k]);
                    th[k] = 0;
                }
            for (int k = start; k < end; k++)
                if (th[k])
                    pthread_join(th[k], NULL);
        }
        for (int k = 0; k < nj; k++)
            if (jobs[k].status)
                status = jobs[k].status;
    }
    free(grants);
    free(layers);
    return status;
}

/* ---- content-keyed tiles -------------------------------------------------

What a layer tile shows for a principal is determined by the layer's
snapshots (layer, revision, state generation), the tile (grid, z/x/y,
scale), and which features each drawing pass draws: pass_allows and
pass_allows_generalised look only at a feature's label (and, for the
generalised snapshot, its source), so within one tile the distinct labels
("classes") present are all that matters.  The classes present in a tile
are the same for everybody and computed once (cached under "C|...", in the
renderer's drawing order); a principal's content key for a pass lists the
classes present that it draws.  The renderer draws class by class, so the
canvas after the first k classes of a pass is itself a pass of those k
classes: it is cached on the way under that prefix's key, and a principal
whose classes begin alike takes it or continues it (layer_pass).

  C|layer@rev|g|grid|z|x|y|scale        classes present (exact, generalised;
                                        rev: -1 while the layer has a change
                                        log, the revision the list was made
                                        from in the blob; else the layer's)
  P|layer@rev|g|grid|z|x|y|scale|vec    a pass or a prefix of one, unmasked
                                        (premultiplied canvas; rev: the newest
                                        change among the classes of vec)
  L|layer@rev|g|grid|z|x|y|scale|passes a layer with area passes, masked
  T|g|grid|z|x|y|scale|layer keys...    the composite PNG (ETag first)

Invariants:
 1. Equal P key => equal pixels: the key names the snapshots, the tile and
    the classes present in the query box (the render's box widened; see
    LB_CLASS_MARGIN_PX) that are drawn, in drawing order.  Every feature
    the render can draw lies in that box, so two passes with equal keys
    draw exactly the same features with the same style in the same order,
    whether drawn at once or continued from a prefix.
 2. Area passes cache their unmasked render under the P key and the masked
    layer under an L key that names the area index of every pass in order,
    so two roles with different areas never share masked pixels.
 3. A layer none of whose classes is drawn is empty: it is neither rendered
    nor named in the composite key (an empty layer changes no pixel).
 4. Keys never leave the server.  The ETag is a hash of the PNG bytes the
    principal receives, so it tells nothing the pixels do not.
 5. Timing: a cache entry made for other rights is only found when the other
    principal sees exactly the same here, which would tell something about
    data this principal may not see.  lb_cache_get_as reports a first look
    by these rights; the request then waits (sleeps, no CPU) as long as
    making the entry took, so the answer comes no faster than a render.
*/

/* The query box for classes is the render's (64 px, render.c) plus this
 * much; levels of detail move points by less than a pixel. */
#define LB_CLASS_MARGIN_PX 96.0
/* More classes than this in one tile: key by the grant instead (correct, shares less). */
#define LB_MAX_CLASSES 512

typedef struct tile_class {
    lb_label label;
    lb_label fused;  /* member: the label of the fused feature the report is merged into */
    int32_t source;  /* generalised features: index into cfg->sources; exact: -1 */
    int32_t member;  /* 1: reports merged into a fused feature (lb_feature_info.member) */
} tile_class;

typedef struct class_collect {
    tile_class *v;
    size_t n, cap;
    const lb_config *cfg;
    bool gen;
    bool overflow;
    const char *last_src; /* source index cache for generalised features */
    int32_t last_idx;
} class_collect;

static bool class_eq(const tile_class *a, const tile_class *b)
{
    return lb_label_eq(&a->label, &b->label) && a->member == b->member &&
           (!a->member || lb_label_eq(&a->fused, &b->fused)) && a->source == b->source;
}

/* A class as the renderer sees a feature of it (lb_feature_class_cmp). */
static lb_feature_info class_info(const tile_class *c, const lb_config *cfg)
{
    lb_feature_info fi = {.label = c->label, .member = c->member != 0, .fused = c->fused};
    if (c->source >= 0 && (size_t)c->source < cfg->nsources)
        fi.source = cfg->sources[c->source].id;
    return fi;
}

/*
 * lb_snapshot_classes visitor: records the class of a feature (one of each
 * class present; for a snapshot with too many classes to rank, every
 * feature, hence the set).
 */
static void collect_class(void *ud, const lb_feature_info *fi)
{
    class_collect *cc = ud;
    if (cc->overflow)
        return;
    int32_t src = -1;
    if (cc->gen) {
        if (fi->source != cc->last_src) {
            cc->last_idx = -2;
            for (size_t i = 0; fi->source && i < cc->cfg->nsources; i++)
                if (strcmp(cc->cfg->sources[i].id, fi->source) == 0)
                    cc->last_idx = (int32_t)i;
            cc->last_src = fi->source;
        }
        src = cc->last_idx;
    }
    tile_class k;
    memset(&k, 0, sizeof k); /* padding too: the list is cached as bytes */
    k.label = fi->label;
    k.member = fi->member;
    if (fi->member)
        k.fused = fi->fused;
    k.source = src;
    if (cc->n && class_eq(&cc->v[cc->n - 1], &k))
        return;
    for (size_t i = 0; i < cc->n; i++)
        if (class_eq(&cc->v[i], &k)) {
            /* move to the end: consecutive features mostly share a class */
            memmove(&cc->v[i], &cc->v[i + 1], (cc->n - i - 1) * sizeof k);
            cc->v[cc->n - 1] = k;
            return;
        }
    if (cc->n == LB_MAX_CLASSES) {
        cc->overflow = true;
        return;
    }
    if (cc->n == cc->cap) {
        size_t nc = cc->cap ? cc->cap * 2 : 16;
        tile_class *nv = realloc(cc->v, nc * sizeof *nv);
        if (!nv) {
            cc->overflow = true;
            return;
        }
        cc->v = nv;
        cc->cap = nc;
    }
    cc->v[cc->n++] = k;
}

/* Sort classes into the renderer's drawing order (few: insertion sort). */
static void sort_classes(tile_class *v, size_t n, bool gen, const lb_config *cfg)
{
    for (size_t i = 1; i < n; i++) {
        tile_class x = v[i];
        lb_feature_info xi = class_info(&x, cfg);
        size_t j = i;
        while (j > 0) {
            lb_feature_info yi = class_info(&v[j - 1], cfg);
            int c = lb_feature_class_cmp(&yi, &xi, gen);
            /* equal for the renderer (an unknown source): any fixed order */
            if (c < 0 || (c == 0 && v[j - 1].source <= x.source))
                break;
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* The classes present in a layer tile: ne exact ones, then ng generalised. */
typedef struct tile_classes {
    tile_class *v;
    uint32_t ne, ng;
    bool overflow;
} tile_classes;

typedef struct tile_ctx {
    lb_req *r;
    lb_state *st;
    int grid, z, scale, px;
    long x, y;
    double minx, miny, maxx, maxy, zoom;
    uint64_t pad_ns; /* first looks at shared entries: how long to wait */
    /* area masks made for this tile so far (the same for every layer) */
    int nmasks;
    int mask_area[4];
    uint8_t *mask[4];
} tile_ctx;

/* The tile widened by LB_CLASS_MARGIN_PX: where the features whose classes
 * it lists may lie. */
static void class_box(const tile_ctx *t, double b[4])
{
    double m = LB_CLASS_MARGIN_PX * t->scale * (t->maxx - t->minx) / t->px;
    b[0] = t->minx - m, b[1] = t->miny - m, b[2] = t->maxx + m, b[3] = t->maxy + m;
}

/* Whether the closed boxes a and b meet. */
static bool boxes_meet(const double a[4], const double b[4])
{
    return !(a[0] > b[2] || a[2] < b[0] || a[1] > b[3] || a[3] < b[1]);
}

/* Whether area index `area` lies wholly outside the tile: then no pixel's
 * square meets it, so its hard mask (area_mask) is 0 everywhere. */
static bool area_misses_tile(const tile_ctx *t, int area)
{
    const double *b = t->st->areas[t->grid][area].box;
    return !(b[0] < t->maxx && b[2] > t->minx && b[1] < t->maxy && b[3] > t->miny);
}

/* Whether area index `area` covers the tile and every feature the renderer
 * reads for it (LB_RENDER_MARGIN_PX around it, generously): then each of
 * them meets the area, and an area pass need not test their geometry. */
static bool area_covers_tile(const tile_ctx *t, int area)
{
    double m = 2 * LB_RENDER_MARGIN_PX * t->scale * (t->maxx - t->minx) / t->px;
    const double b[4] = {t->minx - m, t->miny - m, t->maxx + m, t->maxy + m};
    return lb_area_covers_box(&t->st->areas[t->grid][area].edges, b);
}

/* Mask canvas c (the tile's) by area index `area`, made once per tile. */
static void tile_mask(tile_ctx *t, lb_canvas *c, int area)
{
    const lb_srv_area *a = &t->st->areas[t->grid][area];
    double sx = c->width / (t->maxx - t->minx), sy = c->height / (t->maxy - t->miny);
    for (int i = 0; i < t->nmasks; i++)
        if (t->mask_area[i] == area) {
            lb_canvas_mask(c, t->mask[i]);
            return;
        }
    if (t->nmasks == 4) {
        apply_area_mask(c, a, t->minx, t->maxy, sx, sy);
        return;
    }
    uint8_t *m = area_mask(a, c->width, c->height, t->minx, t->maxy, sx, sy);
    if (!m) {
        lb_canvas_clear(c); /* fail closed */
        return;
    }
    t->mask_area[t->nmasks] = area;
    t->mask[t->nmasks++] = m;
    lb_canvas_mask(c, m);
}

/* "LAYER@REV|gGEN|GRID|Z|X|Y|SCALE": the part every key of a layer tile has
 * (formatted without printf: see lb_buf_put_int) */
static void put_layer_base_rev(lb_buf *b, const tile_ctx *t, const lb_srv_layer *L, int64_t rev)
{
    lb_buf_puts(b, L->cfg->id);
    lb_buf_putc(b, '@');
    lb_buf_put_int(b, (long long)rev);
    lb_buf_puts(b, "|g");
    lb_buf_put_int(b, (long long)t->st->generation);
    const long long v[] = {t->grid, t->z, t->x, t->y, t->scale};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        lb_buf_putc(b, '|');
        lb_buf_put_int(b, v[i]);
    }
}

static void put_layer_base(lb_buf *b, const tile_ctx *t, const lb_srv_layer *L)
{
    put_layer_base_rev(b, t, L, lb_snapshot_revision(L->snap[t->grid]));
}

/*
 * The revisions a drawing pass's prefix keys name for this tile: for the
 * first j classes the pass draws, the newest revision that changed, within
 * the tile and its margin, a feature version of one of those classes
 * (L->log): for an exact class a version of its label where its exact
 * geometry lies, for a generalised class (label and source) a version of
 * that label and source where the cells of its generalised form lie; else
 * the log's floor.  Until that changes those classes draw the same pixels (a
 * class that appears or disappears changes the key's class list instead),
 * so an entry survives pushes elsewhere and pushes of features the pass
 * does not draw (no re-render, and no timing difference, for those), and a
 * report joining or leaving a cluster whose fused feature the pass does not
 * show either way (lb_chlog_moves: it is drawn as before, in its place).
 * The layer's revision when no log is known (full reloads, a log that
 * could not be kept).  rev[j - 1] is prefix j's; g and pass_area are the
 * pass's grant and area index (-1: unlimited), area its region when it
 * draws only what meets it.
 */
static void prefix_revisions(const tile_ctx *t, const lb_srv_layer *L, const tile_classes *tc,
                             const uint32_t *on, uint32_t n, const lb_grant *g, int pass_area,
                             const lb_srv_area *area, int64_t *rev)
{
    int64_t lrev = lb_snapshot_revision(L->snap[t->grid]);
    const lb_chlog *log = L->log;
    if (!log || log->last != lrev) {
        for (uint32_t j = 0; j < n; j++)
            rev[j] = lrev;
        return;
    }
    double q[4];
    class_box(t, q);
    for (uint32_t j = 0; j < n; j++)
        rev[j] = log->floor;
    for (size_t i = 0; i < log->n; i++) {
        const lb_chlog_entry *c = &log->v[i];
        if (c->rev <= log->floor)
            continue;
        const double *b = c->box[t->grid], *gb = c->gbox[t->grid];
        bool exact = boxes_meet(b, q), gen = c->gen && boxes_meet(gb, q);
        /* an area pass that draws only what meets its area: a change
         * outside the area changes nothing it draws */
        if (area) {
            exact = exact && lb_area_meets_box(area, b);
            gen = gen && lb_area_meets_box(area, gb);
        }
        if ((!exact && !gen) || !lb_chlog_moves(c, g, pass_area))
            continue;
        for (uint32_t j = 0; j < n; j++) {
            const tile_class *cl = &tc->v[on[j]];
            bool meets = on[j] < tc->ne ? exact
                                        : gen && (c->source < 0 || c->source == cl->source);
            if (meets && c->rev > rev[j] && lb_label_eq(&cl->label, &c->label))
                rev[j] = c->rev;
        }
    }
    for (uint32_t j = 1; j < n; j++)
        if (rev[j - 1] > rev[j])
            rev[j] = rev[j - 1];
}

/*
 * Whether change-log entry c could change what grant g draws of layer L in
 * the tile box q (the tile and its class margin): a version of a label some
 * pass of g draws exactly, lying in q (and meeting the pass's area), or one
 * it draws generalised (label and source), whose cells lie in q (and meet
 * the area).  A version of a label g draws in no pass, or outside its
 * areas, changes nothing it draws: a feature is drawn only under its own
 * label (merged reports too), and an area pass draws only what meets its
 * area.
 */
static bool entry_concerns(const tile_ctx *t, const lb_grant *g, const int *passes, int np,
                           const lb_chlog_entry *c, const double q[4])
{
    const double *b = c->box[t->grid], *gb = c->gbox[t->grid];
    bool ex = boxes_meet(b, q), ge = c->gen && boxes_meet(gb, q);
    if (!ex && !ge)
        return false;
    for (int p = 0; p < np; p++) {
        int a = passes[p];
        const lb_srv_area *area = a >= 0 ? &t->st->areas[t->grid][a] : NULL;
        if (!lb_chlog_moves(c, g, a))
            continue;
        if (ex && lb_grant_draws(g, a, &c->label, NULL) == LB_DRAW_EXACT &&
            (!area || lb_area_meets_box(area, b)))
            return true;
        if (ge && (!area || lb_area_meets_box(area, gb)) &&
            lb_grant_draws_gen_from(g, a, &c->label, t->st->cfg, c->source))
            return true;
    }
    return false;
}

/*
 * The list of classes present in a tile (every class, also those the
 * principal may not see: plan_layer picks what each pass draws) is one cache
 * entry per tile and layer, shared by every principal, with the revision of
 * the snapshot it was made from.  A principal takes it as long as no change
 * since then concerns what it draws there (entry_concerns): the classes it
 * draws are then still exactly those listed.  So a change it may not see,
 * near the tile or not, never makes its next request walk the classes again
 * (a little time, but it would tell of the change); a change it may see
 * does, and the list made then is the newest for everybody.  Without a log
 * (a reload, a log that could not be kept) the list is keyed by the layer's
 * revision.  Blob: u32 ne, ng, overflow; i64 revision; the classes.
 */
#define CLASSES_HEAD (3 * sizeof(uint32_t) + sizeof(int64_t))

static bool classes_valid(const tile_ctx *t, const lb_srv_layer *L, const lb_grant *g,
                          int64_t made)
{
    const lb_chlog *log = L->log;
    int64_t lrev = lb_snapshot_revision(L->snap[t->grid]);
    if (made < log->floor || made > lrev)
        return false; /* changes the log does not hold, or a newer snapshot's list */
    int passes[LB_GRANT_MAX];
    int np = lb_grant_passes(g, passes);
    double q[4];
    class_box(t, q);
    for (size_t i = 0; i < log->n; i++) {
        const lb_chlog_entry *c = &log->v[i];
        if (c->rev > made && entry_concerns(t, g, passes, np, c, q))
            return false;
    }
    return true;
}

static lb_status get_classes(tile_ctx *t, const lb_srv_layer *L, const lb_grant *g,
                             tile_classes *out)
{
    memset(out, 0, sizeof *out);
    int64_t lrev = lb_snapshot_revision(L->snap[t->grid]);
    bool logged = L->log && L->log->last == lrev;
    lb_buf key = {0};
    lb_buf_puts(&key, "C|");
    put_layer_base_rev(&key, t, L, logged ? -1 : lrev);
    if (!key.data || key.oom) {
        lb_buf_free(&key);
        return LB_ENOMEM;
    }
    size_t len = 0;
    uint8_t *blob = lb_cache_get(t->r->srv->cache, key.data, &len);
    bool newer = false; /* the cached list is of a newer snapshot: keep it */
    if (blob && len >= CLASSES_HEAD) {
        uint32_t h[3];
        int64_t made;
        memcpy(h, blob, sizeof h);
        memcpy(&made, blob + sizeof h, sizeof made);
        newer = made > lrev;
        if (len == CLASSES_HEAD + ((size_t)h[0] + h[1]) * sizeof(tile_class) &&
            (!logged || classes_valid(t, L, g, made))) {
            out->ne = h[0];
            out->ng = h[1];
            out->overflow = h[2] != 0;
            out->v = malloc((out->ne + out->ng + 1) * sizeof *out->v);
            if (out->v) {
                memcpy(out->v, blob + CLASSES_HEAD, (out->ne + out->ng) * sizeof *out->v);
                free(blob);
                lb_buf_free(&key);
                return LB_OK;
            }
        }
    }
    free(blob);
    double q[4];
    class_box(t, q);
    class_collect ex = {.cfg = t->st->cfg}, ge = {.cfg = t->st->cfg, .gen = true};
    /* one walk per class that stops at its first feature: the list holds
     * classes this principal may not see, and finding them must not cost
     * time in proportion to their features */
    lb_snapshot_classes(L->snap[t->grid], q[0], q[1], q[2], q[3], collect_class, &ex);
    if (L->gen[t->grid])
        lb_snapshot_classes(L->gen[t->grid], q[0], q[1], q[2], q[3], collect_class, &ge);
    /* the drawing order, so the cached list does not depend on feature order */
    sort_classes(ex.v, ex.n, false, t->st->cfg);
    sort_classes(ge.v, ge.n, true, t->st->cfg);
    out->overflow = ex.overflow || ge.overflow;
    out->ne = out->overflow ? 0 : (uint32_t)ex.n;
    out->ng = out->overflow ? 0 : (uint32_t)ge.n;
    out->v = malloc((out->ne + out->ng + 1) * sizeof *out->v);
    uint8_t *nb = malloc(CLASSES_HEAD + (out->ne + out->ng) * sizeof *out->v);
    lb_status rc = LB_OK;
    if (!out->v || !nb) {
        rc = LB_ENOMEM;
    } else {
        if (out->ne)
            memcpy(out->v, ex.v, out->ne * sizeof *out->v);
        if (out->ng)
            memcpy(out->v + out->ne, ge.v, out->ng * sizeof *out->v);
        uint32_t h[3] = {out->ne, out->ng, out->overflow};
        memcpy(nb, h, sizeof h);
        memcpy(nb + sizeof h, &lrev, sizeof lrev);
        memcpy(nb + CLASSES_HEAD, out->v, (out->ne + out->ng) * sizeof *out->v);
        atomic_fetch_add(&t->r->srv->class_lists, 1);
        if (!newer)
            lb_cache_put(t->r->srv->cache, key.data, nb,
                         CLASSES_HEAD + (out->ne + out->ng) * sizeof *out->v);
    }
    free(nb);
    free(ex.v);
    free(ge.v);
    lb_buf_free(&key);
    return rc;
}

/*
 * Compact form of a layer canvas in the cache: the band of rows that holds
 * anything, as runs.  Layout (native-endian u32 words): y0, y1, then tokens
 * covering the pixels of rows [y0, y1) in order: (n << 1 | 1) followed by
 * one pixel repeated n times, or (n << 1) followed by n literal pixels.
 * An empty canvas is stored as zero bytes.  Packed into a scratch buffer of
 * PACK_BYTES(c) (give it back with scratch_give).
 */
#define PACK_BYTES(c) (((size_t)(c)->width * (size_t)(c)->height * 3 / 2 + 4) * 4)

static bool row_zero(const uint32_t *p, size_t w)
{
    uint32_t acc = 0;
    for (size_t i = 0; i < w; i++) /* vectorised by the compiler */
        acc |= p[i];
    return acc == 0;
}

/* The first r >= i with s[r] == s[r + 1] == s[r + 2] (the start of a run
 * worth a token), or n. */
static size_t next_run(const uint32_t *s, size_t i, size_t n)
{
#if defined(__SSE2__)
    for (; i + 6 <= n; i += 4) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 1));
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 2));
        int m = _mm_movemask_ps(
            _mm_castsi128_ps(_mm_and_si128(_mm_cmpeq_epi32(a, b), _mm_cmpeq_epi32(b, c))));
        if (m)
            return i + (size_t)__builtin_ctz((unsigned)m);
    }
#endif
    for (; i + 2 < n; i++)
        if (s[i] == s[i + 1] && s[i + 1] == s[i + 2])
            return i;
    return n;
}

/* The end of the run of s[i]: the first j > i with s[j] != s[i], or n. */
static size_t run_end(const uint32_t *s, size_t i, size_t n)
{
    uint32_t v = s[i];
    size_t j = i + 1;
#if defined(__SSE2__)
    __m128i vv = _mm_set1_epi32((int)v);
    for (; j + 4 <= n; j += 4) {
        int m = _mm_movemask_ps(_mm_castsi128_ps(
            _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(const void *)(s + j)), vv)));
        if (m != 0xf)
            return j + (size_t)__builtin_ctz(~(unsigned)m);
    }
#endif
    while (j < n && s[j] == v)
        j++;
    return j;
}

static uint8_t *canvas_pack(const lb_canvas *c, size_t *len)
{
    size_t w = (size_t)c->width, h = (size_t)c->height;
    const uint32_t *p = (const uint32_t *)(const void *)c->px;
    size_t y0 = 0, y1 = h;
    while (y0 < h && row_zero(p + y0 * w, w))
        y0++;
    if (y0 == h) {
        *len = 0;
        return scratch_take(PACK_BYTES(c));
    }
    while (y1 > y0 && row_zero(p + (y1 - 1) * w, w))
        y1--;
    const uint32_t *s = p + y0 * w;
    size_t n = (y1 - y0) * w;
    /* worst case: a literal token per two pixels plus the pixels and header */
    uint32_t *o = scratch_take(PACK_BYTES(c));
    if (!o)
        return NULL;
    size_t k = 0;
    o[k++] = (uint32_t)y0;
    o[k++] = (uint32_t)y1;
    /* runs of 3 or more equal pixels are tokens of their own, everything
     * between them one literal token */
    size_t lit = 0; /* start of the pending literal run */
    for (size_t i = next_run(s, 0, n); i < n; i = next_run(s, lit, n)) {
        size_t j = run_end(s, i, n);
        if (lit < i) {
            o[k++] = (uint32_t)((i - lit) << 1);
            memcpy(o + k, s + lit, (i - lit) * sizeof *o);
            k += i - lit;
        }
        o[k++] = (uint32_t)(((j - i) << 1) | 1);
        o[k++] = s[i];
        lit = j;
    }
    if (lit < n) {
        o[k++] = (uint32_t)((n - lit) << 1);
        memcpy(o + k, s + lit, (n - lit) * sizeof *o);
        k += n - lit;
    }
    *len = k * sizeof *o;
    return (uint8_t *)o;
}

/* dst (n pixels) = src over dst, with lb_canvas_over's arithmetic (one-row
 * views: the same code, so the same pixels as compositing whole canvases) */
static void over_pixels(uint8_t *dst, const uint32_t *src, size_t n)
{
    lb_canvas d = {0}, sv = {0};
    if (lb_canvas_init_view(&d, (int)n, 1, dst) == LB_OK &&
        lb_canvas_init_view(&sv, (int)n, 1, (uint8_t *)(uintptr_t)src) == LB_OK)
        lb_canvas_over(&d, &sv);
    lb_canvas_free(&d);
    lb_canvas_free(&sv);
}

/* Unpack the run tokens in[0..nw) into exactly n pixels at o (over: put
 * them over what o holds instead, with lb_canvas_over's result bit for bit:
 * a transparent run leaves o as it is, an opaque one replaces, the rest
 * goes through lb_canvas_over's code, a repeated translucent pixel from a
 * small buffer of it); false when malformed. */
static bool unpack_runs(const uint32_t *in, size_t nw, uint32_t *o, size_t n, bool over)
{
    size_t pos = 0, k = 0;
    while (k < nw && pos < n) {
        size_t cnt = in[k] >> 1;
        bool rep = in[k] & 1;
        k++;
        if (cnt == 0 || cnt > n - pos || k + (rep ? 1 : cnt) > nw)
            return false;
        if (!rep) {
            if (over)
                over_pixels((uint8_t *)(o + pos), in + k, cnt);
            else
                memcpy(o + pos, in + k, cnt * 4);
            k += cnt;
        } else {
            uint32_t v = in[k++];
            uint8_t a;
            memcpy(&a, (const uint8_t *)&v + 3, 1);
            if (!over || a == 255) {
                for (size_t i = 0; i < cnt; i++)
                    o[pos + i] = v;
            } else if (v != 0) {
                uint32_t rep_px[256];
                size_t m = cnt < 256 ? cnt : 256;
                for (size_t i = 0; i < m; i++)
                    rep_px[i] = v;
                for (size_t done = 0; done < cnt; done += m)
                    over_pixels((uint8_t *)(o + pos + done), rep_px,
                                cnt - done < m ? cnt - done : m);
            }
        }
        pos += cnt;
    }
    return pos == n && k == nw;
}

/* The band [*y0, *y1) of a packed canvas of height h; false when malformed. */
static bool packed_band(const uint8_t *data, size_t len, int h, size_t *y0, size_t *y1)
{
    if (len % 4 || len < 8)
        return false;
    uint32_t y[2];
    memcpy(y, data, 8);
    *y0 = y[0];
    *y1 = y[1];
    return y[0] < y[1] && y[1] <= (uint32_t)h;
}

/* Unpack into c (its size as packed); false for anything malformed. */
static bool canvas_unpack(const uint8_t *data, size_t len, lb_canvas *c)
{
    size_t w = (size_t)c->width, h = (size_t)c->height, y0, y1;
    uint32_t *px = (uint32_t *)(void *)c->px;
    if (len == 0) {
        lb_canvas_clear(c);
        return true;
    }
    if (!packed_band(data, len, c->height, &y0, &y1))
        return false;
    c->zeroed = false; /* written here, not by the tiler */
    memset(px, 0, y0 * w * 4);
    memset(px + y1 * w, 0, (h - y1) * w * 4);
    return unpack_runs((const uint32_t *)(const void *)data + 2, len / 4 - 2, px + y0 * w,
                       (y1 - y0) * w, false);
}

/* A 64-bit hash of bytes, 8 at a time (ETags only need to change with content). */
static uint64_t bytes_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0x6a09e667f3bcc908ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, p + i, n - i);
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 32;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}

/* The quoted ETag of a composite's hash. */
static void format_etag(uint64_t h, char etag[40])
{
    etag[0] = '"';
    size_t en = 1 + lb_fmt_hex(etag + 1, (unsigned long long)h, 16);
    etag[en++] = '"';
    etag[en] = '\0';
}

static uint64_t elapsed_ns(double t0) { return (uint64_t)((lb_now() - t0) * 1e9); }

/* Look up a packed canvas (a reference: unref it) and account for the hit. */
static lb_blob *cached_blob(tile_ctx *t, const char *key, uint64_t viewer, uint64_t *cost)
{
    bool first = false;
    lb_blob *b = lb_cache_get_blob(t->r->srv->cache, key, viewer, cost, &first);
    if (!b)
        return NULL;
    atomic_fetch_add(&t->r->srv->layer_hits, 1);
    if (first) {
        atomic_fetch_add(&t->r->srv->shared_hits, 1);
        t->pad_ns += *cost;
    }
    return b;
}

/* Look up a packed canvas; on a hit unpack it into c. */
static bool cached_canvas(tile_ctx *t, const char *key, uint64_t viewer, lb_canvas *c,
                          uint64_t *cost)
{
    lb_blob *b = cached_blob(t, key, viewer, cost);
    bool ok = b && canvas_unpack(b->data, b->len, c);
    lb_blob_unref(b);
    return ok;
}

/* Composite a packed canvas over out straight from its run tokens (first:
 * out holds nothing yet, so the pixels are simply unpacked, the rest cleared). */
static bool compose_packed(lb_canvas *out, const uint8_t *data, size_t len, bool first)
{
    if (len == 0) {
        if (first)
            lb_canvas_clear(out);
        return true;
    }
    size_t y0, y1, w = (size_t)out->width;
    if (!packed_band(data, len, out->height, &y0, &y1))
        return false;
    out->zeroed = false; /* written here, not by the tiler */
    if (first) {
        memset(out->px, 0, y0 * w * 4);
        memset(out->px + y1 * w * 4, 0, ((size_t)out->height - y1) * w * 4);
    }
    uint8_t *rows = out->px + y0 * w * 4;
    const uint32_t *tok = (const uint32_t *)(const void *)data + 2;
    size_t n = (y1 - y0) * w, nw = len / 4 - 2;
    return unpack_runs(tok, nw, (uint32_t *)(void *)rows, n, !first);
}

static void store_canvas(tile_ctx *t, const char *key, uint64_t viewer, const lb_canvas *c,
                         uint64_t cost)
{
    size_t len = 0;
    uint8_t *d = canvas_pack(c, &len);
    lb_blob *b = d ? lb_blob_new(len) : NULL;
    if (b) {
        memcpy(b->data, d, len);
        lb_cache_put_blob(t->r->srv->cache, key, b, viewer, cost);
    }
    lb_blob_unref(b);
    scratch_give(d, PACK_BYTES(c));
}

/*
 * One drawing pass of a layer tile as planned: the classes present that it
 * draws, in drawing order, and the key of every prefix of them.  Prefix j
 * (the first j classes drawn onto a clear canvas) is
 * "P|LAYER@REV_j|gGEN|GRID|Z|X|Y|SCALE|" + the first j class codes of vec;
 * the pass's canvas is prefix n.
 */
typedef struct pass_plan {
    int area;      /* -1: the unlimited pass */
    bool filter;   /* an area pass on a tile across the area's boundary: only
                    * features that meet the area are drawn (keys say so) */
    uint32_t n;    /* classes drawn; 0: the pass draws nothing here */
    uint32_t *on;  /* their indices into the tile's classes */
    size_t *cut;   /* vec length after each class */
    int64_t *rev;  /* each prefix's key revision */
    lb_buf vec;    /* class codes, "e|g" LEVEL.GROUPS.CAVEATS[m...][.SOURCE] "," each */
    lb_buf key;    /* prefix n */
} pass_plan;

/* How one layer of a composite is made, and under which keys. */
typedef struct layer_plan {
    enum { PLAN_EMPTY, PLAN_PASS, PLAN_AREAS, PLAN_GRANT } kind;
    lb_buf key;                     /* P, L or G key of the layer canvas */
    tile_classes tc;                /* the classes present */
    int np;                         /* PLAN_AREAS, PLAN_PASS: passes in drawing order */
    pass_plan pass[LB_GRANT_MAX];
} layer_plan;

static void plan_free(layer_plan *pl)
{
    lb_buf_free(&pl->key);
    free(pl->tc.v);
    for (size_t p = 0; p < sizeof pl->pass / sizeof pl->pass[0]; p++) {
        free(pl->pass[p].on);
        free(pl->pass[p].cut);
        free(pl->pass[p].rev);
        lb_buf_free(&pl->pass[p].vec);
        lb_buf_free(&pl->pass[p].key);
    }
}

/* Prefix j (1..n) of pass pp into b (reset first); false when out of memory. */
static bool prefix_key(const tile_ctx *t, const lb_srv_layer *L, const pass_plan *pp, uint32_t j,
                       lb_buf *b)
{
    lb_buf_reset(b);
    lb_buf_puts(b, "P|");
    put_layer_base_rev(b, t, L, pp->rev[j - 1]);
    if (pp->filter) {
        /* not the unmasked render of these classes: only the features that
         * meet this area */
        lb_buf_puts(b, "|A");
        lb_buf_put_int(b, pp->area);
    }
    lb_buf_putc(b, '|');
    lb_buf_append(b, pp->vec.data, pp->cut[j - 1]);
    return b->data && !b->oom;
}

/* Whether fi (as the renderer reports a feature) is of class c's group
 * (lb_feature_group_cmp): drawn together with c's features. */
static bool in_group(const tile_class *c, const lb_feature_info *fi, bool gen,
                     const lb_config *cfg)
{
    lb_feature_info ci = class_info(c, cfg);
    return lb_feature_group_cmp(&ci, fi, gen) == 0;
}

/* Whether drawn class j of pp is the last of its group there: the classes
 * of a group share their code (and cut), and prefixes end between groups. */
static bool group_end(const pass_plan *pp, uint32_t j)
{
    return j + 1 >= pp->n || pp->cut[j] != pp->cut[j + 1];
}

/* The groups a pass's plan draws (pass_pred.in_plan). */
typedef struct plan_classes {
    const tile_classes *tc;
    const uint32_t *on;
    uint32_t n;
    const lb_config *cfg;
} plan_classes;

static bool plan_has(const void *plan, const lb_feature_info *fi, bool gen)
{
    const plan_classes *pc = plan;
    for (uint32_t j = 0; j < pc->n; j++) {
        uint32_t k = pc->on[j];
        if ((k >= pc->tc->ne) == gen && in_group(&pc->tc->v[k], fi, gen, pc->cfg))
            return true;
    }
    return false;
}

/* A walk for the first feature of one class's group that a pass draws and
 * that meets its area. */
typedef struct class_area_probe {
    const tile_class *c;
    bool gen;
    const lb_config *cfg;
    const lb_grant *g; /* NULL: the class c itself, not what the pass draws of its group */
    int area;
    lb_area_region reg;
} class_area_probe;

static bool probe_is_class(void *ud, const lb_feature_info *fi)
{
    const class_area_probe *p = ud;
    if (!p->g) {
        lb_feature_info ci = class_info(p->c, p->cfg);
        return lb_feature_class_cmp(&ci, fi, p->gen) == 0;
    }
    return in_group(p->c, fi, p->gen, p->cfg) && !lb_feature_superseded(fi, p->g, p->area);
}

static bool probe_meets_area(void *ud, const lb_feature_info *fi, const double box[4],
                             const lb_feature_geom *g)
{
    const class_area_probe *p = ud;
    return probe_is_class(ud, fi) && lb_area_region_meets(&p->reg, g, box);
}

/*
 * Whether a feature of class c's group (of the generalised snapshot when
 * gen) near the tile that the pass of g for area index `area` draws meets
 * that area (g NULL: a feature of class c itself): an area pass across the
 * area's boundary keys and draws only such groups, and names only such
 * classes of merged reports it hides, so features of a cleared label that
 * lie outside the area, appearing or changing, move none of its keys.
 */
static bool group_meets_area(const tile_ctx *t, const lb_srv_layer *L, const tile_class *c,
                             bool gen, const lb_grant *g, int area)
{
    const lb_srv_area *a = &t->st->areas[t->grid][area];
    const lb_snapshot *s = gen ? L->gen[t->grid] : L->snap[t->grid];
    if (!s)
        return false;
    double q[4];
    class_box(t, q);
    class_area_probe p = {.c = c, .gen = gen, .cfg = t->st->cfg, .g = g, .area = area,
                          .reg = area_region(a)};
    return lb_snapshot_max_level(s, q[0], q[1], q[2], q[3], probe_is_class, probe_meets_area,
                                 &p) >= 0;
}

/* Stores each prefix of a pass as its classes are drawn (class_done_fn). */
typedef struct prefix_sink {
    tile_ctx *t;
    const lb_srv_layer *L;
    const lb_grant *g;
    const tile_classes *tc;
    const pass_plan *pp;
    uint32_t next;  /* classes on the canvas (the plan's first ones) */
    bool lost;      /* a class came that the plan does not have: store nothing more */
    double t0;      /* when drawing began */
    uint64_t base;  /* what the prefix drawing began with cost */
    lb_buf key;
} prefix_sink;

static void prefix_done(void *ud, const lb_feature_info *rep, lb_canvas *out)
{
    prefix_sink *k = ud;
    if (k->lost)
        return;
    const pass_plan *pp = k->pp;
    /* groups of the plan that drew nothing at this level of detail were
     * passed over: the canvas is also the prefix that ends with them */
    uint32_t j = k->next;
    while (j < pp->n &&
           !in_group(&k->tc->v[pp->on[j]], rep, pp->on[j] >= k->tc->ne, k->t->st->cfg))
        j++;
    if (j == pp->n) {
        k->lost = true;
        return;
    }
    while (!group_end(pp, j))
        j++;
    k->next = j + 1;
    /* the whole pass is stored by layer_pass under its own key */
    if (k->next < pp->n && prefix_key(k->t, k->L, pp, k->next, &k->key))
        store_canvas(k->t, k->key.data, k->g->key, out, k->base + elapsed_ns(k->t0));
}

/*
 * One pass of a layer for a grant (unmasked) into c: from the cache, else
 * continued from the longest cached prefix of it, else drawn from a clear
 * canvas; the prefixes drawn on the way are cached too, so principals whose
 * classes begin alike share the drawing of those.
 */
static lb_status layer_pass(tile_ctx *t, const lb_srv_layer *L, const lb_grant *g,
                            const layer_plan *pl, const pass_plan *pp, lb_canvas *c,
                            uint64_t *cost)
{
    if (cached_canvas(t, pp->key.data, g->key, c, cost))
        return LB_OK;
    prefix_sink k = {.t = t, .L = L, .g = g, .tc = &pl->tc, .pp = pp};
    uint32_t from = 0;
    for (uint32_t j = pp->n - 1; j >= 1; j--) {
        if (!group_end(pp, j - 1))
            continue; /* no canvas ends inside a group */
        if (!prefix_key(t, L, pp, j, &k.key)) {
            lb_buf_free(&k.key);
            return LB_ENOMEM;
        }
        if (cached_canvas(t, k.key.data, g->key, c, &k.base)) {
            from = j;
            break;
        }
    }
    k.t0 = lb_now();
    k.next = from;
    if (!from)
        lb_canvas_clear(c);
    lb_area_region reg;
    plan_classes pc = {.tc = &pl->tc, .on = pp->on, .n = pp->n, .cfg = t->st->cfg};
    pass_pred pr = {.g = g, .area = pp->area, .cfg = t->st->cfg};
    if (pp->filter) {
        reg = area_region(&t->st->areas[t->grid][pp->area]);
        pr.region = &reg;
        pr.in_plan = plan_has;
        pr.plan = &pc;
    }
    lb_feature_info after;
    bool after_gen = false;
    if (from) {
        uint32_t ci = pp->on[from - 1];
        after = class_info(&pl->tc.v[ci], t->st->cfg);
        after_gen = ci >= pl->tc.ne;
        pr.after = &after;
    }
    lb_status rc = draw_pass_classes(L, t->grid, &pr, after_gen, t->minx, t->miny, t->maxx,
                                     t->maxy, t->zoom, t->scale, c, prefix_done, &k);
    lb_buf_free(&k.key);
    if (rc != LB_OK)
        return rc;
    atomic_fetch_add(&t->r->srv->tiles_rendered, 1);
    *cost = k.base + elapsed_ns(k.t0);
    store_canvas(t, pp->key.data, g->key, c, *cost);
    return LB_OK;
}

/* A label in a key: LEVEL.GROUPS.CAVEATS (hex bit sets). */
static void put_label(lb_buf *b, const lb_label *l)
{
    lb_buf_put_int(b, (long long)l->level);
    lb_buf_putc(b, '.');
    lb_buf_put_hex(b, (unsigned long long)l->groups, 0);
    lb_buf_putc(b, '.');
    lb_buf_put_hex(b, (unsigned long long)l->caveats, 0);
}

/* Work out the plan (and keys) of layer L for grant g; no rendering. */
static lb_status plan_layer(tile_ctx *t, const lb_srv_layer *L, const lb_grant *g,
                            layer_plan *pl)
{
    lb_state *st = t->st;
    memset(pl, 0, sizeof *pl);
    lb_status rc = get_classes(t, L, g, &pl->tc);
    if (rc != LB_OK)
        return rc;
    const tile_classes *tc = &pl->tc;
    if (tc->overflow) {
        /* too many classes: key by the grant, as before content keys */
        pl->kind = PLAN_GRANT;
        lb_buf_puts(&pl->key, "G|");
        put_layer_base(&pl->key, t, L);
        lb_buf_putc(&pl->key, '|');
        lb_buf_puts(&pl->key, g->canon);
        return pl->key.data && !pl->key.oom ? LB_OK : LB_ENOMEM;
    }
    /* the passes, in lb_maps_render_layer_area's order */
    int passes[LB_GRANT_MAX];
    pl->np = lb_grant_passes(g, passes);
    for (int p = 0; p < pl->np; p++)
        pl->pass[p].area = passes[p];
    /* per pass: the classes present here that the pass draws, group by
     * group (lb_feature_group_cmp), each group coded as "e|g" (exact /
     * generalised) LEVEL.GROUPS.CAVEATS, then "h" and the fused label of
     * each class of merged reports present that the pass hides behind their
     * fused feature (lb_feature_superseded: it may see that label), and the
     * source index for generalised ones.  The classes of merged reports it
     * draws are drawn as the group's other features are, so they leave no
     * trace of their fused label; classes it does not draw leave none
     * either (a feature of another label arriving in the tile changes no
     * key of principals who cannot see it, nor does a report they see
     * joining a cluster whose fused feature they may not see). */
    uint32_t nc = tc->ne + tc->ng;
    int live = 0, last = -1;
    for (int p = 0; p < pl->np && rc == LB_OK; p++) {
        pass_plan *pp = &pl->pass[p];
        pass_pred pr = {.g = g, .area = pp->area, .cfg = st->cfg};
        pp->on = malloc((nc ? nc : 1) * sizeof *pp->on);
        pp->cut = malloc((nc ? nc : 1) * sizeof *pp->cut);
        pp->rev = malloc((nc ? nc : 1) * sizeof *pp->rev);
        if (!pp->on || !pp->cut || !pp->rev) {
            rc = LB_ENOMEM;
            break;
        }
        if (pp->area >= 0 && area_misses_tile(t, pp->area))
            continue; /* its hard mask is 0 on every pixel: the pass draws nothing */
        if (pp->area >= 0)
            pp->filter = !area_covers_tile(t, pp->area);
        lb_buf *vec = &pp->vec;
        for (uint32_t k = 0; k < nc;) {
            /* the group [k, e): the classes are in drawing order */
            bool gen = k >= tc->ne;
            lb_feature_info fk = class_info(&tc->v[k], st->cfg);
            uint32_t e = k + 1;
            while (e < nc && (e >= tc->ne) == gen && in_group(&tc->v[e], &fk, gen, st->cfg))
                e++;
            uint32_t first = pp->n;
            for (uint32_t c = k; c < e; c++) {
                lb_feature_info fi = class_info(&tc->v[c], st->cfg);
                if (gen ? fi.source && pass_allows_generalised(&pr, &fi) : pass_allows(&pr, &fi))
                    pp->on[pp->n++] = c;
            }
            if (pp->n > first && pp->filter &&
                !group_meets_area(t, L, &tc->v[pp->on[first]], gen, g, pp->area))
                pp->n = first;
            if (pp->n == first) {
                k = e;
                continue;
            }
            const tile_class *cl = &tc->v[k];
            lb_buf_putc(vec, gen ? 'g' : 'e');
            put_label(vec, &cl->label);
            for (uint32_t c = k; c < e; c++) {
                lb_feature_info fi = class_info(&tc->v[c], st->cfg);
                if (!lb_feature_superseded(&fi, g, pp->area) ||
                    (pp->filter && !group_meets_area(t, L, &tc->v[c], gen, NULL, pp->area)))
                    continue;
                lb_buf_putc(vec, 'h');
                put_label(vec, &fi.fused);
            }
            if (gen) {
                lb_buf_putc(vec, '.');
                lb_buf_put_int(vec, (long long)cl->source);
            }
            lb_buf_putc(vec, ',');
            for (uint32_t j = first; j < pp->n; j++)
                pp->cut[j] = vec->len;
            k = e;
        }
        if (vec->oom) {
            rc = LB_ENOMEM;
            break;
        }
        if (pp->n == 0)
            continue;
        live++;
        last = p;
        prefix_revisions(t, L, tc, pp->on, pp->n, g, pp->area,
                         pp->filter ? &st->areas[t->grid][pp->area] : NULL, pp->rev);
        if (!prefix_key(t, L, pp, pp->n, &pp->key))
            rc = LB_ENOMEM;
    }
    if (rc != LB_OK)
        return rc;
    if (live == 0) {
        pl->kind = PLAN_EMPTY; /* nothing of this layer is visible here */
        return LB_OK;
    }
    if (live == 1 && pl->pass[last].area < 0) {
        /* one unlimited pass: the layer canvas is that pass */
        pl->kind = PLAN_PASS;
        lb_buf_puts(&pl->key, pl->pass[last].key.data);
    } else {
        pl->kind = PLAN_AREAS;
        /* each pass's key (after "P|") names the tile and its revision */
        lb_buf_puts(&pl->key, "L");
        for (int p = 0; p < pl->np; p++)
            if (pl->pass[p].n) {
                lb_buf_puts(&pl->key, "|a");
                lb_buf_put_int(&pl->key, pl->pass[p].area);
                lb_buf_putc(&pl->key, ':');
                lb_buf_puts(&pl->key, pl->pass[p].key.data + 2);
            }
    }
    return pl->key.data && !pl->key.oom ? LB_OK : LB_ENOMEM;
}

/*
 * A planned (non-empty) layer not in the cache: made into c (canvases c and
 * tmp of the tile's size) and cached.  *cost: what making it took.
 */
static lb_status draw_layer(tile_ctx *t, const lb_srv_layer *L, const lb_grant *g,
                            const layer_plan *pl, lb_canvas *c, lb_canvas *tmp, uint64_t *cost)
{
    *cost = 0;
    if (pl->kind == PLAN_PASS) {
        for (int p = 0; p < pl->np; p++)
            if (pl->pass[p].n)
                return layer_pass(t, L, g, pl, &pl->pass[p], c, cost);
        return LB_EINVAL;
    }
    double t0 = lb_now();
    lb_status rc = LB_OK;
    if (pl->kind == PLAN_GRANT) {
        lb_canvas_clear(c);
        rc = lb_maps_render_layer_area(t->st, L, g, t->grid, t->minx, t->miny, t->maxx,
                                       t->maxy, t->zoom, t->scale, c);
        if (rc != LB_OK)
            return rc;
        atomic_fetch_add(&t->r->srv->tiles_rendered, 1);
        *cost = elapsed_ns(t0);
        store_canvas(t, pl->key.data, g->key, c, *cost);
        return LB_OK;
    }
    /* as lb_maps_render_layer_area: the unlimited pass as it is, then each
     * area pass masked by its own area, over it */
    uint64_t parts = 0;
    lb_canvas_clear(c);
    for (int p = 0; rc == LB_OK && p < pl->np; p++) {
        const pass_plan *pp = &pl->pass[p];
        if (!pp->n)
            continue;
        uint64_t pc = 0;
        if (pp->area < 0) {
            rc = layer_pass(t, L, g, pl, pp, c, &pc);
        } else {
            rc = layer_pass(t, L, g, pl, pp, tmp, &pc);
            if (rc == LB_OK && !lb_canvas_is_empty(tmp)) {
                tile_mask(t, tmp, pp->area);
                lb_canvas_over(c, tmp);
            }
        }
        parts += pc;
    }
    if (rc == LB_OK) {
        *cost = parts + elapsed_ns(t0);
        store_canvas(t, pl->key.data, g->key, c, *cost);
    }
    return rc;
}

int lb_maps_render_tile(lb_req *r, const lb_map_cfg *map, int grid, int z, long x, long y,
                        int scale, lb_blob **png, char etag[40])
{
    lb_state *st = r->st;
    size_t ngrids;
    const lb_tms *grids = lb_tms_all(&ngrids);
    const lb_tms *tms = &grids[grid];
    int px = tms->tile_size * scale;
    tile_ctx t = {.r = r, .st = st, .grid = grid, .z = z, .x = x, .y = y, .scale = scale,
                  .px = px};
    if (!lb_tms_tile_bounds(tms, z, x, y, &t.minx, &t.miny, &t.maxx, &t.maxy))
        return 404;
    t.zoom = log2(156543.03392804097 / lb_tms_resolution(tms, z));

    lb_grant *grants;
    const lb_srv_layer **layers;
    int nvis = lb_maps_visible(r, map, &layers, &grants);
    /* NULL: no such map, answered as a hidden one at the same cost; the
     * plans are as many as the largest map needs, whichever map it is */
    size_t nplans = max_map_layers(st->cfg);
    layer_plan *plans = calloc(nplans, sizeof *plans);
    if (nvis < 0 || !plans) {
        free(grants);
        free(layers);
        free(plans);
        return 500;
    }
    int status = 0;
    lb_buf key = {0};
    lb_blob *blob = NULL;
    lb_canvas out = {0}, lc = {0}, tmp = {0};
    if (nvis == 0) {
        status = 404;
        goto out;
    }
    /* the rights asking for the composite (names the layers and grants) */
    uint64_t viewer = LB_FNV_INIT;
    for (int i = 0; i < nvis; i++) {
        viewer = lb_fnv1a(viewer, layers[i]->cfg->id, strlen(layers[i]->cfg->id) + 1);
        viewer = lb_fnv1a(viewer, grants[i].canon, strlen(grants[i].canon) + 1);
    }
    viewer |= 1;

    /* the composite's key: the content keys of the layers with something
     * visible here, in map order */
    lb_buf_puts(&key, "T|g");
    lb_buf_put_int(&key, (long long)st->generation);
    {
        const long long v[] = {grid, z, x, y, scale};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
            lb_buf_putc(&key, '|');
            lb_buf_put_int(&key, v[i]);
        }
    }
    for (int i = 0; i < nvis; i++) {
        if (plan_layer(&t, layers[i], &grants[i], &plans[i]) != LB_OK) {
            status = 500;
            goto out;
        }
        if (plans[i].kind != PLAN_EMPTY)
        {
            lb_buf_putc(&key, '|');
            lb_buf_puts(&key, plans[i].key.data);
        }
    }
    if (!key.data || key.oom) {
        status = 500;
        goto out;
    }
    /* the composite is cached as 8 bytes of ETag hash, then the PNG */
    uint64_t ccost = 0;
    bool first = false;
    blob = lb_cache_get_blob(r->srv->cache, key.data, viewer, &ccost, &first);
    if (blob && blob->len > LB_TILE_PNG_AT) {
        atomic_fetch_add(&r->srv->cache_hits, 1);
        if (first) {
            atomic_fetch_add(&r->srv->shared_hits, 1);
            t.pad_ns += ccost;
        }
        uint64_t h;
        memcpy(&h, blob->data, sizeof h);
        format_etag(h, etag);
    } else {
        lb_blob_unref(blob);
        blob = NULL;
        size_t npx = (size_t)px * (size_t)px * 4;
        if (!canvas_take(&out, px, px)) {
            status = 500;
            goto out;
        }
        uint64_t parts = 0;
        int ndrawn = 0;
        for (int i = 0; i < nvis; i++) {
            if (plans[i].kind == PLAN_EMPTY)
                continue;
            uint64_t c = 0;
            lb_blob *pk = cached_blob(&t, plans[i].key.data, grants[i].key, &c);
            if (!pk && !lc.px && (!canvas_take(&lc, px, px) || !canvas_take(&tmp, px, px))) {
                status = 500;
                goto out;
            }
            if (!pk) {
                uint64_t cpu0 = lb_thread_cpu_ns();
                lb_status drc = draw_layer(&t, layers[i], &grants[i], &plans[i], &lc, &tmp, &c);
                atomic_fetch_add(&r->srv->layer_cpu_ns, lb_thread_cpu_ns() - cpu0);
                if (drc != LB_OK) {
                    status = 500;
                    goto out;
                }
            }
            parts += c;
            if (pk) {
                bool ok = compose_packed(&out, pk->data, pk->len, ndrawn == 0);
                lb_blob_unref(pk);
                if (!ok) {
                    status = 500;
                    goto out;
                }
            } else if (ndrawn == 0) {
                memcpy(out.px, lc.px, npx);
                out.zeroed = false;
            } else {
                lb_canvas_over(&out, &lc);
            }
            ndrawn++;
        }
        double t0 = lb_now();
        uint8_t *p = NULL;
        size_t plen = 0;
        if (ndrawn == 0 || lb_canvas_is_empty(&out)) {
            const uint8_t *e = lb_png_empty(px, px, &plen);
            p = e ? malloc(LB_TILE_PNG_AT + plen) : NULL;
            if (p)
                memcpy(p + LB_TILE_PNG_AT, e, plen);
        } else {
            /* encoded straight into the blob's bytes, after room for its
             * ETag hash and response head */
            lb_png_opts po = {.level = 2, .headroom = LB_TILE_PNG_AT};
            uint64_t cpu0 = lb_thread_cpu_ns();
            if (lb_png_encode(&out, &po, &p, &plen, NULL) != LB_OK)
                p = NULL;
            atomic_fetch_add(&r->srv->encode_cpu_ns, lb_thread_cpu_ns() - cpu0);
            atomic_fetch_add(&r->srv->tiles_encoded, 1);
        }
        if (!p) {
            status = 500;
            goto out;
        }
        uint64_t h = bytes_hash(p + LB_TILE_PNG_AT, plen);
        _Static_assert(sizeof h == LB_TILE_HEAD_AT, "the head length follows the ETag hash");
        memcpy(p, &h, sizeof h);
        format_etag(h, etag);
        char head[LB_TILE_PNG_AT - LB_TILE_HEAD_AT - 2];
        uint16_t hl = (uint16_t)lb_tile_head(r, etag, plen, head, sizeof head);
        memcpy(p + LB_TILE_HEAD_AT, &hl, sizeof hl);
        memcpy(p + LB_TILE_PNG_AT - hl, head, hl);
        blob = lb_blob_adopt(p, LB_TILE_PNG_AT + plen);
        if (!blob) {
            status = 500;
            goto out;
        }
        lb_cache_put_blob(r->srv->cache, key.data, blob, viewer, parts + elapsed_ns(t0));
    }
    *png = blob;
    blob = NULL;
out:
    lb_blob_unref(blob);
    canvas_give(&out);
    canvas_give(&lc);
    canvas_give(&tmp);
    for (int i = 0; i < t.nmasks; i++)
        free(t.mask[i]);
    for (size_t i = 0; i < nplans; i++)
        plan_free(&plans[i]);
    free(plans);
    free(grants);
    free(layers);
    lb_buf_free(&key);
    if (status == 0 && t.pad_ns) {
        /* a first look at content made for other rights: answer no sooner
         * than making it would have (sleeping costs no CPU) */
        atomic_fetch_add(&r->srv->shared_wait_ns, t.pad_ns);
        struct timespec ts = {.tv_sec = (time_t)(t.pad_ns / 1000000000u),
                              .tv_nsec = (long)(t.pad_ns % 1000000000u)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    return status;
}
