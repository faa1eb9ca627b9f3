#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sys/capability.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "process.h"
#include "strbuf.h"
#include "xalloc.h"

int process_parse_cpu_list(const char *s, void *cpuset, unsigned long size, struct keel_error **err)
{
    cpu_set_t *set = cpuset;
    CPU_ZERO_S(size, set);
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        unsigned long a = strtoul(p, &end, 10), b;
        if (end == p || errno)
            return error_set(err, 0, "cpu list \"%s\": expected a number at \"%s\"", s, p);
        b = a;
        p = end;
        if (*p == '-') {
            p++;
            b = strtoul(p, &end, 10);
            if (end == p || b < a)
                return error_set(err, 0, "cpu list \"%s\": bad range", s);
            p = end;
        }
        if (b >= size * 8)
            return error_set(err, 0, "cpu list \"%s\": cpu %lu is out of range", s, b);
        for (unsigned long c = a; c <= b; c++)
            CPU_SET_S(c, size, set);
        if (*p == ',')
            p++;
        else if (*p)
            return error_set(err, 0, "cpu list \"%s\": unexpected \"%s\"", s, p);
    }
    return 0;
}

static int process_set_affinity(const char *list, const char *field, struct keel_error **err)
{
    cpu_set_t set;
    if (process_parse_cpu_list(list, &set, sizeof set, err) < 0)
        return error_prefix(err, "%s", field);
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        return error_set(err, errno, "%s: setting the CPU affinity to \"%s\"", field, list);
    return 0;
}

struct process_sched_attr {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
    uint32_t util_min, util_max;
};

static int process_lookup(const char *name, const char *const *names, const int *values, int *out)
{
    for (size_t i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0) {
            *out = values[i];
            return 0;
        }
    return -1;
}

static int process_apply_scheduler(const struct spec_scheduler *s, struct keel_error **err)
{
    static const char *const policies[] = {"SCHED_OTHER", "SCHED_FIFO", "SCHED_RR",       "SCHED_BATCH",
                                           "SCHED_ISO",   "SCHED_IDLE", "SCHED_DEADLINE", NULL};
    static const int policy_values[] = {0, 1, 2, 3, 4, 5, 6};
    static const char *const flags[] = {"SCHED_FLAG_RESET_ON_FORK",  "SCHED_FLAG_RECLAIM",
                                        "SCHED_FLAG_DL_OVERRUN",     "SCHED_FLAG_KEEP_POLICY",
                                        "SCHED_FLAG_KEEP_PARAMS",    "SCHED_FLAG_UTIL_CLAMP_MIN",
                                        "SCHED_FLAG_UTIL_CLAMP_MAX", NULL};
    static const int flag_values[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40};
    struct process_sched_attr a = {.size = sizeof a};
    int v;
    if (process_lookup(s->policy, policies, policy_values, &v) < 0)
        return error_set(err, 0, "process.scheduler.policy: unknown policy \"%s\"", s->policy);
    a.sched_policy = (uint32_t)v;
    for (char **f = s->flags; f && *f; f++) {
        if (process_lookup(*f, flags, flag_values, &v) < 0)
            return error_set(err, 0, "process.scheduler.flags: unknown flag \"%s\"", *f);
        a.sched_flags |= (uint64_t)v;
    }
    a.sched_nice = s->nice.set ? (int32_t)s->nice.value : 0;
    a.sched_priority = s->priority.set ? (uint32_t)s->priority.value : 0;
    a.sched_runtime = s->runtime.set ? s->runtime.value : 0;
    a.sched_deadline = s->deadline.set ? s->deadline.value : 0;
    a.sched_period = s->period.set ? s->period.value : 0;
    if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
        return error_set(err, errno, "process.scheduler: sched_setattr(policy %s)", s->policy);
    return 0;
}

static int process_apply_ioprio(const struct spec_io_priority *io, struct keel_error **err)
{
    static const char *const classes[] = {"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE", NULL};
    static const int class_values[] = {1, 2, 3};
    int klass;
    if (process_lookup(io->klass, classes, class_values, &klass) < 0)
        return error_set(err, 0, "process.ioPriority.class: unknown class \"%s\"", io->klass);
    if (io->priority < 0 || io->priority > 7)
        return error_set(err, 0, "process.ioPriority.priority: %lld is not in 0..7", (long long)io->priority);
    if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (klass << 13) | (int)io->priority) < 0)
        return error_set(err, errno, "process.ioPriority: ioprio_set(%s, %lld)", io->klass,
                         (long long)io->priority);
    return 0;
}

