/* BatchNorm3d (and BatchNorm3d + ReLU fused) forward/backward over (B, C, P).
 *
 * One channel's values are B strided runs of P floats; each channel is independent, so the
 * channel loop is the parallel one. Sums are accumulated in double: a channel of the full
 * network's conv1 has B*P = 32*8*112*112 = 3.2 M values. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "layers.h"
#include "simd.h"

/* Row kernels over one (b, c) run of P floats, on 8-float vectors (src/base/simd.h): sums keep 8
 * independent float lanes (a single double accumulator is one dependent add per element, 4+
 * cycles each) over blocks of at most SUM_BLOCK elements, each block then added into a double,
 * so the float error is that of a SUM_BLOCK/8-term sum and the rest is summed in double. */
#define SUM_BLOCK 512

typedef milnce_vf8 vf; /* 8 floats: the ReLU masks compare (src/base/simd.h) */
#define VL MILNCE_VL8

/* by pointer: a vector argument would change the baseline ABI */
static inline double lanes_sum(const vf *v) {
    float t[VL];
    memcpy(t, v, sizeof t);
    double s = 0;
    for (int k = 0; k < VL; k++) s += t[k];
    return s;
}

/* *s += sum x; with sq, *s += sum (x - m)^2 instead (the second pass of the variance). */
MILNCE_KERNEL
static void sum_run(const float *x, float m, int sq, int P, double *s) {
    for (int p0 = 0; p0 < P; p0 += SUM_BLOCK) {
        const int n = P - p0 < SUM_BLOCK ? P - p0 : SUM_BLOCK;
        const float *xb = x + p0;
        vf acc = {0};
        float tail = 0.0f;
        int p = 0;
        if (sq) {
            for (; p + VL <= n; p += VL) {
                const vf d = milnce_ldu8(xb + p) - m;
                acc += d * d;
            }
            for (; p < n; p++) tail += (xb[p] - m) * (xb[p] - m);
        } else {
            for (; p + VL <= n; p += VL) acc += milnce_ldu8(xb + p);
            for (; p < n; p++) tail += xb[p];
        }
        *s += lanes_sum(&acc) + tail;
    }
}

/* y = x * a + k, then max(., 0) when relu. */
MILNCE_KERNEL
static void scale_shift_run(float *y, const float *x, float a, float k, int relu, int P) {
    int p = 0;
    const vf zero = {0};
    if (relu)
        for (; p + VL <= P; p += VL) {
            const vf v = milnce_ldu8(x + p) * a + k;
            milnce_stu8(y + p, milnce_and8(v, v > zero));
        }
    else
        for (; p + VL <= P; p += VL) milnce_stu8(y + p, milnce_ldu8(x + p) * a + k);
    for (; p < P; p++) {
        const float v = x[p] * a + k;
        y[p] = relu && !(v > 0.0f) ? 0.0f : v;
    }
}

/* *s1 += sum g', *s2 += sum g' * (x - m) with g' = g masked by y > 0 when y is given. */
MILNCE_KERNEL
static void dot_run(const float *g, const float *x, const float *y, float m, int P, double *s1,
                    double *s2) {
    const vf zero = {0};
    for (int p0 = 0; p0 < P; p0 += SUM_BLOCK) {
        const int n = P - p0 < SUM_BLOCK ? P - p0 : SUM_BLOCK;
        vf a1 = {0}, a2 = {0};
        float t1 = 0.0f, t2 = 0.0f;
        int p = p0;
        for (; p + VL <= p0 + n; p += VL) {
            vf d = milnce_ldu8(g + p);
            if (y) d = milnce_and8(d, milnce_ldu8(y + p) > zero);
            a1 += d;
            a2 += d * (milnce_ldu8(x + p) - m);
        }
        for (; p < p0 + n; p++) {
            const float d = (!y || y[p] > 0.0f) ? g[p] : 0.0f;
            t1 += d;
            t2 += d * (x[p] - m);
        }
        *s1 += lanes_sum(&a1) + t1;
        *s2 += lanes_sum(&a2) + t2;
    }
}

