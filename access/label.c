/* This file implements classification levels: names, parsing, ordering. */
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
