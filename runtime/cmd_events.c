/* keel events [--stats] [--interval DURATION] ID: runc's event stream, one
 * JSON object per line: {"type":"stats","id":ID,"data":{...}} every
 * interval (once with --stats), {"type":"oom","id":ID} when the kernel
 * OOM-kills in the container.  Ends when the container is gone. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_cmd.h"
#include "cleanup.h"
#include "cli.h"
#include "commands.h"
#include "container.h"
#include "error.h"
#include "json.h"

static void gen_u64(yajl_gen g, const char *key, uint64_t v)
{
    json_gen_key(g, key);
    yajl_gen_integer(g, (long long)(v > INT64_MAX ? INT64_MAX : v));
}

static void gen_mem(yajl_gen g, const char *key, const struct cgroup_memory_data *d)
{
    json_gen_key(g, key);
    yajl_gen_map_open(g);
    gen_u64(g, "limit", d->limit);
    gen_u64(g, "usage", d->usage);
    gen_u64(g, "max", d->max_usage);
    gen_u64(g, "failcnt", d->failcnt);
    yajl_gen_map_close(g);
}

static void gen_blkio(yajl_gen g, const char *key, const struct cgroup_blkio_entry *v, size_t n)
{
    json_gen_key(g, key);
    yajl_gen_array_open(g);
    for (size_t i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        gen_u64(g, "major", v[i].major);
        gen_u64(g, "minor", v[i].minor);
        json_gen_kv_string(g, "op", v[i].op);
        gen_u64(g, "value", v[i].value);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

/* The "data" object in runc's types.Stats shape. */
static void gen_stats(yajl_gen g, const struct cgroup_stats *s)
{
    yajl_gen_map_open(g);
    json_gen_key(g, "cpu");
    yajl_gen_map_open(g);
    json_gen_key(g, "usage");
    yajl_gen_map_open(g);
    gen_u64(g, "total", s->cpu.total);
    json_gen_key(g, "percpu");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < s->cpu.n_percpu; i++)
        yajl_gen_integer(g, (long long)s->cpu.percpu[i]);
    yajl_gen_array_close(g);
    gen_u64(g, "kernel", s->cpu.kernel);
    gen_u64(g, "user", s->cpu.user);
    yajl_gen_map_close(g);
    json_gen_key(g, "throttling");
    yajl_gen_map_open(g);
    gen_u64(g, "periods", s->cpu.periods);
    gen_u64(g, "throttledPeriods", s->cpu.throttled_periods);
    gen_u64(g, "throttledTime", s->cpu.throttled_time);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);

    json_gen_key(g, "memory");
    yajl_gen_map_open(g);
    gen_u64(g, "cache", s->memory.cache);
    gen_mem(g, "usage", &s->memory.usage);
    gen_mem(g, "swap", &s->memory.swap);
    gen_mem(g, "kernel", &s->memory.kernel);
    json_gen_key(g, "raw");
    yajl_gen_map_open(g);
    for (size_t i = 0; i < s->memory.n_raw; i++)
        gen_u64(g, s->memory.raw[i].key, s->memory.raw[i].value);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);

    json_gen_key(g, "pids");
    yajl_gen_map_open(g);
    gen_u64(g, "current", s->pids.current);
    gen_u64(g, "limit", s->pids.limit);
    yajl_gen_map_close(g);

    json_gen_key(g, "blkio");
    yajl_gen_map_open(g);
    gen_blkio(g, "ioServiceBytesRecursive", s->blkio.service_bytes, s->blkio.n_service_bytes);
    gen_blkio(g, "ioServicedRecursive", s->blkio.serviced, s->blkio.n_serviced);
    yajl_gen_map_close(g);

    json_gen_key(g, "hugetlb");
    yajl_gen_map_open(g);
    for (size_t i = 0; i < s->n_hugetlb; i++) {
        json_gen_key(g, s->hugetlb[i].page_size);
        yajl_gen_map_open(g);
        gen_u64(g, "usage", s->hugetlb[i].usage);
        gen_u64(g, "max", s->hugetlb[i].max_usage);
        gen_u64(g, "failcnt", s->hugetlb[i].failcnt);
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
}

