/* hoist tags REPO: the repository's tags, from the registry. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "error.h"
#include "json.h"
#include "ref.h"
#include "registry.h"
#include "registry_cli.h"

int cmd_tags(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        REGISTRY_CLI_OPTIONS,
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct registry_cli rc;
    registry_cli_init(&rc);
    bool json = false;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = registry_cli_getopt(&rc, argc, argv, "hf:", opts, err)) != -1) {
        switch (c) {
        case REGISTRY_CLI_BAD:
            return -1;
        case 'f':
            if (strcmp(optarg, "json") == 0)
                json = true;
            else if (strcmp(optarg, "text") != 0)
                return error_set(err, 0, "tags: --format \"%s\" is not supported (json or text)", optarg);
            break;
        case 'h':
            printf("Usage: hoist tags [OPTIONS] REPOSITORY\n\nList a repository's tags.\n\nOptions:\n"
                   "  --format json|text\n" REGISTRY_CLI_HELP);
            return 0;
        default:
            return error_set(err, 0, "tags: unknown or incomplete option \"%s\"", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return error_set(err, 0, "tags: expected exactly one repository");
    cleanup_ref struct image_ref *ref = NULL;
    if (ref_parse_repository(argv[optind], &ref, err) < 0)
        return -1;
    struct registry_options ro;
    registry_cli_to_options(&rc, &ctx->log, &ro);
    cleanup_registry struct registry_client *cl = NULL;
    if (registry_open(ref->registry, ref->repository, &ro, &cl, err) < 0)
        return -1;
    cleanup_strv char **tags = NULL;
    if (registry_list_tags(cl, &tags, err) < 0)
        return -1;
    if (json) {
        yajl_gen g = json_gen_new(true);
        yajl_gen_map_open(g);
        cleanup_free char *repo = ref_format_repository(ref);
        json_gen_kv_string(g, "Repository", repo);
        json_gen_kv_strv(g, "Tags", (const char *const *)tags);
        yajl_gen_map_close(g);
        cleanup_free char *out = json_gen_dup(g, NULL);
        yajl_gen_free(g);
        printf("%s\n", out);
    } else {
        for (size_t i = 0; tags[i]; i++)
            printf("%s\n", tags[i]);
    }
    return 0;
}
