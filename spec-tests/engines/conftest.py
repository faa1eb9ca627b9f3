"""Fixtures for the engine scenarios: a throwaway Podman and a throwaway
containerd, both driving the runtime named by RUNTIME=path (default: the keel
built in KEEL_BUILDDIR). The same scenarios run against runc to prove them
right (spec-tests/engines.sh does both)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import containerd_env  # noqa: E402
import podman_env  # noqa: E402


@pytest.fixture(scope="session")
def runtime_path():
    path = os.environ.get("RUNTIME")
    if not path:
        path = os.path.join(os.environ.get("KEEL_BUILDDIR", "."), "keel")
    if os.sep not in path:
        path = shutil.which(path) or path
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        pytest.fail("runtime under test %s is not an executable file" % path)
    return path


def _require(*tools):
    if os.geteuid() != 0:
        pytest.skip("the engines run rootful here: needs root")
    for tool in tools:
        if not shutil.which(tool):
            pytest.skip("%s is not installed (.ci/install-deps installs it)" % tool)


def _base_dir(kind):
    # Under /var/tmp, not /tmp: some hosts mount /tmp nodev or noexec.
    path = tempfile.mkdtemp(prefix="keel-%s-" % kind, dir="/var/tmp")
    # Searchable by all: a user-namespaced container's root (host uid 300000)
    # must reach its rootfs below this directory.
    os.chmod(path, 0o711)
    return path


@pytest.fixture(scope="session")
def podman(runtime_path):
    _require("podman", "conmon", "/usr/lib/cni/bridge")
    env = podman_env.PodmanEnv(_base_dir("podman"), runtime_path)
    try:
        env.setup()
        yield env
    finally:
        env.teardown()


@pytest.fixture(scope="session")
def containerd(runtime_path):
    _require("containerd", "ctr", "containerd-shim-runc-v2")
    env = containerd_env.ContainerdEnv(_base_dir("containerd"), runtime_path)
    try:
        env.setup()
        yield env
    finally:
        env.teardown()


@pytest.fixture(scope="session")
def containerd_path_runc(runtime_path):
    """A second containerd whose shims find the runtime under test as `runc`."""
    _require("containerd", "ctr", "containerd-shim-runc-v2")
    env = containerd_env.ContainerdEnv(_base_dir("containerd-path"), runtime_path, runc_on_path=True)
    try:
        env.setup()
        yield env
    finally:
        env.teardown()


@pytest.fixture(scope="session")
def kctr():
    """The small containerd API client (kctr/main.go), built once; the Go
    build cache lives in the build dir so later runs take a second."""
    if not shutil.which("go"):
        pytest.skip("golang-go is not installed (.ci/install-deps installs it): kctr cannot be built")
    gocode = "/usr/share/gocode/src/github.com/containerd/containerd/client.go"
    if not os.path.exists(gocode):
        pytest.skip("golang-github-containerd-containerd-dev is not installed: kctr cannot be built")
    out = os.path.join(os.environ.get("KEEL_BUILDDIR", os.getcwd()), "spec-tests", "kctr")
    gopath = tempfile.mkdtemp(prefix="keel-gopath-")
    try:
        os.makedirs(os.path.join(gopath, "src"))
        os.symlink(os.path.join(os.path.dirname(__file__), "kctr"), os.path.join(gopath, "src", "kctr"))
        env = dict(os.environ, GOPATH=gopath + ":/usr/share/gocode", GO111MODULE="off", GOFLAGS="",
                   GOCACHE=out + "-gocache")
        p = subprocess.run(["go", "build", "-o", out, "."], cwd=os.path.join(gopath, "src", "kctr"), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
        if p.returncode != 0:
            pytest.fail("building kctr failed:\n" + p.stdout)
    finally:
        shutil.rmtree(gopath, ignore_errors=True)
    return out


@pytest.fixture
def name(request):
    """A container name unique to the test."""
    return "kt-" + re.sub(r"[^a-zA-Z0-9_.-]", "-", request.node.name)[:48].strip("-")


@pytest.fixture
def scratch(tmp_path):
    return tmp_path
