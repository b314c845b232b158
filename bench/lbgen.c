/*
 * lbgen — generator of large synthetic agency data sets for the ingest
 * benchmark (bench/ingest_bench.sh).
 *
 *   lbgen --out DIR --features N [--seed S] [--kritis shp|gml] [--size-scale F]
 *         [--quiet]
 *
 * writes into DIR the four agency kinds the demo has, each in its own format
 * and CRS, N features in total (40 % police, 25 % fire, 20 % military, 15 %
 * KRITIS), scattered uniformly over Germany (5.9-15.0 E, 47.3-55.0 N):
 *
 *   police.geojson         EPSG:4326   points (60 %) and polygons (40 %) mixed
 *   fire_points.shp        EPSG:25832  points (60 % of fire)
 *   fire_areas.shp         EPSG:25832  polygons (40 % of fire)
 *   military.gpkg          EPSG:32632  layers routes (lines, 30 % of military)
 *                                      and areas (polygons, 30 %)
 *   military_units.csv     MGRS        unit positions (40 % of military), 10 digits
 *   kritis_anlagen.shp     EPSG:31467  facilities (points, 70 % of KRITIS)
 *   kritis_leitungen.shp   EPSG:31467  supply lines (30 % of KRITIS)
 *     (with --kritis gml: kritis.gml, layers anlagen and leitungen, GML 3.2)
 *   bench.yaml             a lagebild config mapping every file to a layer
 *
 * Every feature has a unique id, German attributes (typ, bezeichnung, status,
 * zeit, genauigkeit_m) and a label (einstufung, freigabe).  Deliberately bad
 * input, so that validation has work to do:
 *   - 3 % of all polygons are self-intersecting "bow ties" (MakeValid repairs
 *     them into two triangles),
 *   - 0.5 % of the MGRS strings are malformed (rejected by lagebild).
 *
 * --size-scale F multiplies every feature's extent (polygon radii, line
 * steps) by F (default 1).  With F = sqrt(N0 / N) the N features form a
 * "self-similar" set: the N0 set seen 2^(log4(N / N0)) times closer, so a
 * tile holding k features at N looks like a tile holding k features at N0
 * in what it draws (bench/tile_bench.sh uses it for the scaling figure).
 *
 * Output depends only on N, the seed and the size scale (one PRNG stream per file, so one
 * kind's data does not change when another's generation changes).  Memory
 * use is bounded: features are generated in batches of 4096 and streamed to
 * the writers; the GeoPackage is written in transactions of 50 000 features.
 *
 * KRITIS features start west of 13.4 E (lines reach at most ~0.5 degrees
 * further): lagebild's plausibility box for EPSG:31467 (area of use 7.5-10.5 E
 * widened by 3.5 degrees) ends at 14.0 E, so Gauss-Krüger zone 3 coordinates
 * further east (Usedom, Frankfurt/Oder, Görlitz) would be rejected as
 * "outside the area of use" (see bench/README.md).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "lagebild/mgrs.h"

/* ---- command line and small helpers ---------------------------------- */

static const char *usage_text =
    "usage: lbgen --out DIR --features N [--seed S] [--kritis shp|gml] [--size-scale F]\n"
    "             [--quiet]\n"
    "\n"
    "Writes N synthetic features of the four agency kinds (police GeoJSON,\n"
    "fire Shapefiles, military GeoPackage + MGRS CSV, KRITIS Shapefiles or GML)\n"
    "and a lagebild config DIR/bench.yaml mapping them to layers.\n"
    "\n"
    "  -o, --out DIR         output folder (created; existing files are replaced)\n"
    "  -n, --features N      total number of features (>= 20)\n"
    "  -s, --seed S          PRNG seed (default 1)\n"
    "  -k, --kritis FORMAT   shp (default, fast) or gml (GML 3.2, as the demo)\n"
    "  -z, --size-scale F    multiply every feature's extent by F (0.001-1000,\n"
    "                        default 1)\n"
    "  -q, --quiet           no progress output\n";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lbgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- deterministic PRNG: xoshiro256** seeded with splitmix64 ---------- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed * 0x2545f4914f6cdd1dULL + stream * 0x9e3779b97f4a7c15ULL + 1;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* uniform in [0, 1) */
static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
static double rng_range(rng *r, double lo, double hi) { return lo + (hi - lo) * rng_unit(r); }
/* uniform integer in [0, n) */
static unsigned rng_below(rng *r, unsigned n) { return (unsigned)(rng_unit(r) * n); }
static bool rng_chance(rng *r, double p) { return rng_unit(r) < p; }

/* ---- vocabulary -------------------------------------------------------- */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* releasability groups, as declared in bench.yaml (same names as the demo) */
static const char *const groups_decl[] = {"police", "fire", "military", "kritis",
                                          "thw", "lagezentrum", "landkreis"};
#define G_ALL "police,fire,military,kritis,thw,lagezentrum,landkreis"
#define G_BLUE "police,fire,thw,lagezentrum,landkreis"
#define G_MIL "military,lagezentrum"
#define G_MIL_NFD "military,lagezentrum,landkreis,thw"
#define G_KRITIS "kritis,lagezentrum,landkreis,fire,thw"

typedef struct label_mix {
    double p_nfd, p_vs; /* probability of VS-NfD, VS-VERTRAULICH (rest OFFEN) */
    const char *open_groups, *nfd_groups, *vs_groups;
} label_mix;

static const label_mix mix_police = {0.35, 0.05, G_ALL, G_BLUE, "police,lagezentrum"};
static const label_mix mix_fire = {0.25, 0.02, G_ALL, G_BLUE ",kritis", "fire,lagezentrum"};
static const label_mix mix_military = {0.45, 0.25, G_ALL, G_MIL_NFD, G_MIL};
static const label_mix mix_kritis = {0.55, 0.05, G_ALL, G_KRITIS, "kritis,lagezentrum"};

