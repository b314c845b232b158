/*
 * What a walk of a snapshot reads must not grow with the features the
 * principal may not see: otherwise the time of a tile, of /classification
 * or of a static map tells how many such features lie there, although the
 * bytes are the same (issue 4: a z13 tile took 12.8 ms over 200,000 hidden
 * features and 0.16 ms over none).  Not a timing test: the walks count the
 * tree nodes and features they read (lb_tiler__walk_stats), and this test
 * checks those counts.
 *
 * The data: layer "punkte", one circle style, in one z14 tile T:
 *   50,000 points VS-VERTRAULICH and 1,000 VS-NfD (hidden from the
 *   principal, who is cleared for OFFEN only), 5 points OFFEN;
 *   1,000 points OFFEN far away (other tiles);
 * layer "flaechen": a square VS-VERTRAULICH covering T in an opaque fill
 * (it would hide the points below for full rights), and a small OFFEN one.
 *
 * For each walk (render at full detail and at a level of detail, render of
 * an overlay, lb_snapshot_max_level, lb_snapshot_classes) the features read
 * stay below a bound of the visible features plus a few nodes per class and
 * tree level, and with class walks off (the walks before this change:
 * everything in the box, filtered afterwards) they exceed the hidden
 * features in the box; the answers and pixels are the same either way.
 */
#include <math.h>

#include "lbtest.h"
#include "tutil.h"
#include "tsnap.h"
#include "lagebild/util.h"
#include "../tiler/tiler_int.h" /* white box: lb_tiler__walk_stats */

static const char config_text[] =
    "store: {path: walk.sqlite}\n"
    "groups: [police]\n"
    "layers:\n"
    "  punkte: {title: Punkte, style: punkte.json}\n"
    "  flaechen: {title: Flaechen, style: flaechen.json}\n"
    "sources:\n"
    "  p:\n"
    "    path: punkte.geojson\n"
    "    layer: punkte\n"
    "    agency: police\n"
    "    fid: id\n"
    "    label: {level: OFFEN, level_from: stufe}\n"
    "  f:\n"
    "    path: flaechen.geojson\n"
    "    layer: flaechen\n"
    "    agency: police\n"
    "    fid: id\n"
    "    label: {level: OFFEN, level_from: stufe}\n"
    "maps:\n"
    "  lage: {title: Lage, layers: [punkte, flaechen]}\n";

static const char punkte_style[] =
    "{\"version\": 8, \"name\": \"punkte\", \"layers\": [\n"
    " {\"id\": \"p\", \"type\": \"circle\", \"paint\": {\"circle-color\": \"#ff0000\", "
    "\"circle-radius\": 3}}]}\n";
static const char flaechen_style[] =
    "{\"version\": 8, \"name\": \"flaechen\", \"layers\": [\n"
    " {\"id\": \"f\", \"type\": \"fill\", \"paint\": {\"fill-color\": \"#0000ff\"}}]}\n";

#define Z 14
#define N_GEHEIM_X 250 /* VS-VERTRAULICH: a 250 x 200 grid */
#define N_GEHEIM_Y 200
#define N_NFD 1000
#define N_OPEN 5
#define N_FAR 1000
#define N_HIDDEN (N_GEHEIM_X * N_GEHEIM_Y + N_NFD)

/* Features the walks may read besides the visible ones: a class has a
 * subtree of its own (snapshot.c, rtree_build), so a walk reads, per class
 * wanted, the leaf nodes of that subtree whose boxes meet the query box,
 * RT_FANOUT = 16 features each.  A generous bound that does not grow with
 * the hidden features: 2 such nodes per level of the class's subtree (5)
 * for each of the 3 classes of "punkte" (52,005 leaves, a tree of 6 levels
 * with the one above the classes' roots).  Far below the hidden 51,000. */
#define BOUND (3 * 5 * 2 * 16)

static char *dir;
static t_store db;
static lb_style *pstyle, *fstyle;
static lb_snapshot *psnap, *fsnap;
static const lb_tms *grid;
static long tx, ty;
static double lon0, lat0, lon1, lat1; /* tile T */

static double tile_lon(long x, int z) { return (double)x / (double)(1L << z) * 360.0 - 180.0; }

static double tile_lat(long y, int z)
{
    double n = M_PI * (1.0 - 2.0 * (double)y / (double)(1L << z));
    return atan(sinh(n)) * 180.0 / M_PI;
}

static void put_point(lb_buf *b, long *id, const char *stufe, double lon, double lat)
{
    lb_buf_printf(b,
                  "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"p%ld\",\"stufe\":\"%s\"},"
                  "\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.9f,%.9f]}}\n",
                  *id ? "," : "", *id, stufe, lon, lat);
    (*id)++;
}

