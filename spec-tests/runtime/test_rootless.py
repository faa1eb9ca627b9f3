"""Rootless: the runtime started by an unprivileged user (a throwaway one
made with useradd for this module, removed afterwards) on a bundle from
`spec --rootless`: user namespace mapping that user to root, no cgroup (the
user has no delegated one), device nodes bound from the host, newuidmap and
newgidmap (from /etc/subuid, /etc/subgid) for mappings beyond the user's own
id, and clear errors for what such a user cannot do.
Runs against keel and runc (RUNTIME=/usr/sbin/runc)."""
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time

import pytest

from hardening_util import chown_tree
from helpers import make_rootfs

SUBID_START = 300000
SUBID_COUNT = 65536


def have(tool):
    return shutil.which(tool) is not None


@pytest.fixture(scope="module")
def user():
    if os.geteuid() != 0:
        pytest.skip("needs root to create a throwaway user")
    for tool in ("useradd", "userdel", "setpriv"):
        if not have(tool):
            pytest.skip("%s is not installed" % tool)
    name = "keelrl%d" % (os.getpid() % 100000)
    subprocess.run(["userdel", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for attempt in range(20):  # another session's useradd may hold the passwd lock
        r = subprocess.run(["useradd", "-M", "-N", "-g", "nogroup", "-s", "/bin/false", name],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode == 0:
            break
        time.sleep(0.2)
    assert r.returncode == 0, r.stdout
    pw = pwd.getpwnam(name)
    # gid: the user's own primary group is nogroup; map by the primary gid
    runtime_dir = tempfile.mkdtemp(prefix="keel-rl-run-")
    os.chown(runtime_dir, pw.pw_uid, pw.pw_gid)
    os.chmod(runtime_dir, 0o700)
    for f in ("/etc/subuid", "/etc/subgid"):
        with open(f, "a") as fh:
            fh.write("%s:%d:%d\n" % (name, SUBID_START, SUBID_COUNT))
    try:
        yield pw, runtime_dir
    finally:
        # drop only our own line: another session may have added its own
        for f in ("/etc/subuid", "/etc/subgid"):
            with open(f) as fh:
                lines = fh.read().splitlines(True)
            with open(f, "w") as fh:
                fh.write("".join(l for l in lines if not l.startswith(name + ":")))
        shutil.rmtree(runtime_dir, ignore_errors=True)
        subprocess.run(["userdel", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def as_user(user, rt_path, *args, env_extra=None, timeout=60, preexec_fn=None):
    pw, runtime_dir = user
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "XDG_RUNTIME_DIR": runtime_dir, "HOME": runtime_dir,
           "USER": pw.pw_name}
    env.update(env_extra or {})
    cmd = ["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid), "--clear-groups", "--reset-env",
           "--", "env"] + ["%s=%s" % kv for kv in env.items()] + [rt_path] + list(args)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout,
                           preexec_fn=preexec_fn)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, r.returncode, out.read(), err.read())


class RootlessBundle:
    def __init__(self, user, rt_path):
        pw, runtime_dir = user
        self.user = user
        self.rt_path = rt_path
        self.top = tempfile.mkdtemp(prefix="keel-rl-")
        os.chmod(self.top, 0o755)
        self.path = os.path.join(self.top, "bundle")
        os.mkdir(self.path)
        make_rootfs(os.path.join(self.path, "rootfs"))
        chown_tree(self.top, pw.pw_uid, pw.pw_gid)
        self.root = os.path.join(runtime_dir, "state-%s" % os.path.basename(self.top))
        r = as_user(user, rt_path, "spec", "--rootless", "--bundle", self.path)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(self.path, "config.json")) as f:
            self.config = json.load(f)

    def write(self):
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f)

    def run(self, *args, cid="rl"):
        self.write()
        return as_user(self.user, self.rt_path, "--root", self.root, *args)

    def run_sh(self, script, cid="rl"):
        self.config["process"]["args"] = ["sh", "-c", script]
        self.config["process"]["terminal"] = False
        return self.run("run", "--bundle", self.path, cid)

    def cleanup(self):
        r = as_user(self.user, self.rt_path, "--root", self.root, "list", "-q")
        for cid in r.stdout.split():
            as_user(self.user, self.rt_path, "--root", self.root, "delete", "--force", cid)
        shutil.rmtree(self.top, ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def rb(user, runtime_path):
    b = RootlessBundle(user, runtime_path)
    yield b
    b.cleanup()


def test_spec_rootless_maps_the_callers_ids(rb, user):
    pw, _ = user
    m = rb.config["linux"]
    assert m["uidMappings"] == [{"containerID": 0, "hostID": pw.pw_uid, "size": 1}]
    assert m["gidMappings"] == [{"containerID": 0, "hostID": pw.pw_gid, "size": 1}]
    assert {"type": "user"} in m["namespaces"]
    assert {"type": "network"} not in m["namespaces"]


def test_rootless_bundle_runs_as_the_user(rb, user):
    pw, _ = user
    rb.config["root"]["readonly"] = False
    r = rb.run_sh("id -u; cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/made-inside; "
                  "echo x > /dev/null && echo null-ok")
    assert r.returncode == 0, r.stderr
    out = r.stdout.split()
    assert out[0] == "0"
    assert out[1:4] == ["0", str(pw.pw_uid), "1"]
    assert out[4:7] == ["0", str(pw.pw_gid), "1"]
    assert "null-ok" in out
    st = os.stat(os.path.join(rb.path, "rootfs", "tmp", "made-inside"))
    assert (st.st_uid, st.st_gid) == (pw.pw_uid, pw.pw_gid)
    assert not os.listdir(rb.root) if os.path.isdir(rb.root) else True


def test_rootless_devices_are_bound_from_the_host(rb):
    r = rb.run_sh("stat -c '%n %t:%T' /dev/null /dev/zero /dev/tty; grep -c ' /dev/null ' /proc/self/mountinfo")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "/dev/null 1:3" in lines and "/dev/zero 1:5" in lines
    assert int(lines[-1]) >= 1  # a bind mount, not a node the user could not have made


def test_rootless_container_gets_no_cgroup_of_its_own(rb):
    """The user has no delegated cgroup: the container stays in the cgroup
    its caller is in."""
    with open("/proc/self/cgroup") as f:
        mine = sorted(l.split(":", 2)[2] for l in f.read().splitlines() if l.split(":")[1] in ("memory", "pids"))
    rb.config["linux"]["namespaces"] = [n for n in rb.config["linux"]["namespaces"] if n["type"] != "cgroup"]
    r = rb.run_sh("grep -E ':(memory|pids):' /proc/self/cgroup")
    assert r.returncode == 0, r.stderr
    theirs = sorted(l.split(":", 2)[2] for l in r.stdout.splitlines())
    # setpriv keeps our cgroup: the container's is the same (or its parent)
    assert theirs == mine, (theirs, mine)


def test_rootless_resource_limit_without_a_cgroup_is_an_error(rb):
    rb.config["linux"]["resources"] = {"memory": {"limit": 64 * 1024 * 1024}}
    r = rb.run_sh("true")
    assert r.returncode != 0
    assert "cgroup" in r.stderr.lower(), r.stderr


def test_rootless_mapping_through_newuidmap(rb, user):
    """A mapping beyond the caller's own id needs newuidmap/newgidmap and
    the ranges in /etc/subuid and /etc/subgid."""
    if not (have("newuidmap") and have("newgidmap")):
        pytest.skip("newuidmap/newgidmap (package uidmap) are not installed")
    pw, _ = user
    rb.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": pw.pw_uid, "size": 1},
                                         {"containerID": 1, "hostID": SUBID_START, "size": SUBID_COUNT}]
    rb.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": pw.pw_gid, "size": 1},
                                         {"containerID": 1, "hostID": SUBID_START, "size": SUBID_COUNT}]
    rb.config["root"]["readonly"] = False
    os.chmod(os.path.join(rb.path, "rootfs", "tmp"), 0o1777)
    rb.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    r = rb.run_sh("id -u; id -g; cat /proc/self/uid_map; touch /tmp/by-1000")
    assert r.returncode == 0, r.stderr
    lines = [l.split() for l in r.stdout.splitlines()]
    assert lines[0] == ["1000"] and lines[1] == ["1000"]
    assert ["0", str(pw.pw_uid), "1"] in lines
    assert ["1", str(SUBID_START), str(SUBID_COUNT)] in lines
    st = os.stat(os.path.join(rb.path, "rootfs", "tmp", "by-1000"))
    assert (st.st_uid, st.st_gid) == (SUBID_START + 999, SUBID_START + 999)


