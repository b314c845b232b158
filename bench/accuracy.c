/*
 * accuracy — how exactly does lagebild place DHDN and MGRS input?
 *
 *   build/bench/accuracy [--no-geoconvert] [--samples N]
 *
 * 1. BeTA2007: BKG's published control points (tests/data/beta2007) through
 *    lb_transform_new/lb_transform_points (PROJ's most accurate operation,
 *    i.e. the BETA2007 NTv2 grid), next to the legacy 7-parameter Helmert
 *    that old PROJ.4 strings carry (+towgs84=598.1,73.7,418.2,0.202,0.045,
 *    -2.455,6.7 on the Bessel ellipsoid): count, max and mean deviation in
 *    metres, and the ratio Helmert/grid.
 * 2. MGRS: lb_mgrs_from_lonlat / lb_mgrs_to_lonlat against GeographicLib
 *    (the reference the MGRS tests use):
 *      a) the examples published in GeoConvert(1) of GeographicLib,
 *      b) a table of positions around the world (zone exceptions, UPS,
 *         equator, antimeridian, band edges) computed with GeographicLib
 *         2.1.2's GeoConvert and embedded below, and the GeoConvert tables
 *         of tests/test_mgrs.c (fwd_cases, rev_cases; read at run time),
 *      c) when GeoConvert is installed (geographiclib-tools), N random
 *         positions worldwide, forward at 5 and 2 digits and reverse,
 *      d) round trips lon/lat -> 10-digit MGRS -> cell centre over Germany,
 *         which must come back within half a cell diagonal (0.71 m).
 *
 * Exit status 0 when every MGRS comparison agrees and the grid stays within
 * 1 cm of every control point, 1 otherwise.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lagebild/fusion.h"
#include "lagebild/mgrs.h"

#ifndef LB_SOURCE_DIR
#define LB_SOURCE_DIR "."
#endif
#ifndef LB_TESTDATA_DIR
#define LB_TESTDATA_DIR "tests/data"
#endif

#define GRID_TOL_M 0.01

/* ---- metres between two lon/lat positions (GRS 80 radii of curvature) -- */

static double lonlat_dist_m(double lon1, double lat1, double lon2, double lat2)
{
    const double a = 6378137.0, f = 1 / 298.257222101, e2 = f * (2 - f);
    double phi = (lat1 + lat2) / 2 * M_PI / 180, s = sin(phi);
    double w = sqrt(1 - e2 * s * s);
    double mer = a * (1 - e2) / (w * w * w), nor = a / w;
    double dlon = lon1 - lon2;
    if (dlon > 180)
        dlon -= 360;
    if (dlon < -180)
        dlon += 360;
    double dy = (lat1 - lat2) * M_PI / 180 * mer;
    double dx = dlon * M_PI / 180 * nor * cos(phi);
    return hypot(dx, dy);
}

/* ---- deviation statistics ---------------------------------------------- */

typedef struct stat {
    int n, failed;
    double max, sum;
} stat;

static void stat_add(stat *s, double d)
{
    s->n++;
    s->sum += d;
    if (d > s->max)
        s->max = d;
}

static double stat_mean(const stat *s) { return s->n ? s->sum / s->n : 0; }

static void print_row(const char *name, const stat *g, const stat *h)
{
    double gm = stat_mean(g), hm = stat_mean(h);
    char ratio[32];
    if (gm > 0)
        snprintf(ratio, sizeof ratio, "%.3gx", hm / gm);
    else
        snprintf(ratio, sizeof ratio, "inf");
    printf("  %-30s %4d  %10.3f %10.4f   %10.1f %10.1f   %12s\n", name, g->n, g->max * 1000,
           gm * 1000, h->max * 1000, hm * 1000, ratio);
    if (g->failed || h->failed)
        printf("  %-30s (%d grid / %d Helmert points could not be transformed)\n", "",
               g->failed, h->failed);
}

/* ---- 1. BeTA2007 -------------------------------------------------------- */

static const char *const HELMERT = "+towgs84=598.1,73.7,418.2,0.202,0.045,-2.455,6.7";

static lb_transform *transform_or_die(const char *src, const char *dst)
{
    lb_transform *t = NULL;
    lb_error err;
    if (lb_transform_new(src, dst, &t, &err) != LB_OK) {
        fprintf(stderr, "accuracy: %s\n", err.msg);
        exit(1);
    }
    return t;
}

