/* Who owns what an unpack creates: a strategy chosen once per unpack.
 *
 * privileged: chown every entry to its uid/gid (through --uid-map/--gid-map
 *   when given; an id outside the maps is an error); devices are created.
 * rootless: the files stay the caller's; an owner the caller cannot give is
 *   recorded in the user.rootlesscontainers xattr (byte for byte as umoci:
 *   protobuf {uint32 uid = 1; uint32 gid = 2}, a 0 written as NoopID
 *   UINT32_MAX, no xattr for 0:0), devices are skipped
 *   with a warning and xattrs the kernel refuses are warnings. */
#ifndef KEEL_HOIST_LAYER_OWNER_H
#define KEEL_HOIST_LAYER_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct keel_error;

struct idmap_range {
    uint32_t container, host, size;
};

struct idmap {
    struct idmap_range *ranges;
    size_t n;
};

/* Append "CONTAINER:HOST:SIZE" to m; overlapping ranges are an error. */
int idmap_parse_append(struct idmap *m, const char *spec, const char *what, struct keel_error **err);
/* Host id of a container id; an empty map is the identity. Returns -1 when unmapped. */
int idmap_to_host(const struct idmap *m, uint32_t id, uint32_t *host);
void idmap_release(struct idmap *m);

enum layer_owner_kind { LAYER_OWNER_PRIVILEGED, LAYER_OWNER_ROOTLESS };

struct layer_owner {
    enum layer_owner_kind kind;
    struct idmap uids, gids; /* owned by the strategy */
    uid_t self_uid;
    gid_t self_gid;
};

/* Takes ownership of the maps' ranges (they may be empty). */
void layer_owner_init(struct layer_owner *o, enum layer_owner_kind kind, struct idmap *uids,
                      struct idmap *gids);
void layer_owner_release(struct layer_owner *o);

/* Give an entry its owner: through fd when >= 0, else dirfd/name without
 * following a symlink. */
int layer_owner_apply(const struct layer_owner *o, int fd, int dirfd, const char *name, bool is_symlink,
                      uint32_t uid, uint32_t gid, struct keel_error **err);
/* Whether device nodes are created (rootless: skipped with a warning). */
bool layer_owner_makes_devices(const struct layer_owner *o);
/* Whether a refused xattr is only a warning. */
bool layer_owner_xattr_soft(const struct layer_owner *o, const char *name, int errnum);

/* The mode a directory gets. Rootless keeps u+rwx: the owner is the
 * container's root, whom DAC does not stop anyway, and without it a later
 * layer (or removing the bundle) could not write into a 0555 directory. */
unsigned layer_owner_dir_mode(const struct layer_owner *o, unsigned mode);

/* The user.rootlesscontainers value for uid/gid (0:0 gives length 0).
 * Both fields take at most 6 bytes each. */
size_t layer_owner_rootless_encode(uint32_t uid, uint32_t gid, unsigned char out[static 12]);

#endif
