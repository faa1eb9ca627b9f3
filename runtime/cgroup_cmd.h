/* Shared by the commands that act on a container's cgroup (pause, resume,
 * ps, update, events). */
#ifndef KEEL_CGROUP_CMD_H
#define KEEL_CGROUP_CMD_H

#include <stdbool.h>

#include "cgroup.h"
#include "keel.h"
#include "state.h"

/* Open ID's state dir (locked, shared or exclusive), read state.json and
 * load the cgroup manager.  A container without a cgroup is an error naming
 * it.  *dirfd, *s and *m are owned by the caller. */
int cgcmd_open(struct keel_context *ctx, const char *id, bool exclusive, int *dirfd,
               struct container_state **s, struct cgroup_manager **m, struct keel_error **err);

#endif
