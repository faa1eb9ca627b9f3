/* From an image reference to a bundle: the path hoist unpack and hoist run
 * share. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "bundle.h"
#include "cleanup.h"
#include "error.h"
#include "hoist.h"
#include "manifest.h"
#include "pull.h"
#include "ref.h"
#include "store.h"

/* The manifest of ref in the store, pulling it when the store lacks it. */
static int bundle_find_image(struct hoist_context *ctx, struct store **s, const char *ref,
                             const struct oci_platform *platform, struct oci_manifest **m,
                             struct keel_error **err)
{
    cleanup_ref struct image_ref *r = NULL;
    if (ref_parse(ref, &r, err) < 0)
        return -1;
    cleanup_free char *name = ref_format(r);
    cleanup_error struct keel_error *first = NULL;
    if (pull_resolve_stored(*s, name, platform, NULL, m, &first) == 0)
        return 0;
    if (first->errnum != ENOENT) {
        *err = steal_ptr(&first);
        return -1;
    }
    /* Pull without holding the store: the pull takes its own locks. */
    store_close(*s);
    *s = NULL;
    struct pull_options po;
    pull_options_init(&po);
    po.platform = platform;
    po.quiet = true;
    if (pull_image(ctx, ref, &po, NULL, err) < 0)
        return -1;
    if (store_open(ctx->store, false, s, err) < 0)
        return -1;
    return pull_resolve_stored(*s, name, platform, NULL, m, err);
}

/* SIGINT, SIGTERM and SIGHUP, but not one hoist was started ignoring (as
 * nohup does SIGHUP): blocked, an ignored signal stays pending and would
 * stop an unpack it was meant not to disturb. */
static void bundle_stop_signals(sigset_t *set)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    sigemptyset(set);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++) {
        struct sigaction sa;
        if (sigaction(sigs[i], NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
            continue;
        sigaddset(set, sigs[i]);
    }
}

int bundle_unpack_ref(struct hoist_context *ctx, const char *ref, const struct oci_platform *platform,
                      const char *dir, const struct bundle_opts *o, sigset_t *restore_mask,
                      struct keel_error **err)
{
    cleanup_store struct store *s = NULL;
    cleanup_manifest struct oci_manifest *m = NULL;
    if (store_open(ctx->store, true, &s, err) < 0 || bundle_find_image(ctx, &s, ref, platform, &m, err) < 0)
        return -1;
    /* A signal stops the unpack at the next entries, the bundle is removed,
     * and only then is the signal delivered (when the mask is restored). */
    sigset_t stop, old;
    bundle_stop_signals(&stop);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    struct bundle_opts bo = *o;
    bo.interrupt = &stop;
    int rc = bundle_unpack(s, m, dir, &bo, err);
    store_close(steal_ptr(&s));
    if (rc == 0 && restore_mask)
        *restore_mask = old;
    else
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int bundle_parse_overlay_option(const char *arg, bool *overlay, struct keel_error **err)
{
    if (!arg || strcmp(arg, "true") == 0)
        *overlay = true;
    else if (strcmp(arg, "false") == 0)
        *overlay = false;
    else
        return error_set(err, EINVAL, "--overlay: expected true or false, got `%s`", arg);
    return 0;
}
