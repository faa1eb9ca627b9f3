"""process.*: user, groups, capabilities, rlimits, umask, cwd, env,
noNewPrivileges, oomScoreAdj, and their errors; read back from
/proc/self/status inside the container."""
import os

import pytest

from lifecycle_util import is_runc, run_files


def run_out(rt, bundle, script, cid="p", **kw):
    bundle.set_args("sh", "-c", script)
    r = rt.run("run", "--bundle", bundle.path, cid, **kw)
    assert r.returncode == 0, r.stderr
    return r.stdout


def status_field(text, name):
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("%s not in %s" % (name, text))


def cap_mask(names):
    import ctypes
    import ctypes.util
    libcap = ctypes.CDLL(ctypes.util.find_library("cap"))
    mask = 0
    for n in names:
        v = ctypes.c_int()
        assert libcap.cap_from_name(n.encode(), ctypes.byref(v)) == 0
        mask |= 1 << v.value
    return mask


def test_user_and_groups(rt, bundle):
    bundle.config["process"]["user"] = {"uid": 1234, "gid": 2345, "additionalGids": [10, 20]}
    out = run_out(rt, bundle, "cat /proc/self/status")
    assert status_field(out, "Uid").split() == ["1234"] * 4
    assert status_field(out, "Gid").split() == ["2345"] * 4
    assert sorted(status_field(out, "Groups").split()) == ["10", "20"]


def test_no_additional_gids_means_no_groups(rt, bundle):
    bundle.config["process"]["user"] = {"uid": 0, "gid": 0}
    out = run_out(rt, bundle, "cat /proc/self/status")
    assert status_field(out, "Groups") == ""


def test_capabilities_sets(rt, bundle):
    caps = bundle.config["process"]["capabilities"]
    caps["bounding"] = ["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"]
    caps["effective"] = ["CAP_KILL", "CAP_CHOWN"]
    caps["permitted"] = ["CAP_KILL", "CAP_CHOWN"]
    caps["inheritable"] = ["CAP_KILL"]
    caps["ambient"] = ["CAP_KILL"]
    out = run_out(rt, bundle, "cat /proc/self/status")
    assert int(status_field(out, "CapBnd"), 16) == cap_mask(["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"])
    assert int(status_field(out, "CapEff"), 16) == cap_mask(["CAP_KILL", "CAP_CHOWN"])
    assert int(status_field(out, "CapPrm"), 16) == cap_mask(["CAP_KILL", "CAP_CHOWN"])
    assert int(status_field(out, "CapInh"), 16) == cap_mask(["CAP_KILL"])
    assert int(status_field(out, "CapAmb"), 16) == cap_mask(["CAP_KILL"])


def test_non_root_user_keeps_ambient_caps(rt, bundle):
    caps = bundle.config["process"]["capabilities"]
    for k in ("bounding", "effective", "permitted", "inheritable", "ambient"):
        caps[k] = ["CAP_NET_BIND_SERVICE"]
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    out = run_out(rt, bundle, "cat /proc/self/status")
    want = cap_mask(["CAP_NET_BIND_SERVICE"])
    assert int(status_field(out, "CapEff"), 16) == want
    assert int(status_field(out, "CapAmb"), 16) == want


def test_unknown_capability_is_an_error(rt, bundle):
    bundle.config["process"]["capabilities"]["bounding"] = ["CAP_KILL", "CAP_NO_SUCH_THING"]
    bundle.set_args("true")
    r = run_files(rt, "create", "--bundle", bundle.path, "badcap")
    assert "CAP_NO_SUCH_THING" in r.stderr
    if is_runc(rt):  # runc 1.1 only warns
        assert "warning" in r.stderr
        return
    assert r.returncode != 0
    assert rt.list_ids() == []


def test_rlimits(rt, bundle):
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
                                           {"type": "RLIMIT_NPROC", "soft": 1111, "hard": 2222}]
    out = run_out(rt, bundle, "cat /proc/self/limits")
    lines = {l[:26].strip(): l[26:].split() for l in out.splitlines()[1:]}
    assert lines["Max open files"][:2] == ["321", "654"]
    assert lines["Max processes"][:2] == ["1111", "2222"]


def test_rlimit_above_hard_limit_fails(rt, bundle):
    # The host's hard RLIMIT_NOFILE is the ceiling without CAP_SYS_RESOURCE.
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("unlimited hard RLIMIT_NOFILE on this host")
    with open("/proc/self/status") as f:
        bnd = int(status_field(f.read(), "CapBnd"), 16)
    if bnd & (1 << 24):
        pytest.skip("CAP_SYS_RESOURCE is available: raising the limit would succeed")
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": hard + 1, "hard": hard + 1}]
    bundle.set_args("true")
    r = run_files(rt, "create", "--bundle", bundle.path, "rl")
    assert r.returncode != 0
    assert "rlimit" in r.stderr.lower()
    assert rt.list_ids() == []


def test_umask(rt, bundle):
    bundle.config["process"]["user"]["umask"] = 0o077
    bundle.config["root"]["readonly"] = False
    out = run_out(rt, bundle, "umask; touch /tmp/f; stat -c %a /tmp/f")
    assert out.split() == ["0077", "600"]


def test_default_umask_is_022(rt, bundle):
    out = run_out(rt, bundle, "umask")
    assert out.strip() == "0022"


def test_cwd_and_created_when_missing(rt, bundle):
    bundle.config["process"]["cwd"] = "/var/work/dir"
    bundle.config["root"]["readonly"] = False
    out = run_out(rt, bundle, "pwd")
    assert out.strip() == "/var/work/dir"
    assert os.path.isdir(os.path.join(bundle.rootfs, "var/work/dir"))


