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
 *   lb_conflation  member report -> fused feature of a conflated layer
 *   lb_fused     fused features: seed report, fused label, provenance
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
#include <math.h>
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
    "CREATE INDEX IF NOT EXISTS lb_rejects_source ON lb_rejects(source);"
    "CREATE TABLE IF NOT EXISTS lb_conflation ("
    " layer TEXT NOT NULL, fused_fid INTEGER NOT NULL, member_fid INTEGER NOT NULL,"
    " source TEXT NOT NULL, source_fid TEXT NOT NULL,"
    " PRIMARY KEY (layer, member_fid)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS lb_conflation_fused ON lb_conflation(layer, fused_fid);"
    "CREATE TABLE IF NOT EXISTS lb_fused ("
    " layer TEXT NOT NULL, fid INTEGER NOT NULL, seed_fid INTEGER NOT NULL,"
    " label_level INTEGER NOT NULL, classification TEXT NOT NULL,"
    " releasable_to TEXT NOT NULL, caveats TEXT NOT NULL, reports TEXT NOT NULL,"
    " cx REAL NOT NULL, cy REAL NOT NULL, PRIMARY KEY (layer, fid)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS lb_fused_cx ON lb_fused(layer, cx);";

/* Which principal pushed a row ('' for rows of file ingests and of plain SQL
 * writers): a pushed feature is addressed by (source, writer, source_fid),
 * so a writer reaches only what it wrote itself (docs/store.md). */
#define WRITER_COLUMN "writer TEXT NOT NULL DEFAULT ''"

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

static void *checkpoint_main(void *arg)
{
    const char *path = arg;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    sqlite3_close(db);
    return NULL;
}

void lb_store__checkpoint_start(lb_store *st)
{
    lb_store__checkpoint_wait(st);
    st->checkpointing = pthread_create(&st->checkpointer, NULL, checkpoint_main, st->path) == 0;
    if (!st->checkpointing)
        sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

void lb_store__checkpoint_wait(lb_store *st)
{
    if (st->checkpointing)
        pthread_join(st->checkpointer, NULL);
    st->checkpointing = false;
}

void lb_store_close(lb_store *st)
{
    if (!st)
        return;
    lb_store__checkpoint_wait(st);
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

/* The statements that give every layer table without the writer column the
 * column and the unique index keyed by it, appended to b. */
static bool writer_migration(lb_store *st, lb_buf *b)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT l.layer FROM lb_layers l JOIN sqlite_master m"
                           " ON m.type = 'table' AND m.name = l.layer WHERE NOT EXISTS"
                           " (SELECT 1 FROM pragma_table_info(l.layer) WHERE name = 'writer')",
                           -1, &q, NULL) != SQLITE_OK)
        return false;
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        char *sql = sqlite3_mprintf("ALTER TABLE \"%w\" ADD COLUMN " WRITER_COLUMN ";"
                                    "DROP INDEX IF EXISTS \"%w_source_fid\";"
                                    "CREATE UNIQUE INDEX \"%w_source_fid\""
                                    " ON \"%w\"(source, writer, source_fid);",
                                    sqlite3_column_text(q, 0), sqlite3_column_text(q, 0),
                                    sqlite3_column_text(q, 0), sqlite3_column_text(q, 0));
        if (!sql)
            b->oom = true;
        else
            lb_buf_puts(b, sql);
        sqlite3_free(sql);
    }
    sqlite3_finalize(q);
    return r == SQLITE_DONE && !b->oom;
}

/*
 * Layer tables made before pushed features belonged to their writer lack the
 * writer column, and their unique index on (source, source_fid) would refuse
 * a second writer's feature of the same id.  Every such table gets both in
 * one transaction; its existing rows get writer '' (nobody's: which principal
 * pushed them was never recorded).  Checked without a lock first, so opening
 * a current store writes nothing.
 */
static lb_status migrate_writer(lb_store *st, lb_error *err)
{
    lb_buf sql = {0};
    bool ok = writer_migration(st, &sql);
    if (ok && sql.len == 0)
        return LB_OK;
    lb_buf_free(&sql);
    lb_status rc = ok ? lb_store__begin(st, err)
                      : lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
    /* again under the write lock: another process may have done it meanwhile */
    if (rc == LB_OK && !writer_migration(st, &sql))
        rc = lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
    if (rc == LB_OK && sql.len)
        rc = lb_store__exec(st, sql.data, err);
    lb_buf_free(&sql);
    if (rc == LB_OK)
        rc = lb_store__commit(st, err);
    if (rc != LB_OK)
        lb_store__rollback(st);
    return rc;
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

    /* a file that is not a database shows up on the first read.
     * page_size only takes effect on a new, empty file (before WAL is set):
     * 16 KiB pages mean a quarter of the page writes of a bulk ingest.
     * temp_store: statement journals (there are per-row triggers when
     * another tool writes) stay in memory. */
    rc = lb_store__exec(st, "PRAGMA page_size=16384; PRAGMA journal_mode=WAL;"
                            " PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY;", err);
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
    /* stores made before watched sources lack the content hash column */
    sqlite3_stmt *q = NULL;
    bool has_hash = false;
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM pragma_table_info('lb_sources')"
                                   " WHERE name='content_hash'", -1, &q, NULL) == SQLITE_OK)
        has_hash = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    if (!has_hash &&
        sqlite3_exec(st->db, "ALTER TABLE lb_sources ADD COLUMN content_hash TEXT", NULL, NULL,
                     NULL) != SQLITE_OK) {
        /* another process may have added it just now */
        has_hash = false;
        if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM pragma_table_info('lb_sources')"
                                       " WHERE name='content_hash'", -1, &q, NULL) == SQLITE_OK)
            has_hash = sqlite3_step(q) == SQLITE_ROW;
        sqlite3_finalize(q);
        if (!has_hash) {
            rc = lb_fail(err, LB_ESTORE, "store %s: cannot add lb_sources.content_hash: %s",
                         path, sqlite3_errmsg(st->db));
            goto fail;
        }
    }
    rc = migrate_writer(st, err);
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
        " attrs TEXT, revision INTEGER NOT NULL, " WRITER_COLUMN ");"
        "CREATE UNIQUE INDEX \"%w_fid\" ON \"%w\"(fid);"
        "CREATE UNIQUE INDEX \"%w_source_fid\" ON \"%w\"(source, writer, source_fid);"
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

