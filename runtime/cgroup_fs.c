/* Reading and writing cgroup files; walking and removing cgroup trees. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "runtime/cgroup_internal.h"
#include "strbuf.h"
#include "xalloc.h"

int cgfs_write(const char *dir, const char *file, const char *value, struct keel_error **err)
{
    cleanup_free char *path = xasprintf("%s/%s", dir, file);
    cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return error_set(err, ENOENT, "cgroup file `%s` does not exist", path);
        return error_set(err, errno, "opening `%s`", path);
    }
    /* cgroup files take one value per write(2); a short write is an error */
    ssize_t w = write(fd, value, strlen(value));
    if (w < 0)
        return error_set(err, errno, "writing \"%s\" to `%s`", value, path);
    return 0;
}

int cgfs_writef(const char *dir, const char *file, struct keel_error **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *value = xvasprintf(fmt, ap);
    va_end(ap);
    return cgfs_write(dir, file, value, err);
}

int cgfs_read(const char *dir, const char *file, char **out, struct keel_error **err)
{
    cleanup_free char *path = xasprintf("%s/%s", dir, file);
    return file_read_whole(path, 1 << 22, out, NULL, err);
}

int cgfs_read_u64(const char *dir, const char *file, uint64_t *out, struct keel_error **err)
{
    cleanup_free char *s = NULL;
    if (cgfs_read(dir, file, &s, err) < 0)
        return -1;
    if (strncmp(s, "max", 3) == 0) {
        *out = UINT64_MAX;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return error_set(err, EINVAL, "`%s/%s`: not a number: \"%.32s\"", dir, file, s);
    *out = v;
    return 0;
}

bool cgfs_exists(const char *dir, const char *file)
{
    cleanup_free char *path = xasprintf("%s/%s", dir, file);
    return access(path, F_OK) == 0;
}

int cgfs_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out,
                    struct keel_error **err)
{
    cleanup_free char *s = NULL;
    if (cgfs_read(dir, file, &s, err) < 0)
        return -1;
    size_t kl = strlen(key);
    for (char *line = s; line && *line;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
            *out = strtoull(line + kl + 1, NULL, 10);
            return 0;
        }
        line = nl ? nl + 1 : NULL;
    }
    return -ENOENT;
}

static void collect_one(const char *dir, pid_t **pids, size_t *n, size_t *cap)
{
    cleanup_free char *procs = NULL;
    cleanup_error struct keel_error *ignored = NULL;
    /* a cgroup removed while we walk simply has no processes */
    if (cgfs_read(dir, "cgroup.procs", &procs, &ignored) < 0)
        return;
    for (char *p = procs; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *pids = xrealloc(*pids, *cap * sizeof(**pids));
        }
        (*pids)[(*n)++] = (pid_t)v;
        p = end;
        while (*p == '\n')
            p++;
    }
}

static void collect_tree(const char *dir, pid_t **pids, size_t *n, size_t *cap)
{
    collect_one(dir, pids, n, cap);
    cleanup_dir DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        cleanup_free char *sub = xasprintf("%s/%s", dir, de->d_name);
        collect_tree(sub, pids, n, cap);
    }
}

int cgfs_collect_pids(const char *dir, pid_t **pids, size_t *n, struct keel_error **err)
{
    if (access(dir, F_OK) < 0)
        return error_set(err, errno, "cgroup `%s`", dir);
    size_t cap = 0;
    *pids = NULL;
    *n = 0;
    collect_tree(dir, pids, n, &cap);
    return 0;
}

/* rmdir the tree below dir (deepest first), then dir. */
static int remove_tree_once(const char *dir)
{
    cleanup_dir DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        cleanup_free char *sub = xasprintf("%s/%s", dir, de->d_name);
        int r = remove_tree_once(sub);
        if (r < 0)
            return r;
    }
    if (rmdir(dir) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int cgfs_remove(const char *dir, struct keel_error **err)
{
    /* Usually the cgroup has no children: one rmdir does.  cgroupfs says
     * EBUSY both for children and for processes; the walk sorts it out. */
    if (rmdir(dir) == 0 || errno == ENOENT)
        return 0;
    if (errno != EBUSY && errno != ENOTEMPTY)
        return error_set(err, errno, "removing cgroup `%s`", dir);
    /* A killed process leaves its cgroup only once the kernel has reaped it:
     * retry for up to ~5 s with a growing pause. */
    int r = 0;
    long delay_us = 1000;
    for (int attempt = 0; attempt < 60; attempt++) {
        r = remove_tree_once(dir);
        if (r != -EBUSY)
            break;
        struct timespec ts = {0, delay_us * 1000};
        nanosleep(&ts, NULL);
        if (delay_us < 100000)
            delay_us *= 2;
    }
    if (r < 0)
        return error_set(err, -r, "removing cgroup `%s`", dir);
    return 0;
}

int cgfs_signal_pids(const pid_t *pids, size_t n, int sig, struct keel_error **err)
{
    for (size_t i = 0; i < n; i++)
        if (kill(pids[i], sig) < 0 && errno != ESRCH)
            return error_set(err, errno, "sending signal %d to pid %d", sig, (int)pids[i]);
    return 0;
}
