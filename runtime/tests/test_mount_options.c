/* Mount option parsing: every option runc accepts maps to the right flag,
 * negations apply in order, unknown options become filesystem data, and
 * the options keel cannot honour yet are errors, never ignored. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "cleanup.h"
#include "error.h"
#include "mount_options.h"
#include "unit.h"

static struct unit_counts c;

static int parse(struct mount_options *o, const char *const *opts, struct keel_error **err)
{
    return mount_options_parse((char *const *)opts, "mounts[0] (/x)", o, err);
}

static void test_flags(void)
{
    static const struct {
        const char *name;
        unsigned long set, clear;
    } table[] = {
        {"ro", MS_RDONLY, 0},
        {"rw", 0, MS_RDONLY},
        {"nosuid", MS_NOSUID, 0},
        {"suid", 0, MS_NOSUID},
        {"nodev", MS_NODEV, 0},
        {"dev", 0, MS_NODEV},
        {"noexec", MS_NOEXEC, 0},
        {"exec", 0, MS_NOEXEC},
        {"sync", MS_SYNCHRONOUS, 0},
        {"async", 0, MS_SYNCHRONOUS},
        {"dirsync", MS_DIRSYNC, 0},
        {"remount", MS_REMOUNT, 0},
        {"mand", MS_MANDLOCK, 0},
        {"nomand", 0, MS_MANDLOCK},
        {"noatime", MS_NOATIME, 0},
        {"atime", 0, MS_NOATIME},
        {"nodiratime", MS_NODIRATIME, 0},
        {"diratime", 0, MS_NODIRATIME},
        {"relatime", MS_RELATIME, 0},
        {"norelatime", 0, MS_RELATIME},
        {"strictatime", MS_STRICTATIME, 0},
        {"nostrictatime", 0, MS_STRICTATIME},
        {"nosymfollow", MS_NOSYMFOLLOW, 0},
        {"symfollow", 0, MS_NOSYMFOLLOW},
        {"lazytime", MS_LAZYTIME, 0},
        {"nolazytime", 0, MS_LAZYTIME},
        {"iversion", MS_I_VERSION, 0},
        {"noiversion", 0, MS_I_VERSION},
        {"silent", MS_SILENT, 0},
        {"loud", 0, MS_SILENT},
        {"defaults", 0, 0},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct mount_options o;
        const char *opts[] = {table[i].name, NULL};
        cleanup_error struct keel_error *err = NULL;
        CHECK(&c, parse(&o, opts, &err) == 0);
        if (o.flags != table[i].set || o.clear != table[i].clear)
            fprintf(stderr, "option %s: flags %#lx clear %#lx\n", table[i].name, o.flags, o.clear);
        CHECK(&c, o.flags == table[i].set);
        CHECK(&c, o.clear == table[i].clear);
        CHECK(&c, o.data == NULL);
        mount_options_release(&o);
    }
}

static void test_order_and_data(void)
{
    struct mount_options o;
    cleanup_error struct keel_error *err = NULL;
    const char *opts[] = {"ro", "nosuid", "mode=755", "rw", "size=65536k", "newinstance", "", NULL};
    CHECK(&c, parse(&o, opts, &err) == 0);
    CHECK(&c, o.flags == MS_NOSUID);
    CHECK(&c, o.clear == MS_RDONLY);
    CHECK_STREQ(&c, o.data, "mode=755,size=65536k,newinstance");
    CHECK(&c, !o.bind);
    mount_options_release(&o);

    const char *opts2[] = {"rw", "ro", NULL};
    CHECK(&c, parse(&o, opts2, &err) == 0);
    CHECK(&c, o.flags == MS_RDONLY && o.clear == 0);
    mount_options_release(&o);

    CHECK(&c, mount_options_parse(NULL, "x", &o, &err) == 0);
    CHECK(&c, o.flags == 0 && o.data == NULL && o.n_propagation == 0);
}

static void test_bind_and_propagation(void)
{
    struct mount_options o;
    cleanup_error struct keel_error *err = NULL;
    const char *opts[] = {"rbind", "rprivate", "shared", "unbindable", "rslave", NULL};
    CHECK(&c, parse(&o, opts, &err) == 0);
    CHECK(&c, o.bind && o.recursive);
    CHECK(&c, (o.flags & (MS_BIND | MS_REC)) == (MS_BIND | MS_REC));
    CHECK(&c, o.n_propagation == 4);
    CHECK(&c, o.propagation[0] == (MS_PRIVATE | MS_REC));
    CHECK(&c, o.propagation[1] == MS_SHARED);
    CHECK(&c, o.propagation[2] == MS_UNBINDABLE);
    CHECK(&c, o.propagation[3] == (MS_SLAVE | MS_REC));
    mount_options_release(&o);

    const char *opts2[] = {"bind", "private", "rshared", "slave", "runbindable", NULL};
    CHECK(&c, parse(&o, opts2, &err) == 0);
    CHECK(&c, o.bind && !o.recursive && (o.flags & MS_BIND) && !(o.flags & MS_REC));
    CHECK(&c, o.propagation[0] == MS_PRIVATE && o.propagation[1] == (MS_SHARED | MS_REC));
    CHECK(&c, o.propagation[2] == MS_SLAVE && o.propagation[3] == (MS_UNBINDABLE | MS_REC));

    unsigned long p = 0;
    CHECK(&c, mount_propagation_parse("rslave", &p, &err) == 0 && p == (MS_SLAVE | MS_REC));
    CHECK(&c, mount_propagation_parse("shared", &p, &err) == 0 && p == MS_SHARED);
    CHECK(&c, mount_propagation_parse("ro", &p, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "\"ro\"") != NULL);
}

static void test_recursive_attrs(void)
{
    struct mount_options o;
    cleanup_error struct keel_error *err = NULL;
    const char *opts[] = {"rro", "rnosuid", "rnodev", "rnoexec", "rnodiratime", "rnosymfollow", NULL};
    CHECK(&c, parse(&o, opts, &err) == 0);
    CHECK(&c, o.rec_set == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
                            MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW));
    CHECK(&c, o.rec_clr == 0);
    CHECK(&c, o.flags == 0);

    const char *opts2[] = {"rro", "rrw", "rsuid", "rdev", "rexec", "rdiratime", "rsymfollow", NULL};
    CHECK(&c, parse(&o, opts2, &err) == 0);
    CHECK(&c, o.rec_set == 0);
    CHECK(&c, o.rec_clr == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
                            MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW));

    /* atime is one setting: the whole mask is cleared and one value set. */
    const char *opts3[] = {"rnoatime", NULL};
    CHECK(&c, parse(&o, opts3, &err) == 0);
    CHECK(&c, o.rec_set == MOUNT_ATTR_NOATIME && o.rec_clr == MOUNT_ATTR__ATIME);
    const char *opts4[] = {"rnoatime", "rstrictatime", NULL};
    CHECK(&c, parse(&o, opts4, &err) == 0);
    CHECK(&c, o.rec_set == MOUNT_ATTR_STRICTATIME && o.rec_clr == MOUNT_ATTR__ATIME);
    const char *opts5[] = {"rnoatime", "rrelatime", NULL};
    CHECK(&c, parse(&o, opts5, &err) == 0);
    CHECK(&c, o.rec_set == MOUNT_ATTR_RELATIME && o.rec_clr == MOUNT_ATTR__ATIME);
    const char *opts6[] = {"ratime", NULL};
    CHECK(&c, parse(&o, opts6, &err) == 0);
    CHECK(&c, o.rec_clr == MOUNT_ATTR__ATIME);
}

