/* Statistics for `events --stats` and OOM notification for `events`, read
 * from whichever hierarchy carries each controller (v1 or v2 format). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "runtime/cgroup_internal.h"
#include "xalloc.h"

/* A missing file (an optional counter) reads as 0. */
static uint64_t get_u64(const char *dir, const char *file)
{
    uint64_t v = 0;
    cleanup_error struct keel_error *ignored = NULL;
    if (cgfs_read_u64(dir, file, &v, &ignored) < 0 || v == UINT64_MAX)
        return 0;
    return v;
}

static uint64_t get_keyed(const char *dir, const char *file, const char *key)
{
    uint64_t v = 0;
    cleanup_error struct keel_error *ignored = NULL;
    if (cgfs_read_keyed(dir, file, key, &v, &ignored) < 0)
        return 0;
    return v;
}

static void stats_cpu(struct cgroup_manager *m, struct cgroup_stats *s)
{
    struct cgroup_hier *acct = cgroup_find_hier(m, "cpuacct");
    struct cgroup_hier *cpu = cgroup_find_hier(m, "cpu");
    if (acct && !acct->v2) {
        s->has_cpu = true;
        s->cpu.total = get_u64(acct->dir, "cpuacct.usage");
        s->cpu.user = get_u64(acct->dir, "cpuacct.usage_user");
        s->cpu.kernel = get_u64(acct->dir, "cpuacct.usage_sys");
        cleanup_free char *per = NULL;
        cleanup_error struct keel_error *ignored = NULL;
        if (cgfs_read(acct->dir, "cpuacct.usage_percpu", &per, &ignored) == 0) {
            size_t cap = 0;
            for (char *p = per;;) {
                char *end;
                uint64_t v = strtoull(p, &end, 10);
                if (end == p)
                    break;
                p = end;
                if (s->cpu.n_percpu == cap) {
                    cap = cap ? cap * 2 : 8;
                    s->cpu.percpu = xrealloc(s->cpu.percpu, cap * sizeof(uint64_t));
                }
                s->cpu.percpu[s->cpu.n_percpu++] = v;
            }
        }
    }
    if (cpu && cpu->v2) {
        s->has_cpu = true;
        s->cpu.total = get_keyed(cpu->dir, "cpu.stat", "usage_usec") * 1000;
        s->cpu.user = get_keyed(cpu->dir, "cpu.stat", "user_usec") * 1000;
        s->cpu.kernel = get_keyed(cpu->dir, "cpu.stat", "system_usec") * 1000;
        s->cpu.throttled_time = get_keyed(cpu->dir, "cpu.stat", "throttled_usec") * 1000;
    } else if (cpu) {
        s->has_cpu = true;
        s->cpu.throttled_time = get_keyed(cpu->dir, "cpu.stat", "throttled_time");
    }
    if (cpu) {
        s->cpu.periods = get_keyed(cpu->dir, "cpu.stat", "nr_periods");
        s->cpu.throttled_periods = get_keyed(cpu->dir, "cpu.stat", "nr_throttled");
    }
}

static void stats_memory_raw(const char *dir, struct cgroup_stats *s)
{
    cleanup_free char *text = NULL;
    cleanup_error struct keel_error *ignored = NULL;
    if (cgfs_read(dir, "memory.stat", &text, &ignored) < 0)
        return;
    size_t cap = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        if (s->memory.n_raw == cap) {
            cap = cap ? cap * 2 : 32;
            s->memory.raw = xrealloc(s->memory.raw, cap * sizeof(*s->memory.raw));
        }
        s->memory.raw[s->memory.n_raw].key = xstrndup(line, (size_t)(sp - line));
        s->memory.raw[s->memory.n_raw++].value = strtoull(sp + 1, NULL, 10);
    }
}

static uint64_t raw_get(const struct cgroup_stats *s, const char *key)
{
    for (size_t i = 0; i < s->memory.n_raw; i++)
        if (strcmp(s->memory.raw[i].key, key) == 0)
            return s->memory.raw[i].value;
    return 0;
}

