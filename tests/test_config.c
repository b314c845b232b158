/*
 * Tests of the config loader (layers/config.c, layers/yaml.c): every test
 * writes a YAML file into a fresh temporary folder and loads it.  Expected
 * line numbers are computed from the YAML text (line_of), so editing a
 * fixture does not silently shift them.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lagebild/config.h"
#include "lagebild/yaml.h"

#include "lbtest.h"

/* ---- fixtures --------------------------------------------------------- */

/* Everything created, removed in reverse order at exit. */
static char *created[256];
static size_t ncreated;

static void cleanup(void)
{
    while (ncreated) {
        char *p = created[--ncreated];
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rmdir(p);
        else
            unlink(p);
        free(p);
    }
}

static void remember(const char *p)
{
    static int registered;
    if (!registered) {
        atexit(cleanup);
        registered = 1;
    }
    if (ncreated < sizeof created / sizeof created[0])
        created[ncreated++] = strdup(p);
}

/* A new empty folder for the current test. */
static const char *new_dir(void)
{
    static char dir[PATH_MAX];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/lb_test_config_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        abort();
    }
    remember(dir);
    return dir;
}

/* Write text to dir/name (creating one level of sub-folder if named). */
static const char *write_file(const char *dir, const char *name, const char *text)
{
    static char path[PATH_MAX];
    const char *slash = strchr(name, '/');
    if (slash) {
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)(slash - name), name);
        if (mkdir(path, 0700) == 0)
            remember(path);
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "fopen %s: %s\n", path, strerror(errno));
        abort();
    }
    fputs(text, f);
    fclose(f);
    remember(path);
    return path;
}

/* Load yaml written to a fresh folder as lagebild.yaml; *path gets its path. */
static char cfg_path[PATH_MAX];

static lb_status load(const char *yaml, lb_config **cfg, char **diag)
{
    const char *dir = new_dir();
    snprintf(cfg_path, sizeof cfg_path, "%s", write_file(dir, "lagebild.yaml", yaml));
    return lb_config_load(cfg_path, cfg, diag);
}

/* 1-based line of the first occurrence of needle in text (0 if absent). */
static int line_of(const char *text, const char *needle)
{
    const char *p = strstr(text, needle);
    if (!p)
        return 0;
    int line = 1;
    for (const char *q = text; q < p; q++)
        line += *q == '\n';
    return line;
}

/* "cfg_path:LINE: message" */
static const char *at(const char *yaml, const char *needle, const char *fmt, ...)
{
    static char buf[4][1024];
    static int k;
    char *b = buf[k++ % 4];
    int n = snprintf(b, sizeof buf[0], "%s:%d: ", cfg_path, line_of(yaml, needle));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b + n, sizeof buf[0] - (size_t)n, fmt, ap);
    va_end(ap);
    return b;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* Load yaml that must fail with LB_ECONFIG; returns the diag (caller frees). */
static char *load_bad(const char *yaml)
{
    lb_config *cfg = (lb_config *)1;
    char *diag = NULL;
    lb_status st = load(yaml, &cfg, &diag);
    if (st != LB_ECONFIG)
        fprintf(stderr, "  status %s, diag:\n%s", lb_status_name(st), diag ? diag : "(none)\n");
    ASSERT_EQ(st, LB_ECONFIG);
    ASSERT(cfg == NULL);
    ASSERT(diag != NULL);
    return diag;
}

/* Minimal valid pieces to build failing configs around. */
#define OK_LAYERS                                                              \
    "layers:\n"                                                                \
    "  roadblocks:\n"                                                          \
    "    title: Sperren\n"

#define OK_SOURCE(id)                                                          \
    "  " id ":\n"                                                              \
    "    path: a.geojson\n"                                                    \
    "    layer: roadblocks\n"                                                  \
    "    agency: police\n"                                                     \
    "    label:\n"                                                             \
    "      level: OFFEN\n"

/* ---- valid configs ---------------------------------------------------- */

static const char full_yaml[] =
    "# Lagebild Landkreis\n"
    "store:\n"
    "  path: data/lage.sqlite\n"
    "groups: [police, fire, military, kritis, thw, lagezentrum, landkreis]\n"
    "caveats: [eyes-only-bw, no_press]\n"
    "layers:\n"
    "  roadblocks:\n"
    "    title: Straßensperren\n"
    "    style: ../styles/police.json\n"
    "    attribution: Polizei Niedersachsen\n"
    "  shelters:\n"
    "    title: Notunterkünfte\n"
    "    style: /etc/lagebild/styles/fire.json\n"
    "  hydrants:\n"
    "    title: Hydranten\n"
    "sources:\n"
    "  police_roadblocks:\n"
    "    path: police/roadblocks.geojson\n"
    "    driver: GeoJSON\n"
    "    ogr_layer: roadblocks\n"
    "    crs: EPSG:25832\n"
    "    force_crs: true\n"
    "    layer: roadblocks\n"
    "    agency: police\n"
    "    fid: id\n"
    "    mgrs: position\n"
    "    open_options: [X_POSSIBLE_NAMES=lon, Y_POSSIBLE_NAMES=lat]\n"
    "    mapping:\n"
    "      name: bezeichnung\n"
    "      status: zustand\n"
    "      observed_at: gemeldet\n"
    "      valid_from: ab\n"
    "      valid_to: bis\n"
    "      accuracy_m: genauigkeit\n"
    "    set:\n"
    "      kind: roadblock\n"
    "    label:\n"
    "      level: VS-NfD\n"
    "      releasable_to: [police, fire, lagezentrum]\n"
    "      caveats: [no_press]\n"
    "      level_from: einstufung\n"
    "      releasable_to_from: freigabe\n"
    "      caveats_from: vorbehalt\n"
    "  fire_shelters:\n"
    "    path: /srv/fire/shelters.gpkg\n"
    "    layer: shelters\n"
    "    agency: fire\n"
    "    label:\n"
    "      level: OFFEN\n"
    "  wfs_hydrants:\n"
    "    path: \"WFS:https://geo.example.org/wfs?typename=hydranten\"\n"
    "    layer: hydrants\n"
    "    agency: fire\n"
    "    force_crs: false\n"
    "    label: {level: offen, releasable_to: [], caveats: []}\n"
    "maps:\n"
    "  lage:\n"
    "    title: Gemeinsames Lagebild\n"
    "    layers: [hydrants, shelters, roadblocks]\n"
    "  polizei:\n"
    "    title: Polizei\n"
    "    layers:\n"
    "      - roadblocks\n";

static char *in_dir(const char *dir, const char *rel)
{
    static char buf[4][2 * PATH_MAX];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", dir, rel);
    return b;
}

LB_TEST(test_full_config_every_field)
{
    lb_config *cfg = NULL;
    char *diag = (char *)1;
    lb_status st = load(full_yaml, &cfg, &diag);
    if (st != LB_OK)
        fprintf(stderr, "%s", diag ? diag : "");
    ASSERT_EQ(st, LB_OK);
    ASSERT(diag == NULL);
    ASSERT(cfg != NULL);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", cfg_path);
    *strrchr(dir, '/') = '\0';

    ASSERT_STREQ(cfg->path, cfg_path);
    ASSERT_STREQ(cfg->store_path, in_dir(dir, "data/lage.sqlite"));

    ASSERT_EQ(cfg->ngroups, 7);
    ASSERT_STREQ(cfg->groups[0], "police");
    ASSERT_STREQ(cfg->groups[6], "landkreis");
    ASSERT_EQ(cfg->ncaveats, 2);
    ASSERT_STREQ(cfg->caveats[0], "eyes-only-bw");
    ASSERT_STREQ(cfg->caveats[1], "no_press");

    /* layers, in file order, with lines */
    ASSERT_EQ(cfg->nlayers, 3);
    const lb_layer_cfg *l = &cfg->layers[0];
    ASSERT_STREQ(l->id, "roadblocks");
    ASSERT_EQ(l->line, line_of(full_yaml, "  roadblocks:"));
    ASSERT_STREQ(l->title, "Straßensperren");
    ASSERT_STREQ(l->style, in_dir(dir, "../styles/police.json"));
    ASSERT_STREQ(l->attribution, "Polizei Niedersachsen");
    ASSERT_STREQ(cfg->layers[1].id, "shelters");
    ASSERT_STREQ(cfg->layers[1].style, "/etc/lagebild/styles/fire.json");
    ASSERT(cfg->layers[1].attribution == NULL);
    ASSERT_STREQ(cfg->layers[2].id, "hydrants");
    ASSERT(cfg->layers[2].style == NULL);

    /* sources */
    ASSERT_EQ(cfg->nsources, 3);
    const lb_source_cfg *s = &cfg->sources[0];
    ASSERT_STREQ(s->id, "police_roadblocks");
    ASSERT_EQ(s->line, line_of(full_yaml, "  police_roadblocks:"));
    ASSERT_STREQ(s->path, in_dir(dir, "police/roadblocks.geojson"));
    ASSERT_STREQ(s->driver, "GeoJSON");
    ASSERT_STREQ(s->ogr_layer, "roadblocks");
    ASSERT_STREQ(s->crs, "EPSG:25832");
    ASSERT(s->force_crs);
    ASSERT_STREQ(s->layer, "roadblocks");
    ASSERT_STREQ(s->agency, "police");
    ASSERT_STREQ(s->fid_attr, "id");
    ASSERT_STREQ(s->mgrs_attr, "position");
    ASSERT(s->open_options != NULL);
    ASSERT_STREQ(s->open_options[0], "X_POSSIBLE_NAMES=lon");
    ASSERT_STREQ(s->open_options[1], "Y_POSSIBLE_NAMES=lat");
    ASSERT(s->open_options[2] == NULL);
    ASSERT(s->map[LB_FIELD_KIND] == NULL);
    ASSERT_STREQ(s->map[LB_FIELD_NAME], "bezeichnung");
    ASSERT_STREQ(s->map[LB_FIELD_STATUS], "zustand");
    ASSERT_STREQ(s->map[LB_FIELD_OBSERVED_AT], "gemeldet");
    ASSERT_STREQ(s->map[LB_FIELD_VALID_FROM], "ab");
    ASSERT_STREQ(s->map[LB_FIELD_VALID_TO], "bis");
    ASSERT_STREQ(s->map[LB_FIELD_ACCURACY_M], "genauigkeit");
    ASSERT_STREQ(s->set[LB_FIELD_KIND], "roadblock");
    for (int f = 1; f < LB_FIELD_COUNT; f++)
        ASSERT(s->set[f] == NULL);
    ASSERT_EQ(s->label.level, LB_LEVEL_VS_NFD);
    ASSERT_EQ(s->label.groups, (1u << 0) | (1u << 1) | (1u << 5));
    ASSERT_EQ(s->label.caveats, 1u << 1);
    ASSERT_STREQ(s->label_level_attr, "einstufung");
    ASSERT_STREQ(s->label_groups_attr, "freigabe");
    ASSERT_STREQ(s->label_caveats_attr, "vorbehalt");

    s = &cfg->sources[1];
    ASSERT_STREQ(s->id, "fire_shelters");
    ASSERT_STREQ(s->path, "/srv/fire/shelters.gpkg");
    ASSERT(s->driver == NULL && s->ogr_layer == NULL && s->crs == NULL);
    ASSERT(!s->force_crs);
    ASSERT(s->fid_attr == NULL && s->mgrs_attr == NULL && s->open_options == NULL);
    for (int f = 0; f < LB_FIELD_COUNT; f++)
        ASSERT(s->map[f] == NULL && s->set[f] == NULL);
    ASSERT_EQ(s->label.level, LB_LEVEL_OFFEN);
    ASSERT_EQ(s->label.groups, 0);
    ASSERT_EQ(s->label.caveats, 0);
    ASSERT(s->label_level_attr == NULL && s->label_groups_attr == NULL &&
           s->label_caveats_attr == NULL);

    s = &cfg->sources[2];
    ASSERT_STREQ(s->id, "wfs_hydrants");
    ASSERT_STREQ(s->path, "WFS:https://geo.example.org/wfs?typename=hydranten");
    ASSERT_EQ(s->label.level, LB_LEVEL_OFFEN);

    /* maps: layer order as written, bottom to top */
    ASSERT_EQ(cfg->nmaps, 2);
    const lb_map_cfg *m = &cfg->maps[0];
    ASSERT_STREQ(m->id, "lage");
    ASSERT_EQ(m->line, line_of(full_yaml, "  lage:"));
    ASSERT_STREQ(m->title, "Gemeinsames Lagebild");
    ASSERT_EQ(m->nlayers, 3);
    ASSERT_STREQ(m->layers[0], "hydrants");
    ASSERT_STREQ(m->layers[1], "shelters");
    ASSERT_STREQ(m->layers[2], "roadblocks");
    ASSERT_EQ(cfg->maps[1].nlayers, 1);
    ASSERT_STREQ(cfg->maps[1].layers[0], "roadblocks");

    /* no access keys: no rule, no phase, no roles, no tokens */
    for (size_t i = 0; i < cfg->nsources; i++) {
        ASSERT_EQ(cfg->sources[i].generalised_groups, 0);
        ASSERT(cfg->sources[i].generalised_cell_m == 0);
    }
    ASSERT_EQ(cfg->phase, -1);
    ASSERT(cfg->roles == NULL && cfg->nroles == 0);
    ASSERT(cfg->tokens == NULL && cfg->ntokens == 0);

    lb_config_free(cfg);
}

