/*
 * This file implements the live picture: push ingest over HTTP
 * (POST /sources/{source}/features, DELETE /sources/{source}/features/{id}),
 * the publisher that turns committed revisions into new layer snapshots,
 * and Server-Sent Events (GET /events) to every connected principal that may
 * see a change.
 *
 * Flow of one push:
 *   handler --lb_ingest_push (one durable transaction)--> committed revision
 *           --enqueue (layer, changes) under write_mu, in commit order--> 2xx
 *   publisher thread: takes every pending change, per layer builds the new
 *           snapshots beside the old ones (lb_state_build_layer), swaps in a
 *           derived state (lb_state_derive) under srv->state_lock, then sends
 *           each subscriber the event of the changes it may see.
 *
 * Invariants:
 *   1. A state's snapshots of one layer are all of one revision (every grid,
 *      exact and generalised), so a tile never mixes two revisions.
 *   2. Nothing is acknowledged before it is committed (synchronous=FULL);
 *      the store is the truth, snapshots are rebuilt from it, so a restart
 *      serves exactly what was committed.
 *   3. An event reaches a principal only when at least one version (old or
 *      new) of a changed feature is visible to it under its current grant
 *      for that layer, and tells no more than its tiles show: its box
 *      covers only such versions, each as drawn for it (exactly, or only by
 *      the cells of its generalised form) and only where it meets the area
 *      polygon of the clearances that see it; a change whose generalised
 *      form stays the same cells is no event.  The revision it names is an
 *      opaque tag (keyed hash of layer and revision), never the number:
 *      gaps in numbers would count the changes it cannot see.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cpl_error.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <openssl/rand.h>

#include "lagebild/generalise.h"
#include "live_int.h"

/* One /events connection. */
typedef struct sub {
    struct sub *next;
    char principal[136];
    /* a JWT's principal has no entry in the config: its role ids and
     * expiry are kept (nroles 0: a configured principal, found by name) */
    char **roles;
    size_t nroles;
    time_t expires;
    /* a configured principal: the hash of the token that opened the stream;
     * events go only while the config still holds it for this principal */
    char hash[80];
    lb_buf queue; /* event text not yet written */
    bool gone;
    bool ended; /* a reload took its token away (or it is a JWT's): end it */
} sub;

static void sub_free(sub *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nroles; i++)
        free(s->roles[i]);
    free(s->roles);
    lb_buf_free(&s->queue);
    free(s);
}

typedef struct live_layer live_layer;

struct lb_live {
    lb_server *srv;
    pthread_t thread, compactor;
    bool started;
    pthread_cond_t ccv; /* wakes the compactor (with mu) */
    live_layer *layers; /* incremental layers (under mu) */
    double compact_age;  /* COMPACT_AGE_S, or LAGEBILD_COMPACT_AGE_S (tests) */
    /* pending changes and the publisher's wake-up */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pending *head, *tail;
    bool stop;
    /* writers: one connection, one push at a time (SQLite has one writer) */
    pthread_mutex_t write_mu;
    lb_store *wstore;
    char *wpath;
    /* subscribers */
    pthread_mutex_t sub_mu;
    pthread_cond_t sub_cv;
    sub *subs;
    int nsubs, max_subs; /* each stream holds a worker thread */
    unsigned char secret[32];
    uint8_t diff_key[16]; /* lb_snapshot_diff's hash key */
    /* metrics */
    atomic_ullong pushes, push_features, events, publishes;
    /* lon/lat -> each grid's CRS, for change logs (publisher thread only) */
    OGRCoordinateTransformationH grid_ct[LB_NGRIDS];
    bool grid_ct_tried;
};

/* ---- helpers ------------------------------------------------------------ */

static void pending_free(pending *p)
{
    if (!p)
        return;
    free(p->layer);
    free(p->source);
    lb_changes_free(p->changes, p->nchanges);
    free(p);
}

static const lb_token_cfg *principal_by_name(const lb_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ntokens; i++)
        if (strcmp(cfg->tokens[i].principal, name) == 0)
            return cfg->tokens[i].revoked ? NULL : &cfg->tokens[i];
    return NULL;
}

/* Opaque, unlinkable tag of (layer, revision) for events. */
static void revision_tag(const lb_live *lv, const char *layer, int64_t rev, char out[17])
{
    lb_buf b = {0};
    lb_buf_printf(&b, "%s|%lld|", layer, (long long)rev);
    for (size_t i = 0; i < sizeof lv->secret; i++)
        lb_buf_printf(&b, "%02x", lv->secret[i]);
    char hex[65];
    lb_sha256_hex(b.data ? b.data : "", b.len, hex);
    lb_buf_free(&b);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

/* ---- publisher ------------------------------------------------------------ */

static size_t layer_index(const lb_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->nlayers; i++)
        if (strcmp(cfg->layers[i].id, id) == 0)
            return i;
    return SIZE_MAX;
}

/* The grant of subscriber s on layer (under sub_mu); false: it sees nothing of it. */
static bool sub_grant(const lb_state *st, sub *s, const char *layer, time_t now,
                      lb_grant *g)
{
    /* a JWT principal: its roles as the current config defines them, until
     * its token expires (unknown role ids grant nothing) */
    lb_token_cfg jp = {.principal = s->principal, .roles = s->roles, .nroles = s->nroles};
    const lb_token_cfg *p = s->nroles ? (now < s->expires ? &jp : NULL)
                                      : principal_by_name(st->cfg, s->principal);
    if (p && !s->nroles && (!p->hash || strcmp(p->hash, s->hash) != 0))
        p = NULL; /* its token was replaced: not the holder of this stream's */
    return !s->ended && p && lb_access_layer(st->access, p, layer, now, g);
}

/* Whether two grants have the same clearances (all visible_box looks at). */
static bool same_rights(const lb_grant *a, const lb_grant *b)
{
    if (a->n != b->n)
        return false;
    for (int k = 0; k < a->n; k++)
        if (a->c[k].area != b->c[k].area || !lb_label_eq(&a->c[k].label, &b->c[k].label))
            return false;
    return true;
}

typedef struct ev_grant {
    lb_grant g;
    bool have;
    double box[4];
} ev_grant;

/*
 * Send the event of these changes to every subscriber that may see them
 * (made: their ev_ctx when the caller has one, of a state of st's config;
 * else NULL).  The boxes are worked out once per distinct grant, outside
 * sub_mu (stream threads take it for every write); a subscriber whose grant
 * was not among them (it connected meanwhile) gets its own under the lock.
 */
static void notify(lb_live *lv, lb_state *st, const char *layer, int64_t rev, const pending *ps,
                   ev_ctx *made)
{
    char tag[17];
    revision_tag(lv, layer, rev, tag);
    time_t now = time(NULL);
    ev_ctx *c = made ? made : lb_ev_new(st, layer, ps);
    if (!c) {
        fprintf(stderr, "lagebild serve: events for %s: out of memory\n", layer);
        return;
    }
    CPLPushErrorHandler(CPLQuietErrorHandler); /* GEOS on odd geometries: fail closed, quietly */
    ev_grant *gs = NULL;
    size_t ng = 0, cap = 0;
    pthread_mutex_lock(&lv->sub_mu);
    for (sub *s = lv->subs; s; s = s->next) {
        lb_grant g;
        if (s->gone || !sub_grant(st, s, layer, now, &g))
            continue;
        bool known = false;
        for (size_t i = 0; i < ng && !known; i++)
            known = same_rights(&gs[i].g, &g);
        if (known)
            continue;
        if (ng == cap) {
            size_t nc = cap ? 2 * cap : 8;
            ev_grant *p = realloc(gs, nc * sizeof *p);
            if (!p)
                continue; /* worked out under the lock below */
            gs = p;
            cap = nc;
        }
        gs[ng++].g = g;
    }
    pthread_mutex_unlock(&lv->sub_mu);
    for (size_t i = 0; i < ng; i++)
        gs[i].have = lb_ev_visible_box(c, &gs[i].g, gs[i].box);
    pthread_mutex_lock(&lv->sub_mu);
    for (sub *s = lv->subs; s; s = s->next) {
        lb_grant g;
        if (s->gone || !sub_grant(st, s, layer, now, &g))
            continue;
        const ev_grant *e = NULL;
        for (size_t i = 0; i < ng && !e; i++)
            if (same_rights(&gs[i].g, &g))
                e = &gs[i];
        bool have;
        double box[4] = {0, 0, 0, 0};
        if (e) {
            have = e->have;
            memcpy(box, e->box, sizeof box);
        } else {
            have = lb_ev_visible_box(c, &g, box);
        }
        if (!have)
            continue;
        lb_buf_printf(&s->queue,
                      "data: {\"layer\":\"%s\",\"revision\":\"%s\","
                      "\"bbox\":[%.7f,%.7f,%.7f,%.7f]}\n\n",
                      layer, tag, box[0], box[1], box[2], box[3]);
        atomic_fetch_add(&lv->events, 1);
    }
    pthread_cond_broadcast(&lv->sub_cv);
    pthread_mutex_unlock(&lv->sub_mu);
    CPLPopErrorHandler();
    free(gs);
    if (!made)
        lb_ev_free(c);
}

/*
 * The change-log entries of layer li's changes in batch (an incremental
 * layer), one per feature version, in batch order: revision, label,
 * source, the exact box in each grid's CRS.  Layers rebuilt whole take
 * theirs from the difference of the snapshots (diff_entries).  Worked out
 * before the state lock is taken (PROJ).
 */
