/* keel exec [options] ID [ARGS...] (runc's flags). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "commands.h"
#include "error.h"
#include "exec.h"
#include "xalloc.h"

static void strv_push(char ***v, const char *s)
{
    size_t n = strv_len(*v);
    *v = xrealloc(*v, (n + 2) * sizeof(char *));
    (*v)[n] = xstrdup(s);
    (*v)[n + 1] = NULL;
}

/* "a,b" and repeated flags both add */
static void strv_push_list(char ***v, const char *s)
{
    cleanup_free char *copy = xstrdup(s);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        strv_push(v, t);
}

enum {
    OPT_PID_FILE = 1000,
    OPT_CONSOLE_SOCKET,
    OPT_CWD,
    OPT_ADDITIONAL_GIDS,
    OPT_CAP,
    OPT_NNP,
    OPT_APPARMOR,
    OPT_LABEL,
    OPT_PRESERVE_FDS,
    OPT_IGNORE_PAUSED,
    OPT_PROCESS
};

int cmd_exec(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"process", required_argument, NULL, 'p'},
        {"tty", no_argument, NULL, 't'},
        {"detach", no_argument, NULL, 'd'},
        {"pid-file", required_argument, NULL, OPT_PID_FILE},
        {"console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET},
        {"env", required_argument, NULL, 'e'},
        {"cwd", required_argument, NULL, OPT_CWD},
        {"user", required_argument, NULL, 'u'},
        {"additional-gids", required_argument, NULL, 'g'},
        {"cap", required_argument, NULL, 'c'},
        {"no-new-privs", no_argument, NULL, OPT_NNP},
        {"apparmor", required_argument, NULL, OPT_APPARMOR},
        {"process-label", required_argument, NULL, OPT_LABEL},
        {"preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS},
        {"ignore-paused", no_argument, NULL, OPT_IGNORE_PAUSED},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct exec_opts o = {0};
    cleanup_strv char **env = NULL, **caps = NULL, **gids = NULL;
    cli_reset_getopt();
    int c;
    while ((c = getopt_long(argc, argv, "+p:tde:u:g:c:h", opts, NULL)) != -1) {
        unsigned long long n;
        switch (c) {
        case 'p':
            o.process_file = optarg;
            break;
        case 't':
            o.tty = true;
            break;
        case 'd':
            o.detach = true;
            break;
        case OPT_PID_FILE:
            o.pid_file = optarg;
            break;
        case OPT_CONSOLE_SOCKET:
            o.console_socket = optarg;
            break;
        case 'e':
            strv_push(&env, optarg);
            break;
        case OPT_CWD:
            o.cwd = optarg;
            break;
        case 'u':
            o.user = optarg;
            break;
        case 'g':
            strv_push_list(&gids, optarg);
            break;
        case 'c':
            strv_push(&caps, optarg);
            break;
        case OPT_NNP:
            o.no_new_privs = true;
            break;
        case OPT_APPARMOR:
            o.apparmor = optarg;
            break;
        case OPT_LABEL:
            o.process_label = optarg;
            break;
        case OPT_PRESERVE_FDS:
            if (cli_parse_uint("exec: --preserve-fds", optarg, 1 << 20, &n, err) < 0)
                return -1;
            o.preserve_fds = (unsigned)n;
            break;
        case OPT_IGNORE_PAUSED:
            o.ignore_paused = true;
            break;
        case 'h':
            printf("Usage: keel exec [OPTIONS] ID [ARGS...]\n\n"
                   "  -p, --process FILE     process.json to run (instead of ARGS)\n"
                   "  -t, --tty              allocate a terminal\n"
                   "  -d, --detach           do not wait for the process\n"
                   "  --pid-file FILE        write the process' pid\n"
                   "  --console-socket PATH  send the terminal's master to this unix socket\n"
                   "  -e, --env KEY=VALUE    add/replace an environment variable\n"
                   "  --cwd DIR              working directory\n"
                   "  -u, --user UID[:GID]   run as this user\n"
                   "  --additional-gids GID  supplementary group (repeatable)\n"
                   "  --cap CAP              add a capability (repeatable)\n"
                   "  --no-new-privs  --apparmor PROFILE  --process-label LABEL\n"
                   "  --preserve-fds N  --ignore-paused\n");
            return 0;
        default:
            return cli_error_bad_option("exec", argc, argv, err);
        }
    }
    if (optind >= argc)
        return error_set(err, 0, "exec: missing container ID");
    o.id = argv[optind];
    if (cli_validate_id(o.id, err) < 0)
        return -1;
    o.args = argv + optind + 1;
    if (o.process_file && o.args[0])
        return error_set(err, 0, "exec: give either --process or ARGS, not both");
    if (!o.process_file && !o.args[0])
        return error_set(err, 0, "exec: missing the command to run (ARGS or --process)");
    o.env = env;
    o.caps = caps;
    o.additional_gids = gids;
    return exec_container(ctx, &o, err);
}