static void pick_label(rng *r, const label_mix *m, const char **level, const char **groups)
{
    double u = rng_unit(r);
    if (u < m->p_vs) {
        *level = "VS-VERTRAULICH";
        *groups = m->vs_groups;
    } else if (u < m->p_vs + m->p_nfd) {
        *level = "VS-NfD";
        *groups = m->nfd_groups;
    } else {
        *level = "OFFEN";
        *groups = m->open_groups;
    }
}

static const char *const places[] = {
    "Hameln", "Göttingen", "Würzburg", "Lübeck", "Münster", "Düsseldorf", "Görlitz",
    "Straubing", "Fürth", "Tübingen", "Oldenburg", "Cottbus", "Passau", "Flensburg",
    "Saarbrücken", "Zwickau", "Bremerhaven", "Ingolstadt", "Gießen", "Neuruppin",
};

static const char *pick(rng *r, const char *const *v, size_t n)
{
    return v[rng_below(r, (unsigned)n)];
}
#define PICK(r, arr) pick((r), (arr), COUNT(arr))

/* an ISO 8601 time in the scenario's two days (20/21 November 2026, UTC) */
typedef struct stamp {
    int day, hour, minute, second;
} stamp;

static stamp pick_time(rng *r)
{
    unsigned s = rng_below(r, 2 * 86400);
    return (stamp){20 + (int)(s / 86400), (int)(s % 86400 / 3600), (int)(s % 3600 / 60),
                   (int)(s % 60)};
}

static void fmt_time(stamp t, char *buf, size_t n)
{
    snprintf(buf, n, "2026-11-%02dT%02d:%02d:%02dZ", t.day, t.hour, t.minute, t.second);
}

/* ---- geometry ---------------------------------------------------------- */

#define GER_W 5.9
#define GER_E 15.0
#define GER_S 47.3
#define GER_N 55.0
#define KRITIS_E 13.4 /* see the header comment */

/*
 * Geometries are built in a local metric frame around a centre (cx, cy) in the
 * target CRS; sx, sy convert metres to target units (1 for projected CRSs,
 * degrees per metre for EPSG:4326).
 */
typedef struct frame {
    double cx, cy, sx, sy;
} frame;

static double size_scale = 1.0; /* --size-scale */

static frame make_frame(double x, double y, double lat, bool geographic)
{
    frame f = {x, y, size_scale, size_scale};
    if (geographic) {
        f.sy = size_scale / 110574.0;
        f.sx = size_scale / (111320.0 * cos(lat * M_PI / 180.0));
    }
    return f;
}

static void add_pt(OGRGeometryH g, const frame *f, double dx, double dy)
{
    OGR_G_AddPoint_2D(g, f->cx + dx * f->sx, f->cy + dy * f->sy);
}

/*
 * A simple polygon: k vertices at increasing angles and random radii around
 * the centre (star-shaped, so never self-intersecting).  When bad, a bow tie
 * (figure eight), which is self-intersecting.
 */
static OGRGeometryH make_polygon(rng *r, const frame *f, double rmin, double rmax, bool bad)
{
    OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing);
    double rad = rng_range(r, rmin, rmax);
    if (bad) {
        add_pt(ring, f, -rad, -rad);
        add_pt(ring, f, rad, rad);
        add_pt(ring, f, rad, -rad);
        add_pt(ring, f, -rad, rad);
        add_pt(ring, f, -rad, -rad);
    } else {
        int k = 5 + (int)rng_below(r, 12);
        double step = 2 * M_PI / k, a0 = rng_range(r, 0, step), fx = 0, fy = 0;
        for (int i = 0; i < k; i++) {
            double a = a0 + i * step + rng_range(r, -0.35, 0.35) * step;
            double rr = rad * rng_range(r, 0.55, 1.0);
            double dx = rr * cos(a), dy = rr * sin(a);
            if (i == 0)
                fx = dx, fy = dy;
            add_pt(ring, f, dx, dy);
        }
        add_pt(ring, f, fx, fy);
    }
    OGRGeometryH poly = OGR_G_CreateGeometry(wkbPolygon);
    OGR_G_AddGeometryDirectly(poly, ring);
    return poly;
}

/* A line: random walk of k vertices with steps of step_min..step_max metres. */
static OGRGeometryH make_line(rng *r, const frame *f, int kmin, int kmax, double step_min,
                              double step_max)
{
    OGRGeometryH g = OGR_G_CreateGeometry(wkbLineString);
    int k = kmin + (int)rng_below(r, (unsigned)(kmax - kmin + 1));
    double x = 0, y = 0, h = rng_range(r, 0, 2 * M_PI);
    add_pt(g, f, x, y);
    for (int i = 1; i < k; i++) {
        double s = rng_range(r, step_min, step_max);
        h += rng_range(r, -0.5, 0.5);
        x += s * cos(h);
        y += s * sin(h);
        add_pt(g, f, x, y);
    }
    return g;
}

static OGRGeometryH make_point(const frame *f)
{
    OGRGeometryH g = OGR_G_CreateGeometry(wkbPoint);
    OGR_G_SetPoint_2D(g, 0, f->cx, f->cy);
    return g;
}

/* ---- progress ---------------------------------------------------------- */

typedef struct progress {
    bool on;
    uint64_t done, total;
    double t0, last;
    const char *what;
} progress;

static void progress_tick(progress *p, bool force)
{
    if (!p->on)
        return;
    double t = now_s();
    if (!force && t - p->last < 0.25)
        return;
    p->last = t;
    double rate = p->done / (t - p->t0 > 1e-9 ? t - p->t0 : 1e-9);
    fprintf(stderr, "\r  lbgen: %-22s %10llu/%llu features (%3.0f%%), %.0f/s   ", p->what,
            (unsigned long long)p->done, (unsigned long long)p->total,
            100.0 * (double)p->done / (double)(p->total ? p->total : 1), rate);
}

/* ---- OGR writing helpers ---------------------------------------------- */

typedef struct field_spec {
    const char *name;
    OGRFieldType type;
    int width, precision; /* 0 = driver default */
} field_spec;

