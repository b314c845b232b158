/*
 * This file implements the MGRS (Military Grid Reference System) converter
 * declared in lagebild/mgrs.h: parsing and validating MGRS strings, the
 * 100 km square lettering, the latitude-band disambiguation of northings, and
 * the UTM/UPS <-> WGS 84 geographic conversion (through PROJ).
 *
 * Conventions (they follow GeographicLib's MGRS class, which the tests use as
 * the reference):
 *
 *  - An MGRS string is  [zone] band square digits :  zone 1..60 (one or two
 *    digits; absent for the polar UPS bands A, B, Y, Z), a latitude band
 *    letter, two 100 km square letters, then an even number (0..10) of
 *    digits, the first half the easting and the second half the northing
 *    within the square.  Case does not matter; whitespace is ignored, except
 *    that when the digits come in two groups ("12345 67890") both groups must
 *    have the same length.
 *  - A string names a square cell, not a point: 10^(5 - precision) metres on
 *    a side.  The forward conversion truncates (never rounds) the UTM/UPS
 *    coordinates to the cell; the reverse conversion returns the cell centre.
 *  - Output always has a two-digit zone ("04QFJ..."), as GeographicLib's
 *    MGRS::Forward writes it; input accepts one or two digits.
 *  - Zones are the standard ones: UTM between 80S and 84N with the Norway
 *    (32V) and Svalbard (31X, 33X, 35X, 37X) exceptions, UPS poleward of
 *    that.  Band X spans 72N..84N (12 degrees), the other bands 8 degrees.
 *  - Lettering is the WGS 84 ("AA", "new") scheme.  UTM column letters run
 *    A-H, J-R, S-Z in zones 1, 2, 3 and repeat every three zones; row letters
 *    A-V (no I, O) repeat every 2000 km and start at the equator with A in
 *    odd zones and with F (offset by 5) in even zones; so the pattern of
 *    zone sets repeats every six zones.  (The older "AL" scheme of the
 *    Clarke ellipsoids shifts the rows by a further 10 letters; it is not
 *    used with WGS 84 and is not supported here.)
 *  - Because the row letters repeat every 2000 km, the latitude band decides
 *    which northing is meant: the one whose 100 km square overlaps the band
 *    within that 100 km column (see band_rows below).
 */
#include "lagebild/mgrs.h"

#include <ctype.h>
#include <math.h>
#include <proj.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define TILE 100000.0 /* edge of a 100 km square, metres */
#define MAX_PRECISION 5

/* Latitude bands from 80S northwards, 8 degrees each (X has 12). */
static const char band_letters[] = "CDEFGHJKLMNPQRSTUVWX";
#define NBANDS 20

/* UTM 100 km column letters by (zone - 1) % 3; column 0 is easting 100 km. */
static const char *const utm_col_letters[3] = {"ABCDEFGH", "JKLMNPQR", "STUVWXYZ"};
/* UTM 100 km row letters; period 20 rows = 2000 km. */
static const char utm_row_letters[] = "ABCDEFGHJKLMNPQRSTUV";
#define UTM_ROW_PERIOD 20
#define UTM_EVEN_ROW_SHIFT 5

/*
 * UPS squares.  Each polar band covers one half of the polar grid: A (south,
 * west of the 0/180 meridian line, i.e. easting < 2000 km), B (south, east),
 * Y (north, west), Z (north, east).  cols is the column lettering and col0
 * the easting of the first column, in units of 100 km; the rows start at
 * row0 (100 km units) with the letters of rows.
 */
typedef struct {
    char band;
    int north;
    const char *cols;
    int col0;
    const char *rows;
    int row0;
} ups_band;

static const ups_band ups_bands[4] = {
    {'A', 0, "JKLPQRSTUXYZ", 8, "ABCDEFGHJKLMNPQRSTUVWXYZ", 8},
    {'B', 0, "ABCFGHJKLPQR", 20, "ABCDEFGHJKLMNPQRSTUVWXYZ", 8},
    {'Y', 1, "RSTUXYZ", 13, "ABCDEFGHJKLMNP", 13},
    {'Z', 1, "ABCFGHJ", 20, "ABCDEFGHJKLMNP", 13},
};

