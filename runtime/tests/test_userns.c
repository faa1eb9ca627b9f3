/* userns.c and idmap.c on the real kernel: which maps need the setuid
 * helpers, cloning inside a joined user namespace (the new process is still
 * our child and in that namespace), idmapped trees showing host files as
 * mapped, and the errors naming the mount.  Root only (77 otherwise). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "idmap.h"
#include "spec.h"
#include "unit.h"
#include "userns.h"
#include "xalloc.h"

static struct unit_counts c;

static struct spec_config *config(const char *mounts, const char *linux_extra)
{
    cleanup_free char *json = xasprintf("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"},"
                                        "\"mounts\":[%s],\"linux\":{%s}}",
                                        mounts, linux_extra ? linux_extra : "");
    struct spec_config *cfg = NULL;
    cleanup_error struct keel_error *err = NULL;
    if (spec_parse_config(json, strlen(json), "config.json", &cfg, &err) < 0) {
        fprintf(stderr, "parse: %s\n%s\n", error_msg(err), json);
        return NULL;
    }
    return cfg;
}

static void test_own_id(void)
{
    struct spec_id_mapping one = {0, 1000, 1}, wide = {0, 1000, 2}, two[] = {{0, 1000, 1}, {1, 200000, 10}};
    CHECK(&c, userns_map_is_own_id(&one, 1, 1000));
    CHECK(&c, !userns_map_is_own_id(&one, 1, 1001));
    CHECK(&c, !userns_map_is_own_id(&wide, 1, 1000));
    CHECK(&c, !userns_map_is_own_id(two, 2, 1000));
}

static const char *const mapping = "\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
                                   "\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
                                   "\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"user\"}]";

static void test_idmap_wanted(void)
{
    cleanup_spec_config struct spec_config *cfg =
        config("{\"destination\":\"/a\",\"type\":\"bind\",\"source\":\"/x\",\"options\":[\"bind\"]},"
               "{\"destination\":\"/b\",\"type\":\"bind\",\"source\":\"/x\",\"options\":[\"ridmap\"]},"
               "{\"destination\":\"/c\",\"type\":\"bind\",\"source\":\"/x\","
               "\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}],"
               "\"gidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]}",
               NULL);
    CHECK(&c, cfg && cfg->n_mounts == 3);
    if (!cfg)
        return;
    CHECK(&c, !idmap_mount_wanted(&cfg->mounts[0]));
    CHECK(&c, idmap_mount_wanted(&cfg->mounts[1]));
    CHECK(&c, idmap_mount_wanted(&cfg->mounts[2]));
    struct idmap_mounts none = {0};
    CHECK(&c, idmap_mounts_fd(NULL, 0) == -1 && idmap_mounts_fd(&none, 3) == -1);
}

static void expect_prepare_error(const char *mounts, const char *linux_extra, const char *needle)
{
    cleanup_spec_config struct spec_config *cfg = config(mounts, linux_extra);
    CHECK(&c, cfg != NULL);
    if (!cfg)
        return;
    cleanup_error struct keel_error *err = NULL;
    cleanup_idmap_mounts struct idmap_mounts m = {0};
    CHECK(&c, idmap_mounts_prepare(cfg, "/b", &m, &err) < 0);
    if (!err || !strstr(err->msg, needle))
        fprintf(stderr, "expected an error with \"%s\", got: %s\n", needle, err ? err->msg : "(none)");
    CHECK(&c, err && strstr(err->msg, needle));
    CHECK(&c, m.fds == NULL);
}

static void test_idmap_tree(const char *dir)
{
    cleanup_free char *file = xasprintf("%s/f", dir);
    cleanup_close int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    CHECK(&c, fd >= 0 && fchown(fd, 0, 0) == 0);
    cleanup_free char *mounts = xasprintf(
        "{\"destination\":\"/plain\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"bind\"]},"
        "{\"destination\":\"/idm\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"bind\",\"idmap\"]},"
        "{\"destination\":\"/own\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\"],"
        "\"uidMappings\":[{\"containerID\":0,\"hostID\":4242,\"size\":1}],"
        "\"gidMappings\":[{\"containerID\":0,\"hostID\":4343,\"size\":1}]}",
        dir, dir, dir);
    cleanup_spec_config struct spec_config *cfg = config(mounts, mapping);
    CHECK(&c, cfg != NULL);
    if (!cfg)
        return;
    cleanup_error struct keel_error *err = NULL;
    cleanup_idmap_mounts struct idmap_mounts m = {0};
    int r = idmap_mounts_prepare(cfg, "/b", &m, &err);
    if (r < 0)
        fprintf(stderr, "idmap_mounts_prepare: %s\n", error_msg(err));
    CHECK(&c, r == 0 && m.n == 3);
    CHECK(&c, idmap_mounts_fd(&m, 0) == -1);
    struct stat st;
    /* seen from here, on-disk 0 is the mapping's host id */
    CHECK(&c,
          fstatat(idmap_mounts_fd(&m, 1), "f", &st, 0) == 0 && st.st_uid == 100000 && st.st_gid == 100000);
    CHECK(&c, fstatat(idmap_mounts_fd(&m, 2), "f", &st, 0) == 0 && st.st_uid == 4242 && st.st_gid == 4343);
    unlink(file);
}

