/*
 * This file implements the ingest pipeline of one source:
 *
 *   open (OGR) -> pick layer -> resolve CRS -> bind attribute mapping
 *   -> per feature: geometry (or MGRS position) -> finite check -> transform
 *      to EPSG:4326 -> plausibility against the CRS's area of use
 *      -> validity (repair with MakeValid, else reject) -> common fields
 *      -> label -> remaining attributes as JSON -> INSERT
 *   -> R*Tree entries of the new rows -> bump layer revision
 *   -> COMMIT (all or nothing)
 *
 * Two threads share the work (docs/decisions.md, "Ingest pipeline"):
 *
 *   reader  (a thread of its own) owns the GDAL dataset during the scan: it
 *           reads features and turns each into a compact item of a batch
 *           (feature id, common fields, label, attributes JSON, and the
 *           geometry, either still to be checked or already checked and
 *           encoded as a SpatiaLite geometry BLOB);
 *   writer  (the calling thread) owns the SQLite connection and the
 *           transaction: it checks the geometries the reader left unchecked,
 *           decides rejections and inserts, in source order.
 *
 * Full batches travel through a bounded queue, so memory stays bounded
 * whatever the size of the source.  The geometry checks are the part that
 * moves: the reader does them for a batch when the writer is behind (the
 * queue holds several batches), else it leaves them to the writer, so the
 * two threads balance whether reading (GeoJSON) or writing dominates.
 *
 * Source-level problems (missing or corrupt file, unknown driver, no CRS, a
 * mapping naming a missing attribute, GDAL read errors) fail the whole source
 * and roll back.  Feature-level problems reject just that feature, with a
 * reason, counted and recorded in lb_rejects.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>

#include "fusion_int.h"

#include <spatialite.h>
#include "lagebild/mgrs.h"
#include "lagebild/util.h"

/* ---- GDAL error capture ------------------------------------------------ */

static void CPL_STDCALL gdal_error_collector(CPLErr cls, CPLErrorNum no, const char *msg)
{
    (void)no;
    lb_gdal_errors *ge = CPLGetErrorHandlerUserData();
    if (!ge || (cls != CE_Failure && cls != CE_Fatal))
        return;
    if (ge->failures++ == 0)
        snprintf(ge->first, sizeof ge->first, "%s", msg);
}

void lb_gdal__errors_push(lb_gdal_errors *ge)
{
    ge->failures = 0;
    ge->first[0] = '\0';
    CPLErrorReset();
    CPLPushErrorHandlerEx(gdal_error_collector, ge);
}

void lb_gdal__errors_pop(void) { CPLPopErrorHandler(); }

void lb_fusion_init(void)
{
    GDALAllRegister();
    /* never fetch grids from the network: accuracy must not depend on it */
    CPLSetConfigOption("PROJ_NETWORK", "OFF");
}

void lb_fusion_cleanup(void)
{
    lb_mgrs_cleanup();
    GDALDestroy();
}

/* ---- batches: what the reader hands to the writer --------------------- */

#define NOPOS SIZE_MAX
#define BATCH_ITEMS 256          /* features per batch */
#define BATCH_BYTES (1u << 20)   /* ... or fewer when their data passes 1 MiB */
#define QUEUE_BATCHES 8          /* full batches waiting for the writer, at most */
#define READER_CHECKS_AT 4       /* the reader checks geometries when this many wait */
#define INGEST_CACHE_KIB 32768   /* SQLite page cache during an ingest */

/* Growable bytes; data is addressed by offset (the block moves when it grows). */
typedef struct arena {
    unsigned char *p;
    size_t len, cap;
    bool oom;
} arena;

enum { V_NULL, V_TEXT, V_REAL };

/* A common field's value: text (offset, length in the arena) or a number. */
typedef struct fval {
    int kind;
    double num;
    size_t off, len;
} fval;

/*
 * One feature.  Its geometry is in one of three states: geom != NULL (read,
 * still to be checked, owned by the item), geom_reason != NOPOS (rejected),
 * else blob/blob_len (checked, encoded).
 */
typedef struct item {
    int64_t fid;
    size_t sfid;        /* source feature id (NUL-terminated); NOPOS: none */
    size_t geom_reason; /* why the geometry is rejected; NOPOS: it is fine */
    size_t attr_reason; /* first problem of the label or common fields; NOPOS: none */
    OGRGeometryH geom;
    size_t blob, blob_len;
    bool repaired, out_of_area;
    int level;
    uint64_t gbits, cbits;  /* the label's groups and caveats as bits */
    size_t groups, caveats; /* label names, NUL-terminated */
    size_t attrs, attrs_len;
    fval val[LB_FIELD_COUNT];
} item;

typedef struct batch {
    struct batch *next; /* free list */
    size_t n;
    item it[BATCH_ITEMS];
    arena a;
    size_t held; /* size (as WKB) of the geometries the items hold unchecked */
} batch;

/* The bounded queue between the threads, plus a free list of batches. */
typedef struct pipeline {
    pthread_mutex_t mu;
    pthread_cond_t can_put, can_get;
    batch *q[QUEUE_BATCHES];
    size_t head, count;
    batch *free_list;
    bool done; /* the reader has put its last batch */
    bool stop; /* the writer gave up: the reader should stop reading */
    double reader_waited, writer_waited; /* seconds, for LAGEBILD_INGEST_TRACE */
    double reader_cpu;                   /* CPU seconds of the reader thread */
} pipeline;

/* Per-thread state of the geometry checks. */
typedef struct geo_ctx {
    OGRCoordinateTransformationH ct; /* NULL when the source is EPSG:4326 */
    bool own_ct;
    bool ct_failed;
} geo_ctx;

/* CPU seconds of the calling thread so far. */
static double thread_cpu(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0)
        return 0;
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- per-source state ------------------------------------------------- */

typedef struct ingest {
    lb_store *st;
    const lb_config *cfg;
    const lb_source_cfg *src;
    const lb_ingest_opts *opts;
    lb_ingest_stats *stats;

    GDALDatasetH ds;
    OGRLayerH lyr;
    OGRFeatureDefnH defn;
    OGRSpatialReferenceH src_srs, dst_srs;
    OGRCoordinateTransformationH ct; /* NULL when the source is already EPSG:4326 */
    lb_crs__box box;
    char crs_name[128];

    int fid_idx, mgrs_idx, level_idx, groups_idx, caveats_idx;
    int map_idx[LB_FIELD_COUNT];
    unsigned char *skip; /* per field: 1 = not copied to attrs */

    sqlite3_stmt *ins, *rej;
    lb_ingest_mode mode;
    const char *crs_override; /* forced CRS (a push's crs), NULL: file or config */
    lb_push_result *res;      /* UPSERT: changes and rejects */
    const char *writer;       /* UPSERT: the pushing principal; "" for file ingests */
    size_t changes_cap, rejects_cap;
    size_t wkb_used; /* UPSERT: bytes of the changes' geometries (LB_CHANGE_WKB_BUDGET) */
    sqlite3_stmt *find, *del_row; /* UPSERT: the writer's current row of a feature id */
    sqlite3_stmt *fid_used;       /* whether a row has a given fid */
    int64_t rev;
    uint64_t out_of_area;
    long kill_after; /* fault injection: raise SIGKILL after this many inserts */
    bool trace;      /* LAGEBILD_INGEST_TRACE: timings of the phases on stderr */
    int64_t first_row, last_row; /* rowids of the rows inserted */

    /* shared between the threads */
    pipeline pl;
    /* written by the reader, read by the writer after joining it */
    lb_gdal_errors read_errors;
    bool read_oom;
    /* for LAGEBILD_INGEST_TRACE; each written by one thread, read after the join */
    unsigned long checked_by_reader, checked_by_writer;
} ingest;

