"""A seccomp agent for the NOTIFY tests, run as its own process:

    python3 seccomp_agent.py SOCKET LOG ANSWER

It listens on the unix socket SOCKET (a temp path of the test), accepts any
number of connections (one per listener fd the runtime hands over: create,
then every exec), and answers every notification of every fd with ANSWER:
`errno:N` (the syscall fails with errno N), `ok` (it returns 0 without
running: only the agent can make mkdir succeed and leave no directory), or
`continue` (the kernel runs it: SECCOMP_USER_NOTIF_FLAG_CONTINUE).

LOG gets one JSON object per line: {"conn": i, "state": ..., "nfds": n} when
connection i delivered its container process state, {"conn": i, "pid": p,
"nr": n} for each notification answered, {"conn": i, "error": "..."} when
something went wrong.  "ready" on stdout once it listens.  The test kills it
by PID."""
import array
import fcntl
import json
import os
import socket
import struct
import sys
import threading

SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100  # _IOWR('!', 0, struct seccomp_notif), 80 bytes
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101  # _IOWR('!', 1, struct seccomp_notif_resp), 24 bytes
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1


class Log:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.path = path

    def write(self, **entry):
        with self.lock, open(self.path, "a") as f:
            f.write(json.dumps(entry) + "\n")


def receive_state(conn):
    """The state JSON and the fds of its first sendmsg; the document may
    come in several reads, the runtime closes the connection after it."""
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, typ, payload in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    data = msg
    while True:
        try:
            return json.loads(data), list(fds)
        except ValueError:
            more = conn.recv(65536)
            if not more:
                return json.loads(data), list(fds)
            data += more


def answer(nfd, how):
    req = bytearray(80)
    fcntl.ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, req, True)
    nid, pid, _flags, nr = struct.unpack_from("=QIIi", req, 0)
    if how == "continue":
        resp = struct.pack("=QqiI", nid, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)
    elif how == "ok":
        resp = struct.pack("=QqiI", nid, 0, 0, 0)
    else:
        resp = struct.pack("=QqiI", nid, 0, -int(how.split(":", 1)[1]), 0)
    fcntl.ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, bytearray(resp), True)
    return pid, nr


def serve(conn, index, log, how):
    try:
        with conn:
            conn.settimeout(30)
            state, fds = receive_state(conn)
        log.write(conn=index, state=state, nfds=len(fds))
        if not fds:
            return
        for extra in fds[1:]:
            os.close(extra)
        while True:
            try:
                pid, nr = answer(fds[0], how)
            except OSError as e:
                # ENOENT: the task left before we answered; keep serving
                log.write(conn=index, error="answer: %s" % e)
                if e.errno not in (2,):
                    return
                continue
            log.write(conn=index, pid=pid, nr=nr)
    except Exception as e:  # reported through the log
        log.write(conn=index, error=repr(e))


def main():
    path, log_path, how = sys.argv[1:4]
    log = Log(log_path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)
    print("ready", flush=True)
    index = 0
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, index, log, how), daemon=True).start()
        index += 1


if __name__ == "__main__":
    main()


class AgentProcess:
    """Starts this file as an agent process for a test; stop() kills it by PID
    and removes its socket directory."""

    def __init__(self, answer, open_to_all=False):
        import subprocess
        import tempfile
        # sun_path holds 108 bytes: pytest's tmp_path can be longer
        self.dir = tempfile.mkdtemp(prefix="keel-agent-")
        self.path = os.path.join(self.dir, "agent.sock")
        self.log = os.path.join(self.dir, "agent.log")
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.abspath(__file__), self.path, self.log, answer],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.stop()
            raise RuntimeError("seccomp agent did not start: %r" % line)
        if open_to_all:  # for a connecting process that is not host root
            os.chmod(self.dir, 0o711)
            os.chmod(self.path, 0o777)

    def entries(self):
        try:
            with open(self.log) as f:
                # A read can race the agent's append and see half a line:
                # only whole lines (with their newline) are entries yet.
                return [json.loads(line) for line in f if line.endswith("\n") and line.strip()]
        except FileNotFoundError:
            return []

    def wait_for(self, pred, timeout=20):
        import time
        deadline = time.time() + timeout
        while True:
            found = [e for e in self.entries() if pred(e)]
            if found or time.time() > deadline:
                return found
            time.sleep(0.05)

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, 9)
            self.proc.wait(timeout=20)
        self.proc.stdout.close()

    def stop(self):
        import shutil
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
