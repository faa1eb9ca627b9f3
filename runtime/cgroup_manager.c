/* The public cgroup interface: choosing a backend, dispatching to it, and
 * saving/loading the manager for state.json. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "json.h"
#include "runtime/cgroup_internal.h"
#include "runtime/cgroup_systemd.h"
#include "runtime/spec.h"
#include "xalloc.h"

static const struct cgroup_ops *const all_ops[] = {&cgroup_ops_fs_v1, &cgroup_ops_fs_v2, &cgroup_ops_none,
                                                   &cgroup_ops_systemd};

void cgroup_manager_free(struct cgroup_manager *m)
{
    if (!m)
        return;
    free(m->path);
    cgroup_hiers_free(m->hiers, m->n_hiers);
    free(m);
}

void cgroup_manager_freep(struct cgroup_manager **m)
{
    cgroup_manager_free(*m);
}

static struct cgroup_manager *manager_none(void)
{
    struct cgroup_manager *m = xzalloc(sizeof(*m));
    m->ops = &cgroup_ops_none;
    return m;
}

/* The deepest existing ancestor of path (path itself when it exists). */
static char *existing_ancestor(const char *path)
{
    char *p = xstrdup(path);
    while (access(p, F_OK) < 0) {
        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
            break;
        *slash = '\0';
    }
    return p;
}

/* Rootless: cgroups are usable only where the tree was delegated to us. */
static bool delegated(const struct cgroup_manager *m)
{
    for (size_t i = 0; i < m->n_hiers; i++) {
        cleanup_free char *anc = existing_ancestor(m->hiers[i].dir);
        if (access(anc, W_OK) < 0)
            return false;
    }
    return true;
}

/* A manager holding every mounted hierarchy (none is not an error here:
 * the callers decide what an empty host means). */
int cgroup_manager_detect(struct cgroup_manager **out, struct keel_error **err)
{
    struct cgroup_hier *hiers = NULL;
    size_t n = 0;
    if (cgroup_detect_hierarchies(&hiers, &n, err) < 0)
        return -1;
    struct cgroup_manager *m = xzalloc(sizeof(*m));
    m->hiers = hiers;
    m->n_hiers = n;
    *out = m;
    return 0;
}

int cgroup_manager_new(const struct spec_config *cfg, const char *container_id, bool systemd, bool rootless,
                       struct cgroup_manager **out, struct keel_error **err)
{
    const char *cgroups_path = cfg && cfg->linux ? cfg->linux->cgroups_path : NULL;
    if (systemd)
        return cgroup_systemd_new(cgroups_path, container_id, out, err);

