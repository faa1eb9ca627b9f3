"""hoist pull from docker-registry over TLS (a CA made by openssl), with
htpasswd basic auth, a client certificate, and token auth (a JWT signed by
a test key, served by a token server written here)."""
import base64
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse

import pytest

import registry as R

pytestmark = [
    pytest.mark.skipif(not os.path.exists(R.REGISTRY_BIN), reason="docker-registry is not installed"),
    pytest.mark.skipif(R.SKOPEO is None, reason="skopeo is not installed"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed"),
    pytest.mark.skipif(shutil.which("htpasswd") is None, reason="htpasswd (apache2-utils) is not installed"),
    pytest.mark.skipif(not os.path.exists(R.BUSYBOX), reason="busybox-static is not installed"),
]


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=hoist test CA", cwd=d)
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj",
            "/CN=127.0.0.1", cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            "server.crt", "-days", "2", "-extfile", "san.cnf", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj",
            "/CN=hoist client", cwd=d)
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            "client.crt", "-days", "2", cwd=d)
    certs = d / "certs"  # --cert-dir layout: ca.crt only
    certs.mkdir()
    shutil.copy(d / "ca.crt", certs / "ca.crt")
    client = d / "client-certs"  # with a client certificate
    client.mkdir()
    shutil.copy(d / "ca.crt", client / "ca.crt")
    shutil.copy(d / "client.crt", client / "client.cert")
    shutil.copy(d / "client.key", client / "client.key")
    return d


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    lay = R.Layout(tmp_path_factory.mktemp("authlayout"))
    m = lay.image([R.busybox_files(), [("etc", ("dir",)), ("etc/secret", b"s\n")]])
    lay.tag(m, "v1")
    return lay.path


@pytest.fixture(scope="module")
def tls_reg(tmp_path_factory, pki, image):
    d = tmp_path_factory.mktemp("tlsreg")
    subprocess.run(["htpasswd", "-Bbc", str(d / "htpasswd"), "alice", "s3cret"], check=True, capture_output=True)
    reg = R.Registry(d, tls={"cert": str(pki / "server.crt"), "key": str(pki / "server.key")},
                     htpasswd=str(d / "htpasswd")).start()
    reg.push(image, "v1", "secure/img", creds="alice:s3cret", cert_dir=str(pki / "certs"))
    yield reg
    reg.stop()


def hoist(hoist_path, store, *args, env=None):
    return subprocess.run([hoist_path, "--store", str(store)] + list(args), capture_output=True, text=True,
                          timeout=120, env=env)


def test_tls_with_ca_and_basic_auth(hoist_path, tls_reg, pki, tmp_path):
    ref = tls_reg.host + "/secure/img:v1"
    store = tmp_path / "store"
    r = hoist(hoist_path, store, "pull", ref, "--cert-dir", str(pki / "certs"), "--creds", "alice:s3cret")
    assert r.returncode == 0, r.stderr
    sk = tmp_path / "skopeo"
    R.skopeo_fetch(ref, str(sk), creds="alice:s3cret", cert_dir=str(pki / "certs"))
    assert R.store_blobs(str(store)) == R.store_blobs(str(sk))


def test_tls_certificate_must_verify(hoist_path, tls_reg, pki, tmp_path):
    ref = tls_reg.host + "/secure/img:v1"
    r = hoist(hoist_path, tmp_path / "s", "pull", ref, "--creds", "alice:s3cret", "--retry-times", "0")
    assert r.returncode != 0
    assert "certificate" in r.stderr.lower()
    # --tls-verify=false accepts the unknown CA (still over TLS).
    r = hoist(hoist_path, tmp_path / "s", "pull", ref, "--creds", "alice:s3cret", "--tls-verify=false")
    assert r.returncode == 0, r.stderr


