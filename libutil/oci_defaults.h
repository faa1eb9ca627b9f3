/* The runtime config.json that `keel spec` writes and that hoist builds an
 * image's config on: runc's secure defaults (capabilities, rlimits, mounts,
 * masked and read-only paths, namespaces, the device rule), generated in one
 * place so that a bundle made by hand and one made from an image run alike.
 * The callers give only what differs: the process, the root's writability,
 * the user namespace and the annotations. */
#ifndef KEEL_OCI_DEFAULTS_H
#define KEEL_OCI_DEFAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct oci_id_mapping {
    uint32_t container_id, host_id, size;
};

struct oci_annotation {
    const char *key, *value;
};

struct oci_defaults {
    /* process: the capabilities, RLIMIT_NOFILE and noNewPrivileges are the defaults' */
    bool terminal;
    uint32_t uid, gid;
    const uint32_t *additional_gids; /* written only when n_additional_gids > 0 */
    size_t n_additional_gids;
    const char *const *args, *const *env; /* NULL-terminated */
    const char *cwd;

    bool readonly_root;
    /* The shape of `runc spec --rootless`: a user namespace but no network
     * namespace, /sys bound from the host, devpts without gid=5, no device
     * cgroup rule. */
    bool rootless;
    /* A user namespace without the rest of the rootless shape (given maps). */
    bool user_namespace;
    /* With a user namespace: the maps; an empty one maps container id 0 to
     * self_uid/self_gid alone. */
    const struct oci_id_mapping *uid_mappings, *gid_mappings;
    size_t n_uid_mappings, n_gid_mappings;
    uint32_t self_uid, self_gid;

    const struct oci_annotation *annotations; /* written only when n_annotations > 0 */
    size_t n_annotations;
};

/* The document as pretty-printed JSON text (caller frees); its key order is
 * runc's, so the text compares equal to what the peers write. */
char *oci_defaults_config_json(const struct oci_defaults *d, size_t *len);

#endif
