/*
 * lagebild — the catalog: sources, layers and maps as GIS staff describe them
 * in a YAML config file (see docs/config.md for every key).
 *
 * lb_config_load() parses and validates a file and returns an immutable
 * lb_config.  Errors are collected (not only the first) as "file:line: message"
 * lines.  Relative paths in the file are resolved against the folder of the
 * config file, so a copied folder keeps working.
 */
#ifndef LAGEBILD_CONFIG_H
#define LAGEBILD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lagebild/status.h"

/* Classification levels, ordered: a higher value is more restrictive. */
typedef enum lb_level {
    LB_LEVEL_OFFEN = 0,
    LB_LEVEL_VS_NFD = 1,
    LB_LEVEL_VS_VERTRAULICH = 2,
    LB_LEVEL_GEHEIM = 3,
} lb_level;

#define LB_LEVEL_COUNT 4
/* Canonical name ("VS-NfD"); NULL for an invalid level. */
const char *lb_level_name(lb_level level);
/* Parse a level name (case-insensitive, "VS-NfD", "VS_NFD" and "NfD" accepted). */
lb_status lb_level_parse(const char *s, lb_level *out);

/* Groups and caveats are declared in the config; a label refers to them by bit. */
#define LB_MAX_GROUPS 64
#define LB_MAX_CAVEATS 64

typedef struct lb_label {
    lb_level level;
    uint64_t groups;  /* releasable-to: bit i = config->groups[i] */
    uint64_t caveats; /* bit i = config->caveats[i] */
} lb_label;

/* Whether two labels are the same (field by field: padding is no part of a
 * label, so never memcmp them). */
static inline bool lb_label_eq(const lb_label *a, const lb_label *b)
{
    return a->level == b->level && a->groups == b->groups && a->caveats == b->caveats;
}

/* Labels in one fixed order (level, then groups, then caveats): <0, 0, >0. */
static inline int lb_label_cmp(const lb_label *a, const lb_label *b)
{
    if (a->level != b->level)
        return a->level < b->level ? -1 : 1;
    if (a->groups != b->groups)
        return a->groups < b->groups ? -1 : 1;
    return (a->caveats > b->caveats) - (a->caveats < b->caveats);
}

/* The common feature schema's mapped fields (besides geometry, ids, label). */
typedef enum lb_field {
    LB_FIELD_KIND,
    LB_FIELD_NAME,
    LB_FIELD_STATUS,
    LB_FIELD_OBSERVED_AT,
    LB_FIELD_VALID_FROM,
    LB_FIELD_VALID_TO,
    LB_FIELD_ACCURACY_M,
    LB_FIELD_COUNT
} lb_field;

/* Column name of a common field ("observed_at"). */
const char *lb_field_name(lb_field f);

typedef struct lb_source_cfg {
    char *id;
    int line;          /* line of the source's key in the config */
    char *path;        /* resolved against the config's folder; or a URL/GDAL connection string;
                        * NULL for a drop-folder source (watch) */
    char *watch;       /* drop folder: its newest complete file is the source's content */
    double refresh_s;  /* re-read (URL/file) or poll (watch) every refresh_s seconds; 0: never
                        * (a watch source without refresh is polled every 2 s) */
    double settle_s;   /* watch: a file is complete when unmodified for settle_s (default 2 s) */
    char *driver;      /* optional: restrict OGR to this driver short name */
    char *ogr_layer;   /* optional: layer name inside a multi-layer dataset */
    char *crs;         /* optional: CRS used when the file declares none */
    bool force_crs;    /* use crs even when the file declares one (file is wrong) */
    char *layer;       /* target layer id */
    char *agency;      /* delivering actor (police, fire, ...) */
    char *fid_attr;    /* optional: attribute holding the source feature id */
    char *mgrs_attr;   /* optional: attribute with an MGRS position (builds a point) */
    char **open_options; /* NULL-terminated GDAL open options ("KEY=VALUE"), may be NULL */
    char *map[LB_FIELD_COUNT]; /* attribute feeding each common field, or NULL */
    char *set[LB_FIELD_COUNT]; /* constant value for a common field, or NULL */
    lb_label label;            /* default label of the source's features */
    char *label_level_attr;    /* optional: per-feature level attribute */
    char *label_groups_attr;   /* optional: per-feature releasable-to attribute */
    char *label_caveats_attr;  /* optional: per-feature caveats attribute */
    /* owner-set release rule: these groups see the source's features only
     * generalised to cells of cell_m metres (0 groups: no such rule) */
    uint64_t generalised_groups;
    double generalised_cell_m;
} lb_source_cfg;

/* Crisis phases (the current one is operator state, see access.h). */
typedef enum lb_phase {
    LB_PHASE_VORBEREITUNG = 0,
    LB_PHASE_VORSORGE,
    LB_PHASE_SCHUTZ,
    LB_PHASE_REAKTION,
    LB_PHASE_REGENERATION,
    LB_PHASE_COUNT
} lb_phase;
/* Canonical name ("Reaktion"), NULL if invalid; parse is case-insensitive. */
const char *lb_phase_name(lb_phase p);
lb_status lb_phase_parse(const char *s, lb_phase *out);

