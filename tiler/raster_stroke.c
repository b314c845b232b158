/*
 * This file implements the rasterizer's stroker: it turns a path into the
 * outline of its stroke (segment quads, miter/round/bevel joins, butt/round/
 * square caps, dashes) and emits the edges into the current shape, to be
 * filled with the non-zero rule as one shape.
 *
 * Every piece has the same orientation, so where pieces overlap the winding
 * is 2 or more and the coverage stays 1: a translucent line never darkens
 * where it crosses itself.  The pieces are:
 *   - a quad per segment A->B:   A+n -> B+n -> B-n -> A-n   (n = hw * left normal),
 *   - a wedge per join on the outer side of the turn, between the two quads'
 *     outer corners (bevel triangle, miter quadrilateral or circular sector);
 *     it touches the quads only along their end edges,
 *   - a cap behind the first and beyond the last point of an open path.
 * Shared edges of neighbouring pieces cancel exactly, so instead of the raw
 * pieces the stroker emits their sum: the two long sides of each quad, the
 * outer join curve, and on the inner side of a join two edges through the
 * vertex (the remainder of the quads' end edges) -- or, when the segments are
 * long enough, the inner sides simply end where they cross, which removes the
 * quads' overlap once (see vertex()).  Pieces that lie entirely outside the
 * canvas contribute nothing and are skipped (a skipped piece's shared edges
 * are emitted by its neighbours instead).  Every decision that shapes what
 * falls inside the canvas depends on the geometry only, never on where the
 * canvas is, so neighbouring tiles get identical pixels along their border.
 *
 * Dashes walk along the path (continuing across vertices, joined there like
 * the solid path); only the parts of segments near the canvas are walked
 * dash by dash, the rest only advances the pattern, so a dashed line with
 * huge coordinates costs no more than its visible part.  A dash is cut where
 * its segment leaves that region, far enough out that neither the cap there
 * nor the changed length can matter inside the canvas.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "raster_int.h"

#define PT_EPS 1e-7 /* points closer than this (px) are merged */
#define LB__MAX_DASHES 20000.0 /* see "runaway" in lb__stroke_emit */

typedef struct stroker {
    lb__rwork *w;
    double hw;
    lb_join join;
    lb_cap cap;
    double ml;       /* effective miter limit */
    double ext_join; /* reach of a join piece from its vertex */
    double ext_cap;  /* reach of a cap from its end point */
    double xmax;     /* inner join points X are used up to this far from P */
    double fw, fh;
    /* arcs: clockwise steps of angle 2 pi / nsteps (cos, sin), interior
     * points at rfac * hw; cstop = hw^2 cos(a hair more than a step) */
    int nsteps;
    double cs, sn, rfac, cstop;
} stroker;

typedef struct sseg {
    double ax, ay, bx, by;
    double ux, uy; /* unit direction */
    double nx, ny; /* hw * (-uy, ux) */
    double len;
    bool vis;
    /* the quad's long sides, emitted as ls -> le and re -> rs: normally
     * A+n -> B+n and B-n -> A-n; a join may move an inner end to X */
    double lsx, lsy, lex, ley, rsx, rsy, rex, rey;
} sseg;

static inline void E(stroker *s, double x0, double y0, double x1, double y1)
{
    lb__edge(s->w, x0, y0, x1, y1);
}

/* Does the box around (x, y) of half-size e reach into the canvas? */
static inline bool near_canvas(const stroker *s, double x0, double y0, double x1, double y1,
                               double e)
{
    e = e * 1.02 + 1.0;
    return x1 + e > 0 && y1 + e > 0 && x0 - e < s->fw && y0 - e < s->fh;
}

