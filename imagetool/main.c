/* hoist: pulls OCI/Docker images into an OCI layout and makes bundles. */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "error.h"
#include "hoist.h"
#include "log.h"
#include "xalloc.h"

static const struct hoist_command hoist_commands[] = {
    {"run", cmd_run, "run an image with keel (pull, unpack, run, --rm)"},
    {"unpack", cmd_unpack, "make a runtime bundle (rootfs + config.json) from an image"},
    {"pull", cmd_pull, "pull an image from a registry into the store"},
    {"images", cmd_images, "list the images in the store"},
    {"inspect", cmd_inspect, "show an image's manifest and config (store or registry)"},
    {"rm", cmd_rm, "remove images from the store"},
    {"gc", cmd_gc, "remove blobs no image in the store uses"},
    {"fsck", cmd_fsck, "check the store: every blob present, with the right digest and size"},
    {"tags", cmd_tags, "list a repository's tags"},
    {"login", cmd_login, "log in to a registry (stores credentials in auth.json)"},
    {"logout", cmd_logout, "remove stored registry credentials"},
    {"copy", cmd_copy, "copy an image between docker://REF and oci:DIR[:TAG] (push included)"},
    {NULL, NULL, NULL},
};

static void hoist_print_usage(FILE *out)
{
    fprintf(out, "Usage: hoist [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n\n"
                 "hoist pulls images from OCI/Docker registries into a local OCI layout\n"
                 "and unpacks them into bundles that keel runs.\n\nCommands:\n");
    for (const struct hoist_command *c = hoist_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nGlobal options:\n"
                 "  --store DIR             image store (default /var/lib/hoist as root,\n"
                 "                          $XDG_DATA_HOME/hoist otherwise)\n"
                 "  --log FILE              write logs to FILE (default: stderr)\n"
                 "  --log-format text|json  log line format\n"
                 "  --debug                 log debug messages\n"
                 "  -v, --version           print version information\n"
                 "  -h, --help              print this help\n\n"
                 "Examples:\n"
                 "  hoist run --rm docker.io/library/busybox echo hi\n"
                 "  hoist pull docker.io/library/alpine:3.19\n"
                 "  hoist unpack docker.io/library/alpine:3.19 /srv/alpine && cd /srv/alpine && keel run a1\n\n"
                 "Run `hoist COMMAND --help` for a command's options; man hoist for more.\n");
}

enum { OPT_STORE = 256 };

static int hoist_parse_global(struct hoist_context *ctx, int argc, char **argv, bool *done,
                              struct keel_error **err)
{
    static const struct option opts[] = {
        LOG_CLI_OPTIONS,
        {"store", required_argument, NULL, OPT_STORE},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    struct log_cli lc;
    log_cli_init(&lc);
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+hv", opts, NULL)) != -1) {
        int r = log_cli_option(&lc, c, optarg, err);
        if (r < 0)
            return -1;
        if (r == 1)
            continue;
        switch (c) {
        case OPT_STORE:
            ctx->store = optarg;
            break;
        case 'h':
            hoist_print_usage(stdout);
            *done = true;
            return 0;
        case 'v':
            printf("hoist version %s\ncommit: %s\n", PACKAGE_VERSION, KEEL_GIT_COMMIT);
            *done = true;
            return 0;
        default:
            return error_set(err, 0, "unknown or incomplete global option \"%s\" (see `hoist --help`)",
                             argv[optind - 1]);
        }
    }
    ctx->debug = lc.debug;
    if (log_cli_apply(&lc, &ctx->log, err) < 0)
        return -1;
    if (optind >= argc)
        return error_set(err, 0, "no command given (see `hoist --help`)");
    return optind;
}

int main(int argc, char **argv)
{
    struct hoist_context ctx = {.argv0 = argv[0]};
    /* A peer that closes its end (a credential helper that failed to start,
     * a registry gone mid-upload) must give an error, not kill hoist
     * without a word: writes then fail with EPIPE and are reported. */
    signal(SIGPIPE, SIG_IGN);
    log_init_stderr(&ctx.log);
    cleanup_error struct keel_error *err = NULL;
    cleanup_free char *default_store = NULL;
    bool done = false;
    int status;

    int cmd_index = hoist_parse_global(&ctx, argc, argv, &done, &err);
    if (cmd_index < 0 || done) {
        status = cmd_index < 0 ? 1 : 0;
        goto out;
    }
    if (ctx.store == NULL) {
        const char *xdg = getenv("XDG_DATA_HOME");
        const char *home = getenv("HOME");
        if (geteuid() == 0)
            ctx.store = "/var/lib/hoist";
        else {
            default_store = xdg && xdg[0] ? xasprintf("%s/hoist", xdg)
                                          : xasprintf("%s/.local/share/hoist", home ? home : "");
            ctx.store = default_store;
        }
    }
    const struct hoist_command *cmd = NULL;
    for (const struct hoist_command *c = hoist_commands; c->name; c++)
        if (strcmp(c->name, argv[cmd_index]) == 0)
            cmd = c;
    if (cmd == NULL) {
        error_set(&err, 0, "unknown command \"%s\" (see `hoist --help` for the list)", argv[cmd_index]);
        status = 1;
        goto out;
    }
    status = cmd->run(&ctx, argc - cmd_index, argv + cmd_index, &err);
    if (status < 0)
        status = 1;
out:
    if (err)
        log_report_error(&ctx.log, "hoist", err->msg);
    log_close(&ctx.log);
    return status;
}