LB_TEST(test_lookups_and_names)
{
    lb_config *cfg = NULL;
    ASSERT_EQ(load(full_yaml, &cfg, NULL), LB_OK);
    ASSERT(lb_config_source(cfg, "fire_shelters") == &cfg->sources[1]);
    ASSERT(lb_config_source(cfg, "nope") == NULL);
    ASSERT(lb_config_layer(cfg, "hydrants") == &cfg->layers[2]);
    ASSERT(lb_config_layer(cfg, "Hydrants") == NULL);
    ASSERT(lb_config_map(cfg, "polizei") == &cfg->maps[1]);
    ASSERT(lb_config_map(cfg, NULL) == NULL);
    ASSERT_EQ(lb_config_group_index(cfg, "police"), 0);
    ASSERT_EQ(lb_config_group_index(cfg, "landkreis"), 6);
    ASSERT_EQ(lb_config_group_index(cfg, "bundeswehr"), -1);
    ASSERT_EQ(lb_config_caveat_index(cfg, "no_press"), 1);
    ASSERT_EQ(lb_config_caveat_index(cfg, "police"), -1);

    static const char *const names[] = {"kind", "name", "status", "observed_at",
                                        "valid_from", "valid_to", "accuracy_m"};
    for (int f = 0; f < LB_FIELD_COUNT; f++)
        ASSERT_STREQ(lb_field_name((lb_field)f), names[f]);
    ASSERT(lb_field_name(LB_FIELD_COUNT) == NULL);
    lb_config_free(cfg);
    lb_config_free(NULL);
}

LB_TEST(test_format_groups_and_caveats)
{
    lb_config *cfg = NULL;
    ASSERT_EQ(load(full_yaml, &cfg, NULL), LB_OK);
    char buf[128];
    const lb_source_cfg *s = lb_config_source(cfg, "police_roadblocks");
    lb_config_format_groups(cfg, s->label.groups, buf, sizeof buf);
    ASSERT_STREQ(buf, "police,fire,lagezentrum");
    lb_config_format_caveats(cfg, s->label.caveats, buf, sizeof buf);
    ASSERT_STREQ(buf, "no_press");
    lb_config_format_groups(cfg, 0, buf, sizeof buf);
    ASSERT_STREQ(buf, "");
    /* declaration order, not bit-setting order */
    lb_config_format_groups(cfg, (1u << 6) | (1u << 2), buf, sizeof buf);
    ASSERT_STREQ(buf, "military,landkreis");
    /* an undeclared bit is shown, not dropped */
    lb_config_format_caveats(cfg, (UINT64_C(1) << 40) | 1u, buf, sizeof buf);
    ASSERT_STREQ(buf, "eyes-only-bw,#40");
    /* only whole names when the buffer is short */
    lb_config_format_groups(cfg, 3, buf, 10);
    ASSERT_STREQ(buf, "police");
    lb_config_format_groups(cfg, 3, buf, 13);
    ASSERT_STREQ(buf, "police,fire");
    buf[0] = 'x';
    lb_config_format_groups(cfg, 3, buf, 1);
    ASSERT_STREQ(buf, "");
    lb_config_free(cfg);
}

LB_TEST(test_relative_config_path_and_dataset_strings)
{
    const char *dir = new_dir();
    static const char yaml[] =
        OK_LAYERS
        "sources:\n"
        "  rel:\n"
        "    path: police/a.geojson\n"
        "    layer: roadblocks\n"
        "    agency: police\n"
        "    label: {level: OFFEN}\n"
        "  pg:\n"
        "    path: \"PG:dbname=lage host=db\"\n"
        "    layer: roadblocks\n"
        "    agency: police\n"
        "    label: {level: OFFEN}\n"
        "  url:\n"
        "    path: https://example.org/data.geojson\n"
        "    layer: roadblocks\n"
        "    agency: police\n"
        "    label: {level: OFFEN}\n"
        "  vsi:\n"
        "    path: /vsizip/archiv.zip/a.shp\n"
        "    layer: roadblocks\n"
        "    agency: police\n"
        "    label: {level: OFFEN}\n"
        "  vsirel:\n"
        "    path: /vsicurl/https://example.org/x.fgb\n"
        "    layer: roadblocks\n"
        "    agency: police\n"
        "    label: {level: OFFEN}\n"
        "  oapif:\n"
        "    path: OAPIF:https://example.org/ogc\n"
        "    layer: roadblocks\n"
        "    agency: police\n"
        "    label: {level: OFFEN}\n"
        "  dotted:\n"
        "    path: ./x:y.geojson\n"
        "    layer: roadblocks\n"
        "    agency: police\n"
        "    label: {level: OFFEN}\n";
    write_file(dir, "conf/lage.yml", yaml);
    char cwd[PATH_MAX];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    ASSERT_EQ(chdir(dir), 0);
    lb_config *cfg = NULL;
    char *diag = NULL;
    lb_status st = lb_config_load("conf/lage.yml", &cfg, &diag);
    int back = chdir(cwd);
    ASSERT_EQ(back, 0);
    if (st != LB_OK)
        fprintf(stderr, "%s", diag);
    ASSERT_EQ(st, LB_OK);
    ASSERT_STREQ(cfg->path, "conf/lage.yml");
    /* default store: the config's name with .sqlite, beside it */
    ASSERT_STREQ(cfg->store_path, "conf/lage.sqlite");
    ASSERT_STREQ(lb_config_source(cfg, "rel")->path, "conf/police/a.geojson");
    ASSERT_STREQ(lb_config_source(cfg, "pg")->path, "PG:dbname=lage host=db");
    ASSERT_STREQ(lb_config_source(cfg, "url")->path, "https://example.org/data.geojson");
    ASSERT_STREQ(lb_config_source(cfg, "vsi")->path, "/vsizip/archiv.zip/a.shp");
    ASSERT_STREQ(lb_config_source(cfg, "vsirel")->path, "/vsicurl/https://example.org/x.fgb");
    ASSERT_STREQ(lb_config_source(cfg, "oapif")->path, "OAPIF:https://example.org/ogc");
    ASSERT_STREQ(lb_config_source(cfg, "dotted")->path, "conf/./x:y.geojson");
    lb_config_free(cfg);
}

LB_TEST(test_default_store_path)
{
    const char *dir = new_dir();
    lb_config *cfg = NULL;
    const char *p = write_file(dir, "lage.v2.yaml", "layers: {}\n");
    ASSERT_EQ(lb_config_load(p, &cfg, NULL), LB_OK);
    ASSERT_STREQ(cfg->store_path, in_dir(dir, "lage.v2.sqlite"));
    lb_config_free(cfg);
    p = write_file(dir, "lagebild", "sources:\n");
    ASSERT_EQ(lb_config_load(p, &cfg, NULL), LB_OK);
    ASSERT_STREQ(cfg->store_path, in_dir(dir, "lagebild.sqlite"));
    lb_config_free(cfg);
    /* an absolute store path is kept */
    p = write_file(dir, "abs.yaml", "store:\n  path: /var/lib/lagebild/lage.sqlite\n");
    ASSERT_EQ(lb_config_load(p, &cfg, NULL), LB_OK);
    ASSERT_STREQ(cfg->store_path, "/var/lib/lagebild/lage.sqlite");
    lb_config_free(cfg);
}

LB_TEST(test_empty_config_is_valid)
{
    lb_config *cfg = NULL;
    char *diag = NULL;
    ASSERT_EQ(load("", &cfg, &diag), LB_OK);
    ASSERT(diag == NULL);
    ASSERT_EQ(cfg->nsources + cfg->nlayers + cfg->nmaps + cfg->ngroups + cfg->ncaveats, 0);
    ASSERT(cfg->sources == NULL && cfg->layers == NULL && cfg->groups == NULL);
    ASSERT(cfg->store_path != NULL);
    ASSERT_EQ(cfg->phase, -1);
    ASSERT_EQ(cfg->nroles + cfg->ntokens, 0);
    lb_config_free(cfg);

    ASSERT_EQ(load("# only a comment\nstore:\ngroups: []\nlayers: {}\nsources:\nmaps: {}\n"
                   "phase:\nroles: {}\ntokens:\n",
                   &cfg, &diag),
              LB_OK);
    ASSERT_EQ(cfg->nsources + cfg->nlayers + cfg->nmaps + cfg->ngroups, 0);
    ASSERT_EQ(cfg->nroles + cfg->ntokens, 0);
    ASSERT(cfg->roles == NULL && cfg->tokens == NULL);
    ASSERT_EQ(cfg->phase, -1);
    lb_config_free(cfg);
}

/* ---- errors ----------------------------------------------------------- */

LB_TEST(test_unknown_key_at_each_level)
{
    static const char yaml[] =
        "stroe:\n"
        "  path: x.sqlite\n"
        "store:\n"
        "  pth: x.sqlite\n"
        "layers:\n"
        "  roadblocks:\n"
        "    title: Sperren\n"
        "    colour: red\n"
        "sources:\n"
        "  police_roadblocks:\n"
        "    path: a.geojson\n"
        "    lyaer: roadblocks\n"
        "    layer: roadblocks\n"
        "    agency: police\n"
        "    mapping:\n"
        "      nmae: bezeichnung\n"
        "    set:\n"
        "      knid: roadblock\n"
        "    label:\n"
        "      level: OFFEN\n"
        "      groups: [police]\n"
        "maps:\n"
        "  lage:\n"
        "    title: Lage\n"
        "    layers: [roadblocks]\n"
        "    zoom: 9\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "stroe:",
                             "unknown key 'stroe' at the top level (valid: store, phase, cors, "
                             "groups, caveats, layers, sources, maps, roles, tokens, push, jwt)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "pth:", "unknown key 'pth' in section 'store' (valid: path)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "colour:",
                             "unknown key 'colour' in layer 'roadblocks' (valid: title, "
                             "style, attribution, conflate)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "lyaer:",
                             "unknown key 'lyaer' in source 'police_roadblocks' (valid: path, "
                             "watch, refresh, settle, driver, ogr_layer, crs, force_crs, layer, agency, fid, mgrs, "
                             "open_options, mapping, set, label, generalised_release)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "nmae:",
                             "unknown key 'nmae' in mapping of source 'police_roadblocks' "
                             "(valid: kind, name, status, observed_at, valid_from, valid_to, "
                             "accuracy_m)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "knid:", "unknown key 'knid' in set of source"));
    ASSERT_CONTAINS(diag, at(yaml, "groups:",
                             "unknown key 'groups' in label of source 'police_roadblocks' "
                             "(valid: level, releasable_to, caveats, level_from, "
                             "releasable_to_from, caveats_from)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "zoom:",
                             "unknown key 'zoom' in map 'lage' (valid: title, layers)\n"));
    ASSERT_EQ(count_lines(diag), 8);
    free(diag);
}

