/*
 * This file implements snapshots: reading one layer from the store once,
 * projecting it to a grid's CRS, orienting rings, building simplified levels
 * of detail for low zooms and a packed Hilbert R-tree per level.
 *
 * Levels of detail: level L serves zooms <= L with vertices simplified
 * (Douglas-Peucker) to a quarter pixel at zoom L, and points snapped to a
 * quarter-pixel grid where identical points (same cell, label, source and
 * kept properties) are merged.  Because merged features agree on everything
 * a predicate or a style can see, merging never changes what is drawn for
 * any principal, only how often.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <ogr_srs_api.h>
#include <cpl_error.h>

#include "lagebild/generalise.h"
#include "lagebild/util.h"
#include "tiler_int.h"

static const int lod_zooms[] = {3, 5, 7, 9, 11, 13};
#define NLOD (sizeof lod_zooms / sizeof lod_zooms[0])

/* ---- growable arrays -------------------------------------------------- */

#define VEC_PUSH(arr, n, cap, val, fail)                                   \
    do {                                                                   \
        if ((n) == (cap)) {                                                \
            size_t nc__ = (cap) ? (size_t)(cap) * 2 : 64;                  \
            void *p__ = realloc((arr), nc__ * sizeof *(arr));              \
            if (!p__)                                                      \
                goto fail;                                                 \
            (arr) = p__;                                                   \
            (cap) = nc__;                                                  \
        }                                                                  \
        (arr)[(n)++] = (val);                                              \
    } while (0)

typedef struct builder {
    lb_snap_level lv;
    size_t feats_cap, parts_cap, xy_cap;
    uint32_t twins_cap;
    bool oom;
} builder;

/* Append a vertex to b's level; false (b->oom) when out of memory. */
static bool push_xy(builder *b, double x, double y)
{
    if (b->lv.nxy * 2 + 2 > b->xy_cap) {
        size_t nc = b->xy_cap ? b->xy_cap * 2 : 1024;
        double *p = realloc(b->lv.xy, nc * sizeof *p);
        if (!p) {
            b->oom = true;
            return false;
        }
        b->lv.xy = p;
        b->xy_cap = nc;
    }
    b->lv.xy[2 * b->lv.nxy] = x;
    b->lv.xy[2 * b->lv.nxy + 1] = y;
    b->lv.nxy++;
    return true;
}

/* ---- WKB reading -------------------------------------------------------- */

typedef struct wkb {
    const uint8_t *p, *end;
    bool ok;
} wkb;

static uint32_t rd_u32(wkb *w, bool le)
{
    if (w->end - w->p < 4) {
        w->ok = false;
        return 0;
    }
    uint32_t v;
    memcpy(&v, w->p, 4);
    w->p += 4;
    if (!le)
        v = __builtin_bswap32(v);
    return v;
}