def test_env_exact(rt, bundle):
    bundle.config["process"]["env"] = ["PATH=/bin", "FOO=bar baz", "EMPTY="]
    out = run_out(rt, bundle, "env")
    lines = set(out.splitlines())
    assert {"PATH=/bin", "FOO=bar baz", "EMPTY="} <= lines
    # nothing of the caller's environment leaks in; HOME comes from the
    # container's /etc/passwd when the config has none (as runc does)
    assert not any(l.startswith("PYTEST") or l.startswith("KEEL_") for l in lines)
    assert "HOME=/root" in lines


def test_path_lookup_uses_container_env(rt, bundle):
    bundle.config["process"]["env"] = ["PATH=/usr/bin:/bin"]
    bundle.set_args("echo", "found")
    r = rt.run("run", "--bundle", bundle.path, "pl")
    assert r.returncode == 0 and r.stdout == "found\n"


def test_program_not_in_path(rt, bundle):
    bundle.set_args("no-such-program-xyz")
    r = run_files(rt, "create", "--bundle", bundle.path, "np")
    assert r.returncode != 0
    assert "no-such-program-xyz" in r.stderr
    assert rt.list_ids() == []


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(rt, bundle, nnp):
    bundle.config["process"]["noNewPrivileges"] = nnp
    out = run_out(rt, bundle, "cat /proc/self/status", cid="nnp%d" % nnp)
    assert status_field(out, "NoNewPrivs") == ("1" if nnp else "0")


def test_oom_score_adj(rt, bundle):
    bundle.config["process"]["oomScoreAdj"] = 345
    out = run_out(rt, bundle, "cat /proc/self/oom_score_adj")
    assert out.strip() == "345"


def test_hostname_and_domainname(rt, bundle):
    if is_runc(rt):
        pytest.xfail("runc 1.1 does not implement domainname")
    bundle.config["hostname"] = "box1"
    bundle.config["domainname"] = "example.org"
    out = run_out(rt, bundle, "hostname; cat /proc/sys/kernel/domainname")
    assert out.split() == ["box1", "example.org"]


def test_hostname_without_uts_namespace_is_an_error(rt, bundle):
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"]
                                            if n["type"] != "uts"]
    bundle.config["hostname"] = "nope"
    bundle.set_args("true")
    r = run_files(rt, "create", "--bundle", bundle.path, "h")
    assert r.returncode != 0
    assert "hostname" in r.stderr.lower() or "uts" in r.stderr.lower()
    assert rt.list_ids() == []


def test_apparmor_profile_without_apparmor_is_an_error(rt, bundle):
    if os.path.exists("/sys/kernel/security/apparmor"):
        pytest.skip("AppArmor is enabled on this host")
    bundle.config["process"]["apparmorProfile"] = "some-profile"
    bundle.set_args("true")
    r = run_files(rt, "create", "--bundle", bundle.path, "aa")
    assert r.returncode != 0
    assert rt.list_ids() == []


def test_pid_one_and_args(rt, bundle):
    bundle.set_args("sh", "-c", 'echo $$; echo "$0|$1"', "zero", "one two")
    r = rt.run("run", "--bundle", bundle.path, "a")
    assert r.returncode == 0
    assert r.stdout.split("\n")[:2] == ["1", "zero|one two"]


def test_io_priority(rt, bundle):
    if is_runc(rt):
        pytest.xfail("runc 1.1 predates this runtime-spec 1.1/1.2 field")
    bundle.config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    out = run_out(rt, bundle, "/bin/busybox ionice -p $$")
    assert "best-effort" in out and "6" in out, out


def test_scheduler_policy(rt, bundle):
    if is_runc(rt):
        pytest.xfail("runc 1.1 predates this runtime-spec 1.1/1.2 field")
    bundle.config["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 5}
    out = run_out(rt, bundle, "grep -E '^(policy|prio)' /proc/self/sched; cut -d' ' -f19 /proc/self/stat")
    fields = {l.split(":")[0].strip(): l.split(":")[1].strip() for l in out.splitlines() if ":" in l}
    assert fields["policy"] == "3"  # SCHED_BATCH
    assert out.split()[-1] == "5"   # nice


def test_personality_linux32(rt, bundle):
    if is_runc(rt):
        pytest.xfail("runc 1.1 predates this runtime-spec 1.1/1.2 field")
    if os.uname().machine != "x86_64":
        pytest.skip("LINUX32 is checked on x86_64")
    bundle.config["linux"]["personality"] = {"domain": "LINUX32"}
    out = run_out(rt, bundle, "uname -m")
    assert out.strip() in ("i686", "i386")


def test_exec_cpu_affinity(rt, bundle):
    if is_runc(rt):
        pytest.xfail("runc 1.1 predates this runtime-spec 1.1/1.2 field")
    if os.cpu_count() < 2:
        pytest.skip("needs two CPUs")
    bundle.config["process"]["execCPUAffinity"] = {"initial": "0-1", "final": "1"}
    out = run_out(rt, bundle, "grep Cpus_allowed_list /proc/self/status")
    assert out.split()[-1] == "1"


def test_not_executable_says_permission_denied(rt, bundle):
    # podman turns "permission denied" into exit status 126
    bundle.set_args("/etc/passwd")
    r = run_files(rt, "run", "--bundle", bundle.path, "ne")
    assert r.returncode != 0
    assert "permission denied" in r.stderr.lower()
    assert rt.list_ids() == []


def test_not_found_says_no_such_file(rt, bundle):
    # ... and "no such file or directory" / "not found in $PATH" into 127
    bundle.set_args("/bin/no-such-binary")
    r = run_files(rt, "run", "--bundle", bundle.path, "nf")
    assert r.returncode != 0
    assert "no such file or directory" in r.stderr.lower()
