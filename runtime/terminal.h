/* Terminals: the container's pty (made inside its own devpts), the
 * --console-socket hand-over (SCM_RIGHTS, as runc and conmon expect), and
 * the interactive proxy of `run` on the caller's tty. */
#ifndef KEEL_TERMINAL_H
#define KEEL_TERMINAL_H

#include <stdbool.h>

#include "spec.h"

struct keel_error;

/* Open a new pty from /dev/ptmx of the current root; sets the size when
 * given.  *master and *slave are CLOEXEC. */
int terminal_open_pty(const struct spec_console_size *size, int *master, int *slave, struct keel_error **err);
/* Make slave the controlling terminal and stdin/stdout/stderr of a new session. */
int terminal_make_controlling(int slave, struct keel_error **err);
/* Connect to the unix socket at path and send fd over it (payload: name). */
int terminal_send_fd(const char *path, int fd, const char *name, struct keel_error **err);
/* Receive one fd sent with SCM_RIGHTS on a connected socket (tests, exec). */
int terminal_recv_fd(int sock, int *fd, struct keel_error **err);

/* The caller's tty in raw mode while proxying; restored by terminal_restore. */
struct terminal_saved {
    bool active;
    int fd;
    char termios[64]; /* struct termios, opaque here */
};
int terminal_set_raw(int fd, struct terminal_saved *saved, struct keel_error **err);
void terminal_restore(struct terminal_saved *saved);
/* Copy the window size of from_fd onto the pty master. */
void terminal_copy_winsize(int from_fd, int master);

#endif
