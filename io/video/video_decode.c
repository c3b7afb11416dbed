/* Clip decoding: seek, decode forward, pick frames like ffmpeg's fps filter, autorotate, resize
 * (bicubic, libswscale), crop, RGB24.
 *
 * What the ffmpeg CLI does for `-ss S -i V -t D -vf fps=F,scale=..,crop=.. -f rawvideo`, and
 * what this file reproduces:
 *  - seek: avformat_seek_file(ic, -1, INT64_MIN, ts, ts, 0) with ts = S + container start, then
 *    every timestamp is shifted by -ts (in the stream time base) and frames with shifted
 *    pts < 0 are dropped (the CLI's accurate-seek trim);
 *  - frame pts = best_effort_timestamp;
 *  - fps filter (round=near): a frame's slot is r = round(pts * F); the first frame sets the next
 *    slot; a buffered frame is dropped when the following frame's slot is <= the next slot,
 *    otherwise it is output at the next slot; at end of stream the last frame is repeated up to
 *    round(eof * F), eof = last pts + its duration;
 *  - `-t D` keeps the slots below round(D * F) (slot 0 at S); a first frame later than S is
 *    repeated back to slot 0 by the CLI's constant-frame-rate output when the file has more than
 *    one stream, and not when it has one (vsync "vscfr"): milnce always repeats it (a clip has
 *    a fixed number of frames) and reports the repeats in milnce_frames.lead.
 * Frames the fps rule drops are never converted; when the codec allows it, non-reference frames
 * that the rule would drop are not even decoded (skip_frame = AVDISCARD_NONREF, set per packet
 * from the packets' timestamps, which are known ahead of decoding), and once no packet left in
 * the lookahead belongs to the clip the decoder's delayed frames are flushed out instead of
 * decoding further frames to push them out (see tail_reached). Frames that need no resize have
 * only an even-aligned region around the crop converted (same pixels, see set_geometry).
 *
 * One loop (clip_run) serves three destinations: uint8 (T, H, W, 3) frames (milnce_decoder_clip),
 * planar floats (milnce_decoder_clip_planar), and a per-frame callback (milnce_decoder_stream,
 * for the preprocess transcode's single pass over a whole video through io/video/video_stream.c). */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MILNCE_RGB_AVX2 1
#endif

#include "video_internal.h"

#define QUEUE_CAP 32   /* packets read ahead of the decoder (power of two) */
#define LOOKAHEAD 16   /* packets that must be queued behind the one sent (>= reorder depth) */
#define RECENT_CAP 32  /* pts of packets already sent (power of two) */

/* A libswscale context and what it was made for. */
typedef struct sws_slot {
    struct SwsContext *ctx;
    int sw, sh, fmt, dw, dh; /* source and destination size, source format */
    int cs, range;           /* colour details applied */
} sws_slot;

struct milnce_decoder {
    milnce_video_input in;
    AVStream *st;
    AVCodecContext *dec;
    AVPacket *queue[QUEUE_CAP]; /* packets of the video stream read ahead, FIFO */
    int q_head, q_count, q_eof;
    int64_t recent[RECENT_CAP]; /* pts (stream time base) of the last packets sent */
    int recent_n, recent_pos;
    AVPacket *pkt;
    AVFrame *frame;   /* receive scratch */
    AVFrame *pending; /* the fps filter's buffered frame */
    sws_slot full;    /* whole frame: decoded size -> scaled size */
    sws_slot blk;     /* the even-aligned region around the crop block, when no resize is needed (see convert) */
    uint8_t *rgb;     /* RGB24 rows before crop: the scaled frame or the region around the block */
    size_t rgb_cap;
    milnce_logger lg;
    milnce_video_info info;
    milnce_video_rot rot;
    int64_t default_dur; /* one frame in the stream time base, for frames without duration */
    int at_start;        /* nothing read since open */
    int skip;            /* skip unneeded non-reference frames */
    int pts_reliable;    /* the container stores presentation timestamps */
    int skip_in_span;    /* ... and the codec makes one frame per packet with the packet's pts */
    int fast_crop;       /* convert only the region around the crop block when the frame needs no resize */
    int light;           /* opened without stream-info probing */
    int simd;            /* MILNCE_SIMD_* allowed for the float conversion (its context's) */
    AVCodecParameters *dec_par; /* what dec was opened for */
    int64_t codec_kept;  /* inputs that kept the open codec */
    int64_t n_decoded, n_skipped;
};

/* Per-clip state: the fps filter, the output geometry and where frames go. */
typedef struct clip_state {
    const milnce_clip_spec *spec;
    AVRational out_tb;  /* 1 / fps */
    int64_t off;        /* timestamp shift, stream time base */
    int64_t nslots;     /* output frames wanted */
    int64_t next;       /* fps filter's next output slot; INT64_MIN before the first frame */
    int have_pending;
    int pending_at;     /* output index already holding the pending frame's pixels, -1 if none */
    int64_t out_n;      /* frames written */
    int done;
    int64_t last_end;   /* shifted end (pts + duration) of the last decoded frame */
    int geom;           /* geometry fixed (at the first output frame) */
    int Ws, Hs;         /* scaled, unrotated */
    int bu0, bv0, bw, bh; /* crop block in the scaled, unrotated frame */
    int W, H;           /* output frame */
    int blk;            /* convert the region below only (yuv420p, no resize) */
    int ru0, rv0, rw, rh; /* that region: even-aligned, covers the crop block */
    int full_stride, blk_stride; /* bytes per RGB24 row in d->rgb for either conversion */
    milnce_frames *out;
    float *fdst;        /* planar float output (milnce_decoder_clip_planar), else NULL */
    size_t fdst_floats; /* its capacity */
    int64_t T;          /* its frames: (3, T, H, W) */
    int flip;           /* mirror the planar output horizontally */
    /* Frame sink (milnce_decoder_stream), else NULL: each output frame goes to fn as it is
     * made, out->data holding at most the one rotated frame. */
    milnce_frame_fn fn;
    void *user;
    const uint8_t *sink_px; /* the pending frame's converted pixels, rows sink_stride bytes apart */
    int sink_stride;
    int skip;           /* skip unneeded non-reference frames (turned off by decode errors in
                         * sink mode, which cannot decode the clip again) */
} clip_state;

/* A decode error met: counted in out->warnings (the caller logs it). A frame sink cannot have
 * the clip decoded again without skipping (see clip_any), so skipping stops from here on. */
static void decode_warning(clip_state *cs) {
    cs->out->warnings++;
    if (cs->fn) cs->skip = 0;
}

void milnce_frames_free(milnce_frames *f) {
    if (!f) return;
    free(f->data);
    memset(f, 0, sizeof *f);
}

static void warn(milnce_decoder *d, const char *fmt, ...) MILNCE_PRINTF(2, 3);
static void warn(milnce_decoder *d, const char *fmt, ...) {
    char msg[MILNCE_ERROR_MSG_MAX];
    va_list ap;
    if (!d->lg.fn) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    milnce_log(&d->lg, MILNCE_LOG_WARN, "%s: %s", d->in.name, msg);
}

