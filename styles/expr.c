/*
 * This file implements style expressions (the MapLibre syntax subset listed
 * in docs/styles.md): compiling the JSON tree of an expression or legacy
 * filter into nodes of the style's flat node array, and evaluating them.
 *
 * Compiling checks arity and types the way MapLibre does: every expression
 * gets a static type (a set of LBS_T_* bits; ["get", ...] can be anything)
 * and the context says what it must produce (a number for line-width, a
 * boolean for a filter, ...).  Types that cannot match are errors at load
 * time; values of unknown type are checked when evaluated, and a failed
 * check makes the property fall back to its default (a filter to false), as
 * in MapLibre.  String constants where a colour is needed are parsed once,
 * here.  Subtrees without get, has and zoom are evaluated once and replaced
 * by their value.
 *
 * Evaluation is a recursive walk over node indices with values on the
 * stack; nothing is allocated.  Match labels are sorted at load time and
 * found by binary search; interpolate/step stops likewise.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lagebild/util.h"
#include "styles_int.h"

/* ---- small helpers ---------------------------------------------------- */

static bool grow(lbs_compiler *c, void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, n * elem);
    if (!p) {
        c->oom = true;
        return false;
    }
    *arr = p;
    *cap = n;
    return true;
}

void *lbs_keep(lbs_compiler *c, void *p)
{
    lb_style *s = c->s;
    void *arr = s->allocs;
    if (!p || !grow(c, &arr, &s->capallocs, s->nallocs + 1, sizeof *s->allocs)) {
        c->oom = true;
        free(p);
        return NULL;
    }
    s->allocs = arr;
    s->allocs[s->nallocs++] = p;
    return p;
}

static const char *keep_str(lbs_compiler *c, const char *text)
{
    return lbs_keep(c, lb_strdup(text));
}

static uint32_t add_node(lbs_compiler *c, lbs_node n)
{
    lb_style *s = c->s;
    void *arr = s->nodes;
    if (s->nnodes >= UINT32_MAX - 1 ||
        !grow(c, &arr, &s->capnodes, s->nnodes + 1, sizeof *s->nodes))
        return LBS_NONE;
    s->nodes = arr;
    s->nodes[s->nnodes] = n;
    return (uint32_t)s->nnodes++;
}

/* Reserve n child slots; their start index goes to *k. */
static bool reserve_kids(lbs_compiler *c, size_t n, uint32_t *k)
{
    lb_style *s = c->s;
    void *arr = s->kids;
    if (!grow(c, &arr, &s->capkids, s->nkids + n, sizeof *s->kids))
        return false;
    s->kids = arr;
    *k = (uint32_t)s->nkids;
    for (size_t i = 0; i < n; i++)
        s->kids[s->nkids++] = LBS_NONE;
    return true;
}

static bool reserve_stops(lbs_compiler *c, size_t n, uint32_t *x)
{
    lb_style *s = c->s;
    void *arr = s->stops;
    if (!grow(c, &arr, &s->capstops, s->nstops + n, sizeof *s->stops))
        return false;
    s->stops = arr;
    *x = (uint32_t)s->nstops;
    s->nstops += n;
    return true;
}

static bool add_labels(lbs_compiler *c, const lbs_label *l, size_t n, uint32_t *x)
{
    lb_style *s = c->s;
    void *arr = s->labels;
    if (!grow(c, &arr, &s->caplabels, s->nlabels + n, sizeof *s->labels))
        return false;
    s->labels = arr;
    *x = (uint32_t)s->nlabels;
    if (n)
        memcpy(s->labels + s->nlabels, l, n * sizeof *l);
    s->nlabels += n;
    return true;
}

/* Index of property name in s->props, adding it; -1 on OOM. */
static int intern_prop(lbs_compiler *c, const char *name)
{
    lb_style *s = c->s;
    for (size_t i = 0; i < s->nprops; i++)
        if (strcmp(s->props[i], name) == 0)
            return (int)i;
    void *arr = s->props;
    if (s->nprops >= 65535 || !grow(c, &arr, &s->capprops, s->nprops + 1, sizeof *s->props))
        return -1;
    s->props = arr;
    char *p = lb_strdup(name);
    if (!p) {
        c->oom = true;
        return -1;
    }
    s->props[s->nprops] = p;
    return (int)s->nprops++;
}

