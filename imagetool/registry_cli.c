/* Shared registry options of hoist's commands. */
#include <string.h>
#include <strings.h>

#include "error.h"
#include "pull.h"
#include "registry.h"
#include "registry_cli.h"

void registry_cli_init(struct registry_cli *o)
{
    memset(o, 0, sizeof(*o));
    o->tls_verify = true;
}

void registry_cli_to_pull(const struct registry_cli *o, struct pull_options *po)
{
    po->tls_verify = o->tls_verify;
    po->cert_dir = o->cert_dir;
    po->creds = o->creds;
    po->authfile = o->authfile;
}

void registry_cli_to_options(const struct registry_cli *o, const struct keel_log *log,
                             struct registry_options *ro)
{
    struct pull_options po;
    pull_options_init(&po);
    registry_cli_to_pull(o, &po);
    pull_registry_options(&po, log, ro);
}

int parse_bool_arg(const char *opt, const char *s, bool *out, struct keel_error **err)
{
    if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcasecmp(s, "yes") == 0)
        *out = true;
    else if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0 || strcasecmp(s, "no") == 0)
        *out = false;
    else
        return error_set(err, 0, "%s: \"%s\" is not a boolean (true or false)", opt, s);
    return 0;
}

int registry_cli_option(struct registry_cli *o, int c, const char *arg, struct keel_error **err)
{
    switch (c) {
    case REGISTRY_OPT_TLS_VERIFY:
        if (arg == NULL) {
            o->tls_verify = true;
            return 1;
        }
        return parse_bool_arg("--tls-verify", arg, &o->tls_verify, err) < 0 ? -1 : 1;
    case REGISTRY_OPT_CERT_DIR:
        o->cert_dir = arg;
        return 1;
    case REGISTRY_OPT_CREDS:
        o->creds = arg;
        return 1;
    case REGISTRY_OPT_AUTHFILE:
        o->authfile = arg;
        return 1;
    default:
        return 0;
    }
}

int registry_cli_getopt(struct registry_cli *o, int argc, char **argv, const char *shortopts,
                        const struct option *longopts, struct keel_error **err)
{
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        int r = registry_cli_option(o, c, optarg, err);
        if (r < 0)
            return REGISTRY_CLI_BAD;
        if (r == 0)
            return c;
    }
    return -1;
}
