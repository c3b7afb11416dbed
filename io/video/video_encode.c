#include "video_encode.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/cpu.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"

/* A growable byte buffer that the muxer writes and seeks in. The faststart pass of the MP4 muxer
 * re-opens "the output" for reading (s->io_open with AVIO_FLAG_READ); our io_open hands it a
 * read cursor over the same bytes. */
typedef struct membuf {
    uint8_t *data;
    size_t size, cap;
    size_t pos;
} membuf;

typedef struct memcursor {
    const membuf *mb;
    size_t pos;
} memcursor;

struct milnce_video_encoder {
    milnce_encode_opts o;
    char *path; /* file mode: destination, else NULL */
    membuf mb;  /* file and memory modes */
    milnce_encode_sink sink; /* sink mode (sink.write != NULL) */
    AVFormatContext *fmt;
    AVCodecContext *cc;
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws;
    uint8_t *rgb;      /* staging copy of the input, padded: swscale's SIMD reads past the end */
    int rgb_stride;
    int64_t nframes;
    int finished;
};

#define IO_BUF 65536

static int mem_write(void *opaque, uint8_t *buf, int n) {
    membuf *m = opaque;
    size_t end = m->pos + (size_t)n;
    if (end > m->cap) {
        size_t cap = m->cap ? m->cap : 1 << 16;
        while (cap < end) cap *= 2;
        uint8_t *d = realloc(m->data, cap);
        if (!d) return AVERROR(ENOMEM);
        m->data = d;
        m->cap = cap;
    }
    if (m->pos > m->size) memset(m->data + m->size, 0, m->pos - m->size);
    memcpy(m->data + m->pos, buf, (size_t)n);
    m->pos = end;
    if (end > m->size) m->size = end;
    return n;
}

static int64_t seek_to(size_t *pos, size_t size, int64_t off, int whence) {
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)*pos; break;
    case SEEK_END: base = (int64_t)size; break;
    default: return AVERROR(EINVAL);
    }
    if (base + off < 0) return AVERROR(EINVAL);
    *pos = (size_t)(base + off);
    return (int64_t)*pos;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence) {
    membuf *m = opaque;
    return seek_to(&m->pos, m->size, off, whence);
}

static int cur_read(void *opaque, uint8_t *buf, int n) {
    memcursor *c = opaque;
    if (c->pos >= c->mb->size) return AVERROR_EOF;
    size_t k = c->mb->size - c->pos;
    if (k > (size_t)n) k = (size_t)n;
    memcpy(buf, c->mb->data + c->pos, k);
    c->pos += k;
    return (int)k;
}

/* A sink's MILNCE_ERR_* code as the AVERROR that AVIO expects. */
static int sink_averror(int64_t code) {
    return code == MILNCE_ERR_NOMEM ? AVERROR(ENOMEM) : code == MILNCE_ERR_INVALID ? AVERROR(EINVAL) : AVERROR(EIO);
}

/* Sink mode: AVIO's callbacks forwarded to the caller's sink, whose milnce codes become
 * AVERRORs here (the caller keeps its own message in its sink state). */
static int sink_write(void *opaque, uint8_t *buf, int n) {
    const milnce_encode_sink *s = opaque;
    int ret = s->write(s->opaque, buf, n);
    return ret < 0 ? sink_averror(ret) : n;
}

static int64_t sink_seek(void *opaque, int64_t off, int whence) {
    const milnce_encode_sink *s = opaque;
    if (whence & AVSEEK_SIZE) return AVERROR(ENOSYS); /* optional for AVIO; the muxer needs none */
    int64_t p = s->seek(s->opaque, off, whence & ~AVSEEK_FORCE);
    return p < 0 ? sink_averror(p) : p;
}

static int64_t cur_seek(void *opaque, int64_t off, int whence) {
    memcursor *c = opaque;
    return seek_to(&c->pos, c->mb->size, off, whence);
}

static void free_avio(AVIOContext **pb) {
    if (!*pb) return;
    av_freep(&(*pb)->buffer);
    avio_context_free(pb);
}

