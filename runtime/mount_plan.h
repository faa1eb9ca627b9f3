/* The mounts of a container as a plan: pure data built from the config
 * with no syscalls, so every decision (what is a bind, which flags, where
 * /dev comes from, which destinations are refused) is unit-tested without
 * root.  mount_exec.h carries it out. */
#ifndef KEEL_MOUNT_PLAN_H
#define KEEL_MOUNT_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "mount_options.h"

struct keel_error;
struct spec_config;

enum mount_op_kind {
    MOUNT_OP_FS,      /* mount(2) of a filesystem: proc, tmpfs, sysfs, devpts, mqueue, ... */
    MOUNT_OP_BIND,    /* bind of a host path; the destination takes the source's type */
    MOUNT_OP_REMOUNT, /* "remount": change the flags of what is already at the destination */
    MOUNT_OP_CGROUP,  /* type "cgroup": the container's view of the host's hierarchies */
};

struct mount_op {
    enum mount_op_kind kind;
    size_t index;      /* position in config.mounts, for messages */
    char *destination; /* absolute and lexically cleaned ("/dev/pts") */
    char *source;      /* bind: absolute (relative ones joined to the bundle); fs: as written */
    char *fstype;      /* fs: the type; NULL for binds */
    struct mount_options opts;
    unsigned long flags; /* fs: the mount(2) flags (no MS_BIND/MS_REC) */
    bool real_dir_only;  /* proc, sysfs: the destination must be a real directory, never a symlink */
    bool bind_proc_only; /* destination /proc or below: a bind source must be on procfs */
};

struct mount_plan {
    struct mount_op *ops;
    size_t n_ops;
    unsigned long root_propagation;  /* applied to "/" first: rootfsPropagation or MS_SLAVE|MS_REC */
    unsigned long final_propagation; /* rootfsPropagation again after pivot, 0 = none */
    bool make_parent_private;        /* shared root propagation: the rootfs's parent mount goes private */
    bool setup_dev;                  /* false when /dev is bound from the host: no nodes, no links */
    bool readonly_root;
};

/* bundle may be NULL (relative bind sources then stay relative to cwd). */
int mount_plan_build(const struct spec_config *cfg, const char *bundle, struct mount_plan **out,
                     struct keel_error **err);
void mount_plan_free(struct mount_plan *p);
void mount_plan_freep(struct mount_plan **p);
#define cleanup_mount_plan __attribute__((cleanup(mount_plan_freep)))

/* "/a//b/../c/" -> "/a/c"; a relative path is taken from "/".  Never
 * goes above "/".  Returns a new string. */
char *mount_clean_path(const char *path);

/* True when path is dir or below it (both cleaned). */
bool mount_path_is_under(const char *path, const char *dir);

#endif
