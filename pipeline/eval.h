/* `milnce eval` and `milnce embed`: a trained checkpoint -> embeddings -> clip<->text retrieval.
 *
 * Legend: N queries (= clips: query i's ground truth is clip i), D embedding width (model.
 * embed_dim, or F = 1024 * model.width for the mixed_5c feature), W windows, T = data.num_frames,
 * S = data.size, L = eval.max_words.
 *
 * ## Model and config
 * The checkpoint's metadata "config" (the training run's resolved YAML) gives model.* and
 * data.num_frames/fps/size, which eval.num_frames/fps/size replace when non-zero (the encoder is
 * fully convolutional); eval.* comes from that config overridden by --config / --set. From
 * the overrides only eval.*, model.vocab and data.shards (file locations) are taken; any other
 * key they change is ignored with a warning (the shapes are the checkpoint's). A checkpoint
 * without a stored config (a converted reference state_dict) takes every key from the overrides.
 * Vocabulary: the checkpoint's own (metadata "vocab"); for checkpoints of older milnce versions,
 * model.vocab, else vocab.txt beside data.shards (as train), with a note, else an error naming
 * model.vocab. Every float tensor of the file must be finite (else an error naming them). The
 * model runs in eval mode (BatchNorm running statistics).
 *
 * ## Protocol (the reference's YouCook2 / MSR-VTT evaluation)
 * Clip [start, end] -> W = eval.num_windows windows of T frames at data.fps, window starts
 * evenly spaced in [start, max(start, end - T / fps)] (numpy linspace; the reference also
 * subtracts a 0.4 s decoding margin, not kept here); each frame scaled to short side S and
 * centre-cropped to S x S (RGB in [0, 1]), frames past the end of the video zero (as the
 * reference pads); the clip embedding is the mean of the W window embeddings. Texts: tokenized
 * (lower case), words outside the vocabulary dropped, padded/truncated to L. No normalisation
 * unless eval.normalize. Scores are raw dot products; ranks by milnce_ranks_blocked with the tie
 * rule of src/retrieval.h (ties do not count against the query).
 *
 * ## Inputs (eval.format)
 *   youcook2  CSV with header columns end,start,task,text,video_id (any order, extra columns
 *             ignored); video at <eval.video_root>/<video_id>.<ext> or
 *             <eval.video_root>/<task>/<video_id>.<ext>, ext in milnce_video_exts (video_list.h).
 *   msrvtt    CSV key,vid_key,video_id,sentence; the clip is the whole video
 *             (<eval.video_root>/<video_id>.<ext>).
 *   shards    eval.csv names a folder of held-out shards (or one .tar): every sentence of every
 *             sample is a query, its clip the sentence's [start, end] in the sample's .mp4.
 * A row whose video is missing, whose id is unsafe, or whose video cannot be decoded is dropped
 * (one warning per video) and counted: `missing_videos` distinct videos, `dropped_queries` rows.
 * A row whose segment starts at or after its video's end, or in whose windows no frame decodes,
 * would be scored on zeros (every such clip the same embedding): it is left out and counted in
 * `invalid_segments` by reason (`start_after_video_end`, `no_decodable_frame`), with a warning
 * naming the first few. More than 2% of kept clips sharing their embedding with a different
 * clip is warned about (`identical_video_embeddings`). Fewer than 90% of the query words in the
 * vocabulary is warned about (`token_coverage`).
 *
 * ## Ties (eval.ties)
 * optimistic (default): rank = 1 + items scoring strictly higher. official: MIL-NCE_HowTo100M
 * metrics.compute_metrics, every tied position an entry (milnce_recall_official), so figures
 * compare with published ones. eval.json states the rule used (`ties`, `tie_rule`).
 *
 * ## Outputs
 * <out>/eval.json (pipeline/report.h holds the contract; extra fields: "format", "checkpoint",
 * "dropped_queries", "num_windows", "normalize", "dim", "rank" per example),
 * <out>/thumbs/item-NNNNNN.jpg for the clips shown in the examples, and with save_embeddings
 * <out>/eval_text.npy, <out>/eval_video.npy (float32 (N, D), as scored), <out>/eval_ids.txt
 * ("<video id>\t<start>\t<end>\t<query>" per row), which `milnce eval --embeddings <out>` scores
 * again without the checkpoint or the videos (milnce_eval_score_saved). The evaluation sets are read
 * by io/video/eval_set.h. */
