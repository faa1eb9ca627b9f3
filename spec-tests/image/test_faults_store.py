"""Reliability of hoist's store: kill -9 during unpack at random points then
unpack again; a full disk (a small tmpfs as the store) gives a clear error
and leaves a usable store; 20 concurrent pulls of overlapping images into
one store keep one intact copy of each blob.

hoist has no `fsck` / `gc --verify`: the integrity check is done here
(every referenced blob present, every blob's name its digest)."""
import concurrent.futures
import json
import os
import random
import subprocess
import time

import pytest

import registry as R

pytestmark = pytest.mark.skipif(not os.path.exists(R.BUSYBOX), reason="busybox-static is not installed")

MIB = 1024 * 1024


def verify_store(store):
    """The integrity check hoist lacks: returns the number of images."""
    store = str(store)
    if not os.path.exists(os.path.join(store, "index.json")):
        return 0
    blobdir = os.path.join(store, "blobs", "sha256")
    for name in os.listdir(blobdir):
        with open(os.path.join(blobdir, name), "rb") as f:
            assert R.sha256(f.read()) == "sha256:" + name, "blob %s does not match its digest" % name
    images = 0

    def walk(digest):
        path = os.path.join(blobdir, digest[7:])
        assert os.path.exists(path), "referenced blob %s is missing" % digest
        with open(path, "rb") as f:
            doc = json.loads(f.read())
        if "manifests" in doc:
            for m in doc["manifests"]:
                if os.path.exists(os.path.join(blobdir, m["digest"][7:])):
                    walk(m["digest"])  # an index may name platforms not pulled
            return
        for d in [doc["config"]] + doc["layers"]:
            assert os.path.exists(os.path.join(blobdir, d["digest"][7:])), "missing %s" % d["digest"]

    for entry in R.read_index(store)["manifests"]:
        images += 1
        walk(entry["digest"])
    return images


