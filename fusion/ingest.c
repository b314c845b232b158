/*
 * This file implements the ingest pipeline of one source:
 *
 *   open (OGR) -> pick layer -> resolve CRS -> bind attribute mapping
 *   -> per feature: geometry (or MGRS position) -> finite check -> transform
 *      to EPSG:4326 -> plausibility against the CRS's area of use
 *      -> validity (repair with MakeValid, else reject) -> common fields
 *      -> label -> remaining attributes as JSON -> INSERT
 *   -> bump layer revision -> COMMIT (all or nothing)
 *
 * Source-level problems (missing or corrupt file, unknown driver, no CRS, a
 * mapping naming a missing attribute, GDAL read errors) fail the whole source
 * and roll back.  Feature-level problems reject just that feature, with a
 * reason, counted and recorded in lb_rejects.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>

#include "fusion_int.h"
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
    lb_buf attrs;
    unsigned char *wkb;
    size_t wkb_cap;
    uint64_t out_of_area;
    long kill_after; /* fault injection: raise SIGKILL after this many inserts */
} ingest;

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
    char *sql = sqlite3_mprintf(
        "INSERT INTO \"%w\" (fid, source, source_fid, kind, name, status, observed_at,"
        " valid_from, valid_to, accuracy_m, label_level, classification, releasable_to,"
        " caveats, attrs, revision, geom) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
        " GeomFromWKB(?, 4326))",
        layer);
    if (!sql)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    int r = sqlite3_prepare_v2(in->st->db, sql, -1, &in->ins, NULL);
    sqlite3_free(sql);
    if (r == SQLITE_OK)
        r = sqlite3_prepare_v2(in->st->db,
                               "INSERT INTO lb_rejects(source, source_fid, reason) VALUES (?,?,?)",
                               -1, &in->rej, NULL);
    if (r != SQLITE_OK)
        return lb_fail(err, LB_ESTORE, "store %s: %s", in->st->path, sqlite3_errmsg(in->st->db));
    return LB_OK;
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

/*
 * Turn the feature's geometry into a checked EPSG:4326 geometry.  Returns the
 * geometry (owned by the caller) or NULL after rejecting the feature.
 */
static OGRGeometryH feature_geometry(ingest *in, OGRFeatureH f, const char *sfid, bool *repaired)
{
    OGRGeometryH g = NULL;
    *repaired = false;
    if (in->mgrs_idx >= 0) {
        const char *s = nonempty_field(f, in->mgrs_idx);
        if (!s) {
            reject(in, sfid, "no MGRS position in attribute '%s'", in->src->mgrs_attr);
            return NULL;
        }
        double lon, lat, size;
        lb_error e;
        if (lb_mgrs_to_lonlat(s, &lon, &lat, &size, &e) != LB_OK) {
            reject(in, sfid, "%s", e.msg);
            return NULL;
        }
        g = OGR_G_CreateGeometry(wkbPoint);
        OGR_G_SetPoint_2D(g, 0, lon, lat);
        return g;
    }
    OGRGeometryH fg = OGR_F_GetGeometryRef(f);
    if (!fg) {
        reject(in, sfid, "feature has no geometry");
        return NULL;
    }
    if (OGR_G_IsEmpty(fg)) {
        reject(in, sfid, "empty geometry");
        return NULL;
    }
    if (OGR_GT_IsNonLinear(OGR_G_GetGeometryType(fg)))
        g = OGR_G_GetLinearGeometry(fg, 0, NULL);
    else
        g = OGR_G_Clone(fg);
    if (!g) {
        reject(in, sfid, "geometry cannot be converted to a linear geometry");
        return NULL;
    }
    OGR_G_FlattenTo2D(g);
    if (!geom_finite(g)) {
        reject(in, sfid, "coordinate is NaN or infinite");
        goto fail;
    }
    if (in->ct) {
        lb_gdal_errors ge;
        lb_gdal__errors_push(&ge);
        OGRErr e = OGR_G_Transform(g, in->ct);
        lb_gdal__errors_pop();
        if (e != OGRERR_NONE || !geom_finite(g)) {
            in->out_of_area++;
            reject(in, sfid, "coordinates cannot be transformed from %s (outside its area of use?)",
                   in->crs_name);
            goto fail;
        }
    }
    OGREnvelope env;
    OGR_G_GetEnvelope(g, &env);
    if (env.MinX < in->box.west || env.MaxX > in->box.east || env.MinY < in->box.south ||
        env.MaxY > in->box.north) {
        in->out_of_area++;
        reject(in, sfid,
               "coordinates outside the area of use of %s (lon %.4f..%.4f, lat %.4f..%.4f)",
               in->crs_name, env.MinX, env.MaxX, env.MinY, env.MaxY);
        goto fail;
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
                reject(in, sfid, "invalid geometry (e.g. self-intersection) that cannot be repaired");
                goto fail;
            }
            OGR_G_DestroyGeometry(g);
            g = fixed;
            *repaired = true;
        }
        lb_gdal__errors_pop();
    }
    return g;
