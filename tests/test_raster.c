/*
 * Tests for the rasterizer (tiler/raster*.c, lagebild/raster.h).
 *
 * Expected values are computed here from geometry, not taken from the
 * implementation: exact pixel coverage of axis-aligned rectangles, shoelace
 * areas of random polygons against the sum of alpha / 255 over the canvas
 * (the fill is exact, so only 8-bit rounding remains), closed-form areas of
 * stroked lines, caps, joins and markers, the exact per-row area of a circle,
 * and premultiplied "over" worked out by hand.  Seamlessness is checked by
 * rendering the same shapes into one canvas and into two neighbouring
 * canvases with offset coordinates and comparing bytes.
 */
#include <stdint.h>

#include "lbtest.h"
#include "lagebild/raster.h"
#include "../tiler/raster_int.h" /* white box: test_scratch_stays_clean */

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static const lb_rgba RED = {255, 0, 0, 255};
static const lb_rgba HALF = {0, 0, 128, 128}; /* blue at alpha 128 */

static lb_canvas mk(int w, int h)
{
    lb_canvas c;
    ASSERT_EQ(lb_canvas_init(&c, w, h), LB_OK);
    return c;
}

static unsigned A(const lb_canvas *c, int x, int y)
{
    return c->px[4 * ((size_t)y * (size_t)c->width + (size_t)x) + 3];
}

static const uint8_t *P(const lb_canvas *c, int x, int y)
{
    return c->px + 4 * ((size_t)y * (size_t)c->width + (size_t)x);
}

/* sum of alpha / 255 over the canvas: the covered area for an opaque colour */
static double area_of(const lb_canvas *c)
{
    double s = 0;
    for (size_t i = 0; i < (size_t)c->width * (size_t)c->height; i++)
        s += c->px[4 * i + 3];
    return s / 255.0;
}

static unsigned max_alpha(const lb_canvas *c)
{
    unsigned m = 0;
    for (size_t i = 0; i < (size_t)c->width * (size_t)c->height; i++)
        if (c->px[4 * i + 3] > m)
            m = c->px[4 * i + 3];
    return m;
}

static void fill1(lb_canvas *c, const double *xy, size_t n, lb_rgba col)
{
    lb_ring r = {xy, n};
    lb_raster_fill(c, &r, 1, col);
}

static void rect(lb_canvas *c, double x0, double y0, double x1, double y1, lb_rgba col)
{
    double xy[] = {x0, y0, x1, y0, x1, y1, x0, y1};
    fill1(c, xy, 4, col);
}

static double shoelace(const double *xy, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = (i + 1) % n;
        s += xy[2 * i] * xy[2 * j + 1] - xy[2 * j] * xy[2 * i + 1];
    }
    return 0.5 * s;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double rnd(void) /* [0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double rnd_in(double a, double b)
{
    return a + (b - a) * rnd();
}

/* A random colour with alpha in [amin, 1] (draws in a fixed order). */
static lb_rgba rnd_color(double amin)
{
    double r = rnd(), g = rnd(), b = rnd(), a = rnd_in(amin, 1);
    return lb_rgba_from(r, g, b, a);
}

/* A random simple (star-shaped) polygon around (cx, cy); returns n. */
static size_t star(double *xy, size_t kmax, double cx, double cy, double rmin, double rmax)
{
    size_t k = 3 + (size_t)(rnd() * (double)(kmax - 2));
    if (k > kmax)
        k = kmax;
    bool rev = rnd() < 0.5;
    for (size_t i = 0; i < k; i++) {
        double t = 2 * M_PI * ((double)i + 0.8 * rnd()) / (double)k;
        double r = rnd_in(rmin, rmax);
        size_t o = rev ? k - 1 - i : i;
        xy[2 * o] = cx + r * cos(t);
        xy[2 * o + 1] = cy + r * sin(t);
    }
    return k;
}

static lb_stroke stroke_w(double w, lb_join j, lb_cap c)
{
    lb_stroke st = {.width = w, .join = j, .cap = c, .miter_limit = 2};
    return st;
}

static void line(lb_canvas *c, const double *xy, size_t n, bool closed, const lb_stroke *st,
                 lb_rgba col)
{
    lb_ring r = {xy, n};
    lb_raster_stroke(c, &r, closed, st, col);
}

/* Exact area of the disc of radius r (centre 0) between y = a and y = b. */
static double disc_band(double r, double a, double b)
{
    a = fmax(-r, fmin(r, a));
    b = fmax(-r, fmin(r, b));
#define F(y) ((y) * sqrt(fmax(0, r * r - (y) * (y))) + r * r * asin((y) / r))
    return F(b) - F(a);
#undef F
}

/* ------------------------------------------------------------------------ */
/* Colours and canvases                                                     */
/* ------------------------------------------------------------------------ */

LB_TEST(test_rgba)
{
    lb_rgba c = lb_rgba_from(1, 0, 0, 0.5);
    ASSERT_EQ(c.r, 128);
    ASSERT_EQ(c.g, 0);
    ASSERT_EQ(c.b, 0);
    ASSERT_EQ(c.a, 128);
    c = lb_rgba_from(2, -1, NAN, 1);
    ASSERT_EQ(c.r, 255);
    ASSERT_EQ(c.g, 0);
    ASSERT_EQ(c.b, 0);
    ASSERT_EQ(c.a, 255);
    c = lb_rgba_from(0.2, 0.4, 0.6, 0.8); /* 0.2 * 0.8 * 255 = 40.8 ... */
    ASSERT_EQ(c.r, 41);
    ASSERT_EQ(c.g, 82);
    ASSERT_EQ(c.b, 122);
    ASSERT_EQ(c.a, 204);
    c = lb_rgba_from(1, 1, 1, 0);
    ASSERT_EQ(c.r | c.g | c.b | c.a, 0);

    c = lb_rgba_scale((lb_rgba){200, 100, 50, 200}, 0.5);
    ASSERT_EQ(c.r, 100);
    ASSERT_EQ(c.g, 50);
    ASSERT_EQ(c.b, 25);
    ASSERT_EQ(c.a, 100);
    c = lb_rgba_scale((lb_rgba){200, 100, 50, 200}, 0);
    ASSERT_EQ(c.r | c.g | c.b | c.a, 0);
    c = lb_rgba_scale((lb_rgba){200, 100, 50, 200}, NAN);
    ASSERT_EQ(c.a, 0);
    /* scaling up stops at opaque and keeps channels <= alpha */
    c = lb_rgba_scale((lb_rgba){100, 40, 0, 100}, 10);
    ASSERT_EQ(c.a, 255);
    ASSERT_EQ(c.r, 255);
    ASSERT_EQ(c.g, 102);
}

LB_TEST(test_canvas_basics)
{
    lb_canvas c;
    ASSERT_EQ(lb_canvas_init(&c, 0, 10), LB_EINVAL);
    ASSERT_EQ(lb_canvas_init(&c, 10, -1), LB_EINVAL);
    ASSERT_EQ(lb_canvas_init(&c, 16385, 1), LB_EINVAL);
    ASSERT(c.px == NULL);
    lb_canvas_free(&c); /* freeing a failed canvas is harmless */

    c = mk(7, 3); /* 21 pixels: exercises the word loop and the tail */
    ASSERT(lb_canvas_is_empty(&c));
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 7; x++) {
            c.px[4 * (y * 7 + x) + 3] = 1;
            ASSERT(!lb_canvas_is_empty(&c));
            c.px[4 * (y * 7 + x) + 3] = 0;
            ASSERT(lb_canvas_is_empty(&c));
        }
    rect(&c, 1, 1, 3, 2, RED);
    ASSERT(!lb_canvas_is_empty(&c));
    lb_canvas_clear(&c);
    ASSERT(lb_canvas_is_empty(&c));
    lb_canvas_free(&c);
    ASSERT(c.px == NULL && c.work == NULL);

    c = mk(256, 256);
    ASSERT(lb_canvas_is_empty(&c));
    c.px[4 * (256 * 256 - 1) + 3] = 9; /* the very last pixel */
    ASSERT(!lb_canvas_is_empty(&c));
    lb_canvas_free(&c);
}

LB_TEST(test_over)
{
    lb_canvas d = mk(4, 1), s = mk(4, 1);
    const uint8_t dv[16] = {0, 0, 255, 255, 0, 100, 0, 100, 10, 20, 30, 40, 1, 2, 3, 4};
    const uint8_t sv[16] = {128, 0, 0, 128, 50, 0, 0, 50, 0, 0, 0, 0, 9, 8, 7, 255};
    memcpy(d.px, dv, 16);
    memcpy(s.px, sv, 16);
    lb_canvas_over(&d, &s);
    /* blue under half red: b = 255 * 127 / 255 */
    const uint8_t e[16] = {128, 0, 127, 255,
                           /* g = round(100 * 205 / 255) = 80, a = 50 + 80 */
                           50, 80, 0, 130,
                           /* transparent source: unchanged */
                           10, 20, 30, 40,
                           /* opaque source replaces */
                           9, 8, 7, 255};
    for (int i = 0; i < 16; i++)
        ASSERT_EQ(d.px[i], e[i]);
    lb_canvas_free(&d);
    lb_canvas_free(&s);

    /* a larger canvas, mostly transparent source */
    d = mk(33, 17);
    s = mk(33, 17);
    rect(&d, 0, 0, 33, 17, RED);
    rect(&s, 10, 5, 20, 10, HALF);
    lb_canvas_over(&d, &s);
    ASSERT_EQ(P(&d, 0, 0)[0], 255);
    ASSERT_EQ(P(&d, 15, 7)[0], 127);
    ASSERT_EQ(P(&d, 15, 7)[2], 128);
    ASSERT_EQ(P(&d, 15, 7)[3], 255);
    ASSERT_EQ(P(&d, 32, 16)[0], 255);
    lb_canvas_free(&d);
    lb_canvas_free(&s);
}

