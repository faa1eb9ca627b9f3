/* Semantic checks of a parsed config, separate from parsing so that the
 * parser stays a faithful reader and the rules live in one place.  Every
 * message starts with "config.json: " and names the JSON path. */
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "spec_internal.h"
#include "xalloc.h"

#define CFG "config.json: "

static bool spec_is_abs(const char *p)
{
    return p && p[0] == '/';
}

static int spec_validate_version(const struct spec_config *cfg, struct keel_error **err)
{
    if (cfg->oci_version == NULL)
        return error_set(err, 0, CFG "ociVersion: missing required field");
    const char *v = cfg->oci_version;
    char *end = NULL;
    if (v[0] < '0' || v[0] > '9')
        return error_set(err, 0, CFG "ociVersion: \"%s\" is not a SemVer version", v);
    unsigned long major = strtoul(v, &end, 10);
    if (*end != '.')
        return error_set(err, 0, CFG "ociVersion: \"%s\" is not a SemVer version", v);
    if (major != 1)
        return error_set(err, 0, CFG "ociVersion: unsupported major version in \"%s\" (keel implements 1.x)",
                         v);
    return 0;
}

/* `where` starts every message: "config.json: process." or "process.json: ". */
static int spec_validate_process_at(const struct spec_process *p, const char *where, struct keel_error **err)
{
    if (p->args == NULL || p->args[0] == NULL)
        return error_set(err, 0, "%sargs: must contain at least one entry", where);
    if (p->cwd == NULL || p->cwd[0] == '\0')
        return error_set(err, 0, "%scwd: missing required field", where);
    if (!spec_is_abs(p->cwd))
        return error_set(err, 0, "%scwd: \"%s\" is not an absolute path", where, p->cwd);
    for (size_t i = 0; p->env && p->env[i]; i++)
        if (strchr(p->env[i], '=') == NULL)
            return error_set(err, 0, "%senv[%zu]: \"%s\" is not of the form NAME=VALUE", where, i, p->env[i]);
    for (size_t i = 0; i < p->n_rlimits; i++)
        if (p->rlimits[i].soft > p->rlimits[i].hard)
            return error_set(err, 0, "%srlimits[%zu]: soft limit %llu is above hard limit %llu", where, i,
                             (unsigned long long)p->rlimits[i].soft, (unsigned long long)p->rlimits[i].hard);
    const struct spec_scheduler *s = &p->scheduler;
    if (s->set && s->policy && strcmp(s->policy, "SCHED_DEADLINE") == 0 &&
        (!s->runtime.set || !s->deadline.set))
        return error_set(err, 0, "%sscheduler: SCHED_DEADLINE needs runtime and deadline", where);
    if (p->io_priority.set && (p->io_priority.priority < 0 || p->io_priority.priority > 7))
        return error_set(err, 0, "%sioPriority.priority: %lld is out of range (0 to 7)", where,
                         (long long)p->io_priority.priority);
    return 0;
}

int spec_validate_process(const struct spec_process *p, const char *name, struct keel_error **err)
{
    cleanup_free char *where = xasprintf("%s: ", name);
    return spec_validate_process_at(p, where, err);
}

static int spec_validate_hook_list(const struct spec_hook_list *l, const char *name, struct keel_error **err)
{
    for (size_t i = 0; i < l->n; i++)
        if (!spec_is_abs(l->items[i].path))
            return error_set(err, 0, CFG "hooks.%s[%zu].path: \"%s\" is not an absolute path", name, i,
                             l->items[i].path);
    return 0;
}

static int spec_validate_hooks(const struct spec_hooks *h, struct keel_error **err)
{
    if (spec_validate_hook_list(&h->prestart, "prestart", err) < 0 ||
        spec_validate_hook_list(&h->create_runtime, "createRuntime", err) < 0 ||
        spec_validate_hook_list(&h->create_container, "createContainer", err) < 0 ||
        spec_validate_hook_list(&h->start_container, "startContainer", err) < 0 ||
        spec_validate_hook_list(&h->poststart, "poststart", err) < 0 ||
        spec_validate_hook_list(&h->poststop, "poststop", err) < 0)
        return -1;
    return 0;
}

static bool spec_has_new_ns(const struct spec_linux *l, enum spec_ns_type t)
{
    const struct spec_namespace *ns = spec_find_namespace(l, t);
    return ns != NULL;
}

