/* The systemd cgroup driver (--systemd-cgroup, cgroupsPath
 * "slice:prefix:name"), as runc's: systemd owns the cgroup tree, so the
 * container's cgroup is a transient unit that systemd creates and removes.
 *
 * enter:   StartTransientUnit prefix-name.scope in the slice with the init's
 *          pid, Delegate=yes (the subtree is ours), accounting on, no default
 *          dependencies; wait for the job.  Then the pid is written into the
 *          unit's directory in every hierarchy: on a v1/hybrid host systemd
 *          creates only the hierarchies it manages (cpuset, freezer, hugetlb...
 *          are made here, under the same path).  A name ending in ".slice"
 *          makes a transient slice instead (without pids; they are moved by
 *          writing cgroup.procs).
 * apply:   the limits systemd knows become unit properties
 *          (SetUnitProperties, runtime), so that systemd keeps them when it
 *          re-applies its own settings (daemon-reload); then every field is
 *          written the plain file way into the unit's directory, which also
 *          covers what systemd has no property for (devices, blkio, hugetlb,
 *          swappiness, unified...).
 * destroy: kill what is left, StopUnit and wait, ResetFailedUnit, then remove
 *          the directories keel made itself.
 * Everything else (freeze, pids, kill, stats, OOM) reads the files, as the
 * v1/v2 backends do.
 *
 * The unit's name is the last component of the cgroup path, so the state
 * saved in state.json (the path and the hierarchies) is all a later command
 * needs. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "runtime/cgroup_internal.h"
#include "runtime/cgroup_systemd.h"
#include "runtime/spec.h"
#include "xalloc.h"

static bool is_slice(const char *unit)
{
    size_t n = strlen(unit);
    return n > 6 && strcmp(unit + n - 6, ".slice") == 0;
}

int cgroup_systemd_new(const char *cgroups_path, const char *id, struct cgroup_manager **out,
                       struct keel_error **err)
{
    cleanup_free char *slice = NULL, *unit = NULL;
    if (cgroup_path_parse_systemd(cgroups_path, id, &slice, &unit, err) < 0)
        return -1;
    if (!cgroup_detect_systemd_running())
        return error_set(
            err, 0,
            "systemd is not running: `/run/systemd/system` does not exist, so the systemd cgroup "
            "driver (--systemd-cgroup) cannot create scope %s in %s; run without --systemd-cgroup",
            unit, slice);
    if (geteuid() != 0)
        return error_set(
            err, 0,
            "--systemd-cgroup: unit %s: keel talks only to the system instance of systemd, as root; "
            "a rootless container through the user's systemd instance is not supported",
            unit);
    if (systemd_bus_available(err) < 0)
        return error_prefix(err, "--systemd-cgroup: unit %s", unit);

    cleanup_free char *path = NULL;
    if (is_slice(unit)) {
        if (systemd_slice_path(unit, &path, err) < 0)
            return error_prefix(err, "linux.cgroupsPath `%s`", cgroups_path ? cgroups_path : "");
    } else {
        cleanup_free char *parent = NULL;
        if (systemd_slice_path(slice, &parent, err) < 0)
            return error_prefix(err, "linux.cgroupsPath `%s`", cgroups_path ? cgroups_path : "");
        path = xasprintf("%s/%s", parent, unit);
    }

    cleanup_cgroup_manager struct cgroup_manager *m = NULL;
    if (cgroup_manager_detect(&m, err) < 0)
        return -1;
    struct cgroup_hier *hiers = m->hiers;
    size_t n = m->n_hiers;
    if (n == 0)
        return error_set(err, ENOENT,
                         "--systemd-cgroup: no cgroup hierarchy is mounted (looked in "
                         "`/proc/self/mountinfo`)");
    m->ops = &cgroup_ops_systemd;
    for (size_t i = 0; i < n; i++)
        hiers[i].dir = xasprintf("%s%s", hiers[i].mountpoint, path);
    m->path = steal_ptr(&path);
    *out = steal_ptr(&m);
    return 0;
}

/* systemd runs the unified layout: only cgroup2 is mounted. */
static bool unified(const struct cgroup_manager *m)
{
    return m->n_hiers == 1 && m->hiers[0].v2;
}

