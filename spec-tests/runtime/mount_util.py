"""Helpers for the rootfs/mount tests: run a container and look at what it
sees (/proc/self/mountinfo, stat) from the inside."""
import os
import re
import subprocess
import uuid

import pytest


def run_in(rt, bundle, script, cid="mnt", extra=()):
    """Run `sh -c script` in a fresh container; returns CompletedProcess.
    The id gets a random suffix: the default cgroup path is /keel/<id>, and
    runs from other suites may be going on at the same time."""
    bundle.set_args("sh", "-c", script)
    return rt.run("run", *extra, "--bundle", bundle.path, "%s-%s" % (cid, uuid.uuid4().hex[:8]), timeout=60)


def run_ok(rt, bundle, script, cid="mnt", extra=()):
    r = run_in(rt, bundle, script, cid=cid, extra=extra)
    assert r.returncode == 0, "container failed (%d): %s%s" % (r.returncode, r.stdout, r.stderr)
    return r.stdout


def parse_mountinfo(text):
    """{mountpoint: entry} (the last mount on a mount point wins, as the
    kernel shows it); entry has opts (per-mount), fstype, source, super,
    optional (shared:N, master:N, unbindable) and root."""
    mounts = {}
    for line in text.splitlines():
        if " - " not in line:
            continue
        pre, post = line.split(" - ", 1)
        f = pre.split()
        if len(f) < 6:
            continue
        p = post.split()
        mp = f[4].replace("\\040", " ")
        mounts[mp] = {
            "root": f[3],
            "opts": set(f[5].split(",")),
            "optional": f[6:],
            "fstype": p[0],
            "source": p[1] if len(p) > 1 else "",
            "super": set(p[2].split(",")) if len(p) > 2 else set(),
        }
    return mounts


def mountinfo_in(rt, bundle, cid="mnt", before=""):
    out = run_ok(rt, bundle, before + "cat /proc/self/mountinfo", cid=cid)
    return parse_mountinfo(out)


def add_mount(bundle, destination, type_=None, source=None, options=None):
    m = {"destination": destination}
    if type_ is not None:
        m["type"] = type_
    if source is not None:
        m["source"] = source
    if options is not None:
        m["options"] = list(options)
    bundle.config["mounts"].append(m)
    bundle.write()
    return m


def runtime_name(rt):
    return os.path.basename(rt.path)


class HostMount:
    """A tmpfs mounted on the host for the duration of a test (for
    submount tests), unmounted by path on exit."""

    def __init__(self, path):
        self.path = str(path)

    def __enter__(self):
        os.makedirs(self.path, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "keeltest", self.path])
        if r.returncode != 0:
            pytest.skip("cannot mount a tmpfs on the host")
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", "-l", self.path])


def runc_version(rt):
    """(major, minor, patch) when the runtime under test is runc, else None."""
    if runtime_name(rt) != "runc":
        return None
    out = subprocess.run([rt.path, "--version"], stdout=subprocess.PIPE, text=True).stdout
    m = re.search(r"version (\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in m.groups()) if m else None


def skip_if_runc_older(rt, version, why):
    v = runc_version(rt)
    if v is not None and v < version:
        pytest.skip("runc %s: %s" % (".".join(map(str, v)), why))


_HAS_RUN = {}


@pytest.fixture
def needs_run(rt):
    """Skip while the runtime under test has no `run` command (keel before
    the lifecycle lands)."""
    if rt.path not in _HAS_RUN:
        r = rt.run("run", "--help", timeout=20)
        _HAS_RUN[rt.path] = "unknown command" not in (r.stderr + r.stdout)
    if not _HAS_RUN[rt.path]:
        pytest.skip("%s has no `run` command yet" % rt.path)
