/*
 * A push re-keys (and so re-renders) a cached tile only for principals whose
 * tile could show it, also in a layer with generalised snapshots (a source
 * with an owner-set generalised release).  Review finding F4, session 13:
 * there every push, anywhere and of any label, re-keyed every tile of the
 * layer, so a principal that sees none of the pushed features got a
 * re-render (a few milliseconds instead of a cache hit's fraction of one,
 * with the same bytes) on its next unchanged tile, which told it when and
 * how often hidden writes happen.
 *
 * Layer "units": the police's units (VS-NfD or, per feature, higher),
 * released to the fire brigade only generalised to 5 km cells of EPSG:3035;
 * the THW's own units (OFFEN, THW only).  thw sees only the THW's units,
 * fire the police's VS-NfD units as cells and nothing of the THW's.
 * Renders are counted by /metrics lagebild_tiles_rendered_total, which
 * counts layer passes drawn (deterministic, unlike timing); both tile grids
 * are checked (Web Mercator and the AdV grid, EPSG:25832).  And a push
 * re-keys fire's tiles where the cells of the pushed unit are drawn, not
 * (only) where the unit is.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "lbtest.h"
#include "tlive.h"

#include "lagebild/fusion.h"
#include "lagebild/tiler.h"
#include "lagebild/util.h"

static char *dir, *cfg;
static t_server srv;

static char *hk_config(const char *d)
{
    static const t_token tokens[] = {
        {.token = "t-police", .roles = "police"},
        {.token = "t-fire", .roles = "fire"},
        {.token = "t-thw", .roles = "thw"},
        {.token = "t-admin", .roles = "thw", .admin = true},
        {.token = "t-thwd", .roles = "thwd"},
    };
    t_write(d, "empty.geojson", "{\"type\":\"FeatureCollection\",\"features\":[]}\n");
    t_write(d, "district.geojson",
            "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{},"
            "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[9.0,52.0],[9.26,52.0],"
            "[9.26,52.4],[9.0,52.4],[9.0,52.0]]]}}]}\n");
    static const char head[] =
        "store: {path: store.sqlite}\n"
        "groups: [police, fire, thw]\n"
        "caveats: [c0, c1, c2, c3, c4, c5, c6]\n"
        "layers:\n"
        "  units: {title: Einheiten, style: police}\n"
        "  reports: {title: Meldungen, style: fire, conflate: {distance_m: 50}}\n"
        "  reports2: {title: Meldungen 2, style: police, conflate: {distance_m: 50}}\n"
        "sources:\n"
        "  police_u:\n"
        "    path: empty.geojson\n"
        "    crs: EPSG:4326\n"
        "    layer: units\n"
        "    agency: police\n"
        "    fid: id\n"
        "    mapping: {kind: typ, status: status}\n"
        "    label: {level: VS-NfD, releasable_to: [police], level_from: level,"
        " caveats_from: cav}\n"
        "    generalised_release: {groups: [fire], cell_m: 5000}\n"
        "  thw_u:\n"
        "    path: empty.geojson\n"
        "    crs: EPSG:4326\n"
        "    layer: units\n"
        "    agency: thw\n"
        "    fid: id\n"
        "    label: {level: OFFEN, releasable_to: [thw], level_from: level}\n"
        "  police_r:\n"
        "    {path: empty.geojson, crs: EPSG:4326, layer: reports, agency: police, fid: id,"
        " mapping: {kind: typ}, label: {level: VS-NfD, releasable_to: [police]}}\n"
        "  fire_r:\n"
        "    {path: empty.geojson, crs: EPSG:4326, layer: reports, agency: fire, fid: id,"
        " mapping: {kind: typ, accuracy_m: acc}, label: {level: OFFEN, releasable_to: [fire, thw],"
        " level_from: level, releasable_to_from: rel}}\n"
        "  thw_r:\n"
        "    {path: empty.geojson, crs: EPSG:4326, layer: reports, agency: thw, fid: id,"
        " mapping: {kind: typ, accuracy_m: acc}, label: {level: OFFEN, releasable_to: [fire, thw]}}\n"
        /* reports2: the police's reports, released to the fire brigade as 5 km
         * cells, and its VS-VERTRAULICH ones, released to nobody else */
        "  polg_r:\n"
        "    {path: empty.geojson, crs: EPSG:4326, layer: reports2, agency: police, fid: id,"
        " mapping: {kind: typ, status: status}, label: {level: VS-NfD, releasable_to: [police]},"
        " generalised_release: {groups: [fire], cell_m: 5000}}\n"
        "  polv_r:\n"
        "    {path: empty.geojson, crs: EPSG:4326, layer: reports2, agency: police, fid: id,"
        " mapping: {kind: typ, status: status},"
        " label: {level: VS-VERTRAULICH, releasable_to: [police]}}\n"
        "maps:\n"
        "  lage: {title: Lage, layers: [units]}\n"
        "  meld: {title: Meldungen, layers: [reports]}\n"
        "  meld2: {title: Meldungen 2, layers: [reports2]}\n"
        "roles:\n"
        "  police: {title: P, clearance: {level: VS-VERTRAULICH, groups: [police]},"
        " layers: [\"*\"], write: [police_u, police_r, polg_r, polv_r]}\n"
        "  fire: {title: F, clearance: {level: VS-NfD, groups: [fire]}, layers: [\"*\"],"
        " write: [fire_r]}\n"
        "  thw: {title: T, clearance: {level: VS-NfD, groups: [thw]}, layers: [\"*\"],"
        " write: [thw_u, thw_r]}\n"
        "  thwd: {title: TD, clearance: {level: VS-NfD, groups: [thw]}, layers: [\"*\"],"
        " area: {path: district.geojson}}\n";
    return t_config_write(d, "lagebild.yaml", head, tokens, sizeof tokens / sizeof tokens[0],
                          NULL);
}

/* The server on hk_config in a new folder (16 threads: each open event
 * stream holds one). */
static void start(void)
{
    dir = t_tmpdir();
    cfg = hk_config(dir);
    ASSERT(tl_serve(&srv, cfg, dir, "server.err"));
}

static void stop(void)
{
    ASSERT_EQ(t_server_end(&srv, 20), 0);
    t_rmrf(dir);
    free(dir);
    free(cfg);
}

/* Push one point to source (of layer) as token; wait until listener hears
 * of it (the new revision is then what tiles are drawn from). */
static void push_to(const char *layer, const char *source, const char *token, tl_sse *listener,
                    const char *id, double lon, double lat, const char *props)
{
    char *fc = tl_point(id, lon, lat, props);
    bool ok = tl_post_ok(&srv, source, token, fc);
    free(fc);
    ASSERT(ok);
    char msg[1024], want[64];
    ASSERT(tl_sse_next(listener, msg, sizeof msg, 20));
    snprintf(want, sizeof want, "\"layer\":\"%s\"", layer);
    ASSERT_CONTAINS(msg, want);
}

static void push_point(const char *source, const char *token, tl_sse *listener, const char *id,
                       double lon, double lat, const char *props)
{
    push_to("units", source, token, listener, id, lon, lat, props);
}

/* A counter or gauge of /metrics. */
static long long metric(const char *name)
{
    t_resp m;
    ASSERT_EQ(t_get(srv.port, "/metrics", "t-admin", &m), 0);
    ASSERT_EQ(m.status, 200);
    double v = t_resp_metric(&m, name);
    t_resp_free(&m);
    ASSERT(v >= 0);
    return (long long)v;
}

static long long rendered(void) { return metric("lagebild_tiles_rendered_total"); }
/* Lists of the classes present in a tile made (one walk per class). */
static long long lists(void) { return metric("lagebild_class_lists_total"); }

/* A tile of one principal and the bytes it last got. */
typedef struct view {
    const char *token;
    char path[128];
    char *png;
    size_t len;
} view;

/* Fetch v again; whether the bytes are the ones it got before. */
static bool refetch(view *v)
{
    char *b;
    size_t n;
    ASSERT_EQ(tl_fetch(srv.port, v->path, v->token, &b, &n), 200);
    bool same = v->png && n == v->len && memcmp(b, v->png, n) == 0;
    free(v->png);
    v->png = b;
    v->len = n;
    return same;
}

