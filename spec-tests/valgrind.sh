#!/bin/sh
# keel and hoist under valgrind memcheck: keel spec, create/start/state/exec/
# delete of a busybox bundle, hoist pull from a loopback docker-registry and
# hoist unpack (spec-tests/valgrind_run.py says how).  Fails on any valgrind
# error or definite leak in any keel or hoist process.
# Usage: spec-tests/valgrind.sh BUILDDIR     (as root; needs valgrind,
# busybox-static, docker-registry and skopeo: .ci/install-deps)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
builddir=$(cd "${1:?usage: $0 BUILDDIR}" && pwd)
work=$(mktemp -d /tmp/keel-valgrind.XXXXXX)
status=0
/usr/bin/python3 "$here/valgrind_run.py" "$builddir" "$work" || status=$?
if [ "$status" -eq 0 ]; then
    rm -rf "$work"
else
    echo "valgrind: work directory kept: $work"
fi
exit "$status"
