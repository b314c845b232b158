/*
 * This file implements conflation: reports of one real-world thing from
 * several sources of a layer become one fused feature (docs/store.md,
 * docs/decisions.md "Conflation").
 *
 * Reports and links.  A report is a row of a layer whose `kind` is set.  Two
 * reports are linked when they have the same kind, come from different
 * sources, their centres (centre of the bounding box; the point itself for
 * points) lie within distance_m of each other (great-circle distance) and,
 * when the layer has a time_window, both have observed_at and those lie
 * within the window.
 *
 * Clusters (greedy, deterministic).  Reports are visited in the order
 * (accuracy_m ascending, missing accuracy last; fid ascending).  An
 * unassigned report becomes a seed; its linked, unassigned reports join it
 * in the same order when their source is not yet in the cluster (a source
 * does not duplicate itself) and their label is compatible with the
 * cluster's.  A cluster of two or more reports is a fused feature: geometry
 * and fields of the seed (the most accurate report), the most restrictive
 * label of all members, and the provenance of every member.
 *
 * Most restrictive label: highest level, union of caveats, intersection of
 * releasable-to groups (an empty list means "unrestricted" and is neutral).
 * Two restricted lists with no common group cannot be combined into one
 * label that only roles cleared for both reports pass, so such a report does
 * not join (the reports stay separate features, each under its own label).
 * A label naming a group or caveat the config no longer declares never joins.
 *
 * Locality.  Only linked reports influence each other, so the clustering of
 * a set of reports closed under links (every report linked to a member is a
 * member) and under old cluster membership is exactly the restriction of the
 * clustering of the whole layer.  lb_conflate_region grows such a set from
 * the changed boxes with the layer's R*Tree and the centres of the old fused
 * features, deletes the old clusters it touched and writes the new ones.
 *
 * Storage (inside the caller's transaction):
 *   lb_conflation(layer, fused_fid, member_fid, source, source_fid)
 *   lb_fused(layer, fid, seed_fid, label..., reports JSON, cx, cy)
 * lb_store_scan_layer yields each fused feature once and the members flagged
 * with the fused label (shown only to whom the fused feature is not).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fusion_int.h"
#include "lagebild/util.h"

#define EARTH_R 6371008.8
#define M_PER_DEG (EARTH_R * M_PI / 180.0)

typedef struct rep {
    int64_t fid;
    char *source, *source_fid, *kind;
    double x, y;     /* centre, lon/lat */
    double t;        /* observed_at, seconds since 1970 (NAN: none) */
    double acc;      /* accuracy_m (INFINITY: none) */
    lb_label label;
    bool label_ok;   /* every group and caveat name is declared */
    int64_t cell;    /* grid cell key */
    int cluster;     /* index of the seed, -1 unassigned */
} rep;

typedef struct reps {
    rep *v;
    size_t n, cap;
    /* fid -> index (open addressing), for de-duplicating loads */
    int64_t *hkey;
    size_t *hidx;
    size_t hcap;
} reps;

typedef struct conf {
    lb_store *st;
    const lb_config *cfg;
    const lb_layer_cfg *L;
    double dist, window;
    double cell_lat, cell_lon; /* grid cell size in degrees */
} conf;

/* ---- small helpers ---------------------------------------------------- */

static double haversine(double lon1, double lat1, double lon2, double lat2)
{
    double p1 = lat1 * M_PI / 180, p2 = lat2 * M_PI / 180;
    double dp = p2 - p1, dl = (lon2 - lon1) * M_PI / 180;
    double a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
    return 2 * EARTH_R * asin(fmin(1.0, sqrt(a)));
}

static long long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/*
 * ISO 8601 as the ingest stores it: YYYY-MM-DD[Thh:mm[:ss[.f]]][Z|+hh[:mm]]
 * (no zone: UTC).  NAN when it does not parse.
 */
