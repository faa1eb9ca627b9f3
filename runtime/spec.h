/* The OCI runtime-spec 1.2 config.json model, as typed C data.
 *
 * spec_parse_config() fills a struct spec_config from JSON; every field of
 * the spec has a home here.  Optional scalars use the opt_* wrappers so
 * "absent" and "zero" stay different.  Strings are owned (xstrdup); arrays
 * come with a count.  spec_config_free() frees everything, including a
 * partly built config.  Semantic checks (absolute paths, duplicate
 * namespaces, ociVersion major) live in spec_validate_config(), separate
 * from parsing. */
#ifndef KEEL_SPEC_H
#define KEEL_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <yajl/yajl_tree.h>

/* GNU C predefines `linux` as 1 (-std=gnu11); the model's field is named
 * after the spec's "linux" object, so drop the macro. */
#undef linux

struct keel_error;

struct opt_i64 {
    bool set;
    int64_t value;
};
struct opt_u64 {
    bool set;
    uint64_t value;
};
struct opt_bool {
    bool set;
    bool value;
};

/* A JSON object of string -> string (annotations, sysctl, unified). */
struct spec_kv {
    char *key;
    char *value;
};
struct spec_kv_list {
    struct spec_kv *items;
    size_t n;
};

/* ---- process ---- */

struct spec_rlimit {
    char *type; /* "RLIMIT_NOFILE" as written */
    int resource; /* RLIMIT_* value, resolved by the parser */
    uint64_t hard;
    uint64_t soft;
};

struct spec_capabilities {
    /* NULL-terminated vectors of names as written ("CAP_KILL"); NULL when absent */
    char **bounding, **effective, **inheritable, **permitted, **ambient;
};

struct spec_user {
    uid_t uid;
    gid_t gid;
    struct opt_u64 umask;
    gid_t *additional_gids;
    size_t n_additional_gids;
    char *username; /* Windows only; parsed, unused */
};

struct spec_console_size {
    bool set;
    unsigned height, width;
};

struct spec_scheduler {
    bool set;
    char *policy; /* SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_ISO, SCHED_IDLE, SCHED_DEADLINE */
    struct opt_i64 nice;
    struct opt_i64 priority;
    char **flags; /* SCHED_FLAG_* names */
    struct opt_u64 runtime, deadline, period;
};

struct spec_io_priority {
    bool set;
    char *klass; /* IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE */
    int64_t priority;
};

struct spec_exec_cpu_affinity {
    char *initial; /* cpu list "0-3,7" or NULL */
    char *final;
};

struct spec_process {
    bool terminal;
    struct spec_console_size console_size;
    struct spec_user user;
    char **args; /* NULL-terminated */
    char *command_line; /* Windows only */
    char **env;
    char *cwd;
    struct spec_capabilities *capabilities; /* NULL when absent */
    struct spec_rlimit *rlimits;
    size_t n_rlimits;
    bool no_new_privileges;
    char *apparmor_profile;
    struct opt_i64 oom_score_adj;
    char *selinux_label;
    struct spec_scheduler scheduler;
    struct spec_io_priority io_priority;
    struct spec_exec_cpu_affinity exec_cpu_affinity;
};

/* ---- root, mounts ---- */

struct spec_root {
    char *path;
    bool readonly;
};

struct spec_id_mapping {
    uint32_t container_id;
    uint32_t host_id;
    uint32_t size;
};

struct spec_mount {
    char *destination;
    char *type;   /* may be NULL (bind mounts) */
    char *source; /* may be NULL */
    char **options; /* NULL-terminated, as written */
    struct spec_id_mapping *uid_mappings;
    size_t n_uid_mappings;
    struct spec_id_mapping *gid_mappings;
    size_t n_gid_mappings;
};

/* ---- hooks ---- */

struct spec_hook {
    char *path;
    char **args;
    char **env;
    struct opt_i64 timeout; /* seconds, > 0 when set */
};

struct spec_hook_list {
    struct spec_hook *items;
    size_t n;
};

struct spec_hooks {
    struct spec_hook_list prestart, create_runtime, create_container, start_container, poststart, poststop;
};

/* ---- linux ---- */

enum spec_ns_type {
    SPEC_NS_PID,
    SPEC_NS_NETWORK,
    SPEC_NS_MOUNT,
    SPEC_NS_IPC,
    SPEC_NS_UTS,
    SPEC_NS_USER,
    SPEC_NS_CGROUP,
    SPEC_NS_TIME,
    SPEC_NS_COUNT
};

struct spec_namespace {
    enum spec_ns_type type;
    char *path; /* join this namespace when set */
};

