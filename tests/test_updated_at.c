/*
 * layers.json's updated_at is the newest change a principal may see: one
 * layer fed by a police and a fire source, each releasable only to its own
 * group, ingested a second apart.  Police, fire and the command centre each
 * get the time of what they see, a re-ingest of the fire source moves only
 * fire's and the command centre's time, and a principal with a grant on the
 * layer but none of its labels gets null.
 */
#include <string.h>
#include <unistd.h>

#include "lbtest.h"
#include "thttp.h"
#include "tutil.h"

static char *dir, *cfg;

static const char *feature(const char *id, double lon)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
             "\"properties\":{\"id\":\"%s\",\"typ\":\"x\",\"name\":\"n\",\"status\":\"a\"},"
             "\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.3f,52.0]}}]}\n",
             id, lon);
    return buf;
}

static void setup(void)
{
    dir = t_tmpdir();
    static const t_token tokens[] = {
        {.token = "t-police", .roles = "police"},
        {.token = "t-fire", .roles = "fire"},
        {.token = "t-centre", .roles = "centre"},
        {.token = "t-thw", .roles = "thw"},
    };
    t_write(dir, "police.geojson", feature("P1", 9.1));
    t_write(dir, "fire.geojson", feature("F1", 9.2));
    static const char head[] =
        "store: {path: store.sqlite}\n"
        "groups: [police, fire, lagezentrum, thw]\n"
        "layers:\n"
        "  lage: {title: Lage, style: police}\n"
        "sources:\n"
        "  police_src:\n"
        "    path: police.geojson\n"
        "    crs: EPSG:4326\n"
        "    layer: lage\n"
        "    agency: police\n"
        "    fid: id\n"
        "    mapping: {kind: typ, name: name, status: status}\n"
        "    label: {level: VS-NfD, releasable_to: [police, lagezentrum]}\n"
        "  fire_src:\n"
        "    path: fire.geojson\n"
        "    crs: EPSG:4326\n"
        "    layer: lage\n"
        "    agency: fire\n"
        "    fid: id\n"
        "    mapping: {kind: typ, name: name, status: status}\n"
        "    label: {level: VS-NfD, releasable_to: [fire, lagezentrum]}\n"
        "maps:\n"
        "  m: {title: M, layers: [lage]}\n"
        "roles:\n"
        "  police: {title: P, clearance: {level: VS-NfD, groups: [police]}, layers: [\"*\"]}\n"
        "  fire: {title: F, clearance: {level: VS-NfD, groups: [fire]}, layers: [\"*\"]}\n"
        "  centre: {title: C, clearance: {level: VS-NfD, groups: [lagezentrum]},"
        " layers: [\"*\"]}\n"
        "  thw: {title: T, clearance: {level: VS-NfD, groups: [thw]}, layers: [\"*\"]}\n";
    cfg = t_config_write(dir, "lagebild.yaml", head, tokens, sizeof tokens / sizeof tokens[0],
                         NULL);
}

static void ingest(const char *source)
{
    const char *argv[] = {LB_BINARY, "ingest", "--config", cfg, "--source", source, "--quiet",
                          NULL};
    t_result r = t_run(argv);
    if (r.status != 0)
        fprintf(stderr, "%s\n", r.err);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
}

/* updated_at of the only layer of map m for a token: "" for null */
static void updated(int port, const char *token, char out[40])
{
    t_resp r;
    ASSERT_EQ(t_get(port, "/maps/m/layers.json", token, &r), 0);
    ASSERT_EQ(r.status, 200);
    const char *k = strstr(r.body, "\"updated_at\":");
    ASSERT(k != NULL);
    k += strlen("\"updated_at\":");
    out[0] = '\0';
    if (*k == '"') {
        const char *e = strchr(k + 1, '"');
        ASSERT(e && e - k - 1 < 40);
        memcpy(out, k + 1, (size_t)(e - k - 1));
        out[e - k - 1] = '\0';
    } else {
        ASSERT(strncmp(k, "null", 4) == 0);
    }
    t_resp_free(&r);
}

static void serve_and_read(char police[40], char fire[40], char centre[40], char thw[40])
{
    t_server srv;
    ASSERT(t_server_start_in(&srv, cfg, dir, "server.err"));
    updated(srv.port, "t-police", police);
    updated(srv.port, "t-fire", fire);
    updated(srv.port, "t-centre", centre);
    updated(srv.port, "t-thw", thw);
    ASSERT(t_server_end(&srv, 20) == 0);
}

LB_TEST(test_updated_at_is_the_newest_change_a_principal_may_see)
{
    setup();
    ingest("police_src");
    sleep(2); /* ingest times have whole seconds */
    ingest("fire_src");
    char p1[40], f1[40], c1[40], t1[40];
    serve_and_read(p1, f1, c1, t1);
    ASSERT(p1[0] && f1[0]);
    ASSERT(strcmp(p1, f1) < 0); /* police's source went in first */
    ASSERT(strcmp(c1, f1) == 0); /* the centre sees both: the newer */
    ASSERT_EQ(t1[0], '\0');      /* thw sees none of the layer's labels */

    /* the police source again, changed: police and the centre move, fire does not */
    sleep(2);
    t_write(dir, "police.geojson", feature("P1", 9.15));
    ingest("police_src");
    char p2[40], f2[40], c2[40], t2[40];
    serve_and_read(p2, f2, c2, t2);
    ASSERT(strcmp(p2, p1) > 0);
    ASSERT(strcmp(p2, f1) > 0);
    ASSERT(strcmp(f2, f1) == 0);
    ASSERT(strcmp(c2, p2) == 0);
    ASSERT_EQ(t2[0], '\0');
    t_rmrf(dir);
    free(dir);
    free(cfg);
}

LB_TESTS(test_updated_at_is_the_newest_change_a_principal_may_see)
