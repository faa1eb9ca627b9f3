"""`exec` into a running container: namespaces, cgroup, user, env, cwd,
capabilities, seccomp, exit status, --detach/--pid-file, --process and a
terminal through --console-socket (as containerd and podman call it).
Also run against RUNTIME=/usr/sbin/runc."""
import array
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest

from test_cgroups import delete_created, create, state_pid, unique_path  # noqa: F401 (autouse fixture)


@pytest.fixture
def container(rt, bundle, tmp_path):
    def start(seccomp=None):
        bundle.config["process"]["args"] = ["sleep", "1000"]
        bundle.config["linux"]["cgroupsPath"] = unique_path()
        bundle.config["hostname"] = "exechost"
        if seccomp:
            bundle.config["linux"]["seccomp"] = seccomp
        bundle.write()
        cid = "ex-" + uuid.uuid4().hex[:8]
        rc, err = create(rt, bundle, cid, tmp_path)
        assert rc == 0, err
        r = rt.run("start", cid)
        assert r.returncode == 0, r.stderr
        return cid

    return start


def test_exec_output_status_and_namespaces(rt, container):
    cid = container()
    r = rt.run("exec", cid, "sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 7")
    assert r.returncode == 7, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0] == "exechost"  # uts namespace
    assert lines[1].startswith("sleep 1000")  # pid namespace: pid 1 is the container's init


def test_exec_joins_the_cgroup(rt, container):
    cid = container()
    init = state_pid(rt, cid)
    with open("/proc/%d/cgroup" % init) as f:
        want = f.read()
    r = rt.run("exec", cid, "cat", "/proc/self/cgroup")
    assert r.returncode == 0, r.stderr
    # same cgroup as the init in every hierarchy (paths may be namespaced: compare the sets of lines)
    if "cgroup" in os.readlink("/proc/%d/ns/cgroup" % init) and \
            os.readlink("/proc/%d/ns/cgroup" % init) != os.readlink("/proc/self/ns/cgroup"):
        assert all(line.endswith(":/") for line in r.stdout.split()), r.stdout
    else:
        assert sorted(r.stdout.split()) == sorted(want.split())


def test_exec_user_env_cwd_groups(rt, container):
    cid = container()
    r = rt.run("exec", "-u", "65534:65534", "--additional-gids", "5", "-e", "FOO=bar", "-e", "PATH=/bin",
               "--cwd", "/tmp", cid, "sh", "-c", "id -u; id -g; id -G; echo $FOO; echo $PATH; pwd")
    assert r.returncode == 0, r.stderr
    out = r.stdout.split("\n")
    assert out[0] == "65534" and out[1] == "65534"
    assert "5" in out[2].split()
    assert out[3] == "bar" and out[4] == "/bin" and out[5] == "/tmp"


def cap_eff(text):
    for line in text.split("\n"):
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return None


