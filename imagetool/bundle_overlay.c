/* Overlay bundles: every layer from the cache (extracted once), the rootfs
 * an overlayfs mount with a per-bundle upper directory.  A second bundle of
 * the same image costs a few mkdirs and one mount. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "bundle_internal.h"
#include "cache.h"
#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "imageconfig.h"
#include "layer.h"
#include "manifest.h"
#include "safepath.h"
#include "store.h"
#include "strbuf.h"
#include "xalloc.h"

struct overlay_fill {
    struct store *s;
    const struct oci_descriptor *desc;
    const char *diff_id;
    const int *lowers; /* top first */
    size_t n_lowers;
    const struct bundle_opts *o;
};

static int overlay_fill_layer(void *arg, int dirfd, struct keel_error **err)
{
    struct overlay_fill *f = arg;
    struct layer_apply_opts lo = {
        .digest = f->desc->digest,
        .diff_id = f->diff_id,
        .size = f->desc->size,
        .max_bytes = f->o->max_layer_bytes,
        .max_entries = f->o->max_layer_entries,
        .owner = f->o->owner,
        .log = f->o->log,
        .interrupt = f->o->interrupt,
        .overlay = true,
        .lower_fds = f->lowers,
        .n_lower = f->n_lowers,
    };
    if (layer_compression_from_media_type(f->desc->media_type, &lo.compression, err) < 0)
        return error_prefix(err, "layer %s", f->desc->digest);
    cleanup_close int fd = -1;
    if (store_open_blob(f->s, f->desc->digest, &fd, err) < 0)
        return error_prefix(err, "layer %s", f->desc->digest);
    return layer_apply(dirfd, fd, &lo, err);
}

bool bundle_overlay_supported(void)
{
    cleanup_free char *fs = NULL;
    struct keel_error *err = NULL;
    bool ok = geteuid() == 0 && file_read_whole("/proc/filesystems", 1 << 20, &fs, NULL, &err) == 0 &&
              strstr(fs, "\toverlay\n") != NULL;
    error_free(err);
    return ok;
}

/* Give the upper directory (the merged root's attributes) those of the top layer's root. */
static int overlay_copy_root_attrs(int from, int to, struct keel_error **err)
{
    struct stat st;
    if (fstat(from, &st) < 0 || fchown(to, st.st_uid, st.st_gid) < 0 || fchmod(to, st.st_mode & 07777) < 0)
        return error_set(err, errno, "setting the attributes of the overlay's upper directory");
    return 0;
}

int bundle_fill_overlay(struct store *s, const struct oci_manifest *m, const struct image_config *ic,
                        int bundlefd, const struct bundle_opts *o, int *rootfd, struct keel_error **err)
{
    if (m->n_layers != ic->n_diff_ids)
        return error_set(err, EINVAL, "the manifest has %zu layers but the image config lists %zu diff_ids",
                         m->n_layers, ic->n_diff_ids);
    if (m->n_layers == 0)
        return error_set(err, EINVAL, "an image without layers cannot be an overlay");
    cleanup_layer_cache struct layer_cache *cache = NULL;
    if (layer_cache_open(store_dir(s), &cache, err) < 0)
        return -1;
    size_t n = m->n_layers;
    int *fds = xcalloc(n, sizeof(int));  /* bottom first */
    int *tops = xcalloc(n, sizeof(int)); /* top first, for the fillers */
    for (size_t i = 0; i < n; i++)
        fds[i] = -1;
    int rc = 0;
    char **chains = xcalloc(n + 1, sizeof(char *));
    struct layer_cache_batch batch = {0};
    for (size_t i = 0; i < n && rc == 0; i++) {
        chains[i] = layer_chain_id(i ? chains[i - 1] : NULL, ic->diff_ids[i]);
        for (size_t k = 0; k < i; k++)
            tops[k] = fds[i - 1 - k];
        struct overlay_fill f = {s, &m->layers[i], ic->diff_ids[i], tops, i, o};
        rc = layer_cache_get_batched(cache, &batch, chains[i], overlay_fill_layer, &f, &fds[i], NULL, err);
    }
    /* The layers filled before a failure are complete: keep them. */
    struct keel_error *commit_err = NULL;
    if (layer_cache_batch_commit(&batch, rc == 0 ? err : &commit_err) < 0)
        rc = -1;
    error_free(commit_err);
    layer_cache_batch_release(&batch);
    /* Mount what is in the cache now (another hoist's entry after a lost race). */
    for (size_t i = 0; i < n && rc == 0; i++) {
        close(fds[i]);
        fds[i] = -1;
        rc = layer_cache_open_entry(cache, chains[i], &fds[i], err);
    }
    struct strbuf opts = STRBUF_INIT;
    if (rc == 0) {
        if (mkdirat(bundlefd, "overlay", 0700) < 0 || mkdirat(bundlefd, "overlay/upper", 0755) < 0 ||
            mkdirat(bundlefd, "overlay/work", 0700) < 0 || mkdirat(bundlefd, "rootfs", 0755) < 0)
            rc = error_set(err, errno, "creating the bundle's overlay directories");
    }
    cleanup_close int upper =
        rc == 0 ? openat(bundlefd, "overlay/upper", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (rc == 0 && upper < 0)
        rc = error_set(err, errno, "opening the overlay's upper directory");
    if (rc == 0)
        rc = overlay_copy_root_attrs(fds[n - 1], upper, err);
    if (rc == 0) {
        /* Real paths show in mountinfo (gc keeps what is mounted); fd
         * paths when the store's path cannot appear in a mount option. */
        strbuf_puts(&opts, "lowerdir=");
        for (size_t i = n; i-- > 0;) {
            cleanup_free char *path = layer_cache_entry_path(cache, chains[i]);
            if (path)
                strbuf_printf(&opts, "%s%s", i == n - 1 ? "" : ":", path);
            else
                strbuf_printf(&opts, "%s/proc/self/fd/%d", i == n - 1 ? "" : ":", fds[i]);
        }
        strbuf_printf(&opts, ",upperdir=/proc/self/fd/%d/overlay/upper,workdir=/proc/self/fd/%d/overlay/work",
                      bundlefd, bundlefd);
        char target[64];
        snprintf(target, sizeof(target), "/proc/self/fd/%d/rootfs", bundlefd);
        if (mount("overlay", target, "overlay", 0, opts.buf) < 0)
            rc = error_set(err, errno, "mounting the overlay rootfs (%s)", opts.buf);
    }
    strbuf_release(&opts);
    strv_free(chains);
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    free(tops);
    if (rc < 0)
        return -1;
    *rootfd = openat(bundlefd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (*rootfd < 0)
        return error_set(err, errno, "opening the overlay rootfs");
    return 0;
}
