/* Sequential decoding at a fixed frame rate (see video_stream.h).
 *
 * This is io/video_decode.c's clip_run for one clip [0, end) with crop none, turned inside out:
 * output frames go to a callback as the fps filter emits them instead of into a (T, H, W, 3)
 * array, so a video of any length needs one converted frame of memory. The fps filter, the
 * packet look-ahead that lets non-reference frames the filter would drop go undecoded, the
 * geometry and the colour conversion follow that file rule for rule; its comments give the
 * ffmpeg CLI behaviour each one reproduces. A change there must be made here too (the
 * equivalence is tested in tests/check_transcode.c against milnce_decoder_clip). */
#include "video_stream.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "video_internal.h"

#define QUEUE_CAP 32   /* packets read ahead of the decoder (power of two) */
#define LOOKAHEAD 16   /* packets that must be queued behind the one sent (>= reorder depth) */
#define RECENT_CAP 32  /* pts of packets already sent (power of two) */

struct milnce_video_stream {
    milnce_video_input in;
    AVStream *st;
    AVCodecContext *dec;
    AVPacket *queue[QUEUE_CAP]; /* packets of the video stream read ahead, FIFO */
    int q_head, q_count, q_eof;
    int64_t recent[RECENT_CAP]; /* pts (stream time base) of the last packets sent */
    int recent_n, recent_pos;
    AVFrame *frame;   /* receive scratch */
    AVFrame *pending; /* the fps filter's buffered frame */
    struct SwsContext *sws;
    int sws_w, sws_h, sws_fmt, sws_cs, sws_range;
    uint8_t *rgb;     /* scaled, unrotated frame: (Hs, rgb_stride) */
    int rgb_stride;
    uint8_t *rot;     /* rotated output frame (H, W, 3); NULL without rotation */
    milnce_logger lg;
    milnce_video_info info;
    milnce_video_rot r;
    int64_t default_dur; /* one frame in the stream time base, for frames without duration */
    int pts_reliable, skip_in_span, skip;
    int ran;
    /* The run: fps filter state, times in the stream time base shifted by off. */
    AVRational out_tb;   /* 1 / fps */
    int64_t off, nslots, next, out_n, last_end;
    int have_pending, pending_ready; /* pending converted into rgb / rot */
    int done, geom;
    int Ws, Hs, W, H;    /* scaled unrotated, and output */
    milnce_frame_fn fn;
    void *user;
    int stopped;         /* fn's non-zero return */
    milnce_video_stream_stats stats;
};

static void warn(milnce_video_stream *s, const char *fmt, ...) MILNCE_PRINTF(2, 3);
static void warn(milnce_video_stream *s, const char *fmt, ...) {
    char msg[MILNCE_ERROR_MSG_MAX];
    va_list ap;
    if (!s->lg.fn) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    milnce_log(&s->lg, MILNCE_LOG_WARN, "%s: %s", s->in.name, msg);
}

void milnce_video_stream_free(milnce_video_stream **ps) {
    milnce_video_stream *s = ps ? *ps : NULL;
    if (!s) return;
    for (int i = 0; i < QUEUE_CAP; i++) av_packet_free(&s->queue[i]);
    av_frame_free(&s->frame);
    av_frame_free(&s->pending);
    sws_freeContext(s->sws);
    av_free(s->rgb);
    free(s->rot);
    avcodec_free_context(&s->dec);
    milnce_video_input_close(&s->in);
    free(s);
    *ps = NULL;
}

