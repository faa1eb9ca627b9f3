/* Platforms ("linux/arm64/v8") and choosing one manifest from an index the
 * way containerd does: os and architecture must match, a missing variant
 * matches, and a wanted arm variant accepts older ones (v8 > v7 > v6 > v5). */
#ifndef KEEL_HOIST_PLATFORM_H
#define KEEL_HOIST_PLATFORM_H

#include <stddef.h>

struct keel_error;
struct oci_platform;
struct oci_index;

/* Parse "os/arch[/variant]"; architecture aliases are normalised
 * (x86_64 -> amd64, aarch64 -> arm64, armhf -> arm/v7). */
int platform_parse(const char *s, struct oci_platform **out, struct keel_error **err);
/* A --platform option: replaces *platform (a later option wins); errors name the option. */
int platform_parse_option(const char *arg, struct oci_platform **platform, struct keel_error **err);
/* The platform this binary runs on. */
struct oci_platform *platform_host(void);
/* "os/arch[/variant]", caller frees. */
char *platform_format(const struct oci_platform *p);
void platform_free(struct oci_platform *p);
void platform_freep(struct oci_platform **p);
#define cleanup_platform __attribute__((cleanup(platform_freep)))
struct oci_platform *platform_dup(const struct oci_platform *p);

/* Index of the best manifest for want (NULL = this host). No match is an
 * error listing the platforms the index offers. */
int platform_select(const struct oci_index *idx, const struct oci_platform *want, size_t *which,
                    struct keel_error **err);

#endif
