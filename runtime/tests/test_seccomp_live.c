/* seccomp programs on the real kernel: a forked child builds nothing, it
 * only loads what the parent built (as the container init will) and then
 * makes the syscalls whose fate the profile decides. */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "json.h"
#include "seccomp.h"
#include "seccomp_testlib.h"
#include "unit.h"
#include "xalloc.h"

static struct unit_counts c;
static char *tmpdir;

#define BLOCKED_ERRNO 18 /* EXDEV: no getpgid/getpriority ever returns it on its own */

static struct seccomp_program *build(const char *json, const char *cache)
{
    struct spec_seccomp *s = testlib_seccomp_from_json(json);
    if (s == NULL)
        return NULL;
    cleanup_error struct keel_error *err = NULL;
    struct seccomp_program *p = NULL;
    if (seccomp_program_build(s, cache, &p, &err) < 0)
        fprintf(stderr, "build: %s\n", error_msg(err));
    testlib_seccomp_free(s);
    return p;
}

static struct seccomp_program *build_spec(struct spec_seccomp *s)
{
    cleanup_error struct keel_error *err = NULL;
    struct seccomp_program *p = NULL;
    if (seccomp_program_build(s, NULL, &p, &err) < 0)
        fprintf(stderr, "build: %s\n", error_msg(err));
    return p;
}

/* Leave a filtered child with the bare syscall: sanitizer runtimes hook
 * _exit() and make syscalls (leak checks) that strict profiles forbid. */
static __attribute__((noreturn)) void child_exit(int code)
{
    syscall(SYS_exit_group, code);
    _exit(code);
}

/* Fork; the child loads p then returns fn(arg) as its exit status.
 * Returns the raw wait status (or -1). */
static int run_filtered(const struct seccomp_program *p, int (*fn)(void *), void *arg)
{
    if (p == NULL)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        alarm(20);
        cleanup_error struct keel_error *err = NULL;
        if (seccomp_program_load(p, NULL, &err) < 0) {
            fprintf(stderr, "load: %s\n", error_msg(err));
            _exit(100);
        }
        child_exit(fn(arg));
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

static bool exited_ok(int status)
{
    return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool killed_by_sigsys(int status)
{
    return status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

/* ---- child bodies (raw syscalls, results as exit codes) ---- */

struct mkdir_case {
    const char *path;
    int want_errno;
};

static int child_mkdir(void *arg)
{
    struct mkdir_case *m = arg;
    long r = syscall(SYS_mkdir, m->path, 0700);
    if (m->want_errno == 0)
        return r == 0 ? 0 : 1;
    if (r != -1 || errno != m->want_errno)
        return 2;
    /* mkdirat reaches the same rule set through its own name. */
    r = syscall(SYS_mkdirat, AT_FDCWD, m->path, 0700);
    return r == -1 && errno == m->want_errno ? 0 : 3;
}

struct pgid_case {
    long blocked[4];
    long allowed[4];
};

static bool pgid_blocked(long v)
{
    long r = syscall(SYS_getpgid, v);
    return r == -1 && errno == BLOCKED_ERRNO;
}

static int child_pgid(void *arg)
{
    struct pgid_case *pc = arg;
    for (int i = 0; i < 4 && pc->blocked[i] >= 0; i++)
        if (!pgid_blocked(pc->blocked[i]))
            return 10 + i;
    for (int i = 0; i < 4 && pc->allowed[i] >= 0; i++)
        if (pgid_blocked(pc->allowed[i]))
            return 20 + i;
    return 0;
}

static int child_getpgid0(void *arg)
{
    (void)arg;
    return syscall(SYS_getpgid, 0) >= 0 ? 0 : 1;
}

static int child_expect_errno(void *arg)
{
    int want = *(int *)arg;
    long r = syscall(SYS_getppid);
    return r == -1 && errno == want ? 0 : 1;
}

static int child_priority(void *arg)
{
    (void)arg;
    errno = 0;
    long r = syscall(SYS_getpriority, 7, 9);
    if (!(r == -1 && errno == BLOCKED_ERRNO))
        return 1;
    errno = 0;
    r = syscall(SYS_getpriority, 7, 8);
    if (r == -1 && errno == BLOCKED_ERRNO)
        return 2;
    r = syscall(SYS_getpriority, 6, 9);
    if (r == -1 && errno == BLOCKED_ERRNO)
        return 3;
    return 0;
}

static void test_errno_rules(void)
{
    cleanup_free char *dir = xasprintf("%s/made-by-child", tmpdir);
    struct mkdir_case m = {dir, EPERM};
    cleanup_seccomp_program struct seccomp_program *p =
        build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],"
              "\"action\":\"SCMP_ACT_ERRNO\"}]}",
              NULL);
    CHECK(&c, exited_ok(run_filtered(p, child_mkdir, &m)));
    CHECK(&c, !fs_exists(dir));

    m.want_errno = EDQUOT;
    cleanup_seccomp_program struct seccomp_program *q =
        build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"no_such_syscall\",\"mkdir\","
              "\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":122}]}",
              NULL);
    CHECK(&c, exited_ok(run_filtered(q, child_mkdir, &m)));
    CHECK(&c, !fs_exists(dir));

    /* Control: without a rule the same child makes the directory. */
    m.want_errno = 0;
    cleanup_seccomp_program struct seccomp_program *r =
        build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"chmod\"],"
              "\"action\":\"SCMP_ACT_ERRNO\"}]}",
              NULL);
    CHECK(&c, exited_ok(run_filtered(r, child_mkdir, &m)));
    CHECK(&c, fs_exists(dir));
    rmdir(dir);
}