static uint32_t fail(lbs_compiler *c, const lb_yaml_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static uint32_t fail(lbs_compiler *c, const lb_yaml_node *n, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lb_diag_add(c->diag, n ? n->line : 0, "%s: %s", c->where, msg);
    return LBS_NONE;
}

const char *lbs_type_name(unsigned t, char *buf, size_t n)
{
    static const char *const names[] = {"null", "number", "string", "boolean", "colour", "array"};
    t &= LBS_T_ANY;
    if (t == LBS_T_ANY)
        return "value";
    buf[0] = '\0';
    size_t len = 0;
    for (int i = 0; i < 6; i++) {
        if (!(t & (1u << i)))
            continue;
        int w = snprintf(buf + len, n - len, "%s%s", len ? " or " : "", names[i]);
        if (w < 0 || (size_t)w >= n - len)
            break;
        len += (size_t)w;
    }
    return buf;
}

/* ---- JSON values ------------------------------------------------------ */

bool lbs_json_number(const char *t, double *out, bool *out_of_range)
{
    *out_of_range = false;
    const char *p = t;
    if (*p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return false;
    for (const char *q = t; *q; q++)
        if (!(isdigit((unsigned char)*q) || *q == '-' || *q == '+' || *q == '.' || *q == 'e' ||
              *q == 'E'))
            return false;
    char *end;
    double v = strtod(t, &end);
    if (end == t || *end)
        return false;
    if (!isfinite(v)) {
        *out_of_range = true;
        return false;
    }
    *out = v;
    return true;
}

lbs_jkind lbs_jkind_of(const lb_yaml_node *n, double *num)
{
    double dummy;
    if (!num)
        num = &dummy;
    if (n->kind == LB_YAML_MAP)
        return LBS_J_OBJECT;
    if (n->kind == LB_YAML_SEQ)
        return LBS_J_LIST;
    if (n->quoted)
        return LBS_J_STR;
    if (n->null)
        return LBS_J_NULL;
    if (strcmp(n->text, "true") == 0 || strcmp(n->text, "false") == 0) {
        *num = n->text[0] == 't';
        return LBS_J_BOOL;
    }
    bool range;
    if (lbs_json_number(n->text, num, &range))
        return LBS_J_NUM;
    return LBS_J_STR; /* unquoted text: rejected by the loader before compiling */
}

lbs_shown lbs_describe(const lb_yaml_node *n)
{
    lbs_shown r;
    double v;
    switch (lbs_jkind_of(n, &v)) {
    case LBS_J_NULL: snprintf(r.s, sizeof r.s, "null"); break;
    case LBS_J_BOOL: snprintf(r.s, sizeof r.s, "%s", v ? "true" : "false"); break;
    case LBS_J_NUM: snprintf(r.s, sizeof r.s, "the number %.60s", n->text); break;
    case LBS_J_LIST: snprintf(r.s, sizeof r.s, "a list"); break;
    case LBS_J_OBJECT: snprintf(r.s, sizeof r.s, "an object"); break;
    case LBS_J_STR: {
        char t[84];
        size_t k = 0;
        for (const unsigned char *p = (const unsigned char *)n->text; *p && k < 80; p++)
            t[k++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
        t[k] = '\0';
        snprintf(r.s, sizeof r.s, "the string '%s%s'", t, strlen(n->text) > k ? "..." : "");
        break;
    }
    }
    return r;
}

static bool is_str(const lb_yaml_node *n)
{
    return lbs_jkind_of(n, NULL) == LBS_J_STR;
}

/* ---- literals --------------------------------------------------------- */

uint32_t lbs_add_literal(lbs_compiler *c, lbs_val v)
{
    return add_node(c, (lbs_node){.op = LBS_OP_LIT, .type = v.t, .v = v});
}

/* Does a value of static type have any chance in a context wanting want? */
static bool acceptable(unsigned want, unsigned have)
{
    unsigned w = want & LBS_T_ANY;
    if (want & LBS_X_ENUM)
        w |= LBS_T_STR;
    if (w & LBS_T_COLOR)
        w |= LBS_T_STR; /* strings are parsed as colours when evaluated */
    return (w & have) != 0;
}

static bool in_enum(const lbs_compiler *c, const char *s)
{
    for (size_t i = 0; c->enums && c->enums[i]; i++)
        if (strcmp(c->enums[i], s) == 0)
            return true;
    return false;
}

/* A string constant in a context wanting want. */
static uint32_t string_literal(lbs_compiler *c, const lb_yaml_node *n, unsigned want)
{
    if ((want & LBS_T_ANY) == LBS_T_COLOR) {
        lbs_color col;
        if (!lbs_parse_color(n->text, &col))
            return fail(c, n,
                        "%s is not a colour (use #rrggbb, #rgb, #rrggbbaa, rgb(), rgba(), hsl(), "
                        "hsla() or a CSS colour name)",
                        lbs_describe(n).s);
        return lbs_add_literal(c, (lbs_val){.t = LBS_T_COLOR, .u.col = col});
    }
    if (want & LBS_X_ENUM) {
        if (!in_enum(c, n->text))
            return fail(c, n, "%s is not one of %s", lbs_describe(n).s, c->enum_list);
    }
    const char *s = keep_str(c, n->text);
    if (!s)
        return LBS_NONE;
    return lbs_add_literal(c, (lbs_val){.t = LBS_T_STR, .u.str = s});
}

/* A list of numbers (line-dasharray, ["literal", [...]]). */
static uint32_t array_literal(lbs_compiler *c, const lb_yaml_node *n)
{
    if (n->nitems > 1000)
        return fail(c, n, "the list is too long (%zu numbers)", n->nitems);
    double *a = lbs_keep(c, malloc((n->nitems ? n->nitems : 1) * sizeof *a));
    if (!a)
        return LBS_NONE;
    for (size_t i = 0; i < n->nitems; i++)
        if (lbs_jkind_of(n->items[i], &a[i]) != LBS_J_NUM)
            return fail(c, n->items[i], "expected a number in the list, got %s",
                        lbs_describe(n->items[i]).s);
    return lbs_add_literal(c, (lbs_val){.t = LBS_T_ARRAY, .n = (uint16_t)n->nitems, .u.arr = a});
}

/* ---- value comparison (match labels, ==) ------------------------------ */

static int cmp_val(const lbs_val *a, const lbs_val *b)
{
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    switch (a->t) {
    case LBS_T_NUM:
    case LBS_T_BOOL: return a->u.num < b->u.num ? -1 : a->u.num > b->u.num;
    case LBS_T_STR: return strcmp(a->u.str, b->u.str);
    case LBS_T_COLOR: {
        const double *x = &a->u.col.r, *y = &b->u.col.r;
        for (int i = 0; i < 4; i++)
            if (x[i] != y[i])
                return x[i] < y[i] ? -1 : 1;
        return 0;
    }
    case LBS_T_ARRAY:
        if (a->n != b->n)
            return a->n < b->n ? -1 : 1;
        for (uint16_t i = 0; i < a->n; i++)
            if (a->u.arr[i] != b->u.arr[i])
                return a->u.arr[i] < b->u.arr[i] ? -1 : 1;
        return 0;
    default: return 0;
    }
}

/* ---- compiling expressions -------------------------------------------- */

typedef uint32_t (*op_compiler)(lbs_compiler *c, const lb_yaml_node *n, unsigned want, lbs_op op);

typedef struct opdef {
    const char *name;
    lbs_op op;
    int min, max; /* number of arguments after the name; max -1: any */
    op_compiler fn;
} opdef;

static uint32_t compile(lbs_compiler *c, const lb_yaml_node *n, unsigned want);

/* A node with children compiled from n->items[first..] each wanting want. */
static uint32_t with_kids(lbs_compiler *c, const lb_yaml_node *n, lbs_node node, size_t first,
                          unsigned want)
{
    size_t nk = n->nitems - first;
    if (!reserve_kids(c, nk, &node.k))
        return LBS_NONE;
    node.nk = (uint32_t)nk;
    for (size_t i = 0; i < nk; i++) {
        uint32_t k = compile(c, n->items[first + i], want);
        if (k == LBS_NONE)
            return LBS_NONE;
        c->s->kids[node.k + i] = k;
    }
    return add_node(c, node);
}

static const lbs_node *node_at(lbs_compiler *c, uint32_t i)
{
    return &c->s->nodes[i];
}

static uint32_t op_literal(lbs_compiler *c, const lb_yaml_node *n, unsigned want, lbs_op op)
{
    (void)op;
    const lb_yaml_node *a = n->items[1];
    double v;
    switch (lbs_jkind_of(a, &v)) {
    case LBS_J_NULL: return lbs_add_literal(c, (lbs_val){.t = LBS_T_NULL});
    case LBS_J_BOOL: return lbs_add_literal(c, (lbs_val){.t = LBS_T_BOOL, .u.num = v});
    case LBS_J_NUM: return lbs_add_literal(c, (lbs_val){.t = LBS_T_NUM, .u.num = v});
    case LBS_J_STR: return string_literal(c, a, want);
    case LBS_J_LIST: return array_literal(c, a);
    case LBS_J_OBJECT: break;
    }
    return fail(c, a, "\"literal\": objects are not supported");
}

static uint32_t op_get(lbs_compiler *c, const lb_yaml_node *n, unsigned want, lbs_op op)
{
    (void)want;
    if (n->nitems == 3)
        return fail(c, n->items[2], "\"%s\" with an object argument is not supported",
                    n->items[0]->text);
    const lb_yaml_node *a = n->items[1];
    if (!is_str(a))
        return fail(c, a, "\"%s\" needs a property name (a string), got %s", n->items[0]->text,
                    lbs_describe(a).s);
    int idx = intern_prop(c, a->text);
    if (idx < 0)
        return LBS_NONE;
    return add_node(c, (lbs_node){.op = (uint8_t)op,
                                  .type = op == LBS_OP_GET ? LBS_T_ANY : LBS_T_BOOL,
                                  .slot = (uint16_t)idx,
                                  .v = {.t = LBS_T_STR, .u.str = c->s->props[idx]}});
}

static uint32_t op_bools(lbs_compiler *c, const lb_yaml_node *n, unsigned want, lbs_op op)
{
    (void)want;
    return with_kids(c, n, (lbs_node){.op = (uint8_t)op, .type = LBS_T_BOOL}, 1, LBS_T_BOOL);
}

static uint32_t op_compare(lbs_compiler *c, const lb_yaml_node *n, unsigned want, lbs_op op)
{
    (void)want;
    const char *name = n->items[0]->text;
    if (n->nitems == 4)
        return fail(c, n->items[3], "\"%s\": collators are not supported", name);
    bool eq = op == LBS_OP_EQ || op == LBS_OP_NE;
    unsigned ok = eq ? (LBS_T_NULL | LBS_T_NUM | LBS_T_STR | LBS_T_BOOL) : (LBS_T_NUM | LBS_T_STR);
    uint32_t id = with_kids(c, n, (lbs_node){.op = (uint8_t)op, .type = LBS_T_BOOL}, 1, LBS_T_ANY);
    if (id == LBS_NONE)
        return LBS_NONE;
    const lbs_node *nd = node_at(c, id);
    unsigned ta = node_at(c, c->s->kids[nd->k])->type;
    unsigned tb = node_at(c, c->s->kids[nd->k + 1])->type;
    char b1[64], b2[64];
    for (int i = 0; i < 2; i++) {
        unsigned t = i ? tb : ta;
        if (!(t & ok))
            return fail(c, n->items[1 + i], "\"%s\" cannot compare a %s", name,
                        lbs_type_name(t, b1, sizeof b1));
    }
    bool single_a = (ta & (ta - 1)) == 0, single_b = (tb & (tb - 1)) == 0;
    if (single_a && single_b && ta != tb)
        return fail(c, n, "\"%s\" cannot compare a %s with a %s", name,
                    lbs_type_name(ta, b1, sizeof b1), lbs_type_name(tb, b2, sizeof b2));
    return id;
}

/* Static type of a set of output nodes. */
static unsigned union_type(lbs_compiler *c, uint32_t k, uint32_t from, uint32_t to)
{
    unsigned t = 0;
    for (uint32_t i = from; i < to; i++)
        t |= node_at(c, c->s->kids[k + i])->type;
    return t;
}

static uint32_t op_case(lbs_compiler *c, const lb_yaml_node *n, unsigned want, lbs_op op)
{
    size_t na = n->nitems - 1;
    if (na % 2 == 0)
        return fail(c, n,
                    "\"case\" needs condition/output pairs and a fallback (an odd number of "
                    "arguments), got %zu",
                    na);
    lbs_node node = {.op = (uint8_t)op, .nk = (uint32_t)na};
    if (!reserve_kids(c, na, &node.k))
        return LBS_NONE;
    for (size_t i = 0; i < na; i++) {
        bool cond = i % 2 == 0 && i + 1 < na;
        uint32_t k = compile(c, n->items[1 + i], cond ? LBS_T_BOOL : want);
        if (k == LBS_NONE)
            return LBS_NONE;
        c->s->kids[node.k + i] = k;
        if (!cond)
            node.type |= node_at(c, k)->type;
    }
    return add_node(c, node);
}

typedef struct tmp_label {
    lbs_label l;
    const lb_yaml_node *at;
} tmp_label;

static int cmp_tmp_label(const void *pa, const void *pb)
{
    const tmp_label *a = pa, *b = pb;
    return cmp_val(&a->l.v, &b->l.v);
}

/* One match label (or legacy "in" value): a string or number constant. */
static bool label_value(lbs_compiler *c, const lb_yaml_node *a, bool legacy, lbs_val *out)
{
    double v;
    switch (lbs_jkind_of(a, &v)) {
    case LBS_J_STR:
        out->t = LBS_T_STR;
        out->u.str = keep_str(c, a->text);
        return out->u.str != NULL;
    case LBS_J_NUM:
        if (!legacy && (v != floor(v) || fabs(v) > 9007199254740992.0)) {
            fail(c, a, "\"match\": numeric labels must be integers, got %s", a->text);
            return false;
        }
        *out = (lbs_val){.t = LBS_T_NUM, .u.num = v};
        return true;
    case LBS_J_BOOL:
        if (legacy) {
            *out = (lbs_val){.t = LBS_T_BOOL, .u.num = v};
            return true;
        }
        break;
    case LBS_J_NULL:
        if (legacy) {
            *out = (lbs_val){.t = LBS_T_NULL};
            return true;
        }
        break;
    default: break;
    }
    fail(c, a, "%s: labels must be strings or numbers, got %s",
         legacy ? "legacy filter" : "\"match\"", lbs_describe(a).s);
    return false;
}

/* Sort labels, reject duplicates and store them; *x receives their start. */
static bool store_labels(lbs_compiler *c, tmp_label *t, size_t n, const char *what, uint32_t *x)
{
    qsort(t, n, sizeof *t, cmp_tmp_label);
    for (size_t i = 1; i < n; i++) {
        if (cmp_val(&t[i - 1].l.v, &t[i].l.v) == 0) {
            fail(c, t[i].at, "%s: label %s appears more than once", what, lbs_describe(t[i].at).s);
            return false;
        }
    }
    lbs_label *l = malloc((n ? n : 1) * sizeof *l);
    if (!l) {
        c->oom = true;
        return false;
    }
    for (size_t i = 0; i < n; i++)
        l[i] = t[i].l;
    bool ok = add_labels(c, l, n, x);
    free(l);
    return ok;
}

static uint32_t op_match(lbs_compiler *c, const lb_yaml_node *n, unsigned want, lbs_op op)
{
    size_t na = n->nitems - 1;
    if (na % 2 != 0)
        return fail(c, n,
                    "\"match\" needs an input, label/output pairs and a fallback (an even "
                    "number of arguments), got %zu",
                    na);
    size_t nbranch = (na - 2) / 2;
    /* labels first: their type is what the input must be */
    size_t nlab = 0;
    for (size_t b = 0; b < nbranch; b++) {
        const lb_yaml_node *l = n->items[2 + 2 * b];
        if (l->kind == LB_YAML_SEQ) {
            if (l->nitems == 0)
                return fail(c, l, "\"match\": an empty list of labels");
            nlab += l->nitems;
        } else {
            nlab++;
        }
    }
    tmp_label *t = calloc(nlab ? nlab : 1, sizeof *t);
    if (!t) {
        c->oom = true;
        return LBS_NONE;
    }
    size_t k = 0;
    unsigned ltype = 0;
    for (size_t b = 0; b < nbranch; b++) {
        const lb_yaml_node *l = n->items[2 + 2 * b];
        size_t cnt = l->kind == LB_YAML_SEQ ? l->nitems : 1;
        for (size_t j = 0; j < cnt; j++) {
            const lb_yaml_node *a = l->kind == LB_YAML_SEQ ? l->items[j] : l;
            if (!label_value(c, a, false, &t[k].l.v)) {
                free(t);
                return LBS_NONE;
            }
            if (ltype && t[k].l.v.t != ltype) {
                char b1[32];
                free(t);
                return fail(c, a, "\"match\": all labels must have the same type (%s), got %s",
                            lbs_type_name(ltype, b1, sizeof b1), lbs_describe(a).s);
            }
            ltype = t[k].l.v.t;
            t[k].l.branch = (uint32_t)b;
            t[k].at = a;
            k++;
        }
    }
    lbs_node node = {.op = (uint8_t)op, .nk = (uint32_t)(nbranch + 2)};
    if (!store_labels(c, t, nlab, "\"match\"", &node.x)) {
        free(t);
        return LBS_NONE;
    }
    free(t);
    node.nx = (uint32_t)nlab;
    if (!reserve_kids(c, node.nk, &node.k))
        return LBS_NONE;
    /* kids: input, the branch outputs in order, fallback */
    uint32_t in = compile(c, n->items[1], ltype ? ltype : (LBS_T_STR | LBS_T_NUM));
    if (in == LBS_NONE)
        return LBS_NONE;
    c->s->kids[node.k] = in;
    for (size_t b = 0; b <= nbranch; b++) {
        const lb_yaml_node *o = b < nbranch ? n->items[3 + 2 * b] : n->items[na];
        uint32_t id = compile(c, o, want);
        if (id == LBS_NONE)
            return LBS_NONE;
        c->s->kids[node.k + 1 + b] = id;
    }
    node.type = (uint8_t)union_type(c, node.k, 1, node.nk);
    return add_node(c, node);
}

static uint32_t op_coalesce(lbs_compiler *c, const lb_yaml_node *n, unsigned want, lbs_op op)
{
    uint32_t id = with_kids(c, n, (lbs_node){.op = (uint8_t)op}, 1, want);
    if (id != LBS_NONE) {
        lbs_node *nd = &c->s->nodes[id];
        nd->type = (uint8_t)union_type(c, nd->k, 0, nd->nk);
    }
    return id;
}

static uint32_t op_convert(lbs_compiler *c, const lb_yaml_node *n, unsigned want, lbs_op op)
{
    (void)want;
    static const struct {
        lbs_op op;
        uint8_t type;
    } types[] = {{LBS_OP_TO_NUMBER, LBS_T_NUM},
                 {LBS_OP_TO_STRING, LBS_T_STR},
                 {LBS_OP_TO_BOOLEAN, LBS_T_BOOL},
                 {LBS_OP_TO_COLOR, LBS_T_COLOR}};
    lbs_node node = {.op = (uint8_t)op};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].op == op)
            node.type = types[i].type;
    if (op == LBS_OP_TO_STRING) {
        if (c->nslots >= LBS_SCRATCH_SLOTS)
            return fail(c, n, "too many \"to-string\" expressions in one style layer (at most %d)",
                        LBS_SCRATCH_SLOTS);
        node.slot = (uint16_t)c->nslots++;
    }
    return with_kids(c, n, node, 1, LBS_T_ANY);
}

static uint32_t op_assert(lbs_compiler *c, const lb_yaml_node *n, unsigned want, lbs_op op)
{
    (void)want;
    const char *name = n->items[0]->text;
    uint8_t t = strcmp(name, "number") == 0   ? LBS_T_NUM
                : strcmp(name, "string") == 0 ? LBS_T_STR
                                              : LBS_T_BOOL;
    return with_kids(c, n, (lbs_node){.op = (uint8_t)op, .type = t}, 1, LBS_T_ANY);
}

static uint32_t op_zoom(lbs_compiler *c, const lb_yaml_node *n, unsigned want, lbs_op op)
{
    (void)n;
    (void)want;
    return add_node(c, (lbs_node){.op = (uint8_t)op, .type = LBS_T_NUM});
}

static uint32_t op_math(lbs_compiler *c, const lb_yaml_node *n, unsigned want, lbs_op op)
{
    (void)want;
    return with_kids(c, n, (lbs_node){.op = (uint8_t)op, .type = LBS_T_NUM}, 1, LBS_T_NUM);
}

/* Stop inputs of interpolate/step: numeric constants, strictly ascending. */
static bool stop_input(lbs_compiler *c, const char *what, const lb_yaml_node *a, double prev,
                       bool first, double *out)
{
    if (lbs_jkind_of(a, out) != LBS_J_NUM) {
        fail(c, a, "\"%s\": stop inputs must be numbers, got %s", what, lbs_describe(a).s);
        return false;
    }
    if (!first && !(*out > prev)) {
        fail(c, a, "\"%s\": stop inputs must be strictly ascending (%s after %.17g)", what, a->text,
             prev);
        return false;
    }
    return true;
}

static uint32_t op_step(lbs_compiler *c, const lb_yaml_node *n, unsigned want, lbs_op op)
{
    size_t na = n->nitems - 1;
    if (na % 2 != 0)
        return fail(c, n,
                    "\"step\" needs an input, a first output and stop/output pairs (an even "
                    "number of arguments), got %zu",
                    na);
    size_t nstops = (na - 2) / 2;
    lbs_node node = {.op = (uint8_t)op, .nk = (uint32_t)(nstops + 2), .nx = (uint32_t)nstops};
    if (!reserve_kids(c, node.nk, &node.k) || !reserve_stops(c, nstops, &node.x))
        return LBS_NONE;
    uint32_t in = compile(c, n->items[1], LBS_T_NUM);
    if (in == LBS_NONE)
        return LBS_NONE;
    c->s->kids[node.k] = in;
    for (size_t i = 0; i <= nstops; i++) {
        if (i > 0) {
            double v;
            if (!stop_input(c, "step", n->items[2 * i + 1], i > 1 ? c->s->stops[node.x + i - 2] : 0,
                            i == 1, &v))
                return LBS_NONE;
            c->s->stops[node.x + i - 1] = v;
        }
        uint32_t o = compile(c, n->items[2 + 2 * i], want);
        if (o == LBS_NONE)
            return LBS_NONE;
        c->s->kids[node.k + 1 + i] = o;
    }
    node.type = (uint8_t)union_type(c, node.k, 1, node.nk);
    return add_node(c, node);
}

static uint32_t op_interpolate(lbs_compiler *c, const lb_yaml_node *n, unsigned want, lbs_op op)
{
    size_t na = n->nitems - 1;
    if (na % 2 != 0)
        return fail(c, n,
                    "\"interpolate\" needs an interpolation type, an input and stop/output pairs "
                    "(an even number of arguments), got %zu",
                    na);
    lbs_node node = {.op = (uint8_t)op};
    const lb_yaml_node *it = n->items[1];
    if (it->kind != LB_YAML_SEQ || it->nitems == 0 || !is_str(it->items[0]))
        return fail(c, it,
                    "\"interpolate\": the interpolation type must be [\"linear\"] or "
                    "[\"exponential\", base], got %s",
                    lbs_describe(it).s);
    const char *kind = it->items[0]->text;
    if (strcmp(kind, "linear") == 0) {
        if (it->nitems != 1)
            return fail(c, it, "\"interpolate\": [\"linear\"] takes no arguments");
    } else if (strcmp(kind, "exponential") == 0) {
        if (it->nitems != 2 || lbs_jkind_of(it->items[1], &node.base) != LBS_J_NUM)
            return fail(c, it, "\"interpolate\": [\"exponential\", base] needs a number base");
        if (!(node.base > 0))
            return fail(c, it->items[1], "\"interpolate\": the exponential base must be > 0");
        node.flags = LBS_F_EXP;
    } else {
        return fail(c, it->items[0],
                    "\"interpolate\": interpolation type '%s' is not supported (linear, "
                    "exponential)",
                    kind);
    }
    unsigned out = want & (LBS_T_NUM | LBS_T_COLOR);
    if (!out) {
        char b[64];
        return fail(
            c, n, "\"interpolate\" produces numbers or colours, but a %s is needed here",
            lbs_type_name((want & LBS_T_ANY) | (want & LBS_X_ENUM ? LBS_T_STR : 0), b, sizeof b));
    }
    size_t nstops = (na - 2) / 2;
    node.nk = (uint32_t)(nstops + 1);
    node.nx = (uint32_t)nstops;
    if (!reserve_kids(c, node.nk, &node.k) || !reserve_stops(c, nstops, &node.x))
        return LBS_NONE;
    uint32_t in = compile(c, n->items[2], LBS_T_NUM);
    if (in == LBS_NONE)
        return LBS_NONE;
    c->s->kids[node.k] = in;
    for (size_t i = 0; i < nstops; i++) {
        double v;
        if (!stop_input(c, "interpolate", n->items[3 + 2 * i], i ? c->s->stops[node.x + i - 1] : 0,
                        i == 0, &v))
            return LBS_NONE;
        c->s->stops[node.x + i] = v;
        uint32_t o = compile(c, n->items[4 + 2 * i], out);
        if (o == LBS_NONE)
            return LBS_NONE;
        c->s->kids[node.k + 1 + i] = o;
    }
    if (out == (LBS_T_NUM | LBS_T_COLOR)) {
        /* no type from the context: the outputs decide */
        bool num = false, col = false;
        for (uint32_t i = 1; i < node.nk; i++) {
            unsigned t = node_at(c, c->s->kids[node.k + i])->type;
            num |= t == LBS_T_NUM;
            col |= t == LBS_T_COLOR || t == LBS_T_STR;
        }
        if (num && col)
            return fail(c, n, "\"interpolate\": outputs must be all numbers or all colours");
        out = num ? LBS_T_NUM : col ? LBS_T_COLOR : out;
    }
    node.type = (uint8_t)out;
    return add_node(c, node);
}

static const opdef ops[] = {
    {"literal", LBS_OP_LIT, 1, 1, op_literal},
    {"get", LBS_OP_GET, 1, 2, op_get},
    {"has", LBS_OP_HAS, 1, 2, op_get},
    {"!", LBS_OP_NOT, 1, 1, op_bools},
    {"==", LBS_OP_EQ, 2, 3, op_compare},
    {"!=", LBS_OP_NE, 2, 3, op_compare},
    {"<", LBS_OP_LT, 2, 3, op_compare},
    {"<=", LBS_OP_LE, 2, 3, op_compare},
    {">", LBS_OP_GT, 2, 3, op_compare},
    {">=", LBS_OP_GE, 2, 3, op_compare},
    {"all", LBS_OP_ALL, 0, -1, op_bools},
    {"any", LBS_OP_ANY, 0, -1, op_bools},
    {"case", LBS_OP_CASE, 3, -1, op_case},
    {"match", LBS_OP_MATCH, 4, -1, op_match},
    {"coalesce", LBS_OP_COALESCE, 1, -1, op_coalesce},
    {"to-number", LBS_OP_TO_NUMBER, 1, -1, op_convert},
    {"to-string", LBS_OP_TO_STRING, 1, 1, op_convert},
    {"to-boolean", LBS_OP_TO_BOOLEAN, 1, 1, op_convert},
    {"to-color", LBS_OP_TO_COLOR, 1, -1, op_convert},
    {"number", LBS_OP_ASSERT, 1, -1, op_assert},
    {"string", LBS_OP_ASSERT, 1, -1, op_assert},
    {"boolean", LBS_OP_ASSERT, 1, -1, op_assert},
    {"zoom", LBS_OP_ZOOM, 0, 0, op_zoom},
    {"interpolate", LBS_OP_INTERP, 4, -1, op_interpolate},
    {"step", LBS_OP_STEP, 4, -1, op_step},
    {"+", LBS_OP_ADD, 2, -1, op_math},
    {"-", LBS_OP_SUB, 1, 2, op_math},
    {"*", LBS_OP_MUL, 2, -1, op_math},
    {"/", LBS_OP_DIV, 2, 2, op_math},
    {"%", LBS_OP_MOD, 2, 2, op_math},
    {"^", LBS_OP_POW, 2, 2, op_math},
    {"min", LBS_OP_MIN, 1, -1, op_math},
    {"max", LBS_OP_MAX, 1, -1, op_math},
    {"abs", LBS_OP_ABS, 1, 1, op_math},
    {"floor", LBS_OP_FLOOR, 1, 1, op_math},
    {"ceil", LBS_OP_CEIL, 1, 1, op_math},
    {"round", LBS_OP_ROUND, 1, 1, op_math},
};

/* MapLibre operators that are deliberately left out (a clearer message than "unknown"). */
/* clang-format off */
static const char *const unsupported_ops[] = {
    "let", "var", "at", "in", "index-of", "slice", "length", "concat", "downcase", "upcase",
    "format", "image", "number-format", "collator", "resolved-locale", "is-supported-script",
    "interpolate-hcl", "interpolate-lab", "typeof", "object", "array", "rgb", "rgba", "to-rgba",
    "properties", "feature-state", "geometry-type", "id", "line-progress", "heatmap-density",
    "accumulated", "distance", "within", "global-state", "sqrt", "ln", "ln2", "log10", "log2",
    "e", "pi", "sin", "cos", "tan", "asin", "acos", "atan", NULL};
/* clang-format on */

static bool foldable(const lbs_compiler *c, uint32_t id)
{
    const lbs_node *n = &c->s->nodes[id];
    switch (n->op) {
    case LBS_OP_LIT:
    case LBS_OP_GET:
    case LBS_OP_HAS:
    case LBS_OP_ZOOM:
    case LBS_OP_TO_STRING: /* its text lives in per-call scratch space */ return false;
    default: break;
    }
    for (uint32_t i = 0; i < n->nk; i++)
        if (c->s->nodes[c->s->kids[n->k + i]].op != LBS_OP_LIT)
            return false;
    return true;
}

/* Replace a constant subtree by its value (when it evaluates without error). */
static void fold(lbs_compiler *c, uint32_t id)
{
    if (!foldable(c, id))
        return;
    lbs_ctx *ctx = malloc(sizeof *ctx);
    if (!ctx)
        return; /* folding is only an optimisation */
    ctx->s = c->s;
    ctx->zoom = 0;
    ctx->get = NULL;
    ctx->ud = NULL;
    ctx->cached = 0;
    lbs_val v;
    if (lbs_eval(ctx, id, &v)) {
        lbs_node *n = &c->s->nodes[id];
        *n = (lbs_node){.op = LBS_OP_LIT, .type = v.t, .v = v};
    }
    free(ctx);
}

static uint32_t compile_list(lbs_compiler *c, const lb_yaml_node *n, unsigned want)
{
    if (want == LBS_T_ARRAY && (n->nitems == 0 || !is_str(n->items[0])))
        return array_literal(c, n);
    if (n->nitems == 0)
        return fail(c, n,
                    "an empty list is not an expression (for an empty array use "
                    "[\"literal\", []])");
    const lb_yaml_node *opn = n->items[0];
    if (!is_str(opn))
        return fail(c, opn,
                    "expected an expression [\"operator\", ...], but the list starts with %s "
                    "(for a constant list use [\"literal\", [...]])",
                    lbs_describe(opn).s);
    const char *name = opn->text;
    const opdef *d = NULL;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, name) == 0)
            d = &ops[i];
    if (!d) {
        if (strcmp(name, "!has") == 0 || strcmp(name, "!in") == 0 || strcmp(name, "none") == 0)
            return fail(c, opn,
                        "\"%s\" is only valid in a legacy filter (use [\"!\", ...] in "
                        "expressions)",
                        name);
        for (size_t i = 0; unsupported_ops[i]; i++)
            if (strcmp(unsupported_ops[i], name) == 0)
                return fail(c, opn,
                            "expression operator \"%s\" is not supported (see docs/styles.md)",
                            name);
        return fail(c, opn, "unknown expression operator \"%.60s\"", name);
    }
    size_t na = n->nitems - 1;
    if ((int)na < d->min || (d->max >= 0 && (int)na > d->max)) {
        if (d->min == d->max)
            return fail(c, n, "\"%s\" expects %d argument%s, got %zu", name, d->min,
                        d->min == 1 ? "" : "s", na);
        if (d->max < 0)
            return fail(c, n, "\"%s\" expects at least %d argument%s, got %zu", name, d->min,
                        d->min == 1 ? "" : "s", na);
        return fail(c, n, "\"%s\" expects %d to %d arguments, got %zu", name, d->min, d->max, na);
    }
    uint32_t id = d->fn(c, n, want, d->op);
    if (id == LBS_NONE)
        return LBS_NONE;
    fold(c, id);
    return id;
}