static bool run_beta2007(void)
{
    printf("BeTA2007 control points (BKG): lagebild (lb_transform = PROJ's best operation,\n"
           "BETA2007.gsb grid) vs. the legacy 7-parameter Helmert (%s, Bessel)\n\n", HELMERT);
    printf("  %-30s %4s  %10s %10s   %10s %10s   %12s\n", "", "", "grid", "grid", "Helmert",
           "Helmert", "ratio");
    printf("  %-30s %4s  %10s %10s   %10s %10s   %12s\n", "data set", "n", "max mm", "mean mm",
           "max mm", "mean mm", "Helmert/grid");
    bool ok = true;

    /* GK zone 2-5 (EPSG:31466-31469) -> UTM 32/33 on ETRS89 (EPSG:25832/25833) */
    const char *path = LB_TESTDATA_DIR "/beta2007/gk_to_utm.txt";
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "accuracy: cannot open %s\n", path);
        return false;
    }
    lb_transform *grid[6][2] = {{NULL}}, *helm[6][2] = {{NULL}};
    stat sg = {0}, sh = {0};
    int gk, utm;
    double e, n, ue, un;
    while (fscanf(f, "%d %d %lf %lf %lf %lf", &gk, &utm, &e, &n, &ue, &un) == 6) {
        if (gk < 2 || gk > 5 || (utm != 32 && utm != 33)) {
            fprintf(stderr, "accuracy: %s: bad zone %d/%d\n", path, gk, utm);
            ok = false;
            continue;
        }
        int u = utm - 32;
        if (!grid[gk][u]) {
            char src[256], dst[256];
            snprintf(src, sizeof src, "EPSG:%d", 31464 + gk);
            snprintf(dst, sizeof dst, "EPSG:%d", 25800 + utm);
            grid[gk][u] = transform_or_die(src, dst);
            snprintf(src, sizeof src,
                     "+proj=tmerc +lat_0=0 +lon_0=%d +k=1 +x_0=%d +y_0=0 +ellps=bessel %s"
                     " +units=m +no_defs +type=crs",
                     3 * gk, gk * 1000000 + 500000, HELMERT);
            snprintf(dst, sizeof dst,
                     "+proj=utm +zone=%d +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m"
                     " +no_defs +type=crs",
                     utm);
            helm[gk][u] = transform_or_die(src, dst);
        }
        lb_error err;
        double x = e, y = n;
        if (lb_transform_points(grid[gk][u], 1, &x, &y, &err) == LB_OK)
            stat_add(&sg, hypot(x - ue, y - un));
        else
            sg.failed++;
        x = e, y = n;
        if (lb_transform_points(helm[gk][u], 1, &x, &y, &err) == LB_OK)
            stat_add(&sh, hypot(x - ue, y - un));
        else
            sh.failed++;
    }
    fclose(f);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 2; j++) {
            lb_transform_free(grid[i][j]);
            lb_transform_free(helm[i][j]);
        }
    print_row("GK2-5 -> UTM32/33 (E,N)", &sg, &sh);
    ok = ok && sg.n > 0 && !sg.failed && sg.max <= GRID_TOL_M;

    /* DHDN geographic (EPSG:4314) -> ETRS89 geographic (EPSG:4258) */
    path = LB_TESTDATA_DIR "/beta2007/dhdn_to_etrs89_lonlat.txt";
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "accuracy: cannot open %s\n", path);
        return false;
    }
    lb_transform *g = transform_or_die("EPSG:4314", "EPSG:4258");
    char src[256];
    snprintf(src, sizeof src, "+proj=longlat +ellps=bessel %s +no_defs +type=crs", HELMERT);
    lb_transform *h = transform_or_die(
        src, "+proj=longlat +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +no_defs +type=crs");
    stat tg = {0}, th = {0};
    double lon, lat, elon, elat;
    while (fscanf(f, "%lf %lf %lf %lf", &lon, &lat, &elon, &elat) == 4) {
        lb_error err;
        double x = lon, y = lat;
        if (lb_transform_points(g, 1, &x, &y, &err) == LB_OK)
            stat_add(&tg, lonlat_dist_m(x, y, elon, elat));
        else
            tg.failed++;
        x = lon, y = lat;
        if (lb_transform_points(h, 1, &x, &y, &err) == LB_OK)
            stat_add(&th, lonlat_dist_m(x, y, elon, elat));
        else
            th.failed++;
    }
    fclose(f);
    lb_transform_free(g);
    lb_transform_free(h);
    print_row("DHDN -> ETRS89 lon/lat", &tg, &th);
    ok = ok && tg.n > 0 && !tg.failed && tg.max <= GRID_TOL_M;

    stat all_g = {sg.n + tg.n, 0, fmax(sg.max, tg.max), sg.sum + tg.sum};
    stat all_h = {sh.n + th.n, 0, fmax(sh.max, th.max), sh.sum + th.sum};
    print_row("all", &all_g, &all_h);
    printf("\n  grid within %.0f mm of every control point: %s\n\n", GRID_TOL_M * 1000,
           ok ? "yes" : "NO");
    return ok;
}

