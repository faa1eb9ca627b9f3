/* The filesystem backends (v1 incl. hybrid, and v2): creating, entering,
 * freezing, signalling and removing the container's cgroups.  Both share
 * this code; what differs per hierarchy type is decided per hierarchy. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "runtime/cgroup_internal.h"
#include "runtime/spec.h"
#include "xalloc.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool is_blank(const char *s)
{
    return s[strspn(s, " \n")] == '\0';
}

/* A new v1 cpuset cgroup starts with empty cpus and mems, and the kernel
 * refuses tasks until they are set: inherit the parent's.  fresh: we just
 * made dir, so it is known to be blank.  A blank parent fails with ENODATA
 * (hier_create's fast path then sets up the whole path from the top). */
static int cpuset_inherit(const char *parent, const char *dir, bool fresh, struct keel_error **err)
{
    const char *files[] = {"cpuset.cpus", "cpuset.mems"};
    for (size_t i = 0; i < 2; i++) {
        cleanup_free char *cur = NULL, *from = NULL;
        if (!fresh) {
            if (cgfs_read(dir, files[i], &cur, err) < 0)
                return -1;
            if (!is_blank(cur))
                continue;
        }
        if (cgfs_read(parent, files[i], &from, err) < 0)
            return -1;
        if (is_blank(from))
            return error_set(err, ENODATA, "`%s/%s` is empty", parent, files[i]);
        from[strcspn(from, "\n")] = '\0';
        if (cgfs_write(dir, files[i], from, err) < 0)
            return -1;
    }
    return 0;
}

