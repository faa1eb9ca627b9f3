/* Credentials files, credential helpers and the auth challenge parser. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "registry_private.h"
#include "unit.h"
#include "xalloc.h"

static void write_file(const char *path, const char *text, mode_t mode)
{
    if (file_write_atomic(path, text, strlen(text), mode, NULL) < 0)
        abort();
}

static int lookup(const char *reg, const char *repo, const char *file, char **u, char **p)
{
    cleanup_error struct keel_error *err = NULL;
    int r = auth_lookup(reg, repo, file, u, p, &err);
    if (r < 0)
        fprintf(stderr, "  lookup %s: %s\n", reg, error_msg(err));
    return r;
}

int main(void)
{
    struct unit_counts c = {0};
    cleanup_error struct keel_error *err = NULL;
    char tmpl[] = "/tmp/test_auth.XXXXXX";
    CHECK(&c, mkdtemp(tmpl) != NULL);

    cleanup_free char *b = base64_encode("user:pa:ss", 10);
    CHECK_STREQ(&c, b, "dXNlcjpwYTpzcw==");
    size_t len = 0;
    cleanup_free char *d = base64_decode(b, &len);
    CHECK(&c, d && len == 10 && memcmp(d, "user:pa:ss", 10) == 0);
    CHECK(&c, base64_decode("abc", NULL) == NULL);

    char *u = NULL, *p = NULL;
    CHECK(&c, auth_parse_creds("me:se:cret", &u, &p, &err) == 0);
    CHECK_STREQ(&c, u, "me");
    CHECK_STREQ(&c, p, "se:cret");
    free(u), free(p);
    CHECK(&c, auth_parse_creds("me", &u, &p, &err) == 0);
    CHECK_STREQ(&c, p, "");
    free(u), free(p);
    CHECK(&c, auth_parse_creds(":x", &u, &p, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "user name is empty"));

    /* auths: bare host, https:// prefix, a repository namespace, docker.io's legacy key. */
    cleanup_free char *f1 = xasprintf("%s/auth.json", tmpl);
    write_file(f1,
               "{\"auths\":{\"reg.example:5000\":{\"auth\":\"YTpi\"},"
               "\"https://other.example\":{\"auth\":\"Yzpk\"},"
               "\"reg.example:5000/team/app\":{\"auth\":\"dGVhbTpzZWNyZXQ=\"},"
               "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1Yg==\"},"
               "\"bad.example\":{\"auth\":\"!!!!\"}}}",
               0600);
    CHECK(&c, lookup("reg.example:5000", "x/y", f1, &u, &p) == 0);
    CHECK_STREQ(&c, u, "a");
    CHECK_STREQ(&c, p, "b");
    free(u), free(p);
    CHECK(&c, lookup("reg.example:5000", "team/app", f1, &u, &p) == 0);
    CHECK_STREQ(&c, u, "team");
    free(u), free(p);
    CHECK(&c, lookup("other.example", "x", f1, &u, &p) == 0);
    CHECK_STREQ(&c, u, "c");
    free(u), free(p);
    CHECK(&c, lookup("docker.io", "library/busybox", f1, &u, &p) == 0);
    CHECK_STREQ(&c, u, "hub");
    free(u), free(p);
    CHECK(&c, lookup("unknown.example", NULL, f1, &u, &p) == 1);
    CHECK(&c, auth_lookup("bad.example", NULL, f1, &u, &p, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "not base64 of USER:PASSWORD"));
    cleanup_free char *missing = xasprintf("%s/none.json", tmpl);
    CHECK(&c, auth_lookup("x", NULL, missing, &u, &p, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "--authfile"));
    cleanup_free char *broken = xasprintf("%s/broken.json", tmpl);
    write_file(broken, "{\"auths\":", 0600);
    CHECK(&c, auth_lookup("x", NULL, broken, &u, &p, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "invalid JSON"));

    /* Credential helpers: credHelpers per registry, credsStore for the rest. */
    cleanup_free char *bindir = xasprintf("%s/bin", tmpl);
    CHECK(&c, fs_mkdir_p(bindir, 0755, &err) == 0);
    cleanup_free char *helper = xasprintf("%s/docker-credential-fake", bindir);
    write_file(helper,
               "#!/bin/sh\nread server\ncase \"$server\" in\n"
               "helped.example) echo '{\"ServerURL\":\"x\",\"Username\":\"hu\",\"Secret\":\"hs\"}';;\n"
               "*) echo 'credentials not found in native keychain'; exit 1;;\nesac\n",
               0755);
    const char *old_path = getenv("PATH");
    cleanup_free char *path = xasprintf("%s:%s", bindir, old_path ? old_path : "/usr/bin:/bin");
    setenv("PATH", path, 1);
    cleanup_free char *f2 = xasprintf("%s/config.json", tmpl);
    write_file(
        f2,
        "{\"credHelpers\":{\"helped.example\":\"fake\",\"gone.example\":\"absent\"},\"credsStore\":\"fake\"}",
        0600);
    CHECK(&c, lookup("helped.example", NULL, f2, &u, &p) == 0);
    CHECK_STREQ(&c, u, "hu");
    CHECK_STREQ(&c, p, "hs");
    free(u), free(p);
    CHECK(&c, lookup("nobody.example", NULL, f2, &u, &p) == 1);
    CHECK(&c, auth_lookup("gone.example", NULL, f2, &u, &p, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "docker-credential-absent"));

    /* login/logout keep other entries and members. */
    cleanup_free char *f3 = xasprintf("%s/run/containers/auth.json", tmpl);
    write_file(f2, "{\"auths\":{\"keep.example\":{\"auth\":\"YTpi\"}},\"credsStore\":\"\"}", 0600);
    CHECK(&c, auth_store(f3, "new.example", "n", "p:w", &err) == 0);
    struct stat st;
    CHECK(&c, stat(f3, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(&c, lookup("new.example", NULL, f3, &u, &p) == 0);
    CHECK_STREQ(&c, p, "p:w");
    free(u), free(p);
    CHECK(&c, auth_store(f2, "new.example", "n", "x", &err) == 0);
    CHECK(&c, lookup("keep.example", NULL, f2, &u, &p) == 0);
    free(u), free(p);
    bool found = false;
    CHECK(&c, auth_remove(f2, "new.example", &found, &err) == 0 && found);
    CHECK(&c, auth_remove(f2, "new.example", &found, &err) == 0 && !found);
    CHECK(&c, lookup("keep.example", NULL, f2, &u, &p) == 0);
    free(u), free(p);
    cleanup_free char *text = NULL;
    CHECK(&c, file_read_whole(f2, 65536, &text, NULL, &err) == 0 && strstr(text, "credsStore"));

    /* WWW-Authenticate challenges. */
    struct registry_auth a = {0};
    CHECK(&c, auth_parse_challenge(&a,
                                   "Bearer realm=\"https://auth.example/token\",service=\"reg\\\"x\","
                                   "scope=\"repository:a/b:pull\"",
                                   &err) == 0);
    CHECK(&c, a.scheme == AUTH_BEARER);
    CHECK_STREQ(&c, a.realm, "https://auth.example/token");
    CHECK_STREQ(&c, a.service, "reg\"x");
    CHECK(&c, auth_parse_challenge(&a, "Basic realm=\"r\"", &err) == 0 && a.scheme == AUTH_BASIC);
    CHECK(&c, auth_parse_challenge(&a, "Bearer service=\"x\"", &err) < 0);
    CHECK(&c, err && strstr(err->msg, "no realm"));
    CHECK(&c, auth_parse_challenge(&a, "Bearer realm=\"file:///etc/passwd\"", &err) < 0);
    CHECK(&c, auth_parse_challenge(&a, "Negotiate abc", &err) < 0);
    CHECK(&c, err && strstr(err->msg, "unsupported authentication scheme"));
    auth_clear(&a);

    CHECK(&c, http_backoff_ms(1, -1) == 250 && http_backoff_ms(3, -1) == 1000 &&
                  http_backoff_ms(20, -1) == 10000);
    CHECK(&c, http_backoff_ms(1, 2) == 2000);
    CHECK(&c, http_status_retryable(503) && http_status_retryable(429) && !http_status_retryable(404));

    CHECK(&c, fs_remove_tree(tmpl, &err) == 0);
    return unit_finish(&c);
}
