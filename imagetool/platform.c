/* Platforms and selecting a manifest from an index (containerd's rules for
 * variants: a missing variant matches; arm64 defaults to v8; arm's wanted
 * variant accepts older ones, best first). */
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "cleanup.h"
#include "error.h"
#include "manifest.h"
#include "platform.h"
#include "strbuf.h"
#include "xalloc.h"

static void platform_normalise(struct oci_platform *p)
{
    static const struct {
        const char *from, *to, *variant;
    } arch_alias[] = {
        {"x86_64", "amd64", NULL}, {"x86-64", "amd64", NULL}, {"aarch64", "arm64", NULL},
        {"armhf", "arm", "v7"},    {"armel", "arm", "v6"},    {"i686", "386", NULL},
        {"i386", "386", NULL},
    };
    for (size_t i = 0; i < sizeof(arch_alias) / sizeof(arch_alias[0]); i++) {
        if (strcmp(p->architecture, arch_alias[i].from) == 0) {
            free(p->architecture);
            p->architecture = xstrdup(arch_alias[i].to);
            if (arch_alias[i].variant && p->variant == NULL)
                p->variant = xstrdup(arch_alias[i].variant);
        }
    }
    if (p->variant && strcmp(p->architecture, "arm") == 0) {
        if (strcmp(p->variant, "7") == 0 || strcmp(p->variant, "armv7") == 0) {
            free(p->variant);
            p->variant = xstrdup("v7");
        }
    }
    if (p->variant && strcmp(p->architecture, "arm64") == 0 && strcmp(p->variant, "8") == 0) {
        free(p->variant);
        p->variant = xstrdup("v8");
    }
}

int platform_parse(const char *s, struct oci_platform **out, struct keel_error **err)
{
    cleanup_free char *copy = xstrdup(s);
    char *parts[4] = {NULL};
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (n == 3)
            return error_set(err, 0, "invalid platform \"%s\": expected OS/ARCH[/VARIANT]", s);
        parts[n++] = tok;
    }
    if (n < 2 || s[strlen(s) - 1] == '/' || strstr(s, "//"))
        return error_set(err, 0, "invalid platform \"%s\": expected OS/ARCH[/VARIANT]", s);
    struct oci_platform *p = xzalloc(sizeof(*p));
    p->os = xstrdup(parts[0]);
    p->architecture = xstrdup(parts[1]);
    p->variant = n == 3 ? xstrdup(parts[2]) : NULL;
    platform_normalise(p);
    *out = p;
    return 0;
}

int platform_parse_option(const char *arg, struct oci_platform **platform, struct keel_error **err)
{
    platform_freep(platform);
    if (platform_parse(arg, platform, err) < 0)
        return error_prefix(err, "--platform");
    return 0;
}

struct oci_platform *platform_host(void)
{
    struct oci_platform *p = xzalloc(sizeof(*p));
    p->os = xstrdup("linux");
#if defined(__x86_64__)
    p->architecture = xstrdup("amd64");
#elif defined(__aarch64__)
    p->architecture = xstrdup("arm64");
#elif defined(__arm__)
    p->architecture = xstrdup("arm");
#if defined(__ARM_ARCH_7A__)
    p->variant = xstrdup("v7");
#elif defined(__ARM_ARCH_6__)
    p->variant = xstrdup("v6");
#endif
#elif defined(__i386__)
    p->architecture = xstrdup("386");
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    p->architecture = xstrdup("ppc64le");
#elif defined(__s390x__)
    p->architecture = xstrdup("s390x");
#elif defined(__riscv) && __riscv_xlen == 64
    p->architecture = xstrdup("riscv64");
#else
    struct utsname u;
    uname(&u);
    p->architecture = xstrdup(u.machine);
    platform_normalise(p);
#endif
    return p;
}

