/* keel update [flags] [-r FILE|-] ID: change a running container's cgroup
 * limits.  The flags are runc's; -r reads a linux.resources JSON document
 * (what containerd and podman send) and the flags override its fields. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup_cmd.h"
#include "cleanup.h"
#include "cli.h"
#include "commands.h"
#include "container.h"
#include "error.h"
#include "fileutil.h"
#include "spec.h"
#include "xalloc.h"

/* "-1", "1048576", "512k", "64m", "1g", "1t" (binary units, optional b/ib). */
static int parse_bytes(const char *opt, const char *v, int64_t *out, struct keel_error **err)
{
    /* v is getopt's optarg of a required_argument option: never NULL. */
    if (strcmp(v, "-1") == 0) { // NOLINT(clang-analyzer-core.NonNullParamChecker)
        *out = -1;
        return 0;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || n < 0 || errno)
        return error_set(err, 0, "update: %s: \"%s\" is not a size (e.g. 512m, 1g, -1)", opt, v);
    int shift = 0;
    switch (tolower((unsigned char)*end)) {
    case '\0':
        break;
    case 'b':
        shift = 0;
        end++;
        break;
    case 'k':
        shift = 10;
        end++;
        break;
    case 'm':
        shift = 20;
        end++;
        break;
    case 'g':
        shift = 30;
        end++;
        break;
    case 't':
        shift = 40;
        end++;
        break;
    default:
        return error_set(err, 0, "update: %s: \"%s\" has an unknown unit", opt, v);
    }
    if (shift && (strcasecmp(end, "b") == 0 || strcasecmp(end, "ib") == 0))
        end += strlen(end);
    if (*end)
        return error_set(err, 0, "update: %s: \"%s\" has an unknown unit", opt, v);
    if (shift && n > (INT64_MAX >> shift))
        return error_set(err, 0, "update: %s: \"%s\" is too large", opt, v);
    *out = (int64_t)n << shift;
    return 0;
}

static int parse_i64(const char *opt, const char *v, int64_t *out, struct keel_error **err)
{
    char *end;
    errno = 0;
    /* v is getopt's optarg of a required_argument option: never NULL. */
    long long n = strtoll(v, &end, 10); // NOLINT(clang-analyzer-core.NonNullParamChecker)
    if (end == v || *end || errno)
        return error_set(err, 0, "update: %s: \"%s\" is not an integer", opt, v);
    *out = n;
    return 0;
}

static int read_resources(const char *path, struct spec_resources *r, struct keel_error **err)
{
    cleanup_free char *text = NULL;
    size_t len = 0;
    if (strcmp(path, "-") == 0) {
        if (fd_read_whole(0, "standard input", 1 << 22, &text, &len, err) < 0)
            return -1;
        return spec_parse_resources(text, len, "update --resources -", r, err);
    }
    if (file_read_whole(path, 1 << 22, &text, &len, err) < 0)
        return error_prefix(err, "update --resources");
    cleanup_free char *name = xasprintf("update --resources %s", path);
    return spec_parse_resources(text, len, name, r, err);
}

enum {
    OPT_MEMORY = 1000,
    OPT_MEMORY_SWAP,
    OPT_MEMORY_RESERVATION,
    OPT_KERNEL_MEMORY,
    OPT_KERNEL_MEMORY_TCP,
    OPT_CPU_SHARES,
    OPT_CPU_QUOTA,
    OPT_CPU_PERIOD,
    OPT_CPU_RT_PERIOD,
    OPT_CPU_RT_RUNTIME,
    OPT_CPUSET_CPUS,
    OPT_CPUSET_MEMS,
    OPT_PIDS_LIMIT,
    OPT_BLKIO_WEIGHT,
    OPT_L3_CACHE,
    OPT_MEM_BW,
};

static void resources_free(struct spec_resources *r)
{
    spec_resources_clear(r);
}