/*
 * UTM rows (in 100 km units, signed: row r covers northings r*100 km ..
 * (r+1)*100 km measured from the equator, negative in the south) that each
 * latitude band reaches, per column class.  Parallels of latitude curve
 * poleward away from the central meridian, so the range depends on how far
 * the column is from it; columns are symmetric about the central meridian
 * (easting 500 km), so class k stands for columns k and 7-k, where column c
 * covers eastings (c+1)*100 km .. (c+2)*100 km (class 0 = farthest,
 * 3 = adjacent to the central meridian).
 *
 * A row belongs to a band when its square within that column overlaps the
 * band's latitude range, evaluated over the full MGRS easting range
 * 100..900 km (not just the nominal 6 degree zone width).  The numbers were
 * computed with PROJ (WGS 84 UTM: northing of the bounding parallels across
 * each column) and agree exactly with the squares that GeographicLib 2.1
 * (GeoConvert) accepts; tests/test_mgrs.c checks every square against
 * GeoConvert's answers.  The one deliberate deviation from pure geometry is
 * the polar edge, again as GeographicLib does it: band C accepts rows down to
 * -90 and band X rows up to 94 in every column, because UTM may be used a
 * little beyond 80S / 84N where it overlaps UPS.
 */
typedef struct {
    signed char lo, hi;
} row_range;

static const row_range band_rows[NBANDS][4] = {
    /* C 80S-72S */ {{-90, -81}, {-90, -80}, {-90, -80}, {-90, -80}},
    /* D 72S-64S */ {{-81, -72}, {-81, -72}, {-80, -71}, {-80, -71}},
    /* E 64S-56S */ {{-72, -63}, {-72, -63}, {-72, -63}, {-71, -63}},
    /* F 56S-48S */ {{-63, -54}, {-63, -54}, {-63, -54}, {-63, -54}},
    /* G 48S-40S */ {{-54, -45}, {-54, -45}, {-54, -45}, {-54, -45}},
    /* H 40S-32S */ {{-45, -36}, {-45, -36}, {-45, -36}, {-45, -36}},
    /* J 32S-24S */ {{-36, -27}, {-36, -27}, {-36, -27}, {-36, -27}},
    /* K 24S-16S */ {{-27, -18}, {-27, -18}, {-27, -18}, {-27, -18}},
    /* L 16S-8S  */ {{-18, -9}, {-18, -9}, {-18, -9}, {-18, -9}},
    /* M 8S-0    */ {{-9, -1}, {-9, -1}, {-9, -1}, {-9, -1}},
    /* N 0-8N    */ {{0, 8}, {0, 8}, {0, 8}, {0, 8}},
    /* P 8N-16N  */ {{8, 17}, {8, 17}, {8, 17}, {8, 17}},
    /* Q 16N-24N */ {{17, 26}, {17, 26}, {17, 26}, {17, 26}},
    /* R 24N-32N */ {{26, 35}, {26, 35}, {26, 35}, {26, 35}},
    /* S 32N-40N */ {{35, 44}, {35, 44}, {35, 44}, {35, 44}},
    /* T 40N-48N */ {{44, 53}, {44, 53}, {44, 53}, {44, 53}},
    /* U 48N-56N */ {{53, 62}, {53, 62}, {53, 62}, {53, 62}},
    /* V 56N-64N */ {{62, 71}, {62, 71}, {62, 71}, {62, 70}},
    /* W 64N-72N */ {{71, 80}, {71, 80}, {70, 79}, {70, 79}},
    /* X 72N-84N */ {{80, 94}, {79, 94}, {79, 94}, {79, 94}},
};

static const row_range *band_row_range(int band, int col)
{
    return &band_rows[band][col < 4 ? col : 7 - col];
}

