/*
 * Server-Sent Events reach exactly the principals that may see a change:
 * police and fire listen at the same time (plus a reader cleared for both
 * and an area-limited role); a change only to features a principal cannot
 * see produces nothing for it (not even a revision), a change that takes a
 * feature out of its view does (so its tiles refresh), the box is clipped
 * to the area limit, and the revision is an opaque tag, never the count.
 * An event tells no more than the principal's tiles show: a feature it sees
 * only generalised counts by its cells (a move inside them is no event), and
 * an area limit is the area's polygon, not its box.  For that each change
 * carries the geometry of its versions, as stored.
 */
#include <math.h>
#include <png.h>

#include "lagebild/fusion.h"
#include "lagebild/util.h"
#include "lbtest.h"
#include "tlive.h"

static char *dir, *cfg;
static t_server srv;

/* The bbox numbers of an event. */
static void bbox_of(const char *msg, double b[4])
{
    const char *p = strstr(msg, "\"bbox\":[");
    ASSERT(p != NULL);
    ASSERT_EQ(sscanf(p + 8, "%lf,%lf,%lf,%lf", &b[0], &b[1], &b[2], &b[3]), 4);
}

static void post_ok(const char *source, const char *token, const char *json)
{
    ASSERT(tl_post_ok(&srv, source, token, json));
}

/* The next event of s; it must name layer incidents and an opaque revision. */
static void expect_event(tl_sse *s, double b[4])
{
    char msg[2048];
    ASSERT(tl_sse_next(s, msg, sizeof msg, 20));
    ASSERT_CONTAINS(msg, "{\"layer\":\"incidents\",\"revision\":\"");
    const char *rev = strstr(msg, "\"revision\":\"") + 12;
    for (int i = 0; i < 16; i++)
        ASSERT(strchr("0123456789abcdef", rev[i]) != NULL);
    ASSERT_EQ(rev[16], '"');
    bbox_of(msg, b);
}

LB_TEST(test_events_only_to_principals_that_may_see_the_change)
{
    dir = t_tmpdir();
    cfg = tl_config(dir, NULL);
    ASSERT(tl_serve(&srv, cfg, dir, "server.err"));
    tl_sse police, fire, east, reader, anon;
    ASSERT(tl_sse_open(&police, srv.port, "t-police"));
    ASSERT(tl_sse_open(&fire, srv.port, "t-fire"));
    ASSERT(tl_sse_open(&east, srv.port, "t-east"));
    ASSERT(tl_sse_open(&reader, srv.port, "t-reader"));
    /* /events needs a token like tiles do */
    ASSERT(!tl_sse_open(&anon, srv.port, "t-nobody"));
    tl_sse_close(&anon);
    double b[4];

    /* 1: a police feature west of 10°E: police and reader, not fire, not east */
    char *fc = tl_point("p1", 9.36, 52.10, "\"groups\":\"police\"");
    post_ok("police_live", "t-police", fc);
    free(fc);
    expect_event(&reader, b);
    expect_event(&police, b);
    ASSERT_NEAR(b[0], 9.36, 1e-6);
    ASSERT_NEAR(b[1], 52.10, 1e-6);
    ASSERT_NEAR(b[2], 9.36, 1e-6);

    /* 2: a fire feature (source CRS EPSG:25832): fire and reader only */
    fc = tl_point("f1", 620000.0, 5762000.0, NULL);
    post_ok("fire_live", "t-fire", fc);
    free(fc);
    expect_event(&reader, b);
    expect_event(&fire, b); /* fire's first event: nothing came for step 1 */
    ASSERT(b[0] > 10.5 && b[0] < 10.9);
    ASSERT(b[1] > 51.9 && b[1] < 52.1);

    /* 3: a police polygon across 10°E: east gets it clipped to its area */
    fc = tl_square("p2", 10.0, 52.2, 0.5, "\"groups\":\"police\"");
    post_ok("police_live", "t-police", fc);
    free(fc);
    expect_event(&reader, b);
    expect_event(&police, b); /* police's second: nothing came for step 2 */
    ASSERT_NEAR(b[0], 9.5, 1e-6);
    ASSERT_NEAR(b[2], 10.5, 1e-6);
    expect_event(&east, b); /* east's first: nothing came for steps 1, 2 */
    ASSERT_NEAR(b[0], 10.0, 1e-6);
    ASSERT_NEAR(b[2], 10.5, 1e-6);
    ASSERT_NEAR(b[1], 51.7, 1e-6);
    ASSERT_NEAR(b[3], 52.7, 1e-6);

    /* 4: p1 re-labelled from police to fire: police must drop it (old
     * version), fire must draw it (new version) */
    fc = tl_point("p1", 9.37, 52.11, "\"groups\":\"fire\"");
    post_ok("police_live", "t-police", fc);
    free(fc);
    expect_event(&reader, b);
    expect_event(&police, b);
    ASSERT_NEAR(b[0], 9.36, 1e-6); /* only the old version is police's */
    ASSERT_NEAR(b[2], 9.36, 1e-6);
    expect_event(&fire, b);
    ASSERT_NEAR(b[0], 9.37, 1e-6); /* only the new version is fire's */
    ASSERT_NEAR(b[2], 9.37, 1e-6);

    /* 5: deleting a fire-only feature: fire and reader, nobody else */
    ASSERT(tl_delete_ok(&srv, "fire_live", "t-fire", "f1"));
    expect_event(&reader, b);
    expect_event(&fire, b);
    ASSERT(b[0] > 10.5 && b[0] < 10.9);

    /* nothing else arrived anywhere */
    char msg[2048];
    ASSERT(!tl_sse_next(&police, msg, sizeof msg, 1.0));
    ASSERT(!tl_sse_next(&fire, msg, sizeof msg, 0.2));
    ASSERT(!tl_sse_next(&east, msg, sizeof msg, 0.2));
    ASSERT(!tl_sse_next(&reader, msg, sizeof msg, 0.2));

    tl_sse_close(&police);
    tl_sse_close(&fire);
    tl_sse_close(&east);
    tl_sse_close(&reader);
    /* open streams do not keep the server from stopping */
    tl_sse s2;
    ASSERT(tl_sse_open(&s2, srv.port, "t-reader"));
    ASSERT_EQ(t_server_end(&srv, 20), 0);
    tl_sse_close(&s2);
    t_rmrf(dir);
    free(dir);
    free(cfg);
}

