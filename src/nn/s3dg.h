/* The video encoder: S3D-G (Xie et al. 2018) as used by MIL-NCE, and its small CPU variants.
 *
 * Legend: B batch, T frames, H height, W width, C channels, E embedding width (512),
 * F = feature width of mixed_5c (1024 * width).
 * Input clip (B, 3, T, H, W) RGB in [0, 1]; outputs the embedding (B, E) = fc(mean over T,H,W of
 * mixed_5c) and the pooled mixed_5c feature (B, F).
 *
 * The encoder declares its tensors into caller-owned tables (parameters and BatchNorm running
 * statistics), named as the PyTorch reference (`conv1.conv1.weight`, `mixed_3b.conv_b1_b.bn2.
 * running_mean`, `gating.fc.weight`, `fc.bias`, ...), and reads and writes the blocks those tables
 * cut, passed to every call: one model (src/nn/model.h) holds one block each for parameters,
 * gradients and buffers. The encoder owns the activations and scratch of one batch (its
 * context), so forward keeps what backward needs and two encoders never share state. */
#ifndef MILNCE_S3DG_H
#define MILNCE_S3DG_H

#include <stddef.h>

#include "error.h"
#include "params.h"

typedef struct milnce_s3dg_cfg {
    float width;        /* channel multiplier: c -> max(1, floor(c * width + 0.5)); 1 = S3D-G */
    int space_to_depth; /* 1: the released model's stem (2x2x2 -> 24 channels, conv (2,4,4));
                           T, H, W even. 0: conv (3,7,7) stride 2 (MIL-NCE training default) */
    int n3, n4, n5;     /* Inception blocks per stage, full 2, 5, 2: a stage with n blocks keeps
                           its first n-1 and its last (so every stage keeps its output width) */
    int emb_dim;        /* E, 512 */
    int T, H, W;        /* input clip size */
    int max_batch;      /* largest B of a forward call (activations are sized for it) */
    int threads;        /* OpenMP threads of forward and backward; 0 = the creating thread's
                           omp_get_max_threads() (resolved at create, milnce_s3dg_get_cfg) */
    int blas_single;    /* 1: OpenBLAS single-threaded during each pass, its count restored
                           after (process-wide: milnce_ctx.blas_single_passes) */
    int precision;      /* MILNCE_PREC_* of the convolutions and the final linear layer
                           (src/nn/gemm.h; milnce_ctx.precision); BatchNorm, gating, pooling
                           and every stored tensor stay fp32 */
} milnce_s3dg_cfg;

/* Full S3D-G, no space-to-depth stem, 16 x 224 x 224, E 512, max_batch 1, threads 0. */
milnce_s3dg_cfg milnce_s3dg_default_cfg(void);

typedef struct milnce_s3dg milnce_s3dg;

/* Checks cfg, appends the encoder's tensors to params and buffers (names get `prefix` in front,
 * "" for the reference layout) and allocates the activations of max_batch clips. Gradient
 * buffers of the activations are allocated at the first backward call (inference needs none). */
int milnce_s3dg_create(milnce_s3dg **out, const milnce_s3dg_cfg *cfg, const char *prefix,
                       milnce_param_table *params, milnce_param_table *buffers, milnce_error *err);
void milnce_s3dg_free(milnce_s3dg **s);

const milnce_s3dg_cfg *milnce_s3dg_get_cfg(const milnce_s3dg *s);
/* Synchronised BatchNorm (layers.h): train-mode statistics over every rank's clips from now on
 * (sync must outlive the calls); NULL = per batch, as the reference. */
struct milnce_bn_sync;
void milnce_s3dg_set_bn_sync(milnce_s3dg *s, const struct milnce_bn_sync *sync);
int milnce_s3dg_feat_dim(const milnce_s3dg *s); /* F */
/* Floats of activations (and of their gradients, when allocated) held by the context. */
size_t milnce_s3dg_activation_floats(const milnce_s3dg *s);

/* Threads: the layers run on cfg.threads OpenMP threads, one single-threaded GEMM per work unit,
 * when OpenBLAS is single-threaded (include/milnce/context.h). Unless cfg.blas_single, nothing
 * process-wide is changed: two encoders can run in two threads at once.
 *
 * Forward of B <= max_batch clips. train != 0: BatchNorm uses batch statistics and updates the
 * running statistics in `buffers`; train == 0: running statistics.
 * params, buffers: blocks cut by the tables given to create; clip (B, 3, T, H, W).
 * emb (B, E) and mix (B, F) may be NULL; they point into the context (valid until the next
 * forward) when given. */
int milnce_s3dg_forward(milnce_s3dg *s, const float *params, float *buffers, const float *clip,
                        int B, int train, const float **emb, const float **mix, milnce_error *err);

/* Backward of the last forward: grads (block cut by the parameter table) += d loss / d param,
 * for upstream gradients d_emb (B, E) and d_mix (B, F), either may be NULL (zero). */
int milnce_s3dg_backward(milnce_s3dg *s, const float *params, float *grads, const float *d_emb,
                         const float *d_mix, milnce_error *err);

/* Seconds spent in the last forward/backward per operation kind, for the benchmark:
 * kinds "conv", "bn_relu", "pool", "gate", "other". Returns the number filled (<= max). */
typedef struct milnce_s3dg_timing {
    const char *kind;
    double fwd_s, bwd_s;
    double gflop; /* forward multiply-adds x 2 / 1e9 of that kind (conv only) */
} milnce_s3dg_timing;
int milnce_s3dg_timings(const milnce_s3dg *s, milnce_s3dg_timing *out, int max);

#endif
