/* The training log (log.jsonl, one JSON object per line, written by train): the numbers the
 * report plots, read leniently. Lines that are not objects with an integer "step" are skipped
 * and reported; NaN/Infinity tokens (Python's json and printf write them) count as absent. */
#include "run_log.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#define NOTES_PER_KIND 10 /* individual notes of one kind before a summary line */

const char *const milnce_run_log_keys[MILNCE_LOG_F_COUNT] = {"loss", "lr", "clips_per_s", "data_wait", "grad_norm"};

typedef struct note_sink {
    milnce_run_log_note fn;
    void *user;
} note_sink;

static void note(note_sink *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(note_sink *c, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->fn) c->fn(c->user, msg);
}

/* Rewrites non-finite number tokens outside strings (NaN, Infinity, -inf, nan, ...) to null, so
 * that a strict JSON parser accepts what Python's json and printf write. */
static void sanitize_nonfinite(const char *in, char *out) {
    int instr = 0;
    while (*in) {
        char ch = *in;
        if (instr) {
            *out++ = *in++;
            if (ch == '\\' && *in) *out++ = *in++;
            else if (ch == '"') instr = 0;
            continue;
        }
        if (ch == '"') {
            instr = 1;
            *out++ = *in++;
            continue;
        }
        const char *w = in;
        if ((ch == '-' || ch == '+') && ((in[1] | 32) >= 'a' && (in[1] | 32) <= 'z')) w++;
        if ((*w | 32) >= 'a' && (*w | 32) <= 'z') {
            const char *e = w;
            while (((*e | 32) >= 'a' && (*e | 32) <= 'z')) e++;
            size_t len = (size_t)(e - w);
            if ((len == 3 && (strncasecmp(w, "nan", 3) == 0 || strncasecmp(w, "inf", 3) == 0)) ||
                (len == 8 && strncasecmp(w, "infinity", 8) == 0)) {
                memcpy(out, "null", 4);
                out += 4;
            } else {
                memcpy(out, in, (size_t)(e - in));
                out += e - in;
            }
            in = e;
            continue;
        }
        *out++ = *in++;
    }
    *out = 0;
}

static int cmp_row(const void *a, const void *b) {
    const milnce_log_row *x = a, *y = b;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

int milnce_run_log_read(const char *path, milnce_run_log *L, milnce_run_log_note note_fn, void *user) {
    note_sink c = {note_fn, user};
    memset(L, 0, sizeof *L);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL, *clean = NULL;
    size_t lcap = 0, ccap = 0, lineno = 0, bad = 0;
    ssize_t k;
    int ret = 1;
    while ((k = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)k;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = 0;
        size_t lead = strspn(line, " \t");
        if (lead == len) continue;
        L->lines++;
        /* Every token replaced grows at most from 3 to 4 bytes. */
        if (ccap < 2 * len + 8) {
            ccap = 2 * len + 8;
            char *t = realloc(clean, ccap);
            if (!t) {
                ret = -1;
                break;
            }
            clean = t;
        }
        sanitize_nonfinite(line, clean);
        json_error_t je;
        json_t *o = json_loads(clean, JSON_REJECT_DUPLICATES, &je);
        const char *why = NULL;
        char whybuf[300];
        json_t *js = o ? json_object_get(o, "step") : NULL;
        if (!o) {
            snprintf(whybuf, sizeof whybuf, "not JSON (%s, column %d)", je.text, je.column);
            why = whybuf;
        } else if (!json_is_object(o)) why = "not a JSON object";
        else if (!js) why = "no \"step\"";
        else if (!json_is_integer(js) && !(json_is_real(js) && json_real_value(js) == floor(json_real_value(js)) &&
                                           fabs(json_real_value(js)) < 9e15))
            why = "\"step\" is not an integer";
        if (why) {
            bad++;
            if (bad <= NOTES_PER_KIND) note(&c, "log.jsonl:%zu: %s; line skipped", lineno, why);
            json_decref(o);
            continue;
        }
        if (L->n == L->cap) {
            size_t cap = L->cap ? 2 * L->cap : 1024;
            milnce_log_row *r = realloc(L->rows, cap * sizeof *r);
            if (!r) {
                json_decref(o);
                ret = -1;
                break;
            }
            L->rows = r;
            L->cap = cap;
        }
        milnce_log_row *r = &L->rows[L->n++];
        r->step = json_is_integer(js) ? (long long)json_integer_value(js) : (long long)json_real_value(js);
        r->line = lineno;
        for (int i = 0; i < MILNCE_LOG_F_COUNT; i++) {
            r->v[i] = NAN;
            json_t *v = json_object_get(o, milnce_run_log_keys[i]);
            if (!v) continue;
            L->present[i]++;
            if (json_is_null(v)) L->nonfinite[i]++;
            else if (!json_is_number(v)) L->wrongtype[i]++;
            else if (!isfinite(json_number_value(v))) L->nonfinite[i]++;
            else r->v[i] = json_number_value(v);
        }
        json_t *ep = json_object_get(o, "epoch");
        if (json_is_integer(ep)) {
            L->epoch_last = (long long)json_integer_value(ep);
            L->has_epoch = 1;
        }
        json_decref(o);
    }
    free(line);
    free(clean);
    fclose(f);
    L->bad_lines = bad;
    if (bad > NOTES_PER_KIND) note(&c, "log.jsonl: %zu more malformed lines skipped (%zu in all)", bad - NOTES_PER_KIND, bad);
    if (ret < 0) return ret;
    /* Steps in order; a step logged twice (a resumed run re-logs) keeps its last line. */
    if (L->n) qsort(L->rows, L->n, sizeof *L->rows, cmp_row);
    size_t w = 0, dup = 0;
    for (size_t i = 0; i < L->n; i++) {
        if (w && L->rows[w - 1].step == L->rows[i].step) {
            L->rows[w - 1] = L->rows[i];
            dup++;
        } else {
            L->rows[w++] = L->rows[i];
        }
    }
    L->n = w;
    if (dup) note(&c, "log.jsonl: %zu steps logged more than once (a resumed run?); the last line of each is shown", dup);
    for (int i = 0; i < MILNCE_LOG_F_COUNT; i++) {
        L->nonfinite_all += L->nonfinite[i];
        if (L->nonfinite[i])
            note(&c, "log.jsonl: %zu non-finite \"%s\" values (NaN/Inf) skipped", L->nonfinite[i], milnce_run_log_keys[i]);
        if (L->wrongtype[i])
            note(&c, "log.jsonl: %zu \"%s\" values are not numbers; skipped", L->wrongtype[i], milnce_run_log_keys[i]);
    }
    return 1;
}

void milnce_run_log_free(milnce_run_log *L) {
    free(L->rows);
    memset(L, 0, sizeof *L);
}
