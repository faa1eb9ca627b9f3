/* seccomp compilation, validation messages and the compiled-filter cache
 * (no filter is loaded here; test_seccomp_live does that). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "seccomp_internal.h"
#include "seccomp_testlib.h"
#include "unit.h"
#include "xalloc.h"

static struct unit_counts c;

#define BASE_RULES                                                                                           \
    "{\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_ALLOW\"},"                                                \
    "{\"names\":[\"chmod\"],\"action\":\"SCMP_ACT_ERRNO\"},"                                                 \
    "{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\"},"

/* Build `json` without cache; return the error message (or NULL on success). */
static char *build_error(const char *json)
{
    struct spec_seccomp *s = testlib_seccomp_from_json(json);
    if (s == NULL)
        return xstrdup("(bad test JSON)");
    cleanup_error struct keel_error *err = NULL;
    cleanup_seccomp_program struct seccomp_program *p = NULL;
    int r = seccomp_program_build(s, NULL, &p, &err);
    testlib_seccomp_free(s);
    if (r == 0)
        return NULL;
    return xstrdup(error_msg(err));
}

static void expect_error(const char *json, const char *want)
{
    cleanup_free char *msg = build_error(json);
    CHECK_STREQ(&c, msg, want);
}

static void test_errors(void)
{
    expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[" BASE_RULES
                 "{\"names\":[\"getpgid\"],\"action\":\"SCMP_ACT_FOO\"}]}",
                 "linux.seccomp.syscalls[3].action: unknown action \"SCMP_ACT_FOO\"");
    expect_error("{\"defaultAction\":\"SCMP_ACT_NOPE\"}",
                 "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\"");
    expect_error("{\"syscalls\":[]}", "linux.seccomp.defaultAction: missing (it is required)");
    expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[" BASE_RULES
                 "{\"names\":[\"getpgid\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,"
                 "\"op\":\"SCMP_CMP_SOMETIMES\"}]}]}",
                 "linux.seccomp.syscalls[3].args[0].op: unknown operator \"SCMP_CMP_SOMETIMES\"");
    expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpgid\"],\"action\":"
                 "\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
                 "linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0-5)");
    expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpgid\"],\"action\":"
                 "\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"op\":\"SCMP_CMP_NE\"},{\"index\":1,\"op\":"
                 "\"SCMP_CMP_NE\"},{\"index\":2,\"op\":\"SCMP_CMP_NE\"},{\"index\":3,\"op\":\"SCMP_CMP_NE\"},"
                 "{\"index\":4,\"op\":\"SCMP_CMP_NE\"},{\"index\":5,\"op\":\"SCMP_CMP_NE\"},{\"index\":0,"
                 "\"op\":\"SCMP_CMP_NE\"}]}]}",
                 "linux.seccomp.syscalls[0].args: 7 comparisons, at most 6 are allowed");
    expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\","
                 "\"SCMP_ARCH_Z80\"]}",
                 "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_Z80\"");
    expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_NOPE\"]}",
                 "linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_NOPE\"");
    expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpgid\"],\"action\":"
                 "\"SCMP_ACT_KILL\",\"errnoRet\":5}]}",
                 "linux.seccomp.syscalls[0].errnoRet: action SCMP_ACT_KILL does not take an errno");
    expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"defaultErrnoRet\":5}",
                 "linux.seccomp.defaultErrnoRet: action SCMP_ACT_ALLOW does not take an errno");
    expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":70000}",
                 "linux.seccomp.defaultErrnoRet: 70000 is out of range (0-65535)");
    expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpgid\"],\"action\":"
                 "\"SCMP_ACT_NOTIFY\"}]}",
                 "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
    expect_error("{\"defaultAction\":\"SCMP_ACT_NOTIFY\",\"listenerPath\":\"/x\"}",
                 "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerMetadata\":\"m\"}",
                 "linux.seccomp.listenerMetadata: set without linux.seccomp.listenerPath");
    expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[],\"action\":"
                 "\"SCMP_ACT_ERRNO\"}]}",
                 "linux.seccomp.syscalls[0].names: must name at least one syscall");
    expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"]}]}",
                 "linux.seccomp.syscalls[0].action: missing (it is required)");
}

