/* Talking to systemd (org.freedesktop.systemd1) over D-Bus with sd-bus.
 *
 * libsystemd is loaded with dlopen() here, when --systemd-cgroup is used,
 * not linked: it pulls in five more libraries whose relocation every keel
 * command (run, exec, state...) would otherwise pay for.  The headers give
 * the function types, so a changed signature still fails the build.
 *
 * Jobs: StartTransientUnit and StopUnit return a job object at once; the
 * unit is started or stopped only when systemd emits JobRemoved for that
 * job.  The match is installed before the call, and the reply is read
 * before any signal is dispatched (sd_bus_call queues them), so the signal
 * cannot be missed.  On the system bus, systemd sends its signals only to
 * clients that called Subscribe(); on its private socket to everyone. */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "runtime/cgroup_systemd.h"
#include "xalloc.h"

#define LIBSYSTEMD "libsystemd.so.0"
#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_PRIVATE_SOCKET "/run/systemd/private"
#define DEFAULT_SYSTEM_BUS "unix:path=/run/dbus/system_bus_socket"
/* as runc: a job that takes longer than this is reported as stuck */
#define JOB_TIMEOUT_USEC (30ULL * 1000000ULL)

struct sdbus_api {
    void *dl;
    __typeof__(sd_bus_open_system) *sd_bus_open_system;
    __typeof__(sd_bus_new) *sd_bus_new;
    __typeof__(sd_bus_set_address) *sd_bus_set_address;
    __typeof__(sd_bus_start) *sd_bus_start;
    __typeof__(sd_bus_flush_close_unref) *sd_bus_flush_close_unref;
    __typeof__(sd_bus_call) *sd_bus_call;
    __typeof__(sd_bus_call_method) *sd_bus_call_method;
    __typeof__(sd_bus_process) *sd_bus_process;
    __typeof__(sd_bus_wait) *sd_bus_wait;
    __typeof__(sd_bus_match_signal) *sd_bus_match_signal;
    __typeof__(sd_bus_slot_unref) *sd_bus_slot_unref;
    __typeof__(sd_bus_message_new_method_call) *sd_bus_message_new_method_call;
    __typeof__(sd_bus_message_unref) *sd_bus_message_unref;
    __typeof__(sd_bus_message_append) *sd_bus_message_append;
    __typeof__(sd_bus_message_append_array) *sd_bus_message_append_array;
    __typeof__(sd_bus_message_open_container) *sd_bus_message_open_container;
    __typeof__(sd_bus_message_close_container) *sd_bus_message_close_container;
    __typeof__(sd_bus_message_read) *sd_bus_message_read;
    __typeof__(sd_bus_get_property_string) *sd_bus_get_property_string;
    __typeof__(sd_bus_error_free) *sd_bus_error_free;
    __typeof__(sd_bus_error_has_name) *sd_bus_error_has_name;
};

#define SYM(f)                                                                                               \
    {                                                                                                        \
#f, offsetof(struct sdbus_api, f)                                                                    \
    }
static const struct {
    const char *name;
    size_t offset;
} sdbus_symbols[] = {
    SYM(sd_bus_open_system),
    SYM(sd_bus_new),
    SYM(sd_bus_set_address),
    SYM(sd_bus_start),
    SYM(sd_bus_flush_close_unref),
    SYM(sd_bus_call),
    SYM(sd_bus_call_method),
    SYM(sd_bus_process),
    SYM(sd_bus_wait),
    SYM(sd_bus_match_signal),
    SYM(sd_bus_slot_unref),
    SYM(sd_bus_message_new_method_call),
    SYM(sd_bus_message_unref),
    SYM(sd_bus_message_append),
    SYM(sd_bus_message_append_array),
    SYM(sd_bus_message_open_container),
    SYM(sd_bus_message_close_container),
    SYM(sd_bus_message_read),
    SYM(sd_bus_get_property_string),
    SYM(sd_bus_error_free),
    SYM(sd_bus_error_has_name),
};

struct systemd_bus {
    struct sdbus_api api;
    sd_bus *bus;
    const char *via; /* "the system bus" or "systemd's private socket" */
};

static int sdbus_load(struct sdbus_api *api, struct keel_error **err)
{
    /* NODELETE: dlclose() leaves the library mapped, so nothing it set up
     * (atexit handlers, thread-local caches) can outlive its code */
    api->dl = dlopen(LIBSYSTEMD, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!api->dl)
        return error_set(err, 0,
                         "the systemd cgroup driver needs sd-bus from " LIBSYSTEMD
                         " (Debian package libsystemd0): %s",
                         dlerror());
    for (size_t i = 0; i < sizeof(sdbus_symbols) / sizeof(sdbus_symbols[0]); i++) {
        void *f = dlsym(api->dl, sdbus_symbols[i].name);
        if (!f) {
            dlclose(api->dl);
            api->dl = NULL;
            return error_set(err, 0, "%s has no %s (too old for the systemd cgroup driver)", LIBSYSTEMD,
                             sdbus_symbols[i].name);
        }
        memcpy((char *)api + sdbus_symbols[i].offset, &f, sizeof(f));
    }
    return 0;
}

