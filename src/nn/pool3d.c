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
#include "simd.h"

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
 * Positions outside the input are the zeros of the padded frame (index -1).
 *
 * Each pass works on 8 outputs at once (src/base/simd.h), outputs of a pass being consecutive wo:
 * the h and t passes combine whole rows of the previous pass; the w pass reads its taps from an
 * extended copy of the input row split by stride phase, where tap k of output wo sits at phase
 * k % sw, column wo + k / sw: the participating zeros are 0 (index -1) and PyTorch's implicit
 * padding is -inf (index -1), which the strict '>' never takes, as if the window were clipped.
 * Rows of the passes are padded to Wv = Wo rounded up to 8. */
typedef milnce_vf8 vf; /* 8 floats: the max compares (src/base/simd.h) */
typedef milnce_vi8 vi;
#define VL MILNCE_VL8

/* best/bi take v/i where v > best or v is NaN */
#define TAKE(best, bi, v, i)                              \
    do {                                                  \
        const vi m_ = ((v) > (best)) | ((v) != (v));      \
        best = (vf)(((vi)(v) & m_) | ((vi)(best) & ~m_)); \
        bi = ((i) & m_) | ((bi) & ~m_);                   \
    } while (0)

typedef struct {
    int To, Ho, Wo, Tz, Hz, Wz;
    int Wv;      /* Wo rounded up to VL */
    int Q;       /* columns of one stride phase of the extended row */
    size_t ext;  /* floats (and ints) of the extended row: sw * Q */
    size_t a, b; /* floats of the w pass (T, H, Wv) and the h pass (T, Ho, Wv) */
} pplan;

MILNCE_KERNEL
static void pool_plane(float *y, int32_t *am, const float *x, const milnce_pool3d_cfg *c,
                       const pplan *p, int T, int H, int W, float *ev, int32_t *ei, float *av,
                       int32_t *ai, float *bv, int32_t *bi) {
    const int sw = c->sw, Q = p->Q, Wv = p->Wv;
    const vf ninf = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                     -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    const vf zero = {0};
    const vi none = zero == zero; /* all -1: the index of a padded zero */
    /* w pass: (T, H, Wv) */
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++) {
            const float *row = x + ((size_t)t * H + h) * W;
            const int32_t base = (int32_t)(((size_t)t * H + h) * W);
            /* extended column j = padded-frame column j - pw, input column j - pw - zw0 */
            for (int r = 0; r < sw; r++)
                for (int q = 0; q < Q; q++) {
                    const int z = q * sw + r - c->pw, wi = z - c->zw0;
                    float v = -INFINITY;
                    int32_t i = -1;
                    if (z >= 0 && z < p->Wz) {
                        if (wi >= 0 && wi < W) v = row[wi], i = base + wi;
                        else v = 0.0f;
                    }
                    ev[(size_t)r * Q + q] = v;
                    ei[(size_t)r * Q + q] = i;
                }
            float *ao = av + ((size_t)t * H + h) * Wv;
            int32_t *aio = ai + ((size_t)t * H + h) * Wv;
            for (int w0 = 0; w0 < Wv; w0 += VL) {
                vf best = ninf;
                vi b_i = none;
                for (int k = 0; k < c->kw; k++) {
                    const size_t o = (size_t)(k % sw) * Q + k / sw + w0;
                    const vf v = milnce_ldu8(ev + o);
                    const vi i = milnce_ldi8(ei + o);
                    TAKE(best, b_i, v, i);
                }
                milnce_stu8(ao + w0, best);
                milnce_sti8(aio + w0, b_i);
            }
        }
    /* h pass: (T, Ho, Wv) */
    for (int t = 0; t < T; t++)
        for (int ho = 0; ho < p->Ho; ho++) {
            int h0, h1;
            window(ho, c->kh, c->sh, c->ph, p->Hz, &h0, &h1);
            float *bo = bv + ((size_t)t * p->Ho + ho) * Wv;
            int32_t *bio = bi + ((size_t)t * p->Ho + ho) * Wv;
            for (int w0 = 0; w0 < Wv; w0 += VL) {
                vf best = ninf;
                vi b_i = none;
                for (int h = h0; h < h1; h++) {
                    const int hi = h - c->zh0;
                    if (hi >= 0 && hi < H) {
                        const size_t o = ((size_t)t * H + hi) * Wv + w0;
                        const vf v = milnce_ldu8(av + o);
                        const vi i = milnce_ldi8(ai + o);
                        TAKE(best, b_i, v, i);
                    } else {
                        TAKE(best, b_i, zero, none);
                    }
                }
                milnce_stu8(bo + w0, best);
                milnce_sti8(bio + w0, b_i);
            }
        }
    /* t pass: y (To, Ho, Wo) */
    for (int to = 0; to < p->To; to++) {
        int t0, t1;
        window(to, c->kt, c->st, c->pt, p->Tz, &t0, &t1);
        for (int ho = 0; ho < p->Ho; ho++) {
            float *yo = y + ((size_t)to * p->Ho + ho) * p->Wo;
            int32_t *amo = am + ((size_t)to * p->Ho + ho) * p->Wo;
            for (int w0 = 0; w0 < p->Wo; w0 += VL) {
                vf best = ninf;
                vi b_i = none;
                for (int t = t0; t < t1; t++) {
                    const int ti = t - c->zt0;
                    if (ti >= 0 && ti < T) {
                        const size_t o = ((size_t)ti * p->Ho + ho) * Wv + w0;
                        const vf v = milnce_ldu8(bv + o);
                        const vi i = milnce_ldi8(bi + o);
                        TAKE(best, b_i, v, i);
                    } else {
                        TAKE(best, b_i, zero, none);
                    }
                }
                const int n = p->Wo - w0 < VL ? p->Wo - w0 : VL;
                if (n == VL) {
                    milnce_stu8(yo + w0, best);
                    milnce_sti8(amo + w0, b_i);
                } else {
                    float tv[VL];
                    int32_t ti_[VL];
                    memcpy(tv, &best, sizeof tv);
                    memcpy(ti_, &b_i, sizeof ti_);
                    memcpy(yo + w0, tv, sizeof(float) * n);
                    memcpy(amo + w0, ti_, sizeof(int32_t) * n);
                }
            }
        }
    }
}

