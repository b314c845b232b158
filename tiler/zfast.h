/*
 * A zlib stream encoder specialised for unfiltered PNG rows of map tiles
 * (tiler/zfast.c; docs/decisions.md, "Own deflate encoder for tiles").
 * Private to tiler/.
 *
 * The image is h rows of w pixels of bpp bytes (1: palette indices, 4:
 * RGBA); the stream encodes, per row, the filter byte 0 and the row.  Rows
 * come from a callback so that the caller can convert them (premultiplied to
 * straight alpha) one at a time into a scratch row.
 */
#ifndef LB_ZFAST_H
#define LB_ZFAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Row y of the image: either a pointer into the caller's image or scratch
 * (w * bpp bytes) filled by the callback.  *zero: set true when every byte
 * of the row is 0 (the encoder then skips its own comparisons); may be left
 * false.  Returning the same pointer as for row y - 1 says the rows are
 * equal (the encoder does not compare them).  scratch never holds the row
 * returned for y - 1, so that row stays valid while row y is made. */
typedef const uint8_t *(*lb_zfast_row_fn)(void *ud, size_t y, uint8_t *scratch, bool *zero);

/* Encoder state; reusable across images (buffers are kept), zero-initialise
 * before first use, lb_zfast_free at the end. */
typedef struct lb_zfast {
    uint16_t *tok;      /* the current block's tokens */
    uint8_t *out;       /* the zlib stream */
    size_t out_cap;
    uint8_t *scratch;   /* two rows */
    size_t scratch_cap;
} lb_zfast;

/* Encodes the image into z->out; returns the stream's length, 0 when out of
 * memory or when the image is too large for the encoder (w * bpp + 1 above
 * 32768 bytes; the caller then falls back to another encoder). */
size_t lb_zfast_compress(lb_zfast *z, size_t w, size_t h, int bpp, lb_zfast_row_fn row, void *ud);

void lb_zfast_free(lb_zfast *z);

/* For tests: the code lengths the encoder gives n (<= 286) symbols of the
 * frequencies freq, at most limit (1-15) bits each. */
void lb_zfast__lengths(const uint32_t *freq, int n, unsigned limit, uint8_t *len);

#endif
