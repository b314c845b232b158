/*
 * lagebild — fusion: reading agency sources with OGR, reprojecting them with
 * PROJ, validating and repairing geometries, mapping attributes to the common
 * schema, attaching security labels, and writing each source atomically into
 * the SpatiaLite store as a new layer revision.
 *
 * The store is an ordinary SpatiaLite database: one table per layer (named by
 * the layer id, geometry column "geom", EPSG:4326, spatial index), plus
 * bookkeeping tables prefixed "lb_" (see docs/store.md).
 */
#ifndef LAGEBILD_FUSION_H
#define LAGEBILD_FUSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lagebild/config.h"
#include "lagebild/status.h"

/* Process-wide initialisation of GDAL/OGR drivers and cleanup. */
void lb_fusion_init(void);
void lb_fusion_cleanup(void);

/* ---- store ------------------------------------------------------------ */

typedef struct lb_store lb_store;

/*
 * Open (creating if needed) the SpatiaLite store at path.  *out owns the
 * handle; close with lb_store_close.
 */
lb_status lb_store_open(const char *path, lb_store **out, lb_error *err);
void lb_store_close(lb_store *st);

typedef struct lb_layer_info {
    char layer[64];
    int64_t revision;
    int64_t features;
    char updated_at[32]; /* UTC, ISO 8601 */
} lb_layer_info;

/* Revision of a layer (0 when it has never been written). */
lb_status lb_store_layer_revision(lb_store *st, const char *layer, int64_t *rev, lb_error *err);

/* All layers in the store; *out is malloc'ed (caller frees). */
lb_status lb_store_layers(lb_store *st, lb_layer_info **out, size_t *n, lb_error *err);

/* When the data of one label of one source of a layer last changed: the time
 * (UTC, ISO 8601) of the ingest or push that wrote the newest row of that
 * source with that label. */
typedef struct lb_label_time {
    int source; /* index into cfg->sources; -1: a source the config no longer has */
    lb_label label;
    char at[32];
} lb_label_time;

/* Every (source, label) of layer with its time; *out is malloc'ed (caller
 * frees), *n may be 0.  Rows without a logged ingest are left out. */
lb_status lb_store_label_times(lb_store *st, const lb_config *cfg, const char *layer,
                               lb_label_time **out, size_t *n, lb_error *err);

/* One stored feature as read back (pointers valid only during the callback). */
typedef struct lb_stored_feature {
    int64_t fid;
    const char *source, *source_fid;
    const char *field[LB_FIELD_COUNT]; /* text of the common fields (NULL when null) */
    bool has_accuracy;
    double accuracy_m;
    int label_level;
    const char *classification, *releasable_to, *caveats; /* as stored (names) */
    const char *attrs;  /* JSON object of the remaining attributes */
    const unsigned char *wkb; /* geometry, EPSG:4326 lon/lat, 2D WKB */
    size_t wkb_len;
    /* a report merged into a fused feature (conflation): shown only to whom
     * the fused feature is not (the fused label, as stored, below) */
    bool member;
    int fused_level;
    const char *fused_releasable_to, *fused_caveats;
} lb_stored_feature;

/* The source of a fused feature (conflation): never a configured source id. */
#define LB_FUSED_SOURCE "lb:conflated"

/* Return false to stop the scan (the scan then fails with LB_ENOMEM). */
typedef bool (*lb_stored_feature_fn)(void *ud, const lb_stored_feature *f);

/*
 * Read every feature of a layer in fid order, in one read transaction (a
 * consistent revision, even while an ingest commits), and report the revision
 * read in *revision.  A layer never written yields no features, revision 0.
 * In a conflated layer each fused feature is yielded once (source
 * LB_FUSED_SOURCE, the fused label, attrs beginning with "reports": the
 * provenance of its members), and every report merged into one is yielded
 * with member set and the fused label: a principal cleared for the fused
 * label sees the fused feature instead of the reports; one that is not sees
 * the reports it is cleared for, exactly as without conflation (hiding them
 * would tell it that something it may not see lies there).
 */
lb_status lb_store_scan_layer(lb_store *st, const char *layer, lb_stored_feature_fn fn,
                              void *ud, int64_t *revision, lb_error *err);

/*
 * The same for the features with the given fids only (ascending, as stored;
 * fids not in the layer are skipped), in one read transaction.
 */
lb_status lb_store_scan_fids(lb_store *st, const char *layer, const int64_t *fids, size_t n,
                             lb_stored_feature_fn fn, void *ud, int64_t *revision, lb_error *err);

/* Whether the layer holds fused features (conflation): a change to a few
 * rows may then change others, so partial scans do not suffice. */
bool lb_store_layer_conflated(lb_store *st, const char *layer);

/*
 * A read transaction over several scans: every scan between _begin and _end
 * sees the store as committed at _begin (WAL snapshot), whatever commits
 * meanwhile.
 */
lb_status lb_store_read_begin(lb_store *st, lb_error *err);
void lb_store_read_end(lb_store *st);

/* ---- coordinate transformation ---------------------------------------- */

typedef struct lb_transform lb_transform;