static uint32_t compile(lbs_compiler *c, const lb_yaml_node *n, unsigned want)
{
    if (c->oom)
        return LBS_NONE;
    uint32_t id;
    double v;
    switch (lbs_jkind_of(n, &v)) {
    case LBS_J_NULL: id = lbs_add_literal(c, (lbs_val){.t = LBS_T_NULL}); break;
    case LBS_J_BOOL: id = lbs_add_literal(c, (lbs_val){.t = LBS_T_BOOL, .u.num = v}); break;
    case LBS_J_NUM: id = lbs_add_literal(c, (lbs_val){.t = LBS_T_NUM, .u.num = v}); break;
    case LBS_J_STR: id = string_literal(c, n, want); break;
    case LBS_J_LIST: id = compile_list(c, n, want); break;
    case LBS_J_OBJECT:
    default:
        if (lb_yaml_get(n, "stops"))
            return fail(c, n,
                        "property functions ({\"stops\": ...}) are not supported: use an "
                        "\"interpolate\" or \"step\" expression");
        return fail(c, n, "an object is not a valid value here");
    }
    if (id == LBS_NONE)
        return LBS_NONE;
    unsigned have = c->s->nodes[id].type;
    if (!acceptable(want, have)) {
        char b1[64], b2[64];
        unsigned w = want & LBS_T_ANY;
        if (want & LBS_X_ENUM)
            w |= LBS_T_STR;
        if (n->kind == LB_YAML_SEQ)
            return fail(c, n, "expected a %s, but \"%s\" produces a %s",
                        lbs_type_name(w, b1, sizeof b1), n->items[0]->text,
                        lbs_type_name(have, b2, sizeof b2));
        return fail(c, n, "expected a %s, got %s", lbs_type_name(w, b1, sizeof b1),
                    lbs_describe(n).s);
    }
    return id;
}

