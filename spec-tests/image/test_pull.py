"""hoist pull against Debian's docker-registry on loopback, checked against skopeo."""
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
    r = R.Registry(tmp_path_factory.mktemp("registry")).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def images(reg, tmp_path_factory):
    """Push the test images once: single, multi-layer gzip+zstd, OCI index, Docker list."""
    lay = R.Layout(tmp_path_factory.mktemp("layout"))
    out = {}
    one = lay.image([R.busybox_files()])
    lay.tag(one, "one")
    out["one"] = reg.push(lay.path, "one", "test/busybox")

    multi = lay.image([R.busybox_files(), [("etc", ("dir",)), ("etc/motd", b"layer two\n")],
                       [("etc", ("dir",)), ("etc/three", b"3\n" * 1000)]])
    lay.tag(multi, "multi")
    out["multi"] = reg.push(lay.path, "multi", "test/multi")

    zst = lay.image([R.busybox_files(), [("etc", ("dir",)), ("etc/z", b"zstd\n")]], compression="zstd")
    lay.tag(zst, "zstd")
    out["zstd"] = reg.push(lay.path, "zstd", "test/zstd")

    amd = lay.image([R.busybox_files(), [("etc", ("dir",)), ("etc/arch", b"amd64\n")]], arch="amd64")
    arm = lay.image([R.busybox_files(), [("etc", ("dir",)), ("etc/arch", b"arm64\n")]], arch="arm64",
                    variant="v8")
    idx = lay.multi([amd, arm])
    lay.tag(idx, "index")
    out["index"] = reg.push(lay.path, "index", "test/index", all_platforms=True)
    out["index_amd64"] = amd["digest"]
    out["index_arm64"] = arm["digest"]

    # Docker schema 2: skopeo converts the single manifest on push.
    lay.tag(one, "v2s2")
    out["v2s2"] = reg.push(lay.path, "v2s2", "test/docker", fmt="v2s2")
    out["layout"] = lay.path
    return out


def hoist(hoist_path, store, *args, check=True, timeout=120, env=None):
    r = subprocess.run([hoist_path, "--store", str(store)] + list(args), capture_output=True, text=True,
                       timeout=timeout, env=env)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def blobs_without_layout_files(store):
    return R.store_blobs(str(store))


def test_pull_matches_skopeo(hoist_path, images, tmp_path):
    store = tmp_path / "store"
    r = hoist(hoist_path, store, "pull", images["multi"])
    digest = r.stdout.strip()
    ref = R.store_ref(str(store), images["multi"])
    assert ref is not None and ref["digest"] == digest
    assert ref["mediaType"] == R.MT_OCI_MANIFEST
    sk = tmp_path / "skopeo"
    R.skopeo_fetch(images["multi"], str(sk))
    assert R.store_blobs(str(store)) == R.store_blobs(str(sk))
    assert R.read_index(str(sk))["manifests"][0]["digest"] == digest
    # Every blob's name is its content's digest.
    for d in R.store_blobs(str(store)):
        with open(os.path.join(store, "blobs", "sha256", d[7:]), "rb") as f:
            assert R.sha256(f.read()) == d
    with open(store / "oci-layout") as f:
        assert json.load(f) == {"imageLayoutVersion": "1.0.0"}
    assert os.listdir(store / ".tmp") == []


def test_pull_zstd_layers(hoist_path, images, tmp_path):
    store = tmp_path / "store"
    hoist(hoist_path, store, "pull", images["zstd"])
    sk = tmp_path / "skopeo"
    R.skopeo_fetch(images["zstd"], str(sk))
    assert R.store_blobs(str(store)) == R.store_blobs(str(sk))
    m = json.loads(hoist(hoist_path, store, "inspect", "--raw", images["zstd"]).stdout)
    assert m["layers"][1]["mediaType"] == R.MT_LAYER_ZSTD


