/*
 * lagebild — private interface of the styles module (not included outside
 * styles/).
 *
 * style.c reads a style file (JSON, through the YAML tree of
 * lagebild/yaml.h), validates its keys and compiles every filter and paint
 * value with expr.c into one flat array of expression nodes owned by the
 * style; color.c parses CSS colours.  Evaluation walks that array without
 * allocating: values are small structs on the stack, strings are borrowed
 * from the style, from the feature or from a per-call scratch area.
 */
#ifndef LAGEBILD_STYLES_INT_H
#define LAGEBILD_STYLES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lagebild/style.h"
#include "lagebild/yaml.h"

/* ---- values ----------------------------------------------------------- */

/* Value types; as bit flags they also describe the static type of an expression. */
enum {
    LBS_T_NULL = 1,
    LBS_T_NUM = 2,
    LBS_T_STR = 4,
    LBS_T_BOOL = 8,
    LBS_T_COLOR = 16,
    LBS_T_ARRAY = 32, /* of numbers, only from literals (line-dasharray) */
    LBS_T_ANY = 63,
};

/* A straight-alpha colour, components 0..1. */
typedef struct lbs_color {
    double r, g, b, a;
} lbs_color;

/* A value during evaluation: exactly one type bit in t. */
typedef struct lbs_val {
    uint8_t t;
    uint16_t n; /* LBS_T_ARRAY: length */
    union {
        double num;        /* LBS_T_NUM, LBS_T_BOOL (0/1) */
        const char *str;   /* LBS_T_STR, borrowed */
        const double *arr; /* LBS_T_ARRAY, owned by the style */
        lbs_color col;     /* LBS_T_COLOR */
    } u;
} lbs_val;

/* Parse a CSS colour (see docs/styles.md); no allocation.  false if invalid. */
bool lbs_parse_color(const char *s, lbs_color *out);
/* Number of CSS named colours known (for the tests / docs). */
size_t lbs_named_color_count(void);

/* ---- compiled expressions --------------------------------------------- */

typedef enum lbs_op {
    LBS_OP_LIT,
    LBS_OP_GET,
    LBS_OP_HAS,
    LBS_OP_NOT,
    LBS_OP_EQ,
    LBS_OP_NE,
    LBS_OP_LT,
    LBS_OP_LE,
    LBS_OP_GT,
    LBS_OP_GE,
    LBS_OP_ALL,
    LBS_OP_ANY,
    LBS_OP_CASE,
    LBS_OP_MATCH,
    LBS_OP_IN, /* legacy filter "in" / "!in" (flag LBS_F_NEGATE) */
    LBS_OP_COALESCE,
    LBS_OP_TO_NUMBER,
    LBS_OP_TO_STRING,
    LBS_OP_TO_BOOLEAN,
    LBS_OP_TO_COLOR,
    LBS_OP_ASSERT, /* "number", "string", "boolean": type in node->type */
    LBS_OP_ZOOM,
    LBS_OP_INTERP,
    LBS_OP_STEP,
    LBS_OP_ADD,
    LBS_OP_SUB,
    LBS_OP_MUL,
    LBS_OP_DIV,
    LBS_OP_MOD,
    LBS_OP_POW,
    LBS_OP_MIN,
    LBS_OP_MAX,
    LBS_OP_ABS,
    LBS_OP_FLOOR,
    LBS_OP_CEIL,
    LBS_OP_ROUND,
} lbs_op;

/* node flags */
enum {
    LBS_F_LEGACY = 1, /* legacy filter comparison: type mismatch is false, not an error */
    LBS_F_NEGATE = 2, /* LBS_OP_IN: "!in" */
    LBS_F_EXP = 4,    /* LBS_OP_INTERP: exponential (base in node->base) */
};

typedef struct lbs_node {
    uint8_t op;    /* lbs_op */
    uint8_t type;  /* static result type (LBS_T_* bits) */
    uint8_t flags; /* LBS_F_* */
    uint16_t slot; /* LBS_OP_TO_STRING: scratch slot; GET/HAS: property index */
    uint32_t k;    /* first child in lb_style.kids */
    uint32_t nk;   /* number of children */
    uint32_t x;    /* first entry in labels (MATCH, IN) or stops (INTERP, STEP) */
    uint32_t nx;
    double base; /* LBS_OP_INTERP exponential base */
    lbs_val v;   /* LBS_OP_LIT: the value; GET/HAS: u.str is the property name */
} lbs_node;

/* One label of a match (or value of a legacy "in"): the branch it selects. */
typedef struct lbs_label {
    lbs_val v; /* LBS_T_STR or LBS_T_NUM (or BOOL/NULL for legacy "in") */
    uint32_t branch;
} lbs_label;

/* ---- the style -------------------------------------------------------- */