int process_apply_limits(const struct spec_process *p, const struct spec_linux *l, struct keel_error **err)
{
    for (size_t i = 0; i < p->n_rlimits; i++) {
        const struct spec_rlimit *r = &p->rlimits[i];
        struct rlimit rl = {.rlim_cur = r->soft, .rlim_max = r->hard};
        if (setrlimit(r->resource, &rl) < 0)
            return error_set(err, errno, "process.rlimits: setting %s to soft %llu, hard %llu", r->type,
                             (unsigned long long)r->soft, (unsigned long long)r->hard);
    }
    if (p->oom_score_adj.set) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)p->oom_score_adj.value);
        if (file_write_string("/proc/self/oom_score_adj", buf, err) < 0)
            return error_prefix(err, "process.oomScoreAdj");
    }
    if (p->scheduler.set && process_apply_scheduler(&p->scheduler, err) < 0)
        return -1;
    if (p->io_priority.set && process_apply_ioprio(&p->io_priority, err) < 0)
        return -1;
    if (p->exec_cpu_affinity.initial &&
        process_set_affinity(p->exec_cpu_affinity.initial, "process.execCPUAffinity.initial", err) < 0)
        return -1;
    if (l && l->personality.set) {
        unsigned long persona = strcmp(l->personality.domain, "LINUX32") == 0 ? PER_LINUX32 : PER_LINUX;
        if (personality(persona) < 0)
            return error_set(err, errno, "linux.personality: setting domain %s", l->personality.domain);
    }
    if (p->apparmor_profile && p->apparmor_profile[0] && !fs_exists("/sys/kernel/security/apparmor"))
        return error_set(err, 0,
                         "process.apparmorProfile \"%s\" is set but AppArmor is not enabled on this host",
                         p->apparmor_profile);
    if (p->selinux_label && p->selinux_label[0] && !fs_exists("/sys/fs/selinux/enforce"))
        return error_set(err, 0, "process.selinuxLabel \"%s\" is set but SELinux is not enabled on this host",
                         p->selinux_label);
    return 0;
}

static int process_cap_list(char **names, const char *set, cap_value_t **out, int *n, struct keel_error **err)
{
    size_t len = strv_len(names);
    cap_value_t *v = xcalloc(len + 1, sizeof *v);
    for (size_t i = 0; i < len; i++) {
        if (cap_from_name(names[i], &v[i]) < 0) {
            free(v);
            return error_set(err, 0, "process.capabilities.%s: unknown capability \"%s\"", set, names[i]);
        }
    }
    *out = v;
    *n = (int)len;
    return 0;
}

int process_check_caps(const struct spec_capabilities *c, struct keel_error **err)
{
    if (!c)
        return 0;
    char **sets[] = {c->bounding, c->effective, c->inheritable, c->permitted, c->ambient};
    const char *names[] = {"bounding", "effective", "inheritable", "permitted", "ambient"};
    for (int s = 0; s < 5; s++) {
        cleanup_free cap_value_t *v = NULL;
        int n;
        if (process_cap_list(sets[s], names[s], &v, &n, err) < 0)
            return -1;
    }
    return 0;
}

static bool process_cap_in(const cap_value_t *v, int n, cap_value_t c)
{
    for (int i = 0; i < n; i++)
        if (v[i] == c)
            return true;
    return false;
}

static int process_apply_caps(const struct spec_capabilities *c, struct keel_error **err)
{
    cleanup_free cap_value_t *bnd = NULL, *eff = NULL, *inh = NULL, *prm = NULL, *amb = NULL;
    int nb, ne, ni, np, na;
    if (process_cap_list(c->bounding, "bounding", &bnd, &nb, err) < 0 ||
        process_cap_list(c->effective, "effective", &eff, &ne, err) < 0 ||
        process_cap_list(c->inheritable, "inheritable", &inh, &ni, err) < 0 ||
        process_cap_list(c->permitted, "permitted", &prm, &np, err) < 0 ||
        process_cap_list(c->ambient, "ambient", &amb, &na, err) < 0)
        return -1;
    cap_t caps = cap_init();
    if (!caps)
        return error_set(err, errno, "process.capabilities: cap_init");
    int r = 0;
    if ((ne && cap_set_flag(caps, CAP_EFFECTIVE, ne, eff, CAP_SET) < 0) ||
        (ni && cap_set_flag(caps, CAP_INHERITABLE, ni, inh, CAP_SET) < 0) ||
        (np && cap_set_flag(caps, CAP_PERMITTED, np, prm, CAP_SET) < 0))
        r = error_set(err, errno, "process.capabilities: building the capability sets");
    if (r == 0 && cap_set_proc(caps) < 0)
        r = error_set(err, errno,
                      "process.capabilities: applying the effective, permitted and inheritable sets");
    cap_free(caps);
    if (r < 0)
        return r;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return error_set(err, errno, "process.capabilities.ambient: clearing");
    for (int i = 0; i < na; i++) {
        /* The kernel only accepts ambient caps that are permitted and
         * inheritable; like runc, others are skipped rather than fatal
         * (`runc spec` lists ambient caps without inheritable ones). */
        if (!process_cap_in(prm, np, amb[i]) || !process_cap_in(inh, ni, amb[i]))
            continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, amb[i], 0, 0) < 0)
            return error_set(err, errno, "process.capabilities.ambient: raising %s", c->ambient[i]);
    }
    return 0;
}

