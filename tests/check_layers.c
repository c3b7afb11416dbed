/* Layers of S3D-G and the text encoder: forward and every gradient against the PyTorch fixtures
 * of tests/reference/layers_ref.py (max relative error <= 1e-4), then finite-difference checks
 * of the backward passes as a second, independent check.
 *
 * Finite differences: loss = sum_i r_i * y_i with r a fixed random vector, accumulated in
 * double; central differences (L(v+eps) - L(v-eps)) / 2 eps on up to FD_SAMPLES entries of each
 * input / weight. eps = 1e-2 for smooth layers (conv, linear, BN, gating: the error is float
 * rounding of L over 2 eps, and O(eps^2) curvature for BN/sigmoid), eps = 1e-3 for piecewise
 * layers (pooling, max over words, ReLU) on inputs whose values are >= 4e-3 apart so no
 * perturbation crosses a kink. Tolerance: max |fd - analytic| <= 1e-2 * max(max |analytic|,
 * 1e-3) over the sampled entries. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv3d_direct.h"
#include "gemm.h"
#include "layers.h"
#include "npy.h"
#include "testutil.h"

#define TOL 1e-4
#define FD_SAMPLES 40
#define FD_TOL 1e-2

/* ---- fixtures ---------------------------------------------------------------------------- */

typedef struct {
    float *p;
    size_t n;
} arr;

static arr load(const char *cs, const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s/%s.npy", cs, name);
    arr a;
    a.p = tu_fixture_f32("layers", rel, &a.n);
    return a;
}

/* cfg.npy as ints (at most 32). */
static int load_cfg(const char *cs, int *cfg) {
    arr a = load(cs, "cfg");
    ck_assert(a.n <= 32);
    for (size_t i = 0; i < a.n; i++) cfg[i] = (int)lrintf(a.p[i]);
    free(a.p);
    return (int)a.n;
}

static float *zeros(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    ck_assert(p);
    return p;
}

static void expect_close(const float *got, arr ref, const char *cs, const char *what) {
    double e = tu_rel_err(got, ref.p, ref.n, 1e-3);
    ck_assert_msg(e <= TOL, "%s %s: max rel err %g > %g", cs, what, e, TOL);
}

static void expect_scaled(const float *got, arr ref, float s, const char *cs, const char *what) {
    float *r = zeros(ref.n);
    for (size_t i = 0; i < ref.n; i++) r[i] = s * ref.p[i];
    double e = tu_rel_err(got, r, ref.n, 1e-3);
    ck_assert_msg(e <= TOL, "%s %s (x%g): max rel err %g", cs, what, s, e);
    free(r);
}

/* ---- finite differences ------------------------------------------------------------------ */

/* Runs the forward with the current parameters and returns the output (n floats). */
typedef const float *(*fwd_fn)(void *ctx, size_t *n);

static double lin_loss(fwd_fn f, void *ctx, const float *r) {
    size_t n;
    const float *y = f(ctx, &n);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)r[i] * y[i];
    return s;
}

static void fd_check(fwd_fn f, void *ctx, const float *r, float *param, const float *analytic,
                     size_t n, float eps, const char *what) {
    unsigned seed = 777;
    double maxd = 0, maxa = 1e-3;
    int m = n < FD_SAMPLES ? (int)n : FD_SAMPLES;
    for (int s = 0; s < m; s++) {
        size_t i = n <= FD_SAMPLES ? (size_t)s : (size_t)rand_r(&seed) % n;
        float v = param[i];
        param[i] = v + eps;
        double lp = lin_loss(f, ctx, r);
        param[i] = v - eps;
        double lm = lin_loss(f, ctx, r);
        param[i] = v;
        double fd = (lp - lm) / (2.0 * eps);
        double d = fabs(fd - analytic[i]);
        if (d > maxd) maxd = d;
        if (fabs(analytic[i]) > maxa) maxa = fabs(analytic[i]);
    }
    ck_assert_msg(maxd <= FD_TOL * maxa, "%s: finite differences differ by %g (max |grad| %g)",
                  what, maxd, maxa);
}

static float *rand_vec(size_t n, unsigned seed) {
    float *r = zeros(n);
    for (size_t i = 0; i < n; i++) r[i] = (float)rand_r(&seed) / RAND_MAX * 2.0f - 1.0f;
    return r;
}

/* ---- Conv3d ------------------------------------------------------------------------------ */

static const char *CONV_CASES[] = {"conv_stem", "conv_pw_small", "conv_pw_large", "conv_sep_s",
                                   "conv_sep_t", "conv_s2d",      "conv_odd",      "conv_big",
                                   "conv_chunk", "conv_chunk_s2", "conv_pw_chunk", "conv_b1",
                                   "conv_stem_wide"};
#define N_CONV (sizeof CONV_CASES / sizeof CONV_CASES[0])

typedef struct {
    milnce_conv3d_cfg c;
    int B, T, H, W;
    float *x, *w, *b, *y, *ws;
    size_t ny;
} conv_ctx;

static const float *conv_fwd(void *p, size_t *n) {
    conv_ctx *k = p;
    ck_assert_int_eq(milnce_conv3d_forward(k->y, k->x, k->w, k->b, k->ws, &k->c, k->B, k->T, k->H,
                                           k->W),
                     0);
    *n = k->ny;
    return k->y;
}

