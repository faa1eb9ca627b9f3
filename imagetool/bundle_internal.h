/* Shared by bundle.c and bundle_overlay.c. */
#ifndef KEEL_HOIST_BUNDLE_INTERNAL_H
#define KEEL_HOIST_BUNDLE_INTERNAL_H

struct bundle_opts;
struct image_config;
struct keel_error;
struct oci_manifest;
struct store;

/* Make bundlefd/rootfs an overlay mount of the cached layers; *rootfd on it. */
int bundle_fill_overlay(struct store *s, const struct oci_manifest *m, const struct image_config *ic,
                        int bundlefd, const struct bundle_opts *o, int *rootfd, struct keel_error **err);

#endif
