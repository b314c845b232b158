/*
 * Tests of the access tokens and the audit log: SHA-256 known answers, token
 * format and uniqueness, constant-time comparison, appending (also from
 * several threads), verification of intact and tampered logs (edited bytes,
 * removed, inserted, swapped and forged records, truncation, a removed tail),
 * continuing a chain on reopen, refusing a tampered log, and the CLI.
 */
#include <pthread.h>
#include <stdint.h>

#include "lbtest.h"
#include "tutil.h"

#include "lagebild/audit.h"

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

/* ---------------------------------------------------------------- helpers */

static void copy_file(const char *from, const char *to)
{
    char *s = t_read_file(from);
    FILE *f = fopen(to, "wb");
    if (f) {
        fwrite(s, 1, strlen(s), f);
        fclose(f);
    }
    free(s);
}

static char *head_of(const char *path)
{
    size_t n = strlen(path) + 6;
    char *p = malloc(n);
    snprintf(p, n, "%s.head", path);
    return p;
}

/* Make a log of n records in dir/name; returns its path (caller frees). */
static char *make_log(const char *dir, const char *name, int n)
{
    char *path = t_path(dir, name);
    lb_audit *a = NULL;
    lb_error err;
    if (lb_audit_open(path, &a, &err) != LB_OK) {
        fprintf(stderr, "  open: %s\n", err.msg);
        return path;
    }
    static const char *const outcomes[] = {"allow", "deny", "allow-generalised"};
    for (int i = 1; i <= n; i++) {
        char principal[32], resource[96];
        snprintf(principal, sizeof principal, "user%02d", i);
        snprintf(resource, sizeof resource, "/tiles/lage/WebMercatorQuad/12/%d/%d.png", 2100 + i,
                 1300 + i);
        if (lb_audit_append(a, principal, i % 2 ? "polizei" : "feuerwehr", resource,
                            "p:3f9a", outcomes[i % 3], &err) != LB_OK)
            fprintf(stderr, "  append: %s\n", err.msg);
    }
    lb_audit_close(a);
    return path;
}

typedef struct lines {
    char *l[128]; /* each with its '\n' (the last one possibly without) */
    size_t n;
} lines;

static void split(const char *text, lines *L)
{
    L->n = 0;
    const char *p = text;
    while (*p && L->n < 128) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
        L->l[L->n] = strndup(p, len);
        L->n++;
        p += len;
    }
}

static void lines_free(lines *L)
{
    for (size_t i = 0; i < L->n; i++)
        free(L->l[i]);
    L->n = 0;
}

/* Write the lines to dir/name and copy the original's head file next to it. */
static char *write_variant(const char *dir, const char *name, const lines *L, const char *orig)
{
    char *path = t_path(dir, name);
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; f && i < L->n; i++)
        fputs(L->l[i], f);
    if (f)
        fclose(f);
    char *hs = head_of(orig), *hd = head_of(path);
    copy_file(hs, hd);
    free(hs);
    free(hd);
    return path;
}

/* The stored hash of a line (64 hex digits before the closing "}\n). */
static void line_hash(const char *line, char out[65])
{
    const char *h = strstr(line, ",\"hash\":\"");
    memcpy(out, h ? h + 9 : ZEROS, 64);
    out[64] = '\0';
}

/* A record exactly as the documented canonical text prescribes. */
static char *forge(unsigned long long seq, const char *principal, const char *prev)
{
    char canon[1024], hash[65];
    snprintf(canon, sizeof canon,
             "{\"seq\":%llu,\"time\":\"2026-11-26T16:00:00.123Z\",\"principal\":\"%s\","
             "\"role\":\"polizei\",\"resource\":\"/tiles/x\",\"profile\":\"p:1\","
             "\"outcome\":\"allow\",\"prev\":\"%s\"",
             seq, principal, prev);
    lb_sha256_hex(canon, strlen(canon), hash);
    size_t n = strlen(canon) + 80;
    char *line = malloc(n);
    snprintf(line, n, "%s,\"hash\":\"%s\"}\n", canon, hash);
    return line;
}

