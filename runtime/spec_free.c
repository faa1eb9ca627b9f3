/* Freeing the config model.  Every destructor accepts a partly built
 * object: arrays are counted as their items are started. */
#include <stdlib.h>

#include "cleanup.h"
#include "json.h"
#include "spec_internal.h"

static void spec_kv_list_clear(struct spec_kv_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void spec_process_free(struct spec_process *p)
{
    if (p == NULL)
        return;
    free(p->user.additional_gids);
    free(p->user.username);
    strv_free(p->args);
    free(p->command_line);
    strv_free(p->env);
    free(p->cwd);
    if (p->capabilities) {
        strv_free(p->capabilities->bounding);
        strv_free(p->capabilities->effective);
        strv_free(p->capabilities->inheritable);
        strv_free(p->capabilities->permitted);
        strv_free(p->capabilities->ambient);
        free(p->capabilities);
    }
    for (size_t i = 0; i < p->n_rlimits; i++)
        free(p->rlimits[i].type);
    free(p->rlimits);
    free(p->apparmor_profile);
    free(p->selinux_label);
    free(p->scheduler.policy);
    strv_free(p->scheduler.flags);
    free(p->io_priority.klass);
    free(p->exec_cpu_affinity.initial);
    free(p->exec_cpu_affinity.final);
    free(p);
}

void spec_resources_clear(struct spec_resources *r)
{
    for (size_t i = 0; i < r->n_devices; i++)
        free(r->devices[i].access);
    free(r->devices);
    free(r->cpu.cpus);
    free(r->cpu.mems);
    free(r->block_io.weight_devices);
    free(r->block_io.throttle_read_bps);
    free(r->block_io.throttle_write_bps);
    free(r->block_io.throttle_read_iops);
    free(r->block_io.throttle_write_iops);
    for (size_t i = 0; i < r->n_hugepage_limits; i++)
        free(r->hugepage_limits[i].page_size);
    free(r->hugepage_limits);
    for (size_t i = 0; i < r->n_net_priorities; i++)
        free(r->net_priorities[i].name);
    free(r->net_priorities);
    for (size_t i = 0; i < r->n_rdma; i++)
        free(r->rdma[i].device);
    free(r->rdma);
    spec_kv_list_clear(&r->unified);
    *r = (struct spec_resources){0};
}

void spec_seccomp_free(struct spec_seccomp *s)
{
    if (s == NULL)
        return;
    free(s->default_action);
    strv_free(s->architectures);
    strv_free(s->flags);
    free(s->listener_path);
    free(s->listener_metadata);
    for (size_t i = 0; i < s->n_syscalls; i++) {
        struct spec_seccomp_syscall *c = &s->syscalls[i];
        strv_free(c->names);
        free(c->action);
        for (size_t j = 0; j < c->n_args; j++)
            free(c->args[j].op);
        free(c->args);
    }
    free(s->syscalls);
    /* s->raw points into the config's tree, freed with the config. */
    free(s);
}

void spec_linux_free(struct spec_linux *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n_namespaces; i++)
        free(l->namespaces[i].path);
    free(l->namespaces);
    free(l->uid_mappings);
    free(l->gid_mappings);
    for (size_t i = 0; i < l->n_devices; i++)
        free(l->devices[i].path);
    free(l->devices);
    free(l->cgroups_path);
    spec_resources_clear(&l->resources);
    free(l->intel_rdt.clos_id);
    free(l->intel_rdt.l3_cache_schema);
    free(l->intel_rdt.mem_bw_schema);
    free(l->intel_rdt.schemata);
    spec_kv_list_clear(&l->sysctl);
    spec_seccomp_free(l->seccomp);
    free(l->rootfs_propagation);
    strv_free(l->masked_paths);
    strv_free(l->readonly_paths);
    free(l->mount_label);
    free(l->personality.domain);
    strv_free(l->personality.flags);
    free(l->memory_policy.mode);
    free(l->memory_policy.nodes);
    strv_free(l->memory_policy.flags);
    for (size_t i = 0; i < l->n_net_devices; i++) {
        free(l->net_devices[i].host_name);
        free(l->net_devices[i].name);
    }
    free(l->net_devices);
    free(l);
}

static void spec_hook_list_clear(struct spec_hook_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].path);
        strv_free(l->items[i].args);
        strv_free(l->items[i].env);
    }
    free(l->items);
}

void spec_config_free(struct spec_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->oci_version);
    free(cfg->root.path);
    for (size_t i = 0; i < cfg->n_mounts; i++) {
        struct spec_mount *m = &cfg->mounts[i];
        free(m->destination);
        free(m->type);
        free(m->source);
        strv_free(m->options);
        free(m->uid_mappings);
        free(m->gid_mappings);
    }
    free(cfg->mounts);
    spec_process_free(cfg->process);
    free(cfg->hostname);
    free(cfg->domainname);
    spec_hook_list_clear(&cfg->hooks.prestart);
    spec_hook_list_clear(&cfg->hooks.create_runtime);
    spec_hook_list_clear(&cfg->hooks.create_container);
    spec_hook_list_clear(&cfg->hooks.start_container);
    spec_hook_list_clear(&cfg->hooks.poststart);
    spec_hook_list_clear(&cfg->hooks.poststop);
    spec_kv_list_clear(&cfg->annotations);
    spec_linux_free(cfg->linux);
    json_freep(&cfg->tree);
    free(cfg);
}

void spec_config_freep(struct spec_config **cfg)
{
    spec_config_free(*cfg);
    *cfg = NULL;
}