static double parse_time(const char *s)
{
    int y, mo, d, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return NAN;
    double t = (double)days_from_civil(y, mo, d) * 86400.0;
    s += n;
    if (!*s)
        return t;
    if (*s != 'T' && *s != ' ')
        return NAN;
    int h, mi;
    if (sscanf(s + 1, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5)
        return NAN;
    t += h * 3600.0 + mi * 60.0;
    s += 1 + n;
    if (*s == ':') {
        char *end;
        double sec = strtod(s + 1, &end);
        if (end == s + 1)
            return NAN;
        t += sec;
        s = end;
    }
    if (*s == '+' || *s == '-') {
        int oh = 0, om = 0;
        if (sscanf(s + 1, "%2d:%2d", &oh, &om) < 1 && sscanf(s + 1, "%2d%2d", &oh, &om) < 1)
            return NAN;
        double off = oh * 3600.0 + om * 60.0;
        t += *s == '+' ? -off : off;
    } else if (*s && *s != 'Z') {
        return NAN;
    }
    return t;
}

/* Decode a stored comma-separated list of names; false if one is unknown. */
static bool decode_names(const lb_config *cfg, const char *s, bool groups, uint64_t *out)
{
    *out = 0;
    while (s && *s) {
        const char *q = strchr(s, ',');
        size_t n = q ? (size_t)(q - s) : strlen(s);
        char name[128];
        if (n >= sizeof name)
            return false;
        memcpy(name, s, n);
        name[n] = '\0';
        int idx = groups ? lb_config_group_index(cfg, name) : lb_config_caveat_index(cfg, name);
        if (idx < 0)
            return false;
        *out |= 1ULL << idx;
        s = q ? q + 1 : NULL;
    }
    return true;
}

/* The fused feature's stable id (53 bits, never 0). */
static int64_t fused_fid(int64_t seed)
{
    uint64_t h = lb_fnv1a(LB_FNV_INIT, "lb:conflated\x1f", 13);
    h = lb_fnv1a(h, &seed, sizeof seed);
    h &= (1ULL << 53) - 1;
    return (int64_t)(h ? h : 1);
}

/* Grid cell keys ordered by column, then row: the rows cy-1..cy+1 of one
 * column are contiguous in a sorted array. */
static int64_t cell_of(int64_t cx, int64_t cy)
{
    return (int64_t)(((uint64_t)(cx + 0x40000000) << 32) | (uint64_t)(cy + 0x40000000));
}

static int64_t cell_key(const conf *c, double x, double y)
{
    return cell_of((int64_t)floor(x / c->cell_lon), (int64_t)floor(y / c->cell_lat));
}

static bool linked(const conf *c, const rep *a, const rep *b)
{
    if (strcmp(a->source, b->source) == 0 || strcmp(a->kind, b->kind) != 0)
        return false;
    if (c->window > 0 && (isnan(a->t) || isnan(b->t) || fabs(a->t - b->t) > c->window))
        return false;
    return haversine(a->x, a->y, b->x, b->y) <= c->dist;
}

static void reps_free(reps *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].source);
        free(r->v[i].source_fid);
        free(r->v[i].kind);
    }
    free(r->v);
    free(r->hkey);
    free(r->hidx);
    memset(r, 0, sizeof *r);
}

static size_t hslot(int64_t fid, size_t cap)
{
    return (size_t)(((uint64_t)fid * 0x9E3779B97F4A7C15ULL) >> 20) & (cap - 1);
}

/* Index of fid in r, or (size_t)-1. */
static size_t reps_find(const reps *r, int64_t fid)
{
    if (!r->hcap)
        return (size_t)-1;
    for (size_t s = hslot(fid, r->hcap);; s = (s + 1) & (r->hcap - 1)) {
        if (r->hkey[s] == 0)
            return (size_t)-1;
        if (r->hkey[s] == fid)
            return r->hidx[s];
    }
}

static bool reps_index(reps *r, int64_t fid, size_t idx)
{
    if ((r->n + 1) * 2 > r->hcap) {
        size_t nc = r->hcap ? r->hcap * 2 : 1024;
        while ((r->n + 1) * 2 > nc)
            nc *= 2;
        int64_t *nk = calloc(nc, sizeof *nk);
        size_t *ni = malloc(nc * sizeof *ni);
        if (!nk || !ni) {
            free(nk);
            free(ni);
            return false;
        }
        for (size_t s = 0; s < r->hcap; s++) {
            if (!r->hkey[s])
                continue;
            size_t t = hslot(r->hkey[s], nc);
            while (nk[t])
                t = (t + 1) & (nc - 1);
            nk[t] = r->hkey[s];
            ni[t] = r->hidx[s];
        }
        free(r->hkey);
        free(r->hidx);
        r->hkey = nk;
        r->hidx = ni;
        r->hcap = nc;
    }
    size_t s = hslot(fid, r->hcap);
    while (r->hkey[s])
        s = (s + 1) & (r->hcap - 1);
    r->hkey[s] = fid;
    r->hidx[s] = idx;
    return true;
}

