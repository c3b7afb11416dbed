/* The training rendition of one video: decoded at `fps` in one sequential pass, resized to a
 * short side of `size` pixels (no crop), re-encoded as H.264 (key frame every second, no audio)
 * and streamed into a sink as it is encoded. Memory stays bounded whatever the video's length:
 * a few decoded frames, the encoder's look-ahead and the muxer's sample tables (~30 bytes per
 * output frame); the encoded bytes are never held. */
#ifndef MILNCE_TRANSCODE_H
#define MILNCE_TRANSCODE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "video_encode.h"

/* Changes whenever the same options would give different rendition bytes (encoder settings,
 * scaling, container layout): preprocess records it with each shard and remakes older shards. */
#define MILNCE_TRANSCODE_VERSION 2 /* 2: key frames exactly on whole seconds */

typedef struct milnce_transcode_opts {
    double fps;         /* output frame rate, integer-valued (the rendition is CFR) */
    int size;           /* short side, pixels */
    int crf;            /* x264 CRF */
    double max_seconds; /* 0 = whole video; else stop after this much */
} milnce_transcode_opts;

typedef struct milnce_transcode_info {
    double duration;        /* seconds of the source (probe) */
    int src_width, src_height;
    char src_codec[32];
    int width, height;      /* rendition */
    int64_t frames;         /* rendition frames */
    int decode_warnings;    /* damaged frames skipped */
} milnce_transcode_info;

/* Transcodes path into sink (an MP4 with the moov at the end, see milnce_video_encoder_open_sink).
 * On failure the sink may hold part of an MP4: the caller drops it. A failing sink write fails
 * the transcode with MILNCE_ERR_DECODE naming the I/O error; a caller that needs to tell its own
 * I/O errors from a bad video records them in the sink. */
int milnce_transcode(const char *path, const milnce_transcode_opts *o, const milnce_encode_sink *sink,
                     milnce_transcode_info *info, const milnce_logger *lg, milnce_error *err);

#endif
