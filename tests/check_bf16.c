/* bf16 mixed precision (src/nn/gemm_bf16.c and the layers that take it) against PyTorch.
 *
 * The fixtures of tests/reference/bf16_ref.py hold, per layer case, the float64 result of the
 * layer on bf16-rounded operands (rounded by PyTorch) and the same computation on absolute
 * values. bf16 in milnce rounds the operands the same way and sums exact products in fp32, so
 * every output must satisfy |c - ref| <= (n + 8) * 2^-24 * ref_abs, n the number of summed
 * terms (derivation in bf16_ref.py). A result from unrounded operands (an fp32 fallback) misses
 * that bound by ~2^-9 relative: the test also proves the bf16 path ran.
 * The GEMM itself is checked in every transpose against a float64 product computed here on
 * operands rounded by milnce_bf16_round, which is itself checked bit for bit against PyTorch.
 * The whole suite is a skip (exit 77, also under CI=true) on a CPU without AVX512_BF16. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "layers.h"
#include "npy.h"
#include "testutil.h"

#define U 0x1p-24 /* fp32 unit roundoff */

typedef struct {
    float *p;
    size_t n;
} arr;

static arr load(const char *cs, const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s/%s.npy", cs, name);
    arr a;
    a.p = tu_fixture_f32("bf16", rel, &a.n);
    return a;
}

static float *zeros(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    ck_assert(p);
    return p;
}

/* Every got[i] within (n + 8) u ref_abs[i] of ref[i] (times k: k accumulated calls). */
static void expect_bound(const float *got, const char *cs, const char *what, double n, double k) {
    char abs_name[32];
    snprintf(abs_name, sizeof abs_name, "%s_abs", what);
    arr ref = load(cs, what), mag = load(cs, abs_name);
    ck_assert_uint_eq(ref.n, mag.n);
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < ref.n; i++) {
        double bound = (n + 8) * U * k * mag.p[i] + 1e-30;
        double r = fabs((double)got[i] - k * (double)ref.p[i]) / bound;
        if (!(r <= worst)) worst = r, at = i;
    }
    ck_assert_msg(worst <= 1.0, "%s %s: |err| is %.3g x the bound at %zu (got %.9g, ref %.9g)", cs,
                  what, worst, at, got[at], k * ref.p[at]);
    free(ref.p);
    free(mag.p);
}

static void expect_rel(const float *got, const char *cs, const char *what, double tol) {
    arr ref = load(cs, what);
    double e = tu_rel_err(got, ref.p, ref.n, 1e-3);
    ck_assert_msg(e <= tol, "%s %s: max rel err %g > %g", cs, what, e, tol);
    free(ref.p);
}

/* ---- rounding -------------------------------------------------------------------------- */

START_TEST(test_round_matches_torch) {
    arr x = load("round", "x"), r = load("round", "r");
    ck_assert_uint_eq(x.n, r.n);
    for (size_t i = 0; i < x.n; i++) {
        float got = milnce_bf16_round(x.p[i]);
        uint32_t gb, rb, xb;
        memcpy(&gb, &got, 4), memcpy(&rb, &r.p[i], 4), memcpy(&xb, &x.p[i], 4);
        if (isnan(r.p[i]))
            ck_assert_msg(isnan(got), "0x%08x: NaN expected, got 0x%08x", xb, gb);
        else
            ck_assert_msg(gb == rb, "0x%08x: PyTorch 0x%08x, milnce 0x%08x", xb, rb, gb);
    }
    free(x.p);
    free(r.p);
}
END_TEST

/* ---- GEMM ------------------------------------------------------------------------------ */

static float frand(unsigned *s) { return (float)rand_r(s) / RAND_MAX * 2.0f - 1.0f; }

/* C = alpha op(A) op(B) + beta C in bf16 against float64 on rounded operands, every element
 * within (K + 8) u (|alpha| sum|a b| + |beta c|); columns past N (inside ldc) untouched. */
