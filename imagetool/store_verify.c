/* hoist fsck: check the store against its own references. Every blob under
 * blobs/ is hashed once; the walk from index.json through indexes and
 * manifests marks what is needed and reports what is missing; what is left
 * is dangling. Temporary files no live hoist holds are orphans. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"
#include "error.h"
#include "fileutil.h"
#include "manifest.h"
#include "store.h"
#include "store_private.h"
#include "xalloc.h"

#define FSCK_MAX_DEPTH 8
#define FSCK_READ_SIZE (256 * 1024)

struct fsck_blob {
    char *digest;
    uint64_t size;
    bool referenced;
    bool hashed;
    bool good; /* content matches the name (valid once hashed) */
    bool walked;
};

struct fsck {
    struct store *s;
    const struct store_fsck_options *o;
    struct store_fsck_report *rep;
    struct fsck_blob *blobs;
    size_t n, cap;
    bool walk_ok; /* index.json was readable: "unreferenced" is meaningful */
};

/* How a blob is reached: manifests and indexes are opened and followed. */
enum fsck_role { ROLE_TOP, ROLE_INDEX_CHILD, ROLE_LEAF };

bool store_fsck_kind_is_damage(enum store_fsck_kind k)
{
    return k == STORE_FSCK_MISSING || k == STORE_FSCK_CORRUPT || k == STORE_FSCK_STRAY;
}

const char *store_fsck_kind_name(enum store_fsck_kind k)
{
    switch (k) {
    case STORE_FSCK_MISSING:
        return "missing";
    case STORE_FSCK_CORRUPT:
        return "corrupt";
    case STORE_FSCK_STRAY:
        return "stray";
    case STORE_FSCK_DANGLING:
        return "dangling";
    case STORE_FSCK_ORPHAN:
        return "orphaned";
    }
    return "unknown";
}

void store_fsck_report_release(struct store_fsck_report *rep)
{
    for (size_t i = 0; i < rep->n; i++) {
        free(rep->problems[i].name);
        free(rep->problems[i].detail);
        free(rep->problems[i].image);
    }
    free(rep->problems);
    rep->problems = NULL;
    rep->n = rep->cap = 0;
}

/* One problem per (kind, name): a layer shared by two images is reported once. */
static struct store_fsck_problem *fsck_problem(struct fsck *f, enum store_fsck_kind kind, const char *name,
                                               const char *image, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static struct store_fsck_problem *fsck_problem(struct fsck *f, enum store_fsck_kind kind, const char *name,
                                               const char *image, const char *fmt, ...)
{
    struct store_fsck_report *rep = f->rep;
    for (size_t i = 0; i < rep->n; i++)
        if (rep->problems[i].kind == kind && strcmp(rep->problems[i].name, name) == 0)
            return NULL;
    if (rep->n == rep->cap) {
        rep->cap = rep->cap ? rep->cap * 2 : 16;
        rep->problems = xrealloc(rep->problems, rep->cap * sizeof(*rep->problems));
    }
    struct store_fsck_problem *p = &rep->problems[rep->n++];
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->name = xstrdup(name);
    p->image = image ? xstrdup(image) : NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&p->detail, fmt, ap) < 0)
        p->detail = xstrdup("?");
    va_end(ap);
    return p;
}

static int fsck_blob_cmp(const void *a, const void *b)
{
    return strcmp(((const struct fsck_blob *)a)->digest, ((const struct fsck_blob *)b)->digest);
}

static struct fsck_blob *fsck_find(struct fsck *f, const char *digest)
{
    struct fsck_blob key = {.digest = (char *)digest};
    return f->n ? bsearch(&key, f->blobs, f->n, sizeof(*f->blobs), fsck_blob_cmp) : NULL;
}

static int fsck_scan_alg(struct fsck *f, const char *alg, struct keel_error **err)
{
    cleanup_free char *dir = xasprintf("%s/blobs/%s", store_dir(f->s), alg);
    cleanup_dir DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : error_set(err, errno, "opening `%s`", dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        cleanup_free char *digest = xasprintf("%s:%s", alg, de->d_name);
        cleanup_free char *path = xasprintf("%s/%s", dir, de->d_name);
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return error_set(err, errno, "stat `%s`", path);
        if (digest_parse(digest, NULL, NULL, NULL) < 0) {
            fsck_problem(f, STORE_FSCK_STRAY, path, NULL, "not named after a %s digest", alg);
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            fsck_problem(f, STORE_FSCK_STRAY, path, NULL, "not a regular file");
            continue;
        }
        if (f->n == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 64;
            f->blobs = xrealloc(f->blobs, f->cap * sizeof(*f->blobs));
        }
        f->blobs[f->n++] = (struct fsck_blob){.digest = steal_ptr(&digest), .size = (uint64_t)st.st_size};
    }
    return 0;
}

