/* Direct Conv3d forward and weight gradient for stems: few input channels, a large spatial
 * kernel (S3D-G's conv1: 3 -> 64 channels, kernel 3x7x7, stride 2).
 *
 * Why not vol2col + sgemm there: the column matrix has c_in*kt*kh*kw = 441 rows per output
 * position, so vol2col writes (and sgemm then packs) 441 floats per output position for only
 * 16..64 output channels of arithmetic on them; the copies cost several times the GEMM itself.
 * Here the input is copied once per work unit into a zero-padded, stride-phase-split buffer in
 * which every tap of a row of outputs is a contiguous run, and the arithmetic works on vectors
 * of 16 consecutive output columns (wo) straight from that buffer:
 *   xp[ci][f][hp][r][q] = padded input (frame f of the unit, row hp, column q*sw + r)
 *   out[co][to][ho][wo] += w[co][ci][it][ih][iw] * xp[ci][to*st+it][ho*sh+ih][iw%sw][wo + iw/sw]
 * Forward keeps an 8 (output channels) x 32 (wo) block of accumulators in registers; the weight
 * gradient keeps 4 (output channels) x 4 (taps iw) vectors of 16 wo and reduces them at the end.
 *
 * Vectors: src/base/simd.h (16 floats, kernels compiled for AVX-512 / AVX2+FMA / baseline).
 *
 * Work units are (sample, run of output frames); OpenMP runs them in parallel (no BLAS inside).
 * The weight gradient goes to per-thread copies, summed at the end, as in src/nn/conv3d.c. */
#include "conv3d_direct.h"
#include "simd.h"

#include <omp.h>
#include <string.h>

typedef milnce_vf vf;
#define VL MILNCE_VL
#define ldu milnce_ldu
#define FWD_CO 8    /* output channels per forward block */
#define FWD_NV 2    /* vectors of wo per forward block */
#define BWD_CO 4    /* output channels per weight-gradient block */
#define BWD_TAP 4   /* taps iw per weight-gradient block */
/* Floats of one thread's padded input buffer (384 KB): units take as many output frames as fit.
 * Small enough that a unit's input and output gradient stay in L2 while the weight gradient
 * passes over them once per (input channel, it, ih, block of output channels and taps). */
#define XP_BUDGET (96 * 1024)

#define KERNEL_ATTR MILNCE_KERNEL

static inline int round_up(int a, int m) { return (a + m - 1) / m * m; }

int milnce_conv3d_direct_suits(const milnce_conv3d_cfg *c) {
    return c->c_in <= 4 && c->kh * c->kw >= 25;
}

typedef struct {
    int To, Ho, Wo;
    int K;        /* c_in*kt*kh*kw */
    int Cpad;     /* c_out rounded up to FWD_CO (a multiple of BWD_CO too) */
    int Wv;       /* Wo rounded up to FWD_NV*VL: columns computed per output row */
    int kwp;      /* kw rounded up to BWD_TAP */
    int Hp, Wq;   /* padded rows; columns of one stride phase */
    int nt;       /* output frames per unit */
    int F;        /* input frames of a unit's buffer: (nt-1)*st + kt */
    long units;   /* B * ceil(To / nt) */
    size_t xp, gp, dw, per_thread, shared;
    int nthreads;
} dplan;

static int make_dplan(dplan *p, const milnce_conv3d_cfg *c, int B, int T, int H, int W) {
    int ret = milnce_conv3d_out_dims(c, T, H, W, &p->To, &p->Ho, &p->Wo);
    if (ret < 0) return ret;
    if (B <= 0) return MILNCE_ERR_INVALID;
    p->K = c->c_in * c->kt * c->kh * c->kw;
    p->Cpad = round_up(c->c_out, FWD_CO);
    p->Wv = round_up(p->Wo, FWD_NV * VL);
    p->kwp = round_up(c->kw, BWD_TAP);
    p->Hp = H + 2 * c->ph;
    /* largest q read: wo + iw/sw with wo < Wv, iw < kwp */
    p->Wq = p->Wv + (p->kwp - 1) / c->sw + 1;
    const size_t frame = (size_t)c->c_in * p->Hp * c->sw * p->Wq;
    long fit = (long)(XP_BUDGET / frame);
    int nt = fit >= c->kt ? (int)((fit - c->kt) / c->st + 1) : 1;
    if (nt > p->To) nt = p->To;
    /* enough units for every thread */
    const int nth = omp_get_max_threads();
    while (nt > 1 && (long)B * ((p->To + nt - 1) / nt) < 2L * nth) nt = (nt + 1) / 2;
    p->nt = nt;
    p->F = (nt - 1) * c->st + c->kt;
    p->units = (long)B * ((p->To + nt - 1) / nt);
    p->xp = frame * p->F;
    p->gp = (size_t)p->Cpad * nt * p->Ho * p->Wv;
    p->dw = (size_t)c->c_out * p->K;
    p->per_thread = p->xp + p->gp + p->dw;
    p->shared = (size_t)p->K * p->Cpad;
    p->nthreads = nth;
    return 0;
}