int systemd_bus_available(struct keel_error **err)
{
    struct sdbus_api api;
    if (sdbus_load(&api, err) < 0)
        return -1;
    dlclose(api.dl);
    return 0;
}

void systemd_bus_free(struct systemd_bus *b)
{
    if (!b)
        return;
    if (b->bus)
        b->api.sd_bus_flush_close_unref(b->bus);
    if (b->api.dl)
        dlclose(b->api.dl);
    free(b);
}

void systemd_bus_freep(struct systemd_bus **b)
{
    systemd_bus_free(*b);
}

/* Fill *err from a D-Bus error (or a plain negative errno). */
static int bus_error(struct keel_error **err, int r, const sd_bus_error *e, const char *what)
{
    if (e && e->name)
        return error_set(err, r < 0 ? -r : 0, "%s: %s (%s)", what, e->message ? e->message : "no message",
                         e->name);
    return error_set(err, r < 0 ? -r : EIO, "%s", what);
}

static int connect_private(struct systemd_bus *b, sd_bus **out)
{
    sd_bus *bus = NULL;
    int r = b->api.sd_bus_new(&bus);
    if (r < 0)
        return r;
    r = b->api.sd_bus_set_address(bus, "unix:path=" SD_PRIVATE_SOCKET);
    if (r >= 0)
        r = b->api.sd_bus_start(bus);
    if (r < 0) {
        b->api.sd_bus_flush_close_unref(bus);
        return r;
    }
    *out = bus;
    return 0;
}

/* Subscribe() doubles as the check that systemd answers on this connection
 * (a system bus may run without systemd on it, in a container). */
static int subscribe(struct systemd_bus *b, struct keel_error **err)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    int r = b->api.sd_bus_call_method(b->bus, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe", &e, NULL, "");
    if (r < 0)
        bus_error(err, r, &e, "calling org.freedesktop.systemd1.Manager.Subscribe");
    b->api.sd_bus_error_free(&e);
    return r < 0 ? -1 : 0;
}

int systemd_bus_connect(struct systemd_bus **out, struct keel_error **err)
{
    cleanup_systemd_bus struct systemd_bus *b = xzalloc(sizeof(*b));
    if (sdbus_load(&b->api, err) < 0)
        return -1;
    const char *sysaddr = getenv("DBUS_SYSTEM_BUS_ADDRESS");
    cleanup_free char *sys_how =
        xasprintf("the system bus `%s`", sysaddr && sysaddr[0] ? sysaddr : DEFAULT_SYSTEM_BUS);
    cleanup_error struct keel_error *sys_err = NULL;
    int r = b->api.sd_bus_open_system(&b->bus);
    if (r < 0) {
        b->bus = NULL;
        error_set(&sys_err, -r, "connecting");
    } else if (subscribe(b, &sys_err) == 0) {
        b->via = "the system bus";
        *out = steal_ptr(&b);
        return 0;
    }
    if (geteuid() != 0) {
        *err = steal_ptr(&sys_err);
        return error_prefix(err, "talking to systemd over %s", sys_how);
    }
    /* root: systemd's own socket, as systemctl does */
    if (b->bus)
        b->api.sd_bus_flush_close_unref(b->bus);
    b->bus = NULL;
    b->via = "systemd's private socket " SD_PRIVATE_SOCKET;
    r = connect_private(b, &b->bus);
    if (r < 0) {
        b->bus = NULL;
        return error_set(err, -r,
                         "talking to systemd: over %s: %s; and connecting to systemd's private socket `%s`",
                         sys_how, error_msg(sys_err), SD_PRIVATE_SOCKET);
    }
    cleanup_error struct keel_error *priv_err = NULL;
    if (subscribe(b, &priv_err) < 0)
        return error_set(err, 0, "talking to systemd: over %s: %s; over its private socket `%s`: %s", sys_how,
                         error_msg(sys_err), SD_PRIVATE_SOCKET, error_msg(priv_err));
    *out = steal_ptr(&b);
    return 0;
}

int systemd_bus_version(struct systemd_bus *b, unsigned *version, struct keel_error **err)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    char *s = NULL;
    int r = b->api.sd_bus_get_property_string(b->bus, SD_DEST, SD_PATH, SD_MANAGER, "Version", &e, &s);
    if (r < 0) {
        bus_error(err, r, &e, "reading systemd's Version");
        b->api.sd_bus_error_free(&e);
        return -1;
    }
    /* "252.39-1~deb12u2", or "v252" in some builds */
    const char *p = s[0] == 'v' ? s + 1 : s;
    char *end = NULL;
    unsigned long v = strtoul(p, &end, 10);
    if (end == p) {
        error_set(err, 0, "systemd reports version \"%s\", which does not start with a number", s);
        free(s);
        return -1;
    }
    free(s);
    *version = (unsigned)v;
    return 0;
}

