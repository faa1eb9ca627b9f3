/* The starter config.json `keel spec` writes: the same content as runc's,
 * so bundles move between the runtimes. */
#ifndef KEEL_SPEC_DEFAULT_H
#define KEEL_SPEC_DEFAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The document as pretty-printed JSON text (caller frees). With rootless,
 * a user namespace maps container root to uid/gid, there is no network
 * namespace (an unprivileged user cannot configure one), /sys is bound from
 * the host and no device cgroup rule is written. */
char *spec_default_json(bool rootless, uid_t uid, gid_t gid, size_t *len);

#endif
