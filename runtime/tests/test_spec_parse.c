/* The parser reads every runtime-spec 1.2 field into the model: the real
 * configs of the seed corpus and a config that sets every field. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "spec.h"
#include "unit.h"
#include "xalloc.h"

static struct unit_counts c;

static struct spec_config *load(const char *file)
{
    cleanup_free char *path = xasprintf("%s/fuzz/corpus/config/%s", KEEL_SRCDIR, file);
    cleanup_free char *text = NULL;
    size_t len = 0;
    cleanup_error struct keel_error *err = NULL;
    struct spec_config *cfg = NULL;
    if (file_read_whole(path, 1 << 24, &text, &len, &err) < 0 ||
        spec_parse_config(text, len, "config.json", &cfg, &err) < 0) {
        fprintf(stderr, "%s: %s\n", file, error_msg(err));
        return NULL;
    }
    return cfg;
}

/* Every config of the corpus parses; all are valid but crun's rootless one
 * (user namespace without mappings: crun invents them, runc refuses) and
 * keel-unsupported.json. */
static void test_corpus(void)
{
    cleanup_free char *dir = xasprintf("%s/fuzz/corpus/config", KEEL_SRCDIR);
    cleanup_dir DIR *d = opendir(dir);
    CHECK(&c, d != NULL);
    if (d == NULL)
        return;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strstr(de->d_name, ".json") == NULL)
            continue;
        cleanup_spec_config struct spec_config *cfg = load(de->d_name);
        CHECK(&c, cfg != NULL);
        if (cfg == NULL)
            continue;
        n++;
        cleanup_error struct keel_error *err = NULL;
        int r = spec_validate_config(cfg, &err);
        if (strcmp(de->d_name, "crun-spec-rootless.json") == 0) {
            CHECK(&c, r < 0);
            CHECK(&c, err && strstr(err->msg, "linux.uidMappings") != NULL);
        } else if (strcmp(de->d_name, "keel-unsupported.json") == 0) {
            CHECK(&c, r < 0);
        } else {
            if (r < 0)
                fprintf(stderr, "%s: %s\n", de->d_name, error_msg(err));
            CHECK(&c, r == 0);
        }
    }
    CHECK(&c, n >= 5);
}

static void test_runc_spec(void)
{
    cleanup_spec_config struct spec_config *cfg = load("runc-spec.json");
    CHECK(&c, cfg != NULL);
    if (cfg == NULL)
        return;
    CHECK_STREQ(&c, cfg->oci_version, "1.0.2-dev");
    CHECK_STREQ(&c, cfg->root.path, "rootfs");
    CHECK(&c, cfg->root.readonly);
    CHECK_STREQ(&c, cfg->hostname, "runc");
    CHECK(&c, cfg->domainname == NULL);
    CHECK(&c, cfg->n_mounts == 7);
    CHECK_STREQ(&c, cfg->mounts[2].destination, "/dev/pts");
    CHECK_STREQ(&c, cfg->mounts[2].type, "devpts");
    CHECK(&c, strv_len(cfg->mounts[2].options) == 6);
    CHECK_STREQ(&c, cfg->mounts[2].options[5], "gid=5");
    CHECK(&c, cfg->mounts[0].options == NULL);
    struct spec_process *p = cfg->process;
    CHECK(&c, p != NULL);
    CHECK(&c, p->terminal);
    CHECK(&c, p->user.uid == 0 && p->user.gid == 0 && !p->user.umask.set);
    CHECK(&c, strv_len(p->args) == 1);
    CHECK_STREQ(&c, p->cwd, "/");
    CHECK(&c, strv_len(p->env) == 2);
    CHECK(&c, p->capabilities != NULL);
    CHECK(&c, strv_len(p->capabilities->bounding) == 3);
    CHECK(&c, p->capabilities->inheritable == NULL);
    CHECK(&c, p->n_rlimits == 1);
    CHECK(&c, p->rlimits[0].resource == RLIMIT_NOFILE);
    CHECK(&c, p->rlimits[0].hard == 1024 && p->rlimits[0].soft == 1024);
    CHECK(&c, p->no_new_privileges);
    CHECK(&c, !p->oom_score_adj.set);
    CHECK(&c, !p->scheduler.set && !p->io_priority.set);
    struct spec_linux *l = cfg->linux;
    CHECK(&c, l != NULL);
    CHECK(&c, l->n_namespaces == 5);
    CHECK(&c, spec_find_namespace(l, SPEC_NS_UTS) != NULL);
    CHECK(&c, spec_find_namespace(l, SPEC_NS_USER) == NULL);
    CHECK(&c, l->resources.set && l->resources.n_devices == 1);
    CHECK(&c, !l->resources.devices[0].allow);
    CHECK_STREQ(&c, l->resources.devices[0].access, "rwm");
    CHECK(&c, l->resources.devices[0].type == 0 && !l->resources.devices[0].major.set);
    CHECK(&c, !l->resources.has_memory && !l->resources.has_cpu && !l->resources.pids_limit.set);
    CHECK(&c, strv_len(l->masked_paths) == 10);
    CHECK(&c, strv_len(l->readonly_paths) == 5);
    CHECK(&c, l->seccomp == NULL);
    CHECK(&c, cfg->tree != NULL);
}

