/*
 * Tests of the style loader and evaluator (styles/): every test writes a
 * style file into a temporary folder, loads it and evaluates its layers for
 * made-up features.  Fixtures are written with single quotes for
 * readability; J() turns them into JSON's double quotes.  Expected line
 * numbers are computed from the fixture text (line_of), so editing a
 * fixture does not silently shift them.
 */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lagebild/style.h"

#include "lbtest.h"

#ifndef LB_SOURCE_DIR
#define LB_SOURCE_DIR "."
#endif

/* ---- fixtures --------------------------------------------------------- */

static char dir[PATH_MAX];
static char style_path[PATH_MAX + 16];

static void cleanup(void)
{
    if (style_path[0])
        unlink(style_path);
    if (dir[0])
        rmdir(dir);
}

/* Path of the style file all tests (re)write. */
static const char *path_for_test(void)
{
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/lb_test_style_XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
            abort();
        }
        snprintf(style_path, sizeof style_path, "%s/style.json", dir);
        atexit(cleanup);
    }
    return style_path;
}

/* The fixture with ' replaced by " (a few rotating static buffers). */
static const char *J(const char *text)
{
    static char buf[4][32768];
    static int k;
    char *b = buf[k++ % 4];
    size_t n = strlen(text);
    if (n >= sizeof buf[0])
        abort();
    for (size_t i = 0; i <= n; i++)
        b[i] = text[i] == '\'' ? '"' : text[i];
    return b;
}

static char last_text[32768]; /* the JSON last written */

static void write_style(const char *sq)
{
    const char *path = path_for_test();
    snprintf(last_text, sizeof last_text, "%s", J(sq));
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "fopen %s: %s\n", path, strerror(errno));
        abort();
    }
    fputs(last_text, f);
    fclose(f);
}

static lb_status load(const char *sq, lb_style **s, char **diag)
{
    write_style(sq);
    return lb_style_load(style_path, s, diag);
}

/* Load a fixture that must be valid. */
static lb_style *load_ok(const char *sq)
{
    lb_style *s = NULL;
    char *diag = NULL;
    lb_status st = load(sq, &s, &diag);
    if (st != LB_OK)
        fprintf(stderr, "  status %s, diag:\n%s", lb_status_name(st), diag ? diag : "(none)\n");
    free(diag);
    ASSERT_EQ(st, LB_OK);
    ASSERT(s != NULL);
    return s;
}

/* Load a fixture that must fail with LB_ECONFIG; returns the diag (caller frees). */
static char *load_bad(const char *sq)
{
    lb_style *s = (lb_style *)1;
    char *diag = NULL;
    lb_status st = load(sq, &s, &diag);
    if (st != LB_ECONFIG)
        fprintf(stderr, "  status %s, diag:\n%s", lb_status_name(st), diag ? diag : "(none)\n");
    ASSERT_EQ(st, LB_ECONFIG);
    ASSERT(s == NULL);
    ASSERT(diag != NULL);
    return diag;
}

/* 1-based line of the first occurrence of needle (single-quoted) in the last fixture. */
static int line_of(const char *needle)
{
    const char *p = strstr(last_text, J(needle));
    if (!p)
        return 0;
    int line = 1;
    for (const char *q = last_text; q < p; q++)
        line += *q == '\n';
    return line;
}

/* "style_path:LINE: message" with LINE that of needle */
static const char *at(const char *needle, const char *fmt, ...)
{
    static char buf[4][1024];
    static int k;
    char *b = buf[k++ % 4];
    int n = snprintf(b, sizeof buf[0], "%s:%d: ", style_path, line_of(needle));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b + n, sizeof buf[0] - (size_t)n, fmt, ap);
    va_end(ap);
    return b;
}

/* ---- features --------------------------------------------------------- */

typedef struct tprop {
    const char *name;
    lb_value v;
} tprop;

#define PS(n, s)                                                                                   \
    {                                                                                              \
        n,                                                                                         \
        {                                                                                          \
            .type = LB_VAL_STR, .str = s                                                           \
        }                                                                                          \
    }
#define PN(n, x)                                                                                   \
    {                                                                                              \
        n,                                                                                         \
        {                                                                                          \
            .type = LB_VAL_NUM, .num = x                                                           \
        }                                                                                          \
    }
#define PB(n, b)                                                                                   \
    {                                                                                              \
        n,                                                                                         \
        {                                                                                          \
            .type = LB_VAL_BOOL, .num = b                                                          \
        }                                                                                          \
    }
#define PEND                                                                                       \
    {                                                                                              \
        NULL,                                                                                      \
        {                                                                                          \
            .type = LB_VAL_NULL                                                                    \
        }                                                                                          \
    }

static int ncalls; /* calls of tget */

