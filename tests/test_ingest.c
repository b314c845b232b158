/*
 * End-to-end tests of `lagebild ingest`: each test writes sources and a
 * config into a fresh temporary folder, runs the real executable and checks
 * exit status, messages and the resulting SpatiaLite store.  Covers the
 * pipeline (reprojection, mapping, labels, provenance, revisions, atomic
 * replacement) and every class of bad input: the source fails or the
 * feature is rejected with a reason, and what was stored before survives.
 */
#include <gdal.h>
#include <math.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <signal.h>

#include "lagebild/fusion.h"
#include "lbtest.h"
#include "tutil.h"

static char *dir, *cfg, *store;

/* Project WGS 84 lon/lat to UTM zone (northern hemisphere) in place. */
static void utm(int zone, double *x, double *y)
{
    char dst[16];
    snprintf(dst, sizeof dst, "EPSG:326%02d", zone);
    lb_transform *t = NULL;
    lb_error err;
    ASSERT_EQ(lb_transform_new("EPSG:4326", dst, &t, &err), LB_OK);
    ASSERT_EQ(lb_transform_points(t, 1, x, y, &err), LB_OK);
    lb_transform_free(t);
}

static void setup(void)
{
    dir = t_tmpdir();
    cfg = t_path(dir, "lage.yaml");
    store = t_path(dir, "lage.sqlite");
}

static void teardown(void)
{
    t_rmrf(dir);
    free(dir);
    free(cfg);
    free(store);
}

static const char *cfg_head =
    "groups: [police, fire, military, lagezentrum]\n"
    "caveats: [nur-bund]\n"
    "layers:\n"
    "  incidents: {title: Einsatzstellen}\n"
    "  sites: {title: Objekte}\n"
    "sources:\n";

static void write_cfg(const char *sources)
{
    char *text = malloc(strlen(cfg_head) + strlen(sources) + 1);
    strcpy(text, cfg_head);
    strcat(text, sources);
    t_write(dir, "lage.yaml", text);
    free(text);
}

static const char *police_geojson =
    "{\"type\":\"FeatureCollection\",\"features\":[\n"
    "{\"type\":\"Feature\",\"properties\":{\"id\":\"P-1\",\"typ\":\"Sperre\",\"bez\":\"B1 Hameln\","
    "\"zeit\":\"2026-11-20T08:15:00Z\",\"genau\":5.5,\"einstufung\":\"VS-NfD\",\"freigabe\":\"police,fire\","
    "\"lage\":\"Brücke\",\"anzahl\":3},"
    "\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3567,52.1037]}},\n"
    "{\"type\":\"Feature\",\"properties\":{\"id\":\"P-2\",\"typ\":\"Unfall\",\"bez\":\"Deisterstr.\","
    "\"zeit\":\"2026-11-20T09:00:00+01:00\",\"genau\":12,\"einstufung\":null,\"freigabe\":null,"
    "\"lage\":null,\"anzahl\":1},"
    "\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3712,52.0988]}},\n"
    "{\"type\":\"Feature\",\"properties\":{\"id\":\"P-3\",\"typ\":\"Zone\",\"bez\":\"Altstadt\","
    "\"zeit\":\"2026-11-20\",\"genau\":20,\"einstufung\":\"OFFEN\",\"freigabe\":\"lagezentrum\","
    "\"lage\":\"Innenstadt\",\"anzahl\":0},"
    "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[9.35,52.10],[9.36,52.10],[9.36,52.11],"
    "[9.35,52.11],[9.35,52.10]]]}}\n"
    "]}\n";

static const char *police_source =
    "  police:\n"
    "    path: police.geojson\n"
    "    layer: incidents\n"
    "    agency: police\n"
    "    fid: id\n"
    "    mapping: {kind: typ, name: bez, observed_at: zeit, accuracy_m: genau}\n"
    "    set: {status: aktiv}\n"
    "    label:\n"
    "      level: OFFEN\n"
    "      releasable_to: [police, lagezentrum]\n"
    "      level_from: einstufung\n"
    "      releasable_to_from: freigabe\n";

