/*
 * pngsweep — PNG encoder settings measured on real tiles (bench/README.md).
 *
 *   pngsweep --config FILE --map ID --tiles FILE [--repeat N]
 *
 * Renders every tile of the tile list once (as tilebench does), keeps the
 * premultiplied canvases, and then encodes all of them with libpng under a
 * series of settings: zlib level, strategy, row filter, and how the
 * premultiplied rows are handed to libpng.  Each tile is encoded --repeat
 * times (default 3) and its fastest time is kept, which removes most of the
 * noise of a shared machine.  Prints per setting the median, p95 and mean ms
 * over all tiles, the same for the 256 px and the 512 px tiles, and the mean
 * PNG size, plus lagebild's own lb_png_encode for comparison.
 *
 * The settings are written out here with plain libpng calls on purpose: the
 * tool measures libpng and zlib, not lagebild's encoder.  The "libdeflate"
 * settings keep libpng for the signature, IHDR and the chunk CRCs but build
 * the unfiltered image (filter byte 0 + straight RGBA per row) in one buffer
 * and compress it with libdeflate into a single IDAT; the compressor and the
 * buffers are allocated once per setting (as a long-running encoder keeps
 * them), the straightening and copying are timed.
 */
#include <errno.h>
#include <getopt.h>
#include <libdeflate.h>
#include <math.h>
#include <png.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "lagebild/config.h"
#include "lagebild/fusion.h"
#include "lagebild/style.h"
#include "lagebild/tiler.h"

#include "bench_util.h"

typedef struct outbuf {
    uint8_t *p;
    size_t len, cap;
} outbuf;

static void write_fn(png_structp png, png_bytep data, png_size_t len)
{
    outbuf *o = png_get_io_ptr(png);
    if (o->len + len > o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 65536;
        while (nc < o->len + len)
            nc *= 2;
        uint8_t *np = realloc(o->p, nc);
        if (!np)
            png_error(png, "out of memory");
        o->p = np;
        o->cap = nc;
    }
    memcpy(o->p + o->len, data, len);
    o->len += len;
}

static void flush_fn(png_structp png) { (void)png; }

static uint32_t inv_alpha[256];

static void unpremul_row(const uint8_t *in, uint8_t *out, size_t w)
{
    for (size_t i = 0; i < w; i++, in += 4, out += 4) {
        uint8_t a = in[3];
        if (a == 255) {
            memcpy(out, in, 4);
        } else if (a == 0) {
            memset(out, 0, 4);
        } else {
            uint32_t f = inv_alpha[a];
            for (int c = 0; c < 3; c++) {
                uint32_t v = (in[c] * f + 32768u) >> 16;
                out[c] = (uint8_t)(v > 255 ? 255 : v);
            }
            out[3] = a;
        }
    }
}

/* true when every alpha of the row is 0 or 255 (premultiplied == straight) */
static int row_trivial(const uint8_t *in, size_t w)
{
    unsigned bad = 0;
    for (size_t i = 0; i < w; i++) {
        unsigned a = in[4 * i + 3];
        bad |= (unsigned)((uint8_t)(a + 1) > 1);
    }
    return !bad;
}

typedef struct setting {
    const char *name;
    int level, strategy, filters, memlevel;
    int rows; /* 0: unpremultiply every row; 1: trivial rows passed as they are */
    int deflate; /* > 0: libdeflate at this level, no filter (the zlib fields unused) */
} setting;

/* per libdeflate setting: compressor and buffers, kept across tiles */
typedef struct dstate {
    struct libdeflate_compressor *comp;
    uint8_t *raw, *z;
    size_t raw_cap, z_cap;
} dstate;