static void test_full_process(const struct spec_process *p)
{
    CHECK(&c, p->terminal);
    CHECK(&c, p->console_size.set && p->console_size.height == 25 && p->console_size.width == 80);
    CHECK(&c, p->user.uid == 1000 && p->user.gid == 1001);
    CHECK(&c, p->user.umask.set && p->user.umask.value == 18);
    CHECK(&c, p->user.n_additional_gids == 3 && p->user.additional_gids[2] == 4294967294u);
    CHECK(&c, strv_len(p->args) == 3);
    CHECK_STREQ(&c, p->args[2], "echo hi");
    CHECK_STREQ(&c, p->cwd, "/home");
    CHECK_STREQ(&c, p->capabilities->bounding[2], "CAP_CHECKPOINT_RESTORE");
    CHECK(&c, p->capabilities->inheritable != NULL && p->capabilities->inheritable[0] == NULL);
    CHECK(&c, p->n_rlimits == 2);
    CHECK(&c, p->rlimits[1].resource == RLIMIT_CORE);
    CHECK(&c, p->rlimits[1].hard == UINT64_MAX && p->rlimits[1].soft == 0);
    CHECK_STREQ(&c, p->apparmor_profile, "keel-default");
    CHECK(&c, p->oom_score_adj.set && p->oom_score_adj.value == -500);
    CHECK(&c, p->selinux_label != NULL);
    CHECK(&c, p->scheduler.set);
    CHECK_STREQ(&c, p->scheduler.policy, "SCHED_DEADLINE");
    CHECK(&c, p->scheduler.nice.set && p->scheduler.nice.value == -5);
    CHECK(&c, p->scheduler.priority.set && p->scheduler.priority.value == 0);
    CHECK(&c, strv_len(p->scheduler.flags) == 1);
    CHECK(&c, p->scheduler.runtime.value == 10000000 && p->scheduler.deadline.value == 20000000 &&
                  p->scheduler.period.value == 30000000);
    CHECK(&c, p->io_priority.set && p->io_priority.priority == 4);
    CHECK_STREQ(&c, p->io_priority.klass, "IOPRIO_CLASS_BE");
    CHECK_STREQ(&c, p->exec_cpu_affinity.initial, "0-3,7");
    CHECK_STREQ(&c, p->exec_cpu_affinity.final, "1");
}

