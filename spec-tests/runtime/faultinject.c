/* LD_PRELOAD shim for the fault-injection tests (test_faults.py): counts
 * the calls of one class of operations and, at the Nth one, kills the
 * calling process with SIGKILL or makes the call fail with an errno.
 *
 *   FAULT_CLASS   mount (mount, umount2), clone (clone3/clone/fork),
 *                 cgwrite (write to a file under /sys/fs/cgroup),
 *                 mkdir (mkdir, mkdirat), open (open/openat of a path
 *                 containing FAULT_MATCH), pivot (pivot_root)
 *   FAULT_N       which call (1 = the first)
 *   FAULT_ACTION  kill (default) or fail
 *   FAULT_ERRNO   errno for fail (default EIO)
 *   FAULT_LOG     file that gets a line "PID CLASS N" per counted call
 *
 * The count lives in each process and is inherited across fork/clone, so a
 * container init counts on from where its parent was.  Build:
 *   cc -shared -fPIC -O2 -o faultinject.so faultinject.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static long fault_n = -1;
static long fault_count;
static int fault_fail;
static int fault_errno = EIO;
static const char *fault_class;
static const char *fault_match;
static const char *fault_log;

__attribute__((constructor)) static void fault_init(void)
{
    const char *n = getenv("FAULT_N");
    fault_class = getenv("FAULT_CLASS");
    fault_match = getenv("FAULT_MATCH");
    fault_log = getenv("FAULT_LOG");
    if (n)
        fault_n = strtol(n, NULL, 10);
    const char *a = getenv("FAULT_ACTION");
    fault_fail = a && strcmp(a, "fail") == 0;
    const char *e = getenv("FAULT_ERRNO");
    if (e)
        fault_errno = (int)strtol(e, NULL, 10);
}

/* Returns 1 when the call must fail (errno set). */
static int fault_hit(const char *cls)
{
    if (!fault_class || strcmp(fault_class, cls) != 0)
        return 0;
    fault_count++;
    if (fault_log) {
        int saved = errno;
        int fd =
            (int)syscall(SYS_openat, AT_FDCWD, fault_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            char line[96];
            int len = snprintf(line, sizeof line, "%d %s %ld\n", (int)getpid(), cls, fault_count);
            (void)!syscall(SYS_write, fd, line, (size_t)len);
            syscall(SYS_close, fd);
        }
        errno = saved;
    }
    if (fault_count != fault_n)
        return 0;
    if (!fault_fail) {
        /* The init of a pid namespace cannot SIGKILL itself: a signal from
         * inside its namespace is dropped.  Dying at once is the same to
         * its parent. */
        if (getpid() == 1)
            syscall(SYS_exit_group, 137);
        syscall(SYS_kill, getpid(), SIGKILL);
        for (;;)
            pause();
    }
    errno = fault_errno;
    return 1;
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

int mount(const char *src, const char *dst, const char *type, unsigned long flags, const void *data)
{
    if (fault_hit("mount"))
        return -1;
    return REAL(mount)(src, dst, type, flags, data);
}

int umount2(const char *target, int flags)
{
    if (fault_hit("mount"))
        return -1;
    return REAL(umount2)(target, flags);
}

pid_t fork(void)
{
    if (fault_hit("clone"))
        return -1;
    return REAL(fork)();
}

long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if ((nr == SYS_clone3 || nr == SYS_clone) && fault_hit("clone"))
        return -1;
    if (nr == SYS_pivot_root && fault_hit("pivot"))
        return -1;
    if (nr == SYS_mount_setattr || nr == SYS_move_mount || nr == SYS_open_tree || nr == SYS_fsmount) {
        if (fault_hit("mount"))
            return -1;
    }
    /* The child of a clone returns here with a fresh stack: the raw
     * syscall must be made from this frame, which works for clone3 because
     * the kernel returns to the same instruction in both processes and the
     * child keeps a copy of this stack (no new stack is given). */
    return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int pivot_root(const char *new_root, const char *put_old)
{
    if (fault_hit("pivot"))
        return -1;
    return REAL(pivot_root)(new_root, put_old);
}

int mkdir(const char *path, mode_t mode)
{
    if (fault_hit("mkdir"))
        return -1;
    return REAL(mkdir)(path, mode);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
    if (fault_hit("mkdir"))
        return -1;
    return REAL(mkdirat)(dirfd, path, mode);
}

static int open_matches(const char *path)
{
    return fault_match && path && strstr(path, fault_match) && fault_hit("open");
}

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (open_matches(path))
        return -1;
    return REAL(open)(path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (open_matches(path))
        return -1;
    return REAL(openat)(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

static int fd_in_cgroupfs(int fd)
{
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0)
        return 0;
    target[n] = '\0';
    return strncmp(target, "/sys/fs/cgroup/", 15) == 0;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    if (fault_class && strcmp(fault_class, "cgwrite") == 0 && fd_in_cgroupfs(fd) && fault_hit("cgwrite"))
        return -1;
    return REAL(write)(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    if (fault_class && strcmp(fault_class, "cgwrite") == 0 && fd_in_cgroupfs(fd) && fault_hit("cgwrite"))
        return -1;
    return REAL(pwrite)(fd, buf, len, off);
}