static void test_accepts(void)
{
    /* Unknown names are skipped; every action, operator and flag compiles. */
    CHECK(&c, build_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"no_such_syscall_"
                          "xyz\",\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\"}]}") == NULL);
    const char *actions[] = {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                             "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
                             "SCMP_ACT_LOG",  "SCMP_ACT_NOTIFY"};
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        cleanup_free char *json = xasprintf("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/l\","
                                            "\"syscalls\":[{\"names\":[\"getpgid\"],\"action\":\"%s\"}]}",
                                            actions[i]);
        cleanup_free char *msg = build_error(json);
        if (msg)
            fprintf(stderr, "%s: %s\n", actions[i], msg);
        CHECK(&c, msg == NULL);
    }
    const char *ops[] = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",       "SCMP_CMP_EQ",
                         "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        cleanup_free char *json = xasprintf(
            "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpgid\"],\"action\":"
            "\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":3,\"valueTwo\":1,\"op\":\"%s\"}]}]}",
            ops[i]);
        cleanup_free char *msg = build_error(json);
        if (msg)
            fprintf(stderr, "%s: %s\n", ops[i], msg);
        CHECK(&c, msg == NULL);
    }
    cleanup_free char *msg = build_error(
        "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"architectures\":["
        "\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],\"flags\":["
        "\"SECCOMP_FILTER_FLAG_TSYNC\",\"SECCOMP_FILTER_FLAG_LOG\",\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\","
        "\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"],\"syscalls\":[{\"names\":[\"read\",\"write\"],"
        "\"action\":\"SCMP_ACT_ALLOW\"}]}");
    CHECK(&c, msg == NULL);
}

static void test_flags_and_notify(void)
{
    struct spec_seccomp *s = testlib_seccomp_from_json(
        "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\","
        "\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"],\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":"
        "\"SCMP_ACT_ERRNO\"}]}");
    cleanup_error struct keel_error *err = NULL;
    cleanup_seccomp_program struct seccomp_program *p = NULL;
    CHECK(&c, seccomp_program_build(s, NULL, &p, &err) == 0);
    /* WAIT_KILLABLE_RECV needs a listener: dropped without NOTIFY rules. */
    CHECK(&c, p && seccomp_program_flags(p) == 2 /* LOG */);
    CHECK(&c, p && !seccomp_program_uses_notify(p));
    CHECK(&c, p && seccomp_program_was_compiled(p));
    testlib_seccomp_free(s);

    s = testlib_seccomp_from_json(
        "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/run/agent.sock\",\"flags\":["
        "\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"],\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":"
        "\"SCMP_ACT_NOTIFY\"}]}");
    cleanup_seccomp_program struct seccomp_program *q = NULL;
    CHECK(&c, seccomp_program_build(s, NULL, &q, &err) == 0);
    CHECK(&c, q && seccomp_program_uses_notify(q));
    CHECK(&c, q && seccomp_program_flags(q) == (1u << 5));
    testlib_seccomp_free(s);
}

/* Same instructions? */
static bool same_program(const struct seccomp_program *a, const struct seccomp_program *b)
{
    return a->n_insns == b->n_insns && a->flags == b->flags && a->notify == b->notify &&
           memcmp(a->insns, b->insns, a->n_insns * sizeof(*a->insns)) == 0;
}

static int count_entries(const char *dir)
{
    cleanup_dir DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    return n;
}

static char *only_entry(const char *dir)
{
    cleanup_dir DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            return xasprintf("%s/%s", dir, e->d_name);
    return NULL;
}

static struct seccomp_program *build_cached(const struct spec_seccomp *s, const char *dir)
{
    cleanup_error struct keel_error *err = NULL;
    struct seccomp_program *p = NULL;
    if (seccomp_program_build(s, dir, &p, &err) < 0) {
        fprintf(stderr, "build: %s\n", error_msg(err));
        return NULL;
    }
    return p;
}

