/* Handing the seccomp listener fd to the agent at listenerPath, as the
 * runtime-spec's "container process state" describes: one connection, one
 * JSON document, the fd in SCM_RIGHTS of the first sendmsg, then close. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "json.h"
#include "seccomp_internal.h"
#include "xalloc.h"

static void yajl_gen_freep(yajl_gen *g)
{
    if (*g)
        yajl_gen_free(*g);
}

/* pid > 0: the process the fd belongs to when it is not the state's (an
 * exec'd one); the state's own pid stays the container's init. */
static int build_process_state(const char *state_json, long pid_of_fd, const char *metadata, char **out,
                               size_t *len, struct keel_error **err)
{
    cleanup_json yajl_val state = NULL;
    if (json_parse(state_json, strlen(state_json), "container state", &state, err) < 0)
        return -1;
    if (json_expect_object(state, "state", err) < 0)
        return -1;
    int64_t pid = 0;
    yajl_val v = json_object_get(state, "pid");
    if (v == NULL)
        return error_set(err, 0, "container state: no pid");
    if (json_get_int64(v, "state.pid", &pid, err) < 0)
        return -1;
    cleanup_free char *version = NULL;
    v = json_object_get(state, "ociVersion");
    if (v == NULL)
        return error_set(err, 0, "container state: no ociVersion");
    if (json_get_string(v, "state.ociVersion", &version, err) < 0)
        return -1;

    __attribute__((cleanup(yajl_gen_freep))) yajl_gen g = json_gen_new(false);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "ociVersion", version);
    json_gen_key(g, "fds");
    yajl_gen_array_open(g);
    json_gen_string(g, "seccompFd");
    yajl_gen_array_close(g);
    json_gen_kv_int(g, "pid", pid_of_fd > 0 ? (long long)pid_of_fd : (long long)pid);
    if (metadata)
        json_gen_kv_string(g, "metadata", metadata);
    json_gen_key(g, "state");
    json_gen_value(g, state);
    yajl_gen_map_close(g);
    *out = json_gen_dup(g, len);
    return 0;
}

int seccomp_notify_connect(const char *listener_path, int *sock_out, struct keel_error **err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(listener_path) >= sizeof(addr.sun_path))
        return error_set(err, ENAMETOOLONG, "linux.seccomp.listenerPath `%s`", listener_path);
    strcpy(addr.sun_path, listener_path);
    cleanup_close int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return error_set(err, errno, "creating a socket for the seccomp listener");
    if (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        return error_set(err, errno, "connecting to the seccomp listener `%s`", listener_path);
    *sock_out = steal_fd(&sock);
    return 0;
}

static int send_process_state(int sock, const char *listener_path, int notify_fd, long pid_of_fd,
                              const char *state_json, const char *metadata, struct keel_error **err)
{
    cleanup_free char *payload = NULL;
    size_t len = 0;
    if (build_process_state(state_json, pid_of_fd, metadata, &payload, &len, err) < 0)
        return error_prefix(err, "seccomp listener `%s`", listener_path);

    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct iovec iov = {.iov_base = payload, .iov_len = len};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &notify_fd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return error_set(err, errno, "sending the seccomp fd to `%s`", listener_path);
    /* The fd went with the first bytes; the rest is plain payload. */
    while ((size_t)n < len) {
        ssize_t m = send(sock, payload + n, len - (size_t)n, MSG_NOSIGNAL);
        if (m < 0 && errno == EINTR)
            continue;
        if (m < 0)
            return error_set(err, errno, "sending the container state to `%s`", listener_path);
        n += m;
    }
    return 0;
}

int seccomp_notify_send_on(int sock, const char *listener_path, int notify_fd, const char *state_json,
                           const char *metadata, struct keel_error **err)
{
    return send_process_state(sock, listener_path, notify_fd, 0, state_json, metadata, err);
}

int seccomp_notify_send_process(const char *listener_path, int notify_fd, long pid, const char *state_json,
                                const char *metadata, struct keel_error **err)
{
    cleanup_close int sock = -1;
    if (seccomp_notify_connect(listener_path, &sock, err) < 0)
        return -1;
    if (send_process_state(sock, listener_path, notify_fd, pid, state_json, metadata, err) < 0)
        return -1;
    if (close(steal_fd(&sock)) < 0)
        return error_set(err, errno, "closing the connection to `%s`", listener_path);
    return 0;
}

int seccomp_notify_send(const char *listener_path, int notify_fd, const char *state_json,
                        const char *metadata, struct keel_error **err)
{
    return seccomp_notify_send_process(listener_path, notify_fd, 0, state_json, metadata, err);
}
