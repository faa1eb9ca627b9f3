/* hoist inspect REF: manifest and config as JSON, from the store when it
 * holds REF, else (or with a docker:// prefix) from the registry. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "error.h"
#include "json.h"
#include "manifest.h"
#include "platform.h"
#include "ref.h"
#include "registry.h"
#include "registry_cli.h"
#include "store.h"
#include "xalloc.h"

enum { OPT_RAW = 1, OPT_CONFIG, OPT_PLATFORM };

/* Where the documents come from: the store or a registry. */
struct inspect_source {
    struct store *store;
    struct registry_client *client;
};

static int source_manifest(struct inspect_source *src, const char *reference, const char *media_type,
                           char **data, size_t *len, char **mt, char **digest, struct keel_error **err)
{
    if (src->client)
        return registry_get_manifest(src->client, reference, data, len, mt, digest, err);
    if (store_read_blob(src->store, reference, MANIFEST_MAX_SIZE, data, len, err) < 0)
        return -1;
    *mt = media_type ? xstrdup(media_type) : NULL;
    *digest = xstrdup(reference);
    return 0;
}

static int source_blob(struct inspect_source *src, const struct oci_descriptor *d, char **data, size_t *len,
                       struct keel_error **err)
{
    if (src->client)
        return registry_get_blob(src->client, d, CONFIG_MAX_SIZE, data, len, err);
    return store_read_blob(src->store, d->digest, CONFIG_MAX_SIZE, data, len, err);
}

static void gen_config_summary(yajl_gen g, yajl_val cfg)
{
    static const char *const top[] = {"created", "architecture", "os", "variant", "author"};
    static const char *const names[] = {"Created", "Architecture", "Os", "Variant", "Author"};
    for (size_t i = 0; i < 5; i++) {
        yajl_val v = json_object_get(cfg, top[i]);
        if (v && YAJL_IS_STRING(v))
            json_gen_kv_string(g, names[i], v->u.string);
    }
    yajl_val conf = json_object_get(cfg, "config");
    static const char *const inner[] = {"Env", "Labels", "Cmd", "Entrypoint", "WorkingDir", "User"};
    for (size_t i = 0; conf && i < 6; i++) {
        yajl_val v = json_object_get(conf, inner[i]);
        if (v) {
            json_gen_key(g, inner[i]);
            json_gen_value(g, v);
        }
    }
}

static int inspect_print(struct inspect_source *src, const char *name, const char *top_reference,
                         const char *top_type, const struct oci_platform *platform, bool raw, bool config,
                         struct keel_error **err)
{
    cleanup_free char *data = NULL, *mt = NULL, *digest = NULL;
    size_t len = 0;
    if (source_manifest(src, top_reference, top_type, &data, &len, &mt, &digest, err) < 0)
        return -1;
    if (raw) {
        fwrite(data, 1, len, stdout);
        if (len == 0 || data[len - 1] != '\n')
            putchar('\n');
        return 0;
    }
    enum manifest_kind kind;
    if (manifest_detect_kind(data, len, mt, &kind, err) < 0)
        return -1;
    cleanup_free char *top_digest = xstrdup(digest);
    if (kind == MANIFEST_KIND_INDEX) {
        cleanup_index struct oci_index *idx = NULL;
        size_t which = 0;
        if (index_parse(data, len, mt, &idx, err) < 0 || platform_select(idx, platform, &which, err) < 0)
            return -1;
        cleanup_free char *ref = xstrdup(idx->manifests[which].digest);
        cleanup_free char *mtype = xstrdup(idx->manifests[which].media_type);
        free(data), free(mt), free(digest);
        data = mt = digest = NULL;
        if (source_manifest(src, ref, mtype, &data, &len, &mt, &digest, err) < 0)
            return -1;
    }
    cleanup_manifest struct oci_manifest *m = NULL;
    if (manifest_parse(data, len, mt, &m, err) < 0)
        return -1;
    cleanup_free char *cfg_data = NULL;
    size_t cfg_len = 0;
    if (source_blob(src, &m->config, &cfg_data, &cfg_len, err) < 0)
        return -1;
    if (config) {
        fwrite(cfg_data, 1, cfg_len, stdout);
        putchar('\n');
        return 0;
    }
    cleanup_json yajl_val cfg = NULL;
    if (json_parse(cfg_data, cfg_len, "image config", &cfg, err) < 0)
        return -1;
    yajl_gen g = json_gen_new(true);
    yajl_gen_map_open(g);
    json_gen_kv_string(g, "Name", name);
    json_gen_kv_string(g, "Digest", top_digest);
    json_gen_kv_string(g, "ManifestDigest", digest);
    json_gen_kv_string(g, "MediaType", m->media_type);
    gen_config_summary(g, cfg);
    json_gen_key(g, "Layers");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < m->n_layers; i++)
        json_gen_string(g, m->layers[i].digest);
    yajl_gen_array_close(g);
    json_gen_key(g, "LayersData");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < m->n_layers; i++) {
        yajl_gen_map_open(g);
        json_gen_kv_string(g, "MIMEType", m->layers[i].media_type);
        json_gen_kv_string(g, "Digest", m->layers[i].digest);
        json_gen_kv_int(g, "Size", m->layers[i].size);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    cleanup_free char *out = json_gen_dup(g, NULL);
    yajl_gen_free(g);
    printf("%s\n", out);
    return 0;
}