/*
 * A transformation between two CRSs given as any user input GDAL accepts
 * ("EPSG:31467", WKT, PROJJSON), with x/y in easting/longitude first order
 * whatever the CRS's axis order.  The most accurate operation available is
 * used (PROJ's choice, including grids such as BETA2007.gsb).
 */
lb_status lb_transform_new(const char *src, const char *dst, lb_transform **out, lb_error *err);
/* Transform n points in place. */
lb_status lb_transform_points(lb_transform *t, size_t n, double *x, double *y, lb_error *err);
void lb_transform_free(lb_transform *t);

/* ---- ingest ----------------------------------------------------------- */

typedef struct lb_ingest_stats {
    uint64_t read;     /* features read from the source */
    uint64_t stored;   /* features written */
    uint64_t repaired; /* of those, with repaired geometry */
    uint64_t rejected; /* features refused, each with a reason */
    double seconds;
    int64_t revision; /* new revision of the target layer */
} lb_ingest_stats;

/* Called for every rejected feature (source feature id may be NULL). */
typedef void (*lb_reject_fn)(void *ud, const lb_source_cfg *src, const char *source_fid,
                             const char *reason);

typedef struct lb_ingest_opts {
    bool progress;        /* print progress to stderr (use when it is a terminal) */
    lb_reject_fn on_reject; /* optional */
    void *ud;
    const char *origin;       /* optional: recorded in lb_sources.path instead of src->path
                               * (a URL whose bytes were fetched into /vsimem/) */
    const char *content_hash; /* optional: recorded in lb_sources.content_hash (watch.c) */
} lb_ingest_opts;

/*
 * Ingest one source into the store in ONE transaction: its previous features
 * are replaced and the revision of its target layer is bumped.  On failure
 * nothing is changed (the previous revision stays intact), the failure is
 * logged in lb_ingests, and err names the source, file and problem.
 * Rejected features do not fail the source: they are counted, reported
 * through opts->on_reject and recorded in lb_rejects.
 */
lb_status lb_ingest_source(lb_store *st, const lb_config *cfg, const lb_source_cfg *src,
                           const lb_ingest_opts *opts, lb_ingest_stats *stats, lb_error *err);

/* ---- sources that change (fusion/watch.c) ------------------------------ */

typedef enum lb_refresh_outcome {
    LB_REFRESH_UNCHANGED = 0, /* content hash equals the stored one: nothing done */
    LB_REFRESH_INGESTED,      /* new content, ingested: a new revision */
    LB_REFRESH_NO_CONTENT,    /* drop folder without a complete file yet */
    LB_REFRESH_FAILED,        /* fetching, hashing or ingesting failed: store unchanged */
} lb_refresh_outcome;

typedef struct lb_refresh {
    lb_refresh_outcome outcome;
    char content[1024];  /* the file or URL read */
    char hash[80];       /* "sha256:<hex>" of the content ("" if not read) */
    lb_ingest_stats stats; /* when ingested */
} lb_refresh;

/*
 * Bring one source up to date: read its content (watch: the newest complete
 * file of the drop folder; http(s) URL: the bytes fetched; file: its bytes;
 * other GDAL connection strings: the features), hash it (SHA-256) and ingest
 * it when the hash differs from lb_sources.content_hash, or always when
 * force.  The hash is recorded in the ingest's transaction.
 */
lb_status lb_source_refresh(lb_store *st, const lb_config *cfg, const lb_source_cfg *src,
                            bool force, const lb_ingest_opts *opts, lb_refresh *out,
                            lb_error *err);

/*
 * A poller over every source with watch: or refresh: (cfg must outlive it).
 * lb_watch_poll checks each source whose interval (refresh:, default 2 s for
 * a drop folder) is due at now (lb_now() seconds) and ingests it when its
 * content changed; fn (optional) hears about every source checked.  Content
 * whose ingest failed is not tried again until it changes.  Returns the
 * number of sources ingested.  Not thread-safe: one poller per thread.
 */
typedef struct lb_watch lb_watch;
typedef void (*lb_watch_fn)(void *ud, const lb_source_cfg *src, const lb_refresh *r,
                            lb_status rc, const lb_error *err);
lb_status lb_watch_new(const lb_config *cfg, lb_watch **out, lb_error *err);
size_t lb_watch_poll(lb_watch *w, lb_store *st, double now, const lb_ingest_opts *opts,
                     lb_watch_fn fn, void *ud);
/* Number of sources watched; seconds until the next is due (0: now). */
size_t lb_watch_count(const lb_watch *w);
double lb_watch_next(const lb_watch *w, double now);
void lb_watch_free(lb_watch *w);

/* ---- conflation (fusion/conflate.c) ------------------------------------ */

/* A box in EPSG:4326 (lon/lat). */
typedef struct lb_bbox {
    double minx, miny, maxx, maxy;
} lb_bbox;

