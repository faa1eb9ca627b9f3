/* linux.resources.blockIO: weights and throttles, v1 (blkio) and v2 (io). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "runtime/cgroup_internal.h"
#include "runtime/spec.h"
#include "xalloc.h"

static int write_field(const struct cgroup_hier *h, const char *file, const char *field, const char *value,
                       struct keel_error **err)
{
    if (cgfs_write(h->dir, file, value, err) < 0)
        return error_prefix(err, "linux.resources.blockIO.%s", field);
    return 0;
}

/* The first of the candidate files the kernel offers (CFQ's blkio.weight
 * or BFQ's blkio.bfq.weight), or NULL with an error naming the field. */
static const char *pick(const struct cgroup_hier *h, const char *a, const char *b, const char *field,
                        struct keel_error **err)
{
    if (cgfs_exists(h->dir, a))
        return a;
    if (b && cgfs_exists(h->dir, b))
        return b;
    error_set(err, ENOTSUP,
              "linux.resources.blockIO.%s: the host's %s controller has no weight file (%s%s%s)", field,
              h->v2 ? "io" : "blkio", a, b ? ", " : "", b ? b : "");
    return NULL;
}

/* BFQ's weight files exist whenever BFQ is built in, but a weight only acts
 * on devices whose scheduler is bfq: without one it would be a silent no-op.
 * dev NULL: any block device; else "MAJ:MIN". */
static int require_bfq(const char *dev, const char *field, struct keel_error **err)
{
    if (dev) {
        cleanup_free char *path = xasprintf("/sys/dev/block/%s/queue/scheduler", dev), *s = NULL;
        cleanup_error struct keel_error *ignored = NULL;
        if (file_read_whole(path, 4096, &s, NULL, &ignored) == 0 && strstr(s, "[bfq]"))
            return 0;
        return error_set(err, ENOTSUP,
                         "linux.resources.blockIO.%s: device %s does not use the BFQ I/O scheduler, so a BFQ "
                         "weight would have no effect (`%s`: %s)",
                         field, dev, path, s ? s : "missing");
    }
    cleanup_dir DIR *d = opendir("/sys/block");
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        cleanup_free char *path = xasprintf("/sys/block/%s/queue/scheduler", de->d_name), *s = NULL;
        cleanup_error struct keel_error *ignored = NULL;
        if (file_read_whole(path, 4096, &s, NULL, &ignored) == 0 && strstr(s, "[bfq]"))
            return 0;
    }
    return error_set(
        err, ENOTSUP,
        "linux.resources.blockIO.%s: no block device uses the BFQ I/O scheduler, so a BFQ weight "
        "would have no effect (and the CFQ blkio.weight does not exist on this kernel)",
        field);
}

struct throttle_kind {
    const char *field;
    const char *v1_file;
    const char *v2_key;
};

static const struct throttle_kind throttle_kinds[] = {
    {"throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps"},
    {"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps"},
    {"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops"},
    {"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops"},
};

static int apply_throttles(const struct cgroup_hier *h, const struct spec_block_io *b,
                           struct keel_error **err)
{
    const struct spec_throttle_device *lists[] = {b->throttle_read_bps, b->throttle_write_bps,
                                                  b->throttle_read_iops, b->throttle_write_iops};
    const size_t counts[] = {b->n_throttle_read_bps, b->n_throttle_write_bps, b->n_throttle_read_iops,
                             b->n_throttle_write_iops};
    for (size_t k = 0; k < 4; k++) {
        for (size_t i = 0; i < counts[k]; i++) {
            const struct spec_throttle_device *t = &lists[k][i];
            cleanup_free char *field = xasprintf("%s[%zu]", throttle_kinds[k].field, i);
            cleanup_free char *v = NULL;
            if (h->v2) {
                /* v1 uses 0 for "no limit"; v2 spells it max */
                if (t->rate == 0)
                    v = xasprintf("%" PRId64 ":%" PRId64 " %s=max", t->major, t->minor,
                                  throttle_kinds[k].v2_key);
                else
                    v = xasprintf("%" PRId64 ":%" PRId64 " %s=%" PRIu64, t->major, t->minor,
                                  throttle_kinds[k].v2_key, t->rate);
                if (write_field(h, "io.max", field, v, err) < 0)
                    return -1;
            } else {
                v = xasprintf("%" PRId64 ":%" PRId64 " %" PRIu64, t->major, t->minor, t->rate);
                if (!cgfs_exists(h->dir, throttle_kinds[k].v1_file))
                    return error_set(err, ENOTSUP, "linux.resources.blockIO.%s: the host has no `%s`", field,
                                     throttle_kinds[k].v1_file);
                if (write_field(h, throttle_kinds[k].v1_file, field, v, err) < 0)
                    return -1;
            }
        }
    }
    return 0;
}