static lb_value tget(void *ud, const char *name)
{
    ncalls++;
    for (const tprop *p = ud; p && p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p->v;
    return (lb_value){.type = LB_VAL_NULL};
}

static const tprop no_props[] = {PEND};

static bool eval(const lb_style *s, size_t i, double zoom, const tprop *props, lb_paint *p)
{
    return lb_style_eval(s, i, zoom, tget, (void *)props, p);
}

#define ASSERT_RGBA(c, R, G, B, A)                                                                 \
    do {                                                                                           \
        lb_rgba lbt_c = (c);                                                                       \
        int lbt_e[4] = {(R), (G), (B), (A)}, lbt_v[4] = {lbt_c.r, lbt_c.g, lbt_c.b, lbt_c.a};      \
        for (int lbt_i = 0; lbt_i < 4; lbt_i++)                                                    \
            if (abs(lbt_v[lbt_i] - lbt_e[lbt_i]) > 1)                                              \
                LBT__FAIL("%s = (%d,%d,%d,%d), expected (%d,%d,%d,%d)", #c, lbt_v[0], lbt_v[1],    \
                          lbt_v[2], lbt_v[3], lbt_e[0], lbt_e[1], lbt_e[2], lbt_e[3]);             \
    } while (0)

/* Sentinel returned by num_of when the expression failed (radius default 5). */
#define FAILED (-995.0)

/* The value of a numeric expression: circle-radius ["+", 1000, expr] minus 1000. */
static double num_of(const char *expr, double zoom, const tprop *props)
{
    char text[8192];
    snprintf(text, sizeof text,
             "{'version': 8, 'layers': [{'id': 'x', 'type': 'circle', 'paint': {\n"
             "  'circle-color': 'red', 'circle-radius': ['+', 1000, %s]}}]}",
             expr);
    lb_style *s = load_ok(text);
    lb_paint p;
    bool ok = eval(s, 0, zoom, props, &p);
    lb_style_free(s);
    ASSERT(ok);
    return p.radius - 1000;
}

/* Whether filter lets a feature through (1) or not (0). */
static int filter_of(const char *filter, const tprop *props)
{
    char text[8192];
    snprintf(text, sizeof text,
             "{'version': 8, 'layers': [{'id': 'x', 'type': 'circle', 'filter': %s,\n"
             "  'paint': {'circle-color': 'red'}}]}",
             filter);
    lb_style *s = load_ok(text);
    lb_paint p;
    bool ok = eval(s, 0, 10, props, &p);
    lb_style_free(s);
    return ok;
}

/* The colour (premultiplied) of a colour expression, via fill-color. */
static lb_rgba color_of(const char *expr, double zoom, const tprop *props)
{
    char text[8192];
    snprintf(text, sizeof text,
             "{'version': 8, 'layers': [{'id': 'x', 'type': 'fill', 'paint': {\n"
             "  'fill-color': %s, 'fill-outline-color': '#010203'}}]}",
             expr);
    lb_style *s = load_ok(text);
    lb_paint p;
    bool ok = eval(s, 0, zoom, props, &p);
    lb_style_free(s);
    ASSERT(ok);
    return p.fill;
}

/* The diag of a style whose circle-radius (line 2) is expr; caller frees. */
static char *bad_expr(const char *expr)
{
    char text[8192];
    snprintf(text, sizeof text,
             "{'version': 8, 'layers': [{'id': 'x', 'type': 'circle', 'paint': {\n"
             "  'circle-radius': %s}}]}",
             expr);
    return load_bad(text);
}

/* ---- basics ----------------------------------------------------------- */

LB_TEST(test_minimal_layers_and_defaults)
{
    lb_style *s = load_ok("{\n"
                          "  'version': 8,\n"
                          "  'name': 'Test',\n"
                          "  'metadata': {'maputnik:renderer': 'mlgljs'},\n"
                          "  'layers': [\n"
                          "    {'id': 'areas', 'type': 'fill'},\n"
                          "    {'id': 'lines', 'type': 'line',\n"
                          "     'metadata': {'lagebild:legend': 'Straßen', 'x:y': 1}},\n"
                          "    {'id': 'points', 'type': 'circle'}\n"
                          "  ]\n"
                          "}\n");
    ASSERT_EQ(lb_style_layer_count(s), 3);
    ASSERT_STREQ(lb_style_name(s), "Test");
    ASSERT_STREQ(lb_style_layer_id(s, 0), "areas");
    ASSERT_STREQ(lb_style_layer_id(s, 2), "points");
    ASSERT(lb_style_layer_id(s, 3) == NULL);
    ASSERT_EQ(lb_style_layer_type(s, 0), LB_STYLE_FILL);
    ASSERT_EQ(lb_style_layer_type(s, 1), LB_STYLE_LINE);
    ASSERT_EQ(lb_style_layer_type(s, 2), LB_STYLE_CIRCLE);
    ASSERT_STREQ(lb_style_layer_title(s, 0), "areas");
    ASSERT_STREQ(lb_style_layer_title(s, 1), "Straßen");
    size_t n = 99;
    lb_style_properties(s, &n);
    ASSERT_EQ(n, 0);

    lb_paint p;
    ASSERT(eval(s, 0, 10, no_props, &p));
    ASSERT_EQ(p.type, LB_STYLE_FILL);
    ASSERT_RGBA(p.fill, 0, 0, 0, 255); /* MapLibre default: black */
    ASSERT(!p.has_outline);

    ASSERT(eval(s, 1, 10, no_props, &p));
    ASSERT_EQ(p.type, LB_STYLE_LINE);
    ASSERT_RGBA(p.line, 0, 0, 0, 255);
    ASSERT_NEAR(p.line_width, 1, 0);
    ASSERT_EQ(p.join, LB_JOIN_MITER);
    ASSERT_EQ(p.cap, LB_CAP_BUTT);
    ASSERT_NEAR(p.miter_limit, 2, 0);
    ASSERT_EQ(p.ndash, 0);

    ASSERT(eval(s, 2, 10, no_props, &p));
    ASSERT_EQ(p.type, LB_STYLE_CIRCLE);
    ASSERT_EQ(p.marker, LB_MARKER_CIRCLE);
    ASSERT_NEAR(p.radius, 5, 0);
    ASSERT_RGBA(p.circle, 0, 0, 0, 255);
    ASSERT_NEAR(p.stroke_width, 0, 0);

    /* a NULL accessor is a feature without properties; bad indices are harmless */
    ASSERT(lb_style_eval(s, 2, 10, NULL, NULL, &p));
    ASSERT(!lb_style_eval(s, 3, 10, NULL, NULL, &p));
    ASSERT(lb_style_layer_title(s, 3) == NULL);
    lb_style_free(s);
    lb_style_free(NULL);
}

LB_TEST(test_colour_syntaxes_premultiplied)
{
    static const struct {
        const char *css;
        int r, g, b, a; /* premultiplied */
    } cases[] = {
        {"#f00", 255, 0, 0, 255},
        {"#F80", 255, 136, 0, 255},
        {"#f008", 136, 0, 0, 136},
        {"#336699", 51, 102, 153, 255},
        {"#33669980", 26, 51, 77, 128},
        {"rgb(255, 128, 0)", 255, 128, 0, 255},
        {"rgb(100%, 50%, 0%)", 255, 128, 0, 255},
        {"rgba(255, 0, 0, 0.5)", 128, 0, 0, 128},
        {"rgba(0,0,255,50%)", 0, 0, 128, 128},
        {"rgb(0 255 0 / 0.25)", 0, 64, 0, 64},
        {"RGB( 10 , 20 , 30 )", 10, 20, 30, 255},
        {"rgb(300, -5, 0)", 255, 0, 0, 255}, /* clamped, as in CSS */
        {"hsl(0, 100%, 50%)", 255, 0, 0, 255},
        {"hsl(120, 100%, 25%)", 0, 128, 0, 255},
        {"hsl(240deg, 100%, 50%)", 0, 0, 255, 255},
        {"hsl(-120, 100%, 50%)", 0, 0, 255, 255},
        {"hsla(60, 100%, 50%, 0.5)", 128, 128, 0, 128},
        {"hsl(210 50% 40% / 50%)", 26, 51, 77, 128},
        {"red", 255, 0, 0, 255},
        {"RebeccaPurple", 102, 51, 153, 255},
        {"olivedrab", 107, 142, 35, 255},
        {"grey", 128, 128, 128, 255},
        {"gray", 128, 128, 128, 255},
        {"lightgoldenrodyellow", 250, 250, 210, 255},
        {"navy", 0, 0, 128, 255},
        {"purple", 128, 0, 128, 255},
        {"whitesmoke", 245, 245, 245, 255},
        {" white ", 255, 255, 255, 255},
        {"transparent", 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char expr[128];
        snprintf(expr, sizeof expr, "'%s'", cases[i].css);
        fprintf(stderr, "  %s\n", cases[i].css);
        ASSERT_RGBA(color_of(expr, 10, no_props), cases[i].r, cases[i].g, cases[i].b, cases[i].a);
    }
    /* opacity multiplies alpha; the result stays premultiplied */
    lb_style *s =
        load_ok("{'version': 8, 'layers': [\n"
                "  {'id': 'a', 'type': 'fill',\n"
                "   'paint': {'fill-color': 'rgba(255, 255, 0, 0.5)', 'fill-opacity': 0.5,\n"
                "             'fill-outline-color': '#0000ff'}},\n"
                "  {'id': 'b', 'type': 'line', 'paint': {'line-color': '#ff000080',\n"
                "             'line-opacity': 0.5}},\n"
                "  {'id': 'c', 'type': 'circle', 'paint': {'circle-color': 'white',\n"
                "   'circle-opacity': 0.2, 'circle-stroke-color': 'black',\n"
                "   'circle-stroke-opacity': 0.6, 'circle-stroke-width': 1}}]}");
    lb_paint p;
    ASSERT(eval(s, 0, 10, no_props, &p));
    ASSERT_RGBA(p.fill, 64, 64, 0, 64);
    ASSERT(p.has_outline);
    ASSERT_RGBA(p.outline, 0, 0, 128, 128); /* outline x fill-opacity */
    ASSERT(eval(s, 1, 10, no_props, &p));
    ASSERT_RGBA(p.line, 64, 0, 0, 64);
    ASSERT(eval(s, 2, 10, no_props, &p));
    ASSERT_RGBA(p.circle, 51, 51, 51, 51);
    ASSERT_RGBA(p.stroke, 0, 0, 0, 153);
    lb_style_free(s);
}

LB_TEST(test_bad_colours)
{
    static const char *const bad[] = {
        "#12345",          "#ggg",
        "rgb(1, 2)",       "rgb(1, 2, 3, 4, 5)",
        "rgb(1 2, 3)",     "rgb(1 2 3 4)",
        "hsl(10, 20, 30)", "hsl(10%, 20%, 30%)",
        "bluish",          "",
        "rgb(1,2,3",       "red blue",
        "rgb(nan, 1, 2)",  "rgbx(1,2,3)",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{'version': 8, 'layers': [{'id': 'x', 'type': 'fill', 'paint': {\n"
                 "  'fill-color': '%s'}}]}",
                 bad[i]);
        fprintf(stderr, "  '%s'\n", bad[i]);
        char *diag = load_bad(text);
        char msg[256];
        snprintf(msg, sizeof msg,
                 "layer 'x': paint 'fill-color': the string '%s' is not a colour (use #rrggbb",
                 bad[i]);
        ASSERT_CONTAINS(diag, at("'fill-color'", "%s", msg));
        free(diag);
    }
    /* a colour from a feature that is no colour: the default (black) */
    const tprop props[] = {PS("farbe", "kein rot"), PEND};
    ASSERT_RGBA(color_of("['get', 'farbe']", 10, props), 0, 0, 0, 255);
    const tprop good[] = {PS("farbe", "#00ff00"), PEND};
    ASSERT_RGBA(color_of("['get', 'farbe']", 10, good), 0, 255, 0, 255);
}

/* ---- expressions ------------------------------------------------------ */

LB_TEST(test_literal_get_has)
{
    const tprop props[] = {PN("n", 7.5), PS("s", "abc"), PB("b", true), PS("num_s", "12"), PEND};
    ASSERT_NEAR(num_of("['get', 'n']", 10, props), 7.5, 1e-12);
    ASSERT_NEAR(num_of("['literal', 3]", 10, props), 3, 0);
    ASSERT_NEAR(num_of("42", 10, props), 42, 0);
    /* a string where a number is needed fails: the default radius */
    ASSERT_NEAR(num_of("['get', 's']", 10, props), FAILED, 0);
    ASSERT_NEAR(num_of("['get', 'num_s']", 10, props), FAILED, 0);
    ASSERT_NEAR(num_of("['get', 'missing']", 10, props), FAILED, 0);
    ASSERT_EQ(filter_of("['get', 'b']", props), 1);
    ASSERT_EQ(filter_of("['get', 'n']", props), 0); /* not a boolean: false */
    ASSERT_EQ(filter_of("['has', 's']", props), 1);
    ASSERT_EQ(filter_of("['has', 'missing']", props), 0);
    ASSERT_EQ(filter_of("['==', ['get', 's'], ['literal', 'abc']]", props), 1);
    ASSERT_EQ(filter_of("['==', ['get', 'missing'], null]", props), 1);
    ASSERT_EQ(filter_of("['==', ['literal', true], ['get', 'b']]", props), 1);
}

LB_TEST(test_not_and_comparisons)
{
    const tprop props[] = {PN("n", 5), PS("s", "m"), PN("zero", 0), PEND};
    ASSERT_EQ(filter_of("['!', ['has', 'n']]", props), 0);
    ASSERT_EQ(filter_of("['!', ['has', 'x']]", props), 1);
    ASSERT_EQ(filter_of("['==', ['get', 'n'], 5]", props), 1);
    ASSERT_EQ(filter_of("['==', ['get', 'n'], '5']", props), 0); /* no coercion */
    ASSERT_EQ(filter_of("['!=', ['get', 'n'], '5']", props), 1);
    ASSERT_EQ(filter_of("['!=', ['get', 'n'], 5]", props), 0);
    ASSERT_EQ(filter_of("['!=', ['get', 'x'], 5]", props), 1);
    ASSERT_EQ(filter_of("['<', ['get', 'n'], 6]", props), 1);
    ASSERT_EQ(filter_of("['<', ['get', 'n'], 5]", props), 0);
    ASSERT_EQ(filter_of("['<=', ['get', 'n'], 5]", props), 1);
    ASSERT_EQ(filter_of("['>', ['get', 'n'], 4.5]", props), 1);
    ASSERT_EQ(filter_of("['>', ['get', 'n'], 5]", props), 0);
    ASSERT_EQ(filter_of("['>=', ['get', 'n'], 5]", props), 1);
    ASSERT_EQ(filter_of("['>=', ['get', 'zero'], 0.001]", props), 0);
    ASSERT_EQ(filter_of("['<', ['get', 's'], 'n']", props), 1); /* strings: code point order */
    ASSERT_EQ(filter_of("['>', ['get', 's'], 'M']", props), 1);
    ASSERT_EQ(filter_of("['>=', ['get', 's'], 'm']", props), 1);
    /* mixed types at run time: an evaluation error, so the filter is false */
    ASSERT_EQ(filter_of("['<', ['get', 's'], 6]", props), 0);
    ASSERT_EQ(filter_of("['!', ['<', ['get', 's'], 6]]", props), 0);
    /* at load time */
    char *diag = bad_expr("['case', ['<', 'a', 1], 1, 2]");
    ASSERT_CONTAINS(diag, at("'circle-radius'", "layer 'x': paint 'circle-radius': \"<\" cannot "
                                                "compare a string with a number\n"));
    free(diag);
    diag = bad_expr("['case', ['<', true, 1], 1, 2]");
    ASSERT_CONTAINS(diag, "\"<\" cannot compare a boolean");
    free(diag);
    diag = bad_expr("['case', ['==', 1, 2, ['collator', {}]], 1, 2]");
    ASSERT_CONTAINS(diag, "\"==\": collators are not supported");
    free(diag);
}

LB_TEST(test_all_any)
{
    const tprop props[] = {PN("n", 5), PS("s", "m"), PEND};
    ASSERT_EQ(filter_of("['all']", props), 1);
    ASSERT_EQ(filter_of("['any']", props), 0);
    ASSERT_EQ(filter_of("['all', ['has', 'n'], ['has', 's']]", props), 1);
    ASSERT_EQ(filter_of("['all', ['has', 'n'], ['has', 'x']]", props), 0);
    ASSERT_EQ(filter_of("['any', ['has', 'x'], ['has', 's']]", props), 1);
    ASSERT_EQ(filter_of("['any', ['has', 'x'], ['has', 'y']]", props), 0);
    /* short-circuit: the failing comparison after the deciding value is not evaluated */
    ASSERT_EQ(filter_of("['any', ['has', 'n'], ['<', ['get', 's'], 1]]", props), 1);
    ASSERT_EQ(filter_of("['all', ['has', 'x'], ['<', ['get', 's'], 1]]", props), 0);
    ASSERT_EQ(filter_of("['all', ['has', 'n'], ['<', ['get', 's'], 1]]", props), 0);
    char *diag = bad_expr("['case', ['all', 1], 1, 2]");
    ASSERT_CONTAINS(diag, "expected a boolean, got the number 1");
    free(diag);
}

LB_TEST(test_case_and_coalesce)
{
    const tprop p1[] = {PN("prio", 1), PEND};
    const tprop p2[] = {PN("prio", 2), PN("w", 3), PEND};
    const tprop p3[] = {PS("prio", "hoch"), PEND};
    const char *c = "['case', ['==', ['get', 'prio'], 1], 10, ['==', ['get', 'prio'], 2], 20, 30]";
    ASSERT_NEAR(num_of(c, 10, p1), 10, 0);
    ASSERT_NEAR(num_of(c, 10, p2), 20, 0);
    ASSERT_NEAR(num_of(c, 10, p3), 30, 0);
    ASSERT_NEAR(num_of(c, 10, no_props), 30, 0);
    /* a non-boolean condition is an error */
    ASSERT_NEAR(num_of("['case', ['get', 'prio'], 1, 2]", 10, p1), FAILED, 0);

    ASSERT_NEAR(num_of("['coalesce', ['get', 'w'], ['get', 'prio'], 9]", 10, p2), 3, 0);
    ASSERT_NEAR(num_of("['coalesce', ['get', 'w'], ['get', 'prio'], 9]", 10, p1), 1, 0);
    ASSERT_NEAR(num_of("['coalesce', ['get', 'w'], 9]", 10, no_props), 9, 0);
    ASSERT_NEAR(num_of("['coalesce', ['get', 'w']]", 10, no_props), FAILED, 0);
    ASSERT_RGBA(color_of("['coalesce', ['get', 'farbe'], 'blue']", 10, no_props), 0, 0, 255, 255);

    char *diag = bad_expr("['case', true, 1, false, 2]");
    ASSERT_CONTAINS(diag, at("'circle-radius'", "layer 'x': paint 'circle-radius': \"case\" needs "
                                                "condition/output pairs and a fallback (an odd "
                                                "number of arguments), got 4\n"));
    free(diag);
    diag = bad_expr("['case', true, 1]");
    ASSERT_CONTAINS(diag, "\"case\" expects at least 3 arguments, got 2");
    free(diag);
    diag = bad_expr("['case', true, 'big', 2]");
    ASSERT_CONTAINS(diag, "expected a number, got the string 'big'");
    free(diag);
    diag = bad_expr("['coalesce']");
    ASSERT_CONTAINS(diag, "\"coalesce\" expects at least 1 argument, got 0");
    free(diag);
}

LB_TEST(test_match_labels)
{
    const char *m = "['match', ['get', 'kind'],\n"
                    "  ['Vollsperrung', 'Teilsperrung'], 10,\n"
                    "  'Kontrollstelle', 20,\n"
                    "  30]";
    const tprop voll[] = {PS("kind", "Vollsperrung"), PEND};
    const tprop teil[] = {PS("kind", "Teilsperrung"), PEND};
    const tprop kontrolle[] = {PS("kind", "Kontrollstelle"), PEND};
    const tprop other[] = {PS("kind", "Deichbruch"), PEND};
    const tprop number[] = {PN("kind", 3), PEND};
    ASSERT_NEAR(num_of(m, 10, voll), 10, 0);
    ASSERT_NEAR(num_of(m, 10, teil), 10, 0);
    ASSERT_NEAR(num_of(m, 10, kontrolle), 20, 0);
    ASSERT_NEAR(num_of(m, 10, other), 30, 0);
    ASSERT_NEAR(num_of(m, 10, number), 30, 0); /* wrong type: the fallback */
    ASSERT_NEAR(num_of(m, 10, no_props), 30, 0);

    /* numeric labels; many labels (binary search) */
    const char *mn = "['match', ['get', 'prio'], [1, 2], 1, 3, 3, [4, 5, 6, 7, 8, 9, 10, 11], 4, "
                     "-1, 5, 0]";
    for (int prio = -2; prio <= 12; prio++) {
        const tprop p[] = {PN("prio", prio), PEND};
        double want = prio == 1 || prio == 2    ? 1
                      : prio == 3               ? 3
                      : prio >= 4 && prio <= 11 ? 4
                      : prio == -1              ? 5
                                                : 0;
        ASSERT_NEAR(num_of(mn, 10, p), want, 0);
    }
    const tprop frac[] = {PN("prio", 1.5), PEND};
    ASSERT_NEAR(num_of(mn, 10, frac), 0, 0);

    /* colours as outputs are parsed at load time */
    ASSERT_RGBA(color_of("['match', ['get', 'kind'], 'Deichbruch', 'red', 'green']", 10, other),
                255, 0, 0, 255);
    ASSERT_RGBA(color_of("['match', ['get', 'kind'], 'Deichbruch', 'red', 'green']", 10, voll), 0,
                128, 0, 255);

    char *diag = bad_expr("['match', ['get', 'k'],\n  'a', 1,\n  ['b', 'a'], 2, 0]");
    ASSERT_CONTAINS(diag, at("['b', 'a']", "layer 'x': paint 'circle-radius': \"match\": label "
                                           "the string 'a' appears more than once\n"));
    free(diag);
    diag = bad_expr("['match', ['get', 'k'], 1.5, 1, 0]");
    ASSERT_CONTAINS(diag, "\"match\": numeric labels must be integers, got 1.5");
    free(diag);
    diag = bad_expr("['match', ['get', 'k'], 'a', 1, 2, 2, 0]");
    ASSERT_CONTAINS(diag, "\"match\": all labels must have the same type (string), got the "
                          "number 2");
    free(diag);
    diag = bad_expr("['match', ['get', 'k'], 'a', 1]");
    ASSERT_CONTAINS(diag, "\"match\" expects at least 4 arguments, got 3");
    free(diag);
    diag = bad_expr("['match', ['get', 'k'], 'a', 1, 'b', 0]");
    ASSERT_CONTAINS(diag, "\"match\" needs an input, label/output pairs and a fallback (an even "
                          "number of arguments), got 5");
    free(diag);
    diag = bad_expr("['match', ['to-number', ['get', 'k']], 'a', 1, 0]");
    ASSERT_CONTAINS(diag, "expected a string, but \"to-number\" produces a number");
    free(diag);
    diag = bad_expr("['match', ['get', 'k'], [], 1, 0]");
    ASSERT_CONTAINS(diag, "\"match\": an empty list of labels");
    free(diag);
    diag = bad_expr("['match', ['get', 'k'], true, 1, 0]");
    ASSERT_CONTAINS(diag, "\"match\": labels must be strings or numbers, got true");
    free(diag);
}

LB_TEST(test_conversions_and_assertions)
{
    const tprop props[] = {
        PS("s", "12.5"), PS("blank", "  "),      PS("word", "zwölf"), PB("t", true),
        PN("n", 0.1),    PS("farbe", "#ff0000"), PS("padded", " 7 "), PEND};
    ASSERT_NEAR(num_of("['to-number', ['get', 's']]", 10, props), 12.5, 1e-12);
    ASSERT_NEAR(num_of("['to-number', ['get', 'padded']]", 10, props), 7, 0);
    ASSERT_NEAR(num_of("['to-number', ['get', 'blank']]", 10, props), 0, 0);
    ASSERT_NEAR(num_of("['to-number', ['get', 'missing']]", 10, props), 0, 0);
    ASSERT_NEAR(num_of("['to-number', ['get', 't']]", 10, props), 1, 0);
    ASSERT_NEAR(num_of("['to-number', ['get', 'word']]", 10, props), FAILED, 0);
    ASSERT_NEAR(num_of("['to-number', ['get', 'word'], ['get', 's']]", 10, props), 12.5, 1e-12);
    ASSERT_NEAR(num_of("['to-number', 'inf']", 10, props), FAILED, 0);

    ASSERT_EQ(filter_of("['==', ['to-string', ['get', 'n']], '0.1']", props), 1);
    ASSERT_EQ(filter_of("['==', ['to-string', 3], '3']", props), 1);
    /* numbers are written as JavaScript does */
    static const char *const js[][2] = {{"-2.5e-7", "-2.5e-7"},
                                        {"1e21", "1e+21"},
                                        {"1e20", "100000000000000000000"},
                                        {"0.000001", "0.000001"},
                                        {"123.456", "123.456"},
                                        {"-0.5", "-0.5"},
                                        {"100", "100"},
                                        {"1.7976931348623157e308", "1.7976931348623157e+308"},
                                        {"5e-324", "5e-324"},
                                        {"0.1", "0.1"},
                                        {"-0", "0"}};
    for (size_t i = 0; i < sizeof js / sizeof js[0]; i++) {
        char f[256];
        snprintf(f, sizeof f, "['==', ['to-string', ['+', 0, %s]], '%s']", js[i][0], js[i][1]);
        fprintf(stderr, "  %s\n", f);
        ASSERT_EQ(filter_of(f, props), 1);
    }
    ASSERT_EQ(filter_of("['==', ['to-string', ['get', 't']], 'true']", props), 1);
    ASSERT_EQ(filter_of("['==', ['to-string', ['get', 'missing']], '']", props), 1);
    ASSERT_EQ(filter_of("['==', ['to-string', ['get', 'word']], 'zwölf']", props), 1);
    ASSERT_EQ(filter_of("['==', ['to-string', ['to-color', 'red']], 'rgba(255,0,0,1)']", props), 1);
    ASSERT_EQ(filter_of("['==', ['to-string', ['get', 'n']], ['to-string', 0.1]]", props), 1);

    ASSERT_EQ(filter_of("['to-boolean', ['get', 's']]", props), 1);
    ASSERT_EQ(filter_of("['to-boolean', ['get', 'missing']]", props), 0);
    ASSERT_EQ(filter_of("['to-boolean', 0]", props), 0);
    ASSERT_EQ(filter_of("['to-boolean', ['get', 'n']]", props), 1);
    ASSERT_EQ(filter_of("['to-boolean', '']", props), 0);

    ASSERT_RGBA(color_of("['to-color', ['get', 'word'], ['get', 'farbe']]", 10, props), 255, 0, 0,
                255);
    ASSERT_RGBA(color_of("['to-color', ['get', 'word']]", 10, props), 0, 0, 0, 255); /* failed */

    ASSERT_NEAR(num_of("['number', ['get', 's'], ['get', 'n'], 3]", 10, props), 0.1, 1e-12);
    ASSERT_NEAR(num_of("['number', ['get', 's']]", 10, props), FAILED, 0);
    ASSERT_EQ(filter_of("['==', ['string', ['get', 'n'], ['get', 's']], '12.5']", props), 1);
    ASSERT_EQ(filter_of("['boolean', ['get', 'n'], ['get', 't']]", props), 1);
    ASSERT_EQ(filter_of("['boolean', ['get', 'n']]", props), 0);
}

LB_TEST(test_arithmetic)
{
    const tprop props[] = {PN("a", 7), PN("b", 2), PEND};
    ASSERT_NEAR(num_of("['+', ['get', 'a'], ['get', 'b'], 1]", 10, props), 10, 0);
    ASSERT_NEAR(num_of("['-', ['get', 'a'], ['get', 'b']]", 10, props), 5, 0);
    ASSERT_NEAR(num_of("['-', ['get', 'a']]", 10, props), -7, 0);
    ASSERT_NEAR(num_of("['*', ['get', 'a'], ['get', 'b'], 0.5]", 10, props), 7, 0);
    ASSERT_NEAR(num_of("['/', ['get', 'a'], ['get', 'b']]", 10, props), 3.5, 0);
    ASSERT_NEAR(num_of("['%', ['get', 'a'], ['get', 'b']]", 10, props), 1, 0);
    ASSERT_NEAR(num_of("['%', -7, 2]", 10, props), -1, 0);
    ASSERT_NEAR(num_of("['^', ['get', 'b'], 10]", 10, props), 1024, 0);
    ASSERT_NEAR(num_of("['min', ['get', 'a'], ['get', 'b'], 4]", 10, props), 2, 0);
    ASSERT_NEAR(num_of("['max', ['get', 'a'], ['get', 'b'], 4]", 10, props), 7, 0);
    ASSERT_NEAR(num_of("['abs', -3.5]", 10, props), 3.5, 0);
    ASSERT_NEAR(num_of("['floor', -3.5]", 10, props), -4, 0);
    ASSERT_NEAR(num_of("['ceil', 3.2]", 10, props), 4, 0);
    ASSERT_NEAR(num_of("['round', 2.5]", 10, props), 3, 0);
    ASSERT_NEAR(num_of("['round', -2.5]", 10, props), -3, 0); /* half away from zero */
    ASSERT_NEAR(num_of("['*', ['zoom'], 2]", 7.25, props), 14.5, 0);
    /* a missing operand is an evaluation error */
    ASSERT_NEAR(num_of("['+', ['get', 'a'], ['get', 'x']]", 10, props), FAILED, 0);

    char *diag = bad_expr("['/', 1, 2, 3]");
    ASSERT_CONTAINS(diag, at("'circle-radius'", "layer 'x': paint 'circle-radius': \"/\" expects 2 "
                                                "arguments, got 3\n"));
    free(diag);
    diag = bad_expr("['-', 1, 2, 3]");
    ASSERT_CONTAINS(diag, "\"-\" expects 1 to 2 arguments, got 3");
    free(diag);
    diag = bad_expr("['+', 1]");
    ASSERT_CONTAINS(diag, "\"+\" expects at least 2 arguments, got 1");
    free(diag);
    diag = bad_expr("['+', 1, 'zwei']");
    ASSERT_CONTAINS(diag, "expected a number, got the string 'zwei'");
    free(diag);
    diag = bad_expr("['zoom', 1]");
    ASSERT_CONTAINS(diag, "\"zoom\" expects 0 arguments, got 1");
    free(diag);
}

LB_TEST(test_interpolate_linear_fractional_zoom)
{
    const char *e = "['interpolate', ['linear'], ['zoom'], 10, 2, 14, 10, 16, 11]";
    ASSERT_NEAR(num_of(e, 0, no_props), 2, 1e-12); /* below the first stop */
    ASSERT_NEAR(num_of(e, 10, no_props), 2, 1e-12);
    ASSERT_NEAR(num_of(e, 10.5, no_props), 3, 1e-12);
    ASSERT_NEAR(num_of(e, 12.25, no_props), 6.5, 1e-12);
    ASSERT_NEAR(num_of(e, 14, no_props), 10, 1e-12);
    ASSERT_NEAR(num_of(e, 15.5, no_props), 10.75, 1e-12);
    ASSERT_NEAR(num_of(e, 16, no_props), 11, 1e-12);
    ASSERT_NEAR(num_of(e, 22, no_props), 11, 1e-12); /* above the last */
    /* a single stop is a constant */
    ASSERT_NEAR(num_of("['interpolate', ['linear'], ['zoom'], 5, 4]", 9.5, no_props), 4, 0);
    /* data-driven input */
    const tprop acc[] = {PN("accuracy_m", 55), PEND};
    ASSERT_NEAR(num_of("['interpolate', ['linear'], ['get', 'accuracy_m'], 0, 1, 100, 0]", 10, acc),
                0.45, 1e-12);
    /* a non-number input fails */
    const tprop sacc[] = {PS("accuracy_m", "55"), PEND};
    ASSERT_NEAR(
        num_of("['interpolate', ['linear'], ['get', 'accuracy_m'], 0, 1, 100, 0]", 10, sacc),
        FAILED, 0);
}

LB_TEST(test_interpolate_exponential)
{
    const char *e = "['interpolate', ['exponential', 2], ['zoom'], 10, 1, 14, 16]";
    for (double z = 9; z <= 15; z += 0.25) {
        double want;
        if (z <= 10)
            want = 1;
        else if (z >= 14)
            want = 16;
        else
            want = 1 + 15 * (pow(2, z - 10) - 1) / (pow(2, 4) - 1);
        ASSERT_NEAR(num_of(e, z, no_props), want, 1e-9);
    }
    ASSERT_NEAR(num_of(e, 12, no_props), 4, 1e-9); /* base 2: doubles per zoom level */
    /* base 1 is linear */
    ASSERT_NEAR(
        num_of("['interpolate', ['exponential', 1], ['zoom'], 0, 0, 10, 10]", 2.5, no_props), 2.5,
        1e-12);
    /* base < 1 */
    double z = 3.3, want = 100 * (pow(0.5, z) - 1) / (pow(0.5, 10) - 1);
    ASSERT_NEAR(
        num_of("['interpolate', ['exponential', 0.5], ['zoom'], 0, 0, 10, 100]", z, no_props), want,
        1e-9);
}

LB_TEST(test_interpolate_colours)
{
    const char *e = "['interpolate', ['linear'], ['zoom'], 10, 'red', 12, 'blue']";
    ASSERT_RGBA(color_of(e, 9, no_props), 255, 0, 0, 255);
    ASSERT_RGBA(color_of(e, 11, no_props), 128, 0, 128, 255);
    ASSERT_RGBA(color_of(e, 11.5, no_props), 64, 0, 191, 255);
    ASSERT_RGBA(color_of(e, 12.75, no_props), 0, 0, 255, 255);
    /* premultiplied interpolation: fading to transparent keeps the hue */
    const char *f = "['interpolate', ['linear'], ['zoom'], 0, 'rgba(0, 0, 255, 1)', 10, "
                    "'transparent']";
    ASSERT_RGBA(color_of(f, 5, no_props), 0, 0, 128, 128);
    ASSERT_RGBA(color_of(f, 7.5, no_props), 0, 0, 64, 64);
    /* alpha interpolates too */
    ASSERT_RGBA(color_of("['interpolate', ['linear'], ['zoom'], 0, '#ff000000', 4, '#ff0000']", 1,
                         no_props),
                64, 0, 0, 64);
    /* exponential on colours */
    double t = (pow(2, 1.5) - 1) / (pow(2, 2) - 1);
    int g = (int)lround(255 * t);
    ASSERT_RGBA(color_of("['interpolate', ['exponential', 2], ['zoom'], 10, 'black', 12, 'lime']",
                         11.5, no_props),
                0, g, 0, 255);
    /* colours from features are parsed when evaluated */
    const tprop props[] = {PS("c1", "#000000"), PS("c2", "#ffffff"), PEND};
    ASSERT_RGBA(color_of("['interpolate', ['linear'], ['zoom'], 0, ['get', 'c1'], 10, ['get', "
                         "'c2']]",
                         2, props),
                51, 51, 51, 255);
    /* a feature colour that is none: the default */
    const tprop bad[] = {PS("c1", "nix"), PS("c2", "#ffffff"), PEND};
    ASSERT_RGBA(color_of("['interpolate', ['linear'], ['zoom'], 0, ['get', 'c1'], 10, ['get', "
                         "'c2']]",
                         2, bad),
                0, 0, 0, 255);

    char *diag = load_bad("{'version': 8, 'layers': [{'id': 'x', 'type': 'circle',\n"
                          "  'filter': ['==', ['interpolate', ['linear'], ['zoom'], 0, 1, 5, "
                          "'red'], 1]}]}");
    ASSERT_CONTAINS(diag, "\"interpolate\": outputs must be all numbers or all colours");
    free(diag);
    diag = load_bad("{'version': 8, 'layers': [{'id': 'x', 'type': 'circle',\n"
                    "  'paint': {'circle-shape': ['interpolate', ['linear'], ['zoom'], 0, 1, 5, "
                    "2]}}]}");
    ASSERT_CONTAINS(diag, "\"interpolate\" produces numbers or colours, but a string is needed");
    free(diag);
}

LB_TEST(test_interpolate_errors)
{
    char *diag = bad_expr("['interpolate', ['cubic-bezier', 0, 0, 1, 1], ['zoom'], 0, 1, 5, 2]");
    ASSERT_CONTAINS(diag, at("'circle-radius'", "layer 'x': paint 'circle-radius': "
                                                "\"interpolate\": interpolation type "
                                                "'cubic-bezier' is not supported (linear, "
                                                "exponential)\n"));
    free(diag);
    diag = bad_expr("['interpolate', ['linear'], ['zoom'], 5, 1, 5, 2]");
    ASSERT_CONTAINS(diag, "\"interpolate\": stop inputs must be strictly ascending (5 after 5)");
    free(diag);
    diag = bad_expr("['interpolate', ['linear'], ['zoom'], 'a', 1, 5, 2]");
    ASSERT_CONTAINS(diag, "\"interpolate\": stop inputs must be numbers, got the string 'a'");
    free(diag);
    diag = bad_expr("['interpolate', ['linear'], ['zoom'], 5, 1, 6]");
    ASSERT_CONTAINS(diag, "(an even number of arguments), got 5");
    free(diag);
    diag = bad_expr("['interpolate', ['linear'], ['zoom']]");
    ASSERT_CONTAINS(diag, "\"interpolate\" expects at least 4 arguments, got 2");
    free(diag);
    diag = bad_expr("['interpolate', ['exponential'], ['zoom'], 0, 1]");
    ASSERT_CONTAINS(diag, "[\"exponential\", base] needs a number base");
    free(diag);
    diag = bad_expr("['interpolate', ['exponential', 0], ['zoom'], 0, 1]");
    ASSERT_CONTAINS(diag, "the exponential base must be > 0");
    free(diag);
    diag = bad_expr("['interpolate', 'linear', ['zoom'], 0, 1]");
    ASSERT_CONTAINS(diag, "the interpolation type must be [\"linear\"] or [\"exponential\", "
                          "base], got the string 'linear'");
    free(diag);
    diag = bad_expr("['interpolate', ['linear'], 'zoom', 0, 1]");
    ASSERT_CONTAINS(diag, "expected a number, got the string 'zoom'");
    free(diag);
    diag = bad_expr("['interpolate-hcl', ['linear'], ['zoom'], 0, 1]");
    ASSERT_CONTAINS(diag, "expression operator \"interpolate-hcl\" is not supported");
    free(diag);
}

LB_TEST(test_step)
{
    const char *e = "['step', ['zoom'], 1, 8, 2, 12, 3]";
    ASSERT_NEAR(num_of(e, 0, no_props), 1, 0);
    ASSERT_NEAR(num_of(e, 7.99, no_props), 1, 0);
    ASSERT_NEAR(num_of(e, 8, no_props), 2, 0);
    ASSERT_NEAR(num_of(e, 11.5, no_props), 2, 0);
    ASSERT_NEAR(num_of(e, 12, no_props), 3, 0);
    ASSERT_NEAR(num_of(e, 20, no_props), 3, 0);
    const tprop props[] = {PN("staerke", 120), PEND};
    ASSERT_NEAR(num_of("['step', ['get', 'staerke'], 4, 50, 6, 100, 8, 500, 10]", 10, props), 8, 0);
    ASSERT_RGBA(color_of("['step', ['zoom'], 'red', 10, 'blue']", 10.5, no_props), 0, 0, 255, 255);

    char *diag = bad_expr("['step', ['zoom'], 1, 8, 2, 12]");
    ASSERT_CONTAINS(diag, at("'circle-radius'", "layer 'x': paint 'circle-radius': \"step\" needs "
                                                "an input, a first output and stop/output pairs "
                                                "(an even number of arguments), got 5\n"));
    free(diag);
    diag = bad_expr("['step', ['zoom'], 1, 8, 2, 7, 3]");
    ASSERT_CONTAINS(diag, "\"step\": stop inputs must be strictly ascending (7 after 8)");
    free(diag);
    diag = bad_expr("['step', ['zoom'], 1]");
    ASSERT_CONTAINS(diag, "\"step\" expects at least 4 arguments, got 2");
    free(diag);
}

LB_TEST(test_expression_errors)
{
    char *diag = bad_expr("['frobnicate', 1]");
    ASSERT_CONTAINS(diag, at("'circle-radius'", "layer 'x': paint 'circle-radius': unknown "
                                                "expression operator \"frobnicate\"\n"));
    free(diag);
    diag = bad_expr("['let', 'a', 1, ['var', 'a']]");
    ASSERT_CONTAINS(diag, "expression operator \"let\" is not supported (see docs/styles.md)");
    free(diag);
    diag = bad_expr("[]");
    ASSERT_CONTAINS(diag, "an empty list is not an expression");
    free(diag);
    diag = bad_expr("[1, 2]");
    ASSERT_CONTAINS(diag, "expected an expression [\"operator\", ...], but the list starts with "
                          "the number 1");
    free(diag);
    diag = bad_expr("['get', 5]");
    ASSERT_CONTAINS(diag, "\"get\" needs a property name (a string), got the number 5");
    free(diag);
    diag = bad_expr("['get', 'a', {}]");
    ASSERT_CONTAINS(diag, "\"get\" with an object argument is not supported");
    free(diag);
    diag = bad_expr("['get']");
    ASSERT_CONTAINS(diag, "\"get\" expects 1 to 2 arguments, got 0");
    free(diag);
    diag = bad_expr("{'stops': [[0, 1], [10, 5]]}");
    ASSERT_CONTAINS(diag, "property functions ({\"stops\": ...}) are not supported: use an "
                          "\"interpolate\" or \"step\" expression");
    free(diag);
    diag = bad_expr("['literal', {}]");
    ASSERT_CONTAINS(diag, "\"literal\": objects are not supported");
    free(diag);
    diag = bad_expr("['!has', 'a']");
    ASSERT_CONTAINS(diag, "\"!has\" is only valid in a legacy filter");
    free(diag);
    diag = bad_expr("['to-string', 1]");
    ASSERT_CONTAINS(diag, "expected a number, but \"to-string\" produces a string");
    free(diag);
    /* errors name the nested element's own line */
    diag = bad_expr("['+', 1,\n  ['*', 2,\n    ['nope']]]");
    ASSERT_CONTAINS(diag, at("['nope']", "layer 'x': paint 'circle-radius': unknown expression "
                                         "operator \"nope\"\n"));
    free(diag);
    /* too many to-string in one layer */
    char text[4096] = "['any'";
    for (int i = 0; i < 17; i++)
        strcat(text, ", ['==', ['to-string', ['get', 'n']], '1']");
    strcat(text, "]");
    char style[8192];
    snprintf(style, sizeof style,
             "{'version': 8, 'layers': [{'id': 'x', 'type': 'circle', "
             "'filter': %s}]}",
             text);
    diag = load_bad(style);
    ASSERT_CONTAINS(diag, "too many \"to-string\" expressions in one style layer (at most 16)");
    free(diag);
}

/* ---- filters, zoom range, visibility ---------------------------------- */

LB_TEST(test_filters)
{
    const tprop props[] = {PS("kind", "Deichbruch"), PN("prio", 1), PEND};
    ASSERT_EQ(filter_of("true", props), 1);
    ASSERT_EQ(filter_of("false", props), 0);
    ASSERT_EQ(filter_of("['==', ['get', 'kind'], 'Deichbruch']", props), 1);
    ASSERT_EQ(filter_of("['match', ['get', 'kind'], ['Deichbruch', 'Brand'], true, false]", props),
              1);
    char *diag = load_bad("{'version': 8, 'layers': [{'id': 'x', 'type': 'circle',\n"
                          "  'filter': ['get', 'kind'], 'paint': {}},\n"
                          "  {'id': 'y', 'type': 'fill',\n"
                          "  'filter': 'kind'}]}");
    /* ["get", ...] is an expression of unknown type: checked per feature */
    ASSERT(strstr(diag, at("'filter': ['get'", "")) == NULL);
    ASSERT_CONTAINS(diag, at("'filter': 'kind'", "layer 'y': filter: a filter must be true, false, "
                                                 "an expression or a legacy filter, got the "
                                                 "string 'kind'\n"));
    free(diag);
    diag = load_bad("{'version': 8, 'layers': [{'id': 'x', 'type': 'circle',\n"
                    "  'filter': ['+', 1, 2]}]}");
    ASSERT_CONTAINS(diag, at("'filter'", "layer 'x': filter: expected a boolean, but \"+\" "
                                         "produces a number\n"));
    free(diag);
}

LB_TEST(test_legacy_filters)
{
    const tprop props[] = {PS("kind", "Vollsperrung"), PN("prio", 2), PB("aktiv", true), PEND};
    ASSERT_EQ(filter_of("['==', 'kind', 'Vollsperrung']", props), 1);
    ASSERT_EQ(filter_of("['==', 'kind', 'Teilsperrung']", props), 0);
    ASSERT_EQ(filter_of("['!=', 'kind', 'Teilsperrung']", props), 1);
    ASSERT_EQ(filter_of("['!=', 'missing', 'x']", props), 1);
    ASSERT_EQ(filter_of("['==', 'prio', 2]", props), 1);
    ASSERT_EQ(filter_of("['==', 'prio', '2']", props), 0);
    ASSERT_EQ(filter_of("['==', 'aktiv', true]", props), 1);
    ASSERT_EQ(filter_of("['<', 'prio', 3]", props), 1);
    ASSERT_EQ(filter_of("['<=', 'prio', 2]", props), 1);
    ASSERT_EQ(filter_of("['>', 'prio', 2]", props), 0);
    ASSERT_EQ(filter_of("['>=', 'prio', 2]", props), 1);
    ASSERT_EQ(filter_of("['<', 'kind', 3]", props), 0); /* type mismatch: false */
    ASSERT_EQ(filter_of("['>=', 'kind', 3]", props), 0);
    ASSERT_EQ(filter_of("['<', 'kind', 'Z']", props), 1);
    ASSERT_EQ(filter_of("['in', 'kind', 'Teilsperrung', 'Vollsperrung']", props), 1);
    ASSERT_EQ(filter_of("['in', 'kind', 'Teilsperrung', 'Kontrollstelle']", props), 0);
    ASSERT_EQ(filter_of("['in', 'prio', 1, 2, 3]", props), 1);
    ASSERT_EQ(filter_of("['in', 'prio', '2']", props), 0);
    ASSERT_EQ(filter_of("['!in', 'kind', 'Teilsperrung', 'Kontrollstelle']", props), 1);
    ASSERT_EQ(filter_of("['!in', 'kind', 'Vollsperrung']", props), 0);
    ASSERT_EQ(filter_of("['in', 'kind']", props), 0);
    ASSERT_EQ(filter_of("['has', 'kind']", props), 1);
    ASSERT_EQ(filter_of("['!has', 'kind']", props), 0);
    ASSERT_EQ(filter_of("['!has', 'missing']", props), 1);
    ASSERT_EQ(filter_of("['all', ['==', 'kind', 'Vollsperrung'], ['>', 'prio', 1]]", props), 1);
    ASSERT_EQ(filter_of("['all', ['==', 'kind', 'Vollsperrung'], ['>', 'prio', 2]]", props), 0);
    ASSERT_EQ(filter_of("['any', ['==', 'kind', 'x'], ['in', 'prio', 2]]", props), 1);
    ASSERT_EQ(filter_of("['none', ['==', 'kind', 'x'], ['in', 'prio', 5]]", props), 1);
    ASSERT_EQ(filter_of("['none', ['==', 'kind', 'x'], ['in', 'prio', 2]]", props), 0);

    char *diag = load_bad("{'version': 8, 'layers': [{'id': 'x', 'type': 'circle',\n"
                          "  'filter': ['==', '$type', 'Point']}]}");
    ASSERT_CONTAINS(diag, at("'$type'", "layer 'x': filter: legacy filter: '$type' is not "
                                        "supported (the style layer type selects the geometry"));
    free(diag);
    diag = load_bad("{'version': 8, 'layers': [{'id': 'x', 'type': 'circle',\n"
                    "  'filter': ['all', ['==', 'kind', 'a'], ['==', ['get', 'k'], 1]]}]}");
    ASSERT_CONTAINS(diag, "legacy filter: expected a property name, got a list (a legacy filter "
                          "cannot contain expressions)");
    free(diag);
    diag = load_bad("{'version': 8, 'layers': [{'id': 'x', 'type': 'circle',\n"
                    "  'filter': ['in', 'kind', ['a']]}]}");
    ASSERT_CONTAINS(diag, "expression operator \"in\" is not supported");
    free(diag);
    diag = load_bad("{'version': 8, 'layers': [{'id': 'x', 'type': 'circle',\n"
                    "  'filter': ['!in', 'kind', 'a', 'a']}]}");
    ASSERT_CONTAINS(diag, "legacy filter \"in\": label the string 'a' appears more than once");
    free(diag);
    diag = load_bad("{'version': 8, 'layers': [{'id': 'x', 'type': 'circle',\n"
                    "  'filter': ['<', 'kind', true]}]}");
    ASSERT_CONTAINS(diag, "legacy filter \"<\": cannot compare with true");
    free(diag);
    diag = load_bad("{'version': 8, 'layers': [{'id': 'x', 'type': 'circle',\n"
                    "  'filter': ['!has']}]}");
    ASSERT_CONTAINS(diag, "legacy filter \"!has\" expects 1 argument, got 0");
    free(diag);
}

LB_TEST(test_min_max_zoom)
{
    lb_style *s = load_ok("{'version': 8, 'layers': [\n"
                          "  {'id': 'a', 'type': 'circle', 'minzoom': 10, 'maxzoom': 14.5},\n"
                          "  {'id': 'b', 'type': 'circle', 'minzoom': 3},\n"
                          "  {'id': 'c', 'type': 'circle', 'maxzoom': 3}]}");
    lb_paint p;
    ASSERT(!eval(s, 0, 9.99, no_props, &p));
    ASSERT(eval(s, 0, 10, no_props, &p));
    ASSERT(eval(s, 0, 14.49, no_props, &p));
    ASSERT(!eval(s, 0, 14.5, no_props, &p)); /* maxzoom is exclusive */
    ASSERT(!eval(s, 1, 2.5, no_props, &p));
    ASSERT(eval(s, 1, 24, no_props, &p));
    ASSERT(eval(s, 1, 30, no_props, &p)); /* no maxzoom: no upper limit */
    ASSERT(eval(s, 2, 0, no_props, &p));
    ASSERT(!eval(s, 2, 3, no_props, &p));
    ASSERT(!eval(s, 0, NAN, no_props, &p));
    lb_style_free(s);

    char *diag = load_bad("{'version': 8, 'layers': [\n"
                          "  {'id': 'a', 'type': 'circle', 'minzoom': 25},\n"
                          "  {'id': 'b', 'type': 'circle', 'maxzoom': '10'},\n"
                          "  {'id': 'c', 'type': 'circle', 'minzoom': 12,\n"
                          "   'maxzoom': 12}]}");
    ASSERT_CONTAINS(diag, at("'a'", "layer 'a': 'minzoom' must be between 0 and 24, got 25\n"));
    ASSERT_CONTAINS(diag, at("'b'", "layer 'b': 'maxzoom' must be a number, got the string "
                                    "'10'\n"));
    ASSERT_CONTAINS(diag, at("'maxzoom': 12", "layer 'c': maxzoom (12) must be greater than "
                                              "minzoom (12)\n"));
    free(diag);
}

LB_TEST(test_visibility_and_transparency)
{
    lb_style *s = load_ok("{'version': 8, 'layers': [\n"
                          "  {'id': 'a', 'type': 'fill', 'layout': {'visibility': 'none'}},\n"
                          "  {'id': 'b', 'type': 'fill', 'layout': {'visibility': 'visible'}},\n"
                          "  {'id': 'c', 'type': 'fill', 'paint': {'fill-opacity': 0}},\n"
                          "  {'id': 'd', 'type': 'fill', 'paint': {'fill-color': 'transparent',\n"
                          "    'fill-outline-color': 'red'}},\n"
                          "  {'id': 'e', 'type': 'line', 'paint': {'line-width': 0}},\n"
                          "  {'id': 'f', 'type': 'circle', 'paint': {'circle-radius': 0,\n"
                          "    'circle-stroke-width': 1, 'circle-stroke-color': 'red'}},\n"
                          "  {'id': 'g', 'type': 'circle', 'paint': {'circle-opacity': 0}},\n"
                          "  {'id': 'h', 'type': 'line', 'paint': {'line-color': 'transparent'}}\n"
                          "]}");
    lb_paint p;
    ASSERT(!eval(s, 0, 10, no_props, &p));
    ASSERT(!lb_style_legend(s, 0, 10, &p));
    ASSERT(eval(s, 1, 10, no_props, &p));
    ASSERT(!eval(s, 2, 10, no_props, &p));
    ASSERT(eval(s, 3, 10, no_props, &p)); /* the outline is visible */
    ASSERT_RGBA(p.fill, 0, 0, 0, 0);
    ASSERT(!eval(s, 4, 10, no_props, &p));
    ASSERT(eval(s, 5, 10, no_props, &p)); /* a ring of stroke */
    ASSERT(!eval(s, 6, 10, no_props, &p));
    ASSERT(!eval(s, 7, 10, no_props, &p));
    lb_style_free(s);

    char *diag = load_bad("{'version': 8, 'layers': [\n"
                          "  {'id': 'a', 'type': 'fill', 'layout': {'visibility': 'hidden'}},\n"
                          "  {'id': 'b', 'type': 'fill', 'layout': {'visibility': ['literal', "
                          "'none']}}]}");
    ASSERT_CONTAINS(diag, at("'hidden'", "layer 'a': layout 'visibility' must be \"visible\" or "
                                         "\"none\", got the string 'hidden'\n"));
    ASSERT_CONTAINS(diag, at("'b'", "layer 'b': layout 'visibility' must be \"visible\" or "
                                    "\"none\", got a list\n"));
    free(diag);
}

/* ---- layer types ------------------------------------------------------ */

LB_TEST(test_line_properties)
{
    lb_style *s = load_ok(
        "{'version': 8, 'layers': [\n"
        "  {'id': 'a', 'type': 'line',\n"
        "   'layout': {'line-join': 'round', 'line-cap': 'square', 'line-miter-limit': 4},\n"
        "   'paint': {'line-color': '#00f', 'line-width': ['interpolate', ['linear'], ['zoom'],\n"
        "               8, 1, 16, 5], 'line-dasharray': [4, 2]}},\n"
        "  {'id': 'b', 'type': 'line', 'layout': {'line-join': 'bevel', 'line-cap': 'round'},\n"
        "   'paint': {'line-dasharray': [3]}},\n"
        "  {'id': 'c', 'type': 'line',\n"
        "   'layout': {'line-join': ['match', ['get', 'kind'], 'Erdkabel', 'round', 'miter']},\n"
        "   'paint': {'line-dasharray': ['match', ['get', 'kind'],\n"
        "     'Erdkabel', ['literal', [1, 1]], 'ASR', ['literal', [4, 1, 1, 1]],\n"
        "     ['literal', []]]}}]}");
    lb_paint p;
    ASSERT(eval(s, 0, 12, no_props, &p));
    ASSERT_EQ(p.join, LB_JOIN_ROUND);
    ASSERT_EQ(p.cap, LB_CAP_SQUARE);
    ASSERT_NEAR(p.miter_limit, 4, 0);
    ASSERT_NEAR(p.line_width, 3, 1e-12);
    ASSERT_RGBA(p.line, 0, 0, 255, 255);
    ASSERT_EQ(p.ndash, 2);
    ASSERT_NEAR(p.dash[0], 4, 0);
    ASSERT_NEAR(p.dash[1], 2, 0);
    ASSERT(eval(s, 1, 12, no_props, &p));
    ASSERT_EQ(p.join, LB_JOIN_BEVEL);
    ASSERT_EQ(p.cap, LB_CAP_ROUND);
    ASSERT_EQ(p.ndash, 2); /* an odd list repeats: [3] = [3, 3] */
    ASSERT_NEAR(p.dash[0], 3, 0);
    ASSERT_NEAR(p.dash[1], 3, 0);
    const tprop erd[] = {PS("kind", "Erdkabel"), PEND};
    const tprop asr[] = {PS("kind", "ASR"), PEND};
    const tprop weird[] = {PS("kind", "x"), PEND};
    ASSERT(eval(s, 2, 12, erd, &p));
    ASSERT_EQ(p.join, LB_JOIN_ROUND);
    ASSERT_EQ(p.ndash, 2);
    ASSERT(eval(s, 2, 12, asr, &p));
    ASSERT_EQ(p.join, LB_JOIN_MITER);
    ASSERT_EQ(p.ndash, 4);
    ASSERT_NEAR(p.dash[0], 4, 0);
    ASSERT(eval(s, 2, 12, weird, &p));
    ASSERT_EQ(p.ndash, 0); /* [] is solid */
    lb_style_free(s);

    char *diag = load_bad("{'version': 8, 'layers': [{'id': 'a', 'type': 'line',\n"
                          "  'layout': {'line-join': 'pointy',\n"
                          "    'line-cap': ['match', ['get', 'k'], 'a', 'flat', 'butt']},\n"
                          "  'paint': {'line-dasharray': [1, -1],\n"
                          "    'line-width': -2,\n"
                          "    'line-opacity': 1.5}},\n"
                          "  {'id': 'b', 'type': 'line', 'paint': {'line-dasharray': [0, 0],\n"
                          "    'line-color': [1, 2]}},\n"
                          "  {'id': 'c', 'type': 'line', 'paint': {\n"
                          "    'line-dasharray': [1, 2, 3, 4, 5, 6, 7, 8, 9]}}]}");
    ASSERT_CONTAINS(diag, at("'pointy'", "layer 'a': layout 'line-join': the string 'pointy' is "
                                         "not one of \"miter\", \"round\" or \"bevel\"\n"));
    ASSERT_CONTAINS(diag, at("'flat'", "layer 'a': layout 'line-cap': the string 'flat' is not "
                                       "one of \"butt\", \"round\" or \"square\"\n"));
    ASSERT_CONTAINS(diag, at("[1, -1]", "layer 'a': paint 'line-dasharray': dash lengths must be "
                                        "numbers >= 0 with a positive sum"));
    ASSERT_CONTAINS(diag, at("-2", "layer 'a': paint 'line-width': must be at least 0, got -2\n"));
    ASSERT_CONTAINS(diag, at("1.5", "layer 'a': paint 'line-opacity': must be between 0 and 1, "
                                    "got 1.5\n"));
    ASSERT_CONTAINS(diag, at("[0, 0]", "layer 'b': paint 'line-dasharray': dash lengths"));
    ASSERT_CONTAINS(diag, at("[1, 2]", "layer 'b': paint 'line-color': expected an expression "
                                       "[\"operator\", ...], but the list starts with the number "
                                       "1"));
    ASSERT_CONTAINS(diag, at("[1, 2, 3, 4, 5, 6, 7, 8, 9]", "layer 'c': paint 'line-dasharray': "
                                                            "dash lengths"));
    free(diag);
}

LB_TEST(test_circle_properties)
{
    lb_style *s = load_ok(
        "{'version': 8, 'layers': [{'id': 'p', 'type': 'circle', 'paint': {\n"
        "  'circle-shape': ['match', ['get', 'kind'], 'Vollsperrung', 'square',\n"
        "                   'Kontrollstelle', 'triangle', 'Deichbruch', 'cross', 'circle'],\n"
        "  'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 3, 16, 9],\n"
        "  'circle-color': '#0044aa',\n"
        "  'circle-stroke-width': 2, 'circle-stroke-color': 'white'}},\n"
        "  {'id': 'q', 'type': 'circle', 'paint': {'circle-shape': ['get', 'shape']}}]}");
    static const struct {
        const char *kind;
        lb_marker m;
    } kinds[] = {{"Vollsperrung", LB_MARKER_SQUARE},
                 {"Kontrollstelle", LB_MARKER_TRIANGLE},
                 {"Deichbruch", LB_MARKER_CROSS},
                 {"Teilsperrung", LB_MARKER_CIRCLE}};
    lb_paint p;
    for (size_t i = 0; i < 4; i++) {
        const tprop props[] = {PS("kind", kinds[i].kind), PEND};
        ASSERT(eval(s, 0, 13, props, &p));
        ASSERT_EQ(p.marker, kinds[i].m);
        ASSERT_NEAR(p.radius, 6, 1e-12);
        ASSERT_RGBA(p.circle, 0, 0x44, 0xaa, 255);
        ASSERT_NEAR(p.stroke_width, 2, 0);
        ASSERT_RGBA(p.stroke, 255, 255, 255, 255);
    }
    const tprop sq[] = {PS("shape", "square"), PEND};
    const tprop bad[] = {PS("shape", "hexagon"), PEND};
    ASSERT(eval(s, 1, 13, sq, &p));
    ASSERT_EQ(p.marker, LB_MARKER_SQUARE);
    ASSERT(eval(s, 1, 13, bad, &p));
    ASSERT_EQ(p.marker, LB_MARKER_CIRCLE); /* not a shape: the default */
    lb_style_free(s);

    char *diag = load_bad("{'version': 8, 'layers': [{'id': 'p', 'type': 'circle', 'paint': {\n"
                          "  'circle-shape': 'hexagon',\n"
                          "  'circle-radius': '5',\n"
                          "  'circle-stroke-opacity': -0.1}}]}");
    ASSERT_CONTAINS(diag, at("'hexagon'", "layer 'p': paint 'circle-shape': the string 'hexagon' "
                                          "is not one of \"circle\", \"square\", \"triangle\" or "
                                          "\"cross\"\n"));
    ASSERT_CONTAINS(diag, at("'5'", "layer 'p': paint 'circle-radius': expected a number, got the "
                                    "string '5'\n"));
    ASSERT_CONTAINS(diag, at("-0.1", "layer 'p': paint 'circle-stroke-opacity': must be between "
                                     "0 and 1, got -0.1\n"));
    free(diag);
}

LB_TEST(test_runtime_values_are_clamped)
{
    const tprop props[] = {PN("w", -4), PN("o", 3), PEND};
    lb_style *s = load_ok("{'version': 8, 'layers': [{'id': 'l', 'type': 'line', 'paint': {\n"
                          "  'line-width': ['get', 'w'], 'line-opacity': ['get', 'o']}},\n"
                          "  {'id': 'c', 'type': 'circle', 'paint': {\n"
                          "  'circle-radius': ['-', ['get', 'w']], 'circle-opacity': ['get', "
                          "'o']}}]}");
    lb_paint p;
    ASSERT(!eval(s, 0, 10, props, &p)); /* width clamped to 0: nothing to draw */
    ASSERT_NEAR(p.line_width, 0, 0);
    ASSERT(eval(s, 1, 10, props, &p));
    ASSERT_NEAR(p.radius, 4, 0);
    ASSERT_RGBA(p.circle, 0, 0, 0, 255); /* opacity clamped to 1 */
    lb_style_free(s);
}

/* ---- load errors ------------------------------------------------------ */

LB_TEST(test_unknown_and_unsupported_keys)
{
    char *diag = load_bad("{\n"
                          "  'version': 8,\n"
                          "  'sources': {'x': {'type': 'geojson'}},\n"
                          "  'glyphs': 'x',\n"
                          "  'colour': 'red',\n"
                          "  'layers': [\n"
                          "    {'id': 'a', 'type': 'fill', 'source': 'x',\n"
                          "     'paint': {'fill-colour': 'red',\n"
                          "               'line-color': 'red',\n"
                          "               'fill-translate': [1, 1]},\n"
                          "     'layout': {'line-cap': 'round', 'fill-sort-key': 1},\n"
                          "     'minzom': 3,\n"
                          "     'metadata': {'lagebild:legende': 'x'}},\n"
                          "    {'id': 'b', 'type': 'line',\n"
                          "     'paint': {'line-join': 'round'},\n"
                          "     'layout': {'line-color': 'red'}}\n"
                          "  ]\n"
                          "}\n");
    ASSERT_CONTAINS(diag, at("'sources'", "top-level key 'sources' is not supported: a lagebild "
                                          "style is applied to the features of the layer whose "
                                          "config names it"));
    ASSERT_CONTAINS(diag, at("'glyphs'", "top-level key 'glyphs' is not supported"));
    ASSERT_CONTAINS(diag, at("'colour'", "unknown top-level key 'colour' (valid: version, name, "
                                         "metadata, layers)\n"));
    ASSERT_CONTAINS(diag, at("'source'", "layer 'a': key 'source' is not supported: a lagebild "
                                         "style applies to the features of the layer whose "
                                         "config names it\n"));
    ASSERT_CONTAINS(diag, at("'fill-colour'", "layer 'a': unknown or unsupported paint property "
                                              "'fill-colour' (valid: fill-color, fill-opacity, "
                                              "fill-outline-color)\n"));
    ASSERT_CONTAINS(diag, at("'line-color': 'red',", "layer 'a': paint property 'line-color' is "
                                                     "not valid for a fill layer (valid: "
                                                     "fill-color, fill-opacity, "
                                                     "fill-outline-color)\n"));
    ASSERT_CONTAINS(diag, at("'fill-translate'", "layer 'a': unknown or unsupported paint "
                                                 "property 'fill-translate'"));
    ASSERT_CONTAINS(diag, at("'line-cap'", "layer 'a': layout property 'line-cap' is not valid "
                                           "for a fill layer (valid: visibility)\n"));
    ASSERT_CONTAINS(diag, at("'fill-sort-key'", "layer 'a': unknown or unsupported layout "
                                                "property 'fill-sort-key' (valid: visibility)\n"));
    ASSERT_CONTAINS(diag, at("'minzom'", "layer 'a': unknown key 'minzom' (valid: id, type, "
                                         "minzoom, maxzoom, filter, layout, paint, metadata)\n"));
    ASSERT_CONTAINS(diag, at("'lagebild:legende'", "layer 'a': unknown metadata key "
                                                   "'lagebild:legende' (lagebild reads only "
                                                   "\"lagebild:legend\")\n"));
    ASSERT_CONTAINS(diag, at("'line-join'", "layer 'b': 'line-join' belongs in \"layout\", not in "
                                            "\"paint\"\n"));
    ASSERT_CONTAINS(diag, at("'line-color': 'red'}", "layer 'b': 'line-color' belongs in "
                                                     "\"paint\", not in \"layout\"\n"));
    /* sorted by line */
    const char *a = strstr(diag, "'sources'"), *b = strstr(diag, "'minzom'");
    ASSERT(a && b && a < b);
    free(diag);
}

LB_TEST(test_wrong_types_and_missing_keys)
{
    char *diag = load_bad("{\n"
                          "  'version': 7,\n"
                          "  'name': 3,\n"
                          "  'layers': [\n"
                          "    {'type': 'fill'},\n"
                          "    {'id': 5, 'type': 'fill'},\n"
                          "    {'id': 'c'},\n"
                          "    {'id': 'd', 'type': 1},\n"
                          "    {'id': 'e', 'type': 'fill', 'paint': {'fill-color': 5}},\n"
                          "    {'id': 'f', 'type': 'line', 'paint': {'line-width': 'thick'}},\n"
                          "    {'id': 'g', 'type': 'fill', 'paint': {'fill-opacity': true}},\n"
                          "    {'id': 'h', 'type': 'fill', 'paint': []},\n"
                          "    {'id': '', 'type': 'fill'},\n"
                          "    'layer',\n"
                          "    {'id': 'k', 'type': 'fill', 'metadata': {'lagebild:legend': 1}},\n"
                          "    {'id': 'l', 'type': 'fill', 'paint': {'fill-color': ['get', "
                          "'c'], 'fill-opacity': ['get', 'o']}}\n"
                          "  ]\n"
                          "}\n");
    ASSERT_CONTAINS(diag, at("'version'", "'version' must be 8, got the number 7\n"));
    ASSERT_CONTAINS(diag, at("'name'", "'name' must be a string, got the number 3\n"));
    ASSERT_CONTAINS(diag, at("{'type': 'fill'}", "layer 1: missing key 'id'\n"));
    ASSERT_CONTAINS(diag, at("{'id': 5", "layer 2: 'id' must be a string, got the number 5\n"));
    ASSERT_CONTAINS(diag, at("{'id': 'c'}", "layer 'c': missing key 'type' (fill, line or "
                                            "circle)\n"));
    ASSERT_CONTAINS(diag, at("{'id': 'd'", "layer 'd': 'type' must be a string (fill, line or "
                                           "circle), got the number 1\n"));
    ASSERT_CONTAINS(diag, at("{'id': 'e'", "layer 'e': paint 'fill-color': expected a colour, got "
                                           "the number 5\n"));
    ASSERT_CONTAINS(diag, at("{'id': 'f'", "layer 'f': paint 'line-width': expected a number, got "
                                           "the string 'thick'\n"));
    ASSERT_CONTAINS(diag, at("{'id': 'g'", "layer 'g': paint 'fill-opacity': expected a number, "
                                           "got true\n"));
    ASSERT_CONTAINS(diag, at("{'id': 'h'", "layer 'h': 'paint' must be an object, got a list\n"));
    ASSERT_CONTAINS(diag, at("{'id': ''", "layer 9: 'id' must not be empty\n"));
    ASSERT_CONTAINS(diag, at("'layer',", "layer 10: a style layer must be an object, got the "
                                         "string 'layer'\n"));
    ASSERT_CONTAINS(diag, at("{'id': 'k'", "layer 'k': metadata: 'lagebild:legend' must be a "
                                           "string, got the number 1\n"));
    ASSERT(!strstr(diag, "layer 'l'")); /* ["get", ...] may be a colour or a number */
    free(diag);

    diag = load_bad("{'name': 'x'}");
    ASSERT_CONTAINS(diag, at("{", "missing key 'version' (must be 8)\n"));
    ASSERT_CONTAINS(diag, at("{", "missing key 'layers'\n"));
    free(diag);
    diag = load_bad("{'version': 8, 'layers': []}");
    ASSERT_CONTAINS(diag, at("'layers'", "'layers' is empty: the style would draw nothing\n"));
    free(diag);
    diag = load_bad("{'version': 8, 'layers': {}}");
    ASSERT_CONTAINS(diag, "'layers' must be a list of style layers, got an object\n");
    free(diag);
    diag = load_bad("[8]");
    ASSERT_CONTAINS(diag, at("[8]", "a style file must be a JSON object {\"version\": 8, "
                                    "\"layers\": [...]}, got a list\n"));
    free(diag);
    diag = load_bad("");
    ASSERT_CONTAINS(diag, ": a style file must be a JSON object {\"version\": 8, \"layers\": "
                          "[...]}, got an empty file\n");
    free(diag);
}

LB_TEST(test_unsupported_layer_type)
{
    char *diag = load_bad("{'version': 8, 'layers': [\n"
                          "  {'id': 'labels', 'type': 'symbol'},\n"
                          "  {'id': 'bg', 'type': 'background'},\n"
                          "  {'id': 'ok', 'type': 'fill'}]}");
    ASSERT_CONTAINS(diag, at("'symbol'", "layer 'labels': type 'symbol' is not supported (fill, "
                                         "line, circle)\n"));
    ASSERT_CONTAINS(diag, at("'background'", "layer 'bg': type 'background' is not supported "
                                             "(fill, line, circle)\n"));
    ASSERT(!strstr(diag, "'ok'"));
    free(diag);
}

LB_TEST(test_duplicate_ids)
{
    char *diag = load_bad("{'version': 8, 'layers': [\n"
                          "  {'id': 'zones', 'type': 'fill'},\n"
                          "  {'id': 'lines', 'type': 'line'},\n"
                          "  {'id': 'zones', 'type': 'line'}]}");
    ASSERT_CONTAINS(diag, at("{'id': 'zones', 'type': 'line'}",
                             "duplicate layer id 'zones' "
                             "(first used on line %d)\n",
                             line_of("{'id': 'zones', 'type': 'fill'}")));
    free(diag);
    /* duplicate keys are found by the parser */
    diag = load_bad("{'version': 8, 'layers': [\n"
                    "  {'id': 'a', 'type': 'fill',\n"
                    "   'type': 'line'}]}");
    ASSERT_CONTAINS(diag, at("'type': 'line'", "duplicate key 'type' (first given on line %d)\n",
                             line_of("'type': 'fill'")));
    free(diag);
}

LB_TEST(test_not_json)
{
    char *diag = load_bad("{'version': 8, 'layers': [\n"
                          "  {'id': 'a', 'type': fill},\n"
                          "  {'id': 'b', 'type': 'circle', 'paint': {'circle-radius': [1 2]}},\n"
                          "  {'id': 'c', 'type': 'circle', 'minzoom': 1e999}]}");
    ASSERT_CONTAINS(diag, at("fill}", "'fill' is not valid JSON: put strings in double quotes (or "
                                      "is a comma missing?)\n"));
    ASSERT_CONTAINS(diag, at("[1 2]", "'1 2' is not valid JSON"));
    ASSERT_CONTAINS(diag, at("1e999", "the number 1e999 is out of range\n"));
    free(diag);
    diag = load_bad("{'version': 8, 'layers': [\n"
                    "  {'id': 'a', 'type': 'fill'\n"
                    "  {'id': 'b'}]}");
    ASSERT(strstr(diag, style_path) == diag);
    free(diag);
    /* nesting is bounded */
    char text[4096] = "{'version': 8, 'layers': [{'id': 'a', 'type': 'circle', 'paint': "
                      "{'circle-radius': ";
    for (int i = 0; i < 60; i++)
        strcat(text, "['+', 1, ");
    strcat(text, "1");
    for (int i = 0; i < 60; i++)
        strcat(text, "]");
    strcat(text, "}}]}");
    diag = load_bad(text);
    ASSERT_CONTAINS(diag, "values are nested too deeply (more than 48 levels)");
    free(diag);
    /* a missing file */
    lb_style *s = (lb_style *)1;
    char *d = NULL;
    ASSERT_EQ(lb_style_load("/nonexistent/lagebild/style.json", &s, &d), LB_ENOENT);
    ASSERT(s == NULL);
    ASSERT_CONTAINS(d, "/nonexistent/lagebild/style.json: cannot open: ");
    free(d);
    ASSERT_EQ(lb_style_load(NULL, &s, NULL), LB_EINVAL);
}

/* ---- properties, legend, caching --------------------------------------- */

LB_TEST(test_properties_read)
{
    lb_style *s = load_ok(
        "{'version': 8, 'layers': [\n"
        "  {'id': 'a', 'type': 'fill', 'filter': ['==', 'classification', 'OFFEN'],\n"
        "   'paint': {'fill-color': ['match', ['get', 'kind'], 'x', 'red', 'blue'],\n"
        "             'fill-opacity': ['case', ['has', 'valid_to'], 0.2, 0.5]}},\n"
        "  {'id': 'b', 'type': 'circle', 'filter': ['in', 'status', 'a', 'b'],\n"
        "   'paint': {'circle-radius': ['to-number', ['get', 'accuracy_m']],\n"
        "             'circle-color': ['coalesce', ['get', 'farbe'], ['get', 'kind'], 'red']}},\n"
        "  {'id': 'c', 'type': 'line', 'filter': ['!has', 'removed'],\n"
        "   'paint': {'line-width': ['interpolate', ['linear'], ['zoom'], 0, 1, 10, 2]}}]}");
    size_t n = 0;
    const char *const *names = lb_style_properties(s, &n);
    static const char *const want[] = {"classification", "kind",  "valid_to", "status",
                                       "accuracy_m",     "farbe", "removed"};
    ASSERT_EQ(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++)
        ASSERT_STREQ(names[i], want[i]);
    lb_style_free(s);
}

LB_TEST(test_legend)
{
    lb_style *s = load_ok(
        "{'version': 8, 'layers': [\n"
        "  {'id': 'deich', 'type': 'circle', 'minzoom': 14,\n"
        "   'filter': ['==', ['get', 'kind'], 'Deichbruch'],\n"
        "   'metadata': {'lagebild:legend': 'Deichbruch'},\n"
        "   'paint': {'circle-color': ['match', ['get', 'kind'], 'Deichbruch', 'red', 'blue'],\n"
        "             'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 2, 20, 12]}},\n"
        "  {'id': 'other', 'type': 'circle'}]}");
    ASSERT_STREQ(lb_style_layer_title(s, 0), "Deichbruch");
    ASSERT_STREQ(lb_style_layer_title(s, 1), "other");
    lb_paint p;
    ASSERT(!lb_style_eval(s, 0, 12, NULL, NULL, &p)); /* filter and zoom range */
    ASSERT(lb_style_legend(s, 0, 12, &p));            /* both ignored */
    ASSERT_RGBA(p.circle, 0, 0, 255, 255);            /* no properties: the fallback */
    ASSERT_NEAR(p.radius, 4, 1e-12);
    ASSERT(!lb_style_legend(s, 2, 12, &p));
    lb_style_free(s);
}

LB_TEST(test_property_values_are_read_once_per_eval)
{
    lb_style *s = load_ok(
        "{'version': 8, 'layers': [{'id': 'a', 'type': 'circle',\n"
        "  'filter': ['all', ['has', 'kind'], ['!=', ['get', 'kind'], 'x']],\n"
        "  'paint': {'circle-color': ['match', ['get', 'kind'], 'Brand', 'red', 'blue'],\n"
        "            'circle-shape': ['match', ['get', 'kind'], 'Brand', 'cross', 'circle'],\n"
        "            'circle-radius': ['+', 1, ['get', 'n']]}}]}");
    const tprop props[] = {PS("kind", "Brand"), PN("n", 2), PEND};
    lb_paint p;
    ncalls = 0;
    ASSERT(eval(s, 0, 10, props, &p));
    ASSERT_EQ(ncalls, 2);
    ASSERT_EQ(p.marker, LB_MARKER_CROSS);
    ASSERT_NEAR(p.radius, 3, 0);
    lb_style_free(s);
}

LB_TEST(test_eval_speed)
{
    lb_style *s = load_ok(
        "{'version': 8, 'layers': [{'id': 'a', 'type': 'circle',\n"
        "  'filter': ['!=', ['get', 'status'], 'aufgehoben'],\n"
        "  'paint': {'circle-color': ['match', ['get', 'kind'], 'Vollsperrung', '#0b3d91',\n"
        "               'Teilsperrung', '#3f7fbf', 'Kontrollstelle', '#7fa7d9', '#5a6e8c'],\n"
        "            'circle-shape': ['match', ['get', 'kind'], 'Vollsperrung', 'square', "
        "'circle'],\n"
        "            'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 3, 16, 8],\n"
        "            'circle-stroke-width': 1.5, 'circle-stroke-color': 'white'}}]}");
    const tprop props[] = {PS("kind", "Teilsperrung"), PS("status", "aktiv"), PEND};
    lb_paint p;
    const int n = 50000;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int drawn = 0;
    for (int i = 0; i < n; i++)
        drawn += eval(s, 0, 8 + (i % 80) * 0.1, props, &p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n;
    fprintf(stderr, "  %.0f ns per lb_style_eval\n", ns);
    ASSERT_EQ(drawn, n);
    ASSERT(ns < 200000); /* generous: sanitizers and valgrind are slow */
    lb_style_free(s);
}

/* ---- shipped styles ---------------------------------------------------- */

LB_TEST(test_shipped_styles_load)
{
    glob_t g;
    char pattern[PATH_MAX];
    snprintf(pattern, sizeof pattern, "%s/styles/*.json", LB_SOURCE_DIR);
    ASSERT_EQ(glob(pattern, 0, NULL, &g), 0);
    ASSERT(g.gl_pathc >= 5);
    static const tprop features[][8] = {
        {PS("kind", "Vollsperrung"), PS("status", "aktiv"), PS("classification", "OFFEN"),
         PN("accuracy_m", 5), PEND},
        {PS("kind", "Deichbruch"), PS("status", "laufend"), PS("classification", "VS-NfD"),
         PN("prioritaet", 1), PEND},
        {PS("kind", "MSR"), PS("status", "gesperrt"), PS("classification", "VS-VERTRAULICH"), PEND},
        {PS("kind", "Freileitung"), PS("status", "gestört"), PS("classification", "GEHEIM"),
         PN("spannung_kv", 380), PEND},
        {PS("kind", "Evakuierungszone"), PS("status", "Räumung angeordnet"), PEND},
        {PEND},
    };
    for (size_t i = 0; i < g.gl_pathc; i++) {
        fprintf(stderr, "  %s\n", g.gl_pathv[i]);
        lb_style *s = NULL;
        char *diag = NULL;
        lb_status st = lb_style_load(g.gl_pathv[i], &s, &diag);
        if (st != LB_OK)
            fprintf(stderr, "%s", diag ? diag : "(no diag)\n");
        free(diag);
        ASSERT_EQ(st, LB_OK);
        /* one layer for each geometry */
        bool has[3] = {false, false, false};
        for (size_t k = 0; k < lb_style_layer_count(s); k++) {
            has[lb_style_layer_type(s, k)] = true;
            ASSERT(lb_style_layer_title(s, k) != NULL);
            lb_paint p;
            ASSERT(lb_style_legend(s, k, 12, &p));
        }
        ASSERT(has[LB_STYLE_FILL] && has[LB_STYLE_LINE] && has[LB_STYLE_CIRCLE]);
        /* every layer draws something for typical features at typical zooms */
        for (size_t k = 0; k < lb_style_layer_count(s); k++) {
            int drawn = 0;
            for (size_t f = 0; f < sizeof features / sizeof features[0]; f++) {
                for (double z = 8; z <= 18; z += 2.5) {
                    lb_paint p;
                    drawn += eval(s, k, z, features[f], &p);
                    if (p.type == LB_STYLE_LINE)
                        ASSERT(p.line_width > 0 && p.line_width < 20);
                    if (p.type == LB_STYLE_CIRCLE)
                        ASSERT(p.radius >= 0 && p.radius < 30);
                }
            }
            ASSERT(drawn > 0);
        }
        lb_style_free(s);
    }
    globfree(&g);
}

/* lb_style_fill_may_be_opaque: exact for fills that do not depend on the
 * feature, "maybe" for those that do, false for other types */
LB_TEST(test_fill_may_be_opaque)
{
    lb_style *s = load_ok(
        "{'version': 8, 'layers': ["
        " {'id': 'solid', 'type': 'fill', 'paint': {'fill-color': '#1f78b4'}},"
        " {'id': 'half', 'type': 'fill', 'paint': {'fill-color': '#1f78b4', 'fill-opacity': 0.5}},"
        " {'id': 'rgba', 'type': 'fill', 'paint': {'fill-color': 'rgba(10, 20, 30, 0.9)'}},"
        " {'id': 'fade', 'type': 'fill', 'paint': {'fill-color': '#000000', 'fill-opacity':"
        "   ['interpolate', ['linear'], ['zoom'], 8, 1, 16, 0.5]}},"
        " {'id': 'data', 'type': 'fill', 'paint': {'fill-color': '#000000', 'fill-opacity':"
        "   ['match', ['get', 'o'], 'y', 1, 0.5]}},"
        " {'id': 'datacol', 'type': 'fill', 'paint': {'fill-color':"
        "   ['case', ['has', 'c'], 'rgba(0,0,0,0.5)', 'rgba(0,0,0,0.5)']}},"
        " {'id': 'line', 'type': 'line', 'paint': {'line-color': '#000000'}},"
        " {'id': 'filtered', 'type': 'fill', 'filter': ['==', ['get', 'k'], 'x'], 'minzoom': 20,"
        "   'paint': {'fill-color': '#ff0000'}}]}");
    ASSERT(lb_style_fill_may_be_opaque(s, 0, 10));
    ASSERT(!lb_style_fill_may_be_opaque(s, 1, 10));
    ASSERT(!lb_style_fill_may_be_opaque(s, 2, 10));
    ASSERT(lb_style_fill_may_be_opaque(s, 3, 8));
    ASSERT(!lb_style_fill_may_be_opaque(s, 3, 12));
    ASSERT(lb_style_fill_may_be_opaque(s, 4, 10));
    ASSERT(lb_style_fill_may_be_opaque(s, 5, 10)); /* reads the feature: maybe */
    ASSERT(!lb_style_fill_may_be_opaque(s, 6, 10));
    /* the filter and the zoom range decide whether a feature is drawn, not
     * how: still "may" */
    ASSERT(lb_style_fill_may_be_opaque(s, 7, 10));
    ASSERT(!lb_style_fill_may_be_opaque(s, 99, 10));
    /* what eval gives agrees where the answer is exact */
    lb_paint p;
    ASSERT(eval(s, 1, 10, no_props, &p) && p.fill.a < 255);
    ASSERT(eval(s, 3, 12, no_props, &p) && p.fill.a < 255);
    ASSERT(eval(s, 3, 8, no_props, &p) && p.fill.a == 255);
    lb_style_free(s);
}

LB_TESTS(test_minimal_layers_and_defaults, test_colour_syntaxes_premultiplied, test_bad_colours,
         test_literal_get_has, test_not_and_comparisons, test_all_any, test_case_and_coalesce,
         test_match_labels, test_conversions_and_assertions, test_arithmetic,
         test_interpolate_linear_fractional_zoom, test_interpolate_exponential,
         test_interpolate_colours, test_interpolate_errors, test_step, test_expression_errors,
         test_filters, test_legacy_filters, test_min_max_zoom, test_visibility_and_transparency,
         test_line_properties, test_circle_properties, test_runtime_values_are_clamped,
         test_unknown_and_unsupported_keys, test_wrong_types_and_missing_keys,
         test_unsupported_layer_type, test_duplicate_ids, test_not_json, test_properties_read,
         test_legend, test_property_values_are_read_once_per_eval, test_eval_speed,
         test_shipped_styles_load, test_fill_may_be_opaque)
