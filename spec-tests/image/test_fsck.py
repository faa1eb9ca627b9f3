"""hoist fsck and hoist gc --verify against stores pulled from Debian's
docker-registry on loopback, then damaged on purpose: a flipped byte in a
layer, a deleted blob, a truncated manifest, orphaned temporary files,
dangling and stray blobs, a broken index.json."""
import fcntl
import hashlib
import json
import os
import subprocess

import pytest

import registry as R

pytestmark = [
    pytest.mark.skipif(not os.path.exists(R.REGISTRY_BIN), reason="docker-registry is not installed"),
    pytest.mark.skipif(R.SKOPEO is None, reason="skopeo is not installed"),
    pytest.mark.skipif(not os.path.exists(R.BUSYBOX), reason="busybox-static is not installed"),
]


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    r = R.Registry(tmp_path_factory.mktemp("fsck-registry")).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def images(reg, tmp_path_factory):
    lay = R.Layout(tmp_path_factory.mktemp("fsck-layout"))
    out = {}
    two = lay.image([R.busybox_files(), [("etc", ("dir",)), ("etc/motd", b"fsck\n" * 5000)]])
    lay.tag(two, "two")
    out["two"] = reg.push(lay.path, "two", "fsck/two")
    amd = lay.image([R.busybox_files(), [("etc", ("dir",)), ("etc/arch", b"amd64\n")]], arch="amd64")
    arm = lay.image([R.busybox_files(), [("etc", ("dir",)), ("etc/arch", b"arm64\n")]], arch="arm64",
                    variant="v8")
    lay.tag(lay.multi([amd, arm]), "index")
    out["index"] = reg.push(lay.path, "index", "fsck/index", all_platforms=True)
    return out


def hoist(hoist_path, store, *args, timeout=120):
    return subprocess.run([hoist_path, "--store", str(store)] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def fsck(hoist_path, store, *args):
    return hoist(hoist_path, store, "fsck", *args)


def blob_path(store, digest):
    return os.path.join(str(store), "blobs", "sha256", digest.split(":", 1)[1])


def manifest_of(store, ref):
    """(manifest digest, manifest JSON) of a single-platform image in the store."""
    d = R.store_ref(str(store), ref)["digest"]
    with open(blob_path(store, d)) as f:
        return d, json.load(f)


@pytest.fixture
def store(hoist_path, images, tmp_path):
    s = tmp_path / "store"
    for ref in (images["two"], images["index"]):
        r = hoist(hoist_path, s, "pull", "-q", "--platform", "linux/amd64", ref)
        assert r.returncode == 0, r.stderr
    return s


def test_good_store_passes(hoist_path, store, images):
    r = fsck(hoist_path, store)
    assert r.returncode == 0, r.stdout + r.stderr
    # two: config + 2 layers + manifest; index: index + amd64 manifest + config + 1 layer of its own
    # (busybox is shared); the arm64 manifest was not pulled and is no problem.
    assert "of 2 images: no problems" in r.stdout, r.stdout
    assert int(r.stdout.split("checked ")[1].split()[0]) == len(R.store_blobs(str(store)))
    r = fsck(hoist_path, store, "--strict")
    assert r.returncode == 0, r.stdout + r.stderr
    r = hoist(hoist_path, store, "gc", "--verify")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no problems" in r.stdout and "removed 0 files" in r.stdout, r.stdout


def test_flipped_byte_in_layer_then_repair_and_pull(hoist_path, store, images, tmp_path):
    ref = images["two"]
    _, m = manifest_of(store, ref)
    layer = max(m["layers"], key=lambda d: d["size"])["digest"]
    p = blob_path(store, layer)
    with open(p, "r+b") as f:
        f.seek(1000)
        b = f.read(1)
        f.seek(1000)
        f.write(bytes([b[0] ^ 0x01]))
    r = fsck(hoist_path, store)
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("corrupt %s: `%s`" % (layer, p)) in r.stdout, r.stdout
    assert "(image %s)" % ref in r.stdout, r.stdout
    assert "to fetch again: hoist pull %s" % ref in r.stdout, r.stdout
    assert "damaged" in r.stderr, r.stderr
    # --repair removes the corrupt blob; what is left is a missing blob until the next pull.
    r = fsck(hoist_path, store, "--repair")
    assert r.returncode == 1 and "; removed" in r.stdout, r.stdout + r.stderr
    assert not os.path.exists(p)
    r = fsck(hoist_path, store)
    assert r.returncode == 1 and ("missing blob %s: layer " % layer) in r.stdout, r.stdout
    r = hoist(hoist_path, store, "pull", "-q", ref)
    assert r.returncode == 0, r.stderr
    r = fsck(hoist_path, store, "--strict")
    assert r.returncode == 0, r.stdout + r.stderr
    r = hoist(hoist_path, store, "unpack", ref, str(tmp_path / "bundle"))
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "bundle" / "rootfs" / "etc" / "motd", "rb") as f:
        assert f.read() == b"fsck\n" * 5000


