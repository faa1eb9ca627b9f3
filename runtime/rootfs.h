/* The container's root filesystem, in three steps called by the container
 * init (already in its own mount namespace):
 *
 *   rootfs_prepare()   before pivot: propagation of "/" (rslave, or per
 *                      rootfsPropagation), the rootfs bind-mounted onto
 *                      itself, every mount of config.mounts in order, then
 *                      (unless /dev is bound from the host) the default
 *                      nodes and linux.devices, the /dev links, and the
 *                      console.  Refuses a config without a mount namespace.
 *   -- createContainer hooks run here (lifecycle code) --
 *   rootfs_pivot()     pivot_root with the old root detached lazily, or with
 *                      no_pivot, MS_MOVE onto "/" + chroot.
 *   rootfs_finalize()  after pivot: linux.sysctl, maskedPaths,
 *                      readonlyPaths, root.readonly, the final
 *                      rootfsPropagation.
 *
 * Every destination is resolved strictly inside the rootfs (openat2
 * RESOLVE_IN_ROOT) and mounted through an fd, so a symlink in the image (or
 * one swapped in during setup) can never redirect a mount to the host.
 * Errors name the step, the path and errno:
 *     mount "proc" to "/proc": Operation not permitted */
#ifndef KEEL_ROOTFS_H
#define KEEL_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>

struct keel_error;
struct spec_config;
struct cgroup_mount_entry;
struct idmap_mounts;

struct rootfs_options {
    const char *bundle;       /* root.path is relative to it; NULL = cwd */
    bool no_pivot;            /* --no-pivot: MS_MOVE + chroot instead of pivot_root */
    bool userns;              /* in a new user namespace: devices are bind-mounted, not mknod'ed */
    const char *console_path; /* pty slave to bind on /dev/console, or NULL */
    /* root.path as rootfs_resolve_root() gave it to the caller, who shares
     * our view of the filesystem; NULL: resolved here */
    const char *rootfs;
    /* Optional: the hierarchies for "cgroup" mounts as the cgroup manager
     * already knows them (cgroup_get_mounts(), called before the init is
     * cloned).  NULL: rootfs_prepare finds them in /proc/self/mountinfo and
     * /proc/self/cgroup (~0.15 ms of CPU here; ~0.45 ms when it has to fall
     * back to mountinfo). */
    const struct cgroup_mount_entry *cgroup_mounts;
    size_t n_cgroup_mounts;
    const struct idmap_mounts *idmap; /* idmapped trees made before the clone (idmap.h), or NULL */
};
/* A zeroed struct rootfs_options is the default: pivot_root, no user
 * namespace, no console. */

int rootfs_prepare(const struct spec_config *cfg, const struct rootfs_options *o, struct keel_error **err);
int rootfs_pivot(const struct spec_config *cfg, const struct rootfs_options *o, struct keel_error **err);
int rootfs_finalize(const struct spec_config *cfg, const struct rootfs_options *o, struct keel_error **err);

/* After rootfs_pivot: bind the pty slave open as slave_fd (the
 * container's own devpts) onto /dev/console, created if missing.  For a
 * terminal opened after pivot; console_path covers one opened before. */
int rootfs_bind_console(int slave_fd, struct keel_error **err);

/* The absolute path of the rootfs (root.path joined to bundle when relative),
 * malloc'ed; never fails. */
/* Decodes a mountinfo field in place (\ooo escapes of space, tab, newline, backslash). */
void rootfs_unescape_mountinfo(char *s);
char *rootfs_resolve_root(const struct spec_config *cfg, const struct rootfs_options *o);

#endif
