/* Conv3d forward/backward as vol2col + sgemm, in cache-sized chunks; convs with few input
 * channels and a wide kernel (the S3D-G stem, see milnce_conv3d_direct_suits) take the direct
 * kernels of conv3d_direct.c for the forward pass and the weight gradient instead.
 *
 * K = c_in*kt*kh*kw rows of the column matrix, Po = To*Ho*Wo output positions per sample.
 * Work is cut into units that fit a column buffer of about 1 MB (L2):
 *  - large Po: a unit is a run of output rows (to, ho) of one sample, all Wo columns; the GEMM
 *    w (c_out, K) x col (K, rows*Wo) writes straight into the output (ldc = Po);
 *  - small Po (late S3D-G stages, Po = 8..512): a unit is a group of nb samples whose columns
 *    sit side by side, (K, nb*Po), so one GEMM covers them; the result (c_out, nb*Po) is
 *    scattered back to (nb, c_out, Po).
 * A 1x1x1 stride-1 unpadded conv needs no vol2col: the input plane is the column matrix.
 * Threads: when OpenBLAS runs single-threaded (the program's setting, or the model's for the
 * duration of a pass, include/milnce/context.h) units run in parallel on omp_get_max_threads()
 * OpenMP threads (the model's count, src/base/omp_scope.h), each with single-threaded GEMMs and its
 * own slice of the workspace; otherwise units run one after another and OpenBLAS threads the
 * GEMMs. Mixing both thread pools at once makes their spin-waits fight for the cores. Backward
 * parallelises over whole samples (their input-gradient halos overlap) and reduces private
 * weight-gradient copies.
 * Precision (cfg.prec, src/nn/gemm.h): bf16 runs every GEMM here on milnce's own single-threaded
 * bf16 kernel, so units always run in parallel and each thread's workspace slice also holds the
 * kernel's packed panels, plus one region for the weights packed once per pass. AUTO sends the
 * stems to the GEMM path too in bf16: the direct kernels are fp32 (a forced DIRECT runs them in
 * fp32 whatever the precision). */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "conv3d_direct.h"
#include "gemm.h"
#include "layers.h"
#include "simd.h"

/* The copy loops of vol2col / col2vol: built per instruction set (MILNCE_KERNEL) and
 * vectorised (the library's -O2 leaves variable-length loops scalar). Copies and one add per
 * element: the results are the same bits in every build. */
#if defined(__GNUC__) && !defined(__clang__)
#define COPY_KERNEL MILNCE_KERNEL __attribute__((optimize("tree-vectorize")))
#else
#define COPY_KERNEL MILNCE_KERNEL
#endif

/* Floats of one column buffer (1 MB): a chunk's columns stay in L2 between vol2col and GEMM. */
#define CONV_COL_FLOATS (256 * 1024)

static int is_pointwise(const milnce_conv3d_cfg *c) {
    return c->kt == 1 && c->kh == 1 && c->kw == 1 && c->st == 1 && c->sh == 1 && c->sw == 1 &&
           c->pt == 0 && c->ph == 0 && c->pw == 0;
}

int milnce_conv3d_out_dims(const milnce_conv3d_cfg *c, int T, int H, int W, int *To, int *Ho,
                           int *Wo) {
    if (!c || c->c_in <= 0 || c->c_out <= 0 || c->kt <= 0 || c->kh <= 0 || c->kw <= 0 ||
        c->st <= 0 || c->sh <= 0 || c->sw <= 0 || c->pt < 0 || c->ph < 0 || c->pw < 0 || T <= 0 ||
        H <= 0 || W <= 0 || c->algo < MILNCE_CONV_AUTO || c->algo > MILNCE_CONV_DIRECT ||
        (c->prec != MILNCE_PREC_FP32 && c->prec != MILNCE_PREC_BF16))
        return MILNCE_ERR_INVALID;
    int t = T + 2 * c->pt - c->kt, h = H + 2 * c->ph - c->kh, w = W + 2 * c->pw - c->kw;
    if (t < 0 || h < 0 || w < 0) return MILNCE_ERR_INVALID;
    *To = t / c->st + 1;
    *Ho = h / c->sh + 1;
    *Wo = w / c->sw + 1;
    return 0;
}

