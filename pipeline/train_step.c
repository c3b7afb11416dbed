/* One training step (pipeline/train_step.h). */
#include "train_step.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bag_concat.h"

milnce_loss_opts milnce_train_loss_opts(const char *loss, double temperature, int normalize) {
    milnce_loss_opts l = {.temperature = (float)temperature, .normalize = normalize,
                          .bag = strcmp(loss, "max") == 0 ? MILNCE_BAG_MAX : MILNCE_BAG_MILNCE};
    return l;
}

int milnce_train_stepper_init(milnce_train_stepper *s, milnce_model *m, milnce_optim *opt, const milnce_dist *d,
                              int B, int K, int L, int cat, int train_bn, const milnce_loss_opts *lopt,
                              milnce_error *err) {
    memset(s, 0, sizeof *s);
    s->m = m;
    s->opt = opt;
    s->d = d;
    s->B = B;
    s->Bg = B * d->world;
    s->K = K;
    s->cat = cat;
    s->Kl = cat ? 1 : K;
    s->L = L;
    s->E = m->cfg.text.emb_dim;
    s->train_bn = train_bn;
    s->lopt = *lopt;
    size_t E = (size_t)s->E, Bg = (size_t)s->Bg, b = (size_t)B, Kl = (size_t)s->Kl;
    s->Vg = malloc(sizeof *s->Vg * Bg * E);
    s->Tg = malloc(sizeof *s->Tg * Bg * Kl * E);
    s->dV = malloc(sizeof *s->dV * b * E);
    s->dT = malloc(sizeof *s->dT * b * Kl * E);
    s->maskg = malloc(Bg * (size_t)K);
    if (cat) s->cat_ids = malloc(sizeof *s->cat_ids * b * (size_t)K * (size_t)L);
    if (!s->Vg || !s->Tg || !s->dV || !s->dT || !s->maskg || (cat && !s->cat_ids)) {
        milnce_train_stepper_free(s);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "embeddings");
    }
    return 0;
}

void milnce_train_stepper_free(milnce_train_stepper *s) {
    free(s->Vg); free(s->Tg); free(s->dV); free(s->dT); free(s->maskg); free(s->cat_ids);
    s->Vg = s->Tg = s->dV = s->dT = NULL;
    s->maskg = NULL;
    s->cat_ids = NULL;
}

/* Encoders on this rank's clips and sentences, embeddings of every rank gathered. */
static int forward(milnce_train_stepper *s, const milnce_batch *b, milnce_error *err) {
    const milnce_dist *d = s->d;
    const float *V, *T;
    size_t B = (size_t)s->B, E = (size_t)s->E;
    int ret;
    if (s->cat) milnce_bag_concat_tokens(s->cat_ids, b->text, b->mask, s->B, s->K, b->L, s->K * b->L, NULL);
    if ((ret = milnce_model_video_forward(s->m, b->video, s->B, s->train_bn, &V, NULL, err)) < 0 ||
        (ret = milnce_model_text_forward(s->m, s->cat ? s->cat_ids : b->text, s->B * s->Kl, &T, err)) < 0 ||
        (ret = milnce_dist_allgather_f32(d, V, s->Vg, B * E, err)) < 0 ||
        (ret = milnce_dist_allgather_f32(d, T, s->Tg, B * (size_t)s->Kl * E, err)) < 0)
        return ret;
    return milnce_dist_allgather_u8(d, b->mask, s->maskg, B * (size_t)s->K, err);
}

int milnce_train_step(milnce_train_stepper *s, const milnce_batch *b, int64_t step, int nan_loss, float *loss,
                      double *lr, double *grad_norm, milnce_error *err) {
    milnce_model *m = s->m;
    size_t B = (size_t)s->B, E = (size_t)s->E;
    if (b->B != s->B || b->K != s->K || b->L > s->L)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "step %lld: batch of (B %d, K %d, L %d), the step expects (%d, %d, <= %d)",
                                (long long)(step + 1), b->B, b->K, b->L, s->B, s->K, s->L);
    milnce_model_zero_grad(m);
    int ret = forward(s, b, err);
    if (ret < 0) return ret;
    memset(s->dV, 0, sizeof *s->dV * B * E);
    memset(s->dT, 0, sizeof *s->dT * B * (size_t)s->Kl * E);
    ret = milnce_loss_forward_backward(loss, s->dV, s->dT, s->Vg, s->Tg, s->cat ? NULL : s->maskg, s->Bg, s->Kl, s->E,
                                       s->d->rank * s->B, s->B, &s->lopt, err);
    if (ret < 0) return milnce_error_prefix(err, "step %lld", (long long)(step + 1));
    if (nan_loss) *loss = NAN;
    if (!isfinite(*loss))
        return milnce_error_set(err, MILNCE_ERR_NUMERIC, "step %lld: loss is %g; stopping (the last good checkpoint is kept)",
                                (long long)(step + 1), *loss);
    /* The encoders' backward reads the clip and the word ids they were given: b stays the
     * caller's until this returns. */
    if ((ret = milnce_model_text_backward(m, s->dT, err)) < 0 || (ret = milnce_model_video_backward(m, s->dV, NULL, err)) < 0)
        return ret;
    if ((ret = milnce_dist_allreduce_sum_f32(s->d, m->grads, m->ptab.total, err)) < 0) return ret;
    double lr_, gn_;
    if ((ret = milnce_optim_step(s->opt, m->params, m->grads, &lr_, &gn_, err)) < 0)
        return milnce_error_prefix(err, "step %lld: non-finite gradient; stopping (the last good checkpoint is kept)",
                                   (long long)(step + 1));
    if (lr) *lr = lr_;
    if (grad_norm) *grad_norm = gn_;
    return 0;
}
