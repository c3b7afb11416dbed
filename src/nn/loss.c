#include "loss.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NORM_EPS 1e-12 /* torch.nn.functional.normalize's default */

/* y (n, D) = x / max(||x||, eps) row by row; nrm (n) keeps max(||x||, eps) for backward. */
static void l2_normalize_rows(float *y, double *nrm, const float *x, size_t n, int D) {
    for (size_t r = 0; r < n; r++) {
        const float *xr = x + r * (size_t)D;
        double s = 0;
        for (int d = 0; d < D; d++) s += (double)xr[d] * xr[d];
        double nr = sqrt(s);
        if (nr < NORM_EPS) nr = NORM_EPS;
        nrm[r] = nr;
        for (int d = 0; d < D; d++) y[r * (size_t)D + d] = (float)(xr[d] / nr);
    }
}

/* dx (n, D) += d/dx of y = x / max(||x||, eps) given dy (n, D): (dy - y <y, dy>) / ||x||, or
 * dy / eps where the norm was clamped (y is then x / eps, linear in x). */
static void l2_normalize_backward(float *dx, const float *dy, const float *y, const double *nrm,
                                  size_t n, int D) {
    for (size_t r = 0; r < n; r++) {
        const float *yr = y + r * (size_t)D, *gr = dy + r * (size_t)D;
        float *out = dx + r * (size_t)D;
        if (nrm[r] <= NORM_EPS) {
            for (int d = 0; d < D; d++) out[d] += (float)(gr[d] / NORM_EPS);
            continue;
        }
        double dot = 0;
        for (int d = 0; d < D; d++) dot += (double)yr[d] * gr[d];
        for (int d = 0; d < D; d++) out[d] += (float)((gr[d] - yr[d] * dot) / nrm[r]);
    }
}

static double lse_combine(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    double m = a > b ? a : b;
    return m + log(exp(a - m) + exp(b - m));
}

/* The MIL-NCE loss proper (header comment); bag rule ignored; arguments checked by the caller. */
static int milnce_bag_loss(float *loss, float *dV, float *dT, const float *V, const float *T,
                           const uint8_t *mask, int B, int K, int D, int r0, int b,
                           const milnce_loss_opts *opts, milnce_error *err) {
    const int backward = dV != NULL;
    const double tau = (opts && opts->temperature > 0) ? opts->temperature : 1.0;
    const int norm = opts && opts->normalize;
    const size_t BK = (size_t)B * K;

    for (size_t i = 0; i < (size_t)B * D; i++)
        if (!isfinite(V[i]))
            return milnce_error_set(err, MILNCE_ERR_NUMERIC, "milnce loss: video embedding V[%zu][%zu] is %g",
                                    i / D, i % D, V[i]);
    for (size_t i = 0; i < BK * D; i++)
        if (!isfinite(T[i]))
            return milnce_error_set(err, MILNCE_ERR_NUMERIC,
                                    "milnce loss: text embedding T[%zu][%zu][%zu] is %g", i / D / K,
                                    i / D % K, i % D, T[i]);
    if (mask)
        for (int i = 0; i < B; i++) {
            int any = 0;
            for (int k = 0; k < K; k++) any |= mask[(size_t)i * K + k] != 0;
            if (!any)
                return milnce_error_set(err, MILNCE_ERR_INVALID,
                                        "milnce loss: sample %d has no unmasked text candidate", i);
        }
#define M(j, k) (!mask || mask[(size_t)(j) * K + (k)])

    int ret = 0;
    float *S = malloc(sizeof(float) * (size_t)B * BK); /* (B, B*K) scores, then their gradient */
    double *rl = malloc(sizeof(double) * 4 * (size_t)B);  /* row LSE, column LSE, den, num (B) */
    float *Vn = NULL, *Tn = NULL, *gV = NULL, *gT = NULL;
    double *nv = NULL, *nt = NULL;
    if (!S || !rl) goto nomem;
    double *rowl = rl, *coll = rl + B, *den = rl + 2 * B, *num = rl + 3 * B;

    const float *Vu = V, *Tu = T; /* the vectors that are scored: raw or normalised */
    if (norm) {
        Vn = malloc(sizeof(float) * (size_t)B * D);
        Tn = malloc(sizeof(float) * BK * D);
        nv = malloc(sizeof(double) * B);
        nt = malloc(sizeof(double) * BK);
        if (!Vn || !Tn || !nv || !nt) goto nomem;
        l2_normalize_rows(Vn, nv, V, B, D);
        l2_normalize_rows(Tn, nt, T, BK, D);
        Vu = Vn;
        Tu = Tn;
    }

    /* S (B, BK) = V (B, D) . T^T (D, BK) / tau */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, (int)BK, D, (float)(1.0 / tau), Vu, D, Tu,
                D, 0.0f, S, (int)BK);

    /* Row i's LSE over {x[i,j,k]}: its own row of S. Column LSE over {x[j,i,k]}: bag i's K
     * columns in every row j. Both with the maximum subtracted, in double. Rows are independent,
     * so the result does not depend on the thread count. */
