/*
 * Tests for lagebild's own deflate encoder (tiler/zfast.c), the IDAT stream
 * of PNG levels 1 and 2.  Every stream is decoded with zlib's inflate (an
 * independent decoder that rejects incomplete or over-subscribed Huffman
 * codes, bad distances and wrong Adler-32 checksums) and compared byte for
 * byte with the unfiltered image the encoder was given: per row a filter
 * byte 0 and the row.
 *
 * Covered: all-zero images (closed-form checksum, chained row matches),
 * noise (literals only, many blocks), runs and repeated rows at both pixel
 * sizes, every width 1-40 and height 1-6 with mixed content, the largest
 * accepted width and the first refused one, skewed literal frequencies,
 * the code-length builder itself (Fibonacci counts whose Huffman code would
 * be 29 bits deep must come out at most 15 / 7 bits and complete), rows
 * that the callback marks as zero, rows the callback says repeat the one
 * before (same pointer; the scratch row must never be that row), and reuse
 * of one encoder state.
 */
#include <zlib.h>

#include "lbtest.h"
#include "../tiler/zfast.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

typedef struct img {
    size_t w, h;
    int bpp;
    uint8_t *px;    /* h rows of w * bpp bytes */
    bool mark_zero; /* the callback reports zero rows */
    bool reuse;     /* a row equal to the one before: the same pointer again */
    size_t calls;
    const uint8_t *last; /* what the callback returned for the previous row */
} img;

static const uint8_t *row_cb(void *ud, size_t y, uint8_t *scratch, bool *zero)
{
    img *m = ud;
    size_t rb = m->w * (size_t)m->bpp;
    m->calls++;
    const uint8_t *row = m->px + y * rb;
    /* the encoder's promise: scratch never holds the previous row */
    ASSERT(!m->last || scratch != m->last);
    if (m->reuse && y > 0 && memcmp(row, row - rb, rb) == 0) {
        *zero = false;
        return m->last; /* unchanged since */
    }
    if (m->mark_zero) {
        bool z = true;
        for (size_t i = 0; i < rb && z; i++)
            z = row[i] == 0;
        *zero = z;
    }
    /* odd rows through the scratch row, as png.c does for converted rows */
    if (y & 1) {
        memcpy(scratch, row, rb);
        return m->last = scratch;
    }
    return m->last = row;
}

static img mk(size_t w, size_t h, int bpp)
{
    img m = {.w = w, .h = h, .bpp = bpp};
    m.px = calloc(w * h * (size_t)bpp + 1, 1);
    ASSERT(m.px);
    return m;
}

/* encode with z, inflate with zlib, compare; returns the stream length */
static size_t roundtrip(lb_zfast *z, img *m, const char *what)
{
    size_t rb = m->w * (size_t)m->bpp, raw = (rb + 1) * m->h;
    m->calls = 0;
    m->last = NULL;
    size_t n = lb_zfast_compress(z, m->w, m->h, m->bpp, row_cb, m);
    if (n == 0)
        LBT__FAIL("%s: encoder refused %zux%zu bpp %d", what, m->w, m->h, m->bpp);
    ASSERT_EQ(m->calls, m->h); /* each row asked for once */
    uint8_t *want = malloc(raw), *got = malloc(raw + 16);
    ASSERT(want && got);
    for (size_t y = 0; y < m->h; y++) {
        want[y * (rb + 1)] = 0;
        memcpy(want + y * (rb + 1) + 1, m->px + y * rb, rb);
    }
    uLongf glen = (uLongf)(raw + 16);
    int zr = uncompress(got, &glen, z->out, (uLong)n);
    if (zr != Z_OK)
        LBT__FAIL("%s: %zux%zu bpp %d: zlib inflate says %d (%s)", what, m->w, m->h, m->bpp, zr,
                  zr == Z_DATA_ERROR ? "data error" : "other");
    ASSERT_EQ((size_t)glen, raw);
    for (size_t i = 0; i < raw; i++)
        if (got[i] != want[i])
            LBT__FAIL("%s: %zux%zu bpp %d: byte %zu is %u, want %u", what, m->w, m->h, m->bpp, i,
                      got[i], want[i]);
    free(want);
    free(got);
    return n;
}