/* ---- loading reports -------------------------------------------------- */

#define REP_COLUMNS                                                                    \
    "fid, source, source_fid, kind, observed_at, accuracy_m, label_level, releasable_to," \
    " caveats, MbrMinX(geom), MbrMinY(geom), MbrMaxX(geom), MbrMaxY(geom)"

/*
 * Add the row of q (REP_COLUMNS) unless already loaded, has no kind or
 * geometry, or (when only_linked is given) is not linked to only_linked.
 */
static bool linked(const conf *c, const rep *a, const rep *b);

static bool add_row(const conf *c, reps *r, sqlite3_stmt *q, const rep *only_linked)
{
    int64_t fid = sqlite3_column_int64(q, 0);
    if (sqlite3_column_type(q, 3) == SQLITE_NULL || sqlite3_column_type(q, 9) == SQLITE_NULL ||
        reps_find(r, fid) != (size_t)-1)
        return true;
    rep p = {.fid = fid, .cluster = -1};
    p.kind = (char *)sqlite3_column_text(q, 3);
    p.source = (char *)sqlite3_column_text(q, 1);
    p.t = parse_time((const char *)sqlite3_column_text(q, 4));
    p.x = (sqlite3_column_double(q, 9) + sqlite3_column_double(q, 11)) / 2;
    p.y = (sqlite3_column_double(q, 10) + sqlite3_column_double(q, 12)) / 2;
    if (only_linked && !linked(c, only_linked, &p))
        return true;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 256;
        rep *nv = realloc(r->v, nc * sizeof *nv);
        if (!nv)
            return false;
        r->v = nv;
        r->cap = nc;
    }
    p.source = lb_strdup((const char *)sqlite3_column_text(q, 1));
    p.source_fid = lb_strdup((const char *)sqlite3_column_text(q, 2));
    p.kind = lb_strdup((const char *)sqlite3_column_text(q, 3));
    if (!p.source || !p.source_fid || !p.kind) {
        free(p.source);
        free(p.source_fid);
        free(p.kind);
        return false;
    }
    p.acc = sqlite3_column_type(q, 5) == SQLITE_NULL ? INFINITY : sqlite3_column_double(q, 5);
    if (isnan(p.acc))
        p.acc = INFINITY;
    p.label.level = (lb_level)sqlite3_column_int(q, 6);
    p.label_ok = decode_names(c->cfg, (const char *)sqlite3_column_text(q, 7), true,
                              &p.label.groups) &&
                 decode_names(c->cfg, (const char *)sqlite3_column_text(q, 8), false,
                              &p.label.caveats) &&
                 lb_level_name(p.label.level) != NULL;
    if (!reps_index(r, fid, r->n)) {
        free(p.source);
        free(p.source_fid);
        free(p.kind);
        return false;
    }
    r->v[r->n++] = p;
    return true;
}

static lb_status sql_fail(const conf *c, lb_error *err)
{
    return lb_fail(err, LB_ESTORE, "store %s: conflating layer '%s': %s", c->st->path, c->L->id,
                   sqlite3_errmsg(c->st->db));
}

static lb_status prep(const conf *c, const char *sql, sqlite3_stmt **q, lb_error *err)
{
    if (!sql)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    if (sqlite3_prepare_v2(c->st->db, sql, -1, q, NULL) != SQLITE_OK)
        return sql_fail(c, err);
    return LB_OK;
}

/* ---- clustering ------------------------------------------------------- */

typedef struct cellent {
    int64_t cell;
    size_t idx;
} cellent;

