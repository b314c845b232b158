/*
 * Tests for the MGRS converter (fusion/mgrs.c, lagebild/mgrs.h).
 *
 * Where the reference numbers come from:
 *
 *  [man]  GeographicLib's GeoConvert(1) manual page (GeographicLib 2.1.2, as
 *         shipped in Debian 12's geographiclib-tools; the same examples are in
 *         the online GeoConvert documentation), sections MGRS, ZONE and
 *         EXAMPLES:
 *           38SMB4488 -> 33.33424 44.40363, 33:20:03.25N 044:24:13.06E,
 *                        centre 38n 444500 3688500, SW corner 38n 444000 3688000
 *           E44d24 N33d20, -p -3 (1 km)          -> 38SMB4488
 *           79.9S 6.1E (standard zone)           -> 32CMS4324728161, -p -3: 32CMS4328
 *           31CEM6066227959 -> standard zone, -p -3 -> 32CMS4328
 *           -1 3 -> 31s 500000 9889470
 *           38SMB44140847064 is given as an MGRS input example (12 digits,
 *           0.1 m, beyond the 1 m limit of lagebild's API).
 *  [gc]   Values computed once while developing this module with Debian 12's
 *         GeoConvert 2.1.2 (`GeoConvert -m -p P` for lat/lon -> MGRS,
 *         `GeoConvert -p 9` for the cell centre, `GeoConvert -u -n` for the
 *         south-west corner, and `GeoConvert -u -n` over every 100 km square
 *         of zones 31/32 for the band/row table) and embedded here; the test
 *         does not need the tool.  During development the implementation was
 *         also compared with GeoConvert on 40000 random and boundary points
 *         (forward, all precisions: no difference) and 65000 MGRS strings
 *         (reverse: identical acceptance, centres within 2e-12 degrees).
 *
 * The round-trip tests check the implementation (which goes through PROJ with
 * EPSG:326zz/327zz/32661/32761) against an independent projection set up here
 * from PROJ strings (+proj=utm / +proj=ups).
 */
#include <proj.h>
#include <pthread.h>

#include "lbtest.h"
#include "lagebild/mgrs.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static double cell_of(int precision)
{
    double s = 1;
    for (int i = precision; i < 5; i++)
        s *= 10;
    return s;
}

/* Independent lon/lat -> UTM/UPS projection for checks (cached per test). */
static PJ_CONTEXT *tp_ctx;
static PJ *tp_cache[122];

static void tp_cleanup(void)
{
    for (int i = 0; i < 122; i++) {
        proj_destroy(tp_cache[i]);
        tp_cache[i] = NULL;
    }
    if (tp_ctx)
        proj_context_destroy(tp_ctx);
    tp_ctx = NULL;
}

static void tproject(int zone, int north, double lon, double lat, double *x, double *y)
{
    int slot = zone == 0 ? (north ? 120 : 121) : (north ? 0 : 60) + zone - 1;
    if (!tp_ctx)
        tp_ctx = proj_context_create();
    ASSERT(tp_ctx != NULL);
    if (!tp_cache[slot]) {
        char def[96];
        if (zone == 0)
            snprintf(def, sizeof def, "+proj=ups %s+ellps=WGS84", north ? "" : "+south ");
        else
            snprintf(def, sizeof def, "+proj=utm +zone=%d %s+ellps=WGS84", zone,
                     north ? "" : "+south ");
        tp_cache[slot] = proj_create(tp_ctx, def);
        ASSERT(tp_cache[slot] != NULL);
    }
    PJ_COORD c = proj_coord(proj_torad(lon), proj_torad(lat), 0, 0);
    c = proj_trans(tp_cache[slot], PJ_FWD, c);
    ASSERT(isfinite(c.xy.x) && isfinite(c.xy.y));
    *x = c.xy.x;
    *y = c.xy.y;
}

static void all_cleanup(void)
{
    tp_cleanup();
    lb_mgrs_cleanup();
}

/*
 * Forward at the given precision, then reverse, and check:
 *  - the original point lies in the cell (truncation, not rounding);
 *  - the reported centre is the middle of that cell and within half a cell
 *    of the original point (in the cell's own zone);
 *  - converting the centre forward again names the same cell, unless the
 *    centre lies in a neighbouring zone or band (cells straddle zone and
 *    band boundaries); *moved counts those.
 */
static void check_round_trip(double lon, double lat, int prec, int *moved)
{
    lb_error err = {0};
    char s[32], s2[32];
    lb_status st = lb_mgrs_from_lonlat(lon, lat, prec, s, sizeof s, &err);
    if (st != LB_OK)
        LBT__FAIL("from_lonlat(%.10f, %.10f, %d): %s", lon, lat, prec, err.msg);
    lb_mgrs m;
    ASSERT_EQ(lb_mgrs_parse(s, &m, &err), LB_OK);
    ASSERT_EQ(m.precision, prec);
    ASSERT_EQ((int)strlen(s), (m.zone ? 5 : 3) + 2 * prec);
    double size = cell_of(prec);

    double x, y;
    tproject(m.zone, m.north, lon, lat, &x, &y);
    if (!(x >= m.easting - 1e-6 && x < m.easting + size + 1e-6 && y >= m.northing - 1e-6 &&
          y < m.northing + size + 1e-6))
        LBT__FAIL("%s (lon %.10f lat %.10f): point %.4f %.4f not in cell %.0f %.0f size %.0f", s,
                  lon, lat, x, y, m.easting, m.northing, size);

    double clon, clat, csize = -1;
    st = lb_mgrs_to_lonlat(s, &clon, &clat, &csize, &err);
    if (st != LB_OK)
        LBT__FAIL("to_lonlat(%s): %s", s, err.msg);
    ASSERT_NEAR(csize, size, 0);
    double xc, yc;
    tproject(m.zone, m.north, clon, clat, &xc, &yc);
    ASSERT_NEAR(xc, m.easting + size / 2, 1e-4);
    ASSERT_NEAR(yc, m.northing + size / 2, 1e-4);
    ASSERT(fabs(xc - x) <= size / 2 + 1e-6);
    ASSERT(fabs(yc - y) <= size / 2 + 1e-6);

    ASSERT_EQ(lb_mgrs_from_lonlat(clon, clat, prec, s2, sizeof s2, &err), LB_OK);
    if (strcmp(s, s2) != 0) {
        lb_mgrs m2;
        ASSERT_EQ(lb_mgrs_parse(s2, &m2, &err), LB_OK);
        if (m2.zone == m.zone && m2.band == m.band)
            LBT__FAIL("centre of %s converts back to %s", s, s2);
        if (m2.zone == m.zone) { /* band changed within the zone: same cell */
            ASSERT_NEAR(m2.easting, m.easting, 0);
            ASSERT_NEAR(m2.northing, m.northing, 0);
        }
        (*moved)++;
        if (getenv("MGRS_TEST_VERBOSE"))
            fprintf(stderr, "    moved: %.10f %.10f p%d %s -> %s\n", lon, lat, prec, s, s2);
    }
}