static int process_drop_bounding(const struct spec_capabilities *c, struct keel_error **err)
{
    cleanup_free cap_value_t *bnd = NULL;
    int nb;
    if (process_cap_list(c->bounding, "bounding", &bnd, &nb, err) < 0)
        return -1;
    int last = (int)cap_max_bits();
    for (int cap = 0; cap < last; cap++) {
        if (process_cap_in(bnd, nb, cap))
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            return error_set(err, errno, "process.capabilities.bounding: dropping capability %d", cap);
    }
    return 0;
}

int process_apply_identity(const struct spec_process *p, struct keel_error **err)
{
    const struct spec_capabilities *c = p->capabilities;
    if (c && process_drop_bounding(c, err) < 0)
        return -1;
    if (c && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return error_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
    if (setgroups(p->user.n_additional_gids, p->user.additional_gids) < 0 && errno != EPERM)
        return error_set(err, errno, "process.user.additionalGids: setgroups");
    if (setresgid(p->user.gid, p->user.gid, p->user.gid) < 0)
        return error_set(err, errno, "process.user.gid: setting gid %u", (unsigned)p->user.gid);
    if (setresuid(p->user.uid, p->user.uid, p->user.uid) < 0)
        return error_set(err, errno, "process.user.uid: setting uid %u", (unsigned)p->user.uid);
    if (c && process_apply_caps(c, err) < 0)
        return -1;
    if (c && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return error_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
    if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return error_set(err, errno, "process.noNewPrivileges");
    umask(p->user.umask.set ? (mode_t)p->user.umask.value : 022);
    return 0;
}

int process_chdir(const struct spec_process *p, struct keel_error **err)
{
    const char *cwd = p->cwd && p->cwd[0] ? p->cwd : "/";
    if (cwd[0] != '/')
        return error_set(err, 0, "process.cwd \"%s\" must be an absolute path", cwd);
    if (chdir(cwd) < 0) {
        if (errno != ENOENT || fs_mkdir_p(cwd, 0755, err) < 0 || chdir(cwd) < 0)
            return error_set(err, errno, "process.cwd: changing to `%s`", cwd);
    }
    /* A cwd reached through a leaked fd or a magic link lies outside the
     * root: getcwd then reports it as "(unreachable)" or fails. */
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof buf) || buf[0] != '/')
        return error_set(err, errno ? errno : EPERM, "process.cwd `%s` resolves outside the container's root",
                         cwd);
    return 0;
}

static int process_cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

int process_close_fds_keep(unsigned n_preserve, const int *keep, size_t n_keep, struct keel_error **err)
{
    unsigned first = 3 + n_preserve;
    for (unsigned fd = 3; fd < first; fd++) {
        int fl = fcntl((int)fd, F_GETFD);
        if (fl >= 0 && (fl & FD_CLOEXEC))
            fcntl((int)fd, F_SETFD, fl & ~FD_CLOEXEC);
    }
    int sorted[8];
    if (n_keep > 8)
        return error_set(err, EINVAL, "too many fds to keep");
    memcpy(sorted, keep, n_keep * sizeof(int));
    qsort(sorted, n_keep, sizeof(int), process_cmp_int);
    unsigned lo = first;
    for (size_t i = 0; i < n_keep; i++) {
        if (sorted[i] < (int)first)
            continue;
        if ((unsigned)sorted[i] > lo && syscall(SYS_close_range, lo, (unsigned)sorted[i] - 1, 0) < 0)
            return error_set(err, errno, "closing inherited file descriptors");
        lo = (unsigned)sorted[i] + 1;
    }
    if (syscall(SYS_close_range, lo, ~0U, 0) < 0)
        return error_set(err, errno, "closing inherited file descriptors");
    return 0;
}

