/* What every hoist command receives: the global options, parsed once in main. */
#ifndef KEEL_HOIST_H
#define KEEL_HOIST_H

#include <stdbool.h>

#include "error.h"
#include "log.h"

struct hoist_context {
    const char *store;   /* --store: OCI image layout, default /var/lib/hoist or $XDG_DATA_HOME/hoist */
    struct keel_log log; /* --log, --log-format, --debug */
    bool debug;
    const char *argv0;
};

typedef int (*hoist_command_fn)(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err);

struct hoist_command {
    const char *name;
    hoist_command_fn run;
    const char *summary;
};

#endif
