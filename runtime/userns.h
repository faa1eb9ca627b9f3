/* User namespace id maps written for an unprivileged (rootless) keel.
 *
 * The kernel lets a process without privileges in the parent user
 * namespace write one line mapping its own euid (uid_map) or egid (gid_map,
 * after setgroups was denied).  Anything more goes through the setuid
 * helpers newuidmap/newgidmap (Debian package uidmap), which check the
 * ranges against /etc/subuid and /etc/subgid. */
#ifndef KEEL_USERNS_H
#define KEEL_USERNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spec.h"

struct keel_error;

/* True when the kernel takes `m` from this (unprivileged) process directly:
 * a single line of size 1 whose host id is `own`. */
bool userns_map_is_own_id(const struct spec_id_mapping *m, size_t n, unsigned own);

/* Write text to /proc/PID/FILE (uid_map, gid_map, setgroups) in one write,
 * as the kernel requires; the error names the file and the text. */
int userns_write_proc(pid_t pid, const char *file, const char *text, struct keel_error **err);

/* Write uid_map and gid_map of `pid` for a caller with euid != 0: directly
 * when each map is the caller's own id, through newuidmap/newgidmap
 * otherwise.  Errors name the field and carry the helper's own message. */
int userns_write_id_maps_unprivileged(pid_t pid, const struct spec_config *cfg, struct keel_error **err);

/* Creates the container process from inside a user namespace given by
 * path: a helper process joins it and calls clone_fn(arg, CLONE_PARENT,
 * err), so the namespaces made by that clone are owned by the joined user
 * namespace and the new process is still our child.  Returns its pid here,
 * 0 in the new process (like fork), -1 with *err set. */
typedef pid_t (*userns_clone_fn)(const void *arg, unsigned long extra_flags, struct keel_error **err);
pid_t userns_clone_inside(int userns_fd, userns_clone_fn clone_fn, const void *arg, struct keel_error **err);

/* True when `fd` is the user namespace this process is already in. */
bool userns_is_current(int fd);

/* The state root of an unprivileged caller without --root:
 * $XDG_RUNTIME_DIR/keel (as runc uses $XDG_RUNTIME_DIR/runc), or NULL when
 * the variable is unset or not absolute.  Caller frees. */
char *userns_rootless_state_root(void);

#endif
