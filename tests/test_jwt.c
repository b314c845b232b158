/*
 * Tokens from an identity provider (config jwt:, access/jwt.c): keys are
 * made here (RSA 2048 for RS256, EC P-256 for ES256) and tokens signed here,
 * so nothing comes from outside.  Accepted: a correctly signed token of the
 * configured issuer and audience, unexpired, naming configured roles.
 * Refused: every forgery (alg none, HMAC with the public key as secret, the
 * other algorithm, another key, altered claims, truncated or non-canonical
 * signatures), every claim problem (expiry, not-before, issuer, audience,
 * roles, principal), malformed JSON and oversized tokens.  Through the
 * server: a JWT principal gets the tile a configured token of the same role
 * gets, an expired one 401, and the audit log names the principal, never
 * the token; what it pushes belongs to "jwt:" and its subject.
 */
#include <time.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "lagebild/access.h"
#include "lagebild/audit.h"
#include "lagebild/config.h"
#include "lagebild/fusion.h"
#include "lbtest.h"
#include "tlive.h"

/* ---- keys, encoding, signing --------------------------------------------- */

static EVP_PKEY *rsa_key, *ec_key, *rsa_other;

static void make_keys(void)
{
    if (rsa_key)
        return;
    lb_fusion_init(); /* area limits are read with GDAL */
    rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ASSERT(rsa_key && rsa_other && ec_key);
}

static void write_pub(EVP_PKEY *k, const char *path)
{
    FILE *f = fopen(path, "w");
    ASSERT(f);
    ASSERT_EQ(PEM_write_PUBKEY(f, k), 1);
    fclose(f);
}

enum { SIG_KEY, SIG_NONE, SIG_HMAC_PUBKEY };

/* header.payload.signature; sig_how: signed with key (RS256 or ES256 as the
 * key is), no signature at all, or HMAC-SHA256 with pem as the secret. */
static char *make_jwt(const char *header, const char *payload, EVP_PKEY *key, int sig_how,
                      const char *pem)
{
    size_t hn = strlen(header), pn = strlen(payload);
    char *t = malloc(2 * (hn + pn) + 1024);
    ASSERT(t);
    lb_base64url((const unsigned char *)header, hn, t);
    size_t at = strlen(t);
    t[at++] = '.';
    lb_base64url((const unsigned char *)payload, pn, t + at);
    at = strlen(t);
    unsigned char sig[600];
    size_t sn = 0;
    if (sig_how == SIG_KEY) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned char der[600];
        size_t dn = sizeof der;
        ASSERT(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1);
        ASSERT(EVP_DigestSign(ctx, der, &dn, (unsigned char *)t, at) == 1);
        EVP_MD_CTX_free(ctx);
        if (EVP_PKEY_is_a(key, "EC")) {
            const unsigned char *p = der;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dn);
            ASSERT(es);
            ASSERT_EQ(BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32), 32);
            ASSERT_EQ(BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32), 32);
            ECDSA_SIG_free(es);
            sn = 64;
        } else {
            memcpy(sig, der, dn);
            sn = dn;
        }
    } else if (sig_how == SIG_HMAC_PUBKEY) {
        unsigned int len = 0;
        ASSERT(HMAC(EVP_sha256(), pem, (int)strlen(pem), (unsigned char *)t, at, sig, &len));
        sn = len;
    }
    t[at++] = '.';
    lb_base64url(sig, sn, t + at);
    return t;
}

/* ---- a config: the demo plus jwt: ----------------------------------------- */

typedef struct env {
    char *dir, *cfg_path, *rsa_pem, *ec_pem;
    lb_config *cfg;
    lb_access *acc;
} env;

static const char *jwt_section_rsa =
    "jwt:\n"
    "  issuer: https://idp.example/realms/lage\n"
    "  audience: lagebild\n"
    "  public_key: rsa.pem\n"
    "  leeway_s: 60\n";

static const char *jwt_section_ec =
    "jwt:\n"
    "  issuer: https://idp.example/realms/lage\n"
    "  audience: lagebild\n"
    "  public_key: ec.pem\n"
    "  roles_claim: realm_access.roles\n"
    "  principal_claim: preferred_username\n";

/* dir with the demo data and config (plus section), keys written; cfg and
 * acc loaded when load */
static void env_make(env *e, const char *section, bool ingest)
{
    make_keys();
    memset(e, 0, sizeof *e);
    e->dir = t_tmpdir();
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -r '%s/demo/data' '%s/' && cp '%s/demo/lagebild.yaml' '%s/'",
             LB_SOURCE_DIR, e->dir, LB_SOURCE_DIR, e->dir);
    ASSERT_EQ(system(cmd), 0);
    e->cfg_path = t_path(e->dir, "lagebild.yaml");
    FILE *f = fopen(e->cfg_path, "a");
    ASSERT(f);
    fprintf(f, "\n%s", section);
    fclose(f);
    e->rsa_pem = t_path(e->dir, "rsa.pem");
    e->ec_pem = t_path(e->dir, "ec.pem");
    write_pub(rsa_key, e->rsa_pem);
    write_pub(ec_key, e->ec_pem);
    char *diag = NULL;
    lb_status st = lb_config_load(e->cfg_path, &e->cfg, &diag);
    if (st != LB_OK)
        fprintf(stderr, "%s\n", diag ? diag : "?");
    free(diag);
    ASSERT_EQ(st, LB_OK);
    lb_error err;
    st = lb_access_new(e->cfg, &e->acc, &err);
    if (st != LB_OK)
        fprintf(stderr, "%s\n", err.msg);
    ASSERT_EQ(st, LB_OK);
    if (ingest) {
        t_result r = t_lagebild("ingest", e->cfg_path, "--quiet", NULL);
        ASSERT_EQ(r.status, 0);
        t_result_free(&r);
    }
}

