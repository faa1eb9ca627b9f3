/* Overlay mode: a layer extracted on its own, as one lowerdir of an
 * overlayfs mount.  Removals become overlayfs whiteouts; a directory the
 * layer needs but does not list takes its attributes from the lower
 * layers, so that the merged view equals a plain extraction. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "layer_internal.h"
#include "safepath.h"
#include "xalloc.h"

#define OVERLAY_OPAQUE_XATTR "trusted.overlay.opaque"

static bool overlay_is_whiteout(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* Open the parent directory of path in one lower layer, through no symlink. */
static int overlay_open_lower_parent(int lowerfd, const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    cleanup_free char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
    struct open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, lowerfd, dir, &how, sizeof(how));
}

/* Find path in the lower layers, top first: 1 (st filled, *parent an fd
 * of its directory in that layer), 0 when absent or whited out. */
static int overlay_lookup(struct layer_ctx *ctx, const char *path, struct stat *st, int *parent,
                          const char **base)
{
    for (size_t i = 0; i < ctx->opts->n_lower; i++) {
        int dfd = overlay_open_lower_parent(ctx->opts->lower_fds[i], path, base);
        if (dfd < 0)
            continue; /* not in this layer (or not reachable as a directory) */
        if (fstatat(dfd, *base, st, AT_SYMLINK_NOFOLLOW) < 0) {
            close(dfd);
            continue;
        }
        if (overlay_is_whiteout(st)) {
            close(dfd);
            return 0;
        }
        *parent = dfd;
        return 1;
    }
    return 0;
}

static int overlay_make_dir(void *arg, int parent, const char *comp, const char *prefix,
                            struct keel_error **err)
{
    struct layer_ctx *ctx = arg;
    struct stat st;
    int lparent = -1;
    const char *base;
    int found = overlay_lookup(ctx, prefix, &st, &lparent, &base);
    if (lparent >= 0)
        close(lparent);
    if (found && S_ISLNK(st.st_mode))
        return error_set(
            err, 0, "`%s` is a symlink in a lower layer: entries are never written through symlinks", prefix);
    if (found && !S_ISDIR(st.st_mode))
        return error_set(err, 0, "`%s` is not a directory in a lower layer", prefix);
    if (mkdirat(parent, comp, found ? (st.st_mode & 07777) | 0700 : 0755) < 0 && errno != EEXIST)
        return error_set(err, errno, "creating parent directory `%s`", prefix);
    if (!found)
        return 0;
    /* The upper copy of a directory decides its attributes in the merged view. */
    cleanup_close int fd = openat(parent, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fchown(fd, st.st_uid, st.st_gid) < 0 || fchmod(fd, st.st_mode & 07777) < 0)
        return error_set(err, errno, "copying the attributes of lower directory `%s`", prefix);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    futimens(fd, ts);
    return 0;
}

int layer_overlay_init(struct layer_ctx *ctx)
{
    ctx->dirs.make_dir = overlay_make_dir;
    ctx->dirs.make_dir_arg = ctx;
    return 0;
}

int layer_overlay_set_opaque(int fd, struct keel_error **err)
{
    char path[32];
    safepath_fd_path(fd, path);
    if (setxattr(path, OVERLAY_OPAQUE_XATTR, "y", 1, 0) < 0)
        return error_set(err, errno, "marking the directory opaque (" OVERLAY_OPAQUE_XATTR ")");
    return 0;
}

int layer_overlay_whiteout(struct layer_ctx *ctx, const char *dir, const char *base, struct keel_error **err)
{
    int dirfd = layer_dirs_get(&ctx->dirs, dir, true, NULL, err);
    if (dirfd < 0)
        return -1;
    if (strcmp(base, LAYER_WHITEOUT_OPAQUE) == 0)
        return layer_overlay_set_opaque(dirfd, err);
    const char *victim = base + strlen(LAYER_WHITEOUT_PREFIX);
    cleanup_free char *path = dir[0] ? xasprintf("%s/%s", dir, victim) : xstrdup(victim);
    if (layer_seen_under(ctx, path))
        return 0; /* only lower layers are hidden */
    if (mknodat(dirfd, victim, S_IFCHR | 0000, makedev(0, 0)) < 0 && errno != EEXIST)
        return error_set(err, errno, "creating the overlay whiteout for `%s`", path);
    return 0;
}

int layer_overlay_copy_lower(struct layer_ctx *ctx, const char *target, int dirfd, const char *name,
                             struct keel_error **err)
{
    struct stat st;
    int lparent = -1;
    const char *base;
    if (!overlay_lookup(ctx, target, &st, &lparent, &base))
        return error_set(err, ENOENT, "hardlink target `%s`", target);
    cleanup_close int lp = lparent;
    if (S_ISDIR(st.st_mode))
        return error_set(err, 0, "hardlink target `%s` is a directory", target);
    if (!S_ISREG(st.st_mode))
        return error_set(err, 0, "hardlink target `%s` in a lower layer is not a regular file", target);
    /* Overlayfs cannot link across layers: the entry becomes a copy. */
    cleanup_close int in = openat(lp, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return error_set(err, errno, "opening hardlink target `%s`", target);
    if (layer_remove_at(dirfd, name, err) < 0)
        return -1;
    cleanup_close int out = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0)
        return error_set(err, errno, "creating the copy of `%s`", target);
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return error_set(err, errno, "reading `%s`", target);
        if (n == 0)
            break;
        int w = fd_write_all(out, buf, (size_t)n);
        if (w < 0)
            return error_set(err, -w, "copying `%s`", target);
    }
    if (fchown(out, st.st_uid, st.st_gid) < 0 || fchmod(out, st.st_mode & 07777) < 0)
        return error_set(err, errno, "copying the attributes of `%s`", target);
    char names[4096];
    ssize_t len = flistxattr(in, names, sizeof(names));
    for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t)strlen(names + off) + 1) {
        char value[4096];
        ssize_t vl = fgetxattr(in, names + off, value, sizeof(value));
        if (vl >= 0 && fsetxattr(out, names + off, value, (size_t)vl, 0) < 0)
            return error_set(err, errno, "copying xattr %s of `%s`", names + off, target);
    }
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    futimens(out, ts);
    return 0;
}
