"""/dev of a container: the default nodes, the links, linux.devices, and a
/dev bound from the host.  Runs against keel and runc alike."""
import os

import pytest

from mount_util import add_mount, run_in, run_ok, needs_run  # noqa: F401

pytestmark = pytest.mark.usefixtures("needs_run")

DEFAULT_NODES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9),
                 "tty": (5, 0)}


def stat_nodes(rt, bundle, paths, cid="dev"):
    # type, major, minor (hex), mode, uid, gid per path
    script = "; ".join("stat -c '%%n %%F %%t %%T %%a %%u %%g' %s" % p for p in paths)
    out = run_ok(rt, bundle, script, cid=cid)
    res = {}
    for line in out.splitlines():
        f = line.rsplit(" ", 5)
        name, ftype = f[0].split(" ", 1)
        res[name] = {"type": ftype, "major": int(f[1], 16), "minor": int(f[2], 16), "mode": f[3],
                     "uid": int(f[4]), "gid": int(f[5])}
    return res


def test_default_device_nodes(rt, bundle):
    nodes = stat_nodes(rt, bundle, ["/dev/" + n for n in DEFAULT_NODES])
    for name, (maj, mnr) in DEFAULT_NODES.items():
        n = nodes["/dev/" + name]
        assert n["type"] == "character special file", n
        assert (n["major"], n["minor"]) == (maj, mnr)
        assert n["mode"] == "666"
        assert (n["uid"], n["gid"]) == (0, 0)


def test_default_nodes_work(rt, bundle):
    out = run_ok(rt, bundle, "echo x > /dev/null && head -c 4 /dev/zero | wc -c; "
                             "head -c 8 /dev/urandom | wc -c; (echo x > /dev/full) 2>&1; true")
    assert out.split()[:2] == ["4", "8"]
    assert "No space left on device" in out


def test_dev_links(rt, bundle):
    out = run_ok(rt, bundle, "for l in fd stdin stdout stderr ptmx; do echo $l=$(readlink /dev/$l); done")
    assert "fd=/proc/self/fd" in out
    assert "stdin=/proc/self/fd/0" in out
    assert "stdout=/proc/self/fd/1" in out
    assert "stderr=/proc/self/fd/2" in out
    assert "ptmx=pts/ptmx" in out


def test_devpts_is_a_new_instance(rt, bundle):
    out = run_ok(rt, bundle, "ls /dev/pts; stat -c '%t %T' /dev/pts/ptmx")
    assert "ptmx" in out
    assert out.split()[-2:] == ["5", "2"]


def test_linux_devices_created_with_mode_and_owner(rt, bundle):
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o620, "uid": 1000,
         "gid": 1001},
        {"path": "/dev/sub/dir/loopX", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600},
        {"path": "/dev/myfifo", "type": "p"},
    ]
    nodes = stat_nodes(rt, bundle, ["/dev/fuse", "/dev/sub/dir/loopX", "/dev/myfifo"])
    fuse = nodes["/dev/fuse"]
    assert fuse["type"] == "character special file"
    assert (fuse["major"], fuse["minor"]) == (10, 229)
    assert (fuse["mode"], fuse["uid"], fuse["gid"]) == ("620", 1000, 1001)
    loop = nodes["/dev/sub/dir/loopX"]
    assert loop["type"] == "block special file" and (loop["major"], loop["minor"]) == (7, 200)
    assert loop["mode"] == "600"
    assert nodes["/dev/myfifo"]["type"] == "fifo"


def test_linux_devices_override_a_default(rt, bundle):
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o600}]
    assert stat_nodes(rt, bundle, ["/dev/zero"])["/dev/zero"]["mode"] == "600"


def test_devices_without_a_dev_mount_go_into_the_rootfs(rt, bundle):
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if not m["destination"].startswith("/dev")]
    bundle.config["root"]["readonly"] = False
    nodes = stat_nodes(rt, bundle, ["/dev/null", "/dev/zero"])
    assert nodes["/dev/null"]["type"] == "character special file"
    assert os.path.exists(os.path.join(bundle.rootfs, "dev/null"))


def test_dev_bound_from_the_host_gets_no_extra_links(rt, bundle):
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if not m["destination"].startswith("/dev")]
    add_mount(bundle, "/dev", "bind", "/dev", ["rbind", "nosuid"])
    out = run_ok(rt, bundle, "ls /dev; grep ' /dev ' /proc/self/mountinfo")
    assert "devtmpfs" in out or "tmpfs" in out
    assert "null" in out


def test_mknod_is_not_possible_for_the_process(rt, bundle):
    r = run_in(rt, bundle, "mknod /dev/sda8 b 8 8 2>&1 || echo refused")
    assert "refused" in r.stdout or r.returncode != 0


def userns(bundle):
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]


def test_user_namespace_binds_the_host_nodes(rt, bundle):
    """mknod is refused in a user namespace: the host's nodes are bound."""
    userns(bundle)
    bundle.config["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
    if not os.path.exists("/dev/fuse"):
        pytest.skip("the host has no /dev/fuse")
    out = run_ok(rt, bundle, "stat -c '%n %t %T' /dev/null /dev/fuse /dev/tty; echo x > /dev/null && echo ok; "
                             "cat /proc/self/mountinfo")
    assert "/dev/null 1 3" in out and "/dev/fuse a e5" in out and "/dev/tty 5 0" in out
    assert "ok" in out
    mps = [line.split()[4] for line in out.splitlines() if " - " in line]
    assert "/dev/null" in mps and "/dev/fuse" in mps


def test_a_bound_host_node_is_not_chowned(rt, bundle):
    """A config that binds the host's /dev/null over the container's must
    not make the runtime chmod/chown the host's node."""
    before = os.stat("/dev/null")
    add_mount(bundle, "/dev/null", "bind", "/dev/null", ["bind"])
    run_ok(rt, bundle, "echo x > /dev/null")
    after = os.stat("/dev/null")
    assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid, before.st_mode)