/* ---- what an event may say: generalised cells, area polygons ------------- */

/*
 * Unit positions pushed by the police, released to the fire brigade only
 * generalised to 5 km cells of EPSG:3035.  "district" sees what the police
 * see and "districtfire" what the fire brigade sees, both only inside an
 * L-shaped district with a hole: the square 9..10 E x 52..53 N without its
 * north-east quarter, and without 9.1..9.2 E x 52.1..52.2 N.
 */
#define CELL 5000.0

static char *ev_config(const char *d)
{
    static const t_token tokens[] = {
        {.token = "t-police", .roles = "police"},
        {.token = "t-fire", .roles = "fire"},
        {.token = "t-district", .roles = "district"},
        {.token = "t-districtfire", .roles = "districtfire"},
        {.token = "t-mixed", .roles = "district, fire"},
    };
    t_write(d, "empty.geojson", "{\"type\":\"FeatureCollection\",\"features\":[]}\n");
    t_write(d, "district.geojson",
            "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{},"
            "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":["
            "[[9,52],[10,52],[10,52.5],[9.5,52.5],[9.5,53],[9,53],[9,52]],"
            "[[9.1,52.1],[9.1,52.2],[9.2,52.2],[9.2,52.1],[9.1,52.1]]]}}]}\n");
    /* cell_m is CELL, with which the expected boxes are worked out */
    char head[2048];
    int len = snprintf(
        head, sizeof head,
        "store: {path: store.sqlite}\n"
        "groups: [police, fire]\n"
        "layers:\n"
        "  units: {title: Einheiten, style: police}\n"
        "sources:\n"
        "  units_live:\n"
        "    path: empty.geojson\n"
        "    crs: EPSG:4326\n"
        "    layer: units\n"
        "    agency: police\n"
        "    fid: id\n"
        "    mapping: {kind: typ}\n"
        "    label: {level: VS-NfD, releasable_to: [police]}\n"
        "    generalised_release: {groups: [fire], cell_m: %.0f}\n"
        "maps:\n"
        "  lage: {title: Lage, layers: [units]}\n"
        "roles:\n"
        "  police: {title: P, clearance: {level: VS-NfD, groups: [police]}, layers: [\"*\"],"
        " write: [units_live]}\n"
        "  fire: {title: F, clearance: {level: VS-NfD, groups: [fire]}, layers: [\"*\"]}\n"
        "  district: {title: D, clearance: {level: VS-NfD, groups: [police]},"
        " layers: [\"*\"], area: {path: district.geojson}}\n"
        "  districtfire: {title: DF, clearance: {level: VS-NfD, groups: [fire]},"
        " layers: [\"*\"], area: {path: district.geojson}}\n",
        CELL);
    ASSERT(len > 0 && (size_t)len < sizeof head);
    return t_config_write(d, "lagebild.yaml", head, tokens, sizeof tokens / sizeof tokens[0],
                          NULL);
}

/* A FeatureCollection of one feature with this GeoJSON geometry. */
static char *one_feature(const char *id, const char *geometry)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    fprintf(f,
            "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
            "\"properties\":{\"id\":\"%s\"},\"geometry\":%s}]}",
            id, geometry);
    fclose(f);
    return s;
}

/* The next event of s on layer units: its bbox. */
static void expect_units(tl_sse *s, double b[4])
{
    char msg[2048];
    ASSERT(tl_sse_next(s, msg, sizeof msg, 20));
    ASSERT_CONTAINS(msg, "{\"layer\":\"units\",\"revision\":\"");
    bbox_of(msg, b);
}

