/* hoist run: from an image reference to a running container in one
 * command.  Pull if needed, make a bundle (an overlay of cached layers
 * where the kernel allows, else a plain copy), run it with `keel run` in
 * the foreground, and remove the bundle with --rm. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle.h"
#include "cleanup.h"
#include "commands.h"
#include "error.h"
#include "fileutil.h"
#include "layer_owner.h"
#include "log.h"
#include "platform.h"
#include "xalloc.h"

static void run_usage(FILE *out)
{
    fprintf(out, "Usage: hoist run [OPTIONS] REF [CMD [ARG...]]\n\n"
                 "Run image REF (pulled first when the store lacks it) with keel.\n\nOptions:\n"
                 "  --rm                  remove the bundle when the container exits\n"
                 "  -i, --interactive     keep stdin attached (it always is; accepted for docker users)\n"
                 "  -t, --tty             give the process a terminal\n"
                 "  -e, --env K=V         set an environment variable (K alone: take it from here)\n"
                 "  -w, --workdir DIR     working directory inside the container\n"
                 "  -u, --user USER[:GROUP]  user to run as (names resolved in the image)\n"
                 "  --name ID             container id and bundle name (default: hoist-RANDOM)\n"
                 "  --platform OS/ARCH    platform of a multi-platform image\n"
                 "  --overlay=true|false  overlay bundle (default: true where the kernel allows)\n"
                 "  --runtime PATH        the keel binary (default: next to hoist, else $PATH)\n"
                 "  --runtime-root DIR    keel's --root\n"
                 "  -h, --help            this help\n");
}

enum { OPT_RM = 256, OPT_NAME, OPT_PLATFORM, OPT_OVERLAY, OPT_RUNTIME, OPT_RUNTIME_ROOT };

struct run_opts {
    bool rm, tty, overlay, overlay_set;
    char **env;
    size_t n_env;
    const char *workdir, *user, *name, *runtime, *runtime_root;
    struct oci_platform *platform;
};

static void run_opts_release(struct run_opts *o)
{
    strv_free(o->env);
    platform_free(o->platform);
}

static int run_add_env(struct run_opts *o, const char *kv, struct keel_error **err)
{
    char *item;
    if (strchr(kv, '=')) {
        item = xstrdup(kv);
    } else {
        const char *v = getenv(kv);
        if (!v)
            return 0; /* as docker: an unset variable is left out */
        item = xasprintf("%s=%s", kv, v);
    }
    if (item[0] == '=') {
        free(item);
        return error_set(err, EINVAL, "--env `%s`: the name is empty", kv);
    }
    o->env = xrealloc(o->env, (o->n_env + 2) * sizeof(char *));
    o->env[o->n_env++] = item;
    o->env[o->n_env] = NULL;
    return 0;
}

static int run_parse(int argc, char **argv, struct run_opts *o, bool *help, struct keel_error **err)
{
    static const struct option opts[] = {
        {"rm", no_argument, NULL, OPT_RM},
        {"interactive", no_argument, NULL, 'i'},
        {"tty", no_argument, NULL, 't'},
        {"env", required_argument, NULL, 'e'},
        {"workdir", required_argument, NULL, 'w'},
        {"user", required_argument, NULL, 'u'},
        {"name", required_argument, NULL, OPT_NAME},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"overlay", optional_argument, NULL, OPT_OVERLAY},
        {"runtime", required_argument, NULL, OPT_RUNTIME},
        {"runtime-root", required_argument, NULL, OPT_RUNTIME_ROOT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 0;
    opterr = 0;
    int c;
    /* "+": options stop at REF; what follows is the container's command. */
    while ((c = getopt_long(argc, argv, "+ite:w:u:h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_RM:
            o->rm = true;
            break;
        case 'i':
            break;
        case 't':
            o->tty = true;
            break;
        case 'e':
            if (run_add_env(o, optarg, err) < 0)
                return -1;
            break;
        case 'w':
            if (optarg[0] != '/')
                return error_set(err, EINVAL, "--workdir `%s`: must be an absolute path", optarg);
            o->workdir = optarg;
            break;
        case 'u':
            o->user = optarg;
            break;
        case OPT_NAME:
            if (!optarg[0] || strchr(optarg, '/') || strcmp(optarg, ".") == 0 || strcmp(optarg, "..") == 0)
                return error_set(err, EINVAL, "--name `%s`: not a valid container id", optarg);
            o->name = optarg;
            break;
        case OPT_PLATFORM:
            platform_free(o->platform);
            o->platform = NULL;
            if (platform_parse(optarg, &o->platform, err) < 0)
                return -1;
            break;
        case OPT_OVERLAY:
            o->overlay_set = true;
            if (bundle_parse_overlay_option(optarg, &o->overlay, err) < 0)
                return -1;
            break;
        case OPT_RUNTIME:
            o->runtime = optarg;
            break;
        case OPT_RUNTIME_ROOT:
            o->runtime_root = optarg;
            break;
        case 'h':
            *help = true;
            return 0;
        default:
            return error_set(err, EINVAL, "run: unknown or incomplete option \"%s\" (see `hoist run --help`)",
                             argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return error_set(err, EINVAL, "run: expected an image reference (see `hoist run --help`)");
    return optind;
}

/* keel next to this hoist (a build directory, or both installed in one
 * bin/), else whatever "keel" $PATH finds. */
static char *run_find_keel(const char *given)
{
    if (given)
        return xstrdup(given);
    const char *env = getenv("KEEL");
    if (env && env[0])
        return xstrdup(env);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *path = xasprintf("%s/keel", dirname(self));
        if (access(path, X_OK) == 0)
            return path;
        free(path);
    }
    return xstrdup("keel");
}

/* Run argv (with signal mask child_mask) in the foreground; signals sent to
 * hoist (not those a terminal sends to the whole process group) are passed
 * on, those pending already too. Returns the exit status. */
static int run_foreground(char **argv, const sigset_t *child_mask, struct keel_error **err)
{
    sigset_t mask, old;
    sigemptyset(&mask);
    int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof(forwarded) / sizeof(*forwarded); i++)
        sigaddset(&mask, forwarded[i]);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, &old);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        sigprocmask(SIG_SETMASK, &old, NULL);
        return error_set(err, e, "starting `%s`", argv[0]);
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, child_mask, NULL);
        execvp(argv[0], argv);
        fprintf(stderr, "hoist: running `%s`: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status = 0;
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&mask, &si);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            if (si.si_code != SI_KERNEL)
                kill(pid, sig);
            continue;
        }
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

/* Whether SIGINT, SIGTERM or SIGHUP is pending that hoist blocked itself
 * (restore_mask does not block it). */
static bool run_stop_pending(const sigset_t *restore_mask)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    sigset_t pending;
    sigpending(&pending);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
        if (sigismember(&pending, sigs[i]) == 1 && sigismember(restore_mask, sigs[i]) == 0)
            return true;
    return false;
}

