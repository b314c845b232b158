/*
 * This file implements tiles for a principal.  For each layer of the map the
 * access module yields the principal's grant (or "not visible": the layer is
 * skipped as if it did not exist).  Each visible layer is rendered on its
 * own canvas, only with the features the grant allows, then masked by the
 * grant's area limit, and composited in map order.  Layer canvases are
 * cached under (layer, revision, canonical grant, grid, tile, scale), so
 * principals with equal rights on a layer share the work; the final PNG is
 * cached under the concatenation of its layers' keys.
 *
 * Area limits use a hard mask: a pixel keeps its colour only when it lies
 * entirely inside the area, so nothing of what lies outside reaches the
 * principal, not even an anti-aliased edge.  Several clearances with
 * different areas are rendered as separate passes, each masked by its own
 * area, so a feature visible only under an area-limited role never shows
 * outside that role's area.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server_int.h"

typedef struct pass_pred {
    const lb_grant *g;
    int area;        /* clearances with this area index (-1: unlimited) */
    bool skip_unlimited; /* exclude features an unlimited clearance already draws */
    const lb_config *cfg; /* for generalised passes: the sources' release rules */
} pass_pred;

static bool clear_one(const lb_label *c, const lb_label *f)
{
    return f->level <= c->level && (f->caveats & ~c->caveats) == 0 &&
           (f->groups == 0 || (f->groups & c->groups) != 0);
}

static bool pass_allows(void *ud, const lb_feature_info *fi)
{
    const pass_pred *p = ud;
    bool ok = false;
    for (int i = 0; i < p->g->n && !ok; i++)
        if (p->g->c[i].area == p->area)
            ok = clear_one(&p->g->c[i].label, &fi->label);
    if (ok && p->skip_unlimited)
        for (int i = 0; i < p->g->n; i++)
            if (p->g->c[i].area < 0 && clear_one(&p->g->c[i].label, &fi->label))
                return false;
    return ok;
}

/*
 * Generalised pass: a feature whose exact form no clearance allows, but
 * whose source releases it generalised to a group of a clearance of this
 * pass (level and caveats still apply).
 */
static bool pass_allows_generalised(void *ud, const lb_feature_info *fi)
{
    const pass_pred *p = ud;
    if (lb_grant_allows(p->g, &fi->label))
        return false; /* drawn exactly */
    const lb_source_cfg *src = lb_config_source(p->cfg, fi->source);
    if (!src || !src->generalised_groups)
        return false;
    bool ok = false;
    for (int i = 0; i < p->g->n && !ok; i++) {
        if (p->g->c[i].area != p->area)
            continue;
        lb_grant one = {.n = 1};
        one.c[0] = p->g->c[i];
        ok = lb_grant_allows_generalised(&one, &fi->label, src);
    }
    if (ok && p->skip_unlimited)
        for (int i = 0; i < p->g->n; i++) {
            if (p->g->c[i].area >= 0)
                continue;
            lb_grant one = {.n = 1};
            one.c[0] = p->g->c[i];
            if (lb_grant_allows_generalised(&one, &fi->label, src))
                return false;
        }
    return ok;
}

/* Draw one pass: the exact features, then the generalised ones. */
static lb_status draw_pass(const lb_srv_layer *L, int grid, pass_pred *pp, double minx,
                           double miny, double maxx, double maxy, double zoom, double scale,
                           lb_canvas *c)
{
    lb_render_layer rl = {.snap = L->snap[grid], .style = L->style, .pred = pass_allows,
                          .pred_ud = pp};
    lb_status rc = lb_render_area(&rl, 1, minx, miny, maxx, maxy, zoom, scale, c, NULL);
    if (rc == LB_OK && L->gen[grid]) {
        lb_render_layer gl = {.snap = L->gen[grid], .style = L->style,
                              .pred = pass_allows_generalised, .pred_ud = pp};
        rc = lb_render_area(&gl, 1, minx, miny, maxx, maxy, zoom, scale, c, NULL);
    }
    return rc;
}

