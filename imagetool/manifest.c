/* OCI / Docker schema 2 manifests and indexes into one set of types. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "digest.h"
#include "error.h"
#include "json.h"
#include "manifest.h"
#include "xalloc.h"

static bool media_is_manifest(const char *mt)
{
    return strcmp(mt, MEDIA_OCI_MANIFEST) == 0 || strcmp(mt, MEDIA_DOCKER_MANIFEST) == 0;
}

static bool media_is_index(const char *mt)
{
    return strcmp(mt, MEDIA_OCI_INDEX) == 0 || strcmp(mt, MEDIA_DOCKER_LIST) == 0;
}

static bool media_is_schema1(const char *mt)
{
    return strcmp(mt, MEDIA_DOCKER_SCHEMA1) == 0 || strcmp(mt, MEDIA_DOCKER_SCHEMA1_SIGNED) == 0;
}

bool manifest_is_layer_media_type(const char *mt)
{
    static const char *const known[] = {
        MEDIA_OCI_LAYER,
        MEDIA_OCI_LAYER_GZIP,
        MEDIA_OCI_LAYER_ZSTD,
        MEDIA_OCI_LAYER_NONDIST_GZIP,
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        MEDIA_DOCKER_LAYER_GZIP,
        MEDIA_DOCKER_LAYER_FOREIGN,
        NULL,
    };
    for (size_t i = 0; known[i]; i++)
        if (strcmp(mt, known[i]) == 0)
            return true;
    return false;
}

/* Strip parameters ("; charset=utf-8") a registry may add to Content-Type. */
static char *media_type_base(const char *mt)
{
    size_t n = strcspn(mt, "; \t");
    return xstrndup(mt, n);
}

static void annotations_free(struct annotation *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].key);
        free(a[i].value);
    }
    free(a);
}

static int annotations_parse(yajl_val v, const char *path, struct annotation **out, size_t *n,
                             struct keel_error **err)
{
    *out = NULL;
    *n = 0;
    if (v == NULL)
        return 0;
    if (json_expect_object(v, path, err) < 0)
        return -1;
    size_t len = v->u.object.len;
    struct annotation *a = xcalloc(len ? len : 1, sizeof(*a));
    for (size_t i = 0; i < len; i++) {
        yajl_val val = v->u.object.values[i];
        if (!YAJL_IS_STRING(val)) {
            annotations_free(a, i);
            return error_set(err, 0, "%s.%s: expected a string, got %s", path, v->u.object.keys[i],
                             json_type_name(val));
        }
        a[i].key = xstrdup(v->u.object.keys[i]);
        a[i].value = xstrdup(val->u.string);
    }
    *out = a;
    *n = len;
    return 0;
}

static int opt_string(yajl_val obj, const char *key, const char *path, char **out, struct keel_error **err)
{
    yajl_val v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL)
        return 0;
    cleanup_free char *p = xasprintf("%s.%s", path, key);
    return json_get_string(v, p, out, err);
}

static int req_string(yajl_val obj, const char *key, const char *path, char **out, struct keel_error **err)
{
    yajl_val v = json_object_get(obj, key);
    if (v == NULL)
        return error_set(err, 0, "%s.%s: missing", path, key);
    cleanup_free char *p = xasprintf("%s.%s", path, key);
    return json_get_string(v, p, out, err);
}

static int platform_parse_json(yajl_val v, const char *path, struct oci_platform **out,
                               struct keel_error **err)
{
    if (json_expect_object(v, path, err) < 0)
        return -1;
    cleanup_platform struct oci_platform *p = xzalloc(sizeof(*p));
    if (req_string(v, "os", path, &p->os, err) < 0 ||
        req_string(v, "architecture", path, &p->architecture, err) < 0 ||
        opt_string(v, "variant", path, &p->variant, err) < 0 ||
        opt_string(v, "os.version", path, &p->os_version, err) < 0)
        return -1;
    yajl_val f = json_object_get(v, "os.features");
    if (f) {
        cleanup_free char *fp = xasprintf("%s.os.features", path);
        if (json_get_strv(f, fp, &p->os_features, err) < 0)
            return -1;
    }
    *out = steal_ptr(&p);
    return 0;
}

