/* The parent side of `create`: validate, lock the state dir, clone the
 * init into its namespaces, map ids, put it in its cgroup, answer its
 * requests (hooks, pty), and record the state once it reports ready.
 * Any failure removes everything made so far. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "container.h"
#include "error.h"
#include "exec_internal.h"
#include "fileutil.h"
#include "hooks.h"
#include "idmap.h"
#include "json.h"
#include "namespaces.h"
#include "process.h"
#include "rootfs.h"
#include "seccomp.h"
#include "state.h"
#include "sync.h"
#include "terminal.h"
#include "xalloc.h"

struct create_job {
    struct keel_context *ctx;
    const struct container_create_opts *o;
    struct spec_config *cfg;
    struct ns_plan plan;
    struct cgroup_manager *cgroup;
    struct cgroup_mount_entry *cgroup_mounts; /* for the init's "cgroup" mounts, or NULL */
    size_t n_cgroup_mounts;
    struct seccomp_program *seccomp;
    struct container_state st;
    int dirfd, sock, fifo, pty;
    pid_t pid;
    bool cgroup_entered;
};

/* Undo whatever the job made; safe at any stage. */
static void create_job_abort(struct create_job *j)
{
    if (j->pid > 0) {
        kill(j->pid, SIGKILL);
        while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (j->cgroup && j->cgroup_entered)
        cgroup_destroy(j->cgroup, NULL);
    if (j->dirfd >= 0)
        state_dir_remove(j->ctx->root, j->o->id, NULL);
}

static void create_job_release(struct create_job *j)
{
    ns_plan_release(&j->plan);
    if (j->cgroup)
        cgroup_manager_free(j->cgroup);
    cgroup_mounts_free(j->cgroup_mounts, j->n_cgroup_mounts);
    if (j->seccomp)
        seccomp_program_free(j->seccomp);
    spec_config_free(j->cfg);
    free(j->st.bundle);
    free(j->st.rootfs);
    free(j->st.created);
    free(j->st.cgroup);
    if (j->sock >= 0)
        close(j->sock);
    if (j->fifo >= 0)
        close(j->fifo);
    if (j->pty >= 0)
        close(j->pty);
}

static unsigned create_listen_fds(void)
{
    const char *s = getenv("LISTEN_FDS");
    if (!s || !*s)
        return 0;
    char *end;
    unsigned long n = strtoul(s, &end, 10);
    return (*end || n > 1024) ? 0 : (unsigned)n;
}

static bool create_rootless(const struct keel_context *ctx)
{
    return ctx->rootless == KEEL_ROOTLESS_TRUE || (ctx->rootless == KEEL_ROOTLESS_AUTO && geteuid() != 0);
}

static int create_prepare(struct create_job *j, struct keel_error **err)
{
    const struct container_create_opts *o = j->o;
    char buf[PATH_MAX];
    if (!realpath(o->bundle ? o->bundle : ".", buf))
        return error_set(err, errno, "bundle `%s`", o->bundle ? o->bundle : ".");
    j->st.bundle = xstrdup(buf);
    if (spec_load_bundle(j->st.bundle, &j->cfg, err) < 0 || spec_validate_config(j->cfg, err) < 0)
        return -1;
    const struct spec_config *cfg = j->cfg;
    if (!cfg->process)
        return error_set(err, 0, "config.json: process is required to create a container");
    if (!cfg->root.path)
        return error_set(err, 0, "config.json: root.path is required");
    if (process_check_caps(cfg->process->capabilities, err) < 0)
        return -1;
    if (cfg->process->terminal && !o->console_socket && !o->want_pty_master)
        return error_set(err, 0, "process.terminal is true: --console-socket is required");
    if (!cfg->process->terminal && o->console_socket)
        return error_set(err, 0, "--console-socket given but process.terminal is false");
    struct rootfs_options ro = {.bundle = j->st.bundle};
    j->st.rootfs = rootfs_resolve_root(cfg, &ro);
    if (ns_plan_build(cfg, &j->plan, err) < 0)
        return -1;
    return 0;
}

static int create_run_runtime_hooks(struct create_job *j, struct keel_error **err)
{
    cleanup_free char *state = state_oci_json(&j->st, CONTAINER_CREATING, false, false);
    if (hooks_run(&j->cfg->hooks.prestart, "prestart", state, err) < 0 ||
        hooks_run(&j->cfg->hooks.create_runtime, "createRuntime", state, err) < 0)
        return -1;
    return 0;
}

static int create_talk(struct create_job *j, struct keel_error **err)
{
    const struct spec_config *cfg = j->cfg;
    if (j->plan.new_user && ns_write_id_maps(j->pid, cfg, err) < 0)
        return -1;
    if (proc_stat_read(j->pid, &j->st.pid_start, NULL) < 0)
        return error_set(err, errno, "reading the start time of the container process %d", (int)j->pid);
    if (j->cgroup) {
        /* Record the state before the cgroup exists: should keel be killed
         * from here on, `delete --force` still finds the process and the
         * cgroup to remove. */
        j->st.cgroup = cgroup_manager_save(j->cgroup);
        if (state_write(j->dirfd, &j->st, err) < 0 || state_keep_recovery(j->dirfd, err) < 0)
            return -1;
        j->cgroup_entered = true;
        if (cgroup_enter(j->cgroup, j->pid, err) < 0)
            return -1;
        if (cfg->linux && cfg->linux->resources.set &&
            cgroup_apply_resources(j->cgroup, &cfg->linux->resources, err) < 0)
            return -1;
        free(j->st.cgroup);
        j->st.cgroup = cgroup_manager_save(j->cgroup);
    }
    /* The init builds its hooks' state JSON itself (it shares our view of
     * the state); it only lacks its pid as seen from here. */
    char pidbuf[32];
    int plen = snprintf(pidbuf, sizeof pidbuf, "%d", (int)j->pid);
    if (sync_send(j->sock, SYNC_CONTINUE, 0, pidbuf, (size_t)plen, -1, err) < 0)
        return -1;
    for (;;) {
        cleanup_sync_msg struct sync_msg m = {.fd = -1};
        if (sync_recv(j->sock, &m, err) < 0)
            return -1;
        switch (m.type) {
        case SYNC_HOOKS_REQUEST:
            if (create_run_runtime_hooks(j, err) < 0) {
                sync_send_error(j->sock, *err);
                return -1;
            }
            if (sync_send(j->sock, SYNC_HOOKS_DONE, 0, NULL, 0, -1, err) < 0)
                return -1;
            break;
        case SYNC_PTY:
            if (m.fd < 0)
                return error_set(err, 0, "sync protocol: pty message without a file descriptor");
            if (j->o->console_socket && terminal_send_fd(j->o->console_socket, m.fd, "/dev/ptmx", err) < 0)
                return -1;
            if (j->o->want_pty_master)
                j->pty = steal_fd(&m.fd);
            break;
        case SYNC_SECCOMP_LISTENER: {
            /* from here: host credentials and mount namespace reach a
             * root-only agent socket the init (maybe the mapped root of a
             * user namespace, past pivot_root) could not */
            const struct spec_seccomp *sc = cfg->linux ? cfg->linux->seccomp : NULL;
            cleanup_free char *state = state_oci_json(&j->st, CONTAINER_CREATING, false, false);
            if (sync_handover_seccomp_listener(j->sock, &m, sc ? sc->listener_path : NULL,
                                               sc ? sc->listener_metadata : NULL, 0, state, err) < 0)
                return -1;
            break;
        }
        case SYNC_READY:
            return 0;
        case SYNC_ERROR:
            error_set(err, 0, "%s", m.payload);
            if (err && *err)
                (*err)->errnum = m.errnum;
            return -1;
        default:
            return error_set(err, 0, "sync protocol: unexpected %s message", sync_type_name(m.type));
        }
    }
}

static int create_spawn(struct create_job *j, struct keel_error **err)
{
    const struct keel_context *ctx = j->ctx;
    const struct spec_config *cfg = j->cfg;
    if (cgroup_manager_new(cfg, j->o->id, ctx->systemd_cgroup, create_rootless(ctx), &j->cgroup, err) < 0)
        return -1;
    /* The init mounts cgroups from the hierarchies found here rather than
     * looking for them again; not when it joins another mount namespace,
     * whose view of /sys/fs/cgroup may differ from ours. */
    if (j->plan.join_fd[SPEC_NS_MOUNT] < 0 &&
        cgroup_get_mounts(j->cgroup, &j->cgroup_mounts, &j->n_cgroup_mounts, err) < 0)
        return -1;
    if (cfg->linux && cfg->linux->seccomp) {
        cleanup_free char *cache = xasprintf("%s/%s", ctx->root, SECCOMP_CACHE_DIRNAME);
        if (seccomp_program_build(cfg->linux->seccomp, cache, &j->seccomp, err) < 0 ||
            seccomp_program_save(j->seccomp, j->dirfd, SECCOMP_STATE_FILE, err) < 0)
            return -1;
        if (seccomp_program_uses_notify(j->seccomp) &&
            exec_listener_save(j->dirfd, cfg->linux->seccomp, err) < 0)
            return -1;
    }
    if (mkfifoat(j->dirfd, STATE_FIFO, 0600) < 0)
        return error_set(err, errno, "creating the exec fifo");
    /* O_RDWR never blocks; the init then blocks in read() until `start`
     * writes a byte (see docs/protocol.md). */
    j->fifo = openat(j->dirfd, STATE_FIFO, O_RDWR | O_CLOEXEC);
    if (j->fifo < 0)
        return error_set(err, errno, "opening the exec fifo");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return error_set(err, errno, "creating the sync socketpair");
    j->sock = sv[0];
    /* made here, privileged over the sources; the init inherits the fds */
    cleanup_idmap_mounts struct idmap_mounts idmap = {0};
    if (idmap_mounts_prepare(cfg, j->st.bundle, &idmap, err) < 0) {
        close(sv[1]);
        return -1;
    }
    struct init_args ia = {
        .cfg = cfg,
        .opts = j->o,
        .plan = &j->plan,
        .seccomp = j->seccomp,
        .bundle = j->st.bundle,
        .sync_fd = sv[1],
        .fifo_fd = j->fifo,
        .lock_fd = j->dirfd,
        .state = &j->st,
        .listen_fds = create_listen_fds(),
        .idmap = &idmap,
        .cgroup_mounts = j->n_cgroup_mounts ? j->cgroup_mounts : NULL,
        .n_cgroup_mounts = j->n_cgroup_mounts,
    };
    pid_t pid = ns_clone(&j->plan, err);
    if (pid < 0) {
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(j->sock);
        init_main(&ia);
    }
    j->pid = pid;
    j->st.pid = pid;
    j->st.annotations = json_object_get(j->cfg->tree, "annotations");
    j->st.hooks = json_object_get(j->cfg->tree, "hooks");
    close(sv[1]);
    close(j->fifo);
    j->fifo = -1;
    ns_plan_release(&j->plan);
    return create_talk(j, err);
}

static int create_record(struct create_job *j, struct keel_error **err)
{
    if (state_write(j->dirfd, &j->st, err) < 0)
        return -1;
    if (j->o->pid_file) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%d", (int)j->pid);
        if (file_write_atomic(j->o->pid_file, buf, (size_t)n, 0644, err) < 0)
            return error_prefix(err, "--pid-file");
    }
    return 0;
}

