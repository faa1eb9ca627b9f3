"""config.mounts on real containers: filesystem types, binds of files and
directories, every kind of option (flags, negations, propagation, recursive
attributes, filesystem data, tmpcopyup), and destinations that try to leave
the rootfs through symlinks.  Runs against keel and runc alike."""
import os

import pytest

from mount_util import HostMount, add_mount, mountinfo_in, parse_mountinfo, run_in, run_ok, skip_if_runc_older, needs_run  # noqa: F401

pytestmark = pytest.mark.usefixtures("needs_run")


def test_default_mounts_have_their_types_and_flags(rt, bundle):
    m = mountinfo_in(rt, bundle)
    assert m["/proc"]["fstype"] == "proc"
    assert m["/dev"]["fstype"] == "tmpfs" and "nosuid" in m["/dev"]["opts"]
    assert "mode=755" in m["/dev"]["super"]
    assert m["/dev/pts"]["fstype"] == "devpts"
    assert {"nosuid", "noexec"} <= m["/dev/pts"]["opts"]
    assert "ptmxmode=666" in m["/dev/pts"]["super"] and "gid=5" in m["/dev/pts"]["super"]
    assert m["/dev/shm"]["fstype"] == "tmpfs" and {"nosuid", "noexec", "nodev"} <= m["/dev/shm"]["opts"]
    assert m["/dev/mqueue"]["fstype"] == "mqueue"
    assert m["/sys"]["fstype"] == "sysfs" and "ro" in m["/sys"]["opts"]
    assert {"nosuid", "noexec", "nodev"} <= m["/sys"]["opts"]


def test_cgroup_mount_shows_the_hierarchies_read_only(rt, bundle):
    out = run_ok(rt, bundle, "ls /sys/fs/cgroup; cat /proc/self/mountinfo")
    m = parse_mountinfo(out)
    cg = [mp for mp in m if mp.startswith("/sys/fs/cgroup")]
    assert cg, out
    if m["/sys/fs/cgroup"]["fstype"] == "tmpfs":
        assert "/sys/fs/cgroup/memory" in m
        assert m["/sys/fs/cgroup/memory"]["fstype"] == "cgroup"
        assert "ro" in m["/sys/fs/cgroup/memory"]["opts"]
        r = run_in(rt, bundle, "mkdir /sys/fs/cgroup/memory/x", cid="mnt2")
        assert r.returncode != 0


def test_bind_directory_read_only(rt, bundle, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "hello").write_text("hello from the host\n")
    add_mount(bundle, "/data", "bind", str(src), ["rbind", "ro"])
    out = run_ok(rt, bundle, "cat /data/hello; touch /data/new 2>&1; grep ' /data ' /proc/self/mountinfo")
    assert "hello from the host" in out
    assert "Read-only file system" in out
    assert not (src / "new").exists()