int milnce_video_stream_open(milnce_video_stream **ps, const char *path, const milnce_logger *lg,
                             milnce_error *err) {
    milnce_video_stream *s = NULL;
    const AVCodec *codec;
    int ret;
    if (!ps || !path) return milnce_error_set(err, MILNCE_ERR_INVALID, "video_stream_open: NULL argument");
    *ps = NULL;
    if (!(s = calloc(1, sizeof *s))) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", path);
    if (lg) s->lg = *lg;
    s->skip = 1;
    s->sws_cs = s->sws_range = -1;
    if ((ret = milnce_video_input_open(&s->in, path, NULL, 0, NULL, err)) < 0) goto end;
    s->st = s->in.fmt->streams[s->in.vstream];
    if ((ret = milnce_video_fill_info(&s->in, 0, &s->info, err)) < 0) goto end;
    s->r = milnce_video_autorotation(s->st);
    if (!(codec = avcodec_find_decoder(s->st->codecpar->codec_id))) {
        ret = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: no decoder for codec %s in this FFmpeg",
                               s->in.name, avcodec_get_name(s->st->codecpar->codec_id));
        goto end;
    }
    if (!(s->dec = avcodec_alloc_context3(codec)) || !(s->frame = av_frame_alloc()) ||
        !(s->pending = av_frame_alloc())) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", s->in.name);
        goto end;
    }
    for (int i = 0; i < QUEUE_CAP; i++)
        if (!(s->queue[i] = av_packet_alloc())) {
            ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", s->in.name);
            goto end;
        }
    if ((ret = avcodec_parameters_to_context(s->dec, s->st->codecpar)) < 0) {
        ret = milnce_error_set(err, MILNCE_ERR_DECODE, "%s: codec parameters: %s", s->in.name, av_err2str(ret));
        goto end;
    }
    s->dec->pkt_timebase = s->st->time_base;
    s->dec->thread_count = 1; /* one decoder per worker: no codec threads, least CPU per frame */
    if ((ret = avcodec_open2(s->dec, codec, NULL)) < 0) {
        ret = milnce_error_set(err, milnce_video_averr(ret), "%s: cannot open %s decoder: %s", s->in.name,
                               codec->name, av_err2str(ret));
        goto end;
    }
    {
        AVRational fr = s->st->avg_frame_rate.num > 0 ? s->st->avg_frame_rate : s->st->r_frame_rate;
        s->default_dur = fr.num > 0 && fr.den > 0 ? av_rescale_q(1, av_inv_q(fr), s->st->time_base) : 0;
    }
    s->pts_reliable = strstr(s->in.fmt->iformat->name, "mp4") || strstr(s->in.fmt->iformat->name, "matroska");
    s->skip_in_span = s->pts_reliable && (codec->id == AV_CODEC_ID_H264 || codec->id == AV_CODEC_ID_HEVC);
    ret = 0;
end:
    if (ret < 0) {
        milnce_video_stream_free(&s);
        return ret;
    }
    *ps = s;
    return 0;
}

const milnce_video_info *milnce_video_stream_info(const milnce_video_stream *s) { return s ? &s->info : NULL; }

/* Reads packets of the video stream until want are queued or the input ends. */
static void queue_fill(milnce_video_stream *s, int want) {
    while (s->q_count < want && !s->q_eof) {
        AVPacket *p = s->queue[(s->q_head + s->q_count) & (QUEUE_CAP - 1)];
        int ret = av_read_frame(s->in.fmt, p);
        if (ret == AVERROR_EOF) {
            s->q_eof = 1;
        } else if (ret < 0) {
            warn(s, "read error, stopping here: %s", av_err2str(ret)); /* keep what decoded, like the CLI */
            s->q_eof = 1;
        } else if (p->stream_index != s->in.vstream) {
            av_packet_unref(p);
        } else {
            s->q_count++;
        }
    }
}

static int64_t even_scaled(int64_t v, int64_t num, int64_t den) {
    int64_t r = av_rescale(v, num, den * 2) * 2;
    return r < 2 ? 2 : r;
}

/* Fixes the output geometry from the first output frame (w x h decoded). */
static int set_geometry(milnce_video_stream *s, int size, int w, int h, milnce_error *err) {
    int rw = s->r.swap ? h : w, rh = s->r.swap ? w : h;
    int64_t Wr = rw, Hr = rh;
    if (size > 0) { /* scale='if(lt(iw,ih),S,-2)':'if(lt(iw,ih),-2,S)' */
        if (rw < rh) { Wr = size; Hr = even_scaled(size, rh, rw); }
        else { Hr = size; Wr = even_scaled(size, rw, rh); }
    }
    if (Wr > 16384 || Hr > 16384)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "%s: resized frame %lldx%lld is too large", s->in.name,
                                (long long)Wr, (long long)Hr);
    s->W = (int)Wr;
    s->H = (int)Hr;
    s->Ws = (int)(s->r.swap ? Hr : Wr);
    s->Hs = (int)(s->r.swap ? Wr : Hr);
    /* ffmpeg's frame pool stride (width aligned to 32 pixels): it decides libswscale's code
     * path and so bit-exactness with the CLI (see io/video_decode.c). */
    s->rgb_stride = FFALIGN(s->Ws, 32) * 3;
    if (!(s->rgb = av_malloc((size_t)s->rgb_stride * (size_t)s->Hs + 64)))
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", s->in.name);
    if ((s->r.swap || s->r.flip_u || s->r.flip_v) && !(s->rot = malloc((size_t)s->W * (size_t)s->H * 3)))
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", s->in.name);
    s->geom = 1;
    return 0;
}

