#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "mount_cgroup.h"
#include "safepath.h"
#include "xalloc.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

/* Split s in place on sep into at most max fields; returns the count. */
static size_t cgroup_split(char *s, char sep, char **fields, size_t max)
{
    size_t n = 0;
    while (n < max) {
        fields[n++] = s;
        char *p = strchr(s, sep);
        if (!p)
            break;
        *p = '\0';
        s = p + 1;
    }
    return n;
}

static char *cgroup_strip_rw(const char *opts)
{
    cleanup_free char *copy = xstrdup(opts);
    char *out = xzalloc(strlen(opts) + 1);
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "rw") == 0 || strcmp(t, "ro") == 0)
            continue;
        if (out[0])
            strcat(out, ",");
        strcat(out, t);
    }
    return out;
}

/* Every item of the comma list `want` is in the comma list `have`. */
static bool cgroup_list_covers(const char *have, const char *want)
{
    cleanup_free char *copy = xstrdup(want);
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        size_t n = strlen(t);
        bool found = false;
        for (const char *p = have; p && *p;) {
            const char *end = strchrnul(p, ',');
            if ((size_t)(end - p) == n && strncmp(p, t, n) == 0)
                found = true;
            p = *end ? end + 1 : end;
        }
        if (!found)
            return false;
    }
    return true;
}

/* The container's cgroup path for a hierarchy, from /proc/self/cgroup. */
static const char *cgroup_own_path(char **lines, size_t n, const struct cgroup_mount_entry *h)
{
    for (size_t i = 0; i < n; i++) {
        char *f[3];
        cleanup_free char *copy = xstrdup(lines[i]);
        if (cgroup_split(copy, ':', f, 3) != 3)
            continue;
        bool v2 = strcmp(h->fstype, "cgroup2") == 0;
        if (v2 ? f[1][0] == '\0' : (f[1][0] != '\0' && cgroup_list_covers(h->options, f[1])))
            return strchr(strchr(lines[i], ':') + 1, ':') + 1;
    }
    return NULL;
}

/* The usual layout, from /proc/self/cgroup alone: every hierarchy mounted
 * at /sys/fs/cgroup/<controllers> (name=systemd at "systemd", the v2 one at
 * "unified" on a hybrid host or at /sys/fs/cgroup itself), its root being
 * the root of the paths listed.  Each guess is checked with one statfs of
 * the container's directory in it; returns 1 when any guess fails, so the
 * caller reads mountinfo instead (nested or unusual layouts).  Reading
 * mountinfo costs ~0.37 ms here, /proc/self/cgroup ~0.06 ms. */
static int cgroup_guess_hiers(bool cgroupns, struct cgroup_mount_entry **out, size_t *n_out)
{
    cleanup_free char *selfcg = NULL;
    if (file_read_whole("/proc/self/cgroup", 1 << 20, &selfcg, NULL, NULL) < 0)
        return 1;
    struct cgroup_mount_entry *h = NULL;
    size_t n = 0;
    int rc = 0;
    for (char *save = NULL, *l = strtok_r(selfcg, "\n", &save); l && rc == 0;
         l = strtok_r(NULL, "\n", &save)) {
        char *f[3];
        if (cgroup_split(l, ':', f, 3) != 3 || f[2][0] != '/') {
            rc = 1;
            break;
        }
        const char *ctl = f[1];
        bool v2 = ctl[0] == '\0';
        const char *name = v2 ? "unified" : strncmp(ctl, "name=", 5) == 0 ? ctl + 5 : ctl;
        cleanup_free char *mp = xasprintf(CGROUP_ROOT "/%s", name);
        cleanup_free char *dir = xasprintf("%s%s", mp, strcmp(f[2], "/") == 0 ? "" : f[2]);
        struct statfs sfs;
        long want = v2 ? CGROUP2_SUPER_MAGIC : CGROUP_SUPER_MAGIC;
        if (statfs(dir, &sfs) < 0 || (long)sfs.f_type != want) {
            if (!v2) {
                /* a hierarchy that is not mounted at all is not shown */
                if (statfs(mp, &sfs) < 0 && errno == ENOENT)
                    continue;
                rc = 1;
                break;
            }
            /* pure cgroup2: the hierarchy is /sys/fs/cgroup itself */
            free(dir);
            dir = xasprintf(CGROUP_ROOT "%s", strcmp(f[2], "/") == 0 ? "" : f[2]);
            if (statfs(dir, &sfs) < 0 || (long)sfs.f_type != CGROUP2_SUPER_MAGIC) {
                if (statfs(CGROUP_ROOT "/unified", &sfs) < 0 && errno == ENOENT &&
                    statfs(CGROUP_ROOT, &sfs) == 0 && sfs.f_type != CGROUP2_SUPER_MAGIC)
                    continue; /* v1 only: no v2 hierarchy mounted */
                rc = 1;
                break;
            }
            name = "";
        }
        h = xrealloc(h, (n + 1) * sizeof(*h));
        struct cgroup_mount_entry *e = &h[n++];
        e->name = xstrdup(name);
        e->fstype = xstrdup(v2 ? "cgroup2" : "cgroup");
        e->options = xstrdup(v2 ? "" : ctl);
        /* In a cgroup namespace the paths are relative to its root, not the
         * hierarchy's: no directory to fall back to (the mounts are fresh). */
        e->host_dir = cgroupns ? NULL : steal_ptr(&dir);
    }
    /* pure v2 is one hierarchy and nothing else */
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (h[i].name[0] == '\0' && n != 1)
            rc = 1;
    if (rc != 0 || n == 0) {
        cgroup_mounts_free(h, n);
        return 1;
    }
    *out = h;
    *n_out = n;
    return 0;
}