def test_deleted_blob_is_missing(hoist_path, store, images):
    ref = images["two"]
    mdigest, m = manifest_of(store, ref)
    os.unlink(blob_path(store, m["config"]["digest"]))
    r = fsck(hoist_path, store)
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("missing blob %s: config of manifest %s is not in the store (image %s)"
            % (m["config"]["digest"], mdigest, ref)) in r.stdout, r.stdout
    assert "1 missing, 0 corrupt" in r.stdout, r.stdout
    r = hoist(hoist_path, store, "pull", "-q", ref)
    assert r.returncode == 0, r.stderr
    r = fsck(hoist_path, store, "--strict")
    assert r.returncode == 0, r.stdout + r.stderr


def test_truncated_manifest(hoist_path, store, images):
    ref = images["two"]
    mdigest, m = manifest_of(store, ref)
    p = blob_path(store, mdigest)
    size = os.path.getsize(p)
    os.truncate(p, size // 2)
    r = fsck(hoist_path, store)
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("corrupt %s: `%s` (%d bytes) has content of digest" % (mdigest, p, size // 2)) in r.stdout, r.stdout
    # Not walked: its config and layers are no longer known to be needed.
    r = fsck(hoist_path, store, "--repair")
    assert r.returncode == 1 and not os.path.exists(p)
    r = hoist(hoist_path, store, "pull", "-q", ref)
    assert r.returncode == 0, r.stderr
    r = fsck(hoist_path, store, "--strict")
    assert r.returncode == 0, r.stdout + r.stderr


def test_orphaned_temp_files(hoist_path, store):
    tmp = store / ".tmp"
    orphan = tmp / ("sha256-%s.partial" % ("ab" * 32))
    orphan.write_bytes(b"half a layer")
    held = tmp / ("sha256-%s.partial" % ("cd" * 32))
    held.write_bytes(b"being written")
    index_tmp = store / "index.json.tmp.4000000"  # above pid_max: its writer is dead
    index_tmp.write_text("{")
    # A live downloader holds an flock on its partial file: that one is no orphan.
    with open(held, "rb") as h:
        fcntl.flock(h, fcntl.LOCK_EX)
        r = fsck(hoist_path, store)
        assert r.returncode == 0, r.stdout + r.stderr  # waste, not damage
        assert ("orphaned temp file `%s`: 12 bytes" % orphan) in r.stdout, r.stdout
        assert ("orphaned temp file `%s`" % index_tmp) in r.stdout, r.stdout
        assert str(held) not in r.stdout, r.stdout
        assert "2 orphaned temp files" in r.stdout, r.stdout
        r = fsck(hoist_path, store, "--strict")
        assert r.returncode == 1 and "--strict" in r.stderr, r.stdout + r.stderr
        r = fsck(hoist_path, store, "--repair")
        assert r.returncode == 0, r.stdout + r.stderr
        assert not orphan.exists() and not index_tmp.exists() and held.exists()
    # Released: now it is an orphan too, and gc removes it.
    r = fsck(hoist_path, store)
    assert str(held) in r.stdout, r.stdout
    r = hoist(hoist_path, store, "gc")
    assert r.returncode == 0, r.stderr
    r = fsck(hoist_path, store, "--strict")
    assert r.returncode == 0, r.stdout + r.stderr


def test_dangling_blob_and_gc_verify(hoist_path, store):
    data = b"nobody needs this\n"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob_path(store, digest), "wb") as f:
        f.write(data)
    r = fsck(hoist_path, store)
    assert r.returncode == 0, r.stdout + r.stderr
    assert ("dangling blob %s: %d bytes that no image references" % (digest, len(data))) in r.stdout, r.stdout
    r = fsck(hoist_path, store, "--strict")
    assert r.returncode == 1, r.stdout + r.stderr
    r = hoist(hoist_path, store, "gc", "--verify")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "removed 1 files" in r.stdout, r.stdout
    assert not os.path.exists(blob_path(store, digest))
    r = fsck(hoist_path, store, "--strict")
    assert r.returncode == 0, r.stdout + r.stderr


def test_gc_verify_leaves_a_damaged_store_alone(hoist_path, store, images):
    _, m = manifest_of(store, images["two"])
    layer = m["layers"][-1]["digest"]
    with open(blob_path(store, layer), "ab") as f:
        f.write(b"x")
    data = b"dangling\n"
    dangling = blob_path(store, "sha256:" + hashlib.sha256(data).hexdigest())
    with open(dangling, "wb") as f:
        f.write(data)
    r = hoist(hoist_path, store, "gc", "--verify")
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("corrupt %s" % layer) in r.stdout, r.stdout
    assert "nothing removed" in r.stderr, r.stderr
    assert os.path.exists(dangling) and os.path.exists(blob_path(store, layer))


def test_corrupt_unreferenced_and_stray_entries(hoist_path, store):
    data = b"content"
    wrong = blob_path(store, "sha256:" + "0" * 64)
    with open(wrong, "wb") as f:
        f.write(data)
    stray = os.path.join(str(store), "blobs", "sha256", "not-a-digest")
    with open(stray, "w") as f:
        f.write("?")
    r = fsck(hoist_path, store)
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("corrupt sha256:%s" % ("0" * 64)) in r.stdout, r.stdout
    assert ("stray entry `%s`: not named after a sha256 digest" % stray) in r.stdout, r.stdout
    r = fsck(hoist_path, store, "--repair")
    assert not os.path.exists(wrong)
    assert os.path.exists(stray)  # not hoist's: reported, never removed
    os.unlink(stray)
    r = fsck(hoist_path, store, "--strict")
    assert r.returncode == 0, r.stdout + r.stderr


def test_broken_or_missing_index_json(hoist_path, store):
    index = store / "index.json"
    good = index.read_bytes()
    index.write_bytes(good[: len(good) // 2])
    r = fsck(hoist_path, store)
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("corrupt `%s`" % index) in r.stdout, r.stdout
    assert "dangling blob" not in r.stdout  # unknown what is referenced: nothing called dangling
    index.unlink()
    r = fsck(hoist_path, store)
    assert r.returncode == 1 and "index.json" in r.stderr and "missing" in r.stderr, r.stdout + r.stderr
    assert not index.exists()  # fsck did not paper over the loss with an empty index


def test_usage_errors(hoist_path, tmp_path):
    r = fsck(hoist_path, tmp_path / "nothing")
    assert r.returncode == 1 and str(tmp_path / "nothing") in r.stderr, r.stderr
    assert not (tmp_path / "nothing").exists()
    r = fsck(hoist_path, tmp_path, "--bogus")
    assert r.returncode == 1 and "--bogus" in r.stderr, r.stderr
    r = fsck(hoist_path, tmp_path, "extra")
    assert r.returncode == 1 and "no arguments" in r.stderr, r.stderr
    r = hoist(hoist_path, tmp_path, "fsck", "--help")
    assert r.returncode == 0 and "--repair" in r.stdout and "--strict" in r.stdout
    r = hoist(hoist_path, tmp_path, "gc", "--help")
    assert r.returncode == 0 and "--verify" in r.stdout
