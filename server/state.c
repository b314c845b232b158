/*
 * This file implements the serving state: everything a request reads (the
 * config, access tables, styles, per-grid snapshots of every layer, area
 * limits projected to each grid), built in one go from the config file and
 * immutable afterwards.  A reload (SIGHUP) builds a new state beside the
 * current one and swaps the pointer; requests in flight keep their reference
 * to the old state, which is freed when the last one releases it.  A config
 * that fails to build leaves the current state in place.
 */
#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>
#include <ogr_srs_api.h>

#include "server_int.h"

static atomic_ullong generations = 1;

static double gen_cell(void *ud, const char *source);
static bool layer_has_rule(const lb_config *cfg, const char *layer);

/* What every state derived from one config load shares. */
struct lb_state_shared {
    atomic_int refs;
    lb_config *cfg;
    lb_access *access;
    lb_style **styles; /* per layer */
    lb_srv_area *areas[LB_NGRIDS];
};

static void shared_release(lb_state_shared *sh)
{
    if (!sh || atomic_fetch_sub(&sh->refs, 1) != 1)
        return;
    for (size_t i = 0; sh->styles && sh->cfg && i < sh->cfg->nlayers; i++)
        lb_style_free(sh->styles[i]);
    free(sh->styles);
    for (int g = 0; g < LB_NGRIDS; g++) {
        if (sh->areas[g] && sh->access) {
            for (size_t a = 0; a < lb_access_area_count(sh->access); a++) {
                free(sh->areas[g][a].rings);
                free(sh->areas[g][a].xy);
                free(sh->areas[g][a].firsts);
                lb_area_edges_free(&sh->areas[g][a].edges);
            }
        }
        free(sh->areas[g]);
    }
    lb_access_free(sh->access);
    lb_config_free(sh->cfg);
    free(sh);
}

static void times_unref(lb_label_times *t)
{
    if (t && atomic_fetch_sub(&t->refs, 1) == 1)
        free(t);
}

static void state_free(lb_state *st)
{
    if (!st)
        return;
    if (st->layers && st->cfg) {
        for (size_t i = 0; i < st->cfg->nlayers; i++) {
            for (int g = 0; g < LB_NGRIDS; g++) {
                if (st->layers[i].snap[g])
                    lb_snapshot_unref(st->layers[i].snap[g]);
                if (st->layers[i].gen[g])
                    lb_snapshot_unref(st->layers[i].gen[g]);
            }
            lb_chlog_unref(st->layers[i].log);
            times_unref(st->layers[i].times);
        }
    }
    free(st->layers);
    shared_release(st->shared);
    free(st);
}

lb_chlog *lb_chlog_ref(lb_chlog *log)
{
    if (log)
        atomic_fetch_add(&log->refs, 1);
    return log;
}

void lb_chlog_unref(lb_chlog *log)
{
    if (log && atomic_fetch_sub(&log->refs, 1) == 1)
        free(log);
}

lb_state *lb_state_derive(lb_state *st, size_t li, lb_snapshot *const snap[LB_NGRIDS],
                          lb_snapshot *const gen[LB_NGRIDS], lb_chlog *log)
{
    lb_state *ns = calloc(1, sizeof *ns);
    size_t n = st->cfg->nlayers;
    lb_srv_layer *layers = calloc(n ? n : 1, sizeof *layers);
    if (!ns || !layers) {
        free(ns);
        free(layers);
        return NULL;
    }
    atomic_init(&ns->refs, 1);
    ns->cfg = st->cfg;
    ns->access = st->access;
    for (int g = 0; g < LB_NGRIDS; g++)
        ns->areas[g] = st->areas[g];
    ns->shared = st->shared;
    atomic_fetch_add(&ns->shared->refs, 1);
    ns->generation = st->generation;
    memcpy(layers, st->layers, n * sizeof *layers);
    for (int g = 0; g < LB_NGRIDS; g++) {
        layers[li].snap[g] = snap[g];
        layers[li].gen[g] = gen[g];
    }
    layers[li].log = log;
    for (size_t i = 0; i < n; i++) {
        for (int g = 0; g < LB_NGRIDS; g++) {
            if (layers[i].snap[g])
                lb_snapshot_ref(layers[i].snap[g]);
            if (layers[i].gen[g])
                lb_snapshot_ref(layers[i].gen[g]);
        }
        lb_chlog_ref(layers[i].log);
        if (layers[i].times)
            atomic_fetch_add(&layers[i].times->refs, 1);
    }
    ns->layers = layers;
    return ns;
}

