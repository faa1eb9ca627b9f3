/* Config.User against the image's own /etc/passwd and /etc/group. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "convert.h"
#include "error.h"
#include "fileutil.h"
#include "safepath.h"
#include "xalloc.h"

#define ETC_FILE_MAX (16 * 1024 * 1024)

static bool user_parse_id(const char *s, uint32_t *out)
{
    if (!*s)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v >= UINT32_MAX)
            return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* The file's text, or NULL (no error) when the image has none. */
static int user_read_etc(int rootfd, const char *path, char **out, struct keel_error **err)
{
    *out = NULL;
    struct keel_error *e = NULL;
    cleanup_close int fd = safepath_open(rootfd, path, O_RDONLY, 0, &e);
    if (fd < 0) {
        int errnum = e ? e->errnum : 0;
        error_free(e);
        if (errnum == ENOENT)
            return 0;
        return error_set(err, errnum, "opening the image's `%s`", path);
    }
    return fd_read_whole(fd, path, ETC_FILE_MAX, out, NULL, err);
}

/* Split line into at most max ':'-separated fields (in place); returns how
 * many the line has. The fields it lacks are empty strings, so a short line
 * ("user:x:100", no gid) never leaves a caller a stale pointer. */
static size_t user_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *colon = strchr(p, ':');
        if (!colon)
            break;
        *colon = '\0';
        p = colon + 1;
    }
    for (size_t i = n; i < max; i++)
        fields[i] = p + strlen(p);
    return n;
}

struct user_line_cb {
    const char *name; /* match by name, or */
    bool by_id;
    uint32_t id; /* by id */
};

/* Find a passwd (want=7 fields) or group (4) line; copies its fields. */
static bool user_find(const char *text, const struct user_line_cb *m, size_t want, char **copy, char **fields,
                      size_t id_field)
{
    if (!text)
        return false;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = xstrndup(p, len);
        p += len + (nl ? 1 : 0);
        size_t n = user_fields(line, fields, want);
        uint32_t id;
        if (n >= id_field + 1 && line[0] != '#' && user_parse_id(fields[id_field], &id) &&
            (m->by_id ? id == m->id : strcmp(fields[0], m->name) == 0)) {
            *copy = line;
            return true;
        }
        free(line);
    }
    return false;
}

int convert_resolve_user(int rootfd, const char *spec, struct convert_user *out, struct keel_error **err)
{
    memset(out, 0, sizeof(*out));
    if (!spec || !spec[0])
        return 0;
    cleanup_free char *copy = xstrdup(spec);
    char *group = strchr(copy, ':');
    if (group)
        *group++ = '\0';
    const char *user = copy;
    cleanup_free char *passwd = NULL, *groups = NULL;
    if (user_read_etc(rootfd, "/etc/passwd", &passwd, err) < 0 ||
        user_read_etc(rootfd, "/etc/group", &groups, err) < 0)
        return -1;

    char *f[7];
    cleanup_free char *line = NULL;
    bool user_numeric = user_parse_id(user, &out->uid);
    const char *user_name = NULL;
    if (user_numeric) {
        /* A uid need not exist; its passwd line gives the default group. */
        struct user_line_cb m = {.by_id = true, .id = out->uid};
        if (user_find(passwd, &m, 7, &line, f, 2)) {
            user_parse_id(f[3], &out->gid);
            user_name = f[0];
        }
    } else {
        struct user_line_cb m = {.name = user};
        if (!user_find(passwd, &m, 7, &line, f, 2) || !user_parse_id(f[3], &out->gid))
            return error_set(err, ENOENT, "config.User `%s`: no user `%s` in the image's /etc/passwd", spec,
                             user);
        user_parse_id(f[2], &out->uid);
        user_name = f[0];
    }
    if (group) {
        if (!user_parse_id(group, &out->gid)) {
            char *g[4];
            cleanup_free char *gline = NULL;
            struct user_line_cb m = {.name = group};
            if (!user_find(groups, &m, 4, &gline, g, 2))
                return error_set(err, ENOENT, "config.User `%s`: no group `%s` in the image's /etc/group",
                                 spec, group);
            user_parse_id(g[2], &out->gid);
        }
        return 0; /* an explicit group: no supplementary groups (conversion.md) */
    }
    if (user_numeric || !user_name || !groups)
        return 0;
    /* Supplementary groups: every group listing the user as a member. */
    const char *p = groups;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        cleanup_free char *gl = xstrndup(p, len);
        p += len + (nl ? 1 : 0);
        char *g[4];
        uint32_t gid;
        if (user_fields(gl, g, 4) < 4 || gl[0] == '#' || !user_parse_id(g[2], &gid) || gid == out->gid)
            continue;
        char *save = NULL;
        for (char *mem = strtok_r(g[3], ",", &save); mem; mem = strtok_r(NULL, ",", &save)) {
            if (strcmp(mem, user_name) != 0)
                continue;
            bool dup = false;
            for (size_t i = 0; i < out->n_additional_gids; i++)
                dup |= out->additional_gids[i] == gid;
            if (!dup) {
                out->additional_gids =
                    xrealloc(out->additional_gids, (out->n_additional_gids + 1) * sizeof(uint32_t));
                out->additional_gids[out->n_additional_gids++] = gid;
            }
        }
    }
    return 0;
}

void convert_user_release(struct convert_user *u)
{
    free(u->additional_gids);
    u->additional_gids = NULL;
    u->n_additional_gids = 0;
}
