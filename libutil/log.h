/* runc-compatible logging: `--log FILE`, `--log-format text|json`, `--debug`.
 *
 * JSON lines are {"level":"error","msg":"...","time":"RFC3339"}; conmon and
 * containerd's shim read the last error's msg from the file.  Text lines are
 * logrus' format: time="..." level=error msg="...".
 * The logger is a value owned by main and passed down: no global state. */
#ifndef KEEL_LOG_H
#define KEEL_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARNING, LOG_LEVEL_ERROR };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

struct keel_log {
    int fd;                  /* where lines go; 2 when no --log was given */
    bool to_stderr;          /* fd is the caller's stderr */
    enum log_format format;
    enum log_level min_level; /* LOG_LEVEL_DEBUG with --debug, else INFO */
};

/* A logger writing text to stderr, the state before options are parsed. */
void log_init_stderr(struct keel_log *log);
/* Open FILE (append, create 0600) as the log destination. */
struct keel_error;
int log_open_file(struct keel_log *log, const char *path, struct keel_error **err);
int log_parse_format(const char *s, enum log_format *out, struct keel_error **err);
void log_close(struct keel_log *log);

/* The global options --log, --log-format and --debug, which keel and hoist
 * share: list LOG_CLI_OPTIONS in the getopt_long table, offer every option
 * to log_cli_option first, then call log_cli_apply once parsing is done. */
enum { LOG_OPT_LOG = 0x4c00, LOG_OPT_LOG_FORMAT, LOG_OPT_DEBUG };
#define LOG_CLI_OPTIONS                                                                                      \
    {"log", required_argument, NULL, LOG_OPT_LOG},                                                           \
        {"log-format", required_argument, NULL, LOG_OPT_LOG_FORMAT},                                         \
    {                                                                                                        \
        "debug", no_argument, NULL, LOG_OPT_DEBUG                                                            \
    }

struct log_cli {
    const char *path; /* --log FILE, or NULL for stderr */
    enum log_format format;
    bool debug;
};

void log_cli_init(struct log_cli *o);
/* Take getopt_long's result c: 1 = it was a log option, 0 = not one, -1 = bad --log-format value. */
int log_cli_option(struct log_cli *o, int c, const char *arg, struct keel_error **err);
/* Open the --log file (if any) and set the format and level on log. */
int log_cli_apply(const struct log_cli *o, struct keel_log *log, struct keel_error **err);

void log_write(const struct keel_log *log, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define log_debug(l, ...) log_write((l), LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(l, ...) log_write((l), LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(l, ...) log_write((l), LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_error(l, ...) log_write((l), LOG_LEVEL_ERROR, __VA_ARGS__)

/* Report a command's final error: to the log file as an error line (where
 * engines read it) and to stderr as "PROG: MSG" (where a person reads it).
 * A JSON log on stderr itself gets only the JSON line, for the program
 * reading it. */
void log_report_error(const struct keel_log *log, const char *prog, const char *msg);

/* Render one line (without writing it), for tests and for children that
 * forward lines to the parent. Caller frees. */
char *log_format_line(enum log_format format, enum log_level level, const char *msg);

#endif
