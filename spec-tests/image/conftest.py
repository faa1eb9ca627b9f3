"""Fixtures for the hoist tests (filled by the pull and unpack work)."""
import os

import pytest


@pytest.fixture(scope="session")
def hoist_path():
    return os.environ.get("HOIST") or os.path.join(os.environ.get("KEEL_BUILDDIR", "."), "hoist")