static OGRSpatialReferenceH srs_epsg(int epsg)
{
    OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
    if (OSRImportFromEPSG(s, epsg) != OGRERR_NONE)
        die("cannot build EPSG:%d (is proj-data installed?)", epsg);
    OSRSetAxisMappingStrategy(s, OAMS_TRADITIONAL_GIS_ORDER);
    return s;
}

static GDALDatasetH create_ds(const char *driver, const char *path, char **dsco)
{
    GDALDriverH drv = GDALGetDriverByName(driver);
    if (!drv)
        die("GDAL has no %s driver", driver);
    VSIUnlink(path);
    GDALDatasetH ds = GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, dsco);
    if (!ds)
        die("cannot create %s: %s", path, CPLGetLastErrorMsg());
    return ds;
}

static OGRLayerH create_layer(GDALDatasetH ds, const char *name, int epsg, OGRwkbGeometryType gt,
                              const field_spec *fields, size_t nfields, char **lco)
{
    OGRSpatialReferenceH srs = srs_epsg(epsg);
    OGRLayerH lyr = GDALDatasetCreateLayer(ds, name, srs, gt, lco);
    OSRRelease(srs);
    if (!lyr)
        die("cannot create layer %s: %s", name, CPLGetLastErrorMsg());
    for (size_t i = 0; i < nfields; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(fields[i].name, fields[i].type);
        if (fields[i].width)
            OGR_Fld_SetWidth(fd, fields[i].width);
        if (fields[i].precision)
            OGR_Fld_SetPrecision(fd, fields[i].precision);
        if (OGR_L_CreateField(lyr, fd, TRUE) != OGRERR_NONE)
            die("cannot create field %s in %s: %s", fields[i].name, name, CPLGetLastErrorMsg());
        OGR_Fld_Destroy(fd);
    }
    return lyr;
}

static void write_feature(OGRLayerH lyr, OGRFeatureH f, OGRGeometryH g)
{
    OGR_F_SetGeometryDirectly(f, g);
    OGR_F_SetFID(f, OGRNullFID); /* the feature object is reused: let the driver number it */
    if (OGR_L_CreateFeature(lyr, f) != OGRERR_NONE)
        die("cannot write a feature to %s: %s", OGR_L_GetName(lyr), CPLGetLastErrorMsg());
}

static void close_ds(GDALDatasetH ds, const char *what)
{
    CPLErrorReset();
    GDALClose(ds);
    if (CPLGetLastErrorType() >= CE_Failure)
        die("error closing %s: %s", what, CPLGetLastErrorMsg());
}

/* Centres of a batch of features: uniform lon/lat, then x/y in the target CRS. */
#define BATCH 4096

typedef struct centres {
    OGRCoordinateTransformationH ct; /* NULL for EPSG:4326 */
    double lon[BATCH], lat[BATCH], x[BATCH], y[BATCH];
    int ok[BATCH];
} centres;

static void centres_init(centres *c, int epsg)
{
    c->ct = NULL;
    if (epsg == 4326)
        return;
    OGRSpatialReferenceH src = srs_epsg(4326), dst = srs_epsg(epsg);
    c->ct = OCTNewCoordinateTransformation(src, dst);
    OSRRelease(src);
    OSRRelease(dst);
    if (!c->ct)
        die("no transformation EPSG:4326 -> EPSG:%d: %s", epsg, CPLGetLastErrorMsg());
}

static void centres_fill(centres *c, rng *r, size_t n, double east)
{
    for (size_t i = 0; i < n; i++) {
        c->lon[i] = rng_range(r, GER_W, east);
        c->lat[i] = rng_range(r, GER_S, GER_N);
        c->x[i] = c->lon[i];
        c->y[i] = c->lat[i];
    }
    if (c->ct && !OCTTransformEx(c->ct, (int)n, c->x, c->y, NULL, c->ok))
        die("transforming feature centres failed: %s", CPLGetLastErrorMsg());
}

static void centres_free(centres *c)
{
    if (c->ct)
        OCTDestroyCoordinateTransformation(c->ct);
}

/* ---- per-kind generators ---------------------------------------------- */

#define BAD_POLYGON_RATE 0.03
#define BAD_MGRS_RATE 0.005

typedef struct counts {
    uint64_t police, fire_points, fire_areas, mil_routes, mil_areas, mil_units, kritis_anlagen,
        kritis_leitungen;
    uint64_t bad_polygons, bad_mgrs;
} counts;

static void split(uint64_t n, counts *c)
{
    uint64_t police = n * 40 / 100, fire = n * 25 / 100, mil = n * 20 / 100;
    uint64_t kritis = n - police - fire - mil;
    c->police = police;
    c->fire_points = fire * 60 / 100;
    c->fire_areas = fire - c->fire_points;
    c->mil_units = mil * 40 / 100;
    c->mil_routes = mil * 30 / 100;
    c->mil_areas = mil - c->mil_units - c->mil_routes;
    c->kritis_anlagen = kritis * 70 / 100;
    c->kritis_leitungen = kritis - c->kritis_anlagen;
}

/* Common attribute indexes in the layers written below. */
enum { A_ID, A_TYP, A_BEZ, A_STATUS, A_ZEIT, A_GENAU, A_EINST, A_FREIG, A_COUNT };

static void set_common(OGRFeatureH f, const int *idx, rng *r, const char *id, const char *typ,
                       const char *status, double genau, const label_mix *mix, bool datetime)
{
    char bez[128], t[32];
    snprintf(bez, sizeof bez, "%s %s %u", typ, PICK(r, places), 1 + rng_below(r, 999));
    OGR_F_SetFieldString(f, idx[A_ID], id);
    OGR_F_SetFieldString(f, idx[A_TYP], typ);
    OGR_F_SetFieldString(f, idx[A_BEZ], bez);
    OGR_F_SetFieldString(f, idx[A_STATUS], status);
    stamp s = pick_time(r);
    if (datetime) {
        OGR_F_SetFieldDateTimeEx(f, idx[A_ZEIT], 2026, 11, s.day, s.hour, s.minute,
                                 (float)s.second, 100);
    } else {
        fmt_time(s, t, sizeof t);
        OGR_F_SetFieldString(f, idx[A_ZEIT], t);
    }
    OGR_F_SetFieldDouble(f, idx[A_GENAU], genau);
    const char *level, *groups;
    pick_label(r, mix, &level, &groups);
    OGR_F_SetFieldString(f, idx[A_EINST], level);
    OGR_F_SetFieldString(f, idx[A_FREIG], groups);
}

