/*
 * SIGHUP reloads the config atomically: a new map appears and the CORS
 * origin changes without a restart; a broken config keeps the running one
 * (requests keep being answered) and the server says why on stderr.
 */
#include <signal.h>

#include "lbtest.h"
#include "thttp.h"
#include "tutil.h"

static char *dir, *cfg;

static void write_config(const char *extra_sed)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "sed -e '' %s '%s/demo/lagebild.yaml' > '%s/lagebild.yaml'",
             extra_sed, LB_SOURCE_DIR, dir);
    ASSERT_EQ(system(cmd), 0);
}

static int status_of(int port, const char *target, const char *token, char *hdr, size_t n,
                     const char *name)
{
    t_resp r;
    ASSERT_EQ(t_get(port, target, token, &r), 0);
    int s = r.status;
    if (hdr && !t_resp_header(&r, name, hdr, n))
        hdr[0] = '\0';
    t_resp_free(&r);
    return s;
}

/* Wait (up to 20 s) until target answers want. */
static bool wait_status(int port, const char *target, int want)
{
    for (int i = 0; i < 200; i++) {
        if (status_of(port, target, "demo-police", NULL, 0, NULL) == want)
            return true;
        usleep(100 * 1000);
    }
    return false;
}

LB_TEST(test_sighup_reloads_and_a_bad_config_keeps_the_old_one)
{
    dir = t_tmpdir();
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp -r '%s/demo/data' '%s/'", LB_SOURCE_DIR, dir);
    ASSERT_EQ(system(cmd), 0);
    cfg = t_path(dir, "lagebild.yaml");
    write_config("");
    t_result r = t_lagebild("ingest", cfg, "--quiet", NULL);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);

    char errpath[1024];
    snprintf(errpath, sizeof errpath, "%s/server.err", dir);
    char *audit = t_path(dir, "audit.jsonl");
    t_server srv;
    ASSERT(t_server_start(&srv, cfg, audit, errpath));
    char origin[256];
    ASSERT_EQ(status_of(srv.port, "/maps/lage.json", "demo-police", origin, sizeof origin,
                        "Access-Control-Allow-Origin"), 200);
    ASSERT_STREQ(origin, "*");
    ASSERT_EQ(status_of(srv.port, "/maps/roads.json", "demo-police", NULL, 0, NULL), 404);

    /* a new map and a CORS origin, then SIGHUP */
    write_config("-e 's/^maps:$/maps:\\n  roads: {title: Sperren, layers: [roadblocks]}/' "
                 "-e 's/^phase: Reaktion$/phase: Reaktion\\ncors: https:\\/\\/lage.example/'");
    ASSERT_EQ(kill(srv.pid, SIGHUP), 0);
    ASSERT(wait_status(srv.port, "/maps/roads.json", 200));
    ASSERT_EQ(status_of(srv.port, "/maps/lage.json", "demo-police", origin, sizeof origin,
                        "Access-Control-Allow-Origin"), 200);
    ASSERT_STREQ(origin, "https://lage.example");

    /* a broken config: the running one stays */
    t_write(dir, "lagebild.yaml", "maps: [this is: not, valid\n");
    ASSERT_EQ(kill(srv.pid, SIGHUP), 0);
    for (int i = 0; i < 100; i++) {
        char *err = t_read_file(errpath);
        bool seen = strstr(err, "reload of") && strstr(err, "failed");
        free(err);
        if (seen)
            break;
        usleep(100 * 1000);
    }
    char *err = t_read_file(errpath);
    ASSERT_CONTAINS(err, "failed, keeping the running config");
    ASSERT_CONTAINS(err, "lagebild.yaml:2: flow sequence without a closing bracket");
    free(err);
    ASSERT_EQ(status_of(srv.port, "/maps/roads.json", "demo-police", NULL, 0, NULL), 200);
    ASSERT_EQ(status_of(srv.port, "/maps/lage/12/2154/1351.png", "demo-police", NULL, 0, NULL),
              200);
    ASSERT_EQ(t_server_stop(&srv, 20), 0);
    t_server_free(&srv);
    free(audit);
    t_rmrf(dir);
    free(dir);
    free(cfg);
}

LB_TESTS(test_sighup_reloads_and_a_bad_config_keeps_the_old_one)