/* Verification of path must fail at line lineno with a message containing why. */
#define EXPECT_BAD(path, lineno, why)                                          \
    do {                                                                       \
        lb_error e_;                                                           \
        uint64_t n_ = 99;                                                      \
        lb_status st_ = lb_audit_verify((path), &n_, &e_);                     \
        char pre_[32];                                                         \
        snprintf(pre_, sizeof pre_, "line %d: ", (lineno));                    \
        ASSERT_EQ(st_, LB_EFORMAT);                                            \
        if (strncmp(e_.msg, pre_, strlen(pre_)) != 0)                          \
            LBT__FAIL("expected \"%s...\", got \"%s\"", pre_, e_.msg);         \
        ASSERT_CONTAINS(e_.msg, (why));                                        \
        ASSERT_EQ(n_, (lineno) - 1);                                           \
    } while (0)

/* Flip one bit of the byte at offset off (from the match of key) in line k. */
static char *flip_variant(const char *dir, const char *name, const char *orig, int k,
                          const char *key, int off)
{
    lines L;
    char *text = t_read_file(orig);
    split(text, &L);
    char *p = key ? strstr(L.l[k - 1], key) : L.l[k - 1];
    if (p) {
        p += off;
        *p ^= 1;
    }
    char *path = write_variant(dir, name, &L, orig);
    lines_free(&L);
    free(text);
    return path;
}

/* ------------------------------------------------------------------ tokens */

