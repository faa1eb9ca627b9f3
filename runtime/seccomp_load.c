/* Installing a compiled program with seccomp(2), and the program object. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"
#include "seccomp_internal.h"

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif

int seccomp_program_load(const struct seccomp_program *p, int *notify_fd, struct keel_error **err)
{
    if (notify_fd)
        *notify_fd = -1;
    unsigned flags = p->flags;
    if (p->notify) {
        flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        /* TSYNC reports failure through the return value, which the
         * listener fd now occupies; the kernel wants ESRCH reporting then. */
        if (flags & SECCOMP_FILTER_FLAG_TSYNC)
            flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    }
    struct sock_fprog prog = {.len = (unsigned short)p->n_insns, .filter = p->insns};
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (r < 0) {
        int e = errno;
        if (e == EACCES && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0)
            return error_set(err, e,
                             "loading the seccomp filter (no_new_privs is off and CAP_SYS_ADMIN is gone: "
                             "load it before dropping capabilities)");
        return error_set(err, e, "loading the seccomp filter (flags %#x, %zu instructions)", flags,
                         p->n_insns);
    }
    if (p->notify) {
        if (notify_fd)
            *notify_fd = (int)r;
        else
            close((int)r);
    }
    return 0;
}

bool seccomp_kernel_supports_flag(unsigned flag)
{
    /* The kernel checks flags before it reads the program: a NULL program
     * gives EFAULT for known flags and EINVAL for unknown ones. */
    unsigned flags = flag;
    if (flag & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
        flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, NULL) < 0 && errno == EFAULT;
}

void seccomp_program_free(struct seccomp_program *p)
{
    if (p == NULL)
        return;
    free(p->insns);
    free(p);
}

void seccomp_program_freep(struct seccomp_program **p)
{
    seccomp_program_free(*p);
    *p = NULL;
}

bool seccomp_program_uses_notify(const struct seccomp_program *p)
{
    return p->notify;
}

size_t seccomp_program_len(const struct seccomp_program *p)
{
    return p->n_insns;
}

unsigned seccomp_program_flags(const struct seccomp_program *p)
{
    return p->flags;
}

bool seccomp_program_was_compiled(const struct seccomp_program *p)
{
    return p->compiled;
}
