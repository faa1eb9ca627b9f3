/* Supervising a container process in the foreground (`keel run`, `keel
 * exec` without --detach). */
#ifndef KEEL_FOREGROUND_H
#define KEEL_FOREGROUND_H

#include <signal.h>
#include <sys/types.h>

struct keel_error;

/* Wait for pid while forwarding every signal in `mask` (blocked by the
 * caller, so none is lost) to it and, when master >= 0, proxying the
 * caller's stdin/stdout to the pty master (raw mode and window size on a
 * tty, SIGWINCH followed).  Returns the exit status, 128+N when pid was
 * killed by signal N, or -1 with err when pid could not be waited for. */
int foreground_wait(pid_t pid, int master, const sigset_t *mask, struct keel_error **err);

#endif