/* Next revision of a layer (1 for a new one); touch: also set updated_at.
 * A push does not touch it: every principal of the layer sees updated_at,
 * and a change to features it cannot see must not move it. */
static lb_status bump(lb_store *st, const char *layer, bool touch, int64_t *rev, lb_error *err)
{
    sqlite3_stmt *q = NULL;
    lb_status rc = LB_OK;
    const char *sql = touch ? "INSERT INTO lb_layers(layer, revision, updated_at)"
                              " VALUES (?1, 1, strftime('%Y-%m-%dT%H:%M:%SZ','now'))"
                              " ON CONFLICT(layer) DO UPDATE SET revision = revision + 1,"
                              " updated_at = excluded.updated_at RETURNING revision"
                            : "INSERT INTO lb_layers(layer, revision, updated_at)"
                              " VALUES (?1, 1, strftime('%Y-%m-%dT%H:%M:%SZ','now'))"
                              " ON CONFLICT(layer) DO UPDATE SET revision = revision + 1"
                              " RETURNING revision";
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
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

lb_status lb_store__bump_layer(lb_store *st, const char *layer, int64_t *rev, lb_error *err)
{
    return bump(st, layer, true, rev, err);
}

lb_status lb_store__bump_revision(lb_store *st, const char *layer, int64_t *rev, lb_error *err)
{
    return bump(st, layer, false, rev, err);
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
 *
 * The R*Tree itself is either updated with one INSERT ... SELECT (or
 * DELETE) statement, or, when the rows written are many compared with those
 * kept, rebuilt as a packed tree (rtree_rebuild): SQLite's R*Tree inserts
 * one entry at a time through SQL statements, which costs about as much as
 * writing the row itself.
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

/* Rebuild rather than update the R*Tree when written >= kept / REBUILD_RATIO. */
#define REBUILD_RATIO 8

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

/* The CREATE statement of the layer's R*Tree when it is SpatiaLite's plain
 * 2D one (the only form rtree_rebuild writes); NULL otherwise. */
static char *packable_rtree_sql(lb_store *st, const char *layer)
{
    char *want = sqlite3_mprintf("CREATE VIRTUAL TABLE \"idx_%w_geom\" USING rtree(pkid, xmin,"
                                 " xmax, ymin, ymax)",
                                 layer);
    char *name = sqlite3_mprintf("idx_%s_geom", layer);
    sqlite3_stmt *q = NULL;
    char *sql = NULL;
    if (want && name &&
        sqlite3_prepare_v2(st->db,
                           "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", -1,
                           &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) {
            const char *have = (const char *)sqlite3_column_text(q, 0);
            if (have && strcmp(have, want) == 0)
                sql = lb_strdup(have);
        }
    }
    sqlite3_finalize(q);
    sqlite3_free(want);
    sqlite3_free(name);
    return sql;
}

lb_status lb_store__bulk_begin(lb_store *st, const char *layer, lb_store__bulk *b,
                               lb_error *err)
{
    memset(b, 0, sizeof *b);
    b->others = -1;
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
    while (rc == LB_OK && sqlite3_step(q) == SQLITE_ROW) {
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
    if (rc == LB_OK && (b->roles & BULK_GII) && (b->roles & BULK_GID))
        b->rtree_sql = packable_rtree_sql(st, layer);
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

/* The first column of a one-row query as an integer (-1 on failure). */
static int64_t query_int(lb_store *st, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sql && sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

lb_status lb_store__bulk_delete_source(lb_store *st, lb_store__bulk *b, const char *source,
                                       lb_error *err)
{
    if (!table_exists(st, b->layer))
        return LB_OK;
    char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\" WHERE source = %Q", b->layer, source);
    int64_t mine = query_int(st, sql);
    sqlite3_free(sql);
    sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", b->layer);
    int64_t all = query_int(st, sql);
    sqlite3_free(sql);
    if (mine < 0 || all < 0)
        return lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
    b->others = all - mine;
    if (mine == 0)
        return LB_OK;
    lb_status rc = LB_OK;
    if (b->rtree_sql && mine * REBUILD_RATIO >= b->others) {
        b->rebuild = true; /* the R*Tree is rebuilt at the end: nothing to remove now */
    } else if (b->roles & BULK_GID) {
        sql = sqlite3_mprintf("DELETE FROM \"idx_%w_geom\" WHERE pkid IN"
                              " (SELECT rowid FROM \"%w\" WHERE source = %Q)",
                              b->layer, b->layer, source);
        rc = sql ? lb_store__exec(st, sql, err) : lb_fail(err, LB_ENOMEM, "out of memory");
        sqlite3_free(sql);
    }
    if (rc != LB_OK)
        return rc;
    sql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE source = %Q", b->layer, source);
    rc = sql ? lb_store__exec(st, sql, err) : lb_fail(err, LB_ENOMEM, "out of memory");
    sqlite3_free(sql);
    if (rc == LB_OK && (b->roles & BULK_TMD))
        rc = touch_time(st, b, "last_delete", err);
    return rc;
}

lb_status lb_store__bulk_inserted(lb_store *st, lb_store__bulk *b, const char *source,
                                  int64_t first, int64_t last, int64_t count, lb_error *err)
{
    if (count <= 0 || first > last)
        return LB_OK;
    lb_status rc = LB_OK;
    if (b->others < 0) {
        char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", b->layer);
        int64_t all = query_int(st, sql);
        sqlite3_free(sql);
        b->others = all > count ? all - count : 0;
    }
    if (b->rtree_sql && count * REBUILD_RATIO >= b->others + count)
        b->rebuild = true;
    if ((b->roles & BULK_GII) && !b->rebuild) {
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

/* ---- packed R*Tree ------------------------------------------------------ */

/*
 * rtree_rebuild writes the layer's R*Tree directly into the shadow tables of
 * SQLite's rtree module, as a packed tree: entries sorted along a Hilbert
 * curve fill the leaves in order, and so on up to the root.  SQLite's format
 * (documented in its rtree.c; 2D, 32-bit float coordinates):
 *
 *   %_node(nodeno INTEGER PRIMARY KEY, data BLOB)   node 1 is the root
 *   %_parent(nodeno INTEGER PRIMARY KEY, parentnode) for every other node
 *   %_rowid(rowid INTEGER PRIMARY KEY, nodeno)       leaf of every entry
 *
 *   data: depth of the tree below the node (2 bytes, root only, else 0),
 *         number of cells (2 bytes), cells, zero padding to the node size;
 *   cell: id (8 bytes: rowid in leaves, child node elsewhere), xmin, xmax,
 *         ymin, ymax (IEEE floats); every number big-endian.
 *
 * The node size is that of the root node SQLite writes when it creates the
 * table.  Coordinates are rounded outwards to floats as SQLite's rtree does
 * on INSERT, so a box always contains its geometry's.  The table is dropped
 * and created again from its own CREATE statement first: a fresh virtual
 * table has no state cached from before.  Entries are read and sorted in
 * chunks of RT_CHUNK, so memory stays bounded for any layer size (leaves are
 * then packed per chunk, the levels above over all leaves).  The result
 * passes SQLite's rtreecheck() and SpatiaLite's CheckSpatialIndex(), and
 * SQLite's rtree code keeps maintaining it (through the triggers) afterwards.
 */

#define RT_CHUNK (1u << 17) /* 128 Ki entries: 4 MiB, and as much again to sort */

/* The chunk size; LAGEBILD_RTREE_CHUNK (tests only) makes it smaller so that
 * small layers take the multi-chunk path too. */
static size_t rt_chunk(void)
{
    const char *e = getenv("LAGEBILD_RTREE_CHUNK");
    if (e && *e) {
        long v = strtol(e, NULL, 10);
        if (v >= 64 && v < (long)RT_CHUNK)
            return (size_t)v;
    }
    return RT_CHUNK;
}
#define RT_ROWS 64 /* %_rowid rows per INSERT statement */

typedef struct rt_ent {
    int64_t id;
    float box[4]; /* xmin, xmax, ymin, ymax */
    uint64_t key; /* Hilbert key; for leaf entries later the leaf's node */
} rt_ent;

typedef struct rt_build {
    lb_store *st;
    sqlite3_stmt *node, *root, *parent, *rowid, *rowids, *mbr;
    int cells; /* per node */
    int node_size;
    int64_t next_node;
    unsigned char *blob;
    rt_ent *tmp;   /* sort buffer, as large as the chunk */
    size_t *count; /* radix counts */
    rt_ent *level; /* one entry per leaf node */
    size_t nlevel, level_cap;
    bool oom;
} rt_build;

/* Position of (x, y) along a Hilbert curve over 2^32 x 2^32 cells. */
static uint64_t hilbert_key(uint32_t x, uint32_t y)
{
    uint64_t d = 0;
    for (uint32_t s = 1u << 31; s > 0; s >>= 1) {
        uint32_t rx = (x & s) != 0, ry = (y & s) != 0;
        d += (uint64_t)s * s * ((3 * rx) ^ ry);
        if (ry == 0) {
            if (rx == 1) {
                x = ~x;
                y = ~y;
            }
            uint32_t t = x;
            x = y;
            y = t;
        }
    }
    return d;
}

static uint32_t unit_u32(double v, double lo, double hi)
{
    double t = (v - lo) / (hi - lo);
    if (!(t > 0))
        return 0;
    if (t >= 1)
        return UINT32_MAX;
    return (uint32_t)(t * 4294967295.0);
}

static uint64_t box_key(const float box[4])
{
    double cx = ((double)box[0] + box[1]) / 2, cy = ((double)box[2] + box[3]) / 2;
    return hilbert_key(unit_u32(cx, -180, 180), unit_u32(cy, -90, 90));
}

/* double -> float rounded down / up (as SQLite's rtree stores a box) */
static float float_down(double d)
{
    float f = (float)d;
    if (f > d)
        f = (float)(d * (d < 0 ? 1.0 + 1.0 / 8388608.0 : 1.0 - 1.0 / 8388608.0));
    return f;
}

static float float_up(double d)
{
    float f = (float)d;
    if (f < d)
        f = (float)(d * (d < 0 ? 1.0 - 1.0 / 8388608.0 : 1.0 + 1.0 / 8388608.0));
    return f;
}

/* Sort e[0..n) by key: LSD radix sort, 16 bits a pass, through tmp[n]. */
static void rt_sort(rt_ent *e, rt_ent *tmp, size_t n, size_t *count)
{
    rt_ent *src = e, *dst = tmp;
    for (int shift = 0; shift < 64; shift += 16) {
        memset(count, 0, 65536 * sizeof *count);
        for (size_t i = 0; i < n; i++)
            count[(src[i].key >> shift) & 0xffff]++;
        if (n == 0 || count[(src[0].key >> shift) & 0xffff] == n)
            continue; /* the same digit everywhere */
        size_t sum = 0;
        for (size_t d = 0; d < 65536; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i].key >> shift) & 0xffff]++] = src[i];
        rt_ent *t = src;
        src = dst;
        dst = t;
    }
    if (src != e)
        memcpy(e, src, n * sizeof *e);
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* Write node nodeno holding e[0..n); its bounding box goes to *out. */
static bool rt_write_node(rt_build *rb, int64_t nodeno, int depth, const rt_ent *e, size_t n,
                          rt_ent *out)
{
    unsigned char *p = rb->blob;
    memset(p, 0, (size_t)rb->node_size);
    put_be(p, nodeno == 1 ? (uint64_t)depth : 0, 2);
    put_be(p + 2, n, 2);
    float box[4] = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    for (size_t i = 0; i < n; i++) {
        unsigned char *c = p + 4 + 24 * i;
        put_be(c, (uint64_t)e[i].id, 8);
        for (int k = 0; k < 4; k++) {
            uint32_t bits;
            memcpy(&bits, &e[i].box[k], 4);
            put_be(c + 8 + 4 * k, bits, 4);
        }
        box[0] = fminf(box[0], e[i].box[0]);
        box[1] = fmaxf(box[1], e[i].box[1]);
        box[2] = fminf(box[2], e[i].box[2]);
        box[3] = fmaxf(box[3], e[i].box[3]);
    }
    sqlite3_stmt *q = nodeno == 1 ? rb->root : rb->node;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, nodeno);
    sqlite3_bind_blob(q, 2, p, rb->node_size, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE)
        return false;
    if (out) {
        out->id = nodeno;
        memcpy(out->box, box, sizeof box);
        out->key = box_key(box);
    }
    return true;
}

static bool rt_map(sqlite3_stmt *q, int64_t a, int64_t b)
{
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, a);
    sqlite3_bind_int64(q, 2, b);
    return sqlite3_step(q) == SQLITE_DONE;
}

/* Pack the sorted chunk e[0..n) into leaves; record them in rb->level. */
static bool rt_leaves(rt_build *rb, rt_ent *e, size_t n, bool whole_tree)
{
    rt_sort(e, rb->tmp, n, rb->count);
    if (whole_tree && n <= (size_t)rb->cells) {
        /* the root is the only node */
        if (!rt_write_node(rb, 1, 0, e, n, NULL))
            return false;
        for (size_t i = 0; i < n; i++)
            e[i].key = 1;
    } else {
        for (size_t i = 0; i < n; i += (size_t)rb->cells) {
            size_t m = n - i < (size_t)rb->cells ? n - i : (size_t)rb->cells;
            if (rb->nlevel == rb->level_cap) {
                size_t cap = rb->level_cap ? rb->level_cap * 2 : 1024;
                rt_ent *nl = realloc(rb->level, cap * sizeof *nl);
                if (!nl) {
                    rb->oom = true;
                    return false;
                }
                rb->level = nl;
                rb->level_cap = cap;
            }
            int64_t nodeno = rb->next_node++;
            if (!rt_write_node(rb, nodeno, 0, e + i, m, &rb->level[rb->nlevel++]))
                return false;
            for (size_t j = i; j < i + m; j++)
                e[j].key = (uint64_t)nodeno;
        }
    }
    /* rowid -> leaf, in rowid order (appends to %_rowid): sort by rowid
     * (rowids are positive here: the chunk was read from the table) */
    for (size_t i = 0; i < n; i++) {
        uint64_t leaf = e[i].key;
        e[i].key = (uint64_t)e[i].id;
        e[i].id = (int64_t)leaf;
    }
    rt_sort(e, rb->tmp, n, rb->count);
    size_t i = 0;
    for (; i + RT_ROWS <= n; i += RT_ROWS) {
        sqlite3_reset(rb->rowids);
        for (int k = 0; k < RT_ROWS; k++) {
            sqlite3_bind_int64(rb->rowids, 2 * k + 1, (int64_t)e[i + (size_t)k].key);
            sqlite3_bind_int64(rb->rowids, 2 * k + 2, e[i + (size_t)k].id);
        }
        if (sqlite3_step(rb->rowids) != SQLITE_DONE)
            return false;
    }
    for (; i < n; i++)
        if (!rt_map(rb->rowid, (int64_t)e[i].key, e[i].id))
            return false;
    return true;
}

/* Build the levels above the leaves, up to the root. */
static bool rt_upper(rt_build *rb)
{
    if (rb->nlevel == 0)
        return true;
    rt_ent *tmp = malloc(rb->nlevel * sizeof *tmp);
    if (!tmp) {
        rb->oom = true;
        return false;
    }
    rt_sort(rb->level, tmp, rb->nlevel, rb->count);
    free(tmp);
    rt_ent *items = rb->level;
    size_t n = rb->nlevel;
    int depth = 1;
    while (n > (size_t)rb->cells) {
        size_t groups = (n + (size_t)rb->cells - 1) / (size_t)rb->cells;
        rt_ent *up = malloc(groups * sizeof *up);
        if (!up) {
            rb->oom = true;
            return false;
        }
        for (size_t g = 0; g < groups; g++) {
            size_t i = g * (size_t)rb->cells;
            size_t m = n - i < (size_t)rb->cells ? n - i : (size_t)rb->cells;
            int64_t nodeno = rb->next_node++;
            bool ok = rt_write_node(rb, nodeno, 0, items + i, m, &up[g]);
            for (size_t j = i; ok && j < i + m; j++)
                ok = rt_map(rb->parent, items[j].id, nodeno);
            if (!ok) {
                free(up);
                return false;
            }
        }
        if (items != rb->level)
            free(items);
        items = up;
        n = groups;
        depth++;
    }
    bool ok = rt_write_node(rb, 1, depth, items, n, NULL);
    for (size_t j = 0; ok && j < n; j++)
        ok = rt_map(rb->parent, items[j].id, 1);
    if (items != rb->level)
        free(items);
    return ok;
}

/* The MBR in a SpatiaLite geometry BLOB's header; false when it has none. */
static bool blob_mbr(const unsigned char *p, int n, double mbr[4])
{
    if (!p || n < 45 || p[0] != 0x00 || p[38] != 0x7C || p[n - 1] != 0xFE ||
        (p[1] != 0x00 && p[1] != 0x01))
        return false;
    static const uint16_t one = 1;
    bool swap = p[1] != *(const unsigned char *)&one;
    for (int k = 0; k < 4; k++) {
        unsigned char b[8];
        memcpy(b, p + 6 + 8 * k, 8);
        if (swap)
            for (int i = 0; i < 4; i++) {
                unsigned char t = b[i];
                b[i] = b[7 - i];
                b[7 - i] = t;
            }
        memcpy(&mbr[k], b, 8); /* minx, miny, maxx, maxy */
    }
    return true;
}

/* Box of a row's geometry; false when it has none (as SpatiaLite skips it). */
static bool row_box(rt_build *rb, sqlite3_stmt *scan, rt_ent *e)
{
    const unsigned char *p = sqlite3_column_blob(scan, 1);
    int n = sqlite3_column_bytes(scan, 1);
    double mbr[4];
    if (!blob_mbr(p, n, mbr)) {
        /* another encoding (e.g. written by another tool): ask SpatiaLite */
        sqlite3_reset(rb->mbr);
        sqlite3_bind_value(rb->mbr, 1, sqlite3_column_value(scan, 1));
        if (sqlite3_step(rb->mbr) != SQLITE_ROW || sqlite3_column_type(rb->mbr, 0) == SQLITE_NULL)
            return false;
        for (int k = 0; k < 4; k++)
            mbr[k] = sqlite3_column_double(rb->mbr, k);
    }
    for (int k = 0; k < 4; k++)
        if (!isfinite(mbr[k]))
            return false;
    e->id = sqlite3_column_int64(scan, 0);
    e->box[0] = float_down(mbr[0]);
    e->box[1] = float_up(mbr[2]);
    e->box[2] = float_down(mbr[1]);
    e->box[3] = float_up(mbr[3]);
    e->key = box_key(e->box);
    return true;
}

static lb_status rtree_rebuild(lb_store *st, lb_store__bulk *b, lb_error *err)
{
    char *drop = sqlite3_mprintf("DROP TABLE \"idx_%w_geom\"", b->layer);
    lb_status rc = drop ? lb_store__exec(st, drop, err) : lb_fail(err, LB_ENOMEM, "out of memory");
    sqlite3_free(drop);
    if (rc == LB_OK)
        rc = lb_store__exec(st, b->rtree_sql, err);
    if (rc != LB_OK)
        return rc;

    rt_build rb = {.st = st, .next_node = 2};
    char *sql = sqlite3_mprintf("SELECT length(data) FROM \"idx_%w_geom_node\" WHERE nodeno = 1",
                                b->layer);
    rb.node_size = (int)query_int(st, sql);
    sqlite3_free(sql);
    rb.cells = (rb.node_size - 4) / 24;
    if (rb.cells < 2 || rb.cells > 65535)
        return lb_fail(err, LB_ESTORE, "store %s: unexpected R*Tree node size %d of layer %s",
                       st->path, rb.node_size, b->layer);
    char *q_node = sqlite3_mprintf("INSERT INTO \"idx_%w_geom_node\" (nodeno, data) VALUES (?,?)",
                                   b->layer);
    char *q_root = sqlite3_mprintf("UPDATE \"idx_%w_geom_node\" SET data = ?2 WHERE nodeno = ?1",
                                   b->layer);
    char *q_parent = sqlite3_mprintf(
        "INSERT INTO \"idx_%w_geom_parent\" (nodeno, parentnode) VALUES (?,?)", b->layer);
    char *q_rowid = sqlite3_mprintf(
        "INSERT INTO \"idx_%w_geom_rowid\" (rowid, nodeno) VALUES (?,?)", b->layer);
    char *q_scan = sqlite3_mprintf("SELECT rowid, geom FROM \"%w\" WHERE geom IS NOT NULL",
                                   b->layer);
    lb_buf q_rowids = {0};
    lb_buf_printf(&q_rowids, "INSERT INTO \"idx_%s_geom_rowid\" (rowid, nodeno) VALUES (?,?)",
                  b->layer);
    for (int k = 1; k < RT_ROWS; k++)
        lb_buf_puts(&q_rowids, ",(?,?)");
    sqlite3_stmt *scan = NULL;
    rt_ent *chunk = NULL;
    rb.blob = malloc((size_t)rb.node_size);
    if (!q_node || !q_root || !q_parent || !q_rowid || !q_scan || !rb.blob || q_rowids.oom) {
        rc = lb_fail(err, LB_ENOMEM, "out of memory");
        goto done;
    }
    if (sqlite3_prepare_v2(st->db, q_node, -1, &rb.node, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, q_root, -1, &rb.root, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, q_parent, -1, &rb.parent, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, q_rowid, -1, &rb.rowid, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, q_rowids.data, -1, &rb.rowids, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "SELECT MbrMinX(?1), MbrMinY(?1), MbrMaxX(?1), MbrMaxY(?1)",
                           -1, &rb.mbr, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, q_scan, -1, &scan, NULL) != SQLITE_OK) {
        rc = lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
        goto done;
    }
    size_t limit = rt_chunk(), cap = limit < 4096 ? limit : 4096, n = 0;
    bool first = true, ok = true;
    chunk = malloc(cap * sizeof *chunk);
    rb.tmp = malloc(cap * sizeof *rb.tmp);
    rb.count = malloc(65536 * sizeof *rb.count);
    if (!chunk || !rb.tmp || !rb.count) {
        rc = lb_fail(err, LB_ENOMEM, "out of memory");
        goto done;
    }
    int r;
    while (ok && (r = sqlite3_step(scan)) == SQLITE_ROW) {
        if (n == cap) {
            if (cap < limit) {
                rt_ent *nc = realloc(chunk, 2 * cap * sizeof *nc);
                if (nc)
                    chunk = nc;
                rt_ent *nt = nc ? realloc(rb.tmp, 2 * cap * sizeof *nt) : NULL;
                if (nt)
                    rb.tmp = nt;
                if (!nc || !nt) {
                    rb.oom = true;
                    break;
                }
                cap *= 2;
            } else {
                ok = rt_leaves(&rb, chunk, n, false);
                n = 0;
                first = false;
            }
        }
        if (ok && row_box(&rb, scan, &chunk[n]))
            n++;
    }
    if (ok && !rb.oom && r != SQLITE_DONE && r != SQLITE_ROW)
        ok = false;
    if (ok && !rb.oom && n > 0)
        ok = rt_leaves(&rb, chunk, n, first);
    if (ok && !rb.oom)
        ok = rt_upper(&rb);
    if (rb.oom)
        rc = lb_fail(err, LB_ENOMEM, "out of memory");
    else if (!ok)
        rc = lb_fail(err, LB_ESTORE, "store %s: cannot rebuild the spatial index of %s: %s",
                     st->path, b->layer, sqlite3_errmsg(st->db));
done:
    sqlite3_finalize(scan);
    sqlite3_finalize(rb.node);
    sqlite3_finalize(rb.root);
    sqlite3_finalize(rb.parent);
    sqlite3_finalize(rb.rowid);
    sqlite3_finalize(rb.rowids);
    lb_buf_free(&q_rowids);
    sqlite3_finalize(rb.mbr);
    sqlite3_free(q_node);
    sqlite3_free(q_root);
    sqlite3_free(q_parent);
    sqlite3_free(q_rowid);
    sqlite3_free(q_scan);
    free(chunk);
    free(rb.tmp);
    free(rb.count);
    free(rb.level);
    free(rb.blob);
    return rc;
}

lb_status lb_store__bulk_end(lb_store *st, lb_store__bulk *b, lb_error *err)
{
    lb_status rc = LB_OK;
    if (b->rebuild)
        rc = rtree_rebuild(st, b, err);
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
    free(b->rtree_sql);
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

/* Columns 0..15 of a scan row into f (pointers valid until the next step). */
#define SCAN_COLUMNS                                                                    \
    "l.fid, l.source, l.source_fid, l.kind, l.name, l.status, l.observed_at, l.valid_from," \
    " l.valid_to, l.accuracy_m, l.label_level, l.classification, l.releasable_to, l.caveats," \
    " l.attrs, AsBinary(l.geom)"

static void scan_row(sqlite3_stmt *q, lb_stored_feature *f)
{
    memset(f, 0, sizeof *f);
    f->fid = sqlite3_column_int64(q, 0);
    f->source = (const char *)sqlite3_column_text(q, 1);
    f->source_fid = (const char *)sqlite3_column_text(q, 2);
    for (int k = 0; k < LB_FIELD_COUNT; k++)
        if (k != LB_FIELD_ACCURACY_M)
            f->field[k] = (const char *)sqlite3_column_text(q, 3 + k);
    f->has_accuracy = sqlite3_column_type(q, 9) != SQLITE_NULL;
    f->accuracy_m = sqlite3_column_double(q, 9);
    f->field[LB_FIELD_ACCURACY_M] = f->has_accuracy ? (const char *)sqlite3_column_text(q, 9) : NULL;
    f->label_level = sqlite3_column_int(q, 10);
    f->classification = (const char *)sqlite3_column_text(q, 11);
    f->releasable_to = (const char *)sqlite3_column_text(q, 12);
    f->caveats = (const char *)sqlite3_column_text(q, 13);
    f->attrs = (const char *)sqlite3_column_text(q, 14);
    f->wkb = sqlite3_column_blob(q, 15);
    f->wkb_len = (size_t)sqlite3_column_bytes(q, 15);
}

/*
 * A fused feature (columns 16.. of the fused query over its seed's row):
 * the seed's geometry and fields, the fused id and label, source
 * LB_FUSED_SOURCE (not a configured source: never released generalised),
 * and attrs with "reports" (the provenance) first.
 */
static bool fused_row(sqlite3_stmt *q, lb_stored_feature *f, lb_buf *attrs)
{
    scan_row(q, f);
    f->fid = sqlite3_column_int64(q, 16);
    f->label_level = sqlite3_column_int(q, 17);
    f->classification = (const char *)sqlite3_column_text(q, 18);
    f->releasable_to = (const char *)sqlite3_column_text(q, 19);
    f->caveats = (const char *)sqlite3_column_text(q, 20);
    f->source = LB_FUSED_SOURCE;
    lb_buf_reset(attrs);
    lb_buf_puts(attrs, "{\"reports\":");
    lb_buf_puts(attrs, (const char *)sqlite3_column_text(q, 21));
    const char *rest = f->attrs ? strchr(f->attrs, '{') : NULL;
    if (rest) {
        rest++;
        while (*rest == ' ' || *rest == '\n' || *rest == '\t')
            rest++;
        if (*rest != '}')
            lb_buf_putc(attrs, ',');
        lb_buf_puts(attrs, rest);
    } else {
        lb_buf_putc(attrs, '}');
    }
    f->attrs = attrs->data;
    return !attrs->oom;
}

static bool layer_has_fused(lb_store *st, const char *layer)
{
    sqlite3_stmt *q = NULL;
    bool yes = false;
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM lb_fused WHERE layer=? LIMIT 1", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, layer, -1, SQLITE_STATIC);
        yes = sqlite3_step(q) == SQLITE_ROW;
    }
    sqlite3_finalize(q);
    return yes;
}

static lb_status scan_impl(lb_store *st, const char *layer, const int64_t *fids, size_t nfids,
                           lb_stored_feature_fn fn, void *ud, int64_t *revision, lb_error *err);

lb_status lb_store_scan_layer(lb_store *st, const char *layer, lb_stored_feature_fn fn,
                              void *ud, int64_t *revision, lb_error *err)
{
    return scan_impl(st, layer, NULL, 0, fn, ud, revision, err);
}

lb_status lb_store_scan_fids(lb_store *st, const char *layer, const int64_t *fids, size_t n,
                             lb_stored_feature_fn fn, void *ud, int64_t *revision, lb_error *err)
{
    return scan_impl(st, layer, fids ? fids : (const int64_t *)"", n, fn, ud, revision, err);
}

bool lb_store_layer_conflated(lb_store *st, const char *layer)
{
    return table_exists(st, "lb_fused") && layer_has_fused(st, layer);
}

typedef struct scan_member {
    int64_t fid;
    int level;
    size_t rel, cav; /* offsets in pool */
} scan_member;

static const scan_member *find_member(const scan_member *m, size_t n, int64_t fid)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m[mid].fid < fid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && m[lo].fid == fid ? &m[lo] : NULL;
}

/*
 * The features of a layer (fids == NULL: all, in fid order; else only those
 * rows, in the order given; fused features are part of whole-layer scans
 * only), inside a caller's read transaction (lb_store_read_begin) or its own.
 */
static lb_status scan_impl(lb_store *st, const char *layer, const int64_t *fids, size_t nfids,
                           lb_stored_feature_fn fn, void *ud, int64_t *revision, lb_error *err)
{
    *revision = 0;
    bool own = sqlite3_get_autocommit(st->db) != 0;
    lb_status rc = own ? lb_store__exec(st, "BEGIN", err) : LB_OK;
    if (rc != LB_OK)
        return rc;
    lb_store_layer_revision(st, layer, revision, NULL);
    if (!table_exists(st, layer)) {
        if (own)
            lb_store__exec(st, "COMMIT", NULL);
        return LB_OK;
    }
    /* a conflated layer: each fused feature comes once (second statement),
     * merged in fid order; the reports merged into one are flagged with the
     * fused label (loaded first, sorted by fid: cheaper than a join per row) */
    bool fused = layer_has_fused(st, layer);
    scan_member *members = NULL;
    size_t nmembers = 0;
    lb_buf pool = {0};
    if (fused) {
        sqlite3_stmt *mq = NULL;
        size_t cap = 0;
        if (sqlite3_prepare_v2(st->db, "SELECT c.member_fid, f.label_level, f.releasable_to,"
                                       " f.caveats FROM lb_conflation c JOIN lb_fused f ON"
                                       " f.layer=c.layer AND f.fid=c.fused_fid WHERE c.layer=?"
                                       " ORDER BY c.member_fid", -1, &mq, NULL) == SQLITE_OK) {
            sqlite3_bind_text(mq, 1, layer, -1, SQLITE_STATIC);
            while (rc == LB_OK && sqlite3_step(mq) == SQLITE_ROW) {
                if (nmembers == cap) {
                    cap = cap ? cap * 2 : 1024;
                    scan_member *nv = realloc(members, cap * sizeof *nv);
                    if (!nv) {
                        rc = lb_fail(err, LB_ENOMEM, "out of memory reading layer '%s'", layer);
                        break;
                    }
                    members = nv;
                }
                scan_member *m = &members[nmembers++];
                m->fid = sqlite3_column_int64(mq, 0);
                m->level = sqlite3_column_int(mq, 1);
                m->rel = pool.len;
                lb_buf_puts(&pool, (const char *)sqlite3_column_text(mq, 2));
                lb_buf_putc(&pool, '\0');
                m->cav = pool.len;
                lb_buf_puts(&pool, (const char *)sqlite3_column_text(mq, 3));
                lb_buf_putc(&pool, '\0');
            }
        }
        sqlite3_finalize(mq);
        if (rc == LB_OK && pool.oom)
            rc = lb_fail(err, LB_ENOMEM, "out of memory reading layer '%s'", layer);
        if (rc != LB_OK) {
            free(members);
            lb_buf_free(&pool);
            if (own)
                lb_store__rollback(st);
            return rc;
        }
    }
    char *sql = sqlite3_mprintf("SELECT " SCAN_COLUMNS " FROM \"%w\" l %s", layer,
                                fids ? "WHERE l.fid = ?" : "ORDER BY l.fid");
    bool with_fused = fused && !fids;
    char *fsql = with_fused ? sqlite3_mprintf("SELECT " SCAN_COLUMNS ", f.fid, f.label_level,"
                                              " f.classification, f.releasable_to, f.caveats,"
                                              " f.reports FROM lb_fused f JOIN \"%w\" l ON"
                                              " l.fid=f.seed_fid WHERE f.layer=%Q ORDER BY f.fid",
                                              layer, layer)
                            : NULL;
    sqlite3_stmt *q = NULL, *fq = NULL;
    if (!sql || (with_fused && !fsql) || sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK ||
        (with_fused && sqlite3_prepare_v2(st->db, fsql, -1, &fq, NULL) != SQLITE_OK)) {
        rc = lb_fail(err, LB_ESTORE, "store %s: cannot read layer '%s': %s", st->path, layer,
                     sqlite3_errmsg(st->db));
        sqlite3_free(sql);
        sqlite3_free(fsql);
        sqlite3_finalize(q);
        sqlite3_finalize(fq);
        free(members);
        lb_buf_free(&pool);
        if (own)
            lb_store__rollback(st);
        return rc;
    }
    sqlite3_free(sql);
    sqlite3_free(fsql);
    lb_buf attrs = {0};
    size_t fi = 0;
    if (fids && nfids > 0)
        sqlite3_bind_int64(q, 1, fids[0]);
    int r = fids && nfids == 0 ? SQLITE_DONE : sqlite3_step(q);
    int fr = fq ? sqlite3_step(fq) : SQLITE_DONE;
    for (;;) {
        if (fids && r == SQLITE_DONE && fi + 1 < nfids) {
            /* the next fid asked for (a missing one is skipped) */
            sqlite3_reset(q);
            sqlite3_bind_int64(q, 1, fids[++fi]);
            r = sqlite3_step(q);
            continue;
        }
        if (r != SQLITE_ROW && fr != SQLITE_ROW)
            break;
        lb_stored_feature f;
        bool take_fused = fr == SQLITE_ROW &&
                          (r != SQLITE_ROW ||
                           sqlite3_column_int64(fq, 16) < sqlite3_column_int64(q, 0));
        bool ok = true;
        if (take_fused) {
            ok = fused_row(fq, &f, &attrs);
        } else {
            scan_row(q, &f);
            const scan_member *m = find_member(members, nmembers, f.fid);
            if (m) {
                f.member = true;
                f.fused_level = m->level;
                f.fused_releasable_to = pool.data + m->rel;
                f.fused_caveats = pool.data + m->cav;
            }
        }
        if (!ok || !fn(ud, &f)) {
            rc = lb_fail(err, LB_ENOMEM, "out of memory reading layer '%s'", layer);
            break;
        }
        if (take_fused)
            fr = sqlite3_step(fq);
        else
            r = sqlite3_step(q);
    }
    if (rc == LB_OK && (r != SQLITE_DONE || fr != SQLITE_DONE))
        rc = lb_fail(err, LB_ESTORE, "store %s: reading layer '%s': %s", st->path, layer,
                     sqlite3_errmsg(st->db));
    lb_buf_free(&attrs);
    lb_buf_free(&pool);
    free(members);
    sqlite3_finalize(q);
    sqlite3_finalize(fq);
    if (own)
        lb_store__exec(st, "COMMIT", NULL);
    return rc;
}

lb_status lb_store_read_begin(lb_store *st, lb_error *err)
{
    lb_status rc = lb_store__exec(st, "BEGIN", err);
    /* the first read fixes the snapshot the transaction sees */
    if (rc == LB_OK)
        rc = lb_store__exec(st, "SELECT count(*) FROM lb_layers", err);
    if (rc != LB_OK)
        lb_store__rollback(st);
    return rc;
}

void lb_store_read_end(lb_store *st) { lb_store__rollback(st); }
