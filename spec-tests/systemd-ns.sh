#!/bin/bash
# Boot systemd as PID 1 of a new pid + mount namespace and run a command in
# those namespaces, so that `keel --systemd-cgroup` meets a real systemd.
# Meant for a throw-away machine (spec-tests/systemd-vm.sh runs it inside
# the cgroup v2 guest): systemd takes over the cgroup2 tree it finds.
#
# Usage: [SYSTEMD_NS_LAYOUT=hybrid] systemd-ns.sh LOGDIR COMMAND...
# SYSTEMD_NS_LAYOUT=hybrid: in the new mount namespace, first build
# systemd's hybrid layout (every v1 controller, name=systemd, cgroup2 at
# /sys/fs/cgroup/unified), taking the controllers back from cgroup2.
# systemd runs with container=keel-test (it then skips what needs a real
# machine), a fresh tmpfs on /run, and a target with no units of its own,
# so it starts nothing but itself.  Its console log goes to LOGDIR/systemd.log.
# Exits with COMMAND's status; 77 when systemd does not come up (the reason
# is printed).
set -u
logdir=$1
shift
sd=/lib/systemd/systemd
if [ ! -x $sd ]; then
    echo "SKIP: $sd is not installed (apt-get install systemd)"
    exit 77
fi
if [ -d /run/systemd/system ]; then
    echo "SKIP: systemd runs here already: not booting a second one over its cgroup tree"
    exit 77
fi
if [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo "SKIP: systemd needs a writable cgroup2 hierarchy at /sys/fs/cgroup (a pure cgroup v2 host)"
    exit 77
fi
mkdir -p "$logdir"
unshare --pid --fork --mount --mount-proc --propagation private bash -c '
    if [ "${SYSTEMD_NS_LAYOUT:-}" = hybrid ]; then
        # systemd hybrid layout (v1 controllers, name=systemd, cgroup2 at
        # unified): give the controllers back from cgroup2 first
        for c in $(cat /sys/fs/cgroup/cgroup.subtree_control); do
            echo "-$c" > /sys/fs/cgroup/cgroup.subtree_control || exit 1
        done
        umount /sys/fs/cgroup && mount -t tmpfs -o mode=0755 tmpfs /sys/fs/cgroup || exit 1
        mkdir /sys/fs/cgroup/unified /sys/fs/cgroup/systemd
        mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup/unified || exit 1
        mount -t cgroup -o none,name=systemd,xattr cgroup /sys/fs/cgroup/systemd || exit 1
        while read -r c _; do
            case $c in "#"*) continue ;; cpu | cpuacct) c=cpu,cpuacct ;; esac
            [ -d /sys/fs/cgroup/$c ] && continue
            mkdir /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c || exit 1
        done < /proc/cgroups
    fi
    mount -t tmpfs -o mode=0755 tmpfs /run || exit 1
    mkdir -p /run/systemd/system
    printf "[Unit]\nDescription=keel test: nothing but systemd\n" > /run/systemd/system/keel-test.target
    # should a test start the system bus: without sysinit.target and the rest
    for u in dbus.socket dbus.service; do
        mkdir -p /run/systemd/system/$u.d
        printf "[Unit]\nDefaultDependencies=no\n" > /run/systemd/system/$u.d/keel-test.conf
    done
    exec env -i container=keel-test PATH=/usr/sbin:/usr/bin:/sbin:/bin '"$sd"' --system \
        --unit=keel-test.target --log-target=console --log-level=info --show-status=no
' >"$logdir/systemd.log" 2>&1 &
unshare_pid=$!
sdpid=
for _ in $(seq 1 150); do
    [ -n "$sdpid" ] || sdpid=$(cat /proc/$unshare_pid/task/$unshare_pid/children 2>/dev/null | tr -d ' ')
    if [ -n "$sdpid" ] && [ -S /proc/$sdpid/root/run/systemd/private ]; then
        state=$(nsenter -t "$sdpid" -m -p systemctl is-system-running 2>&1)
        case $state in running | degraded) break ;; esac
    fi
    if ! kill -0 $unshare_pid 2>/dev/null; then
        echo "SKIP: systemd exited while booting; its log:"
        tail -20 "$logdir/systemd.log"
        exit 77
    fi
    sleep 0.2
done
state=$(nsenter -t "$sdpid" -m -p systemctl is-system-running 2>&1)
if [ "$state" != running ] && [ "$state" != degraded ]; then
    echo "SKIP: systemd did not reach \"running\" within 30 s (state: $state); its log:"
    tail -20 "$logdir/systemd.log"
    kill -KILL "$sdpid" 2>/dev/null
    wait $unshare_pid
    exit 77
fi
echo "systemd $(nsenter -t "$sdpid" -m -p systemctl --version | head -1 | cut -d' ' -f2) is running as PID 1 of" \
    "namespace pid $sdpid"
nsenter -t "$sdpid" -m -p --wd="$PWD" -- "$@"
rc=$?
# PID 1 of the namespace dies: the kernel kills everything left in it
kill -KILL "$sdpid" 2>/dev/null
wait $unshare_pid
exit $rc
