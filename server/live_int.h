/*
 * Internal interface between the live picture (server/live.c: push, the
 * publisher, /events) and the geometry of its events (server/live_geom.c).
 */
#ifndef LB_LIVE_INT_H
#define LB_LIVE_INT_H

#include "server_int.h"

/* A committed change waiting for the publisher. */
typedef struct pending {
    struct pending *next;
    char *layer, *source;
    int64_t revision;
    lb_change *changes;
    size_t nchanges;
} pending;

/*
 * The changes of one layer in a list of pending commits, with what has
 * been worked out of their geometry so far: each version read and
 * generalised when first needed, each access area's polygon built when
 * first needed.  One per publishing round and layer, on one thread.
 */
typedef struct ev_ctx ev_ctx;

/* The changes of layer in ps (st must outlive it); NULL when out of memory. */
ev_ctx *lb_ev_new(const lb_state *st, const char *layer, const pending *ps);
void lb_ev_free(ev_ctx *c);

/*
 * The lon/lat box of what the changes show under grant g, as the tiles
 * draw them for it; false when they show nothing (no event).
 */
bool lb_ev_visible_box(ev_ctx *c, const lb_grant *g, double out[4]);

/*
 * What the generalised snapshots of the layer draw differently after the
 * changes (from their difference: server/live.c): a changed feature's
 * lon/lat box, label and source index (-1: not known).  Once told, a
 * version drawn generalised counts for an event only where such a change
 * of its label and source overlaps its cells: a unit joining or leaving a
 * cell that is drawn the same for another unit tells nobody anything, as
 * the tiles do not.  c takes v (malloc'ed, n entries) and frees it.
 */
typedef struct lb_ev_gen_change {
    double box[4];
    lb_label label;
    int32_t source;
} lb_ev_gen_change;
void lb_ev_gen_changes(ev_ctx *c, lb_ev_gen_change *v, size_t n);

/*
 * A conflated layer: every feature version its snapshots draw differently
 * after the changes (from their difference, server/live.c), exactly (gen
 * false) or as cells (gen; source index, -1 not known), with its lon/lat
 * box and what decides who draws it.  A push re-clusters reports that are
 * not among its rows (a fused feature appears or goes, a member is hidden
 * behind it or shown again); those count for events too.  c takes v
 * (malloc'ed, n entries) and frees it.
 */
typedef struct lb_ev_snap_change {
    double box[4];
    lb_label label, fused;
    bool member, gen;
    int32_t source;
    /* the index of the other version of the same feature when the two
     * differ only in the member flag and fused label, else -1: a pass that
     * draws both sees no change there (a report another one, perhaps
     * hidden from it, joined or left) */
    long pair;
} lb_ev_snap_change;
void lb_ev_snap_changes(ev_ctx *c, lb_ev_snap_change *v, size_t n);

#endif
