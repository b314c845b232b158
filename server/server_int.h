/*
 * Private interfaces of the HTTP service (server/): the serving state, the
 * route table, response helpers and the tile cache.
 */
#ifndef LB_SERVER_INT_H
#define LB_SERVER_INT_H

#include <civetweb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lagebild/access.h"
#include "lagebild/audit.h"
#include "lagebild/config.h"
#include "lagebild/fusion.h"
#include "lagebild/style.h"
#include "lagebild/tiler.h"
#include "lagebild/util.h"

#define LB_NGRIDS 2

/* ---- Areas (server/area.c) ------------------------------------------------
 * An area's edges in one grid's CRS, indexed by horizontal bands: the edges
 * whose y extent meets band b are idx[start[b]] .. idx[start[b + 1] - 1]. */
typedef struct lb_area_edges {
    double *e; /* x0, y0, x1, y1 per edge */
    size_t n;
    uint32_t *start, *idx;
    int nb;
    double y0, y1, inv_h; /* the bands cover [y0, y1]; 1 / band height */
} lb_area_edges;

/* Area limit rings projected to one grid's CRS. */
typedef struct lb_srv_area {
    lb_ring *rings;
    double *xy;
    size_t nrings;
    double box[4]; /* minx, miny, maxx, maxy of its finite points; minx > maxx: none */
    lb_area_edges edges; /* its edges, as its mask draws them */
    double *firsts;      /* the first point of each ring (nfirsts of them) */
    size_t nfirsts;
} lb_srv_area;

/* The edges of a's rings as its mask draws them (points with a non-finite
 * coordinate skipped, every ring closed); false when out of memory. */
bool lb_area_edges_build(lb_area_edges *ae, const lb_srv_area *a);
void lb_area_edges_free(lb_area_edges *ae);
/* The winding number of the area around (x, y): not zero inside it (the
 * non-zero rule of its mask, so a hole is outside). */
int lb_area_winding(const lb_area_edges *ae, double x, double y);
/* The part of segment a-b inside the closed box q into ca, cb; false when
 * there is none. */
bool lb_area_clip_seg(const double q[4], const double *a, const double *b, double *ca, double *cb);
/* Whether the closed box b lies wholly inside the area. */
bool lb_area_covers_box(const lb_area_edges *ae, const double b[4]);
/* Whether the closed box b meets area a (its boundary crosses the box, the
 * box lies inside it, or a part of it lies inside the box). */
bool lb_area_meets_box(const lb_srv_area *a, const double b[4]);

/*
 * A region: the closed box q, within an area (NULL: the box alone).  cand
 * are points of the region's boundary, at least one in each of its parts (a
 * polygon that contains a part wholly is found by them).
 */
typedef struct lb_area_region {
    double q[4];
    const lb_area_edges *area;
    const double *cand;
    size_t ncand;
} lb_area_region;

/* Whether a feature's geometry (box: its box) meets the region. */
bool lb_area_region_meets(const lb_area_region *r, const lb_feature_geom *g, const double box[4]);

/*
 * What changed in a layer since `floor` (the revision its log starts at), one
 * entry per changed feature version: the revision, its box in each grid's CRS
 * (old and new version each an entry, widened by a little), the box of the
 * cells its generalised form covers in each grid's CRS (when a generalised
 * snapshot draws it), its label and its source.  A cache key of a layer tile
 * names, instead of the layer's revision, the newest revision that changed
 * something in that tile the drawing pass may see (floor if none): for an
 * exact class a version of its label whose box meets the tile, for a
 * generalised class (label and source) a version of that label and source
 * whose cells meet it.  An entry is still valid as long as that does not
 * change, so a push invalidates exactly the tiles it touches, for exactly
 * the principals that may see the change.  Immutable and reference-counted;
 * a new revision gets a copy with its entries appended.
 */
