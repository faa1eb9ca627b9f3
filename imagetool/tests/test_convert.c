/* Image config parsing and its conversion to config.json. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "convert.h"
#include "error.h"
#include "fileutil.h"
#include "imageconfig.h"
#include "json.h"
#include "unit.h"
#include "xalloc.h"

static const char *const good_config =
    "{\"architecture\":\"arm64\",\"variant\":\"v8\",\"os\":\"linux\",\"created\":\"2024-01-01T00:00:00Z\","
    "\"config\":{\"User\":\"app\",\"Env\":[\"PATH=/x\",\"A=1\"],\"Entrypoint\":[\"/"
    "e\"],\"Cmd\":[\"c1\",\"c2\"],"
    "\"WorkingDir\":\"work\",\"Labels\":{\"l\":\"v\",\"org.opencontainers.image.os\":\"plan9\"},"
    "\"StopSignal\":\"SIGINT\",\"ExposedPorts\":{\"8080/tcp\":{}},\"Volumes\":{\"/data\":{}}},"
    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:"
    "1111111111111111111111111111111111111111111111111111111111111111\"]},\"history\":[]}";

static void test_parse(struct unit_counts *c)
{
    struct image_config *ic = NULL;
    struct keel_error *err = NULL;
    CHECK(c, image_config_parse(good_config, strlen(good_config), &ic, &err) == 0);
    if (!ic)
        return;
    CHECK_STREQ(c, ic->user, "app");
    CHECK(c, strv_len(ic->env) == 2 && strv_len(ic->cmd) == 2 && ic->n_diff_ids == 1);
    CHECK(c, ic->n_labels == 2 && strv_len(ic->exposed_ports) == 1 && strv_len(ic->volumes) == 1);
    image_config_free(ic);

    const char *bad[][2] = {
        {"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"md5:x\"]}}", "rootfs.diff_ids[0]"},
        {"{\"rootfs\":{\"type\":\"other\",\"diff_ids\":[]}}", "rootfs.type"},
        {"{\"config\":{}}", "rootfs"},
        {"{\"config\":{\"Env\":\"A=1\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "config.Env"},
        {"{\"config\":{\"Env\":[\"NOEQUALS\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
         "config.Env[0]"},
        {"{\"config\":{\"Labels\":{\"a\":1}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
         "config.Labels.a"},
        {"[1]", "image config"},
        {"{", "image config"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        ic = NULL;
        err = NULL;
        CHECK(c, image_config_parse(bad[i][0], strlen(bad[i][0]), &ic, &err) < 0);
        if (!err || !strstr(err->msg, bad[i][1]))
            fprintf(stderr, "  case %zu: %s\n", i, error_msg(err));
        CHECK(c, err && strstr(err->msg, bad[i][1]));
        error_free(err);
    }
}

static int make_rootfs(char *dir)
{
    if (!mkdtemp(dir))
        return -1;
    char path[256];
    snprintf(path, sizeof(path), "%s/etc", dir);
    mkdir(path, 0755);
    struct keel_error *err = NULL;
    snprintf(path, sizeof(path), "%s/etc/passwd", dir);
    /* "three" has a uid but no gid field. */
    const char *pw = "# comment\nroot:x:0:0::/root:/bin/sh\napp:x:100:200::/:/bin/sh\nshort:x\n"
                     "other:x:300:300::/:/bin/sh\nthree:x:400\n";
    file_write_atomic(path, pw, strlen(pw), 0644, &err);
    snprintf(path, sizeof(path), "%s/etc/group", dir);
    const char *g = "root:x:0:\napp:x:200:\nextra:x:7:other,app\nmore:x:8:app\ndup:x:200:app\n";
    file_write_atomic(path, g, strlen(g), 0644, &err);
    error_free(err);
    return open(dir, O_RDONLY | O_DIRECTORY);
}

