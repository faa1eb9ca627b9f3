/* keel spec [--bundle|-b DIR] [--rootless]: write a starter config.json. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "commands.h"
#include "error.h"
#include "fileutil.h"
#include "spec_default.h"
#include "xalloc.h"

static void cmd_spec_usage(void)
{
    printf("Usage: keel spec [--bundle DIR] [--rootless]\n\n"
           "Write a starter config.json (the same as runc's) into the bundle directory.\n"
           "An existing config.json is never overwritten.\n\n"
           "Options:\n"
           "  -b, --bundle DIR  the bundle directory (default: the current directory)\n"
           "  --rootless        a config for a container started by an unprivileged user\n"
           "  -h, --help        print this help\n");
}

int cmd_spec(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    enum { OPT_ROOTLESS = 256 };
    static const struct option opts[] = {
        {"bundle", required_argument, NULL, 'b'},
        {"rootless", no_argument, NULL, OPT_ROOTLESS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *bundle = ".";
    bool rootless = false;
    cli_reset_getopt();
    int c;
    while ((c = getopt_long(argc, argv, "+b:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            bundle = optarg;
            break;
        case OPT_ROOTLESS:
            rootless = true;
            break;
        case 'h':
            cmd_spec_usage();
            return 0;
        default:
            return cli_error_bad_option("spec", argc, argv, err);
        }
    }
    if (optind < argc)
        return error_set(err, 0, "spec: unexpected argument \"%s\" (see `keel spec --help`)", argv[optind]);
    (void)ctx;

    cleanup_free char *path = xasprintf("%s/config.json", bundle);
    size_t len = 0;
    cleanup_free char *text = spec_default_json(rootless, geteuid(), getegid(), &len);
    /* O_EXCL: never replace a config someone edited (runc refuses too). */
    cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        if (errno == EEXIST)
            return error_set(err, 0, "spec: `%s` exists; remove it first", path);
        return error_set(err, errno, "spec: creating `%s`", path);
    }
    int r = fd_write_all(fd, text, len);
    if (r == 0)
        r = fd_write_all(fd, "\n", 1);
    if (r < 0 || close(steal_fd(&fd)) < 0) {
        int saved = r < 0 ? -r : errno;
        unlink(path);
        return error_set(err, saved, "spec: writing `%s`", path);
    }
    return 0;
}
