/*
 * This file implements lagebild's own deflate encoder for PNG tiles
 * (zfast.h; docs/decisions.md, "Own deflate encoder for tiles").
 *
 * A rendered map tile is mostly transparent rows, flat fills and
 * anti-aliased edges.  A general LZ77 matcher (zlib, libdeflate) hashes
 * every byte of it looking for matches anywhere in the last 32 kB; nearly
 * all the matches it finds are of two kinds: the pixel to the left (a run of
 * one colour) and the pixel above (the row repeats).  This encoder looks
 * only for those two:
 *
 *   - UP:  the bytes equal the bytes one row above (distance = row stride,
 *          the filter byte included, so identical rows chain into one
 *          match);
 *   - RUN: the bytes equal the bytes one pixel to the left (distance bpp).
 *
 * Everything else is a literal.  Matching is a word-wise comparison of two
 * rows, so a transparent row costs a memcmp at most, and two transparent
 * rows in a row are one match without looking at them at all (the row
 * callback says the row is zero).  The tokens of up to BLOCK_TOKENS go into
 * one dynamic-Huffman block whose codes are built from their frequencies
 * (length-limited to 15 bits, 7 for the code-length code, and always
 * complete, as zlib's inflate requires).  The Adler-32 checksum is
 * libdeflate's (vectorised); for zero rows it is computed in closed form.
 *
 * The output is an ordinary zlib stream: any PNG decoder reads it.  It is
 * somewhat larger than zlib's at level 2 on tiles with much texture (no
 * matches at other distances) and several times faster on all tiles.
 */
#include "zfast.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>
#if defined(__AVX2__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#define BLOCK_TOKENS 32768
#define MAX_MATCH 258
#define NLITLEN 286
#define NDIST 30
#define NCL 19

enum { SEL_RUN = 0, SEL_UP = 1 };

/* an UP match this long (bytes) is taken without also measuring the run */
#define UP_ENOUGH 64

/* a token: a literal byte (0-255) or a match 256 + (len - 3) * 2 + sel */
#define MATCH_TOKEN(len, sel) ((uint16_t)(256 + ((len)-3) * 2 + (sel)))

/* ---- static tables -------------------------------------------------------- */

