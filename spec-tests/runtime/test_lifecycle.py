"""The lifecycle commands with runc's command line: create, start, state,
kill, delete, list, run; exit codes, the pid file, stdio, error messages."""
import json
import os
import pwd
import signal
import socket
import subprocess
import time

import pytest
from lifecycle_util import is_runc, pid_alive, run_files, wait_status


def test_create_start_state_kill_delete(rt, bundle, tmp_path):
    bundle.set_args("sleep", "60")
    pidfile = tmp_path / "pid"
    run_files(rt, "create", "--bundle", bundle.path, "--pid-file", str(pidfile), "c1", check=True)
    pid = int(pidfile.read_text())
    st = json.loads(rt.run("state", "c1", check=True).stdout)
    assert st["id"] == "c1" and st["status"] == "created" and st["pid"] == pid
    assert st["bundle"] == os.path.realpath(bundle.path)
    assert st["ociVersion"].startswith("1.")
    assert "created" in st and "annotations" in st or st.get("annotations") is None
    # After create the user process has not started: the init is not sleep yet.
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        assert b"sleep" not in f.read()
    run_files(rt, "start", "c1", check=True)
    st = wait_status(rt, "c1", "running")
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        assert f.read().split(b"\0")[0] == b"sleep"
    r = rt.run("start", "c1")
    assert r.returncode != 0, "a running container cannot be started again"
    rt.run("kill", "c1", "KILL", check=True)
    st = wait_status(rt, "c1", "stopped")
    rt.run("delete", "c1", check=True)
    assert rt.run("state", "c1").returncode != 0
    assert "c1" not in rt.list_ids()
    assert not os.path.exists(os.path.join(rt.root, "c1"))


@pytest.mark.parametrize("sig", ["TERM", "SIGTERM", "15", "9", "KILL"])
def test_kill_signal_names_and_numbers(rt, bundle, sig):
    bundle.set_args("sh", "-c", "trap 'exit 3' TERM; while true; do sleep 0.1; done")
    run_files(rt, "run", "-d", "--bundle", bundle.path, "k", check=True)
    wait_status(rt, "k", "running")
    rt.run("kill", "k", sig, check=True)
    wait_status(rt, "k", "stopped")


def test_kill_default_is_sigterm(rt, bundle, tmp_path):
    bundle.set_args("sh", "-c", "trap 'echo got-term > /tmp/t; exit 0' TERM; while true; do sleep 0.1; done")
    bundle.config["root"]["readonly"] = False
    bundle.write()
    run_files(rt, "run", "-d", "--bundle", bundle.path, "k", check=True)
    wait_status(rt, "k", "running")
    time.sleep(0.2)
    rt.run("kill", "k", check=True)
    wait_status(rt, "k", "stopped")
    with open(os.path.join(bundle.rootfs, "tmp", "t")) as f:
        assert f.read().strip() == "got-term"


def test_kill_unknown_signal_is_an_error(rt, bundle):
    bundle.set_args("sleep", "60")
    run_files(rt, "run", "-d", "--bundle", bundle.path, "k", check=True)
    r = rt.run("kill", "k", "NOSUCHSIG")
    assert r.returncode != 0
    assert "NOSUCHSIG" in r.stderr


def test_kill_stopped_container_fails(rt, bundle):
    bundle.set_args("true")
    run_files(rt, "run", "-d", "--bundle", bundle.path, "k", check=True)
    wait_status(rt, "k", "stopped")
    assert rt.run("kill", "k", "KILL").returncode != 0


def test_delete_running_needs_force(rt, bundle, tmp_path):
    bundle.set_args("sleep", "60")
    pidfile = tmp_path / "pid"
    run_files(rt, "run", "-d", "--pid-file", str(pidfile), "--bundle", bundle.path, "d", check=True)
    pid = int(pidfile.read_text())
    r = rt.run("delete", "d")
    assert r.returncode != 0
    assert "running" in r.stderr
    rt.run("delete", "--force", "d", check=True)
    assert not pid_alive(pid)
    assert rt.run("state", "d").returncode != 0


