/* libFuzzer target: hoist's parsers of untrusted registry bytes (manifests,
 * indexes, references, platforms). The first byte picks the parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "manifest.h"
#include "platform.h"
#include "ref.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t which = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    struct keel_error *err = NULL;
    static const char *const types[] = {NULL, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_LIST, "application/json"};
    const char *mt = types[(which >> 4) & 3];
    switch (which & 3) {
    case 0: {
        struct oci_manifest *m = NULL;
        if (manifest_parse(text, len, mt, &m, &err) == 0)
            manifest_free(m);
        break;
    }
    case 1: {
        struct oci_index *idx = NULL;
        if (index_parse(text, len, mt, &idx, &err) == 0) {
            size_t w;
            struct keel_error *e2 = NULL;
            (void)platform_select(idx, NULL, &w, &e2);
            error_free(e2);
            index_free(idx);
        }
        break;
    }
    case 2: {
        char *s = xstrndup(text, len);
        struct image_ref *r = NULL;
        if (ref_parse(s, &r, &err) == 0) {
            free(ref_format(r));
            ref_free(r);
        }
        free(s);
        break;
    }
    default: {
        char *s = xstrndup(text, len);
        struct oci_platform *p = NULL;
        if (platform_parse(s, &p, &err) == 0) {
            free(platform_format(p));
            platform_free(p);
        }
        free(s);
        break;
    }
    }
    error_free(err);
    return 0;
}