static void test_full_resources(const struct spec_resources *r)
{
    CHECK(&c, r->set && r->n_devices == 3);
    CHECK(&c, r->devices[1].allow && r->devices[1].type == 'c');
    CHECK(&c, r->devices[1].major.set && r->devices[1].major.value == 10);
    CHECK(&c, r->devices[2].major.set && !r->devices[2].minor.set);
    CHECK(&c, r->has_memory && r->memory.limit.value == 536870912 && r->memory.kernel.value == -1);
    CHECK(&c, r->memory.swappiness.set && r->memory.swappiness.value == 0);
    CHECK(&c, r->memory.disable_oom_killer.set && !r->memory.disable_oom_killer.value);
    CHECK(&c, r->memory.check_before_update.set && r->memory.check_before_update.value);
    CHECK(&c, r->has_cpu && r->cpu.shares.value == 1024 && r->cpu.quota.value == 1000000);
    CHECK(&c, r->cpu.burst.set && r->cpu.burst.value == 1000000);
    CHECK(&c, r->cpu.realtime_runtime.value == 950000 && r->cpu.realtime_period.value == 1000000);
    CHECK_STREQ(&c, r->cpu.cpus, "2-3");
    CHECK_STREQ(&c, r->cpu.mems, "0-7");
    CHECK(&c, r->cpu.idle.set && r->cpu.idle.value == 0);
    CHECK(&c, r->pids_limit.set && r->pids_limit.value == 32771);
    CHECK(&c, r->has_block_io && r->block_io.weight.value == 10);
    CHECK(&c, r->block_io.n_weight_devices == 2 && r->block_io.weight_devices[0].leaf_weight.value == 300);
    CHECK(&c, !r->block_io.weight_devices[1].leaf_weight.set);
    CHECK(&c, r->block_io.n_throttle_read_bps == 1 && r->block_io.throttle_read_bps[0].rate == 600);
    CHECK(&c, r->block_io.n_throttle_write_iops == 1 && r->block_io.throttle_write_iops[0].minor == 16);
    CHECK(&c, r->n_hugepage_limits == 2);
    CHECK_STREQ(&c, r->hugepage_limits[1].page_size, "64KB");
    CHECK(&c, r->net_class_id.set && r->net_class_id.value == 1048577);
    CHECK(&c, r->n_net_priorities == 2 && r->net_priorities[1].priority == 1000);
    CHECK(&c, r->n_rdma == 2);
    CHECK_STREQ(&c, r->rdma[0].device, "mlx5_1");
    CHECK(&c, r->rdma[1].hca_objects.value == 1000 && !r->rdma[1].hca_handles.set);
    CHECK(&c, r->unified.n == 2);
    CHECK_STREQ(&c, r->unified.items[0].key, "io.weight");
    CHECK_STREQ(&c, r->unified.items[0].value, "default 100");
}

static void test_full_linux(const struct spec_linux *l)
{
    CHECK(&c, l->n_namespaces == 8);
    const struct spec_namespace *net = spec_find_namespace(l, SPEC_NS_NETWORK);
    CHECK(&c, net && net->path && strcmp(net->path, "/var/run/netns/neta") == 0);
    CHECK(&c, spec_find_namespace(l, SPEC_NS_TIME) != NULL);
    CHECK(&c,
          l->n_uid_mappings == 1 && l->uid_mappings[0].host_id == 1000 && l->uid_mappings[0].size == 32000);
    CHECK(&c, l->time_offset_monotonic.set && l->time_offset_monotonic.secs == 172800);
    CHECK(&c, l->time_offset_boottime.set && l->time_offset_boottime.secs == -3600 &&
                  l->time_offset_boottime.nanosecs == 500);
    CHECK(&c, l->n_devices == 3);
    CHECK(&c, l->devices[0].type == 'c' && l->devices[0].major == 10 && l->devices[0].minor == 229);
    CHECK(&c, l->devices[0].file_mode.set && l->devices[0].file_mode.value == 0666);
    CHECK(&c, l->devices[2].type == 'p' && !l->devices[2].file_mode.set);
    CHECK_STREQ(&c, l->cgroups_path, "/myRuntime/myContainer");
    test_full_resources(&l->resources);
    CHECK(&c, l->sysctl.n == 3);
    CHECK_STREQ(&c, l->sysctl.items[1].key, "net.core.somaxconn");
    const struct spec_seccomp *s = l->seccomp;
    CHECK(&c, s != NULL);
    if (s) {
        CHECK_STREQ(&c, s->default_action, "SCMP_ACT_ERRNO");
        CHECK(&c, s->default_errno_ret.set && s->default_errno_ret.value == 1);
        CHECK(&c, strv_len(s->architectures) == 3 && strv_len(s->flags) == 2);
        CHECK_STREQ(&c, s->listener_path, "/run/seccomp-agent.socket");
        CHECK_STREQ(&c, s->listener_metadata, "metadata");
        CHECK(&c, s->n_syscalls == 4);
        CHECK(&c, s->syscalls[2].n_args == 2);
        CHECK(&c, s->syscalls[2].args[0].value == 4294967295u && s->syscalls[2].args[1].value_two == 8);
        CHECK_STREQ(&c, s->syscalls[2].args[1].op, "SCMP_CMP_MASKED_EQ");
        CHECK(&c, s->syscalls[3].errno_ret.set && s->syscalls[3].errno_ret.value == 38);
        CHECK(&c, !s->syscalls[0].errno_ret.set);
        CHECK(&c, s->raw != NULL && YAJL_IS_OBJECT(s->raw));
    }
    CHECK_STREQ(&c, l->rootfs_propagation, "slave");
    CHECK(&c, strv_len(l->masked_paths) == 1 && strv_len(l->readonly_paths) == 1);
    CHECK(&c, l->mount_label != NULL);
    CHECK(&c, l->personality.set);
    CHECK_STREQ(&c, l->personality.domain, "LINUX32");
}

