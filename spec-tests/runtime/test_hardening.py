"""Hardening: each test attempts an attack a container (or a hostile image)
could try, and checks the host is untouched.  Attacks already covered
elsewhere are not repeated: a static symlink as mount destination
(test_mounts.py), masked paths that are symlinks and a /dev/null swapped by a
hook (test_masked.py), /proc/self/exe and leaked fds (test_cve.py).
Runs against keel and runc (RUNTIME=/usr/sbin/runc)."""
import ctypes
import json
import shutil
import os
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from hardening_util import fields, install_probe, probe_binary  # noqa: F401
from lifecycle_util import is_runc, run_files
from mount_util import add_mount, run_in, run_ok


def host_mount_targets():
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


# ---- mount-destination symlink races (CVE-2021-30465 class) ----

def test_mount_destination_swapped_for_a_symlink_during_create(rt, bundle, tmp_path):
    """A process outside the runtime's control (another container sharing
    the volume, in the CVE) flips a mount destination between a directory
    and a symlink to a host directory while containers are created.  Mounts
    may fail; none may land on the host directory."""
    host = tmp_path / "host-target"
    host.mkdir()
    (host / "host-file").write_text("host\n")
    src = tmp_path / "volume"
    src.mkdir()
    (src / "from-volume").write_text("volume\n")
    bundle.config["root"]["readonly"] = False
    for i in range(4):
        add_mount(bundle, "/data%d/mnt" % i, "bind", str(src), ["bind"])
    bundle.set_args("true")
    stop = threading.Event()

    libc = ctypes.CDLL(None, use_errno=True)
    RENAME_EXCHANGE = 2
    pairs = []
    for i in range(4):
        d = os.path.join(bundle.rootfs, "data%d" % i)
        os.makedirs(os.path.join(d, "mnt"))
        os.symlink(str(host), d + ".lnk")
        pairs.append((d.encode(), (d + ".lnk").encode()))

    def flipper():
        while not stop.is_set():
            for a, b in pairs:
                # atomic: the destination is a directory or a link to the host
                libc.renameat2(-100, a, -100, b, RENAME_EXCHANGE)

    t = threading.Thread(target=flipper)
    t.start()
    leaked = []
    try:
        for round_ in range(25):
            cid = "race%d" % round_
            r = run_files(rt, "create", "--bundle", bundle.path, cid)
            targets = host_mount_targets()
            leaked += [m for m in targets if m.startswith(str(host))]
            if r.returncode == 0:
                rt.run("delete", "--force", cid)
    finally:
        stop.set()
        t.join()
    assert not leaked, leaked
    if is_runc(rt) and sorted(os.listdir(host)) != ["host-file"]:
        pytest.xfail("runc 1.1.5 creates the missing destination through the swapped link on the "
                     "host (CVE-2024-45310, fixed in 1.1.14)")
    assert sorted(os.listdir(host)) == ["host-file"]
    assert not any(m.startswith(str(tmp_path)) for m in host_mount_targets())


# ---- maskedPaths replaced by other files (CVE-2025-31133 class) ----

def test_masked_path_below_a_symlinked_directory_stays_inside(rt, bundle, tmp_path):
    """The image makes a masked path's parent a symlink to a host
    directory: the mask must not be put on the host's file."""
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "secret").write_text("HOST\n")
    os.symlink(str(host), os.path.join(bundle.rootfs, "evil"))
    bundle.config["linux"]["maskedPaths"] = ["/evil/secret"]
    r = run_in(rt, bundle, "cat /evil/secret 2>&1; true")
    assert "HOST" not in r.stdout
    assert not any(m.startswith(str(host)) for m in host_mount_targets())
    assert (host / "secret").read_text() == "HOST\n"


