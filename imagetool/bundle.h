/* An image from the store made into a runtime bundle: BUNDLE/rootfs with
 * every layer applied in order, and BUNDLE/config.json converted from the
 * image config.  On failure nothing of the bundle is left behind. */
#ifndef KEEL_HOIST_BUNDLE_H
#define KEEL_HOIST_BUNDLE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "convert.h"

struct hoist_context;
struct keel_error;
struct keel_log;
struct layer_owner;
struct oci_manifest;
struct oci_platform;
struct store;

struct bundle_opts {
    const struct layer_owner *owner; /* ownership strategy (layer_owner.h) */
    struct convert_opts convert;
    uint64_t max_layer_bytes, max_layer_entries; /* 0: defaults of layer.h */
    bool overlay;                                /* rootfs: an overlayfs mount of cached layers (cache.h) */
    const struct keel_log *log;
    const sigset_t *interrupt; /* see layer_apply_opts */
};

/* Unpack manifest m into dir, which must not exist or be an empty directory.
 * With o->overlay, dir/rootfs is left mounted: bundle_remove() undoes it. */
int bundle_unpack(struct store *s, const struct oci_manifest *m, const char *dir, const struct bundle_opts *o,
                  struct keel_error **err);

/* Unpack image ref into dir as bundle_unpack does, pulling the image first
 * when the store ctx->store lacks it.  SIGINT, SIGTERM and SIGHUP (those not
 * ignored) are blocked during the unpack (o->interrupt is not used): one of
 * them stops it, the half-made bundle is removed, and then the signal is let
 * in.  With restore_mask, a complete bundle is returned with those signals
 * still blocked and *restore_mask set to the mask to restore once the caller
 * is ready for them. */
int bundle_unpack_ref(struct hoist_context *ctx, const char *ref, const struct oci_platform *platform,
                      const char *dir, const struct bundle_opts *o, sigset_t *restore_mask,
                      struct keel_error **err);

/* The value of --overlay[=true|false] (arg: NULL when given alone). */
int bundle_parse_overlay_option(const char *arg, bool *overlay, struct keel_error **err);

/* Remove a bundle made by bundle_unpack (unmounting an overlay rootfs). */
int bundle_remove(const char *dir, struct keel_error **err);

/* Whether this kernel mounts overlayfs here (as root). */
bool bundle_overlay_supported(void);

#endif
