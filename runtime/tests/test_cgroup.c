/* Unit tests of the cgroup logic that needs no root: path rules, value
 * conversions, device rules and the generated eBPF program (run through a
 * small interpreter of the instructions we emit), save/load, systemd. */
#include <linux/bpf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "libutil/tests/unit.h"
#include "runtime/cgroup_internal.h"
#include "runtime/spec.h"

static struct unit_counts c;

static void test_paths(void)
{
    char *p = NULL;
    struct keel_error *err = NULL;
    CHECK(&c, cgroup_path_resolve(NULL, "abc", &p, &err) == 0);
    CHECK_STREQ(&c, p, "/keel/abc");
    free(p);
    CHECK(&c, cgroup_path_resolve("", "abc", &p, &err) == 0);
    CHECK_STREQ(&c, p, "/keel/abc");
    free(p);
    CHECK(&c, cgroup_path_resolve("/a//b/./c/", "x", &p, &err) == 0);
    CHECK_STREQ(&c, p, "/a/b/c");
    free(p);
    CHECK(&c, cgroup_path_resolve("rel/x", "x", &p, &err) == 0);
    CHECK_STREQ(&c, p, "rel/x");
    free(p);
    CHECK(&c, cgroup_path_resolve("/a/../b", "x", &p, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "linux.cgroupsPath") && strstr(err->msg, ".."));
    error_free(err);
    err = NULL;
    CHECK(&c, cgroup_path_resolve("/", "x", &p, &err) < 0);
    error_free(err);
    err = NULL;

    char *slice = NULL, *unit = NULL;
    CHECK(&c, cgroup_path_parse_systemd("system.slice:docker:abc", "id", &slice, &unit, &err) == 0);
    CHECK_STREQ(&c, slice, "system.slice");
    CHECK_STREQ(&c, unit, "docker-abc.scope");
    free(slice);
    free(unit);
    CHECK(&c, cgroup_path_parse_systemd(":keel:", "id", &slice, &unit, &err) == 0);
    CHECK_STREQ(&c, slice, "system.slice");
    CHECK_STREQ(&c, unit, "keel-id.scope");
    free(slice);
    free(unit);
    CHECK(&c, cgroup_path_parse_systemd("/not/systemd", "id", &slice, &unit, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "slice:prefix:name"));
    error_free(err);
    err = NULL;
    CHECK(&c, cgroup_path_parse_systemd("machine:a:b", "id", &slice, &unit, &err) < 0);
    error_free(err);
}

static void test_conversions(void)
{
    CHECK(&c, cgroup_convert_shares_to_weight(0) == 0);
    CHECK(&c, cgroup_convert_shares_to_weight(2) == 1);
    CHECK(&c, cgroup_convert_shares_to_weight(1024) == 39);
    CHECK(&c, cgroup_convert_shares_to_weight(262144) == 10000);
    CHECK(&c, cgroup_convert_blkio_weight(10) == 1);
    CHECK(&c, cgroup_convert_blkio_weight(1000) == 10000);
    CHECK(&c, cgroup_convert_blkio_weight(500) == 4950);
    char buf[32];
    struct keel_error *err = NULL;
    CHECK(&c, cgroup_convert_swap_v2(100, true, 300, buf, sizeof(buf), &err) == 0);
    CHECK_STREQ(&c, buf, "200");
    CHECK(&c, cgroup_convert_swap_v2(100, true, -1, buf, sizeof(buf), &err) == 0);
    CHECK_STREQ(&c, buf, "max");
    CHECK(&c, cgroup_convert_swap_v2(300, true, 100, buf, sizeof(buf), &err) < 0);
    CHECK(&c, err && strstr(err->msg, "memory.swap"));
    error_free(err);
    err = NULL;
    CHECK(&c, cgroup_convert_swap_v2(0, false, 100, buf, sizeof(buf), &err) < 0);
    error_free(err);
}

