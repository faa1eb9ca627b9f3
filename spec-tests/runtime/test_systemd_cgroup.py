"""The systemd cgroup driver (`keel --systemd-cgroup`) against a real systemd.

Needs systemd running as the init system on a pure cgroup v2 host: this host
has neither, so spec-tests/systemd-vm.sh boots systemd as PID 1 of a pid and
mount namespace inside the cgroup v2 guest and runs this module there (see
spec-tests/systemd-ns.sh).  Elsewhere every test skips with that reason.

What is proven: the transient scope exists with the right slice, delegation,
and limits both as systemd properties (`systemctl show`) and in the cgroup
files; update changes both, and systemd keeps them over a daemon-reload;
exec, pause, ps and kill --all work in the scope; delete stops the unit and
nothing is left; a failed create and a second container on the same unit
leave nothing behind.
"""
import json
import os
import subprocess
import uuid

import pytest

from test_cgroups import create, is_keel

V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
CG = "/sys/fs/cgroup"
SD = ("--systemd-cgroup",)

# systemd's hybrid layout: v1 controllers, name=systemd, cgroup2 at unified
HYBRID = os.path.exists(CG + "/unified/cgroup.controllers") and os.path.isdir(CG + "/systemd")

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/run/systemd/system"),
    reason="systemd is not running here (spec-tests/systemd-vm.sh boots one in the cgroup v2 guest and runs "
           "these tests there)")
V2ONLY = pytest.mark.skipif(not V2, reason="reads cgroup v2 files; systemd runs the hybrid layout here")
HYBRIDONLY = pytest.mark.skipif(not HYBRID, reason="needs systemd's hybrid layout (spec-tests/systemd-vm.sh "
                                                   "runs it as a second guest)")

SYSTEMCTL_ENV = dict(os.environ, SYSTEMD_PAGER="", SYSTEMD_COLORS="0", TERM="dumb")


