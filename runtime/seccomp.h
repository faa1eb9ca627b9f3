/* seccomp for keel: linux.seccomp -> compiled BPF -> loaded in the init.
 *
 * A seccomp_program is the compiled classic-BPF filter (struct sock_filter
 * array) plus the seccomp(2) filter flags and whether it has NOTIFY rules.
 * It is built once per container (create) with libseccomp, or taken from a
 * cache under the runtime root, keyed by the canonical profile, so that the
 * second container with the same profile neither loads nor runs libseccomp.  A copy is
 * saved in the container's state dir so `exec` loads the very same filter.
 *
 * Integration (lifecycle):
 *   create (parent, before clone):  seccomp_program_build(cfg->linux->seccomp,
 *       "<root>/seccomp-cache", &prog, err); seccomp_program_save(prog,
 *       state_dirfd, SECCOMP_STATE_FILE, err);
 *   init (child): seccomp_program_load(prog, &notify_fd, err) as the LAST
 *       step before exec (after caps/nnp/setuid) when process
 *       .noNewPrivileges is true; when it is false (podman's default) the
 *       kernel needs CAP_SYS_ADMIN, so load just BEFORE the capability drop.
 *       With NOTIFY (notify_fd >= 0) the fd must reach listenerPath, a HOST
 *       path: either pass the fd to the parent (`create`) over the sync
 *       socket and let it call seccomp_notify_send(), as runc does, or
 *       seccomp_notify_connect() before pivot_root and
 *       seccomp_notify_send_on() after the load.  Close the fd after.
 *   exec: seccomp_program_load_file(state_dirfd, SECCOMP_STATE_FILE, ...)
 *       then seccomp_program_load() just before exec.
 */
#ifndef KEEL_SECCOMP_H
#define KEEL_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>

struct keel_error;
struct spec_seccomp;
struct seccomp_program;

/* Name of the per-container copy in the state dir. */
#define SECCOMP_STATE_FILE "seccomp.bpf"
/* Name of the cache directory under the runtime root. */
#define SECCOMP_CACHE_DIRNAME "seccomp-cache"

/* Compile s (or fetch it from cache_dir, created if missing; NULL = no
 * cache).  Errors name the field: `linux.seccomp.syscalls[3].action: ...`.
 * Unknown syscall names are skipped; unknown actions/operators/arches/flags
 * are errors.  A cache that cannot be written is not an error. */
int seccomp_program_build(const struct spec_seccomp *s, const char *cache_dir, struct seccomp_program **out,
                          struct keel_error **err);

/* Install p on the calling thread with seccomp(2) SECCOMP_SET_MODE_FILTER
 * and p's flags (plus NEW_LISTENER when it uses NOTIFY).  *notify_fd gets
 * the listener fd (O_CLOEXEC) or -1.  The kernel requires no_new_privs or
 * CAP_SYS_ADMIN; this never sets no_new_privs (that is process
 * .noNewPrivileges' call), so without it, load BEFORE dropping
 * capabilities, as runc does; EACCES then says so. */
int seccomp_program_load(const struct seccomp_program *p, int *notify_fd, struct keel_error **err);

/* Store / read p as file `name` under dirfd (atomic write; checked read). */
int seccomp_program_save(const struct seccomp_program *p, int dirfd, const char *name,
                         struct keel_error **err);
int seccomp_program_load_file(int dirfd, const char *name, struct seccomp_program **out,
                              struct keel_error **err);

/* Send notify_fd to the agent at listener_path (SCM_RIGHTS) with the
 * container process state JSON built from state_json (the `state` object)
 * and metadata (listenerMetadata, may be NULL), as the runtime-spec says. */
int seccomp_notify_send(const char *listener_path, int notify_fd, const char *state_json,
                        const char *metadata, struct keel_error **err);

/* The same in two steps, for an init that must connect while the host path
 * is still visible (before pivot_root) and send later (after loading the
 * filter): connect, then send_on the connected socket and close it.  The
 * spec wants one state per connection. */
int seccomp_notify_connect(const char *listener_path, int *sock_out, struct keel_error **err);
int seccomp_notify_send_on(int sock, const char *listener_path, int notify_fd, const char *state_json,
                           const char *metadata, struct keel_error **err);

/* seccomp_notify_send for a process other than the state's (`exec`): the
 * container process state's pid is `pid`, its state.pid the init's. */
int seccomp_notify_send_process(const char *listener_path, int notify_fd, long pid, const char *state_json,
                                const char *metadata, struct keel_error **err);

/* The version of the libseccomp keel compiles filters with (loading it:
 * for --version and features, not for the hot paths). */
int seccomp_library_version(unsigned *major, unsigned *minor, unsigned *micro, struct keel_error **err);

/* Whether this kernel accepts a SECCOMP_FILTER_FLAG_* (for `keel features`);
 * probes without installing anything. */
bool seccomp_kernel_supports_flag(unsigned flag);

void seccomp_program_free(struct seccomp_program *p);
void seccomp_program_freep(struct seccomp_program **p);
#define cleanup_seccomp_program __attribute__((cleanup(seccomp_program_freep)))

/* Accessors. */
bool seccomp_program_uses_notify(const struct seccomp_program *p);
size_t seccomp_program_len(const struct seccomp_program *p);     /* BPF instructions */
unsigned seccomp_program_flags(const struct seccomp_program *p); /* SECCOMP_FILTER_FLAG_* */
/* True when this program came out of libseccomp's compiler in this build,
 * false when it was read from the cache or a file (tests use it to prove
 * the cache skips compilation). */
bool seccomp_program_was_compiled(const struct seccomp_program *p);

#endif
