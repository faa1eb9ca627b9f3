#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "namespaces.h"
#include "strbuf.h"
#include "userns.h"
#include "xalloc.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int ns_plan_build(const struct spec_config *cfg, struct ns_plan *plan, struct keel_error **err)
{
    memset(plan, 0, sizeof *plan);
    for (int i = 0; i < SPEC_NS_COUNT; i++)
        plan->join_fd[i] = -1;
    const struct spec_linux *l = cfg->linux;
    if (!l)
        return 0;
    bool joins_other = false;
    for (size_t i = 0; i < l->n_namespaces; i++) {
        const struct spec_namespace *ns = &l->namespaces[i];
        int flag = spec_ns_clone_flag(ns->type);
        if (ns->path && ns->path[0]) {
            int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                ns_plan_release(plan);
                return error_set(err, errno, "linux.namespaces: opening the %s namespace `%s`",
                                 spec_ns_name(ns->type), ns->path);
            }
            int type = ioctl(fd, NS_GET_NSTYPE);
            if (type >= 0 && type != flag) {
                close(fd);
                ns_plan_release(plan);
                return error_set(err, 0, "linux.namespaces: `%s` is not a %s namespace", ns->path,
                                 spec_ns_name(ns->type));
            }
            plan->join_fd[ns->type] = fd;
            /* With a new user namespace, net/ipc/uts/cgroup paths are
             * joined by the parent around the clone (see ns_clone). */
            if (ns->type == SPEC_NS_MOUNT || ns->type == SPEC_NS_TIME)
                joins_other = true;
            continue;
        }
        switch (ns->type) {
        case SPEC_NS_CGROUP:
            plan->new_cgroup = true;
            break;
        case SPEC_NS_TIME:
            plan->new_time = true;
            break;
        default:
            plan->clone_flags |= flag;
        }
        plan->new_user |= ns->type == SPEC_NS_USER;
        plan->new_pid |= ns->type == SPEC_NS_PID;
        plan->new_uts |= ns->type == SPEC_NS_UTS;
        plan->new_mount |= ns->type == SPEC_NS_MOUNT;
    }
    /* A namespace made by clone is owned by the user namespace clone is in;
     * mixing joins with a fresh user namespace (or a joined user namespace
     * with fresh others) would need a second fork to get the ownership
     * right.  Say so instead of making namespaces the container cannot use. */
    if (plan->new_user && joins_other) {
        ns_plan_release(plan);
        return error_set(err, EOPNOTSUPP,
                         "linux.namespaces: joining a mount or time namespace by path together with "
                         "creating a user namespace is not supported");
    }
    /* Without privileges only a user namespace lets clone make the others:
     * say what is missing instead of clone's bare EPERM. */
    if (geteuid() != 0 && !plan->new_user && plan->join_fd[SPEC_NS_USER] < 0 &&
        (plan->clone_flags || plan->new_cgroup || plan->new_time)) {
        ns_plan_release(plan);
        return error_set(err, EPERM,
                         "linux.namespaces: creating namespaces without privileges needs a user namespace "
                         "(add {\"type\": \"user\"} with uidMappings/gidMappings, as `keel spec --rootless` "
                         "writes)");
    }
    if (!(plan->clone_flags & CLONE_NEWNS) && plan->join_fd[SPEC_NS_MOUNT] < 0) {
        ns_plan_release(plan);
        return error_set(err, 0, "linux.namespaces: a mount namespace is required");
    }
    return 0;
}

void ns_plan_release(struct ns_plan *plan)
{
    for (int i = 0; i < SPEC_NS_COUNT; i++)
        if (plan->join_fd[i] >= 0) {
            close(plan->join_fd[i]);
            plan->join_fd[i] = -1;
        }
}

struct ns_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static pid_t ns_clone_raw(const void *plan, unsigned long extra_flags, struct keel_error **err);

/* The namespaces a new user namespace must not own: joined by the parent
 * itself, with its own namespace restored right after the clone. */
static const enum spec_ns_type ns_parent_joined[] = {SPEC_NS_NETWORK, SPEC_NS_IPC, SPEC_NS_UTS,
                                                     SPEC_NS_CGROUP};
#define NS_PARENT_JOINED (sizeof ns_parent_joined / sizeof ns_parent_joined[0])

