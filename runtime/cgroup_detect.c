/* Which cgroup hierarchies are mounted, and where the caller sits in them. */
#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "runtime/cgroup_internal.h"
#include "strbuf.h"
#include "xalloc.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

void cgroup_hiers_free(struct cgroup_hier *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].mountpoint);
        free(h[i].controllers);
        free(h[i].dir);
        free(h[i].mount_root);
    }
    free(h);
}

/* The subsystem names the kernel knows (first column of /proc/cgroups): a
 * v1 mount's super options mix them with flags like "rw" and "xattr". */
static bool is_known_subsystem(const char *known, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = known; (p = strstr(p, name)) != NULL; p += len) {
        bool start = p == known || p[-1] == '\n';
        bool end = p[len] == '\t' || p[len] == ' ';
        if (start && end)
            return true;
    }
    return false;
}

static char *v1_controllers(const char *known, const char *superopts)
{
    cleanup_free char *copy = xstrdup(superopts);
    struct strbuf sb = STRBUF_INIT;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strncmp(tok, "name=", 5) == 0 || is_known_subsystem(known, tok)) {
            if (sb.len)
                strbuf_putc(&sb, ',');
            strbuf_puts(&sb, tok);
        }
    }
    return strbuf_detach(&sb);
}

/* The same hierarchy seen before: true.  A later mount on the same
 * mountpoint covers the earlier one, so its root is the one that counts. */
static bool hier_seen(struct cgroup_hier *h, size_t n, const struct cgroup_hier *cand, const char *mountpoint,
                      const char *mroot)
{
    for (size_t i = 0; i < n; i++) {
        if (h[i].v2 != cand->v2 || strcmp(h[i].controllers, cand->controllers) != 0)
            continue;
        if (strcmp(h[i].mountpoint, mountpoint) == 0) {
            free(h[i].mount_root);
            h[i].mount_root = xstrdup(mroot);
        }
        return true;
    }
    return false;
}

static bool statfs_is(const char *path, long magic)
{
    struct statfs sfs;
    return statfs(path, &sfs) == 0 && (long)sfs.f_type == magic;
}

/* A cgroup path from /proc/self/cgroup as a suffix of a mountpoint. */
static const char *path_below(const char *own)
{
    return strcmp(own, "/") == 0 ? "" : own;
}

/* cgroup2's one hierarchy: at /sys/fs/cgroup/unified (hybrid) or at
 * /sys/fs/cgroup (pure v2).  Returns the mountpoint, "" when cgroup2 is
 * mounted at neither (a v1-only host: the hierarchy exists in every kernel
 * but nothing shows it), NULL when this is not the usual layout. */
static const char *guess_v2_mountpoint(const char *own)
{
    cleanup_free char *hybrid = xasprintf(CGROUP_ROOT "/unified%s", path_below(own));
    if (statfs_is(hybrid, CGROUP2_SUPER_MAGIC))
        return CGROUP_ROOT "/unified";
    cleanup_free char *pure = xasprintf(CGROUP_ROOT "%s", path_below(own));
    if (statfs_is(pure, CGROUP2_SUPER_MAGIC))
        return CGROUP_ROOT;
    struct statfs top, uni;
    if (statfs(CGROUP_ROOT, &top) < 0 || top.f_type == CGROUP2_SUPER_MAGIC)
        return NULL;
    /* "unified" missing, or a plain directory of the tmpfs beneath it */
    if (statfs(CGROUP_ROOT "/unified", &uni) < 0)
        return errno == ENOENT ? "" : NULL;
    return uni.f_type == top.f_type && uni.f_type != CGROUP2_SUPER_MAGIC ? "" : NULL;
}