static void test_operators(void)
{
    struct {
        const char *op;
        unsigned long long value, value_two;
        struct pgid_case pc;
    } cases[] = {
        {"SCMP_CMP_EQ", 100, 0, {{100, -1}, {101, 99, -1}}},
        {"SCMP_CMP_NE", 100, 0, {{101, 5, -1}, {100, -1}}},
        {"SCMP_CMP_LT", 100, 0, {{99, 1, -1}, {100, 101, -1}}},
        {"SCMP_CMP_LE", 100, 0, {{100, 99, -1}, {101, -1}}},
        {"SCMP_CMP_GT", 100, 0, {{101, 5000, -1}, {100, 99, -1}}},
        {"SCMP_CMP_GE", 100, 0, {{100, 101, -1}, {99, -1}}},
        {"SCMP_CMP_MASKED_EQ", 0xf0, 0x30, {{0x35, 0x30, 0x3f, -1}, {0x45, 0x25, -1}}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cleanup_free char *json = xasprintf(
            "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpgid\"],\"action\":"
            "\"SCMP_ACT_ERRNO\",\"errnoRet\":%d,\"args\":[{\"index\":0,\"value\":%llu,\"valueTwo\":%llu,"
            "\"op\":\"%s\"}]}]}",
            BLOCKED_ERRNO, cases[i].value, cases[i].value_two, cases[i].op);
        cleanup_seccomp_program struct seccomp_program *p = build(json, NULL);
        int st = run_filtered(p, child_pgid, &cases[i].pc);
        if (!exited_ok(st))
            fprintf(stderr, "%s: child status %#x\n", cases[i].op, st);
        CHECK(&c, exited_ok(st));
    }
    /* The same index twice: either value matches (OR). */
    struct pgid_case or_case = {{10, 20, -1}, {30, -1}};
    cleanup_free char *json = xasprintf(
        "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpgid\"],\"action\":"
        "\"SCMP_ACT_ERRNO\",\"errnoRet\":%d,\"args\":[{\"index\":0,\"value\":10,\"op\":\"SCMP_CMP_EQ\"},"
        "{\"index\":0,\"value\":20,\"op\":\"SCMP_CMP_EQ\"}]}]}",
        BLOCKED_ERRNO);
    cleanup_seccomp_program struct seccomp_program *p = build(json, NULL);
    CHECK(&c, exited_ok(run_filtered(p, child_pgid, &or_case)));
    /* Different indexes: all must match (AND). */
    cleanup_free char *json2 = xasprintf(
        "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpriority\"],\"action\":"
        "\"SCMP_ACT_ERRNO\",\"errnoRet\":%d,\"args\":[{\"index\":0,\"value\":7,\"op\":\"SCMP_CMP_EQ\"},"
        "{\"index\":1,\"value\":9,\"op\":\"SCMP_CMP_EQ\"}]}]}",
        BLOCKED_ERRNO);
    cleanup_seccomp_program struct seccomp_program *q = build(json2, NULL);
    CHECK(&c, exited_ok(run_filtered(q, child_priority, NULL)));
}

static void test_actions(void)
{
    const char *killers[] = {"SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
                             "SCMP_ACT_TRAP"};
    for (size_t i = 0; i < sizeof(killers) / sizeof(killers[0]); i++) {
        cleanup_free char *json = xasprintf("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":["
                                            "\"getpgid\"],\"action\":\"%s\"}]}",
                                            killers[i]);
        cleanup_seccomp_program struct seccomp_program *p = build(json, NULL);
        int st = run_filtered(p, child_getpgid0, NULL);
        if (!killed_by_sigsys(st))
            fprintf(stderr, "%s: child status %#x\n", killers[i], st);
        CHECK(&c, killed_by_sigsys(st));
    }
    /* LOG allows (and logs); TRACE without a tracer fails with ENOSYS. */
    cleanup_seccomp_program struct seccomp_program *log =
        build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpgid\"],\"action\":"
              "\"SCMP_ACT_LOG\"}]}",
              NULL);
    CHECK(&c, exited_ok(run_filtered(log, child_getpgid0, NULL)));
    int enosys = ENOSYS;
    cleanup_seccomp_program struct seccomp_program *trace =
        build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getppid\"],\"action\":"
              "\"SCMP_ACT_TRACE\"}]}",
              NULL);
    CHECK(&c, exited_ok(run_filtered(trace, child_expect_errno, &enosys)));

    /* Default actions: an allow-list with ERRNO(defaultErrnoRet) ...
     * (sigaltstack: ASan's no-return hook asks for the signal stack before
     * the child's exit) */
    int eopnotsupp = EOPNOTSUPP;
    cleanup_seccomp_program struct seccomp_program *deny =
        build("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":95,\"syscalls\":[{\"names\":["
              "\"exit_group\",\"exit\",\"sigaltstack\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
              NULL);
    CHECK(&c, exited_ok(run_filtered(deny, child_expect_errno, &eopnotsupp)));
    /* ... and KILL_PROCESS: what is listed works, the rest kills. */
    cleanup_seccomp_program struct seccomp_program *strict =
        build("{\"defaultAction\":\"SCMP_ACT_KILL_PROCESS\",\"syscalls\":[{\"names\":[\"exit_group\","
              "\"exit\",\"sigaltstack\","
              "\"getpgid\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
              NULL);
    CHECK(&c, exited_ok(run_filtered(strict, child_getpgid0, NULL)));
    CHECK(&c, killed_by_sigsys(run_filtered(strict, child_expect_errno, &eopnotsupp)));
}