int cmd_inspect(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err)
{
    static const struct option opts[] = {
        REGISTRY_CLI_OPTIONS,
        {"raw", no_argument, NULL, OPT_RAW},
        {"config", no_argument, NULL, OPT_CONFIG},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct registry_cli rc;
    registry_cli_init(&rc);
    bool raw = false, config = false;
    cleanup_platform struct oci_platform *platform = NULL;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = registry_cli_getopt(&rc, argc, argv, "h", opts, err)) != -1) {
        switch (c) {
        case REGISTRY_CLI_BAD:
            return -1;
        case OPT_RAW:
            raw = true;
            break;
        case OPT_CONFIG:
            config = true;
            break;
        case OPT_PLATFORM:
            if (platform_parse_option(optarg, &platform, err) < 0)
                return -1;
            break;
        case 'h':
            printf("Usage: hoist inspect [OPTIONS] [docker://]REFERENCE\n\n"
                   "Show an image's manifest and config, from the store when it holds the image,\n"
                   "else (or with docker://) from the registry.\n\nOptions:\n"
                   "  --raw                the manifest (or index) exactly as stored\n"
                   "  --config             the image config\n"
                   "  --platform OS/ARCH[/VARIANT]\n" REGISTRY_CLI_HELP);
            return 0;
        default:
            return error_set(err, 0, "inspect: unknown or incomplete option \"%s\"", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return error_set(err, 0, "inspect: expected exactly one image reference");
    if (raw && config)
        return error_set(err, 0, "inspect: --raw and --config are exclusive");
    const char *arg = argv[optind];
    bool remote = strncmp(arg, "docker://", 9) == 0;
    cleanup_ref struct image_ref *ref = NULL;
    if (ref_parse(arg, &ref, err) < 0)
        return -1;
    cleanup_free char *name = ref_format(ref);
    cleanup_store struct store *s = NULL;
    struct oci_descriptor top = {0};
    if (!remote && store_open(ctx->store, false, &s, NULL) == 0 && store_resolve(s, name, &top, NULL) == 0) {
        struct inspect_source src = {.store = s};
        int r = inspect_print(&src, name, top.digest, top.media_type, platform, raw, config, err);
        descriptor_clear(&top);
        return r < 0 ? error_prefix(err, "inspecting %s", name) : 0;
    }
    struct registry_options ro;
    registry_cli_to_options(&rc, &ctx->log, &ro);
    cleanup_registry struct registry_client *cl = NULL;
    if (registry_open(ref->registry, ref->repository, &ro, &cl, err) < 0)
        return error_prefix(err, "inspecting %s", name);
    struct inspect_source src = {.client = cl};
    if (inspect_print(&src, name, ref_reference(ref), NULL, platform, raw, config, err) < 0)
        return error_prefix(err, "inspecting %s", name);
    return 0;
}
