/* Unit tests of the lifecycle's pure parts: state.json round trip, status
 * derivation against a recycled pid, /proc/PID/stat parsing, signal names,
 * the sync protocol (errors and fds), hooks (stdin, timeout, EPIPE), and
 * cpu lists. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "error.h"
#include "fileutil.h"
#include "hooks.h"
#include "process.h"
#include "state.h"
#include "sync.h"
#include "unit.h"
#include "xalloc.h"

static void test_proc_stat(struct unit_counts *c)
{
    unsigned long long start = 0;
    char st = 0;
    CHECK(c, proc_stat_read(getpid(), &start, &st) == 0);
    CHECK(c, start > 0);
    CHECK(c, st == 'R');
    CHECK(c, proc_stat_read(0x7ffffff0, &start, NULL) < 0);
}

static void test_state_roundtrip(struct unit_counts *c, const char *root)
{
    cleanup_error struct keel_error *err = NULL;
    int fd = state_dir_create(root, "ct1", &err);
    CHECK(c, fd >= 0);
    cleanup_error struct keel_error *dup_err = NULL;
    CHECK(c, state_dir_create(root, "ct1", &dup_err) < 0);
    CHECK(c, dup_err && strstr(dup_err->msg, "already exists"));

    struct container_state s = {.id = (char *)"ct1",
                                .oci_version = (char *)"1.2.0",
                                .pid = getpid(),
                                .bundle = (char *)"/b",
                                .rootfs = (char *)"/b/rootfs",
                                .created = (char *)"2026-01-01T00:00:00.000000000Z",
                                .owner = (char *)"",
                                .cgroup = (char *)"{\"x\":1}",
                                .pid_ns = true};
    proc_stat_read(getpid(), &s.pid_start, NULL);
    CHECK(c, state_write(fd, &s, &err) == 0);
    cleanup_container_state struct container_state *r = NULL;
    CHECK(c, state_read(fd, "ct1", &r, &err) == 0);
    if (r) {
        CHECK_STREQ(c, r->bundle, "/b");
        CHECK_STREQ(c, r->rootfs, "/b/rootfs");
        CHECK_STREQ(c, r->cgroup, "{\"x\":1}");
        CHECK(c, r->pid == getpid() && r->pid_start == s.pid_start && r->pid_ns);
        /* alive and no fifo: running; a fifo: created */
        CHECK(c, state_status(fd, r) == CONTAINER_RUNNING);
        CHECK(c, mkfifoat(fd, STATE_FIFO, 0600) == 0);
        CHECK(c, state_status(fd, r) == CONTAINER_CREATED);
        /* the same pid with another start time is a recycled pid */
        r->pid_start++;
        CHECK(c, state_status(fd, r) == CONTAINER_STOPPED);
        cleanup_free char *json = state_oci_json(r, CONTAINER_STOPPED, true, false);
        CHECK(c, strstr(json, "\"status\":\"stopped\"") && strstr(json, "\"pid\":0"));
        CHECK(c, strstr(json, "\"annotations\":{}") != NULL);
    }
    /* no state.json (a directory that is not a container): an error, also
     * when the caller does not want the message */
    int empty = state_dir_create(root, "not-a-container", &err);
    CHECK(c, empty >= 0);
    struct container_state *none = NULL;
    CHECK(c, state_read(empty, "not-a-container", &none, NULL) < 0 && none == NULL);
    close(empty);
    close(fd);
    /* a second opener waits for the lock; a shared one after release works */
    fd = state_dir_open(root, "ct1", false, &err);
    CHECK(c, fd >= 0);
    close(fd);
    CHECK(c, state_dir_remove(root, "ct1", &err) == 0);
    cleanup_error struct keel_error *gone = NULL;
    CHECK(c, state_dir_open(root, "ct1", true, &gone) < 0);
    CHECK(c, gone && strstr(gone->msg, "does not exist"));
}

