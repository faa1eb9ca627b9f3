"""A throwaway containerd: its own config.toml, root, state, sockets and
namespace under one temp dir, started here and killed by PID at teardown.

The runtime under test reaches the io.containerd.runc.v2 shim two ways:
- `ctr run --runc-binary PATH`, which sets the shim's BinaryName option (the
  same protobuf field Kubernetes' CRI config fills from `options.BinaryName`);
- with runc_on_path, a second containerd whose PATH (inherited by its shims)
  finds the runtime under test as `runc`. ctr 1.6 drops --runc-binary when
  --uidmap or --no-pivot rebuild the runtime options, and `ctr containers
  create` has no --runc-binary, so those scenarios use this instance."""
import json
import os
import shutil
import signal
import subprocess
import time

import images
from podman_env import remove_cgroups, umount_below

IMAGE = "localhost/keel-busybox:test"
# Per test session: the shim keeps the runtime's --root per namespace, so two
# sessions at once (a developer's and CI's) never share container ids there.
NAMESPACE = "keeltest-%d" % os.getpid()
RUNC_ROOT = "/run/containerd/runc/" + NAMESPACE


class ContainerdEnv:
    def __init__(self, base, runtime_path, runc_on_path=False):
        self.base = str(base)
        self.runtime_path = runtime_path
        self.runtime_name = os.path.basename(runtime_path)
        d = lambda *p: os.path.join(self.base, *p)  # noqa: E731
        self.root, self.state, self.fifo = d("root"), d("state"), d("fifo")
        self.rtbin, self.work = d("rtbin"), d("work")
        self.runc_on_path = runc_on_path
        for p in (self.root, self.state, self.fifo, self.rtbin, self.work, d("opt")):
            os.makedirs(p, exist_ok=True)
        self.address = d("containerd.sock")
        self.config = d("config.toml")
        self.log = d("containerd.log")
        self.proc = None
        with open(self.config, "w") as f:
            f.write(self._config_toml(d("opt")))
        os.symlink(self.runtime_path, os.path.join(self.rtbin, "runc"))

    def _config_toml(self, opt):
        return "\n".join([
            "version = 2",
            'root = "%s"' % self.root,
            'state = "%s"' % self.state,
            # The CRI plugin would want CNI and an image service of its own;
            # these scenarios drive the task API directly.
            'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",',
            '  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",',
            '  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]',
            "[grpc]",
            '  address = "%s"' % self.address,
            "[ttrpc]",
            '  address = "%s.ttrpc"' % self.address,
            "[debug]",
            '  address = "%s.debug"' % self.address,
            '  level = "info"',
            "[metrics]",
            '  address = ""',
            '[plugins."io.containerd.internal.v1.opt"]',
            '  path = "%s"' % opt,
            "",
        ])

    def setup(self):
        env = dict(os.environ)
        if self.runc_on_path:
            env["PATH"] = self.rtbin + ":" + env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        env.pop("NOTIFY_SOCKET", None)
        with open(self.log, "w") as logf:
            self.proc = subprocess.Popen(["containerd", "--config", self.config], stdout=logf,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                         cwd=self.work, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("containerd exited (%d):\n%s" % (self.proc.returncode, self.read_log()))
            if os.path.exists(self.address) and self.ctr("version").returncode == 0:
                break
            if time.monotonic() > deadline:
                raise AssertionError("containerd did not answer on %s:\n%s" % (self.address, self.read_log()))
            time.sleep(0.1)
        archive = images.write_docker_archive(os.path.join(self.base, "image.tar"), IMAGE)
        self.ok("images", "import", archive)

    def read_log(self):
        with open(self.log, errors="replace") as f:
            return f.read()[-4000:]

    def ctr(self, *args, check=False, timeout=120, input=None, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        if input is None:
            kw.setdefault("stdin", subprocess.DEVNULL)  # CI runs with no stdin at all
        p = subprocess.run(self.ctr_cmd(*args), text=True, timeout=timeout, input=input, cwd=self.work, **kw)
        if check and p.returncode != 0:
            raise AssertionError("ctr %s failed (%d):\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def ctr_cmd(self, *args):
        return ["ctr", "--address", self.address, "--namespace", NAMESPACE] + list(args)

    def ok(self, *args, **kw):
        return self.ctr(*args, check=True, **kw).stdout

    def run_flags(self):
        if self.runc_on_path:
            return ["--fifo-dir", self.fifo]
        return ["--runc-binary", self.runtime_path, "--fifo-dir", self.fifo]

    def run(self, cid, *args, opts=(), **kw):
        """ctr run --rm of IMAGE with the runtime under test."""
        return self.ctr("run", "--rm", *self.run_flags(), *opts, IMAGE, cid, *args, **kw)

    def run_detached(self, cid, *args, opts=()):
        self.ok("run", "-d", *self.run_flags(), *opts, IMAGE, cid, *args)
        self.wait_status(cid, "RUNNING")

    def task_status(self, cid):
        for line in self.ok("tasks", "ls").splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == cid:
                return fields[2]
        return None

    def runtime_state(self, cid):
        """The runtime under test's own `state` of a container the shim made:
        only the runtime that created it can answer."""
        p = subprocess.run([self.runtime_path, "--root", RUNC_ROOT, "state", cid], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        assert p.returncode == 0, "%s state %s: %s" % (self.runtime_path, cid, p.stderr)
        return json.loads(p.stdout)

    def task_pid(self, cid):
        for line in self.ok("tasks", "ls").splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == cid:
                return int(fields[1])
        raise AssertionError("no task %s" % cid)

    def wait_status(self, cid, want, timeout=20):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.task_status(cid)
            if got == want:
                return
            time.sleep(0.05)
        raise AssertionError("task %s is %s, want %s" % (cid, got, want))

    def remove(self, cid):
        self.ctr("tasks", "kill", "--all", "-s", "SIGKILL", cid)
        for _ in range(50):
            if self.ctr("tasks", "rm", "-f", cid).returncode != 0 and self.task_status(cid) is None:
                break
            if self.task_status(cid) is None:
                break
            time.sleep(0.1)
        self.ctr("containers", "rm", cid)

    def teardown(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                for line in self.ctr("containers", "ls", "-q", timeout=30).stdout.split():
                    self.remove(line)
                self.ctr("images", "rm", IMAGE, timeout=30)
            except subprocess.TimeoutExpired:
                pass
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._kill_leftover_shims()
        # ctr's default cgroupsPath is /NAMESPACE/ID: the runtime removes the
        # container's cgroup, the namespace's parent is ours to remove.
        remove_cgroups(["/" + NAMESPACE])
        umount_below(self.base)
        shutil.rmtree(self.base, ignore_errors=True)
        # The shim's --root for our namespace: no container is left in it now,
        # only what the runtime keeps there (keel: its seccomp cache).
        shutil.rmtree(RUNC_ROOT, ignore_errors=True)
        try:
            os.rmdir("/run/containerd/fifo")
        except OSError:
            pass

    def _kill_leftover_shims(self):
        """Shims of this containerd (they name its socket in their argv)
        that outlived it, killed by PID."""
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and b"containerd-shim" in argv[0] and self.address.encode() in argv:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
