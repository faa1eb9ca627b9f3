#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "seccomp.h"
#include "sync.h"
#include "xalloc.h"

struct sync_header {
    uint32_t type;
    int32_t errnum;
    uint32_t len;
};

void sync_msg_release(struct sync_msg *m)
{
    free(m->payload);
    m->payload = NULL;
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
}

const char *sync_type_name(enum sync_type t)
{
    switch (t) {
    case SYNC_CONTINUE:
        return "continue";
    case SYNC_HOOKS_REQUEST:
        return "hooks-request";
    case SYNC_HOOKS_DONE:
        return "hooks-done";
    case SYNC_PTY:
        return "pty";
    case SYNC_READY:
        return "ready";
    case SYNC_ERROR:
        return "error";
    case SYNC_SECCOMP_LISTENER:
        return "seccomp-listener";
    }
    return "unknown";
}

int sync_send(int sock, enum sync_type type, int errnum, const char *payload, size_t len, int pass_fd,
              struct keel_error **err)
{
    if (len > SYNC_MAX_PAYLOAD)
        return error_set(err, 0, "sync message %s: payload of %zu bytes is too large", sync_type_name(type),
                         len);
    struct sync_header h = {.type = type, .errnum = errnum, .len = (uint32_t)len};
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)payload, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } cbuf;
    if (pass_fd >= 0) {
        memset(&cbuf, 0, sizeof cbuf);
        mh.msg_control = cbuf.buf;
        mh.msg_controllen = sizeof cbuf.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    ssize_t n;
    do
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return error_set(err, errno, "sending sync message %s", sync_type_name(type));
    return 0;
}

void sync_send_error(int sock, const struct keel_error *e)
{
    const char *msg = error_msg(e);
    size_t len = strlen(msg);
    if (len > SYNC_MAX_PAYLOAD)
        len = SYNC_MAX_PAYLOAD;
    sync_send(sock, SYNC_ERROR, e ? e->errnum : 0, msg, len, -1, NULL);
}

int sync_recv(int sock, struct sync_msg *out, struct keel_error **err)
{
    cleanup_free char *buf = xmalloc(sizeof(struct sync_header) + SYNC_MAX_PAYLOAD + 1);
    struct iovec iov = {buf, sizeof(struct sync_header) + SYNC_MAX_PAYLOAD};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } cbuf;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf, .msg_controllen = sizeof cbuf.buf};
    ssize_t n;
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return error_set(err, errno, "receiving sync message");
    out->fd = -1;
    out->payload = NULL;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            memcpy(&out->fd, CMSG_DATA(c), sizeof(int));
    if (n == 0)
        return error_set(err, 0, "the container's init process exited during setup without a message");
    if ((size_t)n < sizeof(struct sync_header))
        return error_set(err, 0, "short sync message (%zd bytes)", n);
    struct sync_header h;
    memcpy(&h, buf, sizeof h);
    if (h.len != (size_t)n - sizeof h)
        return error_set(err, 0, "sync message %u: length %u does not match %zd", h.type, h.len, n);
    out->type = (enum sync_type)h.type;
    out->errnum = h.errnum;
    out->len = h.len;
    out->payload = xmalloc(h.len + 1);
    memcpy(out->payload, buf + sizeof h, h.len);
    out->payload[h.len] = '\0';
    return 0;
}

int sync_expect(int sock, enum sync_type want, struct sync_msg *out, struct keel_error **err)
{
    if (sync_recv(sock, out, err) < 0)
        return -1;
    if (out->type == SYNC_ERROR) {
        error_set(err, 0, "%s", out->payload);
        if (err && *err)
            (*err)->errnum = out->errnum;
        sync_msg_release(out);
        return -1;
    }
    if (out->type != want) {
        enum sync_type got = out->type;
        sync_msg_release(out);
        return error_set(err, 0, "sync protocol: expected %s, got %s", sync_type_name(want),
                         sync_type_name(got));
    }
    return 0;
}

int sync_forward_seccomp_listener(int sock, int notify_fd, struct keel_error **err)
{
    if (notify_fd < 0)
        return 0;
    int r = sync_send(sock, SYNC_SECCOMP_LISTENER, 0, NULL, 0, notify_fd, err);
    close(notify_fd);
    if (r < 0)
        return -1;
    struct sync_msg done = {.fd = -1};
    r = sync_expect(sock, SYNC_CONTINUE, &done, err);
    sync_msg_release(&done);
    return r;
}

int sync_handover_seccomp_listener(int sock, const struct sync_msg *m, const char *listener_path,
                                   const char *metadata, long pid, const char *state_json,
                                   struct keel_error **err)
{
    if (m->fd < 0)
        return error_set(err, EPROTO, "sync protocol: the seccomp listener message carries no fd");
    if (!listener_path || !listener_path[0])
        return error_set(err, EPROTO,
                         "the process got a seccomp listener, but there is no linux.seccomp.listenerPath");
    if (seccomp_notify_send_process(listener_path, m->fd, pid, state_json, metadata, err) < 0)
        return error_prefix(err, "handing the seccomp listener to the agent");
    return sync_send(sock, SYNC_CONTINUE, 0, NULL, 0, -1, err);
}
