"""Idmapped bind mounts: the `idmap` and `ridmap` options (the container's
user namespace mapping) and per-mount uidMappings/gidMappings, on tmpfs and
ext4; an error naming the mount where the filesystem cannot do it.
runc 1.1 has no idmapped mounts: the tests skip there."""
import os
import shutil
import subprocess

import pytest

from helpers import make_bundle
from mount_util import HostMount, skip_if_runc_older
from userns_util import make_userns_bundle

HOST_BASE = 100000
SIZE = 65536


@pytest.fixture
def ubundle(rt):
    skip_if_runc_older(rt, (1, 2, 0), "has no idmapped mounts")
    b = make_userns_bundle("keel-idmap-", HOST_BASE, SIZE)
    b.write()
    yield b
    shutil.rmtree(b.top, ignore_errors=True)


def fill(src):
    """Files owned by host root and by host uid/gid 1000:1000 (not mapped in
    the container's user namespace, which starts at 100000)."""
    os.makedirs(src, exist_ok=True)
    os.chmod(src, 0o777)
    for name, owner in (("by-root", (0, 0)), ("by-1000", (1000, 1000))):
        p = os.path.join(src, name)
        with open(p, "w") as f:
            f.write(name + "\n")
        os.chown(p, *owner)


def run(rt, b, script, cid="idm"):
    b.set_args("sh", "-c", script)
    return rt.run("run", "--bundle", b.path, cid)


def owners(text):
    return dict(line.split(" ", 1) for line in text.splitlines() if line.startswith("/"))


@pytest.mark.parametrize("fs", ["tmpfs", "ext4"])
def test_idmap_shows_host_files_as_mapped(rt, ubundle, fs, tmp_path):
    src = os.path.join(ubundle.top, "src")
    os.makedirs(src)
    if fs == "tmpfs":
        ctx = HostMount(src)
    else:
        ctx = Ext4(src, ubundle.top)
    with ctx:
        fill(src)
        ubundle.config["mounts"].append({"destination": "/data", "type": "bind", "source": src,
                                         "options": ["bind", "idmap"]})
        # plain bind of the same directory, for comparison
        ubundle.config["mounts"].append({"destination": "/plain", "type": "bind", "source": src,
                                         "options": ["bind"]})
        r = run(rt, ubundle, "stat -c '%n %u:%g' /data/by-root /data/by-1000 /plain/by-root; "
                             "touch /data/made-inside; echo x >> /data/by-root && echo appended")
        assert r.returncode == 0, r.stderr
        o = owners(r.stdout)
        assert o["/data/by-root"] == "0:0", r.stdout
        assert o["/data/by-1000"] == "1000:1000", r.stdout
        assert o["/plain/by-root"] == "65534:65534", r.stdout
        assert "appended" in r.stdout  # root inside owns host root's file through the mapping
        # what the container's root creates lands on disk as host root
        st = os.stat(os.path.join(src, "made-inside"))
        assert (st.st_uid, st.st_gid) == (0, 0)


def test_per_mount_mappings(rt, ubundle):
    src = os.path.join(ubundle.top, "src")
    with HostMount(src):
        fill(src)
        # on-disk 1000 -> container 0 (host 100000 seen from outside)
        ubundle.config["mounts"].append({
            "destination": "/data", "type": "bind", "source": src, "options": ["bind"],
            "uidMappings": [{"containerID": 1000, "hostID": HOST_BASE, "size": 10}],
            "gidMappings": [{"containerID": 1000, "hostID": HOST_BASE, "size": 10}]})
        r = run(rt, ubundle, "stat -c '%n %u:%g' /data/by-root /data/by-1000")
        assert r.returncode == 0, r.stderr
        o = owners(r.stdout)
        assert o["/data/by-1000"] == "0:0", r.stdout
        assert o["/data/by-root"] == "65534:65534", r.stdout


def test_idmap_is_not_recursive_but_ridmap_is(rt, ubundle):
    src = os.path.join(ubundle.top, "src")
    os.makedirs(src)
    with HostMount(src):
        fill(src)
        sub = os.path.join(src, "sub")
        os.makedirs(sub)
        with HostMount(sub):
            fill(sub)
            ubundle.config["mounts"].append({"destination": "/flat", "type": "bind", "source": src,
                                             "options": ["rbind", "idmap"]})
            ubundle.config["mounts"].append({"destination": "/deep", "type": "bind", "source": src,
                                             "options": ["rbind", "ridmap"]})
            r = run(rt, ubundle, "stat -c '%n %u:%g' /flat/by-root /flat/sub/by-root /deep/by-root "
                                 "/deep/sub/by-root")
            assert r.returncode == 0, r.stderr
            o = owners(r.stdout)
            assert o["/flat/by-root"] == "0:0" and o["/deep/by-root"] == "0:0", r.stdout
            assert o["/flat/sub/by-root"] == "65534:65534", r.stdout
            assert o["/deep/sub/by-root"] == "0:0", r.stdout


def test_idmap_on_a_filesystem_without_support_names_the_mount(rt, ubundle):
    ubundle.config["mounts"].append({"destination": "/kdata", "type": "bind", "source": "/sys/kernel/mm",
                                     "options": ["rbind", "idmap"]})
    r = run(rt, ubundle, "true")
    assert r.returncode != 0
    assert "/kdata" in r.stderr, r.stderr
    assert "not support" in r.stderr, r.stderr
    assert rt.list_ids() == []


def test_idmap_without_any_mapping_is_an_error(rt, tmp_path):
    skip_if_runc_older(rt, (1, 2, 0), "has no idmapped mounts")
    b = make_bundle(tmp_path / "b")
    src = tmp_path / "src"
    src.mkdir()
    b.config["mounts"].append({"destination": "/data", "type": "bind", "source": str(src),
                               "options": ["bind", "idmap"]})
    b.set_args("true")
    r = rt.run("run", "--bundle", b.path, "nomap")
    assert r.returncode != 0
    assert "/data" in r.stderr
    assert rt.list_ids() == []


def test_idmap_on_a_tmpfs_mount_is_refused(rt, ubundle):
    ubundle.config["mounts"].append({"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                                     "options": ["idmap"]})
    r = run(rt, ubundle, "true")
    assert r.returncode != 0
    assert "/t" in r.stderr


class Ext4:
    """A small ext4 image loop-mounted on the host at `path`."""

    def __init__(self, path, top):
        self.path = path
        self.image = os.path.join(top, "ext4.img")

    def __enter__(self):
        if not shutil.which("mkfs.ext4"):
            pytest.skip("mkfs.ext4 (e2fsprogs) is not installed")
        with open(self.image, "wb") as f:
            f.truncate(16 << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", self.image], check=True)
        r = subprocess.run(["mount", "-o", "loop", self.image, self.path])
        if r.returncode != 0:
            pytest.skip("cannot loop-mount an ext4 image here")
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", self.path])
        os.unlink(self.image)
