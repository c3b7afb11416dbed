/* `milnce import`: models and word vectors published for PyTorch -> milnce's files, no Python.
 *
 * s3d-howto100m  s3d_howto100m.pth (the released S3D HowTo100M state_dict, antoine77340/
 *                S3D_HowTo100M; zip or legacy torch.save) + s3d_dict.npy (its words, a numpy
 *                string array: word i has token id i + 1, 0 is padding) -> one self-contained
 *                model checkpoint (io/formats/checkpoint.h): the weights under their own names, the
 *                model config (full S3D-G, space-to-depth stem, 512-d joint space, 300 -> 2048 ->
 *                512 text module), the released model's protocol as data.* / eval.* defaults (32
 *                frames at 10 fps, 224 x 224, max_words 16), the vocabulary and the provenance
 *                (source files, their sizes, the torch format).
 * howto100m-word2vec  word2vec.pth (a (V + 1, 300) tensor, row 0 padding) + dict.npy (V words;
 *                word i is row i + 1), MIL-NCE_HowTo100M's inputs for training from scratch ->
 *                <out>/vocab.txt (model.vocab) and <out>/word2vec.bin (model.word2vec, word2vec
 *                binary), the two files `train` reads.
 *
 * Checks: every tensor the model needs is in the file with its shape, no unexpected floating
 * tensor is left over (BatchNorm's num_batches_tracked and other integer tensors are skipped),
 * every value is finite (else the non-finite tensors are named), the word table has one row per
 * word + padding, words are unique and non-empty (a repeated word would shift every later id). */
#ifndef MILNCE_IMPORT_H
#define MILNCE_IMPORT_H

#include <stddef.h>

#include "error.h"

typedef struct milnce_import_opts {
    const char *weights; /* .pth */
    const char *dict;    /* .npy string array */
    const char *out;     /* s3d-howto100m: the .safetensors file; word2vec: the output folder */
    const milnce_logger *lg;
} milnce_import_opts;

typedef struct milnce_import_result {
    size_t tensors;     /* tensors written */
    size_t values;      /* floats written */
    size_t words;       /* vocabulary size */
    size_t skipped;     /* file tensors not used (integer counters) + non-tensor entries */
    int legacy;         /* the .pth was in the legacy (non-zip) format */
    char out[4200];     /* file written (s3d) / vocab.txt (word2vec) */
    char out2[4200];    /* word2vec.bin (word2vec) */
} milnce_import_result;

int milnce_import_s3d_howto100m(const milnce_import_opts *o, milnce_import_result *r, milnce_error *err);
int milnce_import_howto100m_word2vec(const milnce_import_opts *o, milnce_import_result *r, milnce_error *err);

#endif
