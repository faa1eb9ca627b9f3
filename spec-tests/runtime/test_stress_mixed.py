"""The small version of bench/stress.py for CI: 50 sequential and 10
concurrent lifecycles, half with exec, pause/resume and kill, while two
threads run `list` and `state`; nothing may fail or be left behind."""
import os
import subprocess

import pytest

from lifecycle_util import is_runc

HERE = os.path.dirname(os.path.abspath(__file__))
STRESS = os.path.join(HERE, "..", "..", "bench", "stress.py")


def test_mixed_lifecycles_with_list_and_state_leave_nothing(rt):
    if is_runc(rt):
        pytest.skip("written for keel's list --format json and state timing")
    p = subprocess.run(["/usr/bin/python3", STRESS, "--runtime", rt.path, "--sequential", "50", "--concurrent",
                        "10", "--workers", "5"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "stress: ok" in p.stdout
