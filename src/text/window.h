/* Candidate windows: which sentences of a video form the bag of text candidates of one training
 * clip, and which span of time the clip is cut from.
 *
 * Sentences are given as two arrays start[n], end[n] (seconds) sorted by start (stable sort,
 * milnce_cues_sort); the anchor a is an index 0..n-1. The reference (MIL-NCE_HowTo100M,
 * video_loader.py) reads the caption CSV in file order without sorting; HowTo100M files are
 * already sorted by start, so the two agree on them. */
#ifndef MILNCE_WINDOW_H
#define MILNCE_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* `nearest` (the reference rule): grow a window [s, e] from the anchor one sentence at a time
 * until it holds K, towards the side whose addition gives the shorter total time span
 * (end[e] - start[s-1] < end[e+1] - start[s] extends left, ties extend right); when it reaches
 * sentence 0 the window starts at 0, when it reaches the last sentence it starts K - count
 * earlier. bag (K) receives start + i clamped into 0..n-1 for i = 0..K-1 (a video with fewer
 * than K sentences repeats some). Returns 0, or MILNCE_ERR_INVALID for n == 0, a >= n, K < 1. */
int milnce_window_nearest(int64_t *bag, const double *start, const double *end, size_t n,
                          size_t anchor, int K, milnce_error *err);

/* `symmetric` (±k): the anchor and up to k neighbours on each side in sentence order. With
 * max_gap >= 0, a neighbour whose time gap to the anchor (start[a] - end[j] on the left,
 * start[j] - end[a] on the right; overlapping sentences have gap <= 0) exceeds max_gap seconds
 * is dropped together with everything beyond it on that side, so the bag stays contiguous;
 * max_gap < 0 keeps all k. bag (2k+1) and mask (2k+1) receive the indices in sentence order in
 * the first *count slots (mask 1); the remaining slots hold the anchor with mask 0, so every
 * slot is a valid index. Returns 0 or MILNCE_ERR_INVALID (n == 0, a >= n, k < 0). */
int milnce_window_symmetric(int64_t *bag, uint8_t *mask, int *count, const double *start,
                            const double *end, size_t n, size_t anchor, int k, double max_gap,
                            milnce_error *err);

/* The clip span of an anchor sentence [start, end] (seconds): unchanged when at least min_time
 * long, else widened by the missing time split equally on both sides, and moved right when that
 * would start before 0 (the reference: start = max(0, start - missing / 2), end = start +
 * min_time). The reference then truncates both to whole seconds; this function does not. */
void milnce_clip_span(double *out_start, double *out_end, double start, double end,
                      double min_time);

/* The reference's clip start (whole seconds): it truncates the span to int(start), int(end) and
 * draws random.randint(start, int(max(start, end - clip_len))). Writes that inclusive range;
 * the caller draws uniformly from it. Times outside [0, MILNCE_CUE_TIME_MAX] (src/text/cues.h) are
 * clamped to it, NaN to 0 (readers refuse such times; this keeps the casts defined). On a rendition with a key frame at every whole second
 * (milnce preprocess) such a clip starts on a key frame: nothing is decoded before it. */
void milnce_clip_start_range(double span_start, double span_end, double clip_len, int64_t *lo, int64_t *hi);

/* Window rules by name, for configs and the command line. */
typedef enum { MILNCE_WINDOW_NEAREST = 0, MILNCE_WINDOW_SYMMETRIC = 1 } milnce_window_kind;

typedef struct milnce_window_spec {
    milnce_window_kind kind;
    int k;          /* NEAREST: K candidates (>= 1); SYMMETRIC: neighbours per side (>= 0) */
    double max_gap; /* SYMMETRIC only; < 0 = no limit */
} milnce_window_spec;

/* "nearest:K", "symmetric:k" or "symmetric:k:max_gap" (seconds). */
int milnce_window_spec_parse(const char *s, milnce_window_spec *out, milnce_error *err);
/* Slots of a bag under spec: K, or 2k+1. */
int milnce_window_bag_size(const milnce_window_spec *spec);
/* Either rule into bag/mask (bag_size slots); for NEAREST every mask entry is 1. */
int milnce_window_bag(int64_t *bag, uint8_t *mask, int *count, const milnce_window_spec *spec,
                      const double *start, const double *end, size_t n, size_t anchor,
                      milnce_error *err);

#endif