/* recovery.json keeps the first state.json when the later one is damaged. */
static void test_state_recovery(struct unit_counts *c, const char *root)
{
    cleanup_error struct keel_error *err = NULL;
    cleanup_close int fd = state_dir_create(root, "ct2", &err);
    CHECK(c, fd >= 0);
    struct container_state s = {.id = (char *)"ct2",
                                .oci_version = (char *)"1.2.0",
                                .pid = 4242,
                                .pid_start = 7,
                                .bundle = (char *)"/b",
                                .cgroup = (char *)"{\"first\":1}"};
    CHECK(c, state_write(fd, &s, &err) == 0);
    CHECK(c, state_keep_recovery(fd, &err) == 0);
    CHECK(c, state_keep_recovery(fd, &err) == 0); /* again: already there is fine */
    s.cgroup = (char *)"{\"final\":1}";
    CHECK(c, state_write(fd, &s, &err) == 0);
    /* a keel killed between the exchange and the unlink leaves the old
     * state (recovery.json's inode) at state.json.tmp: never written through */
    CHECK(c, linkat(fd, STATE_RECOVERY_FILE, fd, STATE_FILE ".tmp", 0) == 0);
    CHECK(c, state_write(fd, &s, &err) == 0);
    CHECK(c, faccessat(fd, STATE_FILE ".tmp", F_OK, 0) < 0 && errno == ENOENT);
    /* damaged in place, as an editor or a full disk would */
    cleanup_close int w = openat(fd, STATE_FILE, O_WRONLY | O_TRUNC | O_CLOEXEC);
    CHECK(c, w >= 0 && write(w, "{\"id\":", 6) == 6);
    cleanup_container_state struct container_state *bad = NULL;
    cleanup_error struct keel_error *read_err = NULL;
    CHECK(c, state_read(fd, "ct2", &bad, &read_err) < 0);
    CHECK(c, read_err && strstr(read_err->msg, "ct2") && strstr(read_err->msg, STATE_FILE));
    cleanup_container_state struct container_state *r = NULL;
    CHECK(c, state_read_file(fd, "ct2", STATE_RECOVERY_FILE, &r, &err) == 0);
    if (r) {
        CHECK(c, r->pid == 4242 && r->pid_start == 7);
        CHECK_STREQ(c, r->cgroup, "{\"first\":1}");
    }
}

static void test_now(struct unit_counts *c)
{
    time_t before = time(NULL);
    cleanup_free char *now = state_now_rfc3339();
    struct tm tm;
    gmtime_r(&before, &tm);
    char want[32];
    strftime(want, sizeof want, "%Y-%m-%dT%H:%M", &tm);
    CHECK(c, strlen(now) == 30 && now[29] == 'Z' && now[19] == '.');
    CHECK(c, strncmp(now, want, 13) == 0); /* same date and hour (minutes may tick) */
}

static void test_signals(struct unit_counts *c)
{
    int sig = 0;
    CHECK(c, signal_parse("TERM", &sig, NULL) == 0 && sig == SIGTERM);
    CHECK(c, signal_parse("SIGKILL", &sig, NULL) == 0 && sig == SIGKILL);
    CHECK(c, signal_parse("sigusr1", &sig, NULL) == 0 && sig == SIGUSR1);
    CHECK(c, signal_parse("15", &sig, NULL) == 0 && sig == 15);
    CHECK(c, signal_parse("RTMIN+2", &sig, NULL) == 0 && sig == SIGRTMIN + 2);
    CHECK(c, signal_parse("NOPE", &sig, NULL) < 0);
    CHECK(c, signal_parse("0", &sig, NULL) < 0);
    CHECK(c, signal_parse("99", &sig, NULL) < 0);
}

