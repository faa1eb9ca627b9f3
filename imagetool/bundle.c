#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"
#include "bundle_internal.h"
#include "cleanup.h"
#include "convert.h"
#include "error.h"
#include "fileutil.h"
#include "imageconfig.h"
#include "layer.h"
#include "log.h"
#include "manifest.h"
#include "store.h"
#include "xalloc.h"

static int bundle_apply_layers(struct store *s, const struct oci_manifest *m, const struct image_config *ic,
                               int rootfd, const struct bundle_opts *o, struct keel_error **err)
{
    if (m->n_layers != ic->n_diff_ids)
        return error_set(err, EINVAL, "the manifest has %zu layers but the image config lists %zu diff_ids",
                         m->n_layers, ic->n_diff_ids);
    for (size_t i = 0; i < m->n_layers; i++) {
        const struct oci_descriptor *d = &m->layers[i];
        struct layer_apply_opts lo = {
            .digest = d->digest,
            .diff_id = ic->diff_ids[i],
            .size = d->size,
            .max_bytes = o->max_layer_bytes,
            .max_entries = o->max_layer_entries,
            .owner = o->owner,
            .log = o->log,
            .interrupt = o->interrupt,
        };
        if (layer_compression_from_media_type(d->media_type, &lo.compression, err) < 0)
            return error_prefix(err, "layer %s", d->digest);
        cleanup_close int fd = -1;
        if (store_open_blob(s, d->digest, &fd, err) < 0)
            return error_prefix(err, "layer %s", d->digest);
        struct layer_stats stats;
        lo.stats = &stats;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (layer_apply(rootfd, fd, &lo, err) < 0)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (o->log)
            log_debug(o->log, "layer %zu/%zu %s: %llu entries, %llu bytes of tar, %.1f ms", i + 1,
                      m->n_layers, d->digest, (unsigned long long)stats.entries,
                      (unsigned long long)stats.tar_bytes,
                      (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    }
    return 0;
}

static int bundle_fill(struct store *s, const struct oci_manifest *m, int bundlefd,
                       const struct bundle_opts *o, struct keel_error **err)
{
    cleanup_free char *config = NULL;
    size_t len;
    if (store_read_blob(s, m->config.digest, CONFIG_MAX_SIZE, &config, &len, err) < 0)
        return error_prefix(err, "image config %s", m->config.digest);
    cleanup_image_config struct image_config *ic = NULL;
    if (image_config_parse(config, len, &ic, err) < 0)
        return -1;
    cleanup_close int rootfd = -1;
    if (o->overlay) {
        if (bundle_fill_overlay(s, m, ic, bundlefd, o, &rootfd, err) < 0)
            return -1;
    } else {
        if (mkdirat(bundlefd, "rootfs", 0755) < 0)
            return error_set(err, errno, "creating the bundle's rootfs");
        rootfd = openat(bundlefd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rootfd < 0)
            return error_set(err, errno, "opening the bundle's rootfs");
        if (bundle_apply_layers(s, m, ic, rootfd, o, err) < 0)
            return -1;
    }
    cleanup_free char *json = NULL;
    if (convert_image_config(ic, rootfd, &o->convert, &json, &len, err) < 0)
        return error_prefix(err, "making config.json");
    return file_write_atomic_at(bundlefd, "config.json", json, len, 0644, err);
}

/* Unmount an overlay rootfs, if there is one (a plain rootfs is no mount point). */
static void bundle_unmount_rootfs(int bundlefd)
{
    char target[64];
    snprintf(target, sizeof(target), "/proc/self/fd/%d/rootfs", bundlefd);
    umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW);
}

int bundle_remove(const char *dir, struct keel_error **err)
{
    cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, errno, "opening bundle `%s`", dir);
    bundle_unmount_rootfs(fd);
    return fs_remove_tree(dir, err);
}

/* Whether dir is an empty directory. */
static bool bundle_dir_empty(const char *dir)
{
    cleanup_dir DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            return false;
    return true;
}

int bundle_unpack(struct store *s, const struct oci_manifest *m, const char *dir, const struct bundle_opts *o,
                  struct keel_error **err)
{
    bool created = true;
    if (mkdir(dir, 0755) < 0) {
        if (errno != EEXIST)
            return error_set(err, errno, "creating bundle `%s`", dir);
        if (!bundle_dir_empty(dir))
            return error_set(err, EEXIST, "bundle `%s` exists and is not an empty directory", dir);
        created = false;
    }
    cleanup_close int bundlefd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = bundlefd < 0 ? error_set(err, errno, "opening bundle `%s`", dir)
                          : bundle_fill(s, m, bundlefd, o, err);
    /* The layers look for a stop signal only every few entries: one that
     * came during the last of them or while config.json was written stops
     * the unpack too, rather than kill hoist after a complete bundle. */
    if (rc == 0)
        rc = layer_check_interrupt(o->interrupt, err);
    if (rc == 0)
        return 0;
    /* Leave nothing half-made: the directory too when this call made it. */
    if (bundlefd >= 0)
        bundle_unmount_rootfs(bundlefd);
    if (created) {
        fs_remove_tree(dir, NULL);
    } else if (bundlefd >= 0) {
        fs_remove_tree_at(bundlefd, "rootfs", NULL);
        fs_remove_tree_at(bundlefd, "overlay", NULL);
        unlinkat(bundlefd, "config.json", 0);
    }
    return error_prefix(err, "unpacking into `%s`", dir);
}
