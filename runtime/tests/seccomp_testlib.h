/* Test helpers for the seccomp tests: a linux.seccomp JSON object into
 * struct spec_seccomp (the tests do not depend on the config parser), and
 * podman's default profile converted by spec-tests/runtime/seccomp_profiles.py. */
#ifndef KEEL_SECCOMP_TESTLIB_H
#define KEEL_SECCOMP_TESTLIB_H

#undef linux
#include "spec.h"

/* NULL on a malformed document (printed to stderr). */
struct spec_seccomp *testlib_seccomp_from_json(const char *text);
/* podman's default profile as linux.seccomp JSON text (caller frees), or NULL. */
char *testlib_podman_json(void);
/* podman's default profile, or NULL (skip) when it is not installed. */
struct spec_seccomp *testlib_seccomp_podman(void);
void testlib_seccomp_free(struct spec_seccomp *s);

#endif
