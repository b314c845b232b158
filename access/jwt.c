/*
 * This file implements the verification of JSON Web Tokens from an identity
 * provider (jwt.h, docs/config.md "jwt"): strict base64url, a small strict
 * JSON reader for the header and the claims, the signature check (OpenSSL),
 * and the claims: iss, aud, exp (required), nbf, the principal and its roles.
 *
 * Order of checks: shape and size, header (alg must be the key's), then the
 * signature over the first two parts exactly as sent; only a payload whose
 * signature holds is read.  Every failure is one lb_error with the reason
 * (for the server log); the client gets the same 401 for all of them.
 */
#include "jwt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "lagebild/access.h"
#include "lagebild/util.h"

/* ---- base64url ------------------------------------------------------------ */

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

size_t lb__b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    if (n % 4 == 1)
        return (size_t)-1;
    size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (need > cap)
        return (size_t)-1;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)in[i]);
        if (v < 0)
            return (size_t)-1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* unused trailing bits must be zero: one text per value */
        return (size_t)-1;
    return o;
}

/* ---- JSON ------------------------------------------------------------------ */

/* The reader keeps a flat tree: every value a node, children linked. */
enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };
#define J_MAX_NODES 512
#define J_MAX_DEPTH 16

typedef struct jnode {
    int type;
    char *key;  /* member name (object members), else NULL */
    char *str;  /* J_STR: decoded, NUL-free */
    double num; /* J_NUM */
    int child;  /* first child, -1 */
    int next;   /* next sibling, -1 */
} jnode;

typedef struct jdoc {
    jnode v[J_MAX_NODES];
    int n;
    const char *p, *end;
    const char *why;
} jdoc;

static void jdoc_free(jdoc *d)
{
    for (int i = 0; i < d->n; i++) {
        free(d->v[i].key);
        free(d->v[i].str);
    }
    d->n = 0;
}

static void skip_ws(jdoc *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
        d->p++;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)p[i], h;
        if (c >= '0' && c <= '9') h = c - '0';
        else if (c >= 'a' && c <= 'f') h = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') h = c - 'A' + 10;
        else return -1;
        v = v << 4 | h;
    }
    return v;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string at d->p (the opening quote), decoded; NULL on error (d->why). */
