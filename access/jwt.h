/*
 * lagebild — access: JSON Web Tokens from an identity provider (internal to
 * the access module; the public entry points are in lagebild/access.h).
 *
 * A JWT (RFC 7519) in its compact JWS form (RFC 7515) is
 * BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature).
 * lagebild accepts exactly one algorithm per configured key: RS256 for an
 * RSA key (at least 2048 bits), ES256 for an EC key on P-256.  The header's
 * "alg" must name the algorithm of a configured key, and only keys of that
 * algorithm are tried; "none", HMAC and every other value are refused, so
 * a token can never choose how it is checked.
 */
#ifndef LAGEBILD_ACCESS_JWT_H
#define LAGEBILD_ACCESS_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lagebild/config.h"
#include "lagebild/status.h"

enum { LB_JWT_RS256 = 1, LB_JWT_ES256 = 2 };

#define LB_JWT_MAX_KEYS 8

/* The provider's keys: more than one while it rotates (old and new). */
typedef struct lb_jwt_key {
    void *pkey[LB_JWT_MAX_KEYS]; /* EVP_PKEY */
    int alg[LB_JWT_MAX_KEYS];    /* LB_JWT_RS256 or LB_JWT_ES256 */
    int n;
} lb_jwt_key;

/* Load the PEM public keys at path ("PUBLIC KEY", SubjectPublicKeyInfo; one
 * or more, at most LB_JWT_MAX_KEYS). */
lb_status lb__jwt_key_load(const char *path, lb_jwt_key *key, lb_error *err);
void lb__jwt_key_free(lb_jwt_key *key);

/*
 * Verify token (signature, then issuer, audience, expiry, not-before under
 * cfg->jwt) at time now; on success *out is a new principal (see
 * lb_access_authenticate_jwt).  On failure err says why, without the token.
 */
lb_status lb__jwt_verify(const lb_jwt_key *key, const lb_config *cfg, const char *token,
                         time_t now, lb_token_cfg **out, lb_error *err);

/* base64url (RFC 4648 section 5) without padding, strictly: the alphabet
 * only, no '=', unused trailing bits zero.  Returns the decoded length, or
 * (size_t)-1 when the text is not such base64url or does not fit cap. */
size_t lb__b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap);

#endif
