"""Test images built locally, never pulled: a busybox-static root filesystem
as a plain tarball (for `podman import`) and as a docker-archive (for
`ctr image import`)."""
import hashlib
import io
import json
import subprocess
import tarfile
import time

BUSYBOX = "/bin/busybox"

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "user:x:1000:1000:user:/home/user:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n")
GROUP = "root:x:0:\ntty:x:5:\nuser:x:1000:\nnogroup:x:65534:\n"
INDEX_HTML = "keel engine test page\n"


def _applets():
    out = subprocess.run([BUSYBOX, "--list-full"], stdout=subprocess.PIPE, check=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def _add_dir(tar, name, mode=0o755):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = int(time.time())
    tar.addfile(info)


def _add_file(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _add_symlink(tar, name, target):
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    info.mode = 0o777
    tar.addfile(info)


def rootfs_tar_bytes():
    """A busybox-static rootfs: the binary, every applet as a symlink,
    passwd/group with root, user 1000 and nobody, and a page for httpd."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        dirs = ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "root", "var",
                "run", "home", "home/user", "www", "data", "mnt"]
        for d in dirs:
            _add_dir(tar, d)
        _add_dir(tar, "tmp", 0o1777)
        with open(BUSYBOX, "rb") as f:
            _add_file(tar, "bin/busybox", f.read(), 0o755)
        seen = {"bin/busybox"}
        for path in _applets():
            if path in seen:
                continue
            seen.add(path)
            _add_symlink(tar, path, "/bin/busybox")
        _add_file(tar, "etc/passwd", PASSWD.encode())
        _add_file(tar, "etc/group", GROUP.encode())
        _add_file(tar, "etc/hosts", b"127.0.0.1 localhost\n")
        _add_file(tar, "www/index.html", INDEX_HTML.encode())
    return buf.getvalue()


def write_rootfs_tar(path):
    with open(path, "wb") as f:
        f.write(rootfs_tar_bytes())
    return path


def write_docker_archive(path, ref):
    """A `docker save`-style archive holding one image, `ref`, made of the
    busybox layer; containerd's `ctr image import` reads this format."""
    layer = rootfs_tar_bytes()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "keel engine tests"}],
    }
    config_bytes = json.dumps(config).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_name = diff_id[7:] + "/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": [layer_name]}]
    with tarfile.open(path, "w") as tar:
        _add_file(tar, config_name, config_bytes)
        _add_dir(tar, diff_id[7:])
        _add_file(tar, layer_name, layer)
        _add_file(tar, "manifest.json", json.dumps(manifest).encode())
    return path