static void env_free(env *e)
{
    lb_access_free(e->acc);
    lb_config_free(e->cfg);
    t_rmrf(e->dir);
    free(e->dir);
    free(e->cfg_path);
    free(e->rsa_pem);
    free(e->ec_pem);
}

static const char *RS = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}";
static const char *ES = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";

/* claims of issuer and audience as configured, expiring exp_in seconds from now */
static char *claims(const char *extra, long exp_in)
{
    char *c = malloc(4096);
    snprintf(c, 4096,
             "{\"iss\":\"https://idp.example/realms/lage\",\"aud\":\"lagebild\",\"sub\":\"alice\","
             "\"exp\":%lld%s%s}",
             (long long)time(NULL) + exp_in, extra[0] ? "," : "", extra);
    return c;
}

/* Authenticate token; the principal (caller frees) or NULL, *why the reason. */
static lb_token_cfg *auth(env *e, const char *token, char why[1024])
{
    lb_token_cfg *p = NULL;
    lb_error err = {0};
    lb_status st = lb_access_authenticate_jwt(e->acc, token, time(NULL), &p, &err);
    snprintf(why, 1024, "%s", st == LB_OK ? "" : err.msg);
    ASSERT((st == LB_OK) == (p != NULL));
    if (st != LB_OK)
        ASSERT_EQ(st, LB_EAUTH);
    return p;
}

/* Whether an RS256 token with these claims (signed with the configured key) is accepted. */
static bool accepted(env *e, const char *claim_text)
{
    char *t = make_jwt(RS, claim_text, rsa_key, SIG_KEY, NULL);
    char why[1024];
    lb_token_cfg *p = auth(e, t, why);
    free(t);
    bool ok = p != NULL;
    lb_jwt_principal_free(p);
    return ok;
}

/* ---- tests ----------------------------------------------------------------- */

/* The principal of an RS256 token (the configured key) with these extra claims. */
static lb_token_cfg *rs256_principal(env *e, const char *extra)
{
    char *c = claims(extra, 300);
    char *t = make_jwt(RS, c, rsa_key, SIG_KEY, NULL);
    char why[1024];
    lb_token_cfg *p = auth(e, t, why);
    free(t);
    free(c);
    return p;
}

LB_TEST(test_jwt_rs256_accepted_roles_from_claim)
{
    env e;
    env_make(&e, jwt_section_rsa, false);
    ASSERT(lb_access_has_jwt(e.acc));
    lb_token_cfg *p = rs256_principal(&e, "\"roles\":[\"police\",\"not-a-role\",\"fire\"]");
    ASSERT(p);
    ASSERT_STREQ(p->principal, "jwt:alice");
    ASSERT_EQ(p->nroles, 2);
    ASSERT_STREQ(p->roles[0], "police");
    ASSERT_STREQ(p->roles[1], "fire");
    ASSERT(!p->admin);
    lb_jwt_principal_free(p);
    /* its rights are its roles': police alone has demo-police's grant on every layer */
    p = rs256_principal(&e, "\"roles\":[\"police\"]");
    ASSERT(p);
    const lb_token_cfg *demo = lb_access_authenticate(e.acc, "demo-police");
    const lb_token_cfg *mil = lb_access_authenticate(e.acc, "demo-military");
    ASSERT(demo && mil);
    int seen = 0, other = 0;
    for (size_t i = 0; i < e.cfg->nlayers; i++) {
        lb_grant g1, g2, g3;
        time_t now = time(NULL);
        bool v1 = lb_access_layer(e.acc, p, e.cfg->layers[i].id, now, &g1);
        bool v2 = lb_access_layer(e.acc, demo, e.cfg->layers[i].id, now, &g2);
        bool v3 = lb_access_layer(e.acc, mil, e.cfg->layers[i].id, now, &g3);
        ASSERT(v1 == v2);
        if (v1) {
            ASSERT_EQ(g1.key, g2.key);
            seen++;
        }
        /* the keys tell rights apart: military's differ */
        other += v1 != v3 || (v1 && g1.key != g3.key);
    }
    ASSERT(seen > 0 && other > 0);
    lb_jwt_principal_free(p);
    /* a single role as a string */
    p = rs256_principal(&e, "\"roles\":\"kritis\"");
    ASSERT(p);
    ASSERT_EQ(p->nroles, 1);
    ASSERT_STREQ(p->roles[0], "kritis");
    lb_jwt_principal_free(p);
    env_free(&e);
}