LB_TEST(test_geojson_is_fused_with_mapping_labels_and_provenance)
{
    setup();
    t_write(dir, "police.geojson", police_geojson);
    write_cfg(police_source);
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    ASSERT_CONTAINS(r.out, "read 3, stored 3, repaired 0, rejected 0; revision 1");
    t_result_free(&r);

    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"), 3);
    char *s = t_sql(store, "SELECT kind||'|'||name||'|'||status||'|'||observed_at||'|'||accuracy_m"
                           " FROM incidents WHERE source_fid='P-1'");
    ASSERT_STREQ(s, "Sperre|B1 Hameln|aktiv|2026-11-20T08:15:00Z|5.5");
    free(s);
    /* label from the feature's attributes, or the source default when null */
    s = t_sql(store, "SELECT classification||'|'||releasable_to||'|'||label_level FROM incidents"
                     " WHERE source_fid='P-1'");
    ASSERT_STREQ(s, "VS-NfD|police,fire|1");
    free(s);
    s = t_sql(store, "SELECT classification||'|'||releasable_to FROM incidents WHERE source_fid='P-2'");
    ASSERT_STREQ(s, "OFFEN|police,lagezentrum");
    free(s);
    /* provenance and the unmapped attributes (mapped and label ones are not repeated) */
    s = t_sql(store, "SELECT source||'|'||attrs FROM incidents WHERE source_fid='P-1'");
    ASSERT_STREQ(s, "police|{\"lage\":\"Brücke\",\"anzahl\":3}");
    free(s);
    /* geometry in EPSG:4326, lon/lat order, registered and indexed */
    ASSERT_NEAR(t_sql_double(store, "SELECT X(geom) FROM incidents WHERE source_fid='P-1'"), 9.3567, 1e-12);
    ASSERT_NEAR(t_sql_double(store, "SELECT Y(geom) FROM incidents WHERE source_fid='P-1'"), 52.1037, 1e-12);
    ASSERT_EQ(t_sql_int(store, "SELECT srid FROM geometry_columns WHERE f_table_name='incidents'"), 4326);
    ASSERT_EQ(t_sql_int(store, "SELECT spatial_index_enabled FROM geometry_columns WHERE f_table_name='incidents'"), 1);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM idx_incidents_geom"), 3);
    ASSERT_EQ(t_sql_int(store, "SELECT revision FROM lb_layers WHERE layer='incidents'"), 1);
    teardown();
}

LB_TEST(test_reingest_replaces_atomically_and_bumps_revision)
{
    setup();
    t_write(dir, "police.geojson", police_geojson);
    write_cfg(police_source);
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    long long fid1 = t_sql_int(store, "SELECT fid FROM incidents WHERE source_fid='P-1'");

    /* the agency withdraws P-3: after re-ingest it is gone, the others keep their fid */
    const char *two =
        "{\"type\":\"FeatureCollection\",\"features\":[\n"
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"P-1\",\"typ\":\"Sperre\",\"bez\":\"B1 neu\"},"
        "\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3567,52.1037]}},\n"
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"P-2\",\"typ\":\"Unfall\",\"bez\":\"D\"},"
        "\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3712,52.0988]}}]}\n";
    t_write(dir, "police.geojson", two);
    write_cfg("  police:\n    path: police.geojson\n    layer: incidents\n    agency: police\n"
              "    fid: id\n    mapping: {kind: typ, name: bez}\n    label: {level: OFFEN}\n");
    r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    ASSERT_CONTAINS(r.out, "revision 2");
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"), 2);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents WHERE source_fid='P-3'"), 0);
    ASSERT_EQ(t_sql_int(store, "SELECT fid FROM incidents WHERE source_fid='P-1'"), fid1);
    char *s = t_sql(store, "SELECT name FROM incidents WHERE source_fid='P-1'");
    ASSERT_STREQ(s, "B1 neu");
    free(s);
    ASSERT_EQ(t_sql_int(store, "SELECT min(revision) FROM incidents"), 2);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM idx_incidents_geom"), 2);
    teardown();
}

