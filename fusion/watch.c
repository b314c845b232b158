/*
 * This file implements sources whose content changes: drop folders (watch:)
 * and sources re-read periodically (refresh:), each re-ingested only when its
 * content changed.
 *
 * Content and its hash (SHA-256, "sha256:<hex>", kept in
 * lb_sources.content_hash by the ingest that stored it, in its transaction):
 *   watch: DIR      the newest complete file in DIR (see newest_file): the
 *                   bytes of that file (a Shapefile with its .dbf/.shx/.prj/.cpg)
 *   path: http(s):// the bytes fetched; they are ingested from /vsimem/, so
 *                   what is stored is exactly what was hashed
 *   path: FILE      the bytes of the file (Shapefile: with its sidecars)
 *   path: other GDAL connection strings (WFS:, OAPIF:, /vsi...): the features
 *                   as OGR reads them (ids, field values, geometry WKB)
 *
 * A failed ingest (e.g. a broken file) changes nothing in the store and is
 * reported; lb_watch_poll does not retry the same content until it changes.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cpl_http.h>
#include <cpl_vsi.h>
#include <openssl/evp.h>

#include "fusion_int.h"
#include "lagebild/util.h"

#define LB_WATCH_DEFAULT_POLL 2.0

/* ---- hashing ---------------------------------------------------------- */

typedef struct hasher {
    EVP_MD_CTX *ctx;
} hasher;

static bool hash_begin(hasher *h)
{
    h->ctx = EVP_MD_CTX_new();
    return h->ctx && EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) == 1;
}

static void hash_add(hasher *h, const void *p, size_t n)
{
    if (n)
        EVP_DigestUpdate(h->ctx, p, n);
}

