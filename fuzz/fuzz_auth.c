/* libFuzzer target: hoist's parsers of registry credentials and challenges.
 * The first byte picks the parser: a WWW-Authenticate header (from any
 * registry, so untrusted), an auth.json / docker config.json (the user's
 * file, but podman and skopeo write it too), --creds "user:pass", base64.
 * PATH is emptied first so a fuzzed "credsStore" never runs a program. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "error.h"
#include "fileutil.h"
#include "registry_private.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/fuzz_auth_XXXXXX";
static char file[64];

static void remove_dir(void)
{
    unlink(file);
    rmdir(dir);
}

static void setup(void)
{
    if (!mkdtemp(dir))
        abort();
    snprintf(file, sizeof(file), "%s/auth.json", dir);
    atexit(remove_dir);
    setenv("PATH", dir, 1);
    /* auth_run_helper writes the registry name to a helper that may have
     * died already (not found: exit 127), and hoist does not ignore
     * SIGPIPE, so that write kills hoist without a message.  Reported;
     * ignored here so the fuzzer keeps looking at the parsers. */
    signal(SIGPIPE, SIG_IGN);
    unsetenv("REGISTRY_AUTH_FILE");
}

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

static void fuzz_authfile(const uint8_t *data, size_t size, const char *registry)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fd_write_all(fd, data, size) < 0)
        abort();
    close(fd);
    char *user = NULL, *pass = NULL;
    struct keel_error *err = NULL;
    int r = auth_lookup(registry, "library/busybox", file, &user, &pass, &err);
    if (r == 0 && (user == NULL || pass == NULL))
        abort();
    free(user);
    free(pass);
    error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dir[sizeof(dir) - 2] == 'X')
        setup();
    if (size == 0)
        return 0;
    uint8_t which = data[0];
    data++;
    size--;
    char *s = xstrndup((const char *)data, size);
    struct keel_error *err = NULL;
    switch (which & 3) {
    case 0:
        fuzz_challenge(s);
        break;
    case 1: {
        static const char *const registries[] = {"docker.io", "localhost:5000", "quay.io", "example.com"};
        fuzz_authfile(data, size, registries[(which >> 2) & 3]);
        break;
    }
    case 2: {
        char *user = NULL, *pass = NULL;
        if (auth_parse_creds(s, &user, &pass, &err) == 0 && (user == NULL || pass == NULL))
            abort();
        free(user);
        free(pass);
        break;
    }
    default: {
        size_t n = 0;
        char *bin = base64_decode(s, &n);
        if (bin) {
            /* Round trip: what decodes must encode back to something that
             * decodes to the same bytes. */
            char *again = base64_encode(bin, n);
            size_t n2 = 0;
            char *bin2 = base64_decode(again, &n2);
            if (!bin2 || n2 != n || memcmp(bin, bin2, n) != 0)
                abort();
            free(bin2);
            free(again);
            free(bin);
        }
        break;
    }
    }
    error_free(err);
    free(s);
    return 0;
}
