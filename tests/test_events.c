/*
 * Server-Sent Events reach exactly the principals that may see a change:
 * police and fire listen at the same time (plus a reader cleared for both
 * and an area-limited role); a change only to features a principal cannot
 * see produces nothing for it (not even a revision), a change that takes a
 * feature out of its view does (so its tiles refresh), the box is clipped
 * to the area limit, and the revision is an opaque tag, never the count.
 */
#include "lbtest.h"
#include "tlive.h"

static char *dir, *cfg;
static t_server srv;

/* The bbox numbers of an event. */
static void bbox_of(const char *msg, double b[4])
{
    const char *p = strstr(msg, "\"bbox\":[");
    ASSERT(p != NULL);
    ASSERT_EQ(sscanf(p + 8, "%lf,%lf,%lf,%lf", &b[0], &b[1], &b[2], &b[3]), 4);
}

static void post_ok(const char *source, const char *token, const char *json)
{
    t_resp r;
    int rc = tl_post(srv.port, source, token, json, &r);
    if (rc != 0)
        t_server_dump_stderr(&srv);
    ASSERT_EQ(rc, 0);
    if (r.status != 200)
        fprintf(stderr, "%s\n", r.body ? r.body : "");
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
}

/* The next event of s; it must name layer incidents and an opaque revision. */
static void expect_event(tl_sse *s, double b[4])
{
    char msg[2048];
    ASSERT(tl_sse_next(s, msg, sizeof msg, 20));
    ASSERT_CONTAINS(msg, "{\"layer\":\"incidents\",\"revision\":\"");
    const char *rev = strstr(msg, "\"revision\":\"") + 12;
    for (int i = 0; i < 16; i++)
        ASSERT(strchr("0123456789abcdef", rev[i]) != NULL);
    ASSERT_EQ(rev[16], '"');
    bbox_of(msg, b);
}

LB_TEST(test_events_only_to_principals_that_may_see_the_change)
{
    dir = t_tmpdir();
    t_server_threads = "16";
    cfg = tl_config(dir, NULL);
    char errpath[1024];
    snprintf(errpath, sizeof errpath, "%s/server.err", dir);
    ASSERT(t_server_start(&srv, cfg, NULL, errpath));
    tl_sse police, fire, east, reader, anon;
    ASSERT(tl_sse_open(&police, srv.port, "t-police"));
    ASSERT(tl_sse_open(&fire, srv.port, "t-fire"));
    ASSERT(tl_sse_open(&east, srv.port, "t-east"));
    ASSERT(tl_sse_open(&reader, srv.port, "t-reader"));
    /* /events needs a token like tiles do */
    ASSERT(!tl_sse_open(&anon, srv.port, "t-nobody"));
    tl_sse_close(&anon);
    double b[4];

    /* 1: a police feature west of 10°E: police and reader, not fire, not east */
    char *fc = tl_point("p1", 9.36, 52.10, "\"groups\":\"police\"");
    post_ok("police_live", "t-police", fc);
    free(fc);
    expect_event(&reader, b);
    expect_event(&police, b);
    ASSERT_NEAR(b[0], 9.36, 1e-6);
    ASSERT_NEAR(b[1], 52.10, 1e-6);
    ASSERT_NEAR(b[2], 9.36, 1e-6);

    /* 2: a fire feature (source CRS EPSG:25832): fire and reader only */
    fc = tl_point("f1", 620000.0, 5762000.0, NULL);
    post_ok("fire_live", "t-fire", fc);
    free(fc);
    expect_event(&reader, b);
    expect_event(&fire, b); /* fire's first event: nothing came for step 1 */
    ASSERT(b[0] > 10.5 && b[0] < 10.9);
    ASSERT(b[1] > 51.9 && b[1] < 52.1);

    /* 3: a police polygon across 10°E: east gets it clipped to its area */
    fc = tl_square("p2", 10.0, 52.2, 0.5, "\"groups\":\"police\"");
    post_ok("police_live", "t-police", fc);
    free(fc);
    expect_event(&reader, b);
    expect_event(&police, b); /* police's second: nothing came for step 2 */
    ASSERT_NEAR(b[0], 9.5, 1e-6);
    ASSERT_NEAR(b[2], 10.5, 1e-6);
    expect_event(&east, b); /* east's first: nothing came for steps 1, 2 */
    ASSERT_NEAR(b[0], 10.0, 1e-6);
    ASSERT_NEAR(b[2], 10.5, 1e-6);
    ASSERT_NEAR(b[1], 51.7, 1e-6);
    ASSERT_NEAR(b[3], 52.7, 1e-6);

    /* 4: p1 re-labelled from police to fire: police must drop it (old
     * version), fire must draw it (new version) */
    fc = tl_point("p1", 9.37, 52.11, "\"groups\":\"fire\"");
    post_ok("police_live", "t-police", fc);
    free(fc);
    expect_event(&reader, b);
    expect_event(&police, b);
    ASSERT_NEAR(b[0], 9.36, 1e-6); /* only the old version is police's */
    ASSERT_NEAR(b[2], 9.36, 1e-6);
    expect_event(&fire, b);
    ASSERT_NEAR(b[0], 9.37, 1e-6); /* only the new version is fire's */
    ASSERT_NEAR(b[2], 9.37, 1e-6);

    /* 5: deleting a fire-only feature: fire and reader, nobody else */
    t_resp r;
    ASSERT_EQ(tl_send(srv.port, "DELETE", "/sources/fire_live/features/f1", "t-fire", NULL, &r),
              0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    expect_event(&reader, b);
    expect_event(&fire, b);
    ASSERT(b[0] > 10.5 && b[0] < 10.9);

    /* nothing else arrived anywhere */
    char msg[2048];
    ASSERT(!tl_sse_next(&police, msg, sizeof msg, 1.0));
    ASSERT(!tl_sse_next(&fire, msg, sizeof msg, 0.2));
    ASSERT(!tl_sse_next(&east, msg, sizeof msg, 0.2));
    ASSERT(!tl_sse_next(&reader, msg, sizeof msg, 0.2));

    tl_sse_close(&police);
    tl_sse_close(&fire);
    tl_sse_close(&east);
    tl_sse_close(&reader);
    /* open streams do not keep the server from stopping */
    tl_sse s2;
    ASSERT(tl_sse_open(&s2, srv.port, "t-reader"));
    ASSERT_EQ(t_server_stop(&srv, 20), 0);
    tl_sse_close(&s2);
    t_server_free(&srv);
    t_rmrf(dir);
    free(dir);
    free(cfg);
}

LB_TESTS(test_events_only_to_principals_that_may_see_the_change)
