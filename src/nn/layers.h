/* The layers of the S3D-G video encoder and the text encoder, forward and backward, float32.
 *
 * Legend: B batch, C channels, T frames, H height, W width, P = T*H*W positions of one channel,
 * L words, D word-vector width, V vocabulary size, N rows of a matrix.
 * Layout: video tensors are NCTHW (B,C,T,H,W), contiguous; weights follow PyTorch
 * (Conv3d (C_out,C_in,kT,kH,kW), Linear (out,in)) so a converted state_dict loads directly.
 *
 * Conventions (karpathy/llm.c): every layer is a `*_forward` / `*_backward` pair; arguments are
 * outputs, inputs, weights, scratch, sizes. Forward fills what backward needs (saved statistics,
 * argmax indices) into caller-owned buffers. Backward ACCUMULATES (`+=`) into every gradient,
 * the input gradient included, so one memset clears them and branches that share an input just
 * add up. A gradient pointer that is NULL is not computed (frozen weights, first-layer input).
 * Scratch is passed in, sized by the matching `*_workspace_floats`; the exception is
 * milnce_maxpool3d_forward, which mallocs its per-thread row buffers on every call (and returns
 * MILNCE_ERR_NOMEM when that fails). Functions that can reject their arguments return 0 or a
 * negative MILNCE_ERR_*; the others are void.
 * Threads: OpenBLAS inside the GEMMs, OpenMP for the rest. The functions keep no state of their
 * own, but they read process-wide settings at every call: omp_get_max_threads() (how work and
 * per-thread scratch are split, hence the order of float sums) and OpenBLAS's thread count (a
 * conv runs its units in parallel only when OpenBLAS is single-threaded). Results are the same
 * for the same settings; a workspace sized under one setting stays valid under fewer threads.
 * Two threads may call them at once only when neither changes those settings meanwhile. */
#ifndef MILNCE_LAYERS_H
#define MILNCE_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* ------------------------------------------------------------------------------------------ */
/* Conv3d (src/nn/conv3d.c): vol2col + sgemm; 1x1x1 stride-1 unpadded convs are a plain GEMM.
 * Small spatial sizes are batched: several samples share one GEMM (columns (K, nb*P)).
 * Stems with few input channels and a large kernel (conv1, 3x7x7 over RGB) run a direct
 * convolution instead (src/nn/conv3d_direct.c) for the output and the weight gradient. */

/* Algorithm of a conv layer: AUTO picks; GEMM / DIRECT force one (tests, benchmarks). */
enum { MILNCE_CONV_AUTO = 0, MILNCE_CONV_GEMM = 1, MILNCE_CONV_DIRECT = 2 };

typedef struct milnce_conv3d_cfg {
    int c_in, c_out;
    int kt, kh, kw; /* kernel */
    int st, sh, sw; /* stride */
    int pt, ph, pw; /* zero padding on both sides (PyTorch `padding`) */
    int algo;       /* MILNCE_CONV_* (0 = AUTO) */
    int prec;       /* MILNCE_PREC_* of the GEMMs (src/nn/gemm.h; 0 = fp32) */
} milnce_conv3d_cfg;

/* Output size: To = (T + 2*pt - kt) / st + 1, likewise H, W. Returns 0, or MILNCE_ERR_INVALID
 * for a non-positive size / kernel / stride, a negative padding, or an empty output. */
int milnce_conv3d_out_dims(const milnce_conv3d_cfg *cfg, int T, int H, int W, int *To, int *Ho,
                           int *Wo);

/* Floats of scratch that forward and backward need for this layer and input size (the same
 * number serves both; 0 is possible). One buffer of the max over all layers serves a network. */
size_t milnce_conv3d_workspace_floats(const milnce_conv3d_cfg *cfg, int B, int T, int H, int W);

/* out  (B, c_out, To, Ho, Wo)      written (not accumulated)
 * in   (B, c_in, T, H, W)
 * w    (c_out, c_in, kt, kh, kw)
 * bias (c_out) or NULL (S3D-G's convs have none)
 * ws   milnce_conv3d_workspace_floats(...) floats (may be NULL when that is 0) */
