/* Namespace names, /proc names and clone flags. */
#include <sched.h>
#include <string.h>

#include "spec.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const struct {
    const char *name;
    const char *proc_name;
    int flag;
} spec_ns_table[SPEC_NS_COUNT] = {
    [SPEC_NS_PID] = {"pid", "pid", CLONE_NEWPID},
    [SPEC_NS_NETWORK] = {"network", "net", CLONE_NEWNET},
    [SPEC_NS_MOUNT] = {"mount", "mnt", CLONE_NEWNS},
    [SPEC_NS_IPC] = {"ipc", "ipc", CLONE_NEWIPC},
    [SPEC_NS_UTS] = {"uts", "uts", CLONE_NEWUTS},
    [SPEC_NS_USER] = {"user", "user", CLONE_NEWUSER},
    [SPEC_NS_CGROUP] = {"cgroup", "cgroup", CLONE_NEWCGROUP},
    [SPEC_NS_TIME] = {"time", "time", CLONE_NEWTIME},
};

const char *spec_ns_name(enum spec_ns_type t)
{
    return (unsigned)t < SPEC_NS_COUNT ? spec_ns_table[t].name : NULL;
}

const char *spec_ns_proc_name(enum spec_ns_type t)
{
    return (unsigned)t < SPEC_NS_COUNT ? spec_ns_table[t].proc_name : NULL;
}

int spec_ns_clone_flag(enum spec_ns_type t)
{
    return (unsigned)t < SPEC_NS_COUNT ? spec_ns_table[t].flag : 0;
}

int spec_ns_from_name(const char *name)
{
    for (int i = 0; i < SPEC_NS_COUNT; i++)
        if (strcmp(spec_ns_table[i].name, name) == 0)
            return i;
    return -1;
}

const struct spec_namespace *spec_find_namespace(const struct spec_linux *l, enum spec_ns_type t)
{
    if (l == NULL)
        return NULL;
    for (size_t i = 0; i < l->n_namespaces; i++)
        if (l->namespaces[i].type == t)
            return &l->namespaces[i];
    return NULL;
}
