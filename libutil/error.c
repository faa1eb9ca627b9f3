/* error.h states the return value to the analyzer with macros; not here,
 * where the functions are defined. */
#define KEEL_ERROR_IMPL
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "xalloc.h"

int error_setv(struct keel_error **err, int errnum, const char *fmt, va_list ap)
{
    if (err == NULL)
        return -1;
    char *text = xvasprintf(fmt, ap);
    if (errnum != 0) {
        char *full = xasprintf("%s: %s", text, strerror(errnum));
        free(text);
        text = full;
    }
    error_free(*err);
    *err = xmalloc(sizeof(**err));
    (*err)->errnum = errnum;
    (*err)->msg = text;
    return -1;
}

int error_set(struct keel_error **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_setv(err, errnum, fmt, ap);
    va_end(ap);
    return -1;
}

int error_prefix(struct keel_error **err, const char *fmt, ...)
{
    if (err == NULL || *err == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    char *ctx = xvasprintf(fmt, ap);
    va_end(ap);
    char *full = xasprintf("%s: %s", ctx, (*err)->msg);
    free(ctx);
    free((*err)->msg);
    (*err)->msg = full;
    return -1;
}

void error_free(struct keel_error *err)
{
    if (err == NULL)
        return;
    free(err->msg);
    free(err);
}

void error_freep(struct keel_error **err)
{
    error_free(*err);
    *err = NULL;
}

const char *error_msg(const struct keel_error *err)
{
    return err && err->msg ? err->msg : "unknown error";
}
