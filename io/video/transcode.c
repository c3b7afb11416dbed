/* The training rendition: one sequential pass over the source (io/video/video_stream.c, the clip
 * decoder's frame-sink mode), each frame encoded as it comes (io/video/video_encode.c) into the
 * caller's sink. */
#include "transcode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "video.h"
#include "video_stream.h"

typedef struct encode_state {
    const milnce_transcode_opts *o;
    const milnce_encode_sink *sink;
    int fps;
    milnce_video_encoder *enc; /* opened at the first frame, when the size is known */
    milnce_transcode_info *info;
    milnce_error *err;
} encode_state;

static int on_frame(void *user, int64_t i, const uint8_t *rgb, int w, int h, int stride) {
    encode_state *es = user;
    milnce_transcode_info *info = es->info;
    int ret;
    (void)i;
    if (!es->enc) {
        milnce_encode_opts eo;
        /* x264 needs even sizes: drop the last odd row/column. */
        info->width = w & ~1;
        info->height = h & ~1;
        milnce_encode_opts_init(&eo, info->width, info->height, es->fps);
        if (es->o->crf > 0) eo.crf = es->o->crf;
        eo.faststart = 0; /* streamed: moov at the end */
        if ((ret = milnce_video_encoder_open_sink(&es->enc, &eo, es->sink, es->err)) < 0) return ret;
    }
    return milnce_video_encoder_write_rgb(es->enc, rgb, stride, es->err);
}

int milnce_transcode(const char *path, const milnce_transcode_opts *o, const milnce_encode_sink *sink,
                     milnce_transcode_info *info, const milnce_logger *lg, milnce_error *err) {
    memset(info, 0, sizeof *info);
    int fps = (int)lrint(o->fps);
    if (fps < 1 || fabs(o->fps - fps) > 1e-9)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "rendition fps must be a whole number, got %g", o->fps);
    milnce_video_stream *vs = NULL;
    encode_state es = {.o = o, .sink = sink, .fps = fps, .info = info, .err = err};
    int ret = milnce_video_stream_open(&vs, path, lg, err);
    if (ret < 0) return ret;
    const milnce_video_info *vi = milnce_video_stream_info(vs);
    info->duration = vi->duration;
    info->src_width = vi->display_width ? vi->display_width : vi->width;
    info->src_height = vi->display_height ? vi->display_height : vi->height;
    snprintf(info->src_codec, sizeof info->src_codec, "%s", vi->codec);
    milnce_video_info usable = *vi;
    if (!(usable.duration > 0)) {
        /* No duration in the header (a live WebM recording): scan the packets as `milnce probe`
         * does. An extra pass over the file, for such files only. */
        milnce_video_info pi;
        if (milnce_video_probe(path, &pi, err) < 0) {
            ret = milnce_error_prefix(err, "scanning for the duration");
            goto end;
        }
        usable.duration = info->duration = pi.duration;
    }
    if ((ret = milnce_video_check_usable(path, &usable, err)) < 0) goto end; /* embed refuses the same */
    double total = usable.duration;
    if (o->max_seconds > 0 && o->max_seconds < total) total = o->max_seconds;
    /* One clip [0, total) at fps: slot k holds the frame shown at k / fps s from the container
     * start, as milnce_decoder_clip picks it. */
    milnce_video_stream_stats st;
    ret = milnce_video_stream_run(vs, fps, o->size, total, on_frame, &es, &st, err);
    info->frames = st.frames;
    info->decode_warnings = st.warnings;
    if (ret < 0) goto end;
    if (!es.enc || info->frames == 0) {
        ret = milnce_error_set(err, MILNCE_ERR_DECODE, "%s: no decodable frame", path);
        goto end;
    }
    ret = milnce_video_encoder_finish(es.enc, err);
end:
    milnce_video_encoder_free(&es.enc);
    milnce_video_stream_free(&vs);
    return ret;
}
