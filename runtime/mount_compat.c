#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileutil.h"
#include "mount_compat.h"
#include "rootfs.h"
#include "safepath.h"
#include "xalloc.h"

#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000 /* the kernel's; glibc 2.36 lacks the name */
#endif

/* The per-mount flags that MOUNT_ATTR_*, MS_* and statvfs's ST_* share. */
static const struct {
    uint64_t attr;
    unsigned long ms;
    unsigned long st;
} compat_flags[] = {
    {MOUNT_ATTR_RDONLY, MS_RDONLY, ST_RDONLY},
    {MOUNT_ATTR_NOSUID, MS_NOSUID, ST_NOSUID},
    {MOUNT_ATTR_NODEV, MS_NODEV, ST_NODEV},
    {MOUNT_ATTR_NOEXEC, MS_NOEXEC, ST_NOEXEC},
    {MOUNT_ATTR_NODIRATIME, MS_NODIRATIME, ST_NODIRATIME},
    {MOUNT_ATTR_NOSYMFOLLOW, MS_NOSYMFOLLOW, ST_NOSYMFOLLOW},
};

static int compat_mount_id(int fd, uint64_t *id)
{
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0)
        return -1;
    if (!(stx.stx_mask & STATX_MNT_ID)) {
        errno = ENOSYS;
        return -1;
    }
    *id = stx.stx_mnt_id;
    return 0;
}

/* Walk mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...".  With want != 0,
 * fill *parent and *mountpoint of mount `want`; always count the mounts
 * whose parent is `children_of` (when non-zero) in *n_children. */
