"""User namespaces: a container whose root is an unprivileged host uid
(maps written by the runtime, which runs as root here), what files it
creates and sees, joining a user namespace by path, and the errors for bad
mappings.  Runs against keel and runc (RUNTIME=/usr/sbin/runc)."""
import json
import os
import shutil

import pytest

from hardening_util import chown_tree
from helpers import make_bundle
from lifecycle_util import run_files
from userns_util import make_userns_bundle

HOST_BASE = 100000
SIZE = 65536


@pytest.fixture
def ubundle():
    """A bundle with a new user namespace mapping 0..65535 to 100000..;
    its rootfs owned by the mapped root, under a 0711 directory the mapped
    root can walk through."""
    b = make_userns_bundle("keel-userns-", HOST_BASE, SIZE)
    b.config["root"]["readonly"] = False
    b.write()
    yield b
    shutil.rmtree(b.top, ignore_errors=True)


def host_dir(top, name, uid, gid, mode):
    d = os.path.join(top, name)
    os.mkdir(d)
    os.chown(d, uid, gid)
    os.chmod(d, mode)
    return d


def run_ok(rt, b, script, cid="u"):
    b.set_args("sh", "-c", script)
    r = rt.run("run", "--bundle", b.path, cid)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_container_root_is_an_unprivileged_host_uid(rt, ubundle):
    out = run_ok(rt, ubundle, "id -u; cat /proc/self/uid_map; grep CapEff /proc/self/status")
    lines = out.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", str(HOST_BASE), str(SIZE)]
    # seen from the host, the container's root is uid 100000 with no capability here
    ubundle.set_args("sleep", "30")
    run_files(rt, "run", "-d", "--bundle", ubundle.path, "u2", check=True)
    pid = json.loads(rt.run("state", "u2", check=True).stdout)["pid"]
    with open("/proc/%d/status" % pid) as f:
        status = f.read()
    uids = [l for l in status.splitlines() if l.startswith("Uid:")][0].split()[1:]
    assert uids == [str(HOST_BASE)] * 4
    rt.run("delete", "--force", "u2")


def test_files_created_inside_are_owned_by_the_mapped_host_ids(rt, ubundle):
    shared = host_dir(ubundle.top, "shared", 0, 0, 0o1777)
    ubundle.config["mounts"].append({"destination": "/shared", "type": "bind", "source": shared,
                                     "options": ["rbind"]})
    ubundle.config["process"]["user"] = {"uid": 1000, "gid": 2000}
    run_ok(rt, ubundle, "touch /shared/by-user; mkdir /shared/dir-by-user")
    ubundle.config["process"]["user"] = {"uid": 0, "gid": 0}
    run_ok(rt, ubundle, "touch /shared/by-root /tmp/in-rootfs")
    for name, want in (("by-user", (HOST_BASE + 1000, HOST_BASE + 2000)),
                       ("dir-by-user", (HOST_BASE + 1000, HOST_BASE + 2000)),
                       ("by-root", (HOST_BASE, HOST_BASE))):
        st = os.stat(os.path.join(shared, name))
        assert (st.st_uid, st.st_gid) == want, name
    st = os.stat(os.path.join(ubundle.rootfs, "tmp", "in-rootfs"))
    assert (st.st_uid, st.st_gid) == (HOST_BASE, HOST_BASE)


def test_unmapped_host_files_are_nobody_and_stay_out_of_reach(rt, ubundle):
    """Host root's files show as the overflow id (65534) and the container's
    root cannot change them, although it is root inside."""
    hostroot = host_dir(ubundle.top, "hostroot", 0, 0, 0o755)
    with open(os.path.join(hostroot, "file"), "w") as f:
        f.write("host\n")
    os.chmod(os.path.join(hostroot, "file"), 0o644)
    ubundle.config["mounts"].append({"destination": "/hostroot", "type": "bind", "source": hostroot,
                                     "options": ["rbind"]})
    ubundle.config["process"]["capabilities"] = {k: ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"]
                                                 for k in ("bounding", "effective", "permitted")}
    out = run_ok(rt, ubundle, "exec 2>&1; stat -c '%u:%g' /hostroot/file; echo x >> /hostroot/file; "
                              "chown 0:0 /hostroot/file; touch /hostroot/new; rm -f /hostroot/file; true")
    assert out.splitlines()[0] == "65534:65534", out
    assert open(os.path.join(hostroot, "file")).read() == "host\n"
    assert sorted(os.listdir(hostroot)) == ["file"]
    st = os.stat(os.path.join(hostroot, "file"))
    assert (st.st_uid, st.st_gid) == (0, 0)


