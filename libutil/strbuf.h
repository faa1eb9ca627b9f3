/* A growable string.  Invariant: after any call, buf is NUL-terminated and
 * len is strlen-compatible (embedded NULs allowed when appended with a
 * length).  A zeroed struct (STRBUF_INIT) is a valid empty buffer. */
#ifndef KEEL_STRBUF_H
#define KEEL_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    char *buf;
    size_t len;
    size_t cap;
};
#define STRBUF_INIT {NULL, 0, 0}

void strbuf_append(struct strbuf *sb, const void *data, size_t n);
void strbuf_puts(struct strbuf *sb, const char *s);
void strbuf_putc(struct strbuf *sb, char c);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap);
void strbuf_reset(struct strbuf *sb);
/* Returns the string (never NULL) and leaves sb empty. */
char *strbuf_detach(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
#define cleanup_strbuf __attribute__((cleanup(strbuf_release)))

#endif
