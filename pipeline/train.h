/* `milnce train`: loader -> video and text encoders -> MIL-NCE over the global batch ->
 * gradients summed over ranks -> optimizer, with logs, checkpoints and exact resume.
 *
 * Run folder (train.out_dir):
 *   config.yaml            the resolved config
 *   log.jsonl              one line per logged step: {"step","epoch","loss","lr","clips_per_s",
 *                          "data_wait","grad_norm","time"}
 *   checkpoints/step-NNNNNNNN.safetensors   model + optimizer moments + step (+ config)
 *   checkpoints/latest     the file name of the newest complete checkpoint (atomic; written
 *                          after the checkpoint it names; pruning never removes that one)
 *   .lock                  "pid host" of the run holding the folder (flock, io/run_lock.h)
 * A folder that holds a run (config.yaml, log.jsonl or checkpoints/) is refused unless the run
 * is resumed (resume) or moved aside (overwrite: those entries go to <out_dir>.old-N, N the
 * first free number; nothing is deleted).
 * log.jsonl is appended one whole line per write(); a write that fails or is short is cut back
 * to the last whole line and stops the run (after a checkpoint attempt); resume drops a torn
 * last line left by a crash.
 * Resume continues from `latest`: the loader restarts at that step's batch (batches depend only
 * on the seed and the batch number), so a resumed run makes the same batches, losses and final
 * weights as one that was never interrupted (bit for bit with the same thread count).
 * The run is a setup, a loop of milnce_train_step (pipeline/train_step.h), the log and the
 * checkpoints. */
#ifndef MILNCE_TRAIN_H
#define MILNCE_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "config.h"
#include "dist.h"
#include "error.h"

typedef struct milnce_train_progress {
    int64_t step, total;
    int epoch;
    double loss, lr, clips_per_s, data_wait, elapsed;
} milnce_train_progress;

typedef struct milnce_train_opts {
    const milnce_config *cfg;
    const milnce_dist *dist;
    int resume;
    int overwrite;  /* a folder holding a run: move it aside to <out_dir>.old-N first */
    int64_t stop_at; /* > 0: checkpoint and stop once this global step is done (a job's time
                        limit); the schedule still spans the whole run; resume continues */
    const volatile sig_atomic_t *cancel; /* non-zero: checkpoint and stop */
    const struct milnce_logger *lg;
    void (*progress)(void *user, const milnce_train_progress *p);
    void *progress_user;
    int64_t inject_nan_step; /* tests: make the loss of this step (1-based) NaN; 0 = never */
} milnce_train_opts;

typedef struct milnce_train_result {
    int64_t steps;        /* completed steps */
    double first_loss, last_loss;
    double clips_per_s;   /* mean over the run, all ranks */
    double data_wait;     /* fraction of time waiting for data (rank 0) */
    char checkpoint[4096]; /* last checkpoint written */
} milnce_train_result;

/* Checks the config and data (shards, vocabulary, word vectors) before any work; then trains. */
int milnce_train_run(const milnce_train_opts *o, milnce_train_result *res, milnce_error *err);

/* The model of the config and the run folder's newest checkpoint: pipeline/run_model.h. */

#endif
