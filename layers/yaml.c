/*
 * This file implements the YAML front end of the config loader: it reads
 * the file, checks that it is UTF-8 text, drives libfyaml's event parser and
 * builds a small tree of mapping / sequence / scalar nodes, each with its
 * 1-based line (libfyaml's document API does not expose node positions).
 * It also implements the (line, message) diagnostic list (lb_diag).  Both
 * are public (include/lagebild/yaml.h): config.c decodes the config with
 * them and the styles module its JSON style files.
 *
 * Building works on one event at a time:
 *   - a scalar (or the placeholder for a rejected alias) is complete at once
 *     and is attached to the open container;
 *   - a mapping/sequence start opens a container (its `up` is the enclosing
 *     one); the matching end closes it and attaches it like a scalar.
 * Attaching to a mapping alternates between "key" and "value": a key must be
 * a scalar and must not repeat an earlier key of the same mapping.  Every
 * node is also threaded on doc->all, so freeing needs no recursion however
 * deeply the input nests.
 *
 * Things the config format does not allow are reported, not silently
 * accepted: duplicate keys, non-scalar keys, anchors and aliases, a second
 * document, NUL characters.  Parsing continues after them so that one run
 * reports them all.  libfyaml's own syntax errors are collected through a
 * private fy_diag (collect_errors, silent output) and end the parse.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libfyaml.h>

#include "lagebild/util.h"
#include "layers_int.h"

/* ---- diagnostics ------------------------------------------------------ */

void lb_diag_add(lb_diag *e, int line, const char *fmt, ...)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        lb_diag_msg *p = realloc(e->items, cap * sizeof *p);
        if (!p) {
            e->oom = true;
            return;
        }
        e->items = p;
        e->cap = cap;
    }
    lb_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        e->oom = true;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        lb_buf_append(&b, tmp, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (big) {
            va_start(ap, fmt);
            vsnprintf(big, (size_t)n + 1, fmt, ap);
            va_end(ap);
            lb_buf_append(&b, big, (size_t)n);
            free(big);
        } else {
            b.oom = true;
        }
    }
    if (b.oom) {
        lb_buf_free(&b);
        e->oom = true;
        return;
    }
    e->items[e->n] = (lb_diag_msg){.line = line, .seq = e->n, .msg = lb_buf_take(&b)};
    e->n++;
}

void lb_diag_free(lb_diag *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->items[i].msg);
    free(e->items);
    *e = (lb_diag){0};
}

static int err_cmp(const void *pa, const void *pb)
{
    const lb_diag_msg *a = pa, *b = pb;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

char *lb_diag_format(lb_diag *e, const char *file)
{
    if (e->n > 1)
        qsort(e->items, e->n, sizeof e->items[0], err_cmp);
    lb_buf b = {0};
    for (size_t i = 0; i < e->n; i++) {
        if (e->items[i].line > 0)
            lb_buf_printf(&b, "%s:%d: %s\n", file, e->items[i].line, e->items[i].msg);
        else
            lb_buf_printf(&b, "%s: %s\n", file, e->items[i].msg);
    }
    if (b.oom) {
        lb_buf_free(&b);
        return NULL;
    }
    return lb_buf_take(&b);
}

/* ---- tree building ---------------------------------------------------- */

typedef struct builder {
    const char *input; /* the text being parsed (marks are offsets into it) */
    size_t input_len;
    lb_yaml_doc *doc;
    lb_diag *errs;
    lb_yaml_node *open; /* innermost open container, NULL at document level */
    int ndocs;
    int last_line; /* line of the most recent event that had a position */
    bool oom;
} builder;

static lb_yaml_node *node_new(builder *b, lb_yaml_kind kind, int line)
{
    lb_yaml_node *n = calloc(1, sizeof *n);
    if (!n) {
        b->oom = true;
        return NULL;
    }
    n->kind = kind;
    n->line = line;
    n->all_next = b->doc->all;
    b->doc->all = n;
    return n;
}

static bool grow(builder *b, void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 4;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * elem);
    if (!p) {
        b->oom = true;
        return false;
    }
    *arr = p;
    *cap = c;
    return true;
}