static int ns_parent_enter(const struct ns_plan *plan, int saved[NS_PARENT_JOINED], struct keel_error **err)
{
    /* All slots first: on failure the caller restores every slot, also
     * those after the one that failed. */
    for (size_t i = 0; i < NS_PARENT_JOINED; i++)
        saved[i] = -1;
    for (size_t i = 0; i < NS_PARENT_JOINED; i++) {
        enum spec_ns_type t = ns_parent_joined[i];
        if (!plan->new_user || plan->join_fd[t] < 0)
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/self/ns/%s", t == SPEC_NS_NETWORK ? "net" : spec_ns_name(t));
        saved[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (saved[i] < 0)
            return error_set(err, errno, "opening `%s`", path);
        if (setns(plan->join_fd[t], spec_ns_clone_flag(t)) < 0)
            return error_set(err, errno, "joining the %s namespace given in linux.namespaces",
                             spec_ns_name(t));
    }
    return 0;
}

static int ns_parent_restore(int saved[NS_PARENT_JOINED], struct keel_error **err)
{
    int r = 0;
    for (size_t i = 0; i < NS_PARENT_JOINED; i++) {
        if (saved[i] < 0)
            continue;
        if (setns(saved[i], spec_ns_clone_flag(ns_parent_joined[i])) < 0 && r == 0)
            r = error_set(err, errno, "returning to keel's own %s namespace",
                          spec_ns_name(ns_parent_joined[i]));
        close(saved[i]);
        saved[i] = -1;
    }
    return r;
}

pid_t ns_clone(const struct ns_plan *plan, struct keel_error **err)
{
    /* New namespaces must belong to a joined user namespace: clone from
     * inside it (userns.c); ns_join then finds the user namespace entered. */
    if (plan->join_fd[SPEC_NS_USER] >= 0 && (plan->clone_flags & ~CLONE_NEWUSER))
        return userns_clone_inside(plan->join_fd[SPEC_NS_USER], ns_clone_raw, plan, err);
    int saved[NS_PARENT_JOINED];
    if (ns_parent_enter(plan, saved, err) < 0) {
        ns_parent_restore(saved, NULL);
        return -1;
    }
    pid_t pid = ns_clone_raw(plan, 0, err);
    if (pid == 0) {
        for (size_t i = 0; i < NS_PARENT_JOINED; i++)
            if (saved[i] >= 0)
                close(saved[i]);
        return 0;
    }
    if (ns_parent_restore(saved, pid > 0 ? err : NULL) < 0 && pid > 0) {
        /* keel cannot go on in the container's namespaces */
        kill(pid, SIGKILL);
        return -1;
    }
    return pid;
}

static pid_t ns_clone_raw(const void *arg, unsigned long extra_flags, struct keel_error **err)
{
    const struct ns_plan *plan = arg;
    cleanup_close int own_pidns = -1;
    int pid_join = plan->join_fd[SPEC_NS_PID];
    if (pid_join >= 0) {
        /* Only pid_for_children changes: the parent stays where it is. */
        own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (own_pidns < 0)
            return error_set(err, errno, "opening `/proc/self/ns/pid`");
        if (setns(pid_join, CLONE_NEWPID) < 0)
            return error_set(err, errno, "joining the pid namespace given in linux.namespaces");
    }
    /* CLONE_PARENT takes the exit signal of the caller; clone3 wants 0 then. */
    struct ns_clone_args args = {.flags = (uint64_t)(unsigned)plan->clone_flags | extra_flags,
                                 .exit_signal = extra_flags & CLONE_PARENT ? 0 : SIGCHLD};
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0 && (errno == ENOSYS || errno == E2BIG))
        pid = syscall(SYS_clone, (unsigned long)plan->clone_flags | extra_flags | SIGCHLD, NULL, NULL, NULL,
                      NULL);
    int saved = errno;
    if (pid != 0 && own_pidns >= 0 && setns(own_pidns, CLONE_NEWPID) < 0 && pid > 0) {
        kill((pid_t)pid, SIGKILL);
        return error_set(err, errno, "restoring the pid namespace for children");
    }
    if (pid < 0)
        return error_set(err, saved, "creating the container process with namespaces (clone3 flags %#x)",
                         plan->clone_flags);
    return (pid_t)pid;
}

