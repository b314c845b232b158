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
#include "lagebild/util.h"
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

/* The police file and source, ingested. */
static void ingest_police(void)
{
    t_write(dir, "police.geojson", police_geojson);
    write_cfg(police_source);
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
}

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
    ingest_police();
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
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
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
    ingest_police();
    char *p = t_path(dir, file);
    FILE *f = fopen(p, "wb");
    fwrite(bad, 1, badlen, f);
    fclose(f);
    free(p);
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
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
    ingest_police();

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
    t_result r = t_run_env(env, argv);
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

/* Run SQL on a database with SpatiaLite loaded, as another writer (the
 * spatialite shell, QGIS) would; 0 on success. */
static int t_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        sqlite3_enable_load_extension(db, 1);
        rc = sqlite3_load_extension(db, "mod_spatialite", NULL, NULL);
    }
    char *msg = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "  (SQL: %s)\n", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc;
}

/* SpatiaLite's own check of a spatial index (it logs, so it needs write access). */
static long long check_spatial_index(const char *layer)
{
    sqlite3 *db = NULL;
    long long v = -1;
    if (sqlite3_open_v2(store, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_enable_load_extension(db, 1);
        sqlite3_load_extension(db, "mod_spatialite", NULL, NULL);
        char *sql = sqlite3_mprintf("SELECT CheckSpatialIndex(%Q, 'geom')", layer);
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW)
            v = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        sqlite3_free(sql);
    }
    sqlite3_close(db);
    return v;
}

/* The layer's spatial index has one entry per row with a geometry, each
 * containing its row's MBR, and is a well-formed R*Tree. */
static void expect_spatial_index_in_step(const char *layer)
{
    long long rows = t_sql_int(store, "SELECT count(*) FROM %s WHERE geom IS NOT NULL", layer);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM idx_%s_geom", layer), rows);
    ASSERT_EQ(t_sql_int(store,
                        "SELECT count(*) FROM %s t JOIN idx_%s_geom i ON i.pkid = t.rowid"
                        " WHERE i.xmin <= MbrMinX(t.geom) AND i.xmax >= MbrMaxX(t.geom)"
                        " AND i.ymin <= MbrMinY(t.geom) AND i.ymax >= MbrMaxY(t.geom)",
                        layer, layer),
              rows);
    char *s = t_sql(store, "SELECT rtreecheck('idx_%s_geom')", layer);
    ASSERT_STREQ(s, "ok");
    free(s);
    ASSERT_EQ(check_spatial_index(layer), 1);
}

/* The triggers of a layer table as SpatiaLite defines them for a table of
 * that name (made by SpatiaLite itself in a scratch database). */
static char *spatialite_triggers(const char *layer)
{
    char *ref = t_path(dir, "spatialite-ref.sqlite");
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT InitSpatialMetadata(1); CREATE TABLE %s (pk INTEGER PRIMARY KEY);"
             "SELECT AddGeometryColumn('%s', 'geom', 4326, 'GEOMETRY', 'XY');"
             "SELECT CreateSpatialIndex('%s', 'geom');",
             layer, layer, layer);
    char *s = NULL;
    if (t_exec(ref, sql) == 0)
        s = t_sql(ref, "SELECT group_concat(name || ': ' || sql, ' | ') FROM (SELECT name, sql"
                       " FROM sqlite_master WHERE type = 'trigger' AND tbl_name = '%s'"
                       " ORDER BY name)",
                  layer);
    unlink(ref);
    free(ref);
    return s;
}

