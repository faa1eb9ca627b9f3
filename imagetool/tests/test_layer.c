/* The layer applier's building blocks, and whole layers written with
 * libarchive into a temporary rootfs. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"
#include "error.h"
#include "fileutil.h"
#include "layer.h"
#include "layer_internal.h"
#include "layer_owner.h"
#include "layer_stream.h"
#include "unit.h"
#include "xalloc.h"

static void test_path_clean(struct unit_counts *c)
{
    const char *ok[][2] = {{"a/b", "a/b"}, {"./a/b/", "a/b"}, {"a//b/./c", "a/b/c"}, {"./", ""},
                           {".", ""},      {"././x", "x"},    {"a/...", "a/..."},    {"..a/b..", "..a/b.."}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
        cleanup_free char *out = NULL;
        struct keel_error *err = NULL;
        CHECK(c, layer_path_clean(ok[i][0], &out, &err) == 0);
        CHECK_STREQ(c, out, ok[i][1]);
        error_free(err);
    }
    const char *bad[] = {"/etc/passwd", "../x", "a/../../x", "a/..", "..", "/", "./../x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        cleanup_free char *out = NULL;
        struct keel_error *err = NULL;
        CHECK(c, layer_path_clean(bad[i], &out, &err) < 0 && err != NULL);
        error_free(err);
    }
}

static void test_pathset(struct unit_counts *c)
{
    struct layer_pathset s = {0};
    char name[32];
    bool all_new = true;
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "p/%d", i);
        all_new &= layer_pathset_add(&s, name);
    }
    CHECK(c, all_new);
    CHECK(c, !layer_pathset_add(&s, "p/42"));
    CHECK(c, layer_pathset_has(&s, "p/4999"));
    CHECK(c, !layer_pathset_has(&s, "p/5000"));
    CHECK(c, s.n == 5000);
    layer_pathset_release(&s);
    CHECK(c, !layer_pathset_has(&s, "p/1"));
}

static void test_idmap(struct unit_counts *c)
{
    struct idmap m = {0};
    struct keel_error *err = NULL;
    CHECK(c, idmap_parse_append(&m, "0:100000:1000", "--uid-map", &err) == 0);
    CHECK(c, idmap_parse_append(&m, "1000:5000:1", "--uid-map", &err) == 0);
    CHECK(c, idmap_parse_append(&m, "500:1:10", "--uid-map", &err) < 0);
    error_free(err);
    err = NULL;
    const char *bad[] = {"1:2", "1:2:0", "a:1:1", "1:2:3:4", "-1:0:1", "4294967295:0:2", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        struct idmap t = {0};
        CHECK(c, idmap_parse_append(&t, bad[i], "--uid-map", &err) < 0);
        error_free(err);
        err = NULL;
        idmap_release(&t);
    }
    uint32_t h;
    CHECK(c, idmap_to_host(&m, 0, &h) == 0 && h == 100000);
    CHECK(c, idmap_to_host(&m, 999, &h) == 0 && h == 100999);
    CHECK(c, idmap_to_host(&m, 1000, &h) == 0 && h == 5000);
    CHECK(c, idmap_to_host(&m, 1001, &h) < 0);
    idmap_release(&m);
    CHECK(c, idmap_to_host(&m, 77, &h) == 0 && h == 77);
}

static void test_rootless_encoding(struct unit_counts *c)
{
    unsigned char b[12];
    CHECK(c, layer_owner_rootless_encode(0, 0, b) == 0);
    CHECK(c, layer_owner_rootless_encode(1000, 0, b) == 9 &&
                 memcmp(b, "\x08\xe8\x07\x10\xff\xff\xff\xff\x0f", 9) == 0);
    CHECK(c,
          layer_owner_rootless_encode(0, 7, b) == 8 && memcmp(b, "\x08\xff\xff\xff\xff\x0f\x10\x07", 8) == 0);
    CHECK(c, layer_owner_rootless_encode(3, 4, b) == 4 && memcmp(b, "\x08\x03\x10\x04", 4) == 0);
    CHECK(c, layer_owner_rootless_encode(UINT32_MAX - 1, UINT32_MAX - 1, b) == 12);
}

static void test_media_types(struct unit_counts *c)
{
    enum layer_compression comp;
    struct keel_error *err = NULL;
    CHECK(c, layer_compression_from_media_type("application/vnd.oci.image.layer.v1.tar+zstd", &comp, &err) ==
                     0 &&
                 comp == LAYER_COMPRESSION_ZSTD);
    CHECK(c, layer_compression_from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip", &comp,
                                               &err) == 0 &&
                 comp == LAYER_COMPRESSION_GZIP);
    CHECK(c, layer_compression_from_media_type("application/vnd.oci.image.layer.nondistributable.v1.tar",
                                               &comp, &err) == 0 &&
                 comp == LAYER_COMPRESSION_NONE);
    CHECK(c, layer_compression_from_media_type("application/octet-stream", &comp, &err) < 0 && err &&
                 strstr(err->msg, "application/octet-stream"));
    error_free(err);
}

/* A tar written with libarchive into a temp file; returns its fd at 0. */
struct tar_builder {
    struct archive *a;
    char path[64];
    int fd;
};