static void gemm_case(int tA, int tB, int M, int N, int K, float alpha, float beta) {
    unsigned s = (unsigned)(M * 131 + N * 7 + K + tA * 3 + tB);
    const int lda = (tA ? M : K) + 3, ldb = (tB ? K : N) + 5, ldc = N + 4;
    const size_t na = (size_t)(tA ? K : M) * lda, nb = (size_t)(tB ? N : K) * ldb;
    const size_t nc = (size_t)M * ldc;
    float *A = zeros(na), *B = zeros(nb), *C = zeros(nc), *C0 = zeros(nc);
    for (size_t i = 0; i < na; i++) A[i] = frand(&s);
    for (size_t i = 0; i < nb; i++) B[i] = frand(&s);
    for (size_t i = 0; i < nc; i++) C0[i] = C[i] = frand(&s);
    if (beta == 0.0f) /* beta 0 must not read C (BLAS): NaN there must not leak */
        for (size_t i = 0; i < nc; i++) C[i] = NAN;
    ck_assert_int_eq(milnce_gemm(MILNCE_PREC_BF16, tA, tB, M, N, K, alpha, A, lda, B, ldb, beta,
                                 C, ldc, NULL),
                     0);
    double worst = 0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                double a = milnce_bf16_round(tA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
                double b = milnce_bf16_round(tB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
                acc += a * b;
                mag += fabs(a * b);
            }
            double c0 = C0[(size_t)i * ldc + j];
            double ref = alpha * acc + beta * c0;
            double bound = (K + 8) * U * (fabs(alpha) * mag + fabs(beta * c0)) + 1e-30;
            double e = fabs(C[(size_t)i * ldc + j] - ref) / bound;
            if (!(e <= worst)) worst = e;
        }
        for (int j = N; j < ldc; j++) {
            float want = beta == 0.0f ? NAN : C0[(size_t)i * ldc + j];
            float got = C[(size_t)i * ldc + j];
            ck_assert_msg(memcmp(&want, &got, 4) == 0, "column %d of row %d written", j, i);
        }
    }
    ck_assert_msg(worst <= 1.0, "gemm tA %d tB %d %dx%dx%d alpha %g beta %g: err %.3g x bound", tA,
                  tB, M, N, K, alpha, beta, worst);
    free(A), free(B), free(C), free(C0);
}

/* Sizes around the kernel's 8x48 tile, K pairs (odd K), K blocks (K > 384, split equally) and
 * N blocks (N > 1536). */
START_TEST(test_gemm) {
    static const int sz[][3] = {{8, 48, 2},   {1, 1, 1},     {7, 47, 3},   {9, 49, 385},
                                {13, 100, 257}, {64, 97, 800}, {200, 60, 31}, {16, 1600, 40}};
    const int t = _i % 4;
    for (size_t c = 0; c < sizeof sz / sizeof sz[0]; c++) {
        gemm_case(t & 1, t >> 1, sz[c][0], sz[c][1], sz[c][2], c % 2 ? 0.5f : 1.0f,
                  c % 3 ? 0.0f : 0.75f);
    }
}
END_TEST

/* Prepacked op(A) (a conv's weights) gives the bits of packing per call. */
START_TEST(test_gemm_prepacked) {
    const int M = 40, N = 70, K = 801;
    unsigned s = 5;
    for (int tA = 0; tA < 2; tA++) {
        const int lda = tA ? M : K;
        float *A = zeros((size_t)M * K), *B = zeros((size_t)K * N);
        float *C1 = zeros((size_t)M * N), *C2 = zeros((size_t)M * N);
        for (size_t i = 0; i < (size_t)M * K; i++) A[i] = frand(&s);
        for (size_t i = 0; i < (size_t)K * N; i++) B[i] = frand(&s);
        size_t bytes = milnce_gemm_packed_a_bytes(MILNCE_PREC_BF16, M, K);
        ck_assert(bytes > 0);
        void *ap = malloc(bytes);
        ck_assert_int_eq(milnce_gemm_pack_a(MILNCE_PREC_BF16, ap, tA, M, K, A, lda), 0);
        ck_assert_int_eq(milnce_gemm(MILNCE_PREC_BF16, tA, 0, M, N, K, 1, A, lda, B, N, 0, C1, N,
                                     NULL),
                         0);
        ck_assert_int_eq(milnce_gemm_ex(MILNCE_PREC_BF16, tA, 0, M, N, K, 1, A, lda, ap, B, N, 0,
                                        C2, N, NULL),
                         0);
        ck_assert(memcmp(C1, C2, sizeof(float) * M * N) == 0);
        free(ap), free(A), free(B), free(C1), free(C2);
    }
    ck_assert_uint_eq(milnce_gemm_packed_a_bytes(MILNCE_PREC_FP32, M, K), 0);
}
END_TEST

