/*
 * This file implements the audit log: hash-chained JSON lines appended with
 * one write() each, an in-place head file anchoring the last record, and the
 * verification that names the first bad line.  The format is described in
 * include/lagebild/audit.h and docs/audit.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lagebild/audit.h"
#include "lagebild/util.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define HASH_SEP ",\"hash\":\""
#define HASH_SEP_LEN 9
#define HASH_TAIL_LEN (HASH_SEP_LEN + 64 + 2) /* ,"hash":"<64 hex>"} */
#define HEAD_LEN (20 + 1 + 64 + 1)            /* <seq 20 digits> <64 hex>\n */

struct lb_audit {
    pthread_mutex_t mu;
    char *path;
    char *head_path;
    int fd;      /* the log, O_APPEND, flock'ed */
    int head_fd; /* the head file, rewritten in place with pwrite */
    bool fsync;
    bool broken; /* the file may hold a partial record: refuse further appends */
    uint64_t seq;
    char hash[65];
    off_t size; /* bytes of whole records in the file */
    lb_buf line;
};

/* ---------------------------------------------------------------- helpers */

static bool is_hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static char *head_path_of(const char *path)
{
    size_t n = strlen(path);
    char *p = malloc(n + 6);
    if (p) {
        memcpy(p, path, n);
        memcpy(p + n, ".head", 6);
    }
    return p;
}

typedef enum { HEAD_ABSENT, HEAD_EMPTY, HEAD_OK, HEAD_MALFORMED, HEAD_UNREADABLE } head_state;

typedef struct head {
    head_state state;
    uint64_t seq;
    char hash[65];
    int err; /* errno for HEAD_UNREADABLE */
} head;

static void read_head(const char *head_path, head *h)
{
    memset(h, 0, sizeof *h);
    int fd = open(head_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        h->state = errno == ENOENT ? HEAD_ABSENT : HEAD_UNREADABLE;
        h->err = errno;
        return;
    }
    char buf[HEAD_LEN + 2];
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t r = read(fd, buf + got, sizeof buf - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            h->state = HEAD_UNREADABLE;
            h->err = errno;
            close(fd);
            return;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got == 0) {
        h->state = HEAD_EMPTY;
        return;
    }
    h->state = HEAD_MALFORMED;
    if (got != HEAD_LEN || buf[20] != ' ' || buf[HEAD_LEN - 1] != '\n' || !is_hex64(buf + 21))
        return;
    uint64_t seq = 0;
    for (int i = 0; i < 20; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return;
        unsigned d = (unsigned)(buf[i] - '0');
        if (seq > (UINT64_MAX - d) / 10)
            return;
        seq = seq * 10 + d;
    }
    if (seq == 0 && memcmp(buf + 21, ZERO_HASH, 64) != 0)
        return;
    h->seq = seq;
    memcpy(h->hash, buf + 21, 64);
    h->hash[64] = '\0';
    h->state = HEAD_OK;
}

static void format_head(char out[HEAD_LEN + 1], uint64_t seq, const char *hash)
{
    snprintf(out, HEAD_LEN + 1, "%020" PRIu64 " %s\n", seq, hash);
}

static bool write_all_at(int fd, const char *p, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return false;
        }
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return true;
}

/* ------------------------------------------------------------ verification */

/* Skip a JSON string starting at *p (a '"'), strictly; false if malformed. */
static bool skip_json_string(const char **pp, const char *end)
{
    const char *p = *pp;
    if (p >= end || *p != '"')
        return false;
    for (p++; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *pp = p + 1;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c != '\\')
            continue;
        if (++p >= end)
            return false;
        switch (*p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            break;
        case 'u':
            for (int i = 0; i < 4; i++) {
                if (++p >= end)
                    return false;
                char h = *p;
                if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')))
                    return false;
            }
            break;
        default:
            return false;
        }
    }
    return false;
}

static bool expect(const char **pp, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *pp) < n || memcmp(*pp, lit, n) != 0)
        return false;
    *pp += n;
    return true;
}

