#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "masked.h"
#include "mount_compat.h"
#include "mount_exec.h"
#include "safepath.h"

/* State of one masked_apply() call: the verified /dev/null and the
 * read-only tmpfs, each opened at most once. */
struct masked_ctx {
    int rootfd;
    int null_fd;  /* O_PATH of the container's /dev/null, checked to be 1:3 */
    int tmpfs_fd; /* the empty read-only tmpfs; attached after its first use */
    bool tmpfs_attached;
};

static int masked_open_null(struct masked_ctx *c, struct keel_error **err)
{
    if (c->null_fd >= 0)
        return 0;
    int fd = safepath_open(c->rootfd, "/dev/null", O_PATH | O_NOFOLLOW, 0, err);
    if (fd < 0)
        return error_prefix(err, "maskedPaths");
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return error_set(err, errno, "maskedPaths: stat of `/dev/null`");
    }
    if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
        close(fd);
        return error_set(err, EPERM, "maskedPaths: `/dev/null` in the container is not the null device");
    }
    c->null_fd = fd;
    return 0;
}

static int masked_tmpfs(struct masked_ctx *c, int dest)
{
    if (c->tmpfs_fd < 0) {
        cleanup_close int fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
        if (fsfd < 0 && errno == ENOSYS) {
            /* No new mount API (mount_compat.h): a tmpfs of its own per
             * directory, made read-only per mount as fsmount does. */
            char target[32];
            safepath_fd_path(dest, target);
            if (mount("none", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return -1;
            cleanup_close int top = mount_compat_reopen_top(dest);
            if (top < 0)
                return -1;
            return mount_compat_setattr(top, false, MOUNT_ATTR_RDONLY, 0, 0);
        }
        if (fsfd < 0 || fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
            return -1;
        c->tmpfs_fd = fsmount(fsfd, FSMOUNT_CLOEXEC,
                              MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (c->tmpfs_fd < 0)
            return -1;
    }
    /* The first directory takes the new mount itself; later ones clone it
     * (a detached mount cannot be cloned, an attached one can). */
    if (!c->tmpfs_attached) {
        if (move_mount(c->tmpfs_fd, "", dest, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            return -1;
        c->tmpfs_attached = true;
        return 0;
    }
    return mount_bind_fd(c->tmpfs_fd, "", false, 0, 0, 0, 0, dest);
}

static int masked_one(struct masked_ctx *c, const char *path, struct keel_error **err)
{
    cleanup_close int fd = safepath_open(c->rootfd, path, O_PATH | O_NOFOLLOW, 0, NULL);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return error_set(err, errno, "maskedPaths: opening `%s`", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        return error_set(err, errno, "maskedPaths: stat of `%s`", path);
    if (S_ISLNK(st.st_mode)) {
        /* procfs and sysfs links (/proc/net -> self/net) are the kernel's:
         * mask what they name.  Any other link comes from the image. */
        struct statfs sfs;
        if (fstatfs(fd, &sfs) < 0 || (sfs.f_type != PROC_SUPER_MAGIC && sfs.f_type != SYSFS_MAGIC))
            return error_set(err, ELOOP, "maskedPaths: `%s` is a symlink; refusing to mask what it points to",
                             path);
        close(fd);
        fd = safepath_open(c->rootfd, path, O_PATH, 0, NULL);
        if (fd < 0 || fstat(fd, &st) < 0)
            return errno == ENOENT ? 0 : error_set(err, errno, "maskedPaths: opening `%s`", path);
    }
    if (S_ISDIR(st.st_mode)) {
        if (masked_tmpfs(c, fd) < 0)
            return error_set(err, errno, "maskedPaths: mount \"tmpfs\" to \"%s\"", path);
        return 0;
    }
    if (masked_open_null(c, err) < 0)
        return -1;
    if (mount_bind_fd(c->null_fd, "", false, 0, 0, 0, 0, fd) < 0)
        return error_set(err, errno, "maskedPaths: mount \"/dev/null\" to \"%s\"", path);
    return 0;
}

int masked_apply(int rootfd, char *const *paths, struct keel_error **err)
{
    if (!paths || !paths[0])
        return 0;
    struct masked_ctx c = {.rootfd = rootfd, .null_fd = -1, .tmpfs_fd = -1};
    int rc = 0;
    for (size_t i = 0; paths[i] && rc == 0; i++)
        rc = masked_one(&c, paths[i], err);
    if (c.null_fd >= 0)
        close(c.null_fd);
    if (c.tmpfs_fd >= 0)
        close(c.tmpfs_fd);
    return rc;
}

int masked_apply_readonly(int rootfd, char *const *paths, struct keel_error **err)
{
    for (size_t i = 0; paths && paths[i]; i++) {
        cleanup_close int fd = safepath_open(rootfd, paths[i], O_PATH, 0, NULL);
        if (fd < 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                continue;
            return error_set(err, errno, "readonlyPaths: opening `%s`", paths[i]);
        }
        if (mount_bind_fd(fd, "", true, 0, 0, MOUNT_ATTR_RDONLY, 0, fd) < 0)
            return error_set(err, errno, "readonlyPaths: making `%s` read-only", paths[i]);
    }
    return 0;
}
