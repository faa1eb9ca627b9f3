/* OCI image manifests and indexes, and their Docker schema 2 equivalents
 * (manifest list, image manifest), parsed into one set of types. Docker
 * schema 1 is recognised only to be refused with a clear message. */
#ifndef KEEL_HOIST_MANIFEST_H
#define KEEL_HOIST_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keel_error;

#define MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MEDIA_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MEDIA_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MEDIA_OCI_LAYER_NONDIST_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MEDIA_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MEDIA_DOCKER_LAYER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define MEDIA_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define MEDIA_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

#define ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"

/* Manifests and indexes bigger than this are refused (the distribution spec's
 * registries cap at 4 MiB as well). */
#define MANIFEST_MAX_SIZE (4 * 1024 * 1024)
/* Image configs are bigger in practice (history), but still bounded. */
#define CONFIG_MAX_SIZE (16 * 1024 * 1024)

struct oci_platform {
    char *os;
    char *architecture;
    char *variant;      /* NULL when absent */
    char *os_version;   /* NULL when absent */
    char **os_features; /* NULL-terminated, NULL when absent */
};

struct annotation {
    char *key;
    char *value;
};

struct oci_descriptor {
    char *media_type;
    char *digest;
    int64_t size;
    struct oci_platform *platform; /* NULL when absent */
    char **urls;                   /* NULL-terminated, NULL when absent */
    struct annotation *annotations;
    size_t n_annotations;
    char *artifact_type; /* NULL when absent */
};

struct oci_manifest {
    int schema_version;
    char *media_type; /* as declared in the document, or the one it was served as */
    struct oci_descriptor config;
    struct oci_descriptor *layers;
    size_t n_layers;
    struct annotation *annotations;
    size_t n_annotations;
    bool docker; /* Docker schema 2 rather than OCI */
};

struct oci_index {
    int schema_version;
    char *media_type;
    struct oci_descriptor *manifests;
    size_t n_manifests;
    struct annotation *annotations;
    size_t n_annotations;
    bool docker; /* Docker manifest list rather than OCI index */
};

enum manifest_kind { MANIFEST_KIND_MANIFEST, MANIFEST_KIND_INDEX };

/* Tell a manifest from an index. media_type is what the registry (or a
 * descriptor) said, may be NULL; the document's own mediaType is used too,
 * and failing both, its shape (a "manifests" or "layers" member).
 * Schema 1, unknown types and invalid JSON are errors. */
int manifest_detect_kind(const char *data, size_t len, const char *media_type, enum manifest_kind *kind,
                         struct keel_error **err);

/* Parse (media_type as for manifest_detect_kind). Every descriptor's digest
 * is validated; a media type it does not know is an error naming it. */
int manifest_parse(const char *data, size_t len, const char *media_type, struct oci_manifest **out,
                   struct keel_error **err);
int index_parse(const char *data, size_t len, const char *media_type, struct oci_index **out,
                struct keel_error **err);
void manifest_free(struct oci_manifest *m);
void index_free(struct oci_index *idx);
void manifest_freep(struct oci_manifest **m);
void index_freep(struct oci_index **idx);
#define cleanup_manifest __attribute__((cleanup(manifest_freep)))
#define cleanup_index __attribute__((cleanup(index_freep)))

/* Parse a descriptor object (used by the store's index.json). path names it in errors. */
struct yajl_val_s;
int descriptor_parse(struct yajl_val_s *v, const char *path, struct oci_descriptor *out,
                     struct keel_error **err);
void descriptor_clear(struct oci_descriptor *d);
/* Emit d as a JSON object into a yajl generator. */
struct yajl_gen_t;
void descriptor_gen(struct yajl_gen_t *g, const struct oci_descriptor *d);
void descriptor_copy(struct oci_descriptor *dst, const struct oci_descriptor *src);
const char *descriptor_annotation(const struct oci_descriptor *d, const char *key);
/* Layer media types hoist can unpack (tar, gzip, zstd; OCI and Docker). */
bool manifest_is_layer_media_type(const char *media_type);

#include "platform.h"

#endif