/* "2026-11-26T16:00:00.123Z" including the quotes */
static bool is_time_literal(const char *p, const char *end)
{
    static const char pattern[] = "\"dddd-dd-ddTdd:dd:dd.dddZ\"";
    size_t n = sizeof pattern - 1;
    if ((size_t)(end - p) < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (pattern[i] == 'd' ? (p[i] < '0' || p[i] > '9') : p[i] != pattern[i])
            return false;
    }
    return true;
}

/*
 * Check the layout of one line (without its '\n') and its own hash.  Fills
 * seq, prev and hash; returns NULL when good or the reason.
 */
static const char *check_record(const char *line, size_t len, uint64_t *seq, char prev[65],
                                char hash[65])
{
    if (len == 0)
        return "empty line (malformed record)";
    if (len < HASH_TAIL_LEN + 2 || memcmp(line + len - 2, "\"}", 2) != 0 ||
        memcmp(line + len - HASH_TAIL_LEN, HASH_SEP, HASH_SEP_LEN) != 0)
        return "malformed record (it does not end with ,\"hash\":\"<64 hex digits>\"})";
    /* any byte of the stored hash that is not what SHA-256 gives, hex digit
     * or not, is an edit of the hash */
    const char *stored = line + len - 66;
    size_t clen = len - HASH_TAIL_LEN;
    lb_sha256_hex(line, clen, hash);
    if (!hash[0])
        return "cannot compute SHA-256";
    if (memcmp(hash, stored, 64) != 0)
        return "hash mismatch (record edited)";

    /* The hash is right, so the line was written (or forged) as a whole;
     * check that its canonical text has the exact layout. */
    const char *p = line, *end = line + clen;
    if (!expect(&p, end, "{\"seq\":") || p >= end || *p < '1' || *p > '9')
        return "malformed record (seq)";
    uint64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p++ - '0');
        if (v > (UINT64_MAX - d) / 10)
            return "malformed record (seq out of range)";
        v = v * 10 + d;
    }
    if (!expect(&p, end, ",\"time\":") || !is_time_literal(p, end))
        return "malformed record (time)";
    p += 26;
    static const char *const fields[] = {"principal", "role", "resource", "profile", "outcome"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        char key[32];
        snprintf(key, sizeof key, ",\"%s\":", fields[i]);
        if (!expect(&p, end, key) || !skip_json_string(&p, end))
            return "malformed record (text fields)";
    }
    if (!expect(&p, end, ",\"prev\":\"") || end - p != 65 || !is_hex64(p) || p[64] != '"')
        return "malformed record (prev)";
    memcpy(prev, p, 64);
    prev[64] = '\0';
    *seq = v;
    return NULL;
}

typedef struct chain {
    uint64_t records;
    uint64_t seq;   /* of the last good record, 0 before the first */
    char hash[65];  /* of the last good record, zeros before the first */
    off_t size;     /* bytes of good records */
} chain;

/*
 * Verify the log read from f against the head h (read before f was opened,
 * so that a concurrent writer can only have made the log longer).
 */
