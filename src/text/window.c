#include "window.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cues.h"

int milnce_window_nearest(int64_t *bag, const double *start, const double *end, size_t n,
                          size_t anchor, int K, milnce_error *err) {
    if (n == 0 || anchor >= n || K < 1 || !bag || !start || !end)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "window nearest: anchor %zu of %zu sentences, K = %d",
                                anchor, n, K);
    /* s may go negative (the "last index" rule), so signed. */
    int64_t s = (int64_t)anchor, e = (int64_t)anchor, last = (int64_t)n - 1;
    for (int count = 1; count < K; count++) {
        if (s == 0) break; /* the window starts at 0 */
        if (e == last) {
            s -= K - count;
            break;
        }
        if (end[e] - start[s - 1] < end[e + 1] - start[s])
            s--;
        else
            e++;
    }
    for (int i = 0; i < K; i++) {
        int64_t j = s + i;
        bag[i] = j < 0 ? 0 : j > last ? last : j;
    }
    return 0;
}

int milnce_window_symmetric(int64_t *bag, uint8_t *mask, int *count, const double *start,
                            const double *end, size_t n, size_t anchor, int k, double max_gap,
                            milnce_error *err) {
    if (n == 0 || anchor >= n || k < 0 || !bag || !mask || !start || !end)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "window symmetric: anchor %zu of %zu sentences, k = %d",
                                anchor, n, k);
    size_t lo = anchor, hi = anchor;
    for (int d = 0; d < k && lo > 0; d++) {
        if (max_gap >= 0 && start[anchor] - end[lo - 1] > max_gap) break;
        lo--;
    }
    for (int d = 0; d < k && hi + 1 < n; d++) {
        if (max_gap >= 0 && start[hi + 1] - end[anchor] > max_gap) break;
        hi++;
    }
    int slots = 2 * k + 1, c = (int)(hi - lo + 1);
    for (int i = 0; i < slots; i++) {
        bag[i] = i < c ? (int64_t)(lo + (size_t)i) : (int64_t)anchor;
        mask[i] = i < c;
    }
    if (count) *count = c;
    return 0;
}

void milnce_clip_span(double *out_start, double *out_end, double start, double end,
                      double min_time) {
    if (end - start < min_time) {
        double missing = min_time - (end - start);
        start = start - missing / 2;
        if (start < 0) start = 0;
        end = start + min_time;
    }
    *out_start = start;
    *out_end = end;
}

static double clamp_time(double t) { return t > 0 ? (t < MILNCE_CUE_TIME_MAX ? t : MILNCE_CUE_TIME_MAX) : 0; }

void milnce_clip_start_range(double span_start, double span_end, double clip_len, int64_t *lo, int64_t *hi) {
    /* Python's int() truncates toward zero; the span never starts below 0. Times are clamped to
     * [0, MILNCE_CUE_TIME_MAX] (NaN to 0) first so the int64 casts are always defined. */
    double s = clamp_time(trunc(span_start)), e = clamp_time(trunc(span_end));
    *lo = (int64_t)s;
    *hi = (int64_t)trunc(e - clip_len > s ? e - clip_len : s);
}

int milnce_window_spec_parse(const char *s, milnce_window_spec *out, milnce_error *err) {
    const char *colon = s ? strchr(s, ':') : NULL;
    if (!colon) goto bad;
    size_t name_len = (size_t)(colon - s);
    milnce_window_spec w = {MILNCE_WINDOW_NEAREST, 0, -1.0};
    if (name_len == 7 && strncmp(s, "nearest", 7) == 0)
        w.kind = MILNCE_WINDOW_NEAREST;
    else if (name_len == 9 && strncmp(s, "symmetric", 9) == 0)
        w.kind = MILNCE_WINDOW_SYMMETRIC;
    else
        goto bad;
    char *e;
    errno = 0;
    long k = strtol(colon + 1, &e, 10);
    if (e == colon + 1 || errno || k > 1000000 || k < (w.kind == MILNCE_WINDOW_NEAREST ? 1 : 0)) goto bad;
    w.k = (int)k;
    if (*e == ':' && w.kind == MILNCE_WINDOW_SYMMETRIC) {
        const char *g = e + 1;
        w.max_gap = strtod(g, &e);
        if (e == g || !isfinite(w.max_gap) || w.max_gap < 0) goto bad;
    }
    if (*e) goto bad;
    *out = w;
    return 0;
bad:
    return milnce_error_set(err, MILNCE_ERR_INVALID,
                            "bad window '%s' (nearest:K with K >= 1, symmetric:k or symmetric:k:max_gap_seconds)",
                            s ? s : "(null)");
}

int milnce_window_bag_size(const milnce_window_spec *spec) {
    return spec->kind == MILNCE_WINDOW_NEAREST ? spec->k : 2 * spec->k + 1;
}

int milnce_window_bag(int64_t *bag, uint8_t *mask, int *count, const milnce_window_spec *spec,
                      const double *start, const double *end, size_t n, size_t anchor,
                      milnce_error *err) {
    if (spec->kind == MILNCE_WINDOW_SYMMETRIC)
        return milnce_window_symmetric(bag, mask, count, start, end, n, anchor, spec->k, spec->max_gap, err);
    int ret = milnce_window_nearest(bag, start, end, n, anchor, spec->k, err);
    if (ret < 0) return ret;
    if (mask) memset(mask, 1, (size_t)spec->k);
    if (count) *count = spec->k;
    return 0;
}