LB_TEST(test_jwt_es256_nested_roles_claim_and_principal_claim)
{
    env e;
    env_make(&e, jwt_section_ec, false);
    /* the section as read: the key's path relative to the config's folder */
    ASSERT_STREQ(e.cfg->jwt.issuer, "https://idp.example/realms/lage");
    ASSERT_STREQ(e.cfg->jwt.audience, "lagebild");
    ASSERT_STREQ(e.cfg->jwt.key_path, e.ec_pem);
    ASSERT_STREQ(e.cfg->jwt.roles_claim, "realm_access.roles");
    ASSERT_STREQ(e.cfg->jwt.principal_claim, "preferred_username");
    char *c = claims("\"preferred_username\":\"J\\u00fcrgen.M\",\"realm_access\":{\"roles\":"
                     "[\"offline_access\",\"lagezentrum\"]}",
                     300);
    char *t = make_jwt(ES, c, ec_key, SIG_KEY, NULL);
    char why[1024];
    lb_token_cfg *p = auth(&e, t, why);
    ASSERT(p);
    ASSERT_STREQ(p->principal, "jwt:J\xc3\xbcrgen.M");
    ASSERT_EQ(p->nroles, 1);
    ASSERT_STREQ(p->roles[0], "lagezentrum");
    lb_jwt_principal_free(p);
    free(t);
    /* an RS256 token is not taken by an ES256 key, whatever it says */
    t = make_jwt(RS, c, rsa_key, SIG_KEY, NULL);
    ASSERT(!auth(&e, t, why));
    ASSERT_CONTAINS(why, "alg is not that of a configured key (ES256)");
    free(t);
    /* roles at the top level do not count when the claim is realm_access.roles */
    free(c);
    c = claims("\"preferred_username\":\"bob\",\"roles\":[\"lagezentrum\"]", 300);
    t = make_jwt(ES, c, ec_key, SIG_KEY, NULL);
    ASSERT(!auth(&e, t, why));
    ASSERT_CONTAINS(why, "names no configured role");
    free(t);
    free(c);
    env_free(&e);
}

