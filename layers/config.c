/*
 * This file implements the config loader (lb_config_load) and the lookups
 * on a loaded lb_config.
 *
 * Decoding is table-driven: every section of the format (top level, store,
 * layer, source, label, mapping, set, generalised_release, map, role,
 * clearance, area, phase grant, token) is a `section` listing its keys
 * as {key, type, offset, required}.  One generic routine walks a YAML mapping
 * against such a table: it reports keys the table does not know, reports
 * required keys that are missing, and hands every present key to the decoder
 * of its type, which stores the result at base + offset.  Nested tables
 * (label, mapping, set) use offsets into the same struct as their parent,
 * e.g. offsetof(lb_source_cfg, label.level).  lb_config_free walks the same
 * tables to free what was stored, so a partly decoded config is released
 * correctly on every error path.
 *
 * Invariants:
 *   1. Everything allocated is stored in the config at once (arrays with
 *      their count), so lb_config_free can release it at any moment.
 *   2. Top-level sections are decoded in table order, not file order:
 *      groups, caveats and layers exist before sources, maps and roles refer
 *      to them, and roles before tokens.  Messages are sorted by line
 *      afterwards.
 *   3. Decoding never stops at the first problem; every message is collected
 *      as (line, text) and the config is only handed out when there is none.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lagebild/config.h"
#include "lagebild/util.h"
#include "layers_int.h"

/* ---- decoding tables -------------------------------------------------- */

typedef enum ftype {
    F_STRING,     /* non-empty string -> char * */
    F_PATH,       /* string, resolved against the config's folder -> char * */
    F_DATASET,    /* F_PATH unless it is a URL or GDAL connection string */
    F_STYLE,      /* F_PATH, or a bare name of a shipped style (styles/NAME.json) */
    F_BOOL,       /* true / false -> bool */
    F_LEVEL,      /* classification level name -> lb_level */
    F_LAYER_REF,  /* id of a defined layer -> char * */
    F_OPTIONS,    /* list of KEY=VALUE -> NULL-terminated char **, NULL if empty */
    F_GROUPS,     /* list of declared groups -> uint64_t bit set */
    F_CAVEATS,    /* list of declared caveats -> uint64_t bit set */
    F_LAYER_LIST, /* non-empty list of distinct defined layers -> char ** + size_t */
    F_LAYER_GRANT, /* F_LAYER_LIST that may be empty, or ["*"] -> bool at flag_off */
    F_ROLE_LIST,  /* non-empty list of distinct defined roles -> char ** + size_t */
    F_SOURCE_LIST, /* non-empty list of distinct defined sources -> char ** + size_t */
    F_NAMES,      /* declaration of group / caveat names -> char ** + size_t */
    F_PHASE,      /* crisis phase name -> int (lb_phase) */
    F_PHASES,     /* non-empty list of distinct phase names -> unsigned bit set */
    F_NUMBER,     /* plain number > 0 and <= hi -> double */
    F_DURATION,   /* number with unit ms, s, m, h or d, > 0 (or >= 0 with zero_ok) -> seconds */
    F_TIME,       /* ISO 8601 date, or date-time with zone -> char * (as written) */
    F_HASH,       /* "sha256:" + 64 lower-case hex digits -> char * */
    F_SECTION,    /* nested mapping decoded with `sub`, same base */
    F_IDMAP,      /* mapping id -> element decoded with `sub` -> array + size_t */
    F_SEQ,        /* list of mappings, each decoded with `sub` -> array + size_t */
} ftype;

typedef struct section section;
typedef struct decoder decoder;

typedef struct field {
    const char *key;
    ftype type;
    size_t off;         /* where the value goes, from the section's base */
    bool required;
    size_t count_off;   /* lists, F_NAMES, F_IDMAP, F_SEQ: the size_t count */
    size_t flag_off;    /* F_LAYER_GRANT: the bool set by ["*"] */
    const section *sub; /* F_SECTION, F_IDMAP, F_SEQ */
    const char *noun;   /* F_NAMES / F_IDMAP / F_SEQ: "group", "layer", ... for messages */
    size_t max;         /* F_NAMES: how many may be declared */
    bool nonempty;      /* F_GROUPS / F_CAVEATS: at least one name */
    double hi;          /* F_NUMBER, F_DURATION: largest allowed value (seconds) */
    bool zero_ok;       /* F_DURATION: 0 is allowed */
} field;

struct section {
    const field *fields;
    size_t nfields;
    /* elements of an F_IDMAP (id_off, check_id, id_what) or F_SEQ (no id) */
    size_t elem_size;
    size_t id_off, line_off;
    void (*check_id)(decoder *d, const lb_yaml_node *key, const char *noun);
    const char *id_what; /* what the keys are, for messages; NULL: "<noun> ids" */
    /* cross-key rules, run after the keys were decoded */
    void (*check)(decoder *d, void *base, const lb_yaml_node *map, const char *where);
};

struct decoder {
    const char *path; /* config file as given */
    lb_config *cfg;
    lb_diag *errs;
    bool oom;
};

#define AT(base, off, T) ((T *)(void *)((char *)(base) + (off)))
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define KEY(k, t, s, m, req) {.key = k, .type = t, .off = offsetof(s, m), .required = req}
#define LIST(k, t, s, m, n, req, what, most)                                      \
    {.key = k, .type = t, .off = offsetof(s, m), .required = req,                 \
     .count_off = offsetof(s, n), .noun = what, .max = most}
#define SUB(k, s, m, req, tab)                                                     \
    {.key = k, .type = F_SECTION, .off = offsetof(s, m), .required = req, .sub = &tab}
#define IDMAP(k, m, n, tab, what)                                                  \
    {.key = k, .type = F_IDMAP, .off = offsetof(lb_config, m),                     \
     .count_off = offsetof(lb_config, n), .sub = &tab, .noun = what}
#define SEQ(k, s, m, n, req, tab, what)                                            \
    {.key = k, .type = F_SEQ, .off = offsetof(s, m), .required = req,              \
     .count_off = offsetof(s, n), .sub = &tab, .noun = what}
#define SECTION(tab) .fields = tab, .nfields = COUNT(tab)

static void check_layer_id(decoder *d, const lb_yaml_node *key, const char *noun);
static void check_plain_id(decoder *d, const lb_yaml_node *key, const char *noun);
static void check_role_id(decoder *d, const lb_yaml_node *key, const char *noun);
static void check_principal(decoder *d, const lb_yaml_node *key, const char *noun);
static void check_role(decoder *d, void *base, const lb_yaml_node *map, const char *where);
static void check_source(decoder *d, void *base, const lb_yaml_node *map, const char *where);
static void check_top(decoder *d, void *base, const lb_yaml_node *map, const char *where);

/*
 * The common fields as keys of mapping: and set:, in lb_field order (entry f
 * is field f; lb_field_name reads its names from here).
 */
#define FIELDS(arr)                                                            \
    {                                                                          \
        KEY("kind", F_STRING, lb_source_cfg, arr[LB_FIELD_KIND], false),       \
        KEY("name", F_STRING, lb_source_cfg, arr[LB_FIELD_NAME], false),       \
        KEY("status", F_STRING, lb_source_cfg, arr[LB_FIELD_STATUS], false),   \
        KEY("observed_at", F_STRING, lb_source_cfg, arr[LB_FIELD_OBSERVED_AT], false), \
        KEY("valid_from", F_STRING, lb_source_cfg, arr[LB_FIELD_VALID_FROM], false), \
        KEY("valid_to", F_STRING, lb_source_cfg, arr[LB_FIELD_VALID_TO], false), \
        KEY("accuracy_m", F_STRING, lb_source_cfg, arr[LB_FIELD_ACCURACY_M], false), \
    }

static const field mapping_fields[LB_FIELD_COUNT] = FIELDS(map);
static const field set_fields[LB_FIELD_COUNT] = FIELDS(set);
static const section mapping_section = {SECTION(mapping_fields)};
static const section set_section = {SECTION(set_fields)};

static const field label_fields[] = {
    KEY("level", F_LEVEL, lb_source_cfg, label.level, true),
    KEY("releasable_to", F_GROUPS, lb_source_cfg, label.groups, false),
    KEY("caveats", F_CAVEATS, lb_source_cfg, label.caveats, false),
    KEY("level_from", F_STRING, lb_source_cfg, label_level_attr, false),
    KEY("releasable_to_from", F_STRING, lb_source_cfg, label_groups_attr, false),
    KEY("caveats_from", F_STRING, lb_source_cfg, label_caveats_attr, false),
};
static const section label_section = {SECTION(label_fields)};

