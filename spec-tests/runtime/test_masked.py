"""maskedPaths, readonlyPaths, and the /proc and /sys escapes they exist to
stop.  Runs against keel and runc; where runc 1.1 predates a fix (CVE-2025-
31133), the test says so and accepts only the safe outcomes."""
import os

import pytest

from mount_util import parse_mountinfo, run_in, run_ok, needs_run  # noqa: F401

pytestmark = pytest.mark.usefixtures("needs_run")


def test_masked_file_reads_empty(rt, bundle):
    bundle.config["linux"]["maskedPaths"] = ["/proc/keys", "/proc/timer_list"]
    out = run_ok(rt, bundle, "echo keys=$(cat /proc/keys | wc -c); stat -c '%t %T' /proc/keys")
    assert "keys=0" in out
    assert out.split()[-2:] == ["1", "3"]


def test_masked_directory_is_an_empty_read_only_tmpfs(rt, bundle):
    bundle.config["linux"]["maskedPaths"] = ["/proc/acpi", "/sys/firmware"]
    out = run_ok(rt, bundle, "echo n=$(ls -A /sys/firmware | wc -l); touch /sys/firmware/x 2>&1; "
                             "cat /proc/self/mountinfo")
    assert "n=0" in out
    assert "Read-only file system" in out
    m = parse_mountinfo(out)
    assert m["/sys/firmware"]["fstype"] == "tmpfs" and "ro" in m["/sys/firmware"]["opts"]
    assert m["/proc/acpi"]["fstype"] == "tmpfs"


def test_missing_masked_and_readonly_paths_are_skipped(rt, bundle):
    bundle.config["linux"]["maskedPaths"] = ["/proc/no-such-file", "/no/such/dir"]
    bundle.config["linux"]["readonlyPaths"] = ["/proc/no-such-thing"]
    run_ok(rt, bundle, "true")


def test_readonly_paths(rt, bundle):
    out = run_ok(rt, bundle, "exec 2>&1; echo 1 > /proc/sys/kernel/domainname; cat /proc/self/mountinfo")
    assert "Read-only file system" in out
    m = parse_mountinfo(out)
    for p in ("/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq"):
        if p in m:
            assert "ro" in m[p]["opts"], p
    assert "rw" in m["/proc"]["opts"]


def test_readonly_path_in_the_rootfs(rt, bundle):
    os.makedirs(os.path.join(bundle.rootfs, "srv/data/sub"))
    bundle.config["root"]["readonly"] = False
    bundle.config["linux"]["readonlyPaths"] = ["/srv/data"]
    out = run_ok(rt, bundle, "touch /srv/data/x 2>&1; touch /srv/data/sub/y 2>&1; touch /srv/ok && echo ok")
    assert out.count("Read-only file system") == 2
    assert "ok" in out


def test_proc_and_sys_escapes_are_blocked(rt, bundle):
    with open("/proc/sys/kernel/core_pattern") as f:
        before = f.read()
    out = run_ok(rt, bundle,
                 "exec 2>&1; "
                 "echo '|/tmp/evil' > /proc/sys/kernel/core_pattern; "
                 "echo c > /proc/sysrq-trigger; "
                 "echo 1 > /sys/kernel/profiling; "
                 "echo 1 > /proc/sys/vm/drop_caches; "
                 "mount -o remount,rw /proc/sys; "
                 "mount -t proc proc /mnt; "
                 "umount /proc/sys; echo done")
    assert "done" in out
    with open("/proc/sys/kernel/core_pattern") as f:
        assert f.read() == before
    assert "Read-only file system" in out


def test_masked_symlink_does_not_redirect_the_mask(rt, bundle):
    """An image ships a masked path as a symlink: either the runtime refuses
    (keel), or the mask still covers the path (runc follows the link inside
    the rootfs).  The content behind the link never shows."""
    with open(os.path.join(bundle.rootfs, "etc/real-secret"), "w") as f:
        f.write("SECRET\n")
    os.symlink("/etc/real-secret", os.path.join(bundle.rootfs, "etc/secret"))
    bundle.config["linux"]["maskedPaths"] = ["/etc/secret"]
    r = run_in(rt, bundle, "cat /etc/secret")
    assert "SECRET" not in r.stdout
    if r.returncode != 0:
        assert "/etc/secret" in r.stderr


def test_masked_symlink_to_host_path_stays_inside(rt, bundle, tmp_path):
    host = tmp_path / "host-secret"
    host.write_text("HOST SECRET\n")
    os.symlink(str(host), os.path.join(bundle.rootfs, "etc/evil"))
    bundle.config["linux"]["maskedPaths"] = ["/etc/evil"]
    r = run_in(rt, bundle, "cat /etc/evil 2>&1; true")
    assert "HOST SECRET" not in r.stdout
    assert host.read_text() == "HOST SECRET\n"


def test_dev_null_replaced_before_masking_is_refused(rt, bundle, tmp_path):
    """CVE-2025-31133: a createContainer hook (standing for a hostile image
    or a race) swaps the container's /dev/null for a link to a procfs file
    before the masks are applied; the runtime must refuse (or mask with the
    real null device), never bind that file over the masked path.  Nothing
    is written: the container only reads what the mask shows."""
    hook = tmp_path / "swap-null.py"
    hook.write_text(
        "import json, os, sys\n"
        "state = json.load(sys.stdin)\n"
        "null = os.path.join(state['bundle'], 'rootfs', 'dev', 'null')\n"
        "if os.path.lexists(null):\n"
        "    os.unlink(null)\n"
        "os.symlink('/proc/sys/kernel/core_pattern', null)\n")
    bundle.config["hooks"] = {"createContainer": [{"path": "/usr/bin/python3", "args": ["python3", str(hook)]}]}
    bundle.config["linux"]["maskedPaths"] = ["/proc/keys"]
    with open("/proc/sys/kernel/core_pattern") as f:
        core_pattern = f.read()
    r = run_in(rt, bundle, "cat /proc/keys")
    if r.returncode == 0:
        assert core_pattern.strip() not in r.stdout or not core_pattern.strip()
        assert r.stdout == ""
    else:
        assert "null" in r.stderr
