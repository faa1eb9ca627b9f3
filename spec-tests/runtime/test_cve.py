"""Regression tests that attempt the attacks the lifecycle must stop.

CVE-2019-5736: the container must never get a handle on the runtime's
binary (/proc/self/exe of the runtime's init, directly, as a script's
interpreter, or from another process in the same pid namespace).
CVE-2024-21626: no host fd leaks into the container, and process.cwd is
resolved inside the container (a /proc/self/fd/N cwd cannot escape).
/proc must be mounted onto a real directory inside the rootfs."""
import hashlib
import json
import os
import time

import pytest

from helpers import make_bundle
from lifecycle_util import run_files


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def runtime_binary(rt):
    import shutil
    return os.path.realpath(rt.path if os.sep in rt.path else shutil.which(rt.path))


def test_exec_of_proc_self_exe_is_refused(rt, bundle):
    before = sha(runtime_binary(rt))
    bundle.set_args("/proc/self/exe", "--version")
    r = run_files(rt, "run", "--bundle", bundle.path, "x1")
    # The runtime's own code must not run as the container process.
    assert "version" not in r.stdout.lower()
    assert r.returncode != 0
    assert sha(runtime_binary(rt)) == before


def test_script_interpreter_proc_self_exe_is_refused(rt, bundle):
    before = sha(runtime_binary(rt))
    script = os.path.join(bundle.rootfs, "evil")
    with open(script, "w") as f:
        f.write("#!/proc/self/exe\n")
    os.chmod(script, 0o755)
    bundle.set_args("/evil")
    r = run_files(rt, "run", "--bundle", bundle.path, "x2")
    assert "version" not in r.stdout.lower()
    assert "usage" not in r.stdout.lower()
    assert r.returncode != 0
    assert sha(runtime_binary(rt)) == before


def test_init_exe_is_hidden_from_other_container_processes(rt, bundle, tmp_path):
    """A container sharing the pid namespace looks at the init of a second
    container while it waits to be started: its /proc/PID/exe (the runtime
    binary) must not be reachable."""
    bundle.config["root"]["readonly"] = False
    bundle.set_args("sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; "
                    "for p in /proc/[0-9]*; do readlink $p/exe; done > /tmp/seen 2>&1; "
                    "touch /tmp/finished; sleep 60")
    run_files(rt, "run", "-d", "--bundle", bundle.path, "watcher", check=True)
    pid = json.loads(rt.run("state", "watcher", check=True).stdout)["pid"]
    b2 = make_bundle(tmp_path / "b2")
    b2.config["linux"]["namespaces"] = [{"type": "mount"}, {"type": "pid", "path": "/proc/%d/ns/pid" % pid}]
    del b2.config["hostname"]
    b2.set_args("true")
    run_files(rt, "create", "--bundle", b2.path, "victim", check=True)
    victim = json.loads(rt.run("state", "victim", check=True).stdout)["pid"]
    open(os.path.join(bundle.rootfs, "tmp", "go"), "w").close()
    deadline = time.time() + 20
    while not os.path.exists(os.path.join(bundle.rootfs, "tmp", "finished")) and time.time() < deadline:
        time.sleep(0.05)
    with open(os.path.join(bundle.rootfs, "tmp", "seen")) as f:
        seen = f.read()
    assert "busybox" in seen, seen  # the probe works on the watcher's own processes
    binary = runtime_binary(rt)
    assert binary not in seen, seen
    assert os.path.exists("/proc/%d" % victim)


@pytest.mark.parametrize("fd", range(3, 12))
def test_cwd_through_leaked_fd_is_refused(rt, bundle, fd):
    bundle.config["process"]["cwd"] = "/proc/self/fd/%d" % fd
    bundle.set_args("sh", "-c", "pwd; ls ..")
    r = run_files(rt, "run", "--bundle", bundle.path, "cwd%d" % fd)
    # Either refused, or (never) a cwd outside the container: both checked.
    assert r.returncode != 0, r.stdout
    assert rt.list_ids() == []


