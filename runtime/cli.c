#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"

void cli_reset_getopt(void)
{
    optind = 0; /* 0 makes glibc reinitialise, including the "+" mode */
    opterr = 0;
}

int cli_error_bad_option(const char *command, int argc, char **argv, struct keel_error **err)
{
    const char *bad = (optind > 0 && optind <= argc) ? argv[optind - 1] : "?";
    if (optopt != 0 && strncmp(bad, "--", 2) != 0)
        return error_set(err, 0, "%s: invalid option -%c or missing argument (see `keel %s --help`)", command,
                         optopt, command);
    return error_set(err, 0, "%s: invalid option or missing argument \"%s\" (see `keel %s --help`)", command,
                     bad, command);
}

int cli_validate_id(const char *id, struct keel_error **err)
{
    size_t n = strlen(id);
    if (n == 0)
        return error_set(err, 0, "invalid container ID: empty");
    if (n > 1024)
        return error_set(err, 0, "invalid container ID: longer than 1024 bytes");
    if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return error_set(err, 0, "invalid container ID \"%s\"", id);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)id[i];
        if (!(isalnum(ch) || ch == '_' || ch == '+' || ch == '-' || ch == '.'))
            return error_set(err, 0,
                             "invalid container ID \"%s\": character '%c' is not allowed "
                             "(use letters, digits, '_', '+', '-', '.')",
                             id, ch);
    }
    return 0;
}

int cli_take_id(const char *command, int argc, char **argv, const char **id, struct keel_error **err)
{
    if (optind >= argc)
        return error_set(err, 0, "%s: a container ID is required (see `keel %s --help`)", command, command);
    if (optind + 1 < argc)
        return error_set(err, 0, "%s: unexpected argument \"%s\" after the container ID", command,
                         argv[optind + 1]);
    *id = argv[optind];
    return cli_validate_id(*id, err);
}

int cli_parse_uint(const char *option, const char *value, unsigned long long max, unsigned long long *out,
                   struct keel_error **err)
{
    char *end;
    errno = 0;
    if (value[0] == '-' || value[0] == '\0')
        return error_set(err, 0, "%s: \"%s\" is not a non-negative integer", option, value);
    unsigned long long n = strtoull(value, &end, 10);
    if (*end != '\0' || errno == ERANGE || n > max)
        return error_set(err, 0, "%s: \"%s\" is not an integer from 0 to %llu", option, value, max);
    *out = n;
    return 0;
}
