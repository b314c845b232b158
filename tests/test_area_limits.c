/*
 * Area limits through the running server, pixel by pixel: a role sees a
 * feature's pixels only where the pixel lies entirely inside its area, and
 * holes are holes whichever way the source's rings run.
 *
 * The data, in one tile T (zoom 14, around 9.0 E 52.0 N) and given in T's
 * pixel coordinates (converted to lon/lat here, so the server's projection
 * puts every vertex back where it is written):
 *   layer "lage": a red square far larger than T (its fill covers every
 *   pixel), a blue point in the hole of the areas below, one in their
 *   ring band and one just outside them;
 *   areas "same_cw", "same_ccw", "rfc", "inverted": the rectangle
 *   10.001..100.999 x 20.001..120.999 with the hole 50.999..70.001 x
 *   50.999..70.001, the exterior and the hole running clockwise / both
 *   counter-clockwise / exterior counter-clockwise and hole clockwise (RFC
 *   7946) / the reverse of that.  Every edge is 0.001 px off a pixel
 *   border, so the pixels along it are 99.9 % (or 0.1 %) inside;
 *   area "tri": a triangle with slanted edges and vertices off the pixel
 *   grid by 0.0001 to 0.0007 px;
 *   area "twice": the rectangle 10.5..100.5 x 20.5..120.5 twice (two
 *   features), area "halves": the same rectangle as two features meeting
 *   at x = 55.5.
 * One role per area, each with its own token; all see every feature.
 */
#include <math.h>
#include <png.h>

#include "lbtest.h"
#include "thttp.h"
#include "tutil.h"

#define Z 14
#define TILE 256

static char *dir, *cfg;
static long tile_x, tile_y;
static t_server srv;
static int fixture_state; /* 0: not set up, 1: ready, -1: setup failed */

typedef struct xy {
    double x, y;
} xy;

/* The area rings in T's pixels (y down), as listed: clockwise on the map. */
static const xy ext_ring[] = {{10.001, 20.001}, {100.999, 20.001}, {100.999, 120.999},
                              {10.001, 120.999}};
static const xy hole_ring[] = {{50.999, 50.999}, {70.001, 50.999}, {70.001, 70.001},
                               {50.999, 70.001}};

typedef struct variant {
    const char *name;
    bool ext_reversed, hole_reversed; /* reversed: counter-clockwise on the map */
} variant;

static const variant variants[] = {
    {"same_cw", false, false},
    {"same_ccw", true, true},
    {"rfc", true, false},
    {"inverted", false, true},
};
#define NVARIANTS (sizeof variants / sizeof variants[0])

/* A convex area with slanted edges (role "tri"). */
static const xy tri_ring[] = {{130.0003, 140.0007}, {250.9995, 150.0002}, {160.0001, 250.9998}};

/* Roles whose areas are several features (write_rects). */
static const double twice[][4] = {{10.5, 20.5, 100.5, 120.5}, {10.5, 20.5, 100.5, 120.5}};
static const double halves[][4] = {{10.5, 20.5, 55.5, 120.5}, {55.5, 20.5, 100.5, 120.5}};

/* Every role (and area file): the variants', then these. */
static const char *const other_roles[] = {"tri", "twice", "halves"};
#define NOTHER (sizeof other_roles / sizeof other_roles[0])

/* The points: in the hole, in the ring band (blue circles of radius 5), and
 * beside the areas, 2.5 px right of the rectangles' right edge: outside
 * them, though its circle reaches pixels 98 and 99 inside. */
static const xy in_hole = {60.5, 60.5}, in_band = {30.5, 80.5}, beside = {103.5, 40.5};

static const char style_text[] =
    "{\"version\": 8, \"name\": \"areas\", \"layers\": [\n"
    " {\"id\": \"a\", \"type\": \"fill\", \"paint\": {\"fill-color\": \"#ff0000\"}},\n"
    " {\"id\": \"p\", \"type\": \"circle\", \"paint\": {\"circle-color\": \"#0000ff\", "
    "\"circle-radius\": 5}}]}\n";

/* Lon/lat of a position in T's pixels. */
static void px_lonlat(double px, double py, double *lon, double *lat)
{
    double n = ldexp(1.0, Z);
    double fx = (double)tile_x + px / TILE, fy = (double)tile_y + py / TILE;
    *lon = fx / n * 360.0 - 180.0;
    *lat = atan(sinh(M_PI * (1.0 - 2.0 * fy / n))) * 180.0 / M_PI;
}

