"""Reliability of hoist's store: kill -9 during pull and unpack at random
points (through a throttling proxy, so that the kill lands mid-transfer),
then pull/unpack again; a full disk (a small tmpfs as the store or the
bundle) gives a clear error and leaves a usable store with no partial
download; 20 concurrent pulls of overlapping images into one store keep one
intact copy of each blob.

Every check runs both `hoist fsck` and an independent check written here
(every referenced blob present, every blob's name its digest)."""
import concurrent.futures
import json
import os
import random
import socket
import subprocess
import threading
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


def fsck(hoist_path, store, *args):
    return hoist(hoist_path, store, "fsck", *args)


def assert_fsck(hoist_path, store, *args):
    r = fsck(hoist_path, store, *args)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


class ThrottleProxy:
    """A TCP proxy on 127.0.0.1 that passes a registry's answers on at `rate`
    bytes per second per connection, so that a pull lasts long enough to be
    killed in the middle of a blob. Runs in threads of the test; stop() closes
    every socket and joins them."""

    def __init__(self, upstream_port, rate):
        self.upstream = upstream_port
        self.rate = rate
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.1)
        self.host = "127.0.0.1:%d" % self.lsock.getsockname()[1]
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.socks = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                client, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                client.close()
                continue
            up.settimeout(None)
            client.settimeout(None)
            with self.lock:
                self.socks += [client, up]
                for src, dst, rate in ((client, up, None), (up, client, self.rate)):
                    t = threading.Thread(target=self._pipe, args=(src, dst, rate), daemon=True)
                    self.threads.append(t)
                    t.start()

    def _pipe(self, src, dst, rate):
        try:
            while not self.stopping.is_set():
                data = src.recv(8192)
                if not data:
                    break
                dst.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def stop(self):
        self.stopping.set()
        self.lsock.close()
        with self.lock:
            for s in self.socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            threads = list(self.threads)
        for t in threads:
            t.join(timeout=5)


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


@pytest.fixture
def slow(served):
    """The served registry behind a proxy sending 1 MiB/s per connection."""
    p = ThrottleProxy(served.port, MIB)
    yield p
    p.stop()


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
        assert_fsck(hoist_path, store, "--strict")
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
    assert_fsck(hoist_path, store, "--strict")


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
        if os.path.exists(store / "index.json"):
            assert_fsck(hoist_path, store)
    for t in range(8):
        r = hoist(hoist_path, store, "pull", "-q", served.host + "/test/img:t%d" % t)
        assert r.returncode == 0, r.stderr
    assert verify_store(store) == 8
    assert_fsck(hoist_path, store, "--strict")


def test_pull_killed_mid_transfer_then_again(hoist_path, served, slow, tmp_path):
    """kill -9 while blobs stream in (1 MiB/s per connection, a pull lasts
    about 1.5 s): the store has no damage after each kill, and once every
    image is pulled again there is not even a leftover partial file."""
    store = tmp_path / "store"
    rnd = random.Random(2024)
    killed_mid_blob = 0
    for i in range(8):
        tag = "t%d" % rnd.randrange(8)
        p = subprocess.Popen([hoist_path, "--store", str(store), "pull", "-q", slow.host + "/test/img:" + tag],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.05, 1.5))
        p.kill()
        p.wait()
        if os.path.isdir(store / ".tmp") and os.listdir(store / ".tmp"):
            killed_mid_blob += 1
        verify_store(store)
        if os.path.exists(store / "index.json"):
            out = assert_fsck(hoist_path, store)
            assert "missing" not in out.split("checked")[0] and "corrupt" not in out.split("checked")[0], out
    assert killed_mid_blob >= 2, "the kills did not land during a transfer"
    for t in range(8):
        r = hoist(hoist_path, store, "pull", "-q", served.host + "/test/img:t%d" % t)
        assert r.returncode == 0, r.stderr
    assert verify_store(store) >= 8  # pulls that finished through the proxy are tagged with its address
    out = assert_fsck(hoist_path, store, "--strict")
    assert "images: no problems" in out, out
    assert os.listdir(store / ".tmp") == []
    r = hoist(hoist_path, store, "unpack", served.host + "/test/img:t3", str(tmp_path / "bundle"))
    assert r.returncode == 0, r.stderr
    assert os.path.exists(tmp_path / "bundle" / "rootfs" / "own3")


