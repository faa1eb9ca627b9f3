/* Bad config.json input: every message names the JSON path and the
 * problem.  Parsing errors first, then spec_validate_config's rules.  Run
 * under ASan, these also prove that a failure half-way leaks nothing. */
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "spec.h"
#include "strbuf.h"
#include "unit.h"
#include "xalloc.h"

static struct unit_counts c;

struct error_case {
    const char *body; /* members added to a minimal valid config */
    const char *want; /* the full expected message */
};

#define BASE "\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"}"

static const struct error_case parse_cases[] = {
    {"\"process\":{\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_CHOWN\",\"CAP_KILL\",3]}}",
     "config.json: process.capabilities.bounding[3]: expected a string, got a number"},
    {"\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"uts\"},{\"type\":\"pidd\"}]}",
     "config.json: linux.namespaces[2].type: unknown namespace type \"pidd\""},
    {"\"process\":{\"capabilities\":{\"effective\":[\"CAP_FLY\"]}}",
     "config.json: process.capabilities.effective[0]: unknown capability \"CAP_FLY\""},
    {"\"process\":{\"rlimits\":[{\"type\":\"RLIMIT_NOFILES\",\"hard\":1,\"soft\":1}]}",
     "config.json: process.rlimits[0].type: unknown rlimit type \"RLIMIT_NOFILES\""},
    {"\"process\":{\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1}]}",
     "config.json: process.rlimits[0].hard: missing required field"},
    {"\"process\":{\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":-1,\"soft\":1}]}",
     "config.json: process.rlimits[0].hard: -1 is negative (expected 0 to 18446744073709551615)"},
    {"\"process\":{\"user\":{\"uid\":\"root\"}}",
     "config.json: process.user.uid: expected an integer, got a string"},
    {"\"process\":{\"user\":{\"uid\":4294967296}}",
     "config.json: process.user.uid: 4294967296 is too large (at most 4294967295)"},
    {"\"process\":{\"args\":\"sh\"}", "config.json: process.args: expected an array, got a string"},
    {"\"process\":{\"terminal\":\"yes\"}", "config.json: process.terminal: expected a boolean, got a string"},
    {"\"process\":{\"oomScoreAdj\":1001}",
     "config.json: process.oomScoreAdj: 1001 is out of range (-1000 to 1000)"},
    {"\"process\":{\"scheduler\":{\"policy\":\"SCHED_FAST\"}}",
     "config.json: process.scheduler.policy: unknown scheduler policy \"SCHED_FAST\""},
    {"\"process\":{\"ioPriority\":{\"class\":\"IOPRIO_CLASS_NONE\",\"priority\":1}}",
     "config.json: process.ioPriority.class: unknown I/O priority class \"IOPRIO_CLASS_NONE\""},
    {"\"process\":5", "config.json: process: expected an object, got a number"},
    {"\"mounts\":[{\"destination\":\"/a\"},{\"type\":\"tmpfs\"}]",
     "config.json: mounts[1].destination: missing required field"},
    {"\"mounts\":[{\"destination\":\"/a\",\"options\":[\"ro\",true]}]",
     "config.json: mounts[0].options[1]: expected a string, got a boolean"},
    {"\"mounts\":[{\"destination\":\"/a\",\"uidMappings\":[{\"containerID\":0,\"hostID\":1}]}]",
     "config.json: mounts[0].uidMappings[0].size: missing required field"},
    {"\"hooks\":{\"poststop\":[{\"path\":\"/bin/x\",\"timeout\":0}]}",
     "config.json: hooks.poststop[0].timeout: must be greater than zero, got 0"},
    {"\"hooks\":{\"prestart\":[{\"args\":[]}]}",
     "config.json: hooks.prestart[0].path: missing required field"},
    {"\"annotations\":{\"a\":\"b\",\"c\":1}", "config.json: annotations.c: expected a string, got a number"},
    {"\"hostname\":[]", "config.json: hostname: expected a string, got an array"},
    {"\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":-1}]}",
     "config.json: linux.uidMappings[0].size: -1 is negative (expected 0 to 18446744073709551615)"},
    {"\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"q\"}]}",
     "config.json: linux.devices[0].type: unknown device type \"q\" (expected c, b, u or p)"},
    {"\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"c\",\"major\":1}]}",
     "config.json: linux.devices[0].minor: missing required field"},
    {"\"linux\":{\"sysctl\":{\"net.ipv4.ip_forward\":1}}",
     "config.json: linux.sysctl.net.ipv4.ip_forward: expected a string, got a number"},
    {"\"linux\":{\"rootfsPropagation\":\"sideways\"}",
     "config.json: linux.rootfsPropagation: unknown rootfs propagation \"sideways\""},
    {"\"linux\":{\"resources\":{\"devices\":[{\"access\":\"rwm\"}]}}",
     "config.json: linux.resources.devices[0].allow: missing required field"},
    {"\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}}",
     "config.json: linux.resources.devices[0].access: \"rwx\" is not a subset of \"rwm\""},
    {"\"linux\":{\"resources\":{\"memory\":{\"limit\":1.5}}}",
     "config.json: linux.resources.memory.limit: expected an integer, got 1.5"},
    {"\"linux\":{\"resources\":{\"cpu\":{\"shares\":-2}}}",
     "config.json: linux.resources.cpu.shares: -2 is negative (expected 0 to 18446744073709551615)"},
    {"\"linux\":{\"resources\":{\"blockIO\":{\"weightDevice\":[{\"major\":8,\"minor\":0,\"weight\":70000}]}}"
     "}",
     "config.json: linux.resources.blockIO.weightDevice[0].weight: 70000 is too large (at most 65535)"},
    {"\"linux\":{\"resources\":{\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0}]}}}",
     "config.json: linux.resources.blockIO.throttleReadBpsDevice[0].rate: missing required field"},
    {"\"linux\":{\"resources\":{\"hugepageLimits\":[{\"limit\":1}]}}",
     "config.json: linux.resources.hugepageLimits[0].pageSize: missing required field"},
    {"\"linux\":{\"resources\":{\"rdma\":{\"mlx\":[]}}}",
     "config.json: linux.resources.rdma.mlx: expected an object, got an array"},
    {"\"linux\":{\"resources\":{\"unified\":{\"memory.max\":null}}}",
     "config.json: linux.resources.unified.memory.max: expected a string, got null"},
    {"\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_MAYBE\"}}",
     "config.json: linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_MAYBE\""},
    {"\"linux\":{\"seccomp\":{\"syscalls\":[]}}",
     "config.json: linux.seccomp.defaultAction: missing required field"},
    {"\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_Z80\"]}}",
     "config.json: linux.seccomp.architectures[0]: unknown seccomp architecture \"SCMP_ARCH_Z80\""},
    {"\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_X\"]}}",
     "config.json: linux.seccomp.flags[0]: unknown seccomp flag \"SECCOMP_FILTER_FLAG_X\""},
    {"\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
     "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}}",
     "config.json: linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0 to 5)"},
    {"\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
     "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_XX\"}]}]}}",
     "config.json: linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator \"SCMP_CMP_XX\""},
    {"\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"action\":\"SCMP_ACT_"
     "ALLOW\"}]}}",
     "config.json: linux.seccomp.syscalls[0].names: missing required field"},
    {"\"linux\":{\"timeOffsets\":{\"realtime\":{\"secs\":1}}}",
     "config.json: linux.timeOffsets.realtime: unknown clock \"realtime\" (expected monotonic or boottime)"},
    {"\"linux\":{\"timeOffsets\":{\"boottime\":{\"secs\":1,\"nanosecs\":1000000000}}}",
     "config.json: linux.timeOffsets.boottime.nanosecs: 1000000000 is not below one second"},
    {"\"linux\":{\"personality\":{\"domain\":\"WINDOWS\"}}",
     "config.json: linux.personality.domain: unknown personality domain \"WINDOWS\""},
    {"\"linux\":{\"memoryPolicy\":{\"mode\":\"MPOL_BIND\",\"flags\":[\"MPOL_F_FAST\"]}}",
     "config.json: linux.memoryPolicy.flags[0]: unknown memory policy flag \"MPOL_F_FAST\""},
    {"\"linux\":{\"netDevices\":{\"eth0\":{\"name\":7}}}",
     "config.json: linux.netDevices.eth0.name: expected a string, got a number"},
    {"\"linux\":{\"intelRdt\":{\"closID\":1}}",
     "config.json: linux.intelRdt.closID: expected a string, got a number"},
    {"\"linux\":[]", "config.json: linux: expected an object, got an array"},
};

