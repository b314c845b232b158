/*
 * snapdiff_bench: what the change log of a layer rebuilt whole costs.  A
 * generalised or conflated layer is rebuilt from the store on every change
 * (lb_snapshot_build per grid) and its change log is the difference of the
 * old and the new snapshots (lb_snapshot_diff, server/live.c).  Both are
 * timed on the same layer in the same run, alternating, and the ratio
 * diff / build is printed per round and as the median.
 *
 *   build/bench/snapdiff_bench CONFIG LAYER [--rounds 5]
 *
 * e.g. on the access benchmark's data (bench/roles_bench.sh makes it):
 *   build/bench/snapdiff_bench bench/out/roles/100000/roles.yaml police
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lagebild/config.h"
#include "lagebild/fusion.h"
#include "lagebild/tiler.h"
#include "lagebild/util.h"

static size_t changes;

static void count(void *ud, int side, const lb_feature_info *f, const double box[4],
                  uint64_t look)
{
    (void)ud, (void)side, (void)f, (void)box, (void)look;
    changes++;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: snapdiff_bench CONFIG LAYER [--rounds N]\n");
        return argc < 3 ? 2 : 0;
    }
    int rounds = argc > 4 && strcmp(argv[3], "--rounds") == 0 ? atoi(argv[4]) : 5;
    if (rounds < 1 || rounds > 100) {
        fprintf(stderr, "snapdiff_bench: --rounds must be 1..100\n");
        return 2;
    }
    lb_fusion_init();
    lb_config *cfg = NULL;
    char *diag = NULL;
    if (lb_config_load(argv[1], &cfg, &diag) != LB_OK) {
        fprintf(stderr, "snapdiff_bench: %s\n", diag ? diag : "cannot load the config");
        return 1;
    }
    lb_store *st = NULL;
    lb_error err = {0};
    if (lb_store_open(cfg->store_path, &st, &err) != LB_OK) {
        fprintf(stderr, "snapdiff_bench: %s\n", err.msg);
        return 1;
    }
    const lb_tms *grid = lb_tms_find("WebMercatorQuad");
    const char *props[] = {"kind", "status", "name"};
    const uint8_t key[16] = {42};
    double *ratio = calloc((size_t)rounds, sizeof *ratio);
    lb_snapshot *old = NULL;
    if (lb_snapshot_build(st, cfg, argv[2], grid, props, 3, &old, &err) != LB_OK) {
        fprintf(stderr, "snapdiff_bench: %s\n", err.msg);
        return 1;
    }
    printf("layer %s: %zu features, %zu vertices\n", argv[2], lb_snapshot_feature_count(old),
           lb_snapshot_vertex_count(old));
    printf("%-6s %12s %12s %8s %8s\n", "round", "build ms", "diff ms", "diff/b", "changes");
    for (int r = 0; r < rounds; r++) {
        lb_snapshot *cur = NULL;
        double t0 = lb_now();
        if (lb_snapshot_build(st, cfg, argv[2], grid, props, 3, &cur, &err) != LB_OK) {
            fprintf(stderr, "snapdiff_bench: %s\n", err.msg);
            return 1;
        }
        double t1 = lb_now();
        changes = 0;
        if (lb_snapshot_diff(old, cur, key, count, NULL, &err) != LB_OK) {
            fprintf(stderr, "snapdiff_bench: %s\n", err.msg);
            return 1;
        }
        double t2 = lb_now();
        ratio[r] = (t2 - t1) / (t1 - t0);
        printf("%-6d %12.1f %12.1f %8.3f %8zu\n", r + 1, (t1 - t0) * 1e3, (t2 - t1) * 1e3,
               ratio[r], changes);
        lb_snapshot_unref(old);
        old = cur;
    }
    qsort(ratio, (size_t)rounds, sizeof *ratio, cmp_d);
    printf("median diff / build: %.3f\n", ratio[rounds / 2]);
    lb_snapshot_unref(old);
    free(ratio);
    lb_store_close(st);
    lb_config_free(cfg);
    return 0;
}
