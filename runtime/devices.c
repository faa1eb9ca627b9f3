#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "devices.h"
#include "error.h"
#include "mount_exec.h"
#include "mount_plan.h"
#include "safepath.h"
#include "spec.h"
#include "xalloc.h"

static const struct {
    const char *path;
    unsigned major, minor;
} default_devices[] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};
#define N_DEFAULT_DEVICES (sizeof(default_devices) / sizeof(default_devices[0]))

void devices_plan_free(struct dev_node *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].path);
    free(v);
}

int devices_plan(const struct spec_config *cfg, struct dev_node **out, size_t *n_out, struct keel_error **err)
{
    size_t n_cfg = cfg->linux ? cfg->linux->n_devices : 0;
    struct dev_node *v = xcalloc(n_cfg + N_DEFAULT_DEVICES, sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < n_cfg; i++) {
        const struct spec_device *d = &cfg->linux->devices[i];
        if (!d->path || d->path[0] != '/') {
            devices_plan_free(v, n);
            return error_set(err, EINVAL, "linux.devices[%zu]: path must be absolute", i);
        }
        char type = d->type == 'u' ? 'c' : d->type;
        if (type != 'c' && type != 'b' && type != 'p') {
            devices_plan_free(v, n);
            return error_set(err, EINVAL, "linux.devices[%zu] (%s): unknown type '%c'", i, d->path, d->type);
        }
        if (type != 'p' && (d->major < 0 || d->minor < 0 || d->major > 0xfff || d->minor > 0xfffff)) {
            devices_plan_free(v, n);
            return error_set(err, EINVAL, "linux.devices[%zu] (%s): major/minor out of range", i, d->path);
        }
        struct dev_node *e = &v[n++];
        e->path = mount_clean_path(d->path);
        e->type = type;
        e->major = type == 'p' ? 0 : (unsigned)d->major;
        e->minor = type == 'p' ? 0 : (unsigned)d->minor;
        e->mode = d->file_mode.set ? (mode_t)(d->file_mode.value & 07777) : 0666;
        e->uid = d->uid.set ? (uid_t)d->uid.value : 0;
        e->gid = d->gid.set ? (gid_t)d->gid.value : 0;
    }
    for (size_t i = 0; i < N_DEFAULT_DEVICES; i++) {
        bool named = false;
        for (size_t j = 0; j < n_cfg; j++)
            named |= strcmp(v[j].path, default_devices[i].path) == 0;
        if (named)
            continue;
        struct dev_node *e = &v[n++];
        e->path = xstrdup(default_devices[i].path);
        e->type = 'c';
        e->major = default_devices[i].major;
        e->minor = default_devices[i].minor;
        e->mode = 0666;
    }
    *out = v;
    *n_out = n;
    return 0;
}

static mode_t dev_node_type(const struct dev_node *d)
{
    return d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
}

/* Open the parent directory of path beneath rootfd (creating it) and
 * point *base at the last component. */
static int devices_open_parent(int rootfd, const char *path, const char **base, struct keel_error **err)
{
    const char *slash = strrchr(path, '/');
    *base = slash + 1;
    if (slash == path) {
        int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        return fd < 0 ? error_set(err, errno, "opening the rootfs") : fd;
    }
    cleanup_free char *parent = xstrndup(path, (size_t)(slash - path));
    return mount_open_dest(rootfd, parent, true, err);
}

static int devices_mknod(int pfd, const char *base, const struct dev_node *d)
{
    mode_t type = dev_node_type(d);
    dev_t rdev = makedev(d->major, d->minor);
    if (mknodat(pfd, base, type | d->mode, rdev) == 0)
        return d->uid || d->gid ? fchownat(pfd, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) : 0;
    if (errno != EEXIST)
        return -1;
    /* Something is there already (a /dev that is not a fresh tmpfs, or a
     * node the config bound there): the very node is left alone, as runc
     * does (chmod/chown would reach a bound host node); anything else (a
     * symlink, a file) is replaced. */
    struct stat st;
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    if ((st.st_mode & S_IFMT) == type && (type == S_IFIFO || st.st_rdev == rdev))
        return 0;
    if (unlinkat(pfd, base, 0) < 0 || mknodat(pfd, base, type | d->mode, rdev) < 0)
        return -1;
    return d->uid || d->gid ? fchownat(pfd, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) : 0;
}

