/* Shared by the spec_parse_*.c files only: typed access to optional JSON
 * members that builds the JSON path ("process.user.uid") for messages.
 *
 * Every getter treats an absent member and JSON null alike (as Go's
 * encoding/json does, which is what produced most configs in the wild):
 * the output is left untouched and 0 is returned.  `base` is the path of
 * the object ("process.user"), or "" at the top of a document. */
#ifndef KEEL_SPEC_INTERNAL_H
#define KEEL_SPEC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "json.h"
#include "spec.h"

struct keel_error;

/* "base.key", or "key" when base is empty (caller frees). */
char *spec_path_join(const char *base, const char *key);
/* "base[i]" (caller frees). */
char *spec_path_index(const char *base, size_t i);

/* For each member of an object, whether a later member has the same key:
 * the last duplicate wins, as in Go's encoding/json (caller frees). */
bool *spec_superseded_keys(yajl_val obj);

/* Member of an object, NULL when absent or null; the last of duplicates. */
yajl_val spec_member(yajl_val obj, const char *key);

int spec_opt_string(yajl_val obj, const char *base, const char *key, char **out, struct keel_error **err);
int spec_opt_bool(yajl_val obj, const char *base, const char *key, bool *out, struct keel_error **err);
int spec_opt_strv(yajl_val obj, const char *base, const char *key, char ***out, struct keel_error **err);
int spec_opt_i64(yajl_val obj, const char *base, const char *key, struct opt_i64 *out,
                 struct keel_error **err);
int spec_opt_u64(yajl_val obj, const char *base, const char *key, struct opt_u64 *out,
                 struct keel_error **err);
int spec_opt_tribool(yajl_val obj, const char *base, const char *key, struct opt_bool *out,
                     struct keel_error **err);
int spec_opt_u32(yajl_val obj, const char *base, const char *key, uint32_t *out, struct keel_error **err);
int spec_opt_raw_i64(yajl_val obj, const char *base, const char *key, int64_t *out, struct keel_error **err);
/* A required member: absence is "PATH: missing required field". */
int spec_req_string(yajl_val obj, const char *base, const char *key, char **out, struct keel_error **err);
int spec_req_u32(yajl_val obj, const char *base, const char *key, uint32_t *out, struct keel_error **err);
int spec_req_i64(yajl_val obj, const char *base, const char *key, int64_t *out, struct keel_error **err);
int spec_req_u64(yajl_val obj, const char *base, const char *key, uint64_t *out, struct keel_error **err);

/* An object of string -> string. */
int spec_opt_kv(yajl_val obj, const char *base, const char *key, struct spec_kv_list *out,
                struct keel_error **err);
/* An array of {containerID, hostID, size}. */
int spec_opt_id_mappings(yajl_val obj, const char *base, const char *key, struct spec_id_mapping **out,
                         size_t *n, struct keel_error **err);
/* The object at obj[key] when present; fails when it is not an object. */
int spec_opt_object(yajl_val obj, const char *base, const char *key, yajl_val *out, struct keel_error **err);
/* The array at obj[key] when present (else *out = NULL); fails when not an array. */
int spec_opt_array(yajl_val obj, const char *base, const char *key, yajl_val *out, struct keel_error **err);

/* Checks a NULL-terminated vector against a name table (NULL-terminated);
 * an unknown entry fails with "PATH[i]: unknown WHAT \"name\"". */
int spec_check_names(char *const *v, const char *const *table, const char *path, const char *what,
                     struct keel_error **err);
int spec_check_name(const char *s, const char *const *table, const char *path, const char *what,
                    struct keel_error **err);
/* A required string member that must be one of table's names. */
int spec_req_name(yajl_val obj, const char *base, const char *key, const char *const *table, const char *what,
                  char **out, struct keel_error **err);

/* Parse a whole document (config.json, --process, --resources) that must be
 * a JSON object; name names it in errors. */
int spec_parse_json_object(const char *text, size_t len, const char *name, yajl_val *tree,
                           struct keel_error **err);

/* The per-area parsers; `base` as above. */
int spec_parse_process_obj(yajl_val v, const char *base, struct spec_process **out, struct keel_error **err);
int spec_parse_linux_obj(yajl_val v, const char *base, struct spec_linux **out, struct keel_error **err);
int spec_parse_resources_obj(yajl_val v, const char *base, struct spec_resources *out,
                             struct keel_error **err);
int spec_parse_seccomp_obj(yajl_val v, const char *base, struct spec_seccomp **out, struct keel_error **err);
void spec_resources_clear(struct spec_resources *r);
/* The fields keel parses but does not implement are refused (spec_unsupported.c). */
int spec_check_supported(const struct spec_config *cfg, struct keel_error **err);
void spec_seccomp_free(struct spec_seccomp *s);
void spec_linux_free(struct spec_linux *l);

#endif