int container_create(struct keel_context *ctx, const struct container_create_opts *o,
                     struct container_created *out, struct keel_error **err)
{
    struct create_job j = {.ctx = ctx, .o = o, .dirfd = -1, .sock = -1, .fifo = -1, .pty = -1};
    for (int i = 0; i < SPEC_NS_COUNT; i++)
        j.plan.join_fd[i] = -1;
    int r = create_prepare(&j, err);
    if (r == 0) {
        j.st.id = (char *)o->id;
        j.st.oci_version = j.cfg->oci_version;
        j.st.owner = (char *)"";
        j.st.created = state_now_rfc3339();
        j.st.systemd_cgroup = ctx->systemd_cgroup;
        j.st.pid_ns = j.plan.new_pid;
        j.dirfd = state_dir_create(ctx->root, o->id, err);
        r = j.dirfd < 0 ? -1 : 0;
    }
    if (r == 0)
        r = create_spawn(&j, err);
    if (r == 0)
        r = create_record(&j, err);
    if (r < 0) {
        create_job_abort(&j);
        if (j.dirfd >= 0)
            close(j.dirfd);
        create_job_release(&j);
        return -1;
    }
    out->pid = j.pid;
    out->lock_fd = j.dirfd;
    out->pty_master = steal_fd(&j.pty);
    create_job_release(&j);
    return 0;
}
