/* The report of hoist fsck, shared with hoist gc --verify. */
#ifndef KEEL_HOIST_CMD_FSCK_H
#define KEEL_HOIST_CMD_FSCK_H

#include <stdbool.h>
#include <stdio.h>

#include "store.h"

/* Every problem on its own line (kind, digest or path, why, which image),
 * the images to pull again, and a summary line. */
void fsck_print_report(const struct store_fsck_report *rep, FILE *out);
/* An error (exit 1) when the store is damaged, or with strict when it holds
 * dangling blobs or orphaned temp files that were not removed. */
int fsck_verdict(const char *store, const struct store_fsck_report *rep, bool strict, bool repaired,
                 struct keel_error **err);

#endif
