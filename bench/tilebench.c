/*
 * tilebench — cold single-thread tile rendering benchmark (bench/tile_bench.sh).
 *
 *   tilebench --config FILE --map ID --tiles FILE [--grid ID] [--png-level N]
 *             [--palette] [--out DIR] [--label TEXT]
 *
 * Loads the config, builds the snapshots of every layer of the map once
 * (styles and snapshots exactly as `lagebild render` does), then renders the
 * tiles of the tile list (one per line: "z x y scale"; '#' comments) one
 * after the other on this thread, with no tile cache: per tile a fresh
 * canvas, lb_render_tile and lb_png_encode (zlib level 2 unless --png-level;
 * RGBA unless --palette, which asks for lagebild's exact 8-bit palette
 * output where a tile has at most 256 colours).
 * Render time and encode time are measured separately with a monotonic
 * clock.  The canvas (one per tile size) is allocated once and cleared
 * before the clock starts, as mapnik_bench.py makes its mapnik.Image before
 * timing the render.
 *
 * Prints the median and 95th percentile of render, encode and total time in
 * ms, the share of total time spent encoding, the process's peak resident set
 * (VmHWM of /proc/self/status) and that peak per million snapshot vertices
 * (lb_snapshot_vertex_count over all layers, all levels of detail), and last
 * one machine-readable line "TILEBENCH tool=lagebild ..." (key=value pairs).
 *
 * With LB_BENCH_GATE=RFD,WFD,BATCH in the environment (set by
 * bench/interleave.py, which runs several tools in turn), the renders are
 * gated in batches: after the snapshots are built one byte goes to WFD
 * ("ready"); before each batch of BATCH consecutive tile renders (counted over
 * all --passes) one byte is read from RFD (the coordinator's "go"), after the
 * batch one byte goes to WFD: 'b', or 'e' after the last batch.  The timing
 * of each tile is the same as without the gate.  At the start of each batch
 * the tile rendered last (the first tile for the first batch) is rendered
 * once more, untimed: the other tools' turns have evicted this process's
 * data from the CPU caches, and a run of its own would find them as the
 * previous tile left them (bench/benchtiles.py does the same for Mapnik and
 * MapServer).  Like them, tilebench renders the first tile once untimed
 * before its timed renders.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lagebild/config.h"
#include "lagebild/fusion.h"
#include "lagebild/style.h"
#include "lagebild/tiler.h"

#include "bench_util.h"

static const char *usage_text =
    "usage: tilebench --config FILE --map ID --tiles FILE [--grid ID] [--png-level N]\n"
    "                 [--palette] [--out DIR] [--label TEXT] [--passes N]\n"
    "                 [--per-tile FILE] [--thrash MB] [--no-occlusion]\n"
    "                 [--pair occlusion|routing]\n"
    "\n"
    "  -c, --config FILE     lagebild config (store, layers with styles, maps)\n"
    "  -m, --map ID          the map whose layers are rendered\n"
    "  -t, --tiles FILE      tile list, one tile per line: z x y scale (1 or 2)\n"
    "  -g, --grid ID         tile matrix set (default WebMercatorQuad)\n"
    "  -l, --png-level N     zlib level 0-9 (default 2)\n"
    "  -p, --palette         exact 8-bit palette PNG when a tile has <= 256 colours\n"
    "  -o, --out DIR         also write every tile to DIR/z_x_y_scale.png\n"
    "  -L, --label TEXT      label put into the TILEBENCH line (e.g. the scale)\n"
    "  -T, --per-tile FILE   also write every tile's times to FILE, one line per\n"
    "                        tile: z x y scale render_ms encode_ms total_ms\n"
    "  -n, --passes N        render the list N times (default 1) and report per\n"
    "                        tile the fastest pass: for comparing builds on a\n"
    "                        noisy machine and for profiling with perf; the\n"
    "                        benchmark itself uses one pass\n"
    "  -X, --thrash MB       before every tile, write MB megabytes of other memory and\n"
    "                        re-render the previous tile untimed: what a batch of the\n"
    "                        interleaved benchmark starts with (caches the other tools\n"
    "                        have used), on every tile, for profiling that cost\n"
    "  -O, --no-occlusion    draw everything (lb_render_set_occlusion(false)): to\n"
    "                        measure what occlusion saves\n"
    "  -P, --pair FEATURE    render every tile twice, with FEATURE (occlusion or\n"
    "                        routing) on and off, in alternating order, and print the\n"
    "                        median and p95 of each and the median of the per-tile\n"
    "                        ratios (on / off): a comparison that the machine's slow\n"
    "                        phases hit alike (with --thrash: cold, per render)\n"
    "\n"
    "Environment: LB_BENCH_GATE=RFD,WFD,BATCH renders the tiles in batches of BATCH,\n"
    "each released by a byte read from fd RFD and acknowledged on fd WFD\n"
    "(bench/interleave.py sets it).\n";

/* kB value of a "Key:   123 kB" line of /proc/self/status, -1 if absent */
static long proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* The batch gate of bench/interleave.py (LB_BENCH_GATE=RFD,WFD,BATCH). */
typedef struct gate {
    int rfd, wfd;
    size_t batch; /* 0: no gate, render freely */
} gate;