LB_TEST(test_jwt_claims_checked)
{
    env e;
    env_make(&e, jwt_section_rsa, false);
    long long now = (long long)time(NULL);
    char buf[1024];
    const char *roles = "\"roles\":[\"police\"]";
    char *c;
#define CASE(extra, exp_in, want)                                                          \
    do {                                                                                   \
        c = claims(extra, exp_in);                                                         \
        bool got = accepted(&e, c);                                                        \
        if (got != (want))                                                                 \
            fprintf(stderr, "  claims %s: accepted %d, wanted %d\n", c, got, (int)(want)); \
        ASSERT(got == (want));                                                             \
        free(c);                                                                           \
    } while (0)
    CASE(roles, 300, true);
    CASE(roles, -120, false); /* expired beyond the 60 s leeway */
    CASE(roles, -30, true);   /* within it */
    snprintf(buf, sizeof buf, "%s,\"nbf\":%lld", roles, now + 600);
    CASE(buf, 900, false);
    snprintf(buf, sizeof buf, "%s,\"nbf\":%lld", roles, now - 5);
    CASE(buf, 900, true);
    snprintf(buf, sizeof buf, "%s,\"nbf\":\"soon\"", roles);
    CASE(buf, 900, false);
    CASE("\"roles\":[]", 300, false);
    CASE("\"roles\":[\"nobody\"]", 300, false);
    CASE("\"roles\":[1,2]", 300, false);
    CASE("", 300, false);
    /* a duplicate member: which exp would count is up to the reader */
    snprintf(buf, sizeof buf, "%s,\"exp\":%lld", roles, now - 999);
    CASE(buf, 300, false);
#undef CASE
    /* issuer, audience, exp, sub by hand */
    struct {
        const char *text;
        bool want;
    } cases[] = {
        {"{\"iss\":\"https://idp.example/realms/other\",\"aud\":\"lagebild\",\"sub\":\"a\","
         "\"exp\":%lld,\"roles\":[\"police\"]}", false},
        {"{\"aud\":\"lagebild\",\"sub\":\"a\",\"exp\":%lld,\"roles\":[\"police\"]}", false},
        {"{\"iss\":\"https://idp.example/realms/lage\",\"aud\":\"other\",\"sub\":\"a\","
         "\"exp\":%lld,\"roles\":[\"police\"]}", false},
        {"{\"iss\":\"https://idp.example/realms/lage\",\"aud\":[\"x\",\"lagebild\"],"
         "\"sub\":\"a\",\"exp\":%lld,\"roles\":[\"police\"]}", true},
        {"{\"iss\":\"https://idp.example/realms/lage\",\"aud\":[\"x\"],\"sub\":\"a\","
         "\"exp\":%lld,\"roles\":[\"police\"]}", false},
        {"{\"iss\":\"https://idp.example/realms/lage\",\"aud\":\"lagebild\",\"sub\":\"a\","
         "\"roles\":[\"police\"],\"x\":%lld}", false},
        {"{\"iss\":\"https://idp.example/realms/lage\",\"aud\":\"lagebild\",\"exp\":%lld,"
         "\"roles\":[\"police\"]}", false},
        {"{\"iss\":\"https://idp.example/realms/lage\",\"aud\":\"lagebild\",\"sub\":\"a\\nb\","
         "\"exp\":%lld,\"roles\":[\"police\"]}", false},
        {"{\"iss\":\"https://idp.example/realms/lage\",\"aud\":\"lagebild\",\"sub\":\"a\\\"b\","
         "\"exp\":%lld,\"roles\":[\"police\"]}", false},
        {"{\"iss\":\"https://idp.example/realms/lage\",\"aud\":\"lagebild\",\"sub\":\"\","
         "\"exp\":%lld,\"roles\":[\"police\"]}", false},
        /* a C1 control (U+0085) and a byte that is not UTF-8 in the name;
         * U+00A0, just above the C1 range, is a name character */
        {"{\"iss\":\"https://idp.example/realms/lage\",\"aud\":\"lagebild\","
         "\"sub\":\"a\\u0085b\",\"exp\":%lld,\"roles\":[\"police\"]}", false},
        {"{\"iss\":\"https://idp.example/realms/lage\",\"aud\":\"lagebild\","
         "\"sub\":\"a\xff\",\"exp\":%lld,\"roles\":[\"police\"]}", false},
        {"{\"iss\":\"https://idp.example/realms/lage\",\"aud\":\"lagebild\","
         "\"sub\":\"a\\u00a0b\",\"exp\":%lld,\"roles\":[\"police\"]}", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(buf, sizeof buf, cases[i].text, now + 300);
        if (accepted(&e, buf) != cases[i].want)
            fprintf(stderr, "  case %zu: %s\n", i, buf);
        ASSERT(accepted(&e, buf) == cases[i].want);
    }
    env_free(&e);
}

LB_TEST(test_jwt_forgeries_refused)
{
    env e;
    env_make(&e, jwt_section_rsa, false);
    char *pem = t_read_file(e.rsa_pem);
    char *c = claims("\"roles\":[\"lagezentrum\"]", 300);
    char why[1024];
    struct {
        char *token;
        const char *reason;
    } bad[20];
    size_t n = 0;
    /* no signature */
    bad[n].token = make_jwt("{\"alg\":\"none\"}", c, NULL, SIG_NONE, NULL);
    bad[n++].reason = "none";
    /* HMAC keyed with the public key (algorithm confusion) */
    bad[n].token = make_jwt("{\"alg\":\"HS256\"}", c, NULL, SIG_HMAC_PUBKEY, pem);
    bad[n++].reason = "HS256";
    bad[n].token = make_jwt(RS, c, NULL, SIG_HMAC_PUBKEY, pem);
    bad[n++].reason = "RS256 header, HMAC signature";
    /* another key */
    bad[n].token = make_jwt(RS, c, rsa_other, SIG_KEY, NULL);
    bad[n++].reason = "other RSA key";
    /* the EC key under an ES256 header */
    bad[n].token = make_jwt(ES, c, ec_key, SIG_KEY, NULL);
    bad[n++].reason = "ES256";
    /* a critical extension */
    bad[n].token = make_jwt("{\"alg\":\"RS256\",\"crit\":[\"x\"],\"x\":1}", c, rsa_key, SIG_KEY,
                            NULL);
    bad[n++].reason = "crit";
    /* claims swapped under a valid signature of other claims */
    {
        char *good = make_jwt(RS, c, rsa_key, SIG_KEY, NULL);
        char *c2 = claims("\"roles\":[\"military\"]", 300);
        char *other = make_jwt(RS, c2, rsa_key, SIG_KEY, NULL);
        char *s1 = strrchr(good, '.'), *p2 = strchr(other, '.');
        char *mix = malloc(strlen(good) + strlen(other) + 1);
        /* header of good, payload of other, signature of good */
        size_t h = (size_t)(strchr(good, '.') - good);
        memcpy(mix, good, h);
        size_t pl = (size_t)(strrchr(other, '.') - p2);
        memcpy(mix + h, p2, pl);
        strcpy(mix + h + pl, s1);
        bad[n].token = mix;
        bad[n++].reason = "spliced payload";
        free(good);
        free(c2);
        free(other);
    }
    /* truncated signature, one character changed in the signature */
    {
        char *t = make_jwt(RS, c, rsa_key, SIG_KEY, NULL);
        t[strlen(t) - 4] = '\0';
        bad[n].token = t;
        bad[n++].reason = "truncated";
        t = make_jwt(RS, c, rsa_key, SIG_KEY, NULL);
        char *s = strrchr(t, '.') + 10;
        *s = *s == 'A' ? 'B' : 'A';
        bad[n].token = t;
        bad[n++].reason = "flipped";
        /* padding, a fourth part, a space */
        t = make_jwt(RS, c, rsa_key, SIG_KEY, NULL);
        char *t2 = malloc(strlen(t) + 4);
        sprintf(t2, "%s==", t);
        bad[n].token = t2;
        bad[n++].reason = "padding";
        t2 = malloc(strlen(t) + 4);
        sprintf(t2, "%s.x", t);
        bad[n].token = t2;
        bad[n++].reason = "four parts";
        t2 = malloc(strlen(t) + 4);
        sprintf(t2, " %s", t);
        bad[n].token = t2;
        bad[n++].reason = "space";
        /* the same signature in non-canonical base64url: 256 bytes end in
         * two characters, the last one's 4 low bits unused (zero); setting
         * one gives another text of the same bytes */
        t2 = strdup(t);
        char *last = t2 + strlen(t2) - 1;
        const char *al = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        ASSERT_EQ((strchr(al, *last) - al) & 15, 0);
        *last = al[(strchr(al, *last) - al) | 1];
        bad[n].token = t2;
        bad[n++].reason = "non-canonical signature text";
        free(t);
    }
    /* oversized */
    {
        char big[9000];
        memset(big, 'a', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        char *bc = malloc(12000);
        snprintf(bc, 12000, "{\"iss\":\"https://idp.example/realms/lage\",\"aud\":\"lagebild\","
                 "\"sub\":\"a\",\"exp\":%lld,\"roles\":[\"police\"],\"pad\":\"%s\"}",
                 (long long)time(NULL) + 300, big);
        bad[n].token = make_jwt(RS, bc, rsa_key, SIG_KEY, NULL);
        bad[n++].reason = "oversized";
        free(bc);
    }
    for (size_t i = 0; i < n; i++) {
        lb_token_cfg *p = auth(&e, bad[i].token, why);
        if (p)
            fprintf(stderr, "  accepted: %s\n", bad[i].reason);
        ASSERT(!p);
        /* the reason never repeats the token */
        ASSERT(!strstr(why, bad[i].token + 1));
        free(bad[i].token);
    }
    /* the control: the same claims, correctly signed, pass */
    ASSERT(accepted(&e, c));
    free(c);
    free(pem);
    env_free(&e);
}

LB_TEST(test_jwt_malformed_json_refused)
{
    env e;
    env_make(&e, jwt_section_rsa, false);
    long long exp = (long long)time(NULL) + 300;
    char deep[256] = "";
    for (int i = 0; i < 20; i++)
        strcat(deep, "[");
    strcat(deep, "1");
    for (int i = 0; i < 20; i++)
        strcat(deep, "]");
    const char *tails[] = {
        "}x",              /* text after the object */
        ",}",              /* trailing comma */
        ",\"a\":01}",      /* leading zero */
        ",\"a\":1.}",      /* bare fraction */
        ",\"a\":\"\\x\"}", /* bad escape */
        ",\"a\":\"\\ud800\"}", /* unpaired surrogate */
        ",\"a\":\"\\u0000\"}", /* NUL */
        ",\"a\":tru}",
        ",\"a\" 1}",
        ",\"a\":\"unterminated}",
        ",\"a\":1e999}", /* not finite */
        NULL,            /* deep nesting (below) */
    };
    char buf[2048];
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        if (tails[i])
            snprintf(buf, sizeof buf,
                     "{\"iss\":\"https://idp.example/realms/lage\",\"aud\":\"lagebild\","
                     "\"sub\":\"a\",\"exp\":%lld,\"roles\":[\"police\"]%s",
                     exp, tails[i]);
        else
            snprintf(buf, sizeof buf,
                     "{\"iss\":\"https://idp.example/realms/lage\",\"aud\":\"lagebild\","
                     "\"sub\":\"a\",\"exp\":%lld,\"roles\":[\"police\"],\"d\":%s}",
                     exp, deep);
        if (accepted(&e, buf))
            fprintf(stderr, "  accepted: %s\n", buf);
        ASSERT(!accepted(&e, buf));
    }
    /* the same shapes done right pass: escapes, a pair, numbers, nesting */
    snprintf(buf, sizeof buf,
             "{ \"iss\" : \"https:\\/\\/idp.example\\/realms\\/lage\", \"aud\":\"lagebild\","
             "\"sub\":\"a\\ud83d\\ude00b\",\"exp\":%lld.0,\"roles\":[\"police\"],"
             "\"n\":[-0.5e+3,0,true,false,null,{}],\"d\":[[[[1]]]]}",
             exp);
    ASSERT(accepted(&e, buf));
    env_free(&e);
}

LB_TEST(test_jwt_config_errors)
{
    make_keys();
    char *dir = t_tmpdir();
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -r '%s/demo/data' '%s/'", LB_SOURCE_DIR, dir);
    ASSERT_EQ(system(cmd), 0);
    char *base = t_read_file(LB_SOURCE_DIR "/demo/lagebild.yaml");
    ASSERT(base);
    struct {
        const char *section, *want;
    } cases[] = {
        {"jwt:\n  issuer: x\n  audience: y\n", "public_key"},
        {"jwt:\n  issuer: x\n  public_key: k.pem\n", "audience"},
        {"jwt:\n  issuer: x\n  audience: y\n  public_key: k.pem\n  roles_claim: a..b\n",
         "roles_claim"},
        {"jwt:\n  issuer: x\n  audience: y\n  public_key: k.pem\n  leeway_s: 99999\n",
         "leeway_s"},
    };
    char *path = t_path(dir, "lagebild.yaml");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "w");
        fprintf(f, "%s\n%s", base, cases[i].section);
        fclose(f);
        lb_config *cfg = NULL;
        char *diag = NULL;
        ASSERT_NE(lb_config_load(path, &cfg, &diag), LB_OK);
        ASSERT(diag);
        ASSERT_CONTAINS(diag, cases[i].want);
        free(diag);
    }
    /* a file that is not a public key: lb_access_new says so */
    t_write(dir, "k.pem", "not a key\n");
    FILE *f = fopen(path, "w");
    fprintf(f, "%s\njwt:\n  issuer: x\n  audience: y\n  public_key: k.pem\n", base);
    fclose(f);
    lb_config *cfg = NULL;
    char *diag = NULL;
    ASSERT_EQ(lb_config_load(path, &cfg, &diag), LB_OK);
    lb_access *acc = NULL;
    lb_error err;
    ASSERT_EQ(lb_access_new(cfg, &acc, &err), LB_ECONFIG);
    ASSERT_CONTAINS(err.msg, "PUBLIC KEY");
    ASSERT(!acc);
    /* and lagebild check */
    t_result r = t_lagebild("check", path, NULL, NULL);
    ASSERT_EQ(r.status, 1);
    ASSERT_CONTAINS(r.err, "k.pem: not a PEM public key");
    t_result_free(&r);
    /* an RSA key below 2048 bits */
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    char *kp = t_path(dir, "k.pem");
    write_pub(small, kp);
    EVP_PKEY_free(small);
    ASSERT_EQ(lb_access_new(cfg, &acc, &err), LB_ECONFIG);
    ASSERT_CONTAINS(err.msg, "2048");
    lb_config_free(cfg);
    free(kp);
    free(path);
    free(base);
    t_rmrf(dir);
    free(dir);
}

