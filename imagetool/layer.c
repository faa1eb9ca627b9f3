/* The layer applier's main loop: stream, walk the tar entries, dispatch. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "layer.h"
#include "layer_internal.h"
#include "layer_stream.h"
#include "log.h"
#include "xalloc.h"

static const struct {
    const char *media_type;
    enum layer_compression compression;
} layer_media_types[] = {
    {"application/vnd.oci.image.layer.v1.tar", LAYER_COMPRESSION_NONE},
    {"application/vnd.oci.image.layer.v1.tar+gzip", LAYER_COMPRESSION_GZIP},
    {"application/vnd.oci.image.layer.v1.tar+zstd", LAYER_COMPRESSION_ZSTD},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar", LAYER_COMPRESSION_NONE},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LAYER_COMPRESSION_GZIP},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", LAYER_COMPRESSION_ZSTD},
    {"application/vnd.docker.image.rootfs.diff.tar", LAYER_COMPRESSION_NONE},
    {"application/vnd.docker.image.rootfs.diff.tar.gzip", LAYER_COMPRESSION_GZIP},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", LAYER_COMPRESSION_GZIP},
};

int layer_compression_from_media_type(const char *media_type, enum layer_compression *out,
                                      struct keel_error **err)
{
    for (size_t i = 0; i < sizeof(layer_media_types) / sizeof(*layer_media_types); i++) {
        if (strcmp(media_type, layer_media_types[i].media_type) == 0) {
            *out = layer_media_types[i].compression;
            return 0;
        }
    }
    return error_set(err, 0, "unsupported layer media type `%s`", media_type);
}

const char *layer_compression_name(enum layer_compression c)
{
    switch (c) {
    case LAYER_COMPRESSION_GZIP:
        return "gzip";
    case LAYER_COMPRESSION_ZSTD:
        return "zstd";
    default:
        return "uncompressed";
    }
}

void layer_seen_add(struct layer_ctx *ctx, const char *path)
{
    layer_pathset_add(&ctx->seen, path);
    /* Ancestors too, stopping at the first one already recorded. */
    cleanup_free char *copy = xstrdup(path);
    for (char *slash = strrchr(copy, '/'); slash; slash = strrchr(copy, '/')) {
        *slash = '\0';
        if (!layer_pathset_add(&ctx->ancestors, copy))
            break;
    }
}

bool layer_seen_under(const struct layer_ctx *ctx, const char *path)
{
    return layer_pathset_has(&ctx->seen, path) || layer_pathset_has(&ctx->ancestors, path);
}

static void layer_dirs_noted(void *arg, int fd, const char *prefix)
{
    layer_entry_note_dir(arg, fd, prefix);
}

static la_ssize_t layer_tar_read(struct archive *a, void *data, const void **buf)
{
    struct layer_stream *s = data;
    ssize_t n = layer_stream_read(s, buf);
    if (n < 0)
        archive_set_error(a, EIO, "%s", error_msg(*layer_stream_error(s)));
    return n;
}

static void layer_ctx_release(struct layer_ctx *ctx)
{
    layer_dirs_release(&ctx->dirs);
    layer_pathset_release(&ctx->seen);
    layer_pathset_release(&ctx->ancestors);
    layer_pathset_release(&ctx->old_seen);
    for (size_t i = 0; i < ctx->n_dir_times; i++)
        free(ctx->dir_times[i].path);
    free(ctx->dir_times);
    for (size_t i = 0; i < ctx->n_old_times; i++)
        free(ctx->old_times[i].path);
    free(ctx->old_times);
}

static const char *entry_name(struct archive_entry *e)
{
    const char *n = archive_entry_pathname(e);
    return n ? n : archive_entry_pathname_utf8(e);
}

int layer_check_interrupt(const sigset_t *interrupt, struct keel_error **err)
{
    if (!interrupt)
        return 0;
    sigset_t pending;
    sigpending(&pending);
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(interrupt, sig) == 1 && sigismember(&pending, sig) == 1)
            return error_set(err, EINTR, "interrupted by signal %d (%s)", sig, strsignal(sig));
    return 0;
}