typedef struct {
    int To, Ho, Wo;
    size_t Pin, Po, K;
    int pointwise;
    int nb;          /* samples per unit (> 1: grouped) */
    int rows;        /* output rows (to, ho) per chunk when nb == 1 */
    int chunks;      /* chunks per sample when nb == 1 */
    size_t col;      /* floats of one thread's column buffer */
    size_t og;       /* floats of one thread's gathered (c_out, nb*Po) buffer */
    size_t dw;       /* floats of one thread's private weight gradient */
    size_t pack;     /* floats of one thread's bf16 packing scratch (0 in fp32) */
    size_t per_thread;
    int nthreads;    /* threads the workspace was sized for */
    size_t wpack;    /* floats after the threads' slices: the weights packed for bf16, as
                        op(A) of the forward (c_out, K) or of the input gradient (K, c_out) */
} plan;

static int make_plan(plan *p, const milnce_conv3d_cfg *c, int B, int T, int H, int W) {
    int ret = milnce_conv3d_out_dims(c, T, H, W, &p->To, &p->Ho, &p->Wo);
    if (ret < 0) return ret;
    if (B <= 0) return MILNCE_ERR_INVALID;
    p->Pin = (size_t)T * H * W;
    p->Po = (size_t)p->To * p->Ho * p->Wo;
    p->K = (size_t)c->c_in * c->kt * c->kh * c->kw;
    p->pointwise = is_pointwise(c);
    size_t target = CONV_COL_FLOATS / p->K;
    if (target < 128) target = 128;
    if (target > 8192) target = 8192;
    if (p->Po >= target || B == 1) {
        p->nb = 1;
        p->rows = (int)(target / p->Wo);
        if (p->rows < 1) p->rows = 1;
        if (p->rows > p->To * p->Ho) p->rows = p->To * p->Ho;
        p->chunks = (p->To * p->Ho + p->rows - 1) / p->rows;
        p->col = p->pointwise ? 0 : p->K * (size_t)p->rows * p->Wo;
        p->og = 0;
    } else {
        p->nb = (int)(target / p->Po);
        if (p->nb > B) p->nb = B;
        if (p->nb < 1) p->nb = 1;
        p->rows = p->To * p->Ho;
        p->chunks = 1;
        p->col = p->K * p->nb * p->Po;
        p->og = (size_t)c->c_out * p->nb * p->Po;
    }
    p->dw = (size_t)c->c_out * p->K;
    p->pack = (milnce_gemm_ws_bytes(c->prec) + sizeof(float) - 1) / sizeof(float);
    p->per_thread = p->col + p->og + p->dw + p->pack;
    p->nthreads = omp_get_max_threads();
    size_t a = milnce_gemm_packed_a_bytes(c->prec, c->c_out, (int)p->K);
    size_t b = milnce_gemm_packed_a_bytes(c->prec, (int)p->K, c->c_out);
    p->wpack = ((a > b ? a : b) + sizeof(float) - 1) / sizeof(float);
    return 0;
}

/* Threads of the units: the caller's count, at most the count the workspace was sized for, when
 * OpenBLAS is single-threaded or not used (bf16); else one unit after another, OpenBLAS
 * threading each GEMM. */
static int par_threads(const plan *p, const milnce_conv3d_cfg *c) {
    int n = omp_get_max_threads();
    if (n > p->nthreads) n = p->nthreads;
    return (n > 1 && (c->prec == MILNCE_PREC_BF16 || openblas_get_num_threads() == 1)) ? n : 1;
}

/* The GEMMs of the units: row-major C = alpha op(A) op(B) + beta C at the layer's precision;
 * pack is the thread's packing scratch. Arguments were checked (make_plan, bf16 support at
 * forward/backward entry), so the product cannot fail. */
