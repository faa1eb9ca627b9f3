/* One function per command, each in its own cmd_NAME.c. */
#ifndef KEEL_COMMANDS_H
#define KEEL_COMMANDS_H

#include "keel.h"


#endif
