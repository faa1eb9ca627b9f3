"""Podman driving the runtime with user namespaces: an idmapped volume
(`-v SRC:DST:idmap`) in a container with --uidmap shows the host's files
with their own owners, and what the container's root writes is host root's.
runc 1.1 has no idmapped mounts (it ignores the option): skipped there."""
import os
import subprocess

import pytest

from podman_env import IMAGE


def runtime_is_old_runc(path):
    if "runc" not in os.path.basename(path):
        return False
    out = subprocess.run([path, "--version"], stdout=subprocess.PIPE, text=True).stdout
    return "version 1.1." in out or "version 1.0." in out


def test_idmapped_volume_with_uidmap(podman, scratch):
    if runtime_is_old_runc(os.environ.get("RUNTIME", "")):
        pytest.skip("runc 1.1 has no idmapped mounts")
    host = scratch / "idvol"
    host.mkdir()
    os.chmod(str(host), 0o755)
    (host / "by-root").write_text("root\n")
    (host / "by-1000").write_text("user\n")
    os.chown(str(host / "by-1000"), 1000, 1000)
    p = podman.podman("run", "--rm", "--uidmap", "0:200000:65536", "--gidmap", "0:200000:65536",
                      "-v", "%s:/data:idmap" % host, IMAGE, "sh", "-c",
                      "stat -c '%n %u:%g' /data/by-root /data/by-1000; touch /data/from-ctr")
    if p.returncode != 0 and "idmap" in p.stderr and "unknown" in p.stderr.lower():
        pytest.skip("this podman has no idmap volume option: " + p.stderr.strip())
    assert p.returncode == 0, p.stderr
    assert "/data/by-root 0:0" in p.stdout, p.stdout
    assert "/data/by-1000 1000:1000" in p.stdout, p.stdout
    st = os.stat(str(host / "from-ctr"))
    assert (st.st_uid, st.st_gid) == (0, 0)
