"""A throwaway rootful Podman: its own storage (--root/--runroot), its own
containers.conf and storage.conf (CONTAINERS_CONF/CONTAINERS_STORAGE_CONF),
its own CNI network, all under one temp dir that teardown resets and removes.

The runtime under test is reached two ways, as users do: `podman --runtime
PATH` (PodmanEnv.podman) and a containers.conf [engine.runtimes] entry that
is the default runtime (PodmanEnv.podman_conf)."""
import json
import os
import shutil
import subprocess
import time

import images

IMAGE = "localhost/keel-busybox:test"
# Per test session (two sessions may run at once on one host): the network
# name (also host-local's lease dir), its bridge and its subnet.
NETWORK = "keeltest-%d" % os.getpid()
BRIDGE = "kt%d" % os.getpid()
# A network and subnet of our own so the tests never touch the host's
# default `podman` network (10.88.0.0/16).
SUBNET = "10.213.%d.0/24" % (os.getpid() % 250 + 1)


def _toml_list(items):
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


class PodmanEnv:
    def __init__(self, base, runtime_path):
        self.base = str(base)
        self.runtime_path = runtime_path
        self.runtime_name = os.path.basename(runtime_path)
        d = lambda *p: os.path.join(self.base, *p)  # noqa: E731
        self.root, self.runroot, self.tmpdir = d("root"), d("runroot"), d("libpod-tmp")
        self.netconf, self.work = d("cni"), d("work")
        for p in (self.root, self.runroot, self.tmpdir, self.netconf, self.work, d("volumes")):
            os.makedirs(p, exist_ok=True)
        self.conf = d("containers.conf")
        self.storage_conf = d("storage.conf")
        self.events_log = d("events.log")
        with open(self.storage_conf, "w") as f:
            f.write('[storage]\ndriver = "overlay"\nrunroot = "%s"\ngraphroot = "%s"\n' % (self.runroot, self.root))
        with open(self.conf, "w") as f:
            f.write(self._containers_conf(d("volumes")))
        self.env = dict(os.environ)
        self.env.update(CONTAINERS_CONF=self.conf, CONTAINERS_STORAGE_CONF=self.storage_conf,
                        TMPDIR=self.tmpdir)
        self.env.pop("NOTIFY_SOCKET", None)
        self.bridge = None
        self.links_before = set()
        self.cgroups_before = set(self.PODMAN_CGROUPS)

    def _containers_conf(self, volumes):
        supports_json = sorted({"crun", "runc", "kata", "runsc", "youki", "krun", "keel", self.runtime_name})
        runtime_block = "\n".join([
            "[engine]",
            'runtime = "%s"' % self.runtime_name,
            "runtime_supports_json = %s" % _toml_list(supports_json),
            "",
            "[engine.runtimes]",
            "%s = [%s]" % (self.runtime_name, json.dumps(self.runtime_path)),
            "",
        ])
        self.volumes = volumes
        return self.containers_conf_with(runtime_block)

    def containers_conf_with(self, runtime_block):
        """The tests' containers.conf around runtime_block, a TOML text whose
        first table is [engine] (the runtime choice, as users write it)."""
        assert runtime_block.startswith("[engine]\n")
        engine = "\n".join([
            "[engine]",
            'cgroup_manager = "cgroupfs"',
            'events_logger = "file"',
            'events_logfile_path = "%s"' % self.events_log,
            'tmp_dir = "%s"' % self.tmpdir,
            'volume_path = "%s"' % self.volumes,
            'conmon_path = ["/usr/bin/conmon"]',
            "",
        ])
        return "\n".join([
            "[containers]",
            # The host's hard limits are nofile 20000 and no CAP_SYS_RESOURCE:
            # podman's defaults ask for more and every runtime fails.
            'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
            "log_driver = \"k8s-file\"",
            "",
            "[network]",
            'network_backend = "cni"',
            'cni_plugin_dirs = ["/usr/lib/cni"]',
            'network_config_dir = "%s"' % self.netconf,
            'default_network = "%s"' % NETWORK,
            'default_subnet = "%s"' % SUBNET,
            "",
            engine + runtime_block[len("[engine]\n"):],
        ])

    def base_cmd(self, runtime_flag=True):
        cmd = ["podman", "--root", self.root, "--runroot", self.runroot]
        if runtime_flag:
            cmd += ["--runtime", self.runtime_path]
        return cmd

    def podman(self, *args, check=False, timeout=120, input=None, runtime_flag=True, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        if input is None:
            kw.setdefault("stdin", subprocess.DEVNULL)  # CI runs with no stdin at all
        # conmon writes an `oom` marker into its cwd after an OOM kill.
        kw.setdefault("env", self.env)
        p = subprocess.run(self.base_cmd(runtime_flag) + list(args), cwd=self.work, text=True,
                           timeout=timeout, input=input, **kw)
        if check and p.returncode != 0:
            raise AssertionError("podman %s failed (%d):\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def podman_conf(self, *args, **kw):
        """podman with the runtime chosen by containers.conf only."""
        return self.podman(*args, runtime_flag=False, **kw)

    def ok(self, *args, **kw):
        return self.podman(*args, check=True, **kw).stdout

    def shell_cmd(self, *args):
        """The podman command line as one shell string (for script/bash)."""
        import shlex
        env = "CONTAINERS_CONF=%s CONTAINERS_STORAGE_CONF=%s TMPDIR=%s " % (
            shlex.quote(self.conf), shlex.quote(self.storage_conf), shlex.quote(self.tmpdir))
        return env + " ".join(shlex.quote(a) for a in self.base_cmd() + list(args))

    # The cgroups podman's cgroupfs manager makes for conmon; removed at
    # teardown when they were not there before (the containers' own cgroups
    # go with the containers).
    PODMAN_CGROUPS = ("/libpod_parent", "/libpod_parent/conmon")

    def _write_network(self):
        """The default network as a conflist of our own, so that its bridge
        is not podman's shared cni-podman0."""
        gateway = SUBNET.rsplit(".", 1)[0] + ".1"
        conf = {"cniVersion": "0.4.0", "name": NETWORK, "plugins": [
            {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": True, "hairpinMode": True,
             "ipam": {"type": "host-local", "routes": [{"dst": "0.0.0.0/0"}],
                      "ranges": [[{"subnet": SUBNET, "gateway": gateway}]]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "firewall", "backend": ""},
            {"type": "tuning"},
        ]}
        with open(os.path.join(self.netconf, NETWORK + ".conflist"), "w") as f:
            json.dump(conf, f, indent=2)

    def setup(self):
        self.links_before = set(os.listdir("/sys/class/net"))
        self._write_network()
        self.cgroups_before = {rel for rel in self.PODMAN_CGROUPS if any(map(os.path.isdir, cgroup_dirs(rel)))}
        tarball = images.write_rootfs_tar(os.path.join(self.base, "rootfs.tar"))
        self.ok("import", "--change", 'CMD ["sh"]', tarball, IMAGE)
        self.bridge = self.inspect_network("{{.NetworkInterface}}")

    def inspect_network(self, fmt):
        return self.ok("network", "inspect", "--format", fmt, NETWORK).strip()

    def inspect(self, name, fmt):
        return self.ok("inspect", "--format", fmt, name).strip()

    def wait_for(self, name, fmt, want, timeout=20):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.podman("inspect", "--format", fmt, name).stdout.strip()
            if got == want:
                return
            if self.podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip() in ("exited", "stopped"):
                break  # it will not get there: say why now
            time.sleep(0.1)
        raise AssertionError("%s: %s is %r, want %r; %s" % (name, fmt, got, want, self.describe(name)))

    def describe(self, name):
        """What podman knows about a container that went wrong: its state,
        the runtime's error as podman recorded it, and its output."""
        state = self.podman("inspect", "--format",
                            "status={{.State.Status}} exit={{.State.ExitCode}} error={{.State.Error}}", name)
        logs = self.podman("logs", name)
        return "%s; logs: %r %r" % (state.stdout.strip() or state.stderr.strip(), logs.stdout[-500:],
                                     logs.stderr[-500:])

    def teardown(self):
        for args in (("pod", "rm", "-af", "-t", "0"), ("rm", "-af", "-t", "0"),
                     ("network", "rm", "-f", NETWORK), ("system", "reset", "-f")):
            try:
                self.podman(*args, timeout=120)
            except subprocess.TimeoutExpired:
                pass
        umount_below(self.base)
        remove_cgroups(set(self.PODMAN_CGROUPS) - self.cgroups_before)
        if self.bridge and self.bridge not in self.links_before:
            subprocess.run(["ip", "link", "del", self.bridge],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.base, ignore_errors=True)
        # host-local IPAM keeps its leases (and a lock) per network name.
        shutil.rmtree(os.path.join("/var/lib/cni/networks", NETWORK), ignore_errors=True)


def cgroup_dirs(rel):
    """rel (e.g. "/libpod_parent/conmon") in every mounted cgroup hierarchy
    (v1 controllers and the v2 tree), whether or not it exists."""
    top = "/sys/fs/cgroup"
    try:
        names = sorted(os.listdir(top))
    except OSError:
        return []
    if os.path.exists(os.path.join(top, "cgroup.controllers")):
        return [top + rel]  # pure cgroup v2
    return [os.path.join(top, n) + rel for n in names if os.path.isdir(os.path.join(top, n))
            and not os.path.islink(os.path.join(top, n))]


def remove_cgroups(rels):
    """Removes the (empty) cgroups rels, deepest first; busy ones stay."""
    for rel in sorted(rels, key=len, reverse=True):
        for d in cgroup_dirs(rel):
            try:
                os.rmdir(d)
            except OSError:
                pass


def umount_below(base):
    """Lazily unmounts whatever is still mounted under base, deepest first."""
    base = os.path.realpath(base)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    points = [p.encode().decode("unicode_escape") for p in points]
    for p in sorted((p for p in points if p == base or p.startswith(base + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