fail:
    OGR_G_DestroyGeometry(g);
    return NULL;
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

static void attrs_json(ingest *in, OGRFeatureH f)
{
    lb_buf *b = &in->attrs;
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

static bool feature_label(ingest *in, OGRFeatureH f, const char *sfid, lb_label *lab)
{
    *lab = in->src->label;
    const char *s = nonempty_field(f, in->level_idx);
    if (s && lb_level_parse(s, &lab->level) != LB_OK) {
        reject(in, sfid, "%s: '%s' is not a classification level (OFFEN, VS-NfD, "
                         "VS-VERTRAULICH, GEHEIM)", in->src->label_level_attr, s);
        return false;
    }
    char bad[128];
    if ((s = nonempty_field(f, in->groups_idx)) &&
        !parse_names(in->cfg, s, true, &lab->groups, bad, sizeof bad)) {
        reject(in, sfid, "%s: unknown group '%s'", in->src->label_groups_attr, bad);
        return false;
    }
    if ((s = nonempty_field(f, in->caveats_idx)) &&
        !parse_names(in->cfg, s, false, &lab->caveats, bad, sizeof bad)) {
        reject(in, sfid, "%s: unknown caveat '%s'", in->src->label_caveats_attr, bad);
        return false;
    }
    return true;
}

/* Bind the common fields (parameters 4..10). false after rejecting. */
static bool bind_common(ingest *in, OGRFeatureH f, const char *sfid)
{
    for (int k = 0; k < LB_FIELD_COUNT; k++) {
        int param = 4 + k;
        int idx = in->map_idx[k];
        const char *cst = in->src->set[k];
        if (idx < 0 && !cst) {
            sqlite3_bind_null(in->ins, param);
            continue;
        }
        if (idx >= 0 && !OGR_F_IsFieldSetAndNotNull(f, idx)) {
            sqlite3_bind_null(in->ins, param);
            continue;
        }
        const char *fname = idx >= 0 ? in->src->map[k] : "set";
        if (k == LB_FIELD_ACCURACY_M) {
            double v;
            if (idx >= 0) {
                OGRFieldType t = OGR_Fld_GetType(OGR_F_GetFieldDefnRef(f, idx));
                if (t == OFTReal || t == OFTInteger || t == OFTInteger64) {
                    v = OGR_F_GetFieldAsDouble(f, idx);
                } else {
                    const char *s = OGR_F_GetFieldAsString(f, idx);
                    char *end;
                    v = strtod(s, &end);
                    if (end == s || *end) {
                        reject(in, sfid, "%s: '%s' is not a number (accuracy_m)", fname, s);
                        return false;
                    }
                }
            } else {
                v = strtod(cst, NULL);
            }
            if (!isfinite(v) || v < 0) {
                reject(in, sfid, "%s: accuracy_m must be a finite number >= 0", fname);
                return false;
            }
            sqlite3_bind_double(in->ins, param, v);
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
                        reject(in, sfid, "%s: '%s' is not an ISO 8601 time (%s)", fname, t,
                               lb_field_name((lb_field)k));
                        return false;
                    }
                }
            } else {
                snprintf(t, sizeof t, "%s", cst);
            }
            sqlite3_bind_text(in->ins, param, t, -1, SQLITE_TRANSIENT);
            continue;
        }
        sqlite3_bind_text(in->ins, param, idx >= 0 ? OGR_F_GetFieldAsString(f, idx) : cst, -1,
                          SQLITE_TRANSIENT);
    }
    return true;
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

