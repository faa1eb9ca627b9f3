/* Pushing to a registry: blob existence checks, cross-repository mounts,
 * monolithic and chunked uploads, manifest PUT. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "log.h"
#include "manifest.h"
#include "registry_private.h"
#include "xalloc.h"

static size_t body_read_cb(char *buf, size_t size, size_t n, void *user)
{
    struct http_body *b = user;
    size_t want = size * n;
    int64_t left = b->len - b->pos;
    if (left <= 0)
        return 0;
    if ((int64_t)want > left)
        want = (size_t)left;
    if (b->data) {
        memcpy(buf, b->data + b->pos, want);
    } else {
        ssize_t got = pread(b->fd, buf, want, (off_t)(b->offset + b->pos));
        if (got <= 0)
            return CURL_READFUNC_ABORT;
        want = (size_t)got;
    }
    b->pos += (int64_t)want;
    return want;
}

static size_t discard_body_cb(char *buf, size_t size, size_t n, void *user)
{
    struct http_response *r = user;
    size_t len = size * n;
    if (r->body.len + len <= 65536)
        strbuf_append(&r->body, buf, len);
    return len;
}

static int send_once(struct registry_client *c, const char *method, const char *url,
                     struct curl_slist *headers, struct http_body *body, struct http_response *resp,
                     CURLcode *code, struct keel_error **err)
{
    CURL *h = c->easy;
    curl_easy_reset(h);
    http_setup_handle(c, h);
    /* An upload must not be replayed to wherever a redirect points. */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, body ? 0L : 1L);
    http_response_reset(resp);
    http_set_request(h, url, headers, resp, discard_body_cb, resp);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        if (body) {
            body->pos = 0;
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, body_read_cb);
            curl_easy_setopt(h, CURLOPT_READDATA, body);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body->len);
        } else if (strcmp(method, "POST") == 0) {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        }
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    if (c->opts.log)
        log_debug(c->opts.log, "%s %s", method, url);
    CURLcode rc = curl_easy_perform(h);
    *code = rc;
    if (rc != CURLE_OK)
        return error_set(err, 0, "%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    return 0;
}

struct send_try {
    const char *method;
    const char *url;
    struct http_body *body;
};

static int send_try_once(struct registry_client *c, struct curl_slist *headers, void *arg,
                         struct http_response *resp, CURLcode *code, struct keel_error **err)
{
    const struct send_try *t = arg;
    return send_once(c, t->method, t->url, headers, t->body, resp, code, err);
}

int registry_send(struct registry_client *c, const char *method, const char *url, struct curl_slist *extra,
                  struct http_body *body, struct http_response *resp, struct keel_error **err)
{
    struct curl_slist *base = NULL;
    for (struct curl_slist *e = extra; e; e = e->next)
        base = curl_slist_append(base, e->data);
    /* No "Expect: 100-continue" round trip. */
    base = curl_slist_append(base, "Expect:");
    struct send_try t = {.method = method, .url = url, .body = body};
    int r = registry_request_retrying(c, url, base, send_try_once, &t, resp, err);
    curl_slist_free_all(base);
    return r;
}

static struct http_response response_new(void)
{
    struct http_response r = {0};
    http_response_free(&r);
    r.max_body = 65536;
    return r;
}

/* Location may be relative ("/v2/..."): make it absolute. */
static char *absolute_location(struct registry_client *c, const char *loc)
{
    if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
        return xstrdup(loc);
    return xasprintf("%s%s%s", c->base_url, loc[0] == '/' ? "" : "/", loc);
}

/* Append "digest=..." to an upload URL that may already have a query. */
static char *with_query(const char *url, const char *key, const char *value)
{
    char *esc = curl_easy_escape(NULL, value, 0);
    char *out = xasprintf("%s%s%s=%s", url, strchr(url, '?') ? "&" : "?", key, esc);
    curl_free(esc);
    return out;
}

int registry_blob_exists(struct registry_client *c, const char *digest, bool *exists, struct keel_error **err)
{
    cleanup_free char *url = xasprintf("%s/v2/%s/blobs/%s", c->base_url, c->repository, digest);
    struct http_response resp = response_new();
    int r = registry_send(c, "HEAD", url, NULL, NULL, &resp, err);
    if (r == 0) {
        if (resp.status == 200)
            *exists = true;
        else if (resp.status == 404)
            *exists = false;
        else {
            cleanup_free char *what =
                xasprintf("checking blob %s in %s/%s", digest, c->registry, c->repository);
            r = registry_http_error(&resp, what, err);
        }
    }
    http_response_free(&resp);
    return r;
}