LB_TEST(test_sha256_known_answers)
{
    char hex[65];
    lb_sha256_hex("abc", 3, hex);
    ASSERT_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    lb_sha256_hex("", 0, hex);
    ASSERT_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    lb_sha256_hex(m, strlen(m), hex);
    ASSERT_STREQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char out[72];
    lb_token_hash("abc", out);
    ASSERT_STREQ(out, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ASSERT_EQ(strlen(out), LB_TOKEN_HASH_LEN);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

LB_TEST(test_token_format_and_uniqueness)
{
    enum { N = 1000 };
    static char tokens[N][LB_TOKEN_LEN + 1];
    char *sorted[N];
    lb_error err;
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(lb_token_new(tokens[i], sizeof tokens[i], &err), LB_OK);
        ASSERT_EQ(strlen(tokens[i]), LB_TOKEN_LEN);
        ASSERT_EQ(strncmp(tokens[i], "lbt_", 4), 0);
        for (const char *p = tokens[i] + 4; *p; p++)
            ASSERT((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                   (*p >= '0' && *p <= '9') || *p == '-' || *p == '_');
        sorted[i] = tokens[i];
    }
    qsort(sorted, N, sizeof sorted[0], cmp_str);
    for (int i = 1; i < N; i++)
        ASSERT(strcmp(sorted[i - 1], sorted[i]) != 0);
    /* 32 random bytes = 256 bits: the last character carries only 4 bits
     * (its low 2 bits are zero), every other character is used */
    char small[LB_TOKEN_LEN];
    ASSERT_EQ(lb_token_new(small, sizeof small, &err), LB_EINVAL);
    ASSERT_EQ(lb_token_new(NULL, 100, NULL), LB_EINVAL);
    char h1[72], h2[72];
    lb_token_hash(tokens[0], h1);
    lb_token_hash(tokens[1], h2);
    ASSERT_EQ(strncmp(h1, "sha256:", 7), 0);
    ASSERT(!lb_token_hash_equal(h1, h2));
}

LB_TEST(test_token_hash_equal)
{
    char a[72], b[72];
    lb_token_hash("lbt_one", a);
    lb_token_hash("lbt_one", b);
    ASSERT(lb_token_hash_equal(a, b));
    ASSERT(lb_token_hash_equal(a, a));
    b[7] ^= 1; /* first hex digit */
    ASSERT(!lb_token_hash_equal(a, b));
    b[7] ^= 1;
    b[70] ^= 1; /* last */
    ASSERT(!lb_token_hash_equal(a, b));
    b[70] ^= 1;
    b[0] = 'S';
    ASSERT(!lb_token_hash_equal(a, b));
    ASSERT(lb_token_hash_equal("x", "x"));
    ASSERT(!lb_token_hash_equal("abc", "abcd"));
    ASSERT(!lb_token_hash_equal("abcd", "abc"));
    ASSERT(!lb_token_hash_equal("abc", "ab"));
    ASSERT(!lb_token_hash_equal(a, ""));
    ASSERT(!lb_token_hash_equal("", ""));
    ASSERT(!lb_token_hash_equal(NULL, a));
    ASSERT(!lb_token_hash_equal(a, NULL));
    ASSERT(!lb_token_hash_equal("sha256:AB", "sha256:ab")); /* exact bytes */
}

/* --------------------------------------------------------------- appending */

LB_TEST(test_audit_append_and_verify)
{
    char *dir = t_tmpdir();
    char *path = t_path(dir, "audit.log");
    lb_audit *a = NULL;
    lb_error err;
    ASSERT_EQ(lb_audit_open(path, &a, &err), LB_OK);
    ASSERT_EQ(lb_audit_records(a), 0);
    ASSERT_EQ(lb_audit_append(a, "alice", "polizei", "/tiles/lage/12/2100/1300.png", "p:1",
                              "allow", &err), LB_OK);
    ASSERT_EQ(lb_audit_append(a, "b\"o\\b\n\x01\x7f\xc3\xa4\xff", "feuerwehr", NULL, "", "deny",
                              &err), LB_OK);
    lb_audit_set_fsync(a, true);
    ASSERT_EQ(lb_audit_append(a, "carol", "bw", "/maps", "p:2", "allow", &err), LB_OK);
    ASSERT_EQ(lb_audit_records(a), 3);
    lb_audit_close(a);

    uint64_t n = 0;
    ASSERT_EQ(lb_audit_verify(path, &n, &err), LB_OK);
    ASSERT_EQ(n, 3);

    char *text = t_read_file(path);
    lines L;
    split(text, &L);
    ASSERT_EQ(L.n, 3);
    /* layout: the documented keys, in order, no spaces */
    ASSERT_EQ(strncmp(L.l[0], "{\"seq\":1,\"time\":\"", 17), 0);
    const char *t = L.l[0] + 17; /* 2026-11-26T16:00:00.123Z */
    ASSERT(t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' && t[16] == ':' &&
           t[19] == '.' && t[23] == 'Z' && t[24] == '"');
    ASSERT_CONTAINS(L.l[0], "\",\"principal\":\"alice\",\"role\":\"polizei\",\"resource\":"
                            "\"/tiles/lage/12/2100/1300.png\",\"profile\":\"p:1\",\"outcome\":"
                            "\"allow\",\"prev\":\"" ZEROS "\",\"hash\":\"");
    /* escapes: quote, backslash, newline, control characters, UTF-8 kept,
     * invalid UTF-8 replaced; NULL written as "" */
    ASSERT_CONTAINS(L.l[1], "\"principal\":\"b\\\"o\\\\b\\n\\u0001\\u007f\xc3\xa4\\ufffd\"");
    ASSERT_CONTAINS(L.l[1], "\"resource\":\"\",\"profile\":\"\",");
    /* the chain: each hash is the SHA-256 of the text before ,"hash": and the
     * next record's prev */
    char prev[65] = ZEROS;
    for (size_t i = 0; i < L.n; i++) {
        char stored[65], computed[65], want[80];
        line_hash(L.l[i], stored);
        const char *cut = strstr(L.l[i], ",\"hash\":\"");
        lb_sha256_hex(L.l[i], (size_t)(cut - L.l[i]), computed);
        ASSERT_STREQ(stored, computed);
        snprintf(want, sizeof want, "\"prev\":\"%s\"", prev);
        ASSERT_CONTAINS(L.l[i], want);
        ASSERT_EQ(strlen(cut), 9 + 64 + 3);
        memcpy(prev, stored, 65);
    }
    /* the head file anchors the last record */
    char *hp = head_of(path);
    char *head = t_read_file(hp);
    char want[100];
    snprintf(want, sizeof want, "%020d %s\n", 3, prev);
    ASSERT_STREQ(head, want);
    free(head);
    free(hp);
    lines_free(&L);
    free(text);

    /* an empty log verifies */
    char *empty = t_path(dir, "empty.log");
    ASSERT_EQ(lb_audit_open(empty, &a, &err), LB_OK);
    lb_audit_close(a);
    ASSERT_EQ(lb_audit_verify(empty, &n, &err), LB_OK);
    ASSERT_EQ(n, 0);
    char *missing = t_path(dir, "missing.log");
    ASSERT_EQ(lb_audit_verify(missing, &n, &err), LB_ENOENT);
    free(missing);
    free(empty);
    free(path);
    t_rmrf(dir);
    free(dir);
}

typedef struct worker {
    lb_audit *a;
    int id;
    int failures;
} worker;

#define PER_THREAD 250

static void *work(void *p)
{
    worker *w = p;
    char principal[32], resource[64];
    for (int i = 0; i < PER_THREAD; i++) {
        lb_error err;
        snprintf(principal, sizeof principal, "thread%d", w->id);
        snprintf(resource, sizeof resource, "/tiles/lage/14/%d/%d.png", w->id, i);
        if (lb_audit_append(w->a, principal, "polizei", resource, "p:7", "allow", &err) != LB_OK)
            w->failures++;
    }
    return NULL;
}

LB_TEST(test_audit_threads)
{
    char *dir = t_tmpdir();
    char *path = t_path(dir, "audit.log");
    lb_audit *a = NULL;
    lb_error err;
    ASSERT_EQ(lb_audit_open(path, &a, &err), LB_OK);
    ASSERT_EQ(lb_audit_append(a, "main", "admin", "/start", "", "allow", &err), LB_OK);
    pthread_t th[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.a = a, .id = i};
        ASSERT_EQ(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ(w[i].failures, 0);
    }
    ASSERT_EQ(lb_audit_records(a), 1 + 4 * PER_THREAD);
    lb_audit_close(a);
    uint64_t n = 0;
    if (lb_audit_verify(path, &n, &err) != LB_OK)
        LBT__FAIL("verify: %s", err.msg);
    ASSERT_EQ(n, 1 + 4 * PER_THREAD);
    /* every thread's records are all there */
    char *text = t_read_file(path);
    for (int t = 0; t < 4; t++) {
        char key[64];
        snprintf(key, sizeof key, "\"resource\":\"/tiles/lage/14/%d/%d.png\"", t, PER_THREAD - 1);
        ASSERT_CONTAINS(text, key);
    }
    free(text);
    free(path);
    t_rmrf(dir);
    free(dir);
}

/* ---------------------------------------------------------------- tampering */

LB_TEST(test_audit_edited_bytes)
{
    char *dir = t_tmpdir();
    char *orig = make_log(dir, "orig.log", 10);
    uint64_t n = 0;
    lb_error err;
    ASSERT_EQ(lb_audit_verify(orig, &n, &err), LB_OK);
    ASSERT_EQ(n, 10);
    static const struct {
        int line;
        const char *key;
        int off;
    } flips[] = {
        {3, "\"seq\":", 6},           /* the seq digit */
        {1, "\"time\":\"", 20},       /* a digit of the time */
        {7, "\"principal\":\"", 14},  /* inside the principal */
        {2, "\"role\":\"", 8},        /* first byte of the role */
        {6, "\"resource\":\"", 20},   /* inside the resource */
        {8, "\"profile\":\"", 12},    /* inside the profile */
        {10, "\"outcome\":\"", 11},   /* the last record's outcome */
        {5, "\"prev\":\"", 40},       /* inside prev */
        {4, "\"hash\":\"", 8},        /* first hex digit of the hash */
        {9, "\"hash\":\"", 71},       /* last hex digit of the hash */
    };
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "flip%zu.log", i);
        char *p = flip_variant(dir, name, orig, flips[i].line, flips[i].key, flips[i].off);
        fprintf(stderr, "  flip in line %d at %s+%d\n", flips[i].line, flips[i].key,
                flips[i].off);
        EXPECT_BAD(p, flips[i].line, "hash mismatch (record edited)");
        free(p);
    }
    /* structural bytes: the opening brace, the hash key, the closing brace */
    char *p = flip_variant(dir, "brace.log", orig, 4, NULL, 0);
    EXPECT_BAD(p, 4, "hash mismatch");
    free(p);
    p = flip_variant(dir, "hashkey.log", orig, 6, ",\"hash\"", 3);
    EXPECT_BAD(p, 6, "malformed record");
    free(p);
    p = flip_variant(dir, "close.log", orig, 2, "\"}\n", 1);
    EXPECT_BAD(p, 2, "malformed record");
    free(p);
    /* the newline between lines 5 and 6: the two records run together */
    p = flip_variant(dir, "newline.log", orig, 5, "\"}\n", 2);
    EXPECT_BAD(p, 5, "line 5: ");
    free(p);
    free(orig);
    t_rmrf(dir);
    free(dir);
}