int descriptor_parse(struct yajl_val_s *v, const char *path, struct oci_descriptor *out,
                     struct keel_error **err)
{
    memset(out, 0, sizeof(*out));
    if (json_expect_object(v, path, err) < 0)
        return -1;
    struct oci_descriptor d = {0};
    int r = 0;
    if (req_string(v, "mediaType", path, &d.media_type, err) < 0 ||
        req_string(v, "digest", path, &d.digest, err) < 0)
        r = -1;
    if (r == 0 && digest_parse(d.digest, NULL, NULL, err) < 0)
        r = error_prefix(err, "%s.digest", path);
    if (r == 0) {
        yajl_val size = json_object_get(v, "size");
        cleanup_free char *sp = xasprintf("%s.size", path);
        if (size == NULL)
            r = error_set(err, 0, "%s: missing", sp);
        else if (json_get_int64(size, sp, &d.size, err) < 0)
            r = -1;
        else if (d.size < 0)
            r = error_set(err, 0, "%s: %" PRId64 " is negative", sp, d.size);
    }
    if (r == 0) {
        yajl_val pl = json_object_get(v, "platform");
        cleanup_free char *pp = xasprintf("%s.platform", path);
        if (pl && platform_parse_json(pl, pp, &d.platform, err) < 0)
            r = -1;
    }
    if (r == 0) {
        yajl_val urls = json_object_get(v, "urls");
        cleanup_free char *up = xasprintf("%s.urls", path);
        if (urls && json_get_strv(urls, up, &d.urls, err) < 0)
            r = -1;
    }
    if (r == 0) {
        cleanup_free char *ap = xasprintf("%s.annotations", path);
        if (annotations_parse(json_object_get(v, "annotations"), ap, &d.annotations, &d.n_annotations, err) <
            0)
            r = -1;
    }
    if (r == 0 && opt_string(v, "artifactType", path, &d.artifact_type, err) < 0)
        r = -1;
    if (r < 0) {
        descriptor_clear(&d);
        return -1;
    }
    *out = d;
    return 0;
}

void descriptor_clear(struct oci_descriptor *d)
{
    free(d->media_type);
    free(d->digest);
    platform_free(d->platform);
    strv_free(d->urls);
    annotations_free(d->annotations, d->n_annotations);
    free(d->artifact_type);
    memset(d, 0, sizeof(*d));
}

void descriptor_copy(struct oci_descriptor *dst, const struct oci_descriptor *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->media_type = src->media_type ? xstrdup(src->media_type) : NULL;
    dst->digest = src->digest ? xstrdup(src->digest) : NULL;
    dst->size = src->size;
    dst->platform = src->platform ? platform_dup(src->platform) : NULL;
    if (src->urls) {
        size_t n = strv_len(src->urls);
        dst->urls = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            dst->urls[i] = xstrdup(src->urls[i]);
    }
    if (src->n_annotations) {
        dst->annotations = xcalloc(src->n_annotations, sizeof(*dst->annotations));
        for (size_t i = 0; i < src->n_annotations; i++) {
            dst->annotations[i].key = xstrdup(src->annotations[i].key);
            dst->annotations[i].value = xstrdup(src->annotations[i].value);
        }
        dst->n_annotations = src->n_annotations;
    }
    dst->artifact_type = src->artifact_type ? xstrdup(src->artifact_type) : NULL;
}

const char *descriptor_annotation(const struct oci_descriptor *d, const char *key)
{
    for (size_t i = 0; i < d->n_annotations; i++)
        if (strcmp(d->annotations[i].key, key) == 0)
            return d->annotations[i].value;
    return NULL;
}

/* The media type that decides: the document's own, else what it was served
 * as. Both present and different is an error: a registry or a file lies. */
static int manifest_effective_type(yajl_val root, const char *served, char **out, struct keel_error **err)
{
    cleanup_free char *declared = NULL;
    if (opt_string(root, "mediaType", "manifest", &declared, err) < 0)
        return -1;
    cleanup_free char *served_base = served && served[0] ? media_type_base(served) : NULL;
    /* Registries serve unknown documents as application/json or octet-stream. */
    if (served_base &&
        (strcmp(served_base, "application/json") == 0 ||
         strcmp(served_base, "application/octet-stream") == 0 || strcmp(served_base, "text/plain") == 0))
        served_base = (free(served_base), NULL);
    if (declared && served_base && strcmp(declared, served_base) != 0 && !media_is_schema1(served_base))
        return error_set(err, 0, "manifest: mediaType \"%s\" differs from the type it was served as (\"%s\")",
                         declared, served_base);
    if (declared)
        *out = steal_ptr(&declared);
    else if (served_base)
        *out = steal_ptr(&served_base);
    else
        *out = NULL;
    return 0;
}