def test_exec_cap_adds_a_capability(rt, container):
    cid = container()
    r = rt.run("exec", cid, "cat", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    assert not cap_eff(r.stdout) & (1 << 21)  # CAP_SYS_ADMIN not in the default set
    r = rt.run("exec", "--cap", "CAP_SYS_ADMIN", cid, "cat", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    assert cap_eff(r.stdout) & (1 << 21)


def test_exec_detach_pid_file(rt, container, tmp_path):
    cid = container()
    pidf = tmp_path / "exec.pid"
    errf = tmp_path / "exec.err"
    with open(errf, "w") as err:  # the detached process keeps its stdio: no pipes
        r = rt.run("exec", "--detach", "--pid-file", str(pidf), cid, "sleep", "100",
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    assert r.returncode == 0, errf.read_text()
    pid = int(pidf.read_text().strip())
    with open("/proc/%d/cmdline" % pid) as f:
        assert f.read().split("\0")[0] == "sleep"
    r = rt.run("ps", "--format", "json", cid)
    assert r.returncode == 0, r.stderr
    assert pid in json.loads(r.stdout)


def test_exec_process_file(rt, container, tmp_path):
    cid = container()
    proc = {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "echo $X-$(pwd)"],
            "env": ["PATH=/bin", "X=fromfile"], "cwd": "/etc"}
    f = tmp_path / "process.json"
    f.write_text(json.dumps(proc))
    r = rt.run("exec", "--process", str(f), cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "fromfile-/etc"


def test_exec_missing_command(rt, container):
    cid = container()
    r = rt.run("exec", cid, "/no/such/program")
    assert r.returncode != 0
    assert "no/such/program" in r.stderr


def test_exec_in_stopped_container_fails(rt, container):
    cid = container()
    assert rt.run("kill", cid, "KILL").returncode == 0
    deadline = time.time() + 10
    while time.time() < deadline and json.loads(rt.run("state", cid).stdout)["status"] != "stopped":
        time.sleep(0.05)
    r = rt.run("exec", cid, "true")
    assert r.returncode != 0


def test_exec_uses_the_containers_seccomp_filter(rt, container):
    seccomp = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
    cid = container(seccomp=seccomp)
    r = rt.run("exec", cid, "mkdir", "/tmp/denied")
    assert r.returncode != 0
    assert "not permitted" in r.stderr.lower() or "not permitted" in r.stdout.lower()


def recv_fd(conn):
    fds = array.array("i")
    msg, anc, _flags, _addr = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - (len(data) % fds.itemsize)])
    return fds[0] if fds else None


def test_exec_tty_console_socket(rt, container, tmp_path):
    cid = container()
    path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got = {}

    def accept():
        conn, _ = srv.accept()
        got["fd"] = recv_fd(conn)
        conn.close()

    t = threading.Thread(target=accept)
    t.start()
    r = rt.run("exec", "-t", "-d", "--console-socket", path, cid, "sh", "-c", "tty; echo tty-ok; sleep 2")
    t.join(10)
    srv.close()
    assert r.returncode == 0, r.stderr
    fd = got.get("fd")
    assert fd is not None
    out = b""
    deadline = time.time() + 10
    while b"tty-ok" not in out and time.time() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(fd)
    assert b"/dev/pts/" in out and b"tty-ok" in out, out


def test_exec_into_user_namespace(rt, tmp_path):
    """The joiner enters the user namespace first (and cannot share keel's memory then)."""
    import shutil
    import tempfile
    from helpers import make_bundle
    from test_namespaces import userns_bundle
    top = tempfile.mkdtemp(prefix="keel-exec-userns-")  # the mapped root must reach the rootfs
    os.chmod(top, 0o711)
    cid = "ex-u-" + uuid.uuid4().hex[:8]
    try:
        bundle = make_bundle(os.path.join(top, "bundle"))
        userns_bundle(bundle)
        bundle.config["process"]["args"] = ["sleep", "1000"]
        bundle.config["linux"]["cgroupsPath"] = unique_path()
        bundle.write()
        rc, err = create(rt, bundle, cid, tmp_path)
        assert rc == 0, err
        assert rt.run("start", cid).returncode == 0
        r = rt.run("exec", cid, "sh", "-c", "id -u; cat /proc/self/uid_map")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.split("\n")
        assert lines[0] == "0"
        assert lines[1].split() == ["0", "100000", "65536"]
        init = state_pid(rt, cid)
        assert os.readlink("/proc/%d/ns/user" % init) != os.readlink("/proc/self/ns/user")
    finally:
        rt.run("delete", "--force", cid)
        shutil.rmtree(top, ignore_errors=True)


def test_exec_foreground_forwards_signals(rt, container):
    cid = container()
    p = subprocess.Popen(rt.cmd("exec", cid, "sh", "-c", "trap 'echo got-term; exit 3' TERM; echo ready; "
                                "while :; do sleep 0.1; done"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert "got-term" in out, err
    assert p.returncode == 3


def test_exec_preserve_fds(rt, container, tmp_path):
    cid = container()
    data = tmp_path / "extra.txt"
    data.write_text("passed-fd\n")
    # a shell gives the runtime fd 3 (pytest's own low fds stay untouched)
    argv = ["sh", "-c", 'exec 3<"$0"; exec "$@"', str(data)] + rt.cmd("exec", "--preserve-fds", "1", cid, "cat",
                                                                     "/proc/self/fd/3")
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "passed-fd"


def test_exec_paused(rt, container, tmp_path):
    """Refused in a paused container; with --ignore-paused it starts, frozen until resume."""
    cid = container()
    assert rt.run("pause", cid).returncode == 0
    r = rt.run("exec", cid, "true")
    assert r.returncode != 0
    out = tmp_path / "out"
    with open(out, "w") as f:
        p = subprocess.Popen(rt.cmd("exec", "--ignore-paused", cid, "echo", "ran-after-resume"),
                             stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
    try:
        time.sleep(1)
        assert p.poll() is None  # frozen with the rest of the container
        assert rt.run("resume", cid).returncode == 0
        assert p.wait(timeout=20) == 0
    finally:
        if p.poll() is None:
            rt.run("resume", cid)
            p.kill()
    assert "ran-after-resume" in out.read_text()


def test_exec_follows_the_bundle_config(rt, container, bundle):
    """Like runc, an exec takes its defaults from the bundle's config.json as it is now
    (keel keeps a parsed copy and must notice the edit)."""
    cid = container()
    r = rt.run("exec", cid, "sh", "-c", "echo $TERM")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "xterm"
    r = rt.run("exec", cid, "sh", "-c", "echo $TERM")  # from keel's copy
    assert r.stdout.strip() == "xterm"
    bundle.config["process"]["env"] = ["PATH=/bin", "TERM=edited"]
    bundle.write()
    r = rt.run("exec", cid, "sh", "-c", "echo $TERM")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "edited"


def test_exec_tty_with_seccomp_notify(rt, container, tmp_path):
    """A terminal and a NOTIFY filter in one exec: the pty goes to the console
    socket, the new listener to the agent, and the agent's errno reaches the
    process on its terminal (issue #4)."""
    import errno
    from seccomp_agent import AgentProcess
    agent = AgentProcess("errno:%d" % errno.EXDEV)
    try:
        cid = container(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": agent.path,
                                 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]})
        path = str(tmp_path / "console.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        got = {}

        def accept():
            conn, _ = srv.accept()
            got["fd"] = recv_fd(conn)
            conn.close()

        t = threading.Thread(target=accept)
        t.start()
        pidf = tmp_path / "exec.pid"
        r = rt.run("exec", "-t", "-d", "--console-socket", path, "--pid-file", str(pidf), cid, "sh", "-c",
                   "mkdir /tmp/t; echo rc=$?; echo tty-done; sleep 2")
        t.join(10)
        srv.close()
        assert r.returncode == 0, r.stderr
        fd = got.get("fd")
        assert fd is not None
        out = b""
        deadline = time.time() + 10
        while b"tty-done" not in out and time.time() < deadline:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(fd)
        assert os.strerror(errno.EXDEV).encode() in out and b"rc=1" in out, out
        states = agent.wait_for(lambda e: "state" in e and e["state"]["pid"] == int(pidf.read_text()))
        assert states and states[0]["state"]["state"]["id"] == cid, agent.entries()
    finally:
        agent.stop()


def test_exec_into_user_namespace_with_seccomp_notify(rt, tmp_path):
    """The exec'd process loads the filter inside the container's user
    namespace; its listener still reaches the agent on the host (issue #4)."""
    import errno
    import shutil
    import tempfile
    from helpers import make_bundle
    from seccomp_agent import AgentProcess
    from test_namespaces import userns_bundle
    agent = AgentProcess("errno:%d" % errno.EXDEV)  # root-only: the runtime on the host connects
    top = tempfile.mkdtemp(prefix="keel-exec-userns-")  # the mapped root must reach the rootfs
    os.chmod(top, 0o711)
    cid = "ex-un-" + uuid.uuid4().hex[:8]
    try:
        bundle = make_bundle(os.path.join(top, "bundle"))
        userns_bundle(bundle)
        bundle.config["process"]["args"] = ["sleep", "1000"]
        bundle.config["linux"]["cgroupsPath"] = unique_path()
        bundle.config["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": agent.path,
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}
        bundle.write()
        rc, err = create(rt, bundle, cid, tmp_path)
        assert rc == 0, err
        assert rt.run("start", cid).returncode == 0
        pidf = tmp_path / "exec.pid"
        r = rt.run("exec", "--pid-file", str(pidf), cid, "mkdir", "/tmp/u")
        assert r.returncode != 0
        assert os.strerror(errno.EXDEV) in r.stderr, r.stderr
        pid = int(pidf.read_text())
        states = agent.wait_for(lambda e: "state" in e and e["state"]["pid"] == pid)
        assert states and states[0]["state"]["state"]["pid"] == state_pid(rt, cid), agent.entries()
    finally:
        rt.run("delete", "--force", cid)
        agent.stop()
        shutil.rmtree(top, ignore_errors=True)
