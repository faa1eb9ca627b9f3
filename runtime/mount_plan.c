#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "cleanup.h"
#include "error.h"
#include "mount_plan.h"
#include "spec.h"
#include "strbuf.h"
#include "xalloc.h"

/* Files below /proc that may be covered from elsewhere (lxcfs and the like
 * provide them); anything else under /proc may only come from a procfs, so
 * no mount can hide or replace the kernel's view (runc keeps the same list). */
static const char *const proc_allowed_targets[] = {
    "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo",  "/proc/stat",    "/proc/swaps",
    "/proc/uptime",  "/proc/loadavg",   "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
};

char *mount_clean_path(const char *path)
{
    size_t len = strlen(path);
    char *out = xmalloc(len + 2);
    size_t o = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchrnul(p, '/');
        size_t n = (size_t)(end - p);
        if (n == 1 && p[0] == '.') {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else {
            out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p = end;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return out;
}

bool mount_path_is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (strcmp(dir, "/") == 0)
        return true;
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool mount_is_proc_allowed_target(const char *dest)
{
    for (size_t i = 0; i < sizeof(proc_allowed_targets) / sizeof(proc_allowed_targets[0]); i++)
        if (strcmp(dest, proc_allowed_targets[i]) == 0)
            return true;
    return false;
}

static void mount_op_release(struct mount_op *op)
{
    free(op->destination);
    free(op->source);
    free(op->fstype);
    mount_options_release(&op->opts);
}

static bool mount_type_is(const char *type, const char *name)
{
    return type && strcmp(type, name) == 0;
}

static int mount_plan_add(struct mount_plan *plan, const struct spec_mount *m, size_t index,
                          const char *bundle, struct keel_error **err)
{
    struct mount_op op = {.index = index};
    cleanup_free char *where = NULL;
    if (!m->destination || !m->destination[0])
        return error_set(err, EINVAL, "mounts[%zu]: destination is missing", index);
    where = xasprintf("mounts[%zu] (%s)", index, m->destination);
    if (mount_options_parse(m->options, where, &op.opts, err) < 0)
        return -1;
    op.opts.idmap |= m->n_uid_mappings || m->n_gid_mappings; /* made by idmap.c */

    op.destination = mount_clean_path(m->destination);
    if (strcmp(op.destination, "/") == 0) {
        mount_op_release(&op);
        return error_set(err, EINVAL, "%s: mounting over the root of the container is not allowed", where);
    }
    const char *type = m->type;
    bool bind = op.opts.bind || mount_type_is(type, "bind");
    if (op.opts.flags & MS_REMOUNT && (bind || !type || !type[0] || mount_type_is(type, "none"))) {
        op.kind = MOUNT_OP_REMOUNT;
    } else if (bind) {
        op.kind = MOUNT_OP_BIND;
        op.opts.flags |= MS_BIND;
        op.opts.bind = true;
        if (!m->source || !m->source[0]) {
            mount_op_release(&op);
            return error_set(err, EINVAL, "%s: a bind mount needs a source", where);
        }
        if (m->source[0] == '/' || !bundle)
            op.source = xstrdup(m->source);
        else
            op.source = xasprintf("%s/%s", bundle, m->source);
    } else if (!type || !type[0] || mount_type_is(type, "none")) {
        mount_op_release(&op);
        return error_set(err, EINVAL, "%s: no type and no bind option", where);
    } else if (mount_type_is(type, "cgroup")) {
        op.kind = MOUNT_OP_CGROUP;
        op.fstype = xstrdup(type);
    } else {
        op.kind = MOUNT_OP_FS;
        op.fstype = xstrdup(type);
    }
    if (!op.source)
        op.source = xstrdup(m->source && m->source[0] ? m->source : type ? type : "none");
    if (op.opts.tmpcopyup && !(op.kind == MOUNT_OP_FS && mount_type_is(type, "tmpfs"))) {
        mount_op_release(&op);
        return error_set(err, EINVAL, "%s: tmpcopyup applies only to tmpfs mounts", where);
    }
    if (op.opts.idmap && op.kind != MOUNT_OP_BIND) {
        mount_op_release(&op);
        return error_set(err, EOPNOTSUPP, "%s: idmapped mounts are only supported for bind mounts", where);
    }
    op.flags = op.opts.flags & ~(MS_BIND | MS_REC);
    op.real_dir_only =
        op.kind == MOUNT_OP_FS && (mount_type_is(type, "proc") || mount_type_is(type, "sysfs"));

    /* Binds below /proc must come from a procfs (or be one of the
     * lxcfs-style files): a bind could otherwise replace what the kernel
     * shows there.  A fresh filesystem below /proc hides, never forges, and
     * is allowed as runc allows it; /proc itself must be a procfs. */
    if (mount_path_is_under(op.destination, "/proc") && !mount_is_proc_allowed_target(op.destination)) {
        if (op.kind == MOUNT_OP_BIND) {
            op.bind_proc_only = true;
        } else if (strcmp(op.destination, "/proc") == 0 && op.kind != MOUNT_OP_REMOUNT &&
                   !(op.kind == MOUNT_OP_FS && mount_type_is(type, "proc")) && !(op.flags & MS_REMOUNT)) {
            mount_op_release(&op);
            return error_set(err, EPERM, "%s: only a procfs may be mounted on /proc (type %s)", where,
                             type ? type : "none");
        }
    }
    if (plan->n_ops % 8 == 0)
        plan->ops = xrealloc(plan->ops, (plan->n_ops + 8) * sizeof(*plan->ops));
    plan->ops[plan->n_ops++] = op;
    return 0;
}

int mount_plan_build(const struct spec_config *cfg, const char *bundle, struct mount_plan **out,
                     struct keel_error **err)
{
    cleanup_mount_plan struct mount_plan *plan = xzalloc(sizeof(*plan));
    plan->root_propagation = MS_SLAVE | MS_REC;
    plan->setup_dev = true;
    plan->readonly_root = cfg->root.readonly;
    if (cfg->linux && cfg->linux->rootfs_propagation && cfg->linux->rootfs_propagation[0]) {
        if (mount_propagation_parse(cfg->linux->rootfs_propagation, &plan->root_propagation, err) < 0)
            return -1;
        plan->final_propagation = plan->root_propagation;
        /* An unbindable "/" cannot have the rootfs bound out of it: stay
         * private until after pivot_root, then become unbindable. */
        if (plan->root_propagation & MS_UNBINDABLE)
            plan->root_propagation = MS_PRIVATE | (plan->root_propagation & MS_REC);
    }
    /* pivot_root refuses shared mounts around the new root; only a
     * recursive slave/private "/" guarantees the parent is not shared. */
    plan->make_parent_private =
        !((plan->root_propagation & MS_REC) && (plan->root_propagation & (MS_SLAVE | MS_PRIVATE)));

    for (size_t i = 0; i < cfg->n_mounts; i++) {
        if (mount_plan_add(plan, &cfg->mounts[i], i, bundle, err) < 0)
            return -1;
        const struct mount_op *op = &plan->ops[plan->n_ops - 1];
        if (strcmp(op->destination, "/dev") == 0 && op->kind == MOUNT_OP_BIND)
            plan->setup_dev = false;
    }
    *out = steal_ptr(&plan);
    return 0;
}

void mount_plan_free(struct mount_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_ops; i++)
        mount_op_release(&p->ops[i]);
    free(p->ops);
    free(p);
}

void mount_plan_freep(struct mount_plan **p)
{
    mount_plan_free(*p);
}
