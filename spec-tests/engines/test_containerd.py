"""containerd 1.6 and its io.containerd.runc.v2 shim driving the runtime under
test (the Kubernetes node path), through ctr.

Most scenarios pass `--runc-binary` (the shim's BinaryName option). ctr 1.6
drops that option with --uidmap and --no-pivot and `ctr containers create`
lacks it, so those run on a second containerd that finds the runtime under
test as `runc` on its PATH (see containerd_env)."""
import json
import os
import shutil
import subprocess
import time

import pytest

import containerd_env
from containerd_env import IMAGE, NAMESPACE
from images import INDEX_HTML
from test_podman import CAP_NET_RAW, CAP_SYS_ADMIN, cap_eff, in_pty, read_cgroup

SLEEPER = ["sleep", "1000"]


@pytest.fixture
def cid(containerd, name):
    yield name
    containerd.remove(name)


def proc_ifaces(text):
    return sorted(line.split(":")[0].strip() for line in text.splitlines()[2:] if ":" in line)


class Attached:
    """`ctr run` in the foreground (attached to the task's IO) in the background
    of the test; returncode is the task's exit status as ctr reports it."""

    def __init__(self, containerd, cid, *args, opts=()):
        cmd = containerd.ctr_cmd("run", "--rm", *containerd.run_flags(), *opts, IMAGE, cid, *args)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=containerd.work)
        containerd.wait_status(cid, "RUNNING")

    def wait(self, timeout=30):
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


# --- basics -------------------------------------------------------------------

def test_run_echo(containerd, cid):
    p = containerd.run(cid, "echo", "hi")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hi\n"


@pytest.mark.parametrize("code", [0, 1, 3, 42])
def test_exit_code(containerd, cid, code):
    p = containerd.run(cid, "sh", "-c", "exit %d" % code)
    assert p.returncode == code, p.stderr


def test_missing_command_runtime_message(containerd, cid):
    p = containerd.run(cid, "/no/such/cmd")
    assert p.returncode != 0
    # The shim passes the runtime's own error (from its --log file) up to ctr.
    assert "/no/such/cmd" in p.stderr, p.stderr


def test_env_and_cwd(containerd, cid):
    p = containerd.run(cid, "sh", "-c", 'echo "$FOO"; pwd', opts=("--env", "FOO=bar baz", "--cwd", "/home/user"))
    assert p.returncode == 0, p.stderr
    assert p.stdout == "bar baz\n/home/user\n"


def test_binary_name_reaches_runtime(containerd, cid):
    containerd.run_detached(cid, *SLEEPER)
    state = containerd.runtime_state(cid)
    assert state["status"] == "running" and state["pid"] == containerd.task_pid(cid), state


def test_create_then_start(containerd_path_runc, name):
    c = containerd_path_runc
    try:
        c.ok("containers", "create", IMAGE, name, "--", "sh", "-c", "echo started; exit 4")
        assert c.task_status(name) is None
        p = c.ctr("tasks", "start", "--fifo-dir", c.fifo, name)
        assert p.returncode == 4, p.stderr
        assert p.stdout == "started\n"
    finally:
        c.remove(name)


# --- exec, signals, ps, pause ------------------------------------------------------

def test_exec(containerd, cid):
    containerd.run_detached(cid, *SLEEPER)
    ex = lambda *a, **kw: containerd.ctr("tasks", "exec", "--fifo-dir", containerd.fifo, *a, **kw)  # noqa: E731
    p = ex("--exec-id", "e1", cid, "echo", "in-exec")
    assert (p.returncode, p.stdout) == (0, "in-exec\n"), p.stderr
    p = ex("--exec-id", "e2", cid, "sh", "-c", "exit 6")
    assert p.returncode == 6, p.stderr
    p = ex("--exec-id", "e3", "--cwd", "/tmp", "--user", "1000", cid, "sh", "-c", "pwd; id -u")
    assert (p.returncode, p.stdout) == (0, "/tmp\n1000\n"), p.stderr
    p = ex("--exec-id", "e4", cid, "cat", "/proc/1/cmdline")
    assert p.stdout.split("\0")[0] == "sleep", p.stdout
    p = ex("--exec-id", "e5", cid, "/no/such/cmd")
    assert p.returncode != 0 and "/no/such/cmd" in p.stderr, p.stderr


