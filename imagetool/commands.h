/* One function per hoist command, each in its own cmd_NAME.c. */
#ifndef KEEL_HOIST_COMMANDS_H
#define KEEL_HOIST_COMMANDS_H

#include "hoist.h"

#endif