/* Random premultiplied pixels of every kind (transparent, opaque,
 * translucent, in runs and alone) composited with lb_canvas_over and with
 * the formula d = s + round(d * (255 - sa) / 255) per channel, worked out
 * here with integer division; odd sizes exercise the pixels left over after
 * groups of four. */
LB_TEST(test_over_random)
{
    uint64_t r = 12345;
    for (int round = 0; round < 4; round++) {
        int w = 37 + round * 29, h = 7;
        lb_canvas d = mk(w, h), s = mk(w, h);
        for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
            for (int which = 0; which < 2; which++) {
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                unsigned kind = (unsigned)(r >> 60), a;
                a = kind < 6 ? 0 : kind < 10 ? 255 : (unsigned)(r >> 33) % 256;
                uint8_t *p = (which ? s.px : d.px) + 4 * i;
                for (int k = 0; k < 3; k++)
                    p[k] = (uint8_t)(a ? (unsigned)(r >> (8 * k + 8)) % (a + 1) : 0);
                p[3] = (uint8_t)a;
            }
        }
        uint8_t *want = malloc((size_t)w * (size_t)h * 4);
        ASSERT(want);
        for (size_t i = 0; i < (size_t)w * (size_t)h * 4; i++) {
            unsigned sa = s.px[(i & ~(size_t)3) + 3];
            unsigned t = d.px[i] * (255 - sa);
            want[i] = (uint8_t)(s.px[i] + (t + 127) / 255); /* round half up: t / 255 is never x.5 */
        }
        lb_canvas_over(&d, &s);
        for (size_t i = 0; i < (size_t)w * (size_t)h * 4; i++)
            if (d.px[i] != want[i]) {
                unsigned g = d.px[i], e = want[i];
                free(want);
                LBT__FAIL("byte %zu: got %u, want %u", i, g, e);
            }
        free(want);
        lb_canvas_free(&d);
        lb_canvas_free(&s);
    }
}

LB_TEST(test_mask)
{
    lb_canvas c = mk(3, 1);
    const uint8_t v[12] = {200, 100, 50, 200, 200, 100, 50, 200, 200, 100, 50, 200};
    memcpy(c.px, v, 12);
    const uint8_t m[3] = {128, 0, 255};
    lb_canvas_mask(&c, m);
    const uint8_t e[12] = {100, 50, 25, 100, 0, 0, 0, 0, 200, 100, 50, 200};
    for (int i = 0; i < 12; i++)
        ASSERT_EQ(c.px[i], e[i]);
    lb_canvas_free(&c);
}

/* ------------------------------------------------------------------------ */
/* Fill                                                                     */
/* ------------------------------------------------------------------------ */

LB_TEST(test_rect_exact)
{
    lb_canvas c = mk(64, 64);
    rect(&c, 10, 30, 20, 40, RED);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) {
            bool in = x >= 10 && x < 20 && y >= 30 && y < 40;
            const uint8_t *p = P(&c, x, y);
            ASSERT_EQ(p[0], in ? 255 : 0);
            ASSERT_EQ(p[1], 0);
            ASSERT_EQ(p[3], in ? 255 : 0);
        }
    lb_canvas_free(&c);
}

LB_TEST(test_rect_fractional)
{
    lb_canvas c = mk(64, 64);
    /* x: 10.5 .. 20.25, y: 5.5 .. 15.75 (clockwise this time) */
    double xy[] = {10.5, 5.5, 10.5, 15.75, 20.25, 15.75, 20.25, 5.5};
    fill1(&c, xy, 4, RED);
    for (int y = 6; y < 15; y++) {
        ASSERT_NEAR(A(&c, 10, y), 127.5, 1);  /* half */
        ASSERT_NEAR(A(&c, 20, y), 63.75, 1);  /* quarter */
        ASSERT_EQ(A(&c, 15, y), 255);
        ASSERT_EQ(A(&c, 9, y), 0);
        ASSERT_EQ(A(&c, 21, y), 0);
    }
    for (int x = 11; x < 20; x++) {
        ASSERT_NEAR(A(&c, x, 5), 127.5, 1);
        ASSERT_NEAR(A(&c, x, 15), 191.25, 1);
        ASSERT_EQ(A(&c, x, 4), 0);
        ASSERT_EQ(A(&c, x, 16), 0);
    }
    ASSERT_NEAR(A(&c, 10, 5), 63.75, 1);     /* 0.5 x 0.5 */
    ASSERT_NEAR(A(&c, 20, 15), 47.8125, 1);  /* 0.25 x 0.75 */
    ASSERT_NEAR(A(&c, 20, 5), 31.875, 1);    /* 0.25 x 0.5 */
    ASSERT_NEAR(area_of(&c), 9.75 * 10.25, 0.05);
    /* a sub-pixel square inside one pixel */
    lb_canvas_clear(&c);
    rect(&c, 40.25, 40.25, 40.75, 40.75, RED);
    ASSERT_NEAR(A(&c, 40, 40), 63.75, 1);
    ASSERT_NEAR(area_of(&c), 0.25, 0.005);
    lb_canvas_free(&c);
}

LB_TEST(test_half_canvas)
{
    lb_canvas c = mk(256, 256);
    for (int rev = 0; rev < 2; rev++) {
        lb_canvas_clear(&c);
        double ccw[] = {0, 0, 128, 0, 128, 256, 0, 256};
        double cw[] = {0, 0, 0, 256, 128, 256, 128, 0};
        fill1(&c, rev ? cw : ccw, 4, RED);
        for (int y = 0; y < 256; y++)
            for (int x = 0; x < 256; x++)
                ASSERT_EQ(A(&c, x, y), x < 128 ? 255 : 0);
    }
    lb_canvas_clear(&c);
    rect(&c, 0, 0, 256, 256, RED);
    for (int y = 0; y < 256; y++)
        for (int x = 0; x < 256; x++)
            ASSERT_EQ(A(&c, x, y), 255);
    /* shapes touching the right and bottom borders */
    lb_canvas_clear(&c);
    rect(&c, 250.5, 250.5, 300, 300, RED);
    ASSERT_NEAR(A(&c, 250, 250), 63.75, 1);
    ASSERT_NEAR(A(&c, 251, 250), 127.5, 1);
    ASSERT_NEAR(A(&c, 250, 255), 127.5, 1);
    ASSERT_EQ(A(&c, 255, 255), 255);
    ASSERT_NEAR(area_of(&c), 5.5 * 5.5, 0.05); /* 8-bit rounding of 11 edge pixels */
    lb_canvas_free(&c);
}

LB_TEST(test_area_random)
{
    lb_canvas c = mk(256, 256);
    double xy[2 * 40];
    for (int it = 0; it < 300; it++) {
        lb_canvas_clear(&c);
        double cx = rnd_in(60, 196);
        double cy = rnd_in(60, 196);
        size_t n;
        if (it % 3 == 0) { /* triangles */
            n = 3;
            for (int i = 0; i < 6; i++)
                xy[i] = (i & 1 ? cy : cx) + rnd_in(-50, 50);
        } else {
            double r0 = rnd_in(3, 20);
            double r1 = rnd_in(20, 55);
            n = star(xy, 40, cx, cy, r0, r1);
        }
        double a = fabs(shoelace(xy, n));
        if (a < 20)
            continue;
        fill1(&c, xy, n, RED);
        double got = area_of(&c);
        if (fabs(got - a) > 0.005 * a)
            LBT__FAIL("polygon %d (n=%zu): area %.4f, coverage %.4f", it, n, a, got);
    }
    lb_canvas_free(&c);
}

LB_TEST(test_holes)
{
    lb_canvas c = mk(100, 100);
    double outer[] = {20, 20, 80, 20, 80, 80, 20, 80};
    double in_rev[] = {40, 40, 40, 60, 60, 60, 60, 40};
    double in_same[] = {40, 40, 60, 40, 60, 60, 40, 60};
    lb_ring rings[2] = {{outer, 4}, {in_rev, 4}};
    lb_raster_fill(&c, rings, 2, RED);
    ASSERT_EQ(A(&c, 50, 50), 0);
    ASSERT_EQ(A(&c, 30, 30), 255);
    ASSERT_EQ(A(&c, 39, 50), 255);
    ASSERT_EQ(A(&c, 40, 50), 0);
    ASSERT_NEAR(area_of(&c), 3600 - 400, 0.01);

    lb_canvas_clear(&c);
    rings[1].xy = in_same; /* non-zero: winding 2 is inside, and not darker */
    lb_raster_fill(&c, rings, 2, HALF);
    ASSERT_EQ(A(&c, 50, 50), 128);
    ASSERT_EQ(A(&c, 30, 30), 128);
    ASSERT_EQ(max_alpha(&c), 128);
    ASSERT_NEAR(area_of(&c) * 255 / 128, 3600, 0.01);
    lb_canvas_free(&c);
}

