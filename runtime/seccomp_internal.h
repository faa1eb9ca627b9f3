/* Shared between the seccomp_*.c files; not part of keel's interface.
 *
 * Building a program goes in two steps so that a cache hit never touches
 * libseccomp's compiler:
 *   seccomp_plan_build():     validate linux.seccomp and resolve every name
 *                             (actions, operators, arches, flags) to numbers;
 *   seccomp_plan_serialize(): canonical text of the plan -> cache key;
 *   seccomp_plan_compile():   libseccomp -> BPF, only on a cache miss. */
#ifndef KEEL_SECCOMP_INTERNAL_H
#define KEEL_SECCOMP_INTERNAL_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seccomp.h"
#include "strbuf.h"

struct spec_seccomp;

struct seccomp_program {
    struct sock_filter *insns;
    size_t n_insns;
    unsigned flags; /* SECCOMP_FILTER_FLAG_* without NEW_LISTENER */
    bool notify;
    bool compiled;
};

/* One comparison; op is an enum scmp_compare value. */
struct seccomp_plan_arg {
    unsigned index;
    int op;
    uint64_t value, value_two;
};

/* One libseccomp rule (a spec entry whose args repeat an index becomes one
 * rule per arg, as runc and crun do, so that they OR instead of AND). */
struct seccomp_plan_rule {
    size_t spec_index;        /* for messages: linux.seccomp.syscalls[N] */
    uint32_t action;          /* SCMP_ACT_* with its data */
    const char *const *names; /* borrowed from the spec */
    struct seccomp_plan_arg args[6];
    size_t n_args;
};

struct seccomp_plan {
    uint32_t default_action;
    uint32_t *arches; /* SCMP_ARCH_* tokens */
    size_t n_arches;
    unsigned flags;
    bool notify;
    struct seccomp_plan_rule *rules;
    size_t n_rules;
};

int seccomp_plan_build(const struct spec_seccomp *s, struct seccomp_plan *plan, struct keel_error **err);
void seccomp_plan_release(struct seccomp_plan *plan);
#define cleanup_seccomp_plan __attribute__((cleanup(seccomp_plan_release)))
/* Canonical text of everything that decides the BPF, including the native
 * arch and the libseccomp version. */
void seccomp_plan_serialize(const struct seccomp_plan *plan, struct strbuf *out);
int seccomp_plan_compile(const struct seccomp_plan *plan, struct seccomp_program **out,
                         struct keel_error **err);

/* On-disk form (cache entries and the state-dir copy). */
void seccomp_program_encode(const struct seccomp_program *p, const char *key, struct strbuf *out);
/* Verify magic, length, checksum and (when key != NULL) the key. */
int seccomp_program_decode(const char *data, size_t len, const char *key, const char *name,
                           struct seccomp_program **out, struct keel_error **err);

#endif