LB_TEST(test_audit_removed_inserted_swapped)
{
    char *dir = t_tmpdir();
    char *orig = make_log(dir, "orig.log", 10);
    char *text = t_read_file(orig);
    lines L;
    char *p;

    /* removed: first, middle, last */
    split(text, &L);
    free(L.l[0]);
    memmove(&L.l[0], &L.l[1], 9 * sizeof L.l[0]);
    L.n = 9;
    p = write_variant(dir, "rm-first.log", &L, orig);
    EXPECT_BAD(p, 1, "seq 2, but a log starts with seq 1 (records removed from the start");
    free(p);
    lines_free(&L);

    split(text, &L);
    free(L.l[4]);
    memmove(&L.l[4], &L.l[5], 5 * sizeof L.l[0]);
    L.n = 9;
    p = write_variant(dir, "rm-middle.log", &L, orig);
    EXPECT_BAD(p, 5, "seq 6 follows 4 (record removed");
    free(p);
    lines_free(&L);

    split(text, &L);
    free(L.l[9]);
    L.n = 9;
    p = write_variant(dir, "rm-last.log", &L, orig);
    EXPECT_BAD(p, 10, "missing: the log ends after line 9");
    free(p);
    lines_free(&L);

    /* swapped pair: lines 4 and 5 */
    split(text, &L);
    char *tmp = L.l[3];
    L.l[3] = L.l[4];
    L.l[4] = tmp;
    p = write_variant(dir, "swap.log", &L, orig);
    EXPECT_BAD(p, 4, "seq 5 follows 3");
    free(p);
    /* the last two swapped */
    tmp = L.l[3];
    L.l[3] = L.l[4];
    L.l[4] = tmp;
    tmp = L.l[8];
    L.l[8] = L.l[9];
    L.l[9] = tmp;
    p = write_variant(dir, "swap-last.log", &L, orig);
    EXPECT_BAD(p, 9, "seq 10 follows 8");
    free(p);
    lines_free(&L);

    /* a forged record inserted after line 3 with its own hash recomputed and
     * even the right seq and prev: the chain breaks at the next line */
    split(text, &L);
    char h3[65];
    line_hash(L.l[2], h3);
    memmove(&L.l[4], &L.l[3], 7 * sizeof L.l[0]);
    L.l[3] = forge(4, "mallory", h3);
    L.n = 11;
    p = write_variant(dir, "insert.log", &L, orig);
    EXPECT_BAD(p, 5, "seq 4 follows 4 (record inserted or reordered)");
    free(p);
    /* ... with seq 4 but a made-up prev: caught on its own line */
    free(L.l[3]);
    L.l[3] = forge(4, "mallory", ZEROS);
    p = write_variant(dir, "insert2.log", &L, orig);
    EXPECT_BAD(p, 4, "prev does not match line 3's hash");
    free(p);
    lines_free(&L);

    /* a record removed and the later ones renumbered with recomputed own
     * hashes (but prev left alone) */
    split(text, &L);
    free(L.l[4]);
    memmove(&L.l[4], &L.l[5], 5 * sizeof L.l[0]);
    L.n = 9;
    for (size_t i = 4; i < L.n; i++) {
        char prev[65];
        const char *pv = strstr(L.l[i], "\"prev\":\"") + 8;
        memcpy(prev, pv, 64);
        prev[64] = '\0';
        free(L.l[i]);
        L.l[i] = forge(i + 1, "renumbered", prev);
    }
    p = write_variant(dir, "renumber.log", &L, orig);
    EXPECT_BAD(p, 5, "prev does not match line 4's hash (record removed, inserted or reordered)");
    free(p);
    lines_free(&L);

    /* a forger who rewrites the whole tail consistently (seq, prev, hash) is
     * caught by the head file: shorter log ... */
    split(text, &L);
    free(L.l[4]);
    memmove(&L.l[4], &L.l[5], 5 * sizeof L.l[0]);
    L.n = 9;
    char prev[65];
    line_hash(L.l[3], prev);
    for (size_t i = 4; i < L.n; i++) {
        free(L.l[i]);
        L.l[i] = forge(i + 1, "rewritten", prev);
        line_hash(L.l[i], prev);
    }
    p = write_variant(dir, "rewrite-short.log", &L, orig);
    EXPECT_BAD(p, 10, "records removed from the end");
    free(p);
    lines_free(&L);
    /* ... or same length */
    split(text, &L);
    line_hash(L.l[5], prev);
    for (size_t i = 6; i < L.n; i++) {
        free(L.l[i]);
        L.l[i] = forge(i + 1, "rewritten", prev);
        line_hash(L.l[i], prev);
    }
    p = write_variant(dir, "rewrite-same.log", &L, orig);
    EXPECT_BAD(p, 10, "hash differs from the one recorded in");
    free(p);
    lines_free(&L);

    /* truncated last line, and a lost final newline */
    split(text, &L);
    L.l[9][strlen(L.l[9]) - 20] = '\0';
    p = write_variant(dir, "trunc.log", &L, orig);
    EXPECT_BAD(p, 10, "incomplete last line (truncated");
    free(p);
    L.l[9][0] = '\0';
    L.l[8][strlen(L.l[8]) - 1] = '\0';
    p = write_variant(dir, "nonl.log", &L, orig);
    EXPECT_BAD(p, 9, "incomplete last line");
    free(p);
    lines_free(&L);

    /* an empty line, and a blank log with a head that says 10 */
    split(text, &L);
    free(L.l[6]);
    L.l[6] = strdup("\n");
    p = write_variant(dir, "blank.log", &L, orig);
    EXPECT_BAD(p, 7, "empty line");
    free(p);
    lines_free(&L);
    p = write_variant(dir, "emptied.log", &L, orig);
    EXPECT_BAD(p, 1, "missing: the log ends after line 0");
    free(p);

    /* the head file missing or damaged */
    split(text, &L);
    p = write_variant(dir, "nohead.log", &L, orig);
    char *hp = head_of(p);
    unlink(hp);
    lb_error err;
    ASSERT_EQ(lb_audit_verify(p, NULL, &err), LB_EFORMAT);
    ASSERT_CONTAINS(err.msg, "nohead.log.head is missing");
    t_write(dir, "nohead.log.head", "00000000000000000010 xyz\n");
    ASSERT_EQ(lb_audit_verify(p, NULL, &err), LB_EFORMAT);
    ASSERT_CONTAINS(err.msg, "malformed");
    free(hp);
    free(p);
    lines_free(&L);

    free(text);
    free(orig);
    t_rmrf(dir);
    free(dir);
}