#ifndef MILNCE_EVAL_H
#define MILNCE_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "fileutil.h"
#include "retrieval.h"
#include "video.h"
#include "vocab.h"

struct milnce_model;

/* ---- the model of a checkpoint ---- */

typedef struct milnce_eval_load_opts {
    const char *checkpoint;   /* a .safetensors file, or a run folder (its checkpoints/latest) */
    const char *config;       /* NULL, or a YAML file of overrides */
    const char *const *sets;  /* (nsets) "section.key=value" overrides, applied after config */
    int nsets;
    int with_video, with_text; /* encoders wanted (at least one) */
    int batch;                /* largest forward batch; 0 = eval.batch_size */
    const milnce_logger *lg;
} milnce_eval_load_opts;

typedef struct milnce_eval_model {
    milnce_config cfg;           /* resolved: checkpoint config + overrides */
    struct milnce_model *model;  /* eval mode */
    milnce_vocab vocab;          /* empty without the text encoder */
    char checkpoint[MILNCE_PATH_MAX]; /* the file loaded */
    char run_dir[MILNCE_PATH_MAX];          /* the run folder (the checkpoints/ folder's parent, else the
                                    file's folder): the default output folder */
    int64_t step;                /* training steps of the checkpoint (metadata "step"; 0 if none) */
    int E;                       /* embedding width */
    int F;                       /* mixed_5c feature width (0 without video) */
    int batch;                   /* largest forward batch */
    int precision;               /* MILNCE_PREC_* the encoders run at (eval.precision) */
    const milnce_logger *lg;
    float *clip_buf;             /* (batch, 3, T, S, S) scratch */
    milnce_frames frames;        /* decoder output scratch */
} milnce_eval_model;

int milnce_eval_model_load(milnce_eval_model **out, const milnce_eval_load_opts *o, milnce_error *err);
void milnce_eval_model_free(milnce_eval_model **m);

/* ---- embedding building blocks ---- */

/* n window starts evenly spaced in [start, max(start, end - clip_len)] (n = 1: start). */
void milnce_eval_window_starts(double start, double end, double clip_len, int n, double *starts);

/* Embeds the n windows starting at starts[] (seconds) of an open video: out (n, D) per window, or
 * with average (D) their mean. mixed5c: the pooled mixed_5c feature (D = F) instead of the joint
 * embedding (D = E). Windows are batched by the model's batch. *empty (may be NULL) receives
 * the windows in which no frame was decoded (all zeros: past the end of the video). A
 * non-finite output is MILNCE_ERR_NUMERIC naming the checkpoint. */
int milnce_eval_embed_windows(milnce_eval_model *m, milnce_decoder *dec, const double *starts,
                              int n, int mixed5c, int average, float *out, int *empty, milnce_error *err);

/* Embeds n sentences: out (n, E). *empty (may be NULL) receives how many had no known word. */
int milnce_eval_embed_texts(milnce_eval_model *m, const char *const *texts, size_t n, float *out,
                            size_t *empty, milnce_error *err);

/* ---- evaluation ---- */

typedef struct milnce_eval_opts {
    const char *out_dir;   /* NULL or "": the checkpoint's run folder */
    int num_examples;      /* example queries in eval.json; 0 = 5, < 0 = none */
    int top;               /* videos per example; 0 = 5 */
    int thumbnails;        /* write thumbs/ for the examples */
    int save_embeddings;   /* write eval_text.npy, eval_video.npy, eval_ids.txt */
    const milnce_logger *lg;
    void (*progress)(void *user, size_t done, size_t total); /* clips embedded */
    void *progress_user;
} milnce_eval_opts;