struct spec_device {
    char *path;
    char type; /* 'c', 'b', 'u', 'p' */
    int64_t major, minor; /* required for c/b/u */
    struct opt_u64 file_mode; /* may carry S_IFMT bits (podman writes 020644): use & 07777 */
    struct opt_u64 uid, gid;
};

struct spec_device_cgroup {
    bool allow;
    char type; /* 'a', 'c', 'b', or 0 when absent (= all) */
    struct opt_i64 major, minor; /* absent = wildcard */
    char *access; /* "rwm" subset, NULL = all */
};

struct spec_memory {
    struct opt_i64 limit, reservation, swap, kernel, kernel_tcp;
    struct opt_u64 swappiness;
    struct opt_bool disable_oom_killer, use_hierarchy, check_before_update;
};

struct spec_cpu {
    struct opt_u64 shares;
    struct opt_i64 quota;
    struct opt_u64 burst;
    struct opt_u64 period;
    struct opt_i64 realtime_runtime;
    struct opt_u64 realtime_period;
    char *cpus;
    char *mems;
    struct opt_i64 idle;
};

struct spec_weight_device {
    int64_t major, minor;
    struct opt_u64 weight, leaf_weight; /* uint16 in the spec */
};

struct spec_throttle_device {
    int64_t major, minor;
    uint64_t rate;
};

struct spec_block_io {
    struct opt_u64 weight, leaf_weight;
    struct spec_weight_device *weight_devices;
    size_t n_weight_devices;
    struct spec_throttle_device *throttle_read_bps, *throttle_write_bps, *throttle_read_iops,
        *throttle_write_iops;
    size_t n_throttle_read_bps, n_throttle_write_bps, n_throttle_read_iops, n_throttle_write_iops;
};

struct spec_hugepage_limit {
    char *page_size; /* "2MB" */
    uint64_t limit;
};

struct spec_net_priority {
    char *name;
    uint32_t priority;
};

struct spec_rdma {
    char *device;
    struct opt_u64 hca_handles, hca_objects;
};

struct spec_resources {
    bool set; /* linux.resources present */
    struct spec_device_cgroup *devices;
    size_t n_devices;
    struct spec_memory memory;
    bool has_memory;
    struct spec_cpu cpu;
    bool has_cpu;
    struct opt_i64 pids_limit;
    struct spec_block_io block_io;
    bool has_block_io;
    struct spec_hugepage_limit *hugepage_limits;
    size_t n_hugepage_limits;
    struct opt_u64 net_class_id;
    struct spec_net_priority *net_priorities;
    size_t n_net_priorities;
    struct spec_rdma *rdma;
    size_t n_rdma;
    struct spec_kv_list unified;
};

struct spec_intel_rdt {
    bool set;
    char *clos_id;
    char *l3_cache_schema;
    char *mem_bw_schema;
    char *schemata; /* 1.3 */
    bool enable_cmt, enable_mbm;
};

struct spec_seccomp_arg {
    unsigned index;
    uint64_t value;
    uint64_t value_two;
    char *op; /* SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ */
};

struct spec_seccomp_syscall {
    char **names;
    char *action; /* SCMP_ACT_* */
    struct opt_u64 errno_ret;
    struct spec_seccomp_arg *args;
    size_t n_args;
};

struct spec_seccomp {
    char *default_action;
    struct opt_u64 default_errno_ret;
    char **architectures; /* SCMP_ARCH_* */
    char **flags;         /* SECCOMP_FILTER_FLAG_* */
    char *listener_path;
    char *listener_metadata;
    struct spec_seccomp_syscall *syscalls;
    size_t n_syscalls;
    yajl_val raw; /* the linux.seccomp object as parsed, for the cache key; owned by the config */
};

struct spec_time_offset {
    bool set;
    int64_t secs;
    uint32_t nanosecs;
};

struct spec_memory_policy {
    bool set;
    char *mode;  /* MPOL_DEFAULT, MPOL_BIND, ... */
    char *nodes; /* "0-3,7" */
    char **flags;
};

struct spec_net_device {
    char *host_name; /* key of linux.netDevices */
    char *name;      /* name inside the container; NULL = same */
};

struct spec_personality {
    bool set;
    char *domain; /* LINUX, LINUX32 */
    char **flags;
};

