#include <errno.h>
#include <unistd.h>

#include "cleanup.h"

void cleanup_freep(void *p)
{
    free(*(void **)p);
}

void cleanup_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
        *fd = -1;
    }
}

void cleanup_dirp(DIR **d)
{
    if (*d)
        closedir(*d);
}

void cleanup_filep(FILE **f)
{
    if (*f)
        fclose(*f);
}

void strv_free(char **v)
{
    if (v == NULL)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

void cleanup_strvp(char ***v)
{
    strv_free(*v);
}

size_t strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}