/* ------------------------------------------------------------------------ */
/* (a) published examples                                                   */
/* ------------------------------------------------------------------------ */

LB_TEST(test_published_examples)
{
    lb_error err = {0};
    char s[32];
    double lon, lat, size;
    lb_mgrs m;

    /* [man] 38SMB4488 => 33.33424 44.40363 and 33:20:03.25N 044:24:13.06E */
    ASSERT_EQ(lb_mgrs_to_lonlat("38SMB4488", &lon, &lat, &size, &err), LB_OK);
    ASSERT_NEAR(lat, 33.33424, 0.5e-5);
    ASSERT_NEAR(lon, 44.40363, 0.5e-5);
    ASSERT_NEAR(lat, 33 + 20 / 60.0 + 3.25 / 3600, 0.005 / 3600);
    ASSERT_NEAR(lon, 44 + 24 / 60.0 + 13.06 / 3600, 0.005 / 3600);
    ASSERT_NEAR(size, 1000, 0);
    /* [man] 444km <= easting < 445km, 3688km <= northing < 3689km; centre 444500 3688500 */
    ASSERT_EQ(lb_mgrs_parse("38SMB4488", &m, &err), LB_OK);
    ASSERT_EQ(m.zone, 38);
    ASSERT_EQ(m.band, 'S');
    ASSERT_EQ(m.north, 1);
    ASSERT_NEAR(m.easting, 444000, 0);
    ASSERT_NEAR(m.northing, 3688000, 0);
    ASSERT_EQ(m.precision, 2);
    double x, y;
    tproject(38, 1, lon, lat, &x, &y);
    ASSERT_NEAR(x, 444500, 1e-4);
    ASSERT_NEAR(y, 3688500, 1e-4);

    /* [man] E44d24 N33d20 | GeoConvert -m -p -3 => 38SMB4488 */
    ASSERT_EQ(lb_mgrs_from_lonlat(44.4, 33 + 20 / 60.0, 2, s, sizeof s, &err), LB_OK);
    ASSERT_STREQ(s, "38SMB4488");

    /* [man] 79.9S 6.1E => 32CMS4324728161 (standard zone), -p -3 => 32CMS4328 */
    ASSERT_EQ(lb_mgrs_from_lonlat(6.1, -79.9, 5, s, sizeof s, &err), LB_OK);
    ASSERT_STREQ(s, "32CMS4324728161");
    ASSERT_EQ(lb_mgrs_from_lonlat(6.1, -79.9, 2, s, sizeof s, &err), LB_OK);
    ASSERT_STREQ(s, "32CMS4328");

    /* [man] 31CEM6066227959 | GeoConvert -p -3 -m -s => 32CMS4328 */
    ASSERT_EQ(lb_mgrs_to_lonlat("31CEM6066227959", &lon, &lat, &size, &err), LB_OK);
    ASSERT_EQ(lb_mgrs_from_lonlat(lon, lat, 2, s, sizeof s, &err), LB_OK);
    ASSERT_STREQ(s, "32CMS4328");

    /* [man] -1 3 | GeoConvert -u => 31s 500000 9889470 (UTM output is rounded to
     * the metre; MGRS truncates, so the 1 m cell is the one containing it). */
    ASSERT_EQ(lb_mgrs_from_lonlat(3, -1, 5, s, sizeof s, &err), LB_OK);
    ASSERT_EQ(lb_mgrs_parse(s, &m, &err), LB_OK);
    ASSERT_EQ(m.zone, 31);
    ASSERT_EQ(m.north, 0);
    ASSERT_NEAR(m.easting, 500000, 0);
    tproject(31, 0, 3, -1, &x, &y);
    ASSERT_NEAR(round(y), 9889470, 0);
    ASSERT_NEAR(m.northing, floor(y), 0);
    ASSERT_STREQ(s, "31MEU0000089469");

    /* [man] lists 38SMB44140847064 as an input example, but it has 11 digits;
     * GeoConvert 2.1.2 itself rejects it ("Not an even number of digits"). */
    ASSERT_EQ(lb_mgrs_parse("38SMB44140847064", &m, &err), LB_EMGRS);
    ASSERT_CONTAINS(err.msg, "odd number of digits (11)");
    all_cleanup();
}

/* ------------------------------------------------------------------------ */
/* (c) GeoConvert reference values                                           */
/* ------------------------------------------------------------------------ */