size_t milnce_conv3d_direct_workspace_floats(const milnce_conv3d_cfg *c, int B, int T, int H,
                                             int W) {
    dplan p;
    if (make_dplan(&p, c, B, T, H, W) < 0) return 0;
    return p.shared + p.per_thread * (size_t)p.nthreads;
}

/* Fills xp with the input frames [to0*st - pt, to0*st - pt + F) of one sample x (c_in,T,H,W):
 * zero padding outside the input, and zeros at padded columns no valid output reads (columns
 * computed past Wo then meet only zeros and the zero-padded output gradient: an Inf or NaN in an
 * input column no output uses cannot leak into the weight gradient as Inf * 0). */
static void fill_xp(float *xp, const float *x, const milnce_conv3d_cfg *c, const dplan *p, int to0,
                    int T, int H, int W) {
    const int sw = c->sw, last = (p->Wo - 1) * sw + c->kw - 1; /* last padded column used */
    const size_t row = (size_t)sw * p->Wq;
    for (int ci = 0; ci < c->c_in; ci++)
        for (int f = 0; f < p->F; f++) {
            const int ti = to0 * c->st - c->pt + f;
            for (int hp = 0; hp < p->Hp; hp++) {
                float *dst = xp + (((size_t)ci * p->F + f) * p->Hp + hp) * row;
                const int hi = hp - c->ph;
                if (ti < 0 || ti >= T || hi < 0 || hi >= H) {
                    memset(dst, 0, sizeof(float) * row);
                    continue;
                }
                const float *src = x + (((size_t)ci * T + ti) * H + hi) * W;
                for (int r = 0; r < sw; r++) {
                    float *d = dst + (size_t)r * p->Wq;
                    for (int q = 0; q < p->Wq; q++) {
                        const int pc = q * sw + r, wi = pc - c->pw;
                        d[q] = (pc <= last && wi >= 0 && wi < W) ? src[wi] : 0.0f;
                    }
                }
            }
        }
}

/* Output frames [to0, to1) of one sample: y (c_out, To, Ho, Wo). wt (K, Cpad). */
KERNEL_ATTR
static void forward_unit(float *y, const float *xp, const float *wt, const float *bias,
                         const milnce_conv3d_cfg *c, const dplan *p, int to0, int to1) {
    const int sw = c->sw, Wq = p->Wq, Cpad = p->Cpad;
    const size_t Po = (size_t)p->To * p->Ho * p->Wo;
    for (int to = to0; to < to1; to++)
        for (int ho = 0; ho < p->Ho; ho++)
            for (int j0 = 0; j0 < c->c_out; j0 += FWD_CO)
                for (int wo0 = 0; wo0 < p->Wo; wo0 += FWD_NV * VL) {
                    vf a[FWD_CO][FWD_NV];
                    memset(a, 0, sizeof a);
                    for (int ci = 0; ci < c->c_in; ci++)
                        for (int it = 0; it < c->kt; it++)
                            for (int ih = 0; ih < c->kh; ih++) {
                                const int f = (to - to0) * c->st + it, hp = ho * c->sh + ih;
                                const float *row =
                                    xp + (((size_t)ci * p->F + f) * p->Hp + hp) * sw * Wq + wo0;
                                const float *wr =
                                    wt + ((size_t)((ci * c->kt + it) * c->kh + ih) * c->kw) * Cpad +
                                    j0;
                                /* taps by stride phase r: iw = q*sw + r (no division) */
                                for (int r = 0; r < sw; r++)
                                for (int iw = r, q = 0; iw < c->kw; iw += sw, q++) {
                                    const float *xr = row + (size_t)r * Wq + q;
                                    const float *wk = wr + (size_t)iw * Cpad;
                                    vf xv[FWD_NV];
#pragma GCC unroll 2
                                    for (int v = 0; v < FWD_NV; v++) xv[v] = ldu(xr + v * VL);
#pragma GCC unroll 8
                                    for (int j = 0; j < FWD_CO; j++)
#pragma GCC unroll 2
                                        for (int v = 0; v < FWD_NV; v++) a[j][v] += wk[j] * xv[v];
                                }
                            }
                    for (int j = 0; j < FWD_CO && j0 + j < c->c_out; j++) {
                        const int co = j0 + j;
                        float *dst = y + (size_t)co * Po + ((size_t)to * p->Ho + ho) * p->Wo;
                        const float bv = bias ? bias[co] : 0.0f;
                        for (int v = 0; v < FWD_NV; v++) {
                            const int w0 = wo0 + v * VL;
                            int n = p->Wo - w0;
                            if (n <= 0) break;
                            if (n > VL) n = VL;
                            float tmp[VL];
                            memcpy(tmp, &a[j][v], sizeof tmp);
                            for (int k = 0; k < n; k++) dst[w0 + k] = tmp[k] + bv;
                        }
                    }
                }
}

