/*
 * This file implements PNG encoding with libpng: straight-alpha RGBA by
 * default, or an exact 8-bit palette (with tRNS) when the image has at most
 * 256 distinct colours and the caller asks for it; and canonical empty tiles.
 *
 * Defaults are tuned for on-request rendering: zlib level 2 with the "Up"
 * row filter and the Z_RLE strategy.  Map tiles are mostly transparent or
 * flat fills; after the Up filter a fill row becomes zeros, which run-length
 * matching compresses to almost nothing (a full 512 px fill: ~3 kB in
 * ~1.6 ms, against ~300 kB without the filter), at a fraction of the time of
 * level 6 with adaptive filters (bench/ measures it).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <zlib.h>

#include "lagebild/tiler.h"
#include "lagebild/util.h"

typedef struct mem_out {
    lb_buf buf;
} mem_out;

static void write_fn(png_structp png, png_bytep data, png_size_t len)
{
    mem_out *m = png_get_io_ptr(png);
    lb_buf_append(&m->buf, data, len);
}

static void flush_fn(png_structp png) { (void)png; }

/* Palette of at most 256 straight colours; false when there are more. */
typedef struct palette {
    uint32_t colors[256];
    int n;
    uint32_t keys[1024];
    uint8_t vals[1024];
    uint8_t used[1024];
} palette;

static int pal_index(palette *p, uint32_t c)
{
    uint32_t h = (c * 2654435761u) >> 22; /* 10 bits */
    for (;;) {
        if (!p->used[h]) {
            if (p->n == 256)
                return -1;
            p->used[h] = 1;
            p->keys[h] = c;
            p->vals[h] = (uint8_t)p->n;
            p->colors[p->n] = c;
            return p->n++;
        }
        if (p->keys[h] == c)
            return p->vals[h];
        h = (h + 1) & 1023;
    }
}

/* 65536 * 255 / a, rounded: unpremultiplying is a multiply and a shift. */
static uint32_t inv_alpha[256];
static pthread_once_t inv_once = PTHREAD_ONCE_INIT;

static void init_inv(void)
{
    for (unsigned a = 1; a < 256; a++)
        inv_alpha[a] = (255u * 65536u + a / 2) / a;
}

/* Straight RGBA of one row of premultiplied pixels. */
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

void lb_png_unpremultiply(lb_canvas *c, int y0, int y1)
{
    pthread_once(&inv_once, init_inv);
    size_t w = (size_t)c->width;
    for (int y = y0; y < y1 && y < c->height; y++) {
        uint8_t *row = c->px + (size_t)y * w * 4;
        unpremul_row(row, row, w);
    }
}

/* Write the image rows (called inside write_png's setjmp scope). */
static void write_rows(png_structp png, const lb_canvas *c, const uint8_t *idx, uint8_t *rowbuf,
                       bool straight)
{
    size_t w = (size_t)c->width;
    for (int y = 0; y < c->height; y++) {
        if (idx) {
            png_write_row(png, (png_const_bytep)(idx + (size_t)y * w));
        } else if (straight) {
            png_write_row(png, (png_const_bytep)(c->px + (size_t)y * w * 4));
        } else {
            unpremul_row(c->px + (size_t)y * w * 4, rowbuf, w);
            png_write_row(png, rowbuf);
        }
    }
}

/*
 * The libpng part, kept apart so that nothing it modifies lives across the
 * setjmp (libpng reports errors by longjmp).  pal == NULL: RGBA rows are
 * unpremultiplied one at a time into rowbuf (no full-size copy).
 */
static bool write_png(const lb_canvas *c, int level, const palette *pal, const uint8_t *idx,
                      uint8_t *rowbuf, bool straight, mem_out *m)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return false;
    }
    png_set_write_fn(png, m, write_fn, flush_fn);
    png_set_compression_level(png, level);
    png_set_compression_strategy(png, level <= 3 ? Z_RLE : Z_DEFAULT_STRATEGY);
    png_set_filter(png, 0, level <= 3 ? PNG_FILTER_UP : PNG_ALL_FILTERS);
    png_uint_32 w = (png_uint_32)c->width, h = (png_uint_32)c->height;
    if (pal) {
        png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_color plte[256];
        png_byte trns[256];
        int ntrns = 0;
        for (int i = 0; i < pal->n; i++) {
            const uint8_t *b = (const uint8_t *)&pal->colors[i];
            plte[i].red = b[0];
            plte[i].green = b[1];
            plte[i].blue = b[2];
            trns[i] = b[3];
            if (b[3] != 255)
                ntrns = i + 1;
        }
        png_set_PLTE(png, info, plte, pal->n);
        if (ntrns)
            png_set_tRNS(png, info, trns, ntrns, NULL);
    } else {
        png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    }
    png_write_info(png, info);
    write_rows(png, c, pal ? idx : NULL, rowbuf, straight);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return true;
}

