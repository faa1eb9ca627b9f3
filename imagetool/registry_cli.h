/* Command-line options every registry-facing hoist command shares:
 * --tls-verify[=BOOL], --cert-dir, --creds, --authfile. */
#ifndef KEEL_HOIST_REGISTRY_CLI_H
#define KEEL_HOIST_REGISTRY_CLI_H

#include <getopt.h>
#include <stdbool.h>

struct keel_error;
struct keel_log;
struct registry_options;
struct pull_options;

enum {
    REGISTRY_OPT_TLS_VERIFY = 1000,
    REGISTRY_OPT_CERT_DIR,
    REGISTRY_OPT_CREDS,
    REGISTRY_OPT_AUTHFILE,
};

#define REGISTRY_CLI_OPTIONS                                                                                 \
    {"tls-verify", optional_argument, NULL, REGISTRY_OPT_TLS_VERIFY},                                        \
        {"cert-dir", required_argument, NULL, REGISTRY_OPT_CERT_DIR},                                        \
        {"creds", required_argument, NULL, REGISTRY_OPT_CREDS},                                              \
    {                                                                                                        \
        "authfile", required_argument, NULL, REGISTRY_OPT_AUTHFILE                                           \
    }

#define REGISTRY_CLI_HELP                                                                                    \
    "  --tls-verify=BOOL    verify TLS certificates (default true; false also allows plain HTTP)\n"          \
    "  --cert-dir DIR       CA certificates (*.crt) and client certificate (*.cert, *.key)\n"                \
    "  --creds USER[:PASS]  credentials for the registry\n"                                                  \
    "  --authfile FILE      auth.json to read credentials from\n"

struct registry_cli {
    bool tls_verify;
    const char *cert_dir;
    const char *creds;
    const char *authfile;
};

void registry_cli_init(struct registry_cli *o);
/* Handle option c (from getopt_long); 1 = handled, 0 = not ours, -1 = bad value. */
int registry_cli_option(struct registry_cli *o, int c, const char *arg, struct keel_error **err);
/* getopt_long that takes the registry options itself: returns the next other
 * option as getopt_long does (-1 at the end), or REGISTRY_CLI_BAD with err
 * for a bad registry option value. The caller resets optind first. */
#define REGISTRY_CLI_BAD (-2)
int registry_cli_getopt(struct registry_cli *o, int argc, char **argv, const char *shortopts,
                        const struct option *longopts, struct keel_error **err);
/* Copy the parsed options into po (the rest of po is left as it is). */
void registry_cli_to_pull(const struct registry_cli *o, struct pull_options *po);
/* Initialise ro with the parsed options; log (may be NULL) gets debug lines. */
void registry_cli_to_options(const struct registry_cli *o, const struct keel_log *log,
                             struct registry_options *ro);
/* "true"/"false"/"1"/"0"/"yes"/"no". */
int parse_bool_arg(const char *opt, const char *s, bool *out, struct keel_error **err);

#endif
