#!/usr/bin/python3
"""Pull benchmark: `hoist pull` vs `skopeo copy docker://... oci:...` of the
same ~70 MB (compressed) multi-layer image from a docker-registry started on
loopback, side by side in one run (rounds alternate, fresh destination each
time). Prints the median wall time of each and the ratio hoist/skopeo.

Usage: bench/hoist_pull.py [--hoist PATH] [--rounds N] [--zstd]"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "spec-tests", "image"))
import registry as R  # noqa: E402

SOURCES = [
    ["/usr/lib/python3.11"],
    ["/usr/share/perl", "/usr/share/zoneinfo"],
    ["/usr/lib/x86_64-linux-gnu/perl-base", "/usr/lib/x86_64-linux-gnu/gconv", "/usr/share/i18n"],
    ["/usr/share/doc"],
]


def files_of(paths):
    out = []
    for top in paths:
        for root, dirs, files in os.walk(top):
            rel = root.lstrip("/")
            out.append((rel, ("dir",)))
            for f in files:
                p = os.path.join(root, f)
                if os.path.islink(p):
                    out.append((os.path.join(rel, f), ("symlink", os.readlink(p))))
                elif os.path.isfile(p):
                    with open(p, "rb") as fh:
                        out.append((os.path.join(rel, f), fh.read()))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hoist", default=os.path.join(HERE, "..", "build", "hoist"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--zstd", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="hoist-pull-bench.", dir="/var/tmp")
    reg = None
    try:
        lay = R.Layout(os.path.join(work, "layout"))
        layers = [files_of(p) for p in SOURCES]
        m = lay.image(layers, compression="zstd" if args.zstd else "gzip")
        lay.tag(m, "bench")
        size = sum(R.store_blobs(lay.path).values())
        reg = R.Registry(os.path.join(work, "registry")).start()
        ref = reg.push(lay.path, "bench", "bench/image")
        print("image: %d layers, %.1f MB compressed, %s" % (len(layers), size / 1e6, ref))
        times = {"hoist": [], "skopeo": []}
        cmds = {
            "hoist": lambda d: [args.hoist, "--store", d, "pull", "-q", ref],
            "skopeo": lambda d: [R.SKOPEO, "--insecure-policy", "copy", "-q", "--src-tls-verify=false",
                                 "docker://" + ref, "oci:%s:bench" % d],
        }
        for rnd in range(args.rounds + 1):
            order = ["hoist", "skopeo"] if rnd % 2 == 0 else ["skopeo", "hoist"]
            for tool in order:
                dest = os.path.join(work, "dest-%s-%d" % (tool, rnd))
                subprocess.run(["sync"])
                t0 = time.monotonic()
                subprocess.run(cmds[tool](dest), check=True, stdout=subprocess.DEVNULL)
                elapsed = time.monotonic() - t0
                shutil.rmtree(dest)
                if rnd > 0:  # round 0 warms the registry's and the page cache
                    times[tool].append(elapsed)
        h = statistics.median(times["hoist"])
        s = statistics.median(times["skopeo"])
        print("hoist pull   median %.3f s  (%s)" % (h, " ".join("%.3f" % t for t in times["hoist"])))
        print("skopeo copy  median %.3f s  (%s)" % (s, " ".join("%.3f" % t for t in times["skopeo"])))
        print("ratio hoist/skopeo: %.2f (target <= 0.70)" % (h / s))
    finally:
        if reg:
            reg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
