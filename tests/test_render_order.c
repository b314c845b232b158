/*
 * The renderer's drawing order within a layer: class by class (label
 * order), and within a class style layer after style layer.  The server
 * shares canvases of a principal's first classes with principals whose
 * classes begin alike (server/maps.c), and `lagebild render` of a filtered
 * store must give the server's pixels, so this order is a contract:
 *
 *   - a feature of a higher class is drawn over one of a lower class even
 *     when its style layer comes first (two overlapping markers);
 *   - drawing the first classes and then the rest onto the same canvas
 *     gives exactly the pixels of drawing everything at once;
 *   - the grouping by precomputed class ranks (a full snapshot) and the
 *     grouping by comparing labels (an overlay of the same snapshot) give
 *     the same pixels;
 *   - a report merged into a fused feature is drawn in its place among the
 *     features of its label, as if it were not merged (conflation).
 *
 * The data: one point layer, styled by two circle style layers ("a" red,
 * then "b" blue, selected by the feature's kind), features at 9.0 E 52.0 N
 * (in this order in the file, so that the classes first appear out of order):
 *   p3 kind a, VS-VERTRAULICH, about 9 px east, overlapping p1 and p2 (a third class)
 *   p1 kind b, OFFEN         (blue)
 *   p2 kind a, VS-NfD        (red, drawn after p1 although layer "a" is first)
 *   p4 kind b, OFFEN, about 9 px west
 */
#include <math.h>

#include "lbtest.h"
#include "tutil.h"
#include "tsnap.h"
#include "../tiler/tiler_int.h"

#include "lagebild/util.h"

static const char config_text[] =
    "store: {path: order.sqlite}\n"
    "groups: [police]\n"
    "layers:\n"
    "  lage: {title: Lage, style: order.json}\n"
    "sources:\n"
    "  meldungen:\n"
    "    path: points.geojson\n"
    "    layer: lage\n"
    "    agency: police\n"
    "    fid: id\n"
    "    mapping: {kind: art}\n"
    "    label: {level: OFFEN, level_from: stufe}\n"
    "maps:\n"
    "  lage: {title: Lage, layers: [lage]}\n";

static const char style_text[] =
    "{\"version\": 8, \"name\": \"order\", \"layers\": [\n"
    " {\"id\": \"a\", \"type\": \"circle\", \"filter\": [\"==\", [\"get\", \"kind\"], \"a\"],\n"
    "  \"paint\": {\"circle-color\": \"#ff0000\", \"circle-radius\": 12}},\n"
    " {\"id\": \"b\", \"type\": \"circle\", \"filter\": [\"==\", [\"get\", \"kind\"], \"b\"],\n"
    "  \"paint\": {\"circle-color\": \"#0000ff\", \"circle-radius\": 12, \"circle-opacity\": 0.8}}]}\n";

static const char points_text[] =
    "{\"type\": \"FeatureCollection\", \"features\": [\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"p3\", \"art\": \"a\", \"stufe\": \"VS-VERTRAULICH\"},\n"
    "  \"geometry\": {\"type\": \"Point\", \"coordinates\": [9.0002, 52.0]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"p1\", \"art\": \"b\", \"stufe\": \"OFFEN\"},\n"
    "  \"geometry\": {\"type\": \"Point\", \"coordinates\": [9.0, 52.0]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"p2\", \"art\": \"a\", \"stufe\": \"VS-NfD\"},\n"
    "  \"geometry\": {\"type\": \"Point\", \"coordinates\": [9.0, 52.0]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"p4\", \"art\": \"b\", \"stufe\": \"OFFEN\"},\n"
    "  \"geometry\": {\"type\": \"Point\", \"coordinates\": [8.9998, 52.0]}}]}\n";

#define Z 16

static char *dir;
static t_store db;
static lb_style *style;
static lb_snapshot *snap;
static const lb_tms *grid;
static long tx, ty;
static int cx, cy; /* pixel of 9.0 E 52.0 N in tile (tx, ty) */

static void setup(void)
{
    dir = t_tmpdir();
    t_write(dir, "order.yaml", config_text);
    t_write(dir, "order.json", style_text);
    t_write(dir, "points.geojson", points_text);
    t_store_ingest(dir, "order.yaml", &db);
    grid = lb_tms_find("WebMercatorQuad");
    ASSERT(grid != NULL);
    t_layer_open(&db, "lage", grid, &style, &snap);
    ASSERT_EQ(lb_snapshot_feature_count(snap), 4u);
    double n = (double)(1L << Z);
    double fx = (9.0 + 180.0) / 360.0 * n;
    double la = 52.0 * M_PI / 180.0;
    double fy = (1.0 - log(tan(la) + 1.0 / cos(la)) / M_PI) / 2.0 * n;
    tx = (long)floor(fx);
    ty = (long)floor(fy);
    cx = (int)floor((fx - (double)tx) * 256);
    cy = (int)floor((fy - (double)ty) * 256);
    /* the markers (radius 12, p3 and p4 9 px off) stay inside the tile */
    ASSERT(cx > 30 && cx < 226 && cy > 30 && cy < 226);
}

