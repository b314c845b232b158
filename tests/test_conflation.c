/*
 * Conflation across agencies (fusion/conflate.c): the fire brigade and the
 * THW report hydrants into one layer with conflate: {distance_m: 50,
 * time_window: 30m}.  Checked through the library (lb_store_scan_layer, the
 * rows the snapshot and the tiler read) and through the running server (what
 * each role actually receives as pixels):
 *   - the same hydrant 20 m apart within 10 min: one feature, geometry of the
 *     more accurate report, the most restrictive label, provenance of both;
 *   - 200 m apart, or 2 h apart, or from the same source: two features;
 *   - a report withdrawn (its source re-ingested without it): un-merged;
 *   - a role cleared for only one of the two labels does not see the fused
 *     feature; it still sees the report it is cleared for, exactly as without
 *     conflation (hiding it would reveal the other, uncleared report);
 *   - releasability lists without a common group are not merged;
 *   - lb_conflate_region after changes gives exactly lb_conflate_layer's result.
 */
#include <math.h>
#include <png.h>

#include "lagebild/access.h"
#include "lagebild/fusion.h"
#include "lagebild/tiler.h"
#include "lagebild/util.h"
#include "lbtest.h"
#include "thttp.h"
#include "tutil.h"

static char *dir, *cfg_path, *store_path;

/* demo token hashes: demo-fire, demo-police (here: THW), demo-lagezentrum;
 * demo-both: the fire brigade plus the Lagezentrum inside a district west of
 * the hydrants (9.20-9.30 E, 52.05-52.09 N) */
static const char *const config_text =
    "store: {path: store.sqlite}\n"
    "groups: [fire, thw, lagezentrum]\n"
    "layers:\n"
    "  hydrants:\n"
    "    title: Hydranten\n"
    "    style: common\n"
    "    conflate: {distance_m: 50, time_window: 30m}\n"
    "  plain:\n"
    "    title: Ohne Zusammenführung\n"
    "sources:\n"
    "  fire_h:\n"
    "    path: fire.geojson\n"
    "    layer: hydrants\n"
    "    agency: fire\n"
    "    fid: id\n"
    "    mapping: {kind: kind, observed_at: t, accuracy_m: acc}\n"
    "    label: {level: OFFEN, releasable_to: [fire, lagezentrum]}\n"
    "  thw_h:\n"
    "    path: thw.geojson\n"
    "    layer: hydrants\n"
    "    agency: thw\n"
    "    fid: id\n"
    "    mapping: {kind: kind, observed_at: t, accuracy_m: acc}\n"
    "    label: {level: VS-NfD, releasable_to: %s}\n"
    "maps:\n"
    "  h: {title: H, layers: [hydrants]}\n"
    "roles:\n"
    "  fire: {title: F, clearance: {level: VS-NfD, groups: [fire]}, layers: [\"*\"]}\n"
    "  thw: {title: T, clearance: {level: VS-NfD, groups: [thw]}, layers: [\"*\"]}\n"
    "  lz: {title: L, clearance: {level: VS-VERTRAULICH, groups: [lagezentrum]}, layers: [\"*\"]}\n"
    "  lz_district: {title: LD, clearance: {level: VS-NfD, groups: [lagezentrum]},"
    " layers: [\"*\"], area: {path: district.geojson}}\n"
    "tokens:\n"
    "  demo-fire: {hash: \"sha256:28e4c77f9a8c51e25c894cf6cd5846a83a9ac3edcf1fa39684a4e43c478e06aa\", roles: [fire]}\n"
    "  demo-police: {hash: \"sha256:b8c728cb60570a5d71ad42bc3abd521b954b681ea55f9cc22733b73c0d8976f6\", roles: [thw]}\n"
    "  demo-lagezentrum: {hash: \"sha256:048cde1603261702089f79b2c89f849772fb9ea1be7546641fcf00b86cc557ca\", roles: [lz]}\n"
    "  demo-both: {hash: \"sha256:ea285706aa5e2a6fc9dc16dba7d73f93486067dafbe4149f91a8fd5092defe3c\", roles: [fire, lz_district]}\n";

#define LON0 9.3600
#define LAT0 52.1000
/* metres east of LON0 at LAT0 in degrees */
#define EAST(m) ((m) / (6371008.8 * M_PI / 180 * cos(LAT0 * M_PI / 180)))

static void write_config(const char *thw_groups)
{
    char text[8192];
    snprintf(text, sizeof text, config_text, thw_groups);
    t_write(dir, "lagebild.yaml", text);
}

/* A GeoJSON file with one point per (id, kind, lon, lat, time, accuracy). */
typedef struct pt {
    const char *id, *kind;
    double lon, lat;
    const char *t;
    double acc;
} pt;

