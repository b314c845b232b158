/*
 * This file implements the difference of two snapshots of one layer
 * (lb_snapshot_diff): which feature versions the older has that the newer
 * does not, and the other way round.
 *
 * A feature version is a feature of the full-detail level as the renderer
 * reads it: fid, label, member flag and fused label, source, geometry type,
 * parts and vertices, and the kept property values.  Its "look" is the same
 * without the member flag and fused label (what conflation changes of a
 * report that a principal who cannot see the fused feature still sees),
 * plus, for a version reported, the points it is drawn as one with at each
 * level of detail (twins: whether a report joining a cluster leaves its
 * low-zoom point as it was).  Each is reduced to a
 * 64-bit SipHash-2-4 under the caller's key (a secret per server: nobody who
 * pushes data can craft a version that hashes like an older one), the
 * (fid, hash) pairs of each side are sorted, and a merge reports the pairs
 * found on one side only.  Levels of detail are derived from the full level
 * and the drawing order from boxes and fids, so two snapshots whose pairs
 * agree draw the same pixels.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tiler_int.h"
#include "lagebild/util.h"

/* ---- SipHash-2-4 (Aumasson and Bernstein), 64-bit output ----------------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

typedef struct sip {
    uint64_t v0, v1, v2, v3;
    uint64_t tail; /* bytes not yet absorbed, little-endian */
    unsigned ntail;
    uint64_t len;
} sip;

