/* hoist unpack [OPTIONS] REF BUNDLE */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "cleanup.h"
#include "commands.h"
#include "error.h"
#include "layer_owner.h"
#include "platform.h"
#include "xalloc.h"

static void unpack_usage(FILE *out)
{
    fprintf(out, "Usage: hoist unpack [OPTIONS] REF BUNDLE\n\n"
                 "Make BUNDLE/rootfs and BUNDLE/config.json from image REF (pulled first when\n"
                 "the store lacks it).\n\nOptions:\n"
                 "  --platform OS/ARCH[/VARIANT]  platform of a multi-platform image (default: this host)\n"
                 "  --rootless                    unpack as an unprivileged user (default when not root)\n"
                 "  --uid-map C:H:N               container uid C.. is host uid H.. (repeatable)\n"
                 "  --gid-map C:H:N               the same for gids\n"
                 "  --max-layer-size BYTES        refuse a layer whose entries add up to more\n"
                 "  --max-layer-entries N         refuse a layer with more entries\n"
                 "  --overlay[=true|false]        rootfs as an overlay mount of cached layers\n"
                 "                                (remove such a bundle with `umount BUNDLE/rootfs` first)\n"
                 "  -h, --help                    this help\n");
}

enum {
    OPT_PLATFORM = 256,
    OPT_ROOTLESS,
    OPT_UID_MAP,
    OPT_GID_MAP,
    OPT_MAX_SIZE,
    OPT_MAX_ENTRIES,
    OPT_OVERLAY
};

static int unpack_parse_u64(const char *s, const char *what, uint64_t *out, struct keel_error **err)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v == 0)
        return error_set(err, EINVAL, "%s: `%s` is not a positive number", what, s);
    *out = v;
    return 0;
}

int cmd_unpack(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"rootless", no_argument, NULL, OPT_ROOTLESS},
        {"uid-map", required_argument, NULL, OPT_UID_MAP},
        {"gid-map", required_argument, NULL, OPT_GID_MAP},
        {"max-layer-size", required_argument, NULL, OPT_MAX_SIZE},
        {"max-layer-entries", required_argument, NULL, OPT_MAX_ENTRIES},
        {"overlay", optional_argument, NULL, OPT_OVERLAY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cleanup_platform struct oci_platform *platform = NULL;
    struct idmap uids = {0}, gids = {0};
    bool rootless = geteuid() != 0;
    struct bundle_opts bo = {.log = &ctx->log};
    int rc = -1;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_PLATFORM:
            platform_free(platform);
            platform = NULL;
            if (platform_parse(optarg, &platform, err) < 0)
                goto out;
            break;
        case OPT_ROOTLESS:
            rootless = true;
            break;
        case OPT_UID_MAP:
            if (idmap_parse_append(&uids, optarg, "--uid-map", err) < 0)
                goto out;
            break;
        case OPT_GID_MAP:
            if (idmap_parse_append(&gids, optarg, "--gid-map", err) < 0)
                goto out;
            break;
        case OPT_MAX_SIZE:
            if (unpack_parse_u64(optarg, "--max-layer-size", &bo.max_layer_bytes, err) < 0)
                goto out;
            break;
        case OPT_MAX_ENTRIES:
            if (unpack_parse_u64(optarg, "--max-layer-entries", &bo.max_layer_entries, err) < 0)
                goto out;
            break;
        case OPT_OVERLAY:
            if (bundle_parse_overlay_option(optarg, &bo.overlay, err) < 0)
                goto out;
            break;
        case 'h':
            unpack_usage(stdout);
            rc = 0;
            goto out;
        default:
            error_set(err, EINVAL, "unpack: unknown or incomplete option \"%s\" (see `hoist unpack --help`)",
                      argv[optind - 1]);
            goto out;
        }
    }
    if (argc - optind != 2) {
        error_set(err, EINVAL, "unpack: expected REF and BUNDLE (see `hoist unpack --help`)");
        goto out;
    }
    {
        const char *ref = argv[optind], *dir = argv[optind + 1];
        if (bo.overlay && (rootless || uids.n || gids.n)) {
            error_set(err, ENOTSUP,
                      "--overlay: the layer cache holds root-owned layers only; it cannot be "
                      "combined with --rootless, --uid-map or --gid-map");
            goto out;
        }
        if (bo.overlay && !bundle_overlay_supported()) {
            error_set(err, ENOTSUP, "--overlay: this kernel has no overlayfs (or hoist is not root)");
            goto out;
        }
        struct layer_owner owner;
        bo.convert.rootless = rootless;
        bo.convert.uid_map = &uids;
        bo.convert.gid_map = &gids;
        /* The config.json mappings are the ones given; the strategy takes a copy. */
        struct idmap u2 = {uids.n ? xmalloc(uids.n * sizeof(*uids.ranges)) : NULL, uids.n};
        struct idmap g2 = {gids.n ? xmalloc(gids.n * sizeof(*gids.ranges)) : NULL, gids.n};
        if (uids.n)
            memcpy(u2.ranges, uids.ranges, uids.n * sizeof(*uids.ranges));
        if (gids.n)
            memcpy(g2.ranges, gids.ranges, gids.n * sizeof(*gids.ranges));
        layer_owner_init(&owner, rootless ? LAYER_OWNER_ROOTLESS : LAYER_OWNER_PRIVILEGED, &u2, &g2);
        bo.owner = &owner;
        rc = bundle_unpack_ref(ctx, ref, platform, dir, &bo, NULL, err);
        layer_owner_release(&owner);
    }
out:
    idmap_release(&uids);
    idmap_release(&gids);
    return rc;
}