/* Write a point shapefile in the given EPSG code with an id attribute. */
static void write_shp(const char *path, int epsg, int n, const double *x, const double *y)
{
    GDALAllRegister();
    GDALDriverH drv = GDALGetDriverByName("ESRI Shapefile");
    GDALDatasetH ds = GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, epsg);
    OGRLayerH lyr = GDALDatasetCreateLayer(ds, "pts", srs, wkbPoint, NULL);
    OGRFieldDefnH fd = OGR_Fld_Create("nr", OFTString);
    OGR_L_CreateField(lyr, fd, TRUE);
    OGR_Fld_Destroy(fd);
    for (int i = 0; i < n; i++) {
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(lyr));
        char id[16];
        snprintf(id, sizeof id, "S%d", i);
        OGR_F_SetFieldString(f, 0, id);
        OGRGeometryH g = OGR_G_CreateGeometry(wkbPoint);
        OGR_G_SetPoint_2D(g, 0, x[i], y[i]);
        OGR_F_SetGeometryDirectly(f, g);
        if (OGR_L_CreateFeature(lyr, f) != OGRERR_NONE)
            fprintf(stderr, "cannot write test feature\n");
        OGR_F_Destroy(f);
    }
    OSRDestroySpatialReference(srs);
    GDALClose(ds);
}

LB_TEST(test_gauss_krueger_source_lands_within_1cm_of_beta2007)
{
    setup();
    /* BKG control point (gk_to_utm.txt): GK3 3372824.499428 5467612.907301
     * = UTM32 372799.647928 5465865.755413 (ETRS89). Shapefile axis order is
     * easting,northing even though EPSG:31467 says northing,easting. */
    double x = 3372824.499428, y = 5467612.907301;
    char *shp = t_path(dir, "kritis.shp");
    write_shp(shp, 31467, 1, &x, &y);
    free(shp);
    write_cfg("  kritis:\n    path: kritis.shp\n    layer: sites\n    agency: kritis\n"
              "    fid: nr\n    label: {level: VS-NfD, releasable_to: [lagezentrum]}\n");
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    /* compare in UTM 32 metres: stored lon/lat projected to EPSG:25832
     * (ETRS89 = WGS 84 here: a pure projection, no datum shift) */
    double e = t_sql_double(store, "SELECT X(geom) FROM sites");
    double n = t_sql_double(store, "SELECT Y(geom) FROM sites");
    ASSERT(e > 7.0 && e < 8.0);
    utm(32, &e, &n);
    ASSERT_NEAR(e, 372799.647928, 0.01);
    ASSERT_NEAR(n, 5465865.755413, 0.01);
    teardown();
}

LB_TEST(test_missing_file_fails_alone_and_others_still_ingest)
{
    setup();
    t_write(dir, "police.geojson", police_geojson);
    char src[2048];
    snprintf(src, sizeof src, "%s"
             "  ghost:\n    path: nowhere/missing.geojson\n    layer: sites\n    agency: fire\n"
             "    label: {level: OFFEN}\n", police_source);
    write_cfg(src);
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 1);
    ASSERT_CONTAINS(r.err, "source 'ghost'");
    ASSERT_CONTAINS(r.err, "nowhere/missing.geojson");
    ASSERT_CONTAINS(r.err, "No such file");
    ASSERT_CONTAINS(r.err, "lage.yaml:");
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"), 3);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM lb_ingests WHERE source='ghost' AND status='ENOENT'"), 1);
    teardown();
}

/* Ingest the good police file, then replace it with bad content: the source
 * fails with a message containing want, and the stored revision survives. */
static void expect_source_failure_keeps_store(const char *file, const char *bad, size_t badlen,
                                              const char *want)
{
    t_write(dir, "police.geojson", police_geojson);
    write_cfg(police_source);
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    char *p = t_path(dir, file);
    FILE *f = fopen(p, "wb");
    fwrite(bad, 1, badlen, f);
    fclose(f);
    free(p);
    r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 1);
    ASSERT_CONTAINS(r.err, want);
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"), 3);
    ASSERT_EQ(t_sql_int(store, "SELECT revision FROM lb_layers WHERE layer='incidents'"), 1);
}

LB_TEST(test_broken_geojson_fails_and_keeps_previous_revision)
{
    setup();
    const char *bad = "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"prop";
    expect_source_failure_keeps_store("police.geojson", bad, strlen(bad), "police.geojson");
    teardown();
}