LB_TEST(test_multipolygon)
{
    lb_canvas c = mk(100, 100);
    double a[] = {10, 10, 30, 10, 30, 30, 10, 30};
    double b[] = {50.5, 50, 70.5, 50, 70.5, 60, 50.5, 60};
    double o[] = {20, 20, 40, 20, 40, 40, 20, 40}; /* overlaps a */
    lb_ring rings[3] = {{a, 4}, {b, 4}, {o, 4}};
    lb_raster_fill(&c, rings, 2, RED);
    ASSERT_NEAR(area_of(&c), 400 + 200, 0.05); /* 20 half pixels, 127.5 -> 128 */
    ASSERT_NEAR(A(&c, 50, 55), 127.5, 1);
    lb_canvas_clear(&c);
    lb_raster_fill(&c, rings, 3, HALF);
    ASSERT_NEAR(area_of(&c) * 255 / 128, 400 + 200 + 400 - 100, 0.01);
    ASSERT_EQ(A(&c, 25, 25), 128); /* the overlap is not darker */
    /* rings with fewer than 2 points and empty input are ignored */
    lb_ring bad[2] = {{a, 1}, {NULL, 4}};
    lb_raster_fill(&c, bad, 2, RED);
    lb_raster_fill(&c, NULL, 3, RED);
    lb_raster_fill(&c, rings, 0, RED);
    ASSERT_EQ(A(&c, 25, 25), 128);
    lb_canvas_free(&c);
}

/* Draw the same scene into one canvas and into neighbouring tiles. */
typedef void (*scene_fn)(lb_canvas *c, double dx, double dy, int seed);

static void compare_tiles(scene_fn f, int seed, bool horizontal)
{
    int bw = horizontal ? 512 : 256, bh = horizontal ? 256 : 512;
    lb_canvas big = mk(bw, bh), t0 = mk(256, 256), t1 = mk(256, 256);
    f(&big, 0, 0, seed);
    f(&t0, 0, 0, seed);
    f(&t1, horizontal ? -256 : 0, horizontal ? 0 : -256, seed);
    ASSERT(!lb_canvas_is_empty(&t0));
    ASSERT(!lb_canvas_is_empty(&t1));
    for (int y = 0; y < 256; y++)
        for (int x = 0; x < 256; x++) {
            int bx = horizontal ? x + 256 : x, by = horizontal ? y : y + 256;
            if (memcmp(P(&big, x, y), P(&t0, x, y), 4) != 0)
                LBT__FAIL("seed %d: tile 0 differs at %d,%d: %u vs %u", seed, x, y,
                          A(&big, x, y), A(&t0, x, y));
            if (memcmp(P(&big, bx, by), P(&t1, x, y), 4) != 0)
                LBT__FAIL("seed %d: tile 1 differs at %d,%d: %u vs %u", seed, x, y,
                          A(&big, bx, by), A(&t1, x, y));
        }
    lb_canvas_free(&big);
    lb_canvas_free(&t0);
    lb_canvas_free(&t1);
}

static void scene_polys(lb_canvas *c, double dx, double dy, int seed)
{
    rng_state = 0x1234567ULL + (uint64_t)seed * 7919;
    double xy[2 * 40];
    for (int i = 0; i < 12; i++) {
        double cx = rnd_in(200, 312);
        double cy = rnd_in(30, 226);
        double r0 = rnd_in(5, 30);
        double r1 = rnd_in(30, 90);
        size_t n = star(xy, 40, cx, cy, r0, r1);
        for (size_t k = 0; k < n; k++) {
            xy[2 * k] += dx;
            xy[2 * k + 1] += dy;
        }
        fill1(c, xy, n, rnd_color(0.3));
    }
}

static void scene_polys_t(lb_canvas *c, double dx, double dy, int seed)
{
    /* the same, transposed (for vertical neighbours) */
    rng_state = 0x7654321ULL + (uint64_t)seed * 7919;
    double xy[2 * 40];
    for (int i = 0; i < 12; i++) {
        double cx = rnd_in(30, 226);
        double cy = rnd_in(200, 312);
        double r0 = rnd_in(5, 30);
        double r1 = rnd_in(30, 90);
        size_t n = star(xy, 40, cx, cy, r0, r1);
        for (size_t k = 0; k < n; k++) {
            xy[2 * k] += dx;
            xy[2 * k + 1] += dy;
        }
        fill1(c, xy, n, rnd_color(0.3));
    }
}

static void scene_lines(lb_canvas *c, double dx, double dy, int seed)
{
    rng_state = 0xabcdefULL + (uint64_t)seed * 104729;
    double xy[2 * 20];
    for (int i = 0; i < 10; i++) {
        for (int k = 0; k < 20; k++) {
            xy[2 * k] = rnd_in(150, 362) + dx;
            xy[2 * k + 1] = rnd_in(20, 236) + dy;
        }
        lb_stroke st = stroke_w(rnd_in(0.5, 12), (lb_join)(i % 3), (lb_cap)((i / 3) % 3));
        if (i % 4 == 1) {
            st.ndash = 2;
            st.dash[0] = rnd_in(2, 20);
            st.dash[1] = rnd_in(2, 20);
            st.dash_offset = rnd_in(0, 10);
        }
        line(c, xy, 20, i % 5 == 0, &st, rnd_color(0.3));
        double r = rnd_in(2, 15);
        lb_rgba fill = rnd_color(0.5);
        double sw = rnd_in(0, 3);
        lb_raster_marker(c, (lb_marker)(i % 4), xy[0], xy[1], r, fill, sw, RED);
    }
}

/* thick lines, sharp turns, varied miter limits, dashes, some closed; the
 * points range well beyond both canvases (culling and dash cutting differ) */
static void scene_thick(lb_canvas *c, double dx, double dy, int seed)
{
    rng_state = 0x5151ULL + (uint64_t)seed * 7727;
    double xy[2 * 12];
    for (int i = 0; i < 6; i++) {
        for (int k = 0; k < 12; k++) {
            double x = rnd_in(100, 412);
            double y = rnd_in(-40, 296);
            xy[2 * k] = x + dx;
            xy[2 * k + 1] = y + dy;
        }
        lb_stroke st = stroke_w(rnd_in(0.5, 25), (lb_join)(i % 3), (lb_cap)((seed + i) % 3));
        st.miter_limit = 1 + 10 * rnd();
        if ((seed + i) % 2 == 1) {
            st.ndash = 2;
            st.dash[0] = rnd_in(0, 40);
            st.dash[1] = rnd_in(1, 40);
            st.dash_offset = rnd_in(-30, 30);
        }
        line(c, xy, 12, (seed + i) % 5 == 0, &st, rnd_color(0.3));
    }
}

LB_TEST(test_seamless_tiles)
{
    for (int seed = 0; seed < 4; seed++) {
        compare_tiles(scene_polys, seed, true);
        compare_tiles(scene_polys_t, seed, false);
        compare_tiles(scene_lines, seed, true);
        compare_tiles(scene_thick, seed, true);
        compare_tiles(scene_thick, seed, false);
    }
}

LB_TEST(test_far_and_huge)
{
    lb_canvas c = mk(256, 256);
    /* far outside in every direction, including spanning all rows on the left */
    double far1[] = {1e9, 1e9, 1e9 + 10, 1e9, 1e9, 1e9 + 10};
    double far2[] = {-1e6, -1e7, -1e5, -1e7, -1e5, 1e7, -1e6, 1e7};
    double far3[] = {300, -50, 1e9, 100, 300, 400};
    double far4[] = {-1e9, -5, 1e9, -5, 0, -1e9};
    fill1(&c, far1, 3, RED);
    fill1(&c, far2, 4, RED);
    fill1(&c, far3, 3, RED);
    fill1(&c, far4, 3, RED);
    ASSERT(lb_canvas_is_empty(&c));

    /* a huge rectangle covers everything */
    rect(&c, -1e9, -1e9, 1e9, 1e9, RED);
    for (int y = 0; y < 256; y++)
        for (int x = 0; x < 256; x++)
            ASSERT_EQ(A(&c, x, y), 255);

    /* a huge triangle whose edge y = 10 crosses the canvas */
    lb_canvas_clear(&c);
    double tri[] = {-1e9, 10, 1e9, 10, 0, 1e9};
    fill1(&c, tri, 3, RED);
    for (int y = 0; y < 256; y += 5)
        for (int x = 0; x < 256; x += 3)
            ASSERT_EQ(A(&c, x, y), y >= 10 ? 255 : 0);

    /* strips from far left / to far right ending inside a pixel */
    lb_canvas_clear(&c);
    rect(&c, -1e9, 3, 100.5, 4, RED);
    rect(&c, 100.5, 7, 1e9, 8, RED);
    for (int x = 0; x < 256; x++) {
        ASSERT_NEAR(A(&c, x, 3), x < 100 ? 255 : x == 100 ? 127.5 : 0, 1);
        ASSERT_NEAR(A(&c, x, 7), x > 100 ? 255 : x == 100 ? 127.5 : 0, 1);
    }
    /* absurd coordinates are clamped, not overflowed */
    lb_canvas_clear(&c);
    double absurd[] = {-1e300, -1e300, 1e300, -1e300, 1e300, 1e300, -1e300, 1e300};
    fill1(&c, absurd, 4, RED);
    ASSERT_EQ(A(&c, 0, 0), 255);
    ASSERT_EQ(A(&c, 255, 255), 255);
    lb_canvas_free(&c);
}