static void test_cache(const char *tmp, struct spec_seccomp *podman)
{
    cleanup_free char *dir = xasprintf("%s/root/seccomp-cache", tmp);
    /* The cache must give the same program as the compiler, for a big profile. */
    cleanup_seccomp_program struct seccomp_program *plain = NULL;
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, seccomp_program_build(podman, NULL, &plain, &err) == 0);

    cleanup_seccomp_program struct seccomp_program *first = build_cached(podman, dir);
    CHECK(&c, first && seccomp_program_was_compiled(first));
    CHECK(&c, count_entries(dir) == 1);
    cleanup_seccomp_program struct seccomp_program *second = build_cached(podman, dir);
    /* The point of the cache: the second build never runs libseccomp's compiler. */
    CHECK(&c, second && !seccomp_program_was_compiled(second));
    CHECK(&c, first && second && plain && same_program(first, second) && same_program(plain, second));

    /* A profile that differs in one errno is another entry. */
    struct spec_seccomp_syscall *last = &podman->syscalls[0];
    struct opt_u64 saved = last->errno_ret;
    last->errno_ret = (struct opt_u64){true, 13};
    cleanup_seccomp_program struct seccomp_program *other = build_cached(podman, dir);
    CHECK(&c, other && seccomp_program_was_compiled(other));
    CHECK(&c, count_entries(dir) == 2);
    last->errno_ret = saved;

    /* Corrupt entries: a flipped byte, a truncation, garbage. Each is
     * detected, compiled again and rewritten. */
    cleanup_free char *dir1 = xasprintf("%s/root/cache1", tmp);
    cleanup_seccomp_program struct seccomp_program *p1 = build_cached(podman, dir1);
    cleanup_free char *entry = only_entry(dir1);
    CHECK(&c, entry != NULL);
    for (int mode = 0; mode < 3 && entry; mode++) {
        cleanup_free char *data = NULL;
        size_t len = 0;
        CHECK(&c, file_read_whole(entry, 1 << 20, &data, &len, NULL) == 0);
        if (mode == 0)
            data[len - 3] ^= 0x40;
        else if (mode == 1)
            len -= 8;
        else
            memcpy(data, "GARBAGE!", 8);
        CHECK(&c, file_write_atomic(entry, data, len, 0600, NULL) == 0);
        cleanup_seccomp_program struct seccomp_program *again = build_cached(podman, dir1);
        CHECK(&c, again && seccomp_program_was_compiled(again) && same_program(again, plain));
        cleanup_seccomp_program struct seccomp_program *fixed = build_cached(podman, dir1);
        CHECK(&c, fixed && !seccomp_program_was_compiled(fixed) && same_program(fixed, plain));
    }
    /* An entry renamed to another key is not accepted for that key. */
    struct spec_seccomp *tiny =
        testlib_seccomp_from_json("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"]"
                                  ",\"action\":\"SCMP_ACT_ERRNO\"}]}");
    cleanup_free char *dir2 = xasprintf("%s/root/cache2", tmp);
    cleanup_seccomp_program struct seccomp_program *t1 = build_cached(tiny, dir2);
    cleanup_free char *tiny_entry = only_entry(dir2);
    cleanup_free char *podman_name = strrchr(entry, '/') ? xstrdup(strrchr(entry, '/') + 1) : NULL;
    cleanup_free char *fake = xasprintf("%s/%s", dir2, podman_name);
    CHECK(&c, rename(tiny_entry, fake) == 0);
    cleanup_seccomp_program struct seccomp_program *p2 = build_cached(podman, dir2);
    CHECK(&c, p2 && seccomp_program_was_compiled(p2) && same_program(p2, plain));
    testlib_seccomp_free(tiny);

    /* An unwritable cache location costs only the compilation. */
    cleanup_free char *blocker = xasprintf("%s/root/file", tmp);
    CHECK(&c, file_write_atomic(blocker, "x", 1, 0600, NULL) == 0);
    cleanup_free char *bad = xasprintf("%s/sub", blocker);
    cleanup_seccomp_program struct seccomp_program *p3 = build_cached(podman, bad);
    CHECK(&c, p3 && seccomp_program_was_compiled(p3));
}

