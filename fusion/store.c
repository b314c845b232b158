/*
 * This file implements the SpatiaLite store: opening/creating it, the
 * bookkeeping tables, per-layer feature tables and revisions.
 *
 * Layout (docs/store.md):
 *   <layer>      one table per layer: pk (row key, in insertion order), fid
 *                (stable hash, unique), provenance, common schema, label,
 *                attrs (JSON), revision, geom (GEOMETRY XY, SRID 4326, R*Tree)
 *   lb_layers    layer -> revision, updated_at
 *   lb_sources   source -> layer it feeds, last successful ingest
 *   lb_ingests   one row per ingest attempt (also failed ones)
 *   lb_rejects   rejected features of each source's last ingest, with reason
 *
 * Invariants:
 *   1. Everything an ingest writes happens inside one transaction
 *      (lb_store__begin .. lb_store__commit); a crash at any point leaves the
 *      previous revision intact (SQLite WAL journal, synchronous=FULL).
 *   2. A layer's revision only grows; it is bumped in the same transaction
 *      that changes its features.
 *   3. Outside an ingest transaction every layer table carries SpatiaLite's
 *      own triggers, exactly as SpatiaLite created them (lb_store__bulk_*
 *      suspends some of them only inside the transaction).
 */
#include <stdlib.h>
#include <string.h>

#include "fusion_int.h"

#include <spatialite.h>
#include "lagebild/util.h"

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS lb_layers ("
    " layer TEXT PRIMARY KEY, revision INTEGER NOT NULL DEFAULT 0,"
    " updated_at TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS lb_sources ("
    " source TEXT PRIMARY KEY, layer TEXT NOT NULL, agency TEXT, path TEXT,"
    " revision INTEGER NOT NULL, features INTEGER NOT NULL, rejected INTEGER NOT NULL,"
    " ingested_at TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS lb_ingests ("
    " id INTEGER PRIMARY KEY, source TEXT NOT NULL, finished_at TEXT NOT NULL,"
    " status TEXT NOT NULL, message TEXT, features_read INTEGER, stored INTEGER,"
    " repaired INTEGER, rejected INTEGER, seconds REAL, revision INTEGER);"
    "CREATE TABLE IF NOT EXISTS lb_rejects ("
    " source TEXT NOT NULL, source_fid TEXT, reason TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS lb_rejects_source ON lb_rejects(source);";

lb_status lb_store__exec(lb_store *st, const char *sql, lb_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        lb_status rc = lb_fail(err, LB_ESTORE, "store %s: %s", st->path, msg ? msg : "?");
        sqlite3_free(msg);
        return rc;
    }
    return LB_OK;
}

void lb_store_close(lb_store *st)
{
    if (!st)
        return;
    if (st->db)
        sqlite3_close(st->db);
    if (st->splite_cache)
        spatialite_cleanup_ex(st->splite_cache);
    free(st->path);
    free(st);
}

static bool has_spatial_metadata(sqlite3 *db)
{
    sqlite3_stmt *q = NULL;
    bool yes = false;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM sqlite_master WHERE type='table' AND "
                           "name='spatial_ref_sys'",
                           -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        yes = true;
    sqlite3_finalize(q);
    return yes;
}

lb_status lb_store_open(const char *path, lb_store **out, lb_error *err)
{
    lb_store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = lb_strdup(path))) {
        free(st);
        return lb_fail(err, LB_ENOMEM, "out of memory");
    }
    lb_status rc = LB_OK;
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = lb_fail(err, LB_ESTORE, "cannot open store %s: %s", path,
                     st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    st->splite_cache = spatialite_alloc_connection();
    spatialite_init_ex(st->db, st->splite_cache, 0);
    sqlite3_busy_timeout(st->db, 10000);

    /* a file that is not a database shows up on the first read */
    /* temp_store: the statement journals of the ingest's INSERTs stay in memory */
    rc = lb_store__exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                            " PRAGMA temp_store=MEMORY;", err);
    if (rc != LB_OK)
        goto fail;
    if (!has_spatial_metadata(st->db)) {
        rc = lb_store__exec(st, "BEGIN; SELECT InitSpatialMetadata(0, 'NONE');"
                                "SELECT InsertEpsgSrid(4326); COMMIT;", err);
        if (rc != LB_OK)
            goto fail;
    }
    rc = lb_store__exec(st, schema_sql, err);
    if (rc != LB_OK)
        goto fail;
    *out = st;
    return LB_OK;
