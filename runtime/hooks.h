/* OCI hooks: run a list with the container state on stdin.
 *
 * Each hook is spawned with exactly its args and env, its stdin a socket
 * carrying the state JSON (written with MSG_NOSIGNAL, so a hook that never
 * reads its stdin cannot kill keel with SIGPIPE), its stdout/stderr
 * captured for the error message, and its timeout enforced with SIGKILL. */
#ifndef KEEL_HOOKS_H
#define KEEL_HOOKS_H

#include "spec.h"

struct keel_error;

/* Run the hooks in order; the first failure stops and names the hook
 * (`kind` is the spec's name, "prestart", ...). */
int hooks_run(const struct spec_hook_list *list, const char *kind, const char *state_json,
              struct keel_error **err);
/* Run every hook even when some fail; failures are joined into *err (for
 * poststart/poststop, where the spec asks for a warning). Returns -1 if any failed. */
int hooks_run_all(const struct spec_hook_list *list, const char *kind, const char *state_json,
                  struct keel_error **err);

#endif
