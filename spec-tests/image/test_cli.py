"""hoist's global command line."""
import subprocess


def test_version(hoist_path):
    r = subprocess.run([hoist_path, "--version"], capture_output=True, text=True)
    assert r.returncode == 0
    assert r.stdout.startswith("hoist version ")


def test_unknown_command_is_an_error(hoist_path):
    r = subprocess.run([hoist_path, "frobnicate"], capture_output=True, text=True)
    assert r.returncode != 0
    assert "frobnicate" in r.stderr