/* One entry: limits, name, whiteout or creation. */
static int layer_apply_entry(struct layer_ctx *ctx, struct archive *a, struct archive_entry *e,
                             struct keel_error **err)
{
    const struct layer_apply_opts *o = ctx->opts;
    uint64_t max_entries = o->max_entries ? o->max_entries : LAYER_DEFAULT_MAX_ENTRIES;
    uint64_t max_bytes = o->max_bytes ? o->max_bytes : LAYER_DEFAULT_MAX_BYTES;
    if ((ctx->entries & 63) == 0 && layer_check_interrupt(o->interrupt, err) < 0)
        return -1;
    if (++ctx->entries > max_entries)
        return error_set(err, 0, "more than %llu entries (limit against layer bombs)",
                         (unsigned long long)max_entries);
    la_int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    if (size < 0 || (uint64_t)size > max_bytes - ctx->bytes)
        return error_set(err, 0, "size %lld takes the layer over its limit of %llu bytes", (long long)size,
                         (unsigned long long)max_bytes);
    ctx->bytes += (uint64_t)size;

    cleanup_free char *path = NULL;
    if (layer_path_clean(entry_name(e), &path, err) < 0)
        return -1;
    char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    cleanup_free char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup("");
    if (strncmp(base, LAYER_WHITEOUT_PREFIX, strlen(LAYER_WHITEOUT_PREFIX)) == 0) {
        if (archive_entry_filetype(e) == AE_IFDIR)
            return error_set(err, 0, "a whiteout must not be a directory");
        return layer_whiteout_apply(ctx, dir, base, err);
    }
    int dirfd = ctx->rootfd;
    if (path[0] != '\0') {
        dirfd = layer_dirs_get(&ctx->dirs, dir, true, NULL, err);
        if (dirfd < 0)
            return -1;
    }
    if (layer_entry_apply(ctx, a, e, path, dirfd, base, err) < 0)
        return -1;
    layer_seen_add(ctx, path);
    return 0;
}

static int layer_apply_stream(struct layer_ctx *ctx, struct layer_stream *s, struct keel_error **err)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    int rc = -1;
    cleanup_free char *last = NULL;
    if (archive_read_open(a, s, NULL, layer_tar_read, NULL) != ARCHIVE_OK) {
        error_set(err, 0, "reading the tar stream: %s", archive_error_string(a));
        goto out;
    }
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            error_set(err, archive_errno(a) > 0 ? archive_errno(a) : 0, "reading the tar stream%s%s%s: %s",
                      last ? " after entry `" : "", last ? last : "", last ? "`" : "",
                      archive_error_string(a));
            goto out;
        }
        const char *name = entry_name(e);
        if (!name) {
            error_set(err, EILSEQ, "an entry after `%s` has no usable name", last ? last : "(start)");
            goto out;
        }
        free(last);
        last = xstrdup(name);
        /* Names the locale cannot represent are taken as UTF-8 bytes (entry_name). */
        if (r == ARCHIVE_WARN && ctx->opts->log && !strstr(archive_error_string(a), "current locale"))
            log_warn(ctx->opts->log, "entry `%s`: %s", name, archive_error_string(a));
        if (layer_apply_entry(ctx, a, e, err) < 0) {
            error_prefix(err, "entry `%s`", last);
            goto out;
        }
    }
    if (layer_entry_finish_dirs(ctx, err) < 0)
        goto out;
    rc = 0;
out:
    archive_read_free(a);
    return rc;
}

int layer_apply(int rootfd, int blobfd, const struct layer_apply_opts *opts, struct keel_error **err)
{
    const char *label = opts->digest ? opts->digest : opts->diff_id ? opts->diff_id : "(no digest)";
    struct layer_ctx ctx = {.opts = opts, .rootfd = rootfd};
    layer_dirs_init(&ctx.dirs, rootfd);
    if (opts->overlay)
        layer_overlay_init(&ctx);
    ctx.dirs.on_open = layer_dirs_noted;
    ctx.dirs.on_open_arg = &ctx;
    layer_entry_note_dir(&ctx, rootfd, "");
    struct layer_stream *s = NULL;
    int rc = layer_stream_open(blobfd, opts->compression, &s, err);
    if (rc == 0) {
        rc = layer_apply_stream(&ctx, s, err);
        if (rc == 0)
            rc = layer_stream_finish(s, opts->digest, opts->diff_id, opts->size, err);
        if (rc == 0 && opts->stats)
            *opts->stats = (struct layer_stats){ctx.entries, ctx.bytes, layer_stream_uncompressed_bytes(s)};
    }
    layer_stream_free(s);
    layer_ctx_release(&ctx);
    if (rc < 0)
        return error_prefix(err, "layer %s", label);
    return 0;
}
