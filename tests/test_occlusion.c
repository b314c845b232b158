/*
 * Occlusion in the renderer (tiler/render.c, find_cover and layer_covers):
 * a fill in an opaque colour that covers the whole tile hides everything
 * drawn before it, so the renderer does not draw that.  The contract is that
 * the pixels stay exactly those of drawing everything:
 *
 *   - a render of two layers equals, byte for byte, each layer rendered on
 *     its own and composited "over" by hand (lb_canvas_over), both where the
 *     upper layer's area covers the tile and where a hole in it lets the
 *     lower layer show;
 *   - within one layer, an area of a higher class drawn after small
 *     features covers them, and without that class they show;
 *   - a translucent area covers nothing: what is below shines through;
 *   - on a random scene (three layers of overlapping opaque and translucent
 *     areas, some with holes, lines and markers), every tile at zooms 10-14,
 *     256 and 512 px, is byte for byte the same with occlusion and without
 *     (lb_render_set_occlusion), with routing and without
 *     (lb_render_set_routing), and the same as its layers rendered one by
 *     one and composited by hand (which also checks that drawing a layer
 *     straight onto the tile where it is still transparent changes nothing).
 *
 * The data, around 9.0 E 52.0 N at zoom 14 (a tile is about 0.022 degrees):
 *   layer "unten": red squares and points in tile A (inside the big area)
 *                  and in the hole of tile B;
 *   layer "oben":  one big blue square (8.9..9.1 E, 51.95..52.05 N) with a
 *                  hole around tile B's centre;
 *   layer "mix":   red squares (OFFEN) and the big square without hole
 *                  (VS-NfD, the higher class, so drawn after them), blue;
 *   layer "glas":  the big square without hole in blue at 50 % opacity;
 *   layer "mixglas": the data of "mix", the big square at 50 % opacity.
 */
#include <math.h>

#include "lbtest.h"
#include "tutil.h"
#include "tsnap.h"

static const char config_text[] =
    "store: {path: occ.sqlite}\n"
    "groups: [police]\n"
    "layers:\n"
    "  unten: {title: Unten, style: red.json}\n"
    "  oben: {title: Oben, style: blue.json}\n"
    "  mix: {title: Mix, style: blue_red.json}\n"
    "  glas: {title: Glas, style: glass.json}\n"
    "  mixglas: {title: Mixglas, style: glass_red.json}\n"
    "sources:\n"
    "  u: {path: unten.geojson, layer: unten, agency: police, fid: id, label: {level: OFFEN}}\n"
    "  o: {path: oben.geojson, layer: oben, agency: police, fid: id, label: {level: OFFEN}}\n"
    "  m:\n"
    "    path: mix.geojson\n"
    "    layer: mix\n"
    "    agency: police\n"
    "    fid: id\n"
    "    mapping: {kind: art}\n"
    "    label: {level: OFFEN, level_from: stufe}\n"
    "  mg:\n"
    "    path: mix.geojson\n"
    "    layer: mixglas\n"
    "    agency: police\n"
    "    fid: id\n"
    "    mapping: {kind: art}\n"
    "    label: {level: OFFEN, level_from: stufe}\n"
    "  g: {path: glas.geojson, layer: glas, agency: police, fid: id, label: {level: OFFEN}}\n"
    "maps:\n"
    "  occ: {title: Occlusion, layers: [unten, oben]}\n";

static const char red_style[] =
    "{\"version\": 8, \"name\": \"red\", \"layers\": [\n"
    " {\"id\": \"a\", \"type\": \"fill\", \"paint\": {\"fill-color\": \"#ff0000\"}},\n"
    " {\"id\": \"p\", \"type\": \"circle\", \"paint\": {\"circle-color\": \"#ff0000\", "
    "\"circle-radius\": 6}}]}\n";
static const char blue_style[] =
    "{\"version\": 8, \"name\": \"blue\", \"layers\": [\n"
    " {\"id\": \"a\", \"type\": \"fill\", \"paint\": {\"fill-color\": \"#0000ff\"}}]}\n";
static const char blue_red_style[] =
    "{\"version\": 8, \"name\": \"blue_red\", \"layers\": [\n"
    " {\"id\": \"b\", \"type\": \"fill\", \"filter\": [\"==\", [\"get\", \"kind\"], \"big\"],\n"
    "  \"paint\": {\"fill-color\": \"#0000ff\"}},\n"
    " {\"id\": \"s\", \"type\": \"fill\", \"filter\": [\"==\", [\"get\", \"kind\"], \"small\"],\n"
    "  \"paint\": {\"fill-color\": \"#ff0000\"}}]}\n";
