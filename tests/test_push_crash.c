/*
 * Crash consistency of push ingest: a client posts update after update
 * (update k = five features "u<k>_0".."u<k>_4" named "k"), the server is
 * killed with SIGKILL at a random moment, restarted on the same store, and
 * this 24 times.  Afterwards (and after every kill) the store holds every
 * acknowledged update completely, the update in flight at the kill either
 * completely or not at all, and nothing else; the restarted server serves
 * what was stored.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "lbtest.h"
#include "tlive.h"

#include "lagebild/tiler.h"
#include "lagebild/util.h"

#define KILLS 24
#define PER_UPDATE 5

static char *dir, *cfg, *store;
static t_server srv;

typedef struct poster {
    int port;
    int next;            /* first update number to post */
    atomic_int acked;    /* last acknowledged update, -1: none */
    atomic_int inflight; /* update being posted, -1: none */
    atomic_int stop;
} poster;

static char *update(int k)
{
    lb_buf b = {0};
    lb_buf_puts(&b, "{\"type\":\"FeatureCollection\",\"features\":[");
    for (int i = 0; i < PER_UPDATE; i++)
        lb_buf_printf(&b,
                      "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"u%d_%d\",\"name\":\"%d\"},"
                      "\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.5f,%.5f]}}",
                      i ? "," : "", k, i, k, 9.0 + 0.001 * k, 52.0 + 0.001 * i);
    lb_buf_puts(&b, "]}");
    return lb_buf_take(&b);
}

static void *poster_main(void *arg)
{
    poster *p = arg;
    for (int k = p->next; !atomic_load(&p->stop); k++) {
        char *fc = update(k);
        atomic_store(&p->inflight, k);
        t_resp r;
        int rc = tl_post(p->port, "police_live", "t-police", fc, &r);
        free(fc);
        bool ok = rc == 0 && r.status == 200;
        t_resp_free(&r);
        if (!ok)
            break; /* the server is gone: k stays in flight */
        atomic_store(&p->acked, k);
        atomic_store(&p->inflight, -1);
    }
    return NULL;
}

/* Features stored for update k. */
static long long stored(int k)
{
    return t_sql_int(store, "SELECT count(*) FROM incidents WHERE name='%d'", k);
}

LB_TEST(test_sigkill_loses_no_acknowledged_update_and_applies_none_partially)
{
    dir = t_tmpdir();
    cfg = tl_config(dir, NULL);
    store = t_path(dir, "store.sqlite");
    char errpath[1024];
    snprintf(errpath, sizeof errpath, "%s/server.err", dir);
    srand((unsigned)time(NULL));
    int next = 0;
    int total_acked = 0, inflight_present = 0, inflight_absent = 0;
    for (int kill_no = 0; kill_no < KILLS; kill_no++) {
        ASSERT(t_server_start(&srv, cfg, NULL, errpath));
        poster p = {.port = srv.port, .next = next};
        atomic_init(&p.acked, -1);
        atomic_init(&p.inflight, -1);
        atomic_init(&p.stop, 0);
        pthread_t th;
        ASSERT_EQ(pthread_create(&th, NULL, poster_main, &p), 0);
        /* posting is under way (one update acknowledged), then a random moment */
        for (int w = 0; w < 3000 && atomic_load(&p.acked) < next; w++)
            usleep(10 * 1000);
        ASSERT(atomic_load(&p.acked) >= next);
        usleep((useconds_t)(rand() % 400) * 1000);
        t_server_kill(&srv); /* SIGKILL */
        atomic_store(&p.stop, 1);
        pthread_join(th, NULL);
        int acked = atomic_load(&p.acked), inflight = atomic_load(&p.inflight);
        /* every acknowledged update completely */
        for (int k = next; k <= acked; k++)
            ASSERT_EQ(stored(k), PER_UPDATE);
        /* the one in flight: all or nothing */
        int last = acked;
        if (inflight >= 0) {
            long long n = stored(inflight);
            ASSERT(n == 0 || n == PER_UPDATE);
            if (n)
                inflight_present++;
            else
                inflight_absent++;
            last = inflight;
        }
        /* nothing beyond, nothing else */
        ASSERT_EQ(stored(last + 1), 0);
        total_acked += acked >= next ? acked - next + 1 : 0;
        /* every update present is complete; none beyond the last posted */
        ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents"),
                  PER_UPDATE * t_sql_int(store, "SELECT count(DISTINCT name) FROM incidents"));
        ASSERT(t_sql_int(store, "SELECT max(CAST(name AS INTEGER)) FROM incidents") <= last);
        next = last + 1;
        t_server_free(&srv);
    }
    fprintf(stderr, "  %d kills, %d updates acknowledged, in flight at the kill: %d applied, "
                    "%d not\n",
            KILLS, total_acked, inflight_present, inflight_absent);
    ASSERT(total_acked >= KILLS);
    char *ic = t_sql(store, "PRAGMA integrity_check");
    ASSERT_STREQ(ic, "ok");
    free(ic);
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM incidents") % PER_UPDATE, 0);
    /* the spatial index agrees with the table */
    ASSERT_EQ(t_sql_int(store, "SELECT count(*) FROM idx_incidents_geom"),
              t_sql_int(store, "SELECT count(*) FROM incidents"));

    /* the restarted server serves the store as it was: the last update's tile */
    ASSERT(t_server_start(&srv, cfg, NULL, errpath));
    char *b;
    size_t len, elen;
    ASSERT_EQ(tl_fetch(srv.port, "/maps/lage/6/33/21.png", "t-reader", &b, &len), 200);
    const uint8_t *empty = lb_png_empty(256, 256, &elen);
    ASSERT(len != elen || memcmp(b, empty, elen) != 0);
    free(b);
    ASSERT_EQ(t_server_stop(&srv, 20), 0);
    t_server_free(&srv);
    t_rmrf(dir);
    free(dir);
    free(cfg);
    free(store);
}

LB_TESTS(test_sigkill_loses_no_acknowledged_update_and_applies_none_partially)
