/* The mount plan is pure data built from the config: binds vs filesystems,
 * sources joined to the bundle, destinations cleaned, /proc guarded, /dev
 * decided, root propagation chosen, devices merged, sysctl keys checked.
 * No root needed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "cleanup.h"
#include "devices.h"
#include "error.h"
#include "mount_plan.h"
#include "spec.h"
#include "sysctl.h"
#include "unit.h"
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

static struct mount_plan *plan_of(const char *mounts, const char *linux_extra, struct keel_error **err)
{
    cleanup_spec_config struct spec_config *cfg = config(mounts, linux_extra);
    if (!cfg)
        return NULL;
    struct mount_plan *plan = NULL;
    if (mount_plan_build(cfg, "/b", &plan, err) < 0)
        return NULL;
    return plan;
}

static void test_clean_path(void)
{
    static const char *cases[][2] = {
        {"/", "/"},         {"", "/"},         {"/dev/", "/dev"},        {"//dev//pts", "/dev/pts"},
        {"/a/./b", "/a/b"}, {"/a/../b", "/b"}, {"/../../x", "/x"},       {"rel/dir", "/rel/dir"},
        {"/a/b/..", "/a"},  {"/..", "/"},      {"/a/.../b", "/a/.../b"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cleanup_free char *got = mount_clean_path(cases[i][0]);
        CHECK_STREQ(&c, got, cases[i][1]);
    }
    CHECK(&c, mount_path_is_under("/proc/sys", "/proc"));
    CHECK(&c, mount_path_is_under("/proc", "/proc"));
    CHECK(&c, !mount_path_is_under("/procfoo", "/proc"));
    CHECK(&c, mount_path_is_under("/x", "/"));
}

static void test_default_runc_mounts(void)
{
    cleanup_error struct keel_error *err = NULL;
    cleanup_mount_plan struct mount_plan *p = plan_of(
        "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
        "{\"destination\":\"/"
        "dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"strictatime\","
        "\"mode=755\",\"size=65536k\"]},"
        "{\"destination\":\"/dev/"
        "pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":[\"nosuid\",\"noexec\","
        "\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
        "{\"destination\":\"/"
        "sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\","
        "\"nodev\",\"ro\"]},"
        "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"ro\"]}",
        NULL, &err);
    CHECK(&c, p != NULL);
    if (!p) {
        fprintf(stderr, "%s\n", error_msg(err));
        return;
    }
    CHECK(&c, p->n_ops == 5);
    CHECK(&c, p->setup_dev);
    CHECK(&c, p->root_propagation == (MS_SLAVE | MS_REC));
    CHECK(&c, p->final_propagation == 0);
    CHECK(&c, !p->make_parent_private);
    CHECK(&c, p->ops[0].kind == MOUNT_OP_FS && p->ops[0].real_dir_only);
    CHECK_STREQ(&c, p->ops[0].fstype, "proc");
    CHECK_STREQ(&c, p->ops[0].destination, "/proc");
    CHECK(&c, p->ops[0].flags == 0 && p->ops[0].opts.data == NULL);
    CHECK(&c, p->ops[1].flags == (MS_NOSUID | MS_STRICTATIME));
    CHECK_STREQ(&c, p->ops[1].opts.data, "mode=755,size=65536k");
    CHECK(&c, !p->ops[1].real_dir_only);
    CHECK_STREQ(&c, p->ops[2].opts.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    CHECK(&c, p->ops[3].real_dir_only && p->ops[3].flags == (MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY));
    CHECK(&c, p->ops[4].kind == MOUNT_OP_CGROUP && p->ops[4].flags == MS_RDONLY);
}

static void test_binds(void)
{
    cleanup_error struct keel_error *err = NULL;
    cleanup_mount_plan struct mount_plan *p = plan_of(
        "{\"destination\":\"/data/\",\"type\":\"bind\",\"source\":\"/srv/data\",\"options\":[\"ro\"]},"
        "{\"destination\":\"/etc/hosts\",\"source\":\"hosts\",\"options\":[\"rbind\",\"rprivate\"]},"
        "{\"destination\":\"/x\",\"type\":\"none\",\"source\":\"/a\",\"options\":[\"bind\",\"rro\"]},"
        "{\"destination\":\"/dev\",\"type\":\"bind\",\"source\":\"/dev\",\"options\":[\"rbind\"]},"
        "{\"destination\":\"/x\",\"options\":[\"remount\",\"bind\",\"ro\"]}",
        "\"rootfsPropagation\":\"rshared\"", &err);
    CHECK(&c, p != NULL);
    if (!p) {
        fprintf(stderr, "%s\n", error_msg(err));
        return;
    }
    CHECK(&c, p->n_ops == 5);
    CHECK(&c, p->ops[0].kind == MOUNT_OP_BIND && !p->ops[0].opts.recursive);
    CHECK_STREQ(&c, p->ops[0].destination, "/data");
    CHECK_STREQ(&c, p->ops[0].source, "/srv/data");
    CHECK(&c, p->ops[0].flags == MS_RDONLY);
    CHECK(&c, p->ops[1].kind == MOUNT_OP_BIND && p->ops[1].opts.recursive);
    CHECK_STREQ(&c, p->ops[1].source, "/b/hosts"); /* relative sources are in the bundle */
    CHECK(&c, p->ops[1].opts.n_propagation == 1);
    CHECK(&c, p->ops[2].kind == MOUNT_OP_BIND && p->ops[2].opts.rec_set == MOUNT_ATTR_RDONLY);
    CHECK(&c, !p->setup_dev); /* /dev from the host: no nodes, no links */
    CHECK(&c, p->ops[4].kind == MOUNT_OP_REMOUNT);
    CHECK(&c, p->root_propagation == (MS_SHARED | MS_REC));
    CHECK(&c, p->final_propagation == (MS_SHARED | MS_REC));
    CHECK(&c, p->make_parent_private);
}

