/*
 * Helpers for tests that render from a store: ingest a config with the
 * lagebild executable and open it, and open a layer's style and snapshot.
 * Header-only; include after lbtest.h and tutil.h.
 */
#ifndef LB_TSNAP_H
#define LB_TSNAP_H

#include "lagebild/config.h"
#include "lagebild/fusion.h"
#include "lagebild/style.h"
#include "lagebild/tiler.h"

typedef struct t_store {
    lb_config *cfg;
    lb_store *store;
} t_store;

/* `lagebild ingest` of dir/config_name, then its config and store opened. */
static inline void t_store_ingest(const char *dir, const char *config_name, t_store *ts)
{
    char *path = t_path(dir, config_name);
    t_result r = t_lagebild("ingest", path, "--quiet", NULL);
    if (r.status != 0)
        fprintf(stderr, "%s\n", r.err);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    char *diag = NULL;
    ASSERT_EQ(lb_config_load(path, &ts->cfg, &diag), LB_OK);
    free(path);
    static bool fusion_up;
    if (!fusion_up) /* GDAL is set up once per process */
        lb_fusion_init();
    fusion_up = true;
    lb_error err;
    ASSERT_EQ(lb_store_open(ts->cfg->store_path, &ts->store, &err), LB_OK);
}

static inline void t_store_close(t_store *ts)
{
    lb_store_close(ts->store);
    lb_config_free(ts->cfg);
}

/* The style of a layer (from the config) and its snapshot in grid, with
 * the properties the style reads. */
static inline void t_layer_open(const t_store *ts, const char *layer, const lb_tms *grid,
                                lb_style **style, lb_snapshot **snap)
{
    const lb_layer_cfg *lc = lb_config_layer(ts->cfg, layer);
    ASSERT(lc != NULL && lc->style != NULL);
    char *diag = NULL;
    ASSERT_EQ(lb_style_load(lc->style, style, &diag), LB_OK);
    size_t nprops = 0;
    const char *const *props = lb_style_properties(*style, &nprops);
    lb_error err;
    ASSERT_EQ(lb_snapshot_build(ts->store, ts->cfg, layer, grid, props, nprops, snap, &err),
              LB_OK);
}

#endif
