/* libFuzzer target for the layer applier: the input is an uncompressed tar
 * applied onto a fresh rootfs beside a canary directory.  A crash, a
 * sanitizer report, or any change beside the rootfs (the canary, or a new
 * name next to it) is a finding.  Build: make fuzz-layer (clang). */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileutil.h"
#include "layer.h"
#include "layer_owner.h"

static char base[] = "/tmp/fuzz_layer_XXXXXX";
static char canary_file[64], root[64];
static struct stat canary_before;

static void cleanup_base(void)
{
    fs_remove_tree(base, NULL);
}

static void setup(void)
{
    if (!mkdtemp(base))
        abort();
    atexit(cleanup_base);
    char dir[64];
    snprintf(dir, sizeof(dir), "%s/canary", base);
    snprintf(canary_file, sizeof(canary_file), "%s/canary/file", base);
    snprintf(root, sizeof(root), "%s/root", base);
    if (mkdir(dir, 0755) < 0)
        abort();
    FILE *f = fopen(canary_file, "w");
    if (!f)
        abort();
    fputs("canary\n", f);
    fclose(f);
    if (stat(dir, &canary_before) < 0)
        abort();
}

static void check_outside(void)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "%s/canary", base);
    struct stat st;
    if (stat(dir, &st) < 0 || st.st_mtim.tv_sec != canary_before.st_mtim.tv_sec ||
        st.st_mtim.tv_nsec != canary_before.st_mtim.tv_nsec || st.st_nlink != canary_before.st_nlink)
        abort(); /* something was created or removed in the canary */
    char buf[16] = "";
    FILE *f = fopen(canary_file, "r");
    if (!f || !fgets(buf, sizeof(buf), f) || strcmp(buf, "canary\n") != 0)
        abort();
    fclose(f);
    DIR *d = opendir(base);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "canary") &&
            strcmp(de->d_name, "root"))
            abort(); /* a name appeared beside the rootfs */
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (base[sizeof(base) - 2] == 'X')
        setup();
    int blob = memfd_create("layer", MFD_CLOEXEC);
    if (blob < 0 || fd_write_all(blob, data, size) < 0)
        abort();
    lseek(blob, 0, SEEK_SET);
    if (mkdir(root, 0755) < 0)
        abort();
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* Rootless: no device nodes or chowns on the fuzzing host. */
    struct layer_owner owner;
    layer_owner_init(&owner, LAYER_OWNER_ROOTLESS, NULL, NULL);
    struct layer_apply_opts o = {.compression = LAYER_COMPRESSION_NONE,
                                 .size = -1,
                                 .owner = &owner,
                                 .max_bytes = 64 << 20,
                                 .max_entries = 4096};
    struct keel_error *err = NULL;
    layer_apply(rootfd, blob, &o, &err);
    error_free(err);
    layer_owner_release(&owner);
    close(rootfd);
    close(blob);
    check_outside();
    if (fs_remove_tree(root, NULL) < 0)
        abort();
    return 0;
}