static double rd_f64(wkb *w, bool le)
{
    if (w->end - w->p < 8) {
        w->ok = false;
        return 0;
    }
    uint64_t v;
    memcpy(&v, w->p, 8);
    w->p += 8;
    if (!le)
        v = __builtin_bswap64(v);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

typedef struct geom_acc {
    builder *b;
    uint8_t type;
    uint32_t npoly;
    bool ok;
} geom_acc;

static bool add_coords(geom_acc *g, wkb *w, bool le, uint32_t n, uint32_t poly, bool ring)
{
    builder *b = g->b;
    if (n > (uint32_t)((w->end - w->p) / 16)) {
        w->ok = false;
        return false;
    }
    uint32_t first = b->lv.nxy;
    for (uint32_t i = 0; i < n; i++) {
        double x = rd_f64(w, le), y = rd_f64(w, le);
        if (!push_xy(b, x, y))
            return false;
    }
    if (ring && n >= 2 && b->lv.xy[2 * first] == b->lv.xy[2 * (first + n - 1)] &&
        b->lv.xy[2 * first + 1] == b->lv.xy[2 * (first + n - 1) + 1]) {
        b->lv.nxy--; /* drop the closing vertex: rings are implicitly closed */
        n--;
    }
    lb_snap_part part = {.first = first, .n = n, .poly = poly};
    VEC_PUSH(b->lv.parts, b->lv.nparts, b->parts_cap, part, fail);
    return true;
fail:
    return false;
}

/* Parse one WKB geometry (any nesting) appending parts; sets g->type. */
static bool parse_wkb(geom_acc *g, wkb *w, int depth)
{
    if (depth > 8 || w->end - w->p < 5) {
        w->ok = false;
        return false;
    }
    bool le = *w->p++ == 1;
    uint32_t t = rd_u32(w, le) % 1000; /* XY only (the store is 2D) */
    switch (t) {
    case 1: /* point */
        g->type = g->type ? g->type : LB_GEOM_POINT;
        return add_coords(g, w, le, 1, 0, false);
    case 2: { /* linestring */
        g->type = g->type ? g->type : LB_GEOM_LINE;
        uint32_t n = rd_u32(w, le);
        return w->ok && add_coords(g, w, le, n, 0, false);
    }
    case 3: { /* polygon */
        g->type = g->type ? g->type : LB_GEOM_POLYGON;
        uint32_t nr = rd_u32(w, le);
        uint32_t poly = g->npoly++;
        for (uint32_t r = 0; r < nr && w->ok; r++) {
            uint32_t n = rd_u32(w, le);
            if (!w->ok || !add_coords(g, w, le, n, poly, true))
                return false;
            /* orient: exterior positive, holes negative */
            lb_snap_part *pt = &g->b->lv.parts[g->b->lv.nparts - 1];
            if (pt->n >= 3) {
                double a = lb_ring_area(g->b->lv.xy + 2 * pt->first, pt->n);
                if ((r == 0 && a < 0) || (r > 0 && a > 0))
                    lb_ring_reverse(g->b->lv.xy + 2 * pt->first, pt->n);
            }
        }
        return w->ok;
    }
    case 4: case 5: case 6: case 7: { /* multi*, collection */
        uint32_t n = rd_u32(w, le);
        for (uint32_t i = 0; i < n && w->ok; i++)
            if (!parse_wkb(g, w, depth + 1))
                return false;
        return w->ok;
    }
    default:
        w->ok = false;
        return false;
    }
}

/* ---- attrs JSON: scalar values of top-level keys ------------------------ */

static const char *json_skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

/* Skip a JSON string starting at '"'; returns pointer after it. */
static const char *json_skip_str(const char *p)
{
    p++;
    while (*p && *p != '"') {
        if (*p == '\\' && p[1])
            p++;
        p++;
    }
    return *p ? p + 1 : p;
}

static const char *json_skip_value(const char *p)
{
    p = json_skip_ws(p);
    if (*p == '"')
        return json_skip_str(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (*p) {
            if (*p == '"') {
                p = json_skip_str(p);
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if (*p == '}' || *p == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return p;
    }
    while (*p && *p != ',' && *p != '}' && *p != ']')
        p++;
    return p;
}

/* Decode a JSON string literal at p into buf (simple escapes; \u as UTF-8). */
static void json_decode_str(const char *p, lb_buf *buf)
{
    lb_buf_reset(buf);
    p++;
    while (*p && *p != '"') {
        if (*p == '\\' && p[1]) {
            p++;
            char c = *p;
            if (c == 'n') c = '\n';
            else if (c == 't') c = '\t';
            else if (c == 'r') c = '\r';
            else if (c == 'b') c = '\b';
            else if (c == 'f') c = '\f';
            else if (c == 'u') {
                unsigned cp = 0;
                for (int k = 1; k <= 4 && p[k]; k++) {
                    char h = p[k];
                    cp = cp * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
                }
                p += 4;
                if (cp < 0x80) lb_buf_putc(buf, (char)cp);
                else if (cp < 0x800) {
                    lb_buf_putc(buf, (char)(0xC0 | (cp >> 6)));
                    lb_buf_putc(buf, (char)(0x80 | (cp & 0x3F)));
                } else {
                    lb_buf_putc(buf, (char)(0xE0 | (cp >> 12)));
                    lb_buf_putc(buf, (char)(0x80 | ((cp >> 6) & 0x3F)));
                    lb_buf_putc(buf, (char)(0x80 | (cp & 0x3F)));
                }
                p++;
                continue;
            }
            lb_buf_putc(buf, c);
            p++;
            continue;
        }
        lb_buf_putc(buf, *p++);
    }
}

/* ---- property values ---------------------------------------------------- */

typedef struct strpool {
    lb_buf buf; /* offsets are stored first, fixed up to pointers at the end */
} strpool;

/* store string; returns offset+1 (0 is never used) */
static size_t pool_add(strpool *sp, const char *s, size_t n)
{
    size_t off = sp->buf.len;
    lb_buf_append(&sp->buf, s, n);
    lb_buf_putc(&sp->buf, '\0');
    return off + 1;
}

/* value with str holding (offset+1) cast to pointer until fix-up */
static lb_value val_str(strpool *sp, const char *s, size_t n)
{
    lb_value v = {.type = LB_VAL_STR};
    v.str = (const char *)(uintptr_t)pool_add(sp, s, n);
    return v;
}

static lb_value json_value(strpool *sp, const char *attrs, const char *key, lb_buf *tmp)
{
    lb_value none = {.type = LB_VAL_NULL};
    if (!attrs)
        return none;
    const char *p = json_skip_ws(attrs);
    if (*p != '{')
        return none;
    p++;
    for (;;) {
        p = json_skip_ws(p);
        if (*p != '"')
            return none;
        json_decode_str(p, tmp);
        bool match = tmp->data && strcmp(tmp->data, key) == 0;
        p = json_skip_ws(json_skip_str(p));
        if (*p != ':')
            return none;
        p = json_skip_ws(p + 1);
        if (match) {
            if (*p == '"') {
                json_decode_str(p, tmp);
                return val_str(sp, tmp->data ? tmp->data : "", tmp->len);
            }
            if (strncmp(p, "true", 4) == 0)
                return (lb_value){.type = LB_VAL_BOOL, .num = 1};
            if (strncmp(p, "false", 5) == 0)
                return (lb_value){.type = LB_VAL_BOOL, .num = 0};
            if (*p == '-' || (*p >= '0' && *p <= '9'))
                return (lb_value){.type = LB_VAL_NUM, .num = strtod(p, NULL)};
            return none; /* null, objects, arrays */
        }
        p = json_skip_ws(json_skip_value(p));
        if (*p != ',')
            return none;
        p++;
    }
}

/* ---- R-tree --------------------------------------------------------------- */

#define RT_FANOUT 16

/* Index of (x,y) on a Hilbert curve over a 2^24 x 2^24 grid. */
static uint64_t hilbert(uint64_t x, uint64_t y)
{
    const uint64_t n = 1ull << 24;
    uint64_t d = 0;
    for (uint64_t s = n >> 1; s > 0; s >>= 1) {
        uint64_t rx = (x & s) ? 1 : 0, ry = (y & s) ? 1 : 0;
        d += s * s * ((3 * rx) ^ ry);
        if (ry == 0) { /* rotate the quadrant so the curve stays continuous */
            if (rx == 1) {
                x = n - 1 - x;
                y = n - 1 - y;
            }
            uint64_t t = x;
            x = y;
            y = t;
        }
    }
    return d;
}

typedef struct sort_item {
    uint64_t key;
    int64_t fid;
    uint32_t idx;
} sort_item;

static int cmp_item(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->fid != y->fid)
        return x->fid < y->fid ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void rtree_free(lb_rtree *t)
{
    free(t->box);
    free(t->child);
    free(t->level_start);
    free(t->crange);
    memset(t, 0, sizeof *t);
}

/* The class range of node i of t (a leaf: its feature's class). */
static inline const uint16_t *node_classes(const lb_snap_level *lv, uint32_t i, uint16_t leaf[2])
{
    if (i < lv->tree.nleaf) {
        leaf[0] = leaf[1] = lv->feats[i].cls;
        return leaf;
    }
    return lv->tree.crange[i - lv->tree.nleaf];
}

/* The class of node i of lv's tree on a level where every node holds one
 * class (0 for an unranked snapshot: one class). */
static inline uint32_t node_class(const lb_snap_level *lv, uint32_t i)
{
    uint16_t leaf[2];
    return lv->tree.crange ? node_classes(lv, i, leaf)[0] : 0;
}

/*
 * Build the tree over lv->feats (already in final order).  A node's children
 * are consecutive, up to RT_FANOUT of them.  For a ranked snapshot s (its
 * features sorted by class) a node holds one class only, as long as some
 * class has more than one node on its level: every class gets a subtree of
 * its own, and only the few nodes above the classes' roots hold several
 * classes (crange: their range).  A node that mixed the end of one class's
 * run with the start of the next would span both their areas and be entered
 * by almost every walk.  An unranked snapshot is one class: nodes of
 * RT_FANOUT consecutive children.
 */
static bool rtree_build(lb_snap_level *lv, const lb_snapshot *s)
{
    lb_rtree *t = &lv->tree;
    uint32_t n = lv->nfeats;
    t->nleaf = n;
    uint32_t ncls = s->ranked ? s->nclasses : 1;
    uint32_t per[LB_SNAP_CLASSES] = {0}; /* nodes of each class on a level */
    for (uint32_t i = 0; i < n; i++)
        per[s->ranked ? lv->feats[i].cls : 0]++;
    /* count nodes: the same grouping as below, by class */
    uint32_t m[LB_SNAP_CLASSES];
    memcpy(m, per, ncls * sizeof *m);
    size_t total = n, cnt = n, nlevels = 1;
    while (cnt > 1) {
        bool split = false;
        for (uint32_t c = 0; c < ncls; c++)
            split |= m[c] > 1;
        if (split) {
            cnt = 0;
            for (uint32_t c = 0; c < ncls; c++)
                cnt += m[c] = (m[c] + RT_FANOUT - 1) / RT_FANOUT;
        } else {
            cnt = (cnt + RT_FANOUT - 1) / RT_FANOUT;
        }
        total += cnt;
        nlevels++;
    }
    t->box = malloc((total ? total : 1) * 4 * sizeof(double));
    t->child = malloc((total ? total : 1) * sizeof(uint32_t));
    t->level_start = malloc(nlevels * sizeof(uint32_t));
    if (!t->box || !t->child || !t->level_start)
        return false;
    if (s->ranked && !(t->crange = malloc((total - n + 1) * sizeof *t->crange)))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        t->box[4 * i] = lv->feats[i].minx;
        t->box[4 * i + 1] = lv->feats[i].miny;
        t->box[4 * i + 2] = lv->feats[i].maxx;
        t->box[4 * i + 3] = lv->feats[i].maxy;
        t->child[i] = i;
    }
    t->level_start[0] = 0;
    t->nlevels = 1;
    memcpy(m, per, ncls * sizeof *m);
    size_t start = 0, count = n, pos = n;
    while (count > 1) {
        bool split = false;
        for (uint32_t c = 0; c < ncls; c++)
            split |= m[c] > 1;
        t->level_start[t->nlevels++] = (uint32_t)pos;
        for (size_t i = 0; i < count;) {
            size_t end = i + RT_FANOUT < count ? i + RT_FANOUT : count;
            if (split) { /* the run of i's class ends the node */
                uint32_t c = node_class(lv, (uint32_t)(start + i));
                size_t k = i + 1;
                while (k < end && node_class(lv, (uint32_t)(start + k)) == c)
                    k++;
                end = k;
            }
            double b[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
            for (size_t k = i; k < end; k++) {
                const double *c = &t->box[4 * (start + k)];
                if (c[0] < b[0]) b[0] = c[0];
                if (c[1] < b[1]) b[1] = c[1];
                if (c[2] > b[2]) b[2] = c[2];
                if (c[3] > b[3]) b[3] = c[3];
            }
            memcpy(&t->box[4 * pos], b, sizeof b);
            t->child[pos] = (uint32_t)(start + i);
            if (t->crange) {
                uint16_t l0[2], l1[2];
                t->crange[pos - n][0] = node_classes(lv, (uint32_t)(start + i), l0)[0];
                t->crange[pos - n][1] = node_classes(lv, (uint32_t)(start + end - 1), l1)[1];
            }
            pos++;
            i = end;
        }
        if (split)
            for (uint32_t c = 0; c < ncls; c++)
                m[c] = (m[c] + RT_FANOUT - 1) / RT_FANOUT;
        start += count;
        count = pos - start;
    }
    t->nnodes = (uint32_t)pos;
    return pos == total; /* the count above agrees */
}

_Thread_local lb_walk_stats lb_tiler__walk_stats;

static atomic_bool class_walks_off;

void lb_tiler__set_class_walks(bool on) { atomic_store(&class_walks_off, !on); }

bool lb_tiler__class_walks(void)
{
    return !atomic_load_explicit(&class_walks_off, memory_order_relaxed);
}

/* How many of the classes a..b (inclusive) cs wants. */
static inline uint32_t cs_count(const lb_class_set *cs, uint32_t a, uint32_t b)
{
    if (cs->pre)
        return (uint32_t)cs->pre[b + 1] - cs->pre[a];
    uint32_t lo = a > cs->lo ? a : cs->lo, hi = b < cs->hi ? b : cs->hi;
    return lo <= hi ? hi - lo + 1 : 0;
}

/* A walk's question to each node: its box and its classes. */
typedef struct rt_query {
    double minx, miny, maxx, maxy, minw, minh;
    const lb_class_set *cs;
} rt_query;

enum { RT_TEST = 0x80 }; /* a node's classes need a look (some below are not wanted) */

/* Whether node i of lv's tree may hold what q asks for; *test (RT_TEST or
 * 0) says whether i's classes need a look, and is cleared when every class
 * below i is wanted. */
static inline bool rt_pass(const lb_snap_level *lv, uint32_t i, const rt_query *q, uint8_t *test)
{
    if (*test) {
        uint16_t leaf[2];
        const uint16_t *r = node_classes(lv, i, leaf);
        uint32_t want = cs_count(q->cs, r[0], r[1]);
        if (want == 0)
            return false;
        if (want == (uint32_t)(r[1] - r[0]) + 1)
            *test = 0;
    }
    const double *b = &lv->tree.box[4 * i];
    return !(b[2] < q->minx || b[0] > q->maxx || b[3] < q->miny || b[1] > q->maxy ||
             b[2] - b[0] < q->minw || b[3] - b[1] < q->minh);
}

/*
 * The leaves (features) of lv's tree of the classes cs whose boxes meet the
 * box and are at least minw wide and minh high, ascending (a node's children
 * are taken first to last, and their leaves follow each other): appended to
 * out, or handed to fn until it returns false.  A node's box holds its
 * children's: a node narrower than minw or lower than minh holds no such
 * feature, so a walk for large features stays near the root.  Its classes
 * are those of crange: a node with none of cs's is not entered, and below a
 * node with only cs's classes none is tested again.  Nodes are tested
 * before they go on the stack, and the leaves of a node one level up are
 * taken in place.
 */
static void rt_walk(const lb_snap_level *lv, double minx, double miny, double maxx, double maxy,
                    double minw, double minh, const lb_class_set *cs, lb_leaf_fn fn, void *ud,
                    lb_idx_vec *out)
{
    if (out)
        out->n = 0;
    const lb_rtree *t = &lv->tree;
    lb_tiler__walk_stats.walks++;
    if (t->nleaf == 0)
        return;
    if (!t->crange)
        cs = NULL; /* unranked: callers filter every feature themselves */
    const rt_query q = {minx, miny, maxx, maxy, minw, minh, cs};
    uint64_t nodes = 0, leaves = 0; /* counted here, added once (lb_walk_stats) */
    /* explicit stack of nodes that passed: (node, level | RT_TEST) */
    uint32_t stack[64 * RT_FANOUT];
    uint8_t lvl[64 * RT_FANOUT];
    int sp = 0;
    uint32_t root = t->nnodes - 1;
    uint8_t test = cs ? RT_TEST : 0;
    if (t->nlevels > 1)
        nodes++;
    else
        leaves++;
    if (rt_pass(lv, root, &q, &test)) {
        stack[sp] = root;
        lvl[sp++] = (uint8_t)((t->nlevels - 1) | test);
    }
    while (sp > 0) {
        sp--;
        uint32_t node = stack[sp];
        int l = lvl[sp] & ~RT_TEST;
        test = lvl[sp] & RT_TEST;
        uint32_t first = node, end = node + 1; /* a tree of one leaf */
        if (l > 0) {
            /* children: up to the next node's first child, or the end of
             * their level for the last node of this one */
            uint32_t level_end = l + 1 < (int)t->nlevels ? t->level_start[l + 1] : t->nnodes;
            first = t->child[node];
            end = node + 1 < level_end ? t->child[node + 1] : t->level_start[l];
        }
        if (l > 1) {
            for (uint32_t c = end; c-- > first;) { /* the first child on top */
                uint8_t tc = test;
                nodes++;
                if (rt_pass(lv, c, &q, &tc)) {
                    stack[sp] = c;
                    lvl[sp++] = (uint8_t)((l - 1) | tc);
                }
            }
            continue;
        }
        for (uint32_t c = first; c < end; c++) {
            uint8_t tc = test;
            if (l > 0) {
                leaves++;
                if (!rt_pass(lv, c, &q, &tc))
                    continue;
            }
            if (fn) {
                if (!fn(ud, c))
                    goto done;
                continue;
            }
            if (out->n == out->cap) {
                size_t nc = out->cap ? out->cap * 2 : 256;
                uint32_t *p = realloc(out->v, nc * sizeof *p);
                if (!p)
                    goto done;
                out->v = p;
                out->cap = nc;
            }
            out->v[out->n++] = c;
        }
    }
done:
    lb_tiler__walk_stats.nodes += nodes;
    lb_tiler__walk_stats.leaves += leaves;
}

void lb_tiler__query(const lb_snap_level *lv, double minx, double miny, double maxx, double maxy,
                     const lb_class_set *cs, lb_idx_vec *out)
{
    rt_walk(lv, minx, miny, maxx, maxy, -INFINITY, -INFINITY, cs, NULL, NULL, out);
}

void lb_tiler__query_big(const lb_snap_level *lv, double minx, double miny, double maxx,
                         double maxy, double minw, double minh, const lb_class_set *cs,
                         lb_idx_vec *out)
{
    rt_walk(lv, minx, miny, maxx, maxy, minw, minh, cs, NULL, NULL, out);
}

void lb_tiler__visit(const lb_snap_level *lv, double minx, double miny, double maxx, double maxy,
                     const lb_class_set *cs, lb_leaf_fn fn, void *ud)
{
    rt_walk(lv, minx, miny, maxx, maxy, -INFINITY, -INFINITY, cs, fn, ud, NULL);
}

const lb_snap_level *lb_tiler__level_for(const lb_snapshot *s, double res)
{
    for (int i = 0; i < s->nlevels; i++)
        if (s->levels[i].res <= res * 1.0001)
            return &s->levels[i];
    return &s->levels[s->nlevels - 1];
}

/* ---- levels of detail ----------------------------------------------------- */

/* Douglas-Peucker keep flags over pts[a..b] (inclusive). */
static void dp_mark(const double *xy, uint32_t a, uint32_t b, double tol2, uint8_t *keep)
{
    while (b > a + 1) {
        double ax = xy[2 * a], ay = xy[2 * a + 1], bx = xy[2 * b], by = xy[2 * b + 1];
        double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
        double best = -1;
        uint32_t bi = a;
        for (uint32_t i = a + 1; i < b; i++) {
            double px = xy[2 * i] - ax, py = xy[2 * i + 1] - ay, d2;
            if (len2 > 0) {
                double cr = px * dy - py * dx;
                d2 = cr * cr / len2;
            } else {
                d2 = px * px + py * py;
            }
            if (d2 > best) {
                best = d2;
                bi = i;
            }
        }
        if (best <= tol2)
            return;
        keep[bi] = 1;
        dp_mark(xy, a, bi, tol2, keep);
        a = bi;
    }
}

static void feat_bbox(lb_snap_feat *f, const lb_snap_level *lv)
{
    f->minx = f->miny = INFINITY;
    f->maxx = f->maxy = -INFINITY;
    for (uint32_t p = 0; p < f->nparts; p++) {
        const lb_snap_part *pt = &lv->parts[f->first_part + p];
        for (uint32_t i = 0; i < pt->n; i++) {
            double x = lv->xy[2 * (pt->first + i)], y = lv->xy[2 * (pt->first + i) + 1];
            if (x < f->minx) f->minx = x;
            if (x > f->maxx) f->maxx = x;
            if (y < f->miny) f->miny = y;
            if (y > f->maxy) f->maxy = y;
        }
    }
}

typedef struct pt_key {
    int64_t cx, cy;
    uint32_t info;
    uint32_t slot_used;
    uint32_t feat; /* the point's index in the level being built */
} pt_key;

/* equality of everything a predicate or style sees, for merging points */
static bool same_appearance(const lb_snapshot *s, uint32_t a, uint32_t b)
{
    const lb_feature_info *x = &s->infos[a], *y = &s->infos[b];
    if (!lb_label_eq(&x->label, &y->label) || strcmp(x->source, y->source) != 0)
        return false;
    /* one class; or a report merged into a fused feature (y) onto a plain
     * one (x): whoever draws y draws x (y needs x's label, and x is never
     * hidden behind a fused feature), so the point drawn once for both is
     * what drawing the two would show, as it was before y was merged (a
     * report joining a cluster must not split its point off the ones it
     * coincides with at low zoom: that doubles its anti-aliased paint for
     * principals who may not see the fused label).  build_lod hands the
     * merged reports' points over after all plain ones. */
    if (x->member != y->member ? x->member
                               : x->member && !lb_label_eq(&x->fused, &y->fused))
        return false;
    return lb_tiler__values_eq(s, a, s, b);
}

bool lb_tiler__values_eq(const lb_snapshot *sa, uint32_t a, const lb_snapshot *sb, uint32_t b)
{
    size_t np = sa->nprops;
    if (sb->nprops != np)
        return false;
    const lb_value *u = sa->values + (size_t)a * np, *v = sb->values + (size_t)b * np;
    for (size_t k = 0; k < np; k++) {
        if (u[k].type != v[k].type)
            return false;
        if (u[k].type == LB_VAL_STR ? strcmp(u[k].str, v[k].str) != 0
                                    : u[k].type != LB_VAL_NULL && u[k].num != v[k].num)
            return false;
    }
    return true;
}

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static int cmp_twin(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static int cmp_feat_seq(const void *a, const void *b)
{
    const lb_snap_feat *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_feat_cls_seq(const void *a, const void *b)
{
    const lb_snap_feat *x = a, *y = b;
    if (x->cls != y->cls)
        return x->cls < y->cls ? -1 : 1;
    return cmp_feat_seq(a, b);
}

/* A point of a report merged into a fused feature (build_lod's second round). */
static bool member_point(const lb_snap_feat *f)
{
    return f->member && f->type == LB_GEOM_POINT && f->nparts == 1;
}

/* Build a simplified level from the full level src at zoom L. */
static bool build_lod(const lb_snapshot *s, const lb_snap_level *src, int L, builder *b)
{
    double res = lb_tms_resolution(s->grid, L);
    double tol = 0.25 * res, cell = 0.25 * res;
    b->lv.max_zoom = L;
    b->lv.res = res;
    uint8_t *keep = NULL;
    size_t keep_cap = 0;
    /* open-addressing table for merged points */
    size_t hcap = 1;
    while (hcap < (size_t)src->nfeats * 2 + 16)
        hcap <<= 1;
    pt_key *table = calloc(hcap, sizeof *table);
    if (!table)
        return false;
    /* Points of reports merged into a fused feature come after every other
     * feature (a second round), so that they find each plain point they
     * coincide with whatever the order of the level (which depends on how
     * many classes the snapshot has): the groups of points drawn as one do
     * not depend on it.  The level is put back into its order after. */
    bool members = false;
    for (uint32_t fi = 0; fi < src->nfeats && !members; fi++)
        members = member_point(&src->feats[fi]);
    for (uint32_t round = 0; round < (members ? 2u : 1u); round++) {
        for (uint32_t fi = 0; fi < src->nfeats; fi++) {
            const lb_snap_feat *f = &src->feats[fi];
            if (members && member_point(f) != (round == 1))
                continue;
            lb_snap_feat nf = *f;
            nf.first_part = b->lv.nparts;
            nf.nparts = 0;
            if (f->type == LB_GEOM_POINT && f->nparts == 1) {
                const lb_snap_part *pt = &src->parts[f->first_part];
                double x = src->xy[2 * pt->first], y = src->xy[2 * pt->first + 1];
                int64_t cx = (int64_t)floor(x / cell), cy = (int64_t)floor(y / cell);
                uint64_t h = mix64((uint64_t)cx * 0x9E3779B97F4A7C15ULL ^ (uint64_t)cy);
                size_t slot = h & (hcap - 1);
                bool merged = false;
                while (table[slot].slot_used) {
                    if (table[slot].cx == cx && table[slot].cy == cy &&
                        same_appearance(s, table[slot].info, f->info)) {
                        merged = true;
                        break;
                    }
                    slot = (slot + 1) & (hcap - 1);
                }
                if (merged) {
                    /* drawn where the first of its points would be */
                    lb_snap_feat *rf = &b->lv.feats[table[slot].feat];
                    if (f->seq < rf->seq)
                        rf->seq = f->seq; /* only with members: re-sorted below */
                    int64_t tw[2] = {s->infos[table[slot].info].fid, s->infos[f->info].fid};
                    if (b->lv.ntwins == b->twins_cap) {
                        uint32_t nc = b->twins_cap ? b->twins_cap * 2 : 64;
                        int64_t(*q)[2] = realloc(b->lv.twins, nc * sizeof *q);
                        if (!q)
                            goto fail;
                        b->lv.twins = q;
                        b->twins_cap = nc;
                    }
                    memcpy(b->lv.twins[b->lv.ntwins++], tw, sizeof tw);
                    continue;
                }
                table[slot] = (pt_key){cx, cy, f->info, 1, b->lv.nfeats};
                double sx = (cx + 0.5) * cell, sy = (cy + 0.5) * cell;
                lb_snap_part np = {.first = b->lv.nxy, .n = 1, .poly = 0};
                if (!push_xy(b, sx, sy))
                    goto fail;
                VEC_PUSH(b->lv.parts, b->lv.nparts, b->parts_cap, np, fail);
                nf.nparts = 1;
            } else {
                for (uint32_t p = 0; p < f->nparts; p++) {
                    const lb_snap_part *pt = &src->parts[f->first_part + p];
                    const double *xy = src->xy + 2 * pt->first;
                    uint32_t n = pt->n;
                    if (n > keep_cap) {
                        uint8_t *k = realloc(keep, n);
                        if (!k)
                            goto fail;
                        keep = k;
                        keep_cap = n;
                    }
                    memset(keep, 0, n);
                    keep[0] = keep[n - 1] = 1;
                    if (n > 2)
                        dp_mark(xy, 0, n - 1, tol * tol, keep);
                    uint32_t first = b->lv.nxy, kept = 0;
                    for (uint32_t i = 0; i < n; i++) {
                        if (!keep[i])
                            continue;
                        if (!push_xy(b, xy[2 * i], xy[2 * i + 1]))
                            goto fail;
                        kept++;
                    }
                    if (f->type == LB_GEOM_POLYGON && kept < 3) {
                        /* collapsed ring: keep its box so it still covers its pixels */
                        b->lv.nxy = first;
                        if (p > 0 && pt->poly == src->parts[f->first_part + p - 1].poly)
                            continue; /* a tiny hole: drop it */
                        double mnx = INFINITY, mny = INFINITY, mxx = -INFINITY, mxy = -INFINITY;
                        for (uint32_t i = 0; i < n; i++) {
                            mnx = fmin(mnx, xy[2 * i]);
                            mxx = fmax(mxx, xy[2 * i]);
                            mny = fmin(mny, xy[2 * i + 1]);
                            mxy = fmax(mxy, xy[2 * i + 1]);
                        }
                        double q[8] = {mnx, mny, mxx, mny, mxx, mxy, mnx, mxy};
                        if (b->lv.nxy * 2 + 8 > b->xy_cap) {
                            size_t nc = (b->xy_cap ? b->xy_cap * 2 : 1024) + 8;
                            double *r = realloc(b->lv.xy, nc * sizeof *r);
                            if (!r)
                                goto fail;
                            b->lv.xy = r;
                            b->xy_cap = nc;
                        }
                        memcpy(b->lv.xy + 2 * b->lv.nxy, q, sizeof q);
                        b->lv.nxy += 4;
                        kept = 4;
                    }
                    lb_snap_part np = {.first = first, .n = kept, .poly = pt->poly};
                    VEC_PUSH(b->lv.parts, b->lv.nparts, b->parts_cap, np, fail);
                    nf.nparts++;
                }
            }
            if (nf.nparts == 0)
                continue;
            VEC_PUSH(b->lv.feats, b->lv.nfeats, b->feats_cap, nf, fail);
        }
    }
    free(keep);
    free(table);
    if (b->lv.ntwins > 1)
        qsort(b->lv.twins, b->lv.ntwins, sizeof *b->lv.twins, cmp_twin);
    if (members && b->lv.nfeats > 1) /* stored by class, each in drawing order */
        qsort(b->lv.feats, b->lv.nfeats, sizeof *b->lv.feats,
              s->ranked ? cmp_feat_cls_seq : cmp_feat_seq);
    return rtree_build(&b->lv, s);
fail:
    free(keep);
    free(table);
    return false;
}

/* ---- build ---------------------------------------------------------------- */

static void level_free(lb_snap_level *lv)
{
    free(lv->twins);
    free(lv->feats);
    free(lv->parts);
    free(lv->xy);
    rtree_free(&lv->tree);
    memset(lv, 0, sizeof *lv);
}

static void snapshot_free(lb_snapshot *s)
{
    if (!s)
        return;
    if (s->base) {
        lb_snapshot_unref(s->base);
        lb_snapshot_unref(s->delta);
        free(s->removed);
    }
    for (int i = 0; i < s->nlevels; i++)
        level_free(&s->levels[i]);
    for (size_t i = 0; i < s->nprops; i++)
        free(s->prop_names[i]);
    free(s->prop_names);
    free(s->values);
    free(s->infos);
    free(s->class_rep);
    free(s->strings);
    free(s->layer);
    lb_tiler__digest_free(atomic_load(&s->digest));
    free(s);
}

lb_snapshot *lb_snapshot_ref(lb_snapshot *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

void lb_snapshot_unref(lb_snapshot *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        snapshot_free(s);
}

int64_t lb_snapshot_revision(const lb_snapshot *s) { return s->revision; }
size_t lb_snapshot_feature_count(const lb_snapshot *s)
{
    if (s->base) {
        size_t n = s->delta->ninfos;
        for (uint32_t i = 0; i < s->base->ninfos; i++)
            n += !lb_tiler__removed(s, s->base->infos[i].fid);
        return n;
    }
    return s->ninfos;
}

size_t lb_snapshot_vertex_count(const lb_snapshot *s)
{
    if (s->base)
        return lb_snapshot_vertex_count(s->base) + lb_snapshot_vertex_count(s->delta);
    size_t n = 0;
    for (int i = 0; i < s->nlevels; i++)
        n += s->levels[i].nxy;
    return n;
}

size_t lb_snapshot_memory(const lb_snapshot *s)
{
    if (s->base)
        return sizeof *s + s->nremoved * sizeof(int64_t) + lb_snapshot_memory(s->delta);
    size_t m = sizeof *s + s->ninfos * sizeof(lb_feature_info) +
               s->ninfos * s->nprops * sizeof(lb_value) + s->strings_len;
    for (int i = 0; i < s->nlevels; i++) {
        const lb_snap_level *lv = &s->levels[i];
        m += lv->nfeats * sizeof(lb_snap_feat) + lv->nparts * sizeof(lb_snap_part) +
             lv->nxy * 2 * sizeof(double) + lv->tree.nnodes * (4 * sizeof(double) + 4);
        if (lv->tree.crange)
            m += (lv->tree.nnodes - lv->tree.nleaf) * sizeof *lv->tree.crange;
    }
    if (s->class_rep)
        m += s->nclasses * sizeof *s->class_rep;
    return m;
}

bool lb_snapshot_bounds(const lb_snapshot *s, double *minx, double *miny, double *maxx,
                        double *maxy)
{
    if (s->empty)
        return false;
    *minx = s->minx;
    *miny = s->miny;
    *maxx = s->maxx;
    *maxy = s->maxy;
    return true;
}

bool lb_tiler__twin_visible(const lb_snapshot *s, const lb_snap_level *lv, int64_t fid)
{
    size_t lo = 0, hi = lv->ntwins;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lv->twins[mid][0] < fid)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < lv->ntwins && lv->twins[i][0] == fid; i++)
        if (!lb_tiler__removed(s, lv->twins[i][1]))
            return true;
    return false;
}

bool lb_tiler__removed(const lb_snapshot *s, int64_t fid)
{
    size_t lo = 0, hi = s->nremoved;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->removed[mid] < fid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nremoved && s->removed[lo] == fid;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

lb_status lb_snapshot_overlay(lb_snapshot *base, lb_snapshot *delta, const int64_t *removed,
                              size_t n, lb_snapshot **out, lb_error *err)
{
    *out = NULL;
    if (base->base)
        return lb_fail(err, LB_EINVAL, "an overlay cannot be the base of another");
    if (base->grid != delta->grid || strcmp(base->layer, delta->layer) != 0)
        return lb_fail(err, LB_EINVAL, "overlay of different layers or grids");
    lb_snapshot *s = calloc(1, sizeof *s);
    if (!s || !(s->layer = lb_strdup(base->layer)) ||
        !(s->removed = malloc((n ? n : 1) * sizeof *s->removed))) {
        if (s)
            free(s->layer);
        free(s);
        return lb_fail(err, LB_ENOMEM, "out of memory");
    }
    atomic_init(&s->refs, 1);
    if (n) { /* removed may be NULL when there is nothing to remove */
        memcpy(s->removed, removed, n * sizeof *removed);
        qsort(s->removed, n, sizeof *s->removed, cmp_i64);
    }
    s->nremoved = n;
    s->grid = base->grid;
    s->revision = delta->revision;
    s->base = lb_snapshot_ref(base);
    s->delta = lb_snapshot_ref(delta);
    /* bounds: conservative (the base's removed features may still count) */
    s->empty = base->empty && delta->empty;
    s->minx = fmin(base->empty ? INFINITY : base->minx, delta->empty ? INFINITY : delta->minx);
    s->miny = fmin(base->empty ? INFINITY : base->miny, delta->empty ? INFINITY : delta->miny);
    s->maxx = fmax(base->empty ? -INFINITY : base->maxx, delta->empty ? -INFINITY : delta->maxx);
    s->maxy = fmax(base->empty ? -INFINITY : base->maxy, delta->empty ? -INFINITY : delta->maxy);
    *out = s;
    return LB_OK;
}

static const char *const always_props[] = {"kind", "name", "status", "classification"};

static bool prop_listed(char **names, size_t n, const char *p)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], p) == 0)
            return true;
    return false;
}

/* The value of property name of a stored feature. */
static lb_value stored_value(strpool *sp, const lb_stored_feature *f, const char *name,
                             lb_buf *tmp)
{
    for (int k = 0; k < LB_FIELD_COUNT; k++) {
        if (strcmp(lb_field_name((lb_field)k), name) != 0)
            continue;
        if (k == LB_FIELD_ACCURACY_M)
            return f->has_accuracy ? (lb_value){.type = LB_VAL_NUM, .num = f->accuracy_m}
                                   : (lb_value){.type = LB_VAL_NULL};
        return f->field[k] ? val_str(sp, f->field[k], strlen(f->field[k]))
                           : (lb_value){.type = LB_VAL_NULL};
    }
    const char *text = NULL;
    if (strcmp(name, "classification") == 0)
        text = f->classification;
    else if (strcmp(name, "source") == 0)
        text = f->source;
    else if (strcmp(name, "source_fid") == 0)
        text = f->source_fid;
    else if (strcmp(name, "releasable_to") == 0)
        text = f->releasable_to;
    else if (strcmp(name, "caveats") == 0)
        text = f->caveats;
    else
        return json_value(sp, f->attrs, name, tmp);
    return text ? val_str(sp, text, strlen(text)) : (lb_value){.type = LB_VAL_NULL};
}

static lb_label decode_label(const lb_config *cfg, int level, const char *groups,
                             const char *caveats)
{
    lb_label l = {.level = (lb_level)level};
    for (int pass = 0; pass < 2; pass++) {
        const char *p = pass ? caveats : groups;
        while (p && *p) {
            const char *q = strchr(p, ',');
            size_t n = q ? (size_t)(q - p) : strlen(p);
            char name[128];
            if (n < sizeof name) {
                memcpy(name, p, n);
                name[n] = '\0';
                int idx = pass ? lb_config_caveat_index(cfg, name) : lb_config_group_index(cfg, name);
                /* an unknown name (config changed since ingest) is dropped from
                 * releasable-to (less access) but kept as an unknown caveat bit
                 * (more restriction): both fail closed */
                if (idx >= 0)
                    (pass ? &l.caveats : &l.groups)[0] |= 1ULL << idx;
                else if (pass)
                    l.caveats |= 1ULL << 63;
            }
            p = q ? q + 1 : NULL;
        }
    }
    return l;
}



/*
 * Replace the feature just parsed (parts from part0, vertices from xy0, in
 * lon/lat) by its generalised form on the canonical grid of cells of cell
 * metres (generalise.h), still in lon/lat.  false: leave the feature out (no
 * rule for its source, a vertex outside the grid's CRS, or out of memory:
 * b->oom).
 */
static bool generalise(lb_gen *gen, builder *b, geom_acc *g, uint32_t part0, uint32_t xy0,
                       double cell)
{
    if (!(cell > 0))
        return false;
    double *xy = b->lv.xy + 2 * xy0;
    uint32_t nv = b->lv.nxy - xy0;
    if (nv == 0)
        return false;
    if (g->type == LB_GEOM_POINT)
        return lb_gen_points(gen, xy, nv, cell, NULL) == LB_OK;
    double blk[4];
    if (lb_gen_block(gen, xy, nv, cell, blk, NULL) != LB_OK)
        return false;
    b->lv.nparts = part0;
    b->lv.nxy = xy0;
    g->type = LB_GEOM_POLYGON;
    g->npoly = 0;
    if ((blk[2] - blk[0] + 1) * (blk[3] - blk[1] + 1) > LB_GEN_MAX_CELLS) {
        /* huge extent: one block of whole cells */
        double m[4] = {blk[0] * cell, blk[1] * cell, (blk[2] + 1) * cell, (blk[3] + 1) * cell};
        double ring[8];
        if (lb_gen_rect(gen, m, ring, NULL) != LB_OK)
            return false;
        uint32_t first = b->lv.nxy;
        for (int k = 0; k < 4; k++)
            if (!push_xy(b, ring[2 * k], ring[2 * k + 1]))
                return false;
        lb_snap_part part = {.first = first, .n = 4, .poly = 0};
        VEC_PUSH(b->lv.parts, b->lv.nparts, b->parts_cap, part, fail);
        return true;
    }
    size_t w = (size_t)(blk[2] - blk[0]) + 2, h = (size_t)(blk[3] - blk[1]) + 2;
    double *cn = malloc(w * h * 2 * sizeof *cn);
    if (!cn) {
        b->oom = true;
        return false;
    }
    if (lb_gen_corners(gen, blk, cell, cn, NULL) != LB_OK) {
        free(cn);
        return false;
    }
    for (size_t cy = 0; cy + 1 < h; cy++)
        for (size_t cx = 0; cx + 1 < w; cx++) {
            uint32_t first = b->lv.nxy;
            /* counter-clockwise with y up: positive area, an exterior ring */
            const size_t k[4] = {cy * w + cx, cy * w + cx + 1, (cy + 1) * w + cx + 1,
                                 (cy + 1) * w + cx};
            for (int i = 0; i < 4; i++)
                if (!push_xy(b, cn[2 * k[i]], cn[2 * k[i] + 1])) {
                    free(cn);
                    return false;
                }
            lb_snap_part part = {.first = first, .n = 4, .poly = g->npoly++};
            VEC_PUSH(b->lv.parts, b->lv.nparts, b->parts_cap, part, fail_cn);
        }
    free(cn);
    return true;
fail_cn:
    free(cn);
fail:
    b->oom = true;
    return false;
}

/* Generalised snapshots: features by content key (gen_key), to keep one of
 * each (open addressing; info + 1, 0 = empty). */
typedef struct gen_set {
    uint64_t *key;
    uint32_t *info;
    size_t cap, n;
} gen_set;

typedef struct sbuild {
    lb_gen_cell_fn gen_cell; /* generalised snapshot: cell size per source */
    void *gen_ud;
    lb_gen *gen;
    gen_set gs;
    lb_value *tv; /* the values of the row being read (nprops) */
    lb_snapshot *s;
    const lb_config *cfg;
    OGRCoordinateTransformationH ct;
    bool mercator;
    builder full;
    strpool sp;
    lb_buf source_pool;
    lb_buf tmp;
    size_t infos_cap, values_cap;
    size_t *source_off;
    size_t nsource_off, source_off_cap;
    double *xs;
    int *okflags;
    size_t tcap;
} sbuild;

/* A string value while building: (offset + 1) into the pool. */
static const char *pool_str(const sbuild *sb, const lb_value *v)
{
    return (const char *)sb->sp.buf.data + ((uintptr_t)v->str - 1);
}

/*
 * The content key of a generalised feature: everything drawn of it, with
 * its cells in lon/lat (the same in every grid), so equal in all grids'
 * snapshots.  It is the feature's fid there: a generalised snapshot holds
 * one feature per distinct content, whichever and however many units stand
 * behind it, and its drawing order does not depend on their fids.  The
 * member flag and fused label are not part of the key (gen_same still
 * tells such contents apart): a unit joining or leaving a cluster keeps its
 * fid, hence its place in the drawing order, and the snapshot difference
 * pairs its two forms.
 */
static uint64_t gen_key(const sbuild *sb, const geom_acc *g, uint32_t part0,
                        const lb_feature_info *fi, const char *source)
{
    const lb_snap_level *lv = &sb->full.lv;
    uint64_t h = lb_fnv1a(LB_FNV_INIT, "lb:gen", 6);
    uint32_t t = g->type;
    h = lb_fnv1a(h, &t, sizeof t);
    for (uint32_t p = part0; p < lv->nparts; p++) {
        const lb_snap_part *pt = &lv->parts[p];
        uint32_t np[2] = {pt->n, pt->poly};
        h = lb_fnv1a(h, np, sizeof np);
        h = lb_fnv1a(h, lv->xy + 2 * (size_t)pt->first, 2 * sizeof(double) * pt->n);
    }
    /* field by field: a struct's padding is not part of its value */
    uint64_t lab[3] = {(uint64_t)fi->label.level, fi->label.groups, fi->label.caveats};
    h = lb_fnv1a(h, lab, sizeof lab);
    h = lb_fnv1a(h, source, strlen(source) + 1);
    for (size_t k = 0; k < sb->s->nprops; k++) {
        const lb_value *v = &sb->tv[k];
        h = lb_fnv1a(h, &v->type, sizeof v->type);
        if (v->type == LB_VAL_STR) {
            const char *str = pool_str(sb, v);
            h = lb_fnv1a(h, str, strlen(str) + 1);
        } else if (v->type != LB_VAL_NULL) {
            h = lb_fnv1a(h, &v->num, sizeof v->num);
        }
    }
    return h;
}

/* Whether the feature just read (parts from part0, label fi, source, values
 * sb->tv) is drawn as feature `info` read before, in this grid: the same but
 * perhaps for the member flag and fused label. */
static bool gen_same(const sbuild *sb, uint32_t info, const geom_acc *g, uint32_t part0,
                     const lb_feature_info *fi, const char *source)
{
    const lb_snapshot *s = sb->s;
    const lb_snap_level *lv = &sb->full.lv;
    const lb_snap_feat *f = &lv->feats[info]; /* one feature per info while building */
    const lb_feature_info *x = &s->infos[info];
    if (f->type != g->type || f->nparts != lv->nparts - part0 ||
        !lb_label_eq(&x->label, &fi->label) ||
        strcmp((const char *)sb->source_pool.data + sb->source_off[info], source) != 0)
        return false;
    for (uint32_t p = 0; p < f->nparts; p++) {
        const lb_snap_part *a = &lv->parts[f->first_part + p], *b = &lv->parts[part0 + p];
        if (a->n != b->n || a->poly != b->poly ||
            memcmp(lv->xy + 2 * (size_t)a->first, lv->xy + 2 * (size_t)b->first,
                   2 * sizeof(double) * a->n) != 0)
            return false;
    }
    for (size_t k = 0; k < s->nprops; k++) {
        const lb_value *u = &s->values[(size_t)info * s->nprops + k], *v = &sb->tv[k];
        if (u->type != v->type)
            return false;
        if (u->type == LB_VAL_STR ? strcmp(pool_str(sb, u), pool_str(sb, v)) != 0
                                  : u->type != LB_VAL_NULL && u->num != v->num)
            return false;
    }
    return true;
}

/*
 * Whether the feature just read adds nothing to the generalised snapshot: a
 * feature read before (key k) is drawn the same for whoever draws it.  That
 * one is of the same class, or plain while this one is merged into a fused
 * feature (whoever draws the merged report draws the plain one: it needs
 * its label, and a plain feature is never hidden behind a fused one); when
 * it is the merged one and this one is plain, it becomes plain.  So a
 * report joining or leaving a cluster neither adds nor removes a content
 * drawn for principals who may not see the fused label.
 */
static bool gen_absorbed(sbuild *sb, uint64_t k, const geom_acc *g, uint32_t part0,
                         const lb_feature_info *fi, const char *source)
{
    const gen_set *gs = &sb->gs;
    if (!gs->cap)
        return false;
    for (size_t i = k & (gs->cap - 1); gs->info[i]; i = (i + 1) & (gs->cap - 1)) {
        uint32_t info = gs->info[i] - 1;
        if (gs->key[i] != k || !gen_same(sb, info, g, part0, fi, source))
            continue;
        lb_feature_info *x = &sb->s->infos[info];
        if (x->member == fi->member && (!x->member || lb_label_eq(&x->fused, &fi->fused)))
            return true; /* the same class */
        if (!x->member)
            return true; /* this merged report is drawn as the plain one */
        if (!fi->member) {
            /* the merged report read before is drawn as this plain one */
            x->member = false;
            x->fused = (lb_label){0};
            sb->full.lv.feats[info].member = 0; /* one feature per info while building */
            return true;
        }
    }
    return false;
}

static bool gen_add(gen_set *gs, uint64_t k, uint32_t info)
{
    if (2 * (gs->n + 1) > gs->cap) {
        size_t nc = gs->cap ? 2 * gs->cap : 1024;
        uint64_t *nk = calloc(nc, sizeof *nk);
        uint32_t *ni = calloc(nc, sizeof *ni);
        if (!nk || !ni) {
            free(nk);
            free(ni);
            return false;
        }
        for (size_t i = 0; i < gs->cap; i++) {
            if (!gs->info[i])
                continue;
            size_t j = gs->key[i] & (nc - 1);
            while (ni[j])
                j = (j + 1) & (nc - 1);
            nk[j] = gs->key[i];
            ni[j] = gs->info[i];
        }
        free(gs->key);
        free(gs->info);
        gs->key = nk;
        gs->info = ni;
        gs->cap = nc;
    }
    size_t j = k & (gs->cap - 1);
    while (gs->info[j])
        j = (j + 1) & (gs->cap - 1);
    gs->key[j] = k;
    gs->info[j] = info + 1;
    gs->n++;
    return true;
}

static bool on_row(void *ud, const lb_stored_feature *row)
{
    sbuild *sb = ud;
    lb_snapshot *s = sb->s;
    builder *full = &sb->full;
    if (!row->wkb || row->wkb_len == 0)
        return true;
    uint32_t info = s->ninfos;
    uint32_t part0 = full->lv.nparts, xy0 = full->lv.nxy;
    geom_acc g = {.b = full};
    wkb w = {.p = row->wkb, .end = row->wkb + row->wkb_len, .ok = true};
    if (!parse_wkb(&g, &w, 0) || !w.ok) {
        full->lv.nparts = part0;
        full->lv.nxy = xy0;
        return true; /* the store holds only valid geometries; skip what we cannot read */
    }
    lb_feature_info fi = {.fid = row->fid};
    fi.label = decode_label(sb->cfg, row->label_level, row->releasable_to, row->caveats);
    if (row->member) {
        fi.member = true;
        fi.fused = decode_label(sb->cfg, row->fused_level, row->fused_releasable_to,
                                row->fused_caveats);
    }
    const char *source = row->source ? row->source : "";
    size_t pool_len = sb->sp.buf.len;
    for (size_t k = 0; k < s->nprops; k++)
        sb->tv[k] = stored_value(&sb->sp, row, s->prop_names[k], &sb->tmp);
    if (sb->sp.buf.oom || sb->tmp.oom)
        return false;
    /* generalised: in lon/lat, on the grid every tile grid shares */
    uint64_t gk = 0;
    if (sb->gen_cell) {
        if (!generalise(sb->gen, full, &g, part0, xy0, sb->gen_cell(sb->gen_ud, row->source))) {
            full->lv.nparts = part0;
            full->lv.nxy = xy0;
            sb->sp.buf.len = pool_len;
            return !full->oom;
        }
        gk = gen_key(sb, &g, part0, &fi, source);
        fi.fid = (int64_t)(gk >> 11); /* 53 bits, as stored fids */
    }
    uint32_t nv = full->lv.nxy - xy0;
    if (nv > 0) {
        double *xy = full->lv.xy + 2 * xy0;
        if (sb->mercator)
            for (uint32_t i = 0; i < nv; i++)
                xy[2 * i + 1] = fmax(-85.0511287798, fmin(85.0511287798, xy[2 * i + 1]));
        if (nv > sb->tcap) {
            double *nx = realloc(sb->xs, (size_t)nv * 2 * sizeof *nx);
            int *nok = realloc(sb->okflags, (size_t)nv * sizeof *nok);
            if (nx)
                sb->xs = nx;
            if (nok)
                sb->okflags = nok;
            if (!nx || !nok)
                return false;
            sb->tcap = nv;
        }
        double *xs = sb->xs, *ys = sb->xs + nv;
        for (uint32_t i = 0; i < nv; i++) {
            xs[i] = xy[2 * i];
            ys[i] = xy[2 * i + 1];
        }
        OCTTransformEx(sb->ct, (int)nv, xs, ys, NULL, sb->okflags);
        for (uint32_t i = 0; i < nv; i++) {
            if (!sb->okflags[i] || !isfinite(xs[i]) || !isfinite(ys[i])) {
                full->lv.nparts = part0;
                full->lv.nxy = xy0;
                sb->sp.buf.len = pool_len;
                return true; /* outside the grid CRS's domain */
            }
            xy[2 * i] = xs[i];
            xy[2 * i + 1] = ys[i];
        }
    }
    /* a projection may mirror; re-orient rings */
    for (uint32_t p = part0; p < full->lv.nparts; p++) {
        lb_snap_part *pt = &full->lv.parts[p];
        if (g.type != LB_GEOM_POLYGON || pt->n < 3)
            continue;
        bool exterior = p == part0 || full->lv.parts[p - 1].poly != pt->poly;
        double a = lb_ring_area(full->lv.xy + 2 * pt->first, pt->n);
        if ((exterior && a < 0) || (!exterior && a > 0))
            lb_ring_reverse(full->lv.xy + 2 * pt->first, pt->n);
    }
    if (sb->gen_cell) {
        /* one feature per content: another unit drawn the same way in the
         * same cells adds nothing (not even a darker overdraw) */
        if (gen_absorbed(sb, gk, &g, part0, &fi, source)) {
            full->lv.nparts = part0;
            full->lv.nxy = xy0;
            sb->sp.buf.len = pool_len;
            return true;
        }
        if (!gen_add(&sb->gs, gk, info))
            return false;
    }
    lb_snap_feat f = {.first_part = part0,
                      .nparts = full->lv.nparts - part0,
                      .props = (uint32_t)(info * s->nprops),
                      .info = info,
                      .type = g.type,
                      .member = row->member};
    feat_bbox(&f, &full->lv);
    VEC_PUSH(full->lv.feats, full->lv.nfeats, full->feats_cap, f, fail);
    VEC_PUSH(s->infos, s->ninfos, sb->infos_cap, fi, fail);
    size_t off = sb->source_pool.len;
    lb_buf_puts(&sb->source_pool, source);
    lb_buf_putc(&sb->source_pool, '\0');
    VEC_PUSH(sb->source_off, sb->nsource_off, sb->source_off_cap, off, fail);
    if (s->ninfos * s->nprops > sb->values_cap) {
        size_t nc = sb->values_cap ? sb->values_cap * 2 : 1024;
        while (nc < s->ninfos * s->nprops)
            nc *= 2;
        lb_value *pv = realloc(s->values, nc * sizeof *pv);
        if (!pv)
            return false;
        s->values = pv;
        sb->values_cap = nc;
    }
    memcpy(&s->values[info * s->nprops], sb->tv, s->nprops * sizeof *sb->tv);
    return !sb->sp.buf.oom && !sb->source_pool.oom && !sb->tmp.oom;
fail:
    return false;
}

uint64_t lb_tiler__order_key(const lb_tms *t, const lb_snap_feat *f)
{
    double span = lb_tms_resolution(t, 0) * t->tile_size;
    double gx0 = t->origin_x, gy0 = t->origin_y - span * t->h0;
    double w = span * t->w0, h = span * t->h0;
    double cx = ((f->minx + f->maxx) / 2 - gx0) / w;
    double cy = ((f->miny + f->maxy) / 2 - gy0) / h;
    cx = cx < 0 ? 0 : cx > 1 ? 1 : cx;
    cy = cy < 0 ? 0 : cy > 1 ? 1 : cy;
    return hilbert((uint64_t)(cx * 16777215.0), (uint64_t)(cy * 16777215.0));
}

/*
 * Put the full level's features into drawing order (Hilbert key, then store
 * order), which becomes each one's seq, and build its tree.  Ranked
 * snapshots store them class by class (a stable counting sort, so each class
 * keeps drawing order): a class is one run of leaves, and a walk skips the
 * subtrees that hold only classes it does not want (rt_walk).  Levels of
 * detail, built from this level in its order, inherit both.
 */
static bool order_full_level(lb_snapshot *s, builder *full)
{
    lb_snap_level *lv = &full->lv;
    s->empty = lv->nfeats == 0;
    s->minx = s->miny = INFINITY;
    s->maxx = s->maxy = -INFINITY;
    for (uint32_t i = 0; i < lv->nfeats; i++) {
        s->minx = fmin(s->minx, lv->feats[i].minx);
        s->miny = fmin(s->miny, lv->feats[i].miny);
        s->maxx = fmax(s->maxx, lv->feats[i].maxx);
        s->maxy = fmax(s->maxy, lv->feats[i].maxy);
    }
    size_t n = lv->nfeats ? lv->nfeats : 1;
    sort_item *items = malloc(n * sizeof *items);
    lb_snap_feat *sorted = malloc(n * sizeof *sorted);
    if (!items || !sorted) {
        free(items);
        free(sorted);
        return false;
    }
    /* The curve spans the grid's whole extent, not the data's: the drawing
     * order of two features never depends on which other features exist,
     * so a principal who sees a subset gets exactly the pixels of that subset.
     * Ties go by fid (the store's order for stored features; for a
     * generalised snapshot's contents, whose fid is their content, an order
     * that does not depend on the units behind them), then store order. */
    for (uint32_t i = 0; i < lv->nfeats; i++) {
        items[i].key = lb_tiler__order_key(s->grid, &lv->feats[i]);
        items[i].fid = s->infos[lv->feats[i].info].fid;
        items[i].idx = i;
    }
    qsort(items, lv->nfeats, sizeof *items, cmp_item);
    for (uint32_t i = 0; i < lv->nfeats; i++) {
        sorted[i] = lv->feats[items[i].idx];
        sorted[i].seq = i;
    }
    free(items);
    if (s->ranked) {
        uint32_t at[LB_SNAP_CLASSES + 1] = {0};
        for (uint32_t i = 0; i < lv->nfeats; i++)
            at[sorted[i].cls + 1]++;
        for (uint32_t c = 0; c < s->nclasses; c++)
            at[c + 1] += at[c];
        for (uint32_t i = 0; i < lv->nfeats; i++)
            lv->feats[at[sorted[i].cls]++] = sorted[i];
        free(sorted);
    } else {
        free(lv->feats);
        lv->feats = sorted;
    }
    full->feats_cap = lv->nfeats;
    return rtree_build(lv, s);
}

/*
 * Rank the classes of s's features (lb_feature_class_cmp order) into each
 * feature's cls (of the full level lv, which the levels of detail copy), so
 * that renders group features by class with a counting sort instead of
 * comparing labels, and the level is stored class by class
 * (order_full_level).  false when out of memory.
 */
static bool rank_classes(lb_snapshot *s, lb_snap_level *lv, bool by_source)
{
    s->ranked = false;
    s->by_source = by_source;
    size_t n = s->ninfos ? s->ninfos : 1;
    const lb_feature_info **inf = malloc(n * sizeof *inf);
    uint16_t *rank = malloc(n * sizeof *rank);
    bool ok = inf && rank;
    if (ok) {
        for (uint32_t i = 0; i < s->ninfos; i++)
            inf[i] = &s->infos[i];
        s->ranked = lb_tiler__rank_classes(inf, s->ninfos, by_source, LB_SNAP_CLASSES, rank,
                                           &s->nclasses);
    }
    if (ok && s->ranked) {
        s->class_rep = malloc((s->nclasses ? s->nclasses : 1) * sizeof *s->class_rep);
        ok = s->class_rep != NULL;
        for (uint32_t i = s->ninfos; ok && i-- > 0;)
            s->class_rep[rank[i]] = i;
        for (uint32_t k = 0; ok && k < lv->nfeats; k++)
            lv->feats[k].cls = rank[lv->feats[k].info];
    }
    free(inf);
    free(rank);
    return ok;
}

static lb_status build_impl(lb_store *st, const lb_config *cfg, const char *layer,
                            const lb_tms *grid, const char *const *props, size_t nprops,
                            lb_gen_cell_fn gen_cell, void *gen_ud, const int64_t *fids,
                            size_t nfids, lb_snapshot **out, lb_error *err)
{
    *out = NULL;
    lb_snapshot *s = calloc(1, sizeof *s);
    if (!s)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    atomic_init(&s->refs, 1);
    s->grid = grid;
    s->layer = lb_strdup(layer);
    s->prop_names = calloc(nprops + 4, sizeof(char *));
    if (!s->layer || !s->prop_names) {
        snapshot_free(s);
        return lb_fail(err, LB_ENOMEM, "out of memory");
    }
    /* a generalised snapshot keeps only the properties asked for (what
     * the style reads): nothing else of a unit is released with its cell */
    for (size_t i = 0; i < 4 && !gen_cell; i++)
        s->prop_names[s->nprops++] = lb_strdup(always_props[i]);
    for (size_t i = 0; i < nprops; i++)
        if (!prop_listed(s->prop_names, s->nprops, props[i]))
            s->prop_names[s->nprops++] = lb_strdup(props[i]);
    for (size_t i = 0; i < s->nprops; i++)
        if (!s->prop_names[i]) {
            snapshot_free(s);
            return lb_fail(err, LB_ENOMEM, "out of memory");
        }

    sbuild sb = {.s = s, .cfg = cfg, .mercator = strcmp(grid->crs, "EPSG:3857") == 0,
                 .gen_cell = gen_cell, .gen_ud = gen_ud};
    sb.tv = malloc((s->nprops ? s->nprops : 1) * sizeof *sb.tv);
    if (!sb.tv) {
        snapshot_free(s);
        return lb_fail(err, LB_ENOMEM, "out of memory");
    }
    sb.full.lv.max_zoom = INT_MAX;
    lb_status rc = LB_OK;
    OGRSpatialReferenceH src = OSRNewSpatialReference(NULL);
    OGRSpatialReferenceH dst = OSRNewSpatialReference(NULL);
    if (!src || !dst || OSRSetFromUserInput(src, "EPSG:4326") != OGRERR_NONE ||
        OSRSetFromUserInput(dst, grid->crs) != OGRERR_NONE) {
        rc = lb_fail(err, LB_ECRS, "grid %s: unknown CRS %s", grid->id, grid->crs);
        goto done;
    }
    OSRSetAxisMappingStrategy(src, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetAxisMappingStrategy(dst, OAMS_TRADITIONAL_GIS_ORDER);
    CPLPushErrorHandler(CPLQuietErrorHandler);
    sb.ct = OCTNewCoordinateTransformation(src, dst);
    CPLPopErrorHandler();
    if (!sb.ct) {
        rc = lb_fail(err, LB_ECRS, "no transformation from EPSG:4326 to %s", grid->crs);
        goto done;
    }
    if (gen_cell && (rc = lb_gen_new(&sb.gen, err)) != LB_OK)
        goto done;
    rc = fids ? lb_store_scan_fids(st, layer, fids, nfids, on_row, &sb, &s->revision, err)
              : lb_store_scan_layer(st, layer, on_row, &sb, &s->revision, err);
    if (rc != LB_OK)
        goto done;
    /* fix up string pointers (the pools no longer move) */
    s->strings_len = sb.sp.buf.len + sb.source_pool.len;
    s->strings = malloc(s->strings_len + 1);
    if (!s->strings)
        goto oom;
    if (sb.sp.buf.len)
        memcpy(s->strings, sb.sp.buf.data, sb.sp.buf.len);
    if (sb.source_pool.len)
        memcpy(s->strings + sb.sp.buf.len, sb.source_pool.data, sb.source_pool.len);
    for (size_t i = 0; i < s->ninfos * s->nprops; i++)
        if (s->values[i].type == LB_VAL_STR)
            s->values[i].str = s->strings + ((uintptr_t)s->values[i].str - 1);
    for (uint32_t i = 0; i < s->ninfos; i++)
        s->infos[i].source = s->strings + sb.sp.buf.len + sb.source_off[i];
    if (!rank_classes(s, &sb.full.lv, gen_cell != NULL) || !order_full_level(s, &sb.full))
        goto oom;
    /* levels of detail below the full one */
    for (size_t i = 0; i < NLOD && s->nlevels < LB_SNAP_MAX_LEVELS - 1; i++) {
        if (lod_zooms[i] > grid->max_zoom)
            break;
        builder b = {0};
        if (!build_lod(s, &sb.full.lv, lod_zooms[i], &b)) {
            level_free(&b.lv);
            goto oom;
        }
        s->levels[s->nlevels++] = b.lv;
    }
    s->levels[s->nlevels++] = sb.full.lv;
    sb.full.lv = (lb_snap_level){0};
    goto done;
oom:
    rc = lb_fail(err, LB_ENOMEM, "out of memory building snapshot of '%s'", layer);
done:
    level_free(&sb.full.lv);
    lb_buf_free(&sb.sp.buf);
    lb_buf_free(&sb.source_pool);
    lb_buf_free(&sb.tmp);
    free(sb.source_off);
    free(sb.tv);
    free(sb.gs.key);
    free(sb.gs.info);
    free(sb.xs);
    free(sb.okflags);
    if (sb.ct)
        OCTDestroyCoordinateTransformation(sb.ct);
    lb_gen_free(sb.gen);
    if (src)
        OSRDestroySpatialReference(src);
    if (dst)
        OSRDestroySpatialReference(dst);
    if (rc != LB_OK) {
        snapshot_free(s);
        return rc;
    }
    *out = s;
    return LB_OK;
}

lb_status lb_snapshot_build(lb_store *st, const lb_config *cfg, const char *layer,
                            const lb_tms *grid, const char *const *props, size_t nprops,
                            lb_snapshot **out, lb_error *err)
{
    return build_impl(st, cfg, layer, grid, props, nprops, NULL, NULL, NULL, 0, out, err);
}

lb_status lb_snapshot_build_fids(lb_store *st, const lb_config *cfg, const char *layer,
                                 const lb_tms *grid, const char *const *props, size_t nprops,
                                 const int64_t *fids, size_t nfids, lb_snapshot **out,
                                 lb_error *err)
{
    int64_t none = 0;
    return build_impl(st, cfg, layer, grid, props, nprops, NULL, NULL, nfids ? fids : &none,
                      nfids, out, err);
}

lb_status lb_snapshot_build_generalised(lb_store *st, const lb_config *cfg, const char *layer,
                                        const lb_tms *grid, const char *const *props,
                                        size_t nprops, lb_gen_cell_fn gen_cell, void *ud,
                                        lb_snapshot **out, lb_error *err)
{
    if (!gen_cell)
        return lb_fail(err, LB_EINVAL, "no generalisation rule");
    return build_impl(st, cfg, layer, grid, props, nprops, gen_cell, ud, NULL, 0, out, err);
}

lb_snapshot *lb_snapshot_base(const lb_snapshot *s) { return s->base; }
