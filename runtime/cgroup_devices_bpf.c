/* cgroup v2 has no devices.allow: access is decided by an eBPF program of
 * type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup.  We generate the
 * instructions from the rule list ourselves and talk to bpf(2) directly
 * (libbpf is not a dependency).
 *
 * Semantics (those of the v1 devices list): rules apply in order and a
 * later rule overrides an earlier one, so the program checks them from the
 * last to the first and the first match decides.  An allow rule matches
 * when every requested access is in it; a deny rule when any is.
 *
 * Replacement is atomic: with one program of ours attached (BPF_F_ALLOW_MULTI)
 * the new one takes its place in a single BPF_PROG_ATTACH with
 * BPF_F_REPLACE, so there is no moment with neither or both. */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "runtime/cgroup_internal.h"
#include "xalloc.h"

#define ALL_ACCESS (CGROUP_DEV_READ | CGROUP_DEV_WRITE | CGROUP_DEV_MKNOD)

struct prog {
    struct bpf_insn *insns;
    size_t n, cap;
};

static void emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->insns = xrealloc(p->insns, p->cap * sizeof(*p->insns));
    }
    p->insns[p->n++] =
        (struct bpf_insn){.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}

/* Registers: r2 = device type, r3 = requested access, r4 = major, r5 = minor. */
static void emit_rule(struct prog *p, const struct cgroup_dev_rule *r)
{
    size_t start = p->n;
    size_t jumps[4];
    size_t nj = 0;
    if (r->type != 'a') {
        jumps[nj++] = p->n;
        emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_2, 0, 0,
             r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
    }
    if (r->major >= 0) {
        jumps[nj++] = p->n;
        emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int32_t)(uint32_t)r->major);
    }
    if (r->minor >= 0) {
        jumps[nj++] = p->n;
        emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)(uint32_t)r->minor);
    }
    if ((r->access & ALL_ACCESS) != ALL_ACCESS) {
        emit(p, BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
        if (r->allow) {
            /* some requested access outside the rule: not this rule */
            emit(p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int32_t)(~r->access & ALL_ACCESS));
            jumps[nj++] = p->n;
            emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_1, 0, 0, 0);
        } else {
            emit(p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int32_t)r->access);
            jumps[nj++] = p->n;
            emit(p, BPF_JMP32 | BPF_JEQ | BPF_K, BPF_REG_1, 0, 0, 0);
        }
    }
    emit(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
    emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    (void)start;
    for (size_t j = 0; j < nj; j++)
        p->insns[jumps[j]].off = (int16_t)(p->n - jumps[j] - 1);
}

static bool matches_everything(const struct cgroup_dev_rule *r)
{
    return r->type == 'a' && r->major < 0 && r->minor < 0 && (r->access & ALL_ACCESS) == ALL_ACCESS;
}

