"""hoist pull against a registry that fails on purpose: wrong bytes, 5xx and
429, a registry killed mid-blob, a server that ignores Range, expiring tokens."""
import json
import os
import subprocess
import time

import pytest

import registry as R

pytestmark = pytest.mark.skipif(not os.path.exists(R.BUSYBOX), reason="busybox-static is not installed")

BIG = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    lay = R.Layout(tmp_path_factory.mktemp("faultlayout"))
    m = lay.image([R.busybox_files(), [("big", os.urandom(BIG))]], compression="none")
    lay.tag(m, "v1")
    with open(os.path.join(lay.path, "blobs", "sha256", m["digest"][7:])) as f:
        manifest = json.load(f)
    return {"path": lay.path, "manifest": m, "layers": manifest["layers"], "config": manifest["config"]}


@pytest.fixture
def fault(tmp_path, layout):
    servers = []

    def make(port=None, **faults):
        srv = R.FaultRegistry(tmp_path / ("srv%d" % len(servers)), layout["path"], port=port, **faults).start()
        servers.append(srv)
        return srv

    yield make
    for s in servers:
        s.stop()


def pull(hoist_path, store, ref, *extra, check=None, timeout=120):
    r = subprocess.run([hoist_path, "--store", str(store), "pull", ref] + list(extra), capture_output=True,
                       text=True, timeout=timeout)
    if check is True:
        assert r.returncode == 0, r.stderr
    return r


def blob_gets(srv, digest):
    return [q for q in srv.requests() if q["path"].endswith("/blobs/" + digest) and q["method"] == "GET"]


def big_layer(layout):
    return max(layout["layers"], key=lambda d: d["size"])


def test_wrong_bytes_are_refused_and_nothing_stored(hoist_path, fault, layout, tmp_path):
    big = big_layer(layout)
    srv = fault(corrupt=[big["digest"]])
    store = tmp_path / "store"
    r = pull(hoist_path, store, srv.host + "/test/img:v1")
    assert r.returncode != 0
    assert "digest mismatch" in r.stderr and big["digest"] in r.stderr
    assert big["digest"] not in R.store_blobs(str(store))
    assert R.read_index(str(store))["manifests"] == []
    # The bad bytes are gone (other downloads cut short may stay for resume).
    assert [f for f in os.listdir(store / ".tmp") if big["digest"][7:] in f] == []


def test_server_errors_are_retried(hoist_path, fault, layout, tmp_path):
    big = big_layer(layout)
    srv = fault(fail={big["digest"]: [500, 503, 502], layout["config"]["digest"]: [500]})
    store = tmp_path / "store"
    r = pull(hoist_path, store, srv.host + "/test/img:v1", check=True)
    assert r.stdout.strip() == layout["manifest"]["digest"]
    assert len(blob_gets(srv, big["digest"])) == 4
    assert R.store_blobs(str(store))[big["digest"]] == big["size"]


def test_429_honours_retry_after(hoist_path, fault, layout, tmp_path):
    big = big_layer(layout)
    srv = fault(fail={big["digest"]: [429]})
    t0 = time.monotonic()
    pull(hoist_path, tmp_path / "store", srv.host + "/test/img:v1", check=True)
    assert time.monotonic() - t0 >= 0.9
    assert len(blob_gets(srv, big["digest"])) == 2


def test_too_many_failures_is_an_error(hoist_path, fault, layout, tmp_path):
    big = big_layer(layout)
    srv = fault(fail={big["digest"]: [500] * 10})
    r = pull(hoist_path, tmp_path / "store", srv.host + "/test/img:v1", "--retry-times", "2")
    assert r.returncode != 0
    assert "UNAVAILABLE: try again later (HTTP 500)" in r.stderr
    assert len(blob_gets(srv, big["digest"])) == 3


