/* rootfs_prepare/pivot/finalize on the real kernel, without the lifecycle
 * code: each scenario forks a child that unshares a mount and pid namespace
 * (and a user namespace for the userns cases), loads a config, runs the
 * three steps as the container init would and checks the result from the
 * inside.  Everything it mounts dies with the child's mount namespace; the
 * bundles live in a temporary directory removed at the end.  Needs root
 * (skips with 77 otherwise). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cgroup.h"
#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "rootfs.h"
#include "spec.h"
#include "strbuf.h"
#include "unit.h"
#include "xalloc.h"

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif
#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000
#endif

static struct unit_counts c;
static char tmpdir[] = "/tmp/keel-rootfs-test.XXXXXX";

/* ---- helpers usable inside the container ---- */

static bool is_mount_root(const char *path)
{
    struct statx stx;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
        return false;
    return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static unsigned long vfs_flags(const char *path)
{
    struct statvfs s;
    if (statvfs(path, &s) < 0)
        return ~0UL;
    return s.f_flag;
}

static long fs_type(const char *path)
{
    struct statfs s;
    if (statfs(path, &s) < 0)
        return -1;
    return (long)s.f_type;
}

static bool is_chr(const char *path, unsigned maj, unsigned min)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == maj &&
           minor(st.st_rdev) == min;
}

static bool link_is(const char *path, const char *target)
{
    char buf[256];
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return strcmp(buf, target) == 0;
}

static bool write_fails(const char *path, int want_errno)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        close(fd);
        return false;
    }
    return errno == want_errno;
}

static bool file_has(const char *path, const char *needle)
{
    cleanup_free char *s = NULL;
    if (file_read_whole(path, 1 << 20, &s, NULL, NULL) < 0)
        return false;
    return strstr(s, needle) != NULL;
}

/* ---- bundle construction ---- */

static void mkdirs(const char *root, const char *const *dirs)
{
    for (size_t i = 0; dirs[i]; i++) {
        cleanup_free char *p = xasprintf("%s/%s", root, dirs[i]);
        fs_mkdir_p(p, 0755, NULL);
    }
}

static char *make_bundle(const char *name)
{
    char *b = xasprintf("%s/%s", tmpdir, name);
    cleanup_free char *rootfs = xasprintf("%s/rootfs", b);
    static const char *const dirs[] = {"proc", "sys", "dev", "tmp", "etc", "data", NULL};
    fs_mkdir_p(rootfs, 0755, NULL);
    mkdirs(rootfs, dirs);
    return b;
}

