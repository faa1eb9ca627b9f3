/* Files and directories: whole-file reads, atomic writes, mkdir -p. */
#ifndef KEEL_FILEUTIL_H
#define KEEL_FILEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct keel_error;

/* write(2) until done, retrying EINTR. Returns 0 or -errno. */
int fd_write_all(int fd, const void *buf, size_t len);
/* read(2) up to len bytes, retrying EINTR/short reads. Returns bytes read or -errno. */
ssize_t fd_read_all(int fd, void *buf, size_t len);

/* Read all of fd / path (at most max bytes; more is an error naming path).
 * *out is NUL-terminated; *len (optional) excludes the NUL. */
int fd_read_whole(int fd, const char *name, size_t max, char **out, size_t *len, struct keel_error **err);
int file_read_whole(const char *path, size_t max, char **out, size_t *len, struct keel_error **err);
int file_read_whole_at(int dirfd, const char *path, size_t max, char **out, size_t *len,
                       struct keel_error **err);

/* Write data to path so that readers see the old or the new file, never a
 * part: a temporary file in the same directory, fsync, rename, fsync dir. */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct keel_error **err);
int file_write_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                         struct keel_error **err);

enum {
    FILE_REPLACE_SYNC = 1 << 0, /* fsync the file and its directory: the new content survives a crash */
    FILE_REPLACE_EXCL = 1 << 1, /* tmp must not exist yet (a name unique to this writer) */
};
/* The step under file_write_atomic_at, for callers that name the temporary
 * file themselves (in name's directory) or do not need durability: write
 * data to tmp, rename it over name; tmp is removed on failure. */
int file_replace_at(int dirfd, const char *name, const char *tmp, const void *data, size_t len, mode_t mode,
                    unsigned flags, struct keel_error **err);

/* Write a string to an existing file (cgroup, /proc knobs): no O_CREAT. */
int file_write_string(const char *path, const char *s, struct keel_error **err);
int file_write_string_at(int dirfd, const char *name, const char *s, struct keel_error **err);

/* mkdir -p; existing directories are fine, an existing non-directory is not. */
int fs_mkdir_p(const char *path, mode_t mode, struct keel_error **err);
/* rm -rf that never crosses mount points or follows symlinks. Missing is fine. */
int fs_remove_tree(const char *path, struct keel_error **err);
int fs_remove_tree_at(int dirfd, const char *name, struct keel_error **err);

bool fs_exists(const char *path);

#endif