/* The muxer's second pass (faststart) opens the output for reading. */
static int io_open(struct AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                   AVDictionary **options) {
    milnce_video_encoder *enc = s->opaque;
    if (!(flags & AVIO_FLAG_READ) || (flags & AVIO_FLAG_WRITE)) return AVERROR(ENOSYS);
    memcursor *c = av_mallocz(sizeof *c);
    uint8_t *buf = av_malloc(IO_BUF);
    if (!c || !buf) {
        av_free(c);
        av_free(buf);
        return AVERROR(ENOMEM);
    }
    c->mb = &enc->mb;
    *pb = avio_alloc_context(buf, IO_BUF, 0, c, cur_read, NULL, cur_seek);
    if (!*pb) {
        av_free(c);
        av_free(buf);
        return AVERROR(ENOMEM);
    }
    return 0;
}

static int io_close2(struct AVFormatContext *s, AVIOContext *pb) {
    if (!pb) return 0;
    av_free(pb->opaque);
    free_avio(&pb);
    return 0;
}

void milnce_encode_opts_init(milnce_encode_opts *o, int width, int height, int fps) {
    memset(o, 0, sizeof *o);
    o->width = width;
    o->height = height;
    o->fps_num = fps;
    o->fps_den = 1;
    o->crf = 23;
    o->preset = "veryfast";
    o->tune = "fastdecode";
    o->gop = fps > 0 ? fps : 1;
    o->faststart = 1;
}