static void make_seg(stroker *s, sseg *g, double ax, double ay, double bx, double by)
{
    g->ax = ax;
    g->ay = ay;
    g->bx = bx;
    g->by = by;
    double dx = bx - ax, dy = by - ay, len = sqrt(dx * dx + dy * dy);
    g->len = len;
    g->ux = dx / len;
    g->uy = dy / len;
    g->nx = -g->uy * s->hw;
    g->ny = g->ux * s->hw;
    g->vis = near_canvas(s, ax < bx ? ax : bx, ay < by ? ay : by, ax < bx ? bx : ax,
                         ay < by ? by : ay, s->hw);
    g->lsx = ax + g->nx;
    g->lsy = ay + g->ny;
    g->lex = bx + g->nx;
    g->ley = by + g->ny;
    g->rsx = ax - g->nx;
    g->rsy = ay - g->ny;
    g->rex = bx - g->nx;
    g->rey = by - g->ny;
}

/* Edges from P+f clockwise (the stroker's only direction), by at most pi, to
 * P+t (|f| = |t| = hw).  Interior points are placed every step while more
 * than a step is left: cos(remaining angle) = f.t / hw^2, no atan2 needed. */
static void arc(stroker *s, double px, double py, double fx, double fy, double tx, double ty)
{
    double x0 = px + fx, y0 = py + fy, vx = fx, vy = fy;
    for (int i = 0; i < s->nsteps && vx * tx + vy * ty < s->cstop; i++) {
        double nx = vx * s->cs + vy * s->sn, ny = vy * s->cs - vx * s->sn;
        vx = nx;
        vy = ny;
        double x1 = px + vx * s->rfac, y1 = py + vy * s->rfac;
        E(s, x0, y0, x1, y1);
        x0 = x1;
        y0 = y1;
    }
    E(s, x0, y0, px + tx, py + ty);
}

/* The outer boundary of a join from P+f to P+t; dt = cos of the turn. */
static void join_curve(stroker *s, double px, double py, double fx, double fy, double tx,
                       double ty, double dt)
{
    switch (s->join) {
    case LB_JOIN_ROUND:
        arc(s, px, py, fx, fy, tx, ty);
        return;
    case LB_JOIN_MITER:
        /* miter length / hw = 1 / cos(turn / 2); cos^2(turn / 2) = (1 + dt) / 2 */
        if ((1.0 + dt) * s->ml * s->ml >= 2.0) {
            double k = 1.0 / (1.0 + dt);
            double mx = px + (fx + tx) * k, my = py + (fy + ty) * k;
            E(s, px + fx, py + fy, mx, my);
            E(s, mx, my, px + tx, py + ty);
            return;
        }
        break;
    case LB_JOIN_BEVEL:
        break;
    }
    E(s, px + fx, py + fy, px + tx, py + ty);
}

/* The vertex P where segment a ends and segment b starts (their long sides
 * are emitted afterwards: the join may shorten them).
 *
 * What is emitted must not depend on the canvas (beyond leaving out pieces
 * that lie wholly outside it), or tiles would not meet seamlessly: so the
 * inner side is decided from the geometry alone, and a join culled because
 * it lies outside the canvas is replaced by exactly its own edges reversed. */
