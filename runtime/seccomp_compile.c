/* linux.seccomp -> plan (validated, names resolved) -> BPF via libseccomp.
 *
 * Rules follow runc and crun where the spec is silent: syscall names this
 * libseccomp does not know are skipped (the profile may name syscalls of a
 * newer kernel); a rule whose action equals the default action is skipped
 * (libseccomp refuses it); args that repeat an index become one rule per
 * arg (OR), otherwise all args of an entry form one rule (AND). */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "seccomp_internal.h"
/* gnu11 predefines `linux` as 1; spec.h uses it as a member name. */
#undef linux
#include "spec.h"
#include "xalloc.h"

#ifndef SECCOMP_FILTER_FLAG_TSYNC
#define SECCOMP_FILTER_FLAG_TSYNC (1UL << 0)
#endif
#ifndef SECCOMP_FILTER_FLAG_LOG
#define SECCOMP_FILTER_FLAG_LOG (1UL << 1)
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

#define MAX_SYSCALL_ARGS 6

enum action_kind { ACTION_PLAIN, ACTION_TAKES_ERRNO, ACTION_NOTIFY };

struct action_name {
    const char *name;
    uint32_t value;
    enum action_kind kind;
};

static const struct action_name actions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL, ACTION_PLAIN},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, ACTION_PLAIN},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, ACTION_PLAIN},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, ACTION_PLAIN},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), ACTION_TAKES_ERRNO},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), ACTION_TAKES_ERRNO},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, ACTION_PLAIN},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, ACTION_PLAIN},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, ACTION_NOTIFY},
};

struct token_name {
    const char *name;
    uint32_t value;
};

static const struct token_name arches[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
};

static const struct token_name flags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

