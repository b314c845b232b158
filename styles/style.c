/*
 * This file implements loading and evaluating style files (docs/styles.md).
 *
 * Loading reads the JSON file into the YAML tree of lagebild/yaml.h (JSON
 * is YAML flow syntax; every node knows its line), checks that every value
 * is JSON (unquoted text usually means a missing quote or comma), then
 * walks the top level and each style layer.  Every key is checked: unknown
 * keys, MapLibre keys lagebild does not support and paint properties of
 * another layer type are errors naming the key, reported as
 * "file:line: message" and collected so that one run shows them all.
 * Filters and paint values are compiled by expr.c.
 *
 * Evaluation resolves one style layer for one feature at one zoom into an
 * lb_paint: the zoom range, visibility and filter decide whether the layer
 * applies; each property is evaluated (or takes its default, also when its
 * expression fails for this feature), clamped to its range and combined
 * with its opacity into premultiplied colours.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lagebild/util.h"
#include "styles_int.h"

/* ---- property table --------------------------------------------------- */

typedef enum vkind { V_COLOR, V_NUM, V_ENUM, V_DASH } vkind;

typedef struct pdef {
    const char *name;
    bool layout; /* in "layout", else in "paint" */
    lb_style_type type;
    lbs_prop prop;
    vkind kind;
    double min, max;          /* V_NUM */
    const char *const *enums; /* V_ENUM, NULL-terminated, index = enum value */
    const char *enum_list;
} pdef;

static const char *const join_names[] = {"miter", "round", "bevel", NULL};
static const char *const cap_names[] = {"butt", "round", "square", NULL};
static const char *const shape_names[] = {"circle", "square", "triangle", "cross", NULL};

static const pdef pdefs[] = {
    {"fill-color", false, LB_STYLE_FILL, LBS_P_FILL_COLOR, V_COLOR, 0, 0, NULL, NULL},
    {"fill-opacity", false, LB_STYLE_FILL, LBS_P_FILL_OPACITY, V_NUM, 0, 1, NULL, NULL},
    {"fill-outline-color", false, LB_STYLE_FILL, LBS_P_FILL_OUTLINE_COLOR, V_COLOR, 0, 0, NULL,
     NULL},
    {"line-color", false, LB_STYLE_LINE, LBS_P_LINE_COLOR, V_COLOR, 0, 0, NULL, NULL},
    {"line-opacity", false, LB_STYLE_LINE, LBS_P_LINE_OPACITY, V_NUM, 0, 1, NULL, NULL},
    {"line-width", false, LB_STYLE_LINE, LBS_P_LINE_WIDTH, V_NUM, 0, INFINITY, NULL, NULL},
    {"line-dasharray", false, LB_STYLE_LINE, LBS_P_LINE_DASHARRAY, V_DASH, 0, 0, NULL, NULL},
    {"line-join", true, LB_STYLE_LINE, LBS_P_LINE_JOIN, V_ENUM, 0, 0, join_names,
     "\"miter\", \"round\" or \"bevel\""},
    {"line-cap", true, LB_STYLE_LINE, LBS_P_LINE_CAP, V_ENUM, 0, 0, cap_names,
     "\"butt\", \"round\" or \"square\""},
    {"line-miter-limit", true, LB_STYLE_LINE, LBS_P_LINE_MITER_LIMIT, V_NUM, 0, INFINITY, NULL,
     NULL},
    {"circle-radius", false, LB_STYLE_CIRCLE, LBS_P_CIRCLE_RADIUS, V_NUM, 0, INFINITY, NULL, NULL},
    {"circle-color", false, LB_STYLE_CIRCLE, LBS_P_CIRCLE_COLOR, V_COLOR, 0, 0, NULL, NULL},
    {"circle-opacity", false, LB_STYLE_CIRCLE, LBS_P_CIRCLE_OPACITY, V_NUM, 0, 1, NULL, NULL},
    {"circle-stroke-color", false, LB_STYLE_CIRCLE, LBS_P_CIRCLE_STROKE_COLOR, V_COLOR, 0, 0, NULL,
     NULL},
    {"circle-stroke-width", false, LB_STYLE_CIRCLE, LBS_P_CIRCLE_STROKE_WIDTH, V_NUM, 0, INFINITY,
     NULL, NULL},
    {"circle-stroke-opacity", false, LB_STYLE_CIRCLE, LBS_P_CIRCLE_STROKE_OPACITY, V_NUM, 0, 1,
     NULL, NULL},
    {"circle-shape", false, LB_STYLE_CIRCLE, LBS_P_CIRCLE_SHAPE, V_ENUM, 0, 0, shape_names,
     "\"circle\", \"square\", \"triangle\" or \"cross\""},
};

