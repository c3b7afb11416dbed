/* The text encoder (the reference's Sentence_Embedding):
 *   ids (B, L) -> word embedding (B, L, D) -> Linear(D, Hd) -> ReLU -> max over the L words
 *   -> Linear(Hd, E) -> (B, E).
 * Legend: B sentences, L = max_words, V vocabulary (id 0 = padding), D word-vector width (300),
 * Hd hidden width (2048), E embedding width (512).
 * The max runs over all L positions, padding included, as the reference; `masked` excludes
 * padding (a sentence with no word then gives the hidden vector 0). `frozen` keeps the word
 * table fixed (the reference never trains it: word2vec), so it gets no gradient.
 * Tensors `<prefix>word_embd.weight` (V, D), `<prefix>fc1.weight` (Hd, D), `<prefix>fc1.bias`,
 * `<prefix>fc2.weight` (E, Hd), `<prefix>fc2.bias`; the joint model uses prefix "text_module.". */
#ifndef MILNCE_TEXT_MODEL_H
#define MILNCE_TEXT_MODEL_H

#include <stdint.h>

#include "error.h"
#include "params.h"

typedef struct milnce_text_cfg {
    int vocab;     /* V, padding id 0 included */
    int word_dim;  /* D, 300 */
    int hidden;    /* Hd, 2048 */
    int emb_dim;   /* E, 512 */
    int max_words; /* L: 16 released model, 20 training, 30 evaluation */
    int max_batch; /* largest B of a forward call */
    int frozen;    /* 1: no gradient for the word table */
    int masked;    /* 1: max over words only, not padding */
    int precision; /* MILNCE_PREC_* of the two linear layers (src/nn/gemm.h) */
} milnce_text_cfg;

/* V 66250 (the released vocabulary), D 300, Hd 2048, E 512, L 16, max_batch 1, frozen, unmasked. */
milnce_text_cfg milnce_text_default_cfg(void);

typedef struct milnce_text milnce_text;

/* Checks cfg, appends the tensors to params and allocates the activations of max_batch rows. */
int milnce_text_create(milnce_text **out, const milnce_text_cfg *cfg, const char *prefix,
                       milnce_param_table *params, milnce_error *err);
void milnce_text_free(milnce_text **t);
const milnce_text_cfg *milnce_text_get_cfg(const milnce_text *t);

/* ids (B, L) in [0, V) (MILNCE_ERR_RANGE otherwise); *out (B, E) points into the context, valid
 * until the next forward. */
int milnce_text_forward(milnce_text *t, const float *params, const int32_t *ids, int B,
                        const float **out, milnce_error *err);
/* grads += d loss / d param for d_out (B, E), of the last forward. */
int milnce_text_backward(milnce_text *t, const float *params, float *grads, const float *d_out,
                         milnce_error *err);

#endif
