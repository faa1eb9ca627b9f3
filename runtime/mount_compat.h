/* Classic mount(2) equivalents of the new mount API, for where
 * open_tree/move_mount/fsopen/fsmount/mount_setattr answer ENOSYS (kernels
 * before 5.2/5.12, and valgrind, which does not know these syscalls).
 *
 * Only where the result is the same mount table: a bind (then a remount
 * for its flags), per-mount flags through MS_REMOUNT|MS_BIND keeping the
 * flags not asked about (statvfs), propagation, a fresh tmpfs.  Not
 * equivalent, so still ENOSYS: idmapped mounts, and recursive attributes
 * (rro, rnosuid...) on a tree that has submounts.  One difference is
 * accepted: a classic bind is attached first and made read-only after, so
 * for a moment it is writable, only inside the container's own mount
 * namespace before any container process runs (runc does the same).
 *
 * All return -1 with errno set (no message: callers name the mount). */
#ifndef KEEL_MOUNT_COMPAT_H
#define KEEL_MOUNT_COMPAT_H

#include <stdbool.h>
#include <stdint.h>

/* Whether mount_setattr is missing (Linux 5.2 to 5.11 have open_tree and
 * move_mount without it): a detached tree then cannot get its attributes,
 * so binds that need some take the mount(2) path. */
bool mount_compat_no_setattr(void);

/* mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE]) with mount(2); fd
 * must be the root of an attached mount. */
int mount_compat_setattr(int fd, bool recursive, uint64_t set, uint64_t clr, uint64_t propagation);

/* Bind the object src_fd refers to (any fd; "/proc/self/fd/N") onto
 * dest_fd, recursively or not, then set the MOUNT_ATTR_* set/clr on the new
 * top mount and rec_set/rec_clr on all of it.  When top is non-NULL it
 * receives an O_PATH fd of the new mount. */
int mount_compat_bind(int src_fd, bool recursive, uint64_t set, uint64_t clr, uint64_t rec_set,
                      uint64_t rec_clr, int dest_fd, int *top);

/* An O_PATH fd of the mount just attached on dest_fd by mount(2): dest_fd
 * itself still names the covered directory.  Reopened by path, then checked
 * against mountinfo (its parent is dest_fd's mount, its mount point dest_fd's
 * path), so a path swapped meanwhile gives EXDEV, never another mount. */
int mount_compat_reopen_top(int dest_fd);

#endif