static void write_points(const char *name, const pt *p, size_t n)
{
    lb_buf b = {0};
    lb_buf_puts(&b, "{\"type\":\"FeatureCollection\",\"features\":[");
    for (size_t i = 0; i < n; i++)
        lb_buf_printf(&b,
                      "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"%s\",\"kind\":\"%s\","
                      "\"t\":\"%s\",\"acc\":%g},\"geometry\":{\"type\":\"Point\","
                      "\"coordinates\":[%.9f,%.9f]}}",
                      i ? "," : "", p[i].id, p[i].kind, p[i].t, p[i].acc, p[i].lon, p[i].lat);
    lb_buf_puts(&b, "]}");
    t_write(dir, name, b.data);
    lb_buf_free(&b);
}

static lb_config *cfg;
static lb_store *st;

static void setup(const char *thw_groups)
{
    static bool init;
    if (!init)
        lb_fusion_init();
    init = true;
    dir = t_tmpdir();
    write_config(thw_groups);
    t_write(dir, "district.geojson",
            "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{},"
            "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[9.2,52.05],[9.3,52.05],"
            "[9.3,52.09],[9.2,52.09],[9.2,52.05]]]}}]}\n");
    cfg_path = t_path(dir, "lagebild.yaml");
    store_path = t_path(dir, "store.sqlite");
    char *diag = NULL;
    lb_status rc = lb_config_load(cfg_path, &cfg, &diag);
    if (rc != LB_OK)
        fprintf(stderr, "%s\n", diag ? diag : "?");
    free(diag);
    ASSERT_EQ(rc, LB_OK);
    lb_error err;
    ASSERT_EQ(lb_store_open(store_path, &st, &err), LB_OK);
}

static void teardown(void)
{
    lb_store_close(st);
    lb_config_free(cfg);
    st = NULL;
    cfg = NULL;
    t_rmrf(dir);
    free(dir);
    free(cfg_path);
    free(store_path);
}

static void ingest(const char *source)
{
    lb_ingest_stats s;
    lb_error err;
    lb_status rc = lb_ingest_source(st, cfg, lb_config_source(cfg, source), NULL, &s, &err);
    if (rc != LB_OK)
        fprintf(stderr, "  ingest %s: %s\n", source, err.msg);
    ASSERT_EQ(rc, LB_OK);
}

/* What the snapshot reads: every feature of the layer. */
typedef struct seen {
    int64_t fid;
    char source[64], source_fid[64], releasable_to[128], attrs[1024];
    int level;
    double x, y;
    bool member; /* merged into a fused feature */
    int fused_level;
    char fused_releasable_to[128];
} seen;

typedef struct scan {
    seen v[64];
    size_t n;
} scan;

static bool collect(void *ud, const lb_stored_feature *f)
{
    scan *s = ud;
    if (s->n == 64)
        return false;
    seen *e = &s->v[s->n++];
    e->fid = f->fid;
    snprintf(e->source, sizeof e->source, "%s", f->source);
    snprintf(e->source_fid, sizeof e->source_fid, "%s", f->source_fid);
    snprintf(e->releasable_to, sizeof e->releasable_to, "%s", f->releasable_to);
    snprintf(e->attrs, sizeof e->attrs, "%s", f->attrs ? f->attrs : "");
    e->level = f->label_level;
    e->member = f->member;
    if (f->member) {
        e->fused_level = f->fused_level;
        snprintf(e->fused_releasable_to, sizeof e->fused_releasable_to, "%s",
                 f->fused_releasable_to);
    }
    ASSERT(f->wkb_len == 21);
    memcpy(&e->x, f->wkb + 5, 8);
    memcpy(&e->y, f->wkb + 13, 8);
    return true;
}

/* Every row of the scan into all; the features a fully cleared role sees
 * (fused features and unmerged reports) into s. */
static scan all;

static void scan_layer(scan *s)
{
    memset(&all, 0, sizeof all);
    int64_t rev;
    lb_error err;
    ASSERT_EQ(lb_store_scan_layer(st, "hydrants", collect, &all, &rev, &err), LB_OK);
    for (size_t i = 1; i < all.n; i++)
        ASSERT(all.v[i - 1].fid < all.v[i].fid); /* fid order, each once */
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < all.n; i++)
        if (!all.v[i].member)
            s->v[s->n++] = all.v[i];
}

static const seen *find(const scan *s, const char *source_fid)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].source_fid, source_fid) == 0)
            return &s->v[i];
    return NULL;
}

static lb_label label_of(int level, const char *releasable_to)
{
    lb_label l = {.level = (lb_level)level};
    char groups[128];
    snprintf(groups, sizeof groups, "%s", releasable_to);
    for (char *tok = strtok(groups, ","); tok; tok = strtok(NULL, ",")) {
        int i = lb_config_group_index(cfg, tok);
        ASSERT(i >= 0);
        l.groups |= 1ULL << i;
    }
    return l;
}

