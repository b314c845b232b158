/*
 * This file implements CRS handling for fusion: building spatial references
 * from config text, describing them, their plausible lon/lat box, and the
 * public point transformation used by tests and benchmarks.
 *
 * Every spatial reference created here uses OAMS_TRADITIONAL_GIS_ORDER, so x
 * is always easting/longitude, whatever the EPSG axis order says (EPSG:31467
 * is northing,easting and EPSG:4326 latitude,longitude by definition).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>

#include "fusion_int.h"

/* Margin around a CRS's area of use, in degrees (docs/decisions.md). */
#define LB_CRS_MARGIN_DEG 3.5

lb_status lb_crs__from_user(const char *text, OGRSpatialReferenceH *out, lb_error *err)
{
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    if (!srs)
        return lb_fail(err, LB_ENOMEM, "out of memory creating a spatial reference");
    CPLErrorReset();
    CPLPushErrorHandler(CPLQuietErrorHandler);
    OGRErr e = OSRSetFromUserInput(srs, text);
    CPLPopErrorHandler();
    if (e != OGRERR_NONE) {
        OSRDestroySpatialReference(srs);
        return lb_fail(err, LB_ECRS, "unknown CRS '%s'%s%s", text,
                       CPLGetLastErrorMsg()[0] ? ": " : "", CPLGetLastErrorMsg());
    }
    OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
    *out = srs;
    return LB_OK;
}

void lb_crs__describe(OGRSpatialReferenceH srs, char *buf, size_t n)
{
    const char *auth = OSRGetAuthorityName(srs, NULL);
    const char *code = OSRGetAuthorityCode(srs, NULL);
    if (!auth || !code) {
        /* ESRI .prj files often carry no code: ask PROJ for the best match */
        OGRSpatialReferenceH tmp = OSRClone(srs);
        if (tmp && OSRAutoIdentifyEPSG(tmp) == OGRERR_NONE) {
            auth = OSRGetAuthorityName(tmp, NULL);
            code = OSRGetAuthorityCode(tmp, NULL);
            if (auth && code) {
                snprintf(buf, n, "%s:%s", auth, code);
                OSRDestroySpatialReference(tmp);
                return;
            }
        }
        if (tmp)
            OSRDestroySpatialReference(tmp);
        const char *name = OSRGetName(srs);
        snprintf(buf, n, "%s", name ? name : "(unnamed CRS)");
        return;
    }
    snprintf(buf, n, "%s:%s", auth, code);
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

void lb_crs__plausible_box(OGRSpatialReferenceH srs, lb_crs__box *box)
{
    double w, s, e, nn;
    const char *name = NULL;
    if (OSRGetAreaOfUse(srs, &w, &s, &e, &nn, &name) && w > -1000 && e > -1000) {
        if (e < w) /* crosses the antimeridian: accept all longitudes */
            w = -180, e = 180;
        box->west = clampd(w - LB_CRS_MARGIN_DEG, -180, 180);
        box->east = clampd(e + LB_CRS_MARGIN_DEG, -180, 180);
        box->south = clampd(s - LB_CRS_MARGIN_DEG, -90, 90);
        box->north = clampd(nn + LB_CRS_MARGIN_DEG, -90, 90);
    } else {
        *box = (lb_crs__box){-180, -90, 180, 90};
    }
}

struct lb_transform {
    OGRSpatialReferenceH src, dst;
    OGRCoordinateTransformationH ct;
};

void lb_transform_free(lb_transform *t)
{
    if (!t)
        return;
    if (t->ct)
        OCTDestroyCoordinateTransformation(t->ct);
    if (t->src)
        OSRDestroySpatialReference(t->src);
    if (t->dst)
        OSRDestroySpatialReference(t->dst);
    free(t);
}

lb_status lb_transform_new(const char *src, const char *dst, lb_transform **out, lb_error *err)
{
    lb_transform *t = calloc(1, sizeof *t);
    if (!t)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    lb_status rc = lb_crs__from_user(src, &t->src, err);
    if (rc == LB_OK)
        rc = lb_crs__from_user(dst, &t->dst, err);
    if (rc == LB_OK) {
        CPLPushErrorHandler(CPLQuietErrorHandler);
        t->ct = OCTNewCoordinateTransformation(t->src, t->dst);
        CPLPopErrorHandler();
        if (!t->ct)
            rc = lb_fail(err, LB_ECRS, "no transformation from %s to %s: %s", src, dst,
                         CPLGetLastErrorMsg());
    }
    if (rc != LB_OK) {
        lb_transform_free(t);
        return rc;
    }
    *out = t;
    return LB_OK;
}

lb_status lb_transform_points(lb_transform *t, size_t n, double *x, double *y, lb_error *err)
{
    if (n > (size_t)INT32_MAX)
        return lb_fail(err, LB_EINVAL, "too many points");
    int *ok = calloc(n ? n : 1, sizeof *ok);
    if (!ok)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    int all = OCTTransformEx(t->ct, (int)n, x, y, NULL, ok);
    lb_status rc = LB_OK;
    for (size_t i = 0; i < n && rc == LB_OK; i++)
        if (!ok[i] || !isfinite(x[i]) || !isfinite(y[i]))
            rc = lb_fail(err, LB_ECRS, "point %zu cannot be transformed", i);
    if (!all && rc == LB_OK)
        rc = lb_fail(err, LB_ECRS, "transformation failed");
    free(ok);
    return rc;
}
