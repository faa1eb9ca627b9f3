/* Carrying out a mount plan (mount_plan.h) beneath a rootfs.
 *
 * Every destination is opened with safepath (openat2 RESOLVE_IN_ROOT), and
 * the mount lands on that fd: mount(2) onto /proc/self/fd/N for
 * filesystems, open_tree + mount_setattr + move_mount for binds.  A symlink
 * in the image, or one swapped in between the check and the mount
 * (CVE-2021-30465), can therefore never move a mount out of the rootfs.
 * Bind attributes are set on the detached clone before it is attached, so
 * a read-only bind is never visible read-write.  Where the kernel (or
 * valgrind) lacks the new mount API, mount_compat.h does the same with
 * mount(2) where that is equivalent. */
#ifndef KEEL_MOUNT_EXEC_H
#define KEEL_MOUNT_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "mount_plan.h"

struct keel_error;
struct cgroup_mount_entry;
struct idmap_mounts;

struct mount_exec_ctx {
    int rootfd;    /* O_PATH|O_DIRECTORY fd of the rootfs (already bound onto itself) */
    bool userns;   /* inside a new user namespace: sysfs/mqueue fall back to binds */
    bool cgroupns; /* a cgroup namespace of its own: cgroup mounts are fresh, not binds */
    const struct cgroup_mount_entry *cgroup_mounts; /* from the cgroup manager, or NULL */
    size_t n_cgroup_mounts;
    const struct idmap_mounts *idmap; /* detached idmapped trees made by create, or NULL */
};

int mount_exec_plan(const struct mount_exec_ctx *ctx, const struct mount_plan *plan, struct keel_error **err);
int mount_exec_op(const struct mount_exec_ctx *ctx, const struct mount_op *op, struct keel_error **err);

/* Low-level helpers shared with devices.c, masked.c and mount_cgroup.c.
 * They return -1 with errno set and leave messages to the caller. */

/* Clone the mount tree at src_dirfd/src (AT_EMPTY_PATH when src is ""),
 * set attributes on the clone's top mount (set/clr, MOUNT_ATTR_*) and, when
 * rec_set/rec_clr are non-zero, on all of it, then attach it on dest_fd. */
int mount_bind_fd(int src_dirfd, const char *src, bool recursive, uint64_t set, uint64_t clr,
                  uint64_t rec_set, uint64_t rec_clr, int dest_fd);

/* mount_setattr on the mount whose root fd is (AT_EMPTY_PATH). */
int mount_setattr_fd(int fd, bool recursive, uint64_t set, uint64_t clr, uint64_t propagation);

/* Open the destination beneath rootfd, creating it (and its parents) as a
 * directory (dir=true) or an empty file when missing.  Returns an O_PATH fd
 * or -1 with err. */
int mount_open_dest(int rootfd, const char *dest, bool dir, struct keel_error **err);

/* The options applied once op's mount is at fd: the recursive attributes
 * (rro & co), then the propagation options in order; errors name op.
 * mount_apply_after does both. */
int mount_apply_recursive(const struct mount_op *op, int fd, struct keel_error **err);
int mount_apply_propagation(const struct mount_op *op, int fd, struct keel_error **err);
int mount_apply_after(const struct mount_op *op, int fd, struct keel_error **err);

#endif