/* Whether role sees a scanned row: its label allows it and, for a merged
 * report, the fused label does not (then the fused feature is shown). */
static bool role_sees(const char *role_token, const seen *e)
{
    lb_access *a = NULL;
    lb_error err;
    ASSERT_EQ(lb_access_new(cfg, &a, &err), LB_OK);
    const lb_token_cfg *p = lb_access_authenticate(a, role_token);
    ASSERT(p != NULL);
    lb_grant g;
    bool vis = lb_access_layer(a, p, "hydrants", time(NULL), &g);
    lb_label l = label_of(e->level, e->releasable_to);
    bool ok = vis && lb_grant_allows(&g, &l);
    if (ok && e->member) {
        lb_label f = label_of(e->fused_level, e->fused_releasable_to);
        ok = !lb_grant_allows(&g, &f);
    }
    lb_access_free(a);
    return ok;
}

static const pt fire_a = {"F1", "hydrant", LON0, LAT0, "2026-05-01T10:00:00Z", 5};

LB_TEST(test_same_hydrant_from_two_agencies_is_one_feature)
{
    setup("[thw, lagezentrum]");
    pt thw_b = {"T1", "hydrant", LON0 + EAST(20), LAT0, "2026-05-01T10:10:00Z", 15};
    write_points("fire.geojson", &fire_a, 1);
    write_points("thw.geojson", &thw_b, 1);
    ingest("fire_h");
    scan s;
    scan_layer(&s);
    ASSERT_EQ(s.n, 1);
    /* before the THW report: the fire brigade sees its own hydrant */
    ASSERT(role_sees("demo-fire", &s.v[0]));
    ingest("thw_h");
    scan_layer(&s);
    ASSERT_EQ(s.n, 1); /* one real-world hydrant */
    const seen *f = &s.v[0];
    ASSERT_STREQ(f->source, LB_FUSED_SOURCE);
    /* geometry of the more accurate report (fire, 5 m) */
    ASSERT_NEAR(f->x, LON0, 1e-9);
    ASSERT_NEAR(f->y, LAT0, 1e-9);
    /* most restrictive label: VS-NfD, releasable only to the common group */
    ASSERT_EQ(f->level, LB_LEVEL_VS_NFD);
    ASSERT_STREQ(f->releasable_to, "lagezentrum");
    /* provenance of both reports, the more accurate first */
    ASSERT_CONTAINS(f->attrs, "\"reports\":[{\"source\":\"fire_h\",\"source_fid\":\"F1\"");
    ASSERT_CONTAINS(f->attrs, "{\"source\":\"thw_h\",\"source_fid\":\"T1\"");
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM lb_conflation WHERE layer='hydrants'"), 2);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(DISTINCT fused_fid) FROM lb_conflation"), 1);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM lb_conflation WHERE source='thw_h'"
                                    " AND source_fid='T1'"), 1);
    /* both reports are still stored as delivered */
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM hydrants"), 2);
    /* only a role cleared for both labels sees the fused hydrant */
    ASSERT(role_sees("demo-lagezentrum", f));
    ASSERT(!role_sees("demo-fire", f));
    ASSERT(!role_sees("demo-police", f)); /* the THW role */
    /* the reports: flagged with the fused label; each agency still sees its
     * own (as before), the Lagezentrum neither (it sees the fused one) */
    ASSERT_EQ(all.n, 3);
    const seen *rf = find(&all, "F1"), *rt = find(&all, "T1");
    ASSERT(rf && rt && rf->member && rt->member);
    ASSERT_EQ(rf->fused_level, LB_LEVEL_VS_NFD);
    ASSERT_STREQ(rf->fused_releasable_to, "lagezentrum");
    ASSERT(role_sees("demo-fire", rf));
    ASSERT(!role_sees("demo-fire", rt));
    ASSERT(role_sees("demo-police", rt));
    ASSERT(!role_sees("demo-police", rf));
    ASSERT(!role_sees("demo-lagezentrum", rf));
    ASSERT(!role_sees("demo-lagezentrum", rt));
    teardown();
}