static int devices_bind(int rootfd, const struct dev_node *d, struct keel_error **err)
{
    cleanup_close int dest = mount_open_dest(rootfd, d->path, false, err);
    if (dest < 0)
        return -1;
    if (mount_bind_fd(AT_FDCWD, d->path, false, 0, 0, 0, 0, dest) < 0)
        return error_set(err, errno, "binding the host's node");
    return 0;
}

int devices_create(int rootfd, const struct dev_node *nodes, size_t n, bool bind, struct keel_error **err)
{
    /* One umask change for all nodes instead of a chmod after each, and the
     * parent directory kept open while consecutive nodes share it. */
    mode_t old = umask(0);
    int rc = 0;
    cleanup_close int pfd = -1;
    cleanup_free char *pdir = NULL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct dev_node *d = &nodes[i];
        if (bind && d->type != 'p') {
            rc = devices_bind(rootfd, d, err);
        } else {
            const char *base = strrchr(d->path, '/') + 1;
            size_t plen = (size_t)(base - d->path);
            if (pfd < 0 || strlen(pdir) != plen || strncmp(pdir, d->path, plen) != 0) {
                if (pfd >= 0)
                    close(pfd);
                free(pdir);
                pdir = xstrndup(d->path, plen);
                pfd = devices_open_parent(rootfd, d->path, &base, err);
            }
            if (pfd < 0)
                rc = -1;
            else if (devices_mknod(pfd, base, d) < 0)
                rc = error_set(err, errno, "mknod");
        }
        if (rc < 0)
            error_prefix(err, "creating device `%s`", d->path);
    }
    umask(old);
    return rc;
}

int devices_create_links(int rootfd, struct keel_error **err)
{
    static const struct {
        const char *target, *name;
    } links[] = {
        {"/proc/self/fd", "fd"},
        {"/proc/self/fd/0", "stdin"},
        {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"},
    };
    cleanup_close int dev = mount_open_dest(rootfd, "/dev", true, err);
    if (dev < 0)
        return error_prefix(err, "creating /dev links");
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        if (symlinkat(links[i].target, dev, links[i].name) < 0 && errno != EEXIST)
            return error_set(err, errno, "creating symlink `/dev/%s`", links[i].name);
    if (access("/proc/kcore", F_OK) == 0 && symlinkat("/proc/kcore", dev, "core") < 0 && errno != EEXIST)
        return error_set(err, errno, "creating symlink `/dev/core`");
    /* /dev/ptmx must be the devpts instance of the container's /dev/pts. */
    if (unlinkat(dev, "ptmx", 0) < 0 && errno != ENOENT)
        return error_set(err, errno, "removing `/dev/ptmx`");
    if (symlinkat("pts/ptmx", dev, "ptmx") < 0)
        return error_set(err, errno, "creating symlink `/dev/ptmx`");
    return 0;
}

int devices_bind_console(int rootfd, const char *console_path, struct keel_error **err)
{
    cleanup_close int dest = mount_open_dest(rootfd, "/dev/console", false, err);
    if (dest < 0)
        return error_prefix(err, "mount \"%s\" to \"/dev/console\"", console_path);
    if (mount_bind_fd(AT_FDCWD, console_path, false, 0, 0, 0, 0, dest) < 0)
        return error_set(err, errno, "mount \"%s\" to \"/dev/console\"", console_path);
    return 0;
}

int devices_bind_console_fd(int rootfd, int slave_fd, struct keel_error **err)
{
    cleanup_close int dest = mount_open_dest(rootfd, "/dev/console", false, err);
    if (dest < 0)
        return error_prefix(err, "mount the console to \"/dev/console\"");
    if (mount_bind_fd(slave_fd, "", false, 0, 0, 0, 0, dest) < 0)
        return error_set(err, errno, "mount the console to \"/dev/console\"");
    return 0;
}
