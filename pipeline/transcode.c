#include "transcode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "video.h"
#include "video_encode.h"

int milnce_transcode(const char *path, const milnce_transcode_opts *o, uint8_t **mp4, size_t *size,
                     milnce_transcode_info *info, const milnce_logger *lg, milnce_error *err) {
    memset(info, 0, sizeof *info);
    *mp4 = NULL;
    *size = 0;
    int fps = (int)lrint(o->fps);
    if (fps < 1 || fabs(o->fps - fps) > 1e-9)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "rendition fps must be a whole number, got %g", o->fps);
    milnce_decoder *dec = NULL;
    milnce_video_encoder *enc = NULL;
    milnce_frames fr = {0};
    int ret = milnce_decoder_open(&dec, path, lg, err);
    if (ret < 0) return ret;
    const milnce_video_info *vi = milnce_decoder_info(dec);
    info->duration = vi->duration;
    info->src_width = vi->display_width ? vi->display_width : vi->width;
    info->src_height = vi->display_height ? vi->display_height : vi->height;
    snprintf(info->src_codec, sizeof info->src_codec, "%s", vi->codec);
    if (!(vi->duration > 0)) {
        ret = milnce_error_set(err, MILNCE_ERR_DECODE, "%s: no duration (empty or unreadable video)", path);
        goto end;
    }
    if (info->src_width < 2 || info->src_height < 2) {
        ret = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: %dx%d video is too small to train on",
                               path, info->src_width, info->src_height);
        goto end;
    }
    double total = vi->duration;
    if (o->max_seconds > 0 && o->max_seconds < total) total = o->max_seconds;
    /* Chunks end on multiples of 1/fps so that consecutive clips pick exactly the frames one
     * long clip would. */
    double chunk = o->chunk_s > 0 ? o->chunk_s : 8.0;
    int64_t per_chunk = (int64_t)ceil(chunk * fps);
    double t0 = 0; /* clip times count from the container start */
    for (int64_t first = 0;; first += per_chunk) {
        double a = t0 + (double)first / fps, b = t0 + (double)(first + per_chunk) / fps;
        if (a >= t0 + total) break;
        if (b > t0 + total) b = t0 + total;
        milnce_clip_spec spec = {.start = a, .end = b, .fps = fps, .size = o->size, .crop = MILNCE_CROP_NONE};
        if ((ret = milnce_decoder_clip(dec, &spec, &fr, err)) < 0) {
            if (ret == MILNCE_ERR_DECODE && info->frames > 0) { /* damaged tail: keep what decoded */
                milnce_log(lg, MILNCE_LOG_WARN, "%s: stopped at %.1f s: %s", path, a, err->msg);
                ret = 0;
                break;
            }
            goto end;
        }
        info->decode_warnings += fr.warnings;
        if (fr.t == 0) break;
        if (!enc) {
            milnce_encode_opts eo;
            /* x264 needs even sizes: drop the last odd row/column. */
            info->width = fr.w & ~1;
            info->height = fr.h & ~1;
            milnce_encode_opts_init(&eo, info->width, info->height, fps);
            if (o->crf > 0) eo.crf = o->crf;
            if ((ret = milnce_video_encoder_open_mem(&enc, &eo, err)) < 0) goto end;
        }
        if ((fr.w & ~1) != info->width || (fr.h & ~1) != info->height) {
            ret = milnce_error_set(err, MILNCE_ERR_DECODE, "%s: frame size changed mid-stream", path);
            goto end;
        }
        for (int i = 0; i < fr.t; i++) {
            const uint8_t *f = fr.data + (size_t)i * fr.h * fr.w * 3;
            if ((ret = milnce_video_encoder_write_rgb(enc, f, fr.w * 3, err)) < 0) goto end;
        }
        info->frames += fr.t;
    }
    if (!enc || info->frames == 0) {
        ret = milnce_error_set(err, MILNCE_ERR_DECODE, "%s: no decodable frame", path);
        goto end;
    }
    if ((ret = milnce_video_encoder_finish(enc, err)) < 0) goto end;
    ret = milnce_video_encoder_take(enc, mp4, size, err);
end:
    milnce_video_encoder_free(&enc);
    milnce_frames_free(&fr);
    milnce_decoder_free(&dec);
    return ret;
}