#pragma omp parallel for schedule(static) if (B * BK > 4096)
    for (int i = 0; i < B; i++) {
        const float *Si = S + (size_t)i * BK;
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < B; j++)
            for (int k = 0; k < K; k++)
                if (M(j, k) && Si[(size_t)j * K + k] > mx) mx = Si[(size_t)j * K + k];
        for (int j = 0; j < B; j++)
            for (int k = 0; k < K; k++)
                if (M(j, k)) s += exp(Si[(size_t)j * K + k] - mx);
        rowl[i] = mx + log(s);
        mx = -INFINITY;
        for (int k = 0; k < K; k++)
            if (M(i, k) && Si[(size_t)i * K + k] > mx) mx = Si[(size_t)i * K + k];
        s = 0;
        for (int k = 0; k < K; k++)
            if (M(i, k)) s += exp(Si[(size_t)i * K + k] - mx);
        num[i] = mx + log(s);
    }
#pragma omp parallel for schedule(static) if (B * BK > 4096)
    for (int i = 0; i < B; i++) {
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < B; j++)
            for (int k = 0; k < K; k++)
                if (M(i, k) && S[(size_t)j * BK + (size_t)i * K + k] > mx) mx = S[(size_t)j * BK + (size_t)i * K + k];
        for (int j = 0; j < B; j++)
            for (int k = 0; k < K; k++)
                if (M(i, k)) s += exp(S[(size_t)j * BK + (size_t)i * K + k] - mx);
        coll[i] = mx + log(s);
    }
    double total = 0;
    for (int i = 0; i < B; i++) {
        den[i] = lse_combine(rowl[i], coll[i]);
        total += den[i] - num[i];
    }
    *loss = (float)(total / B);
    if (!isfinite(*loss)) {
        ret = milnce_error_set(err, MILNCE_ERR_NUMERIC, "milnce loss: loss is %g", *loss);
        goto end;
    }
    if (!backward) goto end;

    /* dloss/dS[a, b*K+k] = m[b,k]/B * (softmax share of S in den_a + its share in den_b
     *                                   - [a == b] its share in num_a), then / tau for x. */
    const double scale = 1.0 / ((double)B * tau);
#pragma omp parallel for schedule(static) if (B * BK > 4096)
    for (int a = 0; a < B; a++) {
        float *Sa = S + (size_t)a * BK;
        for (int j = 0; j < B; j++)
            for (int k = 0; k < K; k++) {
                size_t c = (size_t)j * K + k;
                if (!M(j, k)) {
                    Sa[c] = 0;
                    continue;
                }
                double s = Sa[c];
                double g = exp(s - den[a]) + exp(s - den[j]);
                if (a == j) g -= exp(s - num[a]);
                Sa[c] = (float)(g * scale);
            }
    }

    /* dV[r0:r0+b] (b, D) = G[r0:r0+b, :] (b, BK) . T (BK, D)
     * dT[r0:r0+b] (b*K, D) = G[:, r0*K:(r0+b)*K]^T (bK, B) . V (B, D) */
    if (b > 0) {
        if (!norm) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, D, (int)BK, 1.0f,
                        S + (size_t)r0 * BK, (int)BK, Tu, D, 1.0f, dV, D);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b * K, D, B, 1.0f,
                        S + (size_t)r0 * K, (int)BK, Vu, D, 1.0f, dT, D);
        } else {
            gV = malloc(sizeof(float) * (size_t)b * D);
            gT = malloc(sizeof(float) * (size_t)b * K * D);
            if (!gV || !gT) goto nomem;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, D, (int)BK, 1.0f,
                        S + (size_t)r0 * BK, (int)BK, Tu, D, 0.0f, gV, D);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b * K, D, B, 1.0f,
                        S + (size_t)r0 * K, (int)BK, Vu, D, 0.0f, gT, D);
            l2_normalize_backward(dV, gV, Vn + (size_t)r0 * D, nv + r0, (size_t)b, D);
            l2_normalize_backward(dT, gT, Tn + (size_t)r0 * K * D, nt + (size_t)r0 * K, (size_t)b * K, D);
        }
    }
    goto end;
