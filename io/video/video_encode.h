/* H.264 encoding of RGB frames into an MP4, to a file or to a memory buffer.
 *
 * This is how milnce writes the training rendition of a video (the `.mp4` member of a shard) and
 * the synthetic corpus. libx264 through libavcodec, yuv420p, no audio, one thread per encoder
 * (callers run encoders in parallel) and bit-exact muxing, so the same frames and options give
 * the same bytes. The moov atom is moved to the front ("faststart"), so a reader that has only
 * the first part of the file, or reads it from memory, can start decoding at once; a key frame
 * comes exactly every `gop` frames (default: one second; no scene-cut key frames). A third mode streams the MP4 (moov at
 * the end) into a caller's seekable sink, for renditions whose length is not bounded.
 *
 * Frames are RGB24, H x W x 3 bytes with a row stride in bytes; W and H must be even. */
#ifndef MILNCE_VIDEO_ENCODE_H
#define MILNCE_VIDEO_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct milnce_encode_opts {
    int width, height;     /* pixels, even, >= 2 */
    int fps_num, fps_den;  /* frame rate as a fraction, e.g. 15/1 or 30000/1001 */
    int crf;               /* x264 constant rate factor, 0..51; default 23 */
    const char *preset;    /* x264 preset; default "veryfast" */
    const char *tune;      /* x264 tune; default "fastdecode" (no CABAC, no deblocking: the
                              training loader decodes every clip, and this halves its decode
                              time for ~7% more bytes); "" = none */
    int gop;               /* max frames between key frames; default: fps rounded down, >= 1 */
    int faststart;         /* 1 (default): moov before mdat; 0: moov at the end */
} milnce_encode_opts;

/* Fills the defaults above for a size and an integer frame rate. */
void milnce_encode_opts_init(milnce_encode_opts *o, int width, int height, int fps);

typedef struct milnce_video_encoder milnce_video_encoder;

/* An encoder that writes the MP4 to path atomically at finish (temp file + fsync + rename). The
 * MP4 is built in memory either way (the faststart pass rewrites it), so memory grows with the
 * encoded size: fine for training renditions (about 3 KB per second at 160x120). */
int milnce_video_encoder_open_file(milnce_video_encoder **enc, const char *path,
                                   const milnce_encode_opts *o, milnce_error *err);
/* An encoder that builds the MP4 in memory; take the bytes with milnce_video_encoder_take(). */
int milnce_video_encoder_open_mem(milnce_video_encoder **enc, const milnce_encode_opts *o,
                                  milnce_error *err);

/* Where a streaming encoder writes the MP4: a seekable byte stream whose position 0 is the
 * MP4's first byte. The MP4 muxer writes the mdat forward, seeks back once to patch its size,
 * then appends the moov at the end; bytes skipped by a seek past the end read as zeros. */
typedef struct milnce_encode_sink {
    void *opaque;
    /* Writes n bytes at the current position and advances it; 0 or a negative MILNCE_ERR_*
     * code (the encoder turns it into FFmpeg's convention: a sink never sees AVERROR). */
    int (*write)(void *opaque, const uint8_t *buf, int n);
    /* Moves the position (whence SEEK_SET, SEEK_CUR or SEEK_END, bytes from the MP4's start)
     * and returns it, or a negative MILNCE_ERR_* code. */
    int64_t (*seek)(void *opaque, int64_t offset, int whence);
} milnce_encode_sink;

/* An encoder that streams the MP4 into sink as frames are encoded: memory stays bounded by a
 * few frames and the muxer's sample tables (about 30 bytes per frame) whatever the length. The
 * moov comes at the end (o->faststart must be 0: moving it to the front needs the whole file);
 * a reader that has the whole member (the shard loader does) seeks to it. The sink must
 * outlive the encoder. */
int milnce_video_encoder_open_sink(milnce_video_encoder **enc, const milnce_encode_opts *o,
                                   const milnce_encode_sink *sink, milnce_error *err);

/* Encodes one frame: rgb is (height, width, 3) with rows `stride` bytes apart. Frame i is shown
 * at time i * fps_den / fps_num seconds. */
int milnce_video_encoder_write_rgb(milnce_video_encoder *enc, const uint8_t *rgb, int stride,
                                   milnce_error *err);

/* Flushes the encoder, writes the trailer and (file mode) commits the file; in sink mode every
 * byte has reached the sink when it returns 0. */
int milnce_video_encoder_finish(milnce_video_encoder *enc, milnce_error *err);

/* Memory mode, after finish: hands over the MP4 bytes (*data malloc'ed, caller frees). */
int milnce_video_encoder_take(milnce_video_encoder *enc, uint8_t **data, size_t *size,
                              milnce_error *err);

/* Frames written so far. */
int64_t milnce_video_encoder_frames(const milnce_video_encoder *enc);

/* Frees everything (an unfinished file encoder leaves no file). NULLs *enc. */
void milnce_video_encoder_free(milnce_video_encoder **enc);

#endif