static int cgroup_read_hiers(struct cgroup_mount_entry **out, size_t *n_out, struct keel_error **err)
{
    cleanup_free char *mountinfo = NULL, *selfcg = NULL;
    if (file_read_whole("/proc/self/mountinfo", 4 << 20, &mountinfo, NULL, err) < 0 ||
        file_read_whole("/proc/self/cgroup", 1 << 20, &selfcg, NULL, err) < 0)
        return -1;
    char *cglines[64];
    size_t ncg = 0;
    for (char *save = NULL, *l = strtok_r(selfcg, "\n", &save); l && ncg < 64;
         l = strtok_r(NULL, "\n", &save))
        cglines[ncg++] = l;

    struct cgroup_mount_entry *h = NULL;
    size_t n = 0;
    for (char *save = NULL, *line = strtok_r(mountinfo, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
        char *sep = strstr(line, " - ");
        if (!sep)
            continue;
        *sep = '\0';
        char *pre[5], *post[3];
        if (cgroup_split(line, ' ', pre, 5) < 5 || cgroup_split(sep + 3, ' ', post, 3) < 3)
            continue;
        if (strcmp(post[0], "cgroup") != 0 && strcmp(post[0], "cgroup2") != 0)
            continue;
        const char *mp = pre[4];
        char *rest = strchr(pre[4], ' ');
        if (rest)
            *rest = '\0';
        bool pure_v2 = strcmp(mp, CGROUP_ROOT) == 0 && strcmp(post[0], "cgroup2") == 0;
        if (!pure_v2 &&
            (strncmp(mp, CGROUP_ROOT "/", sizeof(CGROUP_ROOT)) != 0 || strchr(mp + sizeof(CGROUP_ROOT), '/')))
            continue;
        h = xrealloc(h, (n + 1) * sizeof(*h));
        struct cgroup_mount_entry *e = &h[n++];
        e->name = xstrdup(pure_v2 ? "" : mp + sizeof(CGROUP_ROOT));
        e->fstype = xstrdup(post[0]);
        e->options = cgroup_strip_rw(post[2]);
        e->host_dir = NULL;
        const char *own = cgroup_own_path(cglines, ncg, e);
        const char *root = pre[3];
        if (own) {
            size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
            if (rl == 0 || (strncmp(own, root, rl) == 0 && (own[rl] == '/' || own[rl] == '\0')))
                e->host_dir = xasprintf("%s%s", mp, own + rl);
        }
    }
    *out = h;
    *n_out = n;
    return 0;
}

static int cgroup_fail(struct keel_error **err, int e, const struct mount_op *op, const char *what)
{
    return error_set(err, e, "mount \"%s\" to \"%s\": %s", op->source, op->destination, what);
}

static int cgroup_mount_one(const struct mount_exec_ctx *ctx, const struct mount_op *op, int dirfd,
                            const char *fstype, const char *options, const char *host_dir, uint64_t set,
                            uint64_t clr, struct keel_error **err)
{
    if (ctx->cgroupns) {
        char target[32];
        safepath_fd_path(dirfd, target);
        if (mount("cgroup", target, fstype, op->flags & ~MS_REMOUNT,
                  options && options[0] ? options : NULL) == 0)
            return 0;
        if (!host_dir || (errno != EPERM && errno != EBUSY))
            return cgroup_fail(err, errno, op, fstype);
    }
    if (!host_dir)
        return cgroup_fail(err, ENOENT, op,
                           "no directory of the container's cgroup to bind in this hierarchy");
    if (mount_bind_fd(AT_FDCWD, host_dir, fstype[6] == '2', set, clr, 0, 0, dirfd) < 0) {
        cleanup_free char *what = xasprintf("binding `%s`", host_dir);
        return cgroup_fail(err, errno, op, what);
    }
    return 0;
}

static int cgroup_mount_all(const struct mount_exec_ctx *ctx, const struct mount_op *op, int dest,
                            const struct cgroup_mount_entry *hiers, size_t n, struct keel_error **err)
{
    uint64_t set, clr;
    struct mount_options flag_opts = {.flags = op->flags};
    mount_options_bind_attr(&flag_opts, &set, &clr);
    if (n == 0)
        return cgroup_fail(err, ENOENT, op, "no cgroup hierarchy is mounted on the host");
    /* Pure cgroup2: the one hierarchy goes on the destination itself. */
    if (n == 1 && hiers[0].name[0] == '\0')
        return cgroup_mount_one(ctx, op, dest, "cgroup2", NULL, hiers[0].host_dir, set, clr, err);

    char target[32];
    safepath_fd_path(dest, target);
    if (mount("tmpfs", target, "tmpfs", op->flags & ~(MS_RDONLY | MS_REMOUNT), "mode=755") < 0)
        return cgroup_fail(err, errno, op, "tmpfs");
    cleanup_close int top = safepath_open(ctx->rootfd, op->destination, O_PATH | O_DIRECTORY, 0, err);
    if (top < 0)
        return error_prefix(err, "mount \"%s\" to \"%s\"", op->source, op->destination);
    for (size_t i = 0; i < n; i++) {
        const struct cgroup_mount_entry *h = &hiers[i];
        if (mkdirat(top, h->name, 0755) < 0 && errno != EEXIST)
            return cgroup_fail(err, errno, op, h->name);
        cleanup_close int sub = openat(top, h->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            return cgroup_fail(err, errno, op, h->name);
        if (cgroup_mount_one(ctx, op, sub, h->fstype, h->options, h->host_dir, set, clr, err) < 0)
            return -1;
        /* Co-mounted controllers ("cpu,cpuacct") get a link per name. */
        if (strchr(h->name, ',')) {
            cleanup_free char *names = xstrdup(h->name);
            for (char *save = NULL, *t = strtok_r(names, ",", &save); t; t = strtok_r(NULL, ",", &save))
                if (symlinkat(h->name, top, t) < 0 && errno != EEXIST)
                    return cgroup_fail(err, errno, op, t);
        }
    }
    if ((op->flags & MS_RDONLY) && mount_setattr_fd(top, false, MOUNT_ATTR_RDONLY, 0, 0) < 0)
        return cgroup_fail(err, errno, op, "making the tmpfs read-only");
    return 0;
}

int mount_cgroup_exec(const struct mount_exec_ctx *ctx, const struct mount_op *op, struct keel_error **err)
{
    cleanup_close int dest = mount_open_dest(ctx->rootfd, op->destination, true, err);
    if (dest < 0)
        return error_prefix(err, "mount \"%s\" to \"%s\"", op->source, op->destination);
    /* The cgroup manager's list when the lifecycle passed it; otherwise
     * what mountinfo and /proc/self/cgroup say. */
    struct cgroup_mount_entry *owned = NULL;
    size_t n = ctx->n_cgroup_mounts;
    const struct cgroup_mount_entry *hiers = ctx->cgroup_mounts;
    if (!hiers) {
        if (cgroup_guess_hiers(ctx->cgroupns, &owned, &n) != 0 && cgroup_read_hiers(&owned, &n, err) < 0)
            return error_prefix(err, "mount \"%s\" to \"%s\"", op->source, op->destination);
        hiers = owned;
    }
    int rc = cgroup_mount_all(ctx, op, dest, hiers, n, err);
    cgroup_mounts_free(owned, owned ? n : 0);
    if (rc < 0)
        return -1;
    if (!(op->opts.rec_set || op->opts.rec_clr || op->opts.n_propagation))
        return 0;
    cleanup_close int top = safepath_open(ctx->rootfd, op->destination, O_PATH, 0, err);
    if (top < 0)
        return error_prefix(err, "mount \"%s\" to \"%s\"", op->source, op->destination);
    return mount_apply_after(op, top, err);
}