int cgroup_devices_bpf_program(const struct cgroup_dev_rule *rules, size_t n, void **insns, size_t *n_insns,
                               struct keel_error **err)
{
    struct prog p = {0};
    /* struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; } */
    emit(&p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
    emit(&p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
    emit(&p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0);
    emit(&p, BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
    emit(&p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0);
    emit(&p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0);
    bool total = false;
    for (size_t i = n; i-- > 0;) {
        if ((rules[i].access & ALL_ACCESS) == 0)
            continue;
        emit_rule(&p, &rules[i]);
        if (matches_everything(&rules[i])) {
            total = true; /* earlier rules can never be reached */
            break;
        }
    }
    if (!total) {
        emit(&p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
        emit(&p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    }
    if (p.n > 4096) {
        free(p.insns);
        return error_set(err, E2BIG, "device rules need %zu eBPF instructions, more than 4096", p.n);
    }
    *insns = p.insns;
    *n_insns = p.n;
    return 0;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
    return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int prog_load(const struct bpf_insn *insns, size_t n, struct keel_error **err)
{
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    a.insns = (uint64_t)(uintptr_t)insns;
    a.insn_cnt = (uint32_t)n;
    a.license = (uint64_t)(uintptr_t) "GPL";
    int fd = sys_bpf(BPF_PROG_LOAD, &a);
    if (fd >= 0)
        return fd;
    int e = errno;
    if (e == ENOSYS)
        return error_set(err, e, "the kernel has no bpf(2): cannot restrict devices on cgroup v2");
    /* load again with the verifier's log for the message */
    char log[4096] = "";
    a.log_level = 1;
    a.log_buf = (uint64_t)(uintptr_t)log;
    a.log_size = sizeof(log);
    fd = sys_bpf(BPF_PROG_LOAD, &a);
    if (fd >= 0)
        return fd;
    log[sizeof(log) - 1] = '\0';
    return error_set(err, e, "loading the eBPF device program%s%.300s", log[0] ? ": verifier: " : "", log);
}

int cgroup_devices_apply_bpf(const char *dir, const struct cgroup_dev_rule *rules, size_t n,
                             struct keel_error **err)
{
    cleanup_free void *insns = NULL;
    size_t n_insns;
    if (cgroup_devices_bpf_program(rules, n, &insns, &n_insns, err) < 0)
        return -1;
    cleanup_close int prog = prog_load(insns, n_insns, err);
    if (prog < 0)
        return -1;
    cleanup_close int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0)
        return error_set(err, errno, "opening cgroup `%s`", dir);

    uint32_t ids[64];
    union bpf_attr q;
    memset(&q, 0, sizeof(q));
    q.query.target_fd = (uint32_t)cg;
    q.query.attach_type = BPF_CGROUP_DEVICE;
    q.query.prog_ids = (uint64_t)(uintptr_t)ids;
    q.query.prog_cnt = 64;
    if (sys_bpf(BPF_PROG_QUERY, &q) < 0)
        return error_set(err, errno, "listing the device programs of cgroup `%s`", dir);
    uint32_t n_old = q.query.prog_cnt;
    bool multi = (q.query.attach_flags & BPF_F_ALLOW_MULTI) != 0;
    int old_fds[64];
    for (uint32_t i = 0; i < n_old; i++) {
        union bpf_attr g;
        memset(&g, 0, sizeof(g));
        g.prog_id = ids[i];
        old_fds[i] = sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);
    }

    union bpf_attr at;
    memset(&at, 0, sizeof(at));
    at.target_fd = (uint32_t)cg;
    at.attach_bpf_fd = (uint32_t)prog;
    at.attach_type = BPF_CGROUP_DEVICE;
    int ret = 0;
    if (n_old == 0 || (n_old > 1 && multi)) {
        at.attach_flags = BPF_F_ALLOW_MULTI;
    } else if (n_old == 1 && multi && old_fds[0] >= 0) {
        at.attach_flags = BPF_F_ALLOW_MULTI | BPF_F_REPLACE;
        at.replace_bpf_fd = (uint32_t)old_fds[0];
    } else {
        /* a single program attached without MULTI: attaching without flags
         * swaps it in one step as well */
        at.attach_flags = 0;
    }
    if (sys_bpf(BPF_PROG_ATTACH, &at) < 0) {
        ret = error_set(err, errno, "attaching the eBPF device program to cgroup `%s`", dir);
    } else if (n_old > 1 && multi) {
        /* Several old programs (not ours alone): the new one is in place
         * first, so dropping the old ones only ever narrows to the new rules. */
        for (uint32_t i = 0; i < n_old && ret == 0; i++) {
            if (old_fds[i] < 0)
                continue;
            union bpf_attr d;
            memset(&d, 0, sizeof(d));
            d.target_fd = (uint32_t)cg;
            d.attach_bpf_fd = (uint32_t)old_fds[i];
            d.attach_type = BPF_CGROUP_DEVICE;
            if (sys_bpf(BPF_PROG_DETACH, &d) < 0 && errno != ENOENT)
                ret = error_set(err, errno, "detaching an old eBPF device program from cgroup `%s`", dir);
        }
    }
    for (uint32_t i = 0; i < n_old; i++)
        if (old_fds[i] >= 0)
            close(old_fds[i]);
    return ret;
}
