/* `keel exec`: run a new process in a running container.
 *
 * Processes (no thread ever calls setns):
 *   keel exec (parent, stays in the host namespaces: pid file, console
 *   socket and cgroup paths are host paths)
 *     -> joiner: setns into the init's namespaces (user first, mnt last),
 *        forks the exec process (so it is inside the pid namespace), sends
 *        its pid up and exits
 *          -> process: waits for "continue" (the parent has put it into the
 *             container's cgroup), makes its terminal, applies limits,
 *             identity, the container's saved seccomp filter, and execs.
 *             A filter with NOTIFY rules gives it a new listener fd: it
 *             sends the fd up (SYNC_SECCOMP_LISTENER) and waits for
 *             "continue" while the parent, which can reach the host path
 *             linux.seccomp.listenerPath, hands it to the agent.
 *   The parent is a child subreaper, so the process becomes its child when
 *   the joiner exits: a foreground exec waits for it and exits with its
 *   status.  Errors inside travel back verbatim (sync.h messages); the
 *   socket is CLOEXEC, so EOF means the exec succeeded. */
#ifndef KEEL_EXEC_H
#define KEEL_EXEC_H

#include <stdbool.h>

#include "keel.h"

struct exec_opts {
    const char *id;
    const char *process_file; /* --process: process.json, used as is */
    char **args;              /* positional ARGS (NULL-terminated) when no --process */
    bool tty, detach, no_new_privs, ignore_paused;
    const char *pid_file, *console_socket, *cwd, *user, *apparmor, *process_label;
    char **env;             /* -e KEY=VALUE, NULL-terminated */
    char **caps;            /* --cap, NULL-terminated */
    char **additional_gids; /* --additional-gids, NULL-terminated */
    unsigned preserve_fds;
};

/* Runs the process; returns its exit status in the foreground (128+N for a
 * signal), 0 when detached, or a negative value with *err. */
int exec_container(struct keel_context *ctx, const struct exec_opts *o, struct keel_error **err);

#endif