/* ---- 2. MGRS ------------------------------------------------------------ */

/* Compare MGRS strings ignoring case and blanks. */
static bool mgrs_equal(const char *a, const char *b)
{
    for (;;) {
        while (*a == ' ')
            a++;
        while (*b == ' ')
            b++;
        if (!*a || !*b)
            return !*a && !*b;
        char ca = *a >= 'a' && *a <= 'z' ? (char)(*a - 32) : *a;
        char cb = *b >= 'a' && *b <= 'z' ? (char)(*b - 32) : *b;
        if (ca != cb)
            return false;
        a++, b++;
    }
}

typedef struct tally {
    int n, ok;
    double worst_m; /* reverse: largest distance from the reference centre */
} tally;

static void tally_print(const char *what, const tally *t, const char *extra)
{
    printf("  %-64s %6d/%-6d agree%s%s\n", what, t->ok, t->n, extra ? "  " : "",
           extra ? extra : "");
}

/* forward: lon/lat at precision -> expected string */
static void check_forward(tally *t, double lon, double lat, int prec, const char *want,
                          bool verbose)
{
    char got[32] = "";
    lb_error err;
    t->n++;
    lb_status rc = lb_mgrs_from_lonlat(lon, lat, prec, got, sizeof got, &err);
    if (rc == LB_OK && mgrs_equal(got, want)) {
        t->ok++;
        return;
    }
    if (verbose || t->n - t->ok <= 10)
        printf("    MISMATCH forward lat %.9f lon %.9f p%d: lagebild %s, GeographicLib %s\n",
               lat, lon, prec, rc == LB_OK ? got : err.msg, want);
}

/* reverse: string -> expected centre, within tol metres */
static void check_reverse(tally *t, const char *s, double want_lon, double want_lat, double tol,
                          bool verbose)
{
    double lon, lat, size;
    lb_error err;
    t->n++;
    lb_status rc = lb_mgrs_to_lonlat(s, &lon, &lat, &size, &err);
    double d = rc == LB_OK ? lonlat_dist_m(lon, lat, want_lon, want_lat) : INFINITY;
    if (rc == LB_OK && d > t->worst_m)
        t->worst_m = d;
    if (rc == LB_OK && d <= tol) {
        t->ok++;
        return;
    }
    if (verbose || t->n - t->ok <= 10) {
        if (rc == LB_OK)
            printf("    MISMATCH reverse %s: lagebild %.9f %.9f, GeographicLib %.9f %.9f "
                   "(%.3f m)\n", s, lat, lon, want_lat, want_lon, d);
        else
            printf("    MISMATCH reverse %s: lagebild fails: %s\n", s, err.msg);
    }
}

/*
 * a) Published in GeoConvert(1) (GeographicLib 2.1), sections MGRS, ZONE and
 *    EXAMPLES.
 */
static bool mgrs_published(void)
{
    tally f = {0}, r = {0};
    /* "echo E44d24 N33d20 | GeoConvert -m -p -3 => 38SMB4488" */
    check_forward(&f, 44.4, 33.0 + 20.0 / 60, 2, "38SMB4488", true);
    /* "79.9S 6.1E corresponds to 32CMS4324728161 (standard UTM zone = 32)" */
    check_forward(&f, 6.1, -79.9, 5, "32CMS4324728161", true);
    /* "echo 79.9S 6.1E | GeoConvert -p -3 -m => 32CMS4328" */
    check_forward(&f, 6.1, -79.9, 2, "32CMS4328", true);
    /* "echo 38SMB4488 | GeoConvert => 33.33424 44.40363" (5 decimals: 0.6 m) */
    check_reverse(&r, "38SMB4488", 44.40363, 33.33424, 0.75, true);
    /* "38SMB4488 ... the center of the square (38n 444500 3688500)" */
    check_reverse(&r, "38SMB4488", 44.4036278478, 33.3342350846, 0.001, true);
    tally_print("a) GeoConvert(1) published examples, forward", &f, NULL);
    char extra[64];
    snprintf(extra, sizeof extra, "(worst %.3f m)", r.worst_m);
    tally_print("   GeoConvert(1) published examples, reverse", &r, extra);
    return f.ok == f.n && r.ok == r.n;
}

