"""Stress: 500 sequential and 50 concurrent create/start/delete cycles
leave no state dirs, mounts, cgroups or processes behind."""
import concurrent.futures
import json
import os
import time

import pytest

from lifecycle_util import is_runc, run_files

# Unique per test run: other runs of this suite may share the host.
PREFIX = "kstress-%d-" % os.getpid()
MARK = "keel-stress-marker-%d" % os.getpid()


def count_mounts(path):
    """Host mounts under the bundle (a leak of the container's mounts into
    the host would show there; the host's other mounts come and go with
    unrelated work, so they are not counted)."""
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if path in line)


def count_cgroups():
    """Cgroups named after this test's containers (other work on the host
    may create and remove cgroups meanwhile: only ours are counted)."""
    n = 0
    for _, dirs, _ in os.walk("/sys/fs/cgroup"):
        n += sum(1 for d in dirs if d.startswith(PREFIX))
    return n


def marked_processes(root):
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if MARK.encode() in cmd or root.encode() in cmd:
            found.append(int(p))
    return found


def cycle(rt, bundle, cid, probe=False):
    run_files(rt, "create", "--bundle", bundle.path, cid, check=True)
    if probe:  # the counters see a live container's cgroups and mounts
        assert count_cgroups() > 0
    rt.run("start", cid, check=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        st = json.loads(rt.run("state", cid, check=True).stdout)
        if st["status"] == "stopped":
            break
        time.sleep(0.01)
    rt.run("delete", cid, check=True)


def snapshot(rt, bundle):
    return count_mounts(bundle.path), count_cgroups(), sorted(os.listdir(rt.root))


def settle(rt, bundle, before):
    # Lazy unmounts and cgroup removal finish asynchronously for a moment.
    deadline = time.time() + 10
    while time.time() < deadline and snapshot(rt, bundle) != before:
        time.sleep(0.1)
    return snapshot(rt, bundle)


def test_sequential_cycles_leave_nothing(rt, bundle):
    bundle.set_args("sh", "-c", ": " + MARK)
    before = snapshot(rt, bundle)
    for i in range(500):
        cycle(rt, bundle, PREFIX + "seq%d" % i, probe=(i == 0))
    assert settle(rt, bundle, before) == before
    assert marked_processes(rt.root) == []


def test_concurrent_cycles_leave_nothing(rt, bundle):
    bundle.set_args("sh", "-c", ": " + MARK)
    before = snapshot(rt, bundle)
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as ex:
        list(ex.map(lambda i: cycle(rt, bundle, PREFIX + "con%d" % i), range(50)))
    assert settle(rt, bundle, before) == before
    assert marked_processes(rt.root) == []


def test_concurrent_commands_on_one_container_are_serialized(rt, bundle):
    if is_runc(rt):
        pytest.xfail("runc 1.1: a second concurrent start blocks forever on the exec fifo")
    bundle.set_args("sleep", "60")
    run_files(rt, "create", "--bundle", bundle.path, "one", check=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        starts = list(ex.map(lambda _: run_files(rt, "start", "one").returncode, range(8)))
    assert starts.count(0) == 1, starts
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        deletes = list(ex.map(lambda _: rt.run("delete", "--force", "one").returncode, range(8)))
    assert deletes.count(0) >= 1
    assert rt.list_ids() == []
