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
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


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

    def docker_image(self, layers, arch="amd64", variant=None):
        """A Docker schema 2 image (gzip layers, Docker media types)."""
        descs, diff_ids = [], []
        for files in layers:
            raw = tar_layer(files)
            diff_ids.append(sha256(raw))
            descs.append(dict(mediaType=MT_DOCKER_LAYER, **self.blob(gzip.compress(raw, mtime=0))))
        config = {"architecture": arch, "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        if variant:
            config["variant"] = variant
        cfg = dict(mediaType=MT_DOCKER_CONFIG, **self.blob(json.dumps(config).encode()))
        manifest = {"schemaVersion": 2, "mediaType": MT_DOCKER_MANIFEST, "config": cfg, "layers": descs}
        m = dict(mediaType=MT_DOCKER_MANIFEST, **self.blob(json.dumps(manifest).encode()))
        m["platform"] = {"architecture": arch, "os": "linux"}
        if variant:
            m["platform"]["variant"] = variant
        return m

    def docker_list(self, manifests):
        lst = {"schemaVersion": 2, "mediaType": MT_DOCKER_LIST, "manifests": manifests}
        return dict(mediaType=MT_DOCKER_LIST, **self.blob(json.dumps(lst).encode()))

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


# ---------------------------------------------------------------------------
# A registry that misbehaves on purpose (run as its own process so that a
# test can kill it mid-blob). It serves one repository from an OCI layout.

FAULT_SERVER = os.path.abspath(__file__)


class FaultRegistry:
    """python3 registry.py fault CONFIG: see fault_serve() for the knobs."""

    def __init__(self, workdir, layout, repo="test/img", port=None, **faults):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.port = port or free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.repo = repo
        self.log_path = os.path.join(self.workdir, "requests.log")
        self.config = os.path.join(self.workdir, "fault-%d.json" % self.port)
        with open(self.config, "w") as f:
            json.dump(dict(port=self.port, repo=repo, layout=str(layout), log=self.log_path, **faults), f)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["/usr/bin/python3", FAULT_SERVER, "fault", self.config],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log_path + ".err", "ab"))
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError("fault registry did not start")
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def requests(self):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.strip()]


