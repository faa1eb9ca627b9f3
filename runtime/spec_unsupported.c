/* Fields keel parses but does not implement.  The team rule: an
 * unsupported field is an error, never silently ignored.  When an area
 * implements one of these, it removes its check here (and claims it in
 * features.c). */
#include "error.h"
#include "spec_internal.h"

#define CFG "config.json: "

int spec_check_supported(const struct spec_config *cfg, struct keel_error **err)
{
    const struct spec_linux *l = cfg->linux;
    if (l == NULL)
        return 0;
    const struct spec_intel_rdt *rdt = &l->intel_rdt;
    if (rdt->set && (rdt->clos_id || rdt->l3_cache_schema || rdt->mem_bw_schema || rdt->schemata ||
                     rdt->enable_cmt || rdt->enable_mbm))
        return error_set(err, 0, CFG "linux.intelRdt: Intel RDT (resctrl) is not supported by keel");
    if (l->memory_policy.set)
        return error_set(err, 0, CFG "linux.memoryPolicy: NUMA memory policies are not supported by keel");
    if (l->n_net_devices > 0)
        return error_set(err, 0, CFG "linux.netDevices: moving network devices is not supported by keel");
    return 0;
}