/* Hand a finished node to the open container (or make it the root). */
static void attach(builder *b, lb_yaml_node *n)
{
    lb_yaml_node *c = b->open;
    if (!c) {
        /* only the first document's root is kept; later ones were reported */
        if (b->ndocs == 1 && !b->doc->root)
            b->doc->root = n;
        return;
    }
    if (c->kind == LB_YAML_SEQ) {
        void *arr = c->items;
        if (!grow(b, &arr, &c->cap, c->nitems + 1, sizeof *c->items))
            return;
        c->items = arr;
        c->items[c->nitems++] = n;
        return;
    }
    /* mapping */
    if (!c->has_key) {
        c->has_key = true;
        c->key_wait = n;
        c->bad_key = false;
        if (n->kind != LB_YAML_SCALAR) {
            lb_diag_add(b->errs, n->line, "mapping keys must be strings, not %s", lb_yaml_what(n));
            c->bad_key = true;
            return;
        }
        for (size_t i = 0; i < c->npairs; i++) {
            if (strcmp(c->pairs[i].key->text, n->text) == 0) {
                lb_diag_add(b->errs, n->line, "duplicate key '%s' (first given on line %d)",
                            n->text, c->pairs[i].key->line);
                c->bad_key = true;
                break;
            }
        }
        return;
    }
    c->has_key = false;
    if (c->bad_key)
        return;
    void *arr = c->pairs;
    if (!grow(b, &arr, &c->cap, c->npairs + 1, sizeof *c->pairs))
        return;
    c->pairs = arr;
    c->pairs[c->npairs++] = (lb_yaml_pair){.key = c->key_wait, .value = n};
    c->key_wait = NULL;
}

static int token_line(struct fy_token *t, int fallback)
{
    const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
    return m ? m->line + 1 : fallback;
}

/* Report an anchor on a node: the config has no use for them. */
static void check_anchor(builder *b, struct fy_token *anchor, int line)
{
    if (!anchor)
        return;
    size_t len = 0;
    const char *t = fy_token_get_text(anchor, &len);
    lb_diag_add(b->errs, token_line(anchor, line),
                "YAML aliases are not supported (found anchor '&%.*s')", (int)len, t ? t : "");
}

static bool is_null_text(const char *s, size_t len)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        if (strlen(nulls[i]) == len && memcmp(nulls[i], s, len) == 0)
            return true;
    return false;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/*
 * The value of a single-quoted scalar from its source text between the
 * quotes (YAML 1.2, 7.3.2): '' is one quote; a line break between two
 * lines of text folds into a space, or into one newline per empty line
 * between them; blanks around line breaks go.  Written here because
 * libfyaml 0.7.12's fy_token_get_text gets consecutive '' escapes wrong
 * (tests/fuzz/README.md).  out has room for n + 1 bytes; returns the length.
 */
static size_t single_quoted(const char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    int empties = 0; /* empty lines since the last line with text */
    for (bool first = true;; first = false) {
        /* one line: [i, e) up to the next line break or the end */
        size_t e = i;
        while (e < n && in[e] != '\n' && in[e] != '\r')
            e++;
        bool last = e >= n;
        size_t a = i, z = e;
        if (!first)
            while (a < z && is_blank(in[a]))
                a++;
        if (!last)
            while (z > a && is_blank(in[z - 1]))
                z--;
        if (!first && a == z && !last) {
            out[o++] = '\n'; /* an empty line */
            empties++;
        } else {
            if (!first && empties == 0)
                out[o++] = ' '; /* a single line break */
            empties = 0;
            for (size_t k = a; k < z; k++) {
                out[o++] = in[k];
                if (in[k] == '\'' && k + 1 < z && in[k + 1] == '\'')
                    k++;
            }
        }
        if (last)
            break;
        i = e + (in[e] == '\r' && e + 1 < n && in[e + 1] == '\n' ? 2 : 1);
    }
    out[o] = '\0';
    return o;
}