/* --------------------------------------------------------------- reopening */

LB_TEST(test_audit_reopen_continues_chain)
{
    char *dir = t_tmpdir();
    char *path = make_log(dir, "audit.log", 3);
    lb_audit *a = NULL;
    lb_error err;
    ASSERT_EQ(lb_audit_open(path, &a, &err), LB_OK);
    ASSERT_EQ(lb_audit_records(a), 3);
    ASSERT_EQ(lb_audit_append(a, "dave", "polizei", "/x", "p", "allow", &err), LB_OK);
    ASSERT_EQ(lb_audit_append(a, "erin", "polizei", "/y", "p", "allow", &err), LB_OK);
    /* a second writer is refused while the log is open */
    lb_audit *b = NULL;
    ASSERT_EQ(lb_audit_open(path, &b, &err), LB_EIO);
    ASSERT(b == NULL);
    ASSERT_CONTAINS(err.msg, "in use");
    lb_audit_close(a);

    uint64_t n = 0;
    ASSERT_EQ(lb_audit_verify(path, &n, &err), LB_OK);
    ASSERT_EQ(n, 5);
    char *text = t_read_file(path);
    lines L;
    split(text, &L);
    char h3[65], want[80];
    line_hash(L.l[2], h3);
    ASSERT_EQ(strncmp(L.l[3], "{\"seq\":4,", 9), 0);
    snprintf(want, sizeof want, "\"prev\":\"%s\"", h3);
    ASSERT_CONTAINS(L.l[3], want);
    ASSERT_CONTAINS(L.l[3], "\"principal\":\"dave\"");

    /* a head lagging one record behind (crash between the two writes) is
     * accepted and brought up to date */
    char h4[65], head[100];
    line_hash(L.l[3], h4);
    snprintf(head, sizeof head, "%020d %s\n", 4, h4);
    t_write(dir, "audit.log.head", head);
    ASSERT_EQ(lb_audit_verify(path, &n, &err), LB_OK);
    ASSERT_EQ(n, 5);
    ASSERT_EQ(lb_audit_open(path, &a, &err), LB_OK);
    ASSERT_EQ(lb_audit_records(a), 5);
    ASSERT_EQ(lb_audit_append(a, "frank", "bw", "/z", "p", "deny", &err), LB_OK);
    lb_audit_close(a);
    ASSERT_EQ(lb_audit_verify(path, &n, &err), LB_OK);
    ASSERT_EQ(n, 6);
    free(text);
    text = t_read_file(path);
    lines_free(&L);
    split(text, &L);
    char h5[65];
    line_hash(L.l[4], h5);
    snprintf(want, sizeof want, "\"prev\":\"%s\"", h5);
    ASSERT_EQ(strncmp(L.l[5], "{\"seq\":6,", 9), 0);
    ASSERT_CONTAINS(L.l[5], want);
    lines_free(&L);
    free(text);
    free(path);
    t_rmrf(dir);
    free(dir);
}