static void expect_none(tl_sse *s, double wait_s)
{
    char msg[2048];
    bool got = tl_sse_next(s, msg, sizeof msg, wait_s);
    if (got)
        fprintf(stderr, "  unexpected event: %s\n", msg);
    ASSERT(!got);
}

static void expect_box(const double b[4], const double want[4], double tol)
{
    for (int k = 0; k < 4; k++)
        ASSERT_NEAR(b[k], want[k], tol);
}

/* The EPSG:3035 cell (column, row) of a lon/lat point, worked out here without lb_gen. */
static void cell_index(double lon, double lat, double ij[2])
{
    lb_transform *fwd;
    lb_error err;
    ASSERT_EQ(lb_transform_new("EPSG:4326", "EPSG:3035", &fwd, &err), LB_OK);
    double x = lon, y = lat;
    ASSERT_EQ(lb_transform_points(fwd, 1, &x, &y, &err), LB_OK);
    ij[0] = floor(x / CELL);
    ij[1] = floor(y / CELL);
    lb_transform_free(fwd);
}

/* The lon/lat box of the block of cells blk (first column, row, last column,
 * row): its outline, each side in 256 steps (they are curves in lon/lat). */
static void block_box(const double blk[4], double box[4])
{
    lb_transform *inv;
    lb_error err;
    ASSERT_EQ(lb_transform_new("EPSG:3035", "EPSG:4326", &inv, &err), LB_OK);
    enum { STEPS = 256 };
    double xs[4 * STEPS], ys[4 * STEPS];
    double x0 = blk[0] * CELL, y0 = blk[1] * CELL, x1 = (blk[2] + 1) * CELL,
           y1 = (blk[3] + 1) * CELL;
    for (int i = 0; i < STEPS; i++) {
        double f = (double)i / STEPS;
        xs[i] = x0 + f * (x1 - x0), ys[i] = y0;
        xs[STEPS + i] = x1, ys[STEPS + i] = y0 + f * (y1 - y0);
        xs[2 * STEPS + i] = x1 - f * (x1 - x0), ys[2 * STEPS + i] = y1;
        xs[3 * STEPS + i] = x0, ys[3 * STEPS + i] = y1 - f * (y1 - y0);
    }
    ASSERT_EQ(lb_transform_points(inv, 4 * STEPS, xs, ys, &err), LB_OK);
    box[0] = box[1] = INFINITY;
    box[2] = box[3] = -INFINITY;
    for (int i = 0; i < 4 * STEPS; i++) {
        box[0] = fmin(box[0], xs[i]);
        box[1] = fmin(box[1], ys[i]);
        box[2] = fmax(box[2], xs[i]);
        box[3] = fmax(box[3], ys[i]);
    }
    lb_transform_free(inv);
}

/* The cell of a lon/lat point and its lon/lat box. */
static void cell_of(double lon, double lat, double ij[2], double box[4])
{
    cell_index(lon, lat, ij);
    const double blk[4] = {ij[0], ij[1], ij[0], ij[1]};
    block_box(blk, box);
}

/* The block of cells of a two-vertex line (the extent of its vertices). */
static void line_block(double lon0, double lat0, double lon1, double lat1, double blk[4])
{
    double a[2], b[2];
    cell_index(lon0, lat0, a);
    cell_index(lon1, lat1, b);
    blk[0] = fmin(a[0], b[0]);
    blk[1] = fmin(a[1], b[1]);
    blk[2] = fmax(a[0], b[0]);
    blk[3] = fmax(a[1], b[1]);
}

static void start_ev_server(void)
{
    dir = t_tmpdir();
    cfg = ev_config(dir);
    ASSERT(tl_serve(&srv, cfg, dir, "server.err"));
}

static void stop_ev_server(void)
{
    ASSERT_EQ(t_server_end(&srv, 20), 0);
    t_rmrf(dir);
    free(dir);
    free(cfg);
}

/*
 * Issue 4, session 12: the fire brigade sees a unit only at the centre of
 * its cell, so its event must name that cell and nothing finer (not a box
 * centred on the exact position), and a move inside the cell, which its
 * tiles do not show, must not reach it as an event either.
 */
