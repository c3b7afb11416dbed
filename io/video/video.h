/* Video probing and clip decoding with FFmpeg (libavformat, libavcodec, libswscale).
 *
 * A clip is the frames the ffmpeg command line would produce for
 *   ffmpeg -ss START -i VIDEO -t (END-START) \
 *          -vf fps=FPS,scale=<short side SIZE, long side -2>,crop=C:C[:X:Y] -pix_fmt rgb24 -f rawvideo -
 * i.e. the same frames (fps filter, round=near), the same autorotation (display matrix), the
 * same bicubic scaling and colour matrix, and the same crop. Times are seconds from the
 * container's start time (as `ffmpeg -ss` counts them).
 *
 * Legend: T = frames, H = height, W = width (after resize, crop and rotation).
 *
 * A milnce_decoder is single-threaded: use one per thread. There is no global state; the
 * decoder never prints (warnings go to the milnce_logger given at open). FFmpeg's own av_log
 * output is process-wide; commands and tests silence it with av_log_set_level. */
#ifndef MILNCE_VIDEO_H
#define MILNCE_VIDEO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "milnce/context.h"

#define MILNCE_VIDEO_MAX_STREAMS 16

typedef struct milnce_stream_info {
    int index;
    char type[16];  /* "video", "audio", "subtitle", "data", "attachment", "unknown" */
    char codec[32]; /* decoder short name, e.g. "h264"; "none" when unknown */
    int width, height;   /* video only; 0 otherwise */
    int sample_rate;     /* audio only; 0 otherwise */
    int channels;        /* audio only; 0 otherwise */
    char language[8];    /* "language" tag, "" when absent */
} milnce_stream_info;

typedef struct milnce_video_info {
    char container[64];  /* libavformat short name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
    char codec[32];      /* codec of the video stream, e.g. "h264" */
    char pix_fmt[32];    /* e.g. "yuv420p" */
    int video_stream;    /* index of the decoded (best) video stream */
    double start_time;   /* seconds, the container's start time (0 when unknown) */
    double duration;     /* seconds; from the header, else from a scan of the packets */
    int duration_scanned; /* 1 when the header had no duration and the packets were scanned */
    double avg_fps;      /* average frame rate (frames / duration), 0 when unknown */
    int avg_fps_num, avg_fps_den;
    double r_fps;        /* r_frame_rate: the lowest rate that represents all timestamps */
    int r_fps_num, r_fps_den;
    int vfr;             /* 1 when avg and r frame rates differ (variable frame rate) */
    int64_t nb_frames;   /* frames from the header, 0 when unknown */
    int width, height;   /* coded size of the video stream */
    int rotation;        /* display matrix rotation as ffprobe reports it (degrees counter-
                          * clockwise, in (-180, 180]); 0 when none */
    int display_width, display_height; /* size after autorotation */
    int nb_streams;      /* streams in the file (streams[] holds the first 16) */
    milnce_stream_info streams[MILNCE_VIDEO_MAX_STREAMS];
} milnce_video_info;

/* What preprocess refuses in a video before decoding it, with its reasons (so embed and
 * preprocess agree): no duration (empty or unreadable) is MILNCE_ERR_DECODE, a displayed side
 * under 2 pixels MILNCE_ERR_UNSUPPORTED ("too small to train on"). */
int milnce_video_check_usable(const char *path, const milnce_video_info *vi, milnce_error *err);

/* Fills info for a file (or a memory buffer). Scans packets when the header has no duration. */
int milnce_video_probe(const char *path, milnce_video_info *info, milnce_error *err);
int milnce_video_probe_memory(const uint8_t *buf, size_t size, const char *name_for_messages,
                              milnce_video_info *info, milnce_error *err);

typedef enum {
    MILNCE_CROP_CENTER = 0, /* centred crop_size x crop_size square (ffmpeg crop's default x, y) */
    MILNCE_CROP_NONE = 1,   /* whole resized frame */
    MILNCE_CROP_OFFSET = 2  /* crop at x = lrint(crop_x * (W - C)), y = lrint(crop_y * (H - C)) */
} milnce_crop_mode;

typedef struct milnce_clip_spec {
    double start, end;  /* seconds from the container start; frames with start <= t < end */
    double fps;         /* output frame rate (> 0) */
    int size;           /* short side after resize (long side keeps aspect, rounded to even);
                         * 0 = keep the decoded size */
    milnce_crop_mode crop;
    int crop_size;      /* side C of the square crop; clamped to the resized frame */
    double crop_x, crop_y; /* MILNCE_CROP_OFFSET only: fractions in [0, 1] */
    int max_frames;     /* 0 = all frames of [start, end) */
} milnce_clip_spec;

/* Output of milnce_decoder_clip: a buffer reused (grown as needed) across calls. */
typedef struct milnce_frames {
    uint8_t *data;   /* (T, H, W, 3) uint8 RGB, contiguous */
    size_t capacity; /* bytes allocated in data */
    int t, h, w;     /* T, H, W of the last clip */
    int lead;        /* leading frames that repeat the first decoded frame because it lies after
                      * the clip start (by more than half a frame period) */
    int warnings;    /* decode errors met (each also logged) while decoding the last clip */
} milnce_frames;

void milnce_frames_free(milnce_frames *f);

typedef struct milnce_decoder milnce_decoder;

/* Opens a file (path) or a const memory buffer (which must outlive the decoder; it is read
 * and seeked in place, never copied). name_for_messages names the input in errors and
 * warnings and helps container detection by its extension; it may be NULL. lg may be NULL. */