LB_TEST(test_truncated_shapefile_fails_and_keeps_previous_revision)
{
    setup();
    double xs[50], ys[50];
    for (int i = 0; i < 50; i++) {
        xs[i] = 530000 + i * 10.0;
        ys[i] = 5772000 + i * 10.0;
    }
    char *shp = t_path(dir, "fire.shp");
    write_shp(shp, 25832, 50, xs, ys);
    write_cfg("  fire:\n    path: fire.shp\n    layer: sites\n    agency: fire\n    fid: nr\n"
              "    label: {level: OFFEN}\n");
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    ASSERT_CONTAINS(r.out, "stored 50");
    t_result_free(&r);
    /* cut the .shp in the middle of its records */
    ASSERT_EQ(truncate(shp, 100 + 28 * 20 + 7), 0);
    free(shp);
    r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 1);
    ASSERT_CONTAINS(r.err, "fire.shp");
    ASSERT_CONTAINS(r.err, "corrupt or truncated");
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM sites"), 50);
    ASSERT_EQ(t_sql_int(store, "SELECT revision FROM lb_layers WHERE layer='sites'"), 1);
    teardown();
}

LB_TEST(test_unknown_driver_is_named)
{
    setup();
    t_write(dir, "police.geojson", police_geojson);
    write_cfg("  police:\n    path: police.geojson\n    driver: GeoJSONX\n    layer: incidents\n"
              "    agency: police\n    label: {level: OFFEN}\n");
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 1);
    ASSERT_CONTAINS(r.err, "unknown driver 'GeoJSONX'");
    t_result_free(&r);
    teardown();
}

LB_TEST(test_wrong_driver_for_file_is_an_error)
{
    setup();
    t_write(dir, "police.geojson", police_geojson);
    write_cfg("  police:\n    path: police.geojson\n    driver: GPKG\n    layer: incidents\n"
              "    agency: police\n    label: {level: OFFEN}\n");
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 1);
    ASSERT_CONTAINS(r.err, "not a readable GPKG dataset");
    t_result_free(&r);
    teardown();
}

static const char *csv_wkt =
    "nr,wkt,name\n"
    "1,\"POINT (9.35 52.10)\",a\n"
    "2,\"POINT (9.36 52.11)\",b\n";

LB_TEST(test_source_without_crs_is_refused_then_config_crs_works)
{
    setup();
    t_write(dir, "pts.csv", csv_wkt);
    write_cfg("  pts:\n    path: pts.csv\n    open_options: [GEOM_POSSIBLE_NAMES=wkt, KEEP_GEOM_COLUMNS=NO]\n"
              "    layer: sites\n    agency: fire\n    fid: nr\n    label: {level: OFFEN}\n");
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 1);
    ASSERT_CONTAINS(r.err, "source 'pts'");
    ASSERT_CONTAINS(r.err, "declares no CRS");
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM lb_sources"), 0);

    write_cfg("  pts:\n    path: pts.csv\n    open_options: [GEOM_POSSIBLE_NAMES=wkt, KEEP_GEOM_COLUMNS=NO]\n"
              "    crs: EPSG:4326\n    layer: sites\n    agency: fire\n    fid: nr\n"
              "    label: {level: OFFEN}\n");
    r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM sites"), 2);
    char *s = t_sql(store, "SELECT attrs FROM sites WHERE source_fid='1'");
    ASSERT_STREQ(s, "{\"name\":\"a\"}");
    free(s);
    teardown();
}

LB_TEST(test_wrong_crs_all_outside_area_of_use_fails_the_source)
{
    setup();
    /* UTM 32N coordinates declared as Gauss-Krüger zone 3 by mistake would
     * land far outside Germany; lat/lon swapped in 4326 likewise. */
    double xs[3] = {530000, 531000, 532000}, ys[3] = {5772000, 5773000, 5774000};
    char *shp = t_path(dir, "fire.shp");
    write_shp(shp, 25832, 3, xs, ys);
    free(shp);
    write_cfg("  fire:\n    path: fire.shp\n    crs: EPSG:31467\n    force_crs: true\n"
              "    layer: sites\n    agency: fire\n    fid: nr\n    label: {level: OFFEN}\n");
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 1);
    ASSERT_CONTAINS(r.err, "outside the area of use of EPSG:31467");
    ASSERT_CONTAINS(r.err, "wrong CRS?");
    t_result_free(&r);
    /* rolled back: not even the layer table was created */
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM sqlite_master WHERE name='sites'"), 0);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM lb_sources"), 0);
    teardown();
}