LB_TEST(test_events_show_only_the_cells_of_generalised_features)
{
    start_ev_server();
    tl_sse police, fire, dfire;
    ASSERT(tl_sse_open(&police, srv.port, "t-police"));
    ASSERT(tl_sse_open(&fire, srv.port, "t-fire"));
    ASSERT(tl_sse_open(&dfire, srv.port, "t-districtfire"));
    double b[4], ij[2], cell[4];

    /* 1: the unit at (9.295, 52.145), 1.1 km south of its cell's centre */
    const double lon = 9.295, lat = 52.145;
    cell_of(lon, lat, ij, cell);
    ASSERT(fabs((cell[1] + cell[3]) / 2 - lat) > 0.005); /* else the test could not tell */
    ASSERT(cell[0] < lon && lon < cell[2] && cell[1] < lat && lat < cell[3]);
    char *fc = tl_point("u1", lon, lat, NULL);
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_units(&police, b);
    const double exact[4] = {lon, lat, lon, lat};
    expect_box(b, exact, 1e-6);
    expect_units(&fire, b);
    expect_box(b, cell, 1e-6); /* the cell, and so not centred on the unit */
    ASSERT(fabs((b[1] + b[3]) / 2 - lat) > 0.005);
    /* the district's fire brigade: the same cell, which lies inside the district */
    expect_units(&dfire, b);
    expect_box(b, cell, 1e-5);

    /* 2: 137 m east, in the same cell: the police hear of it, the fire
     * brigade (with or without an area limit) does not */
    double ij2[2], cell2[4];
    cell_of(lon + 0.002, lat, ij2, cell2);
    ASSERT(ij2[0] == ij[0] && ij2[1] == ij[1]);
    fc = tl_point("u1", lon + 0.002, lat, NULL);
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_units(&police, b);
    ASSERT_NEAR(b[0], lon, 1e-6); /* old and new position */
    ASSERT_NEAR(b[2], lon + 0.002, 1e-6);
    expect_none(&fire, 1.0);
    expect_none(&dfire, 0.2);

    /* 2b: there, another kind (another symbol in the same cell): the fire
     * brigade's tiles change, and so it hears of the cell (it did not: the
     * same cells before and after counted as no change) */
    fc = tl_point("u1", lon + 0.002, lat, "\"typ\":\"Vollsperrung\"");
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_units(&police, b);
    expect_units(&fire, b);
    expect_box(b, cell, 1e-6);
    expect_units(&dfire, b);
    expect_box(b, cell, 1e-5);

    /* 3: 7 km further east, into another cell: the old cell and the new */
    cell_of(lon + 0.1, lat, ij2, cell2);
    ASSERT(ij2[0] != ij[0]);
    fc = tl_point("u1", lon + 0.1, lat, NULL);
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_units(&police, b);
    const double both[4] = {fmin(cell[0], cell2[0]), fmin(cell[1], cell2[1]),
                            fmax(cell[2], cell2[2]), fmax(cell[3], cell2[3])};
    expect_units(&fire, b);
    expect_box(b, both, 1e-6);
    expect_units(&dfire, b);
    expect_box(b, both, 1e-5);

    /* 4: a line: the block of cells its vertices' extent touches */
    double blk[4], blkbox[4];
    line_block(9.30, 52.30, 9.40, 52.32, blk);
    block_box(blk, blkbox);
    fc = one_feature("l1", "{\"type\":\"LineString\",\"coordinates\":"
                           "[[9.30,52.30],[9.40,52.32]]}");
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_units(&police, b);
    const double line[4] = {9.30, 52.30, 9.40, 52.32};
    expect_box(b, line, 1e-6);
    expect_units(&fire, b);
    expect_box(b, blkbox, 1e-6);
    expect_units(&dfire, b); /* the block lies inside the district */
    expect_box(b, blkbox, 1e-5);
    /* moved by 70 m, its block the same: nothing for the fire brigade */
    double blk2[4];
    line_block(9.301, 52.30, 9.401, 52.32, blk2);
    ASSERT(memcmp(blk, blk2, sizeof blk) == 0);
    fc = one_feature("l1", "{\"type\":\"LineString\",\"coordinates\":"
                           "[[9.301,52.30],[9.401,52.32]]}");
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_units(&police, b);
    expect_none(&fire, 1.0);
    expect_none(&dfire, 0.2);

    /* 4b: a second unit u9, drawn like u1, in u1's cell (cell2): the fire
     * brigade's tiles draw that cell as before (one symbol, whatever the
     * number of units behind it), so it hears nothing, neither when u9
     * comes nor when it goes; the police hear of both */
    fc = tl_point("u9", lon + 0.1 + 0.003, lat + 0.002, NULL);
    double ij9[2], cell9[4];
    cell_of(lon + 0.1 + 0.003, lat + 0.002, ij9, cell9);
    ASSERT(ij9[0] == ij2[0] && ij9[1] == ij2[1]);
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_units(&police, b);
    expect_none(&fire, 1.0);
    expect_none(&dfire, 0.2);
    ASSERT(tl_delete_ok(&srv, "units_live", "t-police", "u9"));
    expect_units(&police, b);
    expect_none(&fire, 1.0);
    expect_none(&dfire, 0.2);

    /* 5: u1 deleted: the fire brigade's tiles lose the marker */
    ASSERT(tl_delete_ok(&srv, "units_live", "t-police", "u1"));
    expect_units(&police, b);
    expect_units(&fire, b);
    expect_box(b, cell2, 1e-6);

    expect_none(&police, 1.0);
    expect_none(&fire, 0.2);
    tl_sse_close(&police);
    tl_sse_close(&fire);
    tl_sse_close(&dfire);
    stop_ev_server();
}