static char *read_string(jdoc *d)
{
    d->p++;
    const char *s = d->p;
    while (d->p < d->end && *d->p != '"') {
        if (*d->p == '\\')
            d->p++;
        d->p++;
    }
    if (d->p >= d->end) {
        d->why = "unterminated string";
        return NULL;
    }
    size_t n = (size_t)(d->p - s);
    d->p++;
    char *o = malloc(n + 1); /* decoding never grows the text */
    if (!o) {
        d->why = "out of memory";
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20) {
            d->why = "control character in a string";
            free(o);
            return NULL;
        }
        if (c != '\\') {
            o[k++] = (char)c;
            continue;
        }
        char e = s[++i];
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *f = e ? strchr(from, e) : NULL;
        if (f) {
            o[k++] = to[f - from];
            continue;
        }
        int cp = e == 'u' && i + 4 < n ? hex4(s + i + 1) : -1;
        if (cp < 0) {
            d->why = "bad escape in a string";
            free(o);
            return NULL;
        }
        i += 4;
        uint32_t u = (uint32_t)cp;
        if (u >= 0xd800 && u <= 0xdbff) {
            int lo = i + 6 < n && s[i + 1] == '\\' && s[i + 2] == 'u' ? hex4(s + i + 3) : -1;
            if (lo < 0xdc00 || lo > 0xdfff) {
                d->why = "unpaired surrogate in a string";
                free(o);
                return NULL;
            }
            u = 0x10000 + ((u - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
            i += 6;
        } else if ((u >= 0xdc00 && u <= 0xdfff) || u == 0) {
            d->why = u ? "unpaired surrogate in a string" : "NUL in a string";
            free(o);
            return NULL;
        }
        k += put_utf8(o + k, u);
    }
    o[k] = '\0';
    return o;
}

/* A JSON number at d->p (RFC 8259 grammar); false on error. */
static bool read_number(jdoc *d, double *v)
{
    const char *s = d->p, *p = s;
    if (p < d->end && *p == '-')
        p++;
    if (p >= d->end || *p < '0' || *p > '9')
        return false;
    if (*p == '0')
        p++;
    else
        while (p < d->end && *p >= '0' && *p <= '9')
            p++;
    if (p < d->end && *p == '.') {
        p++;
        if (p >= d->end || *p < '0' || *p > '9')
            return false;
        while (p < d->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < d->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < d->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= d->end || *p < '0' || *p > '9')
            return false;
        while (p < d->end && *p >= '0' && *p <= '9')
            p++;
    }
    char buf[64];
    size_t n = (size_t)(p - s);
    if (n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *v = strtod(buf, NULL);
    d->p = p;
    return isfinite(*v);
}

static bool lit(jdoc *d, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
        return false;
    d->p += n;
    return true;
}

/* One value at d->p; its node index, or -1 (d->why). */
static int read_value(jdoc *d, int depth)
{
    skip_ws(d);
    if (depth > J_MAX_DEPTH) {
        d->why = "nested too deeply";
        return -1;
    }
    if (d->n >= J_MAX_NODES) {
        d->why = "too many values";
        return -1;
    }
    if (d->p >= d->end) {
        d->why = "unexpected end";
        return -1;
    }
    int me = d->n++;
    jnode *nd = &d->v[me];
    *nd = (jnode){.child = -1, .next = -1};
    char c = *d->p;
    if (c == '{' || c == '[') {
        bool obj = c == '{';
        nd->type = obj ? J_OBJ : J_ARR;
        d->p++;
        skip_ws(d);
        int last = -1;
        if (d->p < d->end && *d->p == (obj ? '}' : ']')) {
            d->p++;
            return me;
        }
        for (;;) {
            char *key = NULL;
            if (obj) {
                skip_ws(d);
                if (d->p >= d->end || *d->p != '"') {
                    d->why = "expected a member name";
                    return -1;
                }
                if (!(key = read_string(d)))
                    return -1;
                /* a name twice: which one counts would be up to the reader */
                for (int k = d->v[me].child; k >= 0; k = d->v[k].next)
                    if (strcmp(d->v[k].key, key) == 0) {
                        d->why = "duplicate member name";
                        free(key);
                        return -1;
                    }
                skip_ws(d);
                if (d->p >= d->end || *d->p != ':') {
                    d->why = "expected ':'";
                    free(key);
                    return -1;
                }
                d->p++;
            }
            int ch = read_value(d, depth + 1);
            if (ch < 0) {
                free(key);
                return -1;
            }
            d->v[ch].key = key;
            if (last < 0)
                d->v[me].child = ch;
            else
                d->v[last].next = ch;
            last = ch;
            skip_ws(d);
            if (d->p < d->end && *d->p == ',') {
                d->p++;
                continue;
            }
            if (d->p < d->end && *d->p == (obj ? '}' : ']')) {
                d->p++;
                return me;
            }
            d->why = obj ? "expected ',' or '}'" : "expected ',' or ']'";
            return -1;
        }
    }
    if (c == '"') {
        nd->type = J_STR;
        if (!(nd->str = read_string(d)))
            return -1;
        return me;
    }
    if (lit(d, "true")) {
        nd->type = J_TRUE;
        return me;
    }
    if (lit(d, "false")) {
        nd->type = J_FALSE;
        return me;
    }
    if (lit(d, "null")) {
        nd->type = J_NULL;
        return me;
    }
    if (read_number(d, &nd->num)) {
        nd->type = J_NUM;
        return me;
    }
    d->why = "not a JSON value";
    return -1;
}

/* Parse text as one JSON object; false with d->why set otherwise. */
static bool jparse(jdoc *d, const char *text, size_t n)
{
    d->n = 0;
    d->p = text;
    d->end = text + n;
    d->why = NULL;
    int root = read_value(d, 0);
    if (root < 0)
        return false;
    skip_ws(d);
    if (d->p != d->end) {
        d->why = "text after the object";
        return false;
    }
    if (d->v[root].type != J_OBJ) {
        d->why = "not a JSON object";
        return false;
    }
    return true;
}

/* Member name of object node obj; -1 if absent. */
static int jget(const jdoc *d, int obj, const char *name, size_t len)
{
    if (obj < 0 || d->v[obj].type != J_OBJ)
        return -1;
    for (int k = d->v[obj].child; k >= 0; k = d->v[k].next)
        if (strlen(d->v[k].key) == len && memcmp(d->v[k].key, name, len) == 0)
            return k;
    return -1;
}

/* The value at a dotted path from the root (node 0); -1 if absent. */
static int jpath(const jdoc *d, const char *path)
{
    int at = 0;
    while (at >= 0) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        at = jget(d, at, path, len);
        if (!dot)
            return at;
        path = dot + 1;
    }
    return -1;
}

/* ---- keys and signatures ------------------------------------------------ */

/* The algorithm of a usable key (LB_JWT_*), or 0 with err set. */
static int key_alg(EVP_PKEY *pk, const char *path, int k, lb_error *err)
{
    if (EVP_PKEY_is_a(pk, "RSA")) {
        int bits = EVP_PKEY_get_bits(pk);
        if (bits >= 2048)
            return LB_JWT_RS256;
        lb_fail(err, LB_ECONFIG, "jwt public_key %s, key %d: an RSA key of %d bits; at least "
                "2048 are required", path, k + 1, bits);
        return 0;
    }
    if (EVP_PKEY_is_a(pk, "EC")) {
        char group[64] = "";
        size_t glen = 0;
        if (EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof group, &glen) == 1 &&
            (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0))
            return LB_JWT_ES256;
        ERR_clear_error();
        lb_fail(err, LB_ECONFIG, "jwt public_key %s, key %d: an EC key on curve '%s'; only "
                "P-256 (ES256) is accepted", path, k + 1, group[0] ? group : "?");
        return 0;
    }
    lb_fail(err, LB_ECONFIG, "jwt public_key %s, key %d: neither an RSA (RS256) nor an EC "
            "P-256 (ES256) key", path, k + 1);
    return 0;
}

