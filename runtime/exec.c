/* keel exec: see exec.h for the process layout. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
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
#include "foreground.h"
#include "json.h"
#include "process.h"
#include "seccomp.h"
#include "signals.h"
#include "state.h"
#include "sync.h"
#include "terminal.h"
#include "xalloc.h"

/* Join order: the user namespace first (it owns the others), mnt last (it
 * changes the root, after which /proc paths would be the container's). */
static const struct {
    const char *name;
    int flag;
} ns_order[] = {
    {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC},       {"uts", CLONE_NEWUTS},   {"net", CLONE_NEWNET},
    {"pid", CLONE_NEWPID},   {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME}, {"mnt", CLONE_NEWNS},
};
#define N_NS (sizeof(ns_order) / sizeof(ns_order[0]))

struct exec_job {
    const struct exec_opts *o;
    struct spec_config *cfg;
    struct spec_process *p;
    struct seccomp_program *seccomp;
    const char *listener_path, *listener_metadata;       /* path set when seccomp notifies */
    char *saved_listener_path, *saved_listener_metadata; /* EXEC_LISTENER_FILE's, owned */
    int ns_fd[N_NS];
    int sock;        /* the child's end */
    int parent_sock; /* ours, closed in the joiner */
};

enum { NS_USER = 0, NS_TIME = 6 }; /* indexes in ns_order */
#define JOINER_STACK_SIZE (64 * 1024)

/* Open the init's namespaces that differ from ours. */
static int open_namespaces(pid_t pid, int fds[N_NS], struct keel_error **err)
{
    for (size_t i = 0; i < N_NS; i++) {
        fds[i] = -1;
        char path[64], self[64];
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns_order[i].name);
        snprintf(self, sizeof self, "/proc/self/ns/%s", ns_order[i].name);
        struct stat a, b;
        if (stat(self, &b) < 0)
            continue; /* the kernel lacks this namespace type */
        if (stat(path, &a) < 0)
            return error_set(err, errno, "opening the container's %s namespace `%s`", ns_order[i].name, path);
        if (a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            continue;
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0)
            return error_set(err, errno, "opening the container's %s namespace `%s`", ns_order[i].name, path);
    }
    return 0;
}

/* The exec process: never returns. */
__attribute__((noreturn)) static void process_main(struct exec_job *j)
{
    cleanup_error struct keel_error *err = NULL;
    cleanup_free char *exe = NULL;
    const struct spec_process *p = j->p;
    /* As the init does (CVE-2019-5736): once in the container's pid
     * namespace, nothing there may open our /proc/PID/exe (the keel binary)
     * while keel code runs; the final execve makes the process dumpable. */
    prctl(PR_SET_DUMPABLE, 0);
    signals_reset_all();
    cleanup_sync_msg struct sync_msg go = {.fd = -1};
    if (sync_expect(j->sock, SYNC_CONTINUE, &go, &err) < 0)
        _exit(1);
    if (p->terminal) {
        int master, slave;
        if (terminal_open_pty(&p->console_size, &master, &slave, &err) < 0)
            goto fail;
        int r = sync_send(j->sock, SYNC_PTY, 0, NULL, 0, master, &err);
        close(master);
        if (r < 0 || terminal_make_controlling(slave, &err) < 0)
            goto fail;
        close(slave);
    } else if (setsid() < 0) {
        error_set(&err, errno, "setsid");
        goto fail;
    }
    if (process_apply_limits(p, j->cfg ? j->cfg->linux : NULL, &err) < 0 ||
        process_close_fds(j->o->preserve_fds, j->sock, -1, &err) < 0 || process_chdir(p, &err) < 0 ||
        process_find_executable(p, &exe, &err) < 0 || process_refuse_runtime_exe(exe, &err) < 0)
        goto fail;
    /* without no_new_privs the filter needs CAP_SYS_ADMIN: load it before the drop */
    int notify_fd = -1;
    if (j->seccomp && !p->no_new_privileges &&
        (seccomp_program_load(j->seccomp, &notify_fd, &err) < 0 ||
         sync_forward_seccomp_listener(j->sock, notify_fd, &err) < 0))
        goto fail;
    if (process_apply_identity(p, &err) < 0)
        goto fail;
    if (j->seccomp && p->no_new_privileges &&
        (seccomp_program_load(j->seccomp, &notify_fd, &err) < 0 ||
         sync_forward_seccomp_listener(j->sock, notify_fd, &err) < 0))
        goto fail;
    process_exec(p, exe, NULL, &err);
fail:
    sync_send_error(j->sock, err);
    _exit(127);
}