static lb_status verify_stream(FILE *f, const char *path, const char *head_path, const head *h,
                               chain *c, lb_error *err)
{
    memset(c, 0, sizeof *c);
    memcpy(c->hash, ZERO_HASH, 65);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    lb_status rc = LB_OK;
    bool head_seen = h->state != HEAD_OK || h->seq == 0;
    errno = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        uint64_t lineno = c->records + 1;
        size_t len = (size_t)n;
        if (line[len - 1] != '\n') {
            rc = lb_fail(err, LB_EFORMAT,
                         "line %" PRIu64 ": incomplete last line (truncated: no newline at the "
                         "end of the file)", lineno);
            break;
        }
        len--;
        uint64_t seq = 0;
        char prev[65], hash[65];
        const char *why = check_record(line, len, &seq, prev, hash);
        if (why) {
            rc = lb_fail(err, LB_EFORMAT, "line %" PRIu64 ": %s", lineno, why);
            break;
        }
        if (seq != c->seq + 1) {
            if (c->records == 0)
                rc = lb_fail(err, LB_EFORMAT,
                             "line 1: seq %" PRIu64 ", but a log starts with seq 1 (records "
                             "removed from the start, or reordered)", seq);
            else
                rc = lb_fail(err, LB_EFORMAT, "line %" PRIu64 ": seq %" PRIu64
                             " follows %" PRIu64 " (%s)", lineno, seq, c->seq,
                             seq > c->seq ? "record removed or reordered"
                                          : "record inserted or reordered");
            break;
        }
        if (memcmp(prev, c->hash, 64) != 0) {
            if (c->records == 0)
                rc = lb_fail(err, LB_EFORMAT,
                             "line 1: prev is not 64 zeros although this is the first record "
                             "(records removed from the start)");
            else
                rc = lb_fail(err, LB_EFORMAT, "line %" PRIu64 ": prev does not match line %"
                             PRIu64 "'s hash (record removed, inserted or reordered)",
                             lineno, lineno - 1);
            break;
        }
        if (h->state == HEAD_OK && seq == h->seq) {
            if (memcmp(hash, h->hash, 64) != 0) {
                rc = lb_fail(err, LB_EFORMAT, "line %" PRIu64 ": hash differs from the one "
                             "recorded in %s (records rewritten)", lineno, head_path);
                break;
            }
            head_seen = true;
        }
        c->records++;
        c->seq = seq;
        memcpy(c->hash, hash, 65);
        c->size += (off_t)n;
    }
    if (rc == LB_OK && ferror(f))
        rc = lb_fail(err, LB_EIO, "%s: read error after line %" PRIu64 ": %s", path,
                     c->records, strerror(errno ? errno : EIO));
    free(line);
    if (rc != LB_OK)
        return rc;
    switch (h->state) {
    case HEAD_ABSENT:
        if (c->records > 0)
            return lb_fail(err, LB_EFORMAT, "%s is missing, so records removed from the end "
                           "cannot be ruled out", head_path);
        return LB_OK;
    case HEAD_UNREADABLE:
        return lb_fail(err, LB_EIO, "cannot read %s: %s", head_path, strerror(h->err));
    case HEAD_EMPTY:
    case HEAD_MALFORMED:
        return lb_fail(err, LB_EFORMAT, "%s is %s (expected \"<seq> <hash>\")", head_path,
                       h->state == HEAD_EMPTY ? "empty" : "malformed");
    case HEAD_OK:
        break;
    }
    if (!head_seen)
        return lb_fail(err, LB_EFORMAT, "line %" PRIu64 ": missing: the log ends after line %"
                       PRIu64 " but %s records seq %" PRIu64 " (records removed from the end)",
                       c->records + 1, c->records, head_path, h->seq);
    return LB_OK;
}

lb_status lb_audit_verify(const char *path, uint64_t *records, lb_error *err)
{
    if (records)
        *records = 0;
    if (!path || !*path)
        return lb_fail(err, LB_EINVAL, "no audit log path");
    char *hp = head_path_of(path);
    if (!hp)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    head h;
    read_head(hp, &h); /* before the log: see verify_stream */
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        free(hp);
        return lb_fail(err, e == ENOENT ? LB_ENOENT : LB_EIO, "cannot open %s: %s", path,
                       strerror(e));
    }
    chain c;
    lb_status rc = verify_stream(f, path, hp, &h, &c, err);
    fclose(f);
    free(hp);
    if (records)
        *records = c.records;
    if (rc == LB_OK)
        lb_error_clear(err);
    return rc;
}

/* ------------------------------------------------------------------ writing */

static bool sync_dir_of(const char *path)
{
    char *dir = lb_path_dirname(path);
    if (!dir)
        return false;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0 || errno == EINVAL;
    close(fd);
    return ok;
}

