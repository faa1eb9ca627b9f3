"""Terminals: the pty master over --console-socket (SCM_RIGHTS, as conmon
and containerd receive it), the container's stdio on the pty slave, and
`run` on the caller's tty."""
import array
import json
import os
import pty
import select
import socket
import subprocess
import threading
import time

from lifecycle_util import run_files, wait_status


class ConsoleReceiver:
    """A --console-socket server: accepts one connection, takes the fd."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(30)
        self.fd = None
        self.error = None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.sock.accept()
            fds = array.array("i")
            msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
            for level, typ, data in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds.frombytes(data[:fds.itemsize])
            conn.close()
            self.fd = fds[0]
        except Exception as e:
            self.error = repr(e)

    def wait(self):
        self.thread.join(timeout=35)
        self.sock.close()
        assert self.error is None, self.error
        assert self.fd is not None
        return self.fd


def read_until(fd, needle, timeout=10):
    buf = b""
    end = time.time() + timeout
    while needle not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def test_console_socket_receives_pty_master(rt, bundle, tmp_path):
    path = str(tmp_path / "console.sock")
    recv = ConsoleReceiver(path)
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["consoleSize"] = {"height": 33, "width": 111}
    bundle.set_args("sh", "-c", "tty; stty size; test -c /dev/console && echo console-ok; "
                    "test -t 0 && echo stdin-is-tty; read line; echo got:$line")
    run_files(rt, "create", "--bundle", bundle.path, "--console-socket", path, "tty", check=True)
    master = recv.wait()
    try:
        rt.run("start", "tty", check=True)
        out = read_until(master, b"stdin-is-tty")
        assert b"/dev/pts/0" in out or b"/dev/console" in out, out
        assert b"33 111" in out
        assert b"console-ok" in out
        os.write(master, b"hello\n")
        out = read_until(master, b"got:hello")
        assert b"got:hello" in out
        wait_status(rt, "tty", "stopped")
    finally:
        os.close(master)


def test_terminal_without_console_socket_is_refused_for_create(rt, bundle):
    bundle.config["process"]["terminal"] = True
    bundle.set_args("true")
    r = run_files(rt, "create", "--bundle", bundle.path, "nt")
    assert r.returncode != 0
    assert "console" in r.stderr.lower()
    assert rt.list_ids() == []


def test_console_socket_without_terminal_is_refused(rt, bundle, tmp_path):
    bundle.set_args("true")
    path = str(tmp_path / "c.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    try:
        r = run_files(rt, "create", "--bundle", bundle.path, "--console-socket", path, "nc")
    finally:
        s.close()
    if r.returncode == 0:
        # runc 1.1 accepts and ignores it: then it must at least work
        assert "runc" in rt.path
        rt.run("delete", "--force", "nc")
        return
    assert rt.list_ids() == []


def test_run_interactive_on_callers_tty(rt, bundle):
    bundle.config["process"]["terminal"] = True
    bundle.set_args("sh", "-c", "test -t 0 && test -t 1 && echo both-tty; read x; echo said:$x; exit 4")
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(rt.path, [rt.path, "--root", rt.root, "run", "--bundle", bundle.path, "inter"])
    try:
        out = read_until(fd, b"both-tty")
        assert b"both-tty" in out, out
        os.write(fd, b"abc\n")
        out = read_until(fd, b"said:abc")
        assert b"said:abc" in out, out
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 4
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
