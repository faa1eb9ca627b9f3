"""A broken config.json makes `create` fail with a message that names the
field, and leaves no container behind.

Shared with runc: that create fails and nothing is left (for the cases runc
also refuses).  Keel-only: the exact message, which names the JSON path.
"""
import json
import os
import subprocess

import pytest

from lifecycle_util import is_keel


def set_in(path, value):
    """A mutation that sets cfg[path...] = value (path: tuple of keys/indices)."""
    def mutate(cfg):
        obj = cfg
        for k in path[:-1]:
            if isinstance(k, str) and k not in obj:
                obj[k] = {}
            obj = obj[k]
        obj[path[-1]] = value
    return mutate


def delete_in(path):
    def mutate(cfg):
        obj = cfg
        for k in path[:-1]:
            obj = obj[k]
        del obj[path[-1]]
    return mutate


def chain(*fns):
    def mutate(cfg):
        for f in fns:
            f(cfg)
    return mutate


# (id, mutation, keel's message (a substring of stderr), runc refuses it too)
CASES = [
    ("cap-not-a-string",
     set_in(("process", "capabilities", "bounding"), ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", 3]),
     "config.json: process.capabilities.bounding[3]: expected a string, got a number", True),
    ("unknown-namespace",
     set_in(("linux", "namespaces"), [{"type": "pid"}, {"type": "mount"}, {"type": "pidd"}]),
     'config.json: linux.namespaces[2].type: unknown namespace type "pidd"', True),
    ("unknown-capability", set_in(("process", "capabilities", "effective"), ["CAP_FLY"]),
     'config.json: process.capabilities.effective[0]: unknown capability "CAP_FLY"', False),
    ("unknown-rlimit", set_in(("process", "rlimits"), [{"type": "RLIMIT_NOFILES", "hard": 1, "soft": 1}]),
     'config.json: process.rlimits[0].type: unknown rlimit type "RLIMIT_NOFILES"', True),
    ("uid-not-a-number", set_in(("process", "user", "uid"), "root"),
     "config.json: process.user.uid: expected an integer, got a string", True),
    ("duplicate-namespace",
     set_in(("linux", "namespaces"), [{"type": "pid"}, {"type": "mount"}, {"type": "pid"}]),
     'config.json: linux.namespaces[2]: duplicate namespace type "pid"', True),
    ("relative-cwd", set_in(("process", "cwd"), "tmp"),
     'config.json: process.cwd: "tmp" is not an absolute path', True),
    ("user-ns-without-mappings",
     set_in(("linux", "namespaces"), [{"type": t} for t in ("pid", "ipc", "uts", "mount", "user")]),
     "config.json: linux.uidMappings: a new user namespace needs uid mappings", True),
    ("hostname-without-uts",
     set_in(("linux", "namespaces"), [{"type": t} for t in ("pid", "ipc", "mount")]),
     "config.json: hostname: setting the hostname needs a UTS namespace", True),
    ("host-sysctl", set_in(("linux", "sysctl"), {"kernel.panic": "1"}),
     "config.json: linux.sysctl.kernel.panic: not a namespaced sysctl", True),
    ("unknown-seccomp-action", set_in(("linux", "seccomp"), {"defaultAction": "SCMP_ACT_MAYBE"}),
     'config.json: linux.seccomp.defaultAction: unknown seccomp action "SCMP_ACT_MAYBE"', True),
    ("args-empty", set_in(("process", "args"), []),
     "config.json: process.args: must contain at least one entry", True),
    ("mount-without-destination", set_in(("mounts",), [{"type": "tmpfs", "source": "tmpfs"}]),
     "config.json: mounts[0].destination: missing required field", True),
    ("root-without-path", set_in(("root",), {"readonly": True}),
     "config.json: root.path: missing required field", True),
    ("major-version-2", set_in(("ociVersion",), "2.0.0"),
     'config.json: ociVersion: unsupported major version in "2.0.0"', False),
    ("relative-hook-path", set_in(("hooks",), {"createRuntime": [{"path": "bin/hook"}]}),
     'config.json: hooks.createRuntime[0].path: "bin/hook" is not an absolute path', True),
    ("memory-limit-string", set_in(("linux", "resources", "memory"), {"limit": "1G"}),
     "config.json: linux.resources.memory.limit: expected an integer, got a string", True),
    ("device-bad-type",
     set_in(("linux", "devices"), [{"path": "/dev/x", "type": "q", "major": 1, "minor": 1}]),
     'config.json: linux.devices[0].type: unknown device type "q"', True),
    ("intel-rdt-unsupported", set_in(("linux", "intelRdt"), {"closID": "keeltest"}),
     "config.json: linux.intelRdt: Intel RDT (resctrl) is not supported by keel", False),
    ("process-not-an-object", chain(delete_in(("process",)), set_in(("process",), "sh")),
     "config.json: process: expected an object, got a string", True),
]


@pytest.fixture
def create_rt(rt):
    try:
        ok = rt.run("create", "--help", timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    if not ok:
        pytest.skip("the runtime has no `create` command yet")
    return rt


def container_ids(rt):
    r = rt.run("list", "-q")
    return r.stdout.split() if r.returncode == 0 else []


def create_fails(rt, bundle, cid, global_args=()):
    # stderr to a file, not a pipe: should create wrongly succeed, the
    # container would hold a pipe open and the test would hang until timeout.
    errpath = os.path.join(bundle.path, "..", "create-%s.err" % cid)
    with open(errpath, "w+") as errf:
        r = rt.run("create", "--bundle", bundle.path, cid, global_args=global_args, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=errf)
        errf.seek(0)
        r.stderr = errf.read()
    assert r.returncode != 0, "create accepted the broken config"
    assert cid not in container_ids(rt), "a failed create left the container behind"
    assert not os.path.exists(os.path.join(rt.root, cid)), "a failed create left its state directory"
    return r


@pytest.mark.parametrize("name,mutate,message,runc_refuses", CASES, ids=[c[0] for c in CASES])
def test_broken_config(create_rt, bundle, name, mutate, message, runc_refuses):
    keel = is_keel(create_rt)
    if not keel and not runc_refuses:
        pytest.skip("keel-only rule: runc accepts this config")
    mutate(bundle.config)
    bundle.write()
    r = create_fails(create_rt, bundle, "cfgerr-" + name)
    if keel:
        assert message in r.stderr


def test_invalid_json_names_line_and_column(create_rt, bundle):
    with open(os.path.join(bundle.path, "config.json"), "w") as f:
        f.write('{\n  "ociVersion": "1.0.2",\n  "root": {"path": "rootfs"},,\n}\n')
    r = create_fails(create_rt, bundle, "cfgerr-json")
    if is_keel(create_rt):
        assert "config.json: invalid JSON at line 3, column" in r.stderr


def test_missing_config_json(create_rt, bundle):
    os.unlink(os.path.join(bundle.path, "config.json"))
    r = create_fails(create_rt, bundle, "cfgerr-missing")
    assert "config.json" in r.stderr


def test_message_reaches_the_json_log(create_rt, bundle, tmp_path):
    """Engines show the last error msg of --log (--log-format json)."""
    bundle.config["linux"]["namespaces"].append({"type": "pidd"})
    bundle.write()
    log = tmp_path / "log.json"
    create_fails(create_rt, bundle, "cfgerr-log", global_args=("--log", str(log), "--log-format", "json"))
    errors = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    errors = [e for e in errors if e.get("level") == "error"]
    assert errors, "no error line in the log"
    assert "pidd" in errors[-1]["msg"]
    if is_keel(create_rt):
        assert 'linux.namespaces[5].type: unknown namespace type "pidd"' in errors[-1]["msg"]
