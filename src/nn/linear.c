/* Linear: out (N, OC) = in (N, IC) w^T + b, w (OC, IC) as torch.nn.Linear.
 *
 * When OpenBLAS runs single-threaded (see src/nn/conv3d.c) large GEMMs are split over the
 * caller's OpenMP threads (omp_get_max_threads(), the model's count, src/base/omp_scope.h): forward
 * and the input gradient by rows of N, the weight gradient by rows of OC, so no two threads
 * write the same output. */
#include <cblas.h>
#include <omp.h>

#include "layers.h"

static int split_threads(long work) {
    int n = omp_get_max_threads();
    return (n > 1 && openblas_get_num_threads() == 1 && work > (1L << 20)) ? n : 1;
}

/* [lo, hi) of the i-th of n near-equal parts of [0, len) */
static void part(int len, int i, int n, int *lo, int *hi) {
    *lo = (int)((long)len * i / n);
    *hi = (int)((long)len * (i + 1) / n);
}

void milnce_linear_forward(float *out, const float *in, const float *w, const float *b, int N,
                           int IC, int OC) {
    const int nth = split_threads((long)N * IC * OC);
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        int lo, hi;
        part(N, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        if (hi > lo) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, hi - lo, OC, IC, 1.0f,
                        in + (size_t)lo * IC, IC, w, IC, 0.0f, out + (size_t)lo * OC, OC);
            if (b)
                for (int i = lo; i < hi; i++)
                    for (int o = 0; o < OC; o++) out[(size_t)i * OC + o] += b[o];
        }
    }
}

void milnce_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                            const float *w, int N, int IC, int OC) {
    const int nth = split_threads((long)N * IC * OC);
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int lo, hi;
        /* din (N, IC) += dout (N, OC) w (OC, IC), rows [lo, hi) of N */
        part(N, t, nt, &lo, &hi);
        if (din && hi > lo)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, IC, OC, 1.0f,
                        dout + (size_t)lo * OC, OC, w, IC, 1.0f, din + (size_t)lo * IC, IC);
        /* dw (OC, IC) += dout^T (OC, N) in (N, IC), rows [lo, hi) of OC */
        part(OC, t, nt, &lo, &hi);
        if (dw && hi > lo)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, hi - lo, IC, N, 1.0f, dout + lo,
                        OC, in, IC, 1.0f, dw + (size_t)lo * IC, IC);
        if (db)
            for (int o = lo; o < hi; o++) {
                double s = 0;
                for (int i = 0; i < N; i++) s += dout[(size_t)i * OC + o];
                db[o] += (float)s;
            }
    }
}