int milnce_decoder_open(milnce_decoder **d, const char *path, const milnce_logger *lg,
                        milnce_error *err);
int milnce_decoder_open_memory(milnce_decoder **d, const uint8_t *buf, size_t size,
                               const char *name_for_messages, const milnce_logger *lg,
                               milnce_error *err);

/* Decodes the clip described by spec into out (out->t may be 0 when the span holds no frame,
 * e.g. it starts after the end of the video). Decode errors in the stream are skipped and
 * counted in out->warnings with a warning each through the logger; a clip that yields no frame
 * because of them is an error (MILNCE_ERR_DECODE). */
int milnce_decoder_clip(milnce_decoder *d, const milnce_clip_spec *spec, milnce_frames *out,
                        milnce_error *err);

const milnce_video_info *milnce_decoder_info(const milnce_decoder *d);
/* Like milnce_decoder_clip, but the frames go to dst as float RGB in [0, 1] (the uint8 values
 * / 255), channel-planar: dst holds (3, T, H, W) floats, T = spec->max_frames (which must be
 * > 0), H x W the output size of the spec (channel c of frame t at dst + (c*T + t)*H*W);
 * dst_floats is its capacity (an error when 3*T*H*W exceed it). flip != 0 mirrors every frame
 * horizontally. Frames t >= out->t (past the end of the video) are zero. out receives t, h, w, lead and warnings;
 * out->data is neither used nor allocated. */
int milnce_decoder_clip_planar(milnce_decoder *d, const milnce_clip_spec *spec, int flip, float *dst,
                               size_t dst_floats, milnce_frames *out, milnce_error *err);

/* Receives output frame i (0, 1, ...) of milnce_decoder_stream: rgb is (h, w, 3) uint8 with
 * rows `stride` bytes apart, valid during the call. Returns 0, or a negative MILNCE_ERR_* (its
 * message set by the callback in its own milnce_error), which stops the decoding and is returned
 * by it; a positive value stops it with MILNCE_ERR_INTERRUPTED. */
typedef int (*milnce_frame_fn)(void *user, int64_t i, const uint8_t *rgb, int w, int h, int stride);

/* The frames of milnce_decoder_clip for spec (max_frames must be 0), handed to fn one at a
 * time as they are made instead of stored: a clip of any length needs one frame of memory
 * (no limit on the frame count). *frames and *warnings (either may be NULL) receive the frames
 * output and the decode errors met. On a broken input the frames may differ from
 * milnce_decoder_clip's: frames given to fn cannot be taken back, so a decode error turns off
 * the skipping of unneeded non-reference frames from there on instead of decoding the clip
 * again. */
int milnce_decoder_stream(milnce_decoder *d, const milnce_clip_spec *spec, milnce_frame_fn fn, void *user,
                          int64_t *frames, int *warnings, milnce_error *err);

/* Points *d at a memory buffer for the clips that follow, keeping what it can: a decoder
 * already on this buffer (same address and size) is kept as it is (the next clip seeks);
 * another decoder keeps its packets, frames, colour converters and buffers, and its codec
 * when the codec parameters are identical, and opens the new input "light": without FFmpeg's stream-info probing, which decodes frames, when the container
 * header gives the codec parameters (MP4/MOV, H.264 or HEVC with extradata, the training
 * renditions). *d NULL opens a new decoder. The clips are the frames of a decoder from
 * milnce_decoder_open_memory; milnce_decoder_info lacks what only probing finds (pix_fmt
 * "unknown", r_fps 0 for variable sample durations). On failure *d is freed and NULL. */
int milnce_decoder_reuse_memory(milnce_decoder **d, const uint8_t *buf, size_t size,
                                const char *name_for_messages, const milnce_logger *lg,
                                milnce_error *err);
/* 1 when the input was opened without stream-info probing (see milnce_decoder_reuse_memory). */
int milnce_decoder_light(const milnce_decoder *d);
/* Inputs for which milnce_decoder_reuse_memory kept the open codec (identical codec parameters,
 * extradata included: renditions of one size from one encoder); for tests and benchmarks. */
int64_t milnce_decoder_codec_kept(const milnce_decoder *d);

/* Frames seen by the decoder and frames it was allowed to skip (non-reference frames not in
 * the output) since open: for benchmarks and tests. */
void milnce_decoder_stats(const milnce_decoder *d, int64_t *decoded, int64_t *skipped);
/* 0 turns off skipping of unneeded non-reference frames (on by default); for tests. */
void milnce_decoder_set_skip(milnce_decoder *d, int enable);
/* 0 makes every frame go through the whole-frame conversion; by default a frame that needs no
 * resize (yuv420p) has only an even-aligned region around the crop converted, with the same
 * pixels. For tests. */
void milnce_decoder_set_fast_crop(milnce_decoder *d, int enable);

/* The instruction set this decoder's uint8 -> float conversion may use (milnce_ctx.simd,
 * include/milnce/context.h): MILNCE_SIMD_AUTO (the default: AVX2 when the CPU has it) or
 * MILNCE_SIMD_SSE2 / MILNCE_SIMD_AVX2 as a ceiling. Both paths give the same floats (tests
 * compare them). Returns 1 when the AVX2 path is in use, 0 when not, MILNCE_ERR_INVALID for an
 * unknown level. Kept by milnce_decoder_reuse_memory. */
int milnce_decoder_set_simd(milnce_decoder *d, int simd);

void milnce_decoder_free(milnce_decoder **d);

#endif