static void test_full(void)
{
    cleanup_spec_config struct spec_config *cfg = load("keel-full-1.2.json");
    CHECK(&c, cfg != NULL);
    if (cfg == NULL)
        return;
    CHECK_STREQ(&c, cfg->oci_version, "1.2.0");
    CHECK(&c, !cfg->root.readonly);
    CHECK(&c, cfg->n_mounts == 3);
    CHECK(&c, cfg->mounts[1].n_uid_mappings == 1 && cfg->mounts[1].uid_mappings[0].host_id == 100000);
    CHECK(&c, cfg->mounts[1].n_gid_mappings == 1 && cfg->mounts[1].gid_mappings[0].size == 65536);
    CHECK(&c, cfg->mounts[2].type == NULL);
    CHECK_STREQ(&c, cfg->domainname, "example.org");
    test_full_process(cfg->process);
    CHECK(&c, cfg->hooks.prestart.n == 1 && strv_len(cfg->hooks.prestart.items[0].args) == 2);
    CHECK(&c, cfg->hooks.create_runtime.n == 1 && cfg->hooks.create_runtime.items[0].timeout.value == 5);
    CHECK(&c, !cfg->hooks.prestart.items[0].timeout.set);
    CHECK(&c, cfg->hooks.create_container.n == 1 && cfg->hooks.start_container.n == 1);
    CHECK(&c, cfg->hooks.poststart.n == 1 && cfg->hooks.poststop.n == 1);
    CHECK_STREQ(&c, cfg->hooks.poststop.items[0].path, "/usr/sbin/cleanup.sh");
    CHECK(&c, cfg->annotations.n == 2);
    CHECK_STREQ(&c, cfg->annotations.items[1].value, "value2");
    test_full_linux(cfg->linux);
}

/* Parsed faithfully, then refused by validation: keel does not implement
 * Intel RDT, NUMA memory policies or network device moves. */
static void test_unsupported(void)
{
    cleanup_spec_config struct spec_config *cfg = load("keel-unsupported.json");
    CHECK(&c, cfg != NULL);
    if (cfg == NULL)
        return;
    const struct spec_linux *l = cfg->linux;
    CHECK(&c, l->intel_rdt.set && l->intel_rdt.enable_cmt && l->intel_rdt.enable_mbm);
    CHECK_STREQ(&c, l->intel_rdt.clos_id, "guaranteed_group");
    CHECK_STREQ(&c, l->intel_rdt.mem_bw_schema, "MB:0=20;1=70");
    CHECK_STREQ(&c, l->intel_rdt.schemata, "L2:0=ff\nMB:0=50");
    CHECK(&c, l->memory_policy.set);
    CHECK_STREQ(&c, l->memory_policy.mode, "MPOL_INTERLEAVE");
    CHECK_STREQ(&c, l->memory_policy.nodes, "0-3");
    CHECK(&c, strv_len(l->memory_policy.flags) == 1);
    CHECK(&c, l->n_net_devices == 2);
    CHECK_STREQ(&c, l->net_devices[0].host_name, "eth1");
    CHECK_STREQ(&c, l->net_devices[0].name, "ctr1");
    CHECK(&c, l->net_devices[1].name == NULL);
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, spec_validate_config(cfg, &err) < 0);
    CHECK_STREQ(&c, error_msg(err),
                "config.json: linux.intelRdt: Intel RDT (resctrl) is not supported by keel");
}

