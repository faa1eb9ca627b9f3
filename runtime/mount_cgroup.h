/* The "cgroup" mount type: what runc gives a container at /sys/fs/cgroup.
 * On a cgroup2 host, cgroup2 (fresh in a cgroup namespace, otherwise the
 * container's own directory bound).  On a v1 or hybrid host, a tmpfs with
 * one directory per hierarchy (cpu, memory, ..., systemd, unified), each a
 * fresh mount in a cgroup namespace or the container's directory of that
 * hierarchy bound from the host, plus links for co-mounted controllers
 * ("cpu" -> "cpu,cpuacct"). */
#ifndef KEEL_MOUNT_CGROUP_H
#define KEEL_MOUNT_CGROUP_H

#include "mount_exec.h"

int mount_cgroup_exec(const struct mount_exec_ctx *ctx, const struct mount_op *op, struct keel_error **err);

#endif
