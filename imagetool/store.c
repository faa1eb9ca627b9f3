/* The OCI image layout store: opening, locking, blobs in and out. Tags
 * (index.json) live in store_index.c, gc in store_gc.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"
#include "error.h"
#include "fileutil.h"
#include "store.h"
#include "store_private.h"
#include "xalloc.h"

#define OCI_LAYOUT_CONTENT "{\"imageLayoutVersion\":\"1.0.0\"}"

const char *store_dir(const struct store *s)
{
    return s->dir;
}

static int store_init_layout(struct store *s, bool create, struct keel_error **err)
{
    cleanup_free char *layout = xasprintf("%s/oci-layout", s->dir);
    if (!fs_exists(layout)) {
        if (!create)
            return error_set(err, ENOENT, "image store `%s` is not an OCI image layout (no oci-layout)",
                             s->dir);
        if (file_write_atomic(layout, OCI_LAYOUT_CONTENT, strlen(OCI_LAYOUT_CONTENT), 0644, err) < 0)
            return -1;
    } else {
        cleanup_free char *text = NULL;
        if (file_read_whole(layout, 4096, &text, NULL, err) < 0)
            return -1;
        if (strstr(text, "\"1.0.0\"") == NULL)
            return error_set(err, 0, "image store `%s`: unsupported oci-layout %s", s->dir, text);
    }
    cleanup_free char *blobs = xasprintf("%s/blobs/sha256", s->dir);
    cleanup_free char *tmp = xasprintf("%s/.tmp", s->dir);
    if (fs_mkdir_p(blobs, 0755, err) < 0 || fs_mkdir_p(tmp, 0700, err) < 0)
        return -1;
    cleanup_free char *index = xasprintf("%s/index.json", s->dir);
    if (!fs_exists(index))
        return store_index_init(s, err);
    return 0;
}

int store_open(const char *dir, bool create, struct store **out, struct keel_error **err)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        if (errno != ENOENT || !create)
            return error_set(err, errno, "opening image store `%s`", dir);
        if (fs_mkdir_p(dir, 0755, err) < 0)
            return error_prefix(err, "creating image store");
    } else if (!S_ISDIR(st.st_mode)) {
        return error_set(err, ENOTDIR, "opening image store `%s`", dir);
    }
    cleanup_store struct store *s = xzalloc(sizeof(*s));
    s->dir = xstrdup(dir);
    s->lock_fd = -1;
    cleanup_free char *lock = xasprintf("%s/.lock", dir);
    s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0 && errno == EACCES && !create)
        s->lock_fd = open(lock, O_RDONLY | O_CLOEXEC);
    if (s->lock_fd < 0)
        return error_set(err, errno, "opening the store lock `%s`", lock);
    if (flock(s->lock_fd, LOCK_SH) < 0)
        return error_set(err, errno, "locking image store `%s`", dir);
    if (store_init_layout(s, create, err) < 0)
        return -1;
    *out = steal_ptr(&s);
    return 0;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->dir);
    free(s);
}

void store_closep(struct store **s)
{
    store_close(*s);
    *s = NULL;
}

char *store_blob_path(struct store *s, const char *digest)
{
    const char *hex;
    enum digest_alg alg;
    if (digest_parse(digest, &alg, &hex, NULL) < 0)
        return NULL;
    return xasprintf("%s/blobs/%s/%s", s->dir, digest_alg_name(alg), hex);
}

bool store_has_blob(struct store *s, const char *digest)
{
    cleanup_free char *p = store_blob_path(s, digest);
    return p && fs_exists(p);
}

int store_open_blob(struct store *s, const char *digest, int *fd, struct keel_error **err)
{
    if (digest_parse(digest, NULL, NULL, err) < 0)
        return -1;
    cleanup_free char *p = store_blob_path(s, digest);
    int f = open(p, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return error_set(err, errno, "opening blob %s (`%s`)", digest, p);
    *fd = f;
    return 0;
}

int store_read_blob(struct store *s, const char *digest, size_t max, char **buf, size_t *len,
                    struct keel_error **err)
{
    enum digest_alg alg;
    if (digest_parse(digest, &alg, NULL, err) < 0)
        return -1;
    cleanup_close int fd = -1;
    if (store_open_blob(s, digest, &fd, err) < 0)
        return -1;
    cleanup_free char *data = NULL;
    size_t n = 0;
    if (fd_read_whole(fd, digest, max, &data, &n, err) < 0)
        return error_prefix(err, "reading blob");
    cleanup_free char *actual = digest_buffer(alg, data, n);
    if (strcmp(actual, digest) != 0)
        return error_set(err, 0, "blob %s in the store is corrupt: its content has digest %s", digest,
                         actual);
    *buf = steal_ptr(&data);
    if (len)
        *len = n;
    return 0;
}

/* fsync the file, move it to blobs/ALG/HEX, fsync the directory. */
static int store_install_file(struct store *s, int fd, const char *tmp_path, const char *digest,
                              struct keel_error **err)
{
    enum digest_alg alg;
    if (digest_parse(digest, &alg, NULL, err) < 0)
        return -1;
    if (fsync(fd) < 0)
        return error_set(err, errno, "syncing `%s`", tmp_path);
    cleanup_free char *dir = xasprintf("%s/blobs/%s", s->dir, digest_alg_name(alg));
    if (fs_mkdir_p(dir, 0755, err) < 0)
        return -1;
    cleanup_free char *dst = store_blob_path(s, digest);
    if (fchmod(fd, 0644) < 0)
        return error_set(err, errno, "chmod `%s`", tmp_path);
    if (rename(tmp_path, dst) < 0)
        return error_set(err, errno, "moving blob into place `%s`", dst);
    cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        (void)fsync(dfd);
    return 0;
}