/* Opening must fail with LB_EFORMAT naming the line, and leave the file alone. */
#define EXPECT_REFUSED(path, lineno)                                            \
    do {                                                                        \
        char *before_ = t_read_file(path);                                      \
        lb_audit *a_ = NULL;                                                    \
        lb_error e_;                                                            \
        char pre_[32];                                                          \
        snprintf(pre_, sizeof pre_, "line %d: ", (lineno));                     \
        ASSERT_EQ(lb_audit_open((path), &a_, &e_), LB_EFORMAT);                 \
        ASSERT(a_ == NULL);                                                     \
        ASSERT_CONTAINS(e_.msg, "does not verify");                             \
        ASSERT_CONTAINS(e_.msg, pre_);                                          \
        ASSERT_CONTAINS(e_.msg, "refusing to append");                          \
        char *after_ = t_read_file(path);                                       \
        ASSERT_STREQ(before_, after_);                                          \
        free(before_);                                                          \
        free(after_);                                                           \
    } while (0)

LB_TEST(test_audit_reopen_tampered_refused)
{
    char *dir = t_tmpdir();
    char *orig = make_log(dir, "orig.log", 8);
    char *p = flip_variant(dir, "edited.log", orig, 6, "\"principal\":\"", 14);
    EXPECT_REFUSED(p, 6);
    free(p);
    char *text = t_read_file(orig);
    lines L;
    split(text, &L);
    L.l[7][strlen(L.l[7]) - 5] = '\0';
    p = write_variant(dir, "trunc.log", &L, orig);
    EXPECT_REFUSED(p, 8);
    free(p);
    L.l[7][0] = '\0';
    p = write_variant(dir, "short.log", &L, orig);
    EXPECT_REFUSED(p, 8);
    free(p);
    lines_free(&L);
    /* emptied log with its head still saying 8 */
    p = write_variant(dir, "emptied.log", &L, orig);
    EXPECT_REFUSED(p, 1);
    free(p);
    /* head missing */
    split(text, &L);
    p = write_variant(dir, "nohead.log", &L, orig);
    char *hp = head_of(p);
    unlink(hp);
    lb_audit *a = NULL;
    lb_error err;
    ASSERT_EQ(lb_audit_open(p, &a, &err), LB_EFORMAT);
    ASSERT_CONTAINS(err.msg, "is missing");
    free(hp);
    free(p);
    lines_free(&L);
    /* the original still opens */
    ASSERT_EQ(lb_audit_open(orig, &a, &err), LB_OK);
    lb_audit_close(a);
    free(text);
    free(orig);
    t_rmrf(dir);
    free(dir);
}