void lb_state_release(lb_state *st)
{
    if (st && atomic_fetch_sub(&st->refs, 1) == 1)
        state_free(st);
}

lb_state *lb_server_state(lb_server *srv)
{
    pthread_mutex_lock(&srv->state_lock);
    lb_state *st = srv->state;
    atomic_fetch_add(&st->refs, 1);
    pthread_mutex_unlock(&srv->state_lock);
    return st;
}

/* Project every access area to grid g's CRS. */
static lb_status project_areas(lb_state *st, int g, const lb_tms *grid, lb_error *err)
{
    size_t n = lb_access_area_count(st->access);
    st->areas[g] = calloc(n ? n : 1, sizeof(lb_srv_area));
    if (!st->areas[g])
        return lb_fail(err, LB_ENOMEM, "out of memory");
    char crs[64];
    snprintf(crs, sizeof crs, "%s", grid->crs);
    for (size_t a = 0; a < n; a++) {
        const size_t *counts;
        size_t nr;
        const double *const *rings = lb_access_area_rings(st->access, a, &counts, &nr);
        size_t total = 0;
        for (size_t r = 0; r < nr; r++)
            total += counts[r];
        lb_srv_area *sa = &st->areas[g][a];
        sa->rings = calloc(nr ? nr : 1, sizeof *sa->rings);
        sa->xy = malloc((total ? total : 1) * 2 * sizeof(double));
        if (!sa->rings || !sa->xy)
            return lb_fail(err, LB_ENOMEM, "out of memory");
        sa->nrings = nr;
        double *xs = malloc((total ? total : 1) * 2 * sizeof(double));
        if (!xs)
            return lb_fail(err, LB_ENOMEM, "out of memory");
        double *ys = xs + total;
        size_t k = 0;
        for (size_t r = 0; r < nr; r++)
            for (size_t i = 0; i < counts[r]; i++, k++) {
                xs[k] = rings[r][2 * i];
                ys[k] = rings[r][2 * i + 1];
                if (strcmp(grid->crs, "EPSG:3857") == 0)
                    ys[k] = ys[k] > 85.0511 ? 85.0511 : ys[k] < -85.0511 ? -85.0511 : ys[k];
            }
        lb_transform *t = NULL;
        lb_status rc = lb_transform_new("EPSG:4326", crs, &t, err);
        if (rc == LB_OK)
            rc = lb_transform_points(t, total, xs, ys, err);
        lb_transform_free(t);
        if (rc != LB_OK) {
            free(xs);
            return rc;
        }
        k = 0;
        sa->box[0] = sa->box[1] = INFINITY;
        sa->box[2] = sa->box[3] = -INFINITY;
        for (size_t r = 0; r < nr; r++) {
            sa->rings[r].xy = sa->xy + 2 * k;
            sa->rings[r].n = counts[r];
            for (size_t i = 0; i < counts[r]; i++, k++) {
                sa->xy[2 * k] = xs[k];
                sa->xy[2 * k + 1] = ys[k];
                if (isfinite(xs[k]) && isfinite(ys[k])) {
                    sa->box[0] = fmin(sa->box[0], xs[k]);
                    sa->box[1] = fmin(sa->box[1], ys[k]);
                    sa->box[2] = fmax(sa->box[2], xs[k]);
                    sa->box[3] = fmax(sa->box[3], ys[k]);
                }
            }
        }
        free(xs);
        /* its edges and a point of each ring, for the geometry tests of
         * area passes and the banner (server/area.c) */
        sa->firsts = malloc((nr ? nr : 1) * 2 * sizeof *sa->firsts);
        if (!sa->firsts || !lb_area_edges_build(&sa->edges, sa))
            return lb_fail(err, LB_ENOMEM, "out of memory");
        for (size_t r = 0; r < nr; r++)
            for (size_t i = 0; i < sa->rings[r].n; i++) {
                const double *p = sa->rings[r].xy + 2 * i;
                if (isfinite(p[0]) && isfinite(p[1])) {
                    sa->firsts[2 * sa->nfirsts] = p[0];
                    sa->firsts[2 * sa->nfirsts++ + 1] = p[1];
                    break;
                }
            }
    }
    return LB_OK;
}