def test_registry_killed_mid_blob_then_resumed(hoist_path, fault, layout, tmp_path):
    big = big_layer(layout)
    cut = BIG // 3
    srv = fault(cut={big["digest"]: cut})
    store = tmp_path / "store"
    r = pull(hoist_path, store, srv.host + "/test/img:v1", "--retry-times", "1", "--max-parallel", "1")
    assert r.returncode != 0
    assert "partial download kept" in r.stderr
    partial = [f for f in os.listdir(store / ".tmp") if big["digest"][7:] in f]
    assert len(partial) == 1
    assert os.path.getsize(store / ".tmp" / partial[0]) == cut
    assert R.read_index(str(store))["manifests"] == []
    srv.proc.wait()

    # The registry comes back on the same port: the next pull asks for the rest only.
    srv2 = fault(port=srv.port)
    pull(hoist_path, store, srv2.host + "/test/img:v1", check=True)
    gets = blob_gets(srv2, big["digest"])
    assert [g["range"] for g in gets] == ["bytes=%d-" % cut]
    with open(store / "blobs" / "sha256" / big["digest"][7:], "rb") as f:
        assert R.sha256(f.read()) == big["digest"]
    assert os.listdir(store / ".tmp") == []


def test_server_ignoring_range_restarts_the_blob(hoist_path, fault, layout, tmp_path):
    big = big_layer(layout)
    srv = fault(cut={big["digest"]: 1000})
    store = tmp_path / "store"
    assert pull(hoist_path, store, srv.host + "/test/img:v1", "--retry-times", "0").returncode != 0
    srv.proc.wait()
    srv2 = fault(port=srv.port, ignore_range=True)
    pull(hoist_path, store, srv2.host + "/test/img:v1", check=True)
    assert R.store_blobs(str(store))[big["digest"]] == big["size"]


def test_expired_token_is_refreshed(hoist_path, fault, layout, tmp_path):
    srv = fault(token={"user": "u", "pass": "p", "uses": 2})
    store = tmp_path / "store"
    pull(hoist_path, store, srv.host + "/test/img:v1", "--creds", "u:p", check=True)
    token_gets = [q for q in srv.requests() if q["path"].startswith("/token")]
    assert len(token_gets) >= 2
    assert all(q["auth"] and q["auth"].startswith("Basic ") for q in token_gets)
    assert "scope=repository%3Atest%2Fimg%3Apull" in token_gets[0]["path"]
    assert "service=fault" in token_gets[0]["path"]

    r = pull(hoist_path, tmp_path / "bad", srv.host + "/test/img:v1", "--creds", "u:wrong")
    assert r.returncode != 0 and "UNAUTHORIZED" in r.stderr