/*
 * Issue 4, session 12: an area-limited role hears only of what meets its
 * area's polygon -- not of a point in the polygon's box but outside it, nor
 * in a hole, nor of a line whose box overlaps the area -- and its box is
 * that of the part inside.
 */
LB_TEST(test_events_of_area_limited_roles_follow_the_polygon)
{
    start_ev_server();
    tl_sse police, district;
    ASSERT(tl_sse_open(&police, srv.port, "t-police"));
    ASSERT(tl_sse_open(&district, srv.port, "t-district"));
    double b[4];

    /* 1: in the missing north-east quarter: inside the district's box only */
    char *fc = tl_point("a", 9.75, 52.75, NULL);
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_units(&police, b);
    expect_none(&district, 1.0);

    /* 2: in the hole */
    fc = tl_point("b", 9.15, 52.15, NULL);
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_units(&police, b);
    expect_none(&district, 1.0);

    /* 3: an L-shaped line around the district's south-east corner, outside
     * it, though its box covers much of the district's east arm */
    fc = one_feature("l1", "{\"type\":\"LineString\",\"coordinates\":"
                           "[[10.1,52.4],[10.1,51.9],[9.6,51.9]]}");
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_units(&police, b);
    ASSERT_NEAR(b[0], 9.6, 1e-6);
    ASSERT_NEAR(b[3], 52.4, 1e-6);
    expect_none(&district, 1.0);

    /* 4: inside: the point itself */
    fc = tl_point("c", 9.25, 52.35, NULL);
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_units(&police, b);
    expect_units(&district, b);
    const double c[4] = {9.25, 52.35, 9.25, 52.35};
    expect_box(b, c, 1e-6);

    /* 5: a line entering from the south: only its part inside */
    fc = one_feature("l2", "{\"type\":\"LineString\",\"coordinates\":[[9.25,51.9],[9.25,52.05]]}");
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_units(&police, b);
    expect_units(&district, b);
    const double part[4] = {9.25, 52.0, 9.25, 52.05};
    expect_box(b, part, 1e-6);

    /* 6: c moves into the hole: the district's tiles lose it where it was */
    fc = tl_point("c", 9.15, 52.12, NULL);
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_units(&police, b);
    expect_units(&district, b);
    expect_box(b, c, 1e-6);

    expect_none(&police, 1.0);
    expect_none(&district, 0.2);
    tl_sse_close(&police);
    tl_sse_close(&district);
    stop_ev_server();
}

/* ---- several roles: the union of what each sees -------------------------- */

/* Tile (z, x, y) of the map for token, decoded to straight RGBA (256 x 256). */
static uint8_t *tile_rgba(const char *token, int z, long x, long y)
{
    char target[128];
    snprintf(target, sizeof target, "/maps/lage/%d/%ld/%ld.png", z, x, y);
    t_resp r;
    ASSERT_EQ(t_get(srv.port, target, token, &r), 0);
    ASSERT_EQ(r.status, 200);
    png_image img = {.version = PNG_IMAGE_VERSION};
    ASSERT(png_image_begin_read_from_memory(&img, r.body, r.bodylen));
    img.format = PNG_FORMAT_RGBA;
    ASSERT_EQ(img.width, 256u);
    ASSERT_EQ(img.height, 256u);
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    ASSERT(px != NULL);
    ASSERT(png_image_finish_read(&img, NULL, px, 0, NULL));
    png_image_free(&img);
    t_resp_free(&r);
    return px;
}

/* The XYZ tile of a lon/lat point at zoom z. */
static void tile_of(double lon, double lat, int z, long *x, long *y)
{
    double n = ldexp(1.0, z), rad = lat * M_PI / 180.0;
    *x = (long)floor((lon + 180.0) / 360.0 * n);
    *y = (long)floor((1.0 - log(tan(rad) + 1.0 / cos(rad)) / M_PI) / 2.0 * n);
}

/*
 * The tile of a principal with the roles district and fire, against those of
 * each role alone: where district's tile is transparent it is fire's, where
 * district's is opaque it is district's (its exact pass lies over fire's
 * cells); anti-aliased edges of district's symbols are not compared.  The
 * counts say what was compared, so the check cannot pass on empty tiles.
 */
typedef struct union_counts {
    size_t fire_only; /* pixels drawn by fire alone (district transparent) */
    size_t district;  /* opaque pixels of district */
} union_counts;