static const field release_fields[] = {
    {.key = "groups", .type = F_GROUPS, .off = offsetof(lb_source_cfg, generalised_groups),
     .required = true, .nonempty = true},
    {.key = "cell_m", .type = F_NUMBER, .off = offsetof(lb_source_cfg, generalised_cell_m),
     .required = true, .hi = 1e6},
};
static const section release_section = {SECTION(release_fields)};

static const field source_fields[] = {
    KEY("path", F_DATASET, lb_source_cfg, path, false),
    KEY("watch", F_PATH, lb_source_cfg, watch, false),
    {.key = "refresh", .type = F_DURATION, .off = offsetof(lb_source_cfg, refresh_s),
     .hi = 86400.0 * 366},
    {.key = "settle", .type = F_DURATION, .off = offsetof(lb_source_cfg, settle_s),
     .hi = 86400.0, .zero_ok = true},
    KEY("driver", F_STRING, lb_source_cfg, driver, false),
    KEY("ogr_layer", F_STRING, lb_source_cfg, ogr_layer, false),
    KEY("crs", F_STRING, lb_source_cfg, crs, false),
    KEY("force_crs", F_BOOL, lb_source_cfg, force_crs, false),
    KEY("layer", F_LAYER_REF, lb_source_cfg, layer, true),
    KEY("agency", F_STRING, lb_source_cfg, agency, true),
    KEY("fid", F_STRING, lb_source_cfg, fid_attr, false),
    KEY("mgrs", F_STRING, lb_source_cfg, mgrs_attr, false),
    KEY("open_options", F_OPTIONS, lb_source_cfg, open_options, false),
    SUB("mapping", lb_source_cfg, map, false, mapping_section),
    SUB("set", lb_source_cfg, set, false, set_section),
    SUB("label", lb_source_cfg, label, true, label_section),
    SUB("generalised_release", lb_source_cfg, generalised_groups, false, release_section),
};
static const section source_section = {
    SECTION(source_fields),
    .elem_size = sizeof(lb_source_cfg),
    .id_off = offsetof(lb_source_cfg, id),
    .line_off = offsetof(lb_source_cfg, line),
    .check_id = check_plain_id,
    .check = check_source,
};

static const field conflate_fields[] = {
    {.key = "distance_m", .type = F_NUMBER, .off = offsetof(lb_layer_cfg, conflate_distance_m),
     .required = true, .hi = 10000},
    {.key = "time_window", .type = F_DURATION,
     .off = offsetof(lb_layer_cfg, conflate_window_s), .hi = 86400.0 * 366},
};
static const section conflate_section = {SECTION(conflate_fields)};

static const field layer_fields[] = {
    KEY("title", F_STRING, lb_layer_cfg, title, true),
    KEY("style", F_STYLE, lb_layer_cfg, style, false),
    KEY("attribution", F_STRING, lb_layer_cfg, attribution, false),
    SUB("conflate", lb_layer_cfg, conflate_distance_m, false, conflate_section),
};
static const section layer_section = {
    SECTION(layer_fields),
    .elem_size = sizeof(lb_layer_cfg),
    .id_off = offsetof(lb_layer_cfg, id),
    .line_off = offsetof(lb_layer_cfg, line),
    .check_id = check_layer_id,
};

static const field map_fields[] = {
    KEY("title", F_STRING, lb_map_cfg, title, true),
    LIST("layers", F_LAYER_LIST, lb_map_cfg, layers, nlayers, true, "layer", 0),
};
static const section map_section = {
    SECTION(map_fields),
    .elem_size = sizeof(lb_map_cfg),
    .id_off = offsetof(lb_map_cfg, id),
    .line_off = offsetof(lb_map_cfg, line),
    .check_id = check_plain_id,
};

static const field clearance_fields[] = {
    KEY("level", F_LEVEL, lb_role_cfg, clearance.level, true),
    KEY("groups", F_GROUPS, lb_role_cfg, clearance.groups, false),
    KEY("caveats", F_CAVEATS, lb_role_cfg, clearance.caveats, false),
};
static const section clearance_section = {SECTION(clearance_fields)};

static const field area_fields[] = {
    KEY("path", F_DATASET, lb_role_cfg, area, true),
    KEY("ogr_layer", F_STRING, lb_role_cfg, area_layer, false),
    KEY("crs", F_STRING, lb_role_cfg, area_crs, false),
};
static const section area_section = {SECTION(area_fields)};

static const field phase_grant_fields[] = {
    KEY("phases", F_PHASES, lb_phase_grant, phases, true),
    LIST("layers", F_LAYER_LIST, lb_phase_grant, layers, nlayers, true, "layer", 0),
};
static const section phase_grant_section = {
    SECTION(phase_grant_fields),
    .elem_size = sizeof(lb_phase_grant),
    .line_off = offsetof(lb_phase_grant, line),
};

static const field role_fields[] = {
    KEY("title", F_STRING, lb_role_cfg, title, true),
    SUB("clearance", lb_role_cfg, clearance, true, clearance_section),
    {.key = "layers", .type = F_LAYER_GRANT, .off = offsetof(lb_role_cfg, layers),
     .count_off = offsetof(lb_role_cfg, nlayers), .flag_off = offsetof(lb_role_cfg, all_layers),
     .noun = "layer"},
    SEQ("phase_grants", lb_role_cfg, phase_grants, nphase_grants, false, phase_grant_section,
        "phase grant"),
    SUB("area", lb_role_cfg, area, false, area_section),
    KEY("valid_from", F_TIME, lb_role_cfg, valid_from, false),
    KEY("valid_to", F_TIME, lb_role_cfg, valid_to, false),
    LIST("write", F_SOURCE_LIST, lb_role_cfg, write, nwrite, false, "source", 0),
};
static const section role_section = {
    SECTION(role_fields),
    .elem_size = sizeof(lb_role_cfg),
    .id_off = offsetof(lb_role_cfg, id),
    .line_off = offsetof(lb_role_cfg, line),
    .check_id = check_role_id,
    .check = check_role,
};

static const field token_fields[] = {
    KEY("hash", F_HASH, lb_token_cfg, hash, true),
    LIST("roles", F_ROLE_LIST, lb_token_cfg, roles, nroles, true, "role", 0),
    KEY("admin", F_BOOL, lb_token_cfg, admin, false),
    KEY("revoked", F_BOOL, lb_token_cfg, revoked, false),
};
static const section token_section = {
    SECTION(token_fields),
    .elem_size = sizeof(lb_token_cfg),
    .id_off = offsetof(lb_token_cfg, principal),
    .line_off = offsetof(lb_token_cfg, line),
    .check_id = check_principal,
    .id_what = "principal names",
};

static const field store_fields[] = {
    KEY("path", F_PATH, lb_config, store_path, false),
};
static const section store_section = {SECTION(store_fields)};

static const field push_fields[] = {
    {.key = "max_body_bytes", .type = F_NUMBER, .off = offsetof(lb_config, push_max_body),
     .hi = 1073741824.0},
};
static const section push_section = {SECTION(push_fields)};

static void check_jwt(decoder *d, void *base, const lb_yaml_node *map, const char *where);
static const field jwt_fields[] = {
    KEY("issuer", F_STRING, lb_config, jwt.issuer, true),
    KEY("audience", F_STRING, lb_config, jwt.audience, true),
    KEY("public_key", F_PATH, lb_config, jwt.key_path, true),
    KEY("roles_claim", F_STRING, lb_config, jwt.roles_claim, false),
    KEY("principal_claim", F_STRING, lb_config, jwt.principal_claim, false),
    {.key = "leeway_s", .type = F_NUMBER, .off = offsetof(lb_config, jwt.leeway_s), .hi = 3600.0},
};
static const section jwt_section = {SECTION(jwt_fields), .check = check_jwt};