/* Every entry of blobs/: sha256 and sha512 are the algorithms hoist writes. */
static int fsck_scan_blobs(struct fsck *f, struct keel_error **err)
{
    cleanup_free char *dir = xasprintf("%s/blobs", store_dir(f->s));
    cleanup_dir DIR *d = opendir(dir);
    if (d == NULL)
        return error_set(err, errno, "opening `%s`", dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (strcmp(de->d_name, "sha256") == 0 || strcmp(de->d_name, "sha512") == 0) {
            if (fsck_scan_alg(f, de->d_name, err) < 0)
                return -1;
            continue;
        }
        cleanup_free char *path = xasprintf("%s/%s", dir, de->d_name);
        fsck_problem(f, STORE_FSCK_STRAY, path, NULL, "not a digest algorithm hoist stores (sha256, sha512)");
    }
    if (f->n)
        qsort(f->blobs, f->n, sizeof(*f->blobs), fsck_blob_cmp);
    return 0;
}

/* Remove a corrupt blob so that the next pull fetches it again. */
static int fsck_repair_blob(struct fsck *f, struct store_fsck_problem *p, const char *digest,
                            struct keel_error **err)
{
    if (p == NULL || !f->o->repair)
        return 0;
    cleanup_free char *path = store_blob_path(f->s, digest);
    if (unlink(path) < 0 && errno != ENOENT)
        return error_set(err, errno, "fsck --repair: removing corrupt blob `%s`", path);
    p->repaired = true;
    return 0;
}

/* Hash the blob's whole content once; a mismatch is reported here. */
static int fsck_hash(struct fsck *f, struct fsck_blob *b, const char *image, struct keel_error **err)
{
    if (b->hashed)
        return 0;
    b->hashed = true;
    enum digest_alg alg;
    if (digest_parse(b->digest, &alg, NULL, err) < 0)
        return -1;
    cleanup_free char *path = store_blob_path(f->s, b->digest);
    cleanup_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        struct store_fsck_problem *p = fsck_problem(f, STORE_FSCK_CORRUPT, b->digest, image,
                                                    "`%s` cannot be opened: %s", path, strerror(errno));
        return fsck_repair_blob(f, p, b->digest, err);
    }
    cleanup_digest struct digest_ctx md = {0};
    digest_init(&md, alg);
    cleanup_free char *buf = xmalloc(FSCK_READ_SIZE);
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, FSCK_READ_SIZE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            struct store_fsck_problem *p = fsck_problem(f, STORE_FSCK_CORRUPT, b->digest, image,
                                                        "reading `%s`: %s", path, strerror(errno));
            return fsck_repair_blob(f, p, b->digest, err);
        }
        if (n == 0)
            break;
        digest_update(&md, buf, (size_t)n);
        total += (uint64_t)n;
    }
    cleanup_free char *actual = digest_final(&md);
    f->rep->blobs++;
    f->rep->bytes += total;
    b->size = total;
    if (strcmp(actual, b->digest) == 0) {
        b->good = true;
        return 0;
    }
    struct store_fsck_problem *p =
        fsck_problem(f, STORE_FSCK_CORRUPT, b->digest, image,
                     "`%s` (%" PRIu64 " bytes) has content of digest %s", path, total, actual);
    return fsck_repair_blob(f, p, b->digest, err);
}

static int fsck_check(struct fsck *f, const struct oci_descriptor *d, enum fsck_role role, const char *image,
                      const char *from, int depth, struct keel_error **err);

