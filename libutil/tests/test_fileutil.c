#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "unit.h"
#include "xalloc.h"

int main(void)
{
    struct unit_counts c = {0};
    cleanup_error struct keel_error *err = NULL;
    char tmpl[] = "/tmp/keel-test-fu-XXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK(&c, dir != NULL);

    cleanup_free char *deep = xasprintf("%s/a/b/c", dir);
    CHECK(&c, fs_mkdir_p(deep, 0755, &err) == 0);
    CHECK(&c, fs_mkdir_p(deep, 0755, &err) == 0);
    cleanup_free char *file = xasprintf("%s/a/b/c/f", dir);
    CHECK(&c, file_write_atomic(file, "hello", 5, 0644, &err) == 0);
    CHECK(&c, file_write_atomic(file, "world!", 6, 0644, &err) == 0);
    cleanup_free char *text = NULL;
    size_t len = 0;
    CHECK(&c, file_read_whole(file, 100, &text, &len, &err) == 0);
    CHECK(&c, len == 6);
    CHECK_STREQ(&c, text, "world!");
    cleanup_free char *small = NULL;
    CHECK(&c, file_read_whole(file, 3, &small, NULL, &err) < 0);
    CHECK(&c, strstr(err->msg, "larger than the limit") != NULL);
    /* file_replace_at: the caller's temporary name; with EXCL a name already
     * taken (another writer's) is refused and left alone. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(&c, dfd >= 0);
    CHECK(&c, file_replace_at(dfd, "r", ".r.tmp", "one", 3, 0600, FILE_REPLACE_EXCL, &err) == 0);
    CHECK(&c, file_replace_at(dfd, "r", ".r.tmp", "two", 3, 0600, FILE_REPLACE_SYNC, &err) == 0);
    CHECK(&c, faccessat(dfd, ".r.tmp", F_OK, 0) < 0);
    cleanup_free char *rtext = NULL;
    CHECK(&c, file_read_whole_at(dfd, "r", 100, &rtext, NULL, &err) == 0);
    CHECK_STREQ(&c, rtext, "two");
    CHECK(&c, file_write_atomic_at(dfd, ".r.busy", "x", 1, 0600, &err) == 0);
    CHECK(&c, file_replace_at(dfd, "r", ".r.busy", "three", 5, 0600, FILE_REPLACE_EXCL, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "creating `.r.busy`") != NULL);
    CHECK(&c, faccessat(dfd, ".r.busy", F_OK, 0) == 0);
    cleanup_free char *rkept = NULL;
    CHECK(&c, file_read_whole_at(dfd, "r", 100, &rkept, NULL, &err) == 0);
    CHECK_STREQ(&c, rkept, "two");
    close(dfd);
    /* mkdir -p through an existing file fails and names the path. */
    cleanup_free char *through = xasprintf("%s/a/b/c/f/g", dir);
    CHECK(&c, fs_mkdir_p(through, 0755, &err) < 0);
    CHECK(&c, strstr(err->msg, "/a/b/c/f") != NULL);
    /* A symlink inside the tree is removed, never followed. */
    char outside[] = "/tmp/keel-test-out-XXXXXX";
    CHECK(&c, mkdtemp(outside) != NULL);
    cleanup_free char *victim = xasprintf("%s/keep", outside);
    CHECK(&c, file_write_atomic(victim, "x", 1, 0644, &err) == 0);
    cleanup_free char *link = xasprintf("%s/a/link", dir);
    CHECK(&c, symlink(outside, link) == 0);
    CHECK(&c, fs_remove_tree(dir, &err) == 0);
    CHECK(&c, !fs_exists(dir));
    CHECK(&c, fs_exists(victim));
    CHECK(&c, fs_remove_tree(outside, &err) == 0);
    CHECK(&c, fs_remove_tree(outside, &err) == 0);
    return unit_finish(&c);
}