static int append_prop(struct systemd_bus *b, sd_bus_message *m, const struct systemd_prop *p)
{
    const struct sdbus_api *a = &b->api;
    switch (p->type) {
    case SYSTEMD_PROP_BOOL:
        return a->sd_bus_message_append(m, "(sv)", p->name, "b", (int)(p->u64 != 0));
    case SYSTEMD_PROP_U64:
        return a->sd_bus_message_append(m, "(sv)", p->name, "t", p->u64);
    case SYSTEMD_PROP_STRING:
        return a->sd_bus_message_append(m, "(sv)", p->name, "s", p->str);
    case SYSTEMD_PROP_STRV1:
        return a->sd_bus_message_append(m, "(sv)", p->name, "as", 1, p->str);
    case SYSTEMD_PROP_PIDS:
        return a->sd_bus_message_append(m, "(sv)", p->name, "au", 1, (uint32_t)p->u64);
    case SYSTEMD_PROP_PAIRS: {
        int r = a->sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
            r = a->sd_bus_message_append(m, "s", p->name);
        if (r >= 0)
            r = a->sd_bus_message_open_container(m, 'v', "a(ss)");
        if (r >= 0)
            r = a->sd_bus_message_open_container(m, 'a', "(ss)");
        for (size_t i = 0; r >= 0 && p->strv && p->strv[i] && p->strv[i + 1]; i += 2)
            r = a->sd_bus_message_append(m, "(ss)", p->strv[i], p->strv[i + 1]);
        for (int level = 0; r >= 0 && level < 3; level++)
            r = a->sd_bus_message_close_container(m);
        return r;
    }
    case SYSTEMD_PROP_BYTES: {
        int r = a->sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
            r = a->sd_bus_message_append(m, "s", p->name);
        if (r >= 0)
            r = a->sd_bus_message_open_container(m, 'v', "ay");
        if (r >= 0)
            r = a->sd_bus_message_append_array(m, 'y', p->bytes, p->n_bytes);
        if (r >= 0)
            r = a->sd_bus_message_close_container(m);
        if (r >= 0)
            r = a->sd_bus_message_close_container(m);
        return r;
    }
    }
    return -EINVAL;
}

static int append_props(struct systemd_bus *b, sd_bus_message *m, const struct systemd_props *props)
{
    int r = b->api.sd_bus_message_open_container(m, 'a', "(sv)");
    for (size_t i = 0; r >= 0 && i < props->n; i++)
        r = append_prop(b, m, &props->v[i]);
    if (r >= 0)
        r = b->api.sd_bus_message_close_container(m);
    return r;
}

struct job_wait {
    struct systemd_bus *b;
    char *job; /* the object path of the job waited for */
    char *result;
};

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    (void)ret_error;
    struct job_wait *w = userdata;
    uint32_t id;
    const char *path = NULL, *unit = NULL, *result = NULL;
    if (w->b->api.sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
        return 0;
    if (w->job && !w->result && strcmp(path, w->job) == 0)
        w->result = xstrdup(result);
    return 0;
}

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

static int wait_job(struct job_wait *w, const char *what, const char *unit, struct keel_error **err)
{
    const struct sdbus_api *a = &w->b->api;
    uint64_t deadline = now_usec() + JOB_TIMEOUT_USEC;
    while (!w->result) {
        int r = a->sd_bus_process(w->b->bus, NULL);
        if (r < 0)
            return error_set(err, -r, "%s unit %s: reading systemd's reply", what, unit);
        if (r > 0)
            continue;
        uint64_t now = now_usec();
        if (now >= deadline)
            return error_set(err, 0, "%s unit %s: systemd's job %s did not finish within %llu s", what, unit,
                             w->job, (unsigned long long)(JOB_TIMEOUT_USEC / 1000000ULL));
        r = a->sd_bus_wait(w->b->bus, deadline - now);
        if (r < 0 && r != -EINTR)
            return error_set(err, -r, "%s unit %s: waiting for systemd", what, unit);
    }
    if (strcmp(w->result, "done") != 0)
        return error_set(
            err, 0,
            "%s unit %s: systemd's job finished with result \"%s\" (see `systemctl status %s` and "
            "the journal)",
            what, unit, w->result, unit);
    return 0;
}

/* Call a Manager method that returns a job, then wait for the job.
 * *exists / *missing report UnitExists / NoSuchUnit instead of failing. */