static int spec_validate_namespaces(const struct spec_config *cfg, const struct spec_linux *l,
                                    struct keel_error **err)
{
    for (size_t i = 0; i < l->n_namespaces; i++) {
        const struct spec_namespace *ns = &l->namespaces[i];
        for (size_t j = 0; j < i; j++)
            if (l->namespaces[j].type == ns->type)
                return error_set(err, 0, CFG "linux.namespaces[%zu]: duplicate namespace type \"%s\"", i,
                                 spec_ns_name(ns->type));
        if (ns->path && ns->path[0] && !spec_is_abs(ns->path))
            return error_set(err, 0, CFG "linux.namespaces[%zu].path: \"%s\" is not an absolute path", i,
                             ns->path);
    }
    const struct spec_namespace *user = spec_find_namespace(l, SPEC_NS_USER);
    bool joins_user = user && user->path && user->path[0];
    if (user && !joins_user) {
        if (l->n_uid_mappings == 0)
            return error_set(err, 0, CFG "linux.uidMappings: a new user namespace needs uid mappings");
        if (l->n_gid_mappings == 0)
            return error_set(err, 0, CFG "linux.gidMappings: a new user namespace needs gid mappings");
    }
    /* With a joined user namespace the mappings describe it (containerd
     * writes both for pods with user namespaces), so only mappings without
     * any user namespace are an error. */
    if ((l->n_uid_mappings || l->n_gid_mappings) && user == NULL)
        return error_set(err, 0,
                         CFG "linux.uidMappings: mappings are set but no user namespace is requested");
    const struct spec_namespace *time_ns = spec_find_namespace(l, SPEC_NS_TIME);
    if ((l->time_offset_monotonic.set || l->time_offset_boottime.set) &&
        (time_ns == NULL || (time_ns->path && time_ns->path[0])))
        return error_set(err, 0, CFG "linux.timeOffsets: offsets need a new time namespace");
    if (cfg->hostname && cfg->hostname[0] && !spec_has_new_ns(l, SPEC_NS_UTS))
        return error_set(err, 0, CFG "hostname: setting the hostname needs a UTS namespace");
    if (cfg->domainname && cfg->domainname[0] && !spec_has_new_ns(l, SPEC_NS_UTS))
        return error_set(err, 0, CFG "domainname: setting the domainname needs a UTS namespace");
    return 0;
}

/* The sysctls the kernel namespaces, and the namespace each needs. */
static int spec_sysctl_namespace(const char *key)
{
    static const char *const ipc[] = {"kernel.msgmax", "kernel.msgmnb",          "kernel.msgmni",
                                      "kernel.sem",    "kernel.shmall",          "kernel.shmmax",
                                      "kernel.shmmni", "kernel.shm_rmid_forced", NULL};
    for (size_t i = 0; ipc[i]; i++)
        if (strcmp(key, ipc[i]) == 0)
            return SPEC_NS_IPC;
    if (strncmp(key, "fs.mqueue.", 10) == 0)
        return SPEC_NS_IPC;
    if (strncmp(key, "net.", 4) == 0)
        return SPEC_NS_NETWORK;
    if (strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0)
        return SPEC_NS_UTS;
    return -1;
}

static int spec_validate_sysctl(const struct spec_linux *l, struct keel_error **err)
{
    for (size_t i = 0; i < l->sysctl.n; i++) {
        const char *key = l->sysctl.items[i].key;
        int ns = spec_sysctl_namespace(key);
        if (ns < 0)
            return error_set(err, 0, CFG "linux.sysctl.%s: not a namespaced sysctl; it would change the host",
                             key);
        const struct spec_namespace *entry = spec_find_namespace(l, (enum spec_ns_type)ns);
        if (entry == NULL)
            return error_set(err, 0, CFG "linux.sysctl.%s: needs a %s namespace", key,
                             spec_ns_name((enum spec_ns_type)ns));
    }
    return 0;
}

static int spec_validate_paths(char *const *v, const char *name, struct keel_error **err)
{
    for (size_t i = 0; v && v[i]; i++)
        if (!spec_is_abs(v[i]))
            return error_set(err, 0, CFG "linux.%s[%zu]: \"%s\" is not an absolute path", name, i, v[i]);
    return 0;
}

