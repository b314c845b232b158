/*
 * This file implements the tile matrix sets.  They are data: one row per set
 * (origin, tile size, level-0 scale denominator and matrix, zoom range); every
 * level is derived as a quad tree.  Adding a set is adding a row.
 *
 * Facts used: OGC TMS 2.0 WebMercatorQuad (scale denominator of level 0
 * 559082264.0287178, origin -20037508.3427892 / 20037508.3427892) and the AdV
 * grid for EPSG:25832 used by German authorities' WMTS (origin -46133.17 /
 * 6301219.54, level 0 scale denominator 17471320.75089746, 1x1 matrix).
 */
#include <math.h>
#include <string.h>

#include "lagebild/tiler.h"
#include "lagebild/util.h"

/* OGC standardised rendering pixel size: 0.28 mm */
#define LB_PIXEL_M 0.00028

static const lb_tms grids[] = {
    {
        .id = "WebMercatorQuad",
        .crs = "EPSG:3857",
        .crs_urn = "urn:ogc:def:crs:EPSG::3857",
        .origin_x = -20037508.3427892,
        .origin_y = 20037508.3427892,
        .tile_size = 256,
        .scale0 = 559082264.0287178,
        .w0 = 1,
        .h0 = 1,
        .min_zoom = 0,
        .max_zoom = 22,
    },
    {
        .id = "DE_EPSG_25832_ADV",
        .crs = "EPSG:25832",
        .crs_urn = "urn:ogc:def:crs:EPSG::25832",
        .origin_x = -46133.17,
        .origin_y = 6301219.54,
        .tile_size = 256,
        .scale0 = 17471320.75089746,
        .w0 = 1,
        .h0 = 1,
        .min_zoom = 0,
        .max_zoom = 17,
    },
};

const lb_tms *lb_tms_all(size_t *n)
{
    *n = sizeof grids / sizeof grids[0];
    return grids;
}

const lb_tms *lb_tms_find(const char *id)
{
    static const struct {
        const char *alias;
        size_t idx;
    } aliases[] = {
        {"3857", 0}, {"EPSG:3857", 0}, {"webmercator", 0}, {"GoogleMapsCompatible", 0},
        {"25832", 1}, {"EPSG:25832", 1}, {"adv", 1}, {"DE_EPSG_25832", 1},
    };
    if (!id)
        return NULL;
    for (size_t i = 0; i < sizeof grids / sizeof grids[0]; i++)
        if (lb_strcasecmp(id, grids[i].id) == 0)
            return &grids[i];
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (lb_strcasecmp(id, aliases[i].alias) == 0)
            return &grids[aliases[i].idx];
    return NULL;
}

double lb_tms_resolution(const lb_tms *t, int z)
{
    return t->scale0 * LB_PIXEL_M / ldexp(1.0, z);
}

long lb_tms_matrix_width(const lb_tms *t, int z) { return (long)t->w0 << z; }
long lb_tms_matrix_height(const lb_tms *t, int z) { return (long)t->h0 << z; }

bool lb_tms_tile_bounds(const lb_tms *t, int z, long x, long y, double *minx, double *miny,
                        double *maxx, double *maxy)
{
    if (z < t->min_zoom || z > t->max_zoom || x < 0 || y < 0 ||
        x >= lb_tms_matrix_width(t, z) || y >= lb_tms_matrix_height(t, z))
        return false;
    double span = lb_tms_resolution(t, z) * t->tile_size;
    *minx = t->origin_x + (double)x * span;
    *maxx = *minx + span;
    *maxy = t->origin_y - (double)y * span;
    *miny = *maxy - span;
    return true;
}