/* The joiner: setns everything, fork the process, report its pid. */
__attribute__((noreturn)) static void joiner_main(struct exec_job *j)
{
    cleanup_error struct keel_error *err = NULL;
    for (size_t i = 0; i < N_NS; i++) {
        if (j->ns_fd[i] < 0)
            continue;
        if (setns(j->ns_fd[i], ns_order[i].flag) < 0) {
            error_set(&err, errno, "joining the container's %s namespace", ns_order[i].name);
            sync_send_error(j->sock, err);
            _exit(1);
        }
        close(j->ns_fd[i]);
    }
    pid_t pid = fork();
    if (pid < 0) {
        error_set(&err, errno, "fork in the container's namespaces");
        sync_send_error(j->sock, err);
        _exit(1);
    }
    if (pid == 0)
        process_main(j);
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%d", (int)pid);
    _exit(sync_send(j->sock, SYNC_READY, 0, buf, (size_t)len, -1, &err) < 0 ? 1 : 0);
}

static int joiner_entry(void *arg)
{
    struct exec_job *j = arg;
    close(j->parent_sock);
    joiner_main(j);
}

/* EOF on the CLOEXEC socket: the process exec'ed.  A message: its error,
 * or its seccomp listener for the agent (then it waits for our go). */
static int wait_exec(int sock, const struct exec_job *j, const struct container_state *s,
                     enum container_status status, pid_t pid, struct keel_error **err)
{
    for (;;) {
        char c;
        ssize_t r;
        do
            r = recv(sock, &c, 1, MSG_PEEK);
        while (r < 0 && errno == EINTR);
        if (r == 0)
            return 0;
        cleanup_sync_msg struct sync_msg m = {.fd = -1};
        if (sync_recv(sock, &m, err) < 0)
            return -1;
        if (m.type == SYNC_ERROR) {
            error_set(err, 0, "%s", m.payload);
            if (err && *err)
                (*err)->errnum = m.errnum;
            return -1;
        }
        if (m.type != SYNC_SECCOMP_LISTENER)
            return error_set(err, EPROTO, "exec: unexpected message %u from the process", (unsigned)m.type);
        /* the process's own pid; the container's state (init pid, status) around it */
        cleanup_free char *state = state_oci_json(s, status, false, false);
        if (sync_handover_seccomp_listener(sock, &m, j->listener_path, j->listener_metadata, (long)pid, state,
                                           err) < 0)
            return -1;
    }
}

/* What exec needs of config.json (process, linux.personality), kept in the
 * state dir: the full config (20 KiB with podman's seccomp profile) costs
 * ~0.5 ms to parse, and exec is the command engines run most.  Like runc,
 * exec follows the bundle's config.json as it is now, so the copy records
 * the file's inode, size and mtime and is used only while they match. */
#define EXEC_CACHE_FILE "exec-config.json"
#define EXEC_CACHE_KEY "keelConfigStat"
/* linux.seccomp's listenerPath and listenerMetadata: the copy leaves out the
 * profile (20 KiB), but a NOTIFY filter's exec needs the agent. */
#define EXEC_CACHE_LISTENER "keelSeccompListener"
/* Bumped when the copy's content changes, so an older keel's copy is a miss. */
#define EXEC_CACHE_VERSION "2"