/* dx += gi * (g' - c1 - (x - m) * c2), g' as in dot_run. */
MILNCE_KERNEL
static void dx_run(float *dx, const float *g, const float *x, const float *y, float gi, float c1,
                   float m, float c2, int P) {
    const vf zero = {0};
    int p = 0;
    for (; p + VL <= P; p += VL) {
        vf d = milnce_ldu8(g + p);
        if (y) d = milnce_and8(d, milnce_ldu8(y + p) > zero);
        milnce_stu8(dx + p, milnce_ldu8(dx + p) + gi * (d - c1 - (milnce_ldu8(x + p) - m) * c2));
    }
    for (; p < P; p++) {
        const float d = (!y || y[p] > 0.0f) ? g[p] : 0.0f;
        dx[p] += gi * (d - c1 - (x[p] - m) * c2);
    }
}

static void bn_forward(float *out, float *mean, float *invstd, float *running_mean,
                       float *running_var, const float *in, const float *gamma, const float *beta,
                       int train, float momentum, float eps, int B, int C, int P, int relu) {
    const size_t n = (size_t)B * P;
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < C; c++) {
        float m, is;
        if (train) {
            double s = 0;
            for (int b = 0; b < B; b++) sum_run(in + ((size_t)b * C + c) * P, 0.0f, 0, P, &s);
            double mu = s / (double)n, v = 0;
            /* Two passes: the variance of post-ReLU activations with a large mean loses digits
             * in the one-pass E[x^2] - E[x]^2. */
            for (int b = 0; b < B; b++) sum_run(in + ((size_t)b * C + c) * P, (float)mu, 1, P, &v);
            double var = v / (double)n;
            m = (float)mu;
            is = (float)(1.0 / sqrt(var + eps));
            if (running_mean)
                running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu);
            if (running_var) {
                double unbiased = n > 1 ? v / (double)(n - 1) : var;
                running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
            }
        } else {
            m = running_mean[c];
            is = (float)(1.0 / sqrt((double)running_var[c] + eps));
        }
        mean[c] = m;
        invstd[c] = is;
        /* y = x * a + k with a = gamma*invstd, k = beta - mean*a */
        const float a = (gamma ? gamma[c] : 1.0f) * is;
        const float k = (beta ? beta[c] : 0.0f) - m * a;
        for (int b = 0; b < B; b++)
            scale_shift_run(out + ((size_t)b * C + c) * P, in + ((size_t)b * C + c) * P, a, k,
                            relu, P);
    }
}

/* out is the forward output when relu (the mask out > 0), else unused. */
static void bn_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                        const float *out, const float *mean, const float *invstd,
                        const float *gamma, int train, int B, int C, int P, int relu) {
    const double n = (double)B * P;
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < C; c++) {
        const float m = mean[c], is = invstd[c];
        double sdy = 0, sdyx = 0; /* sum dy, sum dy * xhat (dy after the ReLU mask) */
        for (int b = 0; b < B; b++) {
            const size_t o = ((size_t)b * C + c) * P;
            dot_run(dout + o, in + o, relu ? out + o : NULL, m, P, &sdy, &sdyx);
        }
        sdyx *= is;
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
        if (!din) continue;
        const float gi = (gamma ? gamma[c] : 1.0f) * is;
        /* train: dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat)) */
        const float c1 = train ? (float)(sdy / n) : 0.0f;
        const float c2 = train ? (float)(sdyx / n) * is : 0.0f; /* times (x - m) = xhat/invstd */
        for (int b = 0; b < B; b++) {
            const size_t o = ((size_t)b * C + c) * P;
            dx_run(din + o, dout + o, in + o, relu ? out + o : NULL, gi, c1, m, c2, P);
        }
    }
}

void milnce_batchnorm3d_forward(float *out, float *mean, float *invstd, float *running_mean,
                                float *running_var, const float *in, const float *gamma,
                                const float *beta, int train, float momentum, float eps, int B,
                                int C, int P) {
    bn_forward(out, mean, invstd, running_mean, running_var, in, gamma, beta, train, momentum, eps,
               B, C, P, 0);
}

void milnce_batchnorm3d_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                                 const float *in, const float *mean, const float *invstd,
                                 const float *gamma, int train, int B, int C, int P) {
    bn_backward(din, dgamma, dbeta, dout, in, NULL, mean, invstd, gamma, train, B, C, P, 0);
}

void milnce_bnrelu3d_forward(float *out, float *mean, float *invstd, float *running_mean,
                             float *running_var, const float *in, const float *gamma,
                             const float *beta, int train, float momentum, float eps, int B, int C,
                             int P) {
    bn_forward(out, mean, invstd, running_mean, running_var, in, gamma, beta, train, momentum, eps,
               B, C, P, 1);
}

