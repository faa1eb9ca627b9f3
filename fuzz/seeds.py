#!/usr/bin/python3
"""Write the seed corpora of the hoist, state and layer fuzz targets into
fuzz/corpus/<target>/.  The documents are shaped like what Docker Hub, quay,
a registry:2 server, podman and keel itself write; run again after changing
them (the files are committed, so CI needs no Python to fuzz)."""
import hashlib
import io
import json
import os
import sys
import tarfile

top = os.path.dirname(os.path.abspath(__file__))


def out(target, name, data):
    d = os.path.join(top, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


# --- image config, manifest, index (prefix byte picks the parser in fuzz_manifest) ---
config = {
    "architecture": "amd64", "os": "linux", "created": "2023-07-18T23:19:33.655005962Z",
    "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
               "Cmd": ["sh"], "WorkingDir": "/", "User": "1000:1000", "ExposedPorts": {"80/tcp": {}},
               "Volumes": {"/data": {}}, "Entrypoint": ["/docker-entrypoint.sh"], "StopSignal": "SIGQUIT",
               "Labels": {"maintainer": "NGINX Docker Maintainers"}},
    "rootfs": {"type": "layers", "diff_ids": [sha(b"layer0"), sha(b"layer1")]},
    "history": [{"created": "2023-07-18T23:19:33Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
                {"created": "2023-07-18T23:19:33Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]",
                 "empty_layer": True}],
}
cfg = json.dumps(config).encode()
out("imageconfig", "nginx-like.json", cfg)
out("imageconfig", "minimal.json", json.dumps({"architecture": "arm64", "variant": "v8", "os": "linux",
                                               "rootfs": {"type": "layers", "diff_ids": []}}))
out("imageconfig", "docker-legacy.json", json.dumps({
    "architecture": "amd64", "os": "linux", "container_config": {"Cmd": ["/bin/sh"]},
    "config": {"Cmd": None, "Env": None, "Healthcheck": {"Test": ["CMD", "true"]}, "OnBuild": None},
    "docker_version": "20.10.23", "rootfs": {"type": "layers", "diff_ids": [sha(b"x")]}}))

layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 2590530, "digest": sha(b"l0")}
oci_manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(cfg),
                           "digest": sha(cfg)},
                "layers": [layer, dict(layer, mediaType="application/vnd.oci.image.layer.v1.tar+zstd",
                                       digest=sha(b"l1"), urls=["https://example.com/l1"],
                                       annotations={"org.opencontainers.image.title": "l1"})],
                "annotations": {"org.opencontainers.image.created": "2023-07-18T23:19:33Z"}}
docker_manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                   "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                              "size": 1457, "digest": sha(b"c")},
                   "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                               "size": 772788, "digest": sha(b"d")}]}
plat = [("amd64", None), ("arm", "v6"), ("arm", "v7"), ("arm64", "v8"), ("386", None), ("ppc64le", None),
        ("riscv64", None), ("s390x", None)]
docker_list = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
               "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                              "size": 528, "digest": sha(a.encode() + (v or "").encode()),
                              "platform": dict({"architecture": a, "os": "linux"}, **({"variant": v} if v else {}))}
                             for a, v in plat]}
oci_index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1000,
                            "digest": sha(b"m1"), "platform": {"architecture": "amd64", "os": "linux"}},
                           {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 566,
                            "digest": sha(b"att"), "platform": {"architecture": "unknown", "os": "unknown"},
                            "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                                            "vnd.docker.reference.digest": sha(b"m1")}},
                           {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1000,
                            "digest": sha(b"w"), "platform": {"architecture": "amd64", "os": "windows",
                                                                "os.version": "10.0.17763.4737",
                                                                "os.features": ["win32k"]}}]}
