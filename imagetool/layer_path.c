#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "layer_internal.h"
#include "strbuf.h"
#include "xalloc.h"

int layer_path_clean(const char *raw, char **out, struct keel_error **err)
{
    if (raw[0] == '/')
        return error_set(err, 0, "absolute name: entries must be relative to the layer root");
    struct strbuf sb = STRBUF_INIT;
    const char *p = raw;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            strbuf_release(&sb);
            return error_set(err, 0, "name has a `..` component");
        }
        if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (sb.len)
                strbuf_putc(&sb, '/');
            strbuf_append(&sb, p, len);
        }
        p += len;
        if (*p == '/')
            p++;
    }
    if (sb.len >= PATH_MAX) {
        strbuf_release(&sb);
        return error_set(err, ENAMETOOLONG, "name too long");
    }
    *out = strbuf_detach(&sb);
    return 0;
}

/* ---- the set of paths written by this layer ---- */

static uint64_t pathset_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void pathset_grow(struct layer_pathset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    char **slots = xcalloc(cap, sizeof(char *));
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slots[i])
            continue;
        size_t j = pathset_hash(s->slots[i]) & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
}

bool layer_pathset_add(struct layer_pathset *s, const char *path)
{
    if ((s->n + 1) * 2 > s->cap)
        pathset_grow(s);
    size_t j = pathset_hash(path) & (s->cap - 1);
    while (s->slots[j]) {
        if (strcmp(s->slots[j], path) == 0)
            return false;
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = xstrdup(path);
    s->n++;
    return true;
}

bool layer_pathset_has(const struct layer_pathset *s, const char *path)
{
    if (s->cap == 0)
        return false;
    size_t j = pathset_hash(path) & (s->cap - 1);
    while (s->slots[j]) {
        if (strcmp(s->slots[j], path) == 0)
            return true;
        j = (j + 1) & (s->cap - 1);
    }
    return false;
}

void layer_pathset_release(struct layer_pathset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i]);
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

/* ---- cached directory fds ---- */

void layer_dirs_init(struct layer_dirs *d, int rootfd)
{
    memset(d, 0, sizeof(*d));
    d->rootfd = rootfd;
    d->path = xstrdup("");
}

static void dirs_pop_to(struct layer_dirs *d, size_t depth)
{
    while (d->depth > depth)
        close(d->fds[--d->depth]);
    d->path[d->depth ? d->ends[d->depth - 1] : 0] = '\0';
}

void layer_dirs_release(struct layer_dirs *d)
{
    dirs_pop_to(d, 0);
    free(d->path);
    free(d->ends);
    free(d->fds);
    memset(d, 0, sizeof(*d));
    d->rootfd = -1;
}

static int dirs_explain(int parent, const char *comp, const char *prefix, struct keel_error **err)
{
    struct stat st;
    if (fstatat(parent, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(parent, comp, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        return error_set(err, 0, "`%s` is a symlink (to `%s`): entries are never written through symlinks",
                         prefix, target);
    }
    return error_set(err, 0, "`%s` is not a directory", prefix);
}

int layer_dirs_get(struct layer_dirs *d, const char *dir, bool create, bool *missing, struct keel_error **err)
{
    if (missing)
        *missing = false;
    /* Keep the longest cached prefix that is a whole-component prefix of dir. */
    size_t keep = d->depth;
    while (keep > 0) {
        size_t e = d->ends[keep - 1];
        if (strncmp(dir, d->path, e) == 0 && (dir[e] == '\0' || dir[e] == '/'))
            break;
        keep--;
    }
    dirs_pop_to(d, keep);
    size_t pos = keep ? d->ends[keep - 1] : 0;
    if (dir[pos] == '\0')
        return keep ? d->fds[keep - 1] : d->rootfd;

    size_t dirlen = strlen(dir);
    char *path = xrealloc(d->path, dirlen + 1);
    d->path = path;
    memcpy(path, dir, dirlen + 1);
    while (dir[pos]) {
        if (dir[pos] == '/')
            pos++;
        const char *slash = strchr(dir + pos, '/');
        size_t end = slash ? (size_t)(slash - dir) : dirlen;
        char comp[NAME_MAX + 1];
        if (end - pos > NAME_MAX) {
            dirs_pop_to(d, d->depth);
            return error_set(err, ENAMETOOLONG, "path component too long in `%s`", dir);
        }
        memcpy(comp, dir + pos, end - pos);
        comp[end - pos] = '\0';
        int parent = d->depth ? d->fds[d->depth - 1] : d->rootfd;
        int fd = openat(parent, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            if (!create) {
                dirs_pop_to(d, d->depth);
                if (missing)
                    *missing = true;
                return -1;
            }
            if (d->make_dir) {
                char *prefix = xstrndup(dir, end);
                int r = d->make_dir(d->make_dir_arg, parent, comp, prefix, err);
                free(prefix);
                if (r < 0) {
                    dirs_pop_to(d, d->depth);
                    return -1;
                }
            } else if (mkdirat(parent, comp, 0755) < 0 && errno != EEXIST) {
                int e = errno;
                dirs_pop_to(d, d->depth);
                return error_set(err, e, "creating parent directory `%.*s`", (int)end, dir);
            }
            fd = openat(parent, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0) {
            int e = errno;
            char *prefix = xstrndup(dir, end);
            if (e == ENOTDIR || e == ELOOP)
                dirs_explain(parent, comp, prefix, err);
            else
                error_set(err, e, "opening directory `%s`", prefix);
            free(prefix);
            dirs_pop_to(d, d->depth);
            return -1;
        }
        if (d->depth == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 32;
            d->fds = xrealloc(d->fds, d->cap * sizeof(int));
            d->ends = xrealloc(d->ends, d->cap * sizeof(size_t));
        }
        if (d->on_open) {
            char *prefix = xstrndup(dir, end);
            d->on_open(d->on_open_arg, fd, prefix);
            free(prefix);
        }
        d->fds[d->depth] = fd;
        d->ends[d->depth] = end;
        d->depth++;
        pos = end;
    }
    return d->fds[d->depth - 1];
}