static void trace(const ingest *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void trace(const ingest *in, const char *fmt, ...)
{
    if (!in->trace)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", in->src->id);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void reject(ingest *in, const char *sfid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reject(ingest *in, const char *sfid, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    in->stats->rejected++;
    if (in->mode == LB_INGEST_UPSERT) {
        /* a push is all or nothing: collect the reasons, store none */
        lb_push_result *r = in->res;
        if (r->nrejects == in->rejects_cap) {
            size_t nc = in->rejects_cap ? in->rejects_cap * 2 : 16;
            lb_push_reject *p = realloc(r->rejects, nc * sizeof *p);
            if (!p)
                return;
            r->rejects = p;
            in->rejects_cap = nc;
        }
        lb_push_reject *pr = &r->rejects[r->nrejects++];
        pr->index = in->stats->read ? (size_t)in->stats->read - 1 : 0;
        pr->source_fid = sfid ? lb_strdup(sfid) : NULL;
        pr->reason = lb_strdup(reason);
        return;
    }
    if (in->rej) {
        sqlite3_reset(in->rej);
        sqlite3_bind_text(in->rej, 1, in->src->id, -1, SQLITE_STATIC);
        if (sfid)
            sqlite3_bind_text(in->rej, 2, sfid, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(in->rej, 2);
        sqlite3_bind_text(in->rej, 3, reason, -1, SQLITE_TRANSIENT);
        sqlite3_step(in->rej);
    }
    if (in->opts && in->opts->on_reject)
        in->opts->on_reject(in->opts->ud, in->src, sfid, reason);
}

static bool looks_remote(const char *p)
{
    return strstr(p, "://") || strncmp(p, "/vsi", 4) == 0 || strchr(p, ':') != NULL;
}

static lb_status open_source(ingest *in, lb_error *err)
{
    const lb_source_cfg *src = in->src;
    if (!looks_remote(src->path)) {
        struct stat sb;
        if (stat(src->path, &sb) != 0)
            return lb_fail(err, LB_ENOENT, "source '%s': cannot open %s: %s", src->id,
                           src->path, strerror(errno));
        if (access(src->path, R_OK) != 0)
            return lb_fail(err, LB_EIO, "source '%s': cannot read %s: %s", src->id, src->path,
                           strerror(errno));
    }
    const char *drivers[2] = {src->driver, NULL};
    if (src->driver && !GDALGetDriverByName(src->driver))
        return lb_fail(err, LB_EDRIVER, "source '%s': unknown driver '%s' (see ogrinfo --formats)",
                       src->id, src->driver);
    lb_gdal_errors ge;
    lb_gdal__errors_push(&ge);
    in->ds = GDALOpenEx(src->path, GDAL_OF_VECTOR | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR,
                        src->driver ? drivers : NULL, (const char *const *)src->open_options,
                        NULL);
    lb_gdal__errors_pop();
    if (!in->ds) {
        if (src->driver)
            return lb_fail(err, LB_EFORMAT, "source '%s': %s is not a readable %s dataset%s%s",
                           src->id, src->path, src->driver, ge.first[0] ? ": " : "", ge.first);
        return lb_fail(err, LB_EFORMAT, "source '%s': %s is not a readable vector dataset%s%s",
                       src->id, src->path, ge.first[0] ? ": " : "", ge.first);
    }
    int nl = GDALDatasetGetLayerCount(in->ds);
    if (src->ogr_layer) {
        in->lyr = GDALDatasetGetLayerByName(in->ds, src->ogr_layer);
        if (!in->lyr) {
            lb_buf names = {0};
            for (int i = 0; i < nl; i++) {
                lb_buf_puts(&names, i ? ", " : "");
                lb_buf_puts(&names, OGR_L_GetName(GDALDatasetGetLayer(in->ds, i)));
            }
            lb_status rc = lb_fail(err, LB_ENOENT, "source '%s': %s has no layer '%s' (layers: %s)",
                                   src->id, src->path, src->ogr_layer,
                                   names.data ? names.data : "none");
            lb_buf_free(&names);
            return rc;
        }
    } else if (nl == 1) {
        in->lyr = GDALDatasetGetLayer(in->ds, 0);
    } else {
        return lb_fail(err, LB_EFORMAT, "source '%s': %s has %d layers; name one with ogr_layer",
                       src->id, src->path, nl);
    }
    in->defn = OGR_L_GetLayerDefn(in->lyr);
    return LB_OK;
}

static lb_status resolve_crs(ingest *in, lb_error *err)
{
    const lb_source_cfg *src = in->src;
    lb_status rc = lb_crs__from_user("EPSG:4326", &in->dst_srs, err);
    if (rc != LB_OK)
        return rc;
    OGRSpatialReferenceH file_srs = in->src->mgrs_attr ? NULL : OGR_L_GetSpatialRef(in->lyr);
    if (src->mgrs_attr) {
        /* MGRS positions are WGS 84 by definition */
        rc = lb_crs__from_user("EPSG:4326", &in->src_srs, err);
    } else if (in->crs_override) {
        rc = lb_crs__from_user(in->crs_override, &in->src_srs, err);
        if (rc != LB_OK)
            return lb_fail(err, rc, "source '%s': %s", src->id, err ? err->msg : "");
    } else if (src->crs && (src->force_crs || !file_srs)) {
        rc = lb_crs__from_user(src->crs, &in->src_srs, err);
        if (rc != LB_OK)
            return lb_fail(err, rc, "source '%s': %s", src->id, err ? err->msg : "");
    } else if (file_srs) {
        in->src_srs = OSRClone(file_srs);
        if (!in->src_srs)
            return lb_fail(err, LB_ENOMEM, "out of memory");
        OSRSetAxisMappingStrategy(in->src_srs, OAMS_TRADITIONAL_GIS_ORDER);
    } else {
        return lb_fail(err, LB_ECRS,
                       "source '%s': %s declares no CRS and the config gives none (set crs:)",
                       src->id, src->path);
    }
    if (rc != LB_OK)
        return rc;
    lb_crs__describe(in->src_srs, in->crs_name, sizeof in->crs_name);
    lb_crs__plausible_box(in->src_srs, &in->box);
    if (!OSRIsSame(in->src_srs, in->dst_srs)) {
        lb_gdal_errors ge;
        lb_gdal__errors_push(&ge);
        in->ct = OCTNewCoordinateTransformation(in->src_srs, in->dst_srs);
        lb_gdal__errors_pop();
        if (!in->ct)
            return lb_fail(err, LB_ECRS, "source '%s': no transformation from %s to EPSG:4326: %s",
                           src->id, in->crs_name, ge.first);
    }
    return LB_OK;
}

static lb_status bind_field(ingest *in, const char *attr, const char *role, int *idx,
                            lb_error *err)
{
    *idx = -1;
    if (!attr)
        return LB_OK;
    *idx = OGR_FD_GetFieldIndex(in->defn, attr);
    if (*idx >= 0) {
        in->skip[*idx] = 1;
        return LB_OK;
    }
    if (in->mode == LB_INGEST_UPSERT) {
        /* a push names only what it has: a mapped attribute no feature
         * carries is null; the feature id is required */
        if (attr != in->src->fid_attr)
            return LB_OK;
        return lb_fail(err, LB_EMAPPING,
                       "source '%s': no pushed feature has the feature id property '%s' "
                       "(the source's fid:)",
                       in->src->id, attr);
    }
    lb_buf names = {0};
    int nf = OGR_FD_GetFieldCount(in->defn);
    for (int i = 0; i < nf; i++) {
        lb_buf_puts(&names, i ? ", " : "");
        lb_buf_puts(&names, OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(in->defn, i)));
    }
    lb_status rc = lb_fail(err, LB_EMAPPING,
                           "source '%s': %s names attribute '%s', which %s does not have "
                           "(attributes: %s)",
                           in->src->id, role, attr, in->src->path,
                           names.data ? names.data : "none");
    lb_buf_free(&names);
    return rc;
}

static lb_status bind_mapping(ingest *in, lb_error *err)
{
    const lb_source_cfg *src = in->src;
    int nf = OGR_FD_GetFieldCount(in->defn);
    in->skip = calloc((size_t)(nf > 0 ? nf : 1), 1);
    if (!in->skip)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    lb_status rc = bind_field(in, src->fid_attr, "fid", &in->fid_idx, err);
    if (rc == LB_OK)
        rc = bind_field(in, src->mgrs_attr, "mgrs", &in->mgrs_idx, err);
    if (rc == LB_OK)
        rc = bind_field(in, src->label_level_attr, "label.level_from", &in->level_idx, err);
    if (rc == LB_OK)
        rc = bind_field(in, src->label_groups_attr, "label.releasable_to_from", &in->groups_idx,
                        err);
    if (rc == LB_OK)
        rc = bind_field(in, src->label_caveats_attr, "label.caveats_from", &in->caveats_idx, err);
    for (int f = 0; f < LB_FIELD_COUNT && rc == LB_OK; f++) {
        char role[64];
        snprintf(role, sizeof role, "mapping.%s", lb_field_name((lb_field)f));
        rc = bind_field(in, src->map[f], role, &in->map_idx[f], err);
    }
    /* the original MGRS string is part of the report: keep it in attrs */
    if (in->mgrs_idx >= 0)
        in->skip[in->mgrs_idx] = 0;
    return rc;
}

static lb_status prepare(ingest *in, lb_error *err)
{
    const char *layer = in->src->layer;
    /* geom is bound as a ready SpatiaLite geometry BLOB (see geom_blob) */
    char *sql = sqlite3_mprintf(
        "INSERT INTO \"%w\" (fid, source, source_fid, kind, name, status, observed_at,"
        " valid_from, valid_to, accuracy_m, label_level, classification, releasable_to,"
        " caveats, attrs, revision, geom, writer) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        layer);
    if (!sql)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    int r = sqlite3_prepare_v2(in->st->db, sql, -1, &in->ins, NULL);
    sqlite3_free(sql);
    if (r == SQLITE_OK)
        r = sqlite3_prepare_v2(in->st->db,
                               "INSERT INTO lb_rejects(source, source_fid, reason) VALUES (?,?,?)",
                               -1, &in->rej, NULL);
    if (r == SQLITE_OK && in->mode == LB_INGEST_UPSERT) {
        /* only the writer's own row: whether another writer or a file holds
         * the same id must not change what the push does or answers */
        char *find = sqlite3_mprintf("SELECT pk, revision, label_level, releasable_to, caveats,"
                                     " geom, fid FROM \"%w\" WHERE source = ? AND writer = ?"
                                     " AND source_fid = ?",
                                     layer);
        char *del = sqlite3_mprintf("DELETE FROM \"%w\" WHERE pk = ?", layer);
        if (!find || !del)
            r = SQLITE_NOMEM;
        if (r == SQLITE_OK)
            r = sqlite3_prepare_v2(in->st->db, find, -1, &in->find, NULL);
        if (r == SQLITE_OK)
            r = sqlite3_prepare_v2(in->st->db, del, -1, &in->del_row, NULL);
        sqlite3_free(find);
        sqlite3_free(del);
    }
    if (r == SQLITE_OK) {
        char *used = sqlite3_mprintf("SELECT 1 FROM \"%w\" WHERE fid = ?", layer);
        r = used ? sqlite3_prepare_v2(in->st->db, used, -1, &in->fid_used, NULL) : SQLITE_NOMEM;
        sqlite3_free(used);
    }
    if (r != SQLITE_OK)
        return lb_fail(err, LB_ESTORE, "store %s: %s", in->st->path, sqlite3_errmsg(in->st->db));
    return LB_OK;
}

/* ---- arena ------------------------------------------------------------ */

/* n more bytes at the end; NULL (and oom set) when out of memory. */
static unsigned char *arena_grow(arena *a, size_t n)
{
    if (a->oom)
        return NULL;
    if (a->cap - a->len < n) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap - a->len < n) {
            if (cap > SIZE_MAX / 2) {
                a->oom = true;
                return NULL;
            }
            cap *= 2;
        }
        unsigned char *p = realloc(a->p, cap);
        if (!p) {
            a->oom = true;
            return NULL;
        }
        a->p = p;
        a->cap = cap;
    }
    unsigned char *at = a->p + a->len;
    a->len += n;
    return at;
}

static size_t arena_bytes(arena *a, const void *p, size_t n)
{
    size_t off = a->len;
    unsigned char *at = arena_grow(a, n);
    if (!at)
        return NOPOS;
    if (n)
        memcpy(at, p, n);
    return off;
}

/* A NUL-terminated copy of s. */
static size_t arena_str(arena *a, const char *s) { return arena_bytes(a, s, strlen(s) + 1); }

static const char *arena_at(const arena *a, size_t off) { return (const char *)a->p + off; }

/* ---- SpatiaLite geometry BLOB ----------------------------------------- */

/*
 * The ingest encodes geometries itself instead of calling GeomFromWKB() per
 * row.  The format is SpatiaLite's documented BLOB-Geometry:
 *
 *   0x00, endianness (0x01 little, 0x00 big), SRID (int32),
 *   MBR min x, min y, max x, max y (4 doubles), 0x7C,
 *   class (int32: 1 point, 2 linestring, 3 polygon, 4 multipoint,
 *          5 multilinestring, 6 multipolygon, 7 geometry collection),
 *   body, 0xFE
 *
 * Bodies: point x y; linestring n, n points; polygon rings, per ring n,
 * n points; collections n, per element 0x69, class (1..3), element body.
 * SpatiaLite has no nested collections: elements of nested collections are
 * listed in the outer one.  In a geometry collection SpatiaLite lists points,
 * then linestrings, then polygons; so does this encoder, which makes the BLOB
 * the one GeomFromWKB() builds from the same geometry.  Empty elements of
 * collections are left out.
 */
enum { SPL_POINT = 1, SPL_LINESTRING, SPL_POLYGON, SPL_MULTIPOINT, SPL_MULTILINESTRING,
       SPL_MULTIPOLYGON, SPL_COLLECTION };

typedef struct blobw {
    arena *a;
    double minx, miny, maxx, maxy;
} blobw;

static bool put_i32(arena *a, int32_t v)
{
    unsigned char *p = arena_grow(a, 4);
    if (p)
        memcpy(p, &v, 4);
    return p != NULL;
}

static bool put_byte(arena *a, unsigned char v)
{
    unsigned char *p = arena_grow(a, 1);
    if (p)
        *p = v;
    return p != NULL;
}

static void mbr_add(blobw *w, double x, double y)
{
    if (x < w->minx)
        w->minx = x;
    if (x > w->maxx)
        w->maxx = x;
    if (y < w->miny)
        w->miny = y;
    if (y > w->maxy)
        w->maxy = y;
}

static bool put_point(blobw *w, OGRGeometryH g)
{
    double xy[2] = {OGR_G_GetX(g, 0), OGR_G_GetY(g, 0)};
    mbr_add(w, xy[0], xy[1]);
    return arena_bytes(w->a, xy, sizeof xy) != NOPOS;
}

/* count, then the points of a linestring or ring */
static bool put_points(blobw *w, OGRGeometryH g)
{
    int n = OGR_G_GetPointCount(g);
    if (!put_i32(w->a, n))
        return false;
    size_t off = w->a->len;
    if (n == 0)
        return true;
    if (!arena_grow(w->a, (size_t)n * 16))
        return false;
    unsigned char *p = w->a->p + off;
    OGR_G_GetPoints(g, p, 16, p + 8, 16, NULL, 0);
    for (int i = 0; i < n; i++) {
        double xy[2];
        memcpy(xy, p + (size_t)i * 16, sizeof xy);
        mbr_add(w, xy[0], xy[1]);
    }
    return true;
}

static bool put_polygon(blobw *w, OGRGeometryH g)
{
    int nr = OGR_G_GetGeometryCount(g);
    if (!put_i32(w->a, nr))
        return false;
    for (int i = 0; i < nr; i++)
        if (!put_points(w, OGR_G_GetGeometryRef(g, i)))
            return false;
    return true;
}

