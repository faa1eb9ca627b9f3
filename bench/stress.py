#!/usr/bin/python3
"""Stress keel: N sequential and M concurrent container lifecycles, half of
them with exec, pause/resume and kill in between, while other threads call
`list` and `state`.  Counts fds of a long-lived keel-watching process,
mounts under the bundle, cgroups named after the run, state dirs and
processes before and after, and prints latency percentiles per command.

Usage: bench/stress.py [--runtime PATH] [--sequential 1000] [--concurrent 100]
                       [--workers 10]
Exit 1 on any failed command or anything left behind."""
import argparse
import concurrent.futures
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spec-tests", "runtime"))
from helpers import make_bundle  # noqa: E402

PREFIX = "kbench-%d-" % os.getpid()
lat = {}
lat_lock = threading.Lock()
failures = []


def keel(args, rt, root, timeout=60):
    t = time.monotonic()
    p = subprocess.run([rt, "--root", root] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    with lat_lock:
        lat.setdefault(args[0], []).append(time.monotonic() - t)
    return p


def must(args, rt, root):
    p = keel(args, rt, root)
    if p.returncode != 0:
        failures.append("%s: %s" % (" ".join(args), p.stderr.decode(errors="replace").strip()))
    return p


def lifecycle(i, rt, root, bundle, proc):
    cid = PREFIX + str(i)
    # create leaves the container holding our pipes: give it files.
    with tempfile.TemporaryFile() as out:
        t = time.monotonic()
        p = subprocess.run([rt, "--root", root, "create", "--bundle", bundle, cid], stdin=subprocess.DEVNULL,
                           stdout=out, stderr=out, timeout=60)
        with lat_lock:
            lat.setdefault("create", []).append(time.monotonic() - t)
        if p.returncode != 0:
            out.seek(0)
            failures.append("create %s: %s" % (cid, out.read().decode(errors="replace").strip()))
            return
    must(["start", cid], rt, root)
    if i % 2:
        must(["exec", "--process", proc, cid], rt, root)
        must(["pause", cid], rt, root)
        must(["resume", cid], rt, root)
        must(["kill", cid, "9"], rt, root)
        deadline = time.time() + 10
        while time.time() < deadline:
            st = keel(["state", cid], rt, root)
            if st.returncode == 0 and json.loads(st.stdout)["status"] == "stopped":
                break
            time.sleep(0.01)
        must(["delete", cid], rt, root)
    else:
        must(["delete", "--force", cid], rt, root)


def snapshot(root, bundle):
    with open("/proc/self/mountinfo") as f:
        mounts = sum(1 for line in f if bundle in line)
    cgroups = 0
    for _, dirs, _ in os.walk("/sys/fs/cgroup"):
        cgroups += sum(1 for d in dirs if d.startswith(PREFIX))
    procs = 0
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    procs += PREFIX.encode() in f.read()
            except OSError:
                pass
    fds = len(os.listdir("/proc/self/fd"))
    return {"mounts": mounts, "cgroups": cgroups, "state_dirs": len(os.listdir(root)), "processes": procs,
            "fds": fds}


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", default=os.path.join(os.environ.get("KEEL_BUILDDIR", "."), "keel"))
    ap.add_argument("--sequential", type=int, default=1000)
    ap.add_argument("--concurrent", type=int, default=100)
    ap.add_argument("--workers", type=int, default=10)
    a = ap.parse_args()
    rt = os.path.abspath(a.runtime)
    work = tempfile.mkdtemp(prefix="keel-stress-")
    root = os.path.join(work, "state")
    os.makedirs(root)
    b = make_bundle(pathlib.Path(work) / "bundle")
    b.set_args("sh", "-c", "sleep 30; : " + PREFIX)
    b.write()
    proc = os.path.join(work, "process.json")
    with open(proc, "w") as f:
        json.dump({"args": ["true"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}, f)
    before = snapshot(root, b.path)
    stop = threading.Event()

    def observer():
        while not stop.is_set():
            p = keel(["list", "--format", "json"], rt, root)
            if p.returncode != 0:
                failures.append("list: exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace")))
            for c in json.loads(p.stdout or b"[]") or []:
                keel(["state", c["id"]], rt, root)  # may race with delete: only crashes count
            time.sleep(0.005)

    obs = [threading.Thread(target=observer) for _ in range(2)]
    for t in obs:
        t.start()
    t0 = time.monotonic()
    for i in range(a.sequential):
        lifecycle(i, rt, root, b.path, proc)
    t_seq = time.monotonic() - t0
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.workers) as ex:
        list(ex.map(lambda i: lifecycle(a.sequential + i, rt, root, b.path, proc), range(a.concurrent)))
    t_con = time.monotonic() - t0
    stop.set()
    for t in obs:
        t.join()
    deadline = time.time() + 10
    after = snapshot(root, b.path)
    while after != before and time.time() < deadline:
        time.sleep(0.2)
        after = snapshot(root, b.path)
    print("%d sequential lifecycles in %.1f s, %d concurrent (%d workers) in %.1f s" %
          (a.sequential, t_seq, a.concurrent, a.workers, t_con))
    print("%-8s %7s %8s %8s %8s %8s" % ("command", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"))
    for k in sorted(lat):
        v = lat[k]
        print("%-8s %7d %8.1f %8.1f %8.1f %8.1f" % (k, len(v), pct(v, .5), pct(v, .9), pct(v, .99), max(v) * 1000))
    print("before: %s\nafter:  %s" % (before, after))
    shutil.rmtree(work, ignore_errors=True)
    for f in failures[:20]:
        print("FAILED " + f)
    ok = not failures and after == before
    print("stress: %s (%d failures)" % ("ok" if ok else "FAIL", len(failures)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