static void on_scalar(builder *b, struct fy_event *ev, int line)
{
    check_anchor(b, ev->scalar.anchor, line);
    lb_yaml_node *n = node_new(b, LB_YAML_SCALAR, line);
    if (!n)
        return;
    size_t len = 0;
    const struct fy_mark *m0 = fy_token_start_mark(ev->scalar.value);
    const struct fy_mark *m1 = fy_token_end_mark(ev->scalar.value);
    if (fy_token_scalar_style(ev->scalar.value) == FYSS_SINGLE_QUOTED && m0 && m1 &&
        m0->input_pos <= m1->input_pos && m1->input_pos <= b->input_len) {
        size_t raw = m1->input_pos - m0->input_pos;
        n->text = malloc(raw + 1);
        if (!n->text) {
            b->oom = true;
            return;
        }
        len = single_quoted(b->input + m0->input_pos, raw, n->text);
    } else {
        const char *t = fy_token_get_text(ev->scalar.value, &len);
        if (!t)
            len = 0;
        n->text = malloc(len + 1);
        if (!n->text) {
            b->oom = true;
            return;
        }
        if (len)
            memcpy(n->text, t, len);
    }
    n->text[len] = '\0';
    if (memchr(n->text, '\0', len))
        lb_diag_add(b->errs, line, "NUL characters are not allowed in strings");
    n->quoted = fy_token_scalar_style(ev->scalar.value) != FYSS_PLAIN;
    n->null = !n->quoted && is_null_text(n->text, len);
    attach(b, n);
}

static void on_alias(builder *b, struct fy_event *ev, int line)
{
    size_t len = 0;
    const char *t = fy_token_get_text(ev->alias.anchor, &len);
    lb_diag_add(b->errs, line, "YAML aliases are not supported (found alias '*%.*s')", (int)len,
                t ? t : "");
    /* keep the tree's shape with a null placeholder */
    lb_yaml_node *n = node_new(b, LB_YAML_SCALAR, line);
    if (!n)
        return;
    n->text = calloc(1, 1);
    if (!n->text) {
        b->oom = true;
        return;
    }
    n->null = true;
    attach(b, n);
}

static void on_open(builder *b, lb_yaml_kind kind, struct fy_token *anchor, int line)
{
    check_anchor(b, anchor, line);
    lb_yaml_node *n = node_new(b, kind, line);
    if (!n)
        return;
    n->up = b->open;
    b->open = n;
}

static void on_close(builder *b)
{
    lb_yaml_node *n = b->open;
    if (!n)
        return;
    b->open = n->up;
    n->up = NULL;
    n->key_wait = NULL;
    attach(b, n);
}

static void on_event(builder *b, struct fy_event *ev)
{
    const struct fy_mark *m = fy_event_start_mark(ev);
    int line = m ? m->line + 1 : b->last_line;
    if (m)
        b->last_line = line;
    switch (ev->type) {
    case FYET_DOCUMENT_START:
        if (++b->ndocs == 2)
            lb_diag_add(b->errs, line,
                        "only one YAML document per file is supported (found '---')");
        break;
    case FYET_MAPPING_START:
        on_open(b, LB_YAML_MAP, ev->mapping_start.anchor, line);
        break;
    case FYET_SEQUENCE_START:
        on_open(b, LB_YAML_SEQ, ev->sequence_start.anchor, line);
        break;
    case FYET_MAPPING_END:
    case FYET_SEQUENCE_END:
        on_close(b);
        break;
    case FYET_SCALAR:
        on_scalar(b, ev, line);
        break;
    case FYET_ALIAS:
        on_alias(b, ev, line);
        break;
    default:
        break;
    }
}