/* Enough of an eBPF interpreter for the instructions the generator emits. */
static int run_prog(const struct bpf_insn *in, size_t n, char type, unsigned major, unsigned minor,
                    unsigned access)
{
    uint32_t ctx[3] = {(access << 16) | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR), major,
                       minor};
    uint64_t r[11] = {0};
    for (size_t pc = 0; pc < n; pc++) {
        const struct bpf_insn *i = &in[pc];
        uint8_t cls = BPF_CLASS(i->code), op = BPF_OP(i->code);
        uint64_t src = BPF_SRC(i->code) == BPF_X ? r[i->src_reg] : (uint64_t)(int64_t)i->imm;
        if (cls == BPF_LDX) {
            if (i->src_reg != BPF_REG_1 || i->off % 4 || i->off > 8)
                return -2;
            r[i->dst_reg] = ctx[i->off / 4];
        } else if (cls == BPF_ALU || cls == BPF_ALU64) {
            uint64_t d = r[i->dst_reg];
            switch (op) {
            case BPF_MOV:
                d = src;
                break;
            case BPF_AND:
                d &= src;
                break;
            case BPF_RSH:
                d >>= src;
                break;
            default:
                return -2;
            }
            r[i->dst_reg] = cls == BPF_ALU ? (uint32_t)d : d;
        } else if (cls == BPF_JMP && op == BPF_EXIT) {
            return (int)r[0];
        } else if (cls == BPF_JMP32) {
            uint32_t a = (uint32_t)r[i->dst_reg], b = (uint32_t)src;
            bool take = op == BPF_JNE ? a != b : op == BPF_JEQ ? a == b : false;
            if (op != BPF_JNE && op != BPF_JEQ)
                return -2;
            if (take)
                pc += (size_t)i->off;
        } else {
            return -2;
        }
    }
    return -3; /* fell off the end */
}

static void test_devices(void)
{
    struct keel_error *err = NULL;
    struct cgroup_dev_rule *rules = NULL;
    size_t n = 0;
    CHECK(&c, cgroup_devices_rules(NULL, 0, &rules, &n, &err) == 0);
    CHECK(&c, n == 12 && !rules[0].allow && rules[0].type == 'a');
    void *prog = NULL;
    size_t ni = 0;
    CHECK(&c, cgroup_devices_bpf_program(rules, n, &prog, &ni, &err) == 0);
    /* defaults: /dev/null rw allowed, /dev/sda (b 8:0) read denied, mknod of anything allowed, pts allowed */
    CHECK(&c, run_prog(prog, ni, 'c', 1, 3, CGROUP_DEV_READ | CGROUP_DEV_WRITE) == 1);
    CHECK(&c, run_prog(prog, ni, 'b', 8, 0, CGROUP_DEV_READ) == 0);
    CHECK(&c, run_prog(prog, ni, 'b', 8, 0, CGROUP_DEV_MKNOD) == 1);
    CHECK(&c, run_prog(prog, ni, 'c', 136, 7, CGROUP_DEV_READ) == 1);
    CHECK(&c, run_prog(prog, ni, 'c', 1, 11, CGROUP_DEV_WRITE) == 0); /* kmsg */
    free(prog);
    free(rules);

    /* the config's rules: allow b 8:* r, then deny b 8:1 (all); a later rule wins */
    struct spec_device_cgroup d[3] = {
        {.allow = true, .type = 'b', .major = {true, 8}, .access = (char *)"r"},
        {.allow = false, .type = 'b', .major = {true, 8}, .minor = {true, 1}, .access = (char *)"rwm"},
        {.allow = true,
         .type = 'c',
         .major = {true, 4000000000LL},
         .minor = {true, 1},
         .access = (char *)"w"},
    };
    CHECK(&c, cgroup_devices_rules(d, 3, &rules, &n, &err) == 0);
    CHECK(&c, cgroup_devices_bpf_program(rules, n, &prog, &ni, &err) == 0);
    CHECK(&c, run_prog(prog, ni, 'b', 8, 0, CGROUP_DEV_READ) == 1);
    CHECK(&c, run_prog(prog, ni, 'b', 8, 0, CGROUP_DEV_READ | CGROUP_DEV_WRITE) == 0); /* w not granted */
    CHECK(&c, run_prog(prog, ni, 'b', 8, 1, CGROUP_DEV_READ) == 0);
    CHECK(&c, run_prog(prog, ni, 'c', 4000000000u, 1, CGROUP_DEV_WRITE) == 1); /* major above INT32_MAX */
    CHECK(&c, run_prog(prog, ni, 'c', 4000000000u, 1, CGROUP_DEV_READ) == 0);
    free(prog);
    free(rules);

    /* allow-all (privileged): everything passes */
    struct spec_device_cgroup all = {.allow = true, .access = (char *)"rwm"};
    CHECK(&c, cgroup_devices_rules(&all, 1, &rules, &n, &err) == 0);
    CHECK(&c, cgroup_devices_bpf_program(rules, n, &prog, &ni, &err) == 0);
    CHECK(&c, run_prog(prog, ni, 'b', 8, 0, CGROUP_DEV_WRITE) == 1);
    free(prog);
    free(rules);

    struct spec_device_cgroup bad = {.allow = true, .type = 'c', .access = (char *)"rwx"};
    CHECK(&c, cgroup_devices_rules(&bad, 1, &rules, &n, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "devices[0].access"));
    error_free(err);
    err = NULL;
    bad.type = 'x';
    bad.access = NULL;
    CHECK(&c, cgroup_devices_rules(&bad, 1, &rules, &n, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "devices[0].type"));
    error_free(err);
}

