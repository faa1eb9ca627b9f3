/* start, kill and delete: the commands that act on an existing container
 * through its state dir. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "container.h"
#include "error.h"
#include "hooks.h"
#include "json.h"
#include "state.h"
#include "xalloc.h"

static const struct {
    const char *name;
    int sig;
} signal_names[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},     {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},   {"FPE", SIGFPE},     {"KILL", SIGKILL},
    {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},     {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"POLL", SIGPOLL}, {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

int signal_parse(const char *s, int *sig, struct keel_error **err)
{
    if (isdigit((unsigned char)s[0])) {
        char *end;
        long n = strtol(s, &end, 10);
        if (*end || n <= 0 || n >= NSIG)
            return error_set(err, 0, "invalid signal \"%s\"", s);
        *sig = (int)n;
        return 0;
    }
    const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
    for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
        if (strcasecmp(name, signal_names[i].name) == 0) {
            *sig = signal_names[i].sig;
            return 0;
        }
    if (strncasecmp(name, "RTMIN", 5) == 0 || strncasecmp(name, "RTMAX", 5) == 0) {
        long off = name[5] ? strtol(name + 5, NULL, 10) : 0;
        int n = toupper((unsigned char)name[2]) == 'M' && toupper((unsigned char)name[3]) == 'I'
                    ? SIGRTMIN + (int)off
                    : SIGRTMAX + (int)off;
        if (n >= SIGRTMIN && n <= SIGRTMAX) {
            *sig = n;
            return 0;
        }
    }
    return error_set(err, 0, "unknown signal \"%s\"", s);
}

int container_hooks_from_state(const struct container_state *s, struct spec_config **out,
                               struct keel_error **err)
{
    *out = NULL;
    if (!s->hooks)
        return 0;
    /* Reuse the config parser on a document holding only the hooks. */
    yajl_gen g = json_gen_new(false);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "ociVersion", s->oci_version);
    json_gen_key(g, "root");
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "path", s->rootfs ? s->rootfs : "rootfs");
    yajl_gen_map_close(g);
    json_gen_key(g, "hooks");
    json_gen_value(g, s->hooks);
    yajl_gen_map_close(g);
    size_t len;
    cleanup_free char *text = json_gen_dup(g, &len);
    yajl_gen_free(g);
    return spec_parse_config(text, len, "state.json", out, err);
}

static int ops_load(struct keel_context *ctx, const char *id, bool exclusive, int *dirfd,
                    struct container_state **s, struct keel_error **err)
{
    *dirfd = state_dir_open(ctx->root, id, exclusive, err);
    if (*dirfd < 0)
        return -1;
    if (state_read(*dirfd, id, s, err) < 0) {
        close(*dirfd);
        *dirfd = -1;
        return -1;
    }
    return 0;
}

/* The container's init, to signal and to wait for.  A pidfd pins the
 * process, so one start-time check (state_process_alive: the pid may have
 * been reused since create) covers every later signal.  Where pidfd_open
 * answers ENOSYS (kernels < 5.3, valgrind 3.19) only the pid is left: the
 * check then runs again right before each kill(2), which narrows pid reuse
 * to the moment between the two, the most a pid allows. */
struct ops_proc {
    const struct container_state *s;
    int pidfd; /* -1 without pidfd_open */
};

static void ops_proc_release(struct ops_proc *p)
{
    if (p->pidfd >= 0)
        close(p->pidfd);
    p->pidfd = -1;
}
#define cleanup_ops_proc __attribute__((cleanup(ops_proc_release)))

/* 0, or -1 with errno (ESRCH: not the container's process any more). */
static int ops_proc_open(const struct container_state *s, struct ops_proc *p)
{
    p->s = s;
    p->pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
    if (p->pidfd < 0 && errno != ENOSYS)
        return -1;
    if (!state_process_alive(s)) {
        ops_proc_release(p);
        errno = ESRCH;
        return -1;
    }
    return 0;
}

static int ops_proc_signal(const struct ops_proc *p, int sig)
{
    if (p->pidfd >= 0)
        return (int)syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);
    if (!state_process_alive(p->s)) {
        errno = ESRCH;
        return -1;
    }
    return kill(p->s->pid, sig);
}