static void vertex(stroker *s, sseg *a, sseg *b)
{
    const double px = a->bx, py = a->by;
    double cr = a->ux * b->uy - a->uy * b->ux, dt = a->ux * b->ux + a->uy * b->uy;
    bool straight = fabs(cr) < 1e-12 && dt > 0;
    /* the outer side: +n when turning towards -n (cr < 0), else -n; the
     * join runs from P+f to P+t */
    double fx, fy, tx, ty;
    if (cr <= 0) {
        fx = a->nx, fy = a->ny, tx = b->nx, ty = b->ny;
    } else {
        fx = -b->nx, fy = -b->ny, tx = -a->nx, ty = -a->ny;
    }
    bool jv = !straight && near_canvas(s, px, py, px, py, s->ext_join);
    if (!a->vis || !b->vis) {
        /* raw pieces: quad end edge, quad start edge, closed wedge */
        if (a->vis)
            E(s, px + a->nx, py + a->ny, px - a->nx, py - a->ny);
        if (b->vis)
            E(s, px - b->nx, py - b->ny, px + b->nx, py + b->ny);
        if (jv) {
            E(s, px, py, px + fx, py + fy);
            join_curve(s, px, py, fx, fy, tx, ty, dt);
            E(s, px + tx, py + ty, px, py);
        }
        return;
    }
    if (straight) {
        E(s, px + a->nx, py + a->ny, px + b->nx, py + b->ny);
        E(s, px - b->nx, py - b->ny, px - a->nx, py - a->ny);
        return;
    }
    /* Outer side: the join; or, when it is culled, the outer halves of the
     * quads' end edges (that is the sum below minus the wedge). */
    if (jv) {
        join_curve(s, px, py, fx, fy, tx, ty, dt);
    } else {
        E(s, px + fx, py + fy, px, py);
        E(s, px, py, px + tx, py + ty);
    }
    /* Inner side: the quads overlap in the quadrilateral P, P-o_a, X, P-o_b
     * (X where the inner sides cross, hw tan(turn / 2) from the vertex along
     * each).  When X lies on both quads' inner sides, the sides end at X:
     * that takes the overlap out once, so the boundary pixels there are not
     * over-counted (and saves two edges).  Otherwise the inner side goes
     * through P, which is always right.  X is used only within s->xmax of P,
     * so that a dash cut short far outside the canvas decides alike. */
    bool inner_x = false;
    if (dt > -0.999) {
        double q = s->hw * s->hw * ((1.0 - dt) / (1.0 + dt)); /* (hw tan(turn / 2))^2 */
        inner_x = q <= s->xmax * s->xmax && q <= a->len * a->len && q <= b->len * b->len;
    }
    if (cr <= 0) { /* inner side -n */
        if (inner_x) {
            double ix = px - (a->nx + b->nx) / (1.0 + dt), iy = py - (a->ny + b->ny) / (1.0 + dt);
            a->rex = b->rsx = ix;
            a->rey = b->rsy = iy;
        } else {
            E(s, px - b->nx, py - b->ny, px, py);
            E(s, px, py, px - a->nx, py - a->ny);
        }
    } else { /* inner side +n */
        if (inner_x) {
            double ix = px + (a->nx + b->nx) / (1.0 + dt), iy = py + (a->ny + b->ny) / (1.0 + dt);
            a->lex = b->lsx = ix;
            a->ley = b->lsy = iy;
        } else {
            E(s, px + a->nx, py + a->ny, px, py);
            E(s, px, py, px + b->nx, py + b->ny);
        }
    }
}

static void sides(stroker *s, const sseg *g)
{
    if (g->vis) {
        E(s, g->lsx, g->lsy, g->lex, g->ley);
        E(s, g->rex, g->rey, g->rsx, g->rsy);
    }
}

/* Start cap at A: the chain from A-n round behind A to A+n. */
static void cap_start(stroker *s, const sseg *g)
{
    const double x = g->ax, y = g->ay, nx = g->nx, ny = g->ny;
    bool cv = s->cap != LB_CAP_BUTT && near_canvas(s, x, y, x, y, s->ext_cap);
    if (!cv) {
        if (g->vis)
            E(s, x - nx, y - ny, x + nx, y + ny);
        return;
    }
    if (s->cap == LB_CAP_SQUARE) {
        double hx = g->ux * s->hw, hy = g->uy * s->hw;
        E(s, x - nx, y - ny, x - nx - hx, y - ny - hy);
        E(s, x - nx - hx, y - ny - hy, x + nx - hx, y + ny - hy);
        E(s, x + nx - hx, y + ny - hy, x + nx, y + ny);
    } else {
        arc(s, x, y, -nx, -ny, nx, ny);
    }
    if (!g->vis)
        E(s, x + nx, y + ny, x - nx, y - ny);
}

/* End cap at B: the chain from B+n round beyond B to B-n. */
static void cap_end(stroker *s, const sseg *g)
{
    const double x = g->bx, y = g->by, nx = g->nx, ny = g->ny;
    bool cv = s->cap != LB_CAP_BUTT && near_canvas(s, x, y, x, y, s->ext_cap);
    if (!cv) {
        if (g->vis)
            E(s, x + nx, y + ny, x - nx, y - ny);
        return;
    }
    if (s->cap == LB_CAP_SQUARE) {
        double hx = g->ux * s->hw, hy = g->uy * s->hw;
        E(s, x + nx, y + ny, x + nx + hx, y + ny + hy);
        E(s, x + nx + hx, y + ny + hy, x - nx + hx, y - ny + hy);
        E(s, x - nx + hx, y - ny + hy, x - nx, y - ny);
    } else {
        arc(s, x, y, nx, ny, -nx, -ny);
    }
    if (!g->vis)
        E(s, x - nx, y - ny, x + nx, y + ny);
}