/* [gc] GeoConvert -m -p 0 / -p -2 / -p -5 (1 m, 100 m, 100 km). */
static const struct {
    const char *name;
    double lon, lat;
    const char *m5, *m3, *m0;
} fwd_cases[] = {
    {"Berlin, Brandenburg Gate", 13.377704, 52.516275, "33UUU8991819699", "33UUU899196", "33UUU"},
    {"Munich, Marienplatz", 11.575382, 48.137154, "32UPU9159534752", "32UPU915347", "32UPU"},
    {"Hamburg", 10.000654, 53.550341, "32UNE6629633959", "32UNE662339", "32UNE"},
    {"Cologne Cathedral", 6.958281, 50.941278, "32ULB5655845279", "32ULB565452", "32ULB"},
    {"Dresden", 13.737262, 51.050407, "33UVS1149156188", "33UVS114561", "33UVS"},
    {"Zugspitze", 10.985278, 47.421111, "32TPT4973953872", "32TPT497538", "32TPT"},
    {"List auf Sylt", 8.431, 55.017, "32UMF6361796831", "32UMF636968", "32UMF"},
    {"Goerlitz (zone 33)", 14.9878, 51.1526, "33UVS9914666794", "33UVS991667", "33UVS"},
    {"Selfkant, westernmost DE (zone 31)", 5.8664, 51.0543, "31UGS0088159772", "31UGS008597",
     "31UGS"},
    {"Aachen (zone 32)", 6.0839, 50.7753, "32UKB9440928892", "32UKB944288", "32UKB"},
    {"Oberstdorf", 10.2793, 47.4097, "32TNT9651251487", "32TNT965514", "32TNT"},
    {"Equator, zone 31 CM", 3.0, 0.0, "31NEA0000000000", "31NEA000000", "31NEA"},
    {"just south of equator", 3.0, -1e-07, "31MEV0000099999", "31MEV000999", "31MEV"},
    {"Norway exception 32V", 3.0, 60.0, "32VJM6564066593", "32VJM656665", "32VJM"},
    {"west of Norway exception", 2.9999, 60.0, "31VDG9999451411", "31VDG999514", "31VDG"},
    {"Norway exception at 56N", 3.0, 56.0, "32VJH2604922336", "32VJH260223", "32VJH"},
    {"just below band V", 3.0, 55.99999, "31UEC0000006078", "31UEC000060", "31UEC"},
    {"Svalbard 31X", 8.9, 72.0, "31XGV0320298893", "31XGV032988", "31XGV"},
    {"Svalbard 33X", 9.0, 72.0, "33XTV9336399233", "33XTV933992", "33XTV"},
    {"Svalbard 35X", 21.0, 72.0, "35XKV9336399233", "35XKV933992", "35XKV"},
    {"Svalbard 37X", 33.0, 72.0, "37XBV9336399233", "37XBV933992", "37XBV"},
    {"Longyearbyen", 15.6267, 78.2232, "33XWG1427883355", "33XWG142833", "33XWG"},
    {"band X, 38X east of 42E", 42.0, 80.0, "38XMP4186783084", "38XMP418830", "38XMP"},
    {"band X, 37X", 41.9, 80.0, "37XEJ5619682986", "37XEJ561829", "37XEJ"},
    {"band X top", 3.0, 83.9999999, "31XEP0000028093", "31XEP000280", "31XEP"},
    {"UPS north from 84N", 3.0, 84.0, "ZAA3489334186", "ZAA348341", "ZAA"},
    {"UPS north, Y", -45.0, 84.0, "YTC2855228552", "YTC285285", "YTC"},
    {"North Pole", 0.0, 90.0, "ZAH0000000000", "ZAH000000", "ZAH"},
    {"South Pole", 0.0, -90.0, "BAN0000000000", "BAN000000", "BAN"},
    {"80S is UTM", 3.0, -80.0, "31CEM0000018414", "31CEM000184", "31CEM"},
    {"south of 80S is UPS", 3.0, -80.0000001, "BAZ5824711425", "BAZ582114", "BAZ"},
    {"antimeridian east", 180.0, 0.0, "01NAA6602100000", "01NAA660000", "01NAA"},
    {"antimeridian west", -180.0, 0.0, "01NAA6602100000", "01NAA660000", "01NAA"},
    {"zone 60", 179.9999, 0.0, "60NZF3396700000", "60NZF339000", "60NZF"},
    {"Sydney", 151.2093, -33.8688, "56HLH3436850948", "56HLH343509", "56HLH"},
    {"Cape Town", 18.4241, -33.9249, "34HBH6188143182", "34HBH618431", "34HBH"},
    {"Ushuaia", -68.303, -54.8019, "19FEV4480527029", "19FEV448270", "19FEV"},
    {"McMurdo", 166.6863, -77.8419, "58CEU3964158704", "58CEU396587", "58CEU"},
    {"Antarctic plateau, UPS B", 45.0, -85.0, "BFR9276792767", "BFR927927", "BFR"},
    {"Antarctic, UPS A", -45.0, -85.0, "AUR0723292767", "AUR072927", "AUR"},
    {"Honolulu", -157.8583, 21.3069, "04QFJ1841756542", "04QFJ184565", "04QFJ"},
    {"Reykjavik", -21.9426, 64.1466, "27WVM5413813689", "27WVM541136", "27WVM"},
    {"Alert, Nunavut (band X, zone 20)", -62.3481, 82.5018, "20XNS0949760897", "20XNS094608",
     "20XNS"},
    {"Tokyo", 139.6503, 35.6762, "54SUE7785548874", "54SUE778488", "54SUE"},
    {"New York", -74.006, 40.7128, "18TWL8395907350", "18TWL839073", "18TWL"},
    {"Quito", -78.4678, -0.1807, "17MQV8186180007", "17MQV818800", "17MQV"},
    {"band boundary 48N on zone 32 CM", 9.0, 48.0, "32UNU0000016300", "32UNU000163", "32UNU"},
    {"band boundary 64N", 10.5, 64.0, "32WNR7336397877", "32WNR733978", "32WNR"},
    {"band boundary 72N", -100.0, 72.0, "14XME6551089218", "14XME655892", "14XME"},
    {"band boundary 8S", -35.0, -8.0, "25MBM7955815166", "25MBM795151", "25MBM"},
    /* one ulp below a band limit: the band follows floor(lat), as in GeographicLib */
    {"one ulp below 48N", 9.5, 47.99999999999999289, "32TNU3729716421", "32TNU372164", "32TNU"},
    {"one ulp below 8S", 3.0, -8.0000000000000018, "31LEM0000015702", "31LEM000157", "31LEM"},
};

LB_TEST(test_forward_geoconvert)
{
    lb_error err = {0};
    char s[32];
    for (size_t i = 0; i < sizeof fwd_cases / sizeof fwd_cases[0]; i++) {
        const char *want[3] = {fwd_cases[i].m5, fwd_cases[i].m3, fwd_cases[i].m0};
        const int prec[3] = {5, 3, 0};
        for (int k = 0; k < 3; k++) {
            lb_status st = lb_mgrs_from_lonlat(fwd_cases[i].lon, fwd_cases[i].lat, prec[k], s,
                                               sizeof s, &err);
            if (st != LB_OK)
                LBT__FAIL("%s: %s", fwd_cases[i].name, err.msg);
            if (strcmp(s, want[k]) != 0)
                LBT__FAIL("%s at precision %d: got %s, GeoConvert %s", fwd_cases[i].name,
                          prec[k], s, want[k]);
        }
    }
    all_cleanup();
}

