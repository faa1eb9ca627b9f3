/* Applying one image layer (a tar changeset, image-spec layer.md) onto a
 * rootfs directory.  Every entry is created relative to a directory fd
 * reached from the rootfs without following any symlink, so no entry can
 * create, change or remove anything outside the rootfs; a name with ".."
 * or "/" in front, a path through a symlink, a hardlink to something
 * outside and a whiteout of "." or ".." are refused.  The compressed
 * digest and the diffID are verified while streaming (docs/unpack.md). */
#ifndef KEEL_HOIST_LAYER_H
#define KEEL_HOIST_LAYER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct keel_error;
struct keel_log;
struct layer_owner;
struct layer_stats;

enum layer_compression { LAYER_COMPRESSION_NONE, LAYER_COMPRESSION_GZIP, LAYER_COMPRESSION_ZSTD };

/* Compression of a layer media type (OCI and Docker, distributable or not);
 * an unknown media type is an error naming it. */
int layer_compression_from_media_type(const char *media_type, enum layer_compression *out,
                                      struct keel_error **err);
const char *layer_compression_name(enum layer_compression c);

/* Defaults against layer bombs; callers may lower or raise them. */
#define LAYER_DEFAULT_MAX_BYTES (64ULL << 30)  /* apparent size of all entries of one layer */
#define LAYER_DEFAULT_MAX_ENTRIES (4ULL << 20) /* entries of one layer */

struct layer_apply_opts {
    const char *digest;  /* digest of the blob as stored (compressed); NULL: not checked */
    const char *diff_id; /* digest of the uncompressed tar; NULL: not checked */
    int64_t size;        /* size of the blob, -1 when unknown */
    enum layer_compression compression;
    uint64_t max_bytes;              /* 0: LAYER_DEFAULT_MAX_BYTES */
    uint64_t max_entries;            /* 0: LAYER_DEFAULT_MAX_ENTRIES */
    const struct layer_owner *owner; /* ownership strategy (layer_owner.h) */
    /* Overlay mode: extract into an empty directory as an overlayfs layer
     * (whiteouts as 0:0 character devices, opaque directories marked with
     * trusted.overlay.opaque) above the layers lower_fds (top first). */
    bool overlay;
    const int *lower_fds;
    size_t n_lower;
    const struct keel_log *log; /* warnings (skipped devices...); may be NULL */
    struct layer_stats *stats;  /* filled on success when not NULL */
    /* Signals the caller blocked: when one is pending the layer stops with
     * an error (checked every few entries), so the caller can clean up
     * before the signal is delivered. NULL: not checked. */
    const sigset_t *interrupt;
};

/* Fails with EINTR ("interrupted by signal N") when a signal of interrupt
 * (blocked by the caller) is pending; interrupt NULL: never. */
int layer_check_interrupt(const sigset_t *interrupt, struct keel_error **err);

struct layer_stats {
    uint64_t entries;   /* tar entries, whiteouts included */
    uint64_t bytes;     /* declared sizes of the entries */
    uint64_t tar_bytes; /* the uncompressed stream */
};

/* Apply the layer read from blobfd (read to its end) onto the directory
 * rootfd.  Errors start with "layer DIGEST" and name the entry. On failure
 * the rootfs is left half-applied: the caller removes it. */
int layer_apply(int rootfd, int blobfd, const struct layer_apply_opts *opts, struct keel_error **err);

#endif
