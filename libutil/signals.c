#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "signals.h"

/* The kernel's struct sigaction for rt_sigaction(2), whose mask is the
 * kernel's 64-bit set rather than glibc's 1024-bit sigset_t. */
struct signals_kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long mask;
};

void signals_reset_all(void)
{
    struct signals_kernel_sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.handler = SIG_DFL;
    /* SIGKILL and SIGSTOP cannot be changed; the call fails harmlessly. */
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            syscall(SYS_rt_sigaction, s, &dfl, NULL, sizeof(dfl.mask));
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}
