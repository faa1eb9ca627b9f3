"""Test helpers for hoist pull: Debian's docker-registry on a loopback port
of its own, OCI images built here from busybox-static, pushed with skopeo.

Every server is started by the test and killed by PID at teardown; every
file lives under pytest's tmp_path."""
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request

REGISTRY_BIN = "/usr/bin/docker-registry"
SKOPEO = shutil.which("skopeo")
BUSYBOX = "/bin/busybox"

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MT_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Registry:
    """docker-registry serving plain HTTP (or TLS / htpasswd when asked)."""

    def __init__(self, workdir, tls=None, htpasswd=None, token=None, port=None):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.storage = os.path.join(self.workdir, "storage")
        self.port = port or free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.tls = tls
        self.proc = None
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": self.storage}, "delete": {"enabled": True}},
            "http": {"addr": self.host, "secret": "hoist-tests"},
        }
        if tls:
            config["http"]["tls"] = {"certificate": tls["cert"], "key": tls["key"]}
        if htpasswd:
            config["auth"] = {"htpasswd": {"realm": "hoist-test", "path": htpasswd}}
        if token:
            config["auth"] = {"token": token}
        self.config = os.path.join(self.workdir, "config.yml")
        with open(self.config, "w") as f:
            json.dump(config, f)  # JSON is YAML

    def start(self):
        self.log = open(os.path.join(self.workdir, "registry.log"), "ab")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError("docker-registry did not start: see %s/registry.log" % self.workdir)
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def push(self, layout, tag, repo, all_platforms=False, fmt=None, creds=None, cert_dir=None):
        """skopeo copy oci:LAYOUT:TAG docker://HOST/REPO:TAG"""
        cmd = [SKOPEO, "--insecure-policy", "copy", "-q"]
        if all_platforms:
            cmd.append("--all")
        if fmt:
            cmd += ["--format", fmt]
        if creds:
            cmd += ["--dest-creds", creds]
        if cert_dir:
            cmd += ["--dest-cert-dir", cert_dir]
        else:
            cmd.append("--dest-tls-verify=false")
        cmd += ["oci:%s:%s" % (layout, tag), "docker://%s/%s:%s" % (self.host, repo, tag)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        return "%s/%s:%s" % (self.host, repo, tag)


def skopeo_fetch(ref, dest, creds=None, cert_dir=None):
    """skopeo copy docker://REF oci:DEST (the reference result to compare with)."""
    cmd = [SKOPEO, "--insecure-policy", "copy", "-q"]
    if creds:
        cmd += ["--src-creds", creds]
    if cert_dir:
        cmd += ["--src-cert-dir", cert_dir]
    else:
        cmd.append("--src-tls-verify=false")
    cmd += ["docker://" + ref, "oci:%s:x" % dest]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_layer(files):
    """files: list of (name, bytes | ('symlink', target) | ('dir',)) -> tar bytes (reproducible)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, content in files:
            ti = tarfile.TarInfo(name)
            ti.mtime = 0
            ti.uid = ti.gid = 0
            if isinstance(content, tuple) and content[0] == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = content[1]
                tf.addfile(ti)
            elif isinstance(content, tuple) and content[0] == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
            else:
                ti.size = len(content)
                ti.mode = 0o755
                tf.addfile(ti, io.BytesIO(content))
    return buf.getvalue()


def busybox_files():
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    return [("bin", ("dir",)), ("bin/busybox", bb), ("bin/sh", ("symlink", "busybox")),
            ("bin/ls", ("symlink", "busybox")), ("bin/cat", ("symlink", "busybox"))]


def compress(data, kind):
    if kind == "gzip":
        return gzip.compress(data, mtime=0), MT_LAYER_GZIP
    if kind == "zstd":
        out = subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout
        return out, MT_LAYER_ZSTD
    return data, MT_LAYER_TAR


class Layout:
    """An OCI image layout being built in DIR."""

    def __init__(self, path):
        self.path = str(path)
        os.makedirs(os.path.join(self.path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(self.path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        self.index = []

    def blob(self, data):
        d = sha256(data)
        with open(os.path.join(self.path, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(data)
        return {"digest": d, "size": len(data)}

    def image(self, layers, arch="amd64", variant=None, compression="gzip", cmd=("/bin/sh",)):
        """layers: list of file lists. Returns the manifest descriptor."""
        descs, diff_ids = [], []
        for files in layers:
            raw = tar_layer(files)
            diff_ids.append(sha256(raw))
            data, mt = compress(raw, compression)
            descs.append(dict(mediaType=mt, **self.blob(data)))
        config = {"architecture": arch, "os": "linux", "config": {"Cmd": list(cmd)},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        if variant:
            config["variant"] = variant
        cfg = dict(mediaType=MT_OCI_CONFIG, **self.blob(json.dumps(config).encode()))
        manifest = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": cfg, "layers": descs}
        m = dict(mediaType=MT_OCI_MANIFEST, **self.blob(json.dumps(manifest).encode()))
        platform = {"architecture": arch, "os": "linux"}
        if variant:
            platform["variant"] = variant
        m["platform"] = platform
        return m

    def multi(self, manifests):
        idx = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": manifests}
        return dict(mediaType=MT_OCI_INDEX, **self.blob(json.dumps(idx).encode()))

    def tag(self, desc, tag):
        d = {k: v for k, v in desc.items() if k != "platform"}
        d["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.index = [e for e in self.index if e["annotations"]["org.opencontainers.image.ref.name"] != tag]
        self.index.append(d)
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": self.index}, f)


def store_blobs(store):
    """{digest: size} of every blob in an OCI layout."""
    out = {}
    for alg in ("sha256", "sha512"):
        d = os.path.join(store, "blobs", alg)
        if os.path.isdir(d):
            for name in os.listdir(d):
                out["%s:%s" % (alg, name)] = os.path.getsize(os.path.join(d, name))
    return out


def read_index(store):
    with open(os.path.join(store, "index.json")) as f:
        return json.load(f)


def store_ref(store, ref_name):
    for m in read_index(store)["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref_name:
            return m
    return None


def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
