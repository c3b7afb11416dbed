/* ReLU, sigmoid and S3D-G self-gating. */
#include <math.h>
#include <string.h>

#include "layers.h"

/* Elementwise loops go parallel only past this many elements (below it the fork costs more). */
#define ACT_PAR_MIN 32768

void milnce_relu_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for schedule(static) if (n > ACT_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void milnce_relu_backward(float *din, const float *dout, const float *out, size_t n) {
#pragma omp parallel for schedule(static) if (n > ACT_PAR_MIN)
    for (size_t i = 0; i < n; i++) din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void milnce_sigmoid_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for schedule(static) if (n > ACT_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-in[i]));
}

void milnce_sigmoid_backward(float *din, const float *dout, const float *out, size_t n) {
#pragma omp parallel for schedule(static) if (n > ACT_PAR_MIN)
    for (size_t i = 0; i < n; i++) din[i] += dout[i] * out[i] * (1.0f - out[i]);
}

void milnce_selfgating_forward(float *out, float *mean, float *gate, const float *in,
                               const float *w, const float *b, int B, int C, int P) {
    milnce_gap3d_forward(mean, in, B, C, P);            /* (B, C) */
    /* fp32 in every precision: B rows only, and the gate scales whole channels */
    (void)milnce_linear_forward(gate, mean, w, b, B, C, C, 0); /* (B, C) logits */
    milnce_sigmoid_forward(gate, gate, (size_t)B * C);
#pragma omp parallel for collapse(2) schedule(static)
    for (int bb = 0; bb < B; bb++)
        for (int c = 0; c < C; c++) {
            const size_t o = ((size_t)bb * C + c) * P;
            const float g = gate[(size_t)bb * C + c];
            for (int p = 0; p < P; p++) out[o + p] = in[o + p] * g;
        }
}

size_t milnce_selfgating_workspace_floats(int B, int C) { return 2 * (size_t)B * C; }

void milnce_selfgating_backward(float *din, float *dw, float *db, const float *dout,
                                const float *in, const float *mean, const float *gate,
                                const float *w, float *ws, int B, int C, int P) {
    const size_t BC = (size_t)B * C;
    float *dz = ws, *dmean = ws + BC; /* (B, C) each */
    /* dgate[b,c] = sum_p dout*in; dz = dgate * g * (1 - g) */
#pragma omp parallel for collapse(2) schedule(static)
    for (int bb = 0; bb < B; bb++)
        for (int c = 0; c < C; c++) {
            const size_t o = ((size_t)bb * C + c) * P;
            double s = 0;
            for (int p = 0; p < P; p++) s += (double)dout[o + p] * in[o + p];
            const float g = gate[(size_t)bb * C + c];
            dz[(size_t)bb * C + c] = (float)s * g * (1.0f - g);
        }
    if (din) memset(dmean, 0, sizeof(float) * BC);
    (void)milnce_linear_backward(din ? dmean : NULL, dw, db, dz, mean, w, B, C, C, 0);
    if (!din) return;
    const float invP = 1.0f / (float)P;
#pragma omp parallel for collapse(2) schedule(static)
    for (int bb = 0; bb < B; bb++)
        for (int c = 0; c < C; c++) {
            const size_t o = ((size_t)bb * C + c) * P;
            const float g = gate[(size_t)bb * C + c], dm = dmean[(size_t)bb * C + c] * invP;
            for (int p = 0; p < P; p++) din[o + p] += dout[o + p] * g + dm;
        }
}
