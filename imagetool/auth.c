/* Credentials in auth.json / docker config.json, and credential helpers. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth.h"
#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "json.h"
#include "xalloc.h"

#define AUTH_FILE_MAX (4 * 1024 * 1024)

char *base64_encode(const void *data, size_t len)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

char *base64_decode(const char *s, size_t *len)
{
    size_t n = strlen(s);
    if (n % 4 != 0)
        return NULL;
    unsigned char *out = xmalloc(n / 4 * 3 + 1);
    int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (r < 0) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    size_t pad = (n >= 1 && s[n - 1] == '=') + (n >= 2 && s[n - 2] == '=');
    size_t l = (size_t)r - pad;
    out[l] = '\0';
    if (len)
        *len = l;
    return (char *)out;
}

int auth_parse_creds(const char *creds, char **user, char **pass, struct keel_error **err)
{
    const char *colon = strchr(creds, ':');
    size_t ul = colon ? (size_t)(colon - creds) : strlen(creds);
    if (ul == 0)
        return error_set(err, 0, "--creds: the user name is empty (expected USER[:PASSWORD])");
    *user = xstrndup(creds, ul);
    *pass = xstrdup(colon ? colon + 1 : "");
    return 0;
}

static char *home_path(const char *rel)
{
    const char *home = getenv("HOME");
    if (home == NULL || home[0] == '\0')
        return NULL;
    return xasprintf("%s/%s", home, rel);
}

char *auth_default_write_path(const char *authfile)
{
    if (authfile)
        return xstrdup(authfile);
    const char *env = getenv("REGISTRY_AUTH_FILE");
    if (env && env[0])
        return xstrdup(env);
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (xdg && xdg[0])
        return xasprintf("%s/containers/auth.json", xdg);
    return xasprintf("/run/containers/%u/auth.json", (unsigned)getuid());
}

/* Decode {"auth":"base64(user:pass)"} (or username/password members). */
static int auth_entry_decode(yajl_val e, const char *file, const char *key, char **user, char **pass,
                             struct keel_error **err)
{
    yajl_val a = json_object_get(e, "auth");
    if (a && YAJL_IS_STRING(a) && a->u.string[0]) {
        size_t len = 0;
        cleanup_free char *raw = base64_decode(a->u.string, &len);
        char *colon = raw ? memchr(raw, ':', len) : NULL;
        if (colon == NULL)
            return error_set(err, 0, "%s: auths.\"%s\".auth: not base64 of USER:PASSWORD", file, key);
        *user = xstrndup(raw, (size_t)(colon - raw));
        *pass = xstrndup(colon + 1, len - (size_t)(colon - raw) - 1);
        return 0;
    }
    yajl_val u = json_object_get(e, "username");
    yajl_val p = json_object_get(e, "password");
    if (u && YAJL_IS_STRING(u) && p && YAJL_IS_STRING(p)) {
        *user = xstrdup(u->u.string);
        *pass = xstrdup(p->u.string);
        return 0;
    }
    return 1;
}

