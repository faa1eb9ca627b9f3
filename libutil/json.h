/* JSON through yajl: parsing with line/column errors, typed access that
 * names the JSON path on a type error, and generation helpers.
 *
 * Paths are written as in the spec documents: "process.args[2]".  Getters
 * produce messages like "process.args[2]: expected a string, got a number";
 * callers prefix the document name ("config.json: "). */
#ifndef KEEL_JSON_H
#define KEEL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

struct keel_error;

/* Parse text (len bytes, need not be NUL-terminated). A syntax error names
 * `name`, the line and the column. */
int json_parse(const char *text, size_t len, const char *name, yajl_val *out, struct keel_error **err);
void json_freep(yajl_val *v);
#define cleanup_json __attribute__((cleanup(json_freep)))

/* "a string", "a number", "an object", ... for messages. */
const char *json_type_name(yajl_val v);

/* Member of an object, or NULL when absent (or v is not an object). */
yajl_val json_object_get(yajl_val obj, const char *key);

/* Each fails with "PATH: expected X, got Y" when the type is wrong. */
int json_expect_object(yajl_val v, const char *path, struct keel_error **err);
int json_expect_array(yajl_val v, const char *path, struct keel_error **err);
int json_get_string(yajl_val v, const char *path, char **out, struct keel_error **err);
int json_get_bool(yajl_val v, const char *path, bool *out, struct keel_error **err);
int json_get_int64(yajl_val v, const char *path, int64_t *out, struct keel_error **err);
/* Range-checked: a negative or too large value names the path and the range. */
int json_get_uint64(yajl_val v, const char *path, uint64_t *out, struct keel_error **err);
int json_get_uint32(yajl_val v, const char *path, uint32_t *out, struct keel_error **err);
int json_get_int32(yajl_val v, const char *path, int32_t *out, struct keel_error **err);
/* An array of strings into a NULL-terminated vector (free with strv_free). */
int json_get_strv(yajl_val v, const char *path, char ***out, struct keel_error **err);

/* Generation. The generator is created with beautify off. */
yajl_gen json_gen_new(bool pretty);
/* A NULL string is generated as null. */
void json_gen_string(yajl_gen g, const char *s);
void json_gen_kv_string(yajl_gen g, const char *key, const char *value);
void json_gen_kv_int(yajl_gen g, const char *key, long long value);
void json_gen_kv_bool(yajl_gen g, const char *key, bool value);
void json_gen_key(yajl_gen g, const char *key);
/* An array of the strings of a NULL-terminated vector; _kv_ emits key first. */
void json_gen_strv(yajl_gen g, const char *const *v);
void json_gen_kv_strv(yajl_gen g, const char *key, const char *const *v);
/* Copy of the generated text (NUL-terminated); the generator keeps its own. */
char *json_gen_dup(yajl_gen g, size_t *len);
/* Re-emit a parsed value into g (for annotations and other opaque maps). */
void json_gen_value(yajl_gen g, yajl_val v);

#endif