LB_TEST(test_wrong_types)
{
    static const char yaml[] =
        "groups: police\n"
        OK_LAYERS
        "    style: {file: x.json}\n"
        "sources:\n"
        "  a:\n"
        "    path: [a.geojson]\n"
        "    layer: roadblocks\n"
        "    agency: \"\"\n"
        "    force_crs: yes please\n"
        "    crs: EPSG:4326\n"
        "    open_options: [X_POSSIBLE_NAMES=lon, SPLIT]\n"
        "    mapping: name\n"
        "    label:\n"
        "      level: streng geheim\n"
        "      releasable_to: police\n"
        "  b:\n"
        "    path: b.geojson\n"
        "    layer: roadblocks\n"
        "    agency: fire\n"
        "    force_crs: \"true\"\n"
        "    crs: EPSG:4326\n"
        "    label: [level, OFFEN]\n"
        "  c:\n"
        "    path: c.geojson\n"
        "    layer: roadblocks\n"
        "    agency: fire\n"
        "    force_crs: True\n"
        "    crs: EPSG:4326\n"
        "    fid: {a: b}\n"
        "    label:\n"
        "      level: OFFEN\n"
        "      caveats: [[x]]\n"
        "  d: just a string\n"
        "maps: [lage]\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "groups:", "key 'groups' must be a list, got 'police'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "style:", "key 'style' must be a string, got a mapping\n"));
    ASSERT_CONTAINS(diag, at(yaml, "path: [", "key 'path' must be a string, got a list\n"));
    ASSERT_CONTAINS(diag, at(yaml, "agency: \"\"", "key 'agency' must not be empty\n"));
    ASSERT_CONTAINS(diag, at(yaml, "yes please",
                             "key 'force_crs' must be true or false, got 'yes please'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "SPLIT", "open option 'SPLIT' must have the form KEY=VALUE\n"));
    ASSERT_CONTAINS(diag, at(yaml, "mapping: name",
                             "key 'mapping' must be a mapping, got 'name'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "streng geheim",
                             "key 'level' must be one of OFFEN, VS-NfD, VS-VERTRAULICH, GEHEIM, "
                             "got 'streng geheim'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "releasable_to: police",
                             "key 'releasable_to' must be a list, got 'police'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "\"true\"",
                             "key 'force_crs' must be true or false, got quoted 'true'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "label: [", "key 'label' must be a mapping, got a list\n"));
    ASSERT_CONTAINS(diag, at(yaml, "True", "key 'force_crs' must be true or false, got 'True'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "fid:", "key 'fid' must be a string, got a mapping\n"));
    ASSERT_CONTAINS(diag, at(yaml, "[[x]]",
                             "items of 'caveats' must be caveat names, got a list\n"));
    ASSERT_CONTAINS(diag, at(yaml, "d: just",
                             "source 'd' must be a mapping of keys, got 'just a string'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "maps:",
                             "key 'maps' must be a mapping of map ids to maps, got a list\n"));
    free(diag);
}

LB_TEST(test_missing_required_keys)
{
    static const char yaml[] =
        "layers:\n"
        "  roadblocks:\n"
        "    style: a.json\n"
        "  shelters:\n"
        "sources:\n"
        "  a:\n"
        "    driver: GeoJSON\n"
        "  b:\n"
        "    path: b.geojson\n"
        "    layer: shelters\n"
        "    agency: fire\n"
        "    label:\n"
        "      releasable_to: []\n"
        "  c:\n"
        "    path: b.geojson\n"
        "    layer: shelters\n"
        "    agency:\n"
        "    label:\n"
        "      level: OFFEN\n"
        "maps:\n"
        "  lage:\n"
        "    layers: [roadblocks]\n"
        "  leer:\n"
        "    title: Leer\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "  roadblocks:",
                             "missing required key 'title' in layer 'roadblocks'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "  shelters:",
                             "missing required key 'title' in layer 'shelters'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "  a:", "missing required key 'path' in source 'a' (a file or URL; or 'watch': a drop folder)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "  a:", "missing required key 'layer' in source 'a'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "  a:", "missing required key 'agency' in source 'a'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "  a:", "missing required key 'label' in source 'a'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "    label:\n      rel",
                             "missing required key 'level' in label of source 'b'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "agency:\n", "key 'agency' in source 'c' has no value\n"));
    ASSERT_CONTAINS(diag, at(yaml, "  lage:", "missing required key 'title' in map 'lage'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "  leer:", "missing required key 'layers' in map 'leer'\n"));
    ASSERT_EQ(count_lines(diag), 10);
    free(diag);
}

LB_TEST(test_write_grants_and_push_limits)
{
    static const char yaml[] =
        "groups: [police]\n"
        OK_LAYERS
        "sources:\n"
        "  a:\n"
        "    path: a.geojson\n"
        "    layer: roadblocks\n"
        "    agency: police\n"
        "    label: {level: OFFEN}\n"
        "roles:\n"
        "  w:\n"
        "    title: W\n"
        "    clearance: {level: OFFEN}\n"
        "    write: [a]\n"
        "push:\n"
        "  max_body_bytes: 4096\n";
    lb_config *cfg = NULL;
    char *diag = NULL;
    ASSERT_EQ(load(yaml, &cfg, &diag), LB_OK);
    const lb_role_cfg *w = lb_config_role(cfg, "w");
    ASSERT_EQ(w->nwrite, 1);
    ASSERT_STREQ(w->write[0], "a");
    ASSERT_NEAR(cfg->push_max_body, 4096, 0);
    lb_config_free(cfg);
    free(diag);

    static const char bad[] =
        "groups: [police]\n"
        OK_LAYERS
        "sources:\n"
        "  a:\n"
        "    path: a.geojson\n"
        "    layer: roadblocks\n"
        "    agency: police\n"
        "    label: {level: OFFEN}\n"
        "roles:\n"
        "  w:\n"
        "    title: W\n"
        "    clearance: {level: OFFEN}\n"
        "    write: [a, b, a]\n"
        "push:\n"
        "  max_body_bytes: -1\n";
    diag = load_bad(bad);
    ASSERT_CONTAINS(diag, at(bad, "write:", "undefined source 'b' (defined sources: a)\n"));
    ASSERT_CONTAINS(diag, at(bad, "write:", "source 'a' is listed twice\n"));
    ASSERT_CONTAINS(diag, at(bad, "max_body_bytes", "key 'max_body_bytes' must be"));
    free(diag);
}

LB_TEST(test_undefined_references)
{
    static const char yaml[] =
        "groups: [police, fire]\n"
        "caveats: [eyes-only-bw]\n"
        OK_LAYERS
        "sources:\n"
        "  a:\n"
        "    path: a.geojson\n"
        "    layer: roadblock\n"
        "    agency: police\n"
        "    label:\n"
        "      level: OFFEN\n"
        "      releasable_to: [police, polizei]\n"
        "      caveats: [eyes-only-nds]\n"
        "maps:\n"
        "  lage:\n"
        "    title: Lage\n"
        "    layers: [roadblocks, shelters]\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "layer: roadblock\n",
                             "undefined layer 'roadblock' (defined layers: roadblocks)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "polizei]",
                             "undeclared group 'polizei' (declared: police, fire)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "eyes-only-nds",
                             "undeclared caveat 'eyes-only-nds' (declared: eyes-only-bw)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "shelters]",
                             "undefined layer 'shelters' (defined layers: roadblocks)\n"));
    ASSERT_EQ(count_lines(diag), 4);
    free(diag);

    /* nothing declared at all */
    static const char yaml2[] =
        "sources:\n"
        "  a:\n"
        "    path: a.geojson\n"
        "    layer: roadblocks\n"
        "    agency: police\n"
        "    label: {level: OFFEN, releasable_to: [police], caveats: [x]}\n";
    diag = load_bad(yaml2);
    ASSERT_CONTAINS(diag, at(yaml2, "layer:",
                             "undefined layer 'roadblocks' (no layers are defined)\n"));
    ASSERT_CONTAINS(diag, at(yaml2, "label:",
                             "undeclared group 'police' (no groups are declared)\n"));
    ASSERT_CONTAINS(diag, at(yaml2, "label:", "undeclared caveat 'x' (no caveats are declared)\n"));
    free(diag);
}

#define ID63 "a12345678901234567890123456789012345678901234567890123456789012"
#define ID64 ID63 "x"

LB_TEST(test_invalid_ids)
{
    static const char yaml[] =
        "layers:\n"
        "  Roadblocks: {title: a}\n"
        "  1roads: {title: a}\n"
        "  road-blocks: {title: a}\n"
        "  lb_revisions: {title: a}\n"
        "  idx_roads_geom: {title: a}\n"
        "  sqlite_sequence: {title: a}\n"
        "  knn: {title: a}\n"
        "  spatialindex: {title: a}\n"
        "  geometry_columns: {title: a}\n"
        "  spatial_ref_sys_aux: {title: a}\n"
        "  elementarygeometries: {title: a}\n"
        "  " ID64 ": {title: a}\n"
        "  " ID63 ": {title: a}\n"
        "  ok_layer_2: {title: a}\n"
        "  knnx: {title: a}\n"
        "sources:\n"
        "  Police:\n"
        "    path: a.geojson\n"
        "    layer: ok_layer_2\n"
        "    agency: police\n"
        "    label: {level: OFFEN}\n"
        "maps:\n"
        "  lage-karte: {title: a, layers: [ok_layer_2]}\n"
        "  lb_map: {title: a, layers: [ok_layer_2]}\n";
    char *diag = load_bad(yaml);
    const char *rule = "use 1 to 63 characters a-z, 0-9 and _, starting with a letter\n";
    ASSERT_CONTAINS(diag, at(yaml, "Roadblocks", "invalid layer id 'Roadblocks': %s", rule));
    ASSERT_CONTAINS(diag, at(yaml, "1roads", "invalid layer id '1roads': %s", rule));
    ASSERT_CONTAINS(diag, at(yaml, "road-blocks", "invalid layer id 'road-blocks': %s", rule));
    ASSERT_CONTAINS(diag, at(yaml, "lb_revisions",
                             "layer id 'lb_revisions' is reserved: ids must not start with lb_, "
                             "idx_ or sqlite_\n"));
    ASSERT_CONTAINS(diag, at(yaml, "idx_roads_geom", "layer id 'idx_roads_geom' is reserved"));
    ASSERT_CONTAINS(diag, at(yaml, "sqlite_sequence", "layer id 'sqlite_sequence' is reserved"));
    const char *sys = "is reserved: it names a SpatiaLite system table\n";
    ASSERT_CONTAINS(diag, at(yaml, "knn:", "layer id 'knn' %s", sys));
    ASSERT_CONTAINS(diag, at(yaml, "spatialindex", "layer id 'spatialindex' %s", sys));
    ASSERT_CONTAINS(diag, at(yaml, "geometry_columns", "layer id 'geometry_columns' %s", sys));
    ASSERT_CONTAINS(diag, at(yaml, "spatial_ref_sys_aux",
                             "layer id 'spatial_ref_sys_aux' %s", sys));
    ASSERT_CONTAINS(diag, at(yaml, "elementarygeometries",
                             "layer id 'elementarygeometries' %s", sys));
    ASSERT_EQ(strlen(ID63), 63);
    ASSERT_CONTAINS(diag, at(yaml, ID64,
                             "invalid layer id '" ID64 "': 64 characters, at most 63 are allowed\n"));
    ASSERT_CONTAINS(diag, at(yaml, "Police", "invalid source id 'Police': %s", rule));
    ASSERT_CONTAINS(diag, at(yaml, "lage-karte", "invalid map id 'lage-karte': %s", rule));
    /* 63 characters, knnx and ok_layer_2 are fine; map ids have no reserved prefixes */
    ASSERT_EQ(count_lines(diag), 14);
    free(diag);
}

LB_TEST(test_duplicate_keys)
{
    static const char yaml[] =
        OK_LAYERS
        "  roadblocks:\n"
        "    title: Nochmal\n"
        "sources:\n"
        OK_SOURCE("a")
        "    agency: fire\n"
        "maps: {}\n"
        "maps: {}\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "  roadblocks:\n    title: N",
                             "duplicate key 'roadblocks' (first given on line %d)\n",
                             line_of(yaml, "  roadblocks:")));
    ASSERT_CONTAINS(diag, at(yaml, "agency: fire",
                             "duplicate key 'agency' (first given on line %d)\n",
                             line_of(yaml, "agency: police")));
    char expect[PATH_MAX + 128];
    snprintf(expect, sizeof expect, "%s:%d: duplicate key 'maps' (first given on line %d)\n",
             cfg_path, line_of(yaml, "maps: {}\nmaps") + 1, line_of(yaml, "maps:"));
    ASSERT_CONTAINS(diag, expect);
    ASSERT_EQ(count_lines(diag), 3);
    free(diag);
}

/*
 * Single-quoted strings decode as YAML 1.2 says (PyYAML agrees), also where
 * libfyaml 0.7.12 gets consecutive '' escapes wrong ('x''''y' gave x''').
 */
LB_TEST(test_yaml_single_quoted_strings)
{
    static const struct {
        const char *key, *want;
    } cases[] = {
        {"two", "x''y"},       {"many", "ab''cd''ef"}, {"five", "x'''''y"},
        {"only", "'''''"},     {"one", "it's"},        {"fold", "ab "},
        {"newline", "ab\n"},   {"lead", " ab"},        {"inner", " a b "},
        {"empties", "a\n\nb"}, {"tab", "x y"},         {"crlf", "a b"},
        {"empty", ""},         {"mixed", "O'Brien's ''x'' y\nz"},
    };
    static const char yaml[] = "two: 'x''''y'\n"
                               "many: 'ab''''cd''''ef'\n"
                               "five: 'x''''''''''y'\n"
                               "only: ''''''''''''\n"
                               "one: 'it''s'\n"
                               "fold: 'ab\n  '\n"
                               "newline: 'ab\n\n  '\n"
                               "lead: '\n  ab'\n"
                               "inner: ' a \n   b '\n"
                               "empties: 'a\n\n\n  b'\n"
                               "tab: 'x\t\n  y'\n"
                               "crlf: 'a\r\n  b'\n"
                               "empty: ''\n"
                               "mixed: 'O''Brien''s ''''x'''' y\n\n  z'\n";
    const char *dir = new_dir();
    const char *path = write_file(dir, "q.yaml", yaml);
    lb_yaml_doc doc = {0};
    lb_diag errs = {0};
    ASSERT_EQ(lb_yaml_load(path, &doc, &errs), LB_OK);
    ASSERT(doc.root != NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const lb_yaml_pair *p = lb_yaml_get(doc.root, cases[i].key);
        ASSERT(p != NULL);
        ASSERT_EQ(p->value->kind, LB_YAML_SCALAR);
        if (strcmp(p->value->text, cases[i].want) != 0)
            LBT__FAIL("%s: got \"%s\", want \"%s\"", cases[i].key, p->value->text, cases[i].want);
        ASSERT(p->value->quoted);
    }
    lb_yaml_free(&doc);
    lb_diag_free(&errs);
}

LB_TEST(test_yaml_syntax_error_has_line)
{
    static const char yaml[] =
        OK_LAYERS
        "sources:\n"
        "  a:\n"
        "    path: \"a.geojson\n"
        "    layer: roadblocks\n";
    char *diag = load_bad(yaml);
    /* "file:LINE: message" with the line of the broken scalar or after it */
    char prefix[PATH_MAX + 8];
    snprintf(prefix, sizeof prefix, "%s:", cfg_path);
    ASSERT(strncmp(diag, prefix, strlen(prefix)) == 0);
    int line = atoi(diag + strlen(prefix));
    ASSERT(line >= line_of(yaml, "path: \"a") && line <= line_of(yaml, "layer: r") + 1);
    ASSERT_EQ(count_lines(diag), 1);
    free(diag);

    static const char yaml2[] =
        "groups: [police, fire\n"
        "layers:\n"
        "  a: {title: x}\n";
    diag = load_bad(yaml2);
    /* libfyaml notices the unclosed '[' only where the next token fails */
    ASSERT_CONTAINS(diag, at(yaml2, "  a:", "missing comma in flow sequence\n"));
    free(diag);

    static const char yaml3[] =
        "layers:\n"
        "  a:\n"
        "    title: x\n"
        "   b: y\n";
    diag = load_bad(yaml3);
    ASSERT_CONTAINS(diag, at(yaml3, "   b:", "invalid indentation in mapping\n"));
    free(diag);
}

LB_TEST(test_text_must_be_utf8)
{
    /* "Straße" saved as Latin-1, as older GIS tools do */
    static const char yaml[] = OK_LAYERS "    attribution: Stra\xdf" "enmeisterei\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "attribution",
                             "invalid UTF-8 (byte 0xdf in column 22): save the file as UTF-8\n"));
    ASSERT_EQ(count_lines(diag), 1);
    free(diag);

    /* a NUL written as an escape */
    static const char yaml2[] = OK_LAYERS "    attribution: \"a\\0b\"\n";
    diag = load_bad(yaml2);
    ASSERT_CONTAINS(diag, at(yaml2, "attribution", "NUL characters are not allowed in strings\n"));
    free(diag);

    /* a byte-order mark and CRLF line ends are fine */
    lb_config *cfg = NULL;
    ASSERT_EQ(load("\xef\xbb\xbflayers:\r\n  a:\r\n    title: T\r\n", &cfg, NULL), LB_OK);
    ASSERT_STREQ(cfg->layers[0].title, "T");
    lb_config_free(cfg);
}

