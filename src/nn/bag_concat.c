#include "bag_concat.h"

#include <stddef.h>

int milnce_bag_concat_tokens(int32_t *out, const int32_t *ids, const uint8_t *mask, int B, int K,
                             int L, int Lout, milnce_error *err) {
    if (!out || !ids || B < 0 || K < 1 || L < 1 || Lout < 1)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "bag concat: bad sizes (B=%d K=%d L=%d Lout=%d)", B,
                                K, L, Lout);
    int dropped = 0;
    for (int i = 0; i < B; i++) {
        int32_t *o = out + (size_t)i * Lout;
        int n = 0;
        for (int k = 0; k < K; k++) {
            if (mask && !mask[(size_t)i * K + k]) continue;
            const int32_t *s = ids + ((size_t)i * K + k) * L;
            for (int w = 0; w < L; w++) {
                if (s[w] == 0) continue;
                if (n < Lout) o[n++] = s[w];
                else dropped++;
            }
        }
        for (; n < Lout; n++) o[n] = 0;
    }
    return dropped;
}
