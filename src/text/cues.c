#include "cues.h"

#include <stdlib.h>
#include <string.h>

int milnce_cues_push(milnce_cues *c, double start, double end, const char *text, size_t len,
                     milnce_error *err) {
    if (!milnce_cue_time_ok(start) || !milnce_cue_time_ok(end))
        return milnce_error_set(err, MILNCE_ERR_RANGE, "cue time %g --> %g s outside 0 to %g s", start, end,
                                MILNCE_CUE_TIME_MAX);
    if (len == (size_t)-1) len = strlen(text);
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        milnce_cue *v = realloc(c->v, cap * sizeof *v);
        if (!v) return milnce_error_set(err, MILNCE_ERR_NOMEM, "cue list of %zu entries", cap);
        c->v = v;
        c->cap = cap;
    }
    char *t = malloc(len + 1);
    if (!t) return milnce_error_set(err, MILNCE_ERR_NOMEM, "cue text of %zu bytes", len);
    memcpy(t, text, len);
    t[len] = '\0';
    c->v[c->n++] = (milnce_cue){start, end, t};
    return 0;
}

/* Merge sort: stable, no global state (qsort is not stable). */
static void merge_sort(milnce_cue *v, milnce_cue *tmp, size_t n) {
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(v, tmp, h);
    merge_sort(v + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = (v[j].start < v[i].start) ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

void milnce_cues_sort(milnce_cues *c) {
    if (c->n < 2) return;
    milnce_cue *tmp = malloc(c->n * sizeof *tmp);
    if (!tmp) { /* fall back to insertion sort: stable, O(1) memory */
        for (size_t i = 1; i < c->n; i++) {
            milnce_cue x = c->v[i];
            size_t j = i;
            while (j > 0 && c->v[j - 1].start > x.start) { c->v[j] = c->v[j - 1]; j--; }
            c->v[j] = x;
        }
        return;
    }
    merge_sort(c->v, tmp, c->n);
    free(tmp);
}

void milnce_cues_clear(milnce_cues *c) {
    for (size_t i = 0; i < c->n; i++) free(c->v[i].text);
    c->n = 0;
}

void milnce_cues_free(milnce_cues *c) {
    milnce_cues_clear(c);
    free(c->v);
    c->v = NULL;
    c->cap = 0;
}
