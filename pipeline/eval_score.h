/* "Score the set", the second half of `milnce eval` (the first, "embed the set", is
 * pipeline/eval.c): clip and text embeddings -> ranks, recalls, chance -> eval.json, and the
 * saved embeddings (eval_text.npy, eval_video.npy, eval_ids.txt) written and read back, so
 * `milnce eval --embeddings DIR` scores them without a checkpoint or videos. Library-internal. */
#ifndef MILNCE_EVAL_SCORE_H
#define MILNCE_EVAL_SCORE_H

#include <jansson.h>

#include "eval.h"

#define MILNCE_EVAL_TIE_RULE "rank = 1 + number of items scoring strictly higher than the ground truth (ties count in the query's favour)"
#define MILNCE_EVAL_TIE_RULE_OFFICIAL "MIL-NCE_HowTo100M metrics.compute_metrics: a ground truth tied with t other items counts t + 1 times, at the positions rank-1 .. rank-1+t of a descending sort; R@K, median and mean over all these entries"

/* Scores r->text, r->video (n, dim; as they are: normalised already when eval.normalize) with
 * the tie rule (official: eval.ties official): fills identical_video, t2v_rank, v2t_rank, t2v,
 * v2t and chance_*. what names the embeddings' origin in errors (a checkpoint, a folder). */
int milnce_eval_score(milnce_eval_result *r, int official, const char *what, const milnce_logger *lg,
                      milnce_error *err);

/* Sets the score fields of eval.json in root (n, dim, ties, tie_rule,
 * identical_video_embeddings, t2v, v2t, chance), replacing those present in place. */
void milnce_eval_score_json(json_t *root, const milnce_eval_result *r, int official);

/* Thumbnail of item j for the examples: 0 with rel (relative to the output folder) filled,
 * 1 when there is none (said nothing), < 0 with err (a warning). */
typedef int (*milnce_eval_thumb_fn)(void *user, size_t j, char *rel, size_t cap, milnce_error *err);

/* Examples: num_examples (0 = 5, < 0 = none) evenly spaced queries with their top (0 = 5)
 * videos by score; thumb may be NULL. */
json_t *milnce_eval_examples_json(const milnce_eval_result *r, int num_examples, int top, milnce_eval_thumb_fn thumb,
                                  void *user, const milnce_logger *lg);

/* root -> <r->out_dir>/eval.json (atomic), r->json_path set. */
int milnce_eval_write_json(json_t *root, milnce_eval_result *r, milnce_error *err);

/* <r->out_dir>/eval_text.npy, eval_video.npy (float32 (n, dim)) and eval_ids.txt
 * ("<video id>\t<start %.3f>\t<end %.3f>\t<query, tabs and line ends as spaces>" per row). */
int milnce_eval_save_embeddings(const milnce_eval_result *r, milnce_error *err);

#endif