static inline void sip_round(sip *s)
{
    s->v0 += s->v1;
    s->v1 = ROTL(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = ROTL(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = ROTL(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = ROTL(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = ROTL(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = ROTL(s->v2, 32);
}

static inline uint64_t load64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
#endif
}

static void sip_init(sip *s, const uint8_t key[16])
{
    uint64_t k0 = load64(key), k1 = load64(key + 8);
    s->v0 = k0 ^ 0x736f6d6570736575ULL;
    s->v1 = k1 ^ 0x646f72616e646f6dULL;
    s->v2 = k0 ^ 0x6c7967656e657261ULL;
    s->v3 = k1 ^ 0x7465646279746573ULL;
    s->tail = 0;
    s->ntail = 0;
    s->len = 0;
}

static inline void sip_word(sip *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

static void sip_bytes(sip *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    s->len += n;
    while (n && s->ntail) {
        s->tail |= (uint64_t)*p++ << (8 * s->ntail);
        n--;
        if (++s->ntail == 8) {
            sip_word(s, s->tail);
            s->tail = 0;
            s->ntail = 0;
        }
    }
    for (; n >= 8; n -= 8, p += 8)
        sip_word(s, load64(p));
    while (n--)
        s->tail |= (uint64_t)*p++ << (8 * s->ntail++);
}

static uint64_t sip_final(sip *s)
{
    sip_word(s, s->tail | (s->len & 0xff) << 56);
    s->v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        sip_round(s);
    return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

static inline void sip_u64(sip *s, uint64_t v)
{
    if (s->ntail == 0) {
        s->len += 8;
        sip_word(s, v);
        return;
    }
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    sip_bytes(s, b, sizeof b);
}

static void sip_f64(sip *s, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    sip_u64(s, v);
}

static void sip_str(sip *s, const char *str)
{
    if (!str) {
        sip_u64(s, UINT64_MAX);
        return;
    }
    size_t n = strlen(str);
    sip_u64(s, n);
    sip_bytes(s, str, n);
}

/* ---- the difference ------------------------------------------------------ */

/*
 * Strings (sources, property values) come from a snapshot's pool, where
 * equal strings mostly share one pointer: each is hashed once (keyed, so
 * its hash is as hard to collide as the feature's) and its hash fed to the
 * feature's.  Direct-mapped by pointer.
 */
#define STR_SLOTS 1024

typedef struct str_cache {
    const char *p[STR_SLOTS];
    uint64_t h[STR_SLOTS];
} str_cache;

static uint64_t str_hash(str_cache *c, const uint8_t key[16], const char *str)
{
    if (!str)
        return 0;
    size_t i = ((uintptr_t)str >> 3) % STR_SLOTS;
    if (c->p[i] == str)
        return c->h[i];
    sip h;
    sip_init(&h, key);
    sip_str(&h, str);
    c->p[i] = str;
    c->h[i] = sip_final(&h) | 1; /* never 0, the hash of no string */
    return c->h[i];
}

typedef struct version {
    int64_t fid;
    uint64_t hash;
    uint64_t look; /* the hash without the member flag and fused label */
    uint32_t feat; /* index in the full level */
} version;

/* A snapshot's versions, sorted, under one key. */
struct lb_snap_digest {
    uint8_t key[16];
    size_t n;
    version v[];
};

void lb_tiler__digest_free(struct lb_snap_digest *d) { free(d); }

static int cmp_version(const void *a, const void *b)
{
    const version *x = a, *y = b;
    if (x->fid != y->fid)
        return x->fid < y->fid ? -1 : 1;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

static const lb_snap_level *full_level(const lb_snapshot *s)
{
    return s->nlevels ? &s->levels[s->nlevels - 1] : NULL;
}

/* The sorted versions of s's full level under key, made once per snapshot
 * and key (kept for the next comparison, when s is the older side); NULL
 * only when out of memory. */
static struct lb_snap_digest *versions(lb_snapshot *s, const uint8_t key[16], bool *owned)
{
    *owned = false;
    struct lb_snap_digest *d = atomic_load(&s->digest);
    if (d && memcmp(d->key, key, sizeof d->key) == 0)
        return d;
    const lb_snap_level *lv = full_level(s);
    size_t n = lv ? lv->nfeats : 0;
    d = malloc(sizeof *d + (n ? n : 1) * sizeof d->v[0]);
    if (!d)
        return NULL;
    memcpy(d->key, key, sizeof d->key);
    d->n = n;
    version *v = d->v;
    str_cache *sc = calloc(1, sizeof *sc);
    if (!sc) {
        free(d);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const lb_snap_feat *f = &lv->feats[i];
        const lb_feature_info *fi = &s->infos[f->info];
        sip h;
        sip_init(&h, key);
        sip_u64(&h, (uint64_t)fi->fid);
        sip_u64(&h, (uint64_t)fi->label.level);
        sip_u64(&h, fi->label.groups);
        sip_u64(&h, fi->label.caveats);
        sip_u64(&h, str_hash(sc, key, fi->source));
        sip_u64(&h, f->type);
        sip_u64(&h, f->nparts);
        for (uint32_t p = 0; p < f->nparts; p++) {
            const lb_snap_part *part = &lv->parts[f->first_part + p];
            sip_u64(&h, (uint64_t)part->n << 32 | part->poly);
            sip_bytes(&h, lv->xy + 2 * (size_t)part->first, 2 * sizeof(double) * part->n);
        }
        const lb_value *val = s->values + (size_t)f->info * s->nprops;
        for (size_t k = 0; k < s->nprops; k++) {
            sip_u64(&h, (uint64_t)val[k].type);
            if (val[k].type == LB_VAL_STR)
                sip_u64(&h, str_hash(sc, key, val[k].str));
            else
                sip_f64(&h, val[k].num);
        }
        sip look = h;
        sip_u64(&h, fi->member);
        if (fi->member) {
            sip_u64(&h, (uint64_t)fi->fused.level);
            sip_u64(&h, fi->fused.groups);
            sip_u64(&h, fi->fused.caveats);
        }
        v[i] = (version){fi->fid, sip_final(&h), sip_final(&look), (uint32_t)i};
    }
    free(sc);
    qsort(v, n, sizeof *v, cmp_version);
    /* keep it with the snapshot, unless one is kept already: then that one
     * if it is of this key, else this one is the caller's to free */
    struct lb_snap_digest *kept = NULL;
    if (atomic_compare_exchange_strong(&s->digest, &kept, d))
        return d;
    if (memcmp(kept->key, key, sizeof kept->key) == 0) {
        free(d);
        return kept;
    }
    *owned = true;
    return d;
}

static bool same_props(const lb_snapshot *a, const lb_snapshot *b)
{
    if (a->nprops != b->nprops)
        return false;
    for (size_t k = 0; k < a->nprops; k++)
        if (strcmp(a->prop_names[k], b->prop_names[k]) != 0)
            return false;
    return true;
}

/* A snapshot's twins (lb_snap_level.twins: pairs of points drawn as one at
 * a level of detail) by the fid merged away, made when a version of it is
 * first reported. */
typedef struct twin_index {
    const lb_snapshot *s;
    int64_t (*by_merged[LB_SNAP_MAX_LEVELS])[2]; /* (merged, kept), sorted */
    bool made, oom;
} twin_index;

static int cmp_pair(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static void twin_index_make(twin_index *t)
{
    t->made = true;
    for (int l = 0; l + 1 < t->s->nlevels; l++) {
        const lb_snap_level *lv = &t->s->levels[l];
        if (!lv->ntwins)
            continue;
        int64_t(*v)[2] = malloc(lv->ntwins * sizeof *v);
        if (!v) {
            t->oom = true;
            return;
        }
        for (uint32_t i = 0; i < lv->ntwins; i++) {
            v[i][0] = lv->twins[i][1];
            v[i][1] = lv->twins[i][0];
        }
        qsort(v, lv->ntwins, sizeof *v, cmp_pair);
        t->by_merged[l] = v;
    }
}

static void twin_index_free(twin_index *t)
{
    for (int l = 0; l < LB_SNAP_MAX_LEVELS; l++)
        free(t->by_merged[l]);
}

/* The first pair of v[0..n) whose first fid is >= fid. */
static size_t pair_lower(int64_t (*v)[2], size_t n, int64_t fid)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid][0] < fid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_i64(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    return (*x > *y) - (*x < *y);
}

/* look, and at each level of detail the fids of the points fid is drawn as
 * one with (none: a point of its own); false when out of memory. */
static bool look_with_twins(twin_index *t, const uint8_t key[16], int64_t fid, uint64_t *look)
{
    if (!t->made)
        twin_index_make(t);
    if (t->oom)
        return false;
    sip h;
    sip_init(&h, key);
    sip_u64(&h, *look);
    for (int l = 0; l + 1 < t->s->nlevels; l++) {
        const lb_snap_level *lv = &t->s->levels[l];
        if (!lv->ntwins)
            continue;
        /* the point kept for fid's group, then every fid merged into it */
        int64_t kept = fid;
        size_t k = pair_lower(t->by_merged[l], lv->ntwins, fid);
        if (k < lv->ntwins && t->by_merged[l][k][0] == fid)
            kept = t->by_merged[l][k][1];
        size_t a = pair_lower(lv->twins, lv->ntwins, kept), b = a;
        while (b < lv->ntwins && lv->twins[b][0] == kept)
            b++;
        if (a == b)
            continue; /* a point of its own */
        int64_t *g = malloc((b - a + 1) * sizeof *g);
        if (!g)
            return false;
        g[0] = kept;
        for (size_t i = a; i < b; i++)
            g[1 + i - a] = lv->twins[i][1];
        qsort(g, b - a + 1, sizeof *g, cmp_i64);
        sip_u64(&h, (uint64_t)l);
        sip_u64(&h, b - a + 1);
        for (size_t i = 0; i <= b - a; i++)
            sip_u64(&h, (uint64_t)g[i]);
        free(g);
    }
    *look = sip_final(&h);
    return true;
}

static bool report(twin_index *t, const uint8_t key[16], const version *v, int side,
                   lb_snapshot_change_fn fn, void *ud)
{
    const lb_snapshot *s = t->s;
    const lb_snap_level *lv = full_level(s);
    const lb_snap_feat *f = &lv->feats[v->feat];
    const double box[4] = {f->minx, f->miny, f->maxx, f->maxy};
    uint64_t look = v->look;
    if (!look_with_twins(t, key, v->fid, &look))
        return false;
    fn(ud, side, &s->infos[f->info], box, look);
    return true;
}

lb_status lb_snapshot_diff(lb_snapshot *old, lb_snapshot *cur, const uint8_t key[16],
                           lb_snapshot_change_fn fn, void *ud, lb_error *err)
{
    if (old->base || cur->base)
        return lb_fail(err, LB_EINVAL, "snapshot difference: overlays are not compared");
    if (old->grid != cur->grid || !same_props(old, cur))
        return lb_fail(err, LB_EINVAL,
                       "snapshot difference: the snapshots differ in grid or properties");
    bool own_a, own_b = false;
    struct lb_snap_digest *da = versions(old, key, &own_a),
                          *db = da ? versions(cur, key, &own_b) : NULL;
    if (!da || !db) {
        if (own_a)
            free(da);
        return lb_fail(err, LB_ENOMEM, "out of memory comparing snapshots of '%s'", cur->layer);
    }
    const version *a = da->v, *b = db->v;
    size_t na = da->n, nb = db->n;
    size_t i = 0, j = 0;
    twin_index ta = {.s = old}, tb = {.s = cur};
    bool ok = true;
    while (ok && (i < na || j < nb)) {
        int c = i == na ? 1 : j == nb ? -1 : cmp_version(&a[i], &b[j]);
        if (c == 0) {
            i++;
            j++;
        } else if (c < 0) {
            ok = report(&ta, key, &a[i++], 0, fn, ud);
        } else {
            ok = report(&tb, key, &b[j++], 1, fn, ud);
        }
    }
    twin_index_free(&ta);
    twin_index_free(&tb);
    if (own_a)
        free(da);
    if (own_b)
        free(db);
    if (!ok)
        return lb_fail(err, LB_ENOMEM, "out of memory comparing snapshots of '%s'", cur->layer);
    return LB_OK;
}