LB_TEST(test_too_far_too_late_or_same_source_stay_apart)
{
    setup("[thw, lagezentrum]");
    write_points("fire.geojson", &fire_a, 1);
    ingest("fire_h");
    /* 200 m apart */
    pt far = {"T1", "hydrant", LON0 + EAST(200), LAT0, "2026-05-01T10:10:00Z", 15};
    write_points("thw.geojson", &far, 1);
    ingest("thw_h");
    scan s;
    scan_layer(&s);
    ASSERT_EQ(s.n, 2);
    ASSERT(strcmp(s.v[0].source, LB_FUSED_SOURCE) != 0 && strcmp(s.v[1].source, LB_FUSED_SOURCE) != 0);
    /* 20 m apart but 2 h later */
    pt late = {"T1", "hydrant", LON0 + EAST(20), LAT0, "2026-05-01T12:00:00Z", 15};
    write_points("thw.geojson", &late, 1);
    ingest("thw_h");
    scan_layer(&s);
    ASSERT_EQ(s.n, 2);
    /* 20 m and 10 min, but another kind */
    pt other = {"T1", "water_tank", LON0 + EAST(20), LAT0, "2026-05-01T10:10:00Z", 15};
    write_points("thw.geojson", &other, 1);
    ingest("thw_h");
    scan_layer(&s);
    ASSERT_EQ(s.n, 2);
    /* within 50 m and the window, but just inside / outside the distance */
    pt in49 = {"T1", "hydrant", LON0 + EAST(49), LAT0, "2026-05-01T10:29:00Z", 15};
    write_points("thw.geojson", &in49, 1);
    ingest("thw_h");
    scan_layer(&s);
    ASSERT_EQ(s.n, 1);
    pt out51 = {"T1", "hydrant", LON0 + EAST(51), LAT0, "2026-05-01T10:10:00Z", 15};
    write_points("thw.geojson", &out51, 1);
    ingest("thw_h");
    scan_layer(&s);
    ASSERT_EQ(s.n, 2);
    /* two hydrants of the same source 20 m apart are two hydrants */
    pt two[2] = {fire_a, {"F2", "hydrant", LON0 + EAST(20), LAT0, "2026-05-01T10:00:00Z", 5}};
    write_points("fire.geojson", two, 2);
    write_points("thw.geojson", &far, 1);
    ingest("fire_h");
    ingest("thw_h");
    scan_layer(&s);
    ASSERT_EQ(s.n, 3);
    teardown();
}

LB_TEST(test_withdrawn_report_unmerges)
{
    setup("[thw, lagezentrum]");
    pt thw_b[2] = {{"T1", "hydrant", LON0 + EAST(20), LAT0, "2026-05-01T10:10:00Z", 15},
                   {"T2", "hydrant", LON0 + EAST(5000), LAT0, "2026-05-01T10:10:00Z", 15}};
    write_points("fire.geojson", &fire_a, 1);
    write_points("thw.geojson", thw_b, 2);
    ingest("fire_h");
    ingest("thw_h");
    scan s;
    scan_layer(&s);
    ASSERT_EQ(s.n, 2); /* fused + T2 */
    /* the THW withdraws T1: its source is re-ingested without it */
    write_points("thw.geojson", &thw_b[1], 1);
    ingest("thw_h");
    scan_layer(&s);
    ASSERT_EQ(s.n, 2);
    bool f1 = false;
    for (size_t i = 0; i < s.n; i++) {
        ASSERT(strcmp(s.v[i].source, LB_FUSED_SOURCE) != 0);
        if (strcmp(s.v[i].source_fid, "F1") == 0) {
            f1 = true;
            ASSERT_STREQ(s.v[i].releasable_to, "fire,lagezentrum"); /* its own label again */
            ASSERT_EQ(s.v[i].level, LB_LEVEL_OFFEN);
            ASSERT(role_sees("demo-fire", &s.v[i]));
        }
    }
    ASSERT(f1);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM lb_conflation"), 0);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM lb_fused"), 0);
    /* the source moves to another layer: its reports leave this one too */
    teardown();
}

LB_TEST(test_disjoint_releasability_is_not_merged)
{
    /* fire+lagezentrum vs thw only: no label passes exactly the roles cleared
     * for both, so the reports stay separate under their own labels */
    setup("[thw]");
    pt thw_b = {"T1", "hydrant", LON0 + EAST(20), LAT0, "2026-05-01T10:10:00Z", 15};
    write_points("fire.geojson", &fire_a, 1);
    write_points("thw.geojson", &thw_b, 1);
    ingest("fire_h");
    ingest("thw_h");
    scan s;
    scan_layer(&s);
    ASSERT_EQ(s.n, 2);
    for (size_t i = 0; i < s.n; i++)
        ASSERT(strcmp(s.v[i].source, LB_FUSED_SOURCE) != 0);
    teardown();
}

