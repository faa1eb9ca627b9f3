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
#include "foreground.h"
#include "state.h"
#include "terminal.h"

int cmd_parse_create_options(const char *command, int argc, char **argv, struct container_create_opts *o,
                             bool *detach, bool *keep, bool *help, struct keel_error **err);

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
    int status = foreground_wait(c.pid, master, &mask, err);
    if (status < 0)
        return -1;
    if (!keep) {
        cleanup_error struct keel_error *e = NULL;
        if (container_delete(ctx, o.id, true, &e) < 0)
            log_warn(&ctx->log, "deleting container \"%s\": %s", o.id, e->msg);
    }
    return status;
}
