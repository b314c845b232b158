/*
 * Private interfaces of the fusion module, shared between its files.
 * Nothing outside fusion/ includes this header.
 */
#ifndef LB_FUSION_INT_H
#define LB_FUSION_INT_H

#include <pthread.h>

#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <sqlite3.h>

#include "lagebild/fusion.h"

struct lb_store {
    sqlite3 *db;
    void *splite_cache; /* libspatialite connection cache */
    char *path;
    pthread_t checkpointer; /* see lb_store__checkpoint_start */
    bool checkpointing;
};

/* ---- crs.c ---- */

/* A new SRS from user input with traditional GIS (x=east/lon) axis order. */
lb_status lb_crs__from_user(const char *text, OGRSpatialReferenceH *out, lb_error *err);
/* A short human name for an SRS ("EPSG:31467" or its name). */
void lb_crs__describe(OGRSpatialReferenceH srs, char *buf, size_t n);

/*
 * The lon/lat box inside which coordinates of a source in srs are plausible:
 * the CRS's area of use widened by a margin (docs/decisions.md).  Always
 * within [-180,180] x [-90,90].
 */
typedef struct lb_crs__box {
    double west, south, east, north;
} lb_crs__box;
void lb_crs__plausible_box(OGRSpatialReferenceH srs, lb_crs__box *box);

/* ---- gdal error capture (ingest.c) ---- */

/*
 * Collects GDAL errors raised while reading a source instead of printing
 * them.  Push before, pop after; failures counts CE_Failure/CE_Fatal.
 */
typedef struct lb_gdal_errors {
    int failures;
    char first[512];
} lb_gdal_errors;
void lb_gdal__errors_push(lb_gdal_errors *ge);
void lb_gdal__errors_pop(void);

/* ---- store.c ---- */

lb_status lb_store__exec(lb_store *st, const char *sql, lb_error *err);
/*
 * Checkpoint the WAL in the background (a thread with its own connection,
 * SQLITE_CHECKPOINT_PASSIVE), so that copying a committed source into the
 * database file overlaps with ingesting the next one; the ingest connection
 * runs with wal_autocheckpoint=0.  _wait joins the thread (lb_store_close
 * does too).
 */
void lb_store__checkpoint_start(lb_store *st);
void lb_store__checkpoint_wait(lb_store *st);
lb_status lb_store__begin(lb_store *st, lb_error *err);
lb_status lb_store__commit(lb_store *st, lb_error *err);
void lb_store__rollback(lb_store *st);
/* Make sure the table of layer id exists (inside the current transaction). */
lb_status lb_store__ensure_layer(lb_store *st, const char *layer, lb_error *err);
/* Previous layer of a source (malloc'ed, NULL when never ingested). */
char *lb_store__source_layer(lb_store *st, const char *source);
/* Bump a layer's revision inside the current transaction; returns the new one. */
lb_status lb_store__bump_layer(lb_store *st, const char *layer, int64_t *rev, lb_error *err);
/* The same without touching updated_at (pushes: updated_at is the time of the
 * last file ingest, which says nothing about features a reader cannot see). */
lb_status lb_store__bump_revision(lb_store *st, const char *layer, int64_t *rev, lb_error *err);

/*
 * Bulk writing of a layer table inside the ingest transaction.  SpatiaLite
 * maintains the R*Tree, geometry_columns_time and the geometry constraint
 * with per-row triggers; for a bulk write these are costly (the R*Tree one
 * builds and runs an SQL string per row).  lb_store__bulk_begin drops the
 * INSERT and DELETE ones of the table (keeping their SQL from sqlite_master),
 * lb_store__bulk_delete_source and lb_store__bulk_inserted do their work
 * once per statement (or leave the R*Tree to be rebuilt packed), and
 * lb_store__bulk_end rebuilds the R*Tree if needed and recreates the
 * triggers verbatim, in their original order, before COMMIT.  A rollback
 * brings them back too, so no committed state and no reader ever sees the
 * table without them.
 */
#define LB_STORE_BULK_TRIGGERS 5
typedef struct lb_store__bulk {
    char *layer;
    size_t n;
    char *name[LB_STORE_BULK_TRIGGERS], *sql[LB_STORE_BULK_TRIGGERS];
    unsigned roles;  /* which triggers were dropped (store.c) */
    char *rtree_sql; /* CREATE statement of the R*Tree when it may be rebuilt */
    int64_t others;  /* rows of other sources in the table, -1 unknown */
    bool rebuild;    /* rebuild the R*Tree in lb_store__bulk_end */
} lb_store__bulk;
lb_status lb_store__bulk_begin(lb_store *st, const char *layer, lb_store__bulk *b,
                               lb_error *err);
/* Remove every feature of source from the layer, with its R*Tree entries. */
lb_status lb_store__bulk_delete_source(lb_store *st, lb_store__bulk *b, const char *source,
                                       lb_error *err);
/* The count rows of source inserted with rowids in [first, last] get their
 * R*Tree entries (and the insert time is set). */
lb_status lb_store__bulk_inserted(lb_store *st, lb_store__bulk *b, const char *source,
                                  int64_t first, int64_t last, int64_t count, lb_error *err);
/* Rebuild the R*Tree if decided, recreate the dropped triggers; frees b. */
lb_status lb_store__bulk_end(lb_store *st, lb_store__bulk *b, lb_error *err);
void lb_store__bulk_free(lb_store__bulk *b);

/* ---- ingest.c ---- */

/*
 * The common per-source ingest core (files and pushes): reads every feature
 * of lyr (an open OGR layer; the caller keeps its dataset) through the
 * pipeline (CRS: crs_override, else the layer's, else the source's crs:;
 * checks and repairs; mapping; labels) and writes them in ONE committed
 * transaction in mode.  writer (UPSERT only): the pushing principal, whose
 * own features alone are replaced.  res (UPSERT only) receives changes and
 * rejects.  stats->seconds on entry: time the caller already spent opening.
 */
lb_status lb_ingest__layer(lb_store *st, const lb_config *cfg, const lb_source_cfg *src,
                           OGRLayerH lyr, const char *crs_override, lb_ingest_mode mode,
                           const char *writer, const lb_ingest_opts *opts,
                           lb_ingest_stats *stats, lb_push_result *res, lb_error *err);

#endif
