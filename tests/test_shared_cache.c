/*
 * Content-keyed tile sharing through the running server: principals whose
 * rights differ but who see exactly the same features in a tile share its
 * rendering and its PNG (no new layer render; /metrics counts a shared hit;
 * identical bytes and ETag), principals who see different features there
 * never do (a new render, different pixels), an area-limited role shares the
 * unmasked render where its area covers the tile, draws the features that
 * meet its area itself where the area's boundary crosses the tile, and never
 * shares the masked result, and the first look at a
 * shared entry is made as slow as a render (the server reports the wait).
 * ETags are a hash of the PNG bytes: a hidden feature added to a tile (new
 * revision, reload) changes the ETag of those who see it and of nobody else.
 * Renders draw class after class (label order), and a canvas holding the
 * first classes of a principal's set is shared with whoever sees exactly
 * those first classes, or continued by whoever sees more: the bytes are the
 * same as a whole render's.
 *
 * The data: one point layer with four features labelled per feature:
 *   f0 (8.70, 52.00) OFFEN, releasable to police, fire, thw     -> tile C
 *   f1 (9.00, 52.00) OFFEN, releasable to police, fire, thw     -> tile A
 *   f2 (9.30, 52.00) VS-NfD, releasable to police only           -> tile B
 *   f3 (9.31, 52.00) OFFEN, releasable to police, fire, thw      -> tile B
 * Roles: police, fire, thw (all VS-NfD in their own group; thw has two
 * principals), landkreis (VS-NfD, group thw, area limit 8.50-9.0001° E,
 * 51.90-52.10° N, so it sees only the western half of f1's marker, and all
 * of tile C).
 */
#include <math.h>
#include <png.h>

#include "lbtest.h"
#include "thttp.h"
#include "tutil.h"

static char *dir, *cfg;

static const char config_text[] =
    "store: {path: shared.sqlite}\n"
    "groups: [police, fire, thw]\n"
    "layers:\n"
    "  lage: {title: Lage}\n"
    "sources:\n"
    "  meldungen:\n"
    "    path: points.geojson\n"
    "    layer: lage\n"
    "    agency: police\n"
    "    fid: id\n"
    "    label: {level: OFFEN, level_from: stufe, releasable_to_from: freigabe}\n"
    "maps:\n"
    "  lage: {title: Lage, layers: [lage]}\n"
    "roles:\n"
    "  police: {title: Polizei, clearance: {level: VS-NfD, groups: [police]}, layers: [\"*\"]}\n"
    "  fire: {title: Feuerwehr, clearance: {level: VS-NfD, groups: [fire]}, layers: [\"*\"]}\n"
    "  thw: {title: THW, clearance: {level: VS-NfD, groups: [thw]}, layers: [\"*\"]}\n"
    "  landkreis:\n"
    "    title: Landkreis\n"
    "    clearance: {level: VS-NfD, groups: [thw]}\n"
    "    layers: [\"*\"]\n"
    "    area: {path: area.geojson}\n"
    "tokens:\n"
    "  police: {hash: \"sha256:50467e3863037604788afbe767c96c2c4317f00906d1f36cb2ead8c3f0d60b2f\", roles: [police]}\n"
    "  fire: {hash: \"sha256:ca7fdc63304ac26ddabcbdfc0c5eaebd707b409bf8e4ed95cb9e8aca4cbd139d\", roles: [fire]}\n"
    "  thw: {hash: \"sha256:74cd0059c846ccb1140ba5223a7f84c25c1eba63074b157632dfc2945b5d84c6\", roles: [thw]}\n"
    "  thw2: {hash: \"sha256:6f36e3f691eae3b3365ebb98ecb5e7832f99c87ed5b50bbda4f6572d1b5fa8b3\", roles: [thw]}\n"
    "  landkreis: {hash: \"sha256:1b0a2731be4b000e37465280f5fb0db1fbc797d3354bea82b22b4d010be0a5a8\", roles: [landkreis]}\n"
    "  admin: {hash: \"sha256:c140b9ee332d67f84953aae63edc037a10d217685d2d98161ecb34696eb4e2a4\", roles: [police], admin: true}\n";

