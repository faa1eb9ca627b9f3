/* Shared between the seccomp_*.c files; not part of keel's interface.
 *
 * Building a program goes in two steps so that a cache hit never touches
 * libseccomp's compiler:
 *   seccomp_plan_build():     validate linux.seccomp and resolve every name
 *                             (actions, operators, arches, flags) to numbers;
 *   seccomp_plan_serialize(): canonical text of the plan -> cache key;
 *   seccomp_plan_compile():   libseccomp -> BPF, only on a cache miss.
 * libseccomp itself is loaded only by seccomp_plan_compile() (seccomp_lib.c). */
#ifndef KEEL_SECCOMP_INTERNAL_H
#define KEEL_SECCOMP_INTERNAL_H

#include <linux/filter.h>
#include <seccomp.h>
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
/* Canonical text of everything that decides the BPF, including keel's
 * arch and the identity of the libseccomp that compiles it.  -1 when that
 * identity cannot be known (then the program must not be cached). */
int seccomp_plan_serialize(const struct seccomp_plan *plan, struct strbuf *out);
int seccomp_plan_compile(const struct seccomp_plan *plan, struct seccomp_program **out,
                         struct keel_error **err);

/* The libseccomp functions keel calls, from a dlopen()ed libseccomp (or the
 * linked-in one of a static keel). */
struct seccomp_lib {
    scmp_filter_ctx (*init)(uint32_t def_action);
    int (*arch_add)(scmp_filter_ctx ctx, uint32_t arch_token);
    int (*syscall_resolve_name)(const char *name);
    int (*rule_add_array)(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int arg_cnt,
                          const struct scmp_arg_cmp *arg_array);
    int (*export_bpf)(const scmp_filter_ctx ctx, int fd);
    void (*release)(scmp_filter_ctx ctx);
    const struct scmp_version *(*version)(void);
};
int seccomp_lib_open(struct seccomp_lib *lib, struct keel_error **err);
/* Appends the identity of the libseccomp seccomp_lib_open() would load
 * (file name, device, inode, size, mtime) without loading it; -1 if unknown. */
int seccomp_lib_identity(struct strbuf *out);

/* On-disk form (cache entries and the state-dir copy).  plan (plan_len
 * bytes) is the canonical plan the program was compiled from, stored in
 * cache entries so that a hit is proven byte for byte; the state-dir copy
 * stores none (plan NULL). */
void seccomp_program_encode(const struct seccomp_program *p, const char *plan, size_t plan_len,
                            struct strbuf *out);
/* Verify magic, version, lengths and checksum, and (when plan != NULL)
 * that the stored plan is exactly `plan`. */
int seccomp_program_decode(const char *data, size_t len, const char *plan, size_t plan_len, const char *name,
                           struct seccomp_program **out, struct keel_error **err);

#endif