typedef struct lb_layer_cfg {
    char *id; /* also the store table name: [a-z][a-z0-9_]* */
    int line;
    char *title;
    char *style; /* resolved path of the style file, may be NULL */
    char *attribution;
    /* conflation (conflate:): reports of the same kind from different sources
     * within distance and time window are one feature; 0: no conflation */
    double conflate_distance_m;
    double conflate_window_s; /* 0: time is not compared */
} lb_layer_cfg;

typedef struct lb_map_cfg {
    char *id;
    int line;
    char *title;
    char **layers; /* layer ids, bottom to top */
    size_t nlayers;
} lb_map_cfg;

/* Layers granted only while the crisis phase is one of phases (bit per lb_phase). */
typedef struct lb_phase_grant {
    int line;
    unsigned phases;
    char **layers;
    size_t nlayers;
} lb_phase_grant;

typedef struct lb_role_cfg {
    char *id;
    int line;
    char *title;
    lb_label clearance;  /* highest level, groups it belongs to, caveats it holds */
    bool all_layers;     /* layers: ["*"] */
    char **layers;       /* granted layer ids (always, unless all_layers) */
    size_t nlayers;
    lb_phase_grant *phase_grants;
    size_t nphase_grants;
    char *area;          /* optional area limit: resolved path of any OGR dataset */
    char *area_layer;    /* optional OGR layer inside it */
    char *area_crs;      /* optional CRS when the dataset declares none */
    char *valid_from;    /* optional ISO 8601 start of the role's validity */
    char *valid_to;      /* optional ISO 8601 end */
    char **write;        /* sources whose features the role may push (POST/DELETE) */
    size_t nwrite;
} lb_role_cfg;

typedef struct lb_token_cfg {
    char *principal; /* the key: a principal name */
    int line;
    char *hash;      /* "sha256:<64 hex digits>" of the token */
    char **roles;    /* role ids */
    size_t nroles;
    bool admin;      /* may read /metrics and use operator APIs */
    bool revoked;
    time_t expires;  /* principals of a JWT: when it stops being accepted; 0: never */
} lb_token_cfg;

/* Tokens from an identity provider (jwt:, docs/config.md); key_path NULL: none accepted. */
typedef struct lb_jwt_cfg {
    char *issuer;          /* "iss" must equal this */
    char *audience;        /* "aud" (a string or an array) must contain this */
    char *key_path;        /* PEM public key: RSA (RS256) or EC P-256 (ES256) */
    char *roles_claim;     /* dotted path to the roles (array of strings); NULL: "roles" */
    char *principal_claim; /* claim naming the principal; NULL: "sub" */
    double leeway_s;       /* clock skew allowed for exp and nbf; 0: 60 s is used */
} lb_jwt_cfg;

typedef struct lb_config {
    char *path;       /* the config file as given */
    char *store_path; /* resolved path of the SpatiaLite store */
    char **groups;    /* declared releasability groups */
    size_t ngroups;
    char **caveats; /* declared caveats */
    size_t ncaveats;
    lb_source_cfg *sources;
    size_t nsources;
    lb_layer_cfg *layers;
    size_t nlayers;
    lb_map_cfg *maps;
    size_t nmaps;
    lb_role_cfg *roles;
    size_t nroles;
    lb_token_cfg *tokens;
    size_t ntokens;
    int phase; /* initial crisis phase (lb_phase), -1 when not set */
    char *cors_origin; /* Access-Control-Allow-Origin value; NULL: "*"; "none": no CORS */
    double push_max_body; /* push.max_body_bytes; 0: LB_PUSH_MAX_BODY_DEFAULT */
    lb_jwt_cfg jwt;
} lb_config;

/* Default largest body of a push request (push.max_body_bytes). */
#define LB_PUSH_MAX_BODY_DEFAULT (16.0 * 1024 * 1024)

/*
 * Parse and validate the config at path.  On success *out owns a new config
 * (free with lb_config_free).  On failure *out is NULL and, if diag is not
 * NULL, *diag receives a malloc'ed text of "file:line: message" lines (caller
 * owns it); the returned status is LB_ECONFIG (or LB_ENOENT/LB_ENOMEM).
 */
lb_status lb_config_load(const char *path, lb_config **out, char **diag);
void lb_config_free(lb_config *cfg);

const lb_source_cfg *lb_config_source(const lb_config *cfg, const char *id);
const lb_layer_cfg *lb_config_layer(const lb_config *cfg, const char *id);
const lb_map_cfg *lb_config_map(const lb_config *cfg, const char *id);
const lb_role_cfg *lb_config_role(const lb_config *cfg, const char *id);

/* Index of a declared group / caveat name, or -1. */
int lb_config_group_index(const lb_config *cfg, const char *name);
int lb_config_caveat_index(const lb_config *cfg, const char *name);

/*
 * Format a group or caveat bit set as a comma-separated list of names in
 * declaration order (e.g. "police,fire").  Writes at most n bytes to buf.
 */
void lb_config_format_groups(const lb_config *cfg, uint64_t groups, char *buf, size_t n);
void lb_config_format_caveats(const lb_config *cfg, uint64_t caveats, char *buf, size_t n);

#endif