static void field_indexes(OGRLayerH lyr, const field_spec *fields, int *idx)
{
    OGRFeatureDefnH d = OGR_L_GetLayerDefn(lyr);
    for (int i = 0; i < A_COUNT; i++) {
        /* Shapefiles may truncate names; they are given <= 10 characters */
        idx[i] = OGR_FD_GetFieldIndex(d, fields[i].name);
        if (idx[i] < 0)
            die("layer %s lost field %s", OGR_L_GetName(lyr), fields[i].name);
    }
}

static const char *const status_police[] = {"aktiv", "aktiv", "geplant", "aufgehoben"};
static const char *const status_fire[] = {"im Einsatz", "bereit", "abgeschlossen"};
static const char *const status_mil[] = {"aktiv", "geplant", "in Bewegung", "aufgelöst"};
static const char *const status_kritis[] = {"in Betrieb", "gestört", "ausgefallen",
                                            "Notbetrieb"};

/* police.geojson: points and polygons mixed in one layer, EPSG:4326 */
static void gen_police(const char *dir, uint64_t seed, const counts *c, progress *pg,
                       uint64_t *bad)
{
    static const field_spec fields[] = {
        {"id", OFTString, 0, 0},          {"typ", OFTString, 0, 0},
        {"bezeichnung", OFTString, 0, 0}, {"status", OFTString, 0, 0},
        {"zeit", OFTString, 0, 0},        {"genauigkeit_m", OFTReal, 0, 0},
        {"einstufung", OFTString, 0, 0},  {"freigabe", OFTString, 0, 0},
    };
    static const char *const typ_pt[] = {"Straßensperre", "Kontrollstelle", "Ereignis",
                                         "Lagemeldung", "Streife"};
    static const char *const typ_area[] = {"Evakuierungszone", "Sperrgebiet",
                                           "Einsatzraum"};
    char path[4096];
    snprintf(path, sizeof path, "%s/police.geojson", dir);
    GDALDatasetH ds = create_ds("GeoJSON", path, NULL);
    char **lco = CSLSetNameValue(NULL, "COORDINATE_PRECISION", "7");
    OGRLayerH lyr = create_layer(ds, "police", 4326, wkbUnknown, fields, COUNT(fields), lco);
    CSLDestroy(lco);
    int idx[A_COUNT];
    field_indexes(lyr, fields, idx);
    rng r;
    rng_seed(&r, seed, 1);
    centres *ce = malloc(sizeof *ce);
    if (!ce)
        die("out of memory");
    centres_init(ce, 4326);
    OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(lyr));
    pg->what = "police.geojson";
    char id[32];
    for (uint64_t i = 0; i < c->police;) {
        size_t n = c->police - i < BATCH ? (size_t)(c->police - i) : BATCH;
        centres_fill(ce, &r, n, GER_E);
        for (size_t k = 0; k < n; k++, i++) {
            frame fr = make_frame(ce->x[k], ce->y[k], ce->lat[k], true);
            bool area = rng_chance(&r, 0.40);
            OGRGeometryH g;
            const char *typ;
            if (area) {
                bool b = rng_chance(&r, BAD_POLYGON_RATE);
                *bad += b;
                typ = PICK(&r, typ_area);
                g = make_polygon(&r, &fr, 150, 1500, b);
            } else {
                typ = PICK(&r, typ_pt);
                g = make_point(&fr);
            }
            snprintf(id, sizeof id, "POL-%08llu", (unsigned long long)i + 1);
            set_common(f, idx, &r, id, typ, PICK(&r, status_police),
                       area ? 50.0 : (double)(5 + rng_below(&r, 50)), &mix_police, false);
            write_feature(lyr, f, g);
            pg->done++;
        }
        progress_tick(pg, false);
    }
    OGR_F_Destroy(f);
    centres_free(ce);
    free(ce);
    close_ds(ds, path);
}

