"""hoist unpack: every entry type and attribute, whiteouts, compressions,
config.json conversion, failure cleanup."""
import json
import os
import stat

import pytest

import layers as L

CAP = b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

BASE = [
    L.dir("etc"),
    L.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1001::/home/bob:/bin/sh\n"
           "daemon:x:2:2::/:/bin/sh\n"),
    L.file("etc/group", "root:x:0:\nbob:x:1001:\nwheel:x:10:bob,daemon\naudio:x:29:bob\nstaff:x:50:\n"),
    L.dir("bin"),
    L.file("bin/prog", b"\x7fELF" + os.urandom(3000), mode=0o755),
    L.symlink("bin/alias", "prog"),
    L.hardlink("bin/prog2", "bin/prog"),
    L.dir("tmp", mode=0o1777),
    L.file("usr/bin/su", "su", mode=0o4755),
    L.file("usr/bin/wall", "wall", mode=0o2755, gid=5),
    L.dir("ro", mode=0o555),
    L.file("ro/inside", "ro"),
    L.fifo("run/fifo", mode=0o600),
    L.chardev("dev/null", 1, 3),
    L.blockdev("dev/loopx", 7, 200),
    L.file("ping", "p", mode=0o755, xattrs={"security.capability": CAP}),
    L.file("tagged", "t", xattrs={"user.color": "blue", "trusted.x": b"\x00\x01"}),
    L.file("owned", "o", uid=1000, gid=1001, mode=0o640),
    L.symlink("owned-link", "owned", uid=1000, gid=1001),
    L.file("emptyfile", ""),
]


def test_entry_types_and_attributes(unpacker):
    u = unpacker
    ref = u.image([BASE])
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr
    root = u.rootfs()
    p = lambda rel: os.path.join(root, rel)  # noqa: E731
    st = os.lstat(p("bin/prog"))
    assert stat.S_IMODE(st.st_mode) == 0o755 and st.st_nlink == 2
    assert os.lstat(p("bin/prog2")).st_ino == st.st_ino
    assert os.readlink(p("bin/alias")) == "prog"
    assert stat.S_IMODE(os.lstat(p("tmp")).st_mode) == 0o1777
    assert stat.S_IMODE(os.lstat(p("usr/bin/su")).st_mode) == 0o4755
    wall = os.lstat(p("usr/bin/wall"))
    assert stat.S_IMODE(wall.st_mode) == 0o2755 and wall.st_gid == 5
    assert stat.S_IMODE(os.lstat(p("ro")).st_mode) == 0o555
    assert stat.S_ISFIFO(os.lstat(p("run/fifo")).st_mode)
    null = os.lstat(p("dev/null"))
    assert stat.S_ISCHR(null.st_mode) and (os.major(null.st_rdev), os.minor(null.st_rdev)) == (1, 3)
    loop = os.lstat(p("dev/loopx"))
    assert stat.S_ISBLK(loop.st_mode) and (os.major(loop.st_rdev), os.minor(loop.st_rdev)) == (7, 200)
    assert os.getxattr(p("ping"), "security.capability") == CAP
    assert os.getxattr(p("tagged"), "user.color") == b"blue"
    assert os.getxattr(p("tagged"), "trusted.x") == b"\x00\x01"
    owned = os.lstat(p("owned"))
    assert (owned.st_uid, owned.st_gid, stat.S_IMODE(owned.st_mode)) == (1000, 1001, 0o640)
    link = os.lstat(p("owned-link"))
    assert (link.st_uid, link.st_gid) == (1000, 1001)
    # mtimes, directories included (set after their children)
    for rel in ("bin/prog", "bin", "tmp", "ro", "owned", "run/fifo"):
        assert os.lstat(p(rel)).st_mtime == L.MTIME, rel
    assert os.path.getsize(p("emptyfile")) == 0


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_compressions(unpacker, compression):
    u = unpacker
    data = os.urandom(200000)
    ref = u.image([[L.file("a", data)], [L.file("b", "b")]], compression=compression)
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr
    assert open(os.path.join(u.rootfs(), "a"), "rb").read() == data


