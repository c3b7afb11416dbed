/* `milnce demo`: the whole job on a generated corpus, with a built-in configuration.
 *
 *   synth (train videos with misaligned ASR-like narration + an aligned evaluation split)
 *   -> preprocess (shards) -> train (MIL-NCE) -> eval (YouCook2-layout split) -> report.html
 *
 * Everything goes under out_dir: corpus/, shards/, and the run folder itself (config.yaml,
 * log.jsonl, checkpoints/, eval.json, thumbs/, report.html). The built-in configuration is
 * milnce_demo_config_yaml() (configs/demo.yaml is the same text); --config/--set override it. */
#ifndef MILNCE_DEMO_H
#define MILNCE_DEMO_H

#include <signal.h>

#include "config.h"
#include "error.h"
#include "eval.h"

struct milnce_train_progress; /* pipeline/train.h */

typedef struct milnce_demo_opts {
    const char *out_dir;
    const milnce_config *cfg;  /* resolved (built-in + overrides) */
    int train_videos, eval_videos;
    double min_seconds, max_seconds;
    int seed;
    const milnce_logger *lg;
    void (*stage)(void *user, const char *name, double seconds); /* after each stage */
    void *stage_user;
    const volatile sig_atomic_t *cancel;
    void (*train_progress)(void *user, const struct milnce_train_progress *p); /* every train step */
    void *train_progress_user;
} milnce_demo_opts;

typedef struct milnce_demo_result {
    milnce_recall t2v, v2t;
    double chance_r1, chance_r5, chance_r10;
    size_t queries;
    double first_loss, last_loss;
    int64_t steps;
    double clips_per_s;
    double seconds;
    char report[4200];
} milnce_demo_result;

/* The built-in configuration (YAML text). */
const char *milnce_demo_config_yaml(void);
/* Defaults + the built-in YAML. */
int milnce_demo_config(milnce_config *cfg, milnce_error *err);

int milnce_demo_run(const milnce_demo_opts *o, milnce_demo_result *res, milnce_error *err);

#endif
