/*
 * `lagebild serve` end to end over raw HTTP/1.1, on a temporary copy of the
 * demo scenario: health, authentication (401 for missing, malformed,
 * unknown and revoked tokens), the single byte-identical 404 for everything
 * a principal may not see or that does not exist (maps, tiles, grids,
 * hostile URLs), TileJSON per principal, ETags, the classification banner
 * of area-limited roles, metrics, an oversized header, break-glass, the crisis phase API, a role's validity window ending
 * while the server runs (no stale cache), clean shutdown on SIGTERM, and the
 * audit log (hash chain intact, principals named, no token ever written).
 *
 * One server (config variant srv.yaml) serves every test except the expiry
 * test, which starts its own; the last test stops it and checks the audit
 * log.  Tests that change operator state (break-glass, phase) come after
 * the read-only ones and restore what the others rely on.
 */
#include <math.h>
#include <time.h>

#include "lbtest.h"
#include "tutil.h"
#include "thttp.h"

/* ------------------------------------------------------------- fixture */

static char *g_dir, *g_store, *g_cfg, *g_audit;
static char g_alice[128], g_mallory[128]; /* tokens minted by `lagebild token new` */
static char g_diag[128]; /* role diag: power lines, within two squares (diag_area) */
static int g_fixture; /* 0: not set up, 1: ready, -1: setup failed */
static t_server g_srv;
static int g_port; /* where the helpers send requests: g_srv's port */
static t_resp g_nf; /* the reference 404: a tile of a map that does not exist */

/* Tiles (z, x, y) chosen from the data in setup. */
static int g_unit_z = 14;
static long g_unit_x, g_unit_y;   /* a unit kritis may see once `units` is granted */
static long g_inc_x, g_inc_y;     /* an incident kritis sees in phase Reaktion (z 14) */
static long g_mil_x, g_mil_y;     /* a VS-VERTRAULICH unit: military sees it, police not */

static void cleanup(void)
{
    t_server_free(&g_srv);
    t_resp_free(&g_nf);
    if (g_dir)
        t_rmrf(g_dir);
    free(g_dir);
    free(g_store);
    free(g_cfg);
    free(g_audit);
    g_dir = g_store = g_cfg = g_audit = NULL;
}

static void lonlat_tile(double lon, double lat, int z, long *x, long *y)
{
    double n = ldexp(1.0, z);
    double r = lat * M_PI / 180.0;
    *x = (long)floor((lon + 180.0) / 360.0 * n);
    *y = (long)floor((1.0 - asinh(tan(r)) / M_PI) / 2.0 * n);
}

/* Position of the first feature (by fid) of layer matching where, as a tile at z. */
static void feature_tile(const char *layer, const char *where, int z, long *x, long *y)
{
    const char *q = "SELECT %s(ST_Centroid(geom)) FROM %s WHERE %s ORDER BY fid LIMIT 1";
    double lon = t_sql_double(g_store, q, "X", layer, where);
    double lat = t_sql_double(g_store, q, "Y", layer, where);
    if (isnan(lon) || isnan(lat))
        LBT__FAIL("no feature in %s where %s", layer, where);
    lonlat_tile(lon, lat, z, x, y);
}

/* `lagebild token new`: the token into tok, returns the config hash (malloc'ed). */
static char *mint(const char *principal, const char *roles, char *tok, size_t n)
{
    const char *argv[] = {LB_BINARY, "token", "new", "--principal", principal, "--roles", roles,
                          NULL};
    t_result r = t_run(argv);
    if (r.status != 0)
        fprintf(stderr, "  token new: %s\n", r.err);
    ASSERT_EQ(r.status, 0);
    const char *nl = strchr(r.out, '\n');
    ASSERT(nl && (size_t)(nl - r.out) < n);
    memcpy(tok, r.out, (size_t)(nl - r.out));
    tok[nl - r.out] = '\0';
    const char *h = strstr(r.out, "hash: ");
    ASSERT(h);
    h += 6;
    size_t hl = strcspn(h, " \r\n");
    char *hash = strndup(h, hl);
    t_result_free(&r);
    ASSERT(strncmp(hash, "sha256:", 7) == 0);
    return hash;
}

/* The demo config with text inserted after "maps:" / "roles:" and tokens appended. */
static char *config_variant(const char *maps, const char *roles, const char *tokens)
{
    char *p = t_path(LB_SOURCE_DIR, "demo/lagebild.yaml");
    char *demo = t_read_file(p);
    free(p);
    const char *m = strstr(demo, "\nmaps:\n"), *r = strstr(demo, "\nroles:\n");
    if (!m || !r || r < m)
        LBT__FAIL("demo/lagebild.yaml: no maps: before roles: section");
    size_t mo = (size_t)(m - demo) + 7, ro = (size_t)(r - demo) + 8;
    size_t cap = strlen(demo) + strlen(maps) + strlen(roles) + strlen(tokens) + 8;
    char *out = malloc(cap);
    size_t k = 0;
    memcpy(out + k, demo, mo);
    k += mo;
    k += (size_t)sprintf(out + k, "%s", maps);
    memcpy(out + k, demo + mo, ro - mo);
    k += ro - mo;
    k += (size_t)sprintf(out + k, "%s", roles);
    size_t rest = strlen(demo + ro);
    memcpy(out + k, demo + ro, rest);
    k += rest;
    if (k && out[k - 1] != '\n')
        out[k++] = '\n';
    k += (size_t)sprintf(out + k, "%s", tokens);
    out[k] = '\0';
    free(demo);
    return out;
}

/*
 * Role diag's area: square 1 lies in the box of power line KR-FL-02 (a
 * diagonal from 9.415 E 52.033 N to 9.17 E 51.96 N) but some 5 km from the
 * line itself; square 2 lies on the line.
 */
#define DIAG_SQ1 "[[9.19, 52.015], [9.21, 52.015], [9.21, 52.03], [9.19, 52.03], [9.19, 52.015]]"
#define DIAG_SQ2 "[[9.32, 51.995], [9.34, 51.995], [9.34, 52.015], [9.32, 52.015], [9.32, 51.995]]"
static const char diag_area[] =
    "{\"type\": \"FeatureCollection\", \"features\": [{\"type\": \"Feature\", \"properties\": {},\n"
    " \"geometry\": {\"type\": \"MultiPolygon\", \"coordinates\": [[" DIAG_SQ1 "], [" DIAG_SQ2
    "]]}}]}\n";
static const char diag_role[] =
    "  diag:\n"
    "    title: Leitungen im Ausschnitt\n"
    "    clearance: {level: VS-NfD, groups: [kritis]}\n"
    "    layers: [power_lines]\n"
    "    area: {path: diag_area.geojson}\n";

static const char extra_maps[] =
    "  only_units:\n"
    "    title: Nur Einheiten\n"
    "    layers: [units]\n"
    "  only_incidents:\n"
    "    title: Nur Ereignisse\n"
    "    layers: [incidents]\n";

