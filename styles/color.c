/*
 * This file implements CSS colour parsing for styles: hex (#rgb, #rgba,
 * #rrggbb, #rrggbbaa), rgb()/rgba(), hsl()/hsla() (comma-separated or the
 * CSS Color 4 space-separated form with "/ alpha"), "transparent" and the
 * 148 CSS named colours, all case-insensitive.  It allocates nothing, so
 * colours computed per feature (["get", "farbe"]) can be parsed while
 * rendering.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "styles_int.h"

typedef struct named {
    const char *name;
    uint32_t rgb;
} named;

/* CSS Color Module Level 4 named colours, sorted by name (bsearch). */
static const named names[] = {
    {"aliceblue", 0xf0f8ff},
    {"antiquewhite", 0xfaebd7},
    {"aqua", 0x00ffff},
    {"aquamarine", 0x7fffd4},
    {"azure", 0xf0ffff},
    {"beige", 0xf5f5dc},
    {"bisque", 0xffe4c4},
    {"black", 0x000000},
    {"blanchedalmond", 0xffebcd},
    {"blue", 0x0000ff},
    {"blueviolet", 0x8a2be2},
    {"brown", 0xa52a2a},
    {"burlywood", 0xdeb887},
    {"cadetblue", 0x5f9ea0},
    {"chartreuse", 0x7fff00},
    {"chocolate", 0xd2691e},
    {"coral", 0xff7f50},
    {"cornflowerblue", 0x6495ed},
    {"cornsilk", 0xfff8dc},
    {"crimson", 0xdc143c},
    {"cyan", 0x00ffff},
    {"darkblue", 0x00008b},
    {"darkcyan", 0x008b8b},
    {"darkgoldenrod", 0xb8860b},
    {"darkgray", 0xa9a9a9},
    {"darkgreen", 0x006400},
    {"darkgrey", 0xa9a9a9},
    {"darkkhaki", 0xbdb76b},
    {"darkmagenta", 0x8b008b},
    {"darkolivegreen", 0x556b2f},
    {"darkorange", 0xff8c00},
    {"darkorchid", 0x9932cc},
    {"darkred", 0x8b0000},
    {"darksalmon", 0xe9967a},
    {"darkseagreen", 0x8fbc8f},
    {"darkslateblue", 0x483d8b},
    {"darkslategray", 0x2f4f4f},
    {"darkslategrey", 0x2f4f4f},
    {"darkturquoise", 0x00ced1},
    {"darkviolet", 0x9400d3},
    {"deeppink", 0xff1493},
    {"deepskyblue", 0x00bfff},
    {"dimgray", 0x696969},
    {"dimgrey", 0x696969},
    {"dodgerblue", 0x1e90ff},
    {"firebrick", 0xb22222},
    {"floralwhite", 0xfffaf0},
    {"forestgreen", 0x228b22},
    {"fuchsia", 0xff00ff},
    {"gainsboro", 0xdcdcdc},
    {"ghostwhite", 0xf8f8ff},
    {"gold", 0xffd700},
    {"goldenrod", 0xdaa520},
    {"gray", 0x808080},
    {"green", 0x008000},
    {"greenyellow", 0xadff2f},
    {"grey", 0x808080},
    {"honeydew", 0xf0fff0},
    {"hotpink", 0xff69b4},
    {"indianred", 0xcd5c5c},
    {"indigo", 0x4b0082},
    {"ivory", 0xfffff0},
    {"khaki", 0xf0e68c},
    {"lavender", 0xe6e6fa},
    {"lavenderblush", 0xfff0f5},
    {"lawngreen", 0x7cfc00},
    {"lemonchiffon", 0xfffacd},
    {"lightblue", 0xadd8e6},
    {"lightcoral", 0xf08080},
    {"lightcyan", 0xe0ffff},
    {"lightgoldenrodyellow", 0xfafad2},
    {"lightgray", 0xd3d3d3},
    {"lightgreen", 0x90ee90},
    {"lightgrey", 0xd3d3d3},
    {"lightpink", 0xffb6c1},
    {"lightsalmon", 0xffa07a},
    {"lightseagreen", 0x20b2aa},
    {"lightskyblue", 0x87cefa},
    {"lightslategray", 0x778899},
    {"lightslategrey", 0x778899},
    {"lightsteelblue", 0xb0c4de},
    {"lightyellow", 0xffffe0},
    {"lime", 0x00ff00},
    {"limegreen", 0x32cd32},
    {"linen", 0xfaf0e6},
    {"magenta", 0xff00ff},
    {"maroon", 0x800000},
    {"mediumaquamarine", 0x66cdaa},
    {"mediumblue", 0x0000cd},
    {"mediumorchid", 0xba55d3},
    {"mediumpurple", 0x9370db},
    {"mediumseagreen", 0x3cb371},
    {"mediumslateblue", 0x7b68ee},
    {"mediumspringgreen", 0x00fa9a},
    {"mediumturquoise", 0x48d1cc},
    {"mediumvioletred", 0xc71585},
    {"midnightblue", 0x191970},
    {"mintcream", 0xf5fffa},
    {"mistyrose", 0xffe4e1},
    {"moccasin", 0xffe4b5},
    {"navajowhite", 0xffdead},
    {"navy", 0x000080},
    {"oldlace", 0xfdf5e6},
    {"olive", 0x808000},
    {"olivedrab", 0x6b8e23},
    {"orange", 0xffa500},
    {"orangered", 0xff4500},
    {"orchid", 0xda70d6},
    {"palegoldenrod", 0xeee8aa},
    {"palegreen", 0x98fb98},
    {"paleturquoise", 0xafeeee},
    {"palevioletred", 0xdb7093},
    {"papayawhip", 0xffefd5},
    {"peachpuff", 0xffdab9},
    {"peru", 0xcd853f},
    {"pink", 0xffc0cb},
    {"plum", 0xdda0dd},
    {"powderblue", 0xb0e0e6},
    {"purple", 0x800080},
    {"rebeccapurple", 0x663399},
    {"red", 0xff0000},
    {"rosybrown", 0xbc8f8f},
    {"royalblue", 0x4169e1},
    {"saddlebrown", 0x8b4513},
    {"salmon", 0xfa8072},
    {"sandybrown", 0xf4a460},
    {"seagreen", 0x2e8b57},
    {"seashell", 0xfff5ee},
    {"sienna", 0xa0522d},
    {"silver", 0xc0c0c0},
    {"skyblue", 0x87ceeb},
    {"slateblue", 0x6a5acd},
    {"slategray", 0x708090},
    {"slategrey", 0x708090},
    {"snow", 0xfffafa},
    {"springgreen", 0x00ff7f},
    {"steelblue", 0x4682b4},
    {"tan", 0xd2b48c},
    {"teal", 0x008080},
    {"thistle", 0xd8bfd8},
    {"tomato", 0xff6347},
    {"turquoise", 0x40e0d0},
    {"violet", 0xee82ee},
    {"wheat", 0xf5deb3},
    {"white", 0xffffff},
    {"whitesmoke", 0xf5f5f5},
    {"yellow", 0xffff00},
    {"yellowgreen", 0x9acd32},
};

