/* hoist gc for the layer cache: an entry stays while an image in the store
 * needs it (its ChainID is one of the image's) or a mounted overlay uses
 * it (its path is in a lowerdir= of /proc/self/mountinfo). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "imageconfig.h"
#include "layer_internal.h"
#include "manifest.h"
#include "store.h"
#include "xalloc.h"

static void gc_keep_manifest(struct store *s, const char *digest, const char *media_type,
                             struct layer_pathset *keep, int depth)
{
    cleanup_free char *data = NULL;
    size_t len;
    struct keel_error *err = NULL;
    enum manifest_kind kind;
    if (depth > 2 || store_read_blob(s, digest, MANIFEST_MAX_SIZE, &data, &len, &err) < 0 ||
        manifest_detect_kind(data, len, media_type, &kind, &err) < 0) {
        error_free(err);
        return; /* not pulled (another platform) or unreadable: needs nothing */
    }
    if (kind == MANIFEST_KIND_INDEX) {
        cleanup_index struct oci_index *idx = NULL;
        if (index_parse(data, len, media_type, &idx, &err) == 0)
            for (size_t i = 0; i < idx->n_manifests; i++)
                gc_keep_manifest(s, idx->manifests[i].digest, idx->manifests[i].media_type, keep, depth + 1);
        error_free(err);
        return;
    }
    cleanup_manifest struct oci_manifest *m = NULL;
    cleanup_free char *config = NULL;
    cleanup_image_config struct image_config *ic = NULL;
    if (manifest_parse(data, len, media_type, &m, &err) < 0 ||
        store_read_blob(s, m->config.digest, CONFIG_MAX_SIZE, &config, &len, &err) < 0 ||
        image_config_parse(config, len, &ic, &err) < 0) {
        error_free(err);
        return;
    }
    char *chain = NULL;
    for (size_t i = 0; i < ic->n_diff_ids; i++) {
        char *next = layer_chain_id(chain, ic->diff_ids[i]);
        free(chain);
        chain = next;
        layer_pathset_add(keep, strchr(chain, ':') + 1);
    }
    free(chain);
}

/* Entries named in a lowerdir= of a mounted overlay. */
static void gc_keep_mounted(struct layer_pathset *keep)
{
    cleanup_free char *info = NULL;
    struct keel_error *err = NULL;
    if (file_read_whole("/proc/self/mountinfo", 64 << 20, &info, NULL, &err) < 0) {
        error_free(err);
        return;
    }
    for (char *p = strstr(info, "lowerdir="); p; p = strstr(p, "lowerdir=")) {
        p += strlen("lowerdir=");
        size_t len = strcspn(p, ", \n");
        cleanup_free char *list = xstrndup(p, len);
        char *save = NULL;
        for (char *dir = strtok_r(list, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
            const char *base = strrchr(dir, '/');
            if (base && strlen(base + 1) == 64)
                layer_pathset_add(keep, base + 1);
        }
    }
}

int layer_cache_gc(struct store *s, size_t *removed, struct keel_error **err)
{
    if (removed)
        *removed = 0;
    cleanup_free char *layers = xasprintf("%s/overlay/layers", store_dir(s));
    cleanup_free char *tmp = xasprintf("%s/overlay/tmp", store_dir(s));
    if (!fs_exists(layers))
        return 0;
    struct layer_pathset keep = {0};
    struct store_entry *entries = NULL;
    size_t n = 0;
    if (store_list(s, &entries, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        gc_keep_manifest(s, entries[i].desc.digest, entries[i].desc.media_type, &keep, 0);
    store_entries_free(entries, n);
    gc_keep_mounted(&keep);
    int rc = 0;
    const char *dirs[2] = {layers, tmp};
    for (int which = 0; which < 2 && rc == 0; which++) {
        cleanup_dir DIR *d = opendir(dirs[which]);
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            /* tmp: only fillers that died (their pid is gone) leave entries behind. */
            if (which == 0 && layer_pathset_has(&keep, de->d_name))
                continue;
            if (which == 1) {
                const char *dot = strchr(de->d_name, '.');
                int pid = dot ? atoi(dot + 1) : 0;
                if (pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH))
                    continue;
            }
            if (fs_remove_tree_at(dirfd(d), de->d_name, err) < 0) {
                rc = error_prefix(err, "removing cached layer `%s`", de->d_name);
                break;
            }
            if (removed)
                (*removed)++;
        }
    }
    layer_pathset_release(&keep);
    return rc;
}
