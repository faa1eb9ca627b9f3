/* The image store: an OCI image layout directory.
 *
 *   DIR/oci-layout     {"imageLayoutVersion":"1.0.0"}
 *   DIR/index.json     one descriptor per tag; annotation
 *                      org.opencontainers.image.ref.name = ref_format(ref)
 *   DIR/blobs/ALG/HEX  content, always verified before it gets there
 *   DIR/.tmp/          partial downloads (kept for Range resume)
 *   DIR/.lock          flock: shared for readers/writers of blobs,
 *                      exclusive for gc; index.json updates take .index.lock
 *
 * Crash safety: a blob is written to .tmp, verified, fsynced and renamed
 * into blobs/; index.json is replaced atomically and only after every blob
 * it references is in place, so a referenced blob is never missing or wrong.
 * Two hoist processes may pull into one store at once. */
#ifndef KEEL_HOIST_STORE_H
#define KEEL_HOIST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"

struct keel_error;
struct store;

/* Open (create=true: create it when missing) and take the shared lock. */
int store_open(const char *dir, bool create, struct store **out, struct keel_error **err);
void store_close(struct store *s);
void store_closep(struct store **s);
#define cleanup_store __attribute__((cleanup(store_closep)))
const char *store_dir(const struct store *s);

/* What ref_name (ref_format() of a reference) points to: a manifest or an
 * index descriptor. Not found is an error with errnum ENOENT. */
int store_resolve(struct store *s, const char *ref_name, struct oci_descriptor *out, struct keel_error **err);

/* Whole blob into memory, at most max bytes, digest verified. */
int store_read_blob(struct store *s, const char *digest, size_t max, char **buf, size_t *len,
                    struct keel_error **err);
/* Read-only fd on a blob (not re-verified: blobs are verified on the way in). */
int store_open_blob(struct store *s, const char *digest, int *fd, struct keel_error **err);
/* "DIR/blobs/ALG/HEX", caller frees. NULL when digest is invalid. */
char *store_blob_path(struct store *s, const char *digest);
bool store_has_blob(struct store *s, const char *digest);

/* Add a blob held in memory (verified against digest when digest != NULL;
 * *out_digest, optional, receives the computed digest). */
int store_write_blob(struct store *s, const char *digest, const void *data, size_t len, char **out_digest,
                     struct keel_error **err);

/* Streaming writes: a temp file under .tmp named after the digest, so an
 * interrupted download can be resumed. */
struct store_writer;
/* Opens (or reopens, for resume=true) the temp file for digest. Returns 1
 * (and *out NULL) when the blob is in the store already (maybe put there by
 * another hoist meanwhile), 2 (and *out NULL) when another hoist is
 * writing it right now (try again later; never blocks).
 * *offset receives how many bytes it already holds (0 unless resuming);
 * the bytes already there are hashed again so verification covers them. */
int store_writer_open(struct store *s, const char *digest, int64_t expected_size, bool resume,
                      struct store_writer **out, int64_t *offset, struct keel_error **err);
int store_writer_write(struct store_writer *w, const void *data, size_t len, struct keel_error **err);
/* Drop what was written so far and start from byte 0 (server ignored Range). */
int store_writer_restart(struct store_writer *w, struct keel_error **err);
int64_t store_writer_size(const struct store_writer *w);
/* Verify digest and size, fsync, rename into blobs/. On mismatch the temp
 * file is removed and the error names the blob, expected and actual digest. */
int store_writer_commit(struct store_writer *w, struct keel_error **err);
/* Close; keep=true leaves the temp file for a later resume. */
void store_writer_abort(struct store_writer *w, bool keep);

/* Point ref_name at desc (replacing an existing tag). */
int store_tag(struct store *s, const char *ref_name, const struct oci_descriptor *desc,
              struct keel_error **err);
/* Remove a tag. Missing is an error with ENOENT. */
int store_untag(struct store *s, const char *ref_name, struct keel_error **err);

struct store_entry {
    char *ref_name;
    struct oci_descriptor desc;
};
/* Every tagged descriptor in index.json (also the ones without ref name, ref_name NULL). */
int store_list(struct store *s, struct store_entry **out, size_t *n, struct keel_error **err);
void store_entries_free(struct store_entry *e, size_t n);

/* Remove blobs not reachable from index.json, and stale temp files.
 * Takes the exclusive lock. *removed / *freed (optional) report the work. */
int store_gc(struct store *s, size_t *removed, uint64_t *freed, struct keel_error **err);

/* Integrity check (hoist fsck): every blob reachable from index.json
 * (through indexes and manifests to configs and layers) is present with
 * the size its descriptor declares, every blob under blobs/ has the content
 * its name says, and what is not needed is listed. A manifest an index
 * names may be absent (a platform that was not pulled). */
enum store_fsck_kind {
    STORE_FSCK_MISSING,  /* a referenced blob is not in blobs/ */
    STORE_FSCK_CORRUPT,  /* wrong content or size, unreadable, or a manifest that does not parse */
    STORE_FSCK_STRAY,    /* an entry under blobs/ that is no blob (bad name, not a regular file) */
    STORE_FSCK_DANGLING, /* a good blob no image references (gc removes it) */
    STORE_FSCK_ORPHAN,   /* a temporary file no hoist is writing (gc removes it) */
};
struct store_fsck_problem {
    enum store_fsck_kind kind;
    char *name;    /* the digest, or the path of a stray entry or temporary file */
    char *detail;  /* what is wrong, and which image needs it */
    char *image;   /* ref name of the image that needs it, NULL when none */
    bool repaired; /* removed by --repair */
};
struct store_fsck_report {
    struct store_fsck_problem *problems;
    size_t n, cap;
    size_t images;  /* entries of index.json */
    size_t blobs;   /* blobs whose content was hashed */
    uint64_t bytes; /* bytes hashed */
};
struct store_fsck_options {
    bool repair;    /* remove corrupt blobs (so a pull fetches them again) and orphaned temp files */
    bool exclusive; /* hold the store exclusively (wait for running pulls, keep new ones out) */
};
/* Fills rep (zeroed by the caller) with every problem found. Returns -1
 * only when the check itself cannot proceed (I/O on the store's
 * directories); a damaged index.json is a problem in rep. */
int store_fsck(struct store *s, const struct store_fsck_options *o, struct store_fsck_report *rep,
               struct keel_error **err);
/* Missing, corrupt and stray mean the store is damaged; dangling blobs and
 * orphaned temp files are only waste. */
bool store_fsck_kind_is_damage(enum store_fsck_kind k);
const char *store_fsck_kind_name(enum store_fsck_kind k);
void store_fsck_report_release(struct store_fsck_report *rep);

#endif