lb_status lb__jwt_key_load(const char *path, lb_jwt_key *key, lb_error *err)
{
    memset(key, 0, sizeof *key);
    FILE *f = fopen(path, "r");
    if (!f)
        return lb_fail(err, LB_ENOENT, "jwt public_key %s: cannot open", path);
    char text[65536];
    size_t len = fread(text, 1, sizeof text - 1, f);
    bool big = !feof(f);
    fclose(f);
    if (big)
        return lb_fail(err, LB_ECONFIG, "jwt public_key %s: larger than 64 kB", path);
    text[len] = '\0';
    /* every PEM block must be a public key: as many keys as blocks */
    int blocks = 0;
    for (const char *b = text; (b = strstr(b, "-----BEGIN ")) != NULL; b += 11)
        blocks++;
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    lb_status st = bio ? LB_OK : lb_fail(err, LB_ENOMEM, "out of memory");
    while (st == LB_OK && key->n < blocks) {
        EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        if (!pk) {
            ERR_clear_error();
            st = lb_fail(err, LB_ECONFIG, "jwt public_key %s, block %d: not a PEM public key "
                         "(-----BEGIN PUBLIC KEY-----)", path, key->n + 1);
            break;
        }
        int alg = key->n == LB_JWT_MAX_KEYS ? 0 : key_alg(pk, path, key->n, err);
        if (!alg) {
            if (key->n == LB_JWT_MAX_KEYS)
                lb_fail(err, LB_ECONFIG, "jwt public_key %s: more than %d keys", path,
                        LB_JWT_MAX_KEYS);
            EVP_PKEY_free(pk);
            st = LB_ECONFIG;
            break;
        }
        key->pkey[key->n] = pk;
        key->alg[key->n++] = alg;
    }
    if (st == LB_OK && key->n == 0)
        st = lb_fail(err, LB_ECONFIG,
                     "jwt public_key %s: not a PEM public key (-----BEGIN PUBLIC KEY-----)", path);
    BIO_free(bio);
    ERR_clear_error();
    if (st != LB_OK)
        lb__jwt_key_free(key);
    return st;
}

lb_status lb_jwt_key_check(const char *path, lb_error *err)
{
    lb_jwt_key k;
    lb_status st = lb__jwt_key_load(path, &k, err);
    lb__jwt_key_free(&k);
    return st;
}

void lb__jwt_key_free(lb_jwt_key *key)
{
    if (!key)
        return;
    for (int i = 0; i < key->n; i++)
        EVP_PKEY_free(key->pkey[i]);
    memset(key, 0, sizeof *key);
}

/* ES256 signs r || s (32 bytes each); OpenSSL verifies DER. */
static unsigned char *es256_der(const unsigned char *sig, size_t n, int *derlen)
{
    *derlen = 0;
    if (n != 64)
        return NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *der = NULL;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        int len = i2d_ECDSA_SIG(es, &der);
        *derlen = len > 0 ? len : 0;
        if (len <= 0)
            der = NULL;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return der;
}

