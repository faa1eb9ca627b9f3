#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "mount_compat.h"
#include "mount_copyup.h"
#include "mount_exec.h"
#include "safepath.h"
#include "xalloc.h"

#define COPYUP_MAX_DEPTH 64

static int copyup_file(int sfd, int dfd, const char *name, const struct stat *st)
{
    cleanup_close int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -1;
    cleanup_close int out =
        openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st->st_mode & 07777);
    if (out < 0)
        return -1;
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 20, 0);
        if (n == 0)
            break;
        if (n > 0)
            continue;
        if (errno == EINTR)
            continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
            return -1;
        /* Across filesystems on older kernels: plain read/write. */
        char buf[65536];
        ssize_t r;
        while ((r = read(in, buf, sizeof(buf))) != 0) {
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 || write(out, buf, (size_t)r) != r)
                return -1;
        }
        break;
    }
    if (fchown(out, st->st_uid, st->st_gid) < 0 || fchmod(out, st->st_mode & 07777) < 0)
        return -1;
    return 0;
}

/* Copy the entries of directory sfd into directory dfd; on failure the
 * name of the failing entry is left in *failed. */
static int copyup_dir(int sfd, int dfd, int depth, char **failed)
{
    if (depth > COPYUP_MAX_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    int dupfd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dupfd < 0)
        return -1;
    cleanup_dir DIR *dir = fdopendir(dupfd);
    if (!dir) {
        close(dupfd);
        return -1;
    }
    struct dirent *de;
    while ((errno = 0, de = readdir(dir))) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        struct stat st;
        int rc = fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW);
        if (rc == 0 && S_ISDIR(st.st_mode)) {
            rc = mkdirat(dfd, name, st.st_mode & 07777);
            cleanup_close int s2 =
                rc == 0 ? openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
            cleanup_close int d2 =
                s2 >= 0 ? openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
            if (d2 < 0)
                rc = -1;
            if (rc == 0 && copyup_dir(s2, d2, depth + 1, failed) < 0)
                return -1;
            if (rc == 0 && (fchown(d2, st.st_uid, st.st_gid) < 0 || fchmod(d2, st.st_mode & 07777) < 0))
                rc = -1;
        } else if (rc == 0 && S_ISREG(st.st_mode)) {
            rc = copyup_file(sfd, dfd, name, &st);
        } else if (rc == 0 && S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);
            rc = n < 0 ? -1 : 0;
            if (rc == 0) {
                target[n] = '\0';
                rc = symlinkat(target, dfd, name);
            }
            if (rc == 0)
                rc = fchownat(dfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
        } else if (rc == 0 && !S_ISSOCK(st.st_mode)) {
            rc = mknodat(dfd, name, st.st_mode, st.st_rdev);
            if (rc == 0)
                rc = fchownat(dfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
        }
        if (rc < 0) {
            if (!*failed)
                *failed = xstrdup(name);
            return -1;
        }
    }
    return errno ? -1 : 0;
}

