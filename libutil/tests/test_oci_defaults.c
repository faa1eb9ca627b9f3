/* The shared default config.json: the shapes keel spec and hoist write. */
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "json.h"
#include "oci_defaults.h"
#include "unit.h"

static yajl_val path_get(yajl_val v, const char *const *path)
{
    for (; v && *path; path++)
        v = json_object_get(v, *path);
    return v;
}

/* The namespace types of linux.namespaces, joined with ','. */
static void namespaces(yajl_val doc, char *out, size_t size)
{
    yajl_val ns = path_get(doc, (const char *const[]){"linux", "namespaces", NULL});
    out[0] = '\0';
    for (size_t i = 0; YAJL_IS_ARRAY(ns) && i < ns->u.array.len; i++) {
        yajl_val t = json_object_get(ns->u.array.values[i], "type");
        if (i)
            strncat(out, ",", size - strlen(out) - 1);
        strncat(out, YAJL_IS_STRING(t) ? t->u.string : "?", size - strlen(out) - 1);
    }
}

static yajl_val parse(struct unit_counts *c, const struct oci_defaults *d)
{
    size_t len;
    cleanup_free char *text = oci_defaults_config_json(d, &len);
    CHECK(c, text && strlen(text) == len);
    yajl_val v = NULL;
    cleanup_error struct keel_error *err = NULL;
    CHECK(c, json_parse(text, len, "config.json", &v, &err) == 0);
    return v;
}

int main(void)
{
    struct unit_counts c = {0};
    static const char *const args[] = {"/e", "c", NULL};
    static const char *const env[] = {"PATH=/bin", NULL};
    static const uint32_t gids[] = {7, 8};
    static const struct oci_id_mapping uids[] = {{0, 100000, 65536}, {65536, 300000, 1}};
    static const struct oci_annotation ann[] = {{"a", "1"}, {"org.opencontainers.image.os", "linux"}};
    char ns[128];

    /* Given maps without the rest of the rootless shape: a user namespace
     * next to a network namespace, the maps as given (an empty gid map maps
     * 0 to self), the device rule, devpts with gid=5, sysfs. */
    struct oci_defaults d = {
        .uid = 1,
        .gid = 2,
        .additional_gids = gids,
        .n_additional_gids = 2,
        .args = args,
        .env = env,
        .cwd = "/w",
        .user_namespace = true,
        .uid_mappings = uids,
        .n_uid_mappings = 2,
        .self_uid = 1000,
        .self_gid = 2000,
        .annotations = ann,
        .n_annotations = 2,
    };
    cleanup_json yajl_val v = parse(&c, &d);
    namespaces(v, ns, sizeof(ns));
    CHECK_STREQ(&c, ns, "pid,network,ipc,uts,mount,user");
    yajl_val um = path_get(v, (const char *const[]){"linux", "uidMappings", NULL});
    CHECK(&c, YAJL_IS_ARRAY(um) && um->u.array.len == 2);
    yajl_val host = um ? json_object_get(um->u.array.values[1], "hostID") : NULL;
    CHECK(&c, YAJL_IS_INTEGER(host) && YAJL_GET_INTEGER(host) == 300000);
    yajl_val gm = path_get(v, (const char *const[]){"linux", "gidMappings", NULL});
    CHECK(&c, YAJL_IS_ARRAY(gm) && gm->u.array.len == 1);
    host = gm ? json_object_get(gm->u.array.values[0], "hostID") : NULL;
    CHECK(&c, YAJL_IS_INTEGER(host) && YAJL_GET_INTEGER(host) == 2000);
    CHECK(&c, path_get(v, (const char *const[]){"linux", "resources", "devices", NULL}) != NULL);
    yajl_val add = path_get(v, (const char *const[]){"process", "user", "additionalGids", NULL});
    CHECK(&c, YAJL_IS_ARRAY(add) && add->u.array.len == 2);
    yajl_val a = path_get(v, (const char *const[]){"annotations", "org.opencontainers.image.os", NULL});
    CHECK(&c, YAJL_IS_STRING(a) && strcmp(a->u.string, "linux") == 0);
    CHECK(&c, YAJL_IS_TRUE(path_get(v, (const char *const[]){"root", "readonly", NULL})) == 0);

    /* Rootless: no network namespace, no device rule, no annotations key,
     * no additionalGids when there are none. */
    struct oci_defaults r = {
        .args = args, .env = env, .cwd = "/", .readonly_root = true, .rootless = true, .self_uid = 1000};
    cleanup_json yajl_val w = parse(&c, &r);
    namespaces(w, ns, sizeof(ns));
    CHECK_STREQ(&c, ns, "pid,ipc,uts,mount,user");
    CHECK(&c, path_get(w, (const char *const[]){"linux", "resources", NULL}) == NULL);
    CHECK(&c, json_object_get(w, "annotations") == NULL);
    CHECK(&c, path_get(w, (const char *const[]){"process", "user", "additionalGids", NULL}) == NULL);
    CHECK(&c, YAJL_IS_TRUE(path_get(w, (const char *const[]){"root", "readonly", NULL})));

    /* Neither: no user namespace and no maps at all. */
    struct oci_defaults p = {.args = args, .env = env, .cwd = "/"};
    cleanup_json yajl_val x = parse(&c, &p);
    namespaces(x, ns, sizeof(ns));
    CHECK_STREQ(&c, ns, "pid,network,ipc,uts,mount");
    CHECK(&c, path_get(x, (const char *const[]){"linux", "uidMappings", NULL}) == NULL);
    return unit_finish(&c);
}
