/*
 * lagebild — the YAML (and JSON) front end shared by the config loader
 * (layers/config.c) and the style loader (styles/style.c).
 *
 * lb_yaml_load turns a file into a small tree of mapping / sequence / scalar
 * nodes that remember their 1-based line numbers; problems are collected in
 * an lb_diag as (line, message) pairs and rendered as "file:line: message"
 * lines.  JSON is YAML 1.2 flow syntax, so JSON files load as well: JSON
 * strings arrive as quoted scalars, numbers, true, false and null as plain
 * scalars (text; the caller converts them, e.g. with strtod).
 *
 * Implemented in layers/yaml.c (library lb_layers, which links libfyaml).
 */
#ifndef LAGEBILD_YAML_H
#define LAGEBILD_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "lagebild/status.h"

/* ---- diagnostics ------------------------------------------------------ */

typedef struct lb_diag_msg {
    int line;   /* 1-based; 0 when the message concerns the whole file */
    size_t seq; /* insertion order, keeps the sort stable */
    char *msg;
} lb_diag_msg;

/* A list of messages.  Zero-initialise to use; free with lb_diag_free. */
typedef struct lb_diag {
    lb_diag_msg *items;
    size_t n, cap;
    bool oom; /* an allocation failed; some messages may be missing */
} lb_diag;

void lb_diag_add(lb_diag *e, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void lb_diag_free(lb_diag *e);
/*
 * Render the messages sorted by line (ties in insertion order) as
 * "file:line: message\n" lines ("file: message\n" for line 0).  Returns a
 * malloc'ed string the caller owns, or NULL when out of memory.
 */
char *lb_diag_format(lb_diag *e, const char *file);

/* ---- YAML tree -------------------------------------------------------- */

typedef enum lb_yaml_kind {
    LB_YAML_SCALAR,
    LB_YAML_SEQ,
    LB_YAML_MAP,
} lb_yaml_kind;

typedef struct lb_yaml_node lb_yaml_node;

typedef struct lb_yaml_pair {
    lb_yaml_node *key; /* always a scalar */
    lb_yaml_node *value;
} lb_yaml_pair;

struct lb_yaml_node {
    lb_yaml_kind kind;
    int line; /* 1-based line where the node starts */

    /* LB_YAML_SCALAR */
    char *text;  /* NUL-terminated, never NULL */
    bool quoted; /* written in a quoted or block style (not plain) */
    bool null;   /* plain empty, "~", "null", "Null" or "NULL" */

    /* LB_YAML_SEQ */
    lb_yaml_node **items;
    size_t nitems;

    /* LB_YAML_MAP: pairs in file order, keys unique */
    lb_yaml_pair *pairs;
    size_t npairs;

    /* private to layers/yaml.c */
    size_t cap;
    lb_yaml_node *up;       /* enclosing container while building */
    lb_yaml_node *key_wait; /* mapping: key waiting for its value */
    bool has_key;           /* mapping: next node is a value */
    bool bad_key;           /* mapping: the waiting key is unusable */
    lb_yaml_node *all_next; /* every node of a document, for freeing */
};

typedef struct lb_yaml_doc {
    lb_yaml_node *root; /* NULL for an empty file */
    lb_yaml_node *all;  /* owns every node */
} lb_yaml_doc;

/*
 * Parse the YAML (or JSON) file at path into doc (zero-initialised by the
 * caller).  Text that is not UTF-8, syntax errors, duplicate keys, non-scalar
 * keys, anchors/aliases and extra documents are all added to errs and the
 * function returns LB_ECONFIG; the tree is then incomplete and must not be
 * decoded.  LB_ENOENT / LB_EIO when the file cannot be opened or read (a
 * line-0 message is added), LB_ENOMEM.  doc owns every node; release it with
 * lb_yaml_free in every case.
 */
lb_status lb_yaml_load(const char *path, lb_yaml_doc *doc, lb_diag *errs);
void lb_yaml_free(lb_yaml_doc *doc);

/* The pair of map whose key is key, or NULL (also when map is not a mapping). */
const lb_yaml_pair *lb_yaml_get(const lb_yaml_node *map, const char *key);

/* "a mapping", "a list", "null" or "a string" for messages. */
const char *lb_yaml_what(const lb_yaml_node *n);

#endif