static void fixture(void)
{
    if (g_fixture == 1) {
        g_port = g_srv.port;
        return;
    }
    ASSERT(g_fixture == 0); /* an earlier setup failed */
    g_fixture = -1;
    atexit(cleanup);
    g_dir = t_tmpdir();
    ASSERT(g_dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -r '%s/demo/data' '%s/demo/lagebild.yaml' '%s/'", LB_SOURCE_DIR,
             LB_SOURCE_DIR, g_dir);
    ASSERT_EQ(system(cmd), 0);
    char *demo_cfg = t_path(g_dir, "lagebild.yaml");
    t_result r = t_lagebild("ingest", demo_cfg, "--quiet", NULL);
    free(demo_cfg);
    if (r.status != 0)
        fprintf(stderr, "%s\n%s\n", r.out, r.err);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    g_store = t_path(g_dir, "lagebild.sqlite");
    g_audit = t_path(g_dir, "lagebild.sqlite.audit.jsonl");

    char *alice_hash = mint("alice", "police", g_alice, sizeof g_alice);
    char *mallory_hash = mint("mallory", "police", g_mallory, sizeof g_mallory);
    char *diag_hash = mint("diag", "diag", g_diag, sizeof g_diag);
    char tokens[1024];
    snprintf(tokens, sizeof tokens,
             "  alice:            {hash: \"%s\", roles: [police]}\n"
             "  mallory:          {hash: \"%s\", roles: [police], revoked: true}\n"
             "  diag:             {hash: \"%s\", roles: [diag]}\n",
             alice_hash, mallory_hash, diag_hash);
    free(alice_hash);
    free(mallory_hash);
    free(diag_hash);
    t_write(g_dir, "diag_area.geojson", diag_area);
    char *text = config_variant(extra_maps, diag_role, tokens);
    t_write(g_dir, "srv.yaml", text);
    free(text);
    g_cfg = t_path(g_dir, "srv.yaml");
    r = t_lagebild("check", g_cfg, NULL, NULL);
    if (r.status != 0)
        fprintf(stderr, "%s\n%s\n", r.out, r.err);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);

    /* tiles from the data */
    const char *for_kritis =
        "label_level <= 1 AND (','||releasable_to||',') LIKE '%,kritis,%' AND caveats = ''";
    feature_tile("units", for_kritis, g_unit_z, &g_unit_x, &g_unit_y);
    feature_tile("incidents", for_kritis, 14, &g_inc_x, &g_inc_y);
    feature_tile("units", "label_level = 2 AND (','||releasable_to||',') NOT LIKE '%,police,%'", 14,
                 &g_mil_x, &g_mil_y);

    char *err = t_path(g_dir, "server.stderr");
    bool ok = t_server_start(&g_srv, g_cfg, NULL, err);
    free(err);
    ASSERT(ok);
    g_port = g_srv.port;
    fprintf(stderr, "  server on port %d (ready after %.2f s)\n", g_srv.port, g_srv.started_s);
    ASSERT_EQ(t_get(g_port, "/maps/nosuchmap/12/2154/1351.png", "demo-police", &g_nf), 0);
    ASSERT_EQ(g_nf.status, 404);
    ASSERT(t_resp_length_ok(&g_nf));
    g_fixture = 1;
}

/* ------------------------------------------------------------- helpers */

