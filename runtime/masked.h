/* maskedPaths and readonlyPaths, applied after pivot_root.
 *
 * A masked file gets the container's /dev/null bound over it, and only
 * after checking that /dev/null really is the null device (1:3), so an image
 * or hook that replaced it (CVE-2025-31133) cannot turn the mask into a
 * writable window onto something else.  A masked directory gets an empty
 * read-only tmpfs.  A masked path that is a symlink is refused rather than
 * followed: the mask must cover the path it names, not wherever the image
 * points it.  Missing paths are skipped, as the spec allows.
 *
 * A read-only path is bound onto itself (recursively) with the read-only
 * attribute set on the clone before it is attached. */
#ifndef KEEL_MASKED_H
#define KEEL_MASKED_H

struct keel_error;

/* rootfd: the container's "/" (O_PATH). paths: NULL-terminated or NULL. */
int masked_apply(int rootfd, char *const *paths, struct keel_error **err);
int masked_apply_readonly(int rootfd, char *const *paths, struct keel_error **err);

#endif