/* algo: MILNCE_CONV_AUTO / _GEMM / _DIRECT (every case runs under each). */
static void conv_case(const char *cs, int algo) {
    int g[32];
    load_cfg(cs, g);
    conv_ctx k = {.c = {g[1], g[2], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14],
                        algo},
                  .B = g[0], .T = g[3], .H = g[4], .W = g[5]};
    int hb = g[15];
    arr x = load(cs, "x"), w = load(cs, "w"), y = load(cs, "y"), gy = load(cs, "gy");
    arr gx = load(cs, "gx"), gw = load(cs, "gw");
    arr b = {0}, gb = {0};
    if (hb) b = load(cs, "b"), gb = load(cs, "gb");
    int To, Ho, Wo;
    ck_assert_int_eq(milnce_conv3d_out_dims(&k.c, k.T, k.H, k.W, &To, &Ho, &Wo), 0);
    k.ny = (size_t)k.B * k.c.c_out * To * Ho * Wo;
    ck_assert_uint_eq(k.ny, y.n);
    k.x = x.p, k.w = w.p, k.b = b.p;
    k.y = zeros(k.ny);
    k.ws = zeros(milnce_conv3d_workspace_floats(&k.c, k.B, k.T, k.H, k.W));
    conv_fwd(&k, &k.ny);
    expect_close(k.y, y, cs, "y");

    float *dx = zeros(x.n), *dw = zeros(w.n), *db = zeros(hb ? b.n : 1);
    ck_assert_int_eq(milnce_conv3d_backward(dx, dw, hb ? db : NULL, gy.p, x.p, w.p, k.ws, &k.c,
                                            k.B, k.T, k.H, k.W),
                     0);
    expect_close(dx, gx, cs, "gx");
    expect_close(dw, gw, cs, "gw");
    if (hb) expect_close(db, gb, cs, "gb");
    /* backward accumulates: a second call doubles every gradient */
    milnce_conv3d_backward(dx, dw, hb ? db : NULL, gy.p, x.p, w.p, k.ws, &k.c, k.B, k.T, k.H, k.W);
    expect_scaled(dx, gx, 2, cs, "gx");
    expect_scaled(dw, gw, 2, cs, "gw");
    if (hb) expect_scaled(db, gb, 2, cs, "gb");
    /* NULL gradients are skipped */
    ck_assert_int_eq(milnce_conv3d_backward(NULL, dw, NULL, gy.p, x.p, w.p, k.ws, &k.c, k.B, k.T,
                                            k.H, k.W),
                     0);
    expect_scaled(dw, gw, 3, cs, "gw");

    /* finite differences with r = a fresh random functional (once per case: the forced
     * algorithms are held to the same PyTorch fixtures above, and FD checks of every case under
     * every algorithm would multiply the suite's time) */
    if (algo != MILNCE_CONV_AUTO) {
        free(dx); free(dw); free(db); free(k.y); free(k.ws);
        free(x.p); free(w.p); free(y.p); free(gy.p); free(gx.p); free(gw.p); free(b.p); free(gb.p);
        return;
    }
    float *r = rand_vec(k.ny, 11);
    memset(dx, 0, sizeof(float) * x.n);
    memset(dw, 0, sizeof(float) * w.n);
    memset(db, 0, sizeof(float) * (hb ? b.n : 1));
    milnce_conv3d_backward(dx, dw, hb ? db : NULL, r, x.p, w.p, k.ws, &k.c, k.B, k.T, k.H, k.W);
    fd_check(conv_fwd, &k, r, x.p, dx, x.n, 1e-2f, "conv dx");
    fd_check(conv_fwd, &k, r, w.p, dw, w.n, 1e-2f, "conv dw");
    if (hb) fd_check(conv_fwd, &k, r, b.p, db, b.n, 1e-2f, "conv db");

    free(r); free(dx); free(dw); free(db); free(k.y); free(k.ws);
    free(x.p); free(w.p); free(y.p); free(gy.p); free(gx.p); free(gw.p); free(b.p); free(gb.p);
}

/* With the default OpenBLAS threads: work units run serially, OpenBLAS threads the GEMMs.
 * _i < N_CONV: the algorithm the layer picks; then every case forced to vol2col + sgemm, then
 * forced to the direct convolution (src/nn/conv3d_direct.c; any shape, not only the stems it is
 * picked for). */
START_TEST(test_conv3d) {
    static const int algos[3] = {MILNCE_CONV_AUTO, MILNCE_CONV_GEMM, MILNCE_CONV_DIRECT};
    conv_case(CONV_CASES[_i % N_CONV], algos[_i / N_CONV]);
}
END_TEST

/* With a single-threaded OpenBLAS: units run in parallel on 3 OpenMP threads (more threads than
 * cores, so unit boundaries and the private weight-gradient reduction are exercised). */
START_TEST(test_conv3d_omp) {
    static const int algos[3] = {MILNCE_CONV_AUTO, MILNCE_CONV_GEMM, MILNCE_CONV_DIRECT};
    int nb = openblas_get_num_threads(), no = omp_get_max_threads();
    openblas_set_num_threads(1);
    omp_set_num_threads(3);
    conv_case(CONV_CASES[_i % N_CONV], algos[_i / N_CONV]);
    openblas_set_num_threads(nb);
    omp_set_num_threads(no);
}
END_TEST