/* The key is over meaning, not spelling: an explicit errnoRet equal to the
 * default (EPERM), JSON whitespace and member order give the same entry;
 * another errno or another arch does not. */
static void test_cache_key_canonical(const char *tmp)
{
    cleanup_free char *dir = xasprintf("%s/canon", tmp);
    const char *variants[] = {
        "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_"
        "ERRNO\"}]}",
        "{ \"syscalls\" : [ { \"action\":\"SCMP_ACT_ERRNO\", \"errnoRet\": 1, \"names\":[\"mkdir\"] } ],\n"
        "  \"defaultAction\" : \"SCMP_ACT_ALLOW\" }",
    };
    for (size_t i = 0; i < 2; i++) {
        struct spec_seccomp *s = testlib_seccomp_from_json(variants[i]);
        cleanup_seccomp_program struct seccomp_program *p = build_cached(s, dir);
        CHECK(&c, p && seccomp_program_was_compiled(p) == (i == 0));
        testlib_seccomp_free(s);
    }
    CHECK(&c, count_entries(dir) == 1);
    const char *others[] = {
        "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_"
        "ERRNO\","
        "\"errnoRet\":2}]}",
        "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86\"],\"syscalls\":[{"
        "\"names\":["
        "\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\"}]}",
        "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\",\"rmdir\"],\"action\":"
        "\"SCMP_ACT_ERRNO\"}]}",
    };
    for (size_t i = 0; i < 3; i++) {
        struct spec_seccomp *s = testlib_seccomp_from_json(others[i]);
        cleanup_seccomp_program struct seccomp_program *p = build_cached(s, dir);
        CHECK(&c, p && seccomp_program_was_compiled(p));
        testlib_seccomp_free(s);
    }
    CHECK(&c, count_entries(dir) == 4);
}

/* A full cache loses its oldest entry on a miss; debris of crashed writers
 * goes once it is a minute old, fresh temporary files stay. */
static void test_cache_prune(const char *tmp, struct spec_seccomp *podman)
{
    cleanup_free char *dir = xasprintf("%s/prune", tmp);
    CHECK(&c, fs_mkdir_p(dir, 0700, NULL) == 0);
    for (int i = 0; i < 256; i++) {
        cleanup_free char *path = xasprintf("%s/%064d", dir, i);
        CHECK(&c, file_write_atomic(path, "x", 1, 0600, NULL) == 0);
        struct timespec times[2] = {{1000000 + i, 0}, {1000000 + i, 0}};
        CHECK(&c, utimensat(AT_FDCWD, path, times, 0) == 0);
    }
    cleanup_free char *stale = xasprintf("%s/.deadbeef.tmp.1.2", dir);
    cleanup_free char *fresh = xasprintf("%s/.cafe.tmp.3.4", dir);
    CHECK(&c, file_write_atomic(stale, "x", 1, 0600, NULL) == 0);
    CHECK(&c, file_write_atomic(fresh, "x", 1, 0600, NULL) == 0);
    struct timespec old[2] = {{1000, 0}, {1000, 0}};
    CHECK(&c, utimensat(AT_FDCWD, stale, old, 0) == 0);

    cleanup_seccomp_program struct seccomp_program *p = build_cached(podman, dir);
    CHECK(&c, p && seccomp_program_was_compiled(p));
    CHECK(&c, count_entries(dir) == 256);
    cleanup_free char *first = xasprintf("%s/%064d", dir, 0);
    cleanup_free char *second = xasprintf("%s/%064d", dir, 1);
    CHECK(&c, !fs_exists(first));
    CHECK(&c, fs_exists(second));
    CHECK(&c, !fs_exists(stale));
    CHECK(&c, fs_exists(fresh));
    cleanup_seccomp_program struct seccomp_program *q = build_cached(podman, dir);
    CHECK(&c, q && !seccomp_program_was_compiled(q));
}