/* ---- flags ---- */

struct tsync_state {
    int pipe_fd;
    const char *path;
    int result;
};

static void *tsync_thread(void *arg)
{
    struct tsync_state *t = arg;
    char b;
    if (read(t->pipe_fd, &b, 1) != 1)
        t->result = -2;
    else
        t->result = syscall(SYS_mkdir, t->path, 0700) == -1 && errno == EPERM ? 1 : 0;
    return NULL;
}

/* Start a thread, load the filter from the main thread, then let the
 * thread try mkdir: with TSYNC it is filtered too. Exit 0 if filtered. */
static int tsync_run(const struct seccomp_program *p, const char *path)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);
        int fds[2];
        if (pipe(fds) < 0)
            _exit(90);
        struct tsync_state t = {fds[0], path, -1};
        pthread_t th;
        if (pthread_create(&th, NULL, tsync_thread, &t) != 0)
            _exit(91);
        if (seccomp_program_load(p, NULL, NULL) < 0)
            _exit(92);
        if (write(fds[1], "x", 1) != 1)
            _exit(93);
        pthread_join(th, NULL);
        _exit(t.result == 1 ? 0 : 1);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

static int child_status_seccomp(void *arg)
{
    (void)arg;
    cleanup_free char *status = NULL;
    if (file_read_whole("/proc/self/status", 1 << 16, &status, NULL, NULL) < 0)
        return 1;
    return strstr(status, "\nSeccomp:\t2\n") ? 0 : 2;
}

