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


# ---- NOTIFY and exec (issue #4): every exec'd process installs the filter
# with a new listener, and the runtime hands that fd to the agent with a
# container process state of its own (pid = the exec'd process). ----

import subprocess  # noqa: E402
import time  # noqa: E402

from lifecycle_util import is_keel  # noqa: E402
from seccomp_agent import AgentProcess  # noqa: E402


@pytest.fixture
def agent():
    started = []

    def start(answer):
        a = AgentProcess(answer)
        started.append(a)
        return a

    yield start
    for a in started:
        a.stop()


def notify_profile(agent_path, metadata="exec-test"):
    return {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": agent_path, "listenerMetadata": metadata,
            "syscalls": [{"names": MKDIR, "action": "SCMP_ACT_NOTIFY"}]}


def start_notified(rt, bundle, agent_path):
    """A running `sleep` container whose profile notifies mkdir; returns (id, init pid)."""
    writable(bundle)
    bundle.config["linux"]["seccomp"] = notify_profile(agent_path)
    bundle.set_args("sleep", "1000")
    c = cid()
    r = run_files(rt, "create", "--bundle", bundle.path, c, timeout=60)
    assert r.returncode == 0, r.stderr
    r = run_files(rt, "start", c, timeout=60)
    assert r.returncode == 0, r.stderr
    st = json.loads(rt.run("state", c, check=True).stdout)
    return c, st["pid"]


def exec_states(a, pid):
    """The agent's log entries of the connection that delivered pid's state."""
    got = a.wait_for(lambda e: "state" in e and e["state"].get("pid") == pid)
    assert got, a.entries()
    return got[0]


def check_exec_state(a, c, init_pid, pid):
    st = exec_states(a, pid)
    assert st["nfds"] == 1
    ps = st["state"]
    assert ps["fds"] == ["seccompFd"]
    assert ps["metadata"] == "exec-test"
    assert "ociVersion" in ps
    assert ps["state"]["id"] == c
    assert ps["state"]["pid"] == init_pid
    assert ps["state"]["status"] == "running"
    # the notification came through this connection's fd, from the exec'd process
    notes = a.wait_for(lambda e: e.get("conn") == st["conn"] and "nr" in e)
    assert notes and notes[0]["pid"] == pid, a.entries()
    return st


@pytest.mark.parametrize("round_", ["first", "second"])
def test_exec_notify_agent_answers(rt, bundle, agent, tmp_path, round_):
    """Foreground exec: the agent gets the exec'd process's listener and
    its errno reaches the process.  "second" execs twice: keel's first exec
    reads config.json, the next one its parsed copy in the state dir."""
    a = agent("errno:%d" % errno.EXDEV)
    c, init_pid = start_notified(rt, bundle, a.path)
    for i in range(2 if round_ == "second" else 1):
        pidf = tmp_path / ("exec%d.pid" % i)
        r = rt.run("exec", "--pid-file", str(pidf), c, "mkdir", "/tmp/d%d" % i, timeout=60)
        assert r.returncode != 0, r.stdout
        assert os.strerror(errno.EXDEV) in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "d%d" % i))
        check_exec_state(a, c, init_pid, int(pidf.read_text()))


def test_exec_notify_agent_makes_it_succeed(rt, bundle, agent, tmp_path):
    """Only the agent can make mkdir return 0 without making the directory."""
    a = agent("ok")
    c, init_pid = start_notified(rt, bundle, a.path)
    pidf = tmp_path / "exec.pid"
    r = rt.run("exec", "--pid-file", str(pidf), c, "mkdir", "/tmp/faked", timeout=60)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "faked"))
    check_exec_state(a, c, init_pid, int(pidf.read_text()))