/* The stem picks the direct algorithm, the other S3D-G shapes vol2col + sgemm. */
START_TEST(test_conv3d_direct_choice) {
    milnce_conv3d_cfg stem = {3, 64, 3, 7, 7, 2, 2, 2, 1, 3, 3, MILNCE_CONV_AUTO, MILNCE_PREC_FP32};
    milnce_conv3d_cfg sep = {64, 192, 1, 3, 3, 1, 1, 1, 0, 1, 1, MILNCE_CONV_AUTO, MILNCE_PREC_FP32};
    milnce_conv3d_cfg s2d = {24, 64, 2, 4, 4, 1, 1, 1, 1, 2, 2, MILNCE_CONV_AUTO, MILNCE_PREC_FP32};
    ck_assert(milnce_conv3d_direct_suits(&stem));
    ck_assert(!milnce_conv3d_direct_suits(&sep));
    ck_assert(!milnce_conv3d_direct_suits(&s2d));
    int To, Ho, Wo;
    stem.algo = 3;
    ck_assert_int_eq(milnce_conv3d_out_dims(&stem, 16, 64, 64, &To, &Ho, &Wo), MILNCE_ERR_INVALID);
}
END_TEST

START_TEST(test_conv3d_rejects_bad_cfg) {
    milnce_conv3d_cfg c = {2, 3, 3, 3, 3, 1, 1, 1, 0, 0, 0, MILNCE_CONV_AUTO, MILNCE_PREC_FP32};
    int To, Ho, Wo;
    ck_assert_int_eq(milnce_conv3d_out_dims(&c, 2, 5, 5, &To, &Ho, &Wo), MILNCE_ERR_INVALID);
    c.st = 0;
    ck_assert_int_eq(milnce_conv3d_out_dims(&c, 4, 5, 5, &To, &Ho, &Wo), MILNCE_ERR_INVALID);
    c.st = 1, c.pt = -1;
    ck_assert_int_eq(milnce_conv3d_out_dims(&c, 4, 5, 5, &To, &Ho, &Wo), MILNCE_ERR_INVALID);
}
END_TEST

/* ---- BatchNorm3d ------------------------------------------------------------------------- */

static const char *BN_CASES[] = {"bn_train", "bn_eval", "bnrelu_train", "bnrelu_eval",
                                 "bn_train_b1"};
#define N_BN (sizeof BN_CASES / sizeof BN_CASES[0])

typedef struct {
    int B, C, P, train, relu;
    float *x, *gamma, *beta, *rm, *rv, *y, *mean, *invstd;
} bn_ctx;

static const float *bn_fwd(void *p, size_t *n) {
    bn_ctx *k = p;
    /* running statistics: only read in eval mode, not updated here (train passes NULL) */
    float *rm = k->train ? NULL : k->rm, *rv = k->train ? NULL : k->rv;
    if (k->relu)
        milnce_bnrelu3d_forward(k->y, k->mean, k->invstd, rm, rv, k->x, k->gamma, k->beta,
                                k->train, 0.1f, 1e-5f, k->B, k->C, k->P);
    else
        milnce_batchnorm3d_forward(k->y, k->mean, k->invstd, rm, rv, k->x, k->gamma, k->beta,
                                   k->train, 0.1f, 1e-5f, k->B, k->C, k->P);
    *n = (size_t)k->B * k->C * k->P;
    return k->y;
}

START_TEST(test_batchnorm3d) {
    const char *cs = BN_CASES[_i];
    int g[32];
    load_cfg(cs, g);
    bn_ctx k = {.B = g[0], .C = g[1], .P = g[2] * g[3] * g[4], .train = g[5], .relu = g[6]};
    arr x = load(cs, "x"), gamma = load(cs, "gamma"), beta = load(cs, "beta");
    arr rm = load(cs, "rm"), rv = load(cs, "rv"), y = load(cs, "y"), gy = load(cs, "gy");
    arr gx = load(cs, "gx"), gg = load(cs, "ggamma"), gbt = load(cs, "gbeta");
    arr rmo = load(cs, "rm_out"), rvo = load(cs, "rv_out");
    k.x = x.p, k.gamma = gamma.p, k.beta = beta.p, k.rm = rm.p, k.rv = rv.p;
    k.y = zeros(x.n), k.mean = zeros(k.C), k.invstd = zeros(k.C);
    if (k.relu)
        milnce_bnrelu3d_forward(k.y, k.mean, k.invstd, rm.p, rv.p, x.p, gamma.p, beta.p, k.train,
                                0.1f, 1e-5f, k.B, k.C, k.P);
    else
        milnce_batchnorm3d_forward(k.y, k.mean, k.invstd, rm.p, rv.p, x.p, gamma.p, beta.p,
                                   k.train, 0.1f, 1e-5f, k.B, k.C, k.P);
    expect_close(k.y, y, cs, "y");
    expect_close(rm.p, rmo, cs, "running_mean");
    expect_close(rv.p, rvo, cs, "running_var");

    float *dx = zeros(x.n), *dg = zeros(k.C), *db = zeros(k.C);
    if (k.relu)
        milnce_bnrelu3d_backward(dx, dg, db, gy.p, x.p, k.y, k.mean, k.invstd, gamma.p, k.train,
                                 k.B, k.C, k.P);
    else
        milnce_batchnorm3d_backward(dx, dg, db, gy.p, x.p, k.mean, k.invstd, gamma.p, k.train,
                                    k.B, k.C, k.P);
    expect_close(dx, gx, cs, "gx");
    expect_close(dg, gg, cs, "ggamma");
    expect_close(db, gbt, cs, "gbeta");

    /* finite differences; the ReLU variants are skipped (kinks at bn(x) = 0 are dense) */
    if (!k.relu && k.B * k.P > 2) {
        size_t n;
        bn_fwd(&k, &n);
        float *r = rand_vec(n, 5);
        memset(dx, 0, sizeof(float) * x.n);
        memset(dg, 0, sizeof(float) * k.C);
        memset(db, 0, sizeof(float) * k.C);
        milnce_batchnorm3d_backward(dx, dg, db, r, x.p, k.mean, k.invstd, gamma.p, k.train, k.B,
                                    k.C, k.P);
        fd_check(bn_fwd, &k, r, x.p, dx, x.n, 1e-2f, "bn dx");
        fd_check(bn_fwd, &k, r, gamma.p, dg, k.C, 1e-2f, "bn dgamma");
        fd_check(bn_fwd, &k, r, beta.p, db, k.C, 1e-2f, "bn dbeta");
        free(r);
    }
    free(dx); free(dg); free(db); free(k.y); free(k.mean); free(k.invstd);
    free(x.p); free(gamma.p); free(beta.p); free(rm.p); free(rv.p); free(y.p); free(gy.p);
    free(gx.p); free(gg.p); free(gbt.p); free(rmo.p); free(rvo.p);
}
END_TEST