/*
 * Recompute the conflation of a whole layer (a layer without conflate: in
 * the config is left alone).  Reports of the same kind from different
 * sources within the layer's distance and time window become one fused
 * feature: the geometry and fields of the most accurate report, the most
 * restrictive label, the provenance of every report (table lb_conflation,
 * attribute "reports").  lb_ingest_source calls it for the layers an ingest
 * changed, inside the ingest's transaction.  Called outside a transaction it
 * runs in one of its own; inside one, the layer's spatial index must be up
 * to date (not between lb_store__bulk_begin and _end).
 */
lb_status lb_conflate_layer(lb_store *st, const lb_config *cfg, const char *layer, lb_error *err);

/*
 * The same for the neighbourhood of changed features only: boxes holds the
 * old and the new bounding box of every feature inserted, updated or deleted
 * (a deleted feature: its old box).  The result equals lb_conflate_layer's
 * (the set recomputed is closed under links and old clusters, found with the
 * layer's R*Tree), at a cost that grows with the neighbourhood, not the layer.
 * For push ingest: call it inside the transaction that applied the change.
 */
lb_status lb_conflate_region(lb_store *st, const lb_config *cfg, const char *layer,
                             const lb_bbox *boxes, size_t nboxes, lb_error *err);

/* ---- push ingest ------------------------------------------------------ */

/*
 * How a source's features are written.  REPLACE (a file ingest): the
 * source's previous features are all replaced (pushed ones too); rejected
 * features are skipped and recorded.  UPSERT (a push): only the features
 * named are inserted or replaced, matched by the source's feature id among
 * the features the same writer pushed (a pushed feature belongs to its
 * writer); every other feature of the source stays; ANY rejected feature
 * fails the whole request and nothing of it is applied.
 */
typedef enum lb_ingest_mode { LB_INGEST_REPLACE, LB_INGEST_UPSERT } lb_ingest_mode;

/*
 * One feature changed by a push or delete: its version before and after.
 * Live events need each version's geometry, not only its box: whether it
 * meets an area limit, and the cells of its generalised form (server/live.c).
 * The geometries of one push result are kept up to LB_CHANGE_WKB_BUDGET bytes
 * in all; a version beyond that (or one whose stored geometry cannot be read)
 * has none, and only principals who see it exactly and without an area limit
 * hear of it.
 */
typedef struct lb_change {
    int64_t fid;
    bool has_old, has_new;
    lb_label old_label, new_label;
    double old_box[4], new_box[4]; /* lon/lat minx, miny, maxx, maxy */
    unsigned char *old_wkb, *new_wkb; /* 2D WKB, lon/lat (malloc'ed), or NULL */
    size_t old_wkb_len, new_wkb_len;
} lb_change;

#define LB_CHANGE_WKB_BUDGET ((size_t)32 << 20)

/* Free n changes (their geometries and the array itself). */
void lb_changes_free(lb_change *c, size_t n);

/* A rejected feature of a push: its 0-based index in the body and id. */
typedef struct lb_push_reject {
    size_t index;
    char *source_fid; /* NULL when it has none */
    char *reason;
} lb_push_reject;

typedef struct lb_push_result {
    int64_t revision;   /* new revision of the source's layer (0: nothing applied) */
    size_t stored;      /* features inserted or replaced */
    size_t deleted;
    lb_change *changes; /* malloc'ed; free with lb_changes_free */
    size_t nchanges;
    lb_push_reject *rejects; /* when the push failed with LB_EGEOM: why */
    size_t nrejects;
} lb_push_result;
void lb_push_result_free(lb_push_result *r);

/*
 * Push: upsert the features of a GeoJSON FeatureCollection (body, len bytes)
 * into source src as principal writer (its name: a configured principal or
 * "jwt:" and the subject), through the same pipeline as a file ingest (CRS,
 * checks and repairs, mapping, labels), in ONE transaction committed durably
 * (synchronous=FULL) before returning LB_OK.  A pushed feature belongs to
 * its writer: it is keyed by (source, writer, feature id), so a push replaces
 * only what the same writer pushed before, and what it does and reports
 * (res: stored, deleted, rejects) is the same whether or not other writers or
 * file ingests hold features of the same ids.  The CRS is crs when not NULL,
 * else the body's "crs" member, else the source's crs:, else EPSG:4326
 * (RFC 7946).  Returns LB_EFORMAT when the body is not a readable
 * FeatureCollection, LB_EGEOM when features were rejected (res->rejects
 * names each; nothing applied), LB_EMAPPING when the body lacks the source's
 * feature id attribute, LB_ECRS for an unusable CRS.
 */
lb_status lb_ingest_push(lb_store *st, const lb_config *cfg, const lb_source_cfg *src,
                         const char *writer, const char *body, size_t len, const char *crs,
                         lb_push_result *res, lb_error *err);

/*
 * Remove the feature with source feature id sfid that writer pushed to
 * source src (one durable transaction that bumps the layer's revision).
 * LB_ENOENT when writer has no such feature there (nothing changes), also
 * when another writer or a file ingest has one of that id.
 */
lb_status lb_ingest_delete(lb_store *st, const lb_config *cfg, const lb_source_cfg *src,
                           const char *writer, const char *sfid, lb_push_result *res,
                           lb_error *err);

#endif