static void test_unbindable_root(void)
{
    cleanup_error struct keel_error *err = NULL;
    cleanup_mount_plan struct mount_plan *p = plan_of("", "\"rootfsPropagation\":\"runbindable\"", &err);
    CHECK(&c, p != NULL);
    if (!p)
        return;
    CHECK(&c, p->root_propagation == (MS_PRIVATE | MS_REC));
    CHECK(&c, p->final_propagation == (MS_UNBINDABLE | MS_REC));
    CHECK(&c, !p->make_parent_private);
}

static void expect_error(const char *mounts, const char *linux_extra, const char *needle)
{
    cleanup_error struct keel_error *err = NULL;
    cleanup_mount_plan struct mount_plan *p = plan_of(mounts, linux_extra, &err);
    CHECK(&c, p == NULL);
    if (!err || !strstr(err->msg, needle))
        fprintf(stderr, "expected an error with \"%s\", got: %s\n", needle, err ? err->msg : "(none)");
    CHECK(&c, err && strstr(err->msg, needle) != NULL);
}

static void test_refused(void)
{
    expect_error("{\"destination\":\"/proc\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}", NULL,
                 "only a procfs may be mounted on /proc");
    expect_error("{\"destination\":\"/proc/\",\"type\":\"sysfs\",\"source\":\"sysfs\"}", NULL,
                 "mounts[0] (/proc/)");
    expect_error("{\"destination\":\"/\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}", NULL,
                 "root of the container");
    expect_error("{\"destination\":\"/x\",\"source\":\"/y\"}", NULL, "no type and no bind option");
    expect_error("{\"destination\":\"/x\",\"type\":\"bind\"}", NULL, "needs a source");
    expect_error("{\"destination\":\"/x\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"idmap\"]}",
                 NULL, "only supported for bind mounts");
    expect_error("{\"destination\":\"/x\",\"type\":\"proc\",\"source\":\"proc\",\"options\":[\"tmpcopyup\"]}",
                 NULL, "tmpcopyup applies only to tmpfs");
    expect_error("{\"destination\":\"/x\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
                 "\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}],"
                 "\"gidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}]}",
                 NULL, "idmapped mounts");

    /* Below /proc: procfs itself, a bind (checked at mount time to come
     * from procfs) and the lxcfs-style files are fine. */
    cleanup_error struct keel_error *err = NULL;
    cleanup_mount_plan struct mount_plan *p = plan_of(
        "{\"destination\":\"/proc/cpuinfo\",\"type\":\"bind\",\"source\":\"/var/lib/lxcfs/proc/cpuinfo\"},"
        "{\"destination\":\"/proc/sys\",\"type\":\"bind\",\"source\":\"/proc/sys\"},"
        "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}",
        NULL, &err);
    CHECK(&c, p != NULL);
    if (p) {
        CHECK(&c, !p->ops[0].bind_proc_only);
        CHECK(&c, p->ops[1].bind_proc_only);
    }
}