def test_exec_notify_detach_with_process_file(rt, bundle, agent, tmp_path):
    """podman's and containerd's call: exec --process P.json --detach --pid-file F."""
    a = agent("errno:%d" % errno.EDQUOT)
    c, init_pid = start_notified(rt, bundle, a.path)
    proc = {"terminal": False, "user": {"uid": 0, "gid": 0}, "cwd": "/", "env": ["PATH=/bin"],
            "noNewPrivileges": True, "args": ["mkdir", "/tmp/detached"]}
    pf = tmp_path / "process.json"
    pf.write_text(json.dumps(proc))
    pidf = tmp_path / "exec.pid"
    errf = tmp_path / "exec.err"
    with open(errf, "w") as err:  # the detached process keeps the runtime's stdio: a file, not a pipe
        r = rt.run("exec", "--process", str(pf), "--detach", "--pid-file", str(pidf), c,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, timeout=60)
    assert r.returncode == 0, errf.read_text()
    pid = int(pidf.read_text())
    check_exec_state(a, c, init_pid, pid)
    deadline = time.time() + 20
    while os.strerror(errno.EDQUOT) not in errf.read_text() and time.time() < deadline:
        time.sleep(0.05)
    assert os.strerror(errno.EDQUOT) in errf.read_text()
    assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "detached"))


def test_exec_notify_without_nnp(rt, bundle, agent, tmp_path):
    """noNewPrivileges false (podman's default): the filter goes on before the
    capability drop, so keel's own remaining setup runs under it; the fd must
    reach the agent before that, or a notified call of the setup would wait
    for an agent that has no fd."""
    a = agent("errno:%d" % errno.EXDEV)
    bundle.config["process"]["noNewPrivileges"] = False
    c, init_pid = start_notified(rt, bundle, a.path)
    pidf = tmp_path / "exec.pid"
    r = rt.run("exec", "-u", "65534:65534", "--pid-file", str(pidf), c, "mkdir", "/tmp/nnp", timeout=60)
    assert r.returncode != 0
    assert os.strerror(errno.EXDEV) in r.stderr, r.stderr
    check_exec_state(a, c, init_pid, int(pidf.read_text()))


def test_exec_notify_agent_gone_fails(rt, bundle, agent, tmp_path):
    """The spec: if sending to listenerPath fails, the runtime MUST generate
    an error; the process must not run unwatched (or hang)."""
    a = agent("errno:%d" % errno.EXDEV)
    c, _ = start_notified(rt, bundle, a.path)
    a.stop()
    r = rt.run("exec", c, "sh", "-c", "echo ran > /tmp/ran", timeout=60)
    assert r.returncode != 0
    assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "ran"))


def test_exec_notify_with_cached_program(rt, bundle, agent, tmp_path):
    """The second container of a profile gets its BPF from keel's cache, exec
    from the state dir copy: both must keep the NOTIFY action and exec's load
    the NEW_LISTENER flag, else the agent would never get an fd."""
    a = agent("errno:%d" % errno.EXDEV)
    c1, _ = start_notified(rt, bundle, a.path)
    c2, init2 = start_notified(rt, bundle, a.path)
    if is_keel(rt):
        cache = os.path.join(rt.root, "seccomp-cache")
        assert len([n for n in os.listdir(cache) if not n.startswith(".")]) == 1
        assert os.path.exists(os.path.join(rt.root, c2, "seccomp.bpf"))
    pidf = tmp_path / "exec.pid"
    r = rt.run("exec", "--pid-file", str(pidf), c2, "mkdir", "/tmp/cached", timeout=60)
    assert r.returncode != 0
    assert os.strerror(errno.EXDEV) in r.stderr, r.stderr
    check_exec_state(a, c2, init2, int(pidf.read_text()))
    rt.run("delete", "--force", c1, timeout=30)