typedef struct lb_chlog_entry {
    int64_t rev;
    double box[LB_NGRIDS][4];  /* minx, miny, maxx, maxy in the grid's CRS */
    double gbox[LB_NGRIDS][4]; /* of its generalised form (the cells drawn), when gen */
    lb_label label;
    int32_t source; /* index into cfg->sources; -1: not known (counts for every source) */
    bool gen;       /* a generalised snapshot draws it: gbox is where (infinite: not known) */
    /* the old and the new form of one feature, alike but for the member
     * flag and fused label (a report joining or leaving a cluster): drawn
     * differently only by a pass that hides one form behind its fused
     * feature and not the other (lb_chlog_moves) */
    bool mship;
    bool member[2];
    lb_label fused[2];
    uint64_t cell; /* scratch of the log's compaction (server/live.c) */
} lb_chlog_entry;

typedef struct lb_chlog {
    atomic_int refs;
    int64_t floor, last; /* revisions: entries are in (floor, last] */
    size_t n;
    lb_chlog_entry v[];
} lb_chlog;

/* entries of one kind (label, source, snapshot kind, membership) kept;
 * beyond it they merge place by place (live.c log_compact) */
#define LB_CHLOG_KIND_MAX 256
#define LB_CHLOG_MAX 16384 /* entries kept in all (a tile request reads them) */

lb_chlog *lb_chlog_ref(lb_chlog *log);
void lb_chlog_unref(lb_chlog *log);

/*
 * When each (source, label) of a layer last changed (lb_store_label_times),
 * read when the state is built: layers.json gives a principal the newest of
 * the ones it may see.  Immutable, reference-counted (derived states share).
 */
typedef struct lb_label_times {
    atomic_int refs;
    size_t n;
    lb_label_time v[];
} lb_label_times;

typedef struct lb_srv_layer {
    const lb_layer_cfg *cfg;
    lb_style *style;
    lb_snapshot *snap[LB_NGRIDS]; /* per grid */
    lb_snapshot *gen[LB_NGRIDS];  /* generalised features (owner release rules), or NULL */
    lb_label_times *times;        /* per (source, label), or NULL (none known) */
    lb_chlog *log;                /* changes since a floor revision, or NULL (none known) */
} lb_srv_layer;

/*
 * Everything a request reads, immutable once built and reference-counted:
 * a reload builds a new state beside the old and swaps it in.
 */
typedef struct lb_state_shared lb_state_shared;

typedef struct lb_state {
    atomic_int refs;
    lb_config *cfg;       /* these three belong to `shared`: a state derived by */
    lb_access *access;    /* a push (lb_state_derive) shares them with the state */
    lb_srv_area *areas[LB_NGRIDS]; /* it came from; per grid, per access area */
    lb_state_shared *shared;
    lb_srv_layer *layers; /* parallel to cfg->layers; own snapshot references */
    uint64_t generation;  /* of the config load: equal in derived states */
} lb_state;

typedef struct lb_cache lb_cache;
typedef struct lb_live lb_live;

typedef struct lb_server {
    const char *config_path;
    const char *listen;
    int threads;
    struct mg_context *ctx;
    pthread_mutex_t state_lock;
    lb_state *state;
    lb_cache *cache;
    lb_audit *audit;
    lb_live *live; /* push ingest, publisher, events (live.c) */
    int port; /* actual listening port */
    bool log_requests;
    /* metrics */
    atomic_ullong requests, tiles_rendered, cache_hits, not_found, unauthorized, errors;
    atomic_ullong class_lists; /* lists of the classes in a tile made (maps.c get_classes) */
    /* layer canvases (and composites) served from the cache; of all cache
     * hits those on entries made for other rights (content-keyed sharing);
     * nanoseconds waited to make such a first look as slow as a render */
    atomic_ullong layer_hits, shared_hits, shared_wait_ns;
    /* where tile CPU goes: composites encoded to PNG, thread CPU time spent
     * making layer canvases (render, mask, pack, cache) and encoding */
    atomic_ullong tiles_encoded, layer_cpu_ns, encode_cpu_ns;
    atomic_ullong reloads, reload_failures;
    double started;
} lb_server;

