/* The attributes of a container process (config.json "process"), applied
 * by the init (and by `exec`) just before exec.  Order matters and is
 * fixed here: limits and scheduling first (they may need privileges), then
 * identity (groups, gid, uid with caps kept), then the capability sets and
 * no_new_privs, then the working directory, then exec. */
#ifndef KEEL_PROCESS_H
#define KEEL_PROCESS_H

#include <stdbool.h>

#include "spec.h"

struct keel_error;

/* rlimits, oomScoreAdj, scheduler, ioPriority, execCPUAffinity.initial,
 * linux.personality, and the apparmor/selinux checks. */
int process_apply_limits(const struct spec_process *p, const struct spec_linux *l, struct keel_error **err);
/* Check every capability name (an unknown one is an error naming it). */
int process_check_caps(const struct spec_capabilities *c, struct keel_error **err);
/* Bounding set, groups/gid/uid, the other capability sets, ambient,
 * noNewPrivileges, umask. */
int process_apply_identity(const struct spec_process *p, struct keel_error **err);
/* chdir to process.cwd inside the (already pivoted) root, creating it when
 * missing, and refuse a cwd that resolves outside the root. */
int process_chdir(const struct spec_process *p, struct keel_error **err);
/* Close every fd >= 3 + n_preserve except keep_a and keep_b (which must be
 * CLOEXEC); clear CLOEXEC on the preserved ones. */
int process_close_fds(unsigned n_preserve, int keep_a, int keep_b, struct keel_error **err);
/* The same with up to 8 fds to keep (-1 entries are ignored). */
int process_close_fds_keep(unsigned n_preserve, const int *keep, size_t n_keep, struct keel_error **err);
/* Resolve args[0] through PATH from the process env (as runc does); the
 * result is malloc'ed.  "executable file not found in $PATH" otherwise. */
int process_find_executable(const struct spec_process *p, char **out, struct keel_error **err);
/* Refuse to exec the keel binary itself (directly or as a script's
 * interpreter): the CVE-2019-5736 guard, see docs/lifecycle.md. */
int process_refuse_runtime_exe(const char *path, struct keel_error **err);
/* execCPUAffinity.final (when set) and execve; returns only on failure. */
int process_exec(const struct spec_process *p, const char *path, char **extra_env, struct keel_error **err);

/* Parse a cpu list "0-3,7" into a cpu_set_t-sized mask (exported for tests). */
int process_parse_cpu_list(const char *s, void *cpuset, unsigned long size, struct keel_error **err);

#endif
