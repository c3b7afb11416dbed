/* MIL-NCE loss: against tests/reference/loss_ref.py (PyTorch autograd, float64), finite
 * differences of a naive double-precision loss, and the global-batch slice property; the same
 * for the Max+NCE bag rule, and the Cat+NCE word joining against the reference's lists. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bag_concat.h"
#include "loss.h"
#include "npy.h"
#include "rng.h"
#include "testutil.h"

typedef struct {
    char name[64];
    int B, K, D, normalize;
    float temperature;
    float *V, *T, *dV, *dT;
    uint8_t *mask;
    double loss;
} lcase;

static float *load_f32(const char *mod, const char *c, const char *what, size_t expect) {
    char fn[160];
    snprintf(fn, sizeof fn, "%s_%s.npy", c, what);
    float *d = NULL;
    int ndim;
    int64_t shape[8];
    milnce_error err = {0};
    int rc = milnce_npy_read_f32(tu_fixture(mod, fn), &d, &ndim, shape, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    ck_assert_msg(n == expect, "%s: %zu values, expected %zu", fn, n, expect);
    return d;
}

static int load_case(FILE *f, lcase *c) {
    memset(c, 0, sizeof *c);
    if (fscanf(f, "%63s %d %d %d %f %d", c->name, &c->B, &c->K, &c->D, &c->temperature, &c->normalize) != 6)
        return 0;
    size_t B = c->B, K = c->K, D = c->D;
    c->V = load_f32("loss", c->name, "V", B * D);
    c->T = load_f32("loss", c->name, "T", B * K * D);
    c->dV = load_f32("loss", c->name, "dV", B * D);
    c->dT = load_f32("loss", c->name, "dT", B * K * D);
    float *m = load_f32("loss", c->name, "mask", B * K);
    c->mask = malloc(B * K);
    for (size_t i = 0; i < B * K; i++) c->mask[i] = m[i] != 0;
    free(m);
    float *l = load_f32("loss", c->name, "loss", 1);
    c->loss = l[0];
    free(l);
    return 1;
}

static void free_case(lcase *c) {
    free(c->V); free(c->T); free(c->dV); free(c->dT); free(c->mask);
}

static FILE *open_cases(const char *file) {
    FILE *f = fopen(tu_fixture("loss", file), "r");
    ck_assert_msg(f != NULL, "no fixture %s (run ctest, which runs loss_ref.py first)",
                  tu_fixture("loss", file));
    return f;
}

/* Every case of the file against the reference's loss, dV and dT with bag rule bag. */
static void check_reference(const char *file, int bag) {
    FILE *f = open_cases(file);
    lcase c;
    int n = 0;
    double wl = 0, wv = 0, wt = 0;
    while (load_case(f, &c)) {
        milnce_loss_opts o = {c.temperature, c.normalize, bag};
        size_t nv = (size_t)c.B * c.D, nt = nv * c.K;
        float *dV = calloc(nv, sizeof(float)), *dT = calloc(nt, sizeof(float));
        float loss = -1;
        milnce_error err = {0};
        int rc = milnce_loss_forward_backward(&loss, dV, dT, c.V, c.T, c.mask, c.B, c.K, c.D, 0,
                                              c.B, &o, &err);
        ck_assert_msg(rc == 0, "%s: %s", c.name, err.msg);
        double le = fabs(loss - c.loss) / fmax(fabs(c.loss), 1e-6);
        double ev = tu_rel_err(dV, c.dV, nv, 1e-6), et = tu_rel_err(dT, c.dT, nt, 1e-6);
        ck_assert_msg(le <= 1e-4, "%s: loss %.9g, reference %.9g (rel %g)", c.name, loss, c.loss, le);
        ck_assert_msg(ev <= 1e-4, "%s: dV rel err %g", c.name, ev);
        ck_assert_msg(et <= 1e-4, "%s: dT rel err %g", c.name, et);
        wl = fmax(wl, le); wv = fmax(wv, ev); wt = fmax(wt, et);
        /* Forward only gives the same loss. */
        float loss2 = -1;
        rc = milnce_loss_forward_backward(&loss2, NULL, NULL, c.V, c.T, c.mask, c.B, c.K, c.D, 0,
                                          c.B, &o, &err);
        ck_assert_int_eq(rc, 0);
        ck_assert_float_eq(loss, loss2);
        free(dV); free(dT);
        free_case(&c);
        n++;
    }
    fclose(f);
    ck_assert_int_ge(n, 20);
    printf("loss (%s) vs reference, %d cases: worst rel err loss %.2g, dV %.2g, dT %.2g\n", file, n, wl, wv,
           wt);
}

