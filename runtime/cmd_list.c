/* keel list [--format table|json] [-q] */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "commands.h"
#include "container.h"
#include "error.h"
#include "json.h"
#include "state.h"
#include "xalloc.h"

/* runc's owner column: the user owning the container's state dir, by name
 * from the host's /etc/passwd, else "#UID".  Read by hand: getpwuid would
 * load NSS modules (and warns in a static link). */
static char *list_owner_name(uid_t uid)
{
    cleanup_file FILE *f = fopen("/etc/passwd", "re");
    cleanup_free char *line = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0) {
        char *colon = strchr(line, ':');
        char *pw = colon ? strchr(colon + 1, ':') : NULL;
        if (!pw)
            continue;
        char *end;
        unsigned long id = strtoul(pw + 1, &end, 10);
        if (end != pw + 1 && *end == ':' && id == (unsigned long)uid)
            return xstrndup(line, (size_t)(colon - line));
    }
    return xasprintf("#%u", (unsigned)uid);
}

struct list_owner_cache {
    uid_t uid;
    char *name; /* NULL until the first lookup */
};

static void list_owner_cache_free(struct list_owner_cache *c)
{
    free(c->name);
}

static const char *list_owner(struct list_owner_cache *c, int sfd)
{
    struct stat st;
    if (fstat(sfd, &st) < 0)
        return "";
    if (!c->name || c->uid != st.st_uid) {
        free(c->name);
        c->uid = st.st_uid;
        c->name = list_owner_name(st.st_uid);
    }
    return c->name;
}

int cmd_list(struct keel_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool quiet = false, json = false;
    cli_reset_getopt();
    int c;
    while ((c = getopt_long(argc, argv, "+f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "json") == 0)
                json = true;
            else if (strcmp(optarg, "table") != 0)
                return error_set(err, 0, "list: --format must be table or json, not \"%s\"", optarg);
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            printf("Usage: keel list [--format table|json] [-q]\n\nList the containers under --root.\n");
            return 0;
        default:
            return cli_error_bad_option("list", argc, argv, err);
        }
    }
    if (optind < argc)
        return error_set(err, 0, "list: unexpected argument \"%s\"", argv[optind]);
    cleanup_dir DIR *d = opendir(ctx->root);
    if (!d && errno != ENOENT)
        return error_set(err, errno, "opening the state root `%s`", ctx->root);
    yajl_gen g = json ? json_gen_new(false) : NULL;
    if (g)
        yajl_gen_array_open(g);
    else if (!quiet)
        printf("%-12s %-10s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
    __attribute__((cleanup(list_owner_cache_free))) struct list_owner_cache owners = {0};
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || cli_validate_id(e->d_name, NULL) < 0 || e->d_type != DT_DIR)
            continue;
        cleanup_close int sfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cleanup_container_state struct container_state *s = NULL;
        if (sfd < 0 || state_read(sfd, e->d_name, &s, NULL) < 0)
            continue;
        enum container_status st = container_status_of(sfd, s);
        const char *owner = list_owner(&owners, sfd);
        if (g) {
            yajl_gen_map_open(g);
            json_gen_kv_string(g, "ociVersion", s->oci_version);
            json_gen_kv_string(g, "id", s->id);
            json_gen_kv_int(g, "pid", st == CONTAINER_STOPPED ? 0 : s->pid);
            json_gen_kv_string(g, "status", container_status_name(st));
            json_gen_kv_string(g, "bundle", s->bundle);
            json_gen_kv_string(g, "rootfs", s->rootfs);
            json_gen_kv_string(g, "created", s->created);
            if (s->annotations) {
                json_gen_key(g, "annotations");
                json_gen_value(g, s->annotations);
            }
            json_gen_kv_string(g, "owner", owner);
            yajl_gen_map_close(g);
        } else if (quiet) {
            printf("%s\n", s->id);
        } else {
            printf("%-12s %-10d %-10s %-40s %-30s %s\n", s->id, st == CONTAINER_STOPPED ? 0 : (int)s->pid,
                   container_status_name(st), s->bundle, s->created, owner);
        }
    }
    if (g) {
        yajl_gen_array_close(g);
        cleanup_free char *text = json_gen_dup(g, NULL);
        yajl_gen_free(g);
        printf("%s\n", text);
    }
    return 0;
}
