/* libFuzzer target: the two documents engines hand keel after create:
 * exec's --process FILE (process.json, written by conmon or containerd's
 * shim) through the parser and, when it parses, exec's validator; and
 * update's --resources document (a file or stdin).  The same bytes go to
 * both: the documents are small, and a process.json given as resources (or
 * the reverse) must be refused cleanly too. */
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct keel_error *err = NULL;
    struct spec_process *p = NULL;
    if (spec_parse_process(text, size, "process.json", &p, &err) == 0) {
        spec_validate_process(p, "process.json", &err);
        spec_process_free(p);
    }
    error_free(err);
    err = NULL;

    struct spec_resources r = {0};
    spec_parse_resources(text, size, "resources", &r, &err);
    spec_resources_clear(&r);
    error_free(err);
    return 0;
}
