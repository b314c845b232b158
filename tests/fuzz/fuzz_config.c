/*
 * libFuzzer target: the config loader (layers/config.c over layers/yaml.c).
 *
 * The input is the whole config file.  lb_config_load must either succeed
 * with a config whose parts are consistent, or fail with a status and a
 * diagnostic text; either way everything it returns is freed again (leaks
 * are findings).  A loaded config is walked: every id must be found by its
 * lookup function, and group/caveat formatting must stay inside small
 * buffers.  The loader reads only the one file (style names and source
 * paths are resolved, not opened).
 */
#define _GNU_SOURCE 1 /* memfd_create, in fuzz_file.h */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_file.h"
#include "lagebild/config.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_config: invariant violated: %s\n", what);
        abort();
    }
}

static void check_format(const lb_config *cfg, uint64_t bits)
{
    static const size_t sizes[] = {1, 2, 5, 16, 300};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char *buf = malloc(sizes[i]); /* exact size: ASan sees an overrun */
        assert(buf);
        lb_config_format_groups(cfg, bits, buf, sizes[i]);
        check(memchr(buf, '\0', sizes[i]) != NULL, "format_groups result not terminated");
        lb_config_format_caveats(cfg, bits, buf, sizes[i]);
        check(memchr(buf, '\0', sizes[i]) != NULL, "format_caveats result not terminated");
        free(buf);
    }
}

static void walk(const lb_config *cfg)
{
    for (size_t i = 0; i < cfg->nlayers; i++)
        check(lb_config_layer(cfg, cfg->layers[i].id) == &cfg->layers[i], "layer lookup");
    for (size_t i = 0; i < cfg->nsources; i++) {
        const lb_source_cfg *s = &cfg->sources[i];
        check(lb_config_source(cfg, s->id) == s, "source lookup");
        check(s->layer && lb_config_layer(cfg, s->layer) != NULL, "source's layer is declared");
        check(lb_level_name(s->label.level) != NULL, "source label level valid");
        check_format(cfg, s->label.groups | s->generalised_groups);
        check_format(cfg, s->label.caveats);
        for (char **o = s->open_options; o && *o; o++)
            check(strchr(*o, '=') != NULL, "open option KEY=VALUE");
    }
    for (size_t i = 0; i < cfg->nmaps; i++) {
        const lb_map_cfg *m = &cfg->maps[i];
        check(lb_config_map(cfg, m->id) == m, "map lookup");
        for (size_t j = 0; j < m->nlayers; j++)
            check(lb_config_layer(cfg, m->layers[j]) != NULL, "map's layer is declared");
    }
    for (size_t i = 0; i < cfg->nroles; i++) {
        const lb_role_cfg *r = &cfg->roles[i];
        check(lb_config_role(cfg, r->id) == r, "role lookup");
        check(lb_level_name(r->clearance.level) != NULL, "role clearance level valid");
        check_format(cfg, r->clearance.groups);
        check_format(cfg, r->clearance.caveats);
    }
    for (size_t i = 0; i < cfg->ntokens; i++)
        for (size_t j = 0; j < cfg->tokens[i].nroles; j++)
            check(lb_config_role(cfg, cfg->tokens[i].roles[j]) != NULL, "token's role is declared");
    for (size_t i = 0; i < cfg->ngroups; i++)
        check(lb_config_group_index(cfg, cfg->groups[i]) == (int)i, "group index");
    for (size_t i = 0; i < cfg->ncaveats; i++)
        check(lb_config_caveat_index(cfg, cfg->caveats[i]) == (int)i, "caveat index");
    check(cfg->phase == -1 || lb_phase_name((lb_phase)cfg->phase) != NULL, "phase valid");
    check_format(cfg, ~UINT64_C(0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_write(data, size, ".yaml");
    lb_config *cfg = NULL;
    char *diag = NULL;
    lb_status st = lb_config_load(path, &cfg, &diag);
    if (getenv("LB_FUZZ_VERBOSE")) /* to look at one input: LB_FUZZ_VERBOSE=1 ./fuzz_x file */
        fprintf(stderr, "status %d\n%s", (int)st, diag ? diag : "");
    if (st == LB_OK) {
        check(cfg != NULL, "LB_OK without a config");
        walk(cfg);
    } else {
        check(cfg == NULL, "a failed load returned a config");
        check(st == LB_ECONFIG || st == LB_ENOMEM || st == LB_ENOENT || st == LB_EIO,
              "unexpected status");
        check(diag != NULL || st == LB_ENOMEM, "a failed load without a diagnostic");
    }
    lb_config_free(cfg);
    free(diag);
    return 0;
}
