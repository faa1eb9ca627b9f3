/* Image config -> runtime config.json (image-spec conversion.md), on top of
 * the same secure defaults `runc spec` (and `keel spec`) write. */
#ifndef KEEL_HOIST_CONVERT_H
#define KEEL_HOIST_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keel_error;
struct image_config;
struct idmap;

struct convert_opts {
    char *const *args; /* command line CMD ARGS: replace Config.Cmd (NULL: none) */
    char *const *env;  /* extra NAME=VALUE, overriding the image's (NULL: none) */
    const char *cwd;   /* overrides Config.WorkingDir */
    const char *user;  /* overrides Config.User */
    bool terminal;
    bool writable_root;                    /* root.readonly false (hoist run, as docker) */
    bool rootless;                         /* the shape of `runc spec --rootless` */
    const struct idmap *uid_map, *gid_map; /* user namespace mappings, NULL or empty: none */
};

struct convert_user {
    uint32_t uid, gid;
    uint32_t *additional_gids;
    size_t n_additional_gids;
};

/* Resolve Config.User ("user", "uid", "user:group", "uid:gid", ...) against
 * the rootfs's /etc/passwd and /etc/group (read beneath rootfd). */
int convert_resolve_user(int rootfd, const char *spec, struct convert_user *out, struct keel_error **err);
void convert_user_release(struct convert_user *u);

/* The config.json text (caller frees). rootfd: the unpacked rootfs. */
int convert_image_config(const struct image_config *ic, int rootfd, const struct convert_opts *o, char **json,
                         size_t *len, struct keel_error **err);

#endif
