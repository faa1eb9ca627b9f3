#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "xalloc.h"

int fd_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t fd_read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int fd_read_whole(int fd, const char *name, size_t max, char **out, size_t *len, struct keel_error **err)
{
    size_t cap = 4096, used = 0;
    cleanup_free char *buf = xmalloc(cap);
    for (;;) {
        if (used + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t n = read(fd, buf + used, cap - used - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return error_set(err, errno, "reading `%s`", name);
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used > max)
            return error_set(err, 0, "reading `%s`: larger than the limit of %zu bytes", name, max);
    }
    buf[used] = '\0';
    if (len)
        *len = used;
    *out = steal_ptr(&buf);
    return 0;
}

int file_read_whole_at(int dirfd, const char *path, size_t max, char **out, size_t *len,
                       struct keel_error **err)
{
    cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, errno, "opening `%s`", path);
    return fd_read_whole(fd, path, max, out, len, err);
}

int file_read_whole(const char *path, size_t max, char **out, size_t *len, struct keel_error **err)
{
    return file_read_whole_at(AT_FDCWD, path, max, out, len, err);
}

int file_replace_at(int dirfd, const char *name, const char *tmp, const void *data, size_t len, mode_t mode,
                    unsigned flags, struct keel_error **err)
{
    int excl = (flags & FILE_REPLACE_EXCL) ? O_EXCL : O_TRUNC;
    cleanup_close int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | excl | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return error_set(err, errno, "creating `%s`", tmp);
    int r = fd_write_all(fd, data, len);
    if (r == 0 && (flags & FILE_REPLACE_SYNC) && fsync(fd) < 0)
        r = -errno;
    if (r == 0 && close(steal_fd(&fd)) < 0)
        r = -errno;
    if (r < 0) {
        unlinkat(dirfd, tmp, 0);
        return error_set(err, -r, "writing `%s`", tmp);
    }
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        int saved = errno;
        unlinkat(dirfd, tmp, 0);
        return error_set(err, saved, "renaming `%s` to `%s`", tmp, name);
    }
    if (!(flags & FILE_REPLACE_SYNC))
        return 0;
    /* Make the rename itself durable. */
    cleanup_free char *dir = NULL;
    const char *slash = strrchr(name, '/');
    if (slash)
        dir = xstrndup(name, slash == name ? 1 : (size_t)(slash - name));
    cleanup_close int dfd = openat(dirfd, dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        (void)fsync(dfd);
    return 0;
}

int file_write_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                         struct keel_error **err)
{
    cleanup_free char *tmp = xasprintf("%s.tmp.%d", name, (int)getpid());
    return file_replace_at(dirfd, name, tmp, data, len, mode, FILE_REPLACE_SYNC, err);
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct keel_error **err)
{
    return file_write_atomic_at(AT_FDCWD, path, data, len, mode, err);
}

int file_write_string_at(int dirfd, const char *name, const char *s, struct keel_error **err)
{
    cleanup_close int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, errno, "opening `%s`", name);
    int r = fd_write_all(fd, s, strlen(s));
    if (r < 0)
        return error_set(err, -r, "writing \"%s\" to `%s`", s, name);
    return 0;
}

int file_write_string(const char *path, const char *s, struct keel_error **err)
{
    return file_write_string_at(AT_FDCWD, path, s, err);
}

int fs_mkdir_p(const char *path, mode_t mode, struct keel_error **err)
{
    if (path[0] == '\0')
        return error_set(err, EINVAL, "mkdir: empty path");
    cleanup_free char *copy = xstrdup(path);
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, mode) < 0 && errno != EEXIST)
            return error_set(err, errno, "creating directory `%s`", copy);
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return error_set(err, errno, "stat `%s`", path);
    if (!S_ISDIR(st.st_mode))
        return error_set(err, ENOTDIR, "creating directory `%s`", path);
    return 0;
}

static int fs_remove_children(int dfd, const char *name, dev_t dev, struct keel_error **err)
{
    int dupfd = dup(dfd);
    if (dupfd < 0)
        return error_set(err, errno, "dup for `%s`", name);
    cleanup_dir DIR *d = fdopendir(dupfd);
    if (d == NULL) {
        close(dupfd);
        return error_set(err, errno, "opening directory `%s`", name);
    }
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            return error_set(err, errno, "stat `%s/%s`", name, de->d_name);
        }
        if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != dev)
                return error_set(err, EBUSY, "removing `%s/%s`: a mount point", name, de->d_name);
            cleanup_close int cfd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (cfd < 0)
                return error_set(err, errno, "opening `%s/%s`", name, de->d_name);
            cleanup_free char *child = xasprintf("%s/%s", name, de->d_name);
            if (fs_remove_children(cfd, child, dev, err) < 0)
                return -1;
            if (unlinkat(dfd, de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return error_set(err, errno, "removing directory `%s`", child);
        } else if (unlinkat(dfd, de->d_name, 0) < 0 && errno != ENOENT) {
            return error_set(err, errno, "removing `%s/%s`", name, de->d_name);
        }
    }
    if (errno != 0)
        return error_set(err, errno, "reading directory `%s`", name);
    return 0;
}

int fs_remove_tree_at(int dirfd, const char *name, struct keel_error **err)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return error_set(err, errno, "stat `%s`", name);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
            return error_set(err, errno, "removing `%s`", name);
        return 0;
    }
    cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, errno, "opening `%s`", name);
    if (fs_remove_children(fd, name, st.st_dev, err) < 0)
        return -1;
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return error_set(err, errno, "removing directory `%s`", name);
    return 0;
}

int fs_remove_tree(const char *path, struct keel_error **err)
{
    return fs_remove_tree_at(AT_FDCWD, path, err);
}

bool fs_exists(const char *path)
{
    return access(path, F_OK) == 0;
}