/* fire_points.shp and fire_areas.shp, EPSG:25832 */
static void gen_fire(const char *dir, uint64_t seed, const counts *c, progress *pg,
                     uint64_t *bad)
{
    /* DBF field names have at most 10 characters (as in the demo's fire data) */
    static const field_spec fields[] = {
        {"id", OFTString, 12, 0},         {"typ", OFTString, 24, 0},
        {"bezeichnun", OFTString, 64, 0}, {"status", OFTString, 16, 0},
        {"meldezeit", OFTString, 20, 0},  {"genauigk_m", OFTReal, 8, 1},
        {"einstufung", OFTString, 16, 0}, {"freigabe", OFTString, 64, 0},
    };
    static const char *const typ_pt[] = {"Hydrant", "Einsatzstelle", "Bereitstellungsraum",
                                         "Löschwasserentnahme", "Sammelplatz"};
    static const char *const typ_area[] = {"Einsatzabschnitt", "Überflutungsfläche",
                                           "Brandfläche"};
    for (int pass = 0; pass < 2; pass++) {
        bool areas = pass == 1;
        uint64_t total = areas ? c->fire_areas : c->fire_points;
        const char *name = areas ? "fire_areas" : "fire_points";
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.shp", dir, name);
        GDALDatasetH ds = create_ds("ESRI Shapefile", path, NULL);
        char **lco = CSLSetNameValue(NULL, "ENCODING", "UTF-8");
        lco = CSLSetNameValue(lco, "SPATIAL_INDEX", "NO");
        lco = CSLSetNameValue(lco, "DBF_DATE_LAST_UPDATE", "2026-11-21");
        OGRLayerH lyr = create_layer(ds, name, 25832, areas ? wkbPolygon : wkbPoint, fields,
                                     COUNT(fields), lco);
        CSLDestroy(lco);
        int idx[A_COUNT];
        field_indexes(lyr, fields, idx);
        rng r;
        rng_seed(&r, seed, 2 + (uint64_t)pass);
        centres *ce = malloc(sizeof *ce);
        if (!ce)
            die("out of memory");
        centres_init(ce, 25832);
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(lyr));
        pg->what = areas ? "fire_areas.shp" : "fire_points.shp";
        char id[32];
        for (uint64_t i = 0; i < total;) {
            size_t n = total - i < BATCH ? (size_t)(total - i) : BATCH;
            centres_fill(ce, &r, n, GER_E);
            for (size_t k = 0; k < n; k++, i++) {
                frame fr = make_frame(ce->x[k], ce->y[k], ce->lat[k], false);
                OGRGeometryH g;
                const char *typ;
                if (areas) {
                    bool b = rng_chance(&r, BAD_POLYGON_RATE);
                    *bad += b;
                    typ = PICK(&r, typ_area);
                    g = make_polygon(&r, &fr, 100, 2000, b);
                } else {
                    typ = PICK(&r, typ_pt);
                    g = make_point(&fr);
                }
                snprintf(id, sizeof id, "FW-%c%07llu", areas ? 'A' : 'P',
                         (unsigned long long)i + 1);
                set_common(f, idx, &r, id, typ, PICK(&r, status_fire),
                           areas ? 25.0 : (double)(2 + rng_below(&r, 20)), &mix_fire, false);
                write_feature(lyr, f, g);
                pg->done++;
            }
            progress_tick(pg, false);
        }
        OGR_F_Destroy(f);
        centres_free(ce);
        free(ce);
        close_ds(ds, path);
    }
}

/* military.gpkg (routes, areas; EPSG:32632), in transactions */
#define GPKG_TX 50000

static void gen_military_gpkg(const char *dir, uint64_t seed, const counts *c, progress *pg,
                              uint64_t *bad)
{
    static const field_spec fields[] = {
        {"id", OFTString, 0, 0},          {"typ", OFTString, 0, 0},
        {"bezeichnung", OFTString, 0, 0}, {"status", OFTString, 0, 0},
        {"zeit", OFTDateTime, 0, 0},      {"genauigkeit_m", OFTReal, 0, 0},
        {"einstufung", OFTString, 0, 0},  {"freigabe", OFTString, 0, 0},
        {"mlc", OFTInteger, 0, 0},
    };
    static const char *const typ_route[] = {"Marschstraße", "Versorgungsweg",
                                            "Ausweichstrecke"};
    static const char *const typ_area[] = {"Verfügungsraum", "Sperrzone", "Übungsraum",
                                           "Landezone"};
    char path[4096];
    snprintf(path, sizeof path, "%s/military.gpkg", dir);
    GDALDatasetH ds = create_ds("GPKG", path, NULL);
    for (int pass = 0; pass < 2; pass++) {
        bool areas = pass == 1;
        uint64_t total = areas ? c->mil_areas : c->mil_routes;
        const char *name = areas ? "areas" : "routes";
        OGRLayerH lyr = create_layer(ds, name, 32632, areas ? wkbPolygon : wkbLineString,
                                     fields, COUNT(fields), NULL);
        int idx[A_COUNT];
        field_indexes(lyr, fields, idx);
        int mlc_idx = OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(lyr), "mlc");
        rng r;
        rng_seed(&r, seed, 4 + (uint64_t)pass);
        centres *ce = malloc(sizeof *ce);
        if (!ce)
            die("out of memory");
        centres_init(ce, 32632);
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(lyr));
        pg->what = areas ? "military.gpkg:areas" : "military.gpkg:routes";
        char id[32];
        if (GDALDatasetStartTransaction(ds, FALSE) != OGRERR_NONE)
            die("%s: cannot start a transaction", path);
        uint64_t in_tx = 0;
        for (uint64_t i = 0; i < total;) {
            size_t n = total - i < BATCH ? (size_t)(total - i) : BATCH;
            centres_fill(ce, &r, n, GER_E);
            for (size_t k = 0; k < n; k++, i++) {
                frame fr = make_frame(ce->x[k], ce->y[k], ce->lat[k], false);
                OGRGeometryH g;
                const char *typ;
                if (areas) {
                    bool b = rng_chance(&r, BAD_POLYGON_RATE);
                    *bad += b;
                    typ = PICK(&r, typ_area);
                    g = make_polygon(&r, &fr, 300, 3000, b);
                } else {
                    typ = PICK(&r, typ_route);
                    g = make_line(&r, &fr, 4, 24, 200, 1500);
                }
                snprintf(id, sizeof id, "BW-%c%07llu", areas ? 'A' : 'R',
                         (unsigned long long)i + 1);
                set_common(f, idx, &r, id, typ, PICK(&r, status_mil), 10.0, &mix_military,
                           true);
                static const int mlcs[] = {30, 50, 70, 100};
                OGR_F_SetFieldInteger(f, mlc_idx, mlcs[rng_below(&r, 4)]);
                write_feature(lyr, f, g);
                pg->done++;
                if (++in_tx == GPKG_TX) {
                    if (GDALDatasetCommitTransaction(ds) != OGRERR_NONE ||
                        GDALDatasetStartTransaction(ds, FALSE) != OGRERR_NONE)
                        die("%s: commit failed: %s", path, CPLGetLastErrorMsg());
                    in_tx = 0;
                }
            }
            progress_tick(pg, false);
        }
        if (GDALDatasetCommitTransaction(ds) != OGRERR_NONE)
            die("%s: commit failed: %s", path, CPLGetLastErrorMsg());
        OGR_F_Destroy(f);
        centres_free(ce);
        free(ce);
    }
    pg->what = "military.gpkg (index)";
    progress_tick(pg, true);
    close_ds(ds, path);
}

