#ifndef LAGEBILD_GENERALISE_H
#define LAGEBILD_GENERALISE_H

/*
 * Generalised release (tiler/generalise.c): the one grid on which every
 * generalised feature is drawn, whatever the tile grid.  Cells are squares
 * of cell_m metres in LB_GEN_CRS, counted from its origin: cell (i, j) spans
 * [i, i + 1) x [j, j + 1) times cell_m.  Points go to the centre of their
 * cell; lines and polygons become the block of cells that their vertices'
 * extent in LB_GEN_CRS touches (one cell polygon each, or the block's outline
 * when it has more than LB_GEN_MAX_CELLS cells).  Coordinates in and out are
 * lon/lat (EPSG:4326, longitude first).
 *
 * An lb_gen holds PROJ transformations: one thread at a time.
 */
#include <stdbool.h>
#include <stddef.h>

#include "lagebild/fusion.h"
#include "lagebild/status.h"

#define LB_GEN_CRS "EPSG:3035" /* ETRS89-LAEA Europe */
#define LB_GEN_MAX_CELLS 4096

typedef struct lb_gen lb_gen;

lb_status lb_gen_new(lb_gen **out, lb_error *err);
void lb_gen_free(lb_gen *g);

/* The cell of each of the n lon/lat points xy: its column and row into ij
 * (pairs, whole numbers) and its centre into centre (lon/lat pairs; may be
 * xy itself); either may be NULL.  One projection each way for all points. */
lb_status lb_gen_cells(lb_gen *g, const double *xy, size_t n, double cell_m, double *ij,
                       double *centre, lb_error *err);

/* Move each of the n lon/lat points xy (x0, y0, x1, y1, ...) to the centre
 * of its cell, in place. */
lb_status lb_gen_points(lb_gen *g, double *xy, size_t n, double cell_m, lb_error *err);

/* The block of cells (first column, first row, last column, last row, as
 * whole numbers) that the extent of the n lon/lat vertices xy touches. */
lb_status lb_gen_block(lb_gen *g, const double *xy, size_t n, double cell_m, double blk[4],
                       lb_error *err);

/* The lon/lat corners of the cells of block blk (at most LB_GEN_MAX_CELLS
 * cells): (blk[2] - blk[0] + 2) x (blk[3] - blk[1] + 2) points, row by row
 * from the block's south-west corner, into out (x, y pairs). */
lb_status lb_gen_corners(lb_gen *g, const double blk[4], double cell_m, double *out,
                         lb_error *err);

/* The lon/lat corners of the LB_GEN_CRS rectangle m (minx, miny, maxx,
 * maxy, metres), counter-clockwise from its south-west corner. */
lb_status lb_gen_rect(lb_gen *g, const double m[4], double ring[8], lb_error *err);

/* The lon/lat box of everything the generalised form of a feature covers:
 * the whole cells of its points (points true), or its block of cells. */
lb_status lb_gen_box(lb_gen *g, const double *xy, size_t n, bool points, double cell_m,
                     double out[4], lb_error *err);

#endif