LB_TEST(test_nan)
{
    lb_canvas c = mk(64, 64);
    /* a NaN / inf vertex is skipped: the square is still a square */
    double sq[] = {10, 10, 20, 10, NAN, 5, 20, 20, INFINITY, 3, 10, 20};
    fill1(&c, sq, 6, RED);
    ASSERT_NEAR(area_of(&c), 100, 0.01);
    ASSERT_EQ(A(&c, 15, 15), 255);
    double allnan[] = {NAN, NAN, NAN, 1, 2, NAN};
    fill1(&c, allnan, 3, RED);
    ASSERT_NEAR(area_of(&c), 100, 0.01);

    lb_canvas_clear(&c);
    lb_stroke st = stroke_w(2, LB_JOIN_ROUND, LB_CAP_ROUND);
    double path[] = {5, 30, NAN, NAN, 55, 30, -INFINITY, 0};
    line(&c, path, 4, false, &st, RED);
    ASSERT_NEAR(area_of(&c), 100 + M_PI, 0.5);
    line(&c, allnan, 3, false, &st, RED);
    st.width = NAN;
    line(&c, path, 4, false, &st, RED);
    lb_raster_marker(&c, LB_MARKER_CIRCLE, NAN, 5, 3, RED, 1, RED);
    lb_raster_marker(&c, LB_MARKER_CIRCLE, 5, 5, NAN, RED, 1, RED);
    lb_raster_marker(&c, LB_MARKER_CIRCLE, 5, 5, INFINITY, RED, 1, RED);
    ASSERT_NEAR(area_of(&c), 100 + M_PI, 0.5);
    lb_canvas_free(&c);
}

LB_TEST(test_fill_compositing)
{
    lb_canvas c = mk(32, 32);
    rect(&c, 0, 0, 20, 20, RED);
    rect(&c, 10, 10, 30, 30, HALF);
    const uint8_t *p = P(&c, 5, 5);
    ASSERT(p[0] == 255 && p[1] == 0 && p[2] == 0 && p[3] == 255);
    p = P(&c, 15, 15); /* half blue over red: r = 255 * 127 / 255 */
    ASSERT(p[0] == 127 && p[1] == 0 && p[2] == 128 && p[3] == 255);
    p = P(&c, 25, 25);
    ASSERT(p[0] == 0 && p[1] == 0 && p[2] == 128 && p[3] == 128);
    /* half coverage of a half colour: quarter */
    lb_canvas_clear(&c);
    rect(&c, 0.5, 0, 10, 10, HALF);
    p = P(&c, 0, 0);
    ASSERT_EQ(p[3], 64);
    ASSERT_EQ(p[2], 64);
    /* colours with channels above alpha are not allowed to overflow */
    lb_canvas_clear(&c);
    rect(&c, 0, 0, 10, 10, RED);
    rect(&c, 0, 0, 10, 10, (lb_rgba){255, 255, 255, 10});
    p = P(&c, 5, 5);
    ASSERT(p[0] == 255 && p[1] <= 10 && p[3] == 255);
    lb_canvas_free(&c);
}

/* ------------------------------------------------------------------------ */
/* Strokes                                                                  */
/* ------------------------------------------------------------------------ */

LB_TEST(test_line_width_caps)
{
    lb_canvas c = mk(256, 256);
    double h[] = {50, 100, 150, 100};
    lb_stroke st = stroke_w(4, LB_JOIN_MITER, LB_CAP_BUTT);
    line(&c, h, 2, false, &st, RED);
    ASSERT_NEAR(area_of(&c), 400, 4);
    ASSERT_NEAR(area_of(&c), 400, 0.05); /* in fact exact: rows 98..101 */
    ASSERT_EQ(A(&c, 50, 98), 255);
    ASSERT_EQ(A(&c, 149, 101), 255);
    ASSERT_EQ(A(&c, 49, 100), 0);
    ASSERT_EQ(A(&c, 150, 100), 0);
    ASSERT_EQ(A(&c, 100, 97), 0);

    lb_canvas_clear(&c);
    st.cap = LB_CAP_ROUND;
    line(&c, h, 2, false, &st, RED);
    ASSERT_NEAR(area_of(&c), 400 + M_PI * 4, 0.01 * 400);
    ASSERT_NEAR(area_of(&c), 400 + M_PI * 4, 0.15);

    lb_canvas_clear(&c);
    st.cap = LB_CAP_SQUARE;
    line(&c, h, 2, false, &st, RED);
    ASSERT_NEAR(area_of(&c), 400 + 16, 0.05);
    ASSERT_EQ(A(&c, 48, 98), 255);
    ASSERT_EQ(A(&c, 151, 101), 255);

    /* diagonal lines: area = width * length */
    for (int i = 0; i < 20; i++) {
        lb_canvas_clear(&c);
        double d[4];
        for (int k = 0; k < 4; k++)
            d[k] = rnd_in(20, 236);
        double len = hypot(d[2] - d[0], d[3] - d[1]), w = rnd_in(0.3, 8);
        lb_stroke s2 = stroke_w(w, LB_JOIN_ROUND, LB_CAP_BUTT);
        line(&c, d, 2, false, &s2, RED);
        ASSERT_NEAR(area_of(&c), w * len, 0.01 * w * len + 0.05);
        lb_canvas_clear(&c);
        s2.cap = LB_CAP_ROUND;
        line(&c, d, 2, false, &s2, RED);
        ASSERT_NEAR(area_of(&c), w * len + M_PI * w * w / 4, 0.01 * w * len + 0.1);
    }
    lb_canvas_free(&c);
}

LB_TEST(test_joins)
{
    lb_canvas c = mk(256, 256);
    /* an L: two 100 px legs, width 10 (hw 5), turning 90 degrees */
    double L[] = {50, 50, 150, 50, 150, 150};
    const double hw = 5, legs = 2 * 100 * 10 - hw * hw; /* the quads' union */
    double got[3];
    for (int j = 0; j < 3; j++) {
        lb_canvas_clear(&c);
        lb_stroke st = stroke_w(10, (lb_join)j, LB_CAP_BUTT);
        line(&c, L, 3, false, &st, RED);
        got[j] = area_of(&c);
    }
    ASSERT_NEAR(got[LB_JOIN_MITER], legs + hw * hw, 0.05);           /* full corner square */
    ASSERT_NEAR(got[LB_JOIN_BEVEL], legs + hw * hw / 2, 0.05);       /* half of it */
    ASSERT_NEAR(got[LB_JOIN_ROUND], legs + M_PI * hw * hw / 4, 0.1); /* quarter disc */
    ASSERT_NEAR(got[LB_JOIN_MITER] - got[LB_JOIN_BEVEL], hw * hw / 2, 0.05);
    /* the outer corner pixel (150..155, 45..50): miter fills it, bevel half */
    lb_canvas_clear(&c);
    lb_stroke st = stroke_w(10, LB_JOIN_MITER, LB_CAP_BUTT);
    line(&c, L, 3, false, &st, RED);
    ASSERT_EQ(A(&c, 154, 45), 255);
    /* ratio sqrt(2) > limit 1.2: falls back to bevel */
    lb_canvas_clear(&c);
    st.miter_limit = 1.2;
    line(&c, L, 3, false, &st, RED);
    ASSERT_NEAR(area_of(&c), got[LB_JOIN_BEVEL], 0.01);
    ASSERT_EQ(A(&c, 154, 45), 0);

    /* an acute turn (legs at 60 degrees from each other): the miter tip is at
     * hw / sin(30) = 2 hw from the vertex; ratio 2 <= limit 2.5 */
    lb_canvas_clear(&c);
    double V[] = {50, 200, 150, 200, 150 - 100 * 0.5, 200 - 100 * 0.86602540378443864676};
    st = stroke_w(10, LB_JOIN_BEVEL, LB_CAP_BUTT);
    line(&c, V, 3, false, &st, RED);
    double bevel = area_of(&c);
    lb_canvas_clear(&c);
    st.join = LB_JOIN_MITER;
    st.miter_limit = 2.5;
    line(&c, V, 3, false, &st, RED);
    /* miter minus bevel: the triangle between the bevel edge and the tip;
     * turn 120 degrees, half-turn 60: tip distance 2 hw, bevel at hw cos 60 */
    double extra = (2 * hw - hw * 0.5) * (hw * 0.86602540378443864676);
    ASSERT_NEAR(area_of(&c) - bevel, extra, 0.1);
    lb_canvas_free(&c);
}

LB_TEST(test_closed_stroke)
{
    lb_canvas c = mk(256, 256);
    double sq[] = {50, 50, 150, 50, 150, 150, 50, 150};
    double sq_closed[] = {50, 50, 150, 50, 150, 150, 50, 150, 50, 50};
    const double hw = 5;
    lb_stroke st = stroke_w(10, LB_JOIN_MITER, LB_CAP_BUTT);
    line(&c, sq, 4, true, &st, RED);
    ASSERT_NEAR(area_of(&c), 110.0 * 110 - 90.0 * 90, 0.05);
    ASSERT_EQ(A(&c, 45, 45), 255); /* the first/last corner is joined */
    lb_canvas_clear(&c);
    line(&c, sq_closed, 5, true, &st, RED); /* explicit closing point: same */
    ASSERT_NEAR(area_of(&c), 110.0 * 110 - 90.0 * 90, 0.05);
    lb_canvas_clear(&c);
    st.join = LB_JOIN_BEVEL;
    line(&c, sq, 4, true, &st, RED);
    ASSERT_NEAR(area_of(&c), 4000 - 4 * hw * hw / 2, 0.05);
    lb_canvas_clear(&c);
    st.join = LB_JOIN_ROUND;
    line(&c, sq, 4, true, &st, RED);
    /* arcs are polygons within 0.05 px of the circle */
    ASSERT_NEAR(area_of(&c), 4000 - 4 * (hw * hw - M_PI * hw * hw / 4), 0.3);
    /* the same path open: a notch at the first corner (butt ends) */
    lb_canvas_clear(&c);
    st.join = LB_JOIN_MITER;
    line(&c, sq_closed, 5, false, &st, RED);
    ASSERT_NEAR(area_of(&c), 4000 - hw * hw, 0.05);
    ASSERT_EQ(A(&c, 45, 45), 0);
    lb_canvas_free(&c);
}