START_TEST(test_matches_reference) { check_reference("cases.txt", MILNCE_BAG_MILNCE); }
END_TEST

START_TEST(test_max_matches_reference) { check_reference("cases_max.txt", MILNCE_BAG_MAX); }
END_TEST

/* R ranks, each with rows [r*B/R, (r+1)*B/R), get the global loss and their slice of the
 * gradient; the slices laid side by side equal the single-rank gradient. */
static void check_slices(const char *file, int bag) {
    FILE *f = open_cases(file);
    lcase c;
    while (load_case(f, &c)) {
        milnce_loss_opts o = {c.temperature, c.normalize, bag};
        size_t nv = (size_t)c.B * c.D, nt = nv * c.K;
        float *dV = calloc(nv, sizeof(float)), *dT = calloc(nt, sizeof(float));
        float *sV = calloc(nv, sizeof(float)), *sT = calloc(nt, sizeof(float));
        float full = 0;
        ck_assert_int_eq(milnce_loss_forward_backward(&full, dV, dT, c.V, c.T, c.mask, c.B, c.K,
                                                      c.D, 0, c.B, &o, NULL), 0);
        for (int R = 2; R <= c.B; R *= 2) {
            if (c.B % R) continue;
            memset(sV, 0, nv * sizeof(float));
            memset(sT, 0, nt * sizeof(float));
            int b = c.B / R;
            for (int r = 0; r < R; r++) {
                float l = 0;
                ck_assert_int_eq(milnce_loss_forward_backward(&l, sV + (size_t)r * b * c.D,
                                                              sT + (size_t)r * b * c.K * c.D, c.V,
                                                              c.T, c.mask, c.B, c.K, c.D, r * b, b,
                                                              &o, NULL), 0);
                ck_assert_msg(l == full, "%s rank %d/%d: loss %g vs %g", c.name, r, R, l, full);
            }
            ck_assert_msg(tu_rel_err(sV, dV, nv, 1e-6) <= 1e-6, "%s R=%d: dV slices differ", c.name, R);
            ck_assert_msg(tu_rel_err(sT, dT, nt, 1e-6) <= 1e-6, "%s R=%d: dT slices differ", c.name, R);
        }
        free(dV); free(dT); free(sV); free(sT);
        free_case(&c);
    }
    fclose(f);
}

START_TEST(test_global_batch_slices) {
    check_slices("cases.txt", MILNCE_BAG_MILNCE);
    check_slices("cases_max.txt", MILNCE_BAG_MAX);
}
END_TEST

/* Max+NCE: a bag whose other candidates are changed (but stay below the chosen one's score)
 * gives the same loss, and those candidates get no gradient; a bag of one equals NCE. */