/* One non-negative int of a comma-separated list at *p, advancing *p past it and sep. */
static bool gate_field(const char **p, char sep, long max, long *v)
{
    char *end;
    errno = 0;
    if (**p < '0' || **p > '9')
        return false;
    *v = strtol(*p, &end, 10);
    if (errno || *v > max || *end != sep)
        return false;
    *p = sep ? end + 1 : end;
    return true;
}

/* Reads LB_BENCH_GATE into g (batch 0 when unset); 1 with a message when it is invalid. */
static int gate_from_env(gate *g)
{
    *g = (gate){.rfd = -1, .wfd = -1, .batch = 0};
    const char *env = getenv("LB_BENCH_GATE");
    if (!env)
        return 0;
    const char *p = env;
    long rfd, wfd, batch;
    if (!gate_field(&p, ',', INT_MAX, &rfd) || !gate_field(&p, ',', INT_MAX, &wfd) ||
        !gate_field(&p, '\0', 1000000000L, &batch) || batch < 1) {
        fprintf(stderr, "tilebench: LB_BENCH_GATE='%s': expected RFD,WFD,BATCH (two file "
                        "descriptors and a batch size >= 1)\n", env);
        return 1;
    }
    int rmode = fcntl((int)rfd, F_GETFL), wmode = fcntl((int)wfd, F_GETFL);
    if (rmode == -1 || (rmode & O_ACCMODE) == O_WRONLY) {
        fprintf(stderr, "tilebench: LB_BENCH_GATE='%s': fd %ld is not open for reading\n", env,
                rfd);
        return 1;
    }
    if (wmode == -1 || (wmode & O_ACCMODE) == O_RDONLY) {
        fprintf(stderr, "tilebench: LB_BENCH_GATE='%s': fd %ld is not open for writing\n", env,
                wfd);
        return 1;
    }
    /* a vanished coordinator is an error message, not a silent SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    *g = (gate){.rfd = (int)rfd, .wfd = (int)wfd, .batch = (size_t)batch};
    return 0;
}

/* Writes the byte c to the coordinator; 1 with a message on failure. */
static int gate_put(const gate *g, char c)
{
    for (;;) {
        ssize_t n = write(g->wfd, &c, 1);
        if (n == 1)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        fprintf(stderr, "tilebench: LB_BENCH_GATE: cannot write to fd %d: %s\n", g->wfd,
                n < 0 ? strerror(errno) : "nothing written");
        return 1;
    }
}

/* Waits for the coordinator's byte; 1 with a message on EOF or failure. */
static int gate_take(const gate *g)
{
    char c;
    for (;;) {
        ssize_t n = read(g->rfd, &c, 1);
        if (n == 1)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            fprintf(stderr, "tilebench: LB_BENCH_GATE: fd %d closed before all tiles were "
                            "rendered (the coordinator quit)\n", g->rfd);
        else
            fprintf(stderr, "tilebench: LB_BENCH_GATE: cannot read fd %d: %s\n", g->rfd,
                    strerror(errno));
        return 1;
    }
}

/* After the untimed set-up: tells the coordinator this tool is ready. */
static int gate_put_ready(const gate *g)
{
    return g->batch ? gate_put(g, 'r') : 0;
}

/* Before render k (0-based, over all passes): the first of a batch waits
 * for the go (*start set: the caller warms up first, see the top). */
static int gate_before(const gate *g, size_t k, bool *start)
{
    *start = g->batch && k % g->batch == 0;
    return *start ? gate_take(g) : 0;
}

/* After render k of total: the last of a batch reports it done ('e': all done). */
static int gate_after(const gate *g, size_t k, size_t total)
{
    if (!g->batch)
        return 0;
    if (k + 1 == total)
        return gate_put(g, 'e');
    return (k + 1) % g->batch == 0 ? gate_put(g, 'b') : 0;
}

typedef struct tile {
    int z, scale;
    long x, y;
} tile;

static int read_tiles(const char *path, tile **out, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "tilebench: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    tile *v = NULL;
    size_t len = 0, cap = 0;
    char line[256];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        tile t;
        if (sscanf(p, "%d %ld %ld %d", &t.z, &t.x, &t.y, &t.scale) != 4 ||
            (t.scale != 1 && t.scale != 2)) {
            fprintf(stderr, "%s:%d: expected 'z x y scale' (scale 1 or 2)\n", path, lineno);
            free(v);
            fclose(f);
            return 1;
        }
        if (len == cap) {
            cap = cap ? cap * 2 : 256;
            tile *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                free(v);
                fclose(f);
                return 1;
            }
            v = nv;
        }
        v[len++] = t;
    }
    fclose(f);
    if (len == 0) {
        fprintf(stderr, "tilebench: %s lists no tiles\n", path);
        free(v);
        return 1;
    }
    *out = v;
    *n = len;
    return 0;
}