static int manifest_kind_of(yajl_val root, const char *served, enum manifest_kind *kind, char **type,
                            struct keel_error **err)
{
    if (json_expect_object(root, "manifest", err) < 0)
        return -1;
    yajl_val sv = json_object_get(root, "schemaVersion");
    int64_t schema = 0;
    if (sv == NULL)
        return error_set(err, 0, "manifest.schemaVersion: missing");
    if (json_get_int64(sv, "manifest.schemaVersion", &schema, err) < 0)
        return -1;
    cleanup_free char *mt = NULL;
    if (schema == 1 || (served && media_is_schema1(served)))
        return error_set(err, 0,
                         "manifest: Docker schema 1 manifests (%s) are not supported: the image is too "
                         "old; push it again with a current docker or skopeo",
                         MEDIA_DOCKER_SCHEMA1);
    if (schema != 2)
        return error_set(err, 0, "manifest.schemaVersion: %" PRId64 " is not supported (expected 2)", schema);
    if (manifest_effective_type(root, served, &mt, err) < 0)
        return -1;
    if (mt == NULL) {
        /* OCI allows mediaType to be absent: fall back to the shape. */
        if (json_object_get(root, "manifests"))
            mt = xstrdup(MEDIA_OCI_INDEX);
        else if (json_object_get(root, "layers") || json_object_get(root, "config"))
            mt = xstrdup(MEDIA_OCI_MANIFEST);
        else
            return error_set(err, 0, "manifest: no mediaType and neither \"manifests\" nor \"layers\"");
    }
    if (media_is_schema1(mt))
        return error_set(err, 0, "manifest: Docker schema 1 manifests (%s) are not supported", mt);
    if (media_is_manifest(mt))
        *kind = MANIFEST_KIND_MANIFEST;
    else if (media_is_index(mt))
        *kind = MANIFEST_KIND_INDEX;
    else
        return error_set(err, 0, "manifest: unknown media type \"%s\"", mt);
    if (type)
        *type = steal_ptr(&mt);
    return 0;
}

/* The size limit and the JSON parse every document goes through; what
 * ("manifest", "index") names it in errors. */
static int manifest_doc_load(const char *data, size_t len, const char *what, yajl_val *root,
                             struct keel_error **err)
{
    if (len > MANIFEST_MAX_SIZE)
        return error_set(err, 0, "%s: %zu bytes is more than the %d byte limit", what, len,
                         MANIFEST_MAX_SIZE);
    return json_parse(data, len, what, root, err);
}

/* Load a document that must be of kind want; *type receives its media type. */
static int manifest_doc_load_kind(const char *data, size_t len, const char *media_type,
                                  enum manifest_kind want, yajl_val *root, char **type,
                                  struct keel_error **err)
{
    const char *what = want == MANIFEST_KIND_INDEX ? "index" : "manifest";
    if (manifest_doc_load(data, len, what, root, err) < 0)
        return -1;
    enum manifest_kind kind;
    cleanup_free char *base = media_type ? media_type_base(media_type) : NULL;
    if (manifest_kind_of(*root, base, &kind, type, err) < 0)
        return -1;
    if (kind == want)
        return 0;
    if (want == MANIFEST_KIND_INDEX)
        return error_set(err, 0, "index: expected an image index, got a manifest (%s)", *type);
    return error_set(err, 0, "manifest: expected an image manifest, got an index (%s)", *type);
}

int manifest_detect_kind(const char *data, size_t len, const char *media_type, enum manifest_kind *kind,
                         struct keel_error **err)
{
    cleanup_free char *base = media_type ? media_type_base(media_type) : NULL;
    if (base && media_is_schema1(base))
        return error_set(err, 0,
                         "manifest: Docker schema 1 manifests (%s) are not supported: the image is too "
                         "old; push it again with a current docker or skopeo",
                         base);
    cleanup_json yajl_val root = NULL;
    if (manifest_doc_load(data, len, "manifest", &root, err) < 0)
        return -1;
    return manifest_kind_of(root, base, kind, NULL, err);
}

static int descriptors_parse(yajl_val arr, const char *path, struct oci_descriptor **out, size_t *n,
                             struct keel_error **err)
{
    *out = NULL;
    *n = 0;
    if (json_expect_array(arr, path, err) < 0)
        return -1;
    size_t len = arr->u.array.len;
    struct oci_descriptor *d = xcalloc(len ? len : 1, sizeof(*d));
    for (size_t i = 0; i < len; i++) {
        cleanup_free char *p = xasprintf("%s[%zu]", path, i);
        if (descriptor_parse(arr->u.array.values[i], p, &d[i], err) < 0) {
            for (size_t j = 0; j < i; j++)
                descriptor_clear(&d[j]);
            free(d);
            return -1;
        }
    }
    *out = d;
    *n = len;
    return 0;
}

