/* Whiteouts (image-spec layer.md): `.wh.NAME` removes NAME, `.wh..wh..opq`
 * removes every child of its directory; both only hide what lower layers
 * made, never an entry of the same layer, whatever the order. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "layer_internal.h"
#include "xalloc.h"

static char *whiteout_join(const char *dir, const char *name)
{
    return dir[0] ? xasprintf("%s/%s", dir, name) : xstrdup(name);
}

/* Remove what lower layers left beneath dirfd (whose path is dir). */
static int whiteout_clear_dir(struct layer_ctx *ctx, int dirfd, const char *dir, struct keel_error **err)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, errno, "opening `%s`", dir);
    cleanup_dir DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return error_set(err, errno, "reading `%s`", dir);
    }
    cleanup_strv char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        names = xrealloc(names, (n + 2) * sizeof(char *));
        names[n++] = xstrdup(de->d_name);
        names[n] = NULL;
    }
    if (errno)
        return error_set(err, errno, "reading `%s`", dir);
    for (size_t i = 0; i < n; i++) {
        cleanup_free char *child = whiteout_join(dir, names[i]);
        if (!layer_seen_under(ctx, child)) {
            if (layer_remove_at(dirfd, names[i], err) < 0)
                return -1;
            continue;
        }
        /* This layer wrote the child or something beneath it: keep those,
         * clear what is left of the lower layers inside. */
        struct stat st;
        if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
            return error_set(err, errno, "inspecting `%s`", child);
        if (!S_ISDIR(st.st_mode))
            continue;
        cleanup_close int sub = openat(dirfd, names[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            return error_set(err, errno, "opening `%s`", child);
        if (whiteout_clear_dir(ctx, sub, child, err) < 0)
            return -1;
    }
    return 0;
}

int layer_whiteout_apply(struct layer_ctx *ctx, const char *dir, const char *base, struct keel_error **err)
{
    bool opaque = strcmp(base, LAYER_WHITEOUT_OPAQUE) == 0;
    const char *victim = base + strlen(LAYER_WHITEOUT_PREFIX);
    if (!opaque && (victim[0] == '\0' || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0))
        return error_set(err, 0, "whiteout of `%s` is not allowed", victim[0] ? victim : "(empty name)");
    if (ctx->opts->overlay)
        return layer_overlay_whiteout(ctx, dir, base, err);
    bool missing;
    int dirfd = layer_dirs_get(&ctx->dirs, dir, false, &missing, err);
    if (dirfd < 0)
        return missing ? 0 : -1; /* nothing below to hide */
    if (opaque)
        return whiteout_clear_dir(ctx, dirfd, dir, err);
    cleanup_free char *path = whiteout_join(dir, victim);
    if (layer_pathset_has(&ctx->seen, path))
        return 0;
    if (layer_seen_under(ctx, path)) {
        /* Entries of this layer beneath it stay; lower ones go. */
        cleanup_close int sub = openat(dirfd, victim, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            return error_set(err, errno, "opening `%s`", path);
        return whiteout_clear_dir(ctx, sub, path, err);
    }
    return layer_remove_at(dirfd, victim, err);
}