/* Southern and northern latitude of band index b (0 = C .. 19 = X). */
static int band_south(int b)
{
    return -80 + 8 * b;
}

static int band_north(int b)
{
    return b == NBANDS - 1 ? 84 : band_south(b) + 8;
}

/* Edge of a cell with the given number of digits per coordinate, metres. */
static double cell_size(int precision)
{
    double size = 1.0;
    for (int i = precision; i < MAX_PRECISION; i++)
        size *= 10.0;
    return size;
}

/* Index of c in set, or -1. */
static int letter_index(const char *set, char c)
{
    const char *p = strchr(set, c);
    return (c != '\0' && p) ? (int)(p - set) : -1;
}

/* "48N", "8S", "0" for a latitude in whole degrees (for messages). */
static void fmt_lat(char *buf, size_t n, int lat)
{
    if (lat == 0)
        snprintf(buf, n, "0");
    else
        snprintf(buf, n, "%d%c", lat < 0 ? -lat : lat, lat < 0 ? 'S' : 'N');
}

/* ------------------------------------------------------------------------ */
/* PROJ: one cached transformation per UTM zone/hemisphere and UPS pole.    */
/* ------------------------------------------------------------------------ */

/*
 * PJ objects and their context must not be used by two threads at once, so
 * the context, the cache and every proj_trans() call are guarded by one
 * mutex.  Slots 0..59 are UTM north zones 1..60, 60..119 UTM south, 120 UPS
 * north and 121 UPS south.  Each PJ maps EPSG:4326 to the projected CRS with
 * the axis order normalised to (lon, lat) -> (easting, northing).
 */
#define PJ_SLOTS 122

static pthread_mutex_t pj_lock = PTHREAD_MUTEX_INITIALIZER;
static PJ_CONTEXT *pj_ctx;       /* guarded by pj_lock */
static PJ *pj_cache[PJ_SLOTS];   /* guarded by pj_lock */

static int pj_slot(int zone, int north)
{
    if (zone == 0)
        return north ? 120 : 121;
    return (north ? 0 : 60) + zone - 1;
}

static void pj_crs_name(int zone, int north, char *buf, size_t n)
{
    if (zone == 0)
        snprintf(buf, n, "EPSG:%d", north ? 32661 : 32761);
    else
        snprintf(buf, n, "EPSG:%d", (north ? 32600 : 32700) + zone);
}

/* The cached transformation for zone/hemisphere; pj_lock must be held. */
static lb_status pj_get_locked(int zone, int north, PJ **out, lb_error *err)
{
    int slot = pj_slot(zone, north);
    if (pj_cache[slot]) {
        *out = pj_cache[slot];
        return LB_OK;
    }
    if (!pj_ctx) {
        pj_ctx = proj_context_create();
        if (!pj_ctx)
            return lb_fail(err, LB_ENOMEM, "MGRS: cannot create a PROJ context");
        /* Failures are reported through lb_error, not on stderr. */
        proj_log_level(pj_ctx, PJ_LOG_NONE);
    }
    char crs[32];
    pj_crs_name(zone, north, crs, sizeof crs);
    PJ *raw = proj_create_crs_to_crs(pj_ctx, "EPSG:4326", crs, NULL);
    if (!raw) {
        int e = proj_context_errno(pj_ctx);
        return lb_fail(err, LB_ECRS,
                       "MGRS: cannot create the PROJ transformation EPSG:4326 -> %s: %s", crs,
                       proj_context_errno_string(pj_ctx, e));
    }
    PJ *norm = proj_normalize_for_visualization(pj_ctx, raw);
    proj_destroy(raw);
    if (!norm) {
        int e = proj_context_errno(pj_ctx);
        return lb_fail(err, LB_ECRS, "MGRS: cannot normalise the axis order of EPSG:4326 -> %s: %s",
                       crs, proj_context_errno_string(pj_ctx, e));
    }
    pj_cache[slot] = norm;
    *out = norm;
    return LB_OK;
}

