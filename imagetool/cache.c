#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "cleanup.h"
#include "digest.h"
#include "error.h"
#include "fileutil.h"
#include "xalloc.h"

struct layer_cache {
    char *dir;
    char *abs_layers; /* realpath of dir/layers */
    int layersfd, tmpfd;
};

int layer_cache_open(const char *store_dir, struct layer_cache **out, struct keel_error **err)
{
    cleanup_free char *layers = xasprintf("%s/overlay/layers", store_dir);
    cleanup_free char *tmp = xasprintf("%s/overlay/tmp", store_dir);
    if (fs_mkdir_p(layers, 0700, err) < 0 || fs_mkdir_p(tmp, 0700, err) < 0)
        return error_prefix(err, "creating the layer cache");
    struct layer_cache *c = xzalloc(sizeof(*c));
    c->dir = xasprintf("%s/overlay", store_dir);
    c->abs_layers = realpath(layers, NULL);
    c->layersfd = open(layers, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    c->tmpfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->layersfd < 0 || c->tmpfd < 0) {
        error_set(err, errno, "opening the layer cache `%s`", c->dir);
        layer_cache_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

void layer_cache_close(struct layer_cache *c)
{
    if (!c)
        return;
    if (c->layersfd >= 0)
        close(c->layersfd);
    if (c->tmpfd >= 0)
        close(c->tmpfd);
    free(c->dir);
    free(c->abs_layers);
    free(c);
}

void layer_cache_closep(struct layer_cache **c)
{
    layer_cache_close(*c);
    *c = NULL;
}

char *layer_chain_id(const char *parent_chain_id, const char *diff_id)
{
    if (!parent_chain_id)
        return xstrdup(diff_id);
    cleanup_free char *s = xasprintf("%s %s", parent_chain_id, diff_id);
    return digest_buffer(DIGEST_SHA256, s, strlen(s));
}

static const char *cache_hex(const char *chain_id)
{
    const char *colon = strchr(chain_id, ':');
    return colon ? colon + 1 : chain_id;
}

char *layer_cache_entry_path(const struct layer_cache *c, const char *chain_id)
{
    if (!c->abs_layers || strpbrk(c->abs_layers, ",:\\"))
        return NULL;
    return xasprintf("%s/%s", c->abs_layers, cache_hex(chain_id));
}

int layer_cache_open_entry(struct layer_cache *c, const char *chain_id, int *fd, struct keel_error **err)
{
    int f = openat(c->layersfd, cache_hex(chain_id), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (f < 0)
        return error_set(err, errno, "opening cached layer %s", chain_id);
    *fd = f;
    return 0;
}

int layer_cache_get_batched(struct layer_cache *c, struct layer_cache_batch *b, const char *chain_id,
                            layer_cache_fill_fn fill, void *arg, int *fd, int *hit, struct keel_error **err)
{
    const char *hex = cache_hex(chain_id);
    int f = openat(c->layersfd, hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (f >= 0) {
        if (hit)
            *hit = 1;
        *fd = f;
        return 0;
    }
    if (errno != ENOENT)
        return error_set(err, errno, "opening cached layer %s", chain_id);
    if (hit)
        *hit = 0;
    /* A private name, so concurrent fillers never share a directory. */
    char tmpname[128];
    snprintf(tmpname, sizeof(tmpname), "%.64s.%d.XXXXXX", hex, (int)getpid());
    cleanup_free char *tmppath = xasprintf("%s/tmp/%s", c->dir, tmpname);
    if (!mkdtemp(tmppath))
        return error_set(err, errno, "creating a directory for layer %s", chain_id);
    const char *base = strrchr(tmppath, '/') + 1;
    cleanup_close int tfd = openat(c->tmpfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int rc = tfd < 0 ? error_set(err, errno, "opening `%s`", tmppath) : 0;
    if (rc == 0 && fchmod(tfd, 0755) < 0)
        rc = error_set(err, errno, "setting the mode of `%s`", tmppath);
    if (rc == 0)
        rc = fill(arg, tfd, err);
    if (rc < 0) {
        /* Never committed: a batch holds complete entries only. */
        fs_remove_tree_at(c->tmpfd, base, NULL);
        return -1;
    }
    b->c = c;
    b->items = xrealloc(b->items, (b->n + 1) * sizeof(*b->items));
    b->items[b->n].chain_id = xstrdup(chain_id);
    b->items[b->n++].tmpname = xstrdup(base);
    *fd = steal_fd(&tfd);
    return 0;
}

int layer_cache_batch_commit(struct layer_cache_batch *b, struct keel_error **err)
{
    if (b->n == 0)
        return 0;
    /* One flush for every new entry: they become visible only complete. */
    if (syncfs(b->c->tmpfd) < 0)
        return error_set(err, errno, "syncing the layer cache");
    for (size_t i = 0; i < b->n; i++) {
        if (renameat(b->c->tmpfd, b->items[i].tmpname, b->c->layersfd, cache_hex(b->items[i].chain_id)) ==
            0) {
            free(b->items[i].tmpname);
            b->items[i].tmpname = NULL;
            continue;
        }
        /* ENOTEMPTY/EEXIST: another hoist filled it meanwhile; use theirs
         * (layer_cache_batch_release drops ours). */
        if (errno != ENOTEMPTY && errno != EEXIST)
            return error_set(err, errno, "moving layer %s into the cache", b->items[i].chain_id);
    }
    return 0;
}

void layer_cache_batch_release(struct layer_cache_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->items[i].tmpname)
            fs_remove_tree_at(b->c->tmpfd, b->items[i].tmpname, NULL);
        free(b->items[i].tmpname);
        free(b->items[i].chain_id);
    }
    free(b->items);
    memset(b, 0, sizeof(*b));
}

int layer_cache_get(struct layer_cache *c, const char *chain_id, layer_cache_fill_fn fill, void *arg, int *fd,
                    int *hit, struct keel_error **err)
{
    struct layer_cache_batch b = {0};
    int f = -1;
    int rc = layer_cache_get_batched(c, &b, chain_id, fill, arg, &f, hit, err);
    if (rc == 0)
        rc = layer_cache_batch_commit(&b, err);
    if (f >= 0)
        close(f);
    layer_cache_batch_release(&b);
    if (rc < 0)
        return -1;
    return layer_cache_open_entry(c, chain_id, fd, err);
}