#define NPDEFS (sizeof pdefs / sizeof pdefs[0])

static const char *const type_names[] = {"fill", "line", "circle"};

/* ---- loading ---------------------------------------------------------- */

typedef struct loader {
    lbs_compiler c;
    lb_diag *diag;
    char where[200];
} loader;

#define ERR(L, line, ...) lb_diag_add((L)->diag, (line), __VA_ARGS__)

static const char *show(const lb_yaml_node *n, lbs_shown *buf)
{
    *buf = lbs_describe(n);
    return buf->s;
}

/* Every value must be JSON; also bounds the nesting depth for the compiler. */
static void check_json(loader *L, const lb_yaml_node *n, int depth, bool *too_deep)
{
    if (*too_deep)
        return;
    if (depth > LBS_MAX_DEPTH) {
        ERR(L, n->line, "values are nested too deeply (more than %d levels)", LBS_MAX_DEPTH);
        *too_deep = true;
        return;
    }
    switch (n->kind) {
    case LB_YAML_SCALAR: {
        if (n->quoted || strcmp(n->text, "null") == 0 || strcmp(n->text, "true") == 0 ||
            strcmp(n->text, "false") == 0)
            return;
        double v;
        bool range;
        if (lbs_json_number(n->text, &v, &range))
            return;
        if (range)
            ERR(L, n->line, "the number %.60s is out of range", n->text);
        else if (n->text[0] == '\0')
            ERR(L, n->line, "a value is missing");
        else
            ERR(L, n->line,
                "'%.60s' is not valid JSON: put strings in double quotes (or is a comma missing?)",
                n->text);
        return;
    }
    case LB_YAML_SEQ:
        for (size_t i = 0; i < n->nitems; i++)
            check_json(L, n->items[i], depth + 1, too_deep);
        return;
    case LB_YAML_MAP:
        for (size_t i = 0; i < n->npairs; i++)
            check_json(L, n->pairs[i].value, depth + 1, too_deep);
        return;
    }
}

static bool want_string(loader *L, const lb_yaml_pair *p, const char *what)
{
    if (lbs_jkind_of(p->value, NULL) == LBS_J_STR)
        return true;
    lbs_shown b;
    ERR(L, p->value->line, "%s%s'%s' must be a string, got %s", what ? what : "", what ? ": " : "",
        p->key->text, show(p->value, &b));
    return false;
}

static bool want_object(loader *L, const lb_yaml_pair *p, const char *what)
{
    if (p->value->kind == LB_YAML_MAP)
        return true;
    lbs_shown b;
    ERR(L, p->value->line, "%s%s'%s' must be an object, got %s", what ? what : "", what ? ": " : "",
        p->key->text, show(p->value, &b));
    return false;
}

static char *dup_or_oom(loader *L, const char *s)
{
    char *p = lb_strdup(s);
    if (!p)
        L->c.oom = true;
    return p;
}

