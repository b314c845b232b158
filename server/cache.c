/*
 * This file implements the tile cache: a byte-budgeted LRU map from a key
 * string to an immutable byte string (a PNG, a layer's packed premultiplied
 * canvas, or the label classes present in a tile).  Keys spell out
 * everything the content depends on (layer revisions, what the principal's
 * rights draw there, grid, tile, scale, state generation) and are compared
 * in full (a hash only picks the bucket, so no
 * hash collision can hand one principal another's tile), so
 * entries never need invalidation for correctness: a new revision or other
 * rights simply produce other keys, and old entries age out.
 *
 * Entries whose key is derived from visible content (server/maps.c) are
 * shared by principals with different rights.  Whether such an entry exists
 * would then tell a principal something about another principal's view
 * (a hit means "somebody whose rights differ from mine sees exactly what I
 * see here"), so each entry remembers what it cost to make and up to
 * LB_CACHE_SEEN "viewers" (hashes of the rights that asked for it).  A get
 * by a viewer not on that list reports the entry's cost, which the caller
 * spends waiting (no CPU) before it answers: a first look at shared content
 * takes as long as making it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define LB_CACHE_SEEN 8

typedef struct entry {
    uint64_t hash;
    char *key;
    lb_blob *blob;
    size_t len;
    uint64_t cost_ns;               /* what making the content took */
    uint64_t seen[LB_CACHE_SEEN];   /* viewers that asked for it (ring, 0 = free) */
    unsigned nseen;                 /* next slot of the ring */
    struct entry *hnext;            /* hash chain */
    struct entry *prev, *next;      /* LRU list, most recent first */
} entry;

struct lb_cache {
    pthread_mutex_t lock;
    entry **buckets;
    size_t nbuckets;
    entry *head, *tail;
    size_t bytes, max_bytes;
};

lb_cache *lb_cache_new(size_t max_bytes)
{
    lb_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->nbuckets = 1 << 16;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    c->max_bytes = max_bytes;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void unlink_lru(lb_cache *c, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(lb_cache *c, entry *e)
{
    e->next = c->head;
    e->prev = NULL;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

static void remove_entry(lb_cache *c, entry *e)
{
    entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    unlink_lru(c, e);
    c->bytes -= e->len + sizeof *e + strlen(e->key);
    lb_blob_unref(e->blob);
    free(e->key);
    free(e);
}

void lb_cache_clear(lb_cache *c)
{
    pthread_mutex_lock(&c->lock);
    while (c->tail)
        remove_entry(c, c->tail);
    pthread_mutex_unlock(&c->lock);
}

void lb_cache_free(lb_cache *c)
{
    if (!c)
        return;
    lb_cache_clear(c);
    pthread_mutex_destroy(&c->lock);
    free(c->buckets);
    free(c);
}

/* Whether viewer has asked for e before; remembers it (caller holds the lock). */
static bool seen_by(entry *e, uint64_t viewer)
{
    for (unsigned i = 0; i < LB_CACHE_SEEN; i++)
        if (e->seen[i] == viewer)
            return true;
    e->seen[e->nseen] = viewer;
    e->nseen = (e->nseen + 1) % LB_CACHE_SEEN;
    return false;
}

lb_blob *lb_blob_new(size_t len)
{
    lb_blob *b = malloc(sizeof *b + (len ? len : 1));
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    b->data = (uint8_t *)(b + 1);
    return b;
}

lb_blob *lb_blob_adopt(uint8_t *data, size_t len)
{
    lb_blob *b = malloc(sizeof *b);
    if (!b) {
        free(data);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->len = len;
    b->data = data;
    return b;
}

void lb_blob_unref(lb_blob *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
        if (b->data != (uint8_t *)(b + 1))
            free(b->data);
        free(b);
    }
}

lb_blob *lb_cache_get_blob(lb_cache *c, const char *key, uint64_t viewer, uint64_t *cost_ns,
                           bool *first_look)
{
    if (cost_ns)
        *cost_ns = 0;
    if (first_look)
        *first_look = false;
    lb_blob *b = NULL;
    uint64_t h = lb_fnv1a(LB_FNV_INIT, key, strlen(key));
    pthread_mutex_lock(&c->lock);
    for (entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext) {
        if (e->hash != h || strcmp(e->key, key) != 0)
            continue;
        b = e->blob;
        atomic_fetch_add(&b->refs, 1);
        if (cost_ns)
            *cost_ns = e->cost_ns;
        if (viewer && !seen_by(e, viewer) && first_look)
            *first_look = true;
        unlink_lru(c, e);
        push_front(c, e);
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return b;
}

void lb_cache_put_blob(lb_cache *c, const char *key, lb_blob *b, uint64_t viewer,
                       uint64_t cost_ns)
{
    if (!b || b->len + sizeof(entry) > c->max_bytes / 4)
        return; /* never let one entry evict a large part of the cache */
    entry *e = malloc(sizeof *e);
    char *k = lb_strdup(key);
    if (!e || !k) {
        free(e);
        free(k);
        return;
    }
    atomic_fetch_add(&b->refs, 1);
    uint64_t h = lb_fnv1a(LB_FNV_INIT, key, strlen(key));
    *e = (entry){.hash = h, .key = k, .blob = b, .len = b->len, .cost_ns = cost_ns};
    if (viewer) {
        e->seen[0] = viewer;
        e->nseen = 1;
    }
    pthread_mutex_lock(&c->lock);
    for (entry *o = c->buckets[h & (c->nbuckets - 1)]; o; o = o->hnext)
        if (o->hash == h && strcmp(o->key, key) == 0) {
            remove_entry(c, o);
            break;
        }
    entry **bk = &c->buckets[h & (c->nbuckets - 1)];
    e->hnext = *bk;
    *bk = e;
    push_front(c, e);
    c->bytes += e->len + sizeof *e + strlen(k);
    while (c->bytes > c->max_bytes && c->tail)
        remove_entry(c, c->tail);
    pthread_mutex_unlock(&c->lock);
}

uint8_t *lb_cache_get(lb_cache *c, const char *key, size_t *len)
{
    return lb_cache_get_as(c, key, len, 0, NULL, NULL);
}

uint8_t *lb_cache_get_as(lb_cache *c, const char *key, size_t *len, uint64_t viewer,
                         uint64_t *cost_ns, bool *first_look)
{
    lb_blob *b = lb_cache_get_blob(c, key, viewer, cost_ns, first_look);
    if (!b)
        return NULL;
    uint8_t *copy = malloc(b->len ? b->len : 1);
    if (copy) {
        memcpy(copy, b->data, b->len);
        *len = b->len;
    }
    lb_blob_unref(b);
    return copy;
}

void lb_cache_put(lb_cache *c, const char *key, const uint8_t *data, size_t len)
{
    lb_cache_put_as(c, key, data, len, 0, 0);
}

void lb_cache_put_as(lb_cache *c, const char *key, const uint8_t *data, size_t len,
                     uint64_t viewer, uint64_t cost_ns)
{
    if (len + sizeof(entry) > c->max_bytes / 4)
        return;
    lb_blob *b = lb_blob_new(len);
    if (!b)
        return;
    memcpy(b->data, data, len);
    lb_cache_put_blob(c, key, b, viewer, cost_ns);
    lb_blob_unref(b);
}

size_t lb_cache_bytes(lb_cache *c)
{
    pthread_mutex_lock(&c->lock);
    size_t b = c->bytes;
    pthread_mutex_unlock(&c->lock);
    return b;
}
