/* Creating one entry of a layer: the file itself, then its owner, mode,
 * xattrs and times, in that order (chown clears setuid bits and
 * security.capability, so those come after it). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "layer_owner.h"
#include "log.h"
#include "safepath.h"
#include "xalloc.h"

int layer_remove_at(int dirfd, const char *name, struct keel_error **err)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno == EISDIR || errno == EPERM) {
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            return fs_remove_tree_at(dirfd, name, err);
    }
    return error_set(err, errno, "removing the existing `%s`", name);
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
    ts[1].tv_sec = archive_entry_mtime(e);
    ts[1].tv_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_atime_is_set(e)) {
        ts[0].tv_sec = archive_entry_atime(e);
        ts[0].tv_nsec = archive_entry_atime_nsec(e);
    } else {
        ts[0] = ts[1];
    }
}

static int entry_owner(struct layer_ctx *ctx, struct archive_entry *e, int fd, int dirfd, const char *name,
                       bool is_symlink, struct keel_error **err)
{
    la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
    if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
        return error_set(err, ERANGE, "owner %lld:%lld out of range", (long long)uid, (long long)gid);
    return layer_owner_apply(ctx->opts->owner, fd, dirfd, name, is_symlink, (uint32_t)uid, (uint32_t)gid,
                             err);
}

static int entry_xattrs(struct layer_ctx *ctx, struct archive_entry *e, int fd, int dirfd, const char *name,
                        struct keel_error **err)
{
    if (archive_entry_xattr_reset(e) == 0)
        return 0;
    char dirpath[32];
    cleanup_free char *path = NULL;
    if (fd < 0) {
        safepath_fd_path(dirfd, dirpath);
        path = xasprintf("%s/%s", dirpath, name);
    }
    const char *xname;
    const void *value;
    size_t size;
    while (archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK) {
        /* overlayfs' own attributes (opaque, redirect, metacopy) would steer
         * an overlay mount of the rootfs or of the layer cache: never taken
         * from a layer. */
        if (strncmp(xname, "trusted.overlay.", strlen("trusted.overlay.")) == 0) {
            if (ctx->opts->log)
                log_warn(ctx->opts->log, "layer %s: entry `%s`: xattr %s ignored",
                         ctx->opts->digest ? ctx->opts->digest : "", name, xname);
            continue;
        }
        /* An "empty" value still sets the attribute; a NULL one is length 0. */
        int r = fd >= 0 ? fsetxattr(fd, xname, value, size, 0) : lsetxattr(path, xname, value, size, 0);
        if (r == 0)
            continue;
        int saved = errno;
        if (layer_owner_xattr_soft(ctx->opts->owner, xname, saved)) {
            if (ctx->opts->log)
                log_warn(ctx->opts->log, "layer %s: entry `%s`: xattr %s not set: %s",
                         ctx->opts->digest ? ctx->opts->digest : "", name, xname, strerror(saved));
            continue;
        }
        return error_set(err, saved, "setting xattr %s", xname);
    }
    return 0;
}

static int entry_write_data(struct archive *a, int fd, la_int64_t size, struct keel_error **err)
{
    la_int64_t pos = 0;
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(a, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return error_set(err, archive_errno(a) > 0 ? archive_errno(a) : 0, "reading the file's data: %s",
                             archive_error_string(a));
        if (off + (la_int64_t)len > size)
            return error_set(err, 0, "data beyond the declared size of %lld bytes", (long long)size);
        if (off != pos) {
            /* A hole of a sparse entry. */
            if (lseek(fd, off, SEEK_SET) < 0)
                return error_set(err, errno, "seeking in the file");
        }
        int w = fd_write_all(fd, buf, len);
        if (w < 0)
            return error_set(err, -w, "writing the file");
        pos = off + (la_int64_t)len;
    }
    if (pos < size && ftruncate(fd, size) < 0)
        return error_set(err, errno, "extending the file to %lld bytes", (long long)size);
    return 0;
}

