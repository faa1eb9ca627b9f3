/* What every keel command receives: the global options, parsed once in
 * main.  Commands are `int cmd_NAME(struct keel_context *, argc, argv, err)`
 * returning an exit status (>= 0) or a negative value with *err filled. */
#ifndef KEEL_KEEL_H
#define KEEL_KEEL_H

#include <stdbool.h>

#include "error.h"
#include "log.h"

enum keel_rootless { KEEL_ROOTLESS_AUTO, KEEL_ROOTLESS_TRUE, KEEL_ROOTLESS_FALSE };

struct keel_context {
    const char *root;           /* --root: state directory, default /run/keel */
    struct keel_log log;        /* --log, --log-format, --debug */
    bool debug;
    bool systemd_cgroup;        /* --systemd-cgroup */
    enum keel_rootless rootless; /* --rootless auto|true|false */
    const char *argv0;
};

#define KEEL_DEFAULT_ROOT "/run/keel"

typedef int (*keel_command_fn)(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);

struct keel_command {
    const char *name;
    keel_command_fn run;
    const char *summary;
};

#endif