/* Configs podman 4.3 and containerd 1.6 (ctr run) wrote on this machine. */
static void test_engine_configs(void)
{
    cleanup_spec_config struct spec_config *lim = load("podman-run-limits.json");
    CHECK(&c, lim != NULL);
    if (lim) {
        CHECK(&c, lim->linux->resources.memory.limit.value == 67108864);
        CHECK(&c, lim->linux->resources.pids_limit.value == 100);
        CHECK_STREQ(&c, lim->hostname, "h1");
        CHECK(&c, lim->linux->seccomp && lim->linux->seccomp->n_syscalls > 10);
        CHECK(&c, lim->linux->sysctl.n >= 1);
    }
    cleanup_spec_config struct spec_config *um = load("podman-run-uidmap.json");
    CHECK(&c, um && um->linux->n_uid_mappings == 1 && um->linux->uid_mappings[0].host_id == 100000);
    /* Podman's privileged devices carry the file type in fileMode (S_IFCHR|0644). */
    cleanup_spec_config struct spec_config *priv = load("podman-run-privileged.json");
    CHECK(&c, priv && priv->linux->n_devices > 0);
    if (priv && priv->linux->n_devices > 0) {
        CHECK(&c, priv->linux->devices[0].file_mode.set);
        CHECK(&c, priv->linux->devices[0].file_mode.value > 07777);
    }
    cleanup_spec_config struct spec_config *ctrd = load("containerd-ctr-run-limits.json");
    CHECK(&c, ctrd && ctrd->linux->resources.memory.limit.value == 67108864);
    CHECK(&c, ctrd && ctrd->root.readonly);
}

/* exec's process.json: same shape, messages relative to the document. */
static void test_process_json(void)
{
    static const char good[] = "{\"args\":[\"/bin/true\"],\"cwd\":\"/\",\"env\":[\"A=b\"],"
                               "\"user\":{\"uid\":5,\"gid\":6},\"terminal\":false,"
                               "\"capabilities\":{\"bounding\":[\"CAP_KILL\"]},"
                               "\"rlimits\":[{\"type\":\"RLIMIT_NPROC\",\"hard\":10,\"soft\":5}]}";
    struct spec_process *p = NULL;
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, spec_parse_process(good, strlen(good), "process.json", &p, &err) == 0);
    if (p) {
        CHECK(&c, p->user.uid == 5 && p->user.gid == 6);
        CHECK(&c, p->n_rlimits == 1 && p->rlimits[0].resource == RLIMIT_NPROC);
        CHECK_STREQ(&c, p->args[0], "/bin/true");
        CHECK(&c, spec_validate_process(p, "process.json", &err) == 0);
        free(p->cwd);
        p->cwd = strdup("relative");
        CHECK(&c, spec_validate_process(p, "process.json", &err) < 0);
        CHECK_STREQ(&c, error_msg(err), "process.json: cwd: \"relative\" is not an absolute path");
        spec_process_free(p);
        p = NULL;
    }
    static const char bad[] = "{\"args\":[\"x\"],\"capabilities\":{\"ambient\":[\"CAP_NOPE\"]}}";
    CHECK(&c, spec_parse_process(bad, strlen(bad), "process.json", &p, &err) < 0);
    CHECK_STREQ(&c, error_msg(err), "process.json: capabilities.ambient[0]: unknown capability \"CAP_NOPE\"");
    CHECK(&c, p == NULL);
    error_free(err);
    err = NULL;
    static const char notobj[] = "[1]";
    CHECK(&c, spec_parse_process(notobj, strlen(notobj), "process.json", &p, &err) < 0);
    CHECK_STREQ(&c, error_msg(err), "process.json: expected an object, got an array");
}

/* update --resources document. */
static void test_resources_json(void)
{
    static const char doc[] =
        "{\"memory\":{\"limit\":1048576},\"pids\":{\"limit\":-1},\"cpu\":{\"cpus\":\"0\"}}";
    struct spec_resources r = {0};
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, spec_parse_resources(doc, strlen(doc), "resources", &r, &err) == 0);
    CHECK(&c, r.has_memory && r.memory.limit.value == 1048576);
    CHECK(&c, r.pids_limit.set && r.pids_limit.value == -1);
    CHECK_STREQ(&c, r.cpu.cpus, "0");
    spec_resources_clear(&r);
    static const char bad[] = "{\"memory\":{\"limit\":\"1G\"}}";
    CHECK(&c, spec_parse_resources(bad, strlen(bad), "resources", &r, &err) < 0);
    CHECK_STREQ(&c, error_msg(err), "resources: memory.limit: expected an integer, got a string");
    spec_resources_clear(&r);
}

