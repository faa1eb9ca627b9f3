/* config.json from an image config.  Everything conversion.md does not
 * decide is the secure default `keel spec` (and `runc spec`) writes, so
 * that a bundle made here runs exactly like one made by hand. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "convert.h"
#include "error.h"
#include "imageconfig.h"
#include "json.h"
#include "layer_owner.h"
#include "strbuf.h"
#include "xalloc.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *const default_caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL};
static const char *const masked_paths[] = {"/proc/acpi",
                                           "/proc/asound",
                                           "/proc/kcore",
                                           "/proc/keys",
                                           "/proc/latency_stats",
                                           "/proc/timer_list",
                                           "/proc/timer_stats",
                                           "/proc/sched_debug",
                                           "/sys/firmware",
                                           "/proc/scsi",
                                           NULL};
static const char *const readonly_paths[] = {"/proc/bus",           "/proc/fs", "/proc/irq", "/proc/sys",
                                             "/proc/sysrq-trigger", NULL};

static void gen_strv(yajl_gen g, const char *const *v)
{
    yajl_gen_array_open(g);
    for (; v && *v; v++)
        json_gen_string(g, *v);
    yajl_gen_array_close(g);
}

static void gen_mount(yajl_gen g, const char *dest, const char *type, const char *source,
                      const char *const *options)
{
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "destination", dest);
    json_gen_kv_string(g, "type", type);
    json_gen_kv_string(g, "source", source);
    if (options) {
        json_gen_key(g, "options");
        gen_strv(g, options);
    }
    yajl_gen_map_close(g);
}

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

static void gen_idmap(yajl_gen g, const char *key, const struct idmap *m, uint32_t self)
{
    json_gen_key(g, key);
    yajl_gen_array_open(g);
    if (m && m->n) {
        for (size_t i = 0; i < m->n; i++) {
            yajl_gen_map_open(g);
            json_gen_kv_int(g, "containerID", m->ranges[i].container);
            json_gen_kv_int(g, "hostID", m->ranges[i].host);
            json_gen_kv_int(g, "size", m->ranges[i].size);
            yajl_gen_map_close(g);
        }
    } else {
        yajl_gen_map_open(g);
        json_gen_kv_int(g, "containerID", 0);
        json_gen_kv_int(g, "hostID", self);
        json_gen_kv_int(g, "size", 1);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

static void gen_process(yajl_gen g, const struct convert_opts *o, char **args, char **env, const char *cwd,
                        const struct convert_user *u)
{
    json_gen_key(g, "process");
    yajl_gen_map_open(g);
    json_gen_kv_bool(g, "terminal", o->terminal);
    json_gen_key(g, "user");
    yajl_gen_map_open(g);
    json_gen_kv_int(g, "uid", u->uid);
    json_gen_kv_int(g, "gid", u->gid);
    if (u->n_additional_gids) {
        json_gen_key(g, "additionalGids");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < u->n_additional_gids; i++)
            yajl_gen_integer(g, u->additional_gids[i]);
        yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
    json_gen_key(g, "args");
    gen_strv(g, (const char *const *)args);
    json_gen_key(g, "env");
    gen_strv(g, (const char *const *)env);
    json_gen_kv_string(g, "cwd", cwd);
    json_gen_key(g, "capabilities");
    yajl_gen_map_open(g);
    static const char *const sets[] = {"bounding", "effective", "permitted", "ambient"};
    for (size_t i = 0; i < 4; i++) {
        json_gen_key(g, sets[i]);
        gen_strv(g, default_caps);
    }
    yajl_gen_map_close(g);
    json_gen_key(g, "rlimits");
    yajl_gen_array_open(g);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "type", "RLIMIT_NOFILE");
    json_gen_kv_int(g, "hard", 1024);
    json_gen_kv_int(g, "soft", 1024);
    yajl_gen_map_close(g);
    yajl_gen_array_close(g);
    json_gen_kv_bool(g, "noNewPrivileges", true);
    yajl_gen_map_close(g);
}

static void gen_mounts(yajl_gen g, bool rootless)
{
    json_gen_key(g, "mounts");
    yajl_gen_array_open(g);
    gen_mount(g, "/proc", "proc", "proc", NULL);
    gen_mount(g, "/dev", "tmpfs", "tmpfs",
              (const char *const[]){"nosuid", "strictatime", "mode=755", "size=65536k", NULL});
    if (rootless)
        gen_mount(
            g, "/dev/pts", "devpts", "devpts",
            (const char *const[]){"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", NULL});
    else
        gen_mount(g, "/dev/pts", "devpts", "devpts",
                  (const char *const[]){"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                                        "gid=5", NULL});
    gen_mount(g, "/dev/shm", "tmpfs", "shm",
              (const char *const[]){"nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL});
    gen_mount(g, "/dev/mqueue", "mqueue", "mqueue", (const char *const[]){"nosuid", "noexec", "nodev", NULL});
    if (rootless) /* sysfs cannot be mounted without owning the network namespace */
        gen_mount(g, "/sys", "none", "/sys",
                  (const char *const[]){"rbind", "nosuid", "noexec", "nodev", "ro", NULL});
    else
        gen_mount(g, "/sys", "sysfs", "sysfs",
                  (const char *const[]){"nosuid", "noexec", "nodev", "ro", NULL});
    gen_mount(g, "/sys/fs/cgroup", "cgroup", "cgroup",
              (const char *const[]){"nosuid", "noexec", "nodev", "relatime", "ro", NULL});
    yajl_gen_array_close(g);
}

