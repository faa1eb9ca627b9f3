#!/bin/sh
# The black-box suites against keel and hoist built with ASan+UBSan.
# Usage: spec-tests/sanitizers.sh BUILDDIR [SUITE...] [-- PYTEST ARGS]
#   BUILDDIR: configured with --enable-sanitizers and built (make).
#   SUITE: runtime, image (default: both).
# Sanitizer reports go to files (log_path), never to a container's or
# hoist's stderr that a test compares; every report is printed at the end
# and makes the script fail, like a failing test does.
set -u
builddir=$(cd "${1:?usage: $0 BUILDDIR [SUITE...] [-- PYTEST ARGS]}" && pwd)
shift
srcdir=$(cd "$(dirname "$0")/.." && pwd)
suites=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    suites="$suites $1"
    shift
done
[ "${1:-}" = "--" ] && shift
[ -n "$suites" ] || suites="runtime image"

for bin in keel hoist; do
    if ! nm "$builddir/$bin" 2>/dev/null | grep -q __asan_init; then
        echo "sanitizers: $builddir/$bin is not built with --enable-sanitizers" >&2
        exit 2
    fi
done

logdir="${SAN_LOGDIR:-$builddir/sanitizer-logs-$(echo $suites | tr " " -)}"
rm -rf "$logdir"
mkdir -p "$logdir"
# detect_leaks: every keel/hoist command is checked at exit.  abort_on_error
# off: a report then exits 1 with the report in the file.
export ASAN_OPTIONS="log_path=$logdir/asan:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:allocator_may_return_null=0"
export UBSAN_OPTIONS="log_path=$logdir/ubsan:print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="log_path=$logdir/lsan"
export KEEL_BUILDDIR="$builddir" KEEL_SRCDIR="$srcdir"
unset RUNTIME HOIST

status=0
for suite in $suites; do
    echo "== $suite suite against $builddir (ASan+UBSan)"
    /usr/bin/python3 -m pytest -p no:cacheprovider -q -rfE \
        --junitxml="$builddir/spec-tests/sanitizers-$suite.junit.xml" \
        "$srcdir/spec-tests/$suite" "$@" || status=1
done

reports=$(find "$logdir" -type f | sort)
if [ -n "$reports" ]; then
    echo "sanitizers: $(echo "$reports" | wc -l) report file(s):"
    for f in $reports; do
        echo "---- $f"
        head -n 60 "$f"
    done
    status=1
else
    echo "sanitizers: no ASan, UBSan or LSan report"
fi
exit $status
