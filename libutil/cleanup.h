/* Scope-bound cleanup: declare `cleanup_free char *p = NULL;` and p is
 * freed when it goes out of scope.  Hand ownership on with steal_ptr() /
 * steal_fd(), which return the value and leave NULL / -1 behind. */
#ifndef KEEL_CLEANUP_H
#define KEEL_CLEANUP_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

void cleanup_freep(void *p);   /* void **: free(*p) */
void cleanup_closep(int *fd);  /* close(*fd) when >= 0, keeping errno */
void cleanup_dirp(DIR **d);    /* closedir */
void cleanup_filep(FILE **f);  /* fclose */
void cleanup_strvp(char ***v); /* NULL-terminated array of strings */

#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define cleanup_dir __attribute__((cleanup(cleanup_dirp)))
#define cleanup_file __attribute__((cleanup(cleanup_filep)))
#define cleanup_strv __attribute__((cleanup(cleanup_strvp)))

#define steal_ptr(pp)                                                                                        \
    ({                                                                                                       \
        __typeof__(*(pp)) steal_tmp_ = *(pp);                                                                \
        *(pp) = NULL;                                                                                        \
        steal_tmp_;                                                                                          \
    })
#define steal_fd(pfd)                                                                                        \
    ({                                                                                                       \
        int steal_fd_tmp_ = *(pfd);                                                                          \
        *(pfd) = -1;                                                                                         \
        steal_fd_tmp_;                                                                                       \
    })

void strv_free(char **v);
size_t strv_len(char *const *v);

#endif
