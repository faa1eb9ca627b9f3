/* config.json from an image config (image-spec conversion.md) on top of the
 * secure defaults `keel spec` (and `runc spec`) writes (oci_defaults.h), so
 * that a bundle made here runs exactly like one made by hand. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "convert.h"
#include "error.h"
#include "imageconfig.h"
#include "layer_owner.h"
#include "oci_defaults.h"
#include "strbuf.h"
#include "xalloc.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* NAME of NAME=VALUE equals that of other. */
static bool env_same_name(const char *a, const char *b)
{
    size_t la = strcspn(a, "="), lb = strcspn(b, "=");
    return la == lb && strncmp(a, b, la) == 0;
}

static void env_set(char ***env, size_t *n, const char *kv)
{
    for (size_t i = 0; i < *n; i++) {
        if (env_same_name((*env)[i], kv)) {
            free((*env)[i]);
            (*env)[i] = xstrdup(kv);
            return;
        }
    }
    *env = xrealloc(*env, (*n + 2) * sizeof(char *));
    (*env)[(*n)++] = xstrdup(kv);
    (*env)[*n] = NULL;
}

static char **convert_env(const struct image_config *ic, const struct convert_opts *o)
{
    char **env = xcalloc(1, sizeof(char *));
    size_t n = 0;
    bool has_path = false;
    for (size_t i = 0; ic->env && ic->env[i]; i++) {
        env_set(&env, &n, ic->env[i]);
        has_path |= env_same_name(ic->env[i], "PATH=");
    }
    /* Additions may not change what the image set (conversion.md note 1). */
    if (!has_path)
        env_set(&env, &n, DEFAULT_PATH);
    if (o->terminal) {
        bool has_term = false;
        for (size_t i = 0; i < n; i++)
            has_term |= env_same_name(env[i], "TERM=");
        if (!has_term)
            env_set(&env, &n, "TERM=xterm");
    }
    for (size_t i = 0; o->env && o->env[i]; i++)
        env_set(&env, &n, o->env[i]);
    return env;
}

static char **convert_args(const struct image_config *ic, const struct convert_opts *o,
                           struct keel_error **err)
{
    char *const *cmd = o->args && o->args[0] ? o->args : ic->cmd;
    size_t n = strv_len(ic->entrypoint) + strv_len(cmd);
    if (n == 0) {
        error_set(err, EINVAL, "the image has neither config.Entrypoint nor config.Cmd: give a command");
        return NULL;
    }
    char **args = xcalloc(n + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; ic->entrypoint && ic->entrypoint[i]; i++)
        args[k++] = xstrdup(ic->entrypoint[i]);
    for (size_t i = 0; cmd && cmd[i]; i++)
        args[k++] = xstrdup(cmd[i]);
    return args;
}

struct kv_list {
    struct image_kv *items;
    size_t n;
};

static void kv_set(struct kv_list *l, const char *key, const char *value)
{
    if (!value)
        return;
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].key, key) == 0) {
            free(l->items[i].value);
            l->items[i].value = xstrdup(value);
            return;
        }
    }
    l->items = xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
    l->items[l->n].key = xstrdup(key);
    l->items[l->n++].value = xstrdup(value);
}

static void kv_release(struct kv_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
}

static char *join_strv(char *const *v)
{
    if (!v)
        return NULL;
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; v[i]; i++) {
        if (i)
            strbuf_putc(&sb, ',');
        strbuf_puts(&sb, v[i]);
    }
    return strbuf_detach(&sb);
}

static void convert_annotations(const struct image_config *ic, struct kv_list *a)
{
    kv_set(a, "org.opencontainers.image.os", ic->os);
    kv_set(a, "org.opencontainers.image.architecture", ic->architecture);
    kv_set(a, "org.opencontainers.image.variant", ic->variant);
    kv_set(a, "org.opencontainers.image.os.version", ic->os_version);
    cleanup_free char *features = join_strv(ic->os_features);
    kv_set(a, "org.opencontainers.image.os.features", features);
    kv_set(a, "org.opencontainers.image.author", ic->author);
    kv_set(a, "org.opencontainers.image.created", ic->created);
    kv_set(a, "org.opencontainers.image.stopSignal", ic->stop_signal);
    cleanup_free char *ports = join_strv(ic->exposed_ports);
    kv_set(a, "org.opencontainers.image.exposedPorts", ports);
    /* Volumes: no standard key; recorded so that callers can mount them. */
    cleanup_free char *volumes = join_strv(ic->volumes);
    kv_set(a, "io.keel.hoist.volumes", volumes);
    /* Labels take precedence over every implicit annotation. */
    for (size_t i = 0; i < ic->n_labels; i++)
        kv_set(a, ic->labels[i].key, ic->labels[i].value);
}

/* The given maps in the shared generator's form (caller frees). */
static struct oci_id_mapping *convert_idmap(const struct idmap *m, size_t *n)
{
    *n = m ? m->n : 0;
    if (*n == 0)
        return NULL;
    struct oci_id_mapping *out = xcalloc(*n, sizeof(*out));
    for (size_t i = 0; i < *n; i++)
        out[i] = (struct oci_id_mapping){m->ranges[i].container, m->ranges[i].host, m->ranges[i].size};
    return out;
}

int convert_image_config(const struct image_config *ic, int rootfd, const struct convert_opts *o, char **json,
                         size_t *len, struct keel_error **err)
{
    cleanup_strv char **args = convert_args(ic, o, err);
    if (!args)
        return -1;
    cleanup_strv char **env = convert_env(ic, o);
    const char *wd = o->cwd && o->cwd[0]                     ? o->cwd
                     : ic->working_dir && ic->working_dir[0] ? ic->working_dir
                                                             : "/";
    cleanup_free char *cwd = wd[0] == '/' ? xstrdup(wd) : xasprintf("/%s", wd);
    struct convert_user user;
    if (convert_resolve_user(rootfd, o->user ? o->user : ic->user, &user, err) < 0)
        return -1;
    struct kv_list annotations = {NULL, 0};
    convert_annotations(ic, &annotations);

    cleanup_free struct oci_annotation *ann = xcalloc(annotations.n + 1, sizeof(*ann));
    for (size_t i = 0; i < annotations.n; i++)
        ann[i] = (struct oci_annotation){annotations.items[i].key, annotations.items[i].value};
    struct oci_defaults d = {
        .terminal = o->terminal,
        .uid = user.uid,
        .gid = user.gid,
        .additional_gids = user.additional_gids,
        .n_additional_gids = user.n_additional_gids,
        .args = (const char *const *)args,
        .env = (const char *const *)env,
        .cwd = cwd,
        .readonly_root = !o->writable_root,
        .rootless = o->rootless,
        .user_namespace = (o->uid_map && o->uid_map->n) || (o->gid_map && o->gid_map->n),
        .self_uid = (uint32_t)geteuid(),
        .self_gid = (uint32_t)getegid(),
        .annotations = ann,
        .n_annotations = annotations.n,
    };
    cleanup_free struct oci_id_mapping *uids = convert_idmap(o->uid_map, &d.n_uid_mappings);
    cleanup_free struct oci_id_mapping *gids = convert_idmap(o->gid_map, &d.n_gid_mappings);
    d.uid_mappings = uids;
    d.gid_mappings = gids;
    *json = oci_defaults_config_json(&d, len);
    kv_release(&annotations);
    convert_user_release(&user);
    return 0;
}