/*
 * libfyaml 0.7.12 (Debian 12) crashes in fy_parser_destroy (a write through
 * a stale indent entry) after it has reported "cannot use tab for
 * indentation of block entry", e.g. for "? y:<TAB>- b" (found by
 * fuzz_config).  Such a parser is not destroyed: it is kept here, reachable,
 * and never used again.  It costs a few kB per failed load of such a file,
 * and no crash.
 */
#define FY_TAB_BLOCK_ENTRY "cannot use tab for indentation of block entry"
static pthread_mutex_t retired_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fy_parser **retired;
static size_t nretired, retired_cap;

static void parser_done(struct fy_parser *fyp, bool unsafe)
{
    if (!unsafe) {
        fy_parser_destroy(fyp);
        return;
    }
    pthread_mutex_lock(&retired_lock);
    if (nretired == retired_cap) {
        size_t cap = retired_cap ? 2 * retired_cap : 8;
        struct fy_parser **v = realloc(retired, cap * sizeof *v);
        if (v) {
            retired = v;
            retired_cap = cap;
        }
    }
    if (nretired < retired_cap)
        retired[nretired++] = fyp; /* else lost: still better than the crash */
    pthread_mutex_unlock(&retired_lock);
}

/* libfyaml must not print anything; errors are collected instead. */
static void diag_silent(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

/* A config larger than this is certainly a mistake (a dataset, a log). */
#define MAX_CONFIG_BYTES (64u << 20)

/*
 * Read the whole file.  Configs are small, and libfyaml 0.7.12 quietly ends
 * the stream at an invalid UTF-8 byte (a broken file would load as an empty
 * config), so the text is checked here before parsing.
 */
static lb_status read_input(const char *path, char **data, size_t *len, lb_diag *errs)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        int e = errno;
        lb_diag_add(errs, 0, "cannot open: %s", strerror(e));
        return (e == ENOENT || e == ENOTDIR) ? LB_ENOENT : e == ENOMEM ? LB_ENOMEM : LB_EIO;
    }
    struct stat st;
    const char *why = NULL;
    if (fstat(fileno(fp), &st) != 0)
        why = strerror(errno);
    else if (S_ISDIR(st.st_mode))
        why = "is a directory";
    if (why) {
        lb_diag_add(errs, 0, "cannot read: %s", why);
        fclose(fp);
        return LB_EIO;
    }
    lb_buf b = {0};
    char chunk[16384];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        if (b.len + n > MAX_CONFIG_BYTES) {
            lb_diag_add(errs, 0, "file is larger than %u MiB; is this a config?",
                        MAX_CONFIG_BYTES >> 20);
            lb_buf_free(&b);
            fclose(fp);
            return LB_ECONFIG;
        }
        lb_buf_append(&b, chunk, n);
    }
    bool failed = ferror(fp);
    int e = errno;
    fclose(fp);
    if (failed) {
        lb_diag_add(errs, 0, "cannot read: %s", strerror(e));
        lb_buf_free(&b);
        return LB_EIO;
    }
    if (b.oom) {
        lb_buf_free(&b);
        return LB_ENOMEM;
    }
    *len = b.len;
    *data = lb_buf_take(&b);
    return *data ? LB_OK : LB_ENOMEM;
}