/*
 * Transform one point: forward (lon, lat degrees) -> (easting, northing
 * metres) or inverse.  a and b are updated in place.
 */
static lb_status pj_transform(int zone, int north, PJ_DIRECTION dir, double *a, double *b,
                              lb_error *err)
{
    char crs[32];
    lb_status st;
    PJ_COORD c = proj_coord(*a, *b, 0, 0);
    int perr = 0;

    pthread_mutex_lock(&pj_lock);
    PJ *pj = NULL;
    st = pj_get_locked(zone, north, &pj, err);
    if (st == LB_OK) {
        proj_errno_reset(pj);
        c = proj_trans(pj, dir, c);
        perr = proj_errno(pj);
        proj_errno_reset(pj);
    }
    pthread_mutex_unlock(&pj_lock);
    if (st != LB_OK)
        return st;

    if (perr != 0 || !isfinite(c.xy.x) || !isfinite(c.xy.y)) {
        pj_crs_name(zone, north, crs, sizeof crs);
        return lb_fail(err, LB_ECRS, "MGRS: PROJ cannot transform (%.9g, %.9g) %s %s", *a, *b,
                       dir == PJ_FWD ? "from EPSG:4326 to" : "to EPSG:4326 from", crs);
    }
    *a = c.xy.x;
    *b = c.xy.y;
    return LB_OK;
}

void lb_mgrs_cleanup(void)
{
    pthread_mutex_lock(&pj_lock);
    for (int i = 0; i < PJ_SLOTS; i++) {
        proj_destroy(pj_cache[i]);
        pj_cache[i] = NULL;
    }
    if (pj_ctx) {
        proj_context_destroy(pj_ctx);
        pj_ctx = NULL;
    }
    pthread_mutex_unlock(&pj_lock);
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */
/* ------------------------------------------------------------------------ */

/* Longest string (whitespace removed) we look at; a valid one has <= 15. */
#define MAX_COMPACT 32

/*
 * Copy of the input for error messages: at most ~40 characters, control and
 * non-ASCII bytes shown as '?', "..." when cut.
 */
static void quote_input(const char *s, char *buf, size_t n)
{
    size_t i = 0, j = 0;
    for (; s[i] && j + 4 < n && i < 40; i++)
        buf[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i] && j + 4 <= n) {
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j] = '\0';
}

/* The input with whitespace removed and letters upper-cased. */
typedef struct {
    char c[MAX_COMPACT + 1];
    unsigned char group[MAX_COMPACT]; /* whitespace-separated group of each char */
    size_t pos[MAX_COMPACT];          /* its index in the input */
    size_t n;
} compact_str;