@pytest.mark.parametrize("replacement", ["symlink-sysrq", "symlink-core", "regular-file", "fifo"])
def test_image_dev_null_replaced_never_unmasks(rt, bundle, replacement):
    """Without a /dev mount the image's own /dev is used: an image that ships
    /dev/null as a link to a dangerous procfs file or as something else must
    not get that file bound over the masked paths.  Either the runtime puts
    a real null device there (and the mask reads empty) or it fails."""
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if not m["destination"].startswith("/dev")]
    bundle.config["root"]["readonly"] = False
    null = os.path.join(bundle.rootfs, "dev", "null")
    if replacement == "symlink-sysrq":
        os.symlink("/proc/sysrq-trigger", null)
    elif replacement == "symlink-core":
        os.symlink("/proc/sys/kernel/core_pattern", null)
    elif replacement == "regular-file":
        with open(null, "w") as f:
            f.write("IMAGE CONTENT\n")
    else:
        os.mkfifo(null)
    bundle.config["linux"]["maskedPaths"] = ["/proc/kcore", "/proc/keys", "/proc/timer_list"]
    with open("/proc/sys/kernel/core_pattern") as f:
        core = f.read()
    r = run_in(rt, bundle, "(stat -c '%t:%T' /proc/keys; timeout 5 cat /proc/keys | wc -c) > /tmp/out 2>&1")
    out_path = os.path.join(bundle.rootfs, "tmp", "out")
    out = open(out_path).read() if os.path.exists(out_path) else ""
    if r.returncode == 0:
        if is_runc(rt) and out.split() != ["1:3", "0"]:
            pytest.xfail("runc 1.1.5 binds whatever the image's /dev/null is over masked paths "
                         "(CVE-2025-31133)")
        assert out.split() == ["1:3", "0"], out
    else:
        assert "null" in r.stderr, (r.returncode, r.stderr, out)
    with open("/proc/sys/kernel/core_pattern") as f:
        assert f.read() == core
    assert rt.list_ids() == []


# ---- /proc and /sys writes that escape ----

ESCAPES = {
    "/proc/sys/kernel/core_pattern": "|/tmp/keel-hardening-evil",
    "/proc/sys/kernel/modprobe": "/tmp/keel-hardening-evil",
    "/proc/sys/kernel/hotplug": "/tmp/keel-hardening-evil",
    "/sys/kernel/uevent_helper": "/tmp/keel-hardening-evil",
    "/proc/sys/kernel/sysrq": "0",
}


def read_host(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def restore_host(before):
    for path, value in before.items():
        if value is not None and read_host(path) != value:
            with open(path, "w") as f:
                f.write(value)


def test_host_kernel_knobs_cannot_be_written(rt, bundle):
    """Default container: direct writes, a remount and a fresh procfs all
    fail to change the host's kernel settings (the same from a nested user
    namespace: test_masks_and_read_only_root_hold_in_a_nested_user_namespace).  sysrq-trigger only gets "h" (help),
    which is harmless if the attack succeeds."""
    before = {p: read_host(p) for p in ESCAPES}
    before["/proc/sys/kernel/sysrq"] = read_host("/proc/sys/kernel/sysrq")
    script = ["exec 2>&1"]
    for p, v in ESCAPES.items():
        script.append("echo '%s' > %s && echo WROTE %s" % (v, p, p))
    script += [
        "echo h > /proc/sysrq-trigger && echo WROTE sysrq-trigger",
        "mount -o remount,rw /proc/sys && echo WROTE remount",
        "umount /proc/sys && echo WROTE umount",
        "mkdir -p /tmp/p && mount -t proc proc /tmp/p && echo WROTE freshproc",
        "mount -t sysfs sysfs /tmp/p && echo WROTE freshsys",
        "echo done",
    ]
    bundle.config["root"]["readonly"] = False
    try:
        out = run_ok(rt, bundle, "\n".join(script))
    finally:
        after = {p: read_host(p) for p in before}
        restore_host(before)
    assert "done" in out
    assert "WROTE" not in out, out
    assert after == before


# ---- noNewPrivileges and the bounding set across a setuid binary ----

def setuid_bundle(bundle, probe_binary, nnp):
    probe = install_probe(probe_binary, bundle, setuid=True)
    bundle.config["root"]["readonly"] = False
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.config["process"]["noNewPrivileges"] = nnp
    # a non-root user starts with no capabilities (runc's own rootless-like default)
    bundle.config["process"]["capabilities"] = {
        "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"], "effective": [], "permitted": [],
        "inheritable": [], "ambient": []}
    with open(os.path.join(bundle.rootfs, "tmp", "probe-file"), "w") as f:
        f.write("x")
    bundle.set_args(probe, "status")


def cap(hexstr):
    return int(hexstr, 16)


CAP_KILL, CAP_NET_BIND_SERVICE = 5, 10


