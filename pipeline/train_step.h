/* One training step of `milnce train`: forward of both encoders on this rank's part of the
 * batch -> embeddings gathered over the ranks -> the loss of train.loss (milnce | max | cat) on
 * the global batch, gradients for this rank's rows -> backward of both encoders -> gradients
 * summed over the ranks -> optimizer update.
 *
 * Legend: B clips per rank, Bg = B * world clips per step, K sentences per bag
 * (milnce_window_bag_size), Kl = 1 with train.loss cat (a bag's sentences joined into one of
 * K * L words) else K, E = model.embed_dim, L words per sentence. */
#ifndef MILNCE_TRAIN_STEP_H
#define MILNCE_TRAIN_STEP_H

#include <stdint.h>

#include "dist.h"
#include "error.h"
#include "loader.h"
#include "loss.h"
#include "model.h"
#include "optim.h"

typedef struct milnce_train_stepper {
    milnce_model *m;           /* not owned: the model being trained */
    milnce_optim *opt;         /* not owned */
    const milnce_dist *d;      /* not owned; never NULL */
    int B, Bg, K, Kl, E, L;    /* see the legend; L = data.max_words */
    int cat;                   /* train.loss cat with K > 1 */
    int train_bn;              /* BatchNorm in training mode (not train.freeze_bn) */
    milnce_loss_opts lopt;
    float *Vg, *Tg;            /* (Bg, E), (Bg, Kl, E) gathered embeddings */
    float *dV, *dT;            /* (B, E), (B, Kl, E) loss gradients of this rank's rows */
    uint8_t *maskg;            /* (Bg, K) */
    int32_t *cat_ids;          /* (B, K * L) with cat, else NULL */
} milnce_train_stepper;

/* The loss rule of a train.loss value ("milnce", "max", "cat"; cat scores bags of one, i.e. as
 * milnce) with the train.temperature / train.normalize given. */
milnce_loss_opts milnce_train_loss_opts(const char *loss, double temperature, int normalize);

/* Buffers for steps of B clips per rank; the model must take text batches of B * Kl and
 * (with cat) K * L words. MILNCE_ERR_NOMEM. */
int milnce_train_stepper_init(milnce_train_stepper *s, milnce_model *m, milnce_optim *opt, const milnce_dist *d,
                              int B, int K, int L, int cat, int train_bn, const milnce_loss_opts *lopt,
                              milnce_error *err);
void milnce_train_stepper_free(milnce_train_stepper *s);

/* One step on batch b (B clips, b->K == K, b->L <= L); the batch is only read, the caller
 * releases it afterwards. step: 0-based global step (messages name step + 1). nan_loss: tests,
 * make the loss NaN. *loss: the global batch's mean loss; *lr, *grad_norm (may be NULL): the
 * optimizer's lr and gradient norm before clipping. A non-finite loss or gradient is
 * MILNCE_ERR_NUMERIC (the parameters are then unchanged if it was the gradient). */
int milnce_train_step(milnce_train_stepper *s, const milnce_batch *b, int64_t step, int nan_loss, float *loss,
                      double *lr, double *grad_norm, milnce_error *err);

#endif
