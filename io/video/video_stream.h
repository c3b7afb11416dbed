/* Sequential decoding of a whole video at a fixed frame rate: one pass from the start, frames
 * handed to a callback one at a time. For the preprocess transcode, which needs every frame of
 * a video of any length: memory stays at a few frames, and the input is read once (no seek per
 * chunk, which on long-GOP sources decodes the frames between the key frame and each chunk's
 * start twice).
 *
 * A wrapper over milnce_decoder_stream (io/video/video.h): the frames are those milnce_decoder_clip
 * gives for one clip [0, end) with crop MILNCE_CROP_NONE at the same fps and size (the same fps
 * filter, autorotation, bicubic scaling and colour matrix: the same code), except on broken
 * inputs, where decode errors turn off the skipping of unneeded non-reference frames from there
 * on (milnce_decoder_clip decodes the clip again instead).
 *
 * Legend: H, W = output frame height and width (short side `size`, long side even). */
#ifndef MILNCE_VIDEO_STREAM_H
#define MILNCE_VIDEO_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "video.h"

typedef struct milnce_video_stream milnce_video_stream;

/* Opens path; fills nothing else until run. lg may be NULL. */
int milnce_video_stream_open(milnce_video_stream **s, const char *path, const milnce_logger *lg,
                             milnce_error *err);
const milnce_video_info *milnce_video_stream_info(const milnce_video_stream *s);

/* fn receives the frames (milnce_frame_fn, io/video/video.h). */
typedef struct milnce_video_stream_stats {
    int64_t frames;   /* output frames */
    int warnings;     /* decode errors met (each also logged) */
    int64_t decoded, skipped; /* frames decoded, non-reference frames not decoded */
} milnce_video_stream_stats;

/* Decodes [0, end) seconds (from the container start) at fps (> 0), short side size (0 = the
 * decoded size), calling fn for every output frame in order. Can be called once per stream.
 * A run that yields no frame because of decode errors is MILNCE_ERR_DECODE. */
int milnce_video_stream_run(milnce_video_stream *s, double fps, int size, double end,
                            milnce_frame_fn fn, void *user, milnce_video_stream_stats *st,
                            milnce_error *err);

void milnce_video_stream_free(milnce_video_stream **s);

#endif