static const char glass_red_style[] =
    "{\"version\": 8, \"name\": \"glass_red\", \"layers\": [\n"
    " {\"id\": \"b\", \"type\": \"fill\", \"filter\": [\"==\", [\"get\", \"kind\"], \"big\"],\n"
    "  \"paint\": {\"fill-color\": \"#0000ff\", \"fill-opacity\": 0.5}},\n"
    " {\"id\": \"s\", \"type\": \"fill\", \"filter\": [\"==\", [\"get\", \"kind\"], \"small\"],\n"
    "  \"paint\": {\"fill-color\": \"#ff0000\"}}]}\n";
static const char glass_style[] =
    "{\"version\": 8, \"name\": \"glass\", \"layers\": [\n"
    " {\"id\": \"a\", \"type\": \"fill\", \"paint\": {\"fill-color\": \"#0000ff\", "
    "\"fill-opacity\": 0.5}}]}\n";

static const char unten_text[] =
    "{\"type\": \"FeatureCollection\", \"features\": [\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"a1\"}, \"geometry\": {\"type\": "
    "\"Polygon\", \"coordinates\": [[[8.955, 51.975], [8.965, 51.975], [8.965, 51.985], "
    "[8.955, 51.985], [8.955, 51.975]]]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"a2\"}, \"geometry\": {\"type\": "
    "\"Point\", \"coordinates\": [8.958, 51.983]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"b1\"}, \"geometry\": {\"type\": "
    "\"Polygon\", \"coordinates\": [[[9.003, 52.003], [9.007, 52.003], [9.007, 52.007], "
    "[9.003, 52.007], [9.003, 52.003]]]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"b2\"}, \"geometry\": {\"type\": "
    "\"Point\", \"coordinates\": [9.0, 52.0]}}]}\n";

/* the big square; the hole (opposite orientation) around tile B's centre */
#define BIG_RING "[[8.9, 51.95], [9.1, 51.95], [9.1, 52.05], [8.9, 52.05], [8.9, 51.95]]"
#define HOLE_RING "[[8.995, 51.995], [8.995, 52.012], [9.015, 52.012], [9.015, 51.995], [8.995, 51.995]]"

static const char oben_text[] =
    "{\"type\": \"FeatureCollection\", \"features\": [\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"o1\"}, \"geometry\": {\"type\": "
    "\"Polygon\", \"coordinates\": [" BIG_RING ", " HOLE_RING "]}}]}\n";

static const char mix_text[] =
    "{\"type\": \"FeatureCollection\", \"features\": [\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"m1\", \"art\": \"small\", \"stufe\": "
    "\"OFFEN\"}, \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[8.955, 51.975], "
    "[8.965, 51.975], [8.965, 51.985], [8.955, 51.985], [8.955, 51.975]]]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"m2\", \"art\": \"big\", \"stufe\": "
    "\"VS-NfD\"}, \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [" BIG_RING "]}}]}\n";

static const char glas_text[] =
    "{\"type\": \"FeatureCollection\", \"features\": [\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"g1\"}, \"geometry\": {\"type\": "
    "\"Polygon\", \"coordinates\": [" BIG_RING "]}}]}\n";

#define Z 14

static char *dir;
static t_store db;
static const lb_tms *grid;

typedef struct layer {
    lb_style *style;
    lb_snapshot *snap;
} layer;
static layer unten, oben, mix, glas, mixglas;

static void tile_of(double lon, double lat, long *x, long *y)
{
    double n = (double)(1L << Z);
    double la = lat * M_PI / 180.0;
    *x = (long)floor((lon + 180.0) / 360.0 * n);
    *y = (long)floor((1.0 - log(tan(la) + 1.0 / cos(la)) / M_PI) / 2.0 * n);
}

static void load(const char *name, layer *l) { t_layer_open(&db, name, grid, &l->style, &l->snap); }

static void setup(void)
{
    dir = t_tmpdir();
    t_write(dir, "occ.yaml", config_text);
    t_write(dir, "red.json", red_style);
    t_write(dir, "blue.json", blue_style);
    t_write(dir, "blue_red.json", blue_red_style);
    t_write(dir, "glass.json", glass_style);
    t_write(dir, "glass_red.json", glass_red_style);
    t_write(dir, "unten.geojson", unten_text);
    t_write(dir, "oben.geojson", oben_text);
    t_write(dir, "mix.geojson", mix_text);
    t_write(dir, "glas.geojson", glas_text);
    t_store_ingest(dir, "occ.yaml", &db);
    grid = lb_tms_find("WebMercatorQuad");
    ASSERT(grid != NULL);
    load("unten", &unten);
    load("oben", &oben);
    load("mix", &mix);
    load("glas", &glas);
    load("mixglas", &mixglas);
}

