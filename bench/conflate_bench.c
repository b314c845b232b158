/*
 * conflate_bench: the cost of conflation at N features in a layer (default
 * 100,000: two agencies of N/2 reports each, a third of the second agency's
 * reports 5-40 m from one of the first's, within the time window).
 *
 * The same two files feed two layers in one store: `conf` (conflate:
 * {distance_m: 50, time_window: 30m}) and `plain` (no conflation), so every
 * figure has its baseline from the same run, side by side:
 *   - ingest of the second source into each layer (the conflated one includes
 *     the full re-conflation in its transaction);
 *   - lb_conflate_layer alone (whole layer);
 *   - lb_conflate_region for 1, 10 and 100 changed features (the push-ingest
 *     path) against the whole-layer run;
 *   - lb_store_scan_layer (what each snapshot build reads) of both layers.
 * Each timing is the median of --rounds runs (default 3).
 *
 *   build/bench/conflate_bench [--n 100000] [--rounds 3] [--dir /tmp/x]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lagebild/fusion.h"
#include "lagebild/util.h"

#define LAT0 52.0
#define LON0 9.0
#define M_LAT (1.0 / 111195.0)
#define M_LON (1.0 / (111195.0 * cos(LAT0 * M_PI / 180)))

static double urand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffffff) / 16777216.0;
}

static const char *const kinds[] = {"hydrant", "roadblock", "incident", "shelter"};

static void write_sources(const char *dir, long n)
{
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s/a.geojson", dir);
    snprintf(pb, sizeof pb, "%s/b.geojson", dir);
    FILE *fa = fopen(pa, "w"), *fb = fopen(pb, "w");
    if (!fa || !fb) {
        perror("write");
        exit(1);
    }
    unsigned s = 7;
    long half = n / 2;
    double *ax = malloc(half * sizeof *ax), *ay = malloc(half * sizeof *ay);
    int *ak = malloc(half * sizeof *ak), *at = malloc(half * sizeof *at);
    fputs("{\"type\":\"FeatureCollection\",\"features\":[\n", fa);
    fputs("{\"type\":\"FeatureCollection\",\"features\":[\n", fb);
    /* 60 km x 60 km */
    for (long i = 0; i < half; i++) {
        ax[i] = LON0 + urand(&s) * 60000 * M_LON;
        ay[i] = LAT0 + urand(&s) * 60000 * M_LAT;
        ak[i] = (int)(urand(&s) * 4);
        at[i] = (int)(urand(&s) * 600);
        fprintf(fa,
                "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"A%ld\",\"kind\":\"%s\","
                "\"t\":\"2026-05-01T%02d:%02d:00Z\",\"acc\":%.1f},\"geometry\":{\"type\":"
                "\"Point\",\"coordinates\":[%.7f,%.7f]}}\n",
                i ? "," : "", i, kinds[ak[i]], at[i] / 60, at[i] % 60, 2 + urand(&s) * 20, ax[i],
                ay[i]);
    }
    for (long i = 0; i < n - half; i++) {
        double x, y;
        int k, t;
        if (i % 3 == 0) { /* a second report of one of A's things */
            long j = (long)(urand(&s) * half);
            double d = 5 + urand(&s) * 35, a = urand(&s) * 2 * M_PI;
            x = ax[j] + d * cos(a) * M_LON;
            y = ay[j] + d * sin(a) * M_LAT;
            k = ak[j];
            t = at[j] + (int)(urand(&s) * 20);
            if (t >= 600)
                t = 599;
        } else {
            x = LON0 + urand(&s) * 60000 * M_LON;
            y = LAT0 + urand(&s) * 60000 * M_LAT;
            k = (int)(urand(&s) * 4);
            t = (int)(urand(&s) * 600);
        }
        fprintf(fb,
                "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"B%ld\",\"kind\":\"%s\","
                "\"t\":\"2026-05-01T%02d:%02d:00Z\",\"acc\":%.1f},\"geometry\":{\"type\":"
                "\"Point\",\"coordinates\":[%.7f,%.7f]}}\n",
                i ? "," : "", i, kinds[k], t / 60, t % 60, 2 + urand(&s) * 20, x, y);
    }
    fputs("]}\n", fa);
    fputs("]}\n", fb);
    fclose(fa);
    fclose(fb);
    free(ax);
    free(ay);
    free(ak);
    free(at);
}

static void write_config(const char *dir)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/bench.yaml", dir);
    FILE *f = fopen(p, "w");
    if (!f) {
        perror(p);
        exit(1);
    }
    fputs("store: {path: bench.sqlite}\n"
          "groups: [fire, thw]\n"
          "layers:\n"
          "  conf: {title: C, conflate: {distance_m: 50, time_window: 30m}}\n"
          "  plain: {title: P}\n"
          "sources:\n",
          f);
    const char *names[4][3] = {{"conf_a", "conf", "a"}, {"conf_b", "conf", "b"},
                               {"plain_a", "plain", "a"}, {"plain_b", "plain", "b"}};
    for (int i = 0; i < 4; i++)
        fprintf(f,
                "  %s:\n    path: %s.geojson\n    layer: %s\n    agency: %s\n    fid: id\n"
                "    mapping: {kind: kind, observed_at: t, accuracy_m: acc}\n"
                "    label: {level: OFFEN, releasable_to: [%s]}\n",
                names[i][0], names[i][2], names[i][1], names[i][2][0] == 'a' ? "fire" : "thw",
                names[i][2][0] == 'a' ? "fire, thw" : "thw");
    fclose(f);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* rows of a scan: [0] all, [1] fused features, [2] reports merged into one */
static bool count_fn(void *ud, const lb_stored_feature *f)
{
    long *c = ud;
    c[0]++;
    c[1] += strcmp(f->source, LB_FUSED_SOURCE) == 0;
    c[2] += f->member;
    return true;
}

