/* linux.resources -> systemd unit properties, and systemd's slice naming.
 * Pure data: no D-Bus here, so the unit tests cover every conversion. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "runtime/cgroup_systemd.h"
#include "runtime/spec.h"
#include "strbuf.h"
#include "xalloc.h"

/* CPUQuotaPeriodUSec= appeared in systemd 242, AllowedCPUs= and
 * AllowedMemoryNodes= in 244. */
#define SYSTEMD_VERSION_QUOTA_PERIOD 242u
#define SYSTEMD_VERSION_ALLOWED_CPUS 244u
/* the most CPUs / memory nodes a cpuset list may name */
#define CPUSET_MAX 8192UL
#define DEFAULT_CFS_PERIOD 100000ULL

static struct systemd_prop *props_push(struct systemd_props *p, const char *name, enum systemd_prop_type t)
{
    p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
    struct systemd_prop *e = &p->v[p->n++];
    memset(e, 0, sizeof(*e));
    e->name = name;
    e->type = t;
    return e;
}

void systemd_props_add_bool(struct systemd_props *p, const char *name, bool value)
{
    props_push(p, name, SYSTEMD_PROP_BOOL)->u64 = value;
}

void systemd_props_add_u64(struct systemd_props *p, const char *name, uint64_t value)
{
    props_push(p, name, SYSTEMD_PROP_U64)->u64 = value;
}

void systemd_props_add_string(struct systemd_props *p, const char *name, const char *value)
{
    props_push(p, name, SYSTEMD_PROP_STRING)->str = xstrdup(value);
}

void systemd_props_add_strv1(struct systemd_props *p, const char *name, const char *value)
{
    props_push(p, name, SYSTEMD_PROP_STRV1)->str = xstrdup(value);
}

void systemd_props_add_pid(struct systemd_props *p, const char *name, pid_t pid)
{
    props_push(p, name, SYSTEMD_PROP_PIDS)->u64 = (uint64_t)pid;
}

static void props_add_bytes(struct systemd_props *p, const char *name, uint8_t *bytes, size_t n)
{
    struct systemd_prop *e = props_push(p, name, SYSTEMD_PROP_BYTES);
    e->bytes = bytes;
    e->n_bytes = n;
}

void systemd_props_clear(struct systemd_props *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].str);
        free(p->v[i].bytes);
        strv_free(p->v[i].strv);
    }
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

const struct systemd_prop *systemd_props_find(const struct systemd_props *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].name, name) == 0)
            return &p->v[i];
    return NULL;
}

static int parse_cpu_number(const char *s, char **end, const char *list, const char *field,
                            unsigned long *out, struct keel_error **err)
{
    if (*s < '0' || *s > '9')
        return error_set(err, EINVAL, "linux.resources.%s `%s`: expected a number at \"%s\"", field, list, s);
    errno = 0;
    unsigned long v = strtoul(s, end, 10);
    if (errno || v >= CPUSET_MAX)
        return error_set(err, EINVAL, "linux.resources.%s `%s`: %s is out of range (0..%lu)", field, list, s,
                         CPUSET_MAX - 1);
    *out = v;
    return 0;
}

int systemd_cpuset_to_mask(const char *list, const char *field, uint8_t **mask, size_t *n,
                           struct keel_error **err)
{
    cleanup_free uint8_t *m = xzalloc(CPUSET_MAX / 8);
    size_t len = 0; /* bytes in use */
    const char *s = list;
    while (*s == ' ' || *s == '\n')
        s++;
    while (*s && *s != '\n') {
        char *end = NULL;
        unsigned long lo, hi;
        if (parse_cpu_number(s, &end, list, field, &lo, err) < 0)
            return -1;
        hi = lo;
        if (*end == '-' && parse_cpu_number(end + 1, &end, list, field, &hi, err) < 0)
            return -1;
        if (hi < lo)
            return error_set(err, EINVAL, "linux.resources.%s `%s`: range %lu-%lu is reversed", field, list,
                             lo, hi);
        if (hi / 8 + 1 > len)
            len = hi / 8 + 1;
        for (unsigned long c = lo; c <= hi; c++)
            m[c / 8] |= (uint8_t)(1u << (c % 8));
        s = end;
        if (*s == ',')
            s++;
        else if (*s && *s != '\n' && *s != ' ')
            return error_set(err, EINVAL, "linux.resources.%s `%s`: unexpected \"%s\"", field, list, s);
        while (*s == ' ')
            s++;
    }
    if (len == 0)
        return error_set(err, EINVAL, "linux.resources.%s `%s`: names no CPU or node", field, list);
    *mask = xrealloc(steal_ptr(&m), len);
    *n = len;
    return 0;
}