static char *config_stamp(const char *bundle)
{
    cleanup_free char *path = xasprintf("%s/config.json", bundle);
    struct stat st;
    if (stat(path, &st) < 0)
        return NULL;
    return xasprintf(EXEC_CACHE_VERSION ":%llu:%llu:%lld.%09ld", (unsigned long long)st.st_ino,
                     (unsigned long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

/* listenerPath and listenerMetadata of the full config, or of exec's copy. */
static void config_listener(const struct spec_config *cfg, const char **path, const char **metadata)
{
    *path = *metadata = NULL;
    if (!cfg)
        return;
    if (cfg->linux && cfg->linux->seccomp) {
        *path = cfg->linux->seccomp->listener_path;
        *metadata = cfg->linux->seccomp->listener_metadata;
        return;
    }
    yajl_val l = json_object_get(cfg->tree, EXEC_CACHE_LISTENER);
    yajl_val v = json_object_get(l, "listenerPath");
    *path = YAJL_IS_STRING(v) ? v->u.string : NULL;
    v = json_object_get(l, "listenerMetadata");
    *metadata = YAJL_IS_STRING(v) ? v->u.string : NULL;
}

int exec_listener_save(int dirfd, const struct spec_seccomp *sc, struct keel_error **err)
{
    if (!sc || !sc->listener_path)
        return 0;
    yajl_gen g = json_gen_new(false);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "listenerPath", sc->listener_path);
    if (sc->listener_metadata)
        json_gen_kv_string(g, "listenerMetadata", sc->listener_metadata);
    yajl_gen_map_close(g);
    size_t n = 0;
    cleanup_free char *text = json_gen_dup(g, &n);
    yajl_gen_free(g);
    if (file_write_atomic_at(dirfd, EXEC_LISTENER_FILE, text, n, 0600, err) < 0)
        return error_prefix(err, "saving linux.seccomp.listenerPath in the state dir");
    return 0;
}

int exec_listener_load(int dirfd, char **path, char **metadata, struct keel_error **err)
{
    *path = *metadata = NULL;
    cleanup_free char *text = NULL;
    size_t len = 0;
    if (faccessat(dirfd, EXEC_LISTENER_FILE, F_OK, 0) < 0 && errno == ENOENT)
        return 0;
    if (file_read_whole_at(dirfd, EXEC_LISTENER_FILE, 1u << 20, &text, &len, err) < 0)
        return error_prefix(err, "state " EXEC_LISTENER_FILE);
    cleanup_json yajl_val doc = NULL;
    if (json_parse(text, len, "state " EXEC_LISTENER_FILE, &doc, err) < 0 ||
        json_expect_object(doc, "state " EXEC_LISTENER_FILE, err) < 0)
        return -1;
    yajl_val v = json_object_get(doc, "listenerPath");
    if (!YAJL_IS_STRING(v) || !v->u.string[0])
        return error_set(err, 0, "state " EXEC_LISTENER_FILE ": no listenerPath");
    yajl_val m = json_object_get(doc, "listenerMetadata");
    if (m && !YAJL_IS_STRING(m))
        return error_set(err, 0, "state " EXEC_LISTENER_FILE ": listenerMetadata is not a string");
    *path = xstrdup(v->u.string);
    *metadata = m ? xstrdup(m->u.string) : NULL;
    return 0;
}

static int exec_load_config(int dirfd, const char *bundle, struct spec_config **out, struct keel_error **err)
{
    cleanup_free char *stamp = config_stamp(bundle);
    cleanup_free char *text = NULL;
    size_t len = 0;
    cleanup_error struct keel_error *miss = NULL;
    if (stamp && file_read_whole_at(dirfd, EXEC_CACHE_FILE, 1u << 22, &text, &len, &miss) == 0) {
        cleanup_json yajl_val doc = NULL;
        if (json_parse(text, len, EXEC_CACHE_FILE, &doc, &miss) == 0) {
            yajl_val k = json_object_get(doc, EXEC_CACHE_KEY);
            const char *ks = YAJL_IS_STRING(k) ? k->u.string : NULL;
            if (ks && strcmp(ks, stamp) == 0)
                return spec_parse_config(text, len, "state " EXEC_CACHE_FILE, out, err);
        }
    }
    cleanup_spec_config struct spec_config *full = NULL;
    if (spec_load_bundle(bundle, &full, err) < 0)
        return -1;
    if (stamp) {
        yajl_gen g = json_gen_new(false);
        yajl_gen_map_open(g);
        json_gen_kv_string(g, EXEC_CACHE_KEY, stamp);
        yajl_val v = json_object_get(full->tree, "ociVersion");
        if (v) {
            json_gen_key(g, "ociVersion");
            json_gen_value(g, v);
        }
        v = json_object_get(full->tree, "process");
        if (v) {
            json_gen_key(g, "process");
            json_gen_value(g, v);
        }
        v = json_object_get(json_object_get(full->tree, "linux"), "personality");
        if (v) {
            json_gen_key(g, "linux");
            yajl_gen_map_open(g);
            json_gen_key(g, "personality");
            json_gen_value(g, v);
            yajl_gen_map_close(g);
        }
        const struct spec_seccomp *sc = full->linux ? full->linux->seccomp : NULL;
        if (sc && sc->listener_path) {
            json_gen_key(g, EXEC_CACHE_LISTENER);
            yajl_gen_map_open(g);
            json_gen_kv_string(g, "listenerPath", sc->listener_path);
            if (sc->listener_metadata)
                json_gen_kv_string(g, "listenerMetadata", sc->listener_metadata);
            yajl_gen_map_close(g);
        }
        yajl_gen_map_close(g);
        size_t n = 0;
        cleanup_free char *small = json_gen_dup(g, &n);
        yajl_gen_free(g);
        cleanup_error struct keel_error *ignored = NULL; /* a read-only state dir only costs speed */
        file_write_atomic_at(dirfd, EXEC_CACHE_FILE, small, n, 0600, &ignored);
    }
    *out = steal_ptr(&full);
    return 0;
}

static void job_release(struct exec_job *j)
{
    for (size_t i = 0; i < N_NS; i++)
        if (j->ns_fd[i] >= 0)
            close(j->ns_fd[i]);
    if (j->p)
        spec_process_free(j->p);
    if (j->cfg)
        spec_config_free(j->cfg);
    if (j->seccomp)
        seccomp_program_free(j->seccomp);
    free(j->saved_listener_path);
    free(j->saved_listener_metadata);
}

int exec_container(struct keel_context *ctx, const struct exec_opts *o, struct keel_error **err)
{
    __attribute__((cleanup(job_release))) struct exec_job j = {.o = o, .sock = -1};
    for (size_t i = 0; i < N_NS; i++)
        j.ns_fd[i] = -1;
    cleanup_close int dirfd = state_dir_open(ctx->root, o->id, false, err);
    if (dirfd < 0)
        return -1;
    cleanup_container_state struct container_state *s = NULL;
    if (state_read(dirfd, o->id, &s, err) < 0)
        return -1;
    enum container_status st = container_status_of(dirfd, s);
    if (st == CONTAINER_STOPPED)
        return error_set(err, 0, "cannot exec in container \"%s\": it is stopped", o->id);
    if (st == CONTAINER_PAUSED && !o->ignore_paused)
        return error_set(
            err, 0, "cannot exec in container \"%s\": it is paused (resume it, or --ignore-paused)", o->id);
    cleanup_error struct keel_error *config_err = NULL;
    if (o->process_file) {
        /* process.json says everything about the process; the config only
         * adds linux.personality (and a NOTIFY filter's listenerPath), so a
         * bundle gone since create is no error unless the filter needs it */
        exec_load_config(dirfd, s->bundle, &j.cfg, &config_err);
    } else if (exec_load_config(dirfd, s->bundle, &j.cfg, err) < 0) {
        return error_prefix(err, "exec in container \"%s\"", o->id);
    }
    if (exec_load_process(j.cfg, o, &j.p, err) < 0)
        return -1;
    if (j.p->terminal && o->detach && !o->console_socket)
        return error_set(err, 0, "exec: a detached process with a terminal needs --console-socket");
    if (!j.p->terminal && o->console_socket)
        return error_set(err, 0, "exec: --console-socket needs a terminal (-t or process.terminal)");
    if (faccessat(dirfd, SECCOMP_STATE_FILE, F_OK, 0) == 0 &&
        seccomp_program_load_file(dirfd, SECCOMP_STATE_FILE, &j.seccomp, err) < 0)
        return error_prefix(err, "exec: the container's seccomp filter");
    if (j.seccomp && seccomp_program_uses_notify(j.seccomp)) {
        /* the agent create saw; the bundle only for containers of an older keel */
        if (exec_listener_load(dirfd, &j.saved_listener_path, &j.saved_listener_metadata, err) < 0)
            return error_prefix(err, "exec in container \"%s\"", o->id);
        j.listener_path = j.saved_listener_path;
        j.listener_metadata = j.saved_listener_metadata;
        if (!j.listener_path)
            config_listener(j.cfg, &j.listener_path, &j.listener_metadata);
        if (!j.listener_path || !j.listener_path[0]) {
            if (config_err) {
                error_set(err, 0, "%s", error_msg(config_err));
                if (err && *err)
                    (*err)->errnum = config_err->errnum;
                return error_prefix(
                    err,
                    "exec in container \"%s\": its seccomp filter has SCMP_ACT_NOTIFY rules, and "
                    "the bundle's config.json that names linux.seccomp.listenerPath cannot be read",
                    o->id);
            }
            return error_set(
                err, 0,
                "exec in container \"%s\": its seccomp filter has SCMP_ACT_NOTIFY rules, but the "
                "bundle's config.json has no linux.seccomp.listenerPath to send the listener to",
                o->id);
        }
    }
    cleanup_cgroup_manager struct cgroup_manager *m = NULL;
    if (s->cgroup && cgroup_manager_load(s->cgroup, &m, err) < 0)
        return -1;
    if (open_namespaces(s->pid, j.ns_fd, err) < 0)
        return -1;
    /* the pid may have been recycled between reading the state and opening /proc */
    if (!state_process_alive(s))
        return error_set(err, ESRCH, "cannot exec in container \"%s\": its init is gone", o->id);
    close(steal_fd(&dirfd));

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return error_set(err, errno, "socketpair");
    cleanup_close int sock = sv[0];
    j.sock = sv[1];
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        return error_set(err, errno, "prctl(PR_SET_CHILD_SUBREAPER)");
    sigset_t mask, old;
    sigemptyset(&mask);
    int fwd[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGPIPE};
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++)
        sigaddset(&mask, fwd[i]);
    sigprocmask(SIG_BLOCK, &mask, &old);
    fflush(NULL);
    j.parent_sock = sock;
    pid_t joiner;
    cleanup_free char *joiner_stack = NULL; /* freed after the joiner is gone */
    if (j.ns_fd[NS_USER] < 0 && j.ns_fd[NS_TIME] < 0) {
        /* The joiner only calls setns and fork: sharing our memory (vfork
         * style) spares copying and faulting in keel's page tables once.
         * The kernel refuses user and time namespaces to a process that
         * shares its mm, hence the plain fork for those. */
        joiner_stack = xmalloc(JOINER_STACK_SIZE);
        joiner = clone(joiner_entry, joiner_stack + JOINER_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &j);
    } else {
        joiner = fork();
        if (joiner == 0)
            joiner_entry(&j);
    }
    if (joiner < 0)
        return error_set(err, errno, "starting the namespace joiner");
    close(j.sock);
    j.sock = -1;

    cleanup_sync_msg struct sync_msg ready = {.fd = -1};
    int r = sync_expect(sock, SYNC_READY, &ready, err);
    waitpid(joiner, NULL, 0);
    if (r < 0)
        return error_prefix(err, "exec in container \"%s\"", o->id);
    pid_t pid = (pid_t)strtol(ready.payload, NULL, 10);
    if (m && cgroup_join(m, pid, err) < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return error_prefix(err, "exec in container \"%s\"", o->id);
    }
    cleanup_close int master = -1;
    if (sync_send(sock, SYNC_CONTINUE, 0, NULL, 0, -1, err) < 0)
        goto failed;
    if (j.p->terminal) {
        cleanup_sync_msg struct sync_msg pty = {.fd = -1};
        if (sync_expect(sock, SYNC_PTY, &pty, err) < 0)
            goto failed;
        master = steal_fd(&pty.fd);
        if (o->console_socket) {
            r = terminal_send_fd(o->console_socket, master, "exec", err);
            close(steal_fd(&master));
            if (r < 0)
                goto failed;
        }
    }
    if (wait_exec(sock, &j, s, st, pid, err) < 0)
        goto failed;
    if (o->pid_file) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%d", (int)pid);
        if (file_write_atomic(o->pid_file, buf, (size_t)len, 0644, err) < 0) {
            kill(pid, SIGKILL);
            return error_prefix(err, "exec: --pid-file");
        }
    }
    if (o->detach)
        return 0;
    r = foreground_wait(pid, master, &mask, err);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return r;

failed:
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return error_prefix(err, "exec in container \"%s\"", o->id);
}