def test_rootless_mapping_outside_the_subordinate_ranges_is_refused(rb, user):
    pw, _ = user
    rb.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": pw.pw_uid, "size": 1},
                                         {"containerID": 1, "hostID": 5000000, "size": 100}]
    r = rb.run_sh("true")
    assert r.returncode != 0
    assert "uid" in r.stderr.lower() or "map" in r.stderr.lower(), r.stderr
    if "keel" in os.path.basename(rb.rt_path):
        # names the field, the helper and what it said
        assert "linux.uidMappings" in r.stderr and "newuidmap" in r.stderr, r.stderr
    r = as_user(user, rb.rt_path, "--root", rb.root, "list", "-q")
    assert r.stdout.split() == []


def test_rootless_cannot_join_roots_namespaces(rb):
    rb.config["linux"]["namespaces"].append({"type": "network", "path": "/proc/1/ns/net"})
    r = rb.run_sh("true")
    assert r.returncode != 0
    assert "/proc/1/ns/net" in r.stderr or "network" in r.stderr.lower(), r.stderr


def test_rootless_cannot_bind_what_the_user_cannot_read(rb, tmp_path):
    secret = tempfile.mkdtemp(prefix="keel-rl-secret-")
    try:
        os.chmod(secret, 0o700)
        rb.config["mounts"].append({"destination": "/secret", "type": "bind", "source": secret,
                                    "options": ["bind"]})
        r = rb.run_sh("ls /secret")
        assert r.returncode != 0
        assert "/secret" in r.stderr or secret in r.stderr, r.stderr
    finally:
        shutil.rmtree(secret)


