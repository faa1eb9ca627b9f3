#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "json.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

static const char *const level_names[] = {"debug", "info", "warning", "error"};

void log_init_stderr(struct keel_log *log)
{
    log->fd = STDERR_FILENO;
    log->to_stderr = true;
    log->format = LOG_FORMAT_TEXT;
    log->min_level = LOG_LEVEL_INFO;
}

int log_open_file(struct keel_log *log, const char *path, struct keel_error **err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return error_set(err, errno, "opening log file `%s`", path);
    if (!log->to_stderr)
        close(log->fd);
    log->fd = fd;
    log->to_stderr = false;
    return 0;
}

int log_parse_format(const char *s, enum log_format *out, struct keel_error **err)
{
    if (strcmp(s, "text") == 0)
        *out = LOG_FORMAT_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = LOG_FORMAT_JSON;
    else
        return error_set(err, 0, "--log-format: unknown format \"%s\" (expected text or json)", s);
    return 0;
}

void log_cli_init(struct log_cli *o)
{
    o->path = NULL;
    o->format = LOG_FORMAT_TEXT;
    o->debug = false;
}

int log_cli_option(struct log_cli *o, int c, const char *arg, struct keel_error **err)
{
    switch (c) {
    case LOG_OPT_LOG:
        o->path = arg;
        return 1;
    case LOG_OPT_LOG_FORMAT:
        return log_parse_format(arg, &o->format, err) < 0 ? -1 : 1;
    case LOG_OPT_DEBUG:
        o->debug = true;
        return 1;
    default:
        return 0;
    }
}

int log_cli_apply(const struct log_cli *o, struct keel_log *log, struct keel_error **err)
{
    if (o->path && log_open_file(log, o->path, err) < 0)
        return -1;
    log->format = o->format;
    if (o->debug)
        log->min_level = LOG_LEVEL_DEBUG;
    return 0;
}

void log_close(struct keel_log *log)
{
    if (!log->to_stderr && log->fd >= 0)
        close(log->fd);
    log_init_stderr(log);
}

static void log_format_time(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%09ldZ", ts.tv_nsec);
}

static void log_quote_text(struct strbuf *sb, const char *s)
{
    strbuf_putc(sb, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            strbuf_putc(sb, '\\');
        if (*s == '\n') {
            strbuf_puts(sb, "\\n");
            continue;
        }
        strbuf_putc(sb, *s);
    }
    strbuf_putc(sb, '"');
}

char *log_format_line(enum log_format format, enum log_level level, const char *msg)
{
    char when[64];
    log_format_time(when, sizeof(when));
    if (format == LOG_FORMAT_JSON) {
        yajl_gen g = yajl_gen_alloc(NULL);
        yajl_gen_map_open(g);
        json_gen_kv_string(g, "level", level_names[level]);
        json_gen_kv_string(g, "msg", msg);
        json_gen_kv_string(g, "time", when);
        yajl_gen_map_close(g);
        const unsigned char *out;
        size_t len;
        yajl_gen_get_buf(g, &out, &len);
        char *line = xmalloc(len + 2);
        memcpy(line, out, len);
        line[len] = '\n';
        line[len + 1] = '\0';
        yajl_gen_free(g);
        return line;
    }
    struct strbuf sb = STRBUF_INIT;
    strbuf_printf(&sb, "time=\"%s\" level=%s msg=", when, level_names[level]);
    log_quote_text(&sb, msg);
    strbuf_putc(&sb, '\n');
    return strbuf_detach(&sb);
}

void log_write(const struct keel_log *log, enum log_level level, const char *fmt, ...)
{
    if (level < log->min_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    cleanup_free char *line = log_format_line(log->format, level, msg);
    /* A log that cannot be written has nowhere to report to. */
    (void)fd_write_all(log->fd, line, strlen(line));
}

void log_report_error(const struct keel_log *log, const char *prog, const char *msg)
{
    bool json_on_stderr = log->to_stderr && log->format == LOG_FORMAT_JSON;
    if (!log->to_stderr || json_on_stderr)
        log_write(log, LOG_LEVEL_ERROR, "%s", msg);
    if (!json_on_stderr)
        fprintf(stderr, "%s: %s\n", prog, msg);
}