@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
def test_create_notify_user_namespace_root_only_agent(rt, agent, tmp_path, nnp):
    """A container with a user namespace: its init runs as the mapped root
    (host uid 100000) and, past pivot_root, in the container's mount
    namespace, so it can reach neither a socket in a 0700 directory nor a
    socket mode 0600.  The runtime on the host must hand the listener over
    (keel used to connect from the init: "Permission denied")."""
    import shutil
    import tempfile
    from helpers import make_bundle
    from test_namespaces import userns_bundle
    a = agent("errno:%d" % errno.EXDEV)
    assert os.stat(a.dir).st_mode & 0o777 == 0o700  # root-only, as an engine's agent would be
    os.chmod(a.path, 0o600)
    top = tempfile.mkdtemp(prefix="keel-sc-userns-")  # the mapped root must reach the rootfs
    os.chmod(top, 0o711)
    c = cid()
    try:
        bundle = make_bundle(os.path.join(top, "bundle"))
        userns_bundle(bundle)
        writable(bundle)
        bundle.config["process"]["noNewPrivileges"] = nnp
        bundle.config["linux"]["seccomp"] = notify_profile(a.path, metadata="userns")
        bundle.set_args("sh", "-c", "mkdir /tmp/d; echo rc=$?")
        bundle.write()
        r = rt.run("run", "--bundle", bundle.path, c, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "rc=1" in r.stdout, r.stdout + r.stderr
        assert os.strerror(errno.EXDEV) in r.stdout + r.stderr
        assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "d"))
        got = a.wait_for(lambda e: "state" in e)
        assert got, a.entries()
        ps = got[0]["state"]
        assert ps["fds"] == ["seccompFd"] and ps["metadata"] == "userns"
        assert ps["state"]["id"] == c and ps["state"]["pid"] == ps["pid"]
        assert ps["state"]["status"] == "creating"
        assert a.wait_for(lambda e: e.get("conn") == got[0]["conn"] and "nr" in e), a.entries()
    finally:
        rt.run("delete", "--force", c)
        shutil.rmtree(top, ignore_errors=True)


def test_create_notify_agent_missing_fails(rt, bundle, tmp_path):
    """No agent at listenerPath: create fails naming the socket, and leaves
    no container behind (the spec: sending failures MUST be errors)."""
    path = str(tmp_path / "no-agent.sock")
    writable(bundle)
    bundle.config["linux"]["seccomp"] = notify_profile(path)
    bundle.set_args("sleep", "1000")
    c = cid()
    r = run_files(rt, "create", "--bundle", bundle.path, c, timeout=60)
    assert r.returncode != 0
    assert path in r.stderr, r.stderr
    assert c not in rt.list_ids()
    assert not os.path.exists(os.path.join(rt.root, c))


def exec_process_file(tmp_path, *args):
    proc = {"terminal": False, "user": {"uid": 0, "gid": 0}, "cwd": "/", "env": ["PATH=/bin:/usr/bin"],
            "noNewPrivileges": True, "args": list(args)}
    pf = tmp_path / "process.json"
    pf.write_text(json.dumps(proc))
    return str(pf)


def test_exec_notify_after_config_removed(rt, bundle, agent, tmp_path):
    """podman's exec (--process) once the bundle's config.json is gone: the
    listener still reaches the agent create saw (runc keeps the config of
    create; keel saves listenerPath and listenerMetadata in the state dir)."""
    a = agent("errno:%d" % errno.EXDEV)
    c, init_pid = start_notified(rt, bundle, a.path)
    os.unlink(os.path.join(bundle.path, "config.json"))
    pidf = tmp_path / "exec.pid"
    r = rt.run("exec", "--process", exec_process_file(tmp_path, "mkdir", "/tmp/gone"), "--pid-file", str(pidf),
               c, timeout=60)
    assert r.returncode != 0
    assert os.strerror(errno.EXDEV) in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "gone"))
    check_exec_state(a, c, init_pid, int(pidf.read_text()))


@pytest.mark.parametrize("how", ["args", "process-file"])
def test_exec_notify_after_listener_path_changed(rt, bundle, agent, tmp_path, how):
    """config.json names another agent after create: exec still hands the
    listener to the one the container was created with."""
    a = agent("errno:%d" % errno.EXDEV)
    c, init_pid = start_notified(rt, bundle, a.path)
    other = agent("errno:%d" % errno.EDQUOT)
    bundle.config["linux"]["seccomp"] = notify_profile(other.path, metadata="changed")
    bundle.write()
    pidf = tmp_path / "exec.pid"
    if how == "args":
        r = rt.run("exec", "--pid-file", str(pidf), c, "mkdir", "/tmp/changed", timeout=60)
    else:
        r = rt.run("exec", "--process", exec_process_file(tmp_path, "mkdir", "/tmp/changed"), "--pid-file",
                   str(pidf), c, timeout=60)
    assert r.returncode != 0
    assert os.strerror(errno.EXDEV) in r.stderr, r.stderr
    check_exec_state(a, c, init_pid, int(pidf.read_text()))
    assert not other.wait_for(lambda e: "state" in e, timeout=0.5), other.entries()
