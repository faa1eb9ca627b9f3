/* The process an exec runs: process.json from --process, or the
 * container's own config.json process with exec's flags applied over it
 * (args, -t, --cwd, -e, -u, --additional-gids, --cap, --no-new-privs,
 * --apparmor, --process-label), re-parsed by the spec parser so the same
 * validation applies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "exec_internal.h"
#include "fileutil.h"
#include "json.h"
#include "xalloc.h"

static bool is_overridden(const char *key)
{
    static const char *const keys[] = {"args",
                                       "terminal",
                                       "cwd",
                                       "env",
                                       "user",
                                       "capabilities",
                                       "noNewPrivileges",
                                       "apparmorProfile",
                                       "selinuxLabel",
                                       "consoleSize"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    return false;
}

static void gen_strv(yajl_gen g, char *const *v)
{
    yajl_gen_array_open(g);
    for (; v && *v; v++)
        json_gen_string(g, *v);
    yajl_gen_array_close(g);
}

static const char *json_str(yajl_val v)
{
    return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

/* env: the config's entries, each -e KEY=VALUE replacing the same KEY. */
static void gen_env(yajl_gen g, yajl_val cfg_env, char *const *add)
{
    yajl_gen_array_open(g);
    size_t n = YAJL_IS_ARRAY(cfg_env) ? cfg_env->u.array.len : 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = json_str(cfg_env->u.array.values[i]);
        if (!e)
            continue;
        size_t kl = strcspn(e, "=");
        bool replaced = false;
        for (char *const *a = add; a && *a; a++)
            if (strncmp(*a, e, kl) == 0 && ((*a)[kl] == '=' || (*a)[kl] == '\0'))
                replaced = true;
        if (!replaced)
            json_gen_string(g, e);
    }
    for (char *const *a = add; a && *a; a++)
        json_gen_string(g, *a);
    yajl_gen_array_close(g);
}

static int parse_id(const char *what, const char *s, unsigned long *out, struct keel_error **err)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end || errno || v > 0xfffffffful)
        return error_set(err, EINVAL, "exec: %s: \"%s\" is not a numeric id", what, s);
    *out = v;
    return 0;
}

