/* tmpcopyup: a tmpfs mounted over a directory that starts with a copy of
 * what the directory held (files, directories, symlinks, device nodes and
 * fifos, with their modes and owners).  The tmpfs is built detached
 * (fsopen/fsmount), filled, then attached, so the copy never sees itself. */
#ifndef KEEL_MOUNT_COPYUP_H
#define KEEL_MOUNT_COPYUP_H

#include "mount_plan.h"

struct keel_error;

/* dest: O_PATH fd of the destination directory. */
int mount_copyup_tmpfs(const struct mount_op *op, int dest, struct keel_error **err);

#endif