static int encode_deflate(const lb_canvas *c, const setting *s, dstate *d, outbuf *o)
{
    size_t w = (size_t)c->width, h = (size_t)c->height, stride = 1 + 4 * w;
    if (!d->comp && !(d->comp = libdeflate_alloc_compressor(s->deflate)))
        return -1;
    size_t n = stride * h, bound = libdeflate_zlib_compress_bound(d->comp, n);
    if (n > d->raw_cap) {
        free(d->raw);
        if (!(d->raw = malloc(n)))
            return -1;
        d->raw_cap = n;
    }
    if (bound > d->z_cap) {
        free(d->z);
        if (!(d->z = malloc(bound)))
            return -1;
        d->z_cap = bound;
    }
    for (size_t y = 0; y < h; y++) {
        const uint8_t *row = c->px + y * w * 4;
        uint8_t *dst = d->raw + y * stride;
        dst[0] = 0;
        if (row_trivial(row, w))
            memcpy(dst + 1, row, 4 * w);
        else
            unpremul_row(row, dst + 1, w);
    }
    size_t zlen = libdeflate_zlib_compress(d->comp, d->raw, n, d->z, bound);
    if (!zlen)
        return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    o->len = 0;
    png_set_write_fn(png, o, write_fn, flush_fn);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGBA,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_chunk(png, (png_const_bytep) "IDAT", d->z, zlen);
    png_write_chunk(png, (png_const_bytep) "IEND", NULL, 0);
    png_destroy_write_struct(&png, &info);
    return 0;
}

