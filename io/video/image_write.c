#include "image_write.h"

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fileutil.h"

milnce_image_format milnce_image_format_from_path(const char *path) {
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (!dot || strchr(dot, '/')) return MILNCE_IMAGE_AUTO;
    if (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0) return MILNCE_IMAGE_JPEG;
    if (strcasecmp(dot, ".png") == 0) return MILNCE_IMAGE_PNG;
    return MILNCE_IMAGE_AUTO;
}

milnce_image_format milnce_image_format_sniff(const uint8_t *d, size_t n) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff) return MILNCE_IMAGE_JPEG;
    if (n >= 8 && memcmp(d, png_sig, 8) == 0) return MILNCE_IMAGE_PNG;
    return MILNCE_IMAGE_AUTO;
}

/* Output size: both given, one given (aspect kept, rounded, >= 1), or none (input size). */
static void out_size(int w, int h, const milnce_image_opts *o, int *ow, int *oh) {
    *ow = o ? o->out_width : 0;
    *oh = o ? o->out_height : 0;
    if (*ow <= 0 && *oh <= 0) {
        *ow = w;
        *oh = h;
    } else if (*oh <= 0) {
        *oh = (int)(((long long)h * *ow + w / 2) / w);
        if (*oh < 1) *oh = 1;
    } else if (*ow <= 0) {
        *ow = (int)(((long long)w * *oh + h / 2) / h);
        if (*ow < 1) *ow = 1;
    }
}

/* Zeroes a frame's buffers, padding included: swscale and the encoders read whole SIMD words and
 * macroblocks past the picture's edge, which must not be uninitialised memory. */
static void zero_frame(AVFrame *f) {
    for (int i = 0; i < AV_NUM_DATA_POINTERS && f->buf[i]; i++) memset(f->buf[i]->data, 0, f->buf[i]->size);
}

static int append(uint8_t **buf, size_t *size, const uint8_t *p, size_t n) {
    uint8_t *b = realloc(*buf, *size + n);
    if (!b) return -1;
    memcpy(b + *size, p, n);
    *buf = b;
    *size += n;
    return 0;
}