int process_close_fds(unsigned n_preserve, int keep_a, int keep_b, struct keel_error **err)
{
    int keep[2] = {keep_a, keep_b};
    return process_close_fds_keep(n_preserve, keep, 2, err);
}

static const char *process_env_get(char **env, const char *name)
{
    size_t n = strlen(name);
    for (; env && *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

int process_find_executable(const struct spec_process *p, char **out, struct keel_error **err)
{
    if (!p->args || !p->args[0] || !p->args[0][0])
        return error_set(err, 0, "process.args must name the program to run");
    const char *name = p->args[0];
    if (strchr(name, '/')) {
        struct stat st;
        if (stat(name, &st) < 0)
            return error_set(err, errno, "exec: \"%s\"", name);
        /* Engines map "permission denied" to exit 126 and "not found" to 127. */
        if (!S_ISREG(st.st_mode) || access(name, X_OK) < 0)
            return error_set(err, EACCES, "exec: \"%s\"", name);
        *out = xstrdup(name);
        return 0;
    }
    const char *path = process_env_get(p->env, "PATH");
    if (!path)
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    cleanup_free char *copy = xstrdup(path);
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        cleanup_free char *cand = xasprintf("%s/%s", dir[0] ? dir : ".", name);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
            *out = steal_ptr(&cand);
            return 0;
        }
    }
    return error_set(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", name);
}

/* The home directory of uid in the container's /etc/passwd, or "/". */
static char *process_home_of(uid_t uid)
{
    cleanup_file FILE *f = fopen("/etc/passwd", "re");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        char *fields[7];
        int n = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, ":\n", &save); t && n < 7; t = strtok_r(NULL, ":\n", &save))
            fields[n++] = t;
        if (n >= 6 && strtoul(fields[2], NULL, 10) == uid)
            return xstrdup(fields[5]);
    }
    return xstrdup("/");
}

int process_exec(const struct spec_process *p, const char *path, char **extra_env, struct keel_error **err)
{
    if (p->exec_cpu_affinity.final &&
        process_set_affinity(p->exec_cpu_affinity.final, "process.execCPUAffinity.final", err) < 0)
        return -1;
    char **env = p->env;
    cleanup_free char **merged = NULL;
    cleanup_free char *home = NULL;
    if (!process_env_get(p->env, "HOME")) {
        cleanup_free char *dir = process_home_of(p->user.uid);
        home = xasprintf("HOME=%s", dir);
    }
    if ((extra_env && extra_env[0]) || home) {
        size_t n = strv_len(p->env), m = extra_env ? strv_len(extra_env) : 0;
        merged = xcalloc(n + m + 2, sizeof(char *));
        if (n)
            memcpy(merged, p->env, n * sizeof(char *));
        if (m)
            memcpy(merged + n, extra_env, m * sizeof(char *));
        if (home)
            merged[n + m] = home;
        env = merged;
    }
    static char *const empty[] = {NULL};
    execve(path, p->args, env ? env : empty);
    return error_set(err, errno, "exec `%s`", path);
}

/* CVE-2019-5736: the keel binary must never run as the container's
 * process, or a container could keep a handle on it and overwrite it once
 * keel exits.  The only way the container can reach the binary is
 * /proc/self/exe of the init (other processes cannot: the init is not
 * dumpable), either as the program or as a script's interpreter. */
int process_refuse_runtime_exe(const char *path, struct keel_error **err)
{
    struct stat self, st;
    if (stat("/proc/self/exe", &self) < 0)
        return 0; /* no /proc in the container: nothing can name the binary */
    char cur[PATH_MAX];
    snprintf(cur, sizeof cur, "%s", path);
    for (int depth = 0; depth < 6; depth++) {
        cleanup_close int fd = open(cur, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return 0; /* exec will report it */
        if (fstat(fd, &st) == 0 && st.st_dev == self.st_dev && st.st_ino == self.st_ino)
            return error_set(err, EPERM,
                             "exec `%s`: refusing to run the runtime's own binary in the container", path);
        char buf[PATH_MAX + 2];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n < 3 || buf[0] != '#' || buf[1] != '!')
            return 0;
        buf[n] = '\0';
        char *s = buf + 2;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t len = strcspn(s, " \t\n");
        if (len == 0 || len >= sizeof cur)
            return 0;
        memcpy(cur, s, len);
        cur[len] = '\0';
    }
    return 0;
}
