/* This file implements the growable buffer, string and path helpers. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lagebild/util.h"

static bool buf_reserve(lb_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void lb_buf_free(lb_buf *b)
{
    free(b->data);
    *b = (lb_buf){0};
}

void lb_buf_reset(lb_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void lb_buf_append(lb_buf *b, const void *p, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void lb_buf_puts(lb_buf *b, const char *s) { lb_buf_append(b, s, strlen(s)); }

void lb_buf_putc(lb_buf *b, char c) { lb_buf_append(b, &c, 1); }

size_t lb_fmt_int(char *out, long long v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    memcpy(out, tmp + i, sizeof tmp - i);
    return sizeof tmp - i;
}

size_t lb_fmt_hex(char *out, unsigned long long v, int width)
{
    char tmp[16];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while (i > 0 && (int)(sizeof tmp - i) < width)
        tmp[--i] = '0';
    memcpy(out, tmp + i, sizeof tmp - i);
    return sizeof tmp - i;
}

void lb_buf_put_int(lb_buf *b, long long v)
{
    char tmp[24];
    lb_buf_append(b, tmp, lb_fmt_int(tmp, v));
}

void lb_buf_put_hex(lb_buf *b, unsigned long long v, int width)
{
    char tmp[16];
    lb_buf_append(b, tmp, lb_fmt_hex(tmp, v, width));
}

void lb_buf_printf(lb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        lb_buf_append(b, tmp, (size_t)n);
        return;
    }
    if (!buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

size_t lb_utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80)
        return c ? 1 : 0; /* NUL is not text either */
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, min = 0x80, cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, min = 0x800, cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, min = 0x10000, cp = c & 0x07u;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void lb_buf_json_str(lb_buf *b, const char *s)
{
    lb_buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *run = p;
    for (; *p; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        lb_buf_append(b, run, (size_t)(p - run));
        switch (c) {
        case '"': lb_buf_puts(b, "\\\""); break;
        case '\\': lb_buf_puts(b, "\\\\"); break;
        case '\n': lb_buf_puts(b, "\\n"); break;
        case '\r': lb_buf_puts(b, "\\r"); break;
        case '\t': lb_buf_puts(b, "\\t"); break;
        default: lb_buf_printf(b, "\\u%04x", c); break;
        }
        run = p + 1;
    }
    lb_buf_append(b, run, (size_t)(p - run));
    lb_buf_putc(b, '"');
}

void lb_buf_json_num(lb_buf *b, double v)
{
    if (!isfinite(v)) {
        lb_buf_puts(b, "null");
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    lb_buf_puts(b, tmp);
}

char *lb_buf_take(lb_buf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    *b = (lb_buf){0};
    return p;
}

char *lb_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

int lb_strcasecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
        if (ca != cb || !ca)
            return ca - cb;
    }
}

char *lb_path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return lb_strdup(".");
    if (slash == path)
        return lb_strdup("/");
    size_t n = (size_t)(slash - path);
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, path, n);
        p[n] = '\0';
    }
    return p;
}

char *lb_path_resolve(const char *base_file, const char *path)
{
    if (!path)
        return NULL;
    if (path[0] == '/' || !base_file)
        return lb_strdup(path);
    char *dir = lb_path_dirname(base_file);
    if (!dir)
        return NULL;
    lb_buf b = {0};
    if (strcmp(dir, ".") != 0) {
        lb_buf_puts(&b, dir);
        lb_buf_putc(&b, '/');
    }
    lb_buf_puts(&b, path);
    free(dir);
    if (b.oom) {
        lb_buf_free(&b);
        return NULL;
    }
    return lb_buf_take(&b);
}

double lb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t lb_thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t lb_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void *lb_pool_take(lb_pool *pool, size_t bytes)
{
    void *p = NULL;
    pthread_mutex_lock(&pool->lock);
    for (int i = pool->n; i-- > 0;)
        if (pool->slot[i].bytes == bytes) {
            p = pool->slot[i].p;
            pool->slot[i] = pool->slot[--pool->n];
            pool->bytes -= bytes;
            break;
        }
    pthread_mutex_unlock(&pool->lock);
    return p;
}

void lb_pool_give(lb_pool *pool, void *buf, size_t bytes)
{
    if (!buf)
        return;
    pthread_mutex_lock(&pool->lock);
    if (pool->n < pool->max_n && pool->n < LB_POOL_SLOTS &&
        pool->bytes + bytes <= pool->max_bytes) {
        pool->slot[pool->n].p = buf;
        pool->slot[pool->n++].bytes = bytes;
        pool->bytes += bytes;
        buf = NULL;
    }
    pthread_mutex_unlock(&pool->lock);
    free(buf);
}

void lb_pool_drain(lb_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    while (pool->n > 0)
        free(pool->slot[--pool->n].p);
    pool->bytes = 0;
    pthread_mutex_unlock(&pool->lock);
}

double lb_ring_area(const double *xy, size_t n)
{
    double a = 0;
    for (size_t i = 0, j = n - 1; i < n; j = i++)
        a += (xy[2 * j] - xy[2 * i]) * (xy[2 * j + 1] + xy[2 * i + 1]);
    return a * 0.5;
}

void lb_ring_reverse(double *xy, size_t n)
{
    for (size_t i = 0, j = n - 1; n > 0 && i < j; i++, j--) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        xy[2 * i] = xy[2 * j];
        xy[2 * i + 1] = xy[2 * j + 1];
        xy[2 * j] = x;
        xy[2 * j + 1] = y;
    }
}
