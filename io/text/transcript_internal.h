/* Shared between the io/transcript_*.c readers; not part of the public API. Each parser takes
 * NUL-terminated UTF-8 text (BOM removed) and appends raw cues (text as written, before
 * cleaning) to out. */
#ifndef MILNCE_TRANSCRIPT_INTERNAL_H
#define MILNCE_TRANSCRIPT_INTERNAL_H

#include "transcript.h"

int milnce__parse_csv(const char *name, const char *text, size_t len,
                      const milnce_transcript_opts *o, milnce_cues *out, const milnce_logger *lg,
                      milnce_error *err);
int milnce__parse_srt(const char *name, const char *text, size_t len, int sbv,
                      const milnce_transcript_opts *o, milnce_cues *out, const milnce_logger *lg,
                      milnce_error *err);
int milnce__parse_vtt(const char *name, const char *text, size_t len,
                      const milnce_transcript_opts *o, milnce_cues *out, const milnce_logger *lg,
                      milnce_error *err);
/* caption.json held in memory: the entry opts->video_id (or the first). */
int milnce__parse_caption_json_mem(const char *name, const char *text, size_t len,
                                   const milnce_transcript_opts *o, milnce_cues *out,
                                   const milnce_logger *lg, milnce_error *err);
int milnce__read_embedded(const char *path, const milnce_transcript_opts *o, milnce_cues *out,
                          const milnce_logger *lg, milnce_error *err);

/* Cleaning, rolling de-duplication, sorting and overlap handling on raw cues, as opts say.
 * markup: MILNCE_MARKUP_* (src/text/caption_clean.h), how '<' in the cue text is read. */
int milnce__postprocess(const char *name, milnce_cues *cues, const milnce_transcript_opts *o, int markup,
                        const milnce_logger *lg, milnce_error *err);

/* Whole file into memory (NUL-terminated). */

#endif