def test_pull_docker_schema2(hoist_path, images, tmp_path):
    store = tmp_path / "store"
    hoist(hoist_path, store, "pull", images["v2s2"])
    ref = R.store_ref(str(store), images["v2s2"])
    assert ref["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    # hoist keeps the manifest as served (skopeo would convert it to OCI for
    # an oci: destination), so its digest is that of skopeo's raw view.
    raw = subprocess.run([R.SKOPEO, "inspect", "--raw", "--tls-verify=false", "docker://" + images["v2s2"]],
                         check=True, capture_output=True).stdout
    assert ref["digest"] == R.sha256(raw)
    m = json.loads(raw)
    assert m["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    blobs = R.store_blobs(str(store))
    for d in [m["config"]] + m["layers"]:
        assert blobs[d["digest"]] == d["size"]


def test_pull_index_selects_host_platform(hoist_path, images, tmp_path):
    store = tmp_path / "store"
    r = hoist(hoist_path, store, "pull", images["index"])
    assert r.stdout.strip() == images["index_amd64"]
    top = R.store_ref(str(store), images["index"])
    assert top["mediaType"] == R.MT_OCI_INDEX
    blobs = R.store_blobs(str(store))
    assert top["digest"] in blobs and images["index_amd64"] in blobs
    assert images["index_arm64"] not in blobs


def test_pull_platform_and_all_platforms(hoist_path, images, tmp_path):
    store = tmp_path / "store"
    r = hoist(hoist_path, store, "pull", "--platform", "linux/arm64", images["index"])
    assert r.stdout.strip() == images["index_arm64"]
    assert images["index_amd64"] not in R.store_blobs(str(store))
    cfg = json.loads(hoist(hoist_path, store, "inspect", "--config", "--platform", "linux/arm64",
                           images["index"]).stdout)
    assert cfg["architecture"] == "arm64"

    store2 = tmp_path / "all"
    hoist(hoist_path, store2, "pull", "--all-platforms", images["index"])
    sk = tmp_path / "skopeo"
    subprocess.run([R.SKOPEO, "--insecure-policy", "copy", "-q", "--all", "--src-tls-verify=false",
                    "docker://" + images["index"], "oci:%s:x" % sk], check=True, capture_output=True)
    assert R.store_blobs(str(store2)) == R.store_blobs(str(sk))

    j = json.loads(hoist(hoist_path, tmp_path / "json", "pull", "-q", "--format", "json", images["index"]).stdout)
    assert j["name"] == images["index"] and j["mediaType"] == R.MT_OCI_INDEX
    assert j["manifestDigest"] == images["index_amd64"] and j["digest"] != j["manifestDigest"]

    r = hoist(hoist_path, tmp_path / "s390", "pull", "--platform", "linux/s390x", images["index"], check=False)
    assert r.returncode != 0
    assert "no manifest for platform linux/s390x" in r.stderr
    assert "linux/amd64" in r.stderr and "linux/arm64/v8" in r.stderr


def test_pull_by_digest(hoist_path, images, tmp_path):
    store = tmp_path / "store"
    repo = images["multi"].rsplit(":", 1)[0]
    digest = hoist(hoist_path, tmp_path / "first", "pull", images["multi"]).stdout.strip()
    r = hoist(hoist_path, store, "pull", "%s@%s" % (repo, digest))
    assert r.stdout.strip() == digest
    assert R.store_ref(str(store), "%s@%s" % (repo, digest))["digest"] == digest
    wrong = "sha256:" + "0" * 64
    r = hoist(hoist_path, store, "pull", "%s@%s" % (repo, wrong), check=False)
    assert r.returncode != 0 and "MANIFEST_UNKNOWN" in r.stderr


def test_second_pull_fetches_nothing(hoist_path, images, tmp_path):
    store = tmp_path / "store"
    hoist(hoist_path, store, "pull", images["multi"])
    r = hoist(hoist_path, store, "pull", images["multi"])
    assert "Copying blob" not in r.stderr
    assert r.stderr.count("Skipping blob") == 4  # config + 3 layers


def test_pull_errors_name_the_problem(hoist_path, reg, images, tmp_path):
    store = tmp_path / "store"
    r = hoist(hoist_path, store, "pull", reg.host + "/test/absent:1", check=False)
    assert r.returncode != 0
    assert "MANIFEST_UNKNOWN" in r.stderr or "NAME_UNKNOWN" in r.stderr
    assert "test/absent:1" in r.stderr
    r = hoist(hoist_path, store, "pull", reg.host + "/Test/Upper", check=False)
    assert r.returncode != 0 and "must be lowercase" in r.stderr
    r = hoist(hoist_path, store, "pull", "127.0.0.1:1/test/x", "--retry-times", "0", check=False)
    assert r.returncode != 0 and "connecting to registry 127.0.0.1:1" in r.stderr
    r = hoist(hoist_path, store, "pull", "--platform", "linux", images["one"], check=False)
    assert r.returncode != 0 and "--platform" in r.stderr
    r = hoist(hoist_path, store, "pull", "--bogus", images["one"], check=False)
    assert r.returncode != 0 and "--bogus" in r.stderr
    # Nothing half-made was tagged.
    assert not os.path.exists(store / "index.json") or R.read_index(str(store))["manifests"] == []


def test_images_inspect_rm_gc(hoist_path, images, tmp_path):
    store = tmp_path / "store"
    hoist(hoist_path, store, "pull", images["one"])
    hoist(hoist_path, store, "pull", images["multi"])
    listing = json.loads(hoist(hoist_path, store, "images", "--format", "json").stdout)
    assert sorted(e["name"] for e in listing) == sorted([images["one"], images["multi"]])
    assert hoist(hoist_path, store, "images", "-q").stdout.split() == [images["one"], images["multi"]]

    info = json.loads(hoist(hoist_path, store, "inspect", images["multi"]).stdout)
    assert info["Name"] == images["multi"]
    assert len(info["Layers"]) == 3 and info["Architecture"] == "amd64"
    remote = json.loads(hoist(hoist_path, store, "inspect", "docker://" + images["multi"]).stdout)
    assert remote["Digest"] == info["Digest"] and remote["Layers"] == info["Layers"]

    before = R.store_blobs(str(store))
    hoist(hoist_path, store, "rm", images["multi"])
    r = hoist(hoist_path, store, "rm", images["multi"], check=False)
    assert r.returncode != 0 and "not in the store" in r.stderr
    out = hoist(hoist_path, store, "gc").stdout
    after = R.store_blobs(str(store))
    # The busybox layer is shared with "one" and stays; the rest goes.
    assert set(after) < set(before)
    assert "removed" in out
    hoist(hoist_path, store, "pull", images["one"])  # still complete: nothing fetched
    info_one = json.loads(hoist(hoist_path, store, "inspect", images["one"]).stdout)
    for layer in info_one["Layers"]:
        assert layer in after


def test_tags(hoist_path, reg, images, tmp_path):
    # Pagination: ask the registry for many tags of one repository.
    lay = images["layout"]
    for i in range(3):
        reg.push(lay, "one", "test/tags")
        subprocess.run([R.SKOPEO, "--insecure-policy", "copy", "-q", "--src-tls-verify=false",
                        "--dest-tls-verify=false", "docker://%s/test/tags:one" % reg.host,
                        "docker://%s/test/tags:t%d" % (reg.host, i)], check=True, capture_output=True)
    r = hoist(hoist_path, tmp_path, "tags", reg.host + "/test/tags")
    assert sorted(r.stdout.split()) == ["one", "t0", "t1", "t2"]
    j = json.loads(hoist(hoist_path, tmp_path, "tags", "--format", "json", reg.host + "/test/tags").stdout)
    assert sorted(j["Tags"]) == ["one", "t0", "t1", "t2"]
    r = hoist(hoist_path, tmp_path, "tags", reg.host + "/test/tags:x", check=False)
    assert r.returncode != 0 and "takes no tag" in r.stderr


def test_concurrent_pulls_share_a_store(hoist_path, images, tmp_path):
    store = tmp_path / "store"
    procs = [subprocess.Popen([hoist_path, "--store", str(store), "pull", "-q", images[k]],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in ("multi", "one", "zstd", "multi")]
    for p in procs:
        out, errs = p.communicate(timeout=120)
        assert p.returncode == 0, errs
    names = [m["annotations"]["org.opencontainers.image.ref.name"] for m in R.read_index(str(store))["manifests"]]
    assert sorted(names) == sorted({images["multi"], images["one"], images["zstd"]})
    for d, size in R.store_blobs(str(store)).items():
        with open(os.path.join(store, "blobs", "sha256", d[7:]), "rb") as f:
            assert R.sha256(f.read()) == d


def test_fsck_passes_on_every_kind_of_pulled_image(hoist_path, images, tmp_path):
    """OCI manifests, zstd layers, an index with every platform and one with only
    this host's, a Docker schema 2 manifest: fsck walks them all."""
    store = tmp_path / "store"
    hoist(hoist_path, store, "pull", "-q", images["multi"])
    hoist(hoist_path, store, "pull", "-q", images["zstd"])
    hoist(hoist_path, store, "pull", "-q", "--all-platforms", images["index"])
    hoist(hoist_path, store, "pull", "-q", images["v2s2"])
    r = hoist(hoist_path, store, "fsck", "--strict")
    assert "of 4 images: no problems" in r.stdout, r.stdout
    assert int(r.stdout.split("checked ")[1].split()[0]) == len(R.store_blobs(str(store)))
    # Dropping the arm64 manifest leaves an index naming a platform not pulled: still fine,
    # and its layer (no longer referenced) is only dangling.
    os.unlink(os.path.join(store, "blobs", "sha256", images["index_arm64"][7:]))
    r = hoist(hoist_path, store, "fsck", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dangling blob" in r.stdout and "missing" not in r.stdout.split("checked")[0], r.stdout
    r = hoist(hoist_path, store, "gc", "--verify")
    assert "removed" in r.stdout
    r = hoist(hoist_path, store, "fsck", "--strict")
    assert "no problems" in r.stdout, r.stdout