/* A zero-length piece at (x, y) with direction u: just its two caps. */
static void dot(stroker *s, double x, double y, double ux, double uy)
{
    if (s->cap == LB_CAP_BUTT)
        return;
    sseg g = {x, y, x, y, ux, uy, -uy * s->hw, ux * s->hw, 0, false, 0, 0, 0, 0, 0, 0, 0, 0};
    cap_start(s, &g);
    cap_end(s, &g);
}

/* Stroke n >= 2 cleaned points (no two consecutive equal; closed: the last
 * differs from the first). */
static void stroke_poly(stroker *s, const double *p, size_t n, bool closed)
{
    size_t nseg = closed ? n : n - 1;
    sseg first, buf[2];
    make_seg(s, &first, p[0], p[1], p[2], p[3]);
    if (!closed)
        cap_start(s, &first);
    /* a segment's sides go out once the joins at both its ends are known;
     * the first segment of a closed path waits for the closing join */
    sseg *prev = &first;
    for (size_t i = 1; i < nseg; i++) {
        size_t j = i + 1 < n ? i + 1 : 0;
        sseg *cur = &buf[i & 1];
        make_seg(s, cur, p[2 * i], p[2 * i + 1], p[2 * j], p[2 * j + 1]);
        vertex(s, prev, cur);
        if (prev != &first || !closed)
            sides(s, prev);
        prev = cur;
    }
    if (closed) {
        vertex(s, prev, &first);
        sides(s, prev);
        sides(s, &first);
    } else {
        cap_end(s, prev);
        sides(s, prev);
    }
}

/* ------------------------------------------------------------------------ */
/* Dashes                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct dasher {
    stroker *s;
    double pat[2 * LB_MAX_DASH];
    int m;
    double period;
    int idx;    /* current pattern element (even: on) */
    double rem; /* length left in it */
    bool on;
    /* the dash being collected in w->sub */
    bool open;
    size_t nsub;
    double dux, duy;
    /* closed paths: 1 = the open dash is the first one, 2 = it is saved */
    int first_state;
    size_t nfirst;
    double fux, fuy;
} dasher;

static void next_elem(dasher *d)
{
    d->idx = d->idx + 1 < d->m ? d->idx + 1 : 0;
    d->rem = d->pat[d->idx];
    d->on = (d->idx & 1) == 0;
}

/* Move the pattern on by len without drawing. */
static void advance(dasher *d, double len)
{
    if (!(len > 0))
        return;
    if (len < d->rem) {
        d->rem -= len;
        return;
    }
    len -= d->rem;
    next_elem(d);
    len = fmod(len, d->period);
    for (int guard = 0; len >= d->rem && guard < 4 * d->m + 4; guard++) {
        len -= d->rem;
        next_elem(d);
    }
    d->rem -= len;
    if (d->rem < 0)
        d->rem = 0;
}

static void sub_point(dasher *d, double x, double y)
{
    lb__rwork *w = d->s->w;
    if (d->nsub) {
        const double *l = w->sub + 2 * (d->nsub - 1);
        if (fabs(l[0] - x) <= PT_EPS && fabs(l[1] - y) <= PT_EPS)
            return;
    }
    if (!lb__grow(&w->sub, &w->cap_sub, 2 * (d->nsub + 1))) {
        w->oom = true;
        return;
    }
    w->sub[2 * d->nsub] = x;
    w->sub[2 * d->nsub + 1] = y;
    d->nsub++;
}

static void dash_start(dasher *d, double x, double y, double ux, double uy)
{
    d->open = true;
    d->nsub = 0;
    d->dux = ux;
    d->duy = uy;
    sub_point(d, x, y);
}

