/* MaxPool3d with PyTorch's implicit padding and the reference's TF "SAME" zero padding.
 *
 * Coordinates: the zero-padded input has length Lz = z0 + L + z1 per dimension; positions in
 * [z0, z0 + L) are the input, the others are zeros that compete in the max (as after the
 * reference's ConstantPad3d). A window starts at o*s - p in that frame and is clipped to
 * [0, Lz) (PyTorch's implicit padding is never selected). Each (b, c) plane is independent. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"

static int pool_len(int L, int k, int s, int p, int z0, int z1, int ceil_mode) {
    int Lz = L + z0 + z1;
    if (k <= 0 || s <= 0 || p < 0 || z0 < 0 || z1 < 0 || L <= 0 || 2 * p > k) return -1;
    int num = Lz + 2 * p - k;
    if (num < 0) return -1;
    int o = (num + (ceil_mode ? s - 1 : 0)) / s + 1;
    /* PyTorch: in ceil mode the last window must start inside the (left-padded) input. */
    if (ceil_mode && (o - 1) * s >= Lz + p) o--;
    return o > 0 ? o : -1;
}

int milnce_pool3d_out_dims(const milnce_pool3d_cfg *c, int T, int H, int W, int *To, int *Ho,
                           int *Wo) {
    if (!c) return MILNCE_ERR_INVALID;
    int t = pool_len(T, c->kt, c->st, c->pt, c->zt0, c->zt1, c->ceil_mode);
    int h = pool_len(H, c->kh, c->sh, c->ph, c->zh0, c->zh1, c->ceil_mode);
    int w = pool_len(W, c->kw, c->sw, c->pw, c->zw0, c->zw1, c->ceil_mode);
    if (t < 0 || h < 0 || w < 0) return MILNCE_ERR_INVALID;
    *To = t;
    *Ho = h;
    *Wo = w;
    return 0;
}

milnce_pool3d_cfg milnce_pool3d_same(int kt, int kh, int kw, int st, int sh, int sw) {
    milnce_pool3d_cfg c;
    memset(&c, 0, sizeof c);
    c.kt = kt, c.kh = kh, c.kw = kw;
    c.st = st, c.sh = sh, c.sw = sw;
    int t = kt - st > 0 ? kt - st : 0, h = kh - sh > 0 ? kh - sh : 0, w = kw - sw > 0 ? kw - sw : 0;
    c.zt0 = t / 2, c.zt1 = t - t / 2;
    c.zh0 = h / 2, c.zh1 = h - h / 2;
    c.zw0 = w / 2, c.zw1 = w - w / 2;
    c.ceil_mode = 1;
    return c;
}

milnce_pool3d_cfg milnce_pool3d_plain(int kt, int kh, int kw, int st, int sh, int sw, int pt,
                                      int ph, int pw) {
    milnce_pool3d_cfg c;
    memset(&c, 0, sizeof c);
    c.kt = kt, c.kh = kh, c.kw = kw;
    c.st = st, c.sh = sh, c.sw = sw;
    c.pt = pt, c.ph = ph, c.pw = pw;
    return c;
}

/* Window [*lo, *hi) in the zero-padded frame for output index o. */
static inline void window(int o, int k, int s, int p, int Lz, int *lo, int *hi) {
    int a = o * s - p, e = a + k;
    *lo = a < 0 ? 0 : a;
    *hi = e > Lz ? Lz : e;
}

/* Separable max: over w, then h, then t, carrying the argmax. With strict '>' in every pass the
 * winner is the lexicographically first (t, h, w) maximum, and with "a NaN always replaces" the
 * last NaN, exactly as one pass over the window in (t, h, w) order (PyTorch's CPU kernel): the
 * per-axis winners compose. 3 + 3 + 3 comparisons per output of a 3x3x3 window instead of 27.
 * Positions outside the input are the zeros of the padded frame (index -1). */
static inline void take(float v, int32_t i, float *best, int32_t *bi) {
    if (v > *best || isnan(v)) {
        *best = v;
        *bi = i;
    }
}