/* The current state with a reference held (release with lb_state_release). */
lb_state *lb_server_state(lb_server *srv);
void lb_state_release(lb_state *st);
lb_status lb_state_build(const char *config_path, lb_state **out, char **diag);
/*
 * A new state equal to st except that layer index li has the snapshots
 * snap/gen (references taken).  Shares config, access and styles with st.
 */
/* log: the layer's change log in the new state (a reference is taken), or
 * NULL when none can be kept (keys then name the layer's revision). */
lb_state *lb_state_derive(lb_state *st, size_t li, lb_snapshot *const snap[LB_NGRIDS],
                          lb_snapshot *const gen[LB_NGRIDS], lb_chlog *log);
/* Whether layer li has owner-set release rules (generalised snapshots). */
bool lb_state_layer_generalised(const lb_state *st, size_t li);
/* The delta snapshots (per grid) of the features fids (sorted) of layer li, as committed now. */
lb_status lb_state_build_delta(lb_state *st, lb_store *store, size_t li, const int64_t *fids,
                               size_t n, lb_snapshot *delta[LB_NGRIDS], lb_error *err);
/* Build the snapshots of layer li of st from the store (as committed now). */
lb_status lb_state_build_layer(lb_state *st, lb_store *store, size_t li,
                               lb_snapshot *snap[LB_NGRIDS], lb_snapshot *gen[LB_NGRIDS],
                               lb_error *err);

/* ---- request context ---- */

typedef struct lb_req {
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    lb_server *srv;
    lb_state *st;
    const lb_token_cfg *principal; /* NULL: not authenticated */
    lb_token_cfg *jwt_principal;   /* principal from a JWT, owned; freed after the request */
    bool token_in_query;
    const char *token; /* as presented (for TileJSON URLs), NULL if header */
    char *segs[12];    /* path segments (decoded, owned) */
    int nseg;
    char logged[136];  /* the principal for the request log when principal was
                        * let go before the log line (an event stream) */
    int status;        /* sent status, for the request log */
    size_t bytes;      /* sent body bytes */
} lb_req;

/* ---- responses (http.c) ---- */

void lb_http_send(lb_req *r, int status, const char *ctype, const void *body, size_t len,
                  const char *extra_headers);
/* The Access-Control-Allow-Origin line (with its CRLF) of every answer, from
 * the config's cors_origin ("*" when unset; empty for "none" or an origin
 * that is too long or holds a line break). */
#define LB_HTTP_CORS_MAX 300
void lb_http_cors(const lb_req *r, char buf[LB_HTTP_CORS_MAX]);
/* The head lb_http_send writes for these arguments, into buf (cap bytes);
 * its length, 0 when it does not fit. */
size_t lb_http_head(const lb_req *r, int status, const char *ctype, size_t len,
                    const char *extra_headers, char *buf, size_t cap);
/* Send msg, a head of head_len bytes (lb_http_head) followed by its body, in
 * one write; false (nothing sent) when head_len is 0 or the request is a
 * HEAD, which gets lb_http_send instead. */
bool lb_http_send_whole(lb_req *r, int status, const uint8_t *msg, size_t head_len,
                        size_t body_len);
/* The single "not found / not cleared" answer: identical bytes in every case. */
void lb_http_not_found(lb_req *r);
void lb_http_unauthorized(lb_req *r);
void lb_http_error(lb_req *r, int status, const char *msg);
/* Value of query parameter name (case-insensitive key), URL-decoded into buf. */
bool lb_http_query(const lb_req *r, const char *name, char *buf, size_t n);
/* The same over a raw query string (NULL allowed); false when absent or malformed. */
bool lb_kvp_get(const char *query, const char *name, char *buf, size_t n);
/*
 * Split a raw (not URL-decoded) path into at most max decoded segments
 * (malloc'ed, caller frees each).  -1 for anything but a plain path: no
 * leading '/', empty or "."/".." segments, a trailing '/', a segment that
 * decodes to contain '/', '\\' or NUL, malformed escapes, > 256 bytes per
 * segment or > 2047 in all.
 */
