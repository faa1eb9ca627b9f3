/* The unpacked-layer cache for overlay bundles: STORE/overlay/layers/HEX,
 * one overlayfs lower directory per layer, keyed by the layer's ChainID
 * (image-spec: a layer's overlay form depends on the layers beneath it,
 * e.g. for the attributes of directories it only implies).  Entries are
 * extracted into STORE/overlay/tmp and renamed into place, so a reader
 * sees a complete entry or none, and two hoist processes filling the same
 * entry both succeed (the loser drops its copy). */
#ifndef KEEL_HOIST_CACHE_H
#define KEEL_HOIST_CACHE_H

struct keel_error;
struct layer_cache;

int layer_cache_open(const char *store_dir, struct layer_cache **out, struct keel_error **err);
void layer_cache_close(struct layer_cache *c);
void layer_cache_closep(struct layer_cache **c);
#define cleanup_layer_cache __attribute__((cleanup(layer_cache_closep)))

/* ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)). Caller frees. */
char *layer_chain_id(const char *parent_chain_id, const char *diff_id);

/* Fill an empty directory (dirfd) with the layer's content. */
typedef int (*layer_cache_fill_fn)(void *arg, int dirfd, struct keel_error **err);

/* A read-only fd on the entry for chain_id, made with fill when missing.
 * *hit (optional) tells whether it was there already. */
int layer_cache_get(struct layer_cache *c, const char *chain_id, layer_cache_fill_fn fill, void *arg, int *fd,
                    int *hit, struct keel_error **err);

/* Several entries made together (an image's missing layers) share one
 * flush: get each with layer_cache_get_batched (a miss returns an fd on
 * the filled temporary directory, usable as a lower layer for the next
 * fill), then commit (one syncfs, then the renames), then release (which
 * drops what was not committed). Open the entries afterwards with
 * layer_cache_open_entry: a lost race leaves the other hoist's entry. */
struct layer_cache_batch {
    struct layer_cache *c;
    struct {
        char *chain_id, *tmpname;
    } * items;
    size_t n;
};
int layer_cache_get_batched(struct layer_cache *c, struct layer_cache_batch *b, const char *chain_id,
                            layer_cache_fill_fn fill, void *arg, int *fd, int *hit, struct keel_error **err);
int layer_cache_batch_commit(struct layer_cache_batch *b, struct keel_error **err);
void layer_cache_batch_release(struct layer_cache_batch *b);
int layer_cache_open_entry(struct layer_cache *c, const char *chain_id, int *fd, struct keel_error **err);

/* Absolute path of the entry directory for chain_id (for overlay's lowerdir
 * option, where it shows in /proc/self/mountinfo so that gc can see which
 * entries are mounted). NULL when the store path cannot appear in a mount
 * option (',' ':' or '\\' in it). Caller frees. */
char *layer_cache_entry_path(const struct layer_cache *c, const char *chain_id);

/* Remove the entries no image in the store needs and no mounted overlay
 * uses, and stale temporary directories. *removed (optional) counts them. */
struct store;
int layer_cache_gc(struct store *s, size_t *removed, struct keel_error **err);

#endif