/* dwt (c_out, K) += the weight gradient of output frames [to0, to1) of one sample; gp
 * (Cpad, rows, Wv) the output gradient of those frames, zero past c_out and Wo. The output
 * channel block is the outer loop so its rows of gp stay in L1 over all taps. */
KERNEL_ATTR
static void weight_grad_unit(float *dwt, const float *xp, const float *gp,
                             const milnce_conv3d_cfg *c, const dplan *p, int to0, int to1) {
    const int sw = c->sw, Wq = p->Wq, Wv = p->Wv;
    const int rows = (to1 - to0) * p->Ho;
    const size_t gco = (size_t)rows * Wv;           /* floats between output channels of gp */
    const size_t xrow = (size_t)sw * Wq;             /* floats of one padded input row */
    const size_t xstep = (size_t)c->sh * xrow;       /* next output row ho */
    for (int j0 = 0; j0 < c->c_out; j0 += BWD_CO)
        for (int ci = 0; ci < c->c_in; ci++)
            for (int it = 0; it < c->kt; it++)
                for (int ih = 0; ih < c->kh; ih++)
                    for (int t0 = 0; t0 < c->kw; t0 += BWD_TAP) {
                        int off[BWD_TAP]; /* tap t0+t in a padded row: phase, then shift */
                        for (int t = 0; t < BWD_TAP; t++)
                            off[t] = ((t0 + t) % sw) * Wq + (t0 + t) / sw;
                        vf a[BWD_CO][BWD_TAP];
                        memset(a, 0, sizeof a);
                        const float *g = gp + (size_t)j0 * gco;
                        for (int to = to0; to < to1; to++) {
                            const int f = (to - to0) * c->st + it;
                            const float *row = xp + (((size_t)ci * p->F + f) * p->Hp + ih) * xrow;
                            for (int ho = 0; ho < p->Ho; ho++, row += xstep, g += Wv)
                                for (int v = 0; v < Wv; v += VL) {
                                    vf d[BWD_CO];
#pragma GCC unroll 4
                                    for (int j = 0; j < BWD_CO; j++) d[j] = ldu(g + j * gco + v);
#pragma GCC unroll 4
                                    for (int t = 0; t < BWD_TAP; t++) {
                                        const vf xv = ldu(row + off[t] + v);
#pragma GCC unroll 4
                                        for (int j = 0; j < BWD_CO; j++) a[j][t] += d[j] * xv;
                                    }
                                }
                        }
                        for (int j = 0; j < BWD_CO && j0 + j < c->c_out; j++)
                            for (int t = 0; t < BWD_TAP && t0 + t < c->kw; t++) {
                                float tmp[VL], s = 0.0f;
                                memcpy(tmp, &a[j][t], sizeof tmp);
                                for (int k = 0; k < VL; k++) s += tmp[k];
                                const int tap = ((ci * c->kt + it) * c->kh + ih) * c->kw + t0 + t;
                                dwt[(size_t)(j0 + j) * p->K + tap] += s;
                            }
                    }
}