/* "sha256:<64 hex>" into out (at least 72 bytes); frees the context. */
static void hash_end(hasher *h, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(h->ctx, md, &n);
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
    strcpy(out, "sha256:");
    for (unsigned i = 0; i < n && i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

static void hash_abort(hasher *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && lb_strcasecmp(s + n - m, suffix) == 0;
}

/* Add the bytes of one file; false (errno set) when it cannot be read. */
static bool hash_file(hasher *h, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        hash_add(h, buf, n);
    bool ok = !ferror(f);
    int e = errno;
    fclose(f);
    errno = e;
    return ok;
}

/* A file's bytes; a Shapefile's sidecars too (each with its name). */
static lb_status hash_local(const lb_source_cfg *src, const char *path, char *out, lb_error *err)
{
    hasher h;
    if (!hash_begin(&h)) {
        hash_abort(&h);
        return lb_fail(err, LB_ENOMEM, "out of memory");
    }
    if (!hash_file(&h, path)) {
        lb_status rc = lb_fail(err, errno == ENOENT ? LB_ENOENT : LB_EIO,
                               "source '%s': cannot read %s: %s", src->id, path, strerror(errno));
        hash_abort(&h);
        return rc;
    }
    if (ends_with(path, ".shp")) {
        static const char *const side[] = {".dbf", ".shx", ".prj", ".cpg"};
        size_t n = strlen(path) - 4;
        for (size_t i = 0; i < sizeof side / sizeof side[0]; i++) {
            char *p = malloc(n + 5);
            if (!p)
                continue;
            memcpy(p, path, n);
            strcpy(p + n, side[i]);
            hash_add(&h, side[i], 4);
            hash_file(&h, p); /* a missing sidecar hashes as absent */
            free(p);
        }
    }
    hash_end(&h, out);
    return LB_OK;
}

/* The features as OGR reads them (for connection strings such as WFS:). */
static lb_status hash_features(const lb_source_cfg *src, char *out, lb_error *err)
{
    /* /vsicurl/ keeps what it read for the life of the process: a re-read
     * must see what the service holds now (and the ingest after it too) */
    if (strncmp(src->path, "/vsicurl", 8) == 0)
        VSICurlPartialClearCache(src->path);
    const char *drivers[2] = {src->driver, NULL};
    lb_gdal_errors ge;
    lb_gdal__errors_push(&ge);
    GDALDatasetH ds = GDALOpenEx(src->path, GDAL_OF_VECTOR | GDAL_OF_READONLY,
                                 src->driver ? drivers : NULL,
                                 (const char *const *)src->open_options, NULL);
    lb_status rc = LB_OK;
    OGRLayerH lyr = NULL;
    if (!ds)
        rc = lb_fail(err, LB_EFORMAT, "source '%s': %s is not a readable vector dataset%s%s",
                     src->id, src->path, ge.first[0] ? ": " : "", ge.first);
    else if (src->ogr_layer)
        lyr = GDALDatasetGetLayerByName(ds, src->ogr_layer);
    else if (GDALDatasetGetLayerCount(ds) == 1)
        lyr = GDALDatasetGetLayer(ds, 0);
    if (rc == LB_OK && !lyr)
        rc = lb_fail(err, LB_EFORMAT, "source '%s': %s: no such layer (set ogr_layer)", src->id,
                     src->path);
    hasher h = {0};
    if (rc == LB_OK && !hash_begin(&h))
        rc = lb_fail(err, LB_ENOMEM, "out of memory");
    if (rc == LB_OK) {
        OGR_L_ResetReading(lyr);
        OGRFeatureH f;
        unsigned char *wkb = NULL;
        size_t wcap = 0;
        while ((f = OGR_L_GetNextFeature(lyr)) != NULL) {
            GIntBig id = OGR_F_GetFID(f);
            hash_add(&h, &id, sizeof id);
            int nf = OGR_F_GetFieldCount(f);
            for (int i = 0; i < nf; i++) {
                bool set = OGR_F_IsFieldSetAndNotNull(f, i);
                hash_add(&h, set ? "\1" : "\0", 1);
                if (set) {
                    const char *v = OGR_F_GetFieldAsString(f, i);
                    hash_add(&h, v, strlen(v) + 1);
                }
            }
            OGRGeometryH g = OGR_F_GetGeometryRef(f);
            size_t n = g ? (size_t)OGR_G_WkbSize(g) : 0;
            if (n > wcap) {
                unsigned char *nw = realloc(wkb, n);
                if (nw) {
                    wkb = nw;
                    wcap = n;
                }
            }
            if (g && n <= wcap && OGR_G_ExportToWkb(g, wkbNDR, wkb) == OGRERR_NONE)
                hash_add(&h, wkb, n);
            hash_add(&h, "\n", 1);
            OGR_F_Destroy(f);
        }
        free(wkb);
        if (ge.failures)
            rc = lb_fail(err, LB_EFORMAT, "source '%s': reading %s failed: %s", src->id,
                         src->path, ge.first);
    }
    lb_gdal__errors_pop();
    if (rc == LB_OK)
        hash_end(&h, out);
    else
        hash_abort(&h);
    if (ds)
        GDALClose(ds);
    return rc;
}

/* ---- drop folders ----------------------------------------------------- */

/*
 * Whether a name in a drop folder can be a source's content: not hidden,
 * not a temporary file of a writer, not a sidecar of another file.
 */
static bool candidate_name(const char *name)
{
    static const char *const skip[] = {
        ".tmp", ".part", ".partial", ".crdownload", ".swp", ".lock", ".dbf", ".shx",
        ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xsd", ".gfs", ".aux.xml", "~",
    };
    if (name[0] == '.' || name[0] == '~')
        return false;
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (ends_with(name, skip[i]))
            return false;
    return true;
}

/*
 * The newest complete file of a drop folder: a regular file with a
 * candidate name, not modified for settle_s seconds (a writer still
 * appending keeps changing its mtime; a rename into the folder is complete
 * at once).  Newest by mtime, then by name.  *path is malloc'ed, NULL when
 * there is none.
 */
static lb_status newest_file(const lb_source_cfg *src, char **path, lb_error *err)
{
    *path = NULL;
    DIR *d = opendir(src->watch);
    if (!d)
        return lb_fail(err, errno == ENOENT ? LB_ENOENT : LB_EIO,
                       "source '%s': cannot read drop folder %s: %s", src->id, src->watch,
                       strerror(errno));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double tnow = (double)now.tv_sec + now.tv_nsec * 1e-9;
    double best_t = -INFINITY;
    char *best = NULL;
    struct dirent *e;
    lb_status rc = LB_OK;
    while ((e = readdir(d)) != NULL) {
        if (!candidate_name(e->d_name))
            continue;
        lb_buf p = {0};
        lb_buf_printf(&p, "%s/%s", src->watch, e->d_name);
        struct stat sb;
        if (p.oom) {
            lb_buf_free(&p);
            rc = lb_fail(err, LB_ENOMEM, "out of memory");
            break;
        }
        if (stat(p.data, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            lb_buf_free(&p);
            continue;
        }
        double t = (double)sb.st_mtim.tv_sec + sb.st_mtim.tv_nsec * 1e-9;
        if (tnow - t < src->settle_s) {
            lb_buf_free(&p);
            continue;
        }
        if (t > best_t || (t == best_t && best && strcmp(p.data, best) > 0)) {
            free(best);
            best = lb_buf_take(&p);
            best_t = t;
        }
        lb_buf_free(&p);
    }
    closedir(d);
    if (rc != LB_OK) {
        free(best);
        return rc;
    }
    *path = best;
    return LB_OK;
}

/* ---- one source ------------------------------------------------------- */

static bool is_http(const char *p)
{
    return strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0;
}

static bool is_local_path(const char *p)
{
    return !strstr(p, "://") && !strchr(p, ':') && strncmp(p, "/vsi", 4) != 0;
}

static lb_status stored_hash(lb_store *st, const char *source, char *out, size_t n)
{
    sqlite3_stmt *q = NULL;
    out[0] = '\0';
    if (sqlite3_prepare_v2(st->db, "SELECT content_hash FROM lb_sources WHERE source=?", -1, &q,
                           NULL) != SQLITE_OK)
        return LB_ESTORE;
    sqlite3_bind_text(q, 1, source, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) == SQLITE_TEXT)
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    return LB_OK;
}

static lb_status refresh(lb_store *st, const lb_config *cfg, const lb_source_cfg *src, bool force,
                         const char *skip_hash, const lb_ingest_opts *opts, lb_refresh *out,
                         lb_error *err)
{
    lb_status rc = LB_OK;
    char *file = NULL;
    CPLHTTPResult *http = NULL;
    char vsimem[160] = "";
    lb_source_cfg copy = *src;
    lb_ingest_opts io = opts ? *opts : (lb_ingest_opts){0};

    if (src->watch) {
        rc = newest_file(src, &file, err);
        if (rc == LB_OK && !file) {
            out->outcome = LB_REFRESH_NO_CONTENT;
            return LB_OK;
        }
        if (rc == LB_OK) {
            snprintf(out->content, sizeof out->content, "%s", file);
            rc = hash_local(src, file, out->hash, err);
        }
        copy.path = file;
    } else if (is_http(src->path)) {
        snprintf(out->content, sizeof out->content, "%s", src->path);
        char *fetch_opts[] = {"TIMEOUT=60", "MAX_RETRY=1", NULL};
        lb_gdal_errors ge;
        lb_gdal__errors_push(&ge);
        http = CPLHTTPFetch(src->path, fetch_opts);
        lb_gdal__errors_pop();
        if (!http || http->nStatus != 0 || (http->pszErrBuf && http->pszErrBuf[0]))
            rc = lb_fail(err, LB_EIO, "source '%s': cannot fetch %s: %s", src->id, src->path,
                         http && http->pszErrBuf && http->pszErrBuf[0] ? http->pszErrBuf
                         : ge.first[0]                                 ? ge.first
                                                                       : "no answer");
        if (rc == LB_OK) {
            hasher h;
            if (!hash_begin(&h)) {
                hash_abort(&h);
                rc = lb_fail(err, LB_ENOMEM, "out of memory");
            } else {
                hash_add(&h, http->pabyData, (size_t)http->nDataLen);
                hash_end(&h, out->hash);
            }
        }
        /* ingest exactly the bytes hashed: a copy in GDAL's memory files,
         * named after the URL's last path segment (drivers look at it) */
        const char *q = strchr(src->path + 8, '?');
        size_t end = q ? (size_t)(q - src->path) : strlen(src->path);
        size_t start = end;
        while (start > 0 && src->path[start - 1] != '/')
            start--;
        int len = (int)(end - start);
        if (len <= 0 || len > 80)
            snprintf(vsimem, sizeof vsimem, "/vsimem/lagebild/%s/data", src->id);
        else
            snprintf(vsimem, sizeof vsimem, "/vsimem/lagebild/%s/%.*s", src->id, len,
                     src->path + start);
        copy.path = vsimem;
        io.origin = src->path;
    } else if (is_local_path(src->path)) {
        snprintf(out->content, sizeof out->content, "%s", src->path);
        rc = hash_local(src, src->path, out->hash, err);
    } else {
        snprintf(out->content, sizeof out->content, "%s", src->path);
        rc = hash_features(src, out->hash, err);
    }

    if (rc == LB_OK && !force) {
        char old[80];
        stored_hash(st, src->id, old, sizeof old);
        if (strcmp(old, out->hash) == 0 || (skip_hash && strcmp(skip_hash, out->hash) == 0)) {
            out->outcome = LB_REFRESH_UNCHANGED;
            goto done;
        }
    }
    if (rc == LB_OK) {
        if (http) {
            VSILFILE *vf = VSIFileFromMemBuffer(vsimem, http->pabyData,
                                                (vsi_l_offset)http->nDataLen, FALSE);
            if (!vf)
                rc = lb_fail(err, LB_ENOMEM, "source '%s': cannot buffer %s", src->id,
                             src->path);
            else
                VSIFCloseL(vf);
        }
    }
    if (rc == LB_OK) {
        io.content_hash = out->hash;
        rc = lb_ingest_source(st, cfg, &copy, &io, &out->stats, err);
        if (http)
            VSIUnlink(vsimem);
        out->outcome = rc == LB_OK ? LB_REFRESH_INGESTED : LB_REFRESH_FAILED;
    } else {
        out->outcome = LB_REFRESH_FAILED;
    }
done:
    if (http)
        CPLHTTPDestroyResult(http);
    free(file);
    return rc;
}

lb_status lb_source_refresh(lb_store *st, const lb_config *cfg, const lb_source_cfg *src,
                            bool force, const lb_ingest_opts *opts, lb_refresh *out,
                            lb_error *err)
{
    memset(out, 0, sizeof *out);
    lb_error local;
    if (!err)
        err = &local;
    lb_error_clear(err);
    return refresh(st, cfg, src, force, NULL, opts, out, err);
}

/* ---- the poller ------------------------------------------------------- */

typedef struct watched {
    const lb_source_cfg *src;
    double interval, due;
    char failed[80]; /* hash of content whose ingest failed (not retried) */
} watched;

struct lb_watch {
    const lb_config *cfg;
    watched *v;
    size_t n;
};

lb_status lb_watch_new(const lb_config *cfg, lb_watch **out, lb_error *err)
{
    *out = NULL;
    lb_watch *w = calloc(1, sizeof *w);
    if (!w || !(w->v = calloc(cfg->nsources ? cfg->nsources : 1, sizeof *w->v))) {
        free(w);
        return lb_fail(err, LB_ENOMEM, "out of memory");
    }
    w->cfg = cfg;
    for (size_t i = 0; i < cfg->nsources; i++) {
        const lb_source_cfg *s = &cfg->sources[i];
        double iv = s->refresh_s > 0 ? s->refresh_s : s->watch ? LB_WATCH_DEFAULT_POLL : 0;
        if (iv > 0)
            w->v[w->n++] = (watched){.src = s, .interval = iv, .due = 0};
    }
    *out = w;
    return LB_OK;
}

void lb_watch_free(lb_watch *w)
{
    if (!w)
        return;
    free(w->v);
    free(w);
}

size_t lb_watch_count(const lb_watch *w) { return w ? w->n : 0; }

double lb_watch_next(const lb_watch *w, double now)
{
    double next = INFINITY;
    for (size_t i = 0; w && i < w->n; i++)
        next = fmin(next, w->v[i].due - now);
    return next < 0 ? 0 : next;
}

size_t lb_watch_poll(lb_watch *w, lb_store *st, double now, const lb_ingest_opts *opts,
                     lb_watch_fn fn, void *ud)
{
    size_t ingested = 0;
    for (size_t i = 0; w && i < w->n; i++) {
        watched *x = &w->v[i];
        if (now < x->due)
            continue;
        x->due = now + x->interval;
        lb_refresh r;
        memset(&r, 0, sizeof r);
        lb_error err;
        lb_error_clear(&err);
        lb_status rc = refresh(st, w->cfg, x->src, false, x->failed[0] ? x->failed : NULL, opts,
                               &r, &err);
        if (rc != LB_OK) {
            /* the same content is not tried again; new content is */
            if (r.hash[0])
                snprintf(x->failed, sizeof x->failed, "%s", r.hash);
            r.outcome = LB_REFRESH_FAILED;
        } else if (r.outcome == LB_REFRESH_INGESTED) {
            x->failed[0] = '\0';
            ingested++;
        }
        if (fn)
            fn(ud, x->src, &r, rc, &err);
    }
    return ingested;
}
