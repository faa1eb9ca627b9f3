"""Global command-line behaviour shared with runc: --version, --help, errors."""
import re


def test_version_names_spec_and_libseccomp(rt):
    r = rt.run("--version")
    assert r.returncode == 0
    assert re.search(r"^\S+ version \S+", r.stdout, re.M)
    assert re.search(r"^spec: 1\.\d+\.\d+", r.stdout, re.M)
    assert re.search(r"^libseccomp: \d+\.\d+\.\d+", r.stdout, re.M)


def test_unknown_command_is_an_error(rt):
    r = rt.run("no-such-command")
    assert r.returncode != 0
    assert "no-such-command" in r.stderr


def test_unknown_global_flag_is_an_error(rt):
    r = rt.run("list", global_args=("--no-such-flag",))
    assert r.returncode != 0
    assert "no-such-flag" in r.stderr


def test_help_lists_commands(rt):
    r = rt.run("--help")
    assert r.returncode == 0
    assert "Usage" in r.stdout or "USAGE" in r.stdout