/* b) computed with GeographicLib 2.1.2: GeoConvert -m -p 0 and GeoConvert -p 9 */
static const struct {
    double lat, lon;
    const char *mgrs;             /* 10 digits */
    double centre_lat, centre_lon; /* of the 1 m cell */
    const char *what;
} ref[] = {
    {52.1036, 9.3561, "32UNC2438972620", 52.10359721613685, 9.35609345093953, "Hameln"},
    {51.1528, 14.9872, "33UVS9910466817", 51.15280335617319, 14.98719596077688, "Görlitz"},
    {47.2701, 10.1789, "32TNT8917335853", 47.27009559639693, 10.17890138654752, "Oberstdorf"},
    {55.0581, 8.4169, "32UMG6275401412", 55.05810339988513, 8.41690640928504, "List/Sylt"},
    {60.39, 5.32, "32VKN9723000510", 60.39000304997971, 5.32000473679752, "Bergen, 32V"},
    {56.5, 3.5, "32VJH6162275290", 56.50000095437460, 3.50000237231135, "North Sea, 32V"},
    {78.22, 15.65, "33XWG1481383004", 78.22000310928492, 15.64999897275221, "Svalbard 33X"},
    {79.0, 5.0, "31XEH4259470703", 78.99999681914210, 5.00001659455246, "31X"},
    {80.0, 35.0, "37XDJ2251684250", 79.99999955399986, 35.00001201338677, "37X"},
    {83.99, -20.0, "27XWP1168827078", 83.98999640846679, -20.00003458397181, "84N, UTM"},
    {84.01, -20.0, "YXA7234674526", 84.00999666697270, -19.99998088430418, "84N, UPS"},
    {89.5, 30.0, "ZAG2775651924", 89.49999452008500, 30.00008682185799, "UPS north"},
    {-89.0, -45.0, "AZN2149278507", -89.00000134079728, -45.0, "UPS south"},
    {-80.01, 10.0, "BBY9306794941", -80.01000047308295, 9.99998839110692, "80S, UPS"},
    {-79.99, 10.0, "32CNS1940319363", -79.99000077265366, 9.99997498715101, "80S, UTM"},
    {-33.8688, 151.2093, "56HLH3436850948", -33.86879858520177, 151.20929858481273, "Sydney"},
    {-55.98, -67.27, "19FFT0794594795", -55.97999962596370, -67.27000653902952, "Cape Horn"},
    {0.00001, 0.00001, "31NAA6602200001", 0.00001355224669, 0.00000948516348, "equator N"},
    {-0.00001, -0.00001, "30MZE3397799998", -0.00001355224669, -0.00000948516348, "equator S"},
    {10.0, 179.99999, "60PZS2892706908", 9.99999690204192, 179.99998870780942, "antimeridian"},
    {51.0, 12.0, "33UTS8951154109", 51.00000301566874, 12.00000489497615, "12E, zone 33"},
    {51.0, 11.99999, "32UQB1048854109", 51.00000301566874, 11.99999510502385, "12E, zone 32"},
};

static bool mgrs_table(void)
{
    tally f = {0}, r = {0};
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        check_forward(&f, ref[i].lon, ref[i].lat, 5, ref[i].mgrs, true);
        check_reverse(&r, ref[i].mgrs, ref[i].centre_lon, ref[i].centre_lat, 0.001, true);
    }
    tally_print("b) reference table (GeoConvert 2.1.2), forward 10 digits", &f, NULL);
    char extra[64];
    snprintf(extra, sizeof extra, "(worst %.6f m)", r.worst_m);
    tally_print("   reference table (GeoConvert 2.1.2), reverse", &r, extra);
    return f.ok == f.n && r.ok == r.n;
}

/*
 * b') the GeoConvert reference tables of tests/test_mgrs.c (fwd_cases: lon/lat
 * -> 10, 6 and 0 digits; rev_cases: MGRS -> cell centre), read from the
 * source so that the benchmark always uses the tests' current values.
 */