/* Let children of a v2 cgroup use every controller it has. */
static int v2_enable_controllers(const char *dir, struct keel_error **err)
{
    cleanup_free char *avail = NULL, *enabled = NULL;
    if (cgfs_read(dir, "cgroup.controllers", &avail, err) < 0 ||
        cgfs_read(dir, "cgroup.subtree_control", &enabled, err) < 0)
        return -1;
    /* a threaded subtree (and its "domain threaded" root) takes only the
     * threaded controllers (cpu, cpuset, pids, perf_event): skip the others */
    cleanup_free char *type = NULL;
    cleanup_error struct keel_error *no_type = NULL;
    bool threaded = cgfs_read(dir, "cgroup.type", &type, &no_type) == 0 && strstr(type, "threaded");
    struct cgroup_hier have = {.controllers = enabled, .v2 = true};
    enabled[strcspn(enabled, "\n")] = '\0';
    char *save = NULL;
    for (char *c = strtok_r(avail, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
        if (cgroup_hier_has(&have, c))
            continue;
        cleanup_free char *v = xasprintf("+%s", c);
        if (threaded) {
            cleanup_error struct keel_error *e = NULL;
            if (cgfs_write(dir, "cgroup.subtree_control", v, &e) == 0 || e->errnum == EOPNOTSUPP)
                continue;
            *err = steal_ptr(&e);
            return error_prefix(err, "enabling the %s controller for the children of `%s`", c, dir);
        }
        if (cgfs_write(dir, "cgroup.subtree_control", v, err) < 0) {
            cleanup_free char *procs = NULL;
            cleanup_error struct keel_error *ignored = NULL;
            if (cgfs_read(dir, "cgroup.procs", &procs, &ignored) == 0 && !is_blank(procs))
                return error_prefix(err,
                                    "enabling the %s controller for the children of `%s` (it holds processes "
                                    "itself, which cgroup v2 forbids once children use controllers)",
                                    c, dir);
            return error_prefix(err, "enabling the %s controller for the children of `%s`", c, dir);
        }
    }
    return 0;
}

/* strict: a controller that cannot be enabled is an error (pure v2).  On a
 * hybrid host the cgroup2 tree only adds hugetlb; failing to enable it there
 * must not stop a container that does not ask for it (hugepageLimits then
 * fails, naming the missing file). */
static int hier_create(const struct cgroup_hier *h, bool strict, struct keel_error **err)
{
    bool cpuset = !h->v2 && cgroup_hier_has(h, "cpuset");
    size_t base = strlen(h->mountpoint);
    /* v1 fast path: the parents usually exist (and a cpuset parent is set
     * up), so one mkdir does; anything unusual takes the walk below. */
    if (!h->v2 && mkdir(h->dir, 0755) == 0) {
        if (!cpuset)
            return 0;
        cleanup_free char *parent = xstrndup(h->dir, (size_t)(strrchr(h->dir, '/') - h->dir));
        cleanup_error struct keel_error *e = NULL;
        if (cpuset_inherit(parent, h->dir, true, &e) == 0)
            return 0;
        if (e->errnum != ENODATA) {
            *err = steal_ptr(&e);
            return error_prefix(err, "initialising cpuset cgroup `%s`", h->dir);
        }
    }
    cleanup_free char *cur = xstrdup(h->dir);
    for (size_t i = base + 1;; i++) {
        if (cur[i] != '/' && cur[i] != '\0')
            continue;
        char saved = cur[i];
        cur[i] = '\0';
        char *slash = strrchr(cur, '/');
        cleanup_free char *parent = xstrndup(cur, (size_t)(slash - cur));
        if (h->v2) {
            cleanup_error struct keel_error *e = NULL;
            if (v2_enable_controllers(parent, &e) < 0 && strict) {
                *err = steal_ptr(&e);
                return -1;
            }
        }
        if (mkdir(cur, 0755) < 0 && errno != EEXIST)
            return error_set(err, errno, "creating cgroup `%s`", cur);
        if (cpuset && cpuset_inherit(parent, cur, false, err) < 0)
            return error_prefix(err, "initialising cpuset cgroup `%s`", cur);
        cur[i] = saved;
        if (saved == '\0')
            break;
    }
    if (h->v2) {
        /* Below a threaded cgroup a new child is "domain invalid": it can
         * hold no process until it joins the threaded subtree.  Make it
         * threaded (only threaded controllers apply there: cpu, cpuset, pids;
         * a memory limit then fails naming its file). */
        cleanup_free char *type = NULL;
        cleanup_error struct keel_error *ignored = NULL;
        if (cgfs_read(h->dir, "cgroup.type", &type, &ignored) == 0 &&
            strncmp(type, "domain invalid", 14) == 0 &&
            cgfs_write(h->dir, "cgroup.type", "threaded", err) < 0)
            return error_prefix(
                err,
                "cgroup `%s` is \"domain invalid\" (its parent is threaded) and cannot be made "
                "threaded",
                h->dir);
    }
    return 0;
}

/* fast: the cgroup most likely exists (exec): try the write first and
 * create only on ENOENT.  Otherwise (create) always walk the path, so the
 * parents' subtree_control and a new cpuset are set up even when someone
 * else made the directory. */
static int fs_move(struct cgroup_manager *m, pid_t pid, bool fast, struct keel_error **err)
{
    for (size_t i = 0; i < m->n_hiers; i++) {
        struct cgroup_hier *h = &m->hiers[i];
        if (fast) {
            cleanup_error struct keel_error *first = NULL;
            if (cgfs_writef(h->dir, "cgroup.procs", &first, "%d", (int)pid) == 0)
                continue;
            if (first->errnum != ENOENT) {
                *err = steal_ptr(&first);
                return error_prefix(err, "moving pid %d into cgroup `%s`", (int)pid, h->dir);
            }
        }
        if (hier_create(h, m->ops == &cgroup_ops_fs_v2, err) < 0)
            return -1;
        if (cgfs_writef(h->dir, "cgroup.procs", err, "%d", (int)pid) < 0)
            return error_prefix(err, "moving pid %d into cgroup `%s`", (int)pid, h->dir);
    }
    return 0;
}

static int fs_enter(struct cgroup_manager *m, pid_t pid, struct keel_error **err)
{
    return fs_move(m, pid, false, err);
}

static int fs_join(struct cgroup_manager *m, pid_t pid, struct keel_error **err)
{
    return fs_move(m, pid, true, err);
}

static int fs_apply(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err)
{
    return cgroup_fs_apply_resources(m, r, err);
}

/* The hierarchy that freezes: the v1 freezer, else cgroup2's cgroup.freeze. */
static struct cgroup_hier *freezer_hier(struct cgroup_manager *m)
{
    struct cgroup_hier *h = cgroup_find_hier(m, "freezer");
    if (h)
        return h;
    for (size_t i = 0; i < m->n_hiers; i++)
        if (m->hiers[i].v2 && cgfs_exists(m->hiers[i].dir, "cgroup.freeze"))
            return &m->hiers[i];
    return NULL;
}

static int read_frozen(const struct cgroup_hier *h, bool *frozen, bool *settled, struct keel_error **err)
{
    cleanup_free char *s = NULL;
    if (h->v2) {
        uint64_t v = 0;
        int r = cgfs_read_keyed(h->dir, "cgroup.events", "frozen", &v, err);
        if (r == -ENOENT)
            return error_set(err, ENOENT, "`%s/cgroup.events` has no \"frozen\" key", h->dir);
        if (r < 0)
            return -1;
        if (cgfs_read(h->dir, "cgroup.freeze", &s, err) < 0)
            return -1;
        *frozen = v == 1;
        *settled = (s[0] == '1') == *frozen;
        return 0;
    }
    if (cgfs_read(h->dir, "freezer.state", &s, err) < 0)
        return -1;
    *frozen = strncmp(s, "FROZEN", 6) == 0;
    *settled = strncmp(s, "FREEZING", 8) != 0;
    return 0;
}

static int fs_freeze(struct cgroup_manager *m, bool frozen, struct keel_error **err)
{
    struct cgroup_hier *h = freezer_hier(m);
    if (!h)
        return error_set(err, ENOTSUP,
                         "%s: no freezer: neither a v1 freezer controller nor cgroup.freeze (cgroup v2)",
                         frozen ? "pausing" : "resuming");
    const char *file = h->v2 ? "cgroup.freeze" : "freezer.state";
    const char *value = h->v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");
    /* v1 may stay in FREEZING when a task is in an uninterruptible sleep:
     * write again until it settles, then give up and thaw. */
    for (int attempt = 0; attempt < 1000; attempt++) {
        if (attempt % 50 == 0 && cgfs_write(h->dir, file, value, err) < 0)
            return -1;
        bool now, settled;
        if (read_frozen(h, &now, &settled, err) < 0)
            return -1;
        if (settled && now == frozen)
            return 0;
        sleep_ms(attempt < 10 ? 1 : 10);
    }
    if (frozen) {
        cleanup_error struct keel_error *ignored = NULL;
        cgfs_write(h->dir, file, h->v2 ? "0" : "THAWED", &ignored);
    }
    return error_set(err, ETIMEDOUT, "%s cgroup `%s`: the kernel did not report it %s within 10 s",
                     frozen ? "freezing" : "thawing", h->dir, frozen ? "frozen" : "thawed");
}

static int fs_is_frozen(struct cgroup_manager *m, bool *frozen, struct keel_error **err)
{
    struct cgroup_hier *h = freezer_hier(m);
    if (!h) {
        *frozen = false;
        return 0;
    }
    bool settled;
    return read_frozen(h, frozen, &settled, err);
}

static int fs_get_pids(struct cgroup_manager *m, pid_t **pids, size_t *n, struct keel_error **err)
{
    struct cgroup_hier *h = cgroup_main_hier(m);
    if (!h) {
        *pids = NULL;
        *n = 0;
        return 0;
    }
    return cgfs_collect_pids(h->dir, pids, n, err);
}

static int fs_kill_all(struct cgroup_manager *m, int sig, struct keel_error **err)
{
    struct cgroup_hier *main = cgroup_main_hier(m);
    if (!main || access(main->dir, F_OK) < 0)
        return 0;
    if (sig == SIGKILL && main->v2 && cgfs_exists(main->dir, "cgroup.kill")) {
        /* threaded cgroups refuse cgroup.kill: fall back to the list */
        cleanup_error struct keel_error *e = NULL;
        if (cgfs_write(main->dir, "cgroup.kill", "1", &e) == 0)
            return 0;
        if (e->errnum != EOPNOTSUPP) {
            *err = steal_ptr(&e);
            return -1;
        }
    }

    /* An empty cgroup (the container's processes are gone: delete of a
     * stopped container) has nothing to signal, and nothing in it can fork:
     * skip the freezing. */
    {
        cleanup_free pid_t *pids = NULL;
        size_t n = 0;
        if (cgfs_collect_pids(main->dir, &pids, &n, err) < 0)
            return -1;
        if (n == 0)
            return 0;
    }

    /* Freeze first so that no process forks behind our back while we signal
     * the list; a SIGKILLed process must be thawed to die. */
    struct cgroup_hier *fh = freezer_hier(m);
    bool was_frozen = false, froze = false;
    if (fh) {
        if (fs_is_frozen(m, &was_frozen, err) < 0)
            return -1;
        if (!was_frozen) {
            cleanup_error struct keel_error *ignored = NULL;
            froze = fs_freeze(m, true, &ignored) == 0;
        }
    }
    cleanup_free pid_t *pids = NULL;
    size_t n = 0;
    int r = cgfs_collect_pids(main->dir, &pids, &n, err);
    if (r == 0)
        r = cgfs_signal_pids(pids, n, sig, err);
    if (froze || (was_frozen && sig == SIGKILL)) {
        cleanup_error struct keel_error *thaw_err = NULL;
        if (fs_freeze(m, false, &thaw_err) < 0 && r == 0) {
            *err = steal_ptr(&thaw_err);
            return -1;
        }
    }
    return r;
}

/* A stopped container's cgroups are empty: one rmdir each does, without
 * listing, freezing or killing.  rmdir succeeds only on a cgroup without
 * processes and children, so nothing the kill would reach is left behind;
 * the membership hierarchy goes first, and once one rmdir fails the caller
 * kills and removes as usual (what is already gone is then ENOENT). */
static bool remove_all_if_empty(struct cgroup_manager *m)
{
    struct cgroup_hier *main = cgroup_main_hier(m);
    if (main && rmdir(main->dir) < 0 && errno != ENOENT)
        return false;
    for (size_t i = 0; i < m->n_hiers; i++)
        if (&m->hiers[i] != main && rmdir(m->hiers[i].dir) < 0 && errno != ENOENT)
            return false;
    return true;
}

static int fs_destroy(struct cgroup_manager *m, struct keel_error **err)
{
    if (remove_all_if_empty(m))
        return 0;
    /* Processes may still be dying: kill, then let cgfs_remove retry. */
    for (int round = 0; round < 3; round++) {
        if (fs_kill_all(m, SIGKILL, err) < 0)
            return error_prefix(err, "deleting cgroup `%s`", m->path);
        bool busy = false;
        for (size_t i = 0; i < m->n_hiers; i++) {
            cleanup_error struct keel_error *e = NULL;
            if (cgfs_remove(m->hiers[i].dir, &e) < 0) {
                if (e->errnum != EBUSY || round == 2) {
                    *err = steal_ptr(&e);
                    return -1;
                }
                busy = true;
            }
        }
        if (!busy)
            return 0;
    }
    return 0;
}

static int fs_stats(struct cgroup_manager *m, struct cgroup_stats *out, struct keel_error **err)
{
    return cgroup_fs_stats(m, out, err);
}

static int fs_oom_open(struct cgroup_manager *m, struct cgroup_oom_watch **out, struct keel_error **err)
{
    return cgroup_fs_oom_open(m, out, err);
}

const struct cgroup_ops cgroup_ops_fs_v1 = {
    .name = "v1",
    .enter = fs_enter,
    .join = fs_join,
    .apply = fs_apply,
    .destroy = fs_destroy,
    .freeze = fs_freeze,
    .is_frozen = fs_is_frozen,
    .get_pids = fs_get_pids,
    .kill_all = fs_kill_all,
    .stats = fs_stats,
    .oom_open = fs_oom_open,
};

const struct cgroup_ops cgroup_ops_fs_v2 = {
    .name = "v2",
    .enter = fs_enter,
    .join = fs_join,
    .apply = fs_apply,
    .destroy = fs_destroy,
    .freeze = fs_freeze,
    .is_frozen = fs_is_frozen,
    .get_pids = fs_get_pids,
    .kill_all = fs_kill_all,
    .stats = fs_stats,
    .oom_open = fs_oom_open,
};