int cmd_update(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"resources", required_argument, NULL, 'r'},
        {"memory", required_argument, NULL, OPT_MEMORY},
        {"memory-swap", required_argument, NULL, OPT_MEMORY_SWAP},
        {"memory-reservation", required_argument, NULL, OPT_MEMORY_RESERVATION},
        {"kernel-memory", required_argument, NULL, OPT_KERNEL_MEMORY},
        {"kernel-memory-tcp", required_argument, NULL, OPT_KERNEL_MEMORY_TCP},
        {"cpu-share", required_argument, NULL, OPT_CPU_SHARES},
        {"cpu-shares", required_argument, NULL, OPT_CPU_SHARES},
        {"cpu-quota", required_argument, NULL, OPT_CPU_QUOTA},
        {"cpu-period", required_argument, NULL, OPT_CPU_PERIOD},
        {"cpu-rt-period", required_argument, NULL, OPT_CPU_RT_PERIOD},
        {"cpu-rt-runtime", required_argument, NULL, OPT_CPU_RT_RUNTIME},
        {"cpuset-cpus", required_argument, NULL, OPT_CPUSET_CPUS},
        {"cpuset-mems", required_argument, NULL, OPT_CPUSET_MEMS},
        {"pids-limit", required_argument, NULL, OPT_PIDS_LIMIT},
        {"blkio-weight", required_argument, NULL, OPT_BLKIO_WEIGHT},
        {"l3-cache-schema", required_argument, NULL, OPT_L3_CACHE},
        {"mem-bw-schema", required_argument, NULL, OPT_MEM_BW},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    __attribute__((cleanup(resources_free))) struct spec_resources r = {0};
    /* flags are collected first and applied over the -r document afterwards */
    struct {
        int code;
        const char *value;
    } flags[32];
    size_t nf = 0;
    const char *resources_file = NULL;
    cli_reset_getopt();
    int c;
    while ((c = getopt_long(argc, argv, "+r:h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("Usage: keel update [OPTIONS] ID\n\n"
                   "  -r, --resources FILE|-   linux.resources JSON (- = standard input)\n"
                   "  --memory, --memory-swap, --memory-reservation SIZE (512m, 1g, -1)\n"
                   "  --cpu-shares N  --cpu-quota N  --cpu-period N  --cpu-rt-period N  --cpu-rt-runtime N\n"
                   "  --cpuset-cpus LIST  --cpuset-mems LIST  --pids-limit N  --blkio-weight N\n");
            return 0;
        }
        if (c == 'r') {
            resources_file = optarg;
            continue;
        }
        if (c < OPT_MEMORY)
            return cli_error_bad_option("update", argc, argv, err);
        if (c == OPT_L3_CACHE || c == OPT_MEM_BW)
            return error_set(err, ENOTSUP, "update: %s: Intel RDT is not supported by keel",
                             c == OPT_L3_CACHE ? "--l3-cache-schema" : "--mem-bw-schema");
        if (nf == sizeof(flags) / sizeof(flags[0]))
            return error_set(err, 0, "update: too many options");
        flags[nf].code = c;
        flags[nf++].value = optarg;
    }
    const char *id;
    if (cli_take_id("update", argc, argv, &id, err) < 0)
        return -1;
    if (resources_file && read_resources(resources_file, &r, err) < 0)
        return -1;
    r.set = true;
    for (size_t i = 0; i < nf; i++) {
        const char *v = flags[i].value;
        int64_t n = 0;
        unsigned long long u = 0;
        switch (flags[i].code) {
        case OPT_MEMORY:
        case OPT_MEMORY_SWAP:
        case OPT_MEMORY_RESERVATION:
        case OPT_KERNEL_MEMORY:
        case OPT_KERNEL_MEMORY_TCP: {
            static const char *const names[] = {"--memory", "--memory-swap", "--memory-reservation",
                                                "--kernel-memory", "--kernel-memory-tcp"};
            int k = flags[i].code - OPT_MEMORY;
            if (parse_bytes(names[k], v, &n, err) < 0)
                return -1;
            struct opt_i64 *dst[] = {&r.memory.limit, &r.memory.swap, &r.memory.reservation, &r.memory.kernel,
                                     &r.memory.kernel_tcp};
            *dst[k] = (struct opt_i64){true, n};
            r.has_memory = true;
            break;
        }
        case OPT_CPU_SHARES:
            if (cli_parse_uint("update: --cpu-shares", v, UINT64_MAX, &u, err) < 0)
                return -1;
            r.cpu.shares = (struct opt_u64){true, u};
            r.has_cpu = true;
            break;
        case OPT_CPU_PERIOD:
        case OPT_CPU_RT_PERIOD:
            if (cli_parse_uint(flags[i].code == OPT_CPU_PERIOD ? "update: --cpu-period"
                                                               : "update: --cpu-rt-period",
                               v, UINT64_MAX, &u, err) < 0)
                return -1;
            if (flags[i].code == OPT_CPU_PERIOD)
                r.cpu.period = (struct opt_u64){true, u};
            else
                r.cpu.realtime_period = (struct opt_u64){true, u};
            r.has_cpu = true;
            break;
        case OPT_CPU_QUOTA:
        case OPT_CPU_RT_RUNTIME:
            if (parse_i64(flags[i].code == OPT_CPU_QUOTA ? "--cpu-quota" : "--cpu-rt-runtime", v, &n, err) <
                0)
                return -1;
            if (flags[i].code == OPT_CPU_QUOTA)
                r.cpu.quota = (struct opt_i64){true, n};
            else
                r.cpu.realtime_runtime = (struct opt_i64){true, n};
            r.has_cpu = true;
            break;
        case OPT_CPUSET_CPUS:
            free(r.cpu.cpus);
            r.cpu.cpus = xstrdup(v);
            r.has_cpu = true;
            break;
        case OPT_CPUSET_MEMS:
            free(r.cpu.mems);
            r.cpu.mems = xstrdup(v);
            r.has_cpu = true;
            break;
        case OPT_PIDS_LIMIT:
            if (parse_i64("--pids-limit", v, &n, err) < 0)
                return -1;
            r.pids_limit = (struct opt_i64){true, n};
            break;
        case OPT_BLKIO_WEIGHT:
            if (cli_parse_uint("update: --blkio-weight", v, 1000, &u, err) < 0)
                return -1;
            r.block_io.weight = (struct opt_u64){true, u};
            r.has_block_io = true;
            break;
        }
    }

    cleanup_close int dirfd = -1;
    cleanup_container_state struct container_state *s = NULL;
    cleanup_cgroup_manager struct cgroup_manager *m = NULL;
    if (cgcmd_open(ctx, id, true, &dirfd, &s, &m, err) < 0)
        return -1;
    enum container_status st = container_status_of(dirfd, s);
    if (st == CONTAINER_STOPPED)
        return error_set(err, 0, "cannot update container \"%s\": it is stopped", id);
    if (cgroup_apply_resources(m, &r, err) < 0)
        return error_prefix(err, "updating container \"%s\"", id);
    return 0;
}
