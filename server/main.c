/*
 * This file implements the lagebild command line: the subcommands as one
 * table, argument parsing, and the translation of module results to output
 * and exit codes (0 success, 1 failure, 2 usage error).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lagebild/access.h"
#include "lagebild/audit.h"
#include "lagebild/config.h"
#include "lagebild/fusion.h"
#include "lagebild/style.h"
#include "lagebild/tiler.h"
#include "lagebild/util.h"

#define LB_VERSION "0.1.0"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *usage;
} command;

static int cmd_ingest(int argc, char **argv);
static int cmd_check(int argc, char **argv);
static int cmd_info(int argc, char **argv);
static int cmd_render(int argc, char **argv);
static int cmd_token(int argc, char **argv);
static int cmd_audit(int argc, char **argv);
int lb_cmd_serve(int argc, char **argv); /* serve.c */

static const command commands[] = {
    {"ingest", cmd_ingest, "read, reproject, validate and store configured sources",
     "usage: lagebild ingest --config FILE [--source ID]... [--quiet] [--watch]\n"
     "\n"
     "Ingests every configured source (or only those named with --source) into\n"
     "the store.  Each source is written in one transaction: it replaces the\n"
     "source's previous features and bumps the revision of the layer it feeds.\n"
     "A source that fails leaves the store as it was; the others still ingest.\n"
     "\n"
     "  -c, --config FILE   the YAML config (see docs/config.md)\n"
     "  -s, --source ID     ingest only this source (repeatable)\n"
     "  -q, --quiet         no progress and no per-feature rejection messages\n"
     "  -w, --watch         then keep watching: sources with watch: (drop folder)\n"
     "                      or refresh: are checked at their interval and\n"
     "                      re-ingested when their content changed (until SIGINT/SIGTERM)\n"
     "\n"
     "A drop-folder source (watch:) ingests the newest complete file of its folder.\n"
     "\n"
     "Exit status: 0 when every source was ingested (features may have been\n"
     "rejected, each with a reason), 1 when a source failed, 2 on usage errors.\n"},
    {"check", cmd_check, "validate a config file (errors as file:line: message)",
     "usage: lagebild check --config FILE\n"
     "\n"
     "Validates the config: syntax, keys, types, references between sources,\n"
     "layers and maps, that local source and style files exist, and that the\n"
     "jwt: public key is a usable RSA or EC P-256 key.\n"},
    {"info", cmd_info, "summarise the fused store (layers, revisions, features)",
     "usage: lagebild info --config FILE\n"},
    {"serve", lb_cmd_serve, "serve tiles, TileJSON and the operator API over HTTP",
     "usage: lagebild serve --config FILE [--listen HOST:PORT] [--threads N]\n"
     "(see 'lagebild serve --help')\n"},
    {"render", cmd_render, "render one map tile to a PNG file",
     "usage: lagebild render --config FILE --map ID --z Z --x X --y Y [--scale 2]\n"
     "                       [--grid ID] [--png-level N] [--palette] -o OUT.png\n"
     "\n"
     "Renders tile Z/X/Y of every layer of the map from the fused store.\n"
     "\n"
     "  -m, --map ID        the map (see maps: in the config)\n"
     "      --z, --x, --y   the tile (XYZ numbering: y counts down from the top)\n"
     "      --scale N       1 (default) or 2 for a 512 px @2x tile\n"
     "  -g, --grid ID       WebMercatorQuad (default) or DE_EPSG_25832_ADV\n"
     "      --png-level N   zlib level 0-9 (default 2)\n"
     "      --palette       8-bit palette PNG when the tile has <= 256 colours\n"
     "  -o, --output FILE   where to write the PNG ('-' for stdout)\n"},
    {"token", cmd_token, "make an access token, or hash one for the config",
     "usage: lagebild token new --principal NAME [--roles ROLE,...] [--admin]\n"
     "       lagebild token hash TOKEN|-\n"
     "\n"
     "new   makes a random access token and prints it on the first line, then\n"
     "      the entry for the config's tokens: section, which holds only the\n"
     "      token's hash.  The token is shown only once: hand it over now.\n"
     "hash  prints the sha256: hash of a token as the config expects it; '-'\n"
     "      reads the token from the first line of stdin (keeps it out of the\n"
     "      process list and the shell history).\n"
     "\n"
     "  -p, --principal NAME  who holds the token (its key under tokens:)\n"
     "  -r, --roles LIST      comma-separated role ids\n"
     "      --admin           may read /metrics and use operator APIs\n"},
    {"audit", cmd_audit, "verify the audit log's hash chain",
     "usage: lagebild audit verify FILE\n"
     "\n"
     "Checks every record of the audit log FILE (its own hash, seq and the\n"
     "previous record's hash) and that the log still holds the last record\n"
     "anchored in FILE.head (see docs/audit.md).\n"
     "\n"
     "Exit status: 0 when the chain is intact, 1 naming the first bad line,\n"
     "2 on usage errors.\n"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage_all(FILE *out)
{
    fprintf(out, "lagebild %s - geodata fusion and map tiles for a shared situational picture\n\n"
                 "usage: lagebild COMMAND [OPTIONS]\n\ncommands:\n", LB_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'lagebild COMMAND --help' shows a command's options.\n");
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* Parse the options every command shares; returns -1 to continue or an exit code. */
typedef struct opts {
    const char *config;
    const char **sources;
    size_t nsources;
    bool quiet, watch;
    const char *map, *grid, *output;
    long z, x, y, scale, png_level;
    bool palette;
    unsigned seen; /* bit per option letter class, see OPT_* */
} opts;

enum { OPT_SOURCE = 1, OPT_QUIET = 2, OPT_RENDER = 4, OPT_WATCH = 8 };

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int parse_opts(const command *cmd, int argc, char **argv, opts *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"source", required_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},
        {"watch", no_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {"map", required_argument, NULL, 'm'},
        {"grid", required_argument, NULL, 'g'},
        {"output", required_argument, NULL, 'o'},
        {"z", required_argument, NULL, 'Z'},
        {"x", required_argument, NULL, 'X'},
        {"y", required_argument, NULL, 'Y'},
        {"scale", required_argument, NULL, 'S'},
        {"png-level", required_argument, NULL, 'L'},
        {"palette", no_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    o->z = o->x = o->y = -1;
    o->scale = 1;
    o->png_level = 2;
    int c;
    while ((c = getopt_long(argc, argv, ":c:s:qwhm:g:o:", longopts, NULL)) != -1) {
        long *num = NULL;
        long lo = 0, hi = 0;
        switch (c) {
        case 'm': o->map = optarg; o->seen |= OPT_RENDER; break;
        case 'g': o->grid = optarg; o->seen |= OPT_RENDER; break;
        case 'o': o->output = optarg; o->seen |= OPT_RENDER; break;
        case 'P': o->palette = true; o->seen |= OPT_RENDER; break;
        case 'Z': num = &o->z, lo = 0, hi = 30; break;
        case 'X': num = &o->x, lo = 0, hi = (1L << 30); break;
        case 'Y': num = &o->y, lo = 0, hi = (1L << 30); break;
        case 'S': num = &o->scale, lo = 1, hi = 4; break;
        case 'L': num = &o->png_level, lo = 0, hi = 9; break;
        default: break;
        }
        if (num) {
            o->seen |= OPT_RENDER;
            if (!parse_long(optarg, lo, hi, num)) {
                fprintf(stderr, "lagebild %s: %s needs a whole number from %ld to %ld, got '%s'\n",
                        cmd->name, argv[optind - 1], lo, hi, optarg);
                return 2;
            }
            continue;
        }
        switch (c) {
        case 'm': case 'g': case 'o': case 'P': break;
        case 'c': o->config = optarg; break;
        case 's': o->seen |= OPT_SOURCE; {
            const char **ns = realloc(o->sources, (o->nsources + 1) * sizeof *ns);
            if (!ns)
                return 1;
            o->sources = ns;
            o->sources[o->nsources++] = optarg;
            break;
        }
        case 'q': o->quiet = true; o->seen |= OPT_QUIET; break;
        case 'w': o->watch = true; o->seen |= OPT_WATCH; break;
        case 'h': fputs(cmd->usage, stdout); return 0;
        case ':':
            fprintf(stderr, "lagebild %s: option %s needs a value\n%s", cmd->name,
                    argv[optind - 1], cmd->usage);
            return 2;
        default:
            fprintf(stderr, "lagebild %s: unknown option %s\n%s", cmd->name, argv[optind - 1],
                    cmd->usage);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lagebild %s: unexpected argument '%s'\n%s", cmd->name, argv[optind],
                cmd->usage);
        return 2;
    }
    if (!o->config) {
        fprintf(stderr, "lagebild %s: --config FILE is required\n%s", cmd->name, cmd->usage);
        return 2;
    }
    unsigned allowed = strcmp(cmd->name, "ingest") == 0   ? OPT_SOURCE | OPT_QUIET | OPT_WATCH
                       : strcmp(cmd->name, "render") == 0 ? OPT_RENDER
                                                          : 0;
    if (o->seen & ~allowed) {
        fprintf(stderr, "lagebild %s: option not valid for this command\n%s", cmd->name,
                cmd->usage);
        return 2;
    }
    return -1;
}

static lb_config *load_config(const char *path)
{
    lb_config *cfg = NULL;
    char *diag = NULL;
    lb_status rc = lb_config_load(path, &cfg, &diag);
    if (rc != LB_OK) {
        if (diag && *diag)
            fputs(diag, stderr);
        else
            fprintf(stderr, "%s: %s\n", path, lb_strerror(rc));
        free(diag);
        return NULL;
    }
    free(diag);
    return cfg;
}

typedef struct reject_printer {
    bool quiet;
    unsigned printed;
    unsigned suppressed;
} reject_printer;

#define LB_MAX_PRINTED_REJECTS 20

static void print_reject(void *ud, const lb_source_cfg *src, const char *sfid, const char *reason)
{
    reject_printer *rp = ud;
    if (rp->quiet)
        return;
    if (rp->printed >= LB_MAX_PRINTED_REJECTS) {
        rp->suppressed++;
        return;
    }
    rp->printed++;
    fprintf(stderr, "%s: source '%s': feature %s rejected: %s\n", src->path, src->id,
            sfid ? sfid : "(no id)", reason);
}

static void print_summary(lb_store *st)
{
    lb_layer_info *li = NULL;
    size_t n = 0;
    lb_error err;
    if (lb_store_layers(st, &li, &n, &err) != LB_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    printf("%-24s %9s %10s  %s\n", "layer", "revision", "features", "updated (UTC)");
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        printf("%-24s %9lld %10lld  %s\n", li[i].layer, (long long)li[i].revision,
               (long long)li[i].features, li[i].updated_at);
        total += li[i].features;
    }
    printf("%-24s %9s %10lld\n", "total", "", (long long)total);
    free(li);
}

static volatile sig_atomic_t watch_stop;
static void on_watch_signal(int sig) { (void)sig; watch_stop = 1; }

static void print_refresh(void *ud, const lb_source_cfg *src, const lb_refresh *r, lb_status rc,
                          const lb_error *err)
{
    const opts *o = ud;
    if (rc != LB_OK)
        fprintf(stderr, "%s:%d: error: %s\n", o->config, src->line, err->msg);
    else if (r->outcome == LB_REFRESH_INGESTED)
        printf("%-24s -> %-20s %s changed (%.19s...): read %llu, stored %llu, rejected %llu;"
               " revision %lld\n",
               src->id, src->layer, r->content, r->hash, (unsigned long long)r->stats.read,
               (unsigned long long)r->stats.stored, (unsigned long long)r->stats.rejected,
               (long long)r->stats.revision);
    fflush(stdout);
}

/* ingest --watch: poll the watched and refreshed sources until a signal. */
static void watch_loop(const lb_config *cfg, lb_store *st, const opts *o)
{
    lb_watch *w = NULL;
    lb_error err;
    if (lb_watch_new(cfg, &w, &err) != LB_OK) {
        fprintf(stderr, "lagebild ingest: %s\n", err.msg);
        return;
    }
    if (!lb_watch_count(w)) {
        fprintf(stderr, "lagebild ingest --watch: no source has watch: or refresh:\n");
        lb_watch_free(w);
        return;
    }
    struct sigaction sa = {.sa_handler = on_watch_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("watching %zu source%s (Ctrl-C stops)\n", lb_watch_count(w),
           lb_watch_count(w) == 1 ? "" : "s");
    fflush(stdout);
    reject_printer rp = {.quiet = o->quiet};
    lb_ingest_opts io = {.on_reject = print_reject, .ud = &rp};
    while (!watch_stop) {
        lb_watch_poll(w, st, lb_now(), &io, print_refresh, (void *)o);
        double wait = lb_watch_next(w, lb_now());
        for (double t = 0; t < wait && !watch_stop; t += 0.1)
            usleep(100 * 1000);
    }
    lb_watch_free(w);
}

static int cmd_ingest(int argc, char **argv)
{
    opts o = {0};
    int ex = parse_opts(find_command("ingest"), argc, argv, &o);
    if (ex >= 0) {
        free(o.sources);
        return ex;
    }
    lb_config *cfg = load_config(o.config);
    if (!cfg) {
        free(o.sources);
        return 1;
    }
    for (size_t i = 0; i < o.nsources; i++) {
        if (!lb_config_source(cfg, o.sources[i])) {
            fprintf(stderr, "lagebild ingest: %s defines no source '%s'\n", o.config,
                    o.sources[i]);
            lb_config_free(cfg);
            free(o.sources);
            return 2;
        }
    }
    lb_fusion_init();
    lb_store *st = NULL;
    lb_error err;
    if (lb_store_open(cfg->store_path, &st, &err) != LB_OK) {
        fprintf(stderr, "lagebild ingest: %s\n", err.msg);
        lb_config_free(cfg);
        free(o.sources);
        lb_fusion_cleanup();
        return 1;
    }
    int failed = 0;
    uint64_t total_stored = 0;
    double t0 = lb_now();
    for (size_t i = 0; i < cfg->nsources; i++) {
        const lb_source_cfg *src = &cfg->sources[i];
        bool selected = o.nsources == 0;
        for (size_t k = 0; k < o.nsources; k++)
            selected |= strcmp(o.sources[k], src->id) == 0;
        if (!selected)
            continue;
        reject_printer rp = {.quiet = o.quiet};
        lb_ingest_opts io = {
            .progress = !o.quiet && isatty(STDERR_FILENO),
            .on_reject = print_reject,
            .ud = &rp,
        };
        lb_ingest_stats s;
        lb_status rc;
        if (src->watch) {
            lb_refresh r;
            rc = lb_source_refresh(st, cfg, src, true, &io, &r, &err);
            s = r.stats;
            if (rc == LB_OK && r.outcome == LB_REFRESH_NO_CONTENT) {
                printf("%-24s -> %-20s drop folder %s holds no complete file yet\n", src->id,
                       src->layer, src->watch);
                continue;
            }
        } else {
            rc = lb_ingest_source(st, cfg, src, &io, &s, &err);
        }
        if (rp.suppressed)
            fprintf(stderr, "%s: source '%s': %u more rejected features (see table lb_rejects)\n",
                    src->path ? src->path : src->watch, src->id, rp.suppressed);
        if (rc != LB_OK) {
            failed++;
            fprintf(stderr, "%s:%d: error: %s\n", o.config, src->line, err.msg);
            continue;
        }
        total_stored += s.stored;
        printf("%-24s -> %-20s read %llu, stored %llu, repaired %llu, rejected %llu; "
               "revision %lld (%.2f s, %.0f features/s)\n",
               src->id, src->layer, (unsigned long long)s.read, (unsigned long long)s.stored,
               (unsigned long long)s.repaired, (unsigned long long)s.rejected,
               (long long)s.revision, s.seconds,
               s.seconds > 0 ? (double)s.read / s.seconds : 0.0);
    }
    if (!o.quiet) {
        printf("\nstore %s (%.2f s, %llu features written)\n", cfg->store_path, lb_now() - t0,
               (unsigned long long)total_stored);
        print_summary(st);
    }
    if (o.watch)
        watch_loop(cfg, st, &o);
    if (failed)
        fprintf(stderr, "lagebild ingest: %d source%s failed\n", failed, failed == 1 ? "" : "s");
    lb_store_close(st);
    lb_config_free(cfg);
    free(o.sources);
    lb_fusion_cleanup();
    return failed ? 1 : 0;
}

static bool is_local(const char *p) { return !strstr(p, "://") && !strchr(p, ':') && strncmp(p, "/vsi", 4) != 0; }

static int cmd_check(int argc, char **argv)
{
    opts o = {0};
    int ex = parse_opts(find_command("check"), argc, argv, &o);
    free(o.sources);
    if (ex >= 0)
        return ex;
    lb_config *cfg = load_config(o.config);
    if (!cfg)
        return 1;
    int errors = 0;
    struct stat sb;
    for (size_t i = 0; i < cfg->nsources; i++) {
        const lb_source_cfg *s = &cfg->sources[i];
        if (s->watch && (stat(s->watch, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
            fprintf(stderr, "%s:%d: source '%s': drop folder %s does not exist\n", o.config,
                    s->line, s->id, s->watch);
            errors++;
        }
        if (s->path && is_local(s->path) && stat(s->path, &sb) != 0) {
            fprintf(stderr, "%s:%d: source '%s': file %s does not exist\n", o.config, s->line,
                    s->id, s->path);
            errors++;
        }
    }
    lb_error kerr;
    if (cfg->jwt.key_path && lb_jwt_key_check(cfg->jwt.key_path, &kerr) != LB_OK) {
        fprintf(stderr, "%s: %s\n", o.config, kerr.msg);
        errors++;
    }
    for (size_t i = 0; i < cfg->nlayers; i++) {
        const lb_layer_cfg *l = &cfg->layers[i];
        if (l->style && stat(l->style, &sb) != 0) {
            fprintf(stderr, "%s:%d: layer '%s': style file %s does not exist\n", o.config,
                    l->line, l->id, l->style);
            errors++;
        }
    }
    if (!errors)
        printf("%s: OK (%zu sources, %zu layers, %zu maps; store %s)\n", o.config,
               cfg->nsources, cfg->nlayers, cfg->nmaps, cfg->store_path);
    lb_config_free(cfg);
    return errors ? 1 : 0;
}

static int cmd_info(int argc, char **argv)
{
    opts o = {0};
    int ex = parse_opts(find_command("info"), argc, argv, &o);
    free(o.sources);
    if (ex >= 0)
        return ex;
    lb_config *cfg = load_config(o.config);
    if (!cfg)
        return 1;
    struct stat sb;
    if (stat(cfg->store_path, &sb) != 0) {
        fprintf(stderr, "lagebild info: store %s does not exist yet (run lagebild ingest)\n",
                cfg->store_path);
        lb_config_free(cfg);
        return 1;
    }
    lb_fusion_init();
    lb_store *st = NULL;
    lb_error err;
    int rc = 0;
    if (lb_store_open(cfg->store_path, &st, &err) != LB_OK) {
        fprintf(stderr, "lagebild info: %s\n", err.msg);
        rc = 1;
    } else {
        printf("store %s\n", cfg->store_path);
        print_summary(st);
        lb_store_close(st);
    }
    lb_config_free(cfg);
    lb_fusion_cleanup();
    return rc;
}

/* Load the styles and build the snapshots of a map's layers for grid. */
static int load_map_layers(const lb_config *cfg, const lb_map_cfg *map, lb_store *st,
                           const lb_tms *grid, lb_render_layer *out, lb_style **styles)
{
    for (size_t i = 0; i < map->nlayers; i++) {
        const lb_layer_cfg *lc = lb_config_layer(cfg, map->layers[i]);
        styles[i] = NULL;
        size_t nprops = 0;
        const char *const *props = NULL;
        if (lc->style) {
            char *diag = NULL;
            if (lb_style_load(lc->style, &styles[i], &diag) != LB_OK) {
                fputs(diag ? diag : "cannot load style\n", stderr);
                free(diag);
                return 1;
            }
            props = lb_style_properties(styles[i], &nprops);
        }
        lb_error err;
        if (lb_snapshot_build(st, cfg, lc->id, grid, props, nprops, &out[i].snap, &err) !=
            LB_OK) {
            fprintf(stderr, "lagebild: layer '%s': %s\n", lc->id, err.msg);
            return 1;
        }
        out[i].style = styles[i];
    }
    return 0;
}

static void free_map_layers(size_t n, lb_render_layer *layers, lb_style **styles)
{
    for (size_t i = 0; i < n; i++) {
        if (layers[i].snap)
            lb_snapshot_unref(layers[i].snap);
        lb_style_free(styles[i]);
    }
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "lagebild: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    if (f != stdout)
        ok = fclose(f) == 0 && ok;
    else
        ok = fflush(f) == 0 && ok;
    if (!ok) {
        fprintf(stderr, "lagebild: writing %s failed: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

static int cmd_render(int argc, char **argv)
{
    const command *cmd = find_command("render");
    opts o = {0};
    int ex = parse_opts(cmd, argc, argv, &o);
    free(o.sources);
    if (ex >= 0)
        return ex;
    if (!o.map || o.z < 0 || o.x < 0 || o.y < 0 || !o.output) {
        fprintf(stderr, "lagebild render: --map, --z, --x, --y and -o are required\n%s",
                cmd->usage);
        return 2;
    }
    if (o.scale != 1 && o.scale != 2) {
        fprintf(stderr, "lagebild render: --scale must be 1 or 2\n");
        return 2;
    }
    const lb_tms *grid = lb_tms_find(o.grid ? o.grid : "WebMercatorQuad");
    if (!grid) {
        fprintf(stderr, "lagebild render: unknown grid '%s' (WebMercatorQuad, DE_EPSG_25832_ADV)\n",
                o.grid);
        return 2;
    }
    double minx, miny, maxx, maxy;
    if (!lb_tms_tile_bounds(grid, (int)o.z, o.x, o.y, &minx, &miny, &maxx, &maxy)) {
        fprintf(stderr, "lagebild render: tile %ld/%ld/%ld does not exist in %s\n", o.z, o.x,
                o.y, grid->id);
        return 1;
    }
    lb_config *cfg = load_config(o.config);
    if (!cfg)
        return 1;
    const lb_map_cfg *map = lb_config_map(cfg, o.map);
    if (!map) {
        fprintf(stderr, "lagebild render: %s defines no map '%s'\n", o.config, o.map);
        lb_config_free(cfg);
        return 1;
    }
    lb_fusion_init();
    lb_store *st = NULL;
    lb_error err;
    int rc = 1;
    lb_render_layer *layers = calloc(map->nlayers, sizeof *layers);
    lb_style **styles = calloc(map->nlayers, sizeof *styles);
    lb_canvas canvas = {0};
    uint8_t *png = NULL;
    size_t len = 0;
    if (!layers || !styles)
        goto out;
    if (lb_store_open(cfg->store_path, &st, &err) != LB_OK) {
        fprintf(stderr, "lagebild render: %s\n", err.msg);
        goto out;
    }
    if (load_map_layers(cfg, map, st, grid, layers, styles) != 0)
        goto out;
    int px = grid->tile_size * (int)o.scale;
    lb_png_opts po = {.level = (int)o.png_level, .palette = o.palette};
    if (lb_canvas_init(&canvas, px, px) != LB_OK ||
        lb_render_tile(layers, map->nlayers, grid, (int)o.z, o.x, o.y, (int)o.scale, &canvas,
                       &err) != LB_OK ||
        lb_png_encode(&canvas, &po, &png, &len, &err) != LB_OK) {
        fprintf(stderr, "lagebild render: %s\n", err.msg);
        goto out;
    }
    rc = write_file(o.output, png, len);
out:
    free(png);
    lb_canvas_free(&canvas);
    if (layers && styles)
        free_map_layers(map->nlayers, layers, styles);
    free(layers);
    free(styles);
    lb_store_close(st);
    lb_config_free(cfg);
    lb_fusion_cleanup();
    return rc;
}

/* ---- token and audit commands ---- */

static bool is_help(const char *a) { return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0; }

static int usage_error(const command *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "lagebild %s: ", cmd->name);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", cmd->usage);
    return 2;
}

/* A name GIS staff can type: printable, no control characters. */
static bool is_name(const char *s)
{
    if (!*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Print s as a YAML scalar: plain when unambiguous, else double-quoted. */
static void put_yaml_scalar(const char *s)
{
    static const char *const reserved[] = {"true", "false", "yes", "no", "on", "off",
                                           "null", "y", "n"};
    bool plain = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_';
    for (const char *p = s; plain && *p; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                (*p >= '0' && *p <= '9') || strchr("_.@-", *p);
    for (size_t i = 0; plain && i < sizeof reserved / sizeof reserved[0]; i++)
        plain = lb_strcasecmp(s, reserved[i]) != 0;
    if (plain) {
        fputs(s, stdout);
        return;
    }
    lb_buf b = {0};
    lb_buf_json_str(&b, s); /* a JSON string is a valid YAML double-quoted scalar */
    fputs(b.data ? b.data : "\"\"", stdout);
    lb_buf_free(&b);
}

static int token_new(const command *cmd, int argc, char **argv)
{
    const char *principal = NULL, *roles = NULL;
    bool admin = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        const char **dst = NULL;
        if (is_help(a)) {
            fputs(cmd->usage, stdout);
            return 0;
        }
        if (strcmp(a, "--admin") == 0) {
            admin = true;
            continue;
        }
        if (strcmp(a, "-p") == 0 || strcmp(a, "--principal") == 0 ||
            strncmp(a, "--principal=", 12) == 0)
            dst = &principal;
        else if (strcmp(a, "-r") == 0 || strcmp(a, "--roles") == 0 ||
                 strncmp(a, "--roles=", 8) == 0)
            dst = &roles;
        else
            return usage_error(cmd, "unknown option or argument '%s'", a);
        if (strncmp(a, "--", 2) == 0 && eq)
            *dst = eq + 1;
        else if (i + 1 < argc)
            *dst = argv[++i];
        else
            return usage_error(cmd, "option %s needs a value", a);
    }
    if (!principal)
        return usage_error(cmd, "%s", "--principal NAME is required");
    if (!is_name(principal))
        return usage_error(cmd, "invalid principal name '%s'", principal);

    /* split and check the roles before making the token */
    char *rolebuf = lb_strdup(roles ? roles : "");
    if (!rolebuf)
        return 1;
    char *list[64];
    size_t nroles = 0;
    for (char *save = NULL, *r = strtok_r(rolebuf, ",", &save); r;
         r = strtok_r(NULL, ",", &save)) {
        while (*r == ' ')
            r++;
        size_t n = strlen(r);
        while (n > 0 && r[n - 1] == ' ')
            r[--n] = '\0';
        if (!*r)
            continue;
        if (!is_name(r) || nroles == sizeof list / sizeof list[0]) {
            free(rolebuf);
            return usage_error(cmd, "invalid or too many roles in '%s'", roles);
        }
        list[nroles++] = r;
    }

    char token[LB_TOKEN_LEN + 1], hash[LB_TOKEN_HASH_LEN + 1];
    lb_error err;
    if (lb_token_new(token, sizeof token, &err) != LB_OK) {
        fprintf(stderr, "lagebild token: %s\n", err.msg);
        free(rolebuf);
        return 1;
    }
    lb_token_hash(token, hash);
    printf("%s\n", token);
    printf("# The token above is shown only once: hand it to its holder now. lagebild keeps\n"
           "# only its hash. Add this entry to the tokens: section of the config:\n"
           "tokens:\n  ");
    put_yaml_scalar(principal);
    printf(":\n    hash: %s\n    roles: [", hash);
    for (size_t i = 0; i < nroles; i++) {
        if (i)
            fputs(", ", stdout);
        put_yaml_scalar(list[i]);
    }
    printf("]\n");
    if (admin)
        printf("    admin: true\n");
    free(rolebuf);
    explicit_bzero(token, sizeof token);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int token_hash(const command *cmd, int argc, char **argv)
{
    if (argc > 2 && is_help(argv[2])) {
        fputs(cmd->usage, stdout);
        return 0;
    }
    if (argc != 3)
        return usage_error(cmd, "%s", "token hash needs exactly one TOKEN (or '-' for stdin)");
    char *line = NULL;
    size_t cap = 0;
    const char *token = argv[2];
    if (strcmp(token, "-") == 0) {
        ssize_t n = getline(&line, &cap, stdin);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        token = n > 0 ? line : "";
    }
    int rc = 0;
    if (!*token) {
        fprintf(stderr, "lagebild token: empty token\n");
        rc = 2;
    } else {
        char hash[LB_TOKEN_HASH_LEN + 1];
        lb_token_hash(token, hash);
        if (hash[0]) {
            printf("%s\n", hash);
        } else {
            fprintf(stderr, "lagebild token: cannot compute SHA-256\n");
            rc = 1;
        }
    }
    if (line) {
        explicit_bzero(line, cap);
        free(line);
    }
    return rc;
}

static int cmd_token(int argc, char **argv)
{
    const command *cmd = find_command("token");
    if (argc < 2)
        return usage_error(cmd, "%s", "missing subcommand (new or hash)");
    if (is_help(argv[1])) {
        fputs(cmd->usage, stdout);
        return 0;
    }
    if (strcmp(argv[1], "new") == 0)
        return token_new(cmd, argc, argv);
    if (strcmp(argv[1], "hash") == 0)
        return token_hash(cmd, argc, argv);
    return usage_error(cmd, "unknown subcommand '%s' (new or hash)", argv[1]);
}

static int cmd_audit(int argc, char **argv)
{
    const command *cmd = find_command("audit");
    if (argc >= 2 && is_help(argv[argc - 1])) {
        fputs(cmd->usage, stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "verify") != 0)
        return usage_error(cmd, "%s", argc < 2 ? "missing subcommand (verify)"
                                               : "unknown subcommand (verify)");
    if (argc != 3)
        return usage_error(cmd, "%s", "audit verify needs exactly one FILE");
    uint64_t n = 0;
    lb_error err;
    lb_status st = lb_audit_verify(argv[2], &n, &err);
    if (st != LB_OK) {
        if (st == LB_EFORMAT)
            fprintf(stderr, "%s: %s\n", argv[2], err.msg);
        else
            fprintf(stderr, "lagebild audit: %s\n", err.msg);
        return 1;
    }
    printf("%s: %llu record%s, chain intact\n", argv[2], (unsigned long long)n,
           n == 1 ? "" : "s");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage_all(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2 && find_command(argv[2])) {
            fputs(find_command(argv[2])->usage, stdout);
            return 0;
        }
        usage_all(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0) {
        printf("lagebild %s\n", LB_VERSION);
        return 0;
    }
    const command *cmd = find_command(name);
    if (!cmd) {
        fprintf(stderr, "lagebild: unknown command '%s'\n\n", name);
        usage_all(stderr);
        return 2;
    }
    return cmd->run(argc - 1, argv + 1);
}