/* POST an upload session (or a mount); *location receives where to send data. */
static int upload_start(struct registry_client *c, const char *mount_digest, const char *from, bool *mounted,
                        char **location, struct keel_error **err)
{
    cleanup_free char *url = xasprintf("%s/v2/%s/blobs/uploads/", c->base_url, c->repository);
    if (mount_digest) {
        cleanup_free char *u1 = with_query(url, "mount", mount_digest);
        free(url);
        url = with_query(u1, "from", from);
    }
    struct http_response resp = response_new();
    int r = registry_send(c, "POST", url, NULL, NULL, &resp, err);
    if (r == 0) {
        if (resp.status == 201 && mount_digest) {
            *mounted = true;
        } else if (resp.status == 202 && resp.location) {
            *location = absolute_location(c, resp.location);
        } else {
            cleanup_free char *what =
                xasprintf("starting a blob upload to %s/%s", c->registry, c->repository);
            registry_http_error(&resp, what, err);
            r = -1;
        }
    }
    http_response_free(&resp);
    /* 0 only with *mounted or *location set: callers rely on it. */
    return r == 0 ? 0 : -1;
}

int registry_mount_blob(struct registry_client *c, const char *digest, const char *from, bool *mounted,
                        struct keel_error **err)
{
    *mounted = false;
    cleanup_free char *location = NULL;
    if (upload_start(c, digest, from, mounted, &location, err) < 0)
        return -1;
    if (!*mounted && location) {
        /* Not mounted: the registry opened an upload we will not use. */
        struct http_response resp = response_new();
        cleanup_error struct keel_error *ignored = NULL;
        (void)registry_send(c, "DELETE", location, NULL, NULL, &resp, &ignored);
        http_response_free(&resp);
    }
    return 0;
}

int registry_push_blob(struct registry_client *c, int fd, const char *digest, int64_t size,
                       int64_t chunk_size, struct keel_error **err)
{
    bool mounted = false;
    cleanup_free char *location = NULL;
    if (upload_start(c, NULL, NULL, &mounted, &location, err) < 0)
        return -1;
    cleanup_free char *what = xasprintf("uploading blob %s to %s/%s", digest, c->registry, c->repository);
    struct curl_slist *octet = curl_slist_append(NULL, "Content-Type: application/octet-stream");
    int64_t sent = 0;
    int r = 0;
    if (chunk_size > 0) {
        while (r == 0 && sent < size) {
            int64_t n = size - sent < chunk_size ? size - sent : chunk_size;
            struct http_body body = {.fd = fd, .offset = sent, .len = n};
            cleanup_free char *range = xasprintf("Content-Range: %" PRId64 "-%" PRId64, sent, sent + n - 1);
            struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/octet-stream");
            h = curl_slist_append(h, range);
            struct http_response resp = response_new();
            r = registry_send(c, "PATCH", location, h, &body, &resp, err);
            curl_slist_free_all(h);
            if (r == 0 && resp.status == 202 && resp.location) {
                free(location);
                location = absolute_location(c, resp.location);
                sent += n;
            } else if (r == 0) {
                r = registry_http_error(&resp, what, err);
            }
            http_response_free(&resp);
        }
    }
    if (r == 0) {
        cleanup_free char *put_url = with_query(location, "digest", digest);
        struct http_body body = {.fd = fd, .offset = sent, .len = size - sent};
        struct http_response resp = response_new();
        r = registry_send(c, "PUT", put_url, octet, &body, &resp, err);
        if (r == 0 && resp.status != 201 && resp.status != 204)
            r = registry_http_error(&resp, what, err);
        http_response_free(&resp);
    }
    curl_slist_free_all(octet);
    return r;
}

int registry_put_manifest(struct registry_client *c, const char *reference, const char *data, size_t len,
                          const char *media_type, struct keel_error **err)
{
    cleanup_free char *url = xasprintf("%s/v2/%s/manifests/%s", c->base_url, c->repository, reference);
    cleanup_free char *ct = xasprintf("Content-Type: %s", media_type);
    struct curl_slist *h = curl_slist_append(NULL, ct);
    struct http_body body = {.data = data, .len = (int64_t)len};
    struct http_response resp = response_new();
    int r = registry_send(c, "PUT", url, h, &body, &resp, err);
    if (r == 0 && resp.status != 201 && resp.status != 200) {
        cleanup_free char *what =
            xasprintf("putting manifest %s/%s:%s", c->registry, c->repository, reference);
        r = registry_http_error(&resp, what, err);
    }
    http_response_free(&resp);
    curl_slist_free_all(h);
    return r;
}
