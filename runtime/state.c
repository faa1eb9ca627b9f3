#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "json.h"
#include "state.h"
#include "strbuf.h"
#include "xalloc.h"

static const char *const status_names[] = {"creating", "created", "running", "paused", "stopped"};

const char *container_status_name(enum container_status s)
{
    return status_names[s];
}

void container_state_free(struct container_state *s)
{
    if (!s)
        return;
    free(s->id);
    free(s->oci_version);
    free(s->bundle);
    free(s->rootfs);
    free(s->created);
    free(s->owner);
    free(s->cgroup);
    if (s->doc)
        yajl_tree_free(s->doc);
    free(s);
}

void container_state_freep(struct container_state **s)
{
    container_state_free(*s);
    *s = NULL;
}

static int state_lock(int fd, bool exclusive, const char *id, struct keel_error **err)
{
    while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
        if (errno != EINTR)
            return error_set(err, errno, "locking the state of container \"%s\"", id);
    return 0;
}

int state_dir_create(const char *root, const char *id, struct keel_error **err)
{
    if (mkdir(root, 0711) < 0 && errno != EEXIST && fs_mkdir_p(root, 0711, err) < 0)
        return error_prefix(err, "creating the state root");
    cleanup_close int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return error_set(err, errno, "opening the state root `%s`", root);
    if (mkdirat(rootfd, id, 0700) < 0) {
        if (errno == EEXIST)
            return error_set(err, 0, "container with id \"%s\" already exists", id);
        return error_set(err, errno, "creating the state directory `%s/%s`", root, id);
    }
    int fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return error_set(err, errno, "opening the state directory `%s/%s`", root, id);
    if (state_lock(fd, true, id, err) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int state_dir_open(const char *root, const char *id, bool exclusive, struct keel_error **err)
{
    cleanup_free char *path = xasprintf("%s/%s", root, id);
    cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return error_set(err, 0, "container \"%s\" does not exist", id);
        return error_set(err, errno, "opening the state directory `%s`", path);
    }
    if (state_lock(fd, exclusive, id, err) < 0)
        return -1;
    /* A delete that won the race removed the directory while we waited. */
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_nlink == 0)
        return error_set(err, 0, "container \"%s\" does not exist", id);
    return steal_fd(&fd);
}

int state_dir_remove(const char *root, const char *id, struct keel_error **err)
{
    cleanup_close int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return error_set(err, errno, "opening the state root `%s`", root);
    return fs_remove_tree_at(rootfd, id, err);
}

char *state_now_rfc3339(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* Civil date from days since 1970-01-01 (proleptic Gregorian), by hand:
     * glibc's gmtime_r reads the time zone file, a cost on every create. */
    long long days = ts.tv_sec / 86400, sod = ts.tv_sec % 86400;
    long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    long long d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
    return xasprintf("%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%09ldZ", y, m, d, sod / 3600, sod / 60 % 60,
                     sod % 60, ts.tv_nsec);
}

int state_write(int dirfd, const struct container_state *s, struct keel_error **err)
{
    yajl_gen g = json_gen_new(false);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "id", s->id);
    json_gen_kv_string(g, "ociVersion", s->oci_version);
    json_gen_kv_int(g, "pid", s->pid);
    json_gen_kv_int(g, "pidStart", (long long)s->pid_start);
    json_gen_kv_string(g, "bundle", s->bundle);
    json_gen_kv_string(g, "rootfs", s->rootfs);
    json_gen_kv_string(g, "created", s->created);
    json_gen_kv_string(g, "owner", s->owner ? s->owner : "");
    if (s->cgroup)
        json_gen_kv_string(g, "cgroup", s->cgroup);
    json_gen_kv_bool(g, "pidNamespace", s->pid_ns);
    json_gen_kv_bool(g, "systemdCgroup", s->systemd_cgroup);
    if (s->annotations) {
        json_gen_key(g, "annotations");
        json_gen_value(g, s->annotations);
    }
    if (s->hooks) {
        json_gen_key(g, "hooks");
        json_gen_value(g, s->hooks);
    }
    yajl_gen_map_close(g);
    size_t len;
    cleanup_free char *text = json_gen_dup(g, &len);
    yajl_gen_free(g);
    /* The state root is a tmpfs in practice (/run): temp + rename gives
     * readers all or nothing; fsync would buy nothing there, nor anywhere
     * (a container's state means nothing after the machine went down). */
    int fd = openat(dirfd, STATE_FILE ".tmp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        /* left by a killed keel, and maybe another name of recovery.json
         * (see below): never write through it */
        if (unlinkat(dirfd, STATE_FILE ".tmp", 0) < 0)
            return error_set(err, errno, "removing the stale `%s.tmp`", STATE_FILE);
        fd = openat(dirfd, STATE_FILE ".tmp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd < 0)
        return error_set(err, errno, "creating `%s.tmp`", STATE_FILE);
    int r = fd_write_all(fd, text, len);
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r < 0)
        return error_set(err, -r, "writing `%s.tmp`", STATE_FILE);
    /* Replacing state.json: exchange the names, then drop the old one.
     * Just as atomic for readers, but a rename over an existing file makes
     * ext4 allocate and write back the new file's blocks at once
     * (auto_da_alloc), which the unlink at delete then frees again: about
     * 0.3 ms of a `run` on an ext4 state root. */
    if (renameat2(dirfd, STATE_FILE ".tmp", dirfd, STATE_FILE, RENAME_EXCHANGE) == 0) {
        if (unlinkat(dirfd, STATE_FILE ".tmp", 0) < 0)
            return error_set(err, errno, "removing the previous `%s`", STATE_FILE);
        return 0;
    }
    /* ENOENT: the first write; EINVAL, ENOSYS: no exchange here */
    if ((errno != ENOENT && errno != EINVAL && errno != ENOSYS) ||
        renameat(dirfd, STATE_FILE ".tmp", dirfd, STATE_FILE) < 0)
        return error_set(err, errno, "renaming `%s.tmp` to `%s`", STATE_FILE, STATE_FILE);
    return 0;
}

