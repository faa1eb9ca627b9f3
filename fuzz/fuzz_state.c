/* libFuzzer target: state.json as found on disk (another process, a crash
 * or a full disk may have left anything there) through state_read, and
 * the writers round trip: what state_read accepts, state_write writes and
 * state_read reads back to the same state, and state_oci_json (what
 * `keel state` and hooks print) is the same for both. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "fileutil.h"
#include "tmpdir.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static int dirfd_ = -1;

static void remove_dir(void)
{
    unlinkat(dirfd_, STATE_FILE, 0);
    unlinkat(dirfd_, STATE_FILE ".tmp", 0);
    rmdir(dir);
}

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dirfd_ < 0) {
        fuzz_make_tmpdir(dir, sizeof(dir), "fuzz_state");
        dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd_ < 0)
            abort();
        atexit(remove_dir);
    }
    int fd = openat(dirfd_, STATE_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fd_write_all(fd, data, size) < 0)
        abort();
    close(fd);

    struct keel_error *err = NULL;
    struct container_state *s = NULL;
    if (state_read(dirfd_, "fuzz", &s, &err) < 0) {
        error_free(err);
        return 0;
    }
    char *j1[2] = {state_oci_json(s, CONTAINER_RUNNING, true, false),
                   state_oci_json(s, CONTAINER_STOPPED, false, true)};
    if (state_write(dirfd_, s, &err) < 0)
        abort(); /* a writable directory: writing what was read cannot fail */
    struct container_state *s2 = NULL;
    if (state_read(dirfd_, "fuzz", &s2, &err) < 0)
        abort(); /* keel must read back what it wrote */
    char *j2[2] = {state_oci_json(s2, CONTAINER_RUNNING, true, false),
                   state_oci_json(s2, CONTAINER_STOPPED, false, true)};
    if (strcmp(j1[0], j2[0]) != 0 || strcmp(j1[1], j2[1]) != 0)
        abort();
    if (!same(s->id, s2->id) || !same(s->bundle, s2->bundle) || !same(s->rootfs, s2->rootfs) ||
        !same(s->created, s2->created) || !same(s->owner, s2->owner) || !same(s->cgroup, s2->cgroup) ||
        s->pid != s2->pid || s->pid_start != s2->pid_start || s->pid_ns != s2->pid_ns ||
        s->systemd_cgroup != s2->systemd_cgroup)
        abort();
    for (int i = 0; i < 2; i++) {
        free(j1[i]);
        free(j2[i]);
    }
    container_state_free(s);
    container_state_free(s2);
    return 0;
}