static int cmp_cellent(const void *a, const void *b)
{
    const cellent *x = a, *y = b;
    if (x->cell != y->cell)
        return x->cell < y->cell ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Visiting order (accuracy, then fid), with the keys copied: qsort has no
 * user data, and conflation may run in several threads at once. */
typedef struct ordkey {
    double acc;
    int64_t fid;
    size_t idx;
} ordkey;

static int cmp_ordkey(const void *a, const void *b)
{
    const ordkey *x = a, *y = b;
    if (x->acc != y->acc)
        return x->acc < y->acc ? -1 : 1;
    return x->fid < y->fid ? -1 : x->fid > y->fid;
}

static ordkey key_of(const reps *r, size_t i)
{
    return (ordkey){r->v[i].acc, r->v[i].fid, i};
}

static bool combine(lb_label *acc, const rep *m)
{
    if (!m->label_ok)
        return false;
    uint64_t g;
    if (!acc->groups)
        g = m->label.groups;
    else if (!m->label.groups)
        g = acc->groups;
    else if (!(g = acc->groups & m->label.groups))
        return false;
    acc->groups = g;
    acc->caveats |= m->label.caveats;
    if (m->label.level > acc->level)
        acc->level = m->label.level;
    return true;
}

/* One fused cluster: members (seed first) and label. */
typedef struct cluster {
    size_t first, n; /* into the members array */
    lb_label label;
} cluster;

typedef struct clustering {
    size_t *members;
    size_t nmembers;
    cluster *v;
    size_t n;
} clustering;

static void clustering_free(clustering *k)
{
    free(k->members);
    free(k->v);
    memset(k, 0, sizeof *k);
}

static lb_status cluster_reps(const conf *c0, reps *r, clustering *out, lb_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = r->n;
    if (n < 2)
        return LB_OK;
    /* grid cells at least distance_m wide at the latitude of the report
     * farthest from the equator (narrower cells: fewer candidates) */
    conf cc = *c0;
    const conf *c = &cc;
    double maxlat = 0;
    for (size_t i = 0; i < n; i++)
        maxlat = fmax(maxlat, fabs(r->v[i].y));
    maxlat = fmin(89.0, maxlat + cc.cell_lat);
    cc.cell_lon = cc.dist / (M_PER_DEG * cos(maxlat * M_PI / 180)) * 1.001;
    /* cells no smaller than 1e-6 degrees keep cell numbers within 31 bits
     * (larger cells only mean more candidates, never fewer) */
    cc.cell_lat = fmax(cc.cell_lat, 1e-6);
    cc.cell_lon = fmax(cc.cell_lon, 1e-6);
    for (size_t i = 0; i < n; i++)
        r->v[i].cell = cell_key(c, r->v[i].x, r->v[i].y);
    cellent *cells = malloc(n * sizeof *cells);
    ordkey *order = malloc(n * sizeof *order);
    ordkey *cand = malloc(n * sizeof *cand);
    out->members = malloc(n * sizeof *out->members);
    out->v = malloc((n / 2 + 1) * sizeof *out->v);
    if (!cells || !order || !cand || !out->members || !out->v) {
        free(cells);
        free(order);
        free(cand);
        clustering_free(out);
        return lb_fail(err, LB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        cells[i] = (cellent){r->v[i].cell, i};
        order[i] = key_of(r, i);
        r->v[i].cluster = -1;
    }
    qsort(cells, n, sizeof *cells, cmp_cellent);
    qsort(order, n, sizeof *order, cmp_ordkey);
    for (size_t oi = 0; oi < n; oi++) {
        size_t s = order[oi].idx;
        rep *seed = &r->v[s];
        if (seed->cluster >= 0)
            continue;
        seed->cluster = (int)s;
        if (!seed->label_ok)
            continue;
        /* candidates: linked, unassigned reports in the 3x3 cells around */
        size_t nc = 0;
        int64_t cx = (int64_t)floor(seed->x / c->cell_lon), cy = (int64_t)floor(seed->y / c->cell_lat);
        for (int dx = -1; dx <= 1; dx++) {
            int64_t key = cell_of(cx + dx, cy - 1), last = cell_of(cx + dx, cy + 1);
            size_t lo = 0, hi = n;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (cells[mid].cell < key)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            for (size_t k = lo; k < n && cells[k].cell <= last; k++) {
                rep *m = &r->v[cells[k].idx];
                if (m->cluster < 0 && linked(c, seed, m))
                    cand[nc++] = key_of(r, cells[k].idx);
            }
        }
        if (!nc)
            continue;
        qsort(cand, nc, sizeof *cand, cmp_ordkey);
        lb_label lab = seed->label;
        size_t first = out->nmembers;
        out->members[out->nmembers++] = s;
        for (size_t k = 0; k < nc; k++) {
            rep *m = &r->v[cand[k].idx];
            bool dup = false;
            for (size_t j = first; j < out->nmembers && !dup; j++)
                dup = strcmp(r->v[out->members[j]].source, m->source) == 0;
            lb_label trial = lab;
            if (dup || !combine(&trial, m))
                continue;
            lab = trial;
            m->cluster = (int)s;
            out->members[out->nmembers++] = cand[k].idx;
        }
        if (out->nmembers - first < 2) {
            out->nmembers = first;
            continue;
        }
        out->v[out->n++] = (cluster){.first = first, .n = out->nmembers - first, .label = lab};
    }
    free(cells);
    free(order);
    free(cand);
    return LB_OK;
}

/* ---- writing ---------------------------------------------------------- */

typedef struct member_row {
    int64_t member, fused;
    const rep *m;
} member_row;

static int cmp_member_row(const void *a, const void *b)
{
    const member_row *x = a, *y = b;
    return x->member < y->member ? -1 : x->member > y->member;
}

typedef struct fused_row {
    int64_t fid;
    size_t cluster;
} fused_row;

static int cmp_fused_row(const void *a, const void *b)
{
    const fused_row *x = a, *y = b;
    return x->fid < y->fid ? -1 : x->fid > y->fid;
}

static lb_status write_sorted(const conf *c, const reps *r, const clustering *k,
                              const member_row *mr, size_t nm, const fused_row *fr, lb_error *err);

/* Rows go in in key order: the B-trees are appended to, not scattered. */
static lb_status write_clusters(const conf *c, const reps *r, const clustering *k, lb_error *err)
{
    if (!k->n)
        return LB_OK;
    member_row *mr = malloc(k->nmembers * sizeof *mr);
    fused_row *fr = malloc(k->n * sizeof *fr);
    if (!mr || !fr) {
        free(mr);
        free(fr);
        return lb_fail(err, LB_ENOMEM, "out of memory");
    }
    size_t nm = 0;
    for (size_t i = 0; i < k->n; i++) {
        const cluster *cl = &k->v[i];
        int64_t ffid = fused_fid(r->v[k->members[cl->first]].fid);
        fr[i] = (fused_row){ffid, i};
        for (size_t j = 0; j < cl->n; j++) {
            const rep *m = &r->v[k->members[cl->first + j]];
            mr[nm++] = (member_row){m->fid, ffid, m};
        }
    }
    qsort(mr, nm, sizeof *mr, cmp_member_row);
    qsort(fr, k->n, sizeof *fr, cmp_fused_row);
    lb_status rc = write_sorted(c, r, k, mr, nm, fr, err);
    free(mr);
    free(fr);
    return rc;
}

static lb_status write_sorted(const conf *c, const reps *r, const clustering *k,
                              const member_row *mr, size_t nm, const fused_row *fr, lb_error *err)
{
    sqlite3_stmt *qm = NULL, *qf = NULL;
    lb_status rc = prep(c,
                        "INSERT INTO lb_conflation(layer, fused_fid, member_fid, source,"
                        " source_fid) VALUES (?,?,?,?,?)",
                        &qm, err);
    if (rc == LB_OK)
        rc = prep(c,
                  "INSERT INTO lb_fused(layer, fid, seed_fid, label_level, classification,"
                  " releasable_to, caveats, reports, cx, cy) VALUES (?,?,?,?,?,?,?,?,?,?)",
                  &qf, err);
    for (size_t i = 0; rc == LB_OK && i < nm; i++) {
        sqlite3_reset(qm);
        sqlite3_bind_text(qm, 1, c->L->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(qm, 2, mr[i].fused);
        sqlite3_bind_int64(qm, 3, mr[i].member);
        sqlite3_bind_text(qm, 4, mr[i].m->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(qm, 5, mr[i].m->source_fid, -1, SQLITE_STATIC);
        if (sqlite3_step(qm) != SQLITE_DONE)
            rc = sql_fail(c, err);
    }
    lb_buf js = {0};
    char groups[1024], caveats[1024];
    for (size_t i = 0; rc == LB_OK && i < k->n; i++) {
        const cluster *cl = &k->v[fr[i].cluster];
        const rep *seed = &r->v[k->members[cl->first]];
        int64_t ffid = fr[i].fid;
        lb_buf_reset(&js);
        lb_buf_putc(&js, '[');
        for (size_t j = 0; j < cl->n; j++) {
            const rep *m = &r->v[k->members[cl->first + j]];
            lb_buf_printf(&js, "%s{\"source\":", j ? "," : "");
            lb_buf_json_str(&js, m->source);
            lb_buf_puts(&js, ",\"source_fid\":");
            lb_buf_json_str(&js, m->source_fid);
            lb_buf_printf(&js, ",\"fid\":%lld}", (long long)m->fid);
        }
        lb_buf_putc(&js, ']');
        if (js.oom && rc == LB_OK)
            rc = lb_fail(err, LB_ENOMEM, "out of memory");
        if (rc != LB_OK)
            break;
        lb_config_format_groups(c->cfg, cl->label.groups, groups, sizeof groups);
        lb_config_format_caveats(c->cfg, cl->label.caveats, caveats, sizeof caveats);
        sqlite3_reset(qf);
        sqlite3_bind_text(qf, 1, c->L->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(qf, 2, ffid);
        sqlite3_bind_int64(qf, 3, seed->fid);
        sqlite3_bind_int(qf, 4, (int)cl->label.level);
        sqlite3_bind_text(qf, 5, lb_level_name(cl->label.level), -1, SQLITE_STATIC);
        sqlite3_bind_text(qf, 6, groups, -1, SQLITE_STATIC);
        sqlite3_bind_text(qf, 7, caveats, -1, SQLITE_STATIC);
        sqlite3_bind_text(qf, 8, js.data, (int)js.len, SQLITE_STATIC);
        sqlite3_bind_double(qf, 9, seed->x);
        sqlite3_bind_double(qf, 10, seed->y);
        if (sqlite3_step(qf) != SQLITE_DONE)
            rc = sql_fail(c, err);
    }
    lb_buf_free(&js);
    sqlite3_finalize(qm);
    sqlite3_finalize(qf);
    return rc;
}

/* ---- entry points ----------------------------------------------------- */

static bool conf_init(conf *c, lb_store *st, const lb_config *cfg, const char *layer)
{
    memset(c, 0, sizeof *c);
    c->st = st;
    c->cfg = cfg;
    c->L = lb_config_layer(cfg, layer);
    if (!c->L || !(c->L->conflate_distance_m > 0))
        return false;
    c->dist = c->L->conflate_distance_m;
    c->window = c->L->conflate_window_s;
    c->cell_lat = c->dist / M_PER_DEG * 1.001; /* cell_lon: per clustering */
    return true;
}

/* Run body inside the caller's transaction, or in one of its own. */
static lb_status own_txn_begin(lb_store *st, bool *own, lb_error *err)
{
    *own = sqlite3_get_autocommit(st->db) != 0;
    return *own ? lb_store__begin(st, err) : LB_OK;
}

static lb_status own_txn_end(lb_store *st, bool own, lb_status rc, lb_error *err)
{
    if (!own)
        return rc;
    if (rc == LB_OK)
        return lb_store__commit(st, err);
    lb_store__rollback(st);
    return rc;
}

static lb_status clear_layer(lb_store *st, const char *layer, lb_error *err);

static lb_status conflate_all(const conf *c, lb_error *err)
{
    lb_status rc = clear_layer(c->st, c->L->id, err);
    if (rc != LB_OK)
        return rc;
    char *sql = sqlite3_mprintf("SELECT " REP_COLUMNS " FROM \"%w\" WHERE kind IS NOT NULL",
                                c->L->id);
    sqlite3_stmt *q = NULL;
    rc = prep(c, sql, &q, err);
    sqlite3_free(sql);
    reps r = {0};
    int s;
    while (rc == LB_OK && (s = sqlite3_step(q)) == SQLITE_ROW)
        if (!add_row(c, &r, q, NULL))
            rc = lb_fail(err, LB_ENOMEM, "out of memory");
    if (rc == LB_OK && s != SQLITE_DONE)
        rc = sql_fail(c, err);
    sqlite3_finalize(q);
    clustering k = {0};
    if (rc == LB_OK)
        rc = cluster_reps(c, &r, &k, err);
    if (rc == LB_OK)
        rc = write_clusters(c, &r, &k, err);
    clustering_free(&k);
    reps_free(&r);
    return rc;
}

/* A layer without conflate: (any more): no fused features, no hidden reports. */
static lb_status clear_layer(lb_store *st, const char *layer, lb_error *err)
{
    char *del = sqlite3_mprintf("DELETE FROM lb_conflation WHERE layer=%Q;"
                                "DELETE FROM lb_fused WHERE layer=%Q;",
                                layer, layer);
    lb_status rc = del ? lb_store__exec(st, del, err) : lb_fail(err, LB_ENOMEM, "out of memory");
    sqlite3_free(del);
    return rc;
}

lb_status lb_conflate_layer(lb_store *st, const lb_config *cfg, const char *layer, lb_error *err)
{
    conf c;
    if (!conf_init(&c, st, cfg, layer)) {
        bool own;
        lb_status rc = own_txn_begin(st, &own, err);
        if (rc == LB_OK)
            rc = clear_layer(st, layer, err);
        return own_txn_end(st, own, rc, err);
    }
    bool own;
    lb_status rc = own_txn_begin(st, &own, err);
    if (rc != LB_OK)
        return rc;
    rc = lb_store__ensure_layer(st, layer, err);
    if (rc == LB_OK)
        rc = conflate_all(&c, err);
    return own_txn_end(st, own, rc, err);
}

/* Growing the closed set for lb_conflate_region. */
typedef struct region {
    const conf *c;
    reps r;
    size_t done;            /* reports whose links and cluster were followed */
    int64_t *fused;         /* old clusters to delete */
    size_t nfused, capfused;
    sqlite3_stmt *by_box;   /* layer rows in a box (R*Tree) */
    sqlite3_stmt *fused_in_box, *cluster_of, *members_of;
} region;

static bool box_of(const conf *c, double x0, double y0, double x1, double y1, double out[4])
{
    /* widen by distance_m: degrees of latitude are fixed, of longitude grow
     * towards the poles (use the latitude farthest from the equator) */
    double lat = fmin(89.0, fmax(fabs(y0), fabs(y1)) + c->dist / M_PER_DEG);
    double dlon = c->dist / (M_PER_DEG * cos(lat * M_PI / 180)) * 1.001;
    double dlat = c->dist / M_PER_DEG * 1.001;
    out[0] = x0 - dlon;
    out[1] = y0 - dlat;
    out[2] = x1 + dlon;
    out[3] = y1 + dlat;
    return true;
}

static lb_status step_rows(region *g, sqlite3_stmt *q, const rep *only_linked, lb_error *err)
{
    int s;
    while ((s = sqlite3_step(q)) == SQLITE_ROW)
        if (!add_row(g->c, &g->r, q, only_linked))
            return lb_fail(err, LB_ENOMEM, "out of memory");
    return s == SQLITE_DONE ? LB_OK : sql_fail(g->c, err);
}

static lb_status add_fused(region *g, int64_t ffid, lb_error *err)
{
    for (size_t i = 0; i < g->nfused; i++)
        if (g->fused[i] == ffid)
            return LB_OK;
    if (g->nfused == g->capfused) {
        size_t nc = g->capfused ? g->capfused * 2 : 64;
        int64_t *nv = realloc(g->fused, nc * sizeof *nv);
        if (!nv)
            return lb_fail(err, LB_ENOMEM, "out of memory");
        g->fused = nv;
        g->capfused = nc;
    }
    g->fused[g->nfused++] = ffid;
    /* its members still in the layer join the set */
    sqlite3_stmt *q = g->members_of;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, ffid);
    return step_rows(g, q, NULL, err);
}

static lb_status load_box(region *g, const double b[4], bool fused_too, const rep *only_linked,
                          lb_error *err)
{
    sqlite3_stmt *q = g->by_box;
    sqlite3_reset(q);
    for (int i = 0; i < 4; i++)
        sqlite3_bind_double(q, i + 1, b[i]);
    lb_status rc = step_rows(g, q, only_linked, err);
    if (rc != LB_OK || !fused_too)
        return rc;
    q = g->fused_in_box;
    sqlite3_reset(q);
    for (int i = 0; i < 4; i++)
        sqlite3_bind_double(q, i + 1, b[i]);
    int s;
    size_t n = 0, cap = 0;
    int64_t *found = NULL;
    while ((s = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *nv = realloc(found, cap * sizeof *nv);
            if (!nv) {
                free(found);
                return lb_fail(err, LB_ENOMEM, "out of memory");
            }
            found = nv;
        }
        found[n++] = sqlite3_column_int64(q, 0);
    }
    if (s != SQLITE_DONE)
        rc = sql_fail(g->c, err);
    for (size_t i = 0; rc == LB_OK && i < n; i++)
        rc = add_fused(g, found[i], err);
    free(found);
    return rc;
}

lb_status lb_conflate_region(lb_store *st, const lb_config *cfg, const char *layer,
                             const lb_bbox *boxes, size_t nboxes, lb_error *err)
{
    conf c;
    if (!conf_init(&c, st, cfg, layer))
        return LB_OK;
    bool own;
    lb_status rc = own_txn_begin(st, &own, err);
    if (rc != LB_OK)
        return rc;
    rc = lb_store__ensure_layer(st, layer, err);
    region g = {.c = &c};
    char *sql = sqlite3_mprintf("SELECT " REP_COLUMNS " FROM \"%w\" WHERE rowid IN (SELECT pkid"
                                " FROM \"idx_%w_geom\" WHERE xmax >= ?1 AND ymax >= ?2 AND"
                                " xmin <= ?3 AND ymin <= ?4)",
                                layer, layer);
    if (rc == LB_OK)
        rc = prep(&c, sql, &g.by_box, err);
    sqlite3_free(sql);
    sql = sqlite3_mprintf("SELECT " REP_COLUMNS " FROM \"%w\" WHERE fid IN (SELECT member_fid"
                          " FROM lb_conflation WHERE layer=%Q AND fused_fid=?1)",
                          layer, layer);
    if (rc == LB_OK)
        rc = prep(&c, sql, &g.members_of, err);
    sqlite3_free(sql);
    sql = sqlite3_mprintf("SELECT fid FROM lb_fused WHERE layer=%Q AND cx >= ?1 AND cy >= ?2"
                          " AND cx <= ?3 AND cy <= ?4",
                          layer);
    if (rc == LB_OK)
        rc = prep(&c, sql, &g.fused_in_box, err);
    sqlite3_free(sql);
    sql = sqlite3_mprintf("SELECT fused_fid FROM lb_conflation WHERE layer=%Q AND member_fid=?1",
                          layer);
    if (rc == LB_OK)
        rc = prep(&c, sql, &g.cluster_of, err);
    sqlite3_free(sql);

    /* 1. what lies near the changed boxes (old and new positions) */
    for (size_t i = 0; rc == LB_OK && i < nboxes; i++) {
        double b[4];
        box_of(&c, boxes[i].minx, boxes[i].miny, boxes[i].maxx, boxes[i].maxy, b);
        rc = load_box(&g, b, true, NULL, err);
    }
    /* 2. close the set: every report's old cluster and linked neighbours */
    while (rc == LB_OK && g.done < g.r.n) {
        size_t i = g.done++;
        int64_t fid = g.r.v[i].fid;
        double x = g.r.v[i].x, y = g.r.v[i].y;
        sqlite3_stmt *q = g.cluster_of;
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, fid);
        int s = sqlite3_step(q);
        if (s == SQLITE_ROW) {
            rc = add_fused(&g, sqlite3_column_int64(q, 0), err);
        } else if (s != SQLITE_DONE) {
            rc = sql_fail(&c, err);
        }
        if (rc != LB_OK)
            break;
        /* linked neighbours (only those: others cannot change i's cluster;
         * a neighbour linked to another member is found from that one) */
        double b[4];
        box_of(&c, x, y, x, y, b);
        rep self = g.r.v[i]; /* g.r.v may move while loading */
        rc = load_box(&g, b, false, &self, err);
    }
    /* 3. drop the old clusters touched, write the new ones */
    if (rc == LB_OK && g.nfused) {
        sqlite3_stmt *d1 = NULL, *d2 = NULL;
        rc = prep(&c, "DELETE FROM lb_conflation WHERE layer=?1 AND fused_fid=?2", &d1, err);
        if (rc == LB_OK)
            rc = prep(&c, "DELETE FROM lb_fused WHERE layer=?1 AND fid=?2", &d2, err);
        for (size_t i = 0; rc == LB_OK && i < g.nfused; i++) {
            sqlite3_stmt *d[2] = {d1, d2};
            for (int k = 0; k < 2 && rc == LB_OK; k++) {
                sqlite3_reset(d[k]);
                sqlite3_bind_text(d[k], 1, layer, -1, SQLITE_STATIC);
                sqlite3_bind_int64(d[k], 2, g.fused[i]);
                if (sqlite3_step(d[k]) != SQLITE_DONE)
                    rc = sql_fail(&c, err);
            }
        }
        sqlite3_finalize(d1);
        sqlite3_finalize(d2);
    }
    clustering k = {0};
    if (rc == LB_OK)
        rc = cluster_reps(&c, &g.r, &k, err);
    if (rc == LB_OK)
        rc = write_clusters(&c, &g.r, &k, err);
    clustering_free(&k);
    sqlite3_finalize(g.by_box);
    sqlite3_finalize(g.members_of);
    sqlite3_finalize(g.fused_in_box);
    sqlite3_finalize(g.cluster_of);
    free(g.fused);
    reps_free(&g.r);
    return own_txn_end(st, own, rc, err);
}
