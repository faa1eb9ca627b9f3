/* keel create [--bundle DIR] [--console-socket PATH] [--pid-file PATH]
 *             [--no-pivot] [--no-new-keyring] [--preserve-fds N] ID */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "container.h"
#include "error.h"

enum { OPT_CONSOLE = 256, OPT_PIDFILE, OPT_NOPIVOT, OPT_NOKEYRING, OPT_PRESERVE, OPT_DETACH_IGNORED };

static const struct option create_opts[] = {
    {"bundle", required_argument, NULL, 'b'},
    {"console-socket", required_argument, NULL, OPT_CONSOLE},
    {"pid-file", required_argument, NULL, OPT_PIDFILE},
    {"no-pivot", no_argument, NULL, OPT_NOPIVOT},
    {"no-new-keyring", no_argument, NULL, OPT_NOKEYRING},
    {"preserve-fds", required_argument, NULL, OPT_PRESERVE},
    {"detach", no_argument, NULL, 'd'},
    {"keep", no_argument, NULL, OPT_DETACH_IGNORED},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cmd_parse_create_options(const char *command, int argc, char **argv, struct container_create_opts *o,
                             bool *detach, bool *keep, bool *help, struct keel_error **err)
{
    cli_reset_getopt();
    int c;
    while ((c = getopt_long(argc, argv, "+b:dh", create_opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->bundle = optarg;
            break;
        case OPT_CONSOLE:
            o->console_socket = optarg;
            break;
        case OPT_PIDFILE:
            o->pid_file = optarg;
            break;
        case OPT_NOPIVOT:
            o->no_pivot = true;
            break;
        case OPT_NOKEYRING:
            o->no_new_keyring = true;
            break;
        case OPT_PRESERVE: {
            unsigned long long n;
            if (cli_parse_uint("--preserve-fds", optarg, 4096, &n, err) < 0)
                return -1;
            o->preserve_fds = (unsigned)n;
            break;
        }
        case 'd':
            if (!detach)
                return error_set(err, 0, "%s: unknown option --detach", command);
            *detach = true;
            break;
        case OPT_DETACH_IGNORED:
            if (!keep)
                return error_set(err, 0, "%s: unknown option --keep", command);
            *keep = true;
            break;
        case 'h':
            *help = true;
            return 0;
        default:
            return cli_error_bad_option(command, argc, argv, err);
        }
    }
    return cli_take_id(command, argc, argv, &o->id, err);
}

int cmd_create(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    struct container_create_opts o = {0};
    bool help = false;
    if (cmd_parse_create_options("create", argc, argv, &o, NULL, NULL, &help, err) < 0)
        return -1;
    if (help) {
        printf("Usage: keel create [OPTIONS] ID\n\n"
               "Create a container from a bundle; `keel start ID` runs its process.\n\n"
               "  -b, --bundle DIR         bundle directory (default: current directory)\n"
               "  --console-socket PATH    send the pty master to this unix socket\n"
               "  --pid-file PATH          write the container's pid here\n"
               "  --no-pivot               use MS_MOVE + chroot instead of pivot_root\n"
               "  --no-new-keyring         keep the caller's session keyring\n"
               "  --preserve-fds N         pass N extra fds (from fd 3) to the container\n");
        return 0;
    }
    struct container_created out;
    if (container_create(ctx, &o, &out, err) < 0)
        return -1;
    close(out.lock_fd);
    return 0;
}
