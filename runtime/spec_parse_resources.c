/* config.json "linux.resources" (also the document of `update --resources`). */
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "json.h"
#include "spec_internal.h"
#include "xalloc.h"

/* An array member whose items are objects: calls fn for each. The array
 * is allocated first so that a failure leaves a freeable prefix. */
#define SPEC_FOREACH_OBJECT(obj, base, key, arr_out, n_out, item_fn, err)                                    \
    ({                                                                                                       \
        int spec_rc_ = 0;                                                                                    \
        yajl_val spec_arr_ = NULL;                                                                           \
        if (spec_opt_array((obj), (base), (key), &spec_arr_, (err)) < 0) {                                   \
            spec_rc_ = -1;                                                                                   \
        } else if (spec_arr_) {                                                                              \
            cleanup_free char *spec_path_ = spec_path_join((base), (key));                                   \
            size_t spec_len_ = spec_arr_->u.array.len;                                                       \
            *(arr_out) = xcalloc(spec_len_ ? spec_len_ : 1, sizeof(**(arr_out)));                            \
            for (size_t spec_i_ = 0; spec_i_ < spec_len_ && spec_rc_ == 0; spec_i_++) {                      \
                cleanup_free char *spec_ip_ = spec_path_index(spec_path_, spec_i_);                          \
                yajl_val spec_item_ = spec_arr_->u.array.values[spec_i_];                                    \
                (*(n_out))++;                                                                                \
                if (json_expect_object(spec_item_, spec_ip_, (err)) < 0 ||                                   \
                    item_fn(spec_item_, spec_ip_, &(*(arr_out))[spec_i_], (err)) < 0)                        \
                    spec_rc_ = -1;                                                                           \
            }                                                                                                \
        }                                                                                                    \
        spec_rc_;                                                                                            \
    })

static int spec_parse_device_rule(yajl_val v, const char *ip, struct spec_device_cgroup *d,
                                  struct keel_error **err)
{
    yajl_val allow = spec_member(v, "allow");
    if (allow == NULL)
        return error_set(err, 0, "%s.allow: missing required field", ip);
    cleanup_free char *ap = spec_path_join(ip, "allow");
    if (json_get_bool(allow, ap, &d->allow, err) < 0)
        return -1;
    cleanup_free char *type = NULL;
    if (spec_opt_string(v, ip, "type", &type, err) < 0)
        return -1;
    if (type && type[0]) {
        if (strlen(type) != 1 || strchr("acb", type[0]) == NULL)
            return error_set(err, 0, "%s.type: unknown device type \"%s\" (expected a, c or b)", ip, type);
        d->type = type[0];
    }
    if (spec_opt_i64(v, ip, "major", &d->major, err) < 0 ||
        spec_opt_i64(v, ip, "minor", &d->minor, err) < 0 ||
        spec_opt_string(v, ip, "access", &d->access, err) < 0)
        return -1;
    if (d->access) {
        for (const char *c = d->access; *c; c++)
            if (strchr("rwm", *c) == NULL)
                return error_set(err, 0, "%s.access: \"%s\" is not a subset of \"rwm\"", ip, d->access);
    }
    return 0;
}

