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
            lb_style_free(st->layers[i].style);
        }
    }
    for (int g = 0; g < LB_NGRIDS; g++) {
        if (st->areas[g] && st->access) {
            for (size_t a = 0; a < lb_access_area_count(st->access); a++) {
                free(st->areas[g][a].rings);
                free(st->areas[g][a].xy);
            }
        }
        free(st->areas[g]);
    }
    free(st->layers);
    lb_access_free(st->access);
    lb_config_free(st->cfg);
    free(st);
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
        for (size_t r = 0; r < nr; r++) {
            sa->rings[r].xy = sa->xy + 2 * k;
            sa->rings[r].n = counts[r];
            for (size_t i = 0; i < counts[r]; i++, k++) {
                sa->xy[2 * k] = xs[k];
                sa->xy[2 * k + 1] = ys[k];
            }
        }
        free(xs);
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
    lb_status rc = lb_config_load(config_path, &st->cfg, diag);
    if (rc != LB_OK) {
        state_free(st);
        return rc;
    }
    lb_error err = {0};
    lb_buf msg = {0};
    lb_store *store = NULL;
    rc = lb_access_new(st->cfg, &st->access, &err);
    if (rc == LB_OK)
        rc = lb_store_open(st->cfg->store_path, &store, &err);
    st->layers = calloc(st->cfg->nlayers ? st->cfg->nlayers : 1, sizeof *st->layers);
    if (rc == LB_OK && !st->layers)
        rc = lb_fail(&err, LB_ENOMEM, "out of memory");
    for (size_t i = 0; rc == LB_OK && i < st->cfg->nlayers; i++) {
        lb_srv_layer *L = &st->layers[i];
        L->cfg = &st->cfg->layers[i];
        const char *const *props = NULL;
        size_t nprops = 0;
        if (L->cfg->style) {
            char *sd = NULL;
            rc = lb_style_load(L->cfg->style, &L->style, &sd);
            if (rc != LB_OK) {
                lb_buf_puts(&msg, sd ? sd : "cannot load style\n");
                free(sd);
                break;
            }
            free(sd);
            props = lb_style_properties(L->style, &nprops);
        }
        size_t ngrids;
        const lb_tms *grids = lb_tms_all(&ngrids);
        bool rule = layer_has_rule(st->cfg, L->cfg->id);
        for (int g = 0; rc == LB_OK && g < LB_NGRIDS && (size_t)g < ngrids; g++) {
            rc = lb_snapshot_build(store, st->cfg, L->cfg->id, &grids[g], props, nprops,
                                   &L->snap[g], &err);
            if (rc == LB_OK && rule)
                rc = lb_snapshot_build_generalised(store, st->cfg, L->cfg->id, &grids[g], props,
                                                   nprops, gen_cell, st->cfg, &L->gen[g], &err);
        }
    }
    lb_layer_info *infos = NULL;
    size_t ninfos = 0;
    if (rc == LB_OK && lb_store_layers(store, &infos, &ninfos, &err) == LB_OK) {
        for (size_t i = 0; i < st->cfg->nlayers; i++)
            for (size_t k = 0; k < ninfos; k++)
                if (strcmp(infos[k].layer, st->cfg->layers[i].id) == 0)
                    snprintf(st->layers[i].updated_at, sizeof st->layers[i].updated_at, "%s",
                             infos[k].updated_at);
        free(infos);
    }
    size_t ngrids;
    const lb_tms *grids = lb_tms_all(&ngrids);
    for (int g = 0; rc == LB_OK && g < LB_NGRIDS; g++)
        rc = project_areas(st, g, &grids[g], &err);
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
