"""Fixtures for the black-box runtime tests.

RUNTIME=/path selects the binary under test (default: the keel built in
KEEL_BUILDDIR). Every test gets its own --root state directory and its own
bundle, and whatever containers it leaves are force-deleted afterwards, so a
failing test cannot leak into the next one.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from helpers import Runtime, make_bundle  # noqa: E402


@pytest.fixture(scope="session")
def runtime_path():
    path = os.environ.get("RUNTIME")
    if not path:
        path = os.path.join(os.environ.get("KEEL_BUILDDIR", "."), "keel")
    path = os.path.abspath(path) if os.sep in path else path
    return path


@pytest.fixture
def rt(runtime_path, tmp_path):
    root = tmp_path / "state"
    root.mkdir()
    r = Runtime(runtime_path, str(root))
    yield r
    r.cleanup()


@pytest.fixture
def bundle(tmp_path):
    """A bundle with a busybox-static rootfs and a runc-spec-like config.json
    (a dict at bundle.config; call bundle.write() after changing it)."""
    return make_bundle(tmp_path / "bundle")
