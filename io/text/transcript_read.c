/* milnce_transcript_read: format choice, bytes -> UTF-8, the parser, then the common clean-up. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "caption_clean.h"
#include "fileutil.h"
#include "transcript_internal.h"
#include "video_list.h"

void milnce_transcript_opts_default(milnce_transcript_opts *o) {
    memset(o, 0, sizeof *o);
    o->clean = 1;
    o->rolling = MILNCE_ROLLING_AUTO;
    o->bridge_times = 0;
    o->overlap = MILNCE_OVERLAP_KEEP;
    o->strict = 1;
    o->keep_empty = 0;
    o->sort = 1;
    o->stream_index = -1;
}

static const struct { const char *name; milnce_caption_format fmt; } k_formats[] = {
    {"auto", MILNCE_CAPTIONS_AUTO}, {"csv", MILNCE_CAPTIONS_CSV},
    {"json", MILNCE_CAPTIONS_JSON}, {"srt", MILNCE_CAPTIONS_SRT},
    {"vtt", MILNCE_CAPTIONS_VTT},   {"webvtt", MILNCE_CAPTIONS_VTT},
    {"embedded", MILNCE_CAPTIONS_EMBEDDED}, {"sbv", MILNCE_CAPTIONS_SBV},
};

int milnce_caption_format_parse(const char *name, milnce_caption_format *fmt, milnce_error *err) {
    for (size_t i = 0; name && i < sizeof k_formats / sizeof k_formats[0]; i++)
        if (strcasecmp(name, k_formats[i].name) == 0) {
            *fmt = k_formats[i].fmt;
            return 0;
        }
    return milnce_error_set(err, MILNCE_ERR_INVALID,
                            "unknown caption format '%s' (auto, csv, json, srt, vtt, sbv, embedded)",
                            name ? name : "(null)");
}

const char *milnce_caption_format_name(milnce_caption_format fmt) {
    for (size_t i = 0; i < sizeof k_formats / sizeof k_formats[0]; i++)
        if (k_formats[i].fmt == fmt) return k_formats[i].name;
    return "?";
}

milnce_caption_format milnce_caption_format_guess(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (!dot) return MILNCE_CAPTIONS_AUTO;
    const char *e = dot + 1;
    if (!strcasecmp(e, "csv")) return MILNCE_CAPTIONS_CSV;
    if (!strcasecmp(e, "json")) return MILNCE_CAPTIONS_JSON;
    if (!strcasecmp(e, "srt")) return MILNCE_CAPTIONS_SRT;
    if (!strcasecmp(e, "vtt") || !strcasecmp(e, "webvtt")) return MILNCE_CAPTIONS_VTT;
    if (!strcasecmp(e, "sbv")) return MILNCE_CAPTIONS_SBV;
    if (milnce_media_ext(e) != MILNCE_MEDIA_NONE) return MILNCE_CAPTIONS_EMBEDDED;
    return MILNCE_CAPTIONS_AUTO;
}

/* Content sniffing for files whose name says nothing. */
static milnce_caption_format sniff(const char *t) {
    while (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n') t++;
    if (strncmp(t, "WEBVTT", 6) == 0) return MILNCE_CAPTIONS_VTT;
    if (*t == '{') return MILNCE_CAPTIONS_JSON;
    const char *nl = strchr(t, '\n');
    size_t l = nl ? (size_t)(nl - t) : strlen(t);
    if (memmem(t, l, "start", 5) && memmem(t, l, "text", 4) && memchr(t, ',', l)) return MILNCE_CAPTIONS_CSV;
    if (strstr(t, "-->")) return MILNCE_CAPTIONS_SRT;
    if (isdigit((unsigned char)*t) && memchr(t, ',', l) && memchr(t, ':', l)) return MILNCE_CAPTIONS_SBV;
    return MILNCE_CAPTIONS_AUTO;
}

int milnce__postprocess(const char *name, milnce_cues *cues, const milnce_transcript_opts *o, int markup,
                        const milnce_logger *lg, milnce_error *err) {
    int rc;
    int rolling = o->rolling == MILNCE_ROLLING_ON ||
                  (o->rolling == MILNCE_ROLLING_AUTO && milnce_caption_is_rolling(cues));
    if (o->clean) {
        size_t k = 0;
        for (size_t i = 0; i < cues->n; i++) {
            char *t;
            if ((rc = milnce_caption_clean_markup(cues->v[i].text, strlen(cues->v[i].text), markup, &t, err)) < 0) {
                /* Keep the list consistent for the caller's free. */
                for (size_t j = k; j < i; j++) cues->v[j].text = NULL;
                for (size_t j = i; j < cues->n; j++) cues->v[k++] = cues->v[j];
                cues->n = k;
                return rc;
            }
            free(cues->v[i].text);
            cues->v[i].text = t;
            if (!*t && !o->keep_empty && !rolling) { free(t); continue; }
            cues->v[k++] = cues->v[i];
        }
        cues->n = k;
    } else if (!o->keep_empty) {
        size_t k = 0;
        for (size_t i = 0; i < cues->n; i++) {
            if (!cues->v[i].text[0]) { free(cues->v[i].text); continue; }
            cues->v[k++] = cues->v[i];
        }
        cues->n = k;
    }
    if (rolling && o->clean) {
        size_t before = cues->n;
        if ((rc = milnce_caption_dedupe_rolling(cues, o->bridge_times, err)) < 0) return rc;
        milnce_log(lg, MILNCE_LOG_DEBUG, "%s: rolling captions: %zu cues -> %zu lines", name,
                   before, cues->n);
    }
    if (o->sort) milnce_cues_sort(cues);
    if (o->overlap != MILNCE_OVERLAP_KEEP) {
        rc = milnce_caption_dedupe_overlap(cues, o->overlap == MILNCE_OVERLAP_TRIM, err);
        if (rc < 0) return rc;
    }
    return 0;
}

int milnce_transcript_parse(const char *name, const void *data, size_t n,
                            milnce_caption_format fmt, const milnce_transcript_opts *opts,
                            milnce_cues *out, const milnce_logger *lg, milnce_error *err) {
    milnce_transcript_opts dflt;
    if (!opts) {
        milnce_transcript_opts_default(&dflt);
        opts = &dflt;
    }
    milnce_cues_clear(out);
    if (fmt == MILNCE_CAPTIONS_EMBEDDED)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: embedded subtitles need a file", name);
    char *text;
    size_t len;
    int rc = milnce_text_to_utf8(name, data, n, opts->encoding, opts->fallback_encodings, &text,
                                 &len, lg, err);
    if (rc < 0) return rc;
    if (fmt == MILNCE_CAPTIONS_AUTO) {
        fmt = sniff(text);
        if (fmt == MILNCE_CAPTIONS_AUTO) {
            int blank = 1;
            for (size_t i = 0; i < len && blank; i++) blank = isspace((unsigned char)text[i]) != 0;
            free(text);
            if (blank) return 0; /* an empty file is zero cues whatever its format */
            return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED,
                                    "%s:1: not a caption format milnce knows (csv, json, srt, vtt, sbv)", name);
        }
    }
    switch (fmt) {
    case MILNCE_CAPTIONS_CSV: rc = milnce__parse_csv(name, text, len, opts, out, lg, err); break;
    case MILNCE_CAPTIONS_SRT: rc = milnce__parse_srt(name, text, len, 0, opts, out, lg, err); break;
    case MILNCE_CAPTIONS_SBV: rc = milnce__parse_srt(name, text, len, 1, opts, out, lg, err); break;
    case MILNCE_CAPTIONS_VTT: rc = milnce__parse_vtt(name, text, len, opts, out, lg, err); break;
    case MILNCE_CAPTIONS_JSON:
        rc = milnce__parse_caption_json_mem(name, text, len, opts, out, lg, err);
        break;
    default: rc = milnce_error_set(err, MILNCE_ERR_INVALID, "%s: bad caption format %d", name, (int)fmt);
    }
    free(text);
    if (rc >= 0)
        rc = milnce__postprocess(name, out, opts, fmt == MILNCE_CAPTIONS_VTT ? MILNCE_MARKUP_WEBVTT : MILNCE_MARKUP_KNOWN_TAGS,
                                 lg, err);
    if (rc < 0) milnce_cues_clear(out);
    return rc < 0 ? rc : 0;
}