static void ns_format_map(struct strbuf *sb, const struct spec_id_mapping *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        strbuf_printf(sb, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
}

int ns_write_id_maps(pid_t pid, const struct spec_config *cfg, struct keel_error **err)
{
    const struct spec_linux *l = cfg->linux;
    if (!l->n_uid_mappings || !l->n_gid_mappings)
        return error_set(err, 0,
                         "linux.uidMappings and linux.gidMappings are required with a new user "
                         "namespace");
    if (geteuid() != 0) /* rootless: own ids directly, more through newuidmap/newgidmap */
        return userns_write_id_maps_unprivileged(pid, cfg, err);
    struct strbuf sb = STRBUF_INIT;
    ns_format_map(&sb, l->uid_mappings, l->n_uid_mappings);
    cleanup_free char *uid_map = strbuf_detach(&sb);
    ns_format_map(&sb, l->gid_mappings, l->n_gid_mappings);
    cleanup_free char *gid_map = strbuf_detach(&sb);
    if (userns_write_proc(pid, "uid_map", uid_map, err) < 0)
        return error_prefix(err, "linux.uidMappings");
    if (userns_write_proc(pid, "gid_map", gid_map, err) < 0)
        return error_prefix(err, "linux.gidMappings");
    return 0;
}

int ns_join(const struct ns_plan *plan, struct keel_error **err)
{
    static const enum spec_ns_type order[] = {SPEC_NS_USER,   SPEC_NS_IPC,  SPEC_NS_UTS,  SPEC_NS_NETWORK,
                                              SPEC_NS_CGROUP, SPEC_NS_TIME, SPEC_NS_MOUNT};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        enum spec_ns_type t = order[i];
        if (plan->join_fd[t] < 0)
            continue;
        if (plan->new_user && t != SPEC_NS_USER && t != SPEC_NS_MOUNT && t != SPEC_NS_TIME) {
            close(plan->join_fd[t]); /* already entered through the parent */
            continue;
        }
        if (!(t == SPEC_NS_USER && userns_is_current(plan->join_fd[t])) && /* entered before the clone */
            setns(plan->join_fd[t], spec_ns_clone_flag(t)) < 0)
            return error_set(err, errno, "joining the %s namespace given in linux.namespaces",
                             spec_ns_name(t));
        close(plan->join_fd[t]);
        /* Our host ids mean nothing in there (files would get EOVERFLOW):
         * be its root, as in a new user namespace. */
        if (t == SPEC_NS_USER && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
            return error_set(err, errno, "becoming root (uid 0) in the joined user namespace");
    }
    if (plan->join_fd[SPEC_NS_PID] >= 0)
        close(plan->join_fd[SPEC_NS_PID]);
    return 0;
}

int ns_unshare_late(const struct ns_plan *plan, const struct spec_config *cfg, struct keel_error **err)
{
    if (plan->new_cgroup && unshare(CLONE_NEWCGROUP) < 0)
        return error_set(err, errno, "creating the cgroup namespace");
    if (!plan->new_time) {
        const struct spec_linux *l = cfg->linux;
        if (l && (l->time_offset_boottime.set || l->time_offset_monotonic.set))
            return error_set(err, 0, "linux.timeOffsets needs a new time namespace");
        return 0;
    }
    if (unshare(CLONE_NEWTIME) < 0)
        return error_set(err, errno, "creating the time namespace");
    const struct spec_linux *l = cfg->linux;
    struct strbuf sb = STRBUF_INIT;
    if (l->time_offset_monotonic.set)
        strbuf_printf(&sb, "monotonic %lld %u\n", (long long)l->time_offset_monotonic.secs,
                      l->time_offset_monotonic.nanosecs);
    if (l->time_offset_boottime.set)
        strbuf_printf(&sb, "boottime %lld %u\n", (long long)l->time_offset_boottime.secs,
                      l->time_offset_boottime.nanosecs);
    cleanup_free char *offsets = strbuf_detach(&sb);
    if (offsets[0]) {
        /* One line per write: the kernel parses a single offset per call. */
        for (char *line = offsets, *next; *line; line = next) {
            next = strchr(line, '\n');
            *next++ = '\0';
            cleanup_close int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
            if (fd < 0 || write(fd, line, strlen(line)) < 0)
                return error_set(err, errno,
                                 "writing linux.timeOffsets \"%s\" to `/proc/self/timens_offsets`", line);
        }
    }
    cleanup_close int fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWTIME) < 0)
        return error_set(err, errno, "entering the new time namespace");
    return 0;
}