def test_rootless_idmapped_mount_is_a_clear_error(rb, runtime_path):
    """An idmapped mount of a host filesystem needs privileges over it, which
    the user does not have: an error naming the mount, not a plain bind."""
    from mount_util import runc_version
    class _Rt:
        path = runtime_path
    v = runc_version(_Rt)
    if v is not None and v < (1, 2, 0):
        pytest.skip("runc %s has no idmapped mounts" % ".".join(map(str, v)))
    src = tempfile.mkdtemp(prefix="keel-rl-idmap-")
    try:
        os.chmod(src, 0o755)
        rb.config["mounts"].append({"destination": "/idm", "type": "bind", "source": src,
                                    "options": ["bind", "idmap"]})
        r = rb.run_sh("true")
        assert r.returncode != 0
        assert "/idm" in r.stderr, r.stderr
    finally:
        shutil.rmtree(src)


def test_rootless_state_goes_under_xdg_runtime_dir(rb, user):
    """Without --root, an unprivileged caller's state lives in
    $XDG_RUNTIME_DIR/<runtime> (runc: .../runc, keel: .../keel)."""
    _, runtime_dir = user
    rb.config["process"]["args"] = ["sleep", "30"]
    rb.config["process"]["terminal"] = False
    rb.write()
    r = as_user(user, rb.rt_path, "run", "-d", "--bundle", rb.path, "xdg")
    try:
        assert r.returncode == 0, r.stderr
        state = os.path.join(runtime_dir, os.path.basename(rb.rt_path), "xdg")
        assert os.path.isdir(state), os.listdir(runtime_dir)
        r = as_user(user, rb.rt_path, "list", "-q")
        assert "xdg" in r.stdout.split()
    finally:
        r = as_user(user, rb.rt_path, "delete", "--force", "xdg")
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(runtime_dir, os.path.basename(rb.rt_path), "xdg"))


def cgroup_hierarchies():
    """(mountpoint, path of this process) of every cgroup hierarchy."""
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            n, ctrl, path = line.rstrip("\n").split(":", 2)
            own[ctrl] = path
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            fstype, _, sopts = post.split()[:3]
            mp = pre.split()[4]
            if fstype == "cgroup2":
                out.append((mp, own.get("", "/")))
            elif fstype == "cgroup":
                key = ",".join(o for o in sopts.split(",") if o not in ("rw", "ro") and not o.startswith("clone"))
                for ctrl, path in own.items():
                    if ctrl and set(ctrl.split(",")) == set(key.split(",")):
                        out.append((mp, path))
    return out


