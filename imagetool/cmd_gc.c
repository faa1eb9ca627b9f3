/* hoist gc: remove blobs no image in the store references, and the layer
 * cache entries (--overlay) no stored image needs and no mount uses.
 * --verify runs fsck first: a damaged store is reported and left as it is
 * (which blobs are reachable cannot be told through a corrupt manifest). */
#include <getopt.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>

#include "cache.h"
#include "cleanup.h"
#include "cmd_fsck.h"
#include "commands.h"
#include "error.h"
#include "store.h"

enum { OPT_VERIFY = 256 };

int cmd_gc(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"verify", no_argument, NULL, OPT_VERIFY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool verify = false;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == OPT_VERIFY) {
            verify = true;
            continue;
        }
        if (c == 'h') {
            printf("Usage: hoist gc [--verify]\n\nRemove blobs and partial downloads no image in the store "
                   "uses, and layer\n"
                   "cache entries (hoist unpack --overlay) that no stored image needs and no\n"
                   "mounted bundle uses.\n\nOptions:\n"
                   "  --verify    run `hoist fsck` first: hash every blob and check every image's\n"
                   "              references; a damaged store is reported (exit 1) and not collected\n"
                   "  -h, --help  this help\n");
            return 0;
        }
        return error_set(err, 0, "gc: unknown option \"%s\"", argv[optind - 1]);
    }
    if (optind != argc)
        return error_set(err, 0, "gc: takes no arguments");
    cleanup_store struct store *s = NULL;
    if (store_open(ctx->store, false, &s, err) < 0)
        return -1;
    if (verify) {
        struct store_fsck_options o = {.exclusive = true};
        struct store_fsck_report rep = {0};
        int r = store_fsck(s, &o, &rep, err);
        if (r == 0) {
            fsck_print_report(&rep, stdout);
            fflush(stdout);
            r = fsck_verdict(ctx->store, &rep, false, false, err);
        }
        store_fsck_report_release(&rep);
        if (r < 0)
            return error_prefix(err, "gc --verify (nothing removed)");
    }
    size_t removed = 0;
    uint64_t freed = 0;
    if (store_gc(s, &removed, &freed, err) < 0)
        return -1;
    size_t cache_removed = 0;
    if (layer_cache_gc(s, &cache_removed, err) < 0)
        return error_prefix(err, "gc: layer cache");
    printf("removed %zu files, %" PRIu64 " bytes; %zu layer cache entries\n", removed, freed, cache_removed);
    return 0;
}