/* The Web Mercator tile at z holding (lon, lat). */
static void xyz_path_of(const char *map, double lon, double lat, int z, char *out, size_t n)
{
    double k = (double)(1L << z), r = lat * M_PI / 180.0;
    long x = (long)floor((lon + 180.0) / 360.0 * k);
    long y = (long)floor((1.0 - log(tan(r) + 1.0 / cos(r)) / M_PI) / 2.0 * k);
    snprintf(out, n, "/maps/%s/%d/%ld/%ld.png", map, z, x, y);
}

static void xyz_path(double lon, double lat, int z, char *out, size_t n)
{
    xyz_path_of("lage", lon, lat, z, out, n);
}

/* The AdV grid (EPSG:25832) tile at z holding (lon, lat). */
static void adv_path_of(const char *map, double lon, double lat, int z, char *out, size_t n)
{
    const lb_tms *adv = lb_tms_find("DE_EPSG_25832_ADV");
    ASSERT(adv != NULL);
    lb_transform *t;
    lb_error err;
    ASSERT_EQ(lb_transform_new("EPSG:4326", "EPSG:25832", &t, &err), LB_OK);
    double x = lon, y = lat;
    ASSERT_EQ(lb_transform_points(t, 1, &x, &y, &err), LB_OK);
    lb_transform_free(t);
    double span = lb_tms_resolution(adv, z) * adv->tile_size;
    long tx = (long)floor((x - adv->origin_x) / span), ty = (long)floor((adv->origin_y - y) / span);
    snprintf(out, n, "/maps/%s/DE_EPSG_25832_ADV/%d/%ld/%ld.png", map, z, tx, ty);
}

static void adv_path(double lon, double lat, int z, char *out, size_t n)
{
    adv_path_of("lage", lon, lat, z, out, n);
}

/* Every view gets the same bytes as before, and nothing was rendered. */
static void expect_cached(view *v, size_t nv, long long n0)
{
    for (size_t i = 0; i < nv; i++) {
        bool same = refetch(&v[i]);
        long long n = rendered();
        if (!same || n != n0)
            fprintf(stderr, "  %s %s: %s, %lld render(s)\n", v[i].token, v[i].path,
                    same ? "same bytes" : "other bytes", n - n0);
        ASSERT(same);
        ASSERT_EQ(n, n0);
    }
}

/* Reload the server (every tile drawn from scratch): every view gets the
 * bytes it got before, and they were drawn anew; the renders so far. */
static long long expect_fresh(view *v, size_t nv)
{
    ASSERT(t_server_reload(&srv, "t-admin", 20));
    long long r0 = rendered();
    for (size_t i = 0; i < nv; i++) {
        bool same = refetch(&v[i]);
        if (!same)
            fprintf(stderr, "  %s %s: other bytes from scratch\n", v[i].token, v[i].path);
        ASSERT(same);
    }
    long long r1 = rendered();
    ASSERT(r1 > r0);
    return r1;
}

