/* The registry client: connecting (scheme, TLS material, auth challenge),
 * manifests, small blobs, tags. Layer downloads are in transfer.c. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "digest.h"
#include "error.h"
#include "fileutil.h"
#include "json.h"
#include "log.h"
#include "manifest.h"
#include "ref.h"
#include "registry_private.h"
#include "xalloc.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define CERT_FILE_MAX (1024 * 1024)
#define TAGS_MAX_SIZE (16 * 1024 * 1024)

static const char manifest_accept[] =
    MEDIA_OCI_MANIFEST ", " MEDIA_OCI_INDEX ", " MEDIA_DOCKER_MANIFEST ", " MEDIA_DOCKER_LIST
                       ", " MEDIA_DOCKER_SCHEMA1_SIGNED ", " MEDIA_DOCKER_SCHEMA1;

void registry_options_init(struct registry_options *o)
{
    memset(o, 0, sizeof(*o));
    o->tls_verify = true;
}

const char *registry_base_url(const struct registry_client *c)
{
    return c->base_url;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* certs.d/HOST:PORT: *.crt are CAs, NAME.cert + NAME.key a client cert. */
static int tls_load_dir(struct registry_client *c, const char *dir, struct strbuf *cas,
                        struct keel_error **err)
{
    cleanup_dir DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        return error_set(err, errno, "opening certificate directory `%s`", dir);
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
        if (has_suffix(de->d_name, ".crt")) {
            cleanup_free char *pem = NULL;
            size_t len = 0;
            if (file_read_whole(p, CERT_FILE_MAX, &pem, &len, err) < 0)
                return -1;
            strbuf_append(cas, pem, len);
            strbuf_putc(cas, '\n');
        } else if (has_suffix(de->d_name, ".cert")) {
            cleanup_free char *key = xasprintf("%.*s.key", (int)(strlen(p) - 5), p);
            if (!fs_exists(key))
                return error_set(err, ENOENT, "client certificate `%s` has no key `%s`", p, key);
            free(c->client_cert);
            free(c->client_key);
            c->client_cert = steal_ptr(&p);
            c->client_key = steal_ptr(&key);
        } else if (has_suffix(de->d_name, ".key")) {
            cleanup_free char *cert = xasprintf("%.*s.cert", (int)(strlen(p) - 4), p);
            if (!fs_exists(cert))
                return error_set(err, ENOENT, "client key `%s` has no certificate `%s`", p, cert);
        }
    }
    return 0;
}

static int tls_configure(struct registry_client *c, struct keel_error **err)
{
    struct strbuf cas = STRBUF_INIT;
    int r = 0;
    if (c->opts.cert_dir) {
        if (!fs_exists(c->opts.cert_dir))
            r = error_set(err, ENOENT, "--cert-dir `%s`", c->opts.cert_dir);
        else
            r = tls_load_dir(c, c->opts.cert_dir, &cas, err);
    } else {
        static const char *const roots[] = {"/etc/containers/certs.d", "/etc/docker/certs.d"};
        for (size_t i = 0; r == 0 && i < 2; i++) {
            cleanup_free char *dir = xasprintf("%s/%s", roots[i], c->registry);
            r = tls_load_dir(c, dir, &cas, err);
        }
    }
    if (r == 0 && cas.len > 0) {
        /* The extra CAs come on top of the system ones. */
        cleanup_free char *sys = NULL;
        size_t len = 0;
        if (fs_exists(SYSTEM_CA_BUNDLE) &&
            file_read_whole(SYSTEM_CA_BUNDLE, 16 * CERT_FILE_MAX, &sys, &len, NULL) == 0)
            strbuf_append(&cas, sys, len);
        c->ca_blob_len = cas.len;
        c->ca_blob = strbuf_detach(&cas);
    }
    strbuf_release(&cas);
    return r;
}