/* A closed GeoJSON ring of pixel positions, in the given or reverse order. */
static void put_ring(char *b, size_t cap, const xy *p, size_t n, bool reversed)
{
    size_t len = strlen(b);
    len += (size_t)snprintf(b + len, cap - len, "[");
    for (size_t i = 0; i <= n; i++) {
        size_t k = i % n;
        if (reversed)
            k = (n - k) % n;
        double lon, lat;
        px_lonlat(p[k].x, p[k].y, &lon, &lat);
        len += (size_t)snprintf(b + len, cap - len, "%s[%.17g, %.17g]", i ? ", " : "", lon, lat);
    }
    snprintf(b + len, cap - len, "]");
    ASSERT(strlen(b) + 1 < cap);
}

static void put_point(char *b, size_t cap, const char *id, xy p)
{
    double lon, lat;
    px_lonlat(p.x, p.y, &lon, &lat);
    size_t len = strlen(b);
    snprintf(b + len, cap - len,
             ",\n {\"type\": \"Feature\", \"properties\": {\"id\": \"%s\"}, \"geometry\": "
             "{\"type\": \"Point\", \"coordinates\": [%.17g, %.17g]}}",
             id, lon, lat);
    ASSERT(strlen(b) + 1 < cap);
}

static void write_area(const char *name, const xy *ext, size_t next, bool ext_rev, const xy *hole,
                       size_t nhole, bool hole_rev)
{
    char b[4096] = "{\"type\": \"FeatureCollection\", \"features\": [{\"type\": \"Feature\", "
                   "\"properties\": {}, \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [";
    put_ring(b, sizeof b, ext, next, ext_rev);
    if (hole) {
        strcat(b, ", ");
        put_ring(b, sizeof b, hole, nhole, hole_rev);
    }
    strcat(b, "]}}]}\n");
    char file[64];
    snprintf(file, sizeof file, "%s.geojson", name);
    t_write(dir, file, b);
}

/* An area of several features, each one rectangle (x0, y0, x1, y1). */
static void write_rects(const char *name, const double (*rect)[4], size_t n)
{
    char b[8192] = "{\"type\": \"FeatureCollection\", \"features\": [";
    for (size_t i = 0; i < n; i++) {
        const double *r = rect[i];
        const xy ring[] = {{r[0], r[1]}, {r[2], r[1]}, {r[2], r[3]}, {r[0], r[3]}};
        strcat(b, i ? ",\n" : "\n");
        strcat(b, " {\"type\": \"Feature\", \"properties\": {}, \"geometry\": "
                  "{\"type\": \"Polygon\", \"coordinates\": [");
        put_ring(b, sizeof b, ring, 4, true);
        strcat(b, "]}}");
    }
    strcat(b, "]}\n");
    char file[64];
    snprintf(file, sizeof file, "%s.geojson", name);
    t_write(dir, file, b);
}

static void cleanup(void)
{
    t_server_free(&srv);
    if (dir)
        t_rmrf(dir);
    free(dir);
    free(cfg);
    dir = cfg = NULL;
}