LB_TEST(test_hidden_pushes_do_not_rekey_generalised_layers)
{
    start();
    tl_sse pol, thw;
    ASSERT(tl_sse_open(&pol, srv.port, "t-police"));
    ASSERT(tl_sse_open(&thw, srv.port, "t-thw"));

    /* the THW's units and one police unit u1 (at A) in the z10 tile 9.14..9.49 E,
     * 52.05..52.27 N; B, u4 and A lie in three different 5 km cells (more
     * than 5 km apart in latitude or longitude) */
    const double A[2] = {9.25, 52.15}, B[2] = {9.38, 52.20}, U4[2] = {9.22, 52.22};
    push_point("thw_u", "t-thw", &thw, "t1", 9.30, 52.12, NULL);
    push_point("thw_u", "t-thw", &thw, "t2", 9.35, 52.17, NULL);
    push_point("thw_u", "t-thw", &thw, "t3", 9.28, 52.24, NULL);
    push_point("police_u", "t-police", &pol, "u1", A[0], A[1], NULL);

    enum { THW_T, THW_ADV, FIRE_T, FIRE_ADV, NV };
    view v[NV] = {{.token = "t-thw"}, {.token = "t-thw"}, {.token = "t-fire"},
                  {.token = "t-fire"}};
    xyz_path(A[0], A[1], 10, v[THW_T].path, sizeof v[THW_T].path);
    adv_path(A[0], A[1], 5, v[THW_ADV].path, sizeof v[THW_ADV].path);
    memcpy(v[FIRE_T].path, v[THW_T].path, sizeof v[FIRE_T].path);
    memcpy(v[FIRE_ADV].path, v[THW_ADV].path, sizeof v[FIRE_ADV].path);
    char bpath[128];
    xyz_path(B[0], B[1], 10, bpath, sizeof bpath);
    ASSERT_STREQ(bpath, v[THW_T].path); /* A and B in one tile */
    xyz_path(U4[0], U4[1], 10, bpath, sizeof bpath);
    ASSERT_STREQ(bpath, v[THW_T].path);
    for (int i = 0; i < NV; i++)
        refetch(&v[i]);
    long long n0 = rendered();
    expect_cached(v, NV, n0); /* warm: cache hits */

    /* 1: a police unit 200 km away (fire sees its cell there, thw nothing):
     * no tile here changes for anyone, and nothing is made anew for them,
     * not even the list of classes present (the cache holds what it held) */
    long long bytes = metric("lagebild_cache_bytes"), l0 = lists();
    push_point("police_u", "t-police", &pol, "u2", 11.5, 53.5, NULL);
    expect_cached(v, NV, n0);
    ASSERT_EQ(metric("lagebild_cache_bytes"), bytes);
    /* 1b: 1,500 of them in one push, each in a cell of its own, 150-400 km
     * away: the change log holds them without
     * overflowing (review finding, session 14: one entry per version and
     * grid and snapshot kind filled it four times as fast, and an overflow
     * re-keys every tile for everybody) */
    {
        lb_buf fc = {0};
        lb_buf_puts(&fc, "{\"type\":\"FeatureCollection\",\"features\":[");
        for (int i = 0; i < 1500; i++)
            lb_buf_printf(&fc,
                          "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"far%d\"},"
                          "\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.5f,%.5f]}}",
                          i ? "," : "", i, 11.0 + 0.08 * (i % 30), 53.0 + 0.05 * (i / 30));
        lb_buf_puts(&fc, "]}");
        ASSERT(tl_post_ok(&srv, "police_u", "t-police", fc.data));
        lb_buf_free(&fc);
        char msg[1024];
        ASSERT(tl_sse_next(&pol, msg, sizeof msg, 20));
        expect_cached(v, NV, n0);
        ASSERT_EQ(metric("lagebild_cache_bytes"), bytes);
    }
    /* 1c: 3,000 more far away.  The log held at most 4,096 entries and then
     * dropped its oldest ones, which raised its floor and so re-keyed every
     * tile of the layer for everybody, on every publish from then on; and
     * when it merged entries instead, it chose the kinds with many entries
     * when the whole log was full, so a hidden flood merged (and re-keyed)
     * the entries of kinds thw sees too (review finding, session 15).  Now
     * a kind's entries merge when that kind alone has more than 256: the
     * THW's 300 units here (150 in the z14 tile w, then 150 five kilometres
     * east, in the same z12 tile, whose merged entries are newer than w's
     * key) merge as they come, in view of the THW, and the police's flood
     * merges only the police's kinds.  Nothing here moves, neither with the
     * flood nor with the next hidden push. */
    for (int batch = 0; batch < 2; batch++) {
        lb_buf fc = {0};
        lb_buf_puts(&fc, "{\"type\":\"FeatureCollection\",\"features\":[");
        for (int i = 0; i < 150; i++)
            lb_buf_printf(&fc,
                          "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"tw%d_%d\"},"
                          "\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.5f,%.5f]}}",
                          i ? "," : "", batch, i, (batch ? 9.2050 : 9.1455) + 0.0002 * (i % 10),
                          52.1290 + 0.00013 * (i / 10));
        lb_buf_puts(&fc, "]}");
        ASSERT(tl_post_ok(&srv, "thw_u", "t-thw", fc.data));
        lb_buf_free(&fc);
        char msg[1024];
        ASSERT(tl_sse_next(&thw, msg, sizeof msg, 20));
    }
    view w = {.token = "t-thw"};
    xyz_path(9.1465, 52.1300, 14, w.path, sizeof w.path);
    refetch(&w);
    for (int i = 0; i < NV; i++)
        refetch(&v[i]);
    n0 = rendered();
    bytes = metric("lagebild_cache_bytes");
    l0 = lists();
    {
        lb_buf fc = {0};
        lb_buf_puts(&fc, "{\"type\":\"FeatureCollection\",\"features\":[");
        for (int i = 0; i < 3000; i++)
            lb_buf_printf(&fc,
                          "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"far2_%d\"},"
                          "\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.5f,%.5f]}}",
                          i ? "," : "", i, 11.0 + 0.08 * (i % 30), 54.0 + 0.02 * (i / 30));
        lb_buf_puts(&fc, "]}");
        ASSERT(tl_post_ok(&srv, "police_u", "t-police", fc.data));
        lb_buf_free(&fc);
        char msg[1024];
        ASSERT(tl_sse_next(&pol, msg, sizeof msg, 20));
        expect_cached(v, NV, n0);
        expect_cached(&w, 1, n0);
        push_point("police_u", "t-police", &pol, "far3", 12.0, 53.2, NULL);
        expect_cached(v, NV, n0);
        expect_cached(&w, 1, n0);
        ASSERT_EQ(metric("lagebild_cache_bytes"), bytes);
    }
    /* 1d: 16,500 more far away in two pushes, each with one of 66 sets of
     * caveats nobody here holds: 132 kinds (exact and generalised), more
     * than the whole log holds (16,384).  Every kind used to merge then,
     * the THW's too, which re-keyed its tile w (review finding, session
     * 15); now the bound per kind halves, and only the police's large
     * kinds merge. */
    for (int round = 0; round < 2; round++) {
        lb_buf fc = {0};
        lb_buf_puts(&fc, "{\"type\":\"FeatureCollection\",\"features\":[");
        for (int i = 0; i < 8250; i++) {
            char cav[40] = "";
            size_t len = 0;
            for (int k = 0; k < 7; k++)
                if ((i % 66 + 1) >> k & 1)
                    len += (size_t)snprintf(cav + len, sizeof cav - len, "%sc%d", len ? "," : "", k);
            lb_buf_printf(&fc,
                          "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"cv%d_%d\",\"cav\":\"%s\"},"
                          "\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.5f,%.5f]}}",
                          i ? "," : "", round, i, cav, 11.0 + 0.02 * (i % 100),
                          54.5 + 0.01 * (i / 100) + 0.005 * round);
        }
        lb_buf_puts(&fc, "]}");
        ASSERT(tl_post_ok(&srv, "police_u", "t-police", fc.data));
        lb_buf_free(&fc);
        /* the police may not see those either: a unit they see, pushed
         * after, tells when both are published */
        char id[16];
        snprintf(id, sizeof id, "mark%d", round);
        push_point("police_u", "t-police", &pol, id, 12.5, 53.3 + 0.01 * round, NULL);
        expect_cached(v, NV, n0);
        expect_cached(&w, 1, n0);
    }
    free(w.png);

    /* 2: a VS-VERTRAULICH police unit in the tile: neither thw (no police
     * label) nor fire (the rule releases only up to its level) sees it; not
     * even the list of classes present is made again for them (it was, a
     * few tens of microseconds, until session 14) */
    push_point("police_u", "t-police", &pol, "u3", 9.30, 52.18, "\"level\":\"VS-VERTRAULICH\"");
    expect_cached(v, NV, n0);
    ASSERT_EQ(lists(), l0);

    /* 3: a VS-NfD police unit in the tile, in a cell of its own: thw's tiles
     * stay as they are; fire's show a new cell */
    push_point("police_u", "t-police", &pol, "u4", U4[0], U4[1], NULL);
    expect_cached(v, FIRE_T, n0);
    ASSERT(!refetch(&v[FIRE_T]));
    long long n1 = rendered();
    ASSERT(n1 > n0);

    /* 4: u1 moves from A's cell to B's, in the same tile: again only fire's
     * tiles are drawn anew (also in the AdV grid, the tile holding B) */
    view fire_b = {.token = "t-fire"};
    adv_path(B[0], B[1], 5, fire_b.path, sizeof fire_b.path);
    refetch(&fire_b);
    refetch(&v[FIRE_ADV]);
    n1 = rendered();
    push_point("police_u", "t-police", &pol, "u1", B[0], B[1], NULL);
    expect_cached(v, FIRE_T, n1);
    ASSERT(!refetch(&v[FIRE_T]));
    long long n2 = rendered();
    ASSERT(n2 > n1);
    ASSERT(!refetch(&fire_b));
    ASSERT(rendered() > n2);

    /* 4b: u1 moves inside B's cell (to the cell's centre): fire sees the
     * same cell, thw nothing, so nothing is drawn anew for either (until
     * session 14 fire's tiles were: the log knew the version's cells but
     * not what the generalised snapshot draws of it); police sees the move */
    {
        double x = B[0], y = B[1];
        lb_transform *t;
        lb_error err;
        ASSERT_EQ(lb_transform_new("EPSG:4326", "EPSG:3035", &t, &err), LB_OK);
        ASSERT_EQ(lb_transform_points(t, 1, &x, &y, &err), LB_OK);
        lb_transform_free(t);
        x = (floor(x / 5000.0) + 0.5) * 5000.0;
        y = (floor(y / 5000.0) + 0.5) * 5000.0;
        ASSERT_EQ(lb_transform_new("EPSG:3035", "EPSG:4326", &t, &err), LB_OK);
        ASSERT_EQ(lb_transform_points(t, 1, &x, &y, &err), LB_OK);
        lb_transform_free(t);
        ASSERT(fabs(x - B[0]) + fabs(y - B[1]) > 0.001); /* a move of more than 70 m */
        view pol_b = {.token = "t-police"};
        memcpy(pol_b.path, fire_b.path, sizeof pol_b.path);
        refetch(&pol_b);
        for (int i = 0; i < NV; i++)
            refetch(&v[i]); /* FIRE_ADV since u1 left A */
        n2 = rendered();
        push_point("police_u", "t-police", &pol, "u1", x, y, NULL);
        expect_cached(v, NV, n2);
        expect_cached(&fire_b, 1, n2);
        ASSERT(!refetch(&pol_b));
        ASSERT(rendered() > n2);
        /* and a new symbol in the same cell is drawn anew for fire */
        n2 = rendered();
        push_point("police_u", "t-police", &pol, "u1", x, y, "\"typ\":\"Vollsperrung\"");
        ASSERT(!refetch(&fire_b));
        ASSERT(!refetch(&v[FIRE_T])); /* B lies in that tile too */
        ASSERT(rendered() > n2);

        /* 4c: a second unit drawn like u1 in u1's cell, renamed, and gone
         * again: fire's tiles draw that cell as before (one symbol however
         * many units stand behind it: review finding, session 14, a second
         * unit overdrew the symbol and a name change re-keyed the tiles),
         * so nothing is drawn anew for fire (nor, of course, for thw) */
        for (int i = 0; i < NV; i++)
            refetch(&v[i]); /* FIRE_ADV holds B too */
        n2 = rendered();
        long long l2 = lists();
        push_point("police_u", "t-police", &pol, "u7", x + 0.01, y - 0.005,
                   "\"typ\":\"Vollsperrung\",\"name\":\"Zug 7\"");
        expect_cached(&fire_b, 1, n2);
        expect_cached(v, NV, n2);
        push_point("police_u", "t-police", &pol, "u7", x + 0.01, y - 0.005,
                   "\"typ\":\"Vollsperrung\",\"name\":\"Zug 8\"");
        expect_cached(&fire_b, 1, n2);
        ASSERT_EQ(lists(), l2);
        /* drawn from scratch (a reload starts a new cache): the same bytes
         * with both units as fire had with u1 alone */
        ASSERT(t_server_reload(&srv, "t-admin", 20));
        ASSERT(refetch(&fire_b));
        ASSERT(rendered() > n2);
        for (int i = 0; i < NV; i++)
            refetch(&v[i]);
        free(pol_b.png);
    }

    /* 5: a THW unit in the tile: thw's tile is drawn anew, fire's is not */
    n2 = rendered();
    push_point("thw_u", "t-thw", &thw, "t4", 9.33, 52.14, NULL);
    ASSERT(refetch(&v[FIRE_T]));
    ASSERT_EQ(rendered(), n2);
    ASSERT(!refetch(&v[THW_T]));
    ASSERT(rendered() > n2);

    /* 6: what counts for fire is where the cell is drawn, not where the
     * unit is: u6 at the centre of a cell C, fire's z14 tile there warm;
     * u5 (another kind: a square marker) in C, but more than the tile and
     * its 96 px margin away from it, is drawn at C's centre in that tile */
    double cx = 10.0, cy = 51.5, ij[2];
    {
        lb_transform *t;
        lb_error err;
        ASSERT_EQ(lb_transform_new("EPSG:4326", "EPSG:3035", &t, &err), LB_OK);
        ASSERT_EQ(lb_transform_points(t, 1, &cx, &cy, &err), LB_OK);
        lb_transform_free(t);
    }
    ij[0] = floor(cx / 5000.0);
    ij[1] = floor(cy / 5000.0);
    /* the centre and four points 2.4 km from it (inside C), in lon/lat */
    double px[5], py[5];
    const double off[5][2] = {{0, 0}, {-2400, 0}, {2400, 0}, {0, -2400}, {0, 2400}};
    for (int k = 0; k < 5; k++) {
        px[k] = (ij[0] + 0.5) * 5000.0 + off[k][0];
        py[k] = (ij[1] + 0.5) * 5000.0 + off[k][1];
    }
    {
        lb_transform *t;
        lb_error err;
        ASSERT_EQ(lb_transform_new("EPSG:3035", "EPSG:4326", &t, &err), LB_OK);
        ASSERT_EQ(lb_transform_points(t, 5, px, py, &err), LB_OK);
        lb_transform_free(t);
    }
    push_point("police_u", "t-police", &pol, "u6", px[0], py[0], NULL);
    view fire_c = {.token = "t-fire"}, thw_c = {.token = "t-thw"};
    xyz_path(px[0], py[0], 14, fire_c.path, sizeof fire_c.path);
    memcpy(thw_c.path, fire_c.path, sizeof thw_c.path);
    refetch(&fire_c);
    refetch(&thw_c);
    /* a point of C outside the tile and its margin (in EPSG:3857) */
    const lb_tms *wm = lb_tms_find("WebMercatorQuad");
    ASSERT(wm != NULL);
    long tx, ty;
    ASSERT_EQ(sscanf(fire_c.path, "/maps/lage/14/%ld/%ld.png", &tx, &ty), 2);
    double b[4], m = 96 * lb_tms_resolution(wm, 14);
    ASSERT(lb_tms_tile_bounds(wm, 14, tx, ty, &b[0], &b[1], &b[2], &b[3]));
    int far = -1;
    for (int k = 1; k < 5 && far < 0; k++) {
        lb_transform *t;
        lb_error err;
        ASSERT_EQ(lb_transform_new("EPSG:4326", "EPSG:3857", &t, &err), LB_OK);
        double x = px[k], y = py[k];
        ASSERT_EQ(lb_transform_points(t, 1, &x, &y, &err), LB_OK);
        lb_transform_free(t);
        if (x < b[0] - m || x > b[2] + m || y < b[1] - m || y > b[3] + m)
            far = k;
    }
    ASSERT(far > 0);
    long long n3 = rendered();
    push_point("police_u", "t-police", &pol, "u5", px[far], py[far], "\"typ\":\"Vollsperrung\"");
    ASSERT(refetch(&thw_c));
    ASSERT_EQ(rendered(), n3);
    ASSERT(!refetch(&fire_c)); /* not the tile from before u5 */
    ASSERT(rendered() > n3);

    for (int i = 0; i < NV; i++)
        free(v[i].png);
    free(fire_b.png);
    free(fire_c.png);
    free(thw_c.png);
    tl_sse_close(&pol);
    tl_sse_close(&thw);
    stop();
}