/* --------------------------------------------------------------------- CLI */

LB_TEST(test_cli_token_new)
{
    const char *argv[] = {LB_BINARY, "token", "new", "--principal", "alice", "--roles",
                          "polizei, feuerwehr", "--admin", NULL};
    t_result r = t_run(argv);
    if (r.status != 0)
        LBT__FAIL("exit %d: %s", r.status, r.err);
    char *nl = strchr(r.out, '\n');
    ASSERT(nl != NULL);
    ASSERT_EQ(nl - r.out, LB_TOKEN_LEN);
    ASSERT_EQ(strncmp(r.out, "lbt_", 4), 0);
    char token[LB_TOKEN_LEN + 1], hash[72], want[200];
    memcpy(token, r.out, LB_TOKEN_LEN);
    token[LB_TOKEN_LEN] = '\0';
    lb_token_hash(token, hash);
    snprintf(want, sizeof want,
             "tokens:\n  alice:\n    hash: %s\n    roles: [polizei, feuerwehr]\n"
             "    admin: true\n", hash);
    ASSERT_CONTAINS(r.out, want);
    ASSERT_CONTAINS(r.out, "shown only once");
    t_result_free(&r);

    /* a second token differs; names that need quoting are quoted */
    const char *argv2[] = {LB_BINARY, "token", "new", "--principal=Stab HVB", "-r", "yes",
                           NULL};
    r = t_run(argv2);
    ASSERT_EQ(r.status, 0);
    ASSERT(strncmp(r.out, token, LB_TOKEN_LEN) != 0);
    ASSERT_CONTAINS(r.out, "\n  \"Stab HVB\":\n");
    ASSERT_CONTAINS(r.out, "    roles: [\"yes\"]\n");
    ASSERT(!strstr(r.out, "admin"));
    t_result_free(&r);

    const char *argv3[] = {LB_BINARY, "token", "new", "--roles", "a", NULL};
    r = t_run(argv3);
    ASSERT_EQ(r.status, 2);
    ASSERT_CONTAINS(r.err, "--principal NAME is required");
    t_result_free(&r);
    const char *argv4[] = {LB_BINARY, "token", "new", "--principal", NULL};
    r = t_run(argv4);
    ASSERT_EQ(r.status, 2);
    t_result_free(&r);
    const char *argv5[] = {LB_BINARY, "token", "old", NULL};
    r = t_run(argv5);
    ASSERT_EQ(r.status, 2);
    t_result_free(&r);
    const char *argv6[] = {LB_BINARY, "token", "--help", NULL};
    r = t_run(argv6);
    ASSERT_EQ(r.status, 0);
    ASSERT_CONTAINS(r.out, "lagebild token new --principal NAME");
    t_result_free(&r);
}