static int spec_parse_memory(yajl_val res, const char *base, struct spec_resources *r,
                             struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(res, base, "memory", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *p = spec_path_join(base, "memory");
    struct spec_memory *m = &r->memory;
    r->has_memory = true;
    if (spec_opt_i64(v, p, "limit", &m->limit, err) < 0 ||
        spec_opt_i64(v, p, "reservation", &m->reservation, err) < 0 ||
        spec_opt_i64(v, p, "swap", &m->swap, err) < 0 || spec_opt_i64(v, p, "kernel", &m->kernel, err) < 0 ||
        spec_opt_i64(v, p, "kernelTCP", &m->kernel_tcp, err) < 0 ||
        spec_opt_u64(v, p, "swappiness", &m->swappiness, err) < 0 ||
        spec_opt_tribool(v, p, "disableOOMKiller", &m->disable_oom_killer, err) < 0 ||
        spec_opt_tribool(v, p, "useHierarchy", &m->use_hierarchy, err) < 0 ||
        spec_opt_tribool(v, p, "checkBeforeUpdate", &m->check_before_update, err) < 0)
        return -1;
    return 0;
}

static int spec_parse_cpu(yajl_val res, const char *base, struct spec_resources *r, struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(res, base, "cpu", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *p = spec_path_join(base, "cpu");
    struct spec_cpu *c = &r->cpu;
    r->has_cpu = true;
    if (spec_opt_u64(v, p, "shares", &c->shares, err) < 0 ||
        spec_opt_i64(v, p, "quota", &c->quota, err) < 0 || spec_opt_u64(v, p, "burst", &c->burst, err) < 0 ||
        spec_opt_u64(v, p, "period", &c->period, err) < 0 ||
        spec_opt_i64(v, p, "realtimeRuntime", &c->realtime_runtime, err) < 0 ||
        spec_opt_u64(v, p, "realtimePeriod", &c->realtime_period, err) < 0 ||
        spec_opt_string(v, p, "cpus", &c->cpus, err) < 0 ||
        spec_opt_string(v, p, "mems", &c->mems, err) < 0 || spec_opt_i64(v, p, "idle", &c->idle, err) < 0)
        return -1;
    return 0;
}

static int spec_check_u16(const struct opt_u64 *v, const char *base, const char *key, struct keel_error **err)
{
    if (v->set && v->value > UINT16_MAX) {
        cleanup_free char *p = spec_path_join(base, key);
        return error_set(err, 0, "%s: %llu is too large (at most 65535)", p, (unsigned long long)v->value);
    }
    return 0;
}

static int spec_parse_weight_device(yajl_val v, const char *ip, struct spec_weight_device *d,
                                    struct keel_error **err)
{
    if (spec_req_i64(v, ip, "major", &d->major, err) < 0 ||
        spec_req_i64(v, ip, "minor", &d->minor, err) < 0 ||
        spec_opt_u64(v, ip, "weight", &d->weight, err) < 0 ||
        spec_opt_u64(v, ip, "leafWeight", &d->leaf_weight, err) < 0)
        return -1;
    if (spec_check_u16(&d->weight, ip, "weight", err) < 0 ||
        spec_check_u16(&d->leaf_weight, ip, "leafWeight", err) < 0)
        return -1;
    return 0;
}

static int spec_parse_throttle_device(yajl_val v, const char *ip, struct spec_throttle_device *d,
                                      struct keel_error **err)
{
    if (spec_req_i64(v, ip, "major", &d->major, err) < 0 ||
        spec_req_i64(v, ip, "minor", &d->minor, err) < 0 || spec_req_u64(v, ip, "rate", &d->rate, err) < 0)
        return -1;
    return 0;
}

static int spec_parse_block_io(yajl_val res, const char *base, struct spec_resources *r,
                               struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(res, base, "blockIO", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *p = spec_path_join(base, "blockIO");
    struct spec_block_io *b = &r->block_io;
    r->has_block_io = true;
    if (spec_opt_u64(v, p, "weight", &b->weight, err) < 0 ||
        spec_opt_u64(v, p, "leafWeight", &b->leaf_weight, err) < 0 ||
        spec_check_u16(&b->weight, p, "weight", err) < 0 ||
        spec_check_u16(&b->leaf_weight, p, "leafWeight", err) < 0)
        return -1;
    if (SPEC_FOREACH_OBJECT(v, p, "weightDevice", &b->weight_devices, &b->n_weight_devices,
                            spec_parse_weight_device, err) < 0 ||
        SPEC_FOREACH_OBJECT(v, p, "throttleReadBpsDevice", &b->throttle_read_bps, &b->n_throttle_read_bps,
                            spec_parse_throttle_device, err) < 0 ||
        SPEC_FOREACH_OBJECT(v, p, "throttleWriteBpsDevice", &b->throttle_write_bps, &b->n_throttle_write_bps,
                            spec_parse_throttle_device, err) < 0 ||
        SPEC_FOREACH_OBJECT(v, p, "throttleReadIOPSDevice", &b->throttle_read_iops, &b->n_throttle_read_iops,
                            spec_parse_throttle_device, err) < 0 ||
        SPEC_FOREACH_OBJECT(v, p, "throttleWriteIOPSDevice", &b->throttle_write_iops,
                            &b->n_throttle_write_iops, spec_parse_throttle_device, err) < 0)
        return -1;
    return 0;
}

static int spec_parse_hugepage(yajl_val v, const char *ip, struct spec_hugepage_limit *h,
                               struct keel_error **err)
{
    if (spec_req_string(v, ip, "pageSize", &h->page_size, err) < 0 ||
        spec_req_u64(v, ip, "limit", &h->limit, err) < 0)
        return -1;
    return 0;
}

static int spec_parse_net_priority(yajl_val v, const char *ip, struct spec_net_priority *np,
                                   struct keel_error **err)
{
    if (spec_req_string(v, ip, "name", &np->name, err) < 0 ||
        spec_req_u32(v, ip, "priority", &np->priority, err) < 0)
        return -1;
    return 0;
}

static int spec_parse_network(yajl_val res, const char *base, struct spec_resources *r,
                              struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(res, base, "network", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *p = spec_path_join(base, "network");
    if (spec_opt_u64(v, p, "classID", &r->net_class_id, err) < 0)
        return -1;
    if (r->net_class_id.set && r->net_class_id.value > UINT32_MAX)
        return error_set(err, 0, "%s.classID: %llu is too large (at most %u)", p,
                         (unsigned long long)r->net_class_id.value, UINT32_MAX);
    return SPEC_FOREACH_OBJECT(v, p, "priorities", &r->net_priorities, &r->n_net_priorities,
                               spec_parse_net_priority, err);
}

static int spec_parse_rdma(yajl_val res, const char *base, struct spec_resources *r, struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(res, base, "rdma", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *p = spec_path_join(base, "rdma");
    size_t n = v->u.object.len;
    cleanup_free bool *skip = spec_superseded_keys(v);
    r->rdma = xcalloc(n ? n : 1, sizeof(*r->rdma));
    for (size_t i = 0; i < n; i++) {
        if (skip[i])
            continue;
        struct spec_rdma *d = &r->rdma[r->n_rdma];
        d->device = xstrdup(v->u.object.keys[i]);
        r->n_rdma++;
        cleanup_free char *dp = spec_path_join(p, d->device);
        yajl_val o = v->u.object.values[i];
        if (json_expect_object(o, dp, err) < 0 ||
            spec_opt_u64(o, dp, "hcaHandles", &d->hca_handles, err) < 0 ||
            spec_opt_u64(o, dp, "hcaObjects", &d->hca_objects, err) < 0)
            return -1;
        if ((d->hca_handles.set && d->hca_handles.value > UINT32_MAX) ||
            (d->hca_objects.set && d->hca_objects.value > UINT32_MAX))
            return error_set(err, 0, "%s: hcaHandles and hcaObjects must fit in 32 bits", dp);
    }
    return 0;
}

int spec_parse_resources_obj(yajl_val v, const char *base, struct spec_resources *r, struct keel_error **err)
{
    if (json_expect_object(v, base, err) < 0)
        return -1;
    r->set = true;
    if (SPEC_FOREACH_OBJECT(v, base, "devices", &r->devices, &r->n_devices, spec_parse_device_rule, err) < 0)
        return -1;
    if (spec_parse_memory(v, base, r, err) < 0 || spec_parse_cpu(v, base, r, err) < 0)
        return -1;
    yajl_val pids = NULL;
    if (spec_opt_object(v, base, "pids", &pids, err) < 0)
        return -1;
    if (pids) {
        cleanup_free char *pp = spec_path_join(base, "pids");
        /* runtime-spec 1.2 made limit optional (absent = no limit). */
        if (spec_opt_i64(pids, pp, "limit", &r->pids_limit, err) < 0)
            return -1;
    }
    if (spec_parse_block_io(v, base, r, err) < 0)
        return -1;
    if (SPEC_FOREACH_OBJECT(v, base, "hugepageLimits", &r->hugepage_limits, &r->n_hugepage_limits,
                            spec_parse_hugepage, err) < 0)
        return -1;
    if (spec_parse_network(v, base, r, err) < 0 || spec_parse_rdma(v, base, r, err) < 0)
        return -1;
    return spec_opt_kv(v, base, "unified", &r->unified, err);
}

int spec_parse_resources(const char *text, size_t len, const char *name, struct spec_resources *out,
                         struct keel_error **err)
{
    cleanup_json yajl_val tree = NULL;
    if (spec_parse_json_object(text, len, name, &tree, err) < 0)
        return -1;
    if (spec_parse_resources_obj(tree, "", out, err) < 0)
        return error_prefix(err, "%s", name);
    return 0;
}
