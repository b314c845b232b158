/*
 * A pushed feature belongs to the principal that wrote it: a writer's POST
 * replaces and its DELETE removes only what it pushed itself, so another
 * writer's feature, a file's feature or one labelled above the writer's
 * clearance is out of its reach, and every answer is the same as if that
 * feature did not exist (no probing of what the writer may not see), even
 * when the writer has made its feature id's fid collide with that feature's.
 * Older stores get the writer column on open.
 *
 * The answers compared here are whole responses, status line, headers and
 * body, byte for byte: lagebild sends no Date header (server/http.c), and a
 * push's answer names no revision or feature id, so nothing differs between
 * a POST of an id another writer holds and one of a fresh id except what the
 * server would let the writer tell apart - which is what these tests look for.
 */
#include <math.h>

#include "lbtest.h"
#include "tlive.h"

#include "lagebild/util.h"

static char *dir, *cfg, *store;
static t_server srv;

/*
 * Writers a and b (VS-NfD, police) on one source; high writes at GEHEIM;
 * low is OFFEN without any layer, a writer that sees nothing it writes to;
 * reader sees every label.  The source's file holds F1 (VS-NfD, police).
 */
static char *owner_config(const char *d)
{
    static const t_token tokens[] = {
        {.token = "t-a", .roles = "writer"},
        {.token = "t-b", .roles = "writer"},
        {.token = "t-high", .roles = "high"},
        {.token = "t-low", .roles = "low"},
        {.token = "t-reader", .roles = "reader"},
    };
    t_write(d, "police.geojson",
            "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
            "\"properties\":{\"id\":\"F1\",\"typ\":\"x\",\"name\":\"datei\",\"status\":\"a\","
            "\"level\":\"VS-NfD\",\"groups\":\"police\"},\"geometry\":{\"type\":\"Point\","
            "\"coordinates\":[9.2,52.0]}}]}\n");
    static const char head[] =
        "store: {path: store.sqlite}\n"
        "groups: [police]\n"
        "layers:\n"
        "  incidents: {title: Einsaetze, style: police}\n"
        "sources:\n"
        "  police_live:\n"
        "    path: police.geojson\n"
        "    crs: EPSG:4326\n"
        "    layer: incidents\n"
        "    agency: police\n"
        "    fid: id\n"
        "    mapping: {kind: typ, name: name, status: status}\n"
        "    label: {level: VS-NfD, releasable_to: [police], level_from: level,"
        " releasable_to_from: groups}\n"
        "maps:\n"
        "  lage: {title: Lage, layers: [incidents]}\n"
        "roles:\n"
        "  writer: {title: W, clearance: {level: VS-NfD, groups: [police]}, layers: [\"*\"],"
        " write: [police_live]}\n"
        "  high: {title: H, clearance: {level: GEHEIM, groups: [police]}, layers: [\"*\"],"
        " write: [police_live]}\n"
        "  low: {title: L, clearance: {level: OFFEN}, layers: [], write: [police_live]}\n"
        "  reader: {title: R, clearance: {level: GEHEIM, groups: [police]},"
        " layers: [\"*\"]}\n";
    return t_config_write(d, "lagebild.yaml", head, tokens, sizeof tokens / sizeof tokens[0],
                          NULL);
}

static void start(void)
{
    dir = t_tmpdir();
    cfg = owner_config(dir);
    store = t_path(dir, "store.sqlite");
    t_result res = t_lagebild("ingest", cfg, "--quiet", NULL);
    if (res.status != 0)
        fprintf(stderr, "%s\n%s\n", res.out, res.err);
    ASSERT_EQ(res.status, 0);
    t_result_free(&res);
    ASSERT(tl_serve(&srv, cfg, dir, "server.err"));
}

static void stop(void)
{
    ASSERT_EQ(t_server_end(&srv, 20), 0);
}

static void finish(void)
{
    stop();
    t_rmrf(dir);
    free(dir);
    free(cfg);
    free(store);
}

