#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "digest.h"
#include "error.h"
#include "xalloc.h"

static const EVP_MD *digest_md(enum digest_alg alg)
{
    return alg == DIGEST_SHA512 ? EVP_sha512() : EVP_sha256();
}

const char *digest_alg_name(enum digest_alg alg)
{
    return alg == DIGEST_SHA512 ? "sha512" : "sha256";
}

int digest_parse(const char *s, enum digest_alg *alg, const char **hex, struct keel_error **err)
{
    const char *colon = strchr(s, ':');
    if (colon == NULL)
        return error_set(err, 0, "invalid digest \"%s\": expected ALGORITHM:HEX", s);
    size_t want;
    enum digest_alg a;
    if ((size_t)(colon - s) == 6 && strncmp(s, "sha256", 6) == 0) {
        a = DIGEST_SHA256;
        want = 64;
    } else if ((size_t)(colon - s) == 6 && strncmp(s, "sha512", 6) == 0) {
        a = DIGEST_SHA512;
        want = 128;
    } else {
        return error_set(err, 0, "invalid digest \"%s\": unsupported algorithm \"%.*s\" (sha256 or sha512)", s,
                         (int)(colon - s), s);
    }
    const char *h = colon + 1;
    size_t n = strlen(h);
    if (n != want)
        return error_set(err, 0, "invalid digest \"%s\": %s needs %zu hex digits, got %zu", s,
                         digest_alg_name(a), want, n);
    for (size_t i = 0; i < n; i++) {
        bool ok = (h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f');
        if (!ok)
            return error_set(err, 0, "invalid digest \"%s\": '%c' is not a lowercase hex digit", s, h[i]);
    }
    if (alg)
        *alg = a;
    if (hex)
        *hex = h;
    return 0;
}

void digest_init(struct digest_ctx *c, enum digest_alg alg)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, digest_md(alg), NULL) != 1)
        abort();
    c->md = md;
    c->alg = alg;
}

void digest_update(struct digest_ctx *c, const void *data, size_t len)
{
    if (EVP_DigestUpdate(c->md, data, len) != 1)
        abort();
}

char *digest_final(struct digest_ctx *c)
{
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(c->md, raw, &n) != 1)
        abort();
    const char *name = digest_alg_name(c->alg);
    size_t nl = strlen(name);
    char *out = xmalloc(nl + 1 + 2 * n + 1);
    memcpy(out, name, nl);
    out[nl] = ':';
    static const char hexd[] = "0123456789abcdef";
    for (unsigned int i = 0; i < n; i++) {
        out[nl + 1 + 2 * i] = hexd[raw[i] >> 4];
        out[nl + 2 + 2 * i] = hexd[raw[i] & 15];
    }
    out[nl + 1 + 2 * n] = '\0';
    digest_release(c);
    return out;
}

void digest_release(struct digest_ctx *c)
{
    if (c->md)
        EVP_MD_CTX_free(c->md);
    c->md = NULL;
}

char *digest_buffer(enum digest_alg alg, const void *data, size_t len)
{
    struct digest_ctx c;
    digest_init(&c, alg);
    digest_update(&c, data, len);
    return digest_final(&c);
}
