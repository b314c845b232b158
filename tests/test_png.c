/*
 * Tests for PNG encoding (tiler/png.c): every image is decoded again with
 * libpng's simplified reader and compared with what the canvas holds,
 * straightened here with exact rational arithmetic (not the encoder's table).
 *
 * Covered: random premultiplied content at zlib levels 0-9 (all decode to
 * the same pixels), rows that are partly alpha 0/255 only (passed to libpng
 * without conversion) beside rows that need unpremultiplying, canvases of one
 * colour (cached: repeated, other sizes, other colours, palette or not),
 * empty canvases and lb_png_empty, exact palette output and its fallback to
 * RGBA beyond 256 colours, already-straight input, and several threads
 * encoding at once (the encoders share a cache of freed blocks and a pool of
 * libdeflate compressors).  Levels 0-3 compress with libdeflate into one
 * IDAT chunk: test_libdeflate_exact_pixels checks that path pixel for pixel
 * against the encoder's documented straightening and against the libpng +
 * zlib path (level 9).
 */
#include <png.h>
#include <pthread.h>
#include <stdint.h>

#include "lbtest.h"
#include "lagebild/tiler.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static lb_canvas mk(int w, int h)
{
    lb_canvas c;
    ASSERT_EQ(lb_canvas_init(&c, w, h), LB_OK);
    return c;
}

/* a random premultiplied pixel (channels <= alpha) */
static void rnd_px(uint8_t *p, unsigned a)
{
    for (int k = 0; k < 3; k++)
        p[k] = (uint8_t)(a ? rnd() % (a + 1) : 0);
    p[3] = (uint8_t)a;
}

/* the straight value of premultiplied channel v at alpha a, exactly rounded */
static unsigned straight(unsigned v, unsigned a)
{
    if (a == 0)
        return 0;
    unsigned s = (v * 255u * 2u + a) / (2u * a);
    return s > 255 ? 255 : s;
}

typedef struct decoded {
    int w, h;
    int color_type; /* from IHDR */
    uint8_t *px;    /* RGBA */
} decoded;

