/* Namespaces of a new container: which are created by clone, which are
 * joined by path (setns in the init), and the user namespace id maps
 * (written by the parent, which is privileged in the parent namespace).
 *
 * Strategy (docs/lifecycle.md): fresh pid/net/mnt/ipc/uts/user namespaces
 * come from clone3 itself; the cgroup namespace is unshared by the init
 * after the parent moved it into its cgroup (so the cgroup is its root); the
 * time namespace is unshared, its offsets written, then entered through
 * /proc/self/ns/time_for_children.  Namespaces given by path are opened by
 * the parent (so a bad path fails before anything is cloned) and joined by
 * the init; a pid namespace path is applied to the parent's
 * pid_for_children around the clone. */
#ifndef KEEL_NAMESPACES_H
#define KEEL_NAMESPACES_H

#include <stdbool.h>
#include <sys/types.h>

#include "spec.h"

struct keel_error;

struct ns_plan {
    int clone_flags;            /* CLONE_NEW* passed to clone3 */
    int join_fd[SPEC_NS_COUNT]; /* -1 or an fd on the namespace to join */
    bool new_user, new_cgroup, new_time, new_pid, new_uts, new_mount;
};

/* Build the plan from linux.namespaces; opens the paths.  Errors name the path. */
int ns_plan_build(const struct spec_config *cfg, struct ns_plan *plan, struct keel_error **err);
void ns_plan_release(struct ns_plan *plan);

/* clone3 (clone on old kernels) with the plan's flags and SIGCHLD: returns
 * the child's pid in the parent and 0 in the child, like fork. */
pid_t ns_clone(const struct ns_plan *plan, struct keel_error **err);

/* Parent: write setgroups/uid_map/gid_map of the child's new user namespace. */
int ns_write_id_maps(pid_t pid, const struct spec_config *cfg, struct keel_error **err);

/* Init: join the namespaces given by path (user first). */
int ns_join(const struct ns_plan *plan, struct keel_error **err);
/* Init, after the parent put it in its cgroup: the cgroup and time namespaces. */
int ns_unshare_late(const struct ns_plan *plan, const struct spec_config *cfg, struct keel_error **err);

#endif