def test_several_mapping_ranges(rt, ubundle):
    ubundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": HOST_BASE, "size": 1000},
                                              {"containerID": 1000, "hostID": HOST_BASE + 50000, "size": 1000}]
    ubundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": HOST_BASE, "size": 65536}]
    os.chmod(os.path.join(ubundle.rootfs, "tmp"), 0o1777)
    ubundle.config["process"]["user"] = {"uid": 1500, "gid": 1500}
    out = run_ok(rt, ubundle, "cat /proc/self/uid_map; touch /tmp/f")
    rows = [l.split() for l in out.splitlines()]
    assert ["0", str(HOST_BASE), "1000"] in rows and ["1000", str(HOST_BASE + 50000), "1000"] in rows
    st = os.stat(os.path.join(ubundle.rootfs, "tmp", "f"))
    assert (st.st_uid, st.st_gid) == (HOST_BASE + 50500, HOST_BASE + 1500)


def test_join_user_namespace_by_path(rt, ubundle, tmp_path):
    """A second container joins the first one's user namespace by path
    (with its own mount, pid, ipc, uts namespaces): same mapping, and its
    files are owned by the same host ids."""
    ubundle.set_args("sleep", "60")
    run_files(rt, "run", "-d", "--bundle", ubundle.path, "owner", check=True)
    pid = json.loads(rt.run("state", "owner", check=True).stdout)["pid"]
    b2 = make_bundle(os.path.join(ubundle.top, "b2"))
    os.chmod(b2.path, 0o711)
    chown_tree(b2.rootfs, HOST_BASE, HOST_BASE)
    b2.config["root"]["readonly"] = False
    b2.config["linux"]["namespaces"] = [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"},
                                        {"type": "network", "path": "/proc/%d/ns/net" % pid},
                                        {"type": "user", "path": "/proc/%d/ns/user" % pid}]
    b2.config["mounts"] = [m for m in b2.config["mounts"] if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
    # the mappings of the joined namespace, as containerd writes them (runc 1.1 wants them)
    b2.config["linux"]["uidMappings"] = ubundle.config["linux"]["uidMappings"]
    b2.config["linux"]["gidMappings"] = ubundle.config["linux"]["gidMappings"]
    b2.set_args("sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user; touch /tmp/joined")
    r = rt.run("run", "--bundle", b2.path, "joiner")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", str(HOST_BASE), str(SIZE)]
    assert lines[2] == os.readlink("/proc/%d/ns/user" % pid)
    st = os.stat(os.path.join(b2.rootfs, "tmp", "joined"))
    assert (st.st_uid, st.st_gid) == (HOST_BASE, HOST_BASE)
    rt.run("delete", "--force", "owner")


@pytest.mark.parametrize("case", ["no-mappings", "mappings-without-userns", "overlapping", "zero-size"])
def test_bad_mappings_are_errors(rt, ubundle, case):
    lx = ubundle.config["linux"]
    if case == "no-mappings":
        del lx["uidMappings"]
        del lx["gidMappings"]
    elif case == "mappings-without-userns":
        lx["namespaces"] = [n for n in lx["namespaces"] if n["type"] != "user"]
    elif case == "overlapping":
        lx["uidMappings"] = [{"containerID": 0, "hostID": HOST_BASE, "size": 100},
                             {"containerID": 50, "hostID": HOST_BASE + 500, "size": 100}]
    else:
        lx["uidMappings"] = [{"containerID": 0, "hostID": HOST_BASE, "size": 0}]
    ubundle.set_args("true")
    r = run_files(rt, "create", "--bundle", ubundle.path, "bad")
    if r.returncode == 0 and "runc" in os.path.basename(rt.path) and case == "mappings-without-userns":
        rt.run("delete", "--force", "bad")
        pytest.xfail("runc 1.1 ignores mappings without a user namespace")
    assert r.returncode != 0, case
    if "keel" in os.path.basename(rt.path):
        assert "Mappings" in r.stderr or "user namespace" in r.stderr, r.stderr
    assert rt.list_ids() == []