/* CSV field: quoted when it contains a comma, quote or newline */
static void csv_field(FILE *fp, const char *s, bool last)
{
    if (strpbrk(s, ",\"\n")) {
        fputc('"', fp);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', fp);
            fputc(*s, fp);
        }
        fputc('"', fp);
    } else {
        fputs(s, fp);
    }
    fputc(last ? '\n' : ',', fp);
}

/* military_units.csv: positions as 10-digit MGRS strings, no geometry */
static void gen_military_units(const char *dir, uint64_t seed, const counts *c, progress *pg,
                               uint64_t *bad)
{
    static const char *const typ_unit[] = {"Pionierzug", "Sanitätstrupp", "Transportzug",
                                           "Führungsstelle", "ABC-Abwehrtrupp",
                                           "Brückenlegepanzer"};
    static const char *const verbaende[] = {"PiBtl 1", "PiBtl 130", "SanRgt 2", "LogBtl 161",
                                            "ABCAbwBtl 750", "PzPiKp 550"};
    char path[4096];
    snprintf(path, sizeof path, "%s/military_units.csv", dir);
    FILE *fp = fopen(path, "w");
    if (!fp)
        die("cannot create %s: %s", path, strerror(errno));
    static char iobuf[1 << 16];
    setvbuf(fp, iobuf, _IOFBF, sizeof iobuf);
    fputs("id,verband,typ,bezeichnung,mgrs,status,zeit,genauigkeit_m,einstufung,freigabe\n", fp);
    rng r;
    rng_seed(&r, seed, 6);
    pg->what = "military_units.csv";
    for (uint64_t i = 0; i < c->mil_units; i++) {
        double lon = rng_range(&r, GER_W, GER_E), lat = rng_range(&r, GER_S, GER_N);
        char m[32], id[32], bez[128], t[32];
        lb_error err;
        if (lb_mgrs_from_lonlat(lon, lat, 5, m, sizeof m, &err) != LB_OK)
            die("lb_mgrs_from_lonlat(%.6f, %.6f): %s", lon, lat, err.msg);
        if (rng_chance(&r, BAD_MGRS_RATE)) {
            /* malformed: an invalid band letter, a lost digit, or no square letters */
            size_t len = strlen(m);
            switch (rng_below(&r, 3)) {
            case 0: m[2] = 'I'; break;
            case 1: m[len - 1] = '\0'; break;
            default: memmove(m + 3, m + 5, len - 4); break;
            }
            (*bad)++;
        }
        const char *typ = PICK(&r, typ_unit);
        snprintf(id, sizeof id, "BW-U%07llu", (unsigned long long)i + 1);
        snprintf(bez, sizeof bez, "%s %u", typ, 1 + rng_below(&r, 99));
        fmt_time(pick_time(&r), t, sizeof t);
        const char *level, *groups;
        pick_label(&r, &mix_military, &level, &groups);
        char acc[16];
        snprintf(acc, sizeof acc, "%u", 1 + rng_below(&r, 10));
        csv_field(fp, id, false);
        csv_field(fp, PICK(&r, verbaende), false);
        csv_field(fp, typ, false);
        csv_field(fp, bez, false);
        csv_field(fp, m, false);
        csv_field(fp, PICK(&r, status_mil), false);
        csv_field(fp, t, false);
        csv_field(fp, acc, false);
        csv_field(fp, level, false);
        csv_field(fp, groups, true);
        pg->done++;
        if ((i & 4095) == 0)
            progress_tick(pg, false);
    }
    if (fclose(fp) != 0)
        die("writing %s failed: %s", path, strerror(errno));
}

/* KRITIS: facilities (points) and supply lines, EPSG:31467, Shapefile or GML */
static void gen_kritis(const char *dir, uint64_t seed, const counts *c, progress *pg, bool gml)
{
    static const field_spec fields[] = {
        {"id", OFTString, 12, 0},         {"typ", OFTString, 24, 0},
        {"bezeichnun", OFTString, 64, 0}, {"status", OFTString, 16, 0},
        {"zeit", OFTString, 20, 0},       {"genauigk_m", OFTReal, 8, 1},
        {"einstufung", OFTString, 16, 0}, {"freigabe", OFTString, 64, 0},
        {"betreiber", OFTString, 32, 0},
    };
    static const char *const typ_pt[] = {"Umspannwerk", "Wasserwerk", "Klärwerk",
                                         "Krankenhaus", "Mobilfunkmast", "Gasdruckregelanlage"};
    static const char *const typ_line[] = {"Hochspannungsleitung", "Gasleitung",
                                           "Trinkwasserleitung"};
    static const char *const betreiber[] = {"Stadtwerke", "TenneT", "Amprion", "50Hertz",
                                            "TransnetBW", "Wasserverband"};
    char path[4096];
    GDALDatasetH ds = NULL;
    if (gml) {
        snprintf(path, sizeof path, "%s/kritis.gml", dir);
        char **dsco = CSLSetNameValue(NULL, "FORMAT", "GML3.2");
        ds = create_ds("GML", path, dsco);
        CSLDestroy(dsco);
    }
    for (int pass = 0; pass < 2; pass++) {
        bool lines = pass == 1;
        uint64_t total = lines ? c->kritis_leitungen : c->kritis_anlagen;
        const char *name = lines ? "leitungen" : "anlagen";
        char shp[4096];
        if (!gml) {
            snprintf(shp, sizeof shp, "%s/kritis_%s.shp", dir, name);
            ds = create_ds("ESRI Shapefile", shp, NULL);
        }
        char **lco = NULL;
        if (!gml) {
            lco = CSLSetNameValue(lco, "ENCODING", "UTF-8");
            lco = CSLSetNameValue(lco, "SPATIAL_INDEX", "NO");
            lco = CSLSetNameValue(lco, "DBF_DATE_LAST_UPDATE", "2026-11-21");
        }
        char lname[64];
        snprintf(lname, sizeof lname, gml ? "%s" : "kritis_%s", name);
        OGRLayerH lyr = create_layer(ds, lname, 31467, lines ? wkbLineString : wkbPoint, fields,
                                     COUNT(fields), lco);
        CSLDestroy(lco);
        int idx[A_COUNT];
        field_indexes(lyr, fields, idx);
        int bt_idx = OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(lyr), "betreiber");
        rng r;
        rng_seed(&r, seed, 7 + (uint64_t)pass);
        centres *ce = malloc(sizeof *ce);
        if (!ce)
            die("out of memory");
        centres_init(ce, 31467);
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(lyr));
        pg->what = lines ? "kritis leitungen" : "kritis anlagen";
        char id[32];
        for (uint64_t i = 0; i < total;) {
            size_t n = total - i < BATCH ? (size_t)(total - i) : BATCH;
            centres_fill(ce, &r, n, KRITIS_E);
            for (size_t k = 0; k < n; k++, i++) {
                frame fr = make_frame(ce->x[k], ce->y[k], ce->lat[k], false);
                const char *typ = lines ? PICK(&r, typ_line) : PICK(&r, typ_pt);
                OGRGeometryH g = lines ? make_line(&r, &fr, 2, 12, 300, 3000) : make_point(&fr);
                snprintf(id, sizeof id, "KR-%c%07llu", lines ? 'L' : 'A',
                         (unsigned long long)i + 1);
                set_common(f, idx, &r, id, typ, PICK(&r, status_kritis), lines ? 5.0 : 1.0,
                           &mix_kritis, false);
                OGR_F_SetFieldString(f, bt_idx, PICK(&r, betreiber));
                write_feature(lyr, f, g);
                pg->done++;
            }
            progress_tick(pg, false);
        }
        OGR_F_Destroy(f);
        centres_free(ce);
        free(ce);
        if (!gml)
            close_ds(ds, shp);
    }
    if (gml)
        close_ds(ds, path);
}

