#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "safepath.h"
#include "unit.h"
#include "xalloc.h"

typedef int (*open_fn)(int, const char *, int, mode_t, struct keel_error **);

/* Read the marker file reached through path, or "" when it cannot be opened. */
static char *read_marker(open_fn fn, int root, const char *path)
{
    struct keel_error *err = NULL;
    int fd = fn(root, path, O_RDONLY, 0, &err);
    error_free(err);
    if (fd < 0)
        return xstrdup("");
    char buf[64] = "";
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return xstrdup(buf);
}

static void check_resolver(struct unit_counts *c, open_fn fn, int root)
{
    const char *inside_cases[] = {"/etc/marker", "etc/marker", "/../../etc/marker", "/abs/marker",
                                  "/rel/marker", "/up/marker", "/abslink", "/etc/../etc/./marker"};
    for (size_t i = 0; i < sizeof(inside_cases) / sizeof(*inside_cases); i++) {
        cleanup_free char *m = read_marker(fn, root, inside_cases[i]);
        if (strcmp(m, "inside") != 0)
            fprintf(stderr, "  case %s gave \"%s\"\n", inside_cases[i], m);
        CHECK(c, strcmp(m, "inside") == 0);
    }
    struct keel_error *err = NULL;
    int fd = fn(root, "/loop/x", O_RDONLY, 0, &err);
    CHECK(c, fd < 0 && err != NULL);
    error_free(err);
    err = NULL;
    fd = fn(root, "/newdir/../etc/created", O_CREAT | O_WRONLY, 0600, &err);
    CHECK(c, fd < 0);
    error_free(err);
    err = NULL;
    fd = fn(root, "/abs/created", O_CREAT | O_WRONLY, 0600, &err);
    CHECK(c, fd >= 0);
    if (fd >= 0)
        close(fd);
    error_free(err);
}

int main(void)
{
    struct unit_counts c = {0};
    cleanup_error struct keel_error *err = NULL;
    char tmpl[] = "/tmp/keel-test-sp-XXXXXX";
    char *dir = mkdtemp(tmpl);
    /* Layout: DIR/root is the root; DIR/etc/marker says "outside". */
    cleanup_free char *outside_etc = xasprintf("%s/etc", dir);
    cleanup_free char *root = xasprintf("%s/root", dir);
    cleanup_free char *inside_etc = xasprintf("%s/root/etc", dir);
    fs_mkdir_p(outside_etc, 0755, &err);
    fs_mkdir_p(inside_etc, 0755, &err);
    cleanup_free char *om = xasprintf("%s/marker", outside_etc);
    cleanup_free char *im = xasprintf("%s/marker", inside_etc);
    file_write_atomic(om, "outside", 7, 0644, &err);
    file_write_atomic(im, "inside", 6, 0644, &err);
    cleanup_close int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    /* Links that would escape if followed on the host. */
    CHECK(&c, symlinkat("/etc", rootfd, "abs") == 0);
    CHECK(&c, symlinkat("../etc", rootfd, "rel") == 0);
    CHECK(&c, symlinkat("../../../../etc", rootfd, "up") == 0);
    CHECK(&c, symlinkat("/etc/marker", rootfd, "abslink") == 0);
    CHECK(&c, symlinkat("loop", rootfd, "loop") == 0);

    check_resolver(&c, safepath_open, rootfd);
    check_resolver(&c, safepath_open_walk, rootfd);

    int d = safepath_mkdir_p(rootfd, "/abs/x/y", 0755, &err);
    CHECK(&c, d >= 0);
    if (d >= 0)
        close(d);
    cleanup_free char *made = xasprintf("%s/root/etc/x/y", dir);
    CHECK(&c, fs_exists(made));
    cleanup_free char *not_made = xasprintf("%s/etc/x", dir);
    CHECK(&c, !fs_exists(not_made));
    int f = safepath_mkpath(rootfd, "/up/dev/null", false, 0644, &err);
    CHECK(&c, f >= 0);
    if (f >= 0)
        close(f);
    cleanup_free char *file_made = xasprintf("%s/root/etc/dev/null", dir);
    CHECK(&c, fs_exists(file_made));
    CHECK(&c, safepath_mkdir_p(rootfd, "/etc/marker/sub", 0755, &err) < 0);

    char buf[32];
    safepath_fd_path(7, buf);
    CHECK_STREQ(&c, buf, "/proc/self/fd/7");
    CHECK(&c, fs_remove_tree(dir, &err) == 0);
    return unit_finish(&c);
}
