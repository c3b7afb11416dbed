/* YAML configs: a document applied on top of the defaults; when it loads, the resolved config
 * written back as YAML must load again to the same config (the run's config.yaml and the
 * checkpoint's stored config are read back that way). */
#include <stdint.h>

#include "config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    milnce_config cfg;
    milnce_config_defaults(&cfg);
    milnce_error err = {0};
    int rc = milnce_config_load_string(&cfg, text, "fuzz.yaml", &err);
    fuzz_check_error(rc, &err, "milnce_config_load_string");
    if (rc == 0) {
        char *y1 = milnce_config_to_yaml(&cfg);
        milnce_config again;
        milnce_config_defaults(&again);
        milnce_error e2 = {0};
        if (!y1 || milnce_config_load_string(&again, y1, "resolved.yaml", &e2) < 0) {
            fprintf(stderr, "resolved config does not reload: %s\n--- YAML ---\n%s\n", e2.msg, y1 ? y1 : "(null)");
            abort();
        }
        char *y2 = milnce_config_to_yaml(&again);
        if (!y2 || strcmp(y1, y2) != 0) {
            fprintf(stderr, "resolved config changes on reload\n--- first ---\n%s\n--- second ---\n%s\n", y1, y2 ? y2 : "(null)");
            abort();
        }
        free(y1);
        free(y2);
    }
    free(text);
    return 0;
}