static int entry_make_file(struct layer_ctx *ctx, struct archive *a, struct archive_entry *e, int dirfd,
                           const char *name, struct keel_error **err)
{
    cleanup_close int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        if (layer_remove_at(dirfd, name, err) < 0)
            return -1;
        fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0)
        return error_set(err, errno, "creating the file");
    if (entry_write_data(a, fd, archive_entry_size(e), err) < 0)
        return -1;
    if (entry_owner(ctx, e, fd, dirfd, name, false, err) < 0)
        return -1;
    if (fchmod(fd, archive_entry_mode(e) & 07777) < 0)
        return error_set(err, errno, "setting the mode");
    if (entry_xattrs(ctx, e, fd, dirfd, name, err) < 0)
        return -1;
    struct timespec ts[2];
    entry_times(e, ts);
    if (futimens(fd, ts) < 0)
        return error_set(err, errno, "setting the times");
    if (close(steal_fd(&fd)) < 0)
        return error_set(err, errno, "closing the file");
    return 0;
}

static int entry_make_dir(struct layer_ctx *ctx, struct archive_entry *e, const char *path, int dirfd,
                          const char *name, struct keel_error **err)
{
    cleanup_close int fd = -1;
    if (name[0] == '\0') {
        fd = openat(ctx->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else {
        if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
            return error_set(err, errno, "creating the directory");
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
            /* Replace a non-directory (a symlink too: never write through it). */
            if (layer_remove_at(dirfd, name, err) < 0)
                return -1;
            if (mkdirat(dirfd, name, 0700) < 0)
                return error_set(err, errno, "creating the directory");
            fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            /* In an overlay layer the new directory must hide, not merge
             * with, what the lower layers have at this path. */
            if (fd >= 0 && ctx->opts->overlay && layer_overlay_set_opaque(fd, err) < 0)
                return -1;
        }
    }
    if (fd < 0)
        return error_set(err, errno, "opening the directory");
    if (entry_owner(ctx, e, fd, dirfd, name, false, err) < 0)
        return -1;
    if (entry_xattrs(ctx, e, fd, dirfd, name, err) < 0)
        return -1;
    /* Mode and times wait for the end of the layer: children change the
     * mtime, and a read-only mode would stop them being created. */
    if (ctx->n_dir_times == ctx->cap_dir_times) {
        ctx->cap_dir_times = ctx->cap_dir_times ? ctx->cap_dir_times * 2 : 64;
        ctx->dir_times = xrealloc(ctx->dir_times, ctx->cap_dir_times * sizeof(*ctx->dir_times));
    }
    struct layer_dir_times *t = &ctx->dir_times[ctx->n_dir_times++];
    t->path = xstrdup(path);
    t->mode = archive_entry_mode(e) & 07777;
    entry_times(e, t->times);
    return 0;
}

/* The last steps for an entry made by name (a symlink or a node, no fd):
 * its xattrs, then its times, without following it. */
static int entry_finish_at(struct layer_ctx *ctx, struct archive_entry *e, int dirfd, const char *name,
                           struct keel_error **err)
{
    if (entry_xattrs(ctx, e, -1, dirfd, name, err) < 0)
        return -1;
    struct timespec ts[2];
    entry_times(e, ts);
    if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return error_set(err, errno, "setting the times");
    return 0;
}

static int entry_make_symlink(struct layer_ctx *ctx, struct archive_entry *e, int dirfd, const char *name,
                              struct keel_error **err)
{
    const char *target = archive_entry_symlink(e);
    if (!target)
        target = archive_entry_symlink_utf8(e);
    if (!target || !target[0])
        return error_set(err, 0, "symlink without a target");
    /* The target is stored as is: nothing here ever follows it. */
    if (symlinkat(target, dirfd, name) < 0) {
        if (errno != EEXIST)
            return error_set(err, errno, "creating the symlink");
        if (layer_remove_at(dirfd, name, err) < 0)
            return -1;
        if (symlinkat(target, dirfd, name) < 0)
            return error_set(err, errno, "creating the symlink");
    }
    if (entry_owner(ctx, e, -1, dirfd, name, true, err) < 0)
        return -1;
    return entry_finish_at(ctx, e, dirfd, name, err);
}

static int entry_make_node(struct layer_ctx *ctx, struct archive_entry *e, mode_t type, int dirfd,
                           const char *name, struct keel_error **err)
{
    dev_t dev = type == S_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
    if (mknodat(dirfd, name, type | 0600, dev) < 0) {
        if (errno != EEXIST)
            return error_set(err, errno, "creating the %s", type == S_IFIFO ? "fifo" : "device node");
        if (layer_remove_at(dirfd, name, err) < 0)
            return -1;
        if (mknodat(dirfd, name, type | 0600, dev) < 0)
            return error_set(err, errno, "creating the %s", type == S_IFIFO ? "fifo" : "device node");
    }
    if (entry_owner(ctx, e, -1, dirfd, name, false, err) < 0)
        return -1;
    /* Just created by us, not a symlink: fchmodat's following is harmless. */
    if (fchmodat(dirfd, name, archive_entry_mode(e) & 07777, 0) < 0)
        return error_set(err, errno, "setting the mode");
    return entry_finish_at(ctx, e, dirfd, name, err);
}

/* The parent of a hardlink target: beneath the root, through no symlink. */
static int entry_open_link_parent(int rootfd, const char *dir, struct keel_error **err)
{
    struct open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall(SYS_openat2, rootfd, dir[0] ? dir : ".", &how, sizeof(how));
    if (fd < 0 && (errno == ELOOP || errno == EXDEV))
        return error_set(err, 0, "hardlink target directory `%s` goes through a symlink", dir);
    if (fd < 0)
        return error_set(err, errno, "hardlink target directory `%s`", dir);
    return fd;
}

static int entry_make_hardlink(struct layer_ctx *ctx, const char *path, const char *linkname, int dirfd,
                               const char *name, struct keel_error **err)
{
    cleanup_free char *target = NULL;
    if (layer_path_clean(linkname, &target, err) < 0)
        return error_prefix(err, "hardlink target `%s`", linkname);
    if (target[0] == '\0' || strcmp(target, path) == 0)
        return error_set(err, 0, "hardlink to `%s`: not a file of the layer", linkname);
    char *slash = strrchr(target, '/');
    const char *tbase = slash ? slash + 1 : target;
    if (slash)
        *slash = '\0';
    cleanup_close int tdir = entry_open_link_parent(ctx->rootfd, slash ? target : "", err);
    struct stat st;
    if (ctx->opts->overlay && (tdir < 0 || fstatat(tdir, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)) {
        /* Only a lower layer has it. */
        error_free(*err);
        *err = NULL;
        if (slash)
            *slash = '/';
        return layer_overlay_copy_lower(ctx, target, dirfd, name, err);
    }
    if (tdir < 0)
        return -1;
    if (fstatat(tdir, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return error_set(err, errno, "hardlink target `%s`", linkname);
    if (S_ISDIR(st.st_mode))
        return error_set(err, 0, "hardlink target `%s` is a directory", linkname);
    if (linkat(tdir, tbase, dirfd, name, 0) < 0) {
        if (errno != EEXIST)
            return error_set(err, errno, "linking to `%s`", linkname);
        struct stat cur;
        if (fstatat(dirfd, name, &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_ino == st.st_ino &&
            cur.st_dev == st.st_dev)
            return 0;
        if (layer_remove_at(dirfd, name, err) < 0)
            return -1;
        if (linkat(tdir, tbase, dirfd, name, 0) < 0)
            return error_set(err, errno, "linking to `%s`", linkname);
    }
    return 0;
}

int layer_entry_apply(struct layer_ctx *ctx, struct archive *a, struct archive_entry *e, const char *path,
                      int dirfd, const char *name, struct keel_error **err)
{
    /* In the C locale a UTF-8 (pax) name has no multibyte form: the UTF-8
     * bytes are the name, as umoci and tar write them. */
    const char *linkname = archive_entry_hardlink(e);
    if (!linkname)
        linkname = archive_entry_hardlink_utf8(e);
    if (linkname)
        return entry_make_hardlink(ctx, path, linkname, dirfd, name, err);
    mode_t type = archive_entry_filetype(e);
    if (name[0] == '\0' && type != AE_IFDIR)
        return error_set(err, 0, "the root of the layer must be a directory");
    switch (type) {
    case AE_IFREG:
        return entry_make_file(ctx, a, e, dirfd, name, err);
    case AE_IFDIR:
        return entry_make_dir(ctx, e, path, dirfd, name, err);
    case AE_IFLNK:
        return entry_make_symlink(ctx, e, dirfd, name, err);
    case AE_IFIFO:
        return entry_make_node(ctx, e, S_IFIFO, dirfd, name, err);
    case AE_IFCHR:
    case AE_IFBLK:
        if (!layer_owner_makes_devices(ctx->opts->owner)) {
            if (ctx->opts->log)
                log_warn(ctx->opts->log, "layer %s: entry `%s`: device node skipped (rootless)",
                         ctx->opts->digest ? ctx->opts->digest : "", path);
            return 0;
        }
        return entry_make_node(ctx, e, type, dirfd, name, err);
    default:
        return error_set(err, 0, "unsupported entry type 0%o", (unsigned)type);
    }
}

void layer_entry_note_dir(struct layer_ctx *ctx, int fd, const char *path)
{
    if (layer_pathset_has(&ctx->seen, path) || !layer_pathset_add(&ctx->old_seen, path))
        return;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return;
    if (ctx->n_old_times == ctx->cap_old_times) {
        ctx->cap_old_times = ctx->cap_old_times ? ctx->cap_old_times * 2 : 64;
        ctx->old_times = xrealloc(ctx->old_times, ctx->cap_old_times * sizeof(*ctx->old_times));
    }
    struct layer_dir_times *t = &ctx->old_times[ctx->n_old_times++];
    t->path = xstrdup(path);
    t->mode = 0;
    t->times[0] = st.st_atim;
    t->times[1] = st.st_mtim;
}

/* Open directory path (clean, "" = root) for setting attributes, or -1
 * with errno ENOENT when it is gone or no longer a directory. */
static int entry_open_dir(struct layer_ctx *ctx, char *path, struct keel_error **err)
{
    if (path[0] == '\0')
        return openat(ctx->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *slash = strrchr(path, '/');
    if (slash)
        *slash = '\0';
    bool missing;
    int parent = layer_dirs_get(&ctx->dirs, slash ? path : "", false, &missing, err);
    if (slash)
        *slash = '/';
    if (parent < 0) {
        if (!missing)
            return -2;
        errno = ENOENT;
        return -1;
    }
    int fd = openat(parent, slash ? slash + 1 : path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && (errno == ENOTDIR || errno == ELOOP))
        errno = ENOENT; /* replaced later in this layer */
    return fd;
}

int layer_entry_finish_dirs(struct layer_ctx *ctx, struct keel_error **err)
{
    /* Lower directories first: setting times changes no parent's mtime,
     * and a directory that is also an entry of this layer gets the entry's. */
    for (size_t i = ctx->n_old_times; i-- > 0;) {
        struct layer_dir_times *t = &ctx->old_times[i];
        if (layer_pathset_has(&ctx->seen, t->path))
            continue;
        cleanup_close int fd = entry_open_dir(ctx, t->path, err);
        if (fd == -2)
            return error_prefix(err, "entry `%s`", t->path);
        if (fd < 0 && errno == ENOENT)
            continue;
        if (fd < 0 || futimens(fd, t->times) < 0)
            return error_set(err, errno, "restoring the times of `%s`", t->path);
    }
    for (size_t i = ctx->n_dir_times; i-- > 0;) {
        struct layer_dir_times *t = &ctx->dir_times[i];
        cleanup_close int fd = entry_open_dir(ctx, t->path, err);
        if (fd == -2)
            return error_prefix(err, "entry `%s`", t->path);
        if (fd < 0 && errno == ENOENT)
            continue;
        if (fd < 0)
            return error_set(err, errno, "entry `%s`: opening the directory", t->path);
        if (fchmod(fd, layer_owner_dir_mode(ctx->opts->owner, t->mode)) < 0)
            return error_set(err, errno, "entry `%s`: setting the mode", t->path);
        if (futimens(fd, t->times) < 0)
            return error_set(err, errno, "entry `%s`: setting the times", t->path);
    }
    return 0;
}