static void test_devices(void)
{
    cleanup_spec_config struct spec_config *cfg =
        config("", "\"devices\":[{\"path\":\"/dev/fuse\",\"type\":\"c\",\"major\":10,\"minor\":229,"
                   "\"fileMode\":438,\"uid\":1000,\"gid\":1000},"
                   "{\"path\":\"/dev/null\",\"type\":\"c\",\"major\":1,\"minor\":3,\"fileMode\":384},"
                   "{\"path\":\"/dev/fifo\",\"type\":\"p\"},"
                   "{\"path\":\"/dev/ub\",\"type\":\"u\",\"major\":4,\"minor\":1}]");
    CHECK(&c, cfg != NULL);
    if (!cfg)
        return;
    struct dev_node *v = NULL;
    size_t n = 0;
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, devices_plan(cfg, &v, &n, &err) == 0);
    CHECK(&c, n == 4 + 5); /* null is named by the config: not added twice */
    CHECK_STREQ(&c, v[0].path, "/dev/fuse");
    CHECK(&c, v[0].major == 10 && v[0].minor == 229 && v[0].mode == 0666 && v[0].uid == 1000);
    CHECK(&c, v[1].mode == 0600); /* the config's /dev/null wins */
    CHECK(&c, v[2].type == 'p');
    CHECK(&c, v[3].type == 'c');
    int nulls = 0;
    bool tty = false;
    for (size_t i = 0; i < n; i++) {
        nulls += strcmp(v[i].path, "/dev/null") == 0;
        tty |= strcmp(v[i].path, "/dev/tty") == 0 && v[i].major == 5 && v[i].minor == 0;
    }
    CHECK(&c, nulls == 1 && tty);
    devices_plan_free(v, n);
}

static void test_sysctl(void)
{
    cleanup_free char *a = sysctl_key_path("net.ipv4.ip_forward");
    CHECK_STREQ(&c, a, "net/ipv4/ip_forward");
    cleanup_free char *b = sysctl_key_path("net/ipv4/conf/eth0.1/forwarding");
    CHECK_STREQ(&c, b, "net/ipv4/conf/eth0.1/forwarding");
    CHECK(&c, sysctl_key_path("net..x") == NULL);
    CHECK(&c, sysctl_key_path("net/../../x") == NULL);
    CHECK(&c, sysctl_key_path("/etc/x") == NULL);
    CHECK(&c, sysctl_key_path("") == NULL);

    static const struct {
        const char *ns;
        const char *key;
        bool ok;
    } cases[] = {
        {"{\"type\":\"network\"}", "net.ipv4.ip_forward", true},
        {"{\"type\":\"ipc\"}", "net.ipv4.ip_forward", false},
        {"{\"type\":\"ipc\"}", "kernel.shmmax", true},
        {"{\"type\":\"ipc\"}", "fs.mqueue.msg_max", true},
        {"{\"type\":\"network\"}", "kernel.shmmax", false},
        {"{\"type\":\"uts\"}", "kernel.hostname", true},
        {"{\"type\":\"uts\"},{\"type\":\"ipc\"},{\"type\":\"network\"}", "kernel.core_pattern", false},
        {"{\"type\":\"network\"}", "vm.overcommit_memory", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cleanup_free char *lx =
            xasprintf("\"namespaces\":[%s],\"sysctl\":{\"%s\":\"1\"}", cases[i].ns, cases[i].key);
        cleanup_spec_config struct spec_config *cfg = config("", lx);
        CHECK(&c, cfg != NULL);
        if (!cfg)
            continue;
        cleanup_error struct keel_error *err = NULL;
        int rc = sysctl_validate(cfg, &err);
        if ((rc == 0) != cases[i].ok)
            fprintf(stderr, "sysctl %s with %s: %s\n", cases[i].key, cases[i].ns, error_msg(err));
        CHECK(&c, (rc == 0) == cases[i].ok);
        if (rc < 0)
            CHECK(&c, strstr(err->msg, cases[i].key) != NULL);
    }
}

int main(void)
{
    test_clean_path();
    test_default_runc_mounts();
    test_binds();
    test_refused();
    test_unbindable_root();
    test_devices();
    test_sysctl();
    return unit_finish(&c);
}
