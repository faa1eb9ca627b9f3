"""Namespaces: fresh ones are new, a path joins an existing one, the user
namespace gets its maps, the time namespace its offsets, pid 1 inside."""
import json
import os
import subprocess

import pytest

from lifecycle_util import is_runc, run_files, wait_status

NS = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt", "cgroup": "cgroup",
      "user": "user", "time": "time"}


def ns_of(pid, kind):
    return os.readlink("/proc/%d/ns/%s" % (pid, kind))


def start_sleeper(rt, bundle, cid):
    bundle.set_args("sleep", "60")
    run_files(rt, "run", "-d", "--bundle", bundle.path, cid, check=True)
    return json.loads(rt.run("state", cid, check=True).stdout)["pid"]


def test_fresh_namespaces_differ_from_host(rt, bundle):
    bundle.config["linux"]["namespaces"].append({"type": "cgroup"})
    pid = start_sleeper(rt, bundle, "n")
    for kind in ("pid", "network", "ipc", "uts", "mount", "cgroup"):
        assert ns_of(pid, NS[kind]) != ns_of(os.getpid(), NS[kind]), kind
    # not asked for: shared with the host
    assert ns_of(pid, "user") == ns_of(os.getpid(), "user")


def test_pid_one_inside(rt, bundle):
    bundle.set_args("sh", "-c", "echo $$; ps -o pid,comm | wc -l")
    r = rt.run("run", "--bundle", bundle.path, "p1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[0] == "1"


def test_network_namespace_has_only_loopback_and_it_is_up(rt, bundle):
    bundle.set_args("sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/flags")
    r = rt.run("run", "--bundle", bundle.path, "net")
    assert r.returncode == 0, r.stderr
    out = r.stdout.split()
    assert out[0] == "lo" and len(out) == 2
    assert int(out[1], 16) & 0x1, "lo is down"  # IFF_UP


def test_join_namespaces_by_path(rt, bundle, tmp_path):
    pid = start_sleeper(rt, bundle, "first")
    from helpers import make_bundle
    b2 = make_bundle(tmp_path / "b2")
    b2.config["linux"]["namespaces"] = [
        {"type": "pid"}, {"type": "mount"},
        {"type": "network", "path": "/proc/%d/ns/net" % pid},
        {"type": "ipc", "path": "/proc/%d/ns/ipc" % pid},
        {"type": "uts", "path": "/proc/%d/ns/uts" % pid},
    ]
    b2.config["hostname"] = None
    del b2.config["hostname"]
    b2.set_args("sleep", "60")
    run_files(rt, "run", "-d", "--bundle", b2.path, "second", check=True)
    pid2 = json.loads(rt.run("state", "second", check=True).stdout)["pid"]
    for kind in ("net", "ipc", "uts"):
        assert ns_of(pid2, kind) == ns_of(pid, kind), kind
    for kind in ("pid", "mnt"):
        assert ns_of(pid2, kind) != ns_of(pid, kind), kind


def test_join_pid_namespace_by_path(rt, bundle, tmp_path):
    pid = start_sleeper(rt, bundle, "pfirst")
    from helpers import make_bundle
    b2 = make_bundle(tmp_path / "b2")
    b2.config["linux"]["namespaces"] = [{"type": "mount"}, {"type": "uts"},
                                        {"type": "pid", "path": "/proc/%d/ns/pid" % pid}]
    b2.set_args("sh", "-c", "echo $$; ps -o comm | grep -c sleep")
    r = rt.run("run", "--bundle", b2.path, "psecond")
    assert r.returncode == 0, r.stderr
    out = r.stdout.split()
    assert out[0] != "1"           # not the first process of that namespace
    assert int(out[1]) >= 1        # sees the first container's sleep


def test_bad_namespace_path_is_an_error(rt, bundle, tmp_path):
    bundle.config["linux"]["namespaces"].append({"type": "cgroup", "path": str(tmp_path / "nope")})
    bundle.set_args("true")
    r = run_files(rt, "create", "--bundle", bundle.path, "bp")
    assert r.returncode != 0
    assert "nope" in r.stderr
    assert rt.list_ids() == []


def test_user_namespace_maps(rt, tmp_path):
    import shutil
    import tempfile
    from helpers import make_bundle
    # The mapped root must be able to walk to the rootfs: a 0711 directory
    # outside pytest's private (0700) tree.
    top = tempfile.mkdtemp(prefix="keel-userns-")
    os.chmod(top, 0o711)
    try:
        userns_maps(rt, make_bundle(os.path.join(top, "bundle")))
    finally:
        shutil.rmtree(top, ignore_errors=True)


def userns_bundle(bundle):
    os.chmod(bundle.path, 0o711)
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    # sysfs cannot be mounted without a private network namespace owned by
    # the user namespace; drop the host-cgroup mount that needs privileges.
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    for root, dirs, files in os.walk(bundle.rootfs):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), 100000, 100000)
    os.lchown(bundle.rootfs, 100000, 100000)