static void stroke_open(stroker *s, const double *p, size_t n, double ux, double uy)
{
    if (n == 1)
        dot(s, p[0], p[1], ux, uy);
    else if (n >= 2)
        stroke_poly(s, p, n, false);
}

static void dash_end(dasher *d)
{
    if (!d->open)
        return;
    d->open = false;
    lb__rwork *w = d->s->w;
    if (d->first_state == 1) {
        if (!lb__grow(&w->first, &w->cap_first, 2 * d->nsub)) {
            w->oom = true;
            return;
        }
        memcpy(w->first, w->sub, 2 * d->nsub * sizeof *w->first);
        d->nfirst = d->nsub;
        d->fux = d->dux;
        d->fuy = d->duy;
        d->first_state = 2;
        return;
    }
    stroke_open(d->s, w->sub, d->nsub, d->dux, d->duy);
}

/* Liang-Barsky: the parameter range of A->B inside the rectangle. */
static bool clip_param(double ax, double ay, double dx, double dy, double x0, double y0,
                       double x1, double y1, double *t0, double *t1)
{
    double p[4] = {-dx, dx, -dy, dy}, q[4] = {ax - x0, x1 - ax, ay - y0, y1 - ay};
    double a = 0, b = 1;
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0)
                return false;
        } else {
            double r = q[i] / p[i];
            if (p[i] < 0) {
                if (r > a)
                    a = r;
            } else if (r < b) {
                b = r;
            }
        }
    }
    if (!(a < b))
        return false;
    *t0 = a;
    *t1 = b;
    return true;
}

/* Beyond this margin around the canvas no cap or join can reach into it, and
 * a dash cut there is at least xmax from any vertex whose pieces reach the
 * canvas (so its inner join is decided as if the dash were whole). */
static double dash_margin(const stroker *s)
{
    return fmax(s->ext_join, s->ext_cap) * 1.02 + 2.0 * (s->xmax + s->hw) + 2.0;
}

/* The total length of the path's segments within mg of the canvas (with
 * dash_margin: what dash_path walks dash by dash). */
static double near_length(const stroker *s, const double *p, size_t n, bool closed, double mg)
{
    double total = 0;
    size_t nseg = closed ? n : n - 1;
    for (size_t i = 0; i < nseg; i++) {
        size_t j = i + 1 < n ? i + 1 : 0;
        double ax = p[2 * i], ay = p[2 * i + 1], dx = p[2 * j] - ax, dy = p[2 * j + 1] - ay;
        double t0, t1;
        if (clip_param(ax, ay, dx, dy, -mg, -mg, s->fw + mg, s->fh + mg, &t0, &t1))
            total += (t1 - t0) * sqrt(dx * dx + dy * dy);
    }
    return total;
}

