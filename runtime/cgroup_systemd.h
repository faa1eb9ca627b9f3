/* The systemd cgroup driver (--systemd-cgroup), internal to the cgroup
 * backends.  cgroup_systemd.c is the driver (a transient scope per
 * container, then the plain file code below it), cgroup_systemd_props.c
 * turns linux.resources into systemd unit properties (pure data, unit
 * tested), cgroup_systemd_bus.c talks to systemd over D-Bus with sd-bus,
 * loaded with dlopen() only when the driver is used so that every other
 * keel command pays nothing for libsystemd. */
#ifndef KEEL_CGROUP_SYSTEMD_H
#define KEEL_CGROUP_SYSTEMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/cgroup_internal.h"

struct keel_error;
struct spec_resources;

extern const struct cgroup_ops cgroup_ops_systemd;

/* ---- unit properties (cgroup_systemd_props.c) ---- */

enum systemd_prop_type {
    SYSTEMD_PROP_BOOL,   /* "b" */
    SYSTEMD_PROP_U64,    /* "t" */
    SYSTEMD_PROP_STRING, /* "s" */
    SYSTEMD_PROP_STRV1,  /* "as" with one element (Wants=) */
    SYSTEMD_PROP_PIDS,   /* "au" with one element (PIDs=) */
    SYSTEMD_PROP_BYTES,  /* "ay" (AllowedCPUs=, AllowedMemoryNodes= bitmasks) */
    SYSTEMD_PROP_PAIRS,  /* "a(ss)" (DeviceAllow=): strv holds path, access, path, access... */
};

struct systemd_prop {
    const char *name; /* a string literal */
    enum systemd_prop_type type;
    uint64_t u64; /* BOOL, U64, PIDS */
    char *str;    /* STRING, STRV1 */
    uint8_t *bytes;
    size_t n_bytes;
    char **strv; /* PAIRS, NULL-terminated */
};

struct systemd_props {
    struct systemd_prop *v;
    size_t n;
};

/* systemd's "infinity" for MemoryMax=, TasksMax=, CPUQuotaPerSecUSec= */
#define SYSTEMD_INFINITY UINT64_MAX

void systemd_props_add_bool(struct systemd_props *p, const char *name, bool value);
void systemd_props_add_u64(struct systemd_props *p, const char *name, uint64_t value);
void systemd_props_add_string(struct systemd_props *p, const char *name, const char *value);
void systemd_props_add_strv1(struct systemd_props *p, const char *name, const char *value);
void systemd_props_add_pid(struct systemd_props *p, const char *name, pid_t pid);
void systemd_props_clear(struct systemd_props *p);
/* The property named name, or NULL (for tests). */
const struct systemd_prop *systemd_props_find(const struct systemd_props *p, const char *name);

/* The properties systemd can carry for r: MemoryMax/MemoryLimit, MemoryLow,
 * MemorySwapMax, CPUWeight/CPUShares, CPUQuotaPerSecUSec,
 * CPUQuotaPeriodUSec (systemd >= 242), TasksMax, AllowedCPUs and
 * AllowedMemoryNodes (cgroup v2, systemd >= 244).  v2: the unified
 * hierarchy (else the v1 names).  Fields systemd cannot carry are left to
 * the cgroup files; a malformed value is an error naming the field. */
int systemd_props_from_resources(const struct spec_resources *r, bool v2, unsigned version,
                                 struct systemd_props *out, struct keel_error **err);

/* v1 hosts only: systemd rewrites a unit's devices.* from DevicePolicy= and
 * DeviceAllow= whenever it realises the unit (daemon-reload), which would
 * reopen every device; so the rule list keel writes is given to systemd as
 * well: DevicePolicy=strict plus one DeviceAllow= per allowed entry
 * ("/dev/char/1:3 rwm", "char-pts rwm" for a whole major, named from
 * proc_devices = the text of /proc/devices; "char-*" for every major).  An
 * entry systemd cannot name is left out, and a deny narrows the entries it
 * overlaps, so systemd's view is never wider than keel's.  Allow-all (a
 * bare "a" allow) is DevicePolicy=auto. */
int systemd_props_from_devices(const struct cgroup_dev_rule *rules, size_t n, const char *proc_devices,
                               struct systemd_props *out);

/* A cpuset list ("0-3,8") -> systemd's bitmask (byte i bit j = CPU 8i+j). */
int systemd_cpuset_to_mask(const char *list, const char *field, uint8_t **mask, size_t *n,
                           struct keel_error **err);

/* systemd's cgroup path of a slice: "a-b.slice" -> "/a.slice/a-b.slice",
 * "-.slice" -> "" (the root).  Invalid slice names are refused. */
int systemd_slice_path(const char *slice, char **out, struct keel_error **err);

/* ---- D-Bus (cgroup_systemd_bus.c) ---- */

struct systemd_bus;

/* Load libsystemd.so.0 (checks only that sd-bus can be used). */
int systemd_bus_available(struct keel_error **err);
/* Connect to systemd: the system bus, else (root) systemd's private socket
 * /run/systemd/private.  The error names both attempts. */
int systemd_bus_connect(struct systemd_bus **out, struct keel_error **err);
void systemd_bus_free(struct systemd_bus *b);
void systemd_bus_freep(struct systemd_bus **b);
#define cleanup_systemd_bus __attribute__((cleanup(systemd_bus_freep)))

/* systemd's major version (Manager.Version "252.39-1" -> 252). */
int systemd_bus_version(struct systemd_bus *b, unsigned *version, struct keel_error **err);
/* StartTransientUnit(unit, "replace", props) and wait for its job to finish.
 * -EEXIST (with *err) when the unit exists already. */
int systemd_bus_start_unit(struct systemd_bus *b, const char *unit, const struct systemd_props *props,
                           struct keel_error **err);
/* SetUnitProperties(unit, runtime=true, props). */
int systemd_bus_set_properties(struct systemd_bus *b, const char *unit, const struct systemd_props *props,
                               struct keel_error **err);
/* StopUnit(unit, "replace") and wait; a unit that does not exist is fine. */
int systemd_bus_stop_unit(struct systemd_bus *b, const char *unit, struct keel_error **err);
/* ResetFailedUnit(unit); a unit that does not exist is fine. */
int systemd_bus_reset_failed(struct systemd_bus *b, const char *unit, struct keel_error **err);

#endif
