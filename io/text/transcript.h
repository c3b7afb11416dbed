/* Narration readers: every caption source a video can come with, read into a milnce_cues list
 * (src/text/cues.h) of {start, end, text} in seconds.
 *
 *   HowTo100M per-video CSV  `start,end,text` (RFC 4180; also the YouCook2 layout
 *                            `end,start,task,text,video_id`, columns found by header name)
 *   HowTo100M caption.json   {video_id: {"start": [...], "end": [...], "text": [...]}, ...},
 *                            streamed with yajl: memory is one video's entry, whatever the size
 *   SRT, SBV                 with or without BOM
 *   WebVTT                   the W3C parsing algorithm (cue settings and regions included), and
 *                            YouTube automatic captions (rolling lines de-duplicated)
 *   embedded                 text/ASS subtitle streams inside a container (libavformat)
 *
 * Text is UTF-8 on output. Input may be UTF-8 (BOM or not), UTF-16 or UTF-32 with BOM, or any iconv
 * encoding that is declared (opts.encoding) or found by trying opts.fallback_encodings when the
 * bytes are not valid UTF-8; otherwise the read fails with an error naming the file.
 *
 * Errors name the file and the line (MILNCE_ERR_FORMAT), or the file (MILNCE_ERR_IO,
 * MILNCE_ERR_NOTFOUND, MILNCE_ERR_UNSUPPORTED). An empty file is zero cues, not an error. */
#ifndef MILNCE_TRANSCRIPT_H
#define MILNCE_TRANSCRIPT_H

#include <stddef.h>

#include "cues.h"
#include "error.h"

typedef enum {
    MILNCE_CAPTIONS_AUTO,     /* from the file name's extension, then the content */
    MILNCE_CAPTIONS_CSV,
    MILNCE_CAPTIONS_JSON,     /* HowTo100M caption.json */
    MILNCE_CAPTIONS_SRT,
    MILNCE_CAPTIONS_VTT,
    MILNCE_CAPTIONS_EMBEDDED, /* subtitle stream of a media file */
    MILNCE_CAPTIONS_SBV       /* YouTube .sbv: "h:mm:ss.mmm,h:mm:ss.mmm" then text */
} milnce_caption_format;

/* "auto", "csv", "json", "srt", "vtt" (or "webvtt"), "embedded", "sbv"; case-insensitive.
 * Unknown name -> MILNCE_ERR_INVALID listing the accepted names. */
int milnce_caption_format_parse(const char *name, milnce_caption_format *fmt, milnce_error *err);
const char *milnce_caption_format_name(milnce_caption_format fmt);
/* From the extension: .csv .json .srt .vtt .sbv; a media extension (milnce_media_ext in
 * video_list.h: .mp4 .mkv .webm ... .mka .mks) -> EMBEDDED; anything else -> AUTO (content sniffing decides at read time). */
milnce_caption_format milnce_caption_format_guess(const char *path);

/* What to do with YouTube-style rolling captions (each cue repeats the previous line, then a
 * ~10 ms "bridge" cue repeats the finished line). */
enum {
    MILNCE_ROLLING_AUTO = 0, /* de-duplicate when the file looks like YouTube captions (inline
                                <00:00:01.000> / <c> tags) */
    MILNCE_ROLLING_OFF = 1,  /* keep every cue as written */
    MILNCE_ROLLING_ON = 2    /* always de-duplicate */
};

/* HowTo100M ASR lines overlap in time (windows of ~5 s every ~2.5 s) and sometimes repeat words
 * across the boundary. */
enum {
    MILNCE_OVERLAP_KEEP = 0,   /* as in the file (the reference's behaviour) */
    MILNCE_OVERLAP_DEDUPE = 1, /* drop the words of a line that repeat the tail of the previous
                                  line; a line left empty is dropped */
    MILNCE_OVERLAP_TRIM = 2    /* DEDUPE, then cut each end to the next start, so intervals no
                                  longer overlap (each word timed once) */
};

typedef struct milnce_transcript_opts {
    int clean;            /* 1 (default): strip markup (<i>, <c>, <00:00:01.000>, {\an8}),
                             decode entities, trim; 0: cue text exactly as in the file */
    int rolling;          /* MILNCE_ROLLING_*; default AUTO */
    int bridge_times;     /* with rolling de-duplication: 0 (default) a line keeps the span in
                             which it was spoken; 1 it takes the time of the ~10 ms cue that
                             repeats it (what webvtt-to-json --dedupe outputs) */
    int overlap;          /* MILNCE_OVERLAP_*; default KEEP; applied to every format */
    int strict;           /* 1 (default): a cue block the parser has to drop (bad timing, no
                             timing line) is an error naming file:line; 0: warn and skip */
    int keep_empty;       /* 0 (default): cues with no text after cleaning are dropped */
    int sort;             /* 1 (default): stable sort by start time */
    const char *encoding; /* declared input encoding (iconv name) or NULL: detect */
    const char *fallback_encodings; /* comma-separated iconv names tried in order when the bytes
                                       are neither UTF-8 nor UTF-16 with BOM, e.g.
                                       "GB18030,CP1252"; NULL (default): none, error */
    const char *video_id; /* caption.json through milnce_transcript_read: the entry to read;
                             NULL: the first one */
    int stream_index;     /* EMBEDDED: absolute stream index, or -1 (default) for the first
                             text subtitle stream */
} milnce_transcript_opts;

