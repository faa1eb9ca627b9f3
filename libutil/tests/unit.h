/* A minimal unit-test harness: CHECK() records a failure and goes on,
 * unit_finish() prints "N passed, N failed" and gives the exit status
 * automake expects (0 pass, 1 fail, 77 skip). */
#ifndef KEEL_UNIT_H
#define KEEL_UNIT_H

#include <stdio.h>
#include <string.h>

struct unit_counts {
    int passed;
    int failed;
};

#define CHECK(counts, cond)                                                                                  \
    do {                                                                                                     \
        if (cond) {                                                                                          \
            (counts)->passed++;                                                                              \
        } else {                                                                                             \
            (counts)->failed++;                                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                         \
        }                                                                                                    \
    } while (0)

#define CHECK_STREQ(counts, a, b)                                                                            \
    do {                                                                                                     \
        const char *unit_a_ = (a), *unit_b_ = (b);                                                           \
        if (unit_a_ && unit_b_ && strcmp(unit_a_, unit_b_) == 0) {                                           \
            (counts)->passed++;                                                                              \
        } else {                                                                                             \
            (counts)->failed++;                                                                              \
            fprintf(stderr, "%s:%d: CHECK_STREQ failed:\n  got:  %s\n  want: %s\n", __FILE__, __LINE__,      \
                    unit_a_ ? unit_a_ : "(null)", unit_b_ ? unit_b_ : "(null)");                             \
        }                                                                                                    \
    } while (0)

static inline int unit_finish(const struct unit_counts *c)
{
    printf("%d passed, %d failed\n", c->passed, c->failed);
    return c->failed ? 1 : 0;
}

#endif
