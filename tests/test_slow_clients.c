/*
 * Slow and idle clients against `lagebild serve` (thread per connection):
 * with more connections that send nothing, or their request headers one
 * byte at a time, than the server has worker threads, a normal tile request
 * is still answered within a bound set by --request-timeout-ms, and the
 * server itself closes every one of those connections after the timeout
 * (the slow ones while they are still sending).  An idle kept-alive
 * connection is closed after --keep-alive-ms.
 */
#include "lbtest.h"
#include "thttp.h"
#include "tutil.h"

static char *dir, *cfg;

#define TILE T_ONE_POINT_TILE
#define THREADS 4
#define TIMEOUT_MS 1000
#define NIDLE 3
#define NSLOW 4

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* true once the peer has closed fd (EOF or reset); drains whatever arrives */
static bool peer_closed(int fd)
{
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0)
            continue;
        if (n == 0)
            return true;
        return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    }
}

LB_TEST(test_slow_and_idle_clients_are_dropped_and_do_not_block_others)
{
    dir = t_tmpdir();
    cfg = t_one_point_config(dir);
    ASSERT(cfg != NULL);
    char errpath[1024];
    snprintf(errpath, sizeof errpath, "%s/server.err", dir);
    char *audit = t_path(dir, "audit.jsonl");
    char tmo[16];
    snprintf(tmo, sizeof tmo, "%d", TIMEOUT_MS);
    const char *extra[] = {"--request-timeout-ms", tmo, "--keep-alive-ms", tmo, NULL};
    t_server srv;
    ASSERT(t_server_start_ex(&srv, cfg, audit, errpath, extra)); /* --threads 4 */
    free(audit);

    /* the tile answers at all (and warms nothing that matters here) */
    t_resp r;
    ASSERT_EQ(t_get(srv.port, TILE, "t-police", &r), 0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);

    /* more bad connections than threads: idle ones, and ones that send
     * their headers one byte every 100 ms (the whole request would take
     * minutes) */
    static const char drip[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int bad[NIDLE + NSLOW];
    double closed_at[NIDLE + NSLOW];
    size_t sent[NSLOW] = {0};
    double t0 = t_mono();
    for (int i = 0; i < NIDLE + NSLOW; i++) {
        bad[i] = connect_port(srv.port);
        closed_at[i] = -1;
    }
    /* give the server time to hand the bad connections to its threads */
    usleep(200 * 1000);

    /* a normal tile request behind them, on its own connection */
    int good = connect_port(srv.port);
    char req[256];
    int rl = snprintf(req, sizeof req,
                      "GET " TILE " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                      "t-police\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(send(good, req, (size_t)rl, MSG_NOSIGNAL), rl);
    double t_good = t_mono(), answered = -1;
    char resp[65536];
    size_t got = 0;

    while (t_mono() - t0 < 15.0) {
        double now = t_mono();
        for (int i = 0; i < NSLOW; i++) {
            int k = NIDLE + i;
            if (closed_at[k] >= 0 || sent[i] >= sizeof drip - 1)
                continue;
            if (send(bad[k], drip + sent[i], 1, MSG_NOSIGNAL) == 1)
                sent[i]++;
            else if (errno != EAGAIN)
                closed_at[k] = now - t0;
        }
        for (int k = 0; k < NIDLE + NSLOW; k++)
            if (closed_at[k] < 0 && peer_closed(bad[k]))
                closed_at[k] = now - t0;
        if (answered < 0) {
            ssize_t n = recv(good, resp + got, sizeof resp - 1 - got, 0);
            if (n > 0)
                got += (size_t)n;
            else if (n == 0)
                answered = now - t_good;
        }
        bool all = answered >= 0;
        for (int k = 0; k < NIDLE + NSLOW; k++)
            all &= closed_at[k] >= 0;
        if (all)
            break;
        usleep(100 * 1000);
    }
    resp[got] = '\0';

    /* the tile was answered, within two timeouts' worth of queueing (the
     * bad connections fill the 4 threads twice) plus slack */
    fprintf(stderr, "  tile answered after %.2f s\n", answered);
    ASSERT(answered >= 0);
    ASSERT(strncmp(resp, "HTTP/1.1 200", 12) == 0);
    ASSERT(answered < 2 * TIMEOUT_MS / 1000.0 + 2.0);
    /* every bad connection was closed by the server, the slow ones while
     * they still had most of their request to send */
    for (int k = 0; k < NIDLE + NSLOW; k++) {
        fprintf(stderr, "  %s connection %d closed after %.2f s\n", k < NIDLE ? "idle" : "slow",
                k, closed_at[k]);
        ASSERT(closed_at[k] >= TIMEOUT_MS / 1000.0 * 0.9);
        ASSERT(closed_at[k] < 2 * TIMEOUT_MS / 1000.0 + 3.0);
        if (k >= NIDLE)
            ASSERT(sent[k - NIDLE] < sizeof drip - 1);
        close(bad[k]);
    }
    close(good);

    /* an idle kept-alive connection: one request, then the server closes it */
    int ka = connect_port(srv.port);
    static const char hreq[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ASSERT_EQ(send(ka, hreq, sizeof hreq - 1, MSG_NOSIGNAL), (ssize_t)(sizeof hreq - 1));
    double t_ka = t_mono(), ka_closed = -1;
    got = 0;
    while (t_mono() - t_ka < 10.0) {
        ssize_t n = recv(ka, resp + got, sizeof resp - 1 - got, 0);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            ka_closed = t_mono() - t_ka;
            break;
        }
        usleep(50 * 1000);
    }
    resp[got] = '\0';
    close(ka);
    fprintf(stderr, "  kept-alive connection closed after %.2f s\n", ka_closed);
    ASSERT(strncmp(resp, "HTTP/1.1 200", 12) == 0);
    ASSERT(ka_closed >= TIMEOUT_MS / 1000.0 * 0.9);
    ASSERT(ka_closed < TIMEOUT_MS / 1000.0 + 3.0);

    /* and the server still answers normally */
    ASSERT_EQ(t_get(srv.port, "/health", NULL, &r), 0);
    ASSERT_EQ(r.status, 200);
    t_resp_free(&r);
    ASSERT_EQ(t_server_stop(&srv, 20), 0);
    t_server_free(&srv);
    t_rmrf(dir);
    free(dir);
    free(cfg);
}

LB_TESTS(test_slow_and_idle_clients_are_dropped_and_do_not_block_others)