int systemd_slice_path(const char *slice, char **out, struct keel_error **err)
{
    size_t len = strlen(slice);
    if (len < 7 || strcmp(slice + len - 6, ".slice") != 0)
        return error_set(err, EINVAL, "systemd slice `%s`: does not end in \".slice\"", slice);
    if (strcmp(slice, "-.slice") == 0) {
        *out = xstrdup("");
        return 0;
    }
    size_t plen = len - 6;
    if (slice[0] == '-' || slice[plen - 1] == '-' || strstr(slice, "--"))
        return error_set(err, EINVAL,
                         "systemd slice `%s`: \"-\" separates parent slices: none may be empty (no leading, "
                         "trailing or doubled \"-\")",
                         slice);
    for (size_t i = 0; i < plen; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.-\\", slice[i]))
            return error_set(err, EINVAL, "systemd slice `%s`: character '%c' is not allowed in a unit name",
                             slice, slice[i]);
    /* every "-" opens a parent: a-b.slice lives in a.slice */
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i <= plen; i++) {
        if (i == plen || slice[i] == '-') {
            strbuf_putc(&sb, '/');
            strbuf_append(&sb, slice, i);
            strbuf_puts(&sb, ".slice");
        }
    }
    *out = strbuf_detach(&sb);
    return 0;
}

static uint64_t limit_or_infinity(int64_t v)
{
    return v < 0 ? SYSTEMD_INFINITY : (uint64_t)v;
}

static void props_memory(const struct spec_memory *mem, bool v2, struct systemd_props *out)
{
    if (mem->limit.set && mem->limit.value != 0)
        systemd_props_add_u64(out, v2 ? "MemoryMax" : "MemoryLimit", limit_or_infinity(mem->limit.value));
    if (!v2)
        return;
    /* systemd rewrites memory.low and memory.swap.max of the units it
     * manages whenever it realises one: they must be properties too */
    if (mem->reservation.set && mem->reservation.value != 0)
        systemd_props_add_u64(out, "MemoryLow", limit_or_infinity(mem->reservation.value));
    if (mem->swap.set && mem->swap.value == -1)
        systemd_props_add_u64(out, "MemorySwapMax", SYSTEMD_INFINITY);
    else if (mem->swap.set && mem->swap.value > 0 && mem->limit.set && mem->limit.value > 0 &&
             mem->swap.value >= mem->limit.value)
        systemd_props_add_u64(out, "MemorySwapMax", (uint64_t)(mem->swap.value - mem->limit.value));
    /* other swap values are left to the files, which explain the refusal */
}

static void props_cpu(const struct spec_cpu *cpu, bool v2, unsigned version, struct systemd_props *out)
{
    if (cpu->shares.set && cpu->shares.value != 0) {
        if (v2)
            systemd_props_add_u64(out, "CPUWeight", cgroup_convert_shares_to_weight(cpu->shares.value));
        else
            systemd_props_add_u64(out, "CPUShares", cpu->shares.value);
    }
    bool period = cpu->period.set && cpu->period.value != 0;
    if (period && version >= SYSTEMD_VERSION_QUOTA_PERIOD)
        systemd_props_add_u64(out, "CPUQuotaPeriodUSec", cpu->period.value);
    if (!cpu->quota.set || cpu->quota.value == 0)
        return; /* a period alone keeps the quota, as the files do */
    if (cpu->quota.value < 0) {
        systemd_props_add_u64(out, "CPUQuotaPerSecUSec", SYSTEMD_INFINITY);
        return;
    }
    /* systemd keeps the quota as a whole percentage of a CPU (10 ms per
     * second): round up, so that the exact cpu.max written afterwards is
     * never above what systemd allows */
    uint64_t p = period ? cpu->period.value : DEFAULT_CFS_PERIOD;
    uint64_t per_sec = ((uint64_t)cpu->quota.value * 1000000ULL + p - 1) / p;
    per_sec = (per_sec + 9999) / 10000 * 10000;
    systemd_props_add_u64(out, "CPUQuotaPerSecUSec", per_sec);
}

int systemd_props_from_resources(const struct spec_resources *r, bool v2, unsigned version,
                                 struct systemd_props *out, struct keel_error **err)
{
    struct systemd_props p = {0};
    if (r->has_memory)
        props_memory(&r->memory, v2, &p);
    if (r->has_cpu)
        props_cpu(&r->cpu, v2, version, &p);
    if (r->pids_limit.set && r->pids_limit.value != 0)
        systemd_props_add_u64(&p, "TasksMax", limit_or_infinity(r->pids_limit.value));
    if (r->has_cpu && v2 && version >= SYSTEMD_VERSION_ALLOWED_CPUS) {
        const char *lists[] = {r->cpu.cpus, r->cpu.mems};
        const char *fields[] = {"cpu.cpus", "cpu.mems"};
        const char *names[] = {"AllowedCPUs", "AllowedMemoryNodes"};
        for (size_t i = 0; i < 2; i++) {
            if (!lists[i] || !lists[i][0])
                continue;
            uint8_t *mask = NULL;
            size_t n = 0;
            if (systemd_cpuset_to_mask(lists[i], fields[i], &mask, &n, err) < 0) {
                systemd_props_clear(&p);
                return -1;
            }
            props_add_bytes(&p, names[i], mask, n);
        }
    }
    *out = p;
    return 0;
}