def test_rootless_with_a_delegated_cgroup_gets_its_limits(rb, user):
    """Root delegates a cgroup directory (chowned to the user) in every
    hierarchy and starts the user's runtime in it: the container gets a
    cgroup below it with its memory limit."""
    pw, _ = user
    name = "keel-rl-deleg-%d" % os.getpid()
    made = []
    try:
        for mp, path in cgroup_hierarchies():
            d = os.path.join(mp + path, name)
            os.mkdir(d)
            made.append(d)
            if os.path.exists(os.path.join(d, "cpuset.cpus")):
                for f in ("cpuset.cpus", "cpuset.mems"):
                    with open(os.path.join(os.path.dirname(d), f)) as src, open(os.path.join(d, f), "w") as dst:
                        dst.write(src.read())
            chown_tree(d, pw.pw_uid, pw.pw_gid)
        if not made:
            pytest.skip("no cgroup hierarchy mounted")

        def enter():
            for d in made:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))

        rb.config["linux"]["cgroupsPath"] = "ctr"
        rb.config["linux"]["resources"] = {"memory": {"limit": 64 * 1024 * 1024}}
        rb.config["process"]["args"] = ["sleep", "30"]
        rb.config["process"]["terminal"] = False
        rb.write()
        r = as_user(user, rb.rt_path, "--root", rb.root, "run", "-d", "--bundle", rb.path, "deleg",
                    preexec_fn=enter)
        assert r.returncode == 0, r.stderr
        try:
            mem = [d for d in made if "/memory/" in d or d.rstrip("/").endswith("/memory")]
            limit_file = os.path.join(mem[0], "ctr", "memory.limit_in_bytes") if mem else None
            if limit_file is None:  # cgroup v2 only
                limit_file = os.path.join(made[0], "ctr", "memory.max")
            with open(limit_file) as f:
                assert int(f.read()) == 64 * 1024 * 1024
            st = json.loads(as_user(user, rb.rt_path, "--root", rb.root, "state", "deleg").stdout)
            with open("/proc/%d/cgroup" % st["pid"]) as f:
                assert "/%s/ctr" % name in f.read()
        finally:
            r = as_user(user, rb.rt_path, "--root", rb.root, "delete", "--force", "deleg")
        assert r.returncode == 0, r.stderr
    finally:
        for d in reversed(made):
            sub = os.path.join(d, "ctr")
            if os.path.isdir(sub):
                os.rmdir(sub)
            os.rmdir(d)


def test_rootless_exec_kill_and_what_needs_a_cgroup(rb):
    """exec and kill work for the user's container; pause and update need a
    cgroup the user does not have: clear errors, and the container goes on."""
    rb.config["process"]["args"] = ["sleep", "30"]
    rb.config["process"]["terminal"] = False
    rb.write()
    r = rb.run("run", "-d", "--bundle", rb.path, "ops")
    assert r.returncode == 0, r.stderr
    try:
        r = rb.run("exec", "ops", "sh", "-c", "id -u; cat /proc/self/uid_map")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split()[0] == "0"
        r = rb.run("pause", "ops")
        assert r.returncode != 0
        assert "cgroup" in r.stderr.lower() or "rootless" in r.stderr.lower(), r.stderr
        st = json.loads(rb.run("state", "ops").stdout)
        assert st["status"] == "running"
        r = rb.run("kill", "ops", "KILL")
        assert r.returncode == 0, r.stderr
    finally:
        rb.run("delete", "--force", "ops")


@pytest.mark.parametrize("nnp", [True, False])
def test_rootless_with_podmans_seccomp_profile(rb, nnp):
    """The user's container loads podman's default profile, with and without
    noNewPrivileges (the init has CAP_SYS_ADMIN in its own user namespace,
    which the kernel requires without no_new_privs): the filter is in force."""
    from seccomp_profiles import PODMAN_PROFILE, podman_default
    if not os.path.exists(PODMAN_PROFILE):
        pytest.skip("%s (containers-common) is not installed" % PODMAN_PROFILE)
    rb.config["linux"]["seccomp"] = podman_default()
    rb.config["process"]["noNewPrivileges"] = nnp
    r = rb.run_sh("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status")
    assert r.returncode == 0, r.stderr
    assert "Seccomp:\t2" in r.stdout, r.stdout
    assert "NoNewPrivs:\t%d" % nnp in r.stdout, r.stdout


def test_rootless_without_a_user_namespace_is_a_clear_error(rb):
    lx = rb.config["linux"]
    lx["namespaces"] = [n for n in lx["namespaces"] if n["type"] != "user"]
    del lx["uidMappings"]
    del lx["gidMappings"]
    r = rb.run_sh("true")
    assert r.returncode != 0
    assert "user namespace" in r.stderr.lower() or "user namespaces" in r.stderr.lower(), r.stderr
    assert as_user(rb.user, rb.rt_path, "--root", rb.root, "list", "-q").stdout.split() == []
