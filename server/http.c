/*
 * This file implements HTTP responses and query parsing for the service.
 * Every response is written whole by lb_http_send, with a fixed set of
 * headers and no Date, so that equal answers are equal bytes (the 404 for
 * "not cleared" and "does not exist" in particular).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>
#include <zlib.h>

#include "server_int.h"

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 422: return "Unprocessable Entity";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

/* Bodies up to this size are sent with their head in one write. */
#define LB_HTTP_ONE_WRITE ((size_t)1 << 20)

void lb_http_cors(const lb_req *r, char buf[LB_HTTP_CORS_MAX])
{
    buf[0] = '\0';
    const char *origin = r->st && r->st->cfg->cors_origin ? r->st->cfg->cors_origin : "*";
    if (strcmp(origin, "none") != 0 && strlen(origin) < 200 && !strpbrk(origin, "\r\n"))
        snprintf(buf, LB_HTTP_CORS_MAX, "Access-Control-Allow-Origin: %s\r\n", origin);
}

size_t lb_http_head(const lb_req *r, int status, const char *ctype, size_t len,
                    const char *extra, char *buf, size_t cap)
{
    char cors[LB_HTTP_CORS_MAX];
    lb_http_cors(r, cors);
    int n = snprintf(buf, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "%s"
                     "Vary: Authorization, Accept-Encoding\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "%s"
                     "\r\n",
                     status, reason(status), ctype ? ctype : "text/plain", len, cors,
                     extra ? extra : "");
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

void lb_http_send(lb_req *r, int status, const char *ctype, const void *body, size_t len,
                  const char *extra)
{
    char head[2048];
    size_t n = lb_http_head(r, status, ctype, len, extra, head, sizeof head);
    if (!n)
        return;
    r->status = status;
    r->bytes = len;
    bool with_body = len && strcmp(r->ri->request_method, "HEAD") != 0;
    /* head and body in one write where the copy is cheap: one send(), so
     * one segment on the wire instead of two (the server sets TCP_NODELAY,
     * so a separate head goes out alone) */
    char *one = with_body && len <= LB_HTTP_ONE_WRITE ? malloc(n + len) : NULL;
    if (one) {
        memcpy(one, head, n);
        memcpy(one + n, body, len);
        mg_write(r->conn, one, n + len);
        free(one);
        return;
    }
    mg_write(r->conn, head, n);
    if (with_body)
        mg_write(r->conn, body, len);
}

bool lb_http_send_whole(lb_req *r, int status, const uint8_t *msg, size_t head_len,
                        size_t body_len)
{
    if (!head_len || strcmp(r->ri->request_method, "HEAD") == 0)
        return false;
    r->status = status;
    r->bytes = body_len;
    mg_write(r->conn, msg, head_len + body_len);
    return true;
}

static const char not_found_body[] = "{\"error\":\"not found\"}\n";

void lb_http_not_found(lb_req *r)
{
    atomic_fetch_add(&r->srv->not_found, 1);
    lb_http_send(r, 404, "application/json", not_found_body, sizeof not_found_body - 1,
                 "Cache-Control: no-store\r\n");
}

void lb_http_unauthorized(lb_req *r)
{
    static const char body[] = "{\"error\":\"missing, malformed, unknown or revoked token\"}\n";
    atomic_fetch_add(&r->srv->unauthorized, 1);
    lb_http_send(r, 401, "application/json", body, sizeof body - 1,
                 "Cache-Control: no-store\r\nWWW-Authenticate: Bearer realm=\"lagebild\"\r\n");
}

void lb_http_error(lb_req *r, int status, const char *msg)
{
    lb_buf b = {0};
    lb_buf_puts(&b, "{\"error\":");
    lb_buf_json_str(&b, msg);
    lb_buf_puts(&b, "}\n");
    if (status >= 500)
        atomic_fetch_add(&r->srv->errors, 1);
    lb_http_send(r, status, "application/json", b.data ? b.data : "", b.len,
                 "Cache-Control: no-store\r\n");
    lb_buf_free(&b);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/*
 * URL-decode src[0..n) into out (NUL-terminated); false when it does not
 * fit, is malformed, or decodes to a NUL (which would cut the value short).
 */
static bool url_decode(const char *src, size_t n, char *out, size_t cap)
{
    if (cap == 0)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= n)
                return false;
            int h = hexval((unsigned char)src[i + 1]), l = hexval((unsigned char)src[i + 2]);
            if (h < 0 || l < 0)
                return false;
            c = (char)(h * 16 + l);
            if (c == '\0')
                return false;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

bool lb_http_query(const lb_req *r, const char *name, char *buf, size_t n)
{
    return lb_kvp_get(r->ri->query_string, name, buf, n);
}

bool lb_kvp_get(const char *q, const char *name, char *buf, size_t n)
{
    if (!q)
        return false;
    size_t nlen = strlen(name);
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t seg = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', seg);
        size_t klen = eq ? (size_t)(eq - q) : seg;
        char key[64];
        if (klen < sizeof key && url_decode(q, klen, key, sizeof key) &&
            strlen(key) == nlen && lb_strcasecmp(key, name) == 0) {
            if (!eq) {
                if (n)
                    buf[0] = '\0';
                return true;
            }
            return url_decode(eq + 1, seg - klen - 1, buf, n);
        }
        q += seg;
        if (*q == '&')
            q++;
    }
    return false;
}

/* gzip body into out; false when compression fails. */
static bool gzip_body(const char *body, size_t len, lb_buf *out)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    size_t cap = deflateBound(&zs, (uLong)len) + 32;
    lb_buf_reset(out);
    lb_buf_append(out, "", 0);
    char *dst = malloc(cap);
    if (!dst) {
        deflateEnd(&zs);
        return false;
    }
    zs.next_in = (Bytef *)body;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)dst;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(dst);
        return false;
    }
    lb_buf_append(out, dst, n);
    free(dst);
    return !out->oom;
}