static uint16_t len_sym[MAX_MATCH + 1];
static uint8_t len_xbits[MAX_MATCH + 1];
static uint16_t len_xval[MAX_MATCH + 1];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static const uint16_t dist_base[NDIST] = {1,    2,    3,    4,    5,    7,     9,     13,
                                          17,   25,   33,   49,   65,   97,    129,   193,
                                          257,  385,  513,  769,  1025, 1537,  2049,  3073,
                                          4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_xbits[NDIST] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                          6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static void init_tables(void)
{
    static const uint16_t base[29] = {3,  4,  5,  6,  7,  8,  9,  10,  11,  13,
                                      15, 17, 19, 23, 27, 31, 35, 43,  51,  59,
                                      67, 83, 99, 115, 131, 163, 195, 227, 258};
    static const uint8_t xb[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                   2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    for (int c = 0; c < 29; c++) {
        /* code 284 covers 227-257; 258 has its own code 285 */
        int hi = c == 28 ? 258 : c == 27 ? 257 : base[c + 1] - 1;
        for (int l = base[c]; l <= hi; l++) {
            len_sym[l] = (uint16_t)(257 + c);
            len_xbits[l] = xb[c];
            len_xval[l] = (uint16_t)(l - base[c]);
        }
    }
}

/* distance symbol, extra bits and their value of distance d (1..32768) */
static void dist_code(size_t d, unsigned *sym, unsigned *xb, unsigned *xv)
{
    unsigned c = NDIST - 1;
    while (dist_base[c] > d)
        c--;
    *sym = c;
    *xb = dist_xbits[c];
    *xv = (unsigned)(d - dist_base[c]);
}

/* ---- Huffman codes ---------------------------------------------------------- */

/* a leaf as one sortable key: frequency above, symbol below (9 bits) */
typedef uint64_t leaf;
#define LEAF(freq, sym) (((uint64_t)(freq) << 9) | (sym))
#define LEAF_FREQ(l) ((uint32_t)((l) >> 9))
#define LEAF_SYM(l) ((uint16_t)((l)&511u))

/* ascending by frequency, equal frequencies in the order given (the
 * callers give ascending symbols, so this is the order of the keys): a
 * stable radix sort on the frequency's bytes, as many passes as the largest
 * frequency has bytes (two for a block's counts).  At most NLITLEN keys.  A
 * Shell sort of the keys took a fifth of the block's Huffman work in the
 * profile (bench/README.md, session 9): its compares are unpredictable. */
static void sort_leaves(leaf *v, int n)
{
    leaf tmp[NLITLEN];
    uint32_t all = 0;
    for (int i = 0; i < n; i++)
        all |= LEAF_FREQ(v[i]);
    leaf *src = v, *dst = tmp;
    for (unsigned sh = 0; sh < 32 && (all >> sh) != 0; sh += 8) {
        unsigned at[256] = {0};
        for (int i = 0; i < n; i++)
            at[(LEAF_FREQ(src[i]) >> sh) & 255u]++;
        unsigned pos = 0;
        for (int b = 0; b < 256; b++) {
            unsigned c = at[b];
            at[b] = pos;
            pos += c;
        }
        for (int i = 0; i < n; i++)
            dst[at[(LEAF_FREQ(src[i]) >> sh) & 255u]++] = src[i];
        leaf *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, (size_t)n * sizeof *v);
}

/*
 * Code lengths (at most limit bits) for the n symbols with frequencies
 * freq: 0 for unused symbols.  With two or more used symbols the code is
 * complete (Kraft sum exactly 1); with one, that symbol gets length 1.
 * Huffman's construction (two queues over the sorted leaves), then, when a
 * length exceeds the limit, lengths are clamped and the Kraft sum repaired:
 * the longest codes below the limit are lengthened until the sum fits, and
 * the most frequent symbols shortened while that keeps it within 1.
 */
static void huff_lengths(const uint32_t *freq, int n, unsigned limit, uint8_t *len)
{
    leaf lv[NLITLEN];
    uint32_t w[2 * NLITLEN];
    int parent[2 * NLITLEN];
    unsigned depth[2 * NLITLEN];
    int m = 0;
    memset(len, 0, (size_t)n);
    for (int i = 0; i < n; i++)
        if (freq[i])
            lv[m++] = LEAF(freq[i], (unsigned)i);
    if (m == 0)
        return;
    if (m == 1) {
        len[LEAF_SYM(lv[0])] = 1;
        return;
    }
    sort_leaves(lv, m);
    for (int i = 0; i < m; i++)
        w[i] = LEAF_FREQ(lv[i]);
    int nl = 0, ni = m;
    for (int next = m; next < 2 * m - 1; next++) {
        int pick[2];
        for (int k = 0; k < 2; k++) {
            if (nl < m && (ni >= next || w[nl] <= w[ni]))
                pick[k] = nl++;
            else
                pick[k] = ni++;
        }
        w[next] = w[pick[0]] + w[pick[1]];
        parent[pick[0]] = parent[pick[1]] = next;
    }
    int root = 2 * m - 2;
    depth[root] = 0;
    for (int i = root - 1; i >= 0; i--)
        depth[i] = depth[parent[i]] + 1;
    const uint32_t one = 1u << limit;
    uint32_t kraft = 0;
    uint8_t l[NLITLEN];
    for (int i = 0; i < m; i++) {
        l[i] = (uint8_t)(depth[i] < limit ? depth[i] : limit);
        kraft += one >> l[i];
    }
    while (kraft > one) {
        /* lengthen the longest code below the limit (the least frequent of
         * those: leaves are in ascending frequency) */
        int best = -1;
        for (int i = 0; i < m; i++)
            if (l[i] < limit && (best < 0 || l[i] > l[best]))
                best = i;
        kraft -= (one >> l[best]) >> 1;
        l[best]++;
    }
    while (kraft < one) {
        /* shorten the most frequent code whose gain still fits; the longest
         * code's gain always does (the deficit is a multiple of it) */
        int best = -1;
        for (int i = m - 1; i >= 0 && best < 0; i--)
            if (l[i] > 1 && (one >> l[i]) <= one - kraft)
                best = i;
        if (best < 0)
            break;
        kraft += one >> l[best];
        l[best]--;
    }
    for (int i = 0; i < m; i++)
        len[LEAF_SYM(lv[i])] = l[i];
}

void lb_zfast__lengths(const uint32_t *freq, int n, unsigned limit, uint8_t *len)
{
    if (n > 0 && n <= NLITLEN && limit >= 1 && limit <= 15)
        huff_lengths(freq, n, limit, len);
}

/* canonical codes of the lengths, bit-reversed for deflate's LSB-first
 * bit order */
static void huff_codes(const uint8_t *len, int n, uint16_t *code)
{
    uint16_t count[16] = {0}, next[16];
    for (int i = 0; i < n; i++)
        count[len[i]]++;
    count[0] = 0;
    uint16_t c = 0;
    for (int b = 1; b < 16; b++) {
        c = (uint16_t)((c + count[b - 1]) << 1);
        next[b] = c;
    }
    for (int i = 0; i < n; i++) {
        if (!len[i]) {
            code[i] = 0;
            continue;
        }
        uint16_t v = next[len[i]]++, r = 0;
        for (unsigned b = 0; b < len[i]; b++)
            r = (uint16_t)((r << 1) | ((v >> b) & 1));
        code[i] = r;
    }
}

/* ---- bit output ---------------------------------------------------------- */

typedef struct bits {
    uint8_t *p;
    uint64_t acc;
    unsigned n;
} bits;

static inline void put(bits *b, uint32_t v, unsigned n)
{
    b->acc |= (uint64_t)v << b->n;
    b->n += n;
    if (b->n >= 32) {
        uint32_t lo = (uint32_t)b->acc;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(b->p, &lo, 4);
#else
        b->p[0] = (uint8_t)lo;
        b->p[1] = (uint8_t)(lo >> 8);
        b->p[2] = (uint8_t)(lo >> 16);
        b->p[3] = (uint8_t)(lo >> 24);
#endif
        b->p += 4;
        b->acc >>= 32;
        b->n -= 32;
    }
}

/* the remaining bits, padded to a byte */
static void put_flush(bits *b)
{
    while (b->n > 0) {
        *b->p++ = (uint8_t)b->acc;
        b->acc >>= 8;
        b->n = b->n > 8 ? b->n - 8 : 0;
    }
    b->acc = 0;
}

/* ---- the encoder ------------------------------------------------------------ */

/* the output of one token value: a then b, na and nb bits */
typedef struct tokcode {
    uint32_t a, b;
    uint8_t na, nb;
} tokcode;

#define NTOKVALS (256 + 256 * 2) /* literals, then matches of length 3-258 x 2 */

typedef struct enc {
    lb_zfast *z;
    tokcode tc[NTOKVALS];
    bits b;
    size_t ntok;
    uint32_t lfreq[NLITLEN];
    /* literals of whole pixels (lit4), counted per byte lane so that the
     * increments of equal bytes (alpha 255, say) do not wait for each
     * other; added into lfreq when a block is coded */
    uint32_t lane[4][256];
    bool lanes; /* lane holds counts */
    uint32_t selcnt[2];
    unsigned dsym[2], dxb[2], dxv[2];
    int pend_sel; /* -1: no pending match */
    size_t pend_len;
    bool oom;
} enc;

/* room for n more bytes of output after the bit pointer */
static bool out_room(enc *e, size_t n)
{
    lb_zfast *z = e->z;
    size_t used = (size_t)(e->b.p - z->out);
    if (z->out_cap - used >= n)
        return true;
    size_t cap = z->out_cap * 2 > used + n ? z->out_cap * 2 : used + n;
    uint8_t *p = realloc(z->out, cap);
    if (!p)
        return false;
    z->out = p;
    z->out_cap = cap;
    e->b.p = p + used;
    return true;
}

static void emit_block(enc *e, bool final)
{
    /* header at most ~570 bytes, a token at most 48 bits */
    if (e->oom || !out_room(e, e->ntok * 6 + 1024)) {
        e->oom = true;
        e->ntok = 0;
        return;
    }
    uint32_t dfreq[NDIST] = {0};
    for (int s = 0; s < 2; s++)
        dfreq[e->dsym[s]] += e->selcnt[s];
    if (e->lanes) {
        for (int v = 0; v < 256; v++)
            e->lfreq[v] += e->lane[0][v] + e->lane[1][v] + e->lane[2][v] + e->lane[3][v];
        memset(e->lane, 0, sizeof e->lane);
        e->lanes = false;
    }
    e->lfreq[256] = 1; /* end of block */
    uint8_t llen[NLITLEN], dlen[NDIST];
    uint16_t lcode[NLITLEN], dcode[NDIST];
    huff_lengths(e->lfreq, NLITLEN, 15, llen);
    huff_lengths(dfreq, NDIST, 15, dlen);
    if (!e->selcnt[0] && !e->selcnt[1])
        dlen[0] = 1; /* no matches: one distance code, as deflate permits */
    huff_codes(llen, NLITLEN, lcode);
    huff_codes(dlen, NDIST, dcode);

    int hlit = NLITLEN, hdist = NDIST;
    while (hlit > 257 && !llen[hlit - 1])
        hlit--;
    while (hdist > 1 && !dlen[hdist - 1])
        hdist--;
    uint8_t all[NLITLEN + NDIST];
    memcpy(all, llen, (size_t)hlit);
    memcpy(all + hlit, dlen, (size_t)hdist);
    int nall = hlit + hdist;
    /* run-length code of the lengths: symbols 0-15, 16 (repeat the previous
     * 3-6 times), 17 (3-10 zeros), 18 (11-138 zeros) */
    uint8_t rs[NLITLEN + NDIST], rx[NLITLEN + NDIST];
    int nr = 0;
    uint32_t cfreq[NCL] = {0};
    for (int i = 0; i < nall;) {
        uint8_t l = all[i];
        int run = 1;
        while (i + run < nall && all[i + run] == l)
            run++;
        i += run;
        if (l == 0) {
            while (run >= 11) {
                int r = run < 138 ? run : 138;
                rs[nr] = 18, rx[nr++] = (uint8_t)(r - 11);
                run -= r;
            }
            if (run >= 3) {
                rs[nr] = 17, rx[nr++] = (uint8_t)(run - 3);
                run = 0;
            }
        } else {
            rs[nr] = l, rx[nr++] = 0;
            run--;
            while (run >= 3) {
                int r = run < 6 ? run : 6;
                rs[nr] = 16, rx[nr++] = (uint8_t)(r - 3);
                run -= r;
            }
        }
        while (run-- > 0)
            rs[nr] = l, rx[nr++] = 0;
    }
    for (int k = 0; k < nr; k++)
        cfreq[rs[k]]++;
    /* zlib's inflate wants a complete code-length code: at least two
     * symbols */
    int used = 0;
    for (int s = 0; s < NCL; s++)
        used += cfreq[s] != 0;
    if (used < 2)
        cfreq[cfreq[0] ? 1 : 0] = 1;
    uint8_t clen[NCL];
    uint16_t ccode[NCL];
    huff_lengths(cfreq, NCL, 7, clen);
    huff_codes(clen, NCL, ccode);
    static const uint8_t order[NCL] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    int hclen = NCL;
    while (hclen > 4 && !clen[order[hclen - 1]])
        hclen--;

    bits *b = &e->b;
    put(b, final ? 1u : 0u, 1);
    put(b, 2, 2); /* dynamic Huffman */
    put(b, (uint32_t)(hlit - 257), 5);
    put(b, (uint32_t)(hdist - 1), 5);
    put(b, (uint32_t)(hclen - 4), 4);
    for (int k = 0; k < hclen; k++)
        put(b, clen[order[k]], 3);
    for (int k = 0; k < nr; k++) {
        put(b, ccode[rs[k]], clen[rs[k]]);
        if (rs[k] == 16)
            put(b, rx[k], 2);
        else if (rs[k] == 17)
            put(b, rx[k], 3);
        else if (rs[k] == 18)
            put(b, rx[k], 7);
    }
    /* per token value: its bits as two fields (the literal/length code with
     * its extra bits; the distance code with its extra bits, none for a
     * literal), so that the loop below has no branch on the token kind */
    uint32_t dbits[2];
    unsigned dn[2];
    for (int s = 0; s < 2; s++) {
        dbits[s] = dcode[e->dsym[s]] | ((uint32_t)e->dxv[s] << dlen[e->dsym[s]]);
        dn[s] = dlen[e->dsym[s]] + e->dxb[s];
    }
    tokcode *tc = e->tc;
    for (unsigned t = 0; t < 256; t++)
        tc[t] = (tokcode){lcode[t], 0, llen[t], 0};
    for (unsigned t = 256; t < NTOKVALS; t++) {
        unsigned m = t - 256, len = (m >> 1) + 3, sel = m & 1, s = len_sym[len];
        tc[t] = (tokcode){lcode[s] | ((uint32_t)len_xval[len] << llen[s]), dbits[sel],
                          (uint8_t)(llen[s] + len_xbits[len]), (uint8_t)dn[sel]};
    }
    const uint16_t *tok = e->z->tok;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* at most 7 + 20 + 28 bits in the accumulator: after each token, all
     * whole bytes go out with one 8-byte store (out_room left the slack) */
    uint64_t acc = b->acc;
    unsigned n = b->n;
    uint8_t *p = b->p;
    while (n >= 8) { /* whole bytes put() left */
        *p++ = (uint8_t)acc;
        acc >>= 8;
        n -= 8;
    }
    for (size_t k = 0; k < e->ntok; k++) {
        const tokcode *c = &tc[tok[k]];
        acc |= (uint64_t)c->a << n;
        n += c->na;
        acc |= (uint64_t)c->b << n;
        n += c->nb;
        memcpy(p, &acc, 8);
        p += n >> 3;
        acc >>= n & ~7u;
        n &= 7;
    }
    b->acc = acc;
    b->n = n;
    b->p = p;
#else
    for (size_t k = 0; k < e->ntok; k++) {
        const tokcode *c = &tc[tok[k]];
        put(b, c->a, c->na);
        put(b, c->b, c->nb);
    }
#endif
    put(b, lcode[256], llen[256]);
    e->ntok = 0;
    memset(e->lfreq, 0, sizeof e->lfreq);
    e->selcnt[0] = e->selcnt[1] = 0;
}

static inline void push_tok(enc *e, uint16_t t)
{
    e->z->tok[e->ntok++] = t;
    if (e->ntok == BLOCK_TOKENS)
        emit_block(e, false);
}

static void flush_pend(enc *e)
{
    size_t n = e->pend_len;
    int sel = e->pend_sel;
    while (n > 0) {
        size_t take = n;
        if (n > MAX_MATCH)
            take = n - MAX_MATCH < 3 ? n - 3 : MAX_MATCH; /* never leave 1 or 2 */
        e->lfreq[len_sym[take]]++;
        e->selcnt[sel]++;
        push_tok(e, MATCH_TOKEN(take, sel));
        n -= take;
    }
    e->pend_len = 0;
    e->pend_sel = -1;
}

static inline void lit(enc *e, uint8_t v)
{
    if (e->pend_sel >= 0)
        flush_pend(e);
    e->lfreq[v]++;
    push_tok(e, v);
}

/* the 4 bytes at p as literals */
static inline void lit4(enc *e, const uint8_t *p)
{
    if (e->pend_sel >= 0)
        flush_pend(e);
    if (e->ntok + 4 > BLOCK_TOKENS) {
        for (int i = 0; i < 4; i++) {
            e->lfreq[p[i]]++;
            push_tok(e, p[i]);
        }
        return;
    }
    e->lanes = true;
    e->lane[0][p[0]]++;
    e->lane[1][p[1]]++;
    e->lane[2][p[2]]++;
    e->lane[3][p[3]]++;
    uint16_t *t = e->z->tok + e->ntok;
    t[0] = p[0];
    t[1] = p[1];
    t[2] = p[2];
    t[3] = p[3];
    e->ntok += 4;
    if (e->ntok == BLOCK_TOKENS)
        emit_block(e, false);
}

/* n >= 3 bytes equal to those at the selector's distance, following what
 * was coded so far */
static inline void match(enc *e, int sel, size_t n)
{
    if (e->pend_sel != sel) {
        if (e->pend_sel >= 0)
            flush_pend(e);
        e->pend_sel = sel;
    }
    e->pend_len += n;
}

/* bytes from the start where a and b agree (at most n): 32 bytes per step
 * with AVX2 (x86-64-v3 builds) or SSE2 (every x86-64 has it), else 8 */
static inline size_t eq_len(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i = 0;
#if defined(__AVX2__)
    /* a build for x86-64-v3 (CMakeLists.txt): one 32-byte compare */
    for (; i + 32 <= n; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(b + i));
        uint32_t m = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, y));
        if (m != 0xffffffffu)
            return i + (unsigned)__builtin_ctz(~m);
    }