int store_write_blob(struct store *s, const char *digest, const void *data, size_t len, char **out_digest,
                     struct keel_error **err)
{
    enum digest_alg alg = DIGEST_SHA256;
    if (digest && digest_parse(digest, &alg, NULL, err) < 0)
        return -1;
    cleanup_free char *actual = digest_buffer(alg, data, len);
    if (digest && strcmp(actual, digest) != 0)
        return error_set(err, 0, "blob %s: content has digest %s", digest, actual);
    /* The temp file and lock of a streamed blob: a crash leaves a file named
     * after the blob, which the next write of it takes over (not a file
     * under a random name that only gc would remove). */
    for (int waited_ms = 0;; waited_ms += 10) {
        struct store_writer *w = NULL;
        int64_t offset = 0;
        int r = store_writer_open(s, actual, (int64_t)len, false, &w, &offset, err);
        if (r < 0)
            return -1;
        if (r == 1)
            break;
        if (r == 2) {
            /* Another hoist writes the same small blob: it is done in a moment. */
            if (waited_ms >= 60000)
                return error_set(err, EBUSY, "blob %s: another hoist has been writing it for a minute",
                                 actual);
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (store_writer_write(w, data, len, err) < 0) {
            store_writer_abort(w, false);
            return -1;
        }
        if (store_writer_commit(w, err) < 0)
            return -1;
        break;
    }
    if (out_digest)
        *out_digest = steal_ptr(&actual);
    return 0;
}

struct store_writer {
    struct store *store;
    char *digest;
    char *tmp_path;
    int fd;
    int64_t expected;
    int64_t written;
    enum digest_alg alg;
    struct digest_ctx md;
    /* Writes are gathered here: the network hands over 16 KiB at a time. */
    char *buf;
    size_t buf_len;
};

#define WRITER_BUF_SIZE (1024 * 1024)

static int writer_flush(struct store_writer *w, struct keel_error **err)
{
    if (w->buf_len == 0)
        return 0;
    int r = fd_write_all(w->fd, w->buf, w->buf_len);
    if (r < 0)
        return error_set(err, -r, "writing `%s`", w->tmp_path);
    /* Start writeback now so that the fsync before the rename finds little
     * left to do (it would otherwise stall every other download). */
    off_t end = lseek(w->fd, 0, SEEK_CUR);
    if (end > 0)
        (void)sync_file_range(w->fd, end - (off_t)w->buf_len, (off_t)w->buf_len, SYNC_FILE_RANGE_WRITE);
    w->buf_len = 0;
    return 0;
}

static int writer_rehash(struct store_writer *w, struct keel_error **err)
{
    char buf[65536];
    if (lseek(w->fd, 0, SEEK_SET) < 0)
        return error_set(err, errno, "seeking `%s`", w->tmp_path);
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return error_set(err, errno, "reading `%s`", w->tmp_path);
        if (n == 0)
            break;
        digest_update(&w->md, buf, (size_t)n);
        w->written += n;
    }
    return 0;
}

