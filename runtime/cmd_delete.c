/* keel delete [--force|-f] ID */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "container.h"
#include "error.h"
#include "state.h"

int cmd_delete(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool force = false;
    cli_reset_getopt();
    int c;
    while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
        if (c == 'f') {
            force = true;
            continue;
        }
        if (c != 'h')
            return cli_error_bad_option("delete", argc, argv, err);
        printf("Usage: keel delete [--force] ID\n\n"
               "Delete a stopped (or created) container; --force kills a running one first.\n");
        return 0;
    }
    const char *id;
    if (cli_take_id("delete", argc, argv, &id, err) < 0)
        return -1;
    return container_delete(ctx, id, force, err);
}
