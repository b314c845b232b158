/*
 * libFuzzer target: JWT verification (access/jwt.c).
 *
 * The first byte picks what the rest is:
 *  - even: a whole token (base64url parts, the header's JSON reader, the
 *    algorithm check, the signature check; claims are only read after a
 *    signature verifies, which a fuzzed token does not reach);
 *  - odd: the claims JSON.  It is signed here (ES256, a key made once) under
 *    the header {"alg":"ES256"}, so the claims reader and the claim checks
 *    run on it.
 * Checked besides what ASan/UBSan see: an accepted token yields a principal
 * named "jwt:" + 1-128 bytes, with 1..nroles roles that are the config's
 * role ids (pointer-equal), never admin; a refusal is LB_EAUTH (or
 * LB_ENOMEM) with a message that does not contain the token.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "../../access/jwt.h"
#include "lagebild/access.h"
#include "lagebild/audit.h"

/* assert() is compiled out in the RelWithDebInfo fuzz build: checks abort themselves */
static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_jwt: invariant violated: %s\n", what);
        abort();
    }
}

static lb_jwt_key key;
static EVP_PKEY *priv;
static lb_config cfg;
static lb_role_cfg roles[3];

static void setup(void)
{
    if (priv)
        return;
    priv = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    check(priv != NULL, "key made");
    key.pkey[0] = priv; /* verifying with the key pair's public half */
    key.alg[0] = LB_JWT_ES256;
    key.n = 1;
    static char *ids[] = {"police", "fire", "lagezentrum"};
    for (int i = 0; i < 3; i++)
        roles[i].id = ids[i];
    cfg.roles = roles;
    cfg.nroles = 3;
    cfg.jwt.issuer = "iss";
    cfg.jwt.audience = "aud";
    cfg.jwt.key_path = "unused";
    cfg.jwt.roles_claim = "realm.roles";
    cfg.jwt.leeway_s = 60;
}

/* "{"alg":"ES256"}" . claims . ES256 signature */
static char *signed_token(const uint8_t *claims, size_t n)
{
    static const char head[] = "{\"alg\":\"ES256\"}";
    char *t = malloc(4 * (n + sizeof head) / 3 + 200);
    check(t != NULL, "token buffer");
    lb_base64url((const unsigned char *)head, sizeof head - 1, t);
    size_t at = strlen(t);
    t[at++] = '.';
    lb_base64url(claims, n, t + at);
    at = strlen(t);
    unsigned char der[128], sig[64];
    size_t dn = sizeof der;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    check(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, priv) == 1, "EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, priv) == 1");
    check(EVP_DigestSign(ctx, der, &dn, (unsigned char *)t, at) == 1, "EVP_DigestSign(ctx, der, &dn, (unsigned char *)t, at) == 1");
    EVP_MD_CTX_free(ctx);
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dn);
    check(es != NULL, "signature decoded");
    BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
    ECDSA_SIG_free(es);
    t[at++] = '.';
    lb_base64url(sig, 64, t + at);
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1 || size > 6000)
        return 0;
    char *token;
    if (data[0] & 1) {
        token = signed_token(data + 1, size - 1);
    } else {
        token = malloc(size);
        check(token != NULL, "token copy");
        memcpy(token, data + 1, size - 1);
        token[size - 1] = '\0';
    }
    lb_token_cfg *p = NULL;
    lb_error err = {0};
    lb_status st = lb__jwt_verify(&key, &cfg, token, (time_t)1700000000, &p, &err);
    if (st == LB_OK) {
        check(p && strncmp(p->principal, "jwt:", 4) == 0, "p && strncmp(p->principal, \"jwt:\", 4) == 0");
        size_t n = strlen(p->principal);
        check(n > 4 && n <= 132, "n > 4 && n <= 132");
        check(p->nroles >= 1 && p->nroles <= cfg.nroles && !p->admin, "p->nroles >= 1 && p->nroles <= cfg.nroles && !p->admin");
        for (size_t i = 0; i < p->nroles; i++) {
            bool known = false;
            for (size_t r = 0; r < cfg.nroles; r++)
                known |= p->roles[i] == roles[r].id;
            check(known, "known");
        }
    } else {
        check(!p && (st == LB_EAUTH || st == LB_ENOMEM), "!p && (st == LB_EAUTH || st == LB_ENOMEM)");
        check(strlen(token) < 16 || !strstr(err.msg, token), "strlen(token) < 16 || !strstr(err.msg, token)");
    }
    lb_jwt_principal_free(p);
    free(token);
    return 0;
}
