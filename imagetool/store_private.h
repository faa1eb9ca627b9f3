/* Internals shared by store.c, store_index.c and store_gc.c. */
#ifndef KEEL_HOIST_STORE_PRIVATE_H
#define KEEL_HOIST_STORE_PRIVATE_H

struct keel_error;

struct store {
    char *dir;
    int lock_fd; /* DIR/.lock, flock shared while open, exclusive during gc */
};

/* Write an empty index.json (under the index lock) when there is none. */
int store_index_init(struct store *s, struct keel_error **err);

#endif
