/* HTTP for the registry client: handle setup, header capture, one request,
 * retry policy and registry error bodies. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "json.h"
#include "log.h"
#include "registry_private.h"
#include "xalloc.h"

void http_response_reset(struct http_response *r)
{
    size_t max = r->max_body;
    http_response_free(r);
    r->max_body = max;
}

/* Forget every header field: on free, and when a new status line starts. */
static void http_response_clear_headers(struct http_response *r)
{
    free(r->content_type);
    free(r->docker_digest);
    free(r->www_authenticate);
    free(r->link);
    free(r->content_range);
    free(r->location);
    r->content_type = r->docker_digest = r->www_authenticate = r->link = r->content_range = NULL;
    r->location = NULL;
    r->retry_after = -1;
    r->content_length = -1;
}

void http_response_free(struct http_response *r)
{
    strbuf_release(&r->body);
    http_response_clear_headers(r);
    size_t max = r->max_body;
    memset(r, 0, sizeof(*r));
    r->max_body = max;
    r->retry_after = -1;
    r->content_length = -1;
}

static char *header_value(const char *buf, size_t len, const char *name)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(buf, name, nl) != 0 || buf[nl] != ':')
        return NULL;
    const char *v = buf + nl + 1;
    const char *end = buf + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    return xstrndup(v, (size_t)(end - v));
}

static void header_set(char **field, char *value)
{
    if (value) {
        free(*field);
        *field = value;
    }
}

size_t http_header_cb(char *buf, size_t size, size_t n, void *user)
{
    struct http_response *r = user;
    size_t len = size * n;
    /* A new status line (redirect, 100-continue): forget the previous headers. */
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        http_response_clear_headers(r);
        return len;
    }
    header_set(&r->content_type, header_value(buf, len, "Content-Type"));
    header_set(&r->docker_digest, header_value(buf, len, "Docker-Content-Digest"));
    char *auth = header_value(buf, len, "WWW-Authenticate");
    /* Prefer a Bearer challenge when several are offered. */
    if (auth && (r->www_authenticate == NULL || strncasecmp(auth, "Bearer", 6) == 0))
        header_set(&r->www_authenticate, auth);
    else
        free(auth);
    header_set(&r->link, header_value(buf, len, "Link"));
    header_set(&r->content_range, header_value(buf, len, "Content-Range"));
    header_set(&r->location, header_value(buf, len, "Location"));
    cleanup_free char *ra = header_value(buf, len, "Retry-After");
    if (ra && isdigit((unsigned char)ra[0]))
        r->retry_after = atol(ra);
    cleanup_free char *cl = header_value(buf, len, "Content-Length");
    if (cl && isdigit((unsigned char)cl[0]))
        r->content_length = strtoll(cl, NULL, 10);
    return len;
}

static size_t http_body_cb(char *buf, size_t size, size_t n, void *user)
{
    struct http_response *r = user;
    size_t len = size * n;
    if (r->max_body && r->body.len + len > r->max_body) {
        r->body_overflow = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    strbuf_append(&r->body, buf, len);
    return len;
}

void http_setup_handle(struct registry_client *c, CURL *h)
{
    curl_easy_setopt(h, CURLOPT_USERAGENT, "hoist/" PACKAGE_VERSION);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    /* A stalled transfer is an error (and retried), a slow one is not. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->opts.timeout_s > 0 ? c->opts.timeout_s : 60L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
    /* Big reads: fewer recv/write/digest rounds per blob. */
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
    if (!c->tls_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->ca_blob) {
        struct curl_blob blob = {.data = c->ca_blob, .len = c->ca_blob_len, .flags = CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (c->client_cert) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->client_cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->client_key);
    }
}

void http_set_request(CURL *h, const char *url, struct curl_slist *headers, struct http_response *resp,
                      curl_write_callback write_cb, void *write_data)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, http_header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, write_data);
}