/* SpatiaLite class of an element, 0 for a collection, -1 when unsupported. */
static int element_class(OGRwkbGeometryType t)
{
    switch (wkbFlatten(t)) {
    case wkbPoint:
        return SPL_POINT;
    case wkbLineString:
    case wkbLinearRing:
        return SPL_LINESTRING;
    case wkbPolygon:
    case wkbTriangle:
        return SPL_POLYGON;
    case wkbMultiPoint:
    case wkbMultiLineString:
    case wkbMultiPolygon:
    case wkbGeometryCollection:
    case wkbPolyhedralSurface:
    case wkbTIN:
        return 0;
    default:
        return -1;
    }
}

static bool element_empty(OGRGeometryH g, int cls)
{
    if (cls == SPL_POINT)
        return OGR_G_IsEmpty(g);
    if (cls == SPL_LINESTRING)
        return OGR_G_GetPointCount(g) == 0;
    return OGR_G_GetGeometryCount(g) == 0;
}

/* Put the non-empty elements of class want (0: all) found in g; count them. */
static bool put_elements(blobw *w, OGRGeometryH g, int want, int32_t *count)
{
    int cls = element_class(OGR_G_GetGeometryType(g));
    if (cls < 0)
        return false;
    if (cls == 0) {
        int n = OGR_G_GetGeometryCount(g);
        for (int i = 0; i < n; i++)
            if (!put_elements(w, OGR_G_GetGeometryRef(g, i), want, count))
                return false;
        return true;
    }
    if ((want && cls != want) || element_empty(g, cls))
        return true;
    if (!put_byte(w->a, 0x69) || !put_i32(w->a, cls))
        return false;
    (*count)++;
    if (cls == SPL_POINT)
        return put_point(w, g);
    if (cls == SPL_LINESTRING)
        return put_points(w, g);
    return put_polygon(w, g);
}

/*
 * Append g (2D, linear, not empty) as a SpatiaLite BLOB in SRID 4326.
 * Returns its offset, or NOPOS when g cannot be encoded (a->oom tells
 * whether memory ran out).
 */
static size_t geom_blob(arena *a, OGRGeometryH g)
{
    static const uint16_t one = 1;
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    int32_t cls;
    switch (t) {
    case wkbPoint:
        cls = SPL_POINT;
        break;
    case wkbLineString:
    case wkbLinearRing:
        cls = SPL_LINESTRING;
        break;
    case wkbPolygon:
    case wkbTriangle:
        cls = SPL_POLYGON;
        break;
    case wkbMultiPoint:
        cls = SPL_MULTIPOINT;
        break;
    case wkbMultiLineString:
        cls = SPL_MULTILINESTRING;
        break;
    case wkbMultiPolygon:
    case wkbPolyhedralSurface:
    case wkbTIN:
        cls = SPL_MULTIPOLYGON;
        break;
    case wkbGeometryCollection:
        cls = SPL_COLLECTION;
        break;
    default:
        return NOPOS;
    }
    size_t start = a->len;
    blobw w = {.a = a, .minx = INFINITY, .miny = INFINITY, .maxx = -INFINITY, .maxy = -INFINITY};
    unsigned char *h = arena_grow(a, 43);
    if (!h)
        return NOPOS;
    h[0] = 0x00;
    h[1] = *(const unsigned char *)&one; /* 1 on little-endian hosts */
    int32_t srid = 4326;
    memcpy(h + 2, &srid, 4);
    h[38] = 0x7C;
    memcpy(h + 39, &cls, 4);
    bool ok;
    if (cls == SPL_POINT) {
        ok = put_point(&w, g);
    } else if (cls == SPL_LINESTRING) {
        ok = put_points(&w, g);
    } else if (cls == SPL_POLYGON) {
        ok = put_polygon(&w, g);
    } else {
        size_t count_at = a->len;
        int32_t count = 0;
        ok = put_i32(a, 0);
        if (cls == SPL_COLLECTION)
            for (int want = SPL_POINT; ok && want <= SPL_POLYGON; want++)
                ok = put_elements(&w, g, want, &count);
        else
            ok = ok && put_elements(&w, g, 0, &count);
        if (ok)
            memcpy(a->p + count_at, &count, 4);
        ok = ok && count > 0;
    }
    ok = ok && put_byte(a, 0xFE) && w.minx <= w.maxx && w.miny <= w.maxy;
    if (!ok) {
        if (!a->oom)
            a->len = start;
        return NOPOS;
    }
    double mbr[4] = {w.minx, w.miny, w.maxx, w.maxy};
    memcpy(a->p + start + 6, mbr, sizeof mbr);
    return start;
}

/* ---- geometry checks -------------------------------------------------- */

/* The field as text with leading blanks skipped; NULL when null or blank. */
static const char *nonempty_field(OGRFeatureH f, int idx)
{
    if (idx < 0 || !OGR_F_IsFieldSetAndNotNull(f, idx))
        return NULL;
    const char *s = OGR_F_GetFieldAsString(f, idx);
    while (*s == ' ')
        s++;
    return *s ? s : NULL;
}


/* false when any coordinate is NaN or infinite */
static bool geom_finite(OGRGeometryH g)
{
    int n = OGR_G_GetGeometryCount(g);
    if (n > 0) {
        for (int i = 0; i < n; i++)
            if (!geom_finite(OGR_G_GetGeometryRef(g, i)))
                return false;
        return true;
    }
    int np = OGR_G_GetPointCount(g);
    for (int i = 0; i < np; i++) {
        double x = OGR_G_GetX(g, i), y = OGR_G_GetY(g, i);
        if (!isfinite(x) || !isfinite(y))
            return false;
    }
    return true;
}

static bool needs_validity_check(OGRwkbGeometryType t)
{
    t = wkbFlatten(t);
    return t != wkbPoint && t != wkbMultiPoint;
}

/* Record why the item's geometry is rejected. */
static void geom_reject(arena *a, item *it, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void geom_reject(arena *a, item *it, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    it->geom_reason = arena_str(a, reason);
}

static void geo_ctx_init(geo_ctx *gc, OGRCoordinateTransformationH shared)
{
    gc->ct = shared;
    gc->own_ct = false;
    gc->ct_failed = false;
}

static void geo_ctx_free(geo_ctx *gc)
{
    if (gc->own_ct && gc->ct)
        OCTDestroyCoordinateTransformation(gc->ct);
    gc->ct = NULL;
    gc->own_ct = false;
}

/*
 * A transformation for the reader thread: coordinate transformations are
 * not shareable between threads, so the reader makes its own (once, when it
 * first checks geometries).  false when that is impossible.
 */
static bool reader_ct(ingest *in, geo_ctx *gc)
{
    if (!in->ct || gc->ct)
        return true;
    if (gc->ct_failed)
        return false;
    lb_gdal_errors ge;
    lb_gdal__errors_push(&ge);
    gc->ct = OCTNewCoordinateTransformation(in->src_srs, in->dst_srs);
    lb_gdal__errors_pop();
    gc->own_ct = gc->ct != NULL;
    gc->ct_failed = gc->ct == NULL;
    return gc->ct != NULL;
}

/*
 * Turn the item's source geometry g (owned; consumed) into a checked
 * EPSG:4326 geometry encoded as a SpatiaLite BLOB in the batch's arena, or
 * record why it is rejected.  Runs in either thread, with that thread's gc.
 */
static void check_geometry(const ingest *in, geo_ctx *gc, OGRGeometryH g, arena *a, item *it)
{
    if (OGR_GT_IsNonLinear(OGR_G_GetGeometryType(g))) {
        OGRGeometryH lin = OGR_G_GetLinearGeometry(g, 0, NULL);
        OGR_G_DestroyGeometry(g);
        g = lin;
        if (!g) {
            geom_reject(a, it, "geometry cannot be converted to a linear geometry");
            return;
        }
    }
    OGR_G_FlattenTo2D(g);
    if (!geom_finite(g)) {
        geom_reject(a, it, "coordinate is NaN or infinite");
        goto done;
    }
    if (gc->ct) {
        lb_gdal_errors ge;
        lb_gdal__errors_push(&ge);
        OGRErr e = OGR_G_Transform(g, gc->ct);
        lb_gdal__errors_pop();
        if (e != OGRERR_NONE || !geom_finite(g)) {
            it->out_of_area = true;
            geom_reject(a, it,
                        "coordinates cannot be transformed from %s (outside its area of use?)",
                        in->crs_name);
            goto done;
        }
    }
    OGREnvelope env;
    OGR_G_GetEnvelope(g, &env);
    if (env.MinX < in->box.west || env.MaxX > in->box.east || env.MinY < in->box.south ||
        env.MaxY > in->box.north) {
        it->out_of_area = true;
        geom_reject(a, it,
                    "coordinates outside the area of use of %s (lon %.4f..%.4f, lat %.4f..%.4f)",
                    in->crs_name, env.MinX, env.MaxX, env.MinY, env.MaxY);
        goto done;
    }
    if (needs_validity_check(OGR_G_GetGeometryType(g))) {
        lb_gdal_errors ge;
        lb_gdal__errors_push(&ge);
        int valid = OGR_G_IsValid(g);
        if (!valid) {
            OGRGeometryH fixed = OGR_G_MakeValid(g);
            if (!fixed || OGR_G_IsEmpty(fixed) || !OGR_G_IsValid(fixed)) {
                if (fixed)
                    OGR_G_DestroyGeometry(fixed);
                lb_gdal__errors_pop();
                geom_reject(a, it,
                            "invalid geometry (e.g. self-intersection) that cannot be repaired");
                goto done;
            }
            OGR_G_DestroyGeometry(g);
            g = fixed;
            it->repaired = true;
        }
        lb_gdal__errors_pop();
    }
    it->blob = geom_blob(a, g);
    if (it->blob != NOPOS)
        it->blob_len = a->len - it->blob;
    else if (!a->oom)
        geom_reject(a, it, "geometry type %s cannot be stored",
                    OGRGeometryTypeToName(OGR_G_GetGeometryType(g)));
done:
    OGR_G_DestroyGeometry(g);
}

/* ---- attributes ------------------------------------------------------- */


/* ISO 8601 date or date-time: YYYY-MM-DD[Thh:mm[:ss[.f]]][Z|(+|-)hh[:mm]] */
static bool iso8601_ok(const char *s)
{
    int y, mo, d, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10 || mo < 1 || mo > 12 ||
        d < 1 || d > 31)
        return false;
    s += n;
    if (!*s)
        return true;
    if (*s != 'T' && *s != ' ')
        return false;
    int h, mi;
    if (sscanf(s + 1, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5 || h > 24 || mi > 59)
        return false;
    s += 1 + n;
    if (*s == ':') {
        int sec;
        if (sscanf(s + 1, "%2d%n", &sec, &n) != 1 || n != 2 || sec > 60)
            return false;
        s += 3;
        if (*s == '.') {
            s++;
            if (!(*s >= '0' && *s <= '9'))
                return false;
            while (*s >= '0' && *s <= '9')
                s++;
        }
    }
    if (*s == 'Z')
        return s[1] == '\0';
    if (*s == '+' || *s == '-') {
        int oh, om = 0;
        if (sscanf(s + 1, "%2d:%2d", &oh, &om) >= 1 || sscanf(s + 1, "%2d%2d", &oh, &om) >= 1)
            return oh <= 14 && om <= 59;
        return false;
    }
    return *s == '\0';
}

static void field_iso_time(OGRFeatureH f, int i, char *buf, size_t n)
{
    int y, mo, d, h, mi, tz;
    float sec;
    OGR_F_GetFieldAsDateTimeEx(f, i, &y, &mo, &d, &h, &mi, &sec, &tz);
    OGRFieldType t = OGR_Fld_GetType(OGR_F_GetFieldDefnRef(f, i));
    if (t == OFTDate) {
        snprintf(buf, n, "%04d-%02d-%02d", y, mo, d);
        return;
    }
    int len = snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, h, mi, (int)sec);
    if (len < 0 || (size_t)len >= n)
        return;
    if (tz == 100)
        snprintf(buf + len, n - (size_t)len, "Z");
    else if (tz > 1) {
        int off = (tz - 100) * 15;
        snprintf(buf + len, n - (size_t)len, "%c%02d:%02d", off < 0 ? '-' : '+', abs(off) / 60,
                 abs(off) % 60);
    }
}