void milnce_decoder_free(milnce_decoder **pd) {
    milnce_decoder *d = pd ? *pd : NULL;
    if (!d) return;
    for (int i = 0; i < QUEUE_CAP; i++) av_packet_free(&d->queue[i]);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
    av_frame_free(&d->pending);
    sws_freeContext(d->full.ctx);
    sws_freeContext(d->blk.ctx);
    av_free(d->rgb);
    avcodec_free_context(&d->dec);
    avcodec_parameters_free(&d->dec_par);
    milnce_video_input_close(&d->in);
    free(d);
    *pd = NULL;
}

/* A decoder without input: packets, frames, settings. */
static int alloc_decoder(milnce_decoder **pd, const char *name, const milnce_logger *lg,
                         milnce_error *err) {
    milnce_decoder *d = calloc(1, sizeof *d);
    if (!d) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", name);
    if (lg) d->lg = *lg;
    d->skip = 1;
    d->fast_crop = 1;
    d->full.cs = d->full.range = d->blk.cs = d->blk.range = -1;
    int ok = (d->pkt = av_packet_alloc()) && (d->frame = av_frame_alloc()) && (d->pending = av_frame_alloc()) &&
             (d->dec_par = avcodec_parameters_alloc());
    for (int i = 0; ok && i < QUEUE_CAP; i++) ok = (d->queue[i] = av_packet_alloc()) != NULL;
    if (!ok) {
        milnce_decoder_free(&d);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", name);
    }
    *pd = d;
    return 0;
}

/* Whether a codec opened for parameters a decodes streams with parameters b as a fresh one
 * would: everything avcodec_parameters_to_context passes to a video decoder except the bit
 * rate (a container statistic), extradata byte for byte. */
static int same_codec(const AVCodecParameters *a, const AVCodecParameters *b) {
    return a->codec_type == b->codec_type && a->codec_id == b->codec_id && a->codec_tag == b->codec_tag &&
           a->format == b->format && a->width == b->width && a->height == b->height &&
           a->profile == b->profile && a->level == b->level &&
           a->bits_per_coded_sample == b->bits_per_coded_sample &&
           a->bits_per_raw_sample == b->bits_per_raw_sample && a->field_order == b->field_order &&
           a->color_range == b->color_range && a->color_primaries == b->color_primaries &&
           a->color_trc == b->color_trc && a->color_space == b->color_space &&
           a->chroma_location == b->chroma_location &&
           av_cmp_q(a->sample_aspect_ratio, b->sample_aspect_ratio) == 0 && a->video_delay == b->video_delay &&
           a->extradata_size == b->extradata_size &&
           (a->extradata_size == 0 || !memcmp(a->extradata, b->extradata, (size_t)a->extradata_size));
}

/* Opens the input (path or buf) and the codec of an allocated decoder without an input; a codec
 * left open (milnce_decoder_reuse_memory) is kept when the parameters match. */
static int open_input(milnce_decoder *d, const char *path, const uint8_t *buf, size_t size,
                      const char *name, int light, milnce_error *err) {
    const AVCodec *codec;
    int ret;
    d->light = 0;
    if (light)
        ret = milnce_video_input_open_light(&d->in, buf, size, name, &d->light, err);
    else
        ret = milnce_video_input_open(&d->in, path, buf, size, name, err);
    if (ret < 0) return ret;
    d->st = d->in.fmt->streams[d->in.vstream];
    if ((ret = milnce_video_fill_info(&d->in, 0, &d->info, err)) < 0) return ret;
    d->rot = milnce_video_autorotation(d->st);

    if (!(codec = avcodec_find_decoder(d->st->codecpar->codec_id)))
        return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: no decoder for codec %s in this FFmpeg",
                                d->in.name, avcodec_get_name(d->st->codecpar->codec_id));
    if (d->dec && !same_codec(d->dec_par, d->st->codecpar)) avcodec_free_context(&d->dec);
    if (d->dec) {
        /* Same codec parameters (renditions of one size from one encoder): the open codec is
         * kept; the clip flushes it and starts at a key frame, as after a seek. */
        d->dec->pkt_timebase = d->st->time_base;
        d->codec_kept++;
        goto codec_open;
    }
    if (!(d->dec = avcodec_alloc_context3(codec)))
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", d->in.name);
    if ((ret = avcodec_parameters_to_context(d->dec, d->st->codecpar)) < 0)
        return milnce_error_set(err, MILNCE_ERR_DECODE, "%s: codec parameters: %s", d->in.name,
                                av_err2str(ret));
    d->dec->pkt_timebase = d->st->time_base;
    /* The video's name for FFmpeg's own messages (the command's av_log callback prints it);
     * d->in.name is refilled when the decoder moves to another member. */
    d->dec->opaque = d->in.name;
    d->dec->thread_count = 1; /* one decoder per thread: no codec threads, least CPU per clip */
    if ((ret = avcodec_open2(d->dec, codec, NULL)) < 0)
        return milnce_error_set(err, milnce_video_averr(ret), "%s: cannot open %s decoder: %s",
                                d->in.name, codec->name, av_err2str(ret));
    if ((ret = avcodec_parameters_copy(d->dec_par, d->st->codecpar)) < 0)
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", d->in.name);
codec_open:
    {
        AVRational fr = d->st->avg_frame_rate.num > 0 ? d->st->avg_frame_rate : d->st->r_frame_rate;
        d->default_dur = fr.num > 0 && fr.den > 0
                             ? av_rescale_q(1, av_inv_q(fr), d->st->time_base) : 0;
    }
    /* Skipping by packet pts needs containers that store presentation timestamps (AVI, for
     * one, has only decode timestamps); skipping inside the span also needs a codec that makes
     * one frame per packet carrying that packet's pts. */
    d->pts_reliable = strstr(d->in.fmt->iformat->name, "mp4") || strstr(d->in.fmt->iformat->name, "matroska");
    d->skip_in_span = d->pts_reliable && (codec->id == AV_CODEC_ID_H264 || codec->id == AV_CODEC_ID_HEVC);
    d->at_start = 1;
    return 0;
}

static int open_any(milnce_decoder **pd, const char *path, const uint8_t *buf, size_t size,
                    const char *name, const milnce_logger *lg, milnce_error *err) {
    milnce_decoder *d = NULL;
    int ret;
    if (!pd) return milnce_error_set(err, MILNCE_ERR_INVALID, "decoder_open: no output pointer");
    *pd = NULL;
    if ((ret = alloc_decoder(&d, name ? name : path, lg, err)) < 0) return ret;
    if ((ret = open_input(d, path, buf, size, name, 0, err)) < 0) {
        milnce_decoder_free(&d);
        return ret;
    }
    *pd = d;
    return 0;
}

int milnce_decoder_open(milnce_decoder **d, const char *path, const milnce_logger *lg,
                        milnce_error *err) {
    if (!path) return milnce_error_set(err, MILNCE_ERR_INVALID, "decoder_open: no path");
    return open_any(d, path, NULL, 0, NULL, lg, err);
}

int milnce_decoder_open_memory(milnce_decoder **d, const uint8_t *buf, size_t size,
                               const char *name_for_messages, const milnce_logger *lg,
                               milnce_error *err) {
    if (!buf && size) return milnce_error_set(err, MILNCE_ERR_INVALID, "decoder_open_memory: no buffer");
    static const uint8_t empty[1];
    return open_any(d, NULL, buf ? buf : empty, size, name_for_messages ? name_for_messages : "<memory>",
                    lg, err);
}