/* Print a response readably (control characters escaped, long bodies cut). */
static void show(const char *what, const t_resp *r)
{
    fprintf(stderr, "  %s (%zu bytes): ", what, r->rawlen);
    size_t lim = r->rawlen < 600 ? r->rawlen : 600;
    for (size_t i = 0; i < lim; i++) {
        unsigned char c = (unsigned char)r->raw[i];
        if (c == '\r')
            fputs("\\r", stderr);
        else if (c == '\n')
            fputs("\\n", stderr);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fputs(lim < r->rawlen ? "...\n" : "\n", stderr);
}

static bool same_bytes(const t_resp *a, const t_resp *b)
{
    return a->rawlen == b->rawlen && memcmp(a->raw, b->raw, a->rawlen) == 0;
}

/* Whether a request answers exactly like g_nf; prints both when not. */
static bool check_not_found_req(const char *method, const char *target, const char *headers,
                                const char *body)
{
    t_resp r;
    if (t_http(g_port, method, target, headers, body, &r) != 0)
        fprintf(stderr, "  %s: no answer\n", method);
    bool same = same_bytes(&r, &g_nf);
    if (!same) {
        size_t tl = strlen(target);
        fprintf(stderr, "  %s %.200s%s: not the reference 404\n", method, target,
                tl > 200 ? "..." : "");
        show("got", &r);
        show("reference", &g_nf);
    }
    t_resp_free(&r);
    return same;
}

static bool check_not_found(const char *target, const char *token)
{
    char h[512] = "";
    if (token)
        snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", token);
    return check_not_found_req("GET", target, h, NULL);
}

#define expect_not_found_req(m, t, h, b)                                              \
    do {                                                                              \
        if (!check_not_found_req(m, t, h, b))                                         \
            LBT__FAIL("response differs from the 404 of a nonexistent map");          \
    } while (0)
#define expect_not_found(t, tok)                                                      \
    do {                                                                              \
        if (!check_not_found(t, tok))                                                 \
            LBT__FAIL("response differs from the 404 of a nonexistent map");          \
    } while (0)

static int get_status(const char *target, const char *token)
{
    t_resp r;
    ASSERT_EQ(t_get(g_port, target, token, &r), 0);
    int st = r.status;
    ASSERT(t_resp_length_ok(&r));
    t_resp_free(&r);
    return st;
}

static int post_form(const char *target, const char *token, const char *body, t_resp *out)
{
    char h[512] = "";
    if (token)
        snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", token);
    ASSERT_EQ(t_http(g_port, "POST", target, h, body, out), 0);
    return out->status;
}

static char *tile_path(const char *map, int z, long x, long y, const char *suffix)
{
    char *p = malloc(256);
    snprintf(p, 256, "/maps/%s/%d/%ld/%ld%s", map, z, x, y, suffix ? suffix : ".png");
    return p;
}

/* ------------------------------------------------------------- tests */

/* The level the classification banner names for bbox (lon/lat), "null"
 * when none, as token's principal. */
static void expect_level(const char *bbox, const char *token, const char *level)
{
    char target[256], want[64];
    snprintf(target, sizeof target, "/maps/lage/classification?bbox=%s", bbox);
    snprintf(want, sizeof want, strcmp(level, "null") ? "{\"level\":\"%s\"}\n" : "{\"level\":%s}\n",
             level);
    t_resp r;
    ASSERT_EQ(t_get(g_port, target, token, &r), 0);
    ASSERT_EQ(r.status, 200);
    if (strcmp(r.body, want) != 0) {
        fprintf(stderr, "  bbox %s: %s", bbox, r.body);
        t_resp_free(&r);
        LBT__FAIL("the classification banner should name %s", level);
    }
    t_resp_free(&r);
}

LB_TEST(test_health)
{
    fixture();
    t_resp r;
    ASSERT_EQ(t_get(g_port, "/health", NULL, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT(t_resp_length_ok(&r));
    ASSERT_CONTAINS(r.body, "ok");
    t_resp_free(&r);
}

LB_TEST(test_unauthorized)
{
    fixture();
    const char *tile = "/maps/lage/12/2154/1351.png";
    t_resp ref;
    ASSERT_EQ(t_get(g_port, tile, NULL, &ref), 0);
    ASSERT_EQ(ref.status, 401);
    char www[128];
    ASSERT(t_resp_header(&ref, "WWW-Authenticate", www, sizeof www));
    ASSERT(strncmp(www, "Bearer", 6) == 0);

    char unknown_q[300], revoked_q[300], revoked_h[300];
    snprintf(unknown_q, sizeof unknown_q, "%s?token=lbt_%s", tile,
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    snprintf(revoked_q, sizeof revoked_q, "%s?token=%s", tile, g_mallory);
    snprintf(revoked_h, sizeof revoked_h, "Authorization: Bearer %s\r\n", g_mallory);
    struct {
        const char *target, *headers;
    } cases[] = {
        {tile, "Authorization: Bearer\r\n"},
        {tile, "Authorization: Bearer \r\n"},
        {tile, "Authorization: Basic x\r\n"},
        {tile, "Authorization: Basic ZGVtby1wb2xpY2U6\r\n"},
        {tile, "Authorization: demo-police\r\n"},
        {tile, "Authorization: Bearer demo-police-x\r\n"},
        {tile, "Authorization: Bearer demo-polic\r\n"},
        {tile, "Authorization: Bearer nope\r\n"},
        {unknown_q, NULL},
        {"/maps/lage/12/2154/1351.png?token=", NULL},
        {revoked_q, NULL},
        {tile, revoked_h},
        {"/maps/lage.json", NULL},
        {"/maps/lage.json?token=nope", NULL},
        {"/maps/nosuchmap/1/0/0.png", NULL},   /* unknown token first: no existence oracle */
        {"/maps/only_units.json", "Authorization: Bearer nope\r\n"},
        {"/metrics", NULL},
        {"/metrics", "Authorization: Bearer nope\r\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t_resp r;
        ASSERT_EQ(t_http(g_port, "GET", cases[i].target, cases[i].headers, NULL, &r), 0);
        if (r.status != 401 || !same_bytes(&r, &ref)) {
            fprintf(stderr, "  case %zu: GET %s with [%s]\n", i, cases[i].target,
                    cases[i].headers ? cases[i].headers : "");
            show("got", &r);
            show("401 of a missing token", &ref);
            t_resp_free(&r);
            t_resp_free(&ref);
            LBT__FAIL("expected the same 401 as for a missing token");
        }
        t_resp_free(&r);
    }
    /* POSTs to the operator API without a valid token */
    t_resp r;
    ASSERT_EQ(post_form("/admin/phase", NULL, "phase=Reaktion", &r), 401);
    t_resp_free(&r);
    ASSERT_EQ(post_form("/admin/phase", g_mallory, "phase=Reaktion", &r), 401);
    t_resp_free(&r);
    ASSERT_EQ(post_form("/admin/breakglass", "nope", "role=kritis&layer=units&minutes=1&reason=x",
                        &r), 401);
    t_resp_free(&r);
    t_resp_free(&ref);
    /* the valid tokens do work (header and query) */
    ASSERT_EQ(get_status(tile, "demo-police"), 200);
    char q[300];
    snprintf(q, sizeof q, "%s?token=%s", tile, g_alice);
    ASSERT_EQ(get_status(q, NULL), 200);
    ASSERT_EQ(get_status(tile, g_alice), 200);
    /* the scheme is case-insensitive and may be followed by several spaces */
    const char *schemes[] = {"Authorization: bearer demo-police\r\n",
                             "Authorization: BEARER demo-police\r\n",
                             "Authorization: Bearer   demo-police\r\n"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        ASSERT_EQ(t_http(g_port, "GET", tile, schemes[i], NULL, &r), 0);
        if (r.status != 200)
            fprintf(stderr, "  [%s] answered %d\n", schemes[i], r.status);
        ASSERT_EQ(r.status, 200);
        t_resp_free(&r);
    }
}

LB_TEST(test_not_visible_is_not_found)
{
    fixture();
    char *p;
    /* kritis is not granted `units`: the map of only `units` does not exist for it */
    expect_not_found("/maps/only_units.json", "demo-kritis");
    expect_not_found("/maps/nosuchmap.json", "demo-kritis");
    expect_not_found("/maps/nosuchmap.json", "demo-police");
    p = tile_path("only_units", g_unit_z, g_unit_x, g_unit_y, ".png");
    expect_not_found(p, "demo-kritis");
    ASSERT_EQ(get_status(p, "demo-military"), 200); /* but it exists */
    free(p);
    p = tile_path("only_units", g_unit_z, g_unit_x, g_unit_y, "@2x.png");
    expect_not_found(p, "demo-kritis");
    free(p);
    p = tile_path("nosuchmap", g_unit_z, g_unit_x, g_unit_y, ".png");
    expect_not_found(p, "demo-kritis");
    free(p);
    char q[256];
    snprintf(q, sizeof q, "/maps/only_units/WebMercatorQuad/%d/%ld/%ld.png", g_unit_z, g_unit_x,
             g_unit_y);
    expect_not_found(q, "demo-kritis");
    snprintf(q, sizeof q, "/maps/only_units/DE_EPSG_25832_ADV/10/100/100.png");
    expect_not_found(q, "demo-kritis");
    snprintf(q, sizeof q, "/maps/only_units.json?token=demo-kritis");
    expect_not_found(q, NULL);
    /* the viewer's layer list and classification: the same 404 for an
     * uncleared map as for a missing one (a bbox that is valid) */
    expect_not_found("/maps/only_units/layers.json", "demo-kritis");
    expect_not_found("/maps/nosuchmap/layers.json", "demo-kritis");
    expect_not_found("/maps/only_units/classification?bbox=5,47,15,55", "demo-kritis");
    expect_not_found("/maps/nosuchmap/classification?bbox=5,47,15,55", "demo-kritis");
    expect_not_found("/maps/only_units/static.png?bbox=9,52,10,53&width=300&height=200&crs=EPSG:4326",
                     "demo-kritis");
    expect_not_found("/maps/nosuchmap/static.png?bbox=9,52,10,53&width=300&height=200&crs=EPSG:4326",
                     "demo-kritis");
    ASSERT_EQ(get_status("/maps/only_units/static.png?bbox=9,52,10,53&width=300&height=200"
                         "&crs=EPSG:4326",
                         "demo-military"),
              200);
    ASSERT_EQ(get_status("/maps/only_units/layers.json", "demo-military"), 200);
    ASSERT_EQ(get_status("/maps/only_units/classification?bbox=5,47,15,55", "demo-military"), 200);
    /* grids that do not exist, zooms a grid does not have */
    expect_not_found("/maps/lage/NoSuchGrid/12/2154/1351.png", "demo-police");
    expect_not_found("/maps/lage/webmercatorquad/12/2154/1351.png", "demo-police");
    expect_not_found("/maps/lage/DE_EPSG_25832_ADV/18/0/0.png", "demo-police");
    expect_not_found("/maps/lage/EPSG:3857/12/2154/1351.png", "demo-police");
    /* routes that do not exist */
    expect_not_found("/maps", "demo-police");
    expect_not_found("/maps/lage", "demo-police");
    expect_not_found("/nothing/here", "demo-police");
    expect_not_found("/", "demo-police");
    expect_not_found("/maps/lage/12/2154/1351/extra/segments.png", "demo-police");
    /* an operator API for a non-admin */
    expect_not_found("/metrics", "demo-police");
    expect_not_found_req("POST", "/admin/phase", "Authorization: Bearer demo-kritis\r\n",
                         "phase=Vorbereitung");
    expect_not_found_req("POST", "/admin/breakglass", "Authorization: Bearer demo-kritis\r\n",
                         "role=kritis&layer=units&minutes=1&reason=test");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of n GETs of target (interleaved by the caller). */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

/*
 * A static view of a map the principal may not see takes no longer to
 * refuse than one of a map nobody has: before, the canvas (31 MB here) was
 * made before the map's visibility was known, and the hidden map's 404 came
 * several times later.  Interleaved requests, medians, with slack for a
 * loaded machine.
 */
LB_TEST(test_hidden_static_map_is_refused_as_fast_as_a_missing_one)
{
    fixture();
    enum { N = 41 };
    double hidden[N], missing[N];
    const char *q = "static.png?bbox=9,52,10,53&width=2800&height=2800&crs=EPSG:4326";
    char th[256], tm[256];
    snprintf(th, sizeof th, "/maps/only_units/%s", q);
    snprintf(tm, sizeof tm, "/maps/nosuchmap/%s", q);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 2; k++) {
            bool h = (i + k) % 2 == 0;
            double t0 = t_mono();
            ASSERT_EQ(get_status(h ? th : tm, "demo-kritis"), 404);
            (h ? hidden : missing)[i] = t_mono() - t0;
        }
    }
    double mh = median(hidden, N), mm = median(missing, N);
    fprintf(stderr, "  median 404: hidden %.0f us, missing %.0f us\n", mh * 1e6, mm * 1e6);
    ASSERT(mh <= 2 * mm + 100e-6);
}

LB_TEST(test_hostile_tile_urls)
{
    fixture();
    static const char *const cases[] = {
        "/maps/lage/99/0/0.png",
        "/maps/lage/23/0/0.png",
        "/maps/lage/-1/0/0.png",
        "/maps/lage/12/-1/1351.png",
        "/maps/lage/12/-0/1351.png",
        "/maps/lage/12/4096/1351.png",
        "/maps/lage/12/2154/4096.png",
        "/maps/lage/0/1/0.png",
        "/maps/lage/12/2154/99999999999999999999999999999.png",
        "/maps/lage/12/2154/18446744073709551617.png",
        "/maps/lage/12/4294967296/1351.png",
        "/maps/lage/9999999999999/0/0.png",
        "/maps/lage/1a/2154/1351.png",
        "/maps/lage/12/0x86a/1351.png",
        "/maps/lage/12/2154/1e3.png",
        "/maps/lage/12/+2154/1351.png",
        "/maps/lage/12/%202154/1351.png",
        "/maps/lage/12/2154/1351.5.png",
        "/maps/lage/12/2154/.png",
        "/maps/lage/12/2154/@2x.png",
        "/maps/lage/12/2154/1351@3x.png",
        "/maps/lage/12/2154/1351@2x@2x.png",
        "/maps/lage/12/2154/1351.jpg",
        "/maps/lage/12/2154/1351",
        "/maps/lage/12/2154/1351.png.png",
        "/maps/lage/12/2154/1351.PNG",
        "/maps/lage/12//1351.png/x",
        /* dot segments: whatever normalisation applies, none of these is a visible resource */
        "/maps/lage/../only_units/14/0/0.png",
        "/maps/lage/12/2154/../../../../etc/passwd",
        "/../../../../etc/passwd",
        "/maps/../../../../etc/passwd",
        "/maps/%2e%2e/%2e%2e/etc/passwd",
        "/maps/lage/12/2154/..%2F..%2F..%2Fonly_units.json",
        "/maps/lage/..%2Fonly_units.json",
        "/maps/only_units%2F..%2Flage.json",
        /* percent-encoded slashes are data, not separators */
        "/maps/lage%2F12%2F2154%2F1351.png",
        "/maps/lage%2f12/2154/1351.png",
        "/maps/lage/12%2F2154%2F1351.png",
        "/maps/lage%2FWebMercatorQuad/12/2154/1351.png",
        "/maps%2Flage.json",
        /* NUL bytes do not cut a segment short */
        "/maps/lage/12/2154/1351.png%00.txt",
        "/maps/lage/12/2154/1351%00.png",
        "/maps/lage%00/12/2154/1351.png",
        "/maps/lage.json%00",
        /* encodings that do not decode */
        "/maps/lage/12/2154/1351%.png",
        "/maps/lage/12/2154/1351%2.png",
        "/maps/lage/12/2154/1351%zz.png",
    };
    int bad = 0, total = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++, total++)
        bad += !check_not_found(cases[i], "demo-kritis");

    /* long things: a 2000-char segment in every position, a 4000-char path, many segments */
    char seg[2001];
    memset(seg, '1', 2000);
    seg[2000] = '\0';
    char *p = malloc(8192);
    snprintf(p, 8192, "/maps/lage/12/2154/%s.png", seg);
    total++, bad += !check_not_found(p, "demo-kritis");
    snprintf(p, 8192, "/maps/lage/12/%s/1351.png", seg);
    total++, bad += !check_not_found(p, "demo-kritis");
    snprintf(p, 8192, "/maps/lage/%s/2154/1351.png", seg);
    total++, bad += !check_not_found(p, "demo-kritis");
    memset(seg, 'a', 2000);
    snprintf(p, 8192, "/maps/%s/12/2154/1351.png", seg);
    total++, bad += !check_not_found(p, "demo-kritis");
    snprintf(p, 8192, "/maps/%s.json", seg);
    total++, bad += !check_not_found(p, "demo-kritis");
    snprintf(p, 8192, "/maps/lage/%s/12/2154/1351.png", seg);
    total++, bad += !check_not_found(p, "demo-kritis");
    size_t k = (size_t)snprintf(p, 8192, "/maps/lage/12/2154");
    while (k < 4000)
        k += (size_t)snprintf(p + k, 8192 - k, "/x");
    snprintf(p + k, 8192 - k, "/1351.png");
    total++, bad += !check_not_found(p, "demo-kritis");
    k = (size_t)snprintf(p, 8192, "/maps");
    for (int i = 0; i < 300; i++)
        k += (size_t)snprintf(p + k, 8192 - k, "/a");
    total++, bad += !check_not_found(p, "demo-kritis");
    k = (size_t)snprintf(p, 8192, "/maps/lage/12/2154/1351.png");
    while (k < 6000)
        k += (size_t)snprintf(p + k, 8192 - k, "/");
    total++, bad += !check_not_found(p, "demo-kritis");
    free(p);
    /* the server still serves normally */
    ASSERT_EQ(get_status("/maps/lage/12/2154/1351.png", "demo-kritis"), 200);
    if (bad)
        LBT__FAIL("%d of %d hostile URLs did not answer the reference 404", bad, total);
}

/* The TileJSON body of map for token (in the header, or in the query when query). */
static char *tilejson(const char *map, const char *token, bool query)
{
    char path[256];
    snprintf(path, sizeof path, "/maps/%s.json%s%s", map, query ? "?token=" : "",
             query ? token : "");
    t_resp r;
    ASSERT_EQ(t_get(g_port, path, query ? NULL : token, &r), 0);
    if (r.status != 200)
        show("tilejson", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT(t_resp_length_ok(&r));
    char ct[128];
    ASSERT(t_resp_header(&r, "Content-Type", ct, sizeof ct));
    ASSERT_CONTAINS(ct, "json");
    char *body = strndup(r.body, r.bodylen);
    t_resp_free(&r);
    return body;
}

LB_TEST(test_tilejson)
{
    fixture();
    char *hq = tilejson("lage", "demo-kritis", true);
    ASSERT_CONTAINS(hq, "\"tilejson\"");
    ASSERT_CONTAINS(hq, "/maps/lage/{z}/{x}/{y}.png?token=demo-kritis\"");
    char *hh = tilejson("lage", "demo-kritis", false);
    ASSERT_CONTAINS(hh, "/maps/lage/{z}/{x}/{y}.png\"");
    ASSERT(strstr(hh, "token") == NULL);
    ASSERT(strstr(hh, "demo-kritis") == NULL);
    /* kritis sees power lines, substations, water works, evacuation zones, road
     * blocks and (phase Reaktion) incidents and deployment areas: nothing military */
    const char *hidden[] = {"Landeskommando", "Bundeswehr", "Einheiten", "units", "convoy",
                            "bridges", "Marschstra", "Verfügungsr", "assembly"};
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        if (strstr(hq, hidden[i]) || strstr(hh, hidden[i]))
            LBT__FAIL("kritis TileJSON names '%s':\n%s", hidden[i], hh);
    }
    ASSERT_CONTAINS(hh, "KRITIS-Betreiber Energie");
    ASSERT_CONTAINS(hh, "Stadtwerke Hameln");
    ASSERT_CONTAINS(hh, "Polizeidirektion");
    /* the map title is not a layer: fine to show */
    ASSERT_CONTAINS(hh, "Gemeinsames Lagebild");
    free(hq);
    free(hh);
    /* military does see its own attribution */
    char *hm = tilejson("lage", "demo-military", false);
    ASSERT_CONTAINS(hm, "Landeskommando");
    free(hm);
    /* alice's minted token in the query: URL carries it (percent-encoded if needed) */
    char *ha = tilejson("lage", g_alice, true);
    ASSERT_CONTAINS(ha, "?token=");
    ASSERT_CONTAINS(ha, g_alice); /* lbt_ + base64url: no character needs encoding */
    free(ha);
    /* a map with only layers the principal sees partly: only those attributions */
    char *hi = tilejson("only_incidents", "demo-kritis", false);
    ASSERT(strstr(hi, "Landeskommando") == NULL);
    ASSERT(strstr(hi, "KRITIS-Betreiber") == NULL);
    free(hi);
}

typedef struct tile_resp {
    int status;
    char etag[128];
    bool has_etag;
    unsigned char *body;
    size_t len;
} tile_resp;

static tile_resp get_tile(const char *path, const char *token, const char *inm)
{
    char h[512];
    int k = snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", token);
    if (inm)
        snprintf(h + k, sizeof h - (size_t)k, "If-None-Match: %s\r\n", inm);
    t_resp r;
    ASSERT_EQ(t_http(g_port, "GET", path, h, NULL, &r), 0);
    ASSERT(t_resp_length_ok(&r));
    tile_resp t = {.status = r.status};
    t.has_etag = t_resp_header(&r, "ETag", t.etag, sizeof t.etag);
    t.len = r.bodylen;
    t.body = malloc(r.bodylen + 1);
    memcpy(t.body, r.body, r.bodylen);
    t_resp_free(&r);
    return t;
}

LB_TEST(test_etag)
{
    fixture();
    char *p = tile_path("lage", 14, g_mil_x, g_mil_y, ".png");
    tile_resp pol = get_tile(p, "demo-police", NULL);
    ASSERT_EQ(pol.status, 200);
    ASSERT(pol.has_etag);
    ASSERT(pol.len > 8 && memcmp(pol.body, "\x89PNG", 4) == 0);
    /* same role, twice: same ETag, same bytes */
    tile_resp pol2 = get_tile(p, "demo-police", NULL);
    ASSERT_EQ(pol2.status, 200);
    ASSERT_STREQ(pol2.etag, pol.etag);
    ASSERT(pol2.len == pol.len && memcmp(pol2.body, pol.body, pol.len) == 0);
    /* a different principal holding the same role: same ETag */
    tile_resp al = get_tile(p, g_alice, NULL);
    ASSERT_EQ(al.status, 200);
    ASSERT_STREQ(al.etag, pol.etag);
    /* If-None-Match with it: 304, no body, ETag repeated */
    tile_resp nm = get_tile(p, "demo-police", pol.etag);
    ASSERT_EQ(nm.status, 304);
    ASSERT_EQ(nm.len, 0);
    ASSERT(nm.has_etag);
    ASSERT_STREQ(nm.etag, pol.etag);
    /* military sees a VS-VERTRAULICH unit here that police does not */
    tile_resp mil = get_tile(p, "demo-military", NULL);
    ASSERT_EQ(mil.status, 200);
    ASSERT(mil.has_etag);
    ASSERT(!(mil.len == pol.len && memcmp(mil.body, pol.body, pol.len) == 0));
    if (strcmp(mil.etag, pol.etag) == 0)
        LBT__FAIL("police and military get different tiles under one ETag %s", pol.etag);
    /* police's ETag does not validate military's tile, nor the reverse */
    tile_resp x1 = get_tile(p, "demo-military", pol.etag);
    ASSERT_EQ(x1.status, 200);
    ASSERT(x1.len == mil.len && memcmp(x1.body, mil.body, mil.len) == 0);
    tile_resp x2 = get_tile(p, "demo-police", mil.etag);
    ASSERT_EQ(x2.status, 200);
    /* the @2x tile has its own ETag */
    char *p2 = tile_path("lage", 14, g_mil_x, g_mil_y, "@2x.png");
    tile_resp hi = get_tile(p2, "demo-police", pol.etag);
    ASSERT_EQ(hi.status, 200);
    ASSERT(hi.has_etag && strcmp(hi.etag, pol.etag) != 0);
    tile_resp *all[] = {&pol, &pol2, &al, &nm, &mil, &x1, &x2, &hi};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]->body);
    free(p);
    free(p2);
}

/* A tile's answer goes out from the cached blob that holds its head: the
 * head must be what lb_http_send writes (a HEAD request gets that), on the
 * request that made the tile and on every one served from the cache. */
LB_TEST(test_tile_head)
{
    fixture();
    char *p = tile_path("lage", 13, g_mil_x / 2, g_mil_y / 2, ".png");
    char h[256];
    snprintf(h, sizeof h, "Authorization: Bearer demo-police\r\n");
    t_resp made, hit, head, shared;
    ASSERT_EQ(t_http(g_port, "GET", p, h, NULL, &made), 0);
    ASSERT_EQ(made.status, 200);
    ASSERT(t_resp_length_ok(&made));
    ASSERT(made.bodylen > 8 && memcmp(made.body, "\x89PNG", 4) == 0);
    ASSERT_EQ(t_http(g_port, "GET", p, h, NULL, &hit), 0);
    ASSERT_EQ(t_http(g_port, "HEAD", p, h, NULL, &head), 0);
    ASSERT_EQ(head.status, 200);
    ASSERT_EQ(head.bodylen, 0);
    ASSERT(made.headlen > 0 && made.headlen == head.headlen);
    if (memcmp(made.raw, head.raw, made.headlen) != 0)
        LBT__FAIL("GET and HEAD heads differ:\n%.*s\nagainst\n%.*s", (int)made.headlen,
                  made.raw, (int)head.headlen, head.raw);
    ASSERT(hit.rawlen == made.rawlen && memcmp(hit.raw, made.raw, made.rawlen) == 0);
    /* another principal with the same role: the same blob, the same bytes */
    char ha[256];
    snprintf(ha, sizeof ha, "Authorization: Bearer %s\r\n", g_alice);
    ASSERT_EQ(t_http(g_port, "GET", p, ha, NULL, &shared), 0);
    ASSERT(shared.rawlen == made.rawlen && memcmp(shared.raw, made.raw, made.rawlen) == 0);
    t_resp *all[] = {&made, &hit, &head, &shared};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        t_resp_free(all[i]);
    free(p);
}

/* A counter of /metrics as the admin reads it; -1 when missing. */
static double metric(const char *name)
{
    t_resp r;
    double v = t_get(g_port, "/metrics", "demo-admin", &r) == 0 && r.status == 200
                   ? t_resp_metric(&r, name)
                   : -1;
    t_resp_free(&r);
    return v;
}

LB_TEST(test_metrics)
{
    fixture();
    expect_not_found("/metrics", "demo-police");
    expect_not_found("/metrics", "demo-lagezentrum"); /* same roles as admin, not admin */
    t_resp r;
    ASSERT_EQ(t_get(g_port, "/metrics", "demo-admin", &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT(t_resp_length_ok(&r));
    char *body = strndup(r.body, r.bodylen);
    ASSERT_CONTAINS(body, "lagebild_requests_total ");
    free(body);
    t_resp_free(&r);

    /* where tile CPU goes: a new composite counts one encode and adds CPU
     * time to rendering and encoding; the same tile again (a cache hit)
     * adds neither */
    double enc0 = metric("lagebild_tiles_encoded_total"),
           lcpu0 = metric("lagebild_layer_cpu_seconds_total"),
           ecpu0 = metric("lagebild_encode_cpu_seconds_total");
    ASSERT(enc0 >= 0 && lcpu0 >= 0 && ecpu0 >= 0);
    const char *tile = "/maps/lage/11/1077/675@2x.png"; /* no other test asks for it */
    ASSERT_EQ(get_status(tile, "demo-lagezentrum"), 200);
    double enc1 = metric("lagebild_tiles_encoded_total"),
           lcpu1 = metric("lagebild_layer_cpu_seconds_total"),
           ecpu1 = metric("lagebild_encode_cpu_seconds_total");
    ASSERT_EQ(enc1, enc0 + 1);
    ASSERT(lcpu1 > lcpu0);
    ASSERT(ecpu1 > ecpu0);
    ASSERT_EQ(get_status(tile, "demo-lagezentrum"), 200);
    ASSERT_EQ(metric("lagebild_tiles_encoded_total"), enc1);
    ASSERT_EQ(metric("lagebild_layer_cpu_seconds_total"), lcpu1);
    ASSERT_EQ(metric("lagebild_encode_cpu_seconds_total"), ecpu1);
}

/*
 * The banner of an area-limited role counts only features it is shown:
 * whose geometry meets the query box within the role's area.  Neither a
 * feature whose box reaches into the area nor one that meets the area only
 * outside the query box counts.
 */
LB_TEST(test_classification_within_the_area)
{
    fixture();
    /* the data as the cases below assume it */
    const char *fl = "FROM power_lines WHERE source_fid = 'KR-FL-%s'";
    char q[512];
    snprintf(q, sizeof q,
             "SELECT MbrMinX(geom) < 9.19 AND MbrMaxX(geom) > 9.21 AND MbrMinY(geom) < 52.015 "
             "AND MbrMaxY(geom) > 52.03 AND label_level = 1 AND NOT ST_Intersects(geom, "
             "GeomFromText('POLYGON((9.19 52.015, 9.21 52.015, 9.21 52.03, 9.19 52.03, "
             "9.19 52.015))', 4326)) AND ST_Intersects(geom, BuildMbr(9.32, 51.995, 9.34, "
             "52.015, 4326)) %s", fl);
    ASSERT_EQ(t_sql_int(g_store, q, "02"), 1);
    ASSERT_EQ(t_sql_int(g_store,
                        "SELECT count(*) FROM power_lines WHERE ST_Intersects(geom, "
                        "BuildMbr(9.17, 52.01, 9.25, 52.033, 4326))"),
              0);
    /* (a) landkreis: a box 9 km outside its district holding power line
     * KR-FL-01 (VS-NfD, releasable to it), which touches the district
     * elsewhere; the tiles there are transparent for it */
    ASSERT_EQ(t_sql_int(g_store, "SELECT label_level = 1 AND ST_Intersects(geom, "
                                 "BuildMbr(9.49, 52.15, 9.56, 52.24, 4326)) "
                                 "FROM power_lines WHERE source_fid = 'KR-FL-01'"),
              1);
    expect_level("9.49,52.15,9.56,52.24", "demo-landkreis", "null");
    expect_level("9.49,52.15,9.56,52.24", "demo-kritis", "VS-NfD"); /* no area: it counts */
    /* (c) inside the district: power lines KR-FL-04 and -06 */
    expect_level("9.36,52.08,9.38,52.10", "demo-landkreis", "VS-NfD");
    /* a small box inside the district and inside deployment area FW-EA-02
     * (VS-NfD), which no edge of it crosses: its only feature of that level */
    ASSERT_EQ(t_sql_int(g_store, "SELECT label_level = 1 AND ST_Within(BuildMbr(9.3894, 52.0732, "
                                 "9.3900, 52.0738, 4326), geom) FROM deployment_areas WHERE "
                                 "source_fid = 'FW-EA-02'"),
              1);
    char *layers = t_sql(g_store, "SELECT group_concat(layer) FROM lb_layers");
    ASSERT(layers);
    char *save = NULL;
    for (char *l = strtok_r(layers, ",", &save); l; l = strtok_r(NULL, ",", &save))
        ASSERT_EQ(t_sql_int(g_store,
                            "SELECT count(*) FROM \"%s\" WHERE label_level >= 1 AND source_fid "
                            "<> 'FW-EA-02' AND ST_Intersects(geom, BuildMbr(9.3894, 52.0732, "
                            "9.3900, 52.0738, 4326))",
                            l),
                  0);
    free(layers);
    expect_level("9.3894,52.0732,9.3900,52.0738", "demo-landkreis", "VS-NfD");
    /* (b) diag: the box of square 1, which KR-FL-02's box covers but the
     * line passes 5 km beside */
    expect_level("9.17,52.01,9.25,52.033", g_diag, "null");
    /* the line's whole box: square 2 lies on the line */
    expect_level("9.17,51.96,9.415,52.033", g_diag, "VS-NfD");
    expect_level("9.31,51.99,9.35,52.02", g_diag, "VS-NfD");
    /* square 2 but a box beside the line within it */
    expect_level("9.321,52.012,9.324,52.015", g_diag, "null");
}

LB_TEST(test_oversized_header)
{
    fixture();
    size_t big = 64 * 1024;
    char *req = malloc(big + 512);
    int k = snprintf(req, 512,
                     "GET /maps/lage/12/2154/1351.png HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Connection: close\r\nAuthorization: Bearer demo-police\r\nX-Big: ");
    memset(req + k, 'a', big);
    k += (int)big;
    k += snprintf(req + k, 512, "\r\n\r\n");
    t_resp r;
    t_http_raw(g_port, req, (size_t)k, &r);
    free(req);
    if (!(r.status >= 400 && r.status < 500))
        show("64 KiB header", &r);
    ASSERT(r.status >= 400 && r.status < 500);
    t_resp_free(&r);
    /* many headers, each small, adding up to 64 KiB */
    req = malloc(big + 4096);
    k = snprintf(req, 512, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (int i = 0; (size_t)k < big; i++)
        k += snprintf(req + k, 64, "X-H%d: %040d\r\n", i, i);
    k += snprintf(req + k, 8, "\r\n");
    t_http_raw(g_port, req, (size_t)k, &r);
    free(req);
    if (!(r.status >= 400 && r.status < 500))
        show("64 KiB of headers", &r);
    ASSERT(r.status >= 400 && r.status < 500);
    t_resp_free(&r);
    /* still serving */
    ASSERT_EQ(get_status("/health", NULL), 200);
    ASSERT_EQ(get_status("/maps/lage/12/2154/1351.png", "demo-police"), 200);
}

/*
 * Break-glass: an admin grants kritis the layer `units` for a minute.  Its
 * expiry is not waited for here (a minute is too long for this test); the
 * API's seconds= form and the end of a grant are tested in test_breakglass.c.
 */
LB_TEST(test_break_glass)
{
    fixture();
    char *p = tile_path("only_units", g_unit_z, g_unit_x, g_unit_y, ".png");
    expect_not_found(p, "demo-kritis");
    expect_not_found("/maps/only_units.json", "demo-kritis");
    /* non-admins: as if the API did not exist */
    expect_not_found_req("POST", "/admin/breakglass", "Authorization: Bearer demo-kritis\r\n",
                         "role=kritis&layer=units&minutes=1&reason=Hochwasser");
    expect_not_found_req("POST", "/admin/breakglass", "Authorization: Bearer demo-lagezentrum\r\n",
                         "role=kritis&layer=units&minutes=1&reason=Hochwasser");
    expect_not_found(p, "demo-kritis");
    /* bad requests by the admin */
    t_resp r;
    ASSERT_EQ(post_form("/admin/breakglass", "demo-admin", "role=kritis&layer=units&minutes=1", &r),
              400);
    t_resp_free(&r);
    ASSERT_EQ(post_form("/admin/breakglass", "demo-admin",
                        "role=kritis&layer=units&minutes=0&reason=x", &r), 400);
    t_resp_free(&r);
    ASSERT_EQ(post_form("/admin/breakglass", "demo-admin",
                        "role=nosuchrole&layer=units&minutes=1&reason=x", &r), 400);
    t_resp_free(&r);
    ASSERT_EQ(post_form("/admin/breakglass", "demo-admin",
                        "role=kritis&layer=nosuchlayer&minutes=1&reason=x", &r), 400);
    t_resp_free(&r);
    expect_not_found(p, "demo-kritis");
    /* the grant */
    ASSERT_EQ(post_form("/admin/breakglass", "demo-admin",
                        "role=kritis&layer=units&minutes=1&reason=Hochwasser+Evakuierung", &r),
              200);
    t_resp_free(&r);
    tile_resp t = get_tile(p, "demo-kritis", NULL);
    ASSERT_EQ(t.status, 200);
    ASSERT(t.len > 8 && memcmp(t.body, "\x89PNG", 4) == 0);
    free(t.body);
    char *tj = tilejson("only_units", "demo-kritis", false);
    ASSERT_CONTAINS(tj, "Landeskommando");
    free(tj);
    free(p);
}

LB_TEST(test_phase)
{
    fixture();
    char *p = tile_path("only_incidents", 14, g_inc_x, g_inc_y, ".png");
    ASSERT_EQ(get_status(p, "demo-kritis"), 200);
    ASSERT_EQ(get_status("/maps/only_incidents.json", "demo-kritis"), 200);
    /* non-admins cannot change it */
    expect_not_found_req("POST", "/admin/phase", "Authorization: Bearer demo-kritis\r\n",
                         "phase=Vorbereitung");
    ASSERT_EQ(get_status(p, "demo-kritis"), 200);
    t_resp r;
    ASSERT_EQ(post_form("/admin/phase", "demo-admin", "phase=Vorbereitung", &r), 200);
    t_resp_free(&r);
    expect_not_found(p, "demo-kritis");
    expect_not_found("/maps/only_incidents.json", "demo-kritis");
    /* roles granted the layer outright keep it */
    ASSERT_EQ(get_status(p, "demo-police"), 200);
    /* the TileJSON of the full map no longer credits the incidents' sources to kritis */
    char *tj = tilejson("lage", "demo-kritis", false);
    ASSERT(strstr(tj, "Kreisfeuerwehr") == NULL);
    free(tj);
    /* bad phases change nothing */
    ASSERT_EQ(post_form("/admin/phase", "demo-admin", "phase=Bogus", &r), 400);
    t_resp_free(&r);
    ASSERT_EQ(post_form("/admin/phase", "demo-admin", "phase=", &r), 400);
    t_resp_free(&r);
    ASSERT_EQ(post_form("/admin/phase", "demo-admin", "nophase=Reaktion", &r), 400);
    t_resp_free(&r);
    expect_not_found(p, "demo-kritis");
    /* a reload (the operator's SIGHUP, or a watched source changing) keeps
     * the phase the operator set and its break-glass grants: the config's
     * phase: is only the value at start (review finding B1: the phase grant
     * came back after a reload) */
    char *u = tile_path("only_units", g_unit_z, g_unit_x, g_unit_y, ".png");
    ASSERT_EQ(post_form("/admin/breakglass", "demo-admin",
                        "role=kritis&layer=units&minutes=30&reason=Reload+test", &r), 200);
    t_resp_free(&r);
    ASSERT_EQ(get_status(u, "demo-kritis"), 200);
    ASSERT(t_server_reload(&g_srv, "demo-admin", 60));
    expect_not_found(p, "demo-kritis");
    expect_not_found("/maps/only_incidents.json", "demo-kritis");
    ASSERT_EQ(get_status(u, "demo-kritis"), 200);
    free(u);
    /* back to Reaktion: visible again (same tile, no stale 404) */
    ASSERT_EQ(post_form("/admin/phase", "demo-admin", "phase=Reaktion", &r), 200);
    t_resp_free(&r);
    ASSERT_EQ(get_status(p, "demo-kritis"), 200);
    ASSERT_EQ(get_status("/maps/only_incidents.json", "demo-kritis"), 200);
    free(p);
}

/*
 * A role valid until a few seconds from now, on its own server: the same
 * tile before (visible) and after (404; not served from the cache).  A
 * principal holding the expiring role and kritis falls back to exactly what
 * kritis sees.
 */
LB_TEST(test_role_validity_ends)
{
    fixture();
    char temp_tok[128], both_tok[128];
    char *temp_hash = mint("zeitweise", "temp", temp_tok, sizeof temp_tok);
    char *both_hash = mint("zeitweise-kritis", "temp,kritis", both_tok, sizeof both_tok);
    char tokens[1024];
    snprintf(tokens, sizeof tokens,
             "  zeitweise:        {hash: \"%s\", roles: [temp]}\n"
             "  zeitweise-kritis: {hash: \"%s\", roles: [temp, kritis]}\n",
             temp_hash, both_hash);
    free(temp_hash);
    free(both_hash);
    /*
     * valid_to is a few seconds after the config is written; the server must
     * start and answer the first requests before then.  A slow start (ASan,
     * a busy machine) retries with a longer window, so the wait after the
     * first requests stays about window - startup (<= 3 s normally).
     */
    char *p = tile_path("lage", 14, g_mil_x, g_mil_y, ".png");
    char *pu = tile_path("only_units", 14, g_mil_x, g_mil_y, ".png");
    static t_server s;
    tile_resp before = {0}, before_both = {0}, kritis = {0};
    int before_units = 0, before_json = 0;
    time_t until = 0;
    bool in_time = false;
    for (int window = 3; window <= 12 && !in_time; window *= 2) {
        free(before.body);
        free(before_both.body);
        free(kritis.body);
        t_server_free(&s); /* the previous attempt's, or an earlier failed run's */
        until = time(NULL) + window;
        struct tm tm;
        gmtime_r(&until, &tm);
        char roles[512], ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(roles, sizeof roles,
                 "  temp:\n"
                 "    title: Befristet\n"
                 "    clearance: {level: VS-NfD, groups: [police]}\n"
                 "    layers: [\"*\"]\n"
                 "    valid_to: \"%s\"\n",
                 ts);
        char *text = config_variant(extra_maps, roles, tokens);
        t_write(g_dir, "expiry.yaml", text);
        free(text);
        char *cfg = t_path(g_dir, "expiry.yaml");
        char *err = t_path(g_dir, "expiry.stderr");
        char *audit = t_path(g_dir, "expiry.audit.jsonl");
        bool ok = t_server_start(&s, cfg, audit, err);
        free(cfg);
        free(err);
        free(audit);
        ASSERT(ok);
        /* a tile where the police view (temp) differs from the kritis view */
        g_port = s.port; /* the helpers talk to g_port */
        before = get_tile(p, temp_tok, NULL);
        before_both = get_tile(p, both_tok, NULL);
        kritis = get_tile(p, "demo-kritis", NULL);
        before_units = get_status(pu, temp_tok);
        before_json = get_status("/maps/lage.json", temp_tok);
        g_port = g_srv.port;
        in_time = time(NULL) < until;
        if (!in_time)
            fprintf(stderr, "  the role expired before the first requests were answered "
                            "(window %d s); again with a longer one\n", window);
    }
    ASSERT(in_time);
    ASSERT_EQ(before.status, 200);
    ASSERT_EQ(before_both.status, 200);
    ASSERT_EQ(kritis.status, 200);
    ASSERT_EQ(before_units, 200);
    ASSERT_EQ(before_json, 200);
    /* the temp role sees what police sees here, more than kritis */
    ASSERT(!(before_both.len == kritis.len &&
             memcmp(before_both.body, kritis.body, kritis.len) == 0));
    /* wait until the window has closed (time(NULL) >= valid_to) */
    double w0 = t_mono();
    while (time(NULL) < until)
        usleep(50 * 1000);
    usleep(100 * 1000);
    fprintf(stderr, "  waited %.1f s for the role to expire\n", t_mono() - w0);
    g_port = s.port;
    t_resp a, aj, au;
    ASSERT_EQ(t_get(s.port, p, temp_tok, &a), 0);
    ASSERT_EQ(t_get(s.port, "/maps/lage.json", temp_tok, &aj), 0);
    ASSERT_EQ(t_get(s.port, pu, temp_tok, &au), 0);
    tile_resp after_both = get_tile(p, both_tok, NULL);
    g_port = g_srv.port;
    int ws = t_server_stop(&s, 60);
    bool same_a = same_bytes(&a, &g_nf), same_aj = same_bytes(&aj, &g_nf),
         same_au = same_bytes(&au, &g_nf);
    if (!same_a)
        show("tile after expiry", &a);
    if (!same_aj)
        show("tilejson after expiry", &aj);
    t_resp_free(&a);
    t_resp_free(&aj);
    t_resp_free(&au);
    if (!(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0))
        t_server_dump_stderr(&s);
    ASSERT(same_a);
    ASSERT(same_aj);
    ASSERT(same_au);
    ASSERT_EQ(after_both.status, 200);
    /* now exactly kritis' tile, not the cached police-view tile */
    ASSERT(after_both.len == kritis.len && memcmp(after_both.body, kritis.body, kritis.len) == 0);
    ASSERT(ws != -1);
    ASSERT(WIFEXITED(ws));
    ASSERT_EQ(WEXITSTATUS(ws), 0);
    free(before.body);
    free(before_both.body);
    free(kritis.body);
    free(after_both.body);
    free(p);
    free(pu);
    t_server_free(&s);
}

static bool file_contains(const char *path, const char *needle)
{
    char *s = t_read_file(path);
    bool found = strstr(s, needle) != NULL;
    free(s);
    return found;
}

/*
 * SIGTERM at once after "listening on" (what a supervisor or a test does
 * that stops a server it has just seen come up) drains and exits 0: the
 * handlers are in place before the server says it listens.  They were
 * installed just after, and a SIGTERM in between killed the server, which
 * showed as rare failed exits of tests on loaded machines.
 */
LB_TEST(test_sigterm_right_after_listening_exits_cleanly)
{
    fixture();
    char *err = t_path(g_dir, "early.stderr");
    char *audit = t_path(g_dir, "early.audit.jsonl");
    for (int i = 0; i < 20; i++) {
        t_server s;
        ASSERT(t_server_start(&s, g_cfg, audit, err));
        int ws = t_server_stop(&s, 60);
        if (!(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0))
            fprintf(stderr, "  round %d: wait status %d (signal %d)\n", i, ws,
                    ws != -1 && WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
        ASSERT(ws != -1 && WIFEXITED(ws));
        ASSERT_EQ(WEXITSTATUS(ws), 0);
        t_server_free(&s);
    }
    free(err);
    free(audit);
}

/* Last: SIGTERM drains and exits 0; the audit log verifies and holds no token. */
LB_TEST(test_shutdown_and_audit)
{
    fixture();
    /* a few more audited requests by alice, with her token in header and query */
    char q[300];
    snprintf(q, sizeof q, "/maps/lage.json?token=%s", g_alice);
    ASSERT_EQ(get_status(q, NULL), 200);
    snprintf(q, sizeof q, "/maps/lage/13/4309/2702.png?token=%s", g_alice);
    ASSERT_EQ(get_status(q, NULL), 200);
    ASSERT_EQ(get_status("/maps/lage/13/4309/2702.png", g_alice), 200);
    snprintf(q, sizeof q, "/maps/lage/13/4309/2702.png?token=%s", g_mallory);
    ASSERT_EQ(get_status(q, NULL), 401);

    int ws = t_server_stop(&g_srv, 60);
    if (!(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0)) {
        fprintf(stderr, "  server wait status %d (exited %d, status %d, signal %d)\n", ws,
                ws != -1 && WIFEXITED(ws), ws != -1 && WIFEXITED(ws) ? WEXITSTATUS(ws) : -1,
                ws != -1 && WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
        t_server_dump_stderr(&g_srv);
    }
    ASSERT(ws != -1);
    ASSERT(WIFEXITED(ws));
    ASSERT_EQ(WEXITSTATUS(ws), 0);
    g_fixture = -1; /* the shared server is gone: later tests cannot run */

    const char *argv[] = {LB_BINARY, "audit", "verify", g_audit, NULL};
    t_result r = t_run(argv);
    if (r.status != 0)
        fprintf(stderr, "  audit verify: %s%s\n", r.out, r.err);
    ASSERT_EQ(r.status, 0);
    ASSERT_CONTAINS(r.out, "chain intact");
    t_result_free(&r);

    char *log = t_read_file(g_audit);
    ASSERT(strlen(log) > 0);
    ASSERT_CONTAINS(log, "\"principal\":\"alice\"");
    ASSERT_CONTAINS(log, "\"principal\":\"demo-kritis\"");
    ASSERT_CONTAINS(log, "\"principal\":\"demo-admin\"");
    ASSERT_CONTAINS(log, "break-glass");
    ASSERT_CONTAINS(log, "Vorbereitung");
    /* principal names appear only as principal names */
    const char *names[] = {"demo-police", "demo-kritis", "demo-admin", "alice"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        for (const char *s = strstr(log, names[i]); s; s = strstr(s + 1, names[i])) {
            const char *pre = "\"principal\":\"";
            size_t pl = strlen(pre);
            if ((size_t)(s - log) < pl || strncmp(s - pl, pre, pl) != 0 ||
                s[strlen(names[i])] != '"')
                LBT__FAIL("audit log names %s outside a principal field: ...%.80s", names[i],
                          s - ((size_t)(s - log) < 40 ? (size_t)(s - log) : 40));
        }
    }
    /* no token, nor any part of one that identifies it */
    const char *tokens[] = {g_alice, g_alice + 4, g_mallory, g_mallory + 4, "Bearer"};
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
        if (strstr(log, tokens[i]))
            LBT__FAIL("audit log contains the token text %s", tokens[i]);
        if (file_contains(g_srv.errpath, tokens[i]))
            LBT__FAIL("server stderr contains the token text %s", tokens[i]);
    }
    ASSERT(strstr(log, "token=") == NULL);
    free(log);
}

LB_TESTS(test_health, test_unauthorized, test_not_visible_is_not_found,
         test_hidden_static_map_is_refused_as_fast_as_a_missing_one, test_hostile_tile_urls,
         test_tilejson, test_etag, test_tile_head, test_metrics, test_classification_within_the_area,
         test_oversized_header, test_break_glass,
         test_phase, test_role_validity_ends, test_sigterm_right_after_listening_exits_cleanly,
         test_shutdown_and_audit)
