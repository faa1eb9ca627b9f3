/* config.json "linux": namespaces, id mappings, devices, sysctl, paths and
 * the 1.2 additions; resources and seccomp have their own files. */
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "json.h"
#include "spec_internal.h"
#include "strbuf.h"
#include "xalloc.h"

static int spec_parse_namespaces(yajl_val lnx, const char *base, struct spec_linux *l,
                                 struct keel_error **err)
{
    yajl_val arr = NULL;
    if (spec_opt_array(lnx, base, "namespaces", &arr, err) < 0)
        return -1;
    if (arr == NULL)
        return 0;
    cleanup_free char *path = spec_path_join(base, "namespaces");
    size_t n = arr->u.array.len;
    l->namespaces = xcalloc(n ? n : 1, sizeof(*l->namespaces));
    for (size_t i = 0; i < n; i++) {
        yajl_val v = arr->u.array.values[i];
        cleanup_free char *ip = spec_path_index(path, i);
        if (json_expect_object(v, ip, err) < 0)
            return -1;
        struct spec_namespace *ns = &l->namespaces[i];
        l->n_namespaces++;
        cleanup_free char *type = NULL;
        if (spec_req_string(v, ip, "type", &type, err) < 0)
            return -1;
        int t = spec_ns_from_name(type);
        if (t < 0)
            return error_set(err, 0, "%s.type: unknown namespace type \"%s\"", ip, type);
        ns->type = (enum spec_ns_type)t;
        if (spec_opt_string(v, ip, "path", &ns->path, err) < 0)
            return -1;
    }
    return 0;
}

static int spec_parse_device(yajl_val v, const char *ip, struct spec_device *d, struct keel_error **err)
{
    if (json_expect_object(v, ip, err) < 0)
        return -1;
    if (spec_req_string(v, ip, "path", &d->path, err) < 0)
        return -1;
    cleanup_free char *type = NULL;
    if (spec_req_string(v, ip, "type", &type, err) < 0)
        return -1;
    if (strlen(type) != 1 || strchr("cbup", type[0]) == NULL)
        return error_set(err, 0, "%s.type: unknown device type \"%s\" (expected c, b, u or p)", ip, type);
    d->type = type[0];
    bool need_numbers = d->type != 'p';
    if (need_numbers) {
        if (spec_req_i64(v, ip, "major", &d->major, err) < 0 ||
            spec_req_i64(v, ip, "minor", &d->minor, err) < 0)
            return -1;
    } else if (spec_opt_raw_i64(v, ip, "major", &d->major, err) < 0 ||
               spec_opt_raw_i64(v, ip, "minor", &d->minor, err) < 0) {
        return -1;
    }
    if (spec_opt_u64(v, ip, "fileMode", &d->file_mode, err) < 0 ||
        spec_opt_u64(v, ip, "uid", &d->uid, err) < 0 || spec_opt_u64(v, ip, "gid", &d->gid, err) < 0)
        return -1;
    /* Podman writes the file type bits too (S_IFCHR|0644 = 8612): the
     * mode is a uint32, and only its permission bits are used. */
    if (d->file_mode.set && d->file_mode.value > UINT32_MAX)
        return error_set(err, 0, "%s.fileMode: %llu is too large (at most %u)", ip,
                         (unsigned long long)d->file_mode.value, UINT32_MAX);
    if ((d->uid.set && d->uid.value > UINT32_MAX) || (d->gid.set && d->gid.value > UINT32_MAX))
        return error_set(err, 0, "%s: uid and gid must fit in 32 bits", ip);
    return 0;
}

static int spec_parse_devices(yajl_val lnx, const char *base, struct spec_linux *l, struct keel_error **err)
{
    yajl_val arr = NULL;
    if (spec_opt_array(lnx, base, "devices", &arr, err) < 0)
        return -1;
    if (arr == NULL)
        return 0;
    cleanup_free char *path = spec_path_join(base, "devices");
    size_t n = arr->u.array.len;
    l->devices = xcalloc(n ? n : 1, sizeof(*l->devices));
    for (size_t i = 0; i < n; i++) {
        cleanup_free char *ip = spec_path_index(path, i);
        l->n_devices++;
        if (spec_parse_device(arr->u.array.values[i], ip, &l->devices[i], err) < 0)
            return -1;
    }
    return 0;
}