static const struct error_case validate_cases[] = {
    {"\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"pid\"}]}",
     "config.json: linux.namespaces[2]: duplicate namespace type \"pid\""},
    {"\"linux\":{\"namespaces\":[{\"type\":\"net\",\"path\":\"x\"}]}",
     "config.json: linux.namespaces[0].type: unknown namespace type \"net\""},
    {"\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"run/netns/x\"}]}",
     "config.json: linux.namespaces[0].path: \"run/netns/x\" is not an absolute path"},
    {"\"linux\":{\"namespaces\":[{\"type\":\"user\"}]}",
     "config.json: linux.uidMappings: a new user namespace needs uid mappings"},
    {"\"linux\":{\"namespaces\":[{\"type\":\"user\"}],\"uidMappings\":[{\"containerID\":0,\"hostID\":1,"
     "\"size\":1}]}",
     "config.json: linux.gidMappings: a new user namespace needs gid mappings"},
    {"\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]}",
     "config.json: linux.uidMappings: mappings are set but no user namespace is requested"},
    {"\"linux\":{\"timeOffsets\":{\"monotonic\":{\"secs\":1}}}",
     "config.json: linux.timeOffsets: offsets need a new time namespace"},
    {"\"hostname\":\"h\",\"linux\":{\"namespaces\":[{\"type\":\"pid\"}]}",
     "config.json: hostname: setting the hostname needs a UTS namespace"},
    {"\"linux\":{\"sysctl\":{\"kernel.panic\":\"1\"}}",
     "config.json: linux.sysctl.kernel.panic: not a namespaced sysctl; it would change the host"},
    {"\"linux\":{\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"}}",
     "config.json: linux.sysctl.net.ipv4.ip_forward: needs a network namespace"},
    {"\"linux\":{\"maskedPaths\":[\"/proc/kcore\",\"proc/keys\"]}",
     "config.json: linux.maskedPaths[1]: \"proc/keys\" is not an absolute path"},
    {"\"linux\":{\"devices\":[{\"path\":\"dev/fuse\",\"type\":\"c\",\"major\":10,\"minor\":229}]}",
     "config.json: linux.devices[0].path: \"dev/fuse\" is not an absolute path"},
    {"\"linux\":{\"cgroupsPath\":\"/a/../../b\"}",
     "config.json: linux.cgroupsPath: \"/a/../../b\" must not contain \"..\""},
    {"\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}}",
     "config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"},
    {"\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
     "\"action\":\"SCMP_ACT_NOTIFY\"}]}}",
     "config.json: linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listener path"},
    {"\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[],"
     "\"action\":\"SCMP_ACT_ALLOW\"}]}}",
     "config.json: linux.seccomp.syscalls[0].names: must contain at least one name"},
    {"\"process\":{\"cwd\":\"/\"}", "config.json: process.args: must contain at least one entry"},
    {"\"process\":{\"args\":[\"sh\"]}", "config.json: process.cwd: missing required field"},
    {"\"process\":{\"args\":[\"sh\"],\"cwd\":\"home\"}",
     "config.json: process.cwd: \"home\" is not an absolute path"},
    {"\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"A=1\",\"B\"]}",
     "config.json: process.env[1]: \"B\" is not of the form NAME=VALUE"},
    {"\"process\":{\"args\":[\"sh\"],\"cwd\":\"/"
     "\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1,\"soft\":2}]}",
     "config.json: process.rlimits[0]: soft limit 2 is above hard limit 1"},
    {"\"hooks\":{\"createRuntime\":[{\"path\":\"bin/hook\"}]}",
     "config.json: hooks.createRuntime[0].path: \"bin/hook\" is not an absolute path"},
    {"\"mounts\":[{\"destination\":\"\"}]", "config.json: mounts[0].destination: must not be empty"},
    {"\"linux\":{\"intelRdt\":{\"closID\":\"g\"}}",
     "config.json: linux.intelRdt: Intel RDT (resctrl) is not supported by keel"},
    {"\"linux\":{\"memoryPolicy\":{\"mode\":\"MPOL_BIND\",\"nodes\":\"0\"}}",
     "config.json: linux.memoryPolicy: NUMA memory policies are not supported by keel"},
    {"\"linux\":{\"netDevices\":{\"eth0\":{}}}",
     "config.json: linux.netDevices: moving network devices is not supported by keel"},
};

