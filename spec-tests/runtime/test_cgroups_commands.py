"""The commands that act on a container's cgroup: pause/resume, kill --all,
ps, update (flags and -r JSON) and events (--stats, oom).  Real containers;
also run against RUNTIME=/usr/sbin/runc."""
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from test_cgroups import delete_created, V2, cg_dir, create, read_cg, state_pid, unique_path  # noqa: F401 (autouse fixture)


def status(rt, cid):
    r = rt.run("state", cid)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["status"]


@pytest.fixture
def running(rt, bundle, tmp_path):
    """A started container running `sleep 1000` (or bundle args set by the test)."""

    def start(args=("sleep", "1000"), resources=None):
        bundle.config["process"]["args"] = list(args)
        bundle.config["linux"]["cgroupsPath"] = unique_path()
        if resources:
            bundle.config["linux"]["resources"].update(resources)
        bundle.write()
        cid = "cgc-" + uuid.uuid4().hex[:8]
        rc, err = create(rt, bundle, cid, tmp_path)
        assert rc == 0, err
        r = rt.run("start", cid)
        assert r.returncode == 0, r.stderr
        return cid, state_pid(rt, cid)

    return start


def freezer_frozen(pid):
    if V2:
        return read_cg(pid, None, "cgroup.freeze") == "1"
    return read_cg(pid, "freezer", "freezer.state") == "FROZEN"


def test_pause_resume(rt, running):
    cid, pid = running()
    assert status(rt, cid) == "running"
    r = rt.run("resume", cid)
    assert r.returncode != 0  # not paused
    r = rt.run("pause", cid)
    assert r.returncode == 0, r.stderr
    assert status(rt, cid) == "paused"
    assert freezer_frozen(pid)
    r = rt.run("pause", cid)
    assert r.returncode != 0  # already paused
    r = rt.run("resume", cid)
    assert r.returncode == 0, r.stderr
    assert status(rt, cid) == "running"
    assert not freezer_frozen(pid)