lb_status lb_mgrs_parse(const char *s, lb_mgrs *out, lb_error *err)
{
    if (!s || !out)
        return lb_fail(err, LB_EINVAL, "lb_mgrs_parse: %s is NULL", s ? "out" : "the MGRS string");

    char q[64];
    quote_input(s, q, sizeof q);

    /* 1. Characters: alphanumerics and whitespace only. */
    compact_str cs = {.n = 0};
    unsigned group = 0;
    int in_space = 0;
    for (size_t i = 0; s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (isspace(ch)) {
            in_space = 1;
            continue;
        }
        if (!isalnum(ch) || ch >= 0x80) {
            if (ch >= 0x20 && ch < 0x7f)
                return lb_fail(err, LB_EMGRS,
                               "MGRS '%s': unexpected character '%c' at position %zu", q, ch,
                               i + 1);
            return lb_fail(err, LB_EMGRS, "MGRS '%s': unexpected byte 0x%02x at position %zu", q,
                           ch, i + 1);
        }
        if (in_space && cs.n > 0 && group < 255)
            group++;
        in_space = 0;
        if (cs.n == MAX_COMPACT)
            return lb_fail(err, LB_EMGRS,
                           "MGRS '%s': too long (more than %d characters without spaces; "
                           "at most 15)",
                           q, MAX_COMPACT);
        cs.group[cs.n] = (unsigned char)group;
        cs.pos[cs.n] = i;
        cs.c[cs.n++] = (char)toupper(ch);
    }
    cs.c[cs.n] = '\0';
    if (cs.n == 0)
        return lb_fail(err, LB_EMGRS, "MGRS '%s': empty string", q);

    /* 2. Zone number. */
    size_t p = 0;
    while (p < cs.n && isdigit((unsigned char)cs.c[p]))
        p++;
    int zone = 0;
    if (p > 2)
        return lb_fail(err, LB_EMGRS, "MGRS '%s': zone number '%.*s' has more than two digits", q,
                       (int)p, cs.c);
    for (size_t i = 0; i < p; i++)
        zone = zone * 10 + (cs.c[i] - '0');
    if (p > 0 && (zone < 1 || zone > 60))
        return lb_fail(err, LB_EMGRS, "MGRS '%s': zone %d out of range 1-60", q, zone);

    /* 3. Latitude band. */
    if (p == cs.n)
        return lb_fail(err, LB_EMGRS, "MGRS '%s': missing latitude band letter after zone %d", q,
                       zone);
    char band = cs.c[p++];
    int band_idx = -1;
    const ups_band *ups = NULL;
    if (band == 'I' || band == 'O')
        return lb_fail(err, LB_EMGRS,
                       "MGRS '%s': band letter '%c' is not valid (MGRS uses no I or O)", q, band);
    if (zone > 0) {
        band_idx = letter_index(band_letters, band);
        if (band_idx < 0)
            return lb_fail(err, LB_EMGRS,
                           "MGRS '%s': band letter '%c' is not valid in a UTM zone (C..X); "
                           "the polar bands A, B, Y, Z take no zone number",
                           q, band);
    } else {
        for (int i = 0; i < 4; i++)
            if (ups_bands[i].band == band)
                ups = &ups_bands[i];
        if (!ups)
            return lb_fail(err, LB_EMGRS,
                           "MGRS '%s': band letter '%c' is not valid without a zone number "
                           "(only the polar bands A, B, Y, Z have none)",
                           q, band);
    }

    /* 4. 100 km square letters. */
    char gzd[16];
    if (zone)
        snprintf(gzd, sizeof gzd, "%d%c", zone, band);
    else
        snprintf(gzd, sizeof gzd, "%c", band);
    if (p == cs.n || !isalpha((unsigned char)cs.c[p]))
        return lb_fail(err, LB_EMGRS, "MGRS '%s': missing 100 km square letters after grid zone %s",
                       q, gzd);
    if (p + 1 == cs.n || !isalpha((unsigned char)cs.c[p + 1]))
        return lb_fail(err, LB_EMGRS,
                       "MGRS '%s': 100 km square '%c' is incomplete (two letters needed)", q,
                       cs.c[p]);
    char sq[3] = {cs.c[p], cs.c[p + 1], '\0'};
    p += 2;

    int col, row;
    if (ups) {
        col = letter_index(ups->cols, sq[0]);
        if (col < 0)
            return lb_fail(err, LB_EMGRS,
                           "MGRS '%s': 100 km square '%s' does not exist in polar band %c "
                           "(column letter '%c' is not one of %s)",
                           q, sq, band, sq[0], ups->cols);
        row = letter_index(ups->rows, sq[1]);
        if (row < 0)
            return lb_fail(err, LB_EMGRS,
                           "MGRS '%s': 100 km square '%s' does not exist in polar band %c "
                           "(row letter '%c' is not one of %s)",
                           q, sq, band, sq[1], ups->rows);
    } else {
        const char *cols = utm_col_letters[(zone - 1) % 3];
        col = letter_index(cols, sq[0]);
        if (col < 0)
            return lb_fail(err, LB_EMGRS,
                           "MGRS '%s': 100 km square '%s' does not exist in zone %d "
                           "(column letter '%c' is not one of %s)",
                           q, sq, zone, sq[0], cols);
        row = letter_index(utm_row_letters, sq[1]);
        if (row < 0)
            return lb_fail(err, LB_EMGRS,
                           "MGRS '%s': 100 km square '%s' does not exist in zone %d "
                           "(row letter '%c' is not one of %s)",
                           q, sq, zone, sq[1], utm_row_letters);
    }

    /* 5. Digits: easting then northing, same count. */
    size_t d0 = p;
    for (; p < cs.n; p++) {
        if (!isdigit((unsigned char)cs.c[p]))
            return lb_fail(err, LB_EMGRS,
                           "MGRS '%s': unexpected letter '%c' at position %zu among the "
                           "coordinate digits",
                           q, s[cs.pos[p]], cs.pos[p] + 1);
    }
    size_t nd = cs.n - d0;
    if (nd > 0) {
        unsigned g0 = cs.group[d0], g1 = cs.group[cs.n - 1];
        if (g1 - g0 > 1)
            return lb_fail(err, LB_EMGRS,
                           "MGRS '%s': coordinate digits split into %u groups (expected easting "
                           "and northing only)",
                           q, g1 - g0 + 1);
        if (g1 != g0) {
            size_t ne = 0;
            while (cs.group[d0 + ne] == g0)
                ne++;
            if (ne != nd - ne)
                return lb_fail(err, LB_EMGRS,
                               "MGRS '%s': easting and northing have different numbers of "
                               "digits (%zu and %zu)",
                               q, ne, nd - ne);
        }
    }
    if (nd % 2 != 0)
        return lb_fail(err, LB_EMGRS, "MGRS '%s': odd number of digits (%zu)", q, nd);
    if (nd > 2 * MAX_PRECISION)
        return lb_fail(err, LB_EMGRS,
                       "MGRS '%s': too many digits (%zu; at most %d, i.e. 1 m precision)", q, nd,
                       2 * MAX_PRECISION);
    int prec = (int)nd / 2;
    long e = 0, nn = 0;
    for (int i = 0; i < prec; i++) {
        e = e * 10 + (cs.c[d0 + (size_t)i] - '0');
        nn = nn * 10 + (cs.c[d0 + (size_t)prec + (size_t)i] - '0');
    }
    double unit = cell_size(prec);

    /* 6. Full coordinates of the south-west corner. */
    lb_mgrs m = {.zone = zone, .band = band, .precision = prec};
    if (ups) {
        m.north = ups->north;
        m.easting = (ups->col0 + col) * TILE + (double)e * unit;
        m.northing = (ups->row0 + row) * TILE + (double)nn * unit;
    } else {
        /* Row number modulo 20 counted from the equator. */
        int rmod = row;
        if (zone % 2 == 0)
            rmod = (rmod + UTM_ROW_PERIOD - UTM_EVEN_ROW_SHIFT) % UTM_ROW_PERIOD;
        /* The one row congruent to rmod inside the band's range (ranges span < 20 rows). */
        const row_range *rr = band_row_range(band_idx, col);
        int r = rr->lo + ((rmod - rr->lo) % UTM_ROW_PERIOD + UTM_ROW_PERIOD) % UTM_ROW_PERIOD;
        if (r > rr->hi) {
            char s0[16], s1[16];
            fmt_lat(s0, sizeof s0, band_south(band_idx));
            fmt_lat(s1, sizeof s1, band_north(band_idx));
            return lb_fail(err, LB_EMGRS,
                           "MGRS '%s': easting/northing outside band %c (100 km square '%s' of "
                           "zone %d does not reach latitudes %s..%s)",
                           q, band, sq, zone, s0, s1);
        }
        m.north = band >= 'N';
        m.easting = (col + 1) * TILE + (double)e * unit;
        m.northing = r * TILE + (m.north ? 0.0 : 10000000.0) + (double)nn * unit;
    }
    *out = m;
    return LB_OK;
}