/* One tile as the benchmark times it: the canvas of its scale (canv[0] or
 * canv[1]) cleared before the clock starts, then lb_render_tile and
 * lb_png_encode; ms[0], ms[1]: render and encode time; *png (free it) and
 * *len the PNG, *empty whether the tile was transparent.  1 with a message
 * on failure. */
static int render_one(const lb_render_layer *layers, size_t nlayers, const lb_tms *grid,
                      const tile *t, lb_canvas canv[2], const lb_png_opts *po, uint8_t **png,
                      size_t *len, double ms[2], bool *empty)
{
    lb_canvas canvas = {0};
    lb_error err;
    const lb_canvas *c = &canv[t->scale - 1];
    lb_canvas_init_view(&canvas, c->width, c->height, c->px);
    lb_canvas_clear(&canvas);
    *png = NULL;
    double a = now_ms();
    lb_status rc = lb_render_tile(layers, nlayers, grid, t->z, t->x, t->y, t->scale, &canvas,
                                  &err);
    double b = now_ms();
    if (rc == LB_OK)
        rc = lb_png_encode(&canvas, po, png, len, &err);
    double e = now_ms();
    if (rc != LB_OK) {
        fprintf(stderr, "tilebench: tile %d/%ld/%ld: %s\n", t->z, t->x, t->y, err.msg);
        lb_canvas_free(&canvas);
        return 1;
    }
    ms[0] = b - a;
    ms[1] = e - b;
    *empty = lb_canvas_is_empty(&canvas);
    lb_canvas_free(&canvas); /* a view: frees only the rasterizer's scratch */
    return 0;
}

/* Render and encode tile t once, untimed: first touch of its data, or
 * caches back as the previous tile left them (see the top). */
static int warm_up(const lb_render_layer *layers, size_t nlayers, const lb_tms *grid,
                   const tile *t, lb_canvas canv[2], const lb_png_opts *po)
{
    uint8_t *png;
    size_t len;
    double ms[2];
    bool empty;
    int rc = render_one(layers, nlayers, grid, t, canv, po, &png, &len, ms, &empty);
    free(png);
    return rc;
}