static void queue_clear(milnce_decoder *d);

int milnce_decoder_reuse_memory(milnce_decoder **pd, const uint8_t *buf, size_t size,
                                const char *name_for_messages, const milnce_logger *lg,
                                milnce_error *err) {
    const char *name = name_for_messages ? name_for_messages : "<memory>";
    int ret;
    if (!pd) return milnce_error_set(err, MILNCE_ERR_INVALID, "decoder_reuse_memory: no decoder pointer");
    if (!buf) {
        milnce_decoder_free(pd);
        return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: no buffer", name);
    }
    milnce_decoder *d = *pd;
    if (d && d->in.avio && d->in.mem.buf == buf && d->in.mem.size == size) {
        /* Same member: the demuxer and decoder stay; the next clip seeks and flushes. */
        if (lg) d->lg = *lg;
        return 0;
    }
    if (!d) {
        if ((ret = alloc_decoder(&d, name, lg, err)) < 0) return ret;
        *pd = d;
    } else {
        /* Another member: keep packets, frames, colour converters and buffers (their sizes are
         * checked at use) and the codec if open_input finds the same parameters; the input is
         * per video. */
        if (lg) d->lg = *lg;
        queue_clear(d);
        av_frame_unref(d->pending);
        av_frame_unref(d->frame);
        milnce_video_input_close(&d->in);
    }
    if ((ret = open_input(d, NULL, buf, size, name, 1, err)) < 0) {
        milnce_decoder_free(pd);
        return ret;
    }
    return 0;
}

void milnce_decoder_set_fast_crop(milnce_decoder *d, int enable) {
    if (d) d->fast_crop = enable != 0;
}

int milnce_decoder_light(const milnce_decoder *d) { return d ? d->light : 0; }

int64_t milnce_decoder_codec_kept(const milnce_decoder *d) { return d ? d->codec_kept : 0; }

const milnce_video_info *milnce_decoder_info(const milnce_decoder *d) { return d ? &d->info : NULL; }

void milnce_decoder_stats(const milnce_decoder *d, int64_t *decoded, int64_t *skipped) {
    if (decoded) *decoded = d ? d->n_decoded : 0;
    if (skipped) *skipped = d ? d->n_skipped : 0;
}

void milnce_decoder_set_skip(milnce_decoder *d, int enable) {
    if (d) d->skip = enable != 0;
}

/* ---- packet queue ---------------------------------------------------------------------- */

static void queue_clear(milnce_decoder *d) {
    for (int i = 0; i < d->q_count; i++) av_packet_unref(d->queue[(d->q_head + i) & (QUEUE_CAP - 1)]);
    d->q_head = d->q_count = d->q_eof = 0;
    d->recent_n = d->recent_pos = 0;
}

/* Reads packets of the video stream until want are queued or the input ends. */
static int queue_fill(milnce_decoder *d, int want, milnce_error *err) {
    while (d->q_count < want && !d->q_eof) {
        AVPacket *p = d->queue[(d->q_head + d->q_count) & (QUEUE_CAP - 1)];
        int ret = av_read_frame(d->in.fmt, p);
        d->at_start = 0;
        if (ret == AVERROR_EOF) {
            d->q_eof = 1;
        } else if (ret < 0) {
            /* A read error mid-file: keep what was decodable, like the CLI. */
            warn(d, "read error, stopping here: %s", av_err2str(ret));
            d->q_eof = 1;
        } else if (p->stream_index != d->in.vstream) {
            av_packet_unref(p);
        } else {
            d->q_count++;
        }
    }
    (void)err;
    return 0;
}

/* ---- output geometry and conversion ---------------------------------------------------- */

static int64_t even_scaled(int64_t s, int64_t num, int64_t den) {
    int64_t v = av_rescale(s, num, den * 2) * 2;
    return v < 2 ? 2 : v;
}

/* Fixes the output geometry from the first output frame (w x h decoded). */
static int set_geometry(milnce_decoder *d, clip_state *cs, const AVFrame *f, milnce_error *err) {
    const milnce_clip_spec *sp = cs->spec;
    int w = f->width, h = f->height;
    int rw = d->rot.swap ? h : w, rh = d->rot.swap ? w : h;
    int64_t Wr = rw, Hr = rh;
    int cw, ch, x0, y0;
    if (sp->size > 0) {
        /* scale='if(lt(iw,ih),S,-2)':'if(lt(iw,ih),-2,S)' */
        if (rw < rh) { Wr = sp->size; Hr = even_scaled(sp->size, rh, rw); }
        else { Hr = sp->size; Wr = even_scaled(sp->size, rw, rh); }
    }
    if (Wr > 16384 || Hr > 16384)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "%s: resized frame %lldx%lld is too large",
                                d->in.name, (long long)Wr, (long long)Hr);
    if (sp->crop == MILNCE_CROP_NONE) {
        cw = (int)Wr; ch = (int)Hr; x0 = y0 = 0;
    } else {
        int c = sp->crop_size > 0 ? sp->crop_size : (int)(Wr < Hr ? Wr : Hr);
        cw = c < Wr ? c : (int)Wr;
        ch = c < Hr ? c : (int)Hr;
        if (sp->crop == MILNCE_CROP_OFFSET) {
            x0 = (int)lrint(sp->crop_x * (double)(Wr - cw));
            y0 = (int)lrint(sp->crop_y * (double)(Hr - ch));
        } else { /* ffmpeg crop's default (in_w-out_w)/2, rounded by lrint */
            x0 = (int)lrint((double)(Wr - cw) / 2.0);
            y0 = (int)lrint((double)(Hr - ch) / 2.0);
        }
    }
    cs->W = cw; cs->H = ch;
    cs->Ws = (int)(d->rot.swap ? Hr : Wr);
    cs->Hs = (int)(d->rot.swap ? Wr : Hr);
    cs->bu0 = d->rot.swap ? y0 : x0; cs->bw = d->rot.swap ? ch : cw;
    cs->bv0 = d->rot.swap ? x0 : y0; cs->bh = d->rot.swap ? cw : ch;
    if (d->rot.flip_u) cs->bu0 = cs->Ws - (cs->bu0 + cs->bw);
    if (d->rot.flip_v) cs->bv0 = cs->Hs - (cs->bv0 + cs->bh);
    cs->geom = 1;

    /* Without a resize, the yuv420p -> RGB24 conversion is per pixel (each 2x2 luma block takes
     * its chroma sample), so converting only an even-aligned region around the crop block gives
     * the very pixels of the whole-frame conversion (check_video compares both), for a fraction
     * of the work (226x226 of 456x256 for the loader). The region's size is fixed by the
     * geometry (not by the crop offset's parity), so its converter is made once. */
    cs->blk = 0;
    if (d->fast_crop && f->format == AV_PIX_FMT_YUV420P && f->width == cs->Ws && f->height == cs->Hs &&
        cs->Ws % 2 == 0 && cs->Hs % 2 == 0) {
        cs->rw = (cs->bw + 2) & ~1;
        cs->rh = (cs->bh + 2) & ~1;
        if (cs->rw > cs->Ws) cs->rw = cs->Ws;
        if (cs->rh > cs->Hs) cs->rh = cs->Hs;
        cs->ru0 = cs->bu0 & ~1;
        cs->rv0 = cs->bv0 & ~1;
        if (cs->ru0 + cs->rw > cs->Ws) cs->ru0 = cs->Ws - cs->rw;
        if (cs->rv0 + cs->rh > cs->Hs) cs->rv0 = cs->Hs - cs->rh;
        cs->blk = cs->ru0 % 2 == 0 && cs->rv0 % 2 == 0 && cs->ru0 <= cs->bu0 && cs->rv0 <= cs->bv0 &&
                  cs->bu0 + cs->bw <= cs->ru0 + cs->rw && cs->bv0 + cs->bh <= cs->rv0 + cs->rh;
    }

    if (cs->fdst) {
        size_t need = (size_t)3 * (size_t)cs->T * cs->W * cs->H;
        if (need > cs->fdst_floats)
            return milnce_error_set(err, MILNCE_ERR_RANGE,
                                    "%s: %lld frames of %dx%d need %zu floats, the output holds %zu",
                                    d->in.name, (long long)cs->T, cs->W, cs->H, need, cs->fdst_floats);
        cs->out->h = cs->H; cs->out->w = cs->W;
    } else {
        size_t frame_bytes = (size_t)cs->W * cs->H * 3;
        int plain = !d->rot.swap && !d->rot.flip_u && !d->rot.flip_v;
        /* A sink takes unrotated frames straight from the conversion buffer. */
        size_t need = cs->fn ? (plain ? 0 : frame_bytes) : frame_bytes * (size_t)cs->nslots;
        milnce_frames *o = cs->out;
        if (need > o->capacity) {
            uint8_t *p = realloc(o->data, need);
            if (!p) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory for %lld frames of %dx%d",
                                            d->in.name, (long long)cs->nslots, cs->W, cs->H);
            o->data = p;
            o->capacity = need;
        }
        o->h = cs->H; o->w = cs->W;
    }
    /* The row stride of ffmpeg's frame pool (width aligned to 32 pixels): libswscale's SIMD
     * yuv->rgb path covers more of the row when the stride has room, and the C tail rounds
     * differently, so the stride decides bit-exactness with the CLI. */
    cs->full_stride = FFALIGN(cs->Ws, 32) * 3;
    cs->blk_stride = FFALIGN(cs->rw, 32) * 3;
    size_t rgb_need = (size_t)cs->full_stride * cs->Hs + 64; /* also holds the region */
    if (rgb_need > d->rgb_cap) {
        av_free(d->rgb);
        if (!(d->rgb = av_malloc(rgb_need))) {
            d->rgb_cap = 0;
            return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", d->in.name);
        }
        d->rgb_cap = rgb_need;
    }
    return 0;
}