static void tb_open(struct tar_builder *t, bool gzip)
{
    strcpy(t->path, "/tmp/test_layer_XXXXXX");
    t->fd = mkstemp(t->path);
    unlink(t->path);
    t->a = archive_write_new();
    archive_write_set_format_pax_restricted(t->a);
    if (gzip)
        archive_write_add_filter_gzip(t->a);
    archive_write_open_fd(t->a, t->fd);
}

static void tb_add(struct tar_builder *t, const char *name, mode_t type, mode_t mode, const char *data,
                   const char *link)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, mode);
    archive_entry_set_mtime(e, 1600000000, 0);
    if (type == AE_IFLNK)
        archive_entry_set_symlink(e, link);
    else if (link)
        archive_entry_set_hardlink(e, link);
    archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
    archive_write_header(t->a, e);
    if (data)
        archive_write_data(t->a, data, strlen(data));
    archive_entry_free(e);
}

static int tb_finish(struct tar_builder *t)
{
    archive_write_close(t->a);
    archive_write_free(t->a);
    lseek(t->fd, 0, SEEK_SET);
    return t->fd;
}

static char *read_file_at(int dirfd, const char *path)
{
    char *out = NULL;
    struct keel_error *err = NULL;
    if (file_read_whole_at(dirfd, path, 1 << 20, &out, NULL, &err) < 0) {
        error_free(err);
        return xstrdup("(missing)");
    }
    return out;
}

/* A temporary rootfs (root: a mkdtemp template) and this user's ownership
 * strategy; returns the rootfs's fd. */
static int root_make(char *root, struct layer_owner *owner)
{
    layer_owner_init(owner, geteuid() == 0 ? LAYER_OWNER_PRIVILEGED : LAYER_OWNER_ROOTLESS, NULL, NULL);
    if (!mkdtemp(root))
        return -1;
    return open(root, O_RDONLY | O_DIRECTORY);
}

static void test_apply(struct unit_counts *c)
{
    char root[] = "/tmp/test_layer_root_XXXXXX";
    struct layer_owner owner;
    cleanup_close int rootfd = root_make(root, &owner);
    CHECK(c, rootfd >= 0);

    struct tar_builder t;
    tb_open(&t, true);
    tb_add(&t, "etc/", AE_IFDIR, 0755, NULL, NULL);
    tb_add(&t, "etc/hosts", AE_IFREG, 0644, "127.0.0.1 localhost\n", NULL);
    tb_add(&t, "etc/hosts.link", AE_IFREG, 0644, NULL, "etc/hosts");
    tb_add(&t, "etc/sym", AE_IFLNK, 0777, NULL, "hosts");
    tb_add(&t, "old/", AE_IFDIR, 0700, NULL, NULL);
    tb_add(&t, "old/x", AE_IFREG, 0600, "x", NULL);
    int fd = tb_finish(&t);
    struct layer_apply_opts o = {.compression = LAYER_COMPRESSION_GZIP, .size = -1, .owner = &owner};
    struct keel_error *err = NULL;
    CHECK(c, layer_apply(rootfd, fd, &o, &err) == 0);
    if (err)
        fprintf(stderr, "  %s\n", err->msg);
    error_free(err);
    err = NULL;
    close(fd);
    cleanup_free char *hosts = read_file_at(rootfd, "etc/hosts.link");
    CHECK_STREQ(c, hosts, "127.0.0.1 localhost\n");
    struct stat st;
    CHECK(c, fstatat(rootfd, "etc", &st, 0) == 0 && st.st_mtime == 1600000000);

    /* Layer 2: whiteout, and the diffID checked. */
    tb_open(&t, false);
    tb_add(&t, "old/.wh.x", AE_IFREG, 0600, NULL, NULL);
    tb_add(&t, ".wh.nothing", AE_IFREG, 0600, NULL, NULL);
    fd = tb_finish(&t);
    cleanup_free char *blob = NULL;
    size_t len;
    CHECK(c, fd_read_whole(fd, "layer", 1 << 20, &blob, &len, &err) == 0);
    cleanup_free char *id = digest_buffer(DIGEST_SHA256, blob, len);
    lseek(fd, 0, SEEK_SET);
    o.compression = LAYER_COMPRESSION_GZIP;
    CHECK(c, layer_apply(rootfd, fd, &o, &err) < 0 && err && strstr(err->msg, "gzip"));
    error_free(err);
    err = NULL;
    lseek(fd, 0, SEEK_SET);
    o.compression = LAYER_COMPRESSION_NONE;
    o.diff_id = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    CHECK(c, layer_apply(rootfd, fd, &o, &err) < 0 && err && strstr(err->msg, "diffID mismatch"));
    error_free(err);
    err = NULL;
    lseek(fd, 0, SEEK_SET);
    o.diff_id = id;
    o.digest = id;
    o.size = (int64_t)len;
    CHECK(c, layer_apply(rootfd, fd, &o, &err) == 0);
    error_free(err);
    err = NULL;
    CHECK(c, fstatat(rootfd, "old/x", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT);
    lseek(fd, 0, SEEK_SET);
    o.size = (int64_t)len + 1;
    CHECK(c, layer_apply(rootfd, fd, &o, &err) < 0 && err && strstr(err->msg, "size mismatch"));
    error_free(err);
    close(fd);

    layer_owner_release(&owner);
    fs_remove_tree(root, NULL);
}

/* Whether every thread of this process but the caller blocks every
 * standard signal that can be blocked (/proc's SigBlk). */
static bool other_threads_block_all(void)
{
    cleanup_dir DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    int others = 0;
    bool all = true;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || atoi(de->d_name) == gettid())
            continue;
        others++;
        cleanup_free char *path = xasprintf("/proc/self/task/%s/status", de->d_name);
        cleanup_free char *status = read_file_at(AT_FDCWD, path);
        const char *blk = strstr(status, "SigBlk:");
        unsigned long long mask = blk ? strtoull(blk + strlen("SigBlk:"), NULL, 16) : 0;
        for (int sig = 1; sig < 32; sig++)
            if (sig != SIGKILL && sig != SIGSTOP && !(mask & (1ULL << (sig - 1)))) {
                fprintf(stderr, "  thread %s does not block signal %d\n", de->d_name, sig);
                all = false;
            }
    }
    return others > 0 && all;
}