static void gemm(const milnce_conv3d_cfg *c, float *pack, int tA, int tB, int M, int N, int K,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    (void)milnce_gemm(c->prec, tA, tB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc, pack);
}

/* The same with the weights as op(A), packed once per pass (wp, milnce_gemm_pack_a). */
static void gemm_w(const milnce_conv3d_cfg *c, float *pack, const float *wp, int tA, int M, int N,
                   int K, const float *w, const float *B, int ldb, float beta, float *C, int ldc) {
    (void)milnce_gemm_ex(c->prec, tA, 0, M, N, K, 1.0f, w, tA ? M : K, wp, B, ldb, beta, C, ldc,
                         pack);
}

static int check_prec(const milnce_conv3d_cfg *c) {
    return c->prec == MILNCE_PREC_BF16 && !milnce_bf16_supported() ? MILNCE_ERR_UNSUPPORTED : 0;
}

static int use_direct(const milnce_conv3d_cfg *c) {
    return c->algo == MILNCE_CONV_DIRECT ||
           (c->algo == MILNCE_CONV_AUTO && c->prec == MILNCE_PREC_FP32 &&
            milnce_conv3d_direct_suits(c));
}

size_t milnce_conv3d_workspace_floats(const milnce_conv3d_cfg *c, int B, int T, int H, int W) {
    plan p;
    if (make_plan(&p, c, B, T, H, W) < 0) return 0;
    size_t n = p.per_thread * (size_t)p.nthreads + p.wpack;
    /* the direct algorithm's backward still takes the input gradient from the GEMM path */
    if (use_direct(c)) {
        size_t d = milnce_conv3d_direct_workspace_floats(c, B, T, H, W);
        if (d > n) n = d;
    }
    return n;
}

/* Columns of output rows [r0, r1) (r = to*Ho + ho) of nb consecutive samples of in, each
 * (c_in, T, H, W): col (K, nb*(r1-r0)*Wo), sample-major columns. Out-of-input taps are 0. */
COPY_KERNEL static void vol2col(float *col, const float *in, const milnce_conv3d_cfg *c, int nb,
                                int r0, int r1, int T, int H, int W, int Ho, int Wo) {
    const int ksz = c->kt * c->kh * c->kw;
    const int K = c->c_in * ksz, sw = c->sw;
    const size_t Pin = (size_t)T * H * W, cols = (size_t)(r1 - r0) * Wo;
    const size_t ld = (size_t)nb * cols;
    for (int r = 0; r < K; r++) {
        int ci = r / ksz, kk = r % ksz;
        int it = kk / (c->kh * c->kw), ih = (kk / c->kw) % c->kh, iw = kk % c->kw;
        /* wo range whose tap lands inside [0, W): wi = wo*sw - off in [0, W) */
        int off = c->pw - iw, wlo = 0, whi = Wo;
        if (off > 0) wlo = (off + sw - 1) / sw;
        if (W + off <= 0) whi = 0;
        else if ((W - 1 + off) / sw + 1 < whi) whi = (W - 1 + off) / sw + 1;
        if (wlo > whi) wlo = whi;
        for (int b = 0; b < nb; b++) {
            const float *src = in + ((size_t)b * c->c_in + ci) * Pin;
            float *dst = col + (size_t)r * ld + (size_t)b * cols;
            /* (to, ho) of row r0, then stepped: no division per row */
            int to = r0 / Ho, ho = r0 % Ho;
            for (int rr = r0; rr < r1; rr++, dst += Wo) {
                int ti = to * c->st - c->pt + it, hi = ho * c->sh - c->ph + ih;
                if (++ho == Ho) ho = 0, to++;
                if (ti < 0 || ti >= T || hi < 0 || hi >= H) {
                    for (int wo = 0; wo < Wo; wo++) dst[wo] = 0.0f;
                    continue;
                }
                const float *row = src + ((size_t)ti * H + hi) * W - off;
                for (int wo = 0; wo < wlo; wo++) dst[wo] = 0.0f;
                if (sw == 1)
                    for (int wo = wlo; wo < whi; wo++) dst[wo] = row[wo];
                else if (sw == 2)
                    for (int wo = wlo; wo < whi; wo++) dst[wo] = row[2 * wo];
                else
                    for (int wo = wlo; wo < whi; wo++) dst[wo] = row[wo * sw];
                for (int wo = whi; wo < Wo; wo++) dst[wo] = 0.0f;
            }
        }
    }
}