def test_delete_created_container(rt, bundle, tmp_path):
    bundle.set_args("sleep", "60")
    pidfile = tmp_path / "pid"
    run_files(rt, "create", "--pid-file", str(pidfile), "--bundle", bundle.path, "d", check=True)
    pid = int(pidfile.read_text())
    rt.run("delete", "--force", "d", check=True)
    assert not pid_alive(pid)


def test_missing_container_errors(rt):
    for cmd in (["state", "nope"], ["start", "nope"], ["kill", "nope"], ["delete", "nope"]):
        r = rt.run(*cmd)
        assert r.returncode != 0
        assert "does not exist" in r.stderr


def test_duplicate_id_is_refused(rt, bundle):
    bundle.set_args("sleep", "60")
    run_files(rt, "create", "--bundle", bundle.path, "dup", check=True)
    r = run_files(rt, "create", "--bundle", bundle.path, "dup")
    assert r.returncode != 0
    assert "already exists" in r.stderr
    assert json.loads(rt.run("state", "dup", check=True).stdout)["status"] == "created"


@pytest.mark.parametrize("bad", ["a/b", "..", "a b", "x" * 1025])
def test_invalid_ids(rt, bundle, bad):
    r = run_files(rt, "create", "--bundle", bundle.path, bad)
    if r.returncode == 0:
        # a runtime that took it (crun takes "a b"): the fixture's cleanup
        # goes by `list`, which cannot name such a container
        rt.run("delete", "--force", bad)
    assert r.returncode != 0
    assert not os.listdir(rt.root)


def test_list_formats(rt, bundle):
    bundle.set_args("sleep", "60")
    run_files(rt, "create", "--bundle", bundle.path, "l1", check=True)
    run_files(rt, "run", "-d", "--bundle", bundle.path, "l2", check=True)
    assert sorted(rt.run("list", "-q", check=True).stdout.split()) == ["l1", "l2"]
    table = rt.run("list", check=True).stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "PID", "STATUS"]
    rows = {line.split()[0]: line.split()[2] for line in table[1:]}
    assert rows == {"l1": "created", "l2": "running"}
    data = json.loads(rt.run("list", "--format", "json", check=True).stdout)
    assert {c["id"]: c["status"] for c in data} == rows
    for c in data:
        assert c["bundle"] == os.path.realpath(bundle.path) and c["pid"] > 0


def test_list_owner(rt, bundle):
    bundle.set_args("sleep", "60")
    run_files(rt, "create", "--bundle", bundle.path, "o1", check=True)
    me = pwd.getpwuid(os.getuid()).pw_name
    table = rt.run("list", check=True).stdout.splitlines()
    assert table[0].split()[-1] == "OWNER"
    assert table[1].split()[0] == "o1" and table[1].split()[-1] == me, table
    assert json.loads(rt.run("list", "--format", "json", check=True).stdout)[0]["owner"] == me
    # the owner of the state dir; a uid without a passwd entry shows as "#UID", as runc
    uid = 54321
    while True:
        try:
            pwd.getpwuid(uid)
            uid += 1
        except KeyError:
            break
    sdir = os.path.join(rt.root, "o1")
    st = os.stat(sdir)
    os.chown(sdir, uid, -1)
    try:
        assert rt.run("list", check=True).stdout.splitlines()[1].split()[-1] == "#%d" % uid
        assert json.loads(rt.run("list", "--format", "json", check=True).stdout)[0]["owner"] == "#%d" % uid
    finally:
        os.chown(sdir, st.st_uid, -1)


def test_run_exit_codes(rt, bundle):
    bundle.set_args("sh", "-c", "exit 42")
    assert rt.run("run", "--bundle", bundle.path, "e1").returncode == 42
    bundle.set_args("true")
    assert rt.run("run", "--bundle", bundle.path, "e2").returncode == 0
    # run deletes the container once it exited
    assert rt.list_ids() == []