/* libswscale's colour matrix as ffmpeg's scale filter picks it (see io/video_decode.c). */
static int sws_prepare(milnce_video_stream *s, const AVFrame *f, milnce_error *err) {
    if (!s->sws || s->sws_w != f->width || s->sws_h != f->height || s->sws_fmt != f->format) {
        sws_freeContext(s->sws);
        struct SwsContext *c = sws_alloc_context();
        if (c) {
            av_opt_set_int(c, "srcw", f->width, 0);
            av_opt_set_int(c, "srch", f->height, 0);
            av_opt_set_int(c, "src_format", f->format, 0);
            av_opt_set_int(c, "dstw", s->Ws, 0);
            av_opt_set_int(c, "dsth", s->Hs, 0);
            av_opt_set_int(c, "dst_format", AV_PIX_FMT_RGB24, 0);
            av_opt_set_int(c, "sws_flags", SWS_BICUBIC, 0);
            av_opt_set_int(c, "src_h_chr_pos", -513, 0);
            av_opt_set_int(c, "src_v_chr_pos", f->format == AV_PIX_FMT_YUV420P ? 128 : -513, 0);
            av_opt_set_int(c, "dst_h_chr_pos", -513, 0);
            av_opt_set_int(c, "dst_v_chr_pos", -513, 0);
            if (sws_init_context(c, NULL, NULL) < 0) sws_freeContext(c), c = NULL;
        }
        s->sws = c;
        if (!s->sws) {
            const char *pf = av_get_pix_fmt_name((enum AVPixelFormat)f->format);
            return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: cannot convert %dx%d %s frames to %dx%d RGB",
                                    s->in.name, f->width, f->height, pf ? pf : "?", s->Ws, s->Hs);
        }
        s->sws_w = f->width;
        s->sws_h = f->height;
        s->sws_fmt = f->format;
        s->sws_cs = s->sws_range = -1;
    }
    if (s->sws_cs != (int)f->colorspace || s->sws_range != (int)f->color_range) {
        int *inv_table, *table, in_full, out_full, bri, con, sat;
        int cspace = f->colorspace;
        if (cspace < 1 || cspace > 10 || cspace == 8) cspace = AVCOL_SPC_BT470BG;
        sws_getColorspaceDetails(s->sws, &inv_table, &in_full, &table, &out_full, &bri, &con, &sat);
        const int *coefs = sws_getCoefficients(cspace);
        if (f->color_range != AVCOL_RANGE_UNSPECIFIED) in_full = f->color_range == AVCOL_RANGE_JPEG;
        sws_setColorspaceDetails(s->sws, coefs, in_full, coefs, out_full, bri, con, sat);
        s->sws_cs = f->colorspace;
        s->sws_range = f->color_range;
    }
    return 0;
}

/* Scales f into rgb and, for a rotated video, rotates it into rot. */
static int convert(milnce_video_stream *s, const AVFrame *f, milnce_error *err) {
    int ret;
    if ((ret = sws_prepare(s, f, err)) < 0) return ret;
    uint8_t *dst[4] = {s->rgb, NULL, NULL, NULL};
    int dst_ls[4] = {s->rgb_stride, 0, 0, 0};
    if (sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_ls) <= 0)
        return milnce_error_set(err, MILNCE_ERR_DECODE, "%s: scaling a frame failed", s->in.name);
    if (!s->rot) return 0;
    const milnce_video_rot r = s->r;
    int bw = r.swap ? s->H : s->W, bh = r.swap ? s->W : s->H; /* the whole scaled frame */
    for (int y = 0; y < s->H; y++) {
        uint8_t *orow = s->rot + (size_t)y * s->W * 3;
        for (int x = 0; x < s->W; x++) {
            int u = r.swap ? y : x, v = r.swap ? x : y;
            if (r.flip_u) u = bw - 1 - u;
            if (r.flip_v) v = bh - 1 - v;
            const uint8_t *p = s->rgb + (size_t)v * s->rgb_stride + (size_t)u * 3;
            orow[3 * x] = p[0];
            orow[3 * x + 1] = p[1];
            orow[3 * x + 2] = p[2];
        }
    }
    return 0;
}

