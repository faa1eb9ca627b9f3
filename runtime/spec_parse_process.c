/* config.json "process" (and exec's process.json, which has its shape). */
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "json.h"
#include "spec_internal.h"
#include "xalloc.h"

static int spec_parse_user(yajl_val proc, const char *base, struct spec_user *u, struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(proc, base, "user", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *path = spec_path_join(base, "user");
    uint32_t uid = 0, gid = 0;
    if (spec_opt_u32(v, path, "uid", &uid, err) < 0 || spec_opt_u32(v, path, "gid", &gid, err) < 0)
        return -1;
    u->uid = uid;
    u->gid = gid;
    if (spec_opt_u64(v, path, "umask", &u->umask, err) < 0)
        return -1;
    if (u->umask.set && u->umask.value > 07777) {
        cleanup_free char *p = spec_path_join(path, "umask");
        return error_set(err, 0, "%s: %llu is not a file mode (at most 07777)", p,
                         (unsigned long long)u->umask.value);
    }
    yajl_val gids = NULL;
    if (spec_opt_array(v, path, "additionalGids", &gids, err) < 0)
        return -1;
    if (gids) {
        cleanup_free char *gp = spec_path_join(path, "additionalGids");
        size_t n = gids->u.array.len;
        u->additional_gids = xcalloc(n ? n : 1, sizeof(gid_t));
        for (size_t i = 0; i < n; i++) {
            cleanup_free char *ip = spec_path_index(gp, i);
            uint32_t g = 0;
            if (json_get_uint32(gids->u.array.values[i], ip, &g, err) < 0)
                return -1;
            u->additional_gids[i] = g;
            u->n_additional_gids++;
        }
    }
    return spec_opt_string(v, path, "username", &u->username, err);
}

static int spec_parse_caps(yajl_val proc, const char *base, struct spec_capabilities **out,
                           struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(proc, base, "capabilities", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *path = spec_path_join(base, "capabilities");
    struct spec_capabilities *caps = xzalloc(sizeof(*caps));
    *out = caps; /* owned by the process from here: freed with it on failure */
    static const char *const sets[] = {"bounding", "effective", "inheritable", "permitted", "ambient"};
    char ***dst[] = {&caps->bounding, &caps->effective, &caps->inheritable, &caps->permitted, &caps->ambient};
    for (size_t i = 0; i < 5; i++) {
        char ***slot = dst[i];
        if (spec_opt_strv(v, path, sets[i], slot, err) < 0)
            return -1;
        if (*slot == NULL)
            continue;
        cleanup_free char *sp = spec_path_join(path, sets[i]);
        for (size_t j = 0; (*slot)[j]; j++) {
            if (spec_cap_from_name((*slot)[j]) < 0) {
                cleanup_free char *ip = spec_path_index(sp, j);
                return error_set(err, 0, "%s: unknown capability \"%s\"", ip, (*slot)[j]);
            }
        }
    }
    return 0;
}

static int spec_parse_rlimits(yajl_val proc, const char *base, struct spec_process *p,
                              struct keel_error **err)
{
    yajl_val arr = NULL;
    if (spec_opt_array(proc, base, "rlimits", &arr, err) < 0)
        return -1;
    if (arr == NULL)
        return 0;
    cleanup_free char *path = spec_path_join(base, "rlimits");
    size_t n = arr->u.array.len;
    p->rlimits = xcalloc(n ? n : 1, sizeof(*p->rlimits));
    for (size_t i = 0; i < n; i++) {
        yajl_val r = arr->u.array.values[i];
        cleanup_free char *ip = spec_path_index(path, i);
        if (json_expect_object(r, ip, err) < 0)
            return -1;
        struct spec_rlimit *rl = &p->rlimits[i];
        p->n_rlimits++;
        if (spec_req_string(r, ip, "type", &rl->type, err) < 0)
            return -1;
        rl->resource = spec_rlimit_from_name(rl->type);
        if (rl->resource < 0)
            return error_set(err, 0, "%s.type: unknown rlimit type \"%s\"", ip, rl->type);
        for (size_t j = 0; j < i; j++)
            if (p->rlimits[j].resource == rl->resource)
                return error_set(err, 0, "%s.type: duplicate rlimit type \"%s\"", ip, rl->type);
        if (spec_req_u64(r, ip, "hard", &rl->hard, err) < 0 ||
            spec_req_u64(r, ip, "soft", &rl->soft, err) < 0)
            return -1;
    }
    return 0;
}

static int spec_parse_scheduler(yajl_val proc, const char *base, struct spec_scheduler *s,
                                struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(proc, base, "scheduler", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *path = spec_path_join(base, "scheduler");
    s->set = true;
    if (spec_req_name(v, path, "policy", spec_sched_policies, "scheduler policy", &s->policy, err) < 0)
        return -1;
    if (spec_opt_i64(v, path, "nice", &s->nice, err) < 0 ||
        spec_opt_i64(v, path, "priority", &s->priority, err) < 0 ||
        spec_opt_strv(v, path, "flags", &s->flags, err) < 0 ||
        spec_opt_u64(v, path, "runtime", &s->runtime, err) < 0 ||
        spec_opt_u64(v, path, "deadline", &s->deadline, err) < 0 ||
        spec_opt_u64(v, path, "period", &s->period, err) < 0)
        return -1;
    cleanup_free char *fp = spec_path_join(path, "flags");
    return spec_check_names(s->flags, spec_sched_flags, fp, "scheduler flag", err);
}

static int spec_parse_io_priority(yajl_val proc, const char *base, struct spec_io_priority *io,
                                  struct keel_error **err)
{
    yajl_val v = NULL;
    if (spec_opt_object(proc, base, "ioPriority", &v, err) < 0)
        return -1;
    if (v == NULL)
        return 0;
    cleanup_free char *path = spec_path_join(base, "ioPriority");
    io->set = true;
    if (spec_req_name(v, path, "class", spec_ioprio_classes, "I/O priority class", &io->klass, err) < 0)
        return -1;
    return spec_opt_raw_i64(v, path, "priority", &io->priority, err);
}

static int spec_parse_process_fields(yajl_val v, const char *base, struct spec_process *p,
                                     struct keel_error **err)
{
    if (spec_opt_bool(v, base, "terminal", &p->terminal, err) < 0)
        return -1;
    yajl_val cs = NULL;
    if (spec_opt_object(v, base, "consoleSize", &cs, err) < 0)
        return -1;
    if (cs) {
        cleanup_free char *cp = spec_path_join(base, "consoleSize");
        uint32_t h = 0, w = 0;
        if (spec_req_u32(cs, cp, "height", &h, err) < 0 || spec_req_u32(cs, cp, "width", &w, err) < 0)
            return -1;
        p->console_size.set = true;
        p->console_size.height = h;
        p->console_size.width = w;
    }
    if (spec_parse_user(v, base, &p->user, err) < 0)
        return -1;
    if (spec_opt_strv(v, base, "args", &p->args, err) < 0 ||
        spec_opt_string(v, base, "commandLine", &p->command_line, err) < 0 ||
        spec_opt_strv(v, base, "env", &p->env, err) < 0 || spec_opt_string(v, base, "cwd", &p->cwd, err) < 0)
        return -1;
    if (spec_parse_caps(v, base, &p->capabilities, err) < 0 || spec_parse_rlimits(v, base, p, err) < 0)
        return -1;
    if (spec_opt_bool(v, base, "noNewPrivileges", &p->no_new_privileges, err) < 0 ||
        spec_opt_string(v, base, "apparmorProfile", &p->apparmor_profile, err) < 0 ||
        spec_opt_i64(v, base, "oomScoreAdj", &p->oom_score_adj, err) < 0 ||
        spec_opt_string(v, base, "selinuxLabel", &p->selinux_label, err) < 0)
        return -1;
    if (p->oom_score_adj.set && (p->oom_score_adj.value < -1000 || p->oom_score_adj.value > 1000)) {
        cleanup_free char *op = spec_path_join(base, "oomScoreAdj");
        return error_set(err, 0, "%s: %lld is out of range (-1000 to 1000)", op,
                         (long long)p->oom_score_adj.value);
    }
    if (spec_parse_scheduler(v, base, &p->scheduler, err) < 0 ||
        spec_parse_io_priority(v, base, &p->io_priority, err) < 0)
        return -1;
    yajl_val aff = NULL;
    if (spec_opt_object(v, base, "execCPUAffinity", &aff, err) < 0)
        return -1;
    if (aff) {
        cleanup_free char *ap = spec_path_join(base, "execCPUAffinity");
        if (spec_opt_string(aff, ap, "initial", &p->exec_cpu_affinity.initial, err) < 0 ||
            spec_opt_string(aff, ap, "final", &p->exec_cpu_affinity.final, err) < 0)
            return -1;
    }
    return 0;
}

int spec_parse_process_obj(yajl_val v, const char *base, struct spec_process **out, struct keel_error **err)
{
    const char *where = base[0] ? base : "process";
    if (json_expect_object(v, where, err) < 0)
        return -1;
    struct spec_process *p = xzalloc(sizeof(*p));
    if (spec_parse_process_fields(v, base, p, err) < 0) {
        spec_process_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

int spec_parse_process(const char *text, size_t len, const char *name, struct spec_process **out,
                       struct keel_error **err)
{
    cleanup_json yajl_val tree = NULL;
    if (spec_parse_json_object(text, len, name, &tree, err) < 0)
        return -1;
    if (spec_parse_process_obj(tree, "", out, err) < 0)
        return error_prefix(err, "%s", name);
    return 0;
}