START_TEST(test_max_properties) {
    int B = 3, K = 3, D = 4;
    float V[12] = {0}, T[36] = {0}, dV[12] = {0}, dT[36] = {0}, loss1, loss2, loss0;
    for (int i = 0; i < B; i++) V[i * D + i] = 1;
    for (int i = 0; i < B; i++) {
        T[(i * K + 1) * D + i] = 2;           /* candidate 1 matches its video: chosen */
        T[(i * K + 0) * D + (i + 1) % D] = 1; /* others point elsewhere */
        T[(i * K + 2) * D + 3] = -1;
    }
    milnce_loss_opts o = {0, 0, MILNCE_BAG_MAX};
    milnce_error err = {0};
    ck_assert_int_eq(milnce_loss_forward_backward(&loss1, dV, dT, V, T, NULL, B, K, D, 0, B, &o, &err), 0);
    for (int i = 0; i < B; i++)
        for (int d = 0; d < D; d++) {
            ck_assert_float_eq(dT[(i * K + 0) * D + d], 0);
            ck_assert_float_eq(dT[(i * K + 2) * D + d], 0);
        }
    T[(0 * K + 2) * D + 3] = -5;
    ck_assert_int_eq(milnce_loss_forward_backward(&loss2, NULL, NULL, V, T, NULL, B, K, D, 0, B, &o, &err), 0);
    ck_assert_float_eq(loss1, loss2);
    /* NCE on the chosen candidates alone */
    float Ts[12];
    for (int i = 0; i < B; i++) memcpy(Ts + i * D, T + (i * K + 1) * D, sizeof(float) * D);
    milnce_loss_opts o1 = {0, 0, MILNCE_BAG_MILNCE};
    ck_assert_int_eq(milnce_loss_forward_backward(&loss0, NULL, NULL, V, Ts, NULL, B, 1, D, 0, B, &o1, &err), 0);
    ck_assert_float_eq(loss1, loss0);
    /* Masking the chosen candidate makes another one chosen: the loss changes. */
    uint8_t mask[9] = {1, 0, 1, 1, 1, 1, 1, 1, 1};
    ck_assert_int_eq(milnce_loss_forward_backward(&loss2, NULL, NULL, V, T, mask, B, K, D, 0, B, &o, &err), 0);
    ck_assert_msg(loss2 > loss1, "masked the best candidate: %g vs %g", loss2, loss1);
    uint8_t none[9] = {1, 1, 1, 0, 0, 0, 1, 1, 1};
    ck_assert_int_eq(milnce_loss_forward_backward(&loss2, NULL, NULL, V, T, none, B, K, D, 0, B, &o, &err),
                     MILNCE_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "sample 1") != NULL, "%s", err.msg);
    milnce_loss_opts bad = {0, 0, 7};
    ck_assert_int_eq(milnce_loss_forward_backward(&loss2, NULL, NULL, V, T, NULL, B, K, D, 0, B, &bad, &err),
                     MILNCE_ERR_INVALID);
}
END_TEST

/* Cat+NCE word joining against loss_ref.py's Python lists (cases_cat.txt). */
START_TEST(test_cat_matches_reference) {
    FILE *f = open_cases("cases_cat.txt");
    char name[64];
    int B, K, L, Lout, n = 0;
    while (fscanf(f, "%63s %d %d %d %d", name, &B, &K, &L, &Lout) == 5) {
        float *idf = load_f32("loss", name, "ids", (size_t)B * K * L);
        float *mf = load_f32("loss", name, "mask", (size_t)B * K);
        float *of = load_f32("loss", name, "out", (size_t)B * Lout);
        float *dr = load_f32("loss", name, "dropped", 1);
        int32_t *ids = malloc(sizeof(int32_t) * B * K * L), *out = malloc(sizeof(int32_t) * B * Lout);
        uint8_t *mask = malloc((size_t)B * K);
        for (int i = 0; i < B * K * L; i++) ids[i] = (int32_t)idf[i];
        for (int i = 0; i < B * K; i++) mask[i] = mf[i] != 0;
        for (int i = 0; i < B * Lout; i++) out[i] = -1;
        int rc = milnce_bag_concat_tokens(out, ids, mask, B, K, L, Lout, NULL);
        ck_assert_msg(rc == (int)dr[0], "%s: %d words dropped, reference %d", name, rc, (int)dr[0]);
        for (int i = 0; i < B * Lout; i++)
            ck_assert_msg(out[i] == (int32_t)of[i], "%s: out[%d][%d] = %d, reference %d", name, i / Lout,
                          i % Lout, out[i], (int)of[i]);
        free(idf); free(mf); free(of); free(dr); free(ids); free(out); free(mask);
        n++;
    }
    fclose(f);
    ck_assert_int_ge(n, 4);
    int32_t o[2];
    milnce_error err = {0};
    ck_assert_int_eq(milnce_bag_concat_tokens(o, o, NULL, 1, 0, 1, 2, &err), MILNCE_ERR_INVALID);
}
END_TEST

