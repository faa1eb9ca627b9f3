/* hoist copy SRC DST between docker://REF and oci:DIR[:TAG]. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "error.h"
#include "fileutil.h"
#include "platform.h"
#include "pull.h"
#include "ref.h"
#include "registry_cli.h"
#include "xalloc.h"

enum {
    OPT_SRC_CREDS = 1,
    OPT_DEST_CREDS,
    OPT_SRC_TLS,
    OPT_DEST_TLS,
    OPT_SRC_CERT_DIR,
    OPT_DEST_CERT_DIR,
    OPT_AUTHFILE,
    OPT_ALL,
    OPT_PLATFORM,
    OPT_CHUNK,
    OPT_MOUNT_FROM,
};

struct copy_location {
    bool docker;
    char *ref; /* docker: the reference */
    char *dir; /* oci: the layout */
    char *tag; /* oci: the tag, NULL when absent */
};

static void location_clear(struct copy_location *l)
{
    free(l->ref);
    free(l->dir);
    free(l->tag);
}

static int location_parse(const char *s, struct copy_location *out, struct keel_error **err)
{
    memset(out, 0, sizeof(*out));
    if (strncmp(s, "docker://", 9) == 0) {
        out->docker = true;
        out->ref = xstrdup(s + 9);
        return 0;
    }
    if (strncmp(s, "oci:", 4) == 0) {
        const char *rest = s + 4;
        /* A tag may hold '/' and ':' (a store's full ref names do): split at
         * the first ':' that ends an existing OCI layout, else after the
         * last '/'. */
        const char *colon = NULL;
        for (const char *p = strchr(rest, ':'); p && !colon; p = strchr(p + 1, ':')) {
            cleanup_free char *dir = xstrndup(rest, (size_t)(p - rest));
            cleanup_free char *marker = xasprintf("%s/oci-layout", dir);
            if (fs_exists(marker))
                colon = p;
        }
        if (colon == NULL) {
            const char *slash = strrchr(rest, '/');
            colon = strchr(slash ? slash : rest, ':');
        }
        out->dir = colon ? xstrndup(rest, (size_t)(colon - rest)) : xstrdup(rest);
        out->tag = colon && colon[1] ? xstrdup(colon + 1) : NULL;
        if (out->dir[0] == '\0')
            return error_set(err, 0, "copy: \"%s\": the OCI layout directory is empty", s);
        return 0;
    }
    return error_set(err, 0, "copy: \"%s\": expected docker://REFERENCE or oci:DIR[:TAG]", s);
}

static int parse_size(const char *s, int64_t *out, struct keel_error **err)
{
    char *end;
    long long n = strtoll(s, &end, 10);
    long long mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mult = 1024 * 1024, end++;
    if (*end || n < 0 || n > (1LL << 40) / mult)
        return error_set(err, 0, "--chunk-size: \"%s\" is not a size (N, Nk, Nm)", s);
    *out = n * mult;
    return 0;
}