static void gen_linux(yajl_gen g, const struct convert_opts *o)
{
    bool userns = o->rootless || (o->uid_map && o->uid_map->n) || (o->gid_map && o->gid_map->n);
    json_gen_key(g, "linux");
    yajl_gen_map_open(g);
    if (userns) {
        gen_idmap(g, "uidMappings", o->uid_map, (uint32_t)geteuid());
        gen_idmap(g, "gidMappings", o->gid_map, (uint32_t)getegid());
    }
    if (!o->rootless) {
        json_gen_key(g, "resources");
        yajl_gen_map_open(g);
        json_gen_key(g, "devices");
        yajl_gen_array_open(g);
        yajl_gen_map_open(g);
        json_gen_kv_bool(g, "allow", false);
        json_gen_kv_string(g, "access", "rwm");
        yajl_gen_map_close(g);
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
    }
    json_gen_key(g, "namespaces");
    yajl_gen_array_open(g);
    const char *ns_root[] = {"pid", "network", "ipc", "uts", "mount", NULL};
    const char *ns_userns[] = {"pid", "ipc", "uts", "mount", "user", NULL};
    const char *ns_mapped[] = {"pid", "network", "ipc", "uts", "mount", "user", NULL};
    const char **ns = o->rootless ? ns_userns : userns ? ns_mapped : ns_root;
    for (; *ns; ns++) {
        yajl_gen_map_open(g);
        json_gen_kv_string(g, "type", *ns);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    json_gen_key(g, "maskedPaths");
    gen_strv(g, masked_paths);
    json_gen_key(g, "readonlyPaths");
    gen_strv(g, readonly_paths);
    yajl_gen_map_close(g);
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

    yajl_gen g = json_gen_new(true);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "ociVersion", KEEL_OCI_VERSION);
    gen_process(g, o, args, env, cwd, &user);
    json_gen_key(g, "root");
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "path", "rootfs");
    json_gen_kv_bool(g, "readonly", !o->writable_root);
    yajl_gen_map_close(g);
    json_gen_kv_string(g, "hostname", "keel");
    gen_mounts(g, o->rootless);
    if (annotations.n) {
        json_gen_key(g, "annotations");
        yajl_gen_map_open(g);
        for (size_t i = 0; i < annotations.n; i++)
            json_gen_kv_string(g, annotations.items[i].key, annotations.items[i].value);
        yajl_gen_map_close(g);
    }
    gen_linux(g, o);
    yajl_gen_map_close(g);
    *json = json_gen_dup(g, len);
    yajl_gen_free(g);
    kv_release(&annotations);
    convert_user_release(&user);
    return 0;
}
