#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "digest.h"
#include "error.h"
#include "unit.h"

int main(void)
{
    struct unit_counts c = {0};
    cleanup_error struct keel_error *err = NULL;
    cleanup_free char *empty = digest_buffer(DIGEST_SHA256, "", 0);
    CHECK_STREQ(&c, empty, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    struct digest_ctx ctx;
    digest_init(&ctx, DIGEST_SHA512);
    digest_update(&ctx, "a", 1);
    digest_update(&ctx, "bc", 2);
    cleanup_free char *abc = digest_final(&ctx);
    CHECK_STREQ(&c, abc, "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                         "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    enum digest_alg alg;
    const char *hex;
    CHECK(&c, digest_parse(empty, &alg, &hex, &err) == 0 && alg == DIGEST_SHA256 && strlen(hex) == 64);
    CHECK(&c, digest_parse("sha256:abc", NULL, NULL, &err) < 0);
    CHECK(&c, strstr(err->msg, "needs 64 hex digits, got 3") != NULL);
    CHECK(&c, digest_parse("md5:abc", NULL, NULL, &err) < 0);
    CHECK(&c, digest_parse("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", NULL, NULL,
                           &err) < 0);
    CHECK(&c, digest_parse("nocolon", NULL, NULL, &err) < 0);
    struct digest_ctx unused = {0};
    digest_release(&unused);
    return unit_finish(&c);
}