static decoded decode(const uint8_t *png, size_t len)
{
    decoded d = {0};
    ASSERT(len > 33);
    ASSERT(memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
    ASSERT(memcmp(png + 12, "IHDR", 4) == 0);
    d.color_type = png[25];
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    ASSERT(png_image_begin_read_from_memory(&im, png, len));
    im.format = PNG_FORMAT_RGBA;
    d.w = (int)im.width;
    d.h = (int)im.height;
    d.px = malloc(PNG_IMAGE_SIZE(im));
    ASSERT(d.px);
    if (!png_image_finish_read(&im, NULL, d.px, 0, NULL)) {
        png_image_free(&im);
        free(d.px);
        LBT__FAIL("libpng cannot read the image: %s", im.message);
    }
    return d;
}

/* Encode c with opts, decode, and check every pixel against the canvas
 * straightened exactly (tolerance tol per colour channel; alpha exact). */
static decoded check_roundtrip(const lb_canvas *c, const lb_png_opts *o, unsigned tol)
{
    uint8_t *png = NULL;
    size_t len = 0;
    lb_error err;
    ASSERT_EQ(lb_png_encode(c, o, &png, &len, &err), LB_OK);
    decoded d = decode(png, len);
    free(png);
    ASSERT_EQ(d.w, c->width);
    ASSERT_EQ(d.h, c->height);
    for (size_t i = 0; i < (size_t)c->width * (size_t)c->height; i++) {
        const uint8_t *s = c->px + 4 * i, *g = d.px + 4 * i;
        unsigned a = s[3];
        if (g[3] != a)
            LBT__FAIL("pixel %zu: alpha %u, decoded %u", i, a, g[3]);
        for (int k = 0; k < 3; k++) {
            unsigned want = o && o->straight ? s[k] : straight(s[k], a);
            unsigned diff = want > g[k] ? want - g[k] : g[k] - want;
            /* alpha 0 and 255 must be exact */
            unsigned t = (a == 0 || a == 255) ? 0 : tol;
            if (diff > t)
                LBT__FAIL("pixel %zu channel %d: premultiplied %u at alpha %u, want %u, got %u",
                          i, k, s[k], a, want, g[k]);
        }
    }
    return d;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

LB_TEST(test_random_content_every_level)
{
    lb_canvas c = mk(200, 150);
    for (size_t i = 0; i < 200 * 150; i++)
        rnd_px(c.px + 4 * i, rnd() % 256);
    uint8_t *first = NULL;
    for (int level = 0; level <= 9; level++) {
        lb_png_opts o = {.level = level};
        decoded d = check_roundtrip(&c, &o, 1);
        if (!first)
            first = d.px;
        else {
            /* the same pixels whatever the level and filter */
            ASSERT(memcmp(first, d.px, 200 * 150 * 4) == 0);
            free(d.px);
        }
        ASSERT_EQ(d.color_type, 6); /* RGBA */
    }
    free(first);
    lb_canvas_free(&c);
}

LB_TEST(test_rows_straight_and_not)
{
    /* rows alternate between alpha in {0, 255} only (sent as they are) and
     * rows with one translucent pixel (unpremultiplied), at several widths */
    int widths[] = {1, 7, 256, 512};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        int w = widths[wi], h = 64;
        lb_canvas c = mk(w, h);
        for (int y = 0; y < h; y++) {
            uint8_t *row = c.px + (size_t)y * (size_t)w * 4;
            for (int x = 0; x < w; x++)
                rnd_px(row + 4 * x, rnd() % 2 ? 255 : 0);
            if (y % 3 == 1)
                rnd_px(row + 4 * (size_t)(rnd() % (unsigned)w), 1 + rnd() % 254);
        }
        lb_png_opts o = {.level = 2};
        decoded d = check_roundtrip(&c, &o, 1);
        free(d.px);
        lb_canvas_free(&c);
    }
}

LB_TEST(test_straight_input_is_kept)
{
    lb_canvas c = mk(64, 64);
    for (size_t i = 0; i < 64 * 64; i++) {
        uint8_t *p = c.px + 4 * i;
        p[0] = (uint8_t)rnd();
        p[1] = (uint8_t)rnd();
        p[2] = (uint8_t)rnd();
        p[3] = (uint8_t)(1 + rnd() % 255); /* straight: channels may exceed alpha */
    }
    lb_png_opts o = {.level = 1, .straight = true};
    decoded d = check_roundtrip(&c, &o, 0);
    free(d.px);
    lb_canvas_free(&c);
}

static void fill(lb_canvas *c, const uint8_t px[4])
{
    for (size_t i = 0; i < (size_t)c->width * (size_t)c->height; i++)
        memcpy(c->px + 4 * i, px, 4);
}

LB_TEST(test_single_colour_canvases)
{
    const uint8_t colours[][4] = {
        {31, 120, 180, 255}, /* opaque */
        {10, 40, 60, 128},   /* translucent, premultiplied */
        {0, 0, 0, 0},        /* empty */
        {255, 255, 255, 255},
    };
    const int sizes[] = {256, 512, 256, 100};
    for (int round = 0; round < 3; round++) /* the second and third come from the cache */
        for (size_t ci = 0; ci < sizeof colours / sizeof colours[0]; ci++)
            for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
                for (int pal = 0; pal < 2; pal++) {
                    lb_canvas c = mk(sizes[si], sizes[si] / (si == 3 ? 2 : 1));
                    fill(&c, colours[ci]);
                    lb_png_opts o = {.level = 2, .palette = pal};
                    decoded d = check_roundtrip(&c, &o, 1);
                    ASSERT_EQ(d.color_type, pal ? 3 : 6);
                    free(d.px);
                    lb_canvas_free(&c);
                }
    /* a canvas that differs from a cached one-colour canvas in its very
     * last pixel is not taken for it */
    lb_canvas c = mk(256, 256);
    fill(&c, colours[0]);
    uint8_t last[4] = {0, 0, 0, 0};
    memcpy(c.px + 4 * (256 * 256 - 1), last, 4);
    lb_png_opts o = {.level = 2};
    decoded d = check_roundtrip(&c, &o, 0);
    free(d.px);
    lb_canvas_free(&c);
}

/* The chunk types of a PNG in order ("IHDR IDAT IEND" ...), lengths checked */
static void chunk_list(const uint8_t *png, size_t len, char *out, size_t cap)
{
    size_t pos = 8, o = 0;
    out[0] = 0;
    while (pos + 12 <= len) {
        size_t n = (size_t)png[pos] << 24 | (size_t)png[pos + 1] << 16 |
                   (size_t)png[pos + 2] << 8 | png[pos + 3];
        ASSERT(pos + 12 + n <= len);
        ASSERT(o + 6 < cap);
        memcpy(out + o, png + pos + 4, 4);
        out[o + 4] = ' ';
        o += 5;
        out[o] = 0;
        pos += 12 + n;
    }
    ASSERT_EQ(pos, len); /* nothing after the last chunk */
}

/* the straight pixel the encoder promises (tiler/png.c): channels times
 * round(255 * 65536 / a), rounded, shifted by 16, at most 255 */
static void encoder_straight(const uint8_t *s, uint8_t *out)
{
    unsigned a = s[3];
    for (int k = 0; k < 3; k++) {
        if (a == 0) {
            out[k] = 0;
        } else {
            uint32_t f = (255u * 65536u + a / 2) / a;
            uint32_t v = (s[k] * f + 32768u) >> 16;
            out[k] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
    out[3] = (uint8_t)a;
}

static void make_tile(lb_canvas *c, int kind)
{
    size_t w = (size_t)c->width, n = w * (size_t)c->height;
    const uint8_t flat[4] = {10, 40, 60, 128};
    switch (kind) {
    case 0: /* empty */
        break;
    case 1: /* one translucent colour */
        fill(c, flat);
        break;
    case 2: /* sparse: an opaque band, a translucent box, a few lone pixels */
        for (size_t y = w / 3; y < w / 3 + 5; y++)
            for (size_t x = 0; x < w; x++)
                memcpy(c->px + 4 * (y * w + x), (const uint8_t[4]){200, 30, 30, 255}, 4);
        for (size_t y = w / 2; y < w / 2 + 20; y++)
            for (size_t x = w / 4; x < w / 4 + 30; x++)
                memcpy(c->px + 4 * (y * w + x), flat, 4);
        for (int k = 0; k < 40; k++)
            rnd_px(c->px + 4 * (rnd() % n), 1 + rnd() % 255);
        break;
    default: /* dense: random premultiplied pixels, every alpha */
        for (size_t i = 0; i < n; i++)
            rnd_px(c->px + 4 * i, rnd() % 4 ? rnd() % 256 : 255);
        break;
    }
}

LB_TEST(test_libdeflate_exact_pixels)
{
    const char *kinds[] = {"empty", "single colour", "sparse", "dense"};
    for (int size = 256; size <= 512; size *= 2)
        for (int kind = 0; kind < 4; kind++) {
            lb_canvas c = mk(size, size);
            make_tile(&c, kind);
            size_t n = (size_t)size * (size_t)size;
            uint8_t *want = malloc(4 * n);
            ASSERT(want);
            for (size_t i = 0; i < n; i++)
                encoder_straight(c.px + 4 * i, want + 4 * i);
            /* the libpng + zlib path (level 9, adaptive filters) */
            uint8_t *png = NULL;
            size_t len = 0;
            lb_png_opts z9 = {.level = 9};
            ASSERT_EQ(lb_png_encode(&c, &z9, &png, &len, NULL), LB_OK);
            decoded ref = decode(png, len);
            free(png);
            if (memcmp(ref.px, want, 4 * n) != 0)
                LBT__FAIL("%s %d px: zlib path differs from the straightened canvas",
                          kinds[kind], size);
            for (int level = 0; level <= 3; level++)
                for (int pal = 0; pal < 2; pal++) {
                    lb_png_opts o = {.level = level, .palette = pal};
                    ASSERT_EQ(lb_png_encode(&c, &o, &png, &len, NULL), LB_OK);
                    char chunks[256];
                    chunk_list(png, len, chunks, sizeof chunks);
                    /* libdeflate writes the whole image as one IDAT chunk */
                    bool is_pal = pal && kind != 3;
                    /* every palette here holds a colour with alpha < 255 */
                    const char *expect = is_pal ? "IHDR PLTE tRNS IDAT IEND " : "IHDR IDAT IEND ";
                    if (strcmp(chunks, expect) != 0)
                        LBT__FAIL("%s %d px level %d palette %d: chunks %s", kinds[kind], size,
                                  level, pal, chunks);
                    decoded d = decode(png, len);
                    free(png);
                    ASSERT_EQ(d.w, size);
                    ASSERT_EQ(d.h, size);
                    ASSERT_EQ(d.color_type, is_pal ? 3 : 6);
                    for (size_t i = 0; i < n; i++)
                        if (memcmp(d.px + 4 * i, want + 4 * i, 4) != 0)
                            LBT__FAIL("%s %d px level %d palette %d: pixel %zu is %u,%u,%u,%u, "
                                      "want %u,%u,%u,%u",
                                      kinds[kind], size, level, pal, i, d.px[4 * i],
                                      d.px[4 * i + 1], d.px[4 * i + 2], d.px[4 * i + 3],
                                      want[4 * i], want[4 * i + 1], want[4 * i + 2],
                                      want[4 * i + 3]);
                    free(d.px);
                }
            free(ref.px);
            free(want);
            lb_canvas_free(&c);
        }
}

LB_TEST(test_empty_tile)
{
    size_t len = 0;
    const uint8_t *e = lb_png_empty(256, 256, &len);
    ASSERT(e);
    decoded d = decode(e, len);
    ASSERT_EQ(d.w, 256);
    ASSERT_EQ(d.h, 256);
    for (size_t i = 0; i < 256 * 256 * 4; i++)
        ASSERT_EQ(d.px[i], 0);
    free(d.px);
    size_t len2 = 0;
    ASSERT(lb_png_empty(256, 256, &len2) == e); /* canonical: the same bytes */
    ASSERT_EQ(len2, len);
    const uint8_t *e2 = lb_png_empty(512, 512, &len2);
    ASSERT(e2 && e2 != e);
    d = decode(e2, len2);
    ASSERT_EQ(d.w, 512);
    free(d.px);
}

LB_TEST(test_palette_exact_and_fallback)
{
    /* 200 distinct colours (translucent included): exact palette */
    lb_canvas c = mk(128, 128);
    uint8_t cols[200][4];
    for (int k = 0; k < 200; k++) {
        rnd_px(cols[k], k < 100 ? 255 : 1 + rnd() % 254);
        cols[k][0] = (uint8_t)(k % 2 ? cols[k][0] : 0); /* some duplicates are fine */
    }
    for (size_t i = 0; i < 128 * 128; i++)
        memcpy(c.px + 4 * i, cols[(i / 7) % 200], 4);
    lb_png_opts o = {.level = 2, .palette = true};
    decoded d = check_roundtrip(&c, &o, 1);
    ASSERT_EQ(d.color_type, 3);
    free(d.px);
    /* more than 256 colours: RGBA instead, still exact */
    for (size_t i = 0; i < 128 * 128; i++)
        rnd_px(c.px + 4 * i, 255);
    d = check_roundtrip(&c, &o, 1);
    ASSERT_EQ(d.color_type, 6);
    free(d.px);
    lb_canvas_free(&c);
}

typedef struct job {
    int seed, fails;
} job;

static void *encode_many(void *arg)
{
    job *j = arg;
    uint64_t s = 0x1234567ull * (uint64_t)(j->seed + 1);
    for (int it = 0; it < 12; it++) {
        int w = it % 2 ? 512 : 256;
        lb_canvas c;
        if (lb_canvas_init(&c, w, w) != LB_OK) {
            j->fails++;
            continue;
        }
        /* a band of opaque colour unique to this thread and iteration */
        uint8_t px[4] = {(uint8_t)j->seed, (uint8_t)it, (uint8_t)(s >> 8), 255};
        for (int y = w / 4; y < w / 2; y++)
            for (int x = 0; x < w; x++)
                memcpy(c.px + 4 * ((size_t)y * (size_t)w + (size_t)x), px, 4);
        uint8_t *png = NULL;
        size_t len = 0;
        lb_png_opts o = {.level = 2};
        if (lb_png_encode(&c, &o, &png, &len, NULL) != LB_OK) {
            j->fails++;
        } else {
            png_image im;
            memset(&im, 0, sizeof im);
            im.version = PNG_IMAGE_VERSION;
            uint8_t *out = NULL;
            if (png_image_begin_read_from_memory(&im, png, len)) {
                im.format = PNG_FORMAT_RGBA;
                out = malloc(PNG_IMAGE_SIZE(im));
                if (!out || !png_image_finish_read(&im, NULL, out, 0, NULL) ||
                    memcmp(out, c.px, (size_t)w * (size_t)w * 4) != 0)
                    j->fails++;
                if (!out)
                    png_image_free(&im);
            } else {
                j->fails++;
            }
            free(out);
        }
        free(png);
        lb_canvas_free(&c);
    }
    return NULL;
}

LB_TEST(test_threads_encode_at_once)
{
    pthread_t t[6];
    job jobs[6];
    for (int i = 0; i < 6; i++) {
        jobs[i] = (job){.seed = i};
        ASSERT_EQ(pthread_create(&t[i], NULL, encode_many, &jobs[i]), 0);
    }
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(jobs[i].fails, 0);
}

LB_TEST(test_every_narrow_width)
{
    /* widths 1-40 (odd ones end the row in the middle of the 4- and
     * 2-pixel steps of the straightening loops), translucent pixels starting
     * at every offset, rows repeated and not; levels 1-3, RGBA and palette;
     * run under ASan, an access past a row's end fails here.  First in the
     * list: the encoders keep their row buffers between images, and only
     * buffers sized for these narrow rows let ASan see such an access. */
    for (int w = 1; w <= 40; w++)
        for (int first = 0; first < 5 && first < w; first++) {
            lb_canvas c = mk(w, 6);
            for (int y = 0; y < 6; y++)
                for (int x = first; x < w; x++)
                    rnd_px(c.px + 4 * ((size_t)y * (size_t)w + (size_t)x), rnd() % 256);
            memcpy(c.px + (size_t)w * 4 * 3, c.px + (size_t)w * 4 * 2, (size_t)w * 4);
            for (int level = 1; level <= 3; level++)
                for (int pal = 0; pal < 2; pal++) {
                    lb_png_opts o = {.level = level, .palette = pal};
                    decoded d = check_roundtrip(&c, &o, 1);
                    free(d.px);
                }
            lb_canvas_free(&c);
        }
}

LB_TEST(test_wider_than_own_encoder)
{
    /* 9000 RGBA pixels per row exceed the own encoder's 32 KiB window
     * (8191 pixels): level 2 falls back to libdeflate, and the PNG is still
     * exact; the next narrow image uses the own encoder again */
    lb_canvas c = mk(9000, 3);
    for (size_t i = 0; i < 9000 * 3; i++)
        rnd_px(c.px + 4 * i, i % 7 ? 255 : rnd() % 256);
    lb_png_opts o = {.level = 2};
    decoded d = check_roundtrip(&c, &o, 1);
    free(d.px);
    lb_canvas_free(&c);
    lb_canvas n = mk(64, 64);
    for (size_t i = 0; i < 64 * 64; i++)
        rnd_px(n.px + 4 * i, rnd() % 256);
    d = check_roundtrip(&n, &o, 1);
    free(d.px);
    lb_canvas_free(&n);
}

/* opts.headroom: that many bytes before the PNG, which is the same bytes
 * as without it, at every level, RGBA and palette, and for one-colour
 * canvases (cached) */
LB_TEST(test_headroom)
{
    lb_canvas c = mk(120, 90);
    for (size_t i = 0; i < 120 * 90; i++)
        rnd_px(c.px + 4 * i, i % 7 ? 0 : rnd() % 256);
    lb_canvas solid = mk(64, 64);
    fill(&solid, (const uint8_t[4]){31, 120, 180, 255});
    const size_t rooms[] = {1, 640, 4097};
    for (int which = 0; which < 2; which++)
        for (int level = 0; level <= 9; level += 3)
            for (int pal = 0; pal < 2; pal++)
                for (size_t k = 0; k < sizeof rooms / sizeof rooms[0]; k++) {
                    const lb_canvas *cv = which ? &solid : &c;
                    lb_png_opts o = {.level = level, .palette = pal};
                    uint8_t *plain = NULL, *roomy = NULL;
                    size_t plen = 0, rlen = 0;
                    ASSERT_EQ(lb_png_encode(cv, &o, &plain, &plen, NULL), LB_OK);
                    o.headroom = rooms[k];
                    ASSERT_EQ(lb_png_encode(cv, &o, &roomy, &rlen, NULL), LB_OK);
                    ASSERT_EQ(rlen, plen);
                    ASSERT(memcmp(roomy + rooms[k], plain, plen) == 0);
                    free(plain);
                    free(roomy);
                }
    lb_png_opts big = {.level = 2, .headroom = ((size_t)1 << 20) + 1};
    uint8_t *png = NULL;
    size_t len = 0;
    ASSERT_EQ(lb_png_encode(&c, &big, &png, &len, NULL), LB_EINVAL);
    ASSERT(png == NULL);
    lb_canvas_free(&c);
    lb_canvas_free(&solid);
}

LB_TEST(test_bad_input)
{
    lb_canvas c = {0};
    uint8_t *png = NULL;
    size_t len = 0;
    lb_error err;
    ASSERT_EQ(lb_png_encode(&c, NULL, &png, &len, &err), LB_EINVAL);
    ASSERT(png == NULL);
}

LB_TESTS(test_every_narrow_width, test_random_content_every_level, test_rows_straight_and_not, test_straight_input_is_kept,
         test_single_colour_canvases, test_libdeflate_exact_pixels, test_empty_tile, test_palette_exact_and_fallback,
         test_threads_encode_at_once, test_wider_than_own_encoder, test_headroom, test_bad_input)