LB_TEST(test_dashes)
{
    lb_canvas c = mk(256, 256);
    double h[] = {50, 100, 150, 100};
    lb_stroke st = stroke_w(2, LB_JOIN_MITER, LB_CAP_BUTT);
    st.ndash = 2;
    st.dash[0] = 10;
    st.dash[1] = 10;
    line(&c, h, 2, false, &st, RED);
    ASSERT_NEAR(area_of(&c), 100, 0.05); /* half of 100 x 2 */
    for (int x = 50; x < 150; x++)
        ASSERT_EQ(A(&c, x, 99), ((x - 50) / 10) % 2 == 0 ? 255 : 0);

    /* offsets: 5 starts halfway through the first dash, -5 == 15 in the gap */
    const double offs[2] = {5, -5};
    for (int k = 0; k < 2; k++) {
        lb_canvas_clear(&c);
        st.dash_offset = offs[k];
        line(&c, h, 2, false, &st, RED);
        ASSERT_NEAR(area_of(&c), 100, 0.05);
        for (int x = 50; x < 150; x++) {
            int ph = (int)fmod((x - 50) + offs[k] + 20, 20);
            ASSERT_EQ(A(&c, x, 100), ph < 10 ? 255 : 0);
        }
    }
    st.dash_offset = 0;

    /* an odd list repeats: [10] is [10, 10] */
    lb_canvas_clear(&c);
    st.ndash = 1;
    line(&c, h, 2, false, &st, RED);
    ASSERT_NEAR(area_of(&c), 100, 0.05);
    ASSERT_EQ(A(&c, 65, 100), 0);

    /* dashes continue across a vertex and are joined there */
    lb_canvas_clear(&c);
    double Lp[] = {50, 50, 100, 50, 100, 100};
    st.ndash = 2;
    st.dash[0] = 30;
    st.dash[1] = 10;
    line(&c, Lp, 3, false, &st, RED);
    /* on: 0..30, 40..70 (across the corner at 50), 80..100; at the corner
     * the legs overlap by hw^2 = 1 inside and the miter adds 1 outside */
    ASSERT_NEAR(area_of(&c), 2 * 80 - 1 + 1, 0.05);
    ASSERT_EQ(A(&c, 100, 49), 255); /* the miter corner of the dash */
    ASSERT_EQ(A(&c, 85, 50), 0);
    ASSERT_EQ(A(&c, 99, 75), 0);

    /* zero-length dashes with round caps are dots */
    lb_canvas_clear(&c);
    st = stroke_w(4, LB_JOIN_ROUND, LB_CAP_ROUND);
    st.ndash = 2;
    st.dash[0] = 0;
    st.dash[1] = 10;
    line(&c, h, 2, false, &st, RED);
    ASSERT_NEAR(area_of(&c), 11 * M_PI * 4, 0.01 * 11 * M_PI * 4);

    /* a closed ring whose last dash runs into the first: joined at p[0] */
    lb_canvas_clear(&c);
    double sq[] = {50, 150, 90, 150, 90, 190, 50, 190}; /* perimeter 160 */
    st = stroke_w(2, LB_JOIN_MITER, LB_CAP_BUTT);
    st.ndash = 2;
    st.dash[0] = 50;
    st.dash[1] = 10;
    line(&c, sq, 4, true, &st, RED);
    ASSERT_EQ(A(&c, 49, 149), 255); /* the joined corner at p[0] */
    /* on: 0..50, 60..110, 120..160(+0..50); the corners at 40, 80 and 0 are
     * inside dashes (inner overlap 1, miter 1: no net change), the one at 120
     * is where the gap 110..120 ends */
    ASSERT_NEAR(area_of(&c), 2 * (160 - 20), 0.05);
    /* a dash longer than the ring: one closed piece */
    lb_canvas_clear(&c);
    st.dash[0] = 500;
    line(&c, sq, 4, true, &st, RED);
    ASSERT_NEAR(area_of(&c), 42.0 * 42 - 38.0 * 38, 0.05);

    /* a pattern finer than half a pixel: the average */
    lb_canvas_clear(&c);
    st.dash[0] = 0.1;
    st.dash[1] = 0.3;
    line(&c, h, 2, false, &st, RED);
    ASSERT_NEAR(A(&c, 100, 100), 64, 1);
    lb_canvas_free(&c);
}

LB_TEST(test_huge_stroke)
{
    lb_canvas c = mk(256, 256);
    double h[] = {-1e9, 100, 1e9, 100};
    lb_stroke st = stroke_w(4, LB_JOIN_ROUND, LB_CAP_ROUND);
    line(&c, h, 2, false, &st, RED);
    for (int x = 0; x < 256; x++) {
        ASSERT_EQ(A(&c, x, 97), 0);
        ASSERT_EQ(A(&c, x, 98), 255);
        ASSERT_EQ(A(&c, x, 101), 255);
        ASSERT_EQ(A(&c, x, 102), 0);
    }
    /* dashed: 1e8 dashes along the line, only those near the canvas drawn;
     * at x = 0 the walked length is 1e9 = 0 mod 20: a dash starts */
    lb_canvas_clear(&c);
    st.cap = LB_CAP_BUTT;
    st.ndash = 2;
    st.dash[0] = 10;
    st.dash[1] = 10;
    line(&c, h, 2, false, &st, RED);
    for (int x = 0; x < 256; x++)
        ASSERT_EQ(A(&c, x, 100), (x / 10) % 2 == 0 ? 255 : 0);
    /* many vertices far away cost nothing and draw nothing */
    lb_canvas_clear(&c);
    double zig[2 * 1000];
    for (int i = 0; i < 1000; i++) {
        zig[2 * i] = -1e6 + 37 * i;
        zig[2 * i + 1] = (i & 1) ? -1e6 : 1e6;
    }
    st.ndash = 0;
    line(&c, zig, 1000, false, &st, RED);
    ASSERT(lb_canvas_is_empty(&c));
    lb_canvas_free(&c);
}

LB_TEST(test_no_darkening)
{
    lb_canvas c = mk(256, 256);
    /* a pentagram: the path crosses itself five times, sharp joins */
    double star5[10];
    for (int i = 0; i < 5; i++) {
        double t = -M_PI / 2 + i * 4 * M_PI / 5;
        star5[2 * i] = 128 + 100 * cos(t);
        star5[2 * i + 1] = 128 + 100 * sin(t);
    }
    for (int j = 0; j < 3; j++)
        for (int cap = 0; cap < 3; cap++) {
            lb_canvas_clear(&c);
            lb_stroke st = stroke_w(9, (lb_join)j, (lb_cap)cap);
            st.miter_limit = 10;
            line(&c, star5, 5, j == 1, &st, HALF);
            ASSERT_EQ(max_alpha(&c), 128);
            ASSERT_EQ(A(&c, 128, 128), 0); /* the centre stays empty */
        }
    /* a zig-zag with very short segments relative to the width */
    lb_canvas_clear(&c);
    double zz[2 * 40];
    for (int i = 0; i < 40; i++) {
        zz[2 * i] = 50 + 3 * i;
        zz[2 * i + 1] = (i & 1) ? 100 : 104;
    }
    lb_stroke st = stroke_w(12, LB_JOIN_ROUND, LB_CAP_ROUND);
    line(&c, zz, 40, false, &st, HALF);
    ASSERT_EQ(max_alpha(&c), 128);
    ASSERT_EQ(A(&c, 100, 102), 128);
    /* dashes overlapping each other (caps longer than the gaps) */
    lb_canvas_clear(&c);
    st.ndash = 2;
    st.dash[0] = 3;
    st.dash[1] = 2;
    line(&c, zz, 40, false, &st, HALF);
    ASSERT_EQ(max_alpha(&c), 128);
    lb_canvas_free(&c);
}