static void attrs_json(const ingest *in, OGRFeatureH f, lb_buf *b)
{
    lb_buf_reset(b);
    lb_buf_putc(b, '{');
    bool first = true;
    int nf = OGR_FD_GetFieldCount(in->defn);
    for (int i = 0; i < nf; i++) {
        if (in->skip[i] || !OGR_F_IsFieldSet(f, i))
            continue;
        OGRFieldDefnH fd = OGR_FD_GetFieldDefn(in->defn, i);
        if (!first)
            lb_buf_putc(b, ',');
        first = false;
        lb_buf_json_str(b, OGR_Fld_GetNameRef(fd));
        lb_buf_putc(b, ':');
        if (OGR_F_IsFieldNull(f, i)) {
            lb_buf_puts(b, "null");
            continue;
        }
        switch (OGR_Fld_GetType(fd)) {
        case OFTInteger:
            if (OGR_Fld_GetSubType(fd) == OFSTBoolean)
                lb_buf_puts(b, OGR_F_GetFieldAsInteger(f, i) ? "true" : "false");
            else
                lb_buf_printf(b, "%d", OGR_F_GetFieldAsInteger(f, i));
            break;
        case OFTInteger64:
            lb_buf_printf(b, "%lld", (long long)OGR_F_GetFieldAsInteger64(f, i));
            break;
        case OFTReal:
            lb_buf_json_num(b, OGR_F_GetFieldAsDouble(f, i));
            break;
        case OFTDate:
        case OFTDateTime: {
            char t[48];
            field_iso_time(f, i, t, sizeof t);
            lb_buf_json_str(b, t);
            break;
        }
        case OFTIntegerList: {
            int cnt = 0;
            const int *v = OGR_F_GetFieldAsIntegerList(f, i, &cnt);
            lb_buf_putc(b, '[');
            for (int k = 0; k < cnt; k++)
                lb_buf_printf(b, k ? ",%d" : "%d", v[k]);
            lb_buf_putc(b, ']');
            break;
        }
        case OFTInteger64List: {
            int cnt = 0;
            const GIntBig *v = OGR_F_GetFieldAsInteger64List(f, i, &cnt);
            lb_buf_putc(b, '[');
            for (int k = 0; k < cnt; k++)
                lb_buf_printf(b, k ? ",%lld" : "%lld", (long long)v[k]);
            lb_buf_putc(b, ']');
            break;
        }
        case OFTRealList: {
            int cnt = 0;
            const double *v = OGR_F_GetFieldAsDoubleList(f, i, &cnt);
            lb_buf_putc(b, '[');
            for (int k = 0; k < cnt; k++) {
                if (k)
                    lb_buf_putc(b, ',');
                lb_buf_json_num(b, v[k]);
            }
            lb_buf_putc(b, ']');
            break;
        }
        case OFTStringList: {
            char **v = OGR_F_GetFieldAsStringList(f, i);
            lb_buf_putc(b, '[');
            for (int k = 0; v && v[k]; k++) {
                if (k)
                    lb_buf_putc(b, ',');
                lb_buf_json_str(b, v[k]);
            }
            lb_buf_putc(b, ']');
            break;
        }
        default:
            lb_buf_json_str(b, OGR_F_GetFieldAsString(f, i));
            break;
        }
    }
    lb_buf_putc(b, '}');
}

/* Parse a list of declared names separated by commas, semicolons or blanks. */
static bool parse_names(const lb_config *cfg, const char *s, bool groups, uint64_t *mask,
                        char *bad, size_t badn)
{
    *mask = 0;
    const char *p = s;
    while (*p) {
        while (*p == ',' || *p == ';' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *q = p;
        while (*q && *q != ',' && *q != ';' && *q != ' ' && *q != '\t')
            q++;
        char name[128];
        size_t n = (size_t)(q - p) < sizeof name - 1 ? (size_t)(q - p) : sizeof name - 1;
        memcpy(name, p, n);
        name[n] = '\0';
        int idx = groups ? lb_config_group_index(cfg, name) : lb_config_caveat_index(cfg, name);
        if (idx < 0) {
            snprintf(bad, badn, "%s", name);
            return false;
        }
        *mask |= 1ULL << idx;
        p = q;
    }
    return true;
}

/* The feature's label; false with why set when an attribute is bad. */
static bool feature_label(const ingest *in, OGRFeatureH f, lb_label *lab, char *why, size_t whyn)
{
    *lab = in->src->label;
    const char *s = nonempty_field(f, in->level_idx);
    if (s && lb_level_parse(s, &lab->level) != LB_OK) {
        snprintf(why, whyn, "%s: '%s' is not a classification level (OFFEN, VS-NfD, "
                            "VS-VERTRAULICH, GEHEIM)", in->src->label_level_attr, s);
        return false;
    }
    char bad[128];
    if ((s = nonempty_field(f, in->groups_idx)) &&
        !parse_names(in->cfg, s, true, &lab->groups, bad, sizeof bad)) {
        snprintf(why, whyn, "%s: unknown group '%s'", in->src->label_groups_attr, bad);
        return false;
    }
    if ((s = nonempty_field(f, in->caveats_idx)) &&
        !parse_names(in->cfg, s, false, &lab->caveats, bad, sizeof bad)) {
        snprintf(why, whyn, "%s: unknown caveat '%s'", in->src->label_caveats_attr, bad);
        return false;
    }
    return true;
}

static void put_text(arena *a, fval *v, const char *s)
{
    v->kind = V_TEXT;
    v->len = strlen(s);
    v->off = arena_bytes(a, s, v->len);
}

/* The common fields into it->val; false with why set when a value is bad. */
static bool common_fields(const ingest *in, OGRFeatureH f, arena *a, item *it, char *why,
                          size_t whyn)
{
    for (int k = 0; k < LB_FIELD_COUNT; k++) {
        fval *v = &it->val[k];
        v->kind = V_NULL;
        int idx = in->map_idx[k];
        const char *cst = in->src->set[k];
        if (idx < 0 && !cst)
            continue;
        if (idx >= 0 && !OGR_F_IsFieldSetAndNotNull(f, idx))
            continue;
        const char *fname = idx >= 0 ? in->src->map[k] : "set";
        if (k == LB_FIELD_ACCURACY_M) {
            double d;
            if (idx >= 0) {
                OGRFieldType t = OGR_Fld_GetType(OGR_F_GetFieldDefnRef(f, idx));
                if (t == OFTReal || t == OFTInteger || t == OFTInteger64) {
                    d = OGR_F_GetFieldAsDouble(f, idx);
                } else {
                    const char *s = OGR_F_GetFieldAsString(f, idx);
                    char *end;
                    d = strtod(s, &end);
                    if (end == s || *end) {
                        snprintf(why, whyn, "%s: '%s' is not a number (accuracy_m)", fname, s);
                        return false;
                    }
                }
            } else {
                d = strtod(cst, NULL);
            }
            if (!isfinite(d) || d < 0) {
                snprintf(why, whyn, "%s: accuracy_m must be a finite number >= 0", fname);
                return false;
            }
            v->kind = V_REAL;
            v->num = d;
            continue;
        }
        if (k == LB_FIELD_OBSERVED_AT || k == LB_FIELD_VALID_FROM || k == LB_FIELD_VALID_TO) {
            char t[64];
            if (idx >= 0) {
                OGRFieldType ft = OGR_Fld_GetType(OGR_F_GetFieldDefnRef(f, idx));
                if (ft == OFTDate || ft == OFTDateTime) {
                    field_iso_time(f, idx, t, sizeof t);
                } else {
                    snprintf(t, sizeof t, "%s", OGR_F_GetFieldAsString(f, idx));
                    if (!iso8601_ok(t)) {
                        snprintf(why, whyn, "%s: '%s' is not an ISO 8601 time (%s)", fname, t,
                                 lb_field_name((lb_field)k));
                        return false;
                    }
                }
            } else {
                snprintf(t, sizeof t, "%s", cst);
            }
            put_text(a, v, t);
            continue;
        }
        put_text(a, v, idx >= 0 ? OGR_F_GetFieldAsString(f, idx) : cst);
    }
    return true;
}

static void progress(ingest *in, double t0, double *last, GIntBig total, bool final)
{
    if (!in->opts || !in->opts->progress)
        return;
    double now = lb_now();
    if (!final && now - *last < 0.25)
        return;
    *last = now;
    double rate = (double)in->stats->read / (now - t0 > 1e-9 ? now - t0 : 1e-9);
    if (total > 0)
        fprintf(stderr, "\r  %s: %llu/%lld features (%3.0f%%), %.0f/s   ", in->src->id,
                (unsigned long long)in->stats->read, (long long)total,
                100.0 * (double)in->stats->read / (double)total, rate);
    else
        fprintf(stderr, "\r  %s: %llu features, %.0f/s   ", in->src->id,
                (unsigned long long)in->stats->read, rate);
    if (final)
        fputc('\n', stderr);
}


/* Stable feature id from (source, source feature id): 53 bits, never 0. */
static int64_t stable_fid(const char *source, const char *sfid)
{
    uint64_t h = lb_fnv1a(LB_FNV_INIT, source, strlen(source));
    h = lb_fnv1a(h, "\x1f", 1);
    h = lb_fnv1a(h, sfid, strlen(sfid));
    h &= (1ULL << 53) - 1;
    return (int64_t)(h ? h : 1);
}

/*
 * Stable feature id of a pushed feature from (source, writer, source feature
 * id).  Source ids and principal names contain no control characters
 * (docs/config.md), and the source id ends at \x1e here but at \x1f in
 * stable_fid: no pushed key is ever the same bytes as a file's key or
 * another writer's.
 */
static int64_t pushed_fid(const char *source, const char *writer, const char *sfid)
{
    uint64_t h = lb_fnv1a(LB_FNV_INIT, source, strlen(source));
    h = lb_fnv1a(h, "\x1e", 1);
    h = lb_fnv1a(h, writer, strlen(writer));
    h = lb_fnv1a(h, "\x1f", 1);
    h = lb_fnv1a(h, sfid, strlen(sfid));
    h &= (1ULL << 53) - 1;
    return (int64_t)(h ? h : 1);
}

/* The next candidate after a taken fid (53 bits, never 0). */
static int64_t next_fid(int64_t fid)
{
    uint64_t h = lb_fnv1a(LB_FNV_INIT, "\x1d", 1);
    h = lb_fnv1a(h, &fid, sizeof fid);
    h &= (1ULL << 53) - 1;
    return (int64_t)(h ? h : 1);
}

/* ---- the queue between reader and writer ------------------------------ */

static void batch_clear(batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->it[i].geom)
            OGR_G_DestroyGeometry(b->it[i].geom);
    b->n = 0;
    b->held = 0;
    b->a.len = 0;
    b->a.oom = false;
    if (b->a.cap > 4 * (size_t)BATCH_BYTES) {
        /* a huge geometry passed through: do not keep its memory */
        free(b->a.p);
        b->a.p = NULL;
        b->a.cap = 0;
    }
}

static void batch_free(batch *b)
{
    if (!b)
        return;
    batch_clear(b);
    free(b->a.p);
    free(b);
}

