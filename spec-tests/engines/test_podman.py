"""Podman (rootful, conmon, cgroupfs, CNI) driving the runtime under test.

Each test is one scenario a user runs; each asserts what the user would see.
The runtime is given with `podman --runtime PATH` except in test_conf_*,
where only the containers.conf [engine.runtimes] entry selects it."""
import json
import os
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from podman_env import IMAGE, SUBNET
from images import INDEX_HTML

SLEEPER = ["sleep", "1000"]


@pytest.fixture
def ctr(podman, name):
    """A name for a container the test creates; removed afterwards."""
    yield name
    podman.podman("rm", "-f", "-t", "0", name)


def run_detached(podman, name, *args):
    cid = podman.ok("run", "-d", "--name", name, *args).strip()
    podman.wait_for(name, "{{.State.Status}}", "running")
    return cid


def cap_eff(text):
    for line in text.splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    raise AssertionError("no CapEff in %r" % text)


CAP_NET_RAW, CAP_SYS_ADMIN = 13, 21


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=15):
    deadline = time.monotonic() + timeout
    err = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError as e:
            err = e
            time.sleep(0.2)
    raise AssertionError("GET %s: %s" % (url, err))


def in_pty(command, timeout=60):
    """Runs a shell command line with a real pty (script's) as its terminal.
    script's stdin stays open until the command ends: at EOF script would
    hang up the pty under the container."""
    p = subprocess.Popen(["script", "-qec", command, "/dev/null"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    try:
        out = p.stdout.read().decode(errors="replace")
        rc = p.wait()
    finally:
        timer.cancel()
        p.stdin.close()
        p.stdout.close()
    return rc, out.replace("\r", "")


# --- basics -----------------------------------------------------------------

def test_run_rm_echo(podman):
    p = podman.podman("run", "--rm", IMAGE, "echo", "hi")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hi\n"


@pytest.mark.parametrize("code", [0, 1, 3, 42])
def test_exit_code(podman, code):
    p = podman.podman("run", "--rm", IMAGE, "sh", "-c", "exit %d" % code)
    assert p.returncode == code, p.stderr


def test_missing_command_127_with_runtime_message(podman):
    p = podman.podman("run", "--rm", IMAGE, "/no/such/cmd")
    assert p.returncode == 127, p.stderr
    # Only the runtime knows the path it failed to exec: podman shows its message.
    assert "/no/such/cmd" in p.stderr, p.stderr


def test_not_executable_126_with_runtime_message(podman):
    p = podman.podman("run", "--rm", IMAGE, "/etc/passwd")
    assert p.returncode == 126, p.stderr
    assert "/etc/passwd" in p.stderr and "ermission denied" in p.stderr, p.stderr


def test_env_and_workdir(podman):
    p = podman.podman("run", "--rm", "-e", "FOO=bar baz", "-w", "/home/user", IMAGE,
                      "sh", "-c", 'echo "$FOO"; pwd')
    assert p.returncode == 0, p.stderr
    assert p.stdout == "bar baz\n/home/user\n"


def test_stdin_piped(podman):
    p = podman.podman("run", "--rm", "-i", IMAGE, "sh", "-c", "cat; echo end", input="from-stdin\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "from-stdin\nend\n"


# --- detached lifecycle, exec ------------------------------------------------

def test_detached_exec_stop_rm(podman, ctr):
    run_detached(podman, ctr, IMAGE, *SLEEPER)
    assert podman.ok("exec", ctr, "echo", "in-exec") == "in-exec\n"
    assert podman.ok("exec", "--user", "1000", ctr, "id", "-u") == "1000\n"
    assert podman.ok("exec", "--user", "1000:1000", ctr, "id", "-g") == "1000\n"
    assert podman.ok("exec", "--workdir", "/tmp", ctr, "pwd") == "/tmp\n"
    assert podman.ok("exec", "--env", "A=b c", ctr, "sh", "-c", 'echo "$A"') == "b c\n"
    p = podman.podman("exec", ctr, "sh", "-c", "exit 7")
    assert p.returncode == 7, p.stderr
    p = podman.podman("exec", ctr, "/no/such/cmd")
    assert p.returncode == 127 and "/no/such/cmd" in p.stderr, (p.returncode, p.stderr)
    # sleep as PID 1 ignores SIGTERM: stop must fall back to SIGKILL.
    podman.ok("stop", "-t", "1", ctr)
    assert podman.inspect(ctr, "{{.State.Status}}") == "exited"
    assert podman.inspect(ctr, "{{.State.ExitCode}}") == "137"
    podman.ok("rm", ctr)
    assert podman.podman("inspect", ctr).returncode != 0


def test_exec_sees_container_namespaces(podman, ctr):
    run_detached(podman, ctr, "--hostname", "kthost", IMAGE, *SLEEPER)
    assert podman.ok("exec", ctr, "hostname") == "kthost\n"
    # The exec'd process is in the container's pid namespace: PID 1 is sleep.
    assert podman.ok("exec", ctr, "cat", "/proc/1/cmdline").split("\0")[0] == "sleep"


def test_stop_graceful_sigterm(podman, ctr):
    run_detached(podman, ctr, IMAGE, "sh", "-c", "trap 'exit 5' TERM; while :; do sleep 0.1; done")
    podman.ok("stop", "-t", "10", ctr)
    assert podman.inspect(ctr, "{{.State.ExitCode}}") == "5"


def test_logs(podman, ctr):
    podman.ok("run", "-d", "--name", ctr, IMAGE, "sh", "-c", "echo to-stdout; echo to-stderr >&2")
    assert podman.ok("wait", ctr).strip() == "0", podman.describe(ctr)
    p = podman.podman("logs", ctr)
    assert "to-stdout" in p.stdout and "to-stderr" in p.stderr, (p.stdout, p.stderr)


def test_kill_usr1(podman, ctr):
    run_detached(podman, ctr, IMAGE, "sh", "-c",
                 "trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.1; done")
    deadline = time.monotonic() + 10
    while "ready" not in podman.ok("logs", ctr) and time.monotonic() < deadline:
        time.sleep(0.1)
    podman.ok("kill", "-s", "USR1", ctr)
    deadline = time.monotonic() + 10
    while "got-usr1" not in podman.ok("logs", ctr):
        assert time.monotonic() < deadline, podman.ok("logs", ctr)
        time.sleep(0.1)
    assert podman.inspect(ctr, "{{.State.Status}}") == "running"


def test_kill_default_sigkill(podman, ctr):
    run_detached(podman, ctr, IMAGE, *SLEEPER)
    podman.ok("kill", ctr)
    podman.ok("wait", ctr)
    assert podman.inspect(ctr, "{{.State.ExitCode}}") == "137"


def test_top(podman, ctr):
    run_detached(podman, ctr, IMAGE, *SLEEPER)
    out = podman.ok("top", ctr)
    assert "sleep 1000" in out, out


def test_stats_no_stream(podman, ctr):
    run_detached(podman, ctr, IMAGE, *SLEEPER)
    out = podman.ok("stats", "--no-stream", "--format", "json", ctr)
    stats = json.loads(out)
    assert len(stats) == 1 and stats[0]["name"] == ctr, out
    assert stats[0]["mem_usage"] and not stats[0]["mem_usage"].startswith("0B"), out


def test_pause_unpause(podman, ctr):
    run_detached(podman, ctr, IMAGE, "sh", "-c", "while :; do date +%s%N > /tmp/tick; sleep 0.05; done")
    podman.ok("pause", ctr)
    assert podman.inspect(ctr, "{{.State.Status}}") == "paused"
    pid = podman.inspect(ctr, "{{.State.Pid}}")
    with open("/proc/%s/cgroup" % pid) as f:
        freezer = [line.split(":", 2)[2].strip() for line in f if ":freezer:" in line]
    if freezer:
        with open("/sys/fs/cgroup/freezer%s/freezer.state" % freezer[0]) as f:
            assert f.read().strip() == "FROZEN"
    podman.ok("unpause", ctr)
    assert podman.inspect(ctr, "{{.State.Status}}") == "running"
    assert podman.ok("exec", ctr, "echo", "alive") == "alive\n"


def test_update_memory(podman, ctr):
    run_detached(podman, ctr, "--memory", "256m", IMAGE, *SLEEPER)
    podman.ok("update", "--memory", "128m", "--memory-swap", "128m", ctr)
    pid = podman.inspect(ctr, "{{.State.Pid}}")
    assert read_cgroup(pid, "memory", "memory.limit_in_bytes") == str(128 << 20)


def read_cgroup(pid, controller, filename):
    with open("/proc/%s/cgroup" % pid) as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller in ctrls.split(","):
                with open("/sys/fs/cgroup/%s%s/%s" % (ctrls, path, filename)) as g:
                    return g.read().strip()
    raise AssertionError("pid %s has no %s cgroup" % (pid, controller))


def test_init(podman):
    p = podman.podman("run", "--rm", "--init", IMAGE, "cat", "/proc/1/cmdline")
    assert p.returncode == 0, p.stderr
    assert "init" in p.stdout.split("\0")[0], p.stdout


def test_preserve_fds(podman, scratch):
    data = scratch / "fd3.txt"
    data.write_text("passed-as-fd-3\n")
    cmd = "exec 3<%s; %s" % (data, podman.shell_cmd("run", "--rm", "--preserve-fds", "1", IMAGE,
                                                   "sh", "-c", "cat <&3"))
    p = subprocess.run(["bash", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=60, cwd=podman.work)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "passed-as-fd-3\n"


def test_exec_detach(podman, ctr):
    run_detached(podman, ctr, IMAGE, *SLEEPER)
    podman.ok("exec", "-d", ctr, "sh", "-c", "echo detached > /tmp/marker")
    deadline = time.monotonic() + 10
    while podman.podman("exec", ctr, "cat", "/tmp/marker").stdout != "detached\n":
        assert time.monotonic() < deadline, "the detached exec never wrote its marker"
        time.sleep(0.1)


def test_restart(podman, ctr):
    run_detached(podman, ctr, IMAGE, *SLEEPER)
    pid1 = podman.inspect(ctr, "{{.State.Pid}}")
    podman.ok("restart", "-t", "0", ctr)
    podman.wait_for(ctr, "{{.State.Status}}", "running")
    assert podman.inspect(ctr, "{{.State.Pid}}") != pid1
    assert podman.ok("exec", ctr, "echo", "again") == "again\n"


def test_ulimit(podman):
    # An explicit --ulimit drops containers.conf's default_ulimits: podman
    # then asks for its own nproc default, above this host's hard limit.
    p = podman.podman("run", "--rm", "--ulimit", "nofile=512:1024", "--ulimit", "nproc=1000:2000", IMAGE,
                      "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u")
    assert (p.returncode, p.stdout) == (0, "512\n1024\n1000\n"), p.stderr


def test_oom_score_adj(podman):
    p = podman.podman("run", "--rm", "--oom-score-adj", "123", IMAGE, "cat", "/proc/self/oom_score_adj")
    assert (p.returncode, p.stdout) == (0, "123\n"), p.stderr


def test_sysctl(podman):
    p = podman.podman("run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", IMAGE,
                      "cat", "/proc/sys/net/ipv4/ip_forward")
    assert (p.returncode, p.stdout) == (0, "1\n"), p.stderr


def test_pid_host(podman):
    with open("/proc/1/cmdline", "rb") as f:
        host_init = f.read().split(b"\0")[0].decode()
    p = podman.podman("run", "--rm", "--pid", "host", IMAGE, "cat", "/proc/1/cmdline")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\0")[0] == host_init


def test_user_namespace_uidmap(podman):
    p = podman.podman("run", "--rm", "--uidmap", "0:200000:65536", "--gidmap", "0:200000:65536", IMAGE,
                      "sh", "-c", "cat /proc/self/uid_map; id -u; ls -ln /etc/passwd")
    assert p.returncode == 0, p.stderr
    lines = [line.split() for line in p.stdout.splitlines()]
    assert lines[0] == ["0", "200000", "65536"] and lines[1] == ["0"], p.stdout
    assert lines[2][2:4] == ["0", "0"], p.stdout


# --- terminals ----------------------------------------------------------------

def test_run_it_pty(podman):
    rc, out = in_pty(podman.shell_cmd("run", "-it", "--rm", IMAGE, "sh", "-c",
                                      "tty; [ -t 0 ] && [ -t 1 ] && echo both-tty"))
    assert rc == 0, out
    assert "/dev/pts/0" in out and "both-tty" in out, out


def test_exec_it_pty(podman, ctr):
    run_detached(podman, ctr, IMAGE, *SLEEPER)
    rc, out = in_pty(podman.shell_cmd("exec", "-it", ctr, "sh", "-c", "tty; [ -t 0 ] && echo exec-tty"))
    assert rc == 0, out
    assert "/dev/pts/" in out and "exec-tty" in out, out


def test_run_t_exit_code(podman):
    rc, out = in_pty(podman.shell_cmd("run", "-it", "--rm", IMAGE, "sh", "-c", "exit 9"))
    assert rc == 9, out


# --- networking -----------------------------------------------------------------

def test_network_none(podman):
    p = podman.podman("run", "--rm", "--network", "none", IMAGE, "sh", "-c",
                      "cat /proc/net/dev; echo ---; ip link show lo")
    assert p.returncode == 0, p.stderr
    netdev = p.stdout.split("---")[0]
    ifaces = sorted(line.split(":")[0].strip() for line in netdev.splitlines()[2:])
    assert ifaces == ["lo"], p.stdout
    assert "<LOOPBACK,UP" in p.stdout, p.stdout


def test_bridge_network_and_loopback(podman):
    prefix = SUBNET.rsplit(".", 1)[0] + "."
    p = podman.podman("run", "--rm", IMAGE, "sh", "-c",
                      "ip -4 addr show eth0; httpd -p 127.0.0.1:8080 -h /www && "
                      "wget -qO- http://127.0.0.1:8080/")
    assert p.returncode == 0, p.stderr
    assert "inet " + prefix in p.stdout, p.stdout
    assert INDEX_HTML in p.stdout


def test_publish_port_httpd(podman, ctr):
    port = free_port()
    run_detached(podman, ctr, "-p", "127.0.0.1:%d:80" % port, IMAGE, "httpd", "-f", "-p", "80", "-h", "/www")
    assert http_get("http://127.0.0.1:%d/" % port) == INDEX_HTML


# --- resources ---------------------------------------------------------------------

def test_memory_oom_137(podman, ctr):
    marker = os.path.join(podman.work, "oom")
    if os.path.exists(marker):
        os.unlink(marker)
    p = podman.podman("run", "--name", ctr, "--memory", "32m", "--memory-swap", "32m", IMAGE,
                      "dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1")
    assert p.returncode == 137, (p.returncode, p.stderr)
    # conmon saw the cgroup's OOM event: it drops its `oom` marker into its
    # cwd (podman 4.3 looks for it elsewhere, so State.OOMKilled stays false).
    assert os.path.exists(marker), "conmon did not report an OOM kill"
    os.unlink(marker)


def test_memory_limit_in_cgroup(podman, ctr):
    run_detached(podman, ctr, "--memory", "48m", IMAGE, *SLEEPER)
    pid = podman.inspect(ctr, "{{.State.Pid}}")
    assert read_cgroup(pid, "memory", "memory.limit_in_bytes") == str(48 << 20)


def test_pids_limit(podman, ctr):
    run_detached(podman, ctr, "--pids-limit", "8", IMAGE, *SLEEPER)
    pid = podman.inspect(ctr, "{{.State.Pid}}")
    assert read_cgroup(pid, "pids", "pids.max") == "8"
    p = podman.podman("exec", ctr, "sh", "-c", "for i in $(seq 12); do sleep 30 & done; wait")
    assert "fork" in p.stderr or "Resource temporarily unavailable" in p.stderr, (p.returncode, p.stderr)


def test_cpu_quota(podman, ctr):
    run_detached(podman, ctr, "--cpus", "0.5", IMAGE, *SLEEPER)
    pid = podman.inspect(ctr, "{{.State.Pid}}")
    assert read_cgroup(pid, "cpu", "cpu.cfs_quota_us") == "50000"


# --- security -------------------------------------------------------------------

def test_default_caps(podman):
    out = podman.ok("run", "--rm", IMAGE, "cat", "/proc/self/status")
    caps = cap_eff(out)
    assert caps != 0 and not caps & (1 << CAP_SYS_ADMIN), hex(caps)


def test_cap_drop_all(podman):
    out = podman.ok("run", "--rm", "--cap-drop", "ALL", IMAGE, "cat", "/proc/self/status")
    assert cap_eff(out) == 0, out


def test_cap_add(podman):
    out = podman.ok("run", "--rm", "--cap-drop", "ALL", "--cap-add", "NET_RAW", IMAGE, "cat", "/proc/self/status")
    assert cap_eff(out) == 1 << CAP_NET_RAW, out


def test_privileged(podman):
    p = podman.podman("run", "--rm", "--privileged", IMAGE, "sh", "-c",
                      "cat /proc/self/status; ls /dev/loop-control && mount -t tmpfs none /mnt && echo mounted")
    assert p.returncode == 0, p.stderr
    assert cap_eff(p.stdout) & (1 << CAP_SYS_ADMIN)
    assert "Seccomp:\t0" in p.stdout
    assert "mounted" in p.stdout


def test_read_only(podman):
    p = podman.podman("run", "--rm", "--read-only", IMAGE, "sh", "-c",
                      "touch /tmp/ok && echo tmp-writable; touch /rootfile")
    assert p.returncode != 0
    assert "tmp-writable" in p.stdout, (p.stdout, p.stderr)
    assert "Read-only file system" in p.stderr, p.stderr


def test_user_1000(podman):
    p = podman.podman("run", "--rm", "--user", "1000", IMAGE, "sh", "-c", "id -u; id -g; touch /root/x")
    assert p.stdout.splitlines()[:2] == ["1000", "1000"], (p.stdout, p.stderr)
    assert "Permission denied" in p.stderr, p.stderr


def test_seccomp_default_profile(podman):
    out = podman.ok("run", "--rm", IMAGE, "cat", "/proc/self/status")
    assert "Seccomp:\t2" in out, out
    out = podman.ok("run", "--rm", "--security-opt", "seccomp=unconfined", IMAGE, "cat", "/proc/self/status")
    assert "Seccomp:\t0" in out, out


def test_seccomp_profile_file(podman, scratch):
    profile = scratch / "deny-mkdir.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }))
    p = podman.podman("run", "--rm", "--security-opt", "seccomp=%s" % profile, IMAGE,
                      "sh", "-c", "touch /tmp/file && echo touched; mkdir /tmp/dir")
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "touched" in p.stdout
    assert "Operation not permitted" in p.stderr, p.stderr


def test_no_new_privileges(podman):
    out = podman.ok("run", "--rm", "--security-opt", "no-new-privileges", IMAGE, "cat", "/proc/self/status")
    assert "NoNewPrivs:\t1" in out, out


def test_device(podman):
    p = podman.podman("run", "--rm", "--device", "/dev/loop-control", IMAGE, "sh", "-c",
                      "ls -l /dev/loop-control && dd if=/dev/loop-control of=/dev/null count=0 && echo opened")
    assert p.returncode == 0, p.stderr
    assert "opened" in p.stdout


def test_device_cgroup_denies_others(podman):
    # CAP_MKNOD is granted, the device cgroup must still deny the open.
    p = podman.podman("run", "--rm", IMAGE, "sh", "-c",
                      "mknod /tmp/lc c 10 237 && dd if=/tmp/lc of=/dev/null count=0")
    assert p.returncode != 0
    assert "Operation not permitted" in p.stderr, p.stderr


def test_bind_mounts(podman, scratch):
    host = scratch / "shared"
    host.mkdir()
    (host / "from-host").write_text("hello from host\n")
    p = podman.podman("run", "--rm", "-v", "%s:/data" % host, IMAGE, "sh", "-c",
                      "cat /data/from-host; echo back > /data/from-ctr")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hello from host\n"
    assert (host / "from-ctr").read_text() == "back\n"
    p = podman.podman("run", "--rm", "-v", "%s:/data:ro" % host, IMAGE, "touch", "/data/nope")
    assert p.returncode != 0 and "Read-only file system" in p.stderr, p.stderr


def test_tmpfs_mount(podman):
    p = podman.podman("run", "--rm", "--tmpfs", "/scratch:size=1m", IMAGE, "sh", "-c", "grep ' /scratch ' /proc/mounts")
    assert p.returncode == 0 and "tmpfs" in p.stdout, (p.stdout, p.stderr)


# --- pods ---------------------------------------------------------------------

def test_pod_shares_network(podman, name):
    pod = name + "-pod"
    try:
        podman.ok("pod", "create", "--name", pod)
        p = podman.podman("run", "-d", "--pod", pod, "--name", pod + "-web", IMAGE,
                          "httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/www")
        infra = podman.ok("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).strip()
        assert p.returncode == 0, (p.stderr, "infra: " + podman.describe(infra))
        p = podman.podman("run", "--rm", "--pod", pod, IMAGE, "sh", "-c",
                          "for i in $(seq 50); do wget -qO- http://127.0.0.1:8080/ && exit 0; sleep 0.1; done; exit 1")
        assert p.returncode == 0, p.stderr
        assert p.stdout == INDEX_HTML
        assert podman.inspect(infra, "{{.State.Status}}") == "running"
    finally:
        podman.podman("pod", "rm", "-f", "-t", "0", pod)


def test_pod_shares_pid_namespace(podman, name):
    pod = name + "-pod"
    try:
        podman.ok("pod", "create", "--name", pod, "--share", "pid,net,ipc,uts")
        podman.ok("run", "-d", "--pod", pod, "--name", pod + "-a", IMAGE, "sleep", "4242")
        p = podman.podman("run", "--rm", "--pod", pod, IMAGE, "ps", "-o", "args")
        assert p.returncode == 0, p.stderr
        assert "sleep 4242" in p.stdout, p.stdout
    finally:
        podman.podman("pod", "rm", "-f", "-t", "0", pod)


def test_join_other_containers_namespaces(podman, ctr):
    run_detached(podman, ctr, "--hostname", "joined", IMAGE, "sh", "-c",
                 "httpd -p 127.0.0.1:8080 -h /www; exec sleep 1000")
    p = podman.podman("run", "--rm", "--network", "container:" + ctr, "--ipc", "container:" + ctr,
                      "--pid", "container:" + ctr, IMAGE, "sh", "-c",
                      "wget -qO- http://127.0.0.1:8080/; ps -o args | grep -c '[s]leep 1000'")
    assert p.returncode == 0, p.stderr
    assert p.stdout == INDEX_HTML + "1\n", p.stdout


def test_cgroupns_private(podman):
    p = podman.podman("run", "--rm", "--cgroupns", "private", IMAGE, "cat", "/proc/self/cgroup")
    assert p.returncode == 0, p.stderr
    paths = {line.split(":", 2)[2] for line in p.stdout.splitlines() if line}
    assert paths == {"/"}, p.stdout


def test_shm_size(podman):
    p = podman.podman("run", "--rm", "--shm-size", "1m", IMAGE, "df", "-k", "/dev/shm")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[1].split()[1] == "1024", p.stdout


def test_group_add(podman):
    p = podman.podman("run", "--rm", "--user", "1000:1000", "--group-add", "5", "--group-add", "65534", IMAGE,
                      "id", "-G")
    assert p.returncode == 0, p.stderr
    assert set(p.stdout.split()) == {"1000", "5", "65534"}, p.stdout


def test_cpuset_and_shares(podman, ctr):
    run_detached(podman, ctr, "--cpuset-cpus", "0", "--cpu-shares", "512", IMAGE, *SLEEPER)
    pid = podman.inspect(ctr, "{{.State.Pid}}")
    assert read_cgroup(pid, "cpuset", "cpuset.cpus") == "0"
    assert read_cgroup(pid, "cpu", "cpu.shares") == "512"
    with open("/proc/%s/status" % pid) as f:
        assert "Cpus_allowed_list:\t0\n" in f.read()


def test_mount_options(podman, scratch):
    host = scratch / "prop"
    host.mkdir()
    p = podman.podman("run", "--rm", "--mount", "type=tmpfs,destination=/t,tmpfs-size=2m,tmpfs-mode=1770",
                      "--mount", "type=bind,source=%s,destination=/b,readonly=true" % host, IMAGE, "sh", "-c",
                      "stat -c %a /t; grep ' /t ' /proc/mounts; grep ' /b ' /proc/mounts")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "1770", p.stdout
    assert "size=2048k" in lines[1], p.stdout
    assert lines[2].split()[3].startswith("ro"), p.stdout


def test_security_opt_unmask(podman):
    masked = podman.ok("run", "--rm", IMAGE, "ls", "-l", "/proc/timer_list")
    unmasked = podman.ok("run", "--rm", "--security-opt", "unmask=/proc/timer_list", IMAGE,
                         "ls", "-l", "/proc/timer_list")
    # Masked, /proc/timer_list is /dev/null bound over it (a character device).
    assert masked.startswith("c"), masked
    assert unmasked.startswith("-"), unmasked


# --- the containers.conf runtime entry ------------------------------------------------

def test_conf_runtime_entry_run(podman, ctr):
    p = podman.podman_conf("run", "--name", ctr, IMAGE, "echo", "via-conf")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "via-conf\n"
    assert podman.inspect(ctr, "{{.OCIRuntime}}") == podman.runtime_name


def test_conf_runtime_entry_exec_and_error(podman, ctr):
    podman.podman_conf("run", "-d", "--name", ctr, IMAGE, *SLEEPER, check=True)
    podman.wait_for(ctr, "{{.State.Status}}", "running")
    assert podman.podman_conf("exec", ctr, "echo", "x", check=True).stdout == "x\n"
    p = podman.podman_conf("exec", ctr, "/no/such/cmd")
    assert p.returncode == 127 and "/no/such/cmd" in p.stderr, p.stderr
    # runtime_supports_json lists the runtime: the error is podman's text, not a raw JSON line.
    assert '{"level"' not in p.stderr, p.stderr
    podman.podman_conf("rm", "-f", "-t", "0", ctr, check=True)


def test_docs_containers_conf(podman, name):
    """The containers.conf snippet of docs/podman.md, as written there (with
    the runtime's path), selects the runtime: no --runtime flag."""
    docs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "podman.md")
    with open(docs) as f:
        text = f.read()
    start = text.index("```toml\n") + len("```toml\n")
    block = text[start:text.index("```", start)]
    assert '"/usr/local/bin/keel", "/usr/bin/keel"' in block
    block = block.replace('"/usr/local/bin/keel", "/usr/bin/keel"', json.dumps(podman.runtime_path))
    conf = os.path.join(podman.base, "docs-containers.conf")
    with open(conf, "w") as f:
        f.write(podman.containers_conf_with(block))
    env = dict(podman.env, CONTAINERS_CONF=conf)
    try:
        p = podman.podman_conf("run", "--name", name, IMAGE, "echo", "docs-conf", env=env)
        assert (p.returncode, p.stdout) == (0, "docs-conf\n"), p.stderr
        assert podman.podman_conf("inspect", "--format", "{{.OCIRuntime}}", name, env=env).stdout.strip() == "keel"
    finally:
        podman.podman_conf("rm", "-f", "-t", "0", name, env=env)