static int encode(const lb_canvas *c, const setting *s, uint8_t *rowbuf, outbuf *o)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    o->len = 0;
    png_set_write_fn(png, o, write_fn, flush_fn);
    png_set_compression_level(png, s->level);
    png_set_compression_strategy(png, s->strategy);
    if (s->memlevel)
        png_set_compression_mem_level(png, s->memlevel);
    png_set_filter(png, 0, s->filters);
    png_set_IHDR(png, info, (png_uint_32)c->width, (png_uint_32)c->height, 8,
                 PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t w = (size_t)c->width;
    for (int y = 0; y < c->height; y++) {
        const uint8_t *row = c->px + (size_t)y * w * 4;
        if (s->rows == 1 && row_trivial(row, w)) {
            png_write_row(png, row);
        } else {
            unpremul_row(row, rowbuf, w);
            png_write_row(png, rowbuf);
        }
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

typedef struct tile {
    int z, scale;
    long x, y;
} tile;

int main(int argc, char **argv)
{
    const char *config = NULL, *map_id = NULL, *tiles_path = NULL;
    int repeat = 3, c;
    const char *only = NULL; /* comma-separated setting numbers (0 = first row) */
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"map", required_argument, NULL, 'm'},
        {"tiles", required_argument, NULL, 't'},  {"repeat", required_argument, NULL, 'r'},
        {"only", required_argument, NULL, 'O'},   {NULL, 0, NULL, 0},
    };
    while ((c = getopt_long(argc, argv, "c:m:t:r:O:", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'm': map_id = optarg; break;
        case 't': tiles_path = optarg; break;
        case 'r': repeat = atoi(optarg); break;
        case 'O': only = optarg; break;
        default:
            fputs("usage: pngsweep --config FILE --map ID --tiles FILE [--repeat N] [--only K,K,...]\n", stderr);
            return 2;
        }
    }
    if (!config || !map_id || !tiles_path || repeat < 1) {
        fputs("usage: pngsweep --config FILE --map ID --tiles FILE [--repeat N]\n", stderr);
        return 2;
    }
    for (unsigned a = 1; a < 256; a++)
        inv_alpha[a] = (255u * 65536u + a / 2) / a;

    FILE *f = fopen(tiles_path, "r");
    if (!f) {
        fprintf(stderr, "pngsweep: %s: %s\n", tiles_path, strerror(errno));
        return 1;
    }
    tile *tiles = NULL;
    size_t nt = 0, cap = 0;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        tile t;
        if (line[0] == '#' || sscanf(line, "%d %ld %ld %d", &t.z, &t.x, &t.y, &t.scale) != 4)
            continue;
        if (nt == cap) {
            cap = cap ? 2 * cap : 512;
            tiles = realloc(tiles, cap * sizeof *tiles);
            if (!tiles)
                return 1;
        }
        tiles[nt++] = t;
    }
    fclose(f);

    lb_config *cfg = NULL;
    char *diag = NULL;
    if (lb_config_load(config, &cfg, &diag) != LB_OK) {
        fputs(diag ? diag : "pngsweep: cannot load config\n", stderr);
        return 1;
    }
    const lb_map_cfg *map = lb_config_map(cfg, map_id);
    if (!map) {
        fprintf(stderr, "pngsweep: no map '%s'\n", map_id);
        return 1;
    }
    lb_fusion_init();
    lb_store *st = NULL;
    lb_error err;
    if (lb_store_open(cfg->store_path, &st, &err) != LB_OK) {
        fprintf(stderr, "pngsweep: %s\n", err.msg);
        return 1;
    }
    const lb_tms *grid = lb_tms_find("WebMercatorQuad");
    lb_render_layer *layers = calloc(map->nlayers, sizeof *layers);
    lb_style **styles = calloc(map->nlayers, sizeof *styles);
    for (size_t i = 0; i < map->nlayers; i++) {
        const lb_layer_cfg *lc = lb_config_layer(cfg, map->layers[i]);
        size_t np = 0;
        const char *const *props = NULL;
        if (lc->style) {
            if (lb_style_load(lc->style, &styles[i], &diag) != LB_OK) {
                fputs(diag ? diag : "cannot load style\n", stderr);
                return 1;
            }
            props = lb_style_properties(styles[i], &np);
        }
        if (lb_snapshot_build(st, cfg, lc->id, grid, props, np, &layers[i].snap, &err) != LB_OK) {
            fprintf(stderr, "pngsweep: %s\n", err.msg);
            return 1;
        }
        layers[i].style = styles[i];
    }
    lb_canvas *cv = calloc(nt, sizeof *cv);
    for (size_t i = 0; i < nt; i++) {
        int px = grid->tile_size * tiles[i].scale;
        if (lb_canvas_init(&cv[i], px, px) != LB_OK ||
            lb_render_tile(layers, map->nlayers, grid, tiles[i].z, tiles[i].x, tiles[i].y,
                           tiles[i].scale, &cv[i], &err) != LB_OK) {
            fprintf(stderr, "pngsweep: tile %zu failed\n", i);
            return 1;
        }
    }

    const setting settings[] = {
        {"L2 RLE Up (old default)", 2, Z_RLE, PNG_FILTER_UP, 0, 0, 0},
        {"L2 RLE Up, straight rows", 2, Z_RLE, PNG_FILTER_UP, 0, 1, 0},
        {"L2 RLE None", 2, Z_RLE, PNG_FILTER_NONE, 0, 1, 0},
        {"L1 default None", 1, Z_DEFAULT_STRATEGY, PNG_FILTER_NONE, 0, 1, 0},
        {"L2 default None", 2, Z_DEFAULT_STRATEGY, PNG_FILTER_NONE, 0, 1, 0},
        {"L3 default None", 3, Z_DEFAULT_STRATEGY, PNG_FILTER_NONE, 0, 1, 0},
        {"L2 default None, memlevel 9", 2, Z_DEFAULT_STRATEGY, PNG_FILTER_NONE, 9, 1, 0},
        {"L2 default None, memlevel 7", 2, Z_DEFAULT_STRATEGY, PNG_FILTER_NONE, 7, 1, 0},
        {"L2 default None, memlevel 6", 2, Z_DEFAULT_STRATEGY, PNG_FILTER_NONE, 6, 1, 0},
        {"L2 default None, memlevel 5", 2, Z_DEFAULT_STRATEGY, PNG_FILTER_NONE, 5, 1, 0},
        {"L2 default None, memlevel 4", 2, Z_DEFAULT_STRATEGY, PNG_FILTER_NONE, 4, 1, 0},
        {"L2 default Up", 2, Z_DEFAULT_STRATEGY, PNG_FILTER_UP, 0, 1, 0},
        {"L2 default Sub", 2, Z_DEFAULT_STRATEGY, PNG_FILTER_SUB, 0, 1, 0},
        {"L6 default all filters", 6, Z_DEFAULT_STRATEGY, PNG_ALL_FILTERS, 0, 1, 0},
        {"libdeflate L1 None", 0, 0, 0, 0, 1, 1},
        {"libdeflate L2 None", 0, 0, 0, 0, 1, 2},
        {"libdeflate L4 None", 0, 0, 0, 0, 1, 4},
        {"libdeflate L6 None", 0, 0, 0, 0, 1, 6},
    };
    size_t nset = sizeof settings / sizeof settings[0];
    /* the rows to run: all, or those listed by --only (nset = lb_png_encode) */
    bool *skip = calloc(nset + 1, sizeof *skip);
    if (!skip)
        return 1;
    if (only) {
        for (size_t si = 0; si <= nset; si++)
            skip[si] = true;
        for (const char *p = only; *p;) {
            char *end;
            unsigned long k = strtoul(p, &end, 10);
            if (end == p || k > nset) {
                fprintf(stderr, "pngsweep: --only wants setting numbers 0-%zu\n", nset);
                return 2;
            }
            skip[k] = false;
            p = *end == ',' ? end + 1 : end;
            if (*end && *end != ',') {
                fprintf(stderr, "pngsweep: --only wants setting numbers 0-%zu\n", nset);
                return 2;
            }
        }
    }
    double *t = malloc(nt * sizeof *t), *t1 = malloc(nt * sizeof *t1),
           *t2 = malloc(nt * sizeof *t2);
    uint8_t *rowbuf = malloc(4 * 512);
    outbuf o = {0};
    dstate *ds = calloc(nset, sizeof *ds);
    if (!ds)
        return 1;
    printf("%zu tiles, best of %d per tile; ms\n", nt, repeat);
    printf("%-30s %7s %7s %7s | %7s %7s | %7s %7s | %8s\n", "setting", "median", "p95", "mean",
           "256 med", "256 p95", "512 med", "512 p95", "kB mean");
    /* settings interleaved per tile, so that load changes hit all alike */
    double *best = malloc((nset + 1) * nt * sizeof *best);
    double *bytes = calloc(nset + 1, sizeof *bytes);
    if (!best || !bytes)
        return 1;
    for (size_t k = 0; k < (nset + 1) * nt; k++)
        best[k] = INFINITY;
    for (int r = 0; r < repeat; r++)
        for (size_t i = 0; i < nt; i++)
            for (size_t si = 0; si <= nset; si++) {
                if (skip[si])
                    continue;
                size_t len = 0;
                double a = now_ms();
                if (si < nset && settings[si].deflate) {
                    if (encode_deflate(&cv[i], &settings[si], &ds[si], &o) != 0)
                        return 1;
                    len = o.len;
                } else if (si < nset) {
                    if (encode(&cv[i], &settings[si], rowbuf, &o) != 0)
                        return 1;
                    len = o.len;
                } else {
                    uint8_t *png = NULL;
                    lb_png_opts po = {.level = 2};
                    if (lb_png_encode(&cv[i], &po, &png, &len, &err) != LB_OK)
                        return 1;
                    free(png);
                }
                double d = now_ms() - a;
                if (d < best[si * nt + i])
                    best[si * nt + i] = d;
                if (r == 0)
                    bytes[si] += (double)len;
            }
    for (size_t si = 0; si <= nset; si++) {
        if (skip[si])
            continue;
        size_t n1 = 0, n2 = 0;
        double sum = 0;
        for (size_t i = 0; i < nt; i++) {
            double b = best[si * nt + i];
            t[i] = b;
            sum += b;
            if (tiles[i].scale == 1)
                t1[n1++] = b;
            else
                t2[n2++] = b;
        }
        qsort(t, nt, sizeof *t, cmp_double);
        qsort(t1, n1, sizeof *t1, cmp_double);
        qsort(t2, n2, sizeof *t2, cmp_double);
        printf("%-30s %7.3f %7.3f %7.3f | %7.3f %7.3f | %7.3f %7.3f | %8.1f\n",
               si < nset ? settings[si].name : "lb_png_encode (this build)",
               percentile(t, nt, 50), percentile(t, nt, 95), sum / (double)nt,
               percentile(t1, n1, 50), percentile(t1, n1, 95), percentile(t2, n2, 50),
               percentile(t2, n2, 95), bytes[si] / (double)nt / 1024.0);
    }
    return 0;
}
