/* Registry credentials as podman and docker keep them.
 *
 * Lookup order (first file that has an entry wins): --authfile,
 * $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json (for root
 * without XDG_RUNTIME_DIR: /run/containers/0/auth.json),
 * ~/.config/containers/auth.json, ~/.docker/config.json.
 * In a file: "auths" keyed by host[:port] (also "https://host", and
 * "host/namespace/repo" with the longest match first), value
 * {"auth": base64("user:pass")}; "credHelpers" per registry and
 * "credsStore" run docker-credential-NAME get. */
#ifndef KEEL_HOIST_AUTH_H
#define KEEL_HOIST_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct keel_error;

/* 0 with *user and *pass set, 1 when nothing is stored, -1 on error
 * (an unreadable or invalid file, a failing credential helper). */
int auth_lookup(const char *registry, const char *repository, const char *authfile, char **user, char **pass,
                struct keel_error **err);
/* Split --creds "user:pass" ("user" alone: empty password). */
int auth_parse_creds(const char *creds, char **user, char **pass, struct keel_error **err);

/* The file login writes to: authfile, else $REGISTRY_AUTH_FILE, else the
 * podman default under XDG_RUNTIME_DIR. */
char *auth_default_write_path(const char *authfile);
/* Store credentials for registry in path (created 0600, atomically). */
int auth_store(const char *path, const char *registry, const char *user, const char *pass,
               struct keel_error **err);
/* Remove registry's entry; *found tells whether there was one. */
int auth_remove(const char *path, const char *registry, bool *found, struct keel_error **err);

char *base64_encode(const void *data, size_t len);
/* NULL when s is not valid base64. */
char *base64_decode(const char *s, size_t *len);

#endif