static const struct token_name operators[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const struct token_name *token_find(const struct token_name *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

/* Resolve an action and its errno; `field` is "linux.seccomp.defaultAction"
 * or "linux.seccomp.syscalls[N]" and errno_field names the errno member. */
static int resolve_action(const char *name, const struct opt_u64 *errno_ret, const char *field,
                          const char *action_member, const char *errno_member, uint32_t *out, bool *notify,
                          struct keel_error **err)
{
    if (name == NULL)
        return error_set(err, 0, "%s%s: missing (it is required)", field, action_member);
    const struct action_name *a = NULL;
    for (size_t i = 0; i < N_ELEMS(actions); i++)
        if (strcmp(actions[i].name, name) == 0)
            a = &actions[i];
    if (a == NULL)
        return error_set(err, 0, "%s%s: unknown action \"%s\"", field, action_member, name);
    *out = a->value;
    *notify = a->kind == ACTION_NOTIFY;
    if (a->kind != ACTION_TAKES_ERRNO) {
        if (errno_ret->set)
            return error_set(err, 0, "%s%s: action %s does not take an errno", field, errno_member, name);
        return 0;
    }
    uint64_t e = errno_ret->set ? errno_ret->value : EPERM;
    if (e > 0xffff)
        return error_set(err, 0, "%s%s: %llu is out of range (0-65535)", field, errno_member,
                         (unsigned long long)e);
    *out |= (uint32_t)e;
    return 0;
}

static bool args_repeat_index(const struct spec_seccomp_syscall *sc)
{
    for (size_t i = 0; i < sc->n_args; i++)
        for (size_t j = i + 1; j < sc->n_args; j++)
            if (sc->args[i].index == sc->args[j].index)
                return true;
    return false;
}

static int plan_add_syscall(struct seccomp_plan *plan, const struct spec_seccomp *s, size_t idx,
                            struct keel_error **err)
{
    const struct spec_seccomp_syscall *sc = &s->syscalls[idx];
    cleanup_free char *field = xasprintf("linux.seccomp.syscalls[%zu]", idx);
    uint32_t action;
    bool notify;
    if (resolve_action(sc->action, &sc->errno_ret, field, ".action", ".errnoRet", &action, &notify, err) < 0)
        return -1;
    if (sc->names == NULL || sc->names[0] == NULL)
        return error_set(err, 0, "%s.names: must name at least one syscall", field);
    for (size_t i = 0; sc->names[i]; i++)
        if (sc->names[i][0] == '\0')
            return error_set(err, 0, "%s.names[%zu]: empty syscall name", field, i);
    if (sc->n_args > MAX_SYSCALL_ARGS)
        return error_set(err, 0, "%s.args: %zu comparisons, at most %d are allowed", field, sc->n_args,
                         MAX_SYSCALL_ARGS);
    struct seccomp_plan_arg args[MAX_SYSCALL_ARGS];
    for (size_t i = 0; i < sc->n_args; i++) {
        const struct spec_seccomp_arg *a = &sc->args[i];
        if (a->index >= MAX_SYSCALL_ARGS)
            return error_set(err, 0, "%s.args[%zu].index: %u is out of range (0-5)", field, i, a->index);
        if (a->op == NULL)
            return error_set(err, 0, "%s.args[%zu].op: missing (it is required)", field, i);
        const struct token_name *op = token_find(operators, N_ELEMS(operators), a->op);
        if (op == NULL)
            return error_set(err, 0, "%s.args[%zu].op: unknown operator \"%s\"", field, i, a->op);
        args[i] = (struct seccomp_plan_arg){a->index, (int)op->value, a->value, a->value_two};
    }
    if (notify && s->listener_path == NULL)
        return error_set(err, 0, "%s.action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath", field);
    plan->notify |= notify;
    if (action == plan->default_action)
        return 0;

    bool split = args_repeat_index(sc);
    size_t n_new = split ? sc->n_args : 1;
    plan->rules = xrealloc(plan->rules, (plan->n_rules + n_new) * sizeof(*plan->rules));
    for (size_t r = 0; r < n_new; r++) {
        struct seccomp_plan_rule *rule = &plan->rules[plan->n_rules++];
        memset(rule, 0, sizeof(*rule));
        rule->spec_index = idx;
        rule->action = action;
        rule->names = (const char *const *)sc->names;
        if (split) {
            rule->args[0] = args[r];
            rule->n_args = 1;
        } else {
            memcpy(rule->args, args, sc->n_args * sizeof(args[0]));
            rule->n_args = sc->n_args;
        }
    }
    return 0;
}

int seccomp_plan_build(const struct spec_seccomp *s, struct seccomp_plan *plan, struct keel_error **err)
{
    memset(plan, 0, sizeof(*plan));
    bool notify_default;
    if (resolve_action(s->default_action, &s->default_errno_ret, "linux.seccomp", ".defaultAction",
                       ".defaultErrnoRet", &plan->default_action, &notify_default, err) < 0)
        return -1;
    /* The runtime's own last syscalls (execve) would wait on an agent that
     * does not have the fd yet. */
    if (notify_default)
        return error_set(err, 0, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    if (s->listener_metadata && !s->listener_path)
        return error_set(err, 0, "linux.seccomp.listenerMetadata: set without linux.seccomp.listenerPath");
    for (size_t i = 0; s->architectures && s->architectures[i]; i++) {
        const struct token_name *t = token_find(arches, N_ELEMS(arches), s->architectures[i]);
        if (t == NULL) {
            seccomp_plan_release(plan);
            return error_set(err, 0, "linux.seccomp.architectures[%zu]: unknown architecture \"%s\"", i,
                             s->architectures[i]);
        }
        plan->arches = xrealloc(plan->arches, (plan->n_arches + 1) * sizeof(*plan->arches));
        plan->arches[plan->n_arches++] = t->value;
    }
    for (size_t i = 0; s->flags && s->flags[i]; i++) {
        const struct token_name *t = token_find(flags, N_ELEMS(flags), s->flags[i]);
        if (t == NULL) {
            seccomp_plan_release(plan);
            return error_set(err, 0, "linux.seccomp.flags[%zu]: unknown flag \"%s\"", i, s->flags[i]);
        }
        plan->flags |= t->value;
    }
    for (size_t i = 0; i < s->n_syscalls; i++) {
        if (plan_add_syscall(plan, s, i, err) < 0) {
            seccomp_plan_release(plan);
            return -1;
        }
    }
    /* The kernel only accepts WAIT_KILLABLE_RECV together with a listener;
     * without NOTIFY rules it has nothing to act on (libseccomp drops it too). */
    if (!plan->notify)
        plan->flags &= ~(unsigned)SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    return 0;
}

void seccomp_plan_release(struct seccomp_plan *plan)
{
    free(plan->arches);
    free(plan->rules);
    memset(plan, 0, sizeof(*plan));
}

/* The arch keel (and so the libseccomp it loads) is built for: libseccomp
 * resolves syscall names for it.  Fixed per binary, so a compile-time name. */
#if defined(__x86_64__) && defined(__ILP32__)
#define NATIVE_ARCH "x32"
#elif defined(__x86_64__)
#define NATIVE_ARCH "x86_64"
#elif defined(__i386__)
#define NATIVE_ARCH "x86"
#elif defined(__aarch64__)
#define NATIVE_ARCH "aarch64"
#elif defined(__arm__)
#define NATIVE_ARCH "arm"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ARCH "ppc64le"
#elif defined(__powerpc64__)
#define NATIVE_ARCH "ppc64"
#elif defined(__s390x__)
#define NATIVE_ARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH "riscv64"
#else
#define NATIVE_ARCH "other-" __VERSION__
#endif

int seccomp_plan_serialize(const struct seccomp_plan *plan, struct strbuf *out)
{
    strbuf_printf(out, "keel-seccomp 2\nnative %s %zu\n", NATIVE_ARCH, sizeof(long));
    if (seccomp_lib_identity(out) < 0)
        return -1;
    strbuf_putc(out, '\n');
    strbuf_printf(out, "default %x\nflags %x\nnotify %d\n", plan->default_action, plan->flags, plan->notify);
    for (size_t i = 0; i < plan->n_arches; i++)
        strbuf_printf(out, "arch %x\n", plan->arches[i]);
    for (size_t i = 0; i < plan->n_rules; i++) {
        const struct seccomp_plan_rule *r = &plan->rules[i];
        strbuf_printf(out, "rule %x", r->action);
        for (size_t a = 0; a < r->n_args; a++)
            strbuf_printf(out, " arg %u %d %llx %llx", r->args[a].index, r->args[a].op,
                          (unsigned long long)r->args[a].value, (unsigned long long)r->args[a].value_two);
        /* Length-prefixed so that no name can fake a separator. */
        for (size_t n = 0; r->names[n]; n++)
            strbuf_printf(out, " %zu:%s", strlen(r->names[n]), r->names[n]);
        strbuf_putc(out, '\n');
    }
    return 0;
}

struct compile_ctx {
    struct seccomp_lib lib;
    scmp_filter_ctx ctx;
};

static void compile_ctx_release(struct compile_ctx *c)
{
    if (c->ctx)
        c->lib.release(c->ctx);
}

static int export_bpf(const struct compile_ctx *c, struct seccomp_program *p, struct keel_error **err)
{
    cleanup_close int fd = memfd_create("keel-seccomp-bpf", MFD_CLOEXEC);
    if (fd < 0)
        return error_set(err, errno, "creating a memfd for the seccomp program");
    int r = c->lib.export_bpf(c->ctx, fd);
    if (r < 0)
        return error_set(err, -r, "exporting the seccomp program");
    off_t size = lseek(fd, 0, SEEK_CUR);
    if (size < 0)
        return error_set(err, errno, "seeking in the seccomp program memfd");
    if (size == 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
        size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
        return error_set(err, 0, "seccomp program: libseccomp produced %lld bytes, not a loadable filter",
                         (long long)size);
    p->n_insns = (size_t)size / sizeof(struct sock_filter);
    p->insns = xmalloc((size_t)size);
    ssize_t n = pread(fd, p->insns, (size_t)size, 0);
    if (n != size)
        return error_set(err, n < 0 ? errno : EIO, "reading the seccomp program back");
    return 0;
}

int seccomp_plan_compile(const struct seccomp_plan *plan, struct seccomp_program **out,
                         struct keel_error **err)
{
    __attribute__((cleanup(compile_ctx_release))) struct compile_ctx c = {0};
    if (seccomp_lib_open(&c.lib, err) < 0)
        return error_prefix(err, "compiling linux.seccomp");
    c.ctx = c.lib.init(plan->default_action);
    if (c.ctx == NULL)
        return error_set(err, EINVAL, "linux.seccomp.defaultAction: libseccomp refused action %#x",
                         plan->default_action);
    for (size_t i = 0; i < plan->n_arches; i++) {
        int r = c.lib.arch_add(c.ctx, plan->arches[i]);
        if (r < 0 && r != -EEXIST)
            return error_set(err, -r, "linux.seccomp.architectures: adding architecture %#x",
                             plan->arches[i]);
    }
    for (size_t i = 0; i < plan->n_rules; i++) {
        const struct seccomp_plan_rule *rule = &plan->rules[i];
        struct scmp_arg_cmp cmps[MAX_SYSCALL_ARGS];
        for (size_t a = 0; a < rule->n_args; a++)
            cmps[a] = (struct scmp_arg_cmp){rule->args[a].index, (enum scmp_compare)rule->args[a].op,
                                            rule->args[a].value, rule->args[a].value_two};
        for (size_t n = 0; rule->names[n]; n++) {
            int nr = c.lib.syscall_resolve_name(rule->names[n]);
            if (nr == __NR_SCMP_ERROR)
                continue; /* unknown here: skipped, as runc and crun do */
            int r = c.lib.rule_add_array(c.ctx, rule->action, nr, (unsigned)rule->n_args, cmps);
            if (r < 0)
                return error_set(err, -r, "linux.seccomp.syscalls[%zu]: adding the rule for `%s`",
                                 rule->spec_index, rule->names[n]);
        }
    }
    struct seccomp_program *p = xzalloc(sizeof(*p));
    p->flags = plan->flags;
    p->notify = plan->notify;
    p->compiled = true;
    if (export_bpf(&c, p, err) < 0) {
        seccomp_program_free(p);
        return -1;
    }
    *out = p;
    return 0;
}