/* Hard mask of an area over the pixel grid of canvas c covering the bbox. */
static void apply_area_mask(lb_canvas *c, const lb_srv_area *a, double minx, double maxy,
                            double sx, double sy)
{
    lb_canvas m;
    if (lb_canvas_init(&m, c->width, c->height) != LB_OK) {
        lb_canvas_clear(c); /* fail closed */
        return;
    }
    size_t total = 0;
    for (size_t r = 0; r < a->nrings; r++)
        total += a->rings[r].n;
    double *xy = malloc((total ? total : 1) * 2 * sizeof *xy);
    lb_ring *rings = malloc((a->nrings ? a->nrings : 1) * sizeof *rings);
    if (!xy || !rings) {
        free(xy);
        free(rings);
        lb_canvas_free(&m);
        lb_canvas_clear(c);
        return;
    }
    size_t k = 0;
    for (size_t r = 0; r < a->nrings; r++) {
        rings[r].xy = xy + 2 * k;
        rings[r].n = a->rings[r].n;
        for (size_t i = 0; i < a->rings[r].n; i++, k++) {
            xy[2 * k] = (a->rings[r].xy[2 * i] - minx) * sx;
            xy[2 * k + 1] = (maxy - a->rings[r].xy[2 * i + 1]) * sy;
        }
    }
    lb_raster_fill(&m, rings, a->nrings, (lb_rgba){255, 255, 255, 255});
    size_t npx = (size_t)c->width * (size_t)c->height;
    uint8_t *mask = malloc(npx);
    if (mask) {
        for (size_t i = 0; i < npx; i++)
            mask[i] = m.px[4 * i + 3] == 255 ? 255 : 0;
        lb_canvas_mask(c, mask);
        free(mask);
    } else {
        lb_canvas_clear(c);
    }
    free(xy);
    free(rings);
    lb_canvas_free(&m);
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
    /* distinct areas among the clearances: one pass each */
    int areas[LB_GRANT_MAX];
    int nareas = 0;
    bool has_unlimited = false;
    for (int i = 0; i < g->n; i++) {
        if (g->c[i].area < 0) {
            has_unlimited = true;
            continue;
        }
        bool seen = false;
        for (int k = 0; k < nareas; k++)
            seen |= areas[k] == g->c[i].area;
        if (!seen)
            areas[nareas++] = g->c[i].area;
    }
    lb_canvas pass = {0};
    lb_status rc = LB_OK;
    if (has_unlimited) {
        pass_pred pp = {.g = g, .area = -1, .cfg = st->cfg};
        rc = draw_pass(L, grid, &pp, minx, miny, maxx, maxy, zoom, scale, c);
    }
    if (rc == LB_OK && nareas > 0)
        rc = lb_canvas_init(&pass, c->width, c->height);
    double sx = c->width / (maxx - minx), sy = c->height / (maxy - miny);
    for (int k = 0; rc == LB_OK && k < nareas; k++) {
        lb_canvas_clear(&pass);
        pass_pred pp = {.g = g, .area = areas[k], .skip_unlimited = has_unlimited,
                        .cfg = st->cfg};
        rc = draw_pass(L, grid, &pp, minx, miny, maxx, maxy, zoom, scale, &pass);
        if (rc == LB_OK && !lb_canvas_is_empty(&pass)) {
            apply_area_mask(&pass, &st->areas[grid][areas[k]], minx, maxy, sx, sy);
            lb_canvas_over(c, &pass);
        }
    }
    lb_canvas_free(&pass);
    return rc;
}

/* Render one layer's tile for a grant (see lb_maps_render_layer_area). */
static lb_status render_layer(lb_state *st, const lb_srv_layer *L, const lb_grant *g, int grid,
                              int z, long x, long y, int scale, lb_canvas *c)
{
    size_t ngrids;
    const lb_tms *grids = lb_tms_all(&ngrids);
    const lb_tms *t = &grids[grid];
    double minx, miny, maxx, maxy;
    if (!lb_tms_tile_bounds(t, z, x, y, &minx, &miny, &maxx, &maxy))
        return LB_ERANGE;
    double zoom = log2(156543.03392804097 / lb_tms_resolution(t, z));
    lb_canvas_clear(c);
    return lb_maps_render_layer_area(st, L, g, grid, minx, miny, maxx, maxy, zoom, scale, c);
}

