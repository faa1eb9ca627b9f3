"""The user-facing pieces: man pages against --help, bash completion, scripts that must parse."""
import os
import re
import shutil
import subprocess

import pytest

SRC = os.environ.get("KEEL_SRCDIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BUILD = os.environ.get("KEEL_BUILDDIR", SRC)
KEEL = os.path.join(BUILD, "keel")
HOIST = os.path.join(BUILD, "hoist")
MAN = {"keel": os.path.join(SRC, "docs", "keel.8"), "hoist": os.path.join(SRC, "docs", "hoist.1")}
BIN = {"keel": KEEL, "hoist": HOIST}


def help_of(*argv):
    p = subprocess.run([*argv, "--help"], capture_output=True, text=True)
    return p.stdout or p.stderr


def commands(binary):
    text = help_of(binary)
    block = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [ln.split()[0] for ln in block.splitlines() if ln.strip()]


def options(text):
    return set(re.findall(r"(?<![\w-])(--[a-zA-Z][a-zA-Z-]*)", text))


def man_text(tool):
    # The roff source with its escapes undone, enough to find option and command names.
    with open(MAN[tool]) as f:
        return f.read().replace("\\-", "-")


@pytest.mark.parametrize("tool", ["keel", "hoist"])
def test_man_page_covers_every_command_and_option(tool):
    page = man_text(tool)
    cmds = commands(BIN[tool])
    assert len(cmds) >= 10
    missing = []
    for c in cmds:
        if not re.search(r"^\.SS %s$" % re.escape(c), page, re.M):
            missing.append(c)
        for o in options(help_of(BIN[tool], c)):
            if o not in page:
                missing.append("%s %s" % (c, o))
    for o in options(help_of(BIN[tool])):
        if o not in page:
            missing.append(o)
    assert not missing, "missing from %s (rerun docs/gen-man): %s" % (MAN[tool], missing)


@pytest.mark.skipif(not shutil.which("man"), reason="man (man-db) is not installed")
@pytest.mark.parametrize("tool", ["keel", "hoist"])
def test_man_page_renders_without_warnings(tool):
    p = subprocess.run(["man", "--warnings", "-l", MAN[tool]], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
    assert p.returncode == 0, p.stderr
    text = re.sub(".\x08", "", p.stdout)  # undo overstrike bold
    assert "COMMANDS" in text and "EXAMPLES" in text
    assert p.stderr.strip() == "", p.stderr


def complete(tool, line, setup=""):
    """What bash completion offers for LINE (cursor at the end), with the tool on PATH."""
    script = r"""
PATH=%s:$PATH
source %s
%s
line=%s
read -ra COMP_WORDS <<<"$line"
[[ $line == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE=$line COMP_POINT=${#line}
_%s
printf '%%s\n' "${COMPREPLY[@]}"
""" % (BUILD, os.path.join(SRC, "contrib", "completion", tool), setup, shlex_quote(line), tool)
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return [w for w in p.stdout.splitlines() if w]


def shlex_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def test_keel_completes_commands():
    assert complete("keel", "keel cr") == ["create"]
    assert set(complete("keel", "keel ")) == set(commands(KEEL))


def test_keel_completes_options():
    assert complete("keel", "keel create --pid") == ["--pid-file"]
    assert "--force" in complete("keel", "keel delete --")
    assert complete("keel", "keel --log-format j") == ["json"]


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a container needs root")
def test_keel_completes_container_ids(tmp_path):
    import sys
    sys.path.insert(0, os.path.join(SRC, "spec-tests", "runtime"))
    import helpers
    b = helpers.make_bundle(str(tmp_path / "bundle"))
    b.set_args("sleep", "100")
    root = str(tmp_path / "root")
    cid = "facecompl%d" % os.getpid()
    subprocess.run([KEEL, "--root", root, "create", "--bundle", b.path, cid], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert complete("keel", "keel --root %s start face" % root) == [cid]
        assert complete("keel", "keel --root %s kill %s K" % (root, cid)) == ["KILL"]
        assert complete("keel", "keel --root %s start zz" % root) == []
    finally:
        subprocess.run([KEEL, "--root", root, "delete", "--force", cid], check=True)


def test_hoist_completes_commands_and_options():
    assert complete("hoist", "hoist un") == ["unpack"]
    assert set(complete("hoist", "hoist ")) == set(commands(HOIST))
    assert "--overlay" in complete("hoist", "hoist unpack --ov")
    assert complete("hoist", "hoist copy d") == ["docker://"]


@pytest.mark.parametrize("script", ["contrib/demo", "contrib/completion/keel", "contrib/completion/hoist",
                                    "spec-tests/v1-only-ns.sh"])
def test_shell_scripts_parse(script):
    p = subprocess.run(["bash", "-n", os.path.join(SRC, script)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_demo_help():
    p = subprocess.run([os.path.join(SRC, "contrib", "demo"), "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "docker-registry" in p.stdout


def test_bench_help():
    p = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "bench", "run"), "--help"], capture_output=True,
                       text=True)
    assert p.returncode == 0 and "--keel-static" in p.stdout, p.stderr


def test_keel_links_yajl_and_libcap_statically_when_configured():
    with open(os.path.join(BUILD, "Makefile")) as f:
        m = re.search(r"^KEEL_STATIC_DEPS_LIBS = (.*)$", f.read(), re.M)
    if not m or not m.group(1).strip():
        pytest.skip("built with --disable-static-deps, --enable-static-keel or without libyajl_s.a/libcap.a")
    dyn = subprocess.run(["readelf", "-d", KEEL], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", dyn)
    assert needed and not [n for n in needed if "yajl" in n or "libcap" in n], needed


def hidden_unified(cmd):
    """Run cmd where the host's cgroup2 mount does not cover /sys/fs/cgroup/unified."""
    return subprocess.run(["unshare", "-m", "sh", "-c", "mount --make-rprivate / && umount /sys/fs/cgroup/unified && "
                           + cmd], capture_output=True, text=True)


def test_v1_only_ns_hides_cgroup2_and_leaves_nothing_on_the_host():
    unified = subprocess.run(["stat", "-f", "-c", "%T", "/sys/fs/cgroup/unified"], capture_output=True, text=True)
    if os.geteuid() != 0 or unified.stdout.strip() != "cgroup2fs":
        pytest.skip("needs root and a hybrid host (cgroup2 at /sys/fs/cgroup/unified)")
    name = "face-probe-%d" % os.getpid()
    try:
        # crun makes a directory per container there: it must land in the
        # namespace's own tmpfs, not in the host's under the cgroup2 mount
        p = subprocess.run([os.path.join(SRC, "spec-tests", "v1-only-ns.sh"), "sh", "-c",
                            "stat -f -c %T /sys/fs/cgroup/unified && mkdir /sys/fs/cgroup/unified/" + name],
                           capture_output=True, text=True)
        assert p.returncode == 0 and p.stdout.strip() == "tmpfs", p.stdout + p.stderr
        assert name not in hidden_unified("ls -A /sys/fs/cgroup/unified").stdout.split()
    finally:
        hidden_unified("rmdir /sys/fs/cgroup/unified/%s 2>/dev/null; true" % name)
