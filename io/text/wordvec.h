/* Pretrained word vectors: the vocabulary and the (V + 1, D) float matrix that initialises the
 * text encoder's word embedding (row 0 = padding, zeros; row i = vector of word id i).
 *
 *   word2vec binary  "N D\n", then N times: word bytes up to ' ', D little-endian float32, and
 *                    an optional '\n' (the C tool writes one; gensim's test files do not)
 *   word2vec text    "N D\n", then N lines "word v1 ... vD" (fastText .vec is the same)
 *   GloVe text       no header; every line "word v1 ... vD", D from the first line
 *
 * Text lines are split on spaces and tabs and must hold exactly D + 1 fields (as gensim requires;
 * the few GloVe 840B words holding spaces are refused with the line named). Malformed input (bad header, wrong number
 * of values, a value that is not a finite number, truncated data, a word seen twice, fewer or
 * more entries than the header says) is a MILNCE_ERR_FORMAT naming the file and the line (text)
 * or the entry and byte offset (binary). */
#ifndef MILNCE_WORDVEC_H
#define MILNCE_WORDVEC_H

#include <stddef.h>

#include "error.h"
#include "vocab.h"

typedef enum {
    MILNCE_WORDVEC_AUTO = 0,  /* header "N D" + a text first entry -> W2V_TEXT; header and
                                 anything else -> W2V_BIN; no header -> GLOVE */
    MILNCE_WORDVEC_W2V_BIN,
    MILNCE_WORDVEC_W2V_TEXT,
    MILNCE_WORDVEC_GLOVE
} milnce_wordvec_format;

typedef struct milnce_wordvec {
    milnce_vocab vocab; /* words in file order: id i = entry i (1-based) */
    int dim;            /* D */
    float *vectors;     /* (vocab.n + 1, D), row 0 zeros */
    milnce_wordvec_format format; /* the format read (never AUTO) */
} milnce_wordvec;

/* "auto", "word2vec-bin" (or "bin"), "word2vec-text" (or "word2vec", "vec"), "glove". */
int milnce_wordvec_format_parse(const char *name, milnce_wordvec_format *fmt, milnce_error *err);
const char *milnce_wordvec_format_name(milnce_wordvec_format fmt);

/* Reads path into out (zeroed first). max_words > 0 keeps only the first max_words entries
 * (files are sorted by frequency), 0 reads all. */
int milnce_wordvec_load(const char *path, milnce_wordvec_format fmt, size_t max_words,
                        milnce_wordvec *out, milnce_error *err);

/* The matrix for a vocabulary built elsewhere: *out (vocab->n + 1, wv->dim), malloc'ed, row i =
 * vector of vocab word i, zeros where wv lacks the word; *found (may be NULL) = rows filled. */
int milnce_wordvec_matrix_for(const milnce_wordvec *wv, const milnce_vocab *vocab, float **out,
                              size_t *found, milnce_error *err);

void milnce_wordvec_free(milnce_wordvec *wv);

#endif