static void die(const char *what, const lb_error *e)
{
    fprintf(stderr, "conflate_bench: %s: %s\n", what, e->msg);
    exit(1);
}

int main(int argc, char **argv)
{
    long n = 100000;
    int rounds = 3;
    const char *dir = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--n") == 0)
            n = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
    }
    if (rounds < 1 || rounds > 50 || n < 10) {
        fprintf(stderr, "usage: conflate_bench [--n N] [--rounds R] [--dir DIR]\n");
        return 2;
    }
    char tmpl[] = "/tmp/conflate-bench-XXXXXX";
    if (!dir && !(dir = mkdtemp(tmpl))) {
        perror("mkdtemp");
        return 1;
    }
    mkdir(dir, 0755);
    write_sources(dir, n);
    write_config(dir);
    char cp[1024];
    snprintf(cp, sizeof cp, "%s/bench.yaml", dir);
    lb_fusion_init();
    lb_config *cfg = NULL;
    char *diag = NULL;
    if (lb_config_load(cp, &cfg, &diag) != LB_OK) {
        fprintf(stderr, "%s", diag ? diag : "config\n");
        return 1;
    }
    remove(cfg->store_path);
    lb_store *st = NULL;
    lb_error err;
    if (lb_store_open(cfg->store_path, &st, &err) != LB_OK)
        die("store", &err);
    lb_ingest_stats s;
    const char *first[] = {"conf_a", "plain_a"};
    for (int i = 0; i < 2; i++)
        if (lb_ingest_source(st, cfg, lb_config_source(cfg, first[i]), NULL, &s, &err) != LB_OK)
            die(first[i], &err);

    double t_conf[50], t_plain[50], t_full[50], t_r1[50], t_r10[50], t_r100[50], t_sc[50], t_sp[50];
    long scanned_c[3] = {0}, scanned_p[3] = {0};
    for (int r = 0; r < rounds; r++) {
        double t = lb_now();
        if (lb_ingest_source(st, cfg, lb_config_source(cfg, "plain_b"), NULL, &s, &err) != LB_OK)
            die("plain_b", &err);
        t_plain[r] = lb_now() - t;
        t = lb_now();
        if (lb_ingest_source(st, cfg, lb_config_source(cfg, "conf_b"), NULL, &s, &err) != LB_OK)
            die("conf_b", &err);
        t_conf[r] = lb_now() - t;
        t = lb_now();
        if (lb_conflate_layer(st, cfg, "conf", &err) != LB_OK)
            die("lb_conflate_layer", &err);
        t_full[r] = lb_now() - t;
        int counts[3] = {1, 10, 100};
        double *dst[3] = {t_r1, t_r10, t_r100};
        unsigned seed = 99 + (unsigned)r;
        for (int k = 0; k < 3; k++) {
            lb_bbox boxes[100];
            for (int b = 0; b < counts[k]; b++) {
                double x = LON0 + urand(&seed) * 60000 * M_LON, y = LAT0 + urand(&seed) * 60000 * M_LAT;
                boxes[b] = (lb_bbox){x, y, x, y};
            }
            t = lb_now();
            if (lb_conflate_region(st, cfg, "conf", boxes, (size_t)counts[k], &err) != LB_OK)
                die("lb_conflate_region", &err);
            dst[k][r] = lb_now() - t;
        }
        int64_t rev;
        memset(scanned_c, 0, sizeof scanned_c);
        memset(scanned_p, 0, sizeof scanned_p);
        t = lb_now();
        if (lb_store_scan_layer(st, "conf", count_fn, scanned_c, &rev, &err) != LB_OK)
            die("scan conf", &err);
        t_sc[r] = lb_now() - t;
        t = lb_now();
        if (lb_store_scan_layer(st, "plain", count_fn, scanned_p, &rev, &err) != LB_OK)
            die("scan plain", &err);
        t_sp[r] = lb_now() - t;
    }
    double full = median(t_full, rounds);
    printf("conflate_bench: %ld features in the layer (2 sources), median of %d rounds\n", n,
           rounds);
    printf("  %ld reports; %ld fused features of %ld reports: a fully cleared role sees %ld"
           " features\n",
           scanned_p[0], scanned_c[1], scanned_c[2], scanned_c[0] - scanned_c[2]);
    double pc = median(t_conf, rounds), pp = median(t_plain, rounds);
    printf("  %-44s %8.3f s   baseline (plain layer) %8.3f s   ratio %.2f\n",
           "ingest of source b (50%) incl. conflation", pc, pp, pc / pp);
    printf("  %-44s %8.3f s   = %.0f%% of the plain ingest\n", "lb_conflate_layer (whole layer)",
           full, 100 * full / pp);
    double r1 = median(t_r1, rounds), r10 = median(t_r10, rounds), r100 = median(t_r100, rounds);
    printf("  %-44s %8.4f s   vs whole layer: 1/%.0f\n", "lb_conflate_region, 1 changed feature",
           r1, full / r1);
    printf("  %-44s %8.4f s   vs whole layer: 1/%.0f\n", "lb_conflate_region, 10 changed",
           r10, full / r10);
    printf("  %-44s %8.4f s   vs whole layer: 1/%.0f\n", "lb_conflate_region, 100 changed",
           r100, full / r100);
    double sc = median(t_sc, rounds), sp = median(t_sp, rounds);
    printf("  %-44s %8.3f s   baseline (plain layer) %8.3f s   ratio %.2f\n",
           "lb_store_scan_layer (snapshot read)", sc, sp, sc / sp);
    lb_store_close(st);
    lb_config_free(cfg);
    lb_fusion_cleanup();
    return 0;
}