/* The usual layout from /proc/self/cgroup alone: each v1 hierarchy at
 * /sys/fs/cgroup/<its controllers> ("systemd" for name=systemd), cgroup2
 * at "unified" or at /sys/fs/cgroup itself, every mount showing the
 * hierarchy's root.  Each guess is checked with one statfs of our own
 * cgroup's directory in it, which a bind-mounted subtree (a container
 * without a cgroup namespace) fails unless it happens to hold the same
 * path below itself.  Returns 1 when any guess fails: the caller reads
 * mountinfo (about 0.4 ms of CPU here against 0.1 ms for this). */
int cgroup_detect_guess(struct cgroup_hier **out, size_t *n_out)
{
    cleanup_free char *selfcg = NULL;
    if (file_read_whole("/proc/self/cgroup", 1 << 20, &selfcg, NULL, NULL) < 0)
        return 1;
    struct cgroup_hier *h = NULL;
    size_t n = 0;
    int rc = 0;
    for (char *save = NULL, *l = strtok_r(selfcg, "\n", &save); l && rc == 0;
         l = strtok_r(NULL, "\n", &save)) {
        /* "ID:CONTROLLERS:PATH" */
        char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || c2[1] != '/') {
            rc = 1;
            break;
        }
        *c2 = '\0';
        const char *ctl = c1 + 1, *own = c2 + 1;
        bool v2 = ctl[0] == '\0';
        cleanup_free char *mp = NULL;
        if (v2) {
            const char *where = guess_v2_mountpoint(own);
            if (!where) {
                rc = 1;
                break;
            }
            if (where[0] == '\0')
                continue;
            mp = xstrdup(where);
        } else {
            mp = xasprintf(CGROUP_ROOT "/%s", strncmp(ctl, "name=", 5) == 0 ? ctl + 5 : ctl);
            cleanup_free char *dir = xasprintf("%s%s", mp, path_below(own));
            if (!statfs_is(dir, CGROUP_SUPER_MAGIC)) {
                rc = 1;
                break;
            }
        }
        struct cgroup_hier cand = {.v2 = v2, .mountpoint = steal_ptr(&mp), .mount_root = xstrdup("/")};
        if (v2) {
            cleanup_error struct keel_error *ignored = NULL;
            if (cgfs_read(cand.mountpoint, "cgroup.controllers", &cand.controllers, &ignored) < 0)
                cand.controllers = xstrdup("");
            cand.controllers[strcspn(cand.controllers, "\n")] = '\0';
        } else {
            cand.controllers = xstrdup(ctl);
        }
        h = xrealloc(h, (n + 1) * sizeof(*h));
        h[n++] = cand;
    }
    /* pure v2 is one hierarchy and nothing else */
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (strcmp(h[i].mountpoint, CGROUP_ROOT) == 0 && n != 1)
            rc = 1;
    if (rc != 0 || n == 0) {
        cgroup_hiers_free(h, n);
        return 1;
    }
    *out = h;
    *n_out = n;
    return 0;
}

int cgroup_detect_hierarchies(struct cgroup_hier **out, size_t *n, struct keel_error **err)
{
    if (cgroup_detect_guess(out, n) == 0)
        return 0;
    return cgroup_detect_mountinfo(out, n, err);
}