int milnce_conv3d_forward(float *out, const float *in, const float *w, const float *bias,
                          float *ws, const milnce_conv3d_cfg *cfg, int B, int T, int H, int W);

/* din (B,c_in,T,H,W) +=, dw (c_out,c_in,kt,kh,kw) +=, dbias (c_out) +=; each may be NULL.
 * dout (B, c_out, To, Ho, Wo); in, w as in forward. */
int milnce_conv3d_backward(float *din, float *dw, float *dbias, const float *dout, const float *in,
                           const float *w, float *ws, const milnce_conv3d_cfg *cfg, int B, int T,
                           int H, int W);

/* ------------------------------------------------------------------------------------------ */
/* BatchNorm3d (src/nn/batchnorm3d.c), eps 1e-5 and momentum 0.1 in S3D-G (as PyTorch).
 * train != 0: normalise with the batch statistics over (B, P) of each channel (biased variance)
 *   and update running_mean/var (if non-NULL) as PyTorch: r = (1-momentum) r + momentum s, with
 *   the unbiased variance (n/(n-1)) for running_var.
 * train == 0: normalise with running_mean/var (which must be given).
 * Either way mean and invstd = 1/sqrt(var + eps) of what was used are written for backward.
 *
 * out (B,C,P); mean, invstd (C) written; running_mean, running_var (C) updated in train mode;
 * in (B,C,P); gamma, beta (C). out may not alias in (backward reads in). */
void milnce_batchnorm3d_forward(float *out, float *mean, float *invstd, float *running_mean,
                                float *running_var, const float *in, const float *gamma,
                                const float *beta, int train, float momentum, float eps, int B,
                                int C, int P);
/* din (B,C,P) +=, dgamma, dbeta (C) +=; each may be NULL. In train mode the gradient flows
 * through the batch statistics; in eval mode the statistics are constants. */
void milnce_batchnorm3d_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                                 const float *in, const float *mean, const float *invstd,
                                 const float *gamma, int train, int B, int C, int P);

/* BatchNorm3d followed by ReLU in one pass over memory (the STConv unit): out = max(bn(in), 0).
 * Same arguments as batchnorm3d; backward also reads out (the ReLU mask: out > 0). */
void milnce_bnrelu3d_forward(float *out, float *mean, float *invstd, float *running_mean,
                             float *running_var, const float *in, const float *gamma,
                             const float *beta, int train, float momentum, float eps, int B, int C,
                             int P);
void milnce_bnrelu3d_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                              const float *in, const float *out, const float *mean,
                              const float *invstd, const float *gamma, int train, int B, int C,
                              int P);

/* Synchronised BatchNorm (train mode, data parallel over R ranks): the batch statistics are
 * those of the R ranks' clips together. allreduce_sum replaces buf (n doubles) by its sum over
 * the ranks (0 or a negative MILNCE_ERR_*; called outside any parallel region). Forward sums
 * (sum x, count) then sum (x - mean)^2 over the ranks; backward sums (sum dy, sum dy * xhat,
 * count), so dx is the gradient through the global statistics, while dgamma and dbeta stay this
 * rank's part (the ranks' gradients are summed afterwards like every other parameter's). With
 * R = 1 the result equals milnce_bnrelu3d_* up to summation order. Returns 0 or the reducer's
 * error. */
typedef struct milnce_bn_sync {
    int (*allreduce_sum)(void *user, double *buf, size_t n);
    void *user;
} milnce_bn_sync;
int milnce_bnrelu3d_forward_sync(float *out, float *mean, float *invstd, float *running_mean,
                                 float *running_var, const float *in, const float *gamma,
                                 const float *beta, float momentum, float eps, int B, int C, int P,
                                 const milnce_bn_sync *sync);
int milnce_bnrelu3d_backward_sync(float *din, float *dgamma, float *dbeta, const float *dout,
                                  const float *in, const float *out, const float *mean,
                                  const float *invstd, const float *gamma, int B, int C, int P,
                                  const milnce_bn_sync *sync);