int lb_http_split_path(const char *uri, char **segs, int max);

/* ---- tile cache (cache.c) ---- */

lb_cache *lb_cache_new(size_t max_bytes);
void lb_cache_free(lb_cache *c);
/* Copy of the cached bytes for key (caller frees), or NULL. */
uint8_t *lb_cache_get(lb_cache *c, const char *key, size_t *len);
void lb_cache_put(lb_cache *c, const char *key, const uint8_t *data, size_t len);
/*
 * The same for entries shared by different rights: viewer (non-zero) names
 * the rights asking; put records the maker as a viewer and what making the
 * content cost (cost_ns); get returns that cost (NULL allowed) and sets
 * *first_look when viewer had not asked for the entry before (it is
 * remembered from now on).
 */
uint8_t *lb_cache_get_as(lb_cache *c, const char *key, size_t *len, uint64_t viewer,
                         uint64_t *cost_ns, bool *first_look);
void lb_cache_put_as(lb_cache *c, const char *key, const uint8_t *data, size_t len,
                     uint64_t viewer, uint64_t cost_ns);
/*
 * Cached bytes without copying them: an immutable, reference-counted blob.
 * lb_cache_get_blob returns a reference (or NULL) as lb_cache_get_as does;
 * lb_cache_put_blob stores b under key (taking a reference of its own: the
 * caller still holds and unrefs its one).  A blob is never written after it
 * is put.
 */
typedef struct lb_blob {
    atomic_int refs;
    size_t len;
    uint8_t *data; /* len bytes: right after the struct, or adopted */
} lb_blob;
lb_blob *lb_blob_new(size_t len); /* one reference; NULL when out of memory */
/* A blob of the malloc'ed len bytes at data (one reference), which it frees
 * with itself; on NULL (out of memory) data is freed at once. */
lb_blob *lb_blob_adopt(uint8_t *data, size_t len);
void lb_blob_unref(lb_blob *b); /* NULL allowed */
lb_blob *lb_cache_get_blob(lb_cache *c, const char *key, uint64_t viewer, uint64_t *cost_ns,
                           bool *first_look);
void lb_cache_put_blob(lb_cache *c, const char *key, lb_blob *b, uint64_t viewer,
                       uint64_t cost_ns);
void lb_cache_clear(lb_cache *c);
size_t lb_cache_bytes(lb_cache *c);

/* ---- rendering for a principal (maps.c) ---- */

/*
 * Render map tile for r->principal; 0 when done, else an HTTP status.  On 0,
 * *png is a reference to the cached entry (unref it when sent), sent as it
 * is, not copied per request:
 *   bytes 0-7     the ETag hash (a uint64_t),
 *   bytes 8-9     H, the length of the head of its 200 response (uint16_t;
 *                 0: it did not fit),
 *   up to byte LB_TILE_PNG_AT  that head (lb_http_head), in its last H bytes,
 *   then          the PNG.
 * Head and PNG lie together, so a 200 goes out in one write without a copy.
 */
#define LB_TILE_HEAD_AT 8
#define LB_TILE_PNG_AT 640
/* The head of a tile's 200 answer (routes.c): lb_http_head with its ETag. */
size_t lb_tile_head(const lb_req *r, const char *etag, size_t png_len, char *buf, size_t cap);
int lb_maps_render_tile(lb_req *r, const lb_map_cfg *map, int grid, int z, long x, long y,
                        int scale, lb_blob **png, char etag[40]);

/* Free the buffers tile requests keep between requests (at shutdown). */
void lb_maps_scratch_free(void);
lb_status lb_maps_render_layer_area(lb_state *st, const lb_srv_layer *L, const lb_grant *g,
                                    int grid, double minx, double miny, double maxx,
                                    double maxy, double zoom, double scale, lb_canvas *c);