static void dash_path(dasher *d, const double *p, size_t n, bool closed)
{
    stroker *s = d->s;
    double mg = dash_margin(s);
    size_t nseg = closed ? n : n - 1;
    for (size_t i = 0; i < nseg; i++) {
        size_t j = i + 1 < n ? i + 1 : 0;
        double ax = p[2 * i], ay = p[2 * i + 1], bx = p[2 * j], by = p[2 * j + 1];
        double dx = bx - ax, dy = by - ay, len = sqrt(dx * dx + dy * dy);
        double ux = dx / len, uy = dy / len;
        double t0, t1, ta = len, tb = len;
        if (clip_param(ax, ay, dx, dy, -mg, -mg, s->fw + mg, s->fh + mg, &t0, &t1)) {
            ta = t0 <= 0 ? 0 : t0 * len;
            tb = t1 >= 1 ? len : t1 * len;
            if (!(ta < tb))
                ta = tb = len;
        }
        if (ta > 0) { /* invisible start: the open dash ends (out of sight) */
            dash_end(d);
            advance(d, ta);
        }
        if (ta < tb) {
            double bxs = ax + ux * ta, bys = ay + uy * ta, q = 0, qend = tb - ta;
            if (d->on && !d->open) {
                if (closed && i == 0 && ta == 0 && d->first_state == 0)
                    d->first_state = 1;
                dash_start(d, bxs, bys, ux, uy);
            }
            for (;;) {
                double room = qend - q;
                if (d->rem > room) {
                    d->rem -= room;
                    break;
                }
                q += d->rem;
                if (d->on) {
                    sub_point(d, bxs + ux * q, bys + uy * q);
                    dash_end(d);
                }
                next_elem(d);
                if (d->on)
                    dash_start(d, bxs + ux * q, bys + uy * q, ux, uy);
            }
            if (tb < len) {
                if (d->open) {
                    sub_point(d, bxs + ux * qend, bys + uy * qend);
                    dash_end(d);
                }
                advance(d, len - tb);
            } else if (d->open) {
                sub_point(d, bx, by);
            }
        }
    }
    lb__rwork *w = s->w;
    if (d->open && closed && d->first_state == 1) {
        /* one dash around the whole ring */
        size_t m = d->nsub;
        if (m > 1 && w->sub[2 * m - 2] == w->sub[0] && w->sub[2 * m - 1] == w->sub[1])
            m--;
        d->open = false;
        d->first_state = 0;
        if (m >= 2)
            stroke_poly(s, w->sub, m, true);
        return;
    }
    if (d->open && closed && d->first_state == 2) {
        /* the last dash runs into the first one: one piece, joined at p[0] */
        for (size_t k = 1; k < d->nfirst; k++)
            sub_point(d, w->first[2 * k], w->first[2 * k + 1]);
        d->first_state = 0;
    }
    dash_end(d);
    if (d->first_state == 2)
        stroke_open(s, w->first, d->nfirst, d->fux, d->fuy);
}

/* ------------------------------------------------------------------------ */
/* Entry                                                                    */
/* ------------------------------------------------------------------------ */