/* Cell size of a source's generalised release rule (0: none). */
static double gen_cell(void *ud, const char *source)
{
    const lb_source_cfg *src = lb_config_source(ud, source);
    return src && src->generalised_groups ? src->generalised_cell_m : 0;
}

static bool layer_has_rule(const lb_config *cfg, const char *layer)
{
    for (size_t i = 0; i < cfg->nsources; i++)
        if (strcmp(cfg->sources[i].layer, layer) == 0 && cfg->sources[i].generalised_groups)
            return true;
    return false;
}

lb_status lb_state_build(const char *config_path, lb_state **out, char **diag)
{
    *out = NULL;
    lb_state *st = calloc(1, sizeof *st);
    if (!st)
        return LB_ENOMEM;
    atomic_init(&st->refs, 1);
    st->generation = atomic_fetch_add(&generations, 1);
    st->shared = calloc(1, sizeof *st->shared);
    if (!st->shared) {
        free(st);
        return LB_ENOMEM;
    }
    atomic_init(&st->shared->refs, 1);
    lb_status rc = lb_config_load(config_path, &st->cfg, diag);
    st->shared->cfg = st->cfg;
    if (rc != LB_OK) {
        state_free(st);
        return rc;
    }
    lb_error err = {0};
    lb_buf msg = {0};
    lb_store *store = NULL;
    rc = lb_access_new(st->cfg, &st->access, &err);
    st->shared->access = st->access;
    st->shared->styles = calloc(st->cfg->nlayers ? st->cfg->nlayers : 1, sizeof(lb_style *));
    if (rc == LB_OK && !st->shared->styles)
        rc = lb_fail(&err, LB_ENOMEM, "out of memory");
    if (rc == LB_OK)
        rc = lb_store_open(st->cfg->store_path, &store, &err);
    st->layers = calloc(st->cfg->nlayers ? st->cfg->nlayers : 1, sizeof *st->layers);
    if (rc == LB_OK && !st->layers)
        rc = lb_fail(&err, LB_ENOMEM, "out of memory");
    for (size_t i = 0; rc == LB_OK && i < st->cfg->nlayers; i++) {
        lb_srv_layer *L = &st->layers[i];
        L->cfg = &st->cfg->layers[i];
        if (L->cfg->style) {
            char *sd = NULL;
            rc = lb_style_load(L->cfg->style, &L->style, &sd);
            st->shared->styles[i] = L->style;
            if (rc != LB_OK) {
                lb_buf_puts(&msg, sd ? sd : "cannot load style\n");
                free(sd);
                break;
            }
            free(sd);
        }
        /* every grid from one revision (a push may commit in between: retry) */
        int tries = 0;
        do
            rc = lb_state_build_layer(st, store, i, L->snap, L->gen, &err);
        while (rc == LB_EINTERNAL && ++tries < 5);
        /* an empty change log from the start: keys take the same form
         * before and after the first publish, so that the first push to a
         * layer does not make every principal list a tile's classes again */
        if (rc == LB_OK && L->snap[0] && (L->log = malloc(sizeof *L->log)) != NULL) {
            atomic_init(&L->log->refs, 1);
            L->log->floor = L->log->last = lb_snapshot_revision(L->snap[0]);
            L->log->n = 0;
        }
    }
    for (size_t i = 0; rc == LB_OK && i < st->cfg->nlayers; i++) {
        lb_label_time *v = NULL;
        size_t n = 0;
        lb_error terr;
        if (lb_store_label_times(store, st->cfg, st->cfg->layers[i].id, &v, &n, &terr) != LB_OK)
            continue; /* no times: layers.json says null, never too much */
        lb_label_times *t = malloc(sizeof *t + n * sizeof *v);
        if (t) {
            atomic_init(&t->refs, 1);
            t->n = n;
            if (n)
                memcpy(t->v, v, n * sizeof *v);
            st->layers[i].times = t;
        }
        free(v);
    }
    size_t ngrids;
    const lb_tms *grids = lb_tms_all(&ngrids);
    for (int g = 0; rc == LB_OK && g < LB_NGRIDS; g++) {
        rc = project_areas(st, g, &grids[g], &err);
        st->shared->areas[g] = st->areas[g];
    }
    lb_store_close(store);
    if (rc != LB_OK) {
        if (err.msg[0]) {
            lb_buf_printf(&msg, "%s: %s\n", config_path, err.msg);
        }
        if (diag) {
            free(*diag);
            *diag = lb_buf_take(&msg);
        }
        lb_buf_free(&msg);
        state_free(st);
        return rc;
    }
    lb_buf_free(&msg);
    *out = st;
    return LB_OK;
}

