/* Shared between the cgroup backends; not for callers outside cgroup_*.c.
 *
 * The filesystem backends (v1, hybrid, v2) share one model: a list of
 * mounted hierarchies, each with the container's directory in it.  A
 * resource is written to the hierarchy that carries its controller, in that
 * hierarchy's format (v1 files or v2 files), so the hybrid layout (hugetlb
 * on cgroup2 next to v1 controllers) needs no special case. */
#ifndef KEEL_CGROUP_INTERNAL_H
#define KEEL_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/cgroup.h"

struct spec_resources;
struct spec_device_cgroup;

struct cgroup_hier {
    char *mountpoint;  /* "/sys/fs/cgroup/memory" */
    char *controllers; /* v1: the mount's options that name controllers ("cpu,cpuacct", "name=systemd");
                          v2: the root's cgroup.controllers, space separated */
    bool v2;
    char *dir;        /* the container's cgroup directory in this hierarchy */
    char *mount_root; /* the cgroup shown at mountpoint ("/" unless a subtree is bind-mounted); not saved */
};

struct cgroup_ops {
    const char *name; /* "v1", "v2", "systemd", "none": stored in state.json */
    int (*enter)(struct cgroup_manager *m, pid_t pid, struct keel_error **err);
    int (*join)(struct cgroup_manager *m, pid_t pid, struct keel_error **err);
    int (*apply)(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err);
    int (*destroy)(struct cgroup_manager *m, struct keel_error **err);
    int (*freeze)(struct cgroup_manager *m, bool frozen, struct keel_error **err);
    int (*is_frozen)(struct cgroup_manager *m, bool *frozen, struct keel_error **err);
    int (*get_pids)(struct cgroup_manager *m, pid_t **pids, size_t *n, struct keel_error **err);
    int (*kill_all)(struct cgroup_manager *m, int sig, struct keel_error **err);
    int (*stats)(struct cgroup_manager *m, struct cgroup_stats *out, struct keel_error **err);
    int (*oom_open)(struct cgroup_manager *m, struct cgroup_oom_watch **out, struct keel_error **err);
};

struct cgroup_manager {
    const struct cgroup_ops *ops;
    char *path; /* the resolved cgroupsPath ("/keel/ID"); NULL for none */
    struct cgroup_hier *hiers;
    size_t n_hiers;
    bool devices_applied; /* the first apply always installs device rules (deny by default) */
    bool rootless;        /* no device rules: see cgroup_resources_misc.c */
};

extern const struct cgroup_ops cgroup_ops_fs_v1;
extern const struct cgroup_ops cgroup_ops_fs_v2;
extern const struct cgroup_ops cgroup_ops_none;

/* ---- cgroup_detect.c ---- */

/* The cgroup hierarchies mounted in this mount namespace; dir is left
 * NULL.  n = 0 when there are none.  cgroup_detect_guess() when the layout
 * is the usual one, else cgroup_detect_mountinfo(). */
int cgroup_detect_hierarchies(struct cgroup_hier **out, size_t *n, struct keel_error **err);
/* From /proc/self/cgroup and a statfs per hierarchy; 1 (nothing made) when
 * the layout is not the usual one. */
int cgroup_detect_guess(struct cgroup_hier **out, size_t *n);
/* From /proc/self/mountinfo: any layout. */
int cgroup_detect_mountinfo(struct cgroup_hier **out, size_t *n, struct keel_error **err);
/* The calling process' cgroup in the hierarchy of `h` (from /proc/self/cgroup). */
int cgroup_detect_own_path(const struct cgroup_hier *h, char **out, struct keel_error **err);
/* Whether systemd runs as the init system (/run/systemd/system exists). */
bool cgroup_detect_systemd_running(void);
void cgroup_hiers_free(struct cgroup_hier *h, size_t n);

/* ---- cgroup_path.c ---- */

/* cgroupsPath -> the path below the hierarchy roots for the filesystem
 * backends.  NULL or "" gives "/keel/ID"; ".." components are refused. */
int cgroup_path_resolve(const char *cgroups_path, const char *id, char **out, struct keel_error **err);
/* "slice:prefix:name" -> parts (for the systemd driver). */
int cgroup_path_parse_systemd(const char *cgroups_path, const char *id, char **slice, char **unit,
                              struct keel_error **err);
/* True when the hierarchy carries controller `c` ("memory", "name=systemd"). */
bool cgroup_hier_has(const struct cgroup_hier *h, const char *c);
/* The hierarchy that carries controller c, or NULL. v1 hierarchies win over v2 (hybrid). */
struct cgroup_hier *cgroup_find_hier(struct cgroup_manager *m, const char *c);
/* The hierarchy to read membership from (freezer, else pids, else the first). */
struct cgroup_hier *cgroup_main_hier(struct cgroup_manager *m);

