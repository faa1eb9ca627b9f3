/* Loading a container's cgroup for the cgroup commands. */
#include <errno.h>
#include <unistd.h>

#include "cgroup_cmd.h"
#include "cleanup.h"
#include "error.h"

int cgcmd_open(struct keel_context *ctx, const char *id, bool exclusive, int *dirfd,
               struct container_state **s, struct cgroup_manager **m, struct keel_error **err)
{
    cleanup_close int fd = state_dir_open(ctx->root, id, exclusive, err);
    if (fd < 0)
        return -1;
    cleanup_container_state struct container_state *st = NULL;
    if (state_read(fd, id, &st, err) < 0)
        return -1;
    if (!st->cgroup)
        return error_set(err, ENOENT, "container \"%s\" has no cgroup recorded in its state", id);
    cleanup_cgroup_manager struct cgroup_manager *mgr = NULL;
    if (cgroup_manager_load(st->cgroup, &mgr, err) < 0)
        return error_prefix(err, "container \"%s\"", id);
    *dirfd = steal_fd(&fd);
    *s = steal_ptr(&st);
    *m = steal_ptr(&mgr);
    return 0;
}