/* Follow a manifest's or an index's descriptors. */
static int fsck_walk(struct fsck *f, const struct oci_descriptor *d, struct fsck_blob *b, const char *image,
                     int depth, struct keel_error **err)
{
    if (b->walked)
        return 0;
    b->walked = true;
    if (depth > FSCK_MAX_DEPTH) {
        fsck_problem(f, STORE_FSCK_CORRUPT, d->digest, image, "indexes nested more than %d deep",
                     FSCK_MAX_DEPTH);
        return 0;
    }
    cleanup_free char *data = NULL;
    size_t len = 0;
    cleanup_error struct keel_error *perr = NULL;
    enum manifest_kind kind = MANIFEST_KIND_MANIFEST;
    if (store_read_blob(f->s, d->digest, MANIFEST_MAX_SIZE, &data, &len, &perr) < 0 ||
        manifest_detect_kind(data, len, d->media_type, &kind, &perr) < 0) {
        fsck_problem(f, STORE_FSCK_CORRUPT, d->digest, image, "not a readable manifest or index: %s",
                     error_msg(perr));
        return 0;
    }
    if (kind == MANIFEST_KIND_INDEX) {
        cleanup_index struct oci_index *idx = NULL;
        if (index_parse(data, len, d->media_type, &idx, &perr) < 0) {
            fsck_problem(f, STORE_FSCK_CORRUPT, d->digest, image, "not a valid index: %s", error_msg(perr));
            return 0;
        }
        for (size_t i = 0; i < idx->n_manifests; i++) {
            cleanup_free char *from = xasprintf("manifests[%zu] of index %s", i, d->digest);
            if (fsck_check(f, &idx->manifests[i], ROLE_INDEX_CHILD, image, from, depth + 1, err) < 0)
                return -1;
        }
        return 0;
    }
    cleanup_manifest struct oci_manifest *m = NULL;
    if (manifest_parse(data, len, d->media_type, &m, &perr) < 0) {
        fsck_problem(f, STORE_FSCK_CORRUPT, d->digest, image, "not a valid manifest: %s", error_msg(perr));
        return 0;
    }
    cleanup_free char *cfrom = xasprintf("config of manifest %s", d->digest);
    if (fsck_check(f, &m->config, ROLE_LEAF, image, cfrom, depth + 1, err) < 0)
        return -1;
    for (size_t i = 0; i < m->n_layers; i++) {
        cleanup_free char *lfrom = xasprintf("layer %zu of manifest %s", i + 1, d->digest);
        if (fsck_check(f, &m->layers[i], ROLE_LEAF, image, lfrom, depth + 1, err) < 0)
            return -1;
    }
    return 0;
}

static int fsck_check(struct fsck *f, const struct oci_descriptor *d, enum fsck_role role, const char *image,
                      const char *from, int depth, struct keel_error **err)
{
    struct fsck_blob *b = fsck_find(f, d->digest);
    if (b == NULL) {
        /* An index names every platform; only the ones pulled are here. */
        if (role != ROLE_INDEX_CHILD)
            fsck_problem(f, STORE_FSCK_MISSING, d->digest, image, "%s is not in the store", from);
        return 0;
    }
    b->referenced = true;
    if (fsck_hash(f, b, image, err) < 0)
        return -1;
    if (!b->good)
        return 0;
    if (d->size >= 0 && b->size != (uint64_t)d->size) {
        fsck_problem(f, STORE_FSCK_CORRUPT, d->digest, image, "%" PRIu64 " bytes, but %s declares %" PRId64,
                     b->size, from, d->size);
        return 0;
    }
    if (role == ROLE_LEAF)
        return 0;
    return fsck_walk(f, d, b, image, depth, err);
}

static int fsck_walk_tags(struct fsck *f, struct keel_error **err)
{
    struct store_entry *e = NULL;
    size_t n = 0;
    cleanup_error struct keel_error *lerr = NULL;
    if (store_list(f->s, &e, &n, &lerr) < 0) {
        cleanup_free char *path = xasprintf("%s/index.json", store_dir(f->s));
        fsck_problem(f, STORE_FSCK_CORRUPT, path, NULL, "%s", error_msg(lerr));
        return 0;
    }
    f->walk_ok = true;
    f->rep->images = n;
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        cleanup_free char *from = xasprintf("index.json manifests[%zu]", i);
        cleanup_free char *untagged = xasprintf("(untagged entry %zu)", i);
        r = fsck_check(f, &e[i].desc, ROLE_TOP, e[i].ref_name ? e[i].ref_name : untagged, from, 0, err);
    }
    store_entries_free(e, n);
    return r;
}

/* Blobs no walk reached: hashed too (a corrupt one is damage all the same). */
static int fsck_unreferenced(struct fsck *f, struct keel_error **err)
{
    for (size_t i = 0; i < f->n; i++) {
        struct fsck_blob *b = &f->blobs[i];
        if (b->referenced)
            continue;
        if (fsck_hash(f, b, NULL, err) < 0)
            return -1;
        if (b->good && f->walk_ok)
            fsck_problem(f, STORE_FSCK_DANGLING, b->digest, NULL,
                         "%" PRIu64 " bytes that no image references (`hoist gc` removes it)", b->size);
    }
    return 0;
}

