/* linux.resources -> cgroup files.  Each resource goes to the hierarchy
 * that carries its controller, in that hierarchy's format (v1 or v2): on
 * the hybrid layout memory goes to v1 files and hugetlb to cgroup2 files.
 * A resource the host cannot provide is an error naming the field. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "runtime/cgroup_internal.h"
#include "runtime/spec.h"
#include "strbuf.h"
#include "xalloc.h"

uint64_t cgroup_convert_shares_to_weight(uint64_t shares)
{
    if (shares == 0)
        return 0;
    if (shares < 2)
        shares = 2;
    if (shares > 262144)
        shares = 262144;
    /* linear map of [2, 262144] onto [1, 10000] */
    return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t cgroup_convert_blkio_weight(uint64_t weight)
{
    if (weight == 0)
        return 0;
    if (weight < 10)
        weight = 10;
    if (weight > 1000)
        weight = 1000;
    /* linear map of [10, 1000] onto [1, 10000] */
    return 1 + ((weight - 10) * 9999) / 990;
}

int cgroup_convert_swap_v2(int64_t limit, bool limit_set, int64_t swap, char *buf, size_t len,
                           struct keel_error **err)
{
    /* OCI's swap is memory+swap (v1 memsw); v2's memory.swap.max is swap alone */
    if (swap == -1) {
        snprintf(buf, len, "max");
        return 0;
    }
    if (swap == 0) {
        snprintf(buf, len, "0");
        return 0;
    }
    if (!limit_set || limit <= 0)
        return error_set(
            err, EINVAL,
            "linux.resources.memory.swap: a swap limit (%" PRId64 ") needs memory.limit on cgroup v2", swap);
    if (swap < limit)
        return error_set(err, EINVAL,
                         "linux.resources.memory.swap (%" PRId64 ") must not be below memory.limit (%" PRId64
                         ")",
                         swap, limit);
    snprintf(buf, len, "%" PRId64, swap - limit);
    return 0;
}

static struct cgroup_hier *need(struct cgroup_manager *m, const char *controller, const char *field,
                                struct keel_error **err)
{
    struct cgroup_hier *h = cgroup_find_hier(m, controller);
    if (!h)
        error_set(err, ENOTSUP, "linux.resources.%s: the %s cgroup controller is not available on this host",
                  field, controller);
    return h;
}

