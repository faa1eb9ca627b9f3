/* The compiled-filter cache and the on-disk program format.
 *
 * Engines use one profile for every container, so the BPF that libseccomp
 * produces for it is the same each time: keel keeps it under
 * <root>/seccomp-cache/<sha256 of the canonical plan>.  The plan's text
 * includes the native arch and the libseccomp version, so an upgrade never
 * reuses a stale program.
 *
 * File format (native endianness; a cache never leaves its host):
 *   "KEELBPF1"  8 bytes magic
 *   u32 version (2), u32 flags, u32 notify, u32 n_insns
 *   64 bytes hex key (sha256 of the plan; zeros when unknown)
 *   64 bytes checksum of the instructions (FNV-1a 64 in hex, zero-padded)
 *   n_insns * struct sock_filter
 * Writers write a unique temporary file and rename it, so readers see a
 * whole old or a whole new entry; a torn entry fails the checksum and is
 * compiled and rewritten.  The key must resist collisions (profiles come
 * from configs), so it is SHA-256; the checksum only catches torn or
 * damaged files in a root-only directory (anyone who can write there could
 * write any checksum), so a cheap one serves, and `exec`, which verifies
 * the container's copy, never has to load a SHA-256 implementation. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "seccomp_internal.h"
#include "sha256_light.h"
/* gnu11 predefines `linux` as 1; spec.h uses it as a member name. */
#undef linux
#include "spec.h"
#include "xalloc.h"

#define FILE_MAGIC "KEELBPF1"
#define FILE_VERSION 2u
#define HEX_LEN 64

struct file_header {
    char magic[8];
    uint32_t version;
    uint32_t flags;
    uint32_t notify;
    uint32_t n_insns;
    char key[HEX_LEN];
    char sum[HEX_LEN];
};

/* SHA-256 as hex into a fixed field, without libcrypto (sha256_light.h:
 * loading libcrypto would cost every keel command more than a cache hit).
 * Returns -1 when no hash is available at all: callers then bypass the
 * cache, and a file's checksum never verifies. */
static int sha256_hex(const void *data, size_t len, char out[HEX_LEN])
{
    char hex[65];
    if (sha256_light_hex(data, len, hex) < 0) {
        memset(out, 'x', HEX_LEN);
        return -1;
    }
    memcpy(out, hex, HEX_LEN);
    return 0;
}

/* FNV-1a 64 of the instructions, as hex, zero-padded into the field. */
static void body_checksum(const void *data, size_t len, char out[HEX_LEN])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h = 14695981039346656037ULL;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    memset(out, '0', HEX_LEN);
    for (int i = 15; i >= 0; i--, h >>= 4)
        out[i] = hex[h & 15];
}

void seccomp_program_encode(const struct seccomp_program *p, const char *key, struct strbuf *out)
{
    struct file_header h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, FILE_MAGIC, sizeof(h.magic));
    h.version = FILE_VERSION;
    h.flags = p->flags;
    h.notify = p->notify;
    h.n_insns = (uint32_t)p->n_insns;
    if (key)
        memcpy(h.key, key, HEX_LEN);
    else
        memset(h.key, '0', HEX_LEN);
    body_checksum(p->insns, p->n_insns * sizeof(struct sock_filter), h.sum);
    strbuf_append(out, &h, sizeof(h));
    strbuf_append(out, p->insns, p->n_insns * sizeof(struct sock_filter));
}

int seccomp_program_decode(const char *data, size_t len, const char *key, const char *name,
                           struct seccomp_program **out, struct keel_error **err)
{
    struct file_header h;
    if (len < sizeof(h))
        return error_set(err, 0, "seccomp program `%s`: truncated header (%zu bytes)", name, len);
    memcpy(&h, data, sizeof(h));
    if (memcmp(h.magic, FILE_MAGIC, sizeof(h.magic)) != 0)
        return error_set(err, 0, "seccomp program `%s`: not a keel seccomp program (bad magic)", name);
    if (h.version != FILE_VERSION)
        return error_set(err, 0, "seccomp program `%s`: format version %u, expected %u", name, h.version,
                         FILE_VERSION);
    if (h.n_insns == 0 || h.n_insns > BPF_MAXINSNS)
        return error_set(err, 0, "seccomp program `%s`: %u instructions, expected 1-%d", name, h.n_insns,
                         BPF_MAXINSNS);
    size_t body = (size_t)h.n_insns * sizeof(struct sock_filter);
    if (len != sizeof(h) + body)
        return error_set(err, 0, "seccomp program `%s`: %zu bytes, the header says %zu", name, len,
                         sizeof(h) + body);
    if (key && memcmp(h.key, key, HEX_LEN) != 0)
        return error_set(err, 0, "seccomp program `%s`: built from another profile (key mismatch)", name);
    char sum[HEX_LEN];
    body_checksum(data + sizeof(h), body, sum);
    if (memcmp(sum, h.sum, HEX_LEN) != 0)
        return error_set(err, 0, "seccomp program `%s`: checksum mismatch", name);
    struct seccomp_program *p = xzalloc(sizeof(*p));
    p->insns = xmalloc(body);
    memcpy(p->insns, data + sizeof(h), body);
    p->n_insns = h.n_insns;
    p->flags = h.flags;
    p->notify = h.notify != 0;
    *out = p;
    return 0;
}

