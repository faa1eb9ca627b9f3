/* Internals of the registry client shared by registry.c, registry_http.c,
 * registry_auth.c and transfer.c. */
#ifndef KEEL_HOIST_REGISTRY_PRIVATE_H
#define KEEL_HOIST_REGISTRY_PRIVATE_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "registry.h"
#include "strbuf.h"

struct keel_error;

enum auth_scheme { AUTH_NONE, AUTH_BASIC, AUTH_BEARER };

struct auth_token {
    char *scope;
    char *token;
    time_t expires; /* 0 = unknown */
};

struct registry_auth {
    enum auth_scheme scheme;
    char *realm;
    char *service;
    char *user; /* NULL = anonymous */
    char *pass;
    struct auth_token *tokens; /* cache per scope */
    size_t n_tokens;
};

struct registry_client {
    char *registry;
    char *repository;
    char *base_url;
    char *scope; /* "repository:REPO:pull" */
    struct registry_options opts;
    /* TLS material: CA bundle in memory (system CAs + certs.d), client cert. */
    bool tls_verify;
    char *ca_blob;
    size_t ca_blob_len;
    char *client_cert;
    char *client_key;
    struct registry_auth auth;
    CURL *easy; /* reused for sequential requests (keeps the connection) */
};

struct http_response {
    long status;
    struct strbuf body;
    size_t max_body; /* more is an error (body_overflow set) */
    bool body_overflow;
    char *content_type;
    char *docker_digest;
    char *www_authenticate;
    char *link;
    char *content_range;
    char *location;
    long retry_after; /* seconds, -1 = absent */
    int64_t content_length;
};

void http_response_reset(struct http_response *r);
void http_response_free(struct http_response *r);

/* Apply TLS, timeouts, redirects and the user agent to an easy handle. */
void http_setup_handle(struct registry_client *c, CURL *h);
/* Header callback target: fills r's header fields. */
size_t http_header_cb(char *buf, size_t size, size_t n, void *user);
/* Point h at url with headers; the response headers go into resp, the body
 * to write_cb(write_data). */
void http_set_request(CURL *h, const char *url, struct curl_slist *headers, struct http_response *resp,
                      curl_write_callback write_cb, void *write_data);

/* One request (no retries, no auth handling): GET, or HEAD when head=true.
 * headers may be NULL. On a transport failure returns -1 with *curl_code set. */
int http_perform(struct registry_client *c, CURL *h, const char *url, bool head, struct curl_slist *headers,
                 struct http_response *resp, CURLcode *curl_code, struct keel_error **err);

/* One try of a request with the headers given; a transport failure
 * returns -1 with *code set. */
typedef int (*registry_try_fn)(struct registry_client *c, struct curl_slist *headers, void *arg,
                               struct http_response *resp, CURLcode *code, struct keel_error **err);
/* The client's policy around try_once: the headers in base plus
 * Authorization, a new token once on a 401 challenge, and up to
 * max_attempts tries with backoff on 5xx, 429 and network errors. */
int registry_request_retrying(struct registry_client *c, const char *url, const struct curl_slist *base,
                              registry_try_fn try_once, void *arg, struct http_response *resp,
                              struct keel_error **err);
/* A GET (HEAD when head=true) under that policy. */
int registry_request(struct registry_client *c, const char *url, bool head, const char *accept,
                     struct http_response *resp, struct keel_error **err);

/* Transient failures worth another attempt. */
bool http_status_retryable(long status);
bool curl_code_retryable(CURLcode code);
/* Milliseconds to wait before attempt (1-based), honouring Retry-After. */
long http_backoff_ms(int attempt, long retry_after);
void http_sleep_ms(long ms);

/* A request body: memory (data) or len bytes of fd from offset. */
struct http_body {
    const char *data;
    int fd;
    int64_t offset;
    int64_t len;
    int64_t pos; /* how much was sent (reset per attempt) */
};

/* Any method with an optional body and extra header lines, with auth and
 * retries as registry_request. Redirects are not followed for uploads. */
int registry_send(struct registry_client *c, const char *method, const char *url, struct curl_slist *extra,
                  struct http_body *body, struct http_response *resp, struct keel_error **err);

/* Registry error body ({"errors":[{"code":..,"message":..}]}) and status
 * into an error message: "MANIFEST_UNKNOWN: manifest unknown (HTTP 404)". */
int registry_http_error(const struct http_response *resp, const char *what, struct keel_error **err);

/* Auth. Credentials are looked up under the registry name of the
 * reference (docker.io, not the API host registry-1.docker.io). */
int auth_load_credentials(struct registry_client *c, const char *registry, struct keel_error **err);
/* Parse a WWW-Authenticate challenge and remember scheme, realm and service. */
int auth_parse_challenge(struct registry_auth *a, const char *header, struct keel_error **err);
/* An "Authorization: ..." header line for scope (fetching a token when
 * needed), or NULL when no auth applies. force_refresh drops a cached token. */
int auth_header(struct registry_client *c, const char *scope, bool force_refresh, char **out,
                struct keel_error **err);
void auth_clear(struct registry_auth *a);

#endif
