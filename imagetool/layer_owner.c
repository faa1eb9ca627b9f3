#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "error.h"
#include "layer_owner.h"
#include "safepath.h"
#include "xalloc.h"

#define ROOTLESS_XATTR "user.rootlesscontainers"

static int idmap_parse_u32(const char *s, uint32_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int idmap_parse_append(struct idmap *m, const char *spec, const char *what, struct keel_error **err)
{
    char *copy = xstrdup(spec);
    char *parts[3] = {NULL, NULL, NULL};
    char *save = NULL;
    size_t n = 0;
    for (char *tok = strtok_r(copy, ":", &save); tok && n < 4; tok = strtok_r(NULL, ":", &save))
        if (n < 3)
            parts[n++] = tok;
        else
            n++;
    struct idmap_range r;
    bool ok = n == 3 && idmap_parse_u32(parts[0], &r.container) == 0 &&
              idmap_parse_u32(parts[1], &r.host) == 0 && idmap_parse_u32(parts[2], &r.size) == 0 &&
              r.size > 0 && (uint64_t)r.container + r.size - 1 <= UINT32_MAX &&
              (uint64_t)r.host + r.size - 1 <= UINT32_MAX;
    free(copy);
    if (!ok)
        return error_set(err, EINVAL, "%s `%s`: expected CONTAINER:HOST:SIZE with SIZE > 0", what, spec);
    for (size_t i = 0; i < m->n; i++) {
        const struct idmap_range *o = &m->ranges[i];
        if ((uint64_t)r.container < (uint64_t)o->container + o->size &&
            (uint64_t)o->container < (uint64_t)r.container + r.size)
            return error_set(err, EINVAL, "%s `%s` overlaps an earlier range", what, spec);
    }
    m->ranges = xrealloc(m->ranges, (m->n + 1) * sizeof(*m->ranges));
    m->ranges[m->n++] = r;
    return 0;
}

int idmap_to_host(const struct idmap *m, uint32_t id, uint32_t *host)
{
    if (m->n == 0) {
        *host = id;
        return 0;
    }
    for (size_t i = 0; i < m->n; i++) {
        const struct idmap_range *r = &m->ranges[i];
        if (id >= r->container && (uint64_t)id < (uint64_t)r->container + r->size) {
            *host = r->host + (id - r->container);
            return 0;
        }
    }
    return -1;
}

void idmap_release(struct idmap *m)
{
    free(m->ranges);
    m->ranges = NULL;
    m->n = 0;
}

void layer_owner_init(struct layer_owner *o, enum layer_owner_kind kind, struct idmap *uids,
                      struct idmap *gids)
{
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->self_uid = geteuid();
    o->self_gid = getegid();
    if (uids) {
        o->uids = *uids;
        memset(uids, 0, sizeof(*uids));
    }
    if (gids) {
        o->gids = *gids;
        memset(gids, 0, sizeof(*gids));
    }
    if (kind == LAYER_OWNER_ROOTLESS) {
        /* Without maps the caller is the container's root, as in a
         * rootless container's usual one-id user namespace. */
        if (o->uids.n == 0) {
            o->uids.ranges = xmalloc(sizeof(struct idmap_range));
            o->uids.ranges[0] = (struct idmap_range){0, (uint32_t)o->self_uid, 1};
            o->uids.n = 1;
        }
        if (o->gids.n == 0) {
            o->gids.ranges = xmalloc(sizeof(struct idmap_range));
            o->gids.ranges[0] = (struct idmap_range){0, (uint32_t)o->self_gid, 1};
            o->gids.n = 1;
        }
    }
}

void layer_owner_release(struct layer_owner *o)
{
    idmap_release(&o->uids);
    idmap_release(&o->gids);
}

size_t layer_owner_rootless_encode(uint32_t uid, uint32_t gid, unsigned char out[static 12])
{
    if (uid == 0 && gid == 0)
        return 0; /* the default owner: no xattr */
    /* As umoci writes it: an id that stays the default (0) is NoopID
     * (UINT32_MAX, "unchanged") rather than left out. */
    uint32_t vals[2] = {uid ? uid : UINT32_MAX, gid ? gid : UINT32_MAX};
    size_t n = 0;
    for (int field = 0; field < 2; field++) {
        uint32_t v = vals[field];
        out[n++] = (unsigned char)((field + 1) << 3); /* field number, wire type varint */
        while (v >= 0x80) {
            out[n++] = (unsigned char)(v | 0x80);
            v >>= 7;
        }
        out[n++] = (unsigned char)v;
    }
    return n;
}

static int owner_chown(int fd, int dirfd, const char *name, uid_t uid, gid_t gid)
{
    if (fd >= 0)
        return fchown(fd, uid, gid);
    return fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
}

static int owner_apply_rootless(const struct layer_owner *o, int fd, int dirfd, const char *name,
                                bool is_symlink, uint32_t uid, uint32_t gid, struct keel_error **err)
{
    uint32_t hu, hg;
    bool uid_ok = idmap_to_host(&o->uids, uid, &hu) == 0;
    bool gid_ok = idmap_to_host(&o->gids, gid, &hg) == 0;
    if (uid_ok && gid_ok) {
        if (hu == o->self_uid && hg == o->self_gid)
            return 0;
        if (owner_chown(fd, dirfd, name, hu, hg) == 0)
            return 0;
    }
    /* The owner cannot be given: record it. Symlinks take no user.* xattrs. */
    if (is_symlink)
        return 0;
    unsigned char buf[12];
    size_t len = layer_owner_rootless_encode(uid, gid, buf);
    if (len == 0)
        return 0;
    int r;
    if (fd >= 0) {
        r = fsetxattr(fd, ROOTLESS_XATTR, buf, len, 0);
    } else {
        char dirpath[32];
        safepath_fd_path(dirfd, dirpath);
        char *path = xasprintf("%s/%s", dirpath, name);
        r = lsetxattr(path, ROOTLESS_XATTR, buf, len, 0);
        free(path);
    }
    if (r < 0)
        return error_set(err, errno, "recording owner %u:%u in " ROOTLESS_XATTR, uid, gid);
    return 0;
}

int layer_owner_apply(const struct layer_owner *o, int fd, int dirfd, const char *name, bool is_symlink,
                      uint32_t uid, uint32_t gid, struct keel_error **err)
{
    if (o->kind == LAYER_OWNER_ROOTLESS)
        return owner_apply_rootless(o, fd, dirfd, name, is_symlink, uid, gid, err);
    uint32_t hu, hg;
    if (idmap_to_host(&o->uids, uid, &hu) < 0)
        return error_set(err, 0, "uid %u is outside the --uid-map ranges", uid);
    if (idmap_to_host(&o->gids, gid, &hg) < 0)
        return error_set(err, 0, "gid %u is outside the --gid-map ranges", gid);
    if (owner_chown(fd, dirfd, name, hu, hg) < 0)
        return error_set(err, errno, "changing owner to %u:%u", hu, hg);
    return 0;
}

bool layer_owner_makes_devices(const struct layer_owner *o)
{
    return o->kind == LAYER_OWNER_PRIVILEGED;
}

bool layer_owner_xattr_soft(const struct layer_owner *o, const char *name, int errnum)
{
    if (errnum == EOPNOTSUPP)
        return true; /* the filesystem has no such namespace (e.g. security.selinux) */
    if (o->kind == LAYER_OWNER_ROOTLESS)
        return errnum == EPERM || errnum == EACCES;
    return false;
}

unsigned layer_owner_dir_mode(const struct layer_owner *o, unsigned mode)
{
    return o->kind == LAYER_OWNER_ROOTLESS ? mode | 0700 : mode;
}
