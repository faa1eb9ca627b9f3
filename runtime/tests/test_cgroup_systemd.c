/* Unit tests of the systemd driver's pure parts (no systemd, no root):
 * slice paths, cpuset bitmasks, linux.resources -> unit properties, and the
 * refusal when systemd is not running.  The D-Bus side is proven against a
 * real systemd by spec-tests/systemd-vm.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "libutil/tests/unit.h"
#include "runtime/cgroup_systemd.h"
#include "runtime/spec.h"

static struct unit_counts c;

static void check_slice(const char *slice, const char *want)
{
    char *p = NULL;
    struct keel_error *err = NULL;
    int r = systemd_slice_path(slice, &p, &err);
    if (want) {
        CHECK(&c, r == 0);
        CHECK_STREQ(&c, p ? p : "(null)", want);
    } else {
        CHECK(&c, r < 0 && err && strstr(err->msg, slice));
    }
    free(p);
    error_free(err);
}

static void test_slices(void)
{
    check_slice("system.slice", "/system.slice");
    check_slice("a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice");
    check_slice("-.slice", "");
    check_slice("machine.slice", "/machine.slice");
    check_slice("a--b.slice", NULL);
    check_slice("-a.slice", NULL);
    check_slice("a-.slice", NULL);
    check_slice("a b.slice", NULL);
    check_slice("system.scope", NULL);
}

static void test_cpuset_mask(void)
{
    uint8_t *m = NULL;
    size_t n = 0;
    struct keel_error *err = NULL;
    CHECK(&c, systemd_cpuset_to_mask("0-3,8,10-11\n", "cpu.cpus", &m, &n, &err) == 0);
    CHECK(&c, n == 2 && m[0] == 0x0f && m[1] == 0x0d);
    free(m);
    m = NULL;
    CHECK(&c, systemd_cpuset_to_mask("5", "cpu.mems", &m, &n, &err) == 0);
    CHECK(&c, n == 1 && m[0] == 0x20);
    free(m);
    m = NULL;
    const char *bad[] = {"", "3-1", "a", "1,,2", "1-", "99999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(&c, systemd_cpuset_to_mask(bad[i], "cpu.cpus", &m, &n, &err) < 0);
        CHECK(&c, err && strstr(err->msg, "linux.resources.cpu.cpus"));
        error_free(err);
        err = NULL;
    }
}

static uint64_t prop_u64(const struct systemd_props *p, const char *name)
{
    const struct systemd_prop *e = systemd_props_find(p, name);
    CHECK(&c, e != NULL);
    return e ? e->u64 : 0;
}

static void test_props(void)
{
    struct spec_resources r = {.set = true, .has_memory = true, .has_cpu = true};
    r.memory.limit = (struct opt_i64){true, 64 << 20};
    r.memory.reservation = (struct opt_i64){true, 32 << 20};
    r.memory.swap = (struct opt_i64){true, 128 << 20};
    r.cpu.shares = (struct opt_u64){true, 512};
    r.cpu.quota = (struct opt_i64){true, 12345};
    r.cpu.period = (struct opt_u64){true, 100000};
    r.cpu.cpus = (char *)"0-1";
    r.pids_limit = (struct opt_i64){true, -1};
    struct systemd_props p = {0};
    struct keel_error *err = NULL;

    CHECK(&c, systemd_props_from_resources(&r, true, 252, &p, &err) == 0);
    CHECK(&c, prop_u64(&p, "MemoryMax") == 64 << 20);
    CHECK(&c, prop_u64(&p, "MemoryLow") == 32 << 20);
    CHECK(&c, prop_u64(&p, "MemorySwapMax") == 64 << 20);
    CHECK(&c, prop_u64(&p, "CPUWeight") == 20);
    /* 12345 us per 100 ms = 123450 us/s, rounded up to whole percent */
    CHECK(&c, prop_u64(&p, "CPUQuotaPerSecUSec") == 130000);
    CHECK(&c, prop_u64(&p, "CPUQuotaPeriodUSec") == 100000);
    CHECK(&c, prop_u64(&p, "TasksMax") == SYSTEMD_INFINITY);
    const struct systemd_prop *cpus = systemd_props_find(&p, "AllowedCPUs");
    CHECK(&c, cpus && cpus->type == SYSTEMD_PROP_BYTES && cpus->n_bytes == 1 && cpus->bytes[0] == 3);
    CHECK(&c, systemd_props_find(&p, "MemoryLimit") == NULL && systemd_props_find(&p, "CPUShares") == NULL);
    systemd_props_clear(&p);

    /* v1 names; old systemd lacks CPUQuotaPeriodUSec and AllowedCPUs */
    CHECK(&c, systemd_props_from_resources(&r, false, 241, &p, &err) == 0);
    CHECK(&c, prop_u64(&p, "MemoryLimit") == 64 << 20);
    CHECK(&c, prop_u64(&p, "CPUShares") == 512);
    CHECK(&c, systemd_props_find(&p, "CPUQuotaPeriodUSec") == NULL);
    CHECK(&c, systemd_props_find(&p, "AllowedCPUs") == NULL);
    CHECK(&c, systemd_props_find(&p, "MemoryLow") == NULL && systemd_props_find(&p, "MemorySwapMax") == NULL);
    systemd_props_clear(&p);

    /* 0 = unset, -1 = infinity; a period alone keeps the quota */
    struct spec_resources u = {.set = true, .has_memory = true, .has_cpu = true};
    u.memory.limit = (struct opt_i64){true, -1};
    u.cpu.shares = (struct opt_u64){true, 0};
    u.cpu.period = (struct opt_u64){true, 50000};
    u.pids_limit = (struct opt_i64){true, 0};
    CHECK(&c, systemd_props_from_resources(&u, true, 252, &p, &err) == 0);
    CHECK(&c, prop_u64(&p, "MemoryMax") == SYSTEMD_INFINITY);
    CHECK(&c, systemd_props_find(&p, "CPUWeight") == NULL);
    CHECK(&c, systemd_props_find(&p, "CPUQuotaPerSecUSec") == NULL);
    CHECK(&c, prop_u64(&p, "CPUQuotaPeriodUSec") == 50000);
    CHECK(&c, systemd_props_find(&p, "TasksMax") == NULL);
    CHECK(&c, p.n == 2);
    systemd_props_clear(&p);

    u.cpu.quota = (struct opt_i64){true, -1};
    u.cpu.mems = (char *)"x";
    CHECK(&c, systemd_props_from_resources(&u, true, 252, &p, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "linux.resources.cpu.mems"));
    error_free(err);
    err = NULL;
    u.cpu.mems = NULL;
    CHECK(&c, systemd_props_from_resources(&u, true, 252, &p, &err) == 0);
    CHECK(&c, prop_u64(&p, "CPUQuotaPerSecUSec") == SYSTEMD_INFINITY);
    systemd_props_clear(&p);
}

