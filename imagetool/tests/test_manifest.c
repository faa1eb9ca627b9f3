#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "manifest.h"
#include "unit.h"
#include "xalloc.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static const char oci_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D1
    "\",\"size\":7},"
    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D2
    "\",\"size\":100,\"annotations\":{\"a\":\"b\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" D3 "\",\"size\":5,"
    "\"urls\":[\"http://x/y\"]}],\"annotations\":{\"k\":\"v\"}}";

static const char docker_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":\"" D1
    "\",\"size\":7},"
    "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"" D2
    "\",\"size\":100}]}";

static const char docker_list[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\","
    "\"manifests\":["
    "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"digest\":\"" D1
    "\",\"size\":1,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
    "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"digest\":\"" D2
    "\",\"size\":1,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
    "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"digest\":\"" D3
    "\",\"size\":1,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";

static const char oci_index_arm64[] =
    "{\"schemaVersion\":2,\"manifests\":["
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D1 "\",\"size\":1,"
    "\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D2 "\",\"size\":1,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D3 "\",\"size\":1}]}";

static void expect_error(struct unit_counts *c, const char *doc, const char *mt, const char *why)
{
    cleanup_error struct keel_error *err = NULL;
    cleanup_manifest struct oci_manifest *m = NULL;
    CHECK(c, manifest_parse(doc, strlen(doc), mt, &m, &err) < 0);
    CHECK(c, err && strstr(err->msg, why));
    if (err && !strstr(err->msg, why))
        fprintf(stderr, "  got \"%s\", want \"%s\"\n", err->msg, why);
}

static size_t select_for(struct unit_counts *c, const char *doc, const char *plat, bool ok)
{
    cleanup_error struct keel_error *err = NULL;
    cleanup_index struct oci_index *idx = NULL;
    CHECK(c, index_parse(doc, strlen(doc), NULL, &idx, &err) == 0);
    if (!idx)
        return 99;
    cleanup_platform struct oci_platform *p = NULL;
    CHECK(c, platform_parse(plat, &p, &err) == 0);
    size_t which = 99;
    int r = platform_select(idx, p, &which, &err);
    CHECK(c, ok ? r == 0 : r < 0);
    if (!ok)
        CHECK(c, err && strstr(err->msg, "no manifest for platform"));
    return which;
}

int main(void)
{
    struct unit_counts c = {0};
    cleanup_error struct keel_error *err = NULL;

    cleanup_manifest struct oci_manifest *m = NULL;
    CHECK(&c, manifest_parse(oci_manifest, strlen(oci_manifest), MEDIA_OCI_MANIFEST, &m, &err) == 0);
    CHECK(&c, m && m->n_layers == 2 && !m->docker);
    CHECK_STREQ(&c, m->config.digest, D1);
    CHECK(&c, m->config.size == 7);
    CHECK_STREQ(&c, m->layers[1].media_type, MEDIA_OCI_LAYER_ZSTD);
    CHECK_STREQ(&c, m->layers[1].urls[0], "http://x/y");
    CHECK_STREQ(&c, descriptor_annotation(&m->layers[0], "a"), "b");
    CHECK(&c, m->n_annotations == 1);

    cleanup_manifest struct oci_manifest *dm = NULL;
    CHECK(&c, manifest_parse(docker_manifest, strlen(docker_manifest),
                             "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8", &dm,
                             &err) == 0);
    CHECK(&c, dm && dm->docker && dm->n_layers == 1);

    enum manifest_kind k;
    CHECK(&c, manifest_detect_kind(docker_list, strlen(docker_list), MEDIA_DOCKER_LIST, &k, &err) == 0);
    CHECK(&c, k == MANIFEST_KIND_INDEX);
    CHECK(&c, manifest_detect_kind(oci_manifest, strlen(oci_manifest), "application/json", &k, &err) == 0);
    CHECK(&c, k == MANIFEST_KIND_MANIFEST);
    CHECK(&c, manifest_detect_kind(oci_index_arm64, strlen(oci_index_arm64), NULL, &k, &err) == 0);
    CHECK(&c, k == MANIFEST_KIND_INDEX);

    /* Errors name the problem. */
    const char *schema1 = "{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}";
    expect_error(&c, schema1, NULL, "schema 1");
    expect_error(&c, schema1, MEDIA_DOCKER_SCHEMA1_SIGNED, "schema 1");
    expect_error(&c, "{\"schemaVersion\":2,", NULL, "invalid JSON");
    expect_error(&c, "{\"schemaVersion\":2,\"mediaType\":\"application/x-foo\"}", NULL,
                 "unknown media type \"application/x-foo\"");
    expect_error(&c, oci_manifest, MEDIA_DOCKER_MANIFEST, "differs from the type it was served as");
    expect_error(&c, docker_list, NULL, "expected an image manifest, got an index");
    expect_error(&c,
                 "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                 "\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:12\",\"size\":1},\"layers\":[]}",
                 NULL, "manifest.config.digest: invalid digest");
    expect_error(&c,
                 "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                 "\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":-1},\"layers\":[]}",
                 NULL, "manifest.config.size: -1 is negative");
    expect_error(&c,
                 "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                 "\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
                 "\",\"size\":1},\"layers\":[{\"digest\":1}]}",
                 NULL, "manifest.layers[0].mediaType: missing");
    expect_error(&c, "{\"schemaVersion\":3}", NULL, "schemaVersion: 3 is not supported");
    size_t big = MANIFEST_MAX_SIZE + 1;
    char *huge = xmalloc(big + 1);
    memset(huge, ' ', big);
    huge[big] = '\0';
    expect_error(&c, huge, NULL, "byte limit");
    free(huge);

    /* Platform selection. */
    CHECK(&c, select_for(&c, docker_list, "linux/amd64", true) == 2);
    CHECK(&c, select_for(&c, docker_list, "linux/arm/v7", true) == 1);
    CHECK(&c, select_for(&c, docker_list, "linux/arm/v6", true) == 0);
    CHECK(&c, select_for(&c, docker_list, "linux/arm/v8", true) == 1); /* older variant accepted, best one */
    CHECK(&c, select_for(&c, docker_list, "linux/x86_64", true) == 2); /* alias */
    select_for(&c, docker_list, "linux/arm/v5", false);
    select_for(&c, docker_list, "linux/s390x", false);
    CHECK(&c, select_for(&c, oci_index_arm64, "linux/arm64", true) == 1);
    CHECK(&c, select_for(&c, oci_index_arm64, "linux/aarch64/v8", true) == 1);
    CHECK(&c, select_for(&c, oci_index_arm64, "windows/amd64", true) == 0);
    select_for(&c, oci_index_arm64, "linux/arm64/v9", false);

    cleanup_platform struct oci_platform *p = NULL;
    CHECK(&c, platform_parse("linux", &p, &err) < 0);
    CHECK(&c, err && strstr(err->msg, "expected OS/ARCH[/VARIANT]"));
    CHECK(&c, platform_parse("linux/arm/v7/x", &p, &err) < 0);
    CHECK(&c, platform_parse("linux/armhf", &p, &err) == 0);
    cleanup_free char *pf = p ? platform_format(p) : NULL;
    CHECK_STREQ(&c, pf, "linux/arm/v7");
    cleanup_platform struct oci_platform *host = platform_host();
    CHECK_STREQ(&c, host->os, "linux");
    /* A repeated --platform replaces the earlier one; a bad one names the option. */
    CHECK(&c, platform_parse_option("linux/amd64", &p, &err) == 0);
    CHECK(&c, p && strcmp(p->architecture, "amd64") == 0);
    CHECK(&c, platform_parse_option("linux", &p, &err) < 0);
    CHECK(&c, err && strncmp(err->msg, "--platform: ", 12) == 0);
    return unit_finish(&c);
}