lb_status lb_png_encode(const lb_canvas *c, const lb_png_opts *opts, uint8_t **out,
                        size_t *len, lb_error *err)
{
    pthread_once(&inv_once, init_inv);
    int level = opts ? opts->level : 2;
    bool want_palette = opts && opts->palette;
    size_t w = (size_t)c->width, h = (size_t)c->height;
    uint8_t *rowbuf = malloc(w * 4);
    uint8_t *idx = NULL;
    palette *pal = NULL;
    mem_out m = {0};
    lb_status rc = LB_OK;
    if (!rowbuf) {
        rc = lb_fail(err, LB_ENOMEM, "out of memory encoding PNG");
        goto done;
    }
    if (want_palette) {
        pal = calloc(1, sizeof *pal);
        idx = malloc(w * h);
        if (!pal || !idx) {
            rc = lb_fail(err, LB_ENOMEM, "out of memory encoding PNG");
            goto done;
        }
        for (size_t y = 0; y < h && want_palette; y++) {
            if (opts->straight)
                memcpy(rowbuf, c->px + y * w * 4, w * 4);
            else
                unpremul_row(c->px + y * w * 4, rowbuf, w);
            for (size_t x = 0; x < w; x++) {
                uint32_t col;
                memcpy(&col, rowbuf + 4 * x, 4);
                int k = pal_index(pal, col);
                if (k < 0) {
                    want_palette = false; /* too many colours: fall back to RGBA */
                    break;
                }
                idx[y * w + x] = (uint8_t)k;
            }
        }
    }
    /* reserve a typical compressed size up front: no repeated regrowth */
    lb_buf_append(&m.buf, "", 0);
    if (w * h / 8 > 64) {
        char *p = realloc(m.buf.data, w * h / 8);
        if (p) {
            m.buf.data = p;
            m.buf.cap = w * h / 8;
        }
    }
    bool straight = opts && opts->straight;
    if (!write_png(c, level, want_palette ? pal : NULL, idx, rowbuf, straight, &m)) {
        rc = lb_fail(err, LB_EINTERNAL, "libpng failed to encode the image");
        goto done;
    }
    if (m.buf.oom) {
        rc = lb_fail(err, LB_ENOMEM, "out of memory encoding PNG");
        goto done;
    }
    *len = m.buf.len;
    *out = (uint8_t *)lb_buf_take(&m.buf);
done:
    lb_buf_free(&m.buf);
    free(rowbuf);
    free(idx);
    free(pal);
    return rc;
}

/* ---- canonical empty tiles -------------------------------------------- */

static pthread_mutex_t empty_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int w, h;
    uint8_t *png;
    size_t len;
} empties[4];

const uint8_t *lb_png_empty(int w, int h, size_t *len)
{
    pthread_mutex_lock(&empty_lock);
    const uint8_t *res = NULL;
    for (int i = 0; i < 4; i++) {
        if (empties[i].png && empties[i].w == w && empties[i].h == h) {
            res = empties[i].png;
            *len = empties[i].len;
            break;
        }
        if (!empties[i].png) {
            lb_canvas c;
            if (lb_canvas_init(&c, w, h) == LB_OK) {
                lb_png_opts o = {.level = 9, .palette = true};
                if (lb_png_encode(&c, &o, &empties[i].png, &empties[i].len, NULL) == LB_OK) {
                    empties[i].w = w;
                    empties[i].h = h;
                    res = empties[i].png;
                    *len = empties[i].len;
                }
                lb_canvas_free(&c);
            }
            break;
        }
    }
    pthread_mutex_unlock(&empty_lock);
    return res;
}
