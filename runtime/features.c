/* The features.json tables.  Each table says which area owns it: when an
 * area implements (or drops) something, it edits its table here. */
#include <ctype.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>

#include "cleanup.h"
#include "config.h"
#include "error.h"
#include "keel_features.h"
#include "mount_options.h"
#include "seccomp.h"
#include "json.h"
#include "spec.h"

/* The oldest config keel accepts: every 1.x parses (unknown fields are
 * ignored), and 1.0.0 is the first released spec. */
#define FEATURES_OCI_VERSION_MIN "1.0.0"

/* lifecycle: hooks.c runs every hook at the point the spec names. */
static const char *const features_hooks[] = {
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop", NULL,
};

/* mounts: the generic options are mount_options.c's own table, less the
 * ones it refuses, so this never claims more than
 * the mount code accepts.  Filesystem data ("mode=755") is not listed, as
 * the spec says. */
static void gen_mount_options(yajl_gen g)
{
    json_gen_key(g, "mountOptions");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < mount_options_count(); i++) {
        const char *name = mount_options_name(i);
        char *one[] = {(char *)name, NULL};
        struct mount_options o;
        if (mount_options_parse(one, "features", &o, NULL) < 0)
            continue;
        mount_options_release(&o);
        json_gen_string(g, name);
    }
    yajl_gen_array_close(g);
}

/* security: the architectures seccomp_compile.c maps to libseccomp. */
static const char *const features_seccomp_archs[] = {
    "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",     NULL,
};

/* security: the flags the loader passes to seccomp(2), and whether this
 * kernel takes each (runc asks the kernel too; seccomp_load.c probes). */
static const struct {
    const char *name;
    unsigned value;
} features_seccomp_flags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", 1u << 0},
    {"SECCOMP_FILTER_FLAG_LOG", 1u << 1},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", 1u << 2},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 1u << 5},
};

/* On/off switches, each owned by the area named.  (linux.netDevices has a
 * features entry only from runtime-spec 1.3 on, past ociVersionMax.) */
static const struct {
    bool cgroup_v1, cgroup_v2; /* cgroups: cgroup_fs.c, both hierarchies and hybrid */
    bool cgroup_systemd;       /* cgroups: transient scopes over sd-bus (dlopen'ed) */
    bool cgroup_systemd_user;
    bool cgroup_rdma; /* cgroups: linux.resources.rdma on the rdma controller */
    bool seccomp;     /* security */
    bool apparmor;    /* security: profiles are not applied (AppArmor is off here) */
    bool selinux;     /* security: labels are not applied (SELinux is off here) */
    bool intel_rdt;   /* not implemented */
    bool mount_idmap; /* mounts: idmapped binds (idmap.c) */
} features_switches = {
    .cgroup_v1 = true,
    .cgroup_v2 = true,
    .cgroup_systemd = true,
    .cgroup_systemd_user = false,
    .cgroup_rdma = true,
    .seccomp = true,
    .apparmor = false,
    .selinux = false,
    .intel_rdt = false,
    .mount_idmap = true,
};

static void gen_enabled(yajl_gen g, const char *key, bool on)
{
    json_gen_key(g, key);
    yajl_gen_map_open(g);
    json_gen_kv_bool(g, "enabled", on);
    yajl_gen_map_close(g);
}

static void gen_seccomp(yajl_gen g)
{
    json_gen_key(g, "seccomp");
    yajl_gen_map_open(g);
    json_gen_kv_bool(g, "enabled", features_switches.seccomp);
    json_gen_kv_strv(g, "actions", spec_seccomp_actions);
    json_gen_kv_strv(g, "operators", spec_seccomp_operators);
    json_gen_kv_strv(g, "archs", features_seccomp_archs);
    json_gen_kv_strv(g, "knownFlags", spec_seccomp_flags);
    json_gen_key(g, "supportedFlags");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < sizeof(features_seccomp_flags) / sizeof(features_seccomp_flags[0]); i++)
        if (seccomp_kernel_supports_flag(features_seccomp_flags[i].value))
            json_gen_string(g, features_seccomp_flags[i].name);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}

static void gen_linux(yajl_gen g)
{
    json_gen_key(g, "linux");
    yajl_gen_map_open(g);
    json_gen_key(g, "namespaces");
    yajl_gen_array_open(g);
    for (int t = 0; t < SPEC_NS_COUNT; t++)
        json_gen_string(g, spec_ns_name((enum spec_ns_type)t));
    yajl_gen_array_close(g);
    json_gen_kv_strv(g, "capabilities", spec_cap_names);
    json_gen_key(g, "cgroup");
    yajl_gen_map_open(g);
    json_gen_kv_bool(g, "v1", features_switches.cgroup_v1);
    json_gen_kv_bool(g, "v2", features_switches.cgroup_v2);
    json_gen_kv_bool(g, "systemd", features_switches.cgroup_systemd);
    json_gen_kv_bool(g, "systemdUser", features_switches.cgroup_systemd_user);
    json_gen_kv_bool(g, "rdma", features_switches.cgroup_rdma);
    yajl_gen_map_close(g);
    gen_seccomp(g);
    gen_enabled(g, "apparmor", features_switches.apparmor);
    gen_enabled(g, "selinux", features_switches.selinux);
    gen_enabled(g, "intelRdt", features_switches.intel_rdt);
    json_gen_key(g, "mountExtensions");
    yajl_gen_map_open(g);
    gen_enabled(g, "idmap", features_switches.mount_idmap);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
}

char *features_json(size_t *len)
{
    unsigned major = 0, minor = 0, micro = 0;
    cleanup_error struct keel_error *err = NULL;
    char seccomp_ver[64] = "unavailable";
    if (seccomp_library_version(&major, &minor, &micro, &err) == 0)
        snprintf(seccomp_ver, sizeof(seccomp_ver), "%u.%u.%u", major, minor, micro);
    yajl_gen g = json_gen_new(true);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "ociVersionMin", FEATURES_OCI_VERSION_MIN);
    json_gen_kv_string(g, "ociVersionMax", KEEL_OCI_VERSION);
    json_gen_kv_strv(g, "hooks", features_hooks);
    gen_mount_options(g);
    gen_linux(g);
    json_gen_key(g, "annotations");
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "io.github.seccomp.libseccomp.version", seccomp_ver);
    json_gen_kv_string(g, "io.github.keel.commit", KEEL_GIT_COMMIT);
    json_gen_kv_string(g, "io.github.keel.version", PACKAGE_VERSION);
    yajl_gen_map_close(g);
    /* No annotation changes what keel does, so none is potentially unsafe. */
    json_gen_key(g, "potentiallyUnsafeConfigAnnotations");
    yajl_gen_array_open(g);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    char *text = json_gen_dup(g, len);
    yajl_gen_free(g);
    return text;
}