LB_TEST(test_aliases_and_anchors_rejected)
{
    static const char yaml[] =
        OK_LAYERS
        "sources:\n"
        "  a:\n"
        "    path: a.geojson\n"
        "    layer: roadblocks\n"
        "    agency: police\n"
        "    label: &default_label\n"
        "      level: OFFEN\n"
        "  b:\n"
        "    path: b.geojson\n"
        "    layer: roadblocks\n"
        "    agency: police\n"
        "    label: *default_label\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "&default_label", "YAML aliases are not supported"));
    ASSERT_CONTAINS(diag, at(yaml, "*default_label",
                             "YAML aliases are not supported (found alias '*default_label')\n"));
    ASSERT_EQ(count_lines(diag), 2);
    free(diag);

    /* merge keys need aliases too */
    static const char yaml2[] =
        "layers:\n"
        "  a: {title: A}\n"
        "  b:\n"
        "    <<: *base\n";
    diag = load_bad(yaml2);
    ASSERT_CONTAINS(diag, "YAML aliases are not supported");
    free(diag);
}

LB_TEST(test_missing_file)
{
    const char *dir = new_dir();
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/nope.yaml", dir);
    lb_config *cfg = (lb_config *)1;
    char *diag = NULL;
    ASSERT_EQ(lb_config_load(path, &cfg, &diag), LB_ENOENT);
    ASSERT(cfg == NULL);
    ASSERT_CONTAINS(diag, path);
    ASSERT_CONTAINS(diag, "No such file");
    free(diag);
    /* diag is optional */
    ASSERT_EQ(lb_config_load(path, &cfg, NULL), LB_ENOENT);
    /* a folder is not a config */
    ASSERT_EQ(lb_config_load(dir, &cfg, &diag), LB_EIO);
    ASSERT_CONTAINS(diag, "is a directory");
    free(diag);
    ASSERT_EQ(lb_config_load(NULL, &cfg, NULL), LB_EINVAL);
}

LB_TEST(test_several_errors_reported_at_once_sorted)
{
    static const char yaml[] =
        "groups: [police, Fire]\n"
        OK_LAYERS
        "    extra: 1\n"
        "sources:\n"
        "  a:\n"
        "    path: a.geojson\n"
        "    layer: nowhere\n"
        "    agency: police\n"
        "    force_crs: maybe\n"
        "    label:\n"
        "      level: OFFEN\n"
        "maps:\n"
        "  lage:\n"
        "    layers: [roadblocks, roadblocks]\n";
    char *diag = load_bad(yaml);
    ASSERT_EQ(count_lines(diag), 6);
    /* one line each, in line order although decoded in another order */
    int prev = 0;
    for (const char *p = diag; *p; p = strchr(p, '\n') + 1) {
        ASSERT(strncmp(p, cfg_path, strlen(cfg_path)) == 0);
        int line = atoi(p + strlen(cfg_path) + 1);
        ASSERT(line >= prev);
        prev = line;
    }
    ASSERT_CONTAINS(diag, at(yaml, "Fire", "invalid group name 'Fire'"));
    ASSERT_CONTAINS(diag, at(yaml, "extra:", "unknown key 'extra' in layer 'roadblocks'"));
    ASSERT_CONTAINS(diag, at(yaml, "nowhere", "undefined layer 'nowhere'"));
    ASSERT_CONTAINS(diag, at(yaml, "maybe", "key 'force_crs' must be true or false, got 'maybe'"));
    ASSERT_CONTAINS(diag, at(yaml, "  lage:", "missing required key 'title' in map 'lage'"));
    ASSERT_CONTAINS(diag, at(yaml, "[roadblocks, roadblocks]",
                             "layer 'roadblocks' is listed twice"));
    free(diag);
}

LB_TEST(test_force_crs_needs_crs)
{
    static const char yaml[] =
        OK_LAYERS
        "sources:\n"
        OK_SOURCE("a")
        "    force_crs: true\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "force_crs",
                             "force_crs: true in source 'a' needs a crs to force\n"));
    ASSERT_EQ(count_lines(diag), 1);
    free(diag);
}

LB_TEST(test_mapping_and_set_for_same_field)
{
    static const char yaml[] =
        OK_LAYERS
        "sources:\n"
        OK_SOURCE("a")
        "    mapping:\n"
        "      kind: art\n"
        "      name: bezeichnung\n"
        "    set:\n"
        "      status: aktiv\n"
        "      kind: roadblock\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "kind: roadblock",
                             "field 'kind' in source 'a' is given both in mapping (from an "
                             "attribute) and in set (constant)\n"));
    ASSERT_EQ(count_lines(diag), 1);
    free(diag);
}

