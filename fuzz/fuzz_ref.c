/* libFuzzer target: image references (hoist pull/unpack/inspect arguments,
 * and names read back from the store's index.json annotations).  Besides
 * "no crash, leak or undefined behaviour" it checks the normal form: what
 * ref_parse accepts, ref_format writes as a reference that parses to the
 * same registry, repository, tag and digest and formats to the same text
 * (the store keys images by that text).  The same for repositories
 * (`hoist tags`). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "ref.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void check_same(const struct image_ref *a, const struct image_ref *b)
{
    if (!same(a->registry, b->registry) || !same(a->repository, b->repository) || !same(a->tag, b->tag) ||
        !same(a->digest, b->digest))
        abort();
}

static void fuzz_reference(const char *s)
{
    struct keel_error *err = NULL;
    struct image_ref *r = NULL;
    if (ref_parse(s, &r, &err) < 0) {
        error_free(err);
        return;
    }
    if (r->registry == NULL || r->repository == NULL || ref_reference(r) == NULL)
        abort();
    (void)ref_is_local_registry(r->registry);
    (void)ref_api_host(r);
    char *f1 = ref_format(r);
    struct image_ref *r2 = NULL;
    if (ref_parse(f1, &r2, &err) < 0)
        abort(); /* hoist must read back the name it stored */
    check_same(r, r2);
    char *f2 = ref_format(r2);
    if (strcmp(f1, f2) != 0)
        abort();
    struct image_ref *d = ref_dup(r2);
    check_same(r, d);
    free(f1);
    free(f2);
    ref_free(d);
    ref_free(r2);
    ref_free(r);
}

static void fuzz_repository(const char *s)
{
    struct keel_error *err = NULL;
    struct image_ref *r = NULL;
    if (ref_parse_repository(s, &r, &err) < 0) {
        error_free(err);
        return;
    }
    if (r->tag != NULL || r->digest != NULL)
        abort();
    char *f1 = ref_format_repository(r);
    struct image_ref *r2 = NULL;
    if (ref_parse_repository(f1, &r2, &err) < 0)
        abort();
    check_same(r, r2);
    free(f1);
    ref_free(r2);
    ref_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = xstrndup((const char *)data, size);
    fuzz_reference(s);
    fuzz_repository(s);
    free(s);
    return 0;
}
