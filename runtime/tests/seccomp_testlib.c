#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "json.h"
#include "seccomp_testlib.h"
#include "strbuf.h"
#include "xalloc.h"

static char *opt_string(yajl_val obj, const char *key)
{
    yajl_val v = json_object_get(obj, key);
    return v && YAJL_IS_STRING(v) ? xstrdup(v->u.string) : NULL;
}

static char **opt_strv(yajl_val obj, const char *key)
{
    yajl_val v = json_object_get(obj, key);
    char **out = NULL;
    if (v && json_get_strv(v, key, &out, NULL) < 0)
        return NULL;
    return out;
}

static void opt_u64(yajl_val obj, const char *key, struct opt_u64 *out)
{
    yajl_val v = json_object_get(obj, key);
    if (v && YAJL_IS_INTEGER(v)) {
        out->set = true;
        out->value = (uint64_t)YAJL_GET_INTEGER(v);
    }
}

static uint64_t u64(yajl_val obj, const char *key)
{
    yajl_val v = json_object_get(obj, key);
    if (v == NULL || !YAJL_IS_NUMBER(v))
        return 0;
    /* yajl keeps the text; values above INT64_MAX need strtoull. */
    return strtoull(YAJL_GET_NUMBER(v), NULL, 10);
}

struct spec_seccomp *testlib_seccomp_from_json(const char *text)
{
    cleanup_error struct keel_error *err = NULL;
    cleanup_json yajl_val root = NULL;
    if (json_parse(text, strlen(text), "test profile", &root, &err) < 0) {
        fprintf(stderr, "%s\n", error_msg(err));
        return NULL;
    }
    struct spec_seccomp *s = xzalloc(sizeof(*s));
    s->default_action = opt_string(root, "defaultAction");
    opt_u64(root, "defaultErrnoRet", &s->default_errno_ret);
    s->architectures = opt_strv(root, "architectures");
    s->flags = opt_strv(root, "flags");
    s->listener_path = opt_string(root, "listenerPath");
    s->listener_metadata = opt_string(root, "listenerMetadata");
    yajl_val sc = json_object_get(root, "syscalls");
    if (sc && YAJL_IS_ARRAY(sc)) {
        s->n_syscalls = sc->u.array.len;
        s->syscalls = xcalloc(s->n_syscalls ? s->n_syscalls : 1, sizeof(*s->syscalls));
        for (size_t i = 0; i < s->n_syscalls; i++) {
            yajl_val e = sc->u.array.values[i];
            struct spec_seccomp_syscall *c = &s->syscalls[i];
            c->names = opt_strv(e, "names");
            c->action = opt_string(e, "action");
            opt_u64(e, "errnoRet", &c->errno_ret);
            yajl_val args = json_object_get(e, "args");
            if (args && YAJL_IS_ARRAY(args)) {
                c->n_args = args->u.array.len;
                c->args = xcalloc(c->n_args ? c->n_args : 1, sizeof(*c->args));
                for (size_t a = 0; a < c->n_args; a++) {
                    yajl_val av = args->u.array.values[a];
                    c->args[a].index = (unsigned)u64(av, "index");
                    c->args[a].value = u64(av, "value");
                    c->args[a].value_two = u64(av, "valueTwo");
                    c->args[a].op = opt_string(av, "op");
                }
            }
        }
    }
    return s;
}

char *testlib_podman_json(void)
{
    if (access("/usr/share/containers/seccomp.json", R_OK) != 0)
        return NULL;
    const char *src = getenv("KEEL_SRCDIR");
    cleanup_free char *cmd = xasprintf("/usr/bin/python3 %s/spec-tests/runtime/seccomp_profiles.py",
                                       src ? src : KEEL_SRCDIR_DEFAULT);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return NULL;
    struct strbuf sb = STRBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        strbuf_append(&sb, buf, n);
    int status = pclose(p);
    cleanup_free char *text = strbuf_detach(&sb);
    if (status != 0) {
        fprintf(stderr, "%s failed (status %d)\n", cmd, status);
        return NULL;
    }
    return steal_ptr(&text);
}

struct spec_seccomp *testlib_seccomp_podman(void)
{
    cleanup_free char *text = testlib_podman_json();
    return text ? testlib_seccomp_from_json(text) : NULL;
}

void testlib_seccomp_free(struct spec_seccomp *s)
{
    if (s == NULL)
        return;
    free(s->default_action);
    strv_free(s->architectures);
    strv_free(s->flags);
    free(s->listener_path);
    free(s->listener_metadata);
    for (size_t i = 0; i < s->n_syscalls; i++) {
        strv_free(s->syscalls[i].names);
        free(s->syscalls[i].action);
        for (size_t a = 0; a < s->syscalls[i].n_args; a++)
            free(s->syscalls[i].args[a].op);
        free(s->syscalls[i].args);
    }
    free(s->syscalls);
    free(s);
}