    cleanup_cgroup_manager struct cgroup_manager *m = NULL;
    if (cgroup_manager_detect(&m, err) < 0)
        return -1;
    struct cgroup_hier *hiers = m->hiers;
    size_t n = m->n_hiers;
    if (n == 0) {
        if (rootless) {
            *out = manager_none();
            return 0;
        }
        return error_set(err, ENOENT, "no cgroup hierarchy is mounted (looked in `/proc/self/mountinfo`)");
    }
    m->ops = n == 1 && hiers[0].v2 ? &cgroup_ops_fs_v2 : &cgroup_ops_fs_v1;
    if (cgroup_path_resolve(cgroups_path, container_id, &m->path, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct cgroup_hier *h = &hiers[i];
        if (m->path[0] == '/') {
            h->dir = xasprintf("%s%s", h->mountpoint, m->path);
            continue;
        }
        /* relative: below the caller's own cgroup in this hierarchy, as runc does */
        cleanup_free char *own = NULL;
        if (cgroup_detect_own_path(h, &own, err) < 0)
            return error_prefix(err, "resolving linux.cgroupsPath `%s`", m->path);
        h->dir = xasprintf("%s%s/%s", h->mountpoint, strcmp(own, "/") == 0 ? "" : own, m->path);
    }
    if (rootless && !delegated(m)) {
        *out = manager_none();
        return 0;
    }
    m->rootless = rootless && geteuid() != 0;
    *out = steal_ptr(&m);
    return 0;
}

int cgroup_enter(struct cgroup_manager *m, pid_t pid, struct keel_error **err)
{
    return m->ops->enter(m, pid, err);
}

int cgroup_join(struct cgroup_manager *m, pid_t pid, struct keel_error **err)
{
    return m->ops->join(m, pid, err);
}

int cgroup_apply_resources(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err)
{
    return m->ops->apply(m, r, err);
}

int cgroup_destroy(struct cgroup_manager *m, struct keel_error **err)
{
    return m->ops->destroy(m, err);
}

int cgroup_freeze(struct cgroup_manager *m, bool frozen, struct keel_error **err)
{
    return m->ops->freeze(m, frozen, err);
}

int cgroup_is_frozen(struct cgroup_manager *m, bool *frozen, struct keel_error **err)
{
    return m->ops->is_frozen(m, frozen, err);
}

int cgroup_get_pids(struct cgroup_manager *m, pid_t **pids, size_t *n, struct keel_error **err)
{
    return m->ops->get_pids(m, pids, n, err);
}

int cgroup_kill_all(struct cgroup_manager *m, int sig, struct keel_error **err)
{
    return m->ops->kill_all(m, sig, err);
}

int cgroup_get_stats(struct cgroup_manager *m, struct cgroup_stats *out, struct keel_error **err)
{
    memset(out, 0, sizeof(*out));
    return m->ops->stats(m, out, err);
}

void cgroup_stats_clear(struct cgroup_stats *s)
{
    free(s->cpu.percpu);
    for (size_t i = 0; i < s->memory.n_raw; i++)
        free(s->memory.raw[i].key);
    free(s->memory.raw);
    free(s->blkio.service_bytes);
    free(s->blkio.serviced);
    free(s->hugetlb);
    memset(s, 0, sizeof(*s));
}

int cgroup_oom_watch_open(struct cgroup_manager *m, struct cgroup_oom_watch **out, struct keel_error **err)
{
    return m->ops->oom_open(m, out, err);
}

const char *cgroup_get_path(const struct cgroup_manager *m)
{
    return m->path;
}

int cgroup_get_mounts(struct cgroup_manager *m, struct cgroup_mount_entry **out, size_t *n,
                      struct keel_error **err)
{
    (void)err;
    struct cgroup_mount_entry *v = xcalloc(m->n_hiers ? m->n_hiers : 1, sizeof(*v));
    /* only cgroup2 mounted (the v2 backend, or systemd on a unified host) */
    bool pure_v2 = m->n_hiers == 1 && m->hiers[0].v2;
    for (size_t i = 0; i < m->n_hiers; i++) {
        const struct cgroup_hier *h = &m->hiers[i];
        const char *base = strrchr(h->mountpoint, '/');
        v[i].name = xstrdup(pure_v2 ? "" : base ? base + 1 : h->mountpoint);
        v[i].fstype = xstrdup(h->v2 ? "cgroup2" : "cgroup");
        if (h->v2)
            v[i].options = xstrdup("");
        else if (strncmp(h->controllers, "name=", 5) == 0)
            v[i].options = xasprintf("none,%s", h->controllers);
        else
            v[i].options = xstrdup(h->controllers);
        v[i].host_dir = h->dir ? xstrdup(h->dir) : NULL;
    }
    *out = v;
    *n = m->n_hiers;
    return 0;
}

int cgroup_find_mounts(bool own_dirs, struct cgroup_mount_entry **out, size_t *n, struct keel_error **err)
{
    cleanup_cgroup_manager struct cgroup_manager *m = NULL;
    if (cgroup_manager_detect(&m, err) < 0)
        return -1;
    for (size_t i = 0; own_dirs && i < m->n_hiers; i++) {
        struct cgroup_hier *h = &m->hiers[i];
        cleanup_free char *own = NULL;
        cleanup_error struct keel_error *ignored = NULL;
        if (cgroup_detect_own_path(h, &own, &ignored) == 0)
            h->dir = xasprintf("%s%s", h->mountpoint, strcmp(own, "/") == 0 ? "" : own);
    }
    return cgroup_get_mounts(m, out, n, err);
}

void cgroup_mounts_free(struct cgroup_mount_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].fstype);
        free(v[i].options);
        free(v[i].host_dir);
    }
    free(v);
}