static void teardown(void)
{
    lb_snapshot_unref(snap);
    lb_style_free(style);
    t_store_close(&db);
    t_rmrf(dir);
    free(dir);
}

/* Features of these levels only (a bit per lb_level); with after_level >= 0
 * only those above it. */
typedef struct level_pred {
    unsigned levels;
    int after_level;
} level_pred;

static bool by_level(void *ud, const lb_feature_info *f)
{
    const level_pred *p = ud;
    return (p->levels >> f->label.level & 1u) && (int)f->label.level > p->after_level;
}

static void render(lb_snapshot *s, lb_feature_pred pred, void *ud, lb_canvas *c)
{
    lb_render_layer rl = {.snap = s, .style = style, .pred = pred, .pred_ud = ud};
    lb_error err;
    ASSERT_EQ(lb_render_tile(&rl, 1, grid, Z, tx, ty, 1, c, &err), LB_OK);
}

static const uint8_t *px_at(const lb_canvas *c, int x, int y)
{
    return c->px + ((size_t)y * (size_t)c->width + (size_t)x) * 4;
}

LB_TEST(test_a_higher_class_is_drawn_over_a_lower_one)
{
    setup();
    lb_canvas c;
    ASSERT_EQ(lb_canvas_init(&c, 256, 256), LB_OK);
    render(snap, NULL, NULL, &c);
    /* p2 (VS-NfD, style layer "a", red) over p1 (OFFEN, "b", blue): by style
     * layer alone blue would be on top */
    const uint8_t *p = px_at(&c, cx, cy);
    ASSERT_EQ(p[3], 255);
    ASSERT_EQ(p[0], 255);
    ASSERT_EQ(p[2], 0);
    /* without the VS-NfD class the blue marker shows there */
    lb_canvas_clear(&c);
    level_pred open_only = {.levels = 1u << LB_LEVEL_OFFEN, .after_level = -1};
    render(snap, by_level, &open_only, &c);
    p = px_at(&c, cx, cy);
    ASSERT(p[2] > 150 && p[0] == 0);
    lb_canvas_free(&c);
    teardown();
}

LB_TEST(test_first_classes_then_the_rest_equal_a_whole_render)
{
    setup();
    lb_canvas whole, part;
    ASSERT_EQ(lb_canvas_init(&whole, 256, 256), LB_OK);
    ASSERT_EQ(lb_canvas_init(&part, 256, 256), LB_OK);
    unsigned all = 1u << LB_LEVEL_OFFEN | 1u << LB_LEVEL_VS_NFD | 1u << LB_LEVEL_VS_VERTRAULICH;
    level_pred every = {.levels = all, .after_level = -1};
    render(snap, by_level, &every, &whole);
    for (int split = LB_LEVEL_OFFEN; split <= LB_LEVEL_VS_NFD; split++) {
        lb_canvas_clear(&part);
        level_pred first = {.levels = all & ((2u << split) - 1), .after_level = -1};
        level_pred rest = {.levels = all, .after_level = split};
        render(snap, by_level, &first, &part);
        ASSERT(memcmp(part.px, whole.px, 256 * 256 * 4) != 0); /* something is missing */
        render(snap, by_level, &rest, &part);
        ASSERT(memcmp(part.px, whole.px, 256 * 256 * 4) == 0);
    }
    lb_canvas_free(&whole);
    lb_canvas_free(&part);
    teardown();
}

LB_TEST(test_ranked_and_compared_grouping_give_the_same_pixels)
{
    setup();
    /* an overlay of the snapshot (no feature removed, an empty delta) is
     * drawn by comparing labels; the snapshot itself by its class ranks */
    lb_snapshot *delta = NULL, *over = NULL;
    lb_error err;
    size_t nprops = 0;
    const char *const *props = lb_style_properties(style, &nprops);
    ASSERT_EQ(lb_snapshot_build_fids(db.store, db.cfg, "lage", grid, props, nprops, NULL, 0, &delta,
                                     &err),
              LB_OK);
    ASSERT_EQ(lb_snapshot_overlay(snap, delta, NULL, 0, &over, &err), LB_OK);
    lb_canvas a, b;
    ASSERT_EQ(lb_canvas_init(&a, 256, 256), LB_OK);
    ASSERT_EQ(lb_canvas_init(&b, 256, 256), LB_OK);
    render(snap, NULL, NULL, &a);
    render(over, NULL, NULL, &b);
    ASSERT(!lb_canvas_is_empty(&a));
    ASSERT(memcmp(a.px, b.px, 256 * 256 * 4) == 0);
    lb_canvas_free(&a);
    lb_canvas_free(&b);
    lb_snapshot_unref(over);
    lb_snapshot_unref(delta);
    teardown();
}

