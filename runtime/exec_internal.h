/* Shared by exec.c and exec_process.c (and their unit test). */
#ifndef KEEL_EXEC_INTERNAL_H
#define KEEL_EXEC_INTERNAL_H

#include <yajl/yajl_tree.h>

#include "exec.h"
#include "spec.h"
#include "sync.h"

/* linux.seccomp.listenerPath and listenerMetadata as `create` saw them, kept
 * in the state dir next to the filter (SECCOMP_STATE_FILE) when it notifies:
 * exec hands its process's listener to that agent even once the bundle's
 * config.json is gone or changed (runc uses the config saved at create). */
#define EXEC_LISTENER_FILE "seccomp-listener.json"
int exec_listener_save(int dirfd, const struct spec_seccomp *sc, struct keel_error **err);
/* *path is NULL (and 0 returned) when the file does not exist: a container
 * made by an older keel; the caller then asks config.json. */
int exec_listener_load(int dirfd, char **path, char **metadata, struct keel_error **err);

/* The process JSON for an exec without --process: cfg_process (config.json's
 * "process" object, may be NULL) with o's flags over it. */
int exec_build_process_json(yajl_val cfg_process, const struct exec_opts *o, char **out,
                            struct keel_error **err);
/* --process FILE, or the built JSON, parsed into a spec_process. */
int exec_load_process(const struct spec_config *cfg, const struct exec_opts *o, struct spec_process **out,
                      struct keel_error **err);

#endif
