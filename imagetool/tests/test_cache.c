/* The layer cache: ChainIDs, atomic fills, and gc keeping what images need. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "cleanup.h"
#include "digest.h"
#include "error.h"
#include "fileutil.h"
#include "manifest.h"
#include "store.h"
#include "unit.h"
#include "xalloc.h"

static int fill_calls;

static int fill_ok(void *arg, int dirfd, struct keel_error **err)
{
    fill_calls++;
    int fd = openat(dirfd, "marker", O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return error_set(err, errno, "marker");
    close(fd);
    return 0;
}

static int fill_fail(void *arg, int dirfd, struct keel_error **err)
{
    fill_ok(arg, dirfd, err);
    return error_set(err, 0, "deliberate failure");
}

static int count_entries(const char *dir)
{
    cleanup_dir DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    return n;
}

int main(void)
{
    struct unit_counts c = {0, 0};
    const char *d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const char *d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    cleanup_free char *c1 = layer_chain_id(NULL, d1);
    cleanup_free char *c2 = layer_chain_id(c1, d2);
    CHECK_STREQ(&c, c1, d1);
    cleanup_free char *s12 = xasprintf("%s %s", d1, d2);
    cleanup_free char *want = digest_buffer(DIGEST_SHA256, s12, strlen(s12));
    CHECK_STREQ(&c, c2, want);

    char dir[] = "/tmp/test_cache_XXXXXX";
    CHECK(&c, mkdtemp(dir) != NULL);
    struct keel_error *err = NULL;
    struct store *s = NULL;
    CHECK(&c, store_open(dir, true, &s, &err) == 0);
    struct layer_cache *cache = NULL;
    CHECK(&c, layer_cache_open(dir, &cache, &err) == 0);
    if (!s || !cache)
        return unit_finish(&c);

    int fd = -1, hit = -1;
    CHECK(&c, layer_cache_get(cache, c1, fill_ok, NULL, &fd, &hit, &err) == 0 && hit == 0 && fill_calls == 1);
    close(fd);
    CHECK(&c, layer_cache_get(cache, c1, fill_ok, NULL, &fd, &hit, &err) == 0 && hit == 1 && fill_calls == 1);
    CHECK(&c, faccessat(fd, "marker", F_OK, 0) == 0);
    close(fd);
    CHECK(&c, layer_cache_get(cache, c2, fill_fail, NULL, &fd, &hit, &err) < 0 && err);
    error_free(err);
    err = NULL;
    cleanup_free char *layers = xasprintf("%s/overlay/layers", dir);
    cleanup_free char *tmp = xasprintf("%s/overlay/tmp", dir);
    CHECK(&c, count_entries(layers) == 1 && count_entries(tmp) == 0);
    cleanup_free char *path = layer_cache_entry_path(cache, c1);
    CHECK(&c, path && path[0] == '/' && strstr(path, c1 + 7));

    /* An image needing c1 only; a stale tmp dir of a dead filler. */
    const char *cfg = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:"
                      "1111111111111111111111111111111111111111111111111111111111111111\"]}}";
    cleanup_free char *cfg_digest = NULL;
    CHECK(&c, store_write_blob(s, NULL, cfg, strlen(cfg), &cfg_digest, &err) == 0);
    cleanup_free char *manifest = xasprintf(
        "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
        "\"size\":%zu},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":1}]}",
        MEDIA_OCI_MANIFEST, MEDIA_OCI_CONFIG, cfg_digest, strlen(cfg), MEDIA_OCI_LAYER_GZIP, d1);
    cleanup_free char *m_digest = NULL;
    CHECK(&c, store_write_blob(s, NULL, manifest, strlen(manifest), &m_digest, &err) == 0);
    struct oci_descriptor desc = {
        .media_type = MEDIA_OCI_MANIFEST, .digest = m_digest, .size = (int64_t)strlen(manifest)};
    CHECK(&c, store_tag(s, "localhost/x:1", &desc, &err) == 0);
    if (err)
        fprintf(stderr, "  %s\n", err->msg);
    error_free(err);
    err = NULL;
    CHECK(&c, layer_cache_get(cache, c2, fill_ok, NULL, &fd, &hit, &err) == 0);
    close(fd);
    cleanup_free char *stale = xasprintf("%s/%.64s.999999.abcdef", tmp, c2 + 7);
    CHECK(&c, mkdir(stale, 0700) == 0);
    size_t removed = 0;
    CHECK(&c, layer_cache_gc(s, &removed, &err) == 0 && removed == 2);
    if (err)
        fprintf(stderr, "  %s\n", err->msg);
    CHECK(&c, count_entries(layers) == 1 && count_entries(tmp) == 0);
    cleanup_free char *kept = xasprintf("%s/%s", layers, c1 + 7);
    CHECK(&c, fs_exists(kept));

    layer_cache_close(cache);
    store_close(s);
    fs_remove_tree(dir, NULL);
    return unit_finish(&c);
}