uint32_t lbs_compile(lbs_compiler *c, const lb_yaml_node *n, unsigned want)
{
    return compile(c, n, want);
}

/* ---- legacy filters --------------------------------------------------- */

/* MapLibre's rule for telling an expression filter from a legacy one. */
static bool is_expression_filter(const lb_yaml_node *f)
{
    double v;
    lbs_jkind k = lbs_jkind_of(f, &v);
    if (k == LBS_J_BOOL)
        return true;
    if (k != LBS_J_LIST || f->nitems == 0 || !is_str(f->items[0]))
        return false;
    const char *op = f->items[0]->text;
    size_t n = f->nitems;
    if (strcmp(op, "has") == 0)
        return n >= 2 && !(is_str(f->items[1]) && (strcmp(f->items[1]->text, "$id") == 0 ||
                                                   strcmp(f->items[1]->text, "$type") == 0));
    if (strcmp(op, "in") == 0)
        return n >= 3 && (!is_str(f->items[1]) || f->items[2]->kind == LB_YAML_SEQ);
    if (strcmp(op, "!in") == 0 || strcmp(op, "!has") == 0 || strcmp(op, "none") == 0)
        return false;
    if (strcmp(op, "==") == 0 || strcmp(op, "!=") == 0 || strcmp(op, "<") == 0 ||
        strcmp(op, "<=") == 0 || strcmp(op, ">") == 0 || strcmp(op, ">=") == 0)
        return n != 3 || f->items[1]->kind == LB_YAML_SEQ || f->items[2]->kind == LB_YAML_SEQ;
    if (strcmp(op, "any") == 0 || strcmp(op, "all") == 0) {
        for (size_t i = 1; i < n; i++)
            if (!is_expression_filter(f->items[i]))
                return false;
        return true;
    }
    return true;
}

