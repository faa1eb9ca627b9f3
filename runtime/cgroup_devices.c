/* Device access rules: from linux.resources.devices to the rule list keel
 * installs, and writing that list to a v1 devices cgroup. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "runtime/cgroup_internal.h"
#include "runtime/spec.h"
#include "xalloc.h"

#define ALL_ACCESS (CGROUP_DEV_READ | CGROUP_DEV_WRITE | CGROUP_DEV_MKNOD)

/* What every container may use whatever its config says (runc and crun
 * grant the same set): mknod of anything, the standard character devices
 * and the pseudo-terminals. */
static const struct cgroup_dev_rule default_rules[] = {
    {true, 'c', -1, -1, CGROUP_DEV_MKNOD}, {true, 'b', -1, -1, CGROUP_DEV_MKNOD},
    {true, 'c', 1, 3, ALL_ACCESS},    /* null */
    {true, 'c', 1, 5, ALL_ACCESS},    /* zero */
    {true, 'c', 1, 7, ALL_ACCESS},    /* full */
    {true, 'c', 1, 8, ALL_ACCESS},    /* random */
    {true, 'c', 1, 9, ALL_ACCESS},    /* urandom */
    {true, 'c', 5, 0, ALL_ACCESS},    /* tty */
    {true, 'c', 5, 1, ALL_ACCESS},    /* console */
    {true, 'c', 5, 2, ALL_ACCESS},    /* ptmx */
    {true, 'c', 136, -1, ALL_ACCESS}, /* pts */
};

static int parse_access(const char *s, size_t i, unsigned *out, struct keel_error **err)
{
    if (!s) {
        *out = ALL_ACCESS;
        return 0;
    }
    unsigned a = 0;
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case 'r':
            a |= CGROUP_DEV_READ;
            break;
        case 'w':
            a |= CGROUP_DEV_WRITE;
            break;
        case 'm':
            a |= CGROUP_DEV_MKNOD;
            break;
        default:
            return error_set(err, EINVAL,
                             "linux.resources.devices[%zu].access: \"%s\" is not a subset of \"rwm\"", i, s);
        }
    }
    *out = a;
    return 0;
}

int cgroup_devices_rules(const struct spec_device_cgroup *d, size_t n, struct cgroup_dev_rule **out,
                         size_t *n_out, struct keel_error **err)
{
    size_t nd = sizeof(default_rules) / sizeof(default_rules[0]);
    cleanup_free struct cgroup_dev_rule *rules = xcalloc(1 + n + nd, sizeof(*rules));
    size_t k = 0;
    /* start from "deny everything": the config's rules and the defaults open what they name */
    rules[k++] = (struct cgroup_dev_rule){false, 'a', -1, -1, ALL_ACCESS};
    for (size_t i = 0; i < n; i++) {
        struct cgroup_dev_rule *r = &rules[k++];
        r->allow = d[i].allow;
        r->type = d[i].type ? d[i].type : 'a';
        if (r->type != 'a' && r->type != 'c' && r->type != 'b')
            return error_set(err, EINVAL, "linux.resources.devices[%zu].type: \"%c\" is not a, c or b", i,
                             r->type);
        r->major = d[i].major.set ? d[i].major.value : -1;
        r->minor = d[i].minor.set ? d[i].minor.value : -1;
        if (r->major < -1 || r->minor < -1 || r->major > UINT32_MAX || r->minor > UINT32_MAX)
            return error_set(err, ERANGE, "linux.resources.devices[%zu]: major/minor out of range", i);
        if (parse_access(d[i].access, i, &r->access, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < nd; i++)
        rules[k++] = default_rules[i];
    *out = steal_ptr(&rules);
    *n_out = k;
    return 0;
}

static void format_num(char *buf, size_t len, int64_t v)
{
    if (v < 0)
        snprintf(buf, len, "*");
    else
        snprintf(buf, len, "%" PRId64, v);
}

/* devices.allow and devices.deny are each opened once and take one rule per
 * write(2), in the order of the list (the order matters: a later rule
 * overrides an earlier one). */
struct dev_files {
    const char *dir;
    int fd[2]; /* [0] devices.deny, [1] devices.allow; -1 until first used */
};

static int dev_write(struct dev_files *f, bool allow, const char *rule, struct keel_error **err)
{
    const char *file = allow ? "devices.allow" : "devices.deny";
    int *fd = &f->fd[allow ? 1 : 0];
    if (*fd < 0) {
        cleanup_free char *path = xasprintf("%s/%s", f->dir, file);
        *fd = open(path, O_WRONLY | O_CLOEXEC);
        if (*fd < 0)
            return error_set(err, errno, "opening `%s`", path);
    }
    if (write(*fd, rule, strlen(rule)) < 0)
        return error_set(err, errno, "writing \"%s\" to `%s/%s`", rule, f->dir, file);
    return 0;
}

static int dev_apply(struct dev_files *f, const struct cgroup_dev_rule *rules, size_t n,
                     struct keel_error **err)
{
    for (size_t i = 0; i < n; i++) {
        const struct cgroup_dev_rule *r = &rules[i];
        char line[64], maj[24], min[24], acc[4];
        size_t a = 0;
        if (r->access & CGROUP_DEV_READ)
            acc[a++] = 'r';
        if (r->access & CGROUP_DEV_WRITE)
            acc[a++] = 'w';
        if (r->access & CGROUP_DEV_MKNOD)
            acc[a++] = 'm';
        acc[a] = '\0';
        if (a == 0)
            continue;
        /* the kernel reads a bare "a" as "change the default", which only
         * fits a rule for every device and every access; narrower "a" rules
         * are written for c and b separately */
        if (r->type == 'a' && r->access == ALL_ACCESS && r->major < 0 && r->minor < 0) {
            if (dev_write(f, r->allow, "a", err) < 0)
                return -1;
            continue;
        }
        format_num(maj, sizeof(maj), r->major);
        format_num(min, sizeof(min), r->minor);
        const char *types = r->type == 'a' ? "cb" : (r->type == 'c' ? "c" : "b");
        for (const char *t = types; *t; t++) {
            snprintf(line, sizeof(line), "%c %s:%s %s", *t, maj, min, acc);
            if (dev_write(f, r->allow, line, err) < 0)
                return -1;
        }
    }
    return 0;
}

int cgroup_devices_apply_v1(const char *dir, const struct cgroup_dev_rule *rules, size_t n,
                            struct keel_error **err)
{
    struct dev_files f = {dir, {-1, -1}};
    int ret = dev_apply(&f, rules, n, err);
    for (size_t i = 0; i < 2; i++)
        if (f.fd[i] >= 0)
            close(f.fd[i]);
    return ret;
}