def show(unit, *props):
    """systemctl show UNIT -p ... as a dict."""
    r = subprocess.run(["systemctl", "show", unit] + ["-p" + p for p in props], env=SYSTEMCTL_ENV,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


def gone(unit):
    return show(unit, "LoadState")["LoadState"] == "not-found"


def stopped(unit):
    return show(unit, "ActiveState")["ActiveState"] == "inactive"


def read(path):
    with open(path) as f:
        return f.read().strip()


def own_cgroup(pid):
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            hid, _ctl, path = line.rstrip("\n").split(":", 2)
            if hid == "0":
                return path
    return None


def tag():
    return uuid.uuid4().hex[:8]


@pytest.fixture
def sleeper(bundle):
    bundle.config["process"]["args"] = ["sleep", "1000"]
    bundle.config["linux"].setdefault("resources", {})
    return bundle


def start(rt, bundle, tmp_path, cgroups_path, resources=None):
    if cgroups_path is None:
        bundle.config["linux"].pop("cgroupsPath", None)
    else:
        bundle.config["linux"]["cgroupsPath"] = cgroups_path
    bundle.config["linux"]["resources"].update(resources or {})
    bundle.write()
    cid = "sd-" + tag()
    rc, err = create(rt, bundle, cid, tmp_path, global_args=SD)
    assert rc == 0, err
    pid = json.loads(rt.run("state", cid, check=True).stdout)["pid"]
    return cid, pid


def delete(rt, cid):
    r = rt.run("delete", "--force", cid, global_args=SD)
    assert r.returncode == 0, r.stderr


def assert_kmsg_denied(rt, cid):
    """The device rules hold: /dev/kmsg (c 1:11) may be made, not opened."""
    r = rt.run("exec", cid, "sh", "-c", "test -e /dev/kmsg-t || mknod /dev/kmsg-t c 1 11; head -c1 /dev/kmsg-t", global_args=SD)
    assert r.returncode != 0 and "not permitted" in r.stderr, (r.returncode, r.stdout, r.stderr)


LIMITS = {"memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 128 << 20},
          "cpu": {"shares": 512, "quota": 50000, "period": 100000},
          "pids": {"limit": 42}}


@V2ONLY
def test_scope_with_limits_then_delete(rt, sleeper, tmp_path):
    t = tag()
    unit = "keeltest-%s.scope" % t
    cid, pid = start(rt, sleeper, tmp_path, "system.slice:keeltest:" + t, LIMITS)
    d = CG + "/system.slice/" + unit
    assert own_cgroup(pid) == "/system.slice/" + unit
    assert str(pid) in read(d + "/cgroup.procs").split()

    p = show(unit, "ActiveState", "Slice", "Delegate", "ControlGroup", "DefaultDependencies", "Description",
             "MemoryAccounting", "TasksAccounting", "MemoryMax", "MemoryLow", "MemorySwapMax", "CPUWeight",
             "CPUQuotaPerSecUSec", "CPUQuotaPeriodUSec", "TasksMax")
    assert p["ActiveState"] == "active", p
    assert p["Slice"] == "system.slice"
    assert p["Delegate"] == "yes"
    assert p["ControlGroup"] == "/system.slice/" + unit
    assert p["DefaultDependencies"] == "no"
    assert p["MemoryAccounting"] == "yes" and p["TasksAccounting"] == "yes"
    assert p["MemoryMax"] == str(64 << 20)
    assert p["MemoryLow"] == str(32 << 20)
    assert p["MemorySwapMax"] == str(64 << 20)  # v2: swap alone = memory+swap - memory
    assert p["CPUWeight"] == "20"  # 1 + (512-2)*9999/262142, as the v2 files
    assert p["CPUQuotaPerSecUSec"] == "500ms"
    assert p["CPUQuotaPeriodUSec"] == "100ms"
    assert p["TasksMax"] == "42"

    assert read(d + "/memory.max") == str(64 << 20)
    assert read(d + "/memory.low") == str(32 << 20)
    if os.path.exists(d + "/memory.swap.max"):
        assert read(d + "/memory.swap.max") == str(64 << 20)
    assert read(d + "/cpu.weight") == "20"
    assert read(d + "/cpu.max") == "50000 100000"
    assert read(d + "/pids.max") == "42"

    delete(rt, cid)
    assert gone(unit)
    assert not os.path.exists(d)


@V2ONLY
def test_update_sets_properties_and_files(rt, sleeper, tmp_path):
    t = tag()
    unit = "keeltest-%s.scope" % t
    sleeper.config["process"]["capabilities"]["bounding"].append("CAP_MKNOD")
    sleeper.config["process"]["capabilities"]["effective"].append("CAP_MKNOD")
    sleeper.config["process"]["capabilities"]["permitted"].append("CAP_MKNOD")
    cid, pid = start(rt, sleeper, tmp_path, "system.slice:keeltest:" + t, LIMITS)
    d = CG + "/system.slice/" + unit
    rt.run("start", cid, check=True)
    r = rt.run("update", "--memory", str(100 << 20), "--pids-limit", "50", "--cpu-quota", "20000", cid,
               global_args=SD)
    assert r.returncode == 0, r.stderr
    p = show(unit, "MemoryMax", "TasksMax", "CPUQuotaPerSecUSec")
    assert p["MemoryMax"] == str(100 << 20)
    assert p["TasksMax"] == "50"
    assert p["CPUQuotaPerSecUSec"] == "200ms"
    assert read(d + "/memory.max") == str(100 << 20)
    assert read(d + "/pids.max") == "50"
    assert read(d + "/cpu.max") == "20000 100000"
    # --resources (JSON), as containerd sends it
    res = tmp_path / "res.json"
    res.write_text(json.dumps({"memory": {"limit": 80 << 20}, "pids": {"limit": -1}}))
    r = rt.run("update", "--resources", str(res), cid, global_args=SD)
    assert r.returncode == 0, r.stderr
    p = show(unit, "MemoryMax", "TasksMax")
    assert p["MemoryMax"] == str(80 << 20)
    assert p["TasksMax"] == "infinity"
    assert read(d + "/pids.max") == "max"
    # systemd re-applies its own view of the unit on reload: limits only
    # written to files would be reset; as properties they stay
    subprocess.run(["systemctl", "daemon-reload"], check=True, timeout=60)
    assert read(d + "/memory.max") == str(80 << 20)
    assert read(d + "/memory.low") == str(32 << 20)
    assert read(d + "/cpu.weight") == "20"
    assert read(d + "/cpu.max") == "20000 100000"
    assert read(d + "/pids.max") == "max"
    # keel's device program is still the one deciding
    assert_kmsg_denied(rt, cid)
    delete(rt, cid)


@V2ONLY
def test_exec_pause_ps_kill_in_scope(rt, sleeper, tmp_path):
    t = tag()
    unit = "keeltest-%s.scope" % t
    cid, pid = start(rt, sleeper, tmp_path, "system.slice:keeltest:" + t, {"pids": {"limit": 77}})
    d = CG + "/system.slice/" + unit
    rt.run("start", cid, check=True)
    r = rt.run("exec", cid, "cat", "/proc/self/cgroup", global_args=SD)
    assert r.returncode == 0, r.stderr
    assert "0::/system.slice/" + unit in r.stdout
    # the container's /sys/fs/cgroup is its unit's directory (pure v2 layout)
    r = rt.run("exec", cid, "cat", "/sys/fs/cgroup/pids.max", global_args=SD)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "77"
    rt.run("pause", cid, check=True, global_args=SD)
    assert json.loads(rt.run("state", cid, check=True).stdout)["status"] == "paused"
    assert read(d + "/cgroup.freeze") == "1"
    rt.run("resume", cid, check=True, global_args=SD)
    assert read(d + "/cgroup.freeze") == "0"
    r = rt.run("ps", "--format", "json", cid, check=True, global_args=SD)
    assert pid in json.loads(r.stdout)
    rt.run("kill", "--all", cid, "KILL", check=True, global_args=SD)
    # the scope empties, and systemd removes it by itself
    for _ in range(100):
        if gone(unit):
            break
        subprocess.run(["sleep", "0.1"])
    assert gone(unit)
    delete(rt, cid)


@V2ONLY
def test_default_cgroups_path(rt, sleeper, tmp_path):
    cid, pid = start(rt, sleeper, tmp_path, None)
    unit = "keel-%s.scope" % cid
    assert own_cgroup(pid) == "/system.slice/" + unit
    assert show(unit, "ActiveState")["ActiveState"] == "active"
    delete(rt, cid)
    assert gone(unit)


@V2ONLY
def test_scope_in_nested_new_slice(rt, sleeper, tmp_path):
    """"a-b.slice" lives in a.slice: /keeltest.slice/keeltest-T.slice/pfx-name.scope."""
    t = tag()
    slice_ = "keeltest-%s.slice" % t
    cid, pid = start(rt, sleeper, tmp_path, "%s:pfx:n%s" % (slice_, t))
    unit = "pfx-n%s.scope" % t
    path = "/keeltest.slice/%s/%s" % (slice_, unit)
    assert own_cgroup(pid) == path
    assert show(unit, "Slice")["Slice"] == slice_
    delete(rt, cid)
    assert gone(unit)
    assert not os.path.exists(CG + path)
    subprocess.run(["systemctl", "stop", slice_, "keeltest.slice"], timeout=60)


@V2ONLY
def test_name_ending_in_slice_makes_a_slice(rt, sleeper, tmp_path):
    slice_ = "keeltest%s.slice" % tag()
    cid, pid = start(rt, sleeper, tmp_path, "system.slice:ignored:" + slice_, {"pids": {"limit": 30}})
    assert own_cgroup(pid) == "/" + slice_
    p = show(slice_, "ActiveState", "TasksMax")
    assert p["ActiveState"] == "active" and p["TasksMax"] == "30"
    assert read(CG + "/" + slice_ + "/pids.max") == "30"
    delete(rt, cid)
    assert stopped(slice_)
    assert not os.path.exists(CG + "/" + slice_)


@V2ONLY
def test_same_unit_twice_is_refused(rt, sleeper, tmp_path):
    t = tag()
    unit = "keeltest-%s.scope" % t
    cid, pid = start(rt, sleeper, tmp_path, "system.slice:keeltest:" + t)
    cid2 = "sd2-" + tag()
    rc, err = create(rt, sleeper, cid2, tmp_path, global_args=SD)
    assert rc != 0
    if is_keel(rt):
        assert unit in err and "already" in err, err
    assert cid2 not in rt.list_ids()
    # the first container keeps its scope
    assert show(unit, "ActiveState")["ActiveState"] == "active"
    assert str(pid) in read(CG + "/system.slice/%s/cgroup.procs" % unit).split()
    delete(rt, cid)


@V2ONLY
def test_failed_create_leaves_no_unit(rt, sleeper, tmp_path):
    """The scope exists before the files are written; a refused field must
    not leave it behind."""
    if not is_keel(rt):
        pytest.skip("keel refuses memory.swappiness on cgroup v2; runc ignores it")
    t = tag()
    unit = "keeltest-%s.scope" % t
    sleeper.config["linux"]["cgroupsPath"] = "system.slice:keeltest:" + t
    sleeper.config["linux"]["resources"]["memory"] = {"limit": 64 << 20, "swappiness": 10}
    sleeper.write()
    cid = "sd-" + tag()
    rc, err = create(rt, sleeper, cid, tmp_path, global_args=SD)
    assert rc != 0
    assert "memory.swappiness" in err, err
    assert gone(unit)
    assert not os.path.exists(CG + "/system.slice/" + unit)
    assert cid not in rt.list_ids()


def test_bad_cgroups_path(rt, sleeper, tmp_path):
    for path, words in (("/plain/path", "slice:prefix:name"), ("notaslice:x:y", ".slice"),
                        ("a--b.slice:x:y", "a--b.slice")):
        sleeper.config["linux"]["cgroupsPath"] = path
        sleeper.write()
        cid = "sd-" + tag()
        rc, err = create(rt, sleeper, cid, tmp_path, global_args=SD)
        assert rc != 0, path
        if is_keel(rt):
            assert words in err, err
        assert cid not in rt.list_ids()


def hide_private_socket(cmd):
    """cmd in a mount namespace where systemd's private socket is covered."""
    return ["unshare", "-m", "--propagation", "private", "sh", "-c",
            'mount --bind /dev/null /run/systemd/private && exec "$@"', "sh"] + cmd


def create_with(rt, bundle, cid, tmp_path, wrap, env=None):
    errf = tmp_path / ("create-%s.err" % cid)
    with open(errf, "w") as err:
        r = subprocess.run(wrap(rt.cmd("create", "--bundle", bundle.path, cid, global_args=SD)),
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, timeout=60, env=env)
    return r.returncode, errf.read_text()


@pytest.fixture
def system_bus():
    # without default dependencies: sysinit.target would mount a fresh /tmp
    # (tmp.mount) under the running tests, and boot half a machine.
    # systemd-ns.sh writes these drop-ins before booting (a reload costs ~10 s
    # in the guest).
    missing = False
    for unit in ("dbus.socket", "dbus.service"):
        conf = "/run/systemd/system/%s.d/keel-test.conf" % unit
        if not os.path.exists(conf):
            missing = True
            os.makedirs(os.path.dirname(conf), exist_ok=True)
            with open(conf, "w") as f:
                f.write("[Unit]\nDefaultDependencies=no\n")
    if missing:
        subprocess.run(["systemctl", "daemon-reload"], check=True, timeout=60)
    r = subprocess.run(["systemctl", "start", "dbus.socket", "dbus.service"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60, env=SYSTEMCTL_ENV)
    if r.returncode != 0:
        pytest.skip("cannot start dbus.service here: " + r.stdout.strip())
    ping = ["busctl", "--system", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
            "org.freedesktop.DBus.Peer", "Ping"]
    for _ in range(100):
        if subprocess.run(ping, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30).returncode == 0:
            break
        subprocess.run(["sleep", "0.1"])
    else:
        pytest.fail("systemd did not appear on the system bus after dbus.service started")
    yield
    subprocess.run(["systemctl", "stop", "dbus.service", "dbus.socket"], timeout=60)


@V2ONLY
def test_system_bus_without_private_socket(rt, sleeper, tmp_path, system_bus):
    """The system bus is tried first: with the private socket covered,
    create, update and delete still reach systemd."""
    t = tag()
    unit = "keeltest-%s.scope" % t
    sleeper.config["linux"]["cgroupsPath"] = "system.slice:keeltest:" + t
    sleeper.config["linux"]["resources"]["pids"] = {"limit": 33}
    sleeper.write()
    cid = "sd-" + tag()
    rc, err = create_with(rt, sleeper, cid, tmp_path, hide_private_socket)
    assert rc == 0, err
    p = show(unit, "ActiveState", "TasksMax")
    assert p["ActiveState"] == "active" and p["TasksMax"] == "33"
    r = subprocess.run(hide_private_socket(rt.cmd("delete", "--force", cid, global_args=SD)),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert gone(unit)


@V2ONLY
def test_no_bus_reachable_names_both(rt, sleeper, tmp_path):
    """No system bus and no private socket: the error names both attempts
    and nothing is left."""
    t = tag()
    unit = "keeltest-%s.scope" % t
    sleeper.config["linux"]["cgroupsPath"] = "system.slice:keeltest:" + t
    sleeper.write()
    cid = "sd-" + tag()
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/bus")
    rc, err = create_with(rt, sleeper, cid, tmp_path, hide_private_socket, env=env)
    assert rc != 0
    if is_keel(rt):
        assert "/nonexistent/bus" in err and "/run/systemd/private" in err, err
    assert gone(unit)
    assert cid not in rt.list_ids()


@V2ONLY
def test_bus_without_systemd_falls_back_to_private_socket(rt, sleeper, tmp_path):
    """A system bus that answers but has no systemd on it (as in some
    containers): root falls back to systemd's private socket."""
    r = subprocess.run(["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    if r.returncode != 0:
        pytest.skip("cannot start a private dbus-daemon here: " + r.stderr.strip())
    address, pid = r.stdout.split()[:2]
    try:
        t = tag()
        unit = "keeltest-%s.scope" % t
        sleeper.config["linux"]["cgroupsPath"] = "system.slice:keeltest:" + t
        sleeper.write()
        cid = "sd-" + tag()
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address)
        rc, err = create_with(rt, sleeper, cid, tmp_path, lambda cmd: cmd, env=env)
        assert rc == 0, err
        assert show(unit, "ActiveState")["ActiveState"] == "active"
        # with the private socket hidden too, the error names what each said
        cid2 = "sd-" + tag()
        sleeper.config["linux"]["cgroupsPath"] = "system.slice:keeltest:x" + t
        sleeper.write()
        rc, err = create_with(rt, sleeper, cid2, tmp_path, hide_private_socket, env=env)
        assert rc != 0
        if is_keel(rt):
            assert address in err and "org.freedesktop.systemd1" in err and "/run/systemd/private" in err, err
        assert gone("keeltest-x%s.scope" % t)
        delete(rt, cid)
        assert gone(unit)
    finally:
        os.kill(int(pid), 15)


def v1_dir(controller, path):
    """The directory of cgroup path in the v1 hierarchy carrying controller."""
    for name in os.listdir(CG):
        if controller in name.split(","):
            return os.path.join(CG, name) + path
    return None


@HYBRIDONLY
def test_hybrid_scope_limits_devices_reload_update_delete(rt, sleeper, tmp_path):
    """On the hybrid layout: v1 property names, every v1 hierarchy (those
    systemd does not manage made by keel), device rules given to systemd so
    a daemon-reload keeps them, update, delete."""
    t = tag()
    unit = "keeltest-%s.scope" % t
    path = "/system.slice/" + unit
    for k in ("bounding", "effective", "permitted"):
        sleeper.config["process"]["capabilities"][k].append("CAP_MKNOD")
    limits = {"memory": {"limit": 64 << 20}, "cpu": {"shares": 512, "quota": 50000, "period": 100000},
              "pids": {"limit": 42}}
    cid, pid = start(rt, sleeper, tmp_path, "system.slice:keeltest:" + t, limits)
    rt.run("start", cid, check=True)
    with open("/proc/%d/cgroup" % pid) as f:
        paths = [line.rstrip("\n").split(":", 2)[2] for line in f]
    assert paths and all(p == path for p in paths), paths

    p = show(unit, "ActiveState", "Delegate", "MemoryLimit", "CPUShares", "CPUQuotaPerSecUSec", "TasksMax",
             "DevicePolicy", "DeviceAllow")
    assert p["ActiveState"] == "active" and p["Delegate"] == "yes"
    assert p["MemoryLimit"] == str(64 << 20)
    assert p["CPUShares"] == "512"
    assert p["CPUQuotaPerSecUSec"] == "500ms"
    assert p["TasksMax"] == "42"
    assert p["DevicePolicy"] == "strict"

    def check_files(mem):
        assert read(v1_dir("memory", path) + "/memory.limit_in_bytes") == str(mem)
        assert read(v1_dir("cpu", path) + "/cpu.shares") == "512"
        assert read(v1_dir("cpu", path) + "/cpu.cfs_quota_us") == "50000"
        assert read(v1_dir("pids", path) + "/pids.max") == "42"
        devices = read(v1_dir("devices", path) + "/devices.list").splitlines()
        assert "a *:* rwm" not in devices and "c 1:3 rwm" in devices, devices
        assert_kmsg_denied(rt, cid)

    check_files(64 << 20)
    subprocess.run(["systemctl", "daemon-reload"], check=True, timeout=60)
    check_files(64 << 20)
    r = rt.run("update", "--memory", str(100 << 20), cid, global_args=SD)
    assert r.returncode == 0, r.stderr
    assert show(unit, "MemoryLimit")["MemoryLimit"] == str(100 << 20)
    check_files(100 << 20)

    delete(rt, cid)
    assert gone(unit)
    left = [n for n in os.listdir(CG) if os.path.exists(os.path.join(CG, n) + path)]
    assert not left, left
