/* The container's init: the child side of `create`.  It runs in the new
 * namespaces, builds the container around itself, reports every failure
 * to the parent as a SYNC_ERROR message, and finally becomes the user
 * process by exec.  See docs/protocol.md for the message order. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "error.h"
#include "hooks.h"
#include "namespaces.h"
#include "process.h"
#include "rootfs.h"
#include "seccomp.h"
#include "signals.h"
#include "state.h"
#include "sync.h"
#include "terminal.h"
#include "xalloc.h"

/* Keep an fd we still need out of the range of preserved fds (3..3+n-1). */
static int init_move_above(int fd, unsigned first_free, struct keel_error **err)
{
    if (fd < 0 || (unsigned)fd >= first_free)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, (int)first_free);
    if (nfd < 0)
        return error_set(err, errno, "moving an internal fd above the preserved ones");
    close(fd);
    return nfd;
}

/* A new network namespace starts with lo down; containers expect it up
 * (runc and crun do the same). */
static int init_loopback_up(struct keel_error **err)
{
    cleanup_close int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return error_set(err, errno, "creating a socket to bring up lo");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
        return error_set(err, errno, "reading the flags of lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
        return error_set(err, errno, "bringing up lo in the new network namespace");
    return 0;
}

static int init_set_names(const struct spec_config *cfg, const struct ns_plan *plan, struct keel_error **err)
{
    bool own_uts = plan->new_uts || plan->join_fd[SPEC_NS_UTS] >= 0;
    if (cfg->hostname && cfg->hostname[0]) {
        if (!own_uts)
            return error_set(err, 0, "hostname: setting it needs a private UTS namespace");
        if (sethostname(cfg->hostname, strlen(cfg->hostname)) < 0)
            return error_set(err, errno, "hostname: setting \"%s\"", cfg->hostname);
    }
    if (cfg->domainname && cfg->domainname[0]) {
        if (!own_uts)
            return error_set(err, 0, "domainname: setting it needs a private UTS namespace");
        if (setdomainname(cfg->domainname, strlen(cfg->domainname)) < 0)
            return error_set(err, errno, "domainname: setting \"%s\"", cfg->domainname);
    }
    return 0;
}

/* Load the filter; a notify fd goes to the parent, which hands it to the
 * agent (listenerPath is a host path, maybe root-only: we may be the mapped
 * root of a user namespace, in the container's mount namespace).  Called
 * before the capabilities are dropped without noNewPrivileges (the kernel
 * then only accepts a filter from a task with CAP_SYS_ADMIN), else after
 * them: right before exec, or, for a filter that notifies, before
 * SYNC_READY, while the parent still listens.  Clears a->seccomp: loaded. */
static int init_load_seccomp(struct init_args *a, struct keel_error **err)
{
    int notify_fd = -1;
    if (seccomp_program_load(a->seccomp, &notify_fd, err) < 0)
        return -1;
    a->seccomp = NULL;
    return sync_forward_seccomp_listener(a->sync_fd, notify_fd, err);
}

/* After `start` woke us, the fifo is empty and `start` reads it once our
 * end is closed: an error put there is the last thing it sees.  Bounded to
 * one page, the smallest pipe buffer, so the write never blocks. */
static void init_report_start_error(int fifo_fd, const struct keel_error *e)
{
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "E%d %s", e ? e->errnum : 0, error_msg(e));
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof buf ? sizeof buf - 1 : (size_t)n;
    ssize_t w;
    do
        w = write(fifo_fd, buf, len);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)len)
        dprintf(2, "keel: %s\n", error_msg(e)); /* nobody will read the fifo: the container's stderr */
}