/* ---- bench.yaml -------------------------------------------------------- */

/* One source of bench.yaml; the agency is the layer id (one layer per agency). */
typedef struct yaml_src {
    const char *id, *path, *driver, *crs, *ogr_layer, *layer;
    const char *name_attr, *time_attr, *acc_attr, *mgrs_attr;
} yaml_src;

static void yaml_source(FILE *fp, const yaml_src *y)
{
    fprintf(fp, "  %s:\n    path: %s\n    driver: %s\n", y->id, y->path, y->driver);
    if (y->crs)
        fprintf(fp, "    crs: %s\n", y->crs);
    if (y->ogr_layer)
        fprintf(fp, "    ogr_layer: %s\n", y->ogr_layer);
    if (y->mgrs_attr)
        fprintf(fp, "    mgrs: %s\n", y->mgrs_attr);
    fprintf(fp,
            "    layer: %s\n"
            "    agency: %s\n"
            "    fid: id\n"
            "    mapping:\n"
            "      kind: typ\n"
            "      name: %s\n"
            "      status: status\n"
            "      observed_at: %s\n"
            "      accuracy_m: %s\n"
            "    label:\n"
            "      level: VS-NfD\n"
            "      releasable_to: [%s, lagezentrum]\n"
            "      level_from: einstufung\n"
            "      releasable_to_from: freigabe\n",
            y->layer, y->layer, y->name_attr, y->time_attr, y->acc_attr, y->layer);
}

static void write_yaml(const char *dir, uint64_t n, uint64_t seed, bool gml, const counts *c)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/bench.yaml", dir);
    FILE *fp = fopen(path, "w");
    if (!fp)
        die("cannot create %s: %s", path, strerror(errno));
    fprintf(fp,
            "# lagebild benchmark config, written by bench/lbgen (do not edit)\n"
            "# %llu features, seed %llu: police %llu, fire %llu + %llu, military %llu + %llu"
            " + %llu (MGRS), kritis %llu + %llu\n"
            "# Paths are relative to this file's folder.\n"
            "store:\n  path: bench.sqlite\n\n",
            (unsigned long long)n, (unsigned long long)seed, (unsigned long long)c->police,
            (unsigned long long)c->fire_points, (unsigned long long)c->fire_areas,
            (unsigned long long)c->mil_routes, (unsigned long long)c->mil_areas,
            (unsigned long long)c->mil_units, (unsigned long long)c->kritis_anlagen,
            (unsigned long long)c->kritis_leitungen);
    fputs("groups: [", fp);
    for (size_t i = 0; i < COUNT(groups_decl); i++)
        fprintf(fp, "%s%s", i ? ", " : "", groups_decl[i]);
    fputs("]\n", fp);
    fputs("\nlayers:\n"
          "  police:\n    title: Polizei\n    attribution: Polizei (synthetisch)\n"
          "  fire:\n    title: Feuerwehr\n    attribution: Feuerwehr (synthetisch)\n"
          "  military:\n    title: Bundeswehr\n    attribution: Bundeswehr (synthetisch)\n"
          "  kritis:\n    title: KRITIS\n    attribution: KRITIS-Betreiber (synthetisch)\n"
          "\nsources:\n",
          fp);
    static const yaml_src common[] = {
        {"police", "police.geojson", "GeoJSON", "EPSG:4326", NULL, "police", "bezeichnung",
         "zeit", "genauigkeit_m", NULL},
        {"fire_points", "fire_points.shp", "ESRI Shapefile", "EPSG:25832", NULL, "fire",
         "bezeichnun", "meldezeit", "genauigk_m", NULL},
        {"fire_areas", "fire_areas.shp", "ESRI Shapefile", "EPSG:25832", NULL, "fire",
         "bezeichnun", "meldezeit", "genauigk_m", NULL},
        {"military_routes", "military.gpkg", "GPKG", NULL, "routes", "military", "bezeichnung",
         "zeit", "genauigkeit_m", NULL},
        {"military_areas", "military.gpkg", "GPKG", NULL, "areas", "military", "bezeichnung",
         "zeit", "genauigkeit_m", NULL},
        /* no coordinates and no CRS: the point is built from the MGRS string */
        {"military_units", "military_units.csv", "CSV", NULL, NULL, "military", "bezeichnung",
         "zeit", "genauigkeit_m", "mgrs"},
    };
    static const yaml_src kritis_shp[] = {
        {"kritis_anlagen", "kritis_anlagen.shp", "ESRI Shapefile", "EPSG:31467", NULL, "kritis",
         "bezeichnun", "zeit", "genauigk_m", NULL},
        {"kritis_leitungen", "kritis_leitungen.shp", "ESRI Shapefile", "EPSG:31467", NULL,
         "kritis", "bezeichnun", "zeit", "genauigk_m", NULL},
    };
    static const yaml_src kritis_gml[] = {
        {"kritis_anlagen", "kritis.gml", "GML", "EPSG:31467", "anlagen", "kritis", "bezeichnun",
         "zeit", "genauigk_m", NULL},
        {"kritis_leitungen", "kritis.gml", "GML", "EPSG:31467", "leitungen", "kritis",
         "bezeichnun", "zeit", "genauigk_m", NULL},
    };
    for (size_t i = 0; i < COUNT(common); i++)
        yaml_source(fp, &common[i]);
    for (size_t i = 0; i < 2; i++)
        yaml_source(fp, gml ? &kritis_gml[i] : &kritis_shp[i]);
    fputs("\nmaps:\n  lage:\n    title: Lagebild (Benchmark)\n"
          "    layers: [kritis, military, fire, police]\n",
          fp);
    if (fclose(fp) != 0)
        die("writing %s failed: %s", path, strerror(errno));
}

