/* hoist logout REGISTRY: forget stored credentials. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "cleanup.h"
#include "commands.h"
#include "error.h"
#include "fileutil.h"
#include "registry_cli.h"

int cmd_logout(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"authfile", required_argument, NULL, REGISTRY_OPT_AUTHFILE},
        {"all", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    (void)ctx;
    const char *authfile = NULL;
    bool all = false;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "ha", opts, NULL)) != -1) {
        switch (c) {
        case REGISTRY_OPT_AUTHFILE:
            authfile = optarg;
            break;
        case 'a':
            all = true;
            break;
        case 'h':
            printf("Usage: hoist logout [--authfile FILE] REGISTRY | --all\n");
            return 0;
        default:
            return error_set(err, 0, "logout: unknown or incomplete option \"%s\"", argv[optind - 1]);
        }
    }
    cleanup_free char *path = auth_default_write_path(authfile);
    if (all) {
        if (optind != argc)
            return error_set(err, 0, "logout: --all takes no registry");
        if (fs_exists(path) &&
            file_write_atomic(path, "{\"auths\":{}}\n", strlen("{\"auths\":{}}\n"), 0600, err) < 0)
            return -1;
        printf("Removed login credentials for all registries\n");
        return 0;
    }
    if (argc - optind != 1)
        return error_set(err, 0, "logout: expected exactly one registry");
    const char *registry = argv[optind];
    if (strncmp(registry, "https://", 8) == 0)
        registry += 8;
    bool found = false;
    if (auth_remove(path, registry, &found, err) < 0)
        return -1;
    if (!found)
        return error_set(err, 0, "not logged in to %s (in `%s`)", registry, path);
    printf("Removed login credentials for %s\n", registry);
    return 0;
}
