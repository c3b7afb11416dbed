/* A narration as a list of cues: what every transcript reader produces and what the text
 * cleaning, tokenizer and windowing consume. Times in seconds from the start of the video. */
#ifndef MILNCE_CUES_H
#define MILNCE_CUES_H

#include <stddef.h>

#include "error.h"

/* Largest time a cue may carry, seconds (10^7 s, about 116 days: far beyond any video, far
 * below where a double loses whole milliseconds or an int64 cast overflows). Every reader
 * refuses a larger time with an error naming the file and line; milnce_cues_push refuses one too. */
#define MILNCE_CUE_TIME_MAX 1e7

/* 1 when t is a time a cue may carry: finite, 0 <= t <= MILNCE_CUE_TIME_MAX. */
static inline int milnce_cue_time_ok(double t) { return t >= 0 && t <= MILNCE_CUE_TIME_MAX; }

typedef struct milnce_cue {
    double start; /* seconds */
    double end;   /* seconds, >= start */
    char *text;   /* UTF-8, NUL-terminated, owned; may hold '\n' between lines of one cue */
} milnce_cue;

typedef struct milnce_cues {
    milnce_cue *v; /* (n) */
    size_t n, cap;
} milnce_cues;

/* Appends a cue with a copy of text (len bytes, or strlen when len == (size_t)-1). A time that
 * is not milnce_cue_time_ok is MILNCE_ERR_RANGE (the caller prefixes file and line). */
int milnce_cues_push(milnce_cues *c, double start, double end, const char *text, size_t len,
                     milnce_error *err);
/* Stable sort by start time (ties keep input order), as the reference does before windowing. */
void milnce_cues_sort(milnce_cues *c);
void milnce_cues_clear(milnce_cues *c); /* frees the texts, keeps capacity */
void milnce_cues_free(milnce_cues *c);  /* frees everything, leaves an empty list */

#endif
