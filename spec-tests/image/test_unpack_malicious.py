"""A corpus of malicious layers: every one is refused with an error naming
the layer (and the entry where there is one), the bundle is removed, and
nothing outside the rootfs changes (a canary directory beside the bundle,
reachable through absolute and relative names, is compared before/after)."""
import gzip
import os

import pytest

import layers as L


def C(u, rel=""):
    """The canary's host path (absolute, as an attacker would aim at it)."""
    return os.path.join(u.canary, rel)


# Each case: (id, function(unpacker) -> list of layers, entry named in the error or None)
CASES = [
    ("dotdot-name", lambda u: [[L.file("../canary/pwned", "x")]], "../canary/pwned"),
    ("dotdot-deep", lambda u: [[L.file("a/b/../../../canary/pwned", "x")]], "a/b/../../../canary/pwned"),
    ("dotdot-dot-prefix", lambda u: [[L.file("./../canary/pwned", "x")]], "./../canary/pwned"),
    ("dotdot-only", lambda u: [[L.dir("..")]], "../"),
    ("dotdot-trailing", lambda u: [[L.dir("a/..")]], "a/../"),
    ("absolute-name", lambda u: [[L.file(C(u, "pwned"), "x")]], lambda u: C(u, "pwned")),
    ("absolute-dir", lambda u: [[L.dir(C(u, "newdir"))]], lambda u: C(u, "newdir/")),
    ("symlink-abs-then-write", lambda u: [[L.symlink("evil", u.canary), L.file("evil/pwned", "x")]],
     "evil/pwned"),
    ("symlink-rel-then-write", lambda u: [[L.symlink("evil", "../../canary"), L.file("evil/pwned", "x")]],
     "evil/pwned"),
    ("symlink-earlier-layer", lambda u: [[L.symlink("evil", u.canary)], [L.file("evil/pwned", "x")]],
     "evil/pwned"),
    ("symlink-overwrite-existing", lambda u: [[L.symlink("evil", u.canary), L.file("evil/file", "owned")]],
     "evil/file"),
    ("symlink-chain", lambda u: [[L.symlink("a", "b"), L.symlink("b", u.canary), L.file("a/pwned", "x")]],
     "a/pwned"),
    ("symlink-to-root", lambda u: [[L.symlink("r", "/"), L.file("r" + C(u, "pwned"), "x")]],
     lambda u: "r" + C(u, "pwned")),
    ("symlink-in-middle", lambda u: [[L.dir("d"), L.symlink("d/s", "../../../canary"),
                                      L.file("d/s/sub/pwned", "x")]], "d/s/sub/pwned"),
    ("symlink-then-mkdir", lambda u: [[L.symlink("evil", u.canary), L.dir("evil/newdir")]], "evil/newdir/"),
    ("symlink-then-symlink", lambda u: [[L.symlink("evil", u.canary), L.symlink("evil/l", "/x")]], "evil/l"),
    ("symlink-then-fifo", lambda u: [[L.symlink("evil", u.canary), L.fifo("evil/fifo")]], "evil/fifo"),
    ("symlink-then-device", lambda u: [[L.symlink("evil", u.canary), L.chardev("evil/null", 1, 3)]],
     "evil/null"),
    ("hardlink-dotdot", lambda u: [[L.hardlink("h", "../canary/file")]], "h"),
    ("hardlink-absolute", lambda u: [[L.hardlink("h", C(u, "file"))]], "h"),
    ("hardlink-through-symlink", lambda u: [[L.symlink("s", u.canary), L.hardlink("h", "s/file")]], "h"),
    ("hardlink-through-earlier-symlink", lambda u: [[L.symlink("s", "../../canary")],
                                                    [L.hardlink("h", "s/file")]], "h"),
    ("hardlink-name-through-symlink", lambda u: [[L.file("f", "x"), L.symlink("s", u.canary),
                                                  L.hardlink("s/h", "f")]], "s/h"),
    ("hardlink-to-directory", lambda u: [[L.dir("etc"), L.hardlink("h", "etc")]], "h"),
    ("hardlink-missing-target", lambda u: [[L.hardlink("h", "nothing")]], "h"),
    ("hardlink-to-itself", lambda u: [[L.hardlink("h", "h")]], "h"),
    ("whiteout-dotdot", lambda u: [[L.file(".wh..."), ]], ".wh..."),
    ("whiteout-dotdot-nested", lambda u: [[L.dir("a"), L.file("a/.wh...")]], "a/.wh..."),
    ("whiteout-dot", lambda u: [[L.dir("a"), L.file("a/.wh..")]], "a/.wh.."),
    ("whiteout-empty", lambda u: [[L.file(".wh.")]], ".wh."),
    ("whiteout-through-symlink", lambda u: [[L.symlink("s", u.canary)], [L.file("s/.wh.file")]], "s/.wh.file"),
    ("opaque-through-symlink", lambda u: [[L.symlink("s", u.canary)], [L.file("s/.wh..wh..opq")]],
     "s/.wh..wh..opq"),
    ("whiteout-absolute", lambda u: [[L.file(C(u, ".wh.file"))]], lambda u: C(u, ".wh.file")),
    ("whiteout-dotdot-path", lambda u: [[L.file("../canary/.wh.file")]], "../canary/.wh.file"),
    ("whiteout-as-directory", lambda u: [[L.dir(".wh.x")]], ".wh.x/"),
    ("root-as-file", lambda u: [[L.file(".", "x")]], "."),
    ("huge-declared-size", lambda u: [[L.file("big", b"x" * 10, size=1 << 40)]], "big"),
    ("size-lie-truncated", lambda u: [[L.file("short", b"x" * 10, size=50000)]], None),
    ("long-name", lambda u: [[L.file("a/" * 2100 + "f", "x")]], None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malicious_layer_refused(unpacker, case):
    _, make, entry = case
    u = unpacker
    before = L.snapshot(u.canary)
    ref = u.image(make(u))
    r = u.unpack(ref)
    assert r.returncode != 0, "accepted: " + r.stderr
    assert "layer sha256:" in r.stderr, r.stderr
    if callable(entry):
        entry = entry(u)
    if entry is not None:
        assert "entry `%s`" % entry in r.stderr, r.stderr
    assert not os.path.exists(u.bundle), "the bundle was left behind"
    assert L.snapshot(u.canary) == before, "something outside the rootfs changed"


def _bomb_entries(u):
    return [[L.file("f%d" % i, "x") for i in range(200)]]


LIMIT_CASES = [
    ("entry-count-bomb", _bomb_entries, ["--max-layer-entries", "100"], "more than 100 entries"),
    ("size-bomb", lambda u: [[L.file("a", b"x" * 4000), L.file("b", b"y" * 4000)]],
     ["--max-layer-size", "6000"], "limit of 6000 bytes"),
]


@pytest.mark.parametrize("case", LIMIT_CASES, ids=[c[0] for c in LIMIT_CASES])
def test_layer_bomb_limits(unpacker, case):
    _, make, args, msg = case
    u = unpacker
    ref = u.image(make(u))
    r = u.unpack(ref, *args)
    assert r.returncode != 0
    assert msg in r.stderr and "layer sha256:" in r.stderr, r.stderr
    assert not os.path.exists(u.bundle)
    # Within the limit the same image unpacks.
    assert u.unpack(ref).returncode == 0


def _corrupt_blob(u, ref_index, layer_index, mutate):
    import json
    idx = json.load(open(os.path.join(u.store, "index.json")))
    mdigest = idx["manifests"][ref_index]["digest"].split(":")[1]
    manifest = json.load(open(os.path.join(u.store, "blobs", "sha256", mdigest)))
    d = manifest["layers"][layer_index]["digest"]
    path = os.path.join(u.store, "blobs", "sha256", d.split(":")[1])
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(mutate(data))
    return d


def test_diffid_mismatch_refused(unpacker):
    u = unpacker
    bogus = L.sha256(b"something else")
    ref = u.image([[L.file("a", "x")]], diff_ids=[bogus])
    r = u.unpack(ref)
    assert r.returncode != 0 and "diffID mismatch" in r.stderr and bogus in r.stderr, r.stderr
    assert not os.path.exists(u.bundle)


def test_blob_digest_mismatch_refused(unpacker):
    u = unpacker
    ref = u.image([[L.file("a", "x" * 100)]], compression="none")
    d = _corrupt_blob(u, -1, 0, lambda b: b.replace(b"x" * 100, b"y" * 100))
    r = u.unpack(ref)
    assert r.returncode != 0 and "layer %s" % d in r.stderr and "mismatch" in r.stderr, r.stderr
    assert not os.path.exists(u.bundle)


def test_truncated_gzip_refused(unpacker):
    u = unpacker
    ref = u.image([[L.file("a", os.urandom(100000))]])
    d = _corrupt_blob(u, -1, 0, lambda b: b[: len(b) // 2])
    r = u.unpack(ref)
    assert r.returncode != 0 and "layer %s" % d in r.stderr, r.stderr
    assert not os.path.exists(u.bundle)


@pytest.mark.parametrize("media,compression", [(L.MEDIA_GZIP, "none"), (L.MEDIA_TAR, "gzip"),
                                               (L.MEDIA_ZSTD, "gzip")])
def test_media_type_must_match_magic(unpacker, media, compression):
    u = unpacker
    ref = u.image([[L.file("a", "x")]], compression=compression, media_types=[media])
    r = u.unpack(ref)
    assert r.returncode != 0 and "magic" in r.stderr or "compressed" in r.stderr, r.stderr
    assert "layer sha256:" in r.stderr
    assert not os.path.exists(u.bundle)


def test_unknown_media_type_refused(unpacker):
    u = unpacker
    ref = u.image([[L.file("a", "x")]], media_types=["application/x-foreign"])
    r = u.unpack(ref)
    assert r.returncode != 0, r.stderr
    assert not os.path.exists(u.bundle)


# Cases that are not attacks when handled right: they must succeed, land
# inside the rootfs and leave the canary alone.
def test_symlink_replaced_by_directory_then_written(unpacker):
    u = unpacker
    before = L.snapshot(u.canary)
    ref = u.image([[L.symlink("d", u.canary)], [L.dir("d"), L.file("d/file", "inside")]])
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr
    d = os.path.join(u.rootfs(), "d")
    assert os.path.isdir(d) and not os.path.islink(d)
    assert open(os.path.join(d, "file")).read() == "inside"
    assert L.snapshot(u.canary) == before


def test_file_over_symlink_replaces_the_link(unpacker):
    u = unpacker
    before = L.snapshot(u.canary)
    ref = u.image([[L.symlink("f", C(u, "file"))], [L.file("f", "inside")]])
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr
    f = os.path.join(u.rootfs(), "f")
    assert not os.path.islink(f) and open(f).read() == "inside"
    assert L.snapshot(u.canary) == before


def test_symlinks_pointing_out_are_stored_not_followed(unpacker):
    u = unpacker
    before = L.snapshot(u.canary)
    ref = u.image([[L.symlink("abs", u.canary), L.symlink("rel", "../../../../canary/file"),
                    L.file("x", "1"), L.hardlink("y", "x")]])
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr
    assert os.readlink(os.path.join(u.rootfs(), "abs")) == u.canary
    assert L.snapshot(u.canary) == before


def test_device_nodes_skipped_rootless(unpacker):
    u = unpacker
    ref = u.image([[L.chardev("dev/mem", 1, 1), L.blockdev("dev/sda", 8, 0), L.fifo("dev/fifo"),
                    L.file("etc/f", "x")]])
    r = u.unpack(ref, "--rootless")
    assert r.returncode == 0, r.stderr
    assert "dev/mem" in r.stderr and "skipped" in r.stderr
    assert not os.path.lexists(os.path.join(u.rootfs(), "dev/mem"))
    assert not os.path.lexists(os.path.join(u.rootfs(), "dev/sda"))
    assert os.path.exists(os.path.join(u.rootfs(), "dev/fifo"))


def test_trailing_bytes_after_tar_are_drained(unpacker):
    u = unpacker
    raw = L.tar_bytes([L.file("a", "x")], trailing=b"\0" * 10240)
    ref = u.image([raw])
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr


def test_corpus_size():
    assert len(CASES) + len(LIMIT_CASES) >= 30
