/* Typed access to optional config.json members, naming the JSON path. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "json.h"
#include "spec_internal.h"
#include "xalloc.h"

char *spec_path_join(const char *base, const char *key)
{
    if (base == NULL || base[0] == '\0')
        return xstrdup(key);
    return xasprintf("%s.%s", base, key);
}

char *spec_path_index(const char *base, size_t i)
{
    return xasprintf("%s[%zu]", base, i);
}

/* Calls a json_get_* getter without a path first: the path string is only
 * built for the message when the value is wrong, so a good config costs no
 * path allocations for its scalar fields. */
#define SPEC_GET(getter, v, base, key, out, err)                                                             \
    ({                                                                                                       \
        int spec_get_rc_ = getter((v), "", (out), NULL);                                                     \
        if (spec_get_rc_ < 0) {                                                                              \
            cleanup_free char *spec_get_path_ = spec_path_join((base), (key));                               \
            spec_get_rc_ = getter((v), spec_get_path_, (out), (err));                                        \
        }                                                                                                    \
        spec_get_rc_;                                                                                        \
    })

struct spec_key_ref {
    const char *key;
    size_t index;
};

static int spec_key_ref_cmp(const void *a, const void *b)
{
    const struct spec_key_ref *x = a, *y = b;
    int r = strcmp(x->key, y->key);
    if (r != 0)
        return r;
    return x->index < y->index ? -1 : x->index > y->index;
}

bool *spec_superseded_keys(yajl_val obj)
{
    size_t n = obj->u.object.len;
    bool *skip = xcalloc(n ? n : 1, sizeof(bool));
    /* Sorting keeps this O(n log n) even for a hostile number of keys. */
    cleanup_free struct spec_key_ref *refs = xcalloc(n ? n : 1, sizeof(*refs));
    for (size_t i = 0; i < n; i++)
        refs[i] = (struct spec_key_ref){obj->u.object.keys[i], i};
    qsort(refs, n, sizeof(*refs), spec_key_ref_cmp);
    for (size_t i = 0; i + 1 < n; i++)
        if (strcmp(refs[i].key, refs[i + 1].key) == 0)
            skip[refs[i].index] = true;
    return skip;
}

yajl_val spec_member(yajl_val obj, const char *key)
{
    if (obj == NULL || !YAJL_IS_OBJECT(obj))
        return NULL;
    /* The last of duplicate keys wins, as in Go's encoding/json: keel must
     * read a config the way the engine that wrote (or checked) it did. */
    for (size_t i = obj->u.object.len; i-- > 0;) {
        if (strcmp(obj->u.object.keys[i], key) == 0) {
            yajl_val v = obj->u.object.values[i];
            return YAJL_IS_NULL(v) ? NULL : v;
        }
    }
    return NULL;
}

int spec_opt_string(yajl_val obj, const char *base, const char *key, char **out, struct keel_error **err)
{
    yajl_val v = spec_member(obj, key);
    if (v == NULL)
        return 0;
    char *s = NULL;
    if (SPEC_GET(json_get_string, v, base, key, &s, err) < 0)
        return -1;
    free(*out);
    *out = s;
    return 0;
}

int spec_opt_bool(yajl_val obj, const char *base, const char *key, bool *out, struct keel_error **err)
{
    yajl_val v = spec_member(obj, key);
    if (v == NULL)
        return 0;
    return SPEC_GET(json_get_bool, v, base, key, out, err);
}

int spec_opt_tribool(yajl_val obj, const char *base, const char *key, struct opt_bool *out,
                     struct keel_error **err)
{
    yajl_val v = spec_member(obj, key);
    if (v == NULL)
        return 0;
    if (SPEC_GET(json_get_bool, v, base, key, &out->value, err) < 0)
        return -1;
    out->set = true;
    return 0;
}

int spec_opt_strv(yajl_val obj, const char *base, const char *key, char ***out, struct keel_error **err)
{
    yajl_val v = spec_member(obj, key);
    if (v == NULL)
        return 0;
    char **vec = NULL;
    if (SPEC_GET(json_get_strv, v, base, key, &vec, err) < 0)
        return -1;
    strv_free(*out);
    *out = vec;
    return 0;
}

int spec_opt_i64(yajl_val obj, const char *base, const char *key, struct opt_i64 *out,
                 struct keel_error **err)
{
    yajl_val v = spec_member(obj, key);
    if (v == NULL)
        return 0;
    if (SPEC_GET(json_get_int64, v, base, key, &out->value, err) < 0)
        return -1;
    out->set = true;
    return 0;
}

int spec_opt_raw_i64(yajl_val obj, const char *base, const char *key, int64_t *out, struct keel_error **err)
{
    yajl_val v = spec_member(obj, key);
    if (v == NULL)
        return 0;
    return SPEC_GET(json_get_int64, v, base, key, out, err);
}

int spec_opt_u64(yajl_val obj, const char *base, const char *key, struct opt_u64 *out,
                 struct keel_error **err)
{
    yajl_val v = spec_member(obj, key);
    if (v == NULL)
        return 0;
    if (SPEC_GET(json_get_uint64, v, base, key, &out->value, err) < 0)
        return -1;
    out->set = true;
    return 0;
}

int spec_opt_u32(yajl_val obj, const char *base, const char *key, uint32_t *out, struct keel_error **err)
{
    yajl_val v = spec_member(obj, key);
    if (v == NULL)
        return 0;
    return SPEC_GET(json_get_uint32, v, base, key, out, err);
}