def test_run_killed_by_signal_exits_128_plus_n(rt, bundle):
    # pid 1 of a pid namespace cannot be killed from inside: kill from outside.
    bundle.set_args("sleep", "60")
    p = subprocess.Popen(rt.cmd("run", "--bundle", bundle.path, "sig"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        wait_status(rt, "sig", "running")
        rt.run("kill", "sig", "KILL", check=True)
        assert p.wait(timeout=20) == 128 + 9
    finally:
        p.kill()
        p.wait()


def test_run_forwards_signals(rt, bundle):
    bundle.set_args("sh", "-c", "trap 'exit 5' USR1; while true; do sleep 0.1; done")
    p = subprocess.Popen(rt.cmd("run", "--bundle", bundle.path, "fwd"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        wait_status(rt, "fwd", "running")
        time.sleep(0.3)
        p.send_signal(signal.SIGUSR1)
        assert p.wait(timeout=20) == 5
    finally:
        p.kill()
        p.wait()


def test_stdio_passthrough(rt, bundle):
    bundle.set_args("sh", "-c", "read x; echo out:$x; echo err:$x >&2")
    r = rt.run("run", "--bundle", bundle.path, "io", input="hello\n")
    assert r.returncode == 0
    assert r.stdout == "out:hello\n"
    assert "err:hello" in r.stderr


def test_pid_file_written_before_create_returns(rt, bundle, tmp_path):
    bundle.set_args("sleep", "60")
    pidfile = tmp_path / "sub" / "pid"
    pidfile.parent.mkdir()
    run_files(rt, "create", "--bundle", bundle.path, "--pid-file", str(pidfile), "p", check=True)
    pid = int(pidfile.read_text())
    assert pid_alive(pid)
    assert json.loads(rt.run("state", "p", check=True).stdout)["pid"] == pid


def test_state_stopped_after_exit(rt, bundle):
    bundle.set_args("true")
    run_files(rt, "run", "-d", "--bundle", bundle.path, "s", check=True)
    st = wait_status(rt, "s", "stopped")
    assert st["id"] == "s"
    rt.run("delete", "s", check=True)


def test_annotations_in_state(rt, bundle):
    bundle.config["annotations"] = {"org.example.a": "1", "b": "two"}
    bundle.set_args("sleep", "60")
    run_files(rt, "create", "--bundle", bundle.path, "an", check=True)
    st = json.loads(rt.run("state", "an", check=True).stdout)
    assert st["annotations"] == {"org.example.a": "1", "b": "two"}


def cgroups_named(name):
    found = []
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        found += [os.path.join(top, d) for d in dirs if d == name]
    return found


def test_error_from_init_reaches_user_and_nothing_is_left(rt, bundle):
    bundle.set_args("/no/such/program")
    cid = "bad-%d" % os.getpid()
    r = run_files(rt, "create", "--bundle", bundle.path, cid)
    assert r.returncode != 0
    assert "/no/such/program" in r.stderr
    assert rt.list_ids() == []
    assert not os.path.exists(os.path.join(rt.root, cid))
    assert cgroups_named(cid) == []
    # and the same container id works once the cause is fixed
    bundle.set_args("true")
    run_files(rt, "create", "--bundle", bundle.path, cid, check=True)
    assert cgroups_named(cid) != []


def test_mount_error_names_step_path_and_errno(rt, bundle):
    bundle.config["mounts"].append({"destination": "/mnt/x", "type": "nosuchfs", "source": "none"})
    bundle.set_args("true")
    r = run_files(rt, "create", "--bundle", bundle.path, "mnt")
    assert r.returncode != 0
    assert "/mnt/x" in r.stderr
    assert "no such device" in r.stderr.lower()
    assert not os.path.exists(os.path.join(rt.root, "mnt"))


def test_error_in_json_log(rt, bundle, tmp_path):
    bundle.set_args("/no/such/program")
    log = tmp_path / "log.json"
    r = run_files(rt, "create", "--bundle", bundle.path, "j",
               global_args=("--log", str(log), "--log-format", "json"))
    assert r.returncode != 0
    lines = [json.loads(l) for l in log.read_text().splitlines() if l.strip()]
    errors = [l for l in lines if l.get("level") == "error"]
    assert errors and "/no/such/program" in errors[-1]["msg"]


def test_missing_bundle_is_an_error(rt, tmp_path):
    r = run_files(rt, "create", "--bundle", str(tmp_path / "nothing"), "nb")
    assert r.returncode != 0
    assert "nothing" in r.stderr
    assert rt.list_ids() == []


def test_preserve_fds(rt, bundle, tmp_path):
    data = tmp_path / "data"
    data.write_text("preserved\n")
    bundle.set_args("sh", "-c", "cat <&3; ls /proc/self/fd")
    # The shell opens fd 3 for the runtime; everything else is closed.
    r = subprocess.run(["sh", "-c", 'exec "$@" 3<"$DATA"', "sh"] +
                       rt.cmd("run", "--preserve-fds", "1", "--bundle", bundle.path, "pf"),
                       env=dict(os.environ, DATA=str(data)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[0] == "preserved"
    # 0-2, the preserved 3, and the fd ls opens for /proc/self/fd
    assert sorted(int(x) for x in lines[1:]) == [0, 1, 2, 3, 4]


def test_fds_beyond_preserved_are_closed(rt, bundle, tmp_path):
    data = tmp_path / "data"
    data.write_text("x")
    bundle.set_args("ls", "/proc/self/fd")
    r = subprocess.run(["sh", "-c", 'exec "$@" 3<"$DATA" 4<"$DATA" 7<"$DATA"', "sh"] +
                       rt.cmd("run", "--bundle", bundle.path, "nf"),
                       env=dict(os.environ, DATA=str(data)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sorted(int(x) for x in r.stdout.split()) == [0, 1, 2, 3]


def test_listen_fds_passed(rt, bundle, tmp_path):
    data = tmp_path / "data"
    data.write_text("socket-stand-in\n")
    bundle.set_args("sh", "-c", "echo $LISTEN_FDS $LISTEN_PID; cat <&3")
    env = dict(os.environ, LISTEN_FDS="1", DATA=str(data))
    r = subprocess.run(["sh", "-c", 'LISTEN_PID=$$ exec "$@" 3<"$DATA"', "sh"] +
                       rt.cmd("run", "--bundle", bundle.path, "lf"),
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout.split()
    assert out[:3] == ["1", "1", "socket-stand-in"]


def test_no_pivot(rt, bundle):
    bundle.set_args("sh", "-c", "ls /; cat /proc/self/mountinfo | head -1")
    r = rt.run("run", "--no-pivot", "--bundle", bundle.path, "np")
    assert r.returncode == 0, r.stderr
    assert "busybox" not in r.stdout.split()  # the rootfs' own / listing
    assert "bin" in r.stdout.split()


def test_created_status_before_start_and_pid_is_init(rt, bundle, tmp_path):
    bundle.set_args("sleep", "60")
    run_files(rt, "create", "--bundle", bundle.path, "cr", check=True)
    st = json.loads(rt.run("state", "cr", check=True).stdout)
    assert st["status"] == "created"
    # the init waits for start: its cgroup and namespaces are there already
    assert os.readlink("/proc/%d/ns/pid" % st["pid"]) != os.readlink("/proc/self/ns/pid")


def test_list_skips_directories_that_are_not_containers(rt, bundle):
    # e.g. the seccomp cache under the root, or a create still in progress
    os.makedirs(os.path.join(rt.root, "seccomp-cache"), exist_ok=True)
    os.makedirs(os.path.join(rt.root, "half-made"), exist_ok=True)
    bundle.set_args("sleep", "60")
    run_files(rt, "create", "--bundle", bundle.path, "real", check=True)
    r = rt.run("list", "-q")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["real"]
    r = rt.run("list", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert [c["id"] for c in json.loads(r.stdout)] == ["real"]


# The program exists at create (create checks it) and is gone at start: the
# init's execve fails after `start` woke it.
RUNC_START_GAP = ("runc 1.1.5: `start` exits 0 when the init fails after the exec fifo (the error goes "
                  "nowhere), it only checks the program at create")


def start_with_vanished_program(rt, bundle, cid, *start_args, global_args=()):
    victim = os.path.join(bundle.rootfs, "bin", "victim")
    os.symlink("busybox", victim)
    bundle.set_args("/bin/victim", "60")
    run_files(rt, "create", "--bundle", bundle.path, cid, check=True)
    pid = json.loads(rt.run("state", cid, check=True).stdout)["pid"]
    os.unlink(victim)
    return pid, run_files(rt, "start", *start_args, cid, global_args=global_args)


def test_start_reports_exec_failure(rt, bundle, tmp_path):
    log = tmp_path / "log.json"
    pid, r = start_with_vanished_program(rt, bundle, "ve",
                                         global_args=("--log", str(log), "--log-format", "json"))
    try:
        if is_runc(rt) and r.returncode == 0:
            pytest.xfail(RUNC_START_GAP)
        assert r.returncode != 0
        assert "/bin/victim" in r.stderr and "No such file or directory" in r.stderr, r.stderr
        assert "exec" in r.stderr
        errors = [json.loads(l) for l in log.read_text().splitlines() if l.strip()]
        errors = [e for e in errors if e.get("level") == "error"]
        assert errors and "/bin/victim" in errors[-1]["msg"] and "No such file" in errors[-1]["msg"]
        # the container stopped; its init is gone (or a zombie of our subreaper-less parent)
        wait_status(rt, "ve", "stopped")
        assert not pid_alive(pid)
        rt.run("delete", "ve", check=True)
        assert rt.list_ids() == []
    finally:
        rt.run("delete", "--force", "ve")


def test_start_success_still_runs_and_exits_zero(rt, bundle):
    # The way back from the init must not turn a fast-exiting process into an error.
    bundle.set_args("true")
    for i in range(20):
        cid = "fast%d" % i
        run_files(rt, "create", "--bundle", bundle.path, cid, check=True)
        r = run_files(rt, "start", cid)
        assert r.returncode == 0, r.stderr
        wait_status(rt, cid, "stopped")
        rt.run("delete", cid, check=True)


def test_run_reports_exec_failure(rt, bundle):
    # `run` creates and starts at once: make the program vanish in between
    # with a startContainer hook (it runs in the container, after start).
    victim = os.path.join(bundle.rootfs, "bin", "victim")
    os.symlink("busybox", victim)
    bundle.config["root"]["readonly"] = False
    bundle.config["hooks"] = {"startContainer": [{"path": "/bin/rm", "args": ["rm", "/bin/victim"]}]}
    bundle.set_args("/bin/victim", "true")
    r = rt.run("run", "--bundle", bundle.path, "rv")
    if is_runc(rt) and r.returncode == 0:
        pytest.xfail(RUNC_START_GAP)
    assert r.returncode != 0
    assert "/bin/victim" in r.stderr and "no such file or directory" in r.stderr.lower(), r.stderr
    # said once, by the runtime itself, not also by the dying init on the container's stderr
    assert r.stderr.lower().count("no such file or directory") == 1, r.stderr
    assert rt.list_ids() == []


@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
def test_create_reports_refused_seccomp_listener(rt, bundle, tmp_path, nnp):
    # The notify fd goes to listenerPath during create (from the runtime on
    # the host, as runc does), also with noNewPrivileges, where the filter
    # is loaded as the last step of create's setup: a socket that refuses
    # the connection (bound, nobody listening) fails create, naming the
    # socket, and leaves nothing behind.
    path = str(tmp_path / "agent.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    try:
        bundle.config["process"]["noNewPrivileges"] = nnp
        bundle.config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path,
                                             "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]}
        bundle.set_args("sleep", "60")
        c = run_files(rt, "create", "--bundle", bundle.path, "sf")
        assert c.returncode != 0
        assert path in c.stderr and "seccomp" in c.stderr, c.stderr
        assert "sf" not in rt.list_ids()
        assert not os.path.exists(os.path.join(rt.root, "sf"))
    finally:
        srv.close()
        rt.run("delete", "--force", "sf")
