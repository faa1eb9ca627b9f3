/* keel state ID: the runtime-spec state JSON (with runc's extra fields). */
#include <stdio.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "commands.h"
#include "container.h"
#include "error.h"
#include "state.h"

int cmd_state(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    cli_reset_getopt();
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c != 'h')
            return cli_error_bad_option("state", argc, argv, err);
        printf("Usage: keel state ID\n\nPrint the state of a container as JSON.\n");
        return 0;
    }
    const char *id;
    if (cli_take_id("state", argc, argv, &id, err) < 0)
        return -1;
    cleanup_close int dirfd = state_dir_open(ctx->root, id, false, err);
    if (dirfd < 0)
        return -1;
    cleanup_container_state struct container_state *s = NULL;
    if (state_read(dirfd, id, &s, err) < 0)
        return -1;
    cleanup_free char *json = state_oci_json(s, container_status_of(dirfd, s), true, true);
    printf("%s\n", json);
    return 0;
}
