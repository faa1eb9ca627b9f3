/* A producer thread reads the blob, hashes it, decompresses it and hashes
 * the result, handing fixed-size buffers to the tar reader through a small
 * bounded queue: decompression and SHA-256 run on one CPU while the
 * extraction's system calls run on another, as `tar -xz` overlaps gzip. */
#include <archive.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"
#include "error.h"
#include "layer_stream.h"
#include "xalloc.h"

#define STREAM_SLOTS 8
#define STREAM_SLOT_SIZE (256 * 1024)
#define STREAM_READ_SIZE (256 * 1024)

struct stream_slot {
    char *data;
    size_t len;
};

struct layer_stream {
    int fd;
    enum layer_compression comp;
    unsigned char magic[4];
    size_t magic_len; /* bytes of magic[] not yet handed to the decompressor */
    char *inbuf;
    struct digest_ctx compressed, uncompressed;
    uint64_t compressed_bytes, uncompressed_bytes; /* producer's counts */
    uint64_t consumed_bytes;                       /* the consumer's */
    char *compressed_digest, *uncompressed_digest; /* set by the producer at the end */

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct stream_slot slots[STREAM_SLOTS];
    size_t head, count;   /* filled slots: head .. head+count-1 (mod STREAM_SLOTS) */
    bool consumer_holds;  /* the head slot is lent to the consumer */
    bool done, cancelled; /* producer finished / consumer gave up */
    struct keel_error *producer_err;
    struct keel_error *consumer_err;
};

static ssize_t stream_read_blob(struct layer_stream *s, const void **buf)
{
    if (s->magic_len > 0) {
        size_t n = s->magic_len;
        s->magic_len = 0;
        *buf = s->magic;
        return (ssize_t)n;
    }
    ssize_t n;
    do
        n = read(s->fd, s->inbuf, STREAM_READ_SIZE);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return error_set(&s->producer_err, errno, "reading the layer blob");
    digest_update(&s->compressed, s->inbuf, (size_t)n);
    s->compressed_bytes += (uint64_t)n;
    *buf = s->inbuf;
    return n;
}

static la_ssize_t stream_archive_read(struct archive *a, void *data, const void **buf)
{
    struct layer_stream *s = data;
    ssize_t n = stream_read_blob(s, buf);
    if (n < 0)
        archive_set_error(a, EIO, "%s", error_msg(s->producer_err));
    return n;
}

/* Wait for a free slot and fill it from src; false when cancelled. */
static bool stream_push(struct layer_stream *s, const char *src, size_t len)
{
    while (len > 0) {
        pthread_mutex_lock(&s->lock);
        while (s->count == STREAM_SLOTS && !s->cancelled)
            pthread_cond_wait(&s->changed, &s->lock);
        if (s->cancelled) {
            pthread_mutex_unlock(&s->lock);
            return false;
        }
        struct stream_slot *slot = &s->slots[(s->head + s->count) % STREAM_SLOTS];
        pthread_mutex_unlock(&s->lock);
        /* The slot is free: only this thread touches it until count grows. */
        size_t n = len < STREAM_SLOT_SIZE ? len : STREAM_SLOT_SIZE;
        memcpy(slot->data, src, n);
        slot->len = n;
        src += n;
        len -= n;
        pthread_mutex_lock(&s->lock);
        s->count++;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
    }
    return true;
}

static bool stream_cancelled(struct layer_stream *s)
{
    pthread_mutex_lock(&s->lock);
    bool c = s->cancelled;
    pthread_mutex_unlock(&s->lock);
    return c;
}

static int stream_produce_plain(struct layer_stream *s)
{
    for (;;) {
        const void *buf;
        ssize_t n = stream_read_blob(s, &buf);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        /* Uncompressed: the diffID is the blob digest, hashed once. */
        if (!stream_push(s, buf, (size_t)n))
            return 0;
    }
}

static int stream_produce_decompressed(struct layer_stream *s)
{
    struct archive *a = archive_read_new();
    if (s->comp == LAYER_COMPRESSION_GZIP)
        archive_read_support_filter_gzip(a);
    else
        archive_read_support_filter_zstd(a);
    archive_read_support_format_raw(a);
    int rc = -1;
    struct archive_entry *entry;
    if (archive_read_open(a, s, NULL, stream_archive_read, NULL) != ARCHIVE_OK ||
        archive_read_next_header(a, &entry) != ARCHIVE_OK) {
        if (!s->producer_err)
            error_set(&s->producer_err, 0, "decompressing the layer (%s): %s",
                      layer_compression_name(s->comp), archive_error_string(a));
        goto out;
    }
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(a, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK) {
            if (!s->producer_err)
                error_set(&s->producer_err, 0, "decompressing the layer (%s): %s",
                          layer_compression_name(s->comp), archive_error_string(a));
            goto out;
        }
        digest_update(&s->uncompressed, buf, len);
        s->uncompressed_bytes += len;
        if (!stream_push(s, buf, len)) {
            rc = 0;
            goto out;
        }
    }
    /* Whatever follows the compressed data still belongs to the blob. */
    for (;;) {
        const void *buf;
        ssize_t n = stream_read_blob(s, &buf);
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        if (stream_cancelled(s))
            break;
    }
    rc = 0;
out:
    archive_read_free(a);
    return rc;
}

