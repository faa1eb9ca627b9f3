"""cgroups of real containers: every linux.resources field this host can
provide lands in the container's cgroup files (read from the host through
/proc/PID/cgroup, and once from inside), what the host cannot provide is an
error naming the field, cgroupsPath rules, and nothing is left after delete.

Works on cgroup v1/hybrid (this host) and on pure cgroup v2
(spec-tests/cgroup2-vm.sh).  Run against a peer with RUNTIME=/usr/sbin/runc.
"""
import json
import os
import subprocess
import uuid

import pytest

from lifecycle_util import is_keel

V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def cgroup_mounts():
    """[(mountpoint, fstype, controllers)] from /proc/self/mountinfo."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            mnt = left.split()[4]
            fstype, _src, opts = right.split()[:3]
            if fstype == "cgroup":
                out.append((mnt, fstype, set(opts.split(","))))
            elif fstype == "cgroup2":
                try:
                    with open(os.path.join(mnt, "cgroup.controllers")) as c:
                        ctl = set(c.read().split())
                except OSError:
                    ctl = set()
                out.append((mnt, fstype, ctl))
    return out


def controller_available(name):
    return any(name in ctl for _m, _t, ctl in cgroup_mounts())


def cg_dir(pid, controller):
    """The host directory of pid's cgroup in the hierarchy carrying controller
    (v1 first: on hybrid hosts only hugetlb is on cgroup2)."""
    with open("/proc/%d/cgroup" % pid) as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    for mnt, fstype, ctl in cgroup_mounts():
        if fstype == "cgroup" and controller in ctl:
            for _id, ctrls, path in lines:
                if controller in ctrls.split(","):
                    return mnt + path
    for mnt, fstype, ctl in cgroup_mounts():
        if fstype == "cgroup2" and (controller in ctl or controller is None):
            for hid, _ctrls, path in lines:
                if hid == "0":
                    return mnt + path
    return None


def read_cg(pid, controller, name):
    d = cg_dir(pid, controller)
    assert d, "no hierarchy carries %s" % controller
    with open(os.path.join(d, name)) as f:
        return f.read().strip()


def all_cg_dirs(pid):
    dirs = set()
    for mnt, fstype, ctl in cgroup_mounts():
        for c in ctl or {None}:
            d = cg_dir(pid, c)
            if d and d.rstrip("/") != mnt:
                dirs.add(d)
    return dirs


# Containers made by create(): deleted after each test by delete_created()
# even when `list` cannot see them (the runtime's list may fail).
CREATED = []


@pytest.fixture(autouse=True)
def delete_created(rt):
    """Depends on rt so that it runs before rt's teardown removes the state root."""
    yield
    while CREATED:
        rt, cid = CREATED.pop()
        rt.run("delete", "--force", cid)