static char *state_dup_string(yajl_val doc, const char *key)
{
    yajl_val v = json_object_get(doc, key);
    return YAJL_IS_STRING(v) ? xstrdup(YAJL_GET_STRING(v)) : NULL;
}

int state_keep_recovery(int dirfd, struct keel_error **err)
{
    if (linkat(dirfd, STATE_FILE, dirfd, STATE_RECOVERY_FILE, 0) < 0 && errno != EEXIST)
        return error_set(err, errno, "linking `%s` to `%s`", STATE_FILE, STATE_RECOVERY_FILE);
    return 0;
}

int state_read(int dirfd, const char *id, struct container_state **out, struct keel_error **err)
{
    return state_read_file(dirfd, id, STATE_FILE, out, err);
}

int state_read_file(int dirfd, const char *id, const char *file, struct container_state **out,
                    struct keel_error **err)
{
    cleanup_free char *text = NULL;
    size_t len;
    /* err may be NULL (list skips what it cannot read): work on a local error. */
    cleanup_error struct keel_error *read_err = NULL;
    if (file_read_whole_at(dirfd, file, 1 << 22, &text, &len, &read_err) < 0) {
        if (read_err->errnum == ENOENT)
            return error_set(err, 0,
                             "container \"%s\" does not exist (it is still being created or its "
                             "state was lost)",
                             id);
        if (err)
            *err = steal_ptr(&read_err);
        return -1;
    }
    yajl_val doc;
    if (json_parse(text, len, file, &doc, err) < 0)
        return error_prefix(err, "container \"%s\"", id);
    struct container_state *s = xzalloc(sizeof *s);
    s->doc = doc;
    s->id = state_dup_string(doc, "id");
    s->oci_version = state_dup_string(doc, "ociVersion");
    s->bundle = state_dup_string(doc, "bundle");
    s->rootfs = state_dup_string(doc, "rootfs");
    s->created = state_dup_string(doc, "created");
    s->owner = state_dup_string(doc, "owner");
    s->cgroup = state_dup_string(doc, "cgroup");
    yajl_val v = json_object_get(doc, "pid");
    s->pid = YAJL_IS_INTEGER(v) ? (pid_t)YAJL_GET_INTEGER(v) : 0;
    v = json_object_get(doc, "pidStart");
    s->pid_start = YAJL_IS_INTEGER(v) ? (unsigned long long)YAJL_GET_INTEGER(v) : 0;
    s->pid_ns = YAJL_IS_TRUE(json_object_get(doc, "pidNamespace"));
    s->systemd_cgroup = YAJL_IS_TRUE(json_object_get(doc, "systemdCgroup"));
    s->annotations = json_object_get(doc, "annotations");
    s->hooks = json_object_get(doc, "hooks");
    if (!s->id || !s->bundle || s->pid <= 0) {
        container_state_free(s);
        return error_set(err, 0, "container \"%s\": %s is missing id, bundle or pid", id, file);
    }
    if (!s->oci_version)
        s->oci_version = xstrdup("1.2.0");
    if (!s->owner)
        s->owner = xstrdup("");
    /* A damaged state.json: the writers and `keel state` print these. */
    if (!s->rootfs)
        s->rootfs = xstrdup("");
    if (!s->created)
        s->created = xstrdup("");
    *out = s;
    return 0;
}

int proc_stat_read(pid_t pid, unsigned long long *start_time, char *state)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) {
        errno = ESRCH;
        return -1;
    }
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ') {
        errno = EINVAL;
        return -1;
    }
    p += 2;
    if (state)
        *state = *p;
    /* p is field 3 (state); the start time is field 22. */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p) {
            errno = EINVAL;
            return -1;
        }
        p++;
    }
    if (start_time)
        *start_time = strtoull(p, NULL, 10);
    return 0;
}

bool state_process_alive(const struct container_state *s)
{
    unsigned long long start;
    char st;
    if (proc_stat_read(s->pid, &start, &st) < 0)
        return false;
    return start == s->pid_start && st != 'Z' && st != 'X';
}

enum container_status state_status(int dirfd, const struct container_state *s)
{
    if (!state_process_alive(s))
        return CONTAINER_STOPPED;
    struct stat st;
    if (fstatat(dirfd, STATE_FIFO, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return CONTAINER_CREATED;
    return CONTAINER_RUNNING;
}

char *state_oci_json(const struct container_state *s, enum container_status status, bool extras, bool pretty)
{
    yajl_gen g = json_gen_new(pretty);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "ociVersion", s->oci_version);
    json_gen_kv_string(g, "id", s->id);
    json_gen_kv_string(g, "status", container_status_name(status));
    /* The spec: pid is required when created or running; runc prints 0 once stopped. */
    json_gen_kv_int(g, "pid", status == CONTAINER_STOPPED ? 0 : s->pid);
    json_gen_kv_string(g, "bundle", s->bundle);
    if (extras) {
        json_gen_kv_string(g, "rootfs", s->rootfs);
        json_gen_kv_string(g, "created", s->created);
        json_gen_kv_string(g, "owner", s->owner ? s->owner : "");
    }
    json_gen_key(g, "annotations");
    if (s->annotations)
        json_gen_value(g, s->annotations);
    else {
        yajl_gen_map_open(g);
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    char *text = json_gen_dup(g, NULL);
    yajl_gen_free(g);
    return text;
}