LB_TEST(test_cli_token_hash)
{
    const char *argv[] = {LB_BINARY, "token", "hash", "abc", NULL};
    t_result r = t_run(argv);
    ASSERT_EQ(r.status, 0);
    ASSERT_STREQ(r.out,
                 "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n");
    t_result_free(&r);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "printf 'abc\\r\\n' | '%s' token hash -", LB_BINARY);
    const char *sh[] = {"/bin/sh", "-c", cmd, NULL};
    r = t_run(sh);
    ASSERT_EQ(r.status, 0);
    ASSERT_STREQ(r.out,
                 "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n");
    t_result_free(&r);
    const char *empty[] = {LB_BINARY, "token", "hash", "-", NULL}; /* stdin is /dev/null */
    r = t_run(empty);
    ASSERT_EQ(r.status, 2);
    t_result_free(&r);
    const char *none[] = {LB_BINARY, "token", "hash", NULL};
    r = t_run(none);
    ASSERT_EQ(r.status, 2);
    t_result_free(&r);
}

LB_TEST(test_cli_audit_verify)
{
    char *dir = t_tmpdir();
    char *orig = make_log(dir, "audit.log", 10);
    const char *argv[] = {LB_BINARY, "audit", "verify", orig, NULL};
    t_result r = t_run(argv);
    ASSERT_EQ(r.status, 0);
    char want[512];
    snprintf(want, sizeof want, "%s: 10 records, chain intact\n", orig);
    ASSERT_STREQ(r.out, want);
    t_result_free(&r);

    char *text = t_read_file(orig);
    lines L;
    split(text, &L);
    free(L.l[4]);
    memmove(&L.l[4], &L.l[5], 5 * sizeof L.l[0]);
    L.n = 9;
    char *bad = write_variant(dir, "bad.log", &L, orig);
    const char *argv2[] = {LB_BINARY, "audit", "verify", bad, NULL};
    r = t_run(argv2);
    ASSERT_EQ(r.status, 1);
    snprintf(want, sizeof want, "%s: line 5: seq 6 follows 4", bad);
    ASSERT_CONTAINS(r.err, want);
    t_result_free(&r);
    lines_free(&L);

    char *missing = t_path(dir, "nope.log");
    const char *argv3[] = {LB_BINARY, "audit", "verify", missing, NULL};
    r = t_run(argv3);
    ASSERT_EQ(r.status, 1);
    ASSERT_CONTAINS(r.err, "cannot open");
    t_result_free(&r);
    const char *argv4[] = {LB_BINARY, "audit", "verify", NULL};
    r = t_run(argv4);
    ASSERT_EQ(r.status, 2);
    t_result_free(&r);
    const char *argv5[] = {LB_BINARY, "audit", NULL};
    r = t_run(argv5);
    ASSERT_EQ(r.status, 2);
    t_result_free(&r);

    free(missing);
    free(bad);
    free(text);
    free(orig);
    t_rmrf(dir);
    free(dir);
}

LB_TESTS(test_sha256_known_answers, test_token_format_and_uniqueness, test_token_hash_equal,
         test_audit_append_and_verify, test_audit_threads, test_audit_edited_bytes,
         test_audit_removed_inserted_swapped, test_audit_reopen_continues_chain,
         test_audit_reopen_tampered_refused, test_cli_token_new, test_cli_token_hash,
         test_cli_audit_verify)