LB_TEST(test_store_keeps_spatialite_triggers_for_other_writers)
{
    setup();
    ingest_police();
    /* the ingest suspends SpatiaLite's triggers inside its transaction only:
     * afterwards the table has exactly those SpatiaLite defines */
    char *want = spatialite_triggers("incidents");
    ASSERT(want != NULL);
    char *have = t_sql(store, "SELECT group_concat(name || ': ' || sql, ' | ') FROM (SELECT name,"
                              " sql FROM sqlite_master WHERE type = 'trigger' AND"
                              " tbl_name = 'incidents' ORDER BY name)");
    ASSERT_STREQ(have, want);
    free(have);
    free(want);
    expect_spatial_index_in_step("incidents");

    /* another writer with plain SQL: its rows get their R*Tree entries */
    ASSERT_EQ(t_exec(store, "INSERT INTO incidents (fid, source, source_fid, label_level,"
                            " classification, releasable_to, caveats, revision, geom) VALUES"
                            " (42, 'qgis', 'Q-1', 0, 'OFFEN', '', '', 1,"
                            " MakePoint(9.40, 52.12, 4326))"),
              0);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM idx_incidents_geom"), 4);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM idx_incidents_geom i JOIN incidents t ON"
                               " t.rowid = i.pkid WHERE t.source_fid = 'Q-1' AND i.xmin <= 9.40"
                               " AND i.xmax >= 9.40 AND i.ymin <= 52.12 AND i.ymax >= 52.12"),
              1);
    /* ... found through SpatiaLite's own spatial index query */
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents WHERE rowid IN (SELECT rowid FROM"
                               " SpatialIndex WHERE f_table_name = 'incidents' AND"
                               " search_frame = BuildMbr(9.39, 52.11, 9.41, 52.13, 4326))"),
              1);
    /* the geometry constraint still holds (SRID 3857 is refused) */
    ASSERT_NE(t_exec(store, "INSERT INTO incidents (fid, source, source_fid, label_level,"
                            " classification, releasable_to, caveats, revision, geom) VALUES"
                            " (43, 'qgis', 'Q-2', 0, 'OFFEN', '', '', 1, MakePoint(1, 2, 3857))"),
              0);
    /* updates and deletes keep the index in step too */
    ASSERT_EQ(t_exec(store, "UPDATE incidents SET geom = MakePoint(9.50, 52.20, 4326)"
                            " WHERE source_fid = 'P-1'; DELETE FROM incidents"
                            " WHERE source_fid = 'P-3'"),
              0);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM idx_incidents_geom i JOIN incidents t ON"
                               " t.rowid = i.pkid WHERE t.source_fid = 'P-1' AND i.xmin <= 9.50"
                               " AND i.xmax >= 9.50"),
              1);
    expect_spatial_index_in_step("incidents");

    /* the next ingest replaces the source's rows and keeps the other writer's */
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    ASSERT_CONTAINS(r.out, "stored 3");
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"), 4);
    expect_spatial_index_in_step("incidents");
    ASSERT(t_sql_double(store, "SELECT X(geom) FROM incidents WHERE source_fid = 'P-1'") < 9.4);
    teardown();
}

/* n points along a line in Lower Saxony, ids S0.. (EPSG:4326 shapefile) */
static void write_points(const char *name, int n)
{
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    for (int i = 0; i < n; i++) {
        x[i] = 9.0 + 0.001 * i;
        y[i] = 52.0 + 0.0005 * (i % 97);
    }
    char *p = t_path(dir, name);
    write_shp(p, 4326, n, x, y);
    free(p);
    free(x);
    free(y);
}

LB_TEST(test_reingest_keeps_spatial_index_in_step_with_rows)
{
    setup();
    /* a large source and a small one in one layer */
    write_points("sensors.shp", 400);
    t_write(dir, "police.geojson", police_geojson);
    char src[4096];
    snprintf(src, sizeof src,
             "%s  sensors:\n    path: sensors.shp\n    layer: incidents\n    agency: fire\n"
             "    fid: nr\n    label: {level: OFFEN}\n",
             police_source);
    write_cfg(src);
    t_result r = t_lagebild("ingest", cfg, NULL, NULL);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"), 403);
    expect_spatial_index_in_step("incidents");

    /* re-ingesting the small source updates the index entry by entry */
    r = t_lagebild("ingest", cfg, "--source", "police");
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"), 403);
    expect_spatial_index_in_step("incidents");

    /* the large source shrinks, then grows: the index is rebuilt */
    write_points("sensors.shp", 250);
    r = t_lagebild("ingest", cfg, "--source", "sensors");
    ASSERT_EQ(r.status, 0);
    ASSERT_CONTAINS(r.out, "stored 250");
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"), 253);
    expect_spatial_index_in_step("incidents");
    write_points("sensors.shp", 5000);
    r = t_lagebild("ingest", cfg, "--source", "sensors");
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"), 5003);
    expect_spatial_index_in_step("incidents");
    /* a window query through the index finds what a full scan finds */
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM idx_incidents_geom WHERE xmin <= 10.0 AND"
                               " xmax >= 9.5 AND ymin <= 52.02 AND ymax >= 52.0"),
              t_sql_int(store, "SELECT count(*) FROM incidents WHERE MbrMinX(geom) <= 10.0 AND"
                               " MbrMaxX(geom) >= 9.5 AND MbrMinY(geom) <= 52.02 AND"
                               " MbrMaxY(geom) >= 52.0"));

    /* the small source moves to another layer: both layers stay in step */
    snprintf(src, sizeof src,
             "  police:\n    path: police.geojson\n    layer: sites\n    agency: police\n"
             "    fid: id\n    label: {level: OFFEN}\n"
             "  sensors:\n    path: sensors.shp\n    layer: incidents\n    agency: fire\n"
             "    fid: nr\n    label: {level: OFFEN}\n");
    write_cfg(src);
    r = t_lagebild("ingest", cfg, "--source", "police");
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"), 5000);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM sites"), 3);
    expect_spatial_index_in_step("incidents");
    expect_spatial_index_in_step("sites");
    teardown();
}