LB_TEST(test_degenerate_strokes)
{
    lb_canvas c = mk(64, 64);
    lb_stroke st = stroke_w(4, LB_JOIN_MITER, LB_CAP_BUTT);
    double one[] = {10, 10};
    double same[] = {20, 20, 20, 20, 20, 20};
    line(&c, one, 0, false, &st, RED);
    line(&c, one, 1, false, &st, RED);
    line(&c, one, 1, true, &st, RED);
    line(&c, same, 3, false, &st, RED); /* butt: a zero-length line is nothing */
    line(&c, same, 3, true, &st, RED);
    ASSERT(lb_canvas_is_empty(&c));
    st.cap = LB_CAP_ROUND; /* round: a dot */
    line(&c, same, 3, false, &st, RED);
    ASSERT_NEAR(area_of(&c), M_PI * 4, 0.01 * M_PI * 4);
    lb_canvas_clear(&c);
    st.cap = LB_CAP_SQUARE;
    line(&c, same, 3, false, &st, RED);
    ASSERT_NEAR(area_of(&c), 16, 0.02);

    /* repeated points inside a path change nothing */
    lb_canvas a = mk(64, 64), b = mk(64, 64);
    double p1[] = {5, 5, 30, 40, 55, 12};
    double p2[] = {5, 5, 5, 5, 30, 40, 30, 40, 30, 40, 55, 12, 55, 12};
    for (int j = 0; j < 3; j++) {
        lb_canvas_clear(&a);
        lb_canvas_clear(&b);
        st = stroke_w(5, (lb_join)j, LB_CAP_ROUND);
        line(&a, p1, 3, false, &st, RED);
        line(&b, p2, 7, false, &st, RED);
        ASSERT(memcmp(a.px, b.px, 64 * 64 * 4) == 0);
    }
    /* width 0, negative, NULL style */
    lb_canvas_clear(&c);
    st.width = 0;
    line(&c, p1, 3, false, &st, RED);
    st.width = -3;
    line(&c, p1, 3, false, &st, RED);
    lb_ring r = {p1, 3};
    lb_raster_stroke(&c, &r, false, NULL, RED);
    ASSERT(lb_canvas_is_empty(&c));
    /* a closed two-point path: the segment there and back */
    st = stroke_w(2, LB_JOIN_BEVEL, LB_CAP_BUTT);
    double two[] = {10, 30, 50, 30};
    line(&c, two, 2, true, &st, RED);
    ASSERT_NEAR(area_of(&c), 80, 0.05);
    /* bad enum values and silly dash patterns do not crash */
    lb_canvas_clear(&c);
    st.join = (lb_join)77;
    st.cap = (lb_cap)-1;
    st.ndash = 99;
    for (int i = 0; i < LB_MAX_DASH; i++)
        st.dash[i] = i == 3 ? -1 : 1;
    line(&c, p1, 3, false, &st, RED);
    st.dash[3] = NAN;
    line(&c, p1, 3, false, &st, RED);
    st.ndash = 2;
    st.dash[0] = 0;
    st.dash[1] = 0;
    line(&c, p1, 3, false, &st, RED);
    st.dash[0] = 1e-300;
    st.dash[1] = 1;
    st.dash_offset = INFINITY;
    line(&c, p1, 3, true, &st, RED);
    /* absurd widths and miter limits, hairpins: finite, no crash */
    double hairpin[] = {10, 10, 50, 10.000001, 10, 10.000002, 1e300, -1e300, 30, 30};
    for (int j = 0; j < 3; j++) {
        lb_canvas_clear(&c);
        st = stroke_w(1e300, (lb_join)j, (lb_cap)j);
        st.miter_limit = 1e300;
        line(&c, hairpin, 5, false, &st, RED);
        line(&c, hairpin, 5, true, &st, RED);
        st.width = 3;
        line(&c, hairpin, 5, false, &st, RED);
        ASSERT(!lb_canvas_is_empty(&c));
    }
    lb_canvas_free(&a);
    lb_canvas_free(&b);
    lb_canvas_free(&c);
}

/* ------------------------------------------------------------------------ */
/* Markers                                                                  */
/* ------------------------------------------------------------------------ */

LB_TEST(test_markers)
{
    lb_canvas c = mk(256, 256);
    const lb_rgba none = {0, 0, 0, 0};
    const double r = 10;
    lb_raster_marker(&c, LB_MARKER_CIRCLE, 100.3, 80.7, r, RED, 0, none);
    ASSERT_NEAR(area_of(&c), M_PI * r * r, 0.005 * M_PI * r * r);
    lb_canvas_clear(&c);
    lb_raster_marker(&c, LB_MARKER_SQUARE, 100, 80, r, RED, 0, none);
    ASSERT_NEAR(area_of(&c), 4 * r * r, 0.02);
    ASSERT_EQ(A(&c, 90, 70), 255);
    ASSERT_EQ(A(&c, 109, 89), 255);
    ASSERT_EQ(A(&c, 110, 80), 0);
    lb_canvas_clear(&c);
    lb_raster_marker(&c, LB_MARKER_TRIANGLE, 100.5, 80.25, r, RED, 0, none);
    ASSERT_NEAR(area_of(&c), 3 * sqrt(3) / 4 * r * r, 0.005 * 3 * sqrt(3) / 4 * r * r);
    ASSERT_EQ(A(&c, 100, 72), 255); /* apex up: covered just below the top */
    ASSERT_EQ(A(&c, 100, 87), 0);   /* nothing at the bottom centre + 1.5 r */
    lb_canvas_clear(&c);
    lb_raster_marker(&c, LB_MARKER_CROSS, 100, 80, r, RED, 0, none);
    double t = r / 2.5;
    ASSERT_NEAR(area_of(&c), 4 * r * t - t * t, 0.02);
    ASSERT_EQ(A(&c, 92, 80), 255);
    ASSERT_EQ(A(&c, 92, 72), 0);

    /* fill and outline of the same opaque colour: the outer outline */
    const double sw = 3, hw = 1.5;
    lb_canvas_clear(&c);
    lb_raster_marker(&c, LB_MARKER_CIRCLE, 60.5, 60.5, r, RED, sw, RED);
    ASSERT_NEAR(area_of(&c), M_PI * (r + hw) * (r + hw), 0.005 * M_PI * (r + hw) * (r + hw));
    /* outline only: an annulus */
    lb_canvas_clear(&c);
    lb_raster_marker(&c, LB_MARKER_CIRCLE, 60.5, 60.5, r, none, sw, RED);
    double ann = M_PI * ((r + hw) * (r + hw) - (r - hw) * (r - hw));
    ASSERT_NEAR(area_of(&c), ann, 0.005 * ann);
    ASSERT_EQ(A(&c, 60, 60), 0);
    lb_canvas_clear(&c);
    lb_raster_marker(&c, LB_MARKER_SQUARE, 60.5, 60.5, r, none, sw, RED); /* edges on pixels */
    ASSERT_NEAR(area_of(&c), (2 * r + sw) * (2 * r + sw) - (2 * r - sw) * (2 * r - sw), 0.05);
    /* the outline is drawn over the fill */
    lb_canvas_clear(&c);
    lb_raster_marker(&c, LB_MARKER_SQUARE, 60, 60, r, RED, 2, HALF);
    const uint8_t *p = P(&c, 50, 60); /* on the outline: half blue over red */
    ASSERT(p[0] == 127 && p[2] == 128 && p[3] == 255);
    p = P(&c, 60, 60);
    ASSERT(p[0] == 255 && p[2] == 0);
    p = P(&c, 49, 60); /* outside the fill, on the outline */
    ASSERT(p[0] == 0 && p[2] == 128 && p[3] == 128);

    /* degenerate markers */
    lb_canvas_clear(&c);
    lb_raster_marker(&c, LB_MARKER_CIRCLE, 30, 30, 0, RED, 2, RED);
    lb_raster_marker(&c, LB_MARKER_CIRCLE, 30, 30, -4, RED, 2, RED);
    lb_raster_marker(&c, (lb_marker)42, 30, 30, 4, RED, 2, RED);
    lb_raster_marker(&c, LB_MARKER_SQUARE, 1e12, 30, 4, RED, 2, RED);
    ASSERT(lb_canvas_is_empty(&c));
    lb_canvas_free(&c);
}

LB_TEST(test_circle_accuracy)
{
    /* per row, the covered area of a circle matches the exact area of the
     * disc between the row's lines to within 0.05 px times the length of the
     * circle's boundary inside the row: the edge is within 0.05 px */
    lb_canvas c = mk(256, 256);
    const double cx = 128.37, cy = 127.81;
    const double radii[] = {100, 31.3, 5.2};
    for (int k = 0; k < 3; k++) {
        double r = radii[k];
        lb_canvas_clear(&c);
        lb_raster_marker(&c, LB_MARKER_CIRCLE, cx, cy, r, RED, 0, RED);
        for (int y = 0; y < 256; y++) {
            double s = 0;
            for (int x = 0; x < 256; x++)
                s += A(&c, x, y) / 255.0;
            double a = fmax(-r, fmin(r, y - cy)), b = fmax(-r, fmin(r, y + 1 - cy));
            double e = disc_band(r, a, b), arc = 2 * r * (asin(b / r) - asin(a / r));
            /* plus 8-bit rounding: at most 0.5 / 255 per boundary pixel */
            double tol = 0.05 * arc + 0.002 * (arc + 4);
            if (fabs(s - e) > tol)
                LBT__FAIL("r %g row %d: %.4f vs exact %.4f (tolerance %.4f)", r, y, s, e, tol);
        }
    }
    lb_canvas_free(&c);
}

/* Area of the simple polygon xy (n points) inside the pixel [px, px+1] x
 * [py, py+1]: Sutherland-Hodgman clipping, then the shoelace formula. */
