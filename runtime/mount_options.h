/* The options of one config.json mount ("ro", "rbind", "mode=755", ...),
 * parsed into the flags the kernel takes.  Pure: no syscalls.
 *
 * The accepted set is runc's: the mount(2) flags and their negations
 * (applied in order, so "ro,rw" is rw), the propagation flags (applied one
 * after another once the mount exists), the recursive attributes rro, rnosuid
 * ... (mount_setattr with AT_RECURSIVE), bind/rbind, tmpcopyup.  Any other
 * option goes to the filesystem as data ("mode=755,size=64k"), as runc does.
 * idmap/ridmap set `idmap` (the tree itself is made by idmap.c). */
#ifndef KEEL_MOUNT_OPTIONS_H
#define KEEL_MOUNT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keel_error;

#define MOUNT_OPTIONS_MAX_PROPAGATION 8

struct mount_options {
    unsigned long flags; /* MS_* to set (MS_BIND, MS_REC included for bind/rbind) */
    unsigned long clear; /* MS_* explicitly cleared by "rw", "suid", "dev", "exec", "atime"... */
    unsigned long propagation[MOUNT_OPTIONS_MAX_PROPAGATION]; /* MS_PRIVATE|MS_REC ..., in order */
    size_t n_propagation;
    uint64_t rec_set, rec_clr; /* MOUNT_ATTR_* for mount_setattr(AT_RECURSIVE) */
    bool bind;                 /* "bind" or "rbind" */
    bool recursive;            /* "rbind" */
    bool tmpcopyup;
    bool idmap; /* idmap, ridmap or mount mappings: attached from a tree idmap.c made */
    char *data; /* the options the filesystem gets, comma-joined; NULL when none */
};

/* Parse a NULL-terminated vector (NULL = no options).  `where` names the
 * mount in messages ("mounts[3] (/dev)").  Fills *out (zeroed first). */
int mount_options_parse(char *const *options, const char *where, struct mount_options *out,
                        struct keel_error **err);
void mount_options_release(struct mount_options *o);

/* A rootfsPropagation value ("rslave", "private", ...) -> MS_* flags. */
int mount_propagation_parse(const char *name, unsigned long *flags, struct keel_error **err);

/* The per-mount attributes a bind mount gets on its top mount, translated
 * from flags/clear for mount_setattr (MS_RDONLY -> MOUNT_ATTR_RDONLY, ...).
 * Superblock flags (sync, dirsync, mand, lazytime, iversion, silent) cannot
 * change through a bind and are dropped, as the kernel does for MS_BIND. */
void mount_options_bind_attr(const struct mount_options *o, uint64_t *set, uint64_t *clr);

/* True when a bind mount needs mount_setattr on its top mount. */
bool mount_options_bind_needs_attr(const struct mount_options *o);

/* The option names keel understands, i < mount_options_count() (for
 * `keel features`); NULL past the end. */
size_t mount_options_count(void);
const char *mount_options_name(size_t i);

#endif