/* ------------------------------------------------------------------------ */
/* Reverse: MGRS -> cell centre                                              */
/* ------------------------------------------------------------------------ */

lb_status lb_mgrs_to_lonlat(const char *s, double *lon, double *lat, double *size_m, lb_error *err)
{
    if (!lon || !lat)
        return lb_fail(err, LB_EINVAL, "lb_mgrs_to_lonlat: lon/lat output is NULL");
    lb_mgrs m;
    lb_status st = lb_mgrs_parse(s, &m, err);
    if (st != LB_OK)
        return st;
    double size = cell_size(m.precision);
    double a = m.easting + size / 2, b = m.northing + size / 2;
    st = pj_transform(m.zone, m.north, PJ_INV, &a, &b, err);
    if (st != LB_OK)
        return st;
    *lon = a;
    *lat = b;
    if (size_m)
        *size_m = size;
    return LB_OK;
}

/* ------------------------------------------------------------------------ */
/* Forward: lon/lat -> MGRS                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Standard zone of a position (0 for UPS), as UTM/UPS defines it: UPS for
 * lat >= 84 or lat < -80, else the 6 degree zone with the Norway exception
 * (band V, 3E..12E -> 32) and the Svalbard exception (band X, 0E..42E ->
 * 31, 33, 35, 37 with boundaries 9E, 21E, 33E).  lon is in [-180, 180).
 */
