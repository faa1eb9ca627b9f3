/* Shared by exec.c and exec_process.c (and their unit test). */
#ifndef KEEL_EXEC_INTERNAL_H
#define KEEL_EXEC_INTERNAL_H

#include <yajl/yajl_tree.h>

#include "exec.h"
#include "spec.h"
#include "sync.h"

/* exec's own message on the sync socket (sync.h's types are create's):
 * process -> parent, the seccomp listener fd attached, right after the
 * filter is loaded; the parent hands the fd to the agent at listenerPath
 * and answers SYNC_CONTINUE (or kills the process when that fails). */
#define EXEC_SYNC_SECCOMP_LISTENER ((enum sync_type)0x100)

/* The process JSON for an exec without --process: cfg_process (config.json's
 * "process" object, may be NULL) with o's flags over it. */
int exec_build_process_json(yajl_val cfg_process, const struct exec_opts *o, char **out,
                            struct keel_error **err);
/* --process FILE, or the built JSON, parsed into a spec_process. */
int exec_load_process(const struct spec_config *cfg, const struct exec_opts *o, struct spec_process **out,
                      struct keel_error **err);

#endif