static void fixture(void)
{
    if (fixture_state == 1)
        return;
    ASSERT(fixture_state == 0);
    fixture_state = -1;
    atexit(cleanup);
    dir = t_tmpdir();
    ASSERT(dir);
    double n = ldexp(1.0, Z), la = 52.0 * M_PI / 180.0;
    tile_x = (long)floor((9.0 + 180.0) / 360.0 * n);
    tile_y = (long)floor((1.0 - asinh(tan(la)) / M_PI) / 2.0 * n);

    /* the data: the big square, the two points */
    static const xy big[] = {{-100, -100}, {356, -100}, {356, 356}, {-100, 356}};
    char data[4096] = "{\"type\": \"FeatureCollection\", \"features\": [\n"
                      " {\"type\": \"Feature\", \"properties\": {\"id\": \"big\"}, \"geometry\": "
                      "{\"type\": \"Polygon\", \"coordinates\": [";
    put_ring(data, sizeof data, big, 4, true);
    strcat(data, "]}}");
    put_point(data, sizeof data, "hole", in_hole);
    put_point(data, sizeof data, "band", in_band);
    put_point(data, sizeof data, "beside", beside);
    strcat(data, "]}\n");
    t_write(dir, "data.geojson", data);
    t_write(dir, "style.json", style_text);

    char text[8192];
    size_t len = (size_t)snprintf(text, sizeof text,
                                  "store: {path: areas.sqlite}\n"
                                  "groups: [g]\n"
                                  "layers:\n"
                                  "  lage: {title: Lage, style: style.json}\n"
                                  "sources:\n"
                                  "  s: {path: data.geojson, layer: lage, agency: g, fid: id, "
                                  "label: {level: OFFEN}}\n"
                                  "maps:\n"
                                  "  lage: {title: Lage, layers: [lage]}\n"
                                  "roles:\n");
    for (size_t v = 0; v < NVARIANTS; v++) {
        const variant *d = &variants[v];
        write_area(d->name, ext_ring, 4, d->ext_reversed, hole_ring, 4, d->hole_reversed);
    }
    write_area("tri", tri_ring, 3, false, NULL, 0, false);
    write_rects("twice", twice, 2);
    write_rects("halves", halves, 2);
    /* a role and a token of each name: the token t-NAME, named NAME */
    t_token tokens[NVARIANTS + NOTHER];
    char secret[NVARIANTS + NOTHER][64];
    for (size_t v = 0; v < NVARIANTS + NOTHER; v++) {
        const char *name = v < NVARIANTS ? variants[v].name : other_roles[v - NVARIANTS];
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "  %s: {title: %s, clearance: {level: VS-NfD, groups: [g]}, "
                                "layers: [\"*\"], area: {path: %s.geojson}}\n",
                                name, name, name);
        snprintf(secret[v], sizeof secret[v], "t-%s", name);
        tokens[v] = (t_token){.token = secret[v], .roles = name, .name = name};
    }
    ASSERT(len + 1 < sizeof text);
    cfg = t_config_write(dir, "areas.yaml", text, tokens, NVARIANTS + NOTHER, NULL);
    t_result r = t_lagebild("ingest", cfg, "--quiet", NULL);
    if (r.status != 0)
        fprintf(stderr, "%s\n%s\n", r.out, r.err);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    ASSERT(t_server_start_in(&srv, cfg, dir, "server.stderr"));
    fixture_state = 1;
}

/* Tile T of role `name` (token t-NAME), decoded to straight RGBA; the
 * response in *resp (freed by the caller). */
static uint8_t *get_tile(const char *name, t_resp *resp)
{
    char path[128], tok[64];
    snprintf(path, sizeof path, "/maps/lage/%d/%ld/%ld.png", Z, tile_x, tile_y);
    snprintf(tok, sizeof tok, "t-%s", name);
    ASSERT_EQ(t_get(srv.port, path, tok, resp), 0);
    ASSERT_EQ(resp->status, 200);
    png_image img = {.version = PNG_IMAGE_VERSION};
    ASSERT(png_image_begin_read_from_memory(&img, resp->body, resp->bodylen));
    img.format = PNG_FORMAT_RGBA;
    ASSERT_EQ(img.width, TILE);
    ASSERT_EQ(img.height, TILE);
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    ASSERT(px);
    ASSERT(png_image_finish_read(&img, NULL, px, 0, NULL));
    png_image_free(&img);
    return px;
}

static const uint8_t *at(const uint8_t *px, int x, int y) { return px + 4 * ((size_t)y * TILE + x); }

static bool is_rgba(const uint8_t *p, int r, int g, int b, int a)
{
    return p[0] == r && p[1] == g && p[2] == b && p[3] == a;
}

#define ASSERT_PIXEL(px, x, y, r, g, b, a)                                                  \
    do {                                                                                    \
        const uint8_t *q_ = at(px, x, y);                                                   \
        if (!is_rgba(q_, r, g, b, a))                                                       \
            LBT__FAIL("pixel (%d, %d) is (%d,%d,%d,%d), expected (%d,%d,%d,%d)", x, y, q_[0], \
                      q_[1], q_[2], q_[3], r, g, b, a);                                     \
    } while (0)

/* A hole is left out whichever way its ring and its exterior run: nothing
 * of what lies in it is drawn, what lies in the ring band is, and all four
 * orientations give the same tile, byte for byte. */