/* ---- Conv3d ---------------------------------------------------------------------------- */

static const char *CONV[] = {"conv_stem",     "conv_pw_small", "conv_pw_large", "conv_sep_s",
                             "conv_sep_t",    "conv_s2d",      "conv_odd",      "conv_big",
                             "conv_chunk",    "conv_chunk_s2", "conv_pw_chunk", "conv_b1",
                             "conv_stem_wide", "bf16_kblocks", "bf16_sep_wide", "bf16_pw_deep"};
#define N_CONV (sizeof CONV / sizeof CONV[0])

static void conv_case(const char *cs, int algo) {
    arr g = load(cs, "cfg"), terms = load(cs, "terms");
    int q[16];
    for (int i = 0; i < 16; i++) q[i] = (int)lrintf(g.p[i]);
    const int hb = q[15];
    milnce_conv3d_cfg c = {q[1], q[2], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13], q[14],
                           algo, MILNCE_PREC_BF16};
    const int B = q[0], T = q[3], H = q[4], W = q[5];
    arr x = load(cs, "x"), w = load(cs, "w"), gy = load(cs, "gy"), b = {0};
    if (hb) b = load(cs, "b");
    int To, Ho, Wo;
    ck_assert_int_eq(milnce_conv3d_out_dims(&c, T, H, W, &To, &Ho, &Wo), 0);
    const size_t ny = (size_t)B * c.c_out * To * Ho * Wo;
    ck_assert_uint_eq(ny, gy.n);
    float *y = zeros(ny), *ws = zeros(milnce_conv3d_workspace_floats(&c, B, T, H, W));
    ck_assert_int_eq(milnce_conv3d_forward(y, x.p, w.p, hb ? b.p : NULL, ws, &c, B, T, H, W), 0);
    expect_bound(y, cs, "y", terms.p[0], 1);
    float *dx = zeros(x.n), *dw = zeros(w.n), *db = zeros(hb ? b.n : 1);
    for (int rep = 1; rep <= 2; rep++) { /* backward accumulates: the second call doubles */
        ck_assert_int_eq(milnce_conv3d_backward(dx, dw, hb ? db : NULL, gy.p, x.p, w.p, ws, &c, B,
                                                T, H, W),
                         0);
        expect_bound(dx, cs, "gx", terms.p[1] * rep, rep);
        expect_bound(dw, cs, "gw", terms.p[2] * rep, rep);
    }
    if (hb) {
        for (size_t i = 0; i < b.n; i++) db[i] *= 0.5f;
        expect_rel(db, cs, "gb", 1e-5);
    }
    free(y), free(ws), free(dx), free(dw), free(db);
    free(g.p), free(terms.p), free(x.p), free(w.p), free(gy.p), free(b.p);
}

/* The algorithm the layer picks (in bf16 every shape, the stems too, takes the GEMM path), with
 * OpenBLAS's threads as they are. */
START_TEST(test_conv3d) { conv_case(CONV[_i], MILNCE_CONV_AUTO); }
END_TEST

/* 3 OpenMP threads on 2 cores: unit boundaries and the private weight-gradient sums. */
START_TEST(test_conv3d_omp) {
    int no = omp_get_max_threads();
    omp_set_num_threads(3);
    conv_case(CONV[_i], MILNCE_CONV_AUTO);
    omp_set_num_threads(no);
}
END_TEST