static void test_user(struct unit_counts *c, int rootfd)
{
    struct {
        const char *spec;
        uint32_t uid, gid;
        size_t n_add;
    } cases[] = {
        {"app", 100, 200, 2},    {"100", 100, 200, 0}, {"app:7", 100, 7, 0},
        {"app:more", 100, 8, 0}, {"55", 55, 0, 0},     {"55:66", 55, 66, 0},
        {"other", 300, 300, 1},  {"", 0, 0, 0},        {"400", 400, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct convert_user u;
        struct keel_error *err = NULL;
        int r = convert_resolve_user(rootfd, cases[i].spec, &u, &err);
        CHECK(c, r == 0 && u.uid == cases[i].uid && u.gid == cases[i].gid &&
                     u.n_additional_gids == cases[i].n_add);
        if (r < 0)
            fprintf(stderr, "  user %s: %s\n", cases[i].spec, error_msg(err));
        error_free(err);
        convert_user_release(&u);
    }
    const char *bad[] = {"nobody", "app:nogroup", "short", "three"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        struct convert_user u;
        struct keel_error *err = NULL;
        CHECK(c,
              convert_resolve_user(rootfd, bad[i], &u, &err) < 0 && err && strstr(err->msg, "config.User"));
        error_free(err);
        convert_user_release(&u);
    }
}

static void test_convert(struct unit_counts *c, int rootfd)
{
    struct image_config *ic = NULL;
    struct keel_error *err = NULL;
    CHECK(c, image_config_parse(good_config, strlen(good_config), &ic, &err) == 0);
    char *args[] = {"over", "ride", NULL};
    char *env[] = {"A=2", "B=3", NULL};
    struct convert_opts o = {.args = args, .env = env, .terminal = true};
    cleanup_free char *json = NULL;
    size_t len;
    CHECK(c, convert_image_config(ic, rootfd, &o, &json, &len, &err) == 0);
    cleanup_json yajl_val v = NULL;
    CHECK(c, json_parse(json, len, "config.json", &v, &err) == 0);
    const char *p_args[] = {"process", "args", NULL};
    yajl_val a = yajl_tree_get(v, p_args, yajl_t_array);
    CHECK(c, a && a->u.array.len == 3 && strcmp(a->u.array.values[1]->u.string, "over") == 0);
    const char *p_env[] = {"process", "env", NULL};
    yajl_val e = yajl_tree_get(v, p_env, yajl_t_array);
    CHECK(c, e && e->u.array.len == 4);
    if (e && e->u.array.len == 4) {
        CHECK_STREQ(c, e->u.array.values[0]->u.string, "PATH=/x");
        CHECK_STREQ(c, e->u.array.values[1]->u.string, "A=2");
        CHECK_STREQ(c, e->u.array.values[2]->u.string, "TERM=xterm");
        CHECK_STREQ(c, e->u.array.values[3]->u.string, "B=3");
    }
    const char *p_cwd[] = {"process", "cwd", NULL};
    CHECK_STREQ(c, YAJL_GET_STRING(yajl_tree_get(v, p_cwd, yajl_t_string)), "/work");
    const char *p_os[] = {"annotations", "org.opencontainers.image.os", NULL};
    CHECK_STREQ(c, YAJL_GET_STRING(yajl_tree_get(v, p_os, yajl_t_string)), "plan9");
    const char *p_var[] = {"annotations", "org.opencontainers.image.variant", NULL};
    CHECK_STREQ(c, YAJL_GET_STRING(yajl_tree_get(v, p_var, yajl_t_string)), "v8");
    const char *p_sig[] = {"annotations", "org.opencontainers.image.stopSignal", NULL};
    CHECK_STREQ(c, YAJL_GET_STRING(yajl_tree_get(v, p_sig, yajl_t_string)), "SIGINT");
    const char *p_term[] = {"process", "terminal", NULL};
    CHECK(c, YAJL_IS_TRUE(yajl_tree_get(v, p_term, yajl_t_any)));

    /* No Entrypoint, no Cmd, no args: an error rather than a guess. */
    strv_free(ic->entrypoint);
    strv_free(ic->cmd);
    ic->entrypoint = ic->cmd = NULL;
    struct convert_opts none = {0};
    free(json);
    json = NULL;
    CHECK(c,
          convert_image_config(ic, rootfd, &none, &json, &len, &err) < 0 && err && strstr(err->msg, "Cmd"));
    error_free(err);
    image_config_free(ic);
}

int main(void)
{
    struct unit_counts c = {0, 0};
    test_parse(&c);
    char dir[] = "/tmp/test_convert_XXXXXX";
    int rootfd = make_rootfs(dir);
    CHECK(&c, rootfd >= 0);
    test_user(&c, rootfd);
    test_convert(&c, rootfd);
    close(rootfd);
    fs_remove_tree(dir, NULL);
    return unit_finish(&c);
}