static void drop(layer *l)
{
    lb_snapshot_unref(l->snap);
    lb_style_free(l->style);
}

static void teardown(void)
{
    drop(&unten);
    drop(&oben);
    drop(&mix);
    drop(&glas);
    drop(&mixglas);
    t_store_close(&db);
    t_rmrf(dir);
    free(dir);
}

static bool below_class(void *ud, const lb_feature_info *f)
{
    (void)ud;
    return f->label.level == LB_LEVEL_OFFEN;
}

/* layers a (and b when not NULL, over a) into a fresh canvas c */
static void render(const layer *a, const layer *b, lb_feature_pred pred, long x, long y,
                   int scale, lb_canvas *c)
{
    ASSERT_EQ(lb_canvas_init(c, 256 * scale, 256 * scale), LB_OK);
    lb_render_layer rl[2] = {{.snap = a->snap, .style = a->style, .pred = pred}};
    if (b)
        rl[1] = (lb_render_layer){.snap = b->snap, .style = b->style};
    lb_error err;
    ASSERT_EQ(lb_render_tile(rl, b ? 2 : 1, grid, Z, x, y, scale, c, &err), LB_OK);
}

static bool uniform(const lb_canvas *c, const uint8_t want[4])
{
    for (size_t i = 0; i < (size_t)c->width * (size_t)c->height * 4; i += 4)
        if (memcmp(c->px + i, want, 4) != 0)
            return false;
    return true;
}

static size_t count_px(const lb_canvas *c, const uint8_t want[4])
{
    size_t n = 0;
    for (size_t i = 0; i < (size_t)c->width * (size_t)c->height * 4; i += 4)
        n += memcmp(c->px + i, want, 4) == 0;
    return n;
}

/* red and blue both present: red seen through translucent blue */
static size_t count_reddish(const lb_canvas *c)
{
    size_t n = 0;
    for (size_t i = 0; i < (size_t)c->width * (size_t)c->height * 4; i += 4)
        n += c->px[i] > 100 && c->px[i + 2] > 100;
    return n;
}

static const uint8_t BLUE[4] = {0, 0, 255, 255}, RED[4] = {255, 0, 0, 255};

LB_TEST(test_two_layers_equal_their_composite_by_hand)
{
    setup();
    long ax, ay, bx, by;
    tile_of(8.96, 51.98, &ax, &ay);
    tile_of(9.005, 52.005, &bx, &by);
    ASSERT(ax != bx || ay != by);
    for (int scale = 1; scale <= 2; scale++) {
        for (int t = 0; t < 2; t++) {
            long x = t ? bx : ax, y = t ? by : ay;
            lb_canvas both, lo, hi;
            render(&unten, &oben, NULL, x, y, scale, &both);
            render(&unten, NULL, NULL, x, y, scale, &lo);
            render(&oben, NULL, NULL, x, y, scale, &hi);
            /* the lower layer has something here: red pixels */
            ASSERT(count_px(&lo, RED) > 50);
            lb_canvas_over(&lo, &hi);
            ASSERT(memcmp(both.px, lo.px, (size_t)both.width * (size_t)both.height * 4) == 0);
            if (t == 0) {
                /* tile A lies inside the big area: all blue */
                ASSERT(uniform(&both, BLUE));
            } else {
                /* tile B: the hole shows the red square */
                ASSERT(count_px(&both, RED) > 50);
                ASSERT(count_px(&both, BLUE) > 50);
            }
            lb_canvas_free(&both);
            lb_canvas_free(&lo);
            lb_canvas_free(&hi);
        }
    }
    teardown();
}

/*
 * lb_canvas.zeroed lets the renderer take a cleared canvas as transparent
 * without scanning it; every call that draws must drop it.  A canvas drawn
 * on by each drawing call, then rendered onto, must come out as the same
 * pixels in a view without the hint (which the renderer scans): were the
 * hint kept, the translucent first layer would be put straight onto the
 * canvas instead of over what is there.
 */
