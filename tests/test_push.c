/*
 * Push ingest over HTTP: a POSTed FeatureCollection goes through the fusion
 * pipeline (CRS of the request or the source, checks, mapping, labels),
 * upserts only the features it names, and shows up in XYZ and WMTS tiles;
 * DELETE removes by id.  Refusals: 401 without a valid token, the common 404
 * for a source the principal may not write (byte-identical to a source that
 * does not exist), 413 over push.max_body_bytes, 422 naming every bad
 * feature with nothing applied, 400 for a body that is not GeoJSON.
 */
#include <math.h>

#include "lbtest.h"
#include "tlive.h"

#include "lagebild/fusion.h"
#include "lagebild/tiler.h"
#include "lagebild/util.h"

static char *dir, *cfg, *store;
static t_server srv;

/* Lon/lat tile indices of the Web Mercator tile at z containing (lon, lat). */
static void tile_of(double lon, double lat, int z, long *x, long *y)
{
    double n = (double)(1L << z);
    *x = (long)floor((lon + 180.0) / 360.0 * n);
    double r = lat * M_PI / 180.0;
    *y = (long)floor((1.0 - log(tan(r) + 1.0 / cos(r)) / M_PI) / 2.0 * n);
}

/* The stored x (lon) of the MBR of source_fid in incidents. */
static double stored_minx(const char *sfid)
{
    char *hex = t_sql(store, "SELECT hex(substr(geom, 7, 8)) FROM incidents WHERE source_fid='%s'",
                      sfid);
    if (!hex)
        return NAN;
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        sscanf(hex + 2 * i, "%2hhx", &b[i]);
    free(hex);
    double d;
    memcpy(&d, b, 8); /* little-endian BLOBs on this machine */
    return d;
}

static long long count_rows(void)
{
    return t_sql_int(store, "SELECT count(*) FROM incidents");
}

static void start(const char *extra)
{
    dir = t_tmpdir();
    cfg = tl_config(dir, extra);
    store = t_path(dir, "store.sqlite");
    ASSERT(tl_serve(&srv, cfg, dir, "server.err"));
}

static void stop(void)
{
    ASSERT_EQ(t_server_end(&srv, 20), 0);
}

static void finish(void)
{
    stop();
    t_rmrf(dir);
    free(dir);
    free(cfg);
    free(store);
}