int http_perform(struct registry_client *c, CURL *h, const char *url, bool head, struct curl_slist *headers,
                 struct http_response *resp, CURLcode *curl_code, struct keel_error **err)
{
    curl_easy_reset(h);
    http_setup_handle(c, h);
    http_response_reset(resp);
    http_set_request(h, url, headers, resp, http_body_cb, resp);
    if (head)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (c->opts.log)
        log_debug(c->opts.log, "%s %s", head ? "HEAD" : "GET", url);
    CURLcode rc = curl_easy_perform(h);
    *curl_code = rc;
    if (rc != CURLE_OK) {
        if (resp->body_overflow)
            return error_set(err, EFBIG, "GET %s: response is larger than %zu bytes", url, resp->max_body);
        return error_set(err, 0, "%s %s: %s", head ? "HEAD" : "GET", url, curl_easy_strerror(rc));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    return 0;
}

bool http_status_retryable(long status)
{
    return status == 429 || status == 408 || (status >= 500 && status != 501 && status != 505);
}

bool curl_code_retryable(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

long http_backoff_ms(int attempt, long retry_after)
{
    if (retry_after >= 0)
        return retry_after > 60 ? 60000 : retry_after * 1000;
    long ms = 250L << (attempt > 6 ? 6 : attempt - 1);
    return ms > 10000 ? 10000 : ms;
}

void http_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int registry_http_error(const struct http_response *resp, const char *what, struct keel_error **err)
{
    struct strbuf sb = STRBUF_INIT;
    cleanup_json yajl_val root = NULL;
    if (resp->body.len > 0 && resp->body.len < 65536 &&
        json_parse(resp->body.buf, resp->body.len, "error", &root, NULL) == 0) {
        yajl_val errors = json_object_get(root, "errors");
        for (size_t i = 0; errors && YAJL_IS_ARRAY(errors) && i < errors->u.array.len; i++) {
            yajl_val e = errors->u.array.values[i];
            yajl_val code = json_object_get(e, "code");
            yajl_val msg = json_object_get(e, "message");
            strbuf_printf(&sb, "%s%s%s%s", sb.len ? "; " : "",
                          YAJL_IS_STRING(code) ? code->u.string : "ERROR", YAJL_IS_STRING(msg) ? ": " : "",
                          YAJL_IS_STRING(msg) ? msg->u.string : "");
        }
    }
    cleanup_free char *detail = strbuf_detach(&sb);
    if (detail[0] == '\0') {
        free(detail);
        switch (resp->status) {
        case 401:
            detail = xstrdup("UNAUTHORIZED: authentication required");
            break;
        case 403:
            detail = xstrdup("DENIED: access denied");
            break;
        case 404:
            detail = xstrdup("not found");
            break;
        case 429:
            detail = xstrdup("TOOMANYREQUESTS: too many requests");
            break;
        default:
            detail = xstrdup("unexpected response");
        }
    }
    /* The errno classifies (ENOENT, EACCES) without a strerror suffix. */
    error_set(err, 0, "%s: %s (HTTP %ld)", what, detail, resp->status);
    if (err && *err)
        (*err)->errnum = resp->status == 404                            ? ENOENT
                         : (resp->status == 401 || resp->status == 403) ? EACCES
                                                                        : EIO;
    return -1;
}

int registry_request_retrying(struct registry_client *c, const char *url, const struct curl_slist *base,
                              registry_try_fn try_once, void *arg, struct http_response *resp,
                              struct keel_error **err)
{
    int max_attempts = c->opts.max_attempts > 0 ? c->opts.max_attempts : 5;
    bool refreshed = false;
    for (int attempt = 1;; attempt++) {
        struct curl_slist *headers = NULL;
        for (const struct curl_slist *e = base; e; e = e->next)
            headers = curl_slist_append(headers, e->data);
        cleanup_free char *auth = NULL;
        if (auth_header(c, c->scope, false, &auth, err) < 0) {
            curl_slist_free_all(headers);
            return -1;
        }
        if (auth)
            headers = curl_slist_append(headers, auth);
        CURLcode code = CURLE_OK;
        int r = try_once(c, headers, arg, resp, &code, err);
        curl_slist_free_all(headers);
        if (r < 0) {
            if (!curl_code_retryable(code) || attempt >= max_attempts)
                return -1;
            http_sleep_ms(http_backoff_ms(attempt, -1));
            continue;
        }
        if (resp->status == 401 && resp->www_authenticate && !refreshed) {
            /* First contact with this scope, or the token expired: take the
             * challenge, get a new token and try again once. */
            if (auth_parse_challenge(&c->auth, resp->www_authenticate, err) < 0)
                return -1;
            cleanup_free char *fresh = NULL;
            if (auth_header(c, c->scope, true, &fresh, err) < 0)
                return -1;
            refreshed = true;
            attempt--;
            continue;
        }
        if (http_status_retryable(resp->status) && attempt < max_attempts) {
            if (c->opts.log)
                log_debug(c->opts.log, "HTTP %ld from %s, retrying (attempt %d)", resp->status, url,
                          attempt + 1);
            http_sleep_ms(http_backoff_ms(attempt, resp->retry_after));
            continue;
        }
        return 0;
    }
}

struct get_try {
    const char *url;
    bool head;
};

static int get_try_once(struct registry_client *c, struct curl_slist *headers, void *arg,
                        struct http_response *resp, CURLcode *code, struct keel_error **err)
{
    const struct get_try *g = arg;
    return http_perform(c, c->easy, g->url, g->head, headers, resp, code, err);
}

int registry_request(struct registry_client *c, const char *url, bool head, const char *accept,
                     struct http_response *resp, struct keel_error **err)
{
    struct curl_slist *base = NULL;
    if (accept) {
        cleanup_free char *a = xasprintf("Accept: %s", accept);
        base = curl_slist_append(base, a);
    }
    struct get_try g = {.url = url, .head = head};
    int r = registry_request_retrying(c, url, base, get_try_once, &g, resp, err);
    curl_slist_free_all(base);
    return r;
}