static bool pl_init(pipeline *pl)
{
    memset(pl, 0, sizeof *pl);
    if (pthread_mutex_init(&pl->mu, NULL) != 0)
        return false;
    if (pthread_cond_init(&pl->can_put, NULL) != 0) {
        pthread_mutex_destroy(&pl->mu);
        return false;
    }
    if (pthread_cond_init(&pl->can_get, NULL) != 0) {
        pthread_cond_destroy(&pl->can_put);
        pthread_mutex_destroy(&pl->mu);
        return false;
    }
    return true;
}

/* Only once both threads are done with it. */
static void pl_destroy(pipeline *pl)
{
    for (size_t i = 0; i < pl->count; i++)
        batch_free(pl->q[(pl->head + i) % QUEUE_BATCHES]);
    while (pl->free_list) {
        batch *b = pl->free_list;
        pl->free_list = b->next;
        batch_free(b);
    }
    pthread_cond_destroy(&pl->can_get);
    pthread_cond_destroy(&pl->can_put);
    pthread_mutex_destroy(&pl->mu);
}

/* Reader: an empty batch, recycled or new (NULL when out of memory). */
static batch *pl_empty(pipeline *pl)
{
    pthread_mutex_lock(&pl->mu);
    batch *b = pl->free_list;
    if (b)
        pl->free_list = b->next;
    pthread_mutex_unlock(&pl->mu);
    return b ? b : calloc(1, sizeof *b);
}

static void pl_recycle(pipeline *pl, batch *b)
{
    batch_clear(b);
    pthread_mutex_lock(&pl->mu);
    b->next = pl->free_list;
    pl->free_list = b;
    pthread_mutex_unlock(&pl->mu);
}

/* Reader: how many full batches wait for the writer. */
static size_t pl_waiting(pipeline *pl)
{
    pthread_mutex_lock(&pl->mu);
    size_t n = pl->count;
    pthread_mutex_unlock(&pl->mu);
    return n;
}

/* Reader: hand b to the writer (waits while the queue is full); false when
 * the writer has stopped, b is then recycled. */
static bool pl_put(pipeline *pl, batch *b)
{
    pthread_mutex_lock(&pl->mu);
    if (pl->count == QUEUE_BATCHES && !pl->stop) {
        double t0 = lb_now();
        while (pl->count == QUEUE_BATCHES && !pl->stop)
            pthread_cond_wait(&pl->can_put, &pl->mu);
        pl->reader_waited += lb_now() - t0;
    }
    bool stop = pl->stop;
    if (!stop) {
        pl->q[(pl->head + pl->count) % QUEUE_BATCHES] = b;
        pl->count++;
        pthread_cond_signal(&pl->can_get);
    }
    pthread_mutex_unlock(&pl->mu);
    if (stop)
        pl_recycle(pl, b);
    return !stop;
}

/* Reader: no more batches. */
static void pl_finish(pipeline *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->done = true;
    pthread_cond_broadcast(&pl->can_get);
    pthread_mutex_unlock(&pl->mu);
}

/* Writer: the next batch (waits for it); NULL after the last one. */
static batch *pl_get(pipeline *pl)
{
    pthread_mutex_lock(&pl->mu);
    if (pl->count == 0 && !pl->done) {
        double t0 = lb_now();
        while (pl->count == 0 && !pl->done)
            pthread_cond_wait(&pl->can_get, &pl->mu);
        pl->writer_waited += lb_now() - t0;
    }
    batch *b = NULL;
    if (pl->count > 0) {
        b = pl->q[pl->head];
        pl->head = (pl->head + 1) % QUEUE_BATCHES;
        pl->count--;
        pthread_cond_signal(&pl->can_put);
    }
    pthread_mutex_unlock(&pl->mu);
    return b;
}

/* Writer: stop the reader (it ends at its next batch). */
static void pl_stop(pipeline *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->stop = true;
    pthread_cond_broadcast(&pl->can_put);
    pthread_mutex_unlock(&pl->mu);
}

/* ---- reader ------------------------------------------------------------ */

/* Label names already formatted, by bit set (labels repeat a lot). */
#define NAME_CACHE 16
typedef struct name_cache {
    struct {
        bool set;
        uint64_t bits;
        char text[1024];
    } e[NAME_CACHE];
} name_cache;

static const char *label_names(name_cache *c, const lb_config *cfg, uint64_t bits, bool groups)
{
    size_t slot = (size_t)((bits * 0x9E3779B97F4A7C15ULL) >> 60) % NAME_CACHE;
    if (!c->e[slot].set || c->e[slot].bits != bits) {
        if (groups)
            lb_config_format_groups(cfg, bits, c->e[slot].text, sizeof c->e[slot].text);
        else
            lb_config_format_caveats(cfg, bits, c->e[slot].text, sizeof c->e[slot].text);
        c->e[slot].set = true;
        c->e[slot].bits = bits;
    }
    return c->e[slot].text;
}

/* State of the reader thread. */
typedef struct reader_state {
    geo_ctx gc;
    lb_buf attrs;
    name_cache groups, caveats;
} reader_state;

/* Turn feature f into the next item of b. */
static void read_feature(ingest *in, reader_state *rs, bool check_here, OGRFeatureH f,
                         batch *b)
{
    arena *a = &b->a;
    item *it = &b->it[b->n++];
    *it = (item){.sfid = NOPOS, .geom_reason = NOPOS, .attr_reason = NOPOS, .blob = NOPOS,
                 .groups = NOPOS, .caveats = NOPOS, .attrs = NOPOS};
    char sfid_buf[32];
    const char *sfid;
    if (in->fid_idx >= 0) {
        sfid = nonempty_field(f, in->fid_idx);
        if (!sfid)
            return; /* the writer rejects it */
    } else {
        snprintf(sfid_buf, sizeof sfid_buf, "%lld", (long long)OGR_F_GetFID(f));
        sfid = sfid_buf;
    }
    /* sfid points into the feature: valid until it is destroyed */
    it->sfid = arena_str(a, sfid);
    it->fid = in->mode == LB_INGEST_UPSERT ? pushed_fid(in->src->id, in->writer, sfid)
                                            : stable_fid(in->src->id, sfid);

    if (in->mgrs_idx >= 0) {
        const char *s = nonempty_field(f, in->mgrs_idx);
        double lon, lat, size;
        lb_error e;
        if (!s) {
            geom_reject(a, it, "no MGRS position in attribute '%s'", in->src->mgrs_attr);
        } else if (lb_mgrs_to_lonlat(s, &lon, &lat, &size, &e) != LB_OK) {
            geom_reject(a, it, "%s", e.msg);
        } else {
            OGRGeometryH g = OGR_G_CreateGeometry(wkbPoint);
            OGR_G_SetPoint_2D(g, 0, lon, lat);
            it->blob = geom_blob(a, g);
            it->blob_len = it->blob != NOPOS ? a->len - it->blob : 0;
            OGR_G_DestroyGeometry(g);
        }
    } else {
        OGRGeometryH fg = OGR_F_GetGeometryRef(f);
        if (!fg) {
            geom_reject(a, it, "feature has no geometry");
        } else if (OGR_G_IsEmpty(fg)) {
            geom_reject(a, it, "empty geometry");
        } else {
            OGRGeometryH g = OGR_F_StealGeometry(f);
            if (check_here) {
                check_geometry(in, &rs->gc, g, a, it);
                in->checked_by_reader++;
            } else {
                it->geom = g;
                b->held += (size_t)OGR_G_WkbSize(g);
            }
        }
    }
    if (it->geom_reason != NOPOS)
        return; /* rejected for its geometry: the rest does not matter */

    char why[512];
    lb_label lab;
    if (!feature_label(in, f, &lab, why, sizeof why) ||
        !common_fields(in, f, a, it, why, sizeof why)) {
        it->attr_reason = arena_str(a, why);
        return;
    }
    it->level = (int)lab.level;
    it->gbits = lab.groups;
    it->cbits = lab.caveats;
    it->groups = arena_str(a, label_names(&rs->groups, in->cfg, lab.groups, true));
    it->caveats = arena_str(a, label_names(&rs->caveats, in->cfg, lab.caveats, false));
    lb_buf *attrs = &rs->attrs;
    attrs_json(in, f, attrs);
    it->attrs_len = attrs->len;
    it->attrs = arena_bytes(a, attrs->data ? attrs->data : "", attrs->len);
}

static void *reader_main(void *arg)
{
    ingest *in = arg;
    pipeline *pl = &in->pl;
    reader_state *rs = calloc(1, sizeof *rs);
    if (!rs) {
        in->read_oom = true;
        pl_finish(pl);
        return NULL;
    }
    geo_ctx_init(&rs->gc, NULL);
    lb_gdal__errors_push(&in->read_errors);
    batch *b = NULL;
    bool check_here = false;
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(in->lyr)) != NULL) {
        if (!b) {
            b = pl_empty(pl);
            if (!b) {
                OGR_F_Destroy(f);
                in->read_oom = true;
                break;
            }
            /* the writer is behind: check this batch's geometries here */
            check_here = pl_waiting(pl) >= READER_CHECKS_AT && reader_ct(in, &rs->gc);
        }
        read_feature(in, rs, check_here, f, b);
        OGR_F_Destroy(f);
        if (b->a.oom || rs->attrs.oom) {
            in->read_oom = true;
            break;
        }
        if (in->read_errors.failures)
            break;
        if (b->n == BATCH_ITEMS || b->a.len + b->held >= BATCH_BYTES) {
            bool go_on = pl_put(pl, b);
            b = NULL;
            if (!go_on)
                break;
        }
    }
    lb_gdal__errors_pop();
    if (b) {
        if (b->n > 0 && !in->read_oom)
            pl_put(pl, b);
        else
            pl_recycle(pl, b);
    }
    pl->reader_cpu = thread_cpu(); /* the thread's whole life */
    pl_finish(pl);
    geo_ctx_free(&rs->gc);
    lb_buf_free(&rs->attrs);
    free(rs);
    return NULL;
}

/* ---- writer ------------------------------------------------------------ */

/* The MBR a SpatiaLite geometry BLOB carries (bytes 6..37); false if malformed. */
static bool blob_mbr(const unsigned char *b, size_t n, double box[4])
{
    if (!b || n < 39 || b[0] != 0x00 || (b[1] != 0x00 && b[1] != 0x01))
        return false;
    bool le = b[1] == 0x01;
    for (int i = 0; i < 4; i++) {
        uint64_t v;
        memcpy(&v, b + 6 + 8 * i, 8);
        if (!le)
            v = __builtin_bswap64(v);
        memcpy(&box[i], &v, 8);
    }
    return true;
}

/* The WKB of a SpatiaLite geometry BLOB (libspatialite's, as AsBinary()
 * gives it); NULL when it cannot be read or memory ran out. */
static unsigned char *blob_wkb(const unsigned char *b, size_t n, size_t *len)
{
    if (!b || n > INT_MAX)
        return NULL;
    gaiaGeomCollPtr g = gaiaFromSpatiaLiteBlobWkb(b, (unsigned int)n);
    if (!g)
        return NULL;
    unsigned char *w = NULL;
    int wl = 0;
    gaiaToWkb(g, &w, &wl);
    gaiaFreeGeomColl(g);
    if (!w || wl <= 0) {
        free(w);
        return NULL;
    }
    *len = (size_t)wl;
    return w;
}

/* Keep a version's geometry for live events while the push's budget lasts. */
static void keep_wkb(size_t *used, const unsigned char *blob, size_t n, unsigned char **wkb,
                     size_t *len)
{
    *wkb = NULL;
    *len = 0;
    if (n > LB_CHANGE_WKB_BUDGET - *used)
        return;
    *wkb = blob_wkb(blob, n, len);
    *used += *len;
}

void lb_changes_free(lb_change *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].old_wkb);
        free(c[i].new_wkb);
    }
    free(c);
}

