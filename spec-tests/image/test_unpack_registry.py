"""End to end from a registry: `hoist unpack` and `hoist run` of an image
pushed to Debian's docker-registry on loopback, with nothing in the store
beforehand (the pull happens inside unpack/run)."""
import os
import subprocess

import pytest

import layers as L
import registry as R
from test_run import busybox_layers, keel_path
from test_unpack_umoci import IMAGES

pytestmark = [
    pytest.mark.skipif(not os.path.exists(R.REGISTRY_BIN), reason="docker-registry is not installed"),
    pytest.mark.skipif(R.SKOPEO is None, reason="skopeo is not installed"),
    pytest.mark.skipif(not os.path.exists(R.BUSYBOX), reason="busybox-static is not installed"),
]


@pytest.fixture(scope="module")
def pushed(tmp_path_factory):
    reg = R.Registry(tmp_path_factory.mktemp("registry")).start()
    lay = L.Layout(str(tmp_path_factory.mktemp("layout")))
    refs = {}
    lay.add_image(busybox_layers(), refs=("bb",), config={"Cmd": ["cat", "/srv/hello.txt"], "Env": ["PATH=/bin"]})
    refs["bb"] = reg.push(lay.path, "bb", "test/bb")
    lay.add_image(busybox_layers(), refs=("bbz",), compression="zstd", config={"Cmd": ["cat", "/srv/hello.txt"]})
    refs["bbz"] = reg.push(lay.path, "bbz", "test/bbz")
    lay.add_image(IMAGES["whiteouts"], refs=("wh",))
    refs["wh"] = reg.push(lay.path, "wh", "test/wh")
    # Docker schema 2 (skopeo converts on push): Docker media types for config and layers.
    lay.add_image(busybox_layers(), refs=("v2s2",), config={"Cmd": ["cat", "/srv/hello.txt"]})
    refs["v2s2"] = reg.push(lay.path, "v2s2", "test/docker", fmt="v2s2")
    refs["layout"] = lay.path
    yield refs
    reg.stop()


def hoist(hoist_path, store, *args, timeout=120):
    return subprocess.run([hoist_path, "--store", str(store), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("name", ["bb", "bbz", "wh", "v2s2"])
def test_unpack_pulls_then_matches_local_unpack(hoist_path, pushed, tmp_path, name):
    r = hoist(hoist_path, tmp_path / "store", "unpack", pushed[name], tmp_path / "from-registry")
    assert r.returncode == 0, r.stderr
    # umoci unpacks the layout that was pushed, without any registry.
    local = tmp_path / "local"
    r = subprocess.run(["umoci", "unpack", "--image", "%s:%s" % (pushed["layout"], name), str(local)],
                       capture_output=True, text=True) if name != "bbz" else None
    mine, mine_links = L.tree(str(tmp_path / "from-registry" / "rootfs"))
    if r is not None:
        assert r.returncode == 0, r.stderr
        theirs, their_links = L.tree(str(local / "rootfs"))
        assert {k: (mine.get(k), theirs.get(k)) for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k)} == {}
        assert mine_links == their_links
    else:
        assert "srv/hello.txt" in mine  # umoci cannot read zstd layers


@pytest.mark.skipif(os.geteuid() != 0, reason="hoist run needs root")
@pytest.mark.parametrize("name", ["bb", "bbz", "v2s2"])
def test_run_from_registry(hoist_path, pushed, tmp_path, name):
    root = str(tmp_path / "keel-root")
    r = hoist(hoist_path, tmp_path / "store", "run", "--rm", "--runtime", keel_path(), "--runtime-root", root,
              pushed[name])
    try:
        assert r.returncode == 0, r.stderr
        assert r.stdout == "hello from the image\n"
    finally:
        bundles = tmp_path / "store" / "bundles"
        for b in os.listdir(bundles) if bundles.exists() else []:
            subprocess.run(["umount", str(bundles / b / "rootfs")], stderr=subprocess.DEVNULL)
