"""linux.seccomp on real containers: rules, errnos, args, kill actions,
podman's default profile, hostile profiles, and a NOTIFY agent at
listenerPath.  Runs against any runtime (RUNTIME=/usr/sbin/runc proves the
tests)."""
import array
import errno
import fcntl
import json
import os
import socket
import struct
import threading
import uuid

import pytest

from lifecycle_util import run_files
from seccomp_profiles import hostile_profiles, podman_default

SIGSYS = 31


def cid():
    return "sc" + uuid.uuid4().hex[:10]


def writable(bundle):
    """The default bundle's rootfs is read-only; these tests mkdir in /tmp."""
    bundle.config["root"]["readonly"] = False


def run(rt, bundle, *args, seccomp=None):
    writable(bundle)
    if seccomp is not None:
        bundle.config["linux"]["seccomp"] = seccomp
    else:
        bundle.config["linux"].pop("seccomp", None)
    bundle.set_args(*args)
    return rt.run("run", "--bundle", bundle.path, cid(), timeout=60)


def errno_profile(names, **rule):
    r = {"names": names, "action": "SCMP_ACT_ERRNO"}
    r.update(rule)
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [r]}


MKDIR = ["mkdir", "mkdirat"]


def test_without_seccomp_mkdir_works(rt, bundle):
    r = run(rt, bundle, "sh", "-c", "mkdir /tmp/d && echo made")
    assert r.returncode == 0, r.stderr
    assert "made" in r.stdout


def test_errno_rule_defaults_to_eperm(rt, bundle):
    r = run(rt, bundle, "sh", "-c", "mkdir /tmp/d; echo rc=$?", seccomp=errno_profile(MKDIR))
    assert r.returncode == 0, r.stderr
    assert "rc=1" in r.stdout
    assert os.strerror(errno.EPERM) in r.stdout + r.stderr
    assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "d"))


def test_errno_ret(rt, bundle):
    r = run(rt, bundle, "sh", "-c", "mkdir /tmp/d; echo rc=$?",
            seccomp=errno_profile(MKDIR, errnoRet=errno.EDQUOT))
    assert r.returncode == 0, r.stderr
    assert os.strerror(errno.EDQUOT) in r.stdout + r.stderr


def test_default_errno_ret_with_allow_list(rt, bundle):
    """An allow-list in the style of podman's: what is not listed fails with
    defaultErrnoRet."""
    prof = podman_default()
    if prof is None:
        pytest.skip("podman's seccomp profile (containers-common) is not installed")
    prof = json.loads(json.dumps(prof))
    for rule in prof["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW":
            rule["names"] = [n for n in rule["names"] if n not in MKDIR]
    r = run(rt, bundle, "sh", "-c", "mkdir /tmp/d; echo rc=$?", seccomp=prof)
    assert r.returncode == 0, r.stderr
    assert os.strerror(prof["defaultErrnoRet"]) in r.stdout + r.stderr


def test_args_match_the_signal(rt, bundle):
    """kill(pid, SIGUSR1) is refused, kill(pid, 0) is not."""
    prof = errno_profile(["kill"], args=[{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}])
    r = run(rt, bundle, "sh", "-c", "kill -0 $$; echo zero=$?; trap '' USR1; kill -USR1 $$; echo usr1=$?",
            seccomp=prof)
    assert r.returncode == 0, r.stderr
    assert "zero=0" in r.stdout
    assert "usr1=1" in r.stdout


def test_masked_eq_on_mode(rt, bundle):
    """chmod to a mode with the group-write bit is refused; other modes work."""
    bit = {"value": 0o020, "valueTwo": 0o020, "op": "SCMP_CMP_MASKED_EQ"}
    prof = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": [dict(bit, index=1)]},
        {"names": ["fchmodat", "fchmod"], "action": "SCMP_ACT_ERRNO", "args": [dict(bit, index=2)]},
    ]}
    r = run(rt, bundle, "sh", "-c", "touch /tmp/f; chmod 700 /tmp/f; echo a=$?; chmod 770 /tmp/f; echo b=$?",
            seccomp=prof)
    assert r.returncode == 0, r.stderr
    assert "a=0" in r.stdout
    assert "b=1" in r.stdout


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_TRAP"])
def test_kill_actions(rt, bundle, action):
    prof = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": MKDIR, "action": action}]}
    r = run(rt, bundle, "mkdir", "/tmp/d", seccomp=prof)
    assert r.returncode in (128 + SIGSYS, -SIGSYS), (r.returncode, r.stderr)
    assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "d"))


