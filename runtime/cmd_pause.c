/* keel pause ID / keel resume ID: freeze and thaw every process of the
 * container through its cgroup (v1 freezer or cgroup v2 cgroup.freeze). */
#include <stdio.h>
#include <unistd.h>

#include "cgroup_cmd.h"
#include "cleanup.h"
#include "cli.h"
#include "commands.h"
#include "container.h"
#include "error.h"

static int pause_or_resume(struct keel_context *ctx, int argc, char **argv, bool pause,
                           struct keel_error **err)
{
    const char *name = pause ? "pause" : "resume";
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    cli_reset_getopt();
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c != 'h')
            return cli_error_bad_option(name, argc, argv, err);
        printf("Usage: keel %s ID\n\n%s every process of the container.\n", name,
               pause ? "Freeze (suspend)" : "Thaw (resume)");
        return 0;
    }
    const char *id;
    if (cli_take_id(name, argc, argv, &id, err) < 0)
        return -1;
    cleanup_close int dirfd = -1;
    cleanup_container_state struct container_state *s = NULL;
    cleanup_cgroup_manager struct cgroup_manager *m = NULL;
    if (cgcmd_open(ctx, id, true, &dirfd, &s, &m, err) < 0)
        return -1;
    enum container_status st = container_status_of(dirfd, s);
    if (pause && st != CONTAINER_RUNNING)
        return error_set(err, 0, "cannot pause container \"%s\": it is %s, not running", id,
                         container_status_name(st));
    if (!pause && st != CONTAINER_PAUSED)
        return error_set(err, 0, "cannot resume container \"%s\": it is %s, not paused", id,
                         container_status_name(st));
    if (cgroup_freeze(m, pause, err) < 0)
        return error_prefix(err, "%s container \"%s\"", pause ? "pausing" : "resuming", id);
    return 0;
}

int cmd_pause(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    return pause_or_resume(ctx, argc, argv, true, err);
}

int cmd_resume(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    return pause_or_resume(ctx, argc, argv, false, err);
}
