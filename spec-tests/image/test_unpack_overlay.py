"""--overlay: layers extracted once into the cache (keyed by ChainID), the
rootfs an overlayfs mount whose merged view equals the plain rootfs."""
import os
import subprocess

import pytest

import layers as L
from test_unpack_umoci import IMAGES


def overlay_ok():
    if os.geteuid() != 0:
        return False
    with open("/proc/filesystems") as f:
        return "\toverlay\n" in f.read()


pytestmark = pytest.mark.skipif(not overlay_ok(), reason="needs root and overlayfs")


def umount(path):
    subprocess.run(["umount", path], stderr=subprocess.DEVNULL)


@pytest.fixture
def overlay_bundles(unpacker):
    made = []
    yield made
    for b in made:
        umount(os.path.join(b, "rootfs"))


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_overlay_view_equals_plain_rootfs(unpacker, overlay_bundles, name):
    u = unpacker
    ref = u.image(IMAGES[name])
    plain = str(u.tmp / "plain")
    r = u.unpack(ref, bundle=plain)
    assert r.returncode == 0, r.stderr
    ov = str(u.tmp / "ov")
    overlay_bundles.append(ov)
    r = u.unpack(ref, "--overlay", bundle=ov)
    assert r.returncode == 0, r.stderr
    mine, _ = L.tree(os.path.join(ov, "rootfs"))
    theirs, _ = L.tree(os.path.join(plain, "rootfs"))
    assert sorted(mine) == sorted(theirs)
    diffs = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}
    assert diffs == {}
    assert open(os.path.join(ov, "config.json")).read() == open(os.path.join(plain, "config.json")).read()


def test_second_bundle_reuses_the_cache(unpacker, overlay_bundles):
    u = unpacker
    ref = u.image([[L.file("a/%d" % i, os.urandom(1000)) for i in range(500)], [L.file("b", "b")]])
    first, second = str(u.tmp / "b1"), str(u.tmp / "b2")
    overlay_bundles += [first, second]
    assert u.unpack(ref, "--overlay", bundle=first).returncode == 0
    cache = os.path.join(u.store, "overlay", "layers")
    entries = sorted(os.listdir(cache))
    assert len(entries) == 2
    r = u.unpack(ref, "--overlay", bundle=second)
    assert r.returncode == 0, r.stderr
    # No extraction: the same entries, untouched (speed is measured in bench/).
    assert sorted(os.listdir(cache)) == entries
    # Writes go to the bundle's own upper directory, never to the cache.
    with open(os.path.join(second, "rootfs", "b"), "w") as f:
        f.write("changed")
    assert open(os.path.join(first, "rootfs", "b")).read() == "b"
    assert os.path.exists(os.path.join(second, "overlay", "upper", "b"))


def test_overlay_whiteouts_are_overlayfs_whiteouts(unpacker, overlay_bundles):
    u = unpacker
    ref = u.image([[L.dir("d"), L.file("d/x", "x"), L.file("gone", "g")],
                   [L.whiteout("gone"), L.opaque("d"), L.file("d/y", "y")]])
    ov = str(u.tmp / "ov")
    overlay_bundles.append(ov)
    r = u.unpack(ref, "--overlay", bundle=ov)
    assert r.returncode == 0, r.stderr
    cache = os.path.join(u.store, "overlay", "layers")
    top = [e for e in os.listdir(cache) if os.path.exists(os.path.join(cache, e, "gone"))][0]
    st = os.lstat(os.path.join(cache, top, "gone"))
    assert os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0
    assert os.getxattr(os.path.join(cache, top, "d"), "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(os.path.join(ov, "rootfs"))) == ["d"]
    assert os.listdir(os.path.join(ov, "rootfs", "d")) == ["y"]


def test_overlay_failure_leaves_no_bundle_and_no_cache_entry(unpacker):
    u = unpacker
    ref = u.image([[L.file("ok", "x")], [L.file("../evil", "x")]])
    r = u.unpack(ref, "--overlay")
    assert r.returncode != 0 and "entry `../evil`" in r.stderr
    assert not os.path.exists(u.bundle)
    assert len(os.listdir(os.path.join(u.store, "overlay", "layers"))) == 1  # the good lower layer only
    assert os.listdir(os.path.join(u.store, "overlay", "tmp")) == []


@pytest.mark.parametrize("args", [["--overlay", "--rootless"], ["--overlay", "--uid-map", "0:1000:10"],
                                  ["--overlay=maybe"]])
def test_overlay_refuses_what_it_cannot_do(unpacker, args):
    u = unpacker
    ref = u.image([[L.file("a", "x")]])
    r = u.unpack(ref, *args)
    assert r.returncode != 0 and "--overlay" in r.stderr, r.stderr
    assert not os.path.exists(u.bundle)


def test_overlay_false_is_a_plain_copy(unpacker):
    u = unpacker
    ref = u.image([[L.file("a", "x")]])
    r = u.unpack(ref, "--overlay=false")
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(u.store, "overlay"))
    assert not os.path.ismount(u.rootfs())


