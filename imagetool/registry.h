/* A client of one repository on an OCI distribution / Docker registry v2
 * (libcurl): manifests, blobs, tags, with the auth challenge handled inside.
 *
 * Scheme: https, verified against the system CAs plus certs.d. A localhost
 * registry, or tls_verify=false, may fall back to plain http (as podman
 * does); with tls_verify=false https certificates are not checked. */
#ifndef KEEL_HOIST_REGISTRY_H
#define KEEL_HOIST_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keel_error;
struct keel_log;
struct store;
struct oci_descriptor;

struct registry_options {
    bool tls_verify;      /* default true */
    const char *cert_dir; /* --cert-dir, replaces the certs.d lookup */
    const char *creds;    /* "user:pass" or "user" (empty password) */
    const char *authfile; /* --authfile */
    const char *username; /* alternatively user and password given apart (login) */
    const char *password;
    bool anonymous;             /* ignore stored credentials */
    const struct keel_log *log; /* debug logging, may be NULL */
    long timeout_s;             /* stall timeout (no byte for this long), 0 = 60 */
    int max_attempts;           /* per request, 0 = 5 */
    bool push;                  /* ask for push access too */
};

void registry_options_init(struct registry_options *o);

struct registry_client;

/* Connect to registry (host[:port]) for repository ("library/busybox").
 * Talks to /v2/ once to choose http/https and to learn the auth scheme. */
int registry_open(const char *registry, const char *repository, const struct registry_options *opts,
                  struct registry_client **out, struct keel_error **err);
void registry_close(struct registry_client *c);
void registry_closep(struct registry_client **c);
#define cleanup_registry __attribute__((cleanup(registry_closep)))

/* "https://host:port" the client settled on. */
const char *registry_base_url(const struct registry_client *c);

/* GET /v2/REPO/manifests/REFERENCE with the Accept list of every type hoist
 * reads. The body is capped (MANIFEST_MAX_SIZE). When reference is a
 * digest, the body is verified against it. *digest receives the digest of
 * the body (computed with the algorithm of reference when it is one). */
int registry_get_manifest(struct registry_client *c, const char *reference, char **data, size_t *len,
                          char **media_type, char **digest, struct keel_error **err);

/* GET a blob into memory (configs), verified, at most max bytes. */
int registry_get_blob(struct registry_client *c, const struct oci_descriptor *d, size_t max, char **data,
                      size_t *len, struct keel_error **err);

/* Progress of blob transfers (called from the download loop). */
struct transfer_progress {
    void (*start)(void *user, const struct oci_descriptor *d, int64_t resumed_from);
    void (*update)(void *user, const struct oci_descriptor *d, int64_t done, int64_t total);
    void (*done)(void *user, const struct oci_descriptor *d, bool skipped, double seconds);
    void *user;
};

/* Download every descriptor into the store (layers, in parallel, at most
 * max_parallel at once), each verified while streaming and moved into
 * blobs/ only when its digest and size match. Blobs already there are not
 * fetched; partial downloads are resumed with Range; 5xx/429/network errors
 * are retried with backoff. */
int registry_fetch_blobs(struct registry_client *c, struct store *s, const struct oci_descriptor *descs,
                         size_t n, int max_parallel, const struct transfer_progress *progress,
                         struct keel_error **err);

/* Every tag of the repository, following Link pagination. */
int registry_list_tags(struct registry_client *c, char ***tags, struct keel_error **err);

/* Push side (registry_push.c). */
int registry_blob_exists(struct registry_client *c, const char *digest, bool *exists,
                         struct keel_error **err);
/* Ask the registry to link digest from repository `from`; *mounted false
 * when it would not (the caller then uploads). */
int registry_mount_blob(struct registry_client *c, const char *digest, const char *from, bool *mounted,
                        struct keel_error **err);
/* Upload size bytes of fd: one PUT when chunk_size is 0, else PATCH chunks
 * of chunk_size bytes and a closing PUT. */
int registry_push_blob(struct registry_client *c, int fd, const char *digest, int64_t size,
                       int64_t chunk_size, struct keel_error **err);
int registry_put_manifest(struct registry_client *c, const char *reference, const char *data, size_t len,
                          const char *media_type, struct keel_error **err);

/* Check that the configured credentials are accepted (login). */
int registry_check_login(struct registry_client *c, struct keel_error **err);

#endif
