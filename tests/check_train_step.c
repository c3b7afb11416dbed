/* milnce_train_step (pipeline/train_step.h) against the same step composed by hand from the
 * layer calls: model forward of both encoders, the loss of each train.loss rule, backward,
 * optimizer update. Loss and every parameter after the step must agree bit for bit (the step
 * adds nothing on one rank: the gathers and the all-reduce are copies). Also: the step moves
 * the parameters, a NaN loss stops it before any change, a batch of the wrong shape is refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bag_concat.h"
#include "config.h"
#include "loss.h"
#include "model.h"
#include "optim.h"
#include "run_model.h"
#include "train_step.h"
#include "testutil.h"

enum { B = 2, K = 3, L = 4, T = 8, S = 32, VOCAB = 12 };

static const milnce_dist solo = {0, 1, 0};

/* A tiny model for rule `loss` (cat: text sentences of K * L words, batches of B). */
static milnce_model *tiny_model(int cat) {
    milnce_config cfg;
    milnce_config_defaults(&cfg);
    static const char *sets[] = {"model.width=0.125", "model.blocks3=1", "model.blocks4=1", "model.blocks5=1",
                                 "model.embed_dim=16", "model.word_dim=8", "model.text_hidden=24",
                                 "data.num_frames=8", "data.size=32", "data.max_words=4", NULL};
    milnce_error err = {0};
    for (int i = 0; sets[i]; i++) ck_assert_msg(milnce_config_set(&cfg, sets[i], &err) == 0, "%s", err.msg);
    milnce_model_cfg mc;
    milnce_model_cfg_from_config(&cfg, VOCAB, cat ? B : B * K, &mc);
    if (cat) mc.text.max_words = K * L;
    mc.video.max_batch = B;
    milnce_model *m;
    ck_assert_msg(milnce_model_create(&m, &mc, &err) == 0, "%s", err.msg);
    milnce_model_init(m, 11);
    return m;
}

static void tiny_optim(milnce_optim *o, size_t n) {
    milnce_optim_config oc = milnce_optim_defaults();
    oc.kind = MILNCE_OPTIM_ADAM;
    oc.lr = 1e-2;
    oc.weight_decay = 1e-4;
    oc.clip_norm = 1.0;
    oc.total_steps = 10;
    milnce_error err = {0};
    ck_assert_msg(milnce_optim_init(o, &oc, n, &err) == 0, "%s", err.msg);
}

/* A hand-made batch: clips from a fixed LCG in [0, 1), word ids 1..VOCAB-1 with padding, the last
 * bag's last candidate masked out. */
static void make_batch(milnce_batch *b) {
    memset(b, 0, sizeof *b);
    b->B = B; b->K = K; b->T = T; b->S = S; b->L = L;
    size_t nv = (size_t)B * 3 * T * S * S;
    b->video = malloc(nv * sizeof *b->video);
    b->text = calloc((size_t)B * K * L, sizeof *b->text);
    b->mask = malloc((size_t)B * K);
    ck_assert(b->video && b->text && b->mask);
    uint32_t x = 12345;
    for (size_t i = 0; i < nv; i++) {
        x = x * 1664525u + 1013904223u;
        b->video[i] = (float)(x >> 8) / (float)(1 << 24);
    }
    for (int i = 0; i < B * K; i++) {
        int words = 1 + i % L; /* 1..L words, the rest padding */
        for (int w = 0; w < words; w++) b->text[i * L + w] = 1 + (i * 5 + w * 3) % (VOCAB - 1);
        b->mask[i] = 1;
    }
    b->mask[B * K - 1] = 0;
}

static void free_batch(milnce_batch *b) {
    free(b->video); free(b->text); free(b->mask);
}