/* Whether sig is pkey's signature (algorithm alg) of the n bytes at signed_part. */
static bool signature_ok(void *pkey, int alg, const char *signed_part, size_t n,
                         const unsigned char *sig, size_t siglen)
{
    const unsigned char *s = sig;
    size_t slen = siglen;
    unsigned char *der = NULL;
    if (alg == LB_JWT_ES256) {
        int dl;
        if (!(der = es256_der(sig, siglen, &dl)))
            return false;
        s = der;
        slen = (size_t)dl;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
              EVP_DigestVerify(ctx, s, slen, (const unsigned char *)signed_part, n) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    ERR_clear_error();
    return ok;
}

/* ---- claims --------------------------------------------------------------- */

/* A name fit for logs and audit records: 1-128 bytes of valid UTF-8
 * (shortest forms, no surrogates), no control characters, no quote or
 * backslash. */
static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = lb_utf8_seq(u + i, n - i);
        unsigned char c = u[i];
        if (len == 0 || (len == 1 && (c < 0x20 || c == 0x7f || c == '"' || c == '\\')) ||
            (c == 0xc2 && u[i + 1] < 0xa0)) /* C1 controls U+0080-U+009F */
            return false;
        i += len;
    }
    return true;
}

void lb_jwt_principal_free(lb_token_cfg *p)
{
    if (!p)
        return;
    free(p->principal);
    free(p->roles); /* the strings are the config's role ids */
    free(p);
}