def test_basic_auth_failures(hoist_path, tls_reg, pki, tmp_path):
    ref = tls_reg.host + "/secure/img:v1"
    certs = str(pki / "certs")
    env = {k: v for k, v in os.environ.items() if k not in ("REGISTRY_AUTH_FILE",)}
    env["HOME"] = str(tmp_path)
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "run")
    r = hoist(hoist_path, tmp_path / "s", "pull", ref, "--cert-dir", certs, env=env)
    assert r.returncode != 0 and "UNAUTHORIZED" in r.stderr
    r = hoist(hoist_path, tmp_path / "s", "pull", ref, "--cert-dir", certs, "--creds", "alice:wrong", env=env)
    assert r.returncode != 0 and "UNAUTHORIZED" in r.stderr
    assert not (tmp_path / "s" / "index.json").exists() or R.read_index(str(tmp_path / "s"))["manifests"] == []
    # login stores the working credentials; pull then finds them.
    r = hoist(hoist_path, tmp_path / "s", "login", "--cert-dir", certs, "-u", "alice", "-p", "s3cret",
              tls_reg.host, env=env)
    assert r.returncode == 0, r.stderr
    r = hoist(hoist_path, tmp_path / "s", "pull", ref, "--cert-dir", certs, env=env)
    assert r.returncode == 0, r.stderr
    # The file is podman's format: skopeo logs in with it.
    authfile = tmp_path / "run" / "containers" / "auth.json"
    r = subprocess.run([R.SKOPEO, "inspect", "--raw", "--authfile", str(authfile), "--cert-dir", certs,
                        "docker://" + ref], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    r = hoist(hoist_path, tmp_path / "s", "login", "--get-login", tls_reg.host, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "alice"


def test_client_certificate(hoist_path, pki, image, tmp_path):
    reg = R.Registry(tmp_path / "reg", tls={"cert": str(pki / "server.crt"), "key": str(pki / "server.key")})
    with open(reg.config) as f:
        cfg = json.load(f)
    cfg["http"]["tls"]["clientcas"] = [str(pki / "ca.crt")]
    with open(reg.config, "w") as f:
        json.dump(cfg, f)
    reg.start()
    try:
        reg.push(image, "v1", "mtls/img", cert_dir=str(pki / "client-certs"))
        ref = reg.host + "/mtls/img:v1"
        r = hoist(hoist_path, tmp_path / "s1", "pull", ref, "--cert-dir", str(pki / "certs"), "--retry-times", "0")
        assert r.returncode != 0
        r = hoist(hoist_path, tmp_path / "s2", "pull", ref, "--cert-dir", str(pki / "client-certs"))
        assert r.returncode == 0, r.stderr
    finally:
        reg.stop()


# --- token auth: docker-registry's `auth: token` with a JWT signed here ---

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Issues RS256 JWTs the registry trusts (x5c = the signing certificate)."""

    def __init__(self, key, cert_der, users, service, issuer, lifetime=300):
        self.key, self.cert_der, self.users = key, cert_der, users
        self.service, self.issuer, self.lifetime = service, issuer, lifetime
        self.requests = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.requests.append((self.path, self.headers.get("Authorization")))
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                auth = self.headers.get("Authorization", "")
                user = None
                if auth.startswith("Basic "):
                    u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                    if outer.users.get(u) != p:
                        self.send_response(401)
                        self.end_headers()
                        return
                    user = u
                access = []
                for scope in q.get("scope", []):
                    typ, name, actions = scope.split(":")
                    allowed = actions.split(",") if user else ["pull"]
                    access.append({"type": typ, "name": name, "actions": allowed})
                body = json.dumps({"token": outer.jwt(user or "", access), "expires_in": outer.lifetime}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.port = R.free_port()
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def jwt(self, sub, access):
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {"iss": self.issuer, "sub": sub, "aud": self.service, "exp": now + self.lifetime,
                  "nbf": now - 10, "iat": now, "jti": hashlib.sha256(os.urandom(8)).hexdigest(),
                  "access": access}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=signing_input.encode(),
                             capture_output=True, check=True).stdout
        return signing_input + "." + b64url(sig)

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture(scope="module")
def token_reg(tmp_path_factory, image):
    d = tmp_path_factory.mktemp("tokenreg")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "token.key", "-out", "token.crt", "-days",
            "2", "-subj", "/CN=hoist token signer", cwd=d)
    der = subprocess.run(["openssl", "x509", "-in", str(d / "token.crt"), "-outform", "DER"], check=True,
                         capture_output=True).stdout
    ts = TokenServer(str(d / "token.key"), der, {"bob": "hunter2"}, "test-registry", "test-issuer")
    reg = R.Registry(d, token={"realm": "http://127.0.0.1:%d/token" % ts.port, "service": "test-registry",
                               "issuer": "test-issuer", "rootcertbundle": str(d / "token.crt")})
    reg.start()
    try:
        reg.push(image, "v1", "tok/img", creds="bob:hunter2")
        yield reg, ts
    finally:
        reg.stop()
        ts.stop()


def test_token_auth_with_credentials(hoist_path, token_reg, tmp_path):
    reg, ts = token_reg
    ts.requests.clear()
    ref = reg.host + "/tok/img:v1"
    r = hoist(hoist_path, tmp_path / "s", "pull", ref, "--creds", "bob:hunter2")
    assert r.returncode == 0, r.stderr
    paths = [p for p, _ in ts.requests]
    assert any("scope=repository%3Atok%2Fimg%3Apull" in p for p in paths)
    assert all("service=test-registry" in p for p in paths)
    # One token serves the whole pull (cached per scope).
    assert len(ts.requests) == 1
    sk = tmp_path / "skopeo"
    R.skopeo_fetch(ref, str(sk), creds="bob:hunter2")
    assert R.store_blobs(str(tmp_path / "s")) == R.store_blobs(str(sk))


def test_token_auth_anonymous_and_wrong_password(hoist_path, token_reg, tmp_path):
    reg, ts = token_reg
    env = {k: v for k, v in os.environ.items() if k != "REGISTRY_AUTH_FILE"}
    env["HOME"] = str(tmp_path)
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "run")
    ref = reg.host + "/tok/img:v1"
    # The token server grants anonymous pulls.
    r = hoist(hoist_path, tmp_path / "anon", "pull", ref, env=env)
    assert r.returncode == 0, r.stderr
    r = hoist(hoist_path, tmp_path / "bad", "pull", ref, "--creds", "bob:nope", env=env)
    assert r.returncode != 0
    assert "getting a registry token" in r.stderr and "HTTP 401" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="writing /etc/docker/certs.d needs root")
def test_certs_d_directory(hoist_path, tls_reg, pki, tmp_path):
    """/etc/docker/certs.d/HOST:PORT/ca.crt is trusted for that registry only."""
    root = "/etc/docker/certs.d"
    created = [p for p in ("/etc/docker", root) if not os.path.exists(p)]
    d = os.path.join(root, tls_reg.host)
    os.makedirs(d)
    try:
        shutil.copy(pki / "ca.crt", os.path.join(d, "ca.crt"))
        r = hoist(hoist_path, tmp_path / "s", "pull", tls_reg.host + "/secure/img:v1", "--creds", "alice:s3cret")
        assert r.returncode == 0, r.stderr
    finally:
        shutil.rmtree(d)
        for p in reversed(created):
            os.rmdir(p)


def test_credential_helper_supplies_the_login(hoist_path, tls_reg, pki, tmp_path):
    """credHelpers in the auth file: hoist runs docker-credential-NAME get with
    the registry on stdin and logs in with what it prints."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    asked = tmp_path / "asked"
    helper = bindir / "docker-credential-keeltest"
    helper.write_text("#!/bin/sh\n[ \"$1\" = get ] || exit 3\ncat > %s\n"
                      "printf '{\"Username\":\"alice\",\"Secret\":\"s3cret\"}'\n" % asked)
    helper.chmod(0o755)
    authfile = tmp_path / "auth.json"
    authfile.write_text(json.dumps({"credHelpers": {tls_reg.host: "keeltest"}}))
    env = dict(os.environ, PATH="%s:%s" % (bindir, os.environ.get("PATH", "")))
    r = hoist(hoist_path, tmp_path / "s", "pull", tls_reg.host + "/secure/img:v1", "--cert-dir",
              str(pki / "certs"), "--authfile", str(authfile), env=env)
    assert r.returncode == 0, r.stderr
    assert asked.read_text().strip() == tls_reg.host


def test_missing_credential_helper_is_a_clear_error(hoist_path, tls_reg, pki, tmp_path):
    """A credsStore naming a helper that is not installed: an error naming it
    (never a silent death by SIGPIPE while hoist writes to it)."""
    authfile = tmp_path / "auth.json"
    authfile.write_text(json.dumps({"credsStore": "keel-no-such-helper"}))
    for _ in range(5):
        r = hoist(hoist_path, tmp_path / "s", "pull", tls_reg.host + "/secure/img:v1", "--cert-dir",
                  str(pki / "certs"), "--authfile", str(authfile), "--retry-times", "0")
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert "docker-credential-keel-no-such-helper" in r.stderr