/* The step written out from the layer calls (one rank: Vg = V, Tg = T, no all-reduce). */
static float hand_step(milnce_model *m, milnce_optim *o, const milnce_batch *b, int cat, const milnce_loss_opts *lo) {
    milnce_error err = {0};
    int Kl = cat ? 1 : K;
    int32_t ids[B * K * L];
    if (cat) ck_assert_int_ge(milnce_bag_concat_tokens(ids, b->text, b->mask, B, K, L, K * L, NULL), 0);
    milnce_model_zero_grad(m);
    const float *V, *Tx;
    ck_assert_msg(milnce_model_video_forward(m, b->video, B, 1, &V, NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(milnce_model_text_forward(m, cat ? ids : b->text, B * Kl, &Tx, &err) == 0, "%s", err.msg);
    int E = m->cfg.text.emb_dim;
    float *dV = calloc((size_t)B * E, sizeof *dV), *dT = calloc((size_t)B * Kl * E, sizeof *dT), loss;
    ck_assert_msg(milnce_loss_forward_backward(&loss, dV, dT, V, Tx, cat ? NULL : b->mask, B, Kl, E, 0, B, lo, &err) == 0, "%s", err.msg);
    ck_assert_msg(milnce_model_text_backward(m, dT, &err) == 0, "%s", err.msg);
    ck_assert_msg(milnce_model_video_backward(m, dV, NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(milnce_optim_step(o, m->params, m->grads, NULL, NULL, &err) == 0, "%s", err.msg);
    free(dV);
    free(dT);
    return loss;
}

static const char *const rules[] = {"milnce", "max", "cat"};

START_TEST(step_equals_hand_composition) {
    const char *rule = rules[_i];
    int cat = strcmp(rule, "cat") == 0;
    milnce_loss_opts lo = milnce_train_loss_opts(rule, 0.7, 0);
    ck_assert_int_eq(lo.bag, strcmp(rule, "max") == 0 ? MILNCE_BAG_MAX : MILNCE_BAG_MILNCE);
    milnce_model *a = tiny_model(cat), *h = tiny_model(cat);
    ck_assert_int_eq(memcmp(a->params, h->params, a->ptab.total * sizeof *a->params), 0);
    float *before = malloc(a->ptab.total * sizeof *before);
    memcpy(before, a->params, a->ptab.total * sizeof *before);
    milnce_optim oa = {0}, oh = {0};
    tiny_optim(&oa, a->ptab.total);
    tiny_optim(&oh, h->ptab.total);
    milnce_batch b;
    make_batch(&b);
    milnce_train_stepper st;
    milnce_error err = {0};
    ck_assert_msg(milnce_train_stepper_init(&st, a, &oa, &solo, B, K, L, cat, 1, &lo, &err) == 0, "%s", err.msg);
    for (int step = 0; step < 2; step++) { /* the second step sees the first's moments */
        float la, lh;
        double lr, gn;
        ck_assert_msg(milnce_train_step(&st, &b, step, 0, &la, &lr, &gn, &err) == 0, "%s", err.msg);
        lh = hand_step(h, &oh, &b, cat, &lo);
        ck_assert_msg(isfinite(la) && la > 0, "%s: loss %g", rule, la);
        ck_assert_msg(memcmp(&la, &lh, sizeof la) == 0, "%s step %d: loss %.9g, by hand %.9g", rule, step, la, lh);
        ck_assert_msg(isfinite(gn) && gn > 0, "grad norm %g", gn);
        size_t diff = 0;
        for (size_t i = 0; i < a->ptab.total; i++) diff += memcmp(&a->params[i], &h->params[i], sizeof(float)) != 0;
        ck_assert_msg(diff == 0, "%s step %d: %zu of %zu parameters differ from the hand-composed step", rule, step, diff, a->ptab.total);
    }
    size_t moved = 0;
    for (size_t i = 0; i < a->ptab.total; i++) moved += a->params[i] != before[i];
    ck_assert_msg(moved > a->ptab.total / 2, "%s: only %zu of %zu parameters moved", rule, moved, a->ptab.total);
    ck_assert_int_eq(oa.step, 2);
    milnce_train_stepper_free(&st);
    free_batch(&b);
    free(before);
    milnce_optim_free(&oa);
    milnce_optim_free(&oh);
    milnce_model_free(&a);
    milnce_model_free(&h);
}
END_TEST

START_TEST(nan_loss_changes_nothing) {
    milnce_model *a = tiny_model(0);
    float *before = malloc(a->ptab.total * sizeof *before);
    memcpy(before, a->params, a->ptab.total * sizeof *before);
    milnce_optim oa = {0};
    tiny_optim(&oa, a->ptab.total);
    milnce_batch b;
    make_batch(&b);
    milnce_loss_opts lo = milnce_train_loss_opts("milnce", 1.0, 0);
    milnce_train_stepper st;
    milnce_error err = {0};
    ck_assert_int_eq(milnce_train_stepper_init(&st, a, &oa, &solo, B, K, L, 0, 1, &lo, &err), 0);
    float loss = 0;
    ck_assert_int_eq(milnce_train_step(&st, &b, 6, 1, &loss, NULL, NULL, &err), MILNCE_ERR_NUMERIC);
    ck_assert_msg(strstr(err.msg, "step 7") != NULL, "%s", err.msg);
    ck_assert_int_eq(memcmp(before, a->params, a->ptab.total * sizeof *before), 0);
    ck_assert_int_eq(oa.step, 0);
    /* a batch of another bag size is refused before any work */
    b.K = K - 1;
    milnce_error_clear(&err);
    ck_assert_int_eq(milnce_train_step(&st, &b, 0, 0, &loss, NULL, NULL, &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(memcmp(before, a->params, a->ptab.total * sizeof *before), 0);
    b.K = K;
    milnce_train_stepper_free(&st);
    free_batch(&b);
    free(before);
    milnce_optim_free(&oa);
    milnce_model_free(&a);
}
END_TEST

int main(int argc, char **argv) {
    Suite *s = suite_create("train_step");
    TCase *tc = tcase_create("step");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, step_equals_hand_composition, 0, 3);
    tcase_add_test(tc, nan_loss_changes_nothing);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
