"""The root filesystem: pivot_root and --no-pivot, root.readonly, root.path
forms, rootfsPropagation, linux.sysctl, and errors that name the step and
the path.  Runs against keel and runc alike."""
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

from mount_util import add_mount, mountinfo_in, parse_mountinfo, run_in, run_ok, skip_if_runc_older, needs_run  # noqa: F401

pytestmark = pytest.mark.usefixtures("needs_run")

RUNC_4009 = "applies rootfsPropagation before pivot_root, to the old root (runc#4009, fixed in 1.1.10)"


def test_readonly_root(rt, bundle):
    bundle.config["root"]["readonly"] = True
    out = run_ok(rt, bundle, "touch /newfile 2>&1; touch /tmp/x 2>&1; touch /dev/shm/ok && echo shm-ok")
    assert "Read-only file system" in out
    assert "shm-ok" in out
    assert not os.path.exists(os.path.join(bundle.rootfs, "newfile"))


def test_writable_root(rt, bundle):
    bundle.config["root"]["readonly"] = False
    run_ok(rt, bundle, "echo data > /written")
    with open(os.path.join(bundle.rootfs, "written")) as f:
        assert f.read() == "data\n"


def test_old_root_is_gone(rt, bundle, tmp_path):
    marker = tmp_path / "host-marker"
    marker.write_text("host\n")
    out = run_ok(rt, bundle, "ls %s 2>&1; cat /proc/self/mountinfo | wc -l" % marker)
    assert "No such file" in out


def test_no_pivot(rt, bundle):
    out = run_ok(rt, bundle, "cat /proc/self/mountinfo; ls /", extra=("--no-pivot",))
    m = parse_mountinfo(out)
    assert m["/proc"]["fstype"] == "proc"
    assert "bin" in out


def test_absolute_root_path(rt, bundle, tmp_path):
    bundle.config["root"]["path"] = bundle.rootfs
    assert "abs-ok" in run_ok(rt, bundle, "echo abs-ok")


def test_root_path_elsewhere(rt, bundle, tmp_path):
    other = tmp_path / "elsewhere"
    shutil.move(bundle.rootfs, str(other))
    bundle.config["root"]["path"] = str(other)
    assert "moved-ok" in run_ok(rt, bundle, "echo moved-ok")


def test_missing_root_path_is_an_error(rt, bundle):
    bundle.config["root"]["path"] = "no-such-rootfs"
    r = run_in(rt, bundle, "true")
    assert r.returncode != 0
    assert "no-such-rootfs" in r.stderr


def root_optional(rt, bundle):
    return mountinfo_in(rt, bundle)["/"]["optional"]


@pytest.mark.parametrize("prop", ["shared", "rshared"])
def test_rootfs_propagation_shared(rt, bundle, prop):
    skip_if_runc_older(rt, (1, 1, 10), RUNC_4009)
    bundle.config["linux"]["rootfsPropagation"] = prop
    assert any(o.startswith("shared:") for o in root_optional(rt, bundle))


@pytest.mark.parametrize("prop", ["private", "rprivate"])
def test_rootfs_propagation_private(rt, bundle, prop):
    bundle.config["linux"]["rootfsPropagation"] = prop
    opt = root_optional(rt, bundle)
    assert not any(o.startswith("shared:") or o.startswith("master:") for o in opt)


@pytest.mark.parametrize("prop", ["unbindable", "runbindable"])
def test_rootfs_propagation_unbindable(rt, bundle, prop):
    skip_if_runc_older(rt, (1, 1, 10), RUNC_4009)
    bundle.config["linux"]["rootfsPropagation"] = prop
    assert "unbindable" in root_optional(rt, bundle)


@pytest.mark.parametrize("prop", [None, "rslave", "rprivate"])
def test_container_mounts_do_not_reach_the_host(rt, bundle, prop):
    if prop:
        bundle.config["linux"]["rootfsPropagation"] = prop
    bundle.set_args("sleep", "30")
    cid = "alive-" + uuid.uuid4().hex[:8]
    with tempfile.TemporaryFile("w+") as err:
        # files, not pipes: the container keeps its stdio open
        r = subprocess.run(rt.cmd("create", "--bundle", bundle.path, cid), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=err, timeout=60)
        err.seek(0)
        assert r.returncode == 0, err.read()
    try:
        with open("/proc/self/mountinfo") as f:
            host = f.read()
        assert bundle.rootfs not in host
        assert " /proc/keys " not in host
    finally:
        rt.run("delete", "--force", cid)


def test_mount_error_names_step_path_and_errno(rt, bundle):
    add_mount(bundle, "/data", "bind", "/nonexistent/keel/source", ["bind"])
    r = run_in(rt, bundle, "true")
    assert r.returncode != 0
    assert "/nonexistent/keel/source" in r.stderr
    assert "data" in r.stderr
    assert "no such file or directory" in r.stderr.lower()


def test_sysctl_in_network_namespace(rt, bundle):
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "net.ipv4.ping_group_range": "0 0"}
    out = run_ok(rt, bundle, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ping_group_range")
    assert out.split()[:3] == ["1", "0", "0"]


def test_sysctl_ipc_needs_ipc_namespace(rt, bundle):
    bundle.config["linux"]["sysctl"] = {"kernel.shmmax": "123456789"}
    assert run_ok(rt, bundle, "cat /proc/sys/kernel/shmmax").strip() == "123456789"
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "ipc"]
    r = run_in(rt, bundle, "true", cid="mnt2")
    assert r.returncode != 0
    assert "kernel.shmmax" in r.stderr


def test_host_sysctl_is_refused(rt, bundle):
    bundle.config["linux"]["sysctl"] = {"kernel.core_pattern": "|/tmp/evil"}
    with open("/proc/sys/kernel/core_pattern") as f:
        before = f.read()
    r = run_in(rt, bundle, "true")
    assert r.returncode != 0
    assert "kernel.core_pattern" in r.stderr
    with open("/proc/sys/kernel/core_pattern") as f:
        assert f.read() == before


def test_net_sysctl_without_network_namespace_is_refused(rt, bundle):
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"]
                                            if n["type"] != "network"]
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    r = run_in(rt, bundle, "true")
    assert r.returncode != 0
    assert "net.ipv4.ip_forward" in r.stderr