int manifest_parse(const char *data, size_t len, const char *media_type, struct oci_manifest **out,
                   struct keel_error **err)
{
    cleanup_json yajl_val root = NULL;
    cleanup_free char *mt = NULL;
    if (manifest_doc_load_kind(data, len, media_type, MANIFEST_KIND_MANIFEST, &root, &mt, err) < 0)
        return -1;
    cleanup_manifest struct oci_manifest *m = xzalloc(sizeof(*m));
    m->schema_version = 2;
    m->docker = strcmp(mt, MEDIA_DOCKER_MANIFEST) == 0;
    m->media_type = steal_ptr(&mt);
    yajl_val cfg = json_object_get(root, "config");
    if (cfg == NULL)
        return error_set(err, 0, "manifest.config: missing");
    if (descriptor_parse(cfg, "manifest.config", &m->config, err) < 0)
        return -1;
    yajl_val layers = json_object_get(root, "layers");
    if (layers == NULL)
        return error_set(err, 0, "manifest.layers: missing");
    if (descriptors_parse(layers, "manifest.layers", &m->layers, &m->n_layers, err) < 0)
        return -1;
    if (annotations_parse(json_object_get(root, "annotations"), "manifest.annotations", &m->annotations,
                          &m->n_annotations, err) < 0)
        return -1;
    *out = steal_ptr(&m);
    return 0;
}

int index_parse(const char *data, size_t len, const char *media_type, struct oci_index **out,
                struct keel_error **err)
{
    cleanup_json yajl_val root = NULL;
    cleanup_free char *mt = NULL;
    if (manifest_doc_load_kind(data, len, media_type, MANIFEST_KIND_INDEX, &root, &mt, err) < 0)
        return -1;
    cleanup_index struct oci_index *idx = xzalloc(sizeof(*idx));
    idx->schema_version = 2;
    idx->docker = strcmp(mt, MEDIA_DOCKER_LIST) == 0;
    idx->media_type = steal_ptr(&mt);
    yajl_val ms = json_object_get(root, "manifests");
    if (ms == NULL)
        return error_set(err, 0, "index.manifests: missing");
    if (descriptors_parse(ms, "index.manifests", &idx->manifests, &idx->n_manifests, err) < 0)
        return -1;
    if (annotations_parse(json_object_get(root, "annotations"), "index.annotations", &idx->annotations,
                          &idx->n_annotations, err) < 0)
        return -1;
    *out = steal_ptr(&idx);
    return 0;
}

void manifest_free(struct oci_manifest *m)
{
    if (m == NULL)
        return;
    free(m->media_type);
    descriptor_clear(&m->config);
    for (size_t i = 0; i < m->n_layers; i++)
        descriptor_clear(&m->layers[i]);
    free(m->layers);
    annotations_free(m->annotations, m->n_annotations);
    free(m);
}

void index_free(struct oci_index *idx)
{
    if (idx == NULL)
        return;
    free(idx->media_type);
    for (size_t i = 0; i < idx->n_manifests; i++)
        descriptor_clear(&idx->manifests[i]);
    free(idx->manifests);
    annotations_free(idx->annotations, idx->n_annotations);
    free(idx);
}

void manifest_freep(struct oci_manifest **m)
{
    manifest_free(*m);
    *m = NULL;
}

void index_freep(struct oci_index **idx)
{
    index_free(*idx);
    *idx = NULL;
}

static void platform_gen(yajl_gen g, const struct oci_platform *p)
{
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "architecture", p->architecture);
    json_gen_kv_string(g, "os", p->os);
    if (p->os_version)
        json_gen_kv_string(g, "os.version", p->os_version);
    if (p->os_features)
        json_gen_kv_strv(g, "os.features", (const char *const *)p->os_features);
    if (p->variant)
        json_gen_kv_string(g, "variant", p->variant);
    yajl_gen_map_close(g);
}

void descriptor_gen(struct yajl_gen_t *g, const struct oci_descriptor *d)
{
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "mediaType", d->media_type);
    json_gen_kv_string(g, "digest", d->digest);
    json_gen_kv_int(g, "size", (long long)d->size);
    if (d->urls)
        json_gen_kv_strv(g, "urls", (const char *const *)d->urls);
    if (d->n_annotations) {
        json_gen_key(g, "annotations");
        yajl_gen_map_open(g);
        for (size_t i = 0; i < d->n_annotations; i++)
            json_gen_kv_string(g, d->annotations[i].key, d->annotations[i].value);
        yajl_gen_map_close(g);
    }
    if (d->artifact_type)
        json_gen_kv_string(g, "artifactType", d->artifact_type);
    if (d->platform) {
        json_gen_key(g, "platform");
        platform_gen(g, d->platform);
    }
    yajl_gen_map_close(g);
}
