/* keel kill [--all|-a] ID [SIGNAL] */
#include <signal.h>
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "container.h"
#include "error.h"

int cmd_kill(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool all = false;
    cli_reset_getopt();
    int c;
    while ((c = getopt_long(argc, argv, "+ah", opts, NULL)) != -1) {
        if (c == 'a') {
            all = true;
            continue;
        }
        if (c != 'h')
            return cli_error_bad_option("kill", argc, argv, err);
        printf("Usage: keel kill [--all] ID [SIGNAL]\n\n"
               "Send SIGNAL (name or number, default SIGTERM) to the container's init;\n"
               "with --all to every process in its cgroup.\n");
        return 0;
    }
    int sig = SIGTERM;
    if (optind + 2 == argc) {
        if (signal_parse(argv[optind + 1], &sig, err) < 0)
            return -1;
        argc--;
    }
    const char *id;
    if (cli_take_id("kill", argc, argv, &id, err) < 0)
        return -1;
    return container_kill(ctx, id, sig, all, err);
}
