/* Shape and bookkeeping ops: global average pool, channel concat/split, space-to-depth, crop,
 * embedding lookup, max over words. */
#include <math.h>
#include <string.h>

#include "layers.h"

void milnce_gap3d_forward(float *out, const float *in, int B, int C, int P) {
    const long n = (long)B * C;
#pragma omp parallel for schedule(static) if (n * P > 32768)
    for (long i = 0; i < n; i++) {
        const float *x = in + i * (size_t)P;
        double s = 0;
        for (int p = 0; p < P; p++) s += x[p];
        out[i] = (float)(s / P);
    }
}

void milnce_gap3d_backward(float *din, const float *dout, int B, int C, int P) {
    const long n = (long)B * C;
#pragma omp parallel for schedule(static) if (n * P > 32768)
    for (long i = 0; i < n; i++) {
        float *dx = din + i * (size_t)P;
        const float g = dout[i] / (float)P;
        for (int p = 0; p < P; p++) dx[p] += g;
    }
}

void milnce_concat_channels_forward(float *out, const float *const *ins, const int *c, int n,
                                    int B, int P) {
    int Ct = 0;
    for (int i = 0; i < n; i++) Ct += c[i];
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            memcpy(out + (size_t)b * Ct * P + off, ins[i] + (size_t)b * c[i] * P,
                   sizeof(float) * c[i] * P);
            off += (size_t)c[i] * P;
        }
    }
}

void milnce_concat_channels_backward(float *const *dins, const float *dout, const int *c, int n,
                                     int B, int P) {
    int Ct = 0;
    for (int i = 0; i < n; i++) Ct += c[i];
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            const size_t m = (size_t)c[i] * P;
            if (dins[i]) {
                float *d = dins[i] + (size_t)b * m;
                const float *g = dout + (size_t)b * Ct * P + off;
                for (size_t k = 0; k < m; k++) d[k] += g[k];
            }
            off += m;
        }
    }
}

/* Shared walk of space-to-depth: forward copies in -> out, backward adds out-grad -> in-grad. */
static int s2d(float *x, float *y, int B, int C, int T, int H, int W, int backward) {
    if (B <= 0 || C <= 0 || T <= 0 || H <= 0 || W <= 0 || T % 2 || H % 2 || W % 2)
        return MILNCE_ERR_INVALID;
    const int T2 = T / 2, H2 = H / 2, W2 = W / 2;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int oc = 0; oc < 8 * C; oc++) {
            const int sub = oc / C, c = oc % C;
            const int dt = sub >> 2, dh = (sub >> 1) & 1, dw = sub & 1;
            float *yo = y + ((size_t)b * 8 * C + oc) * T2 * H2 * W2;
            float *xi = x + ((size_t)b * C + c) * T * H * W;
            for (int t = 0; t < T2; t++)
                for (int h = 0; h < H2; h++) {
                    float *xr = xi + ((size_t)(2 * t + dt) * H + 2 * h + dh) * W + dw;
                    float *yr = yo + ((size_t)t * H2 + h) * W2;
                    if (backward)
                        for (int w = 0; w < W2; w++) xr[2 * w] += yr[w];
                    else
                        for (int w = 0; w < W2; w++) yr[w] = xr[2 * w];
                }
        }
    return 0;
}

int milnce_space_to_depth_forward(float *out, const float *in, int B, int C, int T, int H, int W) {
    return s2d((float *)in, out, B, C, T, H, W, 0); /* in is only read when !backward */
}

int milnce_space_to_depth_backward(float *din, const float *dout, int B, int C, int T, int H,
                                   int W) {
    return s2d(din, (float *)dout, B, C, T, H, W, 1); /* dout is only read when backward */
}

static int crop(float *big, float *small, int B, int C, int T, int H, int W, int t0, int h0,
                int w0, int To, int Ho, int Wo, int backward) {
    if (B <= 0 || C <= 0 || To <= 0 || Ho <= 0 || Wo <= 0 || t0 < 0 || h0 < 0 || w0 < 0 ||
        t0 + To > T || h0 + Ho > H || w0 + Wo > W)
        return MILNCE_ERR_RANGE;
    const long planes = (long)B * C;
#pragma omp parallel for schedule(static)
    for (long pl = 0; pl < planes; pl++)
        for (int t = 0; t < To; t++)
            for (int h = 0; h < Ho; h++) {
                float *br = big + ((pl * T + t0 + t) * (size_t)H + h0 + h) * W + w0;
                float *sr = small + ((pl * To + t) * (size_t)Ho + h) * Wo;
                if (backward)
                    for (int w = 0; w < Wo; w++) br[w] += sr[w];
                else
                    memcpy(sr, br, sizeof(float) * Wo);
            }
    return 0;
}

int milnce_crop3d_forward(float *out, const float *in, int B, int C, int T, int H, int W, int t0,
                          int h0, int w0, int To, int Ho, int Wo) {
    return crop((float *)in, out, B, C, T, H, W, t0, h0, w0, To, Ho, Wo, 0);
}

int milnce_crop3d_backward(float *din, const float *dout, int B, int C, int T, int H, int W,
                           int t0, int h0, int w0, int To, int Ho, int Wo) {
    return crop(din, (float *)dout, B, C, T, H, W, t0, h0, w0, To, Ho, Wo, 1);
}

int milnce_embedding_forward(float *out, const int32_t *ids, const float *table, int N, int V,
                             int D) {
    for (int i = 0; i < N; i++)
        if (ids[i] < 0 || ids[i] >= V) return MILNCE_ERR_RANGE;
    for (int i = 0; i < N; i++)
        memcpy(out + (size_t)i * D, table + (size_t)ids[i] * D, sizeof(float) * D);
    return 0;
}

void milnce_embedding_backward(float *dtable, const float *dout, const int32_t *ids,
                               int padding_idx, int N, int V, int D) {
    if (!dtable) return;
    /* Serial: repeated ids add into the same row. N*D is small (B*L*300). */
    for (int i = 0; i < N; i++) {
        if (ids[i] == padding_idx || ids[i] < 0 || ids[i] >= V) continue;
        float *r = dtable + (size_t)ids[i] * D;
        const float *g = dout + (size_t)i * D;
        for (int d = 0; d < D; d++) r[d] += g[d];
    }
}

void milnce_maxwords_forward(float *out, int32_t *argmax, const float *in, const uint8_t *mask,
                             int B, int L, int D) {
#pragma omp parallel for schedule(static) if ((long)B * L * D > 65536)
    for (int b = 0; b < B; b++) {
        float *y = out + (size_t)b * D;
        int32_t *am = argmax + (size_t)b * D;
        for (int d = 0; d < D; d++) y[d] = -INFINITY, am[d] = -1;
        for (int l = 0; l < L; l++) {
            if (mask && !mask[(size_t)b * L + l]) continue;
            const float *x = in + ((size_t)b * L + l) * D;
            /* strict >: the first maximum wins, as torch.max on CPU */
            for (int d = 0; d < D; d++)
                if (x[d] > y[d] || am[d] < 0) y[d] = x[d], am[d] = l;
        }
        for (int d = 0; d < D; d++)
            if (am[d] < 0) y[d] = 0.0f;
    }
}

void milnce_maxwords_backward(float *din, const float *dout, const int32_t *argmax, int B, int L,
                              int D) {
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++) {
            int32_t l = argmax[(size_t)b * D + d];
            if (l >= 0) din[((size_t)b * L + l) * D + d] += dout[(size_t)b * D + d];
        }
}
