/* The foreground loop shared by `keel run` and `keel exec`.  Children are
 * reaped with WNOHANG before every poll, so a SIGCHLD merged with another
 * can never leave the loop waiting; the final drain of the pty stops as soon
 * as nothing more is readable, even if another process holds the slave. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "foreground.h"
#include "terminal.h"

static bool foreground_copy(int from, int to)
{
    char buf[8192];
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (n <= 0)
        return false;
    return fd_write_all(to, buf, (size_t)n) == 0;
}

int foreground_wait(pid_t pid, int master, const sigset_t *mask, struct keel_error **err)
{
    cleanup_close int sfd = signalfd(-1, mask, SFD_CLOEXEC);
    if (sfd < 0)
        return error_set(err, errno, "signalfd");
    struct terminal_saved saved = {0};
    bool in_open = master >= 0, out_open = master >= 0;
    if (master >= 0) {
        if (isatty(0)) {
            terminal_copy_winsize(0, master);
            terminal_set_raw(0, &saved, NULL);
        }
        fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    }
    int status = -1;
    for (;;) {
        int st;
        pid_t w = waitpid(-1, &st, WNOHANG);
        if (w == pid) {
            status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        if (w < 0 && errno == ECHILD)
            break;
        struct pollfd p[3] = {
            {sfd, POLLIN, 0}, {in_open ? 0 : -1, POLLIN, 0}, {out_open ? master : -1, POLLIN, 0}};
        if (poll(p, 3, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents && !foreground_copy(0, master))
            in_open = false;
        if (p[2].revents && !foreground_copy(master, 1))
            out_open = false;
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGWINCH && master >= 0)
                    terminal_copy_winsize(0, master);
                else if (si.ssi_signo != SIGCHLD)
                    kill(pid, (int)si.ssi_signo);
            }
        }
    }
    /* drain what the process wrote last */
    while (out_open && foreground_copy(master, 1)) {
        struct pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0)
            break;
    }
    terminal_restore(&saved);
    if (status < 0)
        return error_set(err, ECHILD, "lost the container process %d", (int)pid);
    return status;
}