static void run_case(const struct error_case *k)
{
    cleanup_free char *doc = xasprintf("{" BASE ",%s}", k->body);
    cleanup_spec_config struct spec_config *cfg = NULL;
    cleanup_error struct keel_error *err = NULL;
    int r = spec_parse_config(doc, strlen(doc), "config.json", &cfg, &err);
    if (r == 0)
        r = spec_validate_config(cfg, &err);
    CHECK(&c, r < 0);
    CHECK_STREQ(&c, error_msg(err), k->want);
}

static void test_whole_document(void)
{
    static const struct {
        const char *doc;
        const char *want;
    } cases[] = {
        {"{\n  \"ociVersion\": \"1.0.0\",\n  \"root\": {\"path\": \"r\"},,\n}",
         "config.json: invalid JSON at line 3, column 26: parse error: invalid object key"},
        {"", "config.json: invalid JSON at line 1, column 1"},
        {"[]", "config.json: expected an object, got an array"},
        {"{\"ociVersion\":\"1.0.0\", /* c */ \"root\":{\"path\":\"r\"}}",
         "config.json: invalid JSON at line 1, column"},
        {"{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"}} // c",
         "config.json: invalid JSON at line 1, column"},
        {"{\"root\":{\"path\":\"r\"}}", "config.json: ociVersion: missing required field"},
        {"{\"ociVersion\":1,\"root\":{\"path\":\"r\"}}",
         "config.json: ociVersion: expected a string, got a number"},
        {"{\"ociVersion\":\"2.0.0\",\"root\":{\"path\":\"r\"}}",
         "config.json: ociVersion: unsupported major version in \"2.0.0\" (keel implements 1.x)"},
        {"{\"ociVersion\":\"one\",\"root\":{\"path\":\"r\"}}",
         "config.json: ociVersion: \"one\" is not a SemVer version"},
        {"{\"ociVersion\":\"1.0.0\"}", "config.json: root.path: missing required field"},
        {"{\"ociVersion\":\"1.0.0\",\"root\":{\"readonly\":true}}",
         "config.json: root.path: missing required field"},
        {"{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"}}garbage",
         "config.json: invalid JSON at line 1, column"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cleanup_spec_config struct spec_config *cfg = NULL;
        cleanup_error struct keel_error *err = NULL;
        int r = spec_parse_config(cases[i].doc, strlen(cases[i].doc), "config.json", &cfg, &err);
        if (r == 0)
            r = spec_validate_config(cfg, &err);
        CHECK(&c, r < 0);
        /* Syntax errors carry yajl's own words after the position. */
        const char *msg = error_msg(err);
        if (strncmp(msg, cases[i].want, strlen(cases[i].want)) != 0) {
            fprintf(stderr, "case %zu:\n  got:  %s\n  want: %s...\n", i, msg, cases[i].want);
            c.failed++;
        } else {
            c.passed++;
        }
    }
}