void milnce_transcript_opts_default(milnce_transcript_opts *o);

/* Reads one narration file: out is emptied first, then holds the cues (cleaned, de-duplicated,
 * sorted as opts say). */
int milnce_transcript_read(const char *path, milnce_caption_format fmt,
                           const milnce_transcript_opts *opts /* NULL = defaults */,
                           milnce_cues *out, const milnce_logger *lg, milnce_error *err);

/* The same on bytes in memory (for fuzzing and callers that have the data already); name is
 * used in messages. fmt must not be EMBEDDED. */
int milnce_transcript_parse(const char *name, const void *data, size_t n,
                            milnce_caption_format fmt, const milnce_transcript_opts *opts,
                            milnce_cues *out, const milnce_logger *lg, milnce_error *err);

/* --- HowTo100M caption.json, streamed ------------------------------------------------------ */
typedef struct milnce_caption_json milnce_caption_json;

int milnce_caption_json_open(const char *path, const milnce_transcript_opts *opts,
                             const milnce_logger *lg, milnce_caption_json **out,
                             milnce_error *err);
/* Next video: *video_id is set to a malloc'ed id (caller frees), cues is cleared then filled.
 * Returns 1 for a video, 0 at the end, <0 on error (the reader is then unusable). */
int milnce_caption_json_next(milnce_caption_json *r, char **video_id, milnce_cues *cues,
                             milnce_error *err);
/* Most bytes the reader held at once for parsed entries (texts, times, id): bounded by the
 * largest single entry, not the file. */
size_t milnce_caption_json_peak_bytes(const milnce_caption_json *r);
void milnce_caption_json_close(milnce_caption_json **r);

/* --- WebVTT in full (what the W3C parsing tests check) ------------------------------------- */
enum { MILNCE_VTT_ALIGN_START, MILNCE_VTT_ALIGN_CENTER, MILNCE_VTT_ALIGN_END,
       MILNCE_VTT_ALIGN_LEFT, MILNCE_VTT_ALIGN_RIGHT };
enum { MILNCE_VTT_LINE_START, MILNCE_VTT_LINE_CENTER, MILNCE_VTT_LINE_END };
enum { MILNCE_VTT_POS_AUTO, MILNCE_VTT_POS_LINE_LEFT, MILNCE_VTT_POS_CENTER,
       MILNCE_VTT_POS_LINE_RIGHT };

typedef struct milnce_vtt_region {
    char *id;
    double width;                          /* percent, default 100 */
    double lines;                          /* default 3 (a double: the spec's number can be huge) */
    double anchor_x, anchor_y;             /* region anchor, percent, default 0,100 */
    double viewport_x, viewport_y;         /* viewport anchor, percent, default 0,100 */
    int scroll_up;                         /* scroll:up */
} milnce_vtt_region;

typedef struct milnce_vtt_cue {
    char *id;           /* "" when none */
    double start, end;  /* seconds */
    char *text;         /* raw cue text, lines joined by '\n', NULs replaced by U+FFFD */
    int region;         /* index into regions, or -1 */
    int vertical;       /* 0 horizontal, 1 "rl", 2 "lr" */
    int snap_to_lines;  /* default 1 */
    int line_auto;      /* default 1; else line holds the value */
    double line;
    int line_align;     /* MILNCE_VTT_LINE_* */
    int position_auto;  /* default 1; else position holds the percent */
    double position;
    int position_align; /* MILNCE_VTT_POS_* */
    double size;        /* percent, default 100 */
    int align;          /* MILNCE_VTT_ALIGN_*, default CENTER */
    int line_no;        /* 1-based line of the timing line in the file */
} milnce_vtt_cue;

typedef struct milnce_vtt {
    milnce_vtt_cue *cues;   /* (n) in file order */
    size_t n, cap;
    milnce_vtt_region *regions; /* (nregions) */
    size_t nregions, capr;
    int dropped;            /* blocks the algorithm ignored (bad timings, no timing line) */
    int first_dropped_line; /* line of the first such block, 0 if none */
} milnce_vtt;

/* Runs the W3C WebVTT file parsing algorithm on UTF-8 text (a BOM is skipped). Fails only when
 * the signature is missing (MILNCE_ERR_FORMAT, "name:1: ..."). */
int milnce_vtt_parse(const char *name, const char *text, size_t len, milnce_vtt *out,
                     milnce_error *err);
void milnce_vtt_free(milnce_vtt *v);

/* --- Encodings ------------------------------------------------------------------------------ */
/* Converts bytes to NUL-terminated UTF-8 following the rules above: BOM (UTF-8/UTF-16LE/BE)
 * (UTF-8, UTF-32LE/BE before UTF-16LE/BE)
 * first, then declared encoding, then UTF-8 validity, then the fallback list. *out is malloc'ed
 * (the BOM removed), *out_len excludes the NUL. name is used in messages. */
int milnce_text_to_utf8(const char *name, const void *data, size_t n, const char *encoding,
                        const char *fallbacks, char **out, size_t *out_len,
                        const milnce_logger *lg, milnce_error *err);

#endif
