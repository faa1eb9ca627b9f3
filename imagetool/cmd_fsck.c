/* hoist fsck [--repair] [--strict]: check the store's integrity (store_fsck)
 * and print every problem by name, git fsck style. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cmd_fsck.h"
#include "commands.h"
#include "error.h"
#include "fileutil.h"
#include "store.h"
#include "xalloc.h"

static void fsck_usage(FILE *out)
{
    fprintf(out, "Usage: hoist fsck [OPTIONS]\n\n"
                 "Check the image store: every blob an image needs (index.json, its indexes and\n"
                 "manifests, their configs and layers) is present with the right size and digest,\n"
                 "every blob's content matches its name. Lists missing, corrupt and dangling blobs\n"
                 "and orphaned temporary files by name. Exits 1 when a blob is missing or corrupt.\n\n"
                 "Options:\n"
                 "  --repair    remove corrupt blobs (the next pull of the image fetches them again)\n"
                 "              and orphaned temporary files\n"
                 "  --strict    dangling blobs and orphaned temporary files are problems too (exit 1)\n"
                 "  -h, --help  this help\n");
}

static const char *fsck_label(enum store_fsck_kind k)
{
    switch (k) {
    case STORE_FSCK_MISSING:
        return "missing blob";
    case STORE_FSCK_CORRUPT:
        return "corrupt";
    case STORE_FSCK_STRAY:
        return "stray entry";
    case STORE_FSCK_DANGLING:
        return "dangling blob";
    case STORE_FSCK_ORPHAN:
        return "orphaned temp file";
    }
    return "problem";
}

/* Whether an earlier damage problem named the same image. */
static bool fsck_image_seen(const struct store_fsck_report *rep, size_t upto)
{
    const char *image = rep->problems[upto].image;
    for (size_t k = 0; k < upto; k++)
        if (store_fsck_kind_is_damage(rep->problems[k].kind) && rep->problems[k].image &&
            strcmp(rep->problems[k].image, image) == 0)
            return true;
    return false;
}

void fsck_print_report(const struct store_fsck_report *rep, FILE *out)
{
    size_t count[STORE_FSCK_ORPHAN + 1] = {0};
    for (size_t i = 0; i < rep->n; i++) {
        const struct store_fsck_problem *p = &rep->problems[i];
        count[p->kind]++;
        bool path = p->name[0] == '/';
        fprintf(out, "%s %s%s%s: %s", fsck_label(p->kind), path ? "`" : "", p->name, path ? "`" : "",
                p->detail);
        if (p->image)
            fprintf(out, " (image %s)", p->image);
        if (p->repaired)
            fprintf(out, "; removed");
        fputc('\n', out);
    }
    for (size_t i = 0; i < rep->n; i++)
        if (store_fsck_kind_is_damage(rep->problems[i].kind) && rep->problems[i].image &&
            !fsck_image_seen(rep, i))
            fprintf(out, "to fetch again: hoist pull %s\n", rep->problems[i].image);
    fprintf(out, "checked %zu blobs (%" PRIu64 " bytes) of %zu images: ", rep->blobs, rep->bytes,
            rep->images);
    if (rep->n == 0) {
        fprintf(out, "no problems\n");
        return;
    }
    fprintf(out, "%zu missing, %zu corrupt, %zu stray, %zu dangling, %zu orphaned temp files\n",
            count[STORE_FSCK_MISSING], count[STORE_FSCK_CORRUPT], count[STORE_FSCK_STRAY],
            count[STORE_FSCK_DANGLING], count[STORE_FSCK_ORPHAN]);
}

int fsck_verdict(const char *store, const struct store_fsck_report *rep, bool strict, bool repaired,
                 struct keel_error **err)
{
    size_t damage = 0, waste = 0;
    for (size_t i = 0; i < rep->n; i++) {
        const struct store_fsck_problem *p = &rep->problems[i];
        if (store_fsck_kind_is_damage(p->kind))
            damage++;
        else if (!p->repaired)
            waste++;
    }
    if (damage)
        return error_set(
            err, 0, "image store `%s` is damaged: %zu missing or corrupt blobs or stray entries%s", store,
            damage,
            repaired ? " (corrupt blobs removed: pull the images named above again)"
                     : " (`hoist fsck --repair` removes corrupt blobs, then pull the images again)");
    if (strict && waste)
        return error_set(err, 0, "image store `%s`: %zu dangling blobs or orphaned temp files (--strict)",
                         store, waste);
    return 0;
}

enum { OPT_REPAIR = 256, OPT_STRICT };

int cmd_fsck(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        {"repair", no_argument, NULL, OPT_REPAIR},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct store_fsck_options o = {0};
    bool strict = false;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_REPAIR:
            o.repair = true;
            break;
        case OPT_STRICT:
            strict = true;
            break;
        case 'h':
            fsck_usage(stdout);
            return 0;
        default:
            return error_set(err, 0, "fsck: unknown option \"%s\" (see `hoist fsck --help`)",
                             argv[optind - 1]);
        }
    }
    if (optind != argc)
        return error_set(err, 0, "fsck: takes no arguments");
    /* Opening the store writes an empty index.json where there is none,
     * which would hide that it was lost. */
    cleanup_free char *index = xasprintf("%s/index.json", ctx->store);
    cleanup_free char *layout = xasprintf("%s/oci-layout", ctx->store);
    if (fs_exists(layout) && !fs_exists(index))
        return error_set(err, ENOENT, "image store `%s` is damaged: `%s` is missing", ctx->store, index);
    cleanup_store struct store *s = NULL;
    if (store_open(ctx->store, false, &s, err) < 0)
        return error_prefix(err, "fsck");
    /* Removing, or calling waste a problem, needs a store no pull is
     * halfway through (a running pull's blobs are not tagged yet). */
    o.exclusive = o.repair || strict;
    struct store_fsck_report rep = {0};
    int r = store_fsck(s, &o, &rep, err);
    if (r == 0) {
        fsck_print_report(&rep, stdout);
        fflush(stdout);
        r = fsck_verdict(ctx->store, &rep, strict, o.repair, err);
    }
    store_fsck_report_release(&rep);
    return r;
}