static lb_change *new_change(ingest *in)
{
    lb_push_result *r = in->res;
    if (r->nchanges == in->changes_cap) {
        size_t nc = in->changes_cap ? in->changes_cap * 2 : 16;
        lb_change *p = realloc(r->changes, nc * sizeof *p);
        if (!p)
            return NULL;
        r->changes = p;
        in->changes_cap = nc;
    }
    lb_change *c = &r->changes[r->nchanges++];
    memset(c, 0, sizeof *c);
    return c;
}

/* Label of a stored row from its columns (unknown names are ignored). */
static void stored_label(const lb_config *cfg, int level, const char *groups,
                         const char *caveats, lb_label *lab)
{
    char bad[128];
    lab->level = (lb_level)level;
    lab->groups = lab->caveats = 0;
    parse_names(cfg, groups ? groups : "", true, &lab->groups, bad, sizeof bad);
    parse_names(cfg, caveats ? caveats : "", false, &lab->caveats, bad, sizeof bad);
}

lb_status lb_store_label_times(lb_store *st, const lb_config *cfg, const char *layer,
                               lb_label_time **out, size_t *n, lb_error *err)
{
    *out = NULL;
    *n = 0;
    char *sql = sqlite3_mprintf(
        "SELECT t.source, t.label_level, t.releasable_to, t.caveats,"
        " (SELECT max(i.finished_at) FROM lb_ingests i WHERE i.source = t.source"
        "  AND i.revision = t.rev AND i.status = 'ok')"
        " FROM (SELECT source, label_level, releasable_to, caveats, max(revision) AS rev"
        "  FROM \"%w\" GROUP BY source, label_level, releasable_to, caveats) t",
        layer);
    sqlite3_stmt *q = NULL;
    if (!sql)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    int r = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL);
    sqlite3_free(sql);
    if (r != SQLITE_OK)
        return LB_OK; /* no table: the layer was never written */
    lb_label_time *v = NULL;
    size_t cnt = 0, cap = 0;
    lb_status rc = LB_OK;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        const char *at = (const char *)sqlite3_column_text(q, 4);
        if (!at)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            lb_label_time *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                rc = lb_fail(err, LB_ENOMEM, "out of memory");
                break;
            }
            v = nv;
        }
        lb_label_time *lt = &v[cnt++];
        memset(lt, 0, sizeof *lt);
        const char *src = (const char *)sqlite3_column_text(q, 0);
        lt->source = -1;
        for (size_t k = 0; src && k < cfg->nsources; k++)
            if (strcmp(cfg->sources[k].id, src) == 0)
                lt->source = (int)k;
        stored_label(cfg, sqlite3_column_int(q, 1), (const char *)sqlite3_column_text(q, 2),
                     (const char *)sqlite3_column_text(q, 3), &lt->label);
        snprintf(lt->at, sizeof lt->at, "%s", at);
    }
    if (rc == LB_OK && r != SQLITE_DONE)
        rc = lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_finalize(q);
    if (rc != LB_OK) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return LB_OK;
}

/*
 * UPSERT: the writer's current row for feature id sfid in the source is
 * removed (its old version, and its fid, go into change c).  *dup is set when
 * that row was written by this same request (the id is listed twice).  Rows
 * of other writers and of file ingests are never looked at.
 */
static lb_status upsert_remove_old(ingest *in, const char *sfid, lb_change *c, bool *dup,
                                   lb_error *err)
{
    *dup = false;
    sqlite3_stmt *q = in->find;
    sqlite3_reset(q);
    sqlite3_bind_text(q, 1, in->src->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, in->writer, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, sfid, -1, SQLITE_STATIC);
    int r = sqlite3_step(q);
    if (r == SQLITE_DONE)
        return LB_OK;
    if (r != SQLITE_ROW)
        return lb_fail(err, LB_ESTORE, "store %s: %s", in->st->path, sqlite3_errmsg(in->st->db));
    int64_t pk = sqlite3_column_int64(q, 0);
    if (sqlite3_column_int64(q, 1) == in->rev) {
        *dup = true;
        sqlite3_reset(q);
        return LB_OK;
    }
    c->has_old = true;
    c->fid = sqlite3_column_int64(q, 6);
    stored_label(in->cfg, sqlite3_column_int(q, 2), (const char *)sqlite3_column_text(q, 3),
                 (const char *)sqlite3_column_text(q, 4), &c->old_label);
    const unsigned char *blob = sqlite3_column_blob(q, 5);
    size_t blob_len = (size_t)sqlite3_column_bytes(q, 5);
    if (!blob_mbr(blob, blob_len, c->old_box))
        c->old_box[0] = c->old_box[1] = -180, c->old_box[2] = c->old_box[3] = 180;
    keep_wkb(&in->wkb_used, blob, blob_len, &c->old_wkb, &c->old_wkb_len);
    sqlite3_reset(q);
    sqlite3_reset(in->del_row);
    sqlite3_bind_int64(in->del_row, 1, pk);
    if (sqlite3_step(in->del_row) != SQLITE_DONE)
        return lb_fail(err, LB_ESTORE, "store %s: delete from %s failed: %s", in->st->path,
                       in->src->layer, sqlite3_errmsg(in->st->db));
    in->res->deleted++;
    return LB_OK;
}

/*
 * UPSERT: the fid of a feature new to its writer: pushed_fid, or when another
 * row has that (a hash collision, which FNV lets anyone craft) the first free
 * one after it.  A refusal would answer differently when a feature the writer
 * may not see exists; this way the push does exactly what it would without
 * that feature.
 */
static lb_status free_fid(ingest *in, int64_t *fid, lb_error *err)
{
    for (int tries = 0; tries < 1000; tries++) {
        sqlite3_stmt *q = in->fid_used;
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, *fid);
        int r = sqlite3_step(q);
        sqlite3_reset(q);
        if (r == SQLITE_DONE)
            return LB_OK;
        if (r != SQLITE_ROW)
            return lb_fail(err, LB_ESTORE, "store %s: %s", in->st->path,
                           sqlite3_errmsg(in->st->db));
        *fid = next_fid(*fid);
    }
    return lb_fail(err, LB_ESTORE, "store %s: no free feature id in %s", in->st->path,
                   in->src->layer);
}

static lb_status write_item(ingest *in, geo_ctx *gc, batch *b, item *it, int64_t rev,
                            lb_error *err)
{
    in->stats->read++;
    if (it->geom) {
        OGRGeometryH g = it->geom;
        it->geom = NULL;
        check_geometry(in, gc, g, &b->a, it);
        in->checked_by_writer++;
    }
    if (b->a.oom)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    const arena *a = &b->a;
    if (it->sfid == NOPOS) {
        reject(in, NULL, "no feature id in attribute '%s'", in->src->fid_attr);
        return LB_OK;
    }
    const char *sfid = arena_at(a, it->sfid);
    if (it->geom_reason != NOPOS) {
        if (it->out_of_area)
            in->out_of_area++;
        reject(in, sfid, "%s", arena_at(a, it->geom_reason));
        return LB_OK;
    }
    if (it->attr_reason != NOPOS) {
        reject(in, sfid, "%s", arena_at(a, it->attr_reason));
        return LB_OK;
    }
    lb_change *chg = NULL;
    if (in->mode == LB_INGEST_UPSERT) {
        if (!(chg = new_change(in)))
            return lb_fail(err, LB_ENOMEM, "out of memory");
        bool dup;
        lb_status rc = upsert_remove_old(in, sfid, chg, &dup, err);
        if (rc != LB_OK)
            return rc;
        if (dup) {
            in->res->nchanges--;
            reject(in, sfid, "feature id '%s' appears more than once in this request", sfid);
            return LB_OK;
        }
        /* a replaced feature keeps its fid (the change names one fid for
         * both versions); a new one gets a free one */
        if (chg->has_old)
            it->fid = chg->fid;
        else if ((rc = free_fid(in, &it->fid, err)) != LB_OK)
            return rc;
        chg->fid = it->fid;
        chg->has_new = true;
        chg->new_label = (lb_label){.level = (lb_level)it->level, .groups = it->gbits,
                                    .caveats = it->cbits};
        blob_mbr(a->p + it->blob, it->blob_len, chg->new_box);
        keep_wkb(&in->wkb_used, a->p + it->blob, it->blob_len, &chg->new_wkb,
                 &chg->new_wkb_len);
    }
    sqlite3_stmt *q = in->ins;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, it->fid);
    sqlite3_bind_text(q, 2, in->src->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, sfid, -1, SQLITE_STATIC);
    for (int k = 0; k < LB_FIELD_COUNT; k++) {
        const fval *v = &it->val[k];
        if (v->kind == V_REAL)
            sqlite3_bind_double(q, 4 + k, v->num);
        else if (v->kind == V_TEXT)
            sqlite3_bind_text(q, 4 + k, arena_at(a, v->off), (int)v->len, SQLITE_STATIC);
        else
            sqlite3_bind_null(q, 4 + k);
    }
    sqlite3_bind_int(q, 11, it->level);
    sqlite3_bind_text(q, 12, lb_level_name((lb_level)it->level), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 13, arena_at(a, it->groups), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 14, arena_at(a, it->caveats), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 15, arena_at(a, it->attrs), (int)it->attrs_len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 16, rev);
    sqlite3_bind_blob(q, 17, a->p + it->blob, (int)it->blob_len, SQLITE_STATIC);
    sqlite3_bind_text(q, 18, in->writer, -1, SQLITE_STATIC);
    int r = sqlite3_step(q);
    if (r == SQLITE_CONSTRAINT && in->mode == LB_INGEST_REPLACE) {
        /* the stable fid may be another row's: a hash collision, which FNV
         * lets anyone craft (a writer could push a feature whose fid is that
         * of a file feature to come, to keep it out).  Then the next free
         * one, as a push does; the same again means a duplicate id. */
        sqlite3_reset(q);
        int64_t fid = it->fid;
        lb_status rc = free_fid(in, &fid, err);
        if (rc != LB_OK)
            return rc;
        if (fid != it->fid) {
            it->fid = fid;
            sqlite3_bind_int64(q, 1, fid);
            r = sqlite3_step(q);
        }
    }
    if (r == SQLITE_CONSTRAINT) {
        reject(in, sfid, "duplicate feature id '%s' in source", sfid);
        return LB_OK;
    }
    if (r != SQLITE_DONE)
        return lb_fail(err, LB_ESTORE, "store %s: insert into %s failed: %s", in->st->path,
                       in->src->layer, sqlite3_errmsg(in->st->db));
    int64_t row = sqlite3_last_insert_rowid(in->st->db);
    if (in->stats->stored == 0 || row < in->first_row)
        in->first_row = row;
    if (in->stats->stored == 0 || row > in->last_row)
        in->last_row = row;
    in->stats->stored++;
    if (it->repaired)
        in->stats->repaired++;
    if (in->kill_after > 0 && (long)in->stats->stored >= in->kill_after)
        raise(SIGKILL); /* fault injection for crash tests (LAGEBILD_FAULT_KILL_AFTER) */
    return LB_OK;
}


