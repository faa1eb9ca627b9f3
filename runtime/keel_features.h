/* `keel features`: the runtime-spec features.json document, generated from
 * the tables in features.c.  Whoever implements a feature adds it there;
 * nothing is claimed that keel does not do.  (Not named features.h: that
 * would shadow glibc's <features.h> for targets built with -I runtime.) */
#ifndef KEEL_KEEL_FEATURES_H
#define KEEL_KEEL_FEATURES_H

#include <stddef.h>

/* The document as pretty-printed JSON (caller frees). */
char *features_json(size_t *len);

#endif
