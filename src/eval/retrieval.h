/* Clip-text retrieval metrics (docs/design.md "Reference semantics").
 *
 * Query i's ground truth is item i. rank_i = 1 + the number of items scoring strictly higher
 * than the ground truth: ties do not count against the query (an optimistic rank, stated in
 * every report). Scores are raw dot products (callers normalise beforehand if asked). */
#ifndef MILNCE_RETRIEVAL_H
#define MILNCE_RETRIEVAL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct milnce_recall {
    double r1, r5, r10;  /* percent of queries with rank <= 1, 5, 10 */
    double median_rank;  /* numpy's median: mean of the two middle ranks when n is even */
    double mean_rank;
    size_t n;            /* queries */
} milnce_recall;

/* Metrics from ranks (n). */
void milnce_recall_from_ranks(const int64_t *ranks, size_t n, milnce_recall *out);

/* Ranks of both directions from a full score matrix S (n x n, row i = text i, column j = video j):
 * t2v_rank[i] ranks video i among row i, v2t_rank[j] ranks text j among column j. */
void milnce_ranks_from_scores(const float *S, size_t n, int64_t *t2v_rank, int64_t *v2t_rank);

/* The same ranks from embeddings, text (n x d) and video (n x d), without ever holding the
 * n x n matrix: scores are made block by block with sgemm (block x block floats of scratch,
 * block = 0 picks 2048). The ground-truth scores come from the same diagonal sgemm tiles as the
 * comparisons, so a tie in exact arithmetic stays a tie. O(n·d + block²) memory. */
int milnce_ranks_blocked(const float *text, const float *video, size_t n, size_t d, size_t block,
                         int64_t *t2v_rank, int64_t *v2t_rank, milnce_error *err);

/* The same, also counting for each query the other items that score exactly as its ground
 * truth: t2v_ties[i], v2t_ties[j] (n each; may be NULL). A non-finite score is
 * MILNCE_ERR_NUMERIC (it could never be ranked). */
int milnce_ranks_blocked_ties(const float *text, const float *video, size_t n, size_t d, size_t block,
                              int64_t *t2v_rank, int64_t *v2t_rank, int64_t *t2v_ties, int64_t *v2t_ties,
                              milnce_error *err);

/* Metrics with the tie rule of MIL-NCE_HowTo100M metrics.compute_metrics ("official"): a query
 * whose ground truth ties with t other items contributes t + 1 entries, the 0-based positions
 * rank-1 .. rank-1+t of a descending sort, and every statistic is over all entries: R@K =
 * 100 * (entries < K) / entries, median and mean = numpy's over the entries + 1. Without ties
 * it equals milnce_recall_from_ranks. out->n is the number of queries. O(n) memory. Returns 0 or
 * MILNCE_ERR_NOMEM. */
int milnce_recall_official(const int64_t *ranks, const int64_t *ties, size_t n, milnce_recall *out);

#endif
