"""hoist run: from an image in the store to a container run by keel."""
import os
import shutil
import subprocess

import pytest

import layers as L

BUSYBOX = "/bin/busybox"
APPLETS = ["sh", "echo", "cat", "id", "pwd", "env", "ls", "true", "false", "sleep", "test"]


def keel_path():
    return os.environ.get("KEEL") or os.path.join(os.environ.get("KEEL_BUILDDIR", "."), "keel")


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="hoist run needs root"),
    pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="needs busybox-static"),
    pytest.mark.skipif(not os.path.exists(keel_path()), reason="keel is not built"),
]


def busybox_layers():
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    base = [L.dir("bin"), L.file("bin/busybox", bb, mode=0o755)]
    base += [L.symlink("bin/" + a, "busybox") for a in APPLETS]
    base += [L.dir(d) for d in ("proc", "sys", "dev", "tmp", "root", "srv")]
    base += [L.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1234:4321::/srv:/bin/sh\n"),
             L.file("etc/group", "root:x:0:\napp:x:4321:\nextra:x:77:app\n")]
    return [base, [L.file("srv/hello.txt", "hello from the image\n")]]


@pytest.fixture
def runner(unpacker):
    u = unpacker
    root = str(u.tmp / "keel-root")
    ref = u.image(busybox_layers(), config={"Cmd": ["cat", "/srv/hello.txt"], "Env": ["PATH=/bin", "FROM=image"],
                                            "WorkingDir": "/srv"})

    def run(*args, timeout=60):
        return subprocess.run([u.hoist, "--store", u.store, "run", "--runtime", keel_path(), "--runtime-root", root,
                               *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    run.ref = ref
    run.u = u
    yield run
    bundles = os.path.join(u.store, "bundles")
    if os.path.isdir(bundles):
        for b in os.listdir(bundles):
            subprocess.run(["umount", os.path.join(bundles, b, "rootfs")], stderr=subprocess.DEVNULL)
    shutil.rmtree(root, ignore_errors=True)


def test_run_image_default_command(runner):
    r = runner("--rm", runner.ref)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello from the image\n"
    assert os.listdir(os.path.join(runner.u.store, "bundles")) == []


@pytest.mark.parametrize("overlay", ["--overlay=true", "--overlay=false"])
def test_run_command_env_workdir_user(runner, overlay):
    r = runner("--rm", overlay, "-e", "X=1", "-e", "FROM=cli", "-w", "/tmp", "-u", "app", runner.ref,
               "sh", "-c", "echo $X $FROM; pwd; id -u; id -g; id -G")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:5] == ["1 cli", "/tmp", "1234", "4321", "4321 77"]


def test_run_exit_status_and_keep_bundle(runner):
    r = runner("--name", "keepme", "--overlay=false", runner.ref, "sh", "-c", "exit 7")
    assert r.returncode == 7, r.stderr
    b = os.path.join(runner.u.store, "bundles", "keepme")
    assert os.path.exists(os.path.join(b, "config.json"))
    r = runner("--name", "keepme", runner.ref, "true")
    assert r.returncode != 0 and "exists already" in r.stderr


def test_run_writes_stay_in_the_bundle(runner):
    r = runner("--rm", "--overlay=true", runner.ref, "sh", "-c", "echo changed > /srv/hello.txt; cat /srv/hello.txt")
    assert r.returncode == 0 and r.stdout == "changed\n", r.stderr
    r = runner("--rm", runner.ref)
    assert r.stdout == "hello from the image\n", r.stderr


def test_run_unknown_image(runner):
    r = runner("--rm", "localhost:1/nothing:1", timeout=120)
    assert r.returncode != 0 and "nothing" in r.stderr


def test_run_with_a_terminal(runner):
    """-t: the process gets a pty (keel proxies it to hoist's terminal)."""
    import pty
    import select
    u = runner.u
    root = str(u.tmp / "keel-root")
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(u.hoist, [u.hoist, "--store", u.store, "run", "--rm", "-it", "--runtime", keel_path(),
                           "--runtime-root", root, runner.ref, "sh", "-c", "test -t 0 && test -t 1 && echo TTY-OK"])
    out = b""
    while True:
        r, _, _ = select.select([fd], [], [], 30)
        if not r:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    assert b"TTY-OK" in out


def test_signals_to_hoist_reach_the_container(runner):
    """SIGTERM sent to hoist reaches the container's process (which, as
    PID 1, only reacts to signals it handles: hence the trap)."""
    import signal
    import time
    u = runner.u
    root = str(u.tmp / "keel-root")
    p = subprocess.Popen([u.hoist, "--store", u.store, "run", "--rm", "--name", "sigtest", "--runtime", keel_path(),
                          "--runtime-root", root, runner.ref, "sh", "-c",
                          "trap 'exit 3' TERM; echo ready; while :; do sleep 0.1; done"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"ready\n"
        t = time.monotonic()
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)
        assert time.monotonic() - t < 10
        assert p.returncode == 3, p.stderr.read()
        assert os.listdir(os.path.join(u.store, "bundles")) == []
    finally:
        if p.poll() is None:
            subprocess.run([keel_path(), "--root", root, "kill", "sigtest", "KILL"], capture_output=True)
            p.wait(timeout=20)


def test_signal_during_unpack_removes_the_bundle_and_runs_nothing(runner):
    """SIGTERM while hoist run unpacks: the half-made bundle is removed, no
    container is created, and hoist dies of the signal."""
    import signal
    u = runner.u
    root = str(u.tmp / "keel-root")
    many = [L.file("d%d/f%d" % (i % 50, i), "x") for i in range(40000)]
    ref = u.image(busybox_layers() + [many], config={"Cmd": ["true"]})
    bundle = os.path.join(u.store, "bundles", "sigunpack")
    p = subprocess.Popen([u.hoist, "--store", u.store, "run", "--rm", "--overlay=false", "--name", "sigunpack",
                          "--runtime", keel_path(), "--runtime-root", root, ref],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = u.signal_when_exists(p, os.path.join(bundle, "rootfs", "d0"), signal.SIGTERM)
    if p.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert p.returncode == -signal.SIGTERM, err
    assert not os.path.exists(bundle)
    assert not os.path.exists(os.path.join(root, "sigunpack"))
