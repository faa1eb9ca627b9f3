/* hoist rm REF...: remove tags from the store (blobs go with `hoist gc`). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "error.h"
#include "ref.h"
#include "store.h"

int cmd_rm(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"gc", no_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool gc = false;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            gc = true;
            break;
        case 'h':
            printf("Usage: hoist rm [--gc] REFERENCE...\n\nRemove images from the store; --gc also removes\n"
                   "the blobs no other image uses.\n");
            return 0;
        default:
            return error_set(err, 0, "rm: unknown option \"%s\"", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return error_set(err, 0, "rm: expected at least one image reference");
    cleanup_store struct store *s = NULL;
    if (store_open(ctx->store, false, &s, err) < 0)
        return -1;
    for (int i = optind; i < argc; i++) {
        cleanup_ref struct image_ref *ref = NULL;
        if (ref_parse(argv[i], &ref, err) < 0)
            return -1;
        cleanup_free char *name = ref_format(ref);
        if (store_untag(s, name, err) < 0)
            return -1;
        printf("%s\n", name);
    }
    if (gc && store_gc(s, NULL, NULL, err) < 0)
        return -1;
    return 0;
}