/* [gc] GeoConvert -p 9 (cell centre) and GeoConvert -u -n (south-west corner). */
static const struct {
    const char *mgrs;
    double lon, lat;
    int zone, north;
    double easting, northing;
    int precision;
} rev_cases[] = {
    {"38SMB4488", 44.40362784783868, 33.33423508461097, 38, 1, 444000, 3688000, 2},
    {"38SMB4484", 44.40387347295622, 33.29815736608835, 38, 1, 444000, 3684000, 2},
    {"31CEM6066227959", 6.09999527665374, -79.90000102828219, 31, 0, 560662, 1127959, 5},
    {"32CMS4324728161", 6.09998135625109, -79.89999869648062, 32, 0, 443247, 1128161, 5},
    {"32CMS4328", 6.11371955317671, -79.89708221810432, 32, 0, 443000, 1128000, 2},
    {"33UUU8991819699", 13.37771063162264, 52.51627839571122, 33, 1, 389918, 5819699, 5},
    {"32UPU91593475", 11.57538088923666, 48.13717744376687, 32, 1, 691590, 5334750, 4},
    {"32UMF", 8.22613318396871, 54.59499850372916, 32, 1, 400000, 6000000, 0},
    {"32ULB5652", 6.95459433781561, 51.00615060180485, 32, 1, 356000, 5652000, 2},
    {"32UNE6629633959", 10.00065765460634, 53.55033679104394, 32, 1, 566296, 5933959, 5},
    {"31WCL", -0.01872926532230, 63.54632126474932, 31, 1, 300000, 7000000, 0},
    {"31XBV", -4.08074504289829, 71.51939508737718, 31, 1, 200000, 7900000, 0},
    {"31XEP0000028093", 3.00004284451219, 83.99999703896754, 31, 1, 500000, 9328093, 5},
    {"31VDG9999451411", 2.99990139424396, 60.00000278027761, 31, 1, 499994, 6651411, 5},
    {"32VJM6564066593", 3.00000311062100, 59.99999949219458, 32, 1, 165640, 6666593, 5},
    {"33XWG1427883355", 15.62669057365473, 78.22320029417833, 33, 1, 514278, 8683355, 5},
    {"01NAA6602100000", -179.99999948918494, 0.00000451741552, 1, 1, 166021, 0, 5},
    {"60NZF3396700000", 179.99990077134743, 0.00000451741594, 60, 1, 833967, 0, 5},
    {"ZAH", 135.00000000000000, 89.36310980639614, 0, 1, 2000000, 2000000, 0},
    {"BAN", 45.00000000000000, -89.36310980639614, 0, 0, 2000000, 2000000, 0},
    {"YTC2855228552", -45.00000000000000, 84.00000229289654, 0, 1, 1528552, 1528552, 5},
    {"AUR0723292767", -45.00000000000000, -85.00000239171709, 0, 0, 1607232, 2392767, 5},
    {"BFR9276792767", 45.00000000000000, -85.00000239171709, 0, 0, 2392767, 2392767, 5},
    {"ZAA", 4.39870535499553, 84.13302905611543, 0, 1, 2000000, 1300000, 0},
    {"BAZ5824711425", 3.00000810775391, -80.00000329368837, 0, 0, 2058247, 3111425, 5},
    {"YRP12", -132.37759853945892, 81.66206028162385, 0, 1, 1310000, 2620000, 1},
    {"AJA", -135.00000000000000, -75.42727560314177, 0, 0, 800000, 800000, 0},
    {"BRZ55", 45.00000000000000, -75.36457432711518, 0, 0, 3150000, 3150000, 1},
    {"56HLH3436850948", 151.20929858481273, -33.86879858520177, 56, 0, 334368, 6250948, 5},
    {"19FEV4480527029", -68.30299367886559, -54.80190342096385, 19, 0, 544805, 3927029, 5},
    {"58CEU3964158704", 166.68630860086822, -77.84189587876060, 58, 0, 539641, 1358704, 5},
    {"04QFJ1841756542", -157.85829604642655, 21.30690035789079, 4, 1, 618417, 2356542, 5},
    {"4QFJ1234567890", -157.91607631748587, 21.40980115781444, 4, 1, 612345, 2367890, 5},
    {"31MEV0000099999", 3.00000449337377, -0.00000452365685, 31, 0, 500000, 9999999, 5},
    {"31NEA0000000000", 3.00000449337377, 0.00000452365685, 31, 1, 500000, 0, 5},
    {"17MQV8186180007", -78.46779961795751, -0.18070060451257, 17, 0, 781861, 9980007, 5},
    {"20XNS0949760897", -62.34808187923914, 82.50179675048828, 20, 1, 509497, 9160897, 5},
    {"14XME6551089218", -100.00001383463346, 71.99999764626963, 14, 1, 465510, 7989218, 5},
    {"25MBM7955815166", -34.99999817333942, -8.00000024393646, 25, 0, 279558, 9115166, 5},
};

LB_TEST(test_reverse_geoconvert)
{
    lb_error err = {0};
    for (size_t i = 0; i < sizeof rev_cases / sizeof rev_cases[0]; i++) {
        const char *s = rev_cases[i].mgrs;
        lb_mgrs m;
        if (lb_mgrs_parse(s, &m, &err) != LB_OK)
            LBT__FAIL("%s: %s", s, err.msg);
        ASSERT_EQ(m.zone, rev_cases[i].zone);
        ASSERT_EQ(m.north, rev_cases[i].north);
        ASSERT_EQ(m.band, s[strspn(s, "0123456789")]);
        ASSERT_NEAR(m.easting, rev_cases[i].easting, 0);
        ASSERT_NEAR(m.northing, rev_cases[i].northing, 0);
        ASSERT_EQ(m.precision, rev_cases[i].precision);

        double lon, lat, size;
        if (lb_mgrs_to_lonlat(s, &lon, &lat, &size, &err) != LB_OK)
            LBT__FAIL("%s: %s", s, err.msg);
        /* 1e-9 degrees is about 0.1 mm; observed agreement is ~1e-12. */
        ASSERT_NEAR(lat, rev_cases[i].lat, 1e-9);
        ASSERT_NEAR(lon, rev_cases[i].lon, 1e-9);
        ASSERT_NEAR(size, cell_of(rev_cases[i].precision), 0);
    }
    all_cleanup();
}

