/* libFuzzer target: the credential files hoist reads (podman's auth.json,
 * docker's config.json: the user's file, but podman, skopeo and docker
 * write it too): the JSON, "auths" keys matched by host, host/namespace and
 * legacy https://.../v1/ forms, base64 "user:pass" entries, username and
 * password members, credHelpers and credsStore.  The first byte picks the
 * registry looked up.  A found credential must have a user and a password.
 * PATH is a private empty directory so a fuzzed helper name never runs a
 * program (hoist forks, the exec fails: the "not found" path). */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "auth.h"
#include "error.h"
#include "fileutil.h"
#include "tmpdir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char file[96];

static void remove_dir(void)
{
    unlink(file);
    rmdir(dir);
}

static void setup(void)
{
    fuzz_make_tmpdir(dir, sizeof(dir), "fuzz_authfile");
    snprintf(file, sizeof(file), "%s/auth.json", dir);
    atexit(remove_dir);
    setenv("PATH", dir, 1);
    /* hoist's main ignores SIGPIPE too: a helper that died before reading
     * the registry name must give an error, not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    unsetenv("REGISTRY_AUTH_FILE");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const registries[] = {"docker.io", "localhost:5000", "quay.io", "example.com"};
    static const char *const repositories[] = {"library/busybox", "a/b", "org/repo", "x"};
    if (dir[0] == '\0')
        setup();
    if (size == 0)
        return 0;
    unsigned which = data[0] & 3;
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fd_write_all(fd, data + 1, size - 1) < 0)
        abort();
    close(fd);
    char *user = NULL, *pass = NULL;
    struct keel_error *err = NULL;
    int r = auth_lookup(registries[which], repositories[which], file, &user, &pass, &err);
    if (r == 0 && (user == NULL || pass == NULL))
        abort();
    if (r < 0 && err == NULL)
        abort(); /* a failure must say why */
    free(user);
    free(pass);
    error_free(err);
    return 0;
}