/* ---- MaxPool3d --------------------------------------------------------------------------- */

static const char *POOL_CASES[] = {"pool_2a_odd",  "pool_2a_even", "pool_2a_relu",
                                   "pool_4a_even", "pool_4a_odd",  "pool_5a_odd",
                                   "pool_5a_even", "pool_incep",   "pool_incep_wide",
                                   "pool_2a_wide"};
#define N_POOL (sizeof POOL_CASES / sizeof POOL_CASES[0])

typedef struct {
    milnce_pool3d_cfg c;
    int B, C, T, H, W;
    float *x, *y;
    int32_t *am;
    size_t ny;
} pool_ctx;

static const float *pool_fwd(void *p, size_t *n) {
    pool_ctx *k = p;
    ck_assert_int_eq(milnce_maxpool3d_forward(k->y, k->am, k->x, &k->c, k->B, k->C, k->T, k->H,
                                              k->W),
                     0);
    *n = k->ny;
    return k->y;
}

START_TEST(test_maxpool3d) {
    const char *cs = POOL_CASES[_i];
    int g[32];
    load_cfg(cs, g);
    pool_ctx k = {.B = g[0], .C = g[1], .T = g[2], .H = g[3], .W = g[4]};
    k.c = g[11] ? milnce_pool3d_same(g[5], g[6], g[7], g[8], g[9], g[10])
                : milnce_pool3d_plain(g[5], g[6], g[7], g[8], g[9], g[10], g[12], g[13], g[14]);
    int relu_in = g[15];
    arr x = load(cs, "x"), y = load(cs, "y"), gy = load(cs, "gy"), gx = load(cs, "gx");
    int To, Ho, Wo;
    ck_assert_int_eq(milnce_pool3d_out_dims(&k.c, k.T, k.H, k.W, &To, &Ho, &Wo), 0);
    k.ny = (size_t)k.B * k.C * To * Ho * Wo;
    ck_assert_msg(k.ny == y.n, "%s: output %dx%dx%d has %zu values, reference %zu", cs, To, Ho,
                  Wo, k.ny, y.n);
    k.x = x.p, k.y = zeros(k.ny);
    k.am = calloc(k.ny, sizeof(int32_t));
    pool_fwd(&k, &k.ny);
    expect_close(k.y, y, cs, "y");
    float *dx = zeros(x.n);
    milnce_maxpool3d_backward(dx, gy.p, k.am, k.B, k.C, To, Ho, Wo, k.T, k.H, k.W);
    expect_close(dx, gx, cs, "gx");

    if (!relu_in) {
        /* shift off the grid point 0 so that no input ties with a padded zero */
        for (size_t i = 0; i < x.n; i++) x.p[i] += 2.0f / (float)x.n; /* half the grid spacing */
        float *r = rand_vec(k.ny, 3);
        pool_fwd(&k, &k.ny);
        memset(dx, 0, sizeof(float) * x.n);
        milnce_maxpool3d_backward(dx, r, k.am, k.B, k.C, To, Ho, Wo, k.T, k.H, k.W);
        fd_check(pool_fwd, &k, r, x.p, dx, x.n, 1e-3f, "maxpool dx");
        free(r);
    }
    free(dx); free(k.y); free(k.am);
    free(x.p); free(y.p); free(gy.p); free(gx.p);
}
END_TEST

/* The SAME sizes of the S3D-G stages (16x224x224 input): computed by hand from DESIGN.md. */
/* One pass over each window in (t, h, w) order, as PyTorch's CPU kernel after the reference's
 * zero padding: the first maximum wins, a NaN always replaces; padded zeros have index -1. */