/* Whether the process is gone (exited: a zombie counts) within timeout_ms. */
static bool ops_proc_wait_gone(const struct ops_proc *p, int timeout_ms)
{
    if (p->pidfd >= 0) {
        struct pollfd pfd = {p->pidfd, POLLIN, 0};
        int r;
        while ((r = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
            ;
        return r != 0;
    }
    /* not our child, no pidfd: look at /proc/PID/stat every 5 ms */
    for (int waited = 0;; waited += 5) {
        if (!state_process_alive(p->s))
            return true;
        if (waited >= timeout_ms)
            return false;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Wait until the init's end of the fifo (close-on-exec, and the only
 * writer left) is gone: poll reports POLLHUP without asking for POLLIN, so
 * the wake-up byte the init has not read yet does not end the wait.  Then
 * the fifo holds nothing (the user process runs), the init's error, or our
 * unread byte (the init died before it read it). */
static int ops_wait_exec(int back, const char *id, struct keel_error **err)
{
    struct pollfd p = {back, 0, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
    char buf[4097];
    size_t len = 0;
    while (len < sizeof buf - 1) {
        ssize_t n = read(back, buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (len == 0)
        return 0;
    if (buf[0] != 'E')
        return error_set(err, 0,
                         "starting container \"%s\": its init process died before it started the "
                         "process",
                         id);
    char *msg;
    long errnum = strtol(buf + 1, &msg, 10);
    if (*msg == ' ')
        msg++;
    error_set(err, 0, "starting container \"%s\": %s", id, msg);
    if (err && *err)
        (*err)->errnum = (int)errnum;
    return -1;
}

int container_start_locked(struct keel_context *ctx, int dirfd, const struct container_state *s,
                           struct keel_error **err)
{
    enum container_status status = state_status(dirfd, s);
    if (status != CONTAINER_CREATED)
        return error_set(err, 0, "cannot start a container that is %s (it must be created)",
                         container_status_name(status));
    cleanup_close int fifo = openat(dirfd, STATE_FIFO, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fifo < 0) {
        if (errno == ENXIO)
            return error_set(err, 0, "cannot start container \"%s\": its init process is not waiting", s->id);
        return error_set(err, errno, "opening the exec fifo of container \"%s\"", s->id);
    }
    /* Our way back: the init writes its error here if the last steps fail. */
    cleanup_close int back = openat(dirfd, STATE_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (back < 0)
        return error_set(err, errno, "opening the exec fifo of container \"%s\"", s->id);
    if (unlinkat(dirfd, STATE_FIFO, 0) < 0)
        return error_set(err, errno, "removing the exec fifo of container \"%s\"", s->id);
    if (write(fifo, "0", 1) != 1)
        return error_set(err, errno, "waking the init of container \"%s\"", s->id);
    close(steal_fd(&fifo));
    if (ops_wait_exec(back, s->id, err) < 0)
        return -1;
    cleanup_spec_config struct spec_config *hooks = NULL;
    if (container_hooks_from_state(s, &hooks, err) < 0)
        return -1;
    if (hooks && hooks->hooks.poststart.n) {
        cleanup_free char *state = state_oci_json(s, CONTAINER_RUNNING, false, false);
        cleanup_error struct keel_error *e = NULL;
        if (hooks_run_all(&hooks->hooks.poststart, "poststart", state, &e) < 0)
            log_warn(&ctx->log, "%s", e->msg);
    }
    return 0;
}

int container_start(struct keel_context *ctx, const char *id, struct keel_error **err)
{
    cleanup_close int dirfd = -1;
    cleanup_container_state struct container_state *s = NULL;
    if (ops_load(ctx, id, true, &dirfd, &s, err) < 0)
        return -1;
    return container_start_locked(ctx, dirfd, s, err);
}

static int ops_load_cgroup(const struct container_state *s, struct cgroup_manager **m,
                           struct keel_error **err)
{
    *m = NULL;
    if (!s->cgroup)
        return 0;
    return cgroup_manager_load(s->cgroup, m, err);
}

int container_kill(struct keel_context *ctx, const char *id, int sig, bool all, struct keel_error **err)
{
    cleanup_close int dirfd = -1;
    cleanup_container_state struct container_state *s = NULL;
    if (ops_load(ctx, id, false, &dirfd, &s, err) < 0)
        return -1;
    enum container_status status = state_status(dirfd, s);
    if (all) {
        cleanup_cgroup_manager struct cgroup_manager *m = NULL;
        if (ops_load_cgroup(s, &m, err) < 0)
            return -1;
        if (m)
            return cgroup_kill_all(m, sig, err);
    }
    if (status == CONTAINER_STOPPED)
        return error_set(err, 0, "container \"%s\" is not running", id);
    cleanup_ops_proc struct ops_proc p = {.pidfd = -1};
    if (ops_proc_open(s, &p) < 0) {
        if (errno == ESRCH)
            return error_set(err, 0, "container \"%s\" is not running", id);
        return error_set(err, errno, "opening a pidfd for container \"%s\" (pid %d)", id, (int)s->pid);
    }
    if (ops_proc_signal(&p, sig) < 0) {
        if (errno == ESRCH)
            return error_set(err, 0, "container \"%s\" is not running", id);
        return error_set(err, errno, "sending signal %d to container \"%s\"", sig, id);
    }
    return 0;
}

/* Kill the container's processes and wait for the init to be gone. */
static int ops_kill_wait(const struct container_state *s, struct cgroup_manager *m, struct keel_error **err)
{
    cleanup_ops_proc struct ops_proc p = {.pidfd = -1};
    int opened = ops_proc_open(s, &p);
    int open_errno = errno;
    if (m && !s->pid_ns && cgroup_kill_all(m, SIGKILL, err) < 0)
        return -1;
    if (opened < 0) {
        if (open_errno == ESRCH)
            return 0;
        return error_set(err, open_errno, "opening a pidfd for container \"%s\" (pid %d)", s->id,
                         (int)s->pid);
    }
    if (ops_proc_signal(&p, SIGKILL) < 0 && errno != ESRCH)
        return error_set(err, errno, "killing container \"%s\"", s->id);
    /* A paused container: a task frozen by the v1 freezer does not act on
     * SIGKILL until it is thawed (cgroup_kill_all above thaws for itself;
     * with a pid namespace only the init was signalled, the kernel kills
     * the rest when it dies). */
    bool frozen = false;
    if (m && s->pid_ns && cgroup_is_frozen(m, &frozen, NULL) == 0 && frozen &&
        cgroup_freeze(m, false, err) < 0)
        return error_prefix(err, "thawing paused container \"%s\" to kill it", s->id);
    if (!ops_proc_wait_gone(&p, 10000))
        return error_set(err, ETIMEDOUT, "waiting for container \"%s\" to die", s->id);
    return 0;
}

int container_delete(struct keel_context *ctx, const char *id, bool force, struct keel_error **err)
{
    cleanup_close int dirfd = state_dir_open(ctx->root, id, true, err);
    if (dirfd < 0)
        return -1;
    cleanup_container_state struct container_state *s = NULL;
    cleanup_error struct keel_error *read_err = NULL;
    if (state_read(dirfd, id, &s, &read_err) < 0) {
        if (!force) {
            *err = steal_ptr(&read_err);
            return -1;
        }
        /* Damaged state.json: the copy create linked before it made the
         * cgroup still names the process and the cgroup.  Without it, a
         * create died before anything ran. */
        if (state_read_file(dirfd, id, STATE_RECOVERY_FILE, &s, NULL) < 0)
            return state_dir_remove(ctx->root, id, err);
        log_warn(&ctx->log, "%s; cleaning up from `%s`", read_err->msg, STATE_RECOVERY_FILE);
    }
    enum container_status status = state_status(dirfd, s);
    if (status != CONTAINER_STOPPED && status != CONTAINER_CREATED && !force)
        return error_set(err, 0, "cannot delete container \"%s\" that is not stopped: %s (use --force)", id,
                         container_status_name(status));
    cleanup_cgroup_manager struct cgroup_manager *m = NULL;
    if (ops_load_cgroup(s, &m, err) < 0)
        return -1;
    if (status != CONTAINER_STOPPED && ops_kill_wait(s, m, err) < 0)
        return -1;
    if (m && cgroup_destroy(m, err) < 0)
        return -1;
    cleanup_spec_config struct spec_config *hooks = NULL;
    cleanup_error struct keel_error *hook_err = NULL;
    if (container_hooks_from_state(s, &hooks, &hook_err) == 0 && hooks && hooks->hooks.poststop.n) {
        cleanup_free char *state = state_oci_json(s, CONTAINER_STOPPED, false, false);
        if (hooks_run_all(&hooks->hooks.poststop, "poststop", state, &hook_err) < 0)
            log_warn(&ctx->log, "%s", hook_err->msg);
    } else if (hook_err) {
        log_warn(&ctx->log, "%s", hook_err->msg);
    }
    return state_dir_remove(ctx->root, id, err);
}

enum container_status container_status_of(int dirfd, const struct container_state *s)
{
    enum container_status st = state_status(dirfd, s);
    if (st == CONTAINER_RUNNING && s->cgroup) {
        cleanup_cgroup_manager struct cgroup_manager *m = NULL;
        bool frozen = false;
        if (cgroup_manager_load(s->cgroup, &m, NULL) == 0 && cgroup_is_frozen(m, &frozen, NULL) == 0 &&
            frozen)
            st = CONTAINER_PAUSED;
    }
    return st;
}