def test_kill_sigterm(containerd, cid):
    task = Attached(containerd, cid, "sh", "-c", "trap 'exit 5' TERM; while :; do sleep 0.1; done")
    time.sleep(0.3)  # let sh install its trap
    containerd.ok("tasks", "kill", cid)
    rc, out, err = task.wait()
    assert rc == 5, err


def test_kill_all(containerd, cid):
    task = Attached(containerd, cid, "sh", "-c", "sleep 1000 & sleep 1000 & wait")
    deadline = time.monotonic() + 10
    while len(ps_pids(containerd, cid)) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    containerd.ok("tasks", "kill", "--all", "-s", "SIGKILL", cid)
    rc, out, err = task.wait()
    assert rc == 137, err


def ps_pids(containerd, cid):
    out = containerd.ok("tasks", "ps", cid)
    return [int(line.split()[0]) for line in out.splitlines()[1:] if line.strip()]


def test_ps(containerd, cid):
    containerd.run_detached(cid, "sh", "-c", "sleep 1000 & sleep 1001 & wait")
    deadline = time.monotonic() + 10
    while len(ps_pids(containerd, cid)) < 3:
        assert time.monotonic() < deadline, containerd.ok("tasks", "ps", cid)
        time.sleep(0.05)
    pids = ps_pids(containerd, cid)
    cmdlines = set()
    for pid in pids:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdlines.add(f.read().replace(b"\0", b" ").decode().strip())
    assert {"sleep 1000", "sleep 1001"} <= cmdlines, cmdlines
    assert containerd.task_pid(cid) in pids


def test_pause_resume(containerd, cid):
    containerd.run_detached(cid, *SLEEPER)
    containerd.ok("tasks", "pause", cid)
    assert containerd.task_status(cid) == "PAUSED"
    containerd.ok("tasks", "resume", cid)
    assert containerd.task_status(cid) == "RUNNING"
    p = containerd.ctr("tasks", "exec", "--fifo-dir", containerd.fifo, "--exec-id", "after", cid, "echo", "alive")
    assert p.stdout == "alive\n", p.stderr


def test_metrics(containerd, cid):
    containerd.run_detached(cid, *SLEEPER)
    out = containerd.ok("tasks", "metrics", "--format", "json", cid)
    m = json.loads(out)
    assert m["memory"]["usage"]["usage"] > 0, out


# --- terminals ------------------------------------------------------------------

def test_tty_run(containerd, cid):
    import shlex
    cmd = containerd.ctr_cmd("run", "--rm", "-t", *containerd.run_flags(), IMAGE, cid,
                             "sh", "-c", "tty; [ -t 0 ] && echo is-tty; exit 3")
    rc, out = in_pty(" ".join(shlex.quote(c) for c in cmd))
    assert "/dev/pts/0" in out and "is-tty" in out, out
    assert rc == 3, out


def test_tty_exec(containerd, cid):
    import shlex
    containerd.run_detached(cid, *SLEEPER)
    cmd = containerd.ctr_cmd("tasks", "exec", "-t", "--fifo-dir", containerd.fifo, "--exec-id", "tty1", cid,
                             "sh", "-c", "tty; [ -t 0 ] && echo exec-tty")
    rc, out = in_pty(" ".join(shlex.quote(c) for c in cmd))
    assert rc == 0, out
    assert "/dev/pts/" in out and "exec-tty" in out, out


# --- networking -------------------------------------------------------------------