struct spec_linux {
    struct spec_namespace *namespaces;
    size_t n_namespaces;
    struct spec_id_mapping *uid_mappings;
    size_t n_uid_mappings;
    struct spec_id_mapping *gid_mappings;
    size_t n_gid_mappings;
    struct spec_time_offset time_offset_monotonic, time_offset_boottime;
    struct spec_device *devices;
    size_t n_devices;
    char *cgroups_path;
    struct spec_resources resources;
    struct spec_intel_rdt intel_rdt;
    struct spec_kv_list sysctl;
    struct spec_seccomp *seccomp; /* NULL when absent */
    char *rootfs_propagation; /* shared, slave, private, unbindable, rshared, ... */
    char **masked_paths;
    char **readonly_paths;
    char *mount_label;
    struct spec_personality personality;
    struct spec_memory_policy memory_policy;
    struct spec_net_device *net_devices;
    size_t n_net_devices;
};

struct spec_config {
    char *oci_version;
    struct spec_root root;
    struct spec_mount *mounts;
    size_t n_mounts;
    struct spec_process *process; /* NULL when absent (allowed by the spec for create) */
    char *hostname;
    char *domainname;
    struct spec_hooks hooks;
    struct spec_kv_list annotations;
    struct spec_linux *linux; /* NULL when absent */
    yajl_val tree; /* the parsed document, kept for raw sub-objects */
};

/* Parse config.json text; `name` prefixes every message ("config.json").
 * Unknown fields are ignored, as the spec says. */
int spec_parse_config(const char *text, size_t len, const char *name, struct spec_config **out,
                      struct keel_error **err);
/* Read and parse BUNDLE/config.json. */
int spec_load_bundle(const char *bundle, struct spec_config **out, struct keel_error **err);
/* Semantic validation (after parsing): absolute paths, duplicate
 * namespaces, ociVersion major, mappings required by a user namespace...
 * (docs/config-model.md lists the rules).  Also refuses the fields keel
 * parses but does not implement: linux.intelRdt, memoryPolicy, netDevices. */
int spec_validate_config(const struct spec_config *cfg, struct keel_error **err);
void spec_config_free(struct spec_config *cfg);
void spec_config_freep(struct spec_config **cfg);
#define cleanup_spec_config __attribute__((cleanup(spec_config_freep)))

/* process.json for `exec --process`: the same shape as config.json's process. */
int spec_parse_process(const char *text, size_t len, const char *name, struct spec_process **out,
                       struct keel_error **err);
void spec_process_free(struct spec_process *p);
/* The process rules of spec_validate_config (args, absolute cwd, env
 * entries NAME=VALUE, rlimits soft <= hard...) for exec's process.json;
 * `name` starts the messages ("process.json: cwd: ..."). */
int spec_validate_process(const struct spec_process *p, const char *name, struct keel_error **err);

/* A linux.resources document on its own (`update --resources FILE`): `name`
 * prefixes messages. *out is filled in place; release with
 * spec_resources_clear() (also after a failure). */
int spec_parse_resources(const char *text, size_t len, const char *name, struct spec_resources *out,
                         struct keel_error **err);
void spec_resources_clear(struct spec_resources *r);

/* Namespace type <-> spec name ("pid", "network", ...) and CLONE_NEW* flag. */
const char *spec_ns_name(enum spec_ns_type t);
int spec_ns_clone_flag(enum spec_ns_type t);
/* The namespace entry of a type, or NULL. */
const struct spec_namespace *spec_find_namespace(const struct spec_linux *l, enum spec_ns_type t);
/* Namespace type of a spec name ("pid"), or -1. */
int spec_ns_from_name(const char *name);
/* The /proc/PID/ns/ file name of a type ("pid", "net", "mnt", ...). */
const char *spec_ns_proc_name(enum spec_ns_type t);

/* The closed vocabularies (NULL-terminated tables), shared by the parser
 * and `keel features`. spec_cap_names is indexed by capability number. */
extern const char *const spec_cap_names[];
extern const char *const spec_seccomp_actions[];
extern const char *const spec_seccomp_operators[];
extern const char *const spec_seccomp_archs[];
extern const char *const spec_seccomp_flags[];
extern const char *const spec_sched_policies[];
extern const char *const spec_sched_flags[];
extern const char *const spec_ioprio_classes[];
extern const char *const spec_mpol_modes[];
extern const char *const spec_mpol_flags[];
extern const char *const spec_personality_domains[];
extern const char *const spec_rootfs_propagations[];
/* Capability number of "CAP_KILL", or -1 when unknown. */
int spec_cap_from_name(const char *name);
/* RLIMIT_* value of "RLIMIT_NOFILE", or -1 when unknown; and back. */
int spec_rlimit_from_name(const char *name);
const char *spec_rlimit_name(int resource);

#endif
