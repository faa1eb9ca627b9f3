/* A private scratch directory for the targets that must go through files
 * (auth.json, state.json).  tmpfs when there is one: on the ext4 root here
 * each O_TRUNC rewrite made close() start writeback, and that disk I/O was
 * 90% of those targets' time. */
#ifndef KEEL_FUZZ_TMPDIR_H
#define KEEL_FUZZ_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/vfs.h>

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

/* mkdtemp DIR/NAME_XXXXXX with DIR /dev/shm (tmpfs) or else $TMPDIR or
 * /tmp; aborts when no directory can be made (the target cannot run). */
static inline void fuzz_make_tmpdir(char *buf, size_t size, const char *name)
{
    struct statfs sf;
    const char *dir = getenv("TMPDIR");
    if (statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC)
        dir = "/dev/shm";
    else if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    if ((size_t)snprintf(buf, size, "%s/%s_XXXXXX", dir, name) >= size || mkdtemp(buf) == NULL)
        abort();
}

#endif