fail:
    lb_store_close(st);
    return rc;
}

lb_status lb_store__begin(lb_store *st, lb_error *err)
{
    return lb_store__exec(st, "BEGIN IMMEDIATE", err);
}

lb_status lb_store__commit(lb_store *st, lb_error *err) { return lb_store__exec(st, "COMMIT", err); }

void lb_store__rollback(lb_store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

static bool table_exists(lb_store *st, const char *name)
{
    sqlite3_stmt *q = NULL;
    bool yes = false;
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
        yes = sqlite3_step(q) == SQLITE_ROW;
    }
    sqlite3_finalize(q);
    return yes;
}

/* Run a SELECT of one spatialite function and require it to return 1. */
static lb_status select_one(lb_store *st, const char *sql, const char *what, lb_error *err)
{
    sqlite3_stmt *q = NULL;
    lb_status rc = LB_OK;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW || sqlite3_column_int(q, 0) != 1)
        rc = lb_fail(err, LB_ESTORE, "store %s: %s failed: %s", st->path, what,
                     sqlite3_errmsg(st->db));
    sqlite3_finalize(q);
    return rc;
}

lb_status lb_store__ensure_layer(lb_store *st, const char *layer, lb_error *err)
{
    /* layer ids are validated by the config loader: [a-z][a-z0-9_]* */
    if (table_exists(st, layer))
        return LB_OK;
    /* pk is the row key: new rows are appended in order (a hashed key would
     * scatter every insert over the table's B-tree); fid is the stable id */
    char *create = sqlite3_mprintf(
        "CREATE TABLE \"%w\" ("
        " pk INTEGER PRIMARY KEY, fid INTEGER NOT NULL,"
        " source TEXT NOT NULL, source_fid TEXT NOT NULL,"
        " kind TEXT, name TEXT, status TEXT, observed_at TEXT, valid_from TEXT,"
        " valid_to TEXT, accuracy_m REAL, label_level INTEGER NOT NULL,"
        " classification TEXT NOT NULL, releasable_to TEXT NOT NULL, caveats TEXT NOT NULL,"
        " attrs TEXT, revision INTEGER NOT NULL);"
        "CREATE UNIQUE INDEX \"%w_fid\" ON \"%w\"(fid);"
        "CREATE UNIQUE INDEX \"%w_source_fid\" ON \"%w\"(source, source_fid);"
        "INSERT OR IGNORE INTO lb_layers(layer, revision, updated_at)"
        " VALUES ('%q', 0, strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ','now'));",
        layer, layer, layer, layer, layer, layer);
    char *geom = sqlite3_mprintf("SELECT AddGeometryColumn('%q', 'geom', 4326, 'GEOMETRY', 'XY')",
                                 layer);
    char *index = sqlite3_mprintf("SELECT CreateSpatialIndex('%q', 'geom')", layer);
    lb_status rc = LB_OK;
    if (!create || !geom || !index)
        rc = lb_fail(err, LB_ENOMEM, "out of memory");
    if (rc == LB_OK)
        rc = lb_store__exec(st, create, err);
    if (rc == LB_OK)
        rc = select_one(st, geom, "AddGeometryColumn", err);
    if (rc == LB_OK)
        rc = select_one(st, index, "CreateSpatialIndex", err);
    sqlite3_free(create);
    sqlite3_free(geom);
    sqlite3_free(index);
    return rc;
}

char *lb_store__source_layer(lb_store *st, const char *source)
{
    sqlite3_stmt *q = NULL;
    char *layer = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT layer FROM lb_sources WHERE source=?", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, source, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
            layer = lb_strdup((const char *)sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
    return layer;
}

lb_status lb_store__bump_layer(lb_store *st, const char *layer, int64_t *rev, lb_error *err)
{
    sqlite3_stmt *q = NULL;
    lb_status rc = LB_OK;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO lb_layers(layer, revision, updated_at)"
                           " VALUES (?1, 1, strftime('%Y-%m-%dT%H:%M:%SZ','now'))"
                           " ON CONFLICT(layer) DO UPDATE SET revision = revision + 1,"
                           " updated_at = excluded.updated_at RETURNING revision",
                           -1, &q, NULL) != SQLITE_OK)
        return lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_text(q, 1, layer, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW)
        *rev = sqlite3_column_int64(q, 0);
    else
        rc = lb_fail(err, LB_ESTORE, "store %s: cannot bump revision of %s: %s", st->path,
                     layer, sqlite3_errmsg(st->db));
    sqlite3_finalize(q);
    return rc;
}

