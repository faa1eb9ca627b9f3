/* Device nodes of the container: the default set (null, zero, full, random,
 * urandom, tty) merged with linux.devices, created by mknod or, inside a
 * user namespace where mknod is refused, by binding the host's node; then
 * the /dev links (fd, stdin, stdout, stderr, core, ptmx -> pts/ptmx) and the
 * console.  devices_plan() is pure, so the merge is unit-tested. */
#ifndef KEEL_DEVICES_H
#define KEEL_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct keel_error;
struct spec_config;

struct dev_node {
    char *path; /* absolute, cleaned: "/dev/null" */
    char type;  /* 'c', 'b' or 'p' ('u' is mapped to 'c') */
    unsigned major, minor;
    mode_t mode; /* permission bits */
    uid_t uid;
    gid_t gid;
};

/* linux.devices first (in order), then the defaults it does not name. */
int devices_plan(const struct spec_config *cfg, struct dev_node **out, size_t *n, struct keel_error **err);
void devices_plan_free(struct dev_node *v, size_t n);

/* Create the nodes beneath rootfd (bind=true: bind the host's node at the
 * same path onto an empty file instead of mknod). */
int devices_create(int rootfd, const struct dev_node *nodes, size_t n, bool bind, struct keel_error **err);

/* /dev/fd, /dev/stdin, /dev/stdout, /dev/stderr, /dev/core and /dev/ptmx. */
int devices_create_links(int rootfd, struct keel_error **err);

/* Bind the pty slave at console_path onto /dev/console. */
int devices_bind_console(int rootfd, const char *console_path, struct keel_error **err);
/* The same from an open fd of the slave. */
int devices_bind_console_fd(int rootfd, int slave_fd, struct keel_error **err);

#endif
