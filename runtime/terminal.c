#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "terminal.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

_Static_assert(sizeof(struct termios) <= 64, "termios fits terminal_saved");

int terminal_open_pty(const struct spec_console_size *size, int *master, int *slave, struct keel_error **err)
{
    cleanup_close int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return error_set(err, errno, "opening `/dev/ptmx` for the container's terminal");
    int unlock = 0;
    if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
        return error_set(err, errno, "unlocking the pty");
    /* TIOCGPTPEER opens the peer without a path lookup, in this devpts. */
    int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0)
        return error_set(err, errno, "opening the pty's slave");
    if (size && size->set) {
        struct winsize ws = {.ws_row = (unsigned short)size->height, .ws_col = (unsigned short)size->width};
        ioctl(m, TIOCSWINSZ, &ws);
    }
    *master = steal_fd(&m);
    *slave = s;
    return 0;
}

int terminal_make_controlling(int slave, struct keel_error **err)
{
    if (setsid() < 0 && errno != EPERM)
        return error_set(err, errno, "setsid");
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        return error_set(err, errno, "making the pty the controlling terminal");
    for (int fd = 0; fd < 3; fd++)
        if (dup2(slave, fd) < 0)
            return error_set(err, errno, "dup2 of the pty onto fd %d", fd);
    return 0;
}

int terminal_send_fd(const char *path, int fd, const char *name, struct keel_error **err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path)
        return error_set(err, ENAMETOOLONG, "--console-socket `%s`", path);
    strcpy(addr.sun_path, path);
    cleanup_close int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return error_set(err, errno, "creating a socket for --console-socket");
    if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0)
        return error_set(err, errno, "connecting to the console socket `%s`", path);
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } cbuf;
    memset(&cbuf, 0, sizeof cbuf);
    struct iovec iov = {(void *)name, strlen(name)};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf, .msg_controllen = sizeof cbuf.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
        return error_set(err, errno, "sending the pty master to the console socket `%s`", path);
    return 0;
}

int terminal_recv_fd(int sock, int *fd, struct keel_error **err)
{
    char name[256];
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } cbuf;
    struct iovec iov = {name, sizeof name};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf, .msg_controllen = sizeof cbuf.buf};
    if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) < 0)
        return error_set(err, errno, "receiving a file descriptor");
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            memcpy(fd, CMSG_DATA(c), sizeof(int));
            return 0;
        }
    return error_set(err, 0, "no file descriptor in the message");
}

int terminal_set_raw(int fd, struct terminal_saved *saved, struct keel_error **err)
{
    struct termios t;
    saved->active = false;
    if (tcgetattr(fd, &t) < 0)
        return error_set(err, errno, "reading the terminal settings of fd %d", fd);
    memcpy(saved->termios, &t, sizeof t);
    saved->fd = fd;
    cfmakeraw(&t);
    t.c_oflag |= OPOST; /* keep "\n" -> "\r\n" so local messages stay readable */
    if (tcsetattr(fd, TCSANOW, &t) < 0)
        return error_set(err, errno, "setting the terminal to raw mode");
    saved->active = true;
    return 0;
}

void terminal_restore(struct terminal_saved *saved)
{
    if (!saved->active)
        return;
    struct termios t;
    memcpy(&t, saved->termios, sizeof t);
    tcsetattr(saved->fd, TCSANOW, &t);
    saved->active = false;
}

void terminal_copy_winsize(int from_fd, int master)
{
    struct winsize ws;
    if (ioctl(from_fd, TIOCGWINSZ, &ws) == 0)
        ioctl(master, TIOCSWINSZ, &ws);
}