def test_fsck_beside_a_running_pull(hoist_path, served, slow, tmp_path):
    """fsck holds the store shared: it runs while a pull streams blobs in, and
    the partial files that pull holds are neither orphans nor damage."""
    store = tmp_path / "store"
    r = hoist(hoist_path, store, "pull", "-q", served.host + "/test/img:t0")
    assert r.returncode == 0, r.stderr
    p = subprocess.Popen([hoist_path, "--store", str(store), "pull", "-q", slow.host + "/test/img:big"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not os.listdir(store / ".tmp") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert os.listdir(store / ".tmp"), "the pull wrote no partial file"
        out = assert_fsck(hoist_path, store)
        assert "orphaned" not in out.split("checked")[0], out
        assert p.poll() is None, "the pull was over before fsck ran"
    finally:
        _, errs = p.communicate(timeout=60)
    assert p.returncode == 0, errs
    out = assert_fsck(hoist_path, store, "--strict")
    assert "of 2 images: no problems" in out, out


def test_unpack_that_pulls_killed_at_random_points(hoist_path, served, slow, tmp_path):
    """hoist unpack of an image the store lacks pulls it first: kill -9 at
    random points of pull and unpack, then unpack again works."""
    store = tmp_path / "store"
    rnd = random.Random(99)
    ref = slow.host + "/test/img:t5"
    for i in range(5):
        bundle = tmp_path / ("b%d" % i)
        p = subprocess.Popen([hoist_path, "--store", str(store), "unpack", ref, str(bundle)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.05, 2.0))
        p.kill()
        p.wait()
        verify_store(store)
        if os.path.exists(store / "index.json"):
            assert_fsck(hoist_path, store)
        subprocess.run(["rm", "-rf", str(bundle)], check=True)
        r = hoist(hoist_path, store, "unpack", ref, str(bundle))
        assert r.returncode == 0, r.stderr
        assert os.path.exists(bundle / "rootfs" / "own5") and os.path.exists(bundle / "rootfs" / "bin" / "busybox")
        out = assert_fsck(hoist_path, store, "--strict")
        assert "of 1 images: no problems" in out, out


def tmpfs_mount(mnt, size):
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", str(mnt)], check=True)


@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / "tmpfs"
    tmpfs_mount(mnt, "2m")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def tmpfs_4m(tmp_path):
    mnt = tmp_path / "tmpfs4"
    tmpfs_mount(mnt, "4m")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_clear_error_and_usable_store(hoist_path, served, small_tmpfs):
    store = small_tmpfs / "store"
    r = hoist(hoist_path, store, "pull", "-q", served.host + "/test/img:big")
    assert r.returncode != 0
    assert r.returncode < 128, "hoist died of a signal"
    assert "No space left on device" in r.stderr, r.stderr
    # The error names the blob and the store.
    assert "blob sha256:" in r.stderr or "@sha256:" in r.stderr, r.stderr
    assert str(store) in r.stderr, r.stderr
    # No partial download left behind: the disk is not kept full.
    assert os.listdir(store / ".tmp") == []
    assert [f for f in os.listdir(store) if ".tmp." in f] == []
    verify_store(store)
    assert_fsck(hoist_path, store)
    # Freeing space (the blobs that did arrive are dangling: gc) lets a smaller image in.
    r = hoist(hoist_path, store, "gc")
    assert r.returncode == 0, r.stderr
    r = hoist(hoist_path, store, "pull", "-q", served.host + "/test/img:t0")
    assert r.returncode == 0, r.stderr
    assert verify_store(store) >= 1
    r = hoist(hoist_path, store, "images")
    assert r.returncode == 0 and "t0" in r.stdout, r.stdout + r.stderr
    # A bigger disk: the big image pulls into the same store.
    subprocess.run(["mount", "-o", "remount,size=32m", str(small_tmpfs)], check=True)
    r = hoist(hoist_path, store, "pull", "-q", served.host + "/test/img:big")
    assert r.returncode == 0, r.stderr
    assert verify_store(store) == 2
    out = assert_fsck(hoist_path, store, "--strict")
    assert "of 2 images: no problems" in out, out


def test_disk_full_during_pull_then_space_freed(hoist_path, served, tmpfs_4m):
    """The same failure, then the space is freed by removing what filled
    the disk (not by gc): the pull works into the same store."""
    store = tmpfs_4m / "store"
    filler = tmpfs_4m / "filler"
    r = hoist(hoist_path, store, "pull", "-q", served.host + "/test/img:t1")
    assert r.returncode == 0, r.stderr
    fd = os.open(str(filler), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    r = hoist(hoist_path, store, "pull", "-q", served.host + "/test/img:t2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "No space left on device" in r.stderr and str(store) in r.stderr, r.stderr
    assert os.listdir(store / ".tmp") == []
    assert_fsck(hoist_path, store)
    os.unlink(filler)
    r = hoist(hoist_path, store, "pull", "-q", served.host + "/test/img:t2")
    assert r.returncode == 0, r.stderr
    out = assert_fsck(hoist_path, store, "--strict")
    assert "of 2 images: no problems" in out, out


def test_disk_full_during_unpack_clear_error(hoist_path, served, tmp_path, small_tmpfs):
    store = tmp_path / "store"
    ref = served.host + "/test/img:big"
    r = hoist(hoist_path, store, "pull", "-q", ref)
    assert r.returncode == 0, r.stderr
    bundle = small_tmpfs / "bundle"
    r = hoist(hoist_path, store, "unpack", ref, str(bundle))
    assert r.returncode != 0 and r.returncode < 128
    assert "No space left on device" in r.stderr, r.stderr
    assert str(bundle) in r.stderr, r.stderr
    # The half bundle is removed, the store untouched.
    assert not os.path.exists(bundle), os.listdir(small_tmpfs)
    assert verify_store(store) == 1
    assert_fsck(hoist_path, store, "--strict")
    # On a filesystem with room, the same unpack works.
    subprocess.run(["mount", "-o", "remount,size=32m", str(small_tmpfs)], check=True)
    r = hoist(hoist_path, store, "unpack", ref, str(bundle))
    assert r.returncode == 0, r.stderr
    assert os.path.getsize(bundle / "rootfs" / "big") == 3 * MIB


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
    out = assert_fsck(hoist_path, store, "--strict")
    assert "of 8 images: no problems" in out, out


def test_run_with_a_bad_reference_is_a_clear_error(hoist_path, tmp_path):
    # hoist run used to free an uninitialized error (goto past a cleanup
    # variable) on every early failure: a segfault instead of the message.
    r = hoist(hoist_path, tmp_path / "store", "run", "BAD REF!!", "true")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "invalid reference" in r.stderr
