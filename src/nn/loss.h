/* MIL-NCE loss (Miech et al., CVPR 2020), forward and closed-form backward.
 *
 * Legend: B = global batch (all ranks), K = candidates per bag, D = embedding width,
 * r0/b = first row and row count of this rank's slice of the batch.
 *
 * Scores x[i,j,k] = <V_i, T_jk> / tau (V, T optionally L2-normalised first). For each i:
 *   num_i = logsumexp_k x[i,i,k]
 *   den_i = logsumexp over the 2BK scores {x[i,j,k]}_{j,k} U {x[j,i,k]}_{j,k}
 * (the positives x[i,i,k] appear in both sets and so are counted twice, as in the reference),
 * loss = mean_i (den_i - num_i) over the GLOBAL batch. A mask (B x K, 1 = real candidate)
 * removes entries from every sum; K = 1 is plain NCE.
 *
 * Data parallel use: every rank passes the gathered global V and T and gets the same loss and
 * the gradient with respect to its own rows [r0, r0+b) only. The gradient of the loss with
 * respect to a parameter is then the SUM over ranks of each rank's backward pass (all-reduce
 * sum, not average) — that makes R ranks x B/R clips equal one rank with B clips.
 *
 * Bag rules (opts->bag), the alternatives the MIL-NCE paper compares against:
 *   MILNCE_BAG_MILNCE  the above (default).
 *   MILNCE_BAG_MAX     max-over-bag MIL ("Max+NCE"): each bag is reduced to its best-scoring
 *                      candidate k*_i = argmax_k x[i,i,k] (masked candidates excluded, ties to
 *                      the lowest k; the same scores, normalised and divided by tau, as the loss),
 *                      then the K = 1 loss above runs on (V, T[:, k*]). The gradient reaches the
 *                      chosen candidates only (the max's subgradient); the choice is global, so
 *                      every rank picks the same k*.
 * The third, "concatenate the bag's sentences into one positive" (Cat+NCE), acts on the words,
 * not on embeddings: see milnce_bag_concat_tokens (src/nn/bag_concat.h) and K = 1 here. */
#ifndef MILNCE_LOSS_H
#define MILNCE_LOSS_H

#include <stdint.h>

#include "error.h"

enum { MILNCE_BAG_MILNCE = 0, MILNCE_BAG_MAX = 1 };

typedef struct milnce_loss_opts {
    float temperature; /* scores divided by it; <= 0 means 1 (the reference: none) */
    int normalize;     /* 1: L2-normalise V rows and T rows first (eps 1e-12, as F.normalize) */
    int bag;           /* MILNCE_BAG_*: how a bag's candidates make the positive (0 = MIL-NCE) */
} milnce_loss_opts;

/* loss:  out, scalar (mean over the global batch).
 * dV:    (b, D) += dloss/dV[r0 + i]; NULL with dT NULL for forward only.
 * dT:    (b, K, D) += dloss/dT[r0 + i]. Both ACCUMULATE (+=): clear them once per step.
 * V:     (B, D) global video embeddings.
 * T:     (B, K, D) global text embeddings, T[j,k] = candidate k of sample j.
 * mask:  (B, K) 1 = use, 0 = padding; NULL = all used. Every bag needs one used candidate.
 * opts:  NULL = reference semantics.
 * Returns 0, MILNCE_ERR_INVALID (sizes, empty bag), MILNCE_ERR_NOMEM, or MILNCE_ERR_NUMERIC
 * when an input is not finite. Scores go through cblas_sgemm; log-sum-exps in double with the
 * maximum subtracted, so |x| in the hundreds is fine. Workspace: B*B*K floats + O(BK + BD). */
int milnce_loss_forward_backward(float *loss, float *dV, float *dT, const float *V, const float *T,
                                 const uint8_t *mask, int B, int K, int D, int r0, int b,
                                 const milnce_loss_opts *opts, milnce_error *err);

#endif
