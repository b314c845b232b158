/*
 * lagebild — private interface of the layers module (not installed, not
 * included outside layers/).
 *
 * yaml.c turns a YAML file into a small tree of mapping / sequence / scalar
 * nodes that remember their 1-based line numbers, and collects diagnostics
 * as (line, message) pairs; config.c decodes that tree into an lb_config.
 */
#ifndef LAGEBILD_LAYERS_INT_H
#define LAGEBILD_LAYERS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "lagebild/status.h"

/* ---- diagnostics ------------------------------------------------------ */

typedef struct lb_layers__err {
    int line; /* 1-based; 0 when the message concerns the whole file */
    size_t seq; /* insertion order, keeps the sort stable */
    char *msg;
} lb_layers__err;

/* A list of messages.  Zero-initialise to use; free with lb_layers__errs_free. */
typedef struct lb_layers__errs {
    lb_layers__err *items;
    size_t n, cap;
    bool oom; /* an allocation failed; some messages may be missing */
} lb_layers__errs;

void lb_layers__errs_add(lb_layers__errs *e, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lb_layers__errs_free(lb_layers__errs *e);
/*
 * Render the messages sorted by line (ties in insertion order) as
 * "file:line: message\n" lines ("file: message\n" for line 0).  Returns a
 * malloc'ed string the caller owns, or NULL when out of memory.
 */
char *lb_layers__errs_format(lb_layers__errs *e, const char *file);

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

    /* private to yaml.c */
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
 * Parse the YAML file at path into doc (zero-initialised by the caller).
 * Text that is not UTF-8, syntax errors, duplicate keys, non-scalar keys,
 * anchors/aliases and extra documents are all added to errs and the function
 * returns LB_ECONFIG; the tree is then incomplete and must not be decoded.
 * LB_ENOENT / LB_EIO when the file cannot be opened or read (a line-0
 * message is added), LB_ENOMEM.  doc owns every node; release it with
 * lb_layers__yaml_free in every case.
 */
lb_status lb_layers__yaml_load(const char *path, lb_yaml_doc *doc, lb_layers__errs *errs);
void lb_layers__yaml_free(lb_yaml_doc *doc);

/* The pair of map whose key is key, or NULL (also when map is not a mapping). */
const lb_yaml_pair *lb_layers__yaml_get(const lb_yaml_node *map, const char *key);

/* "a mapping", "a list", "null" or "a string" for messages. */
const char *lb_layers__yaml_what(const lb_yaml_node *n);

#endif