LB_TEST(test_conflate_removed_from_config_unmerges_on_next_ingest)
{
    setup("[thw, lagezentrum]");
    pt thw_b = {"T1", "hydrant", LON0 + EAST(20), LAT0, "2026-05-01T10:10:00Z", 15};
    write_points("fire.geojson", &fire_a, 1);
    write_points("thw.geojson", &thw_b, 1);
    ingest("fire_h");
    ingest("thw_h");
    scan s;
    scan_layer(&s);
    ASSERT_EQ(s.n, 1);
    /* the GIS staff drop conflate: from the layer */
    char *text = t_read_file(cfg_path);
    char *at = strstr(text, "    conflate: {distance_m: 50, time_window: 30m}\n");
    ASSERT(at);
    memmove(at, at + strlen("    conflate: {distance_m: 50, time_window: 30m}\n"),
            strlen(at + strlen("    conflate: {distance_m: 50, time_window: 30m}\n")) + 1);
    t_write(dir, "lagebild.yaml", text);
    free(text);
    lb_config_free(cfg);
    cfg = NULL;
    ASSERT_EQ(lb_config_load(cfg_path, &cfg, NULL), LB_OK);
    ingest("fire_h");
    scan_layer(&s);
    ASSERT_EQ(s.n, 2);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM lb_fused"), 0);
    teardown();
}

/* ---- through the server: pixels per role ------------------------------ */

static void locate(double lon, double lat, int z, long *tx, long *ty, int *px, int *py)
{
    double n = (double)(1L << z);
    double fx = (lon + 180) / 360 * n;
    double r = lat * M_PI / 180;
    double fy = (1 - log(tan(r) + 1 / cos(r)) / M_PI) / 2 * n;
    *tx = (long)floor(fx);
    *ty = (long)floor(fy);
    *px = (int)floor((fx - (double)*tx) * 256);
    *py = (int)floor((fy - (double)*ty) * 256);
}

/* Max alpha within r pixels of (px,py) in tile z/tx/ty as the token sees it. */
static int alpha_near(int port, const char *token, int z, long tx, long ty, int px, int py, int r)
{
    char path[128];
    snprintf(path, sizeof path, "/maps/h/%d/%ld/%ld.png", z, tx, ty);
    t_resp resp;
    ASSERT_EQ(t_get(port, path, token, &resp), 0);
    ASSERT_EQ(resp.status, 200);
    png_image img = {.version = PNG_IMAGE_VERSION};
    ASSERT(png_image_begin_read_from_memory(&img, resp.body, resp.bodylen));
    img.format = PNG_FORMAT_RGBA;
    uint8_t *buf = malloc(PNG_IMAGE_SIZE(img));
    ASSERT(buf && png_image_finish_read(&img, NULL, buf, 0, NULL));
    int best = 0;
    for (int y = py - r; y <= py + r; y++)
        for (int x = px - r; x <= px + r; x++)
            if (x >= 0 && y >= 0 && x < (int)img.width && y < (int)img.height &&
                buf[((size_t)y * img.width + (size_t)x) * 4 + 3] > best)
                best = buf[((size_t)y * img.width + (size_t)x) * 4 + 3];
    free(buf);
    png_image_free(&img);
    t_resp_free(&resp);
    return best;
}

LB_TEST(test_role_cleared_for_one_label_does_not_see_the_fused_feature)
{
    setup("[thw, lagezentrum]");
    pt thw_b = {"T1", "hydrant", LON0 + EAST(20), LAT0, "2026-05-01T10:10:00Z", 15};
    write_points("fire.geojson", &fire_a, 1);
    write_points("thw.geojson", &thw_b, 1);
    ingest("fire_h");
    ingest("thw_h");
    lb_store_close(st);
    st = NULL;
    char errpath[1024];
    snprintf(errpath, sizeof errpath, "%s/server.err", dir);
    char *audit = t_path(dir, "audit.jsonl");
    t_server srv;
    ASSERT(t_server_start(&srv, cfg_path, audit, errpath));
    free(audit);
    int z = 17;
    long tx, ty, bx, by;
    int px, py, bpx, bpy;
    locate(LON0, LAT0, z, &tx, &ty, &px, &py);
    locate(LON0 + EAST(20), LAT0, z, &bx, &by, &bpx, &bpy);
    /* 20 m at zoom 17 is ~17 px at this latitude: the two positions differ */
    ASSERT(tx != bx || abs(px - bpx) > 10);
    /* the Lagezentrum sees one hydrant, at the fire brigade's position */
    ASSERT(alpha_near(srv.port, "demo-lagezentrum", z, tx, ty, px, py, 1) > 200);
    ASSERT_EQ(alpha_near(srv.port, "demo-lagezentrum", z, bx, by, bpx, bpy, 2), 0);
    /* fire and THW are each cleared for one report only: not the fused
     * hydrant, not the other's report; each its own, as without conflation */
    ASSERT(alpha_near(srv.port, "demo-fire", z, tx, ty, px, py, 1) > 200);
    ASSERT_EQ(alpha_near(srv.port, "demo-fire", z, bx, by, bpx, bpy, 2), 0);
    ASSERT(alpha_near(srv.port, "demo-police", z, bx, by, bpx, bpy, 1) > 200);
    ASSERT_EQ(alpha_near(srv.port, "demo-police", z, tx, ty, px, py, 2), 0);
    /* the fire brigade plus the Lagezentrum inside a district elsewhere: the
     * fused hydrant is the district role's only inside its area, so outside
     * it this principal sees the fire report as the fire brigade does (it
     * vanished before: that told of the THW report it may not see) */
    ASSERT(alpha_near(srv.port, "demo-both", z, tx, ty, px, py, 1) > 200);
    ASSERT_EQ(alpha_near(srv.port, "demo-both", z, bx, by, bpx, bpy, 2), 0);
    ASSERT_EQ(t_server_stop(&srv, 30), 0);
    t_server_free(&srv);
    ASSERT_EQ(lb_store_open(store_path, &st, NULL), LB_OK);
    teardown();
}

