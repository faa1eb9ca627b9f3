#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "json.h"
#include "unit.h"

int main(void)
{
    struct unit_counts c = {0};
    cleanup_error struct keel_error *err = NULL;
    yajl_val v = NULL;

    const char *bad = "{\n  \"a\": 1,\n  \"b\": [1, 2,, 3]\n}";
    CHECK(&c, json_parse(bad, strlen(bad), "config.json", &v, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "config.json: invalid JSON at line 3, column") != NULL);

    const char *good = "{\"s\":\"x\",\"n\":-5,\"u\":4294967296,\"b\":true,\"arr\":[\"a\",\"b\"],\"mixed\":[\"a\",3]}";
    CHECK(&c, json_parse(good, strlen(good), "t", &v, &err) == 0);
    cleanup_free char *s = NULL;
    CHECK(&c, json_get_string(json_object_get(v, "s"), "s", &s, &err) == 0);
    CHECK_STREQ(&c, s, "x");
    uint64_t u;
    CHECK(&c, json_get_uint64(json_object_get(v, "n"), "n", &u, &err) < 0);
    CHECK_STREQ(&c, err->msg, "n: -5 is negative (expected 0 to 18446744073709551615)");
    uint32_t u32;
    CHECK(&c, json_get_uint32(json_object_get(v, "u"), "u", &u32, &err) < 0);
    CHECK(&c, strstr(err->msg, "too large") != NULL);
    bool b = false;
    CHECK(&c, json_get_bool(json_object_get(v, "b"), "b", &b, &err) == 0 && b);
    cleanup_strv char **arr = NULL;
    CHECK(&c, json_get_strv(json_object_get(v, "arr"), "arr", &arr, &err) == 0);
    CHECK(&c, strv_len(arr) == 2);
    cleanup_strv char **mixed = NULL;
    CHECK(&c, json_get_strv(json_object_get(v, "mixed"), "process.args", &mixed, &err) < 0);
    CHECK_STREQ(&c, err->msg, "process.args[1]: expected a string, got a number");
    CHECK(&c, json_object_get(v, "missing") == NULL);

    yajl_gen g = json_gen_new(false);
    json_gen_value(g, v);
    cleanup_free char *out = json_gen_dup(g, NULL);
    yajl_gen_free(g);
    CHECK(&c, strstr(out, "\"u\":4294967296") != NULL);
    json_freep(&v);

    CHECK(&c, json_parse("{\"a\":\"b\\u0000\"}", 15, "t", &v, &err) == 0 || err != NULL);
    json_freep(&v);
    yajl_gen g2 = json_gen_new(false);
    yajl_gen_map_open(g2);
    json_gen_kv_string(g2, "owner", NULL);
    yajl_gen_map_close(g2);
    cleanup_free char *nul = json_gen_dup(g2, NULL);
    yajl_gen_free(g2);
    CHECK_STREQ(&c, nul, "{\"owner\":null}");

    /* Deep nesting is refused before yajl's recursive tree builder runs. */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    CHECK(&c, json_parse(deep, 2 * depth, "manifest", &v, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "manifest: invalid JSON at line 1, column 257: nested deeper than 256") != NULL);
    free(deep);
    /* Comments are not JSON; a '/' inside a string is fine. */
    const char *comment = "{\"a\": 1 /* no */}";
    CHECK(&c, json_parse(comment, strlen(comment), "auth.json", &v, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "auth.json: invalid JSON at line 1") != NULL);
    const char *slash_in_string = "{\"path\": \"/a/b\"}";
    CHECK(&c, json_parse(slash_in_string, strlen(slash_in_string), "t", &v, &err) == 0);
    json_freep(&v);

    static const char *const caps[] = {"CAP_KILL", "a\"b", NULL};
    static const char *const none[] = {NULL};
    g = json_gen_new(false);
    yajl_gen_map_open(g);
    json_gen_kv_strv(g, "caps", caps);
    json_gen_kv_strv(g, "none", none);
    json_gen_key(g, "bare");
    json_gen_strv(g, caps);
    yajl_gen_map_close(g);
    cleanup_free char *arrays = json_gen_dup(g, NULL);
    yajl_gen_free(g);
    CHECK_STREQ(&c, arrays,
                "{\"caps\":[\"CAP_KILL\",\"a\\\"b\"],\"none\":[],\"bare\":[\"CAP_KILL\",\"a\\\"b\"]}");
    return unit_finish(&c);
}
