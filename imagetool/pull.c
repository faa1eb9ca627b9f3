/* Pulling: manifest (or index, then the platform's manifest), config and
 * layers into the store, the manifest only after its blobs, the tag last;
 * so a crash at any point never leaves a tag pointing at missing content. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "log.h"
#include "manifest.h"
#include "pull.h"
#include "ref.h"
#include "registry.h"
#include "store.h"
#include "xalloc.h"

void pull_options_init(struct pull_options *o)
{
    memset(o, 0, sizeof(*o));
    o->tls_verify = true;
    o->retry_times = -1;
}

static void registry_options_from_pull(struct registry_options *ro, const struct pull_options *o,
                                       const struct hoist_context *ctx)
{
    registry_options_init(ro);
    ro->tls_verify = o->tls_verify;
    ro->cert_dir = o->cert_dir;
    ro->creds = o->creds;
    ro->authfile = o->authfile;
    ro->log = &ctx->log;
    if (o->retry_times >= 0)
        ro->max_attempts = o->retry_times + 1;
    ro->timeout_s = o->stall_timeout_s;
}

/* Fetch one image manifest (known by digest) and everything it references. */
static int pull_manifest(struct registry_client *c, struct store *s, const char *digest, const char *data,
                         size_t len, const char *media_type, const struct pull_options *opts,
                         struct oci_manifest **out, struct keel_error **err)
{
    cleanup_manifest struct oci_manifest *m = NULL;
    if (manifest_parse(data, len, media_type, &m, err) < 0)
        return error_prefix(err, "%s", digest);
    size_t n = m->n_layers + 1;
    struct oci_descriptor *all = xcalloc(n, sizeof(*all));
    all[0] = m->config;
    for (size_t i = 0; i < m->n_layers; i++)
        all[i + 1] = m->layers[i];
    /* Shallow copies: m owns the strings. */
    int r = registry_fetch_blobs(c, s, all, n, opts->max_parallel, opts->progress, err);
    free(all);
    if (r < 0)
        return -1;
    if (store_write_blob(s, digest, data, len, NULL, err) < 0)
        return -1;
    if (out)
        *out = steal_ptr(&m);
    return 0;
}