/* Styles and snapshots of a map's layers, as server/main.c's render command builds them. */
static int load_map_layers(const lb_config *cfg, const lb_map_cfg *map, lb_store *st,
                           const lb_tms *grid, lb_render_layer *out, lb_style **styles)
{
    for (size_t i = 0; i < map->nlayers; i++) {
        const lb_layer_cfg *lc = lb_config_layer(cfg, map->layers[i]);
        styles[i] = NULL;
        size_t nprops = 0;
        const char *const *props = NULL;
        if (lc->style) {
            char *diag = NULL;
            if (lb_style_load(lc->style, &styles[i], &diag) != LB_OK) {
                fputs(diag ? diag : "cannot load style\n", stderr);
                free(diag);
                return 1;
            }
            props = lb_style_properties(styles[i], &nprops);
        }
        lb_error err;
        if (lb_snapshot_build(st, cfg, lc->id, grid, props, nprops, &out[i].snap, &err) !=
            LB_OK) {
            fprintf(stderr, "tilebench: layer '%s': %s\n", lc->id, err.msg);
            return 1;
        }
        out[i].style = styles[i];
    }
    return 0;
}

/* Write mb megabytes of memory nothing else uses (kept between calls): the
 * caches then hold that instead of the renderer's data. */
static bool thrash(long mb)
{
    static uint8_t *buf;
    static uint8_t v;
    size_t n = (size_t)mb << 20;
    if (!buf && !(buf = malloc(n))) {
        fprintf(stderr, "tilebench: out of memory for --thrash\n");
        return false;
    }
    memset(buf, ++v, n);
    return true;
}

/* A whole decimal number in [lo, hi] (as strtol reads it) into *v. */
static bool arg_long(const char *arg, long lo, long hi, long *v)
{
    char *end;
    *v = strtol(arg, &end, 10);
    return !*end && *v >= lo && *v <= hi;
}

/* What a batch of the interleaved bench starts with, for --thrash: the
 * caches filled with other memory, then the previous tile rendered again
 * untimed; 0 when done. */
static int cold_start(long mb, const lb_render_layer *layers, size_t nlayers, const lb_tms *grid,
                      const tile *prev, lb_canvas canv[2], const lb_png_opts *po)
{
    if (!thrash(mb))
        return 1;
    return warm_up(layers, nlayers, grid, prev, canv, po);
}

static void set_feature(const char *feature, bool on)
{
    if (strcmp(feature, "occlusion") == 0)
        lb_render_set_occlusion(on);
    else
        lb_render_set_routing(on);
}

/* --pair: every tile twice, the feature on and off in alternating order
 * (each render after --thrash and a re-render of the previous tile, when
 * asked); 0 when done. */
