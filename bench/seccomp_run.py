#!/usr/bin/python3
"""`run` of /bin/true with podman's default seccomp profile: keel with a warm
cache, keel with a cold cache (the entry removed before every run), runc and
crun, alternating within each round.  Prints medians of CPU time (user+sys of
the runtime and everything it waited for) and the ratios against crun.

    bench/seccomp_run.py [--rounds N] [--keel PATH] [--realistic]

--realistic adds what engines send besides the profile: rlimits, cgroup
limits (memory, pids, cpu), six bind mounts (the default bundle already has
masked and read-only paths).

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


def make_realistic(b, work):
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--realistic", action="store_true")
    ap.add_argument("--keel", default=os.path.join(os.environ.get("KEEL_BUILDDIR", os.path.join(HERE, "..")),
                                                   "keel"))
    args = ap.parse_args()
    prof = podman_default()
    if prof is None:
        sys.exit("podman's seccomp profile is not installed (containers-common)")
    reexec_in_private_mount_ns()
    work = tempfile.mkdtemp(prefix="keel-seccomp-bench-")
    try:
        launcher = os.path.join(work, "measure")
        subprocess.run(["cc", "-O2", "-o", launcher, os.path.join(HERE, "measure.c")], check=True)
        b = helpers.make_bundle(os.path.join(work, "bundle"))
        b.config["process"]["args"] = ["/bin/true"]
        b.config["linux"]["seccomp"] = prof
        if args.realistic:
            make_realistic(b, work)
        b.write()
        keel = os.path.abspath(args.keel)
        runners = {"keel-warm": (keel, os.path.join(work, "root-warm"), False),
                   "keel-cold": (keel, os.path.join(work, "root-cold"), True)}
        for peer in ("runc", "crun"):
            path = shutil.which(peer)
            if path:
                runners[peer] = (path, os.path.join(work, "root-" + peer), False)
        cpu = {k: [] for k in runners}
        errors = {}
        for _ in range(args.rounds):
            for name, (path, root, cold) in runners.items():
                if name in errors:
                    continue
                if cold:
                    shutil.rmtree(os.path.join(root, "seccomp-cache"), ignore_errors=True)
                cid = "s" + uuid.uuid4().hex[:12]
                try:
                    cpu[name].append(measure(launcher, [path, "--root", root, "run", "--bundle", b.path, cid]))
                except RuntimeError as e:
                    errors[name] = str(e)
        med = {k: statistics.median(v) * 1000 for k, v in cpu.items() if v}
        print("run /bin/true, %sbundle with podman's seccomp profile (%d syscalls), %d rounds, median CPU ms"
              % ("realistic " if args.realistic else "", sum(len(r["names"]) for r in prof["syscalls"]),
                 args.rounds))
        for name in runners:
            if name in errors:
                print("  %-10s failed: %s" % (name, errors[name]))
                continue
            ratio = (" %.2fx crun" % (med[name] / med["crun"])) if "crun" in med else ""
            print("  %-10s %6.1f%s" % (name, med[name], ratio))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