/* JSON null is "absent", as with Go's encoding/json that wrote most configs. */
static void test_nulls(void)
{
    static const char doc[] =
        "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"},\"mounts\":null,"
        "\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"env\":null,\"capabilities\":null},"
        "\"hostname\":null,\"linux\":{\"resources\":null,\"seccomp\":null,\"sysctl\":null}}";
    cleanup_spec_config struct spec_config *cfg = NULL;
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, spec_parse_config(doc, strlen(doc), "config.json", &cfg, &err) == 0);
    if (cfg) {
        CHECK(&c, cfg->n_mounts == 0 && cfg->hostname == NULL);
        CHECK(&c, cfg->process->env == NULL && cfg->process->capabilities == NULL);
        CHECK(&c, !cfg->linux->resources.set && cfg->linux->seccomp == NULL);
    }
}

/* spec_load_bundle reads BUNDLE/config.json; a missing file names its path. */
static void test_load_bundle(void)
{
    char dir[] = "/tmp/keel-test-spec-XXXXXX";
    CHECK(&c, mkdtemp(dir) != NULL);
    cleanup_free char *path = xasprintf("%s/config.json", dir);
    cleanup_spec_config struct spec_config *cfg = NULL;
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, spec_load_bundle(dir, &cfg, &err) < 0);
    CHECK(&c, err && strstr(err->msg, path) != NULL && err->errnum == ENOENT);
    static const char doc[] = "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"}}";
    CHECK(&c, file_write_atomic(path, doc, strlen(doc), 0644, &err) == 0);
    CHECK(&c, spec_load_bundle(dir, &cfg, &err) == 0);
    CHECK(&c, cfg && strcmp(cfg->root.path, "r") == 0);
    unlink(path);
    rmdir(dir);
}

/* Duplicate keys: the last wins, as in Go's encoding/json, so keel reads a
 * config the way the engine that wrote it does. */
static void test_duplicates(void)
{
    static const char doc[] =
        "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"first\"},\"root\":{\"path\":\"last\"},"
        "\"annotations\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\"},"
        "\"linux\":{\"sysctl\":{\"net.x\":\"1\",\"net.x\":\"2\"},"
        "\"resources\":{\"rdma\":{\"m\":{\"hcaHandles\":1},\"m\":{\"hcaHandles\":2}}}}}";
    cleanup_spec_config struct spec_config *cfg = NULL;
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, spec_parse_config(doc, strlen(doc), "config.json", &cfg, &err) == 0);
    if (cfg == NULL)
        return;
    CHECK_STREQ(&c, cfg->root.path, "last");
    CHECK(&c, cfg->annotations.n == 2);
    CHECK_STREQ(&c, cfg->annotations.items[0].key, "b");
    CHECK_STREQ(&c, cfg->annotations.items[1].key, "a");
    CHECK_STREQ(&c, cfg->annotations.items[1].value, "3");
    CHECK(&c, cfg->linux->sysctl.n == 1);
    CHECK_STREQ(&c, cfg->linux->sysctl.items[0].value, "2");
    CHECK(&c, cfg->linux->resources.n_rdma == 1 && cfg->linux->resources.rdma[0].hca_handles.value == 2);
}

static void test_names(void)
{
    CHECK(&c, spec_cap_from_name("CAP_CHOWN") == 0);
    CHECK(&c, spec_cap_from_name("CAP_CHECKPOINT_RESTORE") == 40);
    CHECK(&c, spec_cap_from_name("cap_chown") == -1);
    CHECK(&c, spec_rlimit_from_name("RLIMIT_RTTIME") == RLIMIT_RTTIME);
    CHECK_STREQ(&c, spec_rlimit_name(RLIMIT_NOFILE), "RLIMIT_NOFILE");
    CHECK(&c, spec_ns_from_name("network") == SPEC_NS_NETWORK);
    CHECK(&c, spec_ns_from_name("net") == -1);
    CHECK_STREQ(&c, spec_ns_proc_name(SPEC_NS_MOUNT), "mnt");
    CHECK_STREQ(&c, spec_ns_name(SPEC_NS_TIME), "time");
    CHECK(&c, spec_ns_clone_flag(SPEC_NS_USER) == 0x10000000);
}

int main(void)
{
    test_corpus();
    test_runc_spec();
    test_full();
    test_engine_configs();
    test_unsupported();
    test_process_json();
    test_resources_json();
    test_nulls();
    test_duplicates();
    test_load_bundle();
    test_names();
    return unit_finish(&c);
}