static const char *unit_of(const struct cgroup_manager *m)
{
    const char *slash = strrchr(m->path, '/');
    return slash ? slash + 1 : m->path;
}

/* The slice a scope sits in: its parent directory's name, "-.slice" at the root. */
static char *slice_of(const struct cgroup_manager *m)
{
    const char *last = strrchr(m->path, '/');
    if (!last || last == m->path)
        return xstrdup("-.slice");
    cleanup_free char *dir = xstrndup(m->path, (size_t)(last - m->path));
    return xstrdup(strrchr(dir, '/') + 1);
}

static int start_props(const struct cgroup_manager *m, pid_t pid, struct systemd_props *p)
{
    const char *unit = unit_of(m);
    cleanup_free char *desc = xasprintf("keel container %s", unit);
    systemd_props_add_string(p, "Description", desc);
    if (!is_slice(unit)) {
        cleanup_free char *slice = slice_of(m);
        systemd_props_add_string(p, "Slice", slice);
        /* the container manages its own sub-cgroups (nested runtimes, systemd inside) */
        systemd_props_add_bool(p, "Delegate", true);
        systemd_props_add_pid(p, "PIDs", pid);
    }
    /* accounting on: the controllers are enabled for the unit, as a file
     * backend gets them, and joining later works */
    systemd_props_add_bool(p, "MemoryAccounting", true);
    systemd_props_add_bool(p, "CPUAccounting", true);
    systemd_props_add_bool(p, unified(m) ? "IOAccounting" : "BlockIOAccounting", true);
    systemd_props_add_bool(p, "TasksAccounting", true);
    /* no implicit ordering against shutdown.target etc.: the engine stops it */
    systemd_props_add_bool(p, "DefaultDependencies", false);
    return 0;
}

static int sd_enter(struct cgroup_manager *m, pid_t pid, struct keel_error **err)
{
    cleanup_free char *unit = xstrdup(unit_of(m)); /* m->path may be dropped below */
    cleanup_systemd_bus struct systemd_bus *b = NULL;
    if (systemd_bus_connect(&b, err) < 0)
        return error_prefix(err, "creating unit %s", unit);
    struct systemd_props p = {0};
    start_props(m, pid, &p);
    cleanup_error struct keel_error *first = NULL;
    int r = systemd_bus_start_unit(b, unit, &p, &first);
    if (r == -EEXIST) {
        /* a failed unit of the same name stays loaded until reset */
        cleanup_error struct keel_error *ignored = NULL;
        systemd_bus_reset_failed(b, unit, &ignored);
        r = systemd_bus_start_unit(b, unit, &p, &first);
    }
    if (r == -EEXIST) {
        /* not ours: forget it, so that create's cleanup (cgroup_destroy)
         * cannot kill or stop another container's unit */
        free(m->path);
        m->path = NULL;
        error_set(err, 0,
                  "creating unit %s: systemd has a unit of that name already: another container uses this "
                  "linux.cgroupsPath, or it is a leftover (`systemctl stop %s`)",
                  unit, unit);
    } else if (r < 0 && err) {
        *err = steal_ptr(&first);
    }
    systemd_props_clear(&p);
    if (r < 0)
        return -1;
    /* the pid is in the unit already where systemd manages the hierarchy;
     * this puts it into the others (v1 cpuset, freezer...) and, for a
     * slice, everywhere */
    if (cgroup_ops_fs_v1.join(m, pid, err) < 0)
        return error_prefix(err, "unit %s", unit);
    return 0;
}

static int props_devices(const struct spec_resources *r, struct systemd_props *p, struct keel_error **err)
{
    cleanup_free struct cgroup_dev_rule *rules = NULL;
    size_t n = 0;
    if (cgroup_devices_rules(r->devices, r->n_devices, &rules, &n, err) < 0)
        return -1;
    cleanup_free char *proc_devices = NULL;
    if (file_read_whole("/proc/devices", 1 << 16, &proc_devices, NULL, err) < 0)
        return error_prefix(err, "naming device classes for systemd's DeviceAllow=");
    return systemd_props_from_devices(rules, n, proc_devices, p);
}