static int standard_zone(double lon, double lat, int *band_idx)
{
    if (lat >= 84 || lat < -80) {
        *band_idx = -1;
        return 0;
    }
    /*
     * Work on whole degrees: all band and zone limits are integers, and
     * floor() is exact where (lat + 80) / 8 could round up across a limit
     * for a latitude a few ulps below it.
     */
    int ilat = (int)floor(lat), ilon = (int)floor(lon);
    int b = (ilat + 80) / 8;
    if (b > NBANDS - 1)
        b = NBANDS - 1; /* band X is 72..84 */
    *band_idx = b;
    int zone = (ilon + 180) / 6 + 1;
    char bl = band_letters[b];
    if (bl == 'V' && zone == 31 && ilon >= 3)
        zone = 32;
    else if (bl == 'X' && ilon >= 0 && ilon < 42)
        zone = ilon < 9 ? 31 : ilon < 21 ? 33 : ilon < 33 ? 35 : 37;
    return zone;
}

/*
 * Truncate a projected coordinate (metres) to whole micrometres, the
 * resolution GeographicLib truncates at before cutting the digits.
 *
 * The value is first rounded to 10 nm: PROJ's results carry a few nm of
 * floating-point noise (on some central meridians it gives an easting of
 * 499999.9999999995 where the exact value, and GeographicLib's, is 500000),
 * and that noise must not push a point on a grid line into the cell below.
 * 10 nm is far below the accuracy of the projection itself.  A value that
 * then sits exactly on the exclusive upper limit of the grid (e.g. the
 * southern northing 10000 km of a latitude of -1e-20) is moved just inside,
 * as GeographicLib does.  Returns -1 for values far outside any grid.
 */
static long long to_micrometres(double v, long long upper)
{
    if (!(fabs(v) < 1e9))
        return -1;
    long long v10nm = llround(v * 1e8);
    long long iv = v10nm >= 0 ? v10nm / 100 : -((-v10nm + 99) / 100);
    if (iv == upper)
        iv--;
    return iv;
}