# fuzz_manifest: byte&3 = parser (0 manifest, 1 index, 2 reference, 3 platform),
# (byte>>4)&3 = media type given (0 none, 1 OCI manifest, 2 docker list, 3 application/json).
for name, doc in [("oci-manifest", oci_manifest), ("docker-manifest", docker_manifest)]:
    for mt in (0, 1, 3):
        out("manifest", "%s-%d.bin" % (name, mt), bytes([mt << 4 | 0]) + json.dumps(doc).encode())
for name, doc in [("docker-list", docker_list), ("oci-index", oci_index)]:
    for mt in (0, 2, 3):
        out("manifest", "%s-%d.bin" % (name, mt), bytes([mt << 4 | 1]) + json.dumps(doc, indent=2).encode())
refs = ["busybox", "docker.io/library/busybox:1.36", "localhost:5000/a/b/c:tag",
        "quay.io/podman/hello@sha256:" + "a" * 64, "127.0.0.1:5000/x:y@sha256:" + "b" * 64,
        "[::1]:5000/img:latest", "registry.example.com/org/img.name-1_2__3:v1.0-rc.1", "UPPER/bad"]
for i, r in enumerate(refs):
    out("manifest", "ref-%d.bin" % i, bytes([2]) + r.encode())
for i, p in enumerate(["linux/amd64", "linux/arm/v7", "linux/arm64/v8", "windows/amd64", "linux", "arm64",
                       "linux/amd64/v3"]):
    out("manifest", "platform-%d.bin" % i, bytes([3]) + p.encode())
# Image configs go to fuzz_manifest too, as a manifest: they must be refused cleanly.
out("manifest", "config-as-manifest.bin", bytes([0]) + cfg)

# --- auth (byte&3: 0 or 1 challenge, 2 --creds, 3 base64) ---
challenges = ['Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
              'Bearer realm="https://quay.io/v2/auth",service="quay.io",scope="repository:a/b:pull"',
              'bearer realm=http://127.0.0.1:5001/token, service=local, error="invalid_token"',
              'Basic realm="Registry Realm"', 'Basic', 'Digest realm="x", nonce="y"',
              'Bearer realm="https://a\\"b/c",service=""', 'Bearer service="x"']
for i, c in enumerate(challenges):
    out("auth", "challenge-%d.bin" % i, bytes([0]) + c.encode())
import base64
b64 = base64.b64encode(b"user:p@ss:word").decode()
authfiles = [{"auths": {"docker.io": {"auth": b64}, "localhost:5000": {"auth": b64}}},
             {"auths": {"https://index.docker.io/v1/": {"auth": b64, "email": "x@example.com"}}},
             {"auths": {"quay.io/org/repo": {"auth": b64}, "quay.io": {"auth": base64.b64encode(b"u:").decode()}}},
             {"auths": {"example.com": {"identitytoken": "tok"}}, "credHelpers": {"gcr.io": "gcr"}},
             {"auths": {}, "credsStore": "desktop"}, {"auths": {"docker.io": {"auth": "!!notbase64"}}}]
# fuzz_authfile: byte&3 = registry looked up (docker.io, localhost:5000, quay.io, example.com).
authfiles += [{"auths": {"localhost:5000": {"username": "u", "password": "p"}}},
              {"auths": {"http://localhost:5000": {"auth": b64}, "quay.io/org": {"auth": b64}}},
              {"auths": {"registry-1.docker.io": {"auth": b64}}, "credHelpers": {"quay.io": "ecr-login"}},
              {"credHelpers": {"example.com": "pass"}}]
for i, a in enumerate(authfiles):
    for reg in range(4):
        out("authfile", "authfile-%d-%d.bin" % (i, reg), bytes([reg]) + json.dumps(a, indent=1).encode())
for i, c in enumerate(["user:pass", "user", "user:", ":pass", "a:b:c", ""]):
    out("auth", "creds-%d.bin" % i, bytes([2]) + c.encode())
for i, c in enumerate([b64, "", "YQ==", "YWI=", "YWJj", "YW=J", "====", "Y Q=="]):
    out("auth", "base64-%d.bin" % i, bytes([3]) + c.encode())

