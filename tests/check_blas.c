/* The BLAS kernel milnce selects: fastest the CPU can run, and correct. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas_select.h"
#include "testutil.h"

START_TEST(test_kernel_is_best_available) {
    /* After tu_run's milnce_blas_select_kernel(): the running kernel is one the decision keeps,
     * i.e. at least as fast as the best this CPU executes, or the user's own OPENBLAS_CORETYPE
     * (milnce marks the one it sets with MILNCE_BLAS_SELECTED). */
    milnce_cpu_features cpu = milnce_cpu_features_host();
    const char *user = getenv("MILNCE_BLAS_SELECTED") ? NULL : getenv("OPENBLAS_CORETYPE");
    milnce_blas_plan p = milnce_blas_decide(&cpu, user, milnce_blas_core());
    if (!getenv("MILNCE_BLAS_NO_REEXEC"))
        ck_assert_msg(!p.reexec, "running %s, CPU supports %s (%s)", milnce_blas_core(),
                      milnce_blas_best_core() ? milnce_blas_best_core() : "(default)", milnce_blas_status());
}
END_TEST

/* sgemm in the selected kernel against a naive double-precision product, for shapes that hit
 * the kernel's edge cases (not multiples of the register blocking), both transposes. */
START_TEST(test_sgemm_matches_naive) {
    static const int dims[][3] = {{1, 1, 1}, {7, 5, 3}, {64, 64, 64}, {129, 67, 255}, {300, 17, 1000}};
    unsigned seed = 12345;
    for (size_t t = 0; t < sizeof dims / sizeof dims[0]; t++) {
        for (int ta = 0; ta < 2; ta++) {
            int M = dims[t][0], N = dims[t][1], K = dims[t][2];
            float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
            float *C = malloc(sizeof(float) * M * N);
            for (int i = 0; i < M * K; i++) A[i] = (float)rand_r(&seed) / RAND_MAX - 0.5f;
            for (int i = 0; i < K * N; i++) B[i] = (float)rand_r(&seed) / RAND_MAX - 0.5f;
            for (int i = 0; i < M * N; i++) C[i] = 1.0f;
            /* A stored (M,K) row-major, or (K,M) when transposed. */
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, CblasNoTrans, M, N, K, 1.0f,
                        A, ta ? M : K, B, N, 0.5f, C, N);
            double worst = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0.5, mag = 0.5;
                    for (int k = 0; k < K; k++) {
                        double a = ta ? A[k * M + i] : A[i * K + k];
                        s += a * B[k * N + j];
                        mag += fabs(a * B[k * N + j]);
                    }
                    double e = fabs(s - C[i * N + j]) / mag;
                    if (e > worst) worst = e;
                }
            ck_assert_msg(worst < 1e-5, "sgemm %dx%dx%d trans=%d rel err %g in kernel %s", M, N, K,
                          ta, worst, milnce_blas_core());
            free(A); free(B); free(C);
        }
    }
}
END_TEST

int main(int argc, char **argv) {
    Suite *s = suite_create("blas");
    TCase *tc = tcase_create("kernel");
    tcase_add_test(tc, test_kernel_is_best_available);
    tcase_add_test(tc, test_sgemm_matches_naive);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
