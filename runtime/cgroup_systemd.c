/* The systemd cgroup driver (--systemd-cgroup, cgroupsPath
 * "slice:prefix:name"): systemd owns the tree and creates a transient scope
 * for the container over D-Bus.  Talking D-Bus needs sd-bus (libsystemd),
 * which this build does not link; so the driver checks the path and that
 * systemd runs, and reports clearly what it cannot do.  It never falls back
 * to writing the cgroup tree behind systemd's back. */
#include <errno.h>

#include "cleanup.h"
#include "error.h"
#include "runtime/cgroup_internal.h"

int cgroup_systemd_new(const char *cgroups_path, const char *id, struct cgroup_manager **out,
                       struct keel_error **err)
{
    (void)out;
    cleanup_free char *slice = NULL, *unit = NULL;
    if (cgroup_path_parse_systemd(cgroups_path, id, &slice, &unit, err) < 0)
        return -1;
    if (!cgroup_detect_systemd_running())
        return error_set(
            err, 0,
            "systemd is not running: `/run/systemd/system` does not exist, so the systemd cgroup "
            "driver (--systemd-cgroup) cannot create scope %s in %s; run without --systemd-cgroup",
            unit, slice);
    return error_set(
        err, 0,
        "the systemd cgroup driver needs D-Bus (sd-bus from libsystemd), which this keel was built "
        "without: cannot create scope %s in %s; run without --systemd-cgroup",
        unit, slice);
}