def hoist(hoist_path, store, *args, timeout=120, **kw):
    return subprocess.run([hoist_path, "--store", str(store)] + list(args), capture_output=True, text=True,
                          timeout=timeout, **kw)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    lay = R.Layout(tmp_path_factory.mktemp("faultstore"))
    base = [R.busybox_files()]
    imgs = {}
    # Overlapping images: all share busybox, pairs share a middle layer.
    mids = [[("mid%d" % i, os.urandom(MIB // 2))] for i in range(4)]
    for i in range(8):
        m = lay.image(base + [mids[i % 4], [("own%d" % i, os.urandom(64 * 1024))]], compression="gzip")
        lay.tag(m, "t%d" % i)
        imgs["t%d" % i] = m
    big = lay.image(base + [[("big", os.urandom(3 * MIB))]], compression="none")
    lay.tag(big, "big")
    many = lay.image(base + [[("d%d/f%d" % (i // 50, i), b"x" * 100) for i in range(2000)]],
                     compression="none")
    lay.tag(many, "many")
    srv = R.FaultRegistry(tmp_path_factory.mktemp("faultstore-srv"), lay.path).start()
    yield srv
    srv.stop()


def test_unpack_killed_at_random_points_then_again(hoist_path, served, tmp_path):
    store = tmp_path / "store"
    ref = served.host + "/test/img:many"
    r = hoist(hoist_path, store, "pull", "-q", ref)
    assert r.returncode == 0, r.stderr
    rnd = random.Random(7)
    for i in range(6):
        bundle = tmp_path / ("b%d" % i)
        p = subprocess.Popen([hoist_path, "--store", str(store), "unpack", ref, str(bundle)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.01, 0.6))
        p.kill()
        p.wait()
        assert verify_store(store) == 1
        # The same bundle again: either a clear refusal naming it, or a complete unpack.
        r = hoist(hoist_path, store, "unpack", ref, str(bundle))
        if r.returncode != 0:
            assert str(bundle) in r.stderr or "bundle" in r.stderr, r.stderr
            subprocess.run(["rm", "-rf", str(bundle)], check=True)
            r = hoist(hoist_path, store, "unpack", ref, str(bundle))
        assert r.returncode == 0, r.stderr
        assert len(os.listdir(bundle / "rootfs" / "d39")) == 50
        assert os.path.exists(bundle / "config.json")
    assert verify_store(store) == 1


def test_pull_killed_at_random_points_then_again(hoist_path, served, tmp_path):
    store = tmp_path / "store"
    rnd = random.Random(11)
    for i in range(6):
        tag = "t%d" % rnd.randrange(8)
        p = subprocess.Popen([hoist_path, "--store", str(store), "pull", "-q", served.host + "/test/img:" + tag],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.01, 0.5))
        p.kill()
        p.wait()
        verify_store(store)
    for t in range(8):
        r = hoist(hoist_path, store, "pull", "-q", served.host + "/test/img:t%d" % t)
        assert r.returncode == 0, r.stderr
    assert verify_store(store) == 8


@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_clear_error_and_usable_store(hoist_path, served, small_tmpfs):
    store = small_tmpfs / "store"
    r = hoist(hoist_path, store, "pull", "-q", served.host + "/test/img:big")
    assert r.returncode != 0
    assert r.returncode < 128, "hoist died of a signal"
    assert "No space left on device" in r.stderr, r.stderr
    assert "big" in r.stderr or "sha256:" in r.stderr or str(store) in r.stderr, r.stderr
    verify_store(store)
    # The partial download stays for a later resume and fills the disk;
    # `hoist gc` removes it.  Then what fits pulls and lists.
    r = hoist(hoist_path, store, "gc")
    assert r.returncode == 0, r.stderr
    r = hoist(hoist_path, store, "pull", "-q", served.host + "/test/img:t0")
    assert r.returncode == 0, r.stderr
    assert verify_store(store) >= 1
    r = hoist(hoist_path, store, "images")
    assert r.returncode == 0 and "t0" in r.stdout, r.stdout + r.stderr


def test_disk_full_during_unpack_clear_error(hoist_path, served, tmp_path, small_tmpfs):
    store = tmp_path / "store"
    ref = served.host + "/test/img:big"
    r = hoist(hoist_path, store, "pull", "-q", ref)
    assert r.returncode == 0, r.stderr
    bundle = small_tmpfs / "bundle"
    r = hoist(hoist_path, store, "unpack", ref, str(bundle))
    assert r.returncode != 0 and r.returncode < 128
    assert "No space left on device" in r.stderr, r.stderr
    assert verify_store(store) == 1


def test_twenty_concurrent_pulls_of_overlapping_images(hoist_path, served, tmp_path):
    store = tmp_path / "store"
    tags = ["t%d" % (i % 8) for i in range(20)]

    def pull(tag):
        return hoist(hoist_path, store, "pull", "-q", served.host + "/test/img:" + tag, timeout=300)

    seen = len(served.requests())
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as ex:
        results = list(ex.map(pull, tags))
    for t, r in zip(tags, results):
        assert r.returncode == 0, "%s: %s" % (t, r.stderr)
    assert verify_store(store) == 8
    # One copy of each blob: every layer GET happened once (none fetched twice).
    gets = {}
    for q in served.requests()[seen:]:
        if q["method"] == "GET" and "/blobs/sha256:" in q["path"] and not q.get("range"):
            d = q["path"].rsplit("/", 1)[1]
            gets[d] = gets.get(d, 0) + 1
    assert gets and max(gets.values()) == 1, gets
    assert os.listdir(store / ".tmp") == []  # no partial download left


def test_run_with_a_bad_reference_is_a_clear_error(hoist_path, tmp_path):
    # hoist run used to free an uninitialized error (goto past a cleanup
    # variable) on every early failure: a segfault instead of the message.
    r = hoist(hoist_path, tmp_path / "store", "run", "BAD REF!!", "true")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "invalid reference" in r.stderr