def test_bind_directory_read_write(rt, bundle, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    add_mount(bundle, "/data/deep/dir", "bind", str(src), ["bind"])
    run_ok(rt, bundle, "echo written > /data/deep/dir/out")
    assert (src / "out").read_text() == "written\n"


def test_bind_file_creates_a_file_destination(rt, bundle, tmp_path):
    src = tmp_path / "hosts"
    src.write_text("10.0.0.1 example\n")
    add_mount(bundle, "/etc/new/dir/hosts", "bind", str(src), ["bind", "ro"])
    out = run_ok(rt, bundle, "cat /etc/new/dir/hosts; test -f /etc/new/dir/hosts && echo is-file")
    assert "10.0.0.1 example" in out and "is-file" in out
    assert os.path.isfile(os.path.join(bundle.rootfs, "etc/new/dir/hosts"))


def test_bind_source_relative_to_bundle(rt, bundle):
    with open(os.path.join(bundle.path, "relfile"), "w") as f:
        f.write("relative source\n")
    add_mount(bundle, "/relfile", "none", "relfile", ["bind"])
    assert "relative source" in run_ok(rt, bundle, "cat /relfile")


def test_bind_missing_source_is_an_error_naming_it(rt, bundle):
    add_mount(bundle, "/data", "bind", "/nonexistent-keel-src", ["bind"])
    r = run_in(rt, bundle, "true")
    assert r.returncode != 0
    assert "/nonexistent-keel-src" in r.stderr


def test_bind_flags_nosuid_nodev_noexec_noatime(rt, bundle, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    add_mount(bundle, "/data", "bind", str(src), ["bind", "nosuid", "nodev", "noexec", "noatime"])
    m = mountinfo_in(rt, bundle)
    assert {"nosuid", "nodev", "noexec", "noatime", "rw"} <= m["/data"]["opts"]


def test_ro_then_rw_is_rw(rt, bundle, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    add_mount(bundle, "/data", "bind", str(src), ["bind", "ro", "rw"])
    run_ok(rt, bundle, "touch /data/ok")
    assert (src / "ok").exists()


def test_rbind_ro_is_not_recursive_but_rro_is(rt, bundle, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    with HostMount(src / "sub"):
        add_mount(bundle, "/ro", "bind", str(src), ["rbind", "ro"])
        add_mount(bundle, "/rro", "bind", str(src), ["rbind", "rro"])
        m = mountinfo_in(rt, bundle)
    assert "ro" in m["/ro"]["opts"]
    assert "rw" in m["/ro/sub"]["opts"]
    assert "ro" in m["/rro"]["opts"]
    assert "ro" in m["/rro/sub"]["opts"]


def test_bind_without_rbind_leaves_submounts_out(rt, bundle, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    with HostMount(src / "sub"):
        add_mount(bundle, "/plain", "bind", str(src), ["bind"])
        m = mountinfo_in(rt, bundle)
    assert "/plain" in m and "/plain/sub" not in m


def test_tmpfs_data_options_reach_the_filesystem(rt, bundle):
    add_mount(bundle, "/scratch", "tmpfs", "tmpfs", ["size=1m", "mode=1770", "nr_inodes=100", "noexec"])
    m = mountinfo_in(rt, bundle)
    t = m["/scratch"]
    assert t["fstype"] == "tmpfs"
    assert "size=1024k" in t["super"] and "mode=1770" in t["super"] and "nr_inodes=100" in t["super"]
    assert "noexec" in t["opts"]


def test_unknown_filesystem_option_fails_naming_the_mount(rt, bundle):
    add_mount(bundle, "/scratch", "tmpfs", "tmpfs", ["no_such_tmpfs_option=1"])
    r = run_in(rt, bundle, "true")
    assert r.returncode != 0
    assert "scratch" in r.stderr


@pytest.mark.parametrize("opt,field", [("rshared", "shared:"), ("shared", "shared:"),
                                       ("unbindable", "unbindable"), ("runbindable", "unbindable")])
def test_propagation_options(rt, bundle, opt, field):
    add_mount(bundle, "/scratch", "tmpfs", "tmpfs", [opt])
    m = mountinfo_in(rt, bundle)
    assert any(o.startswith(field) for o in m["/scratch"]["optional"]), m["/scratch"]


def test_private_option_has_no_peer_group(rt, bundle):
    add_mount(bundle, "/scratch", "tmpfs", "tmpfs", ["rprivate"])
    m = mountinfo_in(rt, bundle)
    assert not any(o.startswith("shared:") for o in m["/scratch"]["optional"])


def test_time_and_sync_options(rt, bundle):
    add_mount(bundle, "/a", "tmpfs", "tmpfs", ["strictatime"])
    add_mount(bundle, "/b", "tmpfs", "tmpfs", ["noatime", "nodiratime"])
    add_mount(bundle, "/c", "tmpfs", "tmpfs", ["sync", "dirsync"])
    add_mount(bundle, "/d", "tmpfs", "tmpfs", ["relatime"])
    m = mountinfo_in(rt, bundle)
    assert not ({"noatime", "relatime"} & m["/a"]["opts"])
    assert {"noatime", "nodiratime"} <= m["/b"]["opts"]
    assert "sync" in m["/c"]["super"] or "sync" in m["/c"]["opts"]
    assert "dirsync" in m["/c"]["super"] or "dirsync" in m["/c"]["opts"]
    assert "relatime" in m["/d"]["opts"]


def test_nosymfollow(rt, bundle):
    add_mount(bundle, "/scratch", "tmpfs", "tmpfs", ["nosymfollow"])
    out = run_ok(rt, bundle, "echo x > /scratch/f; ln -s f /scratch/l; cat /scratch/l 2>&1; "
                             "grep ' /scratch ' /proc/self/mountinfo")
    assert "nosymfollow" in out


def test_tmpcopyup_keeps_the_directory_content(rt, bundle):
    os.makedirs(os.path.join(bundle.rootfs, "srv/app"), exist_ok=True)
    with open(os.path.join(bundle.rootfs, "srv/app/config"), "w") as f:
        f.write("from the image\n")
    os.symlink("config", os.path.join(bundle.rootfs, "srv/app/link"))
    add_mount(bundle, "/srv", "tmpfs", "tmpfs", ["tmpcopyup", "mode=755"])
    out = run_ok(rt, bundle, "cat /srv/app/config; readlink /srv/app/link; echo new > /srv/app/new; "
                             "grep ' /srv ' /proc/self/mountinfo")
    assert "from the image" in out and "config" in out and "tmpfs" in out
    assert not os.path.exists(os.path.join(bundle.rootfs, "srv/app/new"))


def test_remount_changes_an_earlier_mount(rt, bundle, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    add_mount(bundle, "/data", "bind", str(src), ["bind"])
    add_mount(bundle, "/data", "none", str(src), ["remount", "bind", "ro"])
    out = run_ok(rt, bundle, "touch /data/x 2>&1; true")
    assert "Read-only file system" in out


def test_mounts_happen_in_config_order(rt, bundle, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("bound\n")
    add_mount(bundle, "/stack", "tmpfs", "tmpfs", [])
    add_mount(bundle, "/stack/inner", "bind", str(src), ["bind"])
    m = mountinfo_in(rt, bundle)
    assert m["/stack"]["fstype"] == "tmpfs"
    assert "/stack/inner" in m


# ---- destinations that try to leave the rootfs ----

def escape_outcome(r, host, dest):
    """A destination through a symlink to a host path: the runtime either
    mounts inside the rootfs (runc, keel) or refuses (crun); the host's
    directory is never touched.  Returns the container's mountinfo or None."""
    assert os.listdir(host) == []
    if r.returncode != 0:
        assert dest in r.stderr or dest.lstrip("/") in r.stderr, r.stderr
        return None
    return parse_mountinfo(r.stdout)


def test_symlink_destination_to_host_path_lands_inside(rt, bundle, tmp_path):
    host = tmp_path / "hostdir"
    host.mkdir()
    os.makedirs(os.path.join(bundle.rootfs, "data"), exist_ok=True)
    os.symlink(str(host), os.path.join(bundle.rootfs, "data/evil"))
    add_mount(bundle, "/data/evil", "tmpfs", "tmpfs", ["size=1m"])
    r = run_in(rt, bundle, "echo inside > /data/evil/marker; cat /proc/self/mountinfo")
    m = escape_outcome(r, host, "/data/evil")
    if m is not None:
        assert str(host) in m and m[str(host)]["fstype"] == "tmpfs"


def test_dotdot_symlink_destination_stays_inside(rt, bundle, tmp_path):
    host = tmp_path / "hostdir2"
    host.mkdir()
    os.makedirs(os.path.join(bundle.rootfs, "data"), exist_ok=True)
    os.symlink("../../../../../../../../.." + str(host), os.path.join(bundle.rootfs, "data/up"))
    src = tmp_path / "src"
    src.mkdir()
    (src / "payload").write_text("payload\n")
    add_mount(bundle, "/data/up", "bind", str(src), ["bind"])
    r = run_in(rt, bundle, "cat /proc/self/mountinfo")
    m = escape_outcome(r, host, "/data/up")
    if m is not None:
        assert str(host) in m
        assert os.path.exists(os.path.join(bundle.rootfs, str(host).lstrip("/")))


def test_bind_destination_through_symlinked_parent_stays_inside(rt, bundle, tmp_path):
    host = tmp_path / "hostparent"
    host.mkdir()
    os.symlink(str(host), os.path.join(bundle.rootfs, "linkdir"))
    src = tmp_path / "file"
    src.write_text("x\n")
    add_mount(bundle, "/linkdir/file", "bind", str(src), ["bind"])
    r = run_in(rt, bundle, "cat /linkdir/file")
    escape_outcome(r, host, "/linkdir")
    assert not (host / "file").exists()


def test_proc_onto_a_symlink_is_refused(rt, bundle):
    procdir = os.path.join(bundle.rootfs, "proc")
    os.rmdir(procdir)
    os.makedirs(os.path.join(bundle.rootfs, "fakeproc"))
    os.symlink("/fakeproc", procdir)
    r = run_in(rt, bundle, "true")
    assert r.returncode != 0
    assert "proc" in r.stderr


def test_sysfs_onto_a_file_is_refused(rt, bundle):
    sysdir = os.path.join(bundle.rootfs, "sys")
    os.rmdir(sysdir)
    open(sysdir, "w").close()
    r = run_in(rt, bundle, "true")
    assert r.returncode != 0
    assert "sys" in r.stderr


def test_bind_of_a_host_directory_over_proc_sys_is_refused(rt, bundle, tmp_path):
    src = tmp_path / "fake-proc-sys"
    src.mkdir()
    add_mount(bundle, "/proc/sys", "bind", str(src), ["bind"])
    r = run_in(rt, bundle, "true")
    assert r.returncode != 0
    assert "/proc/sys" in r.stderr


def test_recursive_attributes_reach_submounts(rt, bundle, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    with HostMount(src / "sub"):
        add_mount(bundle, "/rec", "bind", str(src), ["rbind", "rnosuid", "rnodev", "rnoexec", "rnoatime"])
        m = mountinfo_in(rt, bundle)
    for mp in ("/rec", "/rec/sub"):
        assert {"nosuid", "nodev", "noexec", "noatime"} <= m[mp]["opts"], (mp, m[mp])


@pytest.mark.parametrize("opt", ["idmap", "ridmap"])
def test_idmap_options_are_not_ignored(rt, bundle, tmp_path, opt):
    """An idmapped bind with no mapping to use (no user namespace, no
    mount mappings) is an error, never silently a plain bind (the working
    cases are in test_idmap.py)."""
    skip_if_runc_older(rt, (1, 2, 0), "ignores idmap/ridmap on a bind and makes a plain one")
    src = tmp_path / "src"
    src.mkdir()
    add_mount(bundle, "/data", "bind", str(src), ["bind", opt])
    r = run_in(rt, bundle, "true")
    assert r.returncode != 0
    assert "/data" in r.stderr


@pytest.mark.parametrize("opt", ["async", "atime", "defaults", "dev", "diratime", "exec", "iversion", "lazytime",
                                 "loud", "mand", "noiversion", "nolazytime", "nomand", "norelatime",
                                 "nostrictatime", "silent", "suid", "rw", "symfollow"])
def test_every_flag_option_is_accepted(rt, bundle, opt):
    if opt == "defaults":
        skip_if_runc_older(rt, (1, 2, 0), "passes \"defaults\" to the filesystem, which refuses it")
    add_mount(bundle, "/scratch", "tmpfs", "tmpfs", [opt])
    out = run_ok(rt, bundle, "grep ' /scratch ' /proc/self/mountinfo")
    assert "tmpfs" in out


@pytest.mark.parametrize("opt", ["rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec",
                                 "rnodiratime", "rdiratime", "rrelatime", "rnorelatime", "rnoatime", "ratime",
                                 "rstrictatime", "rnostrictatime", "rnosymfollow", "rsymfollow"])
def test_every_recursive_option_is_accepted(rt, bundle, tmp_path, opt):
    if opt in ("ratime", "rnostrictatime"):
        skip_if_runc_older(rt, (1, 2, 0), "clears part of the atime mask, which mount_setattr refuses (EINVAL)")
    src = tmp_path / "src"
    src.mkdir()
    add_mount(bundle, "/rec", "bind", str(src), ["rbind", opt])
    out = run_ok(rt, bundle, "grep ' /rec ' /proc/self/mountinfo")
    assert "/rec" in out
