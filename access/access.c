/*
 * This file implements the access decision: token authentication, per-layer
 * grants of a principal at a time (roles, validity windows, crisis-phase
 * grants, break-glass), the per-feature label check, and loading the roles'
 * area limits with OGR.
 */
#include <math.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "lagebild/access.h"
#include "lagebild/audit.h"
#include "lagebild/util.h"
#include "jwt.h"


typedef struct area {
    double **rings; /* lon/lat pairs */
    size_t *counts;
    size_t nrings;
    unsigned char *wkb; /* the same, as one valid (multi)polygon */
    size_t wkb_len;
    double box[4];      /* its lon/lat box */
} area;

typedef struct breakglass {
    int role;
    char *layer;
    time_t until;
    char *reason;
} breakglass;

typedef struct role_state {
    time_t from, to; /* validity window; 0: open */
    int area;        /* index into areas, -1 */
} role_state;

struct lb_access {
    const lb_config *cfg;
    role_state *roles;
    area *areas;
    size_t nareas;
    pthread_mutex_t lock; /* guards phase and breakglass */
    int phase;
    breakglass *bg;
    size_t nbg, bgcap;
    lb_jwt_key jwt; /* the identity provider's keys (jwt:), n 0: none */
};

/* Parse ISO 8601 date or date-time (Z or +hh:mm) to UTC seconds; -1 on error. */
static time_t parse_time(const char *s)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
        return -1;
    const char *p = s + n;
    int off = 0;
    if (*p == 'T' || *p == ' ') {
        int m = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m) != 2)
            return -1;
        p += 1 + m;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &sec, &m) != 1)
                return -1;
            p += 1 + m;
            if (*p == '.')
                for (p++; *p >= '0' && *p <= '9'; p++)
                    ;
        }
        if (*p == '+' || *p == '-') {
            int oh = 0, om = 0;
            if (sscanf(p + 1, "%2d:%2d", &oh, &om) < 1)
                return -1;
            off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        }
    }
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = sec};
    return timegm(&tm) - off;
}

/* Add a ring, oriented: an exterior counter-clockwise, a hole clockwise.
 * Sources give either orientation; only with holes opposite to their
 * exterior does the mask's non-zero fill (server/maps.c) leave them out. */
static void add_ring(area *ar, OGRGeometryH ring, bool hole)
{
    int n = OGR_G_GetPointCount(ring);
    if (n < 3)
        return;
    double *xy = malloc((size_t)n * 2 * sizeof *xy);
    double **nr = realloc(ar->rings, (ar->nrings + 1) * sizeof *nr);
    size_t *nc = realloc(ar->counts, (ar->nrings + 1) * sizeof *nc);
    if (nr)
        ar->rings = nr;
    if (nc)
        ar->counts = nc;
    if (!xy || !nr || !nc) {
        free(xy);
        return;
    }
    for (int i = 0; i < n; i++) {
        xy[2 * i] = OGR_G_GetX(ring, i);
        xy[2 * i + 1] = OGR_G_GetY(ring, i);
    }
    double a = lb_ring_area(xy, (size_t)n);
    if (hole ? a > 0 : a < 0)
        lb_ring_reverse(xy, (size_t)n);
    ar->rings[ar->nrings] = xy;
    ar->counts[ar->nrings++] = (size_t)n;
}

static void add_polygons(area *ar, OGRGeometryH g)
{
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (t == wkbPolygon) {
        /* OGR's first ring of a polygon is its exterior, the others holes */
        for (int i = 0; i < OGR_G_GetGeometryCount(g); i++)
            add_ring(ar, OGR_G_GetGeometryRef(g, i), i > 0);
    } else if (t == wkbMultiPolygon || t == wkbGeometryCollection) {
        for (int i = 0; i < OGR_G_GetGeometryCount(g); i++)
            add_polygons(ar, OGR_G_GetGeometryRef(g, i));
    }
}

/* Add the polygons of g (a polygon, multipolygon or collection) to the
 * multipolygon mp. */
