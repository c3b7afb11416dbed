/* Optimizers and schedule against torch.optim (tests/reference/optim_ref.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "optim.h"
#include "params.h"
#include "testutil.h"

static float *load(const char *name, const char *what, size_t expect) {
    char fn[160];
    snprintf(fn, sizeof fn, "%s_%s.npy", name, what);
    float *d = NULL;
    int ndim;
    int64_t shape[8];
    milnce_error err = {0};
    ck_assert_msg(milnce_npy_read_f32(tu_fixture("optim", fn), &d, &ndim, shape, &err) == 0, "%s", err.msg);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    ck_assert_msg(n == expect, "%s: %zu values, expected %zu", fn, n, expect);
    return d;
}

/* Fixture vectors are w (3,5) then b (7) back to back; the block has a gap before b. */
static void scatter(float *block, const milnce_param_table *tab, const float *flat) {
    size_t at = 0;
    for (size_t t = 0; t < tab->n; t++) {
        memcpy(block + tab->t[t].offset, flat + at, tab->t[t].count * sizeof(float));
        at += tab->t[t].count;
    }
}

START_TEST(test_matches_torch) {
    milnce_param_table tab = {0};
    ck_assert_int_ge(milnce_params_add(&tab, "w", 2, (int64_t[]){3, 5}, NULL), 0);
    ck_assert_int_ge(milnce_params_add(&tab, "b", 1, (int64_t[]){7}, NULL), 0);
    ck_assert_int_eq(tab.total, 23); /* w at 0..14, gap at 15, b at 16..22 */
    FILE *f = fopen(tu_fixture("optim", "configs.txt"), "r");
    ck_assert_msg(f != NULL, "no fixture %s (run through ctest)", tu_fixture("optim", "configs.txt"));
    char name[64], kind[16];
    double lr, b1, b2, eps, wd, mom, clip, cyc;
    int nest;
    long long warm, total;
    int nconf = 0;
    double worst = 0;
    while (fscanf(f, "%63s %15s %lf %lf %lf %lf %lf %lf %d %lf %lld %lld %lf", name, kind, &lr, &b1, &b2,
                  &eps, &wd, &mom, &nest, &clip, &warm, &total, &cyc) == 13) {
        const int S = 8;
        float *p0 = load(name, "p0", 22), *grads = load(name, "grads", S * 22);
        float *want = load(name, "params", S * 22), *lrs = load(name, "lr", S);
        milnce_optim_config c = milnce_optim_defaults();
        c.kind = milnce_optim_kind_from_name(kind);
        c.lr = lr; c.beta1 = b1; c.beta2 = b2; c.eps = eps; c.weight_decay = wd;
        c.momentum = mom; c.nesterov = nest; c.clip_norm = clip;
        c.warmup_steps = warm; c.total_steps = total; c.num_cycles = cyc;
        milnce_optim o;
        milnce_error err = {0};
        ck_assert_msg(milnce_optim_init(&o, &c, tab.total, &err) == 0, "%s: %s", name, err.msg);
        float *p = milnce_params_alloc_block(&tab, NULL), *g = milnce_params_alloc_block(&tab, NULL);
        float *w = milnce_params_alloc_block(&tab, NULL);
        scatter(p, &tab, p0);
        for (int s = 0; s < S; s++) {
            scatter(g, &tab, grads + s * 22);
            double used;
            ck_assert_int_eq(milnce_optim_step(&o, p, g, &used, NULL, &err), 0);
            ck_assert_msg(fabs(used - lrs[s]) <= 1e-7 * fmax(lr, 1e-12) + 1e-12,
                          "%s step %d: lr %.9g, torch %.9g", name, s, used, lrs[s]);
            scatter(w, &tab, want + s * 22);
            double e = tu_rel_err(p, w, tab.total, 1e-3);
            worst = fmax(worst, e);
            ck_assert_msg(e <= 1e-5, "%s step %d: params rel err %g", name, s, e);
            ck_assert_float_eq(p[15], 0.0f); /* the alignment gap stays zero */
        }
        ck_assert_int_eq(o.step, S);
        milnce_optim_free(&o);
        free(p); free(g); free(w); free(p0); free(grads); free(want); free(lrs);
        nconf++;
    }
    fclose(f);
    ck_assert_int_ge(nconf, 7);
    printf("optim vs torch: %d configurations x 8 steps, worst params rel err %.2g\n", nconf, worst);
    milnce_params_free(&tab);
}
END_TEST

START_TEST(test_schedule_shape) {
    milnce_optim_config c = milnce_optim_defaults();
    c.lr = 1.0;
    ck_assert_double_eq(milnce_lr_at(&c, 0), 1.0); /* no warmup, no total: constant */
    ck_assert_double_eq(milnce_lr_at(&c, 1000), 1.0);
    c.warmup_steps = 4;
    c.total_steps = 14;
    ck_assert_double_eq(milnce_lr_at(&c, 0), 0.0);
    ck_assert_double_eq_tol(milnce_lr_at(&c, 2), 0.5, 1e-12);
    ck_assert_double_eq_tol(milnce_lr_at(&c, 4), 1.0, 1e-12);
    ck_assert_double_eq_tol(milnce_lr_at(&c, 9), 0.5, 1e-12);
    ck_assert_double_eq_tol(milnce_lr_at(&c, 14), 0.0, 1e-12);
    for (int t = 4; t < 14; t++) ck_assert(milnce_lr_at(&c, t + 1) < milnce_lr_at(&c, t));
}
END_TEST