/* Minimum and maximum zoom: numbers 0..24. */
static void decode_zoom(loader *L, const lb_yaml_pair *p, double *out)
{
    double v;
    lbs_shown b;
    if (lbs_jkind_of(p->value, &v) != LBS_J_NUM) {
        ERR(L, p->value->line, "%s: '%s' must be a number, got %s", L->where, p->key->text,
            show(p->value, &b));
        return;
    }
    if (v < 0 || v > 24) {
        ERR(L, p->value->line, "%s: '%s' must be between 0 and 24, got %s", L->where, p->key->text,
            p->value->text);
        return;
    }
    *out = v;
}

static bool valid_dash(const double *d, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(d[i] >= 0) || !isfinite(d[i]))
            return false;
        sum += d[i];
    }
    return n == 0 || (sum > 0 && (n % 2 == 0 ? n : 2 * n) <= LB_MAX_DASH);
}

/* One paint or layout property. */
static void decode_prop(loader *L, lbs_layer *ly, const pdef *d, const lb_yaml_pair *p)
{
    char where[300];
    snprintf(where, sizeof where, "%s: %s '%s'", L->where, d->layout ? "layout" : "paint", d->name);
    lbs_compiler *c = &L->c;
    c->where = where;
    c->enums = d->enums;
    c->enum_list = d->enum_list;
    unsigned want = d->kind == V_COLOR  ? LBS_T_COLOR
                    : d->kind == V_NUM  ? LBS_T_NUM
                    : d->kind == V_ENUM ? LBS_X_ENUM
                                        : LBS_T_ARRAY;
    size_t first = c->s->nnodes;
    uint32_t id = lbs_compile(c, p->value, want);
    c->enums = NULL;
    c->enum_list = NULL;
    if (id == LBS_NONE)
        return;
    const lbs_node *n = &c->s->nodes[id];
    if (d->kind == V_NUM && n->op == LBS_OP_LIT && n->v.t == LBS_T_NUM &&
        !(n->v.u.num >= d->min && n->v.u.num <= d->max)) {
        if (isinf(d->max))
            ERR(L, p->value->line, "%s: must be at least %g, got %s", where, d->min,
                p->value->text);
        else
            ERR(L, p->value->line, "%s: must be between %g and %g, got %s", where, d->min, d->max,
                p->value->text);
        return;
    }
    if (d->kind == V_DASH) {
        /* every list the property can produce is a constant: check them all now */
        for (size_t i = first; i < c->s->nnodes; i++) {
            const lbs_node *k = &c->s->nodes[i];
            if (k->op == LBS_OP_LIT && k->v.t == LBS_T_ARRAY && !valid_dash(k->v.u.arr, k->v.n)) {
                ERR(L, p->value->line,
                    "%s: dash lengths must be numbers >= 0 with a positive sum, at most %d "
                    "(at most %d when their number is odd)",
                    where, LB_MAX_DASH, LB_MAX_DASH / 2);
                return;
            }
        }
    }
    ly->prop[d->prop] = id;
}

static void decode_section(loader *L, lbs_layer *ly, const lb_yaml_pair *sec, bool layout)
{
    const lb_yaml_node *m = sec->value;
    const char *what = layout ? "layout" : "paint";
    const char *tname = type_names[ly->type];
    for (size_t i = 0; i < m->npairs; i++) {
        const lb_yaml_pair *p = &m->pairs[i];
        const char *key = p->key->text;
        if (layout && strcmp(key, "visibility") == 0) {
            double dummy;
            if (lbs_jkind_of(p->value, &dummy) == LBS_J_STR &&
                (strcmp(p->value->text, "visible") == 0 || strcmp(p->value->text, "none") == 0)) {
                ly->visible = p->value->text[0] == 'v';
            } else {
                lbs_shown b;
                ERR(L, p->value->line,
                    "%s: layout 'visibility' must be \"visible\" or \"none\", got %s", L->where,
                    show(p->value, &b));
            }
            continue;
        }
        const pdef *d = NULL, *other = NULL;
        for (size_t k = 0; k < NPDEFS; k++) {
            if (strcmp(pdefs[k].name, key) != 0)
                continue;
            if (pdefs[k].layout == layout && pdefs[k].type == ly->type)
                d = &pdefs[k];
            else
                other = &pdefs[k];
        }
        if (d) {
            decode_prop(L, ly, d, p);
            continue;
        }
        /* the valid keys of this section for this type, for the message */
        char valid[400] = "";
        size_t len = 0;
        if (layout)
            len += (size_t)snprintf(valid, sizeof valid, "visibility");
        for (size_t k = 0; k < NPDEFS && len < sizeof valid; k++)
            if (pdefs[k].layout == layout && pdefs[k].type == ly->type)
                len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", len ? ", " : "",
                                        pdefs[k].name);
        if (other && other->type != ly->type)
            ERR(L, p->key->line, "%s: %s property '%s' is not valid for a %s layer (valid: %s)",
                L->where, what, key, tname, valid);
        else if (other)
            ERR(L, p->key->line, "%s: '%s' belongs in \"%s\", not in \"%s\"", L->where, key,
                other->layout ? "layout" : "paint", what);
        else
            ERR(L, p->key->line, "%s: unknown or unsupported %s property '%s' (valid: %s)",
                L->where, what, key, valid);
    }
}