/* Many processes fill the same empty cache at once: all succeed, no temp
 * files remain, and the entry is whole. */
static void test_cache_concurrent(const char *tmp, struct spec_seccomp *podman)
{
    cleanup_free char *dir = xasprintf("%s/concurrent", tmp);
    enum { N = 8 };
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            for (int round = 0; round < 5; round++) {
                struct seccomp_program *p = build_cached(podman, dir);
                if (p == NULL)
                    _exit(1);
                seccomp_program_free(p);
            }
            _exit(0);
        }
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        int status;
        if (pids[i] > 0 && waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0)
            ok++;
    }
    CHECK(&c, ok == N);
    CHECK(&c, count_entries(dir) == 1);
    cleanup_seccomp_program struct seccomp_program *p = build_cached(podman, dir);
    CHECK(&c, p && !seccomp_program_was_compiled(p));
    /* No leftover temporary files (they start with a dot). */
    cleanup_dir DIR *d = opendir(dir);
    int hidden = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            hidden++;
    CHECK(&c, hidden == 0);
}

static void test_save_load(const char *tmp, struct spec_seccomp *podman)
{
    cleanup_error struct keel_error *err = NULL;
    cleanup_seccomp_program struct seccomp_program *p = NULL;
    CHECK(&c, seccomp_program_build(podman, NULL, &p, &err) == 0);
    cleanup_close int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(&c, p && seccomp_program_save(p, dfd, SECCOMP_STATE_FILE, &err) == 0);
    cleanup_seccomp_program struct seccomp_program *q = NULL;
    CHECK(&c, seccomp_program_load_file(dfd, SECCOMP_STATE_FILE, &q, &err) == 0);
    CHECK(&c, p && q && same_program(p, q) && !seccomp_program_was_compiled(q));

    /* A damaged state copy is an error naming the file, never a wrong filter. */
    cleanup_free char *path = xasprintf("%s/%s", tmp, SECCOMP_STATE_FILE);
    cleanup_free char *data = NULL;
    size_t len = 0;
    CHECK(&c, file_read_whole(path, 1 << 20, &data, &len, NULL) == 0);
    data[len - 1] ^= 1;
    CHECK(&c, file_write_atomic(path, data, len, 0600, NULL) == 0);
    cleanup_seccomp_program struct seccomp_program *bad = NULL;
    error_free(err);
    err = NULL;
    CHECK(&c, seccomp_program_load_file(dfd, SECCOMP_STATE_FILE, &bad, &err) < 0);
    CHECK_STREQ(&c, error_msg(err), "seccomp program `seccomp.bpf`: checksum mismatch");
    error_free(err);
    err = NULL;
    CHECK(&c, seccomp_program_load_file(dfd, "missing", &bad, &err) < 0 && err && err->errnum == ENOENT);
}

/* The cache key is the whole canonical plan, with keel's arch and the
 * identity of the libseccomp file; an entry holding another plan (a name
 * collision, or a file renamed by hand) is rejected byte for byte, also when
 * its checksum is valid. */