static const char points_text[] =
    "{\"type\": \"FeatureCollection\", \"features\": [\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"f0\", \"stufe\": \"OFFEN\", \"freigabe\": \"police,fire,thw\"},\n"
    "  \"geometry\": {\"type\": \"Point\", \"coordinates\": [8.70, 52.00]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"f1\", \"stufe\": \"OFFEN\", \"freigabe\": \"police,fire,thw\"},\n"
    "  \"geometry\": {\"type\": \"Point\", \"coordinates\": [9.00, 52.00]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"f2\", \"stufe\": \"VS-NfD\", \"freigabe\": \"police\"},\n"
    "  \"geometry\": {\"type\": \"Point\", \"coordinates\": [9.30, 52.00]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"f3\", \"stufe\": \"OFFEN\", \"freigabe\": \"police,fire,thw\"},\n"
    "  \"geometry\": {\"type\": \"Point\", \"coordinates\": [9.31, 52.00]}}]}\n";

/* the landkreis area ends 7 m (0.2 px at zoom 12) east of f1: f1 lies in
 * it, and the east half of its marker outside */
static const char area_text[] =
    "{\"type\": \"FeatureCollection\", \"features\": [{\"type\": \"Feature\", \"properties\": {},\n"
    " \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[8.5, 51.9], [9.0001, 51.9], [9.0001, 52.1],\n"
    " [8.5, 52.1], [8.5, 51.9]]]}}]}\n";

#define Z 12

static void setup(void)
{
    dir = t_tmpdir();
    t_write(dir, "shared.yaml", config_text);
    t_write(dir, "points.geojson", points_text);
    t_write(dir, "area.geojson", area_text);
    cfg = t_path(dir, "shared.yaml");
    t_result r = t_lagebild("ingest", cfg, "--quiet", NULL);
    if (r.status != 0)
        fprintf(stderr, "%s\n", r.err);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
}

static void teardown(void)
{
    t_rmrf(dir);
    free(dir);
    free(cfg);
}

/* Web Mercator tile and pixel of a lon/lat position at zoom Z. */
static void locate(double lon, double lat, long *tx, long *ty, int *px, int *py)
{
    double n = (double)(1L << Z);
    double fx = (lon + 180.0) / 360.0 * n;
    double la = lat * M_PI / 180.0;
    double fy = (1.0 - log(tan(la) + 1.0 / cos(la)) / M_PI) / 2.0 * n;
    *tx = (long)floor(fx);
    *ty = (long)floor(fy);
    *px = (int)floor((fx - (double)*tx) * 256);
    *py = (int)floor((fy - (double)*ty) * 256);
}

/* Alpha of pixel (px,py) of a PNG body; -1 when it cannot be decoded. */
static int alpha_at(const t_resp *resp, int px, int py)
{
    png_image img = {.version = PNG_IMAGE_VERSION};
    if (!png_image_begin_read_from_memory(&img, resp->body, resp->bodylen))
        return -1;
    img.format = PNG_FORMAT_RGBA;
    uint8_t *buf = malloc(PNG_IMAGE_SIZE(img));
    int a = -1;
    if (buf && png_image_finish_read(&img, NULL, buf, 0, NULL) && px >= 0 && py >= 0 &&
        px < (int)img.width && py < (int)img.height)
        a = buf[((size_t)py * img.width + (size_t)px) * 4 + 3];
    free(buf);
    png_image_free(&img);
    return a;
}

static void tile(int port, const char *token, long x, long y, t_resp *out)
{
    char path[128];
    snprintf(path, sizeof path, "/maps/lage/%d/%ld/%ld.png", Z, x, y);
    ASSERT_EQ(t_get(port, path, token, out), 0);
    ASSERT_EQ(out->status, 200);
}

typedef struct counters {
    double rendered, hits, layer_hits, shared, wait_s;
} counters;

static double metric(const t_resp *m, const char *name)
{
    double v = t_resp_metric(m, name);
    ASSERT(v >= 0);
    return v;
}