/* din (nb samples of (c_in,T,H,W)) += col2vol of dcol laid out as vol2col's col. */
COPY_KERNEL static void col2vol_add(float *din, const float *dcol, const milnce_conv3d_cfg *c,
                                    int nb, int r0, int r1, int T, int H, int W, int Ho, int Wo) {
    const int ksz = c->kt * c->kh * c->kw;
    const int K = c->c_in * ksz, sw = c->sw;
    const size_t Pin = (size_t)T * H * W, cols = (size_t)(r1 - r0) * Wo;
    const size_t ld = (size_t)nb * cols;
    for (int r = 0; r < K; r++) {
        int ci = r / ksz, kk = r % ksz;
        int it = kk / (c->kh * c->kw), ih = (kk / c->kw) % c->kh, iw = kk % c->kw;
        int off = c->pw - iw, wlo = 0, whi = Wo;
        if (off > 0) wlo = (off + sw - 1) / sw;
        if (W + off <= 0) whi = 0;
        else if ((W - 1 + off) / sw + 1 < whi) whi = (W - 1 + off) / sw + 1;
        if (wlo > whi) wlo = whi;
        for (int b = 0; b < nb; b++) {
            float *dst = din + ((size_t)b * c->c_in + ci) * Pin;
            const float *src = dcol + (size_t)r * ld + (size_t)b * cols;
            int to = r0 / Ho, ho = r0 % Ho;
            for (int rr = r0; rr < r1; rr++, src += Wo) {
                int ti = to * c->st - c->pt + it, hi = ho * c->sh - c->ph + ih;
                if (++ho == Ho) ho = 0, to++;
                if (ti < 0 || ti >= T || hi < 0 || hi >= H) continue;
                float *row = dst + ((size_t)ti * H + hi) * W - off;
                if (sw == 1)
                    for (int wo = wlo; wo < whi; wo++) row[wo] += src[wo];
                else
                    for (int wo = wlo; wo < whi; wo++) row[wo * sw] += src[wo];
            }
        }
    }
}

/* dst (C, nb*Po) <- src (nb, C, Po). */
static void gather(float *dst, const float *src, int nb, int C, size_t Po) {
    for (int ch = 0; ch < C; ch++)
        for (int b = 0; b < nb; b++)
            memcpy(dst + ((size_t)ch * nb + b) * Po, src + ((size_t)b * C + ch) * Po,
                   sizeof(float) * Po);
}

/* dst (nb, C, Po) (+)= src (C, nb*Po). */
static void scatter(float *dst, const float *src, int nb, int C, size_t Po, int accumulate) {
    for (int b = 0; b < nb; b++)
        for (int ch = 0; ch < C; ch++) {
            float *d = dst + ((size_t)b * C + ch) * Po;
            const float *s = src + ((size_t)ch * nb + b) * Po;
            if (accumulate)
                for (size_t p = 0; p < Po; p++) d[p] += s[p];
            else
                memcpy(d, s, sizeof(float) * Po);
        }
}