LB_TEST(test_push_upserts_and_shows_in_xyz_and_wmts)
{
    start(NULL);
    int port = srv.port;
    long x, y;
    tile_of(9.36, 52.10, 12, &x, &y);
    char xyz[128], wmts[128];
    snprintf(xyz, sizeof xyz, "/maps/lage/12/%ld/%ld.png", x, y);
    snprintf(wmts, sizeof wmts, "/wmts/lage/WebMercatorQuad/12/%ld/%ld.png", y, x);
    char *before, *wbefore, *after, *wafter;
    size_t blen, wblen, alen, walen;
    ASSERT_EQ(tl_fetch(port, xyz, "t-reader", &before, &blen), 200);
    ASSERT_EQ(tl_fetch(port, wmts, "t-reader", &wbefore, &wblen), 200);

    tl_sse ev;
    ASSERT(tl_sse_open(&ev, port, "t-reader"));
    char *fc = tl_square("p1", 9.36, 52.10, 0.01, "\"typ\":\"Lagemeldung\",\"name\":\"erst\"");
    t_resp r;
    ASSERT_EQ(tl_post(port, "police_live", "t-police", fc, &r), 0);
    if (r.status != 200)
        fprintf(stderr, "%s\n", r.body);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "\"stored\":1");
    t_resp_free(&r);
    free(fc);
    /* acknowledged = committed */
    ASSERT_EQ(count_rows(), 1);
    char msg[1024];
    ASSERT(tl_sse_next(&ev, msg, sizeof msg, 20));
    ASSERT_CONTAINS(msg, "\"layer\":\"incidents\"");

    ASSERT_EQ(tl_fetch(port, xyz, "t-reader", &after, &alen), 200);
    ASSERT_EQ(tl_fetch(port, wmts, "t-reader", &wafter, &walen), 200);
    ASSERT(alen != blen || memcmp(after, before, alen) != 0);
    ASSERT(walen != wblen || memcmp(wafter, wbefore, walen) != 0);
    free(after);
    free(wafter);

    /* a second feature, then p1 again: only p1 changes, p2 stays */
    fc = tl_point("p2", 9.30, 52.05, "\"name\":\"zwei\"");
    ASSERT_EQ(tl_post(port, "police_live", "t-police", fc, &r), 0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    free(fc);
    fc = tl_square("p1", 9.40, 52.10, 0.01, "\"name\":\"verlegt\"");
    ASSERT_EQ(tl_post(port, "police_live", "t-police", fc, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "\"replaced\":1");
    t_resp_free(&r);
    free(fc);
    ASSERT_EQ(count_rows(), 2);
    char *name = t_sql(store, "SELECT name FROM incidents WHERE source_fid='p1'");
    ASSERT_STREQ(name, "verlegt");
    free(name);
    ASSERT_NEAR(stored_minx("p1"), 9.39, 1e-9);
    ASSERT_EQ(t_sql_int(store, "SELECT features FROM lb_sources WHERE source='police_live'"), 2);

    /* the fire source's CRS is EPSG:25832; ?crs= and the body's "crs" member override it */
    lb_transform *t;
    ASSERT_EQ(lb_transform_new("EPSG:4326", "EPSG:25832", &t, NULL), LB_OK);
    double ex = 9.2, ny = 52.0;
    ASSERT_EQ(lb_transform_points(t, 1, &ex, &ny, NULL), LB_OK);
    lb_transform_free(t);
    fc = tl_point("f1", ex, ny, NULL);
    ASSERT_EQ(tl_post(port, "fire_live", "t-fire", fc, &r), 0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    free(fc);
    ASSERT_NEAR(stored_minx("f1"), 9.2, 1e-7);
    fc = tl_point("f2", 9.25, 52.0, NULL);
    ASSERT_EQ(tl_send(port, "POST", "/sources/fire_live/features?crs=EPSG:4326", "t-fire", fc,
                      &r), 0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    free(fc);
    ASSERT_NEAR(stored_minx("f2"), 9.25, 1e-7);
    fc = tl_point("f3", 9.27, 52.0, NULL);
    char *withcrs = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&withcrs, &n);
    fprintf(f, "{\"type\":\"FeatureCollection\",\"crs\":{\"type\":\"name\",\"properties\":"
               "{\"name\":\"urn:ogc:def:crs:OGC:1.3:CRS84\"}},%s", fc + 28);
    fclose(f);
    ASSERT_EQ(tl_post(port, "fire_live", "t-fire", withcrs, &r), 0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    free(fc);
    free(withcrs);
    ASSERT_NEAR(stored_minx("f3"), 9.27, 1e-7);

    /* DELETE by id; a second time it is gone */
    ASSERT_EQ(tl_send(port, "DELETE", "/sources/police_live/features/p2", "t-police", NULL, &r),
              0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents WHERE source='police_live'"), 1);
    ASSERT_EQ(tl_send(port, "DELETE", "/sources/police_live/features/p2", "t-police", NULL, &r),
              0);
    ASSERT_EQ(r.status, 404);
    t_resp_free(&r);
    ASSERT_EQ(t_sql_int(store, "SELECT features FROM lb_sources WHERE source='police_live'"), 1);

    /* the move of p1 reached the tile: the feature now lies at 9.40 */
    long x2, y2;
    tile_of(9.40, 52.10, 14, &x2, &y2);
    char moved[128];
    snprintf(moved, sizeof moved, "/maps/lage/14/%ld/%ld.png", x2, y2);
    bool shown = false;
    for (int i = 0; i < 100 && !shown; i++) {
        char *b;
        size_t bl;
        ASSERT_EQ(tl_fetch(port, moved, "t-reader", &b, &bl), 200);
        const uint8_t *empty = lb_png_empty(256, 256, &n);
        shown = bl != n || memcmp(b, empty, n) != 0;
        free(b);
        if (!shown)
            usleep(100 * 1000);
    }
    ASSERT(shown);
    /* tiles of the incremental snapshot near the feature and with nothing
     * in them (the sanitizer build aborted there: qsort of no hits) */
    for (long dx = -3; dx <= 3; dx += 2) {
        char near[128], *b;
        size_t bl;
        snprintf(near, sizeof near, "/maps/lage/14/%ld/%ld.png", x2 + dx, y2);
        ASSERT_EQ(tl_fetch(port, near, "t-reader", &b, &bl), 200);
        free(b);
    }
    tl_sse_close(&ev);
    free(before);
    free(wbefore);

    /* what the incremental snapshots (base + changes) draw equals what a
     * server started on the store (one full snapshot) draws */
    const char *paths[3] = {moved, xyz, wmts};
    char *inc[3], *full[3];
    size_t inclen[3], fulllen[3];
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(tl_fetch(port, paths[i], "t-reader", &inc[i], &inclen[i]), 200);
    stop();
    ASSERT(tl_serve(&srv, cfg, dir, "server2.err"));
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(tl_fetch(srv.port, paths[i], "t-reader", &full[i], &fulllen[i]), 200);
        ASSERT_EQ(fulllen[i], inclen[i]);
        ASSERT(memcmp(full[i], inc[i], inclen[i]) == 0);
        free(inc[i]);
        free(full[i]);
    }
    finish();
}

LB_TEST(test_push_refusals_401_404_413_422_400)
{
    start("push: {max_body_bytes: 4096}\n");
    int port = srv.port;
    char *ok = tl_point("a1", 9.36, 52.10, NULL);
    t_resp r, r2;

    /* 401 */
    ASSERT_EQ(tl_post(port, "police_live", NULL, ok, &r), 0);
    ASSERT_EQ(r.status, 401);
    t_resp_free(&r);
    ASSERT_EQ(tl_post(port, "police_live", "t-nobody", ok, &r), 0);
    ASSERT_EQ(r.status, 401);
    t_resp_free(&r);

    /* 404: another agency's source, a reader, a source that does not exist,
     * DELETE likewise: all the same bytes */
    ASSERT_EQ(tl_post(port, "no_such_source", "t-police", ok, &r), 0);
    ASSERT_EQ(r.status, 404);
    const char *cases[][3] = {
        {"POST", "/sources/fire_live/features", "t-police"},
        {"POST", "/sources/police_live/features", "t-reader"},
        {"POST", "/sources/police_live/features", "t-fire"},
        {"DELETE", "/sources/fire_live/features/x", "t-police"},
        {"DELETE", "/sources/nothing/features/x", "t-police"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ASSERT_EQ(tl_send(port, cases[i][0], cases[i][1], cases[i][2],
                          strcmp(cases[i][0], "POST") == 0 ? ok : NULL, &r2), 0);
        ASSERT_EQ(r2.status, 404);
        ASSERT_EQ(r2.rawlen, r.rawlen);
        ASSERT(memcmp(r2.raw, r.raw, r.rawlen) == 0);
        t_resp_free(&r2);
    }
    t_resp_free(&r);

    /* 413: over 4096 bytes, nothing stored */
    lb_buf big = {0};
    lb_buf_puts(&big, "{\"type\":\"FeatureCollection\",\"features\":[");
    for (int i = 0; i < 100; i++)
        lb_buf_printf(&big, "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"b%d\"},"
                            "\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3,52.1]}}",
                      i ? "," : "", i);
    lb_buf_puts(&big, "]}");
    ASSERT_EQ(tl_post(port, "police_live", "t-police", big.data, &r), 0);
    ASSERT_EQ(r.status, 413);
    ASSERT_CONTAINS(r.body, "max_body_bytes");
    t_resp_free(&r);
    lb_buf_free(&big);

    /* one good feature first */
    ASSERT_EQ(tl_post(port, "police_live", "t-police", ok, &r), 0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    ASSERT_EQ(count_rows(), 1);

    /* 422: every bad feature named, nothing of the request applied */
    const char *bad =
        "{\"type\":\"FeatureCollection\",\"features\":["
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"g1\"},"
        "\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3,52.1]}},"
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"g2\",\"level\":\"TOPSECRET\"},"
        "\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3,52.1]}},"
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"g3\"},\"geometry\":null},"
        "{\"type\":\"Feature\",\"properties\":{\"name\":\"no id\"},"
        "\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3,52.1]}},"
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"g5\",\"groups\":\"nobody\"},"
        "\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3,52.1]}},"
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"g1\"},"
        "\"geometry\":{\"type\":\"Point\",\"coordinates\":[9.3,52.1]}}]}";
    ASSERT_EQ(tl_post(port, "police_live", "t-police", bad, &r), 0);
    ASSERT_EQ(r.status, 422);
    ASSERT_CONTAINS(r.body, "{\"index\":1,\"id\":\"g2\",\"reason\":");
    ASSERT_CONTAINS(r.body, "TOPSECRET");
    ASSERT_CONTAINS(r.body, "{\"index\":2,\"id\":\"g3\",\"reason\":\"feature has no geometry\"}");
    ASSERT_CONTAINS(r.body, "{\"index\":3,\"id\":null,\"reason\":\"no feature id");
    ASSERT_CONTAINS(r.body, "{\"index\":4,\"id\":\"g5\",\"reason\":");
    ASSERT_CONTAINS(r.body, "unknown group 'nobody'");
    ASSERT_CONTAINS(r.body, "{\"index\":5,\"id\":\"g1\",\"reason\":\"feature id 'g1' appears more");
    ASSERT(!strstr(r.body, "\"index\":0"));
    t_resp_free(&r);
    ASSERT_EQ(count_rows(), 1);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents WHERE source_fid='g1'"), 0);

    /* lon/lat given to a source in EPSG:25832: outside its area of use */
    char *lonlat = tl_point("w1", 9.3, 52.1, NULL);
    ASSERT_EQ(tl_post(port, "fire_live", "t-fire", lonlat, &r), 0);
    ASSERT_EQ(r.status, 422);
    ASSERT_CONTAINS(r.body, "area of use");
    ASSERT_CONTAINS(r.body, "{\"index\":0,\"id\":\"w1\",\"reason\":");
    t_resp_free(&r);
    free(lonlat);
    ASSERT_EQ(count_rows(), 1);

    /* 400: not GeoJSON; 422: a source without fid: cannot take pushes */
    ASSERT_EQ(tl_post(port, "police_live", "t-police", "{\"type\":\"FeatureColl", &r), 0);
    ASSERT_EQ(r.status, 400);
    ASSERT_CONTAINS(r.body, "not a GeoJSON FeatureCollection");
    t_resp_free(&r);
    ASSERT_EQ(tl_post(port, "nofid_live", "t-police", ok, &r), 0);
    ASSERT_EQ(r.status, 422);
    ASSERT_CONTAINS(r.body, "fid:");
    t_resp_free(&r);
    ASSERT_EQ(count_rows(), 1);
    free(ok);
    finish();
}

/* lagebild_tiles_rendered_total from /metrics (admin). */
static long long rendered(int port)
{
    char *body;
    size_t len;
    ASSERT_EQ(tl_fetch(port, "/metrics", "t-admin", &body, &len), 200);
    const char *p = strstr(body, "\nlagebild_tiles_rendered_total ");
    ASSERT(p != NULL);
    long long v = strtoll(p + strlen("\nlagebild_tiles_rendered_total "), NULL, 10);
    free(body);
    return v;
}

/* Fetch target as token; whether the bytes equal *prev (then replaced). */
static bool fetch_same(int port, const char *target, const char *token, char **prev,
                       size_t *plen)
{
    char *b;
    size_t n;
    ASSERT_EQ(tl_fetch(port, target, token, &b, &n), 200);
    bool same = *prev && n == *plen && memcmp(b, *prev, n) == 0;
    free(*prev);
    *prev = b;
    *plen = n;
    return same;
}

/*
 * A push invalidates exactly the cached tiles it touches, for exactly the
 * principals that may see the change: the police's tile elsewhere and its
 * tile under a fire-only change stay cached (no render, same bytes, so no
 * timing difference either); its tile under a police change is rendered anew.
 */
LB_TEST(test_push_invalidates_only_touched_tiles_of_those_who_see_it)
{
    start(NULL);
    int port = srv.port;
    tl_sse ev;
    ASSERT(tl_sse_open(&ev, port, "t-reader"));
    char msg[1024];
    t_resp r;
    const char *sq[2] = {"pa", "pb"};
    const double at[2][2] = {{9.36, 52.10}, {13.40, 52.52}};
    for (int i = 0; i < 2; i++) {
        char *fc = tl_square(sq[i], at[i][0], at[i][1], 0.01, "\"name\":\"x\"");
        ASSERT_EQ(tl_post(port, "police_live", "t-police", fc, &r), 0);
        ASSERT_EQ(r.status, 200);
        t_resp_free(&r);
        free(fc);
        ASSERT(tl_sse_next(&ev, msg, sizeof msg, 20));
    }
    char a[128], b[128];
    long x, y;
    tile_of(at[0][0], at[0][1], 12, &x, &y);
    snprintf(a, sizeof a, "/maps/lage/12/%ld/%ld.png", x, y);
    tile_of(at[1][0], at[1][1], 12, &x, &y);
    snprintf(b, sizeof b, "/maps/lage/12/%ld/%ld.png", x, y);
    char *pa = NULL, *pb = NULL;
    size_t la = 0, lbn = 0;
    fetch_same(port, a, "t-police", &pa, &la);
    fetch_same(port, b, "t-police", &pb, &lbn);
    long long n0 = rendered(port);
    ASSERT(fetch_same(port, a, "t-police", &pa, &la));
    ASSERT(fetch_same(port, b, "t-police", &pb, &lbn));
    ASSERT_EQ(rendered(port), n0); /* cached */

    /* the fire brigade reports something in tile a: the police cannot see it */
    char *fc = tl_point("fa", at[0][0] + 0.002, at[0][1], NULL);
    ASSERT_EQ(tl_send(port, "POST", "/sources/fire_live/features?crs=EPSG:4326", "t-fire", fc,
                      &r), 0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    free(fc);
    ASSERT(tl_sse_next(&ev, msg, sizeof msg, 20)); /* published */
    ASSERT(fetch_same(port, a, "t-police", &pa, &la));
    ASSERT(fetch_same(port, b, "t-police", &pb, &lbn));
    ASSERT_EQ(rendered(port), n0); /* nothing re-rendered for the police */

    /* the police move their own square in tile a: only tile a is rendered again */
    fc = tl_square("pa", at[0][0] + 0.003, at[0][1], 0.01, "\"name\":\"y\"");
    ASSERT_EQ(tl_post(port, "police_live", "t-police", fc, &r), 0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    free(fc);
    ASSERT(tl_sse_next(&ev, msg, sizeof msg, 20));
    ASSERT(fetch_same(port, b, "t-police", &pb, &lbn));
    ASSERT_EQ(rendered(port), n0);
    ASSERT(!fetch_same(port, a, "t-police", &pa, &la));
    ASSERT(rendered(port) > n0);
    free(pa);
    free(pb);
    tl_sse_close(&ev);
    finish();
}

/*
 * At low zooms identical points are merged into one representative.  When a
 * push moves one point of such a pair away, its twin must still be drawn,
 * whichever of the two was the representative; when both have moved, the
 * place is empty.  Four pairs, each moved in another order, so that both
 * cases occur (fids are hashes).  The pairs are pushed (a push replaces only
 * its writer's own features) and the server restarted, so that they are in
 * the base snapshot and the moves are changes on top of it.
 */
LB_TEST(test_push_keeps_merged_twins_of_a_moved_point)
{
    dir = t_tmpdir();
    cfg = tl_config(dir, NULL);
    store = t_path(dir, "store.sqlite");
    const double at[4][2] = {{8.0, 50.0}, {10.0, 51.0}, {12.0, 52.0}, {9.0, 53.5}};
    lb_buf fc = {0};
    lb_buf_puts(&fc, "{\"type\":\"FeatureCollection\",\"features\":[");
    for (int i = 0; i < 8; i++)
        lb_buf_printf(&fc,
                      "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"tw%d\",\"typ\":\"x\","
                      "\"name\":\"same\",\"status\":\"a\",\"level\":\"VS-NfD\",\"groups\":\"police\"},\"geometry\":{\"type\":\"Point\",\"coordinates\":"
                      "[%.6f,%.6f]}}",
                      i ? "," : "", i, at[i / 2][0], at[i / 2][1]);
    lb_buf_puts(&fc, "]}\n");
    ASSERT(tl_serve(&srv, cfg, dir, "server0.err"));
    t_resp pr;
    ASSERT_EQ(tl_post(srv.port, "police_live", "t-police", fc.data, &pr), 0);
    ASSERT_EQ(pr.status, 200);
    t_resp_free(&pr);
    lb_buf_free(&fc);
    stop();
    ASSERT(tl_serve(&srv, cfg, dir, "server.err"));
    int port = srv.port;
    tl_sse ev;
    ASSERT(tl_sse_open(&ev, port, "t-reader"));
    char msg[1024];
    for (int pair = 0; pair < 4; pair++) {
        long x, y;
        tile_of(at[pair][0], at[pair][1], 5, &x, &y);
        char tile[128];
        snprintf(tile, sizeof tile, "/maps/lage/5/%ld/%ld.png", x, y);
        char *t0, *t1, *t2;
        size_t l0, l1, l2;
        ASSERT_EQ(tl_fetch(port, tile, "t-reader", &t0, &l0), 200);
        int first = 2 * pair + (pair & 1), second = 2 * pair + !(pair & 1);
        for (int step = 0; step < 2; step++) {
            char id[16];
            snprintf(id, sizeof id, "tw%d", step ? second : first);
            char *mv = tl_point(id, at[pair][0] + 20.0, at[pair][1] - 10.0,
                                "\"typ\":\"x\",\"name\":\"same\",\"status\":\"a\",\"level\":\"VS-NfD\","
                                "\"groups\":\"police\"");
            t_resp r;
            ASSERT_EQ(tl_post(port, "police_live", "t-police", mv, &r), 0);
            ASSERT_EQ(r.status, 200);
            t_resp_free(&r);
            free(mv);
            ASSERT(tl_sse_next(&ev, msg, sizeof msg, 20));
            if (step == 0) {
                ASSERT_EQ(tl_fetch(port, tile, "t-reader", &t1, &l1), 200);
                if (l1 != l0 || memcmp(t1, t0, l0) != 0)
                    fprintf(stderr, "  pair %d: the twin of tw%d vanished\n", pair, first);
                ASSERT(l1 == l0 && memcmp(t1, t0, l0) == 0); /* the twin still there */
                free(t1);
            } else {
                ASSERT_EQ(tl_fetch(port, tile, "t-reader", &t2, &l2), 200);
                ASSERT(l2 != l0 || memcmp(t2, t0, l0) != 0); /* both gone */
                free(t2);
            }
        }
        free(t0);
    }
    tl_sse_close(&ev);
    finish();
}

/*
 * A point pushed where an alike point of the base snapshot is: at low zoom a
 * full snapshot draws the two as one (build_lod), and so must the overlay
 * of base and change, which drew each side's point, a darker overdraw that
 * a fresh server did not show (review finding, session 15).  The first
 * point is pushed and the server restarted, so that it is in the base.
 */
LB_TEST(test_push_of_an_alike_point_where_one_is_draws_one)
{
    dir = t_tmpdir();
    cfg = tl_config(dir, NULL);
    store = t_path(dir, "store.sqlite");
    static const char props[] = "\"typ\":\"x\",\"name\":\"same\",\"status\":\"a\","
                                "\"level\":\"VS-NfD\",\"groups\":\"police\"";
    ASSERT(tl_serve(&srv, cfg, dir, "server0.err"));
    char *p0 = tl_point("one", 10.0, 51.0, props);
    ASSERT(tl_post_ok(&srv, "police_live", "t-police", p0));
    free(p0);
    stop();
    ASSERT(tl_serve(&srv, cfg, dir, "server.err"));
    tl_sse ev;
    ASSERT(tl_sse_open(&ev, srv.port, "t-reader"));
    char msg[1024];
    char tile[3][128];
    char *t0[3];
    size_t l0[3];
    for (int i = 0; i < 3; i++) {
        long x, y;
        tile_of(10.0, 51.0, 3 + 2 * i, &x, &y);
        snprintf(tile[i], sizeof tile[i], "/maps/lage/%d/%ld/%ld.png", 3 + 2 * i, x, y);
        ASSERT_EQ(tl_fetch(srv.port, tile[i], "t-reader", &t0[i], &l0[i]), 200);
    }
    char *p1 = tl_point("two", 10.0, 51.0, props);
    ASSERT(tl_post_ok(&srv, "police_live", "t-police", p1));
    free(p1);
    ASSERT(tl_sse_next(&ev, msg, sizeof msg, 20));
    for (int i = 0; i < 3; i++) {
        char *t1;
        size_t l1;
        ASSERT_EQ(tl_fetch(srv.port, tile[i], "t-reader", &t1, &l1), 200);
        if (l1 != l0[i] || memcmp(t1, t0[i], l1) != 0)
            fprintf(stderr, "  %s: other bytes with the second point\n", tile[i]);
        ASSERT(l1 == l0[i] && memcmp(t1, t0[i], l1) == 0);
        free(t1);
        free(t0[i]);
    }
    tl_sse_close(&ev);
    finish();
}

LB_TESTS(test_push_upserts_and_shows_in_xyz_and_wmts, test_push_refusals_401_404_413_422_400,
         test_push_invalidates_only_touched_tiles_of_those_who_see_it,
         test_push_keeps_merged_twins_of_a_moved_point,
         test_push_of_an_alike_point_where_one_is_draws_one)