static int sd_apply(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err)
{
    const char *unit = unit_of(m);
    cleanup_systemd_bus struct systemd_bus *b = NULL;
    if (systemd_bus_connect(&b, err) < 0)
        return error_prefix(err, "setting the resources of unit %s", unit);
    unsigned version = 0;
    if (systemd_bus_version(b, &version, err) < 0)
        return -1;
    struct systemd_props p = {0};
    if (systemd_props_from_resources(r, unified(m), version, &p, err) < 0)
        return -1;
    /* v1: systemd would rewrite devices.* from its own (empty) policy; on
     * v2 it attaches no program of its own without a policy, and keel's
     * program stays */
    if (!unified(m) && (!m->devices_applied || r->n_devices) && props_devices(r, &p, err) < 0) {
        systemd_props_clear(&p);
        return -1;
    }
    int rc = p.n ? systemd_bus_set_properties(b, unit, &p, err) : 0;
    systemd_props_clear(&p);
    if (rc < 0)
        return -1;
    return cgroup_fs_apply_resources(m, r, err);
}

static int sd_destroy(struct cgroup_manager *m, struct keel_error **err)
{
    if (!m->path) /* the unit belonged to someone else (sd_enter) */
        return 0;
    const char *unit = unit_of(m);
    /* kill first: StopUnit would send SIGTERM and wait up to TimeoutStopSec */
    cleanup_error struct keel_error *kill_err = NULL;
    cgroup_ops_fs_v1.kill_all(m, SIGKILL, &kill_err);
    cleanup_systemd_bus struct systemd_bus *b = NULL;
    if (systemd_bus_connect(&b, err) < 0) {
        cleanup_error struct keel_error *ignored = NULL;
        cgroup_ops_fs_v1.destroy(m, &ignored);
        return error_prefix(err, "removing unit %s", unit);
    }
    if (systemd_bus_stop_unit(b, unit, err) < 0)
        return -1;
    cleanup_error struct keel_error *ignored = NULL;
    systemd_bus_reset_failed(b, unit, &ignored);
    /* what systemd did not make (v1 hierarchies it does not manage) */
    return cgroup_ops_fs_v1.destroy(m, err);
}

static int sd_join(struct cgroup_manager *m, pid_t pid, struct keel_error **err)
{
    return cgroup_ops_fs_v1.join(m, pid, err);
}

static int sd_freeze(struct cgroup_manager *m, bool frozen, struct keel_error **err)
{
    return cgroup_ops_fs_v1.freeze(m, frozen, err);
}

static int sd_is_frozen(struct cgroup_manager *m, bool *frozen, struct keel_error **err)
{
    return cgroup_ops_fs_v1.is_frozen(m, frozen, err);
}

static int sd_get_pids(struct cgroup_manager *m, pid_t **pids, size_t *n, struct keel_error **err)
{
    return cgroup_ops_fs_v1.get_pids(m, pids, n, err);
}

static int sd_kill_all(struct cgroup_manager *m, int sig, struct keel_error **err)
{
    return cgroup_ops_fs_v1.kill_all(m, sig, err);
}

static int sd_stats(struct cgroup_manager *m, struct cgroup_stats *out, struct keel_error **err)
{
    return cgroup_ops_fs_v1.stats(m, out, err);
}

static int sd_oom_open(struct cgroup_manager *m, struct cgroup_oom_watch **out, struct keel_error **err)
{
    return cgroup_ops_fs_v1.oom_open(m, out, err);
}

const struct cgroup_ops cgroup_ops_systemd = {
    .name = "systemd",
    .enter = sd_enter,
    .join = sd_join,
    .apply = sd_apply,
    .destroy = sd_destroy,
    .freeze = sd_freeze,
    .is_frozen = sd_is_frozen,
    .get_pids = sd_get_pids,
    .kill_all = sd_kill_all,
    .stats = sd_stats,
    .oom_open = sd_oom_open,
};