static void test_flags(void)
{
    cleanup_free char *dir = xasprintf("%s/tsync", tmpdir);
    cleanup_seccomp_program struct seccomp_program *sync = build(
        "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\"],\"syscalls\":[{"
        "\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\"}]}",
        NULL);
    CHECK(&c, exited_ok(tsync_run(sync, dir)));
    CHECK(&c, !fs_exists(dir));
    /* Control: without TSYNC the other thread stays unfiltered. */
    cleanup_seccomp_program struct seccomp_program *nosync =
        build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":"
              "\"SCMP_ACT_ERRNO\"}]}",
              NULL);
    int st = tsync_run(nosync, dir);
    CHECK(&c, st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECK(&c, fs_exists(dir));
    rmdir(dir);

    cleanup_seccomp_program struct seccomp_program *logf =
        build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\","
              "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":"
              "\"SCMP_ACT_ERRNO\"}]}",
              NULL);
    CHECK(&c, exited_ok(run_filtered(logf, child_status_seccomp, NULL)));
}

/* ---- the cache and the state copy load like a fresh compile ---- */

static void test_cached_programs(void)
{
    cleanup_free char *cache = xasprintf("%s/seccomp-cache", tmpdir);
    cleanup_free char *dir = xasprintf("%s/cached", tmpdir);
    const char *json =
        "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],"
        "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}";
    cleanup_seccomp_program struct seccomp_program *first = build(json, cache);
    cleanup_seccomp_program struct seccomp_program *hit = build(json, cache);
    CHECK(&c, first && seccomp_program_was_compiled(first));
    CHECK(&c, hit && !seccomp_program_was_compiled(hit));
    struct mkdir_case m = {dir, EACCES};
    CHECK(&c, exited_ok(run_filtered(hit, child_mkdir, &m)));

    cleanup_close int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(&c, hit && seccomp_program_save(hit, dfd, SECCOMP_STATE_FILE, NULL) == 0);
    cleanup_seccomp_program struct seccomp_program *copy = NULL;
    CHECK(&c, seccomp_program_load_file(dfd, SECCOMP_STATE_FILE, &copy, NULL) == 0);
    CHECK(&c, exited_ok(run_filtered(copy, child_mkdir, &m)));
    CHECK(&c, !fs_exists(dir));
}

/* ---- podman's default profile ---- */

static int child_podman(void *arg)
{
    const char *dir = arg;
    /* Allowed. */
    if (syscall(SYS_mkdir, dir, 0700) != 0)
        return 1;
    if (syscall(SYS_rmdir, dir) != 0)
        return 2;
    /* Explicit EPERM rule (needs CAP_SYS_ADMIN, which podman does not give). */
    if (!(syscall(SYS_bpf, 0, NULL, 0) == -1 && errno == EPERM))
        return 3;
    /* Not listed at all: defaultErrnoRet ENOSYS (NULL args: EFAULT without a filter). */
    if (!(syscall(SYS_add_key, NULL, NULL, NULL, 0, 0) == -1 && errno == ENOSYS))
        return 4;
    /* personality: only the listed personas. */
    if (syscall(SYS_personality, 0xffffffffUL) < 0)
        return 5;
    if (!(syscall(SYS_personality, 0x1234UL) == -1 && errno == ENOSYS))
        return 6;
    /* socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT) is EINVAL without CAP_AUDIT_WRITE, other sockets work. */
    if (!(syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 9) == -1 && errno == EINVAL))
        return 7;
    long fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return 8;
    close((int)fd);
    return 0;
}

