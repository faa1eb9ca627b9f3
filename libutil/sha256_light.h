/* SHA-256 for keel without linking libcrypto.
 *
 * Loading libcrypto costs keel's every command up to a millisecond and a
 * few MiB of mappings, for one hash of the seccomp profile.  The kernel has
 * SHA-256 already: this asks it through AF_ALG, and only where that is not
 * available (a kernel without CONFIG_CRYPTO_USER_API_HASH) loads
 * libcrypto at run time.  hoist, which hashes gigabytes, uses digest.h. */
#ifndef KEEL_SHA256_LIGHT_H
#define KEEL_SHA256_LIGHT_H

#include <stddef.h>

/* out receives 64 lowercase hex digits and a NUL. Returns 0 or -errno. */
int sha256_light_hex(const void *data, size_t len, char out[65]);

#endif
