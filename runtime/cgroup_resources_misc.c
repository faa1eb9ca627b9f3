/* linux.resources: hugepageLimits, network, rdma, devices and unified. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "runtime/cgroup_internal.h"
#include "runtime/spec.h"
#include "strbuf.h"
#include "xalloc.h"

static int apply_hugetlb(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err)
{
    if (r->n_hugepage_limits == 0)
        return 0;
    struct cgroup_hier *h = cgroup_find_hier(m, "hugetlb");
    if (!h)
        return error_set(
            err, ENOTSUP,
            "linux.resources.hugepageLimits: the hugetlb cgroup controller is not available on this host");
    for (size_t i = 0; i < r->n_hugepage_limits; i++) {
        const struct spec_hugepage_limit *l = &r->hugepage_limits[i];
        if (!l->page_size || !l->page_size[0] || strchr(l->page_size, '/'))
            return error_set(err, EINVAL, "linux.resources.hugepageLimits[%zu].pageSize: invalid \"%s\"", i,
                             l->page_size ? l->page_size : "");
        cleanup_free char *file =
            xasprintf(h->v2 ? "hugetlb.%s.max" : "hugetlb.%s.limit_in_bytes", l->page_size);
        if (!cgfs_exists(h->dir, file))
            return error_set(
                err, ENOTSUP,
                "linux.resources.hugepageLimits[%zu]: page size %s is not supported here (no `%s/%s`)", i,
                l->page_size, h->dir, file);
        if (cgfs_writef(h->dir, file, err, "%" PRIu64, l->limit) < 0)
            return error_prefix(err, "linux.resources.hugepageLimits[%zu]", i);
        /* v2 also limits reservations; keep them equal so a reserved-but-unfaulted page counts */
        cleanup_free char *rsvd = xasprintf("hugetlb.%s.rsvd.max", l->page_size);
        if (h->v2 && cgfs_exists(h->dir, rsvd) && cgfs_writef(h->dir, rsvd, err, "%" PRIu64, l->limit) < 0)
            return error_prefix(err, "linux.resources.hugepageLimits[%zu]", i);
    }
    return 0;
}

static int apply_network(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err)
{
    if (r->net_class_id.set) {
        struct cgroup_hier *h = cgroup_find_hier(m, "net_cls");
        if (!h || h->v2)
            return error_set(
                err, ENOTSUP,
                "linux.resources.network.classID: the net_cls cgroup controller is not available on "
                "this host (cgroup v2 has none)");
        if (cgfs_writef(h->dir, "net_cls.classid", err, "%" PRIu64, r->net_class_id.value) < 0)
            return error_prefix(err, "linux.resources.network.classID");
    }
    if (r->n_net_priorities) {
        struct cgroup_hier *h = cgroup_find_hier(m, "net_prio");
        if (!h || h->v2)
            return error_set(
                err, ENOTSUP,
                "linux.resources.network.priorities: the net_prio cgroup controller is not available on "
                "this host (cgroup v2 has none)");
        for (size_t i = 0; i < r->n_net_priorities; i++)
            if (cgfs_writef(h->dir, "net_prio.ifpriomap", err, "%s %" PRIu32, r->net_priorities[i].name,
                            r->net_priorities[i].priority) < 0)
                return error_prefix(err, "linux.resources.network.priorities[%zu]", i);
    }
    return 0;
}

static int apply_rdma(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err)
{
    if (r->n_rdma == 0)
        return 0;
    struct cgroup_hier *h = cgroup_find_hier(m, "rdma");
    if (!h)
        return error_set(err, ENOTSUP,
                         "linux.resources.rdma: the rdma cgroup controller is not available on this host");
    for (size_t i = 0; i < r->n_rdma; i++) {
        const struct spec_rdma *d = &r->rdma[i];
        struct strbuf sb = STRBUF_INIT;
        strbuf_puts(&sb, d->device);
        if (d->hca_handles.set)
            strbuf_printf(&sb, " hca_handle=%" PRIu64, d->hca_handles.value);
        if (d->hca_objects.set)
            strbuf_printf(&sb, " hca_object=%" PRIu64, d->hca_objects.value);
        cleanup_free char *v = strbuf_detach(&sb);
        if (cgfs_write(h->dir, "rdma.max", v, err) < 0)
            return error_prefix(err, "linux.resources.rdma[\"%s\"]", d->device);
    }
    return 0;
}

static int apply_devices(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err)
{
    /* The first apply (create) always installs the rules, so that a config
     * without any is "deny all but the defaults", never "allow all".  Later
     * applies (update) change them only when asked. */
    if (m->devices_applied && r->n_devices == 0)
        return 0;
    /* Rootless: the kernel lets only a privileged process attach a device
     * program (v2) or write devices.allow (v1).  Device access is then what
     * the user namespace allows: mknod is refused and opening a node needs
     * the caller's own permissions on it.  runc and crun do the same. */
    if (m->rootless) {
        m->devices_applied = true;
        return 0;
    }
    cleanup_free struct cgroup_dev_rule *rules = NULL;
    size_t n = 0;
    if (cgroup_devices_rules(r->devices, r->n_devices, &rules, &n, err) < 0)
        return -1;
    struct cgroup_hier *h = cgroup_find_hier(m, "devices");
    int ret;
    if (h && !h->v2) {
        ret = cgroup_devices_apply_v1(h->dir, rules, n, err);
    } else {
        h = NULL;
        for (size_t i = 0; i < m->n_hiers; i++)
            if (m->hiers[i].v2)
                h = &m->hiers[i];
        if (!h)
            return error_set(err, ENOTSUP,
                             "linux.resources.devices: no devices cgroup controller (v1) and no cgroup v2 to "
                             "attach a device program to");
        ret = cgroup_devices_apply_bpf(h->dir, rules, n, err);
    }
    if (ret < 0)
        return error_prefix(err, "linux.resources.devices");
    m->devices_applied = true;
    return 0;
}

static int apply_unified(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err)
{
    if (r->unified.n == 0)
        return 0;
    struct cgroup_hier *h = NULL;
    for (size_t i = 0; i < m->n_hiers; i++)
        if (m->hiers[i].v2)
            h = &m->hiers[i];
    if (!h)
        return error_set(err, ENOTSUP,
                         "linux.resources.unified: needs cgroup v2, and this host has no cgroup2 mount");
    for (size_t i = 0; i < r->unified.n; i++) {
        const char *key = r->unified.items[i].key;
        const char *value = r->unified.items[i].value;
        if (!key[0] || strchr(key, '/') || key[0] == '.')
            return error_set(err, EINVAL, "linux.resources.unified[\"%s\"]: not a cgroup file name", key);
        if (!cgfs_exists(h->dir, key))
            return error_set(err, ENOENT,
                             "linux.resources.unified[\"%s\"]: cgroup `%s` has no such file (controller not "
                             "available or not enabled%s)",
                             key, h->dir,
                             m->ops == &cgroup_ops_fs_v1 ? "; on this hybrid host most controllers are v1"
                                                         : "");
        if (cgfs_write(h->dir, key, value, err) < 0)
            return error_prefix(err, "linux.resources.unified[\"%s\"]", key);
    }
    return 0;
}

int cgroup_fs_apply_misc(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err)
{
    if (apply_hugetlb(m, r, err) < 0 || apply_network(m, r, err) < 0 || apply_rdma(m, r, err) < 0 ||
        apply_devices(m, r, err) < 0 || apply_unified(m, r, err) < 0)
        return -1;
    return 0;
}