static void decode_metadata(loader *L, lbs_layer *ly, const lb_yaml_pair *p)
{
    const lb_yaml_node *m = p->value;
    for (size_t i = 0; i < m->npairs; i++) {
        const lb_yaml_pair *q = &m->pairs[i];
        const char *key = q->key->text;
        if (strcmp(key, "lagebild:legend") == 0) {
            char what[260];
            snprintf(what, sizeof what, "%s: metadata", L->where);
            if (want_string(L, q, what)) {
                free(ly->title);
                ly->title = dup_or_oom(L, q->value->text);
            }
        } else if (strncmp(key, "lagebild:", 9) == 0) {
            ERR(L, q->key->line,
                "%s: unknown metadata key '%s' (lagebild reads only \"lagebild:legend\")", L->where,
                key);
        }
        /* other metadata (editors' keys) is kept out of the way, as in MapLibre */
    }
}

static const char *const layer_keys = "id, type, minzoom, maxzoom, filter, layout, paint, metadata";

static void decode_layer(loader *L, lbs_layer *ly, const lb_yaml_node *n, size_t index,
                         const lb_yaml_node **ids)
{
    snprintf(L->where, sizeof L->where, "layer %zu", index + 1);
    *ly = (lbs_layer){
        .type = LB_STYLE_FILL, .maxzoom = INFINITY, .visible = true, .filter = LBS_NONE};
    for (size_t k = 0; k < LBS_P_COUNT; k++)
        ly->prop[k] = LBS_NONE;
    lbs_shown b;
    if (n->kind != LB_YAML_MAP) {
        ERR(L, n->line, "%s: a style layer must be an object, got %s", L->where, show(n, &b));
        return;
    }
    /* id and type first: messages name the layer, properties depend on the type */
    const lb_yaml_pair *id = lb_yaml_get(n, "id");
    if (!id) {
        ERR(L, n->line, "%s: missing key 'id'", L->where);
    } else if (want_string(L, id, L->where)) {
        if (id->value->text[0] == '\0') {
            ERR(L, id->value->line, "%s: 'id' must not be empty", L->where);
        } else {
            for (size_t i = 0; i < index; i++) {
                if (ids[i] && strcmp(ids[i]->text, id->value->text) == 0) {
                    ERR(L, id->value->line, "duplicate layer id '%.100s' (first used on line %d)",
                        id->value->text, ids[i]->line);
                    break;
                }
            }
            ids[index] = id->value;
            ly->id = dup_or_oom(L, id->value->text);
            snprintf(L->where, sizeof L->where, "layer '%.100s'", id->value->text);
        }
    }
    const lb_yaml_pair *type = lb_yaml_get(n, "type");
    bool type_ok = false;
    if (!type) {
        ERR(L, n->line, "%s: missing key 'type' (fill, line or circle)", L->where);
    } else if (lbs_jkind_of(type->value, NULL) != LBS_J_STR) {
        ERR(L, type->value->line, "%s: 'type' must be a string (fill, line or circle), got %s",
            L->where, show(type->value, &b));
    } else {
        for (int t = 0; t < 3; t++) {
            if (strcmp(type->value->text, type_names[t]) == 0) {
                ly->type = (lb_style_type)t;
                type_ok = true;
            }
        }
        if (!type_ok)
            ERR(L, type->value->line, "%s: type '%.60s' is not supported (fill, line, circle)",
                L->where, type->value->text);
    }

    L->c.nslots = 0;
    for (size_t i = 0; i < n->npairs; i++) {
        const lb_yaml_pair *p = &n->pairs[i];
        const char *key = p->key->text;
        if (strcmp(key, "id") == 0 || strcmp(key, "type") == 0) {
            continue;
        } else if (strcmp(key, "minzoom") == 0) {
            decode_zoom(L, p, &ly->minzoom);
        } else if (strcmp(key, "maxzoom") == 0) {
            decode_zoom(L, p, &ly->maxzoom);
        } else if (strcmp(key, "filter") == 0) {
            char where[260];
            snprintf(where, sizeof where, "%s: filter", L->where);
            L->c.where = where;
            ly->filter = lbs_compile_filter(&L->c, p->value);
        } else if (strcmp(key, "layout") == 0 || strcmp(key, "paint") == 0) {
            if (want_object(L, p, L->where) && type_ok)
                decode_section(L, ly, p, key[0] == 'l');
        } else if (strcmp(key, "metadata") == 0) {
            if (want_object(L, p, L->where))
                decode_metadata(L, ly, p);
        } else if (strcmp(key, "source") == 0 || strcmp(key, "source-layer") == 0 ||
                   strcmp(key, "ref") == 0) {
            ERR(L, p->key->line,
                "%s: key '%s' is not supported: a lagebild style applies to the features of "
                "the layer whose config names it",
                L->where, key);
        } else {
            ERR(L, p->key->line, "%s: unknown key '%.100s' (valid: %s)", L->where, key, layer_keys);
        }
    }
    const lb_yaml_pair *mz = lb_yaml_get(n, "maxzoom");
    if (mz && ly->minzoom >= ly->maxzoom)
        ERR(L, mz->value->line, "%s: maxzoom (%g) must be greater than minzoom (%g)", L->where,
            ly->maxzoom, ly->minzoom);
}