typedef struct milnce_eval_result {
    char dataset[1100];      /* eval.csv (or the shard folder) */
    char format[16];
    size_t rows;             /* queries read */
    size_t n;                /* queries scored (rows - dropped_queries) */
    size_t missing_videos;   /* distinct videos missing or undecodable */
    size_t dropped_queries;  /* rows dropped because of them */
    size_t empty_texts;      /* queries with no word in the vocabulary (kept) */
    size_t invalid_past_end; /* rows left out: segment starts at or after the video's end */
    size_t invalid_no_frame; /* rows left out: no frame decoded in any window of the segment */
    size_t identical_video;  /* kept clips whose embedding equals that of a different clip */
    size_t tokens, known_tokens; /* query words, and those in the vocabulary */
    size_t dim;              /* D */
    milnce_recall t2v, v2t;
    double chance_r1, chance_r5, chance_r10; /* 100 * K / n */
    float *text;             /* (n, D) as scored (normalised when eval.normalize) */
    float *video;            /* (n, D) */
    int64_t *t2v_rank, *v2t_rank; /* (n) */
    char **video_ids;        /* (n) */
    char **queries;          /* (n) */
    double *start, *end;     /* (n) clip spans, seconds */
    char json_path[MILNCE_PATH_MAX];
    char out_dir[MILNCE_PATH_MAX];
} milnce_eval_result;

/* Embeds the set (pipeline/eval.c), then scores it (pipeline/eval_score.h) and writes the
 * outputs. */
int milnce_eval_run(milnce_eval_model *m, const milnce_eval_opts *o, milnce_eval_result *res,
                    milnce_error *err);
void milnce_eval_result_free(milnce_eval_result *r);

/* ---- scoring saved embeddings ---- */

typedef struct milnce_eval_saved_opts {
    const char *dir;     /* what `eval --save-embeddings` wrote: eval_text.npy, eval_video.npy,
                            eval_ids.txt (and eval.json, whose other fields are carried over) */
    const char *out_dir; /* NULL or "": dir (its eval.json is replaced by the rescored one) */
    const char *ties;    /* "optimistic" | "official"; NULL: the rule dir/eval.json names, else
                            optimistic */
    int num_examples;    /* as milnce_eval_opts; thumbnails are those found in out_dir/thumbs */
    int top;
    const milnce_logger *lg;
} milnce_eval_saved_opts;

/* Scores saved embeddings as milnce_eval_run scores freshly computed ones (same ranks, recalls,
 * chance, identical_video_embeddings; the spans read back are rounded to the ms as saved) and
 * writes <out_dir>/eval.json with "embeddings": dir. res holds n, dim, the embeddings, ids,
 * queries, spans, ranks and the metrics; the counts of the embedding pass stay 0. */
int milnce_eval_score_saved(const milnce_eval_saved_opts *o, milnce_eval_result *res, milnce_error *err);

/* ---- embed ---- */

typedef struct milnce_embed_opts {
    const char *videos;     /* video list (CSV or folder, io/video_list.h), or NULL */
    const char *sentences;  /* text file, one sentence per line, or NULL (exactly one of the two) */
    const char *out_prefix; /* writes <prefix>.npy (float32 (N, D)) and <prefix>.ids.txt */
    int mixed5c;            /* the mixed_5c feature instead of the joint embedding */
    int num_windows;        /* > 0: this many windows evenly spaced over each video;
                               0: consecutive windows every window_seconds */
    double window_seconds;  /* stride of consecutive windows; 0 = T / fps */
    int average;            /* one row per video: the mean over its windows */
    const milnce_logger *lg;
} milnce_embed_opts;

typedef struct milnce_embed_result {
    size_t rows, dim;
    size_t items;   /* videos or sentences read */
    size_t skipped; /* videos that are missing or failed */
    char npy_path[MILNCE_PATH_MAX], ids_path[MILNCE_PATH_MAX];
} milnce_embed_result;

/* Rows of <prefix>.ids.txt: "<video id>\t<window start, seconds %.3f>" per window, "<video id>"
 * with average, the 1-based line number for sentences (empty lines give rows too). */
int milnce_embed_run(milnce_eval_model *m, const milnce_embed_opts *o, milnce_embed_result *res,
                     milnce_error *err);

#endif