def test_whiteouts(unpacker):
    u = unpacker
    l1 = [L.dir("a"), L.file("a/keep", "k"), L.file("a/gone", "g"), L.dir("a/sub"), L.file("a/sub/x", "x"),
          L.dir("o"), L.file("o/old1", "1"), L.dir("o/d"), L.file("o/d/old2", "2"),
          L.dir("o2"), L.file("o2/old", "1"), L.dir("whole"), L.file("whole/f", "f")]
    l2 = [
        L.whiteout("a/gone"), L.whiteout("a/sub"), L.whiteout("a/never-existed"), L.whiteout("whole"),
        # opaque before the new content
        L.opaque("o"), L.file("o/new", "n"),
        # opaque after new content of the same layer: the new content stays
        L.dir("o2"), L.file("o2/new", "n"), L.dir("o2/d"), L.file("o2/d/f", "f"), L.opaque("o2"),
    ]
    l3 = [L.file("whole", "now a file"), L.file("a/gone", "back")]
    ref = u.image([l1, l2, l3])
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr
    tree, _ = L.tree(u.rootfs())
    names = sorted(tree)
    assert names == sorted(["a", "a/keep", "a/gone", "o", "o/new", "o2", "o2/new", "o2/d", "o2/d/f",
                            "whole"]), names
    assert open(os.path.join(u.rootfs(), "a/gone")).read() == "back"
    assert not any(".wh." in n for n in names)


def test_whiteout_does_not_hide_same_layer_entry(unpacker):
    u = unpacker
    ref = u.image([[L.file("x", "lower")], [L.file("x", "upper"), L.whiteout("x")]])
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr
    assert open(os.path.join(u.rootfs(), "x")).read() == "upper"


def test_replacements_between_layers(unpacker):
    u = unpacker
    l1 = [L.dir("d"), L.file("d/f", "f"), L.file("f", "f"), L.symlink("s", "f"), L.dir("x", mode=0o700)]
    l2 = [L.file("d", "now a file"), L.dir("f"), L.file("s", "file over link"), L.dir("x", mode=0o751, uid=7)]
    ref = u.image([l1, l2])
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr
    root = u.rootfs()
    assert open(os.path.join(root, "d")).read() == "now a file"
    assert os.path.isdir(os.path.join(root, "f"))
    assert not os.path.islink(os.path.join(root, "s"))
    x = os.lstat(os.path.join(root, "x"))
    assert stat.S_IMODE(x.st_mode) == 0o751 and x.st_uid == 7


def test_hardlink_to_earlier_layer(unpacker):
    u = unpacker
    ref = u.image([[L.file("lib/a.so", "code")], [L.hardlink("lib/b.so", "lib/a.so")]])
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr
    a = os.lstat(os.path.join(u.rootfs(), "lib/a.so"))
    b = os.lstat(os.path.join(u.rootfs(), "lib/b.so"))
    assert a.st_ino == b.st_ino and a.st_nlink == 2


def test_missing_parents_created(unpacker):
    u = unpacker
    ref = u.image([[L.file("deep/er/file", "x")]])
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr
    assert open(os.path.join(u.rootfs(), "deep/er/file")).read() == "x"