static void test_sync(struct unit_counts *c)
{
    int sv[2];
    CHECK(c, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    cleanup_error struct keel_error *err = NULL;
    CHECK(c, sync_send(sv[0], SYNC_CONTINUE, 0, "abc\0def", 7, -1, &err) == 0);
    struct sync_msg m = {.fd = -1};
    CHECK(c, sync_expect(sv[1], SYNC_CONTINUE, &m, &err) == 0);
    CHECK(c, m.len == 7 && memcmp(m.payload, "abc\0def", 7) == 0 && m.fd < 0);
    sync_msg_release(&m);
    /* an fd travels */
    CHECK(c, sync_send(sv[0], SYNC_PTY, 0, NULL, 0, 1, &err) == 0);
    CHECK(c, sync_expect(sv[1], SYNC_PTY, &m, &err) == 0);
    CHECK(c, m.fd > 2);
    sync_msg_release(&m);
    /* an error becomes the receiver's error, errno kept */
    struct keel_error e = {.errnum = EPERM,
                           .msg = (char *)"mount \"proc\" to \"/proc\": Operation not permitted"};
    sync_send_error(sv[0], &e);
    CHECK(c, sync_expect(sv[1], SYNC_READY, &m, &err) < 0);
    CHECK(c, err && err->errnum == EPERM && strcmp(err->msg, e.msg) == 0);
    error_free(err);
    err = NULL;
    /* the wrong type is a protocol error; EOF names the init */
    CHECK(c, sync_send(sv[0], SYNC_READY, 0, NULL, 0, -1, NULL) == 0);
    CHECK(c, sync_expect(sv[1], SYNC_HOOKS_DONE, &m, &err) < 0);
    CHECK(c, err && strstr(err->msg, "expected"));
    error_free(err);
    err = NULL;
    close(sv[0]);
    CHECK(c, sync_recv(sv[1], &m, &err) < 0);
    CHECK(c, err && strstr(err->msg, "exited"));
    close(sv[1]);
}

static void test_hooks(struct unit_counts *c, const char *dir)
{
    cleanup_free char *out = xasprintf("%s/hook-out", dir);
    cleanup_free char *script = xasprintf("cat > %s; echo \"$A\" >> %s", out, out);
    char *args[] = {(char *)"sh", (char *)"-c", script, NULL};
    char *env[] = {(char *)"A=from-env", NULL};
    struct spec_hook h = {.path = (char *)"/bin/sh", .args = args, .env = env};
    struct spec_hook_list list = {&h, 1};
    cleanup_error struct keel_error *err = NULL;
    CHECK(c, hooks_run(&list, "prestart", "{\"id\":\"x\"}", &err) == 0);
    cleanup_free char *text = NULL;
    CHECK(c, file_read_whole(out, 4096, &text, NULL, &err) == 0);
    CHECK_STREQ(c, text, "{\"id\":\"x\"}from-env\n");

    /* does not read stdin, the state is large: no SIGPIPE, success */
    size_t big = 1 << 20;
    cleanup_free char *state = xmalloc(big + 1);
    memset(state, 'x', big);
    state[big] = '\0';
    struct spec_hook t = {.path = (char *)"/bin/true"};
    struct spec_hook_list tl = {&t, 1};
    CHECK(c, hooks_run(&tl, "createRuntime", state, &err) == 0);

    /* failure names the kind, index, path and status; output is kept */
    char *fargs[] = {(char *)"sh", (char *)"-c", (char *)"echo boom >&2; exit 4", NULL};
    struct spec_hook f = {.path = (char *)"/bin/sh", .args = fargs};
    struct spec_hook_list fl = {&f, 1};
    cleanup_error struct keel_error *ferr = NULL;
    CHECK(c, hooks_run(&fl, "poststop", "{}", &ferr) < 0);
    CHECK(c, ferr && strstr(ferr->msg, "poststop hook #0") && strstr(ferr->msg, "status 4") &&
                 strstr(ferr->msg, "boom"));

    /* timeout */
    char *sargs[] = {(char *)"sh", (char *)"-c", (char *)"exec sleep 20", NULL};
    struct spec_hook s = {.path = (char *)"/bin/sh", .args = sargs, .timeout = {true, 1}};
    struct spec_hook_list sl = {&s, 1};
    cleanup_error struct keel_error *serr = NULL;
    CHECK(c, hooks_run(&sl, "prestart", "{}", &serr) < 0);
    CHECK(c, serr && strstr(serr->msg, "timeout"));

    /* a missing program */
    struct spec_hook m = {.path = (char *)"/no/such/hook"};
    struct spec_hook_list ml = {&m, 1};
    cleanup_error struct keel_error *merr = NULL;
    CHECK(c, hooks_run(&ml, "prestart", "{}", &merr) < 0);
    CHECK(c, merr && strstr(merr->msg, "/no/such/hook"));
}

static void test_cpu_list(struct unit_counts *c)
{
    cpu_set_t set;
    CHECK(c, process_parse_cpu_list("0-2,5", &set, sizeof set, NULL) == 0);
    CHECK(c, CPU_COUNT(&set) == 4 && CPU_ISSET(5, &set) && !CPU_ISSET(3, &set));
    CHECK(c, process_parse_cpu_list("3-1", &set, sizeof set, NULL) < 0);
    CHECK(c, process_parse_cpu_list("a", &set, sizeof set, NULL) < 0);
    CHECK(c, process_parse_cpu_list("1,", &set, sizeof set, NULL) == 0);
}

int main(void)
{
    struct unit_counts c = {0, 0};
    char tmpl[] = "/tmp/keel-test-state-XXXXXX";
    if (!mkdtemp(tmpl))
        return 1;
    cleanup_free char *root = xasprintf("%s/root", tmpl);
    test_proc_stat(&c);
    test_state_roundtrip(&c, root);
    test_state_recovery(&c, root);
    test_now(&c);
    test_signals(&c);
    test_sync(&c);
    test_hooks(&c, tmpl);
    test_cpu_list(&c);
    fs_remove_tree(tmpl, NULL);
    return unit_finish(&c);
}
