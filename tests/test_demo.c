/*
 * The shipped demo scenario, end to end: a copy of demo/ in a temporary
 * folder (so relative paths are proven to resolve against the config's
 * folder) passes `lagebild check`, ingests completely, and known features of
 * each agency land where the scenario put them, whatever format and CRS
 * they were delivered in.
 */
#include "lbtest.h"
#include "tutil.h"

static char *dir, *cfg, *store;

static void setup(void)
{
    dir = t_tmpdir();
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp -r '%s/demo/data' '%s/demo/lagebild.yaml' '%s/'", LB_SOURCE_DIR,
             LB_SOURCE_DIR, dir);
    ASSERT_EQ(system(cmd), 0);
    cfg = t_path(dir, "lagebild.yaml");
    store = t_path(dir, "lagebild.sqlite");
}

static void teardown(void)
{
    t_rmrf(dir);
    free(dir);
    free(cfg);
    free(store);
}

/* Stored position of a feature vs the scenario's intended lon/lat (degrees). */
static void expect_at(const char *layer, const char *sfid, double lon, double lat, double tol_m)
{
    double x = t_sql_double(store, "SELECT X(ST_Centroid(geom)) FROM %s WHERE source_fid='%s'", layer, sfid);
    double y = t_sql_double(store, "SELECT Y(ST_Centroid(geom)) FROM %s WHERE source_fid='%s'", layer, sfid);
    double dx = (x - lon) * 111320.0 * cos(lat * M_PI / 180), dy = (y - lat) * 111320.0;
    if (!(hypot(dx, dy) <= tol_m))
        fprintf(stderr, "  %s %s at %.8f %.8f, expected %.8f %.8f (%.4f m)\n", layer, sfid, x, y,
                lon, lat, hypot(dx, dy));
    ASSERT(hypot(dx, dy) <= tol_m);
}

LB_TEST(test_demo_config_checks_and_ingests_completely)
{
    setup();
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    if (r.status != 0)
        fprintf(stderr, "%s\n%s\n", r.out, r.err);
    ASSERT_EQ(r.status, 0);
    ASSERT(strstr(r.out, "rejected 1") == NULL && strstr(r.err, "rejected:") == NULL);
    t_result_free(&r);
    /* every source is in the store and the map's 13 layers have features */
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM lb_sources"), 14);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM lb_layers WHERE revision > 0"), 13);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM hydrants"), 40);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"), 20); /* police 12 + fire 8 */
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM units"), 10);
    ASSERT_EQ(t_sql_int(store, "SELECT sum(features) FROM lb_sources"), 136);
    /* nothing invalid was stored */
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM evacuation_zones WHERE NOT ST_IsValid(geom)"), 0);
    teardown();
}

LB_TEST(test_demo_features_land_where_the_scenario_put_them)
{
    setup();
    t_result r = t_lagebild("ingest", cfg, "--quiet", NULL);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    /* police GeoJSON, EPSG:4326 */
    expect_at("incidents", "POL-EL-01", 9.38342, 52.07055, 0.001);
    /* fire Shapefile, EPSG:25832 */
    expect_at("incidents", "FW-ES-01", 9.38350, 52.07060, 0.01);
    /* KRITIS GML, EPSG:31467 (DHDN, BeTA2007 grid) */
    expect_at("substations", "KR-UW-01", 9.41500, 52.03300, 0.01);
    expect_at("substations", "KR-UW-05", 9.25500, 52.16800, 0.01);
    /* military CSV with MGRS (spaces as typed by hand): within the 1 m cell */
    expect_at("units", "MIL-EH-04", 9.36200, 52.10800, 1.0);
    double acc = t_sql_double(store, "SELECT accuracy_m FROM units WHERE source_fid='MIL-EH-03'");
    ASSERT_NEAR(acc, 10, 1e-9);
    /* per-feature labels from the agencies' attributes */
    char *s = t_sql(store, "SELECT classification||'|'||releasable_to FROM units WHERE source_fid='MIL-EH-03'");
    ASSERT_STREQ(s, "VS-VERTRAULICH|military,lagezentrum");
    free(s);
    teardown();
}

LB_TEST(test_demo_check_passes)
{
    setup();
    t_result r = t_lagebild("check", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    ASSERT_CONTAINS(r.out, "OK (14 sources, 13 layers, 1 maps");
    t_result_free(&r);
    teardown();
}

LB_TESTS(test_demo_config_checks_and_ingests_completely,
         test_demo_features_land_where_the_scenario_put_them, test_demo_check_passes)
