/* libseccomp, loaded only when a filter has to be compiled.
 *
 * Most keel commands never compile a filter (a warm cache hit, start,
 * state, delete, kill...), yet linking libseccomp made every one of them map
 * and relocate it at start-up (about 80 us of CPU here).  So keel dlopen()s
 * it on a cache miss, from the path configure found it at.
 *
 * The cache key must still name the library that would compile the filter,
 * without loading it.  That is the identity of the file the soname link
 * points to: its name carries the version (libseccomp.so.2.5.4), and the
 * device, inode, size and mtime change with every package update, also one
 * that keeps the upstream version (a distribution's security fix).  The
 * identity is taken again after dlopen(); if the file changed in between,
 * the program is used but not cached under the old identity.
 *
 * A static keel (--enable-static-keel) links libseccomp in: the identity is
 * the build's libseccomp version plus keel's own executable file. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "seccomp_internal.h"

#ifndef KEEL_LIBSECCOMP_LIBDIR
#define KEEL_LIBSECCOMP_LIBDIR "/usr/lib"
#endif
#ifndef KEEL_LIBSECCOMP_LIBDIR_NOUSR
#define KEEL_LIBSECCOMP_LIBDIR_NOUSR "/lib"
#endif
#define LIBSECCOMP_SONAME "libseccomp.so.2"

static void append_file_identity(struct strbuf *out, const char *label, const struct stat *st)
{
    strbuf_printf(out, "%s %llx:%llx %lld %lld.%09ld", label, (unsigned long long)st->st_dev,
                  (unsigned long long)st->st_ino, (long long)st->st_size, (long long)st->st_mtim.tv_sec,
                  st->st_mtim.tv_nsec);
}

#ifdef KEEL_SECCOMP_LINKED

int seccomp_lib_identity(struct strbuf *out)
{
    struct stat st;
    if (stat("/proc/self/exe", &st) < 0)
        return -1;
    strbuf_printf(out, "libseccomp static %s ", KEEL_LIBSECCOMP_BUILD_VERSION);
    append_file_identity(out, "keel", &st);
    return 0;
}

int seccomp_lib_open(struct seccomp_lib *lib, struct keel_error **err)
{
    (void)err;
    *lib = (struct seccomp_lib){
        .init = seccomp_init,
        .arch_add = seccomp_arch_add,
        .syscall_resolve_name = seccomp_syscall_resolve_name,
        .rule_add_array = seccomp_rule_add_array,
        .export_bpf = seccomp_export_bpf,
        .release = seccomp_release,
        .version = seccomp_version,
    };
    return 0;
}

#else

/* Where the runtime library lives: configure's libdir, or the same path
 * without /usr on a system whose /lib is not merged into /usr (the -dev
 * package's libdir then holds only the libseccomp.so link). */
static const char *const lib_paths[] = {
    KEEL_LIBSECCOMP_LIBDIR "/" LIBSECCOMP_SONAME,
    KEEL_LIBSECCOMP_LIBDIR_NOUSR "/" LIBSECCOMP_SONAME,
};

/* The first candidate that exists, with its stat; NULL if none does. */
static const char *lib_path(struct stat *st)
{
    for (size_t i = 0; i < sizeof(lib_paths) / sizeof(lib_paths[0]); i++)
        if (stat(lib_paths[i], st) == 0)
            return lib_paths[i];
    return NULL;
}

int seccomp_lib_identity(struct strbuf *out)
{
    struct stat st;
    const char *path = lib_path(&st);
    if (path == NULL)
        return -1; /* loaded by soname: unknown which file, so never cached */
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n < 0) {
        if (errno != EINVAL) /* EINVAL: a plain file, not a link */
            return -1;
        n = 0;
    }
    target[n] = '\0';
    strbuf_printf(out, "libseccomp %s -> %s ", path, target);
    append_file_identity(out, "file", &st);
    return 0;
}

/* dlsym into a function pointer of the right type without a cast between
 * object and function pointers (which ISO C leaves undefined). */
#define LOAD(handle, field, name)                                                                            \
    do {                                                                                                     \
        void *sym_ = dlsym(handle, name);                                                                    \
        if (sym_ == NULL)                                                                                    \
            return error_set(err, ENOSYS, "`%s` has no symbol %s", where, name);                             \
        memcpy(&lib->field, &sym_, sizeof(sym_));                                                            \
    } while (0)

int seccomp_lib_open(struct seccomp_lib *lib, struct keel_error **err)
{
    struct stat st;
    const char *path = lib_path(&st);
    const char *where = path ? path : LIBSECCOMP_SONAME;
    /* Never unloaded: a second compile in the same process (tests, bench)
     * finds it mapped already. */
    void *h = dlopen(where, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (h == NULL)
        return error_set(err, ENOENT, "loading libseccomp: %s (install libseccomp2)", dlerror());
    LOAD(h, init, "seccomp_init");
    LOAD(h, arch_add, "seccomp_arch_add");
    LOAD(h, syscall_resolve_name, "seccomp_syscall_resolve_name");
    LOAD(h, rule_add_array, "seccomp_rule_add_array");
    LOAD(h, export_bpf, "seccomp_export_bpf");
    LOAD(h, release, "seccomp_release");
    LOAD(h, version, "seccomp_version");
    return 0;
}

#endif

int seccomp_library_version(unsigned *major, unsigned *minor, unsigned *micro, struct keel_error **err)
{
    struct seccomp_lib lib;
    if (seccomp_lib_open(&lib, err) < 0)
        return -1;
    const struct scmp_version *v = lib.version();
    *major = v->major;
    *minor = v->minor;
    *micro = v->micro;
    return 0;
}
