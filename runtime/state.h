/* Container state on disk: ROOT/ID/ holds state.json (what later commands
 * need) and exec.fifo (present while the container is created but not
 * started).  The directory fd is locked with flock so that commands on one
 * container are serialized.
 *
 * Status is derived, never stored: the init's pid is only the container
 * while /proc/PID/stat shows the start time recorded at create, so a
 * recycled pid is never mistaken for the container. */
#ifndef KEEL_STATE_H
#define KEEL_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <yajl/yajl_tree.h>

struct keel_error;

enum container_status {
    CONTAINER_CREATING,
    CONTAINER_CREATED,
    CONTAINER_RUNNING,
    CONTAINER_PAUSED,
    CONTAINER_STOPPED,
};

const char *container_status_name(enum container_status s);

#define STATE_FILE "state.json"
#define STATE_FIFO "exec.fifo"
/* A hard link to state.json as first written by create (pid, start time,
 * cgroup, before the cgroup exists).  state.json is later replaced by
 * rename, so this keeps its own inode: `delete --force` falls back to it
 * when state.json is unreadable, to kill the process and remove the cgroup. */
#define STATE_RECOVERY_FILE "recovery.json"

struct container_state {
    char *id;
    char *oci_version;
    pid_t pid;
    unsigned long long pid_start; /* field 22 of /proc/PID/stat */
    char *bundle;
    char *rootfs;
    char *created; /* RFC 3339 with nanoseconds, UTC */
    char *owner;
    char *cgroup;         /* the cgroup manager's saved string, or NULL */
    yajl_val annotations; /* JSON object, or NULL; points into doc or a config tree */
    yajl_val hooks;       /* config.json "hooks" object, or NULL */
    yajl_val doc;         /* owned parsed state.json when read from disk */
    bool pid_ns;          /* the container has its own pid namespace */
    bool systemd_cgroup;
};

void container_state_free(struct container_state *s);
void container_state_freep(struct container_state **s);
#define cleanup_container_state __attribute__((cleanup(container_state_freep)))

/* Create ROOT (0711) and ROOT/ID (0700), open it locked.  An existing ID is
 * an error naming it.  Returns the directory fd. */
int state_dir_create(const char *root, const char *id, struct keel_error **err);
/* Open ROOT/ID and lock it (exclusive or shared).  Missing: "container \"ID\" does not exist". */
int state_dir_open(const char *root, const char *id, bool exclusive, struct keel_error **err);
/* Remove ROOT/ID and everything in it. */
int state_dir_remove(const char *root, const char *id, struct keel_error **err);

/* state.json, written atomically (temp + rename). */
int state_write(int dirfd, const struct container_state *s, struct keel_error **err);
int state_read(int dirfd, const char *id, struct container_state **out, struct keel_error **err);
/* The same from another file of the state dir (STATE_RECOVERY_FILE). */
int state_read_file(int dirfd, const char *id, const char *file, struct container_state **out,
                    struct keel_error **err);
/* Link STATE_FILE as STATE_RECOVERY_FILE (once, at create). */
int state_keep_recovery(int dirfd, struct keel_error **err);

/* Start time and one-letter state of a process; -1 (errno ESRCH) when gone. */
int proc_stat_read(pid_t pid, unsigned long long *start_time, char *state);

/* Status of a container from its state and the live process. */
enum container_status state_status(int dirfd, const struct container_state *s);
/* true while the recorded pid is still the container's process and not a zombie. */
bool state_process_alive(const struct container_state *s);

/* The runtime-spec state JSON (plus runc's created/owner/rootfs when extras). */
char *state_oci_json(const struct container_state *s, enum container_status status, bool extras, bool pretty);
/* Current time as RFC 3339 with nanoseconds. */
char *state_now_rfc3339(void);

#endif
