/* keel start ID */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "container.h"

int cmd_start(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    cli_reset_getopt();
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c != 'h')
            return cli_error_bad_option("start", argc, argv, err);
        printf("Usage: keel start ID\n\nRun the process of a created container.\n");
        return 0;
    }
    const char *id;
    if (cli_take_id("start", argc, argv, &id, err) < 0)
        return -1;
    return container_start(ctx, id, err);
}
