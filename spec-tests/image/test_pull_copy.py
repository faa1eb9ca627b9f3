"""hoist copy between docker:// and oci:DIR[:TAG]: push (existence checks,
monolithic and chunked uploads, cross-repository mounts) and pull into a
layout, checked with skopeo against docker-registry."""
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
    r = R.Registry(tmp_path_factory.mktemp("copyreg")).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    lay = R.Layout(tmp_path_factory.mktemp("copylayout"))
    big = lay.image([R.busybox_files(), [("big", os.urandom(2 * 1024 * 1024))]], compression="gzip")
    lay.tag(big, "big")
    amd = lay.image([R.busybox_files(), [("etc", ("dir",)), ("etc/a", b"amd64\n")]], arch="amd64")
    arm = lay.image([R.busybox_files(), [("etc", ("dir",)), ("etc/a", b"arm\n")]], arch="arm", variant="v7")
    lay.tag(lay.multi([amd, arm]), "multi")
    return lay


def hoist(hoist_path, *args, store=None, check=True):
    cmd = [hoist_path] + (["--store", str(store)] if store else []) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def raw_digest(ref):
    raw = subprocess.run([R.SKOPEO, "inspect", "--raw", "--tls-verify=false", "docker://" + ref], check=True,
                         capture_output=True).stdout
    return R.sha256(raw)


def test_push_monolithic_then_nothing_twice(hoist_path, reg, layout, tmp_path):
    dest = reg.host + "/push/mono:big"
    r = hoist(hoist_path, "copy", "oci:%s:big" % layout.path, "docker://" + dest)
    pushed = r.stdout.strip()
    assert raw_digest(dest) == pushed
    sk = tmp_path / "sk"
    R.skopeo_fetch(dest, str(sk))
    mine = R.store_blobs(layout.path)
    for d, size in R.store_blobs(str(sk)).items():
        assert mine[d] == size
    # Second push: every blob exists already, only HEADs and the manifest PUT.
    r = hoist(hoist_path, "--debug", "copy", "oci:%s:big" % layout.path, "docker://" + dest)
    assert "already in the registry" in r.stderr
    assert "PATCH" not in r.stderr and "PUT %s" % ("http://" + reg.host + "/v2/push/mono/blobs") not in r.stderr


def test_push_chunked(hoist_path, reg, layout, tmp_path):
    dest = reg.host + "/push/chunked:big"
    r = hoist(hoist_path, "--debug", "copy", "--chunk-size", "256k", "oci:%s:big" % layout.path, "docker://" + dest)
    assert r.stderr.count("PATCH ") >= 8
    store = tmp_path / "store"
    hoist(hoist_path, "pull", dest, store=store)
    assert R.store_ref(str(store), dest)["digest"] == r.stdout.strip()
    big = max(R.store_blobs(str(store)).items(), key=lambda kv: kv[1])
    with open(store / "blobs" / "sha256" / big[0][7:], "rb") as f:
        assert R.sha256(f.read()) == big[0]


def test_push_cross_repository_mount(hoist_path, reg, layout):
    hoist(hoist_path, "copy", "oci:%s:big" % layout.path, "docker://%s/mount/src:big" % reg.host)
    r = hoist(hoist_path, "--debug", "copy", "--mount-from", "mount/src", "oci:%s:big" % layout.path,
              "docker://%s/mount/dst:big" % reg.host)
    assert r.stderr.count("mounted from mount/src") >= 2
    assert raw_digest("%s/mount/dst:big" % reg.host) == r.stdout.strip()


def test_push_index(hoist_path, reg, layout, tmp_path):
    dest = reg.host + "/push/multi:multi"
    r = hoist(hoist_path, "copy", "oci:%s:multi" % layout.path, "docker://" + dest)
    assert raw_digest(dest) == r.stdout.strip()
    store = tmp_path / "store"
    r = hoist(hoist_path, "pull", "--platform", "linux/arm/v7", dest, store=store)
    cfg = json.loads(hoist(hoist_path, "inspect", "--config", "--platform", "linux/arm/v7", dest,
                           store=store).stdout)
    assert cfg["architecture"] == "arm"
    # An index whose other platforms are missing cannot be pushed whole.
    r = hoist(hoist_path, "copy", "oci:%s:%s" % (store, dest), "docker://%s/push/partial:x" % reg.host,
              check=False)
    assert r.returncode != 0 and "--all-platforms" in r.stderr


