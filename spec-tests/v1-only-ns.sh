#!/bin/sh
# Runs a command in a private mount namespace with this host's cgroup2 mount
# (/sys/fs/cgroup/unified, hugetlb only) taken away, so that crun 1.8.1, which
# refuses the hybrid layout, runs; every runtime then sees cgroup v1 only.
#     spec-tests/v1-only-ns.sh env RUNTIME=/usr/bin/crun spec-tests/runtime.sh
# An empty tmpfs covers the directory left behind: crun still makes one
# directory per container there, which on the host's /sys/fs/cgroup tmpfs
# (hidden under the cgroup2 mount) would outlive the namespace.  Needs root.
set -eu
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }
exec unshare -m sh -c '
    mount --make-rprivate /
    if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi
    if [ -d /sys/fs/cgroup/unified ]; then
        mount -t tmpfs -o size=4m,mode=755 keel-v1-only /sys/fs/cgroup/unified
    fi
    exec "$@"' sh "$@"