/* MapLibre top-level keys that make no sense for a lagebild style. */
static const char *const unsupported_top[] = {
    "sources",    "sprite", "glyphs",     "center",  "centerAltitude", "zoom", "bearing",
    "pitch",      "roll",   "light",      "lights",  "terrain",        "sky",  "projection",
    "transition", "state",  "font-faces", "imports", "models",         NULL};

static void decode_top(loader *L, const lb_yaml_node *root)
{
    lb_style *s = L->c.s;
    lbs_shown b;
    if (!root || root->kind != LB_YAML_MAP) {
        ERR(L, root ? root->line : 0,
            "a style file must be a JSON object {\"version\": 8, \"layers\": [...]}, got %s",
            root ? show(root, &b) : "an empty file");
        return;
    }
    const lb_yaml_pair *layers = NULL;
    bool have_version = false;
    for (size_t i = 0; i < root->npairs; i++) {
        const lb_yaml_pair *p = &root->pairs[i];
        const char *key = p->key->text;
        double v;
        if (strcmp(key, "version") == 0) {
            have_version = true;
            if (lbs_jkind_of(p->value, &v) != LBS_J_NUM || v != 8)
                ERR(L, p->value->line, "'version' must be 8, got %s", show(p->value, &b));
        } else if (strcmp(key, "name") == 0) {
            if (want_string(L, p, NULL)) {
                free(s->name);
                s->name = dup_or_oom(L, p->value->text);
            }
        } else if (strcmp(key, "metadata") == 0) {
            want_object(L, p, NULL);
        } else if (strcmp(key, "layers") == 0) {
            if (p->value->kind != LB_YAML_SEQ)
                ERR(L, p->value->line, "'layers' must be a list of style layers, got %s",
                    show(p->value, &b));
            else if (p->value->nitems == 0)
                ERR(L, p->value->line, "'layers' is empty: the style would draw nothing");
            else
                layers = p;
        } else {
            bool known = false;
            for (size_t k = 0; unsupported_top[k]; k++)
                known |= strcmp(unsupported_top[k], key) == 0;
            if (known)
                ERR(L, p->key->line,
                    "top-level key '%s' is not supported: a lagebild style is applied to the "
                    "features of the layer whose config names it; sources, sprites, glyphs "
                    "and camera settings do not apply (see docs/styles.md)",
                    key);
            else
                ERR(L, p->key->line,
                    "unknown top-level key '%.100s' (valid: version, name, metadata, layers)", key);
        }
    }
    if (!have_version)
        ERR(L, root->line, "missing key 'version' (must be 8)");
    if (!layers) {
        if (!lb_yaml_get(root, "layers"))
            ERR(L, root->line, "missing key 'layers'");
        return;
    }
    const lb_yaml_node *seq = layers->value;
    s->layers = calloc(seq->nitems, sizeof *s->layers);
    const lb_yaml_node **ids = calloc(seq->nitems, sizeof *ids);
    if (!s->layers || !ids) {
        free(ids);
        L->c.oom = true;
        return;
    }
    for (size_t i = 0; i < seq->nitems && !L->c.oom; i++) {
        decode_layer(L, &s->layers[i], seq->items[i], i, ids);
        s->nlayers = i + 1;
    }
    free(ids);
}