/* The property key of a legacy filter, interned into a GET/HAS node. */
static uint32_t legacy_key(lbs_compiler *c, const lb_yaml_node *k, lbs_op op)
{
    if (!is_str(k))
        return fail(c, k,
                    "legacy filter: expected a property name, got %s (a legacy filter cannot "
                    "contain expressions)",
                    lbs_describe(k).s);
    if (strcmp(k->text, "$type") == 0 || strcmp(k->text, "$id") == 0)
        return fail(c, k,
                    "legacy filter: '%s' is not supported (the style layer type selects the "
                    "geometry: fill for polygons, line for lines, circle for points)",
                    k->text);
    int idx = intern_prop(c, k->text);
    if (idx < 0)
        return LBS_NONE;
    return add_node(c, (lbs_node){.op = (uint8_t)op,
                                  .type = op == LBS_OP_GET ? LBS_T_ANY : LBS_T_BOOL,
                                  .slot = (uint16_t)idx,
                                  .v = {.t = LBS_T_STR, .u.str = c->s->props[idx]}});
}

static uint32_t negate(lbs_compiler *c, uint32_t id)
{
    if (id == LBS_NONE)
        return LBS_NONE;
    lbs_node node = {.op = LBS_OP_NOT, .type = LBS_T_BOOL, .nk = 1};
    if (!reserve_kids(c, 1, &node.k))
        return LBS_NONE;
    c->s->kids[node.k] = id;
    return add_node(c, node);
}