/* GET /v2/ to settle the scheme and learn the auth challenge. */
static int registry_ping(struct registry_client *c, struct keel_error **err)
{
    bool may_fall_back = !c->opts.tls_verify || ref_is_local_registry(c->registry);
    struct http_response resp = {0};
    http_response_free(&resp);
    resp.max_body = 1 << 20;
    CURLcode code = CURLE_OK;
    cleanup_error struct keel_error *https_err = NULL;
    int r = -1;
    int max_attempts = c->opts.max_attempts > 0 ? c->opts.max_attempts : 5;
    if (ref_is_local_registry(c->registry)) {
        /* Loopback: plain HTTP is the common case and TLS would add nothing
         * against eavesdroppers; try it first, it spares a TLS setup. */
        cleanup_free char *http_url = xasprintf("http://%s/v2/", c->registry);
        CURLcode http_code;
        cleanup_error struct keel_error *http_err = NULL;
        if (http_perform(c, c->easy, http_url, false, NULL, &resp, &http_code, &http_err) == 0 &&
            resp.status != 400 && !http_status_retryable(resp.status)) {
            c->base_url = xasprintf("http://%s", c->registry);
            r = 0;
            max_attempts = 0;
        }
    }
    for (int attempt = 1; attempt <= max_attempts; attempt++) {
        free(c->base_url);
        c->base_url = xasprintf("https://%s", c->registry);
        cleanup_free char *url = xasprintf("%s/v2/", c->base_url);
        error_freep(&https_err);
        r = http_perform(c, c->easy, url, false, NULL, &resp, &code, &https_err);
        /* A plain-HTTP registry answers a TLS hello with garbage; a
         * certificate that does not verify is not a reason to drop TLS. */
        bool cert_problem = code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CERTPROBLEM ||
                            code == CURLE_SSL_CACERT_BADFILE || code == CURLE_SSL_CRL_BADFILE ||
                            code == CURLE_SSL_ISSUER_ERROR || code == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
        if (r < 0 && may_fall_back && (!cert_problem || !c->opts.tls_verify)) {
            cleanup_free char *http_url = xasprintf("http://%s/v2/", c->registry);
            CURLcode http_code;
            cleanup_error struct keel_error *http_err = NULL;
            struct http_response hresp = {0};
            http_response_free(&hresp);
            hresp.max_body = 1 << 20;
            int hr = http_perform(c, c->easy, http_url, false, NULL, &hresp, &http_code, &http_err);
            /* 400 is an HTTPS server telling us it wants TLS. */
            if (hr == 0 && hresp.status != 400) {
                http_response_free(&resp);
                resp = hresp;
                free(c->base_url);
                c->base_url = xasprintf("http://%s", c->registry);
                r = 0;
            } else {
                http_response_free(&hresp);
                if (code == CURLE_SSL_CONNECT_ERROR && hr < 0)
                    code = http_code;
            }
        }
        if (r == 0 && http_status_retryable(resp.status) && attempt < max_attempts) {
            http_sleep_ms(http_backoff_ms(attempt, resp.retry_after));
            continue;
        }
        if (r == 0 || !curl_code_retryable(code) || attempt == max_attempts)
            break;
        http_sleep_ms(http_backoff_ms(attempt, -1));
    }
    if (r < 0) {
        http_response_free(&resp);
        if (err) {
            error_freep(err);
            *err = steal_ptr(&https_err);
        }
        return error_prefix(err, "connecting to registry %s", c->registry);
    }
    if (c->opts.log)
        log_debug(c->opts.log, "registry %s: %s, /v2/ answered %ld", c->registry, c->base_url, resp.status);
    if (resp.status == 401 && resp.www_authenticate) {
        r = auth_parse_challenge(&c->auth, resp.www_authenticate, err);
    } else if (resp.status != 200 && resp.status != 401) {
        cleanup_free char *what = xasprintf("registry %s: GET /v2/", c->registry);
        r = registry_http_error(&resp, what, err);
    }
    http_response_free(&resp);
    return r;
}