static int compat_mountinfo(uint64_t want, uint64_t *parent, char **mountpoint, uint64_t children_of,
                            size_t *n_children)
{
    cleanup_free char *info = NULL;
    if (file_read_whole("/proc/self/mountinfo", 64 << 20, &info, NULL, NULL) < 0)
        return -1;
    bool found = false;
    if (n_children)
        *n_children = 0;
    for (char *save = NULL, *line = strtok_r(info, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        uint64_t id, par;
        int off = 0;
        if (sscanf(line, "%" SCNu64 " %" SCNu64 " %*s %*s %n", &id, &par, &off) != 2 || off == 0)
            continue;
        if (children_of && par == children_of && id != children_of && n_children)
            (*n_children)++;
        if (want && id == want && !found) {
            char *mp = line + off;
            char *end = strchr(mp, ' ');
            if (end)
                *end = '\0';
            rootfs_unescape_mountinfo(mp);
            *parent = par;
            *mountpoint = xstrdup(mp);
            found = true;
        }
    }
    if (want && !found) {
        errno = ENOENT;
        return -1;
    }
    return 0;
}

int mount_compat_reopen_top(int dest_fd)
{
    char self[32], path[PATH_MAX];
    safepath_fd_path(dest_fd, self);
    ssize_t n = readlink(self, path, sizeof(path) - 1);
    if (n < 0)
        return -1;
    path[n] = '\0';
    uint64_t dest_id;
    if (path[0] != '/' || compat_mount_id(dest_fd, &dest_id) < 0) {
        errno = path[0] != '/' ? EXDEV : errno;
        return -1;
    }
    cleanup_close int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    uint64_t id, parent = 0;
    cleanup_free char *mountpoint = NULL;
    if (compat_mount_id(fd, &id) < 0 || compat_mountinfo(id, &parent, &mountpoint, 0, NULL) < 0)
        return -1;
    /* The mount just made on dest: a child of dest's mount, on dest's path. */
    if (id == dest_id || parent != dest_id || strcmp(mountpoint, path) != 0) {
        errno = EXDEV;
        return -1;
    }
    return steal_fd(&fd);
}

/* Whether the mount fd is the root of has mounts below it. */
static int compat_has_submounts(int fd, bool *has)
{
    uint64_t id;
    size_t n = 0;
    if (compat_mount_id(fd, &id) < 0 || compat_mountinfo(0, NULL, NULL, id, &n) < 0)
        return -1;
    *has = n > 0;
    return 0;
}

static int compat_remount_flags(int fd, uint64_t set, uint64_t clr)
{
    struct statvfs sv;
    if (fstatvfs(fd, &sv) < 0)
        return -1;
    /* mount_setattr clears attr_clr, then sets attr_set; MS_REMOUNT|MS_BIND
     * replaces every per-mount flag, so the others are passed as they are. */
    unsigned long ms = MS_REMOUNT | MS_BIND;
    for (size_t i = 0; i < sizeof(compat_flags) / sizeof(compat_flags[0]); i++) {
        bool on = (sv.f_flag & compat_flags[i].st) && !(clr & compat_flags[i].attr);
        if (on || (set & compat_flags[i].attr))
            ms |= compat_flags[i].ms;
    }
    /* atime is one setting, always passed explicitly: with none of the
     * atime flags the kernel would keep the old one, with some it would
     * default the rest. */
    uint64_t atime;
    if (clr & MOUNT_ATTR__ATIME)
        atime = set & MOUNT_ATTR__ATIME;
    else if (sv.f_flag & ST_NOATIME)
        atime = MOUNT_ATTR_NOATIME;
    else if (sv.f_flag & ST_RELATIME)
        atime = MOUNT_ATTR_RELATIME;
    else
        atime = MOUNT_ATTR_STRICTATIME;
    ms |= atime == MOUNT_ATTR_NOATIME       ? MS_NOATIME
          : atime == MOUNT_ATTR_STRICTATIME ? MS_STRICTATIME
                                            : MS_RELATIME;
    char target[32];
    safepath_fd_path(fd, target);
    return mount(NULL, target, NULL, ms, NULL);
}

bool mount_compat_no_setattr(void)
{
    /* An fd of -1: EBADF where the syscall exists. */
    struct mount_attr attr = {0};
    return mount_setattr(-1, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0 && errno == ENOSYS;
}

int mount_compat_setattr(int fd, bool recursive, uint64_t set, uint64_t clr, uint64_t propagation)
{
    /* An idmapped mount has no mount(2) equivalent. */
    if ((set | clr) & MOUNT_ATTR_IDMAP) {
        errno = ENOSYS;
        return -1;
    }
    if (set || clr) {
        /* mount(2) remounts one mount at a time: recursive attributes are
         * the same only when there is nothing below. */
        bool has = false;
        if (recursive && compat_has_submounts(fd, &has) < 0)
            return -1;
        if (has) {
            errno = ENOSYS;
            return -1;
        }
        if (compat_remount_flags(fd, set, clr) < 0)
            return -1;
    }
    if (propagation) {
        char target[32];
        safepath_fd_path(fd, target);
        if (mount(NULL, target, NULL, propagation | (recursive ? MS_REC : 0), NULL) < 0)
            return -1;
    }
    return 0;
}

int mount_compat_bind(int src_fd, bool recursive, uint64_t set, uint64_t clr, uint64_t rec_set,
                      uint64_t rec_clr, int dest_fd, int *top)
{
    char src[32], dest[32];
    safepath_fd_path(src_fd, src);
    safepath_fd_path(dest_fd, dest);
    if (mount(src, dest, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL) < 0)
        return -1;
    if (!(set || clr || rec_set || rec_clr) && top == NULL)
        return 0;
    cleanup_close int fd = mount_compat_reopen_top(dest_fd);
    if (fd < 0)
        return -1;
    if (((set || clr) && mount_compat_setattr(fd, false, set, clr, 0) < 0) ||
        ((rec_set || rec_clr) && mount_compat_setattr(fd, true, rec_set, rec_clr, 0) < 0)) {
        /* Not left behind without the attributes asked for. */
        int e = errno;
        char self[32];
        safepath_fd_path(fd, self);
        (void)umount2(self, MNT_DETACH);
        errno = e;
        return -1;
    }
    if (top)
        *top = steal_fd(&fd);
    return 0;
}
