#!/usr/bin/python3
"""Unpack benchmark: hoist unpack vs umoci unpack vs `tar -x` of the same
layers, on a fresh journaled ext4 on a loop device (the VM's root fs has no
journal and slows down erratically under repeated create/delete).

A ~70 MB (compressed), 4-layer image is built from host directories into an
OCI layout; rounds alternate between the tools; medians of wall time are
printed. Usage: bench/hoist_unpack.py [--hoist PATH] [--rounds N] [--zstd]"""
import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

SOURCES = [
    ["/usr/lib/python3.11"],
    ["/usr/share/perl", "/usr/share/zoneinfo", "/usr/share/perl5"],
    ["/usr/lib/x86_64-linux-gnu/perl", "/usr/lib/x86_64-linux-gnu/perl-base", "/usr/lib/python3/dist-packages"],
    ["/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "/usr/lib/gcc/x86_64-linux-gnu/12/lto1"],
]


def layer(paths):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for p in paths:
            if os.path.exists(p):
                t.add(p, arcname=p.lstrip("/"))
    return buf.getvalue()


def build_layout(path, zstd):
    os.makedirs(os.path.join(path, "blobs", "sha256"))
    blobs = os.path.join(path, "blobs", "sha256")

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, d), "wb") as f:
            f.write(data)
        return "sha256:" + d

    descs, ids, raws = [], [], []
    for paths in SOURCES:
        raw = layer(paths)
        if zstd:
            blob = subprocess.run(["zstd", "-q", "-c", "-3"], input=raw, capture_output=True, check=True).stdout
            media = "application/vnd.oci.image.layer.v1.tar+zstd"
        else:
            blob = gzip.compress(raw, compresslevel=6, mtime=0)
            media = "application/vnd.oci.image.layer.v1.tar+gzip"
        descs.append({"mediaType": media, "digest": put(blob), "size": len(blob)})
        ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        raws.append(len(raw))
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                      "rootfs": {"type": "layers", "diff_ids": ids}}).encode()
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg),
                               "size": len(cfg)}, "layers": descs}).encode()
    md = put(m)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": len(m),
             "annotations": {"org.opencontainers.image.ref.name": ref}}
            for ref in ("localhost/bench:1", "bench")]}, f)
    return [os.path.join(blobs, d["digest"].split(":")[1]) for d in descs], sum(d["size"] for d in descs), sum(raws)


def start_registry(workdir):
    """Debian's docker-registry on a free loopback port (killed by PID by the caller)."""
    import socket
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        port = so.getsockname()[1]
    host = "127.0.0.1:%d" % port
    cfg = os.path.join(workdir, "registry.yml")
    with open(cfg, "w") as f:  # JSON is YAML
        json.dump({"version": 0.1, "log": {"level": "warn", "accesslog": {"disabled": True}},
                   "storage": {"filesystem": {"rootdirectory": os.path.join(workdir, "registry")}},
                   "http": {"addr": host, "secret": "bench"}}, f)
    proc = subprocess.Popen(["docker-registry", "serve", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, host
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("docker-registry did not start")


def timed(cmd, **kw):
    t = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.monotonic() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hoist", default=os.path.join(os.environ.get("KEEL_BUILDDIR", "."), "hoist"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--zstd", action="store_true")
    ap.add_argument("--no-umoci", action="store_true")
    ap.add_argument("--registry", action="store_true", help="also pull+unpack from a local registry")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="hoist-bench-")
    img, mnt = os.path.join(work, "fs.img"), os.path.join(work, "mnt")
    os.makedirs(mnt)
    try:
        subprocess.run(["truncate", "-s", "3G", img], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-J", "size=64", img], check=True)
        subprocess.run(["mount", "-o", "loop", img, mnt], check=True)
        layout = os.path.join(mnt, "layout")
        blobs, csize, usize = build_layout(layout, a.zstd)
        print("image: %d layers, %.1f MB compressed, %.1f MB uncompressed" % (len(blobs), csize / 1e6, usize / 1e6))
        decomp = "zstd" if a.zstd else "gzip"
        tools = {
            "tar -x": lambda d: [timed(["sh", "-c", "mkdir -p %s && " % d + " && ".join(
                "tar -x -I %s --numeric-owner --xattrs --xattrs-include='*' -C %s -f %s" % (decomp, d, b)
                for b in blobs)])],
            "hoist unpack": lambda d: [timed([a.hoist, "--store", layout, "unpack", "localhost/bench:1", d])],
        }
        if not a.zstd and not a.no_umoci and shutil.which("umoci"):
            tools["umoci unpack"] = lambda d: [timed(["umoci", "unpack", "--image", layout + ":bench", d])]
        results = {k: [] for k in tools}
        for r in range(a.rounds):
            for name, fn in tools.items():
                d = os.path.join(mnt, "out")
                subprocess.run(["sync"])
                results[name] += fn(d)
                shutil.rmtree(d)
        if os.geteuid() == 0:
            # Overlay bundles: the first fills the layer cache, the next ones are one mount.
            ov = []
            for i in range(a.rounds + 1):
                d = os.path.join(mnt, "ov%d" % i)
                ov.append(timed([a.hoist, "--store", layout, "unpack", "--overlay", "localhost/bench:1", d]))
                subprocess.run(["umount", os.path.join(d, "rootfs")], check=True)
            print("overlay unpack: first %.3f s, then median %.3f s" % (ov[0], statistics.median(ov[1:])))
        if a.registry and shutil.which("docker-registry") and shutil.which("skopeo"):
            proc, host = start_registry(work)
            try:
                ref = "%s/bench/img:1" % host
                subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false",
                                "oci:%s:bench" % layout, "docker://" + ref], check=True)
                first = {"hoist pull+unpack": [], "skopeo+umoci": []}
                for r in range(a.rounds):
                    st, d = os.path.join(mnt, "st"), os.path.join(mnt, "out")
                    subprocess.run(["sync"])
                    first["hoist pull+unpack"].append(timed([a.hoist, "--store", st, "unpack", ref, d]))
                    shutil.rmtree(st)
                    shutil.rmtree(d)
                    subprocess.run(["sync"])
                    t = time.monotonic()
                    subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", "--src-tls-verify=false",
                                    "docker://" + ref, "oci:%s:x" % st], check=True)
                    subprocess.run(["umoci", "unpack", "--image", st + ":x", d], check=True,
                                   stdout=subprocess.DEVNULL)
                    first["skopeo+umoci"].append(time.monotonic() - t)
                    shutil.rmtree(st)
                    shutil.rmtree(d)
                peer = statistics.median(first["skopeo+umoci"])
                for name, v in first.items():
                    print("%-18s median %.3f s  (%.2fx skopeo+umoci)" % (name, statistics.median(v),
                                                                         statistics.median(v) / peer))
            finally:
                proc.kill()
                proc.wait()
        base = statistics.median(results["tar -x"])
        for name, v in results.items():
            med = statistics.median(v)
            print("%-14s median %.3f s  (%.2fx tar -x)  runs %s" % (name, med, med / base,
                                                                 " ".join("%.3f" % x for x in v)))
    finally:
        subprocess.run(["umount", mnt], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