static void stats_memory(struct cgroup_manager *m, struct cgroup_stats *s)
{
    struct cgroup_hier *h = cgroup_find_hier(m, "memory");
    if (!h)
        return;
    s->has_memory = true;
    const char *d = h->dir;
    stats_memory_raw(d, s);
    if (h->v2) {
        s->memory.usage.usage = get_u64(d, "memory.current");
        s->memory.usage.max_usage = get_u64(d, "memory.peak");
        s->memory.usage.limit = get_u64(d, "memory.max");
        s->memory.usage.failcnt = get_keyed(d, "memory.events", "max");
        s->memory.swap.usage = get_u64(d, "memory.swap.current");
        s->memory.swap.max_usage = get_u64(d, "memory.swap.peak");
        s->memory.swap.limit = get_u64(d, "memory.swap.max");
        s->memory.cache = raw_get(s, "file");
        return;
    }
    s->memory.usage.usage = get_u64(d, "memory.usage_in_bytes");
    s->memory.usage.max_usage = get_u64(d, "memory.max_usage_in_bytes");
    s->memory.usage.failcnt = get_u64(d, "memory.failcnt");
    s->memory.usage.limit = get_u64(d, "memory.limit_in_bytes");
    s->memory.swap.usage = get_u64(d, "memory.memsw.usage_in_bytes");
    s->memory.swap.max_usage = get_u64(d, "memory.memsw.max_usage_in_bytes");
    s->memory.swap.failcnt = get_u64(d, "memory.memsw.failcnt");
    s->memory.swap.limit = get_u64(d, "memory.memsw.limit_in_bytes");
    s->memory.kernel.usage = get_u64(d, "memory.kmem.usage_in_bytes");
    s->memory.kernel.max_usage = get_u64(d, "memory.kmem.max_usage_in_bytes");
    s->memory.kernel.failcnt = get_u64(d, "memory.kmem.failcnt");
    s->memory.kernel.limit = get_u64(d, "memory.kmem.limit_in_bytes");
    s->memory.cache = raw_get(s, "total_cache") ? raw_get(s, "total_cache") : raw_get(s, "cache");
}

static void add_blkio(struct cgroup_blkio_entry **v, size_t *n, uint64_t maj, uint64_t min, const char *op,
                      uint64_t value)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    struct cgroup_blkio_entry *e = &(*v)[(*n)++];
    e->major = maj;
    e->minor = min;
    snprintf(e->op, sizeof(e->op), "%s", op);
    e->value = value;
}

static void blkio_v1_file(const char *dir, const char *file, struct cgroup_blkio_entry **v, size_t *n)
{
    cleanup_free char *text = NULL;
    cleanup_error struct keel_error *ignored = NULL;
    if (cgfs_read(dir, file, &text, &ignored) < 0)
        return;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned long long maj, min, value;
        char op[16];
        if (sscanf(line, "%llu:%llu %15s %llu", &maj, &min, op, &value) == 4)
            add_blkio(v, n, maj, min, op, value);
    }
}

static void stats_blkio(struct cgroup_manager *m, struct cgroup_stats *s)
{
    struct cgroup_hier *h = cgroup_find_hier(m, "blkio");
    if (!h)
        h = cgroup_find_hier(m, "io");
    if (!h)
        return;
    s->has_blkio = true;
    if (!h->v2) {
        blkio_v1_file(h->dir, "blkio.throttle.io_service_bytes_recursive", &s->blkio.service_bytes,
                      &s->blkio.n_service_bytes);
        blkio_v1_file(h->dir, "blkio.throttle.io_serviced_recursive", &s->blkio.serviced,
                      &s->blkio.n_serviced);
        return;
    }
    cleanup_free char *text = NULL;
    cleanup_error struct keel_error *ignored = NULL;
    if (cgfs_read(h->dir, "io.stat", &text, &ignored) < 0)
        return;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned long long maj, min;
        int off = 0;
        if (sscanf(line, "%llu:%llu%n", &maj, &min, &off) != 2)
            continue;
        char *save2 = NULL;
        for (char *kv = strtok_r(line + off, " ", &save2); kv; kv = strtok_r(NULL, " ", &save2)) {
            char *eq = strchr(kv, '=');
            if (!eq)
                continue;
            *eq = '\0';
            uint64_t v = strtoull(eq + 1, NULL, 10);
            if (strcmp(kv, "rbytes") == 0)
                add_blkio(&s->blkio.service_bytes, &s->blkio.n_service_bytes, maj, min, "Read", v);
            else if (strcmp(kv, "wbytes") == 0)
                add_blkio(&s->blkio.service_bytes, &s->blkio.n_service_bytes, maj, min, "Write", v);
            else if (strcmp(kv, "rios") == 0)
                add_blkio(&s->blkio.serviced, &s->blkio.n_serviced, maj, min, "Read", v);
            else if (strcmp(kv, "wios") == 0)
                add_blkio(&s->blkio.serviced, &s->blkio.n_serviced, maj, min, "Write", v);
        }
    }
}

