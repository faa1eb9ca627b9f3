#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "ref.h"
#include "unit.h"
#include "xalloc.h"

static void check_norm(struct unit_counts *c, const char *in, const char *want)
{
    cleanup_error struct keel_error *err = NULL;
    cleanup_ref struct image_ref *r = NULL;
    int rc = ref_parse(in, &r, &err);
    CHECK(c, rc == 0);
    if (rc < 0) {
        fprintf(stderr, "  %s: %s\n", in, error_msg(err));
        return;
    }
    cleanup_free char *f = ref_format(r);
    CHECK_STREQ(c, f, want);
}

static void check_bad(struct unit_counts *c, const char *in, const char *why)
{
    cleanup_error struct keel_error *err = NULL;
    cleanup_ref struct image_ref *r = NULL;
    CHECK(c, ref_parse(in, &r, &err) < 0);
    CHECK(c, r == NULL);
    CHECK(c, err && strstr(err->msg, why) != NULL);
    if (err && !strstr(err->msg, why))
        fprintf(stderr, "  %s: got \"%s\", want \"%s\"\n", in, err->msg, why);
}

int main(void)
{
    struct unit_counts c = {0};
    const char *d256 = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    check_norm(&c, "busybox", "docker.io/library/busybox:latest");
    check_norm(&c, "busybox:1.36", "docker.io/library/busybox:1.36");
    check_norm(&c, "docker.io/busybox", "docker.io/library/busybox:latest");
    check_norm(&c, "index.docker.io/library/busybox", "docker.io/library/busybox:latest");
    check_norm(&c, "docker://alpine:3", "docker.io/library/alpine:3");
    check_norm(&c, "user/app", "docker.io/user/app:latest");
    check_norm(&c, "quay.io/org/app:v1.2-rc_3", "quay.io/org/app:v1.2-rc_3");
    check_norm(&c, "localhost/app", "localhost/app:latest");
    check_norm(&c, "localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t");
    check_norm(&c, "127.0.0.1:5000/x__y.z-w---v", "127.0.0.1:5000/x__y.z-w---v:latest");
    check_norm(&c, "[::1]:5000/app", "[::1]:5000/app:latest");
    check_norm(&c, "Registry.Example/app", "Registry.Example/app:latest");

    cleanup_free char *with_digest = xasprintf("quay.io/app@%s", d256);
    check_norm(&c, with_digest, with_digest);
    cleanup_free char *tag_digest = xasprintf("app:1@%s", d256);
    cleanup_free char *tag_digest_want = xasprintf("docker.io/library/app:1@%s", d256);
    check_norm(&c, tag_digest, tag_digest_want);
    {
        cleanup_error struct keel_error *err = NULL;
        cleanup_ref struct image_ref *r = NULL;
        CHECK(&c, ref_parse(tag_digest, &r, &err) == 0);
        CHECK_STREQ(&c, ref_reference(r), d256);
        CHECK_STREQ(&c, ref_api_host(r), "registry-1.docker.io");
        CHECK(&c, r->tag && strcmp(r->tag, "1") == 0);
    }
    const char *d512 =
        "sha512:"
        "ee26b0dd4af7e749aa1a8ee3c10ae9923f618980772e473f8819a5d4940e0db27ac185f8a0e1d5f84f88bc887fd67b143"
        "732c304cc5fa9ad8e6f57f50028a8ff";
    cleanup_free char *r512 = xasprintf("localhost:5000/app@%s", d512);
    check_norm(&c, r512, r512);

    check_bad(&c, "", "empty");
    check_bad(&c, "Busybox", "lowercase");
    check_bad(&c, "docker.io/Library/busybox", "lowercase");
    check_bad(&c, "busybox:", "empty tag");
    check_bad(&c, "busybox:-x", "invalid tag");
    check_bad(&c, "busybox:a/b", "invalid port");
    check_bad(&c, "busybox@sha256:abc", "needs 64 hex digits");
    check_bad(&c, "busybox@md5:abcd", "unsupported algorithm");
    check_bad(&c, "a//b", "empty path component");
    check_bad(&c, "app_", "must be followed by a letter or digit");
    check_bad(&c, "-app", "must start and end");
    check_bad(&c, "localhost:99999/app", "invalid port");
    check_bad(&c, "local-.host:5000/app", "invalid registry host");
    check_bad(&c, "quay.io/", "empty repository name");
    check_bad(&c, "bu sybox", "whitespace");
    char longtag[200];
    memset(longtag, 'a', sizeof(longtag));
    longtag[199] = '\0';
    cleanup_free char *lt = xasprintf("app:%s", longtag);
    check_bad(&c, lt, "longer than 128");

    {
        cleanup_error struct keel_error *err = NULL;
        cleanup_ref struct image_ref *r = NULL;
        CHECK(&c, ref_parse_repository("localhost:5000/app", &r, &err) == 0);
        CHECK(&c, r && r->tag == NULL && r->digest == NULL);
        cleanup_ref struct image_ref *r2 = NULL;
        CHECK(&c, ref_parse_repository("localhost:5000/app:tag", &r2, &err) < 0);
        CHECK(&c, err && strstr(err->msg, "takes no tag"));
    }
    CHECK(&c, ref_is_local_registry("localhost:5000"));
    CHECK(&c, ref_is_local_registry("127.0.0.1:41234"));
    CHECK(&c, ref_is_local_registry("[::1]:5000"));
    CHECK(&c, !ref_is_local_registry("quay.io"));
    CHECK(&c, !ref_is_local_registry("127.example.com"));
    return unit_finish(&c);
}
