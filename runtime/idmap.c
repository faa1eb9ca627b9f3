#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "idmap.h"
#include "strbuf.h"
#include "xalloc.h"

static bool idmap_has_option(const struct spec_mount *m, const char *name)
{
    for (char *const *o = m->options; o && *o; o++)
        if (strcmp(*o, name) == 0)
            return true;
    return false;
}

bool idmap_mount_wanted(const struct spec_mount *m)
{
    return m->n_uid_mappings || m->n_gid_mappings || idmap_has_option(m, "idmap") ||
           idmap_has_option(m, "ridmap");
}

static int idmap_write_map(pid_t pid, const char *file, const struct spec_id_mapping *m, size_t n,
                           struct keel_error **err)
{
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < n; i++)
        strbuf_printf(&sb, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
    cleanup_free char *text = strbuf_detach(&sb);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, errno, "opening `%s`", path);
    ssize_t w = write(fd, text, strlen(text));
    if (w < 0 || (size_t)w != strlen(text))
        return error_set(err, w < 0 ? errno : EIO, "writing the mapping \"%s\" to `%s`", text, path);
    return 0;
}

/* A user namespace that exists only to carry the mapping: a child made in
 * it waits on a pipe while its maps are written and its namespace opened. */
static int idmap_userns_fd(const struct spec_id_mapping *u, size_t nu, const struct spec_id_mapping *g,
                           size_t ng, struct keel_error **err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return error_set(err, errno, "creating a pipe");
    pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, NULL);
    if (pid == 0) {
        char c;
        close(p[1]);
        while (read(p[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    int saved = errno;
    close(p[0]);
    cleanup_close int wr = p[1];
    if (pid < 0)
        return error_set(err, saved, "creating a user namespace for the mapping");
    int fd = -1;
    if (idmap_write_map(pid, "uid_map", u, nu, err) == 0 &&
        idmap_write_map(pid, "gid_map", g, ng, err) == 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            error_set(err, errno, "opening `%s`", path);
    }
    close(steal_fd(&wr));
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return fd;
}

static int idmap_make_tree(const struct spec_config *cfg, const struct spec_mount *m, size_t i,
                           const char *bundle, struct keel_error **err)
{
    cleanup_free char *where = xasprintf("mounts[%zu] (%s)", i, m->destination ? m->destination : "");
    bool rbind = idmap_has_option(m, "rbind");
    bool bind = rbind || idmap_has_option(m, "bind") || (m->type && strcmp(m->type, "bind") == 0);
    if (!bind)
        return error_set(err, EOPNOTSUPP, "%s: idmapped mounts are only supported for bind mounts", where);
    if (!m->source || !m->source[0])
        return error_set(err, EINVAL, "%s: an idmapped bind mount needs a source", where);
    if ((m->n_uid_mappings == 0) != (m->n_gid_mappings == 0))
        return error_set(err, EINVAL, "%s: uidMappings and gidMappings must be given together", where);
    const struct spec_id_mapping *u = m->uid_mappings, *g = m->gid_mappings;
    size_t nu = m->n_uid_mappings, ng = m->n_gid_mappings;
    if (!nu && cfg->linux) {
        u = cfg->linux->uid_mappings, nu = cfg->linux->n_uid_mappings;
        g = cfg->linux->gid_mappings, ng = cfg->linux->n_gid_mappings;
    }
    if (!nu || !ng)
        return error_set(err, EINVAL,
                         "%s: idmap needs uidMappings/gidMappings on the mount or a user namespace with "
                         "mappings (linux.uidMappings)",
                         where);
    cleanup_free char *src =
        m->source[0] == '/' || !bundle ? xstrdup(m->source) : xasprintf("%s/%s", bundle, m->source);
    cleanup_close int tree =
        open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (rbind ? AT_RECURSIVE : 0));
    if (tree < 0 && errno == ENOSYS) /* no mount(2) equivalent (mount_compat.h) */
        return error_set(err, errno, "%s: idmapped mounts need open_tree and mount_setattr (Linux 5.12)",
                         where);
    if (tree < 0)
        return error_set(err, errno, "%s: opening the source `%s`", where, src);
    cleanup_close int userns = idmap_userns_fd(u, nu, g, ng, err);
    if (userns < 0)
        return error_prefix(err, "%s: idmapped mount", where);
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns};
    bool recursive = idmap_has_option(m, "ridmap");
    if (mount_setattr(tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0) {
        if (errno == EINVAL)
            return error_set(err, errno, "%s: the filesystem of `%s` does not support idmapped mounts", where,
                             src);
        if (errno == ENOSYS)
            return error_set(err, errno, "%s: idmapped mounts need open_tree and mount_setattr (Linux 5.12)",
                             where);
        return error_set(err, errno, "%s: idmapping the mount of `%s`", where, src);
    }
    return steal_fd(&tree);
}

int idmap_mounts_prepare(const struct spec_config *cfg, const char *bundle, struct idmap_mounts *out,
                         struct keel_error **err)
{
    memset(out, 0, sizeof *out);
    bool any = false;
    for (size_t i = 0; i < cfg->n_mounts && !any; i++)
        any = idmap_mount_wanted(&cfg->mounts[i]);
    if (!any)
        return 0;
    out->fds = xmalloc(cfg->n_mounts * sizeof *out->fds);
    out->n = cfg->n_mounts;
    for (size_t i = 0; i < cfg->n_mounts; i++)
        out->fds[i] = -1;
    for (size_t i = 0; i < cfg->n_mounts; i++) {
        if (!idmap_mount_wanted(&cfg->mounts[i]))
            continue;
        out->fds[i] = idmap_make_tree(cfg, &cfg->mounts[i], i, bundle, err);
        if (out->fds[i] < 0) {
            idmap_mounts_release(out);
            return -1;
        }
    }
    return 0;
}

int idmap_mounts_fd(const struct idmap_mounts *m, size_t index)
{
    return m && index < m->n ? m->fds[index] : -1;
}

void idmap_mounts_release(struct idmap_mounts *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->fds[i] >= 0)
            close(m->fds[i]);
    free(m->fds);
    m->fds = NULL;
    m->n = 0;
}
