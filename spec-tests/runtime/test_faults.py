"""Fault injection into keel create: an LD_PRELOAD shim (faultinject.c,
built here with cc) kills keel with SIGKILL, or fails the call with EIO, at
the Nth mount, clone, cgroup write, mkdir, pivot_root or open of the state
directory.  After each fault, `delete --force` and `list` must leave no
state directory, mount, cgroup or process behind; an injected failure must
give a non-zero exit and an error that says more than strerror.  A
truncated or corrupted state.json must give a clear error, and
`delete --force` must still clean up.

Only meaningful for dynamically linked runtimes (the shim is a preload):
a static binary is skipped."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from lifecycle_util import is_runc, run_files

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "kfault-%d-" % os.getpid()
MAX_N = int(os.environ.get("FAULT_MAX_N", "40"))


@pytest.fixture(scope="module")
def shim(tmp_path_factory, runtime_path):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler to build the fault-injection shim")
    real = shutil.which(runtime_path) or runtime_path
    with open(real, "rb") as f:
        head = f.read(1 << 16)
    if b"ld-linux" not in head:
        pytest.skip("%s is statically linked: LD_PRELOAD cannot reach it" % real)
    if subprocess.run(["grep", "-q", "__asan_init", real]).returncode == 0:
        pytest.skip("%s is built with ASan, which must be the first preloaded library" % real)
    out = str(tmp_path_factory.mktemp("shim") / "faultinject.so")
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", out, os.path.join(HERE, "faultinject.c"), "-ldl"],
                   check=True)
    return out


def fault_env(shim, cls, n, action, match=None):
    env = dict(os.environ)
    env.update(LD_PRELOAD=shim, FAULT_CLASS=cls, FAULT_N=str(n), FAULT_ACTION=action)
    if match:
        env["FAULT_MATCH"] = match
    return env


def cgroups_named(cid):
    found = []
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        found += [os.path.join(top, d) for d in dirs if cid in d]
    return found


def processes_with(marker):
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(p))
        except OSError:
            pass
    return found


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if path in line]


def leftovers(rt, bundle, cid, marker):
    """What a container left behind, after waiting a moment for asynchronous
    teardown (lazy unmounts, cgroup removal after the last process died)."""
    deadline = time.time() + 5
    while True:
        left = {"state": os.path.exists(os.path.join(rt.root, cid)),
                "list": cid in rt.list_ids(),
                "mounts": mounts_under(bundle.path),
                "cgroups": cgroups_named(cid),
                # the marker once the container runs; the id while its
                # init still is keel waiting for `start`
                "processes": processes_with(marker) + processes_with("\0" + cid + "\0")}
        if not any(left.values()) or time.time() > deadline:
            return {k: v for k, v in left.items() if v}
        time.sleep(0.1)


def kill_marked(marker, cid=None):
    for pid in processes_with(marker) + (processes_with("\0" + cid + "\0") if cid else []):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def run_faults(rt, bundle, shim, cls, action, match=None):
    """Inject the fault at call 1, 2, ... until create gets through without
    reaching it. Returns (points injected, problems found)."""
    marker = "%s%s-%s-marker" % (PREFIX, cls, action)
    bundle.set_args("sh", "-c", "sleep 300; : " + marker)
    bundle.config["linux"]["cgroupsPath"] = None
    problems = []
    n = 0
    for n in range(1, MAX_N + 1):
        cid = "%s%s-%s-%d" % (PREFIX, cls, action, n)
        bundle.config["linux"]["cgroupsPath"] = "/" + cid
        bundle.write()
        r = run_files(rt, "create", "--bundle", bundle.path, cid, timeout=60,
                      env=fault_env(shim, cls, n, action, match))
        reached = r.returncode != 0
        if action == "fail" and reached:
            msg = (r.stderr + r.stdout).strip()
            if len(msg) <= len("Input/output error") + 5 or "nput/output error" not in msg:
                problems.append("%s #%d: error does not name the step and the cause: %r" % (cls, n, msg))
            # An injected failure must leave nothing behind by itself.
            left = leftovers(rt, bundle, cid, marker)
            if left:
                problems.append("%s #%d fail: left behind without delete: %s" % (cls, n, left))
        d = rt.run("delete", "--force", cid)
        if d.returncode != 0 and os.path.exists(os.path.join(rt.root, cid)):
            problems.append("%s #%d %s: delete --force failed: %s" % (cls, n, action, d.stderr.strip()))
        left = leftovers(rt, bundle, cid, marker)
        if left:
            problems.append("%s #%d %s: left behind after delete --force: %s" % (cls, n, action, left))
            kill_marked(marker, cid)
            for cg in sorted(left.get("cgroups", []), key=len, reverse=True):
                try:
                    os.rmdir(cg)
                except OSError:
                    pass
        # A few are proof enough; a runtime that leaves something at every
        # point (a peer under this preload) would take 5 s per point.
        if not reached or len(problems) >= 3:
            break
    return n, problems


CLASSES = [("mount", None), ("clone", None), ("cgwrite", None), ("mkdir", None), ("pivot", None),
           ("open", "state.json"), ("open", "exec.fifo")]


# keel killed after it made the container's cgroups but before state.json
# existed used to leave the cgroups to `delete --force` (fixed in bae40fd:
# state.json is recorded before the cgroup is made).
CASES = [pytest.param(c, m, a, id="%s-%s" % (c if not m else "%s-%s" % (c, m), a))
         for c, m in CLASSES for a in ("kill", "fail")]


@pytest.mark.parametrize("cls,match,action", CASES)
def test_fault_at_every_step_of_create_leaves_nothing(rt, bundle, shim, cls, match, action):
    points, problems = run_faults(rt, bundle, shim, cls, action, match)
    assert points >= 1
    assert problems == [], "\n".join(problems)


def create_running(rt, bundle, cid, marker):
    bundle.set_args("sh", "-c", "sleep 300; : " + marker)
    bundle.config["linux"]["cgroupsPath"] = "/" + cid
    bundle.write()
    run_files(rt, "create", "--bundle", bundle.path, cid, check=True)
    rt.run("start", cid, check=True)


def force_clean(left, marker):
    """Remove what keel left (so the next test starts clean)."""
    kill_marked(marker)
    deadline = time.time() + 5
    cgs = sorted(left.get("cgroups", []), key=len, reverse=True)
    while cgs and time.time() < deadline:
        for cg in list(cgs):
            try:
                os.rmdir(cg)
                cgs.remove(cg)
            except FileNotFoundError:
                cgs.remove(cg)
            except OSError:
                pass
        time.sleep(0.1)


DAMAGES = ["truncated", "garbage", "empty", "no-pid", "wrong-types"]
RUNC_DAMAGE_GAP = ("runc 1.1.5 with a damaged state.json: its errors name neither the container nor the file "
                   "(\"unexpected EOF\"), and delete --force fails, leaving the process and cgroup behind")


def xfail_runc_damage(rt):
    if is_runc(rt):
        pytest.xfail(RUNC_DAMAGE_GAP)


def damage_state(rt, cid, damage):
    path = os.path.join(rt.root, cid, "state.json")
    with open(path) as f:
        text = f.read()
    doc = json.loads(text)
    bad = {"truncated": text[: len(text) // 2], "garbage": "\x00\xff{{{", "empty": "",
           "no-pid": json.dumps({k: v for k, v in doc.items() if k != "pid"}),
           "wrong-types": json.dumps(dict(doc, pid="12", bundle=7, rootfs=None, created=[]))}[damage]
    with open(path, "w") as f:
        f.write(bad)


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_state_json_clear_error(rt, bundle, damage):
    xfail_runc_damage(rt)
    cid = PREFIX + "state-" + damage
    marker = cid + "-marker"
    create_running(rt, bundle, cid, marker)
    damage_state(rt, cid, damage)
    try:
        r = rt.run("state", cid)
        assert r.returncode != 0, r.stdout
        assert r.returncode < 128, "keel died of a signal: %d" % r.returncode
        assert cid in r.stderr and "state.json" in r.stderr, r.stderr
        d = rt.run("delete", "--force", cid)
        assert d.returncode == 0, d.stderr
        assert cid not in rt.list_ids()
        assert not os.path.exists(os.path.join(rt.root, cid))
    finally:
        rt.run("delete", "--force", cid)
        force_clean(leftovers(rt, bundle, cid, marker), marker)


@pytest.mark.parametrize("damage", DAMAGES)
def test_delete_force_after_damaged_state_kills_and_removes_cgroup(rt, bundle, damage):
    xfail_runc_damage(rt)
    cid = PREFIX + "del-" + damage
    marker = cid + "-marker"
    create_running(rt, bundle, cid, marker)
    damage_state(rt, cid, damage)
    left = {"not": "checked"}
    try:
        # without --force: a clear error naming the file, and nothing removed
        r = rt.run("delete", cid)
        assert r.returncode != 0 and r.returncode < 128
        assert cid in r.stderr and "state.json" in r.stderr, r.stderr
        assert os.path.exists(os.path.join(rt.root, cid))
        assert processes_with(marker)
        d = rt.run("delete", "--force", cid)
        assert d.returncode == 0, d.stderr
        left = leftovers(rt, bundle, cid, marker)
    finally:
        force_clean(leftovers(rt, bundle, cid, marker), marker)
    assert left == {}, left


def test_delete_force_of_created_container_after_damaged_state(rt, bundle):
    xfail_runc_damage(rt)
    # The init still waits on the exec fifo (its cmdline is keel's, with the id).
    cid = PREFIX + "delc"
    marker = cid + "-marker"
    bundle.set_args("sh", "-c", "sleep 300; : " + marker)
    bundle.config["linux"]["cgroupsPath"] = "/" + cid
    bundle.write()
    run_files(rt, "create", "--bundle", bundle.path, cid, check=True)
    damage_state(rt, cid, "garbage")
    left = {"not": "checked"}
    try:
        d = rt.run("delete", "--force", cid)
        assert d.returncode == 0, d.stderr
        left = leftovers(rt, bundle, cid, marker)
    finally:
        kill_marked(marker, cid)
        force_clean(leftovers(rt, bundle, cid, marker), marker)
    assert left == {}, left


@pytest.mark.parametrize("missing", ["rootfs", "created", "owner", "annotations"])
def test_state_json_missing_optional_field_still_works(rt, bundle, missing):
    cid = PREFIX + "opt-" + missing
    marker = cid + "-marker"
    create_running(rt, bundle, cid, marker)
    path = os.path.join(rt.root, cid, "state.json")
    with open(path) as f:
        doc = json.load(f)
    doc.pop(missing, None)
    with open(path, "w") as f:
        json.dump(doc, f)
    try:
        r = rt.run("state", cid)
        assert r.returncode == 0, r.stderr  # keel used to die on strlen(NULL) here
        assert json.loads(r.stdout)["status"] == "running"
        assert rt.run("list").returncode == 0
    finally:
        rt.run("delete", "--force", cid)
    assert leftovers(rt, bundle, cid, marker) == {}


# pidfd_open and pidfd_send_signal answer ENOSYS, as on kernels < 5.3 and
# under valgrind 3.19.  keel calls them through glibc's syscall(), which the
# shim replaces; every refused call is logged so the test knows it was hit.
NOPIDFD_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

long syscall(long n, ...)
{
    va_list ap;
    va_start(ap, n);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (n == SYS_pidfd_open || n == SYS_pidfd_send_signal) {
        const char *log = getenv("NOPIDFD_LOG");
        int fd = log ? open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
        if (fd >= 0) {
            char line[64];
            int len = snprintf(line, sizeof line, "%s\n", n == SYS_pidfd_open ? "pidfd_open" : "pidfd_send_signal");
            if (write(fd, line, (size_t)len) < 0) {
            }
            close(fd);
        }
        errno = ENOSYS;
        return -1;
    }
    long (*real)(long, ...) = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    return real(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
"""