int store_writer_open(struct store *s, const char *digest, int64_t expected_size, bool resume,
                      struct store_writer **out, int64_t *offset, struct keel_error **err)
{
    enum digest_alg alg;
    const char *hex;
    *out = NULL;
    if (digest_parse(digest, &alg, &hex, err) < 0)
        return -1;
    if (store_has_blob(s, digest))
        return 1;
    cleanup_free char *tmp = xasprintf("%s/.tmp/%s-%s.partial", s->dir, digest_alg_name(alg), hex);
    cleanup_close int fd = open(tmp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return error_set(err, errno, "opening `%s`", tmp);
    /* Another hoist downloading the same blob holds this lock. Waiting here
     * could deadlock two pulls that each hold a blob the other wants, so
     * the caller is told to come back later. */
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            return 2;
        return error_set(err, errno, "locking `%s`", tmp);
    }
    if (store_has_blob(s, digest)) {
        /* Another writer put it in place after our first look: the file we
         * just created under its temp name is an empty leftover. */
        (void)unlink(tmp);
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        return error_set(err, errno, "stat `%s`", tmp);
    if (st.st_nlink == 0) {
        /* The previous holder renamed or removed it: start again on a fresh file. */
        return store_writer_open(s, digest, expected_size, resume, out, offset, err);
    }
    struct store_writer *w = xzalloc(sizeof(*w));
    w->store = s;
    w->digest = xstrdup(digest);
    w->tmp_path = steal_ptr(&tmp);
    w->fd = steal_fd(&fd);
    w->expected = expected_size;
    w->alg = alg;
    digest_init(&w->md, alg);
    if (resume && st.st_size > 0 && (expected_size < 0 || st.st_size <= expected_size)) {
        if (writer_rehash(w, err) < 0) {
            store_writer_abort(w, false);
            return -1;
        }
    } else if (ftruncate(w->fd, 0) < 0) {
        int e = errno;
        store_writer_abort(w, false);
        return error_set(err, e, "truncating temporary blob file");
    }
    if (lseek(w->fd, 0, SEEK_END) < 0) {
        int e = errno;
        store_writer_abort(w, false);
        return error_set(err, e, "seeking temporary blob file");
    }
    *offset = w->written;
    *out = w;
    return 0;
}

int store_writer_write(struct store_writer *w, const void *data, size_t len, struct keel_error **err)
{
    if (w->expected >= 0 && w->written + (int64_t)len > w->expected)
        return error_set(err, 0, "blob %s: more data than the %" PRId64 " bytes its descriptor declares",
                         w->digest, w->expected);
    if (w->buf == NULL)
        w->buf = xmalloc(WRITER_BUF_SIZE);
    if (w->buf_len + len > WRITER_BUF_SIZE && writer_flush(w, err) < 0)
        return -1;
    if (len >= WRITER_BUF_SIZE) {
        int r = fd_write_all(w->fd, data, len);
        if (r < 0)
            return error_set(err, -r, "writing `%s`", w->tmp_path);
    } else {
        memcpy(w->buf + w->buf_len, data, len);
        w->buf_len += len;
    }
    digest_update(&w->md, data, len);
    w->written += (int64_t)len;
    return 0;
}

int store_writer_restart(struct store_writer *w, struct keel_error **err)
{
    digest_release(&w->md);
    digest_init(&w->md, w->alg);
    w->written = 0;
    w->buf_len = 0;
    if (ftruncate(w->fd, 0) < 0 || lseek(w->fd, 0, SEEK_SET) < 0)
        return error_set(err, errno, "truncating `%s`", w->tmp_path);
    return 0;
}

int64_t store_writer_size(const struct store_writer *w)
{
    return w->written;
}

int store_writer_commit(struct store_writer *w, struct keel_error **err)
{
    int r = writer_flush(w, err);
    cleanup_free char *actual = digest_final(&w->md);
    if (r == 0 && w->expected >= 0 && w->written != w->expected)
        r = error_set(err, 0, "blob %s: got %" PRId64 " bytes, its descriptor declares %" PRId64, w->digest,
                      w->written, w->expected);
    else if (r == 0 && strcmp(actual, w->digest) != 0)
        r = error_set(err, 0, "blob %s: digest mismatch, the content received has digest %s", w->digest,
                      actual);
    else if (r == 0)
        r = store_install_file(w->store, w->fd, w->tmp_path, w->digest, err);
    /* Once renamed, the temp name may already belong to another writer. */
    store_writer_abort(w, r == 0);
    return r;
}

void store_writer_abort(struct store_writer *w, bool keep)
{
    if (w == NULL)
        return;
    if (keep && w->fd >= 0 && writer_flush(w, NULL) < 0)
        keep = false; /* a partial file we could not complete is no use */
    if (!keep)
        unlink(w->tmp_path);
    digest_release(&w->md);
    if (w->fd >= 0)
        close(w->fd);
    free(w->buf);
    free(w->digest);
    free(w->tmp_path);
    free(w);
}