static union_counts expect_union_tile(int z, long x, long y)
{
    uint8_t *mixed = tile_rgba("t-mixed", z, x, y), *fire = tile_rgba("t-fire", z, x, y),
            *district = tile_rgba("t-district", z, x, y);
    union_counts n = {0};
    size_t bad = 0;
    for (size_t i = 0; i < 256 * 256 * 4; i += 4) {
        const uint8_t *want = district[i + 3] == 0 ? fire + i : district[i + 3] == 255 ? district + i : NULL;
        if (!want)
            continue;
        n.fire_only += district[i + 3] == 0 && fire[i + 3] != 0;
        n.district += district[i + 3] == 255;
        if (memcmp(mixed + i, want, 4) != 0 && bad++ < 5)
            fprintf(stderr, "  tile %d/%ld/%ld pixel %zu: mixed %d,%d,%d,%d, want %d,%d,%d,%d\n",
                    z, x, y, i / 4, mixed[i], mixed[i + 1], mixed[i + 2], mixed[i + 3], want[0],
                    want[1], want[2], want[3]);
    }
    ASSERT_EQ(bad, 0);
    free(mixed);
    free(fire);
    free(district);
    return n;
}

/* The classification banner's level for token over a lon/lat box. */
static void expect_level(const char *token, const double b[4], const char *level)
{
    char target[256], want[64];
    snprintf(target, sizeof target, "/maps/lage/classification?bbox=%.9f,%.9f,%.9f,%.9f", b[0],
             b[1], b[2], b[3]);
    snprintf(want, sizeof want, "{\"level\":%s}", level);
    t_resp r;
    ASSERT_EQ(t_get(srv.port, target, token, &r), 0);
    ASSERT_EQ(r.status, 200);
    if (!r.body || strncmp(r.body, want, strlen(want)) != 0)
        LBT__FAIL("%s over %s: %s, want %s", token, target, r.body ? r.body : "", want);
    t_resp_free(&r);
}

/*
 * Issue 4, session 13: a principal whose one role sees the units exactly
 * inside the district and whose other role sees them generalised everywhere
 * sees the union: outside the district the cells, as the fire brigade does
 * (before, it saw nothing there: the exact right of one role switched off
 * the generalised right of the other), inside both.  Its events follow the
 * same rule.
 */
LB_TEST(test_several_roles_see_the_union_of_exact_area_and_generalised_rights)
{
    start_ev_server();
    tl_sse fire, mixed;
    ASSERT(tl_sse_open(&fire, srv.port, "t-fire"));
    ASSERT(tl_sse_open(&mixed, srv.port, "t-mixed"));
    double b[4], f[4], ij_out[2], ij_in[2], ij[2], cellbox[4];

    /* 1: outside the district: mixed hears of the cell, as fire does */
    char *fc = tl_point("out", 11.3, 52.3, NULL);
    post_ok("units_live", "t-police", fc);
    free(fc);
    cell_of(11.3, 52.3, ij_out, cellbox);
    expect_units(&fire, f);
    expect_box(f, cellbox, 1e-6);
    expect_units(&mixed, b);
    expect_box(b, cellbox, 1e-6);

    /* 2: inside: mixed's box holds the point and its cell */
    fc = tl_point("in", 9.7, 52.3, NULL);
    post_ok("units_live", "t-police", fc);
    free(fc);
    cell_of(9.7, 52.3, ij_in, cellbox);
    expect_units(&fire, f);
    expect_box(f, cellbox, 1e-6);
    expect_units(&mixed, b);
    expect_box(b, cellbox, 1e-6);

    /* 3: "out" moves inside its cell: no tile of either changes */
    cell_index(11.301, 52.301, ij);
    ASSERT(ij[0] == ij_out[0] && ij[1] == ij_out[1]);
    fc = tl_point("out", 11.301, 52.301, NULL);
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_none(&fire, 1.0);
    expect_none(&mixed, 0.2);

    /* 4: "in" moves inside its cell: only mixed's exact view changes */
    cell_index(9.701, 52.301, ij);
    ASSERT(ij[0] == ij_in[0] && ij[1] == ij_in[1]);
    fc = tl_point("in", 9.701, 52.301, NULL);
    post_ok("units_live", "t-police", fc);
    free(fc);
    expect_units(&mixed, b);
    const double moved[4] = {9.7, 52.3, 9.701, 52.301};
    expect_box(b, moved, 1e-6);
    expect_none(&fire, 1.0);

    /* the tiles: outside the district mixed's is fire's, inside both */
    const int z = 11;
    long x, y;
    tile_of(11.301, 52.301, z, &x, &y);
    union_counts out = expect_union_tile(z, x, y);
    ASSERT(out.fire_only > 0);
    ASSERT_EQ(out.district, 0);
    tile_of(9.701, 52.301, z, &x, &y);
    union_counts in = expect_union_tile(z, x, y);
    ASSERT(in.fire_only > 0);
    ASSERT(in.district > 0);

    /* the classification banner marks what is drawn generalised too: over
     * the cell of "out" the fire brigade sees a VS-NfD unit's cell (it was
     * null), over the cell of "in" so does mixed; an empty cell is null */
    cell_of(11.301, 52.301, ij, cellbox);
    expect_level("t-fire", cellbox, "\"VS-NfD\"");
    expect_level("t-mixed", cellbox, "\"VS-NfD\"");
    expect_level("t-district", cellbox, "null");
    cell_of(11.6, 52.6, ij, cellbox);
    expect_level("t-fire", cellbox, "null");

    tl_sse_close(&fire);
    tl_sse_close(&mixed);
    stop_ev_server();
}