static void pool_brute(float *y, int32_t *am, const float *x, const milnce_pool3d_cfg *c, int T,
                       int H, int W, int To, int Ho, int Wo) {
    const int L[3] = {T + c->zt0 + c->zt1, H + c->zh0 + c->zh1, W + c->zw0 + c->zw1};
    const int k[3] = {c->kt, c->kh, c->kw}, st[3] = {c->st, c->sh, c->sw};
    const int pd[3] = {c->pt, c->ph, c->pw}, z0[3] = {c->zt0, c->zh0, c->zw0};
    const int in[3] = {T, H, W};
    for (int o0 = 0; o0 < To; o0++)
        for (int o1 = 0; o1 < Ho; o1++)
            for (int o2 = 0; o2 < Wo; o2++) {
                const int o[3] = {o0, o1, o2};
                int lo[3], hi[3];
                for (int d = 0; d < 3; d++) {
                    lo[d] = o[d] * st[d] - pd[d], hi[d] = lo[d] + k[d];
                    if (lo[d] < 0) lo[d] = 0;
                    if (hi[d] > L[d]) hi[d] = L[d];
                }
                float best = -INFINITY;
                int32_t bi = -1;
                for (int a = lo[0]; a < hi[0]; a++)
                    for (int b = lo[1]; b < hi[1]; b++)
                        for (int e = lo[2]; e < hi[2]; e++) {
                            const int p[3] = {a - z0[0], b - z0[1], e - z0[2]};
                            int inside = 1;
                            for (int d = 0; d < 3; d++) inside &= p[d] >= 0 && p[d] < in[d];
                            const int32_t i = inside ? (p[0] * H + p[1]) * W + p[2] : -1;
                            const float v = inside ? x[i] : 0.0f;
                            if (v > best || isnan(v)) best = v, bi = i;
                        }
                const size_t q = ((size_t)o0 * Ho + o1) * Wo + o2;
                y[q] = best;
                am[q] = bi;
            }
}

/* The separable, vectorised max pool against pool_brute on inputs full of ties (values from
 * {-1, 0, 1, 2}, so padded zeros tie too) and NaNs, rows of several vectors of 8 outputs,
 * every pool of S3D-G and a stride-3 one. */
START_TEST(test_maxpool3d_ties_nan) {
    const milnce_pool3d_cfg cfgs[] = {
        milnce_pool3d_same(1, 3, 3, 1, 2, 2), milnce_pool3d_same(3, 3, 3, 2, 2, 2),
        milnce_pool3d_same(2, 2, 2, 2, 2, 2), milnce_pool3d_plain(3, 3, 3, 1, 1, 1, 1, 1, 1),
        milnce_pool3d_plain(2, 3, 4, 1, 2, 3, 0, 1, 2)};
    const int sizes[][3] = {{3, 5, 37}, {4, 7, 16}, {2, 3, 1}, {5, 2, 40}};
    const int B = 2, C = 3;
    for (size_t ci = 0; ci < sizeof cfgs / sizeof cfgs[0]; ci++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            const int T = sizes[si][0], H = sizes[si][1], W = sizes[si][2];
            int To, Ho, Wo;
            if (milnce_pool3d_out_dims(&cfgs[ci], T, H, W, &To, &Ho, &Wo) < 0) continue;
            const size_t n = (size_t)B * C * T * H * W, m = (size_t)B * C * To * Ho * Wo;
            float *x = zeros(n), *y = zeros(m), *yr = zeros(m);
            int32_t *am = calloc(m, sizeof *am), *amr = calloc(m, sizeof *amr);
            ck_assert(am && amr);
            unsigned seed = 5 + (unsigned)(ci * 10 + si);
            for (size_t i = 0; i < n; i++) {
                const int r = rand_r(&seed) % 41;
                x[i] = r == 40 ? NAN : (float)(r % 4 - 1);
            }
            ck_assert_int_eq(milnce_maxpool3d_forward(y, am, x, &cfgs[ci], B, C, T, H, W), 0);
            const size_t pin = (size_t)T * H * W, po = (size_t)To * Ho * Wo;
            for (int pl = 0; pl < B * C; pl++)
                pool_brute(yr + pl * po, amr + pl * po, x + pl * pin, &cfgs[ci], T, H, W, To, Ho,
                           Wo);
            for (size_t i = 0; i < m; i++) {
                ck_assert_msg(am[i] == amr[i], "pool cfg %zu size %zu out %zu: argmax %d, want %d",
                              ci, si, i, am[i], amr[i]);
                ck_assert_msg((isnan(y[i]) && isnan(yr[i])) || y[i] == yr[i],
                              "pool cfg %zu size %zu out %zu: %g, want %g", ci, si, i, y[i], yr[i]);
            }
            free(x); free(y); free(yr); free(am); free(amr);
        }
}
END_TEST

START_TEST(test_pool_same_sizes) {
    int To, Ho, Wo;
    milnce_pool3d_cfg c = milnce_pool3d_same(1, 3, 3, 1, 2, 2); /* maxpool_2a on 8x112x112 */
    ck_assert_int_eq(c.zh0, 0);
    ck_assert_int_eq(c.zh1, 1);
    ck_assert_int_eq(milnce_pool3d_out_dims(&c, 8, 112, 112, &To, &Ho, &Wo), 0);
    ck_assert(To == 8 && Ho == 56 && Wo == 56);
    c = milnce_pool3d_same(3, 3, 3, 2, 2, 2); /* maxpool_4a on 8x28x28 */
    ck_assert_int_eq(milnce_pool3d_out_dims(&c, 8, 28, 28, &To, &Ho, &Wo), 0);
    ck_assert(To == 4 && Ho == 14 && Wo == 14);
    c = milnce_pool3d_same(2, 2, 2, 2, 2, 2); /* maxpool_5a on 4x14x14: no padding */
    ck_assert(c.zt0 == 0 && c.zt1 == 0);
    ck_assert_int_eq(milnce_pool3d_out_dims(&c, 4, 14, 14, &To, &Ho, &Wo), 0);
    ck_assert(To == 2 && Ho == 7 && Wo == 7);
    ck_assert_int_eq(milnce_pool3d_out_dims(&c, 3, 7, 7, &To, &Ho, &Wo), 0); /* ceil */
    ck_assert(To == 2 && Ho == 4 && Wo == 4);
}
END_TEST

/* ---- Linear, self-gating, activations, gap --------------------------------------------- */