/* ---- incremental = full ------------------------------------------------ */

static char *conflation_text(void)
{
    lb_buf b = {0};
    sqlite3 *db = NULL;
    sqlite3_open_v2(store_path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *q = NULL;
    sqlite3_prepare_v2(db,
                       "SELECT c.fused_fid, c.member_fid, f.releasable_to, f.label_level, f.seed_fid"
                       " FROM lb_conflation c JOIN lb_fused f ON f.layer=c.layer AND"
                       " f.fid=c.fused_fid ORDER BY c.member_fid",
                       -1, &q, NULL);
    while (sqlite3_step(q) == SQLITE_ROW)
        lb_buf_printf(&b, "%lld %lld %s %d %lld\n", (long long)sqlite3_column_int64(q, 0),
                      (long long)sqlite3_column_int64(q, 1), sqlite3_column_text(q, 2),
                      sqlite3_column_int(q, 3), (long long)sqlite3_column_int64(q, 4));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return b.data ? lb_buf_take(&b) : strdup("");
}

LB_TEST(test_region_reconflation_equals_full)
{
    setup("[thw, lagezentrum]");
    /* 600 reports from each agency in a 2 km square, dense enough for chains */
    srand(42);
    pt *a = calloc(600, sizeof *a), *b = calloc(600, sizeof *b);
    char (*ids)[16] = calloc(1200, 16);
    char (*ts)[32] = calloc(1200, 32);
    for (int i = 0; i < 1200; i++) {
        pt *p = i < 600 ? &a[i] : &b[i - 600];
        snprintf(ids[i], 16, "%c%d", i < 600 ? 'F' : 'T', i);
        snprintf(ts[i], 32, "2026-05-01T10:%02d:00Z", rand() % 60);
        *p = (pt){ids[i], rand() % 4 ? "hydrant" : "tank",
                  LON0 + EAST(rand() % 2000), LAT0 + (rand() % 2000) / 111195.0, ts[i],
                  1 + rand() % 30};
    }
    write_points("fire.geojson", a, 600);
    write_points("thw.geojson", b, 600);
    ingest("fire_h");
    ingest("thw_h");
    char *full0 = conflation_text();
    ASSERT(strlen(full0) > 100); /* there are clusters */

    /* move 15 THW reports, delete 5, with plain SQL (SpatiaLite's triggers
     * keep the R*Tree), then re-conflate only their neighbourhood */
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open_v2(store_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_enable_load_extension(db, 1);
    ASSERT_EQ(sqlite3_load_extension(db, "mod_spatialite", NULL, NULL), SQLITE_OK);
    lb_bbox boxes[40];
    size_t nb = 0;
    for (int k = 0; k < 20; k++) {
        int i = 600 + k * 29;
        char sql[512];
        boxes[nb++] = (lb_bbox){b[i - 600].lon, b[i - 600].lat, b[i - 600].lon, b[i - 600].lat};
        if (k < 15) {
            double nx = LON0 + EAST(rand() % 2000), ny = LAT0 + (rand() % 2000) / 111195.0;
            snprintf(sql, sizeof sql,
                     "UPDATE hydrants SET geom=MakePoint(%.9f,%.9f,4326) WHERE source_fid='%s'",
                     nx, ny, ids[i]);
            boxes[nb++] = (lb_bbox){nx, ny, nx, ny};
        } else {
            snprintf(sql, sizeof sql, "DELETE FROM hydrants WHERE source_fid='%s'", ids[i]);
        }
        ASSERT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    sqlite3_close(db);
    lb_error err;
    ASSERT_EQ(lb_conflate_region(st, cfg, "hydrants", boxes, nb, &err), LB_OK);
    char *incr = conflation_text();
    ASSERT_EQ(lb_conflate_layer(st, cfg, "hydrants", &err), LB_OK);
    char *full = conflation_text();
    ASSERT(strcmp(full0, full) != 0); /* the changes changed clusters */
    ASSERT_STREQ(incr, full);
    free(full0);
    free(incr);
    free(full);
    free(a);
    free(b);
    free(ids);
    free(ts);
    teardown();
}

/* Pushes go through the same conflation: a pushed report merges with the
 * fire brigade's, and deleting it by id un-merges in the same transaction. */
LB_TEST(test_pushed_report_merges_and_deleted_report_unmerges)
{
    setup("[thw, lagezentrum]");
    write_points("fire.geojson", &fire_a, 1);
    ingest("fire_h"); /* the THW has not delivered a file: it only pushes */
    scan s;
    scan_layer(&s);
    ASSERT_EQ(s.n, 1);
    char body[1024];
    snprintf(body, sizeof body,
             "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
             "\"properties\":{\"id\":\"T9\",\"kind\":\"hydrant\",\"t\":\"2026-05-01T10:05:00Z\","
             "\"acc\":2},\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.9f,%.9f]}}]}",
             LON0 + EAST(15), LAT0);
    lb_push_result res = {0};
    lb_error err;
    lb_status rc = lb_ingest_push(st, cfg, lb_config_source(cfg, "thw_h"), "thw-feed", body,
                                  strlen(body), NULL, &res, &err);
    if (rc != LB_OK)
        fprintf(stderr, "  push: %s\n", err.msg);
    ASSERT_EQ(rc, LB_OK);
    lb_push_result_free(&res);
    scan_layer(&s);
    ASSERT_EQ(s.n, 1); /* one fused feature */
    ASSERT_STREQ(s.v[0].source, LB_FUSED_SOURCE);
    ASSERT(fabs(s.v[0].x - (LON0 + EAST(15))) < 1e-9); /* the pushed report is more accurate */
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM lb_conflation"), 2);

    rc = lb_ingest_delete(st, cfg, lb_config_source(cfg, "thw_h"), "thw-feed", "T9", &res, &err);
    if (rc != LB_OK)
        fprintf(stderr, "  delete: %s\n", err.msg);
    ASSERT_EQ(rc, LB_OK);
    lb_push_result_free(&res);
    scan_layer(&s);
    ASSERT_EQ(s.n, 1);
    ASSERT_STREQ(s.v[0].source_fid, "F1");
    ASSERT(!all.v[0].member);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM lb_conflation"), 0);
    ASSERT_EQ(t_sql_int(store_path, "SELECT count(*) FROM lb_fused"), 0);
    teardown();
}

/* lb_snapshot_diff's report, collected. */
typedef struct diffs {
    int64_t fid[2][16];
    bool member[2][16];
    size_t n[2];
} diffs;

static void on_diff(void *ud, int side, const lb_feature_info *f, const double box[4],
                    uint64_t look)
{
    (void)look;
    diffs *d = ud;
    ASSERT(side == 0 || side == 1);
    ASSERT(box[0] <= box[2] && box[1] <= box[3]);
    ASSERT(d->n[side] < 16);
    d->fid[side][d->n[side]] = f->fid;
    d->member[side][d->n[side]++] = f->member;
}

static diffs diff(lb_snapshot *a, lb_snapshot *b, const uint8_t key[16])
{
    diffs d = {0};
    lb_error err;
    ASSERT_EQ(lb_snapshot_diff(a, b, key, on_diff, &d, &err), LB_OK);
    return d;
}

static bool has(const diffs *d, int side, int64_t fid, bool member)
{
    for (size_t i = 0; i < d->n[side]; i++)
        if (d->fid[side][i] == fid && d->member[side][i] == member)
            return true;
    return false;
}

static lb_snapshot *snap_now(void)
{
    lb_snapshot *s;
    lb_error err;
    ASSERT_EQ(lb_snapshot_build(st, cfg, "hydrants", lb_tms_find("WebMercatorQuad"), NULL, 0, &s,
                                &err),
              LB_OK);
    return s;
}

static lb_status push_t9(double east_m)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
             "\"properties\":{\"id\":\"T9\",\"kind\":\"hydrant\",\"t\":\"2026-05-01T10:05:00Z\","
             "\"acc\":2},\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.9f,%.9f]}}]}",
             LON0 + EAST(east_m), LAT0);
    lb_push_result res = {0};
    lb_error err;
    lb_status rc = lb_ingest_push(st, cfg, lb_config_source(cfg, "thw_h"), "thw-feed", body,
                                  strlen(body), NULL, &res, &err);
    lb_push_result_free(&res);
    return rc;
}

/*
 * What a push changed in a conflated layer, for the server's cache keys
 * (server/live.c): the difference of the snapshots before and after names
 * the pushed report and every feature its re-conflation changed although
 * its row was not pushed (the fire brigade's report, now merged, and the
 * new fused feature), and nothing else (a hydrant 2 km away); a push that
 * changes nothing drawn (the same report again) gives no difference at all,
 * although the layer's revision moves.
 */
LB_TEST(test_snapshot_difference_names_what_a_push_reclustered)
{
    setup("[thw, lagezentrum]");
    const pt fire[2] = {fire_a, {"F2", "hydrant", LON0 + EAST(2000), LAT0, "2026-05-01T10:00:00Z", 5}};
    write_points("fire.geojson", fire, 2);
    ingest("fire_h");
    scan s;
    scan_layer(&s);
    ASSERT_EQ(s.n, 2);
    int64_t f1 = find(&s, "F1")->fid, f2 = find(&s, "F2")->fid;
    const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    lb_snapshot *s0 = snap_now();
    diffs d = diff(s0, s0, key);
    ASSERT_EQ(d.n[0] + d.n[1], 0);

    ASSERT_EQ(push_t9(15), LB_OK);
    scan_layer(&s);
    ASSERT_EQ(s.n, 2); /* the fused feature and F2 */
    const seen *fused = NULL;
    for (size_t i = 0; i < s.n; i++)
        if (strcmp(s.v[i].source, LB_FUSED_SOURCE) == 0)
            fused = &s.v[i];
    ASSERT(fused != NULL);
    int64_t ffid = fused->fid, t9 = -1;
    for (size_t i = 0; i < all.n; i++)
        if (strcmp(all.v[i].source_fid, "T9") == 0)
            t9 = all.v[i].fid;
    ASSERT(t9 >= 0);
    lb_snapshot *s1 = snap_now();
    ASSERT(lb_snapshot_revision(s1) > lb_snapshot_revision(s0));
    d = diff(s0, s1, key);
    ASSERT_EQ(d.n[0], 1);
    ASSERT(has(&d, 0, f1, false)); /* F1 as it was: not merged */
    ASSERT_EQ(d.n[1], 3);
    ASSERT(has(&d, 1, f1, true)); /* F1 merged now, although its row was not pushed */
    ASSERT(has(&d, 1, t9, true));
    ASSERT(has(&d, 1, ffid, false));
    for (int side = 0; side < 2; side++)
        for (size_t i = 0; i < d.n[side]; i++)
            ASSERT(d.fid[side][i] != f2);
    /* the other way round: the same versions, sides swapped */
    diffs r = diff(s1, s0, key);
    ASSERT_EQ(r.n[0], 3);
    ASSERT_EQ(r.n[1], 1);
    ASSERT(has(&r, 1, f1, false) && has(&r, 0, ffid, false));

    /* the same push again: a new revision, nothing drawn differs */
    ASSERT_EQ(push_t9(15), LB_OK);
    lb_snapshot *s2 = snap_now();
    ASSERT(lb_snapshot_revision(s2) > lb_snapshot_revision(s1));
    d = diff(s1, s2, key);
    ASSERT_EQ(d.n[0] + d.n[1], 0);
    /* T9 moves by 5 m, still merged and still the seed: T9, F1 (its fused
     * label is the same, but the member is compared as drawn: unchanged)
     * and the fused feature (the seed's geometry) */
    ASSERT_EQ(push_t9(10), LB_OK);
    lb_snapshot *s3 = snap_now();
    d = diff(s2, s3, key);
    ASSERT(has(&d, 0, t9, true) && has(&d, 1, t9, true));
    ASSERT(has(&d, 0, ffid, false) && has(&d, 1, ffid, false));
    ASSERT(!has(&d, 0, f1, true) && !has(&d, 1, f1, true));
    ASSERT_EQ(d.n[0], 2);
    ASSERT_EQ(d.n[1], 2);

    /* snapshots of other grids are not compared */
    lb_snapshot *adv;
    lb_error err;
    ASSERT_EQ(lb_snapshot_build(st, cfg, "hydrants", lb_tms_find("DE_EPSG_25832_ADV"), NULL, 0,
                                &adv, &err),
              LB_OK);
    diffs none = {0};
    ASSERT_EQ(lb_snapshot_diff(s3, adv, key, on_diff, &none, &err), LB_EINVAL);
    lb_snapshot_unref(adv);
    lb_snapshot_unref(s0);
    lb_snapshot_unref(s1);
    lb_snapshot_unref(s2);
    lb_snapshot_unref(s3);
    teardown();
}

LB_TESTS(test_same_hydrant_from_two_agencies_is_one_feature,
         test_pushed_report_merges_and_deleted_report_unmerges,
         test_snapshot_difference_names_what_a_push_reclustered,
         test_too_far_too_late_or_same_source_stay_apart, test_withdrawn_report_unmerges,
         test_disjoint_releasability_is_not_merged,
         test_conflate_removed_from_config_unmerges_on_next_ingest,
         test_role_cleared_for_one_label_does_not_see_the_fused_feature,
         test_region_reconflation_equals_full)
