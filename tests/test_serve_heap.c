/*
 * `lagebild serve` puts glibc's heap on transparent huge pages by restarting
 * itself once with GLIBC_TUNABLES (server/serve.c, lb_serve_tune_heap):
 *  - by default, where the kernel offers huge pages and the build has no
 *    sanitizer, the serving process carries the tunables and LB_HEAP=tuned,
 *    and (kernel mode "madvise") its heap is advised for huge pages;
 *  - LB_HEAP=default, GLIBC_TUNABLES naming either tunable, or Valgrind's
 *    preloaded core leaves the heap and the environment as they are;
 *  - every variant serves the same tile bytes.
 */
#include <ctype.h>

#include "lagebild/util.h"
#include "lbtest.h"
#include "thttp.h"
#include "tutil.h"

static char *dir, *cfg;

#define TILE T_ONE_POINT_TILE


/* The kernel's transparent huge page mode: "always", "madvise", "never" or
 * "" when it has none. */
static const char *thp_mode(void)
{
    static char mode[16];
    char line[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return "";
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    char *a = strchr(line, '['), *b = a ? strchr(a, ']') : NULL;
    if (!a || !b || b - a - 1 >= (long)sizeof mode)
        return "";
    memcpy(mode, a + 1, (size_t)(b - a - 1));
    mode[b - a - 1] = '\0';
    return mode;
}

/* The value of NAME in the environment of process pid, or NULL (malloc'd). */
static char *env_of(pid_t pid, const char *name)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t n = 0, cap = 0;
    char *all = NULL;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = 2 * cap + 8192;
            char *m = realloc(all, cap);
            if (!m)
                break;
            all = m;
        }
        size_t got = fread(all + n, 1, 4096, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    if (!all)
        return NULL;
    all[n] = '\0';
    size_t nl = strlen(name);
    char *found = NULL;
    for (size_t i = 0; i < n && !found; i += strlen(all + i) + 1)
        if (strncmp(all + i, name, nl) == 0 && all[i + nl] == '=')
            found = strdup(all + i + nl + 1);
    free(all);
    return found;
}

/* true when the VmFlags of the process's [heap] mapping include "hg"
 * (madvised for huge pages) */
static bool heap_advised(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[512];
    bool in_heap = false, hg = false;
    while (fgets(line, sizeof line, f)) {
        if (isxdigit((unsigned char)line[0]) && strchr(line, '-'))
            in_heap = strstr(line, "[heap]") != NULL;
        else if (in_heap && strncmp(line, "VmFlags:", 8) == 0)
            hg |= strstr(line, " hg") != NULL;
    }
    fclose(f);
    return hg;
}

static int nrun;

/* Start a server with LB_HEAP and GLIBC_TUNABLES as given (NULL: unset),
 * fetch the tile into *png and report what the serving process carries. */
static void run(const char *lb_heap, const char *tunables, t_server *srv, t_resp *png)
{
    if (lb_heap)
        setenv("LB_HEAP", lb_heap, 1);
    else
        unsetenv("LB_HEAP");
    if (tunables)
        setenv("GLIBC_TUNABLES", tunables, 1);
    else
        unsetenv("GLIBC_TUNABLES");
    char errpath[1024], audit[1024];
    snprintf(errpath, sizeof errpath, "%s/server%d.err", dir, nrun);
    snprintf(audit, sizeof audit, "%s/audit%d.jsonl", dir, nrun++);
    bool ok = t_server_start(srv, cfg, audit, errpath);
    unsetenv("LB_HEAP");
    unsetenv("GLIBC_TUNABLES");
    ASSERT(ok);
    ASSERT_EQ(t_get(srv->port, TILE, "t-police", png), 0);
    ASSERT_EQ(png->status, 200);
}

/* Start a server with LB_HEAP, GLIBC_TUNABLES and LD_PRELOAD as given
 * (NULL: unset); it must not have restarted: its LB_HEAP and GLIBC_TUNABLES
 * are what it was given, its heap is not advised for huge pages, and its
 * tile has the bytes of ref. */
static void left_alone(const char *lb_heap, const char *tunables, const char *preload,
                       const t_resp *ref)
{
    t_server srv;
    t_resp b;
    if (preload)
        setenv("LD_PRELOAD", preload, 1);
    run(lb_heap, tunables, &srv, &b);
    unsetenv("LD_PRELOAD");
    char *mark = env_of(srv.pid, "LB_HEAP");
    char *tun = env_of(srv.pid, "GLIBC_TUNABLES");
    if (lb_heap) {
        ASSERT(mark != NULL);
        ASSERT_STREQ(mark, lb_heap);
    } else {
        ASSERT(mark == NULL);
    }
    if (tunables) {
        ASSERT(tun != NULL);
        ASSERT_STREQ(tun, tunables);
    } else {
        ASSERT(tun == NULL);
    }
    ASSERT(!heap_advised(srv.pid));
    ASSERT_EQ(ref->bodylen, b.bodylen);
    ASSERT(memcmp(ref->body, b.body, b.bodylen) == 0);
    free(mark);
    free(tun);
    t_resp_free(&b);
    ASSERT_EQ(t_server_stop(&srv, 30.0), 0);
    t_server_free(&srv);
}

static void setup(void)
{
    if (dir)
        return;
    dir = t_tmpdir();
    cfg = t_one_point_config(dir);
    ASSERT(cfg != NULL);
}

LB_TEST(test_server_restarts_once_with_the_heap_on_huge_pages)
{
    setup();
    t_server srv;
    t_resp a;
    run(NULL, NULL, &srv, &a);
    char *mark = env_of(srv.pid, "LB_HEAP");
    char *tun = env_of(srv.pid, "GLIBC_TUNABLES");
    const char *mode = thp_mode();
    /* builds with a sanitizer keep their own allocator and never restart */
    bool expect = !LB_SANITIZED && *mode && strcmp(mode, "never") != 0;
    printf("  THP mode '%s', sanitizer build %d: LB_HEAP=%s GLIBC_TUNABLES=%s\n", mode,
           LB_SANITIZED, mark ? mark : "(unset)", tun ? tun : "(unset)");
    if (expect) {
        ASSERT(mark != NULL);
        ASSERT_STREQ(mark, "tuned");
        ASSERT(tun != NULL);
        ASSERT_CONTAINS(tun, "glibc.malloc.hugetlb=1");
        if (strcmp(mode, "madvise") == 0)
            ASSERT(heap_advised(srv.pid));
    } else {
        ASSERT(mark == NULL);
        ASSERT(tun == NULL);
    }
    free(mark);
    free(tun);
    ASSERT_EQ(t_server_stop(&srv, 30.0), 0);
    t_server_free(&srv);

    /* opted out: nothing changes, and the tile is the same */
    left_alone("default", NULL, NULL, &a);
    /* the user's own choice of either tunable is left alone */
    left_alone(NULL, "glibc.malloc.arena_max=2", NULL, &a);
    /* under Valgrind (recognised by its preloaded core; a path that does
     * not exist is enough, the loader skips it) the heap is left alone */
    left_alone(NULL, NULL, "/nonexistent/vgpreload_core-amd64-linux.so", &a);
    t_resp_free(&a);
    t_rmrf(dir);
    free(dir);
    free(cfg);
    dir = cfg = NULL;
}

LB_TESTS(test_server_restarts_once_with_the_heap_on_huge_pages)