/* docker-credential-NAME get: server URL on stdin, {"Username","Secret"} out. */
static int auth_run_helper(const char *helper, const char *registry, char **user, char **pass,
                           struct keel_error **err)
{
    cleanup_free char *prog = xasprintf("docker-credential-%s", helper);
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return error_set(err, errno, "credential helper %s: pipe", prog);
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return error_set(err, errno, "credential helper %s: pipe", prog);
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return error_set(err, e, "credential helper %s: fork", prog);
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execlp(prog, prog, "get", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    (void)fd_write_all(in[1], registry, strlen(registry));
    close(in[1]);
    cleanup_free char *text = NULL;
    size_t len = 0;
    int rr = fd_read_whole(out[0], prog, 1 << 20, &text, &len, err);
    close(out[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (rr < 0)
        return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
            return error_set(err, ENOENT, "credential helper %s: not found in PATH", prog);
        /* Helpers say "credentials not found in native keychain" and exit 1. */
        if (text && strstr(text, "not found"))
            return 1;
        return error_set(err, 0, "credential helper %s get failed: %s", prog, text ? text : "");
    }
    cleanup_json yajl_val root = NULL;
    cleanup_free char *name = xasprintf("output of %s", prog);
    if (json_parse(text, len, name, &root, err) < 0)
        return -1;
    yajl_val u = json_object_get(root, "Username");
    yajl_val s = json_object_get(root, "Secret");
    if (!u || !YAJL_IS_STRING(u) || !s || !YAJL_IS_STRING(s))
        return error_set(err, 0, "%s: expected {\"Username\":..., \"Secret\":...}", name);
    *user = xstrdup(u->u.string);
    *pass = xstrdup(s->u.string);
    return 0;
}

/* Look registry/repository up in one file: 0 found, 1 not there. */
static int auth_lookup_file(const char *path, const char *registry, const char *repository, char **user,
                            char **pass, struct keel_error **err)
{
    cleanup_free char *text = NULL;
    size_t len = 0;
    if (file_read_whole(path, AUTH_FILE_MAX, &text, &len, err) < 0)
        return -1;
    cleanup_json yajl_val root = NULL;
    if (json_parse(text, len, path, &root, err) < 0)
        return -1;
    if (json_expect_object(root, path, err) < 0)
        return -1;
    bool docker_hub = strcmp(registry, "docker.io") == 0;
    yajl_val helpers = json_object_get(root, "credHelpers");
    yajl_val h = helpers ? json_object_get(helpers, registry) : NULL;
    if (h && YAJL_IS_STRING(h))
        return auth_run_helper(h->u.string, registry, user, pass, err);
    yajl_val auths = json_object_get(root, "auths");
    if (auths && YAJL_IS_OBJECT(auths)) {
        /* Most specific first: host/ns/repo, host/ns, host. */
        cleanup_free char *full = repository ? xasprintf("%s/%s", registry, repository) : xstrdup(registry);
        for (;;) {
            yajl_val e = json_object_get(auths, full);
            if (e && YAJL_IS_OBJECT(e)) {
                int r = auth_entry_decode(e, path, full, user, pass, err);
                if (r <= 0)
                    return r;
            }
            char *slash = strrchr(full, '/');
            if (slash == NULL)
                break;
            *slash = '\0';
        }
        for (size_t i = 0; i < auths->u.object.len; i++) {
            const char *k = auths->u.object.keys[i];
            const char *host = k;
            if (strncmp(host, "https://", 8) == 0)
                host += 8;
            else if (strncmp(host, "http://", 7) == 0)
                host += 7;
            size_t hl = strcspn(host, "/");
            bool match = (hl == strlen(registry) && strncmp(host, registry, hl) == 0) ||
                         (docker_hub && ((hl == 15 && strncmp(host, "index.docker.io", 15) == 0) ||
                                         (hl == 20 && strncmp(host, "registry-1.docker.io", 20) == 0)));
            /* Only bare hosts or docker's legacy "/v1/" keys here. */
            if (match &&
                (host[hl] == '\0' || strncmp(host + hl, "/v1", 3) == 0 || strcmp(host + hl, "/") == 0)) {
                yajl_val e = auths->u.object.values[i];
                if (YAJL_IS_OBJECT(e)) {
                    int r = auth_entry_decode(e, path, k, user, pass, err);
                    if (r <= 0)
                        return r;
                }
            }
        }
    }
    yajl_val store = json_object_get(root, "credsStore");
    if (store && YAJL_IS_STRING(store) && store->u.string[0])
        return auth_run_helper(store->u.string, docker_hub ? "https://index.docker.io/v1/" : registry, user,
                               pass, err);
    return 1;
}

int auth_lookup(const char *registry, const char *repository, const char *authfile, char **user, char **pass,
                struct keel_error **err)
{
    char *candidates[6] = {NULL};
    size_t n = 0;
    if (authfile) {
        candidates[n++] = xstrdup(authfile);
    } else {
        const char *env = getenv("REGISTRY_AUTH_FILE");
        if (env && env[0])
            candidates[n++] = xstrdup(env);
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        if (xdg && xdg[0])
            candidates[n++] = xasprintf("%s/containers/auth.json", xdg);
        else
            candidates[n++] = xasprintf("/run/containers/%u/auth.json", (unsigned)getuid());
        candidates[n++] = home_path(".config/containers/auth.json");
        candidates[n++] = home_path(".docker/config.json");
    }
    int r = 1;
    for (size_t i = 0; i < n && r == 1; i++) {
        if (candidates[i] == NULL)
            continue;
        if (!fs_exists(candidates[i])) {
            if (authfile)
                r = error_set(err, ENOENT, "--authfile `%s`", authfile);
            continue;
        }
        r = auth_lookup_file(candidates[i], registry, repository, user, pass, err);
    }
    for (size_t i = 0; i < n; i++)
        free(candidates[i]);
    return r;
}

/* Rewrite path with auths[registry] replaced by entry (NULL: removed). */
static int auth_rewrite(const char *path, const char *registry, const char *entry_auth, bool *found,
                        struct keel_error **err)
{
    cleanup_json yajl_val root = NULL;
    if (fs_exists(path)) {
        cleanup_free char *text = NULL;
        size_t len = 0;
        if (file_read_whole(path, AUTH_FILE_MAX, &text, &len, err) < 0)
            return -1;
        if (json_parse(text, len, path, &root, err) < 0 || json_expect_object(root, path, err) < 0)
            return -1;
    }
    if (found)
        *found = false;
    yajl_gen g = json_gen_new(true);
    yajl_gen_map_open(g);
    json_gen_key(g, "auths");
    yajl_gen_map_open(g);
    yajl_val auths = root ? json_object_get(root, "auths") : NULL;
    for (size_t i = 0; auths && YAJL_IS_OBJECT(auths) && i < auths->u.object.len; i++) {
        if (strcmp(auths->u.object.keys[i], registry) == 0) {
            if (found)
                *found = true;
            continue;
        }
        json_gen_key(g, auths->u.object.keys[i]);
        json_gen_value(g, auths->u.object.values[i]);
    }
    if (entry_auth) {
        json_gen_key(g, registry);
        yajl_gen_map_open(g);
        json_gen_kv_string(g, "auth", entry_auth);
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    for (size_t i = 0; root && i < root->u.object.len; i++) {
        if (strcmp(root->u.object.keys[i], "auths") == 0)
            continue;
        json_gen_key(g, root->u.object.keys[i]);
        json_gen_value(g, root->u.object.values[i]);
    }
    yajl_gen_map_close(g);
    size_t len;
    cleanup_free char *out = json_gen_dup(g, &len);
    yajl_gen_free(g);
    cleanup_free char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (fs_mkdir_p(dir, 0700, err) < 0)
            return -1;
    }
    return file_write_atomic(path, out, len, 0600, err);
}

int auth_store(const char *path, const char *registry, const char *user, const char *pass,
               struct keel_error **err)
{
    cleanup_free char *raw = xasprintf("%s:%s", user, pass);
    cleanup_free char *b64 = base64_encode(raw, strlen(raw));
    return auth_rewrite(path, registry, b64, NULL, err);
}

int auth_remove(const char *path, const char *registry, bool *found, struct keel_error **err)
{
    *found = false;
    if (!fs_exists(path))
        return 0;
    return auth_rewrite(path, registry, NULL, found, err);
}