static void put_square(lb_buf *b, const char *id, const char *stufe, double x0, double y0,
                       double x1, double y1)
{
    lb_buf_printf(b,
                  "{\"type\":\"Feature\",\"properties\":{\"id\":\"%s\",\"stufe\":\"%s\"},"
                  "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[%.9f,%.9f],[%.9f,%.9f],"
                  "[%.9f,%.9f],[%.9f,%.9f],[%.9f,%.9f]]]}}",
                  id, stufe, x0, y0, x1, y0, x1, y1, x0, y1, x0, y0);
}

static void setup(void)
{
    dir = t_tmpdir();
    grid = lb_tms_find("WebMercatorQuad");
    ASSERT(grid != NULL);
    double n = (double)(1L << Z), la = 52.0 * M_PI / 180.0;
    tx = (long)floor((9.0 + 180.0) / 360.0 * n);
    ty = (long)floor((1.0 - log(tan(la) + 1.0 / cos(la)) / M_PI) / 2.0 * n);
    lon0 = tile_lon(tx, Z);
    lon1 = tile_lon(tx + 1, Z);
    lat1 = tile_lat(ty, Z);
    lat0 = tile_lat(ty + 1, Z);
    /* the hidden points fill the middle half of T, the visible ones lie on
     * its diagonal, the far ones a degree away */
    double w = lon1 - lon0, h = lat1 - lat0;
    lb_buf b = {0};
    long id = 0;
    lb_buf_puts(&b, "{\"type\":\"FeatureCollection\",\"features\":[\n");
    for (int i = 0; i < N_GEHEIM_X; i++)
        for (int j = 0; j < N_GEHEIM_Y; j++)
            put_point(&b, &id, "VS-VERTRAULICH", lon0 + w * (0.25 + 0.5 * (i + 0.5) / N_GEHEIM_X),
                      lat0 + h * (0.25 + 0.5 * (j + 0.5) / N_GEHEIM_Y));
    for (int i = 0; i < N_NFD; i++)
        put_point(&b, &id, "VS-NfD", lon0 + w * (0.3 + 0.4 * (i % 40) / 40.0),
                  lat0 + h * (0.3 + 0.4 * (i / 40) / 25.0));
    for (int i = 0; i < N_OPEN; i++)
        put_point(&b, &id, "OFFEN", lon0 + w * (0.2 + 0.15 * i), lat0 + h * (0.2 + 0.15 * i));
    for (int i = 0; i < N_FAR; i++)
        put_point(&b, &id, "OFFEN", 10.0 + 0.01 * (i % 30), 53.0 + 0.01 * (i / 30));
    lb_buf_puts(&b, "]}\n");
    ASSERT(!b.oom);
    t_write(dir, "punkte.geojson", b.data);
    lb_buf_reset(&b);
    lb_buf_puts(&b, "{\"type\":\"FeatureCollection\",\"features\":[\n");
    put_square(&b, "f1", "VS-VERTRAULICH", lon0 - w, lat0 - h, lon1 + w, lat1 + h);
    lb_buf_putc(&b, ',');
    put_square(&b, "f2", "OFFEN", lon0 + 0.4 * w, lat0 + 0.4 * h, lon0 + 0.6 * w, lat0 + 0.6 * h);
    lb_buf_puts(&b, "]}\n");
    t_write(dir, "flaechen.geojson", b.data);
    lb_buf_free(&b);
    t_write(dir, "walk.yaml", config_text);
    t_write(dir, "punkte.json", punkte_style);
    t_write(dir, "flaechen.json", flaechen_style);
    t_store_ingest(dir, "walk.yaml", &db);
    t_layer_open(&db, "punkte", grid, &pstyle, &psnap);
    t_layer_open(&db, "flaechen", grid, &fstyle, &fsnap);
    ASSERT_EQ(lb_snapshot_feature_count(psnap), (size_t)(N_HIDDEN + N_OPEN + N_FAR));
    ASSERT(psnap->ranked);
    ASSERT_EQ(psnap->nclasses, 3u);
    ASSERT_EQ(psnap->levels[psnap->nlevels - 1].tree.nlevels, 6u);
}

static void teardown(void)
{
    lb_snapshot_unref(psnap);
    lb_snapshot_unref(fsnap);
    lb_style_free(pstyle);
    lb_style_free(fstyle);
    t_store_close(&db);
    t_rmrf(dir);
    free(dir);
    lb_tiler__set_class_walks(true);
}

