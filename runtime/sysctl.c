#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "spec.h"
#include "sysctl.h"
#include "xalloc.h"

static const char *const sysctl_ipc_keys[] = {
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
    "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
};

static bool sysctl_has_prefix(const char *key, const char *prefix)
{
    return strncmp(key, prefix, strlen(prefix)) == 0;
}

char *sysctl_key_path(const char *key)
{
    if (!key || !key[0] || key[0] == '/' || key[0] == '.')
        return NULL;
    /* With a '/' the key is already a path ("net/ipv4/conf/eth0.1/forwarding")
     * and dots are part of names; otherwise dots separate. */
    char *path = xstrdup(key);
    if (!strchr(path, '/'))
        for (char *p = path; *p; p++)
            if (*p == '.')
                *p = '/';
    for (const char *c = path; *c;) {
        const char *end = strchrnul(c, '/');
        size_t n = (size_t)(end - c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) {
            free(path);
            return NULL;
        }
        c = *end ? end + 1 : end;
    }
    return path;
}

static bool sysctl_has_ns(const struct spec_config *cfg, enum spec_ns_type t)
{
    return cfg->linux && spec_find_namespace(cfg->linux, t) != NULL;
}

int sysctl_validate(const struct spec_config *cfg, struct keel_error **err)
{
    if (!cfg->linux)
        return 0;
    const struct spec_kv_list *l = &cfg->linux->sysctl;
    for (size_t i = 0; i < l->n; i++) {
        const char *key = l->items[i].key;
        cleanup_free char *path = sysctl_key_path(key);
        if (!path)
            return error_set(err, EINVAL, "linux.sysctl: invalid key \"%s\"", key);
        /* Compare in dotted form whatever separator the key used. */
        cleanup_free char *dotted = xstrdup(path);
        for (char *p = dotted; *p; p++)
            if (*p == '/')
                *p = '.';
        bool ipc = sysctl_has_prefix(dotted, "fs.mqueue.");
        for (size_t k = 0; k < sizeof(sysctl_ipc_keys) / sizeof(sysctl_ipc_keys[0]); k++)
            ipc |= strcmp(dotted, sysctl_ipc_keys[k]) == 0;
        enum spec_ns_type need;
        const char *ns;
        if (ipc) {
            need = SPEC_NS_IPC;
            ns = "ipc";
        } else if (sysctl_has_prefix(dotted, "net.")) {
            need = SPEC_NS_NETWORK;
            ns = "network";
        } else if (strcmp(dotted, "kernel.hostname") == 0 || strcmp(dotted, "kernel.domainname") == 0) {
            need = SPEC_NS_UTS;
            ns = "uts";
        } else {
            return error_set(err, EPERM, "linux.sysctl: \"%s\" is not in a separate kernel namespace", key);
        }
        if (!sysctl_has_ns(cfg, need))
            return error_set(err, EPERM, "linux.sysctl: \"%s\" needs a %s namespace, and the config has none",
                             key, ns);
    }
    return 0;
}

int sysctl_apply(const struct spec_config *cfg, struct keel_error **err)
{
    if (!cfg->linux || cfg->linux->sysctl.n == 0)
        return 0;
    if (sysctl_validate(cfg, err) < 0)
        return -1;
    /* Only the container's procfs: never files an image ships at /proc/sys. */
    cleanup_close int dir = open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct statfs sfs;
    if (dir < 0 || fstatfs(dir, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
        return error_set(err, dir < 0 ? errno : ENOENT,
                         "linux.sysctl: /proc/sys is not a procfs in the container");
    const struct spec_kv_list *l = &cfg->linux->sysctl;
    for (size_t i = 0; i < l->n; i++) {
        cleanup_free char *rel = sysctl_key_path(l->items[i].key);
        cleanup_close int fd = openat(dir, rel, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        const char *v = l->items[i].value ? l->items[i].value : "";
        if (fd < 0)
            return error_set(err, errno, "linux.sysctl: opening `/proc/sys/%s`", rel);
        int rc = fd_write_all(fd, v, strlen(v));
        if (rc < 0)
            return error_set(err, -rc, "linux.sysctl: writing \"%s\" to `/proc/sys/%s`", v, rel);
    }
    return 0;
}
