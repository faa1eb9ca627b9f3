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

#endif
