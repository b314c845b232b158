/*
 * lagebild — private interface of the layers module (not installed, not
 * included outside layers/).
 *
 * The YAML tree and the (line, message) diagnostics that config.c decodes
 * with are public since the styles module reads its JSON files with them:
 * see include/lagebild/yaml.h (implemented in yaml.c).
 */
#ifndef LAGEBILD_LAYERS_INT_H
#define LAGEBILD_LAYERS_INT_H

#include "lagebild/yaml.h"

#endif