LB_TEST(test_group_and_caveat_declarations)
{
    char yaml[4096];
    size_t n = (size_t)snprintf(yaml, sizeof yaml, "groups: [");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "%sg%d", i ? ", " : "", i);
    snprintf(yaml + n, sizeof yaml - n,
             "]\ncaveats: [a, a, \"\", -x, ok-1_x]\n");
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "groups", "too many groups: at most 64 can be declared\n"));
    ASSERT_CONTAINS(diag, at(yaml, "caveats", "caveat 'a' is declared twice\n"));
    ASSERT_CONTAINS(diag, at(yaml, "caveats",
                             "items of 'caveats' must be caveat names, got an empty string\n"));
    ASSERT_CONTAINS(diag, at(yaml, "caveats", "invalid caveat name '-x'"));
    ASSERT_EQ(count_lines(diag), 4);
    free(diag);

    /* exactly 64 is fine, and the last one gets bit 63 */
    n = (size_t)snprintf(yaml, sizeof yaml, "groups: [");
    for (int i = 0; i < 64; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "%sg%d", i ? ", " : "", i);
    snprintf(yaml + n, sizeof yaml - n,
             "]\n" OK_LAYERS "sources:\n"
             "  a:\n    path: a\n    layer: roadblocks\n    agency: x\n"
             "    label: {level: GEHEIM, releasable_to: [g63, g0]}\n");
    lb_config *cfg = NULL;
    ASSERT_EQ(load(yaml, &cfg, NULL), LB_OK);
    ASSERT_EQ(cfg->ngroups, 64);
    ASSERT(cfg->sources[0].label.groups == ((UINT64_C(1) << 63) | 1u));
    ASSERT_EQ(cfg->sources[0].label.level, LB_LEVEL_GEHEIM);
    char buf[64];
    lb_config_format_groups(cfg, cfg->sources[0].label.groups, buf, sizeof buf);
    ASSERT_STREQ(buf, "g0,g63");
    lb_config_free(cfg);
}

LB_TEST(test_label_lists_reject_repeats)
{
    static const char yaml[] =
        "groups: [police, fire]\n"
        OK_LAYERS
        "sources:\n"
        "  a:\n"
        "    path: a.geojson\n"
        "    layer: roadblocks\n"
        "    agency: police\n"
        "    label:\n"
        "      level: nfd\n"
        "      releasable_to: [fire, police, fire]\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "[fire, police, fire]", "group 'fire' is listed twice\n"));
    ASSERT_EQ(count_lines(diag), 1);
    free(diag);
}

LB_TEST(test_map_layers_empty)
{
    static const char yaml[] =
        OK_LAYERS
        "maps:\n"
        "  lage:\n"
        "    title: Lage\n"
        "    layers: []\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "layers: []", "key 'layers' must name at least one layer\n"));
    free(diag);
}

LB_TEST(test_top_level_must_be_mapping)
{
    static const char yaml[] = "- store\n- layers\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "- store", "the file must be a mapping"));
    free(diag);
}

LB_TEST(test_one_document_only)
{
    static const char yaml[] = OK_LAYERS "---\nlayers: {}\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "---", "only one YAML document per file is supported"));
    free(diag);
}

LB_TEST(test_non_scalar_keys_rejected)
{
    static const char yaml[] = "layers:\n  ? [a, b]\n  : {title: x}\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "[a, b]", "mapping keys must be strings, not a list\n"));
    free(diag);
}

LB_TEST(test_quoted_values_and_null_strings)
{
    /* quoted "null" is a string; plain ~ is "not given" */
    static const char yaml[] =
        "layers:\n"
        "  roadblocks:\n"
        "    title: \"null\"\n"
        "    attribution: ~\n"
        "    style: 'styles/a b.json'\n";
    lb_config *cfg = NULL;
    ASSERT_EQ(load(yaml, &cfg, NULL), LB_OK);
    ASSERT_STREQ(cfg->layers[0].title, "null");
    ASSERT(cfg->layers[0].attribution == NULL);
    ASSERT_CONTAINS(cfg->layers[0].style, "/styles/a b.json");
    lb_config_free(cfg);
}

LB_TEST(test_error_output_truncates_long_values)
{
    char yaml[1024];
    char longv[400];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    snprintf(yaml, sizeof yaml, "layers:\n  a:\n    title: t\n    %s: 1\n", longv);
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, "...' in layer 'a'");
    ASSERT(strlen(diag) < 400);
    free(diag);
}

/* ---- access: phase, roles, tokens, generalised release ---------------- */

#define HEX16A "0123456789abcdef"
#define HEX16B "fedcba9876543210"
#define HASH_A "sha256:" HEX16A HEX16A HEX16A HEX16A
#define HASH_B "sha256:" HEX16B HEX16B HEX16B HEX16B
#define HASH_C "sha256:4f1c" HEX16A HEX16B HEX16A "0123456789ab"

/* Layers and one role to build access configs around. */
#define ACCESS_BASE                                                            \
    "groups: [police, fire]\n"                                                 \
    "caveats: [eyes-only-bw]\n"                                                \
    "layers:\n"                                                                \
    "  roadblocks: {title: Sperren}\n"                                         \
    "  units: {title: Einheiten}\n"

static const char access_yaml[] =
    "phase: Reaktion\n"
    "groups: [police, fire, military, kritis]\n"
    "caveats: [eyes-only-bw, no_press]\n"
    "layers:\n"
    "  roadblocks: {title: Sperren}\n"
    "  incidents: {title: Einsätze}\n"
    "  units: {title: Einheiten}\n"
    "  shelters: {title: Notunterkünfte}\n"
    "sources:\n"
    "  military_units:\n"
    "    path: bw/units.gpkg\n"
    "    layer: units\n"
    "    agency: military\n"
    "    label:\n"
    "      level: VS-VERTRAULICH\n"
    "      releasable_to: [military, police]\n"
    "    generalised_release:\n"
    "      groups: [police, fire]\n"
    "      cell_m: 5000\n"
    "  kritis_shelters:\n"
    "    path: kritis/shelters.geojson\n"
    "    layer: shelters\n"
    "    agency: kritis\n"
    "    label: {level: OFFEN}\n"
    "    generalised_release: {groups: [kritis], cell_m: 1e6}\n"
    "  plain:\n"
    "    path: p.geojson\n"
    "    layer: roadblocks\n"
    "    agency: police\n"
    "    label: {level: OFFEN}\n"
    "    generalised_release:\n"
    "roles:\n"
    "  police:\n"
    "    title: Polizei\n"
    "    clearance:\n"
    "      level: VS-NfD\n"
    "      groups: [police]\n"
    "      caveats: []\n"
    "    layers: [roadblocks, incidents]\n"
    "    phase_grants:\n"
    "      - phases: [Reaktion, Regeneration]\n"
    "        layers: [units]\n"
    "      - phases: [vorbereitung, VORSORGE, Schutz]\n"
    "        layers:\n"
    "          - shelters\n"
    "          - roadblocks\n"
    "    area:\n"
    "      path: data/landkreis_hameln.geojson\n"
    "      ogr_layer: kreis\n"
    "      crs: EPSG:25832\n"
    "    valid_from: 2026-11-20T00:00:00Z\n"
    "    valid_to: 2026-12-31T23:59:59Z\n"
    "  lagezentrum:\n"
    "    title: Lagezentrum\n"
    "    clearance:\n"
    "      level: GEHEIM\n"
    "      groups: [police, fire, military, kritis]\n"
    "      caveats: [no_press, eyes-only-bw]\n"
    "    layers: [\"*\"]\n"
    "    area: {path: \"WFS:https://geo.example.org/wfs?typename=kreise\"}\n"
    "    valid_from: 2026-11-20\n"
    "  thw-fuehrung_2:\n"
    "    title: THW\n"
    "    clearance: {level: offen}\n"
    "tokens:\n"
    "  demo-police:\n"
    "    hash: " HASH_C "\n"
    "    roles: [police]\n"
    "    admin: false\n"
    "    revoked: false\n"
    "  alice.admin@lz-hameln:\n"
    "    hash: " HASH_A "\n"
    "    roles: [lagezentrum, police]\n"
    "    admin: true\n"
    "  0ld_Token-1:\n"
    "    hash: " HASH_B "\n"
    "    roles:\n"
    "      - thw-fuehrung_2\n"
    "    revoked: true\n";

LB_TEST(test_access_full_example)
{
    lb_config *cfg = NULL;
    char *diag = NULL;
    lb_status st = load(access_yaml, &cfg, &diag);
    if (st != LB_OK)
        fprintf(stderr, "%s", diag ? diag : "");
    ASSERT_EQ(st, LB_OK);
    ASSERT(diag == NULL);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", cfg_path);
    *strrchr(dir, '/') = '\0';

    ASSERT_EQ(cfg->phase, LB_PHASE_REAKTION);

    /* generalised release rules of sources */
    const lb_source_cfg *s = lb_config_source(cfg, "military_units");
    ASSERT_EQ(s->generalised_groups, (1u << 0) | (1u << 1));
    ASSERT_NEAR(s->generalised_cell_m, 5000, 0);
    ASSERT_EQ(s->label.groups, (1u << 2) | (1u << 0));
    s = lb_config_source(cfg, "kritis_shelters");
    ASSERT_EQ(s->generalised_groups, 1u << 3);
    ASSERT_NEAR(s->generalised_cell_m, 1e6, 0);
    s = lb_config_source(cfg, "plain"); /* an empty value means no rule */
    ASSERT_EQ(s->generalised_groups, 0);
    ASSERT(s->generalised_cell_m == 0);

    /* roles, in file order; "police" is also a group name, which is fine */
    ASSERT_EQ(cfg->nroles, 3);
    const lb_role_cfg *r = &cfg->roles[0];
    ASSERT(lb_config_role(cfg, "police") == r);
    ASSERT_STREQ(r->id, "police");
    ASSERT_EQ(r->line, line_of(access_yaml, "  police:"));
    ASSERT_STREQ(r->title, "Polizei");
    ASSERT_EQ(r->clearance.level, LB_LEVEL_VS_NFD);
    ASSERT_EQ(r->clearance.groups, 1u << 0);
    ASSERT_EQ(r->clearance.caveats, 0);
    ASSERT(!r->all_layers);
    ASSERT_EQ(r->nlayers, 2);
    ASSERT_STREQ(r->layers[0], "roadblocks");
    ASSERT_STREQ(r->layers[1], "incidents");
    ASSERT_EQ(r->nphase_grants, 2);
    const lb_phase_grant *g = &r->phase_grants[0];
    ASSERT_EQ(g->line, line_of(access_yaml, "- phases: [Reaktion"));
    ASSERT_EQ(g->phases, (1u << LB_PHASE_REAKTION) | (1u << LB_PHASE_REGENERATION));
    ASSERT_EQ(g->nlayers, 1);
    ASSERT_STREQ(g->layers[0], "units");
    g = &r->phase_grants[1];
    ASSERT_EQ(g->line, line_of(access_yaml, "- phases: [vorb"));
    ASSERT_EQ(g->phases, (1u << LB_PHASE_VORBEREITUNG) | (1u << LB_PHASE_VORSORGE) |
                             (1u << LB_PHASE_SCHUTZ));
    ASSERT_EQ(g->nlayers, 2);
    ASSERT_STREQ(g->layers[0], "shelters");
    ASSERT_STREQ(g->layers[1], "roadblocks");
    ASSERT_STREQ(r->area, in_dir(dir, "data/landkreis_hameln.geojson"));
    ASSERT_STREQ(r->area_layer, "kreis");
    ASSERT_STREQ(r->area_crs, "EPSG:25832");
    ASSERT_STREQ(r->valid_from, "2026-11-20T00:00:00Z");
    ASSERT_STREQ(r->valid_to, "2026-12-31T23:59:59Z");

    r = lb_config_role(cfg, "lagezentrum");
    ASSERT(r == &cfg->roles[1]);
    ASSERT_EQ(r->clearance.level, LB_LEVEL_GEHEIM);
    ASSERT_EQ(r->clearance.groups, 0xf);
    ASSERT_EQ(r->clearance.caveats, 3);
    ASSERT(r->all_layers);
    ASSERT(r->layers == NULL && r->nlayers == 0);
    ASSERT(r->phase_grants == NULL && r->nphase_grants == 0);
    ASSERT_STREQ(r->area, "WFS:https://geo.example.org/wfs?typename=kreise");
    ASSERT(r->area_layer == NULL && r->area_crs == NULL);
    ASSERT_STREQ(r->valid_from, "2026-11-20");
    ASSERT(r->valid_to == NULL);

    r = lb_config_role(cfg, "thw-fuehrung_2");
    ASSERT(r == &cfg->roles[2]);
    ASSERT_STREQ(r->title, "THW");
    ASSERT_EQ(r->clearance.level, LB_LEVEL_OFFEN);
    ASSERT_EQ(r->clearance.groups | r->clearance.caveats, 0);
    ASSERT(!r->all_layers && r->layers == NULL && r->nlayers == 0);
    ASSERT(r->area == NULL && r->valid_from == NULL && r->valid_to == NULL);
    ASSERT(lb_config_role(cfg, "Police") == NULL);
    ASSERT(lb_config_role(cfg, NULL) == NULL);
    ASSERT(lb_config_role(NULL, "police") == NULL);

    /* tokens */
    ASSERT_EQ(cfg->ntokens, 3);
    const lb_token_cfg *t = &cfg->tokens[0];
    ASSERT_STREQ(t->principal, "demo-police");
    ASSERT_EQ(t->line, line_of(access_yaml, "  demo-police:"));
    ASSERT_STREQ(t->hash, HASH_C);
    ASSERT_EQ(t->nroles, 1);
    ASSERT_STREQ(t->roles[0], "police");
    ASSERT(!t->admin && !t->revoked);
    t = &cfg->tokens[1];
    ASSERT_STREQ(t->principal, "alice.admin@lz-hameln");
    ASSERT_STREQ(t->hash, HASH_A);
    ASSERT_EQ(t->nroles, 2);
    ASSERT_STREQ(t->roles[0], "lagezentrum");
    ASSERT_STREQ(t->roles[1], "police");
    ASSERT(t->admin && !t->revoked);
    t = &cfg->tokens[2];
    ASSERT_STREQ(t->principal, "0ld_Token-1");
    ASSERT_STREQ(t->hash, HASH_B);
    ASSERT_EQ(t->nroles, 1);
    ASSERT_STREQ(t->roles[0], "thw-fuehrung_2");
    ASSERT(!t->admin && t->revoked);

    lb_config_free(cfg);

    /* tokens may come before the roles they name: sections decode in table order */
    static const char yaml2[] =
        "tokens:\n"
        "  a: {hash: " HASH_A ", roles: [r]}\n"
        "roles:\n"
        "  r: {title: R, clearance: {level: OFFEN}}\n";
    ASSERT_EQ(load(yaml2, &cfg, NULL), LB_OK);
    ASSERT_STREQ(cfg->tokens[0].roles[0], "r");
    ASSERT_EQ(cfg->phase, -1);
    lb_config_free(cfg);
}