static uint32_t compile_legacy(lbs_compiler *c, const lb_yaml_node *f)
{
    double v;
    lbs_jkind k = lbs_jkind_of(f, &v);
    if (k == LBS_J_BOOL)
        return lbs_add_literal(c, (lbs_val){.t = LBS_T_BOOL, .u.num = v});
    if (k != LBS_J_LIST || f->nitems == 0 || !is_str(f->items[0]))
        return fail(c, f, "a filter must be true, false, an expression or a legacy filter, got %s",
                    lbs_describe(f).s);
    const char *op = f->items[0]->text;
    size_t na = f->nitems - 1;
    if (strcmp(op, "has") == 0 || strcmp(op, "!has") == 0) {
        if (na != 1)
            return fail(c, f, "legacy filter \"%s\" expects 1 argument, got %zu", op, na);
        uint32_t id = legacy_key(c, f->items[1], LBS_OP_HAS);
        return op[0] == '!' ? negate(c, id) : id;
    }
    static const struct {
        const char *name;
        lbs_op op;
    } cmp[] = {{"==", LBS_OP_EQ}, {"!=", LBS_OP_NE}, {"<", LBS_OP_LT},
               {"<=", LBS_OP_LE}, {">", LBS_OP_GT},  {">=", LBS_OP_GE}};
    for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++) {
        if (strcmp(op, cmp[i].name) != 0)
            continue;
        if (na != 2)
            return fail(c, f, "legacy filter \"%s\" expects 2 arguments, got %zu", op, na);
        const lb_yaml_node *val = f->items[2];
        lbs_jkind vk = lbs_jkind_of(val, &v);
        bool eq = cmp[i].op == LBS_OP_EQ || cmp[i].op == LBS_OP_NE;
        if (vk == LBS_J_LIST || vk == LBS_J_OBJECT || (!eq && vk != LBS_J_NUM && vk != LBS_J_STR))
            return fail(c, val, "legacy filter \"%s\": cannot compare with %s", op,
                        lbs_describe(val).s);
        lbs_node node = {
            .op = (uint8_t)cmp[i].op, .type = LBS_T_BOOL, .flags = LBS_F_LEGACY, .nk = 2};
        if (!reserve_kids(c, 2, &node.k))
            return LBS_NONE;
        uint32_t a = legacy_key(c, f->items[1], LBS_OP_GET);
        uint32_t b = a == LBS_NONE ? LBS_NONE : compile(c, val, LBS_T_ANY);
        if (b == LBS_NONE)
            return LBS_NONE;
        c->s->kids[node.k] = a;
        c->s->kids[node.k + 1] = b;
        return add_node(c, node);
    }
    if (strcmp(op, "in") == 0 || strcmp(op, "!in") == 0) {
        if (na < 1)
            return fail(c, f, "legacy filter \"%s\" needs a property name", op);
        lbs_node node = {
            .op = LBS_OP_IN, .type = LBS_T_BOOL, .nk = 1, .flags = op[0] == '!' ? LBS_F_NEGATE : 0};
        if (!reserve_kids(c, 1, &node.k))
            return LBS_NONE;
        uint32_t key = legacy_key(c, f->items[1], LBS_OP_GET);
        if (key == LBS_NONE)
            return LBS_NONE;
        c->s->kids[node.k] = key;
        tmp_label *t = calloc(na, sizeof *t);
        if (!t) {
            c->oom = true;
            return LBS_NONE;
        }
        for (size_t i = 0; i + 1 < na; i++) {
            t[i].at = f->items[2 + i];
            if (!label_value(c, t[i].at, true, &t[i].l.v)) {
                free(t);
                return LBS_NONE;
            }
        }
        bool ok = store_labels(c, t, na - 1, "legacy filter \"in\"", &node.x);
        free(t);
        if (!ok)
            return LBS_NONE;
        node.nx = (uint32_t)(na - 1);
        return add_node(c, node);
    }
    if (strcmp(op, "all") == 0 || strcmp(op, "any") == 0 || strcmp(op, "none") == 0) {
        lbs_node node = {
            .op = op[1] == 'l' ? LBS_OP_ALL : LBS_OP_ANY, .type = LBS_T_BOOL, .nk = (uint32_t)na};
        if (!reserve_kids(c, na, &node.k))
            return LBS_NONE;
        for (size_t i = 0; i < na; i++) {
            uint32_t id = compile_legacy(c, f->items[1 + i]);
            if (id == LBS_NONE)
                return LBS_NONE;
            c->s->kids[node.k + i] = id;
        }
        uint32_t id = add_node(c, node);
        return op[0] == 'n' ? negate(c, id) : id;
    }
    return fail(c, f->items[0], "unknown legacy filter operator \"%s\"", op);
}

uint32_t lbs_compile_filter(lbs_compiler *c, const lb_yaml_node *n)
{
    if (is_expression_filter(n))
        return compile(c, n, LBS_T_BOOL);
    return compile_legacy(c, n);
}

/* ---- evaluation ------------------------------------------------------- */

static lbs_val get_prop(lbs_ctx *c, const lbs_node *n)
{
    lb_value pv;
    unsigned slot = n->slot;
    if (!c->get) {
        pv.type = LB_VAL_NULL;
    } else if (slot < LBS_CACHE && (c->cached >> slot & 1)) {
        pv = c->cache[slot];
    } else {
        pv = c->get(c->ud, n->v.u.str);
        if (slot < LBS_CACHE) {
            c->cache[slot] = pv;
            c->cached |= (uint64_t)1 << slot;
        }
    }
    switch (pv.type) {
    case LB_VAL_NUM: return (lbs_val){.t = LBS_T_NUM, .u.num = pv.num};
    case LB_VAL_BOOL: return (lbs_val){.t = LBS_T_BOOL, .u.num = pv.num != 0};
    case LB_VAL_STR:
        if (pv.str)
            return (lbs_val){.t = LBS_T_STR, .u.str = pv.str};
        break;
    default: break;
    }
    return (lbs_val){.t = LBS_T_NULL};
}

