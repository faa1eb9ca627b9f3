"""Helpers shared by the runtime tests: running the runtime, building bundles."""
import copy
import json
import os
import shutil
import subprocess

BUSYBOX = "/bin/busybox"

# The same defaults `runc spec` writes (runtime-spec 1.0.2 era), so the tests
# do not depend on the runtime under test to make their bundles.
DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

DEFAULT_CONFIG = {
    "ociVersion": "1.0.2",
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
        "cwd": "/",
        "capabilities": {k: list(DEFAULT_CAPS) for k in ("bounding", "effective", "permitted", "ambient")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "runc",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                        "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
}

BUSYBOX_APPLETS = ["sh", "true", "false", "echo", "cat", "sleep", "ls", "id", "env", "pwd", "hostname",
                   "mount", "ps", "kill", "stat", "readlink", "touch", "mkdir", "rm", "grep", "head",
                   "wc", "test", "ln", "chmod", "tr", "uname", "nproc", "dd", "ulimit", "printf",
                   "domainname", "find", "sort", "seq"]


def make_rootfs(path):
    """A minimal rootfs: busybox-static plus its applets as symlinks."""
    os.makedirs(path, exist_ok=True)
    for d in ("bin", "proc", "sys", "dev", "etc", "tmp", "root", "usr/bin", "var"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    os.chmod(os.path.join(path, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(path, "bin", "busybox"))
    for applet in BUSYBOX_APPLETS:
        link = os.path.join(path, "bin", applet)
        if not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(path, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
    with open(os.path.join(path, "etc", "group"), "w") as f:
        f.write("root:x:0:\ntty:x:5:\nnogroup:x:65534:\n")


class Bundle:
    def __init__(self, path):
        self.path = str(path)
        self.rootfs = os.path.join(self.path, "rootfs")
        self.config = copy.deepcopy(DEFAULT_CONFIG)

    def write(self):
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f, indent=2)

    def set_args(self, *args):
        self.config["process"]["args"] = list(args)
        self.write()


def make_bundle(path):
    os.makedirs(path, exist_ok=True)
    b = Bundle(path)
    make_rootfs(b.rootfs)
    b.write()
    return b


class Runtime:
    """Runs one runtime binary with a private --root."""

    def __init__(self, path, root):
        self.path = path
        self.root = root

    def cmd(self, *args, global_args=(), **kw):
        return [self.path, "--root", self.root, *global_args, *args]

    def run(self, *args, global_args=(), check=False, timeout=60, input=None, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        r = subprocess.run(self.cmd(*args, global_args=global_args), timeout=timeout, input=input,
                           text=True, **kw)
        if check and r.returncode != 0:
            raise AssertionError("%s failed (%d): %s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def list_ids(self):
        try:
            r = self.run("list", "-q", timeout=20)
        except Exception:
            return []
        if r.returncode != 0:
            return []
        return [line for line in r.stdout.split() if line]

    def cleanup(self):
        for cid in self.list_ids():
            try:
                self.run("delete", "--force", cid, timeout=30)
            except Exception:
                pass
        shutil.rmtree(self.root, ignore_errors=True)
