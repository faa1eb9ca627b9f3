/* The one error type of keel and hoist.
 *
 * Convention (docs/errors.md): a fallible function returns an int, negative
 * on failure, and fills *err.  The caller either returns the failure as is
 * or prepends context with error_prefix():
 *     "creating cgroup `/sys/fs/cgroup/x`: Permission denied"
 * Library code never prints; main prints the final message once.
 */
#ifndef KEEL_ERROR_H
#define KEEL_ERROR_H

#include <stdarg.h>

struct keel_error {
    int errnum; /* errno of the root cause, 0 when there is none */
    char *msg;  /* the full, human-readable message */
};

/* Fill *err with fmt, followed by ": strerror(errnum)" when errnum != 0.
 * Returns -1 so that `return error_set(err, errno, ...)` reads naturally.
 * An error already in *err is replaced. err may be NULL (error dropped). */
int error_set(struct keel_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int error_setv(struct keel_error **err, int errnum, const char *fmt, va_list ap);

/* Prepend "CONTEXT: " to the message in *err (which must be set). Returns -1. */
int error_prefix(struct keel_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void error_free(struct keel_error *err);
void error_freep(struct keel_error **err);
#define cleanup_error __attribute__((cleanup(error_freep)))

/* Message of an error, or "unknown error" for NULL. */
const char *error_msg(const struct keel_error *err);

/* For clang-tidy's analyzer only (never compiled): state the contract above,
 * that these always return -1.  Otherwise the analyzer, which does not see
 * error.c, follows `if (f() < 0)` as false after `return error_set(...)` and
 * reports the unwritten outputs of that impossible path. */
#if defined(__clang_analyzer__) && !defined(KEEL_ERROR_IMPL)
static inline int error_analyzer_failed(int ignored)
{
    (void)ignored;
    return -1;
}
#define error_set(...) error_analyzer_failed(error_set(__VA_ARGS__))
#define error_setv(...) error_analyzer_failed(error_setv(__VA_ARGS__))
#define error_prefix(...) error_analyzer_failed(error_prefix(__VA_ARGS__))
#endif

#endif
