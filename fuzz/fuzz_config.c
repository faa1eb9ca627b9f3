/* libFuzzer target: config.json bytes through the parser and, when they
 * parse, the validator and the namespace lookups every command makes.
 * Anything but a clean error or success (a crash, a leak, undefined
 * behaviour) is a finding.  exec's process.json and update's resources
 * document have their own target, fuzz_process, so a config input (the
 * largest documents) pays for one parse only. */
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keel_error *err = NULL;
    struct spec_config *cfg = NULL;
    if (spec_parse_config((const char *)data, size, "config.json", &cfg, &err) == 0) {
        spec_validate_config(cfg, &err);
        for (int t = 0; t < SPEC_NS_COUNT; t++)
            (void)spec_find_namespace(cfg->linux, (enum spec_ns_type)t);
    }
    spec_config_free(cfg);
    error_free(err);
    return 0;
}
