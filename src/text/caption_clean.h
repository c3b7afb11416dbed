/* Caption text cleaning: pure text functions between the transcript readers and the tokenizer.
 * No I/O. All text is UTF-8. */
#ifndef MILNCE_CAPTION_CLEAN_H
#define MILNCE_CAPTION_CLEAN_H

#include <stddef.h>

#include "cues.h"
#include "error.h"

/* How '<' is read in cue text. */
enum {
    MILNCE_MARKUP_KNOWN_TAGS = 0, /* SRT, SBV, CSV, caption.json, embedded: only known SRT/HTML/
                                     WebVTT tag names (b i u s font em strong span br p sub sup c
                                     v lang ruby rt) and timestamps <00:00:01.000> are markup,
                                     ending with '>' on the same line; "2<3,5>1" is text */
    MILNCE_MARKUP_WEBVTT = 1      /* the W3C cue-text tokenizer: every '<' begins a tag that runs
                                     to the next '>' or the end of the cue; tags carry no text */
};

/* Cue text as written -> the words a person hears:
 * - removes markup as markup says (tags, <00:00:01.000> timestamps; <br> becomes a line break)
 *   and ASS override blocks ({\an8}); ASS "\N" and "\n" become line breaks, "\h" a space;
 * - decodes entities (&amp; &lt; &gt; &quot; &apos; &nbsp; &lrm; &rlm; &#NN; &#xHH;); NBSP and
 *   the direction marks become a space or nothing;
 * - collapses runs of spaces/tabs, trims each line, drops empty lines.
 * *out is malloc'ed, lines joined by '\n'. */
int milnce_caption_clean_markup(const char *in, size_t n, int markup, char **out, milnce_error *err);
/* milnce_caption_clean_markup with MILNCE_MARKUP_KNOWN_TAGS. */
int milnce_caption_clean_text(const char *in, size_t n, char **out, milnce_error *err);

/* True when raw (uncleaned) cue texts look like YouTube automatic captions: inline timestamp
 * tags "<00:00:01.000>" or "<c>" word tags in some cue. */
int milnce_caption_is_rolling(const milnce_cues *raw);

/* YouTube rolling captions, on cleaned cues in file order: every cue repeats the previous cue's
 * line before adding a new one, and a ~10 ms cue repeats the finished line. Keeps each line once,
 * one cue per line. bridge_times = 0: the line keeps the span of the cue in which it first
 * appeared (when it was spoken); 1: it takes the span of the last short cue (< 50 ms) that
 * repeats it, which is what webvtt-to-json's --dedupe outputs. */
int milnce_caption_dedupe_rolling(milnce_cues *c, int bridge_times, milnce_error *err);

/* HowTo100M overlapping ASR lines, on cues sorted by start. Drops from each line the leading
 * words that repeat the trailing words of the previous kept line (a line wholly inside the
 * previous one is dropped). With trim, each end is then cut to the next cue's start so that the
 * intervals no longer overlap. Returns the number of lines dropped, or <0. */
int milnce_caption_dedupe_overlap(milnce_cues *c, int trim, milnce_error *err);

/* The plain text of a transcript: cue texts in order, line breaks as spaces, joined by one
 * space. *out is malloc'ed. */
int milnce_caption_join(const milnce_cues *c, char **out, milnce_error *err);

#endif