def test_config_json_conversion(unpacker):
    u = unpacker
    cfg = {
        "Entrypoint": ["/bin/prog", "--flag"], "Cmd": ["arg1"], "Env": ["PATH=/custom", "A=1"],
        "WorkingDir": "/srv", "User": "bob", "StopSignal": "SIGQUIT",
        "Labels": {"org.example.k": "v", "org.opencontainers.image.stopSignal": "SIGUSR1"},
        "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
    }
    ref = u.image([BASE], config=cfg)
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr
    c = json.load(open(os.path.join(u.bundle, "config.json")))
    p = c["process"]
    assert p["args"] == ["/bin/prog", "--flag", "arg1"]
    assert p["env"] == ["PATH=/custom", "A=1"]
    assert p["cwd"] == "/srv"
    assert p["user"] == {"uid": 1000, "gid": 1001, "additionalGids": [10, 29]}
    a = c["annotations"]
    assert a["org.opencontainers.image.stopSignal"] == "SIGUSR1"  # labels win
    assert a["org.example.k"] == "v"
    assert a["org.opencontainers.image.exposedPorts"] == "80/tcp,53/udp"
    assert a["org.opencontainers.image.os"] == "linux"
    assert a["org.opencontainers.image.architecture"] == "amd64"
    assert c["root"] == {"path": "rootfs", "readonly": True}
    assert p["noNewPrivileges"] is True
    assert [n["type"] for n in c["linux"]["namespaces"]] == ["pid", "network", "ipc", "uts", "mount"]
    assert "/proc/kcore" in c["linux"]["maskedPaths"]
    assert p["capabilities"]["bounding"] == ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def keel_spec(tmp, *args):
    """`keel spec` of the keel built here, terminal off (as an image's config has it)."""
    import subprocess
    keel = os.environ.get("KEEL") or os.path.join(os.environ.get("KEEL_BUILDDIR", "."), "keel")
    if not os.path.exists(keel):
        pytest.skip("keel is not built")
    d = str(tmp / ("spec%d" % len(args)))
    os.makedirs(d)
    subprocess.run([keel, "spec", *args], cwd=d, check=True)
    c = json.load(open(os.path.join(d, "config.json")))
    c["process"]["terminal"] = False
    return c