typedef struct {
    int N, IC, OC;
    float *x, *w, *b, *y;
} lin_ctx;

static const float *lin_fwd(void *p, size_t *n) {
    lin_ctx *k = p;
    milnce_linear_forward(k->y, k->x, k->w, k->b, k->N, k->IC, k->OC, MILNCE_PREC_FP32);
    *n = (size_t)k->N * k->OC;
    return k->y;
}

static const char *LIN_CASES[] = {"linear", "linear_big"};

/* _i: 0/1 case with the default OpenBLAS threads; 2/3 the same with OpenBLAS single-threaded
 * and 3 OpenMP threads (the GEMMs split over threads). */
START_TEST(test_linear) {
    const char *cs = LIN_CASES[_i % 2];
    const int nb0 = openblas_get_num_threads(), no0 = omp_get_max_threads();
    if (_i >= 2) openblas_set_num_threads(1), omp_set_num_threads(3);
    int g[32];
    load_cfg(cs, g);
    arr x = load(cs, "x"), w = load(cs, "w"), b = load(cs, "b"), y = load(cs, "y");
    arr gy = load(cs, "gy"), gx = load(cs, "gx"), gw = load(cs, "gw"), gb = load(cs, "gb");
    lin_ctx k = {g[0], g[1], g[2], x.p, w.p, b.p, zeros(y.n)};
    size_t n;
    lin_fwd(&k, &n);
    expect_close(k.y, y, cs, "y");
    float *dx = zeros(x.n), *dw = zeros(w.n), *db = zeros(b.n);
    milnce_linear_backward(dx, dw, db, gy.p, x.p, w.p, k.N, k.IC, k.OC, MILNCE_PREC_FP32);
    expect_close(dx, gx, cs, "gx");
    expect_close(dw, gw, cs, "gw");
    expect_close(db, gb, cs, "gb");
    float *r = rand_vec(n, 9);
    memset(dx, 0, sizeof(float) * x.n);
    memset(dw, 0, sizeof(float) * w.n);
    memset(db, 0, sizeof(float) * b.n);
    milnce_linear_backward(dx, dw, db, r, x.p, w.p, k.N, k.IC, k.OC, MILNCE_PREC_FP32);
    fd_check(lin_fwd, &k, r, x.p, dx, x.n, 1e-2f, "linear dx");
    fd_check(lin_fwd, &k, r, w.p, dw, w.n, 1e-2f, "linear dw");
    fd_check(lin_fwd, &k, r, b.p, db, b.n, 1e-2f, "linear db");
    free(r); free(dx); free(dw); free(db); free(k.y);
    free(x.p); free(w.p); free(b.p); free(y.p); free(gy.p); free(gx.p); free(gw.p); free(gb.p);
    openblas_set_num_threads(nb0);
    omp_set_num_threads(no0);
}
END_TEST

typedef struct {
    int B, C, P;
    float *x, *w, *b, *y, *mean, *gate;
} sg_ctx;

static const float *sg_fwd(void *p, size_t *n) {
    sg_ctx *k = p;
    milnce_selfgating_forward(k->y, k->mean, k->gate, k->x, k->w, k->b, k->B, k->C, k->P);
    *n = (size_t)k->B * k->C * k->P;
    return k->y;
}

START_TEST(test_selfgating) {
    const char *cs = "selfgating";
    int g[32];
    load_cfg(cs, g);
    arr x = load(cs, "x"), w = load(cs, "w"), b = load(cs, "b"), y = load(cs, "y");
    arr gy = load(cs, "gy"), gx = load(cs, "gx"), gw = load(cs, "gw"), gb = load(cs, "gb");
    sg_ctx k = {g[0], g[1], g[2] * g[3] * g[4], x.p, w.p, b.p, zeros(y.n), NULL, NULL};
    k.mean = zeros((size_t)k.B * k.C), k.gate = zeros((size_t)k.B * k.C);
    float *ws = zeros(milnce_selfgating_workspace_floats(k.B, k.C));
    size_t n;
    sg_fwd(&k, &n);
    expect_close(k.y, y, cs, "y");
    float *dx = zeros(x.n), *dw = zeros(w.n), *db = zeros(b.n);
    milnce_selfgating_backward(dx, dw, db, gy.p, x.p, k.mean, k.gate, w.p, ws, k.B, k.C, k.P);
    expect_close(dx, gx, cs, "gx");
    expect_close(dw, gw, cs, "gw");
    expect_close(db, gb, cs, "gb");
    float *r = rand_vec(n, 13);
    memset(dx, 0, sizeof(float) * x.n);
    memset(dw, 0, sizeof(float) * w.n);
    memset(db, 0, sizeof(float) * b.n);
    milnce_selfgating_backward(dx, dw, db, r, x.p, k.mean, k.gate, w.p, ws, k.B, k.C, k.P);
    fd_check(sg_fwd, &k, r, x.p, dx, x.n, 1e-2f, "gating dx");
    fd_check(sg_fwd, &k, r, w.p, dw, w.n, 1e-2f, "gating dw");
    fd_check(sg_fwd, &k, r, b.p, db, b.n, 1e-2f, "gating db");
    free(r); free(dx); free(dw); free(db); free(k.y); free(k.mean); free(k.gate); free(ws);
    free(x.p); free(w.p); free(b.p); free(y.p); free(gy.p); free(gx.p); free(gw.p); free(gb.p);
}
END_TEST

