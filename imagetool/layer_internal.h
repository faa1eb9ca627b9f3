/* Shared by the layer_*.c files only. */
#ifndef KEEL_HOIST_LAYER_INTERNAL_H
#define KEEL_HOIST_LAYER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "layer.h"

struct archive;
struct archive_entry;
struct keel_error;

/* A set of clean paths: the entries this layer has written (whiteouts hide
 * only what lower layers made). */
struct layer_pathset {
    char **slots;
    size_t cap, n;
};
bool layer_pathset_add(struct layer_pathset *s, const char *path); /* false when present */
bool layer_pathset_has(const struct layer_pathset *s, const char *path);
void layer_pathset_release(struct layer_pathset *s);

/* Directory fds along the last parent path, reused by the next entry
 * (tar streams list siblings together).  Every component was opened with
 * O_NOFOLLOW from its parent, so each fd is a real directory beneath the
 * root; the only operations that remove or replace a directory act on a
 * child of the deepest cached fd, never on a cached one. */
struct layer_dirs {
    int rootfd;
    char *path;   /* the cached directory path, "" for the root */
    size_t *ends; /* ends[i]: length of path's prefix of i+1 components */
    int *fds;     /* fds[i]: that prefix, O_PATH */
    size_t depth, cap;
    /* Makes a missing parent directory `prefix` as comp in parent; NULL:
     * mkdirat 0755 (overlay mode copies the lower layers' attributes). */
    int (*make_dir)(void *arg, int parent, const char *comp, const char *prefix, struct keel_error **err);
    void *make_dir_arg;
    /* Called with each directory the walk opens (before anything is made
     * in it): the applier records its times to restore them. */
    void (*on_open)(void *arg, int fd, const char *prefix);
    void *on_open_arg;
};
void layer_dirs_init(struct layer_dirs *d, int rootfd);
void layer_dirs_release(struct layer_dirs *d);
/* A borrowed fd on directory dir (clean, "" = root).  create: missing
 * components are made (0755).  Otherwise a missing one gives -1 with
 * *missing set and no error.  A symlink or non-directory is an error. */
int layer_dirs_get(struct layer_dirs *d, const char *dir, bool create, bool *missing,
                   struct keel_error **err);

/* Clean a tar name into a relative path without "." or empty components
 * ("" for the root).  Absolute names and ".." are errors. */
int layer_path_clean(const char *raw, char **out, struct keel_error **err);

struct layer_dir_times {
    char *path;
    uint32_t mode;
    struct timespec times[2];
};

struct layer_ctx {
    const struct layer_apply_opts *opts;
    int rootfd;
    struct layer_dirs dirs;
    struct layer_pathset seen;         /* entries of this layer */
    struct layer_pathset ancestors;    /* their parent directories */
    struct layer_dir_times *dir_times; /* directory modes and times, set at the end */
    size_t n_dir_times, cap_dir_times;
    /* Times of lower layers' directories this layer may change, restored at the end. */
    struct layer_dir_times *old_times;
    size_t n_old_times, cap_old_times;
    struct layer_pathset old_seen;
    uint64_t bytes, entries;
};

/* Create one (non-whiteout) entry as name in dirfd. */
int layer_entry_apply(struct layer_ctx *ctx, struct archive *a, struct archive_entry *e, const char *path,
                      int dirfd, const char *name, struct keel_error **err);
/* Record the times of directory fd (path) before this layer changes it. */
void layer_entry_note_dir(struct layer_ctx *ctx, int fd, const char *path);
/* Apply the modes and times of this layer's directories (children first),
 * and give the lower layers' directories it changed their times back. */
int layer_entry_finish_dirs(struct layer_ctx *ctx, struct keel_error **err);
/* Remove name in dirfd, whatever it is (absent is fine). */
int layer_remove_at(int dirfd, const char *name, struct keel_error **err);

/* Record an entry of this layer; whether path or something beneath it is one. */
void layer_seen_add(struct layer_ctx *ctx, const char *path);
bool layer_seen_under(const struct layer_ctx *ctx, const char *path);

/* A whiteout entry `dir/base` (base starts with ".wh."). */
int layer_whiteout_apply(struct layer_ctx *ctx, const char *dir, const char *base, struct keel_error **err);

/* Overlay mode (layer_overlay.c): whiteouts become overlayfs whiteouts. */
int layer_overlay_init(struct layer_ctx *ctx);
int layer_overlay_whiteout(struct layer_ctx *ctx, const char *dir, const char *base, struct keel_error **err);
/* Mark directory fd (opened O_PATH or not) opaque for overlayfs. */
int layer_overlay_set_opaque(int fd, struct keel_error **err);
/* A hardlink whose target only a lower layer has: copy it to dirfd/name. */
int layer_overlay_copy_lower(struct layer_ctx *ctx, const char *target, int dirfd, const char *name,
                             struct keel_error **err);

#define LAYER_WHITEOUT_PREFIX ".wh."
#define LAYER_WHITEOUT_OPAQUE ".wh..wh..opq"

#endif
