/* The parent <-> init protocol of `create` (docs/protocol.md).
 *
 * One SOCK_SEQPACKET socketpair; every message is one datagram: a fixed
 * header (type, errno, payload length) then the payload.  A message may
 * carry one file descriptor (SCM_RIGHTS).  Errors in the init travel to
 * the parent as SYNC_ERROR messages holding the full text, so the user sees
 * exactly what failed inside the container's setup. */
#ifndef KEEL_SYNC_H
#define KEEL_SYNC_H

#include <stddef.h>
#include <stdint.h>

struct keel_error;

enum sync_type {
    SYNC_CONTINUE = 1,  /* parent -> init: ids mapped, cgroup joined; payload = the init's pid here */
    SYNC_HOOKS_REQUEST, /* init -> parent: mounts done, run prestart + createRuntime hooks */
    SYNC_HOOKS_DONE,    /* parent -> init: those hooks succeeded */
    SYNC_PTY,           /* init -> parent: the pty master, as the attached fd */
    SYNC_READY,         /* init -> parent: setup complete, waiting on the exec fifo */
    SYNC_ERROR,         /* either way: errno + message; the sender gives up */
    /* child -> parent, create's init and exec's process alike: the seccomp
     * listener fd attached; the parent hands it to the agent at
     * linux.seccomp.listenerPath and answers SYNC_CONTINUE (on failure it
     * kills the child).  Its own number, away from the other types. */
    SYNC_SECCOMP_LISTENER = 0x100,
};

#define SYNC_MAX_PAYLOAD (60 * 1024)

struct sync_msg {
    enum sync_type type;
    int errnum;
    char *payload; /* NUL-terminated, owned; may be empty */
    size_t len;
    int fd; /* -1 when none */
};

void sync_msg_release(struct sync_msg *m);
#define cleanup_sync_msg __attribute__((cleanup(sync_msg_release)))

const char *sync_type_name(enum sync_type t);

/* Send one message (payload may be NULL; pass_fd < 0 for none). */
int sync_send(int sock, enum sync_type type, int errnum, const char *payload, size_t len, int pass_fd,
              struct keel_error **err);
/* Send *err as a SYNC_ERROR message (best effort, for the init's last word). */
void sync_send_error(int sock, const struct keel_error *e);
/* Receive one message; EOF is an error saying the peer exited. */
int sync_recv(int sock, struct sync_msg *out, struct keel_error **err);
/* Receive and require `want`; a SYNC_ERROR becomes *err verbatim (errno kept). */
int sync_expect(int sock, enum sync_type want, struct sync_msg *out, struct keel_error **err);

/* The child's side of the seccomp listener hand-over: send notify_fd (none
 * when < 0: nothing to do) as SYNC_SECCOMP_LISTENER, close it, and wait for
 * the parent's SYNC_CONTINUE.  The child must wait: a notified call would
 * block on a listener that nobody reads until the agent has it. */
int sync_forward_seccomp_listener(int sock, int notify_fd, struct keel_error **err);

/* The parent's side, for a received SYNC_SECCOMP_LISTENER message m: connect
 * to the agent at listener_path from here (host credentials and mount
 * namespace), send m's fd with the container process state (state_json is
 * the container's state; pid > 0 is the process the fd belongs to when it
 * is not the state's own), then answer SYNC_CONTINUE. */
int sync_handover_seccomp_listener(int sock, const struct sync_msg *m, const char *listener_path,
                                   const char *metadata, long pid, const char *state_json,
                                   struct keel_error **err);

#endif
