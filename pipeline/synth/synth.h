/* `milnce synth`: a HowTo100M-style corpus with a known answer.
 *
 * Layout under out/ (ids are vid_NNNNN and eval_NNNNN):
 *   synth.json                     the options that made it
 *   train/videos.csv               HowTo100M video list: `video_path` (relative to train/)
 *   train/videos/vid_00000.mp4     H.264, 160x120 or 128x96, 10/12/15 fps, no audio
 *   train/captions/vid_00000.csv   narration, format by video: i%3 == 0 HowTo100M CSV
 *                                  (start,end,text), 1 SRT (.srt), 2 WebVTT (.vtt); misaligned,
 *                                  with fillers and dropped sentences
 *   train/truth.json               per video: segments (time, shape, colour, action, caption) and
 *                                  narration lines with their segment and unshifted times
 *   eval/videos.csv, eval/videos/eval_00000.mp4
 *   eval/youcook2_val.csv          clean aligned captions, YouCook2 layout end,start,task,text,video_id
 *   eval/truth.json
 *   shards/train-000000.tar (+ .idx.json)   only with `shard`: <id>.mp4 + <id>.json per video
 * Same options and seed give byte-identical files. */
#ifndef MILNCE_SYNTH_H
#define MILNCE_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "synth_script.h"

typedef struct milnce_synth_opts {
    milnce_synth_params params;
    int videos;        /* training videos; default 8 */
    int eval_videos;   /* evaluation videos; default 4 */
    const char *out;   /* output folder (created) */
    int threads;       /* parallel encoders; default 2 */
    int crf;           /* x264 CRF; default 23 */
    int shard;         /* also pack the training videos and narration into shards */
    int shard_samples; /* samples per shard; default 16 */
} milnce_synth_opts;

void milnce_synth_opts_init(milnce_synth_opts *o);

typedef struct milnce_synth_stats {
    int videos;        /* videos written (train + eval) */
    int64_t frames;    /* frames encoded */
    int64_t bytes;     /* bytes of mp4 */
    int lines;         /* narration lines written (train) */
    double seconds;    /* video seconds generated */
    int shards;        /* shards written */
} milnce_synth_stats;

int milnce_synth_run(const milnce_synth_opts *o, const milnce_logger *lg, milnce_synth_stats *st,
                     milnce_error *err);

enum { MILNCE_SYNTH_FMT_CSV = 0, MILNCE_SYNTH_FMT_SRT = 1, MILNCE_SYNTH_FMT_VTT = 2 };
/* The narration of v as a caption file in format fmt; *text malloc'ed, NUL-terminated. */
int milnce_synth_narration(const milnce_synth_video *v, int fmt, char **text, size_t *len,
                           milnce_error *err);

/* Renders and encodes v into an MP4 in memory (*data malloc'ed). */
int milnce_synth_encode(const milnce_synth_video *v, int crf, uint8_t **data, size_t *size,
                        milnce_error *err);

#endif