static pid_t clone_uts(const void *arg, unsigned long extra, struct keel_error **err)
{
    (void)arg;
    struct {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    } a = {.flags = CLONE_NEWUTS | extra, .exit_signal = extra & CLONE_PARENT ? 0 : SIGCHLD};
    long pid = syscall(SYS_clone3, &a, sizeof a);
    if (pid < 0)
        return error_set(err, errno, "clone3");
    return (pid_t)pid;
}

static void test_clone_inside(void)
{
    /* a user namespace to join, held by a child */
    int p[2];
    CHECK(&c, pipe2(p, O_CLOEXEC) == 0);
    pid_t holder =
        (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, NULL);
    if (holder == 0) {
        char ch;
        close(p[1]);
        (void)read(p[0], &ch, 1);
        _exit(0);
    }
    close(p[0]);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/uid_map", (int)holder);
    CHECK(&c, file_write_string(path, "0 100000 1000\n", NULL) == 0);
    snprintf(path, sizeof path, "/proc/%d/gid_map", (int)holder);
    CHECK(&c, file_write_string(path, "0 100000 1000\n", NULL) == 0);
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)holder);
    cleanup_close int userns = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(&c, userns >= 0);
    CHECK(&c, !userns_is_current(userns));

    cleanup_error struct keel_error *err = NULL;
    pid_t pid = userns_clone_inside(userns, clone_uts, NULL, &err);
    if (pid == 0) /* in the joined user namespace, and able to change its own uts namespace */
        _exit(userns_is_current(userns) && sethostname("x", 1) == 0 ? 0 : 3);
    CHECK(&c, pid > 0);
    int status = -1;
    CHECK(&c, pid > 0 && waitpid(pid, &status, 0) == pid); /* our child, thanks to CLONE_PARENT */
    CHECK(&c, WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* a bad fd: the helper's error comes back */
    cleanup_error struct keel_error *err2 = NULL;
    cleanup_close int notns = open("/", O_RDONLY | O_CLOEXEC);
    pid = userns_clone_inside(notns, clone_uts, NULL, &err2);
    if (pid == 0)
        _exit(0);
    CHECK(&c, pid < 0 && err2 && strstr(err2->msg, "joining the user namespace"));
    close(p[1]);
    waitpid(holder, NULL, 0);
}

int main(void)
{
    test_own_id();
    test_idmap_wanted();
    if (geteuid() != 0) {
        printf("not root: skipping the kernel tests\n");
        return c.failed ? 1 : 77;
    }
    char tmpl[] = "/tmp/keel-test-idmap-XXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK(&c, dir != NULL);
    if (dir) {
        test_idmap_tree(dir);
        cleanup_free char *mounts = xasprintf(
            "{\"destination\":\"/t\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"idmap\"]}");
        expect_prepare_error(mounts, mapping, "mounts[0] (/t): idmapped mounts are only supported for bind");
        cleanup_free char *nomap = xasprintf(
            "{\"destination\":\"/d\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"idmap\"]}", dir);
        expect_prepare_error(nomap, NULL, "mounts[0] (/d): idmap needs uidMappings");
        expect_prepare_error("{\"destination\":\"/k\",\"type\":\"bind\",\"source\":\"/sys/kernel\","
                             "\"options\":[\"bind\",\"idmap\"]}",
                             mapping, "mounts[0] (/k): the filesystem of `/sys/kernel` does not support");
        expect_prepare_error("{\"destination\":\"/m\",\"type\":\"bind\",\"source\":\"/no/such\","
                             "\"options\":[\"bind\",\"idmap\"]}",
                             mapping, "mounts[0] (/m): opening the source `/no/such`");
        rmdir(dir);
    }
    test_clone_inside();
    return unit_finish(&c);
}
