/* Paths resolved strictly beneath a root directory, as if the root were "/":
 * "..", absolute names and symlinks (absolute or relative) can never lead
 * out of it.  Uses openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS); where
 * the kernel lacks openat2, a component-by-component walk does the same. */
#ifndef KEEL_SAFEPATH_H
#define KEEL_SAFEPATH_H

#include <stdbool.h>
#include <sys/types.h>

struct keel_error;

/* Open path beneath rootfd with open(2) flags (O_CLOEXEC is always added;
 * O_CREAT creates the last component).  Returns the fd, or -1 with err. */
int safepath_open(int rootfd, const char *path, int flags, mode_t mode, struct keel_error **err);
/* The same, forcing the fallback walk (exported for tests). */
int safepath_open_walk(int rootfd, const char *path, int flags, mode_t mode, struct keel_error **err);

/* mkdir -p beneath rootfd; returns an O_PATH|O_DIRECTORY fd on the final
 * directory.  A component that exists and is not a directory is an error. */
int safepath_mkdir_p(int rootfd, const char *path, mode_t mode, struct keel_error **err);

/* Create (if missing) the last component of path beneath rootfd as a
 * directory (dir=true) or an empty regular file, parents included, and
 * return an O_PATH fd to it: the target for a mount. */
int safepath_mkpath(int rootfd, const char *path, bool dir, mode_t mode, struct keel_error **err);

/* "/proc/self/fd/N" for an fd, to hand to mount(2) and friends. */
void safepath_fd_path(int fd, char buf[static 32]);

#endif
