/* keel run [create options] [-d|--detach] [--keep] ID: create + start; in
 * the foreground it forwards signals, proxies the terminal when there is
 * one, deletes the container at the end and exits with its status
 * (128+N when it was killed by signal N). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "commands.h"
#include "container.h"
#include "error.h"
#include "fileutil.h"
#include "state.h"
#include "terminal.h"

int cmd_parse_create_options(const char *command, int argc, char **argv, struct container_create_opts *o,
                             bool *detach, bool *keep, bool *help, struct keel_error **err);

static bool run_copy(int from, int to)
{
    char buf[8192];
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (n <= 0)
        return false;
    return fd_write_all(to, buf, (size_t)n) == 0;
}

static int run_wait(pid_t pid, int master, const sigset_t *mask, int *exit_status, struct keel_error **err)
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
    while (status < 0) {
        struct pollfd p[3] = {
            {sfd, POLLIN, 0}, {in_open ? 0 : -1, POLLIN, 0}, {out_open ? master : -1, POLLIN, 0}};
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents && !run_copy(0, master))
            in_open = false;
        if (p[2].revents && !run_copy(master, 1))
            out_open = false;
        if (!(p[0].revents & POLLIN))
            continue;
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) != sizeof si)
            continue;
        if (si.ssi_signo == SIGCHLD) {
            int st;
            if (waitpid(pid, &st, WNOHANG) == pid)
                status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        } else if (si.ssi_signo == SIGWINCH) {
            if (master >= 0)
                terminal_copy_winsize(0, master);
        } else {
            kill(pid, (int)si.ssi_signo);
        }
    }
    while (out_open && run_copy(master, 1))
        ;
    terminal_restore(&saved);
    *exit_status = status < 0 ? 255 : status;
    return 0;
}

int cmd_run(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    struct container_create_opts o = {0};
    bool help = false, detach = false, keep = false;
    if (cmd_parse_create_options("run", argc, argv, &o, &detach, &keep, &help, err) < 0)
        return -1;
    if (help) {
        printf("Usage: keel run [OPTIONS] ID\n\n"
               "Create and start a container; in the foreground, wait for it and exit with its status.\n\n"
               "  -b, --bundle DIR         bundle directory (default: current directory)\n"
               "  --console-socket PATH    send the pty master to this unix socket\n"
               "  --pid-file PATH          write the container's pid here\n"
               "  -d, --detach             return once the container runs\n"
               "  --keep                   do not delete the container when it exits\n"
               "  --no-pivot, --no-new-keyring, --preserve-fds N  as for create\n");
        return 0;
    }
    o.want_pty_master = !detach && !o.console_socket;
    /* Signals stay blocked (the init resets its mask) so that none is lost
     * between the clone and the forwarding loop. */
    sigset_t mask, old;
    sigfillset(&mask);
    sigdelset(&mask, SIGSEGV);
    sigdelset(&mask, SIGBUS);
    sigdelset(&mask, SIGFPE);
    sigdelset(&mask, SIGILL);
    if (!detach)
        sigprocmask(SIG_BLOCK, &mask, &old);
    struct container_created c;
    if (container_create(ctx, &o, &c, err) < 0)
        return -1;
    cleanup_close int lock = c.lock_fd;
    cleanup_close int master = c.pty_master;
    {
        cleanup_container_state struct container_state *s = NULL;
        if (state_read(lock, o.id, &s, err) < 0 || container_start_locked(ctx, lock, s, err) < 0) {
            close(steal_fd(&lock));
            container_delete(ctx, o.id, true, NULL);
            return -1;
        }
    }
    close(steal_fd(&lock));
    if (detach)
        return 0;
    int status;
    if (run_wait(c.pid, master, &mask, &status, err) < 0)
        return -1;
    if (!keep) {
        cleanup_error struct keel_error *e = NULL;
        if (container_delete(ctx, o.id, true, &e) < 0)
            log_warn(&ctx->log, "deleting container \"%s\": %s", o.id, e->msg);
    }
    return status;
}