/* Read the source in the reader thread and write its features here. */
static lb_status scan(ingest *in, int64_t rev, lb_error *err)
{
    GIntBig total = OGR_L_GetFeatureCount(in->lyr, FALSE);
    double t0 = lb_now(), last = t0;
    OGR_L_ResetReading(in->lyr);
    if (!pl_init(&in->pl))
        return lb_fail(err, LB_ENOMEM, "out of memory");
    pthread_t reader;
    if (pthread_create(&reader, NULL, reader_main, in) != 0) {
        pl_destroy(&in->pl);
        return lb_fail(err, LB_ENOMEM, "source '%s': cannot start the reader thread",
                       in->src->id);
    }
    /* from here until the join, the dataset belongs to the reader */
    double cpu0 = thread_cpu();
    geo_ctx gc;
    geo_ctx_init(&gc, in->ct);
    lb_status rc = LB_OK;
    batch *b;
    while ((b = pl_get(&in->pl)) != NULL) {
        for (size_t i = 0; i < b->n && rc == LB_OK; i++)
            rc = write_item(in, &gc, b, &b->it[i], rev, err);
        sqlite3_clear_bindings(in->ins); /* they point into the batch */
        pl_recycle(&in->pl, b);
        if (rc != LB_OK) {
            pl_stop(&in->pl);
            break;
        }
        progress(in, t0, &last, total, false);
    }
    pthread_join(reader, NULL);
    trace(in,
          "scan %.2f s; CPU reader %.2f s, writer %.2f s; waited reader %.2f s, writer %.2f s;"
          " geometries checked by the reader %lu, by the writer %lu",
          lb_now() - t0, in->pl.reader_cpu, thread_cpu() - cpu0, in->pl.reader_waited,
          in->pl.writer_waited, (unsigned long)in->checked_by_reader,
          (unsigned long)in->checked_by_writer);
    pl_destroy(&in->pl);
    if (rc == LB_OK && in->read_oom)
        rc = lb_fail(err, LB_ENOMEM, "out of memory");
    progress(in, t0, &last, total, true);
    return rc;
}


/* A push re-conflates only the neighbourhood of what it changed (old and new
 * boxes of every feature); the result equals a whole-layer run. */
static lb_status conflate_changes(lb_store *st, const lb_config *cfg, const char *layer,
                                  const lb_push_result *res, lb_error *err)
{
    if (!res || res->nchanges == 0)
        return LB_OK;
    lb_bbox *boxes = malloc(2 * res->nchanges * sizeof *boxes);
    if (!boxes)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < res->nchanges; i++) {
        const lb_change *c = &res->changes[i];
        if (c->has_old)
            boxes[n++] = (lb_bbox){c->old_box[0], c->old_box[1], c->old_box[2], c->old_box[3]};
        if (c->has_new)
            boxes[n++] = (lb_bbox){c->new_box[0], c->new_box[1], c->new_box[2], c->new_box[3]};
    }
    lb_status rc = lb_conflate_region(st, cfg, layer, boxes, n, err);
    free(boxes);
    return rc;
}

static lb_status run(ingest *in, lb_store__bulk *bulk, lb_error *err)
{
    lb_store *st = in->st;
    const lb_source_cfg *src = in->src;
    lb_status rc = lb_store__begin(st, err);
    if (rc != LB_OK)
        return rc;
    int64_t rev = 0;
    char *old_layer = lb_store__source_layer(st, src->id);
    rc = lb_store__ensure_layer(st, src->layer, err);
    if (rc == LB_OK && old_layer && strcmp(old_layer, src->layer) != 0) {
        /* the source moved to another layer: its old layer changes too */
        int64_t old_rev;
        rc = lb_store__bulk_begin(st, old_layer, bulk, err);
        if (rc == LB_OK)
            rc = lb_store__bulk_delete_source(st, bulk, src->id, err);
        if (rc == LB_OK)
            rc = lb_store__bump_layer(st, old_layer, &old_rev, err);
        if (rc == LB_OK)
            rc = lb_store__bulk_end(st, bulk, err);
        if (rc == LB_OK) /* its reports left the old layer: re-conflate it */
            rc = lb_conflate_layer(st, in->cfg, old_layer, err);
    }
    free(old_layer);
    bool replace = in->mode == LB_INGEST_REPLACE;
    /* REPLACE: SpatiaLite's per-row triggers are replaced by bulk statements
     * until lb_store__bulk_end, inside this transaction.  UPSERT touches few
     * rows: the triggers do their work per row */
    if (rc == LB_OK && replace)
        rc = lb_store__bulk_begin(st, src->layer, bulk, err);
    if (rc == LB_OK && replace)
        rc = lb_store__bulk_delete_source(st, bulk, src->id, err);
    if (rc == LB_OK)
        rc = replace ? lb_store__bump_layer(st, src->layer, &rev, err)
                     : lb_store__bump_revision(st, src->layer, &rev, err);
    in->rev = rev;
    if (rc == LB_OK)
        rc = prepare(in, err);
    char *del = sqlite3_mprintf("DELETE FROM lb_rejects WHERE source=%Q", src->id);
    if (rc == LB_OK && replace)
        rc = del ? lb_store__exec(st, del, err) : lb_fail(err, LB_ENOMEM, "out of memory");
    sqlite3_free(del);
    if (rc != LB_OK)
        return rc;
    in->stats->revision = rev;
    if (!replace)
        in->res->revision = rev;

    rc = scan(in, rev, err);
    if (rc == LB_OK && in->read_errors.failures)
        rc = lb_fail(err, LB_EFORMAT, "source '%s': %s is corrupt or truncated: %s", src->id,
                     src->path, in->read_errors.first);
    if (rc == LB_OK && in->stats->read > 0 && in->out_of_area == in->stats->read)
        rc = lb_fail(err, LB_ECRS,
                     "source '%s': all %llu features lie outside the area of use of %s "
                     "- wrong CRS? (set crs: and force_crs: true)",
                     src->id, (unsigned long long)in->stats->read, in->crs_name);
    if (rc == LB_OK && !replace && in->res->nrejects > 0)
        rc = lb_fail(err, LB_EGEOM, "source '%s': %zu of %llu pushed features rejected, nothing applied",
                     src->id, in->res->nrejects, (unsigned long long)in->stats->read);
    if (rc == LB_OK && !replace && in->stats->read == 0)
        rc = lb_fail(err, LB_EFORMAT, "source '%s': the FeatureCollection has no features",
                     src->id);
    if (rc == LB_OK && replace)
        rc = lb_store__bulk_inserted(st, bulk, src->id, in->first_row, in->last_row,
                                     (int64_t)in->stats->stored, err);
    if (rc == LB_OK) {
        sqlite3_stmt *q = NULL;
        /* a push keeps the source's other features: its count moves by the
         * features added */
        const char *sql =
            replace ? "INSERT OR REPLACE INTO lb_sources(source, layer, agency, path,"
                      " revision, features, rejected, ingested_at) VALUES"
                      " (?,?,?,?,?,?,?, strftime('%Y-%m-%dT%H:%M:%SZ','now'))"
                    : "INSERT INTO lb_sources(source, layer, agency, path,"
                      " revision, features, rejected, ingested_at) VALUES"
                      " (?,?,?,?,?,?,?, strftime('%Y-%m-%dT%H:%M:%SZ','now'))"
                      " ON CONFLICT(source) DO UPDATE SET layer = excluded.layer,"
                      " revision = excluded.revision,"
                      " features = features + excluded.features,"
                      " ingested_at = excluded.ingested_at";
        if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, src->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 2, src->layer, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 3, src->agency, -1, SQLITE_STATIC);
            const char *origin = in->opts && in->opts->origin ? in->opts->origin : src->path;
            sqlite3_bind_text(q, 4, origin, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 5, rev);
            sqlite3_bind_int64(q, 6,
                               replace ? (sqlite3_int64)in->stats->stored
                                       : (sqlite3_int64)in->stats->stored -
                                             (sqlite3_int64)in->res->deleted);
            sqlite3_bind_int64(q, 7, (sqlite3_int64)in->stats->rejected);
            if (sqlite3_step(q) != SQLITE_DONE)
                rc = lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
        } else {
            rc = lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
        }
        sqlite3_finalize(q);
    }
    if (rc == LB_OK && in->opts && in->opts->content_hash) {
        char *up = sqlite3_mprintf("UPDATE lb_sources SET content_hash=%Q WHERE source=%Q",
                                   in->opts->content_hash, src->id);
        rc = up ? lb_store__exec(st, up, err) : lb_fail(err, LB_ENOMEM, "out of memory");
        sqlite3_free(up);
    }
    /* the triggers are back before COMMIT: outside this transaction the
     * table is an ordinary SpatiaLite table for every other writer */
    double t = lb_now(), cpu = thread_cpu();
    if (rc == LB_OK && replace)
        rc = lb_store__bulk_end(st, bulk, err);
    trace(in, "spatial index and triggers %.2f s (CPU %.2f s)", lb_now() - t, thread_cpu() - cpu);
    /* conflation in the same transaction: no reader sees it half done */
    t = lb_now();
    if (rc == LB_OK)
        rc = replace ? lb_conflate_layer(st, in->cfg, src->layer, err)
                     : conflate_changes(st, in->cfg, src->layer, in->res, err);
    trace(in, "conflation %.2f s", lb_now() - t);
    return rc;
}

static void log_ingest(lb_store *st, const lb_source_cfg *src, const lb_ingest_stats *s,
                       lb_status rc, const lb_error *err)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO lb_ingests(source, finished_at, status, message,"
                           " features_read, stored, repaired, rejected, seconds, revision)"
                           " VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ','now'),?,?,?,?,?,?,?,?)",
                           -1, &q, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(q, 1, src->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, rc == LB_OK ? "ok" : lb_status_name(rc), -1, SQLITE_STATIC);
    if (rc != LB_OK && err)
        sqlite3_bind_text(q, 3, err->msg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)s->read);
    sqlite3_bind_int64(q, 5, rc == LB_OK ? (sqlite3_int64)s->stored : 0);
    sqlite3_bind_int64(q, 6, rc == LB_OK ? (sqlite3_int64)s->repaired : 0);
    sqlite3_bind_int64(q, 7, (sqlite3_int64)s->rejected);
    sqlite3_bind_double(q, 8, s->seconds);
    if (rc == LB_OK)
        sqlite3_bind_int64(q, 9, s->revision);
    sqlite3_step(q);
    sqlite3_finalize(q);
}


/* An integer PRAGMA of the connection, or 0 when unknown. */
static int pragma_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return v;
}