/* libswscale's colour matrix for a frame, as ffmpeg's scale filter picks it (in_color_matrix
 * "auto": the frame's colour space, BT.601 when unknown; range from the frame). The context of
 * slot z converts sw x sh frames of f's format to dw x dh RGB24. */
static int sws_prepare(milnce_decoder *d, sws_slot *z, const AVFrame *f, int sw, int sh, int dw, int dh,
                       milnce_error *err) {
    if (!z->ctx || z->sw != sw || z->sh != sh || z->fmt != f->format || z->dw != dw || z->dh != dh) {
        sws_freeContext(z->ctx);
        /* Set up like ffmpeg's scale filter: bicubic, and MPEG-2 chroma siting for yuv420p
         * (src_v_chr_pos 128), which also decides between libswscale's code paths. */
        struct SwsContext *s = sws_alloc_context();
        if (s) {
            av_opt_set_int(s, "srcw", sw, 0);
            av_opt_set_int(s, "srch", sh, 0);
            av_opt_set_int(s, "src_format", f->format, 0);
            av_opt_set_int(s, "dstw", dw, 0);
            av_opt_set_int(s, "dsth", dh, 0);
            av_opt_set_int(s, "dst_format", AV_PIX_FMT_RGB24, 0);
            av_opt_set_int(s, "sws_flags", SWS_BICUBIC, 0);
            av_opt_set_int(s, "src_h_chr_pos", -513, 0);
            av_opt_set_int(s, "src_v_chr_pos", f->format == AV_PIX_FMT_YUV420P ? 128 : -513, 0);
            av_opt_set_int(s, "dst_h_chr_pos", -513, 0);
            av_opt_set_int(s, "dst_v_chr_pos", -513, 0);
            if (sws_init_context(s, NULL, NULL) < 0) sws_freeContext(s), s = NULL;
        }
        z->ctx = s;
        if (!z->ctx) {
            const char *pf = av_get_pix_fmt_name((enum AVPixelFormat)f->format);
            return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED,
                                    "%s: cannot convert %dx%d %s frames to %dx%d RGB", d->in.name,
                                    sw, sh, pf ? pf : "?", dw, dh);
        }
        z->sw = sw; z->sh = sh; z->fmt = f->format;
        z->dw = dw; z->dh = dh;
        z->cs = z->range = -1;
    }
    if (z->cs != (int)f->colorspace || z->range != (int)f->color_range) {
        int *inv_table, *table, in_full, out_full, bri, con, sat;
        int cspace = f->colorspace;
        if (cspace < 1 || cspace > 10 || cspace == 8) cspace = AVCOL_SPC_BT470BG;
        sws_getColorspaceDetails(z->ctx, &inv_table, &in_full, &table, &out_full, &bri, &con, &sat);
        const int *coefs = sws_getCoefficients(cspace);
        if (f->color_range != AVCOL_RANGE_UNSPECIFIED) in_full = f->color_range == AVCOL_RANGE_JPEG;
        sws_setColorspaceDetails(z->ctx, coefs, in_full, coefs, out_full, bri, con, sat);
        z->cs = f->colorspace;
        z->range = f->color_range;
    }
    return 0;
}

/* 12 interleaved RGB bytes (4 pixels) -> 4 floats per channel, each value px * (1/255) exactly
 * as the scalar loop computes it (IEEE single multiply). rev != 0 gives the pixels in reverse
 * order (mirrored output). */