def test_copy_registry_to_layout_and_back(hoist_path, reg, layout, tmp_path):
    src = reg.host + "/roundtrip/img:big"
    hoist(hoist_path, "copy", "oci:%s:big" % layout.path, "docker://" + src)
    out = tmp_path / "out"
    hoist(hoist_path, "copy", "docker://" + src, "oci:%s:mytag" % out)
    idx = R.read_index(str(out))
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in idx["manifests"]] == ["mytag"]
    # skopeo reads the layout hoist wrote.
    info = json.loads(subprocess.run([R.SKOPEO, "inspect", "oci:%s:mytag" % out], check=True,
                                     capture_output=True).stdout)
    assert info["Digest"] == raw_digest(src)
    # registry to registry
    r = hoist(hoist_path, "copy", "docker://" + src, "docker://%s/roundtrip/copy:v" % reg.host)
    assert raw_digest("%s/roundtrip/copy:v" % reg.host) == r.stdout.strip()


def test_copy_errors(hoist_path, reg, layout, tmp_path):
    r = hoist(hoist_path, "copy", "oci:%s" % layout.path, "docker://%s/x/y:z" % reg.host, check=False)
    assert r.returncode != 0 and "holds 2 images" in r.stderr
    r = hoist(hoist_path, "copy", "oci:%s:nope" % layout.path, "docker://%s/x/y:z" % reg.host, check=False)
    assert r.returncode != 0 and "nope" in r.stderr
    r = hoist(hoist_path, "copy", "dir:/x", "docker://%s/x/y:z" % reg.host, check=False)
    assert r.returncode != 0 and "expected docker://REFERENCE or oci:DIR[:TAG]" in r.stderr
    r = hoist(hoist_path, "copy", "--chunk-size", "lots", "oci:/a", "oci:/b", check=False)
    assert r.returncode != 0 and "--chunk-size" in r.stderr


def test_docker_manifest_list_pushed_by_hoist_then_pulled(hoist_path, reg, tmp_path):
    lay = R.Layout(tmp_path / "dl")
    amd = lay.docker_image([R.busybox_files(), [("etc", ("dir",)), ("etc/x", b"amd\n")]], arch="amd64")
    arm = lay.docker_image([R.busybox_files(), [("etc", ("dir",)), ("etc/x", b"arm\n")]], arch="arm64",
                           variant="v8")
    lst = lay.docker_list([amd, arm])
    lay.tag(lst, "list")
    dest = reg.host + "/docker/list:1"
    r = hoist(hoist_path, "copy", "oci:%s:list" % lay.path, "docker://" + dest)
    assert r.stdout.strip() == lst["digest"]
    raw = subprocess.run([R.SKOPEO, "inspect", "--raw", "--tls-verify=false", "docker://" + dest], check=True,
                         capture_output=True).stdout
    assert json.loads(raw)["mediaType"] == R.MT_DOCKER_LIST and R.sha256(raw) == lst["digest"]
    store = tmp_path / "store"
    r = hoist(hoist_path, "pull", "--platform", "linux/arm64", dest, store=store)
    assert r.stdout.strip() == arm["digest"]
    assert R.store_ref(str(store), dest)["mediaType"] == R.MT_DOCKER_LIST
    cfg = json.loads(hoist(hoist_path, "inspect", "--config", "--platform", "linux/arm64", dest,
                           store=store).stdout)
    assert cfg["architecture"] == "arm64"
    # skopeo sees the same amd64 image hoist picks by default.
    r = hoist(hoist_path, "pull", dest, store=tmp_path / "amd")
    assert r.stdout.strip() == amd["digest"]
