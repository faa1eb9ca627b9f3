"""Fixtures for the hoist tests (filled by the pull and unpack work)."""
import os

import pytest


@pytest.fixture(scope="session")
def hoist_path():
    return os.environ.get("HOIST") or os.path.join(os.environ.get("KEEL_BUILDDIR", "."), "hoist")


# ---- unpack tests ----
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import layers  # noqa: E402


class Unpacker:
    """Builds images in an OCI layout under tmp and runs `hoist unpack` on them."""

    def __init__(self, hoist, tmp):
        self.hoist = hoist
        self.tmp = tmp
        self.store = str(tmp / "store")
        self.layout = layers.Layout(self.store)
        self.canary = str(tmp / "canary")
        os.makedirs(self.canary)
        with open(os.path.join(self.canary, "file"), "w") as f:
            f.write("canary\n")
        os.makedirs(os.path.join(self.canary, "sub"))
        self.bundle = str(tmp / "bundle")
        self.count = 0

    def image(self, layer_list, **kw):
        self.count += 1
        ref = "localhost/img%d:1" % self.count
        kw.setdefault("refs", (ref, "img%d" % self.count))
        self.layout.add_image(layer_list, **kw)
        return kw["refs"][0]

    def unpack(self, ref, *args, bundle=None):
        return subprocess.run([self.hoist, "--store", self.store, "unpack", *args, ref, bundle or self.bundle],
                              capture_output=True, text=True, timeout=120)

    def rootfs(self, bundle=None):
        return os.path.join(bundle or self.bundle, "rootfs")

    @staticmethod
    def signal_when_exists(p, path, sig, timeout=30):
        """Send sig to the Popen p once path exists (or after timeout), then
        wait for p; returns its stderr."""
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not os.path.exists(path):
            time.sleep(0.005)
        p.send_signal(sig)
        return p.communicate(timeout=60)[1]


@pytest.fixture
def unpacker(hoist_path, tmp_path):
    u = Unpacker(hoist_path, tmp_path)
    yield u
    # Make everything removable (read-only dirs made by a test image).
    for dirpath, dirnames, _ in os.walk(str(tmp_path)):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                os.chmod(p, 0o755)
    shutil.rmtree(str(tmp_path), ignore_errors=True)