static void test_cache_plan_identity(void)
{
    struct spec_seccomp *s =
        testlib_seccomp_from_json("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"]"
                                  ",\"action\":\"SCMP_ACT_ERRNO\"}]}");
    cleanup_error struct keel_error *err = NULL;
    cleanup_seccomp_plan struct seccomp_plan plan;
    CHECK(&c, seccomp_plan_build(s, &plan, &err) == 0);
    cleanup_strbuf struct strbuf canon = STRBUF_INIT;
    CHECK(&c, seccomp_plan_serialize(&plan, &canon) == 0);
    /* The library's file name carries its version (libseccomp.so.2.5.4). */
    CHECK(&c,
          canon.buf && strstr(canon.buf, "libseccomp") && strstr(canon.buf, KEEL_LIBSECCOMP_BUILD_VERSION));
    CHECK(&c, canon.buf && strstr(canon.buf, "\nnative "));
    CHECK(&c, canon.buf && strstr(canon.buf, " 5:mkdir\n"));

    cleanup_seccomp_program struct seccomp_program *p = NULL;
    CHECK(&c, seccomp_plan_compile(&plan, &p, &err) == 0);
    if (p == NULL || canon.buf == NULL) {
        testlib_seccomp_free(s);
        return;
    }
    cleanup_strbuf struct strbuf file = STRBUF_INIT;
    seccomp_program_encode(p, canon.buf, canon.len, &file);
    cleanup_seccomp_program struct seccomp_program *hit = NULL;
    CHECK(&c, seccomp_program_decode(file.buf, file.len, canon.buf, canon.len, "e", &hit, &err) == 0);
    CHECK(&c, hit && same_program(hit, p));
    /* One byte of difference in the wanted plan, or a shorter one: a miss. */
    cleanup_free char *other = xstrdup(canon.buf);
    other[canon.len - 2] ^= 1;
    cleanup_seccomp_program struct seccomp_program *miss = NULL;
    CHECK(&c, seccomp_program_decode(file.buf, file.len, other, canon.len, "e", &miss, &err) < 0);
    CHECK_STREQ(&c, error_msg(err), "seccomp program `e`: built from another profile (plan mismatch)");
    error_free(err);
    err = NULL;
    CHECK(&c, seccomp_program_decode(file.buf, file.len, canon.buf, canon.len - 1, "e", &miss, &err) < 0);
    error_free(err);
    err = NULL;
    /* A damaged plan fails the checksum before any comparison. */
    file.buf[40 + 3] ^= 1; /* the header is 40 bytes, the plan follows */
    CHECK(&c, seccomp_program_decode(file.buf, file.len, NULL, 0, "e", &miss, &err) < 0);
    CHECK_STREQ(&c, error_msg(err), "seccomp program `e`: checksum mismatch");
    testlib_seccomp_free(s);
}

/* The config parser's output compiles to the same program as the test
 * loader's: the two agree on the model. */
static void test_from_config(struct spec_seccomp *podman)
{
    cleanup_free char *profile = testlib_podman_json();
    if (profile == NULL)
        return;
    cleanup_free char *config = xasprintf("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"},"
                                          "\"linux\":{\"seccomp\":%s}}",
                                          profile);
    cleanup_error struct keel_error *err = NULL;
    cleanup_spec_config struct spec_config *cfg = NULL;
    int r = spec_parse_config(config, strlen(config), "config.json", &cfg, &err);
    if (r < 0)
        fprintf(stderr, "parse: %s\n", error_msg(err));
    CHECK(&c, r == 0 && cfg->linux && cfg->linux->seccomp);
    if (r < 0 || !cfg->linux || !cfg->linux->seccomp)
        return;
    cleanup_seccomp_program struct seccomp_program *a = NULL, *b = NULL;
    CHECK(&c, seccomp_program_build(cfg->linux->seccomp, NULL, &a, &err) == 0);
    CHECK(&c, seccomp_program_build(podman, NULL, &b, &err) == 0);
    CHECK(&c, a && b && same_program(a, b));
}

int main(void)
{
    test_errors();
    test_accepts();
    test_flags_and_notify();

    struct spec_seccomp *podman = testlib_seccomp_podman();
    if (podman == NULL) {
        fprintf(stderr, "podman's seccomp profile not available: cache tests skipped\n");
    } else {
        char tmpl[] = "/tmp/keel-test-seccomp.XXXXXX";
        char *tmp = mkdtemp(tmpl);
        CHECK(&c, tmp != NULL);
        if (tmp) {
            test_cache(tmp, podman);
            test_cache_concurrent(tmp, podman);
            test_cache_prune(tmp, podman);
            test_cache_key_canonical(tmp);
            test_cache_plan_identity();
            test_save_load(tmp, podman);
            test_from_config(podman);
            CHECK(&c, fs_remove_tree(tmp, NULL) == 0);
        }
        testlib_seccomp_free(podman);
    }
    return unit_finish(&c);
}