static int threads_for(const dplan *p) {
    int n = omp_get_max_threads();
    if (n > p->nthreads) n = p->nthreads;
    if (n > p->units) n = (int)p->units;
    return n < 1 ? 1 : n;
}

int milnce_conv3d_direct_forward(float *out, const float *in, const float *w, const float *bias,
                                 float *ws, const milnce_conv3d_cfg *c, int B, int T, int H,
                                 int W) {
    dplan p;
    int ret;
    if ((ret = make_dplan(&p, c, B, T, H, W)) < 0) return ret;
    float *wt = ws; /* (K, Cpad): the weights of one tap for consecutive output channels */
    for (int k = 0; k < p.K; k++)
        for (int co = 0; co < p.Cpad; co++)
            wt[(size_t)k * p.Cpad + co] = co < c->c_out ? w[(size_t)co * p.K + k] : 0.0f;
    const int upb = (p.To + p.nt - 1) / p.nt, nth = threads_for(&p);
    const size_t Pin = (size_t)T * H * W, Po = (size_t)p.To * p.Ho * p.Wo;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nth) if (nth > 1)
    for (long u = 0; u < p.units; u++) {
        float *xp = ws + p.shared + (size_t)omp_get_thread_num() * p.per_thread;
        const int b = (int)(u / upb), to0 = (int)(u % upb) * p.nt;
        const int to1 = to0 + p.nt < p.To ? to0 + p.nt : p.To;
        fill_xp(xp, in + (size_t)b * c->c_in * Pin, c, &p, to0, T, H, W);
        forward_unit(out + (size_t)b * c->c_out * Po, xp, wt, bias, c, &p, to0, to1);
    }
    return 0;
}

int milnce_conv3d_direct_backward_weight(float *dw, const float *dout, const float *in, float *ws,
                                         const milnce_conv3d_cfg *c, int B, int T, int H, int W) {
    dplan p;
    int ret;
    if ((ret = make_dplan(&p, c, B, T, H, W)) < 0) return ret;
    const int upb = (p.To + p.nt - 1) / p.nt, nth = threads_for(&p);
    const size_t Pin = (size_t)T * H * W, Po = (size_t)p.To * p.Ho * p.Wo;
    const size_t plane = (size_t)p.Ho * p.Wo;
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        float *xp = ws + p.shared + (size_t)tid * p.per_thread, *gp = xp + p.xp;
        float *dwt = tid == 0 ? dw : gp + p.gp; /* thread 0 adds straight into dw */
        if (tid > 0) memset(dwt, 0, sizeof(float) * p.dw);
        /* static: which units add into which private copy must not depend on timing, or the
         * summation order (and so the weights after a step) would differ from run to run. */
#pragma omp for schedule(static)
        for (long u = 0; u < p.units; u++) {
            const int b = (int)(u / upb), to0 = (int)(u % upb) * p.nt;
            const int to1 = to0 + p.nt < p.To ? to0 + p.nt : p.To;
            const int rows = (to1 - to0) * p.Ho;
            fill_xp(xp, in + (size_t)b * c->c_in * Pin, c, &p, to0, T, H, W);
            /* gp (Cpad, rows, Wv): the unit's output gradient, zero-padded */
            for (int co = 0; co < p.Cpad; co++)
                for (int rr = 0; rr < rows; rr++) {
                    float *d = gp + ((size_t)co * rows + rr) * p.Wv;
                    if (co >= c->c_out) {
                        memset(d, 0, sizeof(float) * p.Wv);
                        continue;
                    }
                    const float *s = dout + (size_t)(b * c->c_out + co) * Po + to0 * plane +
                                     (size_t)rr * p.Wo;
                    memcpy(d, s, sizeof(float) * p.Wo);
                    memset(d + p.Wo, 0, sizeof(float) * (p.Wv - p.Wo));
                }
            weight_grad_unit(dwt, xp, gp, c, &p, to0, to1);
        }
        /* implicit barrier above; sum the private copies into dw */
        if (nt > 1) {
#pragma omp for schedule(static)
            for (size_t i = 0; i < p.dw; i++) {
                float s = 0;
                for (int t = 1; t < nt; t++)
                    s += ws[p.shared + (size_t)t * p.per_thread + p.xp + p.gp + i];
                dw[i] += s;
            }
        }
    }
    return 0;
}
