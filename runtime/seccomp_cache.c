/* The compiled-filter cache and the on-disk program format.
 *
 * Engines use one profile for every container, so the BPF that libseccomp
 * produces for it is the same each time: keel keeps it under
 * <root>/seccomp-cache/<name>.  The canonical plan (seccomp_compile.c)
 * includes keel's arch and the identity of the libseccomp file that
 * compiles it, so an upgrade never reuses a stale program.
 *
 * No cryptographic hash is needed, so none is loaded: the entry is named by
 * the 64-bit FNV-1a of the canonical plan, and it stores the whole plan, which
 * a hit compares byte for byte with the wanted one.  Two plans with the same
 * name (an accident, or a profile crafted to collide) only cost a miss and
 * a recompilation, never a wrong filter.
 *
 * File format (native endianness; a cache never leaves its host):
 *   "KEELBPF1"  8 bytes magic
 *   u32 version (3), u32 flags, u32 notify, u32 n_insns, u32 plan_len,
 *   u32 reserved (0), u64 checksum
 *   plan_len bytes of canonical plan (0 in the state-dir copy)
 *   n_insns * struct sock_filter
 * Writers write a unique temporary file and rename it, so readers see a
 * whole old or a whole new entry; a torn or damaged entry fails the
 * checksum (FNV-1a 64 over the header with a zero checksum, the plan and
 * the instructions) and is compiled and rewritten.  The checksum is no
 * defence against a writer (the directory is root's): the plan comparison
 * is what ties an entry to its profile. */
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
/* gnu11 predefines `linux` as 1; spec.h uses it as a member name. */
#undef linux
#include "spec.h"
#include "xalloc.h"

#define FILE_MAGIC "KEELBPF1"
#define FILE_VERSION 3u
/* podman's profile gives about 8 KiB of plan; this bounds a hostile file. */
#define MAX_PLAN_LEN (1u << 20)

struct file_header {
    char magic[8];
    uint32_t version;
    uint32_t flags;
    uint32_t notify;
    uint32_t n_insns;
    uint32_t plan_len;
    uint32_t reserved;
    uint64_t sum;
};

#define FNV1A64_INIT 14695981039346656037ULL

static uint64_t fnv1a64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t file_checksum(const struct file_header *h, const void *plan, const void *insns,
                              size_t insns_len)
{
    struct file_header zeroed = *h;
    zeroed.sum = 0;
    uint64_t sum = fnv1a64(FNV1A64_INIT, &zeroed, sizeof(zeroed));
    sum = fnv1a64(sum, plan, h->plan_len);
    return fnv1a64(sum, insns, insns_len);
}

void seccomp_program_encode(const struct seccomp_program *p, const char *plan, size_t plan_len,
                            struct strbuf *out)
{
    struct file_header h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, FILE_MAGIC, sizeof(h.magic));
    h.version = FILE_VERSION;
    h.flags = p->flags;
    h.notify = p->notify;
    h.n_insns = (uint32_t)p->n_insns;
    h.plan_len = plan ? (uint32_t)plan_len : 0;
    size_t body = p->n_insns * sizeof(struct sock_filter);
    h.sum = file_checksum(&h, plan, p->insns, body);
    strbuf_append(out, &h, sizeof(h));
    if (h.plan_len)
        strbuf_append(out, plan, h.plan_len);
    strbuf_append(out, p->insns, body);
}

int seccomp_program_decode(const char *data, size_t len, const char *plan, size_t plan_len, const char *name,
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
    if (h.plan_len > MAX_PLAN_LEN)
        return error_set(err, 0, "seccomp program `%s`: a %u-byte plan, at most %u are allowed", name,
                         h.plan_len, MAX_PLAN_LEN);
    size_t body = (size_t)h.n_insns * sizeof(struct sock_filter);
    if (len != sizeof(h) + h.plan_len + body)
        return error_set(err, 0, "seccomp program `%s`: %zu bytes, the header says %zu", name, len,
                         sizeof(h) + h.plan_len + body);
    const char *stored_plan = data + sizeof(h);
    const char *insns = stored_plan + h.plan_len;
    if (file_checksum(&h, stored_plan, insns, body) != h.sum)
        return error_set(err, 0, "seccomp program `%s`: checksum mismatch", name);
    if (plan && (h.plan_len != plan_len || memcmp(stored_plan, plan, plan_len) != 0))
        return error_set(err, 0, "seccomp program `%s`: built from another profile (plan mismatch)", name);
    struct seccomp_program *p = xzalloc(sizeof(*p));
    p->insns = xmalloc(body);
    memcpy(p->insns, insns, body);
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

static int save_with_plan(const struct seccomp_program *p, const struct strbuf *plan, int dirfd,
                          const char *name, struct keel_error **err)
{
    cleanup_strbuf struct strbuf sb = STRBUF_INIT;
    seccomp_program_encode(p, plan ? plan->buf : NULL, plan ? plan->len : 0, &sb);
    if (write_replace_at(dirfd, name, sb.buf, sb.len, err) < 0)
        return error_prefix(err, "saving the seccomp program");
    return 0;
}

int seccomp_program_save(const struct seccomp_program *p, int dirfd, const char *name,
                         struct keel_error **err)
{
    return save_with_plan(p, NULL, dirfd, name, err);
}

static int load_with_plan(int dirfd, const char *name, const struct strbuf *plan,
                          struct seccomp_program **out, struct keel_error **err)
{
    cleanup_free char *data = NULL;
    size_t len = 0;
    size_t max = sizeof(struct file_header) + MAX_PLAN_LEN + BPF_MAXINSNS * sizeof(struct sock_filter);
    if (file_read_whole_at(dirfd, name, max, &data, &len, err) < 0)
        return -1;
    return seccomp_program_decode(data, len, plan ? plan->buf : NULL, plan ? plan->len : 0, name, out, err);
}

int seccomp_program_load_file(int dirfd, const char *name, struct seccomp_program **out,
                              struct keel_error **err)
{
    return load_with_plan(dirfd, name, NULL, out, err);
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
    cleanup_strbuf struct strbuf canon = STRBUF_INIT;
    if (cache_dir == NULL || seccomp_plan_serialize(&plan, &canon) < 0)
        return seccomp_plan_compile(&plan, out, err);
    char name[17];
    snprintf(name, sizeof(name), "%016llx", (unsigned long long)fnv1a64(FNV1A64_INIT, canon.buf, canon.len));

    /* Any cache trouble (unwritable root, corrupt entry) only costs the
     * compilation; it never fails the container. */
    cleanup_close int dirfd = cache_open(cache_dir);
    if (dirfd >= 0 && load_with_plan(dirfd, name, &canon, out, NULL) == 0)
        return 0;
    cleanup_seccomp_program struct seccomp_program *p = NULL;
    if (seccomp_plan_compile(&plan, &p, err) < 0)
        return -1;
    /* Store only what the library the plan names compiled: if its file was
     * replaced meanwhile (a package upgrade), the plan no longer says who
     * built this program. */
    cleanup_strbuf struct strbuf again = STRBUF_INIT;
    if (dirfd >= 0 && seccomp_plan_serialize(&plan, &again) == 0 && again.len == canon.len &&
        memcmp(again.buf, canon.buf, canon.len) == 0) {
        cache_prune(dirfd);
        (void)save_with_plan(p, &canon, dirfd, name, NULL);
    }
    *out = steal_ptr(&p);
    return 0;
}