static void audit_free(lb_audit *a)
{
    if (!a)
        return;
    if (a->head_fd >= 0)
        close(a->head_fd);
    if (a->fd >= 0)
        close(a->fd);
    lb_buf_free(&a->line);
    free(a->path);
    free(a->head_path);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

lb_status lb_audit_open(const char *path, lb_audit **out, lb_error *err)
{
    if (out)
        *out = NULL;
    if (!path || !*path || !out)
        return lb_fail(err, LB_EINVAL, "no audit log path");
    lb_audit *a = calloc(1, sizeof *a);
    if (!a)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    a->fd = a->head_fd = -1;
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        free(a);
        return lb_fail(err, LB_EINTERNAL, "cannot create a mutex");
    }
    lb_status rc = LB_OK;
    a->path = lb_strdup(path);
    a->head_path = head_path_of(path);
    if (!a->path || !a->head_path) {
        rc = lb_fail(err, LB_ENOMEM, "out of memory");
        goto fail;
    }
    a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        rc = lb_fail(err, LB_EIO, "cannot open audit log %s: %s", path, strerror(errno));
        goto fail;
    }
    if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            rc = lb_fail(err, LB_EIO, "audit log %s is in use by another writer", path);
        else
            rc = lb_fail(err, LB_EIO, "cannot lock audit log %s: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(a->fd, &sb) != 0) {
        rc = lb_fail(err, LB_EIO, "cannot stat audit log %s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = lb_fail(err, LB_EINVAL, "audit log %s is not a regular file", path);
        goto fail;
    }
    head h;
    read_head(a->head_path, &h);
    bool fresh = sb.st_size == 0 && (h.state == HEAD_ABSENT || h.state == HEAD_EMPTY ||
                                     (h.state == HEAD_OK && h.seq == 0));
    memcpy(a->hash, ZERO_HASH, 65);
    if (!fresh) {
        FILE *f = fopen(path, "re");
        if (!f) {
            rc = lb_fail(err, LB_EIO, "cannot read audit log %s: %s", path, strerror(errno));
            goto fail;
        }
        chain c;
        lb_error verr;
        lb_error_clear(&verr);
        lb_status vrc = verify_stream(f, path, a->head_path, &h, &c, &verr);
        fclose(f);
        if (vrc != LB_OK) {
            rc = lb_fail(err, vrc,
                         "audit log %s does not verify: %s; refusing to append to it (inspect "
                         "it with 'lagebild audit verify', move it and its .head file aside "
                         "and start a new log)", path, verr.msg);
            goto fail;
        }
        a->seq = c.seq;
        memcpy(a->hash, c.hash, 65);
        a->size = c.size;
    }
    a->head_fd = open(a->head_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (a->head_fd < 0) {
        rc = lb_fail(err, LB_EIO, "cannot open %s: %s", a->head_path, strerror(errno));
        goto fail;
    }
    if (fresh || h.seq != a->seq) {
        /* New log (or a head lagging after a crash): anchor the current end. */
        char hb[HEAD_LEN + 1];
        format_head(hb, a->seq, a->hash);
        if (!write_all_at(a->head_fd, hb, HEAD_LEN, 0) || ftruncate(a->head_fd, HEAD_LEN) != 0 ||
            fdatasync(a->head_fd) != 0 || fdatasync(a->fd) != 0 || !sync_dir_of(path)) {
            rc = lb_fail(err, LB_EIO, "cannot write %s: %s", a->head_path, strerror(errno));
            goto fail;
        }
    }
    *out = a;
    return LB_OK;
fail:
    audit_free(a);
    return rc;
}

void lb_audit_set_fsync(lb_audit *a, bool on)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->fsync = on;
    pthread_mutex_unlock(&a->mu);
}

uint64_t lb_audit_records(lb_audit *a)
{
    if (!a)
        return 0;
    pthread_mutex_lock(&a->mu);
    uint64_t n = a->seq;
    pthread_mutex_unlock(&a->mu);
    return n;
}

/* Append s as a JSON string: escapes, and U+FFFD for bytes that are not UTF-8. */
static void json_text(lb_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    lb_buf_putc(b, '"');
    while (*p) {
        unsigned char c = *p;
        if (c < 0x80) {
            switch (c) {
            case '"': lb_buf_puts(b, "\\\""); break;
            case '\\': lb_buf_puts(b, "\\\\"); break;
            case '\n': lb_buf_puts(b, "\\n"); break;
            case '\r': lb_buf_puts(b, "\\r"); break;
            case '\t': lb_buf_puts(b, "\\t"); break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
                    lb_buf_puts(b, u);
                } else {
                    lb_buf_putc(b, (char)c);
                }
            }
            p++;
            continue;
        }
        /* a well-formed UTF-8 sequence?  (at most 4 bytes: a NUL ends a
         * sequence early, so nothing past the string is read) */
        size_t n = lb_utf8_seq(p, 4);
        if (n) {
            lb_buf_append(b, p, n);
            p += n;
        } else {
            lb_buf_puts(b, "\\ufffd");
            p++;
        }
    }
    lb_buf_putc(b, '"');
}