int cmd_copy(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"src-creds", required_argument, NULL, OPT_SRC_CREDS},
        {"dest-creds", required_argument, NULL, OPT_DEST_CREDS},
        {"src-tls-verify", required_argument, NULL, OPT_SRC_TLS},
        {"dest-tls-verify", required_argument, NULL, OPT_DEST_TLS},
        {"src-cert-dir", required_argument, NULL, OPT_SRC_CERT_DIR},
        {"dest-cert-dir", required_argument, NULL, OPT_DEST_CERT_DIR},
        {"authfile", required_argument, NULL, OPT_AUTHFILE},
        {"all", no_argument, NULL, OPT_ALL},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"chunk-size", required_argument, NULL, OPT_CHUNK},
        {"mount-from", required_argument, NULL, OPT_MOUNT_FROM},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct pull_options src, dst;
    pull_options_init(&src);
    pull_options_init(&dst);
    cleanup_platform struct oci_platform *platform = NULL;
    int64_t chunk = 0;
    const char *mount_from = NULL;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case OPT_SRC_CREDS:
            src.creds = optarg;
            break;
        case OPT_DEST_CREDS:
            dst.creds = optarg;
            break;
        case OPT_SRC_TLS:
            if (parse_bool_arg("--src-tls-verify", optarg, &src.tls_verify, err) < 0)
                return -1;
            break;
        case OPT_DEST_TLS:
            if (parse_bool_arg("--dest-tls-verify", optarg, &dst.tls_verify, err) < 0)
                return -1;
            break;
        case OPT_SRC_CERT_DIR:
            src.cert_dir = optarg;
            break;
        case OPT_DEST_CERT_DIR:
            dst.cert_dir = optarg;
            break;
        case OPT_AUTHFILE:
            src.authfile = dst.authfile = optarg;
            break;
        case OPT_ALL:
            src.all_platforms = true;
            break;
        case OPT_PLATFORM:
            if (platform_parse_option(optarg, &platform, err) < 0)
                return -1;
            break;
        case OPT_CHUNK:
            if (parse_size(optarg, &chunk, err) < 0)
                return -1;
            break;
        case OPT_MOUNT_FROM:
            mount_from = optarg;
            break;
        case 'q':
            src.quiet = dst.quiet = true;
            break;
        case 'h':
            printf("Usage: hoist copy [OPTIONS] SOURCE DESTINATION\n\n"
                   "Copy an image between docker://REFERENCE and oci:DIR[:TAG].\n\nOptions:\n"
                   "  --src-creds, --dest-creds USER[:PASS]\n"
                   "  --src-tls-verify, --dest-tls-verify BOOL\n"
                   "  --src-cert-dir, --dest-cert-dir DIR\n"
                   "  --authfile FILE\n"
                   "  --all                copy every platform of an index\n"
                   "  --platform OS/ARCH[/VARIANT]\n"
                   "  --chunk-size N[k|m]  upload blobs in chunks of this size (default: one request)\n"
                   "  --mount-from REPO    mount blobs from this repository of the destination registry\n"
                   "  -q, --quiet\n");
            return 0;
        default:
            return error_set(err, 0, "copy: unknown or incomplete option \"%s\"", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return error_set(err, 0, "copy: expected SOURCE and DESTINATION");
    src.platform = platform;
    struct copy_location from, to;
    if (location_parse(argv[optind], &from, err) < 0)
        return -1;
    if (location_parse(argv[optind + 1], &to, err) < 0) {
        location_clear(&from);
        return -1;
    }
    int r;
    cleanup_free char *digest = NULL;
    if (from.docker && !to.docker) {
        cleanup_ref struct image_ref *ref = NULL;
        r = ref_parse(from.ref, &ref, err);
        if (r == 0)
            r = pull_image_to(ctx, to.dir, from.ref, to.tag ? to.tag : (ref->tag ? ref->tag : "latest"), &src,
                              &digest, err);
    } else if (!from.docker && to.docker) {
        r = push_image(ctx, from.dir, from.tag, to.ref, &dst, mount_from, chunk, &digest, err);
    } else if (from.docker && to.docker) {
        /* Through a temporary layout: verified on the way in, then pushed. */
        char tmpl[] = "/var/tmp/hoist-copy.XXXXXX";
        if (mkdtemp(tmpl) == NULL) {
            r = error_set(err, errno, "creating a temporary directory");
        } else {
            r = pull_image_to(ctx, tmpl, from.ref, "copy", &src, NULL, err);
            if (r == 0)
                r = push_image(ctx, tmpl, "copy", to.ref, &dst, mount_from, chunk, &digest, err);
            cleanup_error struct keel_error *ignored = NULL;
            (void)fs_remove_tree(tmpl, &ignored);
        }
    } else {
        r = error_set(err, 0, "copy: between two OCI layouts, use cp -r");
    }
    location_clear(&from);
    location_clear(&to);
    if (r < 0)
        return -1;
    if (!src.quiet)
        printf("%s\n", digest);
    return 0;
}