static const char *pair(const struct systemd_props *p, size_t i)
{
    const struct systemd_prop *e = NULL;
    for (size_t k = 0; k < p->n; k++)
        if (p->v[k].type == SYSTEMD_PROP_PAIRS)
            e = &p->v[k]; /* the last DeviceAllow= (the first one resets) */
    size_t n = 0;
    while (e && e->strv[n])
        n++;
    return e && i < n ? e->strv[i] : "(none)";
}

static void test_devices(void)
{
    const char *proc_devices =
        "Character devices:\n  1 mem\n  5 /dev/tty\n136 pts\n\nBlock devices:\n  8 sd\n";
    struct spec_device_cgroup cfg[] = {
        {.allow = true, .type = 'c', .major = {true, 10}, .minor = {true, 200}, .access = (char *)"rw"},
        {.allow = true, .type = 'b', .major = {true, 8}, .access = (char *)"r"},
        {.allow = true, .type = 'c', .major = {true, 99}, .access = (char *)"r"}, /* no name: left out */
        {.allow = false, .type = 'c', .major = {true, 10}, .minor = {true, 200}, .access = (char *)"w"},
    };
    struct cgroup_dev_rule *rules = NULL;
    size_t n = 0;
    struct keel_error *err = NULL;
    CHECK(&c, cgroup_devices_rules(cfg, 4, &rules, &n, &err) == 0);
    struct systemd_props p = {0};
    CHECK(&c, systemd_props_from_devices(rules, n, proc_devices, &p) == 0);
    const struct systemd_prop *pol = systemd_props_find(&p, "DevicePolicy");
    CHECK(&c, pol && strcmp(pol->str, "strict") == 0);
    /* the first DeviceAllow= is empty: it resets the list before an update */
    const struct systemd_prop *reset = systemd_props_find(&p, "DeviceAllow");
    CHECK(&c, reset && reset->type == SYSTEMD_PROP_PAIRS && reset->strv && reset->strv[0] == NULL);
    CHECK_STREQ(&c, pair(&p, 0), "/dev/char/10:200");
    CHECK_STREQ(&c, pair(&p, 1), "r"); /* the later deny took "w" away */
    CHECK_STREQ(&c, pair(&p, 2), "block-sd");
    CHECK_STREQ(&c, pair(&p, 3), "r");
    CHECK_STREQ(&c, pair(&p, 4), "char-*"); /* the defaults: mknod of anything */
    CHECK_STREQ(&c, pair(&p, 5), "m");
    CHECK_STREQ(&c, pair(&p, 6), "block-*");
    CHECK_STREQ(&c, pair(&p, 8), "/dev/char/1:3");
    CHECK_STREQ(&c, pair(&p, 9), "rwm");
    CHECK_STREQ(&c, pair(&p, 24), "char-pts");
    CHECK_STREQ(&c, pair(&p, 26), "(none)");
    systemd_props_clear(&p);
    free(rules);

    /* a bare "a" allow: everything, which systemd calls DevicePolicy=auto */
    struct spec_device_cgroup all[] = {{.allow = true}};
    CHECK(&c, cgroup_devices_rules(all, 1, &rules, &n, &err) == 0);
    CHECK(&c, systemd_props_from_devices(rules, n, proc_devices, &p) == 0);
    pol = systemd_props_find(&p, "DevicePolicy");
    CHECK(&c, pol && strcmp(pol->str, "auto") == 0 && p.n == 1);
    systemd_props_clear(&p);
    free(rules);
}

static void test_not_running(void)
{
    if (access("/run/systemd/system", F_OK) == 0) {
        fprintf(stderr, "systemd runs here: the refusal without systemd is not tested\n");
        return;
    }
    struct spec_linux lx = {.cgroups_path = (char *)"machine.slice:pfx:abc"};
    struct spec_config cfg = {.linux = &lx};
    struct cgroup_manager *m = NULL;
    struct keel_error *err = NULL;
    CHECK(&c, cgroup_manager_new(&cfg, "abc", true, false, &m, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "systemd is not running") && strstr(err->msg, "pfx-abc.scope") &&
                  strstr(err->msg, "machine.slice"));
    error_free(err);
}

int main(void)
{
    test_slices();
    test_cpuset_mask();
    test_props();
    test_devices();
    test_not_running();
    return unit_finish(&c);
}