/* The principal of verified claims, or NULL with err set. */
static lb_token_cfg *principal_of(const jdoc *d, const lb_config *cfg, time_t now, lb_error *err)
{
    const lb_jwt_cfg *j = &cfg->jwt;
    double leeway = j->leeway_s > 0 ? j->leeway_s : 60.0;
    int iss = jget(d, 0, "iss", 3);
    if (iss < 0 || d->v[iss].type != J_STR || strcmp(d->v[iss].str, j->issuer) != 0) {
        lb_fail(err, LB_EAUTH, "jwt: issuer is not '%s'", j->issuer);
        return NULL;
    }
    int aud = jget(d, 0, "aud", 3);
    bool aud_ok = aud >= 0 && d->v[aud].type == J_STR && strcmp(d->v[aud].str, j->audience) == 0;
    if (aud >= 0 && d->v[aud].type == J_ARR)
        for (int k = d->v[aud].child; k >= 0 && !aud_ok; k = d->v[k].next)
            aud_ok = d->v[k].type == J_STR && strcmp(d->v[k].str, j->audience) == 0;
    if (!aud_ok) {
        lb_fail(err, LB_EAUTH, "jwt: audience does not include '%s'", j->audience);
        return NULL;
    }
    int exp = jget(d, 0, "exp", 3);
    if (exp < 0 || d->v[exp].type != J_NUM) {
        lb_fail(err, LB_EAUTH, "jwt: no expiry (exp)");
        return NULL;
    }
    if ((double)now >= d->v[exp].num + leeway) {
        lb_fail(err, LB_EAUTH, "jwt: expired");
        return NULL;
    }
    int nbf = jget(d, 0, "nbf", 3);
    if (nbf >= 0 && (d->v[nbf].type != J_NUM || (double)now + leeway < d->v[nbf].num)) {
        lb_fail(err, LB_EAUTH, "jwt: not valid yet (nbf)");
        return NULL;
    }
    int who = jpath(d, j->principal_claim ? j->principal_claim : "sub");
    if (who < 0 || d->v[who].type != J_STR || !name_ok(d->v[who].str)) {
        lb_fail(err, LB_EAUTH, "jwt: claim '%s' is missing or not a usable name",
                j->principal_claim ? j->principal_claim : "sub");
        return NULL;
    }
    /* roles: the configured roles the claim names (a string or an array of
     * strings); names the config does not know are ignored */
    int rc = jpath(d, j->roles_claim ? j->roles_claim : "roles");
    lb_token_cfg *p = calloc(1, sizeof *p);
    size_t cap = cfg->nroles ? cfg->nroles : 1;
    char *name = malloc(strlen(d->v[who].str) + 5);
    if (p)
        p->roles = calloc(cap, sizeof *p->roles);
    if (!p || !p->roles || !name) {
        free(name);
        lb_jwt_principal_free(p);
        lb_fail(err, LB_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(name, "jwt:", 4);
    strcpy(name + 4, d->v[who].str);
    p->principal = name;
    /* the first second at which the check above refuses it */
    double until = floor(d->v[exp].num + leeway);
    p->expires = until < 1 ? 1 : until > 4e18 ? (time_t)4e18 : (time_t)until;
    if ((double)p->expires < d->v[exp].num + leeway)
        p->expires++;
    for (size_t r = 0; r < cfg->nroles; r++) {
        bool named = false;
        if (rc >= 0 && d->v[rc].type == J_STR)
            named = strcmp(d->v[rc].str, cfg->roles[r].id) == 0;
        else if (rc >= 0 && d->v[rc].type == J_ARR)
            for (int k = d->v[rc].child; k >= 0 && !named; k = d->v[k].next)
                named = d->v[k].type == J_STR && strcmp(d->v[k].str, cfg->roles[r].id) == 0;
        if (named)
            p->roles[p->nroles++] = cfg->roles[r].id;
    }
    if (p->nroles == 0) {
        lb_jwt_principal_free(p);
        lb_fail(err, LB_EAUTH, "jwt: claim '%s' names no configured role",
                j->roles_claim ? j->roles_claim : "roles");
        return NULL;
    }
    return p;
}

/* ---- the token ------------------------------------------------------------ */

lb_status lb__jwt_verify(const lb_jwt_key *key, const lb_config *cfg, const char *token,
                         time_t now, lb_token_cfg **out, lb_error *err)
{
    *out = NULL;
    if (!key || key->n == 0 || !cfg->jwt.key_path)
        return lb_fail(err, LB_EAUTH, "jwt: not configured");
    size_t n = token ? strlen(token) : 0;
    if (n == 0 || n > LB_JWT_MAX)
        return lb_fail(err, LB_EAUTH, "jwt: empty or longer than %d characters", LB_JWT_MAX);
    const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.'))
        return lb_fail(err, LB_EAUTH, "jwt: not three dot-separated parts");
    /* the decoded parts and the JSON reader's nodes: on the heap (not static
     * thread-local: glibc puts static TLS on each thread's stack, and
     * civetweb's worker stacks are ~100 kB) */
    struct {
        jdoc doc;
        unsigned char head[LB_JWT_MAX], body[LB_JWT_MAX], sig[LB_JWT_MAX];
    } *w = malloc(sizeof *w);
    if (!w)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    jdoc *d = &w->doc;
    d->n = 0;
    unsigned char *head = w->head, *body = w->body, *sig = w->sig;
    size_t hn = lb__b64url_decode(token, (size_t)(d1 - token), head, LB_JWT_MAX);
    size_t bn = lb__b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), body, LB_JWT_MAX);
    size_t sn = lb__b64url_decode(d2 + 1, strlen(d2 + 1), sig, LB_JWT_MAX);
    if (hn == (size_t)-1 || bn == (size_t)-1 || sn == (size_t)-1 || sn == 0) {
        free(w);
        return lb_fail(err, LB_EAUTH, "jwt: a part is not base64url");
    }
    lb_status st = LB_OK;
    if (!jparse(d, (const char *)head, hn)) {
        st = lb_fail(err, LB_EAUTH, "jwt: header: %s", d->why);
        goto done;
    }
    /* the header's alg must be the algorithm of a configured key */
    int ah = jget(d, 0, "alg", 3), alg = 0;
    for (int k = 0; k < key->n && ah >= 0 && d->v[ah].type == J_STR; k++)
        if (strcmp(d->v[ah].str, key->alg[k] == LB_JWT_RS256 ? "RS256" : "ES256") == 0)
            alg = key->alg[k];
    if (!alg) {
        st = lb_fail(err, LB_EAUTH, "jwt: alg is not that of a configured key (%s%s)",
                     key->alg[0] == LB_JWT_RS256 ? "RS256" : "ES256",
                     key->n > 1 ? ", ..." : "");
        goto done;
    }
    /* a critical extension lagebild does not implement must be refused */
    if (jget(d, 0, "crit", 4) >= 0) {
        st = lb_fail(err, LB_EAUTH, "jwt: header has 'crit' extensions");
        goto done;
    }
    bool verified = false;
    for (int k = 0; k < key->n && !verified; k++)
        verified = key->alg[k] == alg &&
                   signature_ok(key->pkey[k], alg, token, (size_t)(d2 - token), sig, sn);
    if (!verified) {
        st = lb_fail(err, LB_EAUTH, "jwt: signature does not verify");
        goto done;
    }
    jdoc_free(d);
    if (!jparse(d, (const char *)body, bn)) {
        st = lb_fail(err, LB_EAUTH, "jwt: claims: %s", d->why);
        goto done;
    }
    lb_error perr;
    if (!(*out = principal_of(d, cfg, now, &perr))) {
        st = perr.status;
        if (err)
            *err = perr;
    }
done:
    jdoc_free(d);
    free(w);
    return st;
}