static void utc_now(char out[25])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char date[20];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 25, "%.19s.%03dZ", date, (int)(ts.tv_nsec / 1000000));
}

lb_status lb_audit_append(lb_audit *a, const char *principal, const char *role,
                          const char *resource, const char *profile_key, const char *outcome,
                          lb_error *err)
{
    if (!a)
        return lb_fail(err, LB_EINVAL, "no audit log");
    lb_status rc = LB_OK;
    pthread_mutex_lock(&a->mu);
    if (a->broken) {
        rc = lb_fail(err, LB_EIO, "audit log %s is damaged by an earlier failed write; "
                     "not appending (verify it with 'lagebild audit verify')", a->path);
        goto out;
    }
    char now[25];
    utc_now(now);
    lb_buf *b = &a->line;
    lb_buf_reset(b);
    lb_buf_printf(b, "{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"principal\":", a->seq + 1, now);
    json_text(b, principal);
    lb_buf_puts(b, ",\"role\":");
    json_text(b, role);
    lb_buf_puts(b, ",\"resource\":");
    json_text(b, resource);
    lb_buf_puts(b, ",\"profile\":");
    json_text(b, profile_key);
    lb_buf_puts(b, ",\"outcome\":");
    json_text(b, outcome);
    lb_buf_printf(b, ",\"prev\":\"%s\"", a->hash);
    if (b->oom) {
        rc = lb_fail(err, LB_ENOMEM, "out of memory");
        goto out;
    }
    char hash[65];
    lb_sha256_hex(b->data, b->len, hash);
    if (!hash[0]) {
        rc = lb_fail(err, LB_EINTERNAL, "cannot compute SHA-256");
        goto out;
    }
    lb_buf_printf(b, HASH_SEP "%s\"}\n", hash);
    if (b->oom) {
        rc = lb_fail(err, LB_ENOMEM, "out of memory");
        goto out;
    }

    /* One write() of the whole line.  On a regular file it only comes back
     * short on errors such as a full disk; the rest is then retried (we hold
     * the lock and the mutex, so it still lands right after the first part)
     * and, if that fails, the partial line is cut off again. */
    size_t done = 0;
    int e = 0;
    while (done < b->len) {
        ssize_t w = write(a->fd, b->data + done, b->len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            e = w < 0 ? errno : EIO;
            break;
        }
        done += (size_t)w;
    }
    if (done < b->len) {
        if (done > 0 && ftruncate(a->fd, a->size) != 0)
            a->broken = true;
        rc = lb_fail(err, LB_EIO, "cannot append to audit log %s: %s%s", a->path, strerror(e),
                     a->broken ? " (a partial record remains at its end)" : "");
        goto out;
    }
    if (a->fsync && fdatasync(a->fd) != 0) {
        /* The kernel may have dropped the written data: the file's content is
         * no longer known, so stop chaining onto it. */
        a->broken = true;
        rc = lb_fail(err, LB_EIO, "fdatasync of audit log %s failed: %s", a->path,
                     strerror(errno));
        goto out;
    }
    a->seq++;
    memcpy(a->hash, hash, 65);
    a->size += (off_t)b->len;

    char hb[HEAD_LEN + 1];
    format_head(hb, a->seq, a->hash);
    if (!write_all_at(a->head_fd, hb, HEAD_LEN, 0) || (a->fsync && fdatasync(a->head_fd) != 0))
        rc = lb_fail(err, LB_EIO, "record %" PRIu64 " was written, but updating %s failed: %s",
                     a->seq, a->head_path, strerror(errno));
out:
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void lb_audit_close(lb_audit *a)
{
    audit_free(a);
}
