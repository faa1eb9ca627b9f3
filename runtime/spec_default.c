/* The starter config.json: the shared defaults (oci_defaults.h) with a shell
 * on a terminal as root, as runc spec writes it. */
#include "oci_defaults.h"
#include "spec_default.h"

char *spec_default_json(bool rootless, uid_t uid, gid_t gid, size_t *len)
{
    static const char *const args[] = {"sh", NULL};
    static const char *const env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                      "TERM=xterm", NULL};
    const struct oci_defaults d = {
        .terminal = true,
        .args = args,
        .env = env,
        .cwd = "/",
        .readonly_root = true,
        .rootless = rootless,
        .self_uid = (uint32_t)uid,
        .self_gid = (uint32_t)gid,
    };
    return oci_defaults_config_json(&d, len);
}
