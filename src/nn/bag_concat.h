/* "Concatenate the bag's sentences into one positive" (Cat+NCE in the MIL-NCE paper's comparison
 * of bag rules): the words of a bag's candidates, in bag order (time order for both window
 * rules), joined into one sentence that the text encoder embeds once; the loss is then plain
 * NCE (K = 1). With the Sentence_Embedding encoder (max-pool over words) this is the pool over
 * the union of the bag's words, not an average of sentence embeddings. */
#ifndef MILNCE_BAG_CONCAT_H
#define MILNCE_BAG_CONCAT_H

#include <stdint.h>

#include "error.h"

/* out:  (B, Lout) word ids: bag i's used candidates' words (ids != 0), candidate 0 first,
 *       truncated to Lout, then padding (0).
 * ids:  (B, K, L) word ids, 0 = padding.  mask: (B, K) 1 = real candidate; NULL = all.
 * Returns the number of words dropped by truncation over the batch (>= 0), or
 * MILNCE_ERR_INVALID for bad sizes. Lout = K * L never truncates. */
int milnce_bag_concat_tokens(int32_t *out, const int32_t *ids, const uint8_t *mask, int B, int K,
                             int L, int Lout, milnce_error *err);

#endif
