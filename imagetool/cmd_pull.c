/* hoist pull REF: fetch an image into the store. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "error.h"
#include "manifest.h"
#include "platform.h"
#include "pull.h"
#include "registry.h"
#include "json.h"
#include "ref.h"
#include "registry_cli.h"
#include "store.h"
#include "strbuf.h"
#include "xalloc.h"

enum { OPT_PLATFORM = 1, OPT_ALL_PLATFORMS, OPT_PARALLEL, OPT_RETRY_TIMES, OPT_TIMEOUT, OPT_FORMAT };

/* On a terminal: one live line per blob in flight (bytes, rate), redrawn
 * in place; finished blobs scroll up as plain lines. Elsewhere: plain
 * lines only, one when a blob starts and one when it ends. */
#define PROGRESS_MAX_BARS 64

struct progress_bar {
    char digest[16];
    int64_t done, total;
    double t0;
};

struct pull_progress {
    bool tty;
    struct progress_bar bars[PROGRESS_MAX_BARS];
    size_t n_bars;
    int drawn; /* live lines currently on screen */
    double last_draw;
    struct strbuf pending; /* finished lines not yet printed */
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *short_digest(const char *d)
{
    const char *colon = strchr(d, ':');
    return colon ? colon + 1 : d;
}

static void human_bytes(double n, char buf[static 32])
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    while (n >= 1024 && u < 4) {
        n /= 1024;
        u++;
    }
    snprintf(buf, 32, u ? "%.1f %s" : "%.0f %s", n, units[u]);
}

static void progress_redraw(struct pull_progress *p)
{
    if (p->drawn > 0)
        fprintf(stderr, "\033[%dA\r\033[J", p->drawn);
    if (p->pending.len) {
        fputs(p->pending.buf, stderr);
        strbuf_reset(&p->pending);
    }
    double now = mono_now();
    for (size_t i = 0; i < p->n_bars; i++) {
        struct progress_bar *b = &p->bars[i];
        char done[32], total[32], rate[32];
        human_bytes((double)b->done, done);
        human_bytes((double)b->total, total);
        human_bytes(now > b->t0 ? (double)b->done / (now - b->t0) : 0, rate);
        int pct = b->total > 0 ? (int)(100 * b->done / b->total) : 0;
        fprintf(stderr, "Copying blob %.12s %3d%% %s / %s  %s/s\n", b->digest, pct, done, total, rate);
    }
    p->drawn = (int)p->n_bars;
    p->last_draw = now;
    fflush(stderr);
}

static struct progress_bar *progress_find(struct pull_progress *p, const char *digest)
{
    for (size_t i = 0; i < p->n_bars; i++)
        if (strncmp(p->bars[i].digest, short_digest(digest), 12) == 0)
            return &p->bars[i];
    return NULL;
}

static void progress_start(void *user, const struct oci_descriptor *d, int64_t resumed_from)
{
    struct pull_progress *p = user;
    if (!p->tty) {
        if (resumed_from > 0)
            fprintf(stderr, "Resuming blob %.12s at byte %" PRId64 "\n", short_digest(d->digest),
                    resumed_from);
        else
            fprintf(stderr, "Copying blob %.12s\n", short_digest(d->digest));
        return;
    }
    if (p->n_bars == PROGRESS_MAX_BARS)
        return;
    struct progress_bar *b = &p->bars[p->n_bars++];
    snprintf(b->digest, sizeof(b->digest), "%.12s", short_digest(d->digest));
    b->done = resumed_from;
    b->total = d->size;
    b->t0 = mono_now();
    progress_redraw(p);
}

static void progress_update(void *user, const struct oci_descriptor *d, int64_t done, int64_t total)
{
    struct pull_progress *p = user;
    if (!p->tty)
        return;
    struct progress_bar *b = progress_find(p, d->digest);
    if (b) {
        b->done = done;
        b->total = total;
    }
    if (mono_now() - p->last_draw >= 0.1)
        progress_redraw(p);
}

static void progress_done(void *user, const struct oci_descriptor *d, bool skipped, double seconds)
{
    struct pull_progress *p = user;
    char size[32], rate[32];
    human_bytes((double)d->size, size);
    human_bytes(seconds > 0.001 ? (double)d->size / seconds : 0, rate);
    struct strbuf line = STRBUF_INIT;
    if (skipped)
        strbuf_printf(&line, "Skipping blob %.12s (already present)\n", short_digest(d->digest));
    else
        strbuf_printf(&line, "Copied blob %.12s %s in %.1fs (%s/s)\n", short_digest(d->digest), size, seconds,
                      rate);
    if (!p->tty) {
        fputs(line.buf, stderr);
        strbuf_release(&line);
        return;
    }
    struct progress_bar *b = progress_find(p, d->digest);
    if (b) {
        *b = p->bars[--p->n_bars];
    }
    strbuf_puts(&p->pending, line.buf);
    strbuf_release(&line);
    progress_redraw(p);
}