LB_TEST(test_a_drawn_canvas_is_not_taken_for_a_clear_one)
{
    setup();
    long ax, ay;
    tile_of(8.96, 51.98, &ax, &ay);
    lb_render_layer rl[2] = {{.snap = glas.snap, .style = glas.style},
                             {.snap = unten.snap, .style = unten.style}};
    lb_canvas fresh;
    ASSERT_EQ(lb_canvas_init(&fresh, 256, 256), LB_OK);
    lb_error err;
    ASSERT_EQ(lb_render_tile(rl, 2, grid, Z, ax, ay, 1, &fresh, &err), LB_OK);
    const double sq[] = {40, 40, 200, 40, 200, 200, 40, 200};
    const lb_ring ring = {.xy = sq, .n = 4};
    const lb_rgba red = {255, 0, 0, 255};
    const lb_stroke st = {.width = 30, .join = LB_JOIN_ROUND, .cap = LB_CAP_ROUND};
    for (int op = 0; op < 4; op++) {
        lb_canvas c, src = {0};
        ASSERT_EQ(lb_canvas_init(&c, 256, 256), LB_OK);
        ASSERT(c.zeroed);
        if (op == 0)
            lb_raster_fill(&c, &ring, 1, red);
        else if (op == 1)
            lb_raster_stroke(&c, &ring, true, &st, red);
        else if (op == 2)
            lb_raster_marker(&c, LB_MARKER_CIRCLE, 128, 128, 90, red, 0, red);
        else {
            ASSERT_EQ(lb_canvas_init(&src, 256, 256), LB_OK);
            lb_raster_fill(&src, &ring, 1, red);
            lb_canvas_over(&c, &src);
            lb_canvas_free(&src);
        }
        ASSERT(!c.zeroed);
        ASSERT(count_px(&c, RED) > 1000);
        uint8_t *copy = malloc(256 * 256 * 4);
        memcpy(copy, c.px, 256 * 256 * 4);
        lb_canvas v;
        ASSERT_EQ(lb_canvas_init_view(&v, 256, 256, copy), LB_OK);
        ASSERT(!v.zeroed);
        ASSERT_EQ(lb_render_tile(rl, 2, grid, Z, ax, ay, 1, &c, &err), LB_OK);
        ASSERT_EQ(lb_render_tile(rl, 2, grid, Z, ax, ay, 1, &v, &err), LB_OK);
        if (memcmp(c.px, v.px, 256 * 256 * 4) != 0)
            LBT__FAIL("drawing call %d left the canvas taken for a clear one", op);
        /* what was drawn shows through the translucent area */
        ASSERT(memcmp(c.px, fresh.px, 256 * 256 * 4) != 0);
        lb_canvas_clear(&c);
        ASSERT(c.zeroed);
        lb_canvas_free(&v);
        free(copy);
        lb_canvas_free(&c);
    }
    lb_canvas_free(&fresh);
    teardown();
}

LB_TEST(test_a_covering_area_of_a_higher_class_hides_the_lower_one)
{
    setup();
    long ax, ay;
    tile_of(8.96, 51.98, &ax, &ay);
    lb_canvas whole, lower;
    render(&mix, NULL, NULL, ax, ay, 1, &whole);
    ASSERT(uniform(&whole, BLUE));
    /* without the VS-NfD class, the red square is there */
    render(&mix, NULL, below_class, ax, ay, 1, &lower);
    ASSERT(count_px(&lower, RED) > 50);
    /* and drawing the big area over it gives the whole render again */
    lb_render_layer rl = {.snap = mix.snap, .style = mix.style};
    lb_error err;
    ASSERT_EQ(lb_render_tile(&rl, 1, grid, Z, ax, ay, 1, &lower, &err), LB_OK);
    ASSERT(memcmp(whole.px, lower.px, 256 * 256 * 4) == 0);
    lb_canvas_free(&whole);
    lb_canvas_free(&lower);
    teardown();
}

LB_TEST(test_a_translucent_area_hides_nothing)
{
    setup();
    long ax, ay;
    tile_of(8.96, 51.98, &ax, &ay);
    lb_canvas both, lo, hi;
    render(&unten, &glas, NULL, ax, ay, 1, &both);
    render(&unten, NULL, NULL, ax, ay, 1, &lo);
    render(&glas, NULL, NULL, ax, ay, 1, &hi);
    lb_canvas_over(&lo, &hi);
    ASSERT(memcmp(both.px, lo.px, 256 * 256 * 4) == 0);
    /* red under 50 % blue: red still contributes where the square is */
    ASSERT(count_reddish(&both) > 50);
    lb_canvas_free(&both);
    /* the same within one layer: the translucent area comes later (a
     * higher class), and the red square still shows through it */
    render(&mixglas, NULL, NULL, ax, ay, 1, &both);
    ASSERT(count_reddish(&both) > 50);
    lb_canvas_free(&both);
    lb_canvas_free(&lo);
    lb_canvas_free(&hi);
    teardown();
}

/* ---- a line beside the edge of a covered block ---------------------------- */

/* lon/lat of pixel (px, py) of tile (x, y) at zoom Z, 256 px */
static void lonlat(long x, long y, double px, double py, double *lon, double *lat)
{
    double n = (double)(1L << Z);
    *lon = (x + px / 256.0) / n * 360.0 - 180.0;
    *lat = atan(sinh(M_PI * (1.0 - 2.0 * (y + py / 256.0) / n))) * 180.0 / M_PI;
}

