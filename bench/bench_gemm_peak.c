/* The machine's GEMM peaks, for the "fraction of peak" of bench/train_step.sh: OpenBLAS sgemm
 * (all its threads, the kernel this process runs) and milnce's bf16 GEMM (src/nn/gemm_bf16.c,
 * single-threaded by design: one independent product per OpenMP thread, summed), on square
 * products of side N, best of 5. Prints "sgemm KERNEL GFLOPS" and "bf16 GFLOPS" (0 without
 * AVX512_BF16). usage: bench_gemm_peak [N] */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "blas_select.h"
#include "gemm.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *filled(size_t n, int mod, float step) {
    float *p = malloc(sizeof(float) * n);
    if (!p) exit(1);
    for (size_t i = 0; i < n; i++) p[i] = (float)(i % (size_t)mod) * step;
    return p;
}

int main(int argc, char **argv) {
    milnce_blas_select_kernel(argc, argv);
    const int n = argc > 1 ? atoi(argv[1]) : 1536;
    const size_t nn = (size_t)n * n;
    const double flop = 2.0 * n * (double)n * n;
    float *a = filled(nn, 7, 0.1f), *b = filled(nn, 5, 0.2f), *c = filled(nn, 3, 0.0f);
    double best = 0;
    for (int rep = 0; rep < 6; rep++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double g = flop / (now() - t) / 1e9;
        if (rep > 0 && g > best) best = g;
    }
    printf("sgemm %s %.1f\n", milnce_blas_core(), best);
    double bbest = 0;
    if (milnce_bf16_supported()) {
        const int nt = omp_get_max_threads();
        float **cs = malloc(sizeof(float *) * (size_t)nt);
        for (int t = 0; t < nt; t++) cs[t] = filled(nn, 3, 0.0f);
        for (int rep = 0; rep < 6; rep++) {
            double t0 = now();
#pragma omp parallel num_threads(nt)
            milnce_gemm(MILNCE_PREC_BF16, 0, 0, n, n, n, 1, a, n, b, n, 0,
                        cs[omp_get_thread_num()], n, NULL);
            double g = nt * flop / (now() - t0) / 1e9;
            if (rep > 0 && g > bbest) bbest = g;
        }
        for (int t = 0; t < nt; t++) free(cs[t]);
        free(cs);
    }
    printf("bf16 %.1f\n", bbest);
    free(a), free(b), free(c);
    return 0;
}