def test_private_network(containerd, cid):
    p = containerd.run(cid, "cat", "/proc/net/dev")
    assert p.returncode == 0, p.stderr
    assert proc_ifaces(p.stdout) == ["lo"], p.stdout


def test_private_network_loopback_up(containerd, cid):
    # Without CNI nobody but the runtime brings up lo in a new network namespace.
    p = containerd.run(cid, "sh", "-c", "ip link show lo; httpd -p 127.0.0.1:8080 -h /www && "
                       "wget -qO- http://127.0.0.1:8080/")
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "UP" in p.stdout.splitlines()[0], p.stdout
    assert INDEX_HTML in p.stdout


def test_host_network(containerd, cid):
    p = containerd.run(cid, "cat", "/proc/net/dev", opts=("--net-host",))
    assert p.returncode == 0, p.stderr
    with open("/proc/net/dev") as f:
        host = proc_ifaces(f.read())
    assert set(proc_ifaces(p.stdout)) & set(host) - {"lo"}, (p.stdout, host)


def test_join_another_containers_network(containerd, cid):
    # How Kubernetes pods work: members join the sandbox's namespaces by path.
    sandbox = cid + "-sandbox"
    try:
        containerd.run_detached(sandbox, "httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/www")
        netns = "/proc/%d/ns/net" % containerd.task_pid(sandbox)
        p = containerd.run(cid, "sh", "-c", "for i in $(seq 50); do wget -qO- http://127.0.0.1:8080/ && exit 0; "
                           "sleep 0.1; done; exit 1", opts=("--with-ns", "network:" + netns))
        assert p.returncode == 0, p.stderr
        assert p.stdout == INDEX_HTML
    finally:
        containerd.remove(sandbox)


# --- resources ------------------------------------------------------------------------

