/* Unit tests of the process an exec runs when no --process is given: the
 * config's process with exec's flags over it, re-parsed by the spec parser. */
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "json.h"
#include "libutil/tests/unit.h"
#include "runtime/exec_internal.h"

static struct unit_counts c;

static const char *config_process =
    "{\"terminal\":true,\"user\":{\"uid\":1,\"gid\":2,\"additionalGids\":[3]},\"args\":[\"sh\"],"
    "\"env\":[\"PATH=/bin\",\"A=1\"],\"cwd\":\"/srv\",\"noNewPrivileges\":false,"
    "\"capabilities\":{\"bounding\":[\"CAP_KILL\"],\"effective\":[\"CAP_KILL\"]},"
    "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":64,\"soft\":64}]}";

static struct spec_process *build(const struct exec_opts *o)
{
    yajl_val v = NULL;
    struct keel_error *err = NULL;
    if (json_parse(config_process, strlen(config_process), "config", &v, &err) < 0)
        return NULL;
    char *text = NULL;
    struct spec_process *p = NULL;
    if (exec_build_process_json(v, o, &text, &err) == 0)
        spec_parse_process(text, strlen(text), "exec process", &p, &err);
    if (err)
        fprintf(stderr, "build: %s\n", err->msg);
    error_free(err);
    free(text);
    yajl_tree_free(v);
    return p;
}

int main(void)
{
    char *args[] = {"echo", "hi", NULL};
    struct exec_opts o = {.args = args};
    struct spec_process *p = build(&o);
    CHECK(&c, p != NULL);
    if (p) {
        CHECK_STREQ(&c, p->args[0], "echo");
        CHECK(&c, !p->terminal); /* -t not given: no terminal, whatever the config says */
        CHECK_STREQ(&c, p->cwd, "/srv");
        CHECK(&c, p->user.uid == 1 && p->user.gid == 2 && p->user.n_additional_gids == 1);
        CHECK(&c, p->n_rlimits == 1); /* the rest of the config's process stays */
        CHECK(&c, p->capabilities && strv_len(p->capabilities->bounding) == 1);
        spec_process_free(p);
    }

    char *env[] = {"A=2", "B=3", NULL};
    char *caps[] = {"CAP_SYS_ADMIN", NULL};
    char *gids[] = {"10", NULL};
    struct exec_opts o2 = {.args = args,
                           .tty = true,
                           .cwd = "/tmp",
                           .user = "1000:1001",
                           .env = env,
                           .caps = caps,
                           .additional_gids = gids,
                           .no_new_privs = true};
    p = build(&o2);
    CHECK(&c, p != NULL);
    if (p) {
        CHECK(&c, p->terminal);
        CHECK_STREQ(&c, p->cwd, "/tmp");
        CHECK(&c, p->user.uid == 1000 && p->user.gid == 1001);
        /* another user: the config user's groups are not inherited, --additional-gids are */
        CHECK(&c, p->user.n_additional_gids == 1 && p->user.additional_gids[0] == 10);
        CHECK(&c, strv_len(p->env) == 3);
        CHECK_STREQ(&c, p->env[0], "PATH=/bin");
        CHECK_STREQ(&c, p->env[1], "A=2");
        CHECK_STREQ(&c, p->env[2], "B=3");
        CHECK(&c, p->no_new_privileges);
        CHECK(&c, strv_len(p->capabilities->bounding) == 2 && strv_len(p->capabilities->effective) == 2);
        CHECK(&c, p->capabilities->inheritable == NULL);
        spec_process_free(p);
    }

    struct exec_opts bad = {.args = args, .user = "root"};
    yajl_val v = NULL;
    struct keel_error *err = NULL;
    json_parse(config_process, strlen(config_process), "config", &v, &err);
    char *text = NULL;
    CHECK(&c, exec_build_process_json(v, &bad, &text, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "--user"));
    error_free(err);
    yajl_tree_free(v);
    return unit_finish(&c);
}