/* ---- bulk writing ------------------------------------------------------ */

/*
 * SpatiaLite's triggers on a layer table that an ingest replaces by one
 * statement each (for geometry column "geom"):
 *   ggi_  BEFORE INSERT  geometry type/SRID constraint (checked per row against
 *                        geometry_columns; only suspended when the column is
 *                        GEOMETRY XY, SRID 4326, which every geometry the
 *                        ingest writes satisfies by construction)
 *   tmi_  AFTER INSERT   geometry_columns_time.last_insert
 *   gii_  AFTER INSERT   R*Tree entry of the new row (RTreeAlign)
 *   tmd_  AFTER DELETE   geometry_columns_time.last_delete
 *   gid_  AFTER DELETE   R*Tree entry of the deleted row
 * The UPDATE triggers stay.
 */
enum {
    BULK_GGI = 1u << 0,
    BULK_TMI = 1u << 1,
    BULK_GII = 1u << 2,
    BULK_TMD = 1u << 3,
    BULK_GID = 1u << 4,
};
static const char *const bulk_prefix[LB_STORE_BULK_TRIGGERS] = {"ggi", "tmi", "gii", "tmd",
                                                                 "gid"};

/* geometry_columns says geom is GEOMETRY XY in SRID 4326 */
static bool geom_is_any_xy_4326(lb_store *st, const char *layer)
{
    sqlite3_stmt *q = NULL;
    bool yes = false;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT geometry_type, srid FROM geometry_columns"
                           " WHERE Lower(f_table_name) = Lower(?) AND"
                           " Lower(f_geometry_column) = 'geom'",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, layer, -1, SQLITE_STATIC);
        yes = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 0 &&
              sqlite3_column_int(q, 1) == 4326;
    }
    sqlite3_finalize(q);
    return yes;
}

lb_status lb_store__bulk_begin(lb_store *st, const char *layer, lb_store__bulk *b,
                               lb_error *err)
{
    memset(b, 0, sizeof *b);
    b->layer = lb_strdup(layer);
    if (!b->layer)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    char names[LB_STORE_BULK_TRIGGERS][128];
    for (int i = 0; i < LB_STORE_BULK_TRIGGERS; i++)
        snprintf(names[i], sizeof names[i], "%s_%s_geom", bulk_prefix[i], layer);
    bool ggi_ok = geom_is_any_xy_4326(st, layer);
    /* in creation order, so that recreating them keeps their relative order */
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND"
                           " tbl_name = ? AND name IN (?,?,?,?,?) ORDER BY rowid",
                           -1, &q, NULL) != SQLITE_OK)
        return lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_text(q, 1, layer, -1, SQLITE_STATIC);
    for (int i = 0; i < LB_STORE_BULK_TRIGGERS; i++)
        sqlite3_bind_text(q, 2 + i, names[i], -1, SQLITE_STATIC);
    lb_status rc = LB_OK;
    int r;
    while (rc == LB_OK && (r = sqlite3_step(q)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(q, 0);
        const char *sql = (const char *)sqlite3_column_text(q, 1);
        int role = 0;
        while (role < LB_STORE_BULK_TRIGGERS && strcmp(name, names[role]) != 0)
            role++;
        if (role == LB_STORE_BULK_TRIGGERS || !sql || (role == 0 && !ggi_ok))
            continue;
        size_t k = b->n;
        b->name[k] = lb_strdup(name);
        b->sql[k] = lb_strdup(sql);
        if (!b->name[k] || !b->sql[k]) {
            free(b->name[k]);
            free(b->sql[k]);
            rc = lb_fail(err, LB_ENOMEM, "out of memory");
            break;
        }
        b->n++;
        b->roles |= 1u << role;
    }
    sqlite3_finalize(q);
    for (size_t i = 0; i < b->n && rc == LB_OK; i++) {
        char *drop = sqlite3_mprintf("DROP TRIGGER \"%w\"", b->name[i]);
        rc = drop ? lb_store__exec(st, drop, err) : lb_fail(err, LB_ENOMEM, "out of memory");
        sqlite3_free(drop);
    }
    return rc;
}