char *platform_format(const struct oci_platform *p)
{
    return xasprintf("%s/%s%s%s", p->os ? p->os : "?", p->architecture ? p->architecture : "?",
                     p->variant ? "/" : "", p->variant ? p->variant : "");
}

void platform_free(struct oci_platform *p)
{
    if (p == NULL)
        return;
    free(p->os);
    free(p->architecture);
    free(p->variant);
    free(p->os_version);
    strv_free(p->os_features);
    free(p);
}

void platform_freep(struct oci_platform **p)
{
    platform_free(*p);
    *p = NULL;
}

struct oci_platform *platform_dup(const struct oci_platform *p)
{
    struct oci_platform *d = xzalloc(sizeof(*d));
    d->os = p->os ? xstrdup(p->os) : NULL;
    d->architecture = p->architecture ? xstrdup(p->architecture) : NULL;
    d->variant = p->variant ? xstrdup(p->variant) : NULL;
    d->os_version = p->os_version ? xstrdup(p->os_version) : NULL;
    if (p->os_features) {
        size_t n = strv_len(p->os_features);
        d->os_features = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            d->os_features[i] = xstrdup(p->os_features[i]);
    }
    return d;
}

/* Score how well have satisfies want: -1 = not at all, higher = better. */
static int platform_score(const struct oci_platform *want, const struct oci_platform *have)
{
    if (!have->os || !have->architecture || strcmp(want->os, have->os) != 0)
        return -1;
    /* Normalise a copy without touching the index. */
    struct oci_platform tmp = {.os = have->os,
                               .architecture = xstrdup(have->architecture),
                               .variant = have->variant ? xstrdup(have->variant) : NULL};
    platform_normalise(&tmp);
    int score = -1;
    if (strcmp(want->architecture, tmp.architecture) == 0) {
        const char *wv = want->variant;
        const char *hv = tmp.variant;
        if (strcmp(tmp.architecture, "arm64") == 0) {
            /* arm64 without a variant is v8. */
            if (!wv || strcmp(wv, "v8") == 0)
                score = (!hv || strcmp(hv, "v8") == 0) ? 10 : -1;
            else
                score = (hv && strcmp(hv, wv) == 0) ? 10 : (!hv ? 5 : -1);
        } else if (strcmp(tmp.architecture, "arm") == 0 && wv && hv && wv[0] == 'v' && hv[0] == 'v') {
            int w = atoi(wv + 1), g = atoi(hv + 1);
            score = g == w ? 10 : (g < w && g >= 5 ? 10 - (w - g) : -1);
        } else if (!wv || !hv) {
            score = (!wv && !hv) ? 10 : 5;
        } else {
            score = strcmp(wv, hv) == 0 ? 10 : -1;
        }
    }
    free(tmp.architecture);
    free(tmp.variant);
    return score;
}

int platform_select(const struct oci_index *idx, const struct oci_platform *want, size_t *which,
                    struct keel_error **err)
{
    cleanup_platform struct oci_platform *host = NULL;
    if (want == NULL) {
        host = platform_host();
        want = host;
    }
    int best = -1;
    size_t best_i = 0;
    for (size_t i = 0; i < idx->n_manifests; i++) {
        const struct oci_descriptor *d = &idx->manifests[i];
        if (d->platform == NULL)
            continue;
        int s = platform_score(want, d->platform);
        if (s > best) {
            best = s;
            best_i = i;
        }
    }
    if (best >= 0) {
        *which = best_i;
        return 0;
    }
    cleanup_free char *w = platform_format(want);
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < idx->n_manifests; i++) {
        if (idx->manifests[i].platform == NULL)
            continue;
        cleanup_free char *f = platform_format(idx->manifests[i].platform);
        strbuf_printf(&sb, "%s%s", sb.len ? ", " : "", f);
    }
    cleanup_free char *list = strbuf_detach(&sb);
    return error_set(err, 0, "no manifest for platform %s in the index (it has: %s)", w,
                     list[0] ? list : "no platforms");
}
