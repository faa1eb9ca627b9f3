"""`features`: the runtime-spec features.json document.

Shared with runc: the document's shape and vocabulary (every name is one
the runtime-spec defines), and ociVersionMax agreeing with `--version`.
Keel-only (skipped for other runtimes): the exact claims keel makes.
"""
import json
import os
import re

import pytest

from lifecycle_util import is_keel

HOOKS = {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
NAMESPACES = {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"}
SECCOMP_ACTIONS = {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
                   "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"}
SECCOMP_OPERATORS = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
                     "SCMP_CMP_MASKED_EQ"}
SECCOMP_FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                 "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}


def semver(v):
    m = re.match(r"^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$", v)
    assert m, "%r is not a SemVer version" % v
    # A pre-release sorts before its release.
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), 0 if m.group(4) else 1)


@pytest.fixture
def features(rt):
    r = rt.run("features")
    if r.returncode != 0 and "unknown command" in r.stderr:
        pytest.skip("the runtime has no features command (crun 1.8)")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_versions(rt, features):
    lo, hi = features["ociVersionMin"], features["ociVersionMax"]
    assert semver(lo) <= semver(hi)
    assert semver(lo)[0] == 1
    spec = re.search(r"^spec: (\S+)", rt.run("--version").stdout, re.M)
    assert spec and spec.group(1) == hi


def test_vocabulary_is_the_specs(features):
    assert set(features["hooks"]) <= HOOKS
    assert all(isinstance(o, str) and o for o in features["mountOptions"])
    assert "ro" in features["mountOptions"] and "bind" in features["mountOptions"]
    lnx = features["linux"]
    assert set(lnx["namespaces"]) <= NAMESPACES
    assert all(re.match(r"^CAP_[A-Z_]+$", c) for c in lnx["capabilities"])
    assert len(set(lnx["capabilities"])) == len(lnx["capabilities"])
    sc = lnx["seccomp"]
    assert isinstance(sc["enabled"], bool)
    assert set(sc["actions"]) <= SECCOMP_ACTIONS
    assert set(sc["operators"]) <= SECCOMP_OPERATORS
    assert all(a.startswith("SCMP_ARCH_") for a in sc["archs"])
    for key in ("knownFlags", "supportedFlags"):
        if key in sc:
            assert set(sc[key]) <= SECCOMP_FLAGS
    if "supportedFlags" in sc and "knownFlags" in sc:
        assert set(sc["supportedFlags"]) <= set(sc["knownFlags"])
    for key in ("apparmor", "selinux", "intelRdt"):
        if key in lnx:
            assert isinstance(lnx[key]["enabled"], bool)
    for key in ("v1", "v2", "systemd", "systemdUser", "rdma"):
        if key in lnx["cgroup"]:
            assert isinstance(lnx["cgroup"][key], bool)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in features.get("annotations", {}).items())


def test_keel_claims(rt, features):
    if not is_keel(rt):
        pytest.skip("keel's own claims; other runtimes implement other sets")
    assert features["ociVersionMin"] == "1.0.0"
    assert set(features["hooks"]) == HOOKS
    lnx = features["linux"]
    assert set(lnx["namespaces"]) == NAMESPACES
    assert len(lnx["capabilities"]) == 41 and lnx["capabilities"][-1] == "CAP_CHECKPOINT_RESTORE"
    assert lnx["cgroup"]["v1"] and lnx["cgroup"]["v2"]
    # The systemd driver (system instance only) yes; nothing keel does not
    # implement: no user-instance driver, no AppArmor/SELinux, no Intel RDT.
    assert lnx["cgroup"]["systemd"] is True and lnx["cgroup"]["systemdUser"] is False
    assert lnx["apparmor"] == {"enabled": False} and lnx["selinux"] == {"enabled": False}
    assert lnx["intelRdt"] == {"enabled": False}
    assert lnx["mountExtensions"] == {"idmap": {"enabled": True}}
    # The idmap mount option and the idmap extension go together.
    assert ("idmap" in features["mountOptions"]) == lnx["mountExtensions"]["idmap"]["enabled"]
    assert set(lnx["seccomp"]["actions"]) == SECCOMP_ACTIONS
    assert set(lnx["seccomp"]["operators"]) == SECCOMP_OPERATORS
    assert features["potentiallyUnsafeConfigAnnotations"] == []
    # runtime-spec 1.2 defines no linux.netDevices entry; keel claims 1.2.
    assert "netDevices" not in lnx


def test_features_rejects_arguments(rt):
    r = rt.run("features", "extra")
    assert r.returncode != 0
    assert '"ociVersionMax"' not in r.stdout
    if is_keel(rt):
        assert "extra" in r.stderr


def test_claimed_namespaces_work(rt, features, bundle):
    """Every namespace features claims, a container really gets."""
    if rt.run("run", "--help").returncode != 0:
        pytest.skip("the runtime has no `run` command yet")
    base = [ns["type"] for ns in bundle.config["linux"]["namespaces"]]
    for i, ns in enumerate(features["linux"]["namespaces"]):
        cfg = bundle.config
        types = base if ns in base else base + [ns]
        cfg["linux"]["namespaces"] = [{"type": t} for t in types]
        cfg["linux"].pop("uidMappings", None)
        cfg["linux"].pop("gidMappings", None)
        if ns == "user":
            # Identity maps: the bundle under pytest's 0700 tmp stays reachable.
            cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
            cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
        # The container's namespace differs from ours: compare the links.
        link = {"network": "net", "mount": "mnt"}.get(ns, ns)
        cfg["process"]["args"] = ["readlink", "/proc/self/ns/" + link]
        bundle.write()
        r = rt.run("run", "--bundle", bundle.path, "featns%d-%d" % (i, os.getpid()), timeout=60)
        assert r.returncode == 0, "%s: %s" % (ns, r.stderr)
        assert r.stdout.strip() != os.readlink("/proc/self/ns/" + link), ns