/*
 * Issue 4, session 13 (review finding A2): a stream lives as long as the
 * token that opened it.  The operator replaces the reader's token (a new
 * hash in the config, SIGHUP): every route refuses the old token, and its
 * open stream must end too, not go on carrying the reader's events to
 * whoever holds the old token.  A stream opened with the new token gets
 * them.
 */
LB_TEST(test_a_stream_ends_when_its_token_is_replaced)
{
    dir = t_tmpdir();
    cfg = tl_config(dir, NULL);
    ASSERT(tl_serve(&srv, cfg, dir, "server.err"));
    tl_sse old;
    ASSERT(tl_sse_open(&old, srv.port, "t-reader"));

    char hold[72], hnew[72];
    lb_token_hash("t-reader", hold);
    lb_token_hash("t-reader-new", hnew);
    char *text = t_read_file(cfg);
    char *at = strstr(text, hold);
    ASSERT(at != NULL);
    memcpy(at, hnew, strlen(hnew));
    t_write(dir, "lagebild.yaml", text);
    free(text);
    ASSERT(t_server_reload(&srv, "t-admin", 60));
    t_resp r;
    ASSERT_EQ(t_get(srv.port, "/maps/lage.json", "t-reader", &r), 0);
    ASSERT_EQ(r.status, 401);
    t_resp_free(&r);

    tl_sse fresh;
    ASSERT(tl_sse_open(&fresh, srv.port, "t-reader-new"));
    char *fc = tl_point("p1", 9.36, 52.10, "\"groups\":\"police\"");
    post_ok("police_live", "t-police", fc);
    free(fc);
    double b[4];
    expect_event(&fresh, b);
    ASSERT_NEAR(b[0], 9.36, 1e-6);
    char msg[2048];
    bool got = tl_sse_next(&old, msg, sizeof msg, 2.0);
    if (got)
        fprintf(stderr, "  the old token's stream got: %s\n", msg);
    ASSERT(!got);
    tl_sse_close(&old);
    tl_sse_close(&fresh);
    ASSERT_EQ(t_server_end(&srv, 20), 0);
    /* the request log names the principal of a stream (review finding A4) */
    char *errpath = t_path(dir, "server.err");
    char *log = t_read_file(errpath);
    free(errpath);
    ASSERT(log != NULL);
    ASSERT_CONTAINS(log, "lagebild: t-reader GET \"/events\" 200");
    free(log);
    t_rmrf(dir);
    free(dir);
    free(cfg);
}

/* ---- the geometry a change carries ------------------------------------- */

typedef struct stored {
    int64_t fid;
    char id[16];
    unsigned char *wkb;
    size_t len;
} stored;

typedef struct stored_set {
    stored v[8];
    size_t n;
} stored_set;

static bool collect_stored(void *ud, const lb_stored_feature *f)
{
    stored_set *s = ud;
    if (s->n == 8)
        return false;
    stored *e = &s->v[s->n++];
    e->fid = f->fid;
    snprintf(e->id, sizeof e->id, "%s", f->source_fid);
    e->wkb = malloc(f->wkb_len);
    memcpy(e->wkb, f->wkb, f->wkb_len);
    e->len = f->wkb_len;
    return true;
}

static void stored_free(stored_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].wkb);
    s->n = 0;
}

static const stored *stored_by_fid(const stored_set *s, int64_t fid)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].fid == fid)
            return &s->v[i];
    return NULL;
}

/* The WKB of every version a push changes is the geometry as stored (what
 * SpatiaLite's AsBinary makes of it), for every geometry type. */
