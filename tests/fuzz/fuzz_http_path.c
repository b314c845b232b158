/*
 * libFuzzer target: the request-line parsers of the HTTP service.
 *
 * The input is taken as a raw request target ("/maps/lage/12/2154/1351.png?
 * token=x").  It is split at the first '?' the way civetweb splits it: the
 * part before goes to lb_http_split_path (as local_uri), the part after to
 * lb_kvp_get (as query_string) for every key the routes look up.  The whole
 * input is also given to lb_http_split_path as one path, '?' included.
 *
 * Checked besides what ASan/UBSan see:
 *  - lb_http_split_path returns -1 or 0..max, writes nothing past segs[max),
 *    and every segment is a non-empty C string without '/' or '\\', never
 *    "." or "..", and equal to what an independent decoder makes of the
 *    corresponding raw segment (so a "%00" could not have been cut short);
 *  - lb_kvp_get, given buffers of several sizes (heap blocks of exactly that
 *    size, so ASan sees one byte too many), returns a string NUL-terminated
 *    inside the buffer, and a small buffer never yields an answer the large
 *    buffer does not also give.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

/* Same as LB_MAX_SEGS in server/serve.c (the size of lb_req.segs). */
#define SERVE_MAX_SEGS ((int)(sizeof((lb_req *)0)->segs / sizeof(char *)))
#define CANARY ((char *)(uintptr_t)0x5a5a5a5a)

static const char *const keys[] = {
    "SERVICE", "REQUEST", "LAYER",  "TILEMATRIXSET", "TILEMATRIX", "TILEROW", "TILECOL",
    "FORMAT",  "token",   "bbox",   "width",         "height",     "crs",
};

/* Output sizes: the routes use 16..512-byte buffers; 1 is the smallest legal one. */
static const size_t sizes[] = {1, 2, 16, 64, 4096};

static void fail(const char *what, const char *input)
{
    fprintf(stderr, "fuzz_http_path: invariant violated: %s\n  input: \"", what);
    for (const unsigned char *p = (const unsigned char *)input; *p; p++)
        fprintf(stderr, (*p < 0x20 || *p >= 0x7f || *p == '"') ? "\\x%02x" : "%c", *p);
    fprintf(stderr, "\"\n");
    abort();
}

static int hex(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/*
 * The reference: decode raw[0..n) as a path segment; false when the result
 * would not be a plain name.  Written from the contract in server_int.h,
 * not from http.c.
 */
static bool ref_segment(const char *raw, size_t n, char *out, size_t cap)
{
    if (n == 0 || n > 256)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)raw[i];
        if (c == '%') {
            if (n - i < 3 || hex(raw[i + 1]) < 0 || hex(raw[i + 2]) < 0)
                return false;
            c = hex(raw[i + 1]) * 16 + hex(raw[i + 2]);
            i += 2;
        }
        if (c == '/' || c == '\\' || c == 0 || o + 1 >= cap)
            return false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return strcmp(out, ".") != 0 && strcmp(out, "..") != 0;
}

static void check_split(const char *path, int max)
{
    char *segs[SERVE_MAX_SEGS + 2];
    for (size_t i = 0; i < sizeof segs / sizeof *segs; i++)
        segs[i] = CANARY;
    int n = lb_http_split_path(path, segs, max);
    if (n < -1 || n > max)
        fail("split_path returned a count outside -1..max", path);
    for (int i = n < 0 ? 0 : n; i < (int)(sizeof segs / sizeof *segs); i++)
        if (segs[i] != CANARY && i >= max)
            fail("split_path wrote past segs[max)", path);

    /* The reference split (a NULL answer from the reference is -1). */
    int want = -1;
    size_t len = strlen(path);
    if (path[0] == '/' && len < 2048) {
        want = 0;
        const char *p = path + 1;
        while (*p) {
            const char *e = strchr(p, '/');
            size_t sl = e ? (size_t)(e - p) : strlen(p);
            char dec[260];
            if (want == max || !ref_segment(p, sl, dec, sizeof dec) || (e && !e[1])) {
                want = -1;
                break;
            }
            if (n > want && (segs[want] == CANARY || strcmp(segs[want], dec) != 0))
                fail("split_path segment differs from the reference decoding", path);
            want++;
            p += sl + (e ? 1 : 0);
        }
    }
    if (n != want) {
        char msg[96];
        snprintf(msg, sizeof msg, "split_path returned %d, the reference %d (max %d)", n, want,
                 max);
        fail(msg, path);
    }
    for (int i = 0; i < n; i++) {
        const char *s = segs[i];
        if (!s || s == CANARY)
            fail("split_path returned a NULL segment", path);
        if (!s[0] || strchr(s, '/') || strchr(s, '\\'))
            fail("segment empty or containing '/' or '\\'", path);
        if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
            fail("segment is \".\" or \"..\"", path);
        free(segs[i]);
    }
}

static void check_query(const char *query)
{
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        char *big = NULL;
        bool big_ok = false;
        /* largest first, so smaller answers can be compared against it */
        for (size_t j = sizeof sizes / sizeof *sizes; j-- > 0;) {
            size_t n = sizes[j];
            char *buf = malloc(n);
            assert(buf);
            memset(buf, 'X', n);
            bool ok = lb_kvp_get(query, keys[k], buf, n);
            if (ok && !memchr(buf, '\0', n))
                fail("kvp_get result not NUL-terminated inside the buffer", query);
            if (!big) {
                big = buf;
                big_ok = ok;
                continue;
            }
            if (ok && (!big_ok || strcmp(buf, big) != 0))
                fail("kvp_get answer with a small buffer differs from the large one", query);
            free(buf);
        }
        free(big);
        /* The lookup is case-insensitive in the key: the lower-case name agrees. */
        char lower[32], a[512], b[512];
        size_t i = 0;
        for (; keys[k][i] && i + 1 < sizeof lower; i++)
            lower[i] = (char)(keys[k][i] >= 'A' && keys[k][i] <= 'Z' ? keys[k][i] + 32 : keys[k][i]);
        lower[i] = '\0';
        bool ok1 = lb_kvp_get(query, keys[k], a, sizeof a);
        bool ok2 = lb_kvp_get(query, lower, b, sizeof b);
        if (ok1 != ok2 || (ok1 && strcmp(a, b) != 0))
            fail("kvp_get is not case-insensitive in the key", query);
    }
    char one[8];
    (void)lb_kvp_get(NULL, "token", one, sizeof one);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy: ASan flags any read past the terminator. */
    char *whole = malloc(size + 1);
    if (!whole)
        return 0;
    memcpy(whole, data, size);
    whole[size] = '\0';

    char *q = strchr(whole, '?');
    size_t plen = q ? (size_t)(q - whole) : strlen(whole);
    char *path = malloc(plen + 1);
    char *query = q ? malloc(strlen(q + 1) + 1) : NULL;
    if (!path || (q && !query)) {
        free(path);
        free(query);
        free(whole);
        return 0;
    }
    memcpy(path, whole, plen);
    path[plen] = '\0';
    if (q)
        strcpy(query, q + 1);

    check_split(path, SERVE_MAX_SEGS);
    check_split(path, 3);
    check_split(path, 0);
    check_split(whole, SERVE_MAX_SEGS);
    check_query(query ? query : "");
    check_query(whole); /* a query string that is not one at all */

    free(query);
    free(path);
    free(whole);
    return 0;
}
