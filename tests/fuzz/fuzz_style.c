/*
 * libFuzzer target: the style loader (styles/style.c, expressions in
 * styles/expr.c, colours in styles/color.c).
 *
 * The input is the whole style file.  lb_style_load must either succeed or
 * fail with a diagnostic; a loaded style is then evaluated the way the
 * tiler does -- every style layer at several zooms for a few synthetic
 * features (no properties; strings, numbers including NaN and infinities,
 * booleans) plus the legend -- so that expressions, colours and their
 * conversions run, with UBSan watching float-to-int casts.
 */
#define _GNU_SOURCE 1 /* memfd_create, in fuzz_file.h */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_file.h"
#include "lagebild/style.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_style: invariant violated: %s\n", what);
        abort();
    }
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Values that the shipped styles compare against, and some awkward ones. */
static const char *const strings[] = {
    "", "0", "1", "true", "#ff0000", "red", "MSR", "Vollsperrung", "geplant",
    "aufgehoben", "Räumung angeordnet", "VS-NfD", "GEHEIM", "x\xc3\xa4y", "1e400",
};
static const double numbers[] = {0, 1, -1, 0.5, 7, 255, 256, 1e9, -1e9, 1e308, NAN, INFINITY, -INFINITY, 4294967296.0};

/* A feature: kind 0 strings, 1 numbers, 2 booleans, 3 a mix; ud points at it. */
typedef struct feature {
    int kind;
    uint32_t salt;
} feature;

static lb_value get_prop(void *ud, const char *name)
{
    const feature *f = ud;
    uint32_t h = hash(name) ^ f->salt;
    int kind = f->kind == 3 ? (int)(h % 4) : f->kind;
    lb_value v = {.type = LB_VAL_NULL};
    switch (kind) {
    case 0:
        v.type = LB_VAL_STR;
        v.str = strings[h % (sizeof strings / sizeof *strings)];
        break;
    case 1:
        v.type = LB_VAL_NUM;
        v.num = numbers[h % (sizeof numbers / sizeof *numbers)];
        break;
    case 2:
        v.type = LB_VAL_BOOL;
        v.num = h & 1;
        break;
    default:
        break; /* absent */
    }
    return v;
}

static void use_paint(const lb_paint *p)
{
    /* Touch what the tiler reads; the counts must be in range. */
    check(p->ndash <= LB_MAX_DASH, "dash count out of range");
    volatile double sink = p->line_width + p->radius + p->stroke_width + p->miter_limit;
    for (size_t i = 0; i < p->ndash; i++)
        sink += p->dash[i];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_write(data, size, ".json");
    lb_style *s = NULL;
    char *diag = NULL;
    lb_status st = lb_style_load(path, &s, &diag);
    if (getenv("LB_FUZZ_VERBOSE")) /* to look at one input: LB_FUZZ_VERBOSE=1 ./fuzz_x file */
        fprintf(stderr, "status %d\n%s", (int)st, diag ? diag : "");
    if (st != LB_OK) {
        check(s == NULL, "a failed load returned a style");
        check(diag != NULL || st == LB_ENOMEM, "a failed load without a diagnostic");
        free(diag);
        return 0;
    }
    check(s != NULL, "LB_OK without a style");

    size_t np = 0;
    const char *const *props = lb_style_properties(s, &np);
    for (size_t i = 0; i < np; i++)
        check(props && props[i] && strlen(props[i]) < 1u << 20, "property name");
    (void)lb_style_name(s);

    static const double zooms[] = {0, 5.5, 8, 12, 14.25, 16, 22, 30};
    feature feats[] = {{0, 0}, {1, 0}, {2, 0}, {3, 0}, {0, 0x9e3779b9u}, {1, 0x85ebca6bu}, {3, 0xc2b2ae35u}};
    size_t nl = lb_style_layer_count(s);
    for (size_t i = 0; i < nl; i++) {
        check(lb_style_layer_id(s, i) != NULL, "layer id");
        check(lb_style_layer_title(s, i) != NULL, "layer title");
        lb_style_type t = lb_style_layer_type(s, i);
        check(t == LB_STYLE_FILL || t == LB_STYLE_LINE || t == LB_STYLE_CIRCLE, "layer type");
        for (size_t z = 0; z < sizeof zooms / sizeof *zooms; z++) {
            lb_paint p;
            if (lb_style_eval(s, i, zooms[z], NULL, NULL, &p))
                use_paint(&p);
            for (size_t f = 0; f < sizeof feats / sizeof *feats; f++)
                if (lb_style_eval(s, i, zooms[z], get_prop, &feats[f], &p))
                    use_paint(&p);
            if (lb_style_legend(s, i, zooms[z], &p))
                use_paint(&p);
        }
    }
    check(lb_style_layer_id(s, nl) == NULL, "layer id past the end");
    lb_style_free(s);
    free(diag);
    return 0;
}