int lb_maps_visible(lb_req *r, const lb_map_cfg *map, const lb_srv_layer **layers,
                    lb_grant *grants)
{
    lb_state *st = r->st;
    time_t now = time(NULL);
    int nvis = 0;
    for (size_t i = 0; i < map->nlayers; i++) {
        const lb_srv_layer *L = NULL;
        for (size_t k = 0; k < st->cfg->nlayers; k++)
            if (strcmp(st->cfg->layers[k].id, map->layers[i]) == 0)
                L = &st->layers[k];
        if (!L || !lb_access_layer(st->access, r->principal, L->cfg->id, now, &grants[nvis]))
            continue;
        layers[nvis++] = L;
    }
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
    lb_grant *grants = calloc(map->nlayers, sizeof *grants);
    const lb_srv_layer **layers = calloc(map->nlayers, sizeof *layers);
    if (!grants || !layers) {
        free(grants);
        free(layers);
        return 500;
    }
    int nvis = lb_maps_visible(r, map, layers, grants);
    int status = nvis ? 0 : 404;
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

int lb_maps_render_tile(lb_req *r, const lb_map_cfg *map, int grid, int z, long x, long y,
                        int scale, uint8_t **png, size_t *len, char etag[40])
{
    lb_state *st = r->st;
    size_t ngrids;
    const lb_tms *grids = lb_tms_all(&ngrids);
    const lb_tms *t = &grids[grid];
    int px = t->tile_size * scale;

    /* which layers, under which grants; the composite key spells it all out */
    lb_buf key = {0};
    lb_buf_printf(&key, "T|%s|g%llu|%d|%d|%ld|%ld|%d", map->id,
                  (unsigned long long)st->generation, grid, z, x, y, scale);
    lb_grant *grants = calloc(map->nlayers, sizeof *grants);
    const lb_srv_layer **layers = calloc(map->nlayers, sizeof *layers);
    int nvis = 0;
    if (!grants || !layers) {
        free(grants);
        free(layers);
        lb_buf_free(&key);
        return 500;
    }
    nvis = lb_maps_visible(r, map, layers, grants);
    for (int i = 0; i < nvis; i++)
        lb_buf_printf(&key, "|%s@%lld#%s", layers[i]->cfg->id,
                      (long long)lb_snapshot_revision(layers[i]->snap[grid]), grants[i].canon);
    int status = 0;
    if (nvis == 0) {
        status = 404;
        goto out;
    }
    *png = lb_cache_get(r->srv->cache, key.data, len);
    if (*png) {
        atomic_fetch_add(&r->srv->cache_hits, 1);
        goto out;
    }
    lb_canvas out = {0}, lc = {0};
    if (lb_canvas_init(&out, px, px) != LB_OK || lb_canvas_init(&lc, px, px) != LB_OK) {
        lb_canvas_free(&out);
        status = 500;
        goto out;
    }
    size_t npx = (size_t)px * (size_t)px * 4;
    for (int i = 0; i < nvis && status == 0; i++) {
        lb_buf lk = {0};
        lb_buf_printf(&lk, "L|%s@%lld#%s|g%llu|%d|%d|%ld|%ld|%d", layers[i]->cfg->id,
                      (long long)lb_snapshot_revision(layers[i]->snap[grid]), grants[i].canon,
                      (unsigned long long)st->generation, grid, z, x, y, scale);
        size_t clen = 0;
        uint8_t *cached = lb_cache_get(r->srv->cache, lk.data, &clen);
        if (cached && (clen == npx || clen == 0)) {
            if (clen == npx) {
                memcpy(lc.px, cached, npx);
                lb_canvas_over(&out, &lc);
            }
        } else {
            if (render_layer(st, layers[i], &grants[i], grid, z, x, y, scale, &lc) != LB_OK) {
                status = 500;
            } else {
                atomic_fetch_add(&r->srv->tiles_rendered, 1);
                bool empty = lb_canvas_is_empty(&lc);
                lb_cache_put(r->srv->cache, lk.data, lc.px, empty ? 0 : npx);
                if (!empty)
                    lb_canvas_over(&out, &lc);
            }
        }
        free(cached);
        lb_buf_free(&lk);
    }
    if (status == 0) {
        if (lb_canvas_is_empty(&out)) {
            const uint8_t *e = lb_png_empty(px, px, len);
            *png = e ? malloc(*len) : NULL;
            if (*png)
                memcpy(*png, e, *len);
            else
                status = 500;
        } else {
            lb_png_opts po = {.level = 2};
            if (lb_png_encode(&out, &po, png, len, NULL) != LB_OK)
                status = 500;
        }
        if (status == 0)
            lb_cache_put(r->srv->cache, key.data, *png, *len);
    }
    lb_canvas_free(&out);
    lb_canvas_free(&lc);
out:
    /* the ETag is a hash of the bytes, not of the key: the key holds layer
     * revisions, which also change with features the principal cannot see */
    if (status == 0 && *png) {
        uint64_t h = lb_fnv1a(LB_FNV_INIT, *png, *len);
        snprintf(etag, 40, "\"%016llx%04x\"", (unsigned long long)h, (unsigned)(*len & 0xffff));
    }
    free(grants);
    free(layers);
    lb_buf_free(&key);
    return status;
}
