/* Pulling an image into the store: the one call other commands (unpack,
 * run) make when the store lacks an image. */
#ifndef KEEL_HOIST_PULL_H
#define KEEL_HOIST_PULL_H

#include <stdbool.h>
#include <stdint.h>

#include "hoist.h"

struct keel_error;
struct oci_platform;
struct transfer_progress;

struct pull_options {
    const struct oci_platform *platform;      /* NULL = this host */
    bool all_platforms;                       /* fetch every manifest of an index */
    bool tls_verify;                          /* default true (set by pull_options_init) */
    bool tls_verify_set;                      /* --tls-verify given explicitly */
    const char *cert_dir;                     /* --cert-dir */
    const char *creds;                        /* --creds user[:pass] */
    const char *authfile;                     /* --authfile */
    bool quiet;                               /* no progress output */
    int max_parallel;                         /* layer downloads at once, 0 = default (6) */
    const struct transfer_progress *progress; /* per-blob progress callbacks, NULL = none */
    long stall_timeout_s; /* a transfer receiving nothing this long fails (and is retried), 0 = 60 */
    int retry_times;      /* retries per request after the first try, -1 = default (4) */
};

void pull_options_init(struct pull_options *o);
/* Initialise ro with the registry side of o (TLS, credentials, retries, timeout). */
struct registry_options;
void pull_registry_options(const struct pull_options *o, const struct keel_log *log,
                           struct registry_options *ro);

/* Pull ref (any reference form) into ctx->store and tag it with
 * ref_format(). *resolved_manifest_digest (optional) receives the digest of
 * the platform manifest selected (not of the index). */
int pull_image(struct hoist_context *ctx, const char *ref, const struct pull_options *opts,
               char **resolved_manifest_digest, struct keel_error **err);

/* The same into any OCI layout, tagged tag_name (NULL: ref_format(ref)). */
int pull_image_to(struct hoist_context *ctx, const char *layout_dir, const char *ref, const char *tag_name,
                  const struct pull_options *opts, char **resolved_manifest_digest, struct keel_error **err);

/* Push the image tagged tag (NULL: the layout's only image) in an OCI
 * layout to dest_ref; blobs the registry has are skipped, blobs found in
 * mount_from (a repository on the same registry, may be NULL) are mounted.
 * chunk_size > 0 uploads in chunks. *pushed_digest receives the digest of
 * the top manifest or index. */
int push_image(struct hoist_context *ctx, const char *layout_dir, const char *tag, const char *dest_ref,
               const struct pull_options *opts, const char *mount_from, int64_t chunk_size,
               char **pushed_digest, struct keel_error **err);

/* For callers holding a store: the manifest for ref_name in the store,
 * resolving an index to the platform (NULL = this host) manifest. */
struct store;
struct oci_manifest;
struct oci_descriptor;
int pull_resolve_stored(struct store *s, const char *ref_name, const struct oci_platform *platform,
                        struct oci_descriptor *manifest_desc, struct oci_manifest **manifest,
                        struct keel_error **err);

#endif