def test_log_action_allows(rt, bundle):
    prof = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": MKDIR, "action": "SCMP_ACT_LOG"}]}
    r = run(rt, bundle, "sh", "-c", "mkdir /tmp/d && echo made", seccomp=prof)
    assert r.returncode == 0, r.stderr
    assert "made" in r.stdout


def test_unknown_syscall_names_are_skipped(rt, bundle):
    r = run(rt, bundle, "sh", "-c", "mkdir /tmp/d; echo rc=$?",
            seccomp=errno_profile(["no_such_syscall_keel"] + MKDIR))
    assert r.returncode == 0, r.stderr
    assert "rc=1" in r.stdout


def test_flags(rt, bundle):
    prof = errno_profile(MKDIR)
    prof["flags"] = ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
    r = run(rt, bundle, "sh", "-c", "mkdir /tmp/d; echo rc=$?", seccomp=prof)
    if r.returncode != 0 and "not yet supported" in r.stderr:
        pytest.skip("this runtime does not support linux.seccomp.flags (runc 1.1): " + r.stderr.strip()[-120:])
    assert r.returncode == 0, r.stderr
    assert "rc=1" in r.stdout


def test_podman_default_profile(rt, bundle):
    prof = podman_default()
    if prof is None:
        pytest.skip("podman's seccomp profile (containers-common) is not installed")
    r = run(rt, bundle, "sh", "-c",
            "mkdir /tmp/d && ls / >/dev/null && echo ok; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status",
            seccomp=prof)
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout
    assert "Seccomp:\t2" in r.stdout


def test_podman_profile_twice_same_result(rt, bundle):
    """The second container with the same profile (keel: from the cache)
    gets the same filter."""
    prof = podman_default()
    if prof is None:
        pytest.skip("podman's seccomp profile (containers-common) is not installed")
    prof = json.loads(json.dumps(prof))
    prof["syscalls"].insert(0, {"names": MKDIR, "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EDQUOT})
    outs = []
    for _ in range(2):
        r = run(rt, bundle, "sh", "-c", "mkdir /tmp/d; echo rc=$?", seccomp=prof)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout + r.stderr)
    for o in outs:
        assert os.strerror(errno.EDQUOT) in o


@pytest.mark.parametrize("name,prof,needle", hostile_profiles(), ids=[c[0] for c in hostile_profiles()])
def test_hostile_profiles_are_refused(rt, bundle, name, prof, needle):
    writable(bundle)
    bundle.config["linux"]["seccomp"] = prof
    bundle.set_args("true")
    c = cid()
    r = run_files(rt, "create", "--bundle", bundle.path, c, timeout=60)
    assert r.returncode != 0
    if needle:
        assert needle in r.stderr
    assert c not in rt.list_ids()


# ---- NOTIFY ----

SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100  # _IOWR('!', 0, struct seccomp_notif), 80 bytes
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101  # _IOWR('!', 1, struct seccomp_notif_resp), 24 bytes


class Agent:
    """A seccomp agent: receives the fd and the container process state over
    listenerPath, then answers one notification with an error."""

    def __init__(self, path, answer_errno):
        self.path = path
        self.answer_errno = answer_errno
        self.state = None
        self.nr = None
        self.error = None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(30)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.sock.accept()
            conn.settimeout(30)
            fds = array.array("i")
            data = b""
            msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(4 * fds.itemsize))
            data += msg
            for level, typ, payload in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
            # Read up to a complete document: the connection's close may
            # come later than the state (runc keeps it open for a while).
            while True:
                try:
                    self.state = json.loads(data)
                    break
                except ValueError:
                    pass
                more = conn.recv(65536)
                if not more:
                    self.state = json.loads(data)
                    break
                data += more
            conn.close()
            nfd = fds[0]
            req = bytearray(80)
            fcntl.ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, req, True)
            nid, pid, flags, nr = struct.unpack_from("=QIIi", req, 0)
            self.nr = nr
            resp = struct.pack("=QqiI", nid, 0, -self.answer_errno, 0)
            fcntl.ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, bytearray(resp), True)
            os.close(nfd)
        except Exception as e:  # reported by the test
            self.error = repr(e)

    def close(self):
        self.sock.close()
        self.thread.join(timeout=35)


