"""The benchmark scenarios that bench/run runs.

A scenario returns {table: {tool: {"cpu": [s...], "wall": [s...], "rss": [KiB...]}}} (or
{"error": "..."} for a tool that failed); every table becomes one section of the report. Tools
alternate within every round so drifts of the machine hit all of them alike. Every command runs
under bench/measure.c's launcher (CPU = user+sys of the command and everything it waited for,
wall, peak RSS); nothing here has a second way of measuring.

Runtime scenarios compare keel with runc and crun (and a static keel when given); image scenarios
compare hoist with skopeo, umoci and tar. This file folds in what exec_bench.py, seccomp_run.py,
hoist_pull.py and hoist_unpack.py measured before.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "spec-tests", "runtime"))
sys.path.insert(0, os.path.join(HERE, "..", "spec-tests", "image"))
import helpers  # noqa: E402
from seccomp_profiles import podman_default  # noqa: E402


def new_table(tools):
    return {t: {"cpu": [], "wall": [], "rss": []} for t in tools}


def record(table, tool, fn):
    """Run fn() -> (cpu, wall, rss) for tool unless it already failed; failures are reported."""
    if "error" in table[tool]:
        return None
    try:
        m = fn()
    except Exception as e:  # a tool that fails is reported, not fatal
        table[tool] = {"cpu": [], "wall": [], "rss": [], "error": str(e).strip()[-300:]}
        return None
    for k, v in zip(("cpu", "wall", "rss"), m):
        table[tool][k].append(v)
    return m


def cid(prefix="b"):
    return prefix + uuid.uuid4().hex[:12]


def quiet(argv):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------- bundles

def plain_bundle(work, name, args=("/bin/true",)):
    b = helpers.make_bundle(os.path.join(work, name))
    b.config["process"]["args"] = list(args)
    b.write()
    return b


def realistic_bundle(work, name, args=("/bin/true",), seccomp=True):
    """What an engine sends: podman's seccomp profile, rlimits, memory/pids/cpu limits, six bind
    mounts, plus the default bundle's masked and read-only paths and namespaces."""
    b = helpers.make_bundle(os.path.join(work, name))
    b.config["process"]["args"] = list(args)
    b.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096},
                                      {"type": "RLIMIT_NPROC", "hard": 4096, "soft": 4096}]
    b.config["linux"]["resources"].update({"memory": {"limit": 512 << 20}, "pids": {"limit": 1024},
                                           "cpu": {"shares": 512}})
    for i in range(6):
        src = os.path.join(work, name + "-bind%d" % i)
        os.makedirs(src, exist_ok=True)
        os.makedirs(os.path.join(b.rootfs, "mnt", "b%d" % i), exist_ok=True)
        b.config["mounts"].append({"destination": "/mnt/b%d" % i, "type": "bind", "source": src,
                                   "options": ["rbind", "ro" if i % 2 else "rw"]})
    prof = podman_default() if seccomp else None
    if prof:
        b.config["linux"]["seccomp"] = prof
    b.write()
    return b


# ---------------------------------------------------------------- runtime scenarios

class Ctx:
    """What every scenario gets: runtimes {name: path}, rounds, a work dir, the launcher."""

    def __init__(self, runtimes, rounds, work, measure, hoist, image_rounds, notes):
        self.runtimes, self.rounds, self.work, self.measure = runtimes, rounds, work, measure
        self.hoist, self.image_rounds, self.notes = hoist, image_rounds, notes

    def root(self, rt):
        return os.path.join(self.work, "state-" + rt)


def sc_run(ctx, title, bundle):
    t = new_table(ctx.runtimes)
    for _ in range(ctx.rounds):
        for rt, path in ctx.runtimes.items():
            record(t, rt, lambda: ctx.measure([path, "--root", ctx.root(rt), "run", "--bundle", bundle.path, cid()]))
    return {title: t}


def run_plain(ctx):
    return sc_run(ctx, "run /bin/true, plain bundle (`runc spec`)", plain_bundle(ctx.work, "plain"))


def run_realistic(ctx):
    return sc_run(ctx, "run /bin/true, realistic bundle (podman seccomp, limits, masked paths, 6 binds)",
                  realistic_bundle(ctx.work, "realistic"))