LB_TEST(test_holes_are_holes_in_either_orientation)
{
    fixture();
    t_resp first = {0};
    uint8_t *px0 = NULL;
    for (size_t v = 0; v < NVARIANTS; v++) {
        t_resp resp;
        uint8_t *px = get_tile(variants[v].name, &resp);
        fprintf(stderr, "  %s: %zu bytes\n", variants[v].name, resp.bodylen);
        /* every pixel lying entirely in the hole: transparent */
        for (int y = 51; y <= 69; y++)
            for (int x = 51; x <= 69; x++)
                if (!is_rgba(at(px, x, y), 0, 0, 0, 0))
                    LBT__FAIL("%s: pixel (%d, %d) in the hole is drawn", variants[v].name, x, y);
        /* the ring band: the red fill, the blue point */
        ASSERT_PIXEL(px, 20, 40, 255, 0, 0, 255);
        ASSERT_PIXEL(px, 90, 100, 255, 0, 0, 255);
        ASSERT_PIXEL(px, 60, 110, 255, 0, 0, 255);
        ASSERT_PIXEL(px, 80, 60, 255, 0, 0, 255);
        ASSERT_PIXEL(px, 30, 80, 0, 0, 255, 255);
        /* outside the area */
        ASSERT_PIXEL(px, 5, 5, 0, 0, 0, 0);
        ASSERT_PIXEL(px, 150, 150, 0, 0, 0, 0);
        ASSERT_PIXEL(px, 105, 60, 0, 0, 0, 0);
        if (v == 0) {
            first = resp;
            px0 = px;
            continue;
        }
        if (!(resp.bodylen == first.bodylen && memcmp(resp.body, first.body, first.bodylen) == 0))
            LBT__FAIL("%s: the tile differs from %s's", variants[v].name, variants[0].name);
        free(px);
        t_resp_free(&resp);
    }
    free(px0);
    t_resp_free(&first);
}

/* An area of overlapping polygons counts each place once: a pixel half
 * inside is not kept because two polygons cover that half (the mask's
 * coverage is the integral of the winding number: 2 x 0.5).  Polygons that
 * only meet keep the pixels along their common edge. */
LB_TEST(test_overlapping_polygons_count_once)
{
    fixture();
    t_resp resp;
    uint8_t *px = get_tile("twice", &resp);
    for (int y = 25; y <= 115; y += 15) {
        ASSERT_PIXEL(px, 10, y, 0, 0, 0, 0); /* half inside */
        ASSERT_PIXEL(px, 11, y, 255, 0, 0, 255);
        ASSERT_PIXEL(px, 99, y, 255, 0, 0, 255);
        ASSERT_PIXEL(px, 100, y, 0, 0, 0, 0);
    }
    for (int x = 15; x <= 95; x += 10) {
        ASSERT_PIXEL(px, x, 20, 0, 0, 0, 0);
        ASSERT_PIXEL(px, x, 21, 255, 0, 0, 255);
        ASSERT_PIXEL(px, x, 119, 255, 0, 0, 255);
        ASSERT_PIXEL(px, x, 120, 0, 0, 0, 0);
    }
    free(px);
    t_resp_free(&resp);
    px = get_tile("halves", &resp);
    for (int y = 21; y <= 119; y++) {
        ASSERT_PIXEL(px, 10, y, 0, 0, 0, 0);
        if (y < 50 || y > 71) /* the blue point in_hole (no hole here) */
            ASSERT_PIXEL(px, 55, y, 255, 0, 0, 255); /* on the common edge */
        ASSERT_PIXEL(px, 100, y, 0, 0, 0, 0);
    }
    free(px);
    t_resp_free(&resp);
}

/* Whether pixel (x, y) lies entirely inside the rectangle-with-hole areas:
 * the exterior's edges are 0.001 px inside the borders of pixels 10, 100
 * (x) and 20, 120 (y), the hole's 0.001 px into pixels 50 and 70. */
static int in_rect_area(int x, int y)
{
    return x >= 11 && x <= 99 && y >= 21 && y <= 119 && !(x >= 50 && x <= 70 && y >= 50 && y <= 70);
}

/* Whether every corner of pixel (x, y) lies inside the triangle: 1 yes, 0
 * no, -1 a corner lies within 1e-6 px of an edge's line (too close to call). */