int milnce_maxpool3d_forward(float *out, int32_t *argmax, const float *in,
                             const milnce_pool3d_cfg *c, int B, int C, int T, int H, int W) {
    int To, Ho, Wo, ret;
    if ((ret = milnce_pool3d_out_dims(c, T, H, W, &To, &Ho, &Wo)) < 0) return ret;
    if (B <= 0 || C <= 0) return MILNCE_ERR_INVALID;
    if ((int64_t)T * H * W > INT32_MAX) return MILNCE_ERR_RANGE;
    const int Tz = T + c->zt0 + c->zt1, Hz = H + c->zh0 + c->zh1, Wz = W + c->zw0 + c->zw1;
    const size_t Pin = (size_t)T * H * W, Po = (size_t)To * Ho * Wo;
    const size_t na = (size_t)T * H * Wo, nb = (size_t)T * Ho * Wo;
    const long planes = (long)B * C;
    int failed = 0;
#pragma omp parallel
    {
        /* Per-thread passes: A (T, H, Wo) after w, Bv (T, Ho, Wo) after h. */
        float *av = malloc(na * sizeof *av), *bv = malloc(nb * sizeof *bv);
        int32_t *ai = malloc(na * sizeof *ai), *bi = malloc(nb * sizeof *bi);
        if (!av || !bv || !ai || !bi) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (long pl = 0; pl < planes; pl++) {
            if (!av || !bv || !ai || !bi) continue;
            const float *x = in + pl * Pin;
            float *y = out + pl * Po;
            int32_t *am = argmax + pl * Po;
            for (int t = 0; t < T; t++)
                for (int h = 0; h < H; h++) {
                    const float *row = x + ((size_t)t * H + h) * W;
                    int32_t base = (int32_t)(((size_t)t * H + h) * W);
                    for (int wo = 0; wo < Wo; wo++) {
                        int w0, w1;
                        window(wo, c->kw, c->sw, c->pw, Wz, &w0, &w1);
                        float best = -INFINITY;
                        int32_t b_i = -1;
                        for (int w = w0; w < w1; w++) {
                            int wi = w - c->zw0;
                            if (wi >= 0 && wi < W) take(row[wi], base + wi, &best, &b_i);
                            else take(0.0f, -1, &best, &b_i);
                        }
                        size_t k = ((size_t)t * H + h) * Wo + wo;
                        av[k] = best;
                        ai[k] = b_i;
                    }
                }
            for (int t = 0; t < T; t++)
                for (int ho = 0; ho < Ho; ho++) {
                    int h0, h1;
                    window(ho, c->kh, c->sh, c->ph, Hz, &h0, &h1);
                    for (int wo = 0; wo < Wo; wo++) {
                        float best = -INFINITY;
                        int32_t b_i = -1;
                        for (int h = h0; h < h1; h++) {
                            int hi = h - c->zh0;
                            if (hi >= 0 && hi < H) {
                                size_t k = ((size_t)t * H + hi) * Wo + wo;
                                take(av[k], ai[k], &best, &b_i);
                            } else {
                                take(0.0f, -1, &best, &b_i);
                            }
                        }
                        size_t k = ((size_t)t * Ho + ho) * Wo + wo;
                        bv[k] = best;
                        bi[k] = b_i;
                    }
                }
            for (int to = 0; to < To; to++) {
                int t0, t1;
                window(to, c->kt, c->st, c->pt, Tz, &t0, &t1);
                for (size_t q = 0; q < (size_t)Ho * Wo; q++) {
                    float best = -INFINITY;
                    int32_t b_i = -1;
                    for (int t = t0; t < t1; t++) {
                        int ti = t - c->zt0;
                        if (ti >= 0 && ti < T) {
                            size_t k = (size_t)ti * Ho * Wo + q;
                            take(bv[k], bi[k], &best, &b_i);
                        } else {
                            take(0.0f, -1, &best, &b_i);
                        }
                    }
                    y[(size_t)to * Ho * Wo + q] = best;
                    am[(size_t)to * Ho * Wo + q] = b_i;
                }
            }
        }
        free(av);
        free(bv);
        free(ai);
        free(bi);
    }
    return failed ? MILNCE_ERR_NOMEM : 0;
}

void milnce_maxpool3d_backward(float *din, const float *dout, const int32_t *argmax, int B, int C,
                               int To, int Ho, int Wo, int T, int H, int W) {
    const size_t Pin = (size_t)T * H * W, Po = (size_t)To * Ho * Wo;
    const long planes = (long)B * C;
#pragma omp parallel for schedule(static)
    for (long pl = 0; pl < planes; pl++) {
        float *dx = din + pl * Pin;
        const float *g = dout + pl * Po;
        const int32_t *am = argmax + pl * Po;
        for (size_t o = 0; o < Po; o++)
            if (am[o] >= 0) dx[am[o]] += g[o];
    }
}
