"""keel without the new mount API (runtime/mount_compat.h): with open_tree,
move_mount, fsopen, fsconfig, fsmount and mount_setattr answering ENOSYS (as
on kernels before 5.2, or under valgrind 3.19), the classic mount(2) path
must give the very same mount table, and what has no equivalent (idmapped
mounts, recursive attributes over submounts) must be an error naming the
mount.  The ENOSYS comes from an LD_PRELOAD library built here, which
replaces glibc's wrappers of those syscalls."""
import os
import re
import shutil
import subprocess

import pytest

from helpers import Runtime

SHIM = r"""
#include <errno.h>
#define NOSYS(name) int name(void) { errno = ENOSYS; return -1; }
#ifndef ONLY_SETATTR
NOSYS(open_tree) NOSYS(move_mount) NOSYS(fsopen) NOSYS(fsconfig) NOSYS(fsmount) NOSYS(fspick)
#endif
NOSYS(mount_setattr)
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture(scope="module")
def shim(tmp_path_factory, runtime_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the ENOSYS library")
    real = shutil.which(runtime_path) or runtime_path
    version = subprocess.run([real, "--version"], capture_output=True, text=True).stdout
    if not version.startswith("keel"):
        pytest.skip("keel's fallback: %s is another runtime" % real)
    with open(real, "rb") as f:
        if b"ld-linux" not in f.read(1 << 16):
            pytest.skip("%s is statically linked: LD_PRELOAD cannot reach it" % real)
    if subprocess.run(["grep", "-q", "__asan_init", real]).returncode == 0:
        pytest.skip("%s is built with ASan, which must be the first preloaded library" % real)
    d = tmp_path_factory.mktemp("nomountapi")
    src = d / "nomountapi.c"
    src.write_text(SHIM)
    libs = {}
    for kind, defs in (("all", []), ("setattr", ["-DONLY_SETATTR"])):
        libs[kind] = str(d / ("nomountapi-%s.so" % kind))
        subprocess.run([cc, "-shared", "-fPIC", *defs, "-o", libs[kind], str(src)], check=True)
    return libs


# "all": no new mount API at all (valgrind, Linux < 5.2); "setattr": open_tree
# and move_mount but no mount_setattr (Linux 5.2 to 5.11).
@pytest.fixture(params=["all", "setattr"])
def compat_rt(runtime_path, tmp_path, shim, request):
    """The runtime under test, run with an ENOSYS library preloaded."""
    wrapper = tmp_path / "keel-compat"
    wrapper.write_text('#!/bin/sh\nLD_PRELOAD=%s exec %s "$@"\n' % (shim[request.param], runtime_path))
    wrapper.chmod(0o755)
    root = tmp_path / "compat-state"
    root.mkdir()
    r = Runtime(str(wrapper), str(root))
    yield r
    r.cleanup()


def add_mount(bundle, dest, typ, src, options):
    bundle.config["mounts"].append({"destination": dest, "type": typ, "source": src, "options": options})


def mount_table(r, bundle, cid):
    """mountinfo without what differs from run to run (ids, device numbers)."""
    res = r.run("run", "--bundle", bundle.path, cid, timeout=60)
    assert res.returncode == 0, res.stderr
    rows = []
    for line in res.stdout.splitlines():
        f = line.split()
        sep = f.index("-")
        # root, mount point, mount options, optional fields, fstype, source, super options
        rows.append(" ".join([f[3], f[4], f[5]] + [re.sub(r":\d+", ":N", x) for x in f[6:sep]] + f[sep + 1:]))
    return rows


def test_classic_path_gives_the_same_mount_table(rt, compat_rt, bundle, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "file").write_text("x\n")
    os.makedirs(os.path.join(bundle.rootfs, "srv"), exist_ok=True)
    with open(os.path.join(bundle.rootfs, "srv", "kept"), "w") as f:
        f.write("kept\n")
    add_mount(bundle, "/ro", "bind", str(src), ["bind", "ro", "nosuid", "nodev", "noexec", "noatime"])
    add_mount(bundle, "/rw", "bind", str(src), ["rbind", "rw", "rprivate"])
    add_mount(bundle, "/one", "bind", str(src / "file"), ["bind", "ro"])
    add_mount(bundle, "/srv", "tmpfs", "tmpfs", ["tmpcopyup", "mode=755", "nosuid"])
    add_mount(bundle, "/shared", "tmpfs", "tmpfs", ["shared", "strictatime"])
    add_mount(bundle, "/flat", "bind", str(src), ["rbind", "rro", "rnosuid"])
    bundle.config["linux"]["rootfsPropagation"] = "slave"
    bundle.config["process"]["args"] = ["cat", "/proc/self/mountinfo"]
    bundle.write()
    native = mount_table(rt, bundle, "mc")
    compat = mount_table(compat_rt, bundle, "mc")
    assert compat == native
    assert any(" /srv " in row for row in compat)


def test_tmpcopyup_content_through_the_classic_path(compat_rt, bundle):
    os.makedirs(os.path.join(bundle.rootfs, "srv", "d"), exist_ok=True)
    with open(os.path.join(bundle.rootfs, "srv", "d", "kept"), "w") as f:
        f.write("kept\n")
    add_mount(bundle, "/srv", "tmpfs", "tmpfs", ["tmpcopyup", "ro"])
    bundle.set_args("sh", "-c", "cat /srv/d/kept; touch /srv/new 2>/dev/null && echo writable; true")
    r = compat_rt.run("run", "--bundle", bundle.path, "c1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "kept\n"


def test_recursive_attributes_over_submounts_name_the_mount(compat_rt, bundle, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(src / "sub")], check=True)
    try:
        add_mount(bundle, "/rro", "bind", str(src), ["rbind", "rro"])
        bundle.set_args("true")
        r = compat_rt.run("run", "--bundle", bundle.path, "c2")
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)
    assert r.returncode != 0
    assert '"/rro"' in r.stderr and "mount_setattr" in r.stderr, r.stderr


def test_idmapped_mount_names_the_mount(compat_rt, bundle, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    bundle.config["mounts"].append({"destination": "/data", "type": "bind", "source": str(src),
                                    "options": ["bind", "idmap"],
                                    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                                    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]})
    bundle.set_args("true")
    r = compat_rt.run("run", "--bundle", bundle.path, "c3")
    assert r.returncode != 0
    assert "/data" in r.stderr and "idmapped mounts need" in r.stderr, r.stderr