LB_TEST(test_bad_features_are_rejected_with_reasons_and_the_rest_stored)
{
    setup();
    const char *gj =
        "{\"type\":\"FeatureCollection\",\"features\":[\n"
        /* fine */
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"ok\"},\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3,52.1]}},\n"
        /* latitude outside the CRS's area of use */
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"far\"},\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3,95.0]}},\n"
        /* missing geometry */
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"nogeom\"},\"geometry\":null},\n"
        /* self-intersecting bow tie: repaired */
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"bowtie\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
        "[[[9.30,52.10],[9.31,52.11],[9.31,52.10],[9.30,52.11],[9.30,52.10]]]}},\n"
        /* duplicate id */
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"ok\"},\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.31,52.1]}},\n"
        /* bad per-feature label and time */
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"lvl\",\"einstufung\":\"STRENG GEHEIM\"},\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3,52.1]}},\n"
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"grp\",\"freigabe\":\"police,aliens\"},\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3,52.1]}},\n"
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"time\",\"zeit\":\"gestern\"},\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3,52.1]}}\n"
        "]}\n";
    t_write(dir, "police.geojson", gj);
    write_cfg("  police:\n    path: police.geojson\n    layer: incidents\n    agency: police\n    fid: id\n"
              "    mapping: {observed_at: zeit}\n"
              "    label: {level: OFFEN, level_from: einstufung, releasable_to_from: freigabe}\n");
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    ASSERT_CONTAINS(r.out, "read 8, stored 2, repaired 1, rejected 6");
    ASSERT_CONTAINS(r.err, "feature far rejected: coordinates outside the area of use");
    ASSERT_CONTAINS(r.err, "feature nogeom rejected: feature has no geometry");
    ASSERT_CONTAINS(r.err, "feature ok rejected: duplicate feature id 'ok'");
    ASSERT_CONTAINS(r.err, "feature lvl rejected: einstufung: 'STRENG GEHEIM' is not a classification level");
    ASSERT_CONTAINS(r.err, "feature grp rejected: freigabe: unknown group 'aliens'");
    ASSERT_CONTAINS(r.err, "feature time rejected: zeit: 'gestern' is not an ISO 8601 time");
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM lb_rejects WHERE source='police'"), 6);
    /* the repaired bow tie is valid and keeps (roughly) its area */
    ASSERT_EQ(t_sql_int(store, "SELECT ST_IsValid(geom) FROM incidents WHERE source_fid='bowtie'"), 1);
    ASSERT(t_sql_double(store, "SELECT ST_Area(geom) FROM incidents WHERE source_fid='bowtie'") > 4e-5);
    teardown();
}

LB_TEST(test_nan_and_infinite_coordinates_are_rejected)
{
    setup();
    /* KML is read with CPLAtof, which passes "nan" and "inf" through */
    t_write(dir, "fire.kml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<kml xmlns=\"http://www.opengis.net/kml/2.2\"><Document>\n"
            "<Placemark><name>ok</name><Point><coordinates>9.3,52.1</coordinates></Point></Placemark>\n"
            "<Placemark><name>nanline</name><LineString><coordinates>9.3,52.1 nan,52.2</coordinates>"
            "</LineString></Placemark>\n"
            "<Placemark><name>infpoint</name><Point><coordinates>inf,52.1</coordinates></Point></Placemark>\n"
            "</Document></kml>\n");
    write_cfg("  fire:\n    path: fire.kml\n    layer: sites\n    agency: fire\n    fid: Name\n"
              "    label: {level: OFFEN}\n");
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    ASSERT_CONTAINS(r.out, "read 3, stored 1");
    ASSERT_CONTAINS(r.err, "feature nanline rejected: coordinate is NaN or infinite");
    ASSERT_CONTAINS(r.err, "feature infpoint rejected: coordinate is NaN or infinite");
    t_result_free(&r);
    teardown();
}