int milnce_conv3d_forward(float *out, const float *in, const float *w, const float *bias,
                          float *ws, const milnce_conv3d_cfg *c, int B, int T, int H, int W) {
    plan p;
    int ret;
    if ((ret = make_plan(&p, c, B, T, H, W)) < 0) return ret;
    if (use_direct(c)) return milnce_conv3d_direct_forward(out, in, w, bias, ws, c, B, T, H, W);
    if ((ret = check_prec(c)) < 0) return ret;
    const int K = (int)p.K, nth = par_threads(&p, c);
    float *wp = ws + p.per_thread * (size_t)p.nthreads;
    if ((ret = milnce_gemm_pack_a(c->prec, wp, 0, c->c_out, K, w, K)) < 0) return ret;
    const long units = p.nb == 1 ? (long)B * p.chunks : (B + p.nb - 1) / p.nb;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nth) if (nth > 1)
    for (long u = 0; u < units; u++) {
        float *col = ws + (size_t)omp_get_thread_num() * p.per_thread;
        float *og = col + p.col, *pk = og + p.og + p.dw;
        if (p.nb == 1) {
            const int b = (int)(u / p.chunks), r0 = (int)(u % p.chunks) * p.rows;
            const int r1 = r0 + p.rows < p.To * p.Ho ? r0 + p.rows : p.To * p.Ho;
            const int n = (r1 - r0) * p.Wo;
            const float *x = in + (size_t)b * c->c_in * p.Pin;
            float *y = out + (size_t)b * c->c_out * p.Po + (size_t)r0 * p.Wo;
            if (p.pointwise) {
                gemm_w(c, pk, wp, 0, c->c_out, n, K, w, x + (size_t)r0 * p.Wo, (int)p.Pin, 0.0f, y,
                       (int)p.Po);
            } else {
                vol2col(col, x, c, 1, r0, r1, T, H, W, p.Ho, p.Wo);
                gemm_w(c, pk, wp, 0, c->c_out, n, K, w, col, n, 0.0f, y, (int)p.Po);
            }
        } else {
            const int b0 = (int)u * p.nb, nb = B - b0 < p.nb ? B - b0 : p.nb;
            const int n = (int)(nb * p.Po);
            const float *x = in + (size_t)b0 * c->c_in * p.Pin;
            if (p.pointwise) gather(col, x, nb, c->c_in, p.Pin);
            else vol2col(col, x, c, nb, 0, p.To * p.Ho, T, H, W, p.Ho, p.Wo);
            gemm_w(c, pk, wp, 0, c->c_out, n, K, w, col, n, 0.0f, og, n);
            scatter(out + (size_t)b0 * c->c_out * p.Po, og, nb, c->c_out, p.Po, 0);
        }
    }
    if (bias) {
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)B * c->c_out * p.Po > 32768)
        for (int b = 0; b < B; b++)
            for (int co = 0; co < c->c_out; co++) {
                float *y = out + ((size_t)b * c->c_out + co) * p.Po, bv = bias[co];
                for (size_t q = 0; q < p.Po; q++) y[q] += bv;
            }
    }
    return 0;
}