char *cgroup_manager_save(const struct cgroup_manager *m)
{
    yajl_gen g = json_gen_new(false);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "driver", m->ops->name);
    if (m->path)
        json_gen_kv_string(g, "path", m->path);
    json_gen_kv_bool(g, "devicesApplied", m->devices_applied);
    if (m->rootless)
        json_gen_kv_bool(g, "rootless", true);
    json_gen_key(g, "hierarchies");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < m->n_hiers; i++) {
        yajl_gen_map_open(g);
        json_gen_kv_string(g, "mount", m->hiers[i].mountpoint);
        json_gen_kv_string(g, "controllers", m->hiers[i].controllers);
        json_gen_kv_bool(g, "v2", m->hiers[i].v2);
        json_gen_kv_string(g, "dir", m->hiers[i].dir);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    char *s = json_gen_dup(g, NULL);
    yajl_gen_free(g);
    return s;
}

int cgroup_manager_load(const char *saved, struct cgroup_manager **out, struct keel_error **err)
{
    cleanup_json yajl_val root = NULL;
    if (json_parse(saved, strlen(saved), "cgroup state", &root, err) < 0)
        return -1;
    cleanup_free char *driver = NULL;
    if (json_get_string(json_object_get(root, "driver"), "cgroup.driver", &driver, err) < 0)
        return error_prefix(err, "cgroup state");
    cleanup_cgroup_manager struct cgroup_manager *m = xzalloc(sizeof(*m));
    for (size_t i = 0; i < sizeof(all_ops) / sizeof(all_ops[0]); i++)
        if (strcmp(all_ops[i]->name, driver) == 0)
            m->ops = all_ops[i];
    if (!m->ops)
        return error_set(err, EINVAL, "cgroup state: unknown driver \"%s\"", driver);
    yajl_val v = json_object_get(root, "path");
    if (v && json_get_string(v, "cgroup.path", &m->path, err) < 0)
        return error_prefix(err, "cgroup state");
    m->rootless = YAJL_IS_TRUE(json_object_get(root, "rootless"));
    v = json_object_get(root, "devicesApplied");
    if (v && json_get_bool(v, "cgroup.devicesApplied", &m->devices_applied, err) < 0)
        return error_prefix(err, "cgroup state");
    yajl_val arr = json_object_get(root, "hierarchies");
    if (json_expect_array(arr, "cgroup.hierarchies", err) < 0)
        return error_prefix(err, "cgroup state");
    size_t n = arr->u.array.len;
    m->hiers = xcalloc(n ? n : 1, sizeof(*m->hiers));
    for (size_t i = 0; i < n; i++, m->n_hiers++) {
        yajl_val h = arr->u.array.values[i];
        struct cgroup_hier *d = &m->hiers[i];
        if (json_get_string(json_object_get(h, "mount"), "cgroup.hierarchies[].mount", &d->mountpoint, err) <
                0 ||
            json_get_string(json_object_get(h, "controllers"), "cgroup.hierarchies[].controllers",
                            &d->controllers, err) < 0 ||
            json_get_bool(json_object_get(h, "v2"), "cgroup.hierarchies[].v2", &d->v2, err) < 0 ||
            json_get_string(json_object_get(h, "dir"), "cgroup.hierarchies[].dir", &d->dir, err) < 0) {
            m->n_hiers++;
            return error_prefix(err, "cgroup state");
        }
    }
    *out = steal_ptr(&m);
    return 0;
}