def create(rt, bundle, cid, tmp_path, global_args=()):
    """`create` with stdio that the container may keep (files, not pipes)."""
    CREATED.append((rt, cid))
    errf = tmp_path / ("create-%s.err" % cid)
    with open(errf, "w") as err:
        r = subprocess.run(rt.cmd("create", "--bundle", bundle.path, cid, global_args=global_args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, timeout=60)
    return r.returncode, errf.read_text()


def state_pid(rt, cid):
    r = rt.run("state", cid, check=True)
    return json.loads(r.stdout)["pid"]


def unique_path():
    return "/keeltest-py-" + uuid.uuid4().hex[:10]


@pytest.fixture
def sleeper(bundle):
    bundle.config["process"]["args"] = ["sleep", "1000"]
    bundle.config["linux"]["cgroupsPath"] = unique_path()
    bundle.config["linux"].setdefault("resources", {})
    return bundle


def start_with(rt, bundle, tmp_path, resources):
    bundle.config["linux"]["resources"].update(resources)
    bundle.write()
    cid = "cg-" + uuid.uuid4().hex[:8]
    rc, err = create(rt, bundle, cid, tmp_path)
    assert rc == 0, err
    return cid, state_pid(rt, cid)


def test_memory_limits(rt, sleeper, tmp_path):
    mem_dir = None
    res = {"memory": {"limit": 64 << 20, "reservation": 32 << 20}}
    swap_file = "memory.swap.max" if V2 else "memory.memsw.limit_in_bytes"
    probe = "/sys/fs/cgroup/memory.max" if V2 else "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"
    has_swap = V2 or os.path.exists(probe)
    if has_swap:
        res["memory"]["swap"] = 128 << 20
    if not V2:
        res["memory"]["swappiness"] = 30
    cid, pid = start_with(rt, sleeper, tmp_path, res)
    mem_dir = cg_dir(pid, "memory")
    assert mem_dir
    if V2:
        assert read_cg(pid, "memory", "memory.max") == str(64 << 20)
        assert read_cg(pid, "memory", "memory.low") == str(32 << 20)
        if os.path.exists(os.path.join(mem_dir, swap_file)):
            assert read_cg(pid, "memory", swap_file) == str(64 << 20)  # swap alone on v2
    else:
        assert read_cg(pid, "memory", "memory.limit_in_bytes") == str(64 << 20)
        assert read_cg(pid, "memory", "memory.soft_limit_in_bytes") == str(32 << 20)
        assert read_cg(pid, "memory", swap_file) == str(128 << 20)
        assert read_cg(pid, "memory", "memory.swappiness") == "30"


def test_cpu(rt, sleeper, tmp_path):
    res = {"cpu": {"shares": 512, "quota": 50000, "period": 100000}}
    if controller_available("cpuset"):
        res["cpu"].update({"cpus": "0", "mems": "0"})
    cid, pid = start_with(rt, sleeper, tmp_path, res)
    if V2:
        assert read_cg(pid, "cpu", "cpu.weight") == "20"  # 1 + (512-2)*9999/262142
        assert read_cg(pid, "cpu", "cpu.max") == "50000 100000"
    else:
        assert read_cg(pid, "cpu", "cpu.shares") == "512"
        assert read_cg(pid, "cpu", "cpu.cfs_quota_us") == "50000"
        assert read_cg(pid, "cpu", "cpu.cfs_period_us") == "100000"
    if controller_available("cpuset"):
        assert read_cg(pid, "cpuset", "cpuset.cpus") == "0"
        assert read_cg(pid, "cpuset", "cpuset.mems") == "0"


def test_pids_limit(rt, sleeper, tmp_path):
    cid, pid = start_with(rt, sleeper, tmp_path, {"pids": {"limit": 42}})
    assert read_cg(pid, "pids", "pids.max") == "42"


def first_disk():
    """(major, minor) of a whole disk, for throttles."""
    for name in sorted(os.listdir("/sys/block")):
        if name.startswith(("loop", "ram", "zram", "ubd")) and name != "ubda":
            continue
        with open("/sys/block/%s/dev" % name) as f:
            ma, mi = f.read().strip().split(":")
        return int(ma), int(mi)
    return None


def test_blkio_throttle(rt, sleeper, tmp_path):
    disk = first_disk()
    if not disk:
        pytest.skip("no block device to throttle")
    ma, mi = disk
    res = {"blockIO": {"throttleReadBpsDevice": [{"major": ma, "minor": mi, "rate": 1048576}],
                       "throttleWriteIOPSDevice": [{"major": ma, "minor": mi, "rate": 300}]}}
    cid, pid = start_with(rt, sleeper, tmp_path, res)
    if V2:
        line = read_cg(pid, "io", "io.max")
        assert "%d:%d" % disk in line and "rbps=1048576" in line and "wiops=300" in line
    else:
        assert read_cg(pid, "blkio", "blkio.throttle.read_bps_device") == "%d:%d 1048576" % disk
        assert read_cg(pid, "blkio", "blkio.throttle.write_iops_device") == "%d:%d 300" % disk


def test_hugetlb(rt, sleeper, tmp_path):
    if not controller_available("hugetlb"):
        pytest.skip("the hugetlb controller is not available on this host")
    if not os.path.exists("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        pytest.skip("no 2MB huge pages on this host")
    hybrid = not V2 and not any(t == "cgroup" and "hugetlb" in c for _m, t, c in cgroup_mounts())
    if hybrid and not is_keel(rt):
        pytest.skip("runc 1.1 cannot set hugetlb when the controller is on the hybrid cgroup2 mount "
                    "(\"cannot set hugetlb limit\")")
    cid, pid = start_with(rt, sleeper, tmp_path, {"hugepageLimits": [{"pageSize": "2MB", "limit": 8 << 20}]})
    d = cg_dir(pid, "hugetlb")
    name = "hugetlb.2MB.max" if os.path.exists(os.path.join(d, "hugetlb.2MB.max")) else "hugetlb.2MB.limit_in_bytes"
    assert read_cg(pid, "hugetlb", name) == str(8 << 20)


def test_limit_visible_inside(rt, bundle, tmp_path):
    """The container reads its own limit through its /sys/fs/cgroup."""
    f = "/sys/fs/cgroup/memory.max" if V2 else "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    bundle.config["process"]["args"] = ["cat", f]
    bundle.config["linux"]["cgroupsPath"] = unique_path()
    bundle.config["linux"]["resources"]["memory"] = {"limit": 96 << 20}
    if V2:
        bundle.config["linux"]["namespaces"].append({"type": "cgroup"})
    bundle.write()
    r = rt.run("run", "--bundle", bundle.path, "cg-in-" + uuid.uuid4().hex[:6])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(96 << 20)


DEVICE_PROBE = ("if (exec 3>/dev/kmsg) 2>/dev/null; then echo kmsg-open; else echo kmsg-denied; fi; "
                "echo x > /dev/null && echo null-ok")


@pytest.mark.parametrize("allow", [False, True])
def test_devices(rt, bundle, allow):
    """Device rules decide access (v1 devices.deny/allow; v2 eBPF program)."""
    bundle.config["process"]["args"] = ["sh", "-c", DEVICE_PROBE]
    bundle.config["linux"]["cgroupsPath"] = unique_path()
    bundle.config["linux"]["devices"] = [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11,
                                          "fileMode": 0o666, "uid": 0, "gid": 0}]
    if allow:
        bundle.config["linux"]["resources"]["devices"].append(
            {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "w"})
    bundle.write()
    r = rt.run("run", "--bundle", bundle.path, "cg-dev-" + uuid.uuid4().hex[:6])
    assert r.returncode == 0, r.stderr
    assert ("kmsg-open" if allow else "kmsg-denied") in r.stdout
    assert "null-ok" in r.stdout


def test_cgroups_path_absolute_and_gone_after_delete(rt, sleeper, tmp_path):
    path = sleeper.config["linux"]["cgroupsPath"]
    cid, pid = start_with(rt, sleeper, tmp_path, {"pids": {"limit": 100}})
    with open("/proc/%d/cgroup" % pid) as f:
        text = f.read()
    assert path in text
    dirs = all_cg_dirs(pid)
    assert dirs and all(d.endswith(path) for d in dirs), dirs
    r = rt.run("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    left = [d for d in dirs if os.path.exists(d)]
    assert not left, "cgroups left after delete: %s" % left


def test_cgroups_path_relative(rt, sleeper, tmp_path):
    """A relative cgroupsPath is taken below the runtime's own cgroup (runc's rule)."""
    rel = "keeltest-rel-" + uuid.uuid4().hex[:8]
    sleeper.config["linux"]["cgroupsPath"] = rel
    with open("/proc/self/cgroup") as f:
        own = {c: p for _i, ctrls, p in (line.rstrip("\n").split(":", 2) for line in f) for c in ctrls.split(",")}
    if V2 and own.get("", "/") != "/":
        pytest.skip("cgroup v2 below a populated cgroup: no controllers can be delegated")
    cid, pid = start_with(rt, sleeper, tmp_path, {})
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _i, ctrls, path = line.rstrip("\n").split(":", 2)
            c = ctrls.split(",")[0]
            if c in own and rel in path:
                base = own[c].rstrip("/")
                assert path == base + "/" + rel, (line, own[c])
    assert rel in open("/proc/%d/cgroup" % pid).read()
    rt.run("delete", "--force", cid)


def test_default_cgroups_path_names_the_container(rt, bundle, tmp_path):
    bundle.config["process"]["args"] = ["sleep", "1000"]
    bundle.config["linux"].pop("cgroupsPath", None)
    bundle.write()
    cid = "cg-def-" + uuid.uuid4().hex[:8]
    rc, err = create(rt, bundle, cid, tmp_path)
    assert rc == 0, err
    pid = state_pid(rt, cid)
    with open("/proc/%d/cgroup" % pid) as f:
        assert cid in f.read()
    dirs = all_cg_dirs(pid)
    rt.run("delete", "--force", cid)
    assert not [d for d in dirs if os.path.exists(d)]


# --- what the host cannot provide: keel refuses and names the field ---


def expect_refusal(rt, bundle, tmp_path, resources, words):
    if not is_keel(rt):
        pytest.skip("keel-specific refusal of what the host cannot provide (peers are not held to it)")
    bundle.config["process"]["args"] = ["sleep", "1000"]
    bundle.config["linux"]["cgroupsPath"] = unique_path()
    bundle.config["linux"]["resources"].update(resources)
    bundle.write()
    cid = "cg-no-" + uuid.uuid4().hex[:8]
    rc, err = create(rt, bundle, cid, tmp_path)
    assert rc != 0, "create accepted %s" % resources
    for w in words:
        assert w in err, err
    assert cid not in rt.list_ids()  # nothing half-made left
    path = bundle.config["linux"]["cgroupsPath"]
    left = [os.path.join(m, path.lstrip("/")) for m, _t, _c in cgroup_mounts()
            if os.path.exists(os.path.join(m, path.lstrip("/")))]
    assert not left, "cgroups left after a refused create: %s" % left


def test_net_cls_refused_when_missing(rt, bundle, tmp_path):
    if controller_available("net_cls"):
        pytest.skip("this host has net_cls")
    expect_refusal(rt, bundle, tmp_path, {"network": {"classID": 1048577}}, ["network.classID"])


def test_rdma_refused_when_missing(rt, bundle, tmp_path):
    if controller_available("rdma"):
        pytest.skip("this host has rdma")
    expect_refusal(rt, bundle, tmp_path, {"rdma": {"mlx5_0": {"hcaHandles": 3}}}, ["rdma"])


def test_unified_validated(rt, bundle, tmp_path):
    expect_refusal(rt, bundle, tmp_path, {"unified": {"../escape": "1"}}, ["unified", "../escape"])


def bfq_devices():
    out = []
    for name in os.listdir("/sys/block"):
        try:
            with open("/sys/block/%s/queue/scheduler" % name) as f:
                if "[bfq]" in f.read():
                    out.append(name)
        except OSError:
            pass
    return out


def test_blkio_weight_refused_without_bfq(rt, bundle, tmp_path):
    """No CFQ blkio.weight on this kernel, and BFQ's weight acts only on a device using
    BFQ: without one, a weight would be a silent no-op, so keel refuses it."""
    if bfq_devices():
        pytest.skip("block devices use BFQ here: %s" % bfq_devices())
    expect_refusal(rt, bundle, tmp_path, {"blockIO": {"weight": 500}}, ["blockIO.weight"])


def test_systemd_driver_fails_clearly_without_systemd(rt, bundle, tmp_path):
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd runs here")
    bundle.config["process"]["args"] = ["true"]
    bundle.config["linux"]["cgroupsPath"] = "system.slice:keeltest:" + uuid.uuid4().hex[:8]
    bundle.write()
    cid = "cg-sd-" + uuid.uuid4().hex[:8]
    rc, err = create(rt, bundle, cid, tmp_path, global_args=("--systemd-cgroup",))
    assert rc != 0
    if is_keel(rt):
        assert "systemd is not running" in err, err
    assert cid not in rt.list_ids()


def test_memory_disable_oom_killer(rt, sleeper, tmp_path):
    if V2:
        expect_refusal(rt, sleeper, tmp_path, {"memory": {"limit": 64 << 20, "disableOOMKiller": True}},
                       ["memory.disableOOMKiller"])
        return
    cid, pid = start_with(rt, sleeper, tmp_path, {"memory": {"limit": 64 << 20, "disableOOMKiller": True}})
    assert "oom_kill_disable 1" in read_cg(pid, "memory", "memory.oom_control")


def test_cpu_burst_and_idle(rt, sleeper, tmp_path):
    if not is_keel(rt):
        pytest.skip("runc 1.1 writes neither cpu burst nor cpu.idle")
    cid, pid = start_with(rt, sleeper, tmp_path, {"cpu": {"quota": 50000, "period": 100000, "burst": 5000,
                                                          "idle": 1}})
    assert read_cg(pid, "cpu", "cpu.max.burst" if V2 else "cpu.cfs_burst_us") == "5000"
    assert read_cg(pid, "cpu", "cpu.idle") == "1"


def test_cpu_realtime(rt, sleeper, tmp_path):
    res = {"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 10000}}
    if V2:
        expect_refusal(rt, sleeper, tmp_path, res, ["cpu.realtime"])
        return
    if not os.path.exists("/sys/fs/cgroup/cpu/cpu.rt_runtime_us"):
        pytest.skip("the kernel has no RT group scheduling")
    cid, pid = start_with(rt, sleeper, tmp_path, res)
    assert read_cg(pid, "cpu", "cpu.rt_period_us") == "1000000"
    assert read_cg(pid, "cpu", "cpu.rt_runtime_us") == "10000"


def test_kernel_memory_refused_when_not_enforced(rt, bundle, tmp_path):
    """Since Linux 5.16 memory.kmem.limit_in_bytes accepts a value and ignores it."""
    expect_refusal(rt, bundle, tmp_path, {"memory": {"kernel": 64 << 20}}, ["memory.kernel"])


def test_unified(rt, sleeper, tmp_path):
    if not V2:
        # on the hybrid host the cgroup2 tree carries only hugetlb: a memory file is refused by name
        expect_refusal(rt, sleeper, tmp_path, {"unified": {"memory.max": "1000000"}}, ["unified", "memory.max"])
        return
    cid, pid = start_with(rt, sleeper, tmp_path, {"unified": {"pids.max": "33", "memory.high": "50000000"}})
    assert read_cg(pid, "pids", "pids.max") == "33"
    assert read_cg(pid, "memory", "memory.high") == "49999872"  # rounded down to pages