# --- state.json as keel writes it, and damaged copies ---
state = {"id": "ctr1", "ociVersion": "1.2.0", "pid": 4242, "pidStart": 123456, "bundle": "/b/ctr1",
         "rootfs": "/b/ctr1/rootfs", "created": "2026-11-29T15:00:00.123456789Z", "owner": "",
         "cgroup": "/sys/fs/cgroup/unified/keel/ctr1", "pidNamespace": True, "systemdCgroup": False,
         "annotations": {"io.podman.annotations.autoremove": "FALSE"},
         "hooks": {"poststop": [{"path": "/usr/bin/true", "args": ["true"], "timeout": 5}]}}
s = json.dumps(state)
out("state", "keel.json", s)
out("state", "truncated.json", s[: len(s) // 2])
for k in ("rootfs", "created", "owner", "cgroup", "annotations", "hooks", "ociVersion"):
    out("state", "no-%s.json" % k, json.dumps({x: y for x, y in state.items() if x != k}))
out("state", "wrong-types.json", json.dumps(dict(state, pid="4242", rootfs=1, annotations=[], hooks=None)))
out("state", "huge-pid.json", json.dumps(dict(state, pid=2**40 + 5, pidStart=-1)))
out("state", "zeros.bin", b"\0" * 64)


# --- layers (uncompressed tar) for fuzz_layer ---
def tar(name, members):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        for m in members:
            ti = tarfile.TarInfo(m[0])
            kind = m[1]
            data = None
            if kind == "file":
                data = m[2]
                ti.size = len(data)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, m[2]
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, m[2]
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            elif kind == "chr":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
            ti.mode = 0o755 if kind == "dir" else 0o644
            ti.mtime = 1700000000
            if len(m) > 3:
                ti.pax_headers = m[3]
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    out("layer", name, b.getvalue())


tar("base.tar", [("bin", "dir"), ("bin/sh", "file", b"#!/bin/true\n"), ("etc", "dir"),
                 ("etc/passwd", "file", b"root:x:0:0::/root:/bin/sh\n"), ("bin/ash", "hardlink", "bin/sh"),
                 ("lib", "symlink", "usr/lib"), ("usr/lib/libc.so", "file", b"\x7fELF"),
                 ("dev/null", "chr"), ("run/fifo", "fifo")])
tar("whiteouts.tar", [("etc/.wh.passwd", "file", b""), ("bin/.wh..wh..opq", "file", b""),
                      ("var/.wh.cache", "file", b"")])
tar("escape-dotdot.tar", [("../escaped", "file", b"x"), ("a/../../escaped2", "file", b"x")])
tar("escape-symlink.tar", [("up", "symlink", ".."), ("up/escaped", "file", b"x"),
                           ("abs", "symlink", "/tmp"), ("abs/escaped", "file", b"x")])
tar("escape-hardlink.tar", [("h", "hardlink", "../canary/file"), ("h2", "hardlink", "/etc/passwd")])
tar("symlink-dir-swap.tar", [("d", "dir"), ("d/f", "file", b"1"), ("d", "symlink", "../canary"),
                             ("d/f", "file", b"2")])
tar("whiteout-escape.tar", [("../.wh.canary", "file", b""), ("up", "symlink", ".."),
                            ("up/.wh.canary", "file", b"")])
tar("xattrs.tar", [("f", "file", b"x", {"SCHILY.xattr.user.test": "v",
                                        "SCHILY.xattr.trusted.overlay.opaque": "y",
                                        "SCHILY.xattr.security.capability": "\x01\x00\x00\x02"})])
tar("longname.tar", [("d" * 100 + "/" + "e" * 150, "file", b"long")])


# --- image references (fuzz_ref: the text as given on hoist's command line) ---
for i, r in enumerate(refs + ["docker://alpine:3.19", "index.docker.io/library/debian:bookworm-slim",
                              "registry-1.docker.io/nginx", "ghcr.io/owner/image/sub:v2",
                              "gcr.io/distroless/static-debian12:nonroot", "localhost/app", "app@sha256:" + "c" * 64,
                              "mcr.microsoft.com/dotnet/runtime:8.0", "public.ecr.aws/docker/library/redis:7",
                              "quay.io/prometheus/node-exporter:v1.7.0@sha256:" + "d" * 64, "a" * 200 + ":t",
                              "Foo/bar", "localhost:5000", "x:" + "t" * 129]):
    out("ref", "ref-%02d.txt" % i, r)


# --- config.json: compact copies of the real configs for the fuzzer ---
# The podman and containerd configs are 15-20 KiB, 7 KiB of it a seccomp
# profile of 400 syscall names and the rest indentation: every mutated
# input would be that big.  These copies keep every field and seccomp rule
# (its action, arguments, errno) but two names per rule, four of a
# privileged container's ~100 host devices, and no whitespace.
cdir = os.path.join(top, "corpus", "config")
for name in sorted(os.listdir(cdir)):
    if not name.endswith(".json"):  # runtime/tests/test_spec_parse.c reads every *.json here
        continue
    with open(os.path.join(cdir, name)) as f:
        doc = json.load(f)
    if isinstance(doc.get("linux", {}).get("devices"), list):
        doc["linux"]["devices"] = doc["linux"]["devices"][:4]  # privileged: every host device
    sc = doc.get("linux", {}).get("seccomp")
    if sc and isinstance(sc.get("syscalls"), list):
        for rule in sc["syscalls"]:
            rule["names"] = rule.get("names", [])[:2]
    out("config", name[:-len(".json")] + ".min", json.dumps(doc, separators=(",", ":")))

    # --- process.json (exec --process) and resources (update --resources) ---
    # podman and containerd's shim write exec's process.json from the
    # container's process (terminal, user, env, caps, rlimits, profiles).
    base = name[:-len(".json")]
    proc = doc.get("process")
    if proc:
        out("process", "process-%s.json" % base, json.dumps(proc, separators=(",", ":")))
    res = doc.get("linux", {}).get("resources")
    if res:
        out("process", "resources-%s.json" % base, json.dumps(res, separators=(",", ":")))
exec_proc = {"terminal": True, "consoleSize": {"height": 24, "width": 80},
             "user": {"uid": 1000, "gid": 1000, "additionalGids": [10, 100], "umask": 18},
             "args": ["/bin/sh", "-c", "echo hi"], "env": ["PATH=/usr/bin:/bin", "TERM=xterm"], "cwd": "/work",
             "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                              "inheritable": [], "ambient": []},
             "noNewPrivileges": True, "apparmorProfile": "", "oomScoreAdj": 100, "selinuxLabel": "",
             "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
             "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
             "scheduler": {"policy": "SCHED_OTHER", "nice": 5}, "execCPUAffinity": {"initial": "0", "final": "0-1"}}
out("process", "exec-full.json", json.dumps(exec_proc, indent=1))
out("process", "exec-minimal.json", json.dumps({"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}}))
out("process", "exec-commandline.json", json.dumps({"commandLine": "cmd /c dir", "cwd": "/",
                                                   "user": {"uid": 0, "gid": 0}}))
out("process", "resources-update-containerd.json", json.dumps(
    {"memory": {"limit": 134217728, "reservation": 67108864, "swap": 268435456, "disableOOMKiller": False},
     "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0-1", "mems": "0",
             "realtimeRuntime": 0, "realtimePeriod": 0, "idle": 0, "burst": 1000},
     "pids": {"limit": 256}, "blockIO": {"weight": 500, "throttleReadBpsDevice": [
         {"major": 8, "minor": 0, "rate": 1048576}]},
     "hugepageLimits": [{"pageSize": "2MB", "limit": 0}], "unified": {"memory.high": "100000000"}}))
out("process", "resources-update-podman.json", json.dumps({"memory": {"limit": -1, "swap": -1},
                                                           "cpu": {"quota": -1, "period": 100000}}))
