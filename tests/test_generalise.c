/*
 * Owner-set release rules: the military releases its unit positions to the
 * police only generalised to 5 km cells.  The test adds such a rule to a
 * copy of the demo and checks, through the running server, that for the
 * police a unit not released to it exactly appears at the centre of its cell
 * and nowhere near its true position, while the military (released exactly)
 * sees it at the true position and not at the cell centre.  The cell is the
 * same on the Web Mercator and the AdV grid: a 5 km cell of EPSG:3035.
 */
#include <math.h>
#include <png.h>

#include "lagebild/fusion.h"
#include "lbtest.h"
#include "thttp.h"
#include "tutil.h"

static char *dir, *cfg, *store;

/* MIL-EH-07 is releasable to military,kritis,thw,lagezentrum,landkreis (not police) */
#define UNIT "MIL-EH-07"
#define CELL 5000.0

static void setup(void)
{
    dir = t_tmpdir();
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -r '%s/demo/data' '%s/' && sed "
             "-e 's/^  military_units:$/  military_units:\\n    generalised_release: {groups: [police, fire], cell_m: 5000}/' "
             "-e 's/^maps:$/maps:\\n  units_only: {title: Einheiten, layers: [units]}/' "
             "'%s/demo/lagebild.yaml' > '%s/lagebild.yaml'",
             LB_SOURCE_DIR, dir, LB_SOURCE_DIR, dir);
    ASSERT_EQ(system(cmd), 0);
    cfg = t_path(dir, "lagebild.yaml");
    store = t_path(dir, "lagebild.sqlite");
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
    free(store);
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

/* Max alpha in a (2r+1)^2 window around (px,py). */
static int alpha_near(const t_resp *resp, int px, int py, int r)
{
    int best = -1;
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
            int a = alpha_at(resp, px + dx, py + dy);
            if (a > best)
                best = a;
        }
    return best;
}

/* Tile (z,x,y) and pixel of a Web Mercator position. */
static void locate(double mx, double my, int z, long *tx, long *ty, int *px, int *py)
{
    double world = 2 * 20037508.342789244, tile = world / (double)(1L << z);
    double fx = (mx + world / 2) / tile, fy = (world / 2 - my) / tile;
    *tx = (long)floor(fx);
    *ty = (long)floor(fy);
    *px = (int)floor((fx - (double)*tx) * 256);
    *py = (int)floor((fy - (double)*ty) * 256);
}

static void fetch(int port, const char *token, int z, long x, long y, t_resp *out)
{
    char path[128];
    snprintf(path, sizeof path, "/maps/units_only/%d/%ld/%ld.png", z, x, y);
    ASSERT_EQ(t_get(port, path, token, out), 0);
    ASSERT_EQ(out->status, 200);
}

LB_TEST(test_generalised_release_hides_the_exact_position)
{
    setup();
    /* the unit's true position, and the centre of its 5 km cell on the
     * canonical grid (EPSG:3035, cells counted from its origin), both in
     * EPSG:3857 and the centre also in EPSG:25832 (the AdV grid) */
    double lon = t_sql_double(store, "SELECT X(geom) FROM units WHERE source_fid='%s'", UNIT);
    double lat = t_sql_double(store, "SELECT Y(geom) FROM units WHERE source_fid='%s'", UNIT);
    lb_transform *t = NULL;
    lb_error err;
    double ex = lon, ey = lat;
    ASSERT_EQ(lb_transform_new("EPSG:4326", "EPSG:3035", &t, &err), LB_OK);
    ASSERT_EQ(lb_transform_points(t, 1, &ex, &ey, &err), LB_OK);
    lb_transform_free(t);
    double clon = (floor(ex / CELL) + 0.5) * CELL, clat = (floor(ey / CELL) + 0.5) * CELL;
    ASSERT_EQ(lb_transform_new("EPSG:3035", "EPSG:4326", &t, &err), LB_OK);
    ASSERT_EQ(lb_transform_points(t, 1, &clon, &clat, &err), LB_OK);
    lb_transform_free(t);
    double ux = clon, uy = clat;
    ASSERT_EQ(lb_transform_new("EPSG:4326", "EPSG:25832", &t, &err), LB_OK);
    ASSERT_EQ(lb_transform_points(t, 1, &ux, &uy, &err), LB_OK);
    lb_transform_free(t);
    ASSERT_EQ(lb_transform_new("EPSG:4326", "EPSG:3857", &t, &err), LB_OK);
    double mx = lon, my = lat, cx = clon, cy = clat;
    ASSERT_EQ(lb_transform_points(t, 1, &mx, &my, &err), LB_OK);
    ASSERT_EQ(lb_transform_points(t, 1, &cx, &cy, &err), LB_OK);
    lb_transform_free(t);
    ASSERT(hypot(cx - mx, cy - my) > 300); /* far enough apart to tell at zoom 15 */

    char errpath[1024];
    snprintf(errpath, sizeof errpath, "%s/server.err", dir);
    char *audit = t_path(dir, "audit.jsonl");
    t_server srv;
    ASSERT(t_server_start(&srv, cfg, audit, errpath));
    free(audit);
    int z = 15;
    long tx, ty, gx, gy;
    int px, py, gpx, gpy;
    locate(mx, my, z, &tx, &ty, &px, &py);
    locate(cx, cy, z, &gx, &gy, &gpx, &gpy);

    /* the military sees the unit exactly: a marker at the true position */
    t_resp r;
    fetch(srv.port, "demo-military", z, tx, ty, &r);
    ASSERT(alpha_near(&r, px, py, 1) > 200);
    t_resp_free(&r);
    /* the police: not a pixel of the units layer near the true position */
    fetch(srv.port, "demo-police", z, tx, ty, &r);
    ASSERT_EQ(alpha_near(&r, px, py, 8), 0);
    t_resp_free(&r);
    /* ... but a marker at the centre of the unit's 5 km cell, where the
     * military (exact release) has none */
    fetch(srv.port, "demo-police", z, gx, gy, &r);
    ASSERT(alpha_near(&r, gpx, gpy, 1) > 200);
    t_resp_free(&r);
    fetch(srv.port, "demo-military", z, gx, gy, &r);
    ASSERT_EQ(alpha_near(&r, gpx, gpy, 8), 0);
    t_resp_free(&r);
    /* fire, also named by the rule and not released to exactly, sees the
     * generalised form as well */
    fetch(srv.port, "demo-fire", z, gx, gy, &r);
    ASSERT(alpha_near(&r, gpx, gpy, 1) > 200);
    t_resp_free(&r);
    /* the AdV grid (EPSG:25832) draws the same cell centre, so its tiles
     * and Web Mercator's cannot be intersected into a finer position */
    double res = 17471320.75089746 * 0.00028 / 4096.0; /* zoom 12 */
    double fx = (ux - -46133.17) / (256 * res), fy = (6301219.54 - uy) / (256 * res);
    long ax = (long)floor(fx), ay = (long)floor(fy);
    int apx = (int)floor((fx - (double)ax) * 256), apy = (int)floor((fy - (double)ay) * 256);
    char path[128];
    snprintf(path, sizeof path, "/maps/units_only/DE_EPSG_25832_ADV/12/%ld/%ld.png", ax, ay);
    ASSERT_EQ(t_get(srv.port, path, "demo-police", &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT(alpha_near(&r, apx, apy, 1) > 200);
    t_resp_free(&r);
    ASSERT(t_server_stop(&srv, 20) == 0);
    t_server_free(&srv);
    teardown();
}

LB_TESTS(test_generalised_release_hides_the_exact_position)