/* The fps filter outputs the pending frame at slot `slot`; a first frame later than slot 0 is
 * repeated back to slot 0. */
static int emit(milnce_video_stream *s, int size, int64_t slot, milnce_error *err) {
    int ret;
    if (slot >= s->nslots) {
        s->done = 1;
        return 0;
    }
    if (!s->geom && (ret = set_geometry(s, size, s->pending->width, s->pending->height, err)) < 0) return ret;
    int64_t upto = s->out_n == 0 ? (slot < 0 ? 0 : slot) : s->out_n;
    for (int64_t i = s->out_n; i <= upto; i++) {
        if (!s->pending_ready) {
            if ((ret = convert(s, s->pending, err)) < 0) return ret;
            s->pending_ready = 1;
        }
        ret = s->rot ? s->fn(s->user, i, s->rot, s->W, s->H, s->W * 3)
                     : s->fn(s->user, i, s->rgb, s->W, s->H, s->rgb_stride);
        if (ret) {
            s->stopped = ret;
            return ret < 0 ? ret : MILNCE_ERR_INTERRUPTED;
        }
        s->out_n = i + 1;
    }
    if (s->out_n >= s->nslots) s->done = 1;
    return 0;
}

static int64_t to_slot(const milnce_video_stream *s, int64_t pts) {
    return av_rescale_q_rnd(pts, s->st->time_base, s->out_tb, AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
}

/* One decoded frame into the fps filter. */
static int take_frame(milnce_video_stream *s, int size, AVFrame *f, milnce_error *err) {
    int ret;
    int64_t pts = f->best_effort_timestamp;
    s->stats.decoded++;
    if (f->decode_error_flags || (f->flags & AV_FRAME_FLAG_CORRUPT)) {
        s->stats.warnings++;
        s->skip = 0;
        warn(s, "frame at %.3f s decoded with errors", pts == AV_NOPTS_VALUE ? -1.0 : pts * av_q2d(s->st->time_base));
    }
    if (pts == AV_NOPTS_VALUE) {
        if (s->last_end == AV_NOPTS_VALUE) return 0; /* nothing to place it after */
        pts = s->last_end - s->off;
    }
    int64_t p = pts + s->off;
    int64_t dur = f->pkt_duration > 0 ? f->pkt_duration : s->default_dur;
    s->last_end = p + dur;
    if (p < 0) return 0; /* before the start: the CLI's trim drops it */
    int64_t r = to_slot(s, p);
    if (!s->have_pending) {
        av_frame_unref(s->pending);
        av_frame_move_ref(s->pending, f);
        s->have_pending = 1;
        s->pending_ready = 0;
        if (s->next == INT64_MIN) s->next = r;
        return 0;
    }
    while (!s->done) {
        if (r <= s->next) { /* the new frame takes the slot: drop the pending one */
            av_frame_unref(s->pending);
            av_frame_move_ref(s->pending, f);
            s->pending_ready = 0;
            return 0;
        }
        if ((ret = emit(s, size, s->next, err)) < 0) return ret;
        s->next++;
    }
    av_frame_unref(f);
    return 0;
}

/* Whether the packet's frame is certainly dropped by the trim or the fps rule, so a
 * non-reference frame there need not be decoded. */
static int packet_unneeded(const milnce_video_stream *s, const AVPacket *pkt) {
    if (pkt->pts == AV_NOPTS_VALUE || !s->pts_reliable) return 0;
    int64_t p = pkt->pts + s->off;
    if (p < 0) return 1;
    if (!s->skip_in_span) return 0;
    int64_t q = INT64_MAX; /* the next pts after p among packets around it */
    for (int i = 0; i < s->recent_n; i++) {
        int64_t t = s->recent[i];
        if (t > pkt->pts && t < q) q = t;
    }
    for (int i = 1; i < s->q_count; i++) { /* queue[head] is pkt itself */
        const AVPacket *o = s->queue[(s->q_head + i) & (QUEUE_CAP - 1)];
        if (o->pts == AV_NOPTS_VALUE) return 0;
        if (o->pts > pkt->pts && o->pts < q) q = o->pts;
    }
    if (q == INT64_MAX || (s->q_count < LOOKAHEAD && !s->q_eof)) return 0;
    return to_slot(s, q + s->off) <= to_slot(s, p);
}

static int drain(milnce_video_stream *s, int size, milnce_error *err) {
    int ret = 0;
    while (!s->done && (ret = avcodec_receive_frame(s->dec, s->frame)) >= 0)
        if ((ret = take_frame(s, size, s->frame, err)) < 0) return ret;
    if (s->done || ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return 0;
    s->stats.warnings++;
    s->skip = 0;
    warn(s, "decode error: %s", av_err2str(ret));
    return 0;
}

int milnce_video_stream_run(milnce_video_stream *s, double fps, int size, double end, milnce_frame_fn fn,
                            void *user, milnce_video_stream_stats *st, milnce_error *err) {
    int ret;
    if (st) memset(st, 0, sizeof *st);
    if (!s || !fn) return milnce_error_set(err, MILNCE_ERR_INVALID, "video_stream_run: NULL argument");
    if (s->ran) return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: a video stream runs once", s->in.name);
    s->ran = 1;
    if (!(fps > 0) || !isfinite(fps) || fps > 1000)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "%s: fps %g must be in (0, 1000]", s->in.name, fps);
    if (!isfinite(end) || !(end > 0) || end > 1e9)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "%s: end %g s is not a valid time", s->in.name, end);
    if (size < 0 || size > 8192)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "%s: size %d out of range", s->in.name, size);
    s->fn = fn;
    s->user = user;
    s->out_tb = av_inv_q(av_d2q(fps, 1001000));
    int64_t ts = s->in.fmt->start_time != AV_NOPTS_VALUE ? s->in.fmt->start_time : 0;
    s->off = -av_rescale_q(ts, AV_TIME_BASE_Q, s->st->time_base);
    s->nslots = av_rescale_q(llrint(end * AV_TIME_BASE), AV_TIME_BASE_Q, s->out_tb);
    s->next = INT64_MIN;
    s->last_end = AV_NOPTS_VALUE;
    if (s->nslots == 0) return 0;
    /* Where milnce_decoder_clip would start: the key frame at or before the container start.
     * Nothing has been read yet, so a failure leaves the input at its beginning. */
    avformat_seek_file(s->in.fmt, -1, INT64_MIN, ts, ts, 0);

    while (!s->done) {
        queue_fill(s, LOOKAHEAD + 1);
        if (s->q_count == 0) break;
        AVPacket *pkt = s->queue[s->q_head];
        int unneeded = s->skip && packet_unneeded(s, pkt);
        s->dec->skip_frame = unneeded ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
        s->stats.skipped += unneeded;
        s->recent[s->recent_pos] = pkt->pts;
        s->recent_pos = (s->recent_pos + 1) & (RECENT_CAP - 1);
        if (s->recent_n < RECENT_CAP) s->recent_n++;
        ret = avcodec_send_packet(s->dec, pkt);
        av_packet_unref(pkt);
        s->q_head = (s->q_head + 1) & (QUEUE_CAP - 1);
        s->q_count--;
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            s->stats.warnings++;
            s->skip = 0;
            warn(s, "decode error in a packet: %s", av_err2str(ret));
        }
        if ((ret = drain(s, size, err)) < 0) goto end;
    }
    if (!s->done) {
        /* End of the stream: flush the decoder, then the fps filter up to the end time. */
        s->dec->skip_frame = AVDISCARD_DEFAULT;
        avcodec_send_packet(s->dec, NULL);
        if ((ret = drain(s, size, err)) < 0) goto end;
        if (!s->done && s->have_pending && s->last_end != AV_NOPTS_VALUE) {
            int64_t status = to_slot(s, s->last_end);
            while (!s->done && s->next < status) {
                if ((ret = emit(s, size, s->next, err)) < 0) goto end;
                s->next++;
            }
        }
    }
    ret = 0;
    if (s->out_n == 0 && s->stats.warnings > 0)
        ret = milnce_error_set(err, MILNCE_ERR_DECODE, "%s: no decodable frame in [0, %.3f) s (%d decode errors)",
                               s->in.name, end, s->stats.warnings);
end:
    if (s->stopped) ret = s->stopped < 0 ? s->stopped : MILNCE_ERR_INTERRUPTED;
    av_frame_unref(s->pending);
    av_frame_unref(s->frame);
    s->stats.frames = s->out_n;
    if (st) *st = s->stats;
    return ret;
}
