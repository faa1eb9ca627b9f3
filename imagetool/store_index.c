/* The store's index.json: which tag points at which manifest or index.
 * Updates are read-modify-write under DIR/.index.lock and replace the file
 * atomically; entries hoist did not write are kept as they were. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "json.h"
#include "store.h"
#include "store_private.h"
#include "xalloc.h"

#define INDEX_MAX_SIZE (64 * 1024 * 1024)

static int store_index_lock(struct store *s, int *fd, struct keel_error **err)
{
    cleanup_free char *p = xasprintf("%s/.index.lock", s->dir);
    int f = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0)
        return error_set(err, errno, "opening `%s`", p);
    if (flock(f, LOCK_EX) < 0) {
        int e = errno;
        close(f);
        return error_set(err, e, "locking `%s`", p);
    }
    *fd = f;
    return 0;
}

static int store_index_load(struct store *s, yajl_val *root, struct keel_error **err)
{
    cleanup_free char *p = xasprintf("%s/index.json", s->dir);
    cleanup_free char *text = NULL;
    size_t len = 0;
    if (file_read_whole(p, INDEX_MAX_SIZE, &text, &len, err) < 0)
        return -1;
    cleanup_free char *name = xasprintf("`%s`", p);
    if (json_parse(text, len, name, root, err) < 0)
        return -1;
    yajl_val ms = json_object_get(*root, "manifests");
    if (json_expect_object(*root, name, err) < 0 || ms == NULL || !YAJL_IS_ARRAY(ms)) {
        json_freep(root);
        return error_set(err, 0, "%s: expected an object with a \"manifests\" array", name);
    }
    return 0;
}

/* index.json.tmp.PID left by a hoist killed while replacing index.json.
 * Every writer holds the index lock while its temp file exists, so under
 * the lock any such file is a dead writer's. */
static void store_index_drop_stale(struct store *s)
{
    cleanup_dir DIR *d = opendir(s->dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *rest = de->d_name + strlen("index.json.tmp.");
        if (strncmp(de->d_name, "index.json.tmp.", strlen("index.json.tmp.")) == 0 && rest[0] &&
            strspn(rest, "0123456789") == strlen(rest))
            (void)unlinkat(dirfd(d), de->d_name, 0);
    }
}

/* Write index.json with every entry of old (may be NULL) except those
 * whose ref name is drop (may be NULL), plus add (may be NULL). */
static int store_index_save(struct store *s, yajl_val old, const char *drop, const struct oci_descriptor *add,
                            bool *dropped, struct keel_error **err)
{
    yajl_gen g = json_gen_new(false);
    yajl_gen_map_open(g);
    json_gen_kv_int(g, "schemaVersion", 2);
    json_gen_kv_string(g, "mediaType", MEDIA_OCI_INDEX);
    json_gen_key(g, "manifests");
    yajl_gen_array_open(g);
    yajl_val ms = old ? json_object_get(old, "manifests") : NULL;
    for (size_t i = 0; ms && i < ms->u.array.len; i++) {
        yajl_val e = ms->u.array.values[i];
        yajl_val ann = json_object_get(e, "annotations");
        yajl_val name = ann ? json_object_get(ann, ANNOTATION_REF_NAME) : NULL;
        if (drop && name && YAJL_IS_STRING(name) && strcmp(name->u.string, drop) == 0) {
            if (dropped)
                *dropped = true;
            continue;
        }
        json_gen_value(g, e);
    }
    if (add)
        descriptor_gen(g, add);
    yajl_gen_array_close(g);
    yajl_val ann = old ? json_object_get(old, "annotations") : NULL;
    if (ann) {
        json_gen_key(g, "annotations");
        json_gen_value(g, ann);
    }
    yajl_gen_map_close(g);
    size_t len;
    cleanup_free char *text = json_gen_dup(g, &len);
    yajl_gen_free(g);
    store_index_drop_stale(s);
    cleanup_free char *p = xasprintf("%s/index.json", s->dir);
    return file_write_atomic(p, text, len, 0644, err);
}

int store_index_init(struct store *s, struct keel_error **err)
{
    cleanup_close int lock = -1;
    if (store_index_lock(s, &lock, err) < 0)
        return -1;
    cleanup_free char *p = xasprintf("%s/index.json", s->dir);
    if (fs_exists(p))
        return 0;
    return store_index_save(s, NULL, NULL, NULL, NULL, err);
}

