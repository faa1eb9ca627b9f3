"""`spec`: the starter config.json, as runc writes it.

Shared with runc: the fields and values of the default and --rootless
configs (compared with helpers.DEFAULT_CONFIG, which is runc's), the
--bundle/-b option, and refusing to overwrite an existing config.json.
"""
import json
import os
import subprocess

import pytest

from helpers import DEFAULT_CONFIG, make_rootfs

# What may differ between runtimes: the spec version each implements and
# the hostname (runc writes "runc").
IGNORED = ("ociVersion", "hostname")


def write_spec(rt, bundle, *extra):
    r = rt.run("spec", "--bundle", str(bundle), *extra)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(bundle, "config.json")) as f:
        return json.load(f)


def without(cfg, keys):
    return {k: v for k, v in cfg.items() if k not in keys}


def test_spec_matches_runc_defaults(rt, tmp_path):
    cfg = write_spec(rt, tmp_path)
    assert isinstance(cfg["ociVersion"], str) and cfg["ociVersion"].startswith("1.")
    assert isinstance(cfg["hostname"], str) and cfg["hostname"]
    expected = without(DEFAULT_CONFIG, IGNORED)
    got = without(cfg, IGNORED)
    # runc writes terminal: true (helpers' default turns it off for tests).
    assert got["process"]["terminal"] is True
    got["process"]["terminal"] = False
    assert got == expected


def test_spec_short_bundle_option_and_cwd_default(rt, tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    r = rt.run("spec", "-b", str(a))
    assert r.returncode == 0, r.stderr
    assert (a / "config.json").is_file()
    b = tmp_path / "b"
    b.mkdir()
    r = rt.run("spec", cwd=str(b))
    assert r.returncode == 0, r.stderr
    with open(b / "config.json") as f:
        assert json.load(f)["root"] == {"path": "rootfs", "readonly": True}


def test_spec_rootless(rt, tmp_path):
    cfg = write_spec(rt, tmp_path, "--rootless")
    lnx = cfg["linux"]
    types = [ns["type"] for ns in lnx["namespaces"]]
    assert sorted(types) == ["ipc", "mount", "pid", "user", "uts"]
    assert lnx["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert lnx["gidMappings"] == [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    # An unprivileged user cannot program the device cgroup.
    assert "resources" not in lnx
    mounts = {m["destination"]: m for m in cfg["mounts"]}
    assert mounts["/sys"]["source"] == "/sys"
    assert "rbind" in mounts["/sys"]["options"]
    # gid 5 is not mapped, so devpts must not ask for it.
    assert not any(o.startswith("gid=") for o in mounts["/dev/pts"]["options"])
    assert lnx["maskedPaths"] == DEFAULT_CONFIG["linux"]["maskedPaths"]
    assert lnx["readonlyPaths"] == DEFAULT_CONFIG["linux"]["readonlyPaths"]


def test_spec_refuses_to_overwrite(rt, tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"mine": true}')
    r = rt.run("spec", "--bundle", str(tmp_path))
    assert r.returncode != 0
    assert "config.json" in r.stderr
    assert path.read_text() == '{"mine": true}'
    r = rt.run("spec", "--rootless", "--bundle", str(tmp_path))
    assert r.returncode != 0
    assert path.read_text() == '{"mine": true}'


def test_spec_missing_bundle_directory_fails(rt, tmp_path):
    missing = tmp_path / "no" / "such"
    r = rt.run("spec", "--bundle", str(missing))
    assert r.returncode != 0
    assert "no/such" in r.stderr
    assert not missing.exists()


def test_spec_unknown_option_fails(rt, tmp_path):
    r = rt.run("spec", "--bundle", str(tmp_path), "--no-such-option")
    assert r.returncode != 0
    assert not (tmp_path / "config.json").exists()


def runtime_has(rt, command):
    try:
        return rt.run(command, "--help", timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def test_spec_output_runs(rt, tmp_path):
    """The runtime can run the config it writes (with a busybox rootfs)."""
    if not runtime_has(rt, "run"):
        pytest.skip("the runtime has no `run` command yet")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    cfg = write_spec(rt, bundle)
    make_rootfs(str(bundle / "rootfs"))
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sh", "-c", "hostname; echo ok"]
    (bundle / "config.json").write_text(json.dumps(cfg))
    r = rt.run("run", "--bundle", str(bundle), "spec-output-runs-%d" % os.getpid(), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [cfg["hostname"], "ok"]