/* The principal: cleared for OFFEN only. */
static bool open_only(void *ud, const lb_feature_info *f)
{
    (void)ud;
    return f->label.level == LB_LEVEL_OFFEN && !f->member;
}

static bool any_box(void *ud, const lb_feature_info *f, const double box[4],
                    const lb_feature_geom *g)
{
    (void)ud;
    (void)box;
    (void)g;
    return open_only(NULL, f);
}

static lb_walk_stats stats_reset(void)
{
    lb_walk_stats z = {0};
    lb_tiler__walk_stats = z;
    return z;
}

/* Render tile (z, x, y) of the layers (1: punkte, 2: punkte under
 * flaechen) for pred into c; the features the walks read. */
static uint64_t render(lb_snapshot *p, int nl, int z, long x, long y, lb_feature_pred pred,
                       lb_canvas *c)
{
    lb_render_layer rl[2] = {{.snap = p, .style = pstyle, .pred = pred},
                             {.snap = fsnap, .style = fstyle, .pred = pred}};
    lb_canvas_clear(c);
    stats_reset();
    lb_error err;
    ASSERT_EQ(lb_render_tile(rl, (size_t)nl, grid, z, x, y, 1, c, &err), LB_OK);
    return lb_tiler__walk_stats.leaves;
}

/* The render of T's area at zoom z (T itself, or the tile holding it),
 * with class walks on and off: same pixels; on, the walks read at most
 * bound features, off (the old walks) at least hidden, the hidden features
 * of that level of detail. */
static void check_render(lb_snapshot *p, int nl, int z, uint64_t bound, uint64_t hidden)
{
    long x = tx >> (Z - z), y = ty >> (Z - z);
    lb_canvas on, off;
    ASSERT_EQ(lb_canvas_init(&on, 256, 256), LB_OK);
    ASSERT_EQ(lb_canvas_init(&off, 256, 256), LB_OK);
    uint64_t n_on = render(p, nl, z, x, y, open_only, &on);
    lb_tiler__set_class_walks(false);
    uint64_t n_off = render(p, nl, z, x, y, open_only, &off);
    lb_tiler__set_class_walks(true);
    fprintf(stderr, "  render z%d, %d layer(s): %llu features read (%llu without class walks)\n",
            z, nl, (unsigned long long)n_on, (unsigned long long)n_off);
    ASSERT(!lb_canvas_is_empty(&on));
    ASSERT(memcmp(on.px, off.px, 256 * 256 * 4) == 0);
    ASSERT(n_on <= bound);
    ASSERT(n_off >= hidden);
    /* full rights do read them (they are in the box; with flaechen's big
     * square above, the points are not drawn at all: occlusion) */
    if (nl == 1)
        ASSERT(render(p, nl, z, x, y, NULL, &off) >= hidden);
    lb_canvas_free(&on);
    lb_canvas_free(&off);
}

LB_TEST(test_render_reads_only_visible_classes)
{
    setup();
    check_render(psnap, 1, Z, N_OPEN + BOUND, N_HIDDEN);
    check_render(psnap, 1, Z - 1, N_OPEN + BOUND, N_HIDDEN); /* level of detail 13 */
    /* level of detail 11: points in one quarter-pixel cell merge (5,000 left) */
    check_render(psnap, 1, Z - 3, N_OPEN + BOUND, N_HIDDEN / 16);
    /* the layer above (occluders: lb_tiler__query_big) adds its two
     * features and one tree level at most */
    check_render(psnap, 2, Z, N_OPEN + BOUND + 2 * 16, N_HIDDEN);
    teardown();
}

LB_TEST(test_overlay_render_reads_only_visible_classes)
{
    setup();
    /* an overlay: the snapshot less a hidden feature, plus an empty delta
     * (the walks of the base skip hidden classes as those of a snapshot) */
    lb_snapshot *delta = NULL, *over = NULL;
    lb_error err;
    size_t nprops = 0;
    const char *const *props = lb_style_properties(pstyle, &nprops);
    ASSERT_EQ(lb_snapshot_build_fids(db.store, db.cfg, "punkte", grid, props, nprops, NULL, 0,
                                     &delta, &err),
              LB_OK);
    int64_t removed = psnap->infos[0].fid;
    ASSERT_EQ(lb_snapshot_overlay(psnap, delta, &removed, 1, &over, &err), LB_OK);
    check_render(over, 1, Z, N_OPEN + BOUND, N_HIDDEN - 1);
    check_render(over, 1, Z - 1, N_OPEN + BOUND, N_HIDDEN - 1);
    /* max level and classes of the overlay */
    double x0, y0, x1, y1;
    ASSERT(lb_tms_tile_bounds(grid, Z, tx, ty, &x0, &y0, &x1, &y1));
    stats_reset();
    ASSERT_EQ(lb_snapshot_max_level(over, x0, y0, x1, y1, open_only, any_box, NULL),
              (int)LB_LEVEL_OFFEN);
    ASSERT(lb_tiler__walk_stats.leaves <= BOUND);
    lb_snapshot_unref(over);
    lb_snapshot_unref(delta);
    teardown();
}