static int job_call(struct systemd_bus *b, const char *method, const char *what, const char *unit,
                    const struct systemd_props *props, bool *exists, bool *missing, struct keel_error **err)
{
    const struct sdbus_api *a = &b->api;
    struct job_wait w = {.b = b};
    sd_bus_slot *slot = NULL;
    int r =
        a->sd_bus_match_signal(b->bus, &slot, NULL, SD_PATH, SD_MANAGER, "JobRemoved", on_job_removed, &w);
    if (r < 0)
        return error_set(err, -r, "%s unit %s: subscribing to JobRemoved", what, unit);
    sd_bus_message *m = NULL, *reply = NULL;
    sd_bus_error e = SD_BUS_ERROR_NULL;
    r = a->sd_bus_message_new_method_call(b->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, method);
    if (r >= 0)
        r = a->sd_bus_message_append(m, "ss", unit, "replace");
    if (r >= 0 && props) {
        r = append_props(b, m, props);
        if (r >= 0) /* no auxiliary units */
            r = a->sd_bus_message_append(m, "a(sa(sv))", 0);
    }
    if (r < 0) {
        error_set(err, -r, "%s unit %s: building the D-Bus message", what, unit);
    } else if ((r = a->sd_bus_call(b->bus, m, JOB_TIMEOUT_USEC, &e, &reply)) < 0) {
        if (exists && a->sd_bus_error_has_name(&e, "org.freedesktop.systemd1.UnitExists"))
            *exists = true;
        else if (missing && a->sd_bus_error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit"))
            *missing = true;
        else
            bus_error(err, r, &e, method);
    } else {
        const char *job = NULL;
        r = a->sd_bus_message_read(reply, "o", &job);
        if (r < 0) {
            error_set(err, -r, "%s: reading the job from systemd's reply", method);
        } else {
            w.job = xstrdup(job);
            r = wait_job(&w, what, unit, err);
        }
    }
    a->sd_bus_error_free(&e);
    if (reply)
        a->sd_bus_message_unref(reply);
    if (m)
        a->sd_bus_message_unref(m);
    a->sd_bus_slot_unref(slot);
    free(w.job);
    free(w.result);
    if (r < 0 && ((exists && *exists) || (missing && *missing)))
        return 0;
    if (r < 0)
        return error_prefix(err, "over %s", b->via);
    return 0;
}

int systemd_bus_start_unit(struct systemd_bus *b, const char *unit, const struct systemd_props *props,
                           struct keel_error **err)
{
    bool exists = false;
    if (job_call(b, "StartTransientUnit", "starting", unit, props, &exists, NULL, err) < 0)
        return -1;
    if (exists) {
        error_set(err, 0, "starting unit %s: systemd has a unit of that name already", unit);
        return -EEXIST;
    }
    return 0;
}

int systemd_bus_stop_unit(struct systemd_bus *b, const char *unit, struct keel_error **err)
{
    bool missing = false;
    return job_call(b, "StopUnit", "stopping", unit, NULL, NULL, &missing, err);
}

int systemd_bus_reset_failed(struct systemd_bus *b, const char *unit, struct keel_error **err)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    int r = b->api.sd_bus_call_method(b->bus, SD_DEST, SD_PATH, SD_MANAGER, "ResetFailedUnit", &e, NULL, "s",
                                      unit);
    if (r < 0 && !b->api.sd_bus_error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit")) {
        bus_error(err, r, &e, "ResetFailedUnit");
        b->api.sd_bus_error_free(&e);
        return error_prefix(err, "unit %s, over %s", unit, b->via);
    }
    b->api.sd_bus_error_free(&e);
    return 0;
}

int systemd_bus_set_properties(struct systemd_bus *b, const char *unit, const struct systemd_props *props,
                               struct keel_error **err)
{
    const struct sdbus_api *a = &b->api;
    sd_bus_message *m = NULL;
    sd_bus_error e = SD_BUS_ERROR_NULL;
    int r = a->sd_bus_message_new_method_call(b->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "SetUnitProperties");
    if (r >= 0) /* runtime=true: kept under /run, gone at reboot, as the scope is */
        r = a->sd_bus_message_append(m, "sb", unit, 1);
    if (r >= 0)
        r = append_props(b, m, props);
    if (r < 0) {
        error_set(err, -r, "setting properties of unit %s: building the D-Bus message", unit);
    } else if ((r = a->sd_bus_call(b->bus, m, JOB_TIMEOUT_USEC, &e, NULL)) < 0) {
        bus_error(err, r, &e, "SetUnitProperties");
        error_prefix(err, "setting properties of unit %s over %s", unit, b->via);
    }
    a->sd_bus_error_free(&e);
    if (m)
        a->sd_bus_message_unref(m);
    return r < 0 ? -1 : 0;
}