/* ------------------------------------------------------------------------------------------ */
/* MaxPool3d (src/nn/pool3d.c).
 * Two kinds of padding, per dimension:
 *  - z*0 / z*1: zeros added before / after the input that TAKE PART in the max (TF "SAME" as the
 *    reference builds it: ConstantPad3d(0) then MaxPool3d(ceil_mode=True));
 *  - pt, ph, pw: PyTorch's implicit padding on both sides, which never wins the max.
 * With Lz = L + z0 + z1 the zero-padded length, the output size is PyTorch's:
 *   floor or ceil((Lz + 2p - k) / s) + 1, and in ceil mode minus one if the last window would
 *   start at or beyond Lz + p. Windows are clipped to the zero-padded input.
 * Ties go to the first maximum in (t, h, w) scan order, as PyTorch's CPU kernel; a maximum that
 * is a padded zero routes no gradient. */
typedef struct milnce_pool3d_cfg {
    int kt, kh, kw;
    int st, sh, sw;
    int pt, ph, pw;                   /* implicit (-inf) padding, both sides */
    int zt0, zt1, zh0, zh1, zw0, zw1; /* participating zero padding, front / back */
    int ceil_mode;
} milnce_pool3d_cfg;

/* TF "SAME" as docs/design.md / the reference: pad_total = max(k - s, 0), front = total / 2, rest at
 * the back, zeros participate, ceil mode. */
milnce_pool3d_cfg milnce_pool3d_same(int kt, int kh, int kw, int st, int sh, int sw);
/* Plain PyTorch MaxPool3d(k, s, padding p), floor mode (Inception branch 3: k 3, s 1, p 1). */
milnce_pool3d_cfg milnce_pool3d_plain(int kt, int kh, int kw, int st, int sh, int sw, int pt,
                                      int ph, int pw);
int milnce_pool3d_out_dims(const milnce_pool3d_cfg *cfg, int T, int H, int W, int *To, int *Ho,
                           int *Wo);

/* out (B,C,To,Ho,Wo) written; argmax (B,C,To,Ho,Wo) index t*H*W + h*W + w into the (b,c) plane
 * of in, or -1 when a padded zero was the maximum; in (B,C,T,H,W). */
int milnce_maxpool3d_forward(float *out, int32_t *argmax, const float *in,
                             const milnce_pool3d_cfg *cfg, int B, int C, int T, int H, int W);
/* din (B,C,T,H,W) += dout routed to the argmax; dout, argmax (B,C,To,Ho,Wo). */
void milnce_maxpool3d_backward(float *din, const float *dout, const int32_t *argmax, int B, int C,
                               int To, int Ho, int Wo, int T, int H, int W);

/* ------------------------------------------------------------------------------------------ */
/* Linear (src/nn/linear.c): out = in w^T + b, as torch.nn.Linear.
 * out (N, OC) written; in (N, IC); w (OC, IC); b (OC) or NULL. prec: MILNCE_PREC_* of the
 * products (src/nn/gemm.h; the bias add is fp32). Returns 0, or MILNCE_ERR_UNSUPPORTED (bf16 on
 * a CPU without it) / MILNCE_ERR_NOMEM (bf16 packing scratch). */
int milnce_linear_forward(float *out, const float *in, const float *w, const float *b, int N,
                          int IC, int OC, int prec);
/* din (N, IC) +=, dw (OC, IC) +=, db (OC) +=; each may be NULL. Returns as forward. */
int milnce_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                           const float *w, int N, int IC, int OC, int prec);

/* ------------------------------------------------------------------------------------------ */
/* Activations (src/nn/activations.c). n elements; out may alias in (in-place). Backward reads the
 * forward OUTPUT, so it works after an in-place forward. din may alias dout. */
void milnce_relu_forward(float *out, const float *in, size_t n);
void milnce_relu_backward(float *din, const float *dout, const float *out, size_t n); /* += */
void milnce_sigmoid_forward(float *out, const float *in, size_t n);
void milnce_sigmoid_backward(float *din, const float *dout, const float *out, size_t n); /* += */

/* Self-gating (S3D-G): out = in * sigmoid(mean_P(in) w^T + b), the gate broadcast over P.
 * out (B,C,P) written (may not alias in); mean (B,C) and gate (B,C) written for backward;
 * in (B,C,P); w (C,C) (out,in); b (C). */
