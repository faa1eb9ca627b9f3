/* Allocation that never returns NULL: out of memory aborts with a message.
 * A runtime that cannot allocate a few bytes cannot report anything useful
 * either, so every caller is spared the check (crun makes the same choice). */
#ifndef KEEL_XALLOC_H
#define KEEL_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xzalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

#endif