/* Naive double-precision loss straight from the definition (no sgemm, no shared code). */
static double naive_loss(const double *V, const double *T, const uint8_t *m, int B, int K, int D,
                         double tau, int norm) {
    double *x = malloc(sizeof(double) * B * B * K);
    double *vn = malloc(sizeof(double) * B * D), *tn = malloc(sizeof(double) * B * K * D);
    for (int r = 0; r < B + B * K; r++) {
        const double *src = r < B ? V + (size_t)r * D : T + (size_t)(r - B) * D;
        double *dst = r < B ? vn + (size_t)r * D : tn + (size_t)(r - B) * D;
        double s = 0;
        for (int d = 0; d < D; d++) s += src[d] * src[d];
        double n = norm ? fmax(sqrt(s), 1e-12) : 1.0;
        for (int d = 0; d < D; d++) dst[d] = src[d] / n;
    }
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++)
            for (int k = 0; k < K; k++) {
                double s = 0;
                for (int d = 0; d < D; d++) s += vn[i * D + d] * tn[((size_t)j * K + k) * D + d];
                x[((size_t)i * B + j) * K + k] = s / tau;
            }
    double total = 0;
    for (int i = 0; i < B; i++) {
        double mx = -INFINITY;
        for (int j = 0; j < B; j++)
            for (int k = 0; k < K; k++) {
                if (m[j * K + k]) mx = fmax(mx, x[((size_t)i * B + j) * K + k]);
                if (m[i * K + k]) mx = fmax(mx, x[((size_t)j * B + i) * K + k]);
            }
        double den = 0, num = 0;
        for (int j = 0; j < B; j++)
            for (int k = 0; k < K; k++) {
                if (m[j * K + k]) den += exp(x[((size_t)i * B + j) * K + k] - mx);
                if (m[i * K + k]) den += exp(x[((size_t)j * B + i) * K + k] - mx);
            }
        for (int k = 0; k < K; k++)
            if (m[i * K + k]) num += exp(x[((size_t)i * B + i) * K + k] - mx);
        total += log(den) - log(num);
    }
    free(x); free(vn); free(tn);
    return total / B;
}

START_TEST(test_finite_differences) {
    static const struct { int B, K, D, norm; double tau; int masked; } cs[] = {
        {4, 3, 8, 0, 1.0, 0}, {4, 4, 8, 0, 0.5, 1}, {3, 5, 6, 1, 0.2, 1}, {5, 1, 7, 0, 1.0, 0}};
    milnce_rng rng;
    milnce_rng_seed(&rng, 7);
    for (size_t t = 0; t < sizeof cs / sizeof cs[0]; t++) {
        int B = cs[t].B, K = cs[t].K, D = cs[t].D;
        size_t nv = (size_t)B * D, nt = nv * K;
        float *V = malloc(nv * 4), *T = malloc(nt * 4), *dV = calloc(nv, 4), *dT = calloc(nt, 4);
        double *Vd = malloc(nv * 8), *Td = malloc(nt * 8);
        uint8_t *m = malloc((size_t)B * K);
        for (size_t i = 0; i < nv; i++) Vd[i] = V[i] = (float)milnce_rng_normal(&rng);
        for (size_t i = 0; i < nt; i++) Td[i] = T[i] = (float)milnce_rng_normal(&rng);
        for (int i = 0; i < B * K; i++) m[i] = !cs[t].masked || i % K == 0 || milnce_rng_uniform(&rng) < 0.5;
        milnce_loss_opts o = {(float)cs[t].tau, cs[t].norm, 0};
        float loss;
        ck_assert_int_eq(milnce_loss_forward_backward(&loss, dV, dT, V, T, m, B, K, D, 0, B, &o, NULL), 0);
        double l0 = naive_loss(Vd, Td, m, B, K, D, cs[t].tau, cs[t].norm);
        ck_assert_msg(fabs(loss - l0) <= 1e-5 * fmax(1, fabs(l0)), "case %zu: loss %g naive %g", t, loss, l0);
        const double h = 1e-6;
        double worst = 0, gmax = 1e-3;
        for (size_t i = 0; i < nv + nt; i++) {
            double *p = i < nv ? &Vd[i] : &Td[i - nv];
            double keep = *p;
            *p = keep + h;
            double lp = naive_loss(Vd, Td, m, B, K, D, cs[t].tau, cs[t].norm);
            *p = keep - h;
            double lm = naive_loss(Vd, Td, m, B, K, D, cs[t].tau, cs[t].norm);
            *p = keep;
            double fd = (lp - lm) / (2 * h), an = i < nv ? dV[i] : dT[i - nv];
            worst = fmax(worst, fabs(fd - an));
            gmax = fmax(gmax, fabs(fd));
        }
        printf("finite differences case %zu: rel err %.2g\n", t, worst / gmax);
        ck_assert_msg(worst / gmax <= 1e-4, "case %zu: gradient vs finite differences rel err %g", t,
                      worst / gmax);
        free(V); free(T); free(dV); free(dT); free(Vd); free(Td); free(m);
    }
}
END_TEST