/* Temp file + rename without fsync: the checksum catches a torn file
 * after a crash, and a lost entry only costs one compilation. */
static int write_replace_at(int dirfd, const char *name, const void *data, size_t len,
                            struct keel_error **err)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    cleanup_free char *tmp = xasprintf(".%s.tmp.%d.%lx", name, (int)getpid(), (unsigned long)ts.tv_nsec);
    return file_replace_at(dirfd, name, tmp, data, len, 0600, FILE_REPLACE_EXCL, err);
}

static int save_with_key(const struct seccomp_program *p, const char *key, int dirfd, const char *name,
                         struct keel_error **err)
{
    cleanup_strbuf struct strbuf sb = STRBUF_INIT;
    seccomp_program_encode(p, key, &sb);
    if (write_replace_at(dirfd, name, sb.buf, sb.len, err) < 0)
        return error_prefix(err, "saving the seccomp program");
    return 0;
}

int seccomp_program_save(const struct seccomp_program *p, int dirfd, const char *name,
                         struct keel_error **err)
{
    return save_with_key(p, NULL, dirfd, name, err);
}

static int load_with_key(int dirfd, const char *name, const char *key, struct seccomp_program **out,
                         struct keel_error **err)
{
    cleanup_free char *data = NULL;
    size_t len = 0;
    size_t max = sizeof(struct file_header) + BPF_MAXINSNS * sizeof(struct sock_filter);
    if (file_read_whole_at(dirfd, name, max, &data, &len, err) < 0)
        return -1;
    return seccomp_program_decode(data, len, key, name, out, err);
}

int seccomp_program_load_file(int dirfd, const char *name, struct seccomp_program **out,
                              struct keel_error **err)
{
    return load_with_key(dirfd, name, NULL, out, err);
}

/* Keep the cache bounded and clean, on the (already slow) miss path only:
 * temporary files older than a minute are debris of a crashed writer, and
 * past CACHE_MAX_ENTRIES the oldest entry goes (engines use a handful of
 * profiles; a bundle author who varies the profile per container must not
 * fill the runtime root). */
#define CACHE_MAX_ENTRIES 256
#define STALE_TMP_SECONDS 60

static void cache_prune(int dirfd)
{
    int dfd = dup(dirfd);
    if (dfd < 0)
        return;
    cleanup_dir DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return;
    }
    time_t now = time(NULL);
    size_t n = 0;
    char oldest[256] = "";
    struct timespec oldest_t = {0, 0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (e->d_name[0] == '.') {
            if (S_ISREG(st.st_mode) && now - st.st_mtim.tv_sec > STALE_TMP_SECONDS)
                unlinkat(dirfd, e->d_name, 0);
            continue;
        }
        n++;
        if (oldest[0] == '\0' || st.st_mtim.tv_sec < oldest_t.tv_sec ||
            (st.st_mtim.tv_sec == oldest_t.tv_sec && st.st_mtim.tv_nsec < oldest_t.tv_nsec)) {
            snprintf(oldest, sizeof(oldest), "%s", e->d_name);
            oldest_t = st.st_mtim;
        }
    }
    if (n >= CACHE_MAX_ENTRIES && oldest[0])
        unlinkat(dirfd, oldest, 0);
}

static int cache_open(const char *cache_dir)
{
    int fd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && fs_mkdir_p(cache_dir, 0700, NULL) == 0)
        fd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd;
}

int seccomp_program_build(const struct spec_seccomp *s, const char *cache_dir, struct seccomp_program **out,
                          struct keel_error **err)
{
    cleanup_seccomp_plan struct seccomp_plan plan;
    if (seccomp_plan_build(s, &plan, err) < 0)
        return -1;
    if (cache_dir == NULL)
        return seccomp_plan_compile(&plan, out, err);

    cleanup_strbuf struct strbuf canon = STRBUF_INIT;
    seccomp_plan_serialize(&plan, &canon);
    char key[HEX_LEN + 1];
    if (sha256_hex(canon.buf, canon.len, key) < 0)
        return seccomp_plan_compile(&plan, out, err);
    key[HEX_LEN] = '\0';

    /* Any cache trouble (unwritable root, corrupt entry) only costs the
     * compilation; it never fails the container. */
    cleanup_close int dirfd = cache_open(cache_dir);
    if (dirfd >= 0 && load_with_key(dirfd, key, key, out, NULL) == 0)
        return 0;
    cleanup_seccomp_program struct seccomp_program *p = NULL;
    if (seccomp_plan_compile(&plan, &p, err) < 0)
        return -1;
    if (dirfd >= 0) {
        cache_prune(dirfd);
        (void)save_with_key(p, key, dirfd, key, NULL);
    }
    *out = steal_ptr(&p);
    return 0;
}