def test_no_host_fds_in_container(rt, bundle, tmp_path):
    log = tmp_path / "runtime.log"
    bundle.set_args("sh", "-c", "for f in /proc/self/fd/*; do echo $f $(readlink $f); done")
    r = rt.run("run", "--bundle", bundle.path, "fds", global_args=("--log", str(log)))
    assert r.returncode == 0, r.stderr
    fds = {}
    for line in r.stdout.splitlines():
        parts = line.split(" ", 1)
        fds[int(parts[0].rsplit("/", 1)[1])] = parts[1] if len(parts) > 1 else ""
    extra = {n: t for n, t in fds.items() if n > 2}
    # only the fd the shell's glob/readlink loop itself may hold
    assert len(extra) <= 1, extra
    for target in extra.values():
        assert str(tmp_path) not in target
        assert rt.root not in target


@pytest.mark.parametrize("name", ["proc", "sys"])
def test_proc_and_sys_symlink_to_host_is_not_followed(rt, bundle, tmp_path, name):
    """The image makes /proc (or /sys) a symlink to a host directory. A
    createContainer hook (container mount namespace, before pivot_root, host
    paths visible) looks at that host directory: proc or sysfs must not have
    been mounted there."""
    target = tmp_path / "hostdir"
    target.mkdir()
    seen = tmp_path / "seen"
    link = os.path.join(bundle.rootfs, name)
    os.rmdir(link)
    os.symlink(str(target), link)
    bundle.config["hooks"] = {"createContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "ls -A %s > %s" % (target, seen)]}]}
    bundle.set_args("true")
    r = run_files(rt, "run", "--bundle", bundle.path, "ps" + name)
    if seen.exists():
        assert seen.read_text() == "", "%s was mounted onto the host directory" % name
    else:
        assert r.returncode != 0  # refused before the hook ran
    assert os.listdir(str(target)) == []
    assert os.path.islink(link)


def test_no_internal_fd_in_unused_preserved_slots(rt, bundle, tmp_path):
    """--preserve-fds 4 with only fd 3 open: the runtime's own fds (sync
    socket, exec fifo...) must not land in the empty slots 4-6, which are
    passed on without close-on-exec."""
    from lifecycle_util import is_runc
    if is_runc(rt):
        pytest.xfail("runc 1.1.5 predates the CVE-2024-21626 fix (1.1.12): it leaks /sys/fs/cgroup here")
    data = tmp_path / "data"
    data.write_text("x")
    bundle.set_args("sh", "-c", "for f in /proc/self/fd/*; do echo ${f##*/} $(readlink $f); done")
    import subprocess
    r = subprocess.run(["sh", "-c", 'exec "$@" 3<"$DATA"', "sh"] +
                       rt.cmd("run", "--preserve-fds", "4", "--bundle", bundle.path, "gap"),
                       env=dict(os.environ, DATA=str(data)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    fds = {int(l.split()[0]): (l.split() + [""])[1] for l in r.stdout.splitlines()}
    assert fds[3].endswith("/data")
    extra = {n: t for n, t in fds.items() if n > 3}
    # at most the fd of the shell's own loop
    assert len(extra) <= 1, extra
    for t in extra.values():
        assert "socket" not in t and "pipe" not in t and "fifo" not in t, extra


def test_cwd_through_preserved_host_directory_is_refused(rt, bundle, tmp_path):
    """Even a host directory handed in on purpose (--preserve-fds) cannot
    become the cwd: getcwd would lie outside the container's root."""
    secret = tmp_path / "hostdir"
    secret.mkdir()
    (secret / "host-secret").write_text("x")
    bundle.config["process"]["cwd"] = "/proc/self/fd/3"
    bundle.set_args("sh", "-c", "pwd; ls")
    import subprocess
    r = subprocess.run(["sh", "-c", 'exec "$@" 3<"$DIR"', "sh"] +
                       rt.cmd("run", "--preserve-fds", "1", "--bundle", bundle.path, "hd"),
                       env=dict(os.environ, DIR=str(secret)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    assert "host-secret" not in r.stdout
    assert r.returncode != 0
    assert rt.list_ids() == []