LB_TEST(test_zero_images_are_tiny)
{
    lb_zfast z = {0};
    for (int bpp = 1; bpp <= 4; bpp += 3)
        for (int marked = 0; marked < 2; marked++) {
            img m = mk(512, 512, bpp);
            m.mark_zero = marked;
            size_t n = roundtrip(&z, &m, "zero");
            /* 1 MiB of zeros: chained row matches of 258 bytes, ~2 bits each */
            if (n > 2048)
                LBT__FAIL("zero 512x512 bpp %d: %zu bytes, want at most 2048", bpp, n);
            free(m.px);
        }
    lb_zfast_free(&z);
}

LB_TEST(test_noise_spans_many_blocks)
{
    lb_zfast z = {0};
    img m = mk(512, 512, 4);
    for (size_t i = 0; i < 512 * 512 * 4; i++)
        m.px[i] = (uint8_t)rnd();
    size_t n = roundtrip(&z, &m, "noise");
    /* literals only: about 8 bits each plus block headers */
    ASSERT(n > 512 * 512 * 4 * 9 / 10);
    free(m.px);
    lb_zfast_free(&z);
}

/* a map-like image: transparent, horizontal bands, boxes of one colour, a
 * few random pixels, rows repeated */
static void paint(img *m)
{
    size_t rb = m->w * (size_t)m->bpp;
    for (size_t y = 0; y < m->h; y++) {
        uint8_t *row = m->px + y * rb;
        unsigned kind = rnd() % 5;
        if (kind == 0 || y == 0)
            continue; /* transparent */
        if (kind == 1) {
            memcpy(row, row - rb, rb); /* repeat the row above */
            continue;
        }
        size_t x0 = rnd() % m->w, x1 = x0 + rnd() % (m->w - x0 + 1);
        uint8_t col[4] = {(uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd()};
        for (size_t x = x0; x < x1; x++)
            memcpy(row + x * (size_t)m->bpp, col, (size_t)m->bpp);
        if (kind == 3)
            for (int k = 0; k < 3; k++)
                row[rnd() % rb] = (uint8_t)rnd();
    }
}

LB_TEST(test_every_small_size)
{
    lb_zfast z = {0};
    for (int bpp = 1; bpp <= 4; bpp += 3)
        for (size_t w = 1; w <= 40; w++)
            for (size_t h = 1; h <= 6; h++)
                for (int rep = 0; rep < 3; rep++) {
                    img m = mk(w, h, bpp);
                    m.mark_zero = rep == 1;
                    m.reuse = rep == 2;
                    paint(&m);
                    roundtrip(&z, &m, "small");
                    free(m.px);
                }
    lb_zfast_free(&z);
}

LB_TEST(test_tile_like_images)
{
    lb_zfast z = {0};
    for (int bpp = 1; bpp <= 4; bpp += 3)
        for (size_t s = 256; s <= 1024; s *= 2) {
            for (int reuse = 0; reuse < 2; reuse++) {
                img m = mk(s, s, bpp);
                m.mark_zero = !reuse;
                m.reuse = reuse;
                paint(&m);
                roundtrip(&z, &m, "tile-like");
                free(m.px);
            }
        }
    lb_zfast_free(&z);
}

LB_TEST(test_widest_row)
{
    lb_zfast z = {0};
    /* 8191 RGBA pixels: a row stride of 32765 bytes, within deflate's
     * 32 KiB window; 8192 pixels is refused (the caller falls back) */
    img m = mk(8191, 3, 4);
    paint(&m);
    for (size_t i = 0; i < 8191 * 4; i++)
        m.px[2 * 8191 * 4 + i] = m.px[i]; /* row 2 repeats row 0: no UP match */
    roundtrip(&z, &m, "widest");
    free(m.px);
    img big = mk(8192, 2, 4);
    ASSERT_EQ(lb_zfast_compress(&z, 8192, 2, 4, row_cb, &big), 0u);
    free(big.px);
    img p = mk(32767, 2, 1);
    paint(&p);
    roundtrip(&z, &p, "widest palette");
    free(p.px);
    lb_zfast_free(&z);
}

LB_TEST(test_skewed_frequencies_limit_code_lengths)
{
    /* literal k occurs about fib(k) times: Huffman's optimal code would give
     * the rarest symbols more than 15 bits; the encoder must clamp and keep
     * the code complete, or inflate rejects the block */
    lb_zfast z = {0};
    size_t fib[24] = {1, 1};
    for (int k = 2; k < 24; k++)
        fib[k] = fib[k - 1] + fib[k - 2];
    size_t total = 0;
    for (int k = 0; k < 22; k++)
        total += fib[k];
    uint8_t *seq = malloc(total);
    ASSERT(seq);
    /* most frequent first, into the even positions and then the odd ones:
     * no byte equals its left neighbour (no RUN), and with an odd width
     * hardly any equals the one above (no UP), so all are literals */
    size_t n = 0;
    for (int k = 21; k >= 0; k--)
        for (size_t i = 0; i < fib[k]; i++) {
            size_t pos = n < (total + 1) / 2 ? 2 * n : 2 * (n - (total + 1) / 2) + 1;
            seq[pos] = (uint8_t)(k * 11 + 1);
            n++;
        }
    for (size_t i = 1; i < n; i++)
        ASSERT(seq[i] != seq[i - 1]);
    size_t w = 997, h = (n + w - 1) / w;
    img m = mk(w, h, 1);
    memcpy(m.px, seq, n);
    roundtrip(&z, &m, "skewed");
    free(m.px);
    free(seq);
    lb_zfast_free(&z);
}

/* Kraft sum of the lengths, in units of 2^-15; 0 lengths do not count */
static uint32_t kraft(const uint8_t *len, int n)
{
    uint32_t k = 0;
    for (int i = 0; i < n; i++)
        if (len[i])
            k += 32768u >> len[i];
    return k;
}

LB_TEST(test_code_lengths_limited_and_complete)
{
    /* Fibonacci frequencies give Huffman's deepest tree: 30 symbols would
     * need 29 bits */
    uint32_t f[286] = {0};
    uint8_t len[286];
    f[0] = f[1] = 1;
    for (int i = 2; i < 30; i++)
        f[i] = f[i - 1] + f[i - 2];
    for (unsigned limit = 7; limit <= 15; limit += 8) {
        lb_zfast__lengths(f, 30, limit, len);
        for (int i = 0; i < 30; i++)
            if (len[i] < 1 || len[i] > limit)
                LBT__FAIL("limit %u: symbol %d got length %u", limit, i, len[i]);
        ASSERT_EQ(kraft(len, 30), 32768u); /* complete, not over-subscribed */
        /* more frequent never longer */
        for (int i = 1; i < 30; i++)
            ASSERT(len[i] <= len[i - 1]);
    }
    /* without the limit's effect: exact Huffman, 29 symbols of a
     * caterpillar would need lengths up to 28, so compare a small case */
    uint32_t g[286] = {5, 9, 12, 13, 16, 45};
    lb_zfast__lengths(g, 6, 15, len);
    /* Huffman's textbook example: 45 -> 1 bit, 12/13/16 -> 3, 5/9 -> 4 */
    const uint8_t want[6] = {4, 4, 3, 3, 3, 1};
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(len[i], want[i]);
    /* unused symbols get 0; one used symbol gets 1 */
    uint32_t one[286] = {0};
    one[7] = 42;
    lb_zfast__lengths(one, 286, 15, len);
    for (int i = 0; i < 286; i++)
        ASSERT_EQ(len[i], i == 7 ? 1 : 0);
    /* all 286 symbols with equal counts: 30 of 8 bits and 256 of 9 bits */
    uint32_t flat[286];
    for (int i = 0; i < 286; i++)
        flat[i] = 100;
    lb_zfast__lengths(flat, 286, 15, len);
    ASSERT_EQ(kraft(len, 286), 32768u);
    for (int i = 0; i < 286; i++)
        ASSERT(len[i] == 8 || len[i] == 9);
}

LB_TEST(test_state_is_reusable)
{
    /* one state, images of different sizes and pixel sizes in turn: buffers
     * grow and are reused, nothing of one image leaks into the next */
    lb_zfast z = {0};
    for (int i = 0; i < 20; i++) {
        size_t w = 1 + rnd() % 600, h = 1 + rnd() % 300;
        int bpp = rnd() % 2 ? 4 : 1;
        img m = mk(w, h, bpp);
        m.mark_zero = i % 2;
        m.reuse = i % 4 < 2;
        if (i % 3)
            paint(&m);
        else
            for (size_t k = 0; k < w * h * (size_t)bpp; k++)
                m.px[k] = (uint8_t)(rnd() % 3); /* short runs of few values */
        roundtrip(&z, &m, "reuse");
        free(m.px);
    }
    lb_zfast_free(&z);
}

LB_TESTS(test_zero_images_are_tiny, test_noise_spans_many_blocks, test_every_small_size,
         test_tile_like_images, test_widest_row, test_skewed_frequencies_limit_code_lengths,
         test_code_lengths_limited_and_complete, test_state_is_reusable)