LB_TEST(test_push_changes_carry_the_stored_geometry)
{
    lb_fusion_init();
    dir = t_tmpdir();
    cfg = ev_config(dir);
    char *store_path = t_path(dir, "store.sqlite");
    lb_config *c = NULL;
    char *diag = NULL;
    lb_status rc = lb_config_load(cfg, &c, &diag);
    if (rc != LB_OK)
        fprintf(stderr, "%s\n", diag ? diag : "?");
    free(diag);
    ASSERT_EQ(rc, LB_OK);
    lb_store *st;
    lb_error err;
    ASSERT_EQ(lb_store_open(store_path, &st, &err), LB_OK);
    const lb_source_cfg *src = lb_config_source(c, "units_live");
    const char *geoms[2][6] = {
        {"{\"type\":\"Point\",\"coordinates\":[9.1,52.1]}",
         "{\"type\":\"LineString\",\"coordinates\":[[9,52],[9.5,52.2],[9.7,52.1]]}",
         "{\"type\":\"Polygon\",\"coordinates\":[[[9,52],[10,52],[10,53],[9,53],[9,52]],"
         "[[9.2,52.2],[9.2,52.4],[9.4,52.4],[9.4,52.2],[9.2,52.2]]]}",
         "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[9,52],[9.1,52],[9.1,52.1],[9,52]]],"
         "[[[9.5,52],[9.6,52],[9.6,52.1],[9.5,52]]]]}",
         "{\"type\":\"MultiPoint\",\"coordinates\":[[9.1,52.1],[9.3,52.4]]}",
         "{\"type\":\"GeometryCollection\",\"geometries\":[{\"type\":\"LineString\","
         "\"coordinates\":[[9,52],[9.5,52.2]]},{\"type\":\"Point\",\"coordinates\":[9.2,52.2]}]}"},
        {"{\"type\":\"Point\",\"coordinates\":[9.2,52.2]}",
         "{\"type\":\"MultiLineString\",\"coordinates\":[[[9,52],[9.5,52.2]],[[9.7,52.1],"
         "[9.8,52.3]]]}",
         "{\"type\":\"Point\",\"coordinates\":[9.3,52.3]}",
         "{\"type\":\"Polygon\",\"coordinates\":[[[9,52],[9.1,52],[9.1,52.1],[9,52]]]}",
         "{\"type\":\"LineString\",\"coordinates\":[[9.1,52.1],[9.3,52.4]]}",
         "{\"type\":\"MultiPoint\",\"coordinates\":[[9.1,52.1],[9.3,52.4]]}"}};
    stored_set before = {0}, after = {0};
    for (int round = 0; round < 2; round++) {
        lb_buf body = {0};
        lb_buf_puts(&body, "{\"type\":\"FeatureCollection\",\"features\":[");
        for (int k = 0; k < 6; k++)
            lb_buf_printf(&body,
                          "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"g%d\"},"
                          "\"geometry\":%s}",
                          k ? "," : "", k, geoms[round][k]);
        lb_buf_puts(&body, "]}");
        lb_push_result res;
        rc = lb_ingest_push(st, c, src, "t-writer", body.data, body.len, NULL, &res, &err);
        lb_buf_free(&body);
        if (rc != LB_OK)
            fprintf(stderr, "  push: %s\n", err.msg);
        ASSERT_EQ(rc, LB_OK);
        ASSERT_EQ(res.nchanges, 6);
        stored_set *now = round ? &after : &before;
        int64_t rev;
        ASSERT_EQ(lb_store_scan_layer(st, "units", collect_stored, now, &rev, &err), LB_OK);
        ASSERT_EQ(now->n, 6);
        for (size_t i = 0; i < res.nchanges; i++) {
            const lb_change *ch = &res.changes[i];
            const stored *e = stored_by_fid(now, ch->fid);
            ASSERT(e != NULL);
            ASSERT(ch->has_new && ch->new_wkb);
            ASSERT_EQ(ch->new_wkb_len, e->len);
            ASSERT(memcmp(ch->new_wkb, e->wkb, e->len) == 0);
            ASSERT_EQ(ch->has_old, round == 1);
            if (round == 1) {
                /* the version replaced: as the first round stored it */
                const stored *o = NULL;
                for (size_t k = 0; k < before.n && !o; k++)
                    if (strcmp(before.v[k].id, e->id) == 0)
                        o = &before.v[k];
                ASSERT(o && ch->old_wkb);
                ASSERT_EQ(ch->old_wkb_len, o->len);
                ASSERT(memcmp(ch->old_wkb, o->wkb, o->len) == 0);
            }
        }
        lb_push_result_free(&res);
    }
    /* a delete carries the version it removes */
    lb_push_result res;
    ASSERT_EQ(lb_ingest_delete(st, c, src, "t-writer", "g2", &res, &err), LB_OK);
    ASSERT_EQ(res.nchanges, 1);
    const stored *o = NULL;
    for (size_t k = 0; k < after.n && !o; k++)
        if (strcmp(after.v[k].id, "g2") == 0)
            o = &after.v[k];
    ASSERT(o && res.changes[0].old_wkb && !res.changes[0].new_wkb);
    ASSERT_EQ(res.changes[0].old_wkb_len, o->len);
    ASSERT(memcmp(res.changes[0].old_wkb, o->wkb, o->len) == 0);
    lb_push_result_free(&res);
    stored_free(&before);
    stored_free(&after);
    lb_store_close(st);
    lb_config_free(c);
    t_rmrf(dir);
    free(dir);
    free(cfg);
    free(store_path);
}

LB_TESTS(test_events_only_to_principals_that_may_see_the_change,
         test_events_show_only_the_cells_of_generalised_features,
         test_events_of_area_limited_roles_follow_the_polygon,
         test_several_roles_see_the_union_of_exact_area_and_generalised_rights,
         test_a_stream_ends_when_its_token_is_replaced,
         test_push_changes_carry_the_stored_geometry)
