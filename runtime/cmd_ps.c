/* keel ps [--format table|json] ID [PS-ARGS...]: the container's processes,
 * from its cgroup.  json prints the pids; table runs ps(1) (default -ef) and
 * keeps the header and the lines of the container's pids, as runc does. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup_cmd.h"
#include "cleanup.h"
#include "cli.h"
#include "commands.h"
#include "error.h"
#include "strbuf.h"
#include "xalloc.h"

static bool has_pid(const pid_t *pids, size_t n, long pid)
{
    for (size_t i = 0; i < n; i++)
        if (pids[i] == pid)
            return true;
    return false;
}

/* Run ps with args and capture its output. */
static int run_ps(char **args, int nargs, char **out, struct keel_error **err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return error_set(err, errno, "pipe");
    pid_t child = fork();
    if (child < 0)
        return error_set(err, errno, "fork");
    if (child == 0) {
        dup2(p[1], 1);
        char **argv = xcalloc((size_t)nargs + 3, sizeof(char *));
        argv[0] = (char *)"ps";
        if (nargs == 0)
            argv[1] = (char *)"-ef";
        for (int i = 0; i < nargs; i++)
            argv[i + 1] = args[i];
        execvp("ps", argv);
        fprintf(stderr, "keel ps: exec ps: %s\n", strerror(errno));
        _exit(127);
    }
    close(p[1]);
    struct strbuf sb = STRBUF_INIT;
    char buf[4096];
    ssize_t r;
    while ((r = read(p[0], buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
        if (r > 0)
            strbuf_append(&sb, buf, (size_t)r);
    close(p[0]);
    int st;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        strbuf_release(&sb);
        return error_set(err, 0, "ps failed (status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    *out = strbuf_detach(&sb);
    return 0;
}

int cmd_ps(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *format = "table";
    cli_reset_getopt();
    int c;
    while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
        if (c == 'f') {
            format = optarg;
            continue;
        }
        if (c != 'h')
            return cli_error_bad_option("ps", argc, argv, err);
        printf("Usage: keel ps [--format table|json] ID [PS-ARGS...]\n\n"
               "List the processes of the container (ps -ef by default).\n");
        return 0;
    }
    if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
        return error_set(err, 0, "ps: --format must be table or json, not \"%s\"", format);
    if (optind >= argc)
        return error_set(err, 0, "ps: missing container ID");
    const char *id = argv[optind];
    if (cli_validate_id(id, err) < 0)
        return -1;
    char **ps_args = argv + optind + 1;
    int n_ps_args = argc - optind - 1;
    if (n_ps_args > 0 && strcmp(ps_args[0], "--") == 0)
        ps_args++, n_ps_args--;

    cleanup_close int dirfd = -1;
    cleanup_container_state struct container_state *s = NULL;
    cleanup_cgroup_manager struct cgroup_manager *m = NULL;
    if (cgcmd_open(ctx, id, false, &dirfd, &s, &m, err) < 0)
        return -1;
    cleanup_free pid_t *pids = NULL;
    size_t n = 0;
    if (cgroup_get_pids(m, &pids, &n, err) < 0)
        return error_prefix(err, "container \"%s\"", id);

    if (strcmp(format, "json") == 0) {
        if (n_ps_args > 0)
            return error_set(err, 0, "ps: PS-ARGS cannot be used with --format json");
        printf("[");
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? "," : "", (int)pids[i]);
        printf("]\n");
        return 0;
    }
    cleanup_free char *out = NULL;
    if (run_ps(ps_args, n_ps_args, &out, err) < 0)
        return -1;
    /* find the PID column in the header */
    char *nl = strchr(out, '\n');
    if (!nl)
        return error_set(err, 0, "ps printed no header");
    *nl = '\0';
    int col = -1, i = 0;
    cleanup_free char *hdr = xstrdup(out);
    char *save = NULL;
    for (char *t = strtok_r(hdr, " \t", &save); t; t = strtok_r(NULL, " \t", &save), i++)
        if (strcmp(t, "PID") == 0)
            col = i;
    if (col < 0)
        return error_set(err, 0, "ps output has no PID column (header \"%s\")", out);
    printf("%s\n", out);
    for (char *line = nl + 1; *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        cleanup_free char *copy = xstrdup(line);
        char *sv = NULL, *t = strtok_r(copy, " \t", &sv);
        for (int k = 0; t && k < col; k++)
            t = strtok_r(NULL, " \t", &sv);
        if (t && has_pid(pids, n, strtol(t, NULL, 10)))
            printf("%s\n", line);
        if (!end)
            break;
        line = end + 1;
    }
    return 0;
}