static lb_status store_feature(ingest *in, OGRFeatureH f, int64_t rev, lb_error *err)
{
    char sfid_buf[64];
    const char *sfid;
    if (in->fid_idx >= 0) {
        sfid = nonempty_field(f, in->fid_idx);
        if (!sfid) {
            reject(in, NULL, "no feature id in attribute '%s'", in->src->fid_attr);
            return LB_OK;
        }
    } else {
        snprintf(sfid_buf, sizeof sfid_buf, "%lld", (long long)OGR_F_GetFID(f));
        sfid = sfid_buf;
    }
    /* sfid points into the feature: valid until it is destroyed */
    bool repaired;
    OGRGeometryH g = feature_geometry(in, f, sfid, &repaired);
    if (!g)
        return LB_OK;
    lb_label lab;
    sqlite3_reset(in->ins);
    if (!feature_label(in, f, sfid, &lab) || !bind_common(in, f, sfid)) {
        OGR_G_DestroyGeometry(g);
        return LB_OK;
    }
    size_t wsz = (size_t)OGR_G_WkbSize(g);
    if (wsz > in->wkb_cap) {
        unsigned char *nw = realloc(in->wkb, wsz);
        if (!nw) {
            OGR_G_DestroyGeometry(g);
            return lb_fail(err, LB_ENOMEM, "out of memory");
        }
        in->wkb = nw;
        in->wkb_cap = wsz;
    }
    OGR_G_ExportToIsoWkb(g, wkbNDR, in->wkb);
    OGR_G_DestroyGeometry(g);

    char groups[1024], caveats[1024];
    lb_config_format_groups(in->cfg, lab.groups, groups, sizeof groups);
    lb_config_format_caveats(in->cfg, lab.caveats, caveats, sizeof caveats);
    attrs_json(in, f);
    if (in->attrs.oom)
        return lb_fail(err, LB_ENOMEM, "out of memory");

    sqlite3_stmt *q = in->ins;
    sqlite3_bind_int64(q, 1, stable_fid(in->src->id, sfid));
    sqlite3_bind_text(q, 2, in->src->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, sfid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 11, (int)lab.level);
    sqlite3_bind_text(q, 12, lb_level_name(lab.level), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 13, groups, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 14, caveats, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 15, in->attrs.data, (int)in->attrs.len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 16, rev);
    sqlite3_bind_blob(q, 17, in->wkb, (int)wsz, SQLITE_STATIC);
    int r = sqlite3_step(q);
    if (r == SQLITE_CONSTRAINT) {
        reject(in, sfid, "duplicate feature id '%s' in source", sfid);
        return LB_OK;
    }
    if (r != SQLITE_DONE)
        return lb_fail(err, LB_ESTORE, "store %s: insert into %s failed: %s", in->st->path,
                       in->src->layer, sqlite3_errmsg(in->st->db));
    in->stats->stored++;
    if (repaired)
        in->stats->repaired++;
    if (in->kill_after > 0 && (long)in->stats->stored >= in->kill_after)
        raise(SIGKILL); /* fault injection for crash tests (LAGEBILD_FAULT_KILL_AFTER) */
    return LB_OK;
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

static lb_status run(ingest *in, lb_error *err)
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
        rc = lb_store__delete_source(st, old_layer, src->id, err);
        if (rc == LB_OK)
            rc = lb_store__bump_layer(st, old_layer, &old_rev, err);
    }
    free(old_layer);
    if (rc == LB_OK)
        rc = lb_store__delete_source(st, src->layer, src->id, err);
    if (rc == LB_OK)
        rc = lb_store__bump_layer(st, src->layer, &rev, err);
    if (rc == LB_OK)
        rc = prepare(in, err);
    char *del = sqlite3_mprintf("DELETE FROM lb_rejects WHERE source=%Q", src->id);
    if (rc == LB_OK)
        rc = del ? lb_store__exec(st, del, err) : lb_fail(err, LB_ENOMEM, "out of memory");
    sqlite3_free(del);
    if (rc != LB_OK)
        return rc;
    in->stats->revision = rev;

    GIntBig total = OGR_L_GetFeatureCount(in->lyr, FALSE);
    double t0 = lb_now(), last = t0;
    lb_gdal_errors ge;
    lb_gdal__errors_push(&ge);
    OGR_L_ResetReading(in->lyr);
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(in->lyr)) != NULL) {
        in->stats->read++;
        rc = store_feature(in, f, rev, err);
        OGR_F_Destroy(f);
        if (rc != LB_OK)
            break;
        if ((in->stats->read & 1023) == 0)
            progress(in, t0, &last, total, false);
        if (ge.failures)
            break;
    }
    lb_gdal__errors_pop();
    if (rc == LB_OK && ge.failures)
        rc = lb_fail(err, LB_EFORMAT, "source '%s': %s is corrupt or truncated: %s", src->id,
                     src->path, ge.first);
    if (rc == LB_OK && in->stats->read > 0 && in->out_of_area == in->stats->read)
        rc = lb_fail(err, LB_ECRS,
                     "source '%s': all %llu features lie outside the area of use of %s "
                     "- wrong CRS? (set crs: and force_crs: true)",
                     src->id, (unsigned long long)in->stats->read, in->crs_name);
    if (rc == LB_OK) {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db,
                               "INSERT OR REPLACE INTO lb_sources(source, layer, agency, path,"
                               " revision, features, rejected, ingested_at) VALUES"
                               " (?,?,?,?,?,?,?, strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
                               -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, src->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 2, src->layer, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 3, src->agency, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 4, src->path, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 5, rev);
            sqlite3_bind_int64(q, 6, (sqlite3_int64)in->stats->stored);
            sqlite3_bind_int64(q, 7, (sqlite3_int64)in->stats->rejected);
            if (sqlite3_step(q) != SQLITE_DONE)
                rc = lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
        } else {
            rc = lb_fail(err, LB_ESTORE, "store %s: %s", st->path, sqlite3_errmsg(st->db));
        }
        sqlite3_finalize(q);
    }
    progress(in, t0, &last, total, true);
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