static void collect_polygons(OGRGeometryH mp, OGRGeometryH g)
{
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (t == wkbPolygon) {
        OGR_G_AddGeometry(mp, g);
    } else if (t == wkbMultiPolygon || t == wkbGeometryCollection) {
        for (int i = 0; i < OGR_G_GetGeometryCount(g); i++)
            collect_polygons(mp, OGR_G_GetGeometryRef(g, i));
    }
}

/*
 * The area's polygons as one valid (multi)polygon: as they are when they
 * already are one, else each made valid and all merged (GEOS, through OGR).
 * Overlapping polygons, or a ring crossing itself, would otherwise count
 * twice where they overlap: the mask's coverage is the integral of the
 * winding number, so a boundary pixel half in such an overlap and half
 * outside would sum to 1 and be kept.  NULL when that fails.
 */
static OGRGeometryH valid_area(OGRGeometryH mp)
{
    if (OGR_G_IsValid(mp))
        return OGR_G_Clone(mp);
    OGRGeometryH parts = OGR_G_CreateGeometry(wkbMultiPolygon);
    for (int i = 0; parts && i < OGR_G_GetGeometryCount(mp); i++) {
        OGRGeometryH p = OGR_G_GetGeometryRef(mp, i);
        if (OGR_G_IsValid(p)) {
            OGR_G_AddGeometry(parts, p);
            continue;
        }
        OGRGeometryH v = OGR_G_MakeValid(p);
        if (v) {
            collect_polygons(parts, v);
            OGR_G_DestroyGeometry(v);
        }
    }
    OGRGeometryH u = parts ? OGR_G_UnionCascaded(parts) : NULL;
    if (parts)
        OGR_G_DestroyGeometry(parts);
    if (u && !OGR_G_IsValid(u)) {
        OGR_G_DestroyGeometry(u);
        u = NULL;
    }
    return u;
}

/* Load the polygons of a role's area source, in EPSG:4326 lon/lat, as one
 * valid (multi)polygon with oriented rings. */
