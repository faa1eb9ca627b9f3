#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "cleanup.h"
#include "error.h"
#include "json.h"
#include "xalloc.h"

static void json_offset_to_line_col(const char *text, size_t offset, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* Nesting limit: yajl's tree builder recurses per level, so a document of
 * a few thousand '[' overflows the stack. 256 is far beyond any real
 * config, manifest or auth file. */
#define JSON_MAX_DEPTH 256

/* Refuse documents nested deeper than JSON_MAX_DEPTH, naming the place, and
 * note whether a '/' stands outside a string (a comment, which yajl's tree
 * parser would accept and JSON does not). */
static int json_check_depth(const char *text, size_t len, const char *name, bool *slash, struct keel_error **err)
{
    *slash = false;
    unsigned depth = 0;
    size_t line = 1, col = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        col++;
        if (ch == '\n') {
            line++;
            col = 0;
        }
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (ch == '\\')
                escaped = true;
            else if (ch == '"')
                in_string = false;
            continue;
        }
        if (ch == '"') {
            in_string = true;
        } else if (ch == '/') {
            *slash = true;
        } else if (ch == '[' || ch == '{') {
            if (++depth > JSON_MAX_DEPTH)
                return error_set(err, 0, "%s: invalid JSON at line %zu, column %zu: nested deeper than %u levels",
                                 name, line, col, JSON_MAX_DEPTH);
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

/* Validate with yajl's stream parser, which refuses comments and locates a
 * syntax error by line and column (yajl_tree_parse reports no position). */
static int json_check_syntax(const char *text, size_t len, const char *name, struct keel_error **err)
{
    yajl_handle h = yajl_alloc(NULL, NULL, NULL);
    yajl_status st = yajl_parse(h, (const unsigned char *)text, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    if (st == yajl_status_ok) {
        yajl_free(h);
        return 0;
    }
    size_t off = yajl_get_bytes_consumed(h);
    unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)text, len);
    size_t line, col;
    json_offset_to_line_col(text, off > len ? len : off, &line, &col);
    cleanup_free char *m = xstrdup((const char *)msg);
    yajl_free_error(h, msg);
    yajl_free(h);
    size_t ml = strlen(m);
    while (ml > 0 && (m[ml - 1] == '\n' || m[ml - 1] == ' '))
        m[--ml] = '\0';
    return error_set(err, 0, "%s: invalid JSON at line %zu, column %zu: %s", name, line, col, m);
}

int json_parse(const char *text, size_t len, const char *name, yajl_val *out, struct keel_error **err)
{
    bool slash = false;
    if (json_check_depth(text, len, name, &slash, err) < 0)
        return -1;
    cleanup_free char *copy = xstrndup(text, len);
    if (strlen(copy) != len)
        return error_set(err, 0, "%s: invalid JSON: contains a NUL byte", name);
    /* A good document takes one pass; the stream check runs first only when
     * a '/' could be a comment, and otherwise only to explain a failure. */
    if (slash && json_check_syntax(text, len, name, err) < 0)
        return -1;
    char ebuf[256] = "";
    yajl_val v = yajl_tree_parse(copy, ebuf, sizeof(ebuf));
    if (v != NULL) {
        *out = v;
        return 0;
    }
    if (!slash && json_check_syntax(text, len, name, err) < 0)
        return -1;
    return error_set(err, 0, "%s: invalid JSON: %s", name, ebuf[0] ? ebuf : "parse error");
}

void json_freep(yajl_val *v)
{
    if (*v)
        yajl_tree_free(*v);
    *v = NULL;
}

const char *json_type_name(yajl_val v)
{
    if (v == NULL)
        return "nothing";
    switch (v->type) {
    case yajl_t_string:
        return "a string";
    case yajl_t_number:
        return "a number";
    case yajl_t_object:
        return "an object";
    case yajl_t_array:
        return "an array";
    case yajl_t_true:
    case yajl_t_false:
        return "a boolean";
    case yajl_t_null:
        return "null";
    default:
        return "an unknown value";
    }
}

yajl_val json_object_get(yajl_val obj, const char *key)
{
    if (obj == NULL || !YAJL_IS_OBJECT(obj))
        return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return obj->u.object.values[i];
    return NULL;
}

static int json_type_error(yajl_val v, const char *path, const char *want, struct keel_error **err)
{
    return error_set(err, 0, "%s: expected %s, got %s", path, want, json_type_name(v));
}

int json_expect_object(yajl_val v, const char *path, struct keel_error **err)
{
    return YAJL_IS_OBJECT(v) ? 0 : json_type_error(v, path, "an object", err);
}

int json_expect_array(yajl_val v, const char *path, struct keel_error **err)
{
    return YAJL_IS_ARRAY(v) ? 0 : json_type_error(v, path, "an array", err);
}

int json_get_string(yajl_val v, const char *path, char **out, struct keel_error **err)
{
    if (!YAJL_IS_STRING(v))
        return json_type_error(v, path, "a string", err);
    *out = xstrdup(v->u.string);
    return 0;
}

int json_get_bool(yajl_val v, const char *path, bool *out, struct keel_error **err)
{
    if (YAJL_IS_TRUE(v))
        *out = true;
    else if (YAJL_IS_FALSE(v))
        *out = false;
    else
        return json_type_error(v, path, "a boolean", err);
    return 0;
}

int json_get_int64(yajl_val v, const char *path, int64_t *out, struct keel_error **err)
{
    if (!YAJL_IS_NUMBER(v))
        return json_type_error(v, path, "an integer", err);
    if (!YAJL_IS_INTEGER(v))
        return error_set(err, 0, "%s: expected an integer, got %s", path, v->u.number.r);
    *out = v->u.number.i;
    return 0;
}

int json_get_uint64(yajl_val v, const char *path, uint64_t *out, struct keel_error **err)
{
    if (!YAJL_IS_NUMBER(v))
        return json_type_error(v, path, "an integer", err);
    const char *raw = v->u.number.r;
    if (raw[0] == '-')
        return error_set(err, 0, "%s: %s is negative (expected 0 to %" PRIu64 ")", path, raw, UINT64_MAX);
    char *end;
    errno = 0;
    unsigned long long n = strtoull(raw, &end, 10);
    if (*end != '\0')
        return error_set(err, 0, "%s: expected an integer, got %s", path, raw);
    if (errno == ERANGE)
        return error_set(err, 0, "%s: %s is too large (at most %" PRIu64 ")", path, raw, UINT64_MAX);
    *out = n;
    return 0;
}

int json_get_uint32(yajl_val v, const char *path, uint32_t *out, struct keel_error **err)
{
    uint64_t n = 0;
    if (json_get_uint64(v, path, &n, err) < 0)
        return -1;
    if (n > UINT32_MAX)
        return error_set(err, 0, "%s: %" PRIu64 " is too large (at most %" PRIu32 ")", path, n, UINT32_MAX);
    *out = (uint32_t)n;
    return 0;
}

int json_get_int32(yajl_val v, const char *path, int32_t *out, struct keel_error **err)
{
    int64_t n = 0;
    if (json_get_int64(v, path, &n, err) < 0)
        return -1;
    if (n < INT32_MIN || n > INT32_MAX)
        return error_set(err, 0, "%s: %" PRId64 " is out of range (%d to %d)", path, n, INT32_MIN, INT32_MAX);
    *out = (int32_t)n;
    return 0;
}

int json_get_strv(yajl_val v, const char *path, char ***out, struct keel_error **err)
{
    if (json_expect_array(v, path, err) < 0)
        return -1;
    size_t n = v->u.array.len;
    cleanup_strv char **vec = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        yajl_val item = v->u.array.values[i];
        if (!YAJL_IS_STRING(item))
            return error_set(err, 0, "%s[%zu]: expected a string, got %s", path, i, json_type_name(item));
        vec[i] = xstrdup(item->u.string);
    }
    *out = steal_ptr(&vec);
    return 0;
}