static int print_event(const char *type, const char *id, const struct cgroup_stats *s)
{
    yajl_gen g = json_gen_new(false);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "type", type);
    json_gen_kv_string(g, "id", id);
    if (s) {
        json_gen_key(g, "data");
        gen_stats(g, s);
    }
    yajl_gen_map_close(g);
    char *text = json_gen_dup(g, NULL);
    yajl_gen_free(g);
    printf("%s\n", text);
    free(text);
    return fflush(stdout) == 0 ? 0 : -1;
}

/* "5s", "500ms", "1m", "2" (seconds). */
static int parse_interval(const char *v, long *ms, struct keel_error **err)
{
    char *end;
    double n = strtod(v, &end);
    double mult = 1000;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else
        return error_set(err, 0, "events: --interval: \"%s\" is not a duration (5s, 500ms, 1m)", v);
    if (end == v || n <= 0)
        return error_set(err, 0, "events: --interval: \"%s\" must be positive", v);
    *ms = (long)(n * mult);
    if (*ms < 1)
        *ms = 1;
    return 0;
}

int cmd_events(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {{"stats", no_argument, NULL, 's'},
                                         {"interval", required_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool once = false;
    long interval_ms = 5000;
    cli_reset_getopt();
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 's') {
            once = true;
        } else if (c == 'i') {
            if (parse_interval(optarg, &interval_ms, err) < 0)
                return -1;
        } else if (c == 'h') {
            printf("Usage: keel events [--stats] [--interval 5s] ID\n\n"
                   "Print the container's statistics (once with --stats, else every interval) and\n"
                   "OOM events as JSON lines.\n");
            return 0;
        } else {
            return cli_error_bad_option("events", argc, argv, err);
        }
    }
    const char *id;
    if (cli_take_id("events", argc, argv, &id, err) < 0)
        return -1;
    cleanup_close int dirfd = -1;
    cleanup_container_state struct container_state *s = NULL;
    cleanup_cgroup_manager struct cgroup_manager *m = NULL;
    if (cgcmd_open(ctx, id, false, &dirfd, &s, &m, err) < 0)
        return -1;
    if (container_status_of(dirfd, s) == CONTAINER_STOPPED)
        return error_set(err, 0, "container \"%s\" is not running", id);

    struct cgroup_stats st;
    if (once) {
        if (cgroup_get_stats(m, &st, err) < 0)
            return error_prefix(err, "container \"%s\"", id);
        int r = print_event("stats", id, &st);
        cgroup_stats_clear(&st);
        return r < 0 ? error_set(err, errno, "writing the event") : 0;
    }
    /* the state dir lock is shared; do not keep it while streaming */
    close(steal_fd(&dirfd));
    struct cgroup_oom_watch *w = NULL;
    cleanup_error struct keel_error *oom_err = NULL;
    if (cgroup_oom_watch_open(m, &w, &oom_err) < 0)
        log_warn(&ctx->log, "events: no OOM notification: %s", oom_err->msg);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    int ret = 0;
    for (;;) {
        if (!state_process_alive(s))
            break;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long wait_ms = (next.tv_sec - now.tv_sec) * 1000 + (next.tv_nsec - now.tv_nsec) / 1000000;
        if (wait_ms <= 0) {
            cleanup_error struct keel_error *serr = NULL;
            if (cgroup_get_stats(m, &st, &serr) < 0)
                break; /* the cgroup went away with the container */
            int r = print_event("stats", id, &st);
            cgroup_stats_clear(&st);
            if (r < 0)
                break;
            next.tv_sec += interval_ms / 1000;
            next.tv_nsec += (interval_ms % 1000) * 1000000;
            if (next.tv_nsec >= 1000000000) {
                next.tv_sec++;
                next.tv_nsec -= 1000000000;
            }
            continue;
        }
        /* wake at least every second to notice the container's end */
        struct pollfd p = {w ? cgroup_oom_watch_fd(w) : -1, POLLIN, 0};
        int pr = poll(&p, 1, wait_ms > 1000 ? 1000 : (int)wait_ms);
        if (pr > 0 && w) {
            uint64_t n = 0;
            if (cgroup_oom_watch_read(w, &n, err) < 0) {
                ret = -1;
                break;
            }
            for (uint64_t i = 0; i < n; i++)
                if (print_event("oom", id, NULL) < 0)
                    break;
        }
    }
    cgroup_oom_watch_free(w);
    return ret;
}