#elif defined(__SSE2__)
    for (; i + 32 <= n; i += 32) {
        __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)(a + i));
        __m128i y0 = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(a + i + 16));
        __m128i y1 = _mm_loadu_si128((const __m128i *)(const void *)(b + i + 16));
        unsigned m0 = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x0, y0));
        unsigned m1 = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x1, y1));
        uint32_t m = m0 | (m1 << 16);
        if (m != 0xffffffffu)
            return i + (unsigned)__builtin_ctz(~m);
    }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return i + ((unsigned)__builtin_ctzll(x ^ y) >> 3);
    }
#endif
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* the first 3 bytes of a 32-bit word loaded from memory */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LOW3 0xffffff00u
#else
#define LOW3 0x00ffffffu
#endif

static bool bytes_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Adler-32 after n zero bytes: the sum a stays, b grows by n * a */
static uint32_t adler_zeros(uint32_t adler, size_t n)
{
    uint64_t a = adler & 0xffffu, b = adler >> 16;
    b = (b + (uint64_t)(n % 65521u) * a) % 65521u;
    return (uint32_t)(b << 16 | a);
}

size_t lb_zfast_compress(lb_zfast *z, size_t w, size_t h, int bpp, lb_zfast_row_fn rowfn, void *ud)
{
    pthread_once(&tables_once, init_tables);
    if (w == 0 || h == 0 || (bpp != 1 && bpp != 4) || w > 32767 / (size_t)bpp)
        return 0;
    size_t rowbytes = w * (size_t)bpp, stride = rowbytes + 1;
    if (!z->tok && !(z->tok = malloc(BLOCK_TOKENS * sizeof *z->tok)))
        return 0;
    if (z->scratch_cap < 2 * rowbytes) {
        free(z->scratch);
        z->scratch = malloc(2 * rowbytes);
        z->scratch_cap = z->scratch ? 2 * rowbytes : 0;
        if (!z->scratch)
            return 0;
    }
    if (z->out_cap < 4096) {
        free(z->out);
        z->out = malloc(65536);
        z->out_cap = z->out ? 65536 : 0;
        if (!z->out)
            return 0;
    }
    enc e = {.z = z, .pend_sel = -1};
    e.b.p = z->out;
    z->out[0] = 0x78; /* deflate, 32 kB window */
    z->out[1] = 0x01; /* fastest compression; (0x7801 % 31) == 0 */
    e.b.p += 2;
    dist_code((size_t)bpp, &e.dsym[SEL_RUN], &e.dxb[SEL_RUN], &e.dxv[SEL_RUN]);
    dist_code(stride, &e.dsym[SEL_UP], &e.dxb[SEL_UP], &e.dxv[SEL_UP]);

    uint32_t adler = 1;
    const uint8_t *prev = NULL;
    bool prev_zero = false;
    for (size_t y = 0; y < h && !e.oom; y++) {
        bool zero = false;
        /* the scratch row that does not hold the previous row */
        uint8_t *scr = prev == z->scratch ? z->scratch + rowbytes : z->scratch;
        const uint8_t *cur = rowfn(ud, y, scr, &zero);
        if (zero) {
            adler = adler_zeros(adler, stride);
        } else {
            adler = adler_zeros(adler, 1);
            adler = libdeflate_adler32(adler, cur, rowbytes);
        }
        if (prev && cur == prev && !zero && (stride >= 3 || e.pend_sel == SEL_UP)) {
            /* the callback says: the same row again */
            match(&e, SEL_UP, stride);
        } else if (prev && zero && prev_zero && (stride >= 3 || e.pend_sel == SEL_RUN)) {
            /* every byte here and bpp before is 0: one RUN (its distance
             * needs no extra bits, unlike UP's) */
            match(&e, SEL_RUN, stride);
        } else {
            size_t i = 0;
            if (!prev) {
                lit(&e, 0);
            } else if (e.pend_sel == SEL_RUN && bytes_zero(prev + rowbytes - bpp, (size_t)bpp)) {
                /* the filter byte and bpp bytes before it are 0: the RUN
                 * goes on over the filter byte, and over the row while it
                 * stays 0 */
                size_t z0 = bytes_zero(cur, (size_t)bpp)
                                ? (size_t)bpp + eq_len(cur + bpp, cur, rowbytes - (size_t)bpp)
                                : 0;
                match(&e, SEL_RUN, 1 + z0);
                i = z0;
            } else {
                /* the byte a row above the filter byte is the previous
                 * filter byte, also 0: it joins an UP match */
                size_t u = eq_len(cur, prev, rowbytes);
                if (e.pend_sel == SEL_UP || u >= 2) {
                    match(&e, SEL_UP, 1 + u);
                    i = u;
                } else {
                    lit(&e, 0);
                }
            }
            while (i < rowbytes) {
                size_t left = rowbytes - i;
                /* an RGBA pixel that matches neither the one above nor the
                 * one to the left in its first 3 bytes starts no match:
                 * its 4 literals without calling eq_len (anti-aliased
                 * edges are runs of such pixels) */
                if (bpp == 4 && prev && i >= 4 && !(i & 3)) {
                    uint32_t cw, pw, lw;
                    memcpy(&cw, cur + i, 4);
                    memcpy(&pw, prev + i, 4);
                    memcpy(&lw, cur + i - 4, 4);
                    if (((cw ^ pw) & LOW3) && ((cw ^ lw) & LOW3)) {
                        lit4(&e, cur + i);
                        i += 4;
                        continue;
                    }
                }
                size_t u = prev ? eq_len(cur + i, prev + i, left) : 0;
                if (u >= UP_ENOUGH) {
                    /* long enough: not worth scanning for a longer run */
                    match(&e, SEL_UP, u);
                    i += u;
                    continue;
                }
                size_t r = i >= (size_t)bpp ? eq_len(cur + i, cur + i - bpp, left) : 0;
                /* the longer match; RUN on a tie (its distance is cheaper) */
                if (r >= 3 && r >= u) {
                    match(&e, SEL_RUN, r);
                    i += r;
                } else if (u >= 3) {
                    match(&e, SEL_UP, u);
                    i += u;
                } else {
                    /* literals up to the next pixel boundary */
                    size_t end = (i / (size_t)bpp + 1) * (size_t)bpp;
                    for (; i < end; i++)
                        lit(&e, cur[i]);
                }
            }
        }
        prev = cur;
        prev_zero = zero;
    }
    if (e.pend_sel >= 0)
        flush_pend(&e);
    emit_block(&e, true);
    if (e.oom || !out_room(&e, 16))
        return 0;
    put_flush(&e.b);
    uint8_t *p = e.b.p;
    p[0] = (uint8_t)(adler >> 24);
    p[1] = (uint8_t)(adler >> 16);
    p[2] = (uint8_t)(adler >> 8);
    p[3] = (uint8_t)adler;
    return (size_t)(p + 4 - z->out);
}

void lb_zfast_free(lb_zfast *z)
{
    if (!z)
        return;
    free(z->tok);
    free(z->out);
    free(z->scratch);
    memset(z, 0, sizeof *z);
}
