#!/usr/bin/python3
"""`exec` of /bin/true into a running realistic container: keel, runc and
crun side by side, alternating within each round.  Prints medians of CPU
time (user+sys of the runtime and everything it waited for, from wait4's
rusage, see measure.c) and the ratios against crun.

    bench/exec_bench.py [--rounds N] [--keel PATH] [--no-seccomp]

The container is what an engine starts: podman's default seccomp profile
(when installed), rlimits, memory/pids/cpu limits, six bind mounts, masked
and read-only paths (from the default bundle), a pid namespace.

Runs in a private mount namespace without the cgroup2 mount at
/sys/fs/cgroup/unified, as bench/run does, because crun refuses hybrid hosts.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "spec-tests", "runtime"))
import helpers  # noqa: E402
from seccomp_profiles import podman_default  # noqa: E402


def reexec_in_private_mount_ns():
    if os.environ.get("KEEL_BENCH_NS") == "1":
        return
    os.environ["KEEL_BENCH_NS"] = "1"
    script = ("mount --make-rprivate / && "
              "(mountpoint -q /sys/fs/cgroup/unified && umount /sys/fs/cgroup/unified || true) && "
              'exec "$@"')
    os.execvp("unshare", ["unshare", "-m", "sh", "-c", script, "sh", sys.executable] + sys.argv)


def measure(launcher, argv):
    p = subprocess.run([launcher] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    last = p.stderr.strip().splitlines()[-1].split() if p.stderr.strip() else []
    if len(last) != 5 or last[0] != "MEASURE" or int(last[1]) != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), p.stderr.strip()[-300:]))
    return float(last[2])


def make_bundle(work, seccomp):
    b = helpers.make_bundle(os.path.join(work, "bundle"))
    b.config["process"]["args"] = ["sleep", "100000"]
    b.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096},
                                      {"type": "RLIMIT_NPROC", "hard": 4096, "soft": 4096}]
    b.config["linux"]["resources"].update({"memory": {"limit": 512 << 20}, "pids": {"limit": 1024},
                                           "cpu": {"shares": 512}})
    for i in range(6):
        src = os.path.join(work, "bind%d" % i)
        os.makedirs(src, exist_ok=True)
        os.makedirs(os.path.join(b.rootfs, "mnt", "b%d" % i), exist_ok=True)
        b.config["mounts"].append({"destination": "/mnt/b%d" % i, "type": "bind", "source": src,
                                   "options": ["rbind", "ro" if i % 2 else "rw"]})
    if seccomp:
        b.config["linux"]["seccomp"] = seccomp
    b.write()
    return b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--no-seccomp", action="store_true")
    ap.add_argument("--keel", default=os.path.join(os.environ.get("KEEL_BUILDDIR", os.path.join(HERE, "..")),
                                                   "keel"))
    args = ap.parse_args()
    prof = None if args.no_seccomp else podman_default()
    reexec_in_private_mount_ns()
    work = tempfile.mkdtemp(prefix="keel-exec-bench-")
    runners = {"keel": os.path.abspath(args.keel)}
    for peer in ("runc", "crun"):
        if shutil.which(peer):
            runners[peer] = shutil.which(peer)
    started = {}
    try:
        launcher = os.path.join(work, "measure")
        subprocess.run(["cc", "-O2", "-o", launcher, os.path.join(HERE, "measure.c")], check=True)
        b = make_bundle(work, prof)
        errors = {}
        for name, path in runners.items():
            root = os.path.join(work, "root-" + name)
            cid = "x" + uuid.uuid4().hex[:12]
            with open(os.path.join(work, name + ".err"), "w") as err:
                r = subprocess.run([path, "--root", root, "run", "-d", "--bundle", b.path, cid],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            if r.returncode != 0:
                errors[name] = open(os.path.join(work, name + ".err")).read().strip()[-300:]
                continue
            started[name] = (path, root, cid)
        cpu = {k: [] for k in started}
        for _ in range(args.rounds):
            for name, (path, root, cid) in started.items():
                if name in errors:
                    continue
                try:
                    cpu[name].append(measure(launcher, [path, "--root", root, "exec", cid, "/bin/true"]))
                except RuntimeError as e:
                    errors[name] = str(e)
        med = {k: statistics.median(v) * 1000 for k, v in cpu.items() if v}
        print("exec /bin/true into a running container (%s, rlimits, cgroup limits, 6 binds), %d rounds, "
              "median CPU ms" % ("podman's seccomp profile" if prof else "no seccomp", args.rounds))
        for name in runners:
            if name in errors:
                print("  %-6s failed: %s" % (name, errors[name]))
                continue
            spread = sorted(cpu[name])
            ratio = (" %.2fx crun" % (med[name] / med["crun"])) if "crun" in med else ""
            print("  %-6s %6.2f  (p10 %.2f, p90 %.2f)%s" % (name, med[name], spread[len(spread) // 10] * 1000,
                                                          spread[(len(spread) * 9) // 10] * 1000, ratio))
    finally:
        for name, (path, root, cid) in started.items():
            subprocess.run([path, "--root", root, "delete", "--force", cid], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
