/* How much the compiled-filter cache saves: CPU time of seccomp_program_build
 * for podman's default profile, compiled by libseccomp vs served from a warm
 * cache, and of reading the per-container copy (what exec does).
 *
 *   make bench/seccomp_bench && KEEL_SRCDIR=.. bench/seccomp_bench [ROUNDS]
 *
 * Prints medians; asserts nothing (timings belong in reports, not tests). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "seccomp.h"
#include "seccomp_testlib.h"

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 30;
    if (rounds < 1)
        rounds = 1;
    struct spec_seccomp *s = testlib_seccomp_podman();
    if (s == NULL) {
        fprintf(stderr, "podman's seccomp profile is not installed\n");
        return 77;
    }
    char tmpl[] = "/tmp/keel-seccomp-bench.XXXXXX";
    char *tmp = mkdtemp(tmpl);
    if (tmp == NULL)
        return 1;
    char cache[4096];
    snprintf(cache, sizeof(cache), "%s/seccomp-cache", tmp);
    cleanup_close int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    double *cold = calloc((size_t)rounds, sizeof(double));
    double *warm = calloc((size_t)rounds, sizeof(double));
    double *copy = calloc((size_t)rounds, sizeof(double));
    size_t insns = 0;
    int status = 0;
    for (int i = 0; i < rounds && status == 0; i++) {
        struct keel_error *err = NULL;
        struct seccomp_program *p = NULL;
        double t0 = cpu_now();
        if (seccomp_program_build(s, NULL, &p, &err) < 0)
            status = 1;
        cold[i] = cpu_now() - t0;
        if (p) {
            insns = seccomp_program_len(p);
            if (i == 0 && (seccomp_program_build(s, cache, &p, &err) < 0 ||
                           seccomp_program_save(p, dfd, SECCOMP_STATE_FILE, &err) < 0))
                status = 1; /* fills the cache */
            seccomp_program_free(p);
            p = NULL;
        }
        t0 = cpu_now();
        if (seccomp_program_build(s, cache, &p, &err) < 0 || seccomp_program_was_compiled(p))
            status = 1;
        warm[i] = cpu_now() - t0;
        seccomp_program_free(p);
        p = NULL;
        t0 = cpu_now();
        if (seccomp_program_load_file(dfd, SECCOMP_STATE_FILE, &p, &err) < 0)
            status = 1;
        copy[i] = cpu_now() - t0;
        seccomp_program_free(p);
        if (err)
            fprintf(stderr, "%s\n", error_msg(err));
        error_free(err);
    }
    if (status == 0) {
        printf("podman default profile: %zu syscall rules, %zu BPF instructions, %d rounds\n", s->n_syscalls,
               insns, rounds);
        double c = median(cold, rounds) * 1e3, w = median(warm, rounds) * 1e3, f = median(copy, rounds) * 1e3;
        printf("build, libseccomp compile (no cache): %8.3f ms CPU (median)\n", c);
        printf("build, warm cache (no compile):       %8.3f ms CPU (median)  %.1fx less\n", w,
               w > 0 ? c / w : 0.0);
        printf("load_file of the state-dir copy:      %8.3f ms CPU (median)\n", f);
    }
    free(cold);
    free(warm);
    free(copy);
    testlib_seccomp_free(s);
    fs_remove_tree(tmp, NULL);
    return status;
}