typedef struct log_adds {
    lb_chlog_entry *v;
    size_t n, cap;
    bool ok; /* false: an exact box could not be placed, or out of memory */
    /* diff_entries: the entries are every change from the layer's snapshots
     * in this state's predecessor (whose first grid's snapshot is from) to
     * the new ones, whatever the batch says */
    const lb_snapshot *from;
} log_adds;

static log_adds log_entries(lb_live *lv, const lb_state *st, size_t li, const pending *batch);

/* Whether layer li is conflated: by its config, or by fused features the
 * store still holds (conflate: dropped, not yet re-ingested). */
static bool layer_conflated(const lb_state *st, lb_store *rs, size_t li)
{
    return st->cfg->layers[li].conflate_distance_m > 0 ||
           (rs && lb_store_layer_conflated(rs, st->cfg->layers[li].id));
}
static log_adds diff_entries(lb_live *lv, const lb_state *st, size_t li,
                             lb_snapshot *const snap[LB_NGRIDS],
                             lb_snapshot *const gen[LB_NGRIDS], int64_t rev, ev_ctx *ev,
                             bool conflated);
static void log_adds_free(log_adds *a);
static void adds_compact(log_adds *a);
static lb_chlog *log_extend(const lb_state *cur, size_t li, int64_t rev, const pending *batch,
                            const log_adds *adds);

/*
 * Publish one layer: build its snapshots from rs (the publisher's read
 * connection to the store at rs_path, inside the read transaction the round
 * began when it took ps, so the snapshots are of the newest revision ps
 * explains, and its change log holds), swap them in, notify.  false: retry
 * (a reload changed the config meanwhile, or, when rs is not in a read
 * transaction, a commit fell between two grids' reads).
 */
static bool publish_layer(lb_live *lv, lb_store *rs, const char *rs_path, const char *layer,
                          const pending *ps)
{
    lb_server *srv = lv->srv;
    lb_state *st = lb_server_state(srv);
    size_t li = layer_index(st->cfg, layer);
    bool done = true;
    lb_error err = {0};
    if (li == SIZE_MAX || !rs || strcmp(rs_path, st->cfg->store_path) != 0) {
        /* the layer is gone from the config, or the store could not be
         * opened, or a reload moved to another store (and built the layer
         * from it) */
        if (li != SIZE_MAX && !rs)
            fprintf(stderr, "lagebild serve: publish %s: cannot open the store\n", layer);
        lb_state_release(st);
        return true;
    }
    lb_snapshot *snap[LB_NGRIDS], *gen[LB_NGRIDS];
    lb_status rc = lb_state_build_layer(st, rs, li, snap, gen, &err);
    if (rc != LB_OK) {
        if (rc != LB_EINTERNAL)
            fprintf(stderr, "lagebild serve: publish %s: %s\n", layer, err.msg);
        lb_state_release(st);
        return false;
    }
    int64_t rev = lb_snapshot_revision(snap[0]);
    /* the change log: the difference of the old and the new snapshots, which
     * names what is drawn differently whatever changed it (in a conflated
     * layer a push re-clusters fused features that are not among its rows;
     * in a generalised snapshot a unit moving inside its cell changes
     * nothing) */
    ev_ctx *ev = lb_ev_new(st, layer, ps);
    log_adds adds = diff_entries(lv, st, li, snap, gen, rev, ev, layer_conflated(st, rs, li));
    adds_compact(&adds);
    pthread_mutex_lock(&srv->state_lock);
    lb_state *cur = srv->state, *old = NULL, *ns = NULL;
    if (cur->generation != st->generation) {
        done = false; /* reloaded meanwhile: build again against the new config */
    } else if (lb_snapshot_revision(cur->layers[li].snap[0]) < rev) {
        lb_chlog *log = log_extend(cur, li, rev, ps, &adds);
        ns = lb_state_derive(cur, li, snap, gen, log);
        lb_chlog_unref(log);
        if (ns) {
            old = cur;
            srv->state = ns;
        } else {
            done = false;
        }
    }
    if (ns)
        atomic_fetch_add(&ns->refs, 1); /* for notify below */
    pthread_mutex_unlock(&srv->state_lock);
    lb_state_release(old);
    for (int g = 0; g < LB_NGRIDS; g++) {
        if (snap[g])
            lb_snapshot_unref(snap[g]);
        if (gen[g])
            lb_snapshot_unref(gen[g]);
    }
    log_adds_free(&adds);
    if (done) {
        atomic_fetch_add(&lv->publishes, 1);
        notify(lv, ns ? ns : st, layer, rev, ps, ev);
    }
    lb_ev_free(ev);
    lb_state_release(ns);
    lb_state_release(st);
    return done;
}

/* ---- incremental publishing --------------------------------------------- */

/* Compact (rebuild the base) when the changes since it pass this many
 * features or the base is this old. */
#define COMPACT_MIN_CHANGES 256
#define COMPACT_FRACTION 256
#define COMPACT_AGE_S 10.0

/*
 * A layer published incrementally: its full snapshots (base, per grid) and
 * every feature changed since, with the revision of its latest change.  The
 * state serves overlay(base, delta of those features, removed = them).
 */
typedef struct live_layer {
    struct live_layer *next;
    char *layer;
    uint64_t generation;
    lb_snapshot *base[LB_NGRIDS];
    int64_t base_rev;
    double base_time;
    int64_t *fid, *rev;
    size_t n, cap;
    bool dirty;
    /* compaction (compactor thread; next_* under lv->mu) */
    bool want_compact, compacting, next_ready;
    lb_snapshot *next_base[LB_NGRIDS];
    int64_t next_rev;
} live_layer;

static void ll_free(live_layer *ll)
{
    for (int g = 0; g < LB_NGRIDS; g++) {
        if (ll->base[g])
            lb_snapshot_unref(ll->base[g]);
        if (ll->next_base[g])
            lb_snapshot_unref(ll->next_base[g]);
    }
    free(ll->layer);
    free(ll->fid);
    free(ll->rev);
    free(ll);
}

static bool ll_add(live_layer *ll, int64_t fid, int64_t rev)
{
    if (ll->n == ll->cap) {
        size_t nc = ll->cap ? ll->cap * 2 : 64;
        int64_t *f = realloc(ll->fid, nc * sizeof *f);
        if (!f)
            return false;
        ll->fid = f;
        int64_t *r = realloc(ll->rev, nc * sizeof *r);
        if (!r)
            return false;
        ll->rev = r;
        ll->cap = nc;
    }
    ll->fid[ll->n] = fid;
    ll->rev[ll->n++] = rev;
    ll->dirty = true;
    return true;
}

