#include "retrieval.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void milnce_recall_from_ranks(const int64_t *ranks, size_t n, milnce_recall *out) {
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n == 0) return;
    size_t c1 = 0, c5 = 0, c10 = 0;
    double sum = 0;
    int64_t *sorted = malloc(n * sizeof *sorted);
    for (size_t i = 0; i < n; i++) {
        c1 += ranks[i] <= 1;
        c5 += ranks[i] <= 5;
        c10 += ranks[i] <= 10;
        sum += (double)ranks[i];
        if (sorted) sorted[i] = ranks[i];
    }
    out->r1 = 100.0 * (double)c1 / (double)n;
    out->r5 = 100.0 * (double)c5 / (double)n;
    out->r10 = 100.0 * (double)c10 / (double)n;
    out->mean_rank = sum / (double)n;
    if (sorted) {
        qsort(sorted, n, sizeof *sorted, cmp_i64);
        out->median_rank = (n % 2) ? (double)sorted[n / 2]
                                   : 0.5 * ((double)sorted[n / 2 - 1] + (double)sorted[n / 2]);
        free(sorted);
    }
}

void milnce_ranks_from_scores(const float *S, size_t n, int64_t *t2v_rank, int64_t *v2t_rank) {
    for (size_t i = 0; i < n; i++) {
        t2v_rank[i] = 1;
        v2t_rank[i] = 1;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            float s = S[i * n + j];
            if (s > S[i * n + i]) t2v_rank[i]++;
            if (s > S[j * n + j]) v2t_rank[j]++;
        }
}

/* S_tile (bi x bj) = text[i0 : i0+bi] · video[j0 : j0+bj]^T */
static void tile(const float *text, const float *video, size_t d, size_t i0, size_t bi, size_t j0,
                 size_t bj, float *S) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)bi, (int)bj, (int)d, 1.0f,
                text + i0 * d, (int)d, video + j0 * d, (int)d, 0.0f, S, (int)bj);
}

int milnce_ranks_blocked(const float *text, const float *video, size_t n, size_t d, size_t block,
                         int64_t *t2v_rank, int64_t *v2t_rank, milnce_error *err) {
    return milnce_ranks_blocked_ties(text, video, n, d, block, t2v_rank, v2t_rank, NULL, NULL, err);
}

int milnce_ranks_blocked_ties(const float *text, const float *video, size_t n, size_t d, size_t block,
                              int64_t *t2v_rank, int64_t *v2t_rank, int64_t *t2v_ties, int64_t *v2t_ties,
                              milnce_error *err) {
    if (block == 0) block = 2048;
    if (block > n) block = n ? n : 1;
    float *S = malloc(block * block * sizeof *S);
    float *diag = malloc((n ? n : 1) * sizeof *diag);
    if (!S || !diag) {
        free(S);
        free(diag);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "retrieval scratch for %zu x %zu scores", block, block);
    }
    /* Pass 1: ground-truth scores from the diagonal tiles. */
    for (size_t i0 = 0; i0 < n; i0 += block) {
        size_t bi = (n - i0 < block) ? n - i0 : block;
        tile(text, video, d, i0, bi, i0, bi, S);
        for (size_t k = 0; k < bi; k++) diag[i0 + k] = S[k * bi + k];
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(diag[i])) {
            double v = diag[i];
            free(S);
            free(diag);
            return milnce_error_set(err, MILNCE_ERR_NUMERIC, "retrieval: the score of query %zu with its own item is %g (non-finite embeddings)", i, v);
        }
        t2v_rank[i] = v2t_rank[i] = 1;
        if (t2v_ties) t2v_ties[i] = -1; /* the ground truth ties with itself */
        if (v2t_ties) v2t_ties[i] = -1;
    }
    int bad = 0;
    /* Pass 2: every tile; a diagonal tile is recomputed by the identical call, so its entries
     * equal diag bit for bit. Off-diagonal tiles of equal shape take the same kernel path. */
    for (size_t i0 = 0; i0 < n; i0 += block) {
        size_t bi = (n - i0 < block) ? n - i0 : block;
        for (size_t j0 = 0; j0 < n; j0 += block) {
            size_t bj = (n - j0 < block) ? n - j0 : block;
            tile(text, video, d, i0, bi, j0, bj, S);
            for (size_t a = 0; a < bi; a++) {
                const float *row = S + a * bj;
                float gt = diag[i0 + a];
                int64_t above = 0, same = 0;
                for (size_t b = 0; b < bj; b++) {
                    above += row[b] > gt;
                    same += row[b] == gt;
                    bad |= !isfinite(row[b]);
                    v2t_rank[j0 + b] += row[b] > diag[j0 + b];
                    if (v2t_ties) v2t_ties[j0 + b] += row[b] == diag[j0 + b];
                }
                t2v_rank[i0 + a] += above;
                if (t2v_ties) t2v_ties[i0 + a] += same;
            }
        }
    }
    free(S);
    free(diag);
    if (bad) return milnce_error_set(err, MILNCE_ERR_NUMERIC, "retrieval: non-finite scores (non-finite embeddings)");
    return 0;
}

int milnce_recall_official(const int64_t *ranks, const int64_t *ties, size_t n, milnce_recall *out) {
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n == 0) return 0;
    /* entries take values 0..n-1: count them per value with a difference array */
    int64_t *cnt = calloc(n + 2, sizeof *cnt);
    if (!cnt) return MILNCE_ERR_NOMEM;
    double total = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t g = ranks[i] - 1, t = ties ? ties[i] : 0;
        if (g < 0) g = 0;
        if (g + t > (int64_t)n - 1) t = (int64_t)n - 1 - g; /* cannot happen with consistent inputs */
        cnt[g]++;
        cnt[g + t + 1]--;
        total += (double)(t + 1);
        sum += (double)(t + 1) * (double)g + 0.5 * (double)t * (double)(t + 1); /* g + (g+1) + ... + (g+t) */
    }
    for (size_t v = 1; v <= n; v++) cnt[v] += cnt[v - 1];
    double c1 = 0, c5 = 0, c10 = 0;
    for (size_t v = 0; v < n && v < 10; v++) {
        if (v < 1) c1 += (double)cnt[v];
        if (v < 5) c5 += (double)cnt[v];
        c10 += (double)cnt[v];
    }
    out->r1 = 100.0 * c1 / total;
    out->r5 = 100.0 * c5 / total;
    out->r10 = 100.0 * c10 / total;
    out->mean_rank = sum / total + 1;
    /* numpy median: the middle entry, or the mean of the two middle ones (0-based M/2-1, M/2) */
    uint64_t M = (uint64_t)total, lo = (M - 1) / 2, hi = M / 2, seen = 0;
    double vlo = -1, vhi = -1;
    for (size_t v = 0; v < n && vhi < 0; v++) {
        uint64_t c = (uint64_t)cnt[v];
        if (vlo < 0 && lo < seen + c) vlo = (double)v;
        if (hi < seen + c) vhi = (double)v;
        seen += c;
    }
    out->median_rank = 0.5 * (vlo + vhi) + 1;
    free(cnt);
    return 0;
}