static int init_setup(struct init_args *a, char **exe, char **hook_state, struct keel_error **err)
{
    const struct spec_config *cfg = a->cfg;
    const struct spec_process *p = cfg->process;
    unsigned first_free = 3 + a->opts->preserve_fds + a->listen_fds;

    if ((a->sync_fd = init_move_above(a->sync_fd, first_free, err)) < 0 ||
        (a->fifo_fd = init_move_above(a->fifo_fd, first_free, err)) < 0)
        return -1;

    cleanup_sync_msg struct sync_msg go = {.fd = -1};
    if (sync_expect(a->sync_fd, SYNC_CONTINUE, &go, err) < 0)
        return -1;
    {
        /* "creating" then "created": the states the hooks get on stdin. */
        struct container_state st = *a->state;
        st.pid = (pid_t)atoi(go.payload);
        cleanup_free char *creating = state_oci_json(&st, CONTAINER_CREATING, false, false);
        cleanup_free char *created = state_oci_json(&st, CONTAINER_CREATED, false, false);
        size_t l1 = strlen(creating), l2 = strlen(created);
        *hook_state = xmalloc(l1 + l2 + 2);
        memcpy(*hook_state, creating, l1 + 1);
        memcpy(*hook_state + l1 + 1, created, l2 + 1);
    }
    /* Nothing in the container may open our /proc/PID/exe (the keel
     * binary) while we run keel code; exec makes the process dumpable
     * again.  Only now: a rootless parent must first write our id maps,
     * which needs /proc/PID owned by the caller. */
    prctl(PR_SET_DUMPABLE, 0);

    if (a->plan->new_user && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
        return error_set(err, errno, "becoming root in the new user namespace");
    if (ns_join(a->plan, err) < 0 || ns_unshare_late(a->plan, cfg, err) < 0)
        return -1;
    if (init_set_names(cfg, a->plan, err) < 0)
        return -1;
    if ((a->plan->clone_flags & CLONE_NEWNET) && init_loopback_up(err) < 0)
        return -1;
    if (!a->opts->no_new_keyring) {
        /* A session keyring of its own, so containers never share keys. */
        if (syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, a->opts->id) < 0 && errno != ENOSYS &&
            errno != EPERM && errno != EACCES)
            return error_set(err, errno, "creating the session keyring");
    }

    struct rootfs_options ro = {.bundle = a->bundle,
                                .no_pivot = a->opts->no_pivot,
                                /* a joined user namespace cannot mknod either: bind the nodes */
                                .userns = a->plan->new_user || a->plan->join_fd[SPEC_NS_USER] >= 0,
                                .idmap = a->idmap,
                                /* our parent's view, unless we joined another mount namespace */
                                .rootfs = a->plan->join_fd[SPEC_NS_MOUNT] < 0 ? a->state->rootfs : NULL,
                                .cgroup_mounts = a->cgroup_mounts,
                                .n_cgroup_mounts = a->n_cgroup_mounts};
    if (rootfs_prepare(cfg, &ro, err) < 0)
        return -1;
    if (cfg->hooks.prestart.n || cfg->hooks.create_runtime.n) {
        cleanup_sync_msg struct sync_msg done = {.fd = -1};
        if (sync_send(a->sync_fd, SYNC_HOOKS_REQUEST, 0, NULL, 0, -1, err) < 0 ||
            sync_expect(a->sync_fd, SYNC_HOOKS_DONE, &done, err) < 0)
            return -1;
    }
    if (hooks_run(&cfg->hooks.create_container, "createContainer", *hook_state, err) < 0)
        return -1;
    if (rootfs_pivot(cfg, &ro, err) < 0)
        return -1;

    if (p->terminal) {
        int master, slave;
        if (terminal_open_pty(&p->console_size, &master, &slave, err) < 0)
            return -1;
        if (rootfs_bind_console(slave, err) < 0) {
            close(master);
            close(slave);
            return -1;
        }
        int r = sync_send(a->sync_fd, SYNC_PTY, 0, NULL, 0, master, err);
        close(master);
        if (r < 0 || terminal_make_controlling(slave, err) < 0)
            return -1;
        close(slave);
    } else if (setsid() < 0) {
        return error_set(err, errno, "setsid");
    }

    if (rootfs_finalize(cfg, &ro, err) < 0)
        return -1;
    if (process_apply_limits(p, cfg->linux, err) < 0)
        return -1;
    int keep[] = {a->sync_fd, a->fifo_fd};
    if (process_close_fds_keep(first_free - 3, keep, 2, err) < 0)
        return -1;
    if (process_chdir(p, err) < 0 || process_find_executable(p, exe, err) < 0 ||
        process_refuse_runtime_exe(*exe, err) < 0)
        return -1;
    if (a->seccomp && !p->no_new_privileges && init_load_seccomp(a, err) < 0)
        return -1;
    if (process_apply_identity(p, err) < 0)
        return -1;
    /* The agent must get the fd from the parent, which exits at SYNC_READY
     * (runc too loads such a filter before its pipe closes). */
    if (a->seccomp && seccomp_program_uses_notify(a->seccomp) && init_load_seccomp(a, err) < 0)
        return -1;
    return 0;
}

void init_main(struct init_args *a)
{
    cleanup_error struct keel_error *err = NULL;
    cleanup_free char *exe = NULL, *hook_state = NULL;

    close(a->lock_fd); /* the lock belongs to the parent's command */
    signals_reset_all();
    prctl(PR_SET_PDEATHSIG, SIGKILL);

    if (init_setup(a, &exe, &hook_state, &err) < 0) {
        sync_send_error(a->sync_fd, err);
        _exit(1);
    }
    /* From here the parent may exit: do not die with it. */
    prctl(PR_SET_PDEATHSIG, 0);
    if (sync_send(a->sync_fd, SYNC_READY, 0, NULL, 0, -1, &err) < 0)
        _exit(1);
    close(a->sync_fd);

    char c;
    ssize_t n;
    do
        n = read(a->fifo_fd, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        _exit(1);

    /* Errors from here on travel back to `start` through the exec fifo
     * (init_report_start_error); it waits until our end closes. */
    const char *created_state = hook_state + strlen(hook_state) + 1;
    if (hooks_run(&a->cfg->hooks.start_container, "startContainer", created_state, &err) < 0)
        goto fail;
    if (a->seccomp && init_load_seccomp(a, &err) < 0) /* noNewPrivileges: as late as possible */
        goto fail;
    char listen_fds[32], *extra_env[3] = {NULL, NULL, NULL};
    if (a->listen_fds) {
        snprintf(listen_fds, sizeof listen_fds, "LISTEN_FDS=%u", a->listen_fds);
        extra_env[0] = listen_fds;
        extra_env[1] = (char *)"LISTEN_PID=1";
    }
    process_exec(a->cfg->process, exe, extra_env, &err);
fail:
    init_report_start_error(a->fifo_fd, err);
    /* A shell's convention, which engines follow: 126 cannot run, 127 not found. */
    _exit(err && err->errnum == ENOENT ? 127 : 126);
}
