#!/bin/bash
# Prove the systemd cgroup driver (`keel --systemd-cgroup`) against a real
# systemd: this host runs none (and is hybrid), so boot the cgroup v2 guest
# (../shared/tools/cgroup2-vm), start systemd there as PID 1 of a pid +
# mount namespace (spec-tests/systemd-ns.sh) and run
# spec-tests/runtime/test_systemd_cgroup.py inside those namespaces.  The
# guest, and systemd with it, is thrown away afterwards.
#
# Usage: spec-tests/systemd-vm.sh [BUILDDIR]     (default $KEEL_BUILDDIR, else ./)
# Env:   RUNTIME=/usr/sbin/runc   run the tests against a peer
#        CGROUP2_VM=PATH          the VM tool (default ../shared/tools/cgroup2-vm)
#        VMRUN_TIMEOUT=300        seconds before the guest is killed
# Prints the pytest summary; exits 0 when nothing failed, 1 otherwise, 77
# when the guest or systemd cannot be booted here (with the reason).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-${KEEL_BUILDDIR:-.}}" && pwd)
vm=${CGROUP2_VM:-$(cd "$src/.." && pwd)/shared/tools/cgroup2-vm}
if [ ! -x "$vm" ]; then
    echo "SKIP: cgroup2-vm tool not found at $vm (set CGROUP2_VM)"
    exit 77
fi
if [ ! -x /usr/bin/linux.uml ] || ! command -v busybox >/dev/null; then
    echo "SKIP: the guest needs: apt-get install user-mode-linux busybox-static"
    exit 77
fi
if [ ! -x /lib/systemd/systemd ]; then
    echo "SKIP: systemd is not installed (apt-get install systemd); the guest boots the host's"
    exit 77
fi
runtime=${RUNTIME:-$build/keel}
out=$build/spec-tests/systemd-vm
rm -rf "$out"
mkdir -p "$out"

cd "$build" || exit 1
# Two guests: systemd on the unified layout (all tests), then on its hybrid
# layout (v1 controllers + name=systemd + cgroup2 at unified, as on this
# host; the hybrid tests only).
failed=0
for layout in unified hybrid; do
    o=$out/$layout
    mkdir -p "$o"
    SYSTEMD_NS_LAYOUT=$layout VMRUN_TIMEOUT=${VMRUN_TIMEOUT:-300} "$vm" "
        '$src/spec-tests/systemd-ns.sh' '$o' /bin/sh -c \"
            RUNTIME='$runtime' KEEL_BUILDDIR='$build' KEEL_SRCDIR='$src' /usr/bin/python3 -m pytest \
                -p no:cacheprovider -v -rs --durations=8 --junitxml='$o/pytest.junit.xml' \
                '$src/spec-tests/runtime/test_systemd_cgroup.py' > '$o/pytest.log' 2>&1
            echo \\\$? > '$o/pytest.rc'\"
    "
    vmrc=$?
    if [ $vmrc -eq 77 ]; then
        exit 77
    fi
    if [ ! -f "$o/pytest.rc" ]; then
        echo "$layout: pytest did not run (the guest exited with $vmrc); systemd's log: $o/systemd.log"
        failed=1
        continue
    fi
    echo "$layout: $(tail -1 "$o/pytest.log" | tr -d '=' | sed 's/^ *//; s/ *$//') (pytest, $runtime, real systemd)"
    if [ "$(cat "$o/pytest.rc")" != 0 ]; then
        echo "    log: $o/pytest.log"
        failed=1
    fi
done
exit $failed