/* Sort by fid, keep each fid once (its latest revision), drop those the base holds. */
static int cmp_fidrev(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    if (x[0] != y[0])
        return (x[0] > y[0]) - (x[0] < y[0]);
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static void ll_normalise(live_layer *ll)
{
    int64_t *pairs = malloc((ll->n ? ll->n : 1) * 2 * sizeof *pairs);
    if (!pairs)
        return;
    for (size_t i = 0; i < ll->n; i++) {
        pairs[2 * i] = ll->fid[i];
        pairs[2 * i + 1] = ll->rev[i];
    }
    qsort(pairs, ll->n, 2 * sizeof *pairs, cmp_fidrev);
    size_t k = 0;
    for (size_t i = 0; i < ll->n; i++) {
        if (i + 1 < ll->n && pairs[2 * (i + 1)] == pairs[2 * i])
            continue; /* a later change of the same feature follows */
        if (pairs[2 * i + 1] <= ll->base_rev)
            continue; /* the base already has it */
        ll->fid[k] = pairs[2 * i];
        ll->rev[k++] = pairs[2 * i + 1];
    }
    ll->n = k;
    free(pairs);
}

static void *compactor_main(void *arg);

/* The live layer of (layer, generation of st), made from st's snapshots. */
static live_layer *ll_get(lb_live *lv, lb_state *st, size_t li)
{
    const char *layer = st->cfg->layers[li].id;
    live_layer *old = NULL;
    for (live_layer *ll = lv->layers; ll; ll = ll->next)
        if (strcmp(ll->layer, layer) == 0) {
            if (ll->generation == st->generation)
                return ll;
            old = ll;
        }
    live_layer *ll = calloc(1, sizeof *ll);
    if (!ll || !(ll->layer = lb_strdup(layer))) {
        free(ll);
        return NULL;
    }
    ll->generation = st->generation;
    for (int g = 0; g < LB_NGRIDS; g++) {
        lb_snapshot *sn = st->layers[li].snap[g];
        if (sn && lb_snapshot_base(sn))
            sn = lb_snapshot_base(sn);
        ll->base[g] = sn ? lb_snapshot_ref(sn) : NULL;
    }
    ll->base_rev = ll->base[0] ? lb_snapshot_revision(ll->base[0]) : 0;
    ll->base_time = lb_now();
    if (old) {
        /* a reload replaced the config: carry the changes over (those the
         * new base does not hold yet); a base older than the previous one
         * misses changes that were folded into it: compact at once */
        for (size_t i = 0; i < old->n; i++)
            ll_add(ll, old->fid[i], old->rev[i]);
        if (old->base_rev > ll->base_rev)
            ll->want_compact = true;
        /* unlink and free the old one (the compactor skips old generations) */
        for (live_layer **pp = &lv->layers; *pp; pp = &(*pp)->next)
            if (*pp == old) {
                if (old->compacting) {
                    old->generation = 0; /* orphaned: the compactor frees it */
                } else {
                    *pp = old->next;
                    ll_free(old);
                }
                break;
            }
    }
    ll->next = lv->layers;
    lv->layers = ll;
    return ll;
}

/* The box of a lon/lat box in grid g's CRS, widened by a thousandth; false
 * when it cannot be transformed.  A side is a curve there, and a parallel's
 * extreme can lie between two points of it: a box up to 1 degree across is
 * placed by its corners and the middles of its sides (in the AdV grid off
 * by at most 31 m, against at least 75 m of widening), a larger one by 16
 * points per side (17 m against 849 m for 6..15 E x 47.5..55 N), a point
 * by itself. */
static bool grid_box(lb_live *lv, int g, const double ll[4], double out[4])
{
    if (!lv->grid_ct_tried) {
        lv->grid_ct_tried = true;
        size_t ngrids = 0;
        const lb_tms *grids = lb_tms_all(&ngrids);
        OGRSpatialReferenceH src = OSRNewSpatialReference(NULL);
        OSRSetFromUserInput(src, "EPSG:4326");
        OSRSetAxisMappingStrategy(src, OAMS_TRADITIONAL_GIS_ORDER);
        for (size_t i = 0; i < ngrids && i < LB_NGRIDS; i++) {
            OGRSpatialReferenceH dst = OSRNewSpatialReference(NULL);
            if (OSRSetFromUserInput(dst, grids[i].crs) == OGRERR_NONE) {
                OSRSetAxisMappingStrategy(dst, OAMS_TRADITIONAL_GIS_ORDER);
                lv->grid_ct[i] = OCTNewCoordinateTransformation(src, dst);
            }
            OSRDestroySpatialReference(dst);
        }
        OSRDestroySpatialReference(src);
    }
    if (!lv->grid_ct[g])
        return false;
    enum { STEPS = 16, N = 4 * STEPS };
    double x[N], y[N];
    int steps = ll[2] - ll[0] > 1 || ll[3] - ll[1] > 1 ? STEPS : 2, n = 4 * steps;
    if (ll[0] == ll[2] && ll[1] == ll[3])
        n = 1; /* a point: every sample the same */
    for (int i = 0; i < steps; i++) { /* south, east, north, west side */
        double f = (double)i / steps;
        x[i] = ll[0] + f * (ll[2] - ll[0]), y[i] = ll[1];
        x[steps + i] = ll[2], y[steps + i] = ll[1] + f * (ll[3] - ll[1]);
        x[2 * steps + i] = ll[2] - f * (ll[2] - ll[0]), y[2 * steps + i] = ll[3];
        x[3 * steps + i] = ll[0], y[3 * steps + i] = ll[3] - f * (ll[3] - ll[1]);
    }
    int ok[N] = {0};
    if (!OCTTransformEx(lv->grid_ct[g], n, x, y, NULL, ok))
        return false;
    out[0] = out[1] = INFINITY;
    out[2] = out[3] = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!ok[i] || !isfinite(x[i]) || !isfinite(y[i]))
            return false;
        out[0] = fmin(out[0], x[i]);
        out[1] = fmin(out[1], y[i]);
        out[2] = fmax(out[2], x[i]);
        out[3] = fmax(out[3], y[i]);
    }
    double w = fmax(out[2] - out[0], out[3] - out[1]) * 1e-3 + 1e-6;
    out[0] -= w;
    out[1] -= w;
    out[2] += w;
    out[3] += w;
    return true;
}