LB_TEST(test_phase_names_and_top_level_phase)
{
    static const char *const names[] = {"Vorbereitung", "Vorsorge", "Schutz", "Reaktion",
                                        "Regeneration"};
    ASSERT_EQ(LB_PHASE_COUNT, 5);
    for (int p = 0; p < LB_PHASE_COUNT; p++) {
        ASSERT_STREQ(lb_phase_name((lb_phase)p), names[p]);
        lb_phase out = LB_PHASE_COUNT;
        ASSERT_EQ(lb_phase_parse(names[p], &out), LB_OK);
        ASSERT_EQ(out, p);
    }
    ASSERT(lb_phase_name(LB_PHASE_COUNT) == NULL);
    ASSERT(lb_phase_name((lb_phase)-1) == NULL);
    lb_phase out = LB_PHASE_SCHUTZ;
    ASSERT_EQ(lb_phase_parse("rEgEnErAtIoN", &out), LB_OK);
    ASSERT_EQ(out, LB_PHASE_REGENERATION);
    ASSERT_EQ(lb_phase_parse("Krise", &out), LB_EINVAL);
    ASSERT_EQ(lb_phase_parse("", &out), LB_EINVAL);
    ASSERT_EQ(lb_phase_parse("Reaktion ", &out), LB_EINVAL);
    ASSERT_EQ(lb_phase_parse(NULL, &out), LB_EINVAL);
    ASSERT_EQ(out, LB_PHASE_REGENERATION);

    lb_config *cfg = NULL;
    ASSERT_EQ(load("phase: vorsorge\n", &cfg, NULL), LB_OK);
    ASSERT_EQ(cfg->phase, LB_PHASE_VORSORGE);
    lb_config_free(cfg);
    ASSERT_EQ(load("phase: Vorbereitung\n", &cfg, NULL), LB_OK);
    ASSERT_EQ(cfg->phase, LB_PHASE_VORBEREITUNG); /* 0, not "not set" */
    lb_config_free(cfg);
    ASSERT_EQ(load("phase: ~\n", &cfg, NULL), LB_OK);
    ASSERT_EQ(cfg->phase, -1);
    lb_config_free(cfg);

    static const char yaml[] = "layers: {}\nphase: Krise\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "phase:",
                             "key 'phase' must be one of Vorbereitung, Vorsorge, Schutz, "
                             "Reaktion, Regeneration, got 'Krise'\n"));
    ASSERT_EQ(count_lines(diag), 1);
    free(diag);
    static const char yaml2[] = "phase: [Reaktion]\n";
    diag = load_bad(yaml2);
    ASSERT_CONTAINS(diag, at(yaml2, "phase:", "key 'phase' must be a string, got a list\n"));
    ASSERT_EQ(count_lines(diag), 1);
    free(diag);
}

LB_TEST(test_role_layers_star)
{
    static const char yaml[] =
        ACCESS_BASE
        "roles:\n"
        "  all:\n"
        "    title: Alle\n"
        "    clearance: {level: GEHEIM}\n"
        "    layers: [\"*\"]\n"
        "  block:\n"
        "    title: Block\n"
        "    clearance: {level: OFFEN}\n"
        "    layers:\n"
        "      - '*'\n"
        "  none:\n"
        "    title: Keine\n"
        "    clearance: {level: OFFEN}\n"
        "    layers: []\n"
        "    phase_grants:\n"
        "      - {phases: [Schutz], layers: [units]}\n";
    lb_config *cfg = NULL;
    char *diag = NULL;
    lb_status st = load(yaml, &cfg, &diag);
    if (st != LB_OK)
        fprintf(stderr, "%s", diag ? diag : "");
    ASSERT_EQ(st, LB_OK);
    ASSERT(cfg->roles[0].all_layers && cfg->roles[0].nlayers == 0 && !cfg->roles[0].layers);
    ASSERT(cfg->roles[1].all_layers && cfg->roles[1].nlayers == 0 && !cfg->roles[1].layers);
    ASSERT(!cfg->roles[2].all_layers && cfg->roles[2].nlayers == 0);
    ASSERT_EQ(cfg->roles[2].nphase_grants, 1);
    ASSERT_EQ(cfg->roles[2].phase_grants[0].phases, 1u << LB_PHASE_SCHUTZ);
    lb_config_free(cfg);

    static const char bad[] =
        ACCESS_BASE
        "roles:\n"
        "  mixed:\n"
        "    title: M\n"
        "    clearance: {level: OFFEN}\n"
        "    layers:\n"
        "      - roadblocks\n"
        "      - \"*\"\n"
        "      - bridges\n"
        "  twice:\n"
        "    title: T\n"
        "    clearance: {level: OFFEN}\n"
        "    layers: ['*', '*']\n"
        "  grant:\n"
        "    title: G\n"
        "    clearance: {level: OFFEN}\n"
        "    phase_grants:\n"
        "      - phases: [Reaktion]\n"
        "        layers: [units, \"*\"]\n"
        "maps:\n"
        "  lage: {title: L, layers: [\"*\"]}\n";
    diag = load_bad(bad);
    ASSERT_CONTAINS(diag, at(bad, "- \"*\"",
                             "'*' (all layers) cannot be combined with layer names in 'layers': "
                             "write either [\"*\"] or the layers\n"));
    ASSERT_CONTAINS(diag, at(bad, "- bridges",
                             "undefined layer 'bridges' (defined layers: roadblocks, units)\n"));
    ASSERT_CONTAINS(diag, at(bad, "['*', '*']", "'*' is listed twice in 'layers'\n"));
    ASSERT_CONTAINS(diag, at(bad, "[units, \"*\"]",
                             "'*' (all layers) is only allowed in the layers of a role, list "
                             "the layers in 'layers'\n"));
    ASSERT_CONTAINS(diag, at(bad, "lage:",
                             "'*' (all layers) is only allowed in the layers of a role"));
    ASSERT_EQ(count_lines(diag), 5);
    free(diag);

    /* an unquoted * starts a YAML alias */
    static const char alias[] =
        ACCESS_BASE
        "roles:\n"
        "  r:\n"
        "    title: R\n"
        "    clearance: {level: OFFEN}\n"
        "    layers: [*]\n";
    diag = load_bad(alias);
    ASSERT_CONTAINS(diag, at(alias, "[*]",
                             "invalid alias detected (a bare * starts a YAML alias: quote it as "
                             "\"*\")\n"));
    free(diag);
}