static int gen_user(yajl_gen g, yajl_val cfg_user, const struct exec_opts *o, struct keel_error **err)
{
    unsigned long uid = 0, gid = 0;
    yajl_val cu = json_object_get(cfg_user, "uid"), cg = json_object_get(cfg_user, "gid");
    if (YAJL_IS_INTEGER(cu))
        uid = (unsigned long)YAJL_GET_INTEGER(cu);
    if (YAJL_IS_INTEGER(cg))
        gid = (unsigned long)YAJL_GET_INTEGER(cg);
    yajl_val cfg_gids = json_object_get(cfg_user, "additionalGids");
    if (o->user) {
        cleanup_free char *u = xstrdup(o->user);
        char *colon = strchr(u, ':');
        if (colon)
            *colon = '\0';
        if (parse_id("--user", u, &uid, err) < 0 || (colon && parse_id("--user", colon + 1, &gid, err) < 0))
            return -1;
        if (!colon)
            gid = 0;
        cfg_gids = NULL; /* another user: not the config user's groups */
    }
    yajl_gen_map_open(g);
    json_gen_key(g, "uid");
    yajl_gen_integer(g, (long long)uid);
    json_gen_key(g, "gid");
    yajl_gen_integer(g, (long long)gid);
    yajl_val umask = json_object_get(cfg_user, "umask");
    if (umask) {
        json_gen_key(g, "umask");
        json_gen_value(g, umask);
    }
    json_gen_key(g, "additionalGids");
    yajl_gen_array_open(g);
    for (size_t i = 0; YAJL_IS_ARRAY(cfg_gids) && i < cfg_gids->u.array.len; i++)
        json_gen_value(g, cfg_gids->u.array.values[i]);
    for (char *const *a = o->additional_gids; a && *a; a++) {
        unsigned long v;
        if (parse_id("--additional-gids", *a, &v, err) < 0)
            return -1;
        yajl_gen_integer(g, (long long)v);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return 0;
}

/* --cap adds to the bounding, effective and permitted sets (runc's rule). */
static void gen_caps(yajl_gen g, yajl_val cfg_caps, char *const *add)
{
    static const char *const sets[] = {"bounding", "effective", "inheritable", "permitted", "ambient"};
    yajl_gen_map_open(g);
    for (size_t s = 0; s < 5; s++) {
        yajl_val have = json_object_get(cfg_caps, sets[s]);
        bool extend = s == 0 || s == 1 || s == 3;
        if (!have && !(extend && add && *add))
            continue;
        json_gen_key(g, sets[s]);
        yajl_gen_array_open(g);
        for (size_t i = 0; YAJL_IS_ARRAY(have) && i < have->u.array.len; i++)
            json_gen_value(g, have->u.array.values[i]);
        for (char *const *a = add; extend && a && *a; a++)
            json_gen_string(g, *a);
        yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
}

int exec_build_process_json(yajl_val cfg_process, const struct exec_opts *o, char **out,
                            struct keel_error **err)
{
    if (!o->args || !o->args[0])
        return error_set(err, EINVAL, "exec: no command given (ARGS or --process)");
    yajl_gen g = json_gen_new(false);
    yajl_gen_map_open(g);
    size_t n = YAJL_IS_OBJECT(cfg_process) ? cfg_process->u.object.len : 0;
    for (size_t i = 0; i < n; i++) {
        const char *k = cfg_process->u.object.keys[i];
        if (is_overridden(k))
            continue;
        json_gen_key(g, k);
        json_gen_value(g, cfg_process->u.object.values[i]);
    }
    json_gen_key(g, "args");
    gen_strv(g, o->args);
    json_gen_kv_bool(g, "terminal", o->tty);
    const char *cwd = o->cwd ? o->cwd : json_str(json_object_get(cfg_process, "cwd"));
    json_gen_kv_string(g, "cwd", cwd ? cwd : "/");
    json_gen_key(g, "env");
    gen_env(g, json_object_get(cfg_process, "env"), o->env);
    json_gen_key(g, "user");
    if (gen_user(g, json_object_get(cfg_process, "user"), o, err) < 0) {
        yajl_gen_free(g);
        return -1;
    }
    yajl_val caps = json_object_get(cfg_process, "capabilities");
    if (caps || (o->caps && o->caps[0])) {
        json_gen_key(g, "capabilities");
        gen_caps(g, caps, o->caps);
    }
    json_gen_kv_bool(g, "noNewPrivileges",
                     o->no_new_privs || YAJL_IS_TRUE(json_object_get(cfg_process, "noNewPrivileges")));
    const char *aa = o->apparmor ? o->apparmor : json_str(json_object_get(cfg_process, "apparmorProfile"));
    if (aa)
        json_gen_kv_string(g, "apparmorProfile", aa);
    const char *label =
        o->process_label ? o->process_label : json_str(json_object_get(cfg_process, "selinuxLabel"));
    if (label)
        json_gen_kv_string(g, "selinuxLabel", label);
    yajl_gen_map_close(g);
    *out = json_gen_dup(g, NULL);
    yajl_gen_free(g);
    return 0;
}

int exec_load_process(const struct spec_config *cfg, const struct exec_opts *o, struct spec_process **out,
                      struct keel_error **err)
{
    cleanup_free char *text = NULL;
    size_t len = 0;
    if (o->process_file) {
        if (file_read_whole(o->process_file, 1 << 22, &text, &len, err) < 0)
            return error_prefix(err, "exec --process");
        return spec_parse_process(text, len, o->process_file, out, err);
    }
    if (exec_build_process_json(json_object_get(cfg->tree, "process"), o, &text, err) < 0)
        return -1;
    return spec_parse_process(text, strlen(text), "exec process", out, err);
}
