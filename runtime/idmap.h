/* Idmapped bind mounts: the `idmap`/`ridmap` options and per-mount
 * uidMappings/gidMappings (mount_setattr with MOUNT_ATTR_IDMAP).
 *
 * The kernel lets only a process privileged over the source's superblock
 * (the host's user namespace for host filesystems) make an idmapped mount,
 * and only on a detached tree.  The container's init runs in its own user
 * namespace by then, so `create` makes every idmapped tree before the
 * clone: open_tree(OPEN_TREE_CLONE), a throwaway user namespace carrying the
 * mapping, mount_setattr.  The init inherits the fds (clone copies the fd
 * table) and only attaches them with move_mount (mount_exec.c). */
#ifndef KEEL_IDMAP_H
#define KEEL_IDMAP_H

#include <stddef.h>

#include "spec.h"

struct keel_error;

struct idmap_mounts {
    int *fds; /* fds[i]: the detached idmapped tree of config mounts[i], or -1 */
    size_t n;
};

/* True when config mount `m` asks for an idmapped mount (idmap, ridmap or
 * mappings of its own). */
bool idmap_mount_wanted(const struct spec_mount *m);

/* Make the detached idmapped trees of every mount that asks for one.
 * Mappings: the mount's own, else the container's (linux.uidMappings).
 * Errors name the mount, e.g. "mounts[3] (/data): the filesystem of `/srv`
 * does not support idmapped mounts". */
int idmap_mounts_prepare(const struct spec_config *cfg, const char *bundle, struct idmap_mounts *out,
                         struct keel_error **err);

/* The tree for config mount `index`, or -1 (m may be NULL). */
int idmap_mounts_fd(const struct idmap_mounts *m, size_t index);

void idmap_mounts_release(struct idmap_mounts *m);
#define cleanup_idmap_mounts __attribute__((cleanup(idmap_mounts_release)))

#endif
