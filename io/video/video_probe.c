/* Opening inputs (file or memory) and describing them: container, codec, duration (scanned
 * when the header has none), frame rates, size, display rotation, streams. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>

#include "video_internal.h"

#define MILNCE_AVIO_BUFSIZE 32768

int milnce_video_averr(int averr) {
    switch (averr) {
    case AVERROR(ENOENT): return MILNCE_ERR_NOTFOUND;
    case AVERROR(ENOMEM): return MILNCE_ERR_NOMEM;
    case AVERROR(EACCES):
    case AVERROR(EIO):
    case AVERROR(EISDIR): return MILNCE_ERR_IO;
    case AVERROR_INVALIDDATA: return MILNCE_ERR_FORMAT;
    case AVERROR_DECODER_NOT_FOUND:
    case AVERROR_DEMUXER_NOT_FOUND:
    case AVERROR_PATCHWELCOME: return MILNCE_ERR_UNSUPPORTED;
    default: return MILNCE_ERR_DECODE;
    }
}

static int mem_read(void *opaque, uint8_t *out, int n) {
    milnce_video_mem *m = opaque;
    if (m->pos >= m->size) return AVERROR_EOF;
    size_t left = m->size - m->pos;
    size_t k = (size_t)n < left ? (size_t)n : left;
    memcpy(out, m->buf + m->pos, k);
    m->pos += k;
    return (int)k;
}

static int64_t mem_seek(void *opaque, int64_t offset, int whence) {
    milnce_video_mem *m = opaque;
    int64_t base;
    if (whence & AVSEEK_SIZE) return (int64_t)m->size;
    switch (whence & ~AVSEEK_FORCE) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)m->pos; break;
    case SEEK_END: base = (int64_t)m->size; break;
    default: return AVERROR(EINVAL);
    }
    if (offset < -base || base + offset > (int64_t)m->size) return AVERROR(EINVAL);
    m->pos = (size_t)(base + offset);
    return (int64_t)m->pos;
}

void milnce_video_input_close(milnce_video_input *in) {
    if (!in) return;
    avformat_close_input(&in->fmt);
    if (in->avio) {
        av_freep(&in->avio->buffer);
        avio_context_free(&in->avio);
    }
}

/* Whether the header of an opened MP4/MOV input holds what decoding its video stream needs
 * (see milnce_video_input_open_light); sets fmt->start_time as find_stream_info would. */
static int header_suffices(AVFormatContext *fmt) {
    if (!strstr(fmt->iformat->name, "mp4")) return 0;
    int v = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (v < 0) return 0;
    const AVCodecParameters *par = fmt->streams[v]->codecpar;
    if ((par->codec_id != AV_CODEC_ID_H264 && par->codec_id != AV_CODEC_ID_HEVC) ||
        par->extradata_size <= 0 || par->width <= 0 || par->height <= 0)
        return 0;
    int64_t start = INT64_MAX;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVStream *st = fmt->streams[i];
        if (st->start_time == AV_NOPTS_VALUE) return 0;
        int64_t s = av_rescale_q(st->start_time, st->time_base, AV_TIME_BASE_Q);
        if (s < start) start = s;
    }
    fmt->start_time = start;
    return 1;
}