LB_TEST(test_empty_geometries_are_rejected)
{
    setup();
    t_write(dir, "pts.csv",
            "nr,wkt\n"
            "1,\"POINT (9.35 52.10)\"\n"
            "2,\"POINT EMPTY\"\n"
            "3,\"POLYGON EMPTY\"\n"
            "4,\"LINESTRING EMPTY\"\n");
    write_cfg("  pts:\n    path: pts.csv\n    open_options: [GEOM_POSSIBLE_NAMES=wkt]\n"
              "    crs: EPSG:4326\n    layer: sites\n    agency: fire\n    fid: nr\n"
              "    label: {level: OFFEN}\n");
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    ASSERT_CONTAINS(r.out, "read 4, stored 1, repaired 0, rejected 3");
    ASSERT_CONTAINS(r.err, "feature 2 rejected: empty geometry");
    ASSERT_CONTAINS(r.err, "feature 3 rejected: empty geometry");
    ASSERT_CONTAINS(r.err, "feature 4 rejected: empty geometry");
    t_result_free(&r);
    teardown();
}

LB_TEST(test_mapping_naming_a_missing_attribute_fails_the_source)
{
    setup();
    t_write(dir, "police.geojson", police_geojson);
    write_cfg("  police:\n    path: police.geojson\n    layer: incidents\n    agency: police\n"
              "    mapping: {name: bezeichnung}\n    label: {level: OFFEN}\n");
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 1);
    ASSERT_CONTAINS(r.err, "mapping.name names attribute 'bezeichnung'");
    ASSERT_CONTAINS(r.err, "attributes: id, typ, bez");
    t_result_free(&r);
    teardown();
}

LB_TEST(test_mgrs_positions_and_malformed_mgrs)
{
    setup();
    t_write(dir, "units.csv",
            "id,einheit,mgrs\n"
            "U1,PiBtl 1,32UNC2400073000\n"
            "U2,Kp 2,32UNC2400730\n"   /* odd digit count */
            "U3,Kp 3,32INC2400073000\n" /* band I does not exist */
            "U4,Kp 4,\n");
    write_cfg("  units:\n    path: units.csv\n    layer: sites\n    agency: military\n    fid: id\n"
              "    mgrs: mgrs\n    label: {level: VS-VERTRAULICH, releasable_to: [military]}\n");
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    ASSERT_CONTAINS(r.out, "read 4, stored 1, repaired 0, rejected 3");
    ASSERT_CONTAINS(r.err, "feature U2 rejected: MGRS");
    ASSERT_CONTAINS(r.err, "feature U3 rejected: MGRS");
    ASSERT_CONTAINS(r.err, "feature U4 rejected: no MGRS position");
    t_result_free(&r);
    /* 32U NC 24000 73000 = E 524000, N 5773000 (UTM 32N); centre of the 1 m cell */
    double e = t_sql_double(store, "SELECT X(geom) FROM sites");
    double n = t_sql_double(store, "SELECT Y(geom) FROM sites");
    utm(32, &e, &n);
    ASSERT_NEAR(e, 524000.5, 0.01);
    ASSERT_NEAR(n, 5773000.5, 0.01);
    char *s = t_sql(store, "SELECT attrs FROM sites");
    ASSERT_STREQ(s, "{\"einheit\":\"PiBtl 1\",\"mgrs\":\"32UNC2400073000\"}");
    free(s);
    teardown();
}

LB_TEST(test_bad_config_is_reported_with_file_and_line)
{
    setup();
    t_write(dir, "police.geojson", police_geojson);
    write_cfg("  police:\n    path: police.geojson\n    layer: incidents\n    agency: police\n"
              "    lyaer: x\n    force_crs: maybe\n    label: {level: OFFEN}\n");
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 1);
    ASSERT_CONTAINS(r.err, "lage.yaml:11:");
    ASSERT_CONTAINS(r.err, "'lyaer'");
    ASSERT_CONTAINS(r.err, "lage.yaml:12:");
    ASSERT_CONTAINS(r.err, "force_crs");
    t_result_free(&r);
    r = t_lagebild("check", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 1);
    ASSERT_CONTAINS(r.err, "lage.yaml:11:");
    t_result_free(&r);
    /* nothing was created */
    struct stat sb;
    ASSERT(stat(store, &sb) != 0);
    teardown();
}