@pytest.mark.parametrize("rootless", [False, True])
def test_config_equals_keel_spec_defaults(unpacker, rootless):
    """Fields the image does not decide are the ones `keel spec` writes."""
    u = unpacker
    ref = u.image([BASE], config={"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                                         "/usr/bin:/sbin:/bin", "TERM=xterm"]})
    r = u.unpack(ref, *(["--rootless"] if rootless else []))
    assert r.returncode == 0, r.stderr
    c = json.load(open(os.path.join(u.bundle, "config.json")))
    c.pop("annotations")
    assert c == keel_spec(u.tmp, *(["--rootless"] if rootless else []))


@pytest.mark.parametrize("user,expect", [
    ("bob", {"uid": 1000, "gid": 1001, "additionalGids": [10, 29]}),
    ("1000", {"uid": 1000, "gid": 1001}),
    ("bob:staff", {"uid": 1000, "gid": 50}),
    ("bob:7", {"uid": 1000, "gid": 7}),
    ("4242", {"uid": 4242, "gid": 0}),
    ("4242:4343", {"uid": 4242, "gid": 4343}),
    ("daemon", {"uid": 2, "gid": 2, "additionalGids": [10]}),
    ("", {"uid": 0, "gid": 0}),
])
def test_user_resolution(unpacker, user, expect):
    u = unpacker
    ref = u.image([BASE], config={"User": user})
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr
    assert json.load(open(os.path.join(u.bundle, "config.json")))["process"]["user"] == expect


@pytest.mark.parametrize("user", ["nobody", "bob:nogroup"])
def test_unknown_user_is_an_error(unpacker, user):
    u = unpacker
    ref = u.image([BASE], config={"User": user})
    r = u.unpack(ref)
    assert r.returncode != 0 and "config.User" in r.stderr, r.stderr
    assert not os.path.exists(u.bundle)


def test_bundle_must_be_new_or_empty(unpacker):
    u = unpacker
    ref = u.image([[L.file("a", "x")]])
    os.makedirs(u.bundle)
    with open(os.path.join(u.bundle, "keep"), "w") as f:
        f.write("mine")
    r = u.unpack(ref)
    assert r.returncode != 0 and "not an empty directory" in r.stderr
    assert open(os.path.join(u.bundle, "keep")).read() == "mine"
    os.unlink(os.path.join(u.bundle, "keep"))
    assert u.unpack(ref).returncode == 0


def test_failure_in_existing_empty_bundle_leaves_it_empty(unpacker):
    u = unpacker
    ref = u.image([[L.file("ok", "x")], [L.file("../bad", "x")]])
    os.makedirs(u.bundle)
    r = u.unpack(ref)
    assert r.returncode != 0
    assert os.listdir(u.bundle) == []


def test_rootless_records_owners(unpacker):
    u = unpacker
    ref = u.image([[L.file("root-owned", "r"), L.file("user-owned", "u", uid=1000, gid=1001),
                    L.file("g-only", "g", gid=5), L.chardev("dev/null", 1, 3)]])
    r = u.unpack(ref, "--rootless")
    assert r.returncode == 0, r.stderr
    root = u.rootfs()
    with pytest.raises(OSError):
        os.getxattr(os.path.join(root, "root-owned"), "user.rootlesscontainers")
    # protobuf: field 1 (uid) varint 1000, field 2 (gid) varint 1001
    assert os.getxattr(os.path.join(root, "user-owned"), "user.rootlesscontainers") == b"\x08\xe8\x07\x10\xe9\x07"
    assert os.getxattr(os.path.join(root, "g-only"), "user.rootlesscontainers") == b"\x08\xff\xff\xff\xff\x0f\x10\x05"
    assert os.lstat(os.path.join(root, "user-owned")).st_uid == os.geteuid()
    c = json.load(open(os.path.join(u.bundle, "config.json")))
    assert "user" in [n["type"] for n in c["linux"]["namespaces"]]
    assert "network" not in [n["type"] for n in c["linux"]["namespaces"]]
    assert c["linux"]["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]


def test_uid_map_shifts_owners(unpacker):
    u = unpacker
    ref = u.image([[L.file("root-owned", "r"), L.file("user-owned", "u", uid=1000, gid=1001)]])
    r = u.unpack(ref, "--uid-map", "0:100000:65536", "--gid-map", "0:200000:65536")
    assert r.returncode == 0, r.stderr
    st = os.lstat(os.path.join(u.rootfs(), "user-owned"))
    assert (st.st_uid, st.st_gid) == (101000, 201001)
    st = os.lstat(os.path.join(u.rootfs(), "root-owned"))
    assert (st.st_uid, st.st_gid) == (100000, 200000)
    c = json.load(open(os.path.join(u.bundle, "config.json")))
    assert c["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 100000, "size": 65536}]


def test_uid_outside_map_is_an_error(unpacker):
    u = unpacker
    ref = u.image([[L.file("f", "x", uid=70000)]])
    r = u.unpack(ref, "--uid-map", "0:100000:65536")
    assert r.returncode != 0 and "uid 70000" in r.stderr and "entry `f`" in r.stderr
    assert not os.path.exists(u.bundle)


@pytest.mark.parametrize("args", [["--uid-map", "0:1"], ["--uid-map", "0:1:0"], ["--gid-map", "a:b:c"],
                                  ["--max-layer-size", "-1"], ["--bogus"]])
def test_bad_options(unpacker, args):
    u = unpacker
    ref = u.image([[L.file("f", "x")]])
    r = u.unpack(ref, *args)
    assert r.returncode != 0 and r.stderr
    assert not os.path.exists(u.bundle)


def test_multi_platform_index(unpacker):
    u = unpacker
    ref = u.image([[L.file("which", "amd64")]], refs=("tmp-a",))
    ref = u.image([[L.file("which", "arm64")]], refs=("tmp-b",))
    idx = json.load(open(os.path.join(u.store, "index.json")))
    ms = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in idx["manifests"]}
    a, b = dict(ms["tmp-a"]), dict(ms["tmp-b"])
    for m, arch in ((a, "amd64"), (b, "arm64")):
        m.pop("annotations")
        m["platform"] = {"os": "linux", "architecture": arch}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [a, b]}
    ib = json.dumps(index).encode()
    d = u.layout.blob(ib)
    u.layout.index["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d,
                                        "size": len(ib),
                                        "annotations": {"org.opencontainers.image.ref.name": "localhost/multi:1"}})
    u.layout._write_index()
    r = u.unpack("localhost/multi:1", "--platform", "linux/arm64")
    assert r.returncode == 0, r.stderr
    assert open(os.path.join(u.rootfs(), "which")).read() == "arm64"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_rootless_as_unprivileged_user(hoist_path, tmp_path):
    """A real non-root caller: no chown it cannot do, devices skipped,
    owners recorded, read-only directories still filled by later layers."""
    import shutil
    import subprocess
    import tempfile
    work = tempfile.mkdtemp(prefix="hoist-rootless-")
    try:
        os.chmod(work, 0o777)
        lay = L.Layout(os.path.join(work, "store"))
        lay.add_image([[L.dir("ro", mode=0o555), L.file("ro/a", "a"), L.file("owned", "o", uid=1000, gid=1001),
                        L.chardev("dev/null", 1, 3), L.file("suid", "s", mode=0o4755)],
                       [L.file("ro/b", "b"), L.whiteout("ro/a")]], refs=("localhost/rl:1",))
        for dirpath, dirnames, filenames in os.walk(work):
            for n in dirnames + filenames + ["."]:
                os.chown(os.path.join(dirpath, n), 65534, 65534)
        bundle = os.path.join(work, "bundle")
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", hoist_path,
                            "--store", lay.path, "unpack", "localhost/rl:1", bundle],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "dev/null" in r.stderr and "skipped" in r.stderr
        root = os.path.join(bundle, "rootfs")
        assert sorted(os.listdir(os.path.join(root, "ro"))) == ["b"]
        assert stat.S_IMODE(os.lstat(os.path.join(root, "ro")).st_mode) == 0o755  # 0555 + u+rwx
        assert os.lstat(os.path.join(root, "owned")).st_uid == 65534
        assert os.getxattr(os.path.join(root, "owned"), "user.rootlesscontainers") == b"\x08\xe8\x07\x10\xe9\x07"
        assert stat.S_IMODE(os.lstat(os.path.join(root, "suid")).st_mode) == 0o4755
        c = json.load(open(os.path.join(bundle, "config.json")))
        assert c["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 65534, "size": 1}]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_lower_directory_times_survive_later_layers(unpacker):
    u = unpacker
    ref = u.image([[L.dir("a", mtime=1500000000), L.dir("a/b", mtime=1500000001), L.file("a/b/x", "x"),
                    L.dir("w", mtime=1500000002), L.file("w/gone", "g")],
                   [L.file("a/b/new", "n"), L.file("a/c/deep/new", "n"), L.whiteout("w/gone")]])
    r = u.unpack(ref)
    assert r.returncode == 0, r.stderr
    root = u.rootfs()
    assert os.lstat(os.path.join(root, "a")).st_mtime == 1500000000
    assert os.lstat(os.path.join(root, "a/b")).st_mtime == 1500000001
    assert os.lstat(os.path.join(root, "w")).st_mtime == 1500000002


def test_signal_during_unpack_removes_the_bundle(unpacker):
    import signal
    import subprocess
    u = unpacker
    ref = u.image([[L.file("d%d/f%d" % (i % 50, i), "x") for i in range(40000)]])
    p = subprocess.Popen([u.hoist, "--store", u.store, "unpack", ref, u.bundle], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    err = u.signal_when_exists(p, os.path.join(u.bundle, "rootfs", "d0"), signal.SIGTERM)
    if p.returncode == 0:
        pytest.skip("the unpack finished before the signal arrived")
    assert p.returncode == -signal.SIGTERM, err
    assert not os.path.exists(u.bundle)


def test_ignored_sighup_does_not_stop_the_unpack(unpacker):
    """Started as nohup starts it (SIGHUP ignored), hoist must not take a
    SIGHUP as a request to stop: the unpack completes."""
    import signal
    import subprocess
    u = unpacker
    ref = u.image([[L.file("d%d/f%d" % (i % 50, i), "x") for i in range(20000)]])
    p = subprocess.Popen([u.hoist, "--store", u.store, "unpack", ref, u.bundle], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    err = u.signal_when_exists(p, os.path.join(u.bundle, "rootfs", "d0"), signal.SIGHUP)
    assert p.returncode == 0, err
    assert os.path.exists(os.path.join(u.bundle, "config.json"))
    assert os.path.exists(os.path.join(u.rootfs(), "d49", "f19999"))