#if defined(__SSE2__)
static inline void rgb4_to_planes(float *ro, float *go, float *bo, const uint8_t *px, int rev) {
    const __m128 k = _mm_set1_ps(1.0f / 255.0f);
    const __m128i z = _mm_setzero_si128();
    uint32_t w2;
    memcpy(&w2, px + 8, 4);
    __m128i v = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)px), z);            /* 8 u16 */
    __m128i v2 = _mm_unpacklo_epi8(_mm_cvtsi32_si128((int)w2), z);
    __m128 a = _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(v, z)), k);  /* r0 g0 b0 r1 */
    __m128 b = _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(v, z)), k);  /* g1 b1 r2 g2 */
    __m128 c = _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(v2, z)), k); /* b2 r3 g3 b3 */
    /* r = a0 a3 b2 c1, g = a1 b0 b3 c2, b = a2 b1 c0 c3 */
    __m128 r = _mm_shuffle_ps(a, _mm_shuffle_ps(b, c, _MM_SHUFFLE(1, 1, 2, 2)), _MM_SHUFFLE(2, 0, 3, 0));
    __m128 g = _mm_shuffle_ps(_mm_shuffle_ps(a, b, _MM_SHUFFLE(0, 0, 1, 1)),
                              _mm_shuffle_ps(b, c, _MM_SHUFFLE(2, 2, 3, 3)), _MM_SHUFFLE(2, 0, 2, 0));
    __m128 bl = _mm_shuffle_ps(_mm_shuffle_ps(a, b, _MM_SHUFFLE(1, 1, 2, 2)), c, _MM_SHUFFLE(3, 0, 2, 0));
    if (rev) {
        r = _mm_shuffle_ps(r, r, _MM_SHUFFLE(0, 1, 2, 3));
        g = _mm_shuffle_ps(g, g, _MM_SHUFFLE(0, 1, 2, 3));
        bl = _mm_shuffle_ps(bl, bl, _MM_SHUFFLE(0, 1, 2, 3));
    }
    _mm_storeu_ps(ro, r);
    _mm_storeu_ps(go, g);
    _mm_storeu_ps(bo, bl);
}
#endif

#if defined(MILNCE_RGB_AVX2)
/* pshufb masks gathering channel c of 8 RGB pixels (24 bytes) from two 16-byte loads at bytes
 * 0 and 8: [flip][c][load], -1 = zero. Mirrored output takes the pixels in reverse order. */
static int8_t rgb8_masks[2][3][2][16];

static void rgb8_masks_init(void) {
    for (int flip = 0; flip < 2; flip++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 16; i++) {
                int8_t *lo = rgb8_masks[flip][c][0], *hi = rgb8_masks[flip][c][1];
                lo[i] = hi[i] = -1;
                if (i >= 8) continue;
                int byte = 3 * (flip ? 7 - i : i) + c;
                if (byte < 16) lo[i] = (int8_t)byte;
                else hi[i] = (int8_t)(byte - 8);
            }
}

/* One row, 8 pixels at a time (AVX2): the same px * (1/255) single multiplies as the scalar
 * loop, so the same floats. The conversion is a tenth of a training clip's instructions; this
 * takes about a third fewer than the SSE2 path (and a quarter less time, bounded by the stores).
 * Returns the number of outputs written (a multiple of 8). */
__attribute__((target("avx2"))) static int rgb_row_avx2(float *ro, float *go, float *bo, const uint8_t *row, int W,
                                                         int flip) {
    const __m256 k = _mm256_set1_ps(1.0f / 255.0f);
    const int8_t (*m)[2][16] = rgb8_masks[flip];
    const __m128i r0 = _mm_loadu_si128((const __m128i *)m[0][0]), r1 = _mm_loadu_si128((const __m128i *)m[0][1]);
    const __m128i g0 = _mm_loadu_si128((const __m128i *)m[1][0]), g1 = _mm_loadu_si128((const __m128i *)m[1][1]);
    const __m128i b0 = _mm_loadu_si128((const __m128i *)m[2][0]), b1 = _mm_loadu_si128((const __m128i *)m[2][1]);
    int x = 0;
    for (; x + 8 <= W; x += 8) {
        const uint8_t *px = row + (size_t)(flip ? W - 8 - x : x) * 3; /* reads bytes 0..23 */
        __m128i lo = _mm_loadu_si128((const __m128i *)px), hi = _mm_loadu_si128((const __m128i *)(px + 8));
        __m128i r = _mm_or_si128(_mm_shuffle_epi8(lo, r0), _mm_shuffle_epi8(hi, r1));
        __m128i g = _mm_or_si128(_mm_shuffle_epi8(lo, g0), _mm_shuffle_epi8(hi, g1));
        __m128i b = _mm_or_si128(_mm_shuffle_epi8(lo, b0), _mm_shuffle_epi8(hi, b1));
        _mm256_storeu_ps(ro + x, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(r)), k));
        _mm256_storeu_ps(go + x, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(g)), k));
        _mm256_storeu_ps(bo + x, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b)), k));
    }
    return x;
}

/* Constants, filled once in the process (the masks and what the CPU runs); which path a
 * decoder takes is its own setting (d->simd). */
static int cpu_avx2;
static pthread_once_t avx2_once = PTHREAD_ONCE_INIT;

static void avx2_init(void) {
    rgb8_masks_init();
    cpu_avx2 = __builtin_cpu_supports("avx2");
}
#endif

static int use_avx2(const milnce_decoder *d) {
#if defined(MILNCE_RGB_AVX2)
    pthread_once(&avx2_once, avx2_init);
    return cpu_avx2 && (d->simd == MILNCE_SIMD_AUTO || d->simd >= MILNCE_SIMD_AVX2);
#else
    (void)d;
    return 0;
#endif
}

int milnce_decoder_set_simd(milnce_decoder *d, int simd) {
    if (!d || simd < MILNCE_SIMD_AUTO || simd > MILNCE_SIMD_AVX2) return MILNCE_ERR_INVALID;
    d->simd = simd;
    return use_avx2(d);
}

/* (rows, W, 3) uint8 -> three float planes (H, W) in [0, 1], optionally mirrored; rows of the
 * source are ls bytes apart. */
static void rgb_to_planes(float *r, float *g, float *b, const uint8_t *src, ptrdiff_t ls, int W, int H,
                          int flip, int avx2) {
    const float k = 1.0f / 255.0f;
#if !defined(MILNCE_RGB_AVX2)
    (void)avx2;
#endif
    for (int y = 0; y < H; y++) {
        const uint8_t *row = src + (ptrdiff_t)y * ls;
        float *ro = r + (size_t)y * W, *go = g + (size_t)y * W, *bo = b + (size_t)y * W;
        int x = 0;
#if defined(MILNCE_RGB_AVX2)
        /* Mirrored, output x..x+7 reads pixels W-8-x..W-1-x; the last W % 8 outputs go through
         * the loops below, which start at any x. */
        if (avx2) x = rgb_row_avx2(ro, go, bo, row, W, flip);
#endif
#if defined(__SSE2__)
        /* Output x..x+3 reads source pixels x..x+3, or W-4-x..W-1-x mirrored. */
        for (; x + 4 <= W; x += 4)
            rgb4_to_planes(ro + x, go + x, bo + x, row + (size_t)(flip ? W - 4 - x : x) * 3, flip);
#endif
        for (; x < W; x++) {
            const uint8_t *px = row + (size_t)(flip ? W - 1 - x : x) * 3;
            ro[x] = px[0] * k;
            go[x] = px[1] * k;
            bo[x] = px[2] * k;
        }
    }
}

/* Converts f into output frame index idx (scale to Ws x Hs, crop the block, rotate): RGB24 rows
 * in d->rgb (the whole scaled frame, or only the region around the block), then the block into
 * the output, as uint8 (T, H, W, 3) or planar float. */
