/* hoist login REGISTRY: check credentials and store them in auth.json. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "cleanup.h"
#include "commands.h"
#include "error.h"
#include "fileutil.h"
#include "registry.h"
#include "registry_cli.h"
#include "xalloc.h"

enum { OPT_PASSWORD_STDIN = 1, OPT_GET_LOGIN };

int cmd_login(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        REGISTRY_CLI_OPTIONS,
        {"username", required_argument, NULL, 'u'},
        {"password", required_argument, NULL, 'p'},
        {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
        {"get-login", no_argument, NULL, OPT_GET_LOGIN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct registry_cli rc;
    registry_cli_init(&rc);
    const char *user = NULL, *pass = NULL;
    bool pass_stdin = false, get_login = false;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = registry_cli_getopt(&rc, argc, argv, "hu:p:", opts, err)) != -1) {
        switch (c) {
        case REGISTRY_CLI_BAD:
            return -1;
        case 'u':
            user = optarg;
            break;
        case 'p':
            pass = optarg;
            break;
        case OPT_PASSWORD_STDIN:
            pass_stdin = true;
            break;
        case OPT_GET_LOGIN:
            get_login = true;
            break;
        case 'h':
            printf("Usage: hoist login [OPTIONS] REGISTRY\n\nLog in to a registry: the credentials are "
                   "checked and\n"
                   "stored in auth.json (the file podman uses).\n\nOptions:\n"
                   "  -u, --username USER\n  -p, --password PASS\n  --password-stdin\n"
                   "  --get-login          print the user name stored for REGISTRY\n" REGISTRY_CLI_HELP);
            return 0;
        default:
            return error_set(err, 0, "login: unknown or incomplete option \"%s\"", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return error_set(err, 0, "login: expected exactly one registry (HOST[:PORT])");
    const char *registry = argv[optind];
    if (strncmp(registry, "https://", 8) == 0)
        registry += 8;
    if (strchr(registry, '/'))
        return error_set(err, 0, "login: \"%s\" is not a registry host (HOST[:PORT])", argv[optind]);
    if (get_login) {
        cleanup_free char *u = NULL, *p = NULL;
        int r = auth_lookup(registry, NULL, rc.authfile, &u, &p, err);
        if (r < 0)
            return -1;
        if (r == 1)
            return error_set(err, 0, "not logged in to %s", registry);
        printf("%s\n", u);
        return 0;
    }
    if (rc.creds && (user || pass))
        return error_set(err, 0, "login: --creds and --username/--password are exclusive");
    cleanup_free char *cu = NULL, *cp = NULL;
    if (rc.creds && auth_parse_creds(rc.creds, &cu, &cp, err) < 0)
        return -1;
    if (cu) {
        user = cu;
        pass = cp;
    }
    cleanup_free char *stdin_pass = NULL;
    if (pass_stdin) {
        if (pass)
            return error_set(err, 0, "login: --password and --password-stdin are exclusive");
        size_t len = 0;
        if (fd_read_whole(STDIN_FILENO, "stdin", 65536, &stdin_pass, &len, err) < 0)
            return -1;
        while (len > 0 && (stdin_pass[len - 1] == '\n' || stdin_pass[len - 1] == '\r'))
            stdin_pass[--len] = '\0';
        pass = stdin_pass;
    }
    if (user == NULL || pass == NULL)
        return error_set(err, 0, "login: give --username and --password (or --password-stdin, or --creds)");
    struct registry_options ro;
    registry_options_init(&ro);
    ro.tls_verify = rc.tls_verify;
    ro.cert_dir = rc.cert_dir;
    ro.username = user;
    ro.password = pass;
    ro.log = &ctx->log;
    cleanup_registry struct registry_client *cl = NULL;
    if (registry_open(registry, NULL, &ro, &cl, err) < 0 || registry_check_login(cl, err) < 0)
        return error_prefix(err, "login to %s", registry);
    cleanup_free char *path = auth_default_write_path(rc.authfile);
    if (auth_store(path, registry, user, pass, err) < 0)
        return -1;
    printf("Login Succeeded!\n");
    return 0;
}
