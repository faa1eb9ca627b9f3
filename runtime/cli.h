/* Helpers every command's option parsing shares. */
#ifndef KEEL_CLI_H
#define KEEL_CLI_H

#include <getopt.h>
#include <stdbool.h>

struct keel_error;

/* Reset getopt for a command's own parse (argv[0] is the command name). */
void cli_reset_getopt(void);

/* The error for an option getopt rejected, with a hint to --help. */
int cli_error_bad_option(const char *command, int argc, char **argv, struct keel_error **err);

/* Exactly one positional container ID at argv[optind]; validated with
 * cli_validate_id.  Extra arguments are an error naming the command. */
int cli_take_id(const char *command, int argc, char **argv, const char **id, struct keel_error **err);

/* runc's rule: IDs match ^[\w+-\.]+$ and are at most 1024 bytes;
 * "." and ".." are refused because they name directories. */
int cli_validate_id(const char *id, struct keel_error **err);

/* Parse a non-negative decimal integer option value, naming the option. */
int cli_parse_uint(const char *option, const char *value, unsigned long long max, unsigned long long *out,
                   struct keel_error **err);

#endif