static bool eval_bool(lbs_ctx *c, uint32_t i, bool *out)
{
    lbs_val v;
    if (!lbs_eval(c, i, &v) || v.t != LBS_T_BOOL)
        return false;
    *out = v.u.num != 0;
    return true;
}

static bool eval_num(lbs_ctx *c, uint32_t i, double *out)
{
    lbs_val v;
    if (!lbs_eval(c, i, &v) || v.t != LBS_T_NUM)
        return false;
    *out = v.u.num;
    return true;
}

/* JavaScript's Number(string), for finite decimal numbers. */
static bool str_to_num(const char *s, double *out)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len == 0) {
        *out = 0;
        return true;
    }
    char buf[64];
    if (len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    const char *p = buf + (buf[0] == '-' || buf[0] == '+');
    if (!(isdigit((unsigned char)*p) || *p == '.'))
        return false; /* no "inf", "nan" */
    char *end;
    double v = strtod(buf, &end);
    if (*end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/*
 * v as JavaScript's String(v) writes it, as MapLibre's to-string does: the
 * shortest digits that read back as v, in plain notation for exponents
 * -7 < e < 21 ("0.000001", "100000000000000000000"), else "1.5e-7", "1e+21".
 */
static void num_to_str(double v, char *buf, size_t n)
{
    if (isnan(v) || isinf(v) || v == 0) {
        snprintf(buf, n, "%s",
                 isnan(v)   ? "NaN"
                 : isinf(v) ? (v < 0 ? "-Infinity" : "Infinity")
                            : "0");
        return;
    }
    char e[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    /* e is "[-]d[.ddd]e[+-]xx" */
    bool neg = e[0] == '-';
    char digits[24];
    int nd = 0;
    const char *p = e + neg;
    for (; *p && *p != 'e'; p++)
        if (isdigit((unsigned char)*p) && nd < 20)
            digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    char out[64];
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    if (exp >= 21 || exp <= -7) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++)
                out[o++] = digits[i];
        }
        snprintf(out + o, sizeof out - o, "e%c%d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp >= 0) {
        for (int i = 0; i <= exp; i++)
            out[o++] = i < nd ? digits[i] : '0';
        if (nd > exp + 1) {
            out[o++] = '.';
            for (int i = exp + 1; i < nd; i++)
                out[o++] = digits[i];
        }
        out[o] = '\0';
    } else {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -exp - 1; i++)
            out[o++] = '0';
        for (int i = 0; i < nd; i++)
            out[o++] = digits[i];
        out[o] = '\0';
    }
    snprintf(buf, n, "%s", out);
}

bool lbs_coerce(lbs_val *v, unsigned want)
{
    if (v->t & want)
        return true;
    if ((want & LBS_T_COLOR) && v->t == LBS_T_STR) {
        lbs_color col;
        if (!lbs_parse_color(v->u.str, &col))
            return false;
        *v = (lbs_val){.t = LBS_T_COLOR, .u.col = col};
        return true;
    }
    return false;
}

static lbs_color lerp_color(lbs_color a, lbs_color b, double t)
{
    /* premultiplied, as MapLibre does: a transparent end does not tint the result */
    double pa[4] = {a.r * a.a, a.g * a.a, a.b * a.a, a.a};
    double pb[4] = {b.r * b.a, b.g * b.a, b.b * b.a, b.a};
    double r[4];
    for (int i = 0; i < 4; i++)
        r[i] = pa[i] + (pb[i] - pa[i]) * t;
    if (r[3] <= 0)
        return (lbs_color){0, 0, 0, 0};
    return (lbs_color){r[0] / r[3], r[1] / r[3], r[2] / r[3], r[3]};
}

