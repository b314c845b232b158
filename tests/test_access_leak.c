/*
 * The differential leak test.  For every demo role and every tile of a list
 * computed from the demo data (zooms 8..18, 1x and @2x, tiles crossing the
 * landkreis area boundary), the tile `lagebild serve` hands the role must
 * equal -- each channel within +-1 -- a reference rendered with full rights
 * by `lagebild render` from a copy of the store that holds ONLY the features
 * the role may see, masked by the role's area.
 *
 * The filter is implemented here, independently of the access module: a
 * feature is visible iff its layer is granted to the role (every layer for
 * "*", else the listed ones plus the layers granted in the current crisis
 * phase, Reaktion), label_level <= the role's level (OFFEN 0, VS-NfD 1,
 * VS-VERTRAULICH 2, GEHEIM 3), the role holds every caveat of the feature,
 * and releasable_to is empty or names one of the role's groups, and, for a
 * role with an area, its geometry meets the area polygon (SpatiaLite's
 * ST_Intersects in lon/lat: a feature outside the area must leave no trace
 * inside it, not even the part of its symbol that reaches in).  Rows that
 * fail are DELETEd from the copy.  The role table below mirrors
 * demo/lagebild.yaml; the first test checks that it still does.
 *
 * The area mask is computed here from the landkreis polygon itself, not
 * rendered: a reference pixel keeps its value only where the pixel's square
 * lies entirely inside the polygon (its exact area of overlap, clipped
 * polygon against square, is 1), elsewhere it becomes transparent.  Pixels
 * within 1e-6 of a pixel's area of that line (where this test's projection
 * and PROJ's could disagree) are not compared.
 *
 * PNGs are compared as straight RGBA; two fully transparent pixels are equal
 * whatever their colour channels hold.
 *
 * Run time: every `lagebild render` is a process start (~0.3 s of CPU, most
 * of it loading GDAL's shared libraries), so renders are shared where the
 * result cannot differ: two roles whose filtered stores hold the same
 * features within half a tile of a tile (the renderer reaches 64 CSS px, a
 * quarter tile, beyond it) share that tile's reference, a tile with no
 * visible feature within that distance is compared with a transparent tile
 * without rendering, and the area mask is computed only for tiles the area
 * boundary runs through (all inside or all outside the area otherwise).
 * Renders run three at a time while the server's tiles are fetched.
 *
 * Under AddressSanitizer the tile list is thinned (see PICKS_FEATURE).
 * LB_TEST_KEEP=1 keeps the temporary folder (references ref_*.png, served
 * tiles srv_*.png) for inspection.
 */
#include <math.h>
#include <png.h>
#include <sqlite3.h>

#include "lbtest.h"
#include "tutil.h"
#include "thttp.h"

#include "lagebild/config.h"

/* ------------------------------------------------------------ the roles */

typedef struct role_def {
    const char *name, *token;
    int level;                /* OFFEN 0, VS-NfD 1, VS-VERTRAULICH 2, GEHEIM 3 */
    const char *groups;       /* comma-separated */
    const char *caveats;      /* comma-separated, held by the role */
    const char *layers;       /* "*" or comma-separated layer ids */
    const char *phase_layers; /* granted in phase Reaktion */
    bool area;                /* limited to data/areas/landkreis_demo.geojson */
} role_def;

static const role_def ROLES[] = {
    {"police", "demo-police", 1, "police", "", "*", "", false},
    {"fire", "demo-fire", 1, "fire", "", "*", "", false},
    {"military", "demo-military", 2, "military", "", "*", "", false},
    {"kritis", "demo-kritis", 1, "kritis", "",
     "power_lines,substations,water_works,evacuation_zones,roadblocks",
     "incidents,deployment_areas", false},
    {"lagezentrum", "demo-lagezentrum", 2, "lagezentrum", "", "*", "", false},
    {"landkreis", "demo-landkreis", 1, "landkreis", "", "*", "", true},
};
#define NROLES (sizeof ROLES / sizeof ROLES[0])

