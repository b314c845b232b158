/*
 * This file implements the config loader (lb_config_load) and the lookups
 * on a loaded lb_config.
 *
 * Decoding is table-driven: every section of the format (top level, store,
 * layer, source, label, mapping, set, map) is a `section` listing its keys
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
 *      groups, caveats and layers exist before sources and maps refer to
 *      them.  Messages are sorted by line afterwards.
 *   3. Decoding never stops at the first problem; every message is collected
 *      as (line, text) and the config is only handed out when there is none.
 */
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
    F_NAMES,      /* declaration of group / caveat names -> char ** + size_t */
    F_SECTION,    /* nested mapping decoded with `sub`, same base */
    F_IDMAP,      /* mapping id -> element decoded with `sub` -> array + size_t */
} ftype;

typedef struct section section;
typedef struct decoder decoder;

typedef struct field {
    const char *key;
    ftype type;
    size_t off;         /* where the value goes, from the section's base */
    bool required;
    size_t count_off;   /* F_LAYER_LIST, F_NAMES, F_IDMAP: the size_t count */
    const section *sub; /* F_SECTION, F_IDMAP */
    const char *noun;   /* F_NAMES / F_IDMAP: "group", "layer", ... for messages */
    size_t max;         /* F_NAMES: how many may be declared */
} field;

struct section {
    const field *fields;
    size_t nfields;
    /* elements of an F_IDMAP */
    size_t elem_size;
    size_t id_off, line_off;
    void (*check_id)(decoder *d, const lb_yaml_node *key, const char *noun);
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
#define SECTION(tab) .fields = tab, .nfields = COUNT(tab)

static void check_layer_id(decoder *d, const lb_yaml_node *key, const char *noun);
static void check_plain_id(decoder *d, const lb_yaml_node *key, const char *noun);
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

static const field source_fields[] = {
    KEY("path", F_DATASET, lb_source_cfg, path, true),
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
};
static const section source_section = {
    SECTION(source_fields),
    .elem_size = sizeof(lb_source_cfg),
    .id_off = offsetof(lb_source_cfg, id),
    .line_off = offsetof(lb_source_cfg, line),
    .check_id = check_plain_id,
    .check = check_source,
};

static const field layer_fields[] = {
    KEY("title", F_STRING, lb_layer_cfg, title, true),
    KEY("style", F_STYLE, lb_layer_cfg, style, false),
    KEY("attribution", F_STRING, lb_layer_cfg, attribution, false),
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

static const field store_fields[] = {
    KEY("path", F_PATH, lb_config, store_path, false),
};
static const section store_section = {SECTION(store_fields)};

/* Order matters (invariant 2): declarations before their users. */
static const field top_fields[] = {
    {.key = "store", .type = F_SECTION, .off = 0, .sub = &store_section},
    LIST("groups", F_NAMES, lb_config, groups, ngroups, false, "group", LB_MAX_GROUPS),
    LIST("caveats", F_NAMES, lb_config, caveats, ncaveats, false, "caveat", LB_MAX_CAVEATS),
    IDMAP("layers", layers, nlayers, layer_section, "layer"),
    IDMAP("sources", sources, nsources, source_section, "source"),
    IDMAP("maps", maps, nmaps, map_section, "map"),
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

/* Report that s (given at line) is no defined layer, listing those that are. */
static void undefined_layer(decoder *d, int line, const char *s)
{
    lb_buf names = {0};
    for (size_t i = 0; i < d->cfg->nlayers; i++) {
        if (!d->cfg->layers[i].id)
            continue;
        if (names.len)
            lb_buf_puts(&names, ", ");
        lb_buf_puts(&names, d->cfg->layers[i].id);
    }
    if (names.len)
        ERR(d, line, "undefined layer '%s' (defined layers: %s)", show(s).s, names.data);
    else
        ERR(d, line, "undefined layer '%s' (no layers are defined)", show(s).s);
    lb_buf_free(&names);
}

static void decode_layer_ref(decoder *d, const lb_yaml_pair *pair, char **out)
{
    const char *s = want_string(d, pair);
    if (!s)
        return;
    if (!lb_config_layer(d->cfg, s))
        undefined_layer(d, pair->value->line, s);
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

/* releasable_to / caveats of a label: names declared at the top level. */
static void decode_mask(decoder *d, const lb_yaml_pair *pair, uint64_t *out, bool groups)
{
    const lb_yaml_node *v = want_list(d, pair);
    if (!v)
        return;
    const char *noun = groups ? "group" : "caveat";
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

static void decode_layer_list(decoder *d, const lb_yaml_pair *pair, char ***out, size_t *count)
{
    const lb_yaml_node *v = want_list(d, pair);
    if (!v)
        return;
    if (v->nitems == 0) {
        ERR(d, v->line, "key '%s' must name at least one layer", pair->key->text);
        return;
    }
    char **ids = calloc(v->nitems + 1, sizeof *ids);
    if (!ids) {
        d->oom = true;
        return;
    }
    *out = ids;
    for (size_t i = 0; i < v->nitems; i++) {
        const char *s = want_item(d, pair, i, "layer ids");
        if (!s)
            continue;
        if (!lb_config_layer(d->cfg, s)) {
            undefined_layer(d, v->items[i]->line, s);
            continue;
        }
        bool twice = false;
        for (size_t j = 0; j < *count && !twice; j++)
            twice = strcmp(ids[j], s) == 0;
        if (twice) {
            ERR(d, v->items[i]->line, "layer '%s' is listed twice", s);
            continue;
        }
        if (!(ids[*count] = dup_str(d, s)))
            return;
        (*count)++;
    }
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

/* layers: / sources: / maps: -- one element per key, in file order. */
static void decode_idmap(decoder *d, const field *f, const lb_yaml_pair *pair, void *base)
{
    const lb_yaml_node *v = pair->value;
    if (v->kind != LB_YAML_MAP) {
        ERR(d, v->line, "key '%s' must be a mapping of %s ids to %ss, got %s", pair->key->text,
            f->noun, f->noun, describe(v).s);
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
        decode_mask(d, pair, AT(base, f->off, uint64_t), f->type == F_GROUPS);
        break;
    case F_LAYER_LIST:
        decode_layer_list(d, pair, AT(base, f->off, char **), AT(base, f->count_off, size_t));
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

/* store.path defaults to the config file with its extension replaced by .sqlite. */
static void check_top(decoder *d, void *base, const lb_yaml_node *map, const char *where)
{
    (void)map;
    (void)where;
    lb_config *cfg = base;
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
        case F_BOOL:
        case F_LEVEL:
        case F_GROUPS:
        case F_CAVEATS:
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
            decoder d = {.path = path, .cfg = cfg, .errs = &errs};
            const lb_yaml_node *root = doc.root;
            if (root && root->kind == LB_YAML_SCALAR && root->null)
                root = NULL; /* an empty document is an empty config */
            if (root && root->kind != LB_YAML_MAP)
                ERR(&d, root->line,
                    "the file must be a mapping with the sections store, groups, caveats, "
                    "layers, sources and maps, got %s",
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
