/* What training, evaluation and import share about a run without depending on each other:
 * the model a config describes, and the newest checkpoint of a run folder. */
#ifndef MILNCE_RUN_MODEL_H
#define MILNCE_RUN_MODEL_H

#include <stddef.h>

#include "config.h"

struct milnce_model_cfg;

/* The model configuration a training config describes (vocab: words + 1; batch: the largest
 * forward batch of both encoders). */
void milnce_model_cfg_from_config(const milnce_config *cfg, int vocab, int batch, struct milnce_model_cfg *out);

/* MILNCE_PREC_* for the value of a precision key ("fp32" | "bf16" | "auto"; key names it in
 * messages) on a CPU with (cpu_bf16 = 1) or without AVX512_BF16 (milnce_bf16_supported()).
 * "bf16" without it is MILNCE_ERR_UNSUPPORTED; "auto" without it is fp32 and *note says why
 * (static text; NULL otherwise). A pure function: tests give it any CPU. */
int milnce_precision_choose(const char *key, const char *value, int cpu_bf16, int *prec,
                            const char **note, milnce_error *err);

/* Path of the newest checkpoint of a run folder (<out_dir>/checkpoints/<the name in `latest`>;
 * "" when none); MILNCE_ERR_RANGE (and "") when the path does not fit in cap bytes. */
int milnce_run_latest_checkpoint(const char *out_dir, char *path, size_t cap);

#endif