static int spec_parse_time_offsets(yajl_val lnx, const char *base, struct spec_linux *l,
                                   struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(lnx, base, "timeOffsets", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *path = spec_path_join(base, "timeOffsets");
    for (size_t i = 0; i < v->u.object.len; i++) {
        const char *clock = v->u.object.keys[i];
        yajl_val o = v->u.object.values[i];
        cleanup_free char *cp = spec_path_join(path, clock);
        struct spec_time_offset *off;
        if (strcmp(clock, "monotonic") == 0)
            off = &l->time_offset_monotonic;
        else if (strcmp(clock, "boottime") == 0)
            off = &l->time_offset_boottime;
        else
            return error_set(err, 0, "%s: unknown clock \"%s\" (expected monotonic or boottime)", cp, clock);
        if (json_expect_object(o, cp, err) < 0)
            return -1;
        if (spec_opt_raw_i64(o, cp, "secs", &off->secs, err) < 0 ||
            spec_opt_u32(o, cp, "nanosecs", &off->nanosecs, err) < 0)
            return -1;
        if (off->nanosecs >= 1000000000u)
            return error_set(err, 0, "%s.nanosecs: %u is not below one second", cp, off->nanosecs);
        off->set = true;
    }
    return 0;
}

static int spec_parse_personality(yajl_val lnx, const char *base, struct spec_personality *p,
                                  struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(lnx, base, "personality", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *path = spec_path_join(base, "personality");
    p->set = true;
    if (spec_req_string(v, path, "domain", &p->domain, err) < 0 ||
        spec_opt_strv(v, path, "flags", &p->flags, err) < 0)
        return -1;
    cleanup_free char *dp = spec_path_join(path, "domain");
    if (spec_check_name(p->domain, spec_personality_domains, dp, "personality domain", err) < 0)
        return -1;
    /* The spec defines no personality flags yet. */
    if (p->flags && p->flags[0])
        return error_set(err, 0, "%s.flags[0]: unknown personality flag \"%s\"", path, p->flags[0]);
    return 0;
}

static int spec_parse_memory_policy(yajl_val lnx, const char *base, struct spec_memory_policy *mp,
                                    struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(lnx, base, "memoryPolicy", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *path = spec_path_join(base, "memoryPolicy");
    mp->set = true;
    if (spec_req_string(v, path, "mode", &mp->mode, err) < 0 ||
        spec_opt_string(v, path, "nodes", &mp->nodes, err) < 0 ||
        spec_opt_strv(v, path, "flags", &mp->flags, err) < 0)
        return -1;
    cleanup_free char *mpath = spec_path_join(path, "mode");
    cleanup_free char *fpath = spec_path_join(path, "flags");
    if (spec_check_name(mp->mode, spec_mpol_modes, mpath, "memory policy mode", err) < 0 ||
        spec_check_names(mp->flags, spec_mpol_flags, fpath, "memory policy flag", err) < 0)
        return -1;
    return 0;
}

static int spec_parse_net_devices(yajl_val lnx, const char *base, struct spec_linux *l,
                                  struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(lnx, base, "netDevices", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *path = spec_path_join(base, "netDevices");
    size_t n = v->u.object.len;
    cleanup_free bool *skip = spec_superseded_keys(v);
    l->net_devices = xcalloc(n ? n : 1, sizeof(*l->net_devices));
    for (size_t i = 0; i < n; i++) {
        if (skip[i])
            continue;
        struct spec_net_device *d = &l->net_devices[l->n_net_devices];
        d->host_name = xstrdup(v->u.object.keys[i]);
        l->n_net_devices++;
        cleanup_free char *dp = spec_path_join(path, d->host_name);
        yajl_val o = v->u.object.values[i];
        if (YAJL_IS_NULL(o))
            continue;
        if (json_expect_object(o, dp, err) < 0 || spec_opt_string(o, dp, "name", &d->name, err) < 0)
            return -1;
    }
    return 0;
}

static int spec_parse_intel_rdt(yajl_val lnx, const char *base, struct spec_intel_rdt *r,
                                struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(lnx, base, "intelRdt", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *path = spec_path_join(base, "intelRdt");
    r->set = true;
    if (spec_opt_string(v, path, "closID", &r->clos_id, err) < 0 ||
        spec_opt_string(v, path, "l3CacheSchema", &r->l3_cache_schema, err) < 0 ||
        spec_opt_string(v, path, "memBwSchema", &r->mem_bw_schema, err) < 0 ||
        spec_opt_bool(v, path, "enableCMT", &r->enable_cmt, err) < 0 ||
        spec_opt_bool(v, path, "enableMBM", &r->enable_mbm, err) < 0)
        return -1;
    /* runtime-spec 1.3: an array of schemata lines, kept joined by '\n'. */
    cleanup_strv char **lines = NULL;
    if (spec_opt_strv(v, path, "schemata", &lines, err) < 0)
        return -1;
    if (lines) {
        struct strbuf sb = STRBUF_INIT;
        for (size_t i = 0; lines[i]; i++) {
            if (i)
                strbuf_putc(&sb, '\n');
            strbuf_puts(&sb, lines[i]);
        }
        r->schemata = strbuf_detach(&sb);
    }
    return 0;
}

static int spec_parse_linux_fields(yajl_val v, const char *base, struct spec_linux *l,
                                   struct keel_error **err)
{
    if (spec_parse_namespaces(v, base, l, err) < 0)
        return -1;
    if (spec_opt_id_mappings(v, base, "uidMappings", &l->uid_mappings, &l->n_uid_mappings, err) < 0 ||
        spec_opt_id_mappings(v, base, "gidMappings", &l->gid_mappings, &l->n_gid_mappings, err) < 0)
        return -1;
    if (spec_parse_time_offsets(v, base, l, err) < 0 || spec_parse_devices(v, base, l, err) < 0)
        return -1;
    if (spec_opt_string(v, base, "cgroupsPath", &l->cgroups_path, err) < 0)
        return -1;
    yajl_val res = spec_member(v, "resources");
    if (res) {
        cleanup_free char *rp = spec_path_join(base, "resources");
        if (spec_parse_resources_obj(res, rp, &l->resources, err) < 0)
            return -1;
    }
    if (spec_parse_intel_rdt(v, base, &l->intel_rdt, err) < 0 ||
        spec_opt_kv(v, base, "sysctl", &l->sysctl, err) < 0)
        return -1;
    yajl_val sc = spec_member(v, "seccomp");
    if (sc) {
        cleanup_free char *sp = spec_path_join(base, "seccomp");
        if (spec_parse_seccomp_obj(sc, sp, &l->seccomp, err) < 0)
            return -1;
    }
    if (spec_opt_string(v, base, "rootfsPropagation", &l->rootfs_propagation, err) < 0)
        return -1;
    if (l->rootfs_propagation && l->rootfs_propagation[0]) {
        cleanup_free char *pp = spec_path_join(base, "rootfsPropagation");
        if (spec_check_name(l->rootfs_propagation, spec_rootfs_propagations, pp, "rootfs propagation", err) <
            0)
            return -1;
    }
    if (spec_opt_strv(v, base, "maskedPaths", &l->masked_paths, err) < 0 ||
        spec_opt_strv(v, base, "readonlyPaths", &l->readonly_paths, err) < 0 ||
        spec_opt_string(v, base, "mountLabel", &l->mount_label, err) < 0)
        return -1;
    if (spec_parse_personality(v, base, &l->personality, err) < 0 ||
        spec_parse_memory_policy(v, base, &l->memory_policy, err) < 0 ||
        spec_parse_net_devices(v, base, l, err) < 0)
        return -1;
    return 0;
}

int spec_parse_linux_obj(yajl_val v, const char *base, struct spec_linux **out, struct keel_error **err)
{
    if (json_expect_object(v, base, err) < 0)
        return -1;
    struct spec_linux *l = xzalloc(sizeof(*l));
    if (spec_parse_linux_fields(v, base, l, err) < 0) {
        spec_linux_free(l);
        return -1;
    }
    *out = l;
    return 0;
}
