/* Linear: out (N, OC) = in (N, IC) w^T + b, w (OC, IC) as torch.nn.Linear.
 *
 * When OpenBLAS runs single-threaded (see src/nn/conv3d.c) large GEMMs are split over the
 * caller's OpenMP threads (omp_get_max_threads(), the model's count, src/base/omp_scope.h): forward
 * and the input gradient by rows of N, the weight gradient by rows of OC, so no two threads
 * write the same output. prec (src/nn/gemm.h): bf16 takes milnce's single-threaded bf16 kernel,
 * so the work is always split (each thread's call allocates its packing scratch: one
 * allocation per layer call, small against the product). */
#include <cblas.h>
#include <omp.h>

#include "gemm.h"
#include "layers.h"

static int split_threads(long work, int prec) {
    int n = omp_get_max_threads();
    return (n > 1 && (prec == MILNCE_PREC_BF16 || openblas_get_num_threads() == 1) &&
            work > (1L << 20))
               ? n
               : 1;
}

/* [lo, hi) of the i-th of n near-equal parts of [0, len) */
static void part(int len, int i, int n, int *lo, int *hi) {
    *lo = (int)((long)len * i / n);
    *hi = (int)((long)len * (i + 1) / n);
}

int milnce_linear_forward(float *out, const float *in, const float *w, const float *b, int N,
                          int IC, int OC, int prec) {
    const int nth = split_threads((long)N * IC * OC, prec);
    int ret = 0;
#pragma omp parallel num_threads(nth) if (nth > 1) reduction(min : ret)
    {
        int lo, hi;
        part(N, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        if (hi > lo) {
            ret = milnce_gemm(prec, 0, 1, hi - lo, OC, IC, 1.0f, in + (size_t)lo * IC, IC, w, IC,
                              0.0f, out + (size_t)lo * OC, OC, NULL);
            if (b)
                for (int i = lo; i < hi; i++)
                    for (int o = 0; o < OC; o++) out[(size_t)i * OC + o] += b[o];
        }
    }
    return ret;
}

int milnce_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                           const float *w, int N, int IC, int OC, int prec) {
    const int nth = split_threads((long)N * IC * OC, prec);
    int ret = 0;
#pragma omp parallel num_threads(nth) if (nth > 1) reduction(min : ret)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int lo, hi;
        /* din (N, IC) += dout (N, OC) w (OC, IC), rows [lo, hi) of N */
        part(N, t, nt, &lo, &hi);
        if (din && hi > lo)
            ret = milnce_gemm(prec, 0, 0, hi - lo, IC, OC, 1.0f, dout + (size_t)lo * OC, OC, w,
                              IC, 1.0f, din + (size_t)lo * IC, IC, NULL);
        /* dw (OC, IC) += dout^T (OC, N) in (N, IC), rows [lo, hi) of OC */
        part(OC, t, nt, &lo, &hi);
        if (dw && hi > lo) {
            int r = milnce_gemm(prec, 1, 0, hi - lo, IC, N, 1.0f, dout + lo, OC, in, IC, 1.0f,
                                dw + (size_t)lo * IC, IC, NULL);
            if (r < ret) ret = r;
        }
        if (db)
            for (int o = lo; o < hi; o++) {
                double s = 0;
                for (int i = 0; i < N; i++) s += dout[(size_t)i * OC + o];
                db[o] += (float)s;
            }
    }
    return ret;
}
