/* The training rendition of one video: decoded at `fps`, resized to a short side of `size`
 * pixels (no crop), re-encoded as H.264 in memory (key frame every second, no audio).
 * Memory stays bounded whatever the video's length: frames go through in chunks of a few
 * seconds, so only one chunk of frames and the encoded bytes are held. */
#ifndef MILNCE_TRANSCODE_H
#define MILNCE_TRANSCODE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct milnce_transcode_opts {
    double fps;         /* output frame rate, integer-valued (the rendition is CFR) */
    int size;           /* short side, pixels */
    int crf;            /* x264 CRF */
    double chunk_s;     /* seconds decoded per step (default 8) */
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

int milnce_transcode(const char *path, const milnce_transcode_opts *o, uint8_t **mp4, size_t *size,
                     milnce_transcode_info *info, const milnce_logger *lg, milnce_error *err);

#endif