lb_status lb_style_load(const char *path, lb_style **out, char **diag)
{
    if (out)
        *out = NULL;
    if (diag)
        *diag = NULL;
    if (!path || !out)
        return LB_EINVAL;

    lb_diag errs = {0};
    lb_yaml_doc doc = {0};
    lb_style *s = NULL;
    lb_status st = lb_yaml_load(path, &doc, &errs);
    if (st == LB_OK) {
        s = calloc(1, sizeof *s);
        if (!s) {
            st = LB_ENOMEM;
        } else {
            loader L = {.c = {.s = s, .diag = &errs}, .diag = &errs};
            bool too_deep = false;
            if (doc.root)
                check_json(&L, doc.root, 0, &too_deep);
            if (errs.n == 0)
                decode_top(&L, doc.root);
            if (L.c.oom || errs.oom)
                st = LB_ENOMEM;
            else if (errs.n)
                st = LB_ECONFIG;
        }
    }
    lb_yaml_free(&doc);

    if (st == LB_OK) {
        *out = s;
    } else {
        lb_style_free(s);
        if (diag)
            *diag = lb_diag_format(&errs, path);
    }
    lb_diag_free(&errs);
    return st;
}

void lb_style_free(lb_style *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nlayers; i++) {
        free(s->layers[i].id);
        free(s->layers[i].title);
    }
    free(s->layers);
    free(s->nodes);
    free(s->kids);
    free(s->labels);
    free(s->stops);
    for (size_t i = 0; i < s->nprops; i++)
        free(s->props[i]);
    free(s->props);
    for (size_t i = 0; i < s->nallocs; i++)
        free(s->allocs[i]);
    free(s->allocs);
    free(s->name);
    free(s);
}

/* ---- accessors -------------------------------------------------------- */

size_t lb_style_layer_count(const lb_style *s)
{
    return s ? s->nlayers : 0;
}

lb_style_type lb_style_layer_type(const lb_style *s, size_t i)
{
    return s && i < s->nlayers ? s->layers[i].type : LB_STYLE_FILL;
}

const char *lb_style_layer_id(const lb_style *s, size_t i)
{
    return s && i < s->nlayers ? s->layers[i].id : NULL;
}