double lb__stroke_emit(lb__rwork *w, const double *xy, size_t n, bool closed, const lb_stroke *st)
{
    if (!st || !xy || n == 0 || !(st->width > 0) || !isfinite(st->width))
        return 1.0;
    /* clean: finite points, clamped, consecutive duplicates merged */
    if (!lb__grow(&w->pts, &w->cap_pts, 2 * n)) {
        w->oom = true;
        return 1.0;
    }
    size_t m = 0, nfinite = 0;
    double *p = w->pts;
    for (size_t i = 0; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        if (!isfinite(x) || !isfinite(y))
            continue;
        nfinite++;
        x = lb__clampc(x);
        y = lb__clampc(y);
        if (m && fabs(p[2 * m - 2] - x) <= PT_EPS && fabs(p[2 * m - 1] - y) <= PT_EPS)
            continue;
        p[2 * m] = x;
        p[2 * m + 1] = y;
        m++;
    }
    if (closed)
        while (m > 1 && fabs(p[2 * m - 2] - p[0]) <= PT_EPS && fabs(p[2 * m - 1] - p[1]) <= PT_EPS)
            m--;
    if (m == 0 || (m == 1 && nfinite < 2))
        return 1.0;

    /* widths and miter limits beyond any sense are capped so that every
     * computed point stays finite */
    double width = st->width < 2 * LB__COORD_MAX ? st->width : 2 * LB__COORD_MAX;
    stroker s = {.w = w, .hw = 0.5 * width, .join = st->join, .cap = st->cap,
                 .fw = w->fw, .fh = w->fh};
    if ((unsigned)s.join > LB_JOIN_BEVEL)
        s.join = LB_JOIN_MITER;
    if ((unsigned)s.cap > LB_CAP_SQUARE)
        s.cap = LB_CAP_BUTT;
    s.ml = st->miter_limit > 0 ? st->miter_limit : 2.0; /* 0 / NaN: the default */
    if (s.ml > 1e6)
        s.ml = 1e6;
    s.ext_join = s.join == LB_JOIN_MITER ? s.hw * fmax(s.ml, 1.0) : s.hw;
    s.ext_cap = s.cap == LB_CAP_SQUARE ? s.hw * M_SQRT2 : s.cap == LB_CAP_ROUND ? s.hw : 0;
    s.xmax = 4.0 * s.hw; /* turns up to about 150 degrees */
    if (s.join == LB_JOIN_ROUND || s.cap == LB_CAP_ROUND) {
        int k = lb__circle_steps(s.hw);
        double step = 2.0 * M_PI / k;
        s.nsteps = k;
        s.cs = cos(step);
        s.sn = sin(step);
        s.rfac = lb__circle_rfac(k);
        s.cstop = s.hw * s.hw * cos(step * (1.0 + 1e-6));
    }

    /* a stroke wholly inside the canvas needs no clipping */
    double bx0 = p[0], by0 = p[1], bx1 = p[0], by1 = p[1];
    for (size_t i = 1; i < m; i++) {
        double x = p[2 * i], y = p[2 * i + 1];
        bx0 = x < bx0 ? x : bx0;
        bx1 = x > bx1 ? x : bx1;
        by0 = y < by0 ? y : by0;
        by1 = y > by1 ? y : by1;
    }
    double e = fmax(fmax(s.ext_join, s.ext_cap), s.hw) * 1.1 + 1.0;
    lb__shape_inside(w, bx0 - e, by0 - e, bx1 + e, by1 + e);

    if (m == 1) { /* a zero-length path: a dot for round and square caps */
        dot(&s, p[0], p[1], 1, 0);
        return 1.0;
    }

    /* a usable dash pattern: finite, non-negative, period > 0 */
    size_t nd = st->ndash < LB_MAX_DASH ? st->ndash : LB_MAX_DASH;
    double period = 0;
    bool dashed = nd > 0;
    for (size_t i = 0; i < nd && dashed; i++) {
        if (!(st->dash[i] >= 0) || !isfinite(st->dash[i]))
            dashed = false;
        else
            period += st->dash[i];
    }
    if (!dashed || !(period > 0)) {
        stroke_poly(&s, p, m, closed);
        return 1.0;
    }
    bool runaway = false;
    if (period >= 0.5) {
        /* a line far wider than the canvas makes the region walked dash by
         * dash huge; a fine pattern on it would cost without bound */
        double near = near_length(&s, p, m, closed, dash_margin(&s));
        runaway = near > LB__MAX_DASHES * period &&
                  near > 8.0 * (near_length(&s, p, m, closed, 0) + w->fw + w->fh);
    }
    if (period < 0.5 || runaway) {
        /* Finer than half a pixel: indistinguishable from a solid line of
         * the average coverage (and it would cost a dash per period); the
         * runaway case is drawn the same way. */
        double on = 0;
        for (size_t i = 0; i < nd; i += 2)
            on += st->dash[i];
        if (nd & 1)
            on = 0.5 * period; /* the odd list repeats with on/off swapped */
        if (s.cap != LB_CAP_BUTT)
            on += (double)((nd & 1) ? nd : nd / 2) * st->width; /* caps per period */
        stroke_poly(&s, p, m, closed);
        return on >= period ? 1.0 : on / period;
    }
    dasher d = {.s = &s, .m = (int)nd};
    for (size_t i = 0; i < nd; i++)
        d.pat[i] = d.pat[i + nd] = st->dash[i];
    if (nd & 1) { /* an odd list repeats to make on/off pairs */
        d.m = 2 * (int)nd;
        period *= 2;
    }
    d.period = period;
    d.idx = 0;
    d.rem = d.pat[0];
    d.on = true;
    double off = isfinite(st->dash_offset) ? fmod(st->dash_offset, period) : 0;
    if (off < 0)
        off += period;
    advance(&d, off);
    dash_path(&d, p, m, closed);
    return 1.0;
}

void lb_raster_stroke(lb_canvas *c, const lb_ring *path, bool closed, const lb_stroke *st,
                      lb_rgba color)
{
    if (!c || !c->px || !path || !path->xy || !st || color.a == 0)
        return;
    lb__rwork *w = lb__work(c);
    if (!w)
        return;
    lb__shape_begin(w);
    double f = lb__stroke_emit(w, path->xy, path->n, closed, st);
    lb__shape_end(c, w, f < 1.0 ? lb_rgba_scale(color, f) : color);
}