static int fsck_orphan(struct fsck *f, int dfd, const char *dir, const char *name, const struct stat *st,
                       struct keel_error **err)
{
    cleanup_free char *path = xasprintf("%s/%s", dir, name);
    struct store_fsck_problem *p = fsck_problem(
        f, STORE_FSCK_ORPHAN, path, NULL,
        "%" PRIu64 " bytes that no running hoist is writing (`hoist gc` removes it)", (uint64_t)st->st_size);
    if (p == NULL || !f->o->repair)
        return 0;
    if (S_ISDIR(st->st_mode)) {
        if (fs_remove_tree_at(dfd, name, err) < 0)
            return error_prefix(err, "fsck --repair");
    } else if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT) {
        return error_set(err, errno, "fsck --repair: removing `%s`", path);
    }
    p->repaired = true;
    return 0;
}

/* A downloader holds an flock on its temp file for as long as it writes
 * it; a file whose lock we can take belongs to nobody. */
static int fsck_scan_tmp(struct fsck *f, struct keel_error **err)
{
    cleanup_free char *dir = xasprintf("%s/.tmp", store_dir(f->s));
    cleanup_dir DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : error_set(err, errno, "opening `%s`", dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue; /* committed or removed meanwhile */
            return error_set(err, errno, "stat `%s/%s`", dir, de->d_name);
        }
        if (!S_ISREG(st.st_mode)) {
            if (fsck_orphan(f, dirfd(d), dir, de->d_name, &st, err) < 0)
                return -1;
            continue;
        }
        cleanup_close int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            return error_set(err, errno, "opening `%s/%s`", dir, de->d_name);
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            if (errno == EWOULDBLOCK)
                continue; /* being written */
            return error_set(err, errno, "locking `%s/%s`", dir, de->d_name);
        }
        /* Still the file under that name (not renamed into blobs/ by the
         * writer that held the lock until a moment ago)? */
        struct stat now, held;
        if (fstat(fd, &held) < 0 || fstatat(dirfd(d), de->d_name, &now, AT_SYMLINK_NOFOLLOW) < 0 ||
            now.st_ino != held.st_ino || now.st_dev != held.st_dev)
            continue;
        if (fsck_orphan(f, dirfd(d), dir, de->d_name, &held, err) < 0)
            return -1;
    }
    return 0;
}

/* NAME.tmp.PID beside index.json / oci-layout: an atomic replace that died. */
static int fsck_scan_top(struct fsck *f, struct keel_error **err)
{
    const char *dir = store_dir(f->s);
    cleanup_dir DIR *d = opendir(dir);
    if (d == NULL)
        return error_set(err, errno, "opening `%s`", dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        /* Both prefixes are 15 characters long. */
        bool temp = strncmp(de->d_name, "index.json.tmp.", 15) == 0 ||
                    strncmp(de->d_name, "oci-layout.tmp.", 15) == 0;
        const char *rest = temp ? de->d_name + 15 : NULL;
        if (rest == NULL || rest[0] == '\0' || strspn(rest, "0123456789") != strlen(rest))
            continue;
        long pid = strtol(rest, NULL, 10);
        if (pid > 0 && kill((pid_t)pid, 0) == 0)
            continue; /* its writer is alive */
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (fsck_orphan(f, dirfd(d), dir, de->d_name, &st, err) < 0)
            return -1;
    }
    return 0;
}

static int fsck_run(struct fsck *f, struct keel_error **err)
{
    if (fsck_scan_blobs(f, err) < 0 || fsck_walk_tags(f, err) < 0 || fsck_unreferenced(f, err) < 0 ||
        fsck_scan_tmp(f, err) < 0 || fsck_scan_top(f, err) < 0)
        return -1;
    return 0;
}

int store_fsck(struct store *s, const struct store_fsck_options *o, struct store_fsck_report *rep,
               struct keel_error **err)
{
    struct store_fsck_options none = {0};
    struct fsck f = {.s = s, .o = o ? o : &none, .rep = rep};
    if (f.o->exclusive && flock(s->lock_fd, LOCK_EX) < 0)
        return error_set(err, errno, "locking image store `%s` for fsck", s->dir);
    int r = fsck_run(&f, err);
    if (f.o->exclusive)
        (void)flock(s->lock_fd, LOCK_SH);
    for (size_t i = 0; i < f.n; i++)
        free(f.blobs[i].digest);
    free(f.blobs);
    if (r < 0)
        return error_prefix(err, "checking image store `%s`", s->dir);
    return 0;
}