LB_TEST(test_phase_grants_errors)
{
    static const char yaml[] =
        ACCESS_BASE
        "roles:\n"
        "  r:\n"
        "    title: R\n"
        "    clearance: {level: OFFEN}\n"
        "    phase_grants:\n"
        "      - phases: [Reaktion, Krise, reaktion]\n"
        "        layers: [units, bridges, units]\n"
        "      - phases: []\n"
        "        layers: []\n"
        "      - {layers: [units]}\n"
        "      - phases: [Schutz]\n"
        "        when: always\n"
        "      - units\n"
        "      - ~\n"
        "      - phases: Schutz\n"
        "        layers: [units]\n"
        "  s:\n"
        "    title: S\n"
        "    clearance: {level: OFFEN}\n"
        "    phase_grants: {phases: [Schutz], layers: [units]}\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "Krise",
                             "unknown phase 'Krise' (phases: Vorbereitung, Vorsorge, Schutz, "
                             "Reaktion, Regeneration)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "Krise", "phase 'Reaktion' is listed twice\n"));
    ASSERT_CONTAINS(diag, at(yaml, "bridges",
                             "undefined layer 'bridges' (defined layers: roadblocks, units)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "bridges", "layer 'units' is listed twice\n"));
    ASSERT_CONTAINS(diag, at(yaml, "phases: []", "key 'phases' must name at least one phase\n"));
    ASSERT_CONTAINS(diag, at(yaml, "layers: []", "key 'layers' must name at least one layer\n"));
    ASSERT_CONTAINS(diag, at(yaml, "{layers: [units]}",
                             "missing required key 'phases' in phase grant 3 of role 'r'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "phases: [Schutz]\n",
                             "missing required key 'layers' in phase grant 4 of role 'r'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "when:",
                             "unknown key 'when' in phase grant 4 of role 'r' (valid: phases, "
                             "layers)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "- units",
                             "items of 'phase_grants' must be mappings, got 'units'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "- ~", "items of 'phase_grants' must be mappings, got null\n"));
    ASSERT_CONTAINS(diag, at(yaml, "phases: Schutz",
                             "key 'phases' must be a list, got 'Schutz'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "phase_grants: {",
                             "key 'phase_grants' must be a list, got a mapping\n"));
    ASSERT_EQ(count_lines(diag), 13);
    free(diag);
}

LB_TEST(test_role_errors)
{
    static const char yaml[] =
        ACCESS_BASE
        "roles:\n"
        "  Police:\n"
        "    title: P\n"
        "    clearance: {level: OFFEN}\n"
        "  " ID64 ":\n"
        "    title: Long\n"
        "    clearance: {level: OFFEN}\n"
        "  " ID63 ":\n"
        "    title: Long enough\n"
        "    clearance: {level: OFFEN}\n"
        "  no_title:\n"
        "    clearance: {level: OFFEN}\n"
        "  no_clearance:\n"
        "    title: N\n"
        "  no_level:\n"
        "    title: N\n"
        "    clearance: {groups: [police]}\n"
        "  bad:\n"
        "    title: B\n"
        "    rank: 3\n"
        "    clearance:\n"
        "      level: streng geheim\n"
        "      groups: [polizei, police, police]\n"
        "      caveats: [eyes-only-nds]\n"
        "      need_to_know: true\n"
        "    layers: [roadblocks, bridges, roadblocks]\n"
        "    area:\n"
        "      ogr_layer: kreis\n"
        "      srs: EPSG:25832\n"
        "  areas:\n"
        "    title: A\n"
        "    clearance: {level: OFFEN}\n"
        "    layers: roadblocks\n"
        "    area: landkreis.geojson\n"
        "  empty:\n"
        "  str: just text\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "Police:",
                             "invalid role id 'Police': use 1 to 63 characters a-z, 0-9, _ and -, "
                             "starting with a letter\n"));
    ASSERT_CONTAINS(diag, at(yaml, ID64 ":",
                             "invalid role id '" ID64 "': 64 characters, at most 63 are "
                             "allowed\n"));
    ASSERT_CONTAINS(diag, at(yaml, "no_title:",
                             "missing required key 'title' in role 'no_title'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "no_clearance:",
                             "missing required key 'clearance' in role 'no_clearance'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "clearance: {groups",
                             "missing required key 'level' in clearance of role 'no_level'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "rank:",
                             "unknown key 'rank' in role 'bad' (valid: title, clearance, layers, "
                             "phase_grants, area, valid_from, valid_to, write)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "streng geheim",
                             "key 'level' must be one of OFFEN, VS-NfD, VS-VERTRAULICH, GEHEIM, "
                             "got 'streng geheim'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "polizei",
                             "undeclared group 'polizei' (declared: police, fire)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "polizei", "group 'police' is listed twice\n"));
    ASSERT_CONTAINS(diag, at(yaml, "eyes-only-nds",
                             "undeclared caveat 'eyes-only-nds' (declared: eyes-only-bw)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "need_to_know",
                             "unknown key 'need_to_know' in clearance of role 'bad' (valid: "
                             "level, groups, caveats)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "bridges",
                             "undefined layer 'bridges' (defined layers: roadblocks, units)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "bridges", "layer 'roadblocks' is listed twice\n"));
    ASSERT_CONTAINS(diag, at(yaml, "    area:\n      ogr",
                             "missing required key 'path' in area of role 'bad'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "srs:",
                             "unknown key 'srs' in area of role 'bad' (valid: path, ogr_layer, "
                             "crs)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "layers: roadblocks",
                             "key 'layers' must be a list, got 'roadblocks'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "area: landkreis",
                             "key 'area' must be a mapping, got 'landkreis.geojson'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "empty:", "missing required key 'title' in role 'empty'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "empty:", "missing required key 'clearance' in role 'empty'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "str:",
                             "role 'str' must be a mapping of keys, got 'just text'\n"));
    ASSERT_EQ(count_lines(diag), 20); /* the 63-character id is fine */
    free(diag);

    static const char yaml2[] = "roles: [police]\n";
    diag = load_bad(yaml2);
    ASSERT_CONTAINS(diag, at(yaml2, "roles:",
                             "key 'roles' must be a mapping of role ids to roles, got a list\n"));
    free(diag);
}

LB_TEST(test_role_validity_times)
{
    /* accepted forms */
    static const char *const good[][2] = {
        {"2026-11-20", "2026-11-21"},
        {"2026-11-20T08:00Z", "2026-11-20T08:01Z"},
        {"2026-11-20T08:00:00Z", "2026-11-20T08:00:00.5Z"},
        {"2026-11-20T08:00:00.123456789123Z", "2026-11-20T08:00:00.1234567892Z"},
        {"2026-11-20T09:00:00+01:00", "2026-11-20T08:00:01Z"},  /* 08:00Z < 08:00:01Z */
        {"2026-11-20T08:00:00Z", "2026-11-20T09:00:01+01:00"},
        {"2026-11-20T08:00:00-02", "2026-11-20T10:00:01Z"},
        {"2024-02-29", "2024-02-29T00:00:01+00:00"}, /* a leap day */
        {"2000-02-29T23:59:59Z", "2000-03-01"},
        {"1999-12-31T23:59:59Z", "2000-01-01"},
        {"2026-12-31T23:30:00-01:00", "2027-01-01T00:31:00Z"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 "roles:\n  r:\n    title: R\n    clearance: {level: OFFEN}\n"
                 "    valid_from: \"%s\"\n    valid_to: %s\n",
                 good[i][0], good[i][1]);
        lb_config *cfg = NULL;
        char *diag = NULL;
        lb_status st = load(yaml, &cfg, &diag);
        if (st != LB_OK)
            fprintf(stderr, "  case %zu: %s", i, diag ? diag : "");
        free(diag);
        ASSERT_EQ(st, LB_OK);
        ASSERT_STREQ(cfg->roles[0].valid_from, good[i][0]);
        ASSERT_STREQ(cfg->roles[0].valid_to, good[i][1]);
        lb_config_free(cfg);
    }

    static const char yaml[] =
        "roles:\n"
        "  syntax:\n"
        "    title: S\n"
        "    clearance: {level: OFFEN}\n"
        "    valid_from: 20.11.2026\n"
        "    valid_to: 2026-11-20 08:00:00Z\n"
        "  nozone:\n"
        "    title: N\n"
        "    clearance: {level: OFFEN}\n"
        "    valid_from: 2026-11-20T08:00:00\n"
        "    valid_to: [2026-12-31]\n"
        "  range:\n"
        "    title: R\n"
        "    clearance: {level: OFFEN}\n"
        "    valid_from: 2026-02-29\n"
        "    valid_to: 2026-12-31T24:00:00Z\n"
        "  more:\n"
        "    title: M\n"
        "    clearance: {level: OFFEN}\n"
        "    valid_from: 2026-13-01T00:00:00Z\n"
        "    valid_to: '2026-11-20T08:00:00+01:'\n"
        "  basic:\n"
        "    title: B\n"
        "    clearance: {level: OFFEN}\n"
        "    valid_from: 2026-11-20T08:00:00+0100\n"
        "  before:\n"
        "    title: B\n"
        "    clearance: {level: OFFEN}\n"
        "    valid_from: 2026-12-31T23:59:59Z\n"
        "    valid_to: 2026-11-20\n"
        "  equal:\n"
        "    title: E\n"
        "    clearance: {level: OFFEN}\n"
        "    valid_from: 2026-11-20T09:00:00+01:00\n"
        "    valid_to: 2026-11-20T08:00:00Z\n"
        "  zones:\n"
        "    title: Z\n"
        "    clearance: {level: OFFEN}\n"
        "    valid_from: 2026-11-20T08:30:00Z\n"
        "    valid_to: 2026-11-20T09:00:00+01:00\n";
    char *diag = load_bad(yaml);
    const char *iso = "must be an ISO 8601 date (2026-11-20) or date-time with Z or an offset "
                      "(2026-11-20T08:00:00Z, 2026-11-20T09:00:00+01:00), got";
    ASSERT_CONTAINS(diag, at(yaml, "20.11.2026", "key 'valid_from' %s '20.11.2026'\n", iso));
    ASSERT_CONTAINS(diag, at(yaml, "2026-11-20 08", "key 'valid_to' %s '2026-11-20 08:00:00Z'\n",
                             iso));
    ASSERT_CONTAINS(diag, at(yaml, "2026-11-20T08:00:00\n",
                             "key 'valid_from' has no time zone in '2026-11-20T08:00:00': add Z "
                             "(UTC) or an offset such as +01:00\n"));
    ASSERT_CONTAINS(diag, at(yaml, "[2026-12-31]",
                             "key 'valid_to' must be a string, got a list\n"));
    ASSERT_CONTAINS(diag, at(yaml, "2026-02-29",
                             "key 'valid_from' has a date or time out of range: '2026-02-29'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "T24:",
                             "key 'valid_to' has a date or time out of range: "
                             "'2026-12-31T24:00:00Z'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "2026-13-01",
                             "key 'valid_from' has a date or time out of range"));
    ASSERT_CONTAINS(diag, at(yaml, "+01:'", "key 'valid_to' %s '2026-11-20T08:00:00+01:'\n", iso));
    /* the basic format's offset (+0100) is not accepted */
    ASSERT_CONTAINS(diag, at(yaml, "+0100", "key 'valid_from' %s '2026-11-20T08:00:00+0100'\n",
                             iso));
    ASSERT_CONTAINS(diag, at(yaml, "valid_to: 2026-11-20\n",
                             "valid_to '2026-11-20' in role 'before' must be after valid_from "
                             "'2026-12-31T23:59:59Z' (line %d)\n",
                             line_of(yaml, "2026-12-31T23:59:59Z")));
    /* the same instant in another zone is not after it */
    ASSERT_CONTAINS(diag, at(yaml, "valid_to: 2026-11-20T08:00:00Z",
                             "valid_to '2026-11-20T08:00:00Z' in role 'equal' must be after "
                             "valid_from '2026-11-20T09:00:00+01:00' (line %d)\n",
                             line_of(yaml, "2026-11-20T09:00:00+01:00")));
    /* 09:00+01:00 is 08:00Z, before 08:30Z although it reads later */
    ASSERT_CONTAINS(diag, at(yaml, "valid_to: 2026-11-20T09:00:00+01:00",
                             "valid_to '2026-11-20T09:00:00+01:00' in role 'zones' must be after "
                             "valid_from '2026-11-20T08:30:00Z' (line %d)\n",
                             line_of(yaml, "2026-11-20T08:30:00Z")));
    ASSERT_EQ(count_lines(diag), 12);
    free(diag);
}

LB_TEST(test_token_errors)
{
    static const char yaml[] =
        ACCESS_BASE
        "roles:\n"
        "  police: {title: P, clearance: {level: OFFEN}}\n"
        "tokens:\n"
        "  no-prefix:\n"
        "    hash: " HEX16A HEX16A HEX16A HEX16A "\n"
        "    roles: [police]\n"
        "  upper:\n"
        "    hash: sha256:0123456789ABCDEF" HEX16A HEX16A HEX16A "\n"
        "    roles: [police]\n"
        "  short:\n"
        "    hash: sha256:4f1c\n"
        "    roles: [police]\n"
        "  long:\n"
        "    hash: " HASH_A "0\n"
        "    roles: [police]\n"
        "  nohash:\n"
        "    roles: [police]\n"
        "  noroles:\n"
        "    hash: sha256:" HEX16A HEX16A HEX16A HEX16B "\n"
        "  emptyroles:\n"
        "    hash: sha256:" HEX16A HEX16A HEX16B HEX16B "\n"
        "    roles: []\n"
        "  badroles:\n"
        "    hash: sha256:" HEX16A HEX16B HEX16B HEX16B "\n"
        "    roles: [police, fire, police]\n"
        "    admin: yes\n"
        "    revoked: \"false\"\n"
        "    scope: all\n"
        "  -dash:\n"
        "    hash: sha256:" HEX16B HEX16A HEX16A HEX16A "\n"
        "    roles: [police]\n"
        "  \"space here\":\n"
        "    hash: sha256:" HEX16B HEX16B HEX16A HEX16A "\n"
        "    roles: [police]\n";
    char *diag = load_bad(yaml);
    const char *fmt = "key 'hash' must be 'sha256:' and 64 lower-case hex digits: ";
    ASSERT_CONTAINS(diag, at(yaml, "hash: 0123",
                             "%sit does not start with 'sha256:' (the value is not shown)\n", fmt));
    ASSERT_CONTAINS(diag, at(yaml, "ABCDEF",
                             "%scharacter 11 after 'sha256:' is not 0-9 or a-f (the value is not "
                             "shown)\n",
                             fmt));
    ASSERT_CONTAINS(diag, at(yaml, "sha256:4f1c",
                             "%sit has 4 hex digits (the value is not shown)\n", fmt));
    ASSERT_CONTAINS(diag, at(yaml, HASH_A "0", "%sit has 65 hex digits", fmt));
    ASSERT_CONTAINS(diag, at(yaml, "nohash:", "missing required key 'hash' in token 'nohash'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "noroles:",
                             "missing required key 'roles' in token 'noroles'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "roles: []", "key 'roles' must name at least one role\n"));
    ASSERT_CONTAINS(diag, at(yaml, "fire, police]",
                             "undefined role 'fire' (defined roles: police)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "fire, police]", "role 'police' is listed twice\n"));
    ASSERT_CONTAINS(diag, at(yaml, "admin: yes", "key 'admin' must be true or false, got 'yes'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "revoked:",
                             "key 'revoked' must be true or false, got quoted 'false'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "scope:",
                             "unknown key 'scope' in token 'badroles' (valid: hash, roles, admin, "
                             "revoked)\n"));
    const char *rule = "use 1 to 128 characters A-Z, a-z, 0-9, '.', '_', '@' and '-', starting "
                       "with a letter or digit\n";
    ASSERT_CONTAINS(diag, at(yaml, "-dash:", "invalid principal name '-dash': %s", rule));
    ASSERT_CONTAINS(diag, at(yaml, "space here", "invalid principal name 'space here': %s", rule));
    ASSERT_EQ(count_lines(diag), 14);
    /* hash values are never echoed */
    ASSERT(!strstr(diag, HEX16A));
    ASSERT(!strstr(diag, "4f1c"));
    free(diag);

    /* names: 128 characters are fine, 129 are not; tokens need defined roles */
    char name[130];
    memset(name, 'a', 129);
    name[129] = '\0';
    char yaml2[1024];
    snprintf(yaml2, sizeof yaml2,
             "tokens:\n"
             "  %s: {hash: " HASH_A ", roles: [r]}\n"
             "  %.128s: {hash: " HASH_B ", roles: [r]}\n"
             "roles:\n"
             "  r: {title: R, clearance: {level: OFFEN}}\n",
             name, name);
    diag = load_bad(yaml2);
    ASSERT_CONTAINS(diag, at(yaml2, name,
                             "invalid principal name '%.80s...': 129 characters, at most 128 are "
                             "allowed\n",
                             name));
    ASSERT_EQ(count_lines(diag), 1);
    free(diag);

    static const char yaml3[] =
        "tokens:\n"
        "  a: {hash: " HASH_A ", roles: [police]}\n"
        "  b: [police]\n"
        "tokenz: {}\n";
    diag = load_bad(yaml3);
    ASSERT_CONTAINS(diag, at(yaml3, "  a:", "undefined role 'police' (no roles are defined)\n"));
    ASSERT_CONTAINS(diag, at(yaml3, "  b:", "token 'b' must be a mapping of keys, got a list\n"));
    ASSERT_CONTAINS(diag, at(yaml3, "tokenz", "unknown key 'tokenz' at the top level"));
    ASSERT_EQ(count_lines(diag), 3);
    free(diag);
    static const char yaml4[] = "tokens: [a, b]\n";
    diag = load_bad(yaml4);
    ASSERT_CONTAINS(diag, at(yaml4, "tokens:",
                             "key 'tokens' must be a mapping of principal names to tokens, got a "
                             "list\n"));
    free(diag);
}

LB_TEST(test_token_duplicate_hash)
{
    static const char yaml[] =
        "roles:\n"
        "  r: {title: R, clearance: {level: OFFEN}}\n"
        "tokens:\n"
        "  first:\n"
        "    roles: [r]\n"
        "    hash: " HASH_A "\n"
        "  other:\n"
        "    hash: " HASH_B "\n"
        "    roles: [r]\n"
        "  second:\n"
        "    revoked: true\n"
        "    hash: " HASH_A "\n"
        "    roles: [r]\n"
        "  third:\n"
        "    hash: " HASH_A "\n"
        "    roles: [r]\n";
    char *diag = load_bad(yaml);
    int first = line_of(yaml, "hash: " HASH_A);
    char expect[PATH_MAX + 256];
    snprintf(expect, sizeof expect,
             "%s:%d: token 'second' has the same hash as token 'first' on line %d: every token "
             "must be different\n",
             cfg_path, line_of(yaml, "    revoked: true\n") + 1, first);
    ASSERT_CONTAINS(diag, expect);
    snprintf(expect, sizeof expect,
             "%s:%d: token 'third' has the same hash as token 'first' on line %d", cfg_path,
             line_of(yaml, "  third:") + 1, first);
    ASSERT_CONTAINS(diag, expect);
    ASSERT_EQ(count_lines(diag), 2);
    ASSERT(!strstr(diag, HEX16A));
    free(diag);
}

LB_TEST(test_generalised_release_errors)
{
    static const char yaml[] =
        ACCESS_BASE
        "sources:\n"
        OK_SOURCE("nothing")
        "    generalised_release: {}\n"
        OK_SOURCE("empty_groups")
        "    generalised_release: {groups: [], cell_m: 100}\n"
        OK_SOURCE("undeclared")
        "    generalised_release:\n"
        "      groups: [police, thw]\n"
        "      cell_m: 250.5\n"
        "      shape: hex\n"
        OK_SOURCE("zero")
        "    generalised_release: {groups: [fire], cell_m: 0}\n"
        OK_SOURCE("negative")
        "    generalised_release: {groups: [fire], cell_m: -5}\n"
        OK_SOURCE("too_big")
        "    generalised_release: {groups: [fire], cell_m: 1000001}\n"
        OK_SOURCE("text")
        "    generalised_release: {groups: [fire], cell_m: 5km}\n"
        OK_SOURCE("quoted")
        "    generalised_release: {groups: [fire], cell_m: \"5000\"}\n"
        OK_SOURCE("inf")
        "    generalised_release: {groups: [fire], cell_m: .inf}\n"
        OK_SOURCE("list")
        "    generalised_release: [fire]\n";
    char *diag = load_bad(yaml);
    ASSERT_CONTAINS(diag, at(yaml, "generalised_release: {}",
                             "missing required key 'groups' in generalised_release of source "
                             "'nothing'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "generalised_release: {}",
                             "missing required key 'cell_m' in generalised_release of source "
                             "'nothing'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "groups: []", "key 'groups' must name at least one group\n"));
    ASSERT_CONTAINS(diag, at(yaml, "thw]", "undeclared group 'thw' (declared: police, fire)\n"));
    ASSERT_CONTAINS(diag, at(yaml, "shape:",
                             "unknown key 'shape' in generalised_release of source 'undeclared' "
                             "(valid: groups, cell_m)\n"));
    const char *range = "key 'cell_m' must be greater than 0 and at most 1000000, got";
    ASSERT_CONTAINS(diag, at(yaml, "cell_m: 0}", "%s '0'\n", range));
    ASSERT_CONTAINS(diag, at(yaml, "cell_m: -5", "%s '-5'\n", range));
    ASSERT_CONTAINS(diag, at(yaml, "1000001", "%s '1000001'\n", range));
    ASSERT_CONTAINS(diag, at(yaml, "5km", "key 'cell_m' must be a number, got '5km'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "\"5000\"",
                             "key 'cell_m' must be a number, got quoted '5000'\n"));
    ASSERT_CONTAINS(diag, at(yaml, ".inf", "key 'cell_m' must be a number, got '.inf'\n"));
    ASSERT_CONTAINS(diag, at(yaml, "release: [fire]",
                             "key 'generalised_release' must be a mapping, got a list\n"));
    ASSERT_EQ(count_lines(diag), 12);
    free(diag);

    /* fractions, exponents, the upper bound itself */
    static const char ok[] =
        ACCESS_BASE
        "sources:\n"
        OK_SOURCE("a")
        "    generalised_release: {groups: [fire, police], cell_m: 0.5}\n"
        OK_SOURCE("b")
        "    generalised_release: {groups: [fire], cell_m: 1000000}\n"
        OK_SOURCE("c")
        "    generalised_release: {groups: [police], cell_m: 2.5e3}\n";
    lb_config *cfg = NULL;
    ASSERT_EQ(load(ok, &cfg, NULL), LB_OK);
    ASSERT_NEAR(cfg->sources[0].generalised_cell_m, 0.5, 0);
    ASSERT_EQ(cfg->sources[0].generalised_groups, 3);
    ASSERT_NEAR(cfg->sources[1].generalised_cell_m, 1e6, 0);
    ASSERT_EQ(cfg->sources[1].generalised_groups, 2);
    ASSERT_NEAR(cfg->sources[2].generalised_cell_m, 2500, 0);
    lb_config_free(cfg);
}

/* libfyaml 0.7.12 crashes destroying a parser that reported a tab before a
 * block entry (layers/yaml.c, parser_done); found by fuzz_config.  The load
 * must fail with that message, several times in a row, and not crash. */
LB_TEST(test_yaml_tab_before_block_entry_no_crash)
{
    static const char *const yamls[] = {
        "title: x\n? y:\t- b\n",
        "layers:\n  ? y:\t? b\n",
        "layerrsattributuIon:ers:\n ? a:i t:\n \n ? a:i layers:\t ? a:i t:\n tle: A\n",
    };
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof yamls / sizeof *yamls; i++) {
            char *diag = load_bad(yamls[i]);
            ASSERT_CONTAINS(diag, "cannot use tab for indentation of block entry");
            free(diag);
        }
    /* a good config still loads afterwards */
    lb_config *cfg = NULL;
    char *diag = NULL;
    ASSERT_EQ(load(OK_LAYERS, &cfg, &diag), LB_OK);
    lb_config_free(cfg);
    free(diag);
}

LB_TESTS(test_full_config_every_field, test_yaml_single_quoted_strings, test_lookups_and_names, test_format_groups_and_caveats,
         test_relative_config_path_and_dataset_strings, test_default_store_path,
         test_empty_config_is_valid, test_unknown_key_at_each_level, test_wrong_types,
         test_missing_required_keys, test_undefined_references, test_write_grants_and_push_limits, test_invalid_ids,
         test_duplicate_keys, test_yaml_syntax_error_has_line, test_yaml_tab_before_block_entry_no_crash, test_text_must_be_utf8,
         test_aliases_and_anchors_rejected,
         test_missing_file, test_several_errors_reported_at_once_sorted, test_force_crs_needs_crs,
         test_mapping_and_set_for_same_field, test_group_and_caveat_declarations,
         test_label_lists_reject_repeats, test_map_layers_empty, test_top_level_must_be_mapping,
         test_one_document_only, test_non_scalar_keys_rejected,
         test_quoted_values_and_null_strings, test_error_output_truncates_long_values,
         test_access_full_example, test_phase_names_and_top_level_phase, test_role_layers_star,
         test_phase_grants_errors, test_role_errors, test_role_validity_times, test_token_errors,
         test_token_duplicate_hash, test_generalised_release_errors)