static int run_make_bundle(struct hoist_context *ctx, const struct run_opts *o, const char *ref, char **cmd,
                           const char *dir, sigset_t *restore_mask, struct keel_error **err)
{
    struct layer_owner owner;
    layer_owner_init(&owner, LAYER_OWNER_PRIVILEGED, NULL, NULL);
    struct bundle_opts bo = {
        .owner = &owner,
        .log = &ctx->log,
        .overlay = o->overlay_set ? o->overlay : bundle_overlay_supported(),
        .convert =
            {
                .args = cmd,
                .env = o->env,
                .cwd = o->workdir,
                .user = o->user,
                .terminal = o->tty,
                .writable_root = true,
            },
    };
    int rc = -1;
    if (geteuid() != 0)
        error_set(err, EPERM,
                  "hoist run needs root (rootless containers: `hoist unpack --rootless`, then keel)");
    else if (bo.overlay && !bundle_overlay_supported())
        error_set(err, ENOTSUP, "--overlay: this kernel has no overlayfs");
    else
        rc = bundle_unpack_ref(ctx, ref, o->platform, dir, &bo, restore_mask, err);
    layer_owner_release(&owner);
    return rc;
}

int cmd_run(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err)
{
    struct run_opts o = {0};
    bool help = false;
    int rc = -1;
    int first = run_parse(argc, argv, &o, &help, err);
    if (first < 0 || help) {
        if (help)
            run_usage(stdout);
        run_opts_release(&o);
        return help ? 0 : -1;
    }
    cleanup_free char *gen_name = NULL;
    if (!o.name) {
        unsigned char rnd[6];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            run_opts_release(&o);
            return error_set(err, errno, "choosing a container name");
        }
        gen_name =
            xasprintf("hoist-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
        o.name = gen_name;
    }
    cleanup_free char *bundles = xasprintf("%s/bundles", ctx->store);
    cleanup_free char *dir = xasprintf("%s/%s", bundles, o.name);
    if (fs_mkdir_p(bundles, 0700, err) < 0)
        goto out;
    if (fs_exists(dir)) {
        error_set(err, EEXIST, "a bundle named `%s` exists already (`%s`)", o.name, dir);
        goto out;
    }
    /* From a complete bundle on, the stop signals stay blocked, so that one
     * which comes before keel runs cannot kill hoist and leave the bundle. */
    sigset_t restore_mask;
    if (run_make_bundle(ctx, &o, argv[first], argv + first + 1, dir, &restore_mask, err) < 0)
        goto out;
    if (run_stop_pending(&restore_mask)) {
        error_set(err, EINTR, "interrupted before the container started");
        bundle_remove(dir, NULL);
    } else {
        cleanup_free char *keel = run_find_keel(o.runtime);
        char *kargv[12];
        size_t k = 0;
        kargv[k++] = keel;
        if (o.runtime_root) {
            kargv[k++] = "--root";
            kargv[k++] = (char *)o.runtime_root;
        }
        kargv[k++] = "run";
        kargv[k++] = "--bundle";
        kargv[k++] = dir;
        kargv[k++] = (char *)o.name;
        kargv[k] = NULL;
        log_debug(&ctx->log, "running %s in bundle %s", o.name, dir);
        rc = run_foreground(kargv, &restore_mask, err);
        if (o.rm) {
            cleanup_error struct keel_error *e = NULL;
            if (bundle_remove(dir, &e) < 0)
                log_warn(&ctx->log, "removing bundle `%s`: %s", dir, e->msg);
        }
    }
    pthread_sigmask(SIG_SETMASK, &restore_mask, NULL);
out:
    run_opts_release(&o);
    return rc;
}