/* A police area 6..15 E x 47.5..55 N with a vertex every 0.25 degrees along
 * its sides, of status st (the police style fills by status). */
static char *big_area(const char *st)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    fprintf(f, "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
               "\"properties\":{\"id\":\"big\",\"status\":\"%s\"},\"geometry\":{"
               "\"type\":\"Polygon\",\"coordinates\":[[",
            st);
    for (int i = 0; i < 36; i++) /* south, west to east */
        fprintf(f, "[%.2f,47.5],", 6.0 + 0.25 * i);
    for (int i = 0; i < 30; i++) /* east, south to north */
        fprintf(f, "[15,%.2f],", 47.5 + 0.25 * i);
    for (int i = 0; i < 36; i++) /* north, east to west */
        fprintf(f, "[%.2f,55],", 15.0 - 0.25 * i);
    for (int i = 0; i < 30; i++) /* west, north to south */
        fprintf(f, "[6,%.2f],", 55.0 - 0.25 * i);
    fprintf(f, "[6,47.5]]]}}]}");
    fclose(f);
    return s;
}

/*
 * The other side of the keys: a change must move them wherever the tiles
 * show it.  In the AdV grid (EPSG:25832, central meridian 9 E) a parallel
 * is a curve that lies furthest south at 9 E, so a large area's southern
 * edge reaches there about 1.1 km further south than at its box's corners
 * and the middle of its south side (the points a change's box in the grid
 * used to be made of, widened by 849 m).  A police tile just inside that
 * edge at 9 E must show a change of the area's status.
 */
