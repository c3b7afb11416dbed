#include "retrieval.h"

#include <cblas.h>
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
    for (size_t i = 0; i < n; i++) t2v_rank[i] = v2t_rank[i] = 1;
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
                int64_t above = 0;
                for (size_t b = 0; b < bj; b++) {
                    above += row[b] > gt;
                    v2t_rank[j0 + b] += row[b] > diag[j0 + b];
                }
                t2v_rank[i0 + a] += above;
            }
        }
    }
    free(S);
    free(diag);
    return 0;
}
