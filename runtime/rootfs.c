#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "devices.h"
#include "error.h"
#include "fileutil.h"
#include "masked.h"
#include "mount_exec.h"
#include "mount_plan.h"
#include "rootfs.h"
#include "spec.h"
#include "sysctl.h"
#include "xalloc.h"

char *rootfs_resolve_root(const struct spec_config *cfg, const struct rootfs_options *o)
{
    const char *path = cfg->root.path && cfg->root.path[0] ? cfg->root.path : "rootfs";
    cleanup_free char *joined = NULL;
    if (path[0] != '/' && o->bundle)
        joined = xasprintf("%s/%s", o->bundle, path);
    else
        joined = xstrdup(path);
    char *real = realpath(joined, NULL);
    return real ? real : steal_ptr(&joined);
}

/* Resolved once per container: realpath costs a readlink per component. */
static char *rootfs_path(const struct spec_config *cfg, const struct rootfs_options *o)
{
    return o->rootfs ? xstrdup(o->rootfs) : rootfs_resolve_root(cfg, o);
}

/* mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo. */
void rootfs_unescape_mountinfo(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
            p[3] <= '7') {
            *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

/* pivot_root refuses a new root whose parent mount is shared; with a
 * shared rootfsPropagation, make the mount holding the rootfs private. */
static int rootfs_make_parent_private(const char *rootfs, struct keel_error **err)
{
    cleanup_free char *info = NULL;
    if (file_read_whole("/proc/self/mountinfo", 8 << 20, &info, NULL, err) < 0)
        return -1;
    cleanup_free char *best = NULL;
    size_t best_len = 0;
    for (char *save = NULL, *line = strtok_r(info, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* id parent maj:min root MOUNTPOINT ... */
        char *f = line;
        for (int i = 0; i < 4 && f; i++) {
            f = strchr(f, ' ');
            if (f)
                f++;
        }
        if (!f)
            continue;
        char *end = strchr(f, ' ');
        if (end)
            *end = '\0';
        rootfs_unescape_mountinfo(f);
        size_t n = strlen(f);
        bool prefix =
            strcmp(f, "/") == 0 || (strncmp(rootfs, f, n) == 0 && (rootfs[n] == '/' || rootfs[n] == '\0'));
        if (prefix && (n >= best_len || !best)) {
            free(best);
            best = xstrdup(f);
            best_len = n;
        }
    }
    if (best && mount(NULL, best, NULL, MS_PRIVATE, NULL) < 0)
        return error_set(err, errno, "making the mount `%s` holding the rootfs private", best);
    return 0;
}

static bool rootfs_has_ns(const struct spec_config *cfg, enum spec_ns_type t)
{
    return cfg->linux && spec_find_namespace(cfg->linux, t) != NULL;
}

int rootfs_prepare(const struct spec_config *cfg, const struct rootfs_options *o, struct keel_error **err)
{
    /* Everything below changes the mount table: never in the host's. */
    if (!rootfs_has_ns(cfg, SPEC_NS_MOUNT))
        return error_set(err, EINVAL, "rootfs: the config has no mount namespace");
    cleanup_mount_plan struct mount_plan *plan = NULL;
    if (mount_plan_build(cfg, o->bundle, &plan, err) < 0)
        return -1;
    cleanup_free char *rootfs = rootfs_path(cfg, o);
    if (mount(NULL, "/", NULL, plan->root_propagation, NULL) < 0)
        return error_set(err, errno, "setting the propagation of \"/\"");
    if (plan->make_parent_private && rootfs_make_parent_private(rootfs, err) < 0)
        return -1;
    if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        return error_set(err, errno, "mount \"%s\" to itself (root.path)", rootfs);
    cleanup_close int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return error_set(err, errno, "opening the rootfs `%s`", rootfs);

    struct mount_exec_ctx ctx = {
        .rootfd = rootfd,
        .userns = o->userns,
        .cgroupns = rootfs_has_ns(cfg, SPEC_NS_CGROUP),
        .cgroup_mounts = o->cgroup_mounts,
        .n_cgroup_mounts = o->n_cgroup_mounts,
        .idmap = o->idmap,
    };
    if (mount_exec_plan(&ctx, plan, err) < 0)
        return -1;
    if (plan->setup_dev) {
        struct dev_node *nodes = NULL;
        size_t n = 0;
        if (devices_plan(cfg, &nodes, &n, err) < 0)
            return -1;
        int rc = devices_create(rootfd, nodes, n, o->userns, err);
        devices_plan_free(nodes, n);
        if (rc < 0 || devices_create_links(rootfd, err) < 0)
            return -1;
    }
    if (o->console_path && devices_bind_console(rootfd, o->console_path, err) < 0)
        return -1;
    return 0;
}

static int rootfs_pivot_root(const char *rootfs, struct keel_error **err)
{
    cleanup_close int oldroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (oldroot < 0)
        return error_set(err, errno, "opening \"/\"");
    cleanup_close int newroot = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (newroot < 0)
        return error_set(err, errno, "opening the rootfs `%s`", rootfs);
    if (fchdir(newroot) < 0)
        return error_set(err, errno, "chdir to the rootfs `%s`", rootfs);
    /* pivot_root(".", ".") stacks the old root on top of the new one; it is
     * then detached from there, so no directory for it is needed. */
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return error_set(err, errno, "pivot_root to `%s`", rootfs);
    if (fchdir(oldroot) < 0)
        return error_set(err, errno, "chdir to the old root");
    /* Slave first, so detaching it cannot propagate to the host. */
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        return error_set(err, errno, "making the old root a slave");
    if (umount2(".", MNT_DETACH) < 0)
        return error_set(err, errno, "unmounting the old root");
    if (chdir("/") < 0)
        return error_set(err, errno, "chdir to \"/\"");
    return 0;
}

static int rootfs_move_root(const char *rootfs, struct keel_error **err)
{
    if (chdir(rootfs) < 0)
        return error_set(err, errno, "chdir to the rootfs `%s`", rootfs);
    if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0)
        return error_set(err, errno, "moving the rootfs `%s` onto \"/\" (--no-pivot)", rootfs);
    if (chroot(".") < 0)
        return error_set(err, errno, "chroot to `%s` (--no-pivot)", rootfs);
    if (chdir("/") < 0)
        return error_set(err, errno, "chdir to \"/\"");
    return 0;
}

int rootfs_pivot(const struct spec_config *cfg, const struct rootfs_options *o, struct keel_error **err)
{
    cleanup_free char *rootfs = rootfs_path(cfg, o);
    return o->no_pivot ? rootfs_move_root(rootfs, err) : rootfs_pivot_root(rootfs, err);
}

int rootfs_bind_console(int slave_fd, struct keel_error **err)
{
    cleanup_close int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return error_set(err, errno, "opening \"/\"");
    return devices_bind_console_fd(rootfd, slave_fd, err);
}

int rootfs_finalize(const struct spec_config *cfg, const struct rootfs_options *o, struct keel_error **err)
{
    (void)o;
    cleanup_close int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return error_set(err, errno, "opening \"/\"");
    if (sysctl_apply(cfg, err) < 0)
        return -1;
    if (cfg->linux) {
        if (masked_apply_readonly(rootfd, cfg->linux->readonly_paths, err) < 0 ||
            masked_apply(rootfd, cfg->linux->masked_paths, err) < 0)
            return -1;
    }
    if (cfg->root.readonly && mount_setattr_fd(rootfd, false, MOUNT_ATTR_RDONLY, 0, 0) < 0)
        return error_set(err, errno, "making \"/\" read-only (root.readonly)");
    if (cfg->linux && cfg->linux->rootfs_propagation && cfg->linux->rootfs_propagation[0]) {
        unsigned long p;
        if (mount_propagation_parse(cfg->linux->rootfs_propagation, &p, err) < 0)
            return -1;
        if (mount_setattr_fd(rootfd, p & MS_REC, 0, 0, p & ~MS_REC) < 0)
            return error_set(err, errno, "setting the propagation of \"/\" (rootfsPropagation %s)",
                             cfg->linux->rootfs_propagation);
    }
    return 0;
}
