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
