/*
 * Break-glass grants through the running server: an operator grants the
 * kritis role the military `units` layer for two seconds with a reason; the
 * grant applies at once, is audited, and stops applying at its end with no
 * stale cache hit (the very same tile URL answers 404 again).  Non-admins
 * cannot grant, and malformed grants are refused.
 */
#include <time.h>

#include "lbtest.h"
#include "thttp.h"
#include "tutil.h"

static char *dir, *cfg;

static void setup(void)
{
    dir = t_tmpdir();
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cp -r '%s/demo/data' '%s/' && sed "
             "-e 's/^maps:$/maps:\\n  units_only: {title: Einheiten, layers: [units]}/' "
             "'%s/demo/lagebild.yaml' > '%s/lagebild.yaml'",
             LB_SOURCE_DIR, dir, LB_SOURCE_DIR, dir);
    ASSERT_EQ(system(cmd), 0);
    cfg = t_path(dir, "lagebild.yaml");
    t_result r = t_lagebild("ingest", cfg, "--quiet", NULL);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
}

static void teardown(void)
{
    t_rmrf(dir);
    free(dir);
    free(cfg);
}

static int status_of(int port, const char *target, const char *token)
{
    t_resp r;
    ASSERT_EQ(t_get(port, target, token, &r), 0);
    int s = r.status;
    t_resp_free(&r);
    return s;
}

static int post(int port, const char *target, const char *token, const char *body)
{
    char h[256];
    snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", token);
    t_resp r;
    ASSERT_EQ(t_http(port, "POST", target, h, body, &r), 0);
    int s = r.status;
    t_resp_free(&r);
    return s;
}

LB_TEST(test_break_glass_applies_then_expires_without_stale_cache)
{
    setup();
    char errpath[1024];
    snprintf(errpath, sizeof errpath, "%s/server.err", dir);
    char *audit = t_path(dir, "audit.jsonl");
    t_server srv;
    ASSERT(t_server_start(&srv, cfg, audit, errpath));
    /* a tile with units in it (Hameln, zoom 12) */
    const char *tile = "/maps/units_only/12/2154/1351.png";
    ASSERT_EQ(status_of(srv.port, tile, "demo-kritis"), 404);
    ASSERT_EQ(status_of(srv.port, tile, "demo-military"), 200);

    /* only admins may grant; malformed grants are refused */
    ASSERT_EQ(post(srv.port, "/admin/breakglass", "demo-kritis",
                   "role=kritis&layer=units&seconds=2&reason=x"), 404);
    ASSERT_EQ(post(srv.port, "/admin/breakglass", "demo-admin",
                   "role=kritis&layer=units&seconds=2&reason="), 400);
    ASSERT_EQ(post(srv.port, "/admin/breakglass", "demo-admin",
                   "role=nobody&layer=units&seconds=2&reason=x"), 400);
    ASSERT_EQ(post(srv.port, "/admin/breakglass", "demo-admin",
                   "role=kritis&layer=units&minutes=1&seconds=2&reason=x"), 400);

    /* grant for two seconds: wait for a fresh second so the window is >= 1 s */
    time_t t0 = time(NULL);
    while (time(NULL) == t0)
        usleep(20 * 1000);
    time_t granted = time(NULL);
    ASSERT_EQ(post(srv.port, "/admin/breakglass", "demo-admin",
                   "role=kritis&layer=units&seconds=2&reason=Deichbruch+Tuendern"), 200);
    ASSERT_EQ(status_of(srv.port, tile, "demo-kritis"), 200);
    ASSERT_EQ(status_of(srv.port, tile, "demo-kritis"), 200); /* now from the cache */
    /* after the end: the same URL is 404 again, not a cached 200 */
    while (time(NULL) < granted + 3)
        usleep(50 * 1000);
    ASSERT_EQ(status_of(srv.port, tile, "demo-kritis"), 404);
    ASSERT_EQ(status_of(srv.port, "/maps/units_only.json", "demo-kritis"), 404);
    ASSERT_EQ(t_server_stop(&srv, 20), 0);
    t_server_free(&srv);

    /* the grant and its reason are in the audit log, and the chain verifies */
    char *log = t_read_file(audit);
    ASSERT_CONTAINS(log, "break-glass kritis:units 2 s: Deichbruch Tuendern");
    free(log);
    const char *argv[] = {LB_BINARY, "audit", "verify", audit, NULL};
    t_result r = t_run(argv);
    ASSERT_EQ(r.status, 0);
    t_result_free(&r);
    free(audit);
    teardown();
}

LB_TESTS(test_break_glass_applies_then_expires_without_stale_cache)