def test_credentials_from_auth_files(hoist_path, fault, layout, tmp_path):
    import base64
    srv = fault(token={"user": "u", "pass": "p"})
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"auths": {srv.host: {"auth": base64.b64encode(b"u:p").decode()}}}))
    pull(hoist_path, tmp_path / "s1", srv.host + "/test/img:v1", "--authfile", str(auth), check=True)
    env = dict(os.environ, REGISTRY_AUTH_FILE=str(auth))
    r = subprocess.run([hoist_path, "--store", str(tmp_path / "s2"), "pull", srv.host + "/test/img:v1"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    (home / ".docker" / "config.json").write_text(json.dumps(
        {"auths": {"https://" + srv.host: {"auth": base64.b64encode(b"u:p").decode()}}}))
    env = {k: v for k, v in os.environ.items() if k not in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR")}
    env["HOME"] = str(home)
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "run")
    r = subprocess.run([hoist_path, "--store", str(tmp_path / "s3"), "pull", srv.host + "/test/img:v1"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    # login writes auth.json under XDG_RUNTIME_DIR, logout removes the entry
    r = subprocess.run([hoist_path, "login", "-u", "u", "-p", "p", srv.host], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 0, r.stderr
    written = json.loads((tmp_path / "run" / "containers" / "auth.json").read_text())
    assert base64.b64decode(written["auths"][srv.host]["auth"]) == b"u:p"
    assert os.stat(tmp_path / "run" / "containers" / "auth.json").st_mode & 0o777 == 0o600
    r = subprocess.run([hoist_path, "login", "-u", "u", "-p", "nope", srv.host], capture_output=True, text=True,
                       env=env)
    assert r.returncode != 0 and "UNAUTHORIZED" in r.stderr
    r = subprocess.run([hoist_path, "logout", srv.host], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    written = json.loads((tmp_path / "run" / "containers" / "auth.json").read_text())
    assert srv.host not in written["auths"]
    r = subprocess.run([hoist_path, "logout", srv.host], capture_output=True, text=True, env=env)
    assert r.returncode != 0 and "not logged in" in r.stderr


def test_bad_manifests_are_refused(hoist_path, fault, tmp_path):
    srv = fault(schema1=True, huge=True)
    r = pull(hoist_path, tmp_path / "s", srv.host + "/test/img:old")
    assert r.returncode != 0 and "schema 1" in r.stderr
    r = pull(hoist_path, tmp_path / "s", srv.host + "/test/img:huge")
    assert r.returncode != 0 and "limit" in r.stderr
    r = pull(hoist_path, tmp_path / "s", srv.host + "/test/img:missing")
    assert r.returncode != 0 and "MANIFEST_UNKNOWN" in r.stderr


def test_manifest_served_as_plain_json(hoist_path, fault, layout, tmp_path):
    srv = fault(plain_manifest_type=True)
    r = pull(hoist_path, tmp_path / "s", srv.host + "/test/img:v1", check=True)
    assert r.stdout.strip() == layout["manifest"]["digest"]


def test_tags_pagination(hoist_path, fault, tmp_path):
    names = ["a", "b", "c", "d", "e"]
    srv = fault(tags=names)
    r = subprocess.run([hoist_path, "--store", str(tmp_path), "tags", srv.host + "/test/img"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == names
    assert len([q for q in srv.requests() if "/tags/list" in q["path"]]) == 3


def test_stalled_transfer_times_out_and_resumes(hoist_path, fault, layout, tmp_path):
    big = big_layer(layout)
    srv = fault(stall={big["digest"]: BIG // 2})
    store = tmp_path / "store"
    t0 = time.monotonic()
    pull(hoist_path, store, srv.host + "/test/img:v1", "--timeout", "2", check=True)
    assert time.monotonic() - t0 < 30
    gets = blob_gets(srv, big["digest"])
    assert len(gets) == 2 and gets[1]["range"] == "bytes=%d-" % (BIG // 2)
    assert R.store_blobs(str(store))[big["digest"]] == big["size"]


def test_slow_registry_shows_progress_on_a_terminal(hoist_path, fault, layout, tmp_path):
    big = big_layer(layout)
    srv = fault(slow={big["digest"]: BIG // 2})
    store = tmp_path / "store"
    # script(1) gives hoist a terminal; its output is what the user would see.
    r = subprocess.run(["script", "-qec", "%s --store %s pull %s/test/img:v1" % (hoist_path, store, srv.host),
                        "/dev/null"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout
    lines = [ln for ln in r.stdout.replace("\r", "\n").split("\n") if big["digest"][7:19] in ln]
    progress = [ln for ln in lines if "%" in ln and "/s" in ln]
    assert len(progress) >= 3  # redrawn while it crawls
    assert any("MiB /" in ln for ln in progress)
    assert any(ln.startswith("Copied blob") or "Copied blob" in ln for ln in lines)


def test_blob_redirects_are_followed(hoist_path, fault, layout, tmp_path):
    srv = fault(redirect=True, token={"user": "u", "pass": "p"})
    store = tmp_path / "store"
    pull(hoist_path, store, srv.host + "/test/img:v1", "--creds", "u:p", check=True)
    big = big_layer(layout)
    followed = [q for q in srv.requests() if q["path"].endswith("?storage=1")]
    assert any(big["digest"] in q["path"] for q in followed)
    assert R.store_blobs(str(store))[big["digest"]] == big["size"]


def check_store_consistent(store):
    """Every tag's manifest, config and layers are present and intact."""
    if not (store / "index.json").exists():
        return 0
    tags = 0
    for entry in R.read_index(str(store))["manifests"]:
        tags += 1
        todo = [entry["digest"]]
        with open(store / "blobs" / "sha256" / entry["digest"][7:], "rb") as f:
            m = json.loads(f.read())
        todo += [m["config"]["digest"]] + [layer["digest"] for layer in m["layers"]]
        for d in todo:
            with open(store / "blobs" / "sha256" / d[7:], "rb") as f:
                assert R.sha256(f.read()) == d
    for name in os.listdir(store / "blobs" / "sha256"):
        with open(store / "blobs" / "sha256" / name, "rb") as f:
            assert R.sha256(f.read()) == "sha256:" + name  # nothing unverified under blobs/
    return tags


def test_killed_at_any_point_leaves_a_consistent_store(hoist_path, fault, layout, tmp_path):
    srv = fault(slow={d["digest"]: BIG for d in layout["layers"]})
    store = tmp_path / "store"
    ref = srv.host + "/test/img:v1"
    for delay in (0.05, 0.3, 0.8, 1.5, 2.5):
        p = subprocess.Popen([hoist_path, "--store", str(store), "pull", "-q", ref], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.kill()
        p.wait()
        check_store_consistent(store)
    pull(hoist_path, store, ref, check=True)
    assert check_store_consistent(store) == 1
    assert any(q["range"] for q in srv.requests())  # later runs resumed earlier ones


def test_index_second_pull_uses_stored_manifests(hoist_path, fault, tmp_path):
    lay = R.Layout(tmp_path / "idx")
    arm = lay.image([R.busybox_files(), [("etc", ("dir",)), ("etc/a", b"arm\n")]], arch="arm64", variant="v8")
    amd = lay.image([R.busybox_files(), [("etc", ("dir",)), ("etc/a", b"amd\n")]], arch="amd64")
    lay.tag(lay.multi([arm, amd]), "v1")
    srv = R.FaultRegistry(tmp_path / "srv", lay.path).start()
    try:
        store = tmp_path / "store"
        # --all-platforms still reports this host's manifest, though it is not the first.
        r = pull(hoist_path, store, srv.host + "/test/img:v1", "--all-platforms", check=True)
        assert r.stdout.strip() == amd["digest"]
        by_digest = [q for q in srv.requests() if "/manifests/sha256:" in q["path"]]
        assert len(by_digest) == 2
        r = pull(hoist_path, store, srv.host + "/test/img:v1", "--all-platforms", check=True)
        by_digest = [q for q in srv.requests() if "/manifests/sha256:" in q["path"]]
        assert len(by_digest) == 2  # nothing fetched again
        assert "Copying blob" not in r.stderr
    finally:
        srv.stop()


def test_two_pulls_sharing_a_blob_fetch_it_once(hoist_path, tmp_path):
    lay = R.Layout(tmp_path / "shared")
    shared = [("shared", os.urandom(BIG))]
    a = lay.image([shared, [("a", b"a\n")]], compression="none")
    b = lay.image([[("b", os.urandom(BIG // 2))], shared], compression="none")
    lay.tag(a, "a")
    lay.tag(b, "b")
    with open(os.path.join(lay.path, "blobs", "sha256", a["digest"][7:])) as f:
        big = json.load(f)["layers"][0]["digest"]
    srv = R.FaultRegistry(tmp_path / "srv", lay.path, slow={big: BIG}).start()
    try:
        store = tmp_path / "store"
        procs = [subprocess.Popen([hoist_path, "--store", str(store), "pull", "-q", srv.host + "/test/img:" + t],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for t in ("a", "b")]
        for p in procs:
            out, errs = p.communicate(timeout=60)
            assert p.returncode == 0, errs
        assert len(blob_gets(srv, big)) == 1
        assert check_store_consistent(store) == 2
    finally:
        srv.stop()


def test_bad_partial_file_is_downloaded_again(hoist_path, fault, layout, tmp_path):
    big = big_layer(layout)
    srv = fault()
    store = tmp_path / "store"
    # A partial download left by a registry that sent wrong bytes.
    (store / ".tmp").mkdir(parents=True)
    (store / ".tmp" / ("sha256-%s.partial" % big["digest"][7:])).write_bytes(b"\0" * 1000)
    pull(hoist_path, store, srv.host + "/test/img:v1", check=True)
    gets = blob_gets(srv, big["digest"])
    assert [g["range"] for g in gets] == ["bytes=1000-", None]
    assert check_store_consistent(store) == 1