static int av_fail(milnce_error *err, int ret, const char *what) {
    char buf[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(ret, buf, sizeof buf);
    return milnce_error_set(err, ret == AVERROR(ENOMEM) ? MILNCE_ERR_NOMEM : MILNCE_ERR_DECODE,
                            "%s: %s", what, buf);
}

static int open_common(milnce_video_encoder **out, const char *path, const milnce_encode_sink *sink,
                       const milnce_encode_opts *o, milnce_error *err) {
    int ret = 0;
    *out = NULL;
    if (sink && (!sink->write || !sink->seek))
        return milnce_error_set(err, MILNCE_ERR_INVALID, "encode: a sink needs write and seek");
    if (sink && o->faststart)
        return milnce_error_set(err, MILNCE_ERR_INVALID,
                                "encode: faststart needs the whole MP4 in memory; a streamed one has the moov at the end");
    if (o->width < 2 || o->height < 2 || (o->width & 1) || (o->height & 1))
        return milnce_error_set(err, MILNCE_ERR_INVALID, "encode: size %dx%d must be even and >= 2",
                                o->width, o->height);
    if (o->fps_num <= 0 || o->fps_den <= 0)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "encode: bad frame rate %d/%d", o->fps_num,
                                o->fps_den);
    if (o->crf < 0 || o->crf > 51)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "encode: crf %d not in 0..51", o->crf);
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec)
        return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "encode: FFmpeg has no libx264 encoder");

    milnce_video_encoder *enc = calloc(1, sizeof *enc);
    if (!enc) return milnce_error_set(err, MILNCE_ERR_NOMEM, "encode: out of memory");
    enc->o = *o;
    if (sink) enc->sink = *sink;
    if (!enc->o.preset) enc->o.preset = "veryfast";
    if (enc->o.gop <= 0) enc->o.gop = o->fps_num / o->fps_den > 0 ? o->fps_num / o->fps_den : 1;
    enc->o.preset = NULL; /* not kept: the caller's string need not outlive the call */
    enc->o.tune = NULL;
    if (path && !(enc->path = strdup(path))) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "encode: out of memory");
        goto end;
    }

    if ((ret = avformat_alloc_output_context2(&enc->fmt, NULL, "mp4", NULL)) < 0) {
        ret = av_fail(err, ret, "encode: mp4 muxer");
        goto end;
    }
    enc->fmt->opaque = enc;
    enc->fmt->io_open = io_open;
    enc->fmt->io_close2 = io_close2;
    enc->fmt->flags |= AVFMT_FLAG_BITEXACT;
    av_freep(&enc->fmt->url);
    enc->fmt->url = av_strdup("milnce-memory.mp4");
    uint8_t *iobuf = av_malloc(IO_BUF);
    if (!enc->fmt->url || !iobuf ||
        !(enc->fmt->pb = sink ? avio_alloc_context(iobuf, IO_BUF, 1, &enc->sink, NULL, sink_write, sink_seek)
                              : avio_alloc_context(iobuf, IO_BUF, 1, &enc->mb, NULL, mem_write, mem_seek))) {
        av_free(iobuf);
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "encode: out of memory");
        goto end;
    }
    enc->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;

    if (!(enc->st = avformat_new_stream(enc->fmt, NULL)) || !(enc->cc = avcodec_alloc_context3(codec)) ||
        !(enc->frame = av_frame_alloc()) || !(enc->pkt = av_packet_alloc())) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "encode: out of memory");
        goto end;
    }
    AVCodecContext *cc = enc->cc;
    cc->width = o->width;
    cc->height = o->height;
    cc->pix_fmt = AV_PIX_FMT_YUV420P;
    cc->time_base = (AVRational){o->fps_den, o->fps_num};
    cc->framerate = (AVRational){o->fps_num, o->fps_den};
    cc->gop_size = enc->o.gop;
    cc->thread_count = 1;
    cc->thread_type = 0;
    cc->flags |= AV_CODEC_FLAG_BITEXACT;
    cc->color_range = AVCOL_RANGE_MPEG;
    cc->colorspace = AVCOL_SPC_SMPTE170M;
    cc->color_primaries = AVCOL_PRI_SMPTE170M;
    cc->color_trc = AVCOL_TRC_SMPTE170M;
    if (enc->fmt->oformat->flags & AVFMT_GLOBALHEADER) cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_opt_set(cc->priv_data, "preset", o->preset ? o->preset : "veryfast", 0);
    av_opt_set_int(cc->priv_data, "crf", o->crf, 0);
    if (o->tune && *o->tune) av_opt_set(cc->priv_data, "tune", o->tune, 0);
    /* No scene-cut key frames: they would move the key frames off the grid of one every `gop`
     * frames, i.e. every whole second of a rendition, where the training loader starts its
     * clips (the reference's whole-second starts) so that it decodes nothing before a clip.
     * x264's AVX-512 kernels (libx264 164 here) make the output depend on the process's memory
     * state: the same frames encoded twice in one process gave different bytes. Its AVX2 kernels
     * are deterministic, and an AVX-512 CPU has every AVX2-level feature, so cap x264 there. */
    av_opt_set(cc->priv_data, "x264-params",
               av_get_cpu_flags() & AV_CPU_FLAG_AVX512 ? "scenecut=0:asm=AVX2" : "scenecut=0", 0);
    if ((ret = avcodec_open2(cc, codec, NULL)) < 0) {
        ret = av_fail(err, ret, "encode: open libx264");
        goto end;
    }
    if ((ret = avcodec_parameters_from_context(enc->st->codecpar, cc)) < 0) {
        ret = av_fail(err, ret, "encode: stream parameters");
        goto end;
    }
    enc->st->time_base = cc->time_base;
    enc->st->avg_frame_rate = cc->framerate;

    AVDictionary *mopts = NULL;
    if (o->faststart) av_dict_set(&mopts, "movflags", "+faststart", 0);
    ret = avformat_write_header(enc->fmt, &mopts);
    av_dict_free(&mopts);
    if (ret < 0) {
        ret = av_fail(err, ret, "encode: mp4 header");
        goto end;
    }

    enc->frame->format = AV_PIX_FMT_YUV420P;
    enc->frame->width = o->width;
    enc->frame->height = o->height;
    if ((ret = av_frame_get_buffer(enc->frame, 0)) < 0) {
        ret = av_fail(err, ret, "encode: frame");
        goto end;
    }
    for (int pl = 0; pl < 3; pl++) /* padding too, so nothing uninitialised ever reaches x264 */
        memset(enc->frame->data[pl], pl ? 128 : 16,
               (size_t)enc->frame->linesize[pl] * (size_t)(pl ? (o->height + 1) / 2 : o->height));
    enc->rgb_stride = FFALIGN(o->width * 3, 64);
    if (!(enc->rgb = av_mallocz((size_t)enc->rgb_stride * (size_t)(o->height + 1) + 64))) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "encode: out of memory");
        goto end;
    }
    enc->sws = sws_getContext(o->width, o->height, AV_PIX_FMT_RGB24, o->width, o->height,
                              AV_PIX_FMT_YUV420P, SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT,
                              NULL, NULL, NULL);
    if (!enc->sws) {
        ret = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "encode: no RGB24 -> YUV420P scaler");
        goto end;
    }
    ret = 0;
end:
    if (ret < 0) {
        milnce_video_encoder_free(&enc);
        return ret;
    }
    *out = enc;
    return 0;
}

int milnce_video_encoder_open_file(milnce_video_encoder **enc, const char *path,
                                   const milnce_encode_opts *o, milnce_error *err) {
    if (!path) return milnce_error_set(err, MILNCE_ERR_INVALID, "encode: no output path");
    return open_common(enc, path, NULL, o, err);
}