/* Nesting is bounded before yajl (which recurses) sees the document;
 * brackets inside strings do not count. */
static void test_depth(void)
{
    struct strbuf deep = STRBUF_INIT, ok = STRBUF_INIT;
    strbuf_puts(&deep, "{" BASE ",\"x\":");
    strbuf_puts(&ok, "{" BASE ",\"s\":\"");
    for (int i = 0; i < 1000; i++)
        strbuf_puts(&ok, "[{");
    strbuf_puts(&ok, "\\\"\",\"x\":");
    for (int i = 0; i < 300; i++) {
        strbuf_putc(&deep, '[');
        if (i < 200)
            strbuf_putc(&ok, '[');
    }
    for (int i = 0; i < 300; i++) {
        strbuf_putc(&deep, ']');
        if (i < 200)
            strbuf_putc(&ok, ']');
    }
    strbuf_putc(&deep, '}');
    strbuf_putc(&ok, '}');
    cleanup_spec_config struct spec_config *cfg = NULL;
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, spec_parse_config(deep.buf, deep.len, "config.json", &cfg, &err) < 0);
    CHECK(&c, strstr(error_msg(err), "config.json: invalid JSON at line 1, column ") == error_msg(err));
    CHECK(&c, strstr(error_msg(err), ": nested deeper than 256 levels") != NULL);
    struct spec_process *p = NULL;
    CHECK(&c, spec_parse_process(deep.buf, deep.len, "process.json", &p, &err) < 0);
    CHECK(&c, spec_parse_config(ok.buf, ok.len, "config.json", &cfg, &err) == 0);
    strbuf_release(&deep);
    strbuf_release(&ok);
}

/* A joined user namespace may come with its mappings (containerd). */
static void test_joined_userns(void)
{
    static const char doc[] =
        "{" BASE ",\"linux\":{\"namespaces\":[{\"type\":\"user\",\"path\":\"/proc/1/ns/user\"}],"
        "\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}]}}";
    cleanup_spec_config struct spec_config *cfg = NULL;
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, spec_parse_config(doc, strlen(doc), "config.json", &cfg, &err) == 0);
    CHECK(&c, cfg && spec_validate_config(cfg, &err) == 0);
}

/* A minimal config passes, and unknown fields anywhere are ignored. */
static void test_valid_minimal(void)
{
    static const char doc[] =
        "{" BASE ",\"x-vendor\":{\"a\":1},\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
        "\"futureField\":[1,2]},\"linux\":{\"newThing\":true,\"namespaces\":[{\"type\":"
        "\"mount\",\"extra\":1}]},\"mounts\":[{\"destination\":\"tmp\",\"type\":\"tmpfs\"}]}";
    cleanup_spec_config struct spec_config *cfg = NULL;
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, spec_parse_config(doc, strlen(doc), "config.json", &cfg, &err) == 0);
    CHECK(&c, cfg && spec_validate_config(cfg, &err) == 0);
    if (err)
        fprintf(stderr, "%s\n", err->msg);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++)
        run_case(&parse_cases[i]);
    for (size_t i = 0; i < sizeof(validate_cases) / sizeof(validate_cases[0]); i++)
        run_case(&validate_cases[i]);
    test_whole_document();
    test_valid_minimal();
    test_depth();
    test_joined_userns();
    return unit_finish(&c);
}
