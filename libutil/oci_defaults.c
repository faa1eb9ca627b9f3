/* Generated rather than kept as a string so that the rootless variant, the
 * user namespace maps and the image's process stay in one place. */
#include "json.h"
#include "oci_defaults.h"

/* runc's defaults: enough for a shell, nothing that lets root escape. */
static const char *const oci_default_caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL};

static void oci_gen_process(yajl_gen g, const struct oci_defaults *d)
{
    json_gen_key(g, "process");
    yajl_gen_map_open(g);
    json_gen_kv_bool(g, "terminal", d->terminal);
    json_gen_key(g, "user");
    yajl_gen_map_open(g);
    json_gen_kv_int(g, "uid", d->uid);
    json_gen_kv_int(g, "gid", d->gid);
    if (d->n_additional_gids) {
        json_gen_key(g, "additionalGids");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < d->n_additional_gids; i++)
            yajl_gen_integer(g, d->additional_gids[i]);
        yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
    json_gen_kv_strv(g, "args", d->args);
    json_gen_kv_strv(g, "env", d->env);
    json_gen_kv_string(g, "cwd", d->cwd);
    json_gen_key(g, "capabilities");
    yajl_gen_map_open(g);
    json_gen_kv_strv(g, "bounding", oci_default_caps);
    json_gen_kv_strv(g, "effective", oci_default_caps);
    json_gen_kv_strv(g, "permitted", oci_default_caps);
    json_gen_kv_strv(g, "ambient", oci_default_caps);
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

static void oci_gen_mount(yajl_gen g, const char *dest, const char *type, const char *source,
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

static void oci_gen_mounts(yajl_gen g, bool rootless)
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
    oci_gen_mount(g, "/proc", "proc", "proc", NULL);
    oci_gen_mount(g, "/dev", "tmpfs", "tmpfs", dev);
    oci_gen_mount(g, "/dev/pts", "devpts", "devpts", rootless ? pts_rootless : pts);
    oci_gen_mount(g, "/dev/shm", "tmpfs", "shm", shm);
    oci_gen_mount(g, "/dev/mqueue", "mqueue", "mqueue", mqueue);
    if (rootless)
        oci_gen_mount(g, "/sys", "none", "/sys", sys_rootless);
    else
        oci_gen_mount(g, "/sys", "sysfs", "sysfs", sys);
    oci_gen_mount(g, "/sys/fs/cgroup", "cgroup", "cgroup", cgroup);
    yajl_gen_array_close(g);
}

static void oci_gen_annotations(yajl_gen g, const struct oci_defaults *d)
{
    if (!d->n_annotations)
        return;
    json_gen_key(g, "annotations");
    yajl_gen_map_open(g);
    for (size_t i = 0; i < d->n_annotations; i++)
        json_gen_kv_string(g, d->annotations[i].key, d->annotations[i].value);
    yajl_gen_map_close(g);
}

static void oci_gen_mapping(yajl_gen g, uint32_t container_id, uint32_t host_id, uint32_t size)
{
    yajl_gen_map_open(g);
    json_gen_kv_int(g, "containerID", container_id);
    json_gen_kv_int(g, "hostID", host_id);
    json_gen_kv_int(g, "size", size);
    yajl_gen_map_close(g);
}

static void oci_gen_mappings(yajl_gen g, const char *key, const struct oci_id_mapping *m, size_t n,
                             uint32_t self)
{
    json_gen_key(g, key);
    yajl_gen_array_open(g);
    for (size_t i = 0; i < n; i++)
        oci_gen_mapping(g, m[i].container_id, m[i].host_id, m[i].size);
    if (n == 0)
        oci_gen_mapping(g, 0, self, 1);
    yajl_gen_array_close(g);
}

static void oci_gen_linux(yajl_gen g, const struct oci_defaults *d)
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
    static const char *const ns_root[] = {"pid", "network", "ipc", "uts", "mount", NULL};
    static const char *const ns_rootless[] = {"pid", "ipc", "uts", "mount", "user", NULL};
    static const char *const ns_mapped[] = {"pid", "network", "ipc", "uts", "mount", "user", NULL};
    bool userns = d->rootless || d->user_namespace;
    json_gen_key(g, "linux");
    yajl_gen_map_open(g);
    if (userns) {
        oci_gen_mappings(g, "uidMappings", d->uid_mappings, d->n_uid_mappings, d->self_uid);
        oci_gen_mappings(g, "gidMappings", d->gid_mappings, d->n_gid_mappings, d->self_gid);
    }
    /* Rootless cannot write device cgroup rules. */
    if (!d->rootless) {
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
    for (const char *const *t = d->rootless ? ns_rootless : userns ? ns_mapped : ns_root; *t; t++) {
        yajl_gen_map_open(g);
        json_gen_kv_string(g, "type", *t);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    json_gen_kv_strv(g, "maskedPaths", masked);
    json_gen_kv_strv(g, "readonlyPaths", ro);
    yajl_gen_map_close(g);
}

char *oci_defaults_config_json(const struct oci_defaults *d, size_t *len)
{
    yajl_gen g = json_gen_new(true);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "ociVersion", KEEL_OCI_VERSION);
    oci_gen_process(g, d);
    json_gen_key(g, "root");
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "path", "rootfs");
    json_gen_kv_bool(g, "readonly", d->readonly_root);
    yajl_gen_map_close(g);
    json_gen_kv_string(g, "hostname", "keel");
    oci_gen_mounts(g, d->rootless);
    oci_gen_annotations(g, d);
    oci_gen_linux(g, d);
    yajl_gen_map_close(g);
    char *text = json_gen_dup(g, len);
    yajl_gen_free(g);
    return text;
}