def test_memory_oom_137(containerd, cid):
    # The shim's OOM event is what Kubernetes reports as OOMKilled.
    events = subprocess.Popen(containerd.ctr_cmd("events"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, text=True)
    try:
        p = containerd.run(cid, "dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1",
                           opts=("--memory-limit", str(32 << 20)))
        assert p.returncode == 137, (p.returncode, p.stderr)
        time.sleep(0.5)
    finally:
        events.terminate()
        out = events.communicate(timeout=10)[0]
    assert any("/tasks/oom" in line and cid in line for line in out.splitlines()), out


def test_cgroup_path(containerd, cid):
    # Kubernetes gives every container a cgroupsPath of its own under kubepods.
    parent = "/keeltest-engines-%d" % os.getpid()
    path = "%s/%s" % (parent, cid)
    try:
        containerd.run_detached(cid, *SLEEPER, opts=("--cgroup", path))
        with open("/proc/%d/cgroup" % containerd.task_pid(cid)) as f:
            lines = [line.strip().split(":", 2) for line in f]
        memory = [p for _, ctrls, p in lines if "memory" in ctrls.split(",")]
        assert memory == [path], lines
    finally:
        containerd.remove(cid)
        # The runtime removes the container's own cgroup, not the parents it made.
        for ctrl in os.listdir("/sys/fs/cgroup"):
            try:
                os.rmdir("/sys/fs/cgroup/%s%s" % (ctrl, parent))
            except OSError:
                pass


def test_memory_and_cpu_limits_in_cgroup(containerd, cid):
    containerd.run_detached(cid, *SLEEPER, opts=("--memory-limit", str(48 << 20), "--cpus", "0.5"))
    pid = containerd.task_pid(cid)
    assert read_cgroup(pid, "memory", "memory.limit_in_bytes") == str(48 << 20)
    assert read_cgroup(pid, "cpu", "cpu.cfs_quota_us") == "50000"


# --- security ---------------------------------------------------------------------------

def test_cap_drop(containerd, cid):
    p = containerd.run(cid, "cat", "/proc/self/status")
    assert cap_eff(p.stdout) & (1 << CAP_NET_RAW), p.stdout
    containerd.remove(cid)
    p = containerd.run(cid, "cat", "/proc/self/status", opts=("--cap-drop", "CAP_NET_RAW"))
    caps = cap_eff(p.stdout)
    assert caps and not caps & (1 << CAP_NET_RAW), p.stdout


def test_privileged(containerd, cid):
    p = containerd.run(cid, "sh", "-c", "cat /proc/self/status; ls /dev/loop-control && "
                       "mount -t tmpfs none /mnt && echo mounted", opts=("--privileged",))
    assert p.returncode == 0, p.stderr
    assert cap_eff(p.stdout) & (1 << CAP_SYS_ADMIN)
    assert "mounted" in p.stdout


def test_read_only_rootfs(containerd, cid):
    p = containerd.run(cid, "touch", "/rootfile", opts=("--read-only",))
    assert p.returncode != 0
    assert "Read-only file system" in p.stderr, p.stderr


def test_seccomp_default(containerd, cid):
    p = containerd.run(cid, "cat", "/proc/self/status", opts=("--seccomp",))
    assert "Seccomp:\t2" in p.stdout, p.stdout


def test_seccomp_profile(containerd, cid, scratch):
    profile = scratch / "deny-mkdir.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }))
    p = containerd.run(cid, "sh", "-c", "touch /tmp/f && echo touched; mkdir /tmp/d",
                       opts=("--seccomp", "--seccomp-profile", str(profile)))
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "touched" in p.stdout and "Operation not permitted" in p.stderr, (p.stdout, p.stderr)


def test_bind_mounts(containerd, cid, scratch):
    host = scratch / "shared"
    host.mkdir()
    (host / "from-host").write_text("hello from host\n")
    p = containerd.run(cid, "sh", "-c", "cat /data/from-host; echo back > /data/from-ctr",
                       opts=("--mount", "type=bind,src=%s,dst=/data,options=rbind:rw" % host))
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hello from host\n"
    assert (host / "from-ctr").read_text() == "back\n"
    containerd.remove(cid)
    p = containerd.run(cid, "touch", "/data/nope",
                       opts=("--mount", "type=bind,src=%s,dst=/data,options=rbind:ro" % host))
    assert p.returncode != 0 and "Read-only file system" in p.stderr, p.stderr


def test_device(containerd, cid):
    p = containerd.run(cid, "sh", "-c", "dd if=/dev/loop-control of=/dev/null count=0 && echo opened",
                       opts=("--device", "/dev/loop-control"))
    assert p.returncode == 0, p.stderr
    assert "opened" in p.stdout


# --- options with which ctr 1.6 drops --runc-binary ---------------------------------------

@pytest.fixture
def pcid(containerd_path_runc, name):
    yield name
    containerd_path_runc.remove(name)


def test_runc_on_path_is_runtime_under_test(containerd_path_runc, pcid):
    c = containerd_path_runc
    c.run_detached(pcid, *SLEEPER)
    assert c.runtime_state(pcid)["pid"] == c.task_pid(pcid)


def test_user_namespace(containerd_path_runc, pcid):
    p = containerd_path_runc.run(pcid, "sh", "-c",
                                 "cat /proc/self/uid_map /proc/self/gid_map; id -u; ls -ln /etc/passwd",
                                 opts=("--uidmap", "0:300000:65536", "--gidmap", "0:300000:65536"))
    assert p.returncode == 0, p.stderr
    lines = [line.split() for line in p.stdout.splitlines()]
    assert lines[0] == ["0", "300000", "65536"] and lines[1] == ["0", "300000", "65536"], p.stdout
    assert lines[2] == ["0"]
    # The snapshot was remapped: files owned by host uid 300000 show as 0.
    assert lines[3][2:4] == ["0", "0"], p.stdout


def test_no_pivot(containerd_path_runc, pcid):
    p = containerd_path_runc.run(pcid, "sh", "-c", "grep ^user: /etc/passwd; ls /www", opts=("--no-pivot",))
    assert p.returncode == 0, p.stderr
    assert p.stdout == "user:x:1000:1000:user:/home/user:/bin/sh\nindex.html\n"


# --- through the containerd API (kctr): what ctr cannot say ----------------------------------

def kctr_run(containerd, kctr, cid, *args, no_pivot=False, uidmap="-"):
    cmd = [kctr, containerd.address, NAMESPACE, "run", containerd.runtime_path, containerd.fifo,
           "1" if no_pivot else "0", uidmap, IMAGE, cid, *args]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=120)