/* Whether comma-separated list has item (exact, blanks around items ignored). */
static bool list_has(const char *list, const char *item)
{
    size_t n = strlen(item);
    const char *p = list;
    while (p && *p) {
        while (*p == ' ')
            p++;
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        size_t l = len;
        while (l && p[l - 1] == ' ')
            l--;
        if (l == n && strncmp(p, item, n) == 0)
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

static bool layer_granted(const role_def *r, const char *layer)
{
    return strcmp(r->layers, "*") == 0 || list_has(r->layers, layer) ||
           list_has(r->phase_layers, layer);
}

/* The rule, on one row's label columns. */
static bool feature_visible(const role_def *r, int level, const char *releasable_to,
                            const char *caveats)
{
    if (level > r->level)
        return false;
    /* every caveat of the feature is held */
    char *cv = strdup(caveats ? caveats : "");
    bool ok = true;
    char *save = NULL;
    for (char *c = strtok_r(cv, ",", &save); ok && c; c = strtok_r(NULL, ",", &save)) {
        while (*c == ' ')
            c++;
        size_t l = strlen(c);
        while (l && c[l - 1] == ' ')
            c[--l] = '\0';
        if (*c && !list_has(r->caveats, c))
            ok = false;
    }
    free(cv);
    if (!ok)
        return false;
    /* releasable to nobody in particular, or to one of the role's groups */
    char *rel = strdup(releasable_to ? releasable_to : "");
    bool any = false, named = false;
    save = NULL;
    for (char *g = strtok_r(rel, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
        while (*g == ' ')
            g++;
        size_t l = strlen(g);
        while (l && g[l - 1] == ' ')
            g[--l] = '\0';
        if (!*g)
            continue;
        named = true;
        any |= list_has(r->groups, g);
    }
    free(rel);
    return !named || any;
}

/* ------------------------------------------------------------ fixture */

typedef struct tile {
    int z;
    long x, y;
    int scale;
} tile;

#define MAX_TILES 96

/*
 * Tiles per zoom at 11..18: of feature positions, of boundary crossings.
 * Under AddressSanitizer every `lagebild render` costs about 2.5 times the
 * CPU, so the list is thinned there (still every zoom, @2x and boundary
 * tiles) to stay near a minute on two cores; the full list runs in the
 * normal build.
 */
#if defined(__SANITIZE_ADDRESS__)
#define PICKS_FEATURE 2
#define PICKS_CROSSING 1
#define MIN_TILES 24
#define MIN_SPECIAL 6
#else
#define PICKS_FEATURE 3
#define PICKS_CROSSING 2
#define MIN_TILES 40
#define MIN_SPECIAL 10
#endif

/*
 * How far (in tiles) a feature may lie from a tile and still be drawn into
 * it: the renderer reaches LB_RENDER_MARGIN_PX = 64 CSS px (a quarter tile)
 * beyond a tile; twice that for safety.
 */
#define NEAR_TILES 0.5

/* A `lagebild render` run. */
typedef struct job {
    const tile *t;
    char *cfg;
    char out[512];
    char err[520];
    pid_t pid;
    int status; /* wait status once done */
    bool done;
} job;

/* One role x one tile. */
typedef struct cell {
    uint64_t key; /* the visible features near the tile; 0: none */
    int ref;      /* index of the reference render in g_jobs, -1: nothing to draw */
    t_resp resp;  /* the server's answer */
} cell;

static char *g_dir, *g_store, *g_area_cfg, *g_role_cfg[NROLES];
static int g_fixture; /* 0 not set up, 1 ready, -1 failed */
static t_server g_srv;
static tile g_tiles[MAX_TILES];
static size_t g_ntiles;
static bool g_crossing[MAX_TILES];  /* the area boundary runs through the tile */
static bool g_inside[MAX_TILES];    /* the tile lies inside the area */
static cell g_cells[NROLES][MAX_TILES];
static long g_kept[NROLES], g_removed[NROLES];
static job *g_jobs;                 /* reference renders */
static size_t g_njobs;
/* the area polygon in lon/lat: rings (the first the exterior, then holes)
 * as runs of g_area_pt */
typedef struct pt {
    double lon, lat;
} pt;
static pt *g_area_pt;
static char *g_area_wkt;            /* the area polygon, WKT in EPSG:4326 */
static size_t g_area_npt, g_area_ring[16], g_area_nrings; /* ring r: [ring[r], ring[r + 1]) */
static bool g_keep;                 /* LB_TEST_KEEP=1: leave the temporary folder */

static void cleanup(void)
{
    t_server_free(&g_srv);
    for (size_t r = 0; r < NROLES; r++) {
        for (size_t i = 0; i < g_ntiles; i++)
            t_resp_free(&g_cells[r][i].resp);
        free(g_role_cfg[r]);
        g_role_cfg[r] = NULL;
    }
    free(g_jobs);
    g_jobs = NULL;
    if (g_dir) {
        if (g_keep)
            fprintf(stderr, "  (kept %s)\n", g_dir);
        else
            t_rmrf(g_dir);
    }
    free(g_dir);
    free(g_store);
    free(g_area_cfg);
    free(g_area_pt);
    g_area_pt = NULL;
    free(g_area_wkt);
    g_area_wkt = NULL;
    g_dir = g_store = g_area_cfg = NULL;
}

static sqlite3 *db_open(const char *path, bool rw)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, rw ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "  cannot open %s\n", path);
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_enable_load_extension(db, 1);
    char *err = NULL;
    if (sqlite3_load_extension(db, "mod_spatialite", NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "  mod_spatialite: %s\n", err ? err : "?");
        sqlite3_free(err);
    }
    return db;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    ASSERT(in && out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ASSERT_EQ(fwrite(buf, 1, n, out), n);
    fclose(in);
    ASSERT_EQ(fclose(out), 0);
}

/* Layer tables of the store (from lb_layers), sorted; returns the count. */
static size_t store_layers(sqlite3 *db, char names[][64], size_t max)
{
    sqlite3_stmt *q = NULL;
    size_t n = 0;
    if (sqlite3_prepare_v2(db, "SELECT layer FROM lb_layers ORDER BY layer", -1, &q, NULL) !=
        SQLITE_OK)
        return 0;
    while (n < max && sqlite3_step(q) == SQLITE_ROW)
        snprintf(names[n++], 64, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    return n;
}

/* Tile math (WebMercatorQuad / XYZ). */
static void lonlat_tile(double lon, double lat, int z, long *x, long *y)
{
    double n = ldexp(1.0, z);
    *x = (long)floor((lon + 180.0) / 360.0 * n);
    *y = (long)floor((1.0 - asinh(tan(lat * M_PI / 180.0)) / M_PI) / 2.0 * n);
}

static void tile_lonlat(int z, double x, double y, double *lon, double *lat)
{
    double n = ldexp(1.0, z);
    *lon = x / n * 360.0 - 180.0;
    *lat = atan(sinh(M_PI * (1.0 - 2.0 * y / n))) * 180.0 / M_PI;
}

/* Bounds (w, s, e, n) of tile t widened by `margin` tiles on every side. */
static void tile_box(const tile *t, double margin, double b[4])
{
    tile_lonlat(t->z, (double)t->x - margin, (double)t->y + 1 + margin, &b[0], &b[1]);
    tile_lonlat(t->z, (double)t->x + 1 + margin, (double)t->y - margin, &b[2], &b[3]);
}

static bool boxes_meet(const double a[4], const double b[4])
{
    return !(a[2] < b[0] || a[0] > b[2] || a[3] < b[1] || a[1] > b[3]);
}

static void add_tile(int z, long x, long y)
{
    for (size_t i = 0; i < g_ntiles; i++)
        if (g_tiles[i].z == z && g_tiles[i].x == x && g_tiles[i].y == y)
            return;
    if (g_ntiles < MAX_TILES)
        g_tiles[g_ntiles++] = (tile){.z = z, .x = x, .y = y, .scale = 1};
}

/* First coordinate pair of a WKT text (POINT, MULTIPOINT, LINESTRING, ...). */
static bool wkt_first_xy(const char *w, pt *p)
{
    const char *s = w ? strchr(w, '(') : NULL;
    while (s && (*s == '(' || *s == ' '))
        s++;
    return s && sscanf(s, "%lf %lf", &p->lon, &p->lat) == 2;
}

/*
 * The tile list: every tile covering the data at zooms 8..10; at 11..18 the
 * tiles of a spread of feature positions and of points where features cross
 * the area boundary (or of the boundary's vertices); every third tile @2x.
 * Also marks the tiles the area boundary runs through.
 */
static void make_tile_list(const char *mask_store)
{
    sqlite3 *mdb = db_open(mask_store, false);
    ASSERT(mdb);
    sqlite3_stmt *q = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(mdb, "SELECT AsText(geom) FROM area", -1, &q, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
    char *area_wkt = strdup((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);

    sqlite3 *db = db_open(g_store, false);
    ASSERT(db);
    char layers[32][64];
    size_t nl = store_layers(db, layers, 32);
    ASSERT(nl >= 10);
    pt *P = NULL, *C = NULL;
    size_t nP = 0, nC = 0;
    double ext[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
    for (size_t i = 0; i < nl; i++) {
        char sql[1024];
        int sn = snprintf(sql, sizeof sql,
                 "SELECT X(ST_PointOnSurface(geom)), Y(ST_PointOnSurface(geom)), MbrMinX(geom), "
                 "MbrMinY(geom), MbrMaxX(geom), MbrMaxY(geom), "
                 "CASE WHEN ST_Dimension(geom) >= 1 THEN AsText(ST_Intersection("
                 "CASE WHEN ST_Dimension(geom) = 2 THEN ST_Boundary(geom) ELSE geom END, "
                 "ST_Boundary(GeomFromText(?1, 4326)))) END "
                 "FROM \"%s\" ORDER BY fid",
                 layers[i]);
        ASSERT(sn > 0 && (size_t)sn < sizeof sql);
        ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
        sqlite3_bind_text(q, 1, area_wkt, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(q) == SQLITE_ROW) {
            P = realloc(P, (nP + 1) * sizeof *P);
            P[nP++] = (pt){sqlite3_column_double(q, 0), sqlite3_column_double(q, 1)};
            ext[0] = fmin(ext[0], sqlite3_column_double(q, 2));
            ext[1] = fmin(ext[1], sqlite3_column_double(q, 3));
            ext[2] = fmax(ext[2], sqlite3_column_double(q, 4));
            ext[3] = fmax(ext[3], sqlite3_column_double(q, 5));
            pt c;
            if (sqlite3_column_type(q, 6) == SQLITE_TEXT &&
                wkt_first_xy((const char *)sqlite3_column_text(q, 6), &c)) {
                C = realloc(C, (nC + 1) * sizeof *C);
                C[nC++] = c;
            }
        }
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    /* the boundary's own vertices too; and the polygon's rings */
    ASSERT(strncmp(area_wkt, "POLYGON", 7) == 0);
    const char *s = strchr(area_wkt, '(');
    g_area_nrings = 0;
    g_area_ring[0] = 0;
    while (s && *s) {
        while (*s == '(' || *s == ' ' || *s == ',')
            s++;
        pt c;
        int used = 0;
        if (sscanf(s, "%lf %lf%n", &c.lon, &c.lat, &used) != 2)
            break;
        C = realloc(C, (nC + 1) * sizeof *C);
        C[nC++] = c;
        g_area_pt = realloc(g_area_pt, (g_area_npt + 1) * sizeof *g_area_pt);
        g_area_pt[g_area_npt++] = c;
        s += used;
        if (*s == ')') {
            ASSERT(g_area_nrings + 1 < sizeof g_area_ring / sizeof g_area_ring[0]);
            g_area_ring[++g_area_nrings] = g_area_npt;
        }
        while (*s == ')')
            s++;
    }
    ASSERT(g_area_nrings >= 1);
    ASSERT(nP > 50);
    ASSERT(nC > 8);

    for (int z = 8; z <= 10; z++) {
        long x0, y0, x1, y1;
        lonlat_tile(ext[0], ext[3], z, &x0, &y0);
        lonlat_tile(ext[2], ext[1], z, &x1, &y1);
        for (long x = x0; x <= x1; x++)
            for (long y = y0; y <= y1; y++)
                add_tile(z, x, y);
    }
    for (int z = 11; z <= 18; z++) {
        long x, y;
        for (size_t k = 0; k < PICKS_FEATURE; k++) {
            const pt *p = &P[((size_t)z * 13 + k * (nP / 3 + 1)) % nP];
            lonlat_tile(p->lon, p->lat, z, &x, &y);
            add_tile(z, x, y);
        }
        for (size_t k = 0; k < PICKS_CROSSING; k++) {
            const pt *p = &C[((size_t)z * 7 + k * (nC / 2 + 1)) % nC];
            lonlat_tile(p->lon, p->lat, z, &x, &y);
            add_tile(z, x, y);
        }
    }
    for (size_t i = 0; i < g_ntiles; i++)
        if (i % 3 == 2)
            g_tiles[i].scale = 2;
    free(P);
    free(C);

    /* which tiles the area boundary runs through, which lie inside the area */
    ASSERT_EQ(sqlite3_prepare_v2(mdb,
                                 "SELECT ST_Intersects(ST_Boundary(GeomFromText(?1, 4326)), "
                                 "BuildMbr(?2, ?3, ?4, ?5, 4326)), "
                                 "ST_Contains(GeomFromText(?1, 4326), "
                                 "BuildMbr(?2, ?3, ?4, ?5, 4326))",
                                 -1, &q, NULL),
              SQLITE_OK);
    for (size_t i = 0; i < g_ntiles; i++) {
        double b[4];
        tile_box(&g_tiles[i], 0, b);
        sqlite3_bind_text(q, 1, area_wkt, -1, SQLITE_TRANSIENT);
        for (int k = 0; k < 4; k++)
            sqlite3_bind_double(q, 2 + k, b[k]);
        ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
        g_crossing[i] = sqlite3_column_int(q, 0) == 1;
        g_inside[i] = !g_crossing[i] && sqlite3_column_int(q, 1) == 1;
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    sqlite3_close(mdb);
    g_area_wkt = area_wkt;
}

/* ------------------------------------------------------------ rendering jobs */

static pid_t job_spawn(job *j)
{
    char z[16], x[32], y[32], sc[8];
    snprintf(z, sizeof z, "%d", j->t->z);
    snprintf(x, sizeof x, "%ld", j->t->x);
    snprintf(y, sizeof y, "%ld", j->t->y);
    snprintf(sc, sizeof sc, "%d", j->t->scale);
    snprintf(j->err, sizeof j->err, "%s.err", j->out);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fe = open(j->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int dn = open("/dev/null", O_RDWR);
        dup2(dn, 0);
        dup2(dn, 1);
        if (fe >= 0)
            dup2(fe, 2);
        const char *argv[] = {LB_BINARY, "render", "--config", j->cfg, "--map", "lage",
                              "--z", z, "--x", x, "--y", y, "--scale", sc, "-o", j->out, NULL};
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/*
 * Run jobs, at most `parallel` at a time; while waiting, idle(ud) does other
 * work (it returns false when it has none left).
 */
static void run_jobs(job *jobs, size_t n, int parallel, bool (*idle)(void *), void *ud)
{
    size_t next = 0, done = 0;
    int running = 0;
    while (done < n) {
        while (running < parallel && next < n) {
            jobs[next].pid = job_spawn(&jobs[next]);
            ASSERT(jobs[next].pid > 0);
            next++;
            running++;
        }
        bool reaped = false;
        for (size_t i = 0; i < next; i++) {
            if (jobs[i].done)
                continue;
            int ws;
            if (waitpid(jobs[i].pid, &ws, WNOHANG) == jobs[i].pid) {
                jobs[i].done = true;
                jobs[i].status = ws;
                running--;
                done++;
                reaped = true;
            }
        }
        if (!reaped && !(idle && idle(ud)))
            usleep(2000);
    }
    while (idle && idle(ud))
        ;
    for (size_t i = 0; i < n; i++) {
        if (!(WIFEXITED(jobs[i].status) && WEXITSTATUS(jobs[i].status) == 0)) {
            char *e = t_read_file(jobs[i].err);
            fprintf(stderr, "  lagebild render %d/%ld/%ld@%dx (config %s) failed (status %d): %s\n",
                    jobs[i].t->z, jobs[i].t->x, jobs[i].t->y, jobs[i].t->scale, jobs[i].cfg,
                    jobs[i].status, e);
            free(e);
            LBT__FAIL("a reference render failed");
        }
    }
}

/* ------------------------------------------------------------ PNG */

typedef struct img {
    int w, h;
    unsigned char *px; /* straight RGBA */
} img;

static bool img_decode(const void *data, size_t len, img *out, char *why, size_t wn)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    memset(out, 0, sizeof *out);
    if (!png_image_begin_read_from_memory(&im, data, len)) {
        snprintf(why, wn, "%s", im.message);
        return false;
    }
    im.format = PNG_FORMAT_RGBA;
    out->w = (int)im.width;
    out->h = (int)im.height;
    out->px = malloc(PNG_IMAGE_SIZE(im));
    if (!out->px || !png_image_finish_read(&im, NULL, out->px, 0, NULL)) {
        snprintf(why, wn, "%s", im.message);
        png_image_free(&im);
        free(out->px);
        out->px = NULL;
        return false;
    }
    return true;
}

static bool img_load(const char *path, img *out, char *why, size_t wn)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, wn, "cannot open %s", path);
        return false;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    bool ok = got == (size_t)n && img_decode(b, (size_t)n, out, why, wn);
    free(b);
    return ok;
}

/* ------------------------------------------------------------ the filter */

/* Copy the store and delete every row the role may not see. */
static void filter_store(const role_def *r, const char *dst, long *kept, long *removed)
{
    copy_file(g_store, dst);
    sqlite3 *db = db_open(dst, true);
    ASSERT(db);
    char layers[32][64];
    size_t nl = store_layers(db, layers, 32);
    ASSERT(nl >= 10);
    ASSERT_EQ(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    *kept = *removed = 0;
    for (size_t i = 0; i < nl; i++) {
        char sql[256];
        sqlite3_stmt *q = NULL, *del = NULL;
        /* the fifth column: whether the geometry meets the role's area (1
         * without one) */
        int sn = snprintf(sql, sizeof sql,
                          "SELECT fid, label_level, releasable_to, caveats, %s FROM \"%s\" "
                          "ORDER BY fid",
                          r->area ? "ST_Intersects(geom, GeomFromText(?1, 4326))" : "1",
                          layers[i]);
        ASSERT(sn > 0 && (size_t)sn < sizeof sql);
        ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
        if (r->area) {
            ASSERT(g_area_wkt != NULL);
            sqlite3_bind_text(q, 1, g_area_wkt, -1, SQLITE_STATIC);
        }
        sn = snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE fid = ?1", layers[i]);
        ASSERT(sn > 0 && (size_t)sn < sizeof sql);
        ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &del, NULL), SQLITE_OK);
        sqlite3_int64 *fids = NULL;
        size_t nf = 0;
        bool granted = layer_granted(r, layers[i]);
        while (sqlite3_step(q) == SQLITE_ROW) {
            bool vis = granted && sqlite3_column_int(q, 4) == 1 &&
                       feature_visible(r, sqlite3_column_int(q, 1),
                                       (const char *)sqlite3_column_text(q, 2),
                                       (const char *)sqlite3_column_text(q, 3));
            if (vis) {
                (*kept)++;
                continue;
            }
            fids = realloc(fids, (nf + 1) * sizeof *fids);
            fids[nf++] = sqlite3_column_int64(q, 0);
        }
        sqlite3_finalize(q);
        for (size_t k = 0; k < nf; k++) {
            sqlite3_bind_int64(del, 1, fids[k]);
            if (sqlite3_step(del) != SQLITE_DONE)
                LBT__FAIL("delete from %s: %s", layers[i], sqlite3_errmsg(db));
            sqlite3_reset(del);
            (*removed)++;
        }
        sqlite3_finalize(del);
        free(fids);
    }
    ASSERT_EQ(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/*
 * Per tile, a key of the features left in the filtered store whose bounding
 * box comes within NEAR_TILES of the tile, with the tile itself; 0 when
 * there are none.
 */
static void neighbourhood_keys(const char *store, uint64_t *keys)
{
    sqlite3 *db = db_open(store, false);
    ASSERT(db);
    char layers[32][64];
    size_t nl = store_layers(db, layers, 32);
    bool *any = calloc(g_ntiles, sizeof *any);
    for (size_t i = 0; i < g_ntiles; i++) {
        char id[64];
        int n = snprintf(id, sizeof id, "%d/%ld/%ld@%d", g_tiles[i].z, g_tiles[i].x, g_tiles[i].y,
                         g_tiles[i].scale);
        keys[i] = fnv(0xcbf29ce484222325ULL, id, (size_t)n);
    }
    for (size_t l = 0; l < nl; l++) {
        char sql[256];
        sqlite3_stmt *q = NULL;
        snprintf(sql, sizeof sql,
                 "SELECT fid, MbrMinX(geom), MbrMinY(geom), MbrMaxX(geom), MbrMaxY(geom) "
                 "FROM \"%s\" ORDER BY fid",
                 layers[l]);
        ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
        while (sqlite3_step(q) == SQLITE_ROW) {
            double fb[4];
            for (int k = 0; k < 4; k++)
                fb[k] = sqlite3_column_double(q, k + 1);
            char id[128];
            int n = snprintf(id, sizeof id, "%s:%lld;", layers[l],
                             (long long)sqlite3_column_int64(q, 0));
            for (size_t i = 0; i < g_ntiles; i++) {
                double tb[4];
                tile_box(&g_tiles[i], NEAR_TILES, tb);
                if (boxes_meet(fb, tb)) {
                    keys[i] = fnv(keys[i], id, (size_t)n);
                    any[i] = true;
                }
            }
        }
        sqlite3_finalize(q);
    }
    for (size_t i = 0; i < g_ntiles; i++)
        if (!any[i])
            keys[i] = 0;
        else if (keys[i] == 0)
            keys[i] = 1;
    free(any);
    sqlite3_close(db);
}

/* The demo config with its store pointed at store_name (same folder). */
static char *config_for_store(const char *store_name, const char *cfg_name)
{
    char *p = t_path(g_dir, "lagebild.yaml");
    char *demo = t_read_file(p);
    free(p);
    const char *old = "path: lagebild.sqlite";
    char *at = strstr(demo, old);
    if (!at)
        LBT__FAIL("demo config: no '%s'", old);
    size_t cap = strlen(demo) + strlen(store_name) + 16;
    char *out = malloc(cap);
    snprintf(out, cap, "%.*spath: %s%s", (int)(at - demo), demo, store_name, at + strlen(old));
    t_write(g_dir, cfg_name, out);
    free(out);
    free(demo);
    return t_path(g_dir, cfg_name);
}

/* ------------------------------------------------------------ fixture */

/* Server fetches, done while the renders run. */
typedef struct fetcher {
    size_t next; /* role * g_ntiles + tile */
} fetcher;

static bool fetch_one(void *ud)
{
    fetcher *f = ud;
    if (f->next >= NROLES * g_ntiles)
        return false;
    size_t r = f->next / g_ntiles, i = f->next % g_ntiles;
    const tile *t = &g_tiles[i];
    char path[256];
    snprintf(path, sizeof path, "/maps/lage/%d/%ld/%ld%s", t->z, t->x, t->y,
             t->scale == 2 ? "@2x.png" : ".png");
    if (t_get(g_srv.port, path, ROLES[r].token, &g_cells[r][i].resp) != 0)
        g_cells[r][i].resp.status = -1;
    f->next++;
    return true;
}

static void fixture(void)
{
    if (g_fixture == 1)
        return;
    ASSERT(g_fixture == 0);
    g_fixture = -1;
    const char *keep = getenv("LB_TEST_KEEP");
    g_keep = keep && strcmp(keep, "1") == 0;
    atexit(cleanup);
    double t0 = t_mono();
    g_dir = t_tmpdir();
    ASSERT(g_dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -r '%s/demo/data' '%s/demo/lagebild.yaml' '%s/'", LB_SOURCE_DIR,
             LB_SOURCE_DIR, g_dir);
    ASSERT_EQ(system(cmd), 0);
    char *cfg = t_path(g_dir, "lagebild.yaml");
    t_result r = t_lagebild("ingest", cfg, "--quiet", NULL);
    if (r.status != 0)
        fprintf(stderr, "%s\n%s\n", r.out, r.err);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    g_store = t_path(g_dir, "lagebild.sqlite");

    /* the area as a layer of its own, for its polygon */
    char *mdir = t_path(g_dir, "mask");
    ASSERT_EQ(mkdir(mdir, 0700), 0);
    char mcfg[4096];
    snprintf(mcfg, sizeof mcfg,
             "store:\n  path: mask.sqlite\n"
             "groups: [all]\n"
             "layers:\n  area:\n    title: Area\n"
             "sources:\n  area_src:\n    path: %s/data/areas/landkreis_demo.geojson\n"
             "    layer: area\n    agency: test\n    label:\n      level: OFFEN\n"
             "maps:\n  lage:\n    title: Area mask\n    layers: [area]\n",
             g_dir);
    t_write(mdir, "mask.yaml", mcfg);
    g_area_cfg = t_path(mdir, "mask.yaml");
    r = t_lagebild("ingest", g_area_cfg, "--quiet", NULL);
    if (r.status != 0)
        fprintf(stderr, "%s\n%s\n", r.out, r.err);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    char *mstore = t_path(mdir, "mask.sqlite");
    make_tile_list(mstore);
    free(mstore);
    free(mdir);

    /* the filtered stores, and which renders they need */
    g_jobs = calloc(NROLES * g_ntiles, sizeof *g_jobs);
    ASSERT(g_jobs);
    size_t shared = 0, empty = 0;
    for (size_t ri = 0; ri < NROLES; ri++) {
        char store_name[64], cfg_name[64];
        snprintf(store_name, sizeof store_name, "role_%s.sqlite", ROLES[ri].name);
        snprintf(cfg_name, sizeof cfg_name, "role_%s.yaml", ROLES[ri].name);
        char *store = t_path(g_dir, store_name);
        filter_store(&ROLES[ri], store, &g_kept[ri], &g_removed[ri]);
        g_role_cfg[ri] = config_for_store(store_name, cfg_name);
        uint64_t keys[MAX_TILES];
        neighbourhood_keys(store, keys);
        free(store);
        for (size_t i = 0; i < g_ntiles; i++) {
            cell *c = &g_cells[ri][i];
            c->key = keys[i];
            c->ref = -1;
            if (!keys[i]) {
                empty++;
                continue;
            }
            /* the same features near the same tile: one render serves both roles */
            for (size_t rj = 0; rj < ri && c->ref < 0; rj++)
                if (g_cells[rj][i].key == keys[i])
                    c->ref = g_cells[rj][i].ref;
            if (c->ref >= 0) {
                shared++;
                continue;
            }
            job *j = &g_jobs[g_njobs];
            j->t = &g_tiles[i];
            j->cfg = g_role_cfg[ri];
            snprintf(j->out, sizeof j->out, "%s/ref_%s_%zu.png", g_dir, ROLES[ri].name, i);
            c->ref = (int)g_njobs++;
        }
    }

    char *err = t_path(g_dir, "server.stderr");
    bool ok = t_server_start(&g_srv, cfg, NULL, err);
    free(err);
    free(cfg);
    ASSERT(ok);
    double t1 = t_mono();
    fetcher f = {0};
    run_jobs(g_jobs, g_njobs, 3, fetch_one, &f);
    fprintf(stderr,
            "  %zu tiles x %zu roles: %zu reference renders (%zu shared between roles, %zu with "
            "nothing near the tile); %.1f s setup, %.1f s rendering and "
            "fetching (server ready after %.2f s)\n",
            g_ntiles, NROLES, g_njobs, shared, empty, t1 - t0, t_mono() - t1,
            g_srv.started_s);
    g_fixture = 1;
}

/* ------------------------------------------------------------ tests */

/* The role table above still says what demo/lagebild.yaml says. */
LB_TEST(test_role_table_matches_demo_config)
{
    char *path = t_path(LB_SOURCE_DIR, "demo/lagebild.yaml");
    lb_config *cfg = NULL;
    char *diag = NULL;
    lb_status rc = lb_config_load(path, &cfg, &diag);
    if (rc != LB_OK)
        fprintf(stderr, "%s\n", diag ? diag : "");
    free(diag);
    free(path);
    ASSERT_EQ(rc, LB_OK);
    ASSERT_EQ(cfg->phase, LB_PHASE_REAKTION);
    ASSERT_EQ(cfg->nroles, NROLES);
    for (size_t i = 0; i < NROLES; i++) {
        const role_def *d = &ROLES[i];
        const lb_role_cfg *r = lb_config_role(cfg, d->name);
        ASSERT(r);
        ASSERT_EQ((int)r->clearance.level, d->level);
        char buf[512];
        lb_config_format_groups(cfg, r->clearance.groups, buf, sizeof buf);
        ASSERT_STREQ(buf, d->groups);
        lb_config_format_caveats(cfg, r->clearance.caveats, buf, sizeof buf);
        ASSERT_STREQ(buf, d->caveats);
        ASSERT_EQ(r->all_layers, strcmp(d->layers, "*") == 0);
        if (!r->all_layers) {
            for (size_t k = 0; k < r->nlayers; k++)
                ASSERT(list_has(d->layers, r->layers[k]));
            size_t nd = 1;
            for (const char *p = d->layers; *p; p++)
                nd += *p == ',';
            ASSERT_EQ(r->nlayers, nd);
        }
        size_t nphase = 0;
        for (size_t g = 0; g < r->nphase_grants; g++) {
            if (!(r->phase_grants[g].phases & (1u << LB_PHASE_REAKTION)))
                continue;
            for (size_t k = 0; k < r->phase_grants[g].nlayers; k++) {
                ASSERT(list_has(d->phase_layers, r->phase_grants[g].layers[k]));
                nphase++;
            }
        }
        size_t nd = *d->phase_layers ? 1 : 0;
        for (const char *p = d->phase_layers; *p; p++)
            nd += *p == ',';
        ASSERT_EQ(nphase, nd);
        ASSERT_EQ(r->area != NULL, d->area);
        ASSERT(r->valid_from == NULL && r->valid_to == NULL);
        /* the demo token of the role holds exactly this role */
        bool found = false;
        for (size_t t = 0; t < cfg->ntokens; t++) {
            const lb_token_cfg *tk = &cfg->tokens[t];
            if (strcmp(tk->principal, d->token) == 0) {
                found = true;
                ASSERT_EQ(tk->nroles, 1);
                ASSERT_STREQ(tk->roles[0], d->name);
                ASSERT(!tk->revoked);
            }
        }
        ASSERT(found);
    }
    lb_config_free(cfg);
}

/* The tile list covers zooms 8..18, @2x tiles and the area's edge. */
LB_TEST(test_tile_list_covers_the_data)
{
    fixture();
    ASSERT(g_ntiles >= MIN_TILES);
    for (int z = 8; z <= 18; z++) {
        bool have = false;
        for (size_t i = 0; i < g_ntiles; i++)
            have |= g_tiles[i].z == z;
        if (!have)
            LBT__FAIL("no tile at zoom %d", z);
    }
    size_t hi = 0, crossing = 0, crossing_data = 0;
    for (size_t i = 0; i < g_ntiles; i++) {
        hi += g_tiles[i].scale == 2;
        crossing += g_crossing[i];
        bool data = false;
        for (size_t r = 0; r < NROLES; r++)
            data |= ROLES[r].area && g_cells[r][i].key != 0;
        crossing_data += g_crossing[i] && data;
    }
    fprintf(stderr,
            "  %zu tiles: %zu @2x, %zu crossing the area boundary (%zu of them with data the "
            "area-limited role sees)\n",
            g_ntiles, hi, crossing, crossing_data);
    ASSERT(hi >= MIN_SPECIAL);
    ASSERT(crossing_data >= MIN_SPECIAL);
}

/* The first pixel found that breaks a check, for the failure message. */
typedef struct finding {
    bool found;
    size_t tile, x, y;
    unsigned char got[4], ref[4];
    bool inside; /* for area-limited roles: the pixel lies inside the area */
} finding;

static void note(finding *f, size_t tile, size_t p, int px, const unsigned char *a,
                 const unsigned char *b, bool inside)
{
    if (f->found)
        return;
    *f = (finding){.found = true, .tile = tile, .x = p % (size_t)px, .y = p / (size_t)px,
                   .inside = inside};
    memcpy(f->got, a, 4);
    memcpy(f->ref, b, 4);
}

static void print_finding(const char *what, const role_def *r, const finding *f)
{
    const tile *t = &g_tiles[f->tile];
    const cell *c = &g_cells[r - ROLES][f->tile];
    fprintf(stderr,
            "  %s: role %s, tile %d/%ld/%ld%s, pixel (%zu, %zu): served RGBA (%d,%d,%d,%d), "
            "reference (%d,%d,%d,%d)%s\n"
            "    reference: %s\n",
            what, r->name, t->z, t->x, t->y, t->scale == 2 ? "@2x" : "", f->x, f->y, f->got[0],
            f->got[1], f->got[2], f->got[3], f->ref[0], f->ref[1], f->ref[2], f->ref[3],
            !r->area ? "" : f->inside ? " (inside the area)" : " (outside the area)",
            c->ref >= 0 ? g_jobs[c->ref].out : "(nothing near the tile: transparent)");
}

/* ------------------------------------------------------------ the area mask */

/* Polygon (n points, xy pairs) clipped to the side of x (axis 0) or y
 * (axis 1) = bound where the coordinate is >= bound (upper) or <= bound
 * (Sutherland-Hodgman; a concave polygon may come out with edges along the
 * bound, which add no area).  Returns the points written to out (at most 2n). */
static size_t clip_half(const double *in, size_t n, double *out, int axis, double bound, bool upper)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const double *a = in + 2 * ((i + n - 1) % n), *b = in + 2 * i;
        bool ain = upper ? a[axis] >= bound : a[axis] <= bound;
        bool bin = upper ? b[axis] >= bound : b[axis] <= bound;
        if (ain != bin) {
            double t = (bound - a[axis]) / (b[axis] - a[axis]);
            out[2 * m + axis] = bound;
            out[2 * m + 1 - axis] = a[1 - axis] + t * (b[1 - axis] - a[1 - axis]);
            m++;
        }
        if (bin) {
            out[2 * m] = b[0];
            out[2 * m + 1] = b[1];
            m++;
        }
    }
    return m;
}

/* |area| of the ring (n points) within the pixel [x, x + 1] x [y, y + 1];
 * a and b hold 16 n points each. */
static double ring_in_pixel(const double *ring, size_t n, double x, double y, double *a, double *b)
{
    size_t m = clip_half(ring, n, a, 0, x, true);
    m = clip_half(a, m, b, 0, x + 1, false);
    m = clip_half(b, m, a, 1, y, true);
    m = clip_half(a, m, b, 1, y + 1, false);
    double s = 0;
    for (size_t i = 0, j = m ? m - 1 : 0; i < m; j = i++)
        s += (b[2 * j] - b[2 * i]) * (b[2 * j + 1] + b[2 * i + 1]);
    return fabs(s) / 2;
}

static double seg_dist(double px, double py, const double *a, const double *b)
{
    double dx = b[0] - a[0], dy = b[1] - a[1], l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? ((px - a[0]) * dx + (py - a[1]) * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return hypot(px - (a[0] + t * dx), py - (a[1] + t * dy));
}

/*
 * Per pixel of tile t: 1 when it lies entirely inside the area polygon, 0
 * when not, -1 when its area inside is within 1e-6 of the whole pixel
 * without being 1 up to rounding (this test's Web Mercator formulas and
 * PROJ may disagree there).  The polygon is projected here, pixel by pixel
 * far from its edges the centre decides, near them the exact area of the
 * pixel inside it (exterior minus holes) does.
 */
static signed char *area_pixels(const tile *t)
{
    int px = 256 * t->scale;
    double world = ldexp(256.0 * t->scale, t->z);
    double *xy = malloc(g_area_npt * 2 * sizeof *xy);
    double *a = malloc(g_area_npt * 32 * sizeof *a), *b = malloc(g_area_npt * 32 * sizeof *b);
    signed char *m = malloc((size_t)px * (size_t)px);
    ASSERT(xy && a && b && m);
    for (size_t k = 0; k < g_area_npt; k++) {
        double la = g_area_pt[k].lat * M_PI / 180.0;
        xy[2 * k] = (g_area_pt[k].lon + 180.0) / 360.0 * world - (double)t->x * 256 * t->scale;
        xy[2 * k + 1] = (1.0 - asinh(tan(la)) / M_PI) / 2.0 * world - (double)t->y * 256 * t->scale;
    }
    for (int y = 0; y < px; y++)
        for (int x = 0; x < px; x++) {
            double cx = x + 0.5, cy = y + 0.5, d = INFINITY;
            bool in = false; /* even-odd: the polygon is valid */
            for (size_t r = 0; r < g_area_nrings; r++) {
                size_t k0 = g_area_ring[r], n = g_area_ring[r + 1] - k0;
                const double *p = xy + 2 * k0;
                for (size_t i = 0, j = n - 1; i < n; j = i++) {
                    d = fmin(d, seg_dist(cx, cy, p + 2 * j, p + 2 * i));
                    if ((p[2 * i + 1] > cy) != (p[2 * j + 1] > cy) &&
                        cx < (p[2 * j] - p[2 * i]) * (cy - p[2 * i + 1]) /
                                     (p[2 * j + 1] - p[2 * i + 1]) + p[2 * i])
                        in = !in;
                }
            }
            signed char v = in;
            if (d <= 0.75) { /* the square (half-diagonal 0.707) may meet an edge */
                double cov = 0;
                for (size_t r = 0; r < g_area_nrings; r++) {
                    size_t k0 = g_area_ring[r], n = g_area_ring[r + 1] - k0;
                    double ar = ring_in_pixel(xy + 2 * k0, n, x, y, a, b);
                    cov += r == 0 ? ar : -ar;
                }
                v = cov >= 1 - 1e-12 ? 1 : cov < 1 - 1e-6 ? 0 : -1;
            }
            m[(size_t)y * (size_t)px + (size_t)x] = v;
        }
    free(xy);
    free(a);
    free(b);
    return m;
}

/*
 * Compare every tile of role ri with its reference.  Two checks over the
 * same pixels:
 *   coverage: alpha within +-1.  Source-over compositing gives the same alpha
 *     in any drawing order, so a difference here means something is drawn
 *     that the reference does not have (or the reverse): a leak, or
 *     over-hiding.
 *   exact: every channel within +-1 (fully transparent pixels equal), the
 *     test's criterion; with equal coverage a difference is in colours only,
 *     e.g. overlapping features drawn in another order.
 * Both are reported for all tiles before the test fails on the first pixel.
 */
static void check_role(size_t ri)
{
    fixture();
    const role_def *r = &ROLES[ri];
    int maxdiff = 0, maxalpha = 0;
    size_t compared = 0, nonempty = 0, rendered = 0, bad_tiles = 0, undecided = 0;
    finding cov = {0}, exact = {0};
    for (size_t i = 0; i < g_ntiles; i++) {
        const tile *t = &g_tiles[i];
        cell *c = &g_cells[ri][i];
        if (c->resp.status != 200) {
            fprintf(stderr, "  role %s, tile %d/%ld/%ld@%dx: HTTP status %d\n", r->name, t->z,
                    t->x, t->y, t->scale, c->resp.status);
            LBT__FAIL("the role's tile was not served");
        }
        int px = 256 * t->scale;
        size_t npx = (size_t)px * (size_t)px;
        img got, ref = {0};
        signed char *mask = NULL; /* area_pixels, for tiles the area's boundary crosses */
        char why[640]; /* room for a path of g_jobs[].out */
        if (!img_decode(c->resp.body, c->resp.bodylen, &got, why, sizeof why))
            LBT__FAIL("role %s tile %d/%ld/%ld@%dx: served PNG does not decode: %s", r->name,
                      t->z, t->x, t->y, t->scale, why);
        ASSERT_EQ(got.w, px);
        ASSERT_EQ(got.h, px);
        if (g_keep) {
            char sp[600];
            snprintf(sp, sizeof sp, "%s/srv_%s_%zu.png", g_dir, r->name, i);
            FILE *sf = fopen(sp, "wb");
            if (sf) {
                fwrite(c->resp.body, 1, c->resp.bodylen, sf);
                fclose(sf);
            }
        }
        if (c->ref >= 0) {
            if (!img_load(g_jobs[c->ref].out, &ref, why, sizeof why))
                LBT__FAIL("reference %s: %s", g_jobs[c->ref].out, why);
            ASSERT_EQ(ref.w, px);
            ASSERT_EQ(ref.h, px);
            rendered++;
        } else {
            ref.w = ref.h = px;
            ref.px = calloc(npx, 4);
        }
        if (r->area) {
            if (g_crossing[i])
                mask = area_pixels(t);
            for (size_t p = 0; p < npx; p++)
                if (mask ? mask[p] != 1 : !g_inside[i])
                    memset(ref.px + 4 * p, 0, 4);
        }
        bool any = false;
        size_t ndiff = 0;
        long bx0 = px, by0 = px, bx1 = -1, by1 = -1;
        for (size_t p = 0; p < npx; p++) {
            const unsigned char *a = got.px + 4 * p, *b = ref.px + 4 * p;
            any |= a[3] != 0;
            if (mask && mask[p] < 0) {
                undecided++;
                continue;
            }
            if (a[3] == 0 && b[3] == 0)
                continue;
            int d = 0;
            for (int k = 0; k < 4; k++)
                d = abs(a[k] - b[k]) > d ? abs(a[k] - b[k]) : d;
            int da = abs(a[3] - b[3]);
            maxdiff = d > maxdiff ? d : maxdiff;
            maxalpha = da > maxalpha ? da : maxalpha;
            bool inside = mask ? mask[p] == 1 : g_inside[i];
            if (da > 1)
                note(&cov, i, p, px, a, b, inside);
            if (d > 1) {
                note(&exact, i, p, px, a, b, inside);
                ndiff++;
                long x = (long)(p % (size_t)px), y = (long)(p / (size_t)px);
                bx0 = x < bx0 ? x : bx0;
                by0 = y < by0 ? y : by0;
                bx1 = x > bx1 ? x : bx1;
                by1 = y > by1 ? y : by1;
            }
        }
        if (ndiff) {
            bad_tiles++;
            fprintf(stderr,
                    "  role %s, tile %d/%ld/%ld%s: %zu pixels differ, within (%ld,%ld)-(%ld,%ld)\n",
                    r->name, t->z, t->x, t->y, t->scale == 2 ? "@2x" : "", ndiff, bx0, by0, bx1,
                    by1);
        }
        nonempty += any;
        compared++;
        free(got.px);
        free(ref.px);
        free(mask);
    }
    fprintf(stderr,
            "  role %s: %zu tiles compared (%zu not empty, %zu rendered references), %zu differ; "
            "max channel difference %d, max alpha difference %d; %ld features visible, %ld "
            "filtered out\n",
            r->name, compared, nonempty, rendered, bad_tiles, maxdiff, maxalpha, g_kept[ri],
            g_removed[ri]);
    if (r->area)
        fprintf(stderr, "  role %s: %zu pixels within 1e-6 of lying entirely inside the area, "
                "not compared\n", r->name, undecided);
    if (cov.found) {
        print_finding("COVERAGE DIFFERS (drawn where the reference is not, or the reverse)", r,
                      &cov);
        LBT__FAIL("role %s: the served tile covers other pixels than the filtered reference",
                  r->name);
    }
    if (exact.found) {
        print_finding("colours differ (coverage agrees)", r, &exact);
        LBT__FAIL("role %s: the served tile differs from the filtered reference", r->name);
    }
}

LB_TEST(test_police) { check_role(0); }
LB_TEST(test_fire) { check_role(1); }
LB_TEST(test_military) { check_role(2); }
LB_TEST(test_kritis) { check_role(3); }
LB_TEST(test_lagezentrum) { check_role(4); }
LB_TEST(test_landkreis) { check_role(5); }

LB_TEST(test_server_stops_cleanly)
{
    fixture();
    int ws = t_server_stop(&g_srv, 60);
    if (!(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0))
        t_server_dump_stderr(&g_srv);
    ASSERT(ws != -1);
    ASSERT(WIFEXITED(ws));
    ASSERT_EQ(WEXITSTATUS(ws), 0);
    g_fixture = -1;
}

LB_TESTS(test_role_table_matches_demo_config, test_tile_list_covers_the_data, test_police,
         test_fire, test_military, test_kritis, test_lagezentrum, test_landkreis,
         test_server_stops_cleanly)