static lb_status touch_time(lb_store *st, const lb_store__bulk *b, const char *column,
                            lb_error *err)
{
    /* what the tmi_/tmd_ triggers do, once */
    char *sql = sqlite3_mprintf("UPDATE geometry_columns_time SET %s ="
                                " strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now')"
                                " WHERE Lower(f_table_name) = Lower(%Q) AND"
                                " Lower(f_geometry_column) = Lower('geom')",
                                column, b->layer);
    lb_status rc = sql ? lb_store__exec(st, sql, err) : lb_fail(err, LB_ENOMEM, "out of memory");
    sqlite3_free(sql);
    return rc;
}

lb_status lb_store__bulk_delete_source(lb_store *st, lb_store__bulk *b, const char *source,
                                       lb_error *err)
{
    if (!table_exists(st, b->layer))
        return LB_OK;
    lb_status rc = LB_OK;
    if (b->roles & BULK_GID) {
        char *sql = sqlite3_mprintf("DELETE FROM \"idx_%w_geom\" WHERE pkid IN"
                                    " (SELECT rowid FROM \"%w\" WHERE source = %Q)",
                                    b->layer, b->layer, source);
        rc = sql ? lb_store__exec(st, sql, err) : lb_fail(err, LB_ENOMEM, "out of memory");
        sqlite3_free(sql);
    }
    if (rc != LB_OK)
        return rc;
    char *sql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE source = %Q", b->layer, source);
    rc = sql ? lb_store__exec(st, sql, err) : lb_fail(err, LB_ENOMEM, "out of memory");
    sqlite3_free(sql);
    if (rc == LB_OK && (b->roles & BULK_TMD) && sqlite3_changes(st->db) > 0)
        rc = touch_time(st, b, "last_delete", err);
    return rc;
}

lb_status lb_store__bulk_inserted(lb_store *st, lb_store__bulk *b, const char *source,
                                  int64_t first, int64_t last, lb_error *err)
{
    if (first > last)
        return LB_OK;
    lb_status rc = LB_OK;
    if (b->roles & BULK_GII) {
        /* the rows of this source in [first, last] are exactly those inserted
         * (also with a layout whose row key is not sequential); OR REPLACE
         * replaces a stale entry of a reused rowid like the trigger's DELETE */
        char *sql = sqlite3_mprintf(
            "INSERT OR REPLACE INTO \"idx_%w_geom\" (pkid, xmin, xmax, ymin, ymax)"
            " SELECT rowid, MbrMinX(geom), MbrMaxX(geom), MbrMinY(geom), MbrMaxY(geom)"
            " FROM \"%w\" WHERE rowid BETWEEN %lld AND %lld AND source = %Q"
            " AND geom IS NOT NULL",
            b->layer, b->layer, (long long)first, (long long)last, source);
        rc = sql ? lb_store__exec(st, sql, err) : lb_fail(err, LB_ENOMEM, "out of memory");
        sqlite3_free(sql);
    }
    if (rc == LB_OK && (b->roles & BULK_TMI))
        rc = touch_time(st, b, "last_insert", err);
    return rc;
}

lb_status lb_store__bulk_end(lb_store *st, lb_store__bulk *b, lb_error *err)
{
    lb_status rc = LB_OK;
    for (size_t i = 0; i < b->n && rc == LB_OK; i++)
        rc = lb_store__exec(st, b->sql[i], err);
    lb_store__bulk_free(b);
    return rc;
}

void lb_store__bulk_free(lb_store__bulk *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->name[i]);
        free(b->sql[i]);
    }
    free(b->layer);
    memset(b, 0, sizeof *b);
}

lb_status lb_store_layer_revision(lb_store *st, const char *layer, int64_t *rev, lb_error *err)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT revision FROM lb_layers WHERE layer=?", -1, &q,
                           NULL) != SQLITE_OK)
        return lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_bind_text(q, 1, layer, -1, SQLITE_STATIC);
    *rev = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    return LB_OK;
}