void milnce_selfgating_forward(float *out, float *mean, float *gate, const float *in,
                               const float *w, const float *b, int B, int C, int P);
/* din (B,C,P) +=, dw (C,C) +=, db (C) +=; each may be NULL.
 * ws milnce_selfgating_workspace_floats(B, C) floats. */
size_t milnce_selfgating_workspace_floats(int B, int C);
void milnce_selfgating_backward(float *din, float *dw, float *db, const float *dout,
                                const float *in, const float *mean, const float *gate,
                                const float *w, float *ws, int B, int C, int P);

/* ------------------------------------------------------------------------------------------ */
/* Tensor ops (src/nn/tensor_ops.c). */

/* Global average pool over T,H,W: out (B,C) = mean over P of in (B,C,P). */
void milnce_gap3d_forward(float *out, const float *in, int B, int C, int P);
void milnce_gap3d_backward(float *din, const float *dout, int B, int C, int P); /* din += */

/* Concatenation on channels: out (B, sum c[i], P) from ins[i] (B, c[i], P), i < n. */
void milnce_concat_channels_forward(float *out, const float *const *ins, const int *c, int n,
                                    int B, int P);
/* Split back: dins[i] (B, c[i], P) += the matching slice of dout; dins[i] NULL is skipped. */
void milnce_concat_channels_backward(float *const *dins, const float *dout, const int *c, int n,
                                     int B, int P);

/* Space-to-depth (the reference's stem): in (B,C,T,H,W) -> out (B, 8C, T/2, H/2, W/2) with
 * out[b, ((dt*2 + dh)*2 + dw)*C + c, t, h, w] = in[b, c, 2t+dt, 2h+dh, 2w+dw]: sub-position
 * (dt,dh,dw) outermost, channel innermost. T, H, W must be even (else MILNCE_ERR_INVALID). */
int milnce_space_to_depth_forward(float *out, const float *in, int B, int C, int T, int H, int W);
/* din (B,C,T,H,W) += the inverse permutation of dout (B,8C,T/2,H/2,W/2). */
int milnce_space_to_depth_backward(float *din, const float *dout, int B, int C, int T, int H,
                                   int W);

/* Crop: out (B,C,To,Ho,Wo) = in[:, :, t0:t0+To, h0:h0+Ho, w0:w0+Wo] with in (B,C,T,H,W)
 * (the space-to-depth stem drops index 0 of T, H, W: t0 = h0 = w0 = 1, To = T-1, ...).
 * MILNCE_ERR_RANGE if the window leaves the input. Backward: din += dout in the window. */
int milnce_crop3d_forward(float *out, const float *in, int B, int C, int T, int H, int W, int t0,
                          int h0, int w0, int To, int Ho, int Wo);
int milnce_crop3d_backward(float *din, const float *dout, int B, int C, int T, int H, int W,
                           int t0, int h0, int w0, int To, int Ho, int Wo);

/* Embedding lookup: out (N, D) row i = table[ids[i]] with table (V, D), ids (N) (N = B*L).
 * Every id, 0 included, reads its row (the reference's nn.Embedding has no padding_idx).
 * MILNCE_ERR_RANGE if an id is outside [0, V). */
int milnce_embedding_forward(float *out, const int32_t *ids, const float *table, int N, int V,
                             int D);
/* dtable (V, D) += dout rows scattered by id; rows whose id == padding_idx get nothing
 * (padding_idx -1: none, as the reference). dtable NULL = frozen table: nothing to do. */
void milnce_embedding_backward(float *dtable, const float *dout, const int32_t *ids,
                               int padding_idx, int N, int V, int D);

/* Max over words: out (B, D) = max over l < L of in (B, L, D); mask (B, L) (nonzero = word) or
 * NULL for all L positions (the reference). argmax (B, D) the winning l, first on ties; a row
 * whose mask is all zero gives out 0 and argmax -1. */
void milnce_maxwords_forward(float *out, int32_t *argmax, const float *in, const uint8_t *mask,
                             int B, int L, int D);
/* din (B, L, D) += dout (B, D) at the argmax. */
void milnce_maxwords_backward(float *din, const float *dout, const int32_t *argmax, int B, int L,
                              int D);

#endif
