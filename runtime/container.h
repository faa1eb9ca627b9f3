/* The container lifecycle as a library: create (parent side + init),
 * start, kill, delete.  Commands (cmd_*.c) parse options and call these.
 * The status state machine lives in state.h; docs/lifecycle.md has the
 * transitions and docs/protocol.md the parent <-> init messages. */
#ifndef KEEL_CONTAINER_H
#define KEEL_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

#include "keel.h"
#include "spec.h"
#include "state.h"

struct keel_error;
struct cgroup_mount_entry;
struct idmap_mounts;
struct ns_plan;
struct seccomp_program;

struct container_create_opts {
    const char *id;
    const char *bundle; /* default: cwd */
    const char *console_socket;
    const char *pid_file;
    bool no_pivot;
    bool no_new_keyring;
    unsigned preserve_fds;
    bool want_pty_master; /* run in the foreground with a terminal: keep the master */
};

struct container_created {
    pid_t pid;
    int lock_fd;    /* the state dir, still locked */
    int pty_master; /* -1 unless want_pty_master */
};

/* Everything the init needs; it lives in the parent's memory and is
 * inherited by the clone. */
struct init_args {
    const struct spec_config *cfg;
    const struct container_create_opts *opts;
    const struct ns_plan *plan;
    const struct seccomp_program *seccomp;
    const char *bundle; /* absolute */
    int sync_fd;
    int fifo_fd;
    int lock_fd;
    const struct container_state *state; /* pid still unknown at clone time */
    unsigned listen_fds;                 /* LISTEN_FDS passed through from the caller */
    const struct idmap_mounts *idmap;    /* idmapped mount trees, inherited through the clone */
    /* the cgroup manager's hierarchies (cgroup_get_mounts()); NULL: the
     * init finds them itself (no cgroups, or a joined mount namespace) */
    const struct cgroup_mount_entry *cgroup_mounts;
    size_t n_cgroup_mounts;
};

/* The init: never returns (execs the user process or exits 1 after
 * sending its error to the parent). */
__attribute__((noreturn)) void init_main(struct init_args *a);

int container_create(struct keel_context *ctx, const struct container_create_opts *o,
                     struct container_created *out, struct keel_error **err);
/* Start a created container (dirfd locked). Runs poststart hooks. */
int container_start_locked(struct keel_context *ctx, int dirfd, const struct container_state *s,
                           struct keel_error **err);
int container_start(struct keel_context *ctx, const char *id, struct keel_error **err);
int container_kill(struct keel_context *ctx, const char *id, int sig, bool all, struct keel_error **err);
int container_delete(struct keel_context *ctx, const char *id, bool force, struct keel_error **err);

/* The status including "paused" (asks the cgroup's freezer). */
enum container_status container_status_of(int dirfd, const struct container_state *s);

/* Parse "TERM", "SIGTERM", "15"; unknown names are an error. */
int signal_parse(const char *s, int *sig, struct keel_error **err);

/* The runtime's state JSON for hooks, from a state and a status. */
int container_hooks_from_state(const struct container_state *s, struct spec_config **out,
                               struct keel_error **err);

#endif