lb_status lb_store_layers(lb_store *st, lb_layer_info **out, size_t *n, lb_error *err)
{
    sqlite3_stmt *q = NULL;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT layer, revision, updated_at FROM lb_layers"
                                   " ORDER BY layer", -1, &q, NULL) != SQLITE_OK)
        return lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
    lb_layer_info *v = NULL;
    size_t cnt = 0, cap = 0;
    lb_status rc = LB_OK;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            lb_layer_info *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                rc = lb_fail(err, LB_ENOMEM, "out of memory");
                break;
            }
            v = nv;
        }
        lb_layer_info *li = &v[cnt++];
        memset(li, 0, sizeof *li);
        snprintf(li->layer, sizeof li->layer, "%s", (const char *)sqlite3_column_text(q, 0));
        li->revision = sqlite3_column_int64(q, 1);
        snprintf(li->updated_at, sizeof li->updated_at, "%s",
                 (const char *)sqlite3_column_text(q, 2));
    }
    sqlite3_finalize(q);
    for (size_t i = 0; i < cnt && rc == LB_OK; i++) {
        char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", v[i].layer);
        if (sql && sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK) {
            if (sqlite3_step(q) == SQLITE_ROW)
                v[i].features = sqlite3_column_int64(q, 0);
            sqlite3_finalize(q);
        }
        sqlite3_free(sql);
    }
    if (rc != LB_OK) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return LB_OK;
}

lb_status lb_store_scan_layer(lb_store *st, const char *layer, lb_stored_feature_fn fn,
                              void *ud, int64_t *revision, lb_error *err)
{
    *revision = 0;
    lb_status rc = lb_store__exec(st, "BEGIN", err);
    if (rc != LB_OK)
        return rc;
    lb_store_layer_revision(st, layer, revision, NULL);
    if (!table_exists(st, layer)) {
        lb_store__exec(st, "COMMIT", NULL);
        return LB_OK;
    }
    char *sql = sqlite3_mprintf(
        "SELECT fid, source, source_fid, kind, name, status, observed_at, valid_from,"
        " valid_to, accuracy_m, label_level, classification, releasable_to, caveats, attrs,"
        " AsBinary(geom) FROM \"%w\" ORDER BY fid", layer);
    sqlite3_stmt *q = NULL;
    if (!sql || sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
        rc = lb_fail(err, LB_ESTORE, "store %s: cannot read layer '%s': %s", st->path, layer,
                     sqlite3_errmsg(st->db));
        sqlite3_free(sql);
        lb_store__rollback(st);
        return rc;
    }
    sqlite3_free(sql);
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        lb_stored_feature f = {0};
        f.fid = sqlite3_column_int64(q, 0);
        f.source = (const char *)sqlite3_column_text(q, 1);
        f.source_fid = (const char *)sqlite3_column_text(q, 2);
        for (int k = 0; k < LB_FIELD_COUNT; k++)
            if (k != LB_FIELD_ACCURACY_M)
                f.field[k] = (const char *)sqlite3_column_text(q, 3 + k);
        f.has_accuracy = sqlite3_column_type(q, 9) != SQLITE_NULL;
        f.accuracy_m = sqlite3_column_double(q, 9);
        f.field[LB_FIELD_ACCURACY_M] = f.has_accuracy ? (const char *)sqlite3_column_text(q, 9) : NULL;
        f.label_level = sqlite3_column_int(q, 10);
        f.classification = (const char *)sqlite3_column_text(q, 11);
        f.releasable_to = (const char *)sqlite3_column_text(q, 12);
        f.caveats = (const char *)sqlite3_column_text(q, 13);
        f.attrs = (const char *)sqlite3_column_text(q, 14);
        f.wkb = sqlite3_column_blob(q, 15);
        f.wkb_len = (size_t)sqlite3_column_bytes(q, 15);
        if (!fn(ud, &f)) {
            rc = lb_fail(err, LB_ENOMEM, "out of memory reading layer '%s'", layer);
            break;
        }
    }
    if (rc == LB_OK && r != SQLITE_DONE)
        rc = lb_fail(err, LB_ESTORE, "store %s: reading layer '%s': %s", st->path, layer,
                     sqlite3_errmsg(st->db));
    sqlite3_finalize(q);
    lb_store__exec(st, "COMMIT", NULL);
    return rc;
}