/* Properties with a value per feature (visibility is a plain flag). */
typedef enum lbs_prop {
    LBS_P_FILL_COLOR,
    LBS_P_FILL_OPACITY,
    LBS_P_FILL_OUTLINE_COLOR,
    LBS_P_LINE_COLOR,
    LBS_P_LINE_OPACITY,
    LBS_P_LINE_WIDTH,
    LBS_P_LINE_DASHARRAY,
    LBS_P_LINE_JOIN,
    LBS_P_LINE_CAP,
    LBS_P_LINE_MITER_LIMIT,
    LBS_P_CIRCLE_RADIUS,
    LBS_P_CIRCLE_COLOR,
    LBS_P_CIRCLE_OPACITY,
    LBS_P_CIRCLE_STROKE_COLOR,
    LBS_P_CIRCLE_STROKE_WIDTH,
    LBS_P_CIRCLE_STROKE_OPACITY,
    LBS_P_CIRCLE_SHAPE,
    LBS_P_COUNT
} lbs_prop;

#define LBS_NONE UINT32_MAX /* "no expression" */

typedef struct lbs_layer {
    char *id;
    char *title; /* metadata "lagebild:legend", NULL: use id */
    lb_style_type type;
    double minzoom, maxzoom; /* shown for minzoom <= zoom < maxzoom */
    bool visible;
    uint32_t filter;            /* LBS_NONE: every feature */
    uint32_t prop[LBS_P_COUNT]; /* LBS_NONE: the default */
} lbs_layer;

struct lb_style {
    char *name;
    lbs_layer *layers;
    size_t nlayers;

    lbs_node *nodes;
    size_t nnodes, capnodes;
    uint32_t *kids;
    size_t nkids, capkids;
    lbs_label *labels;
    size_t nlabels, caplabels;
    double *stops;
    size_t nstops, capstops;

    char **props; /* property names read by get/has/legacy filters, first use first */
    size_t nprops, capprops;

    void **allocs; /* strings and arrays the nodes point to */
    size_t nallocs, capallocs;
};

/* Scratch text for to-string results during one evaluation. */
#define LBS_SCRATCH_SLOTS 16
#define LBS_SCRATCH_LEN 48
/* Property values remembered during one evaluation (the first 64 properties). */
#define LBS_CACHE 64
/* Deepest nesting of JSON values (and so of expressions) accepted. */
#define LBS_MAX_DEPTH 48

/* Evaluation state of one lb_style_eval call; lives on the caller's stack. */
typedef struct lbs_ctx {
    const lb_style *s;
    double zoom;
    lb_prop_fn get; /* NULL: a feature without properties */
    void *ud;
    uint64_t cached; /* bit i: cache[i] is valid */
    lb_value cache[LBS_CACHE];
    char scratch[LBS_SCRATCH_SLOTS][LBS_SCRATCH_LEN];
} lbs_ctx;

/*
 * Evaluate node into *out.  false on an evaluation error (a value of the
 * wrong type, a failed conversion): the caller then uses the property's
 * default (a filter is false), as MapLibre does.
 */
bool lbs_eval(lbs_ctx *c, uint32_t node, lbs_val *out);

/* Coerce v in place for a value of static type want (LBS_T_COLOR accepts strings). */
bool lbs_coerce(lbs_val *v, unsigned want);

/* ---- compiling -------------------------------------------------------- */

/* What kind of JSON value a node is. */
typedef enum lbs_jkind {
    LBS_J_NULL,
    LBS_J_BOOL,
    LBS_J_NUM,
    LBS_J_STR,
    LBS_J_LIST,
    LBS_J_OBJECT
} lbs_jkind;

/*
 * A JSON number (a plain scalar such as -1.5e3): true and its value; false
 * for other text, with *out_of_range set when it is a number too large for
 * a double.
 */
bool lbs_json_number(const char *text, double *out, bool *out_of_range);

/* Classify n; *num receives a number's value or a boolean's 0/1. */
lbs_jkind lbs_jkind_of(const lb_yaml_node *n, double *num);

/* A short description for messages: "the number 5", "the string 'x'", "a list". */
typedef struct lbs_shown {
    char s[120];
} lbs_shown;
lbs_shown lbs_describe(const lb_yaml_node *n);

typedef struct lbs_compiler {
    lb_style *s;
    lb_diag *diag;
    const char *where;        /* message prefix: "layer 'x': paint 'fill-color'" */
    const char *const *enums; /* allowed strings when compiling an enum property */
    const char *enum_list;    /* the same for messages: "circle, square, ..." */
    unsigned nslots;          /* to-string scratch slots used by the current layer */
    bool oom;
} lbs_compiler;

/* Pseudo type for lbs_compile: a string that must be one of c->enums. */
#define LBS_X_ENUM 64

/*
 * Compile the expression (or constant) n whose value must have a type in
 * want (LBS_T_* bits, or LBS_X_ENUM); string literals where a colour is
 * wanted are parsed now.  Returns the node index, or LBS_NONE after adding
 * an error message (or on OOM, c->oom).
 */
uint32_t lbs_compile(lbs_compiler *c, const lb_yaml_node *n, unsigned want);
/* Compile a filter: true/false, an expression or the legacy filter syntax. */
uint32_t lbs_compile_filter(lbs_compiler *c, const lb_yaml_node *n);
/* Add a node holding a constant. */
uint32_t lbs_add_literal(lbs_compiler *c, lbs_val v);
/* Keep p (malloc'ed) until the style is freed; frees p and returns NULL on OOM. */
void *lbs_keep(lbs_compiler *c, void *p);

/* Type names for messages: "number", "string or number", "colour", ... */
const char *lbs_type_name(unsigned t, char *buf, size_t n);

#endif