static void stats_hugetlb(struct cgroup_manager *m, struct cgroup_stats *s)
{
    struct cgroup_hier *h = cgroup_find_hier(m, "hugetlb");
    if (!h)
        return;
    cleanup_dir DIR *d = opendir("/sys/kernel/mm/hugepages");
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        unsigned long kb;
        if (sscanf(de->d_name, "hugepages-%lukB", &kb) != 1)
            continue;
        char size[32];
        if (kb >= 1024 * 1024)
            snprintf(size, sizeof(size), "%luGB", kb / (1024 * 1024));
        else if (kb >= 1024)
            snprintf(size, sizeof(size), "%luMB", kb / 1024);
        else
            snprintf(size, sizeof(size), "%luKB", kb);
        struct cgroup_hugetlb_entry e = {0};
        snprintf(e.page_size, sizeof(e.page_size), "%.15s", size);
        cleanup_free char *f1 = xasprintf(h->v2 ? "hugetlb.%s.current" : "hugetlb.%s.usage_in_bytes", size);
        cleanup_free char *f2 = xasprintf("hugetlb.%s.max_usage_in_bytes", size);
        cleanup_free char *f3 = xasprintf(h->v2 ? "hugetlb.%s.events" : "hugetlb.%s.failcnt", size);
        e.usage = get_u64(h->dir, f1);
        e.max_usage = h->v2 ? 0 : get_u64(h->dir, f2);
        e.failcnt = h->v2 ? get_keyed(h->dir, f3, "max") : get_u64(h->dir, f3);
        s->hugetlb = xrealloc(s->hugetlb, (s->n_hugetlb + 1) * sizeof(*s->hugetlb));
        s->hugetlb[s->n_hugetlb++] = e;
    }
}

int cgroup_fs_stats(struct cgroup_manager *m, struct cgroup_stats *s, struct keel_error **err)
{
    struct cgroup_hier *main = cgroup_main_hier(m);
    if (!main || access(main->dir, F_OK) < 0)
        return error_set(err, ENOENT, "reading statistics: cgroup `%s` does not exist",
                         main ? main->dir : "?");
    stats_cpu(m, s);
    stats_memory(m, s);
    struct cgroup_hier *p = cgroup_find_hier(m, "pids");
    if (p) {
        s->has_pids = true;
        s->pids.current = get_u64(p->dir, "pids.current");
        s->pids.limit = get_u64(p->dir, "pids.max");
    }
    stats_blkio(m, s);
    stats_hugetlb(m, s);
    return 0;
}

/* ---- OOM ---- */

struct cgroup_oom_watch {
    int fd;         /* eventfd (v1) or inotify (v2) */
    int control_fd; /* v1: memory.oom_control, kept open for the registration */
    bool v2;
    char *dir;
    uint64_t last; /* v2: oom_kill count already reported */
};

void cgroup_oom_watch_free(struct cgroup_oom_watch *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->control_fd >= 0)
        close(w->control_fd);
    free(w->dir);
    free(w);
}

int cgroup_oom_watch_fd(const struct cgroup_oom_watch *w)
{
    return w->fd;
}

int cgroup_fs_oom_open(struct cgroup_manager *m, struct cgroup_oom_watch **out, struct keel_error **err)
{
    struct cgroup_hier *h = cgroup_find_hier(m, "memory");
    if (!h)
        return error_set(err, ENOTSUP,
                         "watching for OOM kills: the memory cgroup controller is not available");
    struct cgroup_oom_watch *w = xzalloc(sizeof(*w));
    w->fd = w->control_fd = -1;
    w->v2 = h->v2;
    w->dir = xstrdup(h->dir);
    if (h->v2) {
        cleanup_free char *path = xasprintf("%s/memory.events", h->dir);
        w->fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (w->fd < 0 || inotify_add_watch(w->fd, path, IN_MODIFY) < 0) {
            error_set(err, errno, "watching `%s`", path);
            cgroup_oom_watch_free(w);
            return -1;
        }
        w->last = get_keyed(h->dir, "memory.events", "oom_kill");
        *out = w;
        return 0;
    }
    cleanup_free char *ctl = xasprintf("%s/memory.oom_control", h->dir);
    w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    w->control_fd = open(ctl, O_RDONLY | O_CLOEXEC);
    if (w->fd < 0 || w->control_fd < 0) {
        error_set(err, errno, "opening `%s` for OOM notification", ctl);
        cgroup_oom_watch_free(w);
        return -1;
    }
    if (cgfs_writef(h->dir, "cgroup.event_control", err, "%d %d", w->fd, w->control_fd) < 0) {
        cgroup_oom_watch_free(w);
        return error_prefix(err, "registering for OOM notification");
    }
    *out = w;
    return 0;
}

int cgroup_oom_watch_read(struct cgroup_oom_watch *w, uint64_t *new_events, struct keel_error **err)
{
    *new_events = 0;
    if (!w->v2) {
        uint64_t c;
        ssize_t r = read(w->fd, &c, sizeof(c));
        if (r < 0 && errno != EAGAIN)
            return error_set(err, errno, "reading the OOM eventfd of `%s`", w->dir);
        /* the eventfd also fires when the cgroup is removed */
        if (r == sizeof(c) && access(w->dir, F_OK) == 0)
            *new_events = c;
        return 0;
    }
    char buf[4096];
    while (read(w->fd, buf, sizeof(buf)) > 0)
        ;
    uint64_t now = get_keyed(w->dir, "memory.events", "oom_kill");
    if (now > w->last)
        *new_events = now - w->last;
    w->last = now;
    return 0;
}
