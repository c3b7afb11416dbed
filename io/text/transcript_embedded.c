/* Text subtitle streams inside a media file (mov_text, WebVTT, SubRip, ASS/SSA, ...), decoded by
 * libavcodec; bitmap subtitles (DVD, PGS) carry no text and are refused. */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <string.h>

#include "transcript_internal.h"

/* An ASS event as FFmpeg's decoders give it: "ReadOrder,Layer,Style,Name,MarginL,MarginR,
 * MarginV,Effect,Text" (older FFmpeg: "Dialogue: Layer,Start,End,...,Text", 9 commas). The text
 * is after the 8th comma (9th with the Dialogue prefix). */
static const char *ass_text(const char *s) {
    int skip = strncmp(s, "Dialogue:", 9) == 0 ? 9 : 8;
    for (int i = 0; i < skip && s; i++) {
        s = strchr(s, ',');
        if (s) s++;
    }
    return s ? s : "";
}

int milnce__read_embedded(const char *path, const milnce_transcript_opts *o, milnce_cues *out,
                          const milnce_logger *lg, milnce_error *err) {
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = NULL;
    char e[AV_ERROR_MAX_STRING_SIZE];
    int ret = avformat_open_input(&fmt, path, NULL, NULL), rc = 0;
    if (ret < 0) {
        av_strerror(ret, e, sizeof e);
        return milnce_error_set(err, ret == AVERROR(ENOENT) ? MILNCE_ERR_NOTFOUND : MILNCE_ERR_FORMAT,
                                "%s: cannot open: %s", path, e);
    }
    if ((ret = avformat_find_stream_info(fmt, NULL)) < 0) {
        av_strerror(ret, e, sizeof e);
        rc = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: no stream info: %s", path, e);
        goto end;
    }
    int si = -1;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVCodecParameters *par = fmt->streams[i]->codecpar;
        if (par->codec_type != AVMEDIA_TYPE_SUBTITLE) continue;
        if (o->stream_index >= 0 && (int)i != o->stream_index) continue;
        const AVCodecDescriptor *d = avcodec_descriptor_get(par->codec_id);
        if (d && (d->props & AV_CODEC_PROP_BITMAP_SUB)) {
            if (o->stream_index >= 0) {
                rc = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED,
                                      "%s: stream %u is a bitmap subtitle (%s), no text", path, i, d->name);
                goto end;
            }
            continue;
        }
        si = (int)i;
        break;
    }
    if (si < 0) {
        rc = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: no text subtitle stream%s", path,
                              o->stream_index >= 0 ? " at that index" : "");
        goto end;
    }
    AVStream *st = fmt->streams[si];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec) {
        rc = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: no decoder for subtitle codec %s", path,
                              avcodec_get_name(st->codecpar->codec_id));
        goto end;
    }
    dec = avcodec_alloc_context3(codec);
    if (dec) dec->opaque = (void *)path; /* named in FFmpeg's messages (the command's av_log callback) */
    pkt = av_packet_alloc();
    if (!dec || !pkt) { rc = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: decoder", path); goto end; }
    if ((ret = avcodec_parameters_to_context(dec, st->codecpar)) < 0 ||
        (dec->pkt_timebase = st->time_base, (ret = avcodec_open2(dec, codec, NULL)) < 0)) {
        av_strerror(ret, e, sizeof e);
        rc = milnce_error_set(err, MILNCE_ERR_DECODE, "%s: opening %s decoder: %s", path, codec->name, e);
        goto end;
    }
    double tb = av_q2d(st->time_base);
    while ((ret = av_read_frame(fmt, pkt)) >= 0 && rc == 0) {
        if (pkt->stream_index != si) { av_packet_unref(pkt); continue; }
        AVSubtitle sub;
        int got = 0;
        ret = avcodec_decode_subtitle2(dec, &sub, &got, pkt);
        if (ret < 0) {
            av_strerror(ret, e, sizeof e);
            milnce_log(lg, MILNCE_LOG_WARN, "%s: subtitle packet at %.3f s: %s, skipped", path,
                       pkt->pts != AV_NOPTS_VALUE ? pkt->pts * tb : -1.0, e);
        } else if (got) {
            double start = sub.pts != AV_NOPTS_VALUE ? (double)sub.pts / AV_TIME_BASE
                         : pkt->pts != AV_NOPTS_VALUE ? pkt->pts * tb : 0;
            start += sub.start_display_time / 1000.0;
            double end;
            if (sub.end_display_time > sub.start_display_time && sub.end_display_time != UINT32_MAX)
                end = start + (sub.end_display_time - sub.start_display_time) / 1000.0;
            else
                end = start + (pkt->duration > 0 ? pkt->duration * tb : 0);
            for (unsigned r = 0; r < sub.num_rects && rc == 0; r++) {
                const AVSubtitleRect *rect = sub.rects[r];
                const char *t = rect->type == SUBTITLE_ASS && rect->ass ? ass_text(rect->ass)
                              : rect->type == SUBTITLE_TEXT && rect->text ? rect->text : NULL;
                if (t && (rc = milnce_cues_push(out, start < 0 ? 0 : start, end < 0 ? 0 : end, t, (size_t)-1, err)) < 0)
                    milnce_error_prefix(err, "%s: subtitle stream %d", path, si);
            }
            avsubtitle_free(&sub);
        }
        av_packet_unref(pkt);
    }
    if (rc == 0 && ret < 0 && ret != AVERROR_EOF) {
        av_strerror(ret, e, sizeof e);
        rc = milnce_error_set(err, MILNCE_ERR_IO, "%s: reading packets: %s", path, e);
    }
end:
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return rc;
}