static const char edge_config[] =
    "store: {path: edge.sqlite}\n"
    "groups: [police]\n"
    "layers:\n"
    "  lo: {title: Lo, style: lo.json}\n"
    "  hi: {title: Hi, style: blue.json}\n"
    "sources:\n"
    "  lo: {path: lo.geojson, layer: lo, agency: police, fid: id, label: {level: OFFEN}}\n"
    "  hi: {path: hi.geojson, layer: hi, agency: police, fid: id, label: {level: OFFEN}}\n"
    "maps:\n"
    "  edge: {title: Edge, layers: [lo, hi]}\n";
static const char lo_style[] =
    "{\"version\": 8, \"name\": \"lo\", \"layers\": [\n"
    " {\"id\": \"l\", \"type\": \"line\", \"paint\": {\"line-color\": \"#000000\", \"line-width\": "
    "8}}]}\n";

LB_TEST(test_a_line_beside_a_covered_block_is_drawn)
{
    /* Tile A at 256 px has blocks of 16 px.  The upper layer's area ends
     * 1.2 px right of the block edge at x = 64 (so the blocks left of it are
     * covered, and pixel 65 mostly is not); the lower layer's line runs at
     * x = 61.5-62.4, inside a covered block, and its 8 px stroke reaches
     * over the area's edge: it must be drawn (paint_reach). */
    long ax, ay;
    tile_of(8.96, 51.98, &ax, &ay);
    char *d = t_tmpdir();
    t_write(d, "edge.yaml", edge_config);
    t_write(d, "lo.json", lo_style);
    t_write(d, "blue.json", blue_style);
    double x0, y0, x1, y1, lx0, ly0, lx1, ly1;
    lonlat(ax, ay, -300, -300, &x0, &y1);
    lonlat(ax, ay, 65.2, 600, &x1, &y0);
    lonlat(ax, ay, 61.5, 100, &lx0, &ly0);
    lonlat(ax, ay, 62.4, 150, &lx1, &ly1);
    char text[1024];
    snprintf(text, sizeof text,
             "{\"type\": \"FeatureCollection\", \"features\": [{\"type\": \"Feature\", "
             "\"properties\": {\"id\": \"h\"}, \"geometry\": {\"type\": \"Polygon\", "
             "\"coordinates\": [[[%.9f, %.9f], [%.9f, %.9f], [%.9f, %.9f], [%.9f, %.9f], [%.9f, "
             "%.9f]]]}}]}\n",
             x0, y0, x1, y0, x1, y1, x0, y1, x0, y0);
    t_write(d, "hi.geojson", text);
    snprintf(text, sizeof text,
             "{\"type\": \"FeatureCollection\", \"features\": [{\"type\": \"Feature\", "
             "\"properties\": {\"id\": \"l\"}, \"geometry\": {\"type\": \"LineString\", "
             "\"coordinates\": [[%.9f, %.9f], [%.9f, %.9f]]}}]}\n",
             lx0, ly0, lx1, ly1);
    t_write(d, "lo.geojson", text);
    t_store ts;
    t_store_ingest(d, "edge.yaml", &ts);
    const lb_tms *g = lb_tms_find("WebMercatorQuad");
    lb_render_layer rl[2];
    const char *names[2] = {"lo", "hi"};
    lb_style *styles[2];
    for (int i = 0; i < 2; i++) {
        lb_snapshot *snap = NULL;
        t_layer_open(&ts, names[i], g, &styles[i], &snap);
        rl[i] = (lb_render_layer){.snap = snap, .style = styles[i]};
    }
    lb_error err;
    lb_canvas both, lo, hi;
    ASSERT_EQ(lb_canvas_init(&both, 256, 256), LB_OK);
    ASSERT_EQ(lb_canvas_init(&lo, 256, 256), LB_OK);
    ASSERT_EQ(lb_canvas_init(&hi, 256, 256), LB_OK);
    ASSERT_EQ(lb_render_tile(rl, 2, g, Z, ax, ay, 1, &both, &err), LB_OK);
    ASSERT_EQ(lb_render_tile(&rl[0], 1, g, Z, ax, ay, 1, &lo, &err), LB_OK);
    ASSERT_EQ(lb_render_tile(&rl[1], 1, g, Z, ax, ay, 1, &hi, &err), LB_OK);
    /* the line shows right of the area's edge, in pixel 65 */
    size_t at = (125 * 256 + 65) * 4;
    ASSERT(memcmp(both.px + at, hi.px + at, 4) != 0);
    ASSERT(both.px[at + 3] > hi.px[at + 3]);
    lb_canvas_over(&lo, &hi);
    ASSERT(memcmp(both.px, lo.px, 256 * 256 * 4) == 0);
    lb_canvas_free(&both);
    lb_canvas_free(&lo);
    lb_canvas_free(&hi);
    for (int i = 0; i < 2; i++) {
        lb_snapshot_unref(rl[i].snap);
        lb_style_free(styles[i]);
    }
    t_store_close(&ts);
    t_rmrf(d);
    free(d);
}