/* A pass is deterministic: the same bits twice, whatever the threads' timing. */
START_TEST(test_conv3d_repeatable) {
    const char *cs = "bf16_kblocks";
    arr g = load(cs, "cfg"), x = load(cs, "x"), w = load(cs, "w"), gy = load(cs, "gy");
    int q[16];
    for (int i = 0; i < 16; i++) q[i] = (int)lrintf(g.p[i]);
    milnce_conv3d_cfg c = {q[1], q[2], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13], q[14],
                           MILNCE_CONV_AUTO, MILNCE_PREC_BF16};
    const int B = q[0], T = q[3], H = q[4], W = q[5];
    float *ws = zeros(milnce_conv3d_workspace_floats(&c, B, T, H, W));
    float *y[2], *dw[2];
    for (int r = 0; r < 2; r++) {
        y[r] = zeros(gy.n), dw[r] = zeros(w.n);
        ck_assert_int_eq(milnce_conv3d_forward(y[r], x.p, w.p, NULL, ws, &c, B, T, H, W), 0);
        ck_assert_int_eq(milnce_conv3d_backward(NULL, dw[r], NULL, gy.p, x.p, w.p, ws, &c, B, T,
                                                H, W),
                         0);
    }
    ck_assert(memcmp(y[0], y[1], sizeof(float) * gy.n) == 0);
    ck_assert(memcmp(dw[0], dw[1], sizeof(float) * w.n) == 0);
    for (int r = 0; r < 2; r++) free(y[r]), free(dw[r]);
    free(ws), free(g.p), free(x.p), free(w.p), free(gy.p);
}
END_TEST

/* ---- Linear ---------------------------------------------------------------------------- */

static const char *LIN[] = {"lin_text", "lin_kblocks", "lin_one"};

START_TEST(test_linear) {
    const char *cs = LIN[_i];
    arr g = load(cs, "cfg"), terms = load(cs, "terms");
    const int N = (int)g.p[0], IC = (int)g.p[1], OC = (int)g.p[2];
    arr x = load(cs, "x"), w = load(cs, "w"), b = load(cs, "b"), gy = load(cs, "gy");
    float *y = zeros((size_t)N * OC), *dx = zeros(x.n), *dw = zeros(w.n), *db = zeros(b.n);
    ck_assert_int_eq(milnce_linear_forward(y, x.p, w.p, b.p, N, IC, OC, MILNCE_PREC_BF16), 0);
    expect_bound(y, cs, "y", terms.p[0], 1);
    ck_assert_int_eq(
        milnce_linear_backward(dx, dw, db, gy.p, x.p, w.p, N, IC, OC, MILNCE_PREC_BF16), 0);
    expect_bound(dx, cs, "gx", terms.p[1], 1);
    expect_bound(dw, cs, "gw", terms.p[2], 1);
    expect_rel(db, cs, "gb", 1e-5);
    free(y), free(dx), free(dw), free(db);
    free(g.p), free(terms.p), free(x.p), free(w.p), free(b.p), free(gy.p);
}
END_TEST

int main(int argc, char **argv) {
    if (!milnce_bf16_supported())
        tu_skip(TU_NEED_HARDWARE, "this CPU has no AVX512_BF16: milnce's bf16 kernels cannot run "
                                  "(fp32 is tested by check_layers)");
    tu_need_fixtures("bf16");
    Suite *s = suite_create("bf16");
    TCase *tc = tcase_create("reference");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_round_matches_torch);
    tcase_add_loop_test(tc, test_gemm, 0, 4);
    tcase_add_test(tc, test_gemm_prepacked);
    tcase_add_loop_test(tc, test_conv3d, 0, N_CONV);
    tcase_add_loop_test(tc, test_conv3d_omp, 0, N_CONV);
    tcase_add_test(tc, test_conv3d_repeatable);
    tcase_add_loop_test(tc, test_linear, 0, 3);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