START_TEST(test_clip_and_nan) {
    float g[4] = {3, 4, 0, 0};
    double n = milnce_clip_grad_norm(g, 4, 1.0);
    ck_assert_double_eq_tol(n, 5.0, 1e-12);
    ck_assert_double_eq_tol(milnce_grad_norm(g, 4), 1.0, 1e-5);
    float h[2] = {0.3f, 0.4f};
    milnce_clip_grad_norm(h, 2, 1.0); /* below the threshold: unchanged */
    ck_assert_float_eq(h[0], 0.3f);

    milnce_optim_config c = milnce_optim_defaults();
    milnce_optim o;
    milnce_error err = {0};
    ck_assert_int_eq(milnce_optim_init(&o, &c, 4, &err), 0);
    float p[4] = {1, 2, 3, 4}, gr[4] = {1, NAN, 0, 0};
    ck_assert_int_eq(milnce_optim_step(&o, p, gr, NULL, NULL, &err), MILNCE_ERR_NUMERIC);
    ck_assert_msg(strstr(err.msg, "gradient norm") != NULL, "%s", err.msg);
    ck_assert_float_eq(p[0], 1.0f);
    ck_assert_float_eq(o.m[0], 0.0f);
    ck_assert_int_eq(o.step, 0);
    milnce_optim_free(&o);
    milnce_optim_free(&o); /* idempotent */

    c.beta1 = 1.0;
    ck_assert_int_eq(milnce_optim_init(&o, &c, 4, &err), MILNCE_ERR_RANGE);
    c = milnce_optim_defaults();
    c.kind = MILNCE_OPTIM_SGD;
    c.nesterov = 1;
    ck_assert_int_eq(milnce_optim_init(&o, &c, 4, &err), MILNCE_ERR_RANGE);
    c.nesterov = 0; /* plain SGD: no moments at all */
    ck_assert_int_eq(milnce_optim_init(&o, &c, 4, &err), 0);
    ck_assert_ptr_null(o.m);
    ck_assert_ptr_null(o.v);
    milnce_optim_free(&o);
    ck_assert_int_eq(milnce_optim_kind_from_name("adamw"), MILNCE_OPTIM_ADAMW);
    ck_assert_int_eq(milnce_optim_kind_from_name("lion"), -1);
    ck_assert_str_eq(milnce_optim_kind_name(MILNCE_OPTIM_SGD), "sgd");
}
END_TEST

/* A frozen range (word vectors loaded from word2vec) never moves, even under weight decay,
 * and the rest updates exactly as without it. */
START_TEST(test_frozen_range) {
    static const milnce_optim_kind kinds[] = {MILNCE_OPTIM_ADAM, MILNCE_OPTIM_ADAMW, MILNCE_OPTIM_SGD};
    for (int k = 0; k < 3; k++) {
        enum { N = 100 };
        float pa[N], pb[N], g[N], g2[N];
        for (int i = 0; i < N; i++) {
            pa[i] = pb[i] = 0.01f * (float)(i - 50);
            g[i] = g2[i] = 0.1f * (float)((i * 7) % 13 - 6);
        }
        milnce_optim_config c = milnce_optim_defaults();
        c.kind = kinds[k];
        c.weight_decay = 0.1;
        c.momentum = kinds[k] == MILNCE_OPTIM_SGD ? 0.9 : 0;
        milnce_optim a, b;
        milnce_error err = {0};
        ck_assert_int_eq(milnce_optim_init(&a, &c, N, &err), 0);
        ck_assert_int_eq(milnce_optim_init(&b, &c, N, &err), 0);
        b.frozen_begin = 20;
        b.frozen_end = 60;
        for (int s = 0; s < 3; s++) {
            ck_assert_int_eq(milnce_optim_step(&a, pa, g, NULL, NULL, &err), 0);
            ck_assert_int_eq(milnce_optim_step(&b, pb, g2, NULL, NULL, &err), 0);
        }
        for (int i = 0; i < N; i++) {
            if (i >= 20 && i < 60) ck_assert_float_eq(pb[i], 0.01f * (float)(i - 50));
            else ck_assert_float_eq(pb[i], pa[i]);
        }
        ck_assert(pa[30] != 0.01f * (float)(30 - 50)); /* without the freeze it would have moved */
        milnce_optim_free(&a);
        milnce_optim_free(&b);
    }
}
END_TEST

int main(int argc, char **argv) {
    tu_need_fixtures("optim");
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, test_matches_torch);
    tcase_add_test(tc, test_schedule_shape);
    tcase_add_test(tc, test_clip_and_nan);
    tcase_add_test(tc, test_frozen_range);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