void milnce_bnrelu3d_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                              const float *in, const float *out, const float *mean,
                              const float *invstd, const float *gamma, int train, int B, int C,
                              int P) {
    bn_backward(din, dgamma, dbeta, dout, in, out, mean, invstd, gamma, train, B, C, P, 1);
}

/* ---- synchronised: statistics over every rank's batch (see layers.h) ---- */

int milnce_bnrelu3d_forward_sync(float *out, float *mean, float *invstd, float *running_mean,
                                 float *running_var, const float *in, const float *gamma,
                                 const float *beta, float momentum, float eps, int B, int C, int P,
                                 const milnce_bn_sync *sync) {
    double *st = malloc(sizeof *st * (2 * (size_t)C + 1)); /* sums (C), count, squares (C) */
    if (!st) return MILNCE_ERR_NOMEM;
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < C; c++) {
        double s = 0;
        for (int b = 0; b < B; b++) sum_run(in + ((size_t)b * C + c) * P, 0.0f, 0, P, &s);
        st[c] = s;
    }
    st[C] = (double)B * P;
    int ret = sync->allreduce_sum(sync->user, st, (size_t)C + 1);
    const double n = st[C];
    if (ret == 0) {
#pragma omp parallel for schedule(dynamic, 1)
        for (int c = 0; c < C; c++) {
            const double mu = st[c] / n;
            double v = 0;
            for (int b = 0; b < B; b++) sum_run(in + ((size_t)b * C + c) * P, (float)mu, 1, P, &v);
            st[C + 1 + c] = v;
        }
        ret = sync->allreduce_sum(sync->user, st + C + 1, (size_t)C);
    }
    if (ret == 0) {
#pragma omp parallel for schedule(dynamic, 1)
        for (int c = 0; c < C; c++) {
            const double mu = st[c] / n, v = st[C + 1 + c], var = v / n;
            const float m = (float)mu, is = (float)(1.0 / sqrt(var + eps));
            if (running_mean) running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu);
            if (running_var) {
                double unbiased = n > 1 ? v / (n - 1) : var;
                running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
            }
            mean[c] = m;
            invstd[c] = is;
            const float a = (gamma ? gamma[c] : 1.0f) * is;
            const float k = (beta ? beta[c] : 0.0f) - m * a;
            for (int b = 0; b < B; b++)
                scale_shift_run(out + ((size_t)b * C + c) * P, in + ((size_t)b * C + c) * P, a, k, 1, P);
        }
    }
    free(st);
    return ret;
}

int milnce_bnrelu3d_backward_sync(float *din, float *dgamma, float *dbeta, const float *dout,
                                  const float *in, const float *out, const float *mean,
                                  const float *invstd, const float *gamma, int B, int C, int P,
                                  const milnce_bn_sync *sync) {
    double *st = malloc(sizeof *st * (2 * (size_t)C + 1)); /* sum dy (C), sum dy*xhat (C), count */
    if (!st) return MILNCE_ERR_NOMEM;
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < C; c++) {
        double sdy = 0, sdyx = 0;
        for (int b = 0; b < B; b++) {
            const size_t o = ((size_t)b * C + c) * P;
            dot_run(dout + o, in + o, out + o, mean[c], P, &sdy, &sdyx);
        }
        sdyx *= invstd[c];
        if (dgamma) dgamma[c] += (float)sdyx; /* this rank's part */
        if (dbeta) dbeta[c] += (float)sdy;
        st[c] = sdy;
        st[C + c] = sdyx;
    }
    st[2 * C] = (double)B * P;
    int ret = din ? sync->allreduce_sum(sync->user, st, 2 * (size_t)C + 1) : 0;
    if (ret == 0 && din) {
        const double n = st[2 * C];
#pragma omp parallel for schedule(dynamic, 1)
        for (int c = 0; c < C; c++) {
            const float m = mean[c], is = invstd[c];
            const float gi = (gamma ? gamma[c] : 1.0f) * is;
            const float c1 = (float)(st[c] / n), c2 = (float)(st[C + c] / n) * is;
            for (int b = 0; b < B; b++) {
                const size_t o = ((size_t)b * C + c) * P;
                dx_run(din + o, dout + o, in + o, out + o, gi, c1, m, c2, P);
            }
        }
    }
    free(st);
    return ret;
}