def userns_maps(rt, bundle):
    userns_bundle(bundle)
    bundle.set_args("sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u")
    r = rt.run("run", "--bundle", bundle.path, "u")
    assert r.returncode == 0, r.stderr
    lines = [l.split() for l in r.stdout.splitlines()]
    assert lines[0] == ["0", "100000", "65536"]
    assert lines[1] == ["0", "100000", "65536"]
    assert lines[2] == ["0"]


def test_time_namespace_offsets(rt, bundle):
    if not os.path.exists("/proc/self/ns/time"):
        pytest.skip("no time namespaces on this kernel")
    if is_runc(rt):
        pytest.xfail("runc 1.1 does not implement time namespaces")
    bundle.config["linux"]["namespaces"].append({"type": "time"})
    bundle.config["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 365, "nanosecs": 0}}
    bundle.set_args("cat", "/proc/uptime")
    r = rt.run("run", "--bundle", bundle.path, "t")
    assert r.returncode == 0, r.stderr
    with open("/proc/uptime") as f:
        host = float(f.read().split()[0])
    inside = float(r.stdout.split()[0])
    assert inside - host > 86400 * 364


def test_no_mount_namespace_is_refused(rt, bundle):
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"]
                                            if n["type"] != "mount"]
    bundle.set_args("true")
    # In a mount namespace of its own: a runtime that takes this config sets
    # up the rootfs in its caller's (crun 1.8.1 does), which would be ours.
    r = run_files(rt, "create", "--bundle", bundle.path, "nm",
                  prefix=("unshare", "-m", "--propagation", "private"))
    assert r.returncode != 0
    assert rt.list_ids() == []


def test_new_user_namespace_joining_network_namespace(rt, bundle):
    """podman's pods with --userns: a new user namespace, the pod's network
    namespace joined by path (owned by the host's user namespace)."""
    import shutil
    import tempfile
    from helpers import make_bundle
    pid = start_sleeper(rt, bundle, "pod")
    top = tempfile.mkdtemp(prefix="keel-userns-")
    os.chmod(top, 0o711)
    try:
        b2 = make_bundle(os.path.join(top, "bundle"))
        userns_bundle(b2)
        b2.config["linux"]["namespaces"] = [
            {"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "user"},
            {"type": "network", "path": "/proc/%d/ns/net" % pid}]
        b2.config["mounts"] = [m for m in b2.config["mounts"] if m["type"] != "sysfs"]
        # createRuntime hooks run in the runtime's namespaces: keel must be
        # back in its own network namespace after joining the pod's.
        hook_out = os.path.join(top, "hook-net")
        b2.config["hooks"] = {"createRuntime": [
            {"path": "/bin/sh", "args": ["sh", "-c", "readlink /proc/self/ns/net > " + hook_out]}]}
        b2.set_args("sleep", "60")
        run_files(rt, "run", "-d", "--bundle", b2.path, "member", check=True)
        pid2 = json.loads(rt.run("state", "member", check=True).stdout)["pid"]
        assert ns_of(pid2, "net") == ns_of(pid, "net")
        assert ns_of(pid2, "user") != ns_of(os.getpid(), "user")
        assert ns_of(pid2, "uts") != ns_of(pid, "uts")
        with open("/proc/%d/uid_map" % pid2) as f:
            assert f.read().split() == ["0", "100000", "65536"]
        with open(hook_out) as f:
            assert f.read().strip() == ns_of(os.getpid(), "net")
        rt.run("delete", "--force", "member", check=True)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_rootless_run(rt):
    """keel run by an unprivileged user, with a user namespace mapping that
    user to root (setgroups denied by keel, no cgroup)."""
    import shutil
    import subprocess
    import tempfile
    from helpers import make_bundle
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("setpriv (util-linux) is not installed")
    top = tempfile.mkdtemp(prefix="keel-rootless-")
    os.chmod(top, 0o755)
    try:
        b = make_bundle(os.path.join(top, "bundle"))
        b.config["linux"]["namespaces"].append({"type": "user"})
        b.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
        b.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
        b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] != "cgroup"]
        for m in b.config["mounts"]:
            if m["destination"] == "/dev/pts":
                m["options"] = [o for o in m["options"] if not o.startswith("gid=")]
        b.config["linux"].pop("resources", None)
        b.set_args("sh", "-c", "id -u; cat /proc/self/uid_map")
        for root, dirs, files in os.walk(top):
            for n in dirs + files:
                os.lchown(os.path.join(root, n), 1000, 1000)
        os.lchown(top, 1000, 1000)
        state = os.path.join(top, "state")
        r = subprocess.run([setpriv, "--reuid", "1000", "--regid", "1000", "--clear-groups",
                            rt.path, "--root", state, "run", "--bundle", b.path, "rl"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out = r.stdout.split()
        assert out[0] == "0"
        assert out[1:4] == ["0", "1000", "1"]
        assert not os.path.exists(os.path.join(state, "rl"))
    finally:
        shutil.rmtree(top, ignore_errors=True)