static int convert(milnce_decoder *d, clip_state *cs, const AVFrame *f, int64_t idx, milnce_error *err) {
    int ret;
    /* A frame of another size or format than the first one of the clip takes the general path. */
    const int region = cs->blk && f->format == AV_PIX_FMT_YUV420P && f->width == cs->Ws && f->height == cs->Hs;
    const int stride = region ? cs->blk_stride : cs->full_stride;
    uint8_t *dst[4] = {d->rgb, NULL, NULL, NULL};
    int dst_ls[4] = {stride, 0, 0, 0};
    const uint8_t *blk; /* pixel (bu0, bv0) of the scaled frame */
    if (region) {
        if ((ret = sws_prepare(d, &d->blk, f, cs->rw, cs->rh, cs->rw, cs->rh, err)) < 0) return ret;
        const uint8_t *src[4] = {f->data[0] + (ptrdiff_t)cs->rv0 * f->linesize[0] + cs->ru0,
                                 f->data[1] + (ptrdiff_t)(cs->rv0 / 2) * f->linesize[1] + cs->ru0 / 2,
                                 f->data[2] + (ptrdiff_t)(cs->rv0 / 2) * f->linesize[2] + cs->ru0 / 2, NULL};
        ret = sws_scale(d->blk.ctx, src, f->linesize, 0, cs->rh, dst, dst_ls);
        blk = d->rgb + (size_t)(cs->bv0 - cs->rv0) * stride + (size_t)(cs->bu0 - cs->ru0) * 3;
    } else {
        if ((ret = sws_prepare(d, &d->full, f, f->width, f->height, cs->Ws, cs->Hs, err)) < 0) return ret;
        ret = sws_scale(d->full.ctx, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_ls);
        blk = d->rgb + (size_t)cs->bv0 * stride + (size_t)cs->bu0 * 3;
    }
    if (ret <= 0)
        return milnce_error_set(err, MILNCE_ERR_DECODE, "%s: scaling a frame failed", d->in.name);
    const milnce_video_rot r = d->rot;
    const int plain = !r.swap && !r.flip_u && !r.flip_v;
    if (cs->fdst) {
        size_t plane = (size_t)cs->W * cs->H, cstride = (size_t)cs->T * plane;
        float *po = cs->fdst + (size_t)idx * plane;
        if (plain) {
            rgb_to_planes(po, po + cstride, po + 2 * cstride, blk, stride, cs->W, cs->H, cs->flip, use_avx2(d));
            return 0;
        }
        const float k = 1.0f / 255.0f;
        for (int y = 0; y < cs->H; y++) {
            for (int x = 0; x < cs->W; x++) {
                int xs = cs->flip ? cs->W - 1 - x : x;
                int u = r.swap ? y : xs, v = r.swap ? xs : y;
                if (r.flip_u) u = cs->bw - 1 - u;
                if (r.flip_v) v = cs->bh - 1 - v;
                const uint8_t *p = blk + (size_t)v * stride + (size_t)u * 3;
                size_t o = (size_t)y * cs->W + x;
                po[o] = p[0] * k;
                po[cstride + o] = p[1] * k;
                po[2 * cstride + o] = p[2] * k;
            }
        }
        return 0;
    }
    if (cs->fn && plain) {
        cs->sink_px = blk;
        cs->sink_stride = stride;
        return 0;
    }
    uint8_t *o = cs->out->data + (cs->fn ? 0 : (size_t)idx * cs->W * cs->H * 3);
    if (cs->fn) {
        cs->sink_px = o;
        cs->sink_stride = cs->W * 3;
    }
    if (plain) {
        for (int y = 0; y < cs->H; y++)
            memcpy(o + (size_t)y * cs->W * 3, blk + (size_t)y * stride, (size_t)cs->W * 3);
        return 0;
    }
    for (int y = 0; y < cs->H; y++) {
        uint8_t *orow = o + (size_t)y * cs->W * 3;
        for (int x = 0; x < cs->W; x++) {
            int u = r.swap ? y : x, v = r.swap ? x : y;
            if (r.flip_u) u = cs->bw - 1 - u;
            if (r.flip_v) v = cs->bh - 1 - v;
            const uint8_t *p = blk + (size_t)v * stride + (size_t)u * 3;
            orow[3 * x] = p[0];
            orow[3 * x + 1] = p[1];
            orow[3 * x + 2] = p[2];
        }
    }
    return 0;
}

/* Copies output frame `from` to frame `to` (a repeated frame). */
static void copy_frame(clip_state *cs, int64_t to, int64_t from) {
    if (cs->fdst) {
        size_t plane = (size_t)cs->W * cs->H, cstride = (size_t)cs->T * plane;
        for (int c = 0; c < 3; c++)
            memcpy(cs->fdst + c * cstride + (size_t)to * plane, cs->fdst + c * cstride + (size_t)from * plane,
                   plane * sizeof(float));
        return;
    }
    size_t fb = (size_t)cs->W * cs->H * 3;
    memcpy(cs->out->data + (size_t)to * fb, cs->out->data + (size_t)from * fb, fb);
}

/* The fps filter outputs the pending frame at slot `slot` (slot 0 = the clip start). A first
 * frame later than slot 0 is repeated back to slot 0, as the CLI's constant-frame-rate output
 * does for files with more than one stream (out->lead counts these repeats). */
static int emit(milnce_decoder *d, clip_state *cs, int64_t slot, milnce_error *err) {
    int ret;
    const AVFrame *f = d->pending;
    if (slot >= cs->nslots) {
        cs->done = 1;
        return 0;
    }
    if (!cs->geom && (ret = set_geometry(d, cs, f, err)) < 0) return ret;
    int64_t upto = cs->out_n == 0 ? (slot < 0 ? 0 : slot) : cs->out_n;
    if (cs->out_n == 0) cs->out->lead = (int)upto;
    for (int64_t i = cs->out_n; i <= upto; i++) {
        if (cs->pending_at >= 0) {
            if (!cs->fn) copy_frame(cs, i, cs->pending_at);
        } else {
            if ((ret = convert(d, cs, f, i, err)) < 0) return ret;
            cs->pending_at = cs->fn ? 0 : (int)i;
        }
        if (cs->fn && (ret = cs->fn(cs->user, i, cs->sink_px, cs->W, cs->H, cs->sink_stride)) != 0)
            return ret < 0 ? ret : MILNCE_ERR_INTERRUPTED;
        cs->out_n = i + 1;
    }
    if (cs->out_n >= cs->nslots) cs->done = 1;
    return 0;
}