static int spec_missing(const char *base, const char *key, struct keel_error **err)
{
    cleanup_free char *path = spec_path_join(base, key);
    return error_set(err, 0, "%s: missing required field", path);
}

int spec_req_string(yajl_val obj, const char *base, const char *key, char **out, struct keel_error **err)
{
    if (spec_member(obj, key) == NULL)
        return spec_missing(base, key, err);
    return spec_opt_string(obj, base, key, out, err);
}

int spec_req_u32(yajl_val obj, const char *base, const char *key, uint32_t *out, struct keel_error **err)
{
    if (spec_member(obj, key) == NULL)
        return spec_missing(base, key, err);
    return spec_opt_u32(obj, base, key, out, err);
}

int spec_req_i64(yajl_val obj, const char *base, const char *key, int64_t *out, struct keel_error **err)
{
    if (spec_member(obj, key) == NULL)
        return spec_missing(base, key, err);
    return spec_opt_raw_i64(obj, base, key, out, err);
}

int spec_req_u64(yajl_val obj, const char *base, const char *key, uint64_t *out, struct keel_error **err)
{
    yajl_val v = spec_member(obj, key);
    if (v == NULL)
        return spec_missing(base, key, err);
    return SPEC_GET(json_get_uint64, v, base, key, out, err);
}

int spec_parse_json_object(const char *text, size_t len, const char *name, yajl_val *tree,
                           struct keel_error **err)
{
    if (json_parse(text, len, name, tree, err) < 0)
        return -1;
    if (!YAJL_IS_OBJECT(*tree))
        return error_set(err, 0, "%s: expected an object, got %s", name, json_type_name(*tree));
    return 0;
}

int spec_opt_object(yajl_val obj, const char *base, const char *key, yajl_val *out, struct keel_error **err)
{
    yajl_val v = spec_member(obj, key);
    *out = NULL;
    if (v == NULL)
        return 0;
    if (!YAJL_IS_OBJECT(v)) {
        cleanup_free char *path = spec_path_join(base, key);
        return json_expect_object(v, path, err);
    }
    *out = v;
    return 0;
}

int spec_opt_array(yajl_val obj, const char *base, const char *key, yajl_val *out, struct keel_error **err)
{
    yajl_val v = spec_member(obj, key);
    *out = NULL;
    if (v == NULL)
        return 0;
    if (!YAJL_IS_ARRAY(v)) {
        cleanup_free char *path = spec_path_join(base, key);
        return json_expect_array(v, path, err);
    }
    *out = v;
    return 0;
}

int spec_opt_kv(yajl_val obj, const char *base, const char *key, struct spec_kv_list *out,
                struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(obj, base, key, &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *path = spec_path_join(base, key);
    size_t n = v->u.object.len;
    out->items = xcalloc(n ? n : 1, sizeof(*out->items));
    out->n = 0;
    cleanup_free bool *skip = spec_superseded_keys(v);
    for (size_t i = 0; i < n; i++) {
        const char *k = v->u.object.keys[i];
        yajl_val val = v->u.object.values[i];
        if (!YAJL_IS_STRING(val))
            return error_set(err, 0, "%s.%s: expected a string, got %s", path, k, json_type_name(val));
        if (skip[i])
            continue;
        out->items[out->n].key = xstrdup(k);
        out->items[out->n].value = xstrdup(val->u.string);
        out->n++;
    }
    return 0;
}

int spec_opt_id_mappings(yajl_val obj, const char *base, const char *key, struct spec_id_mapping **out,
                         size_t *n, struct keel_error **err)
{
    yajl_val arr = NULL;
    if (spec_opt_array(obj, base, key, &arr, err) < 0)
        return -1;
    if (arr == NULL)
        return 0;
    cleanup_free char *path = spec_path_join(base, key);
    size_t len = arr->u.array.len;
    cleanup_free struct spec_id_mapping *maps = xcalloc(len ? len : 1, sizeof(*maps));
    for (size_t i = 0; i < len; i++) {
        yajl_val m = arr->u.array.values[i];
        cleanup_free char *ip = spec_path_index(path, i);
        if (json_expect_object(m, ip, err) < 0)
            return -1;
        if (spec_req_u32(m, ip, "containerID", &maps[i].container_id, err) < 0 ||
            spec_req_u32(m, ip, "hostID", &maps[i].host_id, err) < 0 ||
            spec_req_u32(m, ip, "size", &maps[i].size, err) < 0)
            return -1;
    }
    free(*out);
    *out = steal_ptr(&maps);
    *n = len;
    return 0;
}

int spec_check_name(const char *s, const char *const *table, const char *path, const char *what,
                    struct keel_error **err)
{
    for (const char *const *t = table; *t; t++)
        if (strcmp(*t, s) == 0)
            return 0;
    return error_set(err, 0, "%s: unknown %s \"%s\"", path, what, s);
}

int spec_req_name(yajl_val obj, const char *base, const char *key, const char *const *table, const char *what,
                  char **out, struct keel_error **err)
{
    if (spec_req_string(obj, base, key, out, err) < 0)
        return -1;
    cleanup_free char *p = spec_path_join(base, key);
    return spec_check_name(*out, table, p, what, err);
}

int spec_check_names(char *const *v, const char *const *table, const char *path, const char *what,
                     struct keel_error **err)
{
    if (v == NULL)
        return 0;
    for (size_t i = 0; v[i]; i++) {
        cleanup_free char *ip = spec_path_index(path, i);
        if (spec_check_name(v[i], table, ip, what, err) < 0)
            return -1;
    }
    return 0;
}