static bool mgrs_test_tables(void)
{
    const char *path = LB_SOURCE_DIR "/tests/test_mgrs.c";
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("  b') %s not found: skipped\n", path);
        return true;
    }
    tally fw = {0}, rv = {0};
    enum { NONE, FWD, REV } in = NONE;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "} fwd_cases[] = {")) {
            in = FWD;
            continue;
        }
        if (strstr(line, "} rev_cases[] = {")) {
            in = REV;
            continue;
        }
        if (strncmp(line, "};", 2) == 0) {
            in = NONE;
            continue;
        }
        char name[128], m5[32], m3[32], m0[32];
        double lon, lat, e, n;
        int zone, north, prec;
        if (in == FWD && sscanf(line, " {\"%127[^\"]\", %lf, %lf, \"%31[^\"]\", \"%31[^\"]\", "
                                      "\"%31[^\"]\"}", name, &lon, &lat, m5, m3, m0) == 6) {
            check_forward(&fw, lon, lat, 5, m5, true);
            check_forward(&fw, lon, lat, 3, m3, true);
            check_forward(&fw, lon, lat, 0, m0, true);
        } else if (in == REV && sscanf(line, " {\"%31[^\"]\", %lf, %lf, %d, %d, %lf, %lf, %d}",
                                       m5, &lon, &lat, &zone, &north, &e, &n, &prec) == 8) {
            check_reverse(&rv, m5, lon, lat, 0.001, true);
        }
    }
    fclose(f);
    if (fw.n == 0 && rv.n == 0) {
        printf("  b') no fwd_cases/rev_cases tables found in %s: skipped\n", path);
        return true;
    }
    tally_print("b') tests/test_mgrs.c GeoConvert table, forward 10/6/0 digits", &fw, NULL);
    char extra[64];
    snprintf(extra, sizeof extra, "(worst %.6f m)", rv.worst_m);
    tally_print("    tests/test_mgrs.c GeoConvert table, reverse (centre)", &rv, extra);
    return fw.ok == fw.n && rv.ok == rv.n;
}

/* ---- c) random positions against a live GeoConvert ---------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static double rnd(rng *r)
{
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(r->s >> 11) * 0x1.0p-53;
}

static bool have_geoconvert(void)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char buf[4096];
    const char *p = path;
    while (*p) {
        const char *q = strchr(p, ':');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s/GeoConvert", (int)n, p);
        if (access(buf, X_OK) == 0)
            return true;
        p += n + (q ? 1 : 0);
    }
    return false;
}

/* Run GeoConvert ARGS over the lines of in; read one output line per input. */
static char **geoconvert(const char *args, char **in, size_t n)
{
    char tmpl[] = "/tmp/lb_accuracy_XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", in[i]);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "GeoConvert %s < %s 2>&1", args, tmpl);
    FILE *p = popen(cmd, "r");
    char **out = calloc(n, sizeof *out);
    char line[256];
    for (size_t i = 0; p && out && i < n && fgets(line, sizeof line, p); i++) {
        line[strcspn(line, "\r\n")] = '\0';
        out[i] = strdup(line);
    }
    if (p)
        pclose(p);
    unlink(tmpl);
    return out;
}

