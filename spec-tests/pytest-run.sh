#!/bin/sh
# Runs one pytest suite of spec-tests/ and leaves a JUnit report beside the
# automake log, so .ci/run can add up the counts. Usage: pytest-run.sh NAME
# [pytest args]. pytest's exit 5 (no test collected) is a failure: a suite
# that runs nothing proves nothing.
set -u
name=$1
shift
srcdir=${KEEL_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${KEEL_BUILDDIR:-$srcdir}
export KEEL_BUILDDIR="$builddir" KEEL_SRCDIR="$srcdir"
mkdir -p "$builddir/spec-tests"
exec /usr/bin/python3 -m pytest -p no:cacheprovider -v -rs \
    --junitxml="$builddir/spec-tests/$name.junit.xml" \
    "$srcdir/spec-tests/$name" "$@"