lb_status lb_mgrs_from_lonlat(double lon, double lat, int precision, char *buf, size_t n,
                              lb_error *err)
{
    if (!buf)
        return lb_fail(err, LB_EINVAL, "lb_mgrs_from_lonlat: buffer is NULL");
    if (precision < 0 || precision > MAX_PRECISION)
        return lb_fail(err, LB_EINVAL, "MGRS precision %d out of range 0-%d", precision,
                       MAX_PRECISION);
    if (!isfinite(lat) || lat < -90 || lat > 90)
        return lb_fail(err, LB_ERANGE, "latitude %g out of range -90..90", lat);
    if (!isfinite(lon))
        return lb_fail(err, LB_ERANGE, "longitude %g is not finite", lon);

    /* Longitude into [-180, 180). */
    lon = fmod(lon, 360.0);
    if (lon >= 180)
        lon -= 360;
    else if (lon < -180)
        lon += 360;

    int band_idx;
    int zone = standard_zone(lon, lat, &band_idx);
    int north = lat >= 0;
    double x = lon, y = lat;
    lb_status st = pj_transform(zone, north, PJ_FWD, &x, &y, err);
    if (st != LB_OK)
        return st;

    /* Integer micrometres; limits of the MGRS grid (exclusive upper ends). */
    const long long um100k = 100000000000LL; /* 100 km */
    long long xlo, xhi, ylo, yhi;
    if (zone) {
        xlo = 1 * um100k, xhi = 9 * um100k;
        ylo = north ? 0 : 10 * um100k, yhi = north ? 95 * um100k : 100 * um100k;
    } else {
        xlo = ylo = (north ? 13 : 8) * um100k;
        xhi = yhi = (north ? 27 : 32) * um100k;
    }
    long long ix = to_micrometres(x, xhi), iy = to_micrometres(y, yhi);
    if (ix < xlo || ix >= xhi || iy < ylo || iy >= yhi)
        return lb_fail(err, LB_EINTERNAL,
                       "MGRS: position lon %.9f lat %.9f maps to %s easting/northing %.3f %.3f "
                       "outside the MGRS grid",
                       lon, lat, zone ? "UTM" : "UPS", x, y);
    int xh = (int)(ix / um100k), yh = (int)(iy / um100k);
    long long um_unit = 1000000LL;
    for (int i = precision; i < MAX_PRECISION; i++)
        um_unit *= 10;
    long long de = (ix - xh * um100k) / um_unit, dn = (iy - yh * um100k) / um_unit;

    char head[24];
    if (zone) {
        int col = xh - 1;
        int r = north ? yh : yh - 100; /* signed row from the equator */
        const row_range *rr = band_row_range(band_idx, col);
        if (r < rr->lo || r > rr->hi)
            return lb_fail(err, LB_EINTERNAL,
                           "MGRS: lon %.9f lat %.9f: UTM row %d is inconsistent with band %c", lon,
                           lat, r, band_letters[band_idx]);
        int letter = (yh + (zone % 2 == 0 ? UTM_EVEN_ROW_SHIFT : 0)) % UTM_ROW_PERIOD;
        snprintf(head, sizeof head, "%02d%c%c%c", zone, band_letters[band_idx],
                 utm_col_letters[(zone - 1) % 3][col], utm_row_letters[letter]);
    } else {
        const ups_band *ub = &ups_bands[(north ? 2 : 0) + (xh >= 20 ? 1 : 0)];
        int col = xh - ub->col0, row = yh - ub->row0;
        if (col < 0 || col >= (int)strlen(ub->cols) || row < 0 || row >= (int)strlen(ub->rows))
            return lb_fail(err, LB_EINTERNAL,
                           "MGRS: lon %.9f lat %.9f: UPS square (%d, %d) outside band %c", lon,
                           lat, xh, yh, ub->band);
        snprintf(head, sizeof head, "%c%c%c", ub->band, ub->cols[col], ub->rows[row]);
    }

    char tmp[64];
    if (precision > 0)
        snprintf(tmp, sizeof tmp, "%s%0*lld%0*lld", head, precision, de, precision, dn);
    else
        snprintf(tmp, sizeof tmp, "%s", head);
    size_t len = strlen(tmp);
    if (len + 1 > n)
        return lb_fail(err, LB_EINVAL, "MGRS: buffer of %zu bytes too small for '%s'", n, tmp);
    memcpy(buf, tmp, len + 1);
    return LB_OK;
}