static counters metrics(int port)
{
    t_resp m;
    ASSERT_EQ(t_get(port, "/metrics", "t-admin", &m), 0);
    ASSERT_EQ(m.status, 200);
    counters c = {metric(&m, "lagebild_tiles_rendered_total"),
                  metric(&m, "lagebild_cache_hits_total"),
                  metric(&m, "lagebild_layer_cache_hits_total"),
                  metric(&m, "lagebild_shared_hits_total"),
                  metric(&m, "lagebild_shared_wait_seconds_total")};
    t_resp_free(&m);
    return c;
}

static bool same_bytes(const t_resp *a, const t_resp *b)
{
    return a->bodylen == b->bodylen && memcmp(a->body, b->body, a->bodylen) == 0;
}

static void etag_of(const t_resp *r, char *buf, size_t n) { ASSERT(t_resp_header(r, "ETag", buf, n)); }

/* The server on the test's config, its audit log and stderr in dir. */
static void start(t_server *srv)
{
    char errpath[1024];
    snprintf(errpath, sizeof errpath, "%s/server.err", dir);
    char *audit = t_path(dir, "audit.jsonl");
    ASSERT(t_server_start(srv, cfg, audit, errpath));
    free(audit);
}

LB_TEST(test_equal_visible_content_shares_and_other_content_never_does)
{
    setup();
    t_server srv;
    start(&srv);
    long ax, ay, bx, by, cx, cy;
    int apx, apy, f2x, f2y, f3x, f3y;
    locate(9.00, 52.00, &ax, &ay, &apx, &apy);
    locate(9.30, 52.00, &bx, &by, &f2x, &f2y);
    locate(9.31, 52.00, &cx, &cy, &f3x, &f3y);
    ASSERT(bx == cx && by == cy); /* f2 and f3 share tile B */
    ASSERT(bx - ax >= 2);         /* tile A is far from f2 (beyond every margin) */

    /* tile A: the police renders it */
    counters m0 = metrics(srv.port);
    t_resp pa, fa, ta, t2a, la;
    tile(srv.port, "t-police", ax, ay, &pa);
    ASSERT(alpha_at(&pa, apx, apy) > 200);
    counters m1 = metrics(srv.port);
    ASSERT_EQ(m1.rendered - m0.rendered, 1);
    ASSERT_EQ(m1.shared - m0.shared, 0);

    /* fire and thw have other rights but see exactly f1 there: no render,
     * the same bytes and ETag, counted as shared hits, and their first look
     * waited as long as the render took */
    tile(srv.port, "t-fire", ax, ay, &fa);
    tile(srv.port, "t-thw", ax, ay, &ta);
    counters m2 = metrics(srv.port);
    ASSERT_EQ(m2.rendered - m1.rendered, 0);
    ASSERT_EQ(m2.shared - m1.shared, 2);
    ASSERT_EQ(m2.hits - m1.hits, 2);
    ASSERT(m2.wait_s > m1.wait_s);
    ASSERT(same_bytes(&pa, &fa));
    ASSERT(same_bytes(&pa, &ta));
    char e1[64], e2[64];
    etag_of(&pa, e1, sizeof e1);
    etag_of(&fa, e2, sizeof e2);
    ASSERT_STREQ(e1, e2);

    /* a second principal with the very same rights as thw: an ordinary hit */
    tile(srv.port, "t-thw2", ax, ay, &t2a);
    counters m3 = metrics(srv.port);
    ASSERT_EQ(m3.rendered - m2.rendered, 0);
    ASSERT_EQ(m3.shared - m2.shared, 0);
    ASSERT_EQ(m3.hits - m2.hits, 1);
    ASSERT(same_bytes(&pa, &t2a));

    /* landkreis sees what thw sees, but only inside its area.  Its
     * boundary crosses tile A: landkreis draws the features that meet its
     * area itself (f1 lies just inside) and gets its own masked pixels,
     * never the unmasked composite */
    tile(srv.port, "t-landkreis", ax, ay, &la);
    counters m4a = metrics(srv.port);
    ASSERT_EQ(m4a.rendered - m3.rendered, 1);
    ASSERT_EQ(m4a.hits - m3.hits, 0); /* never the unmasked composite */
    ASSERT(!same_bytes(&la, &ta));
    ASSERT(alpha_at(&la, apx - 2, apy) > 100);  /* west of 9.00 E: inside */
    ASSERT_EQ(alpha_at(&la, apx + 2, apy), 0);  /* east: outside the area */
    ASSERT(alpha_at(&ta, apx + 2, apy) > 100);  /* where thw does see it */
    /* tile C lies wholly inside the area: landkreis shares thw's render
     * (no new render), and its own composite shows f0 as thw's does */
    long cx0, cy0;
    int f0x, f0y;
    locate(8.70, 52.00, &cx0, &cy0, &f0x, &f0y);
    t_resp tc, lc;
    tile(srv.port, "t-thw", cx0, cy0, &tc);
    counters m4b = metrics(srv.port);
    ASSERT_EQ(m4b.rendered - m4a.rendered, 1);
    tile(srv.port, "t-landkreis", cx0, cy0, &lc);
    counters m4 = metrics(srv.port);
    ASSERT_EQ(m4.rendered - m4b.rendered, 0);
    ASSERT(m4.layer_hits - m4b.layer_hits >= 1);
    ASSERT(alpha_at(&lc, f0x, f0y) > 200);
    ASSERT(alpha_at(&tc, f0x, f0y) > 200);
    t_resp_free(&tc);
    t_resp_free(&lc);

    /* tile B: the police sees f2 and f3, fire only f3.  The police's render
     * draws the OFFEN class (f3) first and keeps that canvas as a prefix;
     * fire's view is exactly that prefix, so fire takes it (a shared first
     * look, no render of its own) and never the police's whole entry */
    t_resp pb, fb, pb2;
    tile(srv.port, "t-police", bx, by, &pb);
    tile(srv.port, "t-fire", bx, by, &fb);
    counters m5 = metrics(srv.port);
    ASSERT_EQ(m5.rendered - m4.rendered, 1);
    ASSERT_EQ(m5.shared - m4.shared, 1);
    ASSERT_EQ(m5.hits - m4.hits, 0);
    ASSERT(!same_bytes(&pb, &fb));
    ASSERT(alpha_at(&pb, f2x, f2y) > 200);
    ASSERT_EQ(alpha_at(&fb, f2x, f2y), 0);
    ASSERT(alpha_at(&fb, f3x, f3y) > 200);
    etag_of(&pb, e1, sizeof e1);
    etag_of(&fb, e2, sizeof e2);
    ASSERT(strcmp(e1, e2) != 0);
    /* ... and each finds its own entry again */
    tile(srv.port, "t-police", bx, by, &pb2);
    counters m6 = metrics(srv.port);
    ASSERT_EQ(m6.rendered - m5.rendered, 0);
    ASSERT_EQ(m6.hits - m5.hits, 1);
    ASSERT(same_bytes(&pb, &pb2));

    /* a feature fire may not see appears in tile B (police only, beside
     * f2): after the reload the police's tile and ETag change, fire's tile
     * is the same bytes under the same ETag, although everything was
     * rendered anew for the new revision */
    char *more = malloc(sizeof points_text + 256);
    ASSERT(more != NULL);
    size_t base_len = strlen(points_text) - 3; /* without the closing "]}\n" */
    memcpy(more, points_text, base_len);
    snprintf(more + base_len, 256,
             ",\n {\"type\": \"Feature\", \"properties\": {\"id\": \"f4\", \"stufe\": "
             "\"VS-NfD\", \"freigabe\": \"police\"},\n  \"geometry\": {\"type\": \"Point\", "
             "\"coordinates\": [9.305, 52.003]}}]}\n");
    t_write(dir, "points.geojson", more);
    free(more);
    t_result ir = t_lagebild("ingest", cfg, "--quiet", NULL);
    ASSERT_EQ(ir.status, 0);
    t_result_free(&ir);
    ASSERT(t_server_reload(&srv, "t-admin", 60));
    counters m7 = metrics(srv.port);
    t_resp pb3, fb3;
    tile(srv.port, "t-police", bx, by, &pb3);
    tile(srv.port, "t-fire", bx, by, &fb3);
    counters m8 = metrics(srv.port);
    ASSERT_EQ(m8.rendered - m7.rendered, 1); /* rendered anew (fire: the prefix again) */
    ASSERT(!same_bytes(&pb3, &pb));
    char e3[64], e4[64];
    etag_of(&pb, e1, sizeof e1);
    etag_of(&pb3, e3, sizeof e3);
    ASSERT(strcmp(e1, e3) != 0);
    ASSERT(same_bytes(&fb3, &fb));
    etag_of(&fb, e2, sizeof e2);
    etag_of(&fb3, e4, sizeof e4);
    ASSERT_STREQ(e2, e4);

    t_resp *all[] = {&pa, &fa, &ta, &t2a, &la, &pb, &fb, &pb2, &pb3, &fb3};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        t_resp_free(all[i]);
    ASSERT_EQ(t_server_stop(&srv, 20), 0);
    t_server_free(&srv);
    teardown();
}