static void *stream_thread(void *arg)
{
    struct layer_stream *s = arg;
    int rc = s->comp == LAYER_COMPRESSION_NONE ? stream_produce_plain(s) : stream_produce_decompressed(s);
    if (rc == 0) {
        s->compressed_digest = digest_final(&s->compressed);
        s->uncompressed_digest = s->comp == LAYER_COMPRESSION_NONE ? xstrdup(s->compressed_digest)
                                                                   : digest_final(&s->uncompressed);
    }
    pthread_mutex_lock(&s->lock);
    s->done = true;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static const unsigned char gzip_magic[] = {0x1f, 0x8b};
static const unsigned char zstd_magic[] = {0x28, 0xb5, 0x2f, 0xfd};

static int stream_check_magic(struct layer_stream *s, struct keel_error **err)
{
    size_t got = 0;
    while (got < sizeof(s->magic)) {
        ssize_t n = read(s->fd, s->magic + got, sizeof(s->magic) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return error_set(err, errno, "reading the layer blob");
        if (n == 0)
            break;
        got += (size_t)n;
    }
    s->magic_len = got;
    digest_update(&s->compressed, s->magic, got);
    s->compressed_bytes = got;
    bool is_gzip = got >= 2 && memcmp(s->magic, gzip_magic, 2) == 0;
    bool is_zstd = got >= 4 && memcmp(s->magic, zstd_magic, 4) == 0;
    const char *want = layer_compression_name(s->comp);
    if (s->comp == LAYER_COMPRESSION_GZIP && !is_gzip)
        return error_set(err, 0, "the media type says %s but the blob does not start with gzip's magic bytes",
                         want);
    if (s->comp == LAYER_COMPRESSION_ZSTD && !is_zstd)
        return error_set(err, 0, "the media type says %s but the blob does not start with zstd's magic bytes",
                         want);
    if (s->comp == LAYER_COMPRESSION_NONE && (is_gzip || is_zstd))
        return error_set(err, 0, "the media type says uncompressed tar but the blob is %s-compressed",
                         is_gzip ? "gzip" : "zstd");
    return 0;
}

int layer_stream_open(int fd, enum layer_compression comp, struct layer_stream **out, struct keel_error **err)
{
    struct layer_stream *s = xzalloc(sizeof(*s));
    s->fd = fd;
    s->comp = comp;
    digest_init(&s->compressed, DIGEST_SHA256);
    digest_init(&s->uncompressed, DIGEST_SHA256);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    if (stream_check_magic(s, err) < 0) {
        layer_stream_free(s);
        return -1;
    }
    s->inbuf = xmalloc(STREAM_READ_SIZE);
    for (size_t i = 0; i < STREAM_SLOTS; i++)
        s->slots[i].data = xmalloc(STREAM_SLOT_SIZE);
    /* The worker starts with every signal blocked, whatever the caller's
     * mask: a process-directed signal must reach the thread that checks for
     * it (layer_apply_opts.interrupt) and cleans up, never kill hoist in
     * the worker halfway through a layer. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(&s->thread, NULL, stream_thread, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        layer_stream_free(s);
        return error_set(err, r, "starting the layer decompression thread");
    }
    s->thread_started = true;
    *out = s;
    return 0;
}

ssize_t layer_stream_read(struct layer_stream *s, const void **buf)
{
    pthread_mutex_lock(&s->lock);
    if (s->consumer_holds) {
        s->consumer_holds = false;
        s->head = (s->head + 1) % STREAM_SLOTS;
        s->count--;
        pthread_cond_broadcast(&s->changed);
    }
    while (s->count == 0 && !s->done)
        pthread_cond_wait(&s->changed, &s->lock);
    ssize_t n;
    if (s->count > 0) {
        s->consumer_holds = true;
        *buf = s->slots[s->head].data;
        n = (ssize_t)s->slots[s->head].len;
        s->consumed_bytes += (uint64_t)n;
    } else if (s->producer_err) {
        error_set(&s->consumer_err, s->producer_err->errnum, "%s", s->producer_err->msg);
        n = -1;
    } else {
        n = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

struct keel_error **layer_stream_error(struct layer_stream *s)
{
    return &s->consumer_err;
}

uint64_t layer_stream_uncompressed_bytes(const struct layer_stream *s)
{
    return s->consumed_bytes;
}

int layer_stream_finish(struct layer_stream *s, const char *digest, const char *diff_id, int64_t size,
                        struct keel_error **err)
{
    for (;;) {
        const void *buf;
        ssize_t n = layer_stream_read(s, &buf);
        if (n < 0)
            return error_set(err, s->consumer_err->errnum, "%s", s->consumer_err->msg);
        if (n == 0)
            break;
    }
    pthread_join(s->thread, NULL);
    s->thread_started = false;
    if (size >= 0 && s->compressed_bytes != (uint64_t)size)
        return error_set(err, 0, "blob size mismatch: the descriptor says %lld bytes, the blob has %llu",
                         (long long)size, (unsigned long long)s->compressed_bytes);
    if (digest && strcmp(digest, s->compressed_digest) != 0)
        return error_set(err, 0, "digest mismatch: the blob's content is %s", s->compressed_digest);
    if (diff_id && strcmp(diff_id, s->uncompressed_digest) != 0)
        return error_set(err, 0, "diffID mismatch: the image config says %s, the uncompressed layer is %s",
                         diff_id, s->uncompressed_digest);
    return 0;
}

void layer_stream_free(struct layer_stream *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        pthread_mutex_lock(&s->lock);
        s->cancelled = true;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    for (size_t i = 0; i < STREAM_SLOTS; i++)
        free(s->slots[i].data);
    free(s->inbuf);
    free(s->compressed_digest);
    free(s->uncompressed_digest);
    digest_release(&s->compressed);
    digest_release(&s->uncompressed);
    error_free(s->producer_err);
    error_free(s->consumer_err);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->changed);
    free(s);
}