/* ---- random scene ---------------------------------------------------------- */

static uint32_t rnd_state = 12345;
static double rnd(void)
{
    rnd_state = rnd_state * 1664525u + 1013904223u;
    return (double)(rnd_state >> 8) / 16777216.0;
}

static void put_ring(FILE *f, double cx, double cy, double r, int k, bool reverse)
{
    fputc('[', f);
    double first[2] = {0, 0};
    for (int i = 0; i < k; i++) {
        double a = 2 * M_PI * (reverse ? k - i : i) / k;
        double rr = r * (0.6 + 0.4 * rnd());
        double x = cx + rr * cos(a) * 1.6, y = cy + rr * sin(a);
        if (i == 0) {
            first[0] = x;
            first[1] = y;
        }
        fprintf(f, "[%.7f, %.7f], ", x, y);
    }
    fprintf(f, "[%.7f, %.7f]]", first[0], first[1]);
}

/* n features in 9.0-9.2 E, 51.9-52.1 N: areas (a third of them large, a
 * fifth with a hole), lines and points; colour "c" a-d, opaque "o" y/n */
static void write_scene(const char *dir, const char *name, int n)
{
    char *path = t_path(dir, name);
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fputs("{\"type\": \"FeatureCollection\", \"features\": [\n", f);
    for (int i = 0; i < n; i++) {
        double cx = 9.0 + 0.2 * rnd(), cy = 51.9 + 0.2 * rnd(), kind = rnd();
        fprintf(f, "%s{\"type\": \"Feature\", \"properties\": {\"id\": \"%s-%d\", \"c\": \"%c\", "
                   "\"o\": \"%c\"}, \"geometry\": ",
                i ? ",\n" : "", name, i, "abcd"[(int)(rnd() * 4) & 3], rnd() < 0.75 ? 'y' : 'n');
        if (kind < 0.6) {
            double r = rnd() < 0.35 ? 0.01 + 0.05 * rnd() : 0.0005 + 0.004 * rnd();
            fputs("{\"type\": \"Polygon\", \"coordinates\": [", f);
            put_ring(f, cx, cy, r, 5 + (int)(rnd() * 20), false);
            if (rnd() < 0.2) {
                fputs(", ", f);
                put_ring(f, cx, cy, r * 0.3, 6, true);
            }
            fputs("]}}", f);
        } else if (kind < 0.8) {
            fputs("{\"type\": \"LineString\", \"coordinates\": [", f);
            int k = 3 + (int)(rnd() * 6);
            for (int j = 0; j < k; j++) {
                fprintf(f, "%s[%.7f, %.7f]", j ? ", " : "", cx, cy);
                cx += (rnd() - 0.5) * 0.02;
                cy += (rnd() - 0.5) * 0.02;
            }
            fputs("]}}", f);
        } else {
            fprintf(f, "{\"type\": \"Point\", \"coordinates\": [%.7f, %.7f]}}", cx, cy);
        }
    }
    fputs("]}\n", f);
    fclose(f);
    free(path);
}

static const char scene_style[] =
    "{\"version\": 8, \"name\": \"scene\", \"layers\": [\n"
    " {\"id\": \"f\", \"type\": \"fill\", \"paint\": {\"fill-color\": [\"match\", [\"get\", \"c\"], "
    "\"a\", \"#d62728\", \"b\", \"#1f77b4\", \"c\", \"#2ca02c\", \"#9467bd\"], \"fill-opacity\": "
    "[\"match\", [\"get\", \"o\"], \"y\", 1, 0.6]}},\n"
    " {\"id\": \"l\", \"type\": \"line\", \"paint\": {\"line-color\": \"#333333\", \"line-width\": "
    "5}},\n"
    " {\"id\": \"p\", \"type\": \"circle\", \"paint\": {\"circle-color\": \"#ff7f0e\", "
    "\"circle-radius\": 12, \"circle-stroke-width\": 2, \"circle-stroke-color\": \"#ffffff\"}}]}\n";

