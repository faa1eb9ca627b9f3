"""Run representative keel and hoist commands under valgrind's memcheck
(spec-tests/valgrind.sh is the entry point; docs/reliability.md).

keel spec, features; keel create/start/state/list/ps/pause/resume/exec/
delete of a busybox bundle and create of a missing one; hoist pull from
Debian's docker-registry on loopback, images, inspect, unpack, gc and a pull
of a missing tag; keel kill and delete --force of running containers
(valgrind 3.19 answers pidfd_open with ENOSYS: keel's kill(2) fallback).
Each command's processes log to one file (--log-fd): keel's forked
children (the container init until it execs the container's program, the
exec'd process until its execve) are keel code and are checked too; what
they exec is not traced (--trace-children=no), so the container's busybox
runs natively.  A command fails on a non-zero exit, and the run fails
on any error line in any log, including those of processes that never exit
under valgrind (the init execs), where --error-exitcode cannot tell.

Usage: valgrind_run.py BUILDDIR WORKDIR
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "runtime"))
sys.path.insert(0, os.path.join(HERE, "image"))
import helpers  # noqa: E402
import registry as R  # noqa: E402

VALGRIND = [
    "valgrind", "-q", "--tool=memcheck", "--error-exitcode=99", "--leak-check=full",
    "--errors-for-leak-kinds=definite,indirect", "--show-leak-kinds=definite,indirect", "--track-fds=no",
    "--trace-children=no", "--child-silent-after-fork=no",
    "--suppressions=" + os.path.join(HERE, "valgrind.supp"),
]
# valgrind 3.19 does not know these syscalls and answers ENOSYS (keel falls
# back where it can): its warning about them is not an error of keel's.
WARNING = re.compile(r"^--\d+-- ")
ERROR = re.compile(r"^==\d+== \S")


class Run:
    def __init__(self, builddir, work):
        self.keel = os.path.join(builddir, "keel")
        self.hoist = os.path.join(builddir, "hoist")
        self.work = work
        self.logs = os.path.join(work, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.root = os.path.join(work, "state")
        self.failures = []
        self.n = 0

    def vg(self, name, argv, check=True, **kw):
        """Run argv under valgrind; its log goes to logs/NN-NAME, its
        output to files (a container init keeps create's stdout/stderr: a
        pipe would never see EOF)."""
        self.n += 1
        stem = "%02d-%s" % (self.n, name)
        out_path = os.path.join(self.work, stem + ".out")
        err_path = os.path.join(self.work, stem + ".err")
        t0 = time.monotonic()
        # One log per command, by fd: keel's children inherit it (a
        # --log-file=%p would be opened after the fork, from inside the
        # container's mount namespace); valgrind keeps it out of reach of
        # keel's fd cleanup.
        with open(out_path, "w") as out, open(err_path, "w") as err, \
                open(os.path.join(self.logs, stem), "w") as log:
            fd = log.fileno()
            rc = subprocess.run(VALGRIND + ["--log-fd=%d" % fd] + argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, timeout=300, pass_fds=(fd,), **kw).returncode
        with open(out_path) as f:
            stdout = f.read()
        with open(err_path) as f:
            stderr = f.read()
        print("  %-13s exit %-3d %5.1fs  %s" % (name, rc, time.monotonic() - t0, " ".join(argv[1:])))
        if check and rc != 0:
            self.failures.append("%s: exit %d (99 = valgrind errors): %s" % (name, rc, stderr.strip()))
        return subprocess.CompletedProcess(argv, rc, stdout, stderr)

    def keel_cmd(self, name, *args, **kw):
        return self.vg(name, [self.keel, "--root", self.root] + list(args), **kw)

    def check_logs(self):
        for path in sorted(glob.glob(os.path.join(self.logs, "*"))):
            with open(path, errors="replace") as f:
                lines = [line.rstrip("\n") for line in f]
            errors = [line for line in lines if ERROR.match(line)]
            if errors:
                self.failures.append("%s:\n    %s" % (os.path.basename(path), "\n    ".join(lines[:80])))
        return self.failures


def keel_kill_and_force_delete(run, bundle, cid):
    """keel kill, and delete --force, of running containers: valgrind 3.19
    answers pidfd_open with ENOSYS, so keel checks the init's start time and
    signals with kill(2), and delete watches /proc for the end."""
    def native(*args, **kw):
        return subprocess.run([run.keel, "--root", run.root] + list(args), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw).returncode

    def status(c):
        st = subprocess.run([run.keel, "--root", run.root, "state", c], capture_output=True, text=True)
        return json.loads(st.stdout)["status"] if st.returncode == 0 else None

    victims = [cid + "k", cid + "f"]
    try:
        for c in victims:
            # the init keeps create's stdout/stderr: no pipes, which would never see EOF
            if native("create", "--bundle", bundle.path, c) != 0 or native("start", c) != 0:
                run.failures.append("keel create/start of %s failed natively" % c)
                return
        run.keel_cmd("keel-kill", "kill", victims[0], "KILL")
        deadline = time.monotonic() + 30
        while status(victims[0]) not in ("stopped", None) and time.monotonic() < deadline:
            time.sleep(0.1)
        if status(victims[0]) != "stopped":
            run.failures.append("keel kill: the container did not stop: %s" % status(victims[0]))
        native("delete", victims[0])
        run.keel_cmd("keel-delete-f", "delete", "--force", victims[1])
        if status(victims[1]) is not None:
            run.failures.append("keel delete --force: the container is still there")
    finally:
        for c in victims:
            native("delete", "--force", c)


def scenario_keel(run):
    spec_dir = os.path.join(run.work, "spec")
    os.makedirs(spec_dir)
    run.vg("keel-spec", [run.keel, "spec"], cwd=spec_dir)
    if not os.path.exists(os.path.join(spec_dir, "config.json")):
        run.failures.append("keel spec wrote no config.json")

    bundle = helpers.Bundle(os.path.join(run.work, "bundle"))
    helpers.make_rootfs(bundle.rootfs)
    cfg = bundle.config
    # valgrind refuses to change RLIMIT_NOFILE's hard limit (EPERM) for the
    # client: leave rlimits out rather than measure valgrind's emulation.
    cfg["process"].pop("rlimits", None)
    # The container's process ends by itself once `exec` made the file, so
    # delete sees a stopped container without a kill.
    cfg["process"]["args"] = ["sh", "-c", "while [ ! -e /dev/shm/stop ]; do sleep 0.05; done"]
    with open(os.path.join(bundle.path, "config.json"), "w") as f:
        json.dump(cfg, f)

    cid = "vg%d" % os.getpid()
    r = run.keel_cmd("keel-create", "create", "--bundle", bundle.path, cid)
    if r.returncode != 0:
        return
    try:
        run.keel_cmd("keel-start", "start", cid)
        st = run.keel_cmd("keel-state", "state", cid)
        if st.returncode == 0 and json.loads(st.stdout)["status"] != "running":
            run.failures.append("keel state: not running: %s" % st.stdout)
        run.keel_cmd("keel-list", "list")
        run.keel_cmd("keel-ps", "ps", "--format", "json", cid)
        run.keel_cmd("keel-pause", "pause", cid)
        run.keel_cmd("keel-resume", "resume", cid)
        e = run.keel_cmd("keel-exec", "exec", cid, "sh", "-c", "echo exec-ok; touch /dev/shm/stop")
        if "exec-ok" not in e.stdout:
            run.failures.append("keel exec: no output: %r %r" % (e.stdout, e.stderr))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            st = subprocess.run([run.keel, "--root", run.root, "state", cid], capture_output=True, text=True)
            if st.returncode != 0 or json.loads(st.stdout)["status"] == "stopped":
                break
            time.sleep(0.1)
        run.keel_cmd("keel-delete", "delete", cid)
        keel_kill_and_force_delete(run, bundle, cid)
        run.vg("keel-features", [run.keel, "features"])
        # An error path: a bundle that does not exist.
        r = run.keel_cmd("keel-bad-bundle", "create", "--bundle", "/nonexistent", cid + "b", check=False)
        if r.returncode in (0, 99):
            run.failures.append("keel create of a missing bundle: exit %d" % r.returncode)
    finally:
        # Nothing left behind whatever failed.
        subprocess.run([run.keel, "--root", run.root, "delete", "--force", cid], capture_output=True)


def scenario_hoist(run):
    if not (os.path.exists(R.REGISTRY_BIN) and R.SKOPEO):
        run.failures.append("docker-registry or skopeo missing: the hoist part did not run")
        return
    reg = R.Registry(os.path.join(run.work, "registry")).start()
    try:
        lay = R.Layout(os.path.join(run.work, "layout"))
        img = lay.image([R.busybox_files(), [("etc", ("dir",)), ("etc/motd", b"layer two\n")]])
        lay.tag(img, "one")
        ref = reg.push(lay.path, "one", "vg/busybox")
        store = os.path.join(run.work, "store")
        run.vg("hoist-pull", [run.hoist, "--store", store, "pull", ref])
        bundle = os.path.join(run.work, "unpacked")
        run.vg("hoist-images", [run.hoist, "--store", store, "images"])
        run.vg("hoist-inspect", [run.hoist, "--store", store, "inspect", ref])
        run.vg("hoist-unpack", [run.hoist, "--store", store, "unpack", ref, bundle])
        if not os.path.exists(os.path.join(bundle, "rootfs", "etc", "motd")):
            run.failures.append("hoist unpack: no rootfs/etc/motd in %s" % bundle)
        run.vg("hoist-gc", [run.hoist, "--store", store, "gc"])
        # An error path: a tag the registry does not have.
        r = run.vg("hoist-pull-bad", [run.hoist, "--store", store, "pull", reg.host + "/vg/busybox:missing"],
                   check=False)
        if r.returncode in (0, 99):
            run.failures.append("hoist pull of a missing tag: exit %d" % r.returncode)
    finally:
        reg.stop()


def main():
    builddir, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if shutil.which("valgrind") is None:
        print("valgrind is not installed")
        return 77
    run = Run(builddir, work)
    t0 = time.monotonic()
    scenario_keel(run)
    scenario_hoist(run)
    failures = run.check_logs()
    print("valgrind: %d commands in %.0fs, logs in %s" % (run.n, time.monotonic() - t0, run.logs))
    for f in failures:
        print("FAIL " + f)
    print("valgrind: %s" % ("clean" if not failures else "%d failure(s)" % len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
