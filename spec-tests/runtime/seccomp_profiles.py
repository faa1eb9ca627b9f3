"""seccomp profiles for the tests: Docker/podman profile -> runtime-spec form.

Podman's default profile (/usr/share/containers/seccomp.json, Debian's
golang-github-containers-common) is in Docker's format: an archMap and
syscall entries guarded by includes/excludes on capabilities, arches and a
minimum kernel.  Engines resolve those for each container before writing
config.json; to_runtime_spec() does the same for a default podman container
on this host, so the tests feed runtimes what podman would.

Run as a script to print linux.seccomp (or, with --config, a config.json
fragment {"linux": {"seccomp": ...}}):
    python3 seccomp_profiles.py [--caps CAP_A,CAP_B] [--config] [PROFILE]
"""
import json
import os
import platform
import sys

PODMAN_PROFILE = "/usr/share/containers/seccomp.json"

# podman 4.3's default capability set (containers.conf default_capabilities).
PODMAN_DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
]

# uname machine -> (Go arch name used by includes/excludes, SCMP_ARCH_*)
_MACHINES = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"),
    "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"),
    "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
}


def _kernel_version():
    parts = []
    for p in platform.release().split("-")[0].split(".")[:2]:
        digits = "".join(c for c in p if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _min_kernel_ok(spec):
    if not spec:
        return True
    want = tuple(int(x) for x in spec.split(".")[:2])
    return _kernel_version() >= want


def _applies(entry, caps, goarch):
    inc = entry.get("includes") or {}
    exc = entry.get("excludes") or {}
    if inc.get("arches") and goarch not in inc["arches"]:
        return False
    if inc.get("caps") and not all(c in caps for c in inc["caps"]):
        return False
    if not _min_kernel_ok(inc.get("minKernel")):
        return False
    if exc.get("arches") and goarch in exc["arches"]:
        return False
    if exc.get("caps") and any(c in caps for c in exc["caps"]):
        return False
    return True


def to_runtime_spec(profile, caps=None, machine=None):
    """Resolve a Docker-format profile (a dict) for a container with `caps`."""
    caps = PODMAN_DEFAULT_CAPS if caps is None else caps
    goarch, scmp_arch = _MACHINES[machine or platform.machine()]
    out = {"defaultAction": profile["defaultAction"]}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    arches = []
    for m in profile.get("archMap") or []:
        if m["architecture"] == scmp_arch:
            arches = [m["architecture"]] + list(m.get("subArchitectures") or [])
    if not arches and profile.get("architectures"):
        arches = list(profile["architectures"])
    if arches:
        out["architectures"] = arches
    if profile.get("flags"):
        out["flags"] = list(profile["flags"])
    syscalls = []
    for entry in profile.get("syscalls") or []:
        if not _applies(entry, caps, goarch):
            continue
        names = list(entry.get("names") or ([entry["name"]] if entry.get("name") else []))
        if not names:
            continue
        rule = {"names": names, "action": entry["action"]}
        if entry.get("errnoRet") is not None:
            rule["errnoRet"] = entry["errnoRet"]
        if entry.get("args"):
            rule["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op") if k in a}
                            for a in entry["args"]]
        syscalls.append(rule)
    out["syscalls"] = syscalls
    return out


def podman_default(caps=None):
    """linux.seccomp for a default podman container, or None when the
    profile is not installed."""
    if not os.path.exists(PODMAN_PROFILE):
        return None
    with open(PODMAN_PROFILE) as f:
        return to_runtime_spec(json.load(f), caps)


def _base():
    return {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["chmod"], "action": "SCMP_ACT_ERRNO"},
                         {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                         {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO"}]}


def hostile_profiles():
    """(name, linux.seccomp, substring every runtime's error should contain
    or None) for profiles a runtime must refuse.  (More than six args in one
    entry is refused by keel and crun but accepted by runc, which splits
    repeated indexes into rules; keel's unit test covers it.)"""
    cases = []

    p = _base()
    p["syscalls"][3]["action"] = "SCMP_ACT_FOO"
    cases.append(("unknown-action", p, "SCMP_ACT_FOO"))

    p = _base()
    p["defaultAction"] = "SCMP_ACT_BOGUS"
    cases.append(("unknown-default-action", p, "SCMP_ACT_BOGUS"))

    p = _base()
    p["syscalls"][2]["args"] = [{"index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]
    cases.append(("unknown-operator", p, None))

    p = _base()
    p["syscalls"][2]["args"] = [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]
    cases.append(("arg-index-too-big", p, None))

    p = _base()
    p["architectures"] = ["SCMP_ARCH_Z80"]
    cases.append(("unknown-arch", p, None))

    p = _base()
    p["flags"] = ["SECCOMP_FILTER_FLAG_NOPE"]
    cases.append(("unknown-flag", p, None))

    return cases


def main(argv):
    caps = None
    config = False
    path = PODMAN_PROFILE
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--caps":
            caps = [c for c in args.pop(0).split(",") if c]
        elif a == "--config":
            config = True
        else:
            path = a
    with open(path) as f:
        seccomp = to_runtime_spec(json.load(f), caps)
    json.dump({"linux": {"seccomp": seccomp}} if config else seccomp, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
