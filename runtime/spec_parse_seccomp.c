/* config.json "linux.seccomp".  Names (actions, operators, architectures,
 * flags) are checked here against the spec's vocabulary; whether libseccomp
 * and the kernel support them is the seccomp loader's question. */
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "json.h"
#include "spec_internal.h"
#include "xalloc.h"

static int spec_parse_errno_ret(yajl_val v, const char *base, const char *key, struct opt_u64 *out,
                                struct keel_error **err)
{
    if (spec_opt_u64(v, base, key, out, err) < 0)
        return -1;
    if (out->set && out->value > UINT32_MAX) {
        cleanup_free char *p = spec_path_join(base, key);
        return error_set(err, 0, "%s: %llu is too large (at most %u)", p, (unsigned long long)out->value,
                         UINT32_MAX);
    }
    return 0;
}

static int spec_parse_action(yajl_val v, const char *base, const char *key, char **out,
                             struct keel_error **err)
{
    return spec_req_name(v, base, key, spec_seccomp_actions, "seccomp action", out, err);
}

static int spec_parse_seccomp_arg(yajl_val v, const char *ip, struct spec_seccomp_arg *a,
                                  struct keel_error **err)
{
    if (json_expect_object(v, ip, err) < 0)
        return -1;
    uint32_t index = 0;
    if (spec_req_u32(v, ip, "index", &index, err) < 0)
        return -1;
    /* Syscalls take at most six arguments. */
    if (index > 5)
        return error_set(err, 0, "%s.index: %u is out of range (0 to 5)", ip, index);
    a->index = index;
    if (spec_req_u64(v, ip, "value", &a->value, err) < 0)
        return -1;
    yajl_val two = spec_member(v, "valueTwo");
    if (two) {
        cleanup_free char *tp = spec_path_join(ip, "valueTwo");
        if (json_get_uint64(two, tp, &a->value_two, err) < 0)
            return -1;
    }
    return spec_req_name(v, ip, "op", spec_seccomp_operators, "seccomp operator", &a->op, err);
}

static int spec_parse_seccomp_syscall(yajl_val v, const char *ip, struct spec_seccomp_syscall *s,
                                      struct keel_error **err)
{
    if (json_expect_object(v, ip, err) < 0)
        return -1;
    if (spec_member(v, "names") == NULL)
        return error_set(err, 0, "%s.names: missing required field", ip);
    if (spec_opt_strv(v, ip, "names", &s->names, err) < 0)
        return -1;
    if (spec_parse_action(v, ip, "action", &s->action, err) < 0 ||
        spec_parse_errno_ret(v, ip, "errnoRet", &s->errno_ret, err) < 0)
        return -1;
    yajl_val args = NULL;
    if (spec_opt_array(v, ip, "args", &args, err) < 0)
        return -1;
    if (args) {
        cleanup_free char *ap = spec_path_join(ip, "args");
        size_t n = args->u.array.len;
        s->args = xcalloc(n ? n : 1, sizeof(*s->args));
        for (size_t i = 0; i < n; i++) {
            cleanup_free char *aip = spec_path_index(ap, i);
            s->n_args++;
            if (spec_parse_seccomp_arg(args->u.array.values[i], aip, &s->args[i], err) < 0)
                return -1;
        }
    }
    return 0;
}

static int spec_parse_seccomp_fields(yajl_val v, const char *base, struct spec_seccomp *s,
                                     struct keel_error **err)
{
    if (spec_parse_action(v, base, "defaultAction", &s->default_action, err) < 0 ||
        spec_parse_errno_ret(v, base, "defaultErrnoRet", &s->default_errno_ret, err) < 0)
        return -1;
    if (spec_opt_strv(v, base, "architectures", &s->architectures, err) < 0 ||
        spec_opt_strv(v, base, "flags", &s->flags, err) < 0 ||
        spec_opt_string(v, base, "listenerPath", &s->listener_path, err) < 0 ||
        spec_opt_string(v, base, "listenerMetadata", &s->listener_metadata, err) < 0)
        return -1;
    cleanup_free char *archp = spec_path_join(base, "architectures");
    cleanup_free char *flagp = spec_path_join(base, "flags");
    if (spec_check_names(s->architectures, spec_seccomp_archs, archp, "seccomp architecture", err) < 0 ||
        spec_check_names(s->flags, spec_seccomp_flags, flagp, "seccomp flag", err) < 0)
        return -1;
    yajl_val calls = NULL;
    if (spec_opt_array(v, base, "syscalls", &calls, err) < 0)
        return -1;
    if (calls) {
        cleanup_free char *cp = spec_path_join(base, "syscalls");
        size_t n = calls->u.array.len;
        s->syscalls = xcalloc(n ? n : 1, sizeof(*s->syscalls));
        for (size_t i = 0; i < n; i++) {
            cleanup_free char *ip = spec_path_index(cp, i);
            s->n_syscalls++;
            if (spec_parse_seccomp_syscall(calls->u.array.values[i], ip, &s->syscalls[i], err) < 0)
                return -1;
        }
    }
    return 0;
}

int spec_parse_seccomp_obj(yajl_val v, const char *base, struct spec_seccomp **out, struct keel_error **err)
{
    if (json_expect_object(v, base, err) < 0)
        return -1;
    struct spec_seccomp *s = xzalloc(sizeof(*s));
    if (spec_parse_seccomp_fields(v, base, s, err) < 0) {
        spec_seccomp_free(s);
        return -1;
    }
    s->raw = v;
    *out = s;
    return 0;
}