/* Append k's public key (PEM) to the file at path. */
static void append_pub(EVP_PKEY *k, const char *path)
{
    FILE *f = fopen(path, "a");
    ASSERT(f);
    ASSERT_EQ(PEM_write_PUBKEY(f, k), 1);
    fclose(f);
}

LB_TEST(test_jwt_several_keys_while_the_provider_rotates)
{
    env e;
    env_make(&e, jwt_section_rsa, false);
    /* old RSA key, new RSA key and an EC key in one file */
    char *keys = t_path(e.dir, "keys.pem");
    append_pub(rsa_other, keys);
    append_pub(rsa_key, keys);
    append_pub(ec_key, keys);
    char *configured = e.cfg->jwt.key_path;
    e.cfg->jwt.key_path = keys;
    lb_access *acc = NULL;
    lb_error err;
    lb_status st = lb_access_new(e.cfg, &acc, &err);
    e.cfg->jwt.key_path = configured;
    ASSERT_EQ(st, LB_OK);
    lb_access *single = e.acc;
    e.acc = acc;
    char *c = claims("\"roles\":[\"police\"]", 300);
    EVP_PKEY *third = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    struct {
        const char *header;
        EVP_PKEY *key;
        bool want, want_single;
    } cases[] = {
        {RS, rsa_key, true, true},     /* the new key, also configured alone */
        {RS, rsa_other, true, false},  /* the old key: only in the file of three */
        {ES, ec_key, true, false},     /* ES256 next to RSA keys */
        {RS, third, false, false},     /* a key nobody configured */
        {ES, rsa_key, false, false},   /* an RSA signature under ES256 */
    };
    char why[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = make_jwt(cases[i].header, c, cases[i].key, SIG_KEY, NULL);
        lb_token_cfg *p = auth(&e, t, why);
        if ((p != NULL) != cases[i].want)
            fprintf(stderr, "  case %zu: %s\n", i, p ? "accepted" : why);
        ASSERT((p != NULL) == cases[i].want);
        lb_jwt_principal_free(p);
        e.acc = single;
        p = auth(&e, t, why);
        e.acc = acc;
        ASSERT((p != NULL) == cases[i].want_single);
        lb_jwt_principal_free(p);
        free(t);
    }
    EVP_PKEY_free(third);
    e.acc = single;
    lb_access_free(acc);
    free(c);
    /* a block that is not a public key, and too many keys, are config errors */
    t_write(e.dir, "mixed.pem", "");
    char *mixed = t_path(e.dir, "mixed.pem");
    append_pub(rsa_key, mixed);
    FILE *f = fopen(mixed, "a");
    fputs("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    ASSERT_EQ(lb_jwt_key_check(mixed, &err), LB_ECONFIG);
    ASSERT_CONTAINS(err.msg, "block 2: not a PEM public key");
    for (int i = 0; i < 6; i++)
        append_pub(ec_key, keys);
    ASSERT_EQ(lb_jwt_key_check(keys, &err), LB_ECONFIG);
    ASSERT_CONTAINS(err.msg, "more than 8 keys");
    free(mixed);
    free(keys);
    env_free(&e);
}

/* GET target with a bearer header of any length (t_get's buffer is small). */
static int get_bearer(int port, const char *target, const char *token, t_resp *r)
{
    char *h = malloc(strlen(token) + 64);
    sprintf(h, "Authorization: Bearer %s\r\n", token);
    int rc = t_http(port, "GET", target, h, NULL, r);
    free(h);
    return rc;
}

/* target answers status with the same body to bearer a and to bearer b */
static void same_answer(int port, const char *target, const char *a, const char *b, int status)
{
    t_resp ra, rb;
    ASSERT_EQ(get_bearer(port, target, a, &ra), 0);
    ASSERT_EQ(get_bearer(port, target, b, &rb), 0);
    ASSERT_EQ(ra.status, status);
    ASSERT_EQ(rb.status, status);
    ASSERT_EQ(ra.bodylen, rb.bodylen);
    ASSERT(memcmp(ra.body, rb.body, ra.bodylen) == 0);
    t_resp_free(&ra);
    t_resp_free(&rb);
}

LB_TEST(test_jwt_through_the_server)
{
    env e;
    env_make(&e, jwt_section_rsa, true);
    char *errpath = t_path(e.dir, "server.err");
    char *audit = t_path(e.dir, "audit.jsonl");
    t_server srv;
    ASSERT(t_server_start(&srv, e.cfg_path, audit, errpath));
    const char *tile = "/maps/lage/12/2154/1351.png";
    char *c = claims("\"roles\":[\"police\"]", 300);
    char *jwt = make_jwt(RS, c, rsa_key, SIG_KEY, NULL);
    t_resp a;
    /* the same role, the same pixels */
    same_answer(srv.port, tile, jwt, "demo-police", 200);
    /* in the query string, as tile clients without headers send it */
    char *q = malloc(strlen(jwt) + 64);
    sprintf(q, "%s?token=%s", tile, jwt);
    ASSERT_EQ(t_get(srv.port, q, NULL, &a), 0);
    ASSERT_EQ(a.status, 200);
    t_resp_free(&a);
    free(q);
    /* expired, or by another key: 401 like any unknown token */
    free(c);
    c = claims("\"roles\":[\"police\"]", -600);
    char *old = make_jwt(RS, c, rsa_key, SIG_KEY, NULL);
    same_answer(srv.port, tile, old, "no-such-token", 401);
    ASSERT_EQ(t_server_stop(&srv, 10), 0);
    /* the audit log names the principal, never the token */
    char *log = t_read_file(audit);
    ASSERT(log);
    ASSERT_CONTAINS(log, "\"jwt:alice\"");
    ASSERT(!strstr(log, strrchr(jwt, '.') + 1));
    ASSERT(!strstr(log, strchr(jwt, '.') + 1));
    free(log);
    t_server_free(&srv);
    free(old);
    free(jwt);
    free(c);
    free(errpath);
    free(audit);
    env_free(&e);
}

/* Whether the server closes stream s within timeout_s. */
static bool stream_ends(tl_sse *s, double timeout_s)
{
    double end = t_mono() + timeout_s;
    char buf[4096];
    while (t_mono() < end) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        if (read(s->fd, buf, sizeof buf) <= 0)
            return true;
    }
    return false;
}