/* Report the first byte that is not UTF-8 text; true when all is well. */
static bool check_utf8(const char *data, size_t len, lb_diag *errs)
{
    const unsigned char *p = (const unsigned char *)data;
    int line = 1, col = 1;
    for (size_t i = 0; i < len;) {
        size_t k = lb_utf8_seq(p + i, len - i);
        if (!k) {
            if (p[i] == 0)
                lb_diag_add(errs, line, "NUL byte in column %d: the file is not text", col);
            else
                lb_diag_add(errs, line,
                            "invalid UTF-8 (byte 0x%02x in column %d): save the file as "
                            "UTF-8",
                            p[i], col);
            return false;
        }
        if (p[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
        i += k;
    }
    return true;
}

lb_status lb_yaml_load(const char *path, lb_yaml_doc *doc, lb_diag *errs)
{
    char *text = NULL;
    size_t len = 0;
    lb_status st = read_input(path, &text, &len, errs);
    if (st != LB_OK)
        return st;
    if (!check_utf8(text, len, errs)) {
        free(text);
        return LB_ECONFIG;
    }

    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_silent;
    dcfg.colorize = false;
    dcfg.level = FYET_ERROR;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (!diag) {
        free(text);
        return LB_ENOMEM;
    }
    fy_diag_set_collect_errors(diag, true);

    struct fy_parse_cfg pcfg = {.flags = FYPCF_QUIET, .diag = diag};
    struct fy_parser *fyp = fy_parser_create(&pcfg);
    if (!fyp || fy_parser_set_string(fyp, text, len) != 0) {
        if (fyp)
            fy_parser_destroy(fyp);
        fy_diag_destroy(diag);
        free(text);
        return LB_ENOMEM;
    }

    builder b = {.input = text, .input_len = len, .doc = doc, .errs = errs, .last_line = 1};
    struct fy_event *ev;
    while (!b.oom && (ev = fy_parser_parse(fyp)) != NULL) {
        on_event(&b, ev);
        fy_parser_event_free(fyp, ev);
    }

    bool unsafe = false; /* see parser_done */
    if (!b.oom && fy_parser_get_stream_error(fyp)) {
        size_t before = errs->n;
        void *it = NULL;
        struct fy_diag_error *de;
        while ((de = fy_diag_errors_iterate(diag, &it)) != NULL) {
            if (de->msg && strcmp(de->msg, FY_TAB_BLOCK_ENTRY) == 0)
                unsafe = true;
            if (de->type < FYET_ERROR)
                continue;
            /* a bare * (e.g. a role's layers: [*]) starts an alias without a name */
            bool star = de->msg && strcmp(de->msg, "invalid alias detected") == 0;
            lb_diag_add(errs, de->line > 0 ? de->line : b.last_line, "%s%s",
                        de->msg ? de->msg : "YAML syntax error",
                        star ? " (a bare * starts a YAML alias: quote it as \"*\")" : "");
        }
        if (errs->n == before)
            lb_diag_add(errs, b.last_line, "YAML syntax error");
        /* the syntax error may also have left containers open */
        b.doc->root = NULL;
    }

    parser_done(fyp, unsafe);
    fy_diag_destroy(diag);
    free(text); /* the parser refers to it until destroyed (a retired one is never used) */

    if (b.oom || errs->oom)
        return LB_ENOMEM;
    return errs->n ? LB_ECONFIG : LB_OK;
}

void lb_yaml_free(lb_yaml_doc *doc)
{
    lb_yaml_node *n = doc->all;
    while (n) {
        lb_yaml_node *next = n->all_next;
        free(n->text);
        free(n->items);
        free(n->pairs);
        free(n);
        n = next;
    }
    *doc = (lb_yaml_doc){0};
}

const lb_yaml_pair *lb_yaml_get(const lb_yaml_node *map, const char *key)
{
    if (!map || map->kind != LB_YAML_MAP)
        return NULL;
    for (size_t i = 0; i < map->npairs; i++)
        if (strcmp(map->pairs[i].key->text, key) == 0)
            return &map->pairs[i];
    return NULL;
}

const char *lb_yaml_what(const lb_yaml_node *n)
{
    if (!n)
        return "nothing";
    switch (n->kind) {
    case LB_YAML_MAP: return "a mapping";
    case LB_YAML_SEQ: return "a list";
    case LB_YAML_SCALAR: return n->null ? "null" : "a string";
    }
    return "?";
}