LB_TEST(test_parse_spelling)
{
    lb_error err = {0};
    lb_mgrs a, b;
    /* Case, spaces, tabs and an unpadded zone do not matter. */
    static const char *const same[][2] = {
        {"38SMB4488", "38s mb 44 88"},
        {"04QFJ1841756542", "4qfj 18417 56542"},
        {"04QFJ1841756542", " 4 Q F J 18417\t56542 "},
        {"33UUU8991819699", "33uuu8991819699"},
        {"ZAH", "z a h"},
        {"BFR9276792767", "bfr 92767 92767"},
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        ASSERT_EQ(lb_mgrs_parse(same[i][0], &a, &err), LB_OK);
        if (lb_mgrs_parse(same[i][1], &b, &err) != LB_OK)
            LBT__FAIL("'%s': %s", same[i][1], err.msg);
        ASSERT_EQ(a.zone, b.zone);
        ASSERT_EQ(a.band, b.band);
        ASSERT_EQ(a.north, b.north);
        ASSERT_NEAR(a.easting, b.easting, 0);
        ASSERT_NEAR(a.northing, b.northing, 0);
        ASSERT_EQ(a.precision, b.precision);
    }
    /* Band letter is reported upper-case; UPS has zone 0. */
    ASSERT_EQ(lb_mgrs_parse("zaa", &a, &err), LB_OK);
    ASSERT_EQ(a.zone, 0);
    ASSERT_EQ(a.band, 'Z');
    ASSERT_EQ(a.north, 1);
    ASSERT_NEAR(a.easting, 2000000, 0);
    ASSERT_NEAR(a.northing, 1300000, 0);
    ASSERT_EQ(a.precision, 0);
    /* Every precision 0..5 */
    static const char *const precs[] = {"32UNE", "32UNE63", "32UNE6633", "32UNE662339",
                                        "32UNE66293395", "32UNE6629633959"};
    for (int p = 0; p <= 5; p++) {
        ASSERT_EQ(lb_mgrs_parse(precs[p], &a, &err), LB_OK);
        ASSERT_EQ(a.precision, p);
        double unit = cell_of(p);
        ASSERT_NEAR(a.easting, floor(566296 / unit) * unit, 0);
        ASSERT_NEAR(a.northing, floor(5933959 / unit) * unit, 0);
    }
}

/*
 * [gc] Rows (100 km units from the equator, negative in the south) that
 * GeoConvert accepts in each band, for the columns with eastings 100..200 km,
 * ..., 800..900 km (`GeoConvert -u -n` over all squares of zones 31 and 32;
 * identical in both).
 */
static const struct {
    char band;
    int lo[8], hi[8];
} gc_rows[] = {
    {'C', {-90, -90, -90, -90, -90, -90, -90, -90}, {-81, -80, -80, -80, -80, -80, -80, -81}},
    {'D', {-81, -81, -80, -80, -80, -80, -81, -81}, {-72, -72, -71, -71, -71, -71, -72, -72}},
    {'E', {-72, -72, -72, -71, -71, -72, -72, -72}, {-63, -63, -63, -63, -63, -63, -63, -63}},
    {'F', {-63, -63, -63, -63, -63, -63, -63, -63}, {-54, -54, -54, -54, -54, -54, -54, -54}},
    {'G', {-54, -54, -54, -54, -54, -54, -54, -54}, {-45, -45, -45, -45, -45, -45, -45, -45}},
    {'H', {-45, -45, -45, -45, -45, -45, -45, -45}, {-36, -36, -36, -36, -36, -36, -36, -36}},
    {'J', {-36, -36, -36, -36, -36, -36, -36, -36}, {-27, -27, -27, -27, -27, -27, -27, -27}},
    {'K', {-27, -27, -27, -27, -27, -27, -27, -27}, {-18, -18, -18, -18, -18, -18, -18, -18}},
    {'L', {-18, -18, -18, -18, -18, -18, -18, -18}, {-9, -9, -9, -9, -9, -9, -9, -9}},
    {'M', {-9, -9, -9, -9, -9, -9, -9, -9}, {-1, -1, -1, -1, -1, -1, -1, -1}},
    {'N', {0, 0, 0, 0, 0, 0, 0, 0}, {8, 8, 8, 8, 8, 8, 8, 8}},
    {'P', {8, 8, 8, 8, 8, 8, 8, 8}, {17, 17, 17, 17, 17, 17, 17, 17}},
    {'Q', {17, 17, 17, 17, 17, 17, 17, 17}, {26, 26, 26, 26, 26, 26, 26, 26}},
    {'R', {26, 26, 26, 26, 26, 26, 26, 26}, {35, 35, 35, 35, 35, 35, 35, 35}},
    {'S', {35, 35, 35, 35, 35, 35, 35, 35}, {44, 44, 44, 44, 44, 44, 44, 44}},
    {'T', {44, 44, 44, 44, 44, 44, 44, 44}, {53, 53, 53, 53, 53, 53, 53, 53}},
    {'U', {53, 53, 53, 53, 53, 53, 53, 53}, {62, 62, 62, 62, 62, 62, 62, 62}},
    {'V', {62, 62, 62, 62, 62, 62, 62, 62}, {71, 71, 71, 70, 70, 71, 71, 71}},
    {'W', {71, 71, 70, 70, 70, 70, 71, 71}, {80, 80, 79, 79, 79, 79, 80, 80}},
    {'X', {80, 79, 79, 79, 79, 79, 79, 80}, {94, 94, 94, 94, 94, 94, 94, 94}},
};

/* Every two-letter square in every zone and band: accepted exactly when the
 * lettering and GeoConvert's band/row table say so, at the right northing. */
