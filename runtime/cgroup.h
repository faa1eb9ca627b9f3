/* Container cgroups behind one interface.
 *
 * A cgroup_manager is made once per container (at create) from the config;
 * it chooses a backend by probing /sys/fs/cgroup: v1 (including the hybrid
 * layout, where some controllers live on a cgroup2 mount), v2 (unified),
 * systemd (--systemd-cgroup, cgroupsPath "slice:prefix:name") or none
 * (cgroups unavailable, e.g. rootless without delegation).  Callers never
 * ask which one is active.  The manager is saved as a string in state.json
 * and loaded again by later commands (kill, delete, pause, update, ps...).
 *
 * cgroupsPath rules (as runc): absolute "/a/b" is taken under each
 * hierarchy's root; relative "a/b" is taken under the cgroup of the calling
 * process; empty is "/keel/<id>".
 *
 * Every function returns 0 or a negative value with *err filled; messages
 * name the cgroup file and the resource ("linux.resources.memory.swap").
 * A resource the host cannot provide is an error, never a silent no-op. */
#ifndef KEEL_CGROUP_H
#define KEEL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct keel_error;
struct spec_config;
struct spec_resources;
struct cgroup_manager;

/* Choose the backend and resolve the path; creates nothing yet.
 * With systemd=true the systemd driver is used (and fails clearly when
 * systemd is not running).  rootless=true falls back to the none backend
 * when the cgroup cannot be delegated to us. */
int cgroup_manager_new(const struct spec_config *cfg, const char *container_id, bool systemd, bool rootless,
                       struct cgroup_manager **out, struct keel_error **err);

/* Create the cgroup(s) (enabling v2 controllers in the parents'
 * subtree_control, initialising a v1 cpuset) and move pid in.  Idempotent. */
int cgroup_enter(struct cgroup_manager *m, pid_t pid, struct keel_error **err);
/* Move pid into the container's existing cgroup(s) (`exec`): one write per
 * hierarchy; falls back to cgroup_enter's creation when one is missing. */
int cgroup_join(struct cgroup_manager *m, pid_t pid, struct keel_error **err);

/* Write linux.resources to the cgroup (create, and `update`).  Fields that
 * are absent are left as they are. */
int cgroup_apply_resources(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err);

/* Kill what remains (SIGKILL, thawing first), wait, retry rmdir until the
 * cgroup(s) are gone; a missing cgroup is fine. */
int cgroup_destroy(struct cgroup_manager *m, struct keel_error **err);

/* Freeze (pause) or thaw (resume); waits until the kernel reports the state. */
int cgroup_freeze(struct cgroup_manager *m, bool frozen, struct keel_error **err);
/* Whether the cgroup is frozen now (for `state` to show "paused"). */
int cgroup_is_frozen(struct cgroup_manager *m, bool *frozen, struct keel_error **err);

/* Every pid in the cgroup and its descendants; *pids is malloc'ed. */
int cgroup_get_pids(struct cgroup_manager *m, pid_t **pids, size_t *n, struct keel_error **err);

/* Send sig to every process in the cgroup (`kill --all`).  For SIGKILL on a
 * frozen cgroup, the processes are thawed so they can die. */
int cgroup_kill_all(struct cgroup_manager *m, int sig, struct keel_error **err);

/* ---- statistics, for `events --stats` (runc's JSON shape) ---- */

struct cgroup_blkio_entry {
    uint64_t major, minor;
    char op[16]; /* "Read", "Write", "Sync", "Async", "Discard", "Total" */
    uint64_t value;
};

struct cgroup_hugetlb_entry {
    char page_size[16]; /* "2MB" */
    uint64_t usage, max_usage, failcnt;
};

struct cgroup_memory_data {
    uint64_t usage, max_usage, failcnt, limit;
};

struct cgroup_stat_kv {
    char *key;
    uint64_t value;
};

