#!/bin/bash
# Run keel's cgroup tests on pure cgroup v2, inside a User-Mode Linux guest
# (../shared/tools/cgroup2-vm: only cgroup2 mounted, nsdelegate, the host's
# files visible, the build directory writable).  The host itself is hybrid,
# so this is the only place the v2 backend (cpu.max, memory.swap.max, the
# eBPF device program, cgroup.freeze, cgroup.kill...) meets a kernel.
#
# Usage: spec-tests/cgroup2-vm.sh [BUILDDIR]     (default $KEEL_BUILDDIR, else ./)
# Env:   RUNTIME=/usr/sbin/runc   run the black-box tests against a peer
#        CGROUP2_VM=PATH          the VM tool (default ../shared/tools/cgroup2-vm)
#        CGROUP2_PYTEST="FILES"   black-box test files (default: cgroup, exec,
#                                 pause and update tests that exist)
#        VMRUN_TIMEOUT=900        seconds before the guest is killed
# Prints one line per suite with its pass/skip/fail counts and exits 0 when
# nothing failed, 1 otherwise, 77 when the guest cannot be booted here.
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
runtime=${RUNTIME:-$build/keel}
if [ -z "${CGROUP2_PYTEST:-}" ]; then
    CGROUP2_PYTEST=$(cd "$src/spec-tests/runtime" &&
        ls test_cgroups*.py test_exec*.py test_pause*.py test_update*.py test_events*.py 2>/dev/null |
        sed "s|^|$src/spec-tests/runtime/|" | tr '\n' ' ')
fi
out=$build/spec-tests/cgroup2-vm
rm -rf "$out"
mkdir -p "$out"

unit_tests="runtime/tests/test_cgroup runtime/tests/test_cgroup_live"
cd "$build" || exit 1
VMRUN_TIMEOUT=${VMRUN_TIMEOUT:-900} "$vm" "
    for t in $unit_tests; do
        if [ -x \$t ]; then ./\$t > $out/\${t##*/}.log 2>&1; echo \$? > $out/\${t##*/}.rc; fi
    done
    if [ -n '$CGROUP2_PYTEST' ]; then
        RUNTIME='$runtime' KEEL_BUILDDIR='$build' KEEL_SRCDIR='$src' /usr/bin/python3 -m pytest \
            -p no:cacheprovider -v -rs --junitxml=$out/pytest.junit.xml $CGROUP2_PYTEST > $out/pytest.log 2>&1
        echo \$? > $out/pytest.rc
    fi
"
vmrc=$?
failed=0
for t in $unit_tests; do
    n=${t##*/}
    if [ ! -f "$out/$n.rc" ]; then
        echo "$n: did not run"
        failed=1
        continue
    fi
    rc=$(cat "$out/$n.rc")
    counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/$n.log" | tail -1)
    case $rc in
    0) echo "$n: PASS ($counts)" ;;
    77) echo "$n: SKIP ($(head -1 "$out/$n.log"))" ;;
    *) echo "$n: FAIL rc=$rc ($counts); log: $out/$n.log"; failed=1 ;;
    esac
done
if [ -f "$out/pytest.rc" ]; then
    summary=$(tail -1 "$out/pytest.log")
    echo "pytest ($runtime): $summary"
    grep -E '^SKIPPED' "$out/pytest.log" | sed 's/^/    /'
    [ "$(cat "$out/pytest.rc")" = 0 ] || { failed=1; echo "    log: $out/pytest.log"; }
elif [ -n "$CGROUP2_PYTEST" ]; then
    echo "pytest: did not run"
    failed=1
fi
if [ $vmrc -ne 0 ] && [ $failed -eq 0 ]; then
    echo "the guest exited with $vmrc"
    failed=1
fi
exit $failed