def test_overlay_xattrs_from_layers_are_ignored(unpacker, overlay_bundles):
    u = unpacker
    ref = u.image([[L.dir("d"), L.file("d/x", "x")],
                   [L.dir("d", xattrs={"trusted.overlay.opaque": "y"}), L.file("d/y", "y"),
                    L.file("f", "f", xattrs={"trusted.overlay.redirect": "/d"})]])
    ov = str(u.tmp / "ov")
    overlay_bundles.append(ov)
    r = u.unpack(ref, "--overlay", bundle=ov)
    assert r.returncode == 0, r.stderr
    assert "trusted.overlay.opaque ignored" in r.stderr
    assert sorted(os.listdir(os.path.join(ov, "rootfs", "d"))) == ["x", "y"]
    r = u.unpack(ref, bundle=str(u.tmp / "plain"))
    assert r.returncode == 0, r.stderr
    with pytest.raises(OSError):
        os.getxattr(str(u.tmp / "plain" / "rootfs" / "f"), "trusted.overlay.redirect")


def test_concurrent_fills_of_one_cache(unpacker, overlay_bundles):
    """Four hoists filling the same cache entries at once all succeed and
    end with one entry per layer and no temp directories."""
    u = unpacker
    ref = u.image([[L.file("a/%d" % i, os.urandom(2000)) for i in range(800)],
                   [L.file("b/%d" % i, os.urandom(2000)) for i in range(800)]])
    bundles = [str(u.tmp / ("c%d" % i)) for i in range(4)]
    overlay_bundles += bundles
    procs = [subprocess.Popen([u.hoist, "--store", u.store, "unpack", "--overlay", ref, b],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for b in bundles]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert len(os.listdir(os.path.join(u.store, "overlay", "layers"))) == 2
    assert os.listdir(os.path.join(u.store, "overlay", "tmp")) == []
    for b in bundles:
        assert len(os.listdir(os.path.join(b, "rootfs", "a"))) == 800
        assert len(os.listdir(os.path.join(b, "rootfs", "b"))) == 800


def test_gc_removes_cache_entries_no_image_needs(unpacker, overlay_bundles):
    """hoist gc drops the cache entries of removed images, but keeps those a
    stored image needs and those a mounted bundle still uses."""
    u = unpacker
    kept = u.image([[L.file("k", "kept")]], refs=("localhost/gc-kept:1",))
    gone = u.image([[L.file("g", "gone")]], refs=("localhost/gc-gone:1",))
    mounted = u.image([[L.file("m", "mounted")]], refs=("localhost/gc-mounted:1",))
    bundles = {ref: str(u.tmp / ("b%d" % i)) for i, ref in enumerate((kept, gone, mounted))}
    for ref, b in bundles.items():
        overlay_bundles.append(b)
        r = u.unpack(ref, "--overlay", bundle=b)
        assert r.returncode == 0, r.stderr
    cache = os.path.join(u.store, "overlay", "layers")
    assert len(os.listdir(cache)) == 3
    umount(os.path.join(bundles[kept], "rootfs"))
    umount(os.path.join(bundles[gone], "rootfs"))

    def hoist(*args):
        return subprocess.run([u.hoist, "--store", u.store, *args], capture_output=True, text=True, timeout=60)

    for ref in (gone, mounted):
        r = hoist("rm", ref)
        assert r.returncode == 0, r.stderr
    r = hoist("gc")
    assert r.returncode == 0, r.stderr
    left = os.listdir(cache)
    # kept: its image is stored; mounted: its overlay is still mounted.
    assert len(left) == 2, (left, r.stdout)
    assert "cache entr" in r.stdout
    with open(os.path.join(bundles[mounted], "rootfs", "m")) as f:
        assert f.read() == "mounted"
