#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "error.h"
#include "mount_options.h"
#include "strbuf.h"
#include "xalloc.h"

enum mount_opt_kind {
    OPT_SET,   /* flags |= v */
    OPT_CLEAR, /* flags &= ~v */
    OPT_PROPAGATION,
    OPT_REC, /* rec_set |= v (and rec_clr |= clr) */
    OPT_REC_CLEAR,
    OPT_BIND,
    OPT_RBIND,
    OPT_TMPCOPYUP,
    OPT_IDMAP, /* the tree is made by idmap.c in the parent; value 1 = ridmap */
};

struct mount_opt_def {
    const char *name;
    enum mount_opt_kind kind;
    unsigned long value;
    uint64_t clr; /* for OPT_REC: attributes cleared first (the atime mask) */
};

/* Kept sorted only for the reader; lookup is linear (a few dozen entries,
 * a handful of options per mount). */
static const struct mount_opt_def mount_opt_defs[] = {
    {"async", OPT_CLEAR, MS_SYNCHRONOUS, 0},
    {"atime", OPT_CLEAR, MS_NOATIME, 0},
    {"bind", OPT_BIND, 0, 0},
    {"defaults", OPT_SET, 0, 0},
    {"dev", OPT_CLEAR, MS_NODEV, 0},
    {"diratime", OPT_CLEAR, MS_NODIRATIME, 0},
    {"dirsync", OPT_SET, MS_DIRSYNC, 0},
    {"exec", OPT_CLEAR, MS_NOEXEC, 0},
    {"iversion", OPT_SET, MS_I_VERSION, 0},
    {"lazytime", OPT_SET, MS_LAZYTIME, 0},
    {"loud", OPT_CLEAR, MS_SILENT, 0},
    {"mand", OPT_SET, MS_MANDLOCK, 0},
    {"noatime", OPT_SET, MS_NOATIME, 0},
    {"nodev", OPT_SET, MS_NODEV, 0},
    {"nodiratime", OPT_SET, MS_NODIRATIME, 0},
    {"noexec", OPT_SET, MS_NOEXEC, 0},
    {"noiversion", OPT_CLEAR, MS_I_VERSION, 0},
    {"nolazytime", OPT_CLEAR, MS_LAZYTIME, 0},
    {"nomand", OPT_CLEAR, MS_MANDLOCK, 0},
    {"norelatime", OPT_CLEAR, MS_RELATIME, 0},
    {"nostrictatime", OPT_CLEAR, MS_STRICTATIME, 0},
    {"nosuid", OPT_SET, MS_NOSUID, 0},
    {"nosymfollow", OPT_SET, MS_NOSYMFOLLOW, 0},
    {"rbind", OPT_RBIND, 0, 0},
    {"relatime", OPT_SET, MS_RELATIME, 0},
    {"remount", OPT_SET, MS_REMOUNT, 0},
    {"ro", OPT_SET, MS_RDONLY, 0},
    {"rw", OPT_CLEAR, MS_RDONLY, 0},
    {"silent", OPT_SET, MS_SILENT, 0},
    {"strictatime", OPT_SET, MS_STRICTATIME, 0},
    {"suid", OPT_CLEAR, MS_NOSUID, 0},
    {"symfollow", OPT_CLEAR, MS_NOSYMFOLLOW, 0},
    {"sync", OPT_SET, MS_SYNCHRONOUS, 0},

    {"private", OPT_PROPAGATION, MS_PRIVATE, 0},
    {"rprivate", OPT_PROPAGATION, MS_PRIVATE | MS_REC, 0},
    {"shared", OPT_PROPAGATION, MS_SHARED, 0},
    {"rshared", OPT_PROPAGATION, MS_SHARED | MS_REC, 0},
    {"slave", OPT_PROPAGATION, MS_SLAVE, 0},
    {"rslave", OPT_PROPAGATION, MS_SLAVE | MS_REC, 0},
    {"unbindable", OPT_PROPAGATION, MS_UNBINDABLE, 0},
    {"runbindable", OPT_PROPAGATION, MS_UNBINDABLE | MS_REC, 0},

    {"rro", OPT_REC, MOUNT_ATTR_RDONLY, 0},
    {"rrw", OPT_REC_CLEAR, MOUNT_ATTR_RDONLY, 0},
    {"rnosuid", OPT_REC, MOUNT_ATTR_NOSUID, 0},
    {"rsuid", OPT_REC_CLEAR, MOUNT_ATTR_NOSUID, 0},
    {"rnodev", OPT_REC, MOUNT_ATTR_NODEV, 0},
    {"rdev", OPT_REC_CLEAR, MOUNT_ATTR_NODEV, 0},
    {"rnoexec", OPT_REC, MOUNT_ATTR_NOEXEC, 0},
    {"rexec", OPT_REC_CLEAR, MOUNT_ATTR_NOEXEC, 0},
    {"rnodiratime", OPT_REC, MOUNT_ATTR_NODIRATIME, 0},
    {"rdiratime", OPT_REC_CLEAR, MOUNT_ATTR_NODIRATIME, 0},
    /* The kernel changes atime only as a whole: clear the mask, set one. */
    {"rrelatime", OPT_REC, MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
    {"rnorelatime", OPT_REC, MOUNT_ATTR_RELATIME, 0},
    {"rnoatime", OPT_REC, MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME},
    {"ratime", OPT_REC, MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
    {"rstrictatime", OPT_REC, MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME},
    {"rnostrictatime", OPT_REC, MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
    {"rnosymfollow", OPT_REC, MOUNT_ATTR_NOSYMFOLLOW, 0},
    {"rsymfollow", OPT_REC_CLEAR, MOUNT_ATTR_NOSYMFOLLOW, 0},

    {"tmpcopyup", OPT_TMPCOPYUP, 0, 0},
    {"idmap", OPT_IDMAP, 0, 0},
    {"ridmap", OPT_IDMAP, 1, 0},
};

#define N_DEFS (sizeof(mount_opt_defs) / sizeof(mount_opt_defs[0]))

static const struct mount_opt_def *mount_opt_lookup(const char *name)
{
    for (size_t i = 0; i < N_DEFS; i++)
        if (strcmp(mount_opt_defs[i].name, name) == 0)
            return &mount_opt_defs[i];
    return NULL;
}

int mount_options_parse(char *const *options, const char *where, struct mount_options *out,
                        struct keel_error **err)
{
    memset(out, 0, sizeof(*out));
    cleanup_strbuf struct strbuf data = STRBUF_INIT;
    for (size_t i = 0; options && options[i]; i++) {
        const char *opt = options[i];
        const struct mount_opt_def *d = mount_opt_lookup(opt);
        if (!d) {
            if (opt[0] == '\0')
                continue;
            if (data.len)
                strbuf_putc(&data, ',');
            strbuf_puts(&data, opt);
            continue;
        }
        switch (d->kind) {
        case OPT_SET:
            out->flags |= d->value;
            out->clear &= ~d->value;
            break;
        case OPT_CLEAR:
            out->flags &= ~d->value;
            out->clear |= d->value;
            break;
        case OPT_PROPAGATION:
            if (out->n_propagation == MOUNT_OPTIONS_MAX_PROPAGATION)
                return error_set(err, E2BIG, "%s: more than %d propagation options", where,
                                 MOUNT_OPTIONS_MAX_PROPAGATION);
            out->propagation[out->n_propagation++] = d->value;
            break;
        case OPT_REC:
            if (d->clr) {
                out->rec_clr |= d->clr;
                out->rec_set = (out->rec_set & ~d->clr) | d->value;
            } else {
                out->rec_set |= d->value;
                out->rec_clr &= ~d->value;
            }
            break;
        case OPT_REC_CLEAR:
            out->rec_set &= ~d->value;
            out->rec_clr |= d->value;
            break;
        case OPT_BIND:
            out->bind = true;
            out->flags |= MS_BIND;
            break;
        case OPT_RBIND:
            out->bind = out->recursive = true;
            out->flags |= MS_BIND | MS_REC;
            break;
        case OPT_TMPCOPYUP:
            out->tmpcopyup = true;
            break;
        case OPT_IDMAP:
            out->idmap = true;
            break;
        }
    }
    if (data.len)
        out->data = strbuf_detach(&data);
    return 0;
}

void mount_options_release(struct mount_options *o)
{
    free(o->data);
    o->data = NULL;
}

int mount_propagation_parse(const char *name, unsigned long *flags, struct keel_error **err)
{
    const struct mount_opt_def *d = mount_opt_lookup(name);
    if (!d || d->kind != OPT_PROPAGATION)
        return error_set(err, EINVAL, "linux.rootfsPropagation: unknown propagation \"%s\"", name);
    *flags = d->value;
    return 0;
}

void mount_options_bind_attr(const struct mount_options *o, uint64_t *set, uint64_t *clr)
{
    static const struct {
        unsigned long ms;
        uint64_t attr;
    } simple[] = {
        {MS_RDONLY, MOUNT_ATTR_RDONLY},         {MS_NOSUID, MOUNT_ATTR_NOSUID},
        {MS_NODEV, MOUNT_ATTR_NODEV},           {MS_NOEXEC, MOUNT_ATTR_NOEXEC},
        {MS_NODIRATIME, MOUNT_ATTR_NODIRATIME}, {MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW},
    };
    *set = *clr = 0;
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
        if (o->flags & simple[i].ms)
            *set |= simple[i].attr;
        else if (o->clear & simple[i].ms)
            *clr |= simple[i].attr;
    }
    /* atime is one setting: the last explicit choice wins; clearing
     * noatime/strictatime falls back to the kernel default, relatime. */
    if (o->flags & MS_NOATIME) {
        *set |= MOUNT_ATTR_NOATIME;
        *clr |= MOUNT_ATTR__ATIME;
    } else if (o->flags & MS_STRICTATIME) {
        *set |= MOUNT_ATTR_STRICTATIME;
        *clr |= MOUNT_ATTR__ATIME;
    } else if (o->flags & MS_RELATIME || o->clear & (MS_NOATIME | MS_STRICTATIME)) {
        *set |= MOUNT_ATTR_RELATIME;
        *clr |= MOUNT_ATTR__ATIME;
    }
}

bool mount_options_bind_needs_attr(const struct mount_options *o)
{
    uint64_t set, clr;
    mount_options_bind_attr(o, &set, &clr);
    return set || clr;
}

size_t mount_options_count(void)
{
    return N_DEFS;
}

const char *mount_options_name(size_t i)
{
    return i < N_DEFS ? mount_opt_defs[i].name : NULL;
}