def fault_serve(config_path):
    """Knobs (config JSON): corrupt: [digest]; fail: {digest: [status, ...]} answered first;
    cut: {digest: n} send n bytes of the first GET then the whole process dies; ignore_range;
    redirect: blob GETs answer 307 to another URL;
    stall: {digest: n} send n bytes of the first GET then nothing; slow: {digest: bytes per second};
    token: {user, pass, uses} Bearer auth where a token is refused after `uses` requests;
    tags: [..] paginated by 2 with Link; schema1: serve tag "old" as Docker schema 1;
    huge: serve tag "huge" as a 5 MiB manifest; plain_manifest_type: serve manifests as application/json."""
    import http.server
    import threading

    with open(config_path) as f:
        cfg = json.load(f)
    layout = cfg["layout"]
    repo = cfg["repo"]
    lock = threading.Lock()
    state = {"fail": {k: list(v) for k, v in cfg.get("fail", {}).items()}, "cut_done": set(),
             "tokens": {}, "ntok": 0}
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    tags = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in index["manifests"]}

    def blob_bytes(digest):
        p = os.path.join(layout, "blobs", "sha256", digest.split(":", 1)[1])
        with open(p, "rb") as f:
            return f.read()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def record(self):
            with lock, open(cfg["log"], "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path,
                                    "range": self.headers.get("Range"),
                                    "auth": self.headers.get("Authorization")}) + "\n")

        def send(self, status, body=b"", ctype="application/json", headers=()):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def error(self, status, code, msg, headers=()):
            body = json.dumps({"errors": [{"code": code, "message": msg}]}).encode()
            self.send(status, body, headers=headers)

        def authorized(self):
            tok = cfg.get("token")
            if not tok:
                return True
            h = self.headers.get("Authorization", "")
            with lock:
                if h.startswith("Bearer ") and h[7:] in state["tokens"]:
                    state["tokens"][h[7:]] += 1
                    if state["tokens"][h[7:]] <= tok.get("uses", 1000):
                        return True
            chal = 'Bearer realm="http://%s/token",service="fault",scope="repository:%s:pull"' % (
                cfg["host"], repo)
            self.error(401, "UNAUTHORIZED", "authentication required", headers=[("WWW-Authenticate", chal)])
            return False

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            self.record()
            path, _, query = self.path.partition("?")
            if path == "/token":
                import base64
                tok = cfg["token"]
                want = "Basic " + base64.b64encode(("%s:%s" % (tok["user"], tok["pass"])).encode()).decode()
                if self.headers.get("Authorization") != want:
                    return self.error(401, "UNAUTHORIZED", "bad credentials")
                with lock:
                    state["ntok"] += 1
                    t = "tok-%d" % state["ntok"]
                    state["tokens"][t] = 0
                return self.send(200, json.dumps({"token": t, "expires_in": 300}).encode())
            if path == "/v2/":
                if not self.authorized():
                    return
                return self.send(200, b"{}")
            prefix = "/v2/%s/" % repo
            if not path.startswith(prefix):
                return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")
            if not self.authorized():
                return
            rest = path[len(prefix):]
            if rest == "tags/list":
                all_tags = cfg.get("tags", sorted(tags))
                last = None
                for kv in query.split("&"):
                    if kv.startswith("last="):
                        last = kv[5:]
                start = all_tags.index(last) + 1 if last else 0
                page = all_tags[start:start + 2]
                headers = []
                if start + 2 < len(all_tags):
                    headers.append(("Link", '</v2/%s/tags/list?n=2&last=%s>; rel="next"' % (repo, page[-1])))
                return self.send(200, json.dumps({"name": repo, "tags": page}).encode(), headers=headers)
            if rest.startswith("manifests/"):
                ref = rest[len("manifests/"):]
                if ref == "old" and cfg.get("schema1"):
                    body = json.dumps({"schemaVersion": 1, "name": repo, "tag": "old", "fsLayers": []}).encode()
                    return self.send(200, body, "application/vnd.docker.distribution.manifest.v1+prettyjws")
                if ref == "huge" and cfg.get("huge"):
                    return self.send(200, b" " * (5 * 1024 * 1024), "application/vnd.oci.image.manifest.v1+json")
                desc = tags.get(ref)
                digest = desc["digest"] if desc else ref
                try:
                    body = blob_bytes(digest)
                except (OSError, IndexError):
                    return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                mt = json.loads(body).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
                if cfg.get("plain_manifest_type"):
                    mt = "application/json"
                return self.send(200, body, mt, headers=[("Docker-Content-Digest", digest)])
            if rest.startswith("blobs/"):
                digest = rest[len("blobs/"):]
                if cfg.get("redirect") and not query:
                    # Like a registry handing blobs to object storage.
                    return self.send(307, b"", headers=[
                        ("Location", "http://%s/v2/%s/blobs/%s?storage=1" % (cfg["host"], repo, digest))])
                with lock:
                    fails = state["fail"].get(digest)
                    status = fails.pop(0) if fails else None
                if status:
                    hdrs = [("Retry-After", "1")] if status == 429 else []
                    return self.error(status, "UNAVAILABLE", "try again later", headers=hdrs)
                try:
                    body = blob_bytes(digest)
                except (OSError, IndexError):
                    return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
                if digest in cfg.get("corrupt", []):
                    mid = len(body) // 2
                    body = body[:mid] + bytes([body[mid] ^ 0xFF]) + body[mid + 1:]
                cut = cfg.get("cut", {}).get(digest)
                rng = self.headers.get("Range")
                stall = cfg.get("stall", {}).get(digest)
                if stall is not None and digest not in state["cut_done"]:
                    with lock:
                        state["cut_done"].add(digest)
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[:stall])
                    self.wfile.flush()
                    time.sleep(60)  # alive but silent: the client must give up
                    return
                slow = cfg.get("slow", {}).get(digest)
                if slow and not rng:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    step = max(1, slow // 10)
                    for i in range(0, len(body), step):
                        self.wfile.write(body[i:i + step])
                        self.wfile.flush()
                        time.sleep(0.1)
                    return
                if cut is not None and digest not in state["cut_done"]:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    os._exit(0)  # the registry dies mid-blob
                if rng and not cfg.get("ignore_range") and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    part = body[start:]
                    return self.send(206, part, "application/octet-stream", headers=[
                        ("Content-Range", "bytes %d-%d/%d" % (start, len(body) - 1, len(body)))])
                return self.send(200, body, "application/octet-stream")
            return self.error(404, "NOT_FOUND", "no such route")

    cfg["host"] = "127.0.0.1:%d" % cfg["port"]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", cfg["port"]), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "fault":
        fault_serve(sys.argv[2])
    else:
        sys.exit("usage: registry.py fault CONFIG")