static int in_triangle(int x, int y)
{
    const xy *t = tri_ring;
    double s = (t[1].x - t[0].x) * (t[2].y - t[0].y) - (t[1].y - t[0].y) * (t[2].x - t[0].x);
    int all = 1;
    for (int k = 0; k < 4; k++) {
        double cx = x + (k & 1), cy = y + (k >> 1);
        for (int i = 0; i < 3; i++) {
            const xy *a = &t[i], *b = &t[(i + 1) % 3];
            double d = ((b->x - a->x) * (cy - a->y) - (b->y - a->y) * (cx - a->x)) /
                       hypot(b->x - a->x, b->y - a->y) * (s > 0 ? 1 : -1);
            if (fabs(d) < 1e-6)
                return -1;
            if (d < 0)
                all = 0;
        }
    }
    return all;
}

/* Every pixel a boundary cuts is transparent however little of it lies
 * outside (99.9 % inside is not inside), every pixel entirely inside keeps
 * the colour drawn there. */
static void check_exact(const char *name, const uint8_t *px, int (*inside)(int, int))
{
    size_t kept = 0;
    for (int y = 0; y < TILE; y++)
        for (int x = 0; x < TILE; x++) {
            int in = inside(x, y);
            const uint8_t *p = at(px, x, y);
            if (in < 0)
                continue;
            if (!in) {
                if (!is_rgba(p, 0, 0, 0, 0))
                    LBT__FAIL("%s: pixel (%d, %d), not entirely inside the area, is "
                              "(%d,%d,%d,%d)", name, x, y, p[0], p[1], p[2], p[3]);
                continue;
            }
            kept++;
            double dx = x + 0.5 - in_band.x, dy = y + 0.5 - in_band.y;
            bool red = dx * dx + dy * dy > 8.0 * 8.0; /* away from the blue point */
            if (p[3] != 255 || (red && !is_rgba(p, 255, 0, 0, 255)))
                LBT__FAIL("%s: pixel (%d, %d), entirely inside the area, is (%d,%d,%d,%d)",
                          name, x, y, p[0], p[1], p[2], p[3]);
        }
    ASSERT(kept > 2000);
}

LB_TEST(test_pixels_cut_by_the_boundary_are_transparent)
{
    fixture();
    for (size_t v = 0; v < NVARIANTS; v++) {
        t_resp resp;
        uint8_t *px = get_tile(variants[v].name, &resp);
        check_exact(variants[v].name, px, in_rect_area);
        free(px);
        t_resp_free(&resp);
    }
    t_resp resp;
    uint8_t *px = get_tile("tri", &resp);
    check_exact("tri", px, in_triangle);
    free(px);
    t_resp_free(&resp);
}

/*
 * Issue 4, session 13: a feature outside the area leaves no trace inside it.
 * The point beside the rectangles lies 2.5 px outside, and its circle of
 * radius 5 reaches pixels entirely inside; masking alone kept those blue,
 * which told an area-limited role of a unit beyond its area.  Only features
 * whose geometry meets the area are drawn for it.
 */
LB_TEST(test_features_outside_the_area_leave_no_trace_inside)
{
    fixture();
    const char *names[] = {"same_cw", "rfc", "twice", "halves"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        t_resp resp;
        uint8_t *px = get_tile(names[i], &resp);
        for (int y = 36; y <= 45; y++)
            for (int x = 95; x <= 99; x++)
                if (!is_rgba(at(px, x, y), 255, 0, 0, 255)) {
                    const uint8_t *p = at(px, x, y);
                    LBT__FAIL("%s: pixel (%d, %d) inside the area is (%d,%d,%d,%d), not the "
                              "red fill: the point outside shows",
                              names[i], x, y, p[0], p[1], p[2], p[3]);
                }
        free(px);
        t_resp_free(&resp);
    }
}

LB_TEST(test_server_stops_cleanly)
{
    fixture();
    int ws = t_server_stop(&srv, 30);
    if (!(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0))
        t_server_dump_stderr(&srv);
    ASSERT(ws != -1 && WIFEXITED(ws));
    ASSERT_EQ(WEXITSTATUS(ws), 0);
}

LB_TESTS(test_holes_are_holes_in_either_orientation, test_overlapping_polygons_count_once,
         test_features_outside_the_area_leave_no_trace_inside,
         test_pixels_cut_by_the_boundary_are_transparent, test_server_stops_cleanly)