static int input_open(milnce_video_input *in, const char *path, const uint8_t *buf, size_t size,
                      const char *name, int light, int *light_used, milnce_error *err) {
    int ret, code = MILNCE_ERR_FORMAT;
    uint8_t *iobuf = NULL;
    memset(in, 0, sizeof *in);
    in->vstream = -1;
    snprintf(in->name, sizeof in->name, "%s", name ? name : path ? path : "<memory>");

    if (!buf && !path)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: no path or buffer given", in->name);
    if (buf && size == 0)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: empty buffer (0 bytes), not a video",
                                in->name);
    if (!(in->fmt = avformat_alloc_context()))
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", in->name);
    if (buf) {
        in->mem.buf = buf;
        in->mem.size = size;
        if (!(iobuf = av_malloc(MILNCE_AVIO_BUFSIZE)) ||
            !(in->avio = avio_alloc_context(iobuf, MILNCE_AVIO_BUFSIZE, 0, &in->mem, mem_read,
                                            NULL, mem_seek))) {
            av_free(iobuf);
            avformat_free_context(in->fmt);
            in->fmt = NULL;
            return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", in->name);
        }
        in->fmt->pb = in->avio;
        in->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    /* A light open of bytes that start with an ISO BMFF ftyp box (the shards' renditions) names
     * the demuxer instead of probing for it: probing scores every demuxer on the buffer, about 1%
     * of a training clip's instructions. */
    const AVInputFormat *ifmt = NULL;
    if (light && buf && size >= 8 && memcmp(buf + 4, "ftyp", 4) == 0) ifmt = av_find_input_format("mp4");
    /* avformat_open_input frees fmt on failure. */
    if ((ret = avformat_open_input(&in->fmt, buf ? (name ? name : "") : path, ifmt, NULL)) < 0) {
        code = milnce_video_averr(ret);
        if (ret == AVERROR_INVALIDDATA || ret == AVERROR_DEMUXER_NOT_FOUND) code = MILNCE_ERR_FORMAT;
        milnce_error_set(err, code, "%s: cannot open as a video: %s", in->name, av_err2str(ret));
        if (ret == AVERROR_EOF) /* zero bytes */
            code = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: empty file (0 bytes), not a video",
                                    in->name);
        goto end;
    }
    if (light_used) *light_used = 0;
    if (light && header_suffices(in->fmt)) {
        if (light_used) *light_used = 1;
    } else if ((ret = avformat_find_stream_info(in->fmt, NULL)) < 0) {
        code = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: cannot read stream info: %s", in->name,
                         av_err2str(ret));
        goto end;
    }
    if ((ret = av_find_best_stream(in->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0) {
        code = milnce_error_set(err, ret == AVERROR_STREAM_NOT_FOUND ? MILNCE_ERR_NOTFOUND
                                                              : MILNCE_ERR_UNSUPPORTED,
                         "%s: no video stream (%s, %u streams)", in->name,
                         in->fmt->iformat->name, in->fmt->nb_streams);
        goto end;
    }
    in->vstream = ret;
    {
        AVCodecParameters *par = in->fmt->streams[in->vstream]->codecpar;
        if (par->width <= 0 || par->height <= 0) {
            ret = AVERROR_INVALIDDATA;
            code = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: video stream %d has no frame size",
                             in->name, in->vstream);
            goto end;
        }
    }
    ret = 0;
end:
    if (ret < 0) {
        milnce_video_input_close(in);
        return code;
    }
    return 0;
}

int milnce_video_input_open(milnce_video_input *in, const char *path, const uint8_t *buf,
                            size_t size, const char *name, milnce_error *err) {
    return input_open(in, path, buf, size, name, 0, NULL, err);
}

int milnce_video_input_open_light(milnce_video_input *in, const uint8_t *buf, size_t size,
                                  const char *name, int *light_used, milnce_error *err) {
    return input_open(in, NULL, buf, size, name, 1, light_used, err);
}

milnce_video_rot milnce_video_autorotation(const AVStream *st) {
    milnce_video_rot r = {0, 0, 0};
    const int32_t *m = (const int32_t *)av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (!m) return r;
    /* fftools' get_rotation(): clockwise degrees in [0, 360). */
    double theta = -round(av_display_rotation_get(m));
    theta -= 360 * floor(theta / 360 + 0.9 / 360);
    if (fabs(theta - 90) < 1.0) {
        if (m[3] > 0) r = (milnce_video_rot){1, 0, 0}; /* transpose=cclock_flip */
        else r = (milnce_video_rot){1, 0, 1};          /* transpose=clock */
    } else if (fabs(theta - 180) < 1.0) {
        r.flip_u = m[0] < 0; /* hflip */
        r.flip_v = m[4] < 0; /* vflip */
    } else if (fabs(theta - 270) < 1.0) {
        if (m[3] < 0) r = (milnce_video_rot){1, 1, 1}; /* transpose=clock_flip */
        else r = (milnce_video_rot){1, 1, 0};          /* transpose=cclock */
    } else if (fabs(theta) < 1.0) {
        r.flip_v = m[4] < 0;
    }
    /* Other angles (the CLI's arbitrary "rotate" filter) are not applied. */
    return r;
}

static double q2d_or0(AVRational q) { return q.num && q.den ? av_q2d(q) : 0.0; }