int milnce_conv3d_backward(float *din, float *dw, float *dbias, const float *dout, const float *in,
                           const float *w, float *ws, const milnce_conv3d_cfg *c, int B, int T,
                           int H, int W) {
    plan p;
    int ret;
    if ((ret = make_plan(&p, c, B, T, H, W)) < 0) return ret;
    if (use_direct(c) && dw) {
        /* the input gradient (rarely wanted: a stem's input is the clip) from the GEMM path */
        if ((ret = milnce_conv3d_backward(din, NULL, dbias, dout, in, w, ws, c, B, T, H, W)) < 0)
            return ret;
        return milnce_conv3d_direct_backward_weight(dw, dout, in, ws, c, B, T, H, W);
    }
    if ((ret = check_prec(c)) < 0) return ret;
    const int K = (int)p.K;
    if (dbias) {
#pragma omp parallel for schedule(static) if ((size_t)B * c->c_out * p.Po > 32768)
        for (int co = 0; co < c->c_out; co++) {
            double s = 0;
            for (int b = 0; b < B; b++) {
                const float *g = dout + ((size_t)b * c->c_out + co) * p.Po;
                for (size_t q = 0; q < p.Po; q++) s += g[q];
            }
            dbias[co] += (float)s;
        }
    }
    if (!dw && !din) return 0;
    float *wp = ws + p.per_thread * (size_t)p.nthreads;
    if (din && (ret = milnce_gemm_pack_a(c->prec, wp, 1, K, c->c_out, w, K)) < 0) return ret;
    /* Units own whole samples: the input gradients of neighbouring row chunks overlap. */
    const long units = (B + p.nb - 1) / p.nb;
    int nth = par_threads(&p, c);
    if (nth > units) nth = (int)units;
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        float *col = ws + (size_t)tid * p.per_thread;
        float *og = col + p.col, *pk = og + p.og + p.dw;
        float *dwt = tid == 0 ? dw : og + p.og; /* thread 0 adds straight into dw */
        if (dw && tid > 0) memset(dwt, 0, sizeof(float) * p.dw);
        /* static: which units add into which private copy must not depend on timing, or the
         * summation order (and so the weights after a step) would differ from run to run. */
#pragma omp for schedule(static)
        for (long u = 0; u < units; u++) {
            const int b0 = (int)u * p.nb, nb = B - b0 < p.nb ? B - b0 : p.nb;
            const float *x = in + (size_t)b0 * c->c_in * p.Pin;
            const float *gy = dout + (size_t)b0 * c->c_out * p.Po;
            float *dx = din ? din + (size_t)b0 * c->c_in * p.Pin : NULL;
            if (p.nb == 1) {
                for (int r0 = 0; r0 < p.To * p.Ho; r0 += p.rows) {
                    const int r1 = r0 + p.rows < p.To * p.Ho ? r0 + p.rows : p.To * p.Ho;
                    const int n = (r1 - r0) * p.Wo;
                    const float *G = gy + (size_t)r0 * p.Wo; /* (c_out, n), ld Po */
                    if (p.pointwise) {
                        const float *X = x + (size_t)r0 * p.Wo; /* (c_in, n), ld Pin */
                        if (dw)
                            gemm(c, pk, 0, 1, c->c_out, K, n, G, (int)p.Po, X, (int)p.Pin, 1.0f,
                                 dwt, K);
                        if (dx)
                            gemm_w(c, pk, wp, 1, K, n, c->c_out, w, G, (int)p.Po, 1.0f,
                                   dx + (size_t)r0 * p.Wo, (int)p.Pin);
                        continue;
                    }
                    if (dw) {
                        vol2col(col, x, c, 1, r0, r1, T, H, W, p.Ho, p.Wo);
                        gemm(c, pk, 0, 1, c->c_out, K, n, G, (int)p.Po, col, n, 1.0f, dwt, K);
                    }
                    if (dx) {
                        gemm_w(c, pk, wp, 1, K, n, c->c_out, w, G, (int)p.Po, 0.0f, col, n);
                        col2vol_add(dx, col, c, 1, r0, r1, T, H, W, p.Ho, p.Wo);
                    }
                }
            } else {
                const int n = (int)(nb * p.Po);
                gather(og, gy, nb, c->c_out, p.Po); /* (c_out, n) */
                if (dw) {
                    if (p.pointwise) gather(col, x, nb, c->c_in, p.Pin);
                    else vol2col(col, x, c, nb, 0, p.To * p.Ho, T, H, W, p.Ho, p.Wo);
                    gemm(c, pk, 0, 1, c->c_out, K, n, og, n, col, n, 1.0f, dwt, K);
                }
                if (dx) {
                    gemm_w(c, pk, wp, 1, K, n, c->c_out, w, og, n, 0.0f, col, n);
                    if (p.pointwise) scatter(dx, col, nb, c->c_in, p.Pin, 1);
                    else col2vol_add(dx, col, c, nb, 0, p.To * p.Ho, T, H, W, p.Ho, p.Wo);
                }
            }
        }
        /* implicit barrier above; sum the private weight gradients into dw */
        if (dw && nt > 1) {
#pragma omp for schedule(static)
            for (size_t i = 0; i < p.dw; i++) {
                float s = 0;
                for (int t = 1; t < nt; t++) s += ws[(size_t)t * p.per_thread + p.col + p.og + i];
                dw[i] += s;
            }
        }
    }
    return 0;
}