static int64_t to_slot(milnce_decoder *d, clip_state *cs, int64_t pts) {
    return av_rescale_q_rnd(pts, d->st->time_base, cs->out_tb, AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
}

/* One decoded frame into the fps filter. */
static int take_frame(milnce_decoder *d, clip_state *cs, AVFrame *f, milnce_error *err) {
    int ret;
    int64_t pts = f->best_effort_timestamp;
    d->n_decoded++;
    if (f->decode_error_flags || (f->flags & AV_FRAME_FLAG_CORRUPT)) {
        decode_warning(cs);
        warn(d, "frame at %.3f s decoded with errors",
             pts == AV_NOPTS_VALUE ? -1.0 : pts * av_q2d(d->st->time_base));
    }
    if (pts == AV_NOPTS_VALUE) {
        if (cs->last_end == AV_NOPTS_VALUE) return 0; /* nothing to place it after */
        pts = cs->last_end - cs->off;
    }
    int64_t p = pts + cs->off;
    int64_t dur = f->pkt_duration > 0 ? f->pkt_duration : d->default_dur;
    cs->last_end = p + dur;
    if (p < 0) return 0; /* before the start: the CLI's trim drops it */
    int64_t r = to_slot(d, cs, p);
    if (!cs->have_pending) {
        av_frame_unref(d->pending);
        av_frame_move_ref(d->pending, f);
        cs->have_pending = 1;
        cs->pending_at = -1;
        if (cs->next == INT64_MIN) cs->next = r;
        return 0;
    }
    while (!cs->done) {
        if (r <= cs->next) { /* the new frame takes the slot: drop the pending one */
            av_frame_unref(d->pending);
            av_frame_move_ref(d->pending, f);
            cs->pending_at = -1;
            return 0;
        }
        if ((ret = emit(d, cs, cs->next, err)) < 0) return ret;
        cs->next++;
    }
    av_frame_unref(f);
    return 0;
}

/* Whether the packet's frame is certainly dropped by the trim or the fps rule, so a
 * non-reference frame there need not be decoded. */
static int packet_unneeded(milnce_decoder *d, clip_state *cs, const AVPacket *pkt) {
    if (pkt->pts == AV_NOPTS_VALUE || !d->pts_reliable) return 0;
    int64_t p = pkt->pts + cs->off;
    if (p < 0) return 1;
    if (!d->skip_in_span) return 0;
    /* The next pts after p among packets around it (sent recently or queued). */
    int64_t q = INT64_MAX;
    for (int i = 0; i < d->recent_n; i++) {
        int64_t t = d->recent[i];
        if (t > pkt->pts && t < q) q = t;
    }
    for (int i = 1; i < d->q_count; i++) { /* queue[head] is pkt itself */
        const AVPacket *o = d->queue[(d->q_head + i) & (QUEUE_CAP - 1)];
        if (o->pts == AV_NOPTS_VALUE) return 0;
        if (o->pts > pkt->pts && o->pts < q) q = o->pts;
    }
    if (q == INT64_MAX || (d->q_count < LOOKAHEAD && !d->q_eof)) return 0;
    return to_slot(d, cs, q + cs->off) <= to_slot(d, cs, p);
}

/* Whether no packet still to send can give a frame of the clip: every queued packet (a full
 * lookahead, or up to the end of the input) lies at or after slot nslots. *q receives the
 * earliest of their pts: the frame that would end the clip's last slot. Then the decoder's
 * delayed frames can be flushed out instead of decoding more frames to push them out (with
 * B-pyramid reordering the H.264 decoder holds 2 frames). */
static int tail_reached(milnce_decoder *d, clip_state *cs, int64_t *q) {
    if (!d->skip_in_span || !cs->have_pending || d->q_count == 0 || (d->q_count < LOOKAHEAD && !d->q_eof))
        return 0;
    int64_t m = INT64_MAX;
    for (int i = 0; i < d->q_count; i++) {
        const AVPacket *o = d->queue[(d->q_head + i) & (QUEUE_CAP - 1)];
        if (o->pts == AV_NOPTS_VALUE || to_slot(d, cs, o->pts + cs->off) < cs->nslots) return 0;
        if (o->pts < m) m = o->pts;
    }
    *q = m;
    return 1;
}

static int drain(milnce_decoder *d, clip_state *cs, milnce_error *err) {
    int ret = 0;
    while (!cs->done && (ret = avcodec_receive_frame(d->dec, d->frame)) >= 0) {
        if ((ret = take_frame(d, cs, d->frame, err)) < 0) return ret;
    }
    if (cs->done) return 0;
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return 0;
    decode_warning(cs);
    warn(d, "decode error: %s", av_err2str(ret));
    return 0;
}

/* Where a clip's frames go: planar floats (data), a frame sink (fn), else uint8 frames into out. */
typedef struct clip_dst {
    float *data;
    size_t floats;
    int flip;
    milnce_frame_fn fn;
    void *user;
} clip_dst;

static int clip_run(milnce_decoder *d, const milnce_clip_spec *spec, milnce_frames *out,
                    const clip_dst *pd, int skip, int64_t *skipped, int64_t *n_out, milnce_error *err) {
    int ret;
    clip_state cs;
    if (!d || !spec || !out) return milnce_error_set(err, MILNCE_ERR_INVALID, "decoder_clip: NULL argument");
    if (!(spec->fps > 0) || !isfinite(spec->fps) || spec->fps > 1000)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "%s: fps %g must be in (0, 1000]", d->in.name, spec->fps);
    if (!isfinite(spec->start) || !isfinite(spec->end) || spec->start < 0 || !(spec->end > spec->start) ||
        spec->end > 1e9)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "%s: clip span [%g, %g) is not a valid time span",
                                d->in.name, spec->start, spec->end);
    if (spec->size < 0 || spec->size > 8192 || spec->crop_size < 0 || spec->crop_size > 8192 ||
        spec->max_frames < 0)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "%s: size %d, crop size %d or max frames %d out of range",
                                d->in.name, spec->size, spec->crop_size, spec->max_frames);
    if (spec->crop != MILNCE_CROP_CENTER && spec->crop != MILNCE_CROP_NONE && spec->crop != MILNCE_CROP_OFFSET)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: unknown crop mode %d", d->in.name, (int)spec->crop);
    if (spec->crop == MILNCE_CROP_OFFSET &&
        !(spec->crop_x >= 0 && spec->crop_x <= 1 && spec->crop_y >= 0 && spec->crop_y <= 1))
        return milnce_error_set(err, MILNCE_ERR_RANGE, "%s: crop offset (%g, %g) not in [0, 1]",
                                d->in.name, spec->crop_x, spec->crop_y);

    if (pd->data && spec->max_frames < 1)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: planar output needs max_frames > 0", d->in.name);

    memset(&cs, 0, sizeof cs);
    cs.spec = spec;
    cs.out = out;
    cs.fdst = pd->data;
    cs.fdst_floats = pd->floats;
    cs.flip = pd->flip;
    cs.fn = pd->fn;
    cs.user = pd->user;
    cs.skip = skip;
    cs.T = spec->max_frames;
    out->t = 0;
    out->lead = 0;
    out->warnings = 0;
    AVRational fps = av_d2q(spec->fps, 1001000);
    cs.out_tb = av_inv_q(fps);
    int64_t start_us = llrint(spec->start * AV_TIME_BASE);
    int64_t dur_us = llrint((spec->end - spec->start) * AV_TIME_BASE);
    int64_t ts = start_us + (d->in.fmt->start_time != AV_NOPTS_VALUE ? d->in.fmt->start_time : 0);
    cs.off = -av_rescale_q(ts, AV_TIME_BASE_Q, d->st->time_base);
    cs.nslots = av_rescale_q(dur_us, AV_TIME_BASE_Q, cs.out_tb);
    if (spec->max_frames > 0 && cs.nslots > spec->max_frames) cs.nslots = spec->max_frames;
    if (cs.nslots > 100000 && !cs.fn) /* a sink holds one frame at a time */
        return milnce_error_set(err, MILNCE_ERR_RANGE, "%s: %lld frames asked, at most 100000 per clip",
                                d->in.name, (long long)cs.nslots);
    cs.next = INT64_MIN;
    cs.pending_at = -1;
    cs.last_end = AV_NOPTS_VALUE;
    if (cs.nslots == 0) return 0;

    /* Seek like the CLI: key frame at or before ts. */
    queue_clear(d);
    if ((ret = avformat_seek_file(d->in.fmt, -1, INT64_MIN, ts, ts, 0)) < 0) {
        if (!d->at_start) {
            /* Unseekable input read already: rewind to the start and decode forward. */
            int r2 = avformat_seek_file(d->in.fmt, -1, INT64_MIN, INT64_MIN, INT64_MIN, AVSEEK_FLAG_BYTE);
            if (r2 < 0)
                return milnce_error_set(err, MILNCE_ERR_IO, "%s: cannot seek to %.3f s: %s", d->in.name,
                                        spec->start, av_err2str(ret));
        }
    }
    avcodec_flush_buffers(d->dec);
    av_frame_unref(d->pending);

    while (!cs.done) {
        queue_fill(d, LOOKAHEAD + 1, err);
        if (d->q_count == 0) break;
        int64_t q;
        if (cs.skip && tail_reached(d, &cs, &q)) {
            /* Flush the frames the decoder holds, then let the frame at q end the last slot as
             * it would in take_frame: the frames and slots are those of decoding on. */
            avcodec_send_packet(d->dec, NULL);
            if ((ret = drain(d, &cs, err)) < 0) goto end;
            int64_t r = to_slot(d, &cs, q + cs.off);
            while (!cs.done && r > cs.next) {
                if ((ret = emit(d, &cs, cs.next, err)) < 0) goto end;
                cs.next++;
            }
            if (!cs.done) { /* not expected (tail_reached gives r >= nslots): an error, not a guess */
                ret = milnce_error_set(err, MILNCE_ERR_DECODE, "%s: clip ended early", d->in.name);
                goto end;
            }
            /* The packets after q were not decoded: counted as skipped so that clip_any decodes
             * a damaged clip again without the shortcut (not in n_skipped, which counts packets
             * sent with their non-reference frames discarded). */
            (*skipped)++;
            break;
        }
        AVPacket *pkt = d->queue[d->q_head];
        int unneeded = cs.skip && packet_unneeded(d, &cs, pkt);
        d->dec->skip_frame = unneeded ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
        if (unneeded) d->n_skipped++, (*skipped)++;
        d->recent[d->recent_pos] = pkt->pts;
        d->recent_pos = (d->recent_pos + 1) & (RECENT_CAP - 1);
        if (d->recent_n < RECENT_CAP) d->recent_n++;
        ret = avcodec_send_packet(d->dec, pkt);
        av_packet_unref(pkt);
        d->q_head = (d->q_head + 1) & (QUEUE_CAP - 1);
        d->q_count--;
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            decode_warning(&cs);
            warn(d, "decode error in a packet: %s", av_err2str(ret));
        }
        if ((ret = drain(d, &cs, err)) < 0) goto end;
    }
    if (!cs.done) {
        /* End of the stream: flush the decoder, then the fps filter up to the end time. */
        d->dec->skip_frame = AVDISCARD_DEFAULT;
        avcodec_send_packet(d->dec, NULL);
        if ((ret = drain(d, &cs, err)) < 0) goto end;
        if (!cs.done && cs.have_pending && cs.last_end != AV_NOPTS_VALUE) {
            int64_t status = to_slot(d, &cs, cs.last_end);
            while (!cs.done && cs.next < status) {
                if ((ret = emit(d, &cs, cs.next, err)) < 0) goto end;
                cs.next++;
            }
        }
        /* The decoder is drained: make it usable for the next clip. */
        avcodec_flush_buffers(d->dec);
    }
    ret = 0;
    if (cs.out_n == 0 && out->warnings > 0)
        ret = milnce_error_set(err, MILNCE_ERR_DECODE, "%s: no decodable frame in [%.3f, %.3f) s (%d decode errors)",
                               d->in.name, spec->start, spec->end, out->warnings);
