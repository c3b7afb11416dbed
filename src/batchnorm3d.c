/* BatchNorm3d (and BatchNorm3d + ReLU fused) forward/backward over (B, C, P).
 *
 * One channel's values are B strided runs of P floats; each channel is independent, so the
 * channel loop is the parallel one. Sums are accumulated in double: a channel of the full
 * network's conv1 has B*P = 32*8*112*112 = 3.2 M values. */
#include <math.h>
#include <stddef.h>

#include "layers.h"

static void bn_forward(float *out, float *mean, float *invstd, float *running_mean,
                       float *running_var, const float *in, const float *gamma, const float *beta,
                       int train, float momentum, float eps, int B, int C, int P, int relu) {
    const size_t n = (size_t)B * P;
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < C; c++) {
        float m, is;
        if (train) {
            double s = 0;
            for (int b = 0; b < B; b++) {
                const float *x = in + ((size_t)b * C + c) * P;
                for (int p = 0; p < P; p++) s += x[p];
            }
            double mu = s / (double)n, v = 0;
            /* Two passes: the variance of post-ReLU activations with a large mean loses digits
             * in the one-pass E[x^2] - E[x]^2. */
            for (int b = 0; b < B; b++) {
                const float *x = in + ((size_t)b * C + c) * P;
                for (int p = 0; p < P; p++) {
                    double d = x[p] - mu;
                    v += d * d;
                }
            }
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
        for (int b = 0; b < B; b++) {
            const float *x = in + ((size_t)b * C + c) * P;
            float *y = out + ((size_t)b * C + c) * P;
            if (relu)
                for (int p = 0; p < P; p++) {
                    float v = x[p] * a + k;
                    y[p] = v > 0.0f ? v : 0.0f;
                }
            else
                for (int p = 0; p < P; p++) y[p] = x[p] * a + k;
        }
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
            const float *x = in + o, *g = dout + o, *y = relu ? out + o : NULL;
            double s1 = 0, s2 = 0;
            if (relu)
                for (int p = 0; p < P; p++) {
                    float d = y[p] > 0.0f ? g[p] : 0.0f;
                    s1 += d;
                    s2 += d * (x[p] - m);
                }
            else
                for (int p = 0; p < P; p++) {
                    s1 += g[p];
                    s2 += g[p] * (x[p] - m);
                }
            sdy += s1;
            sdyx += s2;
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
            const float *x = in + o, *g = dout + o, *y = relu ? out + o : NULL;
            float *dx = din + o;
            if (relu)
                for (int p = 0; p < P; p++) {
                    float d = y[p] > 0.0f ? g[p] : 0.0f;
                    dx[p] += gi * (d - c1 - (x[p] - m) * c2);
                }
            else
                for (int p = 0; p < P; p++) dx[p] += gi * (g[p] - c1 - (x[p] - m) * c2);
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