/* ---- devices (v1 hosts) ---- */

#define DEV_ALL_ACCESS (CGROUP_DEV_READ | CGROUP_DEV_WRITE | CGROUP_DEV_MKNOD)

struct dev_entry {
    char type; /* 'c' or 'b' */
    int64_t major, minor;
    unsigned access;
};

static bool dev_overlaps(const struct dev_entry *e, const struct cgroup_dev_rule *r)
{
    return (r->type == 'a' || r->type == e->type) && (r->major < 0 || e->major < 0 || r->major == e->major) &&
           (r->minor < 0 || e->minor < 0 || r->minor == e->minor);
}

/* The name /proc/devices gives major in its "Character devices:" or "Block
 * devices:" section, or NULL. */
static char *dev_class_name(const char *proc_devices, char type, int64_t major)
{
    const char *section = type == 'c' ? "Character devices:" : "Block devices:";
    const char *p = proc_devices ? strstr(proc_devices, section) : NULL;
    if (!p)
        return NULL;
    p = strchr(p, '\n');
    while (p && p[1] && p[1] != '\n') {
        p++;
        char *end = NULL;
        long long m = strtoll(p, &end, 10);
        const char *eol = strchr(p, '\n');
        if (end != p && m == major && *end == ' ') {
            const char *name = end + 1;
            return xstrndup(name, eol ? (size_t)(eol - name) : strlen(name));
        }
        p = eol;
    }
    return NULL;
}

static char *dev_access_string(unsigned a)
{
    char s[4];
    size_t k = 0;
    if (a & CGROUP_DEV_READ)
        s[k++] = 'r';
    if (a & CGROUP_DEV_WRITE)
        s[k++] = 'w';
    if (a & CGROUP_DEV_MKNOD)
        s[k++] = 'm';
    s[k] = '\0';
    return xstrdup(s);
}

/* systemd's name for the entry, or NULL when it has none. */
static char *dev_systemd_name(const struct dev_entry *e, const char *proc_devices)
{
    const char *kind = e->type == 'c' ? "char" : "block";
    if (e->major < 0)
        return e->minor < 0 ? xasprintf("%s-*", kind) : NULL;
    if (e->minor >= 0)
        return xasprintf("/dev/%s/%" PRId64 ":%" PRId64, kind, e->major, e->minor);
    cleanup_free char *name = dev_class_name(proc_devices, e->type, e->major);
    return name ? xasprintf("%s-%s", kind, name) : NULL;
}

int systemd_props_from_devices(const struct cgroup_dev_rule *rules, size_t n, const char *proc_devices,
                               struct systemd_props *out)
{
    cleanup_free struct dev_entry *v = xcalloc(2 * n + 1, sizeof(*v));
    size_t k = 0;
    bool allow_all = false;
    for (size_t i = 0; i < n; i++) {
        const struct cgroup_dev_rule *r = &rules[i];
        if (r->type == 'a' && r->major < 0 && r->minor < 0 && r->access == DEV_ALL_ACCESS) {
            k = 0; /* a bare "a": everything (allow) or nothing (deny) from here */
            allow_all = r->allow;
            continue;
        }
        if (r->allow) {
            if (allow_all)
                continue;
            const char *types = r->type == 'a' ? "cb" : (r->type == 'c' ? "c" : "b");
            for (const char *t = types; *t; t++)
                v[k++] = (struct dev_entry){*t, r->major, r->minor, r->access};
            continue;
        }
        /* a deny under allow-all cannot be said to systemd (allow lists
         * only): it is kept in the files, lost should systemd re-realise */
        for (size_t j = 0; j < k; j++)
            if (dev_overlaps(&v[j], r))
                v[j].access &= ~r->access;
    }
    if (allow_all) {
        systemd_props_add_string(out, "DevicePolicy", "auto");
        return 0;
    }
    systemd_props_add_string(out, "DevicePolicy", "strict");
    char **pairs = xcalloc(2 * k + 1, sizeof(*pairs));
    size_t np = 0;
    for (size_t j = 0; j < k; j++) {
        if (!v[j].access)
            continue;
        char *name = dev_systemd_name(&v[j], proc_devices);
        if (!name)
            continue;
        pairs[np++] = name;
        pairs[np++] = dev_access_string(v[j].access);
    }
    /* an empty DeviceAllow= first: SetUnitProperties appends to the list */
    props_push(out, "DeviceAllow", SYSTEMD_PROP_PAIRS)->strv = xcalloc(1, sizeof(char *));
    props_push(out, "DeviceAllow", SYSTEMD_PROP_PAIRS)->strv = pairs;
    return 0;
}
