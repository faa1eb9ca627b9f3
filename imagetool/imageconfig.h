/* The image configuration (application/vnd.oci.image.config.v1+json and
 * Docker's container.image.v1+json), as far as running the image needs it. */
#ifndef KEEL_HOIST_IMAGECONFIG_H
#define KEEL_HOIST_IMAGECONFIG_H

#include <stddef.h>

struct keel_error;

struct image_kv {
    char *key;
    char *value;
};

struct image_config {
    char *architecture, *os, *variant, *os_version, *author, *created; /* NULL when absent */
    char **os_features;                                                /* NULL-terminated or NULL */
    /* "config" */
    char *user, *working_dir, *stop_signal; /* NULL when absent */
    char **env, **entrypoint, **cmd;        /* NULL when absent or null */
    char **exposed_ports, **volumes;        /* the keys of those objects, NULL when absent */
    struct image_kv *labels;
    size_t n_labels;
    /* "rootfs" */
    char **diff_ids; /* validated digests */
    size_t n_diff_ids;
};

/* Parse and validate; errors name the JSON path ("config.Env[2]: ..."). */
int image_config_parse(const char *data, size_t len, struct image_config **out, struct keel_error **err);
void image_config_free(struct image_config *c);
void image_config_freep(struct image_config **c);
#define cleanup_image_config __attribute__((cleanup(image_config_freep)))

#endif
