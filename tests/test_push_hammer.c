/*
 * A tile is always rendered from one revision: while frames stream in (each
 * push moves two squares A and B together, in one request), two clients
 * fetch the same tile over and over.  Afterwards every frame is pushed once
 * more on its own and its tile fetched as the reference; every tile seen
 * during the stream must equal the reference of one frame (or the empty
 * start).  A tile drawn from half an update (A moved, B not) or from two
 * revisions matches none.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "lbtest.h"
#include "tlive.h"

#define FRAMES 40
#define MAX_SEEN 4096

static char *dir, *cfg;
static t_server srv;
static char tile[128];
static atomic_int streaming;

typedef struct seen {
    uint64_t h[MAX_SEEN];
    size_t n;
    size_t fetched, failed;
} seen;

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h ^ n;
}

static void add_hash(seen *s, uint64_t h)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->h[i] == h)
            return;
    if (s->n < MAX_SEEN)
        s->h[s->n++] = h;
}

static void *fetcher(void *arg)
{
    seen *s = arg;
    while (atomic_load(&streaming)) {
        char *b = NULL;
        size_t len;
        int st = tl_fetch(srv.port, tile, "t-reader", &b, &len);
        if (st == 200)
            add_hash(s, fnv(b, len));
        else
            s->failed++;
        s->fetched++;
        free(b);
    }
    return NULL;
}

/* Frame k: A and B side by side, both shifted by k steps. */
static char *frame(int k)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    double x = 9.50 + 0.002 * k, y = 52.10;
    fprintf(f, "{\"type\":\"FeatureCollection\",\"features\":[");
    for (int i = 0; i < 2; i++) {
        double cx = x, cy = y + (i ? 0.01 : -0.01), d = 0.004;
        fprintf(f,
                "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"%c\",\"groups\":\"police\"},"
                "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[%.6f,%.6f],[%.6f,%.6f],"
                "[%.6f,%.6f],[%.6f,%.6f],[%.6f,%.6f]]]}}",
                i ? "," : "", i ? 'B' : 'A', cx - d, cy - d, cx + d, cy - d, cx + d, cy + d,
                cx - d, cy + d, cx - d, cy - d);
    }
    fprintf(f, "]}");
    fclose(f);
    return s;
}

static void push(int k)
{
    char *fc = frame(k);
    t_resp r;
    ASSERT_EQ(tl_post(srv.port, "police_live", "t-police", fc, &r), 0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    free(fc);
}

LB_TEST(test_every_tile_is_one_revision_while_updates_stream)
{
    dir = t_tmpdir();
    /* compact (rebuild the base) every 0.2 s: tiles cross overlays and bases */
    setenv("LAGEBILD_COMPACT_AGE_S", "0.2", 1);
    cfg = tl_config(dir, NULL);
    ASSERT(tl_serve(&srv, cfg, dir, "server.err"));
    /* the z11 tile holding the whole track (x 9.496..9.582, y 52.086..52.114) */
    snprintf(tile, sizeof tile, "/maps/lage/11/%d/%d.png", 1078, 675);
    char *b;
    size_t len;
    ASSERT_EQ(tl_fetch(srv.port, tile, "t-reader", &b, &len), 200);
    uint64_t empty = fnv(b, len);
    free(b);

    seen s[2] = {0};
    pthread_t th[2];
    atomic_store(&streaming, 1);
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, fetcher, &s[i]), 0);
    for (int k = 0; k < FRAMES; k++) {
        push(k);
        usleep((useconds_t)(rand() % 40) * 1000);
    }
    usleep(500 * 1000);
    atomic_store(&streaming, 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);

    /* the reference of each frame, pushed alone and waited for */
    tl_sse ev;
    ASSERT(tl_sse_open(&ev, srv.port, "t-reader"));
    uint64_t ref[FRAMES + 1];
    ref[FRAMES] = empty;
    for (int k = 0; k < FRAMES; k++) {
        push(k);
        char msg[1024];
        ASSERT(tl_sse_next(&ev, msg, sizeof msg, 20));
        ASSERT_EQ(tl_fetch(srv.port, tile, "t-reader", &b, &len), 200);
        ref[k] = fnv(b, len);
        free(b);
    }
    tl_sse_close(&ev);
    size_t distinct = 0;
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(s[i].failed, 0);
        ASSERT(s[i].fetched > 20);
        for (size_t j = 0; j < s[i].n; j++) {
            bool match = false;
            for (int k = 0; k <= FRAMES && !match; k++)
                match = s[i].h[j] == ref[k];
            if (!match)
                fprintf(stderr, "  a tile seen while streaming matches no revision\n");
            ASSERT(match);
        }
        distinct += s[i].n;
    }
    /* the frames differ from each other, and the clients saw several */
    for (int k = 1; k < FRAMES; k++)
        ASSERT(ref[k] != ref[k - 1]);
    fprintf(stderr, "  %zu + %zu tiles fetched, %zu distinct tiles seen, all of one revision\n",
            s[0].fetched, s[1].fetched, distinct);
    ASSERT(distinct >= 6);
    char *m;
    ASSERT_EQ(tl_fetch(srv.port, "/metrics", "t-admin", &m, &len), 200);
    fprintf(stderr, "  %s", strstr(m, "lagebild_publishes_total"));
    free(m);
    ASSERT_EQ(t_server_end(&srv, 20), 0);

    /* a server started on the store (one full snapshot) draws the last
     * frame exactly as the incremental one did */
    unsetenv("LAGEBILD_COMPACT_AGE_S");
    ASSERT(tl_serve(&srv, cfg, dir, "server.err"));
    ASSERT_EQ(tl_fetch(srv.port, tile, "t-reader", &b, &len), 200);
    ASSERT_EQ(fnv(b, len), ref[FRAMES - 1]);
    free(b);
    ASSERT_EQ(t_server_end(&srv, 20), 0);
    t_rmrf(dir);
    free(dir);
    free(cfg);
}

LB_TESTS(test_every_tile_is_one_revision_while_updates_stream)
