#include <errno.h>
#include <stdlib.h>

#include "error.h"
#include "unit.h"

static int fails_with_context(struct keel_error **err)
{
    if (error_set(err, ENOENT, "opening `%s`", "/x") < 0)
        return error_prefix(err, "loading config");
    return 0;
}

int main(void)
{
    struct unit_counts c = {0};
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, fails_with_context(&err) == -1);
    CHECK_STREQ(&c, err->msg, "loading config: opening `/x`: No such file or directory");
    CHECK(&c, err->errnum == ENOENT);
    /* Replacing an error frees the old one (checked by ASan/valgrind). */
    error_set(&err, 0, "second");
    CHECK_STREQ(&c, error_msg(err), "second");
    CHECK(&c, err->errnum == 0);
    CHECK(&c, error_set(NULL, EIO, "dropped") == -1);
    CHECK_STREQ(&c, error_msg(NULL), "unknown error");
    return unit_finish(&c);
}