/* "size=64k,mode=755,noswap" -> fsconfig calls. */
static int copyup_configure(int fsfd, const char *data)
{
    if (!data)
        return 0;
    cleanup_free char *copy = xstrdup(data);
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        int rc;
        if (eq) {
            *eq = '\0';
            rc = fsconfig(fsfd, FSCONFIG_SET_STRING, t, eq + 1, 0);
        } else {
            rc = fsconfig(fsfd, FSCONFIG_SET_FLAG, t, NULL, 0);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Copy the covered directory src into the new tmpfs (root dst), giving the
 * tmpfs root src's owner and, unless "mode=" says otherwise, its mode. */
static int copyup_fill(const struct mount_op *op, int src, int dst, struct keel_error **err)
{
    cleanup_free char *failed = NULL;
    if (copyup_dir(src, dst, 0, &failed) < 0)
        return error_set(err, errno, "tmpcopyup: copying `%s`", failed ? failed : ".");
    struct stat st;
    bool has_mode = op->opts.data && strstr(op->opts.data, "mode=");
    if (fstat(src, &st) == 0 &&
        (fchown(dst, st.st_uid, st.st_gid) < 0 || (!has_mode && fchmod(dst, st.st_mode & 07777) < 0)))
        return error_set(err, errno, "tmpcopyup: setting the owner of the tmpfs root");
    return 0;
}

/* The options that apply once the tmpfs is attached at mfd. */
static int copyup_finish(const struct mount_op *op, int mfd, struct keel_error **err)
{
    if ((op->flags & MS_RDONLY) && mount_setattr_fd(mfd, false, MOUNT_ATTR_RDONLY, 0, 0) < 0)
        return error_set(err, errno, "tmpcopyup: making the tmpfs read-only");
    if ((op->opts.rec_set || op->opts.rec_clr) &&
        mount_setattr_fd(mfd, true, op->opts.rec_set, op->opts.rec_clr, 0) < 0)
        return error_set(err, errno, "setting recursive attributes");
    for (size_t i = 0; i < op->opts.n_propagation; i++) {
        unsigned long p = op->opts.propagation[i];
        if (mount_setattr_fd(mfd, p & MS_REC, 0, 0, p & ~MS_REC) < 0)
            return error_set(err, errno, "setting propagation");
    }
    return 0;
}

/* Without fsopen (mount_compat.h): mount(2) the tmpfs over dest, then copy
 * from the directory it covers, still reachable through a fd opened first.
 * The copy is filled in place, inside the container's mount namespace
 * before anything runs there; the result is the same. */
static int copyup_classic(const struct mount_op *op, int dest, struct keel_error **err)
{
    cleanup_close int src = openat(dest, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (src < 0)
        return error_set(err, errno, "tmpcopyup: opening the directory");
    char target[32];
    safepath_fd_path(dest, target);
    if (mount("tmpfs", target, "tmpfs", op->flags & ~(MS_RDONLY | MS_REMOUNT | MS_BIND | MS_REC),
              op->opts.data) < 0)
        return error_set(err, errno, "tmpcopyup: mounting the tmpfs (tmpfs options \"%s\")",
                         op->opts.data ? op->opts.data : "");
    cleanup_close int mfd = mount_compat_reopen_top(dest);
    if (mfd < 0)
        return error_set(err, errno, "tmpcopyup: opening the new tmpfs");
    cleanup_close int dst = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dst < 0)
        return error_set(err, errno, "tmpcopyup: opening the new tmpfs");
    if (copyup_fill(op, src, dst, err) < 0)
        return -1;
    return copyup_finish(op, mfd, err);
}

int mount_copyup_tmpfs(const struct mount_op *op, int dest, struct keel_error **err)
{
    cleanup_close int fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fsfd < 0 && errno == ENOSYS)
        return copyup_classic(op, dest, err);
    if (fsfd < 0)
        return error_set(err, errno, "tmpcopyup: fsopen");
    /* The source the config names, as mount(2) shows it in mountinfo. */
    if (op->source && op->source[0] && fsconfig(fsfd, FSCONFIG_SET_STRING, "source", op->source, 0) < 0)
        return error_set(err, errno, "tmpcopyup: source \"%s\"", op->source);
    if (copyup_configure(fsfd, op->opts.data) < 0)
        return error_set(err, errno, "tmpcopyup: tmpfs options \"%s\"", op->opts.data);
    if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return error_set(err, errno, "tmpcopyup: creating the tmpfs");
    struct mount_options flag_opts = {.flags = op->flags & ~MS_RDONLY};
    uint64_t set, clr;
    mount_options_bind_attr(&flag_opts, &set, &clr);
    cleanup_close int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, (unsigned)set);
    if (mfd < 0)
        return error_set(err, errno, "tmpcopyup: fsmount");
    cleanup_close int src = openat(dest, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cleanup_close int dst = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (src < 0 || dst < 0)
        return error_set(err, errno, "tmpcopyup: opening the directories");
    if (copyup_fill(op, src, dst, err) < 0)
        return -1;
    if (move_mount(mfd, "", dest, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return error_set(err, errno, "tmpcopyup: attaching the tmpfs");
    return copyup_finish(op, mfd, err);
}