LB_TEST(test_sigkill_during_ingest_keeps_previous_revision)
{
    setup();
    /* a first revision of 3 features, then a re-ingest of 5000 killed after 2500 */
    t_write(dir, "police.geojson", police_geojson);
    write_cfg(police_source);
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);

    char *p = t_path(dir, "police.geojson");
    FILE *f = fopen(p, "w");
    fputs("{\"type\":\"FeatureCollection\",\"features\":[\n", f);
    for (int i = 0; i < 5000; i++)
        fprintf(f, "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"N%d\",\"typ\":\"x\",\"bez\":\"y\","
                   "\"zeit\":\"2026-11-21\",\"genau\":1,\"einstufung\":\"OFFEN\",\"freigabe\":\"police\"},\"geometry\":{\"type\":\"Point\","
                   "\"coordinates\":[%.5f,52.1]}}\n", i ? "," : "", i, 9.0 + i * 1e-5);
    fputs("]}\n", f);
    fclose(f);
    free(p);
    const char *env[] = {"LAGEBILD_FAULT_KILL_AFTER=2500", NULL};
    const char *argv[] = {LB_BINARY, "ingest", "--config", cfg, NULL};
    r = t_run_env(env, argv);
    if (r.status != 128 + SIGKILL)
        fprintf(stderr, "%s\n%s\n", r.out, r.err);
    ASSERT_EQ(r.status, 128 + SIGKILL);
    t_result_free(&r);
    /* the store opens (WAL recovery) and holds the old revision, whole */
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"), 3);
    ASSERT_EQ(t_sql_int(store, "SELECT revision FROM lb_layers WHERE layer='incidents'"), 1);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM idx_incidents_geom"), 3);
    /* and the next ingest completes */
    r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    ASSERT_CONTAINS(r.out, "stored 5000");
    ASSERT_CONTAINS(r.out, "revision 2");
    t_result_free(&r);
    teardown();
}

LB_TEST(test_only_named_source_is_ingested)
{
    setup();
    t_write(dir, "police.geojson", police_geojson);
    t_write(dir, "pts.csv", csv_wkt);
    char src[2048];
    snprintf(src, sizeof src, "%s"
             "  pts:\n    path: pts.csv\n    open_options: [GEOM_POSSIBLE_NAMES=wkt]\n"
             "    crs: EPSG:4326\n    layer: sites\n    agency: fire\n    label: {level: OFFEN}\n",
             police_source);
    write_cfg(src);
    t_result r = t_lagebild("ingest", cfg, "--source", "pts");
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM lb_sources"), 1);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM sites"), 2);
    r = t_lagebild("ingest", cfg, "--source", "nosuch");
    ASSERT_EQ(r.status, 2);
    ASSERT_CONTAINS(r.err, "no source 'nosuch'");
    t_result_free(&r);
    teardown();
}

LB_TESTS(test_geojson_is_fused_with_mapping_labels_and_provenance,
         test_reingest_replaces_atomically_and_bumps_revision,
         test_gauss_krueger_source_lands_within_1cm_of_beta2007,
         test_missing_file_fails_alone_and_others_still_ingest,
         test_broken_geojson_fails_and_keeps_previous_revision,
         test_truncated_shapefile_fails_and_keeps_previous_revision,
         test_unknown_driver_is_named, test_wrong_driver_for_file_is_an_error,
         test_source_without_crs_is_refused_then_config_crs_works,
         test_wrong_crs_all_outside_area_of_use_fails_the_source,
         test_bad_features_are_rejected_with_reasons_and_the_rest_stored,
         test_nan_and_infinite_coordinates_are_rejected, test_empty_geometries_are_rejected,
         test_mapping_naming_a_missing_attribute_fails_the_source,
         test_mgrs_positions_and_malformed_mgrs, test_bad_config_is_reported_with_file_and_line,
         test_sigkill_during_ingest_keeps_previous_revision, test_only_named_source_is_ingested)