LB_TEST(test_utm_squares)
{
    static const char *const colsets[3] = {"ABCDEFGH", "JKLMNPQR", "STUVWXYZ"};
    static const char rowletters[] = "ABCDEFGHJKLMNPQRSTUV";
    lb_error err = {0};
    long accepted = 0;
    for (int zone = 1; zone <= 60; zone++) {
        for (size_t b = 0; b < sizeof gc_rows / sizeof gc_rows[0]; b++) {
            char band = gc_rows[b].band;
            for (char c = 'A'; c <= 'Z'; c++) {
                for (char r = 'A'; r <= 'Z'; r++) {
                    const char *cp = strchr(colsets[(zone - 1) % 3], c);
                    const char *rp = strchr(rowletters, r);
                    int expect = 0;
                    double northing = 0, easting = 0;
                    if (cp && rp) {
                        int col = (int)(cp - colsets[(zone - 1) % 3]);
                        /* letter A is row 0 (the equator) in odd zones, row 15 in even zones */
                        int rmod = ((int)(rp - rowletters) + (zone % 2 ? 0 : 15)) % 20;
                        for (int row = gc_rows[b].lo[col]; row <= gc_rows[b].hi[col]; row++)
                            if (((row % 20) + 20) % 20 == rmod) {
                                expect = 1;
                                northing = row * 1e5 + (row < 0 ? 1e7 : 0);
                                easting = (col + 1) * 1e5;
                            }
                    }
                    char s[16];
                    snprintf(s, sizeof s, "%d%c%c%c", zone, band, c, r);
                    lb_mgrs m;
                    lb_status st = lb_mgrs_parse(s, &m, &err);
                    if (expect != (st == LB_OK))
                        LBT__FAIL("%s: expected %s, got %s", s, expect ? "valid" : "invalid",
                                  st == LB_OK ? "valid" : err.msg);
                    if (expect) {
                        accepted++;
                        ASSERT_EQ(m.zone, zone);
                        ASSERT_EQ(m.band, band);
                        ASSERT_EQ(m.north, band >= 'N');
                        ASSERT_NEAR(m.easting, easting, 0);
                        ASSERT_NEAR(m.northing, northing, 0);
                    } else {
                        ASSERT_EQ(st, LB_EMGRS);
                        ASSERT_EQ(err.status, LB_EMGRS);
                        if (!cp || !rp)
                            ASSERT_CONTAINS(err.msg, "does not exist in zone");
                        else
                            ASSERT_CONTAINS(err.msg, "easting/northing outside band");
                    }
                }
            }
        }
    }
    /* the sum of hi - lo + 1 over gc_rows, in each of the 60 zones */
    ASSERT_EQ(accepted, 60L * 1632);
}

/* [gc] UPS lettering: the squares GeoConvert accepts and their corners. */
LB_TEST(test_ups_squares)
{
    static const struct {
        char band;
        const char *cols, *rows;
        double e0, n0; /* south-west corner of the first column/row letter */
        int north;
    } ups[] = {
        {'A', "JKLPQRSTUXYZ", "ABCDEFGHJKLMNPQRSTUVWXYZ", 800000, 800000, 0},
        {'B', "ABCFGHJKLPQR", "ABCDEFGHJKLMNPQRSTUVWXYZ", 2000000, 800000, 0},
        {'Y', "RSTUXYZ", "ABCDEFGHJKLMNP", 1300000, 1300000, 1},
        {'Z', "ABCFGHJ", "ABCDEFGHJKLMNP", 2000000, 1300000, 1},
    };
    lb_error err = {0};
    int accepted = 0;
    for (int i = 0; i < 4; i++) {
        for (char c = 'A'; c <= 'Z'; c++) {
            for (char r = 'A'; r <= 'Z'; r++) {
                const char *cp = strchr(ups[i].cols, c), *rp = strchr(ups[i].rows, r);
                char s[8] = {ups[i].band, c, r, '\0'};
                lb_mgrs m;
                lb_status st = lb_mgrs_parse(s, &m, &err);
                if ((cp && rp) != (st == LB_OK))
                    LBT__FAIL("%s: expected %s, got %s", s, cp && rp ? "valid" : "invalid",
                              st == LB_OK ? "valid" : err.msg);
                if (st == LB_OK) {
                    accepted++;
                    ASSERT_EQ(m.zone, 0);
                    ASSERT_EQ(m.north, ups[i].north);
                    ASSERT_NEAR(m.easting, ups[i].e0 + 1e5 * (double)(cp - ups[i].cols), 0);
                    ASSERT_NEAR(m.northing, ups[i].n0 + 1e5 * (double)(rp - ups[i].rows), 0);
                } else {
                    ASSERT_CONTAINS(err.msg, "does not exist in polar band");
                }
            }
        }
    }
    ASSERT_EQ(accepted, 2 * 288 + 2 * 98);
    /* [gc] last squares: AZZ 1900000 3100000, BRZ 3100000 3100000,
     *                    YZP 1900000 2600000, ZJP 2600000 2600000 */
    lb_mgrs m;
    ASSERT_EQ(lb_mgrs_parse("AZZ", &m, &err), LB_OK);
    ASSERT(m.easting == 1900000 && m.northing == 3100000);
    ASSERT_EQ(lb_mgrs_parse("BRZ", &m, &err), LB_OK);
    ASSERT(m.easting == 3100000 && m.northing == 3100000);
    ASSERT_EQ(lb_mgrs_parse("YZP", &m, &err), LB_OK);
    ASSERT(m.easting == 1900000 && m.northing == 2600000);
    ASSERT_EQ(lb_mgrs_parse("ZJP", &m, &err), LB_OK);
    ASSERT(m.easting == 2600000 && m.northing == 2600000);
}

/* ------------------------------------------------------------------------ */
/* (b) round trips                                                           */
/* ------------------------------------------------------------------------ */

LB_TEST(test_round_trip_germany)
{
    int moved[6] = {0};
    for (int i = 0; i <= 40; i++) {
        for (int j = 0; j <= 40; j++) {
            double lon = 5.8 + i * 0.2351, lat = 47.2 + j * 0.1997;
            for (int p = 0; p <= 5; p++)
                check_round_trip(lon, lat, p, &moved[p]);
        }
    }
    /* At 1 m the centre leaves the cell's zone/band only right on a boundary. */
    ASSERT(moved[5] <= 2);
    all_cleanup();
}

