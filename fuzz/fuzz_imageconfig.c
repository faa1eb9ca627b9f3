/* libFuzzer target: an image's config blob (from a registry: untrusted)
 * through hoist's parser, and the manifest kind detection every pulled
 * document goes through first. */
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "imageconfig.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct keel_error *err = NULL;
    struct image_config *c = NULL;
    if (image_config_parse(text, size, &c, &err) == 0)
        image_config_free(c);
    error_free(err);
    err = NULL;

    static const char *const types[] = {NULL, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_LIST, "application/json"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        enum manifest_kind kind;
        manifest_detect_kind(text, size, types[i], &kind, &err);
        error_free(err);
        err = NULL;
    }
    return 0;
}