static void test_save_load(void)
{
    const char *saved = "{\"driver\":\"v1\",\"path\":\"/keel/x\",\"devicesApplied\":true,\"hierarchies\":["
                        "{\"mount\":\"/sys/fs/cgroup/memory\",\"controllers\":\"memory\",\"v2\":false,"
                        "\"dir\":\"/sys/fs/cgroup/memory/keel/x\"},"
                        "{\"mount\":\"/sys/fs/cgroup/unified\",\"controllers\":\"hugetlb\",\"v2\":true,"
                        "\"dir\":\"/sys/fs/cgroup/unified/keel/x\"}]}";
    struct cgroup_manager *m = NULL;
    struct keel_error *err = NULL;
    CHECK(&c, cgroup_manager_load(saved, &m, &err) == 0);
    if (!m)
        return;
    CHECK_STREQ(&c, cgroup_get_path(m), "/keel/x");
    CHECK(&c, m->n_hiers == 2 && m->devices_applied);
    CHECK(&c, cgroup_find_hier(m, "hugetlb") == &m->hiers[1]);
    CHECK(&c, cgroup_find_hier(m, "memory") == &m->hiers[0]);
    CHECK(&c, cgroup_find_hier(m, "rdma") == NULL);
    char *again = cgroup_manager_save(m);
    CHECK_STREQ(&c, again, saved);
    struct cgroup_mount_entry *me = NULL;
    size_t nm = 0;
    CHECK(&c, cgroup_get_mounts(m, &me, &nm, &err) == 0 && nm == 2);
    CHECK(&c, nm == 2 && strcmp(me[0].name, "memory") == 0 && strcmp(me[1].fstype, "cgroup2") == 0);
    cgroup_mounts_free(me, nm);
    free(again);
    cgroup_manager_free(m);

    CHECK(&c, cgroup_manager_load("{\"driver\":\"v9\",\"hierarchies\":[]}", &m, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "v9"));
    error_free(err);
    err = NULL;
    CHECK(&c, cgroup_manager_load("{\"driver\":\"none\",\"hierarchies\":[]}", &m, &err) == 0);
    /* the none backend refuses a limit and names it */
    struct spec_resources r = {.set = true, .pids_limit = {true, 10}};
    CHECK(&c, cgroup_apply_resources(m, &r, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "linux.resources.pids"));
    error_free(err);
    cgroup_manager_free(m);
}

static void test_systemd(void)
{
    struct spec_linux lx = {.cgroups_path = (char *)"system.slice:keel:abc"};
    struct spec_config cfg = {.linux = &lx};
    struct cgroup_manager *m = NULL;
    struct keel_error *err = NULL;
    /* Where systemd runs, the driver works: runtime/tests/test_cgroup_systemd.c
     * and spec-tests/systemd-vm.sh cover it; here only its refusal. */
    if (access("/run/systemd/system", F_OK) < 0) {
        CHECK(&c, cgroup_manager_new(&cfg, "abc", true, false, &m, &err) < 0);
        CHECK(&c, err && strstr(err->msg, "systemd is not running") && strstr(err->msg, "keel-abc.scope"));
        error_free(err);
        err = NULL;
    }
    lx.cgroups_path = (char *)"/plain/path";
    CHECK(&c, cgroup_manager_new(&cfg, "abc", true, false, &m, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "slice:prefix:name"));
    error_free(err);
}

int main(void)
{
    test_paths();
    test_conversions();
    test_devices();
    test_save_load();
    test_systemd();
    return unit_finish(&c);
}