def test_api_update(containerd, kctr, cid):
    containerd.run_detached(cid, *SLEEPER, opts=("--memory-limit", str(256 << 20)))
    p = subprocess.run([kctr, containerd.address, NAMESPACE, "update", cid, str(96 << 20), "30000"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    pid = containerd.task_pid(cid)
    assert read_cgroup(pid, "memory", "memory.limit_in_bytes") == str(96 << 20)
    assert read_cgroup(pid, "cpu", "cpu.cfs_quota_us") == "30000"


def test_api_binary_name_with_no_pivot(containerd, kctr, cid):
    p = kctr_run(containerd, kctr, cid, "sh", "-c", "grep ^user: /etc/passwd; exit 3", no_pivot=True)
    assert p.returncode == 3, p.stderr
    assert p.stdout == "user:x:1000:1000:user:/home/user:/bin/sh\n"


def test_api_binary_name_with_user_namespace(containerd, kctr, cid):
    p = kctr_run(containerd, kctr, cid, "sh", "-c", "cat /proc/self/uid_map; id -u", uidmap="400000:65536")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["0", "400000", "65536", "0"], p.stdout


def test_api_runtime_error_reaches_client(containerd, kctr, cid):
    p = kctr_run(containerd, kctr, cid, "/no/such/cmd")
    assert p.returncode != 0 and "/no/such/cmd" in p.stderr, p.stderr


# --- the Kubernetes (CRI) runtime handler from docs/containerd.md ----------------------------

def docs_cri_toml():
    docs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "containerd.md")
    with open(docs) as f:
        text = f.read()
    start = text.index("```toml\n") + len("```toml\n")
    return text[start:text.index("```", start)]


def test_docs_cri_handler_accepted(runtime_path, tmp_path):
    """containerd's CRI plugin parses the documented handler, with BinaryName."""
    if os.geteuid() != 0 or not shutil.which("containerd"):
        pytest.skip("needs root and containerd (.ci/install-deps installs it)")
    base = tmp_path / "cri"
    base.mkdir()
    handler = docs_cri_toml().replace("/usr/local/bin/keel", runtime_path)
    config = base / "config.toml"
    config.write_text("\n".join([
        "version = 2", 'root = "%s/root"' % base, 'state = "%s/state"' % base,
        "[grpc]", '  address = "%s/c.sock"' % base, "[ttrpc]", '  address = "%s/c.sock.ttrpc"' % base,
        "[metrics]", '  address = ""',
        '[plugins."io.containerd.grpc.v1.cri"]', '  stream_server_address = "127.0.0.1"',
        '  stream_server_port = "0"', "  disable_tcp_service = true",
        '[plugins."io.containerd.grpc.v1.cri".cni]', '  bin_dir = "/usr/lib/cni"',
        '  conf_dir = "%s/cni"' % base, handler]))
    log = base / "log"
    with open(log, "w") as logf:
        proc = subprocess.Popen(["containerd", "--config", str(config)], stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while "Start cri plugin" not in log.read_text() and "failed to load plugin io.containerd.grpc.v1.cri" \
                not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        containerd_env.umount_below(str(base))
    text = log.read_text()
    assert "failed to load plugin io.containerd.grpc.v1.cri" not in text, text[-3000:]
    assert "keel:{Type:io.containerd.runc.v2" in text, text[-3000:]
    assert "BinaryName:%s" % runtime_path in text, text[-3000:]
