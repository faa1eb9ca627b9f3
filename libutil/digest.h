/* Content digests "ALG:HEX" (sha256, sha512) through OpenSSL's EVP API,
 * computed incrementally so that streams are verified as they pass. */
#ifndef KEEL_DIGEST_H
#define KEEL_DIGEST_H

#include <stddef.h>

struct keel_error;

enum digest_alg { DIGEST_SHA256, DIGEST_SHA512 };

struct digest_ctx {
    void *md; /* EVP_MD_CTX */
    enum digest_alg alg;
};

/* Validate "sha256:<64 lowercase hex>" / "sha512:<128 lowercase hex>".
 * *hex (optional) points into s. */
int digest_parse(const char *s, enum digest_alg *alg, const char **hex, struct keel_error **err);
const char *digest_alg_name(enum digest_alg alg);

void digest_init(struct digest_ctx *c, enum digest_alg alg);
void digest_update(struct digest_ctx *c, const void *data, size_t len);
/* Returns "alg:hex" (caller frees) and releases the context. */
char *digest_final(struct digest_ctx *c);
/* Release without a result (safe on a released or zeroed context). */
void digest_release(struct digest_ctx *c);
#define cleanup_digest __attribute__((cleanup(digest_release)))

char *digest_buffer(enum digest_alg alg, const void *data, size_t len);

#endif
