/* config.json top level: ociVersion, root, mounts, hooks, annotations,
 * hostname, domainname; process and linux have their own files. */
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "json.h"
#include "spec_internal.h"
#include "xalloc.h"

static int spec_parse_root(yajl_val doc, struct spec_root *root, struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(doc, "", "root", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    if (spec_req_string(v, "root", "path", &root->path, err) < 0)
        return -1;
    return spec_opt_bool(v, "root", "readonly", &root->readonly, err);
}

static int spec_parse_mount(yajl_val v, const char *path, struct spec_mount *m, struct keel_error **err)
{
    if (json_expect_object(v, path, err) < 0)
        return -1;
    if (spec_req_string(v, path, "destination", &m->destination, err) < 0 ||
        spec_opt_string(v, path, "type", &m->type, err) < 0 ||
        spec_opt_string(v, path, "source", &m->source, err) < 0 ||
        spec_opt_strv(v, path, "options", &m->options, err) < 0)
        return -1;
    if (spec_opt_id_mappings(v, path, "uidMappings", &m->uid_mappings, &m->n_uid_mappings, err) < 0 ||
        spec_opt_id_mappings(v, path, "gidMappings", &m->gid_mappings, &m->n_gid_mappings, err) < 0)
        return -1;
    return 0;
}

static int spec_parse_mounts(yajl_val doc, struct spec_config *cfg, struct keel_error **err)
{
    yajl_val arr = NULL;
    if (spec_opt_array(doc, "", "mounts", &arr, err) < 0)
        return -1;
    if (arr == NULL)
        return 0;
    size_t n = arr->u.array.len;
    cfg->mounts = xcalloc(n ? n : 1, sizeof(*cfg->mounts));
    for (size_t i = 0; i < n; i++) {
        cleanup_free char *ip = spec_path_index("mounts", i);
        cfg->n_mounts++;
        if (spec_parse_mount(arr->u.array.values[i], ip, &cfg->mounts[i], err) < 0)
            return -1;
    }
    return 0;
}

static int spec_parse_hook_list(yajl_val hooks, const char *key, struct spec_hook_list *list,
                                struct keel_error **err)
{
    yajl_val arr = NULL;
    if (spec_opt_array(hooks, "hooks", key, &arr, err) < 0)
        return -1;
    if (arr == NULL)
        return 0;
    cleanup_free char *path = spec_path_join("hooks", key);
    size_t n = arr->u.array.len;
    list->items = xcalloc(n ? n : 1, sizeof(*list->items));
    for (size_t i = 0; i < n; i++) {
        yajl_val h = arr->u.array.values[i];
        cleanup_free char *ip = spec_path_index(path, i);
        struct spec_hook *hook = &list->items[i];
        list->n++;
        if (json_expect_object(h, ip, err) < 0)
            return -1;
        if (spec_req_string(h, ip, "path", &hook->path, err) < 0 ||
            spec_opt_strv(h, ip, "args", &hook->args, err) < 0 ||
            spec_opt_strv(h, ip, "env", &hook->env, err) < 0 ||
            spec_opt_i64(h, ip, "timeout", &hook->timeout, err) < 0)
            return -1;
        if (hook->timeout.set && hook->timeout.value <= 0)
            return error_set(err, 0, "%s.timeout: must be greater than zero, got %lld", ip,
                             (long long)hook->timeout.value);
    }
    return 0;
}

static int spec_parse_hooks(yajl_val doc, struct spec_hooks *hooks, struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(doc, "", "hooks", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    if (spec_parse_hook_list(v, "prestart", &hooks->prestart, err) < 0 ||
        spec_parse_hook_list(v, "createRuntime", &hooks->create_runtime, err) < 0 ||
        spec_parse_hook_list(v, "createContainer", &hooks->create_container, err) < 0 ||
        spec_parse_hook_list(v, "startContainer", &hooks->start_container, err) < 0 ||
        spec_parse_hook_list(v, "poststart", &hooks->poststart, err) < 0 ||
        spec_parse_hook_list(v, "poststop", &hooks->poststop, err) < 0)
        return -1;
    return 0;
}

static int spec_parse_doc(yajl_val doc, struct spec_config *cfg, struct keel_error **err)
{
    if (spec_req_string(doc, "", "ociVersion", &cfg->oci_version, err) < 0)
        return -1;
    if (spec_parse_root(doc, &cfg->root, err) < 0 || spec_parse_mounts(doc, cfg, err) < 0)
        return -1;
    yajl_val proc = spec_member(doc, "process");
    if (proc && spec_parse_process_obj(proc, "process", &cfg->process, err) < 0)
        return -1;
    if (spec_opt_string(doc, "", "hostname", &cfg->hostname, err) < 0 ||
        spec_opt_string(doc, "", "domainname", &cfg->domainname, err) < 0)
        return -1;
    if (spec_parse_hooks(doc, &cfg->hooks, err) < 0 ||
        spec_opt_kv(doc, "", "annotations", &cfg->annotations, err) < 0)
        return -1;
    yajl_val lnx = spec_member(doc, "linux");
    if (lnx && spec_parse_linux_obj(lnx, "linux", &cfg->linux, err) < 0)
        return -1;
    return 0;
}

int spec_parse_config(const char *text, size_t len, const char *name, struct spec_config **out,
                      struct keel_error **err)
{
    cleanup_json yajl_val tree = NULL;
    if (spec_parse_json_object(text, len, name, &tree, err) < 0)
        return -1;
    cleanup_spec_config struct spec_config *cfg = xzalloc(sizeof(*cfg));
    if (spec_parse_doc(tree, cfg, err) < 0)
        return error_prefix(err, "%s", name);
    cfg->tree = steal_ptr(&tree);
    *out = steal_ptr(&cfg);
    return 0;
}

int spec_load_bundle(const char *bundle, struct spec_config **out, struct keel_error **err)
{
    cleanup_free char *path = xasprintf("%s/config.json", bundle);
    cleanup_free char *text = NULL;
    size_t len = 0;
    /* Real configs are under 1 MiB (a big seccomp profile is ~40 KiB). */
    if (file_read_whole(path, 64u << 20, &text, &len, err) < 0)
        return -1;
    return spec_parse_config(text, len, "config.json", out, err);
}
