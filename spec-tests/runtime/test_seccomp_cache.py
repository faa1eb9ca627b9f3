"""keel's compiled-filter cache, seen from outside: <root>/seccomp-cache.
Other runtimes have no such cache, so these tests only run against keel."""
import errno
import os
import subprocess
import uuid

import pytest

from lifecycle_util import run_files
from seccomp_profiles import podman_default

MAGIC = b"KEELBPF1"


@pytest.fixture
def keel_only(runtime_path):
    if os.path.basename(runtime_path) != "keel":
        pytest.skip("the seccomp cache is keel's own (runtime is %s)" % runtime_path)


def profile(errno_ret):
    prof = podman_default()
    if prof is None:
        pytest.skip("podman's seccomp profile (containers-common) is not installed")
    prof["syscalls"].insert(0, {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno_ret})
    return prof


def run_mkdir(rt, bundle, prof):
    bundle.config["root"]["readonly"] = False
    bundle.config["linux"]["seccomp"] = prof
    bundle.set_args("sh", "-c", "mkdir /tmp/d; echo rc=$?")
    r = rt.run("run", "--bundle", bundle.path, "c" + uuid.uuid4().hex[:10], timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout + r.stderr


def entries(rt):
    d = os.path.join(rt.root, "seccomp-cache")
    if not os.path.isdir(d):
        return {}
    return {n: os.path.join(d, n) for n in os.listdir(d)}


def test_second_container_uses_the_cache(keel_only, rt, bundle):
    prof = profile(errno.EDQUOT)
    assert os.strerror(errno.EDQUOT) in run_mkdir(rt, bundle, prof)
    first = entries(rt)
    assert len(first) == 1
    (name, path), = first.items()
    assert len(name) == 16 and all(c in "0123456789abcdef" for c in name)
    with open(path, "rb") as f:
        assert f.read(8) == MAGIC
    st = os.stat(path)
    assert os.strerror(errno.EDQUOT) in run_mkdir(rt, bundle, prof)
    # A hit reads the entry and leaves it alone.
    assert entries(rt) == first
    assert os.stat(path).st_ino == st.st_ino and os.stat(path).st_mtime_ns == st.st_mtime_ns

    # Another profile is another entry, with its own behaviour.
    assert os.strerror(errno.EXDEV) in run_mkdir(rt, bundle, profile(errno.EXDEV))
    assert len(entries(rt)) == 2


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_corrupt_entry_is_recompiled(keel_only, rt, bundle, damage):
    prof = profile(errno.EDQUOT)
    run_mkdir(rt, bundle, prof)
    (name, path), = entries(rt).items()
    with open(path, "rb") as f:
        good = f.read()
    bad = {"flip": good[:-5] + bytes([good[-5] ^ 0xFF]) + good[-4:],
           "truncate": good[:len(good) // 2],
           "empty": b""}[damage]
    with open(path, "wb") as f:
        f.write(bad)
    # The container still gets the right filter, and the entry is repaired.
    assert os.strerror(errno.EDQUOT) in run_mkdir(rt, bundle, prof)
    with open(path, "rb") as f:
        assert f.read() == good


def test_hostile_entry_under_the_right_name_is_not_trusted(keel_only, rt, bundle):
    """An entry built from another profile, renamed to this profile's key,
    fails the key check: the container gets its own filter."""
    strict = profile(errno.EDQUOT)
    run_mkdir(rt, bundle, strict)
    (strict_name, strict_path), = entries(rt).items()
    allow = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_ERRNO"}]}
    bundle.config["root"]["readonly"] = False
    run_mkdir(rt, bundle, allow)
    other = [p for n, p in entries(rt).items() if n != strict_name][0]
    os.replace(other, strict_path)
    assert os.strerror(errno.EDQUOT) in run_mkdir(rt, bundle, strict)


def test_hit_loads_neither_libseccomp_nor_libcrypto(keel_only, runtime_path, rt, bundle):
    """A warm hit needs no compiler and no cryptographic hash: keel maps
    neither library (ld.so's LD_DEBUG=files names every object it loads,
    also a dlopen()ed one).  A miss loads libseccomp, which shows the probe
    sees a dlopen()."""
    ldd = subprocess.run(["ldd", runtime_path], capture_output=True, text=True)
    if ldd.returncode != 0:
        pytest.skip("a static keel links libseccomp in (%s)" % (ldd.stdout + ldd.stderr).strip())
    prof = profile(errno.EDQUOT)
    bundle.config["root"]["readonly"] = False
    bundle.config["linux"]["seccomp"] = prof
    bundle.set_args("true")

    def loaded():
        r = rt.run("run", "--bundle", bundle.path, "c" + uuid.uuid4().hex[:10], timeout=60,
                   env=dict(os.environ, LD_DEBUG="files"))
        assert r.returncode == 0, r.stderr
        return [ln for ln in r.stderr.splitlines() if "file=" in ln]

    cold = loaded()
    if not any("libseccomp" in ln for ln in cold):
        pytest.skip("keel links libseccomp (LD_DEBUG shows no dlopen of it): %s" % cold[:3])
    warm = loaded()
    assert warm, "LD_DEBUG=files printed nothing"
    assert not any("libseccomp" in ln or "libcrypto" in ln for ln in warm), warm
    assert not any("libcrypto" in ln for ln in cold), cold


def test_unwritable_cache_does_not_fail_the_container(keel_only, rt, bundle):
    with open(os.path.join(rt.root, "seccomp-cache"), "w") as f:
        f.write("not a directory\n")
    assert os.strerror(errno.EDQUOT) in run_mkdir(rt, bundle, profile(errno.EDQUOT))


def test_state_dir_keeps_the_program(keel_only, rt, bundle):
    bundle.config["root"]["readonly"] = False
    bundle.config["linux"]["seccomp"] = profile(errno.EDQUOT)
    bundle.set_args("sleep", "30")
    c = "c" + uuid.uuid4().hex[:10]
    r = run_files(rt, "create", "--bundle", bundle.path, c, timeout=60)
    assert r.returncode == 0, r.stderr
    try:
        copies = [os.path.join(dp, "seccomp.bpf") for dp, _, files in os.walk(rt.root) if "seccomp.bpf" in files]
        assert len(copies) == 1
        with open(copies[0], "rb") as f:
            assert f.read(8) == MAGIC
    finally:
        rt.run("delete", "--force", c, timeout=30)
