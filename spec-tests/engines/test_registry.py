"""Images through a registry: the busybox image is pushed by hoist (`hoist
copy oci:DIR docker://...`) to Debian's docker-registry on a loopback port
of its own, then pulled by Podman, by containerd and by hoist, and run with
the runtime under test."""
import json
import os
import shutil
import socket
import subprocess
import time

import pytest

import podman_env

REGISTRY_BIN = "/usr/bin/docker-registry"
REPO = "keel/busybox:test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def hoist_path():
    path = os.path.join(os.environ.get("KEEL_BUILDDIR", os.getcwd()), "hoist")
    if not os.access(path, os.X_OK):
        pytest.skip("hoist is not built in %s: the registry scenarios push with it" % os.path.dirname(path))
    return path


@pytest.fixture(scope="session")
def registry_ref(podman, hoist_path, tmp_path_factory):
    if not os.access(REGISTRY_BIN, os.X_OK):
        pytest.skip("docker-registry is not installed (.ci/install-deps installs it)")
    work = tmp_path_factory.mktemp("registry")
    port = free_port()
    host = "127.0.0.1:%d" % port
    config = work / "config.yml"
    config.write_text('{"version": 0.1, "log": {"level": "warn", "accesslog": {"disabled": true}}, '
                      '"storage": {"filesystem": {"rootdirectory": "%s"}}, "http": {"addr": "%s"}}'
                      % (work / "storage", host))
    with open(work / "registry.log", "wb") as log:
        proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (work / "registry.log").read_text()
                time.sleep(0.05)
        layout = work / "layout"
        podman.ok("push", podman_env.IMAGE, "oci:%s:test" % layout)
        p = subprocess.run([hoist_path, "--store", str(work / "store"), "copy", "--dest-tls-verify=false",
                            "oci:%s:test" % layout, "docker://%s/%s" % (host, REPO)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        assert p.returncode == 0, "hoist copy failed: " + p.stderr
        yield "%s/%s" % (host, REPO)
    finally:
        proc.kill()
        proc.wait()


def test_podman_pull_and_run(podman, registry_ref):
    podman.ok("pull", "--tls-verify=false", registry_ref)
    try:
        p = podman.podman("run", "--rm", registry_ref, "sh", "-c", "echo from-registry; exit 2")
        assert p.returncode == 2, p.stderr
        assert p.stdout == "from-registry\n"
    finally:
        podman.podman("rmi", "-f", registry_ref)


def test_containerd_pull_and_run(containerd, registry_ref, name):
    containerd.ok("images", "pull", "--plain-http", registry_ref)
    try:
        p = containerd.ctr("run", "--rm", *containerd.run_flags(), registry_ref, name,
                           "sh", "-c", "echo from-registry; exit 2")
        assert p.returncode == 2, p.stderr
        assert p.stdout == "from-registry\n"
    finally:
        containerd.remove(name)
        containerd.ctr("images", "rm", registry_ref)


def test_hoist_pull_unpack_and_run(runtime_path, hoist_path, registry_ref, name, tmp_path):
    store, bundle, root = tmp_path / "store", tmp_path / "bundle", tmp_path / "state"
    hoist = [hoist_path, "--store", str(store)]
    p = subprocess.run(hoist + ["pull", "--tls-verify=false", registry_ref], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(hoist + ["unpack", registry_ref, str(bundle)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    with open(bundle / "config.json") as f:
        config = json.load(f)
    config["process"]["args"] = ["sh", "-c", "echo from-hoist; exit 2"]
    with open(bundle / "config.json", "w") as f:
        json.dump(config, f)
    try:
        p = subprocess.run([runtime_path, "--root", str(root), "run", "--bundle", str(bundle), name],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60)
        assert p.returncode == 2, p.stderr
        assert p.stdout == "from-hoist\n"
    finally:
        subprocess.run([runtime_path, "--root", str(root), "delete", "--force", name],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(bundle, ignore_errors=True)
