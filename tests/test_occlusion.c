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
 *   - a translucent area covers nothing: what is below shines through.
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

#include "lagebild/config.h"
#include "lagebild/fusion.h"
#include "lagebild/style.h"
#include "lagebild/tiler.h"

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
static lb_config *cfg;
static lb_store *store;
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

static void load(const char *name, layer *l)
{
    char *diag = NULL;
    lb_error err;
    const lb_layer_cfg *lc = lb_config_layer(cfg, name);
    ASSERT(lc != NULL && lc->style != NULL);
    ASSERT_EQ(lb_style_load(lc->style, &l->style, &diag), LB_OK);
    size_t nprops = 0;
    const char *const *props = lb_style_properties(l->style, &nprops);
    ASSERT_EQ(lb_snapshot_build(store, cfg, name, grid, props, nprops, &l->snap, &err), LB_OK);
}

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
    char *path = t_path(dir, "occ.yaml");
    t_result r = t_lagebild("ingest", path, "--quiet", NULL);
    if (r.status != 0)
        fprintf(stderr, "%s\n", r.err);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    char *diag = NULL;
    ASSERT_EQ(lb_config_load(path, &cfg, &diag), LB_OK);
    free(path);
    static bool fusion_up;
    if (!fusion_up)
        lb_fusion_init();
    fusion_up = true;
    lb_error err;
    ASSERT_EQ(lb_store_open(cfg->store_path, &store, &err), LB_OK);
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
    lb_store_close(store);
    lb_config_free(cfg);
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

LB_TESTS(test_two_layers_equal_their_composite_by_hand,
         test_a_covering_area_of_a_higher_class_hides_the_lower_one,
         test_a_translucent_area_hides_nothing)
