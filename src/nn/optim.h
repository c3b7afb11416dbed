/* Optimizers over one flat parameter block, the learning-rate schedule and gradient clipping.
 *
 * n = milnce_param_table.total floats: parameters, gradients and each moment block are cut by
 * the same table, so one loop over n updates every tensor (alignment gaps between tensors hold
 * zeros in all blocks and stay zero). Semantics follow PyTorch 1.13:
 *   Adam:  g += wd * p (L2, torch.optim.Adam); m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *          p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *   AdamW: p *= 1 - lr * wd first (decoupled), then Adam without the L2 term.
 *   SGD:   g += wd * p; buf = mu buf + g (dampening 0; buf = g on the first step);
 *          p -= lr * (nesterov ? g + mu buf : buf)
 * Schedule (the reference's get_cosine_schedule_with_warmup, stepped once per iteration after
 * the optimizer step): at update t = 0, 1, ... lr_t = lr * f(t) with
 *   f(t) = t / max(1, W)                                   for t < W
 *        = max(0, 0.5 (1 + cos(pi * 2 c * (t - W) / max(1, N - W))))   otherwise,
 * W = warmup_steps, N = total_steps, c = num_cycles (0.5). The first update thus has lr 0 when
 * W > 0, exactly as the reference. */
#ifndef MILNCE_OPTIM_H
#define MILNCE_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum { MILNCE_OPTIM_ADAM = 0, MILNCE_OPTIM_ADAMW = 1, MILNCE_OPTIM_SGD = 2 } milnce_optim_kind;

typedef struct milnce_optim_config {
    milnce_optim_kind kind;
    double lr;           /* base learning rate (reference: 1e-3) */
    double beta1, beta2; /* Adam: 0.9, 0.999 */
    double eps;          /* Adam: 1e-8, added after the square root */
    double weight_decay; /* L2 (Adam, SGD) or decoupled (AdamW); 0 = off */
    double momentum;     /* SGD; 0 = plain SGD */
    int nesterov;        /* SGD; needs momentum > 0 */
    double clip_norm;    /* global-norm clipping threshold; <= 0 = off */
    int64_t warmup_steps, total_steps; /* schedule; total_steps <= 0 = constant lr after warmup */
    double num_cycles;   /* cosine cycles (reference: 0.5, a half cosine down to 0) */
} milnce_optim_config;

/* Reference defaults: Adam, lr 1e-3, betas (0.9, 0.999), eps 1e-8, no decay, no clipping,
 * no warmup, constant lr (set warmup_steps/total_steps for the schedule), num_cycles 0.5. */
milnce_optim_config milnce_optim_defaults(void);

typedef struct milnce_optim {
    milnce_optim_config cfg;
    size_t n;     /* floats in each block */
    float *m;     /* (n) Adam first moment / SGD momentum buffer; NULL for plain SGD */
    float *v;     /* (n) Adam second moment; NULL for SGD */
    int64_t step; /* updates done so far (the schedule's t, Adam's t - 1) */
    size_t frozen_begin, frozen_end; /* floats [begin, end) are never updated (frozen word
                                        vectors: weight decay would move them); 0, 0 = none */
} milnce_optim;

/* Validates cfg and allocates zeroed 64-byte aligned moments for n floats. */
int milnce_optim_init(milnce_optim *o, const milnce_optim_config *cfg, size_t n, milnce_error *err);
void milnce_optim_free(milnce_optim *o);

/* lr_t of the schedule above at update t. */
double milnce_lr_at(const milnce_optim_config *cfg, int64_t t);

/* sqrt(sum g^2) over n floats, accumulated in double. */
double milnce_grad_norm(const float *g, size_t n);
/* torch.nn.utils.clip_grad_norm_: g *= min(1, max_norm / (norm + 1e-6)). Returns the norm
 * before clipping. */
double milnce_clip_grad_norm(float *g, size_t n, double max_norm);

/* One update of params (n) from grads (n): clips grads in place when cfg.clip_norm > 0, takes
 * lr = milnce_lr_at(cfg, step), updates params and moments, step++. A non-finite gradient norm
 * returns MILNCE_ERR_NUMERIC and changes nothing (params, moments and step stay as they were).
 * lr_used and grad_norm (before clipping) may be NULL. Grads must already be the sum over ranks. */
int milnce_optim_step(milnce_optim *o, float *params, float *grads, double *lr_used,
                      double *grad_norm, milnce_error *err);

/* "adam" / "adamw" / "sgd" <-> kind; -1 / NULL for an unknown one. */
int milnce_optim_kind_from_name(const char *name);
const char *milnce_optim_kind_name(milnce_optim_kind kind);

#endif
