/* Sequential decoding at a fixed frame rate (see video_stream.h): one clip [0, end) through
 * milnce_decoder_stream, the clip decoder's frame-sink mode. */
#include "video_stream.h"

#include <stdlib.h>
#include <string.h>

struct milnce_video_stream {
    milnce_decoder *d;
    int ran;
};

void milnce_video_stream_free(milnce_video_stream **ps) {
    milnce_video_stream *s = ps ? *ps : NULL;
    if (!s) return;
    milnce_decoder_free(&s->d);
    free(s);
    *ps = NULL;
}

int milnce_video_stream_open(milnce_video_stream **ps, const char *path, const milnce_logger *lg,
                             milnce_error *err) {
    if (!ps || !path) return milnce_error_set(err, MILNCE_ERR_INVALID, "video_stream_open: NULL argument");
    *ps = NULL;
    milnce_video_stream *s = calloc(1, sizeof *s);
    if (!s) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", path);
    int ret = milnce_decoder_open(&s->d, path, lg, err);
    if (ret < 0) {
        milnce_video_stream_free(&s);
        return ret;
    }
    *ps = s;
    return 0;
}

const milnce_video_info *milnce_video_stream_info(const milnce_video_stream *s) {
    return s ? milnce_decoder_info(s->d) : NULL;
}

int milnce_video_stream_run(milnce_video_stream *s, double fps, int size, double end, milnce_frame_fn fn,
                            void *user, milnce_video_stream_stats *st, milnce_error *err) {
    milnce_video_stream_stats z = {0};
    if (st) *st = z;
    if (!s || !fn) return milnce_error_set(err, MILNCE_ERR_INVALID, "video_stream_run: NULL argument");
    if (s->ran) return milnce_error_set(err, MILNCE_ERR_INVALID, "video_stream_run: a video stream runs once");
    s->ran = 1;
    milnce_clip_spec spec = {.start = 0, .end = end, .fps = fps, .size = size, .crop = MILNCE_CROP_NONE};
    int ret = milnce_decoder_stream(s->d, &spec, fn, user, &z.frames, &z.warnings, err);
    milnce_decoder_stats(s->d, &z.decoded, &z.skipped); /* since open: this run */
    if (st) *st = z;
    return ret;
}