int milnce_image_encode(const uint8_t *rgb, int width, int height, int stride,
                        const milnce_image_opts *o, uint8_t **data, size_t *size, milnce_error *err) {
    AVCodecContext *cc = NULL;
    AVFrame *frame = NULL, *src = NULL;
    AVPacket *pkt = NULL;
    struct SwsContext *sws = NULL;
    uint8_t *out = NULL;
    size_t outn = 0;
    int ret = 0, av;

    if (!data || !size) return milnce_error_set(err, MILNCE_ERR_INVALID, "image encode: no output pointer");
    *data = NULL;
    *size = 0;
    if (!rgb || width <= 0 || height <= 0 || width > MILNCE_IMAGE_MAX_SIDE || height > MILNCE_IMAGE_MAX_SIDE)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "image encode: bad size %dx%d (1..%d)", width, height,
                                MILNCE_IMAGE_MAX_SIDE);
    if (stride < 3 * width)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "image encode: stride %d < 3 x width %d", stride, width);
    milnce_image_format fmt = o && o->format ? o->format : MILNCE_IMAGE_JPEG;
    if (fmt != MILNCE_IMAGE_JPEG && fmt != MILNCE_IMAGE_PNG)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "image encode: unknown format %d", (int)fmt);
    int quality = o && o->quality ? o->quality : 90;
    if (quality < 1 || quality > 100)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "image encode: JPEG quality %d not in 1..100", quality);
    int ow, oh;
    out_size(width, height, o, &ow, &oh);
    if (ow > MILNCE_IMAGE_MAX_SIDE || oh > MILNCE_IMAGE_MAX_SIDE)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "image encode: output %dx%d larger than %d", ow, oh,
                                MILNCE_IMAGE_MAX_SIDE);

    const int jpeg = fmt == MILNCE_IMAGE_JPEG;
    const char *name = jpeg ? "mjpeg" : "png";
    const AVCodec *codec = avcodec_find_encoder(jpeg ? AV_CODEC_ID_MJPEG : AV_CODEC_ID_PNG);
    if (!codec) return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "image encode: FFmpeg has no %s encoder", name);
    enum AVPixelFormat pix = jpeg ? AV_PIX_FMT_YUV444P : AV_PIX_FMT_RGB24;
    if (!(cc = avcodec_alloc_context3(codec)) || !(frame = av_frame_alloc()) || !(pkt = av_packet_alloc())) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "image encode: out of memory");
        goto end;
    }
    cc->width = ow;
    cc->height = oh;
    cc->pix_fmt = pix;
    cc->time_base = (AVRational){1, 25};
    cc->thread_count = 1;
    if (jpeg) {
        /* Full-range ("JPEG") 4:4:4: thumbnails are small, and 4:2:0 chroma costs ~7 dB PSNR on
         * sharp coloured edges. The fixed quantiser maps quality 100 -> qscale 1 ... 1 -> 31. */
        cc->color_range = AVCOL_RANGE_JPEG;
        cc->flags |= AV_CODEC_FLAG_QSCALE;
        int q = 1 + (100 - quality) * 30 / 99;
        cc->global_quality = FF_QP2LAMBDA * q;
        cc->qmin = cc->qmax = q;
    }
    if ((av = avcodec_open2(cc, codec, NULL)) < 0) {
        ret = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "image encode: opening %s encoder: %s", name,
                               av_err2str(av));
        goto end;
    }
    frame->format = pix;
    frame->width = ow;
    frame->height = oh;
    if ((av = av_frame_get_buffer(frame, 0)) < 0) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "image encode: frame buffer: %s", av_err2str(av));
        goto end;
    }
    zero_frame(frame);
    if (!jpeg && ow == width && oh == height) {
        for (int y = 0; y < height; y++) /* lossless path: exact copy */
            memcpy(frame->data[0] + (size_t)y * frame->linesize[0], rgb + (size_t)y * stride, (size_t)width * 3);
    } else {
        sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, ow, oh, pix,
                             SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
        if (!sws) {
            ret = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "image encode: no scaler %dx%d -> %dx%d", width,
                                   height, ow, oh);
            goto end;
        }
        if (jpeg) {
            const int *coef = sws_getCoefficients(SWS_CS_ITU601);
            sws_setColorspaceDetails(sws, coef, 1, coef, 1, 0, 1 << 16, 1 << 16);
        }
        /* swscale's SIMD reads up to 16 bytes past the end of a row; the caller's buffer has no
         * such padding, so the rows go through a padded frame first. */
        src = av_frame_alloc();
        if (!src) {
            ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "image encode: out of memory");
            goto end;
        }
        src->format = AV_PIX_FMT_RGB24;
        src->width = width;
        src->height = height;
        if ((av = av_frame_get_buffer(src, 0)) < 0) {
            ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "image encode: frame buffer: %s", av_err2str(av));
            goto end;
        }
        zero_frame(src);
        for (int y = 0; y < height; y++)
            memcpy(src->data[0] + (size_t)y * src->linesize[0], rgb + (size_t)y * stride, (size_t)width * 3);
        sws_scale(sws, (const uint8_t *const *)src->data, src->linesize, 0, height, frame->data, frame->linesize);
    }
    frame->pts = 0;
    if (jpeg) frame->quality = cc->global_quality;
    if ((av = avcodec_send_frame(cc, frame)) < 0 || (av = avcodec_send_frame(cc, NULL)) < 0) {
        ret = milnce_error_set(err, MILNCE_ERR_DECODE, "image encode: %s: %s", name, av_err2str(av));
        goto end;
    }
    for (;;) {
        av = avcodec_receive_packet(cc, pkt);
        if (av == AVERROR_EOF) break;
        if (av < 0) {
            ret = milnce_error_set(err, MILNCE_ERR_DECODE, "image encode: %s: %s", name, av_err2str(av));
            goto end;
        }
        int bad = append(&out, &outn, pkt->data, (size_t)pkt->size);
        av_packet_unref(pkt);
        if (bad) {
            ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "image encode: out of memory");
            goto end;
        }
    }
    if (outn == 0) {
        ret = milnce_error_set(err, MILNCE_ERR_DECODE, "image encode: %s produced no data", name);
        goto end;
    }
    *data = out;
    *size = outn;
    out = NULL;
end:
    free(out);
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    av_frame_free(&src);
    avcodec_free_context(&cc);
    return ret;
}

int milnce_image_write_file(const char *path, const uint8_t *rgb, int width, int height, int stride,
                            const milnce_image_opts *o, milnce_error *err) {
    milnce_image_opts opts = {0};
    if (o) opts = *o;
    if (!path) return milnce_error_set(err, MILNCE_ERR_INVALID, "image write: no path");
    if (opts.format == MILNCE_IMAGE_AUTO) {
        opts.format = milnce_image_format_from_path(path);
        if (opts.format == MILNCE_IMAGE_AUTO)
            return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: unknown image extension (use .jpg, .jpeg or .png)",
                                    path);
    }
    uint8_t *data = NULL;
    size_t n = 0;
    int ret = milnce_image_encode(rgb, width, height, stride, &opts, &data, &n, err);
    if (ret < 0) {
        milnce_error_prefix(err, "%s", path);
        return ret;
    }
    ret = milnce_write_file_atomic(path, data, n, err);
    free(data);
    return ret;
}
