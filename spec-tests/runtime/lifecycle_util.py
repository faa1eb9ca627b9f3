"""Helpers of the lifecycle tests.

`create` and `run -d` leave the container behind holding the runtime's
stdio, as runc does (engines pass their own pipes). Reading a pipe to its
end would then wait for the container, so these commands run with their
stdout and stderr in files."""
import json
import subprocess
import tempfile
import time


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def run_files(rt, *args, global_args=(), check=False, timeout=60, stdin=subprocess.DEVNULL, prefix=(), **kw):
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run([*prefix, *rt.cmd(*args, global_args=global_args)], stdin=stdin, stdout=out,
                           stderr=err, timeout=timeout, **kw)
        out.seek(0)
        err.seek(0)
        r = Result(p.returncode, out.read(), err.read())
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d): %s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def state(rt, cid):
    return json.loads(rt.run("state", cid, check=True).stdout)


def wait_status(rt, cid, want, timeout=10):
    deadline = time.time() + timeout
    st = None
    while time.time() < deadline:
        r = rt.run("state", cid)
        if r.returncode == 0:
            st = json.loads(r.stdout)
            if st["status"] == want:
                return st
        time.sleep(0.05)
    raise AssertionError("container %s never became %s (last: %s)" % (cid, want, st))


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def is_keel(rt):
    """keel itself, not a peer: what keel promises beyond the spec and runc
    (its own files, such as the seccomp cache), is checked only on it."""
    return rt.run("--version").stdout.startswith("keel ")


def is_runc(rt):
    """runc 1.1 differs from keel in documented ways (it only warns about
    unknown capabilities, has no domainname); tests say which."""
    return "runc" in rt.path.rsplit("/", 1)[-1]
