/* The "none" backend: no usable cgroups (rootless without delegation, or
 * no hierarchy mounted).  Entering is a no-op; anything that needs a cgroup
 * (a resource limit, pause, ps, kill --all, stats) is an error saying why. */
#include <errno.h>

#include "error.h"
#include "runtime/cgroup_internal.h"
#include "runtime/spec.h"

#define WHY "cgroups are not available to this container (rootless without a delegated cgroup)"

static int none_enter(struct cgroup_manager *m, pid_t pid, struct keel_error **err)
{
    (void)m, (void)pid, (void)err;
    return 0;
}

static const char *first_resource(const struct spec_resources *r)
{
    const struct spec_memory *mem = &r->memory;
    const struct spec_cpu *cpu = &r->cpu;
    const struct spec_block_io *b = &r->block_io;
    if (r->n_devices)
        return "devices";
    if (r->has_memory && (mem->limit.set || mem->reservation.set || mem->swap.set || mem->kernel.set ||
                          mem->kernel_tcp.set || mem->swappiness.set || mem->disable_oom_killer.set))
        return "memory";
    if (r->has_cpu &&
        (cpu->shares.set || cpu->quota.set || cpu->period.set || cpu->burst.set || cpu->realtime_period.set ||
         cpu->realtime_runtime.set || cpu->idle.set || cpu->cpus || cpu->mems))
        return "cpu";
    if (r->pids_limit.set && r->pids_limit.value != 0)
        return "pids";
    if (r->has_block_io &&
        (b->weight.set || b->leaf_weight.set || b->n_weight_devices || b->n_throttle_read_bps ||
         b->n_throttle_write_bps || b->n_throttle_read_iops || b->n_throttle_write_iops))
        return "blockIO";
    if (r->n_hugepage_limits)
        return "hugepageLimits";
    if (r->net_class_id.set || r->n_net_priorities)
        return "network";
    if (r->n_rdma)
        return "rdma";
    if (r->unified.n)
        return "unified";
    return NULL;
}

static int none_apply(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err)
{
    (void)m;
    const char *what = first_resource(r);
    if (what)
        return error_set(err, ENOTSUP, "linux.resources.%s: " WHY, what);
    return 0;
}

static int none_destroy(struct cgroup_manager *m, struct keel_error **err)
{
    (void)m, (void)err;
    return 0;
}

static int none_freeze(struct cgroup_manager *m, bool frozen, struct keel_error **err)
{
    (void)m;
    return error_set(err, ENOTSUP, "%s: " WHY, frozen ? "pausing" : "resuming");
}

static int none_is_frozen(struct cgroup_manager *m, bool *frozen, struct keel_error **err)
{
    (void)m, (void)err;
    *frozen = false;
    return 0;
}

static int none_get_pids(struct cgroup_manager *m, pid_t **pids, size_t *n, struct keel_error **err)
{
    (void)m, (void)pids, (void)n;
    return error_set(err, ENOTSUP, "listing the container's processes: " WHY);
}

static int none_kill_all(struct cgroup_manager *m, int sig, struct keel_error **err)
{
    (void)m, (void)sig;
    return error_set(err, ENOTSUP, "signalling every process of the container: " WHY);
}

static int none_stats(struct cgroup_manager *m, struct cgroup_stats *out, struct keel_error **err)
{
    (void)m, (void)out;
    return error_set(err, ENOTSUP, "reading statistics: " WHY);
}

static int none_oom_open(struct cgroup_manager *m, struct cgroup_oom_watch **out, struct keel_error **err)
{
    (void)m, (void)out;
    return error_set(err, ENOTSUP, "watching for OOM kills: " WHY);
}

const struct cgroup_ops cgroup_ops_none = {
    .name = "none",
    .enter = none_enter,
    .join = none_enter,
    .apply = none_apply,
    .destroy = none_destroy,
    .freeze = none_freeze,
    .is_frozen = none_is_frozen,
    .get_pids = none_get_pids,
    .kill_all = none_kill_all,
    .stats = none_stats,
    .oom_open = none_oom_open,
};