/* ---- cgroup_fs.c ---- */

int cgfs_write(const char *dir, const char *file, const char *value, struct keel_error **err);
int cgfs_writef(const char *dir, const char *file, struct keel_error **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int cgfs_read(const char *dir, const char *file, char **out, struct keel_error **err);
int cgfs_read_u64(const char *dir, const char *file, uint64_t *out, struct keel_error **err);
bool cgfs_exists(const char *dir, const char *file);
/* "key value" lines (memory.stat, cpu.stat): the value of key, or -ENOENT. */
int cgfs_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out,
                    struct keel_error **err);
/* Every pid in dir's cgroup.procs and in its descendants'. */
int cgfs_collect_pids(const char *dir, pid_t **pids, size_t *n, struct keel_error **err);
/* rmdir dir and its descendants, deepest first; missing is fine. Returns
 * -EBUSY (with *err) when a directory still has processes after retrying. */
int cgfs_remove(const char *dir, struct keel_error **err);
/* Signal every pid in pids (ESRCH ignored). */
int cgfs_signal_pids(const pid_t *pids, size_t n, int sig, struct keel_error **err);

/* ---- cgroup_resources.c (writes in the format of the carrying hierarchy) ---- */

int cgroup_fs_apply_resources(struct cgroup_manager *m, const struct spec_resources *r,
                              struct keel_error **err);
/* cgroup_resources_io.c: blockIO; cgroup_resources_misc.c: hugetlb, network, rdma, devices, unified */
int cgroup_fs_apply_blkio(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err);
int cgroup_fs_apply_misc(struct cgroup_manager *m, const struct spec_resources *r, struct keel_error **err);

/* ---- cgroup_devices.c / cgroup_devices_bpf.c ---- */

/* The rules to install: the config's, then the defaults every container
 * gets (null, zero, full, random, urandom, tty, console, ptmx, pts). */
struct cgroup_dev_rule {
    bool allow;
    char type;       /* 'a', 'c', 'b' */
    int64_t major;   /* -1 = wildcard */
    int64_t minor;   /* -1 = wildcard */
    unsigned access; /* CGROUP_DEV_READ | WRITE | MKNOD */
};
#define CGROUP_DEV_MKNOD 1u
#define CGROUP_DEV_READ 2u
#define CGROUP_DEV_WRITE 4u
int cgroup_devices_rules(const struct spec_device_cgroup *d, size_t n, struct cgroup_dev_rule **out,
                         size_t *n_out, struct keel_error **err);
int cgroup_devices_apply_v1(const char *dir, const struct cgroup_dev_rule *rules, size_t n,
                            struct keel_error **err);
/* Build the eBPF program for rules and attach it to the cgroup dir,
 * replacing the program keel attached before in one step. */
int cgroup_devices_apply_bpf(const char *dir, const struct cgroup_dev_rule *rules, size_t n,
                             struct keel_error **err);
/* The instructions (exposed for unit tests); *insns is malloc'ed, 8 bytes each. */
int cgroup_devices_bpf_program(const struct cgroup_dev_rule *rules, size_t n, void **insns, size_t *n_insns,
                               struct keel_error **err);

/* ---- cgroup_systemd.c ---- */

int cgroup_manager_detect(struct cgroup_manager **out, struct keel_error **err);
int cgroup_systemd_new(const char *cgroups_path, const char *id, struct cgroup_manager **out,
                       struct keel_error **err);

/* ---- cgroup_stats.c ---- */

int cgroup_fs_stats(struct cgroup_manager *m, struct cgroup_stats *out, struct keel_error **err);
int cgroup_fs_oom_open(struct cgroup_manager *m, struct cgroup_oom_watch **out, struct keel_error **err);

/* ---- conversions (cgroup_resources.c), exposed for unit tests ---- */

/* cpu.shares (2..262144) -> cpu.weight (1..10000). 0 stays 0 (unset). */
uint64_t cgroup_convert_shares_to_weight(uint64_t shares);
/* blkio.weight (10..1000) -> io.weight (1..10000). 0 stays 0. */
uint64_t cgroup_convert_blkio_weight(uint64_t weight);
/* OCI memory.swap (memory+swap) -> memory.swap.max; "max" when -1. */
int cgroup_convert_swap_v2(int64_t limit, bool limit_set, int64_t swap, char *buf, size_t len,
                           struct keel_error **err);

#endif