int milnce_video_encoder_open_mem(milnce_video_encoder **enc, const milnce_encode_opts *o,
                                  milnce_error *err) {
    return open_common(enc, NULL, NULL, o, err);
}

int milnce_video_encoder_open_sink(milnce_video_encoder **enc, const milnce_encode_opts *o,
                                   const milnce_encode_sink *sink, milnce_error *err) {
    if (!sink) return milnce_error_set(err, MILNCE_ERR_INVALID, "encode: no sink");
    return open_common(enc, NULL, sink, o, err);
}

/* Sends frame (NULL = flush) and muxes every packet that comes out. */
static int encode_and_mux(milnce_video_encoder *enc, AVFrame *frame, milnce_error *err) {
    int ret = avcodec_send_frame(enc->cc, frame);
    if (ret < 0) return av_fail(err, ret, "encode: send frame");
    for (;;) {
        ret = avcodec_receive_packet(enc->cc, enc->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return 0;
        if (ret < 0) return av_fail(err, ret, "encode: receive packet");
        av_packet_rescale_ts(enc->pkt, enc->cc->time_base, enc->st->time_base);
        enc->pkt->stream_index = enc->st->index;
        ret = av_interleaved_write_frame(enc->fmt, enc->pkt); /* takes the packet's reference */
        if (ret < 0) return av_fail(err, ret, "encode: write packet");
    }
}

int milnce_video_encoder_write_rgb(milnce_video_encoder *enc, const uint8_t *rgb, int stride,
                                   milnce_error *err) {
    int ret;
    if (enc->finished) return milnce_error_set(err, MILNCE_ERR_INVALID, "encode: already finished");
    if ((ret = av_frame_make_writable(enc->frame)) < 0) return av_fail(err, ret, "encode: frame");
    size_t row = (size_t)enc->o.width * 3;
    for (int y = 0; y < enc->o.height; y++)
        memcpy(enc->rgb + (size_t)y * (size_t)enc->rgb_stride, rgb + (size_t)y * (size_t)stride, row);
    const uint8_t *src[4] = {enc->rgb, NULL, NULL, NULL};
    int src_stride[4] = {enc->rgb_stride, 0, 0, 0};
    sws_scale(enc->sws, src, src_stride, 0, enc->o.height, enc->frame->data, enc->frame->linesize);
    enc->frame->pts = enc->nframes;
    if ((ret = encode_and_mux(enc, enc->frame, err)) < 0) return ret;
    enc->nframes++;
    return 0;
}

int milnce_video_encoder_finish(milnce_video_encoder *enc, milnce_error *err) {
    int ret;
    if (enc->finished) return 0;
    if ((ret = encode_and_mux(enc, NULL, err)) < 0) return ret;
    if ((ret = av_write_trailer(enc->fmt)) < 0) return av_fail(err, ret, "encode: mp4 trailer");
    avio_flush(enc->fmt->pb);
    if (enc->fmt->pb->error < 0) return av_fail(err, enc->fmt->pb->error, "encode: mp4 output");
    enc->finished = 1;
    if (enc->path) {
        if ((ret = milnce_write_file_atomic(enc->path, enc->mb.data, enc->mb.size, err)) < 0)
            return ret;
    }
    return 0;
}

int milnce_video_encoder_take(milnce_video_encoder *enc, uint8_t **data, size_t *size,
                              milnce_error *err) {
    if (!enc->finished || enc->sink.write)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "encode: take before finish or from a sink encoder");
    *data = enc->mb.data;
    *size = enc->mb.size;
    enc->mb.data = NULL;
    enc->mb.size = enc->mb.cap = enc->mb.pos = 0;
    return 0;
}

int64_t milnce_video_encoder_frames(const milnce_video_encoder *enc) { return enc->nframes; }

void milnce_video_encoder_free(milnce_video_encoder **penc) {
    milnce_video_encoder *enc = *penc;
    if (!enc) return;
    if (enc->fmt) {
        free_avio(&enc->fmt->pb);
        avformat_free_context(enc->fmt);
    }
    avcodec_free_context(&enc->cc);
    av_frame_free(&enc->frame);
    av_packet_free(&enc->pkt);
    sws_freeContext(enc->sws);
    av_free(enc->rgb);
    free(enc->mb.data);
    free(enc->path);
    free(enc);
    *penc = NULL;
}