/* The whole answer to method target as token (with body json, or none). */
static void answer(const char *method, const char *target, const char *token, const char *json,
                   t_resp *r)
{
    int rc = tl_send(srv.port, method, target, token, json, r);
    if (rc != 0)
        t_server_dump_stderr(&srv);
    ASSERT_EQ(rc, 0);
}

/* POST one point feature id as token to police_live. */
static void post(const char *token, const char *id, double lon, double lat, const char *props,
                 t_resp *r)
{
    char *fc = tl_point(id, lon, lat, props);
    answer("POST", "/sources/police_live/features", token, fc, r);
    free(fc);
}

static void del(const char *token, const char *id, t_resp *r)
{
    char target[256];
    snprintf(target, sizeof target, "/sources/police_live/features/%s", id);
    answer("DELETE", target, token, NULL, r);
}

/* Two answers are the same bytes, status line to body. */
static void same_bytes(const t_resp *a, const t_resp *b)
{
    if (a->rawlen != b->rawlen || memcmp(a->raw, b->raw, a->rawlen) != 0)
        fprintf(stderr, "  ---\n%s\n  ---\n%s\n  ---\n", a->raw, b->raw);
    ASSERT_EQ(a->rawlen, b->rawlen);
    ASSERT(memcmp(a->raw, b->raw, a->rawlen) == 0);
}

/* Everything stored of the feature with this fid (NULL: no such row). */
static char *row(long long fid)
{
    return t_sql(store,
                 "SELECT source||'|'||source_fid||'|'||ifnull(name,'')||'|'||hex(geom)||'|'||"
                 "classification||'|'||releasable_to||'|'||revision FROM incidents"
                 " WHERE fid=%lld",
                 fid);
}

static long long fid_of(const char *sfid)
{
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents WHERE source_fid='%s'", sfid), 1);
    return t_sql_int(store, "SELECT fid FROM incidents WHERE source_fid='%s'", sfid);
}

/* The reader's Web Mercator tile at z 12 around (lon, lat). */
static char *tile(double lon, double lat, size_t *len)
{
    double n = 4096.0, r = lat * M_PI / 180.0;
    long x = (long)floor((lon + 180.0) / 360.0 * n);
    long y = (long)floor((1.0 - log(tan(r) + 1.0 / cos(r)) / M_PI) / 2.0 * n);
    char target[128];
    snprintf(target, sizeof target, "/maps/lage/12/%ld/%ld.png", x, y);
    char *b;
    ASSERT_EQ(tl_fetch(srv.port, target, "t-reader", &b, len), 200);
    return b;
}