typedef struct {
    int which; /* 0 relu, 1 sigmoid, 2 gap */
    int B, C, P;
    size_t n;
    float *x, *y;
} ew_ctx;

static const float *ew_fwd(void *p, size_t *n) {
    ew_ctx *k = p;
    if (k->which == 0) milnce_relu_forward(k->y, k->x, k->n), *n = k->n;
    else if (k->which == 1) milnce_sigmoid_forward(k->y, k->x, k->n), *n = k->n;
    else milnce_gap3d_forward(k->y, k->x, k->B, k->C, k->P), *n = (size_t)k->B * k->C;
    return k->y;
}

static void ew_backward(ew_ctx *k, float *dx, const float *gy) {
    if (k->which == 0) milnce_relu_backward(dx, gy, k->y, k->n);
    else if (k->which == 1) milnce_sigmoid_backward(dx, gy, k->y, k->n);
    else milnce_gap3d_backward(dx, gy, k->B, k->C, k->P);
}

static const char *EW_CASES[] = {"relu", "sigmoid", "gap"};

START_TEST(test_elementwise) {
    const char *cs = EW_CASES[_i];
    int g[32];
    load_cfg(cs, g);
    arr x = load(cs, "x"), y = load(cs, "y"), gy = load(cs, "gy"), gx = load(cs, "gx");
    ew_ctx k = {.which = _i, .n = x.n, .x = x.p, .y = zeros(y.n)};
    if (_i == 2) k.B = g[0], k.C = g[1], k.P = g[2] * g[3] * g[4];
    size_t n;
    ew_fwd(&k, &n);
    expect_close(k.y, y, cs, "y");
    float *dx = zeros(x.n);
    ew_backward(&k, dx, gy.p);
    expect_close(dx, gx, cs, "gx");
    if (_i == 0) {
        /* in place: out == in, and backward from the output */
        float *z = zeros(x.n);
        memcpy(z, x.p, sizeof(float) * x.n);
        milnce_relu_forward(z, z, x.n);
        expect_close(z, y, cs, "y in place");
        free(z);
        /* keep perturbations away from the kink at 0 */
        for (size_t i = 0; i < x.n; i++)
            if (fabsf(x.p[i]) < 5e-3f) x.p[i] = x.p[i] < 0 ? -5e-3f : 5e-3f;
    }
    float *r = rand_vec(n, 17);
    memset(dx, 0, sizeof(float) * x.n);
    ew_fwd(&k, &n);
    ew_backward(&k, dx, r);
    fd_check(ew_fwd, &k, r, x.p, dx, x.n, _i == 0 ? 1e-3f : 1e-2f, cs);
    free(r); free(dx); free(k.y);
    free(x.p); free(y.p); free(gy.p); free(gx.p);
}
END_TEST

/* ---- tensor ops -------------------------------------------------------------------------- */

START_TEST(test_concat) {
    const char *cs = "concat";
    int g[32];
    load_cfg(cs, g);
    int B = g[0], P = g[1], c[3] = {g[2], g[3], g[4]};
    arr x0 = load(cs, "x0"), x1 = load(cs, "x1"), x2 = load(cs, "x2"), y = load(cs, "y");
    arr gy = load(cs, "gy"), g0 = load(cs, "gx0"), g1 = load(cs, "gx1"), g2 = load(cs, "gx2");
    const float *ins[3] = {x0.p, x1.p, x2.p};
    float *out = zeros(y.n);
    milnce_concat_channels_forward(out, ins, c, 3, B, P);
    expect_close(out, y, cs, "y");
    float *d0 = zeros(x0.n), *d2 = zeros(x2.n);
    float *dins[3] = {d0, NULL, d2};
    milnce_concat_channels_backward(dins, gy.p, c, 3, B, P);
    expect_close(d0, g0, cs, "gx0");
    expect_close(d2, g2, cs, "gx2");
    (void)g1;
    free(out); free(d0); free(d2);
    free(x0.p); free(x1.p); free(x2.p); free(y.p); free(gy.p); free(g0.p); free(g1.p); free(g2.p);
}
END_TEST

START_TEST(test_space_to_depth) {
    const char *cs = "s2d";
    int g[32];
    load_cfg(cs, g);
    arr x = load(cs, "x"), y = load(cs, "y"), gy = load(cs, "gy"), gx = load(cs, "gx");
    float *out = zeros(y.n), *dx = zeros(x.n);
    ck_assert_int_eq(milnce_space_to_depth_forward(out, x.p, g[0], g[1], g[2], g[3], g[4]), 0);
    expect_close(out, y, cs, "y");
    ck_assert_int_eq(milnce_space_to_depth_backward(dx, gy.p, g[0], g[1], g[2], g[3], g[4]), 0);
    expect_close(dx, gx, cs, "gx");
    ck_assert_int_eq(milnce_space_to_depth_forward(out, x.p, 1, 1, 3, 2, 2), MILNCE_ERR_INVALID);
    free(out); free(dx);
    free(x.p); free(y.p); free(gy.p); free(gx.p);
}
END_TEST