/* The map's layers visible to r->principal now (map NULL: a map that does
 * not exist, none, at a hidden map's cost), with their grants, in arrays
 * of map->nlayers entries it allocates on the heap (an lb_grant is ~700
 * bytes; civetweb's worker stacks are ~100 kB): the count, or -1 when out of
 * memory.  The caller frees *layers and *grants, whatever the result. */
int lb_maps_visible(lb_req *r, const lb_map_cfg *map, const lb_srv_layer ***layers,
                    lb_grant **grants);

/* Render a static map of bbox (grid CRS) to a canvas for r->principal, on all cores. */
int lb_maps_render_static(lb_req *r, const lb_map_cfg *map, int grid, double minx, double miny,
                          double maxx, double maxy, lb_canvas *out);

/* WMTS (wmts.c) */
void lb_wmts_capabilities(lb_req *r);
void lb_wmts_kvp(lb_req *r);
void lb_wmts_rest(lb_req *r);
/* Shared tile answer used by XYZ, WMTS KVP and REST. */
void lb_serve_tile(lb_req *r, const char *map_id, int grid, long z, long x, long y, int scale);
/* Send text, gzip-compressed when the client accepts it. */
void lb_http_send_text(lb_req *r, int status, const char *ctype, const char *body, size_t len,
                       const char *extra);

/* Viewer support (viewer.c) */
void lb_viewer_layers(lb_req *r);
void lb_viewer_classification(lb_req *r);
void lb_viewer_file(lb_req *r);
void lb_viewer_page(lb_req *r);

/* Append an audit record for a request that released data (routes.c). */
void lb_audit_request(lb_req *r, const char *resource, const char *outcome);

/* Live picture (live.c): push ingest, publisher thread, Server-Sent Events. */
lb_live *lb_live_start(lb_server *srv);
/* Tell /events handlers and the publisher to finish (before mg_stop). */
void lb_live_wake_subscribers(lb_live *lv);
void lb_live_stop(lb_live *lv);
void lb_live_metrics(lb_live *lv, lb_buf *b);
/* After a reload: republish the live layers on the new state. */
void lb_live_reloaded(lb_live *lv);
void lb_live_push(lb_req *r);
void lb_live_delete(lb_req *r);
void lb_live_events(lb_req *r);

/* Handlers (routes.c) */
void lb_routes_dispatch(lb_req *r);

/*
 * Conflation: a report merged into a fused feature is hidden, in the pass of
 * area `area` (-1: unlimited) of a principal's grant, when that pass shows
 * the fused feature instead: a clearance of that area or an unlimited one
 * allows the fused label (lb_grant_allows_in).  Outside an area whose role
 * alone sees the fused feature, the report stays as the other roles see it.
 * Every predicate deciding what a principal receives applies this on top of
 * the feature's own label.
 */
static inline bool lb_feature_superseded(const lb_feature_info *fi, const lb_grant *g, int area)
{
    return fi->member && lb_grant_allows_in(g, area, &fi->fused);
}

/* Whether log entry c can change what the pass of area `area` of g draws
 * of its label: any change can, but a membership change (c->mship) only
 * where the pass hides one of its forms and not the other. */
static inline bool lb_chlog_moves(const lb_chlog_entry *c, const lb_grant *g, int area)
{
    if (!c->mship)
        return true;
    lb_feature_info a = {.label = c->label, .member = c->member[0], .fused = c->fused[0]};
    lb_feature_info b = {.label = c->label, .member = c->member[1], .fused = c->fused[1]};
    return lb_feature_superseded(&a, g, area) != lb_feature_superseded(&b, g, area);
}

/* Whether the pass of area `area` of g draws a feature of this label
 * generalised, from source index src of cfg (-1: not known, so any source). */
static inline bool lb_grant_draws_gen_from(const lb_grant *g, int area, const lb_label *label,
                                           const lb_config *cfg, int32_t src)
{
    for (size_t s = 0; s < cfg->nsources; s++)
        if ((src < 0 || (size_t)src == s) &&
            lb_grant_draws(g, area, label, &cfg->sources[s]) == LB_DRAW_GEN)
            return true;
    return false;
}

#endif