struct cgroup_stats {
    bool has_cpu;
    struct {
        uint64_t total, user, kernel; /* nanoseconds */
        uint64_t *percpu;             /* nanoseconds per CPU; NULL on v2 */
        size_t n_percpu;
        uint64_t periods, throttled_periods, throttled_time;
    } cpu;
    bool has_memory;
    struct {
        uint64_t cache;
        struct cgroup_memory_data usage, swap, kernel;
        struct cgroup_stat_kv *raw; /* memory.stat as is */
        size_t n_raw;
    } memory;
    bool has_pids;
    struct {
        uint64_t current, limit; /* limit 0 = unlimited */
    } pids;
    bool has_blkio;
    struct {
        struct cgroup_blkio_entry *service_bytes, *serviced;
        size_t n_service_bytes, n_serviced;
    } blkio;
    struct cgroup_hugetlb_entry *hugetlb;
    size_t n_hugetlb;
};

/* Fill *out (zero it first is not needed); free with cgroup_stats_clear(). */
int cgroup_get_stats(struct cgroup_manager *m, struct cgroup_stats *out, struct keel_error **err);
void cgroup_stats_clear(struct cgroup_stats *s);

/* ---- OOM notification, for `events` ---- */

/* An fd that becomes readable (poll POLLIN) when an OOM event may have
 * happened; then call cgroup_oom_watch_read() for the count of new OOM kills
 * since the last read.  Free with cgroup_oom_watch_free(). */
struct cgroup_oom_watch;
int cgroup_oom_watch_open(struct cgroup_manager *m, struct cgroup_oom_watch **out, struct keel_error **err);
int cgroup_oom_watch_fd(const struct cgroup_oom_watch *w);
int cgroup_oom_watch_read(struct cgroup_oom_watch *w, uint64_t *new_events, struct keel_error **err);
void cgroup_oom_watch_free(struct cgroup_oom_watch *w);

/* ---- what the container sees (for mounting /sys/fs/cgroup inside) ---- */

struct cgroup_mount_entry {
    char *name;     /* subdirectory under /sys/fs/cgroup: "memory", "cpu,cpuacct", "unified", "systemd";
                       "" for a pure v2 host (cgroup2 mounted at /sys/fs/cgroup itself) */
    char *fstype;   /* "cgroup" or "cgroup2" */
    char *options;  /* mount options for a fresh mount in a cgroup namespace: "memory", "none,name=systemd",
                       "" for cgroup2 */
    char *host_dir; /* the container's cgroup directory on the host, for a bind mount */
};
/* The hierarchies and the container's directory in each; none backend: n = 0. */
int cgroup_get_mounts(struct cgroup_manager *m, struct cgroup_mount_entry **out, size_t *n,
                      struct keel_error **err);
void cgroup_mounts_free(struct cgroup_mount_entry *v, size_t n);
/* The same without a manager (the none backend, a joined mount namespace):
 * the hierarchies mounted here, host_dir the caller's own cgroup in each,
 * or NULL when own_dirs is false or the caller has none there. */
int cgroup_find_mounts(bool own_dirs, struct cgroup_mount_entry **out, size_t *n, struct keel_error **err);

/* The container's cgroup path relative to the hierarchy roots ("/keel/ID");
 * NULL for the none backend.  Owned by m. */
const char *cgroup_get_path(const struct cgroup_manager *m);

/* ---- persistence ---- */

/* A string (JSON) to store in state.json; cgroup_manager_load() rebuilds the
 * manager from it without probing the config again. */
char *cgroup_manager_save(const struct cgroup_manager *m);
int cgroup_manager_load(const char *saved, struct cgroup_manager **out, struct keel_error **err);
void cgroup_manager_free(struct cgroup_manager *m);
void cgroup_manager_freep(struct cgroup_manager **m);
#define cleanup_cgroup_manager __attribute__((cleanup(cgroup_manager_freep)))

#endif