lb_status lb_ingest_source(lb_store *st, const lb_config *cfg, const lb_source_cfg *src,
                           const lb_ingest_opts *opts, lb_ingest_stats *stats, lb_error *err)
{
    ingest in = {.st = st, .cfg = cfg, .src = src, .opts = opts, .stats = stats};
    memset(stats, 0, sizeof *stats);
    const char *ka = getenv("LAGEBILD_FAULT_KILL_AFTER");
    in.kill_after = ka ? strtol(ka, NULL, 10) : 0;
    double t0 = lb_now();
    lb_error local;
    if (!err)
        err = &local;
    lb_error_clear(err);

    lb_status rc = open_source(&in, err);
    if (rc == LB_OK)
        rc = resolve_crs(&in, err);
    if (rc == LB_OK)
        rc = bind_mapping(&in, err);
    if (rc == LB_OK)
        rc = run(&in, err);
    if (in.ins)
        sqlite3_finalize(in.ins);
    if (in.rej)
        sqlite3_finalize(in.rej);
    in.ins = in.rej = NULL;
    if (rc == LB_OK)
        rc = lb_store__commit(st, err);
    if (rc != LB_OK) {
        lb_store__rollback(st);
        stats->stored = stats->repaired = 0;
        stats->revision = 0;
    }
    stats->seconds = lb_now() - t0;
    log_ingest(st, src, stats, rc, err);

    if (in.ct)
        OCTDestroyCoordinateTransformation(in.ct);
    if (in.src_srs)
        OSRDestroySpatialReference(in.src_srs);
    if (in.dst_srs)
        OSRDestroySpatialReference(in.dst_srs);
    if (in.ds)
        GDALClose(in.ds);
    free(in.skip);
    free(in.wkb);
    lb_buf_free(&in.attrs);
    return rc;
}