LB_TEST(test_max_level_reads_only_allowed_classes)
{
    setup();
    double x0, y0, x1, y1;
    ASSERT(lb_tms_tile_bounds(grid, Z, tx, ty, &x0, &y0, &x1, &y1));
    stats_reset();
    int on = lb_snapshot_max_level(psnap, x0, y0, x1, y1, open_only, any_box, NULL);
    uint64_t n_on = lb_tiler__walk_stats.leaves;
    lb_tiler__set_class_walks(false);
    stats_reset();
    int off = lb_snapshot_max_level(psnap, x0, y0, x1, y1, open_only, any_box, NULL);
    uint64_t n_off = lb_tiler__walk_stats.leaves;
    lb_tiler__set_class_walks(true);
    fprintf(stderr, "  max level: %llu features read (%llu without class walks)\n",
            (unsigned long long)n_on, (unsigned long long)n_off);
    ASSERT_EQ(on, (int)LB_LEVEL_OFFEN);
    ASSERT_EQ(off, on);
    ASSERT(n_on <= BOUND);
    ASSERT(n_off >= (uint64_t)N_HIDDEN);
    /* full rights: the highest level there, found without reading it all */
    stats_reset();
    ASSERT_EQ(lb_snapshot_max_level(psnap, x0, y0, x1, y1, NULL, NULL, NULL),
              (int)LB_LEVEL_VS_VERTRAULICH);
    ASSERT(lb_tiler__walk_stats.leaves <= BOUND);
    teardown();
}

typedef struct seen {
    unsigned levels; /* bit per lb_level */
    int calls;
} seen;

static void note_class(void *ud, const lb_feature_info *f)
{
    seen *s = ud;
    s->levels |= 1u << f->label.level;
    s->calls++;
}

LB_TEST(test_classes_read_a_few_features_per_class)
{
    setup();
    double x0, y0, x1, y1;
    ASSERT(lb_tms_tile_bounds(grid, Z, tx, ty, &x0, &y0, &x1, &y1));
    seen on = {0}, off = {0};
    stats_reset();
    lb_snapshot_classes(psnap, x0, y0, x1, y1, note_class, &on);
    uint64_t n_on = lb_tiler__walk_stats.leaves;
    lb_tiler__set_class_walks(false);
    stats_reset();
    lb_snapshot_classes(psnap, x0, y0, x1, y1, note_class, &off);
    uint64_t n_off = lb_tiler__walk_stats.leaves;
    lb_tiler__set_class_walks(true);
    fprintf(stderr, "  classes: %llu features read (%llu without class walks)\n",
            (unsigned long long)n_on, (unsigned long long)n_off);
    unsigned all = 1u << LB_LEVEL_OFFEN | 1u << LB_LEVEL_VS_NFD | 1u << LB_LEVEL_VS_VERTRAULICH;
    ASSERT_EQ(on.levels, all);
    ASSERT_EQ(off.levels, all);
    ASSERT_EQ(on.calls, 3); /* once per class */
    ASSERT(n_on <= BOUND);
    ASSERT(n_off >= (uint64_t)N_HIDDEN);
    /* a box with OFFEN features only (the far ones) lists OFFEN alone */
    seen far = {0};
    double fx[2] = {9.95, 10.4}, fy[2] = {52.95, 53.4};
    lb_transform *t = NULL;
    ASSERT_EQ(lb_transform_new("EPSG:4326", "EPSG:3857", &t, NULL), LB_OK);
    ASSERT_EQ(lb_transform_points(t, 2, fx, fy, NULL), LB_OK);
    lb_transform_free(t);
    lb_snapshot_classes(psnap, fx[0], fy[0], fx[1], fy[1], note_class, &far);
    ASSERT_EQ(far.levels, 1u << LB_LEVEL_OFFEN);
    teardown();
}

LB_TESTS(test_render_reads_only_visible_classes, test_overlay_render_reads_only_visible_classes,
         test_max_level_reads_only_allowed_classes, test_classes_read_a_few_features_per_class)
