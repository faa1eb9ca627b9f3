#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "safepath.h"
#include "xalloc.h"

#define SAFEPATH_MAX_SYMLINKS 40
#define SAFEPATH_MAX_DEPTH 256

static int safepath_openat2(int dirfd, const char *path, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (unsigned long long)(flags | O_CLOEXEC),
        .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int fd;
    do
        fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN);
    return fd;
}

/* Push the '/'-separated components of s (in order) onto the front of the
 * pending list, which is kept reversed so the next component is last. */
static void safepath_push_components(char ***pending, size_t *n, size_t *cap, const char *s)
{
    cleanup_free char *copy = xstrdup(s);
    char *parts[PATH_MAX / 2];
    size_t count = 0;
    for (char *save = NULL, *tok = strtok_r(copy, "/", &save); tok && count < PATH_MAX / 2;
         tok = strtok_r(NULL, "/", &save))
        parts[count++] = tok;
    while (count > 0) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *pending = xrealloc(*pending, *cap * sizeof(char *));
        }
        (*pending)[(*n)++] = xstrdup(parts[--count]);
    }
}

static void safepath_close_stack(int *stack, size_t depth)
{
    for (size_t i = 0; i < depth; i++)
        if (stack[i] >= 0)
            close(stack[i]);
}

int safepath_open_walk(int rootfd, const char *path, int flags, mode_t mode, struct keel_error **err)
{
    /* stack[0] is the root; stack[depth-1] is the directory reached so far. */
    int stack[SAFEPATH_MAX_DEPTH];
    size_t depth = 1;
    stack[0] = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (stack[0] < 0)
        return error_set(err, errno, "opening root for `%s`", path);
    char **pending = NULL;
    size_t n = 0, cap = 0;
    safepath_push_components(&pending, &n, &cap, path);
    int links = 0, result = -1;
    bool failed = false;

    while (n > 0) {
        cleanup_free char *comp = pending[--n];
        if (strcmp(comp, ".") == 0)
            continue;
        if (strcmp(comp, "..") == 0) {
            if (depth > 1)
                close(stack[--depth]);
            continue;
        }
        int cur = stack[depth - 1];
        bool last = (n == 0);
        if (last) {
            /* Follow a symlink in the last component unless asked not to. */
            struct stat st;
            if (!(flags & O_NOFOLLOW) && fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(st.st_mode)) {
                goto expand_link;
            }
            result = openat(cur, comp, flags | O_CLOEXEC | O_NOFOLLOW, mode);
            if (result < 0 && errno == ELOOP && (flags & O_NOFOLLOW) && (flags & O_PATH))
                result = openat(cur, comp, flags | O_CLOEXEC, mode);
            if (result < 0)
                {
                failed = true;
                error_set(err, errno, "opening `%s` beneath the root", path);
            }
            break;
        }
        {
            int fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) {
                failed = true;
                error_set(err, errno, "resolving `%s` beneath the root", path);
                break;
            }
            struct stat st;
            if (fstat(fd, &st) < 0) {
                close(fd);
                failed = true;
                error_set(err, errno, "stat on a component of `%s`", path);
                break;
            }
            if (S_ISDIR(st.st_mode)) {
                if (depth == SAFEPATH_MAX_DEPTH) {
                    close(fd);
                    failed = true;
                    error_set(err, ENAMETOOLONG, "resolving `%s` beneath the root", path);
                    break;
                }
                stack[depth++] = fd;
                continue;
            }
            close(fd);
            if (!S_ISLNK(st.st_mode)) {
                failed = true;
                error_set(err, ENOTDIR, "resolving `%s` beneath the root", path);
                break;
            }
        }
    expand_link : {
        if (++links > SAFEPATH_MAX_SYMLINKS) {
            failed = true;
            error_set(err, ELOOP, "resolving `%s` beneath the root", path);
            break;
        }
        char target[PATH_MAX];
        ssize_t len = readlinkat(cur, comp, target, sizeof(target) - 1);
        if (len < 0) {
            failed = true;
            error_set(err, errno, "reading symlink in `%s`", path);
            break;
        }
        target[len] = '\0';
        if (target[0] == '/') {
            safepath_close_stack(stack + 1, depth - 1);
            depth = 1;
        }
        safepath_push_components(&pending, &n, &cap, target);
        if (n == 0) {
            /* A link to "/" (or to nothing): the result is the current dir. */
            safepath_push_components(&pending, &n, &cap, ".");
        }
    }
    }
    if (!failed && result < 0) {
        /* Path resolved to a directory already on the stack ("/", "a/.."). */
        int flags2 = flags & ~(O_CREAT | O_EXCL | O_TRUNC);
        result = openat(stack[depth - 1], ".", flags2 | O_CLOEXEC);
        if (result < 0)
            error_set(err, errno, "opening `%s` beneath the root", path);
    }
    while (n > 0)
        free(pending[--n]);
    free(pending);
    safepath_close_stack(stack, depth);
    return result;
}