static void free_lines(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static bool mgrs_live(size_t n)
{
    rng r = {20261121};
    double *lon = malloc(n * sizeof *lon), *lat = malloc(n * sizeof *lat);
    char **in = calloc(n, sizeof *in), **lbm = calloc(n, sizeof *lbm);
    if (!lon || !lat || !in || !lbm) {
        fprintf(stderr, "accuracy: out of memory\n");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        /* half over Germany and its neighbours, half worldwide incl. the poles */
        if (i % 2) {
            lon[i] = 3.0 + 17.0 * rnd(&r);
            lat[i] = 45.0 + 12.0 * rnd(&r);
        } else {
            lon[i] = -180.0 + 360.0 * rnd(&r);
            lat[i] = -90.0 + 180.0 * rnd(&r);
        }
        char buf[64];
        snprintf(buf, sizeof buf, "%.12f %.12f", lat[i], lon[i]);
        in[i] = strdup(buf);
    }
    bool ok = true;
    int precs[2] = {5, 2};
    for (int k = 0; k < 2; k++) {
        char args[32];
        snprintf(args, sizeof args, "-m -p %d", precs[k] - 5);
        char **want = geoconvert(args, in, n);
        if (!want) {
            printf("  c) GeoConvert failed to run\n");
            ok = false;
            break;
        }
        tally t = {0};
        for (size_t i = 0; i < n; i++) {
            if (!want[i]) {
                t.n++;
                continue;
            }
            check_forward(&t, lon[i], lat[i], precs[k], want[i], false);
            if (k == 0) {
                char m[32];
                lb_error err;
                if (lb_mgrs_from_lonlat(lon[i], lat[i], 5, m, sizeof m, &err) == LB_OK)
                    lbm[i] = strdup(m);
            }
        }
        free_lines(want, n);
        char what[80];
        snprintf(what, sizeof what, "%sGeoConvert live, %zu random positions, forward %d digits",
                 k == 0 ? "c) " : "   ", n, 2 * precs[k]);
        tally_print(what, &t, NULL);
        ok = ok && t.ok == t.n;
    }
    /* reverse: lagebild's 10-digit strings back to cell centres */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (lbm[i])
            lbm[m++] = lbm[i];
    char **want = geoconvert("-p 9", lbm, m);
    if (want) {
        tally t = {0};
        for (size_t i = 0; i < m; i++) {
            double wlat, wlon;
            if (!want[i] || sscanf(want[i], "%lf %lf", &wlat, &wlon) != 2) {
                t.n++;
                printf("    GeoConvert cannot read %s: %s\n", lbm[i], want[i] ? want[i] : "");
                continue;
            }
            check_reverse(&t, lbm[i], wlon, wlat, 0.001, false);
        }
        char what[80], extra[64];
        snprintf(what, sizeof what, "   GeoConvert live, reverse of those %zu strings", m);
        snprintf(extra, sizeof extra, "(worst %.6f m)", t.worst_m);
        tally_print(what, &t, extra);
        ok = ok && t.ok == t.n;
        free_lines(want, m);
    } else {
        ok = false;
    }
    free_lines(in, n);
    free_lines(lbm, m);
    free(lon);
    free(lat);
    return ok;
}

/* d) round trips over Germany: forward 10 digits, reverse to the 1 m cell centre */
static bool mgrs_roundtrip(size_t n)
{
    rng r = {42};
    tally t = {0};
    for (size_t i = 0; i < n; i++) {
        double lon = 5.9 + 9.1 * rnd(&r), lat = 47.3 + 7.7 * rnd(&r);
        char m[32];
        lb_error err;
        t.n++;
        double blon, blat, size;
        if (lb_mgrs_from_lonlat(lon, lat, 5, m, sizeof m, &err) != LB_OK ||
            lb_mgrs_to_lonlat(m, &blon, &blat, &size, &err) != LB_OK) {
            if (t.n - t.ok <= 10)
                printf("    round trip %.9f %.9f fails: %s\n", lat, lon, err.msg);
            continue;
        }
        double d = lonlat_dist_m(lon, lat, blon, blat);
        if (d > t.worst_m)
            t.worst_m = d;
        if (d <= size * M_SQRT1_2 + 1e-6)
            t.ok++;
        else if (t.n - t.ok <= 10)
            printf("    round trip %.9f %.9f -> %s -> %.9f %.9f: %.3f m\n", lat, lon, m, blat,
                   blon, d);
    }
    char what[80], extra[64];
    snprintf(what, sizeof what, "d) round trips over Germany, %zu positions (<= 0.71 m)", n);
    snprintf(extra, sizeof extra, "(worst %.3f m)", t.worst_m);
    tally_print(what, &t, extra);
    return t.ok == t.n;
}

int main(int argc, char **argv)
{
    bool live = true;
    size_t samples = 20000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-geoconvert") == 0) {
            live = false;
        } else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
            samples = strtoul(argv[++i], NULL, 10);
            if (samples == 0)
                samples = 1;
        } else {
            fprintf(stderr, "usage: accuracy [--no-geoconvert] [--samples N]\n");
            return 2;
        }
    }
    lb_fusion_init();
    bool ok = run_beta2007();

    printf("MGRS: lagebild (fusion/mgrs.c) vs. GeographicLib\n\n");
    bool m = mgrs_published();
    m = mgrs_table() && m;
    m = mgrs_test_tables() && m;
    if (live && have_geoconvert())
        m = mgrs_live(samples) && m;
    else
        printf("  c) skipped (%s)\n", live ? "GeoConvert not installed: apt-get install "
                                             "geographiclib-tools" : "--no-geoconvert");
    m = mgrs_roundtrip(samples) && m;
    printf("\n  MGRS agreement: %s\n", m ? "complete" : "INCOMPLETE (see mismatches above)");

    lb_mgrs_cleanup();
    lb_fusion_cleanup();
    return ok && m ? 0 : 1;
}