static bool same_tile(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

static void next_event(tl_sse *s)
{
    char msg[2048];
    ASSERT(tl_sse_next(s, msg, sizeof msg, 20));
    ASSERT_CONTAINS(msg, "\"layer\":\"incidents\"");
}

static const char *FRESH_200 = "{\"source\":\"police_live\",\"stored\":1,\"replaced\":0,"
                               "\"deleted\":0}\n";
static const char *REPLACED_200 = "{\"source\":\"police_live\",\"stored\":1,\"replaced\":1,"
                                  "\"deleted\":0}\n";
static const char *DELETED_200 = "{\"source\":\"police_live\",\"stored\":0,\"replaced\":0,"
                                 "\"deleted\":1}\n";

LB_TEST(test_push_owner_other_writers_feature_is_out_of_reach)
{
    start();
    tl_sse ev;
    ASSERT(tl_sse_open(&ev, srv.port, "t-reader"));
    t_resp r, fresh;

    /* a pushes X */
    post("t-a", "X", 9.36, 52.10, "\"name\":\"von a\"", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(r.body, FRESH_200);
    t_resp_free(&r);
    next_event(&ev);
    long long fid_a = fid_of("X");
    char *a0 = row(fid_a);
    ASSERT(a0 != NULL);
    size_t t0len;
    char *t0 = tile(9.36, 52.10, &t0len);

    /* b deletes X: the same answer as for an id nobody has; X stays */
    del("t-b", "X", &r);
    del("t-b", "nie-gesehen", &fresh);
    ASSERT_EQ(fresh.status, 404);
    same_bytes(&r, &fresh);
    t_resp_free(&r);
    t_resp_free(&fresh);
    char *a1 = row(fid_a);
    ASSERT_STREQ(a1, a0);
    free(a1);

    /* b pushes X (elsewhere, other name): answered like a fresh id, and a's
     * X is not touched; b's X is a feature of its own */
    post("t-b", "X", 9.60, 52.30, "\"name\":\"von b\"", &r);
    post("t-b", "Z", 9.60, 52.30, "\"name\":\"von b\"", &fresh);
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(r.body, FRESH_200);
    same_bytes(&r, &fresh);
    t_resp_free(&r);
    t_resp_free(&fresh);
    next_event(&ev);
    next_event(&ev);
    a1 = row(fid_a);
    ASSERT_STREQ(a1, a0);
    free(a1);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents WHERE source_fid='X'"), 2);
    ASSERT_EQ(t_sql_int(store, "SELECT count(DISTINCT fid) FROM incidents WHERE source_fid='X'"),
              2);
    /* provenance: the source as before, and who pushed it */
    char *w = t_sql(store, "SELECT source||'|'||writer FROM incidents WHERE fid=%lld", fid_a);
    ASSERT_STREQ(w, "police_live|t-a");
    free(w);
    w = t_sql(store, "SELECT group_concat(writer) FROM (SELECT writer FROM incidents"
                     " WHERE source_fid IN ('X','Z') AND fid<>%lld ORDER BY writer)",
              fid_a);
    ASSERT_STREQ(w, "t-b,t-b");
    free(w);
    ASSERT_EQ(t_sql_int(store, "SELECT writer='' FROM incidents WHERE source_fid='F1'"), 1);
    /* what the reader is shown where a's X lies has not changed */
    size_t t1len;
    char *t1 = tile(9.36, 52.10, &t1len);
    ASSERT(same_tile(t1, t1len, t0, t0len));
    free(t1);

    /* b's DELETE of X removes its own X only; a second one is a 404 */
    del("t-b", "X", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(r.body, DELETED_200);
    t_resp_free(&r);
    next_event(&ev);
    a1 = row(fid_a);
    ASSERT_STREQ(a1, a0);
    free(a1);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents WHERE source_fid='X'"), 1);
    del("t-b", "X", &r);
    del("t-b", "nie-gesehen", &fresh);
    same_bytes(&r, &fresh);
    t_resp_free(&r);
    t1 = tile(9.36, 52.10, &t1len);
    ASSERT(same_tile(t1, t1len, t0, t0len));
    free(t1);

    /* a still replaces its X (same fid, new version) and deletes it */
    post("t-a", "X", 9.361, 52.10, "\"name\":\"von a, verlegt\"", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(r.body, REPLACED_200);
    t_resp_free(&r);
    next_event(&ev);
    char *name = t_sql(store, "SELECT name FROM incidents WHERE fid=%lld", fid_a);
    ASSERT_STREQ(name, "von a, verlegt");
    free(name);
    t1 = tile(9.36, 52.10, &t1len);
    ASSERT(!same_tile(t1, t1len, t0, t0len));
    free(t1);
    del("t-a", "X", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(r.body, DELETED_200);
    t_resp_free(&r);
    next_event(&ev);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents WHERE source_fid='X'"), 0);
    del("t-a", "X", &r);
    same_bytes(&r, &fresh);
    t_resp_free(&r);
    t_resp_free(&fresh);
    /* the source's count follows: F1 from the file and b's Z */
    ASSERT_EQ(t_sql_int(store, "SELECT features FROM lb_sources WHERE source='police_live'"), 2);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"), 2);

    free(t0);
    free(a0);
    tl_sse_close(&ev);
    finish();
}

/*
 * A writer cleared only for OFFEN, without any layer, against F1 (VS-NfD,
 * from the file) and H1 (GEHEIM, pushed by another writer): its POSTs and
 * DELETEs of those ids are answered as for ids nobody has, and neither
 * feature changes.  What it pushes under those ids is its own.
 */
LB_TEST(test_push_owner_writer_below_a_label_cannot_touch_it)
{
    start();
    tl_sse ev;
    ASSERT(tl_sse_open(&ev, srv.port, "t-reader"));
    t_resp r, fresh;
    post("t-high", "H1", 9.30, 52.05, "\"name\":\"geheim\",\"level\":\"GEHEIM\"", &r);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    next_event(&ev);
    long long f1 = fid_of("F1"), h1 = fid_of("H1");
    char *f1_row = row(f1), *h1_row = row(h1);
    ASSERT(f1_row && strstr(f1_row, "|VS-NfD|police|"));
    ASSERT(h1_row && strstr(h1_row, "|GEHEIM|police|"));

    const char *taken[2] = {"F1", "H1"}, *unused[2] = {"L1", "L2"};
    for (int i = 0; i < 2; i++) {
        del("t-low", taken[i], &r);
        del("t-low", "keins", &fresh);
        ASSERT_EQ(fresh.status, 404);
        same_bytes(&r, &fresh);
        t_resp_free(&r);
        t_resp_free(&fresh);
        post("t-low", taken[i], 9.25, 52.02, "\"name\":\"ueberschrieben\",\"level\":\"OFFEN\"",
             &r);
        post("t-low", unused[i], 9.25, 52.02, "\"name\":\"ueberschrieben\",\"level\":\"OFFEN\"",
             &fresh);
        ASSERT_EQ(r.status, 200);
        ASSERT_STREQ(r.body, FRESH_200);
        same_bytes(&r, &fresh);
        t_resp_free(&r);
        t_resp_free(&fresh);
    }
    char *now = row(f1);
    ASSERT_STREQ(now, f1_row);
    free(now);
    now = row(h1);
    ASSERT_STREQ(now, h1_row);
    free(now);

    /* its own F1 it replaces and deletes; the file's F1 stays */
    post("t-low", "F1", 9.26, 52.02, "\"level\":\"OFFEN\"", &r);
    ASSERT_STREQ(r.body, REPLACED_200);
    t_resp_free(&r);
    del("t-low", "F1", &r);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    ASSERT_EQ(fid_of("F1"), f1);
    now = row(f1);
    ASSERT_STREQ(now, f1_row);
    free(now);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents WHERE writer='t-low'"), 3);

    free(f1_row);
    free(h1_row);
    tl_sse_close(&ev);
    finish();
}

/* Run writing SQL on the store (SpatiaLite loaded for its triggers). */
static void exec_sql(const char *sql)
{
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open(store, &db), SQLITE_OK);
    sqlite3_enable_load_extension(db, 1);
    sqlite3_load_extension(db, "mod_spatialite", NULL, NULL);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "  SQL: %s\n", msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK);
}

/*
 * A store made before features had writers: its layer tables get the writer
 * column on open ('' in every row) and the unique index keyed by it.  Rows
 * pushed back then belong to nobody: a writer's push of such an id is new.
 */
LB_TEST(test_push_owner_older_store_is_migrated)
{
    start();
    t_resp r, fresh;
    post("t-a", "OLD", 9.36, 52.10, "\"name\":\"vorher\"", &r);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    stop();
    /* back to the layout before: no writer, (source, source_fid) unique */
    exec_sql("DROP INDEX incidents_source_fid;"
             "ALTER TABLE incidents DROP COLUMN writer;"
             "CREATE UNIQUE INDEX incidents_source_fid ON incidents(source, source_fid);");
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM pragma_table_info('incidents')"
                               " WHERE name='writer'"),
              0);
    ASSERT(tl_serve(&srv, cfg, dir, "server2.err"));
    char *idx = t_sql(store, "SELECT sql FROM sqlite_master WHERE name='incidents_source_fid'");
    ASSERT_STREQ(idx, "CREATE UNIQUE INDEX \"incidents_source_fid\" ON \"incidents\""
                      "(source, writer, source_fid)");
    free(idx);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents WHERE writer=''"), 2);
    long long old = fid_of("OLD");
    char *old_row = row(old);

    post("t-a", "OLD", 9.40, 52.10, "\"name\":\"neu\"", &r);
    post("t-a", "NEW", 9.40, 52.10, "\"name\":\"neu\"", &fresh);
    same_bytes(&r, &fresh);
    ASSERT_STREQ(r.body, FRESH_200);
    t_resp_free(&r);
    t_resp_free(&fresh);
    del("t-a", "OLD", &r);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    del("t-a", "OLD", &r);
    del("t-a", "NONE", &fresh);
    same_bytes(&r, &fresh);
    t_resp_free(&r);
    t_resp_free(&fresh);
    char *now = row(old);
    ASSERT_STREQ(now, old_row);
    free(now);
    free(old_row);
    finish();
}

/* The fid a push of sfid by writer to police_live starts from (as
 * pushed_fid in fusion/ingest.c). */
static long long pushed_fid(const char *writer, const char *sfid)
{
    uint64_t h = lb_fnv1a(LB_FNV_INIT, "police_live", strlen("police_live"));
    h = lb_fnv1a(h, "\x1e", 1);
    h = lb_fnv1a(h, writer, strlen(writer));
    h = lb_fnv1a(h, "\x1f", 1);
    h = lb_fnv1a(h, sfid, strlen(sfid));
    h &= (1ULL << 53) - 1;
    return (long long)(h ? h : 1);
}

/*
 * fids are 53-bit FNV hashes, and FNV collisions can be made at will: a
 * writer could choose an id whose fid is that of a feature it may not see.
 * Such a push must not be refused (a refusal would tell the feature is
 * there): it is stored under the next free fid, keeps that fid when
 * replaced, and the other row is not touched.
 */
LB_TEST(test_push_owner_fid_collision_answers_as_fresh)
{
    start();
    t_resp r, fresh;
    /* the formula above is the server's: a push without collision has it */
    post("t-b", "C0", 9.30, 52.00, NULL, &r);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    ASSERT_EQ(fid_of("C0"), pushed_fid("t-b", "C0"));
    /* a row written with plain SQL (GEHEIM, another source) holds the fid
     * b's C1 would get */
    long long taken = pushed_fid("t-b", "C1");
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO incidents (fid, source, source_fid, label_level, classification,"
             " releasable_to, caveats, revision, geom) VALUES (%lld, 'qgis', 'Q-1', 3, 'GEHEIM',"
             " 'police', '', 1, MakePoint(9.3, 52.0, 4326))",
             taken);
    exec_sql(sql);
    char *q1 = row(taken);
    ASSERT(q1 != NULL);

    post("t-b", "C1", 9.31, 52.00, "\"name\":\"c\"", &r);
    post("t-b", "C2", 9.31, 52.00, "\"name\":\"c\"", &fresh);
    ASSERT_STREQ(r.body, FRESH_200);
    same_bytes(&r, &fresh);
    t_resp_free(&r);
    t_resp_free(&fresh);
    long long c1 = fid_of("C1");
    ASSERT_NE(c1, taken);
    post("t-b", "C1", 9.32, 52.00, "\"name\":\"c, verlegt\"", &r);
    ASSERT_STREQ(r.body, REPLACED_200);
    t_resp_free(&r);
    ASSERT_EQ(fid_of("C1"), c1);
    char *now = row(taken);
    ASSERT_STREQ(now, q1);
    free(now);
    free(q1);
    finish();
}

LB_TESTS(test_push_owner_other_writers_feature_is_out_of_reach,
         test_push_owner_writer_below_a_label_cannot_touch_it,
         test_push_owner_older_store_is_migrated, test_push_owner_fid_collision_answers_as_fresh)