LB_TEST(test_round_trip_world)
{
    int moved[6] = {0};
    for (int i = 0; i <= 60; i++) {
        for (int j = 0; j <= 60; j++) {
            /* offsets keep the grid off zone and band boundaries (tested separately) */
            double lon = -180 + i * 5.99 + 0.3713, lat = -89.7 + j * 2.99 + 0.00117;
            for (int p = 0; p <= 5; p++)
                check_round_trip(lon, lat, p, &moved[p]);
        }
    }
    ASSERT(moved[5] <= 2);

    /* A fixed pseudo-random sample (LCG) anywhere on the globe. */
    unsigned long long st = 12345;
    for (int k = 0; k < 2000; k++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        double lon = -180 + 360.0 * (double)(st >> 11) / 9007199254740992.0;
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        double lat = -90 + 180.0 * (double)(st >> 11) / 9007199254740992.0;
        check_round_trip(lon, lat, k % 6, &moved[k % 6]);
    }
    all_cleanup();
}

/* Points exactly on band, zone, exception and UTM/UPS boundaries. */
LB_TEST(test_round_trip_boundaries)
{
    static const double lats[] = {-90, -89.999999, -80.0000001, -80, -79.9999999, -72, -8,
                                  -1e-9, 0, 1e-9, 8, 48, 56, 63.9999999, 64, 72,
                                  83.9999999, 84, 89.999999, 90};
    static const double lons[] = {-180, -179.9999999, -174, -6, -3, 0, 2.9999999, 3, 6,
                                  9, 12, 15, 20.9999999, 21, 33, 41.9999999, 42,
                                  179.9999999, 180};
    int moved[6] = {0};
    for (size_t i = 0; i < sizeof lats / sizeof lats[0]; i++)
        for (size_t j = 0; j < sizeof lons / sizeof lons[0]; j++)
            for (int p = 0; p <= 5; p++)
                check_round_trip(lons[j], lats[i], p, &moved[p]);
    all_cleanup();
}

LB_TEST(test_forward_longitude_wrap)
{
    lb_error err = {0};
    char a[32], b[32];
    /* [gc] 0 180 and 0 -180 => 01NAA6602100000 */
    ASSERT_EQ(lb_mgrs_from_lonlat(540, 0, 5, a, sizeof a, &err), LB_OK);
    ASSERT_STREQ(a, "01NAA6602100000");
    ASSERT_EQ(lb_mgrs_from_lonlat(-540, 0, 5, a, sizeof a, &err), LB_OK);
    ASSERT_STREQ(a, "01NAA6602100000");
    ASSERT_EQ(lb_mgrs_from_lonlat(13.377704 + 720, 52.516275, 5, a, sizeof a, &err), LB_OK);
    ASSERT_STREQ(a, "33UUU8991819699");
    ASSERT_EQ(lb_mgrs_from_lonlat(13.377704 - 360, 52.516275, 5, b, sizeof b, &err), LB_OK);
    ASSERT_STREQ(a, b);
    all_cleanup();
}

/* ------------------------------------------------------------------------ */
/* (d) malformed input                                                       */
/* ------------------------------------------------------------------------ */

LB_TEST(test_malformed)
{
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"32UNC12345", "MGRS '32UNC12345': odd number of digits (5)"},
        {"32INC", "band letter 'I' is not valid"},
        {"32onc1234", "band letter 'O' is not valid"},
        {"61UNC", "zone 61 out of range 1-60"},
        {"0UNC", "zone 0 out of range 1-60"},
        {"00UNC", "zone 0 out of range 1-60"},
        {"123UNC", "zone number '123' has more than two digits"},
        {"32UXY", "100 km square 'XY' does not exist in zone 32"},
        {"32UAC", "column letter 'A' is not one of JKLMNPQR"},
        {"33UTW", "row letter 'W' is not one of ABCDEFGHJKLMNPQRSTUV"},
        {"31UEI", "100 km square 'EI' does not exist in zone 31"},
        {"32UNJ", "easting/northing outside band U"},
        {"32UNT1234", "easting/northing outside band U"},
        {"32TNJ", "easting/northing outside band T"},
        {"32CNM", "outside band C (100 km square 'NM' of zone 32 does not reach latitudes "
                  "80S..72S)"},
        {"31WBL", "easting/northing outside band W"},
        {"32U", "missing 100 km square letters after grid zone 32U"},
        {"32U 1234", "missing 100 km square letters"},
        {"32", "missing latitude band letter after zone 32"},
        {"", "empty string"},
        {" \t ", "empty string"},
        {"32UN", "100 km square 'N' is incomplete"},
        {"32UN1234", "100 km square 'N' is incomplete"},
        {"32UNC123456789012", "too many digits (12; at most 10"},
        {"32UNC 12 345", "easting and northing have different numbers of digits (2 and 3)"},
        {"32UNC 1 2 3 4", "split into 4 groups"},
        {"32UNC12X4", "unexpected letter 'X' at position 8"},
        {"32UNC12-34", "unexpected character '-' at position 8"},
        {"32UNC12\xc3\xa4", "unexpected byte 0xc3 at position 8"},
        {"32AAA", "band letter 'A' is not valid in a UTM zone"},
        {"UNC", "band letter 'U' is not valid without a zone number"},
        {"IAA", "band letter 'I' is not valid"},
        {"AAA", "100 km square 'AA' does not exist in polar band A"},
        {"ZZA", "column letter 'Z' is not one of ABCFGHJ"},
        {"ZAQ", "row letter 'Q' is not one of ABCDEFGHJKLMNP"},
        {"38SMB441408470647", "too many digits (12"},
        {"32UNC12345678901234567890123456789012345678901234567890", "too long"},
    };
    lb_error err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lb_mgrs m;
        lb_error_clear(&err);
        lb_status st = lb_mgrs_parse(bad[i].in, &m, &err);
        if (st != LB_EMGRS)
            LBT__FAIL("'%s': expected LB_EMGRS, got %d", bad[i].in, (int)st);
        ASSERT_EQ(err.status, LB_EMGRS);
        ASSERT_CONTAINS(err.msg, bad[i].msg);
        ASSERT(strlen(err.msg) < 240);
        /* the reverse conversion reports the same */
        double lon = 0, lat = 0, size = 0;
        lb_error err2;
        lb_error_clear(&err2);
        ASSERT_EQ(lb_mgrs_to_lonlat(bad[i].in, &lon, &lat, &size, &err2), LB_EMGRS);
        ASSERT_STREQ(err2.msg, err.msg);
    }
    /* The exact message of the brief's example. */
    lb_mgrs m;
    ASSERT_EQ(lb_mgrs_parse("32UNC12345", &m, &err), LB_EMGRS);
    ASSERT_STREQ(err.msg, "MGRS '32UNC12345': odd number of digits (5)");
    /* Long input is quoted shortened. */
    ASSERT_EQ(lb_mgrs_parse(bad[sizeof bad / sizeof bad[0] - 1].in, &m, &err), LB_EMGRS);
    ASSERT_CONTAINS(err.msg, "...'");
    /* NULL arguments; a NULL err is allowed. */
    ASSERT_EQ(lb_mgrs_parse(NULL, &m, &err), LB_EINVAL);
    ASSERT_EQ(lb_mgrs_parse("32UNC", NULL, &err), LB_EINVAL);
    ASSERT_EQ(lb_mgrs_parse("32INC", &m, NULL), LB_EMGRS);
    double lon, lat;
    ASSERT_EQ(lb_mgrs_to_lonlat("32UNE", NULL, &lat, NULL, &err), LB_EINVAL);
    ASSERT_EQ(lb_mgrs_to_lonlat("32UNE", &lon, &lat, NULL, &err), LB_OK); /* size optional */
    all_cleanup();
}