int safepath_open(int rootfd, const char *path, int flags, mode_t mode, struct keel_error **err)
{
    int fd = safepath_openat2(rootfd, path, flags, mode);
    if (fd >= 0)
        return fd;
    if (errno == ENOSYS || errno == E2BIG || errno == EPERM)
        return safepath_open_walk(rootfd, path, flags, mode, err);
    return error_set(err, errno, "opening `%s` beneath the root", path);
}

int safepath_mkdir_p(int rootfd, const char *path, mode_t mode, struct keel_error **err)
{
    cleanup_free char *copy = xstrdup(path);
    int cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return error_set(err, errno, "opening root for `%s`", path);
    struct strbuf_like {
        char buf[PATH_MAX];
        size_t len;
    } prefix = {.len = 0};
    for (char *save = NULL, *tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        size_t tl = strlen(tok);
        if (prefix.len + tl + 2 >= sizeof(prefix.buf)) {
            close(cur);
            return error_set(err, ENAMETOOLONG, "creating `%s`", path);
        }
        prefix.buf[prefix.len++] = '/';
        memcpy(prefix.buf + prefix.len, tok, tl + 1);
        prefix.len += tl;
        int next = safepath_open(rootfd, prefix.buf, O_PATH | O_DIRECTORY, 0, NULL);
        if (next < 0) {
            if (mkdirat(cur, tok, mode) < 0 && errno != EEXIST) {
                int saved = errno;
                close(cur);
                return error_set(err, saved, "creating directory `%s` beneath the root", prefix.buf);
            }
            next = safepath_open(rootfd, prefix.buf, O_PATH | O_DIRECTORY, 0, err);
            if (next < 0) {
                close(cur);
                return error_prefix(err, "creating directory `%s`", path);
            }
        }
        close(cur);
        cur = next;
    }
    return cur;
}

int safepath_mkpath(int rootfd, const char *path, bool dir, mode_t mode, struct keel_error **err)
{
    if (dir)
        return safepath_mkdir_p(rootfd, path, mode, err);
    cleanup_free char *copy = xstrdup(path);
    char *slash = strrchr(copy, '/');
    const char *base = copy;
    if (slash) {
        *slash = '\0';
        base = slash + 1;
        if (copy[0] != '\0') {
            cleanup_close int parent = safepath_mkdir_p(rootfd, copy, 0755, err);
            if (parent < 0)
                return -1;
        }
        *slash = '/';
    }
    if (base[0] == '\0')
        return error_set(err, EINVAL, "creating file `%s`: path ends in '/'", path);
    int fd = safepath_open(rootfd, path, O_PATH, 0, NULL);
    if (fd >= 0)
        return fd;
    cleanup_close int created = safepath_open(rootfd, path, O_CREAT | O_WRONLY | O_NOFOLLOW, mode, err);
    if (created < 0)
        return error_prefix(err, "creating file");
    return safepath_open(rootfd, path, O_PATH, 0, err);
}

void safepath_fd_path(int fd, char buf[static 32])
{
    snprintf(buf, 32, "/proc/self/fd/%d", fd);
}