/* Tile B on a fresh server for each order of asking: fire then police. */
static void tile_b_after_fire(t_resp *police, t_resp *fire, counters *before, counters *mid,
                              counters *after)
{
    t_server srv;
    start(&srv);
    long bx, by;
    int f2x, f2y;
    locate(9.30, 52.00, &bx, &by, &f2x, &f2y);
    *before = metrics(srv.port);
    if (fire)
        tile(srv.port, "t-fire", bx, by, fire);
    *mid = metrics(srv.port);
    tile(srv.port, "t-police", bx, by, police);
    *after = metrics(srv.port);
    ASSERT_EQ(t_server_stop(&srv, 20), 0);
    t_server_free(&srv);
}

/*
 * A principal who sees more classes than one asked before continues that
 * one's canvas: fire's render of tile B (f3, OFFEN) is the police's first
 * class, so the police draws only its VS-NfD class (f2) on top of it.  The
 * result must be the very bytes the police gets when it asks first and
 * draws everything itself.
 */
LB_TEST(test_continued_prefix_gives_the_same_bytes_as_a_whole_render)
{
    setup();
    t_resp alone, police, fire;
    counters b0, m0, a0, b1, m1, a1;
    tile_b_after_fire(&alone, NULL, &b0, &m0, &a0);
    ASSERT_EQ(a0.rendered - b0.rendered, 1);
    ASSERT_EQ(a0.layer_hits - b0.layer_hits, 0); /* nothing to continue from */
    tile_b_after_fire(&police, &fire, &b1, &m1, &a1);
    ASSERT_EQ(m1.rendered - b1.rendered, 1);      /* fire */
    ASSERT_EQ(a1.rendered - m1.rendered, 1);      /* the police: its own class drawn */
    ASSERT_EQ(a1.layer_hits - m1.layer_hits, 1);  /* ... onto fire's canvas */
    ASSERT_EQ(a1.shared - m1.shared, 1);          /* made for other rights: waited for */
    ASSERT(same_bytes(&alone, &police));
    ASSERT(!same_bytes(&fire, &police));
    long bx, by;
    int f2x, f2y, f3x, f3y;
    locate(9.30, 52.00, &bx, &by, &f2x, &f2y);
    locate(9.31, 52.00, &bx, &by, &f3x, &f3y);
    ASSERT(alpha_at(&police, f2x, f2y) > 200);
    ASSERT(alpha_at(&police, f3x, f3y) > 200);
    ASSERT_EQ(alpha_at(&fire, f2x, f2y), 0);
    t_resp_free(&alone);
    t_resp_free(&police);
    t_resp_free(&fire);
    teardown();
}

LB_TESTS(test_equal_visible_content_shares_and_other_content_never_does,
         test_continued_prefix_gives_the_same_bytes_as_a_whole_render)