int registry_open(const char *registry, const char *repository, const struct registry_options *opts,
                  struct registry_client **out, struct keel_error **err)
{
    static bool curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
            return error_set(err, 0, "libcurl initialisation failed");
        curl_ready = true;
    }
    cleanup_registry struct registry_client *c = xzalloc(sizeof(*c));
    c->opts = *opts;
    /* docker.io's API lives elsewhere; credentials stay keyed by docker.io. */
    c->registry = xstrdup(strcmp(registry, "docker.io") == 0 ? "registry-1.docker.io" : registry);
    c->repository = xstrdup(repository ? repository : "");
    c->scope =
        repository ? xasprintf("repository:%s:%s", repository, opts->push ? "pull,push" : "pull") : NULL;
    c->tls_verify = opts->tls_verify;
    c->easy = curl_easy_init();
    if (c->easy == NULL)
        return error_set(err, ENOMEM, "curl_easy_init");
    if (tls_configure(c, err) < 0)
        return -1;
    if (auth_load_credentials(c, registry, err) < 0)
        return -1;
    if (registry_ping(c, err) < 0)
        return -1;
    *out = steal_ptr(&c);
    return 0;
}

void registry_close(struct registry_client *c)
{
    if (c == NULL)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    auth_clear(&c->auth);
    free(c->registry);
    free(c->repository);
    free(c->base_url);
    free(c->scope);
    free(c->ca_blob);
    free(c->client_cert);
    free(c->client_key);
    free(c);
}

void registry_closep(struct registry_client **c)
{
    registry_close(*c);
    *c = NULL;
}

int registry_get_manifest(struct registry_client *c, const char *reference, char **data, size_t *len,
                          char **media_type, char **digest, struct keel_error **err)
{
    enum digest_alg alg = DIGEST_SHA256;
    bool by_digest = strchr(reference, ':') != NULL;
    if (by_digest && digest_parse(reference, &alg, NULL, err) < 0)
        return -1;
    cleanup_free char *url = xasprintf("%s/v2/%s/manifests/%s", c->base_url, c->repository, reference);
    struct http_response resp = {0};
    http_response_free(&resp);
    resp.max_body = MANIFEST_MAX_SIZE;
    cleanup_free char *what = xasprintf("manifest %s/%s:%s", c->registry, c->repository, reference);
    if (registry_request(c, url, false, manifest_accept, &resp, err) < 0) {
        http_response_free(&resp);
        if (err && *err && (*err)->errnum == EFBIG)
            return error_set(err, 0, "%s: larger than the %d byte limit for manifests", what,
                             MANIFEST_MAX_SIZE);
        return -1;
    }
    if (resp.status != 200) {
        registry_http_error(&resp, what, err);
        http_response_free(&resp);
        return -1;
    }
    cleanup_free char *actual = digest_buffer(alg, resp.body.buf ? resp.body.buf : "", resp.body.len);
    if (by_digest && strcmp(actual, reference) != 0) {
        http_response_free(&resp);
        return error_set(err, 0, "%s: the registry sent content with digest %s", what, actual);
    }
    /* Docker-Content-Digest is advisory: trust only what we computed. */
    if (!by_digest && resp.docker_digest && strncmp(resp.docker_digest, "sha256:", 7) == 0 &&
        strcmp(resp.docker_digest, actual) != 0) {
        cleanup_free char *dd = xstrdup(resp.docker_digest);
        http_response_free(&resp);
        return error_set(err, 0, "%s: Docker-Content-Digest says %s but the content has digest %s", what, dd,
                         actual);
    }
    *media_type = resp.content_type ? xstrdup(resp.content_type) : NULL;
    *len = resp.body.len;
    *data = strbuf_detach(&resp.body);
    *digest = steal_ptr(&actual);
    http_response_free(&resp);
    return 0;
}