def test_delete_force_paused_container(rt, running):
    # A v1 frozen task only dies of SIGKILL once thawed: delete must thaw.
    cid, pid = running()
    assert rt.run("pause", cid).returncode == 0
    dirs = [cg_dir(pid, "memory")]
    r = rt.run("delete", "--force", cid)
    if r.returncode != 0:
        rt.run("resume", cid)  # leave nothing frozen behind
        rt.run("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z"
    assert not [d for d in dirs if d and os.path.exists(d)]


def test_delete_force_paused_container_without_pid_namespace(rt, bundle, running):
    # No pid namespace: every process of the cgroup must be killed and thawed.
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "pid"]
    cid, pid = running(("sh", "-c", "sleep 1000 & sleep 1000 & wait"))
    deadline = time.time() + 10
    while time.time() < deadline:
        procs = open(os.path.join(cg_dir(pid, "pids"), "cgroup.procs")).read().split()
        if len(procs) >= 3:
            break
        time.sleep(0.05)
    assert len(procs) >= 3
    assert rt.run("pause", cid).returncode == 0
    dirs = [cg_dir(pid, "memory")]
    r = rt.run("delete", "--force", cid)
    if r.returncode != 0:
        rt.run("resume", cid)
        rt.run("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    for p in procs:
        assert not os.path.exists("/proc/%s" % p) or open("/proc/%s/stat" % p).read().split()[2] == "Z"
    assert not [d for d in dirs if d and os.path.exists(d)]


def test_kill_all(rt, running):
    cid, pid = running(("sh", "-c", "sleep 1000 & sleep 1000 & wait"))
    deadline = time.time() + 10
    while time.time() < deadline:
        procs = open(os.path.join(cg_dir(pid, "pids"), "cgroup.procs")).read().split()
        if len(procs) >= 3:
            break
        time.sleep(0.05)
    assert len(procs) >= 3
    r = rt.run("kill", "--all", cid, "KILL")
    assert r.returncode == 0, r.stderr
    deadline = time.time() + 10
    while time.time() < deadline and status(rt, cid) != "stopped":
        time.sleep(0.05)
    assert status(rt, cid) == "stopped"
    for p in procs:
        assert not os.path.exists("/proc/%s" % p) or open("/proc/%s/stat" % p).read().split()[2] == "Z"


def test_ps(rt, running):
    cid, pid = running(("sh", "-c", "sleep 1000 & wait"))
    deadline = time.time() + 10
    while time.time() < deadline:
        r = rt.run("ps", "--format", "json", cid)
        assert r.returncode == 0, r.stderr
        pids = json.loads(r.stdout)
        if len(pids) >= 2:
            break
        time.sleep(0.05)
    assert pid in pids and len(pids) == 2
    probe = subprocess.run(["ps", "-ef"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if probe.returncode != 0:
        pytest.skip("ps(1) itself fails here (%s): only the json format was checked" % probe.stderr.strip())
    r = rt.run("ps", cid)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().split("\n")
    assert "PID" in lines[0].split()
    col = lines[0].split().index("PID")
    assert sorted(int(line.split()[col]) for line in lines[1:]) == sorted(pids)
    r = rt.run("ps", cid, "-o", "pid,comm")
    assert r.returncode == 0, r.stderr
    assert "sleep" in r.stdout


def test_update_flags(rt, running):
    cid, pid = running(resources={"memory": {"limit": 128 << 20}, "pids": {"limit": 50}})
    args = ["update", "--memory", "256m", "--cpu-share", "256", "--cpu-quota", "20000", "--cpu-period", "100000",
            "--pids-limit", "30"]
    if not V2 and os.path.exists(os.path.join(cg_dir(pid, "memory"), "memory.memsw.limit_in_bytes")):
        args += ["--memory-swap", "512m"]
    r = rt.run(*args, cid)
    assert r.returncode == 0, r.stderr
    if V2:
        assert read_cg(pid, "memory", "memory.max") == str(256 << 20)
        assert read_cg(pid, "cpu", "cpu.max") == "20000 100000"
    else:
        assert read_cg(pid, "memory", "memory.limit_in_bytes") == str(256 << 20)
        assert read_cg(pid, "cpu", "cpu.shares") == "256"
        assert read_cg(pid, "cpu", "cpu.cfs_quota_us") == "20000"
    assert read_cg(pid, "pids", "pids.max") == "30"


def test_update_resources_json(rt, running, tmp_path):
    cid, pid = running()
    doc = {"memory": {"limit": 200 << 20}, "pids": {"limit": 25}, "cpu": {"quota": 30000, "period": 100000}}
    f = tmp_path / "res.json"
    f.write_text(json.dumps(doc))
    r = rt.run("update", "-r", str(f), cid)
    assert r.returncode == 0, r.stderr
    assert read_cg(pid, "pids", "pids.max") == "25"
    assert read_cg(pid, "memory", "memory.max" if V2 else "memory.limit_in_bytes") == str(200 << 20)
    # from standard input
    r = rt.run("update", "-r", "-", cid, input=json.dumps({"pids": {"limit": 24}}))
    assert r.returncode == 0, r.stderr
    assert read_cg(pid, "pids", "pids.max") == "24"


def test_update_bad_input(rt, running):
    cid, _pid = running()
    r = rt.run("update", "--memory", "lots", cid)
    assert r.returncode != 0
    r = rt.run("update", "-r", "-", cid, input="{not json")
    assert r.returncode != 0


def test_events_stats(rt, running):
    cid, pid = running(("sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1000"))
    time.sleep(0.3)
    r = rt.run("events", "--stats", cid)
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout.strip().split("\n")[0])
    assert ev["type"] == "stats" and ev["id"] == cid
    data = ev["data"]
    assert data["pids"]["current"] >= 1
    assert data["cpu"]["usage"]["total"] > 0
    assert data["memory"]["usage"]["usage"] > 0


def test_events_oom(rt, running):
    """An OOM kill inside the container shows up as {"type":"oom"} in the stream."""
    res = {"memory": {"limit": 32 << 20}}
    if not V2 and os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"):
        res["memory"]["swap"] = 32 << 20
    cid, pid = running(("sh", "-c", "sleep 2; dd if=/dev/zero of=/dev/shm/fill bs=1M count=200; sleep 1000"),
                       resources=res)
    p = subprocess.Popen(rt.cmd("events", "--interval", "1s", cid), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(5)
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
    types = [json.loads(line)["type"] for line in out.strip().split("\n") if line.strip()]
    assert "stats" in types, (out, err)
    assert "oom" in types, (out, err)