@pytest.fixture(scope="module")
def nopidfd(tmp_path_factory, shim):  # shim: the same compiler and binary checks
    d = tmp_path_factory.mktemp("nopidfd")
    src = d / "nopidfd.c"
    src.write_text(NOPIDFD_SHIM)
    out = str(d / "nopidfd.so")
    subprocess.run([shutil.which("cc") or shutil.which("gcc") or shutil.which("clang"), "-shared", "-fPIC",
                    "-o", out, str(src), "-ldl"], check=True)
    return out


def nopidfd_env(lib, log):
    env = dict(os.environ)
    env.update(LD_PRELOAD=lib, NOPIDFD_LOG=str(log))
    return env


def wait_status(rt, cid, want, timeout=10):
    deadline = time.time() + timeout
    while True:
        r = rt.run("state", cid)
        status = json.loads(r.stdout)["status"] if r.returncode == 0 else None
        if status == want or time.time() > deadline:
            return status
        time.sleep(0.05)


def check_pidfd_refused(rt, log):
    """keel must have met the ENOSYS (runc 1.1.5 signals with kill(2) and
    never asks for a pidfd, so for it the behaviour alone is checked)."""
    if not is_runc(rt):
        assert log.exists() and "pidfd_open" in log.read_text()


@pytest.mark.parametrize("sig", ["KILL", "USR1"])
def test_kill_without_pidfd(rt, bundle, nopidfd, tmp_path, sig):
    """Without pidfd_open, `kill` checks the process is still the container's
    (its start time) and signals it with kill(2)."""
    cid = PREFIX + "nopidfd-kill-" + sig.lower()
    marker = cid + "-marker"
    bundle.set_args("sh", "-c", "trap 'echo got > /tmp/usr1; exit 0' USR1; while :; do sleep 0.1; done; : " + marker)
    bundle.config["root"]["readonly"] = False
    bundle.config["linux"]["cgroupsPath"] = "/" + cid
    bundle.write()
    run_files(rt, "create", "--bundle", bundle.path, cid, check=True)
    rt.run("start", cid, check=True)
    log = tmp_path / "nopidfd.log"
    try:
        r = rt.run("kill", cid, sig, env=nopidfd_env(nopidfd, log))
        assert r.returncode == 0, r.stderr
        check_pidfd_refused(rt, log)
        assert wait_status(rt, cid, "stopped") == "stopped"
        if sig == "USR1":
            with open(os.path.join(bundle.rootfs, "tmp", "usr1")) as f:
                assert f.read() == "got\n"
        # a stopped container: the same message as with a pidfd
        r = rt.run("kill", cid, "KILL", env=nopidfd_env(nopidfd, log))
        assert r.returncode != 0
        assert "not running" in r.stderr, r.stderr
        r = rt.run("delete", cid, env=nopidfd_env(nopidfd, log))
        assert r.returncode == 0, r.stderr
        assert leftovers(rt, bundle, cid, marker) == {}
    finally:
        rt.run("delete", "--force", cid)