START_TEST(test_crop) {
    const char *cs = "crop";
    int g[32];
    load_cfg(cs, g);
    int B = g[0], C = g[1], T = g[2], H = g[3], W = g[4];
    arr x = load(cs, "x"), y = load(cs, "y"), gy = load(cs, "gy"), gx = load(cs, "gx");
    float *out = zeros(y.n), *dx = zeros(x.n);
    ck_assert_int_eq(milnce_crop3d_forward(out, x.p, B, C, T, H, W, 1, 1, 1, T - 1, H - 1, W - 1),
                     0);
    expect_close(out, y, cs, "y");
    ck_assert_int_eq(
        milnce_crop3d_backward(dx, gy.p, B, C, T, H, W, 1, 1, 1, T - 1, H - 1, W - 1), 0);
    expect_close(dx, gx, cs, "gx");
    ck_assert_int_eq(milnce_crop3d_forward(out, x.p, B, C, T, H, W, 1, 1, 1, T, H - 1, W - 1),
                     MILNCE_ERR_RANGE);
    free(out); free(dx);
    free(x.p); free(y.p); free(gy.p); free(gx.p);
}
END_TEST

static const char *EMB_CASES[] = {"embedding", "embedding_pad0"};

START_TEST(test_embedding) {
    const char *cs = EMB_CASES[_i];
    int g[32];
    load_cfg(cs, g);
    int B = g[0], L = g[1], V = g[2], D = g[3], pad = g[4];
    arr idf = load(cs, "ids"), table = load(cs, "table"), y = load(cs, "y"), gy = load(cs, "gy");
    arr gt = load(cs, "gtable");
    int32_t *ids = calloc(idf.n, sizeof(int32_t));
    for (size_t i = 0; i < idf.n; i++) ids[i] = (int32_t)lrintf(idf.p[i]);
    float *out = zeros(y.n), *dt = zeros(table.n);
    ck_assert_int_eq(milnce_embedding_forward(out, ids, table.p, B * L, V, D), 0);
    expect_close(out, y, cs, "y");
    milnce_embedding_backward(dt, gy.p, ids, pad, B * L, V, D);
    expect_close(dt, gt, cs, "gtable");
    milnce_embedding_backward(NULL, gy.p, ids, pad, B * L, V, D); /* frozen: no-op */
    ids[4] = V;
    ck_assert_int_eq(milnce_embedding_forward(out, ids, table.p, B * L, V, D), MILNCE_ERR_RANGE);
    free(ids); free(out); free(dt);
    free(idf.p); free(table.p); free(y.p); free(gy.p); free(gt.p);
}
END_TEST

typedef struct {
    int B, L, D;
    float *x, *y;
    uint8_t *mask;
    int32_t *am;
} mw_ctx;

static const float *mw_fwd(void *p, size_t *n) {
    mw_ctx *k = p;
    milnce_maxwords_forward(k->y, k->am, k->x, k->mask, k->B, k->L, k->D);
    *n = (size_t)k->B * k->D;
    return k->y;
}

static const char *MW_CASES[] = {"maxwords", "maxwords_mask"};

START_TEST(test_maxwords) {
    const char *cs = MW_CASES[_i];
    int g[32];
    load_cfg(cs, g);
    mw_ctx k = {g[0], g[1], g[2], NULL, NULL, NULL, NULL};
    arr x = load(cs, "x"), m = load(cs, "mask"), y = load(cs, "y"), gy = load(cs, "gy");
    arr gx = load(cs, "gx");
    uint8_t *mask = calloc(m.n, 1);
    for (size_t i = 0; i < m.n; i++) mask[i] = m.p[i] != 0;
    k.x = x.p, k.y = zeros(y.n), k.am = calloc(y.n, sizeof(int32_t));
    k.mask = g[3] ? mask : NULL;
    size_t n;
    mw_fwd(&k, &n);
    expect_close(k.y, y, cs, "y");
    float *dx = zeros(x.n);
    milnce_maxwords_backward(dx, gy.p, k.am, k.B, k.L, k.D);
    expect_close(dx, gx, cs, "gx");
    float *r = rand_vec(n, 19);
    memset(dx, 0, sizeof(float) * x.n);
    milnce_maxwords_backward(dx, r, k.am, k.B, k.L, k.D);
    fd_check(mw_fwd, &k, r, x.p, dx, x.n, 1e-3f, cs);
    if (g[3]) {
        /* a sentence with no word at all: output 0, no gradient */
        memset(mask, 0, (size_t)k.L);
        mw_fwd(&k, &n);
        for (int d = 0; d < k.D; d++) {
            ck_assert_float_eq(k.y[d], 0.0f);
            ck_assert_int_eq(k.am[d], -1);
        }
    }
    free(r); free(dx); free(k.y); free(k.am); free(mask);
    free(x.p); free(m.p); free(y.p); free(gy.p); free(gx.p);
}
END_TEST

int main(int argc, char **argv) {
    tu_need_fixtures("layers");
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("reference");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_conv3d, 0, 3 * N_CONV);
    tcase_add_loop_test(tc, test_conv3d_omp, 0, 3 * N_CONV);
    tcase_add_test(tc, test_conv3d_direct_choice);
    tcase_add_test(tc, test_conv3d_rejects_bad_cfg);
    tcase_add_loop_test(tc, test_batchnorm3d, 0, N_BN);
    tcase_add_loop_test(tc, test_maxpool3d, 0, N_POOL);
    tcase_add_test(tc, test_maxpool3d_ties_nan);
    tcase_add_test(tc, test_pool_same_sizes);
    tcase_add_loop_test(tc, test_linear, 0, 4);
    tcase_add_test(tc, test_selfgating);
    tcase_add_loop_test(tc, test_elementwise, 0, 3);
    tcase_add_test(tc, test_concat);
    tcase_add_test(tc, test_space_to_depth);
    tcase_add_test(tc, test_crop);
    tcase_add_loop_test(tc, test_embedding, 0, 2);
    tcase_add_loop_test(tc, test_maxwords, 0, 2);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