void lb_http_send_text(lb_req *r, int status, const char *ctype, const char *body, size_t len,
                       const char *extra)
{
    const char *ae = mg_get_header(r->conn, "Accept-Encoding");
    lb_buf z = {0};
    if (ae && strstr(ae, "gzip") && len > 512 && gzip_body(body, len, &z)) {
        lb_buf hdr = {0};
        lb_buf_puts(&hdr, extra ? extra : "");
        lb_buf_puts(&hdr, "Content-Encoding: gzip\r\n");
        lb_http_send(r, status, ctype, z.data, z.len, hdr.data);
        lb_buf_free(&hdr);
    } else {
        lb_http_send(r, status, ctype, body, len, extra);
    }
    lb_buf_free(&z);
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode one path segment; NULL when malformed or when it decodes
 * to something that is not a plain name (a '/', '\', NUL, ".", ".."). */
char *lb_http__decode_segment(const char *p, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '%') {
            if (i + 2 >= n) { /* "%" or "%x" at the end */
                free(out);
                return NULL;
            }
            int hi = hexv(p[i + 1]), lo = hexv(p[i + 2]);
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '/' || c == '\\' || c == '\0') {
            free(out);
            return NULL;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
        free(out);
        return NULL;
    }
    return out;
}

int lb_http_split_path(const char *uri, char **segs, int max)
{
    if (!uri || uri[0] != '/' || strlen(uri) >= 2048)
        return -1;
    int n = 0;
    const char *p = uri + 1;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char *seg = len == 0 || len > 256 || n == max ? NULL : lb_http__decode_segment(p, len);
        if (!seg || (e && !e[1])) {
            /* empty segment ("//"), trailing "/", too long, too many, malformed */
            free(seg);
            while (n > 0)
                free(segs[--n]);
            return -1;
        }
        segs[n++] = seg;
        p += len;
        if (*p == '/')
            p++;
    }
    return n;
}
