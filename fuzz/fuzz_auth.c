/* libFuzzer target: hoist's parsers of a registry's WWW-Authenticate
 * header (any registry's, so untrusted), of --creds "user:pass" and of
 * base64.  The first byte picks the parser.  auth.json / docker
 * config.json files have their own target, fuzz_authfile. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "error.h"
#include "registry_private.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_challenge(const char *s)
{
    struct registry_auth a = {0};
    struct keel_error *err = NULL;
    if (auth_parse_challenge(&a, s, &err) == 0 && a.scheme == AUTH_BEARER &&
        (a.realm == NULL || (strncmp(a.realm, "https://", 8) != 0 && strncmp(a.realm, "http://", 7) != 0)))
        abort(); /* a bearer challenge must carry an http(s) realm */
    error_free(err);
    auth_clear(&a);
}

static void fuzz_creds(const char *s)
{
    char *user = NULL, *pass = NULL;
    struct keel_error *err = NULL;
    if (auth_parse_creds(s, &user, &pass, &err) == 0 &&
        (user == NULL || pass == NULL || user[0] == '\0' || strchr(user, ':') != NULL))
        abort(); /* the user name is what stands before the first ':' */
    free(user);
    free(pass);
    error_free(err);
}

static void fuzz_base64(const char *s)
{
    size_t n = 0;
    char *bin = base64_decode(s, &n);
    if (bin == NULL)
        return;
    /* What decodes must encode back to something that decodes to the
     * same bytes. */
    char *again = base64_encode(bin, n);
    size_t n2 = 0;
    char *bin2 = base64_decode(again, &n2);
    if (!bin2 || n2 != n || memcmp(bin, bin2, n) != 0)
        abort();
    free(bin2);
    free(again);
    free(bin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t which = data[0];
    char *s = xstrndup((const char *)data + 1, size - 1);
    switch (which & 3) {
    case 0:
    case 1:
        fuzz_challenge(s);
        break;
    case 2:
        fuzz_creds(s);
        break;
    default:
        fuzz_base64(s);
        break;
    }
    free(s);
    return 0;
}