int registry_get_blob(struct registry_client *c, const struct oci_descriptor *d, size_t max, char **data,
                      size_t *len, struct keel_error **err)
{
    enum digest_alg alg;
    if (digest_parse(d->digest, &alg, NULL, err) < 0)
        return -1;
    if (d->size > (int64_t)max)
        return error_set(err, 0, "blob %s: %lld bytes is more than the %zu byte limit", d->digest,
                         (long long)d->size, max);
    cleanup_free char *url = xasprintf("%s/v2/%s/blobs/%s", c->base_url, c->repository, d->digest);
    struct http_response resp = {0};
    http_response_free(&resp);
    resp.max_body = max;
    cleanup_free char *what = xasprintf("blob %s/%s@%s", c->registry, c->repository, d->digest);
    if (registry_request(c, url, false, NULL, &resp, err) < 0) {
        http_response_free(&resp);
        return error_prefix(err, "%s", what);
    }
    if (resp.status != 200) {
        registry_http_error(&resp, what, err);
        http_response_free(&resp);
        return -1;
    }
    cleanup_free char *actual = digest_buffer(alg, resp.body.buf ? resp.body.buf : "", resp.body.len);
    if ((int64_t)resp.body.len != d->size || strcmp(actual, d->digest) != 0) {
        size_t got = resp.body.len;
        http_response_free(&resp);
        return error_set(err, 0, "%s: digest mismatch, got %zu bytes with digest %s (expected %lld bytes)",
                         what, got, actual, (long long)d->size);
    }
    *len = resp.body.len;
    *data = strbuf_detach(&resp.body);
    http_response_free(&resp);
    return 0;
}

/* Link: </v2/x/tags/list?last=a&n=100>; rel="next" */
static char *link_next(const char *link)
{
    if (link == NULL || strstr(link, "rel=\"next\"") == NULL)
        return NULL;
    const char *lt = strchr(link, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (gt == NULL)
        return NULL;
    return xstrndup(lt + 1, (size_t)(gt - lt - 1));
}

int registry_list_tags(struct registry_client *c, char ***tags, struct keel_error **err)
{
    size_t n = 0, cap = 16;
    char **out = xcalloc(cap, sizeof(char *));
    cleanup_free char *url = xasprintf("%s/v2/%s/tags/list", c->base_url, c->repository);
    for (int page = 0; url && page < 10000; page++) {
        struct http_response resp = {0};
        http_response_free(&resp);
        resp.max_body = TAGS_MAX_SIZE;
        cleanup_free char *what = xasprintf("tags of %s/%s", c->registry, c->repository);
        int r = registry_request(c, url, false, "application/json", &resp, err);
        if (r == 0 && resp.status != 200)
            r = registry_http_error(&resp, what, err);
        cleanup_json yajl_val root = NULL;
        if (r == 0)
            r = json_parse(resp.body.buf ? resp.body.buf : "", resp.body.len, what, &root, err);
        yajl_val list = r == 0 ? json_object_get(root, "tags") : NULL;
        if (r == 0 && list && !YAJL_IS_NULL(list) && json_expect_array(list, "tags", err) < 0)
            r = -1;
        for (size_t i = 0; r == 0 && list && YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
            yajl_val t = list->u.array.values[i];
            if (!YAJL_IS_STRING(t))
                continue;
            if (n + 1 >= cap) {
                cap *= 2;
                out = xrealloc(out, cap * sizeof(char *));
            }
            out[n++] = xstrdup(t->u.string);
            out[n] = NULL;
        }
        cleanup_free char *next = r == 0 ? link_next(resp.link) : NULL;
        http_response_free(&resp);
        if (r < 0) {
            strv_free(out);
            return -1;
        }
        free(url);
        url = NULL;
        if (next)
            url = next[0] == '/' ? xasprintf("%s%s", c->base_url, next) : xstrdup(next);
    }
    *tags = out;
    return 0;
}

int registry_check_login(struct registry_client *c, struct keel_error **err)
{
    if (c->auth.scheme == AUTH_NONE)
        return 0; /* the registry lets anybody in */
    if (c->auth.user == NULL)
        return error_set(err, 0, "registry %s requires credentials", c->registry);
    cleanup_free char *hdr = NULL;
    if (auth_header(c, NULL, true, &hdr, err) < 0)
        return -1;
    if (c->auth.scheme == AUTH_BEARER)
        return 0; /* the token server accepted the credentials */
    struct http_response resp = {0};
    http_response_free(&resp);
    resp.max_body = 1 << 20;
    cleanup_free char *url = xasprintf("%s/v2/", c->base_url);
    int r = registry_request(c, url, false, NULL, &resp, err);
    if (r == 0 && resp.status != 200) {
        cleanup_free char *what = xasprintf("logging in to %s", c->registry);
        r = registry_http_error(&resp, what, err);
    }
    http_response_free(&resp);
    return r;
}