static void test_podman_profile(void)
{
    struct spec_seccomp *s = testlib_seccomp_podman();
    if (s == NULL) {
        fprintf(stderr, "podman's seccomp profile not available: skipped\n");
        return;
    }
    cleanup_seccomp_program struct seccomp_program *p = build_spec(s);
    testlib_seccomp_free(s);
    CHECK(&c, p != NULL);
    cleanup_free char *dir = xasprintf("%s/podman", tmpdir);
    int st = run_filtered(p, child_podman, dir);
    if (!exited_ok(st))
        fprintf(stderr, "podman profile: child status %#x\n", st);
    CHECK(&c, exited_ok(st));
}

/* ---- NOTIFY: an agent receives the fd over listenerPath and answers ---- */

static bool str_is(yajl_val v, const char *want)
{
    const char *got = v && YAJL_IS_STRING(v) ? v->u.string : NULL;
    return got && strcmp(got, want) == 0;
}

static int agent_serve(int lsock)
{
    int conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
        return 1;
    char buf[8192];
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {buf, sizeof(buf) - 1};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b, .msg_controllen = sizeof(control.b)};
    ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    if (n <= 0)
        return 2;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    if (cm == NULL || cm->cmsg_type != SCM_RIGHTS)
        return 3;
    int nfd;
    memcpy(&nfd, CMSG_DATA(cm), sizeof(int));
    size_t len = (size_t)n;
    while (len < sizeof(buf) - 1 && (n = read(conn, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(conn);

    /* The container process state, as the spec describes it. */
    yajl_val doc = NULL;
    if (json_parse(buf, len, "state", &doc, NULL) < 0)
        return 4;
    yajl_val fds = json_object_get(doc, "fds");
    yajl_val meta = json_object_get(doc, "metadata");
    yajl_val pid = json_object_get(doc, "pid");
    yajl_val state = json_object_get(doc, "state");
    yajl_val id = json_object_get(state, "id");
    yajl_val ver = json_object_get(doc, "ociVersion");
    bool ok = fds && YAJL_IS_ARRAY(fds) && fds->u.array.len == 1 &&
              str_is(fds->u.array.values[0], "seccompFd") && str_is(meta, "agent-meta") && pid &&
              YAJL_IS_INTEGER(pid) && str_is(id, "ctr1") && ver && YAJL_IS_STRING(ver);
    pid_t want_pid = pid && YAJL_IS_INTEGER(pid) ? (pid_t)YAJL_GET_INTEGER(pid) : 0;
    yajl_tree_free(doc);
    if (!ok)
        return 5;

    struct seccomp_notif req;
    memset(&req, 0, sizeof(req));
    if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
        return 6;
    if (req.data.nr != SYS_getpgid || req.data.args[0] != 777 || (pid_t)req.pid != want_pid)
        return 7;
    struct seccomp_notif_resp resp = {.id = req.id, .val = 4242, .error = 0, .flags = 0};
    if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0)
        return 8;
    close(nfd);
    return 0;
}

static void test_notify(void)
{
    cleanup_free char *sock_path = xasprintf("%s/agent.sock", tmpdir);
    cleanup_free char *json = xasprintf(
        "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"%s\",\"listenerMetadata\":\"agent-meta\","
        "\"flags\":[\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"],"
        "\"syscalls\":[{\"names\":[\"getpgid\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
        sock_path);
    cleanup_seccomp_program struct seccomp_program *p = build(json, NULL);
    CHECK(&c, p && seccomp_program_uses_notify(p));
    if (p == NULL)
        return;

    int lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
    CHECK(&c,
          lsock >= 0 && bind(lsock, (struct sockaddr *)&addr, sizeof(addr)) == 0 && listen(lsock, 1) == 0);

    fflush(NULL);
    pid_t agent = fork();
    if (agent == 0) {
        alarm(20);
        _exit(agent_serve(lsock));
    }
    close(lsock);
    pid_t target = fork();
    if (target == 0) {
        alarm(20);
        int nfd = -1;
        cleanup_error struct keel_error *err = NULL;
        if (seccomp_program_load(p, &nfd, &err) < 0 || nfd < 0) {
            fprintf(stderr, "load: %s\n", error_msg(err));
            _exit(100);
        }
        cleanup_free char *state =
            xasprintf("{\"ociVersion\":\"1.2.0\",\"id\":\"ctr1\",\"status\":\"creating\","
                      "\"pid\":%d,\"bundle\":\"/b\"}",
                      (int)getpid());
        if (seccomp_notify_send(sock_path, nfd, state, "agent-meta", &err) < 0) {
            fprintf(stderr, "send: %s\n", error_msg(err));
            _exit(101);
        }
        close(nfd);
        long r = syscall(SYS_getpgid, 777);
        _exit(r == 4242 ? 0 : 102);
    }
    int ast = -1, tst = -1;
    if (agent > 0)
        waitpid(agent, &ast, 0);
    if (target > 0)
        waitpid(target, &tst, 0);
    if (!exited_ok(ast) || !exited_ok(tst))
        fprintf(stderr, "notify: agent status %#x, target status %#x\n", ast, tst);
    CHECK(&c, exited_ok(ast));
    CHECK(&c, exited_ok(tst));
    unlink(sock_path);

    /* TSYNC with a listener: the kernel wants TSYNC_ESRCH added, and still
     * hands out the fd. */
    cleanup_free char *json_tsync =
        xasprintf("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"%s\",\"flags\":[\"SECCOMP_FILTER_"
                  "FLAG_TSYNC\"],"
                  "\"syscalls\":[{\"names\":[\"getpgid\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
                  sock_path);
    cleanup_seccomp_program struct seccomp_program *ts = build(json_tsync, NULL);
    fflush(NULL);
    pid_t tchild = fork();
    if (tchild == 0) {
        alarm(20);
        int nfd = -1;
        if (ts == NULL || seccomp_program_load(ts, &nfd, NULL) < 0)
            child_exit(1);
        child_exit(nfd >= 0 ? 0 : 2);
    }
    int tsst = -1;
    if (tchild > 0)
        waitpid(tchild, &tsst, 0);
    CHECK(&c, exited_ok(tsst));

    /* No agent listening: sending is an error naming the path. */
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, seccomp_notify_send(sock_path, 0, "{\"ociVersion\":\"1.2.0\",\"pid\":1}", NULL, &err) < 0);
    CHECK(&c, err && strstr(error_msg(err), sock_path) != NULL);
}

int main(void)
{
    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0) {
        fprintf(stderr, "seccomp is not available here: skipped\n");
        return 77;
    }
    char tmpl[] = "/tmp/keel-test-seccomp-live.XXXXXX";
    tmpdir = mkdtemp(tmpl);
    if (tmpdir == NULL)
        return 1;
    /* The probe: every flag keel passes is known to this (>= 5.19) kernel,
     * a made-up one is not. */
    for (unsigned bit = 0; bit <= 5; bit++)
        CHECK(&c, seccomp_kernel_supports_flag(1u << bit));
    CHECK(&c, !seccomp_kernel_supports_flag(1u << 30));
    CHECK(&c, prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0); /* the probes installed nothing */
    test_errno_rules();
    test_operators();
    test_actions();
    test_flags();
    test_cached_programs();
    test_podman_profile();
    test_notify();
    CHECK(&c, fs_remove_tree(tmpdir, NULL) == 0);
    return unit_finish(&c);
}