/* A pending stop signal stops the layer before any entry; the decompression
 * thread never takes a process-directed signal, whatever the caller's mask. */
static void test_interrupt(struct unit_counts *c)
{
    char root[] = "/tmp/test_layer_root_XXXXXX";
    struct layer_owner owner;
    cleanup_close int rootfd = root_make(root, &owner);
    CHECK(c, rootfd >= 0);
    struct tar_builder t;
    tb_open(&t, true);
    tb_add(&t, "a", AE_IFREG, 0644, "a", NULL);
    int fd = tb_finish(&t);

    /* A pipe holding only gzip's magic keeps the worker waiting in read(). */
    int p[2];
    CHECK(c, pipe(p) == 0);
    CHECK(c, write(p[1], "\x1f\x8b\x08\x00", 4) == 4);
    struct layer_stream *s = NULL;
    struct keel_error *err = NULL;
    CHECK(c, layer_stream_open(p[0], LAYER_COMPRESSION_GZIP, &s, &err) == 0);
    CHECK(c, other_threads_block_all());
    close(p[1]);
    layer_stream_free(s);
    close(p[0]);
    error_free(err);
    err = NULL;

    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    struct layer_apply_opts o = {
        .compression = LAYER_COMPRESSION_GZIP, .size = -1, .owner = &owner, .interrupt = &stop};
    CHECK(c, layer_check_interrupt(&stop, &err) == 0 && layer_check_interrupt(NULL, &err) == 0);
    CHECK(c, layer_apply(rootfd, fd, &o, &err) == 0);
    error_free(err);
    err = NULL;
    unlinkat(rootfd, "a", 0);
    lseek(fd, 0, SEEK_SET);
    raise(SIGUSR1);
    CHECK(c, layer_apply(rootfd, fd, &o, &err) < 0 && err && err->errnum == EINTR &&
                 strstr(err->msg, "interrupted by signal"));
    error_free(err);
    err = NULL;
    CHECK(c, faccessat(rootfd, "a", F_OK, AT_SYMLINK_NOFOLLOW) < 0);
    CHECK(c, layer_check_interrupt(&stop, &err) < 0 && err && err->errnum == EINTR);
    error_free(err);
    /* Take the signal back so that unblocking it does not kill the test. */
    int sig;
    sigwait(&stop, &sig);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(fd);
    layer_owner_release(&owner);
    fs_remove_tree(root, NULL);
}

int main(void)
{
    struct unit_counts c = {0, 0};
    test_path_clean(&c);
    test_pathset(&c);
    test_idmap(&c);
    test_rootless_encoding(&c);
    test_media_types(&c);
    test_apply(&c);
    test_interrupt(&c);
    return unit_finish(&c);
}
