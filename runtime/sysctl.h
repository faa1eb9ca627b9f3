/* linux.sysctl: written to /proc/sys inside the container, only for keys
 * that belong to a namespace the container has its own of (net.* needs a
 * network namespace; kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.* an
 * IPC namespace; kernel.hostname/domainname a UTS namespace), so a config
 * can never change the host's kernel settings. */
#ifndef KEEL_SYSCTL_H
#define KEEL_SYSCTL_H

struct keel_error;
struct spec_config;

/* Check every key against the config's namespaces (pure). */
int sysctl_validate(const struct spec_config *cfg, struct keel_error **err);
/* "net.ipv4.ip_forward" -> "net/ipv4/ip_forward" (NULL for a bad key). */
char *sysctl_key_path(const char *key);
/* Validate, then write each value to /proc/sys/KEY. */
int sysctl_apply(const struct spec_config *cfg, struct keel_error **err);

#endif
