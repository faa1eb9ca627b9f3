/* The registry's auth challenge: Basic, or Bearer tokens from the realm
 * the challenge names (anonymous or with credentials), cached per scope. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "cleanup.h"
#include "error.h"
#include "json.h"
#include "log.h"
#include "registry_private.h"
#include "xalloc.h"

#define TOKEN_MAX_SIZE (1024 * 1024)

void auth_clear(struct registry_auth *a)
{
    free(a->realm);
    free(a->service);
    free(a->user);
    if (a->pass)
        explicit_bzero(a->pass, strlen(a->pass));
    free(a->pass);
    for (size_t i = 0; i < a->n_tokens; i++) {
        free(a->tokens[i].scope);
        free(a->tokens[i].token);
    }
    free(a->tokens);
    memset(a, 0, sizeof(*a));
}

int auth_load_credentials(struct registry_client *c, const char *registry, struct keel_error **err)
{
    const struct registry_options *o = &c->opts;
    if (o->username) {
        c->auth.user = xstrdup(o->username);
        c->auth.pass = xstrdup(o->password ? o->password : "");
        return 0;
    }
    if (o->creds)
        return auth_parse_creds(o->creds, &c->auth.user, &c->auth.pass, err);
    if (o->anonymous)
        return 0;
    int r = auth_lookup(registry, c->repository, o->authfile, &c->auth.user, &c->auth.pass, err);
    return r < 0 ? -1 : 0;
}

/* auth-param = token "=" ( token / quoted-string ), comma separated. */
static char *challenge_param(const char *params, const char *name)
{
    const char *p = params;
    size_t nl = strlen(name);
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *key = p;
        while (*p && *p != '=' && *p != ',' && *p != ' ')
            p++;
        size_t kl = (size_t)(p - key);
        if (*p != '=') {
            continue;
        }
        p++;
        struct strbuf v = STRBUF_INIT;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                strbuf_putc(&v, *p++);
            }
            if (*p == '"')
                p++;
        } else {
            while (*p && *p != ',' && *p != ' ')
                strbuf_putc(&v, *p++);
        }
        if (kl == nl && strncasecmp(key, name, nl) == 0)
            return strbuf_detach(&v);
        strbuf_release(&v);
    }
    return NULL;
}

int auth_parse_challenge(struct registry_auth *a, const char *header, struct keel_error **err)
{
    if (strncasecmp(header, "Basic", 5) == 0 && (header[5] == '\0' || header[5] == ' ')) {
        a->scheme = AUTH_BASIC;
        return 0;
    }
    if (strncasecmp(header, "Bearer", 6) == 0 && (header[6] == ' ' || header[6] == '\0')) {
        char *realm = challenge_param(header + 6, "realm");
        if (realm == NULL || realm[0] == '\0') {
            free(realm);
            return error_set(err, 0, "registry auth challenge \"%s\" has no realm", header);
        }
        if (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0) {
            cleanup_free char *r = realm;
            return error_set(err, 0, "registry auth challenge: realm \"%s\" is not an http(s) URL", r);
        }
        a->scheme = AUTH_BEARER;
        free(a->realm);
        a->realm = realm;
        free(a->service);
        a->service = challenge_param(header + 6, "service");
        return 0;
    }
    return error_set(err, 0, "registry asks for an unsupported authentication scheme: %s", header);
}

static struct auth_token *token_find(struct registry_auth *a, const char *scope)
{
    for (size_t i = 0; i < a->n_tokens; i++)
        if (strcmp(a->tokens[i].scope, scope) == 0)
            return &a->tokens[i];
    return NULL;
}