static void log_adds_free(log_adds *a)
{
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* A box that meets every tile: where a version lies is not known. */
static void box_everywhere(double b[4])
{
    b[0] = b[1] = -INFINITY;
    b[2] = b[3] = INFINITY;
}

static log_adds log_entries(lb_live *lv, const lb_state *st, size_t li, const pending *batch)
{
    log_adds a = {0};
    const char *layer = st->cfg->layers[li].id;
    size_t cap = 0;
    for (const pending *p = batch; p; p = p->next)
        if (strcmp(p->layer, layer) == 0)
            cap += 2 * p->nchanges;
    a.v = malloc((cap ? cap : 1) * sizeof *a.v);
    if (!a.v)
        return a;
    for (const pending *p = batch; p; p = p->next) {
        if (strcmp(p->layer, layer) != 0)
            continue;
        const lb_source_cfg *src = lb_config_source(st->cfg, p->source);
        bool rule = src && src->generalised_groups;
        for (size_t k = 0; k < p->nchanges; k++) {
            const lb_change *c = &p->changes[k];
            for (int side = 0; side < 2; side++) {
                if (!(side ? c->has_new : c->has_old))
                    continue;
                lb_chlog_entry *e = &a.v[a.n];
                memset(e, 0, sizeof *e);
                e->rev = p->revision;
                e->label = side ? c->new_label : c->old_label;
                e->source = src ? (int32_t)(src - st->cfg->sources) : -1;
                const double *bb = side ? c->new_box : c->old_box;
                for (int g = 0; g < LB_NGRIDS; g++)
                    if (!grid_box(lv, g, bb, e->box[g])) {
                        log_adds_free(&a);
                        return a; /* keys fall back to the revision */
                    }
                /* incremental layers have no generalised snapshots; were
                 * one drawn, its cells would count as anywhere (its
                 * tiles refreshed everywhere, never stale) */
                e->gen = rule;
                for (int g = 0; e->gen && g < LB_NGRIDS; g++)
                    box_everywhere(e->gbox[g]);
                a.n++;
            }
        }
    }
    a.ok = true;
    return a;
}

/* A box that meets no tile: the version is not drawn in this grid that way. */
static void box_nowhere(double b[4])
{
    b[0] = b[1] = INFINITY;
    b[2] = b[3] = -INFINITY;
}

/* One version lb_snapshot_diff reported, in one grid. */
typedef struct diff_rec {
    int64_t fid;
    int side, grid;
    bool gen, member;
    lb_label label, fused;
    int32_t source;
    uint64_t look; /* lb_snapshot_change_fn's */
    double box[4];
} diff_rec;

typedef struct diff_ctx {
    diff_rec *v;
    size_t n, cap;
    bool oom;
    const lb_config *cfg;
    int grid;
    bool gen;
    const char *last_src; /* source index cache */
    int32_t last_idx;
} diff_ctx;

static void on_diff(void *ud, int side, const lb_feature_info *fi, const double box[4],
                    uint64_t look)
{
    diff_ctx *d = ud;
    if (d->oom)
        return;
    if (d->n == d->cap) {
        size_t nc = d->cap ? 2 * d->cap : 64;
        diff_rec *v = realloc(d->v, nc * sizeof *v);
        if (!v) {
            d->oom = true;
            return;
        }
        d->v = v;
        d->cap = nc;
    }
    diff_rec *r = &d->v[d->n++];
    *r = (diff_rec){.fid = fi->fid, .side = side, .grid = d->grid, .gen = d->gen,
                    .member = fi->member, .label = fi->label, .source = -1, .look = look};
    if (fi->member)
        r->fused = fi->fused;
    memcpy(r->box, box, sizeof r->box);
    if (d->gen) {
        if (!d->last_src || !fi->source || strcmp(fi->source, d->last_src) != 0) {
            d->last_idx = -1;
            for (size_t i = 0; fi->source && i < d->cfg->nsources; i++)
                if (strcmp(d->cfg->sources[i].id, fi->source) == 0)
                    d->last_idx = (int32_t)i;
            d->last_src = fi->source;
        }
        r->source = d->last_idx; /* -1: counts for every source */
    }
}

/* The index of the Web Mercator grid, or -1. */
static int mercator_grid(void)
{
    size_t ngrids = 0;
    const lb_tms *grids = lb_tms_all(&ngrids);
    for (size_t g = 0; g < ngrids && g < LB_NGRIDS; g++)
        if (strcmp(grids[g].crs, "EPSG:3857") == 0)
            return (int)g;
    return -1;
}

/* A Web Mercator box in lon/lat, exactly (x and y are each monotonic). */
static void mercator_lonlat(const double m[4], double ll[4])
{
    const double R = 6378137.0, k = 180.0 / M_PI;
    ll[0] = m[0] / R * k;
    ll[2] = m[2] / R * k;
    ll[1] = atan(sinh(m[1] / R)) * k;
    ll[3] = atan(sinh(m[3] / R)) * k;
}

/* The records of d from the Web Mercator grid's snapshots, for events: the
 * generalised ones (where generalised versions count), and for a conflated
 * layer all (what the changes re-clustered). */
static void tell_events(ev_ctx *ev, const diff_ctx *d, bool conflated)
{
    int merc = mercator_grid();
    lb_ev_gen_change *v = malloc((d->n ? d->n : 1) * sizeof *v);
    lb_ev_snap_change *w = conflated ? malloc((d->n ? d->n : 1) * sizeof *w) : NULL;
    if (merc < 0 || !v || (conflated && !w)) {
        free(v);
        free(w);
        return; /* not known: events as before */
    }
    size_t n = 0, m = 0, prev = 0;
    for (size_t i = 0; i < d->n; i++) {
        const diff_rec *r = &d->v[i];
        if (r->grid != merc)
            continue;
        if (r->gen) {
            v[n] = (lb_ev_gen_change){.label = r->label, .source = r->source};
            mercator_lonlat(r->box, v[n++].box);
        }
        if (conflated) {
            w[m] = (lb_ev_snap_change){.label = r->label, .fused = r->fused,
                                       .member = r->member, .gen = r->gen, .source = r->source,
                                       .pair = -1};
            mercator_lonlat(r->box, w[m].box);
            /* the old and the new version of one feature, alike but for
             * the member flag and fused label (records are sorted by kind,
             * fid, side, source, label): a pair */
            const diff_rec *q = m ? &d->v[prev] : NULL;
            if (q && q->gen == r->gen && q->fid == r->fid && q->side == 0 && r->side == 1 &&
                q->source == r->source && q->look == r->look) {
                w[m - 1].pair = (long)m;
                w[m].pair = (long)m - 1;
            }
            prev = i;
            m++;
        }
    }
    lb_ev_gen_changes(ev, v, n);
    if (conflated)
        lb_ev_snap_changes(ev, w, m);
}

/* Records of one version (kind, fid, side; label and source, which are the
 * same for one version, so that no entry leaves a label out) next to each
 * other; 0: the same version. */
static int cmp_version(const void *a, const void *b)
{
    const diff_rec *x = a, *y = b;
    if (x->gen != y->gen)
        return x->gen ? 1 : -1;
    if (x->fid != y->fid)
        return x->fid < y->fid ? -1 : 1;
    if (x->side != y->side)
        return x->side < y->side ? -1 : 1;
    if (x->source != y->source)
        return x->source < y->source ? -1 : 1;
    return lb_label_cmp(&x->label, &y->label);
}

/* cmp_version, then the grid: a version's records in grid order. */
static int cmp_diff_rec(const void *a, const void *b)
{
    int c = cmp_version(a, b);
    if (c)
        return c;
    const diff_rec *x = a, *y = b;
    return (x->grid > y->grid) - (x->grid < y->grid);
}

/* The records [i, j) of an old version and [j, k) of a new one are one
 * feature alike but for its member flag and fused label: the same kind,
 * fid, label and source, and grid by grid the same look. */
static bool membership_pair(const diff_rec *v, size_t i, size_t j, size_t k)
{
    if (j - i != k - j || v[i].side != 0 || v[j].side != 1 || v[i].gen != v[j].gen ||
        v[i].fid != v[j].fid || v[i].source != v[j].source ||
        !lb_label_eq(&v[i].label, &v[j].label))
        return false;
    for (size_t n = 0; n < j - i; n++)
        if (v[i + n].grid != v[j + n].grid || v[i + n].look != v[j + n].look)
            return false;
    return true;
}

/*
 * The change-log entries of layer li from its snapshots in st to snap and
 * gen (of revision rev), by comparing them grid by grid: one entry for each
 * feature version one side has and the other has not, all of revision rev,
 * placed in every grid where it is drawn, exactly (box) or, for a
 * generalised snapshot's feature, as cells (gbox; its fid is its content,
 * the same in every grid).  So also for features a change re-clustered
 * without touching their rows (conflated layers), and nothing for what is
 * drawn as before (a unit moving inside its cell).  Not ok (keys by
 * revision) when a side lacks a grid's snapshot.  ev (optional) is told
 * what the generalised snapshots draw differently (lb_ev_gen_changes) and,
 * for a conflated layer, every version drawn differently
 * (lb_ev_snap_changes).
 */
static log_adds diff_entries(lb_live *lv, const lb_state *st, size_t li,
                             lb_snapshot *const snap[LB_NGRIDS],
                             lb_snapshot *const gen[LB_NGRIDS], int64_t rev, ev_ctx *ev,
                             bool conflated)
{
    log_adds a = {.ok = true, .from = st->layers[li].snap[0]};
    const lb_srv_layer *L = &st->layers[li];
    diff_ctx d = {.cfg = st->cfg};
    for (int g = 0; a.ok && g < LB_NGRIDS; g++) {
        for (int k = 0; a.ok && k < 2; k++) {
            lb_snapshot *o = k ? L->gen[g] : L->snap[g], *n = k ? gen[g] : snap[g];
            if (!o && !n)
                continue;
            d.grid = g;
            d.gen = k == 1;
            d.last_src = NULL;
            lb_error err = {0};
            if (!o || !n || lb_snapshot_diff(o, n, lv->diff_key, on_diff, &d, &err) != LB_OK ||
                d.oom)
                a.ok = false;
        }
    }
    if (a.ok && d.n)
        qsort(d.v, d.n, sizeof *d.v, cmp_diff_rec);
    if (a.ok && ev)
        tell_events(ev, &d, conflated);
    for (size_t i = 0; a.ok && i < d.n;) {
        if (a.n == a.cap) {
            size_t nc = a.cap ? 2 * a.cap : 64;
            lb_chlog_entry *v = realloc(a.v, nc * sizeof *v);
            if (!v) {
                a.ok = false;
                break;
            }
            a.v = v;
            a.cap = nc;
        }
        lb_chlog_entry *e = &a.v[a.n++];
        memset(e, 0, sizeof *e);
        e->rev = rev;
        e->label = d.v[i].label;
        e->source = d.v[i].source;
        e->gen = d.v[i].gen;
        for (int g = 0; g < LB_NGRIDS; g++) {
            box_nowhere(e->box[g]);
            box_nowhere(e->gbox[g]);
        }
        size_t j = i;
        while (j < d.n && cmp_version(&d.v[i], &d.v[j]) == 0)
            j++;
        size_t end = j;
        while (end < d.n && cmp_version(&d.v[j], &d.v[end]) == 0)
            end++;
        if (j < d.n && membership_pair(d.v, i, j, end)) {
            /* one entry for both forms (their boxes are the same) */
            e->mship = true;
            for (int s = 0; s < 2; s++) {
                const diff_rec *r = &d.v[s ? j : i];
                e->member[s] = r->member;
                e->fused[s] = r->fused;
            }
        } else {
            end = j;
        }
        for (j = i; j < end; j++) {
            /* widened by a little; a feature of several parts: their union */
            const double *b = d.v[j].box;
            double w = fmax(b[2] - b[0], b[3] - b[1]) * 1e-3 + 1e-3;
            double *out = e->gen ? e->gbox[d.v[j].grid] : e->box[d.v[j].grid];
            out[0] = fmin(out[0], b[0] - w);
            out[1] = fmin(out[1], b[1] - w);
            out[2] = fmax(out[2], b[2] + w);
            out[3] = fmax(out[3], b[3] + w);
        }
        i = j;
    }
    free(d.v);
    if (!a.ok)
        log_adds_free(&a);
    return a;
}

/* The kind of a log entry: what a pass asks of it besides its boxes and
 * revision (label, source, snapshot kind, membership forms); entries of one
 * kind merge without losing anything a key depends on. */
static int cmp_entry_kind(const void *a, const void *b)
{
    const lb_chlog_entry *x = a, *y = b;
    int c = lb_label_cmp(&x->label, &y->label);
    if (c)
        return c;
    if (x->source != y->source)
        return x->source < y->source ? -1 : 1;
    if (x->gen != y->gen)
        return x->gen - y->gen;
    if (x->mship != y->mship)
        return x->mship - y->mship;
    for (int s = 0; x->mship && s < 2; s++) {
        if (x->member[s] != y->member[s])
            return x->member[s] - y->member[s];
        if ((c = lb_label_cmp(&x->fused[s], &y->fused[s])) != 0)
            return c;
    }
    return 0;
}

static int cmp_entry_rev(const void *a, const void *b)
{
    const lb_chlog_entry *x = a, *y = b;
    return (x->rev > y->rev) - (x->rev < y->rev);
}

static void box_union(double *a, const double *b)
{
    a[0] = fmin(a[0], b[0]);
    a[1] = fmin(a[1], b[1]);
    a[2] = fmax(a[2], b[2]);
    a[3] = fmax(a[3], b[3]);
}

/* cmp_entry_kind, then the scratch cell. */
static int cmp_entry_cell(const void *a, const void *b)
{
    int c = cmp_entry_kind(a, b);
    if (c)
        return c;
    const lb_chlog_entry *x = a, *y = b;
    return (x->cell > y->cell) - (x->cell < y->cell);
}

/* The Web Mercator tile at zoom z holding the centre of e's box there (its
 * cells' box for a generalised entry) as one number; one for what is
 * nowhere in that grid. */
static uint64_t entry_cell(const lb_chlog_entry *e, int z)
{
    const double *b = e->gen ? e->gbox[0] : e->box[0];
    const double half = 20037508.342789244;
    double cx = (b[0] + b[2]) / 2, cy = (b[1] + b[3]) / 2;
    if (!(cx >= -half && cx <= half && cy >= -half && cy <= half))
        return UINT64_MAX;
    double n = (double)(1u << z), span = 2 * half / n;
    uint64_t x = (uint64_t)fmin(n - 1, floor((cx + half) / span));
    uint64_t y = (uint64_t)fmin(n - 1, floor((half - cy) / span));
    return x << 32 | y;
}

/*
 * In every kind (cmp_entry_kind) with more than `most` entries, merge the
 * entries whose boxes are centred in one Web Mercator tile of zoom z into
 * one, of the newest revision among them, over the union of their boxes in
 * every grid; oldest first again; the new count.  *over: a kind still has
 * more than `most`.  A key that depended on a merged entry moves at least
 * as often as before (a change is never lost), and a pass that draws no
 * label of a kind, or no place of its boxes, still sees nothing of it.
 */
static size_t entries_compact(lb_chlog_entry *v, size_t count, size_t most, int z, bool *over)
{
    *over = false;
    for (size_t i = 0; i < count; i++)
        v[i].cell = entry_cell(&v[i], z);
    qsort(v, count, sizeof v[0], cmp_entry_cell);
    size_t n = 0;
    for (size_t i = 0; i < count;) {
        size_t j = i + 1;
        while (j < count && cmp_entry_kind(&v[i], &v[j]) == 0)
            j++;
        if (j - i <= most) {
            memmove(&v[n], &v[i], (j - i) * sizeof v[0]);
            n += j - i;
            i = j;
            continue;
        }
        size_t kind0 = n;
        for (size_t k = i; k < j;) {
            lb_chlog_entry e = v[k];
            size_t m = k + 1;
            for (; m < j && v[m].cell == e.cell; m++) {
                if (v[m].rev > e.rev)
                    e.rev = v[m].rev;
                for (int g = 0; g < LB_NGRIDS; g++) {
                    box_union(e.box[g], v[m].box[g]);
                    box_union(e.gbox[g], v[m].gbox[g]);
                }
            }
            v[n++] = e;
            k = m;
        }
        *over |= n - kind0 > most;
        i = j;
    }
    qsort(v, n, sizeof v[0], cmp_entry_rev);
    return n;
}

/*
 * A log (or a batch's entries) compacted: every kind with more than
 * LB_CHLOG_KIND_MAX entries is merged, by itself, place by place (entries
 * centred in one tile of zoom 12, then 9, 6, 3, 0) until it has no more;
 * a kind with fewer is left as it is.  So whether and how a kind's entries
 * merge depends on that kind's changes alone: a flood of changes a
 * principal may not see merges only their kinds and re-keys none of its
 * tiles (the log used to drop its oldest entries when full, which raised
 * its floor and so re-keyed every tile of the layer for everybody, on every
 * publish from then on).  Only with so many kinds that they still exceed
 * LB_CHLOG_MAX does the bound halve (128, 64, ... entries per kind), which
 * merges the largest kinds first; a kind smaller than the bound reached
 * stays as it is.  The new count.
 */
static size_t log_compact(lb_chlog_entry *v, size_t n)
{
    static const int zooms[] = {12, 9, 6, 3, 0};
    bool over = n > LB_CHLOG_KIND_MAX;
    for (size_t k = 0; over && k < sizeof zooms / sizeof zooms[0]; k++)
        n = entries_compact(v, n, LB_CHLOG_KIND_MAX, zooms[k], &over);
    /* too many kinds: the largest ones first, halving the bound, so that a
     * small kind merges only when the large ones could not make room */
    for (size_t most = LB_CHLOG_KIND_MAX / 2; n > LB_CHLOG_MAX && most > 0; most /= 2) {
        over = true;
        for (size_t k = 0; over && n > LB_CHLOG_MAX && k < sizeof zooms / sizeof zooms[0]; k++)
            n = entries_compact(v, n, most, zooms[k], &over);
    }
    if (n > LB_CHLOG_MAX)
        n = entries_compact(v, n, 0, 0, &over);
    return n;
}

/* Whether the log v[0..n) holds more than LB_CHLOG_KIND_MAX entries of the
 * kinds of the last `added` ones (the only kinds that can have grown): a
 * few compares per entry instead of log_compact's sort, under the state
 * lock on every publish. */
static bool kinds_over(const lb_chlog_entry *v, size_t n, size_t added)
{
    if (added > 16)
        return true; /* a big batch: the sort is cheap beside it */
    for (size_t a = n - added; a < n; a++) {
        size_t same = 0;
        for (size_t i = 0; i < n && same <= LB_CHLOG_KIND_MAX; i++)
            same += cmp_entry_kind(&v[i], &v[a]) == 0;
        if (same > LB_CHLOG_KIND_MAX)
            return true;
    }
    return false;
}

/* A batch's entries compacted before the publisher takes the state lock
 * (log_extend then merges at most LB_CHLOG_KIND_MAX more per kind). */
static void adds_compact(log_adds *a)
{
    if (a->ok)
        a->n = log_compact(a->v, a->n);
}

/*
 * The change log of layer li once the snapshot of revision rev replaces
 * cur's: cur's log (or an empty one starting at cur's revision) plus the
 * entries of adds (log_entries of batch) for revisions (last, rev],
 * compacted when they are more than the log holds (log_compact).  NULL
 * -- keys fall back to the revision -- when the batch does not account for
 * every revision in between, or adds could not be made.
 */
static lb_chlog *log_extend(const lb_state *cur, size_t li, int64_t rev, const pending *batch,
                            const log_adds *adds)
{
    const char *layer = cur->cfg->layers[li].id;
    lb_chlog *old = cur->layers[li].log;
    int64_t cur_rev = lb_snapshot_revision(cur->layers[li].snap[0]);
    if (rev == cur_rev)
        return lb_chlog_ref(old); /* the same revision (a compaction) */
    if (!adds->ok)
        return NULL;
    int64_t floor = old ? old->floor : cur_rev, last = old ? old->last : cur_rev;
    if (old && old->last != cur_rev)
        return NULL;
    if (adds->from) {
        /* a difference of snapshots explains every revision in between,
         * if it is the difference from the snapshot being replaced */
        if (adds->from != cur->layers[li].snap[0])
            return NULL;
    } else {
        int64_t revs = 0;
        for (const pending *p = batch; p; p = p->next)
            if (strcmp(p->layer, layer) == 0) {
                if (p->revision > rev)
                    return NULL; /* a change the snapshot does not hold yet */
                if (p->revision > last)
                    revs++;
            }
        if (revs != rev - last)
            return NULL; /* revisions this batch does not explain */
    }
    size_t add = 0;
    for (size_t i = 0; i < adds->n; i++)
        add += adds->v[i].rev > last;
    size_t keep = old ? old->n : 0;
    size_t cap = keep + add;
    lb_chlog *log = malloc(sizeof *log + (cap ? cap : 1) * sizeof log->v[0]);
    if (!log)
        return NULL;
    atomic_init(&log->refs, 1);
    log->floor = floor;
    log->last = rev;
    log->n = 0;
    if (keep)
        memcpy(log->v, old->v, keep * sizeof log->v[0]);
    log->n = keep;
    for (size_t i = 0; i < adds->n; i++)
        if (adds->v[i].rev > last)
            log->v[log->n++] = adds->v[i];
    if (log->n > LB_CHLOG_MAX || kinds_over(log->v, log->n, log->n - keep))
        log->n = log_compact(log->v, log->n);
    if (log->n > LB_CHLOG_MAX) {
        /* more kinds of change than the log holds (a label per change):
         * everything up to rev counts as changed */
        log->floor = rev;
        log->n = 0;
    }
    if (log->n < cap) {
        lb_chlog *small = realloc(log, sizeof *log + (log->n ? log->n : 1) * sizeof log->v[0]);
        if (small)
            log = small;
    }
    return log;
}

/* Swap snaps in for layer li if st is still current; the new state (referenced) or NULL.
 * adds: the log entries of batch for the layer (log_entries). */
static lb_state *swap_layer(lb_live *lv, const lb_state *st, size_t li,
                            lb_snapshot *const snap[LB_NGRIDS], lb_snapshot *const gen[LB_NGRIDS],
                            const pending *batch, const log_adds *adds, bool *stale)
{
    lb_server *srv = lv->srv;
    int64_t rev = lb_snapshot_revision(snap[0]);
    pthread_mutex_lock(&srv->state_lock);
    lb_state *cur = srv->state, *old = NULL, *ns = NULL;
    *stale = cur->generation != st->generation;
    if (!*stale && lb_snapshot_revision(cur->layers[li].snap[0]) <= rev) {
        lb_chlog *log = log_extend(cur, li, rev, batch, adds);
        ns = lb_state_derive(cur, li, snap, gen, log);
        lb_chlog_unref(log);
        if (ns) {
            old = cur;
            srv->state = ns;
            atomic_fetch_add(&ns->refs, 1);
        }
    }
    pthread_mutex_unlock(&srv->state_lock);
    lb_state_release(old);
    return ns;
}

/* Open (or reopen) the publisher's read connection to st's store. */
static lb_store *pub_store(lb_store **store, char **path, const lb_state *st, lb_error *err)
{
    if (*store && strcmp(*path, st->cfg->store_path) == 0)
        return *store;
    lb_store_close(*store);
    *store = NULL;
    free(*path);
    *path = lb_strdup(st->cfg->store_path);
    if (!*path || lb_store_open(st->cfg->store_path, store, err) != LB_OK)
        return NULL;
    return *store;
}

/*
 * Layers whose snapshots are rebuilt whole on a change: those with generalised
 * snapshots (owner-set release), and conflated ones (a change may re-cluster
 * fused features that are not among the changed rows).  Their tiles' keys
 * still follow the change log, made from the difference of the old and the
 * new snapshots (publish_layer).
 */
static bool rebuilt_whole(const lb_state *st, lb_store *rs, size_t li)
{
    return lb_state_layer_generalised(st, li) || layer_conflated(st, rs, li);
}

/*
 * One round: every pending change (and any compaction finished) becomes
 * new layer snapshots.  Incremental layers get overlay(base, delta); the
 * deltas are read under write_mu, when every committed change is already
 * queued, so an overlay is exactly one committed revision.
 */
static void publish_round(lb_live *lv, lb_store **store, char **store_path)
{
    lb_server *srv = lv->srv;
    lb_state *st = lb_server_state(srv);
    lb_error err = {0};
    pthread_mutex_lock(&lv->write_mu);
    pthread_mutex_lock(&lv->mu);
    pending *batch = lv->head;
    lv->head = lv->tail = NULL;
    /* finished compactions: the new base, minus what it holds */
    for (live_layer *ll = lv->layers; ll; ll = ll->next) {
        if (!ll->next_ready)
            continue;
        ll->next_ready = false;
        for (int g = 0; g < LB_NGRIDS; g++) {
            if (ll->base[g])
                lb_snapshot_unref(ll->base[g]);
            ll->base[g] = ll->next_base[g];
            ll->next_base[g] = NULL;
        }
        ll->base_rev = ll->next_rev;
        ll->base_time = lb_now();
        ll->dirty = true;
    }
    pthread_mutex_unlock(&lv->mu);
    lb_store *rs = pub_store(store, store_path, st, &err);
    /* the full path: layers with generalised snapshots */
    pending *full = NULL;
    for (pending *p = batch; p; p = p->next) {
        size_t li = layer_index(st->cfg, p->layer);
        if (li == SIZE_MAX)
            continue;
        if (rebuilt_whole(st, rs, li)) {
            full = batch;
            continue;
        }
        pthread_mutex_lock(&lv->mu);
        live_layer *ll = ll_get(lv, st, li);
        for (size_t i = 0; ll && i < p->nchanges; i++)
            ll_add(ll, p->changes[i].fid, p->revision);
        if (ll)
            ll->dirty = true; /* also a reload's kick (no changes) */
        pthread_mutex_unlock(&lv->mu);
    }
    /* deltas, read while no commit can happen */
    typedef struct built {
        size_t li;
        live_layer *ll;
        lb_snapshot *snap[LB_NGRIDS];
    } built;
    built *done = calloc(st->cfg->nlayers ? st->cfg->nlayers : 1, sizeof *done);
    size_t ndone = 0;
    /* every committed change is known now: fix the snapshot the deltas are
     * read from, then let writers go on while they are built */
    bool reading = rs && lb_store_read_begin(rs, &err) == LB_OK;
    pthread_mutex_unlock(&lv->write_mu);
    /* the dirty layers of this generation (only this thread changes their
     * changes and base; the compactor frees only orphaned ones) */
    size_t nwork = 0;
    live_layer **work = calloc(st->cfg->nlayers ? st->cfg->nlayers : 1, sizeof *work);
    bool *wants = calloc(st->cfg->nlayers ? st->cfg->nlayers : 1, sizeof *wants);
    pthread_mutex_lock(&lv->mu);
    for (live_layer *ll = lv->layers; work && wants && reading && ll; ll = ll->next)
        if (ll->dirty && ll->generation == st->generation && nwork < st->cfg->nlayers) {
            ll->dirty = false;
            work[nwork++] = ll;
        }
    pthread_mutex_unlock(&lv->mu);
    for (size_t w = 0; done && w < nwork; w++) {
        live_layer *ll = work[w];
        size_t li = layer_index(st->cfg, ll->layer);
        if (li == SIZE_MAX)
            continue;
        ll_normalise(ll);
        built *b = &done[ndone];
        b->li = li;
        b->ll = ll;
        lb_snapshot *delta[LB_NGRIDS];
        if (ll->n == 0) {
            /* nothing beyond the base: the base itself */
            for (int g = 0; g < LB_NGRIDS; g++)
                b->snap[g] = ll->base[g] ? lb_snapshot_ref(ll->base[g]) : NULL;
            ndone++;
            continue;
        }
        if (lb_state_build_delta(st, rs, li, ll->fid, ll->n, delta, &err) != LB_OK) {
            fprintf(stderr, "lagebild serve: publish %s: %s\n", ll->layer, err.msg);
            wants[w] = true;
            continue;
        }
        bool ok = true;
        for (int g = 0; g < LB_NGRIDS; g++) {
            b->snap[g] = NULL;
            if (ok && delta[g] && ll->base[g])
                ok = lb_snapshot_overlay(ll->base[g], delta[g], ll->fid, ll->n, &b->snap[g],
                                         &err) == LB_OK;
            if (delta[g])
                lb_snapshot_unref(delta[g]);
        }
        if (!ok) {
            for (int g = 0; g < LB_NGRIDS; g++)
                if (b->snap[g])
                    lb_snapshot_unref(b->snap[g]);
            continue;
        }
        size_t base_n = ll->base[0] ? lb_snapshot_feature_count(ll->base[0]) : 0;
        if (ll->n >= COMPACT_MIN_CHANGES + base_n / COMPACT_FRACTION ||
            lb_now() - ll->base_time > lv->compact_age)
            wants[w] = true;
        ndone++;
    }
    pthread_mutex_lock(&lv->mu);
    for (size_t w = 0; w < nwork; w++)
        if (wants[w])
            work[w]->want_compact = true;
    free(work);
    free(wants);
    bool compact = false;
    for (live_layer *ll = lv->layers; ll; ll = ll->next)
        compact |= ll->want_compact && !ll->compacting;
    if (compact)
        pthread_cond_broadcast(&lv->ccv);
    pthread_mutex_unlock(&lv->mu);

    /* swap in and tell the subscribers */
    for (size_t i = 0; i < ndone; i++) {
        built *b = &done[i];
        lb_snapshot *nogen[LB_NGRIDS] = {NULL};
        bool stale = false;
        /* no source of an incremental layer has a release rule */
        log_adds adds = log_entries(lv, st, b->li, batch);
        adds_compact(&adds);
        lb_state *ns =
            b->snap[0] ? swap_layer(lv, st, b->li, b->snap, nogen, batch, &adds, &stale) : NULL;
        log_adds_free(&adds);
        if (ns) {
            atomic_fetch_add(&lv->publishes, 1);
            notify(lv, ns, st->cfg->layers[b->li].id, lb_snapshot_revision(b->snap[0]), batch,
                   NULL);
        }
        lb_state_release(ns);
        for (int g = 0; g < LB_NGRIDS; g++)
            if (b->snap[g])
                lb_snapshot_unref(b->snap[g]);
    }
    free(done);
    /* layers rebuilt whole (owner-set release rules, conflation), from the
     * same read as the deltas: of the revision this batch explains */
    for (pending *p = full; p; p = p->next) {
        bool first = true;
        for (pending *q = full; q != p && first; q = q->next)
            first = strcmp(q->layer, p->layer) != 0;
        size_t li = layer_index(st->cfg, p->layer);
        if (first && li != SIZE_MAX && rebuilt_whole(st, rs, li)) {
            for (int tries = 0; tries < 5; tries++)
                if (publish_layer(lv, rs, *store_path, p->layer, full))
                    break;
        }
    }
    if (reading)
        lb_store_read_end(rs);
    lb_state_release(st);
    while (batch) {
        pending *n = batch->next;
        pending_free(batch);
        batch = n;
    }
}

static void *publisher_main(void *arg)
{
    lb_live *lv = arg;
    lb_store *store = NULL;
    char *store_path = NULL;
    pthread_mutex_lock(&lv->mu);
    while (!lv->stop) {
        bool work = lv->head != NULL;
        for (live_layer *ll = lv->layers; ll && !work; ll = ll->next)
            work = ll->next_ready;
        if (!work) {
            pthread_cond_wait(&lv->cv, &lv->mu);
            continue;
        }
        pthread_mutex_unlock(&lv->mu);
        publish_round(lv, &store, &store_path);
        pthread_mutex_lock(&lv->mu);
    }
    pthread_mutex_unlock(&lv->mu);
    lb_store_close(store);
    free(store_path);
    return NULL;
}

/* Rebuilds the base of layers that asked for it, one at a time, beside the
 * publisher; the publisher takes the result in its next round. */
static void *compactor_main(void *arg)
{
    lb_live *lv = arg;
    lb_store *store = NULL;
    char *store_path = NULL;
    pthread_mutex_lock(&lv->mu);
    while (!lv->stop) {
        live_layer *ll = lv->layers;
        while (ll && !(ll->want_compact && !ll->compacting && ll->generation))
            ll = ll->next;
        if (!ll) {
            pthread_cond_wait(&lv->ccv, &lv->mu);
            continue;
        }
        ll->want_compact = false;
        ll->compacting = true;
        char *layer = lb_strdup(ll->layer);
        uint64_t generation = ll->generation;
        pthread_mutex_unlock(&lv->mu);
        lb_state *st = lb_server_state(lv->srv);
        size_t li = layer ? layer_index(st->cfg, layer) : SIZE_MAX;
        lb_snapshot *snap[LB_NGRIDS] = {NULL}, *gen[LB_NGRIDS] = {NULL};
        lb_error err = {0};
        lb_status rc = LB_EINVAL;
        if (li != SIZE_MAX && st->generation == generation &&
            pub_store(&store, &store_path, st, &err)) {
            int tries = 0;
            do
                rc = lb_state_build_layer(st, store, li, snap, gen, &err);
            while (rc == LB_EINTERNAL && ++tries < 5);
        }
        if (rc != LB_OK && rc != LB_EINVAL)
            fprintf(stderr, "lagebild serve: compacting %s: %s\n", layer ? layer : "?", err.msg);
        lb_state_release(st);
        free(layer);
        pthread_mutex_lock(&lv->mu);
        ll->compacting = false;
        if (ll->generation == 0) {
            /* orphaned by a reload meanwhile */
            for (live_layer **pp = &lv->layers; *pp; pp = &(*pp)->next)
                if (*pp == ll) {
                    *pp = ll->next;
                    break;
                }
            ll_free(ll);
            rc = LB_EINVAL;
        }
        if (rc == LB_OK) {
            for (int g = 0; g < LB_NGRIDS; g++) {
                if (ll->next_base[g])
                    lb_snapshot_unref(ll->next_base[g]);
                ll->next_base[g] = snap[g];
                snap[g] = NULL;
            }
            ll->next_rev = lb_snapshot_revision(ll->next_base[0]);
            ll->next_ready = true;
            pthread_cond_signal(&lv->cv);
        }
        for (int g = 0; g < LB_NGRIDS; g++) {
            if (snap[g])
                lb_snapshot_unref(snap[g]);
            if (gen[g])
                lb_snapshot_unref(gen[g]);
        }
    }
    pthread_mutex_unlock(&lv->mu);
    lb_store_close(store);
    free(store_path);
    return NULL;
}

lb_live *lb_live_start(lb_server *srv)
{
    lb_live *lv = calloc(1, sizeof *lv);
    if (!lv)
        return NULL;
    lv->srv = srv;
    /* a quarter of the workers stay for tiles */
    lv->max_subs = srv->threads - (srv->threads + 3) / 4;
    const char *age = getenv("LAGEBILD_COMPACT_AGE_S");
    lv->compact_age = age && atof(age) > 0 ? atof(age) : COMPACT_AGE_S;
    pthread_mutex_init(&lv->mu, NULL);
    pthread_cond_init(&lv->cv, NULL);
    pthread_cond_init(&lv->ccv, NULL);
    pthread_mutex_init(&lv->write_mu, NULL);
    pthread_mutex_init(&lv->sub_mu, NULL);
    pthread_cond_init(&lv->sub_cv, NULL);
    if (RAND_bytes(lv->secret, sizeof lv->secret) != 1 ||
        RAND_bytes(lv->diff_key, sizeof lv->diff_key) != 1 ||
        pthread_create(&lv->thread, NULL, publisher_main, lv) != 0) {
        lb_live_stop(lv);
        return NULL;
    }
    if (pthread_create(&lv->compactor, NULL, compactor_main, lv) != 0) {
        pthread_mutex_lock(&lv->mu);
        lv->stop = true;
        pthread_cond_broadcast(&lv->cv);
        pthread_mutex_unlock(&lv->mu);
        pthread_join(lv->thread, NULL);
        lb_live_stop(lv);
        return NULL;
    }
    lv->started = true;
    return lv;
}

void lb_live_wake_subscribers(lb_live *lv)
{
    if (!lv)
        return;
    pthread_mutex_lock(&lv->mu);
    lv->stop = true;
    pthread_cond_broadcast(&lv->cv);
    pthread_cond_broadcast(&lv->ccv);
    pthread_mutex_unlock(&lv->mu);
    pthread_mutex_lock(&lv->sub_mu);
    pthread_cond_broadcast(&lv->sub_cv);
    pthread_mutex_unlock(&lv->sub_mu);
}

void lb_live_stop(lb_live *lv)
{
    if (!lv)
        return;
    lb_live_wake_subscribers(lv);
    if (lv->started) {
        pthread_join(lv->thread, NULL);
        pthread_join(lv->compactor, NULL);
    }
    while (lv->layers) {
        live_layer *n = lv->layers->next;
        ll_free(lv->layers);
        lv->layers = n;
    }
    while (lv->head) {
        pending *n = lv->head->next;
        pending_free(lv->head);
        lv->head = n;
    }
    lb_store_close(lv->wstore);
    free(lv->wpath);
    pthread_mutex_destroy(&lv->mu);
    pthread_cond_destroy(&lv->cv);
    pthread_cond_destroy(&lv->ccv);
    pthread_mutex_destroy(&lv->write_mu);
    pthread_mutex_destroy(&lv->sub_mu);
    pthread_cond_destroy(&lv->sub_cv);
    for (int g = 0; g < LB_NGRIDS; g++)
        if (lv->grid_ct[g])
            OCTDestroyCoordinateTransformation(lv->grid_ct[g]);
    free(lv);
}

void lb_live_reloaded(lb_live *lv)
{
    if (!lv)
        return;
    /* a stream lives as long as the token that opened it: one whose token
     * the new config no longer holds (replaced, revoked, principal gone)
     * ends, and so does every JWT's (its keys or roles may have changed;
     * the client reconnects and its token is checked anew) */
    lb_state *st = lb_server_state(lv->srv);
    pthread_mutex_lock(&lv->sub_mu);
    for (sub *s = lv->subs; s; s = s->next) {
        const lb_token_cfg *p = s->nroles ? NULL : principal_by_name(st->cfg, s->principal);
        if (!p || !p->hash || strcmp(p->hash, s->hash) != 0)
            s->ended = true;
    }
    pthread_cond_broadcast(&lv->sub_cv);
    pthread_mutex_unlock(&lv->sub_mu);
    lb_state_release(st);
    /* the reload read the store at some revision: republish every live
     * layer on the new state with the changes it may not hold yet */
    pthread_mutex_lock(&lv->mu);
    for (live_layer *ll = lv->layers; ll; ll = ll->next) {
        pending *p = calloc(1, sizeof *p);
        if (!p)
            break;
        p->layer = lb_strdup(ll->layer);
        p->source = lb_strdup("");
        if (!p->layer || !p->source) {
            pending_free(p);
            break;
        }
        if (lv->tail)
            lv->tail->next = p;
        else
            lv->head = p;
        lv->tail = p;
    }
    pthread_cond_signal(&lv->cv);
    pthread_mutex_unlock(&lv->mu);
}

void lb_live_metrics(lb_live *lv, lb_buf *b)
{
    if (!lv)
        return;
    lb_buf_printf(b, "lagebild_pushes_total %llu\n", (unsigned long long)lv->pushes);
    lb_buf_printf(b, "lagebild_push_features_total %llu\n",
                  (unsigned long long)lv->push_features);
    lb_buf_printf(b, "lagebild_publishes_total %llu\n", (unsigned long long)lv->publishes);
    lb_buf_printf(b, "lagebild_events_total %llu\n", (unsigned long long)lv->events);
}

/* ---- push handlers -------------------------------------------------------- */

/* Hand a committed change to the publisher (called under write_mu: commit order). */
static void enqueue(lb_live *lv, const lb_source_cfg *src, lb_push_result *res)
{
    pending *p = calloc(1, sizeof *p);
    if (p) {
        p->layer = lb_strdup(src->layer);
        p->source = lb_strdup(src->id);
        p->revision = res->revision;
        p->changes = res->changes;
        p->nchanges = res->nchanges;
        res->changes = NULL;
        res->nchanges = 0;
    }
    pthread_mutex_lock(&lv->mu);
    if (p && p->layer && p->source) {
        if (lv->tail)
            lv->tail->next = p;
        else
            lv->head = p;
        lv->tail = p;
    } else {
        pending_free(p); /* out of memory: the next publish of the layer catches up */
    }
    pthread_cond_signal(&lv->cv);
    pthread_mutex_unlock(&lv->mu);
}

/* The writer connection for the state's store (under write_mu). */
static lb_store *writer(lb_live *lv, const lb_state *st, lb_error *err)
{
    if (lv->wstore && strcmp(lv->wpath, st->cfg->store_path) == 0)
        return lv->wstore;
    lb_store_close(lv->wstore);
    lv->wstore = NULL;
    free(lv->wpath);
    lv->wpath = lb_strdup(st->cfg->store_path);
    if (!lv->wpath || lb_store_open(st->cfg->store_path, &lv->wstore, err) != LB_OK)
        return NULL;
    return lv->wstore;
}

/* The source named in the path if the principal may write it, else NULL. */
static const lb_source_cfg *writable_source(lb_req *r, const char *id)
{
    const lb_source_cfg *src = lb_config_source(r->st->cfg, id);
    if (!src || !lb_access_may_write(r->st->access, r->principal, id, time(NULL)))
        return NULL;
    return src;
}

static void send_result(lb_req *r, lb_status rc, const lb_error *err, const lb_push_result *res,
                        const lb_source_cfg *src)
{
    if (rc == LB_OK) {
        char body[512];
        int n = snprintf(body, sizeof body,
                         "{\"source\":\"%s\",\"stored\":%zu,\"replaced\":%zu,\"deleted\":%zu}\n",
                         src->id, res->stored, res->stored ? res->deleted : 0,
                         res->stored ? 0 : res->deleted);
        lb_http_send(r, 200, "application/json", body, (size_t)n, "Cache-Control: no-store\r\n");
        return;
    }
    int status = rc == LB_EFORMAT                                            ? 400
                 : rc == LB_EGEOM || rc == LB_EMAPPING || rc == LB_ECRS ||
                           rc == LB_EINVAL || rc == LB_EMGRS                  ? 422
                 : rc == LB_ESTORE                                             ? 503
                                                                               : 500;
    if (status == 422 && res->nrejects) {
        lb_buf b = {0};
        lb_buf_puts(&b, "{\"error\":");
        lb_buf_json_str(&b, err->msg);
        lb_buf_puts(&b, ",\"rejected\":[");
        for (size_t i = 0; i < res->nrejects; i++) {
            lb_buf_printf(&b, "%s{\"index\":%zu,\"id\":", i ? "," : "", res->rejects[i].index);
            if (res->rejects[i].source_fid)
                lb_buf_json_str(&b, res->rejects[i].source_fid);
            else
                lb_buf_puts(&b, "null");
            lb_buf_puts(&b, ",\"reason\":");
            lb_buf_json_str(&b, res->rejects[i].reason ? res->rejects[i].reason : "");
            lb_buf_puts(&b, "}");
        }
        lb_buf_puts(&b, "]}\n");
        lb_http_send(r, 422, "application/json", b.data ? b.data : "", b.len,
                     "Cache-Control: no-store\r\n");
        lb_buf_free(&b);
        return;
    }
    lb_http_error(r, status, err->msg);
}

void lb_live_push(lb_req *r)
{
    lb_live *lv = r->srv->live;
    const lb_source_cfg *src = writable_source(r, r->segs[1]);
    if (!src || !lv) {
        lb_http_not_found(r);
        return;
    }
    double maxd = r->st->cfg->push_max_body > 0 ? r->st->cfg->push_max_body
                                                 : LB_PUSH_MAX_BODY_DEFAULT;
    size_t max = (size_t)maxd;
    long long cl = r->ri->content_length;
    if (cl >= 0 && (unsigned long long)cl > max) {
        char msg[128];
        snprintf(msg, sizeof msg, "body of %lld bytes is larger than push.max_body_bytes (%zu)",
                 cl, max);
        /* the body is not read: the connection cannot be reused */
        lb_buf b = {0};
        lb_buf_puts(&b, "{\"error\":");
        lb_buf_json_str(&b, msg);
        lb_buf_puts(&b, "}\n");
        lb_http_send(r, 413, "application/json", b.data, b.len,
                     "Cache-Control: no-store\r\nConnection: close\r\n");
        lb_buf_free(&b);
        return;
    }
    size_t cap = cl >= 0 ? (size_t)cl : 65536, len = 0;
    char *body = malloc(cap + 1);
    bool too_big = false;
    while (body) {
        if (cl >= 0 && len == (size_t)cl)
            break;
        if (len == cap) {
            if (cap >= max + 1) {
                too_big = true;
                break;
            }
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = realloc(body, cap + 1);
            if (!nb) {
                free(body);
                body = NULL;
                break;
            }
            body = nb;
        }
        int n = mg_read(r->conn, body + len, cap - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (!body) {
        lb_http_error(r, 500, "out of memory");
        return;
    }
    if (too_big || len > max) {
        free(body);
        lb_http_send(r, 413, "application/json",
                     "{\"error\":\"body larger than push.max_body_bytes\"}\n", 49,
                     "Cache-Control: no-store\r\nConnection: close\r\n");
        return;
    }
    if (cl >= 0 && len != (size_t)cl) {
        free(body);
        lb_http_error(r, 400, "the body ended before Content-Length bytes");
        return;
    }
    body[len] = '\0';
    char crs[256];
    bool have_crs = lb_http_query(r, "crs", crs, sizeof crs);
    if (have_crs && !crs[0]) {
        free(body);
        lb_http_error(r, 400, "crs= is empty");
        return;
    }
    lb_push_result res = {0};
    lb_error err = {0};
    pthread_mutex_lock(&lv->write_mu);
    lb_store *store = writer(lv, r->st, &err);
    /* the principal's own features only (configured or JWT: its name) */
    lb_status rc = store ? lb_ingest_push(store, r->st->cfg, src, r->principal->principal, body,
                                          len, have_crs ? crs : NULL, &res, &err)
                         : LB_ESTORE;
    if (rc == LB_OK)
        enqueue(lv, src, &res);
    pthread_mutex_unlock(&lv->write_mu);
    free(body);
    if (rc == LB_OK) {
        atomic_fetch_add(&lv->pushes, 1);
        atomic_fetch_add(&lv->push_features, res.stored);
        char what[320];
        snprintf(what, sizeof what, "push %s %zu features", src->id, res.stored);
        lb_audit_request(r, what, "applied");
    }
    send_result(r, rc, &err, &res, src);
    lb_push_result_free(&res);
}

void lb_live_delete(lb_req *r)
{
    lb_live *lv = r->srv->live;
    const lb_source_cfg *src = writable_source(r, r->segs[1]);
    if (!src || !lv) {
        lb_http_not_found(r);
        return;
    }
    lb_push_result res = {0};
    lb_error err = {0};
    pthread_mutex_lock(&lv->write_mu);
    lb_store *store = writer(lv, r->st, &err);
    /* only a feature this principal pushed: any other of that id answers
     * the same 404 as none */
    lb_status rc = store ? lb_ingest_delete(store, r->st->cfg, src, r->principal->principal,
                                            r->segs[3], &res, &err)
                         : LB_ESTORE;
    if (rc == LB_OK)
        enqueue(lv, src, &res);
    pthread_mutex_unlock(&lv->write_mu);
    if (rc == LB_ENOENT) {
        lb_http_not_found(r);
    } else {
        if (rc == LB_OK) {
            atomic_fetch_add(&lv->pushes, 1);
            char what[320];
            snprintf(what, sizeof what, "delete %s/%s", src->id, r->segs[3]);
            lb_audit_request(r, what, "applied");
        }
        send_result(r, rc, &err, &res, src);
    }
    lb_push_result_free(&res);
}

/* ---- events --------------------------------------------------------------- */

#define KEEPALIVE_S 15

void lb_live_events(lb_req *r)
{
    lb_live *lv = r->srv->live;
    sub *s = calloc(1, sizeof *s);
    if (!lv || !s) {
        free(s);
        lb_http_error(r, 503, "events unavailable");
        return;
    }
    snprintf(s->principal, sizeof s->principal, "%s", r->principal->principal);
    if (!r->jwt_principal)
        snprintf(s->hash, sizeof s->hash, "%s", r->principal->hash ? r->principal->hash : "");
    if (r->jwt_principal) {
        /* the stream ends when the token expires (the loop below) */
        const lb_token_cfg *jp = r->jwt_principal;
        s->expires = jp->expires;
        s->roles = calloc(jp->nroles ? jp->nroles : 1, sizeof *s->roles);
        for (size_t i = 0; s->roles && i < jp->nroles; i++)
            if ((s->roles[s->nroles] = strdup(jp->roles[i])) != NULL)
                s->nroles++;
        if (s->nroles != jp->nroles || jp->nroles == 0) {
            sub_free(s);
            lb_http_error(r, 503, "out of memory");
            return;
        }
    }
    char head[512], cors[LB_HTTP_CORS_MAX];
    lb_http_cors(r, cors);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n"
                     "X-Content-Type-Options: nosniff\r\n%s\r\n"
                     "retry: 2000\n: connected\n\n",
                     cors);
    pthread_mutex_lock(&lv->sub_mu);
    bool full = lv->nsubs >= lv->max_subs;
    if (!full) {
        s->next = lv->subs;
        lv->subs = s;
        lv->nsubs++;
    }
    pthread_mutex_unlock(&lv->sub_mu);
    if (full) {
        sub_free(s);
        lb_http_error(r, 503, "too many event streams (each holds one of serve --threads)");
        return;
    }
    r->status = 200;
    /* registered before the first byte: a client that saw ": connected"
     * receives every change published afterwards */
    bool ok = mg_write(r->conn, head, (size_t)n) > 0;
    /* the request's state is not needed any more: an open stream must not
     * keep old snapshots alive (the principal belongs to it too) */
    lb_state_release(r->st);
    r->st = NULL;
    snprintf(r->logged, sizeof r->logged, "%s", r->principal->principal);
    r->principal = NULL;
    pthread_mutex_lock(&lv->sub_mu);
    while (ok) {
        bool stopping;
        pthread_mutex_lock(&lv->mu);
        stopping = lv->stop;
        pthread_mutex_unlock(&lv->mu);
        if (stopping || s->ended || (s->expires && time(NULL) >= s->expires))
            break; /* stopping, its token gone, or the stream's JWT has expired */
        if (s->queue.len == 0) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += KEEPALIVE_S;
            if (s->expires && s->expires < until.tv_sec)
                until.tv_sec = s->expires; /* wake to end the stream */
            if (pthread_cond_timedwait(&lv->sub_cv, &lv->sub_mu, &until) != 0 &&
                s->queue.len == 0) {
                pthread_mutex_unlock(&lv->sub_mu);
                ok = mg_write(r->conn, ": keepalive\n\n", 13) > 0;
                pthread_mutex_lock(&lv->sub_mu);
            }
            continue;
        }
        char *text = lb_buf_take(&s->queue);
        size_t len = text ? strlen(text) : 0;
        pthread_mutex_unlock(&lv->sub_mu);
        ok = !text || mg_write(r->conn, text, len) > 0;
        r->bytes += len;
        free(text);
        pthread_mutex_lock(&lv->sub_mu);
    }
    s->gone = true;
    for (sub **pp = &lv->subs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            lv->nsubs--;
            break;
        }
    pthread_mutex_unlock(&lv->sub_mu);
    sub_free(s);
}
