/*
 * This file implements classification levels (names, parsing, ordering) and
 * the names of the crisis phases.
 */
#include <string.h>

#include "lagebild/config.h"
#include "lagebild/util.h"

static const char *const level_names[LB_LEVEL_COUNT] = {
    "OFFEN", "VS-NfD", "VS-VERTRAULICH", "GEHEIM",
};

const char *lb_level_name(lb_level level)
{
    if ((int)level < 0 || (int)level >= LB_LEVEL_COUNT)
        return NULL;
    return level_names[level];
}

lb_status lb_level_parse(const char *s, lb_level *out)
{
    static const struct {
        const char *alias;
        lb_level level;
    } aliases[] = {
        {"OFFEN", LB_LEVEL_OFFEN},
        {"VS-NfD", LB_LEVEL_VS_NFD},
        {"VS_NFD", LB_LEVEL_VS_NFD},
        {"NfD", LB_LEVEL_VS_NFD},
        {"VS-NUR FUER DEN DIENSTGEBRAUCH", LB_LEVEL_VS_NFD},
        {"VS-VERTRAULICH", LB_LEVEL_VS_VERTRAULICH},
        {"VS_VERTRAULICH", LB_LEVEL_VS_VERTRAULICH},
        {"VERTRAULICH", LB_LEVEL_VS_VERTRAULICH},
        {"GEHEIM", LB_LEVEL_GEHEIM},
    };
    if (!s)
        return LB_EINVAL;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (lb_strcasecmp(s, aliases[i].alias) == 0) {
            *out = aliases[i].level;
            return LB_OK;
        }
    }
    return LB_EINVAL;
}

static const char *const phase_names[LB_PHASE_COUNT] = {
    "Vorbereitung", "Vorsorge", "Schutz", "Reaktion", "Regeneration",
};

const char *lb_phase_name(lb_phase p)
{
    if ((int)p < 0 || (int)p >= LB_PHASE_COUNT)
        return NULL;
    return phase_names[p];
}

lb_status lb_phase_parse(const char *s, lb_phase *out)
{
    if (!s || !out)
        return LB_EINVAL;
    for (int i = 0; i < LB_PHASE_COUNT; i++) {
        if (lb_strcasecmp(s, phase_names[i]) == 0) {
            *out = (lb_phase)i;
            return LB_OK;
        }
    }
    return LB_EINVAL;
}