/* Post one point feature to source as token; the server must take it. */
static void post_point(int port, const char *source, const char *token, const char *id,
                       double x, double y, const char *props)
{
    char *fc = tl_point(id, x, y, props);
    t_resp r;
    ASSERT_EQ(tl_post(port, source, token, fc, &r), 0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    free(fc);
}

LB_TEST(test_jwt_event_stream_follows_roles_until_expiry)
{
    make_keys();
    char *dir = t_tmpdir();
    char *pem = t_path(dir, "rsa.pem");
    write_pub(rsa_key, pem);
    char *cfg = tl_config(dir, "jwt:\n"
                               "  issuer: https://idp.example/realms/lage\n"
                               "  audience: lagebild\n"
                               "  public_key: rsa.pem\n"
                               "  leeway_s: 0.5\n");
    char *errpath = t_path(dir, "server.err");
    t_server srv;
    t_server_threads = "8";
    ASSERT(t_server_start(&srv, cfg, NULL, errpath));
    /* a police JWT for some seconds, and a fire one for longer */
    char *c = claims("\"roles\":[\"police\"]", 4);
    char *police = make_jwt(RS, c, rsa_key, SIG_KEY, NULL);
    free(c);
    c = claims("\"roles\":[\"fire\"]", 120);
    char *fire = make_jwt(RS, c, rsa_key, SIG_KEY, NULL);
    free(c);
    double t0 = t_mono();
    tl_sse ps, fs;
    ASSERT(tl_sse_open(&ps, srv.port, police));
    ASSERT(tl_sse_open(&fs, srv.port, fire));
    /* a police feature: the police JWT's stream gets it, the fire one not */
    post_point(srv.port, "police_live", "t-police", "p1", 9.36, 52.10, "\"groups\":\"police\"");
    char msg[2048];
    ASSERT(tl_sse_next(&ps, msg, sizeof msg, 20));
    ASSERT_CONTAINS(msg, "{\"layer\":\"incidents\"");
    /* a fire feature: now the fire stream (its first event) */
    post_point(srv.port, "fire_live", "t-fire", "f1", 620000.0, 5762000.0, NULL);
    ASSERT(tl_sse_next(&fs, msg, sizeof msg, 20));
    ASSERT_CONTAINS(msg, "{\"layer\":\"incidents\"");
    ASSERT(!tl_sse_next(&ps, msg, sizeof msg, 0.5));
    /* the police token expires (4 s + 0.5 s leeway): after that its stream
     * gets nothing, not even for a police change, while the fire stream
     * goes on; the server ends it then (the connection closes when
     * civetweb's 5 s keep-alive wait for a next request is over) */
    while (t_mono() - t0 < 6.0)
        usleep(100000);
    post_point(srv.port, "police_live", "t-police", "p2", 9.40, 52.10, "\"groups\":\"police\"");
    post_point(srv.port, "fire_live", "t-fire", "f2", 621000.0, 5762000.0, NULL);
    ASSERT(tl_sse_next(&fs, msg, sizeof msg, 20));
    ASSERT(!tl_sse_next(&ps, msg, sizeof msg, 1.0));
    ASSERT(stream_ends(&ps, 15));
    double ended = t_mono() - t0;
    if (!(ended > 4.0 && ended < 16.0))
        fprintf(stderr, "  the stream ended after %.2f s\n", ended);
    ASSERT(ended > 4.0 && ended < 16.0);
    ASSERT(!stream_ends(&fs, 0.5));
    /* and the expired token opens no new stream */
    ASSERT(!tl_sse_open(&ps, srv.port, police));
    tl_sse_close(&ps);
    tl_sse_close(&fs);
    ASSERT_EQ(t_server_stop(&srv, 10), 0);
    t_server_free(&srv);
    free(police);
    free(fire);
    free(errpath);
    free(cfg);
    free(pem);
    t_rmrf(dir);
    free(dir);
}

/*
 * A JWT principal pushes as "jwt:" and its subject: its features are its own,
 * out of reach of a configured principal of the same role and of another
 * subject's JWT, whose pushes and deletes of those ids are answered as for
 * ids nobody has; the subject's next token (the same name) still reaches them.
 */
LB_TEST(test_jwt_pushed_features_belong_to_their_subject)
{
    make_keys();
    char *dir = t_tmpdir();
    char *pem = t_path(dir, "rsa.pem");
    write_pub(rsa_key, pem);
    char *cfg = tl_config(dir, jwt_section_rsa);
    char *store = t_path(dir, "store.sqlite");
    char *errpath = t_path(dir, "server.err");
    t_server srv;
    t_server_threads = "8";
    ASSERT(t_server_start(&srv, cfg, NULL, errpath));
    char *c = claims("\"roles\":[\"police\"]", 300);
    char *alice = make_jwt(RS, c, rsa_key, SIG_KEY, NULL);
    free(c);
    c = malloc(4096);
    snprintf(c, 4096,
             "{\"iss\":\"https://idp.example/realms/lage\",\"aud\":\"lagebild\",\"sub\":\"bob\","
             "\"exp\":%lld,\"roles\":[\"police\"]}",
             (long long)time(NULL) + 300);
    char *bob = make_jwt(RS, c, rsa_key, SIG_KEY, NULL);
    free(c);
    char *fc = tl_point("J1", 9.36, 52.10, "\"name\":\"von alice\"");
    char *fc2 = tl_point("J2", 9.36, 52.10, "\"name\":\"von alice\"");
    t_resp r, fresh;
    ASSERT_EQ(tl_post(srv.port, "police_live", alice, fc, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "\"replaced\":0");
    t_resp_free(&r);
    /* bob and the configured police principal: as if J1 did not exist */
    const char *others[2] = {bob, "t-police"};
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(tl_send(srv.port, "DELETE", "/sources/police_live/features/J1", others[i],
                          NULL, &r), 0);
        ASSERT_EQ(tl_send(srv.port, "DELETE", "/sources/police_live/features/J9", others[i],
                          NULL, &fresh), 0);
        ASSERT_EQ(r.status, 404);
        ASSERT_EQ(r.rawlen, fresh.rawlen);
        ASSERT(memcmp(r.raw, fresh.raw, r.rawlen) == 0);
        t_resp_free(&r);
        t_resp_free(&fresh);
    }
    ASSERT_EQ(tl_post(srv.port, "police_live", bob, fc, &r), 0);
    ASSERT_EQ(tl_post(srv.port, "police_live", bob, fc2, &fresh), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "\"replaced\":0");
    ASSERT_EQ(r.rawlen, fresh.rawlen);
    ASSERT(memcmp(r.raw, fresh.raw, r.rawlen) == 0);
    t_resp_free(&r);
    t_resp_free(&fresh);
    char *w = t_sql(store, "SELECT source||'|'||name FROM incidents WHERE source_fid='J1'"
                           " AND writer='jwt:alice'");
    ASSERT_STREQ(w, "police_live|von alice");
    free(w);
    /* a new token of alice's: the same principal, the same features */
    c = claims("\"roles\":[\"police\"],\"jti\":\"zwei\"", 300);
    char *alice2 = make_jwt(RS, c, rsa_key, SIG_KEY, NULL);
    free(c);
    ASSERT(strcmp(alice2, alice) != 0);
    ASSERT_EQ(tl_post(srv.port, "police_live", alice2, fc, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "\"replaced\":1");
    t_resp_free(&r);
    ASSERT_EQ(tl_send(srv.port, "DELETE", "/sources/police_live/features/J1", alice, NULL, &r),
              0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    w = t_sql(store, "SELECT group_concat(writer) FROM incidents WHERE source_fid='J1'");
    ASSERT_STREQ(w, "jwt:bob");
    free(w);
    ASSERT_EQ(t_server_stop(&srv, 10), 0);
    t_server_free(&srv);
    free(fc);
    free(fc2);
    free(alice);
    free(alice2);
    free(bob);
    free(errpath);
    free(store);
    free(cfg);
    free(pem);
    t_rmrf(dir);
    free(dir);
}

LB_TESTS(test_jwt_rs256_accepted_roles_from_claim,
         test_jwt_es256_nested_roles_claim_and_principal_claim, test_jwt_claims_checked,
         test_jwt_forgeries_refused, test_jwt_malformed_json_refused, test_jwt_config_errors,
         test_jwt_several_keys_while_the_provider_rotates, test_jwt_through_the_server,
         test_jwt_event_stream_follows_roles_until_expiry,
         test_jwt_pushed_features_belong_to_their_subject)
