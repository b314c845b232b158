/*
 * lagebild — access: who may see which layers, features and areas.
 *
 * An lb_access is built from a config (roles, tokens) and holds the operator
 * state that changes at run time: the crisis phase and break-glass grants.
 * Per request:
 *   token --lb_access_authenticate--> principal
 *   principal x layer x now --lb_access_layer--> lb_grant (or "not visible")
 *   grant x feature label --lb_grant_allows--> visible or not
 * The grant's key (lb_grant_key) is canonical: two principals whose rights on
 * a layer are equal get the same key, different rights never do; every cache
 * entry derived from a layer includes it.
 *
 * Semantics (docs/access.md): a role sees a feature of a layer granted to it
 * when level <= clearance level, every caveat of the feature is held by the
 * role, and releasable_to intersects the role's groups (empty releasable_to:
 * no releasability restriction).  Roles of one principal combine as a union.
 * A layer granted by an area-limited role is clipped to the area (union of
 * the areas of the granting roles; no limit if any granting role has none).
 * Owner-set release rules let groups see a source's features only
 * generalised (positions snapped to cells).
 */
#ifndef LAGEBILD_ACCESS_H
#define LAGEBILD_ACCESS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "lagebild/config.h"
#include "lagebild/status.h"

typedef struct lb_access lb_access;

/* Build from cfg (which must outlive it); loads the roles' area limits. */
lb_status lb_access_new(const lb_config *cfg, lb_access **out, lb_error *err);
void lb_access_free(lb_access *a);

/*
 * The principal holding token, or NULL for a missing, malformed, unknown or
 * revoked token.  Compares against every configured hash in constant time.
 */
const lb_token_cfg *lb_access_authenticate(const lb_access *a, const char *token);

/* Longest JWT accepted (characters). */
#define LB_JWT_MAX 8192

/* Whether the config has a jwt: section (tokens from an identity provider). */
bool lb_access_has_jwt(const lb_access *a);

/*
 * The principal of a JSON Web Token signed by the configured identity
 * provider (jwt:, docs/config.md): RS256 or ES256 as the configured key is,
 * issuer and audience as configured, not expired at now (exp is required,
 * nbf honoured, both with the configured leeway).  *out is a new principal
 * named "jwt:" + the principal claim, with the configured roles the roles
 * claim names, never admin; free it with lb_jwt_principal_free.  On failure
 * (LB_EAUTH) err says why, for the server log; it never contains the token.
 */
lb_status lb_access_authenticate_jwt(const lb_access *a, const char *token, time_t now,
                                     lb_token_cfg **out, lb_error *err);
void lb_jwt_principal_free(lb_token_cfg *p);
/* Whether the PEM public key at path is one a jwt: section can use. */
lb_status lb_jwt_key_check(const char *path, lb_error *err);

/* Operator state: the crisis phase (-1: none) and break-glass grants. */
int lb_access_phase(const lb_access *a);
void lb_access_set_phase(lb_access *a, int phase);
/*
 * Break-glass: grant role a layer until `until`, under the role's own
 * clearance and area limit, for the logged reason.  It expires by itself.
 * Returns LB_ENOENT for an unknown role or layer.
 */
lb_status lb_access_break_glass(lb_access *a, const char *role, const char *layer,
                                time_t until, const char *reason, lb_error *err);

/*
 * Carry the operator state of `from` (the crisis phase, the break-glass
 * grants not expired at now) over to `to`, an access of a new config that
 * replaces it: the config's phase: is only the value at start.  A grant
 * whose role or layer the new config lacks ends.  LB_ENOMEM when some could
 * not be carried.
 */
lb_status lb_access_carry(lb_access *to, const lb_access *from, time_t now);

#define LB_GRANT_MAX 8

/* One clearance under which a layer is visible. */
typedef struct lb_clearance {
    lb_label label;  /* level, groups, caveats of the role */
    int area;        /* index of the area limit, -1: none */
} lb_clearance;

/* What a principal may see of one layer, now. */
typedef struct lb_grant {
    lb_clearance c[LB_GRANT_MAX];
    int n;
    bool area_limited;   /* every clearance has an area: clip to their union */
    uint64_t areas;      /* bit per area index in the union (when area_limited) */
    uint64_t key;        /* hash of canon (0 never used) */
    char canon[LB_GRANT_MAX * 56]; /* canonical text of these rights, for cache keys */
    time_t expires;      /* when this grant may change (window end, break-glass expiry), 0: never */
} lb_grant;

/*
 * The rights of principal on layer at time now: false when the layer is not
 * visible to it at all (not granted, role outside its validity window, phase
 * grant not in force).
 */
bool lb_access_layer(const lb_access *a, const lb_token_cfg *principal, const char *layer,
                     time_t now, lb_grant *out);

/*
 * Whether principal may push features to source now: one of its roles, inside
 * its validity window, lists the source under write: (docs/config.md).
 */
bool lb_access_may_write(const lb_access *a, const lb_token_cfg *principal, const char *source,
                         time_t now);

/*
 * The passes of g, each drawn for one area of its clearances: -1 (the
 * unlimited pass) first when a clearance has no area, then each distinct
 * area index in clearance order.  Returns their count (at most
 * LB_GRANT_MAX).
 */
int lb_grant_passes(const lb_grant *g, int passes[LB_GRANT_MAX]);

/* Whether a feature with label may be shown under the grant (exactly). */
bool lb_grant_allows(const lb_grant *g, const lb_label *label);
/* The same, by the clearances of g with this area (-1: unlimited) or none:
 * whether the pass of that area may show it exactly. */
bool lb_grant_allows_in(const lb_grant *g, int area, const lb_label *label);

/*
 * Whether the feature may be shown generalised: not allowed exactly, but its
 * source's release rule names a group of a clearance whose level and caveats
 * suffice.
 */
bool lb_grant_allows_generalised(const lb_grant *g, const lb_label *label,
                                 const lb_source_cfg *src);

/*
 * How the tiles draw a feature of this label (of source src, NULL: none)
 * in the pass of one area of g (area: an area index, -1: the unlimited
 * pass), so that the principal sees the union of what its clearances
 * allow (docs/config.md, "roles"):
 *   - LB_DRAW_EXACT: a clearance of this area allows it, and no unlimited
 *     clearance does (else the unlimited pass draws it);
 *   - LB_DRAW_GEN: no clearance of this area or unlimited allows it
 *     exactly, a clearance of this area releases it generalised (its
 *     source's rule), and no unlimited clearance does;
 *   - LB_DRAW_NONE otherwise.
 * A feature allowed exactly only inside an area and released generalised
 * everywhere is drawn both ways inside the area and generalised outside.
 */
typedef enum lb_draw { LB_DRAW_NONE, LB_DRAW_EXACT, LB_DRAW_GEN } lb_draw;
lb_draw lb_grant_draws(const lb_grant *g, int area, const lb_label *label,
                       const lb_source_cfg *src);

/* Area limits: count and, per index, the polygon rings in EPSG:4326. */
size_t lb_access_area_count(const lb_access *a);
/* Rings of area i as lon/lat pairs; *nrings rings, ring r has counts[r] points. */
const double *const *lb_access_area_rings(const lb_access *a, size_t i, const size_t **counts,
                                          size_t *nrings);

/*
 * Area i as one valid (multi)polygon in WKB (lon/lat, the same rings), and
 * its lon/lat box: for geometry tests with GEOS (e.g. through OGR).
 */
const unsigned char *lb_access_area_wkb(const lb_access *a, size_t i, size_t *len,
                                        double box[4]);

#endif