size_t lbs_named_color_count(void)
{
    return sizeof names / sizeof names[0];
}

static int named_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const named *)elem)->name);
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

static bool parse_hex(const char *p, size_t len, lbs_color *out)
{
    int d[8];
    if (len != 3 && len != 4 && len != 6 && len != 8)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((d[i] = hexval((unsigned char)p[i])) < 0)
            return false;
    double c[4] = {0, 0, 0, 1};
    if (len <= 4) {
        for (size_t i = 0; i < len; i++)
            c[i] = d[i] * 17 / 255.0;
    } else {
        for (size_t i = 0; i < len / 2; i++)
            c[i] = (d[2 * i] * 16 + d[2 * i + 1]) / 255.0;
    }
    *out = (lbs_color){c[0], c[1], c[2], c[3]};
    return true;
}

static double clamp01(double v)
{
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* One argument of rgb()/hsl(): a number with an optional unit. */
typedef struct arg {
    double v;
    char unit; /* 0, '%' or 'd' (deg) */
} arg;

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f')
        p++;
    return p;
}

/*
 * Parse "a, b, c[, d])" or "a b c[ / d])" after the opening parenthesis.
 * Returns the number of arguments (3 or 4), 0 when malformed.
 */
static int parse_args(const char *p, arg out[4])
{
    int n = 0;
    char sep = 0; /* ',' or ' ' once known */
    for (;;) {
        p = skip_ws(p);
        if (!(isdigit((unsigned char)*p) || *p == '.' || *p == '-' || *p == '+'))
            return 0;
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v))
            return 0;
        p = end;
        char unit = 0;
        if (*p == '%') {
            unit = '%';
            p++;
        } else if (strncmp(p, "deg", 3) == 0) {
            unit = 'd';
            p += 3;
        }
        if (n == 4)
            return 0;
        out[n++] = (arg){v, unit};
        const char *q = skip_ws(p);
        if (*q == ')') {
            q = skip_ws(q + 1);
            return (*q == '\0' && n >= 3) ? n : 0;
        }
        if (*q == ',') {
            if (sep == ' ')
                return 0;
            sep = ',';
            p = q + 1;
        } else if (*q == '/') {
            if (sep == ',' || n != 3)
                return 0;
            sep = ' ';
            p = q + 1;
        } else {
            if (sep == ',' || q == p) /* space form needs whitespace between numbers */
                return 0;
            sep = ' ';
            p = q;
            if (n == 3) /* a fourth value in the space form needs "/" */
                return 0;
        }
    }
}