static int token_fetch(struct registry_client *c, const char *scope, char **token, time_t *expires,
                       struct keel_error **err)
{
    struct registry_auth *a = &c->auth;
    CURL *h = curl_easy_init();
    if (h == NULL)
        return error_set(err, ENOMEM, "curl_easy_init");
    cleanup_free char *esc_service = NULL;
    cleanup_free char *esc_scope = NULL;
    if (a->service) {
        char *e = curl_easy_escape(h, a->service, 0);
        esc_service = xstrdup(e);
        curl_free(e);
    }
    if (scope) {
        char *e = curl_easy_escape(h, scope, 0);
        esc_scope = xstrdup(e);
        curl_free(e);
    }
    cleanup_free char *url =
        xasprintf("%s%s%s%s%s%s", a->realm, strchr(a->realm, '?') ? "&" : "?", esc_service ? "service=" : "",
                  esc_service ? esc_service : "", esc_scope ? (esc_service ? "&scope=" : "scope=") : "",
                  esc_scope ? esc_scope : "");
    struct curl_slist *headers = NULL;
    if (a->user) {
        cleanup_free char *raw = xasprintf("%s:%s", a->user, a->pass ? a->pass : "");
        cleanup_free char *b64 = base64_encode(raw, strlen(raw));
        cleanup_free char *line = xasprintf("Authorization: Basic %s", b64);
        headers = curl_slist_append(headers, line);
    }
    struct http_response resp = {.max_body = TOKEN_MAX_SIZE};
    http_response_free(&resp);
    resp.max_body = TOKEN_MAX_SIZE;
    CURLcode code;
    int r = http_perform(c, h, url, false, headers, &resp, &code, err);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    if (r < 0) {
        http_response_free(&resp);
        return error_prefix(err, "getting a registry token");
    }
    if (resp.status != 200) {
        cleanup_free char *what =
            xasprintf("getting a registry token from %s for %s", a->realm, scope ? scope : "(no scope)");
        registry_http_error(&resp, what, err);
        http_response_free(&resp);
        return -1;
    }
    cleanup_json yajl_val root = NULL;
    r = json_parse(resp.body.buf ? resp.body.buf : "", resp.body.len, "token response", &root, err);
    http_response_free(&resp);
    if (r < 0)
        return -1;
    yajl_val t = json_object_get(root, "token");
    if (!t || !YAJL_IS_STRING(t) || !t->u.string[0])
        t = json_object_get(root, "access_token");
    if (!t || !YAJL_IS_STRING(t) || !t->u.string[0])
        return error_set(err, 0, "token response from %s has no \"token\"", a->realm);
    yajl_val exp = json_object_get(root, "expires_in");
    long secs = exp && YAJL_IS_INTEGER(exp) ? (long)exp->u.number.i : 60;
    if (secs < 60)
        secs = 60;
    *token = xstrdup(t->u.string);
    *expires = time(NULL) + secs - 10;
    return 0;
}

int auth_header(struct registry_client *c, const char *scope, bool force_refresh, char **out,
                struct keel_error **err)
{
    struct registry_auth *a = &c->auth;
    *out = NULL;
    if (a->scheme == AUTH_NONE)
        return 0;
    if (a->scheme == AUTH_BASIC) {
        if (a->user == NULL)
            return 0;
        cleanup_free char *raw = xasprintf("%s:%s", a->user, a->pass ? a->pass : "");
        cleanup_free char *b64 = base64_encode(raw, strlen(raw));
        *out = xasprintf("Authorization: Basic %s", b64);
        return 0;
    }
    const char *key = scope ? scope : "";
    struct auth_token *t = token_find(a, key);
    if (t && !force_refresh && (t->expires == 0 || time(NULL) < t->expires)) {
        *out = xasprintf("Authorization: Bearer %s", t->token);
        return 0;
    }
    char *token = NULL;
    time_t expires = 0;
    if (token_fetch(c, scope, &token, &expires, err) < 0)
        return -1;
    if (t == NULL) {
        a->tokens = xrealloc(a->tokens, (a->n_tokens + 1) * sizeof(*a->tokens));
        t = &a->tokens[a->n_tokens++];
        t->scope = xstrdup(key);
        t->token = NULL;
    }
    free(t->token);
    t->token = token;
    t->expires = expires;
    if (c->opts.log)
        log_debug(c->opts.log, "got a registry token for %s", key);
    *out = xasprintf("Authorization: Bearer %s", t->token);
    return 0;
}