/*
 * Conflation: a report r (red, OFFEN) among four OFFEN reports of another
 * kind (blue) whose markers overlap it, and its twin t (red, 1 m away); a
 * VS-VERTRAULICH report h of another source joins the cluster of r or t, so
 * that one becomes a member of a fused feature (VS-VERTRAULICH).  Drawing
 * what is OFFEN (the member too) must give exactly the pixels of a store
 * without h: a member is drawn in its place within its label's group, not
 * after the others, and at low zoom, where r and t are drawn as one point,
 * they stay one point.  Also when the snapshot has too many classes to rank
 * them (1,100 far-away reports of a third source, each with other caveats):
 * its levels are then in drawing order, not class by class.
 */
static const char merge_config[] =
    "store: {path: merge.sqlite}\n"
    "caveats: [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10]\n"
    "layers:\n"
    "  lage: {title: Lage, style: order.json, conflate: {distance_m: 50}}\n"
    "sources:\n"
    "  meldungen:\n"
    "    {path: points.geojson, layer: lage, agency: police, fid: id, mapping: {kind: art},"
    " label: {level: OFFEN}}\n"
    "  zweite:\n"
    "    {path: second.geojson, layer: lage, agency: fire, fid: id, mapping: {kind: art},"
    " label: {level: VS-VERTRAULICH}}\n"
    "  viele:\n"
    "    {path: third.geojson, layer: lage, agency: thw, fid: id, mapping: {kind: art},"
    " label: {level: VS-NfD, caveats_from: cav}}\n"
    "maps:\n"
    "  lage: {title: Lage, layers: [lage]}\n";

/* one style layer for both kinds, so that the order of the features decides */
static const char merge_style[] =
    "{\"version\": 8, \"name\": \"merge\", \"layers\": [\n"
    " {\"id\": \"p\", \"type\": \"circle\", \"paint\": {\"circle-radius\": 12,\n"
    "  \"circle-color\": [\"match\", [\"get\", \"kind\"], \"a\", \"#ff0000\", \"#0000ff\"]}}]}\n";

/* The store of merge_config in a new folder (returned) with second as the
 * second source's reports, and many: 1,100 reports of the third source far
 * away, each with other caveats (else one). */
static char *merge_store(const char *second, bool many, t_store *ts, lb_snapshot **s,
                         lb_style **st)
{
    static const double off[6][2] = {{0, 0},     {3e-4, 0},  {-3e-4, 0},
                                      {0, 2e-4}, {0, -2e-4}, {1e-5, 1e-5}};
    lb_buf pts = {0};
    lb_buf_puts(&pts, "{\"type\": \"FeatureCollection\", \"features\": [");
    for (int i = 0; i < 6; i++)
        lb_buf_printf(&pts,
                      "%s{\"type\": \"Feature\", \"properties\": {\"id\": \"n%d\", \"art\": \"%s\"},"
                      " \"geometry\": {\"type\": \"Point\", \"coordinates\": [%.6f, %.6f]}}",
                      i ? ", " : "", i, i && i < 5 ? "b" : "a", 9.0 + off[i][0],
                      52.0 + off[i][1]);
    lb_buf_puts(&pts, "]}\n");
    lb_buf third = {0};
    lb_buf_puts(&third, "{\"type\": \"FeatureCollection\", \"features\": [");
    for (int i = 0; i < (many ? 1100 : 1); i++) {
        char cav[64] = "";
        size_t len = 0;
        for (int k = 0; k < 11; k++)
            if ((i + 1) >> k & 1)
                len += (size_t)snprintf(cav + len, sizeof cav - len, "%sc%d", len ? "," : "", k);
        lb_buf_printf(&third,
                      "%s{\"type\": \"Feature\", \"properties\": {\"id\": \"v%d\", \"art\": \"b\","
                      " \"cav\": \"%s\"}, \"geometry\": {\"type\": \"Point\", \"coordinates\":"
                      " [%.4f, %.4f]}}",
                      i ? ", " : "", i, cav, 12.0 + 0.01 * (i % 40), 50.0 + 0.01 * (i / 40));
    }
    lb_buf_puts(&third, "]}\n");
    char *d = t_tmpdir();
    t_write(d, "merge.yaml", merge_config);
    t_write(d, "order.json", merge_style);
    t_write(d, "points.geojson", pts.data);
    t_write(d, "second.geojson", second);
    t_write(d, "third.geojson", third.data);
    lb_buf_free(&pts);
    lb_buf_free(&third);
    t_store_ingest(d, "merge.yaml", ts);
    t_layer_open(ts, "lage", grid, st, s);
    return d;
}