/* {"name", "digest" (what the tag points to), "mediaType", "manifestDigest"
 * (the platform's manifest)} for scripts. */
static int pull_print_json(struct hoist_context *ctx, const char *refstr, const char *manifest_digest,
                           struct keel_error **err)
{
    cleanup_ref struct image_ref *ref = NULL;
    if (ref_parse(refstr, &ref, err) < 0)
        return -1;
    cleanup_free char *name = ref_format(ref);
    cleanup_store struct store *s = NULL;
    struct oci_descriptor top = {0};
    if (store_open(ctx->store, false, &s, err) < 0 || store_resolve(s, name, &top, err) < 0)
        return -1;
    yajl_gen g = json_gen_new(true);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "name", name);
    json_gen_kv_string(g, "digest", top.digest);
    json_gen_kv_string(g, "mediaType", top.media_type);
    json_gen_kv_int(g, "size", top.size);
    json_gen_kv_string(g, "manifestDigest", manifest_digest);
    yajl_gen_map_close(g);
    cleanup_free char *out = json_gen_dup(g, NULL);
    yajl_gen_free(g);
    descriptor_clear(&top);
    printf("%s\n", out);
    return 0;
}

static void pull_usage(void)
{
    printf("Usage: hoist pull [OPTIONS] REFERENCE\n\n"
           "Pull an image from a registry into the store.\n\n"
           "Options:\n"
           "  --platform OS/ARCH[/VARIANT]  platform to pull from an index (default: this host)\n"
           "  --all-platforms      pull every platform of an index\n"
           "  --max-parallel N     layer downloads at once (default 6)\n"
           "  --retry-times N      retries of a failing request (default 4)\n"
           "  --timeout SECONDS    a transfer receiving nothing this long fails and is retried (default "
           "60)\n" REGISTRY_CLI_HELP
           "  --format json|text   json: name, digest, media type and the platform manifest's digest\n"
           "  -q, --quiet          no progress output (the digest is still printed)\n"
           "  -h, --help           print this help\n");
}

int cmd_pull(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"all-platforms", no_argument, NULL, OPT_ALL_PLATFORMS},
        {"max-parallel", required_argument, NULL, OPT_PARALLEL},
        {"retry-times", required_argument, NULL, OPT_RETRY_TIMES},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"format", required_argument, NULL, OPT_FORMAT},
        REGISTRY_CLI_OPTIONS,
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct pull_options po;
    pull_options_init(&po);
    struct registry_cli rc;
    registry_cli_init(&rc);
    cleanup_platform struct oci_platform *platform = NULL;
    bool json = false;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = registry_cli_getopt(&rc, argc, argv, "qh", opts, err)) != -1) {
        switch (c) {
        case REGISTRY_CLI_BAD:
            return -1;
        case OPT_PLATFORM:
            if (platform_parse_option(optarg, &platform, err) < 0)
                return -1;
            break;
        case OPT_ALL_PLATFORMS:
            po.all_platforms = true;
            break;
        case OPT_PARALLEL: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 64)
                return error_set(err, 0, "--max-parallel: \"%s\" is not a number from 1 to 64", optarg);
            po.max_parallel = (int)n;
            break;
        }
        case OPT_RETRY_TIMES: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 0 || n > 100)
                return error_set(err, 0, "--retry-times: \"%s\" is not a number from 0 to 100", optarg);
            po.retry_times = (int)n;
            break;
        }
        case OPT_TIMEOUT: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 86400)
                return error_set(err, 0, "--timeout: \"%s\" is not a number of seconds from 1 to 86400",
                                 optarg);
            po.stall_timeout_s = n;
            break;
        }
        case OPT_FORMAT:
            if (strcmp(optarg, "json") == 0)
                json = true;
            else if (strcmp(optarg, "text") != 0)
                return error_set(err, 0, "pull: --format \"%s\" is not supported (json or text)", optarg);
            break;
        case 'q':
            po.quiet = true;
            break;
        case 'h':
            pull_usage();
            return 0;
        default:
            return error_set(err, 0, "pull: unknown or incomplete option \"%s\" (see `hoist pull --help`)",
                             argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return error_set(err, 0, "pull: expected exactly one image reference (see `hoist pull --help`)");
    po.platform = platform;
    registry_cli_to_pull(&rc, &po);
    struct pull_progress pp = {.tty = isatty(STDERR_FILENO) == 1};
    struct transfer_progress tp = {
        .start = progress_start, .update = progress_update, .done = progress_done, .user = &pp};
    if (!po.quiet)
        po.progress = &tp;
    cleanup_free char *digest = NULL;
    int r = pull_image(ctx, argv[optind], &po, &digest, err);
    if (pp.tty && (pp.drawn || pp.pending.len)) {
        pp.n_bars = 0;
        progress_redraw(&pp);
    }
    strbuf_release(&pp.pending);
    if (r < 0)
        return -1;
    if (json)
        return pull_print_json(ctx, argv[optind], digest, err);
    printf("%s\n", digest);
    return 0;
}
