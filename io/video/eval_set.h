/* The evaluation sets of `milnce eval` (pipeline/eval.h has the protocol): a YouCook2 or
 * MSR-VTT CSV with its videos under eval.video_root, or a folder of held-out shards, read into
 * one list of queries (a sentence and its clip).
 *
 *   youcook2  CSV with header columns end,start,task,text,video_id (any order, extra columns
 *             ignored); video at <root>/<video_id>.<ext>, <root>/<task>/<video_id>.<ext> (ext in
 *             milnce_video_exts, io/video_list.h) or <root>/<video_id> when the id carries its
 *             extension. root = eval.video_root, else the CSV's folder.
 *   msrvtt    CSV key,vid_key,video_id,sentence; the clip is the whole video (end < 0 until the
 *             video is opened).
 *   shards    eval.csv names a folder of shards (or one .tar): every sentence of every sample.
 * An id the video list's check refuses (separators, control characters; dots are allowed here)
 * or whose file does not exist gives an item without a path: the caller counts it missing. */
#ifndef MILNCE_EVAL_SET_H
#define MILNCE_EVAL_SET_H

#include <stddef.h>

#include "config.h"
#include "error.h"
#include "shard.h"
#include "video.h"

/* One query: a sentence and its clip. */
typedef struct milnce_eval_item {
    char *video_id;
    char *text;
    double start, end; /* seconds; end < 0: the whole video (filled once decoded) */
    char *path;        /* video file, NULL for a shard sample or a missing video */
    int shard;         /* shard reader index, -1 for files */
    size_t sample;
} milnce_eval_item;

typedef struct milnce_eval_set {
    milnce_eval_item *v;
    size_t n, cap;
    milnce_shard_reader **shards;
    size_t nshards;
} milnce_eval_set;


/* Appends the rows of eval.csv (msrvtt: MSR-VTT columns, else YouCook2) to s. Errors name the
 * file and line (a bad header, a bad start/end, a short row) or the key eval.csv. */
int milnce_eval_set_read_csv(const milnce_config *cfg, int msrvtt, milnce_eval_set *s, milnce_error *err);
/* Appends every sentence of every sample of the shards eval.csv names; samples without .mp4 or
 * .json or without a sentences array are skipped with a warning. */
int milnce_eval_set_read_shards(const milnce_config *cfg, milnce_eval_set *s, const milnce_logger *lg, milnce_error *err);
void milnce_eval_set_free(milnce_eval_set *s);

/* Opens the video of an item (MILNCE_ERR_NOTFOUND when it has none). */
int milnce_eval_set_open_video(const milnce_eval_set *s, const milnce_eval_item *it, const milnce_logger *lg,
                               milnce_decoder **dec, milnce_error *err);
/* 1 when both items are clips of the same video. */
int milnce_eval_item_same_video(const milnce_eval_item *a, const milnce_eval_item *b);

#endif
