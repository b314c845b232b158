/*
 * This file implements SHA-256 hex digests and access tokens: generation
 * from the system's random generator, hashing for the config, and a
 * constant-time comparison of hashes.  All cryptography is OpenSSL's.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lagebild/audit.h"

static const char hex_digits[] = "0123456789abcdef";

void lb_sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    out[0] = '\0';
    if (EVP_Digest(data, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32) {
        ERR_clear_error();
        return;
    }
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex_digits[md[i] >> 4];
        out[2 * i + 1] = hex_digits[md[i] & 15];
    }
    out[64] = '\0';
}

size_t lb_base64url(const unsigned char *in, size_t n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

lb_status lb_token_new(char *token, size_t n, lb_error *err)
{
    if (!token || n < LB_TOKEN_LEN + 1)
        return lb_fail(err, LB_EINVAL, "token buffer too small (%zu bytes, need %d)", n,
                       LB_TOKEN_LEN + 1);
    unsigned char rnd[LB_TOKEN_RANDOM_BYTES];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        unsigned long e = ERR_get_error();
        char why[256];
        ERR_error_string_n(e, why, sizeof why);
        ERR_clear_error();
        OPENSSL_cleanse(rnd, sizeof rnd);
        token[0] = '\0';
        return lb_fail(err, LB_EINTERNAL, "random generator failed: %s", why);
    }
    memcpy(token, LB_TOKEN_PREFIX, 4);
    size_t len = lb_base64url(rnd, sizeof rnd, token + 4);
    OPENSSL_cleanse(rnd, sizeof rnd);
    if (len + 4 != LB_TOKEN_LEN) /* cannot happen: 32 bytes are 43 characters */
        return lb_fail(err, LB_EINTERNAL, "token has %zu characters", len + 4);
    return LB_OK;
}

void lb_token_hash(const char *token, char out[72])
{
    char hex[65];
    out[0] = '\0';
    if (!token)
        return;
    lb_sha256_hex(token, strlen(token), hex);
    if (!hex[0])
        return;
    memcpy(out, "sha256:", 7);
    memcpy(out + 7, hex, 65);
}

bool lb_token_hash_equal(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t la = strlen(a), lb = strlen(b);
    size_t n = la > lb ? la : lb;
    /* Lengths differing is a difference too; every position up to the longer
     * length is compared, the shorter string contributing its terminating NUL
     * (re-read, never past it) beyond its end, so no branch depends on data. */
    volatile unsigned char diff = (unsigned char)((la != lb) | (la == 0));
    for (size_t i = 0; i < n; i++) {
        size_t ia = i < la ? i : la, ib = i < lb ? i : lb;
        diff |= (unsigned char)(a[ia] ^ b[ib]);
    }
    return diff == 0;
}