/* Positives are counted twice in the denominator, so the loss is at least log 2; backward
 * accumulates; bad input gives its error. */
START_TEST(test_properties_and_errors) {
    int B = 3, K = 2, D = 4;
    float V[12], T[24], dV[12] = {0}, dT[24] = {0}, dV2[12] = {0}, dT2[24] = {0}, loss;
    milnce_rng rng;
    milnce_rng_seed(&rng, 3);
    for (int i = 0; i < 12; i++) V[i] = (float)milnce_rng_normal(&rng);
    for (int i = 0; i < 24; i++) T[i] = (float)milnce_rng_normal(&rng);
    milnce_error err = {0};
    ck_assert_int_eq(milnce_loss_forward_backward(&loss, dV, dT, V, T, NULL, B, K, D, 0, B, NULL, &err), 0);
    ck_assert_msg(loss > (float)log(2.0), "loss %g not above log 2", loss);
    /* Orthogonal videos, each bag = two copies of its own video scaled: only positives score,
     * num = x + log 2, den = x + log 4, so the loss tends to log 2 (never below). */
    float Vo[12] = {0}, To[24] = {0};
    for (int i = 0; i < B; i++) Vo[i * D + i] = 10;
    for (int i = 0; i < B; i++)
        for (int k = 0; k < K; k++) To[(i * K + k) * D + i] = 30;
    ck_assert_int_eq(milnce_loss_forward_backward(&loss, NULL, NULL, Vo, To, NULL, B, K, D, 0, B, NULL, &err), 0);
    ck_assert_double_eq_tol(loss, log(2.0), 1e-6);
    ck_assert_int_eq(milnce_loss_forward_backward(&loss, dV2, dT2, V, T, NULL, B, K, D, 0, B, NULL, &err), 0);
    ck_assert_int_eq(milnce_loss_forward_backward(&loss, dV2, dT2, V, T, NULL, B, K, D, 0, B, NULL, &err), 0);
    for (int i = 0; i < 12; i++) ck_assert_float_eq_tol(dV2[i], 2 * dV[i], 1e-6 + 1e-5 * fabsf(dV[i]));

    uint8_t mask[6] = {1, 0, 0, 0, 1, 1};
    int rc = milnce_loss_forward_backward(&loss, dV, dT, V, T, mask, B, K, D, 0, B, NULL, &err);
    ck_assert_int_eq(rc, MILNCE_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "sample 1") != NULL, "%s", err.msg);

    T[5] = NAN;
    rc = milnce_loss_forward_backward(&loss, dV, dT, V, T, NULL, B, K, D, 0, B, NULL, &err);
    ck_assert_int_eq(rc, MILNCE_ERR_NUMERIC);
    ck_assert_msg(strstr(err.msg, "T[0][1][1]") != NULL, "%s", err.msg);
    T[5] = 0;
    ck_assert_int_eq(milnce_loss_forward_backward(&loss, dV, dT, V, T, NULL, B, K, D, 2, 2, NULL, &err),
                     MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_loss_forward_backward(&loss, dV, NULL, V, T, NULL, B, K, D, 0, B, NULL, &err),
                     MILNCE_ERR_INVALID);
}
END_TEST

int main(int argc, char **argv) {
    tu_need_fixtures("loss");
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("milnce");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_matches_reference);
    tcase_add_test(tc, test_max_matches_reference);
    tcase_add_test(tc, test_max_properties);
    tcase_add_test(tc, test_cat_matches_reference);
    tcase_add_test(tc, test_global_batch_slices);
    tcase_add_test(tc, test_finite_differences);
    tcase_add_test(tc, test_properties_and_errors);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
