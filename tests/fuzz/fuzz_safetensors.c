/* safetensors files (checkpoints, imported weights): header, dtypes, shapes and offsets, then
 * every float tensor read out. */
#include <stdint.h>

#include "fuzz_util.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    milnce_safetensors st;
    milnce_error err = {0};
    int rc = milnce_safetensors_parse(&st, data, size, "fuzz.safetensors", &err);
    fuzz_check_error(rc, &err, "milnce_safetensors_parse");
    if (rc < 0) return 0;
    for (int i = 0; i < st.n; i++) {
        size_t count = st.e[i].count;
        if (count > (1u << 20)) continue;
        float *dst = malloc((count ? count : 1) * sizeof *dst);
        if (dst) {
            rc = milnce_safetensors_get_f32(&st, i, dst, &err);
            fuzz_check_error(rc, &err, "milnce_safetensors_get_f32");
            free(dst);
        }
        if (milnce_safetensors_find(&st, st.e[i].name) < 0) abort();
    }
    (void)milnce_safetensors_meta(&st, "format");
    milnce_safetensors_close(&st);
    return 0;
}