/* Index of the last stop <= x among n ascending stops, -1 if x is below all. */
static long find_stop(const double *stops, uint32_t n, double x)
{
    long lo = 0, hi = (long)n - 1, best = -1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (stops[mid] <= x) {
            best = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return best;
}

static const lbs_label *find_label(const lb_style *s, const lbs_node *n, const lbs_val *key)
{
    if (key->t == LBS_T_NUM && isnan(key->u.num))
        return NULL;
    if (n->nx == 0)
        return NULL; /* also: labels may be NULL, and NULL + 0 is undefined */
    const lbs_label *l = s->labels + n->x;
    size_t lo = 0, hi = n->nx;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int d = cmp_val(key, &l[mid].v);
        if (d == 0)
            return &l[mid];
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static bool values_equal(const lbs_val *a, const lbs_val *b)
{
    if (a->t != b->t)
        return false;
    if (a->t == LBS_T_NUM)
        return a->u.num == b->u.num; /* NaN != NaN */
    return cmp_val(a, b) == 0;
}

bool lbs_eval(lbs_ctx *c, uint32_t i, lbs_val *out)
{
    const lb_style *s = c->s;
    const lbs_node *n = &s->nodes[i];
    /* A style without any child nodes has kids == NULL; NULL + 0 is undefined. */
    const uint32_t *kid = s->kids ? s->kids + n->k : NULL;
    switch ((lbs_op)n->op) {
    case LBS_OP_LIT: *out = n->v; return true;
    case LBS_OP_GET: *out = get_prop(c, n); return true;
    case LBS_OP_HAS:
        *out = (lbs_val){.t = LBS_T_BOOL, .u.num = get_prop(c, n).t != LBS_T_NULL};
        return true;
    case LBS_OP_NOT: {
        bool b;
        if (!eval_bool(c, kid[0], &b))
            return false;
        *out = (lbs_val){.t = LBS_T_BOOL, .u.num = !b};
        return true;
    }
    case LBS_OP_EQ:
    case LBS_OP_NE: {
        lbs_val a, b;
        if (!lbs_eval(c, kid[0], &a) || !lbs_eval(c, kid[1], &b))
            return false;
        bool eq = values_equal(&a, &b);
        *out = (lbs_val){.t = LBS_T_BOOL, .u.num = n->op == LBS_OP_EQ ? eq : !eq};
        return true;
    }
    case LBS_OP_LT:
    case LBS_OP_LE:
    case LBS_OP_GT:
    case LBS_OP_GE: {
        lbs_val a, b;
        if (!lbs_eval(c, kid[0], &a) || !lbs_eval(c, kid[1], &b))
            return false;
        int d;
        if (a.t == LBS_T_NUM && b.t == LBS_T_NUM) {
            if (isnan(a.u.num) || isnan(b.u.num)) {
                *out = (lbs_val){.t = LBS_T_BOOL, .u.num = 0};
                return true;
            }
            d = a.u.num < b.u.num ? -1 : a.u.num > b.u.num;
        } else if (a.t == LBS_T_STR && b.t == LBS_T_STR) {
            d = strcmp(a.u.str, b.u.str);
        } else if (n->flags & LBS_F_LEGACY) {
            *out = (lbs_val){.t = LBS_T_BOOL, .u.num = 0};
            return true;
        } else {
            return false;
        }
        bool r = n->op == LBS_OP_LT   ? d < 0
                 : n->op == LBS_OP_LE ? d <= 0
                 : n->op == LBS_OP_GT ? d > 0
                                      : d >= 0;
        *out = (lbs_val){.t = LBS_T_BOOL, .u.num = r};
        return true;
    }
    case LBS_OP_ALL:
    case LBS_OP_ANY: {
        bool want = n->op == LBS_OP_ANY; /* the value that decides */
        for (uint32_t k = 0; k < n->nk; k++) {
            bool b;
            if (!eval_bool(c, kid[k], &b))
                return false;
            if (b == want) {
                *out = (lbs_val){.t = LBS_T_BOOL, .u.num = want};
                return true;
            }
        }
        *out = (lbs_val){.t = LBS_T_BOOL, .u.num = !want};
        return true;
    }
    case LBS_OP_CASE:
        for (uint32_t k = 0; k + 1 < n->nk; k += 2) {
            bool b;
            if (!eval_bool(c, kid[k], &b))
                return false;
            if (b)
                return lbs_eval(c, kid[k + 1], out);
        }
        return lbs_eval(c, kid[n->nk - 1], out);
    case LBS_OP_MATCH: {
        lbs_val in;
        if (!lbs_eval(c, kid[0], &in))
            return false;
        const lbs_label *l =
            (in.t == LBS_T_STR || in.t == LBS_T_NUM) ? find_label(s, n, &in) : NULL;
        return lbs_eval(c, l ? kid[1 + l->branch] : kid[n->nk - 1], out);
    }
    case LBS_OP_IN: {
        lbs_val in;
        if (!lbs_eval(c, kid[0], &in))
            return false;
        bool found = find_label(s, n, &in) != NULL;
        *out = (lbs_val){.t = LBS_T_BOOL, .u.num = (n->flags & LBS_F_NEGATE) ? !found : found};
        return true;
    }
    case LBS_OP_COALESCE:
        for (uint32_t k = 0; k < n->nk; k++) {
            if (!lbs_eval(c, kid[k], out))
                return false;
            if (out->t != LBS_T_NULL)
                return true;
        }
        return true; /* null */
    case LBS_OP_TO_NUMBER:
        for (uint32_t k = 0; k < n->nk; k++) {
            lbs_val v;
            if (!lbs_eval(c, kid[k], &v))
                return false;
            double d;
            switch (v.t) {
            case LBS_T_NULL: d = 0; break;
            case LBS_T_NUM:
            case LBS_T_BOOL: d = v.u.num; break;
            case LBS_T_STR:
                if (!str_to_num(v.u.str, &d))
                    continue;
                break;
            default: continue;
            }
            *out = (lbs_val){.t = LBS_T_NUM, .u.num = d};
            return true;
        }
        return false;
    case LBS_OP_TO_STRING: {
        lbs_val v;
        if (!lbs_eval(c, kid[0], &v))
            return false;
        char *buf = c->scratch[n->slot];
        switch (v.t) {
        case LBS_T_NULL: *out = (lbs_val){.t = LBS_T_STR, .u.str = ""}; return true;
        case LBS_T_STR: *out = v; return true;
        case LBS_T_BOOL:
            *out = (lbs_val){.t = LBS_T_STR, .u.str = v.u.num ? "true" : "false"};
            return true;
        case LBS_T_NUM: num_to_str(v.u.num, buf, LBS_SCRATCH_LEN); break;
        case LBS_T_COLOR: {
            char a[32];
            num_to_str(v.u.col.a, a, sizeof a);
            snprintf(buf, LBS_SCRATCH_LEN, "rgba(%d,%d,%d,%s)", (int)lround(v.u.col.r * 255),
                     (int)lround(v.u.col.g * 255), (int)lround(v.u.col.b * 255), a);
            break;
        }
        default: return false;
        }
        *out = (lbs_val){.t = LBS_T_STR, .u.str = buf};
        return true;
    }
    case LBS_OP_TO_BOOLEAN: {
        lbs_val v;
        if (!lbs_eval(c, kid[0], &v))
            return false;
        bool b;
        switch (v.t) {
        case LBS_T_NULL: b = false; break;
        case LBS_T_BOOL: b = v.u.num != 0; break;
        case LBS_T_NUM: b = v.u.num != 0 && !isnan(v.u.num); break;
        case LBS_T_STR: b = v.u.str[0] != '\0'; break;
        default: b = true; break;
        }
        *out = (lbs_val){.t = LBS_T_BOOL, .u.num = b};
        return true;
    }
    case LBS_OP_TO_COLOR:
        for (uint32_t k = 0; k < n->nk; k++) {
            if (!lbs_eval(c, kid[k], out))
                return false;
            if (lbs_coerce(out, LBS_T_COLOR))
                return true;
        }
        return false;
    case LBS_OP_ASSERT:
        for (uint32_t k = 0; k < n->nk; k++) {
            if (!lbs_eval(c, kid[k], out))
                return false;
            if (out->t == n->type)
                return true;
        }
        return false;
    case LBS_OP_ZOOM: *out = (lbs_val){.t = LBS_T_NUM, .u.num = c->zoom}; return true;
    case LBS_OP_STEP: {
        double x;
        if (!eval_num(c, kid[0], &x))
            return false;
        long k = n->nx ? find_stop(s->stops + n->x, n->nx, x) : -1;
        return lbs_eval(c, kid[2 + k], out); /* k == -1: the first output */
    }
    case LBS_OP_INTERP: {
        double x;
        if (!eval_num(c, kid[0], &x))
            return false;
        const double *st = s->stops ? s->stops + n->x : NULL;
        long k = find_stop(st, n->nx, x);
        if (k < 0 || k == (long)n->nx - 1 || isnan(x)) {
            if (!lbs_eval(c, kid[1 + (k < 0 ? 0 : k)], out))
                return false;
            return lbs_coerce(out, n->type);
        }
        lbs_val a, b;
        if (!lbs_eval(c, kid[1 + k], &a) || !lbs_eval(c, kid[2 + k], &b))
            return false;
        double lo = st[k], hi = st[k + 1], t;
        if ((n->flags & LBS_F_EXP) && n->base != 1)
            t = (pow(n->base, x - lo) - 1) / (pow(n->base, hi - lo) - 1);
        else
            t = (x - lo) / (hi - lo);
        if (a.t == LBS_T_NUM && b.t == LBS_T_NUM && (n->type & LBS_T_NUM)) {
            *out = (lbs_val){.t = LBS_T_NUM, .u.num = a.u.num + (b.u.num - a.u.num) * t};
            return true;
        }
        if (!(n->type & LBS_T_COLOR) || !lbs_coerce(&a, LBS_T_COLOR) ||
            !lbs_coerce(&b, LBS_T_COLOR))
            return false;
        *out = (lbs_val){.t = LBS_T_COLOR, .u.col = lerp_color(a.u.col, b.u.col, t)};
        return true;
    }
    case LBS_OP_ADD:
    case LBS_OP_MUL:
    case LBS_OP_MIN:
    case LBS_OP_MAX: {
        double acc;
        if (!eval_num(c, kid[0], &acc))
            return false;
        for (uint32_t k = 1; k < n->nk; k++) {
            double v;
            if (!eval_num(c, kid[k], &v))
                return false;
            switch (n->op) {
            case LBS_OP_ADD: acc += v; break;
            case LBS_OP_MUL: acc *= v; break;
            case LBS_OP_MIN: acc = (isnan(v) || v < acc) ? v : acc; break;
            default: acc = (isnan(v) || v > acc) ? v : acc; break;
            }
        }
        *out = (lbs_val){.t = LBS_T_NUM, .u.num = acc};
        return true;
    }
    case LBS_OP_SUB:
    case LBS_OP_DIV:
    case LBS_OP_MOD:
    case LBS_OP_POW: {
        double a, b = 0;
        if (!eval_num(c, kid[0], &a) || (n->nk > 1 && !eval_num(c, kid[1], &b)))
            return false;
        double r;
        switch (n->op) {
        case LBS_OP_SUB: r = n->nk == 1 ? -a : a - b; break;
        case LBS_OP_DIV: r = a / b; break;
        case LBS_OP_MOD: r = fmod(a, b); break;
        default: r = pow(a, b); break;
        }
        *out = (lbs_val){.t = LBS_T_NUM, .u.num = r};
        return true;
    }
    case LBS_OP_ABS:
    case LBS_OP_FLOOR:
    case LBS_OP_CEIL:
    case LBS_OP_ROUND: {
        double a;
        if (!eval_num(c, kid[0], &a))
            return false;
        double r = n->op == LBS_OP_ABS     ? fabs(a)
                   : n->op == LBS_OP_FLOOR ? floor(a)
                   : n->op == LBS_OP_CEIL  ? ceil(a)
                                           : round(a);
        *out = (lbs_val){.t = LBS_T_NUM, .u.num = r};
        return true;
    }
    }
    return false;
}