yajl_gen json_gen_new(bool pretty)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL)
        abort();
    yajl_gen_config(g, yajl_gen_beautify, pretty ? 1 : 0);
    if (pretty)
        yajl_gen_config(g, yajl_gen_indent_string, "\t");
    return g;
}

void json_gen_string(yajl_gen g, const char *s)
{
    /* A missing value (say, a field an older state.json lacks) is JSON null,
     * never a crash. */
    if (s == NULL) {
        yajl_gen_null(g);
        return;
    }
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

void json_gen_key(yajl_gen g, const char *key)
{
    json_gen_string(g, key);
}

void json_gen_kv_string(yajl_gen g, const char *key, const char *value)
{
    json_gen_string(g, key);
    json_gen_string(g, value);
}

void json_gen_strv(yajl_gen g, const char *const *v)
{
    yajl_gen_array_open(g);
    for (size_t i = 0; v[i]; i++)
        json_gen_string(g, v[i]);
    yajl_gen_array_close(g);
}

void json_gen_kv_strv(yajl_gen g, const char *key, const char *const *v)
{
    json_gen_string(g, key);
    json_gen_strv(g, v);
}

void json_gen_kv_int(yajl_gen g, const char *key, long long value)
{
    json_gen_string(g, key);
    yajl_gen_integer(g, value);
}

void json_gen_kv_bool(yajl_gen g, const char *key, bool value)
{
    json_gen_string(g, key);
    yajl_gen_bool(g, value);
}

char *json_gen_dup(yajl_gen g, size_t *len)
{
    const unsigned char *buf;
    size_t n;
    yajl_gen_get_buf(g, &buf, &n);
    if (len)
        *len = n;
    return xstrndup((const char *)buf, n);
}

void json_gen_value(yajl_gen g, yajl_val v)
{
    if (v == NULL) {
        yajl_gen_null(g);
        return;
    }
    switch (v->type) {
    case yajl_t_string:
        json_gen_string(g, v->u.string);
        break;
    case yajl_t_number:
        yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
        break;
    case yajl_t_object:
        yajl_gen_map_open(g);
        for (size_t i = 0; i < v->u.object.len; i++) {
            json_gen_string(g, v->u.object.keys[i]);
            json_gen_value(g, v->u.object.values[i]);
        }
        yajl_gen_map_close(g);
        break;
    case yajl_t_array:
        yajl_gen_array_open(g);
        for (size_t i = 0; i < v->u.array.len; i++)
            json_gen_value(g, v->u.array.values[i]);
        yajl_gen_array_close(g);
        break;
    case yajl_t_true:
        yajl_gen_bool(g, 1);
        break;
    case yajl_t_false:
        yajl_gen_bool(g, 0);
        break;
    default:
        yajl_gen_null(g);
        break;
    }
}