static double pixel_area(const double *xy, size_t n, int px, int py)
{
    double buf[2][2 * 128];
    size_t m = n;
    memcpy(buf[0], xy, 2 * n * sizeof(double));
    int cur = 0;
    for (int side = 0; side < 4 && m > 0; side++) {
        const double *in = buf[cur];
        double *out = buf[cur ^ 1];
        size_t k = 0;
        for (size_t i = 0; i < m; i++) {
            const double *p = in + 2 * i, *q = in + 2 * ((i + 1) % m);
            /* signed distance inside the half plane */
            double dp, dq;
            switch (side) {
            case 0: dp = p[0] - px; dq = q[0] - px; break;
            case 1: dp = px + 1 - p[0]; dq = px + 1 - q[0]; break;
            case 2: dp = p[1] - py; dq = q[1] - py; break;
            default: dp = py + 1 - p[1]; dq = py + 1 - q[1]; break;
            }
            if (dp >= 0) {
                out[2 * k] = p[0];
                out[2 * k + 1] = p[1];
                k++;
            }
            if ((dp >= 0) != (dq >= 0)) {
                double t = dp / (dp - dq);
                out[2 * k] = p[0] + t * (q[0] - p[0]);
                out[2 * k + 1] = p[1] + t * (q[1] - p[1]);
                k++;
            }
        }
        m = k;
        cur ^= 1;
    }
    return m >= 3 ? fabs(shoelace(buf[cur], m)) : 0;
}

LB_TEST(test_exact_vs_reference)
{
    /* every pixel of random simple polygons (some crossing the borders)
     * against its exact covered area */
    lb_canvas c = mk(96, 80);
    double xy[2 * 24];
    rng_state = 777;
    for (int it = 0; it < 40; it++) {
        lb_canvas_clear(&c);
        double cx = rnd_in(-10, 106);
        double cy = rnd_in(-10, 90);
        double r0 = rnd_in(2, 15);
        double r1 = rnd_in(15, 45);
        size_t n = star(xy, 24, cx, cy, r0, r1);
        fill1(&c, xy, n, RED);
        for (int y = 0; y < 80; y++)
            for (int x = 0; x < 96; x++) {
                double e = pixel_area(xy, n, x, y) * 255.0;
                if (fabs(A(&c, x, y) - e) > 0.5 + 1e-6)
                    LBT__FAIL("polygon %d, pixel %d,%d: alpha %u, exact %.4f", it, x, y,
                              A(&c, x, y), e);
            }
    }
    lb_canvas_free(&c);
}

/* ------------------------------------------------------------------------ */
/* Large canvases                                                           */
/* ------------------------------------------------------------------------ */

LB_TEST(test_multiband)
{
    /* 4096 x 1100: the accumulation runs in bands of 1024 rows; the result
     * must equal a narrow canvas showing the same part (which has one band),
     * also for shapes across the bands' border at row 1024 */
    const int H = 1100;
    lb_canvas big = mk(4096, H), t = mk(256, H);
    const double off = 3000;
    double xy[2 * 40];
    rng_state = 42;
    for (int i = 0; i < 8; i++) {
        double cx = off + rnd_in(50, 200);
        double cy = rnd_in(900, 1090);
        double r0 = rnd_in(10, 40);
        double r1 = rnd_in(40, 140);
        size_t n = star(xy, 40, cx, cy, r0, r1);
        lb_rgba col = rnd_color(0.4);
        fill1(&big, xy, n, col);
        for (size_t k = 0; k < n; k++)
            xy[2 * k] -= off;
        fill1(&t, xy, n, col);
    }
    double path[] = {off - 500, 10, off + 100, 1090, off + 200, 5, off + 1000, 1050};
    lb_stroke st = stroke_w(7, LB_JOIN_ROUND, LB_CAP_SQUARE);
    st.ndash = 2;
    st.dash[0] = 30;
    st.dash[1] = 9;
    line(&big, path, 4, false, &st, HALF);
    for (int k = 0; k < 4; k++)
        path[2 * k] -= off;
    line(&t, path, 4, false, &st, HALF);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < 256; x++)
            if (memcmp(P(&big, x + (int)off, y), P(&t, x, y), 4) != 0)
                LBT__FAIL("differs at %d,%d", x, y);
    ASSERT(!lb_canvas_is_empty(&t));
    ASSERT_NE(A(&t, 100, 1023) | A(&t, 100, 1024) | A(&t, 150, 1030), 0);
    /* white box: the wide canvas really went through the banded path */
    ASSERT(!((const lb__rwork *)big.work)->direct);
    ASSERT(((const lb__rwork *)t.work)->direct);
    /* a full-canvas rectangle over all bands */
    lb_canvas_clear(&big);
    rect(&big, -5, -5, 5000, 5000, RED);
    ASSERT_NEAR(area_of(&big), 4096.0 * H, 0.01);
    lb_canvas_free(&big);
    lb_canvas_free(&t);
}

/* The rasterizer's scratch must be all zero between shapes, whatever was
 * drawn (white box: a stale cell would corrupt a later shape). */
static void scratch_run(int cw, int ch, int shapes)
{
    lb_canvas c = mk(cw, ch);
    rng_state = 4242;
    double xy[2 * 30];
    for (int it = 0; it < shapes; it++) {
        size_t n = 2 + (size_t)(rnd() * 28);
        double sc = it % 7 == 0 ? 1e7 : 300;
        for (size_t k = 0; k < n; k++) {
            xy[2 * k] = rnd_in(-sc, sc) * (it % 3 == 0 ? 1 : 0.3) + cw / 2;
            xy[2 * k + 1] = rnd_in(-sc, sc) * (it % 3 == 0 ? 1 : 0.3) + ch / 2;
        }
        if (it % 11 == 0)
            xy[2 * (n / 2)] = NAN;
        lb_stroke st = stroke_w(rnd_in(0.2, 30), (lb_join)(it % 3), (lb_cap)(it / 3 % 3));
        if (it % 4 == 1) {
            st.ndash = 3;
            st.dash[0] = rnd_in(0, 20);
            st.dash[1] = rnd_in(0, 20);
            st.dash[2] = rnd_in(0, 20);
            st.dash_offset = rnd_in(-50, 50);
        }
        switch (it % 3) {
        case 0: fill1(&c, xy, n, HALF); break;
        case 1: line(&c, xy, n, it % 2 == 0, &st, HALF); break;
        default: {
            double r = rnd_in(0.1, 40);
            double sw = rnd_in(0, 6);
            lb_raster_marker(&c, (lb_marker)(it % 4), xy[0], xy[1], r, RED, sw, HALF);
        }
        }
        const lb__rwork *w = c.work;
        ASSERT(w != NULL);
        for (size_t i = 0; i < w->acc_rows * ((size_t)w->w + 2); i++)
            if (w->acc[i] != 0)
                LBT__FAIL("shape %d left cell %zu at %g", it, i, w->acc[i]);
        for (size_t i = 0; i < w->acc_rows * w->words; i++)
            ASSERT_EQ(w->bits[i], 0);
        for (int j = 0; j < w->h + 2; j++) {
            ASSERT(w->lpart[j] == 0);
            ASSERT(w->lfull[j] == 0);
        }
        ASSERT_EQ(w->nseg, 0);
    }
    lb_canvas_free(&c);
}

LB_TEST(test_scratch_stays_clean)
{
    scratch_run(200, 150, 400);
    scratch_run(4096, 1100, 12); /* two bands: segments stored, converted per band */
}

/* Whether lb_raster_fill_blocks finds every block of c full: then the fill
 * must leave every pixel at exactly its colour whatever was below; checked
 * against real fills over a noisy background. */
static bool fill_covers(const lb_canvas *c, const lb_ring *rings, size_t n)
{
    lb_blocks full;
    return lb_raster_fill_blocks(c, rings, n, &full) &&
           lb_blocks_cover(&full, c, 0, 0, c->width, c->height);
}

static bool fill_leaves_only(lb_canvas *c, const lb_ring *rings, size_t n, lb_rgba col,
                             uint32_t *seed)
{
    for (size_t i = 0; i < (size_t)c->width * (size_t)c->height * 4; i += 4) {
        *seed = *seed * 1664525u + 1013904223u;
        uint8_t a = (uint8_t)(*seed >> 24), v = (uint8_t)(*seed >> 16);
        c->px[i] = c->px[i + 1] = c->px[i + 2] = (uint8_t)(v < a ? v : a);
        c->px[i + 3] = a;
    }
    lb_raster_fill(c, rings, n, col);
    for (size_t i = 0; i < (size_t)c->width * (size_t)c->height * 4; i += 4)
        if (memcmp(c->px + i, &col, 4) != 0)
            return false;
    return true;
}

