/* Pushing an image from an OCI layout: blobs first (skipped when present,
 * mounted when another repository has them), then manifests, children of
 * an index before the index, the tag last. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "log.h"
#include "manifest.h"
#include "pull.h"
#include "ref.h"
#include "registry.h"
#include "store.h"
#include "xalloc.h"

struct push_job {
    struct registry_client *c;
    struct store *s;
    const struct hoist_context *ctx;
    const char *mount_from;
    int64_t chunk_size;
};

static int push_blob(struct push_job *p, const struct oci_descriptor *d, struct keel_error **err)
{
    bool exists = false;
    if (registry_blob_exists(p->c, d->digest, &exists, err) < 0)
        return -1;
    if (exists) {
        log_debug(&p->ctx->log, "blob %s already in the registry", d->digest);
        return 0;
    }
    if (p->mount_from) {
        bool mounted = false;
        if (registry_mount_blob(p->c, d->digest, p->mount_from, &mounted, err) < 0)
            return -1;
        if (mounted) {
            log_debug(&p->ctx->log, "blob %s mounted from %s", d->digest, p->mount_from);
            return 0;
        }
    }
    cleanup_close int fd = -1;
    if (store_open_blob(p->s, d->digest, &fd, err) < 0)
        return -1;
    return registry_push_blob(p->c, fd, d->digest, d->size, p->chunk_size, err);
}

/* Push the manifest or index desc and what it references; put it under reference. */
static int push_tree(struct push_job *p, const struct oci_descriptor *desc, const char *reference, int depth,
                     struct keel_error **err)
{
    cleanup_free char *data = NULL;
    size_t len = 0;
    if (store_read_blob(p->s, desc->digest, MANIFEST_MAX_SIZE, &data, &len, err) < 0)
        return -1;
    enum manifest_kind kind;
    if (manifest_detect_kind(data, len, desc->media_type, &kind, err) < 0)
        return error_prefix(err, "%s", desc->digest);
    cleanup_free char *mt = NULL;
    if (kind == MANIFEST_KIND_INDEX) {
        if (depth > 0)
            return error_set(err, 0, "index %s: nested indexes are not supported", desc->digest);
        cleanup_index struct oci_index *idx = NULL;
        if (index_parse(data, len, desc->media_type, &idx, err) < 0)
            return -1;
        for (size_t i = 0; i < idx->n_manifests; i++) {
            const struct oci_descriptor *m = &idx->manifests[i];
            if (!store_has_blob(p->s, m->digest))
                return error_set(err, ENOENT,
                                 "index %s references manifest %s, which is not in the layout (pull it with "
                                 "--all-platforms to push the whole index)",
                                 desc->digest, m->digest);
            if (push_tree(p, m, m->digest, depth + 1, err) < 0)
                return -1;
        }
        mt = xstrdup(idx->media_type);
    } else {
        cleanup_manifest struct oci_manifest *m = NULL;
        if (manifest_parse(data, len, desc->media_type, &m, err) < 0)
            return -1;
        if (push_blob(p, &m->config, err) < 0)
            return -1;
        for (size_t i = 0; i < m->n_layers; i++)
            if (push_blob(p, &m->layers[i], err) < 0)
                return -1;
        mt = xstrdup(m->media_type);
    }
    return registry_put_manifest(p->c, reference, data, len, mt, err);
}

int push_image(struct hoist_context *ctx, const char *layout_dir, const char *tag, const char *dest_ref,
               const struct pull_options *opts, const char *mount_from, int64_t chunk_size,
               char **pushed_digest, struct keel_error **err)
{
    cleanup_ref struct image_ref *ref = NULL;
    if (ref_parse(dest_ref, &ref, err) < 0)
        return -1;
    cleanup_store struct store *s = NULL;
    if (store_open(layout_dir, false, &s, err) < 0)
        return -1;
    struct oci_descriptor top = {0};
    if (tag) {
        if (store_resolve(s, tag, &top, err) < 0)
            return -1;
    } else {
        struct store_entry *e = NULL;
        size_t n = 0;
        if (store_list(s, &e, &n, err) < 0)
            return -1;
        if (n != 1) {
            store_entries_free(e, n);
            return error_set(err, 0, "OCI layout `%s` holds %zu images: name one with oci:DIR:TAG",
                             layout_dir, n);
        }
        descriptor_copy(&top, &e[0].desc);
        store_entries_free(e, n);
    }
    struct registry_options ro;
    pull_registry_options(opts, &ctx->log, &ro);
    ro.push = true;
    cleanup_registry struct registry_client *c = NULL;
    cleanup_free char *name = ref_format(ref);
    int r = registry_open(ref->registry, ref->repository, &ro, &c, err);
    if (r == 0) {
        struct push_job p = {.c = c, .s = s, .ctx = ctx, .mount_from = mount_from, .chunk_size = chunk_size};
        r = push_tree(&p, &top, ref_reference(ref), 0, err);
    }
    if (r == 0 && pushed_digest)
        *pushed_digest = xstrdup(top.digest);
    descriptor_clear(&top);
    if (r < 0)
        return error_prefix(err, "pushing to %s", name);
    return 0;
}
