/* Garbage collection: mark every blob reachable from index.json (through
 * indexes and manifests), remove the rest and any leftover temp files.
 * Runs under the exclusive store lock, so no pull is half-way. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "store.h"
#include "store_private.h"
#include "xalloc.h"

struct mark_set {
    char **digests;
    size_t n, cap;
};

static bool mark_has(const struct mark_set *m, const char *d)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->digests[i], d) == 0)
            return true;
    return false;
}

static void mark_add(struct mark_set *m, const char *d)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->digests = xrealloc(m->digests, m->cap * sizeof(char *));
    }
    m->digests[m->n++] = xstrdup(d);
}

static int gc_mark(struct store *s, const struct oci_descriptor *d, struct mark_set *m, int depth,
                   struct keel_error **err)
{
    if (mark_has(m, d->digest))
        return 0;
    mark_add(m, d->digest);
    if (!store_has_blob(s, d->digest))
        return 0;
    bool is_index =
        strcmp(d->media_type, MEDIA_OCI_INDEX) == 0 || strcmp(d->media_type, MEDIA_DOCKER_LIST) == 0;
    bool is_manifest =
        strcmp(d->media_type, MEDIA_OCI_MANIFEST) == 0 || strcmp(d->media_type, MEDIA_DOCKER_MANIFEST) == 0;
    if (!is_index && !is_manifest)
        return 0;
    if (depth > 8)
        return error_set(err, ELOOP, "gc: indexes nested too deeply at %s", d->digest);
    cleanup_free char *data = NULL;
    size_t len = 0;
    if (store_read_blob(s, d->digest, MANIFEST_MAX_SIZE, &data, &len, err) < 0)
        return -1;
    if (is_index) {
        cleanup_index struct oci_index *idx = NULL;
        if (index_parse(data, len, d->media_type, &idx, err) < 0)
            return error_prefix(err, "gc: index %s", d->digest);
        for (size_t i = 0; i < idx->n_manifests; i++)
            if (gc_mark(s, &idx->manifests[i], m, depth + 1, err) < 0)
                return -1;
    } else {
        cleanup_manifest struct oci_manifest *man = NULL;
        if (manifest_parse(data, len, d->media_type, &man, err) < 0)
            return error_prefix(err, "gc: manifest %s", d->digest);
        mark_add(m, man->config.digest);
        for (size_t i = 0; i < man->n_layers; i++)
            mark_add(m, man->layers[i].digest);
    }
    return 0;
}

static int gc_sweep_dir(const char *dir, const char *alg, const struct mark_set *m, bool all, size_t *removed,
                        uint64_t *freed, struct keel_error **err)
{
    cleanup_dir DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : error_set(err, errno, "opening `%s`", dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (!all) {
            cleanup_free char *digest = xasprintf("%s:%s", alg, de->d_name);
            if (mark_has(m, digest))
                continue;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) < 0)
            return error_set(err, errno, "removing `%s/%s`", dir, de->d_name);
        (*removed)++;
        *freed += (uint64_t)st.st_size;
    }
    return 0;
}

int store_gc(struct store *s, size_t *removed, uint64_t *freed, struct keel_error **err)
{
    if (flock(s->lock_fd, LOCK_EX) < 0)
        return error_set(err, errno, "locking image store `%s` for gc", s->dir);
    struct mark_set m = {0};
    struct store_entry *e = NULL;
    size_t n = 0;
    int r = store_list(s, &e, &n, err);
    for (size_t i = 0; r == 0 && i < n; i++)
        r = gc_mark(s, &e[i].desc, &m, 0, err);
    store_entries_free(e, n);
    size_t rm = 0;
    uint64_t fr = 0;
    if (r == 0) {
        static const char *const algs[] = {"sha256", "sha512"};
        for (size_t i = 0; r == 0 && i < 2; i++) {
            cleanup_free char *dir = xasprintf("%s/blobs/%s", s->dir, algs[i]);
            r = gc_sweep_dir(dir, algs[i], &m, false, &rm, &fr, err);
        }
    }
    if (r == 0) {
        cleanup_free char *tmp = xasprintf("%s/.tmp", s->dir);
        r = gc_sweep_dir(tmp, "", &m, true, &rm, &fr, err);
    }
    for (size_t i = 0; i < m.n; i++)
        free(m.digests[i]);
    free(m.digests);
    (void)flock(s->lock_fd, LOCK_SH);
    if (removed)
        *removed = rm;
    if (freed)
        *freed = fr;
    return r;
}
