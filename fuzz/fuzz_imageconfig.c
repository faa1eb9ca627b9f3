/* libFuzzer target: an image's config blob (from a registry: untrusted)
 * through hoist's parser, and the manifest kind detection every pulled
 * document goes through first (with the media type the registry served:
 * none, an OCI manifest, a docker list, plain JSON). */
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

    /* One served media type per input (by its length, so the corpus stays
     * plain JSON): four detections of the same bytes cost four parses and
     * took 60% of the target's time. */
    static const char *const types[] = {NULL, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_LIST, "application/json"};
    enum manifest_kind kind;
    manifest_detect_kind(text, size, types[size % 4], &kind, &err);
    error_free(err);
    return 0;
}