static const char scene_config[] =
    "store: {path: scene.sqlite}\n"
    "groups: [police]\n"
    "layers:\n"
    "  s1: {title: S1, style: scene.json}\n"
    "  s2: {title: S2, style: scene.json}\n"
    "  s3: {title: S3, style: scene.json}\n"
    "sources:\n"
    "  s1: {path: s1.geojson, layer: s1, agency: police, fid: id, label: {level: OFFEN}}\n"
    "  s2: {path: s2.geojson, layer: s2, agency: police, fid: id, label: {level: OFFEN}}\n"
    "  s3: {path: s3.geojson, layer: s3, agency: police, fid: id, label: {level: OFFEN}}\n"
    "maps:\n"
    "  scene: {title: Scene, layers: [s1, s2, s3]}\n";

LB_TEST(test_random_scene_same_bytes_with_and_without_occlusion)
{
    char *d = t_tmpdir();
    t_write(d, "scene.yaml", scene_config);
    t_write(d, "scene.json", scene_style);
    write_scene(d, "s1.geojson", 600);
    write_scene(d, "s2.geojson", 600);
    write_scene(d, "s3.geojson", 300);
    t_store ts;
    t_store_ingest(d, "scene.yaml", &ts);
    const lb_tms *g = lb_tms_find("WebMercatorQuad");
    lb_render_layer rl[3];
    lb_style *styles[3];
    const char *names[3] = {"s1", "s2", "s3"};
    for (int i = 0; i < 3; i++) {
        lb_snapshot *snap = NULL;
        t_layer_open(&ts, names[i], g, &styles[i], &snap);
        rl[i] = (lb_render_layer){.snap = snap, .style = styles[i]};
    }
    lb_error err;
    size_t tiles = 0, hidden_below = 0, differ_from_top = 0;
    for (int z = 10; z <= 14; z++) {
        long x0, y0, x1, y1;
        double n = (double)(1L << z);
        x0 = (long)floor((9.0 + 180.0) / 360.0 * n);
        x1 = (long)floor((9.2 + 180.0) / 360.0 * n);
        double la0 = 52.1 * M_PI / 180.0, la1 = 51.9 * M_PI / 180.0;
        y0 = (long)floor((1.0 - log(tan(la0) + 1.0 / cos(la0)) / M_PI) / 2.0 * n);
        y1 = (long)floor((1.0 - log(tan(la1) + 1.0 / cos(la1)) / M_PI) / 2.0 * n);
        for (long ty = y0; ty <= y1; ty += z == 14 ? 2 : 1)
            for (long tx = x0; tx <= x1; tx += z == 14 ? 2 : 1)
                for (int scale = 1; scale <= 2; scale++) {
                    int px = 256 * scale;
                    for (int nl = 1; nl <= 3; nl += 2) {
                        lb_canvas on, off;
                        ASSERT_EQ(lb_canvas_init(&on, px, px), LB_OK);
                        ASSERT_EQ(lb_canvas_init(&off, px, px), LB_OK);
                        const lb_render_layer *ls = nl == 3 ? rl : &rl[1];
                        lb_render_set_occlusion(true);
                        ASSERT_EQ(lb_render_tile(ls, (size_t)nl, g, z, tx, ty, scale, &on, &err),
                                  LB_OK);
                        lb_render_set_occlusion(false);
                        ASSERT_EQ(lb_render_tile(ls, (size_t)nl, g, z, tx, ty, scale, &off, &err),
                                  LB_OK);
                        lb_render_set_occlusion(true);
                        size_t bytes = (size_t)px * (size_t)px * 4;
                        if (nl == 3) {
                            /* without routing: every layer through its canvas */
                            lb_canvas nr;
                            ASSERT_EQ(lb_canvas_init(&nr, px, px), LB_OK);
                            lb_render_set_routing(false);
                            ASSERT_EQ(lb_render_tile(ls, 3, g, z, tx, ty, scale, &nr, &err), LB_OK);
                            lb_render_set_routing(true);
                            ASSERT(memcmp(nr.px, on.px, bytes) == 0);
                            lb_canvas_free(&nr);
                        }
                        if (memcmp(on.px, off.px, bytes) != 0)
                            fprintf(stderr, "differs: %d/%ld/%ld @%dx, %d layers\n", z, tx, ty,
                                    scale, nl);
                        ASSERT(memcmp(on.px, off.px, bytes) == 0);
                        tiles++;
                        if (nl == 3) {
                            /* the layers rendered one by one and composited
                             * by hand: what routing (straight onto the tile
                             * where it is transparent) and occlusion across
                             * layers must give */
                            lb_canvas hand, one;
                            ASSERT_EQ(lb_canvas_init(&hand, px, px), LB_OK);
                            ASSERT_EQ(lb_canvas_init(&one, px, px), LB_OK);
                            for (int k = 0; k < 3; k++) {
                                lb_canvas_clear(&one);
                                ASSERT_EQ(lb_render_tile(&rl[k], 1, g, z, tx, ty, scale, &one,
                                                         &err),
                                          LB_OK);
                                lb_canvas_over(&hand, &one);
                            }
                            ASSERT(memcmp(hand.px, on.px, bytes) == 0);
                            lb_canvas_free(&hand);
                            lb_canvas_free(&one);
                            /* tiles where the top layer hides the lower ones,
                             * which have something there; and tiles where
                             * they show */
                            lb_canvas top, bottom;
                            ASSERT_EQ(lb_canvas_init(&top, px, px), LB_OK);
                            ASSERT_EQ(lb_canvas_init(&bottom, px, px), LB_OK);
                            ASSERT_EQ(lb_render_tile(&rl[2], 1, g, z, tx, ty, scale, &top, &err),
                                      LB_OK);
                            ASSERT_EQ(lb_render_tile(rl, 1, g, z, tx, ty, scale, &bottom, &err),
                                      LB_OK);
                            bool same = memcmp(top.px, on.px, bytes) == 0;
                            hidden_below += same && !lb_canvas_is_empty(&bottom);
                            differ_from_top += !same;
                            lb_canvas_free(&top);
                            lb_canvas_free(&bottom);
                        }
                        lb_canvas_free(&on);
                        lb_canvas_free(&off);
                    }
                }
    }
    /* a wall-display view larger than the rasterizer's band (2048 px: the
     * banded sweep), not a multiple of the block sizes: the same three ways */
    {
        double bx0, by0, bx1, by1, ax0, ay0, ax1, ay1;
        ASSERT(lb_tms_tile_bounds(g, 12, 2150, 1352, &bx0, &by0, &bx1, &by1));
        ASSERT(lb_tms_tile_bounds(g, 12, 2152, 1354, &ax0, &ay0, &ax1, &ay1));
        double minx = fmin(bx0, ax0), maxx = fmax(bx1, ax1), miny = fmin(by0, ay0),
               maxy = fmax(by1, ay1);
        const int W = 3001, H = 2100;
        lb_canvas on, off, hand, one;
        ASSERT_EQ(lb_canvas_init(&on, W, H), LB_OK);
        ASSERT_EQ(lb_canvas_init(&off, W, H), LB_OK);
        ASSERT_EQ(lb_canvas_init(&hand, W, H), LB_OK);
        ASSERT_EQ(lb_canvas_init(&one, W, H), LB_OK);
        ASSERT_EQ(lb_render_area(rl, 3, minx, miny, maxx, maxy, 13.5, 1, &on, &err), LB_OK);
        lb_render_set_occlusion(false);
        ASSERT_EQ(lb_render_area(rl, 3, minx, miny, maxx, maxy, 13.5, 1, &off, &err), LB_OK);
        lb_render_set_occlusion(true);
        for (int k = 0; k < 3; k++) {
            lb_canvas_clear(&one);
            ASSERT_EQ(lb_render_area(&rl[k], 1, minx, miny, maxx, maxy, 13.5, 1, &one, &err),
                      LB_OK);
            lb_canvas_over(&hand, &one);
        }
        size_t bytes = (size_t)W * H * 4;
        ASSERT(!lb_canvas_is_empty(&on));
        ASSERT(memcmp(on.px, off.px, bytes) == 0);
        ASSERT(memcmp(on.px, hand.px, bytes) == 0);
        lb_canvas_free(&on);
        lb_canvas_free(&off);
        lb_canvas_free(&hand);
        lb_canvas_free(&one);
    }
    fprintf(stderr, "%zu renders compared; %zu tiles where the top layer hides the others, %zu "
                    "where they show\n",
            tiles, hidden_below, differ_from_top);
    /* the scene has both */
    ASSERT(tiles > 200);
    ASSERT(hidden_below > 5);
    ASSERT(differ_from_top > 20);
    for (int i = 0; i < 3; i++) {
        lb_snapshot_unref(rl[i].snap);
        lb_style_free(styles[i]);
    }
    t_store_close(&ts);
    t_rmrf(d);
    free(d);
}

LB_TESTS(test_two_layers_equal_their_composite_by_hand, test_a_drawn_canvas_is_not_taken_for_a_clear_one,
         test_a_covering_area_of_a_higher_class_hides_the_lower_one,
         test_a_translucent_area_hides_nothing, test_a_line_beside_a_covered_block_is_drawn,
         test_random_scene_same_bytes_with_and_without_occlusion)
