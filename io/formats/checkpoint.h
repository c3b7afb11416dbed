/* Model and training checkpoints as safetensors files.
 *
 * A model checkpoint holds the parameters and the buffers (BatchNorm running statistics) under
 * their PyTorch reference names, so a converted reference state_dict
 * (`milnce import`, pipeline/import.h) loads with milnce_checkpoint_load as is.
 * A training checkpoint adds the optimizer moments as "optim.m.<name>" / "optim.v.<name>".
 * Metadata (all strings):
 *   format "milnce", format_version "1", step (training iterations done), config (the resolved
 *   config text), rng (comma-separated xoshiro states, milnce_rng_to_string), optim.kind,
 *   optim.step, vocab (the vocabulary, words joined by '\n' in id order: id 1 first; so eval and
 *   embed need nothing but the checkpoint), plus whatever extra pairs the caller adds (data
 *   loader position, provenance of an imported model, ...). */
#ifndef MILNCE_CHECKPOINT_H
#define MILNCE_CHECKPOINT_H

#include <stdint.h>

#include "error.h"
#include "optim.h"
#include "params.h"
#include "rng.h"
#include "safetensors.h"
#include "vocab.h"

#define MILNCE_CHECKPOINT_VERSION 1
#define MILNCE_CHECKPOINT_OPTIM_M "optim.m."
#define MILNCE_CHECKPOINT_OPTIM_V "optim.v."

typedef struct milnce_checkpoint {
    const milnce_param_table *params;  /* trainable parameters (required) */
    float *param_block;                /* (params->total) */
    const milnce_param_table *buffers; /* non-trainable buffers; NULL = none */
    float *buffer_block;               /* (buffers->total) */
    milnce_optim *optim;  /* NULL: model checkpoint (on load, optim.* tensors are ignored) */
    milnce_rng *rngs;     /* (nrng) saved / restored; NULL or 0 = none */
    int nrng;
    int64_t step;         /* written; filled on load (0 when the file has none) */
    const char *config;   /* written when not NULL; on load read it with milnce_safetensors_meta */
    const milnce_vocab *vocab; /* written as metadata "vocab" when not NULL (read it with
                                  milnce_vocab_from_text) */
} milnce_checkpoint;

/* Writes ck (+ extra metadata pairs) to path atomically. */
int milnce_checkpoint_save(const char *path, const milnce_checkpoint *ck, const milnce_st_meta *extra,
                           int nextra, milnce_error *err);

/* Loads path into ck's blocks (and optim moments/step and rngs when ck has them: then they must
 * be in the file). A file written by a newer format_version is MILNCE_ERR_UNSUPPORTED. Nothing is
 * changed on error. If keep is not NULL the parsed file is handed over for more metadata (config,
 * extras): the caller closes it with milnce_safetensors_close; otherwise it is closed here.
 * opts may be NULL (strict: missing or unexpected tensors are errors). */
int milnce_checkpoint_load(const char *path, milnce_checkpoint *ck, const milnce_st_load_opts *opts,
                           milnce_safetensors *keep, milnce_error *err);

/* Checks that every float tensor of the groups' blocks is finite. On the first tensor holding a
 * NaN or Inf: MILNCE_ERR_NUMERIC naming what (path), the tensor(s) (up to 4, then a count) and
 * how many values. */
int milnce_checkpoint_check_finite(const char *what, const milnce_st_group *groups, int ngroups, milnce_error *err);

/* The same over every float tensor of an open file (optimizer moments "optim.*" aside), whether
 * or not the caller loads it: a checkpoint with a non-finite weight is refused as a whole. */
int milnce_checkpoint_check_file_finite(const milnce_safetensors *st, milnce_error *err);

#endif