int store_tag(struct store *s, const char *ref_name, const struct oci_descriptor *desc,
              struct keel_error **err)
{
    if (!store_has_blob(s, desc->digest))
        return error_set(err, ENOENT, "tagging %s: blob %s is not in the store", ref_name, desc->digest);
    cleanup_close int lock = -1;
    if (store_index_lock(s, &lock, err) < 0)
        return -1;
    cleanup_json yajl_val root = NULL;
    if (store_index_load(s, &root, err) < 0)
        return -1;
    struct oci_descriptor d;
    descriptor_copy(&d, desc);
    /* Replace any ref name annotation with ours. */
    bool found = false;
    for (size_t i = 0; i < d.n_annotations; i++) {
        if (strcmp(d.annotations[i].key, ANNOTATION_REF_NAME) == 0) {
            free(d.annotations[i].value);
            d.annotations[i].value = xstrdup(ref_name);
            found = true;
        }
    }
    if (!found) {
        d.annotations = xrealloc(d.annotations, (d.n_annotations + 1) * sizeof(*d.annotations));
        d.annotations[d.n_annotations].key = xstrdup(ANNOTATION_REF_NAME);
        d.annotations[d.n_annotations].value = xstrdup(ref_name);
        d.n_annotations++;
    }
    int r = store_index_save(s, root, ref_name, &d, NULL, err);
    descriptor_clear(&d);
    return r;
}

int store_untag(struct store *s, const char *ref_name, struct keel_error **err)
{
    cleanup_close int lock = -1;
    if (store_index_lock(s, &lock, err) < 0)
        return -1;
    cleanup_json yajl_val root = NULL;
    if (store_index_load(s, &root, err) < 0)
        return -1;
    bool dropped = false;
    yajl_val ms = json_object_get(root, "manifests");
    for (size_t i = 0; i < ms->u.array.len; i++) {
        yajl_val ann = json_object_get(ms->u.array.values[i], "annotations");
        yajl_val name = ann ? json_object_get(ann, ANNOTATION_REF_NAME) : NULL;
        if (name && YAJL_IS_STRING(name) && strcmp(name->u.string, ref_name) == 0)
            dropped = true;
    }
    if (!dropped)
        return error_set(err, ENOENT, "image %s is not in the store `%s`", ref_name, s->dir);
    return store_index_save(s, root, ref_name, NULL, NULL, err);
}

int store_list(struct store *s, struct store_entry **out, size_t *n, struct keel_error **err)
{
    cleanup_json yajl_val root = NULL;
    if (store_index_load(s, &root, err) < 0)
        return -1;
    yajl_val ms = json_object_get(root, "manifests");
    size_t len = ms->u.array.len;
    struct store_entry *e = xcalloc(len ? len : 1, sizeof(*e));
    for (size_t i = 0; i < len; i++) {
        cleanup_free char *path = xasprintf("index.json: manifests[%zu]", i);
        if (descriptor_parse(ms->u.array.values[i], path, &e[i].desc, err) < 0) {
            store_entries_free(e, i);
            return -1;
        }
        const char *name = descriptor_annotation(&e[i].desc, ANNOTATION_REF_NAME);
        e[i].ref_name = name ? xstrdup(name) : NULL;
    }
    *out = e;
    *n = len;
    return 0;
}

void store_entries_free(struct store_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].ref_name);
        descriptor_clear(&e[i].desc);
    }
    free(e);
}

int store_resolve(struct store *s, const char *ref_name, struct oci_descriptor *out, struct keel_error **err)
{
    struct store_entry *e = NULL;
    size_t n = 0;
    if (store_list(s, &e, &n, err) < 0)
        return -1;
    bool found = false;
    for (size_t i = 0; i < n && !found; i++) {
        if (e[i].ref_name && strcmp(e[i].ref_name, ref_name) == 0) {
            descriptor_copy(out, &e[i].desc);
            found = true;
        }
    }
    store_entries_free(e, n);
    if (!found)
        return error_set(err, ENOENT, "image %s is not in the store `%s`", ref_name, s->dir);
    return 0;
}