int cgroup_detect_mountinfo(struct cgroup_hier **out, size_t *n, struct keel_error **err)
{
    cleanup_free char *known = NULL;
    if (file_read_whole("/proc/cgroups", 1 << 16, &known, NULL, err) < 0)
        return error_prefix(err, "listing cgroup controllers");
    /* Read once: the kernel formats the whole table on every read. */
    cleanup_free char *table = NULL;
    if (file_read_whole("/proc/self/mountinfo", 1 << 24, &table, NULL, err) < 0)
        return error_prefix(err, "listing cgroup mounts");

    struct cgroup_hier *h = NULL;
    size_t nh = 0;
    /* Two passes: mounts under /sys/fs/cgroup first, so a second mount of
     * the same hierarchy elsewhere does not win. */
    for (int pass = 0; pass < 2; pass++) {
        for (const char *line = table, *next; *line; line = next) {
            next = strchr(line, '\n');
            next = next ? next + 1 : line + strlen(line);
            if (!memmem(line, (size_t)(next - line), " cgroup", 7))
                continue; /* neither cgroup nor cgroup2: skip the sscanf */
            char mountpoint[4096], mroot[4096], fstype[64], superopts[1024];
            const char *sep = strstr(line, " - ");
            if (!sep || sep >= next || sscanf(line, "%*s %*s %*s %4095s %4095s", mroot, mountpoint) != 2 ||
                sscanf(sep + 3, "%63s %*s %1023s", fstype, superopts) != 2)
                continue;
            bool v2 = strcmp(fstype, "cgroup2") == 0;
            if (!v2 && strcmp(fstype, "cgroup") != 0)
                continue;
            bool under = strncmp(mountpoint, CGROUP_ROOT, strlen(CGROUP_ROOT)) == 0;
            if (under != (pass == 0))
                continue;
            struct cgroup_hier cand = {.v2 = v2};
            if (v2) {
                cleanup_free char *ctl = NULL;
                cleanup_error struct keel_error *ignored = NULL;
                if (cgfs_read(mountpoint, "cgroup.controllers", &ctl, &ignored) < 0)
                    ctl = xstrdup("");
                ctl[strcspn(ctl, "\n")] = '\0';
                cand.controllers = steal_ptr(&ctl);
            } else {
                cand.controllers = v1_controllers(known, superopts);
                if (cand.controllers[0] == '\0') {
                    free(cand.controllers);
                    continue;
                }
            }
            if (hier_seen(h, nh, &cand, mountpoint, mroot)) {
                free(cand.controllers);
                continue;
            }
            cand.mountpoint = xstrdup(mountpoint);
            cand.mount_root = xstrdup(mroot);
            h = xrealloc(h, (nh + 1) * sizeof(*h));
            h[nh++] = cand;
        }
    }
    *out = h;
    *n = nh;
    return 0;
}

bool cgroup_hier_has(const struct cgroup_hier *h, const char *c)
{
    const char *delims = h->v2 ? " " : ",";
    size_t len = strlen(c);
    for (const char *p = h->controllers; *p;) {
        size_t tl = strcspn(p, delims);
        if (tl == len && strncmp(p, c, len) == 0)
            return true;
        p += tl;
        if (*p)
            p++;
    }
    return false;
}

int cgroup_detect_own_path(const struct cgroup_hier *h, char **out, struct keel_error **err)
{
    cleanup_file FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return error_set(err, errno, "opening `/proc/self/cgroup`");
    cleanup_free char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        /* "ID:CONTROLLERS:PATH" */
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = '\0';
        *c2 = '\0';
        const char *ctl = c1 + 1, *path = c2 + 1;
        bool match;
        if (h->v2) {
            match = ctl[0] == '\0' && strcmp(line, "0") == 0;
        } else {
            /* the line lists the same controllers as the mount, maybe in another order */
            struct cgroup_hier tmp = {.controllers = (char *)ctl};
            match = ctl[0] != '\0';
            cleanup_free char *copy = xstrdup(h->controllers);
            char *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t && match; t = strtok_r(NULL, ",", &save))
                match = cgroup_hier_has(&tmp, t);
        }
        if (match) {
            /* a bind-mounted subtree shows /proc/self/cgroup's path below its root */
            size_t rl = h->mount_root ? strlen(h->mount_root) : 0;
            if (rl > 1 && strncmp(path, h->mount_root, rl) == 0 && (path[rl] == '/' || path[rl] == '\0'))
                path += rl;
            *out = xstrdup(path[0] ? path : "/");
            return 0;
        }
    }
    return error_set(err, ENOENT, "`/proc/self/cgroup` has no entry for the cgroup hierarchy at `%s` (%s)",
                     h->mountpoint, h->v2 ? "cgroup2" : h->controllers);
}

bool cgroup_detect_systemd_running(void)
{
    struct stat st;
    return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}