LB_TEST(test_fill_covers)
{
    lb_canvas c = mk(64, 48);
    uint32_t seed = 7;
    /* a rectangle around the canvas, a pixel and a half to spare */
    double big[] = {-1.5, -1.5, 65.5, -1.5, 65.5, 49.5, -1.5, 49.5};
    lb_ring r = {big, 4};
    ASSERT(fill_covers(&c, &r, 1));
    ASSERT(fill_leaves_only(&c, &r, 1, RED, &seed));
    /* an edge inside the canvas, or within a pixel of it: not a cover */
    double in[] = {0.5, -5, 70, -5, 70, 60, 0.5, 60};
    lb_ring ri = {in, 4};
    ASSERT(!fill_covers(&c, &ri, 1));
    ASSERT(!fill_leaves_only(&c, &ri, 1, RED, &seed));
    double near[] = {-0.5, -5, 70, -5, 70, 60, -0.5, 60};
    lb_ring rn = {near, 4};
    ASSERT(!fill_covers(&c, &rn, 1));
    /* the canvas inside a hole (opposite orientation): winding 0 */
    double outer[] = {-100, -100, 200, -100, 200, 200, -100, 200};
    double hole[] = {-10, -10, -10, 60, 80, 60, 80, -10};
    lb_ring holed[2] = {{outer, 4}, {hole, 4}};
    ASSERT(!fill_covers(&c, holed, 2));
    ASSERT(!fill_leaves_only(&c, holed, 2, RED, &seed));
    /* the same ring twice (winding 2) covers; a hole away from the canvas too */
    lb_ring twice[2] = {{outer, 4}, {outer, 4}};
    ASSERT(fill_covers(&c, twice, 2));
    double far_hole[] = {100, 100, 100, 150, 150, 150, 150, 100};
    lb_ring away[2] = {{outer, 4}, {far_hole, 4}};
    ASSERT(fill_covers(&c, away, 2));
    ASSERT(fill_leaves_only(&c, away, 2, RED, &seed));
    /* a ring whose edges all miss the canvas but which lies beside it */
    double beside[] = {-50, -50, -2, -50, -2, 100, -50, 100};
    lb_ring rb = {beside, 4};
    ASSERT(!fill_covers(&c, &rb, 1));
    /* a diagonal edge that clips a corner of the canvas */
    double corner[] = {-200, 205, 205, -200, 300, -200, 300, 300, -200, 300}; /* x + y = 5 */
    lb_ring rc = {corner, 5};
    ASSERT(!fill_covers(&c, &rc, 1));
    ASSERT(!fill_leaves_only(&c, &rc, 1, RED, &seed));
    /* NaN points are skipped as the fill skips them */
    double with_nan[] = {-1.5, -1.5, NAN, 3, 65.5, -1.5, 65.5, 49.5, -1.5, 49.5};
    lb_ring rnan = {with_nan, 5};
    ASSERT(fill_covers(&c, &rnan, 1));
    ASSERT(fill_leaves_only(&c, &rnan, 1, RED, &seed));
    /* random quadrilaterals around the canvas: every "covers" is borne out
     * by the fill, and both answers occur */
    int yes = 0, no = 0;
    for (int k = 0; k < 400; k++) {
        double q[8];
        for (int i = 0; i < 4; i++) {
            seed = seed * 1664525u + 1013904223u;
            double ax = (double)(seed >> 8) / 16777216.0;
            seed = seed * 1664525u + 1013904223u;
            double ay = (double)(seed >> 8) / 16777216.0;
            /* corners 0..12 px outside the canvas's corners */
            double cx = (i == 1 || i == 2) ? 64 : 0, cy = i >= 2 ? 48 : 0;
            q[2 * i] = cx + (ax - 0.5) * 12 + ((i == 1 || i == 2) ? 6 : -6);
            q[2 * i + 1] = cy + (ay - 0.5) * 12 + (i >= 2 ? 6 : -6);
        }
        lb_ring rq = {q, 4};
        if (fill_covers(&c, &rq, 1)) {
            yes++;
            ASSERT(fill_leaves_only(&c, &rq, 1, RED, &seed));
        } else {
            no++;
        }
    }
    ASSERT(yes > 20 && no > 20);
    lb_canvas_free(&c);
}

/* ------------------------------------------------------------------------ */
/* Hard masks                                                               */
/* ------------------------------------------------------------------------ */

/* The mask of the rings on c's pixel grid; a grid of no pixels has none. */
static uint8_t *fill_mask(const lb_canvas *c, const lb_ring *rings, size_t n)
{
    uint8_t *m = malloc((size_t)c->width * (size_t)c->height);
    ASSERT(m != NULL);
    ASSERT(lb_raster_fill_mask(c->width, c->height, rings, n, m));
    ASSERT(!lb_raster_fill_mask(0, c->height, rings, n, m));
    return m;
}

/* A rectangle whose edges lie 0.001 px inside (or outside) pixel borders:
 * only the pixels entirely inside are 255, though the 99.9 % ones would
 * fill at alpha 255. */
static void check_offset_rect(lb_canvas *c, double x0, double y0)
{
    double xy[] = {x0 + 0.001, y0 + 0.001, x0 + 30.999, y0 + 0.001,
                   x0 + 30.999, y0 + 25.999, x0 + 0.001, y0 + 25.999};
    double hole[] = {x0 + 9.999, y0 + 9.999, x0 + 9.999, y0 + 15.001,
                     x0 + 20.001, y0 + 15.001, x0 + 20.001, y0 + 9.999};
    lb_ring r[2] = {{xy, 4}, {hole, 4}};
    uint8_t *m = fill_mask(c, r, 2);
    for (int y = 0; y < c->height; y++)
        for (int x = 0; x < c->width; x++) {
            double px = x - x0, py = y - y0;
            bool in = px >= 1 && px <= 29 && py >= 1 && py <= 24 &&
                      !(px >= 9 && px <= 20 && py >= 9 && py <= 15);
            if (m[(size_t)y * (size_t)c->width + (size_t)x] != (in ? 255 : 0))
                LBT__FAIL("pixel (%d, %d): mask %d, expected %d", x, y,
                          m[(size_t)y * (size_t)c->width + (size_t)x], in ? 255 : 0);
        }
    free(m);
    lb_canvas_clear(c);
    lb_raster_fill(c, r, 2, RED);
    ASSERT_EQ(A(c, (int)x0, (int)y0 + 5), 255); /* what rounding the alpha would keep */
}

/* Whether every corner of pixel (x, y) lies inside the convex polygon (n
 * points, positive shoelace area): 1 yes, 0 no, -1 a corner lies within
 * 1e-7 px of an edge's line (too close to call). */
static int corners_inside(const double *xy, size_t n, int x, int y)
{
    int all = 1;
    for (int k = 0; k < 4; k++) {
        double cx = x + (k & 1), cy = y + (k >> 1);
        for (size_t i = 0; i < n; i++) {
            const double *a = xy + 2 * i, *b = xy + 2 * ((i + 1) % n);
            double d = ((b[0] - a[0]) * (cy - a[1]) - (b[1] - a[1]) * (cx - a[0])) /
                       hypot(b[0] - a[0], b[1] - a[1]);
            if (fabs(d) < 1e-7)
                return -1;
            if (d < 0)
                all = 0;
        }
    }
    return all;
}

LB_TEST(test_fill_mask)
{
    lb_canvas c = mk(64, 48);
    check_offset_rect(&c, 10, 5);
    /* a shape around the canvas (left cover only), one beside it, none */
    double big[] = {-10, -10, 100, -10, 100, 100, -10, 100};
    lb_ring rb = {big, 4};
    uint8_t *m = fill_mask(&c, &rb, 1);
    for (size_t i = 0; i < 64 * 48; i++)
        ASSERT_EQ(m[i], 255);
    free(m);
    double left[] = {-50, -10, -1, -10, -1, 100, -50, 100};
    lb_ring rl = {left, 4};
    m = fill_mask(&c, &rl, 1);
    for (size_t i = 0; i < 64 * 48; i++)
        ASSERT_EQ(m[i], 0);
    free(m);
    m = fill_mask(&c, NULL, 0);
    for (size_t i = 0; i < 64 * 48; i++)
        ASSERT_EQ(m[i], 0);
    free(m);
    /* random convex polygons: 255 exactly where all four corners are inside */
    rng_state = 7;
    int kept = 0;
    for (int it = 0; it < 200; it++) {
        double xy[2 * 12], ang[12];
        size_t n = 3 + (size_t)(it % 10);
        for (size_t i = 0; i < n; i++)
            ang[i] = rnd_in(0, 2 * M_PI);
        for (size_t i = 1; i < n; i++) /* sorted: a convex polygon */
            for (size_t j = i; j > 0 && ang[j - 1] > ang[j]; j--) {
                double t = ang[j];
                ang[j] = ang[j - 1];
                ang[j - 1] = t;
            }
        double cx = rnd_in(10, 54), cy = rnd_in(10, 38), r = rnd_in(2, 30);
        for (size_t i = 0; i < n; i++) {
            xy[2 * i] = cx + r * cos(ang[i]);
            xy[2 * i + 1] = cy + r * sin(ang[i]);
        }
        lb_ring rr = {xy, n};
        m = fill_mask(&c, &rr, 1);
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 64; x++) {
                int want = corners_inside(xy, n, x, y);
                unsigned got = m[(size_t)y * 64 + (size_t)x];
                if (want >= 0 && got != (want ? 255u : 0u))
                    LBT__FAIL("polygon %d, pixel (%d, %d): mask %u, corners inside: %d", it, x,
                              y, got, want);
                kept += want == 1;
            }
        free(m);
    }
    ASSERT(kept > 1000);
    lb_canvas_free(&c);
    /* a canvas of two bands (segments stored, converted band by band), the
     * rectangle across their border at row 1024 */
    lb_canvas wide = mk(4096, 1100);
    check_offset_rect(&wide, 3000, 1010);
    lb_canvas_free(&wide);
}

LB_TESTS(test_rgba, test_canvas_basics, test_over, test_over_random, test_mask, test_rect_exact,
         test_rect_fractional, test_half_canvas, test_area_random, test_holes, test_multipolygon,
         test_seamless_tiles, test_far_and_huge, test_nan, test_fill_compositing,
         test_line_width_caps, test_joins, test_closed_stroke, test_dashes, test_huge_stroke,
         test_no_darkening, test_degenerate_strokes, test_markers, test_circle_accuracy,
         test_exact_vs_reference, test_multiband, test_scratch_stays_clean, test_fill_covers,
         test_fill_mask)