LB_TEST(test_keys_move_where_a_large_area_reaches)
{
    start();
    tl_sse pol;
    ASSERT(tl_sse_open(&pol, srv.port, "t-police"));
    char *fc = big_area("Vorwarnung");
    t_resp r;
    ASSERT_EQ(tl_post(srv.port, "police_u", "t-police", fc, &r), 0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    free(fc);
    char msg[1024];
    ASSERT(tl_sse_next(&pol, msg, sizeof msg, 20));

    /* the AdV z14 tile 5 m inside the area's southernmost point */
    const lb_tms *adv = lb_tms_find("DE_EPSG_25832_ADV");
    ASSERT(adv != NULL);
    lb_transform *t;
    lb_error err;
    ASSERT_EQ(lb_transform_new("EPSG:4326", "EPSG:25832", &t, &err), LB_OK);
    double x = 9.0, y = 47.5;
    ASSERT_EQ(lb_transform_points(t, 1, &x, &y, &err), LB_OK);
    lb_transform_free(t);
    double span = lb_tms_resolution(adv, 14) * adv->tile_size;
    view v = {.token = "t-police"};
    snprintf(v.path, sizeof v.path, "/maps/lage/DE_EPSG_25832_ADV/14/%ld/%ld.png",
             (long)floor((x - adv->origin_x) / span), (long)floor((adv->origin_y - y - 5) / span));
    refetch(&v);
    const uint8_t *empty;
    size_t elen;
    empty = lb_png_empty(256, 256, &elen);
    ASSERT(v.len != elen || memcmp(v.png, empty, elen) != 0); /* the area is drawn there */
    ASSERT(refetch(&v));

    fc = big_area("R\\u00e4umung angeordnet");
    ASSERT_EQ(tl_post(srv.port, "police_u", "t-police", fc, &r), 0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    free(fc);
    ASSERT(tl_sse_next(&pol, msg, sizeof msg, 20));
    ASSERT(!refetch(&v)); /* drawn anew in the new colour */

    free(v.png);
    tl_sse_close(&pol);
    stop();
}

/* Pushes police units 200 km from the THW's tile back to back until told to stop. */
typedef struct writer {
    atomic_bool stop;
    atomic_int pushed, failed;
} writer;

static void *write_far_away(void *arg)
{
    writer *w = arg;
    for (int i = 0; !atomic_load(&w->stop); i++) {
        char id[16];
        snprintf(id, sizeof id, "w%d", i % 20);
        char *fc = tl_point(id, 11.5 + 0.01 * (i % 20), 53.5, NULL);
        t_resp r = {0};
        bool ok = tl_post(srv.port, "police_u", "t-police", fc, &r) == 0 && r.status == 200;
        free(fc);
        t_resp_free(&r);
        atomic_fetch_add(ok ? &w->pushed : &w->failed, 1);
        usleep(5 * 1000);
    }
    return NULL;
}

/*
 * The same while pushes keep coming.  A generalised layer is rebuilt whole
 * from the store; when that read came after the publisher took its batch of
 * changes, commits that landed meanwhile were in the snapshot but not in
 * the batch, so no change log could be kept for it (every key moved), and
 * with 3,000 features, whose rebuild takes longer than the gap between two
 * pushes, the grids of one rebuild came from different revisions, so it
 * was thrown away, five times, round after round: the layer was hardly
 * published while the pushes lasted.  Now it is read in the round's read
 * transaction, of the revision the batch explains.
 */
LB_TEST(test_hidden_pushes_under_load_rekey_nothing)
{
    start();
    tl_sse pol, thw;
    ASSERT(tl_sse_open(&pol, srv.port, "t-police"));
    ASSERT(tl_sse_open(&thw, srv.port, "t-thw"));
    /* 3,000 THW units around the tile */
    lb_buf fc = {0};
    lb_buf_puts(&fc, "{\"type\":\"FeatureCollection\",\"features\":[");
    unsigned seed = 1;
    for (int i = 0; i < 3000; i++)
        lb_buf_printf(&fc,
                      "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"t%d\"},\"geometry\":"
                      "{\"type\":\"Point\",\"coordinates\":[%.6f,%.6f]}}",
                      i ? "," : "", i, 9.15 + 0.3 * rand_r(&seed) / RAND_MAX,
                      52.06 + 0.2 * rand_r(&seed) / RAND_MAX);
    lb_buf_puts(&fc, "]}");
    t_resp r;
    ASSERT_EQ(tl_post(srv.port, "thw_u", "t-thw", fc.data, &r), 0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    lb_buf_free(&fc);
    char msg[1024];
    ASSERT(tl_sse_next(&thw, msg, sizeof msg, 20));
    push_point("police_u", "t-police", &pol, "u1", 9.25, 52.15, NULL);

    view v = {.token = "t-thw"};
    xyz_path(9.25, 52.15, 10, v.path, sizeof v.path);
    refetch(&v);
    long long n0 = rendered();
    ASSERT(refetch(&v));
    ASSERT_EQ(rendered(), n0);

    writer w = {0};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, write_far_away, &w), 0);
    int events = 0;
    double end = t_mono() + 3.0;
    while (t_mono() < end)
        if (tl_sse_next(&pol, msg, sizeof msg, 0.2))
            events++; /* one per publish */
    atomic_store(&w.stop, true);
    pthread_join(th, NULL);
    while (tl_sse_next(&pol, msg, sizeof msg, 2.0))
        ; /* until the last push is published */
    fprintf(stderr, "  %d pushes, %d events to the police while they came\n", (int)w.pushed,
            events);
    ASSERT_EQ(w.failed, 0);
    ASSERT(w.pushed > 20);
    ASSERT(events >= 3);            /* the layer kept being published */
    ASSERT(refetch(&v));            /* and thw's tile ... */
    ASSERT_EQ(rendered(), n0);      /* ... never moved */

    free(v.png);
    tl_sse_close(&pol);
    tl_sse_close(&thw);
    stop();
}

/*
 * Review finding A1, session 13: the THW's district staff (thwd) see the
 * THW's units only inside a district west of 9.26 E, whose edge crosses
 * the z10 tile.  THW units pushed in that tile but outside the district
 * are nothing it may see, and must not re-key its tile either (they did:
 * a change-log entry of a label it is cleared for, in the tile, moved its
 * key although the area pass draws nothing of it); one pushed inside does.
 */
LB_TEST(test_hidden_pushes_outside_an_area_do_not_rekey_it)
{
    start();
    tl_sse thw;
    ASSERT(tl_sse_open(&thw, srv.port, "t-thw"));
    push_point("thw_u", "t-thw", &thw, "in1", 9.20, 52.15, NULL);
    push_point("thw_u", "t-thw", &thw, "out1", 9.30, 52.12, NULL);
    view v = {.token = "t-thwd"};
    xyz_path(9.25, 52.15, 10, v.path, sizeof v.path);
    char p2[128];
    xyz_path(9.40, 52.20, 10, p2, sizeof p2);
    ASSERT_STREQ(p2, v.path);
    xyz_path(9.15, 52.10, 10, p2, sizeof p2);
    ASSERT_STREQ(p2, v.path);
    refetch(&v);
    long long n0 = rendered();
    expect_cached(&v, 1, n0);
    long long l0 = lists();

    /* outside the district, in the tile: nothing for thwd */
    push_point("thw_u", "t-thw", &thw, "out2", 9.40, 52.20, NULL);
    expect_cached(&v, 1, n0);
    push_point("thw_u", "t-thw", &thw, "out1", 9.31, 52.13, NULL); /* out1 moves */
    expect_cached(&v, 1, n0);
    /* a label thwd is cleared for but that the tile did not hold yet (a
     * new class in the tile), outside the district */
    push_point("thw_u", "t-thw", &thw, "out3", 9.42, 52.22, "\"level\":\"VS-NfD\"");
    expect_cached(&v, 1, n0);
    ASSERT_EQ(lists(), l0);

    /* inside: its tile shows the new unit */
    push_point("thw_u", "t-thw", &thw, "in2", 9.15, 52.10, NULL);
    ASSERT(!refetch(&v));
    ASSERT(rendered() > n0);

    free(v.png);
    tl_sse_close(&thw);
    stop();
}

/*
 * The same in a conflated layer (fusion/conflate.c), which is rebuilt whole
 * on every push: a push re-conflates its neighbourhood, so it can change
 * fused features and the reports merged into them that are not among its
 * rows.  Its keys follow the difference of the old and the new snapshots
 * (lb_snapshot_diff).  Before, every push re-keyed every tile of the layer
 * for everybody (the rest of review finding F4, session 13).
 *
 * Layer "reports", conflated within 50 m: the fire brigade's and the THW's
 * reports (OFFEN, for fire and THW), the police's (VS-NfD, police only),
 * which never merge with the others (no group in common).
 */
LB_TEST(test_hidden_pushes_do_not_rekey_conflated_layers)
{
    start();
    tl_sse pol, thw;
    ASSERT(tl_sse_open(&pol, srv.port, "t-police"));
    ASSERT(tl_sse_open(&thw, srv.port, "t-thw"));
    /* 0.0002 degrees of latitude: 22 m; P1 and P2 580 m apart */
    const double P1[2] = {9.2360, 52.1500}, P2[2] = {9.2440, 52.1520};
    push_to("reports", "thw_r", "t-thw", &thw, "r1", P1[0], P1[1], "\"typ\":\"Brand\"");
    push_to("reports", "fire_r", "t-fire", &thw, "f1", P1[0], P1[1] + 0.0002,
            "\"typ\":\"Brand\"");
    push_to("reports", "thw_r", "t-thw", &thw, "r2", P2[0], P2[1], "\"typ\":\"Brand\"");

    enum { THW_T, THW_T10, THW_ADV, FIRE_T, NV };
    view v[NV] = {{.token = "t-thw"}, {.token = "t-thw"}, {.token = "t-thw"}, {.token = "t-fire"}};
    xyz_path_of("meld", P1[0], P1[1], 14, v[THW_T].path, sizeof v[THW_T].path);
    xyz_path_of("meld", P1[0], P1[1], 10, v[THW_T10].path, sizeof v[THW_T10].path);
    adv_path_of("meld", P1[0], P1[1], 9, v[THW_ADV].path, sizeof v[THW_ADV].path);
    memcpy(v[FIRE_T].path, v[THW_T].path, sizeof v[FIRE_T].path);
    char p2[128];
    xyz_path_of("meld", P2[0], P2[1], 14, p2, sizeof p2);
    ASSERT_STREQ(p2, v[THW_T].path); /* P1 and P2 in one z14 tile */
    for (int i = 0; i < NV; i++)
        refetch(&v[i]);
    const uint8_t *empty;
    size_t elen;
    empty = lb_png_empty(256, 256, &elen);
    ASSERT(v[THW_T].len != elen || memcmp(v[THW_T].png, empty, elen) != 0);
    long long n0 = rendered();
    expect_cached(v, NV, n0);

    /* 1: a police report 200 km away */
    long long bytes = metric("lagebild_cache_bytes"), l0 = lists();
    push_to("reports", "police_r", "t-police", &pol, "p1", 11.5, 53.5, "\"typ\":\"Brand\"");
    expect_cached(v, NV, n0);
    ASSERT_EQ(metric("lagebild_cache_bytes"), bytes);

    /* 2: police reports of the same kind 20 m from r2 and from the fused
     * r1 + f1: their neighbourhoods are conflated again, and nothing that
     * fire or thw see changes */
    push_to("reports", "police_r", "t-police", &pol, "p2", P2[0], P2[1] + 0.0002,
            "\"typ\":\"Brand\"");
    expect_cached(v, NV, n0);
    push_to("reports", "police_r", "t-police", &pol, "p3", P1[0], P1[1] - 0.0002,
            "\"typ\":\"Brand\"");
    expect_cached(v, NV, n0);
    /* and p3 moves next to r1 */
    push_to("reports", "police_r", "t-police", &pol, "p3", P1[0] + 0.0001, P1[1],
            "\"typ\":\"Brand\"");
    expect_cached(v, NV, n0);
    ASSERT_EQ(lists(), l0); /* not even the classes present were listed again */

    /* 3: a fire report merges with r2: the tiles showing it are drawn anew */
    push_to("reports", "fire_r", "t-fire", &thw, "f2", P2[0], P2[1] - 0.0002,
            "\"typ\":\"Brand\"");
    refetch(&v[THW_T]);
    long long n1 = rendered();
    ASSERT(n1 > n0);
    ASSERT(refetch(&v[THW_T]));
    ASSERT_EQ(rendered(), n1);

    /* 4: a new fire report of its own in the tile: other bytes for both */
    push_to("reports", "fire_r", "t-fire", &thw, "f3", P1[0] - 0.004, P1[1] + 0.001,
            "\"typ\":\"Gefahrstoff\"");
    ASSERT(!refetch(&v[THW_T]));
    ASSERT(!refetch(&v[FIRE_T]));
    ASSERT(rendered() > n1);

    for (int i = 0; i < NV; i++)
        free(v[i].png);
    tl_sse_close(&pol);
    tl_sse_close(&thw);
    stop();
}

/*
 * The generalised snapshot holds one feature per drawn content, and the
 * order it draws them in (all points of a cell lie at its centre) must not
 * depend on which units stand behind a content: it went by the first unit
 * read (the lowest fid), so a swap of kinds between units that left the
 * same contents in the cell changed what a fresh render drew on top while
 * the running server, rightly seeing no change, kept its tile (review
 * finding, session 14).  Four police units in one cell, two of each kind;
 * each swaps its kind in turn: fire's tile stays the same bytes, without a
 * render, and a render from scratch (a reload) gives those bytes too.
 */
LB_TEST(test_generalised_drawing_order_does_not_depend_on_the_units)
{
    start();
    tl_sse pol;
    ASSERT(tl_sse_open(&pol, srv.port, "t-police"));
    static const char *const kind[2] = {"Vollsperrung", "Kontrollstelle"};
    const char *ids[4] = {"a", "b", "c", "d"};
    int k[4] = {0, 1, 0, 1};
    lb_buf fc = {0};
    lb_buf_puts(&fc, "{\"type\":\"FeatureCollection\",\"features\":[");
    for (int i = 0; i < 4; i++)
        lb_buf_printf(&fc,
                      "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"%s\",\"typ\":\"%s\"},"
                      "\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.4f,52.15]}}",
                      i ? "," : "", ids[i], kind[k[i]], 9.25 + 0.0003 * i);
    lb_buf_puts(&fc, "]}");
    ASSERT(tl_post_ok(&srv, "police_u", "t-police", fc.data));
    lb_buf_free(&fc);
    char msg[1024];
    ASSERT(tl_sse_next(&pol, msg, sizeof msg, 20));
    view v[2] = {{.token = "t-fire"}, {.token = "t-fire"}};
    xyz_path(9.25, 52.15, 10, v[0].path, sizeof v[0].path);
    xyz_path(9.25, 52.15, 14, v[1].path, sizeof v[1].path);
    refetch(&v[0]);
    refetch(&v[1]);
    for (int i = 0; i < 4; i++) {
        k[i] ^= 1;
        char props[64];
        snprintf(props, sizeof props, "\"typ\":\"%s\"", kind[k[i]]);
        long long n = rendered();
        push_point("police_u", "t-police", &pol, ids[i], 9.25 + 0.0003 * i, 52.15, props);
        expect_cached(v, 2, n);
        expect_fresh(v, 2);
    }
    free(v[0].png);
    free(v[1].png);
    tl_sse_close(&pol);
    stop();
}

/* The bbox of an event message. */
static void event_bbox(const char *msg, double b[4])
{
    const char *p = strstr(msg, "\"bbox\":[");
    ASSERT(p != NULL);
    ASSERT_EQ(sscanf(p + 8, "%lf,%lf,%lf,%lf", &b[0], &b[1], &b[2], &b[3]), 4);
}

/*
 * Events of a conflated layer name what a push re-clustered, not only the
 * pushed rows (review finding, session 14): the THW reports an area (a
 * 1.4 km square, accuracy 100 m), the fire brigade a point of the same kind
 * at its centre (accuracy 5 m).  They fuse, and the fused feature takes the
 * point's geometry, so the square vanishes from the THW's tiles: its event
 * must cover the square, not just the pushed point.  When the point goes
 * again, the square comes back: the same.
 */
LB_TEST(test_conflation_events_cover_what_a_push_reclustered)
{
    start();
    tl_sse thw;
    ASSERT(tl_sse_open(&thw, srv.port, "t-thw"));
    const double C[2] = {9.30, 52.20}, D = 0.006;
    char *fc = tl_square("sq", C[0], C[1], D, "\"typ\":\"Brand\",\"acc\":100");
    ASSERT(tl_post_ok(&srv, "thw_r", "t-thw", fc));
    free(fc);
    char msg[1024];
    double b[4];
    ASSERT(tl_sse_next(&thw, msg, sizeof msg, 20));
    event_bbox(msg, b);
    ASSERT(b[0] <= C[0] - D + 1e-6 && b[2] >= C[0] + D - 1e-6);
    for (int round = 0; round < 2; round++) {
        if (round == 0) {
            fc = tl_point("pt", C[0], C[1], "\"typ\":\"Brand\",\"acc\":5");
            ASSERT(tl_post_ok(&srv, "fire_r", "t-fire", fc));
            free(fc);
        } else {
            ASSERT(tl_delete_ok(&srv, "fire_r", "t-fire", "pt"));
        }
        ASSERT(tl_sse_next(&thw, msg, sizeof msg, 20));
        event_bbox(msg, b);
        if (!(b[0] <= C[0] - D + 1e-6 && b[1] <= C[1] - D + 1e-6 && b[2] >= C[0] + D - 1e-6 &&
              b[3] >= C[1] + D - 1e-6))
            fprintf(stderr, "  round %d: event bbox %.5f %.5f %.5f %.5f\n", round, b[0], b[1],
                    b[2], b[3]);
        ASSERT(b[0] <= C[0] - D + 1e-6 && b[1] <= C[1] - D + 1e-6);
        ASSERT(b[2] >= C[0] + D - 1e-6 && b[3] >= C[1] + D - 1e-6);
    }
    tl_sse_close(&thw);
    stop();
}

/*
 * A report the THW may not see (VS-NfD, fire brigade only) joins the
 * cluster of one it sees: the fused feature is hidden from the THW, which
 * goes on seeing its own report, drawn alike; only the report's member
 * flag and fused label changed.  The THW hears nothing of it (the
 * re-clustering events of the conflated layer would have told it that a
 * hidden report came near its own), the fire brigade does.
 */
LB_TEST(test_a_hidden_report_joining_a_cluster_sends_no_event)
{
    start();
    tl_sse thw, fire;
    ASSERT(tl_sse_open(&thw, srv.port, "t-thw"));
    ASSERT(tl_sse_open(&fire, srv.port, "t-fire"));
    char msg[1024];
    char *fc = tl_point("r9", 9.31, 52.21, "\"typ\":\"Brand\"");
    ASSERT(tl_post_ok(&srv, "thw_r", "t-thw", fc));
    free(fc);
    ASSERT(tl_sse_next(&thw, msg, sizeof msg, 20));
    ASSERT(tl_sse_next(&fire, msg, sizeof msg, 20));
    for (int round = 0; round < 2; round++) {
        if (round == 0) {
            fc = tl_point("h1", 9.31, 52.2101,
                          "\"typ\":\"Brand\",\"level\":\"VS-NfD\",\"rel\":\"fire\"");
            ASSERT(tl_post_ok(&srv, "fire_r", "t-fire", fc));
            free(fc);
        } else {
            ASSERT(tl_delete_ok(&srv, "fire_r", "t-fire", "h1"));
        }
        ASSERT(tl_sse_next(&fire, msg, sizeof msg, 20)); /* published */
        char *store = t_path(dir, "store.sqlite");
        ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM lb_fused"), round == 0 ? 1 : 0);
        free(store);
        bool told = tl_sse_next(&thw, msg, sizeof msg, 1.0);
        if (told)
            fprintf(stderr, "  round %d: the THW was told: %s\n", round, msg);
        ASSERT(!told);
    }
    tl_sse_close(&thw);
    tl_sse_close(&fire);
    stop();
}

/*
 * A report the THW may not see joining the cluster of one it sees changes
 * no pixel and no key of the THW's tiles.  The THW's report r9 (a "Brand":
 * a cross) lies among four THW reports of another kind (squares) whose
 * symbols overlap it.  A fire-only VS-NfD report h1 joins r9's cluster: r9
 * becomes a member of a fused feature the THW may not see, so the THW goes
 * on seeing r9 where it was.  It was drawn after the other reports of its
 * label then (members came after the others, by fused label), on top of
 * its neighbours, so the THW's tiles changed where the symbols overlap, and
 * its keys named the fused label, so they were drawn again: both told it
 * that a hidden report had come (session 14's residual).  Now the THW's
 * tiles keep their bytes without a render while h1 comes and goes, a render
 * from scratch with h1 present gives those bytes too (as a store without h1
 * would), and the fire brigade, which sees the fused feature, gets new
 * tiles.  A second THW "Brand" n5 lies 4 m from r9: at low zoom the two
 * are drawn as one point, and h1 makes one of them a member; the point must
 * stay one (review finding, session 15: it split in two, a darker overdraw,
 * while the change log said nothing had changed for the THW: stale tiles).
 */
LB_TEST(test_a_hidden_report_joining_a_cluster_changes_no_tile)
{
    start();
    tl_sse thw, fire;
    ASSERT(tl_sse_open(&thw, srv.port, "t-thw"));
    ASSERT(tl_sse_open(&fire, srv.port, "t-fire"));
    char msg[1024];
    const double C[2] = {9.3100, 52.2100}, d = 0.00008; /* 0.00008 deg: 5-9 m */
    lb_buf fc = {0};
    lb_buf_puts(&fc, "{\"type\":\"FeatureCollection\",\"features\":[");
    const double off[6][2] = {{0, 0}, {d, 0}, {-d, 0}, {0, d}, {0, -d}, {3e-5, 2e-5}};
    for (int i = 0; i < 6; i++)
        lb_buf_printf(&fc,
                      "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"n%d\",\"typ\":\"%s\"},"
                      "\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.6f,%.6f]}}",
                      i ? "," : "", i, i && i < 5 ? "Bereitstellungsraum" : "Brand",
                      C[0] + off[i][0], C[1] + off[i][1]);
    lb_buf_puts(&fc, "]}");
    ASSERT(tl_post_ok(&srv, "thw_r", "t-thw", fc.data));
    lb_buf_free(&fc);
    ASSERT(tl_sse_next(&thw, msg, sizeof msg, 20));
    ASSERT(tl_sse_next(&fire, msg, sizeof msg, 20));
    /* what the THW's layer list says (updated_at: the newest change it may
     * see, read from the store when the server loads it) */
    ASSERT(t_server_reload(&srv, "t-admin", 20));
    t_resp lj0;
    ASSERT_EQ(t_get(srv.port, "/maps/meld/layers.json", "t-thw", &lj0), 0);
    ASSERT_EQ(lj0.status, 200);

    enum { T14, T15, T16, TADV, T6, T8, T10, T12, TADV6, TADV9, NT };
    view v[NT];
    for (int i = 0; i < NT; i++)
        v[i] = (view){.token = "t-thw"};
    xyz_path_of("meld", C[0], C[1], 14, v[T14].path, sizeof v[T14].path);
    xyz_path_of("meld", C[0], C[1], 15, v[T15].path, sizeof v[T15].path);
    xyz_path_of("meld", C[0], C[1], 16, v[T16].path, sizeof v[T16].path);
    adv_path_of("meld", C[0], C[1], 13, v[TADV].path, sizeof v[TADV].path);
    xyz_path_of("meld", C[0], C[1], 6, v[T6].path, sizeof v[T6].path);
    xyz_path_of("meld", C[0], C[1], 8, v[T8].path, sizeof v[T8].path);
    xyz_path_of("meld", C[0], C[1], 10, v[T10].path, sizeof v[T10].path);
    xyz_path_of("meld", C[0], C[1], 12, v[T12].path, sizeof v[T12].path);
    adv_path_of("meld", C[0], C[1], 6, v[TADV6].path, sizeof v[TADV6].path);
    adv_path_of("meld", C[0], C[1], 9, v[TADV9].path, sizeof v[TADV9].path);
    view f = {.token = "t-fire"};
    memcpy(f.path, v[T16].path, sizeof f.path);
    for (int i = 0; i < NT; i++)
        refetch(&v[i]);
    refetch(&f);
    long long n0 = rendered();
    expect_cached(v, NT, n0);

    for (int round = 0; round < 2; round++) {
        if (round == 0) {
            char *p = tl_point("h1", C[0] + d / 2, C[1] + d / 2,
                               "\"typ\":\"Brand\",\"level\":\"VS-NfD\",\"rel\":\"fire\"");
            ASSERT(tl_post_ok(&srv, "fire_r", "t-fire", p));
            free(p);
        } else {
            ASSERT(tl_delete_ok(&srv, "fire_r", "t-fire", "h1"));
        }
        ASSERT(tl_sse_next(&fire, msg, sizeof msg, 20));
        char *store = t_path(dir, "store.sqlite");
        ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM lb_fused"), round == 0 ? 1 : 0);
        free(store);
        expect_cached(v, NT, n0);
        t_resp lj;
        ASSERT_EQ(t_get(srv.port, "/maps/meld/layers.json", "t-thw", &lj), 0);
        ASSERT(strstr(lj.body, "\"updated_at\":\"") != NULL);
        ASSERT_STREQ(lj.body, lj0.body);
        t_resp_free(&lj);
        ASSERT(!refetch(&f)); /* the fire brigade sees the fused feature come and go */
        n0 = rendered();
        if (round == 0) {
            /* drawn from scratch with h1 in the store: the same bytes, for
             * the THW as without h1, for the fire brigade as it was told */
            ASSERT(t_server_reload(&srv, "t-admin", 20));
            long long r0 = rendered();
            for (int i = 0; i < NT; i++)
                ASSERT(refetch(&v[i]));
            ASSERT(refetch(&f));
            ASSERT(rendered() > r0);
            n0 = rendered();
            ASSERT_EQ(t_get(srv.port, "/maps/meld/layers.json", "t-thw", &lj), 0);
            ASSERT_STREQ(lj.body, lj0.body);
            t_resp_free(&lj);
        }
    }
    t_resp_free(&lj0);
    for (int i = 0; i < NT; i++)
        free(v[i].png);
    free(f.png);
    tl_sse_close(&thw);
    tl_sse_close(&fire);
    stop();
}

/*
 * Generalised release in a conflated layer: the police's reports a and b
 * (same kind and status) lie in one 5 km cell, so the fire brigade sees one
 * cell symbol for both.  A VS-VERTRAULICH police report h, which fire may
 * not see in any form, joins a's cluster: a becomes a member of a fused
 * feature fire may not see.  The generalised snapshot kept a's merged form
 * as a content of its own beside b's, so fire's cell was drawn twice (a
 * darker overdraw), re-rendered, and fire was told (review finding, session
 * 15).  A merged report drawn like a plain one is that content now: fire's
 * tiles keep their bytes without a render and without an event while h
 * comes and goes, and a render from scratch gives those bytes.
 */
LB_TEST(test_a_hidden_report_joining_a_cluster_leaves_generalised_cells_alone)
{
    start();
    tl_sse pol, fire;
    ASSERT(tl_sse_open(&pol, srv.port, "t-police"));
    ASSERT(tl_sse_open(&fire, srv.port, "t-fire"));
    char msg[1024];
    const double A[2] = {9.2501, 52.1501}, B[2] = {9.2350, 52.1590};
    const char *props = "\"typ\":\"Vollsperrung\",\"status\":\"im Einsatz\"";
    push_to("reports2", "polg_r", "t-police", &pol, "a", A[0], A[1], props);
    push_to("reports2", "polg_r", "t-police", &pol, "b", B[0], B[1], props);
    ASSERT(tl_sse_next(&fire, msg, sizeof msg, 20));
    view v[6];
    for (int i = 0; i < 6; i++)
        v[i] = (view){.token = "t-fire"};
    /* the centre of the cell of a and b, where the fire brigade's symbol is */
    const double C[2] = {9.218291, 52.154698};
    for (int z = 9; z <= 12; z++)
        xyz_path_of("meld2", C[0], C[1], z, v[z - 9].path, sizeof v[z - 9].path);
    adv_path_of("meld2", C[0], C[1], 6, v[4].path, sizeof v[4].path);
    adv_path_of("meld2", C[0], C[1], 8, v[5].path, sizeof v[5].path);
    for (int i = 0; i < 6; i++)
        refetch(&v[i]);
    const uint8_t *empty;
    size_t elen;
    empty = lb_png_empty(256, 256, &elen);
    ASSERT(v[3].len != elen || memcmp(v[3].png, empty, elen) != 0); /* fire sees the cell */
    long long n0 = rendered();
    expect_cached(v, 6, n0);
    for (int round = 0; round < 2; round++) {
        if (round == 0) {
            push_to("reports2", "polv_r", "t-police", &pol, "h", A[0] + 0.0001, A[1] + 0.00005,
                    props);
        } else {
            ASSERT(tl_delete_ok(&srv, "polv_r", "t-police", "h"));
            ASSERT(tl_sse_next(&pol, msg, sizeof msg, 20));
        }
        char *store = t_path(dir, "store.sqlite");
        ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM lb_fused"), round == 0 ? 1 : 0);
        free(store);
        expect_cached(v, 6, n0);
        bool told = tl_sse_next(&fire, msg, sizeof msg, 1.0);
        if (told)
            fprintf(stderr, "  round %d: fire was told: %s\n", round, msg);
        ASSERT(!told);
        if (round == 0) {
            n0 = expect_fresh(v, 6);
        }
    }
    for (int i = 0; i < 6; i++)
        free(v[i].png);
    tl_sse_close(&pol);
    tl_sse_close(&fire);
    stop();
}

/*
 * An area pass names in its keys only the merged reports it hides that
 * meet its area (review finding, session 15).  A THW report joins the
 * cluster of a fire report outside the THW district, in a tile the
 * district's edge crosses; the THW (unlimited) sees the fused feature and
 * asks first, so the tile's class list names the merged report.  The
 * district's staff (thwd) draw nothing of that place: their tiles keep
 * their keys and bytes.
 */
LB_TEST(test_a_cluster_outside_an_area_does_not_rekey_it)
{
    start();
    tl_sse thw;
    ASSERT(tl_sse_open(&thw, srv.port, "t-thw"));
    const double A[2] = {9.3000, 52.1500}; /* the district ends at 9.26 E */
    push_to("reports", "thw_r", "t-thw", &thw, "in", 9.20, 52.15, "\"typ\":\"Brand\"");
    push_to("reports", "fire_r", "t-fire", &thw, "a2", A[0], A[1], "\"typ\":\"Brand\"");
    view d[3] = {{.token = "t-thwd"}, {.token = "t-thwd"}, {.token = "t-thwd"}};
    view t[3] = {{.token = "t-thw"}, {.token = "t-thw"}, {.token = "t-thw"}};
    xyz_path_of("meld", A[0], A[1], 10, d[0].path, sizeof d[0].path);
    xyz_path_of("meld", A[0], A[1], 12, d[1].path, sizeof d[1].path);
    adv_path_of("meld", A[0], A[1], 8, d[2].path, sizeof d[2].path);
    char p2[128];
    xyz_path_of("meld", 9.20, 52.15, 10, p2, sizeof p2);
    ASSERT_STREQ(p2, d[0].path); /* the tile holds both sides of the edge */
    for (int i = 0; i < 3; i++) {
        memcpy(t[i].path, d[i].path, sizeof t[i].path);
        refetch(&d[i]);
    }
    long long n0 = rendered();
    expect_cached(d, 3, n0);
    push_to("reports", "thw_r", "t-thw", &thw, "h2", A[0] + 0.0001, A[1], "\"typ\":\"Brand\"");
    char *store = t_path(dir, "store.sqlite");
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM lb_fused"), 1);
    free(store);
    for (int i = 0; i < 3; i++)
        refetch(&t[i]); /* the THW first: the class lists name the merged report */
    n0 = rendered();
    expect_cached(d, 3, n0);
    for (int i = 0; i < 3; i++) {
        free(d[i].png);
        free(t[i].png);
    }
    tl_sse_close(&thw);
    stop();
}

/*
 * The first push to a layer after the server starts: a layer had no change
 * log until then, and the tiles' lists of classes were cached under another
 * key form without one, so the first push, hidden or not, made every
 * principal list its tiles' classes again (review finding, session 15).
 * Layers start with an empty log now.
 */
LB_TEST(test_the_first_hidden_push_after_start_lists_nothing_again)
{
    start();
    tl_sse pol;
    ASSERT(tl_sse_open(&pol, srv.port, "t-police"));
    view v = {.token = "t-thw"};
    xyz_path_of("meld", 9.25, 52.15, 10, v.path, sizeof v.path);
    refetch(&v);
    long long n0 = rendered(), l0 = lists();
    expect_cached(&v, 1, n0);
    push_to("reports", "police_r", "t-police", &pol, "p1", 11.5, 53.5, "\"typ\":\"Brand\"");
    expect_cached(&v, 1, n0);
    ASSERT_EQ(lists(), l0);
    free(v.png);
    tl_sse_close(&pol);
    stop();
}

LB_TESTS(test_hidden_pushes_do_not_rekey_generalised_layers,
         test_a_hidden_report_joining_a_cluster_sends_no_event,
         test_a_hidden_report_joining_a_cluster_changes_no_tile,
         test_a_hidden_report_joining_a_cluster_leaves_generalised_cells_alone,
         test_a_cluster_outside_an_area_does_not_rekey_it,
         test_the_first_hidden_push_after_start_lists_nothing_again,
         test_conflation_events_cover_what_a_push_reclustered,
         test_generalised_drawing_order_does_not_depend_on_the_units,
         test_hidden_pushes_do_not_rekey_conflated_layers,
         test_hidden_pushes_outside_an_area_do_not_rekey_it,
         test_keys_move_where_a_large_area_reaches, test_hidden_pushes_under_load_rekey_nothing)