static int apply_weights_v1(const struct cgroup_hier *h, const struct spec_block_io *b,
                            struct keel_error **err)
{
    if (b->weight.set && b->weight.value != 0) {
        const char *f = pick(h, "blkio.weight", "blkio.bfq.weight", "weight", err);
        if (!f || (strstr(f, "bfq") && require_bfq(NULL, "weight", err) < 0))
            return -1;
        cleanup_free char *v = xasprintf("%" PRIu64, b->weight.value);
        if (write_field(h, f, "weight", v, err) < 0)
            return -1;
    }
    if (b->leaf_weight.set && b->leaf_weight.value != 0) {
        const char *f = pick(h, "blkio.leaf_weight", NULL, "leafWeight", err);
        if (!f)
            return -1;
        cleanup_free char *v = xasprintf("%" PRIu64, b->leaf_weight.value);
        if (write_field(h, f, "leafWeight", v, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < b->n_weight_devices; i++) {
        const struct spec_weight_device *d = &b->weight_devices[i];
        cleanup_free char *field = xasprintf("weightDevice[%zu]", i);
        if (d->weight.set) {
            const char *f = pick(h, "blkio.weight_device", "blkio.bfq.weight_device", field, err);
            cleanup_free char *dev = xasprintf("%" PRId64 ":%" PRId64, d->major, d->minor);
            if (!f || (strstr(f, "bfq") && require_bfq(dev, field, err) < 0))
                return -1;
            cleanup_free char *v =
                xasprintf("%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor, d->weight.value);
            if (write_field(h, f, field, v, err) < 0)
                return -1;
        }
        if (d->leaf_weight.set) {
            const char *f = pick(h, "blkio.leaf_weight_device", NULL, field, err);
            if (!f)
                return -1;
            cleanup_free char *v =
                xasprintf("%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor, d->leaf_weight.value);
            if (write_field(h, f, field, v, err) < 0)
                return -1;
        }
    }
    return 0;
}

static int apply_weights_v2(const struct cgroup_hier *h, const struct spec_block_io *b,
                            struct keel_error **err)
{
    if (b->leaf_weight.set && b->leaf_weight.value != 0)
        return error_set(err, ENOTSUP, "linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weights");
    /* BFQ's io.bfq.weight takes blkio's 1..1000 range; io.weight 1..10000 */
    bool bfq = cgfs_exists(h->dir, "io.bfq.weight");
    if (b->weight.set && b->weight.value != 0) {
        const char *f = pick(h, "io.bfq.weight", "io.weight", "weight", err);
        if (!f || (bfq && require_bfq(NULL, "weight", err) < 0))
            return -1;
        cleanup_free char *v =
            bfq ? xasprintf("%" PRIu64, b->weight.value)
                : xasprintf("default %" PRIu64, cgroup_convert_blkio_weight(b->weight.value));
        if (write_field(h, f, "weight", v, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < b->n_weight_devices; i++) {
        const struct spec_weight_device *d = &b->weight_devices[i];
        cleanup_free char *field = xasprintf("weightDevice[%zu]", i);
        if (d->leaf_weight.set)
            return error_set(err, ENOTSUP,
                             "linux.resources.blockIO.%s.leafWeight: cgroup v2 has no leaf weights", field);
        if (!d->weight.set)
            continue;
        const char *f = pick(h, "io.bfq.weight", "io.weight", field, err);
        cleanup_free char *dev = xasprintf("%" PRId64 ":%" PRId64, d->major, d->minor);
        if (!f || (bfq && require_bfq(dev, field, err) < 0))
            return -1;
        uint64_t w = bfq ? d->weight.value : cgroup_convert_blkio_weight(d->weight.value);
        cleanup_free char *v = xasprintf("%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor, w);
        if (write_field(h, f, field, v, err) < 0)
            return -1;
    }
    return 0;
}

int cgroup_fs_apply_blkio(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err)
{
    const struct spec_block_io *b = &r->block_io;
    if (!r->has_block_io)
        return 0;
    bool any = (b->weight.set && b->weight.value) || (b->leaf_weight.set && b->leaf_weight.value) ||
               b->n_weight_devices || b->n_throttle_read_bps || b->n_throttle_write_bps ||
               b->n_throttle_read_iops || b->n_throttle_write_iops;
    if (!any)
        return 0;
    struct cgroup_hier *h = cgroup_find_hier(m, "blkio");
    if (!h)
        h = cgroup_find_hier(m, "io");
    if (!h)
        return error_set(
            err, ENOTSUP,
            "linux.resources.blockIO: neither the blkio (v1) nor the io (v2) cgroup controller is "
            "available on this host");
    if ((h->v2 ? apply_weights_v2(h, b, err) : apply_weights_v1(h, b, err)) < 0)
        return -1;
    return apply_throttles(h, b, err);
}
