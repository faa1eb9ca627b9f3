#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "mount_cgroup.h"
#include "mount_compat.h"
#include "mount_copyup.h"
#include "idmap.h"
#include "mount_exec.h"
#include "safepath.h"
#include "xalloc.h"

/* mount_setattr itself: also on a detached tree, where mount(2) cannot act. */
static int mount_setattr_tree(int fd, bool recursive, uint64_t set, uint64_t clr, uint64_t propagation)
{
    struct mount_attr attr = {.attr_set = set, .attr_clr = clr, .propagation = propagation};
    return mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof(attr));
}

int mount_setattr_fd(int fd, bool recursive, uint64_t set, uint64_t clr, uint64_t propagation)
{
    if (mount_setattr_tree(fd, recursive, set, clr, propagation) == 0)
        return 0;
    if (errno != ENOSYS)
        return -1;
    return mount_compat_setattr(fd, recursive, set, clr, propagation);
}

int mount_bind_fd(int src_dirfd, const char *src, bool recursive, uint64_t set, uint64_t clr,
                  uint64_t rec_set, uint64_t rec_clr, int dest_fd)
{
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
    if (!src[0])
        flags |= AT_EMPTY_PATH;
    cleanup_close int tree = open_tree(src_dirfd, src, flags);
    bool classic = tree < 0 && errno == ENOSYS;
    if (tree >= 0 && (set || clr || rec_set || rec_clr) && mount_compat_no_setattr())
        classic = true;
    if (classic) {
        /* open_tree follows a trailing symlink; so does this open. */
        cleanup_close int srcfd = src[0] ? openat(src_dirfd, src, O_PATH | O_CLOEXEC) : -1;
        if (src[0] && srcfd < 0)
            return -1;
        return mount_compat_bind(src[0] ? srcfd : src_dirfd, recursive, set, clr, rec_set, rec_clr, dest_fd,
                                 NULL);
    }
    if (tree < 0)
        return -1;
    if ((set || clr) && mount_setattr_tree(tree, false, set, clr, 0) < 0)
        return -1;
    if ((rec_set || rec_clr) && mount_setattr_tree(tree, true, rec_set, rec_clr, 0) < 0)
        return -1;
    return move_mount(tree, "", dest_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

#define MOUNT_MAX_LINKS 40

/* Create dest beneath rootfd one component at a time, never following a
 * symlink with the kernel: a link (even a dangling one, "/data/evil ->
 * /host/dir") is read and its target spliced into the remaining path, which
 * is then walked again from the root.  Every step is an openat of a single
 * component with O_NOFOLLOW from a directory already inside the rootfs, so
 * nothing can lead out of it; a missing component is created where the
 * link points, inside the rootfs, as runc's in-root MkdirAll does. */
static int mount_create_dest(int rootfd, const char *dest, bool dir, struct keel_error **err)
{
    cleanup_free char *path = mount_clean_path(dest);
    for (int links = 0; links <= MOUNT_MAX_LINKS; links++) {
        cleanup_close int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
            return error_set(err, errno, "opening the rootfs");
        const char *p = path + 1;
        bool relink = false;
        /* relink first: p points into the path freed on a relink */
        while (!relink && *p) {
            const char *end = strchrnul(p, '/');
            cleanup_free char *name = xstrndup(p, (size_t)(end - p));
            bool last = *end == '\0';
            int fd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0 && errno == ENOENT) {
                if (!last || dir) {
                    if (mkdirat(cur, name, 0755) < 0 && errno != EEXIST)
                        return error_set(err, errno, "creating directory `%s` of `%s`", name, path);
                } else {
                    int f = openat(cur, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                    if (f < 0 && errno != EEXIST)
                        return error_set(err, errno, "creating file `%s`", path);
                    if (f >= 0)
                        close(f);
                }
                fd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            }
            if (fd < 0)
                return error_set(err, errno, "opening `%s` of `%s`", name, path);
            struct stat st;
            if (fstat(fd, &st) < 0) {
                close(fd);
                return error_set(err, errno, "stat of `%s`", name);
            }
            if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
                close(fd);
                if (n < 0)
                    return error_set(err, errno, "reading the symlink `%s`", name);
                target[n] = '\0';
                cleanup_free char *parent = xstrndup(path, (size_t)(p - path));
                cleanup_free char *joined =
                    xasprintf("%s/%s/%s", target[0] == '/' ? "" : parent, target, end);
                free(path);
                path = mount_clean_path(joined);
                relink = true;
                continue;
            }
            if (last)
                return fd;
            if (!S_ISDIR(st.st_mode)) {
                close(fd);
                return error_set(err, ENOTDIR, "`%s` is not a directory", name);
            }
            close(cur);
            cur = fd;
            p = *end ? end + 1 : end;
        }
        if (!relink)
            return steal_fd(&cur); /* dest was "/" */
    }
    return error_set(err, ELOOP, "too many symlinks");
}

int mount_open_dest(int rootfd, const char *dest, bool dir, struct keel_error **err)
{
    int fd = safepath_open(rootfd, dest, O_PATH, 0, NULL);
    if (fd >= 0)
        return fd;
    if (errno != ENOENT)
        return error_set(err, errno, "opening the destination");
    fd = mount_create_dest(rootfd, dest, dir, err);
    if (fd < 0)
        return error_prefix(err, "creating the destination");
    return fd;
}

/* proc and sysfs go only onto a real directory: never a symlink (even one
 * pointing inside the rootfs) and never a file, so nothing the image ships
 * can make the kernel's view appear elsewhere. */
static int mount_open_real_dir(int rootfd, const char *dest, struct keel_error **err)
{
    cleanup_free char *parent = xstrdup(dest);
    char *slash = strrchr(parent, '/');
    const char *base = dest + (slash - parent) + 1;
    *slash = '\0';
    cleanup_close int pfd = -1;
    if (parent[0]) {
        pfd = mount_open_dest(rootfd, parent, true, err);
        if (pfd < 0)
            return -1;
    } else {
        pfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        if (pfd < 0)
            return error_set(err, errno, "opening the rootfs");
    }
    int fd = openat(pfd, base, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        if (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST)
            return error_set(err, errno, "creating the destination");
        fd = openat(pfd, base, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0 && (errno == ENOTDIR || errno == ELOOP))
        return error_set(err, ENOTDIR, "the destination must be a real directory, not a symlink or a file");
    if (fd < 0)
        return error_set(err, errno, "opening the destination");
    return fd;
}

static int mount_op_fail(struct keel_error **err, const struct mount_op *op)
{
    return error_prefix(err, "mount \"%s\" to \"%s\"", op->source, op->destination);
}

static int mount_op_errno(struct keel_error **err, int errnum, const struct mount_op *op, const char *step)
{
    if (step)
        return error_set(err, errnum, "mount \"%s\" to \"%s\": %s", op->source, op->destination, step);
    return error_set(err, errnum, "mount \"%s\" to \"%s\"", op->source, op->destination);
}

int mount_apply_recursive(const struct mount_op *op, int fd, struct keel_error **err)
{
    if ((op->opts.rec_set || op->opts.rec_clr) &&
        mount_setattr_fd(fd, true, op->opts.rec_set, op->opts.rec_clr, 0) < 0)
        return mount_op_errno(err, errno, op, "setting recursive attributes");
    return 0;
}

int mount_apply_propagation(const struct mount_op *op, int fd, struct keel_error **err)
{
    for (size_t i = 0; i < op->opts.n_propagation; i++) {
        unsigned long p = op->opts.propagation[i];
        if (mount_setattr_fd(fd, p & MS_REC, 0, 0, p & ~MS_REC) < 0)
            return mount_op_errno(err, errno, op, "setting propagation");
    }
    return 0;
}

int mount_apply_after(const struct mount_op *op, int fd, struct keel_error **err)
{
    if (mount_apply_recursive(op, fd, err) < 0)
        return -1;
    return mount_apply_propagation(op, fd, err);
}

static bool mount_op_needs_after(const struct mount_op *op)
{
    return op->opts.rec_set || op->opts.rec_clr || op->opts.n_propagation;
}

/* In a user namespace that does not own the network (sysfs) or IPC
 * (mqueue) namespace the kernel refuses a fresh mount; the host's one,
 * bound, is what runc and crun give instead. */
static const char *mount_userns_fallback(const struct mount_op *op)
{
    if (strcmp(op->fstype, "sysfs") == 0)
        return "/sys";
    if (strcmp(op->fstype, "mqueue") == 0)
        return "/dev/mqueue";
    return NULL;
}

static int mount_exec_fs(const struct mount_exec_ctx *ctx, const struct mount_op *op, struct keel_error **err)
{
    cleanup_close int dest = -1;
    if (op->real_dir_only)
        dest = mount_open_real_dir(ctx->rootfd, op->destination, err);
    else if (op->flags & MS_REMOUNT)
        dest = safepath_open(ctx->rootfd, op->destination, O_PATH, 0, err);
    else
        dest = mount_open_dest(ctx->rootfd, op->destination, true, err);
    if (dest < 0)
        return mount_op_fail(err, op);
    if (op->opts.tmpcopyup) {
        if (mount_copyup_tmpfs(op, dest, err) < 0)
            return mount_op_fail(err, op);
        return 0;
    }
    char target[32];
    safepath_fd_path(dest, target);
    if (mount(op->source, target, op->fstype, op->flags, op->opts.data) < 0) {
        int e = errno;
        const char *fallback = ctx->userns ? mount_userns_fallback(op) : NULL;
        if (!fallback || (e != EPERM && e != EACCES))
            return mount_op_errno(err, e, op, NULL);
        struct mount_options bind_opts = {.flags = op->flags};
        uint64_t set, clr;
        mount_options_bind_attr(&bind_opts, &set, &clr);
        if (mount_bind_fd(AT_FDCWD, fallback, true, set, clr, 0, 0, dest) < 0)
            return mount_op_errno(err, errno, op, "binding the host's instead");
    }
    if (!mount_op_needs_after(op))
        return 0;
    cleanup_close int top = safepath_open(ctx->rootfd, op->destination, O_PATH, 0, err);
    if (top < 0)
        return mount_op_fail(err, op);
    return mount_apply_after(op, top, err);
}

static int mount_exec_bind(const struct mount_exec_ctx *ctx, const struct mount_op *op,
                           struct keel_error **err)
{
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (op->opts.recursive ? AT_RECURSIVE : 0);
    /* idmapped: the parent made the detached tree (idmap.h), never a plain bind */
    int idmapped = op->opts.idmap ? idmap_mounts_fd(ctx->idmap, op->index) : -1;
    if (op->opts.idmap && idmapped < 0)
        return mount_op_errno(err, EOPNOTSUPP, op, "the idmapped tree was not prepared");
    cleanup_close int tree = op->opts.idmap ? idmapped : open_tree(AT_FDCWD, op->source, flags);
    /* Without open_tree, or without mount_setattr to set attributes on the
     * detached tree: the source itself, bound with mount(2) below. */
    bool classic = tree < 0 && errno == ENOSYS;
    bool needs_attr = mount_options_bind_needs_attr(&op->opts) || op->opts.rec_set || op->opts.rec_clr;
    if (tree >= 0 && !op->opts.idmap && needs_attr && mount_compat_no_setattr()) {
        close(steal_fd(&tree));
        classic = true;
    }
    if (classic)
        tree = open(op->source, O_PATH | O_CLOEXEC);
    if (tree < 0)
        return mount_op_errno(err, errno, op, NULL);
    struct stat st;
    if (fstat(tree, &st) < 0)
        return mount_op_errno(err, errno, op, "stat of the source");
    if (op->bind_proc_only) {
        struct statfs sfs;
        if (fstatfs(tree, &sfs) < 0)
            return mount_op_errno(err, errno, op, "statfs of the source");
        if (sfs.f_type != PROC_SUPER_MAGIC)
            return mount_op_errno(err, EPERM, op, "only procfs may be mounted below /proc");
    }
    cleanup_close int dest = mount_open_dest(ctx->rootfd, op->destination, S_ISDIR(st.st_mode), err);
    if (dest < 0)
        return mount_op_fail(err, op);
    uint64_t set, clr;
    mount_options_bind_attr(&op->opts, &set, &clr);
    if (classic) {
        cleanup_close int top = -1;
        if (mount_compat_bind(tree, op->opts.recursive, set, clr, op->opts.rec_set, op->opts.rec_clr, dest,
                              &top) < 0)
            return mount_op_errno(err, errno, op,
                                  errno == ENOSYS ? "recursive attributes on a tree with submounts need "
                                                    "mount_setattr (Linux 5.12)"
                                                  : NULL);
        return mount_apply_propagation(op, top, err);
    }
    if ((set || clr) && mount_setattr_tree(tree, false, set, clr, 0) < 0)
        return mount_op_errno(err, errno, op, "setting mount attributes");
    if ((op->opts.rec_set || op->opts.rec_clr) &&
        mount_setattr_tree(tree, true, op->opts.rec_set, op->opts.rec_clr, 0) < 0)
        return mount_op_errno(err, errno, op, "setting recursive attributes");
    if (move_mount(tree, "", dest, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return mount_op_errno(err, errno, op, NULL);
    return mount_apply_propagation(op, tree, err);
}

static int mount_exec_remount(const struct mount_exec_ctx *ctx, const struct mount_op *op,
                              struct keel_error **err)
{
    cleanup_close int dest = safepath_open(ctx->rootfd, op->destination, O_PATH, 0, err);
    if (dest < 0)
        return mount_op_fail(err, op);
    uint64_t set, clr;
    mount_options_bind_attr(&op->opts, &set, &clr);
    if ((set || clr) && mount_setattr_fd(dest, false, set, clr, 0) < 0)
        return mount_op_errno(err, errno, op, "remounting");
    return mount_apply_after(op, dest, err);
}

int mount_exec_op(const struct mount_exec_ctx *ctx, const struct mount_op *op, struct keel_error **err)
{
    switch (op->kind) {
    case MOUNT_OP_FS:
        return mount_exec_fs(ctx, op, err);
    case MOUNT_OP_BIND:
        return mount_exec_bind(ctx, op, err);
    case MOUNT_OP_REMOUNT:
        return mount_exec_remount(ctx, op, err);
    case MOUNT_OP_CGROUP:
        return mount_cgroup_exec(ctx, op, err);
    }
    return error_set(err, EINVAL, "mounts[%zu]: unknown operation", op->index);
}

int mount_exec_plan(const struct mount_exec_ctx *ctx, const struct mount_plan *plan, struct keel_error **err)
{
    for (size_t i = 0; i < plan->n_ops; i++)
        if (mount_exec_op(ctx, &plan->ops[i], err) < 0)
            return -1;
    return 0;
}