static int run_pair(const char *feature, const lb_render_layer *layers, size_t nlayers,
                    const lb_tms *grid, const tile *tiles, size_t ntiles, lb_canvas canv[2],
                    const lb_png_opts *po, long thrash_mb)
{
    double *on = calloc(ntiles, sizeof *on), *off = calloc(ntiles, sizeof *off),
           *ratio = calloc(ntiles, sizeof *ratio);
    int rc = 1;
    if (!on || !off || !ratio)
        goto done;
    for (size_t i = 0; i < ntiles; i++) {
        for (int q = 0; q < 2; q++) {
            bool feature_on = ((i + (size_t)q) % 2) == 0;
            set_feature(feature, feature_on);
            if (thrash_mb > 0 &&
                cold_start(thrash_mb, layers, nlayers, grid, &tiles[i ? i - 1 : 0], canv, po))
                goto done;
            uint8_t *png = NULL;
            size_t len = 0;
            double ms[2];
            bool empty;
            if (render_one(layers, nlayers, grid, &tiles[i], canv, po, &png, &len, ms, &empty))
                goto done;
            free(png);
            (feature_on ? on : off)[i] = ms[0] + ms[1];
        }
        ratio[i] = off[i] > 0 ? on[i] / off[i] : 1;
    }
    set_feature(feature, true);
    qsort(on, ntiles, sizeof *on, cmp_double);
    qsort(off, ntiles, sizeof *off, cmp_double);
    qsort(ratio, ntiles, sizeof *ratio, cmp_double);
    printf("PAIR feature=%s tiles=%zu thrash_mb=%ld median_on_ms=%.4f median_off_ms=%.4f "
           "p95_on_ms=%.4f p95_off_ms=%.4f tile_ratio_median=%.4f\n",
           feature, ntiles, thrash_mb, percentile(on, ntiles, 50), percentile(off, ntiles, 50),
           percentile(on, ntiles, 95), percentile(off, ntiles, 95),
           percentile(ratio, ntiles, 50));
    rc = 0;
done:
    free(on);
    free(off);
    free(ratio);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"map", required_argument, NULL, 'm'},
        {"tiles", required_argument, NULL, 't'},  {"grid", required_argument, NULL, 'g'},
        {"png-level", required_argument, NULL, 'l'}, {"out", required_argument, NULL, 'o'},
        {"label", required_argument, NULL, 'L'},  {"help", no_argument, NULL, 'h'},
        {"palette", no_argument, NULL, 'p'},     {"passes", required_argument, NULL, 'n'},
        {"per-tile", required_argument, NULL, 'T'},
        {"thrash", required_argument, NULL, 'X'}, {"no-occlusion", no_argument, NULL, 'O'},
        {"pair", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *map_id = NULL, *tiles_path = NULL, *grid_id = "WebMercatorQuad",
               *outdir = NULL, *label = "-", *per_tile = NULL, *pair = NULL;
    int level = 2, c;
    long passes = 1, thrash_mb = 0;
    bool palette = false;
    while ((c = getopt_long(argc, argv, "c:m:t:g:l:o:L:pn:T:X:OP:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'm': map_id = optarg; break;
        case 't': tiles_path = optarg; break;
        case 'g': grid_id = optarg; break;
        case 'o': outdir = optarg; break;
        case 'L': label = optarg; break;
        case 'p': palette = true; break;
        case 'T': per_tile = optarg; break;
        case 'O': lb_render_set_occlusion(false); break;
        case 'P':
            pair = optarg;
            if (strcmp(pair, "occlusion") != 0 && strcmp(pair, "routing") != 0) {
                fprintf(stderr, "tilebench: --pair needs occlusion or routing\n");
                return 2;
            }
            break;
        case 'X':
            if (!arg_long(optarg, 1, 4096, &thrash_mb)) {
                fprintf(stderr, "tilebench: --thrash needs 1-4096 (MB)\n");
                return 2;
            }
            break;
        case 'n':
            if (!arg_long(optarg, 1, 1000, &passes)) {
                fprintf(stderr, "tilebench: --passes needs 1-1000\n");
                return 2;
            }
            break;
        case 'l': {
            long v;
            if (!arg_long(optarg, 0, 9, &v)) {
                fprintf(stderr, "tilebench: --png-level needs 0-9\n");
                return 2;
            }
            level = (int)v;
            break;
        }
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (!config || !map_id || !tiles_path || optind < argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    const lb_tms *grid = lb_tms_find(grid_id);
    if (!grid) {
        fprintf(stderr, "tilebench: unknown grid '%s'\n", grid_id);
        return 2;
    }
    gate gt;
    if (gate_from_env(&gt) != 0)
        return 2;
    tile *tiles = NULL;
    size_t ntiles = 0;
    if (read_tiles(tiles_path, &tiles, &ntiles) != 0)
        return 1;

    lb_config *cfg = NULL;
    char *diag = NULL;
    if (lb_config_load(config, &cfg, &diag) != LB_OK) {
        fputs(diag ? diag : "tilebench: cannot load config\n", stderr);
        free(diag);
        free(tiles);
        return 1;
    }
    free(diag);
    const lb_map_cfg *map = lb_config_map(cfg, map_id);
    if (!map) {
        fprintf(stderr, "tilebench: %s defines no map '%s'\n", config, map_id);
        lb_config_free(cfg);
        free(tiles);
        return 1;
    }

    long rss_base_kb = proc_status_kb("VmRSS");
    lb_fusion_init();
    int rc = 1;
    lb_store *st = NULL;
    lb_error err;
    lb_canvas canv[2] = {{0}}; /* the canvases of scale 1 and 2 */
    lb_render_layer *layers = calloc(map->nlayers, sizeof *layers);
    lb_style **styles = calloc(map->nlayers, sizeof *styles);
    double *t_render = calloc(ntiles, sizeof(double));
    double *t_encode = calloc(ntiles, sizeof(double));
    double *t_total = calloc(ntiles, sizeof(double));
    if (!layers || !styles || !t_render || !t_encode || !t_total)
        goto out;
    if (lb_store_open(cfg->store_path, &st, &err) != LB_OK) {
        fprintf(stderr, "tilebench: %s\n", err.msg);
        goto out;
    }

    double t0 = now_ms();
    if (load_map_layers(cfg, map, st, grid, layers, styles) != 0)
        goto out;
    double snapshot_ms = now_ms() - t0;
    long rss_snap_kb = proc_status_kb("VmRSS");
    size_t vertices = 0, features = 0, snap_bytes = 0;
    for (size_t i = 0; i < map->nlayers; i++) {
        vertices += lb_snapshot_vertex_count(layers[i].snap);
        features += lb_snapshot_feature_count(layers[i].snap);
        snap_bytes += lb_snapshot_memory(layers[i].snap);
    }

    lb_png_opts po = {.level = level, .palette = palette};
    if (lb_canvas_init(&canv[0], grid->tile_size, grid->tile_size) != LB_OK ||
        lb_canvas_init(&canv[1], 2 * grid->tile_size, 2 * grid->tile_size) != LB_OK) {
        fprintf(stderr, "tilebench: out of memory\n");
        goto out;
    }
    size_t empty = 0, bytes = 0;
    size_t nrenders = ntiles * (size_t)passes;
    if (warm_up(layers, map->nlayers, grid, &tiles[0], canv, &po) != 0)
        goto out;
    if (pair) {
        rc = run_pair(pair, layers, map->nlayers, grid, tiles, ntiles, canv, &po, thrash_mb);
        goto out;
    }
    if (gate_put_ready(&gt) != 0)
        goto out;
    for (long pass = 0; pass < passes; pass++) {
    empty = bytes = 0;
    for (size_t i = 0; i < ntiles; i++) {
        const tile *t = &tiles[i];
        size_t k = (size_t)pass * ntiles + i; /* render number, for the gate */
        bool start;
        if (gate_before(&gt, k, &start) != 0)
            goto out;
        const tile *prev = &tiles[k ? (k - 1) % ntiles : 0];
        if (thrash_mb > 0 ? cold_start(thrash_mb, layers, map->nlayers, grid, prev, canv, &po)
                          : start && warm_up(layers, map->nlayers, grid, prev, canv, &po))
            goto out;
        uint8_t *png = NULL;
        size_t len = 0;
        double ms[2];
        bool is_empty;
        if (render_one(layers, map->nlayers, grid, t, canv, &po, &png, &len, ms, &is_empty) != 0)
            goto out;
        if (pass == 0 || ms[0] + ms[1] < t_total[i]) {
            t_render[i] = ms[0];
            t_encode[i] = ms[1];
            t_total[i] = ms[0] + ms[1];
        }
        empty += is_empty;
        bytes += len;
        if (outdir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%d_%ld_%ld_%d.png", outdir, t->z, t->x, t->y,
                     t->scale);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(png, 1, len, f) != len) {
                fprintf(stderr, "tilebench: cannot write %s\n", path);
                if (f)
                    fclose(f);
                free(png);
                goto out;
            }
            fclose(f);
        }
        free(png);
        if (gate_after(&gt, k, nrenders) != 0)
            goto out;
    }
    }

    if (per_tile) {
        FILE *f = fopen(per_tile, "w");
        if (!f) {
            fprintf(stderr, "tilebench: cannot write %s: %s\n", per_tile, strerror(errno));
            goto out;
        }
        for (size_t i = 0; i < ntiles; i++)
            fprintf(f, "%d %ld %ld %d %.4f %.4f %.4f\n", tiles[i].z, tiles[i].x, tiles[i].y,
                    tiles[i].scale, t_render[i], t_encode[i], t_total[i]);
        fclose(f);
    }
    double sum_r = 0, sum_e = 0, sum_t = 0;
    for (size_t i = 0; i < ntiles; i++) {
        sum_r += t_render[i];
        sum_e += t_encode[i];
        sum_t += t_total[i];
    }
    qsort(t_render, ntiles, sizeof(double), cmp_double);
    qsort(t_encode, ntiles, sizeof(double), cmp_double);
    qsort(t_total, ntiles, sizeof(double), cmp_double);
    long hwm_kb = proc_status_kb("VmHWM");
    double mvert = (double)vertices / 1e6;
    double share = sum_t > 0 ? sum_e / sum_t : 0;
    double kb_per_mv = mvert > 0 ? (double)hwm_kb / mvert : NAN;
    double delta_kb_per_mv = mvert > 0 ? (double)(hwm_kb - rss_base_kb) / mvert : NAN;

    printf("tilebench: map '%s' of %s: %zu layers, %zu features, %zu vertices (all levels), "
           "snapshots %.1f MB built in %.0f ms\n",
           map_id, config, map->nlayers, features, vertices, (double)snap_bytes / 1048576.0,
           snapshot_ms);
    printf("tiles: %zu (%zu empty), %.1f kB PNG on average, zlib level %d, %s, one thread, cold\n",
           ntiles, empty, (double)bytes / 1024.0 / (double)ntiles, level,
           palette ? "palette where exact" : "RGBA");
    printf("%-8s %10s %10s %10s %10s\n", "ms", "median", "p95", "mean", "max");
    printf("%-8s %10.3f %10.3f %10.3f %10.3f\n", "render", percentile(t_render, ntiles, 50),
           percentile(t_render, ntiles, 95), sum_r / (double)ntiles, t_render[ntiles - 1]);
    printf("%-8s %10.3f %10.3f %10.3f %10.3f\n", "encode", percentile(t_encode, ntiles, 50),
           percentile(t_encode, ntiles, 95), sum_e / (double)ntiles, t_encode[ntiles - 1]);
    printf("%-8s %10.3f %10.3f %10.3f %10.3f\n", "total", percentile(t_total, ntiles, 50),
           percentile(t_total, ntiles, 95), sum_t / (double)ntiles, t_total[ntiles - 1]);
    printf("encode share of total time: %.1f %%\n", 100.0 * share);
    printf("RSS: start %.1f MB, after snapshots %.1f MB, peak (VmHWM) %.1f MB; "
           "peak per million vertices %.1f MB (above start: %.1f MB)\n",
           (double)rss_base_kb / 1024.0, (double)rss_snap_kb / 1024.0, (double)hwm_kb / 1024.0,
           kb_per_mv / 1024.0, delta_kb_per_mv / 1024.0);
    printf("TILEBENCH tool=lagebild label=%s tiles=%zu empty=%zu median_ms=%.4f p95_ms=%.4f "
           "mean_ms=%.4f render_median_ms=%.4f render_p95_ms=%.4f encode_median_ms=%.4f "
           "encode_p95_ms=%.4f encode_share=%.4f vmhwm_kb=%ld rss_start_kb=%ld vertices=%zu "
           "features=%zu hwm_mb_per_mvertex=%.3f hwm_above_start_mb_per_mvertex=%.3f "
           "snapshot_ms=%.1f snapshot_mb=%.2f\n",
           label, ntiles, empty, percentile(t_total, ntiles, 50), percentile(t_total, ntiles, 95),
           sum_t / (double)ntiles, percentile(t_render, ntiles, 50),
           percentile(t_render, ntiles, 95), percentile(t_encode, ntiles, 50),
           percentile(t_encode, ntiles, 95), share, hwm_kb, rss_base_kb, vertices, features,
           kb_per_mv / 1024.0, delta_kb_per_mv / 1024.0, snapshot_ms,
           (double)snap_bytes / 1048576.0);
    rc = 0;
out:
    lb_canvas_free(&canv[0]);
    lb_canvas_free(&canv[1]);
    if (layers && styles)
        for (size_t i = 0; i < map->nlayers; i++) {
            if (layers[i].snap)
                lb_snapshot_unref(layers[i].snap);
            lb_style_free(styles[i]);
        }
    free(layers);
    free(styles);
    free(t_render);
    free(t_encode);
    free(t_total);
    free(tiles);
    lb_store_close(st);
    lb_config_free(cfg);
    lb_fusion_cleanup();
    return rc;
}
