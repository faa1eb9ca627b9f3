/* keel features: print the runtime-spec features.json document. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "cleanup.h"
#include "cli.h"
#include "commands.h"
#include "error.h"
#include "keel_features.h"

int cmd_features(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    (void)ctx;
    cli_reset_getopt();
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("Usage: keel features\n\n"
                   "Print the runtime-spec features document (features.json): the spec versions,\n"
                   "hooks, mount options, namespaces, capabilities, cgroup and seccomp support keel\n"
                   "implements.\n");
            return 0;
        }
        return cli_error_bad_option("features", argc, argv, err);
    }
    if (optind < argc)
        return error_set(err, 0, "features: unexpected argument \"%s\" (see `keel features --help`)",
                         argv[optind]);
    size_t len = 0;
    cleanup_free char *text = features_json(&len);
    if (fwrite(text, 1, len, stdout) != len || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
        return error_set(err, errno, "features: writing to stdout");
    return 0;
}
