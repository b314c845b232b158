/*
 * Accuracy of fusion's coordinate transformation against BKG's published
 * BeTA2007 control points (tests/data/beta2007): DHDN Gauss-Krüger to ETRS89
 * UTM and DHDN geographic to ETRS89 geographic must agree within 1 cm, which
 * only holds when the BETA2007 NTv2 grid is used (a Helmert fallback is off
 * by up to a metre).
 */
#include <math.h>
#include <stdio.h>

#include "lagebild/fusion.h"
#include "lbtest.h"

#define TOL_M 0.01

LB_TEST(test_gk_to_utm_within_1cm)
{
    FILE *f = fopen(LB_TESTDATA_DIR "/beta2007/gk_to_utm.txt", "r");
    ASSERT(f != NULL);
    int gk, utm, n = 0;
    double e, nn, ue, un, worst = 0;
    lb_transform *t[6][2] = {{NULL}};
    while (fscanf(f, "%d %d %lf %lf %lf %lf", &gk, &utm, &e, &nn, &ue, &un) == 6) {
        ASSERT(gk >= 2 && gk <= 5 && (utm == 32 || utm == 33));
        lb_transform **tp = &t[gk][utm - 32];
        if (!*tp) {
            char src[32], dst[32];
            snprintf(src, sizeof src, "EPSG:%d", 31464 + gk);
            snprintf(dst, sizeof dst, "EPSG:%d", 25800 + utm);
            lb_error err;
            ASSERT_EQ(lb_transform_new(src, dst, tp, &err), LB_OK);
        }
        double x = e, y = nn;
        lb_error err;
        ASSERT_EQ(lb_transform_points(*tp, 1, &x, &y, &err), LB_OK);
        double d = hypot(x - ue, y - un);
        if (d > worst)
            worst = d;
        if (d > TOL_M)
            fprintf(stderr, "  GK%d %.3f %.3f -> %.4f %.4f, expected %.4f %.4f (%.4f m)\n", gk,
                    e, nn, x, y, ue, un, d);
        ASSERT(d <= TOL_M);
        n++;
    }
    fclose(f);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 2; j++)
            lb_transform_free(t[i][j]);
    fprintf(stderr, "  %d GK->UTM points, worst deviation %.5f m\n", n, worst);
    ASSERT_EQ(n, 94);
}

LB_TEST(test_dhdn_geographic_to_etrs89_within_1cm)
{
    FILE *f = fopen(LB_TESTDATA_DIR "/beta2007/dhdn_to_etrs89_lonlat.txt", "r");
    ASSERT(f != NULL);
    lb_transform *t = NULL;
    lb_error err;
    ASSERT_EQ(lb_transform_new("EPSG:4314", "EPSG:4258", &t, &err), LB_OK);
    double lon, lat, elon, elat, worst = 0;
    int n = 0;
    while (fscanf(f, "%lf %lf %lf %lf", &lon, &lat, &elon, &elat) == 4) {
        double x = lon, y = lat;
        ASSERT_EQ(lb_transform_points(t, 1, &x, &y, &err), LB_OK);
        double dy = (y - elat) * 111320.0;
        double dx = (x - elon) * 111320.0 * cos(elat * M_PI / 180.0);
        double d = hypot(dx, dy);
        if (d > worst)
            worst = d;
        ASSERT(d <= TOL_M);
        n++;
    }
    fclose(f);
    lb_transform_free(t);
    fprintf(stderr, "  %d DHDN->ETRS89 points, worst deviation %.5f m\n", n, worst);
    ASSERT_EQ(n, 31);
}

LB_TEST(test_axis_order_is_easting_first)
{
    /* EPSG:31467 is northing,easting and EPSG:4326 lat,lon by definition;
     * lagebild always works easting/longitude first. */
    lb_transform *t = NULL;
    lb_error err;
    ASSERT_EQ(lb_transform_new("EPSG:31467", "EPSG:4326", &t, &err), LB_OK);
    double x = 3500000.0, y = 5774000.0; /* near Hameln, zone 3 */
    ASSERT_EQ(lb_transform_points(t, 1, &x, &y, &err), LB_OK);
    ASSERT(x > 8.9 && x < 9.1);  /* longitude first */
    ASSERT(y > 52.0 && y < 52.2);
    lb_transform_free(t);
}

LB_TEST(test_unknown_crs_is_named)
{
    lb_transform *t = NULL;
    lb_error err;
    ASSERT_EQ(lb_transform_new("EPSG:999999", "EPSG:4326", &t, &err), LB_ECRS);
    ASSERT(t == NULL);
    ASSERT_CONTAINS(err.msg, "EPSG:999999");
}

LB_TESTS(test_gk_to_utm_within_1cm, test_dhdn_geographic_to_etrs89_within_1cm,
         test_axis_order_is_easting_first, test_unknown_crs_is_named)
