#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "digest.h"
#include "sha256_light.h"
#include "unit.h"

int main(void)
{
    struct unit_counts c = {0};
    char hex[65];
    CHECK(&c, sha256_light_hex("", 0, hex) == 0);
    CHECK_STREQ(&c, hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* Larger than one send() chunk, and the same as OpenSSL's answer. */
    size_t n = 200000;
    cleanup_free char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 7);
    CHECK(&c, sha256_light_hex(big, n, hex) == 0);
    cleanup_free char *ref = digest_buffer(DIGEST_SHA256, big, n);
    CHECK_STREQ(&c, hex, ref + strlen("sha256:"));
    return unit_finish(&c);
}