/* ---- main -------------------------------------------------------------- */

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end;
    errno = 0;
    /* accept 1e6 / 1000000 */
    double d = strtod(s, &end);
    if (errno || end == s || *end || d < 0 || d > 1e12 || d != floor(d))
        die("%s must be a non-negative integer, not '%s'", what, s);
    return (uint64_t)d;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},    {"features", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},   {"kritis", required_argument, NULL, 'k'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {"size-scale", required_argument, NULL, 'z'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *kritis = "shp";
    uint64_t n = 0, seed = 1;
    bool have_n = false, quiet = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "o:n:s:k:z:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'o': out = optarg; break;
        case 'n': n = parse_u64(optarg, "--features"); have_n = true; break;
        case 's': seed = parse_u64(optarg, "--seed"); break;
        case 'k': kritis = optarg; break;
        case 'z': {
            char *end;
            errno = 0;
            size_scale = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(size_scale >= 0.001 && size_scale <= 1000))
                die("--size-scale must be a number from 0.001 to 1000, not '%s'", optarg);
            break;
        }
        case 'q': quiet = true; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (optind < argc || !out || !have_n) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (n < 20)
        die("--features must be at least 20 (every kind gets some)");
    bool gml = strcmp(kritis, "gml") == 0;
    if (!gml && strcmp(kritis, "shp") != 0)
        die("--kritis must be shp or gml, not '%s'", kritis);
    if (mkdir(out, 0777) != 0 && errno != EEXIST)
        die("cannot create %s: %s", out, strerror(errno));

    GDALAllRegister();
    CPLSetConfigOption("PROJ_NETWORK", "OFF");
    /* fixed timestamps inside the GeoPackage, so reruns write the same bytes */
    CPLSetConfigOption("OGR_CURRENT_DATE", "2026-11-21T06:00:00.000Z");
    if (gml)
        VSIUnlink(CPLFormFilename(out, "kritis.xsd", NULL));
    else
        VSIUnlink(CPLFormFilename(out, "kritis.gml", NULL));

    counts c = {0};
    split(n, &c);
    progress pg = {.on = !quiet && isatty(STDERR_FILENO), .total = n, .t0 = now_s()};
    pg.last = pg.t0;
    double t0 = now_s();
    gen_police(out, seed, &c, &pg, &c.bad_polygons);
    gen_fire(out, seed, &c, &pg, &c.bad_polygons);
    gen_military_gpkg(out, seed, &c, &pg, &c.bad_polygons);
    gen_military_units(out, seed, &c, &pg, &c.bad_mgrs);
    gen_kritis(out, seed, &c, &pg, gml);
    write_yaml(out, n, seed, gml, &c);
    pg.what = "done";
    progress_tick(&pg, true);
    if (pg.on)
        fputc('\n', stderr);
    lb_mgrs_cleanup();
    GDALDestroy();

    if (!quiet)
        printf("lbgen: %llu features in %s (%.1f s, seed %llu)\n"
               "  police.geojson          %9llu  (EPSG:4326, points + polygons)\n"
               "  fire_points.shp         %9llu  (EPSG:25832)\n"
               "  fire_areas.shp          %9llu  (EPSG:25832)\n"
               "  military.gpkg:routes    %9llu  (EPSG:32632)\n"
               "  military.gpkg:areas     %9llu  (EPSG:32632)\n"
               "  military_units.csv      %9llu  (MGRS, 10 digits)\n"
               "  %-23s %9llu  (EPSG:31467)\n"
               "  %-23s %9llu  (EPSG:31467)\n"
               "  deliberately bad: %llu self-intersecting polygons, %llu malformed MGRS\n",
               (unsigned long long)n, out, now_s() - t0, (unsigned long long)seed,
               (unsigned long long)c.police, (unsigned long long)c.fire_points,
               (unsigned long long)c.fire_areas, (unsigned long long)c.mil_routes,
               (unsigned long long)c.mil_areas, (unsigned long long)c.mil_units,
               gml ? "kritis.gml:anlagen" : "kritis_anlagen.shp",
               (unsigned long long)c.kritis_anlagen,
               gml ? "kritis.gml:leitungen" : "kritis_leitungen.shp",
               (unsigned long long)c.kritis_leitungen, (unsigned long long)c.bad_polygons,
               (unsigned long long)c.bad_mgrs);
    return 0;
}
