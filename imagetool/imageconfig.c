#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "digest.h"
#include "error.h"
#include "imageconfig.h"
#include "json.h"
#include "xalloc.h"

static int ic_opt_string(yajl_val obj, const char *key, const char *path, char **out, struct keel_error **err)
{
    yajl_val v = json_object_get(obj, key);
    if (!v || YAJL_IS_NULL(v))
        return 0;
    return json_get_string(v, path, out, err);
}

static int ic_opt_strv(yajl_val obj, const char *key, const char *path, char ***out, struct keel_error **err)
{
    yajl_val v = json_object_get(obj, key);
    if (!v || YAJL_IS_NULL(v))
        return 0;
    return json_get_strv(v, path, out, err);
}

/* The keys of an object of empty objects ({"80/tcp": {}}), in order. */
static int ic_opt_keys(yajl_val obj, const char *key, const char *path, char ***out, struct keel_error **err)
{
    yajl_val v = json_object_get(obj, key);
    if (!v || YAJL_IS_NULL(v))
        return 0;
    if (json_expect_object(v, path, err) < 0)
        return -1;
    size_t n = v->u.object.len;
    char **keys = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        keys[i] = xstrdup(v->u.object.keys[i]);
    *out = keys;
    return 0;
}

static int ic_parse_config(yajl_val cfg, struct image_config *c, struct keel_error **err)
{
    if (json_expect_object(cfg, "config", err) < 0)
        return -1;
    if (ic_opt_string(cfg, "User", "config.User", &c->user, err) < 0 ||
        ic_opt_string(cfg, "WorkingDir", "config.WorkingDir", &c->working_dir, err) < 0 ||
        ic_opt_string(cfg, "StopSignal", "config.StopSignal", &c->stop_signal, err) < 0 ||
        ic_opt_strv(cfg, "Env", "config.Env", &c->env, err) < 0 ||
        ic_opt_strv(cfg, "Entrypoint", "config.Entrypoint", &c->entrypoint, err) < 0 ||
        ic_opt_strv(cfg, "Cmd", "config.Cmd", &c->cmd, err) < 0 ||
        ic_opt_keys(cfg, "ExposedPorts", "config.ExposedPorts", &c->exposed_ports, err) < 0 ||
        ic_opt_keys(cfg, "Volumes", "config.Volumes", &c->volumes, err) < 0)
        return -1;
    for (size_t i = 0; c->env && c->env[i]; i++)
        if (!strchr(c->env[i], '='))
            return error_set(err, EINVAL, "config.Env[%zu]: `%s` is not NAME=VALUE", i, c->env[i]);
    yajl_val labels = json_object_get(cfg, "Labels");
    if (labels && !YAJL_IS_NULL(labels)) {
        if (json_expect_object(labels, "config.Labels", err) < 0)
            return -1;
        size_t n = labels->u.object.len;
        c->labels = xcalloc(n ? n : 1, sizeof(*c->labels));
        for (size_t i = 0; i < n; i++) {
            cleanup_free char *path = xasprintf("config.Labels.%s", labels->u.object.keys[i]);
            char *value;
            if (json_get_string(labels->u.object.values[i], path, &value, err) < 0)
                return -1;
            c->labels[c->n_labels].key = xstrdup(labels->u.object.keys[i]);
            c->labels[c->n_labels++].value = value;
        }
    }
    return 0;
}

static int ic_parse_rootfs(yajl_val rootfs, struct image_config *c, struct keel_error **err)
{
    if (!rootfs)
        return error_set(err, EINVAL, "rootfs: missing");
    if (json_expect_object(rootfs, "rootfs", err) < 0)
        return -1;
    cleanup_free char *type = NULL;
    yajl_val t = json_object_get(rootfs, "type");
    if (!t)
        return error_set(err, EINVAL, "rootfs.type: missing");
    if (json_get_string(t, "rootfs.type", &type, err) < 0)
        return -1;
    if (strcmp(type, "layers") != 0)
        return error_set(err, EINVAL, "rootfs.type: expected \"layers\", got \"%s\"", type);
    yajl_val ids = json_object_get(rootfs, "diff_ids");
    if (!ids)
        return error_set(err, EINVAL, "rootfs.diff_ids: missing");
    if (json_get_strv(ids, "rootfs.diff_ids", &c->diff_ids, err) < 0)
        return -1;
    c->n_diff_ids = strv_len(c->diff_ids);
    for (size_t i = 0; i < c->n_diff_ids; i++)
        if (digest_parse(c->diff_ids[i], NULL, NULL, err) < 0)
            return error_prefix(err, "rootfs.diff_ids[%zu]", i);
    return 0;
}

int image_config_parse(const char *data, size_t len, struct image_config **out, struct keel_error **err)
{
    cleanup_json yajl_val root = NULL;
    if (json_parse(data, len, "image config", &root, err) < 0)
        return -1;
    if (json_expect_object(root, "(document)", err) < 0)
        return error_prefix(err, "image config");
    struct image_config *c = xzalloc(sizeof(*c));
    int rc = 0;
    if (ic_opt_string(root, "architecture", "architecture", &c->architecture, err) < 0 ||
        ic_opt_string(root, "os", "os", &c->os, err) < 0 ||
        ic_opt_string(root, "variant", "variant", &c->variant, err) < 0 ||
        ic_opt_string(root, "os.version", "os.version", &c->os_version, err) < 0 ||
        ic_opt_strv(root, "os.features", "os.features", &c->os_features, err) < 0 ||
        ic_opt_string(root, "author", "author", &c->author, err) < 0 ||
        ic_opt_string(root, "created", "created", &c->created, err) < 0)
        rc = -1;
    yajl_val cfg = json_object_get(root, "config");
    if (rc == 0 && cfg && !YAJL_IS_NULL(cfg))
        rc = ic_parse_config(cfg, c, err);
    if (rc == 0)
        rc = ic_parse_rootfs(json_object_get(root, "rootfs"), c, err);
    if (rc < 0) {
        image_config_free(c);
        return error_prefix(err, "image config");
    }
    *out = c;
    return 0;
}

void image_config_free(struct image_config *c)
{
    if (!c)
        return;
    free(c->architecture);
    free(c->os);
    free(c->variant);
    free(c->os_version);
    free(c->author);
    free(c->created);
    strv_free(c->os_features);
    free(c->user);
    free(c->working_dir);
    free(c->stop_signal);
    strv_free(c->env);
    strv_free(c->entrypoint);
    strv_free(c->cmd);
    strv_free(c->exposed_ports);
    strv_free(c->volumes);
    for (size_t i = 0; i < c->n_labels; i++) {
        free(c->labels[i].key);
        free(c->labels[i].value);
    }
    free(c->labels);
    strv_free(c->diff_ids);
    free(c);
}

void image_config_freep(struct image_config **c)
{
    image_config_free(*c);
    *c = NULL;
}