int milnce_maxpool3d_forward(float *out, int32_t *argmax, const float *in,
                             const milnce_pool3d_cfg *c, int B, int C, int T, int H, int W) {
    pplan p;
    int ret;
    if ((ret = milnce_pool3d_out_dims(c, T, H, W, &p.To, &p.Ho, &p.Wo)) < 0) return ret;
    if (B <= 0 || C <= 0) return MILNCE_ERR_INVALID;
    if ((int64_t)T * H * W > INT32_MAX) return MILNCE_ERR_RANGE;
    p.Tz = T + c->zt0 + c->zt1, p.Hz = H + c->zh0 + c->zh1, p.Wz = W + c->zw0 + c->zw1;
    p.Wv = (p.Wo + VL - 1) / VL * VL;
    p.Q = p.Wv + (c->kw - 1) / c->sw; /* largest column read: wo + (kw-1)/sw, wo < Wv */
    p.ext = (size_t)c->sw * p.Q;
    p.a = (size_t)T * H * p.Wv;
    p.b = (size_t)T * p.Ho * p.Wv;
    const size_t Pin = (size_t)T * H * W, Po = (size_t)p.To * p.Ho * p.Wo;
    const long planes = (long)B * C;
    int failed = 0;
#pragma omp parallel if (planes * (long)Pin > 32768)
    {
        /* Per-thread rows of the passes: the extended row, A after w, Bv after h. */
        float *ev = malloc(p.ext * sizeof *ev), *av = malloc(p.a * sizeof *av);
        float *bv = malloc(p.b * sizeof *bv);
        int32_t *ei = malloc(p.ext * sizeof *ei), *ai = malloc(p.a * sizeof *ai);
        int32_t *bi = malloc(p.b * sizeof *bi);
        const int ok = ev && av && bv && ei && ai && bi;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (long pl = 0; pl < planes; pl++)
            if (ok)
                pool_plane(out + pl * Po, argmax + pl * Po, in + pl * Pin, c, &p, T, H, W, ev,
                           ei, av, ai, bv, bi);
        free(ev);
        free(av);
        free(bv);
        free(ei);
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