static double alpha_of(arg a)
{
    return clamp01(a.unit == '%' ? a.v / 100 : a.v);
}

static double hue_to_rgb(double m1, double m2, double h)
{
    if (h < 0)
        h += 1;
    if (h > 1)
        h -= 1;
    if (h * 6 < 1)
        return m1 + (m2 - m1) * h * 6;
    if (h * 2 < 1)
        return m2;
    if (h * 3 < 2)
        return m1 + (m2 - m1) * (2.0 / 3 - h) * 6;
    return m1;
}

static bool parse_func(const char *fn, const char *p, lbs_color *out)
{
    arg a[4];
    int n = parse_args(p, a);
    if (!n)
        return false;
    double alpha = n == 4 ? alpha_of(a[3]) : 1;
    if (fn[0] == 'r') {
        double c[3];
        for (int i = 0; i < 3; i++) {
            if (a[i].unit == 'd')
                return false;
            c[i] = clamp01(a[i].unit == '%' ? a[i].v / 100 : a[i].v / 255);
        }
        *out = (lbs_color){c[0], c[1], c[2], alpha};
        return true;
    }
    /* hsl: hue in degrees (unitless or deg), saturation and lightness in % */
    if (a[0].unit == '%' || a[1].unit != '%' || a[2].unit != '%')
        return false;
    double h = fmod(a[0].v, 360) / 360;
    if (h < 0)
        h += 1;
    double s = clamp01(a[1].v / 100), l = clamp01(a[2].v / 100);
    double m2 = l <= 0.5 ? l * (s + 1) : l + s - l * s;
    double m1 = l * 2 - m2;
    *out = (lbs_color){clamp01(hue_to_rgb(m1, m2, h + 1.0 / 3)), clamp01(hue_to_rgb(m1, m2, h)),
                       clamp01(hue_to_rgb(m1, m2, h - 1.0 / 3)), alpha};
    return true;
}

bool lbs_parse_color(const char *s, lbs_color *out)
{
    if (!s)
        return false;
    s = skip_ws(s);
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
                   s[len - 1] == '\r' || s[len - 1] == '\f'))
        len--;
    if (len == 0)
        return false;
    if (s[0] == '#')
        return parse_hex(s + 1, len - 1, out);

    /* lower-case copy of the word before any "(" */
    char word[32];
    size_t w = 0;
    while (w < len && s[w] != '(' && w + 1 < sizeof word) {
        word[w] = (char)tolower((unsigned char)s[w]);
        w++;
    }
    word[w] = '\0';
    if (w < len && s[w] == '(') {
        static const char *const fns[] = {"rgb", "rgba", "hsl", "hsla"};
        for (size_t i = 0; i < 4; i++) {
            if (strcmp(word, fns[i]) == 0) {
                /* the argument text up to len (s may have trailing space) */
                char buf[160];
                size_t m = len - w - 1;
                if (m >= sizeof buf)
                    return false;
                memcpy(buf, s + w + 1, m);
                buf[m] = '\0';
                return parse_func(word, buf, out);
            }
        }
        return false;
    }
    if (w != len)
        return false; /* too long for a name */
    if (strcmp(word, "transparent") == 0) {
        *out = (lbs_color){0, 0, 0, 0};
        return true;
    }
    const named *nm = bsearch(word, names, lbs_named_color_count(), sizeof names[0], named_cmp);
    if (!nm)
        return false;
    *out = (lbs_color){((nm->rgb >> 16) & 0xff) / 255.0, ((nm->rgb >> 8) & 0xff) / 255.0,
                       (nm->rgb & 0xff) / 255.0, 1};
    return true;
}