def test_setuid_binary_gains_nothing_with_no_new_privileges(rt, bundle, probe_binary):
    setuid_bundle(bundle, probe_binary, True)
    r = rt.run("run", "--bundle", bundle.path, "suid-nnp")
    assert r.returncode == 0, r.stderr
    f = fields(r.stdout)
    assert f["euid"] == "1000", r.stdout
    assert f["NoNewPrivs"] == "1"
    assert cap(f["CapEff"]) == 0 and cap(f["CapPrm"]) == 0
    for op in ("setuid0", "chown", "mount", "mknod"):
        assert f[op] != "ok", (op, r.stdout)
    assert os.stat(os.path.join(bundle.rootfs, "tmp", "probe-file")).st_uid == 0


def test_setuid_binary_is_capped_by_the_bounding_set(rt, bundle, probe_binary):
    """Without noNewPrivileges the setuid bit works (euid 0), but the
    capabilities it brings are only those of the bounding set."""
    setuid_bundle(bundle, probe_binary, False)
    r = rt.run("run", "--bundle", bundle.path, "suid-bnd")
    assert r.returncode == 0, r.stderr
    f = fields(r.stdout)
    assert f["euid"] == "0", r.stdout  # the probe really is setuid and ran as such
    want = (1 << CAP_KILL) | (1 << CAP_NET_BIND_SERVICE)
    assert cap(f["CapBnd"]) == want
    assert cap(f["CapEff"]) & ~want == 0, r.stdout
    assert cap(f["CapPrm"]) & ~want == 0, r.stdout
    # chown, mount and mknod need CAP_CHOWN, CAP_SYS_ADMIN, CAP_MKNOD
    for op in ("chown", "mount", "mknod"):
        assert f[op] != "ok", (op, r.stdout)
    assert os.stat(os.path.join(bundle.rootfs, "tmp", "probe-file")).st_uid == 0


# ---- no ptrace or signal of processes outside ----

def test_container_cannot_signal_or_trace_host_processes(rt, bundle, probe_binary):
    """Root in a default container (CAP_KILL included) tries to signal,
    trace and open the memory of a host process, and kills everything it
    can see: the host process is out of its reach."""
    victim = subprocess.Popen(["sleep", "120"])
    try:
        probe = install_probe(probe_binary, bundle)
        r = run_in(rt, bundle, "%s attack %d; kill -9 -1; kill -9 %d; echo done" % (probe, victim.pid, victim.pid))
        time.sleep(0.2)
        assert victim.poll() is None, "a host process was killed from the container"
        f = fields(r.stdout)
        for op in ("kill0", "killterm", "ptrace", "seize", "mem"):
            assert f[op] != "ok", (op, r.stdout)
        assert "done" in r.stdout
        with open("/proc/%d/status" % victim.pid) as st:
            assert "TracerPid:\t0" in st.read()
    finally:
        victim.kill()
        victim.wait()


def test_container_sharing_the_host_pid_namespace_cannot_trace_the_host(rt, bundle, probe_binary):
    """Even with the host's pid namespace (config without one), a container
    without CAP_SYS_PTRACE cannot attach to host processes or open their
    memory; a non-root user cannot signal them."""
    victim = subprocess.Popen(["sleep", "120"])
    try:
        probe = install_probe(probe_binary, bundle)
        bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"]
                                                if n["type"] != "pid"]
        bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
        bundle.set_args(probe, "attack", str(victim.pid))
        r = rt.run("run", "--bundle", bundle.path, "hostpid")
        assert r.returncode == 0, r.stderr
        f = fields(r.stdout)
        assert f["kill0"] != "ok" and f["killterm"] != "ok", r.stdout
        assert f["ptrace"] != "ok" and f["seize"] != "ok" and f["mem"] != "ok", r.stdout
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


# ---- what the runtime leaves in the container: env, fds, cwd, signals ----

def check_clean_process(out, tmp_path, rt):
    lines = out.splitlines()
    fds = [l.split(" ", 2) for l in lines if l.startswith("fd ")]
    assert [int(f[1]) for f in fds] == [0, 1, 2], fds
    for f in fds:
        target = f[2] if len(f) > 2 else ""
        assert str(tmp_path) not in target and rt.root not in target, target
    cwd = [l for l in lines if l.startswith("cwd ")][0]
    assert cwd == "cwd /", cwd