/* Order matters (invariant 2): declarations before their users. */
static const field top_fields[] = {
    {.key = "store", .type = F_SECTION, .off = 0, .sub = &store_section},
    KEY("phase", F_PHASE, lb_config, phase, false),
    KEY("cors", F_STRING, lb_config, cors_origin, false),
    LIST("groups", F_NAMES, lb_config, groups, ngroups, false, "group", LB_MAX_GROUPS),
    LIST("caveats", F_NAMES, lb_config, caveats, ncaveats, false, "caveat", LB_MAX_CAVEATS),
    IDMAP("layers", layers, nlayers, layer_section, "layer"),
    IDMAP("sources", sources, nsources, source_section, "source"),
    IDMAP("maps", maps, nmaps, map_section, "map"),
    IDMAP("roles", roles, nroles, role_section, "role"),
    IDMAP("tokens", tokens, ntokens, token_section, "token"),
    {.key = "push", .type = F_SECTION, .off = 0, .sub = &push_section},
    {.key = "jwt", .type = F_SECTION, .off = 0, .sub = &jwt_section},
};
static const section top_section = {SECTION(top_fields), .check = check_top};

/* ---- message helpers -------------------------------------------------- */

/* A value shortened and made printable for a message. */
typedef struct shown {
    char s[100];
} shown;

static shown show(const char *text)
{
    shown r;
    size_t n = 0, max = 80;
    for (const unsigned char *p = (const unsigned char *)text; *p && n < max; p++)
        r.s[n++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
    if (strlen(text) > max) {
        memcpy(r.s + n, "...", 3);
        n += 3;
    }
    r.s[n] = '\0';
    return r;
}

/* "'text'" for a scalar, "a mapping" / "a list" / "null" otherwise. */
static shown describe(const lb_yaml_node *n)
{
    shown r;
    if (n->kind == LB_YAML_SCALAR && !n->null) {
        shown v = show(n->text); /* at most 83 characters */
        size_t len = strlen(v.s);
        r.s[0] = '\'';
        memcpy(r.s + 1, v.s, len);
        r.s[len + 1] = '\'';
        r.s[len + 2] = '\0';
    } else {
        snprintf(r.s, sizeof r.s, "%s", lb_yaml_what(n));
    }
    return r;
}

#define ERR(d, line, ...) lb_diag_add((d)->errs, (line), __VA_ARGS__)

static char *dup_str(decoder *d, const char *s)
{
    char *p = lb_strdup(s);
    if (!p)
        d->oom = true;
    return p;
}

/* Append the names of a string array as "a, b, c". */
static void join_names(lb_buf *b, char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!names[i])
            continue;
        if (b->len)
            lb_buf_puts(b, ", ");
        lb_buf_puts(b, names[i]);
    }
}

/* ---- identifier rules ------------------------------------------------- */