lb_status lb_state_build_layer(lb_state *st, lb_store *store, size_t li,
                               lb_snapshot *snap[LB_NGRIDS], lb_snapshot *gen[LB_NGRIDS],
                               lb_error *err)
{
    const lb_srv_layer *L = &st->layers[li];
    const char *const *props = NULL;
    size_t nprops = 0;
    if (L->style)
        props = lb_style_properties(L->style, &nprops);
    size_t ngrids;
    const lb_tms *grids = lb_tms_all(&ngrids);
    bool rule = layer_has_rule(st->cfg, L->cfg->id);
    lb_status rc = LB_OK;
    for (int g = 0; g < LB_NGRIDS; g++)
        snap[g] = gen[g] = NULL;
    for (int g = 0; rc == LB_OK && g < LB_NGRIDS && (size_t)g < ngrids; g++) {
        rc = lb_snapshot_build(store, st->cfg, L->cfg->id, &grids[g], props, nprops, &snap[g],
                               err);
        if (rc == LB_OK && rule)
            rc = lb_snapshot_build_generalised(store, st->cfg, L->cfg->id, &grids[g], props,
                                               nprops, gen_cell, st->cfg, &gen[g], err);
    }
    /* all grids of one revision: a commit between two reads would mix them */
    for (int g = 1; rc == LB_OK && g < LB_NGRIDS && snap[g]; g++)
        if (lb_snapshot_revision(snap[g]) != lb_snapshot_revision(snap[0]) ||
            (gen[g] && lb_snapshot_revision(gen[g]) != lb_snapshot_revision(snap[0])))
            rc = LB_EINTERNAL; /* the caller retries */
    if (rc != LB_OK) {
        for (int g = 0; g < LB_NGRIDS; g++) {
            if (snap[g])
                lb_snapshot_unref(snap[g]);
            if (gen[g])
                lb_snapshot_unref(gen[g]);
            snap[g] = gen[g] = NULL;
        }
    }
    return rc;
}

bool lb_state_layer_generalised(const lb_state *st, size_t li)
{
    return layer_has_rule(st->cfg, st->layers[li].cfg->id);
}

lb_status lb_state_build_delta(lb_state *st, lb_store *store, size_t li, const int64_t *fids,
                               size_t n, lb_snapshot *delta[LB_NGRIDS], lb_error *err)
{
    const lb_srv_layer *L = &st->layers[li];
    const char *const *props = NULL;
    size_t nprops = 0;
    if (L->style)
        props = lb_style_properties(L->style, &nprops);
    size_t ngrids;
    const lb_tms *grids = lb_tms_all(&ngrids);
    lb_status rc = LB_OK;
    for (int g = 0; g < LB_NGRIDS; g++)
        delta[g] = NULL;
    for (int g = 0; rc == LB_OK && g < LB_NGRIDS && (size_t)g < ngrids; g++)
        rc = lb_snapshot_build_fids(store, st->cfg, L->cfg->id, &grids[g], props, nprops, fids,
                                    n, &delta[g], err);
    if (rc != LB_OK)
        for (int g = 0; g < LB_NGRIDS; g++) {
            if (delta[g])
                lb_snapshot_unref(delta[g]);
            delta[g] = NULL;
        }
    return rc;
}
