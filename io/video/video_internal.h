/* Shared by io/video/video_probe.c and io/video/video_decode.c: opening an input from a path or a memory
 * buffer, and filling milnce_video_info. Not a public header. */
#ifndef MILNCE_VIDEO_INTERNAL_H
#define MILNCE_VIDEO_INTERNAL_H

#include <libavformat/avformat.h>

#include "video.h"

/* A const buffer read through a custom AVIOContext (read + seek). */
typedef struct milnce_video_mem {
    const uint8_t *buf;
    size_t size;
    size_t pos;
} milnce_video_mem;

/* An opened input: fmt with stream info read, and the custom I/O when reading memory. */
typedef struct milnce_video_input {
    AVFormatContext *fmt;
    AVIOContext *avio; /* NULL for files */
    milnce_video_mem mem;
    int vstream;       /* best video stream */
    char name[512];    /* for messages */
} milnce_video_input;

/* Opens path (buf == NULL) or buf/size. in must stay at a fixed address while open (the custom
 * I/O points into it). Fails with a message naming the input when there is no video stream. */
int milnce_video_input_open(milnce_video_input *in, const char *path, const uint8_t *buf,
                            size_t size, const char *name, milnce_error *err);
/* The same with light != 0: skips avformat_find_stream_info (which decodes frames: 1-3 ms on a
 * 456x256 rendition) when the container header already gives what decoding needs: MP4/MOV with
 * an H.264 or HEVC stream that has extradata (SPS/PPS), a frame size and a start time on every
 * stream. fmt->start_time is then the streams' earliest start, as find_stream_info computes it
 * for such files. What only probing finds stays unknown: codecpar->format (-1), and
 * r_frame_rate when the sample durations vary. *light_used says which way it went. */
int milnce_video_input_open_light(milnce_video_input *in, const uint8_t *buf, size_t size,
                                  const char *name, int *light_used, milnce_error *err);
void milnce_video_input_close(milnce_video_input *in);

/* Fills info from an opened input. scan != 0 reads all packets (and seeks back to the start)
 * when the header has no duration. */
int milnce_video_fill_info(milnce_video_input *in, int scan, milnce_video_info *info,
                           milnce_error *err);

/* The autorotation the ffmpeg CLI applies for a display matrix, as a map from output pixel
 * (x', y') to source pixel: u = swap ? y' : x', v = swap ? x' : y';
 * x = flip_u ? W-1-u : u, y = flip_v ? H-1-v : v. */
typedef struct milnce_video_rot {
    int swap, flip_u, flip_v;
} milnce_video_rot;

milnce_video_rot milnce_video_autorotation(const AVStream *st);

/* Maps an AVERROR to a MILNCE_ERR_* code. */
int milnce_video_averr(int averr);

#endif
