#include "milnce/context.h"

milnce_ctx milnce_ctx_default(void) {
    milnce_ctx c = {0, MILNCE_SIMD_AUTO, 0, NULL, {NULL, NULL}, MILNCE_PREC_FP32};
    return c;
}

int milnce_ctx_cancelled(const milnce_ctx *ctx) { return ctx && ctx->cancel && *ctx->cancel != 0; }