/* Write and name the field on failure. */
static int put(const struct cgroup_hier *h, const char *file, const char *field, struct keel_error **err,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int put(const struct cgroup_hier *h, const char *file, const char *field, struct keel_error **err,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *v = xvasprintf(fmt, ap);
    va_end(ap);
    if (cgfs_write(h->dir, file, v, err) < 0)
        return error_prefix(err, "linux.resources.%s", field);
    return 0;
}

static int unsupported(const char *field, const char *why, struct keel_error **err)
{
    return error_set(err, ENOTSUP, "linux.resources.%s: %s", field, why);
}

/* ---- memory ---- */

static int check_usage(const struct cgroup_hier *h, int64_t limit, struct keel_error **err)
{
    uint64_t usage;
    if (limit <= 0)
        return 0;
    if (cgfs_read_u64(h->dir, h->v2 ? "memory.current" : "memory.usage_in_bytes", &usage, err) < 0)
        return error_prefix(err, "linux.resources.memory.checkBeforeUpdate");
    if ((uint64_t)limit < usage)
        return error_set(err, EBUSY,
                         "linux.resources.memory.limit: %" PRId64 " is below the current usage %" PRIu64
                         " (checkBeforeUpdate)",
                         limit, usage);
    return 0;
}

/* Write a byte limit and read it back: since 5.16 the kernel accepts
 * memory.kmem.limit_in_bytes and ignores it, which must not pass silently. */
static int put_checked(const struct cgroup_hier *h, const char *file, const char *field, int64_t value,
                       struct keel_error **err)
{
    if (put(h, file, field, err, "%" PRId64, value) < 0)
        return -1;
    if (value < 0)
        return 0;
    uint64_t got;
    if (cgfs_read_u64(h->dir, file, &got, err) < 0)
        return error_prefix(err, "linux.resources.%s", field);
    uint64_t want = (uint64_t)value & ~(uint64_t)4095; /* the kernel rounds down to pages */
    if (got != want && got != (uint64_t)value)
        return error_set(err, ENOTSUP,
                         "linux.resources.%s: the kernel does not enforce it (`%s` reads %" PRIu64
                         " after writing %" PRId64 ")",
                         field, file, got, value);
    return 0;
}

static int memory_v1(const struct cgroup_hier *h, const struct spec_memory *mem, struct keel_error **err)
{
    if (mem->limit.set && mem->swap.set && mem->swap.value != -1 && mem->limit.value > 0 &&
        mem->swap.value < mem->limit.value)
        return error_set(err, EINVAL,
                         "linux.resources.memory.swap (%" PRId64 ") must not be below memory.limit (%" PRId64
                         ")",
                         mem->swap.value, mem->limit.value);
    if (mem->swap.set && !cgfs_exists(h->dir, "memory.memsw.limit_in_bytes"))
        return unsupported("memory.swap",
                           "swap accounting is off on this host (no memory.memsw.limit_in_bytes)", err);
    bool limit = mem->limit.set && mem->limit.value != 0;
    bool swap = mem->swap.set && mem->swap.value != 0;
    if (limit && mem->check_before_update.set && mem->check_before_update.value &&
        check_usage(h, mem->limit.value, err) < 0)
        return -1;
    /* memsw must stay >= limit at every step: raising goes swap first,
     * lowering goes limit first.  Try limit first and swap round on EINVAL. */
    if (limit) {
        cleanup_error struct keel_error *first = NULL;
        if (cgfs_writef(h->dir, "memory.limit_in_bytes", &first, "%" PRId64, mem->limit.value) < 0) {
            if (!swap || first->errnum != EINVAL) {
                *err = steal_ptr(&first);
                return error_prefix(err, "linux.resources.memory.limit");
            }
            if (put(h, "memory.memsw.limit_in_bytes", "memory.swap", err, "%" PRId64, mem->swap.value) < 0 ||
                put(h, "memory.limit_in_bytes", "memory.limit", err, "%" PRId64, mem->limit.value) < 0)
                return -1;
            swap = false;
        }
    }
    if (swap && put(h, "memory.memsw.limit_in_bytes", "memory.swap", err, "%" PRId64, mem->swap.value) < 0)
        return -1;
    if (mem->reservation.set && mem->reservation.value != 0 &&
        put(h, "memory.soft_limit_in_bytes", "memory.reservation", err, "%" PRId64, mem->reservation.value) <
            0)
        return -1;
    if (mem->kernel.set && mem->kernel.value != 0 &&
        put_checked(h, "memory.kmem.limit_in_bytes", "memory.kernel", mem->kernel.value, err) < 0)
        return -1;
    if (mem->kernel_tcp.set && mem->kernel_tcp.value != 0 &&
        put_checked(h, "memory.kmem.tcp.limit_in_bytes", "memory.kernelTCP", mem->kernel_tcp.value, err) < 0)
        return -1;
    if (mem->swappiness.set) {
        if (mem->swappiness.value > 100)
            return error_set(err, EINVAL, "linux.resources.memory.swappiness: %" PRIu64 " is not in 0..100",
                             mem->swappiness.value);
        if (put(h, "memory.swappiness", "memory.swappiness", err, "%" PRIu64, mem->swappiness.value) < 0)
            return -1;
    }
    if (mem->disable_oom_killer.set &&
        put(h, "memory.oom_control", "memory.disableOOMKiller", err, "%d", mem->disable_oom_killer.value) < 0)
        return -1;
    if (mem->use_hierarchy.set) {
        uint64_t cur = 0;
        cleanup_error struct keel_error *ignored = NULL;
        /* newer kernels fix it at 1 and refuse writes, even of the same value */
        if (cgfs_read_u64(h->dir, "memory.use_hierarchy", &cur, &ignored) == 0 &&
            cur == (uint64_t)mem->use_hierarchy.value)
            return 0;
        if (put(h, "memory.use_hierarchy", "memory.useHierarchy", err, "%d", mem->use_hierarchy.value) < 0)
            return -1;
    }
    return 0;
}

static int memory_v2(const struct cgroup_hier *h, const struct spec_memory *mem, struct keel_error **err)
{
    if (mem->kernel.set && mem->kernel.value != 0)
        return unsupported("memory.kernel", "cgroup v2 has no kernel memory limit", err);
    if (mem->kernel_tcp.set && mem->kernel_tcp.value != 0)
        return unsupported("memory.kernelTCP", "cgroup v2 has no kernel TCP memory limit", err);
    if (mem->swappiness.set)
        return unsupported("memory.swappiness", "cgroup v2 has no per-cgroup swappiness", err);
    if (mem->disable_oom_killer.set && mem->disable_oom_killer.value)
        return unsupported("memory.disableOOMKiller", "cgroup v2 cannot disable the OOM killer", err);
    if (mem->use_hierarchy.set && !mem->use_hierarchy.value)
        return unsupported("memory.useHierarchy", "cgroup v2 is always hierarchical", err);
    bool limit = mem->limit.set && mem->limit.value != 0;
    if (limit && mem->check_before_update.set && mem->check_before_update.value &&
        check_usage(h, mem->limit.value, err) < 0)
        return -1;
    if (mem->swap.set && mem->swap.value != 0 && !cgfs_exists(h->dir, "memory.swap.max"))
        return unsupported("memory.swap", "swap accounting is off on this host (no memory.swap.max)", err);
    if (mem->swap.set) {
        char buf[32];
        if (cgroup_convert_swap_v2(mem->limit.value, limit, mem->swap.value, buf, sizeof(buf), err) < 0)
            return -1;
        /* raising memory.max first is always allowed on v2: the order does not matter */
        if (put(h, "memory.swap.max", "memory.swap", err, "%s", buf) < 0)
            return -1;
    }
    if (limit) {
        int r = mem->limit.value < 0
                    ? put(h, "memory.max", "memory.limit", err, "max")
                    : put(h, "memory.max", "memory.limit", err, "%" PRId64, mem->limit.value);
        if (r < 0)
            return -1;
    }
    if (mem->reservation.set && mem->reservation.value != 0) {
        int r = mem->reservation.value < 0
                    ? put(h, "memory.low", "memory.reservation", err, "max")
                    : put(h, "memory.low", "memory.reservation", err, "%" PRId64, mem->reservation.value);
        if (r < 0)
            return -1;
    }
    return 0;
}

static int apply_memory(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err)
{
    const struct spec_memory *mem = &r->memory;
    if (!r->has_memory)
        return 0;
    bool any = mem->limit.set || mem->reservation.set || mem->swap.set || mem->kernel.set ||
               mem->kernel_tcp.set || mem->swappiness.set || mem->disable_oom_killer.set ||
               mem->use_hierarchy.set;
    if (!any)
        return 0;
    struct cgroup_hier *h = need(m, "memory", "memory", err);
    if (!h)
        return -1;
    return h->v2 ? memory_v2(h, mem, err) : memory_v1(h, mem, err);
}

/* ---- cpu ---- */

static int cpu_v1(const struct cgroup_hier *h, const struct spec_cpu *cpu, struct keel_error **err)
{
    if (cpu->shares.set && cpu->shares.value != 0) {
        if (put(h, "cpu.shares", "cpu.shares", err, "%" PRIu64, cpu->shares.value) < 0)
            return -1;
        uint64_t got;
        if (cgfs_read_u64(h->dir, "cpu.shares", &got, err) < 0)
            return error_prefix(err, "linux.resources.cpu.shares");
        if (got != cpu->shares.value)
            return error_set(err, ERANGE,
                             "linux.resources.cpu.shares: the kernel set %" PRIu64 " instead of %" PRIu64
                             " (allowed: 2..262144)",
                             got, cpu->shares.value);
    }
    bool period = cpu->period.set && cpu->period.value != 0;
    bool quota = cpu->quota.set && cpu->quota.value != 0;
    if (period) {
        /* the kernel checks quota against period: on EINVAL set quota first */
        cleanup_error struct keel_error *first = NULL;
        if (cgfs_writef(h->dir, "cpu.cfs_period_us", &first, "%" PRIu64, cpu->period.value) < 0) {
            if (!quota || first->errnum != EINVAL) {
                *err = steal_ptr(&first);
                return error_prefix(err, "linux.resources.cpu.period");
            }
            if (put(h, "cpu.cfs_quota_us", "cpu.quota", err, "%" PRId64, cpu->quota.value) < 0 ||
                put(h, "cpu.cfs_period_us", "cpu.period", err, "%" PRIu64, cpu->period.value) < 0)
                return -1;
            quota = false;
        }
    }
    if (quota && put(h, "cpu.cfs_quota_us", "cpu.quota", err, "%" PRId64, cpu->quota.value) < 0)
        return -1;
    if (cpu->burst.set) {
        if (!cgfs_exists(h->dir, "cpu.cfs_burst_us"))
            return unsupported("cpu.burst", "the kernel has no cpu.cfs_burst_us", err);
        if (put(h, "cpu.cfs_burst_us", "cpu.burst", err, "%" PRIu64, cpu->burst.value) < 0)
            return -1;
    }
    if (cpu->realtime_period.set && cpu->realtime_period.value != 0) {
        if (!cgfs_exists(h->dir, "cpu.rt_period_us"))
            return unsupported("cpu.realtimePeriod",
                               "the kernel has no RT group scheduling (cpu.rt_period_us)", err);
        if (put(h, "cpu.rt_period_us", "cpu.realtimePeriod", err, "%" PRIu64, cpu->realtime_period.value) < 0)
            return -1;
    }
    if (cpu->realtime_runtime.set && cpu->realtime_runtime.value != 0) {
        if (!cgfs_exists(h->dir, "cpu.rt_runtime_us"))
            return unsupported("cpu.realtimeRuntime",
                               "the kernel has no RT group scheduling (cpu.rt_runtime_us)", err);
        if (put(h, "cpu.rt_runtime_us", "cpu.realtimeRuntime", err, "%" PRId64, cpu->realtime_runtime.value) <
            0)
            return -1;
    }
    return 0;
}

static int cpu_v2(const struct cgroup_hier *h, const struct spec_cpu *cpu, struct keel_error **err)
{
    if (cpu->realtime_period.set && cpu->realtime_period.value != 0)
        return unsupported("cpu.realtimePeriod", "cgroup v2 has no realtime group scheduling", err);
    if (cpu->realtime_runtime.set && cpu->realtime_runtime.value != 0)
        return unsupported("cpu.realtimeRuntime", "cgroup v2 has no realtime group scheduling", err);
    if (cpu->shares.set && cpu->shares.value != 0) {
        if (cpu->shares.value < 2 || cpu->shares.value > 262144)
            return error_set(err, ERANGE, "linux.resources.cpu.shares: %" PRIu64 " is not in 2..262144",
                             cpu->shares.value);
        if (put(h, "cpu.weight", "cpu.shares", err, "%" PRIu64,
                cgroup_convert_shares_to_weight(cpu->shares.value)) < 0)
            return -1;
    }
    bool period = cpu->period.set && cpu->period.value != 0;
    bool quota = cpu->quota.set && cpu->quota.value != 0;
    if (quota || period) {
        char q[32];
        if (quota && cpu->quota.value > 0) {
            snprintf(q, sizeof(q), "%" PRId64, cpu->quota.value);
        } else if (quota) {
            snprintf(q, sizeof(q), "max");
        } else {
            /* only the period changes: keep the quota that is there */
            cleanup_free char *cur = NULL;
            if (cgfs_read(h->dir, "cpu.max", &cur, err) < 0)
                return error_prefix(err, "linux.resources.cpu.period");
            cur[strcspn(cur, " \n")] = '\0';
            snprintf(q, sizeof(q), "%s", cur);
        }
        if (period) {
            if (put(h, "cpu.max", quota ? "cpu.quota" : "cpu.period", err, "%s %" PRIu64, q,
                    cpu->period.value) < 0)
                return -1;
        } else if (put(h, "cpu.max", "cpu.quota", err, "%s", q) < 0) {
            return -1;
        }
    }
    if (cpu->burst.set) {
        if (!cgfs_exists(h->dir, "cpu.max.burst"))
            return unsupported("cpu.burst", "the kernel has no cpu.max.burst", err);
        if (put(h, "cpu.max.burst", "cpu.burst", err, "%" PRIu64, cpu->burst.value) < 0)
            return -1;
    }
    return 0;
}

static int apply_cpu(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err)
{
    const struct spec_cpu *cpu = &r->cpu;
    if (!r->has_cpu)
        return 0;
    bool any = cpu->shares.set || cpu->quota.set || cpu->period.set || cpu->burst.set ||
               cpu->realtime_period.set || cpu->realtime_runtime.set || cpu->idle.set;
    if (any) {
        struct cgroup_hier *h = need(m, "cpu", "cpu", err);
        if (!h)
            return -1;
        if ((h->v2 ? cpu_v2(h, cpu, err) : cpu_v1(h, cpu, err)) < 0)
            return -1;
        if (cpu->idle.set) {
            if (!cgfs_exists(h->dir, "cpu.idle"))
                return unsupported("cpu.idle", "the kernel has no cpu.idle", err);
            if (put(h, "cpu.idle", "cpu.idle", err, "%" PRId64, cpu->idle.value) < 0)
                return -1;
        }
    }
    if (cpu->cpus || cpu->mems) {
        struct cgroup_hier *h = need(m, "cpuset", cpu->cpus ? "cpu.cpus" : "cpu.mems", err);
        if (!h)
            return -1;
        if (cpu->cpus && put(h, "cpuset.cpus", "cpu.cpus", err, "%s", cpu->cpus) < 0)
            return -1;
        if (cpu->mems && put(h, "cpuset.mems", "cpu.mems", err, "%s", cpu->mems) < 0)
            return -1;
    }
    return 0;
}

/* ---- pids ---- */

static int apply_pids(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err)
{
    if (!r->pids_limit.set || r->pids_limit.value == 0)
        return 0;
    struct cgroup_hier *h = need(m, "pids", "pids.limit", err);
    if (!h)
        return -1;
    if (r->pids_limit.value < 0)
        return put(h, "pids.max", "pids.limit", err, "max");
    return put(h, "pids.max", "pids.limit", err, "%" PRId64, r->pids_limit.value);
}

int cgroup_fs_apply_resources(struct cgroup_manager *m, const struct spec_resources *r,
                              struct keel_error **err)
{
    if (apply_memory(m, r, err) < 0 || apply_cpu(m, r, err) < 0 || apply_pids(m, r, err) < 0 ||
        cgroup_fs_apply_blkio(m, r, err) < 0 || cgroup_fs_apply_misc(m, r, err) < 0)
        return -1;
    return 0;
}
