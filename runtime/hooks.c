#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "hooks.h"
#include "strbuf.h"
#include "xalloc.h"

#define HOOK_OUTPUT_MAX 4096

static long long hooks_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The child side: never returns. Only async-signal-safe calls after fork. */
static void hooks_exec_child(const struct spec_hook *h, int in_fd, int out_fd)
{
    static char *const empty_env[] = {NULL};
    char *argv_default[] = {h->path, NULL};
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
        _exit(127);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGPIPE, SIG_DFL);
    syscall(SYS_close_range, 3, ~0U, 0);
    execve(h->path, h->args ? h->args : argv_default, h->env ? h->env : empty_env);
    char msg[] = "exec failed\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(127);
    _exit(127);
}

static int hooks_run_one(const struct spec_hook *h, const char *kind, size_t index, const char *state_json,
                         struct keel_error **err)
{
    int sv[2], out[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return error_set(err, errno, "%s hook #%zu `%s`: socketpair", kind, index, h->path);
    cleanup_close int in_parent = sv[0], in_child = sv[1];
    if (pipe2(out, O_CLOEXEC) < 0)
        return error_set(err, errno, "%s hook #%zu `%s`: pipe", kind, index, h->path);
    cleanup_close int out_read = out[0], out_write = out[1];

    pid_t pid = fork();
    if (pid < 0)
        return error_set(err, errno, "%s hook #%zu `%s`: fork", kind, index, h->path);
    if (pid == 0)
        hooks_exec_child(h, in_child, out_write);
    close(steal_fd(&in_child));
    close(steal_fd(&out_write));
    cleanup_close int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

    /* The state goes in first; a hook that exits without reading it only
     * makes send fail with EPIPE, which is not an error of the hook. */
    size_t len = strlen(state_json), off = 0;
    fcntl(in_parent, F_SETFL, O_NONBLOCK);
    fcntl(out_read, F_SETFL, O_NONBLOCK);

    long long deadline = h->timeout.set ? hooks_now_ms() + h->timeout.value * 1000 : -1;
    struct strbuf output = STRBUF_INIT;
    bool exited = false, timed_out = false, out_open = true;
    while (!exited || out_open) {
        struct pollfd p[3];
        int np = 0, ipid = -1, iout = -1, iin = -1;
        if (pidfd >= 0 && !exited) {
            p[np] = (struct pollfd){pidfd, POLLIN, 0};
            ipid = np++;
        }
        if (out_open) {
            p[np] = (struct pollfd){out_read, POLLIN, 0};
            iout = np++;
        }
        if (in_parent >= 0) {
            p[np] = (struct pollfd){in_parent, POLLOUT, 0};
            iin = np++;
        }
        int wait_ms = -1;
        if (deadline >= 0) {
            long long left = deadline - hooks_now_ms();
            wait_ms = left > 0 ? (int)left : 0;
        }
        if (exited)
            wait_ms = 0; /* the hook is gone: drain what is buffered, do not wait for its children */
        if (pidfd < 0 && !exited && wait_ms < 0)
            wait_ms = 100;
        int r = poll(p, (nfds_t)np, wait_ms);
        if (r < 0 && errno != EINTR)
            break;
        if (r == 0) {
            if (exited)
                break;
            if (deadline >= 0 && hooks_now_ms() >= deadline) {
                kill(pid, SIGKILL);
                timed_out = true;
                deadline = -1;
            }
        }
        if (iin >= 0 && p[iin].revents) {
            ssize_t n = send(in_parent, state_json + off, len - off, MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n;
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                off = len; /* EPIPE: the hook did not want it */
            if (off >= len)
                close(steal_fd(&in_parent));
        }
        if (iout >= 0 && p[iout].revents) {
            char buf[1024];
            ssize_t n = read(out_read, buf, sizeof buf);
            if (n > 0 && output.len < HOOK_OUTPUT_MAX)
                strbuf_append(&output, buf, (size_t)n);
            else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                out_open = false;
        }
        if ((ipid >= 0 && p[ipid].revents) || pidfd < 0) {
            int st;
            if (waitpid(pid, &st, pidfd < 0 ? WNOHANG : 0) == pid) {
                exited = true;
                pid = -st - 1; /* keep the status, mark reaped */
            }
        }
    }
    if (!exited) {
        int st;
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        pid = -st - 1;
    }
    int status = -pid - 1;
    cleanup_free char *text = strbuf_detach(&output);
    size_t tl = strlen(text);
    while (tl > 0 && (text[tl - 1] == '\n' || text[tl - 1] == ' '))
        text[--tl] = '\0';
    const char *sep = tl ? ": " : "";
    if (timed_out)
        return error_set(err, 0, "%s hook #%zu `%s` did not finish within its timeout of %lld s%s%s", kind,
                         index, h->path, (long long)h->timeout.value, sep, text);
    if (WIFSIGNALED(status))
        return error_set(err, 0, "%s hook #%zu `%s` was killed by signal %d%s%s", kind, index, h->path,
                         WTERMSIG(status), sep, text);
    if (WEXITSTATUS(status) == 127 && strcmp(text, "exec failed") == 0)
        return error_set(err, ENOENT, "%s hook #%zu: cannot execute `%s`", kind, index, h->path);
    if (WEXITSTATUS(status) != 0)
        return error_set(err, 0, "%s hook #%zu `%s` exited with status %d%s%s", kind, index, h->path,
                         WEXITSTATUS(status), sep, text);
    return 0;
}

int hooks_run(const struct spec_hook_list *list, const char *kind, const char *state_json,
              struct keel_error **err)
{
    for (size_t i = 0; i < list->n; i++)
        if (hooks_run_one(&list->items[i], kind, i, state_json, err) < 0)
            return -1;
    return 0;
}

int hooks_run_all(const struct spec_hook_list *list, const char *kind, const char *state_json,
                  struct keel_error **err)
{
    struct strbuf all = STRBUF_INIT;
    for (size_t i = 0; i < list->n; i++) {
        cleanup_error struct keel_error *e = NULL;
        if (hooks_run_one(&list->items[i], kind, i, state_json, &e) < 0) {
            if (all.len)
                strbuf_puts(&all, "; ");
            strbuf_puts(&all, e->msg);
        }
    }
    if (all.len == 0) {
        strbuf_release(&all);
        return 0;
    }
    cleanup_free char *msg = strbuf_detach(&all);
    return error_set(err, 0, "%s", msg);
}