nomem:
    ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "milnce loss: workspace for B=%d K=%d D=%d", B, K, D);
end:
    free(S);
    free(rl);
    free(Vn);
    free(Tn);
    free(nv);
    free(nt);
    free(gV);
    free(gT);
    return ret;
#undef M
}

/* Max+NCE: k*_i = argmax over bag i's used candidates of x[i,i,k]; Ts (B, D) = T[i, k*_i];
 * the K = 1 loss on (V, Ts); dT[r0+i, k*] += dTs[i] (b, D). Scores in double from the same
 * (normalised) vectors the loss uses; only the choice depends on them. */
static int max_bag_loss(float *loss, float *dV, float *dT, const float *V, const float *T,
                        const uint8_t *mask, int B, int K, int D, int r0, int b,
                        const milnce_loss_opts *opts, milnce_error *err) {
    int *sel = malloc(sizeof(int) * (size_t)B);
    float *Ts = malloc(sizeof(float) * (size_t)B * D);
    float *dTs = dT ? calloc((size_t)(b > 0 ? b : 1) * D, sizeof(float)) : NULL;
    if (!sel || !Ts || (dT && !dTs)) {
        free(sel); free(Ts); free(dTs);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "milnce loss (max): workspace for B=%d D=%d", B, D);
    }
    const int norm = opts && opts->normalize;
    int ret = 0;
    for (int i = 0; i < B && ret == 0; i++) {
        const float *v = V + (size_t)i * D;
        double nv = 0;
        for (int d = 0; d < D; d++) nv += (double)v[d] * v[d];
        nv = fmax(sqrt(nv), NORM_EPS);
        double best = -INFINITY;
        sel[i] = -1;
        for (int k = 0; k < K; k++) {
            if (mask && !mask[(size_t)i * K + k]) continue;
            const float *t = T + ((size_t)i * K + k) * D;
            double dot = 0, nt = 0;
            for (int d = 0; d < D; d++) {
                dot += (double)v[d] * t[d];
                nt += (double)t[d] * t[d];
            }
            double x = norm ? dot / (nv * fmax(sqrt(nt), NORM_EPS)) : dot;
            if (!isfinite(x))
                ret = milnce_error_set(err, MILNCE_ERR_NUMERIC, "milnce loss: score of sample %d candidate %d is %g", i, k, x);
            else if (sel[i] < 0 || x > best) {
                best = x;
                sel[i] = k;
            }
        }
        if (ret == 0 && sel[i] < 0)
            ret = milnce_error_set(err, MILNCE_ERR_INVALID, "milnce loss: sample %d has no unmasked text candidate", i);
        else if (ret == 0)
            memcpy(Ts + (size_t)i * D, T + ((size_t)i * K + sel[i]) * D, sizeof(float) * D);
    }
    if (ret == 0) ret = milnce_bag_loss(loss, dV, dTs, V, Ts, NULL, B, 1, D, r0, b, opts, err);
    if (ret == 0 && dT)
        for (int i = 0; i < b; i++) {
            float *o = dT + ((size_t)i * K + sel[r0 + i]) * D;
            for (int d = 0; d < D; d++) o[d] += dTs[(size_t)i * D + d];
        }
    free(sel);
    free(Ts);
    free(dTs);
    return ret;
}

int milnce_loss_forward_backward(float *loss, float *dV, float *dT, const float *V, const float *T,
                                 const uint8_t *mask, int B, int K, int D, int r0, int b,
                                 const milnce_loss_opts *opts, milnce_error *err) {
    int bag = opts ? opts->bag : MILNCE_BAG_MILNCE;
    if (!loss || !V || !T || B < 1 || K < 1 || D < 1 || r0 < 0 || b < 0 || r0 + b > B)
        return milnce_error_set(err, MILNCE_ERR_INVALID,
                                "milnce loss: bad arguments (B=%d K=%d D=%d slice [%d, %d+%d))", B, K,
                                D, r0, r0, b);
    if ((dV == NULL) != (dT == NULL))
        return milnce_error_set(err, MILNCE_ERR_INVALID, "milnce loss: dV and dT must both be given or both NULL");
    if (bag == MILNCE_BAG_MAX && K > 1)
        return max_bag_loss(loss, dV, dT, V, T, mask, B, K, D, r0, b, opts, err);
    if (bag != MILNCE_BAG_MILNCE && bag != MILNCE_BAG_MAX)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "milnce loss: unknown bag rule %d", bag);
    return milnce_bag_loss(loss, dV, dT, V, T, mask, B, K, D, r0, b, opts, err);
}
