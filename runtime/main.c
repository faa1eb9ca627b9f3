/* keel: an OCI runtime with runc's command line. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "commands.h"
#include "error.h"
#include "keel.h"
#include "log.h"
#include "seccomp.h"
#include "userns.h"

static const struct keel_command keel_commands[] = {
    {"create", cmd_create, "create a container from a bundle"},
    {"start", cmd_start, "run the process of a created container"},
    {"run", cmd_run, "create and start a container"},
    {"state", cmd_state, "print the state of a container"},
    {"kill", cmd_kill, "send a signal to a container"},
    {"delete", cmd_delete, "delete a container"},
    {"list", cmd_list, "list containers"},
    {"spec", cmd_spec, "write a starter config.json into a bundle"},
    {"features", cmd_features, "print the runtime-spec features document"},
    {"exec", cmd_exec, "run a new process in a running container"},
    {"ps", cmd_ps, "list the processes of a container"},
    {"pause", cmd_pause, "freeze every process of a container"},
    {"resume", cmd_resume, "thaw a paused container"},
    {"update", cmd_update, "change a container's resource limits"},
    {"events", cmd_events, "print a container's statistics and OOM events"},
    {NULL, NULL, NULL},
};

static void keel_print_usage(FILE *out)
{
    fprintf(out, "Usage: keel [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n\n"
                 "keel runs OCI containers; its command line is runc's.\n\nCommands:\n");
    for (const struct keel_command *c = keel_commands; c->name; c++)
        fprintf(out, "  %-12s %s\n", c->name, c->summary);
    fprintf(out, "\nGlobal options:\n"
                 "  --root DIR              state directory (default " KEEL_DEFAULT_ROOT
                 "; $XDG_RUNTIME_DIR/keel when not root)\n"
                 "  --log FILE              write logs to FILE (default: stderr)\n"
                 "  --log-format text|json  log line format (default text)\n"
                 "  --debug                 log debug messages\n"
                 "  --systemd-cgroup        manage cgroups through systemd\n"
                 "  --rootless auto|true|false  rootless mode (default auto)\n"
                 "  -v, --version           print version information\n"
                 "  -h, --help              print this help\n\n"
                 "Examples:\n"
                 "  keel spec && keel run demo         run the bundle in the current directory\n"
                 "  keel create -b /srv/b --pid-file /srv/b/pid c1 && keel start c1\n"
                 "  keel exec -t c1 sh                 a shell in a running container\n"
                 "  keel delete --force c1\n\n"
                 "Run `keel COMMAND --help` for a command's options; man keel for more.\n");
}

static void keel_print_version(void)
{
    unsigned major = 0, minor = 0, micro = 0;
    cleanup_error struct keel_error *err = NULL;
    printf("keel version %s\ncommit: %s\nspec: %s\n", PACKAGE_VERSION, KEEL_GIT_COMMIT, KEEL_OCI_VERSION);
    if (seccomp_library_version(&major, &minor, &micro, &err) == 0)
        printf("libseccomp: %u.%u.%u\n", major, minor, micro);
    else
        printf("libseccomp: unavailable (%s)\n", error_msg(err));
}

static int keel_parse_rootless(const char *s, enum keel_rootless *out, struct keel_error **err)
{
    if (strcmp(s, "auto") == 0)
        *out = KEEL_ROOTLESS_AUTO;
    else if (strcmp(s, "true") == 0)
        *out = KEEL_ROOTLESS_TRUE;
    else if (strcmp(s, "false") == 0)
        *out = KEEL_ROOTLESS_FALSE;
    else
        return error_set(err, 0, "--rootless: \"%s\" is not one of auto, true, false", s);
    return 0;
}

enum { OPT_ROOT = 256, OPT_SYSTEMD_CGROUP, OPT_ROOTLESS, OPT_CRIU };

/* Parses global options; returns the index of the command, or -1 with err.
 * *done is set when --help or --version was handled. */
static int keel_parse_global(struct keel_context *ctx, int argc, char **argv, bool *done,
                             struct keel_error **err)
{
    static const struct option opts[] = {
        {"root", required_argument, NULL, OPT_ROOT},
        LOG_CLI_OPTIONS,
        {"systemd-cgroup", no_argument, NULL, OPT_SYSTEMD_CGROUP},
        {"rootless", required_argument, NULL, OPT_ROOTLESS},
        {"criu", required_argument, NULL, OPT_CRIU},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    struct log_cli lc;
    log_cli_init(&lc);
    cli_reset_getopt();
    int c;
    while ((c = getopt_long(argc, argv, "+hv", opts, NULL)) != -1) {
        int r = log_cli_option(&lc, c, optarg, err);
        if (r < 0)
            return -1;
        if (r == 1)
            continue;
        switch (c) {
        case OPT_ROOT:
            ctx->root = optarg;
            break;
        case OPT_SYSTEMD_CGROUP:
            ctx->systemd_cgroup = true;
            break;
        case OPT_ROOTLESS:
            if (keel_parse_rootless(optarg, &ctx->rootless, err) < 0)
                return -1;
            break;
        case OPT_CRIU:
            /* Accepted for runc compatibility; checkpointing reports its own error. */
            break;
        case 'h':
            keel_print_usage(stdout);
            *done = true;
            return 0;
        case 'v':
            keel_print_version();
            *done = true;
            return 0;
        default:
            return error_set(err, 0, "unknown or incomplete global option \"%s\" (see `keel --help`)",
                             argv[optind - 1]);
        }
    }
    ctx->debug = lc.debug;
    if (log_cli_apply(&lc, &ctx->log, err) < 0)
        return -1;
    if (optind >= argc)
        return error_set(err, 0, "no command given (see `keel --help`)");
    return optind;
}

static const struct keel_command *keel_find_command(const char *name)
{
    for (const struct keel_command *c = keel_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int main(int argc, char **argv)
{
    struct keel_context ctx = {.root = NULL, .rootless = KEEL_ROOTLESS_AUTO, .argv0 = argv[0]};
    cleanup_free char *user_root = NULL;
    log_init_stderr(&ctx.log);
    cleanup_error struct keel_error *err = NULL;
    bool done = false;
    int status;

    int cmd_index = keel_parse_global(&ctx, argc, argv, &done, &err);
    if (cmd_index < 0 || done) {
        status = cmd_index < 0 ? 1 : 0;
        goto out;
    }
    if (!ctx.root) /* unprivileged callers default to $XDG_RUNTIME_DIR/keel, as runc */
        ctx.root =
            geteuid() != 0 && (user_root = userns_rootless_state_root()) ? user_root : KEEL_DEFAULT_ROOT;
    const struct keel_command *cmd = keel_find_command(argv[cmd_index]);
    if (cmd == NULL) {
        error_set(&err, 0, "unknown command \"%s\" (see `keel --help` for the list)", argv[cmd_index]);
        status = 1;
        goto out;
    }
    status = cmd->run(&ctx, argc - cmd_index, argv + cmd_index, &err);
    if (status < 0)
        status = 1;
out:
    if (err)
        log_report_error(&ctx.log, "keel", err->msg);
    log_close(&ctx.log);
    return status;
}