static int spec_validate_seccomp(const struct spec_seccomp *s, struct keel_error **err)
{
    /* Configs built in code (not parsed) may leave required names NULL. */
    if (s->default_action == NULL)
        return error_set(err, 0, CFG "linux.seccomp.defaultAction: missing required field");
    bool notify = strcmp(s->default_action, "SCMP_ACT_NOTIFY") == 0;
    if (notify)
        return error_set(err, 0,
                         CFG "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    for (size_t i = 0; i < s->n_syscalls; i++) {
        const struct spec_seccomp_syscall *c = &s->syscalls[i];
        if (c->names == NULL || c->names[0] == NULL)
            return error_set(err, 0, CFG "linux.seccomp.syscalls[%zu].names: must contain at least one name",
                             i);
        if (c->action == NULL)
            return error_set(err, 0, CFG "linux.seccomp.syscalls[%zu].action: missing required field", i);
        if (strcmp(c->action, "SCMP_ACT_NOTIFY") == 0)
            notify = true;
    }
    if (notify && (s->listener_path == NULL || s->listener_path[0] == '\0'))
        return error_set(err, 0, CFG "linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listener path");
    if (s->listener_path && s->listener_path[0] && !spec_is_abs(s->listener_path))
        return error_set(err, 0, CFG "linux.seccomp.listenerPath: \"%s\" is not an absolute path",
                         s->listener_path);
    return 0;
}

static int spec_validate_linux(const struct spec_config *cfg, const struct spec_linux *l,
                               struct keel_error **err)
{
    if (spec_validate_namespaces(cfg, l, err) < 0 || spec_validate_sysctl(l, err) < 0)
        return -1;
    for (size_t i = 0; i < l->n_devices; i++)
        if (!spec_is_abs(l->devices[i].path))
            return error_set(err, 0, CFG "linux.devices[%zu].path: \"%s\" is not an absolute path", i,
                             l->devices[i].path);
    if (spec_validate_paths(l->masked_paths, "maskedPaths", err) < 0 ||
        spec_validate_paths(l->readonly_paths, "readonlyPaths", err) < 0)
        return -1;
    if (l->seccomp && spec_validate_seccomp(l->seccomp, err) < 0)
        return -1;
    if (l->cgroups_path && l->cgroups_path[0] && strstr(l->cgroups_path, "..")) {
        /* A cgroupsPath must not climb out of the cgroup hierarchy. */
        cleanup_free char *copy = xstrdup(l->cgroups_path);
        for (char *save = NULL, *tok = strtok_r(copy, "/:", &save); tok; tok = strtok_r(NULL, "/:", &save))
            if (strcmp(tok, "..") == 0)
                return error_set(err, 0, CFG "linux.cgroupsPath: \"%s\" must not contain \"..\"",
                                 l->cgroups_path);
    }
    return 0;
}

int spec_validate_config(const struct spec_config *cfg, struct keel_error **err)
{
    if (spec_validate_version(cfg, err) < 0)
        return -1;
    if (cfg->root.path == NULL || cfg->root.path[0] == '\0')
        return error_set(err, 0, CFG "root.path: missing required field");
    for (size_t i = 0; i < cfg->n_mounts; i++)
        /* Relative destinations are deprecated but allowed (runtime-spec
         * 1.2, runc): they are taken relative to the container's "/". */
        if (cfg->mounts[i].destination == NULL || cfg->mounts[i].destination[0] == '\0')
            return error_set(err, 0, CFG "mounts[%zu].destination: must not be empty", i);
    if (cfg->process && spec_validate_process_at(cfg->process, CFG "process.", err) < 0)
        return -1;
    if (spec_validate_hooks(&cfg->hooks, err) < 0)
        return -1;
    if (cfg->linux) {
        if (spec_validate_linux(cfg, cfg->linux, err) < 0)
            return -1;
    } else if (cfg->hostname && cfg->hostname[0]) {
        return error_set(err, 0, CFG "hostname: setting the hostname needs a UTS namespace");
    } else if (cfg->domainname && cfg->domainname[0]) {
        return error_set(err, 0, CFG "domainname: setting the domainname needs a UTS namespace");
    }
    return spec_check_supported(cfg, err);
}