const char *lb_style_layer_title(const lb_style *s, size_t i)
{
    if (!s || i >= s->nlayers)
        return NULL;
    return s->layers[i].title ? s->layers[i].title : s->layers[i].id;
}

const char *lb_style_name(const lb_style *s)
{
    return s ? s->name : NULL;
}

const char *const *lb_style_properties(const lb_style *s, size_t *n)
{
    if (n)
        *n = s ? s->nprops : 0;
    return s ? (const char *const *)s->props : NULL;
}

/* ---- evaluation ------------------------------------------------------- */

static double eval_num(lbs_ctx *c, uint32_t node, double def, double min, double max)
{
    lbs_val v;
    if (node == LBS_NONE || !lbs_eval(c, node, &v) || v.t != LBS_T_NUM || isnan(v.u.num))
        return def;
    return v.u.num < min ? min : v.u.num > max ? max : v.u.num;
}

static bool eval_color(lbs_ctx *c, uint32_t node, lbs_color *out)
{
    lbs_val v;
    if (node == LBS_NONE || !lbs_eval(c, node, &v) || !lbs_coerce(&v, LBS_T_COLOR))
        return false;
    *out = v.u.col;
    return true;
}

static int eval_enum(lbs_ctx *c, uint32_t node, const char *const *names, int def)
{
    lbs_val v;
    if (node == LBS_NONE || !lbs_eval(c, node, &v) || v.t != LBS_T_STR)
        return def;
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], v.u.str) == 0)
            return i;
    return def;
}

static size_t eval_dash(lbs_ctx *c, uint32_t node, double *dash)
{
    lbs_val v;
    if (node == LBS_NONE || !lbs_eval(c, node, &v) || v.t != LBS_T_ARRAY ||
        !valid_dash(v.u.arr, v.n))
        return 0;
    size_t n = v.n;
    for (size_t i = 0; i < n; i++)
        dash[i] = v.u.arr[i];
    if (n % 2 == 1) { /* an odd list repeats, as in SVG: [2] = [2, 2] */
        for (size_t i = 0; i < n; i++)
            dash[n + i] = v.u.arr[i];
        n *= 2;
    }
    return n;
}

static lb_rgba to_rgba(lbs_color c, double opacity)
{
    return lb_rgba_from(c.r, c.g, c.b, c.a * opacity);
}