def check_signals(out, rt):
    st = fields(out)
    # no signal blocked or ignored by the runtime or its caller survives
    if is_runc(rt) and int(st["SigBlk"], 16):
        pytest.xfail("runc 1.1.5 passes the caller's blocked signals on to the container")
    assert int(st["SigBlk"], 16) == 0, out
    assert int(st["SigIgn"], 16) == 0, out


def test_run_leaves_nothing_of_the_host(rt, bundle, probe_binary, tmp_path):
    probe = install_probe(probe_binary, bundle)
    bundle.config["process"]["env"] = ["PATH=/bin", "ONLY=this"]
    bundle.set_args("sh", "-c", "env; exec %s fds" % probe)
    env = dict(os.environ, KEEL_HOST_SECRET="leak", HOSTSECRET="leak")
    r = subprocess.run(rt.cmd("run", "--bundle", bundle.path, "clean"), env=env, cwd=str(tmp_path),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "leak" not in r.stdout
    envs = {l.split("=", 1)[0] for l in r.stdout.splitlines() if "=" in l and not l.startswith(("fd", "cwd"))}
    assert {"PATH", "ONLY"} <= envs
    assert envs <= {"PATH", "ONLY", "HOME", "PWD", "SHLVL", "_", "OLDPWD"}, envs
    check_clean_process(r.stdout, tmp_path, rt)
    check_signals(r.stdout, rt)


def test_detached_container_and_exec_leave_nothing_of_the_host(rt, bundle, probe_binary, tmp_path):
    probe = install_probe(probe_binary, bundle)
    bundle.config["process"]["env"] = ["PATH=/bin"]
    bundle.config["root"]["readonly"] = False
    bundle.set_args("sh", "-c", "%s fds > /tmp/init.out; env >> /tmp/init.out; sleep 60" % probe)
    env = dict(os.environ, KEEL_HOST_SECRET="leak")
    # ignored and blocked signals in the caller (conmon ignores SIGPIPE, shells SIGINT)
    def pre():
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    # the container keeps the runtime's stdio: files, not pipes
    with tempfile.TemporaryFile("w+") as errf:
        p = subprocess.run(rt.cmd("run", "-d", "--bundle", bundle.path, "det"), env=env, cwd=str(tmp_path),
                           stdin=subprocess.DEVNULL, stdout=errf, stderr=errf, timeout=60, preexec_fn=pre)
        errf.seek(0)
        assert p.returncode == 0, errf.read()
    out_path = os.path.join(bundle.rootfs, "tmp", "init.out")
    deadline = time.time() + 10
    while time.time() < deadline and "PATH=" not in (open(out_path).read() if os.path.exists(out_path) else ""):
        time.sleep(0.05)
    out = open(out_path).read()
    assert "leak" not in out
    check_clean_process(out, tmp_path, rt)
    init_out = out
    with open(os.devnull, "w") as devnull:
        r = subprocess.run(rt.cmd("exec", "det", probe, "fds"), env=env, cwd=str(tmp_path),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60, preexec_fn=pre)
    assert r.returncode == 0, r.stderr
    check_clean_process(r.stdout, tmp_path, rt)
    exec_out = r.stdout
    r = rt.run("exec", "det", "env", check=True)
    assert "leak" not in r.stdout
    rt.run("delete", "--force", "det")
    check_signals(init_out, rt)
    check_signals(exec_out, rt)


def test_exec_process_keeps_no_new_privileges_across_setuid(rt, bundle, probe_binary, tmp_path):
    """`exec --process` of a setuid-root binary as uid 1000 with
    noNewPrivileges: no privilege is gained in the running container."""
    probe = install_probe(probe_binary, bundle, setuid=True)
    bundle.config["root"]["readonly"] = False
    bundle.set_args("sleep", "60")
    run_files(rt, "run", "-d", "--bundle", bundle.path, "ex", check=True)
    proc = {"terminal": False, "user": {"uid": 1000, "gid": 1000}, "args": [probe, "status"],
            "env": ["PATH=/bin"], "cwd": "/", "noNewPrivileges": True,
            "capabilities": {"bounding": ["CAP_KILL"], "effective": [], "permitted": []}}
    f = tmp_path / "process.json"
    f.write_text(json.dumps(proc))
    r = rt.run("exec", "--process", str(f), "ex")
    rt.run("delete", "--force", "ex")
    assert r.returncode == 0, r.stderr
    st = fields(r.stdout)
    assert st["euid"] == "1000" and st["NoNewPrivs"] == "1", r.stdout
    assert cap(st["CapEff"]) == 0 and cap(st["CapPrm"]) == 0, r.stdout
    assert st["setuid0"] != "ok" and st["mount"] != "ok", r.stdout


@pytest.mark.parametrize("flags", ["+p", "+ep"])
def test_file_capabilities_are_capped_by_the_bounding_set(rt, bundle, probe_binary, flags):
    """A binary carrying file capabilities (cap_sys_admin, cap_chown...)
    run by a non-root user without noNewPrivileges gets nothing beyond the
    bounding set.  With the effective bit (+ep) the kernel refuses to run it
    at all when it cannot grant them (the runtime reports EPERM)."""
    if not shutil.which("setcap"):
        pytest.skip("setcap (libcap2-bin) is not installed")
    probe = install_probe(probe_binary, bundle, name="capprobe")
    r = subprocess.run(["setcap", "cap_sys_admin,cap_chown,cap_mknod,cap_kill" + flags,
                        os.path.join(bundle.rootfs, "bin", "capprobe")], stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        pytest.skip("cannot set file capabilities here: " + r.stderr)
    bundle.config["root"]["readonly"] = False
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.config["process"]["noNewPrivileges"] = False
    bundle.config["process"]["capabilities"] = {"bounding": ["CAP_KILL"], "effective": [], "permitted": [],
                                                "inheritable": [], "ambient": []}
    with open(os.path.join(bundle.rootfs, "tmp", "probe-file"), "w") as f:
        f.write("x")
    bundle.set_args(probe, "status")
    r = rt.run("run", "--bundle", bundle.path, "fcaps")
    if flags == "+ep" and r.returncode != 0:
        assert "not permitted" in r.stderr.lower(), r.stderr
        return
    assert r.returncode == 0, r.stderr
    st = fields(r.stdout)
    assert cap(st["CapPrm"]) == 1 << CAP_KILL, r.stdout  # the file's kill survives, nothing else
    assert cap(st["CapEff"]) & ~(1 << CAP_KILL) == 0, r.stdout
    for op in ("chown", "mount", "mknod"):
        assert st[op] != "ok", (op, r.stdout)


def test_masks_and_read_only_root_hold_in_a_nested_user_namespace(rt, bundle):
    """The process (uid 1000: root without CAP_SETFCAP may not map uid 0)
    makes its own user+mount namespace, where it has every capability (no
    seccomp in this config), and tries to peel the masks off, make the
    read-only root and /proc/sys writable and mount a fresh procfs: the
    mounts it inherited are locked and the host's settings stay as they are."""
    with open("/proc/sys/kernel/core_pattern") as f:
        core = f.read()
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.config["linux"]["maskedPaths"] = ["/proc/kcore", "/proc/keys", "/sys/firmware"]
    script = ("unshare -Urm sh -c '"
              "id -u; grep CapEff /proc/self/status; "
              "umount /proc/keys && echo PEELED keys; umount -l /proc/kcore && echo PEELED kcore; "
              "umount -l /sys/firmware && echo PEELED firmware; "
              "mount -o remount,rw / && echo PEELED rootrw; mount -o remount,rw,bind / && echo PEELED rootbind; "
              "touch /escape && echo PEELED touch; "
              "umount -l /proc/sys && echo PEELED procsys; mount -o remount,rw /proc/sys && echo PEELED sysrw; "
              "echo x > /proc/sys/kernel/core_pattern && echo PEELED core; "
              "mkdir -p /tmp/p; mount -t proc proc /tmp/p && echo PEELED freshproc; "
              "echo keys=$(cat /proc/keys | wc -c); echo fw=$(ls /sys/firmware | wc -l)' 2>&1; echo done")
    try:
        r = run_in(rt, bundle, script)
    finally:
        with open("/proc/sys/kernel/core_pattern") as f:
            after = f.read()
        if after != core:
            with open("/proc/sys/kernel/core_pattern", "w") as f:
                f.write(core)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "0", r.stdout  # root in the nested namespace ...
    assert int(lines[1].split()[1], 16) != 0, r.stdout  # ... with capabilities there
    assert "done" in r.stdout
    assert "PEELED" not in r.stdout, r.stdout
    assert "keys=0" in r.stdout and "fw=0" in r.stdout, r.stdout
    assert not os.path.exists(os.path.join(bundle.rootfs, "escape"))
    assert after == core