int milnce_transcript_read(const char *path, milnce_caption_format fmt,
                           const milnce_transcript_opts *opts, milnce_cues *out,
                           const milnce_logger *lg, milnce_error *err) {
    milnce_transcript_opts dflt;
    if (!opts) {
        milnce_transcript_opts_default(&dflt);
        opts = &dflt;
    }
    milnce_cues_clear(out);
    if (fmt == MILNCE_CAPTIONS_AUTO) fmt = milnce_caption_format_guess(path);
    if (fmt == MILNCE_CAPTIONS_EMBEDDED) {
        int rc = milnce__read_embedded(path, opts, out, lg, err);
        if (rc >= 0) rc = milnce__postprocess(path, out, opts, MILNCE_MARKUP_KNOWN_TAGS, lg, err);
        if (rc < 0) milnce_cues_clear(out);
        return rc < 0 ? rc : 0;
    }
    if (fmt == MILNCE_CAPTIONS_JSON) {
        /* Stream: a caption.json can be many GB; only the wanted entry is kept. */
        milnce_caption_json *r;
        int rc = milnce_caption_json_open(path, opts, lg, &r, err);
        if (rc < 0) return rc;
        char *id = NULL;
        int found = 0;
        while ((rc = milnce_caption_json_next(r, &id, out, err)) == 1) {
            int match = !opts->video_id || strcmp(id, opts->video_id) == 0;
            free(id);
            id = NULL;
            if (match) { found = 1; break; }
        }
        milnce_caption_json_close(&r);
        if (rc < 0) { milnce_cues_clear(out); return rc; }
        if (!found) {
            milnce_cues_clear(out);
            if (opts->video_id)
                return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: no video '%s'", path, opts->video_id);
            return 0; /* "{}": no videos, no cues */
        }
        return 0; /* next() already cleaned the entry */
    }
    char *data;
    size_t n;
    int rc = milnce_read_file(path, 0, &data, &n, NULL, err);
    if (rc < 0) return rc;
    rc = milnce_transcript_parse(path, data, n, fmt, opts, out, lg, err);
    free(data);
    return rc;
}
