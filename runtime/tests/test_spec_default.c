/* `keel spec` output parses and validates (keel can run what it writes),
 * the rootless variant maps the given ids, and `keel features` is a valid
 * document that agrees with the parser's vocabulary. */
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "json.h"
#include "keel_features.h"
#include "spec.h"
#include "spec_default.h"
#include "unit.h"

static struct unit_counts c;

static void test_default(bool rootless)
{
    size_t len = 0;
    cleanup_free char *text = spec_default_json(rootless, 1234, 5678, &len);
    CHECK(&c, len == strlen(text));
    cleanup_spec_config struct spec_config *cfg = NULL;
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, spec_parse_config(text, len, "config.json", &cfg, &err) == 0);
    if (cfg == NULL) {
        fprintf(stderr, "%s\n", error_msg(err));
        return;
    }
    CHECK(&c, spec_validate_config(cfg, &err) == 0);
    CHECK_STREQ(&c, cfg->oci_version, KEEL_OCI_VERSION);
    CHECK_STREQ(&c, cfg->root.path, "rootfs");
    CHECK(&c, cfg->process && cfg->process->terminal && cfg->process->no_new_privileges);
    CHECK(&c, cfg->n_mounts == 7);
    const struct spec_linux *l = cfg->linux;
    CHECK(&c, (spec_find_namespace(l, SPEC_NS_USER) != NULL) == rootless);
    CHECK(&c, (spec_find_namespace(l, SPEC_NS_NETWORK) != NULL) == !rootless);
    if (rootless) {
        CHECK(&c,
              l->n_uid_mappings == 1 && l->uid_mappings[0].host_id == 1234 && l->uid_mappings[0].size == 1);
        CHECK(&c, l->n_gid_mappings == 1 && l->gid_mappings[0].host_id == 5678);
        CHECK(&c, !l->resources.set);
        CHECK_STREQ(&c, cfg->mounts[5].source, "/sys");
        CHECK(&c, strv_len(cfg->mounts[2].options) == 5);
    } else {
        CHECK(&c, l->n_uid_mappings == 0);
        CHECK(&c, l->resources.set && l->resources.n_devices == 1 && !l->resources.devices[0].allow);
        CHECK_STREQ(&c, cfg->mounts[5].type, "sysfs");
    }
}

static size_t array_len(yajl_val v)
{
    return YAJL_IS_ARRAY(v) ? v->u.array.len : 0;
}

static void test_features(void)
{
    size_t len = 0;
    cleanup_free char *text = features_json(&len);
    cleanup_json yajl_val doc = NULL;
    cleanup_error struct keel_error *err = NULL;
    CHECK(&c, json_parse(text, len, "features", &doc, &err) == 0);
    if (doc == NULL)
        return;
    yajl_val min = json_object_get(doc, "ociVersionMin"), max = json_object_get(doc, "ociVersionMax");
    CHECK(&c, YAJL_IS_STRING(min) && YAJL_IS_STRING(max));
    if (YAJL_IS_STRING(max))
        CHECK_STREQ(&c, max->u.string, KEEL_OCI_VERSION);
    CHECK(&c, array_len(json_object_get(doc, "hooks")) == 6);
    yajl_val opts = json_object_get(doc, "mountOptions");
    CHECK(&c, array_len(opts) > 30);
    yajl_val lnx = json_object_get(doc, "linux");
    CHECK(&c, array_len(json_object_get(lnx, "namespaces")) == SPEC_NS_COUNT);
    yajl_val caps = json_object_get(lnx, "capabilities");
    CHECK(&c, array_len(caps) == 41);
    /* Every name features reports, the parser accepts. */
    for (size_t i = 0; i < array_len(caps); i++)
        CHECK(&c, spec_cap_from_name(caps->u.array.values[i]->u.string) >= 0);
    yajl_val ns = json_object_get(lnx, "namespaces");
    for (size_t i = 0; i < array_len(ns); i++)
        CHECK(&c, spec_ns_from_name(ns->u.array.values[i]->u.string) >= 0);
    yajl_val sc = json_object_get(lnx, "seccomp");
    /* Every seccomp name features reports, the parser accepts too. */
    static const char *const keys[] = {"actions", "operators", "archs", "knownFlags", "supportedFlags"};
    const char *const *tables[] = {spec_seccomp_actions, spec_seccomp_operators, spec_seccomp_archs,
                                   spec_seccomp_flags, spec_seccomp_flags};
    for (size_t k = 0; k < 5; k++) {
        yajl_val arr = json_object_get(sc, keys[k]);
        for (size_t i = 0; i < array_len(arr); i++) {
            bool found = false;
            for (const char *const *t = tables[k]; *t; t++)
                found = found || strcmp(*t, arr->u.array.values[i]->u.string) == 0;
            CHECK(&c, found);
        }
    }
    CHECK(&c, YAJL_IS_TRUE(json_object_get(sc, "enabled")));
    CHECK(&c, array_len(json_object_get(sc, "actions")) == 9);
    CHECK(&c, array_len(json_object_get(sc, "operators")) == 7);
    CHECK(&c, array_len(json_object_get(sc, "archs")) >= 16);
    CHECK(&c,
          array_len(json_object_get(sc, "knownFlags")) >= array_len(json_object_get(sc, "supportedFlags")));
    yajl_val cg = json_object_get(lnx, "cgroup");
    CHECK(&c, YAJL_IS_TRUE(json_object_get(cg, "v1")) && YAJL_IS_TRUE(json_object_get(cg, "v2")));
    CHECK(&c, YAJL_IS_OBJECT(json_object_get(lnx, "apparmor")) &&
                  YAJL_IS_OBJECT(json_object_get(lnx, "selinux")));
    CHECK(&c, YAJL_IS_OBJECT(json_object_get(json_object_get(lnx, "mountExtensions"), "idmap")));
    yajl_val ann = json_object_get(doc, "annotations");
    CHECK(&c, YAJL_IS_STRING(json_object_get(ann, "io.github.seccomp.libseccomp.version")));
}

int main(void)
{
    test_default(false);
    test_default(true);
    test_features();
    return unit_finish(&c);
}
