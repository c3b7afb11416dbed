/* The joint model: the video encoder (src/nn/s3dg.h) and the text encoder (src/nn/text_model.h) with
 * one parameter table and block, one gradient block and one buffer table and block (BatchNorm
 * running statistics), named as the PyTorch reference's state_dict:
 *   video  `conv1.conv1.weight`, `conv1.bn1.running_mean`, ..., `mixed_5c.gating_b3.fc.bias`,
 *          `fc.weight`, `fc.bias`
 *   text   `text_module.word_embd.weight`, `text_module.fc1.weight`, ..., `text_module.fc2.bias`
 * (PyTorch's `num_batches_tracked` counters are not kept: with momentum 0.1 nothing reads them).
 * The optimizer walks params/grads as flat arrays of ptab.total floats; a checkpoint walks the
 * tables. */
#ifndef MILNCE_MODEL_H
#define MILNCE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "milnce/context.h"
#include "params.h"
#include "s3dg.h"
#include "text_model.h"

typedef struct milnce_model_cfg {
    int with_video, with_text; /* either encoder may be left out (embedding one modality) */
    milnce_s3dg_cfg video;     /* video.threads and video.blas_single are taken from ctx */
    milnce_text_cfg text;
    milnce_ctx ctx;            /* the model uses ctx.threads (OpenMP threads of every forward
                                  and backward, 0 = the creating thread's omp_get_max_threads())
                                  and ctx.blas_single_passes */
} milnce_model_cfg;

/* Both encoders at their defaults (full S3D-G 16x224x224, released text module). */
milnce_model_cfg milnce_model_default_cfg(void);

typedef struct milnce_model {
    milnce_model_cfg cfg;
    milnce_param_table ptab; /* trainable tensors */
    milnce_param_table btab; /* BatchNorm running statistics */
    float *params;           /* (ptab.total) */
    float *grads;            /* (ptab.total), accumulated by the backward calls */
    float *buffers;          /* (btab.total) */
    milnce_s3dg *video;      /* NULL without video */
    milnce_text *text;       /* NULL without text */
    int threads;             /* cfg.ctx.threads resolved at create */
} milnce_model;

/* Builds the tables, allocates the zeroed blocks and both encoders' contexts. Two models work
 * in two threads at once with the results each gives alone (nothing process-wide changes). */
int milnce_model_create(milnce_model **out, const milnce_model_cfg *cfg, milnce_error *err);
void milnce_model_free(milnce_model **m);

/* Deterministic initialisation from seed, identical to tests/reference/model_ref.py (every value
 * depends only on seed, the tensor's name and the element index, so encoders of any size or
 * subset agree): conv weights He-uniform +-sqrt(6 / fan_in), linear weights and biases
 * +-1/sqrt(in) (biases +-1/sqrt(len)), BatchNorm gamma 1 +- 0.1, beta +- 0.1, running mean
 * +- 0.1, running var 1 +- 0.5, word table +-1. */
void milnce_model_init(milnce_model *m, uint64_t seed);
/* The same rule for one tensor: out (desc->count) floats. */
void milnce_gen_tensor(uint64_t seed, const milnce_tensor_desc *desc, float *out);
/* n values in [0, 1) (24-bit resolution) from (seed, name, element index), as the reference's
 * uniform01(): splitmix64 of ((seed * golden) ^ fnv1a64(name)) + index. */
void milnce_gen_uniform(uint64_t seed, const char *name, size_t n, float *out);

/* Pointer to the named tensor in the parameter block (or the buffer block), or NULL;
 * *desc (may be NULL) its shape. */
float *milnce_model_tensor(milnce_model *m, const char *name, const milnce_tensor_desc **desc);
/* Pointer to the gradient of a parameter, or NULL. */
float *milnce_model_grad(milnce_model *m, const char *name);

void milnce_model_zero_grad(milnce_model *m);

/* Video: clip (B, 3, T, H, W); *emb (B, E), *mix (B, F) point into the encoder's context. */
int milnce_model_video_forward(milnce_model *m, const float *clip, int B, int train,
                               const float **emb, const float **mix, milnce_error *err);
/* grads += for upstream d_emb (B, E), d_mix (B, F) (NULL = zero). */
int milnce_model_video_backward(milnce_model *m, const float *d_emb, const float *d_mix,
                                milnce_error *err);
/* Text: ids (B, L); *out (B, E). */
int milnce_model_text_forward(milnce_model *m, const int32_t *ids, int B, const float **out,
                              milnce_error *err);
int milnce_model_text_backward(milnce_model *m, const float *d_out, milnce_error *err);

#endif
