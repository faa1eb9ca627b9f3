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

void pull_registry_options(const struct pull_options *o, const struct keel_log *log,
                           struct registry_options *ro)
{
    registry_options_init(ro);
    ro->tls_verify = o->tls_verify;
    ro->cert_dir = o->cert_dir;
    ro->creds = o->creds;
    ro->authfile = o->authfile;
    ro->log = log;
    if (o->retry_times >= 0)
        ro->max_attempts = o->retry_times + 1;
    ro->timeout_s = o->stall_timeout_s;
}

static char *xmemdup_str(const char *data, size_t len)
{
    char *p = xmalloc(len + 1);
    memcpy(p, data, len);
    p[len] = '\0';
    return p;
}

/* Image manifests of one pull, fetched first so that every blob of every
 * platform can download in one parallel batch. */
struct pull_batch {
    struct {
        char *digest;
        char *data;
        size_t len;
        struct oci_manifest *m;
    } items[256];
    size_t n;
};

static void pull_batch_clear(struct pull_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->items[i].digest);
        free(b->items[i].data);
        manifest_free(b->items[i].m);
    }
    b->n = 0;
}

/* Takes ownership of data, also on failure. */
static int pull_batch_add(struct pull_batch *b, const char *digest, char *data, size_t len,
                          const char *media_type, struct keel_error **err)
{
    if (b->n == sizeof(b->items) / sizeof(b->items[0])) {
        free(data);
        return error_set(err, 0, "an index with more than %zu manifests is not supported",
                         sizeof(b->items) / sizeof(b->items[0]));
    }
    struct oci_manifest *m = NULL;
    if (manifest_parse(data, len, media_type, &m, err) < 0) {
        free(data);
        return error_prefix(err, "%s", digest);
    }
    b->items[b->n].digest = xstrdup(digest);
    b->items[b->n].data = data;
    b->items[b->n].len = len;
    b->items[b->n].m = m;
    b->n++;
    return 0;
}

/* Download every config and layer of the batch, then store the manifests. */
static int pull_batch_fetch(struct registry_client *c, struct store *s, struct pull_batch *b,
                            const struct pull_options *opts, struct keel_error **err)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        n += b->items[i].m->n_layers + 1;
    /* Shallow copies: the manifests own the strings. */
    struct oci_descriptor *all = xcalloc(n ? n : 1, sizeof(*all));
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        all[k++] = b->items[i].m->config;
        for (size_t j = 0; j < b->items[i].m->n_layers; j++)
            all[k++] = b->items[i].m->layers[j];
    }
    int r = registry_fetch_blobs(c, s, all, n, opts->max_parallel, opts->progress, err);
    free(all);
    for (size_t i = 0; r == 0 && i < b->n; i++)
        r = store_write_blob(s, b->items[i].digest, b->items[i].data, b->items[i].len, NULL, err);
    return r;
}

/* The manifest a descriptor of an index names: from the store when it is
 * there already (verified on read), else from the registry. */
static int pull_child_manifest(struct registry_client *c, struct store *s, const struct oci_descriptor *d,
                               char **data, size_t *len, struct keel_error **err)
{
    if (store_has_blob(s, d->digest) &&
        store_read_blob(s, d->digest, MANIFEST_MAX_SIZE, data, len, NULL) == 0)
        return 0;
    cleanup_free char *mt = NULL;
    cleanup_free char *dg = NULL;
    if (registry_get_manifest(c, d->digest, data, len, &mt, &dg, err) < 0)
        return -1;
    if ((int64_t)*len != d->size) {
        free(*data);
        *data = NULL;
        return error_set(err, 0, "manifest %s: %zu bytes, the index says %lld", d->digest, *len,
                         (long long)d->size);
    }
    return 0;
}

static int pull_from_index(struct registry_client *c, struct store *s, const struct oci_index *idx,
                           const struct pull_options *opts, char **selected, struct keel_error **err)
{
    size_t which = 0;
    if (!opts->all_platforms || opts->platform) {
        if (platform_select(idx, opts->platform, &which, err) < 0)
            return -1;
    } else if (platform_select(idx, NULL, &which, NULL) < 0) {
        which = 0; /* all platforms, none of them this host's: report the first */
    }
    struct pull_batch *b = xzalloc(sizeof(*b));
    int r = 0;
    for (size_t i = 0; r == 0 && i < idx->n_manifests; i++) {
        if (i != which && !opts->all_platforms)
            continue;
        const struct oci_descriptor *d = &idx->manifests[i];
        char *data = NULL;
        size_t len = 0;
        r = pull_child_manifest(c, s, d, &data, &len, err);
        enum manifest_kind kind = MANIFEST_KIND_MANIFEST;
        if (r == 0 && manifest_detect_kind(data, len, d->media_type, &kind, err) < 0)
            r = error_prefix(err, "%s", d->digest);
        if (r == 0 && kind != MANIFEST_KIND_MANIFEST)
            r = error_set(err, 0, "manifest %s: nested indexes are not supported", d->digest);
        if (r == 0)
            r = pull_batch_add(b, d->digest, steal_ptr(&data), len, d->media_type, err);
        free(data);
    }
    if (r == 0)
        r = pull_batch_fetch(c, s, b, opts, err);
    pull_batch_clear(b);
    free(b);
    if (r == 0 && selected && idx->n_manifests > 0)
        *selected = xstrdup(idx->manifests[which].digest);
    return r;
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
    pull_registry_options(opts, &ctx->log, &ro);
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
        struct pull_batch *b = xzalloc(sizeof(*b));
        int r = pull_batch_add(b, digest, xmemdup_str(data, len), len, mt, err);
        if (r == 0)
            r = pull_batch_fetch(c, s, b, opts, err);
        if (r == 0)
            top.media_type = xstrdup(b->items[0].m->media_type);
        pull_batch_clear(b);
        free(b);
        if (r < 0)
            return error_prefix(err, "pulling %s", ref_name);
        selected = xstrdup(digest);
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