LB_TEST(test_forward_errors)
{
    lb_error err;
    char s[32];
    ASSERT_EQ(lb_mgrs_from_lonlat(9, 50, 6, s, sizeof s, &err), LB_EINVAL);
    ASSERT_CONTAINS(err.msg, "precision 6 out of range 0-5");
    ASSERT_EQ(lb_mgrs_from_lonlat(9, 50, -1, s, sizeof s, &err), LB_EINVAL);
    ASSERT_CONTAINS(err.msg, "precision -1 out of range");
    ASSERT_EQ(lb_mgrs_from_lonlat(9, 90.5, 5, s, sizeof s, &err), LB_ERANGE);
    ASSERT_CONTAINS(err.msg, "latitude 90.5 out of range");
    ASSERT_EQ(lb_mgrs_from_lonlat(9, -91, 5, s, sizeof s, &err), LB_ERANGE);
    ASSERT_EQ(lb_mgrs_from_lonlat(9, NAN, 5, s, sizeof s, &err), LB_ERANGE);
    ASSERT_EQ(lb_mgrs_from_lonlat(INFINITY, 50, 5, s, sizeof s, &err), LB_ERANGE);
    ASSERT_CONTAINS(err.msg, "longitude inf is not finite");
    ASSERT_EQ(lb_mgrs_from_lonlat(9, 50, 5, NULL, 32, &err), LB_EINVAL);
    /* 15 characters + NUL fit in 16 bytes, not in 15. */
    char small[16];
    ASSERT_EQ(lb_mgrs_from_lonlat(13.377704, 52.516275, 5, small, 15, &err), LB_EINVAL);
    ASSERT_CONTAINS(err.msg, "too small for '33UUU8991819699'");
    ASSERT_EQ(lb_mgrs_from_lonlat(13.377704, 52.516275, 5, small, 16, &err), LB_OK);
    ASSERT_STREQ(small, "33UUU8991819699");
    all_cleanup();
}

/* ------------------------------------------------------------------------ */
/* Concurrency: the PROJ cache is shared; cleanup may run concurrently.       */
/* ------------------------------------------------------------------------ */

enum { NTHREADS = 4, NPOINTS = 150 };

typedef struct {
    int id;
    int errors;
    char want[NPOINTS][32];
} thread_job;

static void point_of(int k, double *lon, double *lat)
{
    *lon = -179.5 + (k * 47.3);
    *lon = fmod(*lon + 180, 360) - 180;
    *lat = -85 + fmod(k * 13.7, 170);
}

static void *thread_main(void *arg)
{
    thread_job *job = arg;
    lb_error err;
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < NPOINTS; k++) {
            double lon, lat, clon, clat;
            char s[32];
            point_of(k, &lon, &lat);
            if (lb_mgrs_from_lonlat(lon, lat, 5, s, sizeof s, &err) != LB_OK ||
                strcmp(s, job->want[k]) != 0)
                job->errors++;
            if (lb_mgrs_to_lonlat(s, &clon, &clat, NULL, &err) != LB_OK ||
                fabs(clat - lat) > 1e-4)
                job->errors++;
            if (job->id == 0 && k % 50 == 0)
                lb_mgrs_cleanup();
        }
    }
    return NULL;
}

LB_TEST(test_threads)
{
    static thread_job jobs[NTHREADS];
    lb_error err;
    for (int t = 0; t < NTHREADS; t++) {
        jobs[t].id = t;
        jobs[t].errors = 0;
        for (int k = 0; k < NPOINTS; k++) {
            double lon, lat;
            point_of(k, &lon, &lat);
            ASSERT_EQ(lb_mgrs_from_lonlat(lon, lat, 5, jobs[t].want[k], 32, &err), LB_OK);
        }
    }
    lb_mgrs_cleanup();
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        ASSERT_EQ(pthread_create(&th[t], NULL, thread_main, &jobs[t]), 0);
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < NTHREADS; t++)
        ASSERT_EQ(jobs[t].errors, 0);
    all_cleanup();
}

LB_TESTS(test_published_examples, test_forward_geoconvert, test_reverse_geoconvert,
         test_parse_spelling, test_utm_squares, test_ups_squares, test_round_trip_germany,
         test_round_trip_world, test_round_trip_boundaries, test_forward_longitude_wrap,
         test_malformed, test_forward_errors, test_threads)
