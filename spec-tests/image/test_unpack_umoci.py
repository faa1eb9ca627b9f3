"""The same rootfs as umoci: for each test image, hoist's rootfs and
`umoci unpack`'s must not differ in paths, types, modes, owners, sizes,
link targets, device numbers, hardlink groups, xattrs or content."""
import os
import shutil
import subprocess
import time

import pytest

import layers as L
from test_unpack import BASE

UMOCI = shutil.which("umoci")

IMAGES = {
    "base": [BASE],
    "whiteouts": [
        [L.dir("a"), L.file("a/keep", "k"), L.file("a/gone", "g"), L.dir("a/sub"), L.file("a/sub/x", "x"),
         L.dir("o"), L.file("o/old", "1"), L.dir("o/d"), L.file("o/d/old2", "2")],
        [L.whiteout("a/gone"), L.whiteout("a/sub"), L.opaque("o"), L.file("o/new", "n")],
        [L.file("a/gone", "back"), L.dir("a/sub", mode=0o700)],
    ],
    "replacements": [
        [L.dir("d"), L.file("d/f", "f"), L.file("f", "f"), L.symlink("s", "f"), L.file("h1", "h"),
         L.hardlink("h2", "h1")],
        [L.file("d", "now a file"), L.dir("f", mode=0o711), L.file("s", "file over link"),
         L.file("h1", "new h1"), L.hardlink("h3", "h2")],
    ],
    "deep-and-many": [
        [L.file("x/%d/y/%d" % (i % 7, i), os.urandom(i * 13)) for i in range(300)],
        [L.whiteout("x/3"), L.file("x/3", "file now")] + [L.file("z/%d" % i, "z", mode=0o600, uid=i)
                                                          for i in range(50)],
    ],
    "special-modes": [
        [L.dir("sticky", mode=0o1777), L.dir("sgid", mode=0o2775, gid=50), L.file("sgid/f", "f", gid=50),
         L.file("suid", "s", mode=0o4711), L.dir("none", mode=0o000), L.file("wo", "w", mode=0o200)],
    ],
}


def host_tree_layer(paths):
    """A layer of real host files (tzdata has symlinks and hardlinks)."""
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for p in paths:
            if os.path.exists(p):
                t.add(p, arcname=p.lstrip("/"))
    return buf.getvalue()


def sparse_layer():
    """A sparse file as GNU tar writes it (pax sparse 1.0): holes, data at the end."""
    import tempfile
    d = tempfile.mkdtemp()
    try:
        with open(os.path.join(d, "sparse"), "wb") as f:
            f.write(b"head")
            f.seek(5 << 20)
            f.write(b"middle")
            f.truncate(9 << 20)
        return subprocess.run(["tar", "--sparse", "--format=pax", "--numeric-owner", "-C", d, "-cf", "-", "sparse"],
                              check=True, capture_output=True).stdout
    finally:
        shutil.rmtree(d)


IMAGES["sparse"] = [sparse_layer()]
IMAGES["host-tree"] = [host_tree_layer(["/usr/share/zoneinfo", "/usr/share/doc/tar"]),
                       [L.whiteout("usr/share/zoneinfo/Europe"), L.opaque("usr/share/zoneinfo/America")]]


@pytest.mark.skipif(UMOCI is None, reason="umoci is not installed")
@pytest.mark.parametrize("name", sorted(IMAGES))
@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_same_rootfs_as_umoci(unpacker, name, compression):
    u = unpacker
    ref = u.image(IMAGES[name], compression=compression, refs=("localhost/cmp:1", "cmp"))
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr
    ubundle = str(u.tmp / "umoci-bundle")
    ur = subprocess.run([UMOCI, "unpack", "--image", u.store + ":cmp", ubundle], capture_output=True, text=True)
    assert ur.returncode == 0, ur.stderr
    mine, mine_links = L.tree(u.rootfs())
    theirs, their_links = L.tree(os.path.join(ubundle, "rootfs"))
    assert sorted(mine) == sorted(theirs)
    diffs = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}
    assert diffs == {}
    assert mine_links == their_links
    # mtimes too, except directories the image only implies (both tools give them the current time)
    recent = time.time() - 3600
    mt = {}
    for rel in mine:
        a = os.lstat(os.path.join(u.rootfs(), rel)).st_mtime
        b = os.lstat(os.path.join(ubundle, "rootfs", rel)).st_mtime
        if a != b and not (a > recent and b > recent):
            mt[rel] = (a, b)
    assert mt == {}


@pytest.mark.skipif(UMOCI is None, reason="umoci is not installed")
@pytest.mark.parametrize("name", ["base", "special-modes", "replacements", "whiteouts"])
def test_rootless_same_as_umoci(unpacker, name):
    """--rootless against `umoci unpack --rootless`: the same owners recorded
    in user.rootlesscontainers, byte for byte. Two deliberate differences:
    umoci leaves empty files where devices were (hoist leaves nothing, with
    a warning) and hoist keeps u+rwx on directories (see docs/unpack.md)."""
    import stat as st
    u = unpacker
    ref = u.image(IMAGES[name], refs=("localhost/cmp:1", "cmp"))
    r = u.unpack(ref, "--rootless")
    assert r.returncode == 0, r.stderr
    ubundle = str(u.tmp / "umoci-bundle")
    ur = subprocess.run([UMOCI, "unpack", "--rootless", "--image", u.store + ":cmp", ubundle],
                        capture_output=True, text=True)
    assert ur.returncode == 0, ur.stderr
    mine, _ = L.tree(u.rootfs())
    theirs, _ = L.tree(os.path.join(ubundle, "rootfs"))
    devices = {k for k in theirs if k not in mine and ur.stderr.count("rootless{%s}" % k)}
    assert set(theirs) - devices == set(mine)
    diffs = {}
    for k in mine:
        a, b = list(mine[k]), list(theirs[k])
        if st.S_ISDIR(b[0]):
            b[1] |= 0o700
        if a != b:
            diffs[k] = (a, b)
    assert diffs == {}


@pytest.mark.skipif(UMOCI is None, reason="umoci is not installed")
def test_non_ascii_names_same_as_umoci(unpacker):
    """UTF-8 names (pax), a hardlink and a symlink to them, and a raw
    latin-1 name (GNU header): the same bytes as umoci, and no warnings."""
    import io
    import tarfile
    u = unpacker
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding="latin-1",
                      errors="surrogateescape") as t:
        ti = tarfile.TarInfo("raw-caf\xe9")
        ti.size = 1
        t.addfile(ti, io.BytesIO(b"r"))
    ref = u.image([[L.file("café", "c"), L.symlink("lien-é", "café"), L.hardlink("dur-é", "café"),
                    L.file("日本/語", "j")], buf.getvalue()], refs=("localhost/cmp:1", "cmp"))
    r = u.unpack(ref)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    ubundle = str(u.tmp / "umoci-bundle")
    ur = subprocess.run([UMOCI, "unpack", "--image", u.store + ":cmp", ubundle], capture_output=True, text=True)
    assert ur.returncode == 0, ur.stderr
    mine, mine_links = L.tree(u.rootfs())
    theirs, their_links = L.tree(os.path.join(ubundle, "rootfs"))
    assert mine == theirs and mine_links == their_links
    assert len(mine_links) == 1
