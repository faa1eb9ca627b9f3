/* store_fsck: a good store, then one damage at a time. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"
#include "error.h"
#include "fileutil.h"
#include "store.h"
#include "unit.h"
#include "xalloc.h"

struct counts {
    size_t kind[STORE_FSCK_ORPHAN + 1];
    size_t repaired;
};

static int run_fsck(struct store *s, bool repair, struct counts *out, struct store_fsck_report *keep)
{
    struct store_fsck_options o = {.repair = repair, .exclusive = repair};
    struct store_fsck_report rep = {0};
    struct keel_error *err = NULL;
    int r = store_fsck(s, &o, &rep, &err);
    if (r < 0) {
        fprintf(stderr, "store_fsck: %s\n", error_msg(err));
        error_free(err);
        return r;
    }
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < rep.n; i++) {
        out->kind[rep.problems[i].kind]++;
        out->repaired += rep.problems[i].repaired;
    }
    if (keep)
        *keep = rep;
    else
        store_fsck_report_release(&rep);
    return 0;
}

static size_t damage(const struct counts *c)
{
    return c->kind[STORE_FSCK_MISSING] + c->kind[STORE_FSCK_CORRUPT] + c->kind[STORE_FSCK_STRAY];
}

int main(void)
{
    struct unit_counts c = {0};
    cleanup_error struct keel_error *err = NULL;
    char tmpl[] = "/tmp/test_store_verify.XXXXXX";
    CHECK(&c, mkdtemp(tmpl) != NULL);
    cleanup_free char *dir = xasprintf("%s/store", tmpl);
    cleanup_store struct store *s = NULL;
    CHECK(&c, store_open(dir, true, &s, &err) == 0);

    const char *cfg =
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
    const char *layer = "layer-content-0123456789";
    cleanup_free char *cfg_d = NULL, *layer_d = NULL, *man_d = NULL;
    CHECK(&c, store_write_blob(s, NULL, cfg, strlen(cfg), &cfg_d, &err) == 0);
    CHECK(&c, store_write_blob(s, NULL, layer, strlen(layer), &layer_d, &err) == 0);
    cleanup_free char *man = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
                                       "\"%s\",\"digest\":\"%s\",\"size\":%zu},"
                                       "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
                                       MEDIA_OCI_MANIFEST, MEDIA_OCI_CONFIG, cfg_d, strlen(cfg),
                                       MEDIA_OCI_LAYER_GZIP, layer_d, strlen(layer));
    CHECK(&c, store_write_blob(s, NULL, man, strlen(man), &man_d, &err) == 0);
    struct oci_descriptor top = {
        .media_type = (char *)MEDIA_OCI_MANIFEST, .digest = man_d, .size = (int64_t)strlen(man)};
    CHECK(&c, store_tag(s, "example.com/a:1", &top, &err) == 0);
    /* Manifests leave no temp file behind. */
    cleanup_free char *tmpdir = xasprintf("%s/.tmp", dir);
    cleanup_dir DIR *td = opendir(tmpdir);
    int entries = 0;
    for (struct dirent *de; td && (de = readdir(td));)
        entries += de->d_name[0] != '.';
    CHECK(&c, entries == 0);

    struct counts k;
    struct store_fsck_report rep = {0};
    CHECK(&c, run_fsck(s, false, &k, &rep) == 0);
    CHECK(&c, rep.n == 0 && rep.images == 1 && rep.blobs == 3);
    CHECK(&c, rep.bytes == strlen(cfg) + strlen(layer) + strlen(man));
    store_fsck_report_release(&rep);

    /* A flipped byte: corrupt, attributed to the image; repair removes it. */
    cleanup_free char *lp = store_blob_path(s, layer_d);
    CHECK(&c, file_write_atomic(lp, "layer-content-0123456788", strlen(layer), 0644, &err) == 0);
    CHECK(&c, run_fsck(s, false, &k, &rep) == 0);
    CHECK(&c, k.kind[STORE_FSCK_CORRUPT] == 1 && damage(&k) == 1);
    CHECK(&c, rep.n == 1 && strcmp(rep.problems[0].name, layer_d) == 0 && rep.problems[0].image &&
                  strcmp(rep.problems[0].image, "example.com/a:1") == 0 &&
                  strstr(rep.problems[0].detail, "digest"));
    store_fsck_report_release(&rep);
    CHECK(&c, run_fsck(s, true, &k, NULL) == 0 && k.repaired == 1 && !fs_exists(lp));
    /* Now missing, named with its manifest. */
    CHECK(&c, run_fsck(s, false, &k, &rep) == 0);
    CHECK(&c, k.kind[STORE_FSCK_MISSING] == 1 && rep.n == 1 &&
                  strstr(rep.problems[0].detail, "layer 1 of manifest"));
    store_fsck_report_release(&rep);
    CHECK(&c, store_write_blob(s, layer_d, layer, strlen(layer), NULL, &err) == 0);
    CHECK(&c, run_fsck(s, false, &k, NULL) == 0 && damage(&k) == 0);

    /* A truncated manifest. */
    cleanup_free char *mp = store_blob_path(s, man_d);
    CHECK(&c, truncate(mp, 10) == 0);
    CHECK(&c, run_fsck(s, false, &k, NULL) == 0 && k.kind[STORE_FSCK_CORRUPT] == 1);
    CHECK(&c, run_fsck(s, true, &k, NULL) == 0 && !fs_exists(mp));
    CHECK(&c, store_write_blob(s, man_d, man, strlen(man), NULL, &err) == 0);
    CHECK(&c, run_fsck(s, false, &k, NULL) == 0 && damage(&k) == 0);

    /* Waste: a dangling blob and an orphaned partial file; a held one is not reported. */
    cleanup_free char *dang_d = NULL;
    CHECK(&c, store_write_blob(s, NULL, "spare", 5, &dang_d, &err) == 0);
    cleanup_free char *orphan = xasprintf("%s/.tmp/sha256-%064d.partial", dir, 1);
    cleanup_free char *held = xasprintf("%s/.tmp/sha256-%064d.partial", dir, 2);
    CHECK(&c, file_write_atomic(orphan, "half", 4, 0600, &err) == 0);
    CHECK(&c, file_write_atomic(held, "half", 4, 0600, &err) == 0);
    int hfd = open(held, O_RDONLY | O_CLOEXEC);
    CHECK(&c, hfd >= 0 && flock(hfd, LOCK_EX) == 0);
    CHECK(&c, run_fsck(s, false, &k, NULL) == 0);
    CHECK(&c, damage(&k) == 0 && k.kind[STORE_FSCK_DANGLING] == 1 && k.kind[STORE_FSCK_ORPHAN] == 1);
    CHECK(&c, run_fsck(s, true, &k, NULL) == 0 && k.repaired == 1 && !fs_exists(orphan) && fs_exists(held));
    close(hfd);
    CHECK(&c, run_fsck(s, false, &k, NULL) == 0 && k.kind[STORE_FSCK_ORPHAN] == 1);

    /* A stray entry under blobs/ and a broken index.json. */
    cleanup_free char *stray = xasprintf("%s/blobs/sha256/README", dir);
    CHECK(&c, file_write_atomic(stray, "x", 1, 0644, &err) == 0);
    CHECK(&c, run_fsck(s, false, &k, NULL) == 0 && k.kind[STORE_FSCK_STRAY] == 1);
    CHECK(&c, run_fsck(s, true, &k, NULL) == 0 && fs_exists(stray));
    cleanup_free char *index = xasprintf("%s/index.json", dir);
    CHECK(&c, file_write_atomic(index, "{\"manifests\":", 13, 0644, &err) == 0);
    CHECK(&c, run_fsck(s, false, &k, NULL) == 0 && k.kind[STORE_FSCK_CORRUPT] == 1 &&
                  k.kind[STORE_FSCK_DANGLING] == 0);

    store_close(s);
    s = NULL;
    cleanup_free char *rm = xasprintf("rm -rf %s", tmpl);
    CHECK(&c, system(rm) == 0);
    return unit_finish(&c);
}