/* Duration from the packets: max over the video stream of (pts + duration) - first pts. */
static int scan_duration(milnce_video_input *in, double *out, milnce_error *err) {
    AVPacket *pkt = av_packet_alloc();
    AVStream *st = in->fmt->streams[in->vstream];
    int64_t first = AV_NOPTS_VALUE, last = AV_NOPTS_VALUE;
    int ret;
    if (!pkt) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", in->name);
    while ((ret = av_read_frame(in->fmt, pkt)) >= 0) {
        if (pkt->stream_index == in->vstream) {
            int64_t t = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
            if (t != AV_NOPTS_VALUE) {
                int64_t e = t + (pkt->duration > 0 ? pkt->duration : 0);
                if (first == AV_NOPTS_VALUE || t < first) first = t;
                if (last == AV_NOPTS_VALUE || e > last) last = e;
            }
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    /* Back to the start for whoever reads next. */
    avformat_seek_file(in->fmt, -1, INT64_MIN, in->fmt->start_time != AV_NOPTS_VALUE
                       ? in->fmt->start_time : 0, INT64_MAX, 0);
    if (ret != AVERROR_EOF && first == AV_NOPTS_VALUE)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: reading packets: %s", in->name,
                                av_err2str(ret));
    *out = first == AV_NOPTS_VALUE ? 0.0 : (double)(last - first) * av_q2d(st->time_base);
    return 0;
}

int milnce_video_fill_info(milnce_video_input *in, int scan, milnce_video_info *info,
                           milnce_error *err) {
    AVFormatContext *fmt = in->fmt;
    AVStream *st = fmt->streams[in->vstream];
    AVCodecParameters *par = st->codecpar;
    int ret;
    memset(info, 0, sizeof *info);
    snprintf(info->container, sizeof info->container, "%s", fmt->iformat->name);
    snprintf(info->codec, sizeof info->codec, "%s", avcodec_get_name(par->codec_id));
    {
        const char *pf = av_get_pix_fmt_name((enum AVPixelFormat)par->format);
        snprintf(info->pix_fmt, sizeof info->pix_fmt, "%s", pf ? pf : "unknown");
    }
    info->video_stream = in->vstream;
    info->start_time = fmt->start_time != AV_NOPTS_VALUE ? fmt->start_time / (double)AV_TIME_BASE : 0;
    if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) {
        info->duration = fmt->duration / (double)AV_TIME_BASE;
    } else if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
        info->duration = st->duration * av_q2d(st->time_base);
    } else if (scan) {
        if ((ret = scan_duration(in, &info->duration, err)) < 0) return ret;
        info->duration_scanned = 1;
    }
    info->avg_fps_num = st->avg_frame_rate.num;
    info->avg_fps_den = st->avg_frame_rate.den;
    info->avg_fps = q2d_or0(st->avg_frame_rate);
    info->r_fps_num = st->r_frame_rate.num;
    info->r_fps_den = st->r_frame_rate.den;
    info->r_fps = q2d_or0(st->r_frame_rate);
    info->vfr = av_cmp_q(st->avg_frame_rate, st->r_frame_rate) != 0;
    info->nb_frames = st->nb_frames > 0 ? st->nb_frames : 0;
    info->width = par->width;
    info->height = par->height;
    {
        const int32_t *m = (const int32_t *)av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
        double rot = m ? av_display_rotation_get(m) : 0.0;
        info->rotation = isnan(rot) ? 0 : (int)lrint(rot);
        milnce_video_rot r = milnce_video_autorotation(st);
        info->display_width = r.swap ? par->height : par->width;
        info->display_height = r.swap ? par->width : par->height;
    }
    info->nb_streams = (int)fmt->nb_streams;
    for (unsigned i = 0; i < fmt->nb_streams && i < MILNCE_VIDEO_MAX_STREAMS; i++) {
        AVStream *s = fmt->streams[i];
        milnce_stream_info *si = &info->streams[i];
        const char *type = av_get_media_type_string(s->codecpar->codec_type);
        AVDictionaryEntry *lang = av_dict_get(s->metadata, "language", NULL, 0);
        si->index = (int)i;
        snprintf(si->type, sizeof si->type, "%s", type ? type : "unknown");
        snprintf(si->codec, sizeof si->codec, "%s", avcodec_get_name(s->codecpar->codec_id));
        if (s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
            si->width = s->codecpar->width;
            si->height = s->codecpar->height;
        } else if (s->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
            si->sample_rate = s->codecpar->sample_rate;
            si->channels = s->codecpar->ch_layout.nb_channels;
        }
        if (lang) snprintf(si->language, sizeof si->language, "%s", lang->value);
    }
    return 0;
}

static int probe(const char *path, const uint8_t *buf, size_t size, const char *name,
                 milnce_video_info *info, milnce_error *err) {
    milnce_video_input in;
    int ret;
    if (!info) return milnce_error_set(err, MILNCE_ERR_INVALID, "probe: no info given");
    if ((ret = milnce_video_input_open(&in, path, buf, size, name, err)) < 0) return ret;
    ret = milnce_video_fill_info(&in, 1, info, err);
    milnce_video_input_close(&in);
    return ret;
}

int milnce_video_probe(const char *path, milnce_video_info *info, milnce_error *err) {
    return probe(path, NULL, 0, NULL, info, err);
}

int milnce_video_probe_memory(const uint8_t *buf, size_t size, const char *name_for_messages,
                              milnce_video_info *info, milnce_error *err) {
    if (!buf) return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: no buffer given",
                                      name_for_messages ? name_for_messages : "<memory>");
    return probe(NULL, buf, size, name_for_messages, info, err);
}

int milnce_video_check_usable(const char *path, const milnce_video_info *vi, milnce_error *err) {
    int w = vi->display_width ? vi->display_width : vi->width, h = vi->display_height ? vi->display_height : vi->height;
    if (!(vi->duration > 0)) return milnce_error_set(err, MILNCE_ERR_DECODE, "%s: no duration (empty or unreadable video)", path);
    if (w < 2 || h < 2) return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: %dx%d video is too small to train on", path, w, h);
    return 0;
}
