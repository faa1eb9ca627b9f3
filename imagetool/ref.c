/* Image references: docker's grammar and normalisation, written from the
 * distribution reference grammar (docs only). */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "digest.h"
#include "error.h"
#include "ref.h"
#include "xalloc.h"

#define REF_NAME_MAX 255
#define REF_TAG_MAX 128

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)* */
static int ref_check_component(const char *s, size_t n, const char *whole, struct keel_error **err)
{
    if (n == 0)
        return error_set(err, 0, "invalid reference \"%s\": empty path component in the repository name",
                         whole);
    size_t i = 0;
    while (i < n) {
        if (!is_lower_alnum(s[i])) {
            if (isupper((unsigned char)s[i]))
                return error_set(err, 0, "invalid reference \"%s\": repository name must be lowercase",
                                 whole);
            return error_set(err, 0,
                             "invalid reference \"%s\": repository component \"%.*s\" must start and end "
                             "with a lowercase letter or digit and contain only [a-z0-9._-]",
                             whole, (int)n, s);
        }
        while (i < n && is_lower_alnum(s[i]))
            i++;
        if (i == n)
            break;
        size_t sep = i;
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i++;
            if (i < n && s[i] == '_')
                i++;
        } else if (s[i] == '-') {
            while (i < n && s[i] == '-')
                i++;
        } else if (isupper((unsigned char)s[i])) {
            return error_set(err, 0, "invalid reference \"%s\": repository name must be lowercase", whole);
        } else {
            return error_set(err, 0,
                             "invalid reference \"%s\": character '%c' is not allowed in a repository name",
                             whole, s[i]);
        }
        if (i == n || !is_lower_alnum(s[i])) {
            if (i < n && isupper((unsigned char)s[i]))
                return error_set(err, 0, "invalid reference \"%s\": repository name must be lowercase",
                                 whole);
            return error_set(err, 0,
                             "invalid reference \"%s\": separator '%c' in \"%.*s\" must be followed by a "
                             "letter or digit",
                             whole, s[sep], (int)n, s);
        }
    }
    return 0;
}

/* host := label ('.' label)* [':' port] | '[' ipv6 ']' [':' port];
 * label := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static int ref_check_domain(const char *d, const char *whole, struct keel_error **err)
{
    const char *p = d;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (close == NULL || close == p + 1)
            return error_set(err, 0, "invalid reference \"%s\": bad IPv6 registry address \"%s\"", whole, d);
        for (const char *q = p + 1; q < close; q++)
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
                return error_set(err, 0, "invalid reference \"%s\": bad IPv6 registry address \"%s\"", whole,
                                 d);
        p = close + 1;
    } else {
        for (;;) {
            const char *start = p;
            while (isalnum((unsigned char)*p) || *p == '-')
                p++;
            if (p == start || start[0] == '-' || p[-1] == '-')
                return error_set(err, 0, "invalid reference \"%s\": invalid registry host \"%s\"", whole, d);
            if (*p != '.')
                break;
            p++;
        }
    }
    if (*p == ':') {
        p++;
        const char *ps = p;
        while (isdigit((unsigned char)*p))
            p++;
        if (p == ps || *p != '\0' || p - ps > 5 || atoi(ps) > 65535)
            return error_set(err, 0, "invalid reference \"%s\": invalid port in registry \"%s\"", whole, d);
    }
    if (*p != '\0')
        return error_set(err, 0, "invalid reference \"%s\": invalid registry host \"%s\"", whole, d);
    return 0;
}

static int ref_check_tag(const char *t, const char *whole, struct keel_error **err)
{
    size_t n = strlen(t);
    if (n == 0)
        return error_set(err, 0, "invalid reference \"%s\": empty tag", whole);
    if (n > REF_TAG_MAX)
        return error_set(err, 0, "invalid reference \"%s\": tag is longer than %d characters", whole,
                         REF_TAG_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        bool word = isalnum((unsigned char)c) || c == '_';
        if (!(word || (i > 0 && (c == '.' || c == '-'))))
            return error_set(
                err, 0, "invalid reference \"%s\": invalid tag \"%s\" (allowed: [A-Za-z0-9_][A-Za-z0-9_.-]*)",
                whole, t);
    }
    return 0;
}

/* Split the name part into registry and repository and check both. */
static int ref_split_name(const char *name, const char *whole, struct image_ref *r, struct keel_error **err)
{
    if (name[0] == '\0')
        return error_set(err, 0, "invalid reference \"%s\": empty repository name", whole);
    const char *slash = strchr(name, '/');
    const char *repo = name;
    cleanup_free char *domain = NULL;
    if (slash) {
        size_t n = (size_t)(slash - name);
        bool has_upper = false;
        for (size_t i = 0; i < n; i++)
            has_upper |= isupper((unsigned char)name[i]) != 0;
        if (memchr(name, '.', n) || memchr(name, ':', n) || (n == 9 && strncmp(name, "localhost", 9) == 0) ||
            has_upper) {
            domain = xstrndup(name, n);
            repo = slash + 1;
        }
    }
    if (domain) {
        if (ref_check_domain(domain, whole, err) < 0)
            return -1;
    }
    if (repo[0] == '\0')
        return error_set(err, 0, "invalid reference \"%s\": empty repository name", whole);
    const char *p = repo;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (ref_check_component(p, n, whole, err) < 0)
            return -1;
        if (!end)
            break;
        p = end + 1;
    }
    if (domain == NULL || strcmp(domain, "index.docker.io") == 0 ||
        strcmp(domain, "registry-1.docker.io") == 0) {
        free(domain);
        domain = xstrdup(REF_DEFAULT_REGISTRY);
    }
    if (strcmp(domain, REF_DEFAULT_REGISTRY) == 0 && strchr(repo, '/') == NULL)
        r->repository = xasprintf("library/%s", repo);
    else
        r->repository = xstrdup(repo);
    r->registry = steal_ptr(&domain);
    if (strlen(r->registry) + 1 + strlen(r->repository) > REF_NAME_MAX)
        return error_set(err, 0, "invalid reference \"%s\": repository name is longer than %d characters",
                         whole, REF_NAME_MAX);
    return 0;
}