static void test_unsupported_and_special(void)
{
    struct mount_options o;
    cleanup_error struct keel_error *err = NULL;
    /* idmap/ridmap only mark the mount: idmap.c makes the tree */
    const char *opts[] = {"bind", "idmap", NULL};
    CHECK(&c, parse(&o, opts, &err) == 0);
    CHECK(&c, o.idmap && o.data == NULL);
    mount_options_release(&o);
    const char *opts2[] = {"ridmap", NULL};
    CHECK(&c, parse(&o, opts2, &err) == 0);
    CHECK(&c, o.idmap && o.data == NULL);
    mount_options_release(&o);

    const char *opts3[] = {"tmpcopyup", "mode=1777", NULL};
    CHECK(&c, parse(&o, opts3, &err) == 0);
    CHECK(&c, o.tmpcopyup);
    CHECK_STREQ(&c, o.data, "mode=1777");
    mount_options_release(&o);

    const char *many[] = {"private", "private", "private", "private", "private",
                          "private", "private", "private", "private", NULL};
    CHECK(&c, parse(&o, many, &err) < 0);
}

static void test_bind_attr(void)
{
    struct mount_options o;
    cleanup_error struct keel_error *err = NULL;
    uint64_t set, clr;
    const char *opts[] = {"bind", "ro", "nosuid", "nodev", "noexec", "noatime", "nosymfollow", NULL};
    CHECK(&c, parse(&o, opts, &err) == 0);
    mount_options_bind_attr(&o, &set, &clr);
    CHECK(&c, set == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
                      MOUNT_ATTR_NOATIME | MOUNT_ATTR_NOSYMFOLLOW));
    CHECK(&c, clr == MOUNT_ATTR__ATIME);
    CHECK(&c, mount_options_bind_needs_attr(&o));

    const char *opts2[] = {"rbind", "rw", "exec", "sync", NULL};
    CHECK(&c, parse(&o, opts2, &err) == 0);
    mount_options_bind_attr(&o, &set, &clr);
    CHECK(&c, set == 0);
    CHECK(&c, clr == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC));

    const char *opts3[] = {"rbind", "rprivate", NULL};
    CHECK(&c, parse(&o, opts3, &err) == 0);
    CHECK(&c, !mount_options_bind_needs_attr(&o));

    const char *opts4[] = {"bind", "strictatime", NULL};
    CHECK(&c, parse(&o, opts4, &err) == 0);
    mount_options_bind_attr(&o, &set, &clr);
    CHECK(&c, set == MOUNT_ATTR_STRICTATIME && clr == MOUNT_ATTR__ATIME);
}

static void test_known_names(void)
{
    size_t n = mount_options_count();
    CHECK(&c, n >= 60);
    bool has_rro = false, has_tmpcopyup = false;
    for (size_t i = 0; i < n; i++) {
        has_rro |= strcmp(mount_options_name(i), "rro") == 0;
        has_tmpcopyup |= strcmp(mount_options_name(i), "tmpcopyup") == 0;
    }
    CHECK(&c, has_rro && has_tmpcopyup);
    CHECK(&c, mount_options_name(n) == NULL);
}

int main(void)
{
    test_flags();
    test_order_and_data();
    test_bind_and_propagation();
    test_recursive_attrs();
    test_unsupported_and_special();
    test_bind_attr();
    test_known_names();
    return unit_finish(&c);
}
