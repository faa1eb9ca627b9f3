/* hoist gc: remove blobs no image in the store references, and the layer
 * cache entries (--overlay) no stored image needs and no mount uses. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include "cache.h"
#include "cleanup.h"
#include "commands.h"
#include "error.h"
#include "store.h"

int cmd_gc(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("Usage: hoist gc\n\nRemove blobs and partial downloads no image in the store uses, and layer\n"
                   "cache entries (hoist unpack --overlay) that no stored image needs and no\n"
                   "mounted bundle uses.\n");
            return 0;
        }
        return error_set(err, 0, "gc: unknown option \"%s\"", argv[optind - 1]);
    }
    if (optind != argc)
        return error_set(err, 0, "gc: takes no arguments");
    cleanup_store struct store *s = NULL;
    if (store_open(ctx->store, false, &s, err) < 0)
        return -1;
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
