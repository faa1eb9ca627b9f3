#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "strbuf.h"
#include "userns.h"
#include "xalloc.h"

extern char **environ;

bool userns_map_is_own_id(const struct spec_id_mapping *m, size_t n, unsigned own)
{
    return n == 1 && m[0].size == 1 && m[0].host_id == own;
}

int userns_write_proc(pid_t pid, const char *file, const char *text, struct keel_error **err)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, errno, "opening `%s`", path);
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    if (n < 0 || (size_t)n != len)
        return error_set(err, n < 0 ? errno : EIO, "writing `%s` (\"%s\")", path, text);
    return 0;
}

/* The helper's absolute path: PATH first (a distribution may put it
 * elsewhere), then /usr/bin, where Debian's uidmap installs it. */
static char *userns_find_helper(const char *name)
{
    const char *path = getenv("PATH");
    cleanup_free char *copy = xstrdup(path && *path ? path : "/usr/bin:/bin");
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char *full = xasprintf("%s/%s", dir, name);
        if (access(full, X_OK) == 0)
            return full;
        free(full);
    }
    char *full = xasprintf("/usr/bin/%s", name);
    if (access(full, X_OK) == 0)
        return full;
    free(full);
    return NULL;
}

/* Run `helper PID c h s ...`; its stderr becomes part of the error. */
static int userns_run_helper(const char *name, pid_t pid, const struct spec_id_mapping *m, size_t n,
                             const char *field, struct keel_error **err)
{
    cleanup_free char *helper = userns_find_helper(name);
    if (!helper)
        return error_set(err, ENOENT,
                         "%s: mapping more than the caller's own id without privileges needs `%s` "
                         "(package uidmap), which is not installed",
                         field, name);
    size_t argc = 2 + 3 * n;
    cleanup_free char **argv = xcalloc(argc + 1, sizeof *argv);
    cleanup_strv char **owned = xcalloc(argc + 1, sizeof *owned);
    argv[0] = (char *)name;
    argv[1] = owned[0] = xasprintf("%d", (int)pid);
    for (size_t i = 0; i < n; i++) {
        argv[2 + 3 * i] = owned[1 + 3 * i] = xasprintf("%u", m[i].container_id);
        argv[3 + 3 * i] = owned[2 + 3 * i] = xasprintf("%u", m[i].host_id);
        argv[4 + 3 * i] = owned[3 + 3 * i] = xasprintf("%u", m[i].size);
    }
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return error_set(err, errno, "%s: creating a pipe for `%s`", field, name);
    cleanup_close int rd = pipefd[0];
    cleanup_close int wr = pipefd[1];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, wr, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_init(&attr);
    /* `run` blocks every signal around the clone: the helper must not
     * inherit that mask. */
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t child;
    int rc = posix_spawn(&child, helper, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        return error_set(err, rc, "%s: running `%s`", field, helper);
    close(steal_fd(&wr));
    char msg[1024];
    ssize_t got = fd_read_all(rd, msg, sizeof msg - 1);
    msg[got > 0 ? got : 0] = '\0';
    for (char *e = msg + strlen(msg); e > msg && (e[-1] == '\n' || e[-1] == ' '); e--)
        e[-1] = '\0';
    int status;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR)
            return error_set(err, errno, "%s: waiting for `%s`", field, name);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return error_set(err, EPERM, "%s: `%s` refused the mapping (are the ranges in /etc/sub%cid?): %s",
                         field, name, name[3] == 'u' ? 'u' : 'g', msg[0] ? msg : "no message");
    return 0;
}

static char *userns_format_map(const struct spec_id_mapping *m, size_t n)
{
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < n; i++)
        strbuf_printf(&sb, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
    return strbuf_detach(&sb);
}

int userns_write_id_maps_unprivileged(pid_t pid, const struct spec_config *cfg, struct keel_error **err)
{
    const struct spec_linux *l = cfg->linux;
    bool own_uid = userns_map_is_own_id(l->uid_mappings, l->n_uid_mappings, geteuid());
    bool own_gid = userns_map_is_own_id(l->gid_mappings, l->n_gid_mappings, getegid());
    if (own_uid) {
        cleanup_free char *text = userns_format_map(l->uid_mappings, l->n_uid_mappings);
        if (userns_write_proc(pid, "uid_map", text, err) < 0)
            return error_prefix(err, "linux.uidMappings");
    } else if (userns_run_helper("newuidmap", pid, l->uid_mappings, l->n_uid_mappings, "linux.uidMappings",
                                 err) < 0) {
        return -1;
    }
    if (own_gid) {
        /* The kernel takes a gid_map from an unprivileged writer only once
         * setgroups is denied for good. */
        cleanup_free char *text = userns_format_map(l->gid_mappings, l->n_gid_mappings);
        if (userns_write_proc(pid, "setgroups", "deny", err) < 0 ||
            userns_write_proc(pid, "gid_map", text, err) < 0)
            return error_prefix(err, "linux.gidMappings");
        return 0;
    }
    return userns_run_helper("newgidmap", pid, l->gid_mappings, l->n_gid_mappings, "linux.gidMappings", err);
}

struct userns_clone_report {
    pid_t pid;
    int errnum;
    char msg[1024];
};

pid_t userns_clone_inside(int userns_fd, userns_clone_fn clone_fn, const void *arg, struct keel_error **err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return error_set(err, errno, "creating a pipe to clone inside the joined user namespace");
    pid_t helper = fork();
    if (helper < 0) {
        int saved = errno;
        close(p[0]);
        close(p[1]);
        return error_set(err, saved, "forking to clone inside the joined user namespace");
    }
    if (helper == 0) {
        close(p[0]);
        struct userns_clone_report rep = {0};
        struct keel_error *e = NULL;
        if (setns(userns_fd, CLONE_NEWUSER) < 0) {
            error_set(&e, errno, "joining the user namespace given in linux.namespaces");
        } else {
            pid_t pid = clone_fn(arg, CLONE_PARENT, &e);
            if (pid == 0) {
                close(p[1]);
                return 0; /* the container process goes on with create */
            }
            rep.pid = pid;
        }
        if (e) {
            rep.errnum = e->errnum;
            snprintf(rep.msg, sizeof rep.msg, "%s", e->msg);
        }
        (void)fd_write_all(p[1], &rep, sizeof rep);
        _exit(0);
    }
    close(p[1]);
    struct userns_clone_report rep = {0};
    ssize_t n = fd_read_all(p[0], &rep, sizeof rep);
    close(p[0]);
    while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof rep)
        return error_set(err, EIO, "the helper cloning inside the joined user namespace died");
    if (rep.pid <= 0) {
        /* the message already ends with the helper's strerror */
        error_set(err, 0, "%s", rep.msg[0] ? rep.msg : "cloning inside the joined user namespace");
        if (err && *err)
            (*err)->errnum = rep.errnum;
        return -1;
    }
    return rep.pid;
}

bool userns_is_current(int fd)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat("/proc/self/ns/user", &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

char *userns_rootless_state_root(void)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    return xdg && xdg[0] == '/' ? xasprintf("%s/keel", xdg) : NULL;
}