static bool open_only(void *ud, const lb_feature_info *f)
{
    (void)ud;
    return f->label.level == LB_LEVEL_OFFEN;
}

/* Render tile (z, x, y) of s with open_only into c (cleared first). */
static void render_open(lb_snapshot *s, lb_style *st, int z, long x, long y, lb_canvas *c)
{
    lb_canvas_clear(c);
    lb_render_layer rl = {.snap = s, .style = st, .pred = open_only};
    lb_error err;
    ASSERT_EQ(lb_render_tile(&rl, 1, grid, z, x, y, 1, c, &err), LB_OK);
}

LB_TEST(test_a_merged_report_is_drawn_in_its_place)
{
    setup();
    static const char with_h[] =
        "{\"type\": \"FeatureCollection\", \"features\": [{\"type\": \"Feature\", \"properties\":"
        " {\"id\": \"h\", \"art\": \"a\"}, \"geometry\": {\"type\": \"Point\", \"coordinates\":"
        " [9.00001, 52.00001]}}]}\n";
    /* h far away: nothing merges */
    static const char without_h[] =
        "{\"type\": \"FeatureCollection\", \"features\": [{\"type\": \"Feature\", \"properties\":"
        " {\"id\": \"h\", \"art\": \"a\"}, \"geometry\": {\"type\": \"Point\", \"coordinates\":"
        " [9.2, 52.1]}}]}\n";
    for (int many = 0; many < 2; many++) {
        t_store sa, sb;
        lb_snapshot *a, *b;
        lb_style *stya, *styb;
        char *da = merge_store(with_h, many, &sa, &a, &stya);
        char *db_ = merge_store(without_h, many, &sb, &b, &styb);
        /* one report is a member in a, none in b; ranked only with few classes */
        ASSERT_EQ(t_sql_int(sa.cfg->store_path, "SELECT count(*) FROM lb_fused"), 1);
        ASSERT_EQ(t_sql_int(sb.cfg->store_path, "SELECT count(*) FROM lb_fused"), 0);
        ASSERT_EQ(a->ranked, !many);
        ASSERT_EQ(b->ranked, !many);
        lb_canvas ca, cb;
        ASSERT_EQ(lb_canvas_init(&ca, 256, 256), LB_OK);
        ASSERT_EQ(lb_canvas_init(&cb, 256, 256), LB_OK);
        render_open(a, stya, Z, tx, ty, &ca);
        render_open(b, styb, Z, tx, ty, &cb);
        ASSERT(!lb_canvas_is_empty(&ca));
        ASSERT(memcmp(ca.px, cb.px, 256 * 256 * 4) == 0);
        /* and r is under a neighbour somewhere: drawn last it would not be */
        const uint8_t *p = px_at(&cb, cx, cy);
        ASSERT_EQ(p[3], 255);
        ASSERT_EQ(p[0], 255); /* r (red) at its centre */
        bool covered = false;
        for (int y = cy - 14; y <= cy + 14; y++)
            for (int x = cx - 14; x <= cx + 14; x++) {
                double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
                const uint8_t *q = px_at(&cb, x, y);
                covered |= dx * dx + dy * dy < 8 * 8 && q[2] > 100 && q[0] < 100;
            }
        ASSERT(covered);
        /* low zoom: r and t one point in both */
        for (int z = 4; z <= 12; z += 2) {
            long x = tx >> (Z - z), y = ty >> (Z - z);
            render_open(a, stya, z, x, y, &ca);
            render_open(b, styb, z, x, y, &cb);
            ASSERT(!lb_canvas_is_empty(&cb));
            if (memcmp(ca.px, cb.px, 256 * 256 * 4) != 0)
                fprintf(stderr, "  %s classes, z%d: other pixels\n", many ? "many" : "few", z);
            ASSERT(memcmp(ca.px, cb.px, 256 * 256 * 4) == 0);
        }
        lb_canvas_free(&ca);
        lb_canvas_free(&cb);
        lb_snapshot_unref(a);
        lb_snapshot_unref(b);
        lb_style_free(stya);
        lb_style_free(styb);
        t_store_close(&sa);
        t_store_close(&sb);
        t_rmrf(da);
        t_rmrf(db_);
        free(da);
        free(db_);
    }
    teardown();
}

LB_TESTS(test_a_higher_class_is_drawn_over_a_lower_one,
         test_first_classes_then_the_rest_equal_a_whole_render,
         test_ranked_and_compared_grouping_give_the_same_pixels,
         test_a_merged_report_is_drawn_in_its_place)
