/* The OCI layout store: blobs verified on the way in, tags, resume, gc. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"
#include "error.h"
#include "fileutil.h"
#include "store.h"
#include "unit.h"
#include "xalloc.h"

static struct oci_descriptor desc_of(const char *mt, const char *digest, int64_t size)
{
    struct oci_descriptor d = {0};
    d.media_type = xstrdup(mt);
    d.digest = xstrdup(digest);
    d.size = size;
    return d;
}

int main(void)
{
    struct unit_counts c = {0};
    cleanup_error struct keel_error *err = NULL;
    char tmpl[] = "/tmp/test_store.XXXXXX";
    CHECK(&c, mkdtemp(tmpl) != NULL);
    cleanup_free char *dir = xasprintf("%s/store", tmpl);

    cleanup_store struct store *s = NULL;
    CHECK(&c, store_open(dir, false, &s, &err) < 0);
    CHECK(&c, err && err->errnum == ENOENT);
    CHECK(&c, store_open(dir, true, &s, &err) == 0);
    cleanup_free char *layout = xasprintf("%s/oci-layout", dir);
    cleanup_free char *index = xasprintf("%s/index.json", dir);
    CHECK(&c, fs_exists(layout) && fs_exists(index));

    /* In-memory blobs: verified. */
    const char *cfg =
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
    cleanup_free char *cfg_digest = digest_buffer(DIGEST_SHA256, cfg, strlen(cfg));
    const char *wrong = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    CHECK(&c, store_write_blob(s, wrong, cfg, strlen(cfg), NULL, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "content has digest"));
    CHECK(&c, !store_has_blob(s, wrong));
    cleanup_free char *got = NULL;
    CHECK(&c, store_write_blob(s, NULL, cfg, strlen(cfg), &got, &err) == 0);
    CHECK_STREQ(&c, got, cfg_digest);
    CHECK(&c, store_has_blob(s, cfg_digest));
    cleanup_free char *back = NULL;
    size_t back_len = 0;
    CHECK(&c, store_read_blob(s, cfg_digest, 1 << 20, &back, &back_len, &err) == 0);
    CHECK(&c, back_len == strlen(cfg) && memcmp(back, cfg, back_len) == 0);
    cleanup_free char *small = NULL;
    CHECK(&c, store_read_blob(s, cfg_digest, 4, &small, NULL, &err) < 0);

    /* Streaming writer: resume re-hashes the partial file; mismatch leaves nothing. */
    const char *layer = "layer-bytes-0123456789";
    cleanup_free char *layer_digest = digest_buffer(DIGEST_SHA256, layer, strlen(layer));
    struct store_writer *w = NULL;
    int64_t off = -1;
    CHECK(&c, store_writer_open(s, layer_digest, (int64_t)strlen(layer), true, &w, &off, &err) == 0);
    CHECK(&c, off == 0);
    CHECK(&c, store_writer_write(w, layer, 10, &err) == 0);
    store_writer_abort(w, true);
    CHECK(&c, store_writer_open(s, layer_digest, (int64_t)strlen(layer), true, &w, &off, &err) == 0);
    CHECK(&c, off == 10);
    CHECK(&c, store_writer_write(w, layer + 10, strlen(layer) - 10, &err) == 0);
    CHECK(&c, store_writer_write(w, "x", 1, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "more data than"));
    CHECK(&c, store_writer_commit(w, &err) == 0);
    CHECK(&c, store_has_blob(s, layer_digest));
    CHECK(&c, store_writer_open(s, layer_digest, -1, true, &w, &off, &err) == 1 && w == NULL);

    const char *other = "other-layer";
    cleanup_free char *other_digest = digest_buffer(DIGEST_SHA256, other, strlen(other));
    CHECK(&c, store_writer_open(s, other_digest, 11, false, &w, &off, &err) == 0);
    CHECK(&c, store_writer_write(w, "other-layeR", 11, &err) == 0);
    CHECK(&c, store_writer_commit(w, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "digest mismatch"));
    CHECK(&c, !store_has_blob(s, other_digest));
    CHECK(&c, store_writer_open(s, other_digest, 11, false, &w, &off, &err) == 0);
    CHECK(&c, store_writer_write(w, "other", 5, &err) == 0);
    CHECK(&c, store_writer_commit(w, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "got 5 bytes"));

    /* sha512 blobs live under blobs/sha512. */
    cleanup_free char *d512 = digest_buffer(DIGEST_SHA512, layer, strlen(layer));
    CHECK(&c, store_writer_open(s, d512, (int64_t)strlen(layer), false, &w, &off, &err) == 0);
    CHECK(&c, store_writer_write(w, layer, strlen(layer), &err) == 0);
    CHECK(&c, store_writer_commit(w, &err) == 0);
    cleanup_free char *p512 = store_blob_path(s, d512);
    CHECK(&c, p512 && strstr(p512, "/blobs/sha512/") && fs_exists(p512));
    cleanup_free char *b512 = NULL;
    CHECK(&c, store_read_blob(s, d512, 1024, &b512, NULL, &err) == 0);
    CHECK(&c, store_blob_path(s, "md5:abc") == NULL);
    CHECK(&c, store_read_blob(s, "sha256:zz", 1024, &b512, NULL, &err) < 0);

    /* A blob corrupted on disk is caught when read back. */
    const char *victim = "victim-bytes";
    cleanup_free char *victim_digest = NULL;
    CHECK(&c, store_write_blob(s, NULL, victim, strlen(victim), &victim_digest, &err) == 0);
    cleanup_free char *vp = store_blob_path(s, victim_digest);
    chmod(vp, 0644);
    CHECK(&c, file_write_atomic(vp, "victim-bytez", 12, 0644, &err) == 0);
    cleanup_free char *vb = NULL;
    CHECK(&c, store_read_blob(s, victim_digest, 1024, &vb, NULL, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "corrupt"));

    /* A manifest, tagged. */
    cleanup_free char *manifest =
        xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\",\"digest\":\"%"
                  "s\",\"size\":%zu},"
                  "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
                  MEDIA_OCI_MANIFEST, MEDIA_OCI_CONFIG, cfg_digest, strlen(cfg), MEDIA_OCI_LAYER,
                  layer_digest, strlen(layer));
    cleanup_free char *man_digest = NULL;
    CHECK(&c, store_write_blob(s, NULL, manifest, strlen(manifest), &man_digest, &err) == 0);
    struct oci_descriptor md = desc_of(MEDIA_OCI_MANIFEST, man_digest, (int64_t)strlen(manifest));
    CHECK(&c, store_tag(s, "localhost/app:1", &md, &err) == 0);
    CHECK(&c, store_tag(s, "localhost/app:2", &md, &err) == 0);
    CHECK(&c, store_tag(s, "localhost/app:1", &md, &err) == 0); /* re-tag replaces */
    struct oci_descriptor missing = desc_of(MEDIA_OCI_MANIFEST, wrong, 3);
    CHECK(&c, store_tag(s, "localhost/app:3", &missing, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "is not in the store"));
    struct store_entry *entries = NULL;
    size_t n = 0;
    CHECK(&c, store_list(s, &entries, &n, &err) == 0);
    CHECK(&c, n == 2);
    store_entries_free(entries, n);
    struct oci_descriptor res = {0};
    CHECK(&c, store_resolve(s, "localhost/app:1", &res, &err) == 0);
    CHECK_STREQ(&c, res.digest, man_digest);
    descriptor_clear(&res);
    CHECK(&c, store_resolve(s, "localhost/nope:1", &res, &err) < 0);
    CHECK(&c, err && err->errnum == ENOENT);

    /* gc keeps what tags reach, removes the rest. */
    const char *junk = "junk";
    cleanup_free char *junk_digest = NULL;
    CHECK(&c, store_write_blob(s, NULL, junk, 4, &junk_digest, &err) == 0);
    size_t removed = 0;
    uint64_t freed = 0;
    CHECK(&c, store_gc(s, &removed, &freed, &err) == 0);
    CHECK(&c, removed == 3); /* junk, the sha512 copy and the corrupted victim */
    CHECK(&c, !store_has_blob(s, junk_digest));
    CHECK(&c,
          store_has_blob(s, cfg_digest) && store_has_blob(s, layer_digest) && store_has_blob(s, man_digest));
    CHECK(&c, store_untag(s, "localhost/app:1", &err) == 0);
    CHECK(&c, store_untag(s, "localhost/app:1", &err) < 0);
    CHECK(&c, store_gc(s, &removed, &freed, &err) == 0);
    CHECK(&c, removed == 0);
    CHECK(&c, store_untag(s, "localhost/app:2", &err) == 0);
    CHECK(&c, store_gc(s, &removed, &freed, &err) == 0);
    CHECK(&c, removed == 3);

    /* Two processes tagging at once lose nothing. */
    CHECK(&c, store_write_blob(s, NULL, manifest, strlen(manifest), NULL, &err) == 0);
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            struct store *cs = NULL;
            if (store_open(dir, false, &cs, NULL) < 0)
                _exit(1);
            for (int i = 0; i < 10; i++) {
                char name[64];
                snprintf(name, sizeof(name), "localhost/p%d:%d", k, i);
                if (store_tag(cs, name, &md, NULL) < 0)
                    _exit(1);
            }
            store_close(cs);
            _exit(0);
        }
    }
    for (int k = 0; k < 4; k++) {
        int st = 0;
        waitpid(kids[k], &st, 0);
        CHECK(&c, WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK(&c, store_list(s, &entries, &n, &err) == 0);
    CHECK(&c, n == 40);
    store_entries_free(entries, n);

    descriptor_clear(&md);
    descriptor_clear(&missing);
    store_closep(&s);
    CHECK(&c, fs_remove_tree(tmpl, &err) == 0);
    return unit_finish(&c);
}