static const char *DEFAULT_MOUNTS =
    "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
    "{\"destination\":\"/"
    "dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"strictatime\","
    "\"mode=755\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/"
    "pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":[\"nosuid\",\"noexec\","
    "\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
    "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"nosuid\",\"noexec\","
    "\"nodev\",\"mode=1777\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"options\":[\"nosuid\","
    "\"noexec\",\"nodev\"]},"
    "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\","
    "\"nodev\",\"ro\"]},"
    "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"nosuid\","
    "\"noexec\",\"nodev\",\"relatime\",\"ro\"]}";

static const char *DEFAULT_LINUX =
    "\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\",\"/proc/timer_list\","
    "\"/sys/firmware\",\"/proc/scsi\"],"
    "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]";

static char *config_json(bool readonly, const char *mounts, const char *linux_extra)
{
    /* A mount namespace is always in the config (rootfs_prepare refuses to
     * touch the mount table without one); extras may list their own. */
    const char *ns = linux_extra && strstr(linux_extra, "\"namespaces\"")
                         ? ""
                         : "\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"pid\"}]";
    bool comma = ns[0] && linux_extra && linux_extra[0];
    return xasprintf("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\",\"readonly\":%s},"
                     "\"mounts\":[%s],\"linux\":{%s%s%s}}",
                     readonly ? "true" : "false", mounts, ns, comma ? "," : "",
                     linux_extra ? linux_extra : "");
}

/* ---- running a scenario ---- */

struct scenario {
    const char *name;
    const char *bundle;
    const char *json;
    int clone_flags; /* besides CLONE_NEWNS | CLONE_NEWPID */
    bool no_pivot;
    const char *expect_error;                  /* the steps must fail with this in the message */
    void (*between)(const struct scenario *s); /* after prepare, before pivot (hooks' moment) */
    void (*check)(const struct scenario *s, struct unit_counts *k);
    void (*before)(const struct scenario *s); /* in the init's namespaces, before prepare */
    bool host_console;                        /* pass a pty of the host as console_path */
    const char *corpus; /* a config of fuzz/corpus/config instead of json, patched to run here */
    const struct cgroup_mount_entry *cg; /* rootfs_options.cgroup_mounts */
    size_t n_cg;
};

/* An engine's config points at its own storage: run it on our bundle, with
 * placeholders for bind sources that do not exist here (files, except the
 * shm directory). */
static void corpus_patch(const struct scenario *s, struct spec_config *cfg)
{
    free(cfg->root.path);
    cfg->root.path = xstrdup("rootfs");
    for (size_t i = 0; i < cfg->n_mounts; i++) {
        struct spec_mount *m = &cfg->mounts[i];
        bool bind = m->type && strcmp(m->type, "bind") == 0;
        for (size_t j = 0; !bind && m->options && m->options[j]; j++)
            bind = strcmp(m->options[j], "bind") == 0 || strcmp(m->options[j], "rbind") == 0;
        if (!bind || !m->source || access(m->source, F_OK) == 0)
            continue;
        char *ph = xasprintf("%s/placeholder-%zu", s->bundle, i);
        if (strcmp(m->destination, "/dev/shm") == 0)
            fs_mkdir_p(ph, 0755, NULL);
        else
            file_write_atomic(ph, "placeholder\n", 12, 0644, NULL);
        free(m->source);
        m->source = ph;
    }
}

static void check_corpus(const struct scenario *s, struct unit_counts *k)
{
    (void)s;
    CHECK(k, fs_type("/proc") == PROC_SUPER_MAGIC);
    CHECK(k, fs_type("/dev") == TMPFS_MAGIC);
    CHECK(k, is_chr("/dev/null", 1, 3));
    CHECK(k, fs_type("/sys") == SYSFS_MAGIC);
    CHECK(k, access("/dev/pts/ptmx", F_OK) == 0);
}

static int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

/* The container init: returns the number of failed checks. */
static int scenario_init(const struct scenario *s, bool userns)
{
    struct unit_counts k = {0, 0};
    cleanup_spec_config struct spec_config *cfg = NULL;
    cleanup_error struct keel_error *err = NULL;
    if (s->corpus) {
        cleanup_free char *path = xasprintf("%s/fuzz/corpus/config/%s", KEEL_SRCDIR, s->corpus);
        cleanup_free char *text = NULL;
        size_t len = 0;
        if (file_read_whole(path, 1 << 24, &text, &len, &err) < 0 ||
            spec_parse_config(text, len, s->corpus, &cfg, &err) < 0) {
            fprintf(stderr, "[%s] %s\n", s->name, error_msg(err));
            return 1;
        }
        corpus_patch(s, cfg);
    } else if (spec_parse_config(s->json, strlen(s->json), "config.json", &cfg, &err) < 0) {
        fprintf(stderr, "[%s] %s\n", s->name, error_msg(err));
        return 1;
    }
    struct rootfs_options o = {.bundle = s->bundle,
                               .no_pivot = s->no_pivot,
                               .userns = userns,
                               .cgroup_mounts = s->cg,
                               .n_cgroup_mounts = s->n_cg};
    if (s->before)
        s->before(s);
    cleanup_close int host_master = -1;
    if (s->host_console) {
        host_master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (host_master < 0 || grantpt(host_master) < 0 || unlockpt(host_master) < 0)
            return 1;
        o.console_path = ptsname(host_master);
    }
    int fds_before = count_fds();
    int rc = rootfs_prepare(cfg, &o, &err);
    if (rc == 0 && s->between)
        s->between(s);
    if (rc == 0)
        rc = rootfs_pivot(cfg, &o, &err);
    if (rc == 0)
        rc = rootfs_finalize(cfg, &o, &err);
    if (s->expect_error) {
        if (rc == 0 || !strstr(error_msg(err), s->expect_error))
            fprintf(stderr, "[%s] expected \"%s\", got: %s\n", s->name, s->expect_error,
                    rc == 0 ? "success" : error_msg(err));
        CHECK(&k, rc < 0 && strstr(error_msg(err), s->expect_error));
    } else {
        if (rc < 0)
            fprintf(stderr, "[%s] %s\n", s->name, error_msg(err));
        CHECK(&k, rc == 0);
        /* nothing of the setup stays open for the container process */
        CHECK(&k, rc != 0 || count_fds() == fds_before);
        if (rc == 0 && s->check)
            s->check(s, &k);
    }
    if (k.failed)
        fprintf(stderr, "[%s] %d checks failed\n", s->name, k.failed);
    return k.failed > 100 ? 100 : k.failed;
}

static int write_map(pid_t pid, const char *file, const char *map)
{
    cleanup_free char *path = xasprintf("/proc/%d/%s", (int)pid, file);
    return file_write_string(path, map, NULL);
}

static void run(const struct scenario *s)
{
    bool userns = s->clone_flags & CLONE_NEWUSER;
    int ready[2], go[2];
    if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
        abort();
    pid_t child = fork();
    if (child == 0) {
        close(ready[0]);
        close(go[1]);
        if (unshare(CLONE_NEWNS | CLONE_NEWPID | s->clone_flags) < 0) {
            perror("unshare");
            _exit(120);
        }
        char b = 0;
        if (write(ready[1], &b, 1) != 1 || read(go[0], &b, 1) != 1)
            _exit(121);
        if (userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
            _exit(122);
        pid_t init = fork();
        if (init == 0)
            _exit(scenario_init(s, userns));
        int st;
        if (init < 0 || waitpid(init, &st, 0) < 0)
            _exit(123);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 124);
    }
    close(ready[1]);
    close(go[0]);
    char b;
    if (read(ready[0], &b, 1) == 1 && userns) {
        write_map(child, "uid_map", "0 0 65536");
        write_map(child, "gid_map", "0 0 65536");
    }
    if (write(go[1], &b, 1) != 1)
        perror("write");
    close(ready[0]);
    close(go[1]);
    int st;
    waitpid(child, &st, 0);
    int failed = WIFEXITED(st) ? WEXITSTATUS(st) : 125;
    if (failed)
        fprintf(stderr, "scenario %s: %d failure(s) (status %d)\n", s->name, failed, st);
    c.failed += failed;
    c.passed += failed == 0;
}

/* ---- scenarios ---- */

static void check_default(const struct scenario *s, struct unit_counts *k)
{
    (void)s;
    CHECK(k, fs_type("/proc") == PROC_SUPER_MAGIC);
    CHECK(k, file_has("/proc/self/status", "\nPid:\t1\n"));
    CHECK(k, fs_type("/dev") == TMPFS_MAGIC);
    CHECK(k, fs_type("/dev/pts") == DEVPTS_SUPER_MAGIC);
    CHECK(k, fs_type("/dev/shm") == TMPFS_MAGIC);
    CHECK(k, fs_type("/dev/mqueue") == MQUEUE_MAGIC);
    CHECK(k, fs_type("/sys") == SYSFS_MAGIC);
    CHECK(k, vfs_flags("/sys") & ST_RDONLY);
    CHECK(k, vfs_flags("/dev/shm") & ST_NOEXEC);
    CHECK(k, vfs_flags("/dev") & ST_NOSUID);
    CHECK(k, !(vfs_flags("/dev") & ST_RDONLY));
    CHECK(k, is_chr("/dev/null", 1, 3) && is_chr("/dev/zero", 1, 5) && is_chr("/dev/full", 1, 7));
    CHECK(k, is_chr("/dev/random", 1, 8) && is_chr("/dev/urandom", 1, 9) && is_chr("/dev/tty", 5, 0));
    struct stat st;
    CHECK(k, stat("/dev/null", &st) == 0 && (st.st_mode & 0777) == 0666);
    CHECK(k, link_is("/dev/ptmx", "pts/ptmx"));
    CHECK(k, link_is("/dev/fd", "/proc/self/fd") && link_is("/dev/stdin", "/proc/self/fd/0"));
    CHECK(k, link_is("/dev/stdout", "/proc/self/fd/1") && link_is("/dev/stderr", "/proc/self/fd/2"));
    /* cgroup: a read-only tmpfs with the hierarchies (or cgroup2). */
    long cgt = fs_type("/sys/fs/cgroup");
    CHECK(k, cgt == TMPFS_MAGIC || cgt == CGROUP2_SUPER_MAGIC);
    CHECK(k, vfs_flags("/sys/fs/cgroup") & ST_RDONLY);
    if (cgt == TMPFS_MAGIC) {
        CHECK(k, fs_type("/sys/fs/cgroup/memory") == CGROUP_SUPER_MAGIC);
        CHECK(k, vfs_flags("/sys/fs/cgroup/memory") & ST_RDONLY);
        CHECK(k, access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0);
    }
    /* masked: files read as /dev/null, directories as an empty tmpfs */
    CHECK(k, is_chr("/proc/keys", 1, 3) && is_mount_root("/proc/keys"));
    CHECK(k, fs_type("/sys/firmware") == TMPFS_MAGIC && (vfs_flags("/sys/firmware") & ST_RDONLY));
    CHECK(k, access("/proc/acpi", F_OK) != 0 || fs_type("/proc/acpi") == TMPFS_MAGIC);
    /* readonly paths */
    CHECK(k, vfs_flags("/proc/sys") & ST_RDONLY);
    CHECK(k, write_fails("/proc/sys/kernel/core_pattern", EROFS));
    CHECK(k, access("/proc/sysrq-trigger", F_OK) != 0 || write_fails("/proc/sysrq-trigger", EROFS));
    CHECK(k, !(vfs_flags("/proc") & ST_RDONLY));
    /* root.readonly */
    CHECK(k, vfs_flags("/") & ST_RDONLY);
    CHECK(k, mkdir("/newdir", 0755) < 0 && errno == EROFS);
    CHECK(k, !(vfs_flags("/dev/shm") & ST_RDONLY));
    /* The host is gone: no old root left anywhere. */
    CHECK(k, access(tmpdir, F_OK) != 0);
    CHECK(k, access("/tmp", F_OK) == 0);
}

static void check_binds(const struct scenario *s, struct unit_counts *k)
{
    (void)s;
    CHECK(k, is_mount_root("/data/ro"));
    CHECK(k, vfs_flags("/data/ro") & ST_RDONLY);
    CHECK(k, file_has("/data/ro/hello", "hello"));
    CHECK(k, write_fails("/data/ro/new", EROFS));
    CHECK(k, file_has("/data/file", "hello")); /* a file bound onto a created file */
    struct stat st;
    CHECK(k, lstat("/data/file", &st) == 0 && S_ISREG(st.st_mode));
    CHECK(k, write_fails("/data/file-ro", EROFS) || (vfs_flags("/data/file-ro") & ST_RDONLY));
    /* rbind + rro: the submount below is read-only too; plain ro leaves it writable */
    CHECK(k, vfs_flags("/data/rro") & ST_RDONLY);
    CHECK(k, vfs_flags("/data/rro/sub") & ST_RDONLY);
    CHECK(k, !(vfs_flags("/data/ro-norec/sub") & ST_RDONLY));
    CHECK(k, vfs_flags("/data/ro-norec") & ST_RDONLY);
    unsigned long f = vfs_flags("/data/flags");
    CHECK(k, (f & ST_NOSUID) && (f & ST_NODEV) && (f & ST_NOEXEC) && (f & ST_NOATIME));
    CHECK(k, !(f & ST_RDONLY));
    CHECK(k, vfs_flags("/data/nosymfollow") & ST_NOSYMFOLLOW);
    /* tmpfs data options */
    struct statfs sf;
    CHECK(k, statfs("/data/tmp", &sf) == 0 && sf.f_blocks * sf.f_bsize == 1024 * 1024);
    CHECK(k, stat("/data/tmp", &st) == 0 && (st.st_mode & 07777) == 01770);
    /* tmpcopyup keeps what the directory held */
    CHECK(k, fs_type("/etc") == TMPFS_MAGIC && file_has("/etc/keep", "kept"));
    CHECK(k, link_is("/etc/link", "keep"));
    /* propagation option applied */
    CHECK(k, file_has("/proc/self/mountinfo", " /data/shared rw") &&
                 file_has("/proc/self/mountinfo", "shared:"));
}

static void setup_binds_host(const char *b)
{
    cleanup_free char *src = xasprintf("%s/src", b);
    cleanup_free char *sub = xasprintf("%s/src/sub", b);
    cleanup_free char *hello = xasprintf("%s/src/hello", b);
    cleanup_free char *keep = xasprintf("%s/rootfs/etc/keep", b);
    cleanup_free char *link = xasprintf("%s/rootfs/etc/link", b);
    fs_mkdir_p(sub, 0755, NULL);
    file_write_atomic(hello, "hello\n", 6, 0644, NULL);
    file_write_atomic(keep, "kept\n", 5, 0600, NULL);
    if (symlink("keep", link) < 0 && errno != EEXIST)
        perror("symlink");
}

/* A submount below the bind source, only in the init's namespace, so that
 * rro and ro can be told apart. */
static void binds_premount(const struct scenario *s)
{
    cleanup_free char *sub = xasprintf("%s/src/sub", s->bundle);
    if (mount("tmpfs", sub, "tmpfs", 0, "size=64k") < 0)
        perror("mount src/sub");
}

/* symlink escape: /data/evil -> HOSTDIR; the tmpfs must land inside */
static char *escape_hostdir;
static void check_escape(const struct scenario *s, struct unit_counts *k)
{
    (void)s;
    CHECK(k, fs_type("/data/evil") == TMPFS_MAGIC || is_mount_root(escape_hostdir));
    /* The link resolved inside the rootfs: the mount is on <rootfs>HOSTDIR. */
    CHECK(k, is_mount_root(escape_hostdir));
    CHECK(k, fs_type(escape_hostdir) == TMPFS_MAGIC);
}
static void between_escape(const struct scenario *s)
{
    (void)s;
    /* Still before pivot: the host's directory got nothing. */
    if (is_mount_root(escape_hostdir))
        fprintf(stderr, "escape: the host directory %s became a mount point!\n", escape_hostdir);
    if (is_mount_root(escape_hostdir))
        _exit(99);
}

static void between_replace_null(const struct scenario *s)
{
    /* A createContainer hook (or the image) swaps /dev/null for a link to a
     * sensitive procfs file before the masks are applied. */
    cleanup_free char *null = xasprintf("%s/rootfs/dev/null", s->bundle);
    unlink(null);
    if (symlink("/proc/sys/kernel/core_pattern", null) < 0)
        perror("symlink");
}

static void check_userns(const struct scenario *s, struct unit_counts *k)
{
    (void)s;
    CHECK(k, is_chr("/dev/null", 1, 3));
    CHECK(k, is_mount_root("/dev/null")); /* bound from the host, not mknod'ed */
    CHECK(k, fs_type("/sys") == SYSFS_MAGIC);
    CHECK(k, vfs_flags("/sys") & ST_RDONLY);
    CHECK(k, fs_type("/proc") == PROC_SUPER_MAGIC);
    CHECK(k, is_chr("/proc/keys", 1, 3));
    CHECK(k, vfs_flags("/proc/sys") & ST_RDONLY);
    CHECK(k, vfs_flags("/") & ST_RDONLY);
}

static void check_devices(const struct scenario *s, struct unit_counts *k)
{
    (void)s;
    struct stat st;
    CHECK(k, is_chr("/dev/fuse", 10, 229));
    CHECK(k, stat("/dev/fuse", &st) == 0 && st.st_uid == 1000 && st.st_gid == 1001 &&
                 (st.st_mode & 0777) == 0620);
    CHECK(k, stat("/dev/sub/fifo", &st) == 0 && S_ISFIFO(st.st_mode));
    CHECK(k, is_chr("/dev/null", 1, 3));
    CHECK(k, !is_mount_root("/dev/null"));
}

static void check_sysctl(const struct scenario *s, struct unit_counts *k)
{
    (void)s;
    CHECK(k, file_has("/proc/sys/net/ipv4/ip_forward", "1"));
    CHECK(k, vfs_flags("/proc/sys") & ST_RDONLY);
}

static void check_nopivot(const struct scenario *s, struct unit_counts *k)
{
    (void)s;
    CHECK(k, fs_type("/proc") == PROC_SUPER_MAGIC);
    CHECK(k, is_chr("/dev/null", 1, 3));
    CHECK(k, access("/data", F_OK) == 0);
}

static void check_shared(const struct scenario *s, struct unit_counts *k)
{
    (void)s;
    cleanup_free char *mi = NULL;
    CHECK(k, file_read_whole("/proc/self/mountinfo", 1 << 20, &mi, NULL, NULL) == 0);
    /* "/" is shared after finalize */
    bool root_shared = false;
    for (char *save = NULL, *l = mi ? strtok_r(mi, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
        char root[256], mp[256];
        if (sscanf(l, "%*s %*s %*s %255s %255s", root, mp) == 2 && strcmp(mp, "/") == 0)
            root_shared = strstr(l, " shared:") != NULL;
    }
    CHECK(k, root_shared);
}

static void check_console(const struct scenario *s, struct unit_counts *k)
{
    (void)s;
    /* console_path: the host's pty slave is on /dev/console */
    struct stat st;
    CHECK(k, stat("/dev/console", &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 136);
    CHECK(k, is_mount_root("/dev/console"));
    /* rootfs_bind_console: a pty of the container's devpts, after pivot */
    cleanup_close int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHECK(k, master >= 0 && unlockpt(master) == 0);
    char name[64] = "";
    CHECK(k, master >= 0 && ptsname_r(master, name, sizeof(name)) == 0);
    cleanup_close int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHECK(k, slave >= 0);
    cleanup_error struct keel_error *err = NULL;
    CHECK(k, rootfs_bind_console(slave, &err) == 0);
    struct stat sl, con;
    CHECK(k, fstat(slave, &sl) == 0 && stat("/dev/console", &con) == 0 && sl.st_rdev == con.st_rdev);
    CHECK(k, write(master, "hi\n", 3) == 3);
    char buf[8] = "";
    cleanup_close int cons = open("/dev/console", O_RDONLY | O_NOCTTY | O_CLOEXEC);
    CHECK(k, cons >= 0 && read(cons, buf, sizeof(buf)) > 0 && buf[0] == 'h');
}

static void check_kernel_link(const struct scenario *s, struct unit_counts *k)
{
    (void)s;
    /* /proc/mounts -> self/mounts: the mask covers what the kernel's link names */
    CHECK(k, is_chr("/proc/self/mounts", 1, 3));
    CHECK(k, !file_has("/proc/mounts", "proc"));
}

static void check_given_cgroups(const struct scenario *s, struct unit_counts *k)
{
    (void)s;
    /* only the hierarchies the caller listed, bound from the given dirs */
    CHECK(k, fs_type("/sys/fs/cgroup") == TMPFS_MAGIC);
    CHECK(k, fs_type("/sys/fs/cgroup/memory") == CGROUP_SUPER_MAGIC);
    CHECK(k, access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0);
    CHECK(k, access("/sys/fs/cgroup/cpu", F_OK) != 0);
    CHECK(k, vfs_flags("/sys/fs/cgroup/memory") & ST_RDONLY);
}

static void check_cgroupns(const struct scenario *s, struct unit_counts *k)
{
    (void)s;
    long t = fs_type("/sys/fs/cgroup");
    CHECK(k, t == TMPFS_MAGIC || t == CGROUP2_SUPER_MAGIC);
    if (t == TMPFS_MAGIC) {
        CHECK(k, fs_type("/sys/fs/cgroup/memory") == CGROUP_SUPER_MAGIC);
        CHECK(k, access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0);
        CHECK(k, !(vfs_flags("/sys/fs/cgroup/memory") & ST_RDONLY));
    }
}

/* CVE-2021-30465: while rootfs_prepare mounts below /data/race, another
 * process keeps swapping that directory for a symlink to a host directory.
 * A mount may fail (the path vanished under it), but none may ever land on
 * the host directory. */
static int race_once(const char *bundle, const char *json, const char *host)
{
    cleanup_free char *race = xasprintf("%s/rootfs/data/race", bundle);
    cleanup_free char *aside = xasprintf("%s/rootfs/data/race.aside", bundle);
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        return 2;
    pid_t racer = fork();
    if (racer == 0) {
        for (;;) {
            if (rename(race, aside) == 0) {
                if (symlink(host, race) == 0)
                    unlink(race);
                rename(aside, race);
            }
        }
    }
    cleanup_spec_config struct spec_config *cfg = NULL;
    cleanup_error struct keel_error *err = NULL;
    if (spec_parse_config(json, strlen(json), "config.json", &cfg, &err) < 0)
        return 2;
    struct rootfs_options o = {.bundle = bundle};
    if (rootfs_prepare(cfg, &o, &err) < 0 &&
        getenv("KEEL_RACE_DEBUG")) /* may fail: the race can remove a path */
        fprintf(stderr, "race: %s\n", error_msg(err));
    kill(racer, SIGKILL);
    waitpid(racer, NULL, 0);
    struct stat st;
    if (lstat(race, &st) == 0 && S_ISLNK(st.st_mode))
        unlink(race);
    if (lstat(race, &st) < 0)
        rename(aside, race);
    cleanup_free char *mi = NULL;
    if (file_read_whole("/proc/self/mountinfo", 1 << 22, &mi, NULL, NULL) < 0)
        return 2;
    size_t hl = strlen(host);
    for (char *save = NULL, *l = strtok_r(mi, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char mp[PATH_MAX];
        if (sscanf(l, "%*s %*s %*s %*s %4095s", mp) == 1 && strncmp(mp, host, hl) == 0 &&
            (mp[hl] == '\0' || mp[hl] == '/')) {
            fprintf(stderr, "race: a mount escaped to the host: %s\n", mp);
            return 1;
        }
    }
    return 0;
}

static void test_symlink_race(void)
{
    cleanup_free char *b = make_bundle("race");
    cleanup_free char *race = xasprintf("%s/rootfs/data/race", b);
    cleanup_free char *host = xasprintf("%s/racehost", tmpdir);
    fs_mkdir_p(race, 0755, NULL);
    fs_mkdir_p(host, 0755, NULL);
    cleanup_strbuf struct strbuf mounts = STRBUF_INIT;
    for (int i = 0; i < 24; i++)
        strbuf_printf(&mounts,
                      "%s{\"destination\":\"/data/race/m%d/x\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}",
                      i ? "," : "", i);
    cleanup_free char *json = config_json(false, mounts.buf, NULL);
    int escapes = 0;
    for (int round = 0; round < 25; round++) {
        pid_t child = fork();
        if (child == 0)
            _exit(race_once(b, json, host));
        int st;
        waitpid(child, &st, 0);
        escapes += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK(&c, escapes == 0);
    cleanup_dir DIR *d = opendir(host);
    int entries = 0;
    for (struct dirent *de; d && (de = readdir(d));)
        entries += de->d_name[0] != '.';
    CHECK(&c, entries == 0); /* nothing was even created on the host side */
}

int main(void)
{
    if (geteuid() != 0) {
        printf("skip: needs root\n");
        return 77;
    }
    if (!mkdtemp(tmpdir))
        return 1;
    cleanup_free char *json_default = NULL, *json_binds = NULL, *json_escape = NULL, *json_proclink = NULL;
    cleanup_free char *json_null = NULL, *json_userns = NULL, *json_dev = NULL, *json_sysctl = NULL;
    cleanup_free char *json_badsysctl = NULL, *json_maskedlink = NULL, *json_nopivot = NULL;
    cleanup_free char *json_shared = NULL, *json_missing = NULL, *json_cgns = NULL, *json_procfile = NULL;
    cleanup_free char *lx = NULL;

    /* 1. the runc spec defaults, read-only root */
    cleanup_free char *b1 = make_bundle("default");
    json_default = config_json(true, DEFAULT_MOUNTS, DEFAULT_LINUX);
    struct scenario s1 = {"default", b1, json_default, 0, false, NULL, NULL, check_default};
    run(&s1);

    /* 2. binds of files and dirs, ro/rro, flags, tmpfs data, tmpcopyup, propagation */
    cleanup_free char *b2 = make_bundle("binds");
    setup_binds_host(b2);
    cleanup_free char *bind_mounts = xasprintf(
        "%s,"
        "{\"destination\":\"/data/ro\",\"type\":\"bind\",\"source\":\"%s/"
        "src\",\"options\":[\"rbind\",\"ro\"]},"
        "{\"destination\":\"/data/file\",\"type\":\"bind\",\"source\":\"src/hello\",\"options\":[\"bind\"]},"
        "{\"destination\":\"/data/file-ro\",\"type\":\"bind\",\"source\":\"src/"
        "hello\",\"options\":[\"bind\",\"ro\"]},"
        "{\"destination\":\"/data/"
        "rro\",\"type\":\"bind\",\"source\":\"src\",\"options\":[\"rbind\",\"rro\"]},"
        "{\"destination\":\"/data/"
        "ro-norec\",\"type\":\"bind\",\"source\":\"src\",\"options\":[\"rbind\",\"ro\"]},"
        "{\"destination\":\"/data/"
        "flags\",\"type\":\"bind\",\"source\":\"src\",\"options\":[\"bind\",\"nosuid\","
        "\"nodev\",\"noexec\",\"noatime\"]},"
        "{\"destination\":\"/data/nosymfollow\",\"type\":\"bind\",\"source\":\"src\",\"options\":[\"bind\","
        "\"nosymfollow\"]},"
        "{\"destination\":\"/data/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"size=1m\","
        "\"mode=1770\"]},"
        "{\"destination\":\"/etc\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"tmpcopyup\"]},"
        "{\"destination\":\"/data/"
        "shared\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"rshared\"]}",
        DEFAULT_MOUNTS, b2);
    json_binds = config_json(false, bind_mounts, NULL);
    struct scenario s2 = {"binds", b2, json_binds, 0, false, NULL, NULL, check_binds, binds_premount};
    run(&s2);

    /* 3. a destination that is a symlink to a host path lands inside the rootfs */
    cleanup_free char *b3 = make_bundle("escape");
    escape_hostdir = xasprintf("%s/hostdir", tmpdir);
    fs_mkdir_p(escape_hostdir, 0755, NULL);
    cleanup_free char *evil = xasprintf("%s/rootfs/data/evil", b3);
    if (symlink(escape_hostdir, evil) < 0)
        perror("symlink");
    json_escape =
        config_json(false, "{\"destination\":\"/data/evil\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}", NULL);
    struct scenario s3 = {"symlink-escape", b3, json_escape, 0, false, NULL, between_escape, check_escape};
    run(&s3);
    CHECK(&c, !is_mount_root(escape_hostdir));

    /* 4. proc onto a symlink (even one inside the rootfs) is refused */
    cleanup_free char *b4 = make_bundle("proclink");
    cleanup_free char *procdir = xasprintf("%s/rootfs/proc", b4);
    cleanup_free char *realproc = xasprintf("%s/rootfs/realproc", b4);
    rmdir(procdir);
    fs_mkdir_p(realproc, 0755, NULL);
    if (symlink("/realproc", procdir) < 0)
        perror("symlink");
    json_proclink =
        config_json(false, "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}", NULL);
    struct scenario s4 = {"proc-on-symlink",
                          b4,
                          json_proclink,
                          0,
                          false,
                          "mount \"proc\" to \"/proc\": the destination must be a real directory",
                          NULL,
                          NULL};
    run(&s4);

    /* 4b. sysfs onto a file is refused too */
    cleanup_free char *b4b = make_bundle("procfile");
    cleanup_free char *sysdir = xasprintf("%s/rootfs/sys", b4b);
    rmdir(sysdir);
    file_write_atomic(sysdir, "", 0, 0644, NULL);
    json_procfile =
        config_json(false, "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\"}", NULL);
    struct scenario s4b = {
        "sysfs-on-file", b4b, json_procfile, 0, false, "mount \"sysfs\" to \"/sys\"", NULL, NULL};
    run(&s4b);

    /* 5. /dev/null swapped for a symlink before masking: refused (CVE-2025-31133) */
    cleanup_free char *b5 = make_bundle("null");
    json_null = config_json(false, DEFAULT_MOUNTS, DEFAULT_LINUX);
    struct scenario s5 = {"replaced-dev-null",  b5,  json_null, 0, false, "is not the null device",
                          between_replace_null, NULL};
    run(&s5);

    /* 6. a masked path that is a symlink in the image is refused */
    cleanup_free char *b6 = make_bundle("maskedlink");
    cleanup_free char *secret = xasprintf("%s/rootfs/etc/secret", b6);
    if (symlink("/etc/passwd", secret) < 0)
        perror("symlink");
    json_maskedlink = config_json(false, DEFAULT_MOUNTS, "\"maskedPaths\":[\"/etc/secret\"]");
    struct scenario s6 = {
        "masked-symlink", b6, json_maskedlink, 0, false, "`/etc/secret` is a symlink", NULL, NULL};
    run(&s6);

    /* 7. inside a user namespace: devices bound, sysfs bound, masks hold */
    cleanup_free char *b7 = make_bundle("userns");
    json_userns = config_json(true, DEFAULT_MOUNTS, DEFAULT_LINUX);
    struct scenario s7 = {"userns", b7,   json_userns, CLONE_NEWUSER | CLONE_NEWIPC,
                          false,    NULL, NULL,        check_userns};
    run(&s7);

    /* 8. linux.devices by mknod, with owner and mode */
    cleanup_free char *b8 = make_bundle("devices");
    json_dev = config_json(false, DEFAULT_MOUNTS,
                           "\"devices\":[{\"path\":\"/dev/fuse\",\"type\":\"c\",\"major\":10,\"minor\":229,"
                           "\"fileMode\":400,\"uid\":1000,\"gid\":1001},"
                           "{\"path\":\"/dev/sub/fifo\",\"type\":\"p\"}]");
    struct scenario s8 = {"devices", b8, json_dev, 0, false, NULL, NULL, check_devices};
    run(&s8);

    /* 9. sysctl in a network namespace, then /proc/sys made read-only */
    cleanup_free char *b9 = make_bundle("sysctl");
    lx = xasprintf("%s,\"namespaces\":[{\"type\":\"network\"},{\"type\":\"mount\"},{\"type\":\"pid\"}],"
                   "\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"}",
                   DEFAULT_LINUX);
    json_sysctl = config_json(false, DEFAULT_MOUNTS, lx);
    struct scenario s9 = {"sysctl", b9, json_sysctl, CLONE_NEWNET, false, NULL, NULL, check_sysctl};
    run(&s9);

    /* 10. a host sysctl is refused */
    cleanup_free char *b10 = make_bundle("badsysctl");
    json_badsysctl = config_json(false, DEFAULT_MOUNTS, "\"sysctl\":{\"kernel.core_pattern\":\"|/evil\"}");
    struct scenario s10 = {"host-sysctl", b10, json_badsysctl, 0, false, "not in a separate kernel namespace",
                           NULL,          NULL};
    run(&s10);

    /* 11. --no-pivot */
    cleanup_free char *b11 = make_bundle("nopivot");
    json_nopivot = config_json(false, DEFAULT_MOUNTS, DEFAULT_LINUX);
    struct scenario s11 = {"no-pivot", b11, json_nopivot, 0, true, NULL, NULL, check_nopivot};
    run(&s11);

    /* 12. rootfsPropagation shared */
    cleanup_free char *b12 = make_bundle("shared");
    json_shared = config_json(false, DEFAULT_MOUNTS, "\"rootfsPropagation\":\"shared\"");
    struct scenario s12 = {"rootfs-shared", b12, json_shared, 0, false, NULL, NULL, check_shared};
    run(&s12);

    /* 13. a missing bind source names the mount and errno */
    cleanup_free char *b13 = make_bundle("missing");
    json_missing = config_json(false,
                               "{\"destination\":\"/data/x\",\"type\":\"bind\",\"source\":\"/nonexistent/"
                               "src\",\"options\":[\"bind\"]}",
                               NULL);
    struct scenario s13 = {"missing-source",
                           b13,
                           json_missing,
                           0,
                           false,
                           "mount \"/nonexistent/src\" to \"/data/x\": No such file or directory",
                           NULL,
                           NULL};
    run(&s13);

    /* 14. cgroup namespace: fresh cgroup mounts */
    cleanup_free char *b14 = make_bundle("cgroupns");
    json_cgns = config_json(false,
                            "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\"},"
                            "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\"}",
                            "\"namespaces\":[{\"type\":\"cgroup\"},{\"type\":\"mount\"}]");
    struct scenario s14 = {"cgroupns", b14, json_cgns, CLONE_NEWCGROUP, false, NULL, NULL, check_cgroupns};
    run(&s14);

    /* 15. the console, from the host (console_path) and after pivot */
    cleanup_free char *b15 = make_bundle("console");
    cleanup_free char *json_console = config_json(false, DEFAULT_MOUNTS, NULL);
    struct scenario s15 = {"console", b15, json_console, 0, false, NULL, NULL, check_console, NULL, true};
    run(&s15);

    /* 16. a masked path that is a procfs symlink (the kernel's, not the image's) */
    cleanup_free char *b16 = make_bundle("kernellink");
    cleanup_free char *json_klink = config_json(false, DEFAULT_MOUNTS, "\"maskedPaths\":[\"/proc/mounts\"]");
    struct scenario s16 = {"masked-kernel-link", b16, json_klink, 0, false, NULL, NULL, check_kernel_link};
    run(&s16);

    /* 17. the configs podman, containerd, runc and crun really write */
    static const char *const corpus[] = {"podman-run-default.json",
                                         "podman-run-limits.json",
                                         "podman-run-privileged.json",
                                         "containerd-ctr-run-default.json",
                                         "containerd-ctr-run-limits.json",
                                         "containerd-ctr-run-privileged.json",
                                         "runc-spec.json",
                                         "crun-spec.json"};
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        cleanup_free char *name = xasprintf("corpus-%zu", i);
        cleanup_free char *bc = make_bundle(name);
        struct scenario sc = {corpus[i], bc,    NULL,     CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS,
                              false,     NULL,  NULL,     check_corpus,
                              NULL,      false, corpus[i]};
        run(&sc);
    }

    /* 18. the cgroup manager's list of hierarchies, passed in */
    struct statfs cgfs;
    if (statfs("/sys/fs/cgroup/memory", &cgfs) == 0 && cgfs.f_type == CGROUP_SUPER_MAGIC) {
        cleanup_free char *b18 = make_bundle("given-cgroups");
        cleanup_free char *json_cg =
            config_json(false,
                        "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\"},"
                        "{\"destination\":\"/sys/fs/"
                        "cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"ro\"]}",
                        NULL);
        struct cgroup_mount_entry given[] = {
            {.name = "memory", .fstype = "cgroup", .options = "memory", .host_dir = "/sys/fs/cgroup/memory"}};
        struct scenario s18 = {"given-cgroups",     b18,  json_cg, 0,    false, NULL, NULL,
                               check_given_cgroups, NULL, false,   NULL, given, 1};
        run(&s18);
    }

    /* 19. no mount namespace in the config: the mount table is not touched */
    cleanup_free char *b19 = make_bundle("nomntns");
    cleanup_free char *json_nons = config_json(false, DEFAULT_MOUNTS, "\"namespaces\":[{\"type\":\"pid\"}]");
    struct scenario s19 = {"no-mount-namespace", b19, json_nons, 0, false, "no mount namespace", NULL, NULL};
    run(&s19);

    test_symlink_race();

    fs_remove_tree(tmpdir, NULL);
    return unit_finish(&c);
}