def test_notify_agent_answers(rt, bundle, tmp_path):
    path = str(tmp_path / "agent.sock")
    agent = Agent(path, errno.EXDEV)
    try:
        prof = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path, "listenerMetadata": "keel-test",
                "syscalls": [{"names": MKDIR, "action": "SCMP_ACT_NOTIFY"}]}
        writable(bundle)
        bundle.config["linux"]["seccomp"] = prof
        bundle.set_args("sh", "-c", "mkdir /tmp/d; echo rc=$?")
        c = cid()
        r = rt.run("run", "--bundle", bundle.path, c, timeout=60)
    finally:
        agent.close()
    assert agent.error is None, agent.error
    assert r.returncode == 0, r.stderr
    assert os.strerror(errno.EXDEV) in r.stdout + r.stderr
    assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "d"))
    st = agent.state
    assert st["fds"] == ["seccompFd"]
    assert st["metadata"] == "keel-test"
    assert isinstance(st["pid"], int) and st["pid"] > 0
    assert st["state"]["id"] == c
    assert st["state"]["pid"] == st["pid"]
    assert "ociVersion" in st


def test_notify_without_listener_path_is_refused(rt, bundle):
    writable(bundle)
    bundle.config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                         "syscalls": [{"names": MKDIR, "action": "SCMP_ACT_NOTIFY"}]}
    bundle.set_args("true")
    c = cid()
    r = run_files(rt, "create", "--bundle", bundle.path, c, timeout=60)
    assert r.returncode != 0
    assert c not in rt.list_ids()


def test_seccomp_without_no_new_privileges(rt, bundle):
    """podman's default: noNewPrivileges false and no CAP_SYS_ADMIN. The
    kernel then only accepts the filter before the capabilities are dropped;
    the container must still get it."""
    bundle.config["process"]["noNewPrivileges"] = False
    r = run(rt, bundle, "sh", "-c", "mkdir /tmp/d; echo rc=$?; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status",
            seccomp=errno_profile(MKDIR))
    assert r.returncode == 0, r.stderr
    assert "rc=1" in r.stdout
    assert "Seccomp:\t2" in r.stdout
    assert "NoNewPrivs:\t0" in r.stdout


def test_exec_gets_the_containers_filter(rt, bundle):
    """`exec` installs the same filter as the container's init (keel: the
    copy saved in the state dir at create)."""
    writable(bundle)
    bundle.config["linux"]["seccomp"] = errno_profile(MKDIR, errnoRet=errno.EDQUOT)
    bundle.set_args("sleep", "60")
    c = cid()
    r = run_files(rt, "create", "--bundle", bundle.path, c, timeout=60)
    assert r.returncode == 0, r.stderr
    try:
        r = run_files(rt, "start", c, timeout=60)
        assert r.returncode == 0, r.stderr
        r = run_files(rt, "exec", c, "sh", "-c", "mkdir /tmp/e; echo rc=$?; grep '^Seccomp:' /proc/self/status",
                      timeout=60)
        assert r.returncode == 0, r.stderr
        assert "rc=1" in r.stdout
        assert os.strerror(errno.EDQUOT) in r.stdout + r.stderr
        assert "Seccomp:\t2" in r.stdout
        assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "e"))
    finally:
        rt.run("delete", "--force", c, timeout=30)
