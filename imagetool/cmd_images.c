/* hoist images: what the store holds. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "error.h"
#include "json.h"
#include "store.h"
#include "xalloc.h"

int cmd_images(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false, quiet = false;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "qhf:", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "json") == 0)
                json = true;
            else if (strcmp(optarg, "table") != 0)
                return error_set(err, 0, "images: --format \"%s\" is not supported (json or table)", optarg);
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            printf("Usage: hoist images [--format json|table] [-q]\n\nList the images in the store.\n");
            return 0;
        default:
            return error_set(err, 0, "images: unknown or incomplete option \"%s\"", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return error_set(err, 0, "images: takes no arguments");
    cleanup_store struct store *s = NULL;
    if (store_open(ctx->store, false, &s, err) < 0) {
        if (err && *err && (*err)->errnum == ENOENT) {
            error_freep(err);
            if (json)
                printf("[]\n");
            else if (!quiet)
                printf("%-60s %-19s %s\n", "REFERENCE", "DIGEST", "TYPE");
            return 0;
        }
        return -1;
    }
    struct store_entry *e = NULL;
    size_t n = 0;
    if (store_list(s, &e, &n, err) < 0)
        return -1;
    if (json) {
        yajl_gen g = json_gen_new(true);
        yajl_gen_array_open(g);
        for (size_t i = 0; i < n; i++) {
            yajl_gen_map_open(g);
            if (e[i].ref_name)
                json_gen_kv_string(g, "name", e[i].ref_name);
            json_gen_kv_string(g, "digest", e[i].desc.digest);
            json_gen_kv_string(g, "mediaType", e[i].desc.media_type);
            json_gen_kv_int(g, "size", e[i].desc.size);
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
        cleanup_free char *out = json_gen_dup(g, NULL);
        yajl_gen_free(g);
        printf("%s\n", out);
    } else {
        if (!quiet)
            printf("%-60s %-19s %s\n", "REFERENCE", "DIGEST", "TYPE");
        for (size_t i = 0; i < n; i++) {
            const char *d = e[i].desc.digest;
            const char *colon = strchr(d, ':');
            if (quiet) {
                printf("%s\n", e[i].ref_name ? e[i].ref_name : d);
                continue;
            }
            const char *mt = e[i].desc.media_type;
            const char *kind = strstr(mt, "index") || strstr(mt, "list") ? "index" : "manifest";
            printf("%-60s %-19.12s %s\n", e[i].ref_name ? e[i].ref_name : "<none>", colon ? colon + 1 : d,
                   kind);
        }
    }
    store_entries_free(e, n);
    return 0;
}