static lb_status load_area(const lb_role_cfg *r, area *ar, lb_error *err)
{
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDatasetH ds = GDALOpenEx(r->area, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    CPLPopErrorHandler();
    if (!ds)
        return lb_fail(err, LB_ENOENT, "role '%s': cannot open area %s", r->id, r->area);
    OGRLayerH lyr = r->area_layer ? GDALDatasetGetLayerByName(ds, r->area_layer)
                                  : GDALDatasetGetLayer(ds, 0);
    lb_status rc = LB_OK;
    OGRSpatialReferenceH dst = OSRNewSpatialReference(NULL), src = NULL;
    OGRCoordinateTransformationH ct = NULL;
    OGRGeometryH all = NULL;
    if (!lyr) {
        rc = lb_fail(err, LB_ENOENT, "role '%s': area %s has no layer %s", r->id, r->area,
                     r->area_layer ? r->area_layer : "");
        goto done;
    }
    OSRSetFromUserInput(dst, "EPSG:4326");
    OSRSetAxisMappingStrategy(dst, OAMS_TRADITIONAL_GIS_ORDER);
    OGRSpatialReferenceH fsrs = OGR_L_GetSpatialRef(lyr);
    if (r->area_crs) {
        src = OSRNewSpatialReference(NULL);
        if (OSRSetFromUserInput(src, r->area_crs) != OGRERR_NONE) {
            rc = lb_fail(err, LB_ECRS, "role '%s': unknown area CRS %s", r->id, r->area_crs);
            goto done;
        }
    } else if (fsrs) {
        src = OSRClone(fsrs);
    } else {
        rc = lb_fail(err, LB_ECRS, "role '%s': area %s declares no CRS (set area.crs)", r->id,
                     r->area);
        goto done;
    }
    OSRSetAxisMappingStrategy(src, OAMS_TRADITIONAL_GIS_ORDER);
    if (!OSRIsSame(src, dst))
        ct = OCTNewCoordinateTransformation(src, dst);
    all = OGR_G_CreateGeometry(wkbMultiPolygon);
    if (!all) {
        rc = lb_fail(err, LB_ENOMEM, "out of memory");
        goto done;
    }
    OGRFeatureH f;
    OGR_L_ResetReading(lyr);
    while ((f = OGR_L_GetNextFeature(lyr)) != NULL) {
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        if (g) {
            OGRGeometryH c = OGR_G_Clone(g);
            OGR_G_FlattenTo2D(c);
            if (!ct || OGR_G_Transform(c, ct) == OGRERR_NONE)
                collect_polygons(all, c);
            OGR_G_DestroyGeometry(c);
        }
        OGR_F_Destroy(f);
    }
    if (OGR_G_GetGeometryCount(all) == 0) {
        rc = lb_fail(err, LB_EGEOM, "role '%s': area %s holds no polygon", r->id, r->area);
        goto done;
    }
    CPLPushErrorHandler(CPLQuietErrorHandler);
    OGRGeometryH v = valid_area(all);
    CPLPopErrorHandler();
    if (!v) {
        rc = lb_fail(err, LB_EGEOM,
                     "role '%s': area %s: its polygons overlap or are invalid and cannot be "
                     "merged",
                     r->id, r->area);
        goto done;
    }
    add_polygons(ar, v);
    OGREnvelope e;
    OGR_G_GetEnvelope(v, &e);
    ar->box[0] = e.MinX, ar->box[1] = e.MinY, ar->box[2] = e.MaxX, ar->box[3] = e.MaxY;
    ar->wkb_len = (size_t)OGR_G_WkbSize(v);
    ar->wkb = malloc(ar->wkb_len ? ar->wkb_len : 1);
    if (!ar->wkb || OGR_G_ExportToWkb(v, wkbNDR, ar->wkb) != OGRERR_NONE) {
        OGR_G_DestroyGeometry(v);
        rc = lb_fail(err, LB_ENOMEM, "out of memory");
        goto done;
    }
    OGR_G_DestroyGeometry(v);
    if (ar->nrings == 0)
        rc = lb_fail(err, LB_EGEOM, "role '%s': area %s holds no polygon", r->id, r->area);
done:
    if (all)
        OGR_G_DestroyGeometry(all);
    if (ct)
        OCTDestroyCoordinateTransformation(ct);
    if (src)
        OSRDestroySpatialReference(src);
    OSRDestroySpatialReference(dst);
    GDALClose(ds);
    return rc;
}

void lb_access_free(lb_access *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nareas; i++) {
        for (size_t r = 0; r < a->areas[i].nrings; r++)
            free(a->areas[i].rings[r]);
        free(a->areas[i].rings);
        free(a->areas[i].counts);
        free(a->areas[i].wkb);
    }
    for (size_t i = 0; i < a->nbg; i++) {
        free(a->bg[i].layer);
        free(a->bg[i].reason);
    }
    free(a->bg);
    lb__jwt_key_free(&a->jwt);
    free(a->areas);
    free(a->roles);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

lb_status lb_access_new(const lb_config *cfg, lb_access **out, lb_error *err)
{
    lb_access *a = calloc(1, sizeof *a);
    if (!a)
        return lb_fail(err, LB_ENOMEM, "out of memory");
    pthread_mutex_init(&a->lock, NULL);
    a->cfg = cfg;
    a->phase = cfg->phase;
    a->roles = calloc(cfg->nroles ? cfg->nroles : 1, sizeof *a->roles);
    a->areas = calloc(cfg->nroles ? cfg->nroles : 1, sizeof *a->areas);
    if (!a->roles || !a->areas) {
        lb_access_free(a);
        return lb_fail(err, LB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < cfg->nroles; i++) {
        const lb_role_cfg *r = &cfg->roles[i];
        role_state *rs = &a->roles[i];
        rs->from = r->valid_from ? parse_time(r->valid_from) : 0;
        rs->to = r->valid_to ? parse_time(r->valid_to) : 0;
        rs->area = -1;
        if (r->area) {
            if (a->nareas >= 64) {
                lb_access_free(a);
                return lb_fail(err, LB_ECONFIG, "more than 64 area limits");
            }
            lb_status rc = load_area(r, &a->areas[a->nareas], err);
            if (rc != LB_OK) {
                a->nareas++; /* free what was loaded */
                lb_access_free(a);
                return rc;
            }
            rs->area = (int)a->nareas++;
        }
    }
    if (cfg->jwt.key_path) {
        lb_status rc = lb__jwt_key_load(cfg->jwt.key_path, &a->jwt, err);
        if (rc != LB_OK) {
            lb_access_free(a);
            return rc;
        }
    }
    *out = a;
    return LB_OK;
}

bool lb_access_has_jwt(const lb_access *a) { return a && a->jwt.n > 0; }

lb_status lb_access_authenticate_jwt(const lb_access *a, const char *token, time_t now,
                                     lb_token_cfg **out, lb_error *err)
{
    return lb__jwt_verify(&a->jwt, a->cfg, token, now, out, err);
}

const lb_token_cfg *lb_access_authenticate(const lb_access *a, const char *token)
{
    if (!token || !*token || strlen(token) > 256)
        return NULL;
    char h[72];
    lb_token_hash(token, h);
    const lb_token_cfg *found = NULL;
    /* compare with every hash, no early exit: timing does not depend on which */
    for (size_t i = 0; i < a->cfg->ntokens; i++) {
        const lb_token_cfg *t = &a->cfg->tokens[i];
        bool eq = lb_token_hash_equal(h, t->hash);
        found = eq ? t : found;
    }
    return found && !found->revoked ? found : NULL;
}

int lb_access_phase(const lb_access *a)
{
    lb_access *m = (lb_access *)a;
    pthread_mutex_lock(&m->lock);
    int p = a->phase;
    pthread_mutex_unlock(&m->lock);
    return p;
}

void lb_access_set_phase(lb_access *a, int phase)
{
    pthread_mutex_lock(&a->lock);
    a->phase = phase;
    pthread_mutex_unlock(&a->lock);
}

static int role_index(const lb_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->nroles; i++)
        if (strcmp(cfg->roles[i].id, id) == 0)
            return (int)i;
    return -1;
}

lb_status lb_access_break_glass(lb_access *a, const char *role, const char *layer,
                                time_t until, const char *reason, lb_error *err)
{
    int ri = role_index(a->cfg, role);
    if (ri < 0)
        return lb_fail(err, LB_ENOENT, "no role '%s'", role);
    if (!lb_config_layer(a->cfg, layer))
        return lb_fail(err, LB_ENOENT, "no layer '%s'", layer);
    pthread_mutex_lock(&a->lock);
    lb_status rc = LB_OK;
    if (a->nbg == a->bgcap) {
        size_t nc = a->bgcap ? a->bgcap * 2 : 8;
        breakglass *p = realloc(a->bg, nc * sizeof *p);
        if (!p)
            rc = lb_fail(err, LB_ENOMEM, "out of memory");
        else {
            a->bg = p;
            a->bgcap = nc;
        }
    }
    if (rc == LB_OK) {
        breakglass *b = &a->bg[a->nbg];
        b->role = ri;
        b->layer = lb_strdup(layer);
        b->reason = lb_strdup(reason ? reason : "");
        b->until = until;
        if (!b->layer || !b->reason) {
            free(b->layer);
            free(b->reason);
            rc = lb_fail(err, LB_ENOMEM, "out of memory");
        } else {
            a->nbg++;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

lb_status lb_access_carry(lb_access *to, const lb_access *from, time_t now)
{
    typedef struct grant_copy {
        char *role, *layer, *reason;
        time_t until;
    } grant_copy;
    lb_access *f = (lb_access *)from;
    pthread_mutex_lock(&f->lock);
    int phase = f->phase;
    size_t n = 0;
    grant_copy *g = calloc(f->nbg ? f->nbg : 1, sizeof *g);
    for (size_t i = 0; g && i < f->nbg; i++) {
        const breakglass *b = &f->bg[i];
        if (b->until <= now)
            continue; /* expired: nothing to carry */
        /* by the role's id: its index may differ in the new config */
        g[n] = (grant_copy){lb_strdup(f->cfg->roles[b->role].id), lb_strdup(b->layer),
                            lb_strdup(b->reason), b->until};
        n++;
    }
    pthread_mutex_unlock(&f->lock);
    lb_access_set_phase(to, phase);
    lb_status rc = g ? LB_OK : LB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        lb_error err;
        if (!g[i].role || !g[i].layer || !g[i].reason)
            rc = LB_ENOMEM;
        else if (lb_access_break_glass(to, g[i].role, g[i].layer, g[i].until, g[i].reason,
                                       &err) == LB_ENOMEM)
            rc = LB_ENOMEM; /* LB_ENOENT: the new config lacks the role or layer: it ends */
        free(g[i].role);
        free(g[i].layer);
        free(g[i].reason);
    }
    free(g);
    return rc;
}

static bool list_has(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

bool lb_access_may_write(const lb_access *a, const lb_token_cfg *principal, const char *source,
                         time_t now)
{
    if (!principal || !source)
        return false;
    for (size_t k = 0; k < principal->nroles; k++) {
        int ri = role_index(a->cfg, principal->roles[k]);
        if (ri < 0)
            continue;
        const role_state *rs = &a->roles[ri];
        if ((rs->from && now < rs->from) || (rs->to && now >= rs->to))
            continue;
        const lb_role_cfg *r = &a->cfg->roles[ri];
        if (list_has(r->write, r->nwrite, source))
            return true;
    }
    return false;
}

static int cmp_clearance(const void *pa, const void *pb)
{
    const lb_clearance *x = pa, *y = pb;
    int c = lb_label_cmp(&x->label, &y->label);
    if (c)
        return c;
    return (x->area > y->area) - (x->area < y->area);
}

static void note_expiry(time_t *exp, time_t t, time_t now)
{
    if (t > now && (*exp == 0 || t < *exp))
        *exp = t;
}

bool lb_access_layer(const lb_access *a, const lb_token_cfg *principal, const char *layer,
                     time_t now, lb_grant *out)
{
    memset(out, 0, sizeof *out);
    if (!principal)
        return false;
    const lb_config *cfg = a->cfg;
    lb_access *m = (lb_access *)a;
    pthread_mutex_lock(&m->lock);
    int phase = a->phase;
    for (size_t k = 0; k < principal->nroles; k++) {
        int ri = role_index(cfg, principal->roles[k]);
        if (ri < 0)
            continue;
        const lb_role_cfg *r = &cfg->roles[ri];
        const role_state *rs = &a->roles[ri];
        if ((rs->from && now < rs->from) || (rs->to && now >= rs->to)) {
            note_expiry(&out->expires, rs->from, now); /* becomes valid later */
            continue;
        }
        note_expiry(&out->expires, rs->to, now);
        bool granted = r->all_layers || list_has(r->layers, r->nlayers, layer);
        for (size_t g = 0; !granted && g < r->nphase_grants; g++)
            granted = phase >= 0 && (r->phase_grants[g].phases & (1u << phase)) &&
                      list_has(r->phase_grants[g].layers, r->phase_grants[g].nlayers, layer);
        for (size_t b = 0; b < a->nbg; b++) {
            if (a->bg[b].role != ri || strcmp(a->bg[b].layer, layer) != 0)
                continue;
            if (a->bg[b].until > now) {
                if (!granted)
                    note_expiry(&out->expires, a->bg[b].until, now);
                granted = true;
            }
        }
        if (!granted || out->n == LB_GRANT_MAX)
            continue;
        lb_clearance c = {.label = r->clearance, .area = rs->area};
        bool dup = false;
        for (int i = 0; i < out->n; i++)
            dup |= cmp_clearance(&out->c[i], &c) == 0;
        if (!dup)
            out->c[out->n++] = c;
    }
    pthread_mutex_unlock(&m->lock);
    if (out->n == 0)
        return false;
    qsort(out->c, (size_t)out->n, sizeof out->c[0], cmp_clearance);
    out->area_limited = true;
    for (int i = 0; i < out->n; i++) {
        if (out->c[i].area < 0)
            out->area_limited = false;
        else
            out->areas |= 1ULL << out->c[i].area;
    }
    if (!out->area_limited)
        out->areas = 0;
    /* "LEVEL.GROUPS.CAVEATS.AREA" per clearance, ';'-separated (hex masks);
     * formatted without printf (see lb_buf_put_int) */
    size_t len = 0;
    for (int i = 0; i < out->n; i++) {
        char tmp[96];
        size_t n = 0;
        if (i)
            tmp[n++] = ';';
        n += lb_fmt_int(tmp + n, (long long)out->c[i].label.level);
        tmp[n++] = '.';
        n += lb_fmt_hex(tmp + n, (unsigned long long)out->c[i].label.groups, 0);
        tmp[n++] = '.';
        n += lb_fmt_hex(tmp + n, (unsigned long long)out->c[i].label.caveats, 0);
        tmp[n++] = '.';
        n += lb_fmt_int(tmp + n, (long long)out->c[i].area);
        if (n < sizeof out->canon - len) {
            memcpy(out->canon + len, tmp, n);
            len += n;
        }
    }
    out->canon[len] = '\0';
    uint64_t h = lb_fnv1a(LB_FNV_INIT, out->canon, len);
    out->key = h ? h : 1;
    return true;
}

static bool clears(const lb_label *c, const lb_label *f)
{
    return f->level <= c->level && (f->caveats & ~c->caveats) == 0 &&
           (f->groups == 0 || (f->groups & c->groups) != 0);
}

/* Whether clearance c may see label generalised under src's rule (not
 * whether it may see it exactly). */
static bool releases(const lb_label *c, const lb_label *label, const lb_source_cfg *src)
{
    return src && (c->groups & src->generalised_groups) != 0 && label->level <= c->level &&
           (label->caveats & ~c->caveats) == 0;
}

int lb_grant_passes(const lb_grant *g, int passes[LB_GRANT_MAX])
{
    int np = 0;
    for (int i = 0; i < g->n && np == 0; i++)
        if (g->c[i].area < 0)
            passes[np++] = -1;
    for (int i = 0; i < g->n; i++) {
        bool seen = false;
        for (int k = 0; k < np; k++)
            seen |= passes[k] == g->c[i].area;
        if (!seen)
            passes[np++] = g->c[i].area;
    }
    return np;
}

bool lb_grant_allows(const lb_grant *g, const lb_label *label)
{
    for (int i = 0; i < g->n; i++)
        if (clears(&g->c[i].label, label))
            return true;
    return false;
}

bool lb_grant_allows_in(const lb_grant *g, int area, const lb_label *label)
{
    for (int i = 0; i < g->n; i++)
        if ((g->c[i].area == area || g->c[i].area < 0) && clears(&g->c[i].label, label))
            return true;
    return false;
}

bool lb_grant_allows_generalised(const lb_grant *g, const lb_label *label,
                                 const lb_source_cfg *src)
{
    if (!src || !src->generalised_groups || lb_grant_allows(g, label))
        return false;
    for (int i = 0; i < g->n; i++)
        if (releases(&g->c[i].label, label, src))
            return true;
    return false;
}

lb_draw lb_grant_draws(const lb_grant *g, int area, const lb_label *label,
                       const lb_source_cfg *src)
{
    bool ex_here = false, ex_all = false, gen_here = false, gen_all = false;
    for (int i = 0; i < g->n; i++) {
        const lb_clearance *c = &g->c[i];
        if (c->area != area && c->area >= 0)
            continue;
        bool ex = clears(&c->label, label);
        bool gen = !ex && releases(&c->label, label, src);
        if (c->area == area) {
            ex_here |= ex;
            gen_here |= gen;
        }
        if (c->area < 0) {
            ex_all |= ex;
            gen_all |= gen;
        }
    }
    if (area >= 0 && ex_all)
        return LB_DRAW_NONE; /* the unlimited pass draws it exactly */
    if (ex_here)
        return LB_DRAW_EXACT;
    if (area >= 0 && gen_all)
        return LB_DRAW_NONE; /* the unlimited pass draws it generalised */
    return gen_here ? LB_DRAW_GEN : LB_DRAW_NONE;
}

size_t lb_access_area_count(const lb_access *a) { return a->nareas; }

const unsigned char *lb_access_area_wkb(const lb_access *a, size_t i, size_t *len, double box[4])
{
    *len = a->areas[i].wkb_len;
    memcpy(box, a->areas[i].box, sizeof a->areas[i].box);
    return a->areas[i].wkb;
}

const double *const *lb_access_area_rings(const lb_access *a, size_t i, const size_t **counts,
                                          size_t *nrings)
{
    *counts = a->areas[i].counts;
    *nrings = a->areas[i].nrings;
    return (const double *const *)a->areas[i].rings;
}
