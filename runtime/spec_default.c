/* The starter config.json, generated rather than kept as a string so the
 * rootless variant and the mappings stay in one place. */
#include <string.h>

#include "cleanup.h"
#include "config.h"
#include "json.h"
#include "spec_default.h"

static void gen_process(yajl_gen g)
{
    static const char *const args[] = {"sh", NULL};
    static const char *const env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                      "TERM=xterm", NULL};
    /* runc's defaults: enough for a shell, nothing that lets root escape. */
    static const char *const caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL};
    json_gen_key(g, "process");
    yajl_gen_map_open(g);
    json_gen_kv_bool(g, "terminal", true);
    json_gen_key(g, "user");
    yajl_gen_map_open(g);
    json_gen_kv_int(g, "uid", 0);
    json_gen_kv_int(g, "gid", 0);
    yajl_gen_map_close(g);
    json_gen_kv_strv(g, "args", args);
    json_gen_kv_strv(g, "env", env);
    json_gen_kv_string(g, "cwd", "/");
    json_gen_key(g, "capabilities");
    yajl_gen_map_open(g);
    json_gen_kv_strv(g, "bounding", caps);
    json_gen_kv_strv(g, "effective", caps);
    json_gen_kv_strv(g, "permitted", caps);
    json_gen_kv_strv(g, "ambient", caps);
    yajl_gen_map_close(g);
    json_gen_key(g, "rlimits");
    yajl_gen_array_open(g);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "type", "RLIMIT_NOFILE");
    json_gen_kv_int(g, "hard", 1024);
    json_gen_kv_int(g, "soft", 1024);
    yajl_gen_map_close(g);
    yajl_gen_array_close(g);
    json_gen_kv_bool(g, "noNewPrivileges", true);
    yajl_gen_map_close(g);
}

static void gen_mount(yajl_gen g, const char *dest, const char *type, const char *source,
                      const char *const *opts)
{
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "destination", dest);
    json_gen_kv_string(g, "type", type);
    json_gen_kv_string(g, "source", source);
    if (opts)
        json_gen_kv_strv(g, "options", opts);
    yajl_gen_map_close(g);
}

static void gen_mounts(yajl_gen g, bool rootless)
{
    static const char *const dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
    static const char *const pts[] = {"nosuid",    "noexec", "newinstance", "ptmxmode=0666",
                                      "mode=0620", "gid=5",  NULL};
    /* Without the mapping of gid 5 a rootless devpts mount fails. */
    static const char *const pts_rootless[] = {"nosuid",        "noexec",    "newinstance",
                                               "ptmxmode=0666", "mode=0620", NULL};
    static const char *const shm[] = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL};
    static const char *const mqueue[] = {"nosuid", "noexec", "nodev", NULL};
    static const char *const sys[] = {"nosuid", "noexec", "nodev", "ro", NULL};
    /* A user namespace that does not own the network namespace cannot mount
     * sysfs, so rootless binds the host's. */
    static const char *const sys_rootless[] = {"rbind", "nosuid", "noexec", "nodev", "ro", NULL};
    static const char *const cgroup[] = {"nosuid", "noexec", "nodev", "relatime", "ro", NULL};
    json_gen_key(g, "mounts");
    yajl_gen_array_open(g);
    gen_mount(g, "/proc", "proc", "proc", NULL);
    gen_mount(g, "/dev", "tmpfs", "tmpfs", dev);
    gen_mount(g, "/dev/pts", "devpts", "devpts", rootless ? pts_rootless : pts);
    gen_mount(g, "/dev/shm", "tmpfs", "shm", shm);
    gen_mount(g, "/dev/mqueue", "mqueue", "mqueue", mqueue);
    if (rootless)
        gen_mount(g, "/sys", "none", "/sys", sys_rootless);
    else
        gen_mount(g, "/sys", "sysfs", "sysfs", sys);
    gen_mount(g, "/sys/fs/cgroup", "cgroup", "cgroup", cgroup);
    yajl_gen_array_close(g);
}

static void gen_mapping(yajl_gen g, const char *key, unsigned long host_id)
{
    json_gen_key(g, key);
    yajl_gen_array_open(g);
    yajl_gen_map_open(g);
    json_gen_kv_int(g, "containerID", 0);
    json_gen_kv_int(g, "hostID", (long long)host_id);
    json_gen_kv_int(g, "size", 1);
    yajl_gen_map_close(g);
    yajl_gen_array_close(g);
}

static void gen_linux(yajl_gen g, bool rootless, uid_t uid, gid_t gid)
{
    static const char *const masked[] = {"/proc/acpi",
                                         "/proc/asound",
                                         "/proc/kcore",
                                         "/proc/keys",
                                         "/proc/latency_stats",
                                         "/proc/timer_list",
                                         "/proc/timer_stats",
                                         "/proc/sched_debug",
                                         "/sys/firmware",
                                         "/proc/scsi",
                                         NULL};
    static const char *const ro[] = {"/proc/bus",           "/proc/fs", "/proc/irq", "/proc/sys",
                                     "/proc/sysrq-trigger", NULL};
    static const char *const ns[] = {"pid", "network", "ipc", "uts", "mount", NULL};
    static const char *const ns_rootless[] = {"pid", "ipc", "uts", "mount", "user", NULL};
    json_gen_key(g, "linux");
    yajl_gen_map_open(g);
    if (rootless) {
        gen_mapping(g, "uidMappings", uid);
        gen_mapping(g, "gidMappings", gid);
    } else {
        json_gen_key(g, "resources");
        yajl_gen_map_open(g);
        json_gen_key(g, "devices");
        yajl_gen_array_open(g);
        yajl_gen_map_open(g);
        json_gen_kv_bool(g, "allow", false);
        json_gen_kv_string(g, "access", "rwm");
        yajl_gen_map_close(g);
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
    }
    json_gen_key(g, "namespaces");
    yajl_gen_array_open(g);
    for (const char *const *t = rootless ? ns_rootless : ns; *t; t++) {
        yajl_gen_map_open(g);
        json_gen_kv_string(g, "type", *t);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    json_gen_kv_strv(g, "maskedPaths", masked);
    json_gen_kv_strv(g, "readonlyPaths", ro);
    yajl_gen_map_close(g);
}

char *spec_default_json(bool rootless, uid_t uid, gid_t gid, size_t *len)
{
    yajl_gen g = json_gen_new(true);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "ociVersion", KEEL_OCI_VERSION);
    gen_process(g);
    json_gen_key(g, "root");
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "path", "rootfs");
    json_gen_kv_bool(g, "readonly", true);
    yajl_gen_map_close(g);
    json_gen_kv_string(g, "hostname", "keel");
    gen_mounts(g, rootless);
    gen_linux(g, rootless, uid, gid);
    yajl_gen_map_close(g);
    char *text = json_gen_dup(g, len);
    yajl_gen_free(g);
    return text;
}