@pytest.mark.parametrize("started", [True, False], ids=["running", "created"])
def test_delete_force_without_pidfd(rt, bundle, nopidfd, tmp_path, started):
    """`delete --force` kills the init with kill(2), waits for it to be gone
    (watching /proc instead of a pidfd), and removes everything."""
    cid = PREFIX + "nopidfd-delete-" + ("running" if started else "created")
    marker = cid + "-marker"
    bundle.set_args("sh", "-c", "sleep 300; : " + marker)
    bundle.config["linux"]["cgroupsPath"] = "/" + cid
    bundle.write()
    run_files(rt, "create", "--bundle", bundle.path, cid, check=True)
    if started:
        rt.run("start", cid, check=True)
    pid = json.loads(rt.run("state", cid, check=True).stdout)["pid"]
    log = tmp_path / "nopidfd.log"
    r = rt.run("delete", "--force", cid, env=nopidfd_env(nopidfd, log))
    left = leftovers(rt, bundle, cid, marker)
    if left:
        force_clean(left, marker)
    assert r.returncode == 0, r.stderr
    check_pidfd_refused(rt, log)
    assert left == {}
    try:
        with open("/proc/%d/stat" % pid) as f:
            assert f.read().split(")")[-1].split()[0] in ("Z", "X")  # reaped soon by its subreaper
    except FileNotFoundError:
        pass
