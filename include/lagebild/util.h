/*
 * lagebild — small utilities every module uses: a growable byte buffer,
 * string helpers, path resolution and a monotonic clock.
 */
#ifndef LAGEBILD_UTIL_H
#define LAGEBILD_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lagebild/status.h"

/* A growable, always NUL-terminated byte buffer.  Zero-initialise to use. */
typedef struct lb_buf {
    char *data;
    size_t len;
    size_t cap;
    bool oom; /* set once an allocation failed; further appends are no-ops */
} lb_buf;

void lb_buf_free(lb_buf *b);
void lb_buf_reset(lb_buf *b); /* keeps the allocation */
void lb_buf_append(lb_buf *b, const void *p, size_t n);
void lb_buf_puts(lb_buf *b, const char *s);
void lb_buf_putc(lb_buf *b, char c);
/* Decimal and lower-case hex (zero-padded to width) without printf: the
 * process may load a library (libquadmath, through GDAL) that registers a
 * printf modifier, after which glibc formats every printf on its slow
 * positional path -- 13 % of a cached tile request. */
void lb_buf_put_int(lb_buf *b, long long v);
size_t lb_fmt_int(char *out, long long v);                       /* out: 24 bytes; length */
size_t lb_fmt_hex(char *out, unsigned long long v, int width);   /* out: 16 bytes; length */
void lb_buf_put_hex(lb_buf *b, unsigned long long v, int width);
void lb_buf_printf(lb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal (with quotes and escapes). */
void lb_buf_json_str(lb_buf *b, const char *s);
/* Append a finite double in shortest round-trip form, "null" otherwise. */
void lb_buf_json_num(lb_buf *b, double v);
/* Take the data; the caller owns it and must free() it. Resets b. */
char *lb_buf_take(lb_buf *b);

/* Length (1-4) of the well-formed UTF-8 sequence at p, of at most n bytes
 * (no overlongs, surrogates or code points over U+10FFFF); 0 if there is
 * none there.  NUL is not one either. */
size_t lb_utf8_seq(const unsigned char *p, size_t n);

/* strdup that returns NULL for NULL. */
char *lb_strdup(const char *s);
/* Case-insensitive ASCII comparison. */
int lb_strcasecmp(const char *a, const char *b);

/*
 * Resolve path against the directory of base_file unless it is absolute.
 * Returns a malloc'ed string (caller owns) or NULL on allocation failure.
 */
char *lb_path_resolve(const char *base_file, const char *path);
/* Directory part of a path, malloc'ed ("." when there is none). */
char *lb_path_dirname(const char *path);

/* Seconds from a monotonic clock. */
double lb_now(void);
/* CPU time the calling thread has used, in nanoseconds (0 when unknown). */
uint64_t lb_thread_cpu_ns(void);

/*
 * Large buffers kept between uses (tile canvases and the like: freshly
 * allocated, each would cost page faults and clearing), matched by exact
 * size: at most max_n (<= LB_POOL_SLOTS) buffers and max_bytes in all.
 * Thread-safe.  Define one with LB_POOL_INIT.
 */
#define LB_POOL_SLOTS 32
typedef struct lb_pool {
    pthread_mutex_t lock;
    int max_n;
    size_t max_bytes;
    int n;
    size_t bytes;
    struct {
        void *p;
        size_t bytes;
    } slot[LB_POOL_SLOTS];
} lb_pool;
#define LB_POOL_INIT(max_n, max_bytes) {PTHREAD_MUTEX_INITIALIZER, (max_n), (max_bytes), 0, 0, {{0}}}
/* A kept buffer of exactly bytes (its contents as given back), or NULL. */
void *lb_pool_take(lb_pool *pool, size_t bytes);
/* Keep buf (bytes long) if there is room, else free it. */
void lb_pool_give(lb_pool *pool, void *buf, size_t bytes);
/* Free every kept buffer. */
void lb_pool_drain(lb_pool *pool);

/* 64-bit FNV-1a over bytes, continuing from h (start with LB_FNV_INIT). */
#define LB_FNV_INIT 0xcbf29ce484222325ULL
uint64_t lb_fnv1a(uint64_t h, const void *p, size_t n);

/* Rings of n x, y pairs (not repeating the first point at the end is fine):
 * the signed area (shoelace; positive when counter-clockwise with y up), and
 * the ring reversed in place. */
double lb_ring_area(const double *xy, size_t n);
void lb_ring_reverse(double *xy, size_t n);

#endif