/* A spatial index built in several chunks (the size is lowered so that a
 * small layer needs seven of them) is as complete and well-formed as one
 * built in a single pass. */
LB_TEST(test_spatial_index_built_in_chunks_is_complete)
{
    setup();
    write_points("sensors.shp", 6500);
    write_cfg("  sensors:\n    path: sensors.shp\n    layer: incidents\n    agency: fire\n"
              "    fid: nr\n    label: {level: OFFEN}\n");
    const char *env[] = {"LAGEBILD_RTREE_CHUNK=1000", NULL};
    const char *argv[] = {LB_BINARY, "ingest", "--config", cfg, NULL};
    t_result r = t_run_env(env, argv);
    if (r.status != 0)
        fprintf(stderr, "%s\n%s\n", r.out, r.err);
    ASSERT_EQ(r.status, 0);
    ASSERT_CONTAINS(r.out, "stored 6500");
    t_result_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"), 6500);
    expect_spatial_index_in_step("incidents");
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM idx_incidents_geom WHERE xmin <= 10.0 AND"
                               " xmax >= 9.5 AND ymin <= 52.02 AND ymax >= 52.0"),
              t_sql_int(store, "SELECT count(*) FROM incidents WHERE MbrMinX(geom) <= 10.0 AND"
                               " MbrMaxX(geom) >= 9.5 AND MbrMinY(geom) <= 52.02 AND"
                               " MbrMaxY(geom) >= 52.0"));
    teardown();
}

/* The fid a file feature sfid of source starts from (stable_fid in
 * fusion/ingest.c). */
static long long stable_fid(const char *source, const char *sfid)
{
    uint64_t h = lb_fnv1a(LB_FNV_INIT, source, strlen(source));
    h = lb_fnv1a(h, "\x1f", 1);
    h = lb_fnv1a(h, sfid, strlen(sfid));
    h &= (1ULL << 53) - 1;
    return (long long)(h ? h : 1);
}

/*
 * A file feature whose stable fid another row already holds (FNV collisions
 * can be crafted: a writer could push a feature with that fid to keep a file
 * feature to come out of the store) is stored under the next free fid, the
 * same one at every re-ingest while the other row is there, and the other
 * row is not touched; an id twice in the file is still a duplicate.
 */
LB_TEST(test_file_feature_whose_fid_is_taken_is_stored_under_another)
{
    setup();
    ingest_police();
    long long p1 = stable_fid("police", "P-1");
    ASSERT_EQ(t_sql_int(store, "SELECT fid FROM incidents WHERE source_fid='P-1'"), p1);
    /* another source's row takes P-1's fid (the file's rows were removed
     * meanwhile, as a re-ingest of an empty file would) */
    char sql[512];
    snprintf(sql, sizeof sql,
             "DELETE FROM incidents; INSERT INTO incidents (fid, source, source_fid, label_level,"
             " classification, releasable_to, caveats, revision, geom) VALUES (%lld, 'qgis',"
             " 'Q-1', 2, 'VS-VERTRAULICH', 'police', '', 1, MakePoint(9.3, 52.0, 4326))",
             p1);
    ASSERT_EQ(t_exec(store, sql), SQLITE_OK);
    long long other[2];
    for (int i = 0; i < 2; i++) {
        t_result r = t_lagebild("ingest", cfg, NULL, NULL);
        ASSERT_EQ(r.status, 0);
        ASSERT_CONTAINS(r.out, "read 3, stored 3, repaired 0, rejected 0");
        t_result_free(&r);
        other[i] = t_sql_int(store, "SELECT fid FROM incidents WHERE source_fid='P-1'");
        ASSERT_NE(other[i], p1);
        ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents WHERE source='qgis' AND"
                                   " source_fid='Q-1' AND classification='VS-VERTRAULICH'"),
                  1);
    }
    ASSERT_EQ(other[0], other[1]);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM lb_rejects"), 0);
    teardown();
}

LB_TESTS(test_geojson_is_fused_with_mapping_labels_and_provenance,
         test_file_feature_whose_fid_is_taken_is_stored_under_another,
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
         test_sigkill_during_ingest_keeps_previous_revision, test_only_named_source_is_ingested,
         test_store_keeps_spatialite_triggers_for_other_writers,
         test_reingest_keeps_spatial_index_in_step_with_rows,
         test_spatial_index_built_in_chunks_is_complete)