static int pull_from_index(struct registry_client *c, struct store *s, const struct oci_index *idx,
                           const struct pull_options *opts, char **selected, struct keel_error **err)
{
    size_t which = 0;
    if (!opts->all_platforms || opts->platform) {
        if (platform_select(idx, opts->platform, &which, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < idx->n_manifests; i++) {
        bool chosen = i == which;
        if (!chosen && !opts->all_platforms)
            continue;
        const struct oci_descriptor *d = &idx->manifests[i];
        cleanup_free char *data = NULL;
        cleanup_free char *mt = NULL;
        cleanup_free char *dg = NULL;
        size_t len = 0;
        if (registry_get_manifest(c, d->digest, &data, &len, &mt, &dg, err) < 0)
            return -1;
        if ((int64_t)len != d->size)
            return error_set(err, 0, "manifest %s: %zu bytes, the index says %lld", d->digest, len,
                             (long long)d->size);
        enum manifest_kind kind;
        if (manifest_detect_kind(data, len, d->media_type, &kind, err) < 0)
            return error_prefix(err, "%s", d->digest);
        if (kind != MANIFEST_KIND_MANIFEST)
            return error_set(err, 0, "manifest %s: nested indexes are not supported", d->digest);
        if (pull_manifest(c, s, d->digest, data, len, d->media_type, opts, NULL, err) < 0)
            return -1;
        if (chosen && selected)
            *selected = xstrdup(d->digest);
    }
    if (selected && *selected == NULL && idx->n_manifests > 0)
        *selected = xstrdup(idx->manifests[which].digest);
    return 0;
}

int pull_image(struct hoist_context *ctx, const char *refstr, const struct pull_options *opts,
               char **resolved_manifest_digest, struct keel_error **err)
{
    return pull_image_to(ctx, ctx->store, refstr, NULL, opts, resolved_manifest_digest, err);
}

int pull_image_to(struct hoist_context *ctx, const char *layout_dir, const char *refstr, const char *tag_name,
                  const struct pull_options *opts, char **resolved_manifest_digest, struct keel_error **err)
{
    cleanup_ref struct image_ref *ref = NULL;
    if (ref_parse(refstr, &ref, err) < 0)
        return -1;
    cleanup_free char *ref_name = ref_format(ref);
    cleanup_store struct store *s = NULL;
    if (store_open(layout_dir, true, &s, err) < 0)
        return -1;
    struct registry_options ro;
    registry_options_from_pull(&ro, opts, ctx);
    cleanup_registry struct registry_client *c = NULL;
    if (registry_open(ref->registry, ref->repository, &ro, &c, err) < 0)
        return error_prefix(err, "pulling %s", ref_name);
    cleanup_free char *data = NULL;
    cleanup_free char *mt = NULL;
    cleanup_free char *digest = NULL;
    size_t len = 0;
    if (registry_get_manifest(c, ref_reference(ref), &data, &len, &mt, &digest, err) < 0)
        return error_prefix(err, "pulling %s", ref_name);
    enum manifest_kind kind;
    if (manifest_detect_kind(data, len, mt, &kind, err) < 0)
        return error_prefix(err, "pulling %s", ref_name);
    cleanup_free char *selected = NULL;
    struct oci_descriptor top = {0};
    if (kind == MANIFEST_KIND_INDEX) {
        cleanup_index struct oci_index *idx = NULL;
        if (index_parse(data, len, mt, &idx, err) < 0 ||
            pull_from_index(c, s, idx, opts, &selected, err) < 0 ||
            store_write_blob(s, digest, data, len, NULL, err) < 0)
            return error_prefix(err, "pulling %s", ref_name);
        top.media_type = xstrdup(idx->media_type);
    } else {
        cleanup_manifest struct oci_manifest *m = NULL;
        if (pull_manifest(c, s, digest, data, len, mt, opts, &m, err) < 0)
            return error_prefix(err, "pulling %s", ref_name);
        selected = xstrdup(digest);
        top.media_type = xstrdup(m->media_type);
    }
    top.digest = xstrdup(digest);
    top.size = (int64_t)len;
    int r = store_tag(s, tag_name ? tag_name : ref_name, &top, err);
    descriptor_clear(&top);
    if (r < 0)
        return error_prefix(err, "pulling %s", ref_name);
    log_debug(&ctx->log, "pulled %s: %s", ref_name, selected);
    if (resolved_manifest_digest)
        *resolved_manifest_digest = steal_ptr(&selected);
    return 0;
}

int pull_resolve_stored(struct store *s, const char *ref_name, const struct oci_platform *platform,
                        struct oci_descriptor *manifest_desc, struct oci_manifest **manifest,
                        struct keel_error **err)
{
    struct oci_descriptor top = {0};
    if (store_resolve(s, ref_name, &top, err) < 0)
        return -1;
    cleanup_free char *data = NULL;
    size_t len = 0;
    int r = store_read_blob(s, top.digest, MANIFEST_MAX_SIZE, &data, &len, err);
    enum manifest_kind kind = MANIFEST_KIND_MANIFEST;
    if (r == 0)
        r = manifest_detect_kind(data, len, top.media_type, &kind, err);
    if (r == 0 && kind == MANIFEST_KIND_INDEX) {
        cleanup_index struct oci_index *idx = NULL;
        size_t which = 0;
        r = index_parse(data, len, top.media_type, &idx, err);
        if (r == 0)
            r = platform_select(idx, platform, &which, err);
        if (r == 0) {
            descriptor_clear(&top);
            descriptor_copy(&top, &idx->manifests[which]);
            free(data);
            data = NULL;
            r = store_read_blob(s, top.digest, MANIFEST_MAX_SIZE, &data, &len, err);
            if (r < 0 && err && *err && (*err)->errnum == ENOENT)
                r = error_set(err, ENOENT, "%s: the manifest for this platform (%s) was not pulled", ref_name,
                              top.digest);
        }
    }
    if (r == 0)
        r = manifest_parse(data, len, top.media_type, manifest, err);
    if (r < 0) {
        descriptor_clear(&top);
        return error_prefix(err, "%s", ref_name);
    }
    if (manifest_desc)
        *manifest_desc = top;
    else
        descriptor_clear(&top);
    return 0;
}