/* ^[a-z][a-z0-9_]*$, any length */
static bool is_id_chars(const char *s)
{
    if (!(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (const char *p = s + 1; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* ^[a-z][a-z0-9_]{0,62}$ */
static bool is_id(const char *s) { return is_id_chars(s) && strlen(s) <= 63; }

/* [a-z][a-z0-9_-]* for group and caveat names */
static bool is_name(const char *s)
{
    if (!(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (const char *p = s + 1; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void check_plain_id(decoder *d, const lb_yaml_node *key, const char *noun)
{
    size_t len = strlen(key->text);
    if (len > 63 && is_id_chars(key->text))
        ERR(d, key->line, "invalid %s id '%s': %zu characters, at most 63 are allowed", noun,
            show(key->text).s, len);
    else if (!is_id(key->text))
        ERR(d, key->line,
            "invalid %s id '%s': use 1 to 63 characters a-z, 0-9 and _, starting with a letter",
            noun, show(key->text).s);
}

/* Layer ids become SpatiaLite table names: keep clear of the store's own. */
static void check_layer_id(decoder *d, const lb_yaml_node *key, const char *noun)
{
    static const char *const prefixes[] = {"lb_", "idx_", "sqlite_"};
    static const char *const reserved[] = {
        "geometry_columns", "spatial_ref_sys", "spatialite_history",
        "views_geometry_columns", "virts_geometry_columns", "geometry_columns_auth",
        "geometry_columns_statistics", "geometry_columns_field_infos",
        "geometry_columns_time", "sql_statements_log", "data_licenses",
        "spatial_ref_sys_aux", "ElementaryGeometries", "KNN", "SpatialIndex",
    };
    const char *id = key->text;
    if (!is_id(id)) {
        check_plain_id(d, key, noun);
        return;
    }
    for (size_t i = 0; i < COUNT(prefixes); i++) {
        if (strncmp(id, prefixes[i], strlen(prefixes[i])) == 0) {
            ERR(d, key->line,
                "%s id '%s' is reserved: ids must not start with lb_, idx_ or sqlite_", noun, id);
            return;
        }
    }
    for (size_t i = 0; i < COUNT(reserved); i++) {
        if (lb_strcasecmp(id, reserved[i]) == 0) {
            ERR(d, key->line, "%s id '%s' is reserved: it names a SpatiaLite system table",
                noun, id);
            return;
        }
    }
}

/* Role ids: ^[a-z][a-z0-9_-]{0,62}$ (like group names, so a role may share a group's name). */
static void check_role_id(decoder *d, const lb_yaml_node *key, const char *noun)
{
    size_t len = strlen(key->text);
    if (len > 63 && is_name(key->text))
        ERR(d, key->line, "invalid %s id '%s': %zu characters, at most 63 are allowed", noun,
            show(key->text).s, len);
    else if (!is_name(key->text))
        ERR(d, key->line,
            "invalid %s id '%s': use 1 to 63 characters a-z, 0-9, _ and -, starting with a "
            "letter",
            noun, show(key->text).s);
}

/* Principal names: ^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$ */
static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void check_principal(decoder *d, const lb_yaml_node *key, const char *noun)
{
    (void)noun;
    const char *s = key->text;
    bool ok = is_alnum(s[0]);
    for (const char *p = s + 1; ok && *p; p++)
        ok = is_alnum(*p) || *p == '.' || *p == '_' || *p == '@' || *p == '-';
    size_t len = strlen(s);
    if (ok && len > 128)
        ERR(d, key->line, "invalid principal name '%s': %zu characters, at most 128 are allowed",
            show(s).s, len);
    else if (!ok)
        ERR(d, key->line,
            "invalid principal name '%s': use 1 to 128 characters A-Z, a-z, 0-9, '.', '_', "
            "'@' and '-', starting with a letter or digit",
            show(s).s);
}

/*
 * Dataset paths are resolved like other paths unless they are not file
 * names: URLs ("https://..."), GDAL virtual files ("/vsicurl/...") and GDAL
 * connection strings, which start with a driver prefix of two or more
 * letters/digits and a colon ("PG:", "WFS:", "MSSQL:", "OAPIF:").
 */
/* A bare style name ("police"): letters, digits, '-' and '_' only. */
static bool is_style_name(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return false;
    return true;
}

/* Path of a shipped style: $LAGEBILD_STYLE_DIR or the build's styles folder. */
static char *shipped_style(const char *name)
{
    const char *dir = getenv("LAGEBILD_STYLE_DIR");
    if (!dir || !*dir)
        dir = LB_STYLE_DIR;
    lb_buf b = {0};
    lb_buf_printf(&b, "%s/%s.json", dir, name);
    if (b.oom) {
        lb_buf_free(&b);
        return NULL;
    }
    return lb_buf_take(&b);
}

static bool is_connection_string(const char *s)
{
    if (strstr(s, "://") || strncmp(s, "/vsi", 4) == 0)
        return true;
    size_t i = 0;
    while ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
           (i > 0 && s[i] >= '0' && s[i] <= '9'))
        i++;
    return i >= 2 && s[i] == ':';
}

/* ---- per-type decoders ------------------------------------------------ */

/* The value of pair as a non-empty string, or NULL after reporting why not. */
static const char *want_string(decoder *d, const lb_yaml_pair *pair)
{
    const lb_yaml_node *v = pair->value;
    if (v->kind != LB_YAML_SCALAR) {
        ERR(d, v->line, "key '%s' must be a string, got %s", pair->key->text, describe(v).s);
        return NULL;
    }
    if (!v->text[0]) {
        ERR(d, v->line, "key '%s' must not be empty", pair->key->text);
        return NULL;
    }
    return v->text;
}

/* The list value of pair, or NULL after reporting why not. */
static const lb_yaml_node *want_list(decoder *d, const lb_yaml_pair *pair)
{
    const lb_yaml_node *v = pair->value;
    if (v->kind != LB_YAML_SEQ) {
        ERR(d, v->line, "key '%s' must be a list, got %s", pair->key->text, describe(v).s);
        return NULL;
    }
    return v;
}

/*
 * Item i of a list as a non-empty string, or NULL after reporting why not;
 * what says what the items are ("group names").
 */
static const char *want_item(decoder *d, const lb_yaml_pair *pair, size_t i, const char *what)
{
    const lb_yaml_node *it = pair->value->items[i];
    if (it->kind != LB_YAML_SCALAR || it->null || !it->text[0]) {
        ERR(d, it->line, "items of '%s' must be %s, got %s", pair->key->text, what,
            it->kind == LB_YAML_SCALAR && !it->null ? "an empty string" : describe(it).s);
        return NULL;
    }
    return it->text;
}

static void decode_bool(decoder *d, const lb_yaml_pair *pair, bool *out)
{
    const lb_yaml_node *v = pair->value;
    if (v->kind == LB_YAML_SCALAR && !v->quoted) {
        if (strcmp(v->text, "true") == 0) {
            *out = true;
            return;
        }
        if (strcmp(v->text, "false") == 0) {
            *out = false;
            return;
        }
    }
    ERR(d, v->line, "key '%s' must be true or false, got %s%s", pair->key->text,
        v->kind == LB_YAML_SCALAR && v->quoted ? "quoted " : "", describe(v).s);
}

static void decode_level(decoder *d, const lb_yaml_pair *pair, lb_level *out)
{
    const char *s = want_string(d, pair);
    if (!s)
        return;
    if (lb_level_parse(s, out) != LB_OK)
        ERR(d, pair->value->line, "key '%s' must be one of %s, %s, %s, %s, got '%s'",
            pair->key->text, lb_level_name(LB_LEVEL_OFFEN), lb_level_name(LB_LEVEL_VS_NFD),
            lb_level_name(LB_LEVEL_VS_VERTRAULICH), lb_level_name(LB_LEVEL_GEHEIM), show(s).s);
}

/*
 * Report that s (given at line) is no defined layer (roles: no defined
 * role), listing those that are.
 */
static void undefined_ref(decoder *d, int line, const char *s, const char *noun)
{
    bool roles = strcmp(noun, "role") == 0, sources = strcmp(noun, "source") == 0;
    size_t n = roles ? d->cfg->nroles : sources ? d->cfg->nsources : d->cfg->nlayers;
    lb_buf names = {0};
    for (size_t i = 0; i < n; i++) {
        const char *id = roles     ? d->cfg->roles[i].id
                         : sources ? d->cfg->sources[i].id
                                   : d->cfg->layers[i].id;
        if (!id)
            continue;
        if (names.len)
            lb_buf_puts(&names, ", ");
        lb_buf_puts(&names, id);
    }
    if (names.len)
        ERR(d, line, "undefined %s '%s' (defined %ss: %s)", noun, show(s).s, noun, names.data);
    else
        ERR(d, line, "undefined %s '%s' (no %ss are defined)", noun, show(s).s, noun);
    lb_buf_free(&names);
}

static void decode_layer_ref(decoder *d, const lb_yaml_pair *pair, char **out)
{
    const char *s = want_string(d, pair);
    if (!s)
        return;
    if (!lb_config_layer(d->cfg, s))
        undefined_ref(d, pair->value->line, s, "layer");
    *out = dup_str(d, s);
}

static void decode_options(decoder *d, const lb_yaml_pair *pair, char ***out)
{
    const lb_yaml_node *v = want_list(d, pair);
    if (!v || v->nitems == 0)
        return;
    char **opts = calloc(v->nitems + 1, sizeof *opts);
    if (!opts) {
        d->oom = true;
        return;
    }
    *out = opts;
    size_t n = 0;
    for (size_t i = 0; i < v->nitems; i++) {
        const char *s = want_item(d, pair, i, "KEY=VALUE strings");
        if (!s)
            continue;
        const char *eq = strchr(s, '=');
        if (!eq || eq == s) {
            ERR(d, v->items[i]->line, "open option '%s' must have the form KEY=VALUE", show(s).s);
            continue;
        }
        if (!(opts[n] = dup_str(d, s)))
            return;
        n++;
    }
}

/*
 * Names declared at the top level (groups, caveats), e.g. in releasable_to
 * or a role's clearance.  f->nonempty: at least one name.
 */
static void decode_mask(decoder *d, const field *f, const lb_yaml_pair *pair, uint64_t *out)
{
    const lb_yaml_node *v = want_list(d, pair);
    if (!v)
        return;
    bool groups = f->type == F_GROUPS;
    const char *noun = groups ? "group" : "caveat";
    if (f->nonempty && v->nitems == 0) {
        ERR(d, v->line, "key '%s' must name at least one %s", pair->key->text, noun);
        return;
    }
    char **names = groups ? d->cfg->groups : d->cfg->caveats;
    size_t nnames = groups ? d->cfg->ngroups : d->cfg->ncaveats;
    uint64_t mask = 0;
    for (size_t i = 0; i < v->nitems; i++) {
        const char *s = want_item(d, pair, i, groups ? "group names" : "caveat names");
        if (!s)
            continue;
        int idx = groups ? lb_config_group_index(d->cfg, s) : lb_config_caveat_index(d->cfg, s);
        if (idx < 0) {
            lb_buf decl = {0};
            join_names(&decl, names, nnames);
            if (decl.len)
                ERR(d, v->items[i]->line, "undeclared %s '%s' (declared: %s)", noun, show(s).s,
                    decl.data);
            else
                ERR(d, v->items[i]->line, "undeclared %s '%s' (no %ss are declared)", noun,
                    show(s).s, noun);
            lb_buf_free(&decl);
            continue;
        }
        uint64_t bit = UINT64_C(1) << idx;
        if (mask & bit)
            ERR(d, v->items[i]->line, "%s '%s' is listed twice", noun, s);
        mask |= bit;
    }
    *out = mask;
}

/*
 * Lists of ids of defined layers (F_LAYER_LIST, F_LAYER_GRANT) or roles
 * (F_ROLE_LIST).  Only F_LAYER_GRANT (a role's layers) may be empty or be
 * ["*"], which sets the bool at flag_off instead of listing layers.
 */
static void decode_ref_list(decoder *d, const field *f, const lb_yaml_pair *pair, void *base)
{
    bool roles = f->type == F_ROLE_LIST, grant = f->type == F_LAYER_GRANT;
    bool sources = f->type == F_SOURCE_LIST;
    const char *noun = roles ? "role" : sources ? "source" : "layer";
    char ***out = AT(base, f->off, char **);
    size_t *count = AT(base, f->count_off, size_t);
    const lb_yaml_node *v = want_list(d, pair);
    if (!v)
        return;
    if (v->nitems == 0) {
        if (!grant)
            ERR(d, v->line, "key '%s' must name at least one %s", pair->key->text, noun);
        return;
    }
    /* a role's layers: "*" alone means all layers */
    const lb_yaml_node *first_star = NULL;
    size_t nstars = 0;
    for (size_t i = 0; grant && i < v->nitems; i++) {
        const lb_yaml_node *it = v->items[i];
        if (it->kind == LB_YAML_SCALAR && !it->null && strcmp(it->text, "*") == 0) {
            if (nstars++)
                ERR(d, it->line, "'*' is listed twice in '%s'", pair->key->text);
            else
                first_star = it;
        }
    }
    if (first_star && nstars < v->nitems)
        ERR(d, first_star->line,
            "'*' (all layers) cannot be combined with layer names in '%s': write either "
            "[\"*\"] or the layers",
            pair->key->text);
    if (first_star)
        *AT(base, f->flag_off, bool) = true;
    if (nstars == v->nitems)
        return; /* ["*"]: no layer list */
    char **ids = calloc(v->nitems + 1, sizeof *ids);
    if (!ids) {
        d->oom = true;
        return;
    }
    *out = ids;
    for (size_t i = 0; i < v->nitems; i++) {
        const lb_yaml_node *it = v->items[i];
        const char *s = want_item(d, pair, i,
                                  roles ? "role ids" : sources ? "source ids" : "layer ids");
        if (!s)
            continue;
        if (!roles && !sources && strcmp(s, "*") == 0) {
            if (!grant)
                ERR(d, it->line,
                    "'*' (all layers) is only allowed in the layers of a role, list the "
                    "layers in '%s'",
                    pair->key->text);
            continue;
        }
        if (roles     ? !lb_config_role(d->cfg, s)
            : sources ? !lb_config_source(d->cfg, s)
                      : !lb_config_layer(d->cfg, s)) {
            undefined_ref(d, it->line, s, noun);
            continue;
        }
        bool twice = false;
        for (size_t j = 0; j < *count && !twice; j++)
            twice = strcmp(ids[j], s) == 0;
        if (twice) {
            ERR(d, it->line, "%s '%s' is listed twice", noun, s);
            continue;
        }
        if (!(ids[*count] = dup_str(d, s)))
            return;
        (*count)++;
    }
}

/* "Vorbereitung, Vorsorge, Schutz, Reaktion, Regeneration" */
static void phase_names(lb_buf *b)
{
    for (int p = 0; p < LB_PHASE_COUNT; p++) {
        if (p)
            lb_buf_puts(b, ", ");
        lb_buf_puts(b, lb_phase_name((lb_phase)p));
    }
}

/* The top-level phase: one phase name. */
static void decode_phase(decoder *d, const lb_yaml_pair *pair, int *out)
{
    const char *s = want_string(d, pair);
    if (!s)
        return;
    lb_phase p;
    if (lb_phase_parse(s, &p) == LB_OK) {
        *out = (int)p;
        return;
    }
    lb_buf names = {0};
    phase_names(&names);
    ERR(d, pair->value->line, "key '%s' must be one of %s, got '%s'", pair->key->text,
        names.data ? names.data : "", show(s).s);
    lb_buf_free(&names);
}

/* phases of a phase grant: a non-empty list of distinct phase names -> bit per lb_phase. */
static void decode_phases(decoder *d, const lb_yaml_pair *pair, unsigned *out)
{
    const lb_yaml_node *v = want_list(d, pair);
    if (!v)
        return;
    if (v->nitems == 0) {
        ERR(d, v->line, "key '%s' must name at least one phase", pair->key->text);
        return;
    }
    unsigned mask = 0;
    for (size_t i = 0; i < v->nitems; i++) {
        const char *s = want_item(d, pair, i, "phase names");
        if (!s)
            continue;
        lb_phase p;
        if (lb_phase_parse(s, &p) != LB_OK) {
            lb_buf names = {0};
            phase_names(&names);
            ERR(d, v->items[i]->line, "unknown phase '%s' (phases: %s)", show(s).s,
                names.data ? names.data : "");
            lb_buf_free(&names);
            continue;
        }
        if (mask & (1u << p))
            ERR(d, v->items[i]->line, "phase '%s' is listed twice", lb_phase_name(p));
        mask |= 1u << p;
    }
    *out = mask;
}

/* A YAML 1.2 core-schema decimal: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_decimal(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    size_t before = 0, after = 0;
    while (*p >= '0' && *p <= '9')
        p++, before++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, after++;
    }
    if (before == 0 && after == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

static void decode_number(decoder *d, const field *f, const lb_yaml_pair *pair, double *out)
{
    const lb_yaml_node *v = pair->value;
    if (v->kind != LB_YAML_SCALAR || v->quoted || !is_decimal(v->text)) {
        ERR(d, v->line, "key '%s' must be a number, got %s%s", pair->key->text,
            v->kind == LB_YAML_SCALAR && v->quoted ? "quoted " : "", describe(v).s);
        return;
    }
    double x = strtod(v->text, NULL);
    if (!isfinite(x) || !(x > 0) || x > f->hi) {
        ERR(d, v->line, "key '%s' must be greater than 0 and at most %.15g, got '%s'",
            pair->key->text, f->hi, show(v->text).s);
        return;
    }
    *out = x;
}

/* A duration: "500ms", "2s", "30m", "2h", "1d" (a bare number is seconds). */
static void decode_duration(decoder *d, const field *f, const lb_yaml_pair *pair, double *out)
{
    const lb_yaml_node *v = pair->value;
    static const struct {
        const char *unit;
        double s;
    } units[] = {{"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"", 1}};
    const char *t = v->kind == LB_YAML_SCALAR ? v->text : "";
    size_t n = 0;
    while ((t[n] >= '0' && t[n] <= '9') || t[n] == '.')
        n++;
    double mult = -1;
    for (size_t i = 0; i < COUNT(units) && n > 0; i++)
        if (strcmp(t + n, units[i].unit) == 0)
            mult = units[i].s;
    char num[64];
    bool ok = v->kind == LB_YAML_SCALAR && mult > 0 && n < sizeof num;
    if (ok) {
        memcpy(num, t, n);
        num[n] = '\0';
        ok = is_decimal(num);
    }
    if (!ok) {
        ERR(d, v->line,
            "key '%s' must be a duration such as 500ms, 30s, 5m, 2h or 1d, got %s",
            pair->key->text, describe(v).s);
        return;
    }
    double x = strtod(num, NULL) * mult;
    if (!isfinite(x) || x < 0 || (x == 0 && !f->zero_ok) || x > f->hi) {
        ERR(d, v->line, "key '%s' must be %s 0 and at most %.15g s, got '%s'", pair->key->text,
            f->zero_ok ? "at least" : "greater than", f->hi, show(v->text).s);
        return;
    }
    *out = x;
}

/* ---- ISO 8601 times (valid_from, valid_to) ----------------------------- */

/*
 * An instant in UTC: seconds since 0000-01-01T00:00:00Z and the digits of
 * the fraction of a second as written (any number of them, "" for none).
 */
typedef struct utc_time {
    long long s;
    const char *frac;
    size_t nfrac;
} utc_time;

static bool leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Days from 0000-01-01 (proleptic Gregorian) to y-m-d. */
static long long day_number(int y, int m, int d)
{
    long long days = 365LL * y;
    if (y > 0) /* leap years 0 .. y-1; year 0 is one */
        days += (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400 + 1;
    for (int i = 1; i < m; i++)
        days += month_days(y, i);
    return days + d - 1;
}

/* n decimal digits at *p into *out; advances *p.  False if fewer digits. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

typedef enum time_err { TIME_OK, TIME_SYNTAX, TIME_NO_ZONE, TIME_RANGE } time_err;

/*
 * Parse YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.fraction]] followed by Z, +hh:mm
 * or +hh (or -): ISO 8601 extended format only.  A date alone is 00:00:00Z of
 * that day.
 */
static time_err parse_time(const char *s, utc_time *out)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
    const char *frac = "";
    size_t nfrac = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return TIME_SYNTAX;
    if (*p == 'T') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return TIME_SYNTAX;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec))
                return TIME_SYNTAX;
            if (*p == '.') {
                p++;
                frac = p;
                while (*p >= '0' && *p <= '9')
                    p++;
                nfrac = (size_t)(p - frac);
                if (nfrac == 0)
                    return TIME_SYNTAX;
            }
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            sign = *p++ == '+' ? 1 : -1;
            if (!digits(&p, 2, &oh))
                return TIME_SYNTAX;
            if (*p == ':') {
                p++;
                if (!digits(&p, 2, &om))
                    return TIME_SYNTAX;
            }
        } else if (*p == '\0') {
            return TIME_NO_ZONE;
        } else {
            return TIME_SYNTAX;
        }
    }
    if (*p != '\0')
        return TIME_SYNTAX;
    if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || sec > 59 ||
        oh > 23 || om > 59)
        return TIME_RANGE;
    out->s = day_number(y, mo, d) * 86400 + h * 3600LL + mi * 60LL + sec -
             sign * (oh * 3600LL + om * 60LL);
    out->frac = frac;
    out->nfrac = nfrac;
    return TIME_OK;
}

/* Exact order of two instants (fractions compared digit by digit). */
static int compare_time(utc_time a, utc_time b)
{
    if (a.s != b.s)
        return a.s < b.s ? -1 : 1;
    size_t n = a.nfrac > b.nfrac ? a.nfrac : b.nfrac;
    for (size_t i = 0; i < n; i++) {
        char ca = i < a.nfrac ? a.frac[i] : '0', cb = i < b.nfrac ? b.frac[i] : '0';
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return 0;
}

static void decode_time(decoder *d, const lb_yaml_pair *pair, char **out)
{
    const char *s = want_string(d, pair);
    if (!s)
        return;
    utc_time t;
    switch (parse_time(s, &t)) {
    case TIME_OK:
        *out = dup_str(d, s);
        return;
    case TIME_SYNTAX:
        ERR(d, pair->value->line,
            "key '%s' must be an ISO 8601 date (2026-11-20) or date-time with Z or an offset "
            "(2026-11-20T08:00:00Z, 2026-11-20T09:00:00+01:00), got '%s'",
            pair->key->text, show(s).s);
        return;
    case TIME_NO_ZONE:
        ERR(d, pair->value->line,
            "key '%s' has no time zone in '%s': add Z (UTC) or an offset such as +01:00",
            pair->key->text, show(s).s);
        return;
    case TIME_RANGE:
        ERR(d, pair->value->line, "key '%s' has a date or time out of range: '%s'",
            pair->key->text, show(s).s);
        return;
    }
}

/*
 * Token hashes: "sha256:" and 64 lower-case hex digits.  The value is not
 * repeated in messages: a token pasted here by mistake must not reach logs.
 */
static void decode_hash(decoder *d, const lb_yaml_pair *pair, char **out)
{
    static const char prefix[] = "sha256:";
    const char *s = want_string(d, pair);
    if (!s)
        return;
    char why[96] = "";
    if (strncmp(s, prefix, sizeof prefix - 1) != 0) {
        snprintf(why, sizeof why, "it does not start with '%s'", prefix);
    } else {
        const char *hex = s + sizeof prefix - 1;
        size_t n = strlen(hex);
        for (size_t i = 0; i < n && !why[0]; i++)
            if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
                snprintf(why, sizeof why, "character %zu after '%s' is not 0-9 or a-f", i + 1,
                         prefix);
        if (!why[0] && n != 64)
            snprintf(why, sizeof why, "it has %zu hex digits", n);
    }
    if (why[0]) {
        ERR(d, pair->value->line,
            "key '%s' must be '%s' and 64 lower-case hex digits: %s (the value is not shown)",
            pair->key->text, prefix, why);
        return;
    }
    *out = dup_str(d, s);
}

static const char *groups_or_caveats(const field *f)
{
    return strcmp(f->noun, "group") == 0 ? "group names" : "caveat names";
}

/* groups: / caveats: at the top level. */
static void decode_names(decoder *d, const field *f, const lb_yaml_pair *pair, char ***out,
                         size_t *count)
{
    const lb_yaml_node *v = want_list(d, pair);
    if (!v || v->nitems == 0)
        return;
    size_t max = f->max;
    size_t cap = v->nitems < max ? v->nitems : max;
    char **names = calloc(cap + 1, sizeof *names);
    if (!names) {
        d->oom = true;
        return;
    }
    *out = names;
    for (size_t i = 0; i < v->nitems; i++) {
        const char *s = want_item(d, pair, i, groups_or_caveats(f));
        if (!s)
            continue;
        if (!is_name(s)) {
            ERR(d, v->items[i]->line,
                "invalid %s name '%s': use a-z, 0-9, _ and -, starting with a letter", f->noun,
                show(s).s);
            continue;
        }
        bool twice = false;
        for (size_t j = 0; j < *count && !twice; j++)
            twice = strcmp(names[j], s) == 0;
        if (twice) {
            ERR(d, v->items[i]->line, "%s '%s' is declared twice", f->noun, s);
            continue;
        }
        if (*count == max) {
            ERR(d, v->items[i]->line, "too many %ss: at most %zu can be declared", f->noun, max);
            return;
        }
        if (!(names[*count] = dup_str(d, s)))
            return;
        (*count)++;
    }
}

static void decode_section(decoder *d, const section *s, const lb_yaml_node *map, int line,
                           void *base, const char *owner);

/* layers: / sources: / maps: / roles: / tokens: -- one element per key, in file order. */
static void decode_idmap(decoder *d, const field *f, const lb_yaml_pair *pair, void *base)
{
    const lb_yaml_node *v = pair->value;
    if (v->kind != LB_YAML_MAP) {
        if (f->sub->id_what)
            ERR(d, v->line, "key '%s' must be a mapping of %s to %ss, got %s", pair->key->text,
                f->sub->id_what, f->noun, describe(v).s);
        else
            ERR(d, v->line, "key '%s' must be a mapping of %s ids to %ss, got %s",
                pair->key->text, f->noun, f->noun, describe(v).s);
        return;
    }
    if (v->npairs == 0)
        return;
    const section *sub = f->sub;
    char *arr = calloc(v->npairs, sub->elem_size);
    if (!arr) {
        d->oom = true;
        return;
    }
    memcpy((char *)base + f->off, &arr, sizeof arr); /* the typed array pointer */
    *AT(base, f->count_off, size_t) = v->npairs;
    for (size_t i = 0; i < v->npairs && !d->oom; i++) {
        const lb_yaml_pair *p = &v->pairs[i];
        void *elem = arr + i * sub->elem_size;
        if (!(*AT(elem, sub->id_off, char *) = dup_str(d, p->key->text)))
            return;
        *AT(elem, sub->line_off, int) = p->key->line;
        sub->check_id(d, p->key, f->noun);
        char owner[128];
        snprintf(owner, sizeof owner, "%s '%s'", f->noun, show(p->key->text).s);
        if (p->value->kind == LB_YAML_MAP || p->value->null) {
            decode_section(d, sub, p->value->null ? NULL : p->value, p->key->line, elem, owner);
        } else {
            ERR(d, p->value->line, "%s must be a mapping of keys, got %s", owner,
                describe(p->value).s);
        }
    }
}

/* phase_grants: -- a list of mappings, one element per item, in file order. */
static void decode_seq(decoder *d, const field *f, const lb_yaml_pair *pair, void *base,
                       const char *owner)
{
    const lb_yaml_node *v = want_list(d, pair);
    if (!v || v->nitems == 0)
        return;
    const section *sub = f->sub;
    char *arr = calloc(v->nitems, sub->elem_size);
    if (!arr) {
        d->oom = true;
        return;
    }
    memcpy((char *)base + f->off, &arr, sizeof arr); /* the typed array pointer */
    *AT(base, f->count_off, size_t) = v->nitems;
    for (size_t i = 0; i < v->nitems && !d->oom; i++) {
        const lb_yaml_node *it = v->items[i];
        void *elem = arr + i * sub->elem_size;
        *AT(elem, sub->line_off, int) = it->line;
        if (it->kind != LB_YAML_MAP) {
            ERR(d, it->line, "items of '%s' must be mappings, got %s", pair->key->text,
                describe(it).s);
            continue;
        }
        char item_owner[192];
        snprintf(item_owner, sizeof item_owner, "%s %zu of %s", f->noun, i + 1,
                 owner ? owner : "the file");
        decode_section(d, sub, it, it->line, elem, item_owner);
    }
}

static void decode_field(decoder *d, const field *f, const lb_yaml_pair *pair, void *base,
                         const char *owner)
{
    const char *s;
    switch (f->type) {
    case F_STRING:
        if ((s = want_string(d, pair)))
            *AT(base, f->off, char *) = dup_str(d, s);
        break;
    case F_PATH:
    case F_DATASET:
    case F_STYLE:
        if ((s = want_string(d, pair))) {
            char *p = (f->type == F_DATASET && is_connection_string(s)) ? lb_strdup(s)
                      : (f->type == F_STYLE && is_style_name(s))         ? shipped_style(s)
                                                                          : lb_path_resolve(d->path, s);
            if (!p)
                d->oom = true;
            *AT(base, f->off, char *) = p;
        }
        break;
    case F_BOOL:
        decode_bool(d, pair, AT(base, f->off, bool));
        break;
    case F_LEVEL:
        decode_level(d, pair, AT(base, f->off, lb_level));
        break;
    case F_LAYER_REF:
        decode_layer_ref(d, pair, AT(base, f->off, char *));
        break;
    case F_OPTIONS:
        decode_options(d, pair, AT(base, f->off, char **));
        break;
    case F_GROUPS:
    case F_CAVEATS:
        decode_mask(d, f, pair, AT(base, f->off, uint64_t));
        break;
    case F_LAYER_LIST:
    case F_LAYER_GRANT:
    case F_ROLE_LIST:
    case F_SOURCE_LIST:
        decode_ref_list(d, f, pair, base);
        break;
    case F_PHASE:
        decode_phase(d, pair, AT(base, f->off, int));
        break;
    case F_PHASES:
        decode_phases(d, pair, AT(base, f->off, unsigned));
        break;
    case F_NUMBER:
        decode_number(d, f, pair, AT(base, f->off, double));
        break;
    case F_DURATION:
        decode_duration(d, f, pair, AT(base, f->off, double));
        break;
    case F_TIME:
        decode_time(d, pair, AT(base, f->off, char *));
        break;
    case F_HASH:
        decode_hash(d, pair, AT(base, f->off, char *));
        break;
    case F_NAMES:
        decode_names(d, f, pair, AT(base, f->off, char **), AT(base, f->count_off, size_t));
        break;
    case F_SECTION: {
        if (pair->value->kind != LB_YAML_MAP) {
            ERR(d, pair->value->line, "key '%s' must be a mapping, got %s", pair->key->text,
                describe(pair->value).s);
            break;
        }
        char sub_owner[192];
        if (owner)
            snprintf(sub_owner, sizeof sub_owner, "%s of %s", f->key, owner);
        else
            snprintf(sub_owner, sizeof sub_owner, "section '%s'", f->key);
        decode_section(d, f->sub, pair->value, pair->key->line, base, sub_owner);
        break;
    }
    case F_IDMAP:
        decode_idmap(d, f, pair, base);
        break;
    case F_SEQ:
        decode_seq(d, f, pair, base, owner);
        break;
    }
}

static const field *find_field(const section *s, const char *key)
{
    for (size_t i = 0; i < s->nfields; i++)
        if (strcmp(s->fields[i].key, key) == 0)
            return &s->fields[i];
    return NULL;
}

/*
 * Decode map (NULL when the value was empty) against table s into base.
 * line is where the section starts (its key), owner names it for messages
 * ("source 'x'", "label of source 'x'"; NULL for the top level).
 */
static void decode_section(decoder *d, const section *s, const lb_yaml_node *map, int line,
                           void *base, const char *owner)
{
    char where[224];
    if (owner)
        snprintf(where, sizeof where, "in %s", owner);
    else
        snprintf(where, sizeof where, "at the top level");

    for (size_t i = 0; map && i < map->npairs; i++) {
        const lb_yaml_node *key = map->pairs[i].key;
        if (find_field(s, key->text))
            continue;
        lb_buf valid = {0};
        for (size_t j = 0; j < s->nfields; j++) {
            if (j)
                lb_buf_puts(&valid, ", ");
            lb_buf_puts(&valid, s->fields[j].key);
        }
        ERR(d, key->line, "unknown key '%s' %s (valid: %s)", show(key->text).s, where,
            valid.data ? valid.data : "");
        lb_buf_free(&valid);
    }

    for (size_t i = 0; i < s->nfields; i++) {
        const field *f = &s->fields[i];
        const lb_yaml_pair *pair = lb_yaml_get(map, f->key);
        if (!pair) {
            if (f->required)
                ERR(d, line, "missing required key '%s' %s", f->key, where);
            continue;
        }
        if (pair->value->kind == LB_YAML_SCALAR && pair->value->null) {
            /* an empty value means "not given" */
            if (f->required)
                ERR(d, pair->key->line, "key '%s' %s has no value", f->key, where);
            continue;
        }
        decode_field(d, f, pair, base, owner);
    }

    if (s->check)
        s->check(d, base, map, where);
}

/* ---- cross-key rules -------------------------------------------------- */

static void check_source(decoder *d, void *base, const lb_yaml_node *map, const char *where)
{
    lb_source_cfg *src = base;
    if (!src->path == !src->watch) {
        const lb_yaml_pair *p = lb_yaml_get(map, "watch");
        if (src->path)
            ERR(d, p ? p->key->line : src->line,
                "both path and watch %s: a source reads one file, URL or drop folder", where);
        else
            ERR(d, src->line,
                "missing required key 'path' %s (a file or URL; or 'watch': a drop folder)",
                where);
    }
    if (lb_yaml_get(map, "settle") && !src->watch) {
        const lb_yaml_pair *p = lb_yaml_get(map, "settle");
        ERR(d, p->key->line, "settle %s only applies to a drop folder (watch:)", where);
    }
    if (src->watch && !lb_yaml_get(map, "settle"))
        src->settle_s = 2.0;
    if (src->force_crs && !src->crs) {
        const lb_yaml_pair *p = lb_yaml_get(map, "force_crs");
        ERR(d, p ? p->key->line : src->line, "force_crs: true %s needs a crs to force", where);
    }
    const lb_yaml_pair *set = lb_yaml_get(map, "set");
    for (int f = 0; f < LB_FIELD_COUNT; f++) {
        if (!src->map[f] || !src->set[f])
            continue;
        const char *name = mapping_fields[f].key;
        const lb_yaml_pair *p = set ? lb_yaml_get(set->value, name) : NULL;
        ERR(d, p ? p->key->line : src->line,
            "field '%s' %s is given both in mapping (from an attribute) and in set (constant)",
            name, where);
    }
}

/* valid_to must be after valid_from (both as instants in UTC). */
static void check_role(decoder *d, void *base, const lb_yaml_node *map, const char *where)
{
    lb_role_cfg *role = base;
    utc_time from, to;
    if (!role->valid_from || !role->valid_to || parse_time(role->valid_from, &from) != TIME_OK ||
        parse_time(role->valid_to, &to) != TIME_OK)
        return;
    if (compare_time(to, from) <= 0) {
        const lb_yaml_pair *pt = lb_yaml_get(map, "valid_to");
        const lb_yaml_pair *pf = lb_yaml_get(map, "valid_from");
        ERR(d, pt ? pt->value->line : role->line,
            "valid_to '%s' %s must be after valid_from '%s' (line %d)", show(role->valid_to).s,
            where, show(role->valid_from).s, pf ? pf->value->line : role->line);
    }
}

/* A claim path: names of [A-Za-z0-9_:-] joined by single dots (e.g.
 * realm_access.roles), at most 8 names and 200 characters. */
static bool claim_path_ok(const char *p)
{
    size_t n = strlen(p), names = 1;
    if (n == 0 || n > 200 || p[0] == '.' || p[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '.') {
            if (p[i + 1] == '.' || ++names > 8)
                return false;
        } else if (!isalnum(c) && c != '_' && c != ':' && c != '-') {
            return false;
        }
    }
    return true;
}

static void check_jwt(decoder *d, void *base, const lb_yaml_node *map, const char *where)
{
    const lb_jwt_cfg *j = &((const lb_config *)base)->jwt;
    const char *keys[] = {"roles_claim", "principal_claim"};
    const char *vals[] = {j->roles_claim, j->principal_claim};
    for (int i = 0; i < 2; i++) {
        if (!vals[i] || claim_path_ok(vals[i]))
            continue;
        const lb_yaml_pair *pk = lb_yaml_get(map, keys[i]);
        ERR(d, pk ? pk->value->line : map->line,
            "%s '%s' %s must be claim names of letters, digits, '_', ':' or '-' joined by "
            "single dots (e.g. realm_access.roles)",
            keys[i], show(vals[i]).s, where);
    }
}

/* The line of key in the mapping of element i of the top-level id map section. */
static int elem_key_line(const lb_yaml_node *top, const char *section, size_t i,
                         const char *key, int fallback)
{
    const lb_yaml_pair *sec = lb_yaml_get(top, section);
    if (!sec || sec->value->kind != LB_YAML_MAP || i >= sec->value->npairs)
        return fallback;
    const lb_yaml_pair *p = lb_yaml_get(sec->value->pairs[i].value, key);
    return p ? p->value->line : fallback;
}

/* No two tokens may share a hash: the hash alone identifies the principal. */
static void check_token_hashes(decoder *d, const lb_config *cfg, const lb_yaml_node *map)
{
    for (size_t i = 0; i < cfg->ntokens; i++) {
        const lb_token_cfg *t = &cfg->tokens[i];
        if (!t->hash)
            continue;
        for (size_t j = 0; j < i; j++) {
            const lb_token_cfg *first = &cfg->tokens[j];
            if (!first->hash || strcmp(first->hash, t->hash) != 0)
                continue;
            ERR(d, elem_key_line(map, "tokens", i, "hash", t->line),
                "token '%s' has the same hash as token '%s' on line %d: every token must be "
                "different",
                show(t->principal).s, show(first->principal).s,
                elem_key_line(map, "tokens", j, "hash", first->line));
            break;
        }
    }
}

/*
 * Rules across sections: unique token hashes; store.path defaults to the
 * config file with its extension replaced by .sqlite.
 */
static void check_top(decoder *d, void *base, const lb_yaml_node *map, const char *where)
{
    (void)where;
    lb_config *cfg = base;
    check_token_hashes(d, cfg, map);
    if (cfg->store_path)
        return;
    const char *path = d->path;
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    const char *dot = strrchr(name, '.');
    size_t keep = (dot && dot != name) ? (size_t)(dot - path) : strlen(path);
    lb_buf b = {0};
    lb_buf_append(&b, path, keep);
    lb_buf_puts(&b, ".sqlite");
    if (b.oom) {
        lb_buf_free(&b);
        d->oom = true;
        return;
    }
    cfg->store_path = lb_buf_take(&b);
}

/* ---- freeing ---------------------------------------------------------- */

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Free what the table stored under base (invariant 1: works on partial data). */
static void free_section(const section *s, void *base)
{
    for (size_t i = 0; i < s->nfields; i++) {
        const field *f = &s->fields[i];
        switch (f->type) {
        case F_STRING:
        case F_PATH:
        case F_DATASET:
        case F_STYLE:
        case F_LAYER_REF:
        case F_TIME:
        case F_HASH:
            free(*AT(base, f->off, char *));
            break;
        case F_OPTIONS: {
            char **v = *AT(base, f->off, char **);
            for (size_t j = 0; v && v[j]; j++)
                free(v[j]);
            free(v);
            break;
        }
        case F_LAYER_LIST:
        case F_LAYER_GRANT:
        case F_ROLE_LIST:
        case F_SOURCE_LIST:
        case F_NAMES:
            free_strv(*AT(base, f->off, char **), *AT(base, f->count_off, size_t));
            break;
        case F_SECTION:
            free_section(f->sub, base);
            break;
        case F_IDMAP: {
            char *arr;
            memcpy(&arr, (char *)base + f->off, sizeof arr);
            size_t n = *AT(base, f->count_off, size_t);
            for (size_t j = 0; arr && j < n; j++) {
                void *elem = arr + j * f->sub->elem_size;
                free(*AT(elem, f->sub->id_off, char *));
                free_section(f->sub, elem);
            }
            free(arr);
            break;
        }
        case F_SEQ: {
            char *arr;
            memcpy(&arr, (char *)base + f->off, sizeof arr);
            size_t n = *AT(base, f->count_off, size_t);
            for (size_t j = 0; arr && j < n; j++)
                free_section(f->sub, arr + j * f->sub->elem_size);
            free(arr);
            break;
        }
        case F_BOOL:
        case F_LEVEL:
        case F_GROUPS:
        case F_CAVEATS:
        case F_PHASE:
        case F_PHASES:
        case F_NUMBER:
        case F_DURATION:
            break;
        }
    }
}

void lb_config_free(lb_config *cfg)
{
    if (!cfg)
        return;
    free_section(&top_section, cfg);
    free(cfg->path);
    free(cfg);
}

/* ---- loading ---------------------------------------------------------- */

lb_status lb_config_load(const char *path, lb_config **out, char **diag)
{
    if (out)
        *out = NULL;
    if (diag)
        *diag = NULL;
    if (!path || !out)
        return LB_EINVAL;

    lb_diag errs = {0};
    lb_yaml_doc doc = {0};
    lb_config *cfg = NULL;
    lb_status st = lb_yaml_load(path, &doc, &errs);
    if (st == LB_OK) {
        cfg = calloc(1, sizeof *cfg);
        if (!cfg || !(cfg->path = lb_strdup(path))) {
            st = LB_ENOMEM;
        } else {
            cfg->phase = -1; /* not set */
            decoder d = {.path = path, .cfg = cfg, .errs = &errs};
            const lb_yaml_node *root = doc.root;
            if (root && root->kind == LB_YAML_SCALAR && root->null)
                root = NULL; /* an empty document is an empty config */
            if (root && root->kind != LB_YAML_MAP)
                ERR(&d, root->line,
                    "the file must be a mapping with the sections store, phase, groups, "
                    "caveats, layers, sources, maps, roles and tokens, got %s",
                    describe(root).s);
            else
                decode_section(&d, &top_section, root, 1, cfg, NULL);
            if (d.oom || errs.oom)
                st = LB_ENOMEM;
            else if (errs.n)
                st = LB_ECONFIG;
        }
    }
    lb_yaml_free(&doc);

    if (st == LB_OK) {
        *out = cfg;
    } else {
        lb_config_free(cfg);
        if (diag)
            *diag = lb_diag_format(&errs, path);
    }
    lb_diag_free(&errs);
    return st;
}

/* ---- lookups ---------------------------------------------------------- */

const lb_source_cfg *lb_config_source(const lb_config *cfg, const char *id)
{
    for (size_t i = 0; cfg && id && i < cfg->nsources; i++)
        if (cfg->sources[i].id && strcmp(cfg->sources[i].id, id) == 0)
            return &cfg->sources[i];
    return NULL;
}

const lb_layer_cfg *lb_config_layer(const lb_config *cfg, const char *id)
{
    for (size_t i = 0; cfg && id && i < cfg->nlayers; i++)
        if (cfg->layers[i].id && strcmp(cfg->layers[i].id, id) == 0)
            return &cfg->layers[i];
    return NULL;
}

const lb_map_cfg *lb_config_map(const lb_config *cfg, const char *id)
{
    for (size_t i = 0; cfg && id && i < cfg->nmaps; i++)
        if (cfg->maps[i].id && strcmp(cfg->maps[i].id, id) == 0)
            return &cfg->maps[i];
    return NULL;
}

const lb_role_cfg *lb_config_role(const lb_config *cfg, const char *id)
{
    for (size_t i = 0; cfg && id && i < cfg->nroles; i++)
        if (cfg->roles[i].id && strcmp(cfg->roles[i].id, id) == 0)
            return &cfg->roles[i];
    return NULL;
}

static int name_index(char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (names[i] && strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

int lb_config_group_index(const lb_config *cfg, const char *name)
{
    return cfg ? name_index(cfg->groups, cfg->ngroups, name) : -1;
}

int lb_config_caveat_index(const lb_config *cfg, const char *name)
{
    return cfg ? name_index(cfg->caveats, cfg->ncaveats, name) : -1;
}

/*
 * Names of the set bits in declaration order, comma-separated.  A bit with
 * no declared name (a corrupt label) is shown as "#<bit>" rather than
 * dropped.  Only whole names are written: when the next one does not fit in
 * n bytes the list ends before it.  buf is always NUL-terminated (n > 0).
 */
static void format_bits(char *const *names, size_t nnames, uint64_t bits, char *buf, size_t n)
{
    if (!buf || n == 0)
        return;
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < 64; i++) {
        if (!(bits & (UINT64_C(1) << i)))
            continue;
        char num[8];
        const char *name = (i < nnames && names[i]) ? names[i] : NULL;
        if (!name) {
            snprintf(num, sizeof num, "#%u", i);
            name = num;
        }
        int w = snprintf(buf + len, n - len, "%s%s", len ? "," : "", name);
        if (w < 0 || (size_t)w >= n - len) {
            buf[len] = '\0';
            return;
        }
        len += (size_t)w;
    }
}

void lb_config_format_groups(const lb_config *cfg, uint64_t groups, char *buf, size_t n)
{
    format_bits(cfg ? cfg->groups : NULL, cfg ? cfg->ngroups : 0, groups, buf, n);
}

void lb_config_format_caveats(const lb_config *cfg, uint64_t caveats, char *buf, size_t n)
{
    format_bits(cfg ? cfg->caveats : NULL, cfg ? cfg->ncaveats : 0, caveats, buf, n);
}

const char *lb_field_name(lb_field f)
{
    if ((int)f < 0 || (int)f >= LB_FIELD_COUNT)
        return NULL;
    return mapping_fields[f].key;
}