static int ref_parse_common(const char *s, bool allow_tag, struct image_ref **out, struct keel_error **err)
{
    if (s == NULL || s[0] == '\0')
        return error_set(err, 0, "invalid reference \"\": empty");
    if (strncmp(s, "docker://", 9) == 0)
        s += 9;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return error_set(err, 0, "invalid reference \"%s\": contains whitespace or a control character",
                             s);
    struct image_ref *r = xzalloc(sizeof(*r));
    cleanup_ref struct image_ref *guard = r;
    cleanup_free char *name = xstrdup(s);
    char *at = strchr(name, '@');
    if (at) {
        *at = '\0';
        const char *dg = at + 1;
        if (!allow_tag)
            return error_set(err, 0, "invalid repository \"%s\": a repository takes no digest", s);
        if (digest_parse(dg, NULL, NULL, err) < 0)
            return error_prefix(err, "invalid reference \"%s\"", s);
        r->digest = xstrdup(dg);
    }
    char *last_slash = strrchr(name, '/');
    char *colon = strrchr(last_slash ? last_slash : name, ':');
    if (colon) {
        if (!allow_tag)
            return error_set(err, 0, "invalid repository \"%s\": a repository takes no tag", s);
        *colon = '\0';
        if (ref_check_tag(colon + 1, s, err) < 0)
            return -1;
        r->tag = xstrdup(colon + 1);
    }
    if (ref_split_name(name, s, r, err) < 0)
        return -1;
    if (allow_tag && r->tag == NULL && r->digest == NULL)
        r->tag = xstrdup(REF_DEFAULT_TAG);
    *out = steal_ptr(&guard);
    return 0;
}

int ref_parse(const char *s, struct image_ref **out, struct keel_error **err)
{
    return ref_parse_common(s, true, out, err);
}

int ref_parse_repository(const char *s, struct image_ref **out, struct keel_error **err)
{
    return ref_parse_common(s, false, out, err);
}

char *ref_format(const struct image_ref *r)
{
    return xasprintf("%s/%s%s%s%s%s", r->registry, r->repository, r->tag ? ":" : "", r->tag ? r->tag : "",
                     r->digest ? "@" : "", r->digest ? r->digest : "");
}

char *ref_format_repository(const struct image_ref *r)
{
    return xasprintf("%s/%s", r->registry, r->repository);
}

const char *ref_reference(const struct image_ref *r)
{
    return r->digest ? r->digest : r->tag;
}

const char *ref_api_host(const struct image_ref *r)
{
    if (strcmp(r->registry, REF_DEFAULT_REGISTRY) == 0)
        return "registry-1.docker.io";
    return r->registry;
}

bool ref_is_local_registry(const char *registry)
{
    size_t hl;
    if (registry[0] == '[') {
        const char *close = strchr(registry, ']');
        if (close == NULL)
            return false;
        return (size_t)(close - registry) == 4 && strncmp(registry, "[::1]", 5) == 0;
    }
    const char *colon = strchr(registry, ':');
    hl = colon ? (size_t)(colon - registry) : strlen(registry);
    if (hl == 9 && strncmp(registry, "localhost", 9) == 0)
        return true;
    if (hl >= 4 && strncmp(registry, "127.", 4) == 0) {
        for (size_t i = 4; i < hl; i++)
            if (!isdigit((unsigned char)registry[i]) && registry[i] != '.')
                return false;
        return true;
    }
    return false;
}

struct image_ref *ref_dup(const struct image_ref *r)
{
    struct image_ref *d = xzalloc(sizeof(*d));
    d->registry = xstrdup(r->registry);
    d->repository = xstrdup(r->repository);
    d->tag = r->tag ? xstrdup(r->tag) : NULL;
    d->digest = r->digest ? xstrdup(r->digest) : NULL;
    return d;
}

void ref_free(struct image_ref *r)
{
    if (r == NULL)
        return;
    free(r->registry);
    free(r->repository);
    free(r->tag);
    free(r->digest);
    free(r);
}

void ref_freep(struct image_ref **r)
{
    ref_free(*r);
    *r = NULL;
}
