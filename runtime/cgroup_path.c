/* cgroupsPath resolution and lookups in the hierarchy list. */
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "runtime/cgroup_internal.h"
#include "strbuf.h"
#include "xalloc.h"

int cgroup_path_resolve(const char *cgroups_path, const char *id, char **out, struct keel_error **err)
{
    if (!cgroups_path || cgroups_path[0] == '\0') {
        *out = xasprintf("/keel/%s", id);
        return 0;
    }
    /* Normalise: collapse "//" and "/./", refuse ".." (it would escape the
     * hierarchy) and keep a leading "/" only for absolute paths. */
    struct strbuf sb = STRBUF_INIT;
    bool absolute = cgroups_path[0] == '/';
    cleanup_free char *copy = xstrdup(cgroups_path);
    char *save = NULL;
    for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (strcmp(t, ".") == 0)
            continue;
        if (strcmp(t, "..") == 0) {
            strbuf_release(&sb);
            return error_set(err, EINVAL, "linux.cgroupsPath `%s`: \"..\" is not allowed", cgroups_path);
        }
        if (sb.len || absolute)
            strbuf_putc(&sb, '/');
        strbuf_puts(&sb, t);
    }
    if (sb.len == 0) {
        strbuf_release(&sb);
        return error_set(err, EINVAL,
                         "linux.cgroupsPath `%s`: names the root cgroup, which a container cannot own",
                         cgroups_path);
    }
    *out = strbuf_detach(&sb);
    return 0;
}

int cgroup_path_parse_systemd(const char *cgroups_path, const char *id, char **slice, char **unit,
                              struct keel_error **err)
{
    if (!cgroups_path || cgroups_path[0] == '\0') {
        *slice = xstrdup("system.slice");
        *unit = xasprintf("keel-%s.scope", id);
        return 0;
    }
    const char *c1 = strchr(cgroups_path, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || strchr(c2 + 1, ':') || strchr(cgroups_path, '/'))
        return error_set(err, EINVAL,
                         "linux.cgroupsPath `%s`: the systemd cgroup driver expects \"slice:prefix:name\"",
                         cgroups_path);
    cleanup_free char *s = xstrndup(cgroups_path, (size_t)(c1 - cgroups_path));
    cleanup_free char *prefix = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
    const char *name = c2 + 1;
    if (s[0] && (strlen(s) < 7 || strcmp(s + strlen(s) - 6, ".slice") != 0))
        return error_set(err, EINVAL, "linux.cgroupsPath `%s`: slice `%s` does not end in \".slice\"",
                         cgroups_path, s);
    *slice = s[0] ? steal_ptr(&s) : xstrdup("system.slice");
    size_t nl = strlen(name);
    if (nl > 6 && strcmp(name + nl - 6, ".slice") == 0)
        *unit = xstrdup(name);
    else if (prefix[0])
        *unit = xasprintf("%s-%s.scope", prefix, name[0] ? name : id);
    else
        *unit = xasprintf("%s.scope", name[0] ? name : id);
    return 0;
}

struct cgroup_hier *cgroup_find_hier(struct cgroup_manager *m, const char *c)
{
    struct cgroup_hier *v2 = NULL;
    for (size_t i = 0; i < m->n_hiers; i++) {
        if (!cgroup_hier_has(&m->hiers[i], c))
            continue;
        if (!m->hiers[i].v2)
            return &m->hiers[i];
        v2 = &m->hiers[i];
    }
    return v2;
}

struct cgroup_hier *cgroup_main_hier(struct cgroup_manager *m)
{
    if (m->n_hiers == 0)
        return NULL;
    const char *pref[] = {"freezer", "pids", "memory"};
    for (size_t i = 0; i < sizeof(pref) / sizeof(pref[0]); i++) {
        struct cgroup_hier *h = cgroup_find_hier(m, pref[i]);
        if (h && !h->v2)
            return h;
    }
    for (size_t i = 0; i < m->n_hiers; i++)
        if (m->hiers[i].v2)
            return &m->hiers[i];
    return &m->hiers[0];
}
