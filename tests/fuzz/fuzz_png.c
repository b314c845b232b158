/*
 * libFuzzer target: lagebild's PNG encoding of arbitrary canvases
 * (tiler/png.c, the own deflate encoder tiler/zfast.c).
 *
 * The first four bytes choose the canvas (width 1-300, height 1-40), the
 * PNG level (1, 2 or 3) and palette output; the rest are the premultiplied
 * pixels, repeated to fill the canvas, with channels clamped to alpha so the
 * pixels are valid premultiplied colours; byte 3 also makes some rows repeat
 * the row above (the encoder's equal-row path).  The PNG must decode with
 * libpng's reader to exactly the pixels the encoder promises: channels
 * straightened with round(255 * 65536 / a) and a shift (tiler/png.c),
 * alpha unchanged.
 */
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lagebild/tiler.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_png: invariant violated: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    int w = 1 + data[0] % 150 + (data[2] & 1) * 150;
    int h = 1 + data[1] % 40;
    int level = 1 + (data[2] >> 1) % 3;
    bool palette = (data[2] >> 3) & 1;
    unsigned repeat = data[3];
    const uint8_t *px = data + 4;
    size_t npx = size - 4;
    lb_canvas c;
    if (lb_canvas_init(&c, w, h) != LB_OK)
        return 0;
    size_t n = (size_t)w * (size_t)h * 4;
    for (size_t i = 0; i < n; i++)
        c.px[i] = px[i % npx];
    for (int y = 0; y < h; y++) {
        uint8_t *row = c.px + (size_t)y * (size_t)w * 4;
        if (y > 0 && ((repeat >> (y % 8)) & 1))
            memcpy(row, row - (size_t)w * 4, (size_t)w * 4);
        for (int x = 0; x < w; x++) {
            uint8_t *p = row + 4 * x;
            for (int k = 0; k < 3; k++)
                if (p[k] > p[3])
                    p[k] = p[3];
        }
    }
    lb_png_opts o = {.level = level, .palette = palette};
    uint8_t *png = NULL;
    size_t len = 0;
    check(lb_png_encode(&c, &o, &png, &len, NULL) == LB_OK, "encode failed");
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    check(png_image_begin_read_from_memory(&im, png, len) != 0, "libpng rejects the header");
    im.format = PNG_FORMAT_RGBA;
    check((int)im.width == w && (int)im.height == h, "size differs");
    uint8_t *out = malloc(PNG_IMAGE_SIZE(im));
    check(out != NULL, "out of memory");
    check(png_image_finish_read(&im, NULL, out, 0, NULL) != 0, "libpng cannot decode the image");
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
        const uint8_t *s = c.px + 4 * i, *g = out + 4 * i;
        unsigned a = s[3];
        check(g[3] == a, "alpha differs");
        for (int k = 0; k < 3; k++) {
            unsigned want = 0;
            if (a) {
                uint32_t f = (255u * 65536u + a / 2) / a;
                uint32_t v = (s[k] * f + 32768u) >> 16;
                want = v > 255 ? 255 : v;
            }
            check(g[k] == want, "colour differs");
        }
    }
    free(out);
    free(png);
    lb_canvas_free(&c);
    return 0;
}