static void set_cache_size(sqlite3 *db, int v)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size=%d", v);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/*
 * The common per-source core of every ingest (files and pushes): the
 * source's features are read from lyr (an open OGR layer; the caller keeps
 * the dataset), their CRS resolved (crs_override, else the layer's or the
 * config's), checked, mapped and labelled, and written in ONE transaction in
 * the given mode, committed before it returns LB_OK.
 */
lb_status lb_ingest__layer(lb_store *st, const lb_config *cfg, const lb_source_cfg *src,
                           OGRLayerH lyr, const char *crs_override, lb_ingest_mode mode,
                           const char *writer, const lb_ingest_opts *opts,
                           lb_ingest_stats *stats, lb_push_result *res, lb_error *err)
{
    ingest in = {.st = st, .cfg = cfg, .src = src, .opts = opts, .stats = stats,
                 .lyr = lyr, .defn = OGR_L_GetLayerDefn(lyr), .mode = mode,
                 .crs_override = crs_override, .res = res,
                 .writer = mode == LB_INGEST_UPSERT && writer ? writer : ""};
    double t0 = lb_now() - stats->seconds; /* the caller's open counts too */
    const char *ka = getenv("LAGEBILD_FAULT_KILL_AFTER");
    in.kill_after = ka ? strtol(ka, NULL, 10) : 0;
    const char *tr = getenv("LAGEBILD_INGEST_TRACE");
    in.trace = tr && *tr && strcmp(tr, "0") != 0;
    /* a larger page cache while writing: the fid index takes random inserts */
    int old_cache = pragma_int(st->db, "PRAGMA cache_size");
    if (mode == LB_INGEST_REPLACE)
        set_cache_size(st->db, -INGEST_CACHE_KIB);
    /* checkpoints run in the background after the commit (see below) */
    int old_autocheckpoint = pragma_int(st->db, "PRAGMA wal_autocheckpoint");
    sqlite3_wal_autocheckpoint(st->db, 0);
    lb_store__bulk bulk = {0};

    lb_status rc = resolve_crs(&in, err);
    if (rc == LB_OK)
        rc = bind_mapping(&in, err);
    if (rc == LB_OK)
        rc = run(&in, &bulk, err);
    if (in.ins)
        sqlite3_finalize(in.ins);
    if (in.rej)
        sqlite3_finalize(in.rej);
    if (in.find)
        sqlite3_finalize(in.find);
    if (in.del_row)
        sqlite3_finalize(in.del_row);
    if (in.fid_used)
        sqlite3_finalize(in.fid_used);
    in.ins = in.rej = in.find = in.del_row = in.fid_used = NULL;
    double t = lb_now();
    double cpu = thread_cpu();
    /* a push logs inside its transaction: one commit (one fsync) per push */
    bool logged = rc == LB_OK && mode == LB_INGEST_UPSERT;
    if (logged) {
        stats->seconds = lb_now() - t0;
        log_ingest(st, src, stats, LB_OK, err);
    }
    if (rc == LB_OK)
        rc = lb_store__commit(st, err);
    trace(&in, "commit %.2f s (CPU %.2f s)", lb_now() - t, thread_cpu() - cpu);
    if (rc != LB_OK) {
        lb_store__rollback(st); /* also brings back any trigger dropped */
        stats->stored = stats->repaired = 0;
        stats->revision = 0;
        if (res) {
            res->revision = 0;
            lb_changes_free(res->changes, res->nchanges);
            res->changes = NULL;
            res->nchanges = 0;
            res->stored = res->deleted = 0;
        }
    } else if (res) {
        res->stored = (size_t)stats->stored;
    }
    lb_store__bulk_free(&bulk);
    stats->seconds = lb_now() - t0;
    if (!logged || rc != LB_OK)
        log_ingest(st, src, stats, rc, err);
    if (old_cache)
        set_cache_size(st->db, old_cache);
    sqlite3_wal_autocheckpoint(st->db, old_autocheckpoint);
    /* copy what was committed into the database file while the caller goes
     * on (with the next source); a push checkpoints with the WAL's own
     * threshold (the connection's wal_autocheckpoint) */
    if (mode == LB_INGEST_REPLACE)
        lb_store__checkpoint_start(st);

    if (in.ct)
        OCTDestroyCoordinateTransformation(in.ct);
    if (in.src_srs)
        OSRDestroySpatialReference(in.src_srs);
    if (in.dst_srs)
        OSRDestroySpatialReference(in.dst_srs);
    free(in.skip);
    return rc;
}

lb_status lb_ingest_source(lb_store *st, const lb_config *cfg, const lb_source_cfg *src,
                           const lb_ingest_opts *opts, lb_ingest_stats *stats, lb_error *err)
{
    ingest in = {.st = st, .cfg = cfg, .src = src, .opts = opts, .stats = stats};
    memset(stats, 0, sizeof *stats);
    if (!src->path) /* a drop folder: lb_source_refresh picks the file */
        return lb_fail(err, LB_EINVAL, "source '%s' reads the drop folder %s: ingest it with"
                       " lb_source_refresh", src->id, src->watch ? src->watch : "?");
    const char *tr = getenv("LAGEBILD_INGEST_TRACE");
    in.trace = tr && *tr && strcmp(tr, "0") != 0;
    double t0 = lb_now();
    lb_error local;
    if (!err)
        err = &local;
    lb_error_clear(err);
    double cpu = thread_cpu();
    lb_status rc = open_source(&in, err);
    trace(&in, "open %.2f s (CPU %.2f s)", lb_now() - t0, thread_cpu() - cpu);
    stats->seconds = lb_now() - t0;
    if (rc == LB_OK) {
        rc = lb_ingest__layer(st, cfg, src, in.lyr, NULL, LB_INGEST_REPLACE, NULL, opts, stats,
                              NULL, err);
    } else {
        log_ingest(st, src, stats, rc, err);
    }
    if (in.ds)
        GDALClose(in.ds);
    return rc;
}

void lb_push_result_free(lb_push_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nrejects; i++) {
        free(r->rejects[i].source_fid);
        free(r->rejects[i].reason);
    }
    free(r->rejects);
    lb_changes_free(r->changes, r->nchanges);
    memset(r, 0, sizeof *r);
}

/*
 * Whether the top-level JSON object has a "crs" member.  Only a key scan at
 * depth 1 (strings skipped with their escapes); the body itself is read by
 * OGR.
 */
static bool json_has_top_crs(const char *s, size_t n)
{
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '"') {
            size_t start = i + 1;
            for (i = start; i < n && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
            if (i >= n)
                return false;
            if (depth == 1 && i - start == 3 && memcmp(s + start, "crs", 3) == 0) {
                size_t k = i + 1;
                while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n'))
                    k++;
                if (k < n && s[k] == ':')
                    return true;
            }
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return false;
}

lb_status lb_ingest_push(lb_store *st, const lb_config *cfg, const lb_source_cfg *src,
                         const char *writer, const char *body, size_t len, const char *crs,
                         lb_push_result *res, lb_error *err)
{
    static atomic_ulong seq;
    memset(res, 0, sizeof *res);
    lb_error local;
    if (!err)
        err = &local;
    lb_error_clear(err);
    if (!writer || !*writer)
        return lb_fail(err, LB_EINVAL, "a push needs the name of its writer");
    if (src->mgrs_attr)
        return lb_fail(err, LB_EFORMAT, "source '%s' takes MGRS positions from files; it cannot "
                       "be pushed to", src->id);
    if (!src->fid_attr)
        return lb_fail(err, LB_EMAPPING, "source '%s' has no fid: attribute; pushes need the "
                       "source's own stable feature ids", src->id);
    char name[96];
    snprintf(name, sizeof name, "/vsimem/lagebild_push_%lu.geojson",
             (unsigned long)atomic_fetch_add(&seq, 1));
    /* the body is read in place (no copy) */
    VSILFILE *f = VSIFileFromMemBuffer(name, (GByte *)(uintptr_t)body, (vsi_l_offset)len, FALSE);
    if (!f)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    VSIFCloseL(f);
    const char *drivers[] = {"GeoJSON", NULL};
    lb_gdal_errors ge;
    lb_gdal__errors_push(&ge);
    GDALDatasetH ds = GDALOpenEx(name, GDAL_OF_VECTOR | GDAL_OF_READONLY, drivers, NULL, NULL);
    lb_gdal__errors_pop();
    lb_status rc = LB_OK;
    OGRLayerH lyr = NULL;
    if (!ds || GDALDatasetGetLayerCount(ds) != 1 || !(lyr = GDALDatasetGetLayer(ds, 0)))
        rc = lb_fail(err, LB_EFORMAT, "the body is not a GeoJSON FeatureCollection%s%s",
                     ge.first[0] ? ": " : "", ge.first);
    /* the request's CRS (parameter, else the body's "crs" member), else the
     * source's crs:, else RFC 7946's WGS 84 (what OGR reports then) */
    const char *override = crs;
    if (rc == LB_OK && !override && !json_has_top_crs(body, len) && src->crs)
        override = src->crs;
    lb_ingest_stats stats = {0};
    if (rc == LB_OK)
        rc = lb_ingest__layer(st, cfg, src, lyr, override, LB_INGEST_UPSERT, writer, NULL, &stats,
                              res, err);
    if (ds)
        GDALClose(ds);
    VSIUnlink(name);
    return rc;
}

lb_status lb_ingest_delete(lb_store *st, const lb_config *cfg, const lb_source_cfg *src,
                           const char *writer, const char *sfid, lb_push_result *res,
                           lb_error *err)
{
    memset(res, 0, sizeof *res);
    lb_error local;
    if (!err)
        err = &local;
    lb_error_clear(err);
    if (!writer || !*writer)
        return lb_fail(err, LB_EINVAL, "a delete needs the name of its writer");
    lb_status rc = lb_store__begin(st, err);
    if (rc != LB_OK)
        return rc;
    /* only the writer's own feature: another writer's or a file's of the
     * same id is as absent as one that does not exist */
    char *find = sqlite3_mprintf("SELECT pk, fid, label_level, releasable_to, caveats, geom"
                                 " FROM \"%w\" WHERE source = ? AND writer = ?"
                                 " AND source_fid = ?",
                                 src->layer);
    char *del = sqlite3_mprintf("DELETE FROM \"%w\" WHERE pk = ?", src->layer);
    sqlite3_stmt *q = NULL, *d = NULL;
    if (!find || !del) {
        rc = lb_fail(err, LB_ENOMEM, "out of memory");
    } else if (sqlite3_prepare_v2(st->db, find, -1, &q, NULL) != SQLITE_OK) {
        /* no table yet: the layer was never written, so there is no such feature */
        rc = lb_fail(err, LB_ENOENT, "source '%s' has no feature '%s'", src->id, sfid);
    } else {
        sqlite3_bind_text(q, 1, src->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, writer, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, sfid, -1, SQLITE_STATIC);
        int r = sqlite3_step(q);
        lb_change c = {0};
        if (r == SQLITE_DONE) {
            rc = lb_fail(err, LB_ENOENT, "source '%s' has no feature '%s'", src->id, sfid);
        } else if (r != SQLITE_ROW) {
            rc = lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
        } else {
            int64_t pk = sqlite3_column_int64(q, 0);
            c.fid = sqlite3_column_int64(q, 1);
            c.has_old = true;
            stored_label(cfg, sqlite3_column_int(q, 2), (const char *)sqlite3_column_text(q, 3),
                         (const char *)sqlite3_column_text(q, 4), &c.old_label);
            const unsigned char *blob = sqlite3_column_blob(q, 5);
            size_t blob_len = (size_t)sqlite3_column_bytes(q, 5), used = 0;
            if (!blob_mbr(blob, blob_len, c.old_box))
                c.old_box[0] = c.old_box[1] = -180, c.old_box[2] = c.old_box[3] = 180;
            keep_wkb(&used, blob, blob_len, &c.old_wkb, &c.old_wkb_len);
            sqlite3_reset(q);
            if (sqlite3_prepare_v2(st->db, del, -1, &d, NULL) != SQLITE_OK)
                rc = lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
            if (rc == LB_OK) {
                sqlite3_bind_int64(d, 1, pk);
                if (sqlite3_step(d) != SQLITE_DONE)
                    rc = lb_fail(err, LB_ESTORE, "store %s: %s", st->path,
                                 sqlite3_errmsg(st->db));
            }
            if (rc == LB_OK)
                rc = lb_store__bump_revision(st, src->layer, &res->revision, err);
            char *upd = sqlite3_mprintf("UPDATE lb_sources SET features = features - 1,"
                                        " revision = %lld WHERE source = %Q",
                                        (long long)res->revision, src->id);
            if (rc == LB_OK)
                rc = upd ? lb_store__exec(st, upd, err) : lb_fail(err, LB_ENOMEM, "out of memory");
            sqlite3_free(upd);
            if (rc == LB_OK) {
                res->changes = malloc(sizeof *res->changes);
                if (!res->changes)
                    rc = lb_fail(err, LB_ENOMEM, "out of memory");
                else {
                    res->changes[0] = c;
                    c.old_wkb = NULL; /* res owns it now */
                    res->nchanges = 1;
                    res->deleted = 1;
                }
            }
            free(c.old_wkb);
        }
    }
    sqlite3_finalize(q);
    sqlite3_finalize(d);
    sqlite3_free(find);
    sqlite3_free(del);
    /* a withdrawn report un-merges: re-conflate its neighbourhood in the same
     * transaction (nothing happens for a layer without conflate:) */
    if (rc == LB_OK && res->nchanges == 1 && res->changes[0].has_old) {
        const double *ob = res->changes[0].old_box;
        lb_bbox box = {ob[0], ob[1], ob[2], ob[3]};
        rc = lb_conflate_region(st, cfg, src->layer, &box, 1, err);
    }
    if (rc == LB_OK)
        rc = lb_store__commit(st, err);
    if (rc != LB_OK) {
        lb_store__rollback(st);
        lb_push_result_free(res);
    }
    return rc;
}