static bool eval_layer(const lb_style *s, size_t i, double zoom, lb_prop_fn get, void *ud,
                       lb_paint *out, bool legend)
{
    memset(out, 0, sizeof *out);
    if (!s || i >= s->nlayers)
        return false;
    const lbs_layer *ly = &s->layers[i];
    out->type = ly->type;
    out->join = LB_JOIN_MITER;
    out->cap = LB_CAP_BUTT;
    out->miter_limit = 2;
    out->marker = LB_MARKER_CIRCLE;
    if (!ly->visible)
        return false;
    if (!legend && (!(zoom >= ly->minzoom) || zoom >= ly->maxzoom))
        return false;
    lbs_ctx c;
    c.s = s;
    c.zoom = zoom;
    c.get = legend ? NULL : get;
    c.ud = ud;
    c.cached = 0;
    if (!legend && ly->filter != LBS_NONE) {
        lbs_val v;
        if (!lbs_eval(&c, ly->filter, &v) || v.t != LBS_T_BOOL || !v.u.num)
            return false;
    }
    const uint32_t *p = ly->prop;
    const lbs_color black = {0, 0, 0, 1};
    lbs_color col;
    switch (ly->type) {
    case LB_STYLE_FILL: {
        double op = eval_num(&c, p[LBS_P_FILL_OPACITY], 1, 0, 1);
        out->fill = to_rgba(eval_color(&c, p[LBS_P_FILL_COLOR], &col) ? col : black, op);
        if (eval_color(&c, p[LBS_P_FILL_OUTLINE_COLOR], &col)) {
            out->has_outline = true;
            out->outline = to_rgba(col, op);
        }
        return out->fill.a > 0 || (out->has_outline && out->outline.a > 0);
    }
    case LB_STYLE_LINE: {
        double op = eval_num(&c, p[LBS_P_LINE_OPACITY], 1, 0, 1);
        out->line = to_rgba(eval_color(&c, p[LBS_P_LINE_COLOR], &col) ? col : black, op);
        out->line_width = eval_num(&c, p[LBS_P_LINE_WIDTH], 1, 0, 1e6);
        out->join = (lb_join)eval_enum(&c, p[LBS_P_LINE_JOIN], join_names, LB_JOIN_MITER);
        out->cap = (lb_cap)eval_enum(&c, p[LBS_P_LINE_CAP], cap_names, LB_CAP_BUTT);
        out->miter_limit = eval_num(&c, p[LBS_P_LINE_MITER_LIMIT], 2, 0, 1e6);
        out->ndash = eval_dash(&c, p[LBS_P_LINE_DASHARRAY], out->dash);
        return out->line.a > 0 && out->line_width > 0;
    }
    case LB_STYLE_CIRCLE: {
        out->marker =
            (lb_marker)eval_enum(&c, p[LBS_P_CIRCLE_SHAPE], shape_names, LB_MARKER_CIRCLE);
        out->radius = eval_num(&c, p[LBS_P_CIRCLE_RADIUS], 5, 0, 1e6);
        double op = eval_num(&c, p[LBS_P_CIRCLE_OPACITY], 1, 0, 1);
        out->circle = to_rgba(eval_color(&c, p[LBS_P_CIRCLE_COLOR], &col) ? col : black, op);
        out->stroke_width = eval_num(&c, p[LBS_P_CIRCLE_STROKE_WIDTH], 0, 0, 1e6);
        double sop = eval_num(&c, p[LBS_P_CIRCLE_STROKE_OPACITY], 1, 0, 1);
        out->stroke =
            to_rgba(eval_color(&c, p[LBS_P_CIRCLE_STROKE_COLOR], &col) ? col : black, sop);
        return (out->circle.a > 0 && out->radius > 0) ||
               (out->stroke.a > 0 && out->stroke_width > 0);
    }
    }
    return false;
}

bool lb_style_eval(const lb_style *s, size_t i, double zoom, lb_prop_fn get, void *ud,
                   lb_paint *out)
{
    return eval_layer(s, i, zoom, get, ud, out, false);
}

bool lb_style_legend(const lb_style *s, size_t i, double zoom, lb_paint *out)
{
    return eval_layer(s, i, zoom, NULL, NULL, out, true);
}

/* whether expression n reads feature properties (get, has, legacy filters) */
static bool reads_feature(const lb_style *s, uint32_t n)
{
    if (n == LBS_NONE)
        return false;
    const lbs_node *nd = &s->nodes[n];
    if (nd->op == LBS_OP_GET || nd->op == LBS_OP_HAS || nd->op == LBS_OP_IN)
        return true;
    for (uint32_t k = 0; k < nd->nk; k++)
        if (reads_feature(s, s->kids[nd->k + k]))
            return true;
    return false;
}

bool lb_style_fill_may_be_opaque(const lb_style *s, size_t i, double zoom)
{
    if (!s || i >= s->nlayers || s->layers[i].type != LB_STYLE_FILL)
        return false;
    const uint32_t *p = s->layers[i].prop;
    if (reads_feature(s, p[LBS_P_FILL_COLOR]) || reads_feature(s, p[LBS_P_FILL_OPACITY]))
        return true; /* depends on the feature: maybe */
    /* the same for every feature at this zoom: a featureless evaluation
     * (ignoring filter and zoom range, which only decide whether it is
     * drawn) tells */
    lb_paint pt;
    return eval_layer(s, i, zoom, NULL, NULL, &pt, true) && pt.fill.a == 255;
}
