/* libFuzzer target: config.json bytes through the parser and, when they
 * parse, the validator; the same bytes as exec's process.json and as an
 * `update --resources` document.  Anything but a clean error or success
 * (a crash, a leak, undefined behaviour) is a finding. */
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct keel_error *err = NULL;

    struct spec_config *cfg = NULL;
    if (spec_parse_config(text, size, "config.json", &cfg, &err) == 0) {
        spec_validate_config(cfg, &err);
        /* Walk the helpers others call on every parsed config. */
        for (int t = 0; t < SPEC_NS_COUNT; t++)
            (void)spec_find_namespace(cfg->linux, (enum spec_ns_type)t);
    }
    spec_config_free(cfg);
    error_free(err);
    err = NULL;

    struct spec_process *p = NULL;
    if (spec_parse_process(text, size, "process.json", &p, &err) == 0)
        spec_process_free(p);
    error_free(err);
    err = NULL;

    struct spec_resources r = {0};
    spec_parse_resources(text, size, "resources", &r, &err);
    spec_resources_clear(&r);
    error_free(err);
    return 0;
}
