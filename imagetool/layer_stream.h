/* The byte stream of a layer: the blob read from an fd, decompressed
 * (gzip/zstd through libarchive, the format checked by its magic), with the
 * compressed digest and the diffID computed on the way. */
#ifndef KEEL_HOIST_LAYER_STREAM_H
#define KEEL_HOIST_LAYER_STREAM_H

#include <stdint.h>
#include <sys/types.h>

#include "layer.h"

struct keel_error;
struct layer_stream;

int layer_stream_open(int fd, enum layer_compression comp, struct layer_stream **out,
                      struct keel_error **err);
/* Next uncompressed bytes: returns the count (0 at the end) and points *buf
 * at them (valid until the next call), or -1 with the error kept in s. */
ssize_t layer_stream_read(struct layer_stream *s, const void **buf);
/* The error of the last failed read (owned by s), or NULL. */
struct keel_error **layer_stream_error(struct layer_stream *s);
/* Read the rest of the stream (a tar's padding, bytes after the end of the
 * compressed data) so that the digests cover every byte, then compare them
 * with the expected ones (either may be NULL) and the blob size (-1: any). */
int layer_stream_finish(struct layer_stream *s, const char *digest, const char *diff_id, int64_t size,
                        struct keel_error **err);
uint64_t layer_stream_uncompressed_bytes(const struct layer_stream *s);
void layer_stream_free(struct layer_stream *s);

#endif