end:
    av_frame_unref(d->pending);
    av_frame_unref(d->frame);
    out->t = cs.out_n > INT_MAX ? INT_MAX : (int)cs.out_n;
    if (n_out) *n_out = cs.out_n;
    if (!cs.geom) out->h = out->w = 0;
    return ret;
}

static int clip_any(milnce_decoder *d, const milnce_clip_spec *spec, milnce_frames *out,
                    const clip_dst *pd, milnce_error *err) {
    int64_t skipped = 0;
    int ret = clip_run(d, spec, out, pd, d ? d->skip : 0, &skipped, NULL, err);
    if (ret >= 0 && out->warnings > 0 && skipped > 0) {
        /* A frame that failed to decode may have been the one that made a skipped frame
         * unnecessary: decode the clip again without skipping (broken files only). */
        ret = clip_run(d, spec, out, pd, 0, &skipped, NULL, err);
    }
    return ret;
}

int milnce_decoder_clip(milnce_decoder *d, const milnce_clip_spec *spec, milnce_frames *out,
                        milnce_error *err) {
    const clip_dst none = {NULL, 0, 0, NULL, NULL};
    return clip_any(d, spec, out, &none, err);
}

int milnce_decoder_clip_planar(milnce_decoder *d, const milnce_clip_spec *spec, int flip, float *dst,
                               size_t dst_floats, milnce_frames *out, milnce_error *err) {
    if (!dst) return milnce_error_set(err, MILNCE_ERR_INVALID, "decoder_clip_planar: no output");
    const clip_dst pd = {dst, dst_floats, flip != 0, NULL, NULL};
    int ret = clip_any(d, spec, out, &pd, err);
    if (ret < 0) return ret;
    /* Frames past the end of the video are zero (the reference pads clips so); with no frame
     * at all the output size is unknown, and the whole capacity is cleared. */
    size_t plane = (size_t)out->h * out->w, cstride = (size_t)spec->max_frames * plane;
    if (out->t == 0 || plane == 0) {
        memset(dst, 0, dst_floats * sizeof *dst);
        return 0;
    }
    for (int t = out->t; t < spec->max_frames; t++)
        for (int c = 0; c < 3; c++) memset(dst + c * cstride + (size_t)t * plane, 0, plane * sizeof *dst);
    return 0;
}

int milnce_decoder_stream(milnce_decoder *d, const milnce_clip_spec *spec, milnce_frame_fn fn, void *user,
                          int64_t *frames, int *warnings, milnce_error *err) {
    if (frames) *frames = 0;
    if (warnings) *warnings = 0;
    if (!fn) return milnce_error_set(err, MILNCE_ERR_INVALID, "decoder_stream: no frame function");
    if (spec && spec->max_frames != 0)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "decoder_stream: max_frames must be 0");
    const clip_dst sink = {NULL, 0, 0, fn, user};
    milnce_frames out = {0}; /* one rotated frame at most */
    int64_t skipped = 0, n = 0;
    /* Frames delivered cannot be taken back: no second pass after decode errors (see clip_any),
     * skipping stops at the first error instead. */
    int ret = clip_run(d, spec, &out, &sink, d ? d->skip : 0, &skipped, &n, err);
    if (frames) *frames = n;
    if (warnings) *warnings = out.warnings;
    milnce_frames_free(&out);
    return ret;
}
