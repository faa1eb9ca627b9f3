#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "error.h"
#include "mount_cgroup.h"
#include "safepath.h"
#include "xalloc.h"

static int cgroup_fail(struct keel_error **err, int e, const struct mount_op *op, const char *what)
{
    return error_set(err, e, "mount \"%s\" to \"%s\": %s", op->source, op->destination, what);
}

static int cgroup_mount_one(const struct mount_exec_ctx *ctx, const struct mount_op *op, int dirfd,
                            const char *fstype, const char *options, const char *host_dir, uint64_t set,
                            uint64_t clr, struct keel_error **err)
{
    if (ctx->cgroupns) {
        char target[32];
        safepath_fd_path(dirfd, target);
        if (mount("cgroup", target, fstype, op->flags & ~MS_REMOUNT,
                  options && options[0] ? options : NULL) == 0)
            return 0;
        if (!host_dir || (errno != EPERM && errno != EBUSY))
            return cgroup_fail(err, errno, op, fstype);
    }
    if (!host_dir)
        return cgroup_fail(err, ENOENT, op,
                           "no directory of the container's cgroup to bind in this hierarchy");
    if (mount_bind_fd(AT_FDCWD, host_dir, fstype[6] == '2', set, clr, 0, 0, dirfd) < 0) {
        cleanup_free char *what = xasprintf("binding `%s`", host_dir);
        return cgroup_fail(err, errno, op, what);
    }
    return 0;
}

static int cgroup_mount_all(const struct mount_exec_ctx *ctx, const struct mount_op *op, int dest,
                            const struct cgroup_mount_entry *hiers, size_t n, struct keel_error **err)
{
    uint64_t set, clr;
    struct mount_options flag_opts = {.flags = op->flags};
    mount_options_bind_attr(&flag_opts, &set, &clr);
    if (n == 0)
        return cgroup_fail(err, ENOENT, op, "no cgroup hierarchy is mounted on the host");
    /* Pure cgroup2: the one hierarchy goes on the destination itself. */
    if (n == 1 && hiers[0].name[0] == '\0')
        return cgroup_mount_one(ctx, op, dest, "cgroup2", NULL, hiers[0].host_dir, set, clr, err);

    char target[32];
    safepath_fd_path(dest, target);
    if (mount("tmpfs", target, "tmpfs", op->flags & ~(MS_RDONLY | MS_REMOUNT), "mode=755") < 0)
        return cgroup_fail(err, errno, op, "tmpfs");
    cleanup_close int top = safepath_open(ctx->rootfd, op->destination, O_PATH | O_DIRECTORY, 0, err);
    if (top < 0)
        return error_prefix(err, "mount \"%s\" to \"%s\"", op->source, op->destination);
    for (size_t i = 0; i < n; i++) {
        const struct cgroup_mount_entry *h = &hiers[i];
        if (mkdirat(top, h->name, 0755) < 0 && errno != EEXIST)
            return cgroup_fail(err, errno, op, h->name);
        cleanup_close int sub = openat(top, h->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            return cgroup_fail(err, errno, op, h->name);
        if (cgroup_mount_one(ctx, op, sub, h->fstype, h->options, h->host_dir, set, clr, err) < 0)
            return -1;
        /* Co-mounted controllers ("cpu,cpuacct") get a link per name. */
        if (strchr(h->name, ',')) {
            cleanup_free char *names = xstrdup(h->name);
            for (char *save = NULL, *t = strtok_r(names, ",", &save); t; t = strtok_r(NULL, ",", &save))
                if (symlinkat(h->name, top, t) < 0 && errno != EEXIST)
                    return cgroup_fail(err, errno, op, t);
        }
    }
    if ((op->flags & MS_RDONLY) && mount_setattr_fd(top, false, MOUNT_ATTR_RDONLY, 0, 0) < 0)
        return cgroup_fail(err, errno, op, "making the tmpfs read-only");
    return 0;
}

int mount_cgroup_exec(const struct mount_exec_ctx *ctx, const struct mount_op *op, struct keel_error **err)
{
    cleanup_close int dest = mount_open_dest(ctx->rootfd, op->destination, true, err);
    if (dest < 0)
        return error_prefix(err, "mount \"%s\" to \"%s\"", op->source, op->destination);
    /* The cgroup manager's list when the lifecycle passed it; otherwise
     * our own cgroups.  In a cgroup namespace /proc/self/cgroup is relative
     * to it: no directory to bind (the mounts are fresh there). */
    struct cgroup_mount_entry *owned = NULL;
    size_t n = ctx->n_cgroup_mounts;
    const struct cgroup_mount_entry *hiers = ctx->cgroup_mounts;
    if (!hiers) {
        if (cgroup_find_mounts(!ctx->cgroupns, &owned, &n, err) < 0)
            return error_prefix(err, "mount \"%s\" to \"%s\"", op->source, op->destination);
        hiers = owned;
    }
    int rc = cgroup_mount_all(ctx, op, dest, hiers, n, err);
    cgroup_mounts_free(owned, owned ? n : 0);
    if (rc < 0)
        return -1;
    if (!(op->opts.rec_set || op->opts.rec_clr || op->opts.n_propagation))
        return 0;
    cleanup_close int top = safepath_open(ctx->rootfd, op->destination, O_PATH, 0, err);
    if (top < 0)
        return error_prefix(err, "mount \"%s\" to \"%s\"", op->source, op->destination);
    return mount_apply_after(op, top, err);
}
