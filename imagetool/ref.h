/* Image references as docker and podman read them:
 *   busybox                      -> docker.io/library/busybox:latest
 *   quay.io/org/app:1.2          -> quay.io/org/app:1.2
 *   localhost:5000/app@sha256:.. -> localhost:5000/app@sha256:..
 *   app:tag@sha256:..            -> tag kept, digest wins when fetching
 * The first component is a registry host when it contains '.' or ':' or is
 * "localhost"; otherwise the registry is docker.io, where a one-component
 * repository lives under "library/". */
#ifndef KEEL_HOIST_REF_H
#define KEEL_HOIST_REF_H

#include <stdbool.h>

struct keel_error;

struct image_ref {
    char *registry;   /* "docker.io", "127.0.0.1:5000" */
    char *repository; /* "library/busybox" */
    char *tag;        /* NULL when only a digest was given */
    char *digest;     /* "sha256:..." or NULL */
};

#define REF_DEFAULT_REGISTRY "docker.io"
#define REF_DEFAULT_TAG "latest"

/* Parse and normalise s; a reference without tag or digest gets "latest".
 * An invalid reference is an error saying which part is wrong and why. */
int ref_parse(const char *s, struct image_ref **out, struct keel_error **err);
/* Parse "REGISTRY/REPO" without tag or digest (for `hoist tags`). */
int ref_parse_repository(const char *s, struct image_ref **out, struct keel_error **err);
/* Canonical "registry/repository[:tag][@digest]": the store's ref name. */
char *ref_format(const struct image_ref *r);
/* "registry/repository" only. */
char *ref_format_repository(const struct image_ref *r);
/* What to ask the registry for: the digest when there is one, else the tag. */
const char *ref_reference(const struct image_ref *r);
/* The host the registry API is really served from ("registry-1.docker.io" for docker.io). */
const char *ref_api_host(const struct image_ref *r);
/* True for localhost, 127.0.0.0/8 and ::1 registries (plain HTTP allowed, as podman does). */
bool ref_is_local_registry(const char *registry);
struct image_ref *ref_dup(const struct image_ref *r);
void ref_free(struct image_ref *r);
void ref_freep(struct image_ref **r);
#define cleanup_ref __attribute__((cleanup(ref_freep)))

#endif