def phases(ctx):
    """create, start and delete measured separately, realistic bundle."""
    b = realistic_bundle(ctx.work, "phases")
    tabs = {p: new_table(ctx.runtimes) for p in ("create", "start", "delete")}
    for _ in range(ctx.rounds):
        for rt, path in ctx.runtimes.items():
            base = [path, "--root", ctx.root(rt)]
            c = cid()
            if record(tabs["create"], rt, lambda: ctx.measure(base + ["create", "--bundle", b.path, c])) is None:
                quiet(base + ["delete", "--force", c])
                continue
            record(tabs["start"], rt, lambda: ctx.measure(base + ["start", c]))
            # /bin/true exits at once; wait until the state says so, then time delete.
            for _ in range(200):
                p = subprocess.run(base + ["state", c], capture_output=True, text=True)
                if p.returncode != 0 or json.loads(p.stdout).get("status") == "stopped":
                    break
            record(tabs["delete"], rt, lambda: ctx.measure(base + ["delete", c]))
            quiet(base + ["delete", "--force", c])
    return {"%s (realistic bundle)" % p: t for p, t in tabs.items()}


def with_running(ctx, name, fn):
    """Start one realistic `sleep` container per runtime, call fn(started), delete them."""
    b = realistic_bundle(ctx.work, name, args=("sleep", "100000"))
    started, failed = {}, {}
    for rt, path in ctx.runtimes.items():
        c = cid("x")
        with tempfile.TemporaryFile(mode="w+") as err:  # not a pipe: the container inherits it
            p = subprocess.run([path, "--root", ctx.root(rt), "run", "-d", "--bundle", b.path, c],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            err.seek(0)
            msg = err.read()
        if p.returncode:
            failed[rt] = "run -d failed: " + msg.strip()[-300:]
        else:
            started[rt] = (path, c)
    try:
        tabs = fn(started)
    finally:
        for rt, (path, c) in started.items():
            quiet([path, "--root", ctx.root(rt), "delete", "--force", c])
    for t in tabs.values():
        for rt, msg in failed.items():
            t[rt] = {"cpu": [], "wall": [], "rss": [], "error": msg}
    return tabs


def exec_true(ctx):
    def fn(started):
        t = new_table(ctx.runtimes)
        for _ in range(ctx.rounds):
            for rt, (path, c) in started.items():
                record(t, rt, lambda: ctx.measure([path, "--root", ctx.root(rt), "exec", c, "/bin/true"]))
        return {"exec /bin/true into a running realistic container": t}
    return with_running(ctx, "exec", fn)


def state_list(ctx):
    def fn(started):
        ts, tl = new_table(ctx.runtimes), new_table(ctx.runtimes)
        for _ in range(ctx.rounds):
            for rt, (path, c) in started.items():
                record(ts, rt, lambda: ctx.measure([path, "--root", ctx.root(rt), "state", c]))
                record(tl, rt, lambda: ctx.measure([path, "--root", ctx.root(rt), "list"]))
        return {"state of a running container": ts, "list (one running container)": tl}
    return with_running(ctx, "statelist", fn)


def lifecycles(ctx):
    """100 sequential and 50 parallel run lifecycles, each batch one measured command (a shell)."""
    b = plain_bundle(ctx.work, "batch")
    seq, par = new_table(ctx.runtimes), new_table(ctx.runtimes)
    rounds = max(2, ctx.rounds // 10)
    for _ in range(rounds):
        for rt, path in ctx.runtimes.items():
            pre = cid("q")
            script = ('i=0; while [ $i -lt 100 ]; do "$1" --root "$2" run --bundle "$3" "$4$i" >/dev/null || exit 1; '
                      'i=$((i+1)); done')
            record(seq, rt, lambda: ctx.measure(["sh", "-c", script, "sh", path, ctx.root(rt), b.path, pre]))
            pre = cid("p")
            script = ('i=0; while [ $i -lt 50 ]; do "$1" --root "$2" run --bundle "$3" "$4$i" >/dev/null & '
                      'pids="$pids $!"; i=$((i+1)); done; fail=0; for j in $pids; do wait $j || fail=1; done; exit $fail')
            record(par, rt, lambda: ctx.measure(["sh", "-c", script, "sh", path, ctx.root(rt), b.path, pre]))
    return {"100 sequential `run` lifecycles (one batch)": seq, "50 parallel `run` lifecycles (one batch)": par}


def seccomp_cache(ctx):
    """keel's compiled-filter cache: warm (the normal case) and cold (the entry removed before every
    run) on a plain bundle with podman's profile, beside runc and crun."""
    prof = podman_default()
    if prof is None:
        ctx.notes.append("seccomp cache: podman's profile (containers-common) not installed, skipped")
        return {}
    b = plain_bundle(ctx.work, "seccomp")
    b.config["linux"]["seccomp"] = prof
    b.write()
    tools = {}
    for rt, path in ctx.runtimes.items():
        if rt.startswith("keel"):
            tools[rt + " warm"] = (path, ctx.root(rt + "-warm"), False)
            tools[rt + " cold"] = (path, ctx.root(rt + "-cold"), True)
        else:
            tools[rt] = (path, ctx.root(rt), False)
    t = new_table(tools)
    for _ in range(ctx.rounds):
        for name, (path, root, cold) in tools.items():
            if cold:
                shutil.rmtree(os.path.join(root, "seccomp-cache"), ignore_errors=True)
            record(t, name, lambda: ctx.measure([path, "--root", root, "run", "--bundle", b.path, cid()]))
    n = sum(len(r["names"]) for r in prof["syscalls"])
    return {"seccomp cache: run /bin/true with podman's profile (%d syscalls), cold vs warm" % n: t}


RUNTIME_SCENARIOS = [("run-plain", run_plain), ("run-realistic", run_realistic), ("phases", phases),
                     ("exec", exec_true), ("state-list", state_list), ("seccomp", seccomp_cache),
                     ("lifecycles", lifecycles)]


# ---------------------------------------------------------------- static facts

def binary_facts(runtimes, hoist):
    """Size, shared libraries and start-up syscalls (strace -c -f of `run` of a plain bundle)."""
    rows = []
    for name, path in list(runtimes.items()) + ([("hoist", hoist)] if hoist else []):
        libs = subprocess.run(["ldd", path], capture_output=True, text=True)
        nlibs = len([ln for ln in libs.stdout.splitlines() if "=>" in ln or "ld-linux" in ln]) \
            if libs.returncode == 0 else 0
        rows.append({"name": name, "path": path, "size": os.path.getsize(os.path.realpath(path)), "libs": nlibs})
    return rows


def startup_syscalls(runtimes, work):
    """Total syscalls (and the top 5) strace -c -f counts for one `run` of /bin/true."""
    if not shutil.which("strace"):
        return {}
    b = plain_bundle(work, "strace")
    out = {}
    for rt, path in runtimes.items():
        log = os.path.join(work, "strace-%s.txt" % rt)
        p = subprocess.run(["strace", "-c", "-f", "-o", log, path, "--root", os.path.join(work, "st-" + rt),
                            "run", "--bundle", b.path, cid()], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode:
            out[rt] = {"error": p.stderr.strip()[-200:]}
            continue
        rows = []
        total = 0
        for ln in open(log).read().splitlines():
            f = ln.split()
            if len(f) >= 5 and f[0][0].isdigit() and not ln.startswith("100.00"):
                calls = int(f[3])
                rows.append((calls, f[-1]))
            if ln.startswith("100.00"):
                total = int(f[3])
        rows.sort(reverse=True)
        out[rt] = {"total": total, "top": rows[:5]}
    return out


# ---------------------------------------------------------------- image scenarios

IMAGE_SOURCES = [
    ["/usr/lib/python3.11"],
    ["/usr/share/perl", "/usr/share/zoneinfo"],
    ["/usr/lib/x86_64-linux-gnu/perl-base", "/usr/lib/x86_64-linux-gnu/gconv", "/usr/share/i18n"],
    ["/usr/share/doc"],
]


def files_of(paths):
    out = []
    for top in paths:
        for root, dirs, files in os.walk(top):
            rel = root.lstrip("/")
            out.append((rel, ("dir",)))
            for f in files:
                p = os.path.join(root, f)
                if os.path.islink(p):
                    out.append((os.path.join(rel, f), ("symlink", os.readlink(p))))
                elif os.path.isfile(p):
                    with open(p, "rb") as fh:
                        out.append((os.path.join(rel, f), fh.read()))
    return out


class LoopExt4:
    """A fresh journaled ext4 on a loop device (the root fs has no journal and slows down erratically
    when many files are created and removed)."""

    def __init__(self, work, size="4G"):
        self.img, self.mnt = os.path.join(work, "fs.img"), os.path.join(work, "mnt")
        os.makedirs(self.mnt, exist_ok=True)
        subprocess.run(["truncate", "-s", size, self.img], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-J", "size=64", self.img], check=True)
        subprocess.run(["mount", "-o", "loop", self.img, self.mnt], check=True)

    def close(self):
        subprocess.run(["umount", "-R", self.mnt], stderr=subprocess.DEVNULL)
        os.unlink(self.img)


def image_scenarios(ctx):
    """pull (hoist vs skopeo copy), unpack (hoist vs umoci vs tar -x), first and second overlay
    bundle, all on a loop-mounted journaled ext4, from a docker-registry on 127.0.0.1."""
    import registry as R
    tabs = {}
    if not ctx.hoist or not os.path.exists(ctx.hoist):
        ctx.notes.append("image benchmarks skipped: no hoist binary")
        return tabs
    fs = LoopExt4(ctx.work)
    reg = None
    try:
        mnt = fs.mnt
        lay = R.Layout(os.path.join(mnt, "layout"))
        m = lay.image([files_of(p) for p in IMAGE_SOURCES], compression="gzip")
        lay.tag(m, "bench")
        lay.tag(m, "localhost/bench:1")  # hoist's reference; umoci uses the tag "bench"
        pristine = os.path.join(mnt, "pristine")
        shutil.copytree(lay.path, pristine, symlinks=True)
        csize = sum(R.store_blobs(lay.path).values())
        layer_blobs = [os.path.join(lay.path, "blobs", "sha256", d["digest"][7:])
                       for d in json.load(open(os.path.join(lay.path, "blobs", "sha256", m["digest"][7:])))["layers"]]
        ctx.notes.append("image: %d gzip layers, %.1f MB compressed (python3.11, perl, zoneinfo, gconv, i18n, doc)"
                         % (len(IMAGE_SOURCES), csize / 1e6))
        measure = ctx.measure

        def fresh(d):
            shutil.rmtree(d, ignore_errors=True)
            subprocess.run(["sync"])

        # pull
        if R.SKOPEO and os.path.exists(R.REGISTRY_BIN):
            reg = R.Registry(os.path.join(ctx.work, "registry")).start()
            ref = reg.push(lay.path, "bench", "bench/image")
            pull = new_table(["hoist pull", "skopeo copy"])
            cmds = {"hoist pull": lambda d: [ctx.hoist, "--store", d, "pull", "-q", ref],
                    "skopeo copy": lambda d: [R.SKOPEO, "--insecure-policy", "copy", "-q", "--src-tls-verify=false",
                                              "docker://" + ref, "oci:%s:bench" % d]}
            for rnd in range(ctx.image_rounds + 1):
                order = list(cmds) if rnd % 2 == 0 else list(reversed(list(cmds)))
                for tool in order:
                    d = os.path.join(mnt, "pull-" + tool.split()[0])
                    fresh(d)
                    if rnd == 0:  # warms the registry and the page cache
                        quiet(cmds[tool](d))
                    else:
                        record(pull, tool, lambda: measure(cmds[tool](d)))
                    fresh(d)
            tabs["pull from a registry on 127.0.0.1 (fresh store each time)"] = pull
        else:
            ctx.notes.append("pull benchmark skipped: skopeo or docker-registry missing")

        # unpack: the layout is the store
        hstore, href = lay.path, "localhost/bench:1"
        out = os.path.join(mnt, "out")
        tar_script = "mkdir -p \"$1\" && d=\"$1\" && shift && for b; do " \
                     "tar -x -z --numeric-owner --xattrs --xattrs-include='*' -C \"$d\" -f \"$b\" || exit 1; done"
        tools = {"hoist unpack": [ctx.hoist, "--store", hstore, "unpack", href, out],
                 "tar -x": ["sh", "-c", tar_script, "sh", os.path.join(out, "rootfs")] + layer_blobs}
        if shutil.which("umoci"):
            tools["umoci unpack"] = ["umoci", "unpack", "--image", lay.path + ":bench", out]
        unpack = new_table(tools)
        for _ in range(ctx.image_rounds):
            for tool, argv in tools.items():
                fresh(out)
                record(unpack, tool, lambda: measure(argv))
                fresh(out)
        tabs["unpack a 4-layer image into a bundle (journaled ext4 on loop)"] = unpack

        # first and second overlay bundle
        ov = new_table(["hoist unpack --overlay, first bundle", "hoist unpack --overlay, next bundle"])
        for i in range(ctx.image_rounds):
            ostore = os.path.join(mnt, "ostore")
            fresh(ostore)
            shutil.copytree(pristine, ostore, symlinks=True)
            for j, tool in enumerate(ov):
                d = os.path.join(mnt, "ov-%d-%d" % (i, j))
                record(ov, tool, lambda: measure([ctx.hoist, "--store", ostore, "unpack", "--overlay", href, d]))
                subprocess.run(["umount", os.path.join(d, "rootfs")], stderr=subprocess.DEVNULL)
                fresh(d)
            fresh(ostore)
        tabs["first and second bundle of one image (overlay)"] = ov
    finally:
        if reg:
            reg.stop()
        fs.close()
    return tabs
