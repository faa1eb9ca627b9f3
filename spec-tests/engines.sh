#!/bin/sh
# The engine suite: Podman (conmon) and containerd (runc v2 shim) driving an
# OCI runtime. RUNTIME=/path selects it (default: the keel built here);
# ENGINES_PEER=/usr/sbin/runc also runs every scenario against that runtime
# first, to prove the scenarios right. Prints 'ENGINE RUNTIME: N passed,
# N failed, N skipped' per engine and runtime. Extra arguments go to pytest.
# Reports go to $KEEL_BUILDDIR (default: the current directory)/spec-tests/.
set -u
srcdir=${KEEL_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${KEEL_BUILDDIR:-$(pwd)}
export KEEL_BUILDDIR="$builddir" KEEL_SRCDIR="$srcdir"
runtime=${RUNTIME:-$builddir/keel}
mkdir -p "$builddir/spec-tests/peers"

status=0
if [ -n "${ENGINES_PEER:-}" ]; then
    peer_report="$builddir/spec-tests/peers/engines-$(basename "$ENGINES_PEER").junit.xml"
    start=$(date +%s)
    RUNTIME=$ENGINES_PEER /usr/bin/python3 -m pytest -p no:cacheprovider -v -rs --junitxml="$peer_report" \
        "$srcdir/spec-tests/engines" "$@" >"$peer_report.log" 2>&1
    echo "peer run took $(( $(date +%s) - start ))s (log: $peer_report.log)"
    /usr/bin/python3 "$srcdir/spec-tests/engines/summary.py" "$peer_report" "$(basename "$ENGINES_PEER")"
fi

# The runtime under test: its report sits beside the other suites' so
# .ci/summarize adds it up.
report="$builddir/spec-tests/engines.junit.xml"
start=$(date +%s)
RUNTIME=$runtime /usr/bin/python3 -m pytest -p no:cacheprovider -v -rs --junitxml="$report" \
    "$srcdir/spec-tests/engines" "$@"
status=$?
echo "run took $(( $(date +%s) - start ))s"
[ -f "$report" ] && /usr/bin/python3 "$srcdir/spec-tests/engines/summary.py" "$report" "$(basename "$runtime")"
# pytest's 5 (nothing collected) is a failure too: a suite that runs nothing proves nothing.
exit $status
